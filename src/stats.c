/*-------------------------------------------------------------------------
 *
 * stats.c
 *		  The transport's cumulative statistics (checkpoint_perms_stats),
 *		  per database, server, role of the user mapping and HTTP method,
 *		  and the back-off it shares between backends, per server.
 *
 * With the library in shared_preload_libraries, the counters live in shared
 * memory, as pg_stat_statements keeps its own: a fixed-size hash table
 * under one LWLock (shared to find an entry, exclusive to add or remove
 * one), and a spinlock per entry for its counters, so that backends
 * counting on different entries do not wait on each other.  A request is
 * counted once its attempt has ended: no lock is ever held across a
 * request.  Without preloading there is no shared memory to ask for, and
 * each backend counts in a hash table of its own (the view's column scope
 * says "backend").
 *
 * The same shared memory holds, per server, the moment until which a 429
 * (or any delay the API named) asked every backend to wait, and the number
 * of requests in flight the last batch to it ended with, where the next
 * batch of any backend starts: the API's limits are per organization and
 * project, not per connection.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "catalog/pg_authid.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "transport.h"

/* Entries of the shared table; one more finds none and is counted. */
#define CP_STATS_MAX 1000

/* Servers whose shared back-off is kept. */
#define CP_PAUSE_MAX 256

/* How long a batch's cap of requests in flight tells the next batches. */
#define CP_CAP_TTL_US ((int64) 60 * 1000000)

#define CP_STATS_COLS 20

typedef struct CpStatsKey
{
	Oid			dbid;
	Oid			serverid;
	Oid			userid;			/* the role whose user mapping was used */
	int			method;			/* CpMethod */
} CpStatsKey;

typedef struct CpStatsEntry
{
	CpStatsKey	key;			/* hash key: first */
	slock_t		mutex;			/* protects everything below */
	NameData	server;			/* names when last counted: the view needs */
	NameData	usename;		/* no catalog of another database */
	int64		requests;
	int64		ok;
	int64		client_errors;
	int64		rate_limited;
	int64		server_errors;
	int64		network_errors;
	int64		retries;
	int64		bytes_received;
	double		total_ms;
	double		max_ms;
	char		last_error[CP_STATS_ERROR_LEN];
	TimestampTz last_error_at;
	char		last_request_id[64];
} CpStatsEntry;

typedef struct CpPauseKey
{
	Oid			dbid;
	Oid			serverid;
} CpPauseKey;

typedef struct CpPauseEntry
{
	CpPauseKey	key;
	/* all under CpStatsShared.pause_mutex */
	TimestampTz paused_until;
	int			cap;			/* requests in flight a batch ended with */
	TimestampTz cap_at;			/* ...and when */
} CpPauseEntry;

typedef struct CpStatsShared
{
	LWLock	   *lock;			/* the two hash tables, and stats_reset */
	slock_t		pause_mutex;	/* the paused_until of every entry */
	TimestampTz stats_reset;	/* when the counters started: the server's
								 * start or the last reset */
} CpStatsShared;

static CpStatsShared *shared = NULL;
static HTAB *stats_hash = NULL;	/* shared, or this backend's */
static HTAB *pause_hash = NULL;	/* shared only */
static TimestampTz local_reset = 0;	/* not shared: stats_reset */

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

static CpPauseEntry *pause_entry(const CpOptions *opts, bool make);

static const char *const method_names[] = {"GET", "POST", "DELETE", "other"};

static Size
stats_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(CpStatsShared)),
					add_size(hash_estimate_size(CP_STATS_MAX, sizeof(CpStatsEntry)),
							 hash_estimate_size(CP_PAUSE_MAX, sizeof(CpPauseEntry))));
}

static void
stats_request(void)
{
	RequestAddinShmemSpace(stats_shmem_size());
	RequestNamedLWLockTranche("checkpoint_perms", 1);
}

#if PG_VERSION_NUM >= 150000
static void
stats_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	stats_request();
}
#endif

