/*-------------------------------------------------------------------------
 *
 * checkpoint_perms.h
 *		  Shared structs and prototypes of the checkpoint_perms foreign data
 *		  wrapper, grouped by the file that defines them.
 *
 * The wrapper turns the OpenAI fine-tuning checkpoint-permissions API into
 * foreign tables: SELECT lists, INSERT grants, DELETE revokes.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHECKPOINT_PERMS_H
#define CHECKPOINT_PERMS_H

#include "access/tupdesc.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/execnodes.h"
#include "nodes/pathnodes.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

#ifndef CHECKPOINT_PERMS_VERSION
#define CHECKPOINT_PERMS_VERSION "unknown"
#endif

/*
 * A function that never returns, written before its declaration.
 * PostgreSQL 18 replaced pg_attribute_noreturn(), written after the
 * declarator, with pg_noreturn, written before; the older macro expands to
 * a GCC attribute (or to nothing), which may stand before it as well.
 */
#if PG_VERSION_NUM >= 180000
#define CP_NORETURN pg_noreturn
#else
#define CP_NORETURN pg_attribute_noreturn()
#endif

/*
 * Longest ids accepted, in bytes (README, Security).  The API's own are far
 * shorter: "cp_" or "proj_" and 24 characters, and checkpoint ids of the
 * form ft:<model>:<org>:<suffix>:<id>[:ckpt-step-<n>].
 */
#define CP_MAX_CHECKPOINT_LEN 512
#define CP_MAX_PROJECT_ID_LEN 256
#define CP_MAX_PERMISSION_ID_LEN 256

/* Highest max_concurrency: requests one statement has in flight at once. */
#define CP_MAX_CONCURRENCY 64

/* Permissions a checkpoint is thought to have until ANALYZE says. */
#define CP_DEFAULT_PERMISSIONS 1000.0

/* Longest piece of a value that a message repeats; longer ones end "...". */
#define CP_MESSAGE_VALUE_LEN 200

/* The ids that reach a request's path, query or body. */
typedef enum CpIdKind
{
	CP_ID_CHECKPOINT,
	CP_ID_PROJECT,
	CP_ID_PERMISSION
} CpIdKind;

/* What is wrong with a value that would reach a header, URL or body. */
typedef enum CpValueProblem
{
	CP_VALUE_OK = 0,
	CP_VALUE_TOO_LONG,
	CP_VALUE_CONTROL,			/* a byte below 0x20, or 0x7F */
	CP_VALUE_SPACE				/* white space at either end */
} CpValueProblem;

/* The fields of a permission object, in the API's order. */
typedef enum CpField
{
	CP_FIELD_ID = 0,
	CP_FIELD_CREATED_AT,
	CP_FIELD_PROJECT_ID,
	CP_FIELD_OBJECT,
	CP_FIELD_CHECKPOINT,		/* not the API's: the checkpoint listed */
	CP_NUM_FIELDS,
	CP_FIELD_NONE = -1			/* a dropped column */
} CpField;

/* The order a list is requested in. */
typedef enum CpOrder
{
	CP_ORDER_NONE = 0,			/* the API's default, newest first */
	CP_ORDER_ASC,
	CP_ORDER_DESC
} CpOrder;

/* What a scan sends as ?project_id=. */
typedef enum CpFilterKind
{
	CP_FILTER_NONE = 0,
	CP_FILTER_SCALAR,			/* project_id = value: one filtered list */
	CP_FILTER_ARRAY				/* project_id = ANY(array): one list per value */
} CpFilterKind;

/*
 * Every option that applies to one foreign table, merged from the server,
 * the user mapping and the table (the table wins where both may set one).
 */
typedef struct CpOptions
{
	Oid			serverid;
	Oid			umid;			/* user mapping, keys the connection cache */
	char	   *servername;		/* for hints */
	char	   *base_url;		/* without a trailing slash */
	char	   *organization;	/* NULL when unset */
	char	   *project;		/* NULL when unset */
	char	   *ca_bundle;		/* NULL: the system's CA store */
	char	   *proxy;			/* NULL: none, whatever the environment says */
	char	   *api_key;		/* never printed anywhere */
	char	   *checkpoint;		/* across checkpoints: NULL, or the one of
								 * the request being made */
	bool		spans;			/* the table has no option "checkpoint" */
	bool		restricted;		/* owner not superuser: no reserved addresses */
	int			page_size;
	int			max_pages;		/* pages one list may take: endless has_more */
	int			batch_size;
	int			connect_timeout_ms;
	int			timeout_ms;
	int			max_retries;
	int			max_concurrency;	/* requests in flight at once, at most */
	int			max_response_bytes;
	double		request_cost;	/* planner cost of one request */
	double		fdw_tuple_cost; /* planner cost of one row received */
} CpOptions;

