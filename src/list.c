/*-------------------------------------------------------------------------
 *
 * list.c
 *		  Walk one list request of the API across its pages.
 *
 * A lister holds one page at a time, in a memory context reset per page,
 * and fetches the next page only when the last row of the current one has
 * been taken.  It stops when the contract says the list ends (has_more
 * false, data empty or last_id empty), when max_rows rows were returned,
 * refuses a cursor that does not advance, and stops a list that goes on
 * past max_pages pages (an API whose has_more never ends).  Scans and ANALYZE use it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "checkpoint_perms.h"

void
cp_lister_init(CpLister *lister, const CpOptions *opts, CpStats *stats,
			   MemoryContext parent)
{
	memset(lister, 0, sizeof(*lister));
	lister->opts = opts;
	lister->stats = stats;
	lister->cxt = parent;
	lister->page_cxt = AllocSetContextCreate(parent, "checkpoint_perms page",
											 ALLOCSET_DEFAULT_SIZES);
	lister->exhausted = true;	/* nothing to list until started */
}

/*
 * Start listing base_path (the list path with its fixed query: project_id,
 * order), returning at most max_rows rows (0: all).
 */
void
cp_lister_start(CpLister *lister, const char *base_path, int64 max_rows)
{
	MemoryContextReset(lister->page_cxt);
	if (lister->base_path)
		pfree(lister->base_path);
	if (lister->after)
		pfree(lister->after);
	lister->base_path = MemoryContextStrdup(lister->cxt, base_path);
	lister->after = NULL;
	lister->max_rows = max_rows;
	lister->rows = 0;
	lister->pages = 0;
	lister->next = 0;
	lister->page.nitems = 0;
	lister->exhausted = false;
}

/*
 * Return to the first row without a request, if the first page is still
 * the one in memory.  The cursor to the second page stays valid.
 */
bool
cp_lister_rewind(CpLister *lister)
{
	if (lister->pages != 1)
		return false;
	lister->next = 0;
	lister->rows = 0;
	return true;
}

static void
fetch_next_page(CpLister *lister)
{
	MemoryContext oldcxt;
	int			limit = lister->opts->page_size;
	char	   *path;

	if (lister->max_rows > 0)
		limit = (int) Min((int64) limit, lister->max_rows - lister->rows);
	if (lister->pages >= lister->opts->max_pages)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("list of checkpoint permissions is longer than max_pages"),
				 errdetail_plural("The API still had more after %lld page.",
								  "The API still had more after %lld pages.",
								  (unsigned long) lister->pages,
								  (long long) lister->pages),
				 errhint("Raise option \"max_pages\" if the checkpoint really has that many permissions.")));

	MemoryContextReset(lister->page_cxt);
	oldcxt = MemoryContextSwitchTo(lister->page_cxt);
	path = cp_list_page_path(lister->base_path, limit, lister->after);
	cp_api_list(lister->opts, path, &lister->page, lister->stats);
	MemoryContextSwitchTo(oldcxt);
	lister->next = 0;
	lister->pages++;

	/* the contract's three ways a list ends */
	if (!lister->page.has_more || lister->page.nitems == 0 || lister->page.last_id == NULL)
	{
		lister->exhausted = true;
		return;
	}
	if (lister->after && strcmp(lister->after, lister->page.last_id) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed reply from the OpenAI API"),
				 errdetail("The list cursor did not advance: page %lld ends at \"%s\" again, with has_more true.",
						   (long long) lister->pages, lister->after),
				 errcontext("OpenAI API request: GET %s", path)));
	if (lister->after)
		pfree(lister->after);
	lister->after = MemoryContextStrdup(lister->cxt, lister->page.last_id);
}

/* The next permission of the list, or NULL at its end. */
CpPermission *
cp_lister_next(CpLister *lister)
{
	for (;;)
	{
		if (lister->max_rows > 0 && lister->rows >= lister->max_rows)
			return NULL;
		if (lister->next < lister->page.nitems)
		{
			lister->rows++;
			return &lister->page.items[lister->next++];
		}
		if (lister->exhausted)
			return NULL;
		fetch_next_page(lister);
	}
}
