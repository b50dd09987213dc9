/*-------------------------------------------------------------------------
 *
 * reply.c
 *		  Read the API's replies: list pages and delete confirmations into C
 *		  structs, and error replies into PostgreSQL errors.
 *
 * Nothing from the network is trusted: a reply that is not JSON, has wrong
 * types or misses a required field is an error that names what was wrong.
 * cJSON allocates with malloc, so every parsed tree is freed in PG_FINALLY
 * and only palloc'd copies leave this file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "mb/pg_wchar.h"

#include "api.h"

/* Latest created_at accepted: 9999-12-31 23:59:59 UTC. */
#define CP_MAX_UNIX_SECONDS INT64CONST(253402300799)

/* Longest API error message repeated in a detail. */
#define CP_API_MESSAGE_LEN 500

/* Longest piece of an unexpected body quoted in an error. */
#define CP_BODY_EXCERPT 200

/*
 * Replace every occurrence of the API key in a string from the network:
 * an API that echoes a key back must not put it into our error messages.
 */
char *
cp_mask_key(const CpOptions *opts, const char *str)
{
	StringInfoData buf;
	const char *key = opts->api_key;
	size_t		keylen = key ? strlen(key) : 0;
	const char *p = str;
	const char *hit;

	if (keylen == 0)
		return pstrdup(str);
	initStringInfo(&buf);
	while ((hit = strstr(p, key)) != NULL)
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		appendStringInfoString(&buf, "[api_key]");
		p = hit + keylen;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

CP_NORETURN static void report_malformed(const char *problem);

static void
report_malformed(const char *problem)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("malformed reply from the OpenAI API"),
			 errdetail("%s", problem)));
}

/*
 * A string field of a reply, as a palloc'd string in the database encoding.
 * Invalid UTF-8 is a malformed reply, not an encoding error of ours.
 */
static char *
network_string(const char *utf8, const char *where)
{
	int			len = strlen(utf8);
	char	   *converted;

	if (!pg_verify_mbstr(PG_UTF8, utf8, len, true))
		report_malformed(psprintf("Field \"%s\" is not valid UTF-8.", where));
	converted = pg_any_to_server(utf8, len, PG_UTF8);
	return converted == utf8 ? pstrdup(utf8) : converted;
}

/*
 * Text of an error reply, for a message: it must never fail (the HTTP error
 * is what the user needs to see), so bytes that are not printable ASCII
 * become "?" unless the text is valid UTF-8 in a UTF-8 database; control
 * characters always do.
 */
static char *
display_string(const char *utf8)
{
	char	   *copy = pstrdup(utf8);
	bool		keep_utf8 = GetDatabaseEncoding() == PG_UTF8 &&
		pg_verify_mbstr(PG_UTF8, copy, strlen(copy), true);
	unsigned char *c;

	for (c = (unsigned char *) copy; *c; c++)
		if (*c < 0x20 || *c == 0x7F || (*c >= 0x80 && !keep_utf8))
			*c = '?';
	return copy;
}

/*
 * What the API said, for a detail: the key masked first (a cut could
 * otherwise leave part of it), then cut to maxlen bytes.
 */
static char *
api_text(const CpOptions *opts, const char *text, int maxlen)
{
	char	   *masked = cp_mask_key(opts, text);
	int			len = strlen(masked);

	if (len <= maxlen)
		return masked;
	return psprintf("%.*s...", pg_mbcliplen(masked, len, maxlen), masked);
}

/*
 * Does a JSON text hold the escape \u0000 inside a string?  cJSON turns it
 * into a NUL byte, which would silently cut an id short.
 */
static bool
has_nul_escape(const char *json, size_t len)
{
	bool		in_string = false;
	size_t		i;

	for (i = 0; i < len; i++)
	{
		if (!in_string)
		{
			if (json[i] == '"')
				in_string = true;
			continue;
		}
		if (json[i] == '"')
			in_string = false;
		else if (json[i] == '\\')
		{
			if (i + 5 < len && json[i + 1] == 'u' && strncmp(json + i + 2, "0000", 4) == 0)
				return true;
			i++;				/* the escaped character */
		}
	}
	return false;
}

