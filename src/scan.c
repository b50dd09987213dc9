/*-------------------------------------------------------------------------
 *
 * scan.c
 *		  The executor callbacks of a foreign scan: a SELECT, and the scan
 *		  under an INSERT ... SELECT or a DELETE.
 *
 * A scan walks its request plan (plan.c, made by paths.c): once its
 * values are known it sends the lists cp_scan_lists names, and EXPLAIN
 * prints the same lists.  It holds one page of a list in memory (list.c)
 * and fetches the next one only when the executor asks for a row beyond
 * it; in a statement that writes it reads its whole list first
 * (statement.c).  A scan of several lists fetches the first pages of up
 * to max_concurrency of them at once, and holds those pages meanwhile.
 * A list whose cursor the API refuses because this session revoked its
 * row resumes (resume_list).  In REPEATABLE READ and SERIALIZABLE each
 * list comes from the transaction's kept lists instead (snapshot.c): read
 * whole the first time, then the same rows, the bounds, order and row
 * budget applied here as ever.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/stratnum.h"
#include "access/xact.h"
#include "common/hashfn.h"
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "executor/executor.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "executor.h"
#include "planner.h"
#include "effects.h"

/*
 * One end of a list read from both ends (see next_end_row): what it has
 * processed so far.
 */
typedef struct CpEnd
{
	CpLister   *lister;
	bool		started;		/* its list was started */
	bool		restarting;		/* listed again from its start (its cursor was
								 * refused): passing over what it processed */
	bool		processed;		/* has processed a row since the start */
	int64		last_t;			/* created_at of the last row it processed */
	MemoryContext cxt;			/* holds seen; reset when last_t changes */
	CpStrSet   *seen;			/* ids it processed at last_t: a tie group */
} CpEnd;

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
	CpConditionValues batch;	/* a batched join's keys (cp_scan_set_batch),
								 * for a CP_FILTER_BATCH condition */
	MemoryContext batch_cxt;	/* holds them */
	MemoryContext eval_cxt;		/* holds newly evaluated values */

	/*
	 * The segments' listers: segment s uses listers[s % nlisters], so that
	 * the first pages of nlisters segments can be fetched at once.
	 */
	CpLister  **listers;
	int			nlisters;		/* max_concurrency, or 1 */
	int			nready;			/* listers initialized */
	int64		rows;			/* rows returned since the (re)start */

	/*
	 * A plan read from both ends (plan.both_ends) whose (re)start has one
	 * list: ends[0] newest first (listers[0]), ends[1] oldest first.
	 */
	bool		both;			/* this (re)start reads from both ends */
	CpEnd		ends[2];
	int			end;			/* the end whose page is being read */
	bool		met;			/* the ends met, or one reached the list's end */

	MemoryContext row_cxt;		/* the current row's values; reset per row */
	CpStats		stats;

	/*
	 * A list resumed after the API refused its cursor (resume_list): the
	 * ids (64-bit hashes) of the rows the current segment returned, at
	 * most max_returned of them, sorted up to nsorted when a list starts
	 * again from the top.
	 */
	uint64	   *returned;
	int			nreturned;
	int			nsorted;
	int			max_returned;	/* work_mem's worth */
	bool		returned_full;	/* more were returned than kept */
	bool		skip_returned;	/* the list started again: skip those */

	/*
	 * apply_writes 'at_commit': the transaction's queue (queue.c) as the
	 * command of curcid sees it, and where the current segment is in it.
	 */
	CommandId	curcid;
	int			queue_pos;
	CpPermission queued;		/* the queued grant returned last */

	/*
	 * REPEATABLE READ or SERIALIZABLE (snapshot.c): each list is read from
	 * the transaction's kept lists, read whole and kept the first time.
	 */
	bool		keep;
	CpKeptReader *reader;		/* the current segment's, or NULL */
	int			kept_at_once;	/* lists kept at once: max_concurrency, or 1 */
	int			batch_start;	/* the segments of the last batch kept... */
	int			batch_end;
	bool		batch_listed[CP_MAX_CONCURRENCY];	/* ...and which it listed */
	int64		lists_kept;		/* lists read whole and kept by this scan */
	int64		lists_reused;	/* lists read from those kept before */

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
 * Scanning
 * ---------------------------------------------------------------------
 */

