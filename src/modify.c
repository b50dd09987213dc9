/*-------------------------------------------------------------------------
 *
 * modify.c
 *		  Granting (INSERT, COPY, rows routed into a foreign partition) and
 *		  revoking (DELETE); what is refused (UPDATE, TRUNCATE, ON CONFLICT).
 *
 * Writes go to the API as they happen: the API has no transactions, so a
 * ROLLBACK cannot undo them.  A grant batches project ids into one POST
 * per batch_size rows; a revoke sends one DELETE per row, by its id.  With
 * apply_writes 'at_commit' they are queued instead (queue.c), and the
 * COMMIT sends them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "executor.h"
#include "planner.h"
#include "effects.h"

/* Positions in the fdw_private of a ModifyTable's foreign target. */
enum FdwModifyPrivateIndex
{
	FdwModifyPrivateOperation,	/* Integer: CmdType */
	FdwModifyPrivateDoNothing	/* Integer: ON CONFLICT DO NOTHING (0 or 1); no
								 * Boolean node before PostgreSQL 15 */
};

/*
 * The row identity of a DELETE row by row: the whole row scanned, a Var of
 * type RECORD (AddForeignUpdateTargets).  Its name is ours: core's
 * "wholerow" is the OLD row it hands to row triggers.
 */
#define CP_WHOLEROW_NAME "cp_wholerow"

typedef struct CpModifyState
{
	CpOptions	opts;			/* checkpoint: the table's, NULL across
								 * checkpoints (each row's goes to a copy) */
	Oid			relid;
	CpColumnMap columns;
	CmdType		operation;
	AttrNumber	wholerow_attno; /* DELETE: junk column with the row scanned */
	int			batch_size;
	double		est_rows;		/* permissions thought to be there; < 0: unknown */
	CpStrSet   *granted;		/* the project ids granted to */
	bool		do_nothing;		/* ON CONFLICT DO NOTHING: skip projects that
								 * have a permission */
	CpStrSet   *existing;		/* do_nothing: projects known to have one */
	bool		existing_all;	/* ...from one full list: all of them */
	int			lists_sent;		/* do_nothing: filtered lists sent so far */
	CpStatement *stmt;			/* remembers the permissions made */
	int64		applied;		/* grants or revokes done by this statement */
	bool		defer;			/* COPY before 16: collect rows into batches */
	char	  **pending;		/* deferred project ids */
	int			npending;
	MemoryContext pending_cxt;
	MemoryContext temp_cxt;		/* per call of ExecForeign*; reset each call */
	MemoryContext query_cxt;	/* the statement's: what it learns lives here */
	CpStats		stats;
} CpModifyState;


/*
 * The role whose user mapping a grant or revoke uses: the range-table
 * entry's checkAsUser (a view's owner, for a write through a view), else
 * the current user (which a SECURITY DEFINER function has made its owner).
 * A row routed into a foreign partition has no range-table entry of its own
 * (ri_RangeTableIndex is 0): the partitioned table it was written to
 * decides, as in postgres_fdw.
 */
static Oid
modify_userid(ResultRelInfo *rinfo, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return ExecGetResultRelCheckAsUser(rinfo, estate);
#else
	Index		rti = rinfo->ri_RangeTableIndex;
	RangeTblEntry *rte;

	if (rti == 0 && rinfo->ri_RootResultRelInfo != NULL)
		rti = rinfo->ri_RootResultRelInfo->ri_RangeTableIndex;
	if (rti == 0)
		return GetUserId();
	rte = exec_rt_fetch(rti, estate);
	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
#endif
}


/*
 * ON CONFLICT DO NOTHING without a conflict target skips the projects that
 * already have a permission; anything else is refused.
 */
