/*-------------------------------------------------------------------------
 *
 * import.c
 *		  IMPORT FOREIGN SCHEMA: the table across checkpoints, or one table
 *		  per checkpoint that LIMIT TO names.
 *
 * The API cannot list an organisation's checkpoints, so the import sends no
 * request (it needs no user mapping either): the remote schema
 * "checkpoints" holds the table checkpoint_permissions, across checkpoints,
 * and one table per checkpoint id, which LIMIT TO must name.
 *
 * A checkpoint's table gets a readable name made from its id
 * (readable_name), not the id itself: the core, however, creates only the
 * tables whose names LIMIT TO lists (IsImportableForeignTable compares the
 * CREATE's relation name with each entry), so the callback rewrites the
 * entries it turned into tables to those names.  README, "Importing", has
 * the rule and the reason.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/defrem.h"
#include "common/string.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "mb/pg_wchar.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"

#include "executor.h"
#include "planner.h"
#include "effects.h"

/* The remote schema, and its table across checkpoints. */
#define CP_REMOTE_SCHEMA "checkpoints"
#define CP_ACROSS_TABLE "checkpoint_permissions"

/* The columns of every imported table: each field of a permission. */
#define CP_IMPORT_COLUMNS \
	"checkpoint text, id text, created_at timestamptz, project_id text, object text"

/* "_" and 8 hex digits: ends a name that is too long or taken */
#define CP_NAME_HASH_LEN 9

/*
 * FNV-1a, 32 bits, of the whole id: the same on every platform and
 * PostgreSQL version (hash_bytes is not), so a name stays the same.
 */
static uint32
id_hash(const char *id)
{
	uint32		h = 2166136261u;
	const unsigned char *p;

	for (p = (const unsigned char *) id; *p; p++)
	{
		h ^= *p;
		h *= 16777619u;
	}
	return h;
}

/*
 * Append one part of a name: ASCII letters lower-cased, digits kept, every
 * other byte (':', '-', '.', non-ASCII) an '_', never two in a row.
 */
static void
append_name_part(StringInfo name, const char *part, size_t len)
{
	size_t		i;

	for (i = 0; i < len; i++)
	{
		unsigned char c = (unsigned char) part[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '_';
		if (c == '_' && (name->len == 0 || name->data[name->len - 1] == '_'))
			continue;
		appendStringInfoChar(name, (char) c);
	}
	if (name->len > 0 && name->data[name->len - 1] != '_')
		appendStringInfoChar(name, '_');
}

/*
 * The readable name of a checkpoint's table, before length and collisions
 * are seen to.  An id ft:<model>:<org>:<suffix>:<job>[:ckpt-step-<n>]
 * gives <suffix>_<job>[_step_<n>] (the model when there is no suffix);
 * any other id gives all of its segments but a leading "ft".  A name that
 * would need quotes (it begins with a digit, or is a keyword) begins with
 * "ckpt_".
 */
static char *
readable_name(const char *id)
{
	const char *seg[6];
	size_t		seglen[6];
	int			nseg = 0;
	const char *p = id;
	StringInfoData name;
	int			i;

	/* the first five segments, and the rest of the id as a sixth */
	while (nseg < 6)
	{
		size_t		len = nseg < 5 ? strcspn(p, ":") : strlen(p);

		seg[nseg] = p;
		seglen[nseg++] = len;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}

	initStringInfo(&name);
	if (nseg >= 5 && seglen[0] == 2 && strncmp(seg[0], "ft", 2) == 0)
	{
		if (seglen[3] > 0)
			append_name_part(&name, seg[3], seglen[3]);
		else
			append_name_part(&name, seg[1], seglen[1]);
		append_name_part(&name, seg[4], seglen[4]);
		if (nseg == 6)
		{
			if (strncmp(seg[5], "ckpt-step-", 10) == 0)
			{
				append_name_part(&name, "step", 4);
				append_name_part(&name, seg[5] + 10, seglen[5] - 10);
			}
			else
				append_name_part(&name, seg[5], seglen[5]);
		}
	}
	else
	{
		const char *rest = id;

		if (strncmp(rest, "ft:", 3) == 0)
			rest += 3;
		append_name_part(&name, rest, strlen(rest));
	}

	/* no '_' at either end */
	while (name.len > 0 && name.data[name.len - 1] == '_')
		name.data[--name.len] = '\0';
	for (i = 0; i < name.len && name.data[i] == '_'; i++)
		;
	if (i == name.len)
		return pstrdup("ckpt");
	if (quote_identifier(name.data + i) != name.data + i)
		return psprintf("ckpt_%s", name.data + i);
	return pstrdup(name.data + i);
}

/* The name cut to leave room for "_<hash>", and the hash of the whole id. */
static char *
hashed_name(const char *name, const char *id)
{
	int			keep = Min((int) strlen(name), NAMEDATALEN - 1 - CP_NAME_HASH_LEN);

	while (keep > 0 && name[keep - 1] == '_')
		keep--;
	return psprintf("%.*s_%08x", keep, name, id_hash(id));
}

/*
 * A checkpoint id from LIMIT TO, checked as option "checkpoint" is, before
 * anything is created.  LIMIT TO takes identifiers, which the parser cut to
 * NAMEDATALEN - 1 bytes (with a NOTICE): an entry that long may be the
 * first part of a longer id, and would make a table of a checkpoint that
 * does not exist.
 */
static void
check_limit_to_id(const RangeVar *rv)
{
	const char *id = rv->relname;
	int			len = strlen(id);
	bool		ascii = pg_is_ascii(id);
	int			byte;
	CpValueProblem problem;

	if (rv->schemaname != NULL || rv->catalogname != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_NAME),
				 errmsg("checkpoint id in LIMIT TO is qualified with a schema name"),
				 errdetail("LIMIT TO names checkpoints, each one identifier. Nothing was imported."),
				 errhint("Write the id in double quotes: LIMIT TO (\"ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd\").")));

	/* first, so that no message repeats a control character */
	problem = cp_value_problem(id, CP_MAX_CHECKPOINT_LEN, &byte);
	Assert(problem != CP_VALUE_TOO_LONG);	/* an identifier is far shorter */
	if (problem != CP_VALUE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 problem == CP_VALUE_CONTROL ?
				 errmsg("checkpoint id in LIMIT TO contains a control character") :
				 errmsg("checkpoint id in LIMIT TO begins or ends with white space"),
				 errdetail("%s Nothing was imported.",
						   cp_value_problem_detail(problem, id, CP_MAX_CHECKPOINT_LEN, byte))));

	if (len >= NAMEDATALEN - 1 ||
		(!ascii && len > NAMEDATALEN - 1 - pg_database_encoding_max_length()))
		ereport(ERROR,
				(errcode(ERRCODE_NAME_TOO_LONG),
				 errmsg("checkpoint id \"%s\" in LIMIT TO may have been truncated", id),
				 errdetail("LIMIT TO takes identifiers, which PostgreSQL cuts to %d bytes; an id of %d bytes or more cannot be told from a longer one cut short. Nothing was imported.",
						   NAMEDATALEN - 1, len),
				 errhint("Create the table of such a checkpoint with CREATE FOREIGN TABLE ... OPTIONS (checkpoint '...'), or query it through the table across checkpoints.")));
}