/* How the columns of a foreign table map to permission fields. */
typedef struct CpColumnMap
{
	int			natts;
	CpField    *field;			/* per attribute (0-based), or CP_FIELD_NONE */
	Oid		   *typid;			/* per attribute */
	Oid		   *basetype;		/* per attribute, domains resolved */
	FmgrInfo   *input;			/* per attribute: the type's input function */
	FmgrInfo   *output;			/* per attribute: the type's output function */
	Oid		   *ioparam;
	int32	   *typmod;
	void	  **domain_extra;	/* per attribute: domain_check's cache */
	char	   *checkpoint;		/* the table's option, or NULL: it spans
								 * checkpoints, a column for each row's */
	MemoryContext cxt;			/* where the map and those caches live */
	AttrNumber	attno[CP_NUM_FIELDS];	/* 1-based, InvalidAttrNumber if absent */
	char	   *relname;		/* for the context of a value that does not fit */
	char	  **attname;		/* per attribute */
} CpColumnMap;

/* One permission as the API returned it; strings are NUL-terminated. */
typedef struct CpPermission
{
	const char *checkpoint;		/* set by whoever knows it (the request's) */
	char	   *id;
	int64		created_at;		/* Unix seconds */
	char	   *project_id;
	char	   *object;
} CpPermission;

/* One page of a list reply. */
typedef struct CpPage
{
	CpPermission *items;
	int			nitems;
	bool		has_more;
	char	   *last_id;		/* NULL when absent, null or empty */
} CpPage;

/* Counters shown by EXPLAIN ANALYZE. */
typedef struct CpStats
{
	int64		requests;		/* HTTP requests sent, retries included */
	int64		pages;			/* list pages read */
	int64		retries;
	int64		bytes;			/* reply bytes received */
} CpStats;

/* Pages a list reads ahead of the one it returns rows of (list.c). */
#define CP_READ_AHEAD 4

/* Walks one list request across its pages (list.c). */
typedef struct CpLister
{
	const CpOptions *opts;		/* &own_opts */
	CpOptions	own_opts;		/* the caller's, with the list's checkpoint */
	CpStats    *stats;
	MemoryContext cxt;			/* holds base_path and the cursor */
	MemoryContext page_cxt;		/* holds the page; reset per page */
	char	   *base_path;		/* list path with its fixed query */
	char	   *after;			/* cursor for the next page, NULL for the first */
	int64		max_rows;		/* stop after this many rows; 0: never */
	int64		rows;			/* rows returned so far */
	int64		pages;			/* pages fetched since the start */
	CpPage		page;
	int			next;			/* next item of page to return */
	bool		exhausted;		/* no page after this one */
	uint64	   *prev_hashes;	/* ids of the page before, hashed and sorted */
	int			nprev;

	/* pages after this one, read ahead with other lists' (see list.c) */
	int			nahead;
	bool		ahead_end;		/* the last of them ends the list */
	MemoryContext ahead_cxt[CP_READ_AHEAD]; /* one each; a page's context
											 * becomes page_cxt when it is read */
	CpPage		ahead[CP_READ_AHEAD];
	char	   *ahead_path[CP_READ_AHEAD];
	int			ahead_limit[CP_READ_AHEAD];
} CpLister;

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

/* A set of strings (strset.c). */
typedef struct CpStrSet CpStrSet;

/* What one statement has written (statement.c). */
typedef struct CpStatement CpStatement;

/* What the journal records of a grant or revoke (journal.c). */
typedef enum CpJournalAction
{
	CP_JOURNAL_GRANT = 0,
	CP_JOURNAL_REVOKE = 1
} CpJournalAction;

typedef enum CpJournalOutcome
{
	CP_OUTCOME_APPLIED,			/* the API confirmed it */
	CP_OUTCOME_NOT_FOUND,		/* a revoke of a permission already gone */
	CP_OUTCOME_UNKNOWN			/* sent; no reply says what happened */
} CpJournalOutcome;

