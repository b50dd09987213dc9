/*-------------------------------------------------------------------------
 *
 * list.c
 *		  Walk one list request of the API across its pages.
 *
 * A lister holds one page at a time, in a memory context reset per page,
 * and fetches the next page only when the last row of the current one has
 * been taken.  It stops when the contract says the list ends (has_more
 * false, data empty or last_id empty), refuses a cursor that does not
 * advance, and stops a list that goes on past max_pages pages (an API
 * whose has_more never ends).  Scans, ANALYZE and grant recovery use it.
 * How many rows a page asks for is the caller's (cp_lister_set_page_limit):
 * a scan with a row budget asks for no more than it still needs, and
 * stops when it has them (plan.c).
 *
 * The first pages of several lists can be fetched at once
 * (cp_lister_fetch_first), each into its own lister: a scan with one list
 * per project_id value costs about one round trip per max_concurrency
 * values, not one per value.  Later pages follow one at a time.
 *
 * A cursor ("after") the API refuses (400, param "after": a strict API
 * refuses a revoked permission's id) is not raised: the list stops there
 * with the page it came from still in memory (cp_lister_refused), and the
 * caller resumes it from another cursor or from the start
 * (cp_lister_resume), or raises the refusal with its own hint.  Knowing
 * who revoked what is not this layer's.
 *
 * A page must keep the contract: no more items than the limit asked for,
 * and no id twice.  Duplicates are looked for within a page and against
 * the page before, whose ids are kept as 64-bit hashes (8 bytes each, at
 * most page_size of them): memory stays bounded however long the list, at
 * the price of not seeing an id that comes back two pages later.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "utils/memutils.h"

#include "api.h"

/* Pages a list reads ahead of the one it returns rows of (list.c). */
#define CP_READ_AHEAD 4

struct CpLister
{
	const CpOptions *opts;		/* &own_opts */
	CpOptions	own_opts;		/* the caller's, with the list's checkpoint */
	CpStats    *stats;
	MemoryContext cxt;			/* holds base_path and the cursor */
	MemoryContext page_cxt;		/* holds the page; reset per page */
	char	   *base_path;		/* list path with its fixed query */
	char	   *project_id;		/* the project it is filtered on, or NULL */
	char	   *after;			/* cursor for the next page, NULL for the first */
	int			page_limit;		/* rows a page asks for: page_size or fewer */
	int64		pages;			/* pages fetched since the start */
	CpPage		page;
	int			next;			/* next item of page to return */
	bool		exhausted;		/* no page after this one */
	uint64	   *prev_hashes;	/* ids of the page before, hashed and sorted */
	int			nprev;

	/*
	 * The API refused the cursor of the next page (cp_lister_refused): the
	 * reply, in the spare context ahead_cxt[0], and the page is still the
	 * one whose last row the cursor was.
	 */
	bool		refused;
	CpTransfer	refusal;

	/* pages after this one, read ahead with other lists' (see list.c) */
	int			nahead;
	bool		ahead_end;		/* the last of them ends the list */
	MemoryContext ahead_cxt[CP_READ_AHEAD]; /* one each; a page's context
											 * becomes page_cxt when it is read */
	CpPage		ahead[CP_READ_AHEAD];
	char	   *ahead_path[CP_READ_AHEAD];
	int			ahead_limit[CP_READ_AHEAD];
};

/*
 * A lister in parent's memory, over opts (copied: a table across
 * checkpoints lists each with its own), counting its requests in stats.
 */
CpLister *
cp_lister_create(const CpOptions *opts, CpStats *stats, MemoryContext parent)
{
	CpLister   *lister = MemoryContextAllocZero(parent, sizeof(CpLister));
	int			i;

	/* a copy: a table across checkpoints lists each with its own */
	lister->own_opts = *opts;
	lister->opts = &lister->own_opts;
	lister->stats = stats;
	lister->cxt = parent;
	lister->page_cxt = AllocSetContextCreate(parent, "checkpoint_perms page",
											 ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < CP_READ_AHEAD; i++)
		lister->ahead_cxt[i] = AllocSetContextCreate(parent, "checkpoint_perms page ahead",
													 ALLOCSET_SMALL_SIZES);
	lister->exhausted = true;	/* nothing to list until started */
	return lister;
}

/*
 * Start listing base_path (the list path with its fixed query: project_id,
 * order), in pages of page_size.  project_id: the project base_path
 * filters on, or NULL; every row must be of it (cp_check_listed_project).
 */
