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

#include <arpa/inet.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

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
#include "utils/guc.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "checkpoint_perms.h"

#define CP_DEFAULT_BASE_URL "https://api.openai.com/v1"

/* checkpoint_perms.allowed_base_urls: set by superusers only */
static char *cp_allowed_base_urls = NULL;

/* checkpoint_perms.log_writes: the audit lines of journal.c */
bool		cp_log_writes = false;

typedef enum CpOptionKind
{
	CP_OPT_STRING,				/* any non-empty string */
	CP_OPT_URL,					/* http(s) URL, plaintext only to loopback */
	CP_OPT_PROXY,				/* http, https or socks5h proxy URL */
	CP_OPT_FILE,				/* a file the server process can read */
	CP_OPT_INT,					/* integer in [min, max] */
	CP_OPT_REAL,				/* number in [min, max] */
	CP_OPT_FIELD,				/* one of the permission fields */
	CP_OPT_APPLY				/* apply_writes: "now" or "at_commit" */
} CpOptionKind;

typedef struct CpOptionDef
{
	const char *name;
	Oid			context;		/* catalog of the object that takes it */
	CpOptionKind kind;
	int			min;
	int			max;			/* strings and URLs: the longest, in bytes */
	bool		superuser_only; /* it reaches the server's files or network */
} CpOptionDef;

/* Longest URL and key accepted; ids have their own caps (checkpoint_perms.h). */
#define CP_MAX_URL_LEN 2048
#define CP_MAX_KEY_LEN 1024

/* Ranges are documented in the README's option reference; keep both equal. */
static const CpOptionDef cp_option_defs[] = {
	{"base_url", ForeignServerRelationId, CP_OPT_URL, 0, CP_MAX_URL_LEN},
	{"organization", ForeignServerRelationId, CP_OPT_STRING, 0, CP_MAX_PROJECT_ID_LEN},
	{"project", ForeignServerRelationId, CP_OPT_STRING, 0, CP_MAX_PROJECT_ID_LEN},
	{"ca_bundle", ForeignServerRelationId, CP_OPT_FILE, 0, MAXPGPATH, true},
	{"proxy", ForeignServerRelationId, CP_OPT_PROXY, 0, CP_MAX_URL_LEN, true},
	{"page_size", ForeignServerRelationId, CP_OPT_INT, 1, 10000},
	{"max_pages", ForeignServerRelationId, CP_OPT_INT, 1, 10000000},
	{"batch_size", ForeignServerRelationId, CP_OPT_INT, 1, 1000},
	{"connect_timeout_ms", ForeignServerRelationId, CP_OPT_INT, 1, 600000},
	{"timeout_ms", ForeignServerRelationId, CP_OPT_INT, 1, 3600000},
	{"max_retries", ForeignServerRelationId, CP_OPT_INT, 0, 10},
	{"max_concurrency", ForeignServerRelationId, CP_OPT_INT, 1, CP_MAX_CONCURRENCY},
	{"max_response_bytes", ForeignServerRelationId, CP_OPT_INT, 1024, 268435456},
	{"request_cost", ForeignServerRelationId, CP_OPT_REAL, 0, 1000000000},
	{"fdw_tuple_cost", ForeignServerRelationId, CP_OPT_REAL, 0, 1000000000},
	{"apply_writes", ForeignServerRelationId, CP_OPT_APPLY, 0, 0},
	{"api_key", UserMappingRelationId, CP_OPT_STRING, 0, CP_MAX_KEY_LEN},
	{"checkpoint", ForeignTableRelationId, CP_OPT_STRING, 0, CP_MAX_CHECKPOINT_LEN},
	{"page_size", ForeignTableRelationId, CP_OPT_INT, 1, 10000},
	{"max_pages", ForeignTableRelationId, CP_OPT_INT, 1, 10000000},
	{"batch_size", ForeignTableRelationId, CP_OPT_INT, 1, 1000},
	{"apply_writes", ForeignTableRelationId, CP_OPT_APPLY, 0, 0},
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

/* "a server or a foreign table": where an option may be set, or "". */
static void
option_places(const char *name, StringInfo where)
{
	const CpOptionDef *def;

	for (def = cp_option_defs; def->name; def++)
		if (strcmp(def->name, name) == 0)
			appendStringInfo(where, "%s%s", where->len ? " or " : "", context_name(def->context));
}

/*
 * An option that exists but was given in the wrong place: say where it
 * belongs.  api_key matters most: a key in server or table options would be
 * readable by every role through pg_foreign_server or pg_foreign_table.
 */
static void
report_misplaced_option(const char *name, Oid context)
{
	StringInfoData where;

	/* every place the option may go: page_size belongs to two */
	initStringInfo(&where);
	option_places(name, &where);

	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("option \"%s\" is not valid for %s", name, context_name(context)),
			 errdetail("Option \"%s\" belongs to %s.", name, where.data),
			 strcmp(name, "api_key") == 0 ?
			 errhint("Store the key with CREATE USER MAPPING ... OPTIONS (api_key '...'): only there is it hidden from other roles.") : 0));
}

