/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  Planning and scanning: the paths, the plan and the executor
 *		  callbacks of a SELECT (and of the scan under an INSERT ... SELECT
 *		  or a DELETE).
 *
 * A scan holds one page of the list in memory (list.c) and fetches the
 * next one only when the executor asks for a row beyond it; in a statement
 * that writes it reads its whole list first (statement.c).  A scan with one
 * list per project_id value fetches the first pages of up to
 * max_concurrency of them at once, and holds those pages meanwhile.  The planner
 * sends the API what it can filter and order by (pushdown.c) and offers
 * parameterized paths for joins on project_id.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/stratnum.h"
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
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

/* Rows assumed for a table never analyzed. */
#define CP_DEFAULT_ROWS 1000.0

/* Values assumed in a project_id = ANY(array) that is not a constant. */
#define CP_DEFAULT_ARRAY_VALUES 10

/*
 * ForeignScan.fdw_private: a list whose first item is the scan's request
 * plan (plan.c writes and reads it); PlanDirectModify (revoke.c) adds its
 * own as the second.
 */
enum FdwScanPrivateIndex
{
	FdwScanPrivatePlan,			/* List: cp_scan_plan_to_private() */
	FdwScanPrivateDirectModify	/* List: revoke.c's, for a DELETE run whole */
};

/* Positions in a ForeignPath's fdw_private. */
enum FdwPathPrivateIndex
{
	FdwPathPrivateOrder,		/* Integer: CpOrder */
	FdwPathPrivateLimit			/* Integer: rows to fetch at most, 0: all */
};

typedef struct CpScanState
{
	CpOptions	opts;
	CpColumnMap columns;
	Oid			relid;
	CpScanPlan	plan;			/* what the scan sends (plan.c) */
	Expr	   *exprs[CP_SCAN_EXPRS];	/* fdw_exprs: the plan's values */
	ExprState  *expr_states[CP_SCAN_EXPRS]; /* NULL for each not sent */
	bool		bound_null;		/* a bound is NULL: no row can match */
	int64		bounds[2];		/* as row_time() gives a row's */

	/*
	 * The lists of the current (re)start, from the values evaluated then
	 * (start_scan), and where the scan is in them.
	 */
	CpScanLists lists;
	int			segment;		/* segment being listed, -1 before the first */
	int			started;		/* segments whose list was started */
	bool		need_eval;		/* (re)start: evaluate the values first */
	MemoryContext values_cxt;	/* holds lists' values */
	MemoryContext eval_cxt;		/* holds newly evaluated values */

	/*
	 * The segments' listers: segment s uses listers[s % nlisters], so that
	 * the first pages of nlisters segments can be fetched at once.
	 */
	CpLister   *listers;
	int			nlisters;		/* max_concurrency, or 1 */
	int			nready;			/* listers initialized */
	int64		rows;			/* rows returned since the (re)start */
	MemoryContext row_cxt;		/* the current row's values; reset per row */
	CpStats		stats;

	/* in a statement that writes (statement.c), else NULL */
	CpStatement *stmt;
	Tuplestorestate *store;		/* the whole list, read before the first row */
	TupleTableSlot *store_slot; /* a row read back from store */
	bool		stored;			/* store holds the lists' rows */
} CpScanState;

/*
 * The role whose user mapping a scan uses (and a direct-modify DELETE,
 * whose ForeignScan is on the target relation): the range-table entry's
 * checkAsUser (a view's owner), else the current user.
 */
Oid
cp_scan_userid(ForeignScanState *node)
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


/* ---------------------------------------------------------------------
 * Planning
 * ---------------------------------------------------------------------
 */

/* What GetForeignRelSize learns for the later planning callbacks. */
typedef struct CpRelInfo
{
	CpOptions	opts;
	CpColumnMap columns;
	double		ntuples;		/* permissions in the checkpoint, estimated */
	RestrictInfo *pushed;		/* the base qual sent as ?project_id=, or NULL */
	CpFilterKind pushed_kind;
	double		pushed_values;	/* values of an array filter, estimated */
	int			max_lists;		/* array filter: lists per value up to this many */
	double		requests;		/* requests of an unlimited scan */
	double		received;		/* rows the API returns to an unlimited scan */
	List	   *local_conds;	/* base quals checked locally */
	QualCost	local_cost;

	/*
	 * The checkpoints to list: the table's own, or for a table across
	 * checkpoints the ones a base qual names (checkpoint = x, IN, = ANY) or
	 * a join on checkpoint passes in (parameterized paths).
	 */
	bool		spans;			/* no option "checkpoint": across checkpoints */
	RestrictInfo *ckpt_pushed;	/* the base qual naming checkpoints, or NULL */
	CpFilterKind ckpt_kind;
	double		ckpt_values;	/* checkpoints it names, estimated */

	/*
	 * Bounds on created_at: a list in the order that reaches the bound
	 * last stops at the first row past it (newest first for a lower bound,
	 * oldest first for an upper one; both: the end with fewer rows).
	 */
	RestrictInfo *lower;		/* created_at > or >= value, or NULL */
	RestrictInfo *upper;		/* created_at < or <= value, or NULL */
	CpOrder		bound_order;	/* CP_ORDER_NONE without bounds */
} CpRelInfo;

/* A ForeignPath of the scan, whatever the version's arguments. */
static Path *
foreign_path(PlannerInfo *root, RelOptInfo *baserel, double rows, Cost startup_cost,
			 Cost total_cost, List *pathkeys, Relids required_outer, List *fdw_private)
{
	return (Path *) create_foreignscan_path(root, baserel, NULL, rows,
#if PG_VERSION_NUM >= 180000
											0,
#endif
											startup_cost, total_cost, pathkeys,
											required_outer, NULL,
#if PG_VERSION_NUM >= 170000
											NIL,
#endif
											fdw_private);
}