static bool
check_on_conflict(OnConflictAction action, List *arbiters)
{
	if (action == ONCONFLICT_NONE)
		return false;
	if (action == ONCONFLICT_NOTHING && arbiters == NIL)
		return true;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 action == ONCONFLICT_UPDATE ?
			 errmsg("INSERT ... ON CONFLICT DO UPDATE is not supported on checkpoint permissions") :
			 errmsg("INSERT ... ON CONFLICT with a conflict target is not supported on checkpoint permissions"),
			 errhint("Use ON CONFLICT DO NOTHING without a target: it skips the projects that already have a permission.")));
	return false;				/* keep the compiler quiet */
}

static void
refuse_update(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("UPDATE is not supported on checkpoint permissions"),
			 errhint("A permission cannot be changed: revoke it with DELETE, then grant anew with INSERT.")));
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

/*
 * DELETE finds a permission by its id (and, across checkpoints, its
 * checkpoint), the journal names its project, and RETURNING returns the
 * row: make the scan carry the whole row, from which ExecForeignDelete
 * reads each with the target's own column map.
 *
 * Why the whole row, as a RECORD: a DELETE of a partitioned table gives
 * all its partitions one junk column per name, and the planner accepts a
 * name only when each partition asks for an equal Var but for its varno
 * (add_row_identity_var).  A Var of a column has the partition's attribute
 * number, and a whole-row Var its row type; both differ between partitions
 * whose columns are in another order, or dropped.  A whole-row Var of type
 * RECORD, like core's "wholerow", is the same in every partition.  (Junk
 * names made of attribute number and type would work too, at the cost of
 * a column per variant and per field, found anew in each partition.)  A
 * permission is a few short strings: carrying all of it costs little.
 */
static void
AddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						RangeTblEntry *target_rte, Relation target_relation)
{
	CpColumnMap columns;

	if (root->parse->commandType == CMD_UPDATE)
		refuse_update();

	cp_build_column_map(target_relation, &columns);
	if (columns.attno[CP_FIELD_ID] == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("foreign table \"%s\" has no id column to revoke by",
						RelationGetRelationName(target_relation)),
				 errdetail("DELETE revokes each permission by its id."),
				 errhint("Add a column for field \"id\": ALTER FOREIGN TABLE %s ADD COLUMN id text.",
						 RelationGetRelationName(target_relation))));
	add_row_identity_var(root,
						 makeVar(rtindex, InvalidAttrNumber, RECORDOID, -1, InvalidOid, 0),
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
	bool		do_nothing = false;

	if (operation == CMD_UPDATE)
		refuse_update();
	if (operation == CMD_INSERT)
		do_nothing = check_on_conflict(plan->onConflictAction, plan->arbiterIndexes);

	if (operation == CMD_INSERT && resultRelation == (Index) root->parse->resultRelation)
	{
		RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
		CpColumnMap columns;
		ListCell   *lc;

		cp_load_column_map(rte->relid, &columns);
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
	return list_make2(makeInteger(operation), makeInteger(do_nothing));
}

static CpModifyState *
create_modify_state(ResultRelInfo *rinfo, EState *estate, CmdType operation)
{
	Relation	rel = rinfo->ri_RelationDesc;
	CpModifyState *st = palloc0(sizeof(CpModifyState));

	st->operation = operation;
	st->relid = RelationGetRelid(rel);
	cp_get_options(RelationGetRelid(rel), modify_userid(rinfo, estate), &st->opts);
	cp_build_column_map(rel, &st->columns);
	st->batch_size = st->opts.batch_size;
	st->est_rows = rel->rd_rel->reltuples;	/* -1 until ANALYZE */
	st->query_cxt = estate->es_query_cxt;
	st->temp_cxt = AllocSetContextCreate(estate->es_query_cxt,
										 "checkpoint_perms modify",
										 ALLOCSET_DEFAULT_SIZES);
	st->stmt = cp_statement(estate);
	if (operation == CMD_INSERT)
	{
		if (st->columns.attno[CP_FIELD_PROJECT_ID] == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
					 errmsg("foreign table \"%s\" has no project_id column to grant to",
							RelationGetRelationName(rel)),
					 errhint("Add a column for field \"project_id\".")));
		st->granted = cp_strset_create(estate->es_query_cxt);
	}
	return st;
}