/*
 * The option of context whose name is closest to name, if one is close
 * enough to be a typo, else NULL; valid gets the names of all of them.
 * skip leaves one out (NULL: none).
 */
static const char *
closest_option(const char *name, Oid context, const char *skip, StringInfo valid)
{
	const CpOptionDef *def;
	const char *closest = NULL;
	int			best = INT_MAX;

	for (def = cp_option_defs; def->name; def++)
	{
		int			dist;

		if (def->context != context || (skip && strcmp(def->name, skip) == 0))
			continue;
		appendStringInfo(valid, "%s%s", valid->len ? ", " : "", def->name);
		dist = varstr_levenshtein_less_equal(name, strlen(name),
											 def->name, strlen(def->name),
											 1, 1, 1, 4, true);
		if (dist < best)
		{
			best = dist;
			closest = def->name;
		}
	}
	return closest && best <= (int) Max(2, strlen(name) / 3) ? closest : NULL;
}

/* Unknown option: name the closest valid one, as postgres_fdw does. */
static void
report_unknown_option(const char *name, Oid context)
{
	StringInfoData valid;
	const char *closest;

	initStringInfo(&valid);
	closest = closest_option(name, context, NULL, &valid);
	if (closest)
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

/*
 * Parse an integer option; false unless it is digits only: no sign, no
 * white space (strtol alone would take " 100" and "+5").
 */
static bool
parse_int_option(const char *value, long *result)
{
	const char *p;

	if (value[0] == '\0' || strlen(value) > 10)
		return false;
	for (p = value; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	errno = 0;
	*result = strtol(value, NULL, 10);
	return errno == 0;
}

/*
 * Parse a real option: a plain decimal number ("0.5", "1e3"); no sign, no
 * white space, no hex, inf or nan, which strtod alone would take.
 */
static bool
parse_real_option(const char *value, double *result)
{
	const char *p;
	char	   *end;

	if (!((value[0] >= '0' && value[0] <= '9') || value[0] == '.'))
		return false;
	for (p = value; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' ||
			  *p == '-' || *p == '+'))
			return false;
	errno = 0;
	*result = strtod(value, &end);
	return end != value && *end == '\0' && errno == 0 && !isnan(*result);
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

/* Do two base URLs name the same root?  Case and trailing slashes aside. */
static bool
same_base_url(const char *a, size_t alen, const char *b)
{
	size_t		blen = strlen(b);

	while (alen > 0 && a[alen - 1] == '/')
		alen--;
	while (blen > 0 && b[blen - 1] == '/')
		blen--;
	return alen == blen && pg_strncasecmp(a, b, alen) == 0;
}

/*
 * May a server owned by a role that is not superuser use this base URL?
 * Only the default, or one that a superuser listed in
 * checkpoint_perms.allowed_base_urls (comma-separated).
 */
bool
cp_base_url_allowed(const char *url)
{
	const char *p = cp_allowed_base_urls;

	if (same_base_url(url, strlen(url), CP_DEFAULT_BASE_URL))
		return true;
	while (p && *p)
	{
		size_t		len;

		while (*p == ' ' || *p == ',')
			p++;
		len = strcspn(p, ",");
		while (len > 0 && p[len - 1] == ' ')
			len--;
		if (len > 0 && same_base_url(p, len, url))
			return true;
		p += len;
		p += strcspn(p, ",");
	}
	return false;
}

/*
 * Does the URL name a loopback, private, link-local or otherwise reserved
 * host literally: "localhost" (and *.localhost), or an address in such a
 * range, in any of the forms inet_aton takes ("127.1", "0x7f000001")?
 * Names are checked again, after resolution, when a request connects.
 */
static bool
url_names_reserved_host(const char *url)
{
	const char *host = strstr(url, "://");
	size_t		len;
	char		buf[256];
	struct in_addr v4;
	struct in6_addr v6;

	if (host == NULL)
		return true;
	host += 3;
	if (*host == '[')
	{
		len = strcspn(host + 1, "]");
		if (len >= sizeof(buf))
			return true;
		memcpy(buf, host + 1, len);
		buf[len] = '\0';
		/* an address with a zone ("fe80::1%eth0") is link-local anyway */
		return inet_pton(AF_INET6, buf, &v6) != 1 ||
			cp_address_is_reserved(AF_INET6, &v6);
	}
	len = strcspn(host, ":/?#");
	if (len == 0 || len >= sizeof(buf))
		return true;
	memcpy(buf, host, len);
	buf[len] = '\0';
	while (len > 0 && buf[len - 1] == '.')
		buf[--len] = '\0';		/* "localhost." is localhost */
	if (pg_strcasecmp(buf, "localhost") == 0 ||
		(len > 10 && pg_strcasecmp(buf + len - 10, ".localhost") == 0))
		return true;
	if (inet_aton(buf, &v4))
		return cp_address_is_reserved(AF_INET, &v4);
	return false;
}

/*
 * The base_url rule for a role that is not superuser: no address of the
 * database host or its network, and only the default or an allowed URL.
 */
static void
check_user_base_url(const char *value)
{
	if (url_names_reserved_host(value))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser can point option \"base_url\" at a loopback, private or link-local address"),
				 errdetail("It would let the database server send requests to its own host or network.")));
	if (!cp_base_url_allowed(value))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("only a superuser can set option \"base_url\" to this URL"),
				 errdetail("A role that is not superuser may use the default, %s, or a URL listed in checkpoint_perms.allowed_base_urls.",
						   CP_DEFAULT_BASE_URL),
				 errhint("Ask a superuser to list the URL in checkpoint_perms.allowed_base_urls, or to create the server.")));
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
				 errmsg("invalid value for option \"%s\": \"%s\"", name, cp_shorten(value)),
				 errdetail("Only http:// and https:// URLs are accepted.")));
	host += 3;
	if (strcspn(host, "/?#") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, cp_shorten(value)),
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
				 errdetail("Option \"%s\" is \"%s\".", name, cp_shorten(value)),
				 errhint("Use https:// so that the API key is never sent in clear over a network.")));
}

