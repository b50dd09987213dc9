/*-------------------------------------------------------------------------
 *
 * planner.h
 *		  The planner layer (pushdown.c): which conditions and orders reach the
 *		  API, and the paths of a scan.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CP_PLANNER_H
#define CP_PLANNER_H

#include "checkpoint_perms.h"

/* pushdown.c */
extern bool cp_project_filter(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno,
							  Expr *clause, Expr **value, CpFilterKind *kind);
extern int	cp_compare_strings(const void *a, const void *b);
extern int	cp_filter_values(Datum value, bool isnull, CpFilterKind kind, char ***values);
extern bool cp_created_bound(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno,
							 Oid basetype, Expr *clause, Expr **value, int *strategy);
extern List *cp_project_join_clauses(PlannerInfo *root, RelOptInfo *baserel,
									 AttrNumber attno);
extern CpOrder cp_order_for_pathkeys(RelOptInfo *baserel, AttrNumber attno, Oid basetype,
									 List *pathkeys);
#endif							/* CP_PLANNER_H */