/*
 * The start of a body, masked and made printable, for an error detail.
 * The key is masked before the cut, so that a key across the cut does not
 * leave its first bytes behind.
 */
static char *
body_excerpt(const CpOptions *opts, const CpResponse *resp)
{
	size_t		keylen = opts->api_key ? strlen(opts->api_key) : 0;
	char	   *masked = cp_mask_key(opts, pnstrdup(resp->body,
												 Min(resp->len, CP_BODY_EXCERPT + keylen)));
	char	   *excerpt = pnstrdup(masked, CP_BODY_EXCERPT);
	char	   *c;

	for (c = excerpt; *c; c++)
		if ((unsigned char) *c < 0x20 || (unsigned char) *c >= 0x7f)
			*c = '?';
	return excerpt;
}

static bool
has_json_content_type(const CpResponse *resp)
{
	return pg_strncasecmp(resp->content_type, "application/json", 16) == 0 &&
		(resp->content_type[16] == '\0' || resp->content_type[16] == ';' ||
		 resp->content_type[16] == ' ');
}

/* Parse a 2xx body; the caller must cJSON_Delete the result. */
static cJSON *
parse_json_body(const CpOptions *opts, const CpResponse *resp)
{
	cJSON	   *root;

	if (resp->len == 0)
		report_malformed(psprintf("The API answered HTTP %ld with no body; a JSON object was expected.",
								  resp->status));
	if (!has_json_content_type(resp))
		report_malformed(psprintf("The reply has content type \"%s\", not application/json; it begins \"%s\".",
								  resp->content_type, body_excerpt(opts, resp)));
	root = cJSON_ParseWithLength(resp->body, resp->len);
	if (root == NULL)
	{
		const char *at = cJSON_GetErrorPtr();
		size_t		offset = (at && at >= resp->body && at <= resp->body + resp->len) ?
			(size_t) (at - resp->body) : 0;

		report_malformed(psprintf("The reply is not valid JSON (%zu bytes, error at byte %zu).",
								  resp->len, offset));
	}
	if (has_nul_escape(resp->body, resp->len))
	{
		cJSON_Delete(root);
		report_malformed("A string in the reply holds the character \\u0000.");
	}
	return root;
}

static const char *
json_type_name(const cJSON *item)
{
	if (item == NULL)
		return "missing";
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsBool(item))
		return "a boolean";
	if (cJSON_IsNull(item))
		return "null";
	if (cJSON_IsArray(item))
		return "an array";
	if (cJSON_IsObject(item))
		return "an object";
	return "invalid";
}

static void
report_wrong_type(const char *where, const cJSON *item, const char *expected)
{
	report_malformed(psprintf("Field \"%s\" is %s; expected %s.",
							  where, json_type_name(item), expected));
}

static char *
required_string(const cJSON *obj, const char *name, const char *where, bool nonempty)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsString(item))
		report_wrong_type(where, item, "a string");
	if (nonempty && item->valuestring[0] == '\0')
		report_malformed(psprintf("Field \"%s\" is empty.", where));
	return network_string(item->valuestring, where);
}

/*
 * A short string from the API must pass the checks a value from SQL
 * passes: it will reach a URL, a message or a column.
 */
static void
check_api_string(const char *value, const char *where, size_t maxlen)
{
	int			byte;
	CpValueProblem problem = cp_value_problem(value, maxlen, &byte);

	if (problem != CP_VALUE_OK)
		report_malformed(psprintf("Field \"%s\" is not a valid id. %s", where,
								  cp_value_problem_detail(problem, value, maxlen, byte)));
}

/* An id from the API must be one an id can be (ids.c, cp_id_possible). */
static void
check_api_id(CpIdKind kind, const char *value, const char *where)
{
	if (cp_id_possible(kind, value))
		return;
	if (value[0] == '\0')
		report_malformed(psprintf("Field \"%s\" is empty.", where));
	check_api_string(value, where, cp_id_max_len(kind));
}

/* A string-or-null field such as last_id; NULL when absent, null or "". */
static char *
optional_string(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (item == NULL || cJSON_IsNull(item))
		return NULL;
	if (!cJSON_IsString(item))
		report_wrong_type(name, item, "a string or null");
	if (item->valuestring[0] == '\0')
		return NULL;
	return network_string(item->valuestring, name);
}