/* Requests to list rows permissions in pages of page_size. */
static double
pages_for(double rows, int page_size)
{
	return Max(1.0, ceil(rows / page_size));
}

/*
 * The cost model: every request costs request_cost (a round trip), every
 * row received fdw_tuple_cost plus the local work on it.
 */
static void
estimate_costs(const CpRelInfo *info, double requests, double received,
			   Cost *startup_cost, Cost *total_cost)
{
	*startup_cost = info->opts.request_cost + info->local_cost.startup;
	*total_cost = requests * info->opts.request_cost + info->local_cost.startup +
		received * (cpu_tuple_cost + info->opts.fdw_tuple_cost + info->local_cost.per_tuple);
}

/* The number of elements of an array filter, if known at plan time. */
static double
array_values(Expr *value)
{
	if (IsA(value, Const) && !((Const *) value)->constisnull)
	{
		ArrayType  *array = DatumGetArrayTypeP(((Const *) value)->constvalue);

		return Max(1, ArrayGetNItems(ARR_NDIM(array), ARR_DIMS(array)));
	}
	return CP_DEFAULT_ARRAY_VALUES;
}

/*
 * Size the relation and decide which base qual, if any, the API filters
 * on: the first "project_id = value", or else the first "project_id =
 * ANY(array)".  An array is evaluated when the scan starts, and the scan
 * then sends one filtered list per value, or one full list filtered here
 * when it has more than max_lists values (more requests than a full list
 * takes): a parameter's size is known only then.
 */
static void
GetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CpRelInfo  *info = palloc0(sizeof(CpRelInfo));
	AttrNumber	project_attno;
	AttrNumber	ckpt_attno;
	RestrictInfo *array_qual = NULL;
	Expr	   *array_value = NULL;
	double		full_pages;
	List	   *row_quals = NIL;
	ListCell   *lc;

	cp_get_options(foreigntableid, InvalidOid, &info->opts);
	cp_load_column_map(foreigntableid, &info->columns);
	project_attno = info->columns.attno[CP_FIELD_PROJECT_ID];
	ckpt_attno = info->columns.attno[CP_FIELD_CHECKPOINT];
	info->spans = info->columns.checkpoint == NULL;
	info->ckpt_values = 1;

	/* reltuples is -1 until ANALYZE */
	info->ntuples = baserel->tuples >= 0 ? Max(baserel->tuples, 1.0) : CP_DEFAULT_ROWS;
	full_pages = pages_for(info->ntuples, info->opts.page_size);
	info->requests = full_pages;
	info->received = info->ntuples;

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Expr	   *value;
		CpFilterKind kind;

		/* checkpoint = x or = ANY(...): which lists to send (or none) */
		if (info->ckpt_pushed == NULL &&
			cp_project_filter(root, baserel, ckpt_attno, rinfo->clause, &value, &kind))
		{
			info->ckpt_pushed = rinfo;
			info->ckpt_kind = kind;
			if (info->spans && kind == CP_FILTER_ARRAY)
				info->ckpt_values = array_values(value);
			continue;
		}
		row_quals = lappend(row_quals, rinfo);

		/* created_at bounds: checked in the scan, which stops at them */
		if (info->columns.attno[CP_FIELD_CREATED_AT] != InvalidAttrNumber)
		{
			AttrNumber	created = info->columns.attno[CP_FIELD_CREATED_AT];
			int			strategy;

			if (cp_created_bound(root, baserel, created, info->columns.basetype[created - 1],
								 rinfo->clause, &value, &strategy))
			{
				bool		is_lower = strategy == BTGreaterStrategyNumber ||
					strategy == BTGreaterEqualStrategyNumber;

				if (is_lower && info->lower == NULL)
				{
					info->lower = rinfo;
					continue;
				}
				if (!is_lower && info->upper == NULL)
				{
					info->upper = rinfo;
					continue;
				}
			}
		}

		if (info->pushed == NULL &&
			cp_project_filter(root, baserel, project_attno, rinfo->clause, &value, &kind))
		{
			if (kind == CP_FILTER_SCALAR)
			{
				info->pushed = rinfo;
				info->pushed_kind = kind;
				continue;
			}
			if (array_qual == NULL)
			{
				array_qual = rinfo;
				array_value = value;
				continue;
			}
		}
		info->local_conds = lappend(info->local_conds, rinfo);
	}

	if (info->pushed)
	{
		info->received = clamp_row_est(info->ntuples *
									   clause_selectivity(root, (Node *) info->pushed,
														  0, JOIN_INNER, NULL));
		info->requests = pages_for(info->received, info->opts.page_size);
	}
	else if (array_qual != NULL)
	{
		double		values = array_values(array_value);
		double		matching = clamp_row_est(info->ntuples *
											 clause_selectivity(root, (Node *) array_qual,
																0, JOIN_INNER, NULL));
		double		per_value = pages_for(matching / values, info->opts.page_size);

		info->pushed = array_qual;
		info->pushed_kind = CP_FILTER_ARRAY;
		info->pushed_values = values;
		info->max_lists = (int) Max(1.0, Min(floor(full_pages / per_value), (double) INT_MAX));
		if (values <= info->max_lists)
		{
			info->requests = values * per_value;
			info->received = matching;
		}
	}

	/*
	 * Bounds: the list reads the rows up to the first one past the bound it
	 * stops at; with both, the end whose side holds fewer rows.
	 */
	if (info->lower || info->upper)
	{
		double		newer = info->lower ?
			clause_selectivity(root, (Node *) info->lower, 0, JOIN_INNER, NULL) : 1.0;
		double		older = info->upper ?
			clause_selectivity(root, (Node *) info->upper, 0, JOIN_INNER, NULL) : 1.0;

		info->bound_order = newer <= older ? CP_ORDER_DESC : CP_ORDER_ASC;
		info->received = clamp_row_est(info->received * Min(newer, older));
		info->requests = pages_for(info->received, info->opts.page_size);
	}

	/* the figures so far are one checkpoint's: each one named is a list */
	info->requests *= info->ckpt_values;
	info->received *= info->ckpt_values;

	cost_qual_eval(&info->local_cost, extract_actual_clauses(info->local_conds, false), root);
	baserel->rows = clamp_row_est(info->ntuples * info->ckpt_values *
								  clauselist_selectivity(root, row_quals, 0, JOIN_INNER, NULL));
	baserel->fdw_private = info;
}

