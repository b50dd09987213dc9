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

#include "checkpoint_perms.h"

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
	FdwScanPrivateValueLabel	/* String: EXPLAIN's name for a value known at
								 * run time, or "" */
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
	CpOrder		order;
	int64		limit;			/* rows to fetch at most, 0: all */
	CpFilterKind filter_kind;
	int			max_lists;		/* array filter: see FdwScanPrivateMaxLists */
	char	   *value_label;	/* see FdwScanPrivateValueLabel */
	Expr	   *filter_value;	/* the project_id value(s), or NULL */
	ExprState  *filter_expr;

	/*
	 * The project ids of the filter, sorted and distinct, and how they are
	 * listed: one list ("segment") per value, or one full list whose rows
	 * are filtered here.  See start_scan().
	 */
	char	  **values;
	int			nvalues;
	bool		per_value;
	int			nsegments;
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
} CpRelInfo;

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
	RestrictInfo *array_qual = NULL;
	Expr	   *array_value = NULL;
	double		full_pages;
	ListCell   *lc;

	cp_get_options(foreigntableid, InvalidOid, &info->opts);
	cp_load_column_map(foreigntableid, &info->columns);
	project_attno = info->columns.attno[CP_FIELD_PROJECT_ID];

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

	cost_qual_eval(&info->local_cost, extract_actual_clauses(info->local_conds, false), root);
	baserel->rows = clamp_row_est(info->ntuples *
								  clauselist_selectivity(root, baserel->baserestrictinfo,
														 0, JOIN_INNER, NULL));
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

	add_path(baserel, (Path *)
			 create_foreignscan_path(root, baserel, NULL, baserel->rows,
#if PG_VERSION_NUM >= 180000
									 0,
#endif
									 startup_cost, total_cost, pathkeys, NULL, NULL,
#if PG_VERSION_NUM >= 170000
									 NIL,
#endif
									 list_make2(makeInteger(order),
												makeInteger((int) Min(limit, (double) INT_MAX)))));
}

/*
 * Parameterized paths: for each set of outer relations that a join clause
 * "project_id = outer.column" needs, a path that sends one filtered list
 * per outer row.  The nested loop above it pays request_cost per outer
 * row, so the planner weighs it against one full list and a hash join.
 */