static void
read_permission(const cJSON *item, int index, CpPermission *perm)
{
	char		where[64];
	const cJSON *created;
	double		seconds;

	snprintf(where, sizeof(where), "data[%d]", index);
	if (!cJSON_IsObject(item))
		report_wrong_type(where, item, "an object");

	snprintf(where, sizeof(where), "data[%d].id", index);
	perm->id = required_string(item, "id", where, true);
	check_api_id(CP_ID_PERMISSION, perm->id, where);
	snprintf(where, sizeof(where), "data[%d].project_id", index);
	perm->project_id = required_string(item, "project_id", where, true);
	check_api_id(CP_ID_PROJECT, perm->project_id, where);
	snprintf(where, sizeof(where), "data[%d].object", index);
	perm->object = required_string(item, "object", where, false);
	check_api_string(perm->object, where, CP_MESSAGE_VALUE_LEN);

	snprintf(where, sizeof(where), "data[%d].created_at", index);
	created = cJSON_GetObjectItemCaseSensitive(item, "created_at");
	if (!cJSON_IsNumber(created))
		report_wrong_type(where, created, "an integer (Unix seconds)");
	seconds = created->valuedouble;
	if (seconds != floor(seconds) || seconds < 0 || seconds > (double) CP_MAX_UNIX_SECONDS)
		report_malformed(psprintf("Field \"%s\" is %g; expected Unix seconds from 0 to " INT64_FORMAT ".",
								  where, seconds, CP_MAX_UNIX_SECONDS));
	perm->created_at = (int64) seconds;
}

/*
 * Read a list envelope {object, data, first_id, last_id, has_more} into a
 * page allocated in CurrentMemoryContext.
 */
void
cp_parse_page(const CpOptions *opts, const CpResponse *resp, CpPage *page)
{
	cJSON	   *root = parse_json_body(opts, resp);

	PG_TRY();
	{
		const cJSON *data;
		const cJSON *has_more;
		const cJSON *item;
		char	   *object;
		int			i = 0;

		if (!cJSON_IsObject(root))
			report_wrong_type("(the reply)", root, "an object");
		object = required_string(root, "object", "object", true);
		if (strcmp(object, "list") != 0)
			report_malformed(psprintf("Field \"object\" is \"%s\"; expected \"list\".",
									  cp_shorten(display_string(object))));
		data = cJSON_GetObjectItemCaseSensitive(root, "data");
		if (!cJSON_IsArray(data))
			report_wrong_type("data", data, "an array");
		has_more = cJSON_GetObjectItemCaseSensitive(root, "has_more");
		if (!cJSON_IsBool(has_more))
			report_wrong_type("has_more", has_more, "a boolean");

		page->nitems = cJSON_GetArraySize(data);
		page->items = palloc0(sizeof(CpPermission) * Max(page->nitems, 1));
		cJSON_ArrayForEach(item, data)
		{
			read_permission(item, i, &page->items[i]);
			i++;
		}
		page->has_more = cJSON_IsTrue(has_more);
		page->last_id = optional_string(root, "last_id");
		if (page->last_id)
			check_api_id(CP_ID_PERMISSION, page->last_id, "last_id");
	}
	PG_FINALLY();
	{
		cJSON_Delete(root);
	}
	PG_END_TRY();
}

/*
 * A list asked for in one order (descending: newest first) returned perm
 * after a row created at last_t.  Only its reader can tell (the row before
 * may be on the page before), so the reader checks and this says it, in the
 * words of the other malformed replies.  Reading a list from both ends
 * relies on its order (scan.c, snapshot_read.c).
 */
void
cp_report_out_of_order(const CpPermission *perm, int64 last_t, bool descending)
{
	report_malformed(psprintf("A list in order %s returned permission \"%s\" created at %lld after one created at %lld.",
							  descending ? "descending" : "ascending", cp_shorten(perm->id),
							  (long long) perm->created_at, (long long) last_t));
}

/*
 * Read a delete reply {id, object, deleted}.  Returns the "deleted" flag;
 * an id other than the one revoked is an error.
 */