/* The id kind of the values of each of fdw_exprs' conditions. */
static const CpIdKind expr_id_kind[2] = {CP_ID_PROJECT, CP_ID_CHECKPOINT};

/*
 * The listers of a scan: max_concurrency of them for the lists of an
 * array of values, else one (and a second for the oldest end of a list
 * read from both ends).
 */
static void
create_listers(CpScanState *st, MemoryContext cxt)
{
	int			i;

	/* a row budget may stop after the first list: those go one by one */
	st->nlisters = (cp_filter_many(st->plan.project_kind) ||
					cp_filter_many(st->plan.ckpt_kind)) &&
		st->plan.row_budget == 0 ? st->opts.max_concurrency : 1;
	/* kept lists (snapshot.c) are read in batches of as many, the listers unused */
	if (st->keep)
	{
		st->kept_at_once = st->nlisters;
		st->nlisters = 1;
	}
	st->listers = palloc0(sizeof(CpLister *) * st->nlisters);
	st->listers[0] = cp_lister_create(&st->opts, &st->stats, cxt);
	st->nready = 1;
	st->ends[0].lister = st->listers[0];
	if (st->plan.both_ends)
		for (i = 0; i < 2; i++)
		{
			if (i == 1)
				st->ends[1].lister = cp_lister_create(&st->opts, &st->stats, cxt);
			st->ends[i].cxt = AllocSetContextCreate(cxt, "checkpoint_perms end",
													ALLOCSET_SMALL_SIZES);
		}
}

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
	st->curcid = estate->es_snapshot ? estate->es_snapshot->curcid : GetCurrentCommandId(false);
	st->keep = cp_snapshot_applies();
	create_listers(st, estate->es_query_cxt);
	st->values_cxt = AllocSetContextCreate(estate->es_query_cxt, "checkpoint_perms values",
										   ALLOCSET_SMALL_SIZES);
	st->eval_cxt = AllocSetContextCreate(estate->es_query_cxt, "checkpoint_perms values",
										 ALLOCSET_SMALL_SIZES);
	st->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "checkpoint_perms row",
										ALLOCSET_SMALL_SIZES);
	st->batch_cxt = AllocSetContextCreate(estate->es_query_cxt, "checkpoint_perms batch",
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
		if (kind == CP_FILTER_BATCH)
		{
			/* a copy: the batch's keys go before the lists that use them */
			values[i].values = palloc(sizeof(char *) * Max(st->batch.n, 1));
			for (values[i].n = 0; values[i].n < st->batch.n; values[i].n++)
				values[i].values[values[i].n] = pstrdup(st->batch.values[values[i].n]);
			continue;
		}
		if (expr == NULL)
			continue;
		datum = ExecEvalExpr(expr, econtext, &isnull);
		values[i].n = cp_condition_values(datum, isnull, kind, expr_id_kind[i],
										  &values[i].values);
	}
}

/* A new list: no row of it was returned yet. */
static void
forget_returned(CpScanState *st)
{
	st->nreturned = 0;
	st->nsorted = 0;
	st->returned_full = false;
	st->skip_returned = false;
}

/* Done with the current segment's kept list. */
static void
close_reader(CpScanState *st)
{
	if (st->reader)
		cp_snapshot_close(st->reader);
	st->reader = NULL;
}

/*
 * Keep the lists of the next segments from the current one on, as many as
 * a batch holds, their first pages fetched at once, as start_segments
 * does for lists not kept.
 */
static void
keep_batch(CpScanState *st)
{
	const char *checkpoints[CP_MAX_CONCURRENCY];
	const char *projects[CP_MAX_CONCURRENCY];
	int			n = Min(st->kept_at_once, st->lists.nsegments - st->segment);
	int			i;

	for (i = 0; i < n; i++)
	{
		checkpoints[i] = cp_segment_checkpoint(&st->lists, st->segment + i);
		projects[i] = cp_segment_project(&st->lists, st->segment + i);
	}
	cp_snapshot_prefetch(&st->opts, checkpoints, projects, n, &st->stats, st->batch_listed);
	st->batch_start = st->segment;
	st->batch_end = st->segment + n;
	for (i = 0; i < n; i++)
		st->lists_kept += st->batch_listed[i];
}

