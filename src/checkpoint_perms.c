/*-------------------------------------------------------------------------
 *
 * checkpoint_perms.c
 *		  The foreign-data wrapper's callbacks: planning, scanning,
 *		  granting (INSERT, COPY) and revoking (DELETE).
 *
 * A scan holds one page of the list in memory, in a context reset per
 * page, and fetches the next one only when the executor asks for a row
 * beyond it.  Writes go to the API as they happen: the API has no
 * transactions, so a ROLLBACK cannot undo them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "checkpoint_perms.h"

PG_MODULE_MAGIC;

/* Planner cost of one HTTP round trip, in units of seq_page_cost. */
#define CP_REQUEST_COST 100.0

/* Rows assumed for a table never analyzed. */
#define CP_DEFAULT_ROWS 1000.0

/* Longest project id a grant accepts (the duplicate check keys on it). */
#define CP_MAX_PROJECT_ID 255

/* Positions in ForeignScan.fdw_private. */
enum FdwScanPrivateIndex
{
	FdwScanPrivateListPath		/* GET path with its fixed query, no cursor */
};

/* Positions in the fdw_private of a ModifyTable's foreign target. */
enum FdwModifyPrivateIndex
{
	FdwModifyPrivateOperation	/* Integer: CmdType */
};

/* Name of the row identity column that carries the permission id. */
#define CP_ROWID_NAME "cp_permission_id"
/* ...and of the whole row that DELETE ... RETURNING returns. */
#define CP_WHOLEROW_NAME "cp_wholerow"

typedef struct CpScanState
{
	CpOptions	opts;
	CpColumnMap columns;
	char	   *list_path;		/* GET path without the cursor */
	MemoryContext page_cxt;		/* the current page; reset per page */
	MemoryContext row_cxt;		/* the current row's values; reset per row */
	CpPage		page;
	int			next;			/* next item of page to return */
	char	   *after;			/* cursor for the next page, NULL for the first */
	bool		exhausted;		/* no page after this one */
	int64		pages_this_scan;
	CpStats		stats;
} CpScanState;

typedef struct CpModifyState
{
	CpOptions	opts;
	CpColumnMap columns;
	CmdType		operation;
	AttrNumber	rowid_attno;	/* DELETE: junk column with the id */
	AttrNumber	wholerow_attno; /* DELETE RETURNING: the row scanned */
	int			batch_size;
	HTAB	   *granted;		/* project ids this statement granted */
	int64		applied;		/* grants or revokes done by this statement */
	bool		defer;			/* COPY before 16: collect rows into batches */
	char	  **pending;		/* deferred project ids */
	int			npending;
	MemoryContext pending_cxt;
	MemoryContext temp_cxt;		/* per call of ExecForeign*; reset each call */
	CpStats		stats;
} CpModifyState;

/* Did this transaction grant or revoke?  Then PREPARE would mislead. */
static bool cp_xact_wrote = false;

static void
xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (cp_xact_wrote)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that granted or revoked checkpoint permissions"),
						 errdetail("The grants and revokes were applied by the OpenAI API when they ran; ROLLBACK PREPARED could not undo them.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			cp_xact_wrote = false;
			break;
		default:
			break;
	}
}

void		_PG_init(void);

void
_PG_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
}

/* The role whose user mapping a scan or modify uses. */
static Oid
scan_userid(ForeignScanState *node)
{
#if PG_VERSION_NUM >= 160000
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;

	return OidIsValid(fsplan->checkAsUser) ? fsplan->checkAsUser : GetUserId();
#else
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	RangeTblEntry *rte = exec_rt_fetch(fsplan->scan.scanrelid, node->ss.ps.state);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

static Oid
modify_userid(ResultRelInfo *rinfo, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return ExecGetResultRelCheckAsUser(rinfo, estate);
#else
	RangeTblEntry *rte = exec_rt_fetch(rinfo->ri_RangeTableIndex, estate);

	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}

static void
refuse_update(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("UPDATE is not supported on checkpoint permissions"),
			 errhint("A permission cannot be changed: revoke it with DELETE, then grant anew with INSERT.")));
}

