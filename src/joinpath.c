/*-------------------------------------------------------------------------
 *
 * joinpath.c
 *		  Batched joins, the planning side: a join of a local relation with
 *		  one of our tables on project_id (or on checkpoint, for a table
 *		  across checkpoints) that sends the lists of many outer rows
 *		  max_concurrency at a time, instead of one per outer row.
 *
 * A nested loop over a parameterized scan sends one list per outer row,
 * one after the other; a hash join reads the whole list (and a table
 * across checkpoints cannot be read whole).  The batched join (a
 * CustomScan, run by join.c) reads a batch of outer rows, hands the
 * distinct values of their key to its inner foreign scan, which sends
 * their lists as an IN (...) list does (one per value, max_concurrency
 * first pages at once, the later pages read ahead together: scan.c), and
 * joins the rows here.  set_join_pathlist_hook offers it for inner, left,
 * semi and anti joins of a relation with our table as the inner side; the
 * planner weighs it against the other joins by its cost in rounds of
 * requests (cost_batched_join).
 *
 * It is not offered in a statement that writes, or that locks rows: such
 * a statement reads each list whole before its first write (statement.c)
 * and may recheck rows (EvalPlanQual), which a batch would not.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "nodes/extensible.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"

#include "planner.h"

bool		cp_batch_joins = true;

static set_join_pathlist_hook_type prev_join_pathlist_hook = NULL;

/* Positions in the CustomPath's custom_private (planning only, never copied). */
enum CpJoinPathPrivateIndex
{
	CpJoinPathJoinType,			/* Integer: JoinType */
	CpJoinPathWhich,			/* Integer: the key's CpScanExpr */
	CpJoinPathKeyAttno,			/* Integer: the inner key column */
	CpJoinPathBatchKeys,		/* Integer: distinct keys per batch */
	CpJoinPathKeyValue,			/* Expr: the outer key */
	CpJoinPathRestrictList		/* List of RestrictInfo: the join's clauses */
};

/* Positions in the CustomScan's custom_private (cp_join_plan_to_private). */
enum CpJoinPrivateIndex
{
	CpJoinPrivateJoinType,		/* Integer */
	CpJoinPrivateWhich,			/* Integer */
	CpJoinPrivateOuterColumns,	/* Integer */
	CpJoinPrivateInnerKey,		/* Integer */
	CpJoinPrivateBatchKeys		/* Integer */
};

List *
cp_join_plan_to_private(const CpJoinPlan *plan)
{
	return list_make5(makeInteger(plan->jointype), makeInteger(plan->which),
					  makeInteger(plan->outer_columns), makeInteger(plan->inner_key),
					  makeInteger(plan->batch_keys));
}

void
cp_join_plan_from_private(List *items, CpJoinPlan *plan)
{
	plan->jointype = intVal(list_nth(items, CpJoinPrivateJoinType));
	plan->which = intVal(list_nth(items, CpJoinPrivateWhich));
	plan->outer_columns = intVal(list_nth(items, CpJoinPrivateOuterColumns));
	plan->inner_key = intVal(list_nth(items, CpJoinPrivateInnerKey));
	plan->batch_keys = intVal(list_nth(items, CpJoinPrivateBatchKeys));
}

/*
 * May a statement's joins be batched?  Only a read: no write anywhere in
 * the statement, no row locks at this level or above.
 */
static bool
statement_reads_only(PlannerInfo *root)
{
	PlannerInfo *level;

	for (level = root; level; level = level->parent_root)
		if (level->parse->commandType != CMD_SELECT || level->parse->hasModifyingCTE ||
			level->parse->rowMarks != NIL)
			return false;
	return true;
}

/*
 * The join clause "inner.key = <expression of the outer relation>" that
 * decides which list an outer row needs, or NULL; its outer side in
 * *value.  For an outer join, only a clause of the join itself (not a
 * WHERE clause above it) says which inner rows match.
 */
static RestrictInfo *
key_clause(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel, RelOptInfo *innerrel,
		   JoinType jointype, List *restrictlist, AttrNumber attno, Expr **value)
{
	ListCell   *lc;

	if (attno == InvalidAttrNumber)
		return NULL;
	foreach(lc, restrictlist)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		CpFilterKind kind;

		if (IS_OUTER_JOIN(jointype) && RINFO_IS_PUSHED_DOWN(rinfo, joinrel->relids))
			continue;
		if (cp_project_filter(root, innerrel, attno, rinfo->clause, value, &kind) &&
			kind == CP_FILTER_SCALAR &&
			bms_is_subset(pull_varnos(root, (Node *) *value), outerrel->relids))
			return rinfo;
	}
	return NULL;
}

