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

/* Positions in ForeignScan.fdw_private. */
enum FdwScanPrivateIndex
{
	FdwScanPrivateOrder,		/* Integer: CpOrder */
	FdwScanPrivateLimit,		/* Integer: rows to fetch at most, 0: all */
	FdwScanPrivateFilterKind,	/* Integer: CpFilterKind of fdw_exprs' one value */
	FdwScanPrivateMaxLists,		/* Integer: array filter: lists per value up to
								 * this many values, else one full list */
	FdwScanPrivateValueLabel,	/* String: EXPLAIN's name for a value known at
								 * run time, or "" */
	FdwScanPrivateCkptKind,		/* Integer: CpFilterKind of the checkpoint
								 * value(s), fdw_exprs' second item */
	FdwScanPrivateCkptLabel,	/* String: as FdwScanPrivateValueLabel, for it */
	FdwScanPrivateLowerStrategy,	/* Integer: btree strategy of the created_at
									 * lower bound (fdw_exprs' third), or 0 */
	FdwScanPrivateUpperStrategy /* Integer: likewise, the upper bound (fourth) */
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
	CpOrder		order;
	int64		limit;			/* rows to fetch at most, 0: all */
	CpFilterKind filter_kind;
	int			max_lists;		/* array filter: see FdwScanPrivateMaxLists */
	char	   *value_label;	/* see FdwScanPrivateValueLabel */
	Expr	   *filter_value;	/* the project_id value(s), or NULL */
	ExprState  *filter_expr;
	CpFilterKind ckpt_kind;		/* the checkpoint(s) a query names */
	char	   *ckpt_label;		/* see FdwScanPrivateCkptLabel */
	Expr	   *ckpt_value;		/* the checkpoint value(s), or NULL */
	ExprState  *ckpt_expr;
	int			strategies[2];	/* of the lower and upper created_at bound */
	ExprState  *bound_exprs[2];
	bool		bound_null;		/* a bound is NULL: no row can match */
	int64		bounds[2];		/* as row_time() gives a row's */

	/*
	 * The project ids of the filter, sorted and distinct, and how they are
	 * listed: one list ("segment") per value, or one full list whose rows
	 * are filtered here.  See start_scan().
	 */
	char	  **values;
	int			nvalues;
	bool		per_value;
	char	  **checkpoints;	/* the checkpoints listed, sorted and distinct */
	int			ncheckpoints;
	int			per_checkpoint; /* segments of one checkpoint: the value
								 * lists, or 1 full list */
	int			nsegments;		/* ncheckpoints * per_checkpoint */
	int			segment;		/* segment being listed, -1 before the first */
	int			started;		/* segments whose list was started */
	bool		need_eval;		/* (re)start: evaluate the filter first */
	MemoryContext values_cxt;	/* holds values */
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
	bool		stored;			/* store holds the list of values */
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

	fdw_private = NIL;
	fdw_private = lappend(fdw_private, makeInteger(order));
	fdw_private = lappend(fdw_private, makeInteger(limit));
	fdw_private = lappend(fdw_private, makeInteger(kind));
	fdw_private = lappend(fdw_private, makeInteger(kind == CP_FILTER_ARRAY ? info->max_lists : 0));
	fdw_private = lappend(fdw_private,
						  makeString(chosen && !IsA(value, Const) ? cp_value_label(root, value) :
									 pstrdup("")));
	fdw_private = lappend(fdw_private, makeInteger(ckpt_kind));
	fdw_private = lappend(fdw_private,
						  makeString(ckpt_chosen && !IsA(ckpt_value, Const) ?
									 cp_value_label(root, ckpt_value) : pstrdup("")));
	fdw_private = lappend(fdw_private, makeInteger(strategies[0]));
	fdw_private = lappend(fdw_private, makeInteger(strategies[1]));