/* The column map of a foreign table, checked: plan-time errors surface here. */
static void
load_column_map(Oid relid, CpColumnMap *map)
{
	Relation	rel = table_open(relid, NoLock);

	cp_build_column_map(rel, map);
	table_close(rel, NoLock);
}

/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

/* What GetForeignRelSize learns for the later planning callbacks. */
typedef struct CpRelInfo
{
	CpOptions	opts;
	double		ntuples;		/* permissions in the checkpoint, estimated */
} CpRelInfo;

static void
GetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CpRelInfo  *info = palloc0(sizeof(CpRelInfo));
	CpColumnMap columns;

	cp_get_options(foreigntableid, InvalidOid, &info->opts);
	load_column_map(foreigntableid, &columns);

	/* reltuples is -1 until ANALYZE, 0 after it when the table was empty */
	info->ntuples = baserel->tuples >= 0 ? baserel->tuples : CP_DEFAULT_ROWS;
	baserel->rows = clamp_row_est(info->ntuples *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
	baserel->fdw_private = info;
}

static void
GetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CpRelInfo  *info = (CpRelInfo *) baserel->fdw_private;
	double		requests = Max(1.0, ceil(info->ntuples / info->opts.page_size));
	Cost		startup_cost = CP_REQUEST_COST;
	Cost		total_cost = requests * CP_REQUEST_COST +
		info->ntuples * (cpu_tuple_cost + cpu_operator_cost);

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
#if PG_VERSION_NUM >= 180000
									 0,
#endif
									 startup_cost, total_cost,
									 NIL, NULL, NULL,
#if PG_VERSION_NUM >= 170000
									 NIL,
#endif
									 NIL));
}

/* The list request without its cursor: what EXPLAIN shows. */
static char *
list_base_path(const CpOptions *opts)
{
	StringInfoData buf;
	char		limit[16];

	initStringInfo(&buf);
	appendStringInfoString(&buf, cp_permissions_path(opts->checkpoint));
	snprintf(limit, sizeof(limit), "%d", opts->page_size);
	cp_append_query(&buf, "limit", limit);
	return buf.data;
}

static ForeignScan *
GetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
			   ForeignPath *best_path, List *tlist, List *scan_clauses,
			   Plan *outer_plan)
{
	CpRelInfo  *info = (CpRelInfo *) baserel->fdw_private;
	List	   *fdw_private;

	/* every qual is checked locally; the API filters nothing yet */
	scan_clauses = extract_actual_clauses(scan_clauses, false);
	fdw_private = list_make1(makeString(list_base_path(&info->opts)));

	return make_foreignscan(tlist, scan_clauses, baserel->relid, NIL,
							fdw_private, NIL, NIL, outer_plan);
}

/* ---------------------------------------------------------------------
 * Scanning
 * ---------------------------------------------------------------------
 */

static void
BeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	CpScanState *st = palloc0(sizeof(CpScanState));

	node->fdw_state = st;
	st->list_path = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateListPath));
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	cp_get_options(RelationGetRelid(node->ss.ss_currentRelation),
				   scan_userid(node), &st->opts);
	cp_build_column_map(node->ss.ss_currentRelation, &st->columns);
	st->page_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "checkpoint_perms page",
										 ALLOCSET_DEFAULT_SIZES);
	st->row_cxt = AllocSetContextCreate(estate->es_query_cxt,
										"checkpoint_perms row",
										ALLOCSET_SMALL_SIZES);
}

