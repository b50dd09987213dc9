/*-------------------------------------------------------------------------
 *
 * revoke.c
 *		  A DELETE run whole by the extension (PostgreSQL's direct-modify
 *		  API), as postgres_fdw sends a whole DELETE to its remote server.
 *
 * The row-by-row DELETE (modify.c) has the executor hand over each row its
 * scan produced.  When the DELETE is one foreign table and nothing else (no
 * join, no row trigger, no WITH CHECK OPTION), the extension runs it as a
 * set instead:
 *
 * - by id: every condition is "id = value" or "id = ANY(array)", and
 *   RETURNING needs no more than id, object and the table's checkpoint (a
 *   whole-row reference needs every column): one DELETE per distinct id,
 *   no list at all;
 * - otherwise, by list: the lists the scan would send (with every filter
 *   pushed), every condition of the DELETE checked here on each listed row,
 *   the whole list read before the first revoke; then one DELETE per row
 *   that matched.
 *
 * A 404 means the permission is already gone: it is not counted, nor
 * returned, as for a row a concurrent statement deleted.
 *
 * With apply_writes 'at_commit' the DELETE always lists (a DELETE by id
 * would not know which ids exist, and its count must be exact), and
 * queues the revokes of the rows that matched (queue.c); a row of a grant
 * the transaction queued leaves the queue instead.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "executor.h"
#include "planner.h"
#include "effects.h"

/*
 * The list PlanDirectModify adds to the scan's fdw_private, as its second
 * item (scan.c's FdwScanPrivateDirectModify): written by
 * PlanDirectModify, read by direct_private().
 */
enum FdwDirectModifyPrivateIndex
{
	FdwDirectModifyPrivateByIdKind,	/* Integer: CpFilterKind of the id value
									 * (fdw_exprs' one item), or
									 * CP_FILTER_NONE: by list */
	FdwDirectModifyPrivateIdLabel,	/* String: EXPLAIN's name of a run-time id */
	FdwDirectModifyPrivateSetProcessed	/* Integer: count rows in es_processed */
};

/* Ids of a by-id DELETE that EXPLAIN names one by one. */
#define CP_EXPLAIN_MAX_IDS 5

typedef struct CpRevokeState
{
	CpOptions	opts;
	Oid			relid;
	CpColumnMap columns;
	CpFilterKind by_id;			/* CP_FILTER_NONE: by list */
	char	   *id_label;
	Expr	   *id_value;		/* by id: the id(s) */
	ExprState  *id_expr;
	bool		set_processed;
	CpScanState *scan;			/* by list: the scan's lists */
	ExprContext *qual_econtext; /* by list: checks the conditions per row */

	/* the rows to revoke: ids alone (by id), or whole rows (by list) */
	char	  **ids;
	char	  **projects;		/* by list: each row's project, for the journal */
	char	  **checkpoints;	/* by list, across checkpoints: each row's */
	int			nids;
	Tuplestorestate *rows;
	TupleTableSlot *row_slot;
	bool	   *revoked;		/* per id or row: the API revoked it now */

	bool		done;			/* the revokes were sent */
	int64		applied;		/* permissions revoked */
	int			next;			/* RETURNING: next id or row to return */
	CpStats		stats;			/* the DELETE requests */
} CpRevokeState;

static inline Node *
direct_private(ForeignScan *fsplan, int item)
{
	return list_nth(lsecond(fsplan->fdw_private), item);
}

/*
 * The ForeignScan that scans the target directly below the ModifyTable
 * (or below its Append, for one of several result relations): anything
 * else (a join, a sub-select turned into a join) means rows come from
 * elsewhere, and the row-by-row path serves them.
 */
static ForeignScan *
target_scan(ModifyTable *plan, Index resultRelation, int subplan_index)
{
	Plan	   *subplan = outerPlan(plan);

	if (subplan && IsA(subplan, Result) && outerPlan(subplan) && IsA(outerPlan(subplan), Append))
		subplan = outerPlan(subplan);
	if (subplan && IsA(subplan, Append))
	{
		Append	   *append = (Append *) subplan;

		subplan = subplan_index < list_length(append->appendplans) ?
			(Plan *) list_nth(append->appendplans, subplan_index) : NULL;
	}
	if (subplan && IsA(subplan, ForeignScan) &&
		((ForeignScan *) subplan)->scan.scanrelid == resultRelation)
		return (ForeignScan *) subplan;
	return NULL;
}

