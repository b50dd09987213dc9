/*-------------------------------------------------------------------------
 *
 * api.c
 *		  The three operations of the API: list a page, create permissions,
 *		  delete one.  Each sends its request and reads its reply with the
 *		  request line as the error context, so that every error, from the
 *		  network or from a reply, says which request it was about.
 *
 * The transport returns what became of a request (not sent, sent without
 * a whole reply, replied); this file decides which of those is an error.
 * It never decides what a request did to the permissions, nor writes the
 * journal: that is the effects layer's (journal.c, grant.c,
 * revocation.c), which reads the outcome from the CpTransfer it owns.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "api.h"

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

/*
 * The error of a transfer that ended without a usable reply: the
 * transport's words for one that never came whole, reply.c's for a status.
 */
CP_NORETURN static void raise_failure(const CpOptions *opts, const CpTransfer *t);

static void
raise_failure(const CpOptions *opts, const CpTransfer *t)
{
	if (t->outcome != CP_REPLIED)
		cp_http_report_failure(opts, &t->req, &t->resp);
	cp_report_http_error(opts, &t->req, &t->resp);
}

/*
 * GET one page of a list (path holds every query parameter), and return
 * false, not raise, when the API refuses its cursor (400, param "after"):
 * a strict API refuses the id of a revoked permission, and only the
 * caller knows whether it can list on from another one (scan.c).  The
 * refused reply is left in *refused (its body in CurrentMemoryContext),
 * for cp_api_report_refused.  refused NULL: a first page, which has no
 * cursor to refuse; any failure is raised.
 */
bool
cp_api_list(const CpOptions *opts, char *path, CpPage *page, CpStats *stats,
				  CpTransfer *refused)
{
	CpTransfer	t;
	ErrorContextCallback errcallback;

	memset(&t, 0, sizeof(t));
	t.req.method = "GET";
	t.req.path = path;
	t.req.progress = "";
	push_request_context(&errcallback, &t.req);
	if (!cp_http_send(opts, &t, stats))
	{
		if (refused && t.outcome == CP_REPLIED && cp_reply_refuses_param(&t.resp, "after"))
		{
			pop_request_context(&errcallback);
			*refused = t;
			return false;
		}
		raise_failure(opts, &t);
	}
	cp_parse_page(opts, &t.resp, page);
	if (stats)
		stats->pages++;
	pfree(t.resp.body);
	pop_request_context(&errcallback);
	return true;
}

/* Raise the refusal cp_api_list returned, with the caller's hint. */
void
cp_api_report_refused(const CpOptions *opts, const CpTransfer *refused, const char *hint)
{
	ErrorContextCallback errcallback;

	push_request_context(&errcallback, &refused->req);
	cp_report_bad_request(opts, &refused->req, &refused->resp, hint);
}

/*
 * Send n independent transfers at once (cp_http_send_many), and raise the
 * first that ended without a usable reply once the others in flight have
 * ended, with its request line as context and progress(arg) (NULL:
 * nothing) ending its detail: "" or sentences that begin with a space,
 * e.g. " Earlier requests of this statement already revoked 37
 * permissions; they stay applied."
 */
void
cp_api_send_many(const CpOptions *opts, CpTransfer *t, int n,
				 void (*on_reply) (CpTransfer *t, void *arg),
				 const char *(*progress) (void *arg), void *arg, CpStats *stats)
{
	const char *before = progress ? progress(arg) : "";
	ErrorContextCallback errcallback;
	CpTransfer *f;
	int			failed;
	int			i;

	for (i = 0; i < n; i++)
		if (t[i].req.progress == NULL)
			t[i].req.progress = before;
	failed = cp_http_send_many(opts, t, n, on_reply, arg, stats);
	if (failed < 0)
		return;
	f = &t[failed];
	/* what the batch applied before it stopped, not before it started */
	f->req.progress = progress ? progress(arg) : "";
	push_request_context(&errcallback, &f->req);
	raise_failure(opts, f);
}

/*
 * Send pages read ahead (n GETs, list.c) as cp_api_send_many does, except
 * that a batch stopped by a refused cursor (400, param "after") is not an
 * error: a page read ahead is optional, so each list that got no page
 * fetches it again alone (cp_api_list), where its refusal is
 * returned to the caller that knows what to do with it.
 */
