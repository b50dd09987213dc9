/*-------------------------------------------------------------------------
 *
 * request.c
 *		  Build the requests of the API: percent-encoded paths, list queries
 *		  and create bodies.
 *
 * Checkpoint and permission ids are data, not URL syntax: every byte but
 * the unreserved ones (and ':' in a checkpoint id, which the API's own ids
 * contain) is percent-encoded, and a "." or ".." segment is encoded whole,
 * so that no id can change the path it is sent to.
 *
 * What an id can be is decided here too (cp_id_possible): an id being
 * written that cannot be one is refused before any request is built
 * (cp_check_sql_id), and values that messages repeat are cut to a
 * readable length (cp_shorten).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/json.h"

#include "api.h"

#define CP_PERMISSIONS_PREFIX "/fine_tuning/checkpoints/"

/*
 * Is value fit to reach a header line, a URL or a JSON body: at most maxlen
 * bytes, no control character (CR and LF would end a header line; NUL
 * would cut it), no white space at either end?  Sets *byte to the 1-based
 * offset of a control character.
 */
CpValueProblem
cp_value_problem(const char *value, size_t maxlen, int *byte)
{
	size_t		len = strlen(value);
	const unsigned char *p;

	*byte = 0;
	if (len > maxlen)
		return CP_VALUE_TOO_LONG;
	for (p = (const unsigned char *) value; *p; p++)
		if (*p < 0x20 || *p == 0x7F)
		{
			*byte = (int) (p - (const unsigned char *) value) + 1;
			return CP_VALUE_CONTROL;
		}
	if (len > 0 && (value[0] == ' ' || value[len - 1] == ' '))
		return CP_VALUE_SPACE;
	return CP_VALUE_OK;
}

/* A sentence for an errdetail; it never repeats the value itself. */
char *
cp_value_problem_detail(CpValueProblem problem, const char *value, size_t maxlen, int byte)
{
	switch (problem)
	{
		case CP_VALUE_TOO_LONG:
			return psprintf("It has %zu bytes; at most %zu are accepted.", strlen(value), maxlen);
		case CP_VALUE_CONTROL:
			return psprintf("Byte %d is the control character 0x%02X; no character below 0x20, nor 0x7F, is accepted.",
							byte, (unsigned char) value[byte - 1]);
		case CP_VALUE_SPACE:
			return pstrdup("It begins or ends with a space.");
		case CP_VALUE_OK:
			break;
	}
	return pstrdup("");
}

const char *
cp_id_name(CpIdKind kind)
{
	switch (kind)
	{
		case CP_ID_CHECKPOINT:
			return "checkpoint id";
		case CP_ID_PROJECT:
			return "project id";
		case CP_ID_PERMISSION:
			return "permission id";
	}
	return "id";
}

size_t
cp_id_max_len(CpIdKind kind)
{
	switch (kind)
	{
		case CP_ID_CHECKPOINT:
			return CP_MAX_CHECKPOINT_LEN;
		case CP_ID_PROJECT:
			return CP_MAX_PROJECT_ID_LEN;
		case CP_ID_PERMISSION:
			return CP_MAX_PERMISSION_ID_LEN;
	}
	return 0;
}

/*
 * Could the API have an id like this?  Not when it is empty, too long,
 * holds a control character or white space at either end: reply.c refuses
 * such an id from the API.  The one rule for ids: a value being written
 * that fails it is an error (cp_check_sql_id), a value in a condition
 * matches nothing (plan.c, cp_condition_values).
 */
bool
cp_id_possible(CpIdKind kind, const char *value)
{
	int			byte;

	return value[0] != '\0' &&
		cp_value_problem(value, cp_id_max_len(kind), &byte) == CP_VALUE_OK;
}

/*
 * Check an id that comes from SQL (a project id to grant or to filter on, a
 * permission id to revoke) before it reaches any request.  No id of the API
 * looks like this, so it is the caller's mistake, not something to send.
 * The value is not repeated: it may be long, or hold a line break.
 * progress ends the detail: what the statement already did, or "".
 */
void
cp_check_sql_id(CpIdKind kind, const char *value, const char *progress)
{
	size_t		maxlen = cp_id_max_len(kind);
	int			byte;
	CpValueProblem problem = cp_value_problem(value, maxlen, &byte);

	if (problem == CP_VALUE_OK)
		return;
	ereport(ERROR,
			(errcode(problem == CP_VALUE_TOO_LONG ?
					 ERRCODE_STRING_DATA_RIGHT_TRUNCATION : ERRCODE_INVALID_PARAMETER_VALUE),
			 problem == CP_VALUE_TOO_LONG ?
			 errmsg("%s is too long", cp_id_name(kind)) :
			 problem == CP_VALUE_CONTROL ?
			 errmsg("%s contains a control character", cp_id_name(kind)) :
			 errmsg("%s begins or ends with white space", cp_id_name(kind)),
			 errdetail("%s The id was not sent.%s",
					   cp_value_problem_detail(problem, value, maxlen, byte), progress)));
}

