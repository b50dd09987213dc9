/*-------------------------------------------------------------------------
 *
 * version.c
 *		  checkpoint_perms_version(): what is running, for bug reports.
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
#include "utils/builtins.h"

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