/* CREATE FOREIGN TABLE name (...) SERVER server OPTIONS (...) */
static char *
create_command(const char *name, const char *server, const char *checkpoint,
			   List *options)
{
	StringInfoData cmd;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&cmd);
	appendStringInfo(&cmd, "CREATE FOREIGN TABLE %s (" CP_IMPORT_COLUMNS ") SERVER %s",
					 quote_identifier(name), quote_identifier(server));
	if (checkpoint != NULL)
	{
		appendStringInfo(&cmd, " OPTIONS (checkpoint %s", quote_literal_cstr(checkpoint));
		first = false;
	}
	foreach(lc, options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		appendStringInfo(&cmd, "%s%s %s", first ? " OPTIONS (" : ", ",
						 quote_identifier(opt->defname), quote_literal_cstr(defGetString(opt)));
		first = false;
	}
	if (!first)
		appendStringInfoChar(&cmd, ')');
	return cmd.data;
}

/*
 * Refuse, before anything is created, a remote schema other than ours,
 * EXCEPT, and an option that cannot go on every table.
 */
static void
check_import_statement(ImportForeignSchemaStmt *stmt, ForeignServer *server)
{
	ListCell   *lc;

	if (strcmp(stmt->remote_schema, CP_REMOTE_SCHEMA) != 0)
	{
		int			byte;

		ereport(ERROR,
				(errcode(ERRCODE_FDW_SCHEMA_NOT_FOUND),
				 cp_value_problem(stmt->remote_schema, CP_MESSAGE_VALUE_LEN, &byte) == CP_VALUE_OK ?
				 errmsg("server \"%s\" has no remote schema \"%s\"",
						server->servername, stmt->remote_schema) :
				 errmsg("server \"%s\" has no such remote schema", server->servername),
				 errdetail("A server of checkpoint_perms has one remote schema, \"%s\".", CP_REMOTE_SCHEMA),
				 errhint("IMPORT FOREIGN SCHEMA %s FROM SERVER %s INTO ...",
						 CP_REMOTE_SCHEMA, quote_identifier(server->servername))));
	}
	if (stmt->list_type == FDW_IMPORT_SCHEMA_EXCEPT)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("checkpoint_perms cannot import with EXCEPT"),
				 errdetail("The OpenAI API cannot list the checkpoints of an organisation, so there is nothing to leave some out of."),
				 errhint("Name the checkpoints to import with LIMIT TO (\"ft:...\", ...), or import the table across checkpoints with neither.")));

	/* the options go on every table: a foreign table's, but "checkpoint" */
	foreach(lc, stmt->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		cp_check_import_option(opt->defname, defGetString(opt));
	}
}

