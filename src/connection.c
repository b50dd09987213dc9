/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  The per-backend cache of curl handles, one set per user mapping.
 *
 * An entry keeps its HTTP keep-alive connections and TLS sessions between
 * queries, so that a run of one-row queries does not pay a TCP and TLS
 * handshake each.  Each entry has its own multi handle, which owns the
 * connection pool (up to max_concurrency connections, and HTTP/2 streams
 * multiplexed on one where the API offers it), and up to max_concurrency
 * easy handles, made as requests in flight at once need them; so dropping
 * an entry really closes its connections.  A share handle gives those easy
 * handles one TLS session cache and one DNS cache: without it each easy
 * handle keeps its own, and a request on a handle that never talked to the
 * API makes a full TLS handshake (two round trips to another continent)
 * even when another handle of the same mapping holds a session to resume.  An entry is dropped when its
 * server or user mapping is altered or dropped (syscache invalidation),
 * and on request through checkpoint_perms_disconnect().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>

#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/syscache.h"

#include "transport.h"

struct CpConnection
{
	Oid			umid;			/* hash key: the user mapping */
	CURLM	   *multi;
	CURLSH	   *share;			/* TLS sessions and DNS of the easy handles */
	CURL	   *easy[CP_MAX_CONCURRENCY];	/* made as needed; NULL until then */
	int			size;			/* max_concurrency when the entry was made */
	int			cap;			/* in flight at most, as the last batch left it */
	bool		busy;			/* requests of it are in flight (http.c) */
	uint32		server_hashvalue;	/* of the server's syscache entry */
	uint32		mapping_hashvalue;	/* of the user mapping's */
	bool		invalidated;	/* options changed: rebuild before next use */
};

static HTAB *connection_cache = NULL;

static void
release_connection(CpConnection *entry)
{
	int			i;

	for (i = 0; i < CP_MAX_CONCURRENCY; i++)
	{
		if (entry->easy[i] == NULL)
			continue;
		if (entry->multi)
			curl_multi_remove_handle(entry->multi, entry->easy[i]);
		curl_easy_cleanup(entry->easy[i]);
		entry->easy[i] = NULL;
	}
	if (entry->multi)
		curl_multi_cleanup(entry->multi);
	entry->multi = NULL;
	/* last: curl refuses to free a share that an easy handle still uses */
	if (entry->share)
		curl_share_cleanup(entry->share);
	entry->share = NULL;
}

/*
 * The share handle of an entry.  No lock functions: a backend has one
 * thread, and curl needs them only when handles run in several at once.
 */
static CURLSH *
make_share(void)
{
	CURLSH	   *share = curl_share_init();

	if (share == NULL ||
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK ||
		curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK)
	{
		if (share)
			curl_share_cleanup(share);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a curl share handle")));
	}
	return share;
}

/*
 * The server or a user mapping changed: mark the entries that depend on it.
 * They are rebuilt at their next use, never while a request is in flight.
 */
static void
invalidation_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	CpConnection *entry;

	hash_seq_init(&scan, connection_cache);
	while ((entry = (CpConnection *) hash_seq_search(&scan)))
	{
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && entry->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID && entry->mapping_hashvalue == hashvalue))
			entry->invalidated = true;
	}
}

static void
init_cache(void)
{
	HASHCTL		ctl;

	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not initialize libcurl")));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(CpConnection);
	connection_cache = hash_create("checkpoint_perms connections", 8, &ctl,
								   HASH_ELEM | HASH_BLOBS);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, invalidation_callback, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, invalidation_callback, (Datum) 0);
}

/*
 * The cached connection of the options' user mapping, made if needed.  Its
 * requests run one batch at a time (http.c): a connection whose requests
 * are in flight is never rebuilt or lent to a second batch, which would
 * drive the first one's transfers and read their results.
 */