	/*
	 * fdw_exprs: the project_id value(s), the checkpoint(s), the lower and
	 * the upper created_at bound; a NULL constant for each that is not sent.
	 */
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
	st->order = (CpOrder) intVal(list_nth(fsplan->fdw_private, FdwScanPrivateOrder));
	st->limit = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateLimit));
	st->filter_kind = (CpFilterKind) intVal(list_nth(fsplan->fdw_private, FdwScanPrivateFilterKind));
	st->max_lists = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateMaxLists));
	st->value_label = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateValueLabel));
	st->ckpt_kind = (CpFilterKind) intVal(list_nth(fsplan->fdw_private, FdwScanPrivateCkptKind));
	st->ckpt_label = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateCkptLabel));
	if (st->filter_kind != CP_FILTER_NONE)
		st->filter_value = (Expr *) linitial(fsplan->fdw_exprs);
	if (st->ckpt_kind != CP_FILTER_NONE)
		st->ckpt_value = (Expr *) lsecond(fsplan->fdw_exprs);
	st->strategies[0] = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateLowerStrategy));
	st->strategies[1] = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateUpperStrategy));

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		/* EXPLAIN shows the requests: no user mapping, no key needed */
		cp_get_options(RelationGetRelid(rel), InvalidOid, &st->opts);
		return st;
	}

	if (st->filter_value)
		st->filter_expr = ExecInitExpr(st->filter_value, (PlanState *) node);
	if (st->ckpt_value)
		st->ckpt_expr = ExecInitExpr(st->ckpt_value, (PlanState *) node);
	for (i = 0; i < 2; i++)
		if (st->strategies[i] != 0)
			st->bound_exprs[i] = ExecInitExpr((Expr *) list_nth(fsplan->fdw_exprs, 2 + i),
											  (PlanState *) node);
	cp_get_options(RelationGetRelid(rel), cp_scan_userid(node), &st->opts);
	cp_build_column_map(rel, &st->columns);
	/* a pushed LIMIT may stop after the first list: those go one by one */
	st->nlisters = (st->filter_kind == CP_FILTER_ARRAY || st->ckpt_kind == CP_FILTER_ARRAY) &&
		st->limit == 0 ? st->opts.max_concurrency : 1;
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