/* Fetch the next page into page_cxt, dropping the previous one. */
static void
fetch_next_page(CpScanState *st)
{
	MemoryContext oldcxt;
	char	   *path;

	MemoryContextReset(st->page_cxt);
	oldcxt = MemoryContextSwitchTo(st->page_cxt);
	path = cp_list_path(st->list_path, st->after);
	cp_api_list(&st->opts, path, &st->page, &st->stats);
	MemoryContextSwitchTo(oldcxt);
	st->next = 0;
	st->pages_this_scan++;

	/* the contract's three ways a list ends */
	if (!st->page.has_more || st->page.nitems == 0 || st->page.last_id == NULL)
	{
		st->exhausted = true;
		return;
	}
	if (st->after && strcmp(st->after, st->page.last_id) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_PROTOCOL_VIOLATION),
				 errmsg("malformed reply from the OpenAI API"),
				 errdetail("The list cursor did not advance: page %lld ends at \"%s\" again, with has_more true.",
						   (long long) st->pages_this_scan, st->after),
				 errcontext("OpenAI API request: GET %s", path)));
	if (st->after)
		pfree(st->after);
	st->after = MemoryContextStrdup(GetMemoryChunkContext(st), st->page.last_id);
}

static TupleTableSlot *
IterateForeignScan(ForeignScanState *node)
{
	CpScanState *st = (CpScanState *) node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	MemoryContext oldcxt;

	ExecClearTuple(slot);
	while (st->next >= st->page.nitems)
	{
		if (st->exhausted)
			return slot;
		fetch_next_page(st);
	}

	MemoryContextReset(st->row_cxt);
	oldcxt = MemoryContextSwitchTo(st->row_cxt);
	cp_store_permission(&st->columns, &st->page.items[st->next++],
						slot->tts_values, slot->tts_isnull);
	MemoryContextSwitchTo(oldcxt);
	return ExecStoreVirtualTuple(slot);
}

static void
ReScanForeignScan(ForeignScanState *node)
{
	CpScanState *st = (CpScanState *) node->fdw_state;

	/* a list that fit in one page is still at hand: rewind it */
	st->next = 0;
	if (st->exhausted && st->pages_this_scan == 1)
		return;

	MemoryContextReset(st->page_cxt);
	st->page.nitems = 0;
	st->exhausted = false;
	st->pages_this_scan = 0;
	if (st->after)
		pfree(st->after);
	st->after = NULL;
}

static void
EndForeignScan(ForeignScanState *node)
{
	/* the page and row contexts go with the query's context */
}

/* EXPLAIN: the request; with ANALYZE, what it cost. */
static void
explain_stats(const CpStats *stats, bool pages, ExplainState *es)
{
	ExplainPropertyInteger("OpenAI Requests", NULL, stats->requests, es);
	if (pages)
		ExplainPropertyInteger("OpenAI Pages", NULL, stats->pages, es);
	ExplainPropertyInteger("OpenAI Retries", NULL, stats->retries, es);
	ExplainPropertyInteger("OpenAI Bytes Received", NULL, stats->bytes, es);
}

static void
ExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	CpScanState *st = (CpScanState *) node->fdw_state;

	ExplainPropertyText("OpenAI Request", psprintf("GET %s", st->list_path), es);
	if (es->analyze)
		explain_stats(&st->stats, true, es);
}

/* ---------------------------------------------------------------------
 * Granting and revoking
 * ---------------------------------------------------------------------
 */

static int
IsForeignRelUpdatable(Relation rel)
{
	return (1 << CMD_INSERT) | (1 << CMD_DELETE);
}

/* DELETE finds a permission by its id: make the scan carry it. */
static void
AddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						RangeTblEntry *target_rte, Relation target_relation)
{
	CpColumnMap columns;
	Form_pg_attribute attr;
	AttrNumber	attno;

	if (root->parse->commandType == CMD_UPDATE)
		refuse_update();

	cp_build_column_map(target_relation, &columns);
	attno = columns.attno[CP_FIELD_ID];
	if (attno == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no id column to revoke by",
						RelationGetRelationName(target_relation)),
				 errdetail("DELETE revokes each permission by its id."),
				 errhint("Add a column for field \"id\": ALTER FOREIGN TABLE %s ADD COLUMN id text.",
						 RelationGetRelationName(target_relation))));
	attr = TupleDescAttr(RelationGetDescr(target_relation), attno - 1);
	add_row_identity_var(root,
						 makeVar(rtindex, attno, attr->atttypid, attr->atttypmod,
								 attr->attcollation, 0),
						 rtindex, CP_ROWID_NAME);
	/* the API's delete reply holds only the id: RETURNING needs the row */
	if (root->parse->returningList != NIL)
		add_row_identity_var(root,
							 makeWholeRowVar(target_rte, rtindex, 0, false),
							 rtindex, CP_WHOLEROW_NAME);
}