void
cp_lister_start(CpLister *lister, const char *base_path, const char *project_id)
{
	int			i;

	MemoryContextReset(lister->page_cxt);
	if (lister->base_path)
		pfree(lister->base_path);
	if (lister->project_id)
		pfree(lister->project_id);
	if (lister->after)
		pfree(lister->after);
	lister->base_path = MemoryContextStrdup(lister->cxt, base_path);
	lister->project_id = project_id ? MemoryContextStrdup(lister->cxt, project_id) : NULL;
	lister->after = NULL;
	lister->page_limit = lister->opts->page_size;
	lister->pages = 0;
	lister->next = 0;
	lister->page.nitems = 0;
	lister->exhausted = false;
	for (i = 0; i < CP_READ_AHEAD; i++)
		MemoryContextReset(lister->ahead_cxt[i]);
	lister->nahead = 0;
	lister->ahead_end = false;
	lister->nprev = 0;
	lister->refused = false;
}

/* The limit of the pages requested from now on (1 to page_size). */
void
cp_lister_set_page_limit(CpLister *lister, int limit)
{
	Assert(limit >= 1 && limit <= lister->opts->page_size);
	lister->page_limit = limit;
}

/* The checkpoint the next list is of, for its requests' errors. */
void
cp_lister_set_checkpoint(CpLister *lister, char *checkpoint)
{
	lister->own_opts.checkpoint = checkpoint;
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
	return true;
}

/* An id and its place in the page, ordered by hash. */
typedef struct CpIdHash
{
	uint64		hash;
	int			index;
} CpIdHash;

static int
compare_id_hashes(const void *a, const void *b)
{
	uint64		ha = ((const CpIdHash *) a)->hash;
	uint64		hb = ((const CpIdHash *) b)->hash;

	return ha < hb ? -1 : ha > hb ? 1 : 0;
}

static int
compare_uint64(const void *a, const void *b)
{
	uint64		ha = *(const uint64 *) a;
	uint64		hb = *(const uint64 *) b;

	return ha < hb ? -1 : ha > hb ? 1 : 0;
}

CP_NORETURN static void report_bad_page(const char *path, const char *problem);

static void
report_bad_page(const char *path, const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("malformed reply from the OpenAI API"),
			 errdetail("%s", problem),
			 errcontext("OpenAI API request: GET %s", cp_shorten(path))));
}

/*
 * A row of a list filtered on project_id must be of that project.  The
 * one policy for every filtered list (a scan's, a DELETE's, a grant's
 * recovery list, ON CONFLICT's): a row of another project breaks the
 * contract, and is a malformed reply, never a row dropped in silence (a
 * grant could then skip a project that has no permission).  project_id
 * NULL: the list is not filtered.  path: the request, for the context, or
 * NULL when the caller's context names it.
 */
void
cp_check_listed_project(const CpPermission *perm, const char *project_id, const char *path)
{
	char	   *problem;

	if (project_id == NULL || strcmp(perm->project_id, project_id) == 0)
		return;
	problem = psprintf("A list filtered on project \"%s\" returned permission \"%s\" of project \"%s\".",
					   cp_shorten(project_id), cp_shorten(perm->id), cp_shorten(perm->project_id));
	if (path)
		report_bad_page(path, problem);
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("malformed reply from the OpenAI API"),
			 errdetail("%s", problem)));
}

/*
 * Refuse a page that breaks the contract: more items than asked for, a row
 * of another project than the list is filtered on, or an id seen twice (in
 * this page, or in the page before).  Then remember this page's ids for
 * the next one.  Runs in the page's memory context.
 */
static void
check_page(CpLister *lister, const char *path, int limit)
{
	const CpPage *page = &lister->page;
	CpIdHash   *ids;
	int			i;

	if (page->nitems > limit)
		report_bad_page(path, psprintf("The page holds %d permissions; %d were asked for.",
									   page->nitems, limit));
	for (i = 0; i < page->nitems; i++)
		cp_check_listed_project(&page->items[i], lister->project_id, path);
	ids = palloc(sizeof(CpIdHash) * Max(page->nitems, 1));
	for (i = 0; i < page->nitems; i++)
	{
		const char *id = page->items[i].id;

		ids[i].hash = hash_bytes_extended((const unsigned char *) id, strlen(id), 0);
		ids[i].index = i;
	}
	qsort(ids, page->nitems, sizeof(CpIdHash), compare_id_hashes);
	for (i = 0; i < page->nitems; i++)
	{
		const char *id = page->items[ids[i].index].id;

		if (i > 0 && ids[i].hash == ids[i - 1].hash &&
			strcmp(id, page->items[ids[i - 1].index].id) == 0)
			report_bad_page(path, psprintf("Permission \"%s\" appears twice in the page.",
										   cp_shorten(id)));
		/* the earlier page's strings are gone: a 64-bit hash match decides */
		if (lister->nprev > 0 &&
			bsearch(&ids[i].hash, lister->prev_hashes, lister->nprev, sizeof(uint64),
					compare_uint64) != NULL)
			report_bad_page(path, psprintf("Permission \"%s\" was already in the page before.",
										   cp_shorten(id)));
	}

	if (lister->prev_hashes == NULL)
		lister->prev_hashes = MemoryContextAlloc(lister->cxt,
												 sizeof(uint64) * Max(lister->opts->page_size, 1));
	for (i = 0; i < page->nitems; i++)
		lister->prev_hashes[i] = ids[i].hash;
	lister->nprev = page->nitems;
}

