/*-------------------------------------------------------------------------
 *
 * transport.h
 *		  The transport layer (connection.c, http.c): bytes over HTTP, retries,
 *		  back-off, cancel, TLS and concurrency.  It knows requests and replies,
 *		  never what a grant or a list is.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CP_TRANSPORT_H
#define CP_TRANSPORT_H

#include "checkpoint_perms.h"

/* A cached connection: one curl handle per user mapping per backend. */
typedef struct CpConnection CpConnection;

/* One HTTP request to the API. */
typedef struct CpRequest
{
	const char *method;			/* "GET", "POST" or "DELETE" */
	char	   *path;			/* below base_url, already percent-encoded */
	char	   *body;			/* JSON for POST, else NULL */
	bool		missing_ok;		/* a 404 is an answer, not an error */
	const char *checkpoint;		/* the checkpoint it is about, for a 404's
								 * message; NULL: opts->checkpoint */
	const char *progress;		/* ends an errdetail: what the statement already
								 * did, or "" */
	bool		unknown_ok;		/* POST: a failure after it was sent is returned
								 * (resp->outcome_unknown), not raised */
} CpRequest;

/* A reply: the status line, the headers we use and the body. */
typedef struct CpResponse
{
	long		status;
	int			retries;		/* attempts before this reply */
	bool		earlier_applied;	/* one of those may have been applied: it was
									 * sent and not answered 429 or another 4xx
									 * (then a 404 to a DELETE answers it) */
	char	   *body;			/* NUL-terminated, palloc'd */
	size_t		len;
	char		request_id[128];	/* x-request-id, "" when absent */
	char		content_type[128];
	char		location[256];	/* for 3xx */
	bool		outcome_unknown;	/* req->unknown_ok: sent, no whole reply */
	const char *unknown_reason; /* ...and why, as a sentence without period */
} CpResponse;

/*
 * One transfer of a batch (cp_http_send_many): a request, and once done its
 * reply.  arg is the caller's, for on_reply.
 */
typedef struct CpTransfer
{
	CpRequest	req;
	CpResponse	resp;
	bool		started;		/* its first attempt was handed to curl */
	bool		done;			/* it ended with a usable reply; on_reply ran */
	void	   *arg;
} CpTransfer;

/* connection.c */
extern CpConnection *cp_get_connection(const CpOptions *opts);
extern int	cp_connection_size(CpConnection *conn);
extern void *cp_connection_curl(CpConnection *conn, int i);
extern void *cp_connection_multi(CpConnection *conn);
extern int	cp_connection_cap(CpConnection *conn);
extern void cp_connection_set_cap(CpConnection *conn, int cap);
extern void cp_connection_set_busy(CpConnection *conn, bool busy);

/* http.c */
extern bool cp_address_is_reserved(int family, const void *addr);
extern void cp_http_send(const CpOptions *opts, const CpRequest *req,
						 CpResponse *resp, CpStats *stats);

/*
 * cp_http_send_many: send n independent transfers at once over the user
 * mapping's connection, at most opts->max_concurrency in flight, and
 * return when every one has its reply.
 *
 * - Each transfer keeps cp_http_send's retry policy (GET and DELETE as the
 *   SDKs, POST only when it provably did nothing).  A 429, or any delay the
 *   API names (retry-after-ms, retry-after), pauses the whole batch until
 *   it passes; a 429 also halves the number in flight (grown back by one
 *   after as many successes in a row; the next batch on the connection
 *   starts where this one ended), and a 429 that came while others were
 *   in flight costs its request none of its max_retries.
 * - on_reply(t, arg), if not NULL, runs for each transfer that ends with a
 *   usable reply (2xx, or 404 when req.missing_ok; t->resp.retries > 0
 *   says an earlier attempt was sent), in the order they end, with the
 *   request line as error context.  t->resp.body is palloc'd in the memory
 *   context current at the call: pfree it when done, or a large batch
 *   holds every reply until then.  on_reply may raise; then every transfer
 *   in flight is abandoned at once, as by a cancel, and its outcome is
 *   unknown (a DELETE or POST may have been applied).  It must not send
 *   requests over the same user mapping.
 * - A final failure stops sending: no new transfer starts and none is
 *   retried, those in flight end (their on_reply still runs), and then the
 *   failure's error is raised with its request line as context; its DETAIL
 *   ends with progress(arg) (NULL: nothing), which is "" or sentences that
 *   begin with a space, e.g. " Earlier requests of this statement already
 *   revoked 37 permissions; they stay applied."  req.progress is replaced.
 *   Transfers that did not end well have done = false.
 * - Cancel, statement_timeout and terminate abandon every transfer in
 *   flight at once and raise PostgreSQL's own error.
 * cp_http_send is the same engine with one transfer.
 */
extern bool cp_http_failure_earlier_applied(void);
extern void cp_http_send_many(const CpOptions *opts, CpTransfer *t, int n,
							  void (*on_reply) (CpTransfer *t, void *arg),
							  const char *(*progress) (void *arg), void *arg,
							  CpStats *stats);

#endif							/* CP_TRANSPORT_H */