/*
 * The checks every option value passes first, before any check that may
 * repeat it: no control character (a CR or LF in a value that reaches a
 * header would add header lines of its own), no space at either end, and
 * a length cap for strings.  The value is never repeated: it may be a key.
 */
static void
check_option_text(const CpOptionDef *def, const char *value)
{
	size_t		maxlen = def->kind == CP_OPT_STRING || def->kind == CP_OPT_URL ||
		def->kind == CP_OPT_PROXY || def->kind == CP_OPT_FILE ? (size_t) def->max : 64;
	int			byte;
	CpValueProblem problem = cp_value_problem(value, maxlen, &byte);

	if (problem == CP_VALUE_OK)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 problem == CP_VALUE_TOO_LONG ?
			 errmsg("value of option \"%s\" is too long", def->name) :
			 problem == CP_VALUE_CONTROL ?
			 errmsg("value of option \"%s\" contains a control character", def->name) :
			 errmsg("value of option \"%s\" begins or ends with white space", def->name),
			 errdetail("%s", cp_value_problem_detail(problem, value, maxlen, byte))));
}

/*
 * A file option (ca_bundle) must name a file that this process, the
 * database server's, can read: checked when the server is created or
 * altered, so that a typo fails there rather than at the first request,
 * as a TLS error far from its cause.  Whether it holds certificates only
 * curl can tell, at first use.
 */