/*
 * What to import: the distinct checkpoint ids of LIMIT TO, each checked,
 * in *ids; returns how many.  *across: the table across checkpoints too
 * (no LIMIT TO, or LIMIT TO names it).
 */
static int
import_entries(ImportForeignSchemaStmt *stmt, bool *across, const char ***ids)
{
	CpStrSet   *listed = cp_strset_create(CurrentMemoryContext);
	ListCell   *lc;
	int			n = 0;

	*across = stmt->list_type == FDW_IMPORT_SCHEMA_ALL;
	*ids = palloc(sizeof(char *) * (list_length(stmt->table_list) + 1));
	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);

		if (strcmp(rv->relname, CP_ACROSS_TABLE) == 0 &&
			rv->schemaname == NULL && rv->catalogname == NULL)
			*across = true;
		else
		{
			check_limit_to_id(rv);
			if (cp_strset_add(listed, rv->relname))
				(*ids)[n++] = rv->relname;
		}
	}
	return n;
}

/*
 * Name each checkpoint's table.  A name that is too long, or that two
 * checkpoints (or one and the table across checkpoints) would share, ends
 * with a hash of its id instead; a clash left after that (two hashes
 * alike) is an error rather than a table for the wrong id.
 */
static char **
table_names(const char **ids, int n, bool across)
{
	char	  **names = palloc(sizeof(char *) * (n + 1));
	CpStrSet   *seen = cp_strset_create(CurrentMemoryContext);
	CpStrSet   *shared = cp_strset_create(CurrentMemoryContext);
	CpStrSet   *taken = cp_strset_create(CurrentMemoryContext);
	int			i;

	if (across)
		cp_strset_add(seen, CP_ACROSS_TABLE);
	for (i = 0; i < n; i++)
	{
		names[i] = readable_name(ids[i]);
		if (!cp_strset_add(seen, names[i]))
			cp_strset_add(shared, names[i]);
	}
	if (across)
		cp_strset_add(taken, CP_ACROSS_TABLE);
	for (i = 0; i < n; i++)
	{
		if (strlen(names[i]) > NAMEDATALEN - 1 || cp_strset_contains(shared, names[i]))
			names[i] = hashed_name(names[i], ids[i]);
		if (!cp_strset_add(taken, names[i]))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_TABLE),
					 errmsg("two tables of this import would be named \"%s\"", names[i]),
					 errdetail("One is the table of checkpoint \"%s\". Names that clash end with a hash of their id, and these clash even so. Nothing was imported.",
							   ids[i]),
					 errhint("Import that checkpoint on its own into another schema, or create its table with CREATE FOREIGN TABLE.")));
	}
	return names;
}

/*
 * The core creates only the tables whose names LIMIT TO lists
 * (IsImportableForeignTable): let each checkpoint's entry name its table.
 * This changes the statement the core passed, which it reads only to
 * filter the commands; since PostgreSQL 14, a statement that a plan cache
 * keeps reaches here as a copy (ProcessUtility's readOnlyTree), so the
 * cached one still names the ids.
 */
static void
rename_entries(ImportForeignSchemaStmt *stmt, const char **ids, char **names, int n)
{
	ListCell   *lc;
	int			i;

	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = (RangeVar *) lfirst(lc);

		for (i = 0; i < n; i++)
			if (strcmp(rv->relname, ids[i]) == 0)
			{
				rv->relname = names[i];
				break;
			}
	}
}

/*
 * IMPORT FOREIGN SCHEMA (named with a prefix: the core's own function has
 * the member's name): the commands that create the tables.  Everything is
 * checked before the first command is returned, so a bad entry or option
 * imports nothing.
 */
static List *
cpImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	ForeignServer *server = GetForeignServer(serverOid);
	List	   *commands = NIL;
	bool		across;			/* import the table across checkpoints */
	const char **ids;			/* the distinct checkpoint ids of LIMIT TO */
	char	  **names;			/* ...and the names of their tables */
	int			n;
	int			i;

	check_import_statement(stmt, server);
	n = import_entries(stmt, &across, &ids);
	names = table_names(ids, n, across);

	if (across)
		commands = lappend(commands, create_command(CP_ACROSS_TABLE, server->servername,
													NULL, stmt->options));
	for (i = 0; i < n; i++)
		commands = lappend(commands, create_command(names[i], server->servername,
													ids[i], stmt->options));
	rename_entries(stmt, ids, names, n);
	return commands;
}

/* Set the callback of IMPORT FOREIGN SCHEMA. */
void
cp_import_callbacks(FdwRoutine *routine)
{
	routine->ImportForeignSchema = cpImportForeignSchema;
}
