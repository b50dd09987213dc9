/*-------------------------------------------------------------------------
 *
 * checkpoint_perms.h
 *		  What every layer of the checkpoint_perms foreign data wrapper
 *		  shares: a foreign table's options and columns, the ids that reach
 *		  a request and their limits, a permission as the API returns it.
 *
 * The layers, each with its own header, call only downwards:
 *
 *	executor.h	the FDW callbacks (scan.c, modify.c, revoke.c, analyze.c,
 *				import.c): walk a request plan, build tuples
 *	planner.h	paths, pushdown and the request plan of a scan (paths.c,
 *				pushdown.c, plan.c)
 *	effects.h	what a statement wrote, the journal, grants exactly once,
 *				revokes; the only layer that decides whether a request was
 *				applied, from its transfer's outcome (statement.c, journal.c,
 *				grant.c, revocation.c)
 *	api.h		typed calls of the API and the checks of their replies; which
 *				outcome of a request is an error (request.c, reply.c, api.c,
 *				list.c)
 *	transport.h	HTTP: connections, retries, back-off, cancel, and what became
 *				of each request: not sent, sent without a whole reply,
 *				replied (connection.c, http.c)
 *
 * README.md's "Developer guide" says where a new statement or field goes.
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
	CP_FILTER_ARRAY,			/* project_id = ANY(array): one list per value */
	CP_FILTER_BATCH				/* the keys of a batch of outer rows, set by a
								 * batched join (join.c): one list per key */
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
	char	   *rolename;		/* the role whose user mapping is used, for
								 * messages and statistics; NULL when
								 * planning (no mapping read) */
	bool		public_mapping; /* that role uses the PUBLIC mapping */
	Oid			userid;			/* that role; InvalidOid when planning */
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
	bool		at_commit;		/* apply_writes 'at_commit': grants and revokes
								 * are queued, sent at COMMIT (queue.c) */
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

/*
 * One permission as the API returned it; strings are NUL-terminated.  A
 * grant queued for COMMIT (apply_writes 'at_commit') has no id yet: id
 * NULL, and its row has NULL id and created_at.
 */
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
	int64		rate_limited;	/* replies 429, retried or not */
	int64		bytes;			/* reply bytes received */
	int64		connections;	/* TCP connections opened */
	int64		tls_handshakes; /* of those, TLS handshakes (https) */
	int64		tls_resumed;	/* of those, resumed TLS sessions */
} CpStats;

/* A set of strings (strset.c). */
typedef struct CpStrSet CpStrSet;

/* option.c */
extern void cp_get_options(Oid foreigntableid, Oid userid, CpOptions *opts);
extern bool cp_base_url_allowed(const char *url);
extern void cp_define_settings(void);
extern bool cp_log_writes;		/* checkpoint_perms.log_writes */
extern void cp_check_import_option(const char *name, const char *value);

/* ids.c: what an id can be, and the cut of a value a message repeats */
extern CpValueProblem cp_value_problem(const char *value, size_t maxlen, int *byte);
extern char *cp_value_problem_detail(CpValueProblem problem, const char *value,
									 size_t maxlen, int byte);
extern const char *cp_id_name(CpIdKind kind);
extern size_t cp_id_max_len(CpIdKind kind);
extern bool cp_id_possible(CpIdKind kind, const char *value);
extern void cp_check_sql_id(CpIdKind kind, const char *value, const char *progress);
extern char *cp_shorten(const char *value);

/* strset.c */
extern CpStrSet *cp_strset_create(MemoryContext parent);
extern bool cp_strset_add(CpStrSet *set, const char *str);
extern bool cp_strset_contains(const CpStrSet *set, const char *str);
extern uint32 cp_strset_count(const CpStrSet *set);

/* version.c: a set-returning SQL function's result */
struct Tuplestorestate;
extern struct Tuplestorestate *cp_materialize_result(FunctionCallInfo fcinfo, TupleDesc *tupdesc);

/* address.c */
extern bool cp_address_is_reserved(int family, const void *addr);

/* columns.c */
extern const char *cp_field_name(CpField field);
extern void cp_build_column_map(Relation rel, CpColumnMap *map);
extern void cp_load_column_map(Oid relid, CpColumnMap *map);
extern void cp_store_permission(const CpColumnMap *map, const CpPermission *perm,
								Datum *values, bool *nulls);
extern char *cp_text_value(const CpColumnMap *map, CpField field,
						   Datum value, bool isnull);

#endif							/* CHECKPOINT_PERMS_H */