/* Evaluate a filter's value(s) into CurrentMemoryContext: see cp_filter_values. */
static void
evaluate_values(ExprState *expr, CpFilterKind kind, ExprContext *econtext,
				char ***values, int *nvalues)
{
	bool		isnull;
	Datum		datum = ExecEvalExpr(expr, econtext, &isnull);

	*nvalues = cp_filter_values(datum, isnull, kind, values);
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
 * Start (or restart, after a rescan) a scan: evaluate the filter, and if
 * it lists the same projects as before and what it read is still in
 * memory (the tuplestore, or the only page of a single list), rewind
 * instead of sending the requests again.
 */
static void
start_scan(CpScanState *st, ExprContext *econtext)
{
	char	  **values = NULL;
	int			nvalues = 0;
	char	  **checkpoints = NULL;
	int			ncheckpoints = 0;
	bool		bounds_changed = false;
	bool		same;
	MemoryContext oldcxt;
	int			i;

	st->need_eval = false;
	st->rows = 0;
	MemoryContextReset(st->eval_cxt);
	oldcxt = MemoryContextSwitchTo(st->eval_cxt);
	if (st->filter_expr)
		evaluate_values(st->filter_expr, st->filter_kind, econtext, &values, &nvalues);

	/*
	 * The checkpoints: those the query names (a table across checkpoints
	 * names them so, the planner saw to it); for a table of one checkpoint,
	 * its own, unless a condition on its checkpoint column rules it out.
	 */
	if (st->ckpt_expr)
		evaluate_values(st->ckpt_expr, st->ckpt_kind, econtext, &checkpoints, &ncheckpoints);
	else if (st->columns.checkpoint == NULL)
		report_no_checkpoint(st->relid);
	/* the created_at bounds: a NULL one matches no row */
	{
		bool		was_null = st->bound_null;

		st->bound_null = false;
		for (i = 0; i < 2; i++)
		{
			int64		previous = st->bounds[i];
			bool		isnull;
			Datum		datum;

			if (st->bound_exprs[i] == NULL)
				continue;
			datum = ExecEvalExpr(st->bound_exprs[i], econtext, &isnull);
			st->bound_null |= isnull;
			st->bounds[i] = isnull ? 0 : DatumGetInt64(datum);
			bounds_changed |= st->bounds[i] != previous;
		}
		bounds_changed |= st->bound_null != was_null;
	}

	if (st->columns.checkpoint != NULL)
	{
		bool		named = st->ckpt_expr == NULL;

		for (i = 0; !named && i < ncheckpoints; i++)
			named = strcmp(checkpoints[i], st->columns.checkpoint) == 0;
		checkpoints = palloc(sizeof(char *));
		checkpoints[0] = pstrdup(st->columns.checkpoint);
		ncheckpoints = named ? 1 : 0;
	}
	MemoryContextSwitchTo(oldcxt);

	same = st->segment >= 0 && !bounds_changed &&
		same_strings(values, nvalues, st->values, st->nvalues) &&
		same_strings(checkpoints, ncheckpoints, st->checkpoints, st->ncheckpoints);
	if (same && st->store && st->stored)
	{
		tuplestore_rescan(st->store);
		return;
	}
	if (same && !st->store && st->nsegments == 1 && cp_lister_rewind(&st->listers[0]))
	{
		st->segment = 0;
		return;
	}

	/* keep the new values: the evaluation context becomes the values' */
	{
		MemoryContext swap = st->values_cxt;

		st->values_cxt = st->eval_cxt;
		st->eval_cxt = swap;
	}
	st->values = values;
	st->nvalues = nvalues;
	st->checkpoints = checkpoints;
	st->ncheckpoints = ncheckpoints;
	if (st->filter_expr == NULL)
	{
		st->per_value = false;
		st->per_checkpoint = 1;
	}
	else if (nvalues <= st->max_lists || st->filter_kind == CP_FILTER_SCALAR)
	{
		st->per_value = true;
		st->per_checkpoint = nvalues;
	}
	else
	{
		/* more lists than one full list takes: list all, filter here */
		st->per_value = false;
		st->per_checkpoint = nvalues > 0 ? 1 : 0;
	}
	st->nsegments = st->bound_null ? 0 : ncheckpoints * st->per_checkpoint;
	/* every value is refused before any list is sent, not when its turn comes */
	for (i = 0; i < ncheckpoints; i++)
		cp_check_sql_id(CP_ID_CHECKPOINT, checkpoints[i], "");
	if (st->per_value)
		for (i = 0; i < nvalues; i++)
			cp_check_sql_id(CP_ID_PROJECT, values[i], "");
	st->segment = -1;
	st->started = 0;
	if (st->store)
	{
		tuplestore_clear(st->store);
		st->stored = false;
	}
}

/* The checkpoint and the project_id value (or NULL) of a segment. */
static inline char *
segment_checkpoint(const CpScanState *st, int seg)
{
	return st->checkpoints[seg / st->per_checkpoint];
}

static inline const char *
segment_value(const CpScanState *st, int seg)
{
	return st->per_value ? st->values[seg % st->per_checkpoint] : NULL;
}

static bool wanted_row(CpScanState *st, const CpPermission *perm);

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
	switch (st->strategies[i])
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
		bool		ascending = st->order == CP_ORDER_ASC;

		if (st->strategies[i] == 0 || meets_bound(st, i, row_time(st, perm->created_at)))
			continue;
		/* newest first runs towards the lower bound, oldest first the upper */
		return lower != ascending ? CP_ROW_STOP : CP_ROW_SKIP;
	}
	return wanted_row(st, perm) ? CP_ROW_TAKE : CP_ROW_SKIP;
}