/* A list whose has_more never ends: refuse its page past max_pages. */
static void
check_max_pages(const CpLister *lister)
{
	if (lister->pages >= lister->opts->max_pages)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("list of checkpoint permissions is longer than \"max_pages\""),
				 errdetail_plural("The API still had more after %lld page.",
								  "The API still had more after %lld pages.",
								  (unsigned long) lister->pages,
								  (long long) lister->pages),
				 errhint("Raise option \"max_pages\" if the checkpoint really has that many permissions.")));
}

/*
 * The path of the next page, allocated in the page's context, which is
 * reset: the page before is gone.  Sets *limit to the page's limit.
 */
static char *
next_page_path(CpLister *lister, int *limit)
{
	MemoryContext oldcxt;
	char	   *path;

	*limit = lister->page_limit;
	check_max_pages(lister);

	MemoryContextReset(lister->page_cxt);
	oldcxt = MemoryContextSwitchTo(lister->page_cxt);
	path = cp_list_page_path(lister->base_path, *limit, lister->after);
	MemoryContextSwitchTo(oldcxt);
	return path;
}

/* Check a page just read into lister->page, and find where the list goes on. */
static void
page_read(CpLister *lister, const char *path, int limit)
{
	MemoryContext oldcxt;

	lister->next = 0;
	lister->pages++;

	/* a cursor that does not advance is the more telling error: first */
	if (lister->page.has_more && lister->page.nitems > 0 && lister->page.last_id && lister->after &&
		strcmp(lister->after, lister->page.last_id) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed reply from the OpenAI API"),
				 errdetail("The list cursor did not advance: page %lld ends at \"%s\" again, with has_more true.",
						   (long long) lister->pages, cp_shorten(lister->after)),
				 errcontext("OpenAI API request: GET %s", cp_shorten(path))));
	oldcxt = MemoryContextSwitchTo(lister->page_cxt);
	check_page(lister, path, limit);
	MemoryContextSwitchTo(oldcxt);

	/* the contract's three ways a list ends */
	if (!lister->page.has_more || lister->page.nitems == 0 || lister->page.last_id == NULL)
	{
		lister->exhausted = true;
		return;
	}
	if (lister->after)
		pfree(lister->after);
	lister->after = MemoryContextStrdup(lister->cxt, lister->page.last_id);
}

/*
 * Fetch the page after the one in memory into the spare context (the
 * first read-ahead one: nothing is read ahead), so that when the API
 * refuses the cursor the page it came from is still there for the caller
 * to choose another cursor from (cp_lister_resume).
 */
static void
fetch_next_page(CpLister *lister)
{
	MemoryContext spare = lister->ahead_cxt[0];
	MemoryContext oldcxt;
	int			limit = lister->page_limit;
	CpPage		page;
	char	   *path;

	Assert(lister->nahead == 0);
	if (lister->after == NULL)
	{
		/* the first page: there is no cursor to refuse */
		path = next_page_path(lister, &limit);
		oldcxt = MemoryContextSwitchTo(lister->page_cxt);
		(void) cp_api_list(lister->opts, path, &lister->page, lister->stats, NULL);
		MemoryContextSwitchTo(oldcxt);
		page_read(lister, path, limit);
		return;
	}
	check_max_pages(lister);
	MemoryContextReset(spare);
	oldcxt = MemoryContextSwitchTo(spare);
	path = cp_list_page_path(lister->base_path, limit, lister->after);
	if (!cp_api_list(lister->opts, path, &page, lister->stats, &lister->refusal))
	{
		MemoryContextSwitchTo(oldcxt);
		lister->refused = true;
		return;
	}
	MemoryContextSwitchTo(oldcxt);
	lister->ahead_cxt[0] = lister->page_cxt;
	lister->page_cxt = spare;
	MemoryContextReset(lister->ahead_cxt[0]);
	lister->page = page;
	page_read(lister, path, limit);
}

