/*-------------------------------------------------------------------------
 *
 * api.c
 *		  The three operations of the API: list a page, create permissions,
 *		  delete one.  Each sends its request and reads its reply with the
 *		  request line as the error context, so that every error, from the
 *		  network or from a reply, says which request it was about.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "api.h"
#include "effects.h"	/* to be removed: the journal belongs to the effects layer */

/* Shows "OpenAI API request: GET /fine_tuning/..." under any error. */
static void
request_error_callback(void *arg)
{
	const CpRequest *req = (const CpRequest *) arg;

	/* a path holds ids of up to hundreds of bytes, each encoded: cut it */
	errcontext("OpenAI API request: %s %s", req->method, cp_shorten(req->path));
}

static void
push_request_context(ErrorContextCallback *cb, const CpRequest *req)
{
	cb->callback = request_error_callback;
	cb->arg = (void *) req;
	cb->previous = error_context_stack;
	error_context_stack = cb;
}

static void
pop_request_context(ErrorContextCallback *cb)
{
	error_context_stack = cb->previous;
}

/* GET one page of a list; path holds every query parameter. */
void
cp_api_list(const CpOptions *opts, char *path, CpPage *page, CpStats *stats)
{
	CpRequest	req = {.method = "GET",.path = path,.progress = ""};
	CpResponse	resp;
	ErrorContextCallback errcallback;

	push_request_context(&errcallback, &req);
	cp_http_send(opts, &req, &resp, stats);
	cp_parse_page(opts, &resp, page);
	if (stats)
		stats->pages++;
	pfree(resp.body);
	pop_request_context(&errcallback);
}

/*
 * Match the permissions of a create reply to the project ids sent: exactly
 * one each, whatever their order.  Returns them in the order of ids, or
 * NULL with *problem saying what does not match.
 */
static CpPermission *
match_created(const CpPage *page, char **project_ids, int n, char **problem)
{
	CpPermission *result = palloc0(sizeof(CpPermission) * n);
	bool	   *used = palloc0(sizeof(bool) * Max(page->nitems, 1));
	int			i,
				j;

	for (i = 0; i < n; i++)
	{
		for (j = 0; j < page->nitems; j++)
			if (!used[j] && strcmp(page->items[j].project_id, project_ids[i]) == 0)
				break;
		if (j == page->nitems)
		{
			*problem = psprintf("Project ids sent: %d; permissions returned: %d, none for project \"%s\".",
								n, page->nitems, cp_shorten(project_ids[i]));
			return NULL;
		}
		used[j] = true;
		result[i] = page->items[j];
	}
	if (page->nitems != n)
	{
		*problem = psprintf("Project ids sent: %d; permissions returned: %d.", n, page->nitems);
		return NULL;
	}
	return result;
}

/*
 * Parse a 2xx reply to a create.  A reply that is malformed is returned as
 * a problem (*problem set, NULL returned), not raised, for the caller to
 * learn from a list what the request did.  Only cp_parse_page's own
 * protocol errors are caught: it holds no resource but palloc'd memory
 * (cJSON trees are freed in its PG_FINALLY), so nothing is left to clean
 * up; any other error (out of memory, an encoding error) goes on.
 */
static bool
parse_created_page(const CpOptions *opts, const CpResponse *resp, CpPage *page, char **problem)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		ok = true;

	PG_TRY();
	{
		cp_parse_page(opts, resp, page);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_PROTOCOL_VIOLATION)
			PG_RE_THROW();
		FlushErrorState();
		*problem = edata->detail ? edata->detail : edata->message;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * POST {"project_ids": [...]}: the reply lists the permissions created,
 * returned here in the order of project_ids.
 *
 * With unknown_reason NULL, any failure is an error.  Otherwise a POST
 * whose outcome is unknown (sent, and then no whole reply, or a 2xx reply
 * that is malformed or does not match the ids sent) returns NULL with
 * *unknown_reason saying why: the API may have made some or all of the
 * grants, and only a list can tell which (grant.c).
 */