/* An unparameterized path: the whole list, or the pushed filter's. */
static void
add_list_path(PlannerInfo *root, RelOptInfo *baserel, CpRelInfo *info,
			  List *pathkeys, CpOrder order, double limit)
{
	double		received = info->received;
	double		requests = info->requests;
	Cost		startup_cost;
	Cost		total_cost;

	if (limit > 0 && limit < received)
	{
		received = limit;
		requests = pages_for(limit, info->opts.page_size);
	}
	estimate_costs(info, requests, received, &startup_cost, &total_cost);

	add_path(baserel,
			 foreign_path(root, baserel, baserel->rows, startup_cost, total_cost, pathkeys, NULL,
						  list_make2(makeInteger(order),
									 makeInteger((int) Min(limit, (double) INT_MAX)))));
}

/* Is one of a parameterized path's clauses the checkpoint join clause? */
static bool
names_checkpoints(PlannerInfo *root, RelOptInfo *baserel, CpRelInfo *info,
				  ParamPathInfo *ppi)
{
	ListCell   *lc;

	foreach(lc, ppi->ppi_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		CpFilterKind kind;

		if (cp_project_filter(root, baserel, info->columns.attno[CP_FIELD_CHECKPOINT],
							  rinfo->clause, NULL, &kind) && kind == CP_FILTER_SCALAR)
			return true;
	}
	return false;
}

/*
 * Parameterized paths: for each set of outer relations that a join clause
 * "project_id = outer.column" (or "checkpoint = outer.column") needs, a
 * path that sends one filtered list per outer row.  The nested loop above
 * it pays request_cost per outer row, so the planner weighs it against one
 * full list and a hash join.  only_checkpoints: a table across checkpoints
 * that no base qual names them for: only paths whose outer row names the
 * checkpoint.  Returns how many paths were added.
 */
static int
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel, CpRelInfo *info,
						bool only_checkpoints)
{
	List	   *clauses = NIL;
	List	   *ppis = NIL;
	int			added = 0;
	ListCell   *lc;

	if (info->pushed_kind != CP_FILTER_SCALAR)
		clauses = cp_project_join_clauses(root, baserel, info->columns.attno[CP_FIELD_PROJECT_ID]);
	if (info->ckpt_pushed == NULL)
		clauses = list_concat(clauses,
							  cp_project_join_clauses(root, baserel,
													  info->columns.attno[CP_FIELD_CHECKPOINT]));
	foreach(lc, clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Relids		required_outer;

		required_outer = bms_union(rinfo->clause_relids, baserel->lateral_relids);
		required_outer = bms_del_member(required_outer, baserel->relid);
		if (bms_is_empty(required_outer))
			continue;
		ppis = list_append_unique_ptr(ppis,
									  get_baserel_parampathinfo(root, baserel, required_outer));
	}

	foreach(lc, ppis)
	{
		ParamPathInfo *ppi = (ParamPathInfo *) lfirst(lc);
		Cost		startup_cost;
		Cost		total_cost;

		if (only_checkpoints && !names_checkpoints(root, baserel, info, ppi))
			continue;
		estimate_costs(info, pages_for(ppi->ppi_rows, info->opts.page_size) * info->ckpt_values,
					   ppi->ppi_rows, &startup_cost, &total_cost);
		add_path(baserel,
				 foreign_path(root, baserel, ppi->ppi_rows, startup_cost, total_cost, NIL,
							  ppi->ppi_req_outer,
							  list_make2(makeInteger(CP_ORDER_NONE), makeInteger(0))));
		added++;
	}
	return added;
}

/* A table across checkpoints that a query names no checkpoint of. */
static void
report_no_checkpoint(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("a query on foreign table \"%s\" must name the checkpoints it reads",
					get_rel_name(relid)),
			 errdetail("The table spans checkpoints, and the API lists the permissions of one checkpoint at a time."),
			 errhint("Add WHERE checkpoint = '...', checkpoint IN (...) or checkpoint = ANY(...), or join on checkpoint.")));
}

/*
 * The paths: the list in the API's order; the list in created_at order
 * when the query wants that; parameterized lists for joins.  LIMIT caps
 * the rows fetched only where nothing above the scan can drop or reorder
 * rows: a single relation, every qual sent to the API, no sort left to
 * do, and a plain row count (FETCH FIRST ... WITH TIES needs the rows
 * that tie with the last one, however many).  root->limit_tuples is set
 * only for a constant LIMIT (plus OFFSET) with no grouping, aggregate,
 * DISTINCT or window function above the scan.
 */