static void
check_file_option(const char *name, const char *path)
{
	struct stat st;
	const char *why = NULL;
	int			fd;

	if (stat(path, &st) != 0)
		why = errno == ENOENT || errno == ENOTDIR ? "it does not exist" :
			errno == EACCES ? "the database server's operating system user may not reach it" :
			"it cannot be examined";
	else if (S_ISDIR(st.st_mode))
		why = "it is a directory";
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC, 0)) < 0)
		why = errno == EACCES ? "the database server's operating system user may not read it" :
			"it cannot be opened";
	else
		close(fd);
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"%s\" names a file that cannot be read", name),
				 errdetail("File \"%s\": %s.", cp_shorten(path), why),
				 errhint("Name a readable file of PEM CA certificates, or leave \"%s\" unset to use the system's store (Debian: package ca-certificates).",
						 name)));
}

static void
check_option_value(const CpOptionDef *def, const char *value)
{
	long		n;

	check_option_text(def, value);
	switch (def->kind)
	{
		case CP_OPT_STRING:
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must not be empty", def->name)));
			break;
		case CP_OPT_FILE:
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" must not be empty", def->name)));
			check_file_option(def->name, value);
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
				double		d;

				if (!parse_real_option(value, &d) || d < def->min || d > def->max)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("invalid value for option \"%s\": \"%s\"", def->name, value),
							 errdetail("It must be a number from %d to %d.", def->min, def->max)));
			}
			break;
		case CP_OPT_APPLY:
			if (strcmp(value, "now") != 0 && strcmp(value, "at_commit") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"", def->name, value),
						 errdetail("Grants and revokes are sent when their statement runs (\"now\") or when the transaction commits (\"at_commit\")."),
						 errhint("Valid values are \"now\" and \"at_commit\".")));
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
						 errdetail("The fields of a permission are id, created_at, project_id, object and checkpoint.")));
			}
			break;
	}
}

PG_FUNCTION_INFO_V1(checkpoint_perms_validator);

/*
 * Validate the options of any object of the wrapper.  PostgreSQL passes the
 * whole resulting list, for ALTER too.
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
					 errmsg("only a superuser can set a plaintext http:// \"base_url\""),
					 errdetail("It would let the database server send requests to services on its own host."),
					 errhint("Use an https:// URL.")));
		if (def->kind == CP_OPT_URL && !superuser())
			check_user_base_url(defGetString(opt));
	}

	/*
	 * A user mapping without "api_key" is accepted: pg_dump writes one for
	 * every other role's mapping (it cannot read their options), and a
	 * restore must not fail on it.  Using it fails (cp_get_options), with
	 * the ALTER USER MAPPING to run.
	 *
	 * A foreign table without option "checkpoint" spans checkpoints, which
	 * A foreign table without option "checkpoint" spans checkpoints, which
	 * it needs a column for field "checkpoint" for: the validator does not
	 * see columns, so cp_build_column_map checks that.
	 */

	PG_RETURN_VOID();
}

/*
 * An option of IMPORT FOREIGN SCHEMA (import.c): it goes on every table the
 * import creates, so it must be a foreign table's, and is checked as the
 * validator checks it; but not "checkpoint", which LIMIT TO gives each
 * table.
 */
void
cp_check_import_option(const char *name, const char *value)
{
	const CpOptionDef *def = find_option(name, ForeignTableRelationId);
	const char *closest;
	StringInfoData valid;
	StringInfoData where;

	if (def != NULL && strcmp(name, "checkpoint") != 0)
	{
		check_option_value(def, value);
		return;
	}
	if (def != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"checkpoint\" is not valid for IMPORT FOREIGN SCHEMA"),
				 errdetail("LIMIT TO names the checkpoints: the table of each gets its own option \"checkpoint\"."),
				 errhint("IMPORT FOREIGN SCHEMA checkpoints LIMIT TO (\"ft:...\") FROM SERVER ... INTO ...")));

	initStringInfo(&valid);
	closest = closest_option(name, ForeignTableRelationId, "checkpoint", &valid);
	initStringInfo(&where);
	option_places(name, &where);
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\" for IMPORT FOREIGN SCHEMA", name),
			 errdetail("The import's options go on every table it creates; they are %s.", valid.data),
			 where.len ? errhint("Option \"%s\" belongs to %s.", name, where.data) :
			 closest ? errhint("Perhaps you meant the option \"%s\".", closest) : 0));
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
		else if (strcmp(name, "max_concurrency") == 0)
			opts->max_concurrency = atoi(value);
		else if (strcmp(name, "max_response_bytes") == 0)
			opts->max_response_bytes = atoi(value);
		else if (strcmp(name, "request_cost") == 0)
			opts->request_cost = strtod(value, NULL);
		else if (strcmp(name, "fdw_tuple_cost") == 0)
			opts->fdw_tuple_cost = strtod(value, NULL);
		else if (strcmp(name, "apply_writes") == 0)
			opts->at_commit = strcmp(value, "at_commit") == 0;
	}
}