static void
BeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
				   List *fdw_private, int subplan_index, int eflags)
{
	CmdType		operation = (CmdType) intVal(list_nth(fdw_private, FdwModifyPrivateOperation));
	bool		do_nothing = intVal(list_nth(fdw_private, FdwModifyPrivateDoNothing)) != 0;
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
	st->do_nothing = do_nothing;
	if (operation == CMD_DELETE)
	{
		List	   *tlist = outerPlanState(mtstate)->plan->targetlist;

		st->wholerow_attno = ExecFindJunkAttributeInTlist(tlist, CP_WHOLEROW_NAME);
		if (!AttributeNumberIsValid(st->wholerow_attno))
			elog(ERROR, "could not find junk column \"%s\"", CP_WHOLEROW_NAME);
	}
	rinfo->ri_FdwState = st;
}

/*
 * " Earlier requests ... already granted N permissions ...", to end the
 * detail of an error mid-statement; "" before anything was applied.
 */
static const char *
progress_note(const CpModifyState *st)
{
	return cp_progress_note(st->operation == CMD_DELETE, st->applied);
}

/*
 * The checkpoint a row of a table across checkpoints names: given, not
 * empty, a valid id.
 */
static char *
row_checkpoint_value(CpModifyState *st, Datum value, bool isnull)
{
	char	   *checkpoint = cp_text_value(&st->columns, CP_FIELD_CHECKPOINT, value, isnull);

	if (checkpoint == NULL || checkpoint[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a row of a table across checkpoints needs a checkpoint"),
				 errdetail("A row has %s checkpoint.%s", checkpoint ? "an empty" : "a NULL",
						   progress_note(st))));
	cp_check_sql_id(CP_ID_CHECKPOINT, checkpoint, progress_note(st));
	return checkpoint;
}

/*
 * The checkpoint a row to grant goes to: the table's own (a checkpoint
 * column, if given a value, must name it), or for a table across
 * checkpoints the row's.
 */
static char *
row_checkpoint(CpModifyState *st, TupleTableSlot *slot)
{
	AttrNumber	attno = st->columns.attno[CP_FIELD_CHECKPOINT];
	char	   *given;

	slot_getallattrs(slot);
	if (st->columns.checkpoint == NULL)
		return row_checkpoint_value(st, slot->tts_values[attno - 1], slot->tts_isnull[attno - 1]);
	if (attno == InvalidAttrNumber || slot->tts_isnull[attno - 1])
		return st->columns.checkpoint;
	given = cp_text_value(&st->columns, CP_FIELD_CHECKPOINT, slot->tts_values[attno - 1], false);
	if (strcmp(given, st->columns.checkpoint) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("a row names checkpoint \"%s\", not this table's", cp_shorten(given)),
				 errdetail("Foreign table \"%s\" holds the permissions of checkpoint \"%s\".%s",
						   get_rel_name(st->relid), cp_shorten(st->columns.checkpoint),
						   progress_note(st)),
				 errhint("Leave the checkpoint column out, or grant through a table across checkpoints.")));
	return st->columns.checkpoint;
}

/*
 * The key of a grant in the statement's sets: the project, and across
 * checkpoints the checkpoint too (length first, so no pair spells another).
 */
static char *
grant_key(CpModifyState *st, const char *checkpoint, const char *project_id)
{
	if (st->columns.checkpoint != NULL)
		return (char *) project_id;
	return psprintf("%zu:%s%s", strlen(checkpoint), checkpoint, project_id);
}

/*
 * The project id of a row to grant, checked: not NULL, not empty, not
 * already granted by this statement, no value for what the API makes.
 * With ON CONFLICT DO NOTHING a project the statement has already seen is
 * skipped (NULL), as a row that conflicts with an earlier row of the same
 * statement is.
 */