static void
GetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CpRelInfo  *info = (CpRelInfo *) baserel->fdw_private;
	double		limit = 0;
	CpOrder		order = CP_ORDER_NONE;
	AttrNumber	created_attno = info->columns.attno[CP_FIELD_CREATED_AT];

	/*
	 * A table across checkpoints lists only the checkpoints a query names:
	 * with no base qual naming them, only a join on checkpoint can, by a
	 * parameterized path; with neither, the query cannot run.
	 */
	if (info->spans && info->ckpt_pushed == NULL)
	{
		if (add_parameterized_paths(root, baserel, info, true) == 0)
			report_no_checkpoint(foreigntableid);

		/*
		 * A join that cannot run as a nested loop over this table (a FULL
		 * JOIN, the table on the outer side of a LEFT JOIN) needs a path
		 * without parameters: one that costs too much to be chosen
		 * otherwise, and whose scan refuses to run.
		 */
		add_path(baserel,
				 foreign_path(root, baserel, baserel->rows, disable_cost, disable_cost, NIL, NULL,
							  list_make2(makeInteger(CP_ORDER_NONE), makeInteger(0))));
		return;
	}

	if (root->parse->commandType == CMD_SELECT &&
		root->parse->limitOption == LIMIT_OPTION_COUNT &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		info->local_conds == NIL && root->limit_tuples >= 1)
		limit = root->limit_tuples;

	add_list_path(root, baserel, info, NIL, info->bound_order,
				  root->query_pathkeys == NIL ? limit : 0);

	/* rows of several lists, one per value or checkpoint, are not in one order */
	if (created_attno != InvalidAttrNumber && info->pushed_kind != CP_FILTER_ARRAY &&
		!(info->spans && info->ckpt_kind == CP_FILTER_ARRAY))
		order = cp_order_for_pathkeys(baserel, created_attno,
									  info->columns.basetype[created_attno - 1],
									  root->query_pathkeys);
	/* bounds fix the order the list is read in: the query's, or a Sort */
	if (order != CP_ORDER_NONE &&
		(info->bound_order == CP_ORDER_NONE || info->bound_order == order))
		add_list_path(root, baserel, info, root->query_pathkeys, order, limit);

	(void) add_parameterized_paths(root, baserel, info, false);
}

/*
 * A filter value as EXPLAIN shows it when it is known only at run time:
 * a parameter as $n, an outer column as alias.column; "" for anything
 * else (a sub-select's result, an expression).
 */
char *
cp_value_label(PlannerInfo *root, Expr *value)
{
	while (IsA(value, RelabelType))
		value = ((RelabelType *) value)->arg;
	if (IsA(value, Param) && ((Param *) value)->paramkind == PARAM_EXTERN)
		return psprintf("$%d", ((Param *) value)->paramid);
	if (IsA(value, Var) && ((Var *) value)->varlevelsup == 0)
	{
		Var		   *var = (Var *) value;
		RangeTblEntry *rte = planner_rt_fetch(var->varno, root);

		if (rte->rtekind == RTE_RELATION && var->varattno > 0)
			return psprintf("%s.%s", rte->eref->aliasname,
							get_attname(rte->relid, var->varattno, false));
	}
	return pstrdup("");
}

/*
 * Split the scan's clauses into the one the API filters on and the rest.
 * A parameterized path sends its join clause; any other path the base qual
 * GetForeignRelSize chose.  The clause sent is also the scan's recheck
 * qual: when EvalPlanQual re-runs the plan with another outer row, the row
 * the API returned must be checked against the new value here.
 */
/*
 * The clause a scan sends for a field (project_id, or checkpoint): on a
 * parameterized path, a join clause on the field; else the base qual
 * GetForeignRelSize chose.  Returns NULL, or the clause with its value and
 * kind.
 */
static RestrictInfo *
choose_filter(PlannerInfo *root, RelOptInfo *baserel, ForeignPath *best_path,
			  List *scan_clauses, AttrNumber attno, RestrictInfo *base_qual,
			  Expr **value, CpFilterKind *kind)
{
	ListCell   *lc;

	*value = NULL;
	*kind = CP_FILTER_NONE;
	if (best_path->path.param_info)
	{
		foreach(lc, scan_clauses)
		{
			RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

			if (!list_member_ptr(baserel->baserestrictinfo, rinfo) &&
				cp_project_filter(root, baserel, attno, rinfo->clause, value, kind) &&
				*kind == CP_FILTER_SCALAR)
				return rinfo;
		}
	}
	if (base_qual && list_member_ptr(scan_clauses, base_qual) &&
		cp_project_filter(root, baserel, attno, base_qual->clause, value, kind))
		return base_qual;
	*value = NULL;
	*kind = CP_FILTER_NONE;
	return NULL;
}

/*
 * Split the scan's clauses into those the API filters on (project_id) or
 * that choose the lists (checkpoint), and the rest.  The clauses sent are
 * also the scan's recheck quals: when EvalPlanQual re-runs the plan with
 * another outer row, the row the API returned must be checked against the
 * new value here.
 */
