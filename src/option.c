/*-------------------------------------------------------------------------
 *
 * option.c
 *		  The options of checkpoint_perms: where each may be set, the
 *		  validator that checks them, and their merge into CpOptions.
 *
 * One table lists every option with the catalog it belongs to and its
 * range, so that the validator, the documentation and cp_get_options
 * cannot drift apart.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/reloptions.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_foreign_table.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/varlena.h"

#include "checkpoint_perms.h"

#define CP_DEFAULT_BASE_URL "https://api.openai.com/v1"

typedef enum CpOptionKind
{
	CP_OPT_STRING,				/* any non-empty string */
	CP_OPT_URL,					/* http(s) URL, plaintext only to loopback */
	CP_OPT_PROXY,				/* http, https or socks5h proxy URL */
	CP_OPT_INT,					/* integer in [min, max] */
	CP_OPT_REAL,				/* number in [min, max] */
	CP_OPT_FIELD				/* one of the permission fields */
} CpOptionKind;

typedef struct CpOptionDef
{
	const char *name;
	Oid			context;		/* catalog of the object that takes it */
	CpOptionKind kind;
	int			min;
	int			max;
	bool		superuser_only; /* it reaches the server's files or network */
} CpOptionDef;

/* Ranges are documented in the README's option reference; keep both equal. */
static const CpOptionDef cp_option_defs[] = {
	{"base_url", ForeignServerRelationId, CP_OPT_URL, 0, 0},
	{"organization", ForeignServerRelationId, CP_OPT_STRING, 0, 0},
	{"project", ForeignServerRelationId, CP_OPT_STRING, 0, 0},
	{"ca_bundle", ForeignServerRelationId, CP_OPT_STRING, 0, 0, true},
	{"proxy", ForeignServerRelationId, CP_OPT_PROXY, 0, 0, true},
	{"page_size", ForeignServerRelationId, CP_OPT_INT, 1, 10000},
	{"max_pages", ForeignServerRelationId, CP_OPT_INT, 1, 10000000},
	{"batch_size", ForeignServerRelationId, CP_OPT_INT, 1, 1000},
	{"connect_timeout_ms", ForeignServerRelationId, CP_OPT_INT, 1, 600000},
	{"timeout_ms", ForeignServerRelationId, CP_OPT_INT, 1, 3600000},
	{"max_retries", ForeignServerRelationId, CP_OPT_INT, 0, 10},
	{"max_response_bytes", ForeignServerRelationId, CP_OPT_INT, 1024, 268435456},
	{"request_cost", ForeignServerRelationId, CP_OPT_REAL, 0, 1000000000},
	{"fdw_tuple_cost", ForeignServerRelationId, CP_OPT_REAL, 0, 1000000000},
	{"api_key", UserMappingRelationId, CP_OPT_STRING, 0, 0},
	{"checkpoint", ForeignTableRelationId, CP_OPT_STRING, 0, 0},
	{"page_size", ForeignTableRelationId, CP_OPT_INT, 1, 10000},
	{"max_pages", ForeignTableRelationId, CP_OPT_INT, 1, 10000000},
	{"batch_size", ForeignTableRelationId, CP_OPT_INT, 1, 1000},
	{"field", AttributeRelationId, CP_OPT_FIELD, 0, 0},
	{NULL, InvalidOid, CP_OPT_STRING, 0, 0, false}
};

static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignDataWrapperRelationId:
			return "a foreign-data wrapper";
		case ForeignServerRelationId:
			return "a server";
		case UserMappingRelationId:
			return "a user mapping";
		case ForeignTableRelationId:
			return "a foreign table";
		case AttributeRelationId:
			return "a foreign table column";
	}
	return "this object";
}

static const CpOptionDef *
find_option(const char *name, Oid context)
{
	const CpOptionDef *def;

	for (def = cp_option_defs; def->name; def++)
		if (def->context == context && strcmp(def->name, name) == 0)
			return def;
	return NULL;
}

/*
 * An option that exists but was given in the wrong place: say where it
 * belongs.  api_key matters most: a key in server or table options would be
 * readable by every role through pg_foreign_server or pg_foreign_table.
 */
static void
report_misplaced_option(const char *name, Oid context)
{
	const CpOptionDef *def;
	StringInfoData where;

	/* every place the option may go: page_size belongs to two */
	initStringInfo(&where);
	for (def = cp_option_defs; def->name; def++)
		if (strcmp(def->name, name) == 0)
			appendStringInfo(&where, "%s%s", where.len ? " or " : "", context_name(def->context));

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("option \"%s\" is not valid for %s", name, context_name(context)),
			 errdetail("Option \"%s\" belongs to %s.", name, where.data),
			 strcmp(name, "api_key") == 0 ?
			 errhint("Store the key with CREATE USER MAPPING ... OPTIONS (api_key '...'): only there is it hidden from other roles.") : 0));
}