/* Is this row of the list one the scan returns? */
static bool
wanted_row(CpScanState *st, const CpPermission *perm)
{
	/* the API filtered; should it ever not, the row is not ours */
	if (st->per_value && strcmp(perm->project_id, segment_value(st, st->segment)) != 0)
		return false;
	if (st->filter_expr && !st->per_value &&
		bsearch(&perm->project_id, st->values, st->nvalues, sizeof(char *),
				cp_compare_strings) == NULL)
		return false;
	/* a scan that started after this statement's grants does not see them */
	if (cp_statement_is_own_grant(st->stmt, segment_checkpoint(st, st->segment), perm->id))
		return false;
	return true;
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
	int			n = Min(st->nlisters, st->nsegments - st->segment);
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

		/*
		 * Cap the rows fetched by the LIMIT, unless rows are dropped here
		 * (a full list for an array filter): then only rows returned count.
		 */
		cp_lister_set_checkpoint(lister, segment_checkpoint(st, seg));
		cp_lister_start(lister,
						cp_list_base_path(segment_checkpoint(st, seg), segment_value(st, seg),
										  false, st->order),
						segment_value(st, seg),
						st->limit > 0 && (st->per_value || !st->filter_expr) &&
						st->strategies[0] == 0 && st->strategies[1] == 0 ?
						st->limit - st->rows : 0);
		batch[i] = lister;
	}
	st->started = st->segment + n;
	cp_lister_fetch_first(batch, n);
}