static char *
row_project_id(CpModifyState *st, TupleTableSlot *slot, const char *checkpoint)
{
	const CpColumnMap *map = &st->columns;
	AttrNumber	attno = map->attno[CP_FIELD_PROJECT_ID];
	char	   *project_id;
	int			f;

	slot_getallattrs(slot);
	for (f = 0; f < CP_NUM_FIELDS; f++)
	{
		AttrNumber	generated = map->attno[f];

		if (f == CP_FIELD_PROJECT_ID || f == CP_FIELD_CHECKPOINT || generated == InvalidAttrNumber)
			continue;
		if (!slot->tts_isnull[generated - 1])
			ereport(ERROR,
					(errcode(ERRCODE_GENERATED_ALWAYS),
					 errmsg("cannot insert a value into column \"%s\"",
							NameStr(TupleDescAttr(slot->tts_tupleDescriptor, generated - 1)->attname)),
					 errdetail("The API generates field \"%s\" of a new permission.%s",
							   cp_field_name((CpField) f), progress_note(st)),
					 errhint("Insert only project_id; RETURNING shows what the API made.")));
	}

	project_id = cp_text_value(map, CP_FIELD_PROJECT_ID, slot->tts_values[attno - 1],
							   slot->tts_isnull[attno - 1]);
	if (project_id == NULL || project_id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("a grant needs a project_id"),
				 errdetail("A row has %s project_id.%s", project_id ? "an empty" : "a NULL",
						   progress_note(st))));
	cp_check_sql_id(CP_ID_PROJECT, project_id, progress_note(st));
	if (!cp_strset_add(st->granted, grant_key(st, checkpoint, project_id)))
	{
		if (st->do_nothing)
			return NULL;
		ereport(ERROR,
				(errcode(ERRCODE_UNIQUE_VIOLATION),
				 errmsg("project \"%s\" is granted twice in one statement", cp_shorten(project_id)),
				 errdetail("Each grant creates a permission; a project needs one.%s",
						   progress_note(st)),
				 errhint("INSERT ... ON CONFLICT DO NOTHING grants each project once and skips the rest.")));
	}
	return project_id;
}

/*
 * apply_writes 'at_commit': queue the grants of the batches instead of
 * sending them.  What RETURNING and AFTER triggers see of each is what the
 * API has not made yet: no id, no created_at.  A project whose grant the
 * transaction queued already is granted twice, as in one statement.
 */
static void
queue_batches(CpModifyState *st, CpGrantBatch *batches, int nbatches)
{
	int			b;
	int			i;

	for (b = 0; b < nbatches; b++)
	{
		CpGrantBatch *batch = &batches[b];

		batch->made = palloc0(sizeof(CpPermission) * batch->n);
		for (i = 0; i < batch->n; i++)
		{
			if (!cp_queue_grant(&batch->opts, st->relid, batch->opts.checkpoint,
								batch->project_ids[i]))
				ereport(ERROR,
						(errcode(ERRCODE_UNIQUE_VIOLATION),
						 errmsg("project \"%s\" is granted twice in one transaction",
								cp_shorten(batch->project_ids[i])),
						 errdetail("This transaction queued a grant of it for COMMIT already (option \"apply_writes\" is \"at_commit\")."),
						 errhint("INSERT ... ON CONFLICT DO NOTHING skips the projects that have a permission or a queued grant.")));
			batch->made[i].project_id = batch->project_ids[i];
			batch->made[i].object = "checkpoint.permission";
		}
	}
}

/*
 * Grant one batch of project ids, each exactly once (grant.c); the
 * permissions come back in their order.  The statement remembers them, so
 * that its later scans skip them.
 */
static CpPermission *
send_grants(CpModifyState *st, char **project_ids, int n)
{
	CpPermission *made;
	int			i;

	if (st->opts.at_commit)
	{
		CpGrantBatch batch = {st->opts, project_ids, n, NULL};

		queue_batches(st, &batch, 1);
		return batch.made;
	}
	cp_note_write();
	made = cp_grant_once(&st->opts, project_ids, n, st->est_rows, progress_note(st),
						 &st->stats, NULL);
	st->applied += n;
	for (i = 0; i < n; i++)
		cp_statement_granted(st->stmt, st->opts.checkpoint, made[i].id);
	return made;
}