/*
 * A value for a message: cut to CP_MESSAGE_VALUE_LEN bytes (on a character
 * boundary) and "..." when longer, so that a 100,000-byte id does not fill
 * the client's screen and the server log.
 */
char *
cp_shorten(const char *value)
{
	int			len = strlen(value);
	int			cut;

	if (len <= CP_MESSAGE_VALUE_LEN)
		return pstrdup(value);
	cut = pg_mbcliplen(value, len, CP_MESSAGE_VALUE_LEN);
	return psprintf("%.*s...", cut, value);
}

/* Text to send, as UTF-8 whatever the database encoding. */
static const char *
utf8_string(const char *str)
{
	return pg_server_to_any(str, strlen(str), PG_UTF8);
}

/* Append str percent-encoded; keep_colon leaves ':' as it is. */
static void
append_encoded(StringInfo buf, const char *str, bool keep_colon)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *) utf8_string(str);

	/* "." and ".." would be path syntax even with the rest encoded */
	if (strcmp((const char *) p, ".") == 0 || strcmp((const char *) p, "..") == 0)
	{
		for (; *p; p++)
			appendStringInfoString(buf, "%2E");
		return;
	}
	for (; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
			*p == '.' || *p == '~' || (keep_colon && *p == ':'))
			appendStringInfoChar(buf, (char) *p);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[*p >> 4]);
			appendStringInfoChar(buf, hex[*p & 0x0F]);
		}
	}
}

/* /fine_tuning/checkpoints/{checkpoint}/permissions */
char *
cp_permissions_path(const char *checkpoint)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, CP_PERMISSIONS_PREFIX);
	append_encoded(&buf, checkpoint, true);
	appendStringInfoString(&buf, "/permissions");
	return buf.data;
}

/*
 * The same path with a {placeholder} for a checkpoint known only at run
 * time, as EXPLAIN shows it: the placeholder goes in as it is.
 */
char *
cp_permissions_path_placeholder(const char *placeholder)
{
	return psprintf("%s%s/permissions", CP_PERMISSIONS_PREFIX, placeholder);
}

/* /fine_tuning/checkpoints/{checkpoint}/permissions/{permission_id} */
char *
cp_permission_path(const char *checkpoint, const char *permission_id)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, cp_permissions_path(checkpoint));
	appendStringInfoChar(&buf, '/');
	append_encoded(&buf, permission_id, false);
	return buf.data;
}

/*
 * The request for one page: base is cp_permissions_path() with the list's
 * fixed query (project_id, order) already added; then the page's limit
 * and cursor.
 */
char *
cp_list_page_path(const char *base, int limit, const char *after)
{
	StringInfoData buf;
	char		number[16];

	initStringInfo(&buf);
	appendStringInfoString(&buf, base);
	snprintf(number, sizeof(number), "%d", limit);
	cp_append_query(&buf, "limit", number);
	if (after)
		cp_append_query(&buf, "after", after);
	return buf.data;
}

/* Append "&name=value" (or "?name=value" first) with the value encoded. */
void
cp_append_query(StringInfo buf, const char *name, const char *value)
{
	appendStringInfo(buf, "%c%s=", strchr(buf->data, '?') ? '&' : '?', name);
	append_encoded(buf, value, false);
}

static void
append_order(StringInfo buf, CpOrder order)
{
	if (order != CP_ORDER_NONE)
		cp_append_query(buf, "order", order == CP_ORDER_ASC ? "ascending" : "descending");
}

/*
 * The list path with its fixed query, for one project (or NULL: all).
 * EXPLAIN passes a {placeholder} for a value known only at run time (the
 * checkpoint, the project: placeholders says which), which goes into the
 * path as it is.
 */
char *
cp_list_base_path(const char *checkpoint, const char *project_id, int placeholders,
				  CpOrder order)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, (placeholders & CP_PLACEHOLDER_CHECKPOINT) ?
						   cp_permissions_path_placeholder(checkpoint) :
						   cp_permissions_path(checkpoint));
	if (project_id && (placeholders & CP_PLACEHOLDER_PROJECT))
		appendStringInfo(&buf, "?project_id=%s", project_id);
	else if (project_id)
		cp_append_query(&buf, "project_id", project_id);
	append_order(&buf, order);
	return buf.data;
}

/* {"project_ids": [...]}: the only key the API accepts. */
char *
cp_create_body(char **project_ids, int n)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"project_ids\":[");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoChar(&buf, ',');
		escape_json(&buf, utf8_string(project_ids[i]));
	}
	appendStringInfoString(&buf, "]}");
	return buf.data;
}