/* An entry of the current transaction's journal; -1: not kept. */
typedef int64 CpJournalRef;

/* option.c */
extern void cp_get_options(Oid foreigntableid, Oid userid, CpOptions *opts);
extern bool cp_base_url_allowed(const char *url);
extern void cp_define_settings(void);
extern void cp_check_import_option(const char *name, const char *value);

/* checkpoint_perms.c */
struct ExplainState;
extern void cp_note_write(void);
extern void cp_explain_stats(const CpStats *stats, bool pages, struct ExplainState *es);

extern void cp_explain_requests(List *lines, struct ExplainState *es);
extern const char *cp_progress_note(bool revoke, int64 applied);

/* scan.c, modify.c, revoke.c, analyze.c, import.c: each sets the callbacks it holds */
struct FdwRoutine;
extern void cp_scan_callbacks(struct FdwRoutine *routine);
extern void cp_modify_callbacks(struct FdwRoutine *routine);
extern void cp_revoke_callbacks(struct FdwRoutine *routine);
extern void cp_analyze_callbacks(struct FdwRoutine *routine);
extern void cp_import_callbacks(struct FdwRoutine *routine);

/* scan.c: the lists of a ForeignScan, for revoke.c too */
typedef struct CpScanState CpScanState;
extern CpScanState *cp_scan_begin(ForeignScanState *node, int eflags, bool stream);
extern TupleTableSlot *cp_scan_next(CpScanState *st, ForeignScanState *node);
extern void cp_scan_end(CpScanState *st);
extern List *cp_scan_request_lines(const CpScanState *st);
extern Oid	cp_scan_userid(ForeignScanState *node);
extern char *cp_value_label(PlannerInfo *root, Expr *value);
extern const CpStats *cp_scan_stats(const CpScanState *st);

/* columns.c */
extern const char *cp_field_name(CpField field);
extern void cp_build_column_map(Relation rel, CpColumnMap *map);
extern void cp_load_column_map(Oid relid, CpColumnMap *map);
extern void cp_store_permission(const CpColumnMap *map, const CpPermission *perm,
								Datum *values, bool *nulls);
extern char *cp_text_value(const CpColumnMap *map, CpField field,
						   Datum value, bool isnull);

/* request.c */
extern CpValueProblem cp_value_problem(const char *value, size_t maxlen, int *byte);
extern char *cp_value_problem_detail(CpValueProblem problem, const char *value,
									 size_t maxlen, int byte);
extern const char *cp_id_name(CpIdKind kind);
extern size_t cp_id_max_len(CpIdKind kind);
extern void cp_check_sql_id(CpIdKind kind, const char *value, const char *progress);
extern char *cp_shorten(const char *value);
extern char *cp_permissions_path(const char *checkpoint);
extern char *cp_permissions_path_placeholder(const char *placeholder);
extern char *cp_permission_path(const char *checkpoint, const char *permission_id);
extern char *cp_list_page_path(const char *base, int limit, const char *after);
extern void cp_append_query(StringInfo buf, const char *name, const char *value);
extern char *cp_create_body(char **project_ids, int n);

/* strset.c */
extern CpStrSet *cp_strset_create(MemoryContext parent);
extern bool cp_strset_add(CpStrSet *set, const char *str);
extern bool cp_strset_contains(const CpStrSet *set, const char *str);
extern uint32 cp_strset_count(const CpStrSet *set);

/* statement.c */
extern CpStatement *cp_statement(EState *estate);
extern bool cp_statement_writes(EState *estate);
extern void cp_statement_granted(CpStatement *stmt, const char *checkpoint,
								 const char *permission_id);
extern bool cp_statement_is_own_grant(const CpStatement *stmt, const char *checkpoint,
									  const char *permission_id);

/*
 * journal.c: record every grant and revoke where it is sent.  Record it
 * before sending, as CP_OUTCOME_UNKNOWN, then set its outcome from the
 * reply; in a PG_CATCH, discard it only when
 * cp_error_proves_nothing_applied(the error's sqlerrcode).  A rollback then
 * warns about it, and checkpoint_perms_journal() lists it.
 */
extern void cp_journal_init(void);
extern CpJournalRef cp_journal_record(CpJournalAction action, const char *checkpoint,
									  const char *project_id, const char *permission_id,
									  CpJournalOutcome outcome);
extern void cp_journal_set_outcome(CpJournalRef ref, CpJournalOutcome outcome,
								   const char *permission_id);