static void
stats_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("checkpoint_perms", sizeof(CpStatsShared), &found);
	if (!found)
	{
		shared->lock = &(GetNamedLWLockTranche("checkpoint_perms"))->lock;
		SpinLockInit(&shared->pause_mutex);
		shared->stats_reset = GetCurrentTimestamp();
	}
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(CpStatsKey);
	info.entrysize = sizeof(CpStatsEntry);
	stats_hash = ShmemInitHash("checkpoint_perms stats", CP_STATS_MAX, CP_STATS_MAX,
							   &info, HASH_ELEM | HASH_BLOBS);
	info.keysize = sizeof(CpPauseKey);
	info.entrysize = sizeof(CpPauseEntry);
	pause_hash = ShmemInitHash("checkpoint_perms pauses", CP_PAUSE_MAX, CP_PAUSE_MAX,
							   &info, HASH_ELEM | HASH_BLOBS);
	LWLockRelease(AddinShmemInitLock);
}

/*
 * From _PG_init: ask for shared memory when preloaded (on 15 and later in
 * shmem_request_hook, the only place allowed; before, in _PG_init itself).
 */
void
cp_stats_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = stats_shmem_request;
#else
	stats_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = stats_shmem_startup;
}

/* Not preloaded: this backend's own table, made at first use. */
static void
local_table(void)
{
	HASHCTL		info;

	if (stats_hash != NULL)
		return;
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(CpStatsKey);
	info.entrysize = sizeof(CpStatsEntry);
	info.hcxt = TopMemoryContext;
	stats_hash = hash_create("checkpoint_perms stats", 64, &info,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	local_reset = GetCurrentTimestamp();
}

static int
method_of(const char *method)
{
	if (strcmp(method, "GET") == 0)
		return CP_METHOD_GET;
	if (strcmp(method, "POST") == 0)
		return CP_METHOD_POST;
	if (strcmp(method, "DELETE") == 0)
		return CP_METHOD_DELETE;
	return CP_METHOD_OTHER;
}

static void
fill_key(CpStatsKey *key, const CpOptions *opts, const char *method)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	key->serverid = opts->serverid;
	key->userid = opts->userid;
	key->method = method_of(method);
}

static void
init_entry(CpStatsEntry *e)
{
	memset((char *) e + sizeof(CpStatsKey), 0, sizeof(*e) - sizeof(CpStatsKey));
	SpinLockInit(&e->mutex);
}

/* Add what one attempt cost to its entry; the caller holds its mutex. */
static void
add_attempt(CpStatsEntry *e, const CpOptions *opts, const CpStatsAttempt *a)
{
	namestrcpy(&e->server, opts->servername);
	namestrcpy(&e->usename, opts->rolename ? opts->rolename : "?");
	e->requests++;
	e->retries += a->retry ? 1 : 0;
	e->bytes_received += (int64) a->bytes;
	e->total_ms += a->ms;
	e->max_ms = Max(e->max_ms, a->ms);
	if (a->status == 0)
		e->network_errors++;
	else if (a->status >= 200 && a->status < 300)
		e->ok++;
	else if (a->status == 429)
		e->rate_limited++;
	else if (a->status >= 400 && a->status < 500)
		e->client_errors++;
	else if (a->status >= 500)
		e->server_errors++;
	if (a->error)
	{
		strlcpy(e->last_error, a->error, sizeof(e->last_error));
		e->last_error_at = a->at;
	}
	if (a->request_id && a->request_id[0])
		strlcpy(e->last_request_id, a->request_id, sizeof(e->last_request_id));
}

/*
 * Count one ended attempt (or a retry scheduled, a->retry with no
 * request).  Cheap: a shared lookup and a spinlock; an exclusive lock only
 * the first time a server, role and method meet.
 */