CpConnection *
cp_get_connection(const CpOptions *opts)
{
	CpConnection *entry;
	bool		found;

	if (connection_cache == NULL)
		init_cache();

	entry = hash_search(connection_cache, &opts->umid, HASH_ENTER, &found);
	if (!found)
	{
		memset(entry->easy, 0, sizeof(entry->easy));
		entry->multi = NULL;
		entry->share = NULL;
		entry->size = 0;
		entry->cap = 0;
		entry->busy = false;
		entry->invalidated = false;
	}
	if (entry->busy)
		elog(ERROR, "checkpoint_perms: a connection was asked for while its requests are in flight");
	if (entry->invalidated)
	{
		release_connection(entry);
		entry->invalidated = false;
	}
	if (entry->multi == NULL)
	{
		if (entry->share == NULL)
			entry->share = make_share();
		entry->multi = curl_multi_init();
		if (entry->multi == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a curl handle")));
		entry->size = opts->max_concurrency;
		entry->cap = entry->size;

		/*
		 * Keep as many idle connections as requests may be in flight (curl
		 * would keep four per easy handle added at the time, which shrinks
		 * as the handles leave), and never open more to the API.  HTTP/2
		 * multiplexing is curl's default; said here because it matters (and
		 * http.c sets CURLOPT_PIPEWAIT so that the first requests of a batch
		 * wait for it rather than each open a connection).
		 */
		curl_multi_setopt(entry->multi, CURLMOPT_MAXCONNECTS, (long) entry->size);
		curl_multi_setopt(entry->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long) entry->size);
		curl_multi_setopt(entry->multi, CURLMOPT_PIPELINING, (long) CURLPIPE_MULTIPLEX);
		entry->server_hashvalue =
			GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(opts->serverid));
		entry->mapping_hashvalue =
			GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(opts->umid));
	}
	return entry;
}

/* Easy handles a connection has: its max_concurrency. */
int
cp_connection_size(CpConnection *conn)
{
	return conn->size;
}

/* Easy handle i (0 <= i < size) of a connection, made on first use. */
void *
cp_connection_curl(CpConnection *conn, int i)
{
	Assert(i >= 0 && i < conn->size);
	if (conn->easy[i] == NULL)
	{
		conn->easy[i] = curl_easy_init();
		if (conn->easy[i] == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a curl handle")));
	}
	return conn->easy[i];
}

/*
 * How many requests a batch may have in flight at first: as many as the
 * batch before ended with, after the API's 429s had their say (http.c).
 */
int
cp_connection_cap(CpConnection *conn)
{
	return conn->cap;
}

void
cp_connection_set_cap(CpConnection *conn, int cap)
{
	conn->cap = Max(1, Min(cap, conn->size));
}

/* Mark a connection's requests in flight, or no longer. */
void
cp_connection_set_busy(CpConnection *conn, bool busy)
{
	conn->busy = busy;
}

void *
cp_connection_multi(CpConnection *conn)
{
	return conn->multi;
}

/* The share handle every easy handle of a connection must be set to use. */
void *
cp_connection_share(CpConnection *conn)
{
	return conn->share;
}

PG_FUNCTION_INFO_V1(checkpoint_perms_disconnect);

/*
 * checkpoint_perms_disconnect() returns boolean: close every cached
 * connection of this backend; true if there was any.
 */
Datum
checkpoint_perms_disconnect(PG_FUNCTION_ARGS)
{
	HASH_SEQ_STATUS scan;
	CpConnection *entry;
	bool		any = false;

	if (connection_cache == NULL)
		PG_RETURN_BOOL(false);
	hash_seq_init(&scan, connection_cache);
	while ((entry = (CpConnection *) hash_seq_search(&scan)))
	{
		/* called from SQL: no batch of requests can be running */
		if (entry->multi)
			any = true;
		release_connection(entry);
		hash_search(connection_cache, &entry->umid, HASH_REMOVE, NULL);
	}
	PG_RETURN_BOOL(any);
}