extern void cp_journal_discard(CpJournalRef ref);
extern bool cp_error_proves_nothing_applied(int sqlerrcode);

/* grant.c */
extern int	cp_full_list_requests(const CpOptions *opts, double est_rows);
extern void cp_list_projects(const CpOptions *opts, char **project_ids, int n, bool full,
							 bool *found, CpPermission *newest, CpStrSet *seen,
							 CpStats *stats);
/* The first POST of a batch, sent by cp_grant_many: its entries and result. */
typedef struct CpGrantFirst
{
	CpJournalRef *refs;			/* per project id, in the journal already */
	CpPermission *made;			/* what the reply made, or NULL: */
	const char *reason;			/* why its outcome is unknown */
} CpGrantFirst;

/* One checkpoint's batch of grants (cp_grant_many). */
typedef struct CpGrantBatch
{
	CpOptions	opts;			/* with the batch's checkpoint */
	char	  **project_ids;
	int			n;
	CpPermission *made;			/* out: the permissions, in that order */
} CpGrantBatch;

extern void cp_grant_many(CpGrantBatch *batches, int nbatches, double est_rows,
						  const char *progress, CpStats *stats);
extern CpPermission *cp_grant_once(const CpOptions *opts, char **project_ids, int n,
								   double est_rows, const char *progress, CpStats *stats,
								   const CpGrantFirst *first);

/* list.c */
extern void cp_lister_init(CpLister *lister, const CpOptions *opts, CpStats *stats,
						   MemoryContext parent);
extern void cp_lister_start(CpLister *lister, const char *base_path, int64 max_rows);
extern bool cp_lister_rewind(CpLister *lister);
extern void cp_lister_set_checkpoint(CpLister *lister, char *checkpoint);
extern bool cp_lister_needs_page(const CpLister *lister);
extern void cp_lister_fetch_ahead(CpLister **listers, int n);
extern CpPermission *cp_lister_next(CpLister *lister);
extern void cp_lister_fetch_first(CpLister **listers, int n);

/* pushdown.c */
extern bool cp_project_filter(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno,
							  Expr *clause, Expr **value, CpFilterKind *kind);
extern int	cp_compare_strings(const void *a, const void *b);
extern int	cp_filter_values(Datum value, bool isnull, CpFilterKind kind, char ***values);
extern bool cp_created_bound(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno,
							 Oid basetype, Expr *clause, Expr **value, int *strategy);
extern List *cp_project_join_clauses(PlannerInfo *root, RelOptInfo *baserel,
									 AttrNumber attno);
extern CpOrder cp_order_for_pathkeys(RelOptInfo *baserel, AttrNumber attno, Oid basetype,
									 List *pathkeys);
/* cp_list_base_path's placeholders: which value is an EXPLAIN {placeholder} */
#define CP_PLACEHOLDER_PROJECT 1
#define CP_PLACEHOLDER_CHECKPOINT 2
extern char *cp_list_base_path(const char *checkpoint, const char *project_id,
							   int placeholders, CpOrder order);

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

/* reply.c */
CP_NORETURN extern void cp_report_http_error(const CpOptions *opts, const CpRequest *req,
											 const CpResponse *resp, int retries);
extern void cp_parse_page(const CpOptions *opts, const CpResponse *resp, CpPage *page);
extern bool cp_parse_deleted(const CpOptions *opts, const CpResponse *resp,
							 const char *permission_id);

/* api.c */
extern void cp_api_list(const CpOptions *opts, char *path, CpPage *page, CpStats *stats);
extern CpPermission *cp_api_create(const CpOptions *opts, char **project_ids, int n,
								   const char *progress, CpStats *stats,
								   const char **unknown_reason);
extern CpPermission *cp_read_created(const CpOptions *opts, const CpResponse *resp,
									 char **project_ids, int n, const char **unknown_reason);
extern bool cp_api_delete(const CpOptions *opts, const char *permission_id,
						  const char *progress, CpStats *stats);

/* Revokes sent by one cp_http_send_many call: bounds the transfers held. */
#define CP_DELETE_SLICE 256
extern void cp_api_delete_many(const CpOptions *opts, char **checkpoints,
							   char **permission_ids, char **project_ids, int n,
							   bool *revoked, int64 *applied, CpStats *stats);

#endif							/* CHECKPOINT_PERMS_H */