void
cp_api_read_ahead(const CpOptions *opts, CpTransfer *t, int n,
				  void (*on_reply) (CpTransfer *t, void *arg), CpStats *stats)
{
	ErrorContextCallback errcallback;
	CpTransfer *f;
	int			failed;
	int			i;

	for (i = 0; i < n; i++)
		if (t[i].req.progress == NULL)
			t[i].req.progress = "";
	failed = cp_http_send_many(opts, t, n, on_reply, NULL, stats);
	if (failed < 0)
		return;
	f = &t[failed];
	if (f->outcome == CP_REPLIED && cp_reply_refuses_param(&f->resp, "after"))
		return;
	push_request_context(&errcallback, &f->req);
	raise_failure(opts, f);
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
 * The request of a create, POST {"project_ids": [...]}, into t.  A POST
 * whose reply is lost after it was sent is not a failure of its batch:
 * a list tells what it did (grant.c).
 */
void
cp_api_create_request(CpTransfer *t, const char *checkpoint, char **project_ids, int n)
{
	memset(t, 0, sizeof(*t));
	t->req.method = "POST";
	t->req.checkpoint = checkpoint;
	t->req.path = cp_permissions_path(checkpoint);
	t->req.body = cp_create_body(project_ids, n);
	t->req.unknown_is_answer = true;
}

/*
 * Send a create made by cp_api_create_request, and return the permissions
 * its reply lists, in the order of project_ids.  When its outcome is
 * unknown (sent, and then no whole reply, a 5xx, or a 2xx reply that is
 * malformed or does not match the ids sent), returns NULL with *unknown_reason
 * saying why: the API may have made some or all of the grants, and only a
 * list can tell which.  Any other failure is an error.
 */
CpPermission *
cp_api_create(const CpOptions *opts, CpTransfer *t, char **project_ids, int n,
			  const char *progress, CpStats *stats, const char **unknown_reason)
{
	ErrorContextCallback errcallback;
	CpPermission *made;

	t->req.progress = progress;
	push_request_context(&errcallback, &t->req);
	if (!cp_http_send(opts, t, stats))
		raise_failure(opts, t);
	made = cp_read_created(opts, t, project_ids, n, unknown_reason);
	pfree(t->resp.body);
	t->resp.body = NULL;
	pop_request_context(&errcallback);
	return made;
}

/*
 * The permissions a create's usable reply holds, in the order of
 * project_ids; NULL with *unknown_reason when the reply cannot say what
 * was made (it was lost after the request was sent, is a server error, is
 * malformed, or does not match the ids sent).
 */
CpPermission *
cp_read_created(const CpOptions *opts, const CpTransfer *t, char **project_ids, int n,
				const char **unknown_reason)
{
	CpPage		page;
	CpPermission *made;
	char	   *problem = NULL;

	if (t->outcome != CP_REPLIED)
	{
		*unknown_reason = cp_http_lost_reason(&t->resp);
		return NULL;
	}
	if (t->resp.status >= 500)
	{
		/* the API failed while it worked on it: it may have granted some */
		*unknown_reason = t->resp.request_id[0] ?
			psprintf("The API answered HTTP %ld (request id %s)", t->resp.status,
					 t->resp.request_id) :
			psprintf("The API answered HTTP %ld", t->resp.status);
		return NULL;
	}
	if (!parse_created_page(opts, &t->resp, &page, &problem))
	{
		*unknown_reason = psprintf("The reply was malformed: %s", problem);
		return NULL;
	}
	made = match_created(&page, project_ids, n, &problem);
	if (made == NULL)
		*unknown_reason = psprintf("The reply does not match the request: %s", problem);
	return made;
}

/* The request of a revoke, DELETE .../permissions/{id}, into t. */
void
cp_api_delete_request(CpTransfer *t, const char *checkpoint, const char *permission_id)
{
	memset(t, 0, sizeof(*t));
	t->req.method = "DELETE";
	t->req.checkpoint = checkpoint;
	t->req.missing_ok = true;
	t->req.path = cp_permission_path(checkpoint, permission_id);
}

/*
 * What a DELETE's usable reply says: revoked, gone already (404), or kept
 * ("deleted": false).  An id other than the one revoked is an error.
 * Whether a 404 answers an earlier attempt whose reply was lost is the
 * effects layer's to decide (t->resp.earlier_applied).
 */
CpDeleteAnswer
cp_read_deleted(const CpOptions *opts, const CpTransfer *t, const char *permission_id)
{
	if (t->resp.status == 404)
		return CP_DELETE_GONE;
	return cp_parse_deleted(opts, &t->resp, permission_id) ? CP_DELETE_DELETED : CP_DELETE_KEPT;
}

/* Send a DELETE made by cp_api_delete_request, and read its reply. */
CpDeleteAnswer
cp_api_delete(const CpOptions *opts, CpTransfer *t, const char *permission_id,
			  const char *progress, CpStats *stats)
{
	ErrorContextCallback errcallback;
	CpDeleteAnswer answer;

	t->req.progress = progress;
	push_request_context(&errcallback, &t->req);
	if (!cp_http_send(opts, t, stats))
		raise_failure(opts, t);
	answer = cp_read_deleted(opts, t, permission_id);
	pfree(t->resp.body);
	t->resp.body = NULL;
	pop_request_context(&errcallback);
	return answer;
}

/*
 * A DELETE answered "deleted": false: the API kept the permission.  The
 * contract allows that reply, so it is not malformed, and it is no 404:
 * the permission is there still, and the error names it.  others: how
 * many more revokes of the same statement were kept.  progress ends the
 * detail.
 */
void
cp_api_report_kept(const CpOptions *opts, const CpTransfer *t, const char *permission_id,
				   int others, const char *progress)
{
	ErrorContextCallback errcallback;

	push_request_context(&errcallback, &t->req);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("OpenAI API did not revoke permission \"%s\"", cp_shorten(permission_id)),
			 errdetail("Its reply to the DELETE says \"deleted\": false.%s%s%s",
					   t->resp.request_id[0] ?
					   psprintf(" Request id: %s.", t->resp.request_id) : "",
					   others == 0 ? "" : others == 1 ?
					   " 1 other permission of this statement was kept too." :
					   psprintf(" %d other permissions of this statement were kept too.", others),
					   progress ? progress : ""),
			 errhint("Check with SELECT ... WHERE id = '...' that it still exists before you revoke it again.")));
}