/*
 * Start the current segment's list from the transaction's kept lists: read
 * whole and kept now if it is not yet (snapshot.c).
 */
static void
open_reader(CpScanState *st)
{
	bool		listed;
	/* in the query's memory, with the scan (not the per-tuple context) */
	MemoryContext oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(st));

	close_reader(st);
	if (st->kept_at_once > 1 && (st->segment < st->batch_start || st->segment >= st->batch_end))
		keep_batch(st);
	st->reader = cp_snapshot_open(&st->opts, cp_segment_checkpoint(&st->lists, st->segment),
								  cp_segment_project(&st->lists, st->segment),
								  st->plan.order == CP_ORDER_ASC, &st->stats, &listed);
	MemoryContextSwitchTo(oldcxt);
	if (listed)
		st->lists_kept++;
	else if (st->kept_at_once <= 1 || !st->batch_listed[st->segment - st->batch_start])
		st->lists_reused++;
	st->started = st->segment + 1;
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
	/* a table across checkpoints read whole: a plan that names none (paths.c) */
	if (st->columns.checkpoint == NULL && st->expr_states[CP_SCAN_EXPR_CHECKPOINT] == NULL)
		cp_report_no_checkpoint(st->relid, true);
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
		if (!st->store && !st->both && st->lists.nsegments == 1 &&
			cp_lister_rewind(st->listers[0]))
		{
			st->segment = 0;
			st->queue_pos = 0;
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
	forget_returned(st);
	close_reader(st);
	st->batch_start = st->batch_end = 0;
	/* (a kept list is read whole once, by snapshot.c) */
	st->both = st->plan.both_ends && lists.nsegments == 1 && !st->keep;
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

/* The limit of the next page of the current lists (plan.c's rule). */
static int
page_limit(const CpScanState *st)
{
	return cp_plan_page_limit(&st->plan, filtered_here(st), st->opts.page_size, st->rows,
							  cp_statement_grants(st->stmt));
}

static uint64
id_hash(const char *id)
{
	return hash_bytes_extended((const unsigned char *) id, strlen(id), 0);
}

static int
compare_hashes(const void *a, const void *b)
{
	uint64		ha = *(const uint64 *) a;
	uint64		hb = *(const uint64 *) b;

	return ha < hb ? -1 : ha > hb ? 1 : 0;
}

/*
 * Did the current list return this row before it started again?  A 64-bit
 * hash match decides, as list.c's duplicate check does.
 */
static bool
returned_before(const CpScanState *st, const char *id)
{
	uint64		hash = id_hash(id);

	return bsearch(&hash, st->returned, st->nsorted, sizeof(uint64), compare_hashes) != NULL;
}

/*
 * Remember a row the scan returns, for a list that may have to start
 * again (resume_list).  8 bytes a row, up to work_mem, in the query's
 * memory; past that the scan stops keeping them, and a list that would
 * have to start again fails instead.  (A statement that writes reads its
 * lists whole before it revokes anything, so its scans rarely need them,
 * but a function in a condition can revoke too.)
 */
static void
keep_returned(CpScanState *st, const char *id)
{
	if (st->returned_full)
		return;
	if (st->returned == NULL)
	{
		st->max_returned = (int) Min((int64) work_mem * 1024 / sizeof(uint64),
									 MaxAllocSize / sizeof(uint64));
		st->returned = MemoryContextAlloc(GetMemoryChunkContext(st->listers[0]),
										  sizeof(uint64) * 1024);
	}
	if (st->nreturned >= st->max_returned)
	{
		st->returned_full = true;
		return;
	}
	if (st->nreturned >= 1024 && (st->nreturned & (st->nreturned - 1)) == 0)
		st->returned = repalloc(st->returned,
								sizeof(uint64) * Min((int64) st->nreturned * 2, st->max_returned));
	st->returned[st->nreturned++] = id_hash(id);
}

/*
 * The API refused the cursor of the current list's next page (400 on
 * "after"): a strict API refuses the id of a revoked permission, and a
 * cursor or a PL/pgSQL loop that revokes the rows it reads breaks its own
 * list so.  If this session revoked the cursor's row (the journal says),
 * list on after the last row of the page that it did not revoke, which
 * is still there; if it revoked every row of the page, list again from
 * the start, skipping the rows already returned.  A cursor this session
 * did not revoke is an error: another session's revoke, or a bad cursor.
 */
static void
resume_list(CpScanState *st, CpLister *lister)
{
	const char *checkpoint = cp_segment_checkpoint(&st->lists, st->segment);
	const CpPage *page = cp_lister_page(lister);
	int			i;

	if (!cp_session_revoked(checkpoint, cp_lister_cursor(lister)))
		cp_lister_report_refused(lister,
								 "The list's cursor is a permission this session did not revoke: another session's revokes can break a list that is being read. Run the query again.");
	for (i = page->nitems - 1; i >= 0; i--)
	{
		if (!cp_session_revoked(checkpoint, page->items[i].id))
		{
			cp_lister_resume(lister, page->items[i].id);
			return;
		}
	}
	if (st->returned_full)
		cp_lister_report_refused(lister,
								 psprintf("This session revoked every row of the page, and the scan returned more rows than work_mem (%dkB) keeps to list again from the start. Raise work_mem, or read the ids before revoking them.",
										  work_mem));
	/* sorted once here: what is returned from now on is not looked up */
	if (st->nreturned > 0)
		qsort(st->returned, st->nreturned, sizeof(uint64), compare_hashes);
	st->nsorted = st->nreturned;
	st->skip_returned = true;
	cp_lister_resume(lister, NULL);
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

	/* (a list filtered on a project returns only its rows: list.c checks) */
	if (filtered_here(st) &&
		bsearch(&perm->project_id, st->lists.projects, st->lists.nprojects, sizeof(char *),
				cp_compare_strings) == NULL)
		return CP_ROW_SKIP;
	/* a list started again after a refused cursor: what it already gave */
	if (st->skip_returned && returned_before(st, perm->id))
		return CP_ROW_SKIP;
	/* a scan that started after this statement's grants does not see them */
	if (cp_statement_is_own_grant(st->stmt, cp_segment_checkpoint(&st->lists, st->segment),
								  perm->id))
		return CP_ROW_SKIP;
	/* a revoke queued for COMMIT by an earlier command hides its row */
	if (st->opts.at_commit &&
		cp_queue_hides(st->opts.serverid, cp_segment_checkpoint(&st->lists, st->segment),
					   perm->id, st->curcid))
		return CP_ROW_SKIP;
	return CP_ROW_TAKE;
}

/*
 * apply_writes 'at_commit': the next grant queued by an earlier command
 * that the current segment's list would hold, or NULL.  It has no id nor
 * created_at yet, so no created_at bound holds it, and it sorts as a NULL:
 * first newest first (DESC NULLS FIRST), else last.
 */
static CpPermission *
next_queued_grant(CpScanState *st)
{
	const char *checkpoint = cp_segment_checkpoint(&st->lists, st->segment);
	const char *project;

	if (!st->opts.at_commit || st->plan.strategies[0] != 0 || st->plan.strategies[1] != 0)
		return NULL;
	while ((project = cp_queue_next_grant(st->opts.serverid, checkpoint,
										  cp_segment_project(&st->lists, st->segment),
										  st->curcid, &st->queue_pos)) != NULL)
	{
		if (filtered_here(st) &&
			bsearch(&project, st->lists.projects, st->lists.nprojects, sizeof(char *),
					cp_compare_strings) == NULL)
			continue;
		memset(&st->queued, 0, sizeof(st->queued));
		st->queued.project_id = (char *) project;
		st->queued.object = "checkpoint.permission";
		return &st->queued;
	}
	return NULL;
}

/* ---------------------------------------------------------------------
 * Both ends
 *
 * A list that needs no order and takes several pages is read by two
 * cursors at once, newest first (end 0, D: the plan's list, in the API's
 * order) and oldest first (end 1, A), round by round: D's first page
 * alone (a list of one page costs what it always did), then each round
 * fetches a page of each end at once and returns D's page, then A's.
 * That is about half the rounds of one cursor, at one round (two
 * requests) more at most: the meeting is seen only once an end reads a
 * row past the other's last, and a tie group at the meeting point is
 * read by both.  Memory stays flat: each end keeps the
 * created_at of the last row it processed (last_t) and the ids it
 * returned at that created_at (a tie group), nothing else.
 *
 * The rule for a row at created_at t from one end, X, against the other,
 * Y (meet_row): if Y processed nothing, or t is on X's side of Y's last_t
 * (older for D, newer for A), X returns it; if t is Y's last_t, X returns
 * it unless Y returned that id; if t is past Y's last_t, the ends have met
 * and the scan ends.  Why no row is lost or returned twice:
 *
 * - Y returned only rows at or on its own side of Y.last_t (its order is
 *   monotonic: a list out of order is refused), and every row it returned
 *   at Y.last_t is in Y's set, since those were all returned while its
 *   last_t was t.  So a row X returns is never one Y returned: on X's side
 *   of Y.last_t Y returned nothing, at Y.last_t the set says.  A tie group
 *   split across pages of both ends is the same rule applied page after
 *   page: whichever end meets an id first returns it, the other skips it.
 * - When X meets a row r past Y.last_t, X has processed every row before
 *   r in its order: every row at Y.last_t and on X's side of it.  Y has
 *   processed every row from its start to its position: every row
 *   strictly on Y's side of Y.last_t.  Together they processed the whole
 *   list, each row returned by one of them (the first point): the scan
 *   stops there.
 * - When an end reaches the end of the list (has_more false, ...), it has
 *   processed every row: the scan stops too.
 *
 * Rows at one created_at are told apart by id only there, so a tie group
 * as large as the list (a grant of every project at once) is read by both
 * ends through: the rows stay right, at the cost of one cursor's rounds
 * and twice its requests.  Concurrent grants by others behave as with one
 * cursor: a row granted after D's first page is newer than every row D
 * reads and than A stops at, so it is not returned (as one cursor misses
 * a row granted behind it); a row revoked meanwhile is returned if read
 * before, like one cursor's.
 * ---------------------------------------------------------------------
 */

/*
 * Start a list read from both ends (segment 0): its newest end first, as
 * one cursor would, its first page alone; the oldest end starts with the
 * second page of the first (next_end_row), so a list of one page costs
 * one request, as ever.
 */
static void
start_ends(CpScanState *st)
{
	int			i;

	for (i = 0; i < 2; i++)
	{
		CpEnd	   *end = &st->ends[i];

		cp_lister_set_checkpoint(end->lister, (char *) cp_segment_checkpoint(&st->lists, 0));
		end->restarting = false;
		end->processed = false;
		end->seen = NULL;
		MemoryContextReset(end->cxt);
	}
	cp_lister_start(st->ends[0].lister,
					cp_segment_base_path(&st->plan, &st->lists, 0, st->plan.order),
					cp_segment_project(&st->lists, 0));
	st->ends[1].started = false;
	st->end = 0;
	st->met = false;
	st->started = 1;
	/* the first page: fetched by cp_lister_next_page */
	(void) cp_lister_next_page(st->ends[0].lister);
}

/*
 * The next round: the next page of each end, at once; after the newest
 * end's first page, that is the oldest end's first page.
 */
static void
next_round(CpScanState *st)
{
	CpLister   *batch[2] = {st->ends[0].lister, st->ends[1].lister};

	if (!st->ends[1].started)
	{
		cp_lister_start(batch[1],
						cp_segment_base_path(&st->plan, &st->lists, 0, CP_ORDER_ASC),
						cp_segment_project(&st->lists, 0));
		st->ends[1].started = true;
	}
	cp_lister_fetch_round(batch, 2);
	(void) cp_lister_next_page(batch[0]);
	(void) cp_lister_next_page(batch[1]);
	st->end = 0;
}

/* Does t come before last_t in the order of end `which` (0: newest first)? */
static inline bool
comes_before(int which, int64 t, int64 last_t)
{
	return which == 0 ? t > last_t : t < last_t;
}

/* The rule of the section's header for a row of end `which`. */
static CpRowVerdict
meet_row(CpScanState *st, int which, const CpPermission *perm)
{
	CpEnd	   *self = &st->ends[which];
	CpEnd	   *other = &st->ends[1 - which];
	int64		t = perm->created_at;
	bool		take;

	/* listed again from the start: what it processed before is passed over */
	if (self->restarting)
	{
		if (comes_before(which, t, self->last_t) ||
			(t == self->last_t && cp_strset_contains(self->seen, perm->id)))
			return CP_ROW_SKIP;
		self->restarting = false;
	}
	/* a list out of the order it was asked for breaks the rule above */
	if (self->processed && comes_before(which, t, self->last_t))
		cp_report_out_of_order(perm, self->last_t, which == 0);
	if (other->processed && comes_before(1 - which, t, other->last_t))
		return CP_ROW_STOP;
	take = !other->processed || t != other->last_t ||
		!cp_strset_contains(other->seen, perm->id);
	if (!self->processed || t != self->last_t)
	{
		/* a new tie group: the ids of the last one are no longer needed */
		MemoryContextReset(self->cxt);
		self->seen = cp_strset_create(self->cxt);
		self->processed = true;
		self->last_t = t;
	}
	cp_strset_add(self->seen, perm->id);
	return take ? CP_ROW_TAKE : CP_ROW_SKIP;
}

/*
 * The API refused the cursor of one end's next page: a strict API refuses
 * a revoked permission's id, and a PL/pgSQL loop that revokes what it
 * reads breaks its own list so.  As for one cursor (resume_list), if this
 * session revoked it, the end lists on after the last row of its page that
 * it did not revoke; if it revoked the whole page, the end lists again from
 * its start, passing over every row it processed before (comes_before its
 * last row, or in the tie group it saw there: the rule above then holds as
 * before).  A cursor this session did not revoke is an error.
 */
static void
end_refused(CpScanState *st, CpEnd *end)
{
	const char *checkpoint = cp_segment_checkpoint(&st->lists, 0);
	const CpPage *page = cp_lister_page(end->lister);
	int			i;

	if (!cp_session_revoked(checkpoint, cp_lister_cursor(end->lister)))
		cp_lister_report_refused(end->lister,
								 "The list's cursor is a permission this session did not revoke: another session's revokes can break a list that is being read. Run the query again.");
	for (i = page->nitems - 1; i >= 0; i--)
	{
		if (!cp_session_revoked(checkpoint, page->items[i].id))
		{
			cp_lister_resume(end->lister, page->items[i].id);
			return;
		}
	}
	end->restarting = end->processed;
	cp_lister_resume(end->lister, NULL);
}

/*
 * The next row of a list read from both ends, or NULL once they met: D's
 * page of a round, then A's, then the next round's pages, fetched at once.
 */
static CpPermission *
next_end_row(CpScanState *st)
{
	while (!st->met)
	{
		CpEnd	   *end = &st->ends[st->end];
		CpPermission *perm = cp_lister_next_in_page(end->lister);

		if (perm == NULL)
		{
			/* this end's page is read: it saw the whole list, or on */
			if (cp_lister_refused(end->lister))
			{
				end_refused(st, end);
				(void) cp_lister_next_page(end->lister);
			}
			else if (cp_lister_exhausted(end->lister))
				st->met = true;
			else if (st->end == 0 && st->ends[1].started)
				st->end = 1;
			else
				next_round(st);
			continue;
		}
		switch (meet_row(st, st->end, perm))
		{
			case CP_ROW_TAKE:
				return perm;
			case CP_ROW_SKIP:
				break;
			case CP_ROW_STOP:
				st->met = true;
				break;
		}
	}
	return NULL;
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

	if (st->both)
	{
		start_ends(st);
		return;
	}
	if (st->keep)
	{
		open_reader(st);
		return;
	}
	for (i = 0; i < n; i++)
	{
		int			seg = st->segment + i;
		CpLister   *lister;

		if (seg % st->nlisters >= st->nready)
			/* in the query's memory, with the first one */
			st->listers[st->nready++] = cp_lister_create(&st->opts, &st->stats,
														 GetMemoryChunkContext(st->listers[0]));
		lister = st->listers[seg % st->nlisters];
		cp_lister_set_checkpoint(lister, (char *) cp_segment_checkpoint(&st->lists, seg));
		cp_lister_start(lister, cp_segment_base_path(&st->plan, &st->lists, seg, st->plan.order),
						cp_segment_project(&st->lists, seg));
		cp_lister_set_page_limit(lister, page_limit(st));
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
		!cp_lister_needs_page(st->listers[st->segment % st->nlisters]))
		return;
	for (seg = st->segment; seg < st->started && n < st->nlisters; seg++)
		batch[n++] = st->listers[seg % st->nlisters];
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
		lister = st->segment >= 0 ? st->listers[st->segment % st->nlisters] : NULL;
		while (lister)
		{
			CpRowVerdict verdict;

			/* a smaller page when the budget needs fewer rows */
			if (budget > 0)
				cp_lister_set_page_limit(lister, page_limit(st));
			perm = st->plan.order == CP_ORDER_DESC ? next_queued_grant(st) : NULL;
			if (perm)
				 /* taken */ ;
			else if (st->reader)
				perm = cp_snapshot_next(st->reader);
			else if (st->both)
				perm = next_end_row(st);
			else if ((perm = cp_lister_next(lister)) == NULL && cp_lister_refused(lister))
			{
				resume_list(st, lister);
				continue;
			}
			if (perm == NULL && st->plan.order != CP_ORDER_DESC)
				perm = next_queued_grant(st);
			if (perm == NULL)
				break;
			verdict = perm == &st->queued ? CP_ROW_TAKE : judge_row(st, perm);
			if (verdict == CP_ROW_STOP)
				break;			/* on to the next list */
			if (verdict == CP_ROW_SKIP)
				continue;
			perm->checkpoint = cp_segment_checkpoint(&st->lists, st->segment);
			/* (both ends resume without them: end_refused; a kept list needs none) */
			if (!st->both && !st->reader && perm->id)
				keep_returned(st, perm->id);
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
		st->queue_pos = 0;
		forget_returned(st);
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

/*
 * The keys of the next batch of a batched join (join.c) whose inner side
 * this scan is: sorted, distinct values that can be ids, which replace
 * the plan's CP_FILTER_BATCH condition from the next (re)start on.
 */
void
cp_scan_set_batch(ForeignScanState *node, char **keys, int n)
{
	CpScanState *st = (CpScanState *) node->fdw_state;
	MemoryContext oldcxt = MemoryContextSwitchTo(st->batch_cxt);
	int			i;

	Assert(st->plan.project_kind == CP_FILTER_BATCH || st->plan.ckpt_kind == CP_FILTER_BATCH);
	MemoryContextReset(st->batch_cxt);
	st->batch.values = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
		st->batch.values[i] = pstrdup(keys[i]);
	st->batch.n = n;
	MemoryContextSwitchTo(oldcxt);
	st->need_eval = true;
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
	if (st)
		close_reader(st);
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

	if (expr == NULL || !IsA(expr, Const) || kind == CP_FILTER_BATCH)
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
	/* REPEATABLE READ, SERIALIZABLE: what the scan reads (snapshot.c) */
	if (cp_snapshot_applies())
		ExplainPropertyText("OpenAI Lists",
							"kept for the transaction (each read whole the first time)",
							es);
	if (es->analyze)
		cp_explain_stats(&st->stats, true, es);
	if (es->analyze && st->keep)
	{
		ExplainPropertyInteger("OpenAI Lists Kept", NULL, st->lists_kept, es);
		ExplainPropertyInteger("OpenAI Lists Reused", NULL, st->lists_reused, es);
	}
}

/* What the scan's requests cost so far, for EXPLAIN ANALYZE. */
const CpStats *
cp_scan_stats(const CpScanState *st)
{
	return &st->stats;
}

/* Set the callbacks of scanning. */
void
cp_scan_callbacks(FdwRoutine *routine)
{
	routine->BeginForeignScan = BeginForeignScan;
	routine->IterateForeignScan = IterateForeignScan;
	routine->ReScanForeignScan = ReScanForeignScan;
	routine->EndForeignScan = EndForeignScan;
	routine->ExplainForeignScan = ExplainForeignScan;
}