CpPermission *
cp_api_create(const CpOptions *opts, char **project_ids, int n,
			  const char *progress, CpStats *stats, const char **unknown_reason)
{
	CpRequest	req = {.method = "POST",.progress = progress};
	CpResponse	resp;
	ErrorContextCallback errcallback;
	CpPage		page;
	CpPermission *made = NULL;
	char	   *problem = NULL;

	req.path = cp_permissions_path(opts->checkpoint);
	req.body = cp_create_body(project_ids, n);
	req.unknown_ok = unknown_reason != NULL;
	push_request_context(&errcallback, &req);
	cp_http_send(opts, &req, &resp, stats);
	if (resp.outcome_unknown)
	{
		*unknown_reason = resp.unknown_reason;
		pfree(resp.body);
		pop_request_context(&errcallback);
		return NULL;
	}
	if (unknown_reason != NULL)
		made = cp_read_created(opts, &resp, project_ids, n, unknown_reason);
	else
	{
		cp_parse_page(opts, &resp, &page);
		made = match_created(&page, project_ids, n, &problem);
		if (made == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("reply to a grant does not match the request"),
					 errdetail("%s The grants of this request may have been applied.%s",
							   problem, progress),
					 errhint("Check with SELECT which grants exist.")));
	}
	pfree(resp.body);
	pop_request_context(&errcallback);
	return made;
}

/*
 * The permissions a grant's 2xx reply holds, in the order of project_ids;
 * NULL with *unknown_reason when the reply cannot say what was made (it
 * is malformed, or does not match the ids sent).
 */
CpPermission *
cp_read_created(const CpOptions *opts, const CpResponse *resp, char **project_ids, int n,
				const char **unknown_reason)
{
	CpPage		page;
	CpPermission *made;
	char	   *problem = NULL;

	if (!parse_created_page(opts, resp, &page, &problem))
	{
		*unknown_reason = psprintf("The reply was malformed: %s", problem);
		return NULL;
	}
	made = match_created(&page, project_ids, n, &problem);
	if (made == NULL)
		*unknown_reason = psprintf("The reply does not match the request: %s", problem);
	return made;
}

/*
 * DELETE one permission.  Returns false when the API says it is already
 * gone (404), as for a row that a concurrent statement deleted; but a 404
 * after an attempt that may have been applied (sent, and not answered 429
 * or another 4xx) most likely answers that attempt, whose reply was lost,
 * so it counts as done.
 */
bool
cp_api_delete(const CpOptions *opts, const char *permission_id,
			  const char *progress, CpStats *stats)
{
	CpRequest	req = {.method = "DELETE",.missing_ok = true,.progress = progress};
	CpResponse	resp;
	ErrorContextCallback errcallback;
	bool		deleted;

	req.path = cp_permission_path(opts->checkpoint, permission_id);
	push_request_context(&errcallback, &req);
	cp_http_send(opts, &req, &resp, stats);
	if (resp.status == 404)
		deleted = resp.earlier_applied;
	else
		deleted = cp_parse_deleted(opts, &resp, permission_id);
	pfree(resp.body);
	pop_request_context(&errcallback);
	return deleted;
}

/* What cp_api_delete_many's callbacks share. */
typedef struct CpDeleteBatch
{
	const CpOptions *opts;
	char	  **permission_ids;
	bool	   *revoked;
	int64	   *applied;
	CpJournalRef *refs;			/* the journal's entries of the slice sent */
	int			start;			/* index of the slice's first id */
} CpDeleteBatch;

/* One DELETE's reply: as cp_api_delete reads it. */
static void
delete_reply(CpTransfer *t, void *arg)
{
	CpDeleteBatch *batch = (CpDeleteBatch *) arg;
	int			i = (int) (intptr_t) t->arg;

	if (t->resp.status == 404)
		batch->revoked[i] = t->resp.earlier_applied;
	else
		batch->revoked[i] = cp_parse_deleted(batch->opts, &t->resp, batch->permission_ids[i]);
	cp_journal_set_outcome(batch->refs[i - batch->start],
						   batch->revoked[i] ? CP_OUTCOME_APPLIED : CP_OUTCOME_NOT_FOUND, NULL);
	if (batch->revoked[i])
		(*batch->applied)++;
	pfree(t->resp.body);
	t->resp.body = NULL;
}