/* Unknown option: name the closest valid one, as postgres_fdw does. */
static void
report_unknown_option(const char *name, Oid context)
{
	const CpOptionDef *def;
	const char *closest = NULL;
	int			best = INT_MAX;
	StringInfoData valid;

	initStringInfo(&valid);
	for (def = cp_option_defs; def->name; def++)
	{
		int			dist;

		if (def->context != context)
			continue;
		appendStringInfo(&valid, "%s%s", valid.len ? ", " : "", def->name);
		dist = varstr_levenshtein_less_equal(name, strlen(name),
											 def->name, strlen(def->name),
											 1, 1, 1, 4, true);
		if (dist < best)
		{
			best = dist;
			closest = def->name;
		}
	}

	if (closest && best <= (int) Max(2, strlen(name) / 3))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", name),
				 errhint("Perhaps you meant the option \"%s\".", closest)));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\"", name),
			 valid.len ?
			 errhint("Valid options for %s are: %s.", context_name(context), valid.data) :
			 errhint("Options go on servers, user mappings, foreign tables and their columns, not on %s.",
					 context_name(context))));
}

/* Parse an integer option; false if it is not a plain decimal integer. */
static bool
parse_int_option(const char *value, long *result)
{
	char	   *end;

	errno = 0;
	*result = strtol(value, &end, 10);
	if (end == value || errno == ERANGE)
		return false;
	while (*end == ' ')
		end++;
	return *end == '\0';
}

/*
 * Is the URL's host a loopback address?  Only then may a plaintext
 * http:// base_url be used, so that an admin key never crosses a network
 * in clear.  Expects a URL that starts with http:// or https://.
 */
static bool
is_loopback_url(const char *url)
{
	const char *host = strstr(url, "://");
	size_t		len;
	char		buf[256];

	if (host == NULL)
		return false;
	host += 3;
	if (*host == '[')
	{
		len = strcspn(host, "]");
		return len == 4 && strncmp(host, "[::1", 4) == 0;
	}
	len = strcspn(host, ":/?#");
	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (pg_strcasecmp(buf, "localhost") == 0)
		return true;
	/* 127.0.0.0/8, written as a dotted quad */
	if (strncmp(buf, "127.", 4) == 0)
	{
		int			a, b, c, d;
		char		extra;

		return sscanf(buf, "%d.%d.%d.%d%c", &a, &b, &c, &d, &extra) == 4 &&
			a == 127 && b >= 0 && b < 256 && c >= 0 && c < 256 && d >= 0 && d < 256;
	}
	return false;
}

static void
check_url_option(const char *name, const char *value)
{
	bool		https = pg_strncasecmp(value, "https://", 8) == 0;
	bool		http = pg_strncasecmp(value, "http://", 7) == 0;
	const char *host = strstr(value, "://");

	if (!http && !https)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("Only http:// and https:// URLs are accepted.")));
	host += 3;
	if (strcspn(host, "/?#") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("The URL has no host.")));
	if (strchr(host, '@') != NULL || strpbrk(host, "?# \t\r\n") != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", name),
				 errdetail("A base URL may hold no user name, password, query, fragment or white space.")));
	if (http && !is_loopback_url(value))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("plaintext http is allowed only for loopback hosts"),
				 errdetail("Option \"%s\" is \"%s\".", name, value),
				 errhint("Use https:// so that the API key is never sent in clear over a network.")));
}

static void
check_option_value(const CpOptionDef *def, const char *value)
{
	long		n;

	switch (def->kind)
	{
		case CP_OPT_STRING:
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must not be empty", def->name)));
			break;
		case CP_OPT_URL:
			check_url_option(def->name, value);
			break;
		case CP_OPT_PROXY:
			if (pg_strncasecmp(value, "http://", 7) != 0 &&
				pg_strncasecmp(value, "https://", 8) != 0 &&
				pg_strncasecmp(value, "socks5h://", 10) != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\"", def->name),
						 errdetail("A proxy is an http://, https:// or socks5h:// URL.")));
			break;
		case CP_OPT_INT:
			if (!parse_int_option(value, &n) || n < def->min || n > def->max)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"", def->name, value),
						 errdetail("It must be an integer from %d to %d.", def->min, def->max)));
			break;
		case CP_OPT_REAL:
			{
				char	   *end;
				double		d;

				errno = 0;
				d = strtod(value, &end);
				if (end == value || *end != '\0' || errno == ERANGE || isnan(d) ||
					d < def->min || d > def->max)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", def->name, value),
							 errdetail("It must be a number from %d to %d.", def->min, def->max)));
			}
			break;
		case CP_OPT_FIELD:
			{
				int			f;

				for (f = 0; f < CP_NUM_FIELDS; f++)
					if (strcmp(value, cp_field_name((CpField) f)) == 0)
						return;
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"field\": \"%s\"", value),
						 errdetail("The fields of a permission are id, created_at, project_id and object.")));
			}
			break;
	}
}

static bool
has_option(List *options, const char *name)
{
	ListCell   *lc;

	foreach(lc, options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, name) == 0)
			return true;
	return false;
}

