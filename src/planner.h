/*-------------------------------------------------------------------------
 *
 * planner.h
 *		  The planner layer (paths.c, pushdown.c, plan.c): the paths and costs
 *		  of a scan, which conditions and orders reach the API, and the request
 *		  plan that execution and EXPLAIN both walk.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CP_PLANNER_H
#define CP_PLANNER_H

#include "checkpoint_perms.h"

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

/* paths.c */
struct FdwRoutine;
extern void cp_path_callbacks(struct FdwRoutine *routine);
extern char *cp_value_label(PlannerInfo *root, Expr *value);
CP_NORETURN extern void cp_report_no_checkpoint(Oid relid, bool at_run_time);
extern bool cp_rel_is_ours(RelOptInfo *rel);
extern AttrNumber cp_batch_key_attno(RelOptInfo *rel, int which);
extern void cp_batch_list_estimate(PlannerInfo *root, RelOptInfo *rel, int which,
								   RestrictInfo *key, double *pages, double *rows,
								   const CpOptions **opts);
extern Path *cp_batched_scan_path(PlannerInfo *root, RelOptInfo *rel, int which,
								  const char *label);

/*
 * joinpath.c: batched joins, the CustomScan's planning side; join.c runs
 * them.  The CustomScan's custom_private is a CpJoinPlan (written and read
 * by the pair below), its custom_exprs the outer key and the join quals
 * (CpJoinExpr), its custom_plans the outer plan and the inner foreign scan,
 * and its scan tuple the outer plan's columns followed by the inner's.
 */
#define CP_JOIN_NAME "CheckpointPermsJoin"

/*
 * A batch holds the keys of this many rounds of max_concurrency lists, or
 * fewer, down to one round, while a batch's permissions take more than
 * work_mem (join.c).
 */
#define CP_BATCH_ROUNDS 8

typedef struct CpJoinPlan
{
	int			jointype;		/* JoinType: inner, left, semi or anti */
	int			which;			/* the key: CP_SCAN_EXPR_PROJECT or _CHECKPOINT */
	int			outer_columns;	/* columns of the outer plan, first in the scan tuple */
	int			inner_key;		/* the inner scan's key column (1-based) */
	int			batch_keys;		/* distinct keys per batch */
} CpJoinPlan;

typedef enum CpJoinExpr
{
	CP_JOIN_EXPR_KEY,			/* Expr: the outer key */
	CP_JOIN_EXPR_QUALS			/* List: the join quals, on the scan tuple */
} CpJoinExpr;

extern bool cp_batch_joins;		/* checkpoint_perms.batch_joins */
extern void cp_join_paths_init(void);
extern List *cp_join_plan_to_private(const CpJoinPlan *plan);
extern void cp_join_plan_from_private(List *items, CpJoinPlan *plan);

/* pushdown.c */
extern bool cp_project_filter(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno,
							  Expr *clause, Expr **value, CpFilterKind *kind);
extern bool cp_created_bound(PlannerInfo *root, RelOptInfo *baserel, AttrNumber attno,
							 Oid basetype, Expr *clause, Expr **value, int *strategy);
extern List *cp_project_join_clauses(PlannerInfo *root, RelOptInfo *baserel,
									 AttrNumber attno);
extern CpOrder cp_order_for_pathkeys(RelOptInfo *baserel, AttrNumber attno, Oid basetype,
									 List *pathkeys);
/*
 * plan.c: the request plan of a scan, written by GetForeignPlan into
 * fdw_private and read back by the executor; execution and EXPLAIN walk
 * the same lists (cp_scan_lists) and build the same requests.
 */
typedef struct CpScanPlan
{
	CpOrder		order;			/* ?order= of every list */
	int64		row_budget;		/* rows the scan returns at most (a LIMIT
								 * sent to the API), 0: all */
	CpFilterKind project_kind;	/* the project_id value(s), fdw_exprs'
								 * CP_SCAN_EXPR_PROJECT */
	int			max_lists;		/* an array: one list per value up to this
								 * many, else one full list filtered here */
	char	   *project_label;	/* EXPLAIN's name of a run-time value, or "" */
	CpFilterKind ckpt_kind;		/* the checkpoint value(s) a query names,
								 * fdw_exprs' CP_SCAN_EXPR_CHECKPOINT */
	char	   *ckpt_label;		/* likewise */
	int			strategies[2];	/* btree strategy of the created_at lower and
								 * upper bound (fdw_exprs' CP_SCAN_EXPR_LOWER,
								 * CP_SCAN_EXPR_UPPER), or 0 */
	bool		both_ends;		/* a list that needs no order and takes
								 * several pages: read newest first and
								 * oldest first at once, until they meet
								 * (scan.c); only for a plan of one list */
} CpScanPlan;

/* Does a condition of this kind name several values, one list each? */
static inline bool
cp_filter_many(CpFilterKind kind)
{
	return kind == CP_FILTER_ARRAY || kind == CP_FILTER_BATCH;
}

/* Positions in a scan's fdw_exprs: a NULL constant for each not sent. */
typedef enum CpScanExpr
{
	CP_SCAN_EXPR_PROJECT,
	CP_SCAN_EXPR_CHECKPOINT,
	CP_SCAN_EXPR_LOWER,
	CP_SCAN_EXPR_UPPER,
	CP_SCAN_EXPRS
} CpScanExpr;

/* The values of a condition, as cp_condition_values finds them. */
typedef struct CpConditionValues
{
	char	  **values;
	int			n;
} CpConditionValues;

/* The lists a scan sends once its values are known ("segments"). */
typedef struct CpScanLists
{
	char	  **checkpoints;	/* sorted, distinct */
	int			ncheckpoints;
	char	  **projects;		/* the project_id values, sorted, distinct */
	int			nprojects;
	bool		per_project;	/* one list per value; else one full list
								 * per checkpoint (filtered here by projects,
								 * if the plan has a project filter) */
	int			per_checkpoint; /* segments of one checkpoint */
	int			nsegments;
} CpScanLists;

extern List *cp_scan_plan_to_private(const CpScanPlan *plan);
extern void cp_scan_plan_from_private(List *items, CpScanPlan *plan);
extern int	cp_compare_strings(const void *a, const void *b);
extern int	cp_condition_values(Datum value, bool isnull, CpFilterKind kind, CpIdKind idkind,
								char ***values);
extern void cp_scan_lists(const CpScanPlan *plan, const char *table_checkpoint,
						  char **projects, int nprojects, char **checkpoints, int ncheckpoints,
						  bool bound_null, CpScanLists *lists);
extern const char *cp_segment_checkpoint(const CpScanLists *lists, int seg);
extern const char *cp_segment_project(const CpScanLists *lists, int seg);
extern char *cp_segment_base_path(const CpScanPlan *plan, const CpScanLists *lists, int seg,
								  CpOrder order);
extern int	cp_plan_page_limit(const CpScanPlan *plan, bool filtered_here, int page_size,
							   int64 returned, int64 own_grants);
extern List *cp_scan_plan_lines(const CpScanPlan *plan, int page_size,
								const char *table_checkpoint,
								const CpConditionValues *project,
								const CpConditionValues *checkpoint);

#endif							/* CP_PLANNER_H */