CP_NORETURN static void report_concurrent_grant(const CpOptions *opts, const char *project_id);

/*
 * REPEATABLE READ, SERIALIZABLE: the conflict is a permission that the
 * transaction's kept list does not show, as PostgreSQL fails an ON CONFLICT
 * whose conflicting row its snapshot cannot see.
 */
static void
report_concurrent_grant(const CpOptions *opts, const char *project_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("could not serialize access due to a concurrent grant"),
			 errdetail("Project \"%s\" has a permission on checkpoint \"%s\" that the list this transaction read does not show: another session granted it since.",
					   cp_shorten(project_id), cp_shorten(opts->checkpoint)),
			 errhint("Run the transaction again.")));
}

/*
 * ON CONFLICT DO NOTHING: set skip[i] for the project ids that already
 * have a permission on the checkpoint, with as few list requests as the
 * statement can: what it learned before is kept (every project of the
 * checkpoint, once it made one full list), the others get one filtered
 * list each, until the filtered lists of the statement would outnumber
 * the requests of one full list; then it makes that full list instead.
 */
static void
skip_existing(CpModifyState *st, const CpOptions *opts, char **project_ids, int n, bool *skip)
{
	char	  **ask = palloc(sizeof(char *) * n);
	int		   *asked = palloc(sizeof(int) * n);
	bool	   *found = palloc(sizeof(bool) * n);
	CpPermission *newest = palloc(sizeof(CpPermission) * n);
	int			nask = 0;
	bool		full;
	int			i;

	if (st->existing == NULL)
		st->existing = cp_strset_create(st->query_cxt);
	for (i = 0; i < n; i++)
	{
		skip[i] = project_ids[i] == NULL ||
			cp_strset_contains(st->existing, grant_key(st, opts->checkpoint, project_ids[i])) ||
			(opts->at_commit && cp_queue_has_grant(opts->serverid, opts->checkpoint,
												   project_ids[i]));
		if (!skip[i] && !st->existing_all)
		{
			ask[nask] = project_ids[i];
			asked[nask++] = i;
		}
	}
	if (nask > 0)
	{
		/*
		 * Across checkpoints, one full list would answer for one checkpoint
		 * only; with revokes queued, the newest permission of each project
		 * must be seen (below).
		 */
		full = st->columns.checkpoint != NULL &&
			st->lists_sent + nask > cp_full_list_requests(opts, st->est_rows) &&
			!(opts->at_commit && cp_queue_revokes_on(opts->serverid, opts->checkpoint));
		cp_list_projects(opts, ask, nask, full, found, newest,
						 full ? st->existing : NULL, &st->stats);
		if (full)
			st->existing_all = true;
		else
			st->lists_sent += nask;
		for (i = 0; i < nask; i++)
		{
			/* a project whose newest permission this transaction revokes has none */
			if (!found[i] || (opts->at_commit && !full &&
							  cp_queue_hides(opts->serverid, opts->checkpoint, newest[i].id,
											 InvalidCommandId)))
				continue;
			skip[asked[i]] = true;
			(void) cp_strset_add(st->existing, grant_key(st, opts->checkpoint, ask[i]));
		}
	}
	/*
	 * REPEATABLE READ: a conflict the transaction's lists do not show (a
	 * grant this transaction queued is none of the API's)
	 */
	for (i = 0; i < n; i++)
		if (skip[i] && project_ids[i] &&
			!(opts->at_commit && cp_queue_has_grant(opts->serverid, opts->checkpoint,
													project_ids[i])) &&
			cp_snapshot_hides_project(opts, opts->checkpoint, project_ids[i]))
			report_concurrent_grant(opts, project_ids[i]);
}