PG_FUNCTION_INFO_V1(checkpoint_perms_validator);

/*
 * Validate the options of any object of the wrapper.  PostgreSQL passes the
 * whole resulting list, for ALTER too, so required options can be enforced.
 */
Datum
checkpoint_perms_validator(PG_FUNCTION_ARGS)
{
	List	   *options = untransformRelOptions(PG_GETARG_DATUM(0));
	Oid			context = PG_GETARG_OID(1);
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);
		const CpOptionDef *def = find_option(opt->defname, context);

		if (def == NULL)
		{
			const CpOptionDef *other;

			for (other = cp_option_defs; other->name; other++)
				if (strcmp(other->name, opt->defname) == 0)
					report_misplaced_option(opt->defname, context);
			report_unknown_option(opt->defname, context);
		}
		if (def->superuser_only && !superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only a superuser can set option \"%s\"", def->name),
					 errdetail("It decides which files or network paths the database server uses.")));
		check_option_value(def, defGetString(opt));
		if (def->kind == CP_OPT_URL && pg_strncasecmp(defGetString(opt), "http://", 7) == 0 &&
			!superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only a superuser can set a plaintext http:// base_url"),
					 errdetail("It would let the database server send requests to services on its own host."),
					 errhint("Use an https:// URL.")));
	}

	if (context == UserMappingRelationId && !has_option(options, "api_key"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a user mapping of checkpoint_perms needs option \"api_key\""),
				 errhint("Give the organization admin key: OPTIONS (api_key 'sk-admin-...').")));
	if (context == ForeignTableRelationId && !has_option(options, "checkpoint"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("a foreign table of checkpoint_perms needs option \"checkpoint\""),
				 errhint("Name the fine-tuned checkpoint: OPTIONS (checkpoint 'ft:gpt-4o-mini-2024-07-18:org:name:id').")));

	PG_RETURN_VOID();
}

/* Apply one catalog's options; values were checked by the validator. */
static void
apply_options(CpOptions *opts, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);
		const char *name = opt->defname;
		char	   *value = defGetString(opt);

		if (strcmp(name, "base_url") == 0)
		{
			size_t		len = strlen(value);

			/* "https://host/v1/" and "https://host/v1" mean the same */
			while (len > 0 && value[len - 1] == '/')
				len--;
			opts->base_url = pnstrdup(value, len);
		}
		else if (strcmp(name, "organization") == 0)
			opts->organization = value;
		else if (strcmp(name, "project") == 0)
			opts->project = value;
		else if (strcmp(name, "ca_bundle") == 0)
			opts->ca_bundle = value;
		else if (strcmp(name, "proxy") == 0)
			opts->proxy = value;
		else if (strcmp(name, "api_key") == 0)
			opts->api_key = value;
		else if (strcmp(name, "checkpoint") == 0)
			opts->checkpoint = value;
		else if (strcmp(name, "page_size") == 0)
			opts->page_size = atoi(value);
		else if (strcmp(name, "max_pages") == 0)
			opts->max_pages = atoi(value);
		else if (strcmp(name, "batch_size") == 0)
			opts->batch_size = atoi(value);
		else if (strcmp(name, "connect_timeout_ms") == 0)
			opts->connect_timeout_ms = atoi(value);
		else if (strcmp(name, "timeout_ms") == 0)
			opts->timeout_ms = atoi(value);
		else if (strcmp(name, "max_retries") == 0)
			opts->max_retries = atoi(value);
		else if (strcmp(name, "max_response_bytes") == 0)
			opts->max_response_bytes = atoi(value);
		else if (strcmp(name, "request_cost") == 0)
			opts->request_cost = strtod(value, NULL);
		else if (strcmp(name, "fdw_tuple_cost") == 0)
			opts->fdw_tuple_cost = strtod(value, NULL);
	}
}

/*
 * Gather the options of a foreign table: defaults, then the server, the user
 * mapping (only when userid is valid: planning needs no key) and the table.
 */
void
cp_get_options(Oid foreigntableid, Oid userid, CpOptions *opts)
{
	ForeignTable *table = GetForeignTable(foreigntableid);
	ForeignServer *server = GetForeignServer(table->serverid);

	memset(opts, 0, sizeof(*opts));
	opts->serverid = server->serverid;
	opts->servername = server->servername;
	opts->base_url = CP_DEFAULT_BASE_URL;
	opts->page_size = 100;
	opts->max_pages = 100000;
	opts->batch_size = 100;
	opts->connect_timeout_ms = 10000;
	opts->timeout_ms = 30000;
	opts->max_retries = 2;
	opts->max_response_bytes = 8 * 1024 * 1024;
	opts->request_cost = 100.0;
	opts->fdw_tuple_cost = 0.01;

	apply_options(opts, server->options);
	if (OidIsValid(userid))
	{
		UserMapping *user = GetUserMapping(userid, server->serverid);

		opts->umid = user->umid;
		apply_options(opts, user->options);
	}
	apply_options(opts, table->options);
}