static ForeignScan *
GetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
			   ForeignPath *best_path, List *tlist, List *scan_clauses,
			   Plan *outer_plan)
{
	CpRelInfo  *info = (CpRelInfo *) baserel->fdw_private;
	CpOrder		order = (CpOrder) intVal(list_nth(best_path->fdw_private, FdwPathPrivateOrder));
	int			limit = intVal(list_nth(best_path->fdw_private, FdwPathPrivateLimit));
	RestrictInfo *chosen;
	RestrictInfo *ckpt_chosen;
	Expr	   *value;
	Expr	   *ckpt_value;
	CpFilterKind kind;
	CpFilterKind ckpt_kind;
	List	   *local_exprs = NIL;
	List	   *recheck = NIL;
	List	   *bounds = NIL;
	Expr	   *bound_exprs[2];
	int			strategies[2];
	List	   *fdw_exprs;
	List	   *fdw_private;
	CpScanPlan	plan;
	ListCell   *lc;
	int			i;

	chosen = choose_filter(root, baserel, best_path, scan_clauses,
						   info->columns.attno[CP_FIELD_PROJECT_ID], info->pushed,
						   &value, &kind);
	ckpt_chosen = choose_filter(root, baserel, best_path, scan_clauses,
								info->columns.attno[CP_FIELD_CHECKPOINT], info->ckpt_pushed,
								&ckpt_value, &ckpt_kind);

	/* the created_at bounds the scan stops at, and the order that needs */
	bound_exprs[0] = bound_exprs[1] = NULL;
	strategies[0] = strategies[1] = 0;
	for (i = 0; i < 2; i++)
	{
		RestrictInfo *bound = i == 0 ? info->lower : info->upper;
		AttrNumber	created = info->columns.attno[CP_FIELD_CREATED_AT];

		if (bound && list_member_ptr(scan_clauses, bound) &&
			cp_created_bound(root, baserel, created, info->columns.basetype[created - 1],
							 bound->clause, &bound_exprs[i], &strategies[i]))
			bounds = lappend(bounds, bound);
		else
			bound_exprs[i] = NULL;
	}
	if (bounds != NIL && order == CP_ORDER_NONE)
		order = info->bound_order;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (rinfo == chosen || rinfo == ckpt_chosen || list_member_ptr(bounds, rinfo))
			recheck = lappend(recheck, rinfo->clause);
		else if (!rinfo->pseudoconstant)
			local_exprs = lappend(local_exprs, rinfo->clause);
	}
	/* a limit is right only if no row fetched can be dropped here */
	if (local_exprs != NIL)
		limit = 0;

	/* the request plan, walked by the scan and by EXPLAIN alike */
	plan.order = order;
	plan.row_budget = limit;
	plan.project_kind = kind;
	plan.max_lists = kind == CP_FILTER_ARRAY ? info->max_lists : 0;
	plan.project_label = chosen && !IsA(value, Const) ? cp_value_label(root, value) : "";
	plan.ckpt_kind = ckpt_kind;
	plan.ckpt_label = ckpt_chosen && !IsA(ckpt_value, Const) ?
		cp_value_label(root, ckpt_value) : "";
	plan.strategies[0] = strategies[0];
	plan.strategies[1] = strategies[1];
	fdw_private = list_make1(cp_scan_plan_to_private(&plan));

	/* fdw_exprs (CpScanExpr): a NULL constant for each value not sent */
	fdw_exprs = list_make4(value ? value : (Expr *) makeNullConst(TEXTOID, -1, InvalidOid),
						   ckpt_value ? ckpt_value : (Expr *) makeNullConst(TEXTOID, -1, InvalidOid),
						   bound_exprs[0] ? bound_exprs[0] : (Expr *) makeNullConst(INT8OID, -1, InvalidOid),
						   bound_exprs[1] ? bound_exprs[1] : (Expr *) makeNullConst(INT8OID, -1, InvalidOid));
	return make_foreignscan(tlist, local_exprs, baserel->relid, fdw_exprs,
							fdw_private, NIL, recheck, outer_plan);
}

/* ---------------------------------------------------------------------
 * Scanning
 * ---------------------------------------------------------------------
 */

/* The id kind of the values of each of fdw_exprs' conditions. */
static const CpIdKind expr_id_kind[2] = {CP_ID_PROJECT, CP_ID_CHECKPOINT};

/*
 * Start a scan of node's plan (a ForeignScan made by GetForeignPlan): the
 * state of its lists.  stream makes it page through them even in a
 * statement that writes, for a caller that reads everything before it
 * writes anything (a direct-modify DELETE, revoke.c).
 */
