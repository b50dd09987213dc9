/*-------------------------------------------------------------------------
 *
 * paths.c
 *		  The planner callbacks of a foreign scan: its size, its paths and
 *		  costs, and the request plan its ForeignScan carries.
 *
 * The planner sends the API what it can filter and order by (pushdown.c
 * says which conditions), offers parameterized paths for joins on
 * project_id (and on checkpoint, for a table across checkpoints), and
 * writes one request plan per scan (plan.c) that execution and EXPLAIN
 * both walk.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>
#include <math.h>

#include "access/stratnum.h"
#include "foreign/fdwapi.h"
#include "nodes/makefuncs.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "parser/parsetree.h"
#include "utils/array.h"
#include "utils/lsyscache.h"

#include "planner.h"

/* Values assumed in a project_id = ANY(array) that is not a constant. */
#define CP_DEFAULT_ARRAY_VALUES 10

/* Positions in a ForeignPath's fdw_private. */
enum FdwPathPrivateIndex
{
	FdwPathPrivateOrder,		/* Integer: CpOrder */
	FdwPathPrivateLimit,		/* Integer: rows to fetch at most, 0: all */
	FdwPathPrivateBothEnds,		/* Integer: its list may be read from both ends
								 * (0 or 1; there is no Boolean node before
								 * PostgreSQL 15) */
	FdwPathPrivateBatched,		/* Integer: the CpScanExpr whose values a
								 * batched join sets (joinpath.c), or -1 */
	FdwPathPrivateBatchLabel	/* String: EXPLAIN's name of its outer key */
};

/* What GetForeignRelSize learns for the later planning callbacks. */
typedef struct CpRelInfo
{
	CpOptions	opts;
	CpColumnMap columns;
	double		ntuples;		/* permissions in the checkpoint, estimated */
	RestrictInfo *pushed;		/* the base qual sent as ?project_id=, or NULL */
	CpFilterKind pushed_kind;
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
 * Sort the base quals: the one naming checkpoints (checkpoint = x or =
 * ANY(...): which lists to send, or none), the created_at bounds the scan
 * stops at, the first "project_id = value" the API filters on (or else
 * the first "project_id = ANY(array)", returned in *array_qual), and the
 * rest, checked locally.  *row_quals gets every qual that filters rows
 * (all but the checkpoint's), for the row estimate.
 */
static void
classify_quals(PlannerInfo *root, RelOptInfo *baserel, CpRelInfo *info,
			   RestrictInfo **array_qual, Expr **array_value, List **row_quals)
{
	AttrNumber	project_attno = info->columns.attno[CP_FIELD_PROJECT_ID];
	AttrNumber	ckpt_attno = info->columns.attno[CP_FIELD_CHECKPOINT];
	AttrNumber	created = info->columns.attno[CP_FIELD_CREATED_AT];
	ListCell   *lc;

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		Expr	   *value;
		CpFilterKind kind;
		int			strategy;

		if (info->ckpt_pushed == NULL &&
			cp_project_filter(root, baserel, ckpt_attno, rinfo->clause, &value, &kind))
		{
			info->ckpt_pushed = rinfo;
			info->ckpt_kind = kind;
			if (info->spans && kind == CP_FILTER_ARRAY)
				info->ckpt_values = array_values(value);
			continue;
		}
		*row_quals = lappend(*row_quals, rinfo);

		if (created != InvalidAttrNumber &&
			cp_created_bound(root, baserel, created, info->columns.basetype[created - 1],
							 rinfo->clause, &value, &strategy))
		{
			bool		is_lower = strategy == BTGreaterStrategyNumber ||
				strategy == BTGreaterEqualStrategyNumber;
			RestrictInfo **bound = is_lower ? &info->lower : &info->upper;

			if (*bound == NULL)
			{
				*bound = rinfo;
				continue;
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
			if (*array_qual == NULL)
			{
				*array_qual = rinfo;
				*array_value = value;
				continue;
			}
		}
		info->local_conds = lappend(info->local_conds, rinfo);
	}
}

/*
 * The requests and rows of one checkpoint's lists: a scalar filter's one
 * list; an array's one list per value, or one full list filtered here
 * when it has more than max_lists values (more requests than a full list
 * takes: a parameter's size is known only when the scan starts); then the
 * created_at bounds, which stop the list at the end whose side holds
 * fewer rows.
 */
static void
estimate_lists(PlannerInfo *root, CpRelInfo *info, RestrictInfo *array_qual,
			   Expr *array_value, double full_pages)
{
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
		info->max_lists = (int) Max(1.0, Min(floor(full_pages / per_value), (double) INT_MAX));
		if (values <= info->max_lists)
		{
			info->requests = values * per_value;
			info->received = matching;
		}
	}

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
}

/*
 * Size the relation and decide which base quals reach the API
 * (classify_quals) and what its lists cost (estimate_lists).
 */
static void
GetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	CpRelInfo  *info = palloc0(sizeof(CpRelInfo));
	RestrictInfo *array_qual = NULL;
	Expr	   *array_value = NULL;
	List	   *row_quals = NIL;
	double		full_pages;

	cp_get_options(foreigntableid, InvalidOid, &info->opts);
	cp_load_column_map(foreigntableid, &info->columns);
	info->spans = info->columns.checkpoint == NULL;
	info->ckpt_values = 1;

	/* reltuples is -1 until ANALYZE */
	info->ntuples = baserel->tuples >= 0 ? Max(baserel->tuples, 1.0) : CP_DEFAULT_PERMISSIONS;
	full_pages = pages_for(info->ntuples, info->opts.page_size);
	info->requests = full_pages;
	info->received = info->ntuples;

	classify_quals(root, baserel, info, &array_qual, &array_value, &row_quals);
	estimate_lists(root, info, array_qual, array_value, full_pages);

	/* the figures so far are one checkpoint's: each one named is a list */
	info->requests *= info->ckpt_values;
	info->received *= info->ckpt_values;

	cost_qual_eval(&info->local_cost, extract_actual_clauses(info->local_conds, false), root);
	baserel->rows = clamp_row_est(info->ntuples * info->ckpt_values *
								  clauselist_selectivity(root, row_quals, 0, JOIN_INNER, NULL));
	baserel->fdw_private = info;
}