static void
add_parameterized_paths(PlannerInfo *root, RelOptInfo *baserel, CpRelInfo *info)
{
	List	   *ppis = NIL;
	ListCell   *lc;

	foreach(lc, cp_project_join_clauses(root, baserel, info->columns.attno[CP_FIELD_PROJECT_ID]))
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

		estimate_costs(info, pages_for(ppi->ppi_rows, info->opts.page_size), ppi->ppi_rows,
					   &startup_cost, &total_cost);
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, ppi->ppi_rows,
#if PG_VERSION_NUM >= 180000
										 0,
#endif
										 startup_cost, total_cost, NIL, ppi->ppi_req_outer,
										 NULL,
#if PG_VERSION_NUM >= 170000
										 NIL,
#endif
										 list_make2(makeInteger(CP_ORDER_NONE), makeInteger(0))));
	}
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

	if (root->parse->commandType == CMD_SELECT &&
		root->parse->limitOption == LIMIT_OPTION_COUNT &&
		bms_membership(root->all_baserels) == BMS_SINGLETON &&
		info->local_conds == NIL && root->limit_tuples >= 1)
		limit = root->limit_tuples;

	add_list_path(root, baserel, info, NIL, CP_ORDER_NONE,
				  root->query_pathkeys == NIL ? limit : 0);

	/* rows of several lists, one per value, are not in one order */
	if (created_attno != InvalidAttrNumber && info->pushed_kind != CP_FILTER_ARRAY)
		order = cp_order_for_pathkeys(baserel, created_attno,
									  info->columns.basetype[created_attno - 1],
									  root->query_pathkeys);
	if (order != CP_ORDER_NONE)
		add_list_path(root, baserel, info, root->query_pathkeys, order, limit);

	if (info->pushed_kind != CP_FILTER_SCALAR)
		add_parameterized_paths(root, baserel, info);
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
static ForeignScan *
GetForeignPlan(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid,
			   ForeignPath *best_path, List *tlist, List *scan_clauses,
			   Plan *outer_plan)
{
	CpRelInfo  *info = (CpRelInfo *) baserel->fdw_private;
	CpOrder		order = (CpOrder) intVal(list_nth(best_path->fdw_private, FdwPathPrivateOrder));
	int			limit = intVal(list_nth(best_path->fdw_private, FdwPathPrivateLimit));
	AttrNumber	project_attno = info->columns.attno[CP_FIELD_PROJECT_ID];
	RestrictInfo *chosen = NULL;
	Expr	   *value = NULL;
	CpFilterKind kind = CP_FILTER_NONE;
	List	   *local_exprs = NIL;
	List	   *fdw_private;
	ListCell   *lc;

	if (best_path->path.param_info)
	{
		foreach(lc, scan_clauses)
		{
			RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

			if (!list_member_ptr(baserel->baserestrictinfo, rinfo) &&
				cp_project_filter(root, baserel, project_attno, rinfo->clause, &value, &kind) &&
				kind == CP_FILTER_SCALAR)
			{
				chosen = rinfo;
				break;
			}
		}
	}
	if (chosen == NULL && info->pushed && list_member_ptr(scan_clauses, info->pushed) &&
		cp_project_filter(root, baserel, project_attno, info->pushed->clause, &value, &kind))
		chosen = info->pushed;
	if (chosen == NULL)
		kind = CP_FILTER_NONE;

	foreach(lc, scan_clauses)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (rinfo != chosen && !rinfo->pseudoconstant)
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
	return make_foreignscan(tlist, local_exprs, baserel->relid,
							chosen ? list_make1(value) : NIL,
							fdw_private, NIL,
							chosen ? list_make1(chosen->clause) : NIL,
							outer_plan);
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

	st->order = (CpOrder) intVal(list_nth(fsplan->fdw_private, FdwScanPrivateOrder));
	st->limit = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateLimit));
	st->filter_kind = (CpFilterKind) intVal(list_nth(fsplan->fdw_private, FdwScanPrivateFilterKind));
	st->max_lists = intVal(list_nth(fsplan->fdw_private, FdwScanPrivateMaxLists));
	st->value_label = strVal(list_nth(fsplan->fdw_private, FdwScanPrivateValueLabel));
	if (fsplan->fdw_exprs != NIL)
		st->filter_value = (Expr *) linitial(fsplan->fdw_exprs);

	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
	{
		/* EXPLAIN shows the requests: no user mapping, no key needed */
		cp_get_options(RelationGetRelid(rel), InvalidOid, &st->opts);
		return st;
	}

	if (st->filter_value)
		st->filter_expr = ExecInitExpr(st->filter_value, (PlanState *) node);
	cp_get_options(RelationGetRelid(rel), cp_scan_userid(node), &st->opts);
	cp_build_column_map(rel, &st->columns);
	/* a pushed LIMIT may stop after the first list: those go one by one */
	st->nlisters = st->filter_kind == CP_FILTER_ARRAY && st->limit == 0 ?
		st->opts.max_concurrency : 1;
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

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * Evaluate the filter into eval_cxt: the distinct, non-NULL project ids to
 * list, sorted.  "project_id = NULL" and an empty array list nothing.
 */
static void
evaluate_filter(CpScanState *st, ExprContext *econtext, char ***values, int *nvalues)
{
	MemoryContext oldcxt;
	Datum		datum;
	bool		isnull;

	*values = NULL;
	*nvalues = 0;
	MemoryContextReset(st->eval_cxt);
	oldcxt = MemoryContextSwitchTo(st->eval_cxt);
	datum = ExecEvalExpr(st->filter_expr, econtext, &isnull);
	if (!isnull && st->filter_kind == CP_FILTER_SCALAR)
	{
		*values = palloc(sizeof(char *));
		(*values)[(*nvalues)++] = TextDatumGetCString(datum);
	}
	else if (!isnull)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;
		int			i;

		deconstruct_array(DatumGetArrayTypeP(datum), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &nelems);
		*values = palloc(sizeof(char *) * Max(nelems, 1));
		for (i = 0; i < nelems; i++)
			if (!nulls[i])
				(*values)[(*nvalues)++] = TextDatumGetCString(elems[i]);
		/* sorted, then each value once: one list per distinct project */
		qsort(*values, *nvalues, sizeof(char *), compare_strings);
		nelems = *nvalues;
		*nvalues = 0;
		for (i = 0; i < nelems; i++)
			if (*nvalues == 0 || strcmp((*values)[i], (*values)[*nvalues - 1]) != 0)
				(*values)[(*nvalues)++] = (*values)[i];
	}
	MemoryContextSwitchTo(oldcxt);
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
	bool		same;
	int			i;

	st->need_eval = false;
	st->rows = 0;
	if (st->filter_expr)
		evaluate_filter(st, econtext, &values, &nvalues);

	same = st->segment >= 0 && nvalues == st->nvalues;
	for (i = 0; same && i < nvalues; i++)
		same = strcmp(values[i], st->values[i]) == 0;
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
	if (st->filter_expr == NULL)
	{
		st->per_value = false;
		st->nsegments = 1;
	}
	else if (nvalues <= st->max_lists || st->filter_kind == CP_FILTER_SCALAR)
	{
		st->per_value = true;
		st->nsegments = nvalues;
	}
	else
	{
		/* more lists than one full list takes: list all, filter here */
		st->per_value = false;
		st->nsegments = nvalues > 0 ? 1 : 0;
	}
	/* every value is refused before any list is sent, not when its turn comes */
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

