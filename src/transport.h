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

#include "datatype/timestamp.h"

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
	bool		unknown_is_answer;	/* sent and then no whole reply, or a
									 * 5xx (what it did is unknown): the
									 * transfer ends so, for its caller to
									 * learn otherwise what it did, rather
									 * than failing its batch */
} CpRequest;

/*
 * What became of a request, as far as the transport knows: the value a
 * caller settles a request's effect from (journal.c), and the only one.
 * It is about the last attempt; CpResponse.earlier_applied tells whether
 * an attempt before it may have been applied.
 */
typedef enum CpTransportOutcome
{
	CP_NOT_SENT = 0,			/* no byte of it left this machine (or the
								 * address was refused): it did nothing */
	CP_SENT_NO_REPLY,			/* sent, and no whole reply came: lost, cut,
								 * larger than allowed, timed out, or
								 * abandoned by a cancel */
	CP_REPLIED					/* a whole reply came: resp.status */
} CpTransportOutcome;

/*
 * Why an attempt got no whole reply, in the transport's terms, for
 * cp_http_report_failure and cp_http_lost_reason.
 */
typedef struct CpFailure
{
	int			code;			/* CURLcode; 0 when the reply came whole */
	bool		sent;			/* some of the request reached the network */
	bool		overflow;		/* the reply was larger than max_response_bytes */
	bool		nomem;			/* an allocation failed while receiving */
	bool		refused;		/* a reserved address was refused */
	long		verify_result;	/* the TLS library's verification result
								 * (CURLINFO_SSL_VERIFYRESULT), 0 when none */
	char		message[256];	/* curl's own, masked, for the server log only */
} CpFailure;

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
	CpFailure	failure;		/* outcome CP_NOT_SENT or CP_SENT_NO_REPLY: why */
} CpResponse;

/*
 * One transfer (cp_http_send, cp_http_send_many): a request, and once done
 * its reply.  The caller owns it, so that what the transport recorded of
 * it (outcome, resp.earlier_applied) can be read after an error too, in a
 * PG_CATCH.  arg is the caller's, for on_reply.  Zeroed, it is a request
 * not sent.
 */
typedef struct CpTransfer
{
	CpRequest	req;
	CpResponse	resp;
	CpTransportOutcome outcome; /* set as each attempt ends, and when a
								 * cancel or an error abandons it */
	bool		done;			/* it ended with a usable reply: 2xx, 404 with
								 * req.missing_ok, or no whole reply with
								 * req.unknown_is_answer; on_reply ran */
	void	   *arg;
} CpTransfer;

/*
 * stats.c: the counters of checkpoint_perms_stats, counted per attempt by
 * http.c once it has ended (never under a lock held across a request), and
 * the back-off shared by the backends of one server.  Shared memory when
 * the library is preloaded, else this backend's own.
 */
typedef enum CpMethod
{
	CP_METHOD_GET = 0,
	CP_METHOD_POST,
	CP_METHOD_DELETE,
	CP_METHOD_OTHER
} CpMethod;

#define CP_STATS_ERROR_LEN 128

/* What one ended attempt of a request cost. */
typedef struct CpStatsAttempt
{
	long		status;			/* the reply's; 0: no whole reply */
	bool		retry;			/* it was a retry of an earlier attempt */
	size_t		bytes;
	double		ms;
	const char *error;			/* in our words, without a secret; NULL: ok */
	const char *request_id;		/* x-request-id, or "" */
	TimestampTz at;
} CpStatsAttempt;

extern void cp_stats_init(void);
extern void cp_stats_count(const CpOptions *opts, const char *method, const CpStatsAttempt *a);
extern TimestampTz cp_stats_paused_until(const CpOptions *opts);
extern void cp_stats_pause(const CpOptions *opts, TimestampTz until);
extern int	cp_stats_cap(const CpOptions *opts);
extern void cp_stats_set_cap(const CpOptions *opts, int cap, bool limited);

/* connection.c */
extern CpConnection *cp_get_connection(const CpOptions *opts);
extern int	cp_connection_size(CpConnection *conn);
extern void *cp_connection_curl(CpConnection *conn, int i);
extern void *cp_connection_multi(CpConnection *conn);
extern void *cp_connection_share(CpConnection *conn);
extern int	cp_connection_cap(CpConnection *conn);
extern void cp_connection_set_cap(CpConnection *conn, int cap);
extern void cp_connection_set_busy(CpConnection *conn, bool busy);

/* http.c */

/*
 * cp_http_send: send one transfer, retrying as the SDKs do, and return
 * whether it ended with a usable reply (t->done).  Whatever the reply, the
 * transport does not raise for it: t->outcome and t->resp say what
 * happened, and the api layer decides what is an error (it raises
 * cp_http_report_failure for a reply that never came whole, or its own
 * error for a status).  The caller sets the error context.
 */
extern bool cp_http_send(const CpOptions *opts, CpTransfer *t, CpStats *stats);

/*
 * cp_http_send_many: send n independent transfers at once over the user
 * mapping's connection, at most opts->max_concurrency in flight, and
 * return when every one has its reply: the index of the first that ended
 * without a usable reply, or -1.
 *
 * - Each transfer keeps cp_http_send's retry policy (GET and DELETE as the
 *   SDKs, POST only when it provably did nothing).  A 429, or any delay the
 *   API names (retry-after-ms, retry-after), pauses the whole batch until
 *   it passes; a 429 also halves the number in flight (grown back by one
 *   after as many successes in a row; the next batch on the connection
 *   starts where this one ended), and a 429 that came while others were
 *   in flight costs its request none of its max_retries.
 * - on_reply(t, arg), if not NULL, runs for each transfer that ends with a
 *   usable reply (t->done; t->resp.retries > 0 says an earlier attempt was
 *   sent), in the order they end, with the request line as error context.
 *   t->resp.body is palloc'd in the memory context current at the call:
 *   pfree it when done, or a large batch holds every reply until then.
 *   on_reply may raise; then every transfer in flight is abandoned at
 *   once, as by a cancel (its outcome says whether it was sent).  It must
 *   not send requests over the same user mapping.
 * - A transfer that ends without a usable reply stops the batch: no new
 *   transfer starts and none is retried, those in flight end (their
 *   on_reply still runs), and its index is returned.  Transfers that did
 *   not end well have done = false.
 * - Cancel, statement_timeout and terminate abandon every transfer in
 *   flight at once and raise PostgreSQL's own error.
 * cp_http_send is the same engine with one transfer.
 */
extern int	cp_http_send_many(const CpOptions *opts, CpTransfer *t, int n,
							  void (*on_reply) (CpTransfer *t, void *arg), void *arg,
							  CpStats *stats);

/*
 * For the api layer: why a request that was sent has no whole reply, as a
 * sentence without its period, or NULL when nothing can be learned from it
 * (it was not sent, or the failure is ours: out of memory).  And the error
 * of a transfer that has no whole reply, in the transport's words.
 */
extern const char *cp_http_lost_reason(const CpResponse *resp);
CP_NORETURN extern void cp_http_report_failure(const CpOptions *opts, const CpRequest *req,
											   const CpResponse *resp);

#endif							/* CP_TRANSPORT_H */