/* The rows of one checkpoint to grant, and where they go (grant_slots). */
typedef struct CpRowBatches
{
	CpGrantBatch *batches;		/* one per checkpoint, in the order named */
	int		  **rows;			/* per batch: the slot of each project id */
	int			n;
} CpRowBatches;

/*
 * Split the rows into one batch per checkpoint, in the order the rows name
 * them; with ON CONFLICT DO NOTHING, leave out the projects that already
 * have a permission (a checkpoint left with none has no batch).
 */
static void
batch_rows(CpModifyState *st, int n, char **checkpoints, char **project_ids,
		   CpRowBatches *out)
{
	bool	   *done = palloc0(sizeof(bool) * n);
	int			i;

	out->batches = palloc0(sizeof(CpGrantBatch) * n);
	out->rows = palloc(sizeof(int *) * n);
	out->n = 0;
	for (i = 0; i < n; i++)
	{
		CpOptions	opts = st->opts;	/* with this batch's checkpoint */
		char	  **ids;
		int		   *rows;
		bool	   *skip;
		int			nrows = 0;
		int			ngrant = 0;
		int			j;

		if (done[i])
			continue;
		ids = palloc(sizeof(char *) * n);
		rows = palloc(sizeof(int) * n);
		skip = palloc0(sizeof(bool) * n);
		opts.checkpoint = checkpoints[i];
		for (j = i; j < n; j++)
		{
			if (done[j] || strcmp(checkpoints[j], checkpoints[i]) != 0)
				continue;
			done[j] = true;
			rows[nrows] = j;
			ids[nrows++] = project_ids[j];
		}
		if (st->do_nothing)
			skip_existing(st, &opts, ids, nrows, skip);
		for (j = 0; j < nrows; j++)
		{
			if (skip[j])
				continue;
			rows[ngrant] = rows[j];
			ids[ngrant++] = ids[j];
		}
		if (ngrant == 0)
			continue;
		out->batches[out->n].opts = opts;
		out->batches[out->n].project_ids = ids;
		out->batches[out->n].n = ngrant;
		out->rows[out->n++] = rows;
	}
}

/*
 * Fill each granted slot from what the API made, in the order granted,
 * into granted[]; placed[] marks their rows.  Returns how many.
 */
static int
store_granted(CpModifyState *st, TupleTableSlot **slots, const CpRowBatches *rb,
			  TupleTableSlot **granted, bool *placed)
{
	int			ngranted = 0;
	int			b;
	int			i;

	for (b = 0; b < rb->n; b++)
	{
		CpGrantBatch *batch = &rb->batches[b];

		if (!st->opts.at_commit)
			st->applied += batch->n;
		for (i = 0; i < batch->n; i++)
		{
			TupleTableSlot *slot = slots[rb->rows[b][i]];

			if (batch->made[i].id)
				cp_statement_granted(st->stmt, batch->opts.checkpoint, batch->made[i].id);
			/* RETURNING and AFTER triggers see what the API made */
			batch->made[i].checkpoint = batch->opts.checkpoint;
			ExecClearTuple(slot);
			cp_store_permission(&st->columns, &batch->made[i], slot->tts_values, slot->tts_isnull);
			ExecStoreVirtualTuple(slot);
			granted[ngranted++] = slot;
			placed[rb->rows[b][i]] = true;
		}
	}
	return ngranted;
}

/*
 * Grant the rows of slots, one request per checkpoint they name (one for a
 * table of one checkpoint), the requests of several checkpoints at once;
 * fill each granted slot from the reply and move it to the front.  Returns
 * how many were granted: with ON CONFLICT DO NOTHING, projects that have a
 * permission are skipped.
 */