/*
 * The cost in rounds: keys distinct keys, each a list of `pages` pages of
 * `rows` rows, max_concurrency lists at once, so `pages` rounds per
 * max_concurrency keys, each round one request_cost (a round trip); the
 * first row comes once the first batch is read.  Then the local work:
 * each outer row stored and read back, compared with its key's rows by
 * the join quals, and each inner row received.
 */
static void
cost_batched_join(PlannerInfo *root, CustomPath *cpath, Path *outer_path, double keys,
				  double pages, double rows, const CpOptions *opts, int batch_keys,
				  List *restrictlist)
{
	double		rounds = ceil(keys / opts->max_concurrency) * pages;
	double		first = ceil(Min(keys, batch_keys) / opts->max_concurrency) * pages;
	double		outer_rows = outer_path->rows;
	QualCost	quals;

	cost_qual_eval(&quals, extract_actual_clauses(restrictlist, false), root);
	cpath->path.startup_cost = outer_path->startup_cost +
		(outer_path->total_cost - outer_path->startup_cost) * Min(1.0, batch_keys / keys) +
		first * opts->request_cost;
	cpath->path.total_cost = outer_path->total_cost + rounds * opts->request_cost +
		keys * rows * (cpu_tuple_cost + opts->fdw_tuple_cost) +
		outer_rows * (2 * cpu_tuple_cost + Max(rows, 1.0) * quals.per_tuple) +
		quals.startup + cpath->path.rows * cpu_tuple_cost;
}

static Plan *plan_batched_join(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path,
							   List *tlist, List *clauses, List *custom_plans);

static const CustomPathMethods batched_join_path_methods = {
	.CustomName = CP_JOIN_NAME,
	.PlanCustomPath = plan_batched_join,
};

/*
 * Offer the batched join of outer_path (of outerrel) with innerrel's lists
 * of the key `which`, if a join clause names that key.
 */
static void
add_batched_join_path(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
					  Path *outer_path, RelOptInfo *innerrel, JoinType jointype,
					  List *restrictlist, int which)
{
	AttrNumber	attno = cp_batch_key_attno(innerrel, which);
	CustomPath *cpath;
	RestrictInfo *key;
	Expr	   *value;
	const CpOptions *opts;
	double		keys;
	double		pages;
	double		rows;
	int			batch_keys;

	key = key_clause(root, joinrel, outerrel, innerrel, jointype, restrictlist, attno, &value);
	if (key == NULL || outer_path->param_info != NULL)
		return;
	cp_batch_list_estimate(root, innerrel, which, key, &pages, &rows, &opts);
	batch_keys = opts->max_concurrency * CP_BATCH_ROUNDS;
	keys = Max(1.0, estimate_num_groups(root, list_make1(value), outer_path->rows, NULL, NULL));

	cpath = makeNode(CustomPath);
	cpath->path.pathtype = T_CustomScan;
	cpath->path.parent = joinrel;
	cpath->path.pathtarget = joinrel->reltarget;
	cpath->path.param_info = NULL;
	/* join.c keeps its state in the backend: never in a parallel worker */
	cpath->path.parallel_aware = false;
	cpath->path.parallel_safe = false;
	cpath->path.rows = joinrel->rows;
	cpath->path.pathkeys = NIL;
	cpath->flags = 0;
	cpath->custom_paths = list_make2(outer_path,
									 cp_batched_scan_path(root, innerrel, which,
														  cp_value_label(root, value)));
	cpath->custom_private = list_make4(makeInteger(jointype), makeInteger(which),
									   makeInteger(attno), makeInteger(batch_keys));
	cpath->custom_private = lappend(lappend(cpath->custom_private, value), restrictlist);
	cpath->methods = &batched_join_path_methods;
	cost_batched_join(root, cpath, outer_path, keys, pages, rows, opts, batch_keys,
					  restrictlist);
	add_path(joinrel, &cpath->path);
}