/*
 * May the scan read its list from both ends at once (scan.c)?  Only a plan
 * of one list (no array of projects or checkpoints), in no order, with no
 * LIMIT sent and no created_at bound (each of which fixes the end a list
 * is read from), that is expected to take two pages or more: a list of
 * one page would pay a second request for nothing.  pages: of that list.
 */
static bool
both_ends_path(const CpRelInfo *info, CpOrder order, double limit, double pages)
{
	return order == CP_ORDER_NONE && limit <= 0 && info->pushed_kind != CP_FILTER_ARRAY &&
		!(info->spans && info->ckpt_kind == CP_FILTER_ARRAY) &&
		info->lower == NULL && info->upper == NULL && pages >= 2;
}

/*
 * The fdw_private of a path (path_private), read by GetForeignPlan
 * (read_path_private).  batched: the condition whose values a batched join
 * sets (cp_batched_scan_path), or -1, and label its outer key.
 */
static List *
path_private(CpOrder order, double limit, bool both_ends, int batched, const char *label)
{
	return list_make5(makeInteger(order), makeInteger((int) Min(limit, (double) INT_MAX)),
					  makeInteger(both_ends ? 1 : 0), makeInteger(batched),
					  makeString(pstrdup(label)));
}

static void
read_path_private(List *items, CpScanPlan *plan, int *batched, char **label)
{
	plan->order = (CpOrder) intVal(list_nth(items, FdwPathPrivateOrder));
	plan->row_budget = intVal(list_nth(items, FdwPathPrivateLimit));
	plan->both_ends = intVal(list_nth(items, FdwPathPrivateBothEnds)) != 0;
	*batched = intVal(list_nth(items, FdwPathPrivateBatched));
	*label = strVal(list_nth(items, FdwPathPrivateBatchLabel));
}

/*
 * An unparameterized path: the whole list, or the pushed filter's.  Its
 * cost counts requests, which both ends do not lower (they halve the
 * rounds, at one request more at most).
 */
static void
add_list_path(PlannerInfo *root, RelOptInfo *baserel, CpRelInfo *info,
			  List *pathkeys, CpOrder order, double limit)
{
	double		received = info->received;
	double		requests = info->requests;
	bool		both_ends = both_ends_path(info, order, limit,
										   info->requests / info->ckpt_values);
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
						  path_private(order, limit, both_ends, -1, "")));
}