/* Is this row of the list one the scan returns? */
static bool
wanted_row(CpScanState *st, const CpPermission *perm)
{
	/* the API filtered; should it ever not, the row is not ours */
	if (st->per_value && strcmp(perm->project_id, st->values[st->segment]) != 0)
		return false;
	if (st->filter_expr && !st->per_value &&
		bsearch(&perm->project_id, st->values, st->nvalues, sizeof(char *),
				compare_strings) == NULL)
		return false;
	/* a scan that started after this statement's grants does not see them */
	if (cp_statement_is_own_grant(st->stmt, st->opts.checkpoint, perm->id))
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
		cp_lister_start(lister,
						cp_list_base_path(st->opts.checkpoint,
										  st->per_value ? st->values[seg] : NULL,
										  false, st->order),
						st->limit > 0 && (st->per_value || !st->filter_expr) ?
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

		while (st->segment >= 0 &&
			   (perm = cp_lister_next(&st->listers[st->segment % st->nlisters])) != NULL)
		{
			if (!wanted_row(st, perm))
				continue;
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
 * real one: project_id is a value, a {placeholder}, or NULL.
 */
static char *
list_request_text(const CpScanState *st, const char *project_id, bool placeholder)
{
	int			limit = st->limit > 0 ? (int) Min(st->limit, (int64) st->opts.page_size) :
		st->opts.page_size;

	return psprintf("GET %s",
					cp_list_page_path(cp_list_base_path(st->opts.checkpoint, project_id,
														placeholder, st->order),
									  limit, NULL));
}

/*
 * The distinct, non-NULL text elements of a constant array, sorted, as
 * the scan will list them.
 */
static List *
const_array_values(Const *c)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	char	  **values;
	int			n = 0;
	int			i;
	List	   *result = NIL;

	deconstruct_array(DatumGetArrayTypeP(c->constvalue), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	values = palloc(sizeof(char *) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
		if (!nulls[i])
			values[n++] = TextDatumGetCString(elems[i]);
	qsort(values, n, sizeof(char *), compare_strings);
	for (i = 0; i < n; i++)
		if (i == 0 || strcmp(values[i], values[i - 1]) != 0)
			result = lappend(result, values[i]);
	return result;
}

/*
 * The requests a scan sends, as EXPLAIN's "OpenAI Request" lines: one per
 * list (a few of them, for an array of values), a {placeholder} for a
 * value known only at run time.
 */
List *
cp_scan_request_lines(const CpScanState *st)
{
	List	   *lines = NIL;
	Const	   *c = (st->filter_value && IsA(st->filter_value, Const)) ?
		(Const *) st->filter_value : NULL;
	ListCell   *lc;

	if (st->filter_kind == CP_FILTER_NONE)
		lines = list_make1(list_request_text(st, NULL, false));
	else if (st->filter_kind == CP_FILTER_SCALAR && c)
		lines = list_make1(list_request_text(st, TextDatumGetCString(c->constvalue), false));
	else if (st->filter_kind == CP_FILTER_SCALAR)
		lines = list_make1(list_request_text(st, st->value_label[0] ?
											  psprintf("{%s}", st->value_label) :
											  "{run-time value}", true));
	else if (c)
	{
		List	   *values = const_array_values(c);
		int			n = list_length(values);

		if (n > st->max_lists)
			lines = list_make1(psprintf("%s, filtered here by %d values",
										list_request_text(st, NULL, false), n));
		foreach(lc, values)
		{
			if (n > st->max_lists)
				break;
			if (foreach_current_index(lc) == CP_EXPLAIN_MAX_LISTS && n > CP_EXPLAIN_MAX_LISTS + 1)
			{
				lines = lappend(lines, psprintf("... and %d more, one per value",
												n - CP_EXPLAIN_MAX_LISTS));
				break;
			}
			lines = lappend(lines, list_request_text(st, lfirst(lc), false));
		}
		if (n == 0)
			lines = list_make1(pstrdup("none: the array holds no value"));
	}
	else
	{
		lines = list_make1(list_request_text(st, st->value_label[0] ?
											 psprintf("{each value of %s}", st->value_label) :
											 "{each run-time value}", true));
		lines = lappend(lines, psprintf("%s, filtered here, for more than %d values",
										list_request_text(st, NULL, false), st->max_lists));
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