/*
 * set_join_pathlist_hook: our table as the inner side of an inner, left,
 * semi or anti join, or of the inner join of our table with the distinct
 * rows of the other side of a semi join (JOIN_UNIQUE_OUTER: "WHERE
 * p.checkpoint IN (SELECT ...)"), in a statement that only reads, with no
 * lateral reference and no pseudo-constant clause (which the planner
 * would gate a join plan with, not a custom one).
 */
static void
batched_join_pathlist(PlannerInfo *root, RelOptInfo *joinrel, RelOptInfo *outerrel,
					  RelOptInfo *innerrel, JoinType jointype, JoinPathExtraData *extra)
{
	Path	   *outer_path = outerrel->cheapest_total_path;
	ListCell   *lc;

	if (prev_join_pathlist_hook)
		prev_join_pathlist_hook(root, joinrel, outerrel, innerrel, jointype, extra);
	if (!cp_batch_joins || !cp_rel_is_ours(innerrel) ||
		(jointype != JOIN_INNER && jointype != JOIN_LEFT && jointype != JOIN_SEMI &&
		 jointype != JOIN_ANTI && jointype != JOIN_UNIQUE_OUTER) ||
		!bms_is_empty(joinrel->lateral_relids) || !bms_is_empty(innerrel->lateral_relids) ||
		!statement_reads_only(root) || outer_path == NULL)
		return;
	if (jointype == JOIN_UNIQUE_OUTER)
	{
		/* as a nested loop does: the outer side made distinct, an inner join */
		outer_path = (Path *) create_unique_path(root, outerrel, outer_path, extra->sjinfo);
		if (outer_path == NULL)
			return;
		jointype = JOIN_INNER;
	}
	foreach(lc, extra->restrictlist)
		if (lfirst_node(RestrictInfo, lc)->pseudoconstant)
			return;
	/* the inner side returns columns only (not a placeholder of a subquery's) */
	foreach(lc, innerrel->reltarget->exprs)
		if (!IsA(lfirst(lc), Var))
			return;
	add_batched_join_path(root, joinrel, outerrel, outer_path, innerrel, jointype,
						  extra->restrictlist, CP_SCAN_EXPR_PROJECT);
	add_batched_join_path(root, joinrel, outerrel, outer_path, innerrel, jointype,
						  extra->restrictlist, CP_SCAN_EXPR_CHECKPOINT);
}

/*
 * The scan tuple: the outer plan's columns, then the inner's (the scan
 * returns those its join and the query need); *inner_key gets the
 * position of the inner key column among the inner's.
 */
static List *
scan_tlist(Plan *outer_plan, Plan *inner_plan, Index inner_relid, AttrNumber key_attno,
		   int *inner_key)
{
	List	   *tlist = NIL;
	ListCell   *lc;

	*inner_key = 0;
	foreach(lc, outer_plan->targetlist)
		tlist = lappend(tlist, makeTargetEntry(copyObject(lfirst_node(TargetEntry, lc)->expr),
											   list_length(tlist) + 1, NULL, false));
	foreach(lc, inner_plan->targetlist)
	{
		TargetEntry *tle = lfirst_node(TargetEntry, lc);
		Var		   *var = (Var *) tle->expr;

		if (IsA(var, Var) && var->varno == inner_relid && var->varattno == key_attno)
			*inner_key = tle->resno;
		tlist = lappend(tlist, makeTargetEntry(copyObject(tle->expr), list_length(tlist) + 1,
											   NULL, false));
	}
	/* the join clause on the key needs the column: the scan returns it */
	if (*inner_key == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the foreign scan of a batched join does not return its key column"),
				 errhint("SET checkpoint_perms.batch_joins = off plans the query without a batched join.")));
	return tlist;
}

#if PG_VERSION_NUM >= 160000
/* The scan tuple's entry of a column (a Var of the same relation and attribute), or NULL. */
static Var *
scan_entry(List *scan_tlist, Var *var)
{
	ListCell   *lc;

	foreach(lc, scan_tlist)
	{
		Var		   *entry = (Var *) lfirst_node(TargetEntry, lc)->expr;

		if (IsA(entry, Var) && entry->varno == var->varno && entry->varattno == var->varattno &&
			entry->varlevelsup == 0)
			return entry;
	}
	return NULL;
}

static Node *
take_scan_nullingrels(Node *node, void *scan_tlist)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Var) && ((Var *) node)->varlevelsup == 0)
	{
		Var		   *var = copyObject((Var *) node);
		Var		   *entry = scan_entry((List *) scan_tlist, var);

		if (entry)
			var->varnullingrels = bms_copy(entry->varnullingrels);
		return (Node *) var;
	}
	return expression_tree_mutator(node, take_scan_nullingrels, scan_tlist);
}

