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

#include "checkpoint_perms.h"

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
 * one each, whatever their order.  Returns them in the order of ids.
 */
static CpPermission *
match_created(const CpPage *page, char **project_ids, int n, const char *progress)
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
			ereport(ERROR,
					(errcode(ERRCODE_PROTOCOL_VIOLATION),
					 errmsg("reply to a grant does not match the request"),
					 errdetail("Project ids sent: %d; permissions returned: %d, none for project \"%s\". The grants of this request may have been applied.%s",
							   n, page->nitems, cp_shorten(project_ids[i]), progress),
					 errhint("Check with SELECT which grants exist.")));
		used[j] = true;
		result[i] = page->items[j];
	}
	if (page->nitems != n)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("reply to a grant does not match the request"),
				 errdetail("Project ids sent: %d; permissions returned: %d. The grants of this request may have been applied.%s",
						   n, page->nitems, progress),
				 errhint("Check with SELECT which grants exist.")));
	return result;
}

/*
 * POST {"project_ids": [...]}: the reply lists the permissions created,
 * returned here in the order of project_ids.
 */
CpPermission *
cp_api_create(const CpOptions *opts, char **project_ids, int n,
			  const char *progress, CpStats *stats)
{
	CpRequest	req = {.method = "POST",.progress = progress};
	CpResponse	resp;
	ErrorContextCallback errcallback;
	CpPage		page;
	CpPermission *made;

	req.path = cp_permissions_path(opts->checkpoint);
	req.body = cp_create_body(project_ids, n);
	push_request_context(&errcallback, &req);
	cp_http_send(opts, &req, &resp, stats);
	cp_parse_page(opts, &resp, &page);
	made = match_created(&page, project_ids, n, progress);
	pfree(resp.body);
	pop_request_context(&errcallback);
	return made;
}

/*
 * DELETE one permission.  Returns false when the API says it is already
 * gone (404), as for a row that a concurrent statement deleted; but a 404
 * after a retry most likely answers our own earlier attempt, whose reply
 * was lost, so it counts as done.
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
		deleted = resp.retries > 0;
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
	bool		revoke;			/* for the progress note */
} CpDeleteBatch;

/* One DELETE's reply: as cp_api_delete reads it. */
static void
delete_reply(CpTransfer *t, void *arg)
{
	CpDeleteBatch *batch = (CpDeleteBatch *) arg;
	int			i = (int) (intptr_t) t->arg;

	if (t->resp.status == 404)
		batch->revoked[i] = t->resp.retries > 0;
	else
		batch->revoked[i] = cp_parse_deleted(batch->opts, &t->resp, batch->permission_ids[i]);
	if (batch->revoked[i])
		(*batch->applied)++;
	pfree(t->resp.body);
	t->resp.body = NULL;
}

static const char *
delete_progress(void *arg)
{
	CpDeleteBatch *batch = (CpDeleteBatch *) arg;

	return cp_progress_note(batch->revoke, *batch->applied);
}

/*
 * DELETE n permissions at once, at most max_concurrency in flight
 * (cp_http_send_many).  revoked[i] tells whether permission_ids[i] was
 * revoked now (false: it was already gone); *applied counts the revokes
 * of the statement, for the detail of an error mid-way.  Sent in slices,
 * so that a long list of revokes holds a bounded number of transfers.
 */
void
cp_api_delete_many(const CpOptions *opts, char **permission_ids, int n, bool *revoked,
				   int64 *applied, CpStats *stats)
{
	CpDeleteBatch batch = {opts, permission_ids, revoked, applied, true};
	int			start;

	for (start = 0; start < n; start += CP_DELETE_SLICE)
	{
		int			count = Min(CP_DELETE_SLICE, n - start);
		CpTransfer *t = palloc0(sizeof(CpTransfer) * count);
		int			i;

		for (i = 0; i < count; i++)
		{
			t[i].req.method = "DELETE";
			t[i].req.missing_ok = true;
			t[i].req.path = cp_permission_path(opts->checkpoint, permission_ids[start + i]);
			t[i].arg = (void *) (intptr_t) (start + i);
		}
		cp_http_send_many(opts, t, count, delete_reply, delete_progress, &batch, stats);
		for (i = 0; i < count; i++)
			pfree(t[i].req.path);
		pfree(t);
	}
}