void
cp_stats_count(const CpOptions *opts, const char *method, const CpStatsAttempt *a)
{
	CpStatsKey	key;
	CpStatsEntry *e;
	bool		found;

	fill_key(&key, opts, method);
	if (shared == NULL)
	{
		local_table();
		e = hash_search(stats_hash, &key, HASH_ENTER, &found);
		if (!found)
			init_entry(e);
		add_attempt(e, opts, a);
		return;
	}
	LWLockAcquire(shared->lock, LW_SHARED);
	e = hash_search(stats_hash, &key, HASH_FIND, NULL);
	if (e == NULL)
	{
		LWLockRelease(shared->lock);
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		e = hash_search(stats_hash, &key, HASH_ENTER_NULL, &found);
		if (e == NULL)
		{
			/* full: CP_STATS_MAX combinations were counted since the reset */
			LWLockRelease(shared->lock);
			return;
		}
		if (!found)
			init_entry(e);
	}
	SpinLockAcquire(&e->mutex);
	add_attempt(e, opts, a);
	SpinLockRelease(&e->mutex);
	LWLockRelease(shared->lock);
}

/*
 * The shared back-off of a server: until when a 429 (or a delay the API
 * named) in any backend asked every backend to wait; 0 when none, or when
 * not preloaded.
 */
TimestampTz
cp_stats_paused_until(const CpOptions *opts)
{
	CpPauseEntry *p;
	TimestampTz until;

	if (shared == NULL || (p = pause_entry(opts, false)) == NULL)
		return 0;
	SpinLockAcquire(&shared->pause_mutex);
	until = p->paused_until;
	SpinLockRelease(&shared->pause_mutex);
	LWLockRelease(shared->lock);
	return until;
}

/*
 * The server's entry, made if make; returns with shared->lock held (in
 * exclusive mode if it had to be made), or NULL (not there, or the table
 * is full) with the lock released.
 */
static CpPauseEntry *
pause_entry(const CpOptions *opts, bool make)
{
	CpPauseKey	key;
	CpPauseEntry *p;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dbid = MyDatabaseId;
	key.serverid = opts->serverid;
	LWLockAcquire(shared->lock, LW_SHARED);
	p = hash_search(pause_hash, &key, HASH_FIND, NULL);
	if (p != NULL || !make)
	{
		if (p == NULL)
			LWLockRelease(shared->lock);
		return p;
	}
	LWLockRelease(shared->lock);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	p = hash_search(pause_hash, &key, HASH_ENTER_NULL, &found);
	if (p == NULL)
		LWLockRelease(shared->lock);
	else if (!found)
	{
		p->paused_until = 0;
		p->cap = 0;
		p->cap_at = 0;
	}
	return p;
}

/* A backend was told to wait until then: so are the others. */
void
cp_stats_pause(const CpOptions *opts, TimestampTz until)
{
	CpPauseEntry *p;

	if (shared == NULL || (p = pause_entry(opts, true)) == NULL)
		return;
	SpinLockAcquire(&shared->pause_mutex);
	p->paused_until = Max(p->paused_until, until);
	SpinLockRelease(&shared->pause_mutex);
	LWLockRelease(shared->lock);
}

/*
 * The number of requests in flight that the last batch to this server, in
 * any backend, was down to (or back up to), if that was within a minute:
 * a new batch starts there rather than at max_concurrency, so that eight
 * sessions do not each rediscover the API's limit with a burst of 429s.
 * 0: nothing known.
 */
int
cp_stats_cap(const CpOptions *opts)
{
	CpPauseEntry *p;
	int			cap = 0;

	if (shared == NULL || (p = pause_entry(opts, false)) == NULL)
		return 0;
	SpinLockAcquire(&shared->pause_mutex);
	if (p->cap_at > GetCurrentTimestamp() - CP_CAP_TTL_US)
		cap = p->cap;
	SpinLockRelease(&shared->pause_mutex);
	LWLockRelease(shared->lock);
	return cap;
}

/*
 * A batch's cap changed (a 429 halved it) or it ended: tell the next
 * batches.  A server never limited gets no entry: only below
 * max_concurrency is one made.
 */
void
cp_stats_set_cap(const CpOptions *opts, int cap, bool limited)
{
	CpPauseEntry *p;

	if (shared == NULL || (p = pause_entry(opts, limited)) == NULL)
		return;
	SpinLockAcquire(&shared->pause_mutex);
	p->cap = cap;
	p->cap_at = GetCurrentTimestamp();
	SpinLockRelease(&shared->pause_mutex);
	LWLockRelease(shared->lock);
}

