/*-------------------------------------------------------------------------
 *
 * connection.c
 *		  The per-backend cache of curl handles, one per user mapping.
 *
 * A handle keeps its HTTP keep-alive connections and TLS sessions between
 * queries, so that a run of one-row queries does not pay a TCP and TLS
 * handshake each.  Each handle lives in its own multi handle, which owns
 * the connection pool, so that dropping an entry really closes its
 * connections.  An entry is dropped when its server or user mapping is
 * altered or dropped (syscache invalidation), and on request through
 * checkpoint_perms_disconnect().
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

#include "checkpoint_perms.h"

struct CpConnection
{
	Oid			umid;			/* hash key: the user mapping */
	CURL	   *easy;
	CURLM	   *multi;
	uint32		server_hashvalue;	/* of the server's syscache entry */
	uint32		mapping_hashvalue;	/* of the user mapping's */
	bool		invalidated;	/* options changed: rebuild before next use */
};

static HTAB *connection_cache = NULL;

static void
release_connection(CpConnection *entry)
{
	if (entry->multi && entry->easy)
		curl_multi_remove_handle(entry->multi, entry->easy);
	if (entry->easy)
		curl_easy_cleanup(entry->easy);
	if (entry->multi)
		curl_multi_cleanup(entry->multi);
	entry->easy = NULL;
	entry->multi = NULL;
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

/* The cached connection of the options' user mapping, made if needed. */
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
		entry->easy = NULL;
		entry->multi = NULL;
		entry->invalidated = false;
	}
	if (entry->invalidated)
	{
		release_connection(entry);
		entry->invalidated = false;
	}
	if (entry->easy == NULL)
	{
		entry->multi = curl_multi_init();
		entry->easy = curl_easy_init();
		if (entry->multi == NULL || entry->easy == NULL)
		{
			release_connection(entry);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a curl handle")));
		}
		entry->server_hashvalue =
			GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(opts->serverid));
		entry->mapping_hashvalue =
			GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(opts->umid));
	}
	return entry;
}

void *
cp_connection_curl(CpConnection *conn)
{
	return conn->easy;
}

void *
cp_connection_multi(CpConnection *conn)
{
	return conn->multi;
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
		if (entry->easy)
			any = true;
		release_connection(entry);
		hash_search(connection_cache, &entry->umid, HASH_REMOVE, NULL);
	}
	PG_RETURN_BOOL(any);
}