/*
 * Since PostgreSQL 16 a Var above an outer join names the joins that can
 * null it (varnullingrels), and setrefs.c matches the plan's Vars with
 * the scan tuple's by it, one entry per column.  The scan tuple's columns
 * are as the join returns them (what `above`, its tlist and the clauses
 * over it, say: an inner column of a left join nulled by it), and every
 * other expression on the scan tuple (the join quals, which read the inner
 * row before it is nulled, and the key) is marked the same: the marks
 * only steer setrefs.c here.
 */
static void
align_nullingrels(List *scan_tlist, List *above, List **exprs)
{
	ListCell   *lc;

	foreach(lc, pull_var_clause((Node *) above, PVC_RECURSE_PLACEHOLDERS))
	{
		Var		   *var = lfirst_node(Var, lc);
		Var		   *entry = var->varlevelsup == 0 ? scan_entry(scan_tlist, var) : NULL;

		if (entry)
			entry->varnullingrels = bms_copy(var->varnullingrels);
	}
	*exprs = (List *) take_scan_nullingrels((Node *) *exprs, scan_tlist);
}
#endif

/*
 * PlanCustomPath: the CustomScan.  The join quals decide which inner rows
 * match an outer row; for an outer join, the clauses above it filter what
 * it returns (the plan's qual), as in a nested loop.
 */
static Plan *
plan_batched_join(PlannerInfo *root, RelOptInfo *rel, CustomPath *best_path, List *tlist,
				  List *clauses, List *custom_plans)
{
	CustomScan *cscan = makeNode(CustomScan);
	List	   *items = best_path->custom_private;
	List	   *restrictlist = list_nth(items, CpJoinPathRestrictList);
	Path	   *inner_path = lsecond(best_path->custom_paths);
	CpJoinPlan	plan;
	List	   *joinquals;
	List	   *otherquals = NIL;

	plan.jointype = intVal(list_nth(items, CpJoinPathJoinType));
	plan.which = intVal(list_nth(items, CpJoinPathWhich));
	plan.batch_keys = intVal(list_nth(items, CpJoinPathBatchKeys));
	plan.outer_columns = list_length(((Plan *) linitial(custom_plans))->targetlist);
	if (IS_OUTER_JOIN(plan.jointype))
		extract_actual_join_clauses(restrictlist, rel->relids, &joinquals, &otherquals);
	else
		joinquals = extract_actual_clauses(restrictlist, false);

	cscan->scan.plan.targetlist = tlist;
	cscan->scan.plan.qual = otherquals;
	cscan->scan.scanrelid = 0;
	cscan->flags = best_path->flags;
	cscan->custom_plans = custom_plans;
	cscan->custom_scan_tlist = scan_tlist(linitial(custom_plans), lsecond(custom_plans),
										  inner_path->parent->relid,
										  intVal(list_nth(items, CpJoinPathKeyAttno)),
										  &plan.inner_key);
	cscan->custom_exprs = list_make2(copyObject(list_nth(items, CpJoinPathKeyValue)),
									 joinquals);
#if PG_VERSION_NUM >= 160000
	align_nullingrels(cscan->custom_scan_tlist, list_concat_copy(tlist, otherquals),
					  &cscan->custom_exprs);
	cscan->scan.plan.qual = (List *) take_scan_nullingrels((Node *) otherquals,
														   cscan->custom_scan_tlist);
#endif
	cscan->custom_private = cp_join_plan_to_private(&plan);
	cscan->methods = GetCustomScanMethods(CP_JOIN_NAME, false);
	return &cscan->scan.plan;
}

/* Install the hook and define checkpoint_perms.batch_joins (_PG_init). */
void
cp_join_paths_init(void)
{
	DefineCustomBoolVariable("checkpoint_perms.batch_joins",
							 "Joins with local tables send the lists of many outer rows at once.",
							 "A join on project_id, or on checkpoint for a table across checkpoints, may read its outer rows in batches and send the lists of their distinct keys max_concurrency at a time.",
							 &cp_batch_joins,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	prev_join_pathlist_hook = set_join_pathlist_hook;
	set_join_pathlist_hook = batched_join_pathlist;
}