/*
 * Is the column at attno known of a row revoked by id, without a list: id
 * and object (what a delete reply has), and the checkpoint of a table with
 * the option?  A dropped column is NULL in a whole row, known as well, and
 * tableoid is set by the executor on every RETURNING row (it names the
 * partition a row came from).  attno 0 (a whole-row reference) needs every
 * column; another system column is left to the list.
 */
static bool
known_without_list(const CpColumnMap *columns, AttrNumber attno)
{
	int			i;

	if (attno == TableOidAttributeNumber)
		return true;
	if (attno < 0 || attno > columns->natts)
		return false;
	if (attno == 0)
	{
		for (i = 1; i <= columns->natts; i++)
			if (!known_without_list(columns, i))
				return false;
		return true;
	}
	switch (columns->field[attno - 1])
	{
		case CP_FIELD_NONE:
		case CP_FIELD_ID:
		case CP_FIELD_OBJECT:
			return true;
		case CP_FIELD_CHECKPOINT:
			return columns->checkpoint != NULL;
		default:
			return false;
	}
}

/*
 * Does RETURNING need no column but those a revoke by id knows?  Each
 * column it references is judged by its field (known_without_list); a
 * whole-row reference needs them all.
 */
static bool
returning_needs_only_id(List *returning, Index rtindex, const CpColumnMap *columns)
{
	List	   *vars = pull_var_clause((Node *) returning,
									   PVC_RECURSE_AGGREGATES |
									   PVC_RECURSE_WINDOWFUNCS |
									   PVC_RECURSE_PLACEHOLDERS);
	ListCell   *lc;

	foreach(lc, vars)
	{
		Var		   *var = (Var *) lfirst(lc);

		if (var->varno == rtindex && !known_without_list(columns, var->varattno))
			return false;
	}
	return true;
}

/*
 * Run the DELETE directly when it is one foreign table's.  Its conditions:
 * the scan sent what it could to the API (the one in fdw_recheck_quals)
 * and kept the rest as its qual.  By id, the id value becomes the plan's
 * one expression.  By list, every condition moves to fdw_recheck_quals,
 * which IterateDirectModify checks on each listed row (EvalPlanQual, their
 * usual reader, never runs a direct modify), and the qual is emptied: the
 * executor would apply it to the RETURNING rows.
 */
static bool
PlanDirectModify(PlannerInfo *root, ModifyTable *plan, Index resultRelation,
				 int subplan_index)
{
	ForeignScan *fscan;
	RangeTblEntry *rte;
	RelOptInfo *baserel;
	CpColumnMap columns;
	CpOptions	opts;
	List	   *conds;
	List	   *returning = NIL;
	Expr	   *id_value = NULL;
	CpFilterKind kind = CP_FILTER_NONE;
	char	   *label = "";

	if (plan->operation != CMD_DELETE)
		return false;
	fscan = target_scan(plan, resultRelation, subplan_index);
	if (fscan == NULL)
		return false;

	rte = planner_rt_fetch(resultRelation, root);
	baserel = find_base_rel(root, resultRelation);
	cp_load_column_map(rte->relid, &columns);
	if (plan->returningLists)
		returning = (List *) list_nth(plan->returningLists, subplan_index);

	conds = list_concat_copy(fscan->fdw_recheck_quals, fscan->scan.plan.qual);
	cp_get_options(rte->relid, InvalidOid, &opts);
	/* across checkpoints a permission is (checkpoint, id): by list */
	if (columns.checkpoint != NULL && !opts.at_commit && list_length(conds) == 1 &&
		cp_project_filter(root, baserel, columns.attno[CP_FIELD_ID],
						  (Expr *) linitial(conds), &id_value, &kind) &&
		returning_needs_only_id(returning, resultRelation, &columns))
	{
		fscan->fdw_exprs = list_make1(id_value);
		fscan->fdw_recheck_quals = NIL;
		label = IsA(id_value, Const) ? "" : cp_value_label(root, id_value);
	}
	else
	{
		kind = CP_FILTER_NONE;
		fscan->fdw_recheck_quals = conds;
	}
	fscan->scan.plan.qual = NIL;
	fscan->operation = CMD_DELETE;
	fscan->resultRelation = resultRelation;
	Assert(list_length(fscan->fdw_private) == 1);
	fscan->fdw_private = lappend(fscan->fdw_private,
								 list_make3(makeInteger(kind), makeString(pstrdup(label)),
											makeInteger(plan->canSetTag)));
	return true;
}

