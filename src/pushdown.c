/*-------------------------------------------------------------------------
 *
 * pushdown.c
 *		  Decide what the API can do for a query: filter by project_id,
 *		  order by created_at, bound created_at (plan.c sends it).
 *
 * The list API filters on one thing, project_id equality, and orders by
 * creation time.  So "project_id = <expr>" (a constant, a parameter, or
 * the column of an outer relation in a parameterized nested loop) becomes
 * ?project_id=, "project_id = ANY(<array>)" one filtered request per
 * value (or one full list, for many values), and ORDER BY created_at
 * ?order=.  Everything else stays local.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "optimizer/paths.h"
#include "optimizer/restrictinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"

#include "planner.h"

/* Is node the given column of the relation, under any binary-compatible cast? */
static bool
is_column(Node *node, Index relid, AttrNumber attno)
{
	while (node && IsA(node, RelabelType))
		node = (Node *) ((RelabelType *) node)->arg;
	return node != NULL && IsA(node, Var) &&
		((Var *) node)->varno == relid &&
		((Var *) node)->varattno == attno &&
		((Var *) node)->varlevelsup == 0;
}

/*
 * Can the executor compute this value before the request, once per scan?
 * No column of the scanned relation, nothing volatile, no sub-select.
 */
static bool
is_request_value(PlannerInfo *root, RelOptInfo *baserel, Node *value)
{
	return !bms_is_member(baserel->relid, pull_varnos(root, value)) &&
		!contain_volatile_functions(value) &&
		!contain_subplans(value);
}

/*
 * text = text whose collation is deterministic: then the API's exact match
 * and PostgreSQL's equality agree.  char(n) (bpchar) compares with padding
 * rules the API does not know, so it is never pushed.
 */
static bool
is_exact_text_equality(Oid opno, Oid inputcollid)
{
	return opno == TextEqualOperator &&
		(!OidIsValid(inputcollid) || get_collation_isdeterministic(inputcollid));
}

/*
 * Is clause "project_id = value" or "project_id = ANY(value)" that the API
 * can filter on?  If so, and value is not NULL, return the value side and
 * its kind.  attno is the project_id column.
 */
bool
cp_project_filter(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno,
				  Expr *clause, Expr **value, CpFilterKind *kind)
{
	Node	   *other = NULL;
	CpFilterKind found = CP_FILTER_NONE;

	if (attno == InvalidAttrNumber)
		return false;

	if (IsA(clause, OpExpr))
	{
		OpExpr	   *op = (OpExpr *) clause;

		if (list_length(op->args) != 2 ||
			!is_exact_text_equality(op->opno, op->inputcollid))
			return false;
		if (is_column(linitial(op->args), baserel->relid, attno))
			other = lsecond(op->args);
		else if (is_column(lsecond(op->args), baserel->relid, attno))
			other = linitial(op->args);
		found = CP_FILTER_SCALAR;
	}
	else if (IsA(clause, ScalarArrayOpExpr))
	{
		ScalarArrayOpExpr *saop = (ScalarArrayOpExpr *) clause;

		if (!saop->useOr || list_length(saop->args) != 2 ||
			!is_exact_text_equality(saop->opno, saop->inputcollid) ||
			!is_column(linitial(saop->args), baserel->relid, attno))
			return false;
		other = lsecond(saop->args);
		found = CP_FILTER_ARRAY;
	}

	if (other == NULL || !is_request_value(root, baserel, other))
		return false;
	if (value)
		*value = (Expr *) other;
	if (kind)
		*kind = found;
	return true;
}

static bool
ec_member_is_column(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
					EquivalenceMember *em, void *arg)
{
	return is_column((Node *) em->em_expr, rel->relid, *(AttrNumber *) arg);
}

/*
 * The join clauses "project_id = <column of another relation>" that a
 * parameterized path could send as ?project_id=: from the relation's join
 * clauses and from its equivalence classes (where "p.project_id =
 * t.project" of an inner join ends up).
 */
