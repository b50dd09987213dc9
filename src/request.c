/*-------------------------------------------------------------------------
 *
 * request.c
 *		  Build the requests of the API: percent-encoded paths, list queries
 *		  and create bodies.
 *
 * Checkpoint and permission ids are data, not URL syntax: every byte but
 * the unreserved ones (and ':' in a checkpoint id, which the API's own ids
 * contain) is percent-encoded, and a "." or ".." segment is encoded whole,
 * so that no id can change the path it is sent to.  What an id can be is
 * ids.c's to say.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/json.h"

#include "api.h"

#define CP_PERMISSIONS_PREFIX "/fine_tuning/checkpoints/"

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