static const char *
delete_progress(void *arg)
{
	CpDeleteBatch *batch = (CpDeleteBatch *) arg;

	return cp_progress_note(true, *batch->applied);
}

/*
 * The journal after a slice of revokes failed: a revoke never sent did
 * nothing; one sent and not answered may have been applied, unless it is
 * the only one and the error proves that neither its last attempt nor an
 * earlier one was.
 */
static void
settle_journal(CpTransfer *t, int count, CpJournalRef *refs, int sqlerrcode)
{
	int			unanswered = 0;
	int			last = -1;
	int			i;

	for (i = 0; i < count; i++)
	{
		if (!t[i].started)
			cp_journal_discard(refs[i]);
		else if (!t[i].done)
		{
			unanswered++;
			last = i;
		}
	}
	if (unanswered == 1 && cp_error_proves_nothing_applied(sqlerrcode) &&
		!cp_http_failure_earlier_applied())
		cp_journal_discard(refs[last]);
}

/*
 * DELETE n permissions at once, at most max_concurrency in flight
 * (cp_http_send_many).  revoked[i] tells whether permission_ids[i] was
 * revoked now (false: it was already gone); *applied counts the revokes
 * of the statement, for the detail of an error mid-way.  Each revoke is in
 * the journal before it is sent (project_ids, or NULL when unknown, name
 * their projects there).  checkpoints: each permission's, or NULL: all
 * opts->checkpoint's.  Sent in slices, so that a long list of revokes
 * holds a bounded number of transfers.
 */
void
cp_api_delete_many(const CpOptions *opts, char **checkpoints, char **permission_ids,
				   char **project_ids, int n, bool *revoked, int64 *applied, CpStats *stats)
{
	CpDeleteBatch batch = {opts, permission_ids, revoked, applied, NULL, 0};
	MemoryContext cxt = CurrentMemoryContext;
	int			start;

	for (start = 0; start < n; start += CP_DELETE_SLICE)
	{
		int			count = Min(CP_DELETE_SLICE, n - start);
		MemoryContext slice = AllocSetContextCreate(cxt, "checkpoint_perms revokes",
													ALLOCSET_DEFAULT_SIZES);
		CpTransfer *t;
		CpJournalRef *refs;
		int			i;

		/* what a slice allocates (paths, replies, headers) goes with it */
		MemoryContextSwitchTo(slice);
		t = palloc0(sizeof(CpTransfer) * count);
		refs = palloc(sizeof(CpJournalRef) * count);
		/* every id is checked (by its path) before any is in the journal */
		for (i = 0; i < count; i++)
		{
			t[i].req.method = "DELETE";
			t[i].req.checkpoint = checkpoints ? checkpoints[start + i] : opts->checkpoint;
			t[i].req.missing_ok = true;
			t[i].req.path = cp_permission_path(checkpoints ? checkpoints[start + i] :
											   opts->checkpoint,
											   permission_ids[start + i]);
			t[i].arg = (void *) (intptr_t) (start + i);
		}
		for (i = 0; i < count; i++)
			refs[i] = cp_journal_record(CP_JOURNAL_REVOKE,
										checkpoints ? checkpoints[start + i] : opts->checkpoint,
										project_ids ? project_ids[start + i] : NULL,
										permission_ids[start + i], CP_OUTCOME_UNKNOWN);
		batch.refs = refs;
		batch.start = start;
		PG_TRY();
		{
			cp_http_send_many(opts, t, count, delete_reply, delete_progress, &batch, stats);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			settle_journal(t, count, refs, edata->sqlerrcode);
			FreeErrorData(edata);
			PG_RE_THROW();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(cxt);
		MemoryContextDelete(slice);
	}
}
