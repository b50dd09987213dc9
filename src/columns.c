/*-------------------------------------------------------------------------
 *
 * columns.c
 *		  Map the columns of a foreign table to permission fields, and turn a
 *		  permission into the column values of a tuple.
 *
 * A column matches the field of its name, or the one its "field" option
 * names.  String fields go through the column type's input function, so
 * varchar(n) and domains keep their checks; created_at (Unix seconds in
 * the API) may be read as timestamptz, timestamp (UTC), bigint or text.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "foreign/foreign.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "checkpoint_perms.h"

static const char *const cp_field_names[CP_NUM_FIELDS] = {
	"id", "created_at", "project_id", "object", "checkpoint"
};

const char *
cp_field_name(CpField field)
{
	Assert(field >= 0 && field < CP_NUM_FIELDS);
	return cp_field_names[field];
}

static CpField
field_by_name(const char *name)
{
	int			f;

	for (f = 0; f < CP_NUM_FIELDS; f++)
		if (strcmp(name, cp_field_names[f]) == 0)
			return (CpField) f;
	return CP_FIELD_NONE;
}

/* The field a column maps to: its "field" option, else its own name. */
static CpField
column_field(Oid relid, Form_pg_attribute attr)
{
	ListCell   *lc;

	foreach(lc, GetForeignColumnOptions(relid, attr->attnum))
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "field") == 0)
			return field_by_name(defGetString(opt));
	}
	return field_by_name(NameStr(attr->attname));
}

static bool
is_string_type(Oid basetype)
{
	return basetype == TEXTOID || basetype == VARCHAROID || basetype == BPCHAROID;
}

static void
check_column_type(Relation rel, Form_pg_attribute attr, CpField field)
{
	Oid			basetype = getBaseType(attr->atttypid);
	bool		ok;

	if (field == CP_FIELD_CREATED_AT)
		ok = basetype == TIMESTAMPTZOID || basetype == TIMESTAMPOID ||
			basetype == INT8OID || is_string_type(basetype);
	else
		ok = is_string_type(basetype);

	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("column \"%s\" of foreign table \"%s\" cannot hold field \"%s\"",
						NameStr(attr->attname), RelationGetRelationName(rel),
						cp_field_name(field)),
				 errdetail("The column has type %s; field \"%s\" needs %s.",
						   format_type_be(attr->atttypid), cp_field_name(field),
						   field == CP_FIELD_CREATED_AT ?
						   "timestamptz, timestamp, bigint or text" :
						   "text, varchar or char")));
}

/*
 * Build the column map of a foreign table.  Errors here are plan-time
 * errors: a column that matches no field, a field mapped twice, or a type
 * that cannot hold its field.
 */
void
cp_build_column_map(Relation rel, CpColumnMap *map)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			natts = tupdesc->natts;
	ListCell   *lc;
	int			i;

	map->natts = natts;
	map->checkpoint = NULL;
	map->cxt = CurrentMemoryContext;
	map->domain_extra = palloc0(sizeof(void *) * natts);
	map->field = palloc(sizeof(CpField) * natts);
	map->typid = palloc(sizeof(Oid) * natts);
	map->basetype = palloc(sizeof(Oid) * natts);
	map->input = palloc0(sizeof(FmgrInfo) * natts);
	map->output = palloc0(sizeof(FmgrInfo) * natts);
	map->ioparam = palloc(sizeof(Oid) * natts);
	map->typmod = palloc(sizeof(int32) * natts);
	map->relname = pstrdup(RelationGetRelationName(rel));
	map->attname = palloc0(sizeof(char *) * natts);
	for (i = 0; i < CP_NUM_FIELDS; i++)
		map->attno[i] = InvalidAttrNumber;

	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		CpField		field;
		Oid			infunc;
		Oid			outfunc;
		bool		varlena;

		map->field[i] = CP_FIELD_NONE;
		if (attr->attisdropped)
			continue;

		field = column_field(RelationGetRelid(rel), attr);
		if (field == CP_FIELD_NONE)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("column \"%s\" of foreign table \"%s\" matches no permission field",
							NameStr(attr->attname), RelationGetRelationName(rel)),
					 errdetail("The fields are id, created_at, project_id, object and checkpoint."),
					 errhint("Rename the column, or map it with ALTER FOREIGN TABLE ... ALTER COLUMN ... OPTIONS (field 'project_id').")));
		if (map->attno[field] != InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_COLUMN_NAME),
					 errmsg("field \"%s\" is mapped to two columns of foreign table \"%s\"",
							cp_field_name(field), RelationGetRelationName(rel)),
					 errdetail("Columns \"%s\" and \"%s\" both map to it.",
							   NameStr(TupleDescAttr(tupdesc, map->attno[field] - 1)->attname),
							   NameStr(attr->attname))));
		check_column_type(rel, attr, field);

		map->field[i] = field;
		map->attname[i] = pstrdup(NameStr(attr->attname));
		map->attno[field] = attr->attnum;
		map->typid[i] = attr->atttypid;
		map->basetype[i] = getBaseType(attr->atttypid);
		map->typmod[i] = attr->atttypmod;
		getTypeInputInfo(attr->atttypid, &infunc, &map->ioparam[i]);
		fmgr_info(infunc, &map->input[i]);
		getTypeOutputInfo(attr->atttypid, &outfunc, &varlena);
		fmgr_info(outfunc, &map->output[i]);
	}

	/* a table of one checkpoint names it; one across checkpoints has a column */
	foreach(lc, GetForeignTable(RelationGetRelid(rel))->options)
	{
		DefElem    *opt = (DefElem *) lfirst(lc);

		if (strcmp(opt->defname, "checkpoint") == 0)
			map->checkpoint = defGetString(opt);
	}
	if (map->checkpoint == NULL && map->attno[CP_FIELD_CHECKPOINT] == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" names no checkpoint", RelationGetRelationName(rel)),
				 errdetail("A table of one checkpoint has option \"checkpoint\"; a table across checkpoints has a column for field \"checkpoint\"."),
				 errhint("Add OPTIONS (checkpoint 'ft:...'), or a column checkpoint text.")));
}

