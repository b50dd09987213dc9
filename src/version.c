/*-------------------------------------------------------------------------
 *
 * version.c
 *		  checkpoint_perms_version(): what is running, for bug reports; and
 *		  the result plumbing the extension's set-returning functions share.
 *
 * The extension's SQL version (pg_extension.extversion) says which SQL
 * objects a database has; this function says which shared library the
 * server loaded, the libcurl and cJSON it runs with (the ones the dynamic
 * linker found, which may be newer than the ones it was built with), and
 * the PostgreSQL it was built for.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <cjson/cJSON.h>

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "checkpoint_perms.h"

PG_FUNCTION_INFO_V1(checkpoint_perms_version);

/*
 * checkpoint_perms_version() returns text such as
 * "checkpoint_perms 1.1 (libcurl 7.88.1 with OpenSSL/3.0.17, cJSON 1.7.15,
 * built for PostgreSQL 15.13)".
 */
Datum
checkpoint_perms_version(PG_FUNCTION_ARGS)
{
	curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
	const char *tls = curl->ssl_version ? curl->ssl_version : "no TLS";

	PG_RETURN_TEXT_P(cstring_to_text(psprintf("checkpoint_perms %s (libcurl %s with %s, cJSON %s, built for PostgreSQL %d.%d)",
											  CHECKPOINT_PERMS_VERSION,
											  curl->version, tls, cJSON_Version(),
											  PG_VERSION_NUM / 10000,
											  PG_VERSION_NUM % 100)));
}

/*
 * The tuplestore a set-returning SQL function fills (in the query's
 * memory, as the executor reads it after the call), with the descriptor
 * of its rows in *tupdesc.
 */
Tuplestorestate *
cp_materialize_result(FunctionCallInfo fcinfo, TupleDesc *tupdesc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Tuplestorestate *store;
	MemoryContext oldcxt;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		!(rsinfo->allowedModes & SFRM_Materialize))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	if (get_call_result_type(fcinfo, NULL, tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("return type must be a row type")));

	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	*tupdesc = CreateTupleDescCopy(*tupdesc);
	store = tuplestore_begin_heap(rsinfo->allowedModes & SFRM_Materialize_Random,
								  false, work_mem);
	MemoryContextSwitchTo(oldcxt);

	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = *tupdesc;
	return store;
}