/* A first page fetched by cp_lister_fetch_first: parse it into its lister. */
static void
first_page_reply(CpTransfer *t, void *arg)
{
	CpLister   *lister = (CpLister *) t->arg;
	MemoryContext oldcxt = MemoryContextSwitchTo(lister->page_cxt);

	cp_parse_page(lister->opts, &t->resp, &lister->page);
	MemoryContextSwitchTo(oldcxt);
	if (lister->stats)
		lister->stats->pages++;
	pfree(t->resp.body);
	t->resp.body = NULL;
}

/*
 * Fetch the first page of n listers, just started over the same user
 * mapping, at once (at most max_concurrency in flight), as
 * cp_lister_next would fetch them one after the other.  Each page lives in
 * its lister's page context: n pages are held until they are read.
 */
void
cp_lister_fetch_first(CpLister **listers, int n)
{
	CpTransfer *t;
	int		   *limits;
	int			i;

	if (n <= 1)
		return;					/* cp_lister_next fetches it */
	t = palloc0(sizeof(CpTransfer) * n);
	limits = palloc(sizeof(int) * n);
	for (i = 0; i < n; i++)
	{
		Assert(listers[i]->pages == 0 && !listers[i]->exhausted);
		t[i].req.method = "GET";
		t[i].req.path = next_page_path(listers[i], &limits[i]);
		t[i].req.checkpoint = listers[i]->opts->checkpoint;
		t[i].req.progress = "";
		t[i].arg = listers[i];
	}
	cp_api_send_many(listers[0]->opts, t, n, first_page_reply, NULL, NULL, listers[0]->stats);
	for (i = 0; i < n; i++)
		page_read(listers[i], t[i].req.path, limits[i]);
	pfree(limits);
	pfree(t);
}

/*
 * Will the next cp_lister_next send a request?  (Its page is read, the list
 * goes on, and no page after it was read ahead.)
 */
bool
cp_lister_needs_page(const CpLister *lister)
{
	return lister->next >= lister->page.nitems && !lister->exhausted && lister->nahead == 0;
}

/* A page read ahead: parse it into the lister's queue. */
static void
ahead_page_reply(CpTransfer *t, void *arg)
{
	CpLister   *lister = (CpLister *) t->arg;
	int			k = lister->nahead;
	CpPage	   *page = &lister->ahead[k];
	MemoryContext oldcxt = MemoryContextSwitchTo(lister->ahead_cxt[k]);

	cp_parse_page(lister->opts, &t->resp, page);
	MemoryContextSwitchTo(oldcxt);
	lister->nahead++;
	/* the contract's three ways a list ends: nothing to read after it */
	if (!page->has_more || page->nitems == 0 || page->last_id == NULL)
		lister->ahead_end = true;
	if (lister->stats)
		lister->stats->pages++;
	pfree(t->resp.body);
	t->resp.body = NULL;
}

/*
 * Read the next page of n lists at once (at most max_concurrency in
 * flight), into a queue of up to CP_READ_AHEAD pages each: a scan of
 * several lists fetches what follows their pages together, round after
 * round, instead of one list after another.  Lists that are done, or
 * whose queue is full, are passed over; so are lists not read yet, unless
 * first_too (their first page then waits in the queue like any other).  A
 * page whose cursor the API refuses is not queued (cp_api_read_ahead): its
 * list asks for it again alone, and learns of the refusal then.
 */
static void
fetch_ahead(CpLister **listers, int n, bool first_too)
{
	CpTransfer *t = palloc0(sizeof(CpTransfer) * n);
	int			count = 0;
	int			i;

	for (i = 0; i < n; i++)
	{
		CpLister   *lister = listers[i];
		int			k = lister->nahead;
		const char *cursor = k > 0 ? lister->ahead[k - 1].last_id : lister->after;
		MemoryContext oldcxt;

		if ((lister->pages == 0 && !first_too) || lister->exhausted || lister->ahead_end ||
			lister->refused ||
			k >= CP_READ_AHEAD || lister->pages + k >= lister->opts->max_pages)
			continue;
		lister->ahead_limit[k] = lister->page_limit;
		MemoryContextReset(lister->ahead_cxt[k]);
		oldcxt = MemoryContextSwitchTo(lister->ahead_cxt[k]);
		lister->ahead_path[k] = cp_list_page_path(lister->base_path, lister->ahead_limit[k],
												  cursor);
		MemoryContextSwitchTo(oldcxt);
		t[count].req.method = "GET";
		t[count].req.path = lister->ahead_path[k];
		t[count].req.checkpoint = lister->opts->checkpoint;
		t[count].req.progress = "";
		t[count].arg = lister;
		count++;
	}
	if (count > 0)
		cp_api_read_ahead(listers[0]->opts, t, count, ahead_page_reply, listers[0]->stats);
	pfree(t);
}