List *
cp_project_join_clauses(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno)
{
	List	   *result = NIL;
	ListCell   *lc;

	if (attno == InvalidAttrNumber)
		return NIL;
	foreach(lc, baserel->joininfo)
	{
		RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

		if (join_clause_is_movable_to(rinfo, baserel) &&
			cp_project_filter(root, baserel, attno, rinfo->clause, NULL, NULL))
			result = lappend(result, rinfo);
	}
	if (baserel->has_eclass_joins)
	{
		List	   *ec_clauses;

		ec_clauses = generate_implied_equalities_for_column(root, baserel,
															ec_member_is_column,
															&attno,
															baserel->lateral_referencers);
		foreach(lc, ec_clauses)
		{
			RestrictInfo *rinfo = lfirst_node(RestrictInfo, lc);

			if (cp_project_filter(root, baserel, attno, rinfo->clause, NULL, NULL))
				result = lappend(result, rinfo);
		}
	}
	return result;
}

/*
 * The order the API can return rows in to satisfy pathkeys: a single sort
 * on the created_at column, ascending or descending.  created_at is never
 * NULL, so NULLS FIRST or LAST does not matter.  A text created_at is not
 * ordered by the API's order (string order), so it is never pushed.
 */
CpOrder
cp_order_for_pathkeys(RelOptInfo *baserel, AttrNumber attno, Oid basetype,
					  List *pathkeys)
{
	PathKey    *pathkey;
	EquivalenceClass *ec;
	TypeCacheEntry *tce;
	ListCell   *lc;

	if (attno == InvalidAttrNumber || list_length(pathkeys) != 1)
		return CP_ORDER_NONE;
	if (basetype != TIMESTAMPTZOID && basetype != TIMESTAMPOID && basetype != INT8OID)
		return CP_ORDER_NONE;

	pathkey = linitial_node(PathKey, pathkeys);
	ec = pathkey->pk_eclass;
	tce = lookup_type_cache(basetype, TYPECACHE_BTREE_OPFAMILY);
	if (ec->ec_has_volatile || pathkey->pk_opfamily != tce->btree_opf)
		return CP_ORDER_NONE;

	foreach(lc, ec->ec_members)
	{
		EquivalenceMember *em = (EquivalenceMember *) lfirst(lc);

		if (is_column((Node *) em->em_expr, baserel->relid, attno))
		{
#if PG_VERSION_NUM >= 180000
			return pathkey->pk_cmptype == COMPARE_LT ? CP_ORDER_ASC : CP_ORDER_DESC;
#else
			return pathkey->pk_strategy == BTLessStrategyNumber ? CP_ORDER_ASC : CP_ORDER_DESC;
#endif
		}
	}
	return CP_ORDER_NONE;
}

/*
 * Is clause a bound on created_at that the scan can stop at: "created_at
 * op value" (or "value op created_at") with op one of < <= >= > of the
 * column's own type (timestamptz, timestamp or bigint), and a value the
 * executor computes before the request?  If so, return the value and the
 * strategy as if the column stood on the left.
 */
bool
cp_created_bound(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno, Oid basetype,
				 Expr *clause, Expr **value, int *strategy)
{
	OpExpr	   *op;
	Node	   *other;
	Oid			lefttype;
	Oid			righttype;
	TypeCacheEntry *tce;
	int			s;
	bool		commuted;

	if (attno == InvalidAttrNumber || !IsA(clause, OpExpr) ||
		(basetype != TIMESTAMPTZOID && basetype != TIMESTAMPOID && basetype != INT8OID))
		return false;
	op = (OpExpr *) clause;
	if (list_length(op->args) != 2)
		return false;
	if (is_column(linitial(op->args), baserel->relid, attno))
	{
		other = lsecond(op->args);
		commuted = false;
	}
	else if (is_column(lsecond(op->args), baserel->relid, attno))
	{
		other = linitial(op->args);
		commuted = true;
	}
	else
		return false;

	op_input_types(op->opno, &lefttype, &righttype);
	if (lefttype != basetype || righttype != basetype || !is_request_value(root, baserel, other))
		return false;
	tce = lookup_type_cache(basetype, TYPECACHE_BTREE_OPFAMILY);
	s = get_op_opfamily_strategy(op->opno, tce->btree_opf);
	if (s != BTLessStrategyNumber && s != BTLessEqualStrategyNumber &&
		s != BTGreaterEqualStrategyNumber && s != BTGreaterStrategyNumber)
		return false;
	if (commuted)
		s = BTMaxStrategyNumber + 1 - s;	/* < becomes >, <= becomes >= */
	*value = (Expr *) other;
	*strategy = s;
	return true;
}