/*
 * Refuse at plan time what cannot work, before anything is sent: ON
 * CONFLICT, and values for the fields the API makes (id, created_at,
 * object).  A NULL constant for one of those is allowed.
 */
static List *
PlanForeignModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
				  int subplan_index)
{
	CmdType		operation = plan->operation;

	if (operation == CMD_UPDATE)
		refuse_update();
	if (operation == CMD_INSERT && plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT ... ON CONFLICT is not supported on checkpoint permissions"),
				 errhint("Look for an existing grant with SELECT ... WHERE project_id = '...' first.")));

	if (operation == CMD_INSERT && resultRelation == (Index) root->parse->resultRelation)
	{
		RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
		CpColumnMap columns;
		ListCell   *lc;

		load_column_map(rte->relid, &columns);
		foreach(lc, root->parse->targetList)
		{
			TargetEntry *tle = (TargetEntry *) lfirst(lc);
			CpField		field;

			if (tle->resjunk || tle->resno > columns.natts)
				continue;
			field = columns.field[tle->resno - 1];
			if (field != CP_FIELD_ID && field != CP_FIELD_CREATED_AT &&
				field != CP_FIELD_OBJECT)
				continue;
			if (IsA(tle->expr, Const) && ((Const *) tle->expr)->constisnull)
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("cannot insert a value into column \"%s\"",
							get_attname(rte->relid, tle->resno, false)),
					 errdetail("The API generates field \"%s\" of a new permission.",
							   cp_field_name(field)),
					 errhint("Insert only project_id; RETURNING shows what the API made.")));
		}
	}
	return list_make1(makeInteger(operation));
}

static CpModifyState *
create_modify_state(ResultRelInfo *rinfo, EState *estate, CmdType operation)
{
	Relation	rel = rinfo->ri_RelationDesc;
	CpModifyState *st = palloc0(sizeof(CpModifyState));

	st->operation = operation;
	cp_get_options(RelationGetRelid(rel), modify_userid(rinfo, estate), &st->opts);
	cp_build_column_map(rel, &st->columns);
	st->batch_size = st->opts.batch_size;
	st->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "checkpoint_perms modify",
										 ALLOCSET_DEFAULT_SIZES);
	if (operation == CMD_INSERT)
	{
		HASHCTL		ctl;

		if (st->columns.attno[CP_FIELD_PROJECT_ID] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" has no project_id column to grant to",
							RelationGetRelationName(rel)),
					 errhint("Add a column for field \"project_id\".")));
		ctl.keysize = CP_MAX_PROJECT_ID + 1;
		ctl.entrysize = CP_MAX_PROJECT_ID + 1;
		ctl.hcxt = estate->es_query_cxt;
		st->granted = hash_create("checkpoint_perms granted projects", 64, &ctl,
								  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	return st;
}

static void
BeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
				   List *fdw_private, int subplan_index, int eflags)
{
	CmdType		operation = (CmdType) intVal(list_nth(fdw_private, FdwModifyPrivateOperation));
	CpModifyState *st;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		st = palloc0(sizeof(CpModifyState));
		st->operation = operation;
		cp_get_options(RelationGetRelid(rinfo->ri_RelationDesc), InvalidOid, &st->opts);
		st->batch_size = st->opts.batch_size;
		rinfo->ri_FdwState = st;
		return;
	}

	st = create_modify_state(rinfo, mtstate->ps.state, operation);
	if (operation == CMD_DELETE)
	{
		List	   *tlist = outerPlanState(mtstate)->plan->targetlist;

		st->rowid_attno = ExecFindJunkAttributeInTlist(tlist, CP_ROWID_NAME);
		if (!AttributeNumberIsValid(st->rowid_attno))
			elog(ERROR, "could not find junk column \"%s\"", CP_ROWID_NAME);
		st->wholerow_attno = ExecFindJunkAttributeInTlist(tlist, CP_WHOLEROW_NAME);
	}
	rinfo->ri_FdwState = st;
}