/* The next row from the API into slot, or false at the end of the lists. */
static bool
next_api_row(CpScanState *st, TupleTableSlot *slot)
{
	for (;;)
	{
		CpPermission *perm;
		MemoryContext oldcxt;

		/*
		 * The current list needs its next page: read the next page of every
		 * list started with it too, at once (they would each wait in turn);
		 * not with a created_at bound, which may end those lists first.
		 */
		if (st->segment >= 0 && st->nlisters > 1 &&
			st->strategies[0] == 0 && st->strategies[1] == 0 &&
			cp_lister_needs_page(&st->listers[st->segment % st->nlisters]))
		{
			CpLister   *batch[CP_MAX_CONCURRENCY];
			int			n = 0;
			int			seg;

			for (seg = st->segment; seg < st->started && n < st->nlisters; seg++)
				batch[n++] = &st->listers[seg % st->nlisters];
			cp_lister_fetch_ahead(batch, n);
		}

		while (st->segment >= 0 &&
			   (perm = cp_lister_next(&st->listers[st->segment % st->nlisters])) != NULL)
		{
			CpRowVerdict verdict = judge_row(st, perm);

			if (verdict == CP_ROW_STOP)
				break;			/* on to the next list */
			if (verdict == CP_ROW_SKIP)
				continue;
			perm->checkpoint = segment_checkpoint(st, st->segment);
			st->rows++;
			ExecClearTuple(slot);
			MemoryContextReset(st->row_cxt);
			oldcxt = MemoryContextSwitchTo(st->row_cxt);
			cp_store_permission(&st->columns, perm, slot->tts_values, slot->tts_isnull);
			MemoryContextSwitchTo(oldcxt);
			ExecStoreVirtualTuple(slot);
			return true;
		}

		if ((st->limit > 0 && st->rows >= st->limit) || st->segment + 1 >= st->nsegments)
			return false;
		st->segment++;
		if (st->segment >= st->started)
			start_segments(st);
	}
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

/* Requests of an array filter that EXPLAIN names one by one. */
#define CP_EXPLAIN_MAX_LISTS 5

/*
 * The first page request of a list, built by the code that builds the
 * real one: the checkpoint and the project_id are values or {placeholders}
 * (placeholders: CP_PLACEHOLDER_*); project_id NULL: no filter.
 */
static char *
list_request_text(const CpScanState *st, const char *checkpoint, const char *project_id,
				  int placeholders)
{
	int			limit = st->limit > 0 ? (int) Min(st->limit, (int64) st->opts.page_size) :
		st->opts.page_size;

	return psprintf("GET %s",
					cp_list_page_path(cp_list_base_path(checkpoint, project_id, placeholders,
														st->order),
									  limit, NULL));
}

/* The values a constant filter names, as the scan will list them. */
static List *
const_values(Const *c, CpFilterKind kind)
{
	char	  **values;
	int			n = cp_filter_values(c->constvalue, c->constisnull, kind, &values);
	List	   *result = NIL;
	int			i;

	for (i = 0; i < n; i++)
		result = lappend(result, values[i]);
	return result;
}

/* The checkpoints EXPLAIN shows lists of: names, or one {placeholder}. */
static List *
explain_checkpoints(const CpScanState *st, bool *placeholder)
{
	Const	   *c = (st->ckpt_value && IsA(st->ckpt_value, Const)) ?
		(Const *) st->ckpt_value : NULL;
	List	   *named;

	*placeholder = false;
	if (st->opts.checkpoint != NULL)
	{
		/* a table of one checkpoint: a condition naming another excludes it */
		if (c && !c->constisnull)
		{
			ListCell   *lc;
			bool		found = false;

			named = const_values(c, st->ckpt_kind);
			foreach(lc, named)
				found = found || strcmp(lfirst(lc), st->opts.checkpoint) == 0;
			if (!found)
				return NIL;
		}
		return list_make1(st->opts.checkpoint);
	}
	if (c && c->constisnull)
		return NIL;
	if (c)
		return const_values(c, st->ckpt_kind);
	*placeholder = true;
	if (st->ckpt_kind == CP_FILTER_SCALAR)
		return list_make1(st->ckpt_label[0] ? psprintf("{%s}", st->ckpt_label) :
						  "{run-time checkpoint}");
	return list_make1(st->ckpt_label[0] ? psprintf("{each value of %s}", st->ckpt_label) :
					  "{each run-time checkpoint}");
}

/*
 * The requests a scan sends, as EXPLAIN's "OpenAI Request" lines: one per
 * list (the first few, for several checkpoints or an array of values), a
 * {placeholder} for a value known only at run time.
 */
List *
cp_scan_request_lines(const CpScanState *st)
{
	List	   *lines = NIL;
	Const	   *c = (st->filter_value && IsA(st->filter_value, Const)) ?
		(Const *) st->filter_value : NULL;
	bool		ckpt_placeholder;
	List	   *checkpoints = explain_checkpoints(st, &ckpt_placeholder);
	int			cflag = ckpt_placeholder ? CP_PLACEHOLDER_CHECKPOINT : 0;
	ListCell   *lc;
	ListCell   *vc;

	if (checkpoints == NIL)
		return list_make1(pstrdup("none: no checkpoint of this table is named"));

	foreach(lc, checkpoints)
	{
		const char *ckpt = lfirst(lc);
		List	   *mine = NIL;

		if (st->filter_kind == CP_FILTER_NONE)
			mine = list_make1(list_request_text(st, ckpt, NULL, cflag));
		else if (st->filter_kind == CP_FILTER_SCALAR && c)
			mine = list_make1(list_request_text(st, ckpt, TextDatumGetCString(c->constvalue),
												cflag));
		else if (st->filter_kind == CP_FILTER_SCALAR)
			mine = list_make1(list_request_text(st, ckpt, st->value_label[0] ?
												psprintf("{%s}", st->value_label) :
												"{run-time value}",
												cflag | CP_PLACEHOLDER_PROJECT));
		else if (c)
		{
			List	   *values = const_values(c, CP_FILTER_ARRAY);

			if (list_length(values) > st->max_lists)
				mine = list_make1(psprintf("%s, filtered here by %d values",
										   list_request_text(st, ckpt, NULL, cflag),
										   list_length(values)));
			else
				foreach(vc, values)
					mine = lappend(mine, list_request_text(st, ckpt, lfirst(vc), cflag));
			if (values == NIL)
				return list_make1(pstrdup("none: the array holds no value"));
		}
		else
		{
			mine = list_make1(list_request_text(st, ckpt, st->value_label[0] ?
												psprintf("{each value of %s}", st->value_label) :
												"{each run-time value}",
												cflag | CP_PLACEHOLDER_PROJECT));
			mine = lappend(mine, psprintf("%s, filtered here, for more than %d values",
										  list_request_text(st, ckpt, NULL, cflag),
										  st->max_lists));
		}
		lines = list_concat(lines, mine);
	}
	/* many lists: the first few, and how many more */
	if (list_length(lines) > CP_EXPLAIN_MAX_LISTS + 1)
	{
		int			more = list_length(lines) - CP_EXPLAIN_MAX_LISTS;

		lines = list_truncate(lines, CP_EXPLAIN_MAX_LISTS);
		lines = lappend(lines, psprintf("... and %d more, one per list", more));
	}
	return lines;
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