CpScanState *
cp_scan_begin(ForeignScanState *node, int eflags, bool stream)
{
	ForeignScan *fsplan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	Relation	rel = node->ss.ss_currentRelation;
	CpScanState *st = palloc0(sizeof(CpScanState));
	int			i;

	st->relid = RelationGetRelid(rel);
	cp_scan_plan_from_private(list_nth(fsplan->fdw_private, FdwScanPrivatePlan), &st->plan);
	st->exprs[CP_SCAN_EXPR_PROJECT] = st->plan.project_kind != CP_FILTER_NONE ?
		list_nth(fsplan->fdw_exprs, CP_SCAN_EXPR_PROJECT) : NULL;
	st->exprs[CP_SCAN_EXPR_CHECKPOINT] = st->plan.ckpt_kind != CP_FILTER_NONE ?
		list_nth(fsplan->fdw_exprs, CP_SCAN_EXPR_CHECKPOINT) : NULL;
	for (i = 0; i < 2; i++)
		st->exprs[CP_SCAN_EXPR_LOWER + i] = st->plan.strategies[i] != 0 ?
			list_nth(fsplan->fdw_exprs, CP_SCAN_EXPR_LOWER + i) : NULL;

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		/* EXPLAIN shows the requests: no user mapping, no key needed */
		cp_get_options(RelationGetRelid(rel), InvalidOid, &st->opts);
		return st;
	}

	for (i = 0; i < CP_SCAN_EXPRS; i++)
		if (st->exprs[i])
			st->expr_states[i] = ExecInitExpr(st->exprs[i], (PlanState *) node);
	cp_get_options(RelationGetRelid(rel), cp_scan_userid(node), &st->opts);
	cp_build_column_map(rel, &st->columns);
	/* a row budget may stop after the first list: those go one by one */
	st->nlisters = (st->plan.project_kind == CP_FILTER_ARRAY ||
					st->plan.ckpt_kind == CP_FILTER_ARRAY) &&
		st->plan.row_budget == 0 ? st->opts.max_concurrency : 1;
	st->listers = palloc0(sizeof(CpLister) * st->nlisters);
	cp_lister_init(&st->listers[0], &st->opts, &st->stats, estate->es_query_cxt);
	st->nready = 1;
	st->values_cxt = AllocSetContextCreate(estate->es_query_cxt, "checkpoint_perms values",
										   ALLOCSET_SMALL_SIZES);
	st->eval_cxt = AllocSetContextCreate(estate->es_query_cxt, "checkpoint_perms values",
										 ALLOCSET_SMALL_SIZES);
	st->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "checkpoint_perms row",
										ALLOCSET_SMALL_SIZES);
	st->segment = -1;
	st->need_eval = true;

	/*
	 * A statement that writes reads each list whole before its first row
	 * (statement.c): into a tuplestore, which spills to a temporary file
	 * past work_mem.
	 */
	if (cp_statement_writes(estate))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(estate->es_query_cxt);

		st->stmt = cp_statement(estate);
		if (!stream)
		{
			st->store = tuplestore_begin_heap(false, false, work_mem);
			st->store_slot = MakeSingleTupleTableSlot(RelationGetDescr(rel), &TTSOpsMinimalTuple);
		}
		MemoryContextSwitchTo(oldcxt);
	}
	return st;
}

static void
BeginForeignScan(ForeignScanState *node, int eflags)
{
	node->fdw_state = cp_scan_begin(node, eflags, false);
}

/* Are two sorted lists of strings the same? */
static bool
same_strings(char **a, int na, char **b, int nb)
{
	int			i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (strcmp(a[i], b[i]) != 0)
			return false;
	return true;
}

/*
 * Evaluate the created_at bounds (a NULL one matches no row); returns
 * whether they differ from the last (re)start's.
 */
static bool
evaluate_bounds(CpScanState *st, ExprContext *econtext)
{
	bool		was_null = st->bound_null;
	bool		changed = false;
	int			i;

	st->bound_null = false;
	for (i = 0; i < 2; i++)
	{
		ExprState  *expr = st->expr_states[CP_SCAN_EXPR_LOWER + i];
		int64		previous = st->bounds[i];
		bool		isnull;
		Datum		datum;

		if (expr == NULL)
			continue;
		datum = ExecEvalExpr(expr, econtext, &isnull);
		st->bound_null |= isnull;
		st->bounds[i] = isnull ? 0 : DatumGetInt64(datum);
		changed |= st->bounds[i] != previous;
	}
	return changed || st->bound_null != was_null;
}

/*
 * Evaluate the values of the project_id and checkpoint conditions into
 * CurrentMemoryContext (cp_condition_values: sorted, distinct, only
 * values that can be ids).
 */
static void
evaluate_values(CpScanState *st, ExprContext *econtext, CpConditionValues *values)
{
	int			i;

	for (i = 0; i < 2; i++)
	{
		ExprState  *expr = st->expr_states[i];
		CpFilterKind kind = i == CP_SCAN_EXPR_PROJECT ? st->plan.project_kind :
			st->plan.ckpt_kind;
		bool		isnull;
		Datum		datum;

		values[i].values = NULL;
		values[i].n = 0;
		if (expr == NULL)
			continue;
		datum = ExecEvalExpr(expr, econtext, &isnull);
		values[i].n = cp_condition_values(datum, isnull, kind, expr_id_kind[i],
										  &values[i].values);
	}
}

/*
 * Start (or restart, after a rescan) a scan: evaluate its values, and if
 * they name the same lists as before and what was read is still in memory
 * (the tuplestore, or the only page of a single list), rewind instead of
 * sending the requests again.
 */
static void
start_scan(CpScanState *st, ExprContext *econtext)
{
	CpConditionValues values[2];
	CpScanLists lists;
	bool		bounds_changed;
	MemoryContext oldcxt;

	st->need_eval = false;
	st->rows = 0;
	/* the planner saw to it that a table across checkpoints names them */
	if (st->columns.checkpoint == NULL && st->expr_states[CP_SCAN_EXPR_CHECKPOINT] == NULL)
		report_no_checkpoint(st->relid);
	MemoryContextReset(st->eval_cxt);
	oldcxt = MemoryContextSwitchTo(st->eval_cxt);
	evaluate_values(st, econtext, values);
	bounds_changed = evaluate_bounds(st, econtext);
	cp_scan_lists(&st->plan, st->columns.checkpoint,
				  values[CP_SCAN_EXPR_PROJECT].values, values[CP_SCAN_EXPR_PROJECT].n,
				  values[CP_SCAN_EXPR_CHECKPOINT].values, values[CP_SCAN_EXPR_CHECKPOINT].n,
				  st->bound_null, &lists);
	MemoryContextSwitchTo(oldcxt);

	if (st->segment >= 0 && !bounds_changed &&
		same_strings(lists.projects, lists.nprojects, st->lists.projects, st->lists.nprojects) &&
		same_strings(lists.checkpoints, lists.ncheckpoints,
					 st->lists.checkpoints, st->lists.ncheckpoints))
	{
		if (st->store && st->stored)
		{
			tuplestore_rescan(st->store);
			return;
		}
		if (!st->store && st->lists.nsegments == 1 && cp_lister_rewind(&st->listers[0]))
		{
			st->segment = 0;
			return;
		}
	}

	/* keep the new lists: the evaluation context becomes the values' */
	{
		MemoryContext swap = st->values_cxt;

		st->values_cxt = st->eval_cxt;
		st->eval_cxt = swap;
	}
	st->lists = lists;
	st->segment = -1;
	st->started = 0;
	if (st->store)
	{
		tuplestore_clear(st->store);
		st->stored = false;
	}
}