/* " N grants were applied ..." for the detail of an error mid-statement. */
static const char *
progress_note(const CpModifyState *st)
{
	if (st->applied == 0)
		return NULL;
	return psprintf(" Earlier requests of this statement already %s %lld %s; they stay applied.",
					st->operation == CMD_DELETE ? "revoked" : "granted",
					(long long) st->applied,
					st->applied == 1 ? "permission" : "permissions");
}

/*
 * The project id of a row to grant, checked: not NULL, not empty, not
 * already granted by this statement, no value for what the API makes.
 */
static char *
row_project_id(CpModifyState *st, TupleTableSlot *slot)
{
	const CpColumnMap *map = &st->columns;
	AttrNumber	attno = map->attno[CP_FIELD_PROJECT_ID];
	char	   *project_id;
	bool		found;
	int			f;

	slot_getallattrs(slot);
	for (f = 0; f < CP_NUM_FIELDS; f++)
	{
		AttrNumber	generated = map->attno[f];

		if (f == CP_FIELD_PROJECT_ID || generated == InvalidAttrNumber)
			continue;
		if (!slot->tts_isnull[generated - 1])
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("cannot insert a value into column \"%s\"",
							NameStr(TupleDescAttr(slot->tts_tupleDescriptor, generated - 1)->attname)),
					 errdetail("The API generates field \"%s\" of a new permission.%s",
							   cp_field_name((CpField) f), progress_note(st) ? progress_note(st) : ""),
					 errhint("Insert only project_id; RETURNING shows what the API made.")));
	}

	project_id = cp_text_value(map, CP_FIELD_PROJECT_ID, slot->tts_values[attno - 1],
							   slot->tts_isnull[attno - 1]);
	if (project_id == NULL || project_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a grant needs a project_id"),
				 errdetail("A row has %s project_id.%s", project_id ? "an empty" : "a NULL",
						   progress_note(st) ? progress_note(st) : "")));
	if (strlen(project_id) > CP_MAX_PROJECT_ID)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("project_id is longer than %d bytes", CP_MAX_PROJECT_ID)));
	hash_search(st->granted, project_id, HASH_ENTER, &found);
	if (found)
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("project \"%s\" is granted twice in one statement", project_id),
				 errdetail("Each grant creates a permission; a project needs one.%s",
						   progress_note(st) ? progress_note(st) : "")));
	return project_id;
}

/* POST one batch of project ids; the permissions come back in their order. */
static CpPermission *
send_grants(CpModifyState *st, char **project_ids, int n)
{
	CpPermission *made;

	cp_xact_wrote = true;
	made = cp_api_create(&st->opts, project_ids, n, progress_note(st), &st->stats);
	st->applied += n;
	return made;
}

/* Grant the rows of slots in one request; fill each slot from the reply. */
static void
grant_slots(CpModifyState *st, TupleTableSlot **slots, int n)
{
	MemoryContext oldcxt;
	char	  **project_ids;
	CpPermission *made;
	int			i;

	MemoryContextReset(st->temp_cxt);
	oldcxt = MemoryContextSwitchTo(st->temp_cxt);

	project_ids = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
		project_ids[i] = row_project_id(st, slots[i]);
	made = send_grants(st, project_ids, n);

	/* RETURNING and AFTER triggers see what the API made */
	for (i = 0; i < n; i++)
	{
		ExecClearTuple(slots[i]);
		cp_store_permission(&st->columns, &made[i],
							slots[i]->tts_values, slots[i]->tts_isnull);
		ExecStoreVirtualTuple(slots[i]);
	}
	MemoryContextSwitchTo(oldcxt);
}