/* The column being filled, for the context of an error. */
typedef struct CpStoreContext
{
	const CpColumnMap *map;
	int			att;			/* 0-based */
} CpStoreContext;

/*
 * A value the column's type refuses (an id too long for a varchar(5), a
 * domain's check): name the column and the field, which the type's own
 * error does not.
 */
static void
store_error_callback(void *arg)
{
	const CpStoreContext *ctx = (const CpStoreContext *) arg;

	errcontext("field \"%s\" from the OpenAI API, stored into column \"%s\" of foreign table \"%s\"",
			   cp_field_name(ctx->map->field[ctx->att]), ctx->map->attname[ctx->att],
			   ctx->map->relname);
}

/*
 * A value made without the type's input function still owes its domain's
 * checks (a bigint or timestamptz domain with a CHECK); the input function
 * does them for the others.
 */
static void
check_domain(const CpColumnMap *map, int i, Datum value)
{
	if (map->typid[i] != map->basetype[i])
		domain_check(value, false, map->typid[i], &map->domain_extra[i], map->cxt);
}

/* Fill the values of one tuple from a permission, in CurrentMemoryContext. */
void
cp_store_permission(const CpColumnMap *map, const CpPermission *perm,
					Datum *values, bool *nulls)
{
	int			i;
	CpStoreContext ctx = {.map = map};
	ErrorContextCallback errcallback;

	/* an error while converting a field names its column (ctx.att) */
	errcallback.callback = store_error_callback;
	errcallback.arg = &ctx;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	for (i = 0; i < map->natts; i++)
	{
		const char *str;
		char		buf[32];

		ctx.att = i;
		values[i] = (Datum) 0;
		nulls[i] = true;
		switch (map->field[i])
		{
			case CP_FIELD_NONE:
				continue;
			case CP_FIELD_ID:
				str = perm->id;
				if (str == NULL)
					continue;	/* a queued grant: not made yet */
				break;
			case CP_FIELD_PROJECT_ID:
				str = perm->project_id;
				break;
			case CP_FIELD_OBJECT:
				str = perm->object;
				break;
			case CP_FIELD_CHECKPOINT:
				str = perm->checkpoint;
				if (str == NULL)
					continue;
				break;
			case CP_FIELD_CREATED_AT:
				if (perm->id == NULL)
					continue;	/* a queued grant: not made yet */
				switch (map->basetype[i])
				{
					case TIMESTAMPTZOID:
					case TIMESTAMPOID:
						/* the timestamp column holds the UTC wall-clock time */
						values[i] = TimestampTzGetDatum(time_t_to_timestamptz((pg_time_t) perm->created_at));
						nulls[i] = false;
						check_domain(map, i, values[i]);
						continue;
					case INT8OID:
						values[i] = Int64GetDatum(perm->created_at);
						nulls[i] = false;
						check_domain(map, i, values[i]);
						continue;
				}
				snprintf(buf, sizeof(buf), INT64_FORMAT, perm->created_at);
				str = buf;
				break;
			default:
				continue;
		}
		values[i] = InputFunctionCall(&map->input[i], (char *) str,
									  map->ioparam[i], map->typmod[i]);
		nulls[i] = false;
	}
	error_context_stack = errcallback.previous;
}

/*
 * The text of a field's value in a tuple (project_id for a grant, id for a
 * revoke); NULL when the value is NULL.
 */
char *
cp_text_value(const CpColumnMap *map, CpField field, Datum value, bool isnull)
{
	int			att = map->attno[field] - 1;
	char	   *text;

	if (isnull)
		return NULL;
	text = OutputFunctionCall(&map->output[att], value);
	/* char(n) pads with spaces that mean nothing to it, nor to the API */
	if (map->basetype[att] == BPCHAROID)
	{
		size_t		len = strlen(text);

		while (len > 0 && text[len - 1] == ' ')
			text[--len] = '\0';
	}
	return text;
}

/* The column map of a foreign table, checked: plan-time errors surface here. */
void
cp_load_column_map(Oid relid, CpColumnMap *map)
{
	Relation	rel = table_open(relid, NoLock);

	cp_build_column_map(rel, map);
	table_close(rel, NoLock);
}