static int
grant_slots(CpModifyState *st, TupleTableSlot **slots, int n)
{
	MemoryContext oldcxt;
	char	  **project_ids;
	char	  **checkpoints;
	bool	   *placed;
	TupleTableSlot **granted;
	CpRowBatches rb;
	int			ngranted;
	int			i;
	int			k;

	MemoryContextReset(st->temp_cxt);
	oldcxt = MemoryContextSwitchTo(st->temp_cxt);

	project_ids = palloc(sizeof(char *) * n);
	checkpoints = palloc(sizeof(char *) * n);
	placed = palloc0(sizeof(bool) * n);
	granted = palloc(sizeof(TupleTableSlot *) * n);
	for (i = 0; i < n; i++)
	{
		checkpoints[i] = row_checkpoint(st, slots[i]);
		project_ids[i] = row_project_id(st, slots[i], checkpoints[i]);
	}
	batch_rows(st, n, checkpoints, project_ids, &rb);
	if (rb.n > 0 && st->opts.at_commit)
		queue_batches(st, rb.batches, rb.n);
	else if (rb.n > 0)
	{
		cp_note_write();
		cp_grant_many(rb.batches, rb.n, st->est_rows, progress_note(st), &st->stats);
	}
	ngranted = store_granted(st, slots, &rb, granted, placed);

	/* the granted rows first, in the order they were granted; the rest after */
	k = ngranted;
	for (i = 0; i < n; i++)
		if (!placed[i])
			granted[k++] = slots[i];
	memcpy(slots, granted, sizeof(TupleTableSlot *) * n);
	MemoryContextSwitchTo(oldcxt);
	return ngranted;
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
		st->pending[st->npending++] = row_project_id(st, slot, row_checkpoint(st, slot));
		MemoryContextSwitchTo(oldcxt);
		if (st->npending == st->batch_size)
			flush_pending(st);
		return slot;
	}
	if (grant_slots(st, &slot, 1) == 0)
		return NULL;			/* ON CONFLICT DO NOTHING skipped it */
	return slot;
}

static TupleTableSlot **
ExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
					   TupleTableSlot **slots, TupleTableSlot **planSlots,
					   int *numSlots)
{
	*numSlots = grant_slots((CpModifyState *) rinfo->ri_FdwState, slots, *numSlots);
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

/*
 * Fill slot (the target's row type) with the row to delete, from the junk
 * whole row: its fields are the target's, whatever the row type of the
 * table the DELETE names.  Materialized: its values would point into the
 * junk datum, which lives in the scan's per-tuple memory, and the slot
 * (the result relation's returning slot) must not depend on when that is
 * reset.
 */
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
	ExecMaterializeSlot(slot);
}

/* The text of a field of the row in slot, or NULL (also for an absent field). */
static char *
deleted_field(CpModifyState *st, TupleTableSlot *slot, CpField field)
{
	AttrNumber	attno = st->columns.attno[field];

	if (attno == InvalidAttrNumber)
		return NULL;
	return cp_text_value(&st->columns, field, slot->tts_values[attno - 1],
						 slot->tts_isnull[attno - 1]);
}

/*
 * DELETE one permission (revocation.c: recorded in the journal from before
 * it is sent, so a cancel or a lost reply leaves it there as "unknown").
 */
static bool
send_revoke(CpModifyState *st, char *checkpoint, const char *project_id, const char *id)
{
	CpOptions	opts = st->opts;

	opts.checkpoint = checkpoint;
	return cp_revoke_one(&opts, project_id, id, progress_note(st), &st->stats);
}

/*
 * apply_writes 'at_commit': a row without an id is a grant this
 * transaction queued (its project's); deleting it drops it from the
 * queue, and nothing is sent for either.  Returns whether it was there.
 */
static bool
delete_queued_grant(CpModifyState *st, TupleTableSlot *slot)
{
	char	   *project_id = deleted_field(st, slot, CP_FIELD_PROJECT_ID);
	char	   *checkpoint = st->columns.checkpoint;

	if (checkpoint == NULL)
	{
		AttrNumber	attno = st->columns.attno[CP_FIELD_CHECKPOINT];

		checkpoint = row_checkpoint_value(st, slot->tts_values[attno - 1],
										  slot->tts_isnull[attno - 1]);
	}
	return project_id != NULL &&
		cp_queue_cancel_grant(st->opts.serverid, checkpoint, project_id);
}

