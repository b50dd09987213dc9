/*-------------------------------------------------------------------------
 *
 * plan.c
 *		  The request plan of a foreign scan: what it sends, written once by
 *		  the planner and walked by execution and EXPLAIN alike.
 *
 * A scan's plan (CpScanPlan) says how its lists are ordered, how many rows
 * it returns at most (a LIMIT sent to the API), which of its conditions
 * choose the lists (project_id and checkpoint values, known as constants
 * or only at run time) and which created_at bounds stop them.  Once the
 * values are known (when the scan starts, or at plan time for constants)
 * cp_scan_lists() turns it into lists ("segments"): one per checkpoint and
 * project value, or one full list per checkpoint filtered here.  The scan
 * sends exactly the segments' requests, and EXPLAIN prints the same ones,
 * from the same functions: the two cannot drift apart.
 *
 * The id policy of conditions lives here too (cp_condition_values): a
 * value that no id of the API can be (empty, white space at either end, a
 * control character, longer than the cap) matches nothing.  The API never
 * returns such an id (reply.c refuses one), so a filter applied here
 * would drop the same rows: the answer is the same whether the condition
 * reaches the API or not, and no request is sent for it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/array.h"
#include "utils/builtins.h"

#include "planner.h"
#include "api.h"

/* Positions in a scan's fdw_private list (cp_scan_plan_to_private). */
enum CpScanPrivateIndex
{
	CpScanPrivateOrder,			/* Integer: CpOrder */
	CpScanPrivateRowBudget,		/* Integer: rows returned at most, 0: all */
	CpScanPrivateProjectKind,	/* Integer: CpFilterKind */
	CpScanPrivateMaxLists,		/* Integer */
	CpScanPrivateProjectLabel,	/* String */
	CpScanPrivateCheckpointKind,	/* Integer: CpFilterKind */
	CpScanPrivateCheckpointLabel,	/* String */
	CpScanPrivateLowerStrategy, /* Integer: btree strategy, or 0 */
	CpScanPrivateUpperStrategy, /* Integer: likewise */
	CpScanPrivateBothEnds		/* Integer: 0 or 1 (no Boolean node before 15) */
};

/* Requests of several lists that EXPLAIN names one by one. */
#define CP_EXPLAIN_MAX_LISTS 5

List *
cp_scan_plan_to_private(const CpScanPlan *plan)
{
	List	   *items = NIL;

	items = lappend(items, makeInteger(plan->order));
	items = lappend(items, makeInteger((int) plan->row_budget));
	items = lappend(items, makeInteger(plan->project_kind));
	items = lappend(items, makeInteger(plan->max_lists));
	items = lappend(items, makeString(pstrdup(plan->project_label)));
	items = lappend(items, makeInteger(plan->ckpt_kind));
	items = lappend(items, makeString(pstrdup(plan->ckpt_label)));
	items = lappend(items, makeInteger(plan->strategies[0]));
	items = lappend(items, makeInteger(plan->strategies[1]));
	items = lappend(items, makeInteger(plan->both_ends ? 1 : 0));
	return items;
}

void
cp_scan_plan_from_private(List *items, CpScanPlan *plan)
{
	plan->order = (CpOrder) intVal(list_nth(items, CpScanPrivateOrder));
	plan->row_budget = intVal(list_nth(items, CpScanPrivateRowBudget));
	plan->project_kind = (CpFilterKind) intVal(list_nth(items, CpScanPrivateProjectKind));
	plan->max_lists = intVal(list_nth(items, CpScanPrivateMaxLists));
	plan->project_label = strVal(list_nth(items, CpScanPrivateProjectLabel));
	plan->ckpt_kind = (CpFilterKind) intVal(list_nth(items, CpScanPrivateCheckpointKind));
	plan->ckpt_label = strVal(list_nth(items, CpScanPrivateCheckpointLabel));
	plan->strategies[0] = intVal(list_nth(items, CpScanPrivateLowerStrategy));
	plan->strategies[1] = intVal(list_nth(items, CpScanPrivateUpperStrategy));
	plan->both_ends = intVal(list_nth(items, CpScanPrivateBothEnds)) != 0;
}