/* COPY before PostgreSQL 16: send the rows collected so far. */
static void
flush_pending(CpModifyState *st)
{
	MemoryContext oldcxt;

	if (st->npending == 0)
		return;
	MemoryContextReset(st->temp_cxt);
	oldcxt = MemoryContextSwitchTo(st->temp_cxt);
	(void) send_grants(st, st->pending, st->npending);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(st->pending_cxt);
	st->npending = 0;
	st->pending = NULL;
}

static TupleTableSlot *
ExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
				  TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	CpModifyState *st = (CpModifyState *) rinfo->ri_FdwState;

	if (st->defer)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(st->pending_cxt);

		if (st->pending == NULL)
			st->pending = palloc(sizeof(char *) * st->batch_size);
		st->pending[st->npending++] = row_project_id(st, slot);
		MemoryContextSwitchTo(oldcxt);
		if (st->npending == st->batch_size)
			flush_pending(st);
		return slot;
	}
	grant_slots(st, &slot, 1);
	return slot;
}

static TupleTableSlot **
ExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
					   TupleTableSlot **slots, TupleTableSlot **planSlots,
					   int *numSlots)
{
	grant_slots((CpModifyState *) rinfo->ri_FdwState, slots, *numSlots);
	return slots;
}

/*
 * Batch unless the rows must be seen one by one: RETURNING, row triggers
 * and WITH CHECK OPTION need each row's reply before the next row.
 */
static int
GetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	CpModifyState *st = (CpModifyState *) rinfo->ri_FdwState;
	CpOptions	opts;

	if (rinfo->ri_projectReturning != NULL || rinfo->ri_WithCheckOptions != NIL ||
		(rinfo->ri_TrigDesc &&
		 (rinfo->ri_TrigDesc->trig_insert_before_row ||
		  rinfo->ri_TrigDesc->trig_insert_after_row)))
		return 1;
	if (st)
		return st->batch_size;
	cp_get_options(RelationGetRelid(rinfo->ri_RelationDesc), InvalidOid, &opts);
	return opts.batch_size;
}

/* Fill slot with the scanned row that DELETE ... RETURNING returns. */
static void
store_deleted_row(CpModifyState *st, TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		datum = ExecGetJunkAttribute(planSlot, st->wholerow_attno, &isnull);
	HeapTupleHeader td;
	HeapTupleData tuple;

	ExecClearTuple(slot);
	if (isnull)
	{
		ExecStoreAllNullTuple(slot);
		return;
	}
	td = DatumGetHeapTupleHeader(datum);
	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, slot->tts_tupleDescriptor, slot->tts_values, slot->tts_isnull);
	ExecStoreVirtualTuple(slot);
}

static TupleTableSlot *
ExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
				  TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	CpModifyState *st = (CpModifyState *) rinfo->ri_FdwState;
	MemoryContext oldcxt;
	bool		isnull;
	Datum		datum;
	char	   *id;
	bool		deleted;

	MemoryContextReset(st->temp_cxt);
	oldcxt = MemoryContextSwitchTo(st->temp_cxt);
	datum = ExecGetJunkAttribute(planSlot, st->rowid_attno, &isnull);
	id = cp_text_value(&st->columns, CP_FIELD_ID, datum, isnull);
	if (id == NULL || id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cannot revoke a permission without an id"),
				 errdetail("The row to delete has %s id.%s", id ? "an empty" : "a NULL",
						   progress_note(st) ? progress_note(st) : "")));
	cp_xact_wrote = true;
	deleted = cp_api_delete(&st->opts, id, progress_note(st), &st->stats);
	MemoryContextSwitchTo(oldcxt);

	/* gone already: not counted, as for a row deleted concurrently */
	if (!deleted)
		return NULL;
	st->applied++;
	if (st->wholerow_attno != InvalidAttrNumber)
		store_deleted_row(st, slot, planSlot);
	return slot;
}