/*
 * Is one of a parameterized path's clauses a join clause on field
 * (CP_FIELD_CHECKPOINT or CP_FIELD_PROJECT_ID), which its lists send?
 */
static bool
names_field(PlannerInfo *root, RelOptInfo *baserel, CpRelInfo *info, ParamPathInfo *ppi,
			CpField field)
{
	ListCell   *lc;

	foreach(lc, ppi->ppi_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);
		CpFilterKind kind;

		if (cp_project_filter(root, baserel, info->columns.attno[field],
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
		double		rows = ppi->ppi_rows;
		double		pages = pages_for(rows, info->opts.page_size);
		bool		by_checkpoint = only_checkpoints &&
			names_field(root, baserel, info, ppi, CP_FIELD_CHECKPOINT);
		Cost		startup_cost;
		Cost		total_cost;

		if (only_checkpoints && !by_checkpoint)
			continue;
		/*
		 * An outer row that names a checkpoint, and no project: the whole
		 * list of that checkpoint (as far as a base qual filters it), not
		 * the share of rows an equality would select.
		 */
		if (by_checkpoint && !names_field(root, baserel, info, ppi, CP_FIELD_PROJECT_ID))
		{
			rows = Max(rows, baserel->rows);
			pages = info->requests;
		}
		estimate_costs(info, pages * info->ckpt_values, rows, &startup_cost, &total_cost);
		add_path(baserel,
				 foreign_path(root, baserel, rows, startup_cost, total_cost, NIL,
							  ppi->ppi_req_outer,
							  path_private(CP_ORDER_NONE, 0,
										   both_ends_path(info, CP_ORDER_NONE, 0, pages),
										   -1, "")));
		added++;
	}
	return added;
}

/*
 * A table across checkpoints that a query names no checkpoint of: raised
 * when a statement that writes is planned and no path can name them, else
 * when the scan runs (scan.c).
 */
void
cp_report_no_checkpoint(Oid relid, bool at_run_time)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("a query on foreign table \"%s\" must name the checkpoints it reads",
					get_rel_name(relid)),
			 errdetail("The table spans checkpoints, and the API lists the permissions of one checkpoint at a time."),
			 at_run_time && !enable_nestloop && !cp_batch_joins ?
			 errhint("A join on checkpoint reads this table by a batched join or as the inner side of a nested loop, and checkpoint_perms.batch_joins and enable_nestloop are off: SET checkpoint_perms.batch_joins = on, or name the checkpoints with WHERE checkpoint = ...") :
			 at_run_time && !enable_nestloop ?
			 errhint("A join on checkpoint reads this table as the inner side of a nested loop or by a batched join (an inner, left, semi or anti join whose other side is read first), and enable_nestloop is off: SET enable_nestloop = on, or name the checkpoints with WHERE checkpoint = ...") :
			 errhint("Add WHERE checkpoint = '...', checkpoint IN (...) or checkpoint = ANY(...), or join on checkpoint.")));
}