bool
cp_parse_deleted(const CpOptions *opts, const CpResponse *resp,
				 const char *permission_id)
{
	cJSON	   *root = parse_json_body(opts, resp);
	bool		deleted = false;

	PG_TRY();
	{
		const cJSON *flag;
		char	   *id;

		if (!cJSON_IsObject(root))
			report_wrong_type("(the reply)", root, "an object");
		id = required_string(root, "id", "id", true);
		check_api_id(CP_ID_PERMISSION, id, "id");
		if (strcmp(id, permission_id) != 0)
			report_malformed(psprintf("The reply confirms permission \"%s\", not \"%s\".",
									  cp_shorten(id), cp_shorten(permission_id)));
		flag = cJSON_GetObjectItemCaseSensitive(root, "deleted");
		if (!cJSON_IsBool(flag))
			report_wrong_type("deleted", flag, "a boolean");
		deleted = cJSON_IsTrue(flag);
	}
	PG_FINALLY();
	{
		cJSON_Delete(root);
	}
	PG_END_TRY();
	return deleted;
}

/* The fields of an error envelope {"error": {message, type, param, code}}. */
typedef struct CpApiError
{
	char	   *message;
	char	   *type;
	char	   *code;
	char	   *param;
} CpApiError;

static char *
error_field(const cJSON *error, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(error, name);

	if (cJSON_IsString(item) && item->valuestring[0] != '\0')
		return display_string(item->valuestring);
	return NULL;
}

/* Read an error envelope if the body is one; leave fields NULL if not. */
static void
read_api_error(const CpResponse *resp, CpApiError *err)
{
	cJSON	   *root;

	memset(err, 0, sizeof(*err));
	if (resp->len == 0)
		return;
	root = cJSON_ParseWithLength(resp->body, resp->len);
	if (root == NULL)
		return;
	PG_TRY();
	{
		const cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");

		if (cJSON_IsObject(error))
		{
			err->message = error_field(error, "message");
			err->type = error_field(error, "type");
			err->code = error_field(error, "code");
			err->param = error_field(error, "param");
		}
	}
	PG_FINALLY();
	{
		cJSON_Delete(root);
	}
	PG_END_TRY();
}

/*
 * The detail of an error reply: the status, what the API said (type, code,
 * param, message; or where a redirect leads; or the start of a body that is
 * no error envelope), its request id and the retries.
 */
static char *
http_error_detail(const CpOptions *opts, const CpResponse *resp)
{
	CpApiError	err;
	StringInfoData detail;
	long		status = resp->status;

	read_api_error(resp, &err);
	initStringInfo(&detail);
	appendStringInfo(&detail, "HTTP %ld", status);
	if (err.type || err.code || err.param)
	{
		appendStringInfoString(&detail, " (");
		if (err.type)
			appendStringInfo(&detail, "type %s", api_text(opts, err.type, CP_MESSAGE_VALUE_LEN));
		if (err.code)
			appendStringInfo(&detail, "%scode %s", err.type ? ", " : "",
							 api_text(opts, err.code, CP_MESSAGE_VALUE_LEN));
		if (err.param)
			appendStringInfo(&detail, "%sparam %s", (err.type || err.code) ? ", " : "",
							 api_text(opts, err.param, CP_MESSAGE_VALUE_LEN));
		appendStringInfoChar(&detail, ')');
	}
	if (err.message)
		appendStringInfo(&detail, ": %s", api_text(opts, err.message, CP_API_MESSAGE_LEN));
	else if (status >= 300 && status < 400 && resp->location[0])
	{
		/* name the host only: the rest of a Location may carry tokens */
		const char *host = strstr(resp->location, "://");
		size_t		len;

		host = host ? host + 3 : resp->location;
		len = strcspn(host, "/?#");
		appendStringInfo(&detail, " redirecting to host \"%.*s\"", (int) len, host);
	}
	else if (resp->len > 0)
		appendStringInfo(&detail, ", body begins \"%s\"", body_excerpt(opts, resp));
	if (detail.data[detail.len - 1] != '.')
		appendStringInfoChar(&detail, '.');
	if (resp->request_id[0])
		appendStringInfo(&detail, " Request id: %s.", resp->request_id);
	if (resp->retries > 0)
		appendStringInfo(&detail, " Retried %d %s.", resp->retries,
						 resp->retries == 1 ? "time" : "times");
	return detail.data;
}