static void
EndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	CpModifyState *st = (CpModifyState *) rinfo->ri_FdwState;

	if (st && st->defer)
		flush_pending(st);
}

/* COPY FROM and rows routed into a foreign partition. */
static void
BeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	ModifyTable *plan = (ModifyTable *) mtstate->ps.plan;
	CpModifyState *st;

	if (plan && plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT ... ON CONFLICT is not supported on checkpoint permissions"),
				 errhint("Look for an existing grant with SELECT ... WHERE project_id = '...' first.")));

	st = create_modify_state(rinfo, mtstate->ps.state, CMD_INSERT);

#if PG_VERSION_NUM < 160000
	/*
	 * COPY has no plan, and before PostgreSQL 16 it inserts into a foreign
	 * table row by row.  Collect its rows into batches ourselves, unless a
	 * row trigger must see each row as granted.
	 */
	if (plan == NULL && st->batch_size > 1 &&
		!(rinfo->ri_TrigDesc &&
		  (rinfo->ri_TrigDesc->trig_insert_before_row ||
		   rinfo->ri_TrigDesc->trig_insert_after_row)))
	{
		st->defer = true;
		st->pending_cxt = AllocSetContextCreate(mtstate->ps.state->es_query_cxt,
												"checkpoint_perms pending grants",
												ALLOCSET_DEFAULT_SIZES);
	}
#endif
	rinfo->ri_FdwState = st;
}

static void
EndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	EndForeignModify(estate, rinfo);
}

static void
ExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					 List *fdw_private, int subplan_index, ExplainState *es)
{
	CpModifyState *st = (CpModifyState *) rinfo->ri_FdwState;
	char	   *path = cp_permissions_path(st->opts.checkpoint);

	if (st->operation == CMD_INSERT)
	{
		ExplainPropertyText("OpenAI Request", psprintf("POST %s", path), es);
		ExplainPropertyInteger("OpenAI Batch Size", NULL, rinfo->ri_BatchSize, es);
	}
	else
		ExplainPropertyText("OpenAI Request", psprintf("DELETE %s/{id}", path), es);
	if (es->analyze)
		explain_stats(&st->stats, false, es);
}

static void
ExecForeignTruncate(List *rels, DropBehavior behavior, bool restart_seqs)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("TRUNCATE is not supported on checkpoint permissions"),
			 errhint("Revoke every permission with DELETE FROM the foreign table.")));
}

PG_FUNCTION_INFO_V1(checkpoint_perms_handler);

Datum
checkpoint_perms_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = GetForeignRelSize;
	routine->GetForeignPaths = GetForeignPaths;
	routine->GetForeignPlan = GetForeignPlan;
	routine->BeginForeignScan = BeginForeignScan;
	routine->IterateForeignScan = IterateForeignScan;
	routine->ReScanForeignScan = ReScanForeignScan;
	routine->EndForeignScan = EndForeignScan;
	routine->ExplainForeignScan = ExplainForeignScan;

	routine->IsForeignRelUpdatable = IsForeignRelUpdatable;
	routine->AddForeignUpdateTargets = AddForeignUpdateTargets;
	routine->PlanForeignModify = PlanForeignModify;
	routine->BeginForeignModify = BeginForeignModify;
	routine->ExecForeignInsert = ExecForeignInsert;
	routine->ExecForeignBatchInsert = ExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = GetForeignModifyBatchSize;
	routine->ExecForeignDelete = ExecForeignDelete;
	routine->EndForeignModify = EndForeignModify;
	routine->BeginForeignInsert = BeginForeignInsert;
	routine->EndForeignInsert = EndForeignInsert;
	routine->ExplainForeignModify = ExplainForeignModify;
	routine->ExecForeignTruncate = ExecForeignTruncate;

	PG_RETURN_POINTER(routine);
}