static void
BeginDirectModify(ForeignScanState *node, int eflags)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	Relation	rel = node->ss.ss_currentRelation;
	CpRevokeState *st = palloc0(sizeof(CpRevokeState));

	node->fdw_state = st;
	st->by_id = (CpFilterKind) intVal(direct_private(fsplan, FdwDirectModifyPrivateByIdKind));
	st->id_label = strVal(direct_private(fsplan, FdwDirectModifyPrivateIdLabel));
	st->set_processed = intVal(direct_private(fsplan, FdwDirectModifyPrivateSetProcessed));
	if (st->by_id != CP_FILTER_NONE)
		st->id_value = (Expr *) linitial(fsplan->fdw_exprs);
	else
		st->scan = cp_scan_begin(node, eflags, true);

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		cp_get_options(RelationGetRelid(rel), InvalidOid, &st->opts);
		return;
	}
	cp_get_options(RelationGetRelid(rel), cp_scan_userid(node), &st->opts);
	st->relid = RelationGetRelid(rel);
	cp_build_column_map(rel, &st->columns);
	/* planned by id in mode 'now': the option changed, and the plan with it */
	if (st->id_value && st->opts.at_commit)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the DELETE was planned before option \"apply_writes\" changed"),
				 errdetail("Its plan sends each revoke by id now; the table queues its revokes for COMMIT."),
				 errhint("Run the statement again: it is planned anew.")));
	if (st->id_value)
		st->id_expr = ExecInitExpr(st->id_value, (PlanState *) node);
	else
		st->qual_econtext = CreateExprContext(node->ss.ps.state);
}

/*
 * By id: the distinct ids to revoke, sorted.  A value that cannot be an id
 * (empty, white space at either end, ...: cp_condition_values) names no
 * permission: it matches nothing, and nothing is sent for it.
 */
static void
evaluate_ids(CpRevokeState *st, ExprContext *econtext)
{
	bool		isnull;
	Datum		datum = ExecEvalExpr(st->id_expr, econtext, &isnull);

	st->nids = cp_condition_values(datum, isnull, st->by_id, CP_ID_PERMISSION, &st->ids);
}

/*
 * By list: read every list whole, keeping the rows that meet every
 * condition of the DELETE, before anything is revoked.
 */
static void
collect_rows(CpRevokeState *st, ForeignScanState *node)
{
	ExprContext *econtext = st->qual_econtext;
	TupleTableSlot *slot;

	st->rows = tuplestore_begin_heap(false, false, work_mem);
	st->row_slot = MakeSingleTupleTableSlot(RelationGetDescr(node->ss.ss_currentRelation),
											&TTSOpsMinimalTuple);
	for (;;)
	{
		/* TupIsNull() evaluates its argument twice: no call inside it */
		slot = cp_scan_next(st->scan, node);
		if (TupIsNull(slot))
			break;
		ResetExprContext(econtext);
		econtext->ecxt_scantuple = slot;
		if (ExecQual(node->fdw_recheck_quals, econtext))
		{
			tuplestore_puttupleslot(st->rows, slot);
			st->nids++;
		}
	}
	ResetExprContext(econtext);
}

/*
 * The id of a collected row, checked as modify.c checks a row's; NULL for
 * a grant queued for COMMIT (apply_writes 'at_commit').
 */