int
cp_compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * The values a condition names: its value (kind CP_FILTER_SCALAR) or the
 * elements of its array (CP_FILTER_ARRAY), sorted, each once, without
 * NULLs and without values that cannot be an id of that kind (see the
 * file's header).  "= NULL" and an empty array name nothing.  Returns how
 * many, in *values (palloc'd).
 */
int
cp_condition_values(Datum value, bool isnull, CpFilterKind kind, CpIdKind idkind,
					char ***values)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			n = 0;
	int			i;

	*values = NULL;
	if (isnull)
		return 0;
	if (kind == CP_FILTER_SCALAR)
	{
		elems = &value;
		nulls = &isnull;
		nelems = 1;
	}
	else
		deconstruct_array(DatumGetArrayTypeP(value), TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &nulls, &nelems);
	*values = palloc(sizeof(char *) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
	{
		char	   *str;

		if (nulls[i])
			continue;
		str = TextDatumGetCString(elems[i]);
		if (cp_id_possible(idkind, str))
			(*values)[n++] = str;
	}
	qsort(*values, n, sizeof(char *), cp_compare_strings);
	nelems = n;
	n = 0;
	for (i = 0; i < nelems; i++)
		if (n == 0 || strcmp((*values)[i], (*values)[n - 1]) != 0)
			(*values)[n++] = (*values)[i];
	return n;
}

/*
 * The lists of a scan whose values are known.  projects: the project_id
 * values (NULL, with nprojects 0, when the plan has no project filter);
 * checkpoints: those the query names (a table across checkpoints), or
 * NULL for a table of one checkpoint, table_checkpoint, which a
 * checkpoint condition naming others rules out.  bound_null: a created_at
 * bound is NULL, which no row meets.  Both arrays are condition values
 * (cp_condition_values); lists keeps pointers to them.
 */
void
cp_scan_lists(const CpScanPlan *plan, const char *table_checkpoint,
			  char **projects, int nprojects, char **checkpoints, int ncheckpoints,
			  bool bound_null, CpScanLists *lists)
{
	if (table_checkpoint != NULL)
	{
		bool		named = plan->ckpt_kind == CP_FILTER_NONE;
		int			i;

		for (i = 0; !named && i < ncheckpoints; i++)
			named = strcmp(checkpoints[i], table_checkpoint) == 0;
		lists->checkpoints = palloc(sizeof(char *));
		lists->checkpoints[0] = pstrdup(table_checkpoint);
		lists->ncheckpoints = named ? 1 : 0;
	}
	else
	{
		lists->checkpoints = checkpoints;
		lists->ncheckpoints = ncheckpoints;
	}
	lists->projects = projects;
	lists->nprojects = nprojects;

	if (plan->project_kind == CP_FILTER_NONE)
	{
		lists->per_project = false;
		lists->per_checkpoint = 1;
	}
	else if (plan->project_kind != CP_FILTER_ARRAY || nprojects <= plan->max_lists)
	{
		lists->per_project = true;
		lists->per_checkpoint = nprojects;
	}
	else
	{
		/* more lists than one full list takes: list all, filter here */
		lists->per_project = false;
		lists->per_checkpoint = 1;
	}
	lists->nsegments = bound_null ? 0 : lists->ncheckpoints * lists->per_checkpoint;
}

/* The checkpoint of segment seg. */
const char *
cp_segment_checkpoint(const CpScanLists *lists, int seg)
{
	return lists->checkpoints[seg / lists->per_checkpoint];
}

/* The project_id segment seg sends, or NULL: the full list. */
const char *
cp_segment_project(const CpScanLists *lists, int seg)
{
	return lists->per_project ? lists->projects[seg % lists->per_checkpoint] : NULL;
}

/*
 * May a row a list returns be dropped by the scan?  A full list filtered
 * here by project values, or a created_at bound that the list's order
 * reaches first (its rows before the bound are passed over; the other
 * bound ends the list).
 */
static bool
rows_skipped(const CpScanPlan *plan, bool filtered_here)
{
	bool		ascending = plan->order == CP_ORDER_ASC;

	return filtered_here ||
		(plan->strategies[0] != 0 && ascending) ||
		(plan->strategies[1] != 0 && !ascending);
}

/*
 * The limit of the next page of a list, once the scan has returned
 * `returned` rows: the page size, or less when the scan needs fewer rows
 * to meet its row budget and returns every row the list sends.  The scan
 * goes on paging until the budget is met, so a smaller page costs
 * requests, never rows; own_grants, the permissions this statement
 * granted (which the scan passes over), are asked for on top, so that
 * they do not cost a request each.
 */
int
cp_plan_page_limit(const CpScanPlan *plan, bool filtered_here, int page_size, int64 returned,
				   int64 own_grants)
{
	if (plan->row_budget > 0 && !rows_skipped(plan, filtered_here))
		return (int) Max(1, Min((int64) page_size, plan->row_budget - returned + own_grants));
	return page_size;
}

/*
 * The list path of segment seg with its fixed query (project_id, order):
 * cp_list_page_path adds each page's limit and cursor.  order: the plan's,
 * or for a list read from both ends, the end's.
 */
char *
cp_segment_base_path(const CpScanPlan *plan, const CpScanLists *lists, int seg, CpOrder order)
{
	Assert(order == plan->order || plan->both_ends);
	return cp_list_base_path(cp_segment_checkpoint(lists, seg), cp_segment_project(lists, seg),
							 0, order);
}

/* ---------------------------------------------------------------------
 * EXPLAIN: the same requests, as lines
 * ---------------------------------------------------------------------
 */

/*
 * The first page request of a list (values or {placeholders}).  later: a
 * list the scan may start after others returned rows, whose limit, under
 * a row budget, is what the budget then still needs: "{up to N}".
 */
static char *
first_request(const CpScanPlan *plan, int page_size, const char *checkpoint,
			  const char *project_id, int placeholders, bool filtered_here, bool later,
			  CpOrder order)
{
	char	   *base = cp_list_base_path(checkpoint, project_id, placeholders, order);
	int			limit = cp_plan_page_limit(plan, filtered_here, page_size, 0, 0);

	if (later && limit < page_size)
		return psprintf("GET %s%climit={up to %d}", base, strchr(base, '?') ? '&' : '?', limit);
	return psprintf("GET %s", cp_list_page_path(base, limit, NULL));
}

/*
 * The lines of one list: its first request, or for a list read from both
 * ends (which needs no row budget and no order: the API's, newest first)
 * also the first request of its oldest end, which goes out with the
 * second page of the newest (scan.c).
 */
static List *
list_lines(const CpScanPlan *plan, int page_size, const char *checkpoint,
		   const char *project_id, int placeholders, bool filtered_here, bool later)
{
	if (!plan->both_ends)
		return list_make1(first_request(plan, page_size, checkpoint, project_id, placeholders,
										filtered_here, later, plan->order));
	return list_make2(first_request(plan, page_size, checkpoint, project_id, placeholders,
									filtered_here, later, plan->order),
					  psprintf("%s, from the second page on, until the two meet",
							   first_request(plan, page_size, checkpoint, project_id,
											 placeholders, filtered_here, later,
											 CP_ORDER_ASC)));
}

/* The lines of lists whose values are known: one per segment. */
static List *
known_lines(const CpScanPlan *plan, int page_size, const CpScanLists *lists, int cflag)
{
	List	   *lines = NIL;
	bool		filtered_here = plan->project_kind != CP_FILTER_NONE && !lists->per_project;
	int			seg;

	for (seg = 0; seg < lists->nsegments; seg++)
	{
		List	   *segment_lines = list_lines(plan, page_size, cp_segment_checkpoint(lists, seg),
											   cp_segment_project(lists, seg), cflag,
											   filtered_here, seg > 0);
		ListCell   *lc;

		foreach(lc, segment_lines)
		{
			char	   *line = lfirst(lc);

			if (filtered_here)
				line = psprintf("%s, filtered here by %d values", line, lists->nprojects);
			lines = lappend(lines, line);
		}
	}
	return lines;
}

/*
 * A {placeholder} for a value known only at run time: each, for one list
 * per value; a batched join's keys are each value of its outer key.
 */
static char *
placeholder(const char *label, CpFilterKind kind, const char *what)
{
	bool		each = cp_filter_many(kind);

	if (kind == CP_FILTER_BATCH)
		return psprintf("{each %s of a batch}", label[0] ? label : "outer key");
	if (label[0])
		return psprintf(each ? "{each value of %s}" : "{%s}", label);
	return psprintf(each ? "{each run-time %s}" : "{run-time %s}", what);
}

/*
 * The lines of one checkpoint's lists (a name, or a {placeholder}: cflag)
 * when the project values are known only at run time: an array's are
 * one list per value, or for many values one full list filtered here.
 */
static List *
run_time_project_lines(const CpScanPlan *plan, int page_size, const char *checkpoint, int cflag,
					   bool later)
{
	bool		each = cp_filter_many(plan->project_kind);
	List	   *lines;

	lines = list_lines(plan, page_size, checkpoint,
					   placeholder(plan->project_label, plan->project_kind, "value"),
					   cflag | CP_PLACEHOLDER_PROJECT, false, later || each);
	/* an array of many values: one full list instead */
	if (plan->project_kind == CP_FILTER_ARRAY)
		lines = lappend(lines,
						psprintf("%s, filtered here, for more than %d values",
								 first_request(plan, page_size, checkpoint, NULL, cflag, true,
											   later, plan->order),
								 plan->max_lists));
	return lines;
}

/*
 * EXPLAIN's "OpenAI Request" lines of a scan.  project and checkpoint are
 * the values of its conditions when those are constants, evaluated as the
 * scan evaluates them (cp_condition_values), else NULL: the lines then
 * name them by a {placeholder}.  One line per list; the first few of many.
 */
List *
cp_scan_plan_lines(const CpScanPlan *plan, int page_size, const char *table_checkpoint,
				   const CpConditionValues *project, const CpConditionValues *checkpoint)
{
	List	   *lines = NIL;
	CpScanLists lists;
	char	   *ckpt_placeholder = NULL;
	char	  **checkpoints = NULL;
	int			ncheckpoints = 0;
	int			cflag = 0;
	int			i;

	if (table_checkpoint == NULL && plan->ckpt_kind == CP_FILTER_NONE)
		return list_make1(pstrdup("none: the query names no checkpoint, and the scan fails if it runs"));
	if (checkpoint)
	{
		checkpoints = checkpoint->values;
		ncheckpoints = checkpoint->n;
	}
	else if (table_checkpoint == NULL)
	{
		/* a table across checkpoints, its checkpoints known at run time */
		ckpt_placeholder = placeholder(plan->ckpt_label, plan->ckpt_kind, "checkpoint");
		checkpoints = &ckpt_placeholder;
		ncheckpoints = 1;
		cflag = CP_PLACEHOLDER_CHECKPOINT;
	}
	else if (plan->ckpt_kind != CP_FILTER_NONE)
	{
		/* a run-time value may name the table's checkpoint: show its lists */
		checkpoints = (char **) &table_checkpoint;
		ncheckpoints = 1;
	}
	cp_scan_lists(plan, table_checkpoint, project ? project->values : NULL,
				  project ? project->n : 0, checkpoints, ncheckpoints, false, &lists);
	if (lists.ncheckpoints == 0)
		return list_make1(pstrdup("none: no checkpoint of this table is named"));
	if (project || plan->project_kind == CP_FILTER_NONE)
		lines = known_lines(plan, page_size, &lists, cflag);
	else
		for (i = 0; i < lists.ncheckpoints; i++)
			lines = list_concat(lines, run_time_project_lines(plan, page_size,
															  lists.checkpoints[i], cflag,
															  i > 0));
	if (lines == NIL)
		return list_make1(pstrdup("none: the conditions name no project id that can exist"));

	/* many lists: the first few, and how many more */
	if (list_length(lines) > CP_EXPLAIN_MAX_LISTS + 1)
	{
		int			more = list_length(lines) - CP_EXPLAIN_MAX_LISTS;

		lines = list_truncate(lines, CP_EXPLAIN_MAX_LISTS);
		lines = lappend(lines, psprintf("... and %d more, one per list", more));
	}
	return lines;
}
