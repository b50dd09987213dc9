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