/*
 * The user mapping's options, as GetUserMapping finds it (the role's own,
 * else PUBLIC's), with errors that say which server and what to run:
 * PostgreSQL's "user mapping not found" names neither the server nor the
 * fix, and a mapping without a key (as a restored dump has) would
 * otherwise fail only at the API, with a 401.
 */
static void
apply_user_mapping(CpOptions *opts, Oid userid, ForeignServer *server)
{
	UserMapping *user;
	HeapTuple	tp;
	const char *who;

	opts->userid = userid;
	opts->rolename = GetUserNameFromId(userid, false);
	tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(userid),
						 ObjectIdGetDatum(server->serverid));
	if (!HeapTupleIsValid(tp))
	{
		tp = SearchSysCache2(USERMAPPINGUSERSERVER, ObjectIdGetDatum(InvalidOid),
							 ObjectIdGetDatum(server->serverid));
		if (!HeapTupleIsValid(tp))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role \"%s\" has no user mapping for server \"%s\"",
							opts->rolename, server->servername),
					 errdetail("The API key that requests to server \"%s\" use is an option of a user mapping.",
							   server->servername),
					 errhint("CREATE USER MAPPING FOR %s SERVER %s OPTIONS (api_key 'sk-admin-...');",
							 quote_identifier(opts->rolename),
							 quote_identifier(server->servername))));
		opts->public_mapping = true;
	}
	ReleaseSysCache(tp);

	user = GetUserMapping(userid, server->serverid);
	opts->umid = user->umid;
	apply_options(opts, user->options);
	if (opts->api_key != NULL)
		return;
	who = opts->public_mapping ? "PUBLIC" : quote_identifier(opts->rolename);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 opts->public_mapping ?
			 errmsg("the PUBLIC user mapping for server \"%s\" has no option \"api_key\"",
					server->servername) :
			 errmsg("the user mapping of role \"%s\" for server \"%s\" has no option \"api_key\"",
					opts->rolename, server->servername),
			 errdetail("Role \"%s\" uses it, and requests to the API need the organization admin key. pg_dump writes the mappings of other roles without their options.",
					   opts->rolename),
			 errhint("ALTER USER MAPPING FOR %s SERVER %s OPTIONS (ADD api_key 'sk-admin-...');",
					 who, quote_identifier(server->servername))));
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
	/* the owner chose base_url: its privilege decides where requests go */
	opts->restricted = !superuser_arg(server->owner);
	opts->servername = server->servername;
	opts->base_url = CP_DEFAULT_BASE_URL;
	opts->page_size = 100;
	opts->max_pages = 100000;
	opts->batch_size = 100;
	opts->connect_timeout_ms = 10000;
	opts->timeout_ms = 30000;
	opts->max_retries = 2;
	opts->max_concurrency = 8;
	opts->max_response_bytes = 8 * 1024 * 1024;
	opts->request_cost = 100.0;
	opts->fdw_tuple_cost = 0.01;

	apply_options(opts, server->options);
	if (OidIsValid(userid))
		apply_user_mapping(opts, userid, server);
	apply_options(opts, table->options);
	opts->spans = opts->checkpoint == NULL;
}

/* The settings of the extension; called once, from _PG_init. */
void
cp_define_settings(void)
{
	DefineCustomStringVariable("checkpoint_perms.allowed_base_urls",
							   "Base URLs that a server owned by a role that is not superuser may use.",
							   "A comma-separated list; the default, " CP_DEFAULT_BASE_URL ", is always allowed. Case and trailing slashes are ignored.",
							   &cp_allowed_base_urls,
							   "",
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("checkpoint_perms.log_writes",
							 "Logs every grant and revoke that the API applied or whose outcome is unknown.",
							 "One LOG line each, with the role, server, checkpoint, project, permission id, outcome and request id.",
							 &cp_log_writes,
							 false,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("checkpoint_perms");
#else
	EmitWarningsOnPlaceholders("checkpoint_perms");
#endif
}