void
cp_lister_fetch_ahead(CpLister **listers, int n)
{
	fetch_ahead(listers, n, false);
}

/*
 * The next page of each of n listers at once, the first page of those just
 * started included: a list read from both ends starts its second end with
 * the first end's second page (scan.c).  cp_lister_next_page takes them.
 */
void
cp_lister_fetch_round(CpLister **listers, int n)
{
	fetch_ahead(listers, n, true);
}

/*
 * Make the first page read ahead the lister's page, and check it as one
 * read now (cursor, duplicates, the end of the list).
 */
static void
take_ahead_page(CpLister *lister)
{
	MemoryContext done = lister->page_cxt;
	const char *path = lister->ahead_path[0];
	int			limit = lister->ahead_limit[0];
	int			i;

	check_max_pages(lister);
	MemoryContextReset(done);
	lister->page_cxt = lister->ahead_cxt[0];
	lister->page = lister->ahead[0];
	for (i = 1; i < lister->nahead; i++)
	{
		lister->ahead_cxt[i - 1] = lister->ahead_cxt[i];
		lister->ahead[i - 1] = lister->ahead[i];
		lister->ahead_path[i - 1] = lister->ahead_path[i];
		lister->ahead_limit[i - 1] = lister->ahead_limit[i];
	}
	lister->nahead--;
	lister->ahead_cxt[lister->nahead] = done;
	page_read(lister, path, limit);
}

/*
 * For a caller that paces the pages itself (a list read from both ends,
 * scan.c): the next permission of the page in memory, or NULL once it is
 * read; cp_lister_next_page then moves to the next page (read ahead, or
 * fetched now), or returns false at the end of the list.
 */
CpPermission *
cp_lister_next_in_page(CpLister *lister)
{
	if (lister->next < lister->page.nitems)
		return &lister->page.items[lister->next++];
	return NULL;
}

bool
cp_lister_next_page(CpLister *lister)
{
	if (lister->exhausted)
		return false;
	if (lister->nahead > 0)
		take_ahead_page(lister);
	else
		fetch_next_page(lister);
	return true;
}

/* Is the page in memory the list's last? */
bool
cp_lister_exhausted(const CpLister *lister)
{
	return lister->exhausted;
}

/*
 * The next permission of the list, or NULL at its end, or when the API
 * refused the cursor of the next page (cp_lister_refused): until the
 * caller resumes the list (cp_lister_resume), it stays there.
 */
CpPermission *
cp_lister_next(CpLister *lister)
{
	for (;;)
	{
		if (lister->next < lister->page.nitems)
			return &lister->page.items[lister->next++];
		if (lister->exhausted || lister->refused)
			return NULL;
		if (lister->nahead > 0)
			take_ahead_page(lister);
		else
			fetch_next_page(lister);
	}
}

/*
 * Did the list stop because the API refused its cursor (400, param
 * "after")?  The lister does not guess why: a strict API refuses the id of
 * a revoked permission, and whether this session revoked it is the effects
 * layer's to say, what to do then the caller's.
 */
bool
cp_lister_refused(const CpLister *lister)
{
	return lister->refused;
}

/* The cursor the API refused: the id of the last row of the page. */
const char *
cp_lister_cursor(const CpLister *lister)
{
	Assert(lister->refused);
	return lister->after;
}

/* The page in memory (after a refusal, the one the cursor was taken from). */
const CpPage *
cp_lister_page(const CpLister *lister)
{
	return &lister->page;
}

/*
 * List on after a refusal: after the row after (one of the page's, which
 * is still checked against for duplicates), or, with after NULL, from the
 * start again, as a new walk (the caller skips what it already returned).
 * The pages counter goes on, so that max_pages bounds a list that keeps
 * being resumed too.
 */
void
cp_lister_resume(CpLister *lister, const char *after)
{
	Assert(lister->refused);
	lister->refused = false;
	pfree(lister->after);
	lister->after = after ? MemoryContextStrdup(lister->cxt, after) : NULL;
	if (after == NULL)
		lister->nprev = 0;
	MemoryContextReset(lister->ahead_cxt[0]);
}

/* Raise the refusal of the list's cursor, with the caller's hint. */
void
cp_lister_report_refused(const CpLister *lister, const char *hint)
{
	Assert(lister->refused);
	cp_api_report_refused(lister->opts, &lister->refusal, hint);
}