static char *
row_id(CpRevokeState *st, TupleTableSlot *slot)
{
	AttrNumber	attno = st->columns.attno[CP_FIELD_ID];
	char	   *id;

	slot_getallattrs(slot);
	id = cp_text_value(&st->columns, CP_FIELD_ID, slot->tts_values[attno - 1],
					   slot->tts_isnull[attno - 1]);
	if (id == NULL && st->opts.at_commit)
		return NULL;
	if (id == NULL || id[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("cannot revoke a permission without an id"),
				 errdetail("A row to delete has %s id.%s", id ? "an empty" : "a NULL",
						   cp_progress_note(true, st->applied))));
	return id;
}

/*
 * apply_writes 'at_commit': queue the revoke of each row that matched, or
 * drop the queued grant a row without an id is; revoked[] counts the rows
 * as the API would (a revoke queued already is not counted again).
 */
static void
queue_revokes(CpRevokeState *st)
{
	int			i;

	for (i = 0; i < st->nids; i++)
	{
		const char *checkpoint = st->checkpoints ? st->checkpoints[i] : st->opts.checkpoint;

		if (st->ids[i] == NULL)
			st->revoked[i] = st->projects[i] != NULL &&
				cp_queue_cancel_grant(st->opts.serverid, checkpoint, st->projects[i]);
		else
			st->revoked[i] = cp_queue_revoke(&st->opts, st->relid, checkpoint,
											 st->projects[i], st->ids[i]);
		if (st->revoked[i])
			st->applied++;
	}
}

/*
 * Send every revoke of the statement, at most max_concurrency at once.  It
 * runs in the executor's per-row memory, reset between the rows this node
 * returns: what must last until the RETURNING rows are out lives in the
 * query's memory.
 */
static void
run_revokes(CpRevokeState *st, ForeignScanState *node)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(node->ss.ps.state->es_query_cxt);
	int			i;

	if (st->by_id != CP_FILTER_NONE)
		evaluate_ids(st, node->ss.ps.ps_ExprContext);
	else
	{
		AttrNumber	project_attno = st->columns.attno[CP_FIELD_PROJECT_ID];
		AttrNumber	ckpt_attno = st->columns.attno[CP_FIELD_CHECKPOINT];

		collect_rows(st, node);
		st->ids = palloc(sizeof(char *) * Max(st->nids, 1));
		st->projects = palloc0(sizeof(char *) * Max(st->nids, 1));
		if (st->columns.checkpoint == NULL)
			st->checkpoints = palloc0(sizeof(char *) * Max(st->nids, 1));
		for (i = 0; i < st->nids; i++)
		{
			if (!tuplestore_gettupleslot(st->rows, true, false, st->row_slot))
				elog(ERROR, "checkpoint_perms: collected row %d is missing", i);
			st->ids[i] = row_id(st, st->row_slot);
			if (st->checkpoints)
				st->checkpoints[i] = cp_text_value(&st->columns, CP_FIELD_CHECKPOINT,
												   st->row_slot->tts_values[ckpt_attno - 1],
												   st->row_slot->tts_isnull[ckpt_attno - 1]);
			if (project_attno != InvalidAttrNumber)
				st->projects[i] = cp_text_value(&st->columns, CP_FIELD_PROJECT_ID,
												st->row_slot->tts_values[project_attno - 1],
												st->row_slot->tts_isnull[project_attno - 1]);
		}
		tuplestore_rescan(st->rows);
	}
	st->revoked = palloc0(sizeof(bool) * Max(st->nids, 1));
	if (st->nids > 0 && st->opts.at_commit)
		queue_revokes(st);
	else if (st->nids > 0)
	{
		cp_note_write();
		cp_revoke_many(&st->opts, st->checkpoints, st->ids, st->projects, st->nids,
					   st->revoked, &st->applied, &st->stats);
	}
	st->done = true;
	MemoryContextSwitchTo(oldcxt);
}