/* One row of the view, from a copy of an entry taken under its mutex. */
static void
put_entry(Tuplestorestate *store, TupleDesc tupdesc, const CpStatsEntry *e,
		  TimestampTz reset)
{
	Datum		values[CP_STATS_COLS];
	bool		nulls[CP_STATS_COLS];
	int			i = 0;

	memset(nulls, 0, sizeof(nulls));
	values[i++] = CStringGetTextDatum(NameStr(e->server));
	values[i++] = CStringGetTextDatum(NameStr(e->usename));
	values[i++] = CStringGetTextDatum(method_names[e->key.method]);
	values[i++] = Int64GetDatum(e->requests);
	values[i++] = Int64GetDatum(e->ok);
	values[i++] = Int64GetDatum(e->client_errors);
	values[i++] = Int64GetDatum(e->rate_limited);
	values[i++] = Int64GetDatum(e->server_errors);
	values[i++] = Int64GetDatum(e->network_errors);
	values[i++] = Int64GetDatum(e->retries);
	values[i++] = Int64GetDatum(e->bytes_received);
	values[i++] = Float8GetDatum(e->total_ms);
	values[i++] = Float8GetDatum(e->max_ms);
	if (e->last_error[0] != '\0')
		values[i] = CStringGetTextDatum(e->last_error);
	else
		nulls[i] = true;
	i++;
	values[i] = TimestampTzGetDatum(e->last_error_at);
	nulls[i++] = e->last_error_at == 0;
	if (e->last_request_id[0] != '\0')
		values[i] = CStringGetTextDatum(e->last_request_id);
	else
		nulls[i] = true;
	i++;
	values[i++] = TimestampTzGetDatum(reset);
	values[i++] = CStringGetTextDatum(shared ? "shared" : "backend");
	values[i++] = ObjectIdGetDatum(e->key.serverid);
	values[i++] = ObjectIdGetDatum(e->key.userid);
	Assert(i == CP_STATS_COLS);
	tuplestore_putvalues(store, tupdesc, values, nulls);
}

/*
 * The entries of this database; a role that may not read all statistics
 * (pg_read_all_stats) sees those of its own user mappings only, as
 * pg_stat_statements hides other roles' queries.
 */
static void
put_entries(Tuplestorestate *store, TupleDesc tupdesc)
{
	bool		all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	HASH_SEQ_STATUS seq;
	CpStatsEntry *e;
	CpStatsEntry copy;

	if (stats_hash == NULL)
		return;
	if (shared)
		LWLockAcquire(shared->lock, LW_SHARED);
	hash_seq_init(&seq, stats_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->key.dbid != MyDatabaseId || (!all && e->key.userid != GetUserId()))
			continue;
		if (shared)
			SpinLockAcquire(&e->mutex);
		memcpy(&copy, e, sizeof(copy));
		if (shared)
			SpinLockRelease(&e->mutex);
		put_entry(store, tupdesc, &copy, shared ? shared->stats_reset : local_reset);
	}
	if (shared)
		LWLockRelease(shared->lock);
}

PG_FUNCTION_INFO_V1(checkpoint_perms_stats);

/* checkpoint_perms_stats(): the function under the view of that name. */
Datum
checkpoint_perms_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Tuplestorestate *store = cp_materialize_result(fcinfo, &tupdesc);

	put_entries(store, tupdesc);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(checkpoint_perms_stats_reset);

/*
 * checkpoint_perms_stats_reset(): forget every counter, of every database
 * (shared) or of this backend; EXECUTE is revoked from PUBLIC.
 */
Datum
checkpoint_perms_stats_reset(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS seq;
	CpStatsEntry *e;

	if (stats_hash == NULL)
		PG_RETURN_VOID();
	if (shared)
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, stats_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
		hash_search(stats_hash, &e->key, HASH_REMOVE, NULL);
	if (shared)
	{
		shared->stats_reset = GetCurrentTimestamp();
		LWLockRelease(shared->lock);
	}
	else
		local_reset = GetCurrentTimestamp();
	PG_RETURN_VOID();
}