/* Does the statement being planned grant or revoke (or write anything)? */
static bool
statement_writes(PlannerInfo *root)
{
	while (root->parent_root)
		root = root->parent_root;
	return root->parse->commandType != CMD_SELECT || root->parse->hasModifyingCTE;
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
		/*
		 * No path can name them.  A statement that writes is refused now,
		 * before it sends anything; a read fails only if the scan does run,
		 * so that a plan that never runs it (a condition PostgreSQL found
		 * false, an empty outer side) answers as every other plan does.
		 */
		if (add_parameterized_paths(root, baserel, info, true) == 0 && statement_writes(root))
			cp_report_no_checkpoint(foreigntableid, false);

		/*
		 * A path without parameters, for a join that cannot run as a nested
		 * loop over this table (a FULL JOIN, the table on the outer side of
		 * a LEFT JOIN, nested loops disabled): one that costs too much to be
		 * chosen otherwise, and whose scan refuses to run.
		 */
		add_path(baserel,
				 foreign_path(root, baserel, baserel->rows, disable_cost, disable_cost, NIL, NULL,
							  path_private(CP_ORDER_NONE, 0, false, -1, "")));
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
	/*
	 * Grants queued for COMMIT (apply_writes 'at_commit') have a NULL
	 * created_at: the scan returns them first newest first and last oldest
	 * first, where the default NULLS FIRST / LAST puts them; another NULLS
	 * needs a Sort.
	 */
	if (order != CP_ORDER_NONE && info->opts.at_commit &&
		linitial_node(PathKey, root->query_pathkeys)->pk_nulls_first != (order == CP_ORDER_DESC))
		order = CP_ORDER_NONE;
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
 * The created_at bounds of the scan's clauses that the scan stops at: their
 * values into exprs[] and strategies into plan, the clauses returned.
 */
static List *
choose_bounds(PlannerInfo *root, RelOptInfo *baserel, CpRelInfo *info, List *scan_clauses,
			  Expr **exprs, CpScanPlan *plan)
{
	AttrNumber	created = info->columns.attno[CP_FIELD_CREATED_AT];
	List	   *bounds = NIL;
	int			i;

	for (i = 0; i < 2; i++)
	{
		RestrictInfo *bound = i == 0 ? info->lower : info->upper;

		exprs[i] = NULL;
		plan->strategies[i] = 0;
		if (bound && list_member_ptr(scan_clauses, bound) &&
			cp_created_bound(root, baserel, created, info->columns.basetype[created - 1],
							 bound->clause, &exprs[i], &plan->strategies[i]))
			bounds = lappend(bounds, bound);
		else
			exprs[i] = NULL;
	}
	return bounds;
}

/* A value for fdw_exprs: the condition's, or a NULL constant if none. */
static Expr *
expr_or_null(Expr *value, Oid type)
{
	return value ? value : (Expr *) makeNullConst(type, -1, InvalidOid);
}

/*
 * The ForeignScan: its request plan (plan.c) in fdw_private, the values
 * the plan's conditions need at run time in fdw_exprs, the other clauses
 * as local quals.  The clauses sent are also the scan's recheck quals:
 * when EvalPlanQual re-runs the plan with another outer row, the row the
 * API returned must be checked against the new value here.
 */
static ForeignScan *
GetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
			   ForeignPath *best_path, List *tlist, List *scan_clauses,
			   Plan *outer_plan)
{
	CpRelInfo  *info = (CpRelInfo *) baserel->fdw_private;
	CpScanPlan	plan;
	RestrictInfo *chosen;
	RestrictInfo *ckpt_chosen;
	Expr	   *value;
	Expr	   *ckpt_value;
	Expr	   *bound_exprs[2];
	List	   *bounds;
	List	   *local_exprs = NIL;
	List	   *recheck = NIL;
	int			batched;
	char	   *batch_label;
	ListCell   *lc;

	read_path_private(best_path->fdw_private, &plan, &batched, &batch_label);
	chosen = choose_filter(root, baserel, best_path, scan_clauses,
						   info->columns.attno[CP_FIELD_PROJECT_ID], info->pushed,
						   &value, &plan.project_kind);
	ckpt_chosen = choose_filter(root, baserel, best_path, scan_clauses,
								info->columns.attno[CP_FIELD_CHECKPOINT], info->ckpt_pushed,
								&ckpt_value, &plan.ckpt_kind);
	plan.max_lists = plan.project_kind == CP_FILTER_ARRAY ? info->max_lists : 0;
	plan.project_label = chosen && !IsA(value, Const) ? cp_value_label(root, value) : "";
	plan.ckpt_label = ckpt_chosen && !IsA(ckpt_value, Const) ?
		cp_value_label(root, ckpt_value) : "";
	/* the inner side of a batched join: its join sets the keys (cp_scan_set_batch) */
	if (batched == CP_SCAN_EXPR_PROJECT)
	{
		plan.project_kind = CP_FILTER_BATCH;
		plan.project_label = batch_label;
	}
	else if (batched == CP_SCAN_EXPR_CHECKPOINT)
	{
		plan.ckpt_kind = CP_FILTER_BATCH;
		plan.ckpt_label = batch_label;
	}

	/* the created_at bounds the scan stops at fix the order it lists in */
	bounds = choose_bounds(root, baserel, info, scan_clauses, bound_exprs, &plan);
	if (bounds != NIL && plan.order == CP_ORDER_NONE)
		plan.order = info->bound_order;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (rinfo == chosen || rinfo == ckpt_chosen || list_member_ptr(bounds, rinfo))
			recheck = lappend(recheck, rinfo->clause);
		else if (!rinfo->pseudoconstant)
			local_exprs = lappend(local_exprs, rinfo->clause);
	}
	/* a row budget is right only if no row the scan returns is dropped here */
	if (local_exprs != NIL)
		plan.row_budget = 0;
	/* the path's choice, if what the plan sends is still one list in no order */
	plan.both_ends = plan.both_ends &&
		plan.order == CP_ORDER_NONE && plan.row_budget == 0 && bounds == NIL &&
		!cp_filter_many(plan.project_kind) && !cp_filter_many(plan.ckpt_kind);

	return make_foreignscan(tlist, local_exprs, baserel->relid,
							list_make4(expr_or_null(value, TEXTOID),
									   expr_or_null(ckpt_value, TEXTOID),
									   expr_or_null(bound_exprs[0], INT8OID),
									   expr_or_null(bound_exprs[1], INT8OID)),
							list_make1(cp_scan_plan_to_private(&plan)),
							NIL, recheck, outer_plan);
}