/* By id: the RETURNING row of a revoked id (id and object are known). */
static void
store_id_row(CpRevokeState *st, TupleTableSlot *slot, const char *id)
{
	const CpColumnMap *map = &st->columns;
	int			natts = slot->tts_tupleDescriptor->natts;
	AttrNumber	id_attno = map->attno[CP_FIELD_ID];
	AttrNumber	object_attno = map->attno[CP_FIELD_OBJECT];

	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, sizeof(bool) * natts);
	slot->tts_values[id_attno - 1] =
		InputFunctionCall(&map->input[id_attno - 1], (char *) id,
						  map->ioparam[id_attno - 1], map->typmod[id_attno - 1]);
	slot->tts_isnull[id_attno - 1] = false;
	if (object_attno != InvalidAttrNumber)
	{
		slot->tts_values[object_attno - 1] =
			InputFunctionCall(&map->input[object_attno - 1], "checkpoint.permission",
							  map->ioparam[object_attno - 1], map->typmod[object_attno - 1]);
		slot->tts_isnull[object_attno - 1] = false;
	}
	if (map->attno[CP_FIELD_CHECKPOINT] != InvalidAttrNumber)
	{
		AttrNumber	ckpt_attno = map->attno[CP_FIELD_CHECKPOINT];

		slot->tts_values[ckpt_attno - 1] =
			InputFunctionCall(&map->input[ckpt_attno - 1], map->checkpoint,
							  map->ioparam[ckpt_attno - 1], map->typmod[ckpt_attno - 1]);
		slot->tts_isnull[ckpt_attno - 1] = false;
	}
	ExecStoreVirtualTuple(slot);
}

/* The next revoked row for RETURNING, in node's scan slot; false at the end. */
static bool
next_returning_row(CpRevokeState *st, TupleTableSlot *slot)
{
	int			natts = slot->tts_tupleDescriptor->natts;

	for (; st->next < st->nids; st->next++)
	{
		if (st->by_id != CP_FILTER_NONE)
		{
			if (!st->revoked[st->next])
				continue;
			store_id_row(st, slot, st->ids[st->next++]);
			return true;
		}
		if (!tuplestore_gettupleslot(st->rows, true, false, st->row_slot))
			return false;
		if (!st->revoked[st->next])
			continue;
		slot_getallattrs(st->row_slot);
		ExecClearTuple(slot);
		memcpy(slot->tts_values, st->row_slot->tts_values, sizeof(Datum) * natts);
		memcpy(slot->tts_isnull, st->row_slot->tts_isnull, sizeof(bool) * natts);
		ExecStoreVirtualTuple(slot);
		st->next++;
		return true;
	}
	return false;
}

/*
 * The first call sends every revoke; then, without RETURNING, the count
 * goes to es_processed at once, and with RETURNING each revoked row comes
 * back, made available to the RETURNING projection as its scan tuple.
 */
static TupleTableSlot *
IterateDirectModify(ForeignScanState *node)
{
	CpRevokeState *st = (CpRevokeState *) node->fdw_state;
	EState	   *estate = node->ss.ps.state;
	ResultRelInfo *rinfo = node->resultRelInfo;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;

	if (!st->done)
		run_revokes(st, node);

	if (rinfo->ri_projectReturning == NULL)
	{
		if (st->set_processed)
			estate->es_processed += st->applied;
		if (node->ss.ps.instrument)
			node->ss.ps.instrument->tuplecount += st->applied;
		st->applied = 0;		/* counted once */
		return ExecClearTuple(slot);
	}
	if (!next_returning_row(st, slot))
		return ExecClearTuple(slot);
	/* RETURNING tableoid: PostgreSQL 18 no longer sets it for us */
	slot->tts_tableOid = RelationGetRelid(node->ss.ss_currentRelation);
	rinfo->ri_projectReturning->pi_exprContext->ecxt_scantuple = slot;
	if (st->set_processed)
		estate->es_processed += 1;
	return slot;
}

