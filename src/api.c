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

	errcontext("OpenAI API request: %s %s", req->method, req->path);
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
	CpRequest	req = {.method = "GET",.path = path};
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

/* POST {"project_ids": [...]}: the reply lists the permissions created. */
void
cp_api_create(const CpOptions *opts, char **project_ids, int n,
			  const char *progress, CpPage *page, CpStats *stats)
{
	CpRequest	req = {.method = "POST",.progress = progress};
	CpResponse	resp;
	ErrorContextCallback errcallback;

	req.path = cp_permissions_path(opts->checkpoint);
	req.body = cp_create_body(project_ids, n);
	push_request_context(&errcallback, &req);
	cp_http_send(opts, &req, &resp, stats);
	cp_parse_page(opts, &resp, page);
	pfree(resp.body);
	pop_request_context(&errcallback);
}

/*
 * DELETE one permission.  Returns false when the API says it is already
 * gone (404), as for a row that a concurrent statement deleted.
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
	deleted = resp.status != 404 && cp_parse_deleted(opts, &resp, permission_id);
	pfree(resp.body);
	pop_request_context(&errcallback);
	return deleted;
}