/*
 * Revoke the row the scan found (or queue its revoke, apply_writes
 * 'at_commit'); slot, filled with it, is what RETURNING and AFTER
 * triggers see.
 */
static TupleTableSlot *
ExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
				  TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	CpModifyState *st = (CpModifyState *) rinfo->ri_FdwState;
	MemoryContext oldcxt;
	char	   *id;
	char	   *checkpoint = st->columns.checkpoint;
	bool		deleted;

	MemoryContextReset(st->temp_cxt);
	oldcxt = MemoryContextSwitchTo(st->temp_cxt);
	store_deleted_row(st, slot, planSlot);
	id = deleted_field(st, slot, CP_FIELD_ID);
	if (id == NULL && st->opts.at_commit)
	{
		bool		cancelled = delete_queued_grant(st, slot);

		MemoryContextSwitchTo(oldcxt);
		return cancelled ? slot : NULL;
	}
	if (id == NULL || id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cannot revoke a permission without an id"),
				 errdetail("The row to delete has %s id.%s", id ? "an empty" : "a NULL",
						   progress_note(st))));
	if (st->columns.checkpoint == NULL)
	{
		AttrNumber	attno = st->columns.attno[CP_FIELD_CHECKPOINT];

		checkpoint = row_checkpoint_value(st, slot->tts_values[attno - 1],
										  slot->tts_isnull[attno - 1]);
	}
	if (st->opts.at_commit)
		deleted = cp_queue_revoke(&st->opts, st->relid, checkpoint,
								  deleted_field(st, slot, CP_FIELD_PROJECT_ID), id);
	else
	{
		cp_note_write();
		deleted = send_revoke(st, checkpoint, deleted_field(st, slot, CP_FIELD_PROJECT_ID), id);
	}
	MemoryContextSwitchTo(oldcxt);

	/* gone already: not counted, as for a row deleted concurrently */
	if (!deleted)
		return NULL;
	st->applied++;
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

	bool		do_nothing = false;

	/* a row routed into a foreign partition by INSERT ... ON CONFLICT */
	if (plan)
		do_nothing = check_on_conflict(plan->onConflictAction, plan->arbiterIndexes);

	st = create_modify_state(rinfo, mtstate->ps.state, CMD_INSERT);
	st->do_nothing = do_nothing;

#if PG_VERSION_NUM < 160000
	/*
	 * COPY has no plan, and before PostgreSQL 16 it inserts into a foreign
	 * table row by row.  Collect its rows into batches ourselves, unless a
	 * row trigger must see each row as granted.
	 */
	if (plan == NULL && st->batch_size > 1 && st->columns.checkpoint != NULL &&
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
	char	   *path = st->opts.checkpoint ? cp_permissions_path(st->opts.checkpoint) :
		cp_permissions_path_placeholder("{checkpoint of each row}");

	if (st->operation == CMD_INSERT)
	{
		ExplainPropertyText("OpenAI Request", psprintf("POST %s", path), es);
		ExplainPropertyInteger("OpenAI Batch Size", NULL, rinfo->ri_BatchSize, es);
	}
	else
		ExplainPropertyText("OpenAI Request", psprintf("DELETE %s/{id}", path), es);
	if (st->opts.at_commit)
		ExplainPropertyText(st->operation == CMD_INSERT ? "Grants" : "Revokes",
							"applied at commit", es);
	if (es->analyze)
		cp_explain_stats(&st->stats, false, es);
}

static void
ExecForeignTruncate(List *rels, DropBehavior behavior, bool restart_seqs)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("TRUNCATE is not supported on checkpoint permissions"),
			 errhint("Revoke every permission with DELETE FROM the foreign table.")));
}

/* Set the callbacks of granting and revoking. */
void
cp_modify_callbacks(FdwRoutine *routine)
{
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
}