static void
EndDirectModify(ForeignScanState *node)
{
	CpRevokeState *st = (CpRevokeState *) node->fdw_state;

	if (st == NULL)
		return;
	if (st->scan)
		cp_scan_end(st->scan);
	if (st->rows)
	{
		tuplestore_end(st->rows);
		ExecDropSingleTupleTableSlot(st->row_slot);
		st->rows = NULL;
	}
}

/* The DELETE request of a by-id revoke, for EXPLAIN. */
static char *
delete_request_text(const CpRevokeState *st, const char *id, bool placeholder)
{
	char	   *path = st->opts.checkpoint ? cp_permissions_path(st->opts.checkpoint) :
		cp_permissions_path_placeholder("{checkpoint}");

	if (placeholder)
		return psprintf("DELETE %s/%s", path, id);
	return psprintf("DELETE %s", cp_permission_path(st->opts.checkpoint, id));
}

/* The ids a constant names, as evaluate_ids finds them. */
static List *
const_ids(Const *c, CpFilterKind kind)
{
	char	  **ids;
	int			n = cp_condition_values(c->constvalue, c->constisnull, kind, CP_ID_PERMISSION,
										&ids);
	List	   *result = NIL;
	int			i;

	for (i = 0; i < n; i++)
		result = lappend(result, ids[i]);
	return result;
}

/*
 * EXPLAIN: by id, one DELETE line per id (a few of them) or a placeholder;
 * by list, the scan's list requests and the DELETE sent for each listed row
 * that meets the conditions.
 */
static void
ExplainDirectModify(ForeignScanState *node, ExplainState *es)
{
	CpRevokeState *st = (CpRevokeState *) node->fdw_state;
	List	   *lines = NIL;

	if (st->by_id == CP_FILTER_NONE)
	{
		lines = cp_scan_request_lines(st->scan);
		lines = lappend(lines, psprintf("%s, for each listed row that meets the conditions",
										delete_request_text(st, "{id}", true)));
	}
	else if (IsA(st->id_value, Const))
	{
		List	   *ids = const_ids((Const *) st->id_value, st->by_id);
		ListCell   *lc;

		foreach(lc, ids)
		{
			if (foreach_current_index(lc) == CP_EXPLAIN_MAX_IDS &&
				list_length(ids) > CP_EXPLAIN_MAX_IDS + 1)
			{
				lines = lappend(lines, psprintf("... and %d more, one per id",
												list_length(ids) - CP_EXPLAIN_MAX_IDS));
				break;
			}
			lines = lappend(lines, delete_request_text(st, lfirst(lc), false));
		}
		if (ids == NIL)
			lines = list_make1(pstrdup("none: no id to revoke"));
	}
	else if (st->by_id == CP_FILTER_SCALAR)
		lines = list_make1(delete_request_text(st, st->id_label[0] ?
											   psprintf("{%s}", st->id_label) :
											   "{run-time id}", true));
	else
		lines = list_make1(delete_request_text(st, st->id_label[0] ?
											   psprintf("{each value of %s}", st->id_label) :
											   "{each run-time id}", true));
	cp_explain_requests(lines, es);
	if (st->opts.at_commit)
		ExplainPropertyText("Revokes", "applied at commit", es);

	if (es->analyze)
	{
		CpStats		total = st->stats;

		if (st->scan)
		{
			const CpStats *listed = cp_scan_stats(st->scan);

			total.requests += listed->requests;
			total.pages += listed->pages;
			total.retries += listed->retries;
			total.rate_limited += listed->rate_limited;
			total.bytes += listed->bytes;
			total.connections += listed->connections;
			total.tls_handshakes += listed->tls_handshakes;
			total.tls_resumed += listed->tls_resumed;
		}
		cp_explain_stats(&total, st->scan != NULL, es);
	}
}

/* Set the callbacks of a DELETE run whole. */
void
cp_revoke_callbacks(FdwRoutine *routine)
{
	routine->PlanDirectModify = PlanDirectModify;
	routine->BeginDirectModify = BeginDirectModify;
	routine->IterateDirectModify = IterateDirectModify;
	routine->EndDirectModify = EndDirectModify;
	routine->ExplainDirectModify = ExplainDirectModify;
}