/* What the scan does with a row of a list. */
typedef enum CpRowVerdict
{
	CP_ROW_TAKE,
	CP_ROW_SKIP,
	CP_ROW_STOP					/* past the created_at bound the list stops at */
} CpRowVerdict;

/* A created_at as the bounds hold it: microseconds, or a bigint's seconds. */
static int64
row_time(const CpScanState *st, int64 seconds)
{
	AttrNumber	created = st->columns.attno[CP_FIELD_CREATED_AT];

	if (st->columns.basetype[created - 1] == INT8OID)
		return seconds;
	return (int64) time_t_to_timestamptz((pg_time_t) seconds);
}

/* Does a created_at meet bound i (0 lower, 1 upper)? */
static bool
meets_bound(const CpScanState *st, int i, int64 t)
{
	switch (st->plan.strategies[i])
	{
		case BTGreaterStrategyNumber:
			return t > st->bounds[i];
		case BTGreaterEqualStrategyNumber:
			return t >= st->bounds[i];
		case BTLessEqualStrategyNumber:
			return t <= st->bounds[i];
		case BTLessStrategyNumber:
			return t < st->bounds[i];
	}
	return true;
}

/* Is this a full list filtered here by the project values? */
static inline bool
filtered_here(const CpScanState *st)
{
	return st->plan.project_kind != CP_FILTER_NONE && !st->lists.per_project;
}

/*
 * Is this row of the list one the scan returns?  A row past the bound the
 * list's order runs towards ends the list: every row after it is further.
 */
static CpRowVerdict
judge_row(CpScanState *st, const CpPermission *perm)
{
	int			i;

	for (i = 0; i < 2; i++)
	{
		bool		lower = i == 0;
		bool		ascending = st->plan.order == CP_ORDER_ASC;

		if (st->plan.strategies[i] == 0 || meets_bound(st, i, row_time(st, perm->created_at)))
			continue;
		/* newest first runs towards the lower bound, oldest first the upper */
		return lower != ascending ? CP_ROW_STOP : CP_ROW_SKIP;
	}

	/* the API filtered; should it ever not, the row is not ours */
	if (st->lists.per_project &&
		strcmp(perm->project_id, cp_segment_project(&st->lists, st->segment)) != 0)
		return CP_ROW_SKIP;
	if (filtered_here(st) &&
		bsearch(&perm->project_id, st->lists.projects, st->lists.nprojects, sizeof(char *),
				cp_compare_strings) == NULL)
		return CP_ROW_SKIP;
	/* a scan that started after this statement's grants does not see them */
	if (cp_statement_is_own_grant(st->stmt, cp_segment_checkpoint(&st->lists, st->segment),
								  perm->id))
		return CP_ROW_SKIP;
	return CP_ROW_TAKE;
}

/*
 * Start the lists of the segments from st->segment on: one, or as many as
 * there are listers, whose first pages are then fetched at once.  Each of
 * those lists' pages replaces, in its lister, the last page of a segment
 * already read, so no more than nlisters pages are held.
 */
static void
start_segments(CpScanState *st)
{
	CpLister   *batch[CP_MAX_CONCURRENCY];
	int			n = Min(st->nlisters, st->lists.nsegments - st->segment);
	int			i;

	for (i = 0; i < n; i++)
	{
		int			seg = st->segment + i;
		CpLister   *lister = &st->listers[seg % st->nlisters];

		if (seg % st->nlisters >= st->nready)
		{
			cp_lister_init(lister, &st->opts, &st->stats, st->listers[0].cxt);
			st->nready++;
		}
		cp_lister_set_checkpoint(lister, (char *) cp_segment_checkpoint(&st->lists, seg));
		cp_lister_start(lister, cp_segment_base_path(&st->plan, &st->lists, seg));
		cp_lister_set_page_limit(lister, cp_plan_page_limit(&st->plan, filtered_here(st),
															st->opts.page_size, st->rows));
		batch[i] = lister;
	}
	st->started = st->segment + n;
	cp_lister_fetch_first(batch, n);
}

/*
 * The current list needs its next page: read the next page of every list
 * started with it too, at once (they would each wait in turn); not with a
 * created_at bound, which may end those lists first.
 */
static void
read_ahead(CpScanState *st)
{
	CpLister   *batch[CP_MAX_CONCURRENCY];
	int			n = 0;
	int			seg;

	if (st->segment < 0 || st->nlisters == 1 ||
		st->plan.strategies[0] != 0 || st->plan.strategies[1] != 0 ||
		!cp_lister_needs_page(&st->listers[st->segment % st->nlisters]))
		return;
	for (seg = st->segment; seg < st->started && n < st->nlisters; seg++)
		batch[n++] = &st->listers[seg % st->nlisters];
	cp_lister_fetch_ahead(batch, n);
}

/*
 * The next row from the API into slot, or false at the end of the lists
 * or once the row budget is met: the budget counts the rows returned, not
 * those the lists sent, some of which may be passed over here.
 */