/* ---------------------------------------------------------------------
 * For batched joins (joinpath.c): what the scan of one of our tables can
 * take from a join, and what one list of it costs
 * ---------------------------------------------------------------------
 */

/*
 * Is rel a base relation that is a foreign table of this wrapper, sized
 * by GetForeignRelSize?  (A relation the planner proved empty never was.)
 */
bool
cp_rel_is_ours(RelOptInfo *rel)
{
	return rel->reloptkind == RELOPT_BASEREL && rel->fdwroutine != NULL &&
		rel->fdwroutine->GetForeignPaths == GetForeignPaths && rel->fdw_private != NULL &&
		!IS_DUMMY_REL(rel);
}

/*
 * The column whose values a batched join may send as one list each
 * (which: CP_SCAN_EXPR_PROJECT or CP_SCAN_EXPR_CHECKPOINT), or
 * InvalidAttrNumber: a project_id join when no base qual filters on
 * project_id (and a table across checkpoints names its checkpoints), a
 * checkpoint join on a table across checkpoints that no base qual names.
 */
AttrNumber
cp_batch_key_attno(RelOptInfo *rel, int which)
{
	CpRelInfo  *info = (CpRelInfo *) rel->fdw_private;

	if (which == CP_SCAN_EXPR_PROJECT && info->pushed == NULL &&
		(!info->spans || info->ckpt_pushed != NULL))
		return info->columns.attno[CP_FIELD_PROJECT_ID];
	if (which == CP_SCAN_EXPR_CHECKPOINT && info->spans && info->ckpt_pushed == NULL)
		return info->columns.attno[CP_FIELD_CHECKPOINT];
	return InvalidAttrNumber;
}

/*
 * What one key's list costs: its pages and rows (key: the join clause on
 * the key column), and the server's options that cost it.  A checkpoint's
 * list is the whole list of a checkpoint (filtered by a project_id base
 * qual, if any); a project's, its share of the checkpoints named.
 */
void
cp_batch_list_estimate(PlannerInfo *root, RelOptInfo *rel, int which, RestrictInfo *key,
					   double *pages, double *rows, const CpOptions **opts)
{
	CpRelInfo  *info = (CpRelInfo *) rel->fdw_private;

	if (which == CP_SCAN_EXPR_CHECKPOINT)
	{
		*rows = info->received;
		*pages = info->requests;
	}
	else
	{
		*rows = clamp_row_est(info->received / info->ckpt_values *
							  clause_selectivity(root, (Node *) key, 0, JOIN_INNER, NULL));
		*pages = pages_for(*rows, info->opts.page_size) * info->ckpt_values;
	}
	*opts = &info->opts;
}

/*
 * The inner side of a batched join: a scan whose join sets its keys
 * (which, as cp_batch_key_attno), not added to rel's paths; the join
 * costs it.  label: EXPLAIN's name of the outer key.
 */
Path *
cp_batched_scan_path(PlannerInfo *root, RelOptInfo *rel, int which, const char *label)
{
	return foreign_path(root, rel, rel->rows, 0, 0, NIL, NULL,
						path_private(CP_ORDER_NONE, 0, false, which, label));
}

/* Set the callbacks of planning a scan. */
void
cp_path_callbacks(FdwRoutine *routine)
{
	routine->GetForeignRelSize = GetForeignRelSize;
	routine->GetForeignPaths = GetForeignPaths;
	routine->GetForeignPlan = GetForeignPlan;
}