/*
 * The hint of a 401 or 403: which role's user mapping sent the key, since
 * through a view or a SECURITY DEFINER function it is not the session's.
 */
static int
mapping_hint(const CpOptions *opts, const char *what)
{
	if (opts->rolename == NULL)
		return errhint("%s option \"api_key\" of the user mapping for server \"%s\".",
					   what, opts->servername);
	if (opts->public_mapping)
		return errhint("%s option \"api_key\" of the PUBLIC user mapping for server \"%s\" (used for role \"%s\").",
					   what, opts->servername, opts->rolename);
	return errhint("%s option \"api_key\" of the user mapping of role \"%s\" for server \"%s\".",
				   what, opts->rolename, opts->servername);
}

/*
 * Is resp the API refusing query parameter param (400, the error
 * envelope's "param")?  How a list learns that its cursor ("after") was
 * refused, which the caller may know how to get past (scan.c).
 */
bool
cp_reply_refuses_param(const CpResponse *resp, const char *param)
{
	CpApiError	err;

	if (resp->status != 400)
		return false;
	read_api_error(resp, &err);
	return err.param != NULL && strcmp(err.param, param) == 0;
}

/*
 * The error of a 400 reply, with a hint from the caller, who knows what
 * the request was for (a list cursor that could not be resumed).
 */
void
cp_report_bad_request(const CpOptions *opts, const CpRequest *req, const CpResponse *resp,
					  const char *hint)
{
	Assert(resp->status == 400);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("OpenAI API rejected the request"),
			 errdetail("%s%s", http_error_detail(opts, resp), req->progress ? req->progress : ""),
			 errhint("%s", hint)));
}

/*
 * Turn a non-2xx reply into an error.  The SQLSTATE follows the status,
 * as the README's table publishes; the detail carries what the API said.
 * What the request may have done is the effects layer's to add (grant.c,
 * revocation.c).  One ereport per status, so that each message is a
 * literal to translate.
 */
void
cp_report_http_error(const CpOptions *opts, const CpRequest *req, const CpResponse *resp)
{
	long		status = resp->status;
	char	   *detail = psprintf("%s%s", http_error_detail(opts, resp),
								  req->progress ? req->progress : "");

	if (status == 400 || status == 422)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("OpenAI API rejected the request"),
				 errdetail("%s", detail)));
	if (status == 401)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("OpenAI API rejected the API key"),
				 errdetail("%s", detail),
				 mapping_hint(opts, "Check")));
	if (status == 403)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("OpenAI API denied access"),
				 errdetail("%s", detail),
				 mapping_hint(opts, "Checkpoint permissions need an organization admin key: check")));
	if (status == 404)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
				 errmsg("checkpoint \"%s\" not found",
						cp_shorten(req->checkpoint ? req->checkpoint : opts->checkpoint)),
				 errdetail("%s", detail),
				 opts->spans ?
				 errhint("Check the checkpoint the query names, and option \"base_url\" of server \"%s\".",
						 opts->servername) :
				 errhint("Check option \"checkpoint\" of the foreign table and option \"base_url\" of server \"%s\".",
						 opts->servername)));
	if (status == 409)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("OpenAI API reported a conflict"),
				 errdetail("%s", detail)));
	if (status == 429)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("OpenAI API rate limit exceeded"),
				 errdetail("%s", detail),
				 errhint("Try again later; option \"max_retries\" of server \"%s\" is %d.",
						 opts->servername, opts->max_retries)));
	if (status >= 500)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("OpenAI API server error"),
				 errdetail("%s", detail)));
	if (status >= 300 && status < 400)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("OpenAI API answered with a redirect, which is not followed"),
				 errdetail("%s", detail),
				 errhint("Point option \"base_url\" of server \"%s\" at the final address.",
						 opts->servername)));
	ereport(ERROR,
			(errcode(ERRCODE_PROTOCOL_VIOLATION),
			 errmsg("OpenAI API answered with an unexpected status"),
			 errdetail("%s", detail)));
}