static bool
next_api_row(CpScanState *st, TupleTableSlot *slot)
{
	int64		budget = st->plan.row_budget;

	while (budget == 0 || st->rows < budget)
	{
		CpLister   *lister;
		CpPermission *perm;
		MemoryContext oldcxt;

		read_ahead(st);
		lister = st->segment >= 0 ? &st->listers[st->segment % st->nlisters] : NULL;
		while (lister)
		{
			CpRowVerdict verdict;

			/* a smaller page when the budget needs fewer rows */
			if (budget > 0)
				cp_lister_set_page_limit(lister, cp_plan_page_limit(&st->plan, filtered_here(st),
																	st->opts.page_size,
																	st->rows));
			if ((perm = cp_lister_next(lister)) == NULL)
				break;
			verdict = judge_row(st, perm);
			if (verdict == CP_ROW_STOP)
				break;			/* on to the next list */
			if (verdict == CP_ROW_SKIP)
				continue;
			perm->checkpoint = cp_segment_checkpoint(&st->lists, st->segment);
			st->rows++;
			ExecClearTuple(slot);
			MemoryContextReset(st->row_cxt);
			oldcxt = MemoryContextSwitchTo(st->row_cxt);
			cp_store_permission(&st->columns, perm, slot->tts_values, slot->tts_isnull);
			MemoryContextSwitchTo(oldcxt);
			ExecStoreVirtualTuple(slot);
			return true;
		}

		if (st->segment + 1 >= st->lists.nsegments)
			return false;
		st->segment++;
		if (st->segment >= st->started)
			start_segments(st);
	}
	return false;
}

/* The next row of the scan in node's scan slot; an empty slot at the end. */
TupleTableSlot *
cp_scan_next(CpScanState *st, ForeignScanState *node)
{
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	int			natts = slot->tts_tupleDescriptor->natts;

	if (st->need_eval)
		start_scan(st, node->ss.ps.ps_ExprContext);
	if (st->store == NULL)
	{
		if (!next_api_row(st, slot))
			ExecClearTuple(slot);
		return slot;
	}

	/* a statement that writes: the whole list first, then its rows */
	if (!st->stored)
	{
		while (next_api_row(st, slot))
			tuplestore_puttupleslot(st->store, slot);
		st->stored = true;
	}
	ExecClearTuple(slot);
	if (!tuplestore_gettupleslot(st->store, true, false, st->store_slot))
		return slot;
	slot_getallattrs(st->store_slot);
	memcpy(slot->tts_values, st->store_slot->tts_values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, st->store_slot->tts_isnull, sizeof(bool) * natts);
	return ExecStoreVirtualTuple(slot);
}

static TupleTableSlot *
IterateForeignScan(ForeignScanState *node)
{
	return cp_scan_next((CpScanState *) node->fdw_state, node);
}

static void
ReScanForeignScan(ForeignScanState *node)
{
	CpScanState *st = (CpScanState *) node->fdw_state;

	/* parameters may have changed: start_scan compares and rewinds if it can */
	st->need_eval = true;
}

/* End a scan: the contexts go with the query's; the tuplestore's file now. */
void
cp_scan_end(CpScanState *st)
{
	if (st && st->store)
	{
		tuplestore_end(st->store);
		st->store = NULL;
		ExecDropSingleTupleTableSlot(st->store_slot);
	}
}

static void
EndForeignScan(ForeignScanState *node)
{
	cp_scan_end((CpScanState *) node->fdw_state);
}

/*
 * The values of a condition that is a constant, as the scan evaluates
 * them; NULL for none or a run-time value (EXPLAIN shows a placeholder).
 */
static CpConditionValues *
const_values(Expr *expr, CpFilterKind kind, CpIdKind idkind)
{
	CpConditionValues *values;
	Const	   *c;

	if (expr == NULL || !IsA(expr, Const))
		return NULL;
	c = (Const *) expr;
	values = palloc(sizeof(CpConditionValues));
	values->n = cp_condition_values(c->constvalue, c->constisnull, kind, idkind, &values->values);
	return values;
}

/*
 * The requests a scan sends, as EXPLAIN's "OpenAI Request" lines (plan.c
 * builds them from the plan the scan walks).
 */
List *
cp_scan_request_lines(const CpScanState *st)
{
	return cp_scan_plan_lines(&st->plan, st->opts.page_size, st->opts.checkpoint,
							  const_values(st->exprs[CP_SCAN_EXPR_PROJECT],
										   st->plan.project_kind, CP_ID_PROJECT),
							  const_values(st->exprs[CP_SCAN_EXPR_CHECKPOINT],
										   st->plan.ckpt_kind, CP_ID_CHECKPOINT));
}

static void
ExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	CpScanState *st = (CpScanState *) node->fdw_state;

	cp_explain_requests(cp_scan_request_lines(st), es);
	if (es->analyze)
		cp_explain_stats(&st->stats, true, es);
}

/* What the scan's requests cost so far, for EXPLAIN ANALYZE. */
const CpStats *
cp_scan_stats(const CpScanState *st)
{
	return &st->stats;
}

/* Set the callbacks of planning and scanning. */
void
cp_scan_callbacks(FdwRoutine *routine)
{
	routine->GetForeignRelSize = GetForeignRelSize;
	routine->GetForeignPaths = GetForeignPaths;
	routine->GetForeignPlan = GetForeignPlan;
	routine->BeginForeignScan = BeginForeignScan;
	routine->IterateForeignScan = IterateForeignScan;
	routine->ReScanForeignScan = ReScanForeignScan;
	routine->EndForeignScan = EndForeignScan;
	routine->ExplainForeignScan = ExplainForeignScan;
}
