/*-------------------------------------------------------------------------
 *
 * join.c
 *		  Batched joins, the executor side: the CustomScan that joinpath.c
 *		  plans over an outer plan and the foreign scan of one of our tables.
 *
 * The join reads a batch of outer rows (into a tuplestore) that hold up to
 * batch_keys distinct keys, hands those keys to its inner foreign scan
 * (cp_scan_set_batch), which sends one list per key, max_concurrency at a
 * time, and keeps the inner rows by key.  Then it returns, for each outer
 * row of the batch in order, the inner rows of its key that pass the join
 * quals (evaluated here, on a scan tuple of the outer columns followed by
 * the inner ones), or the outer row alone where a left or anti join says
 * so.  A NULL key, or one that no id can be, names no list and matches
 * nothing.  A key that several outer rows of a batch hold is listed once;
 * one held in two batches is listed in each.
 *
 * Memory: the batch's outer rows (a tuplestore: work_mem, then a
 * temporary file) and the inner rows of its keys, in a context reset per
 * batch; batches get smaller while those take more than work_mem.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/extensible.h"
#include "utils/builtins.h"
#include "utils/ruleutils.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

#include "executor.h"
#include "planner.h"

typedef struct CpJoinState
{
	CustomScanState css;
	CpJoinPlan	plan;
	PlanState  *outer;			/* custom_ps: the outer plan */
	PlanState  *inner;			/* and the inner foreign scan */
	ExprState  *key;			/* the outer key, on the scan tuple */
	ExprState  *quals;			/* the join quals, likewise */
	int			ninner;			/* columns of the inner scan */

	/* the current batch */
	MemoryContext batch_cxt;	/* its keys and inner rows; reset per batch */
	Tuplestorestate *rows;		/* its outer rows */
	TupleTableSlot *outer_slot; /* an outer row read back from rows */
	TupleTableSlot *inner_slot; /* an inner row read back from matches */
	TupleTableSlot *pending;	/* the first outer row of the next batch */
	bool		has_pending;
	char	  **keys;			/* its distinct keys, sorted */
	int			nkeys;
	List	  **matches;		/* per key, its inner rows (MinimalTuple) */
	bool		outer_done;		/* the outer plan has no more rows */
	int			max_keys;		/* keys of the next batch at most */

	/* the current outer row */
	bool		have_outer;
	ListCell   *next_match;		/* the next inner row of its key to try */
	List	   *candidates;		/* the inner rows of its key */
	bool		matched;		/* an inner row passed the join quals */

	int64		batches;		/* for EXPLAIN ANALYZE */
	int64		keys_listed;
} CpJoinState;

static int
compare_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The id kind of the join's key. */
static CpIdKind
key_kind(const CpJoinState *st)
{
	return st->plan.which == CP_SCAN_EXPR_CHECKPOINT ? CP_ID_CHECKPOINT : CP_ID_PROJECT;
}

/*
 * Put an outer row into the scan tuple, the inner columns NULL, and
 * return its key (in CurrentMemoryContext), or NULL: a NULL key, or one
 * no id can be, which matches nothing.
 */
static char *
set_outer(CpJoinState *st, TupleTableSlot *outer)
{
	TupleTableSlot *scan = st->css.ss.ss_ScanTupleSlot;
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	int			n = st->plan.outer_columns;
	Datum		datum;
	bool		isnull;
	char	   *key;

	ExecClearTuple(scan);
	slot_getallattrs(outer);
	memcpy(scan->tts_values, outer->tts_values, sizeof(Datum) * n);
	memcpy(scan->tts_isnull, outer->tts_isnull, sizeof(bool) * n);
	memset(scan->tts_isnull + n, true, sizeof(bool) * st->ninner);
	ExecStoreVirtualTuple(scan);

	econtext->ecxt_scantuple = scan;
	datum = ExecEvalExpr(st->key, econtext, &isnull);
	if (isnull)
		return NULL;
	key = TextDatumGetCString(datum);
	return cp_id_possible(key_kind(st), key) ? key : NULL;
}

/* Put an inner row (or none: NULLs) into the scan tuple after the outer row. */
static void
set_inner(CpJoinState *st, MinimalTuple inner)
{
	TupleTableSlot *scan = st->css.ss.ss_ScanTupleSlot;
	int			n = st->plan.outer_columns;

	/* clearing a virtual slot keeps its values: the outer columns stay */
	ExecClearTuple(scan);
	if (inner)
	{
		ExecStoreMinimalTuple(inner, st->inner_slot, false);
		slot_getallattrs(st->inner_slot);
		memcpy(scan->tts_values + n, st->inner_slot->tts_values, sizeof(Datum) * st->ninner);
		memcpy(scan->tts_isnull + n, st->inner_slot->tts_isnull, sizeof(bool) * st->ninner);
	}
	else
		memset(scan->tts_isnull + n, true, sizeof(bool) * st->ninner);
	ExecStoreVirtualTuple(scan);
}

/* The index of key among the batch's keys, or -1. */
static int
find_key(const CpJoinState *st, const char *key)
{
	char	  **found;

	if (key == NULL || st->nkeys == 0)
		return -1;
	found = bsearch(&key, st->keys, st->nkeys, sizeof(char *), compare_keys);
	return found ? (int) (found - st->keys) : -1;
}

/*
 * Read the next batch of outer rows: every row up to the first whose key
 * would be one more than batch_keys distinct keys (kept for the next
 * batch), or to the end of the outer plan.  Its keys, sorted and
 * distinct, go to st->keys.
 */
static void
read_outer_batch(CpJoinState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	CpStrSet   *seen = cp_strset_create(st->batch_cxt);
	int			max = st->max_keys;

	st->keys = MemoryContextAlloc(st->batch_cxt, sizeof(char *) * max);
	st->nkeys = 0;
	for (;;)
	{
		TupleTableSlot *outer = st->pending;
		MemoryContext oldcxt;
		char	   *key;

		if (st->has_pending)
			st->has_pending = false;
		else
		{
			/* the outer plan runs in the query's memory, not the batch's */
			outer = ExecProcNode(st->outer);
			if (TupIsNull(outer))
			{
				st->outer_done = true;
				break;
			}
		}
		oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		key = set_outer(st, outer);
		MemoryContextSwitchTo(oldcxt);
		if (key && !cp_strset_contains(seen, key))
		{
			if (st->nkeys == max)
			{
				ExecCopySlot(st->pending, outer);
				st->has_pending = true;
				break;
			}
			cp_strset_add(seen, key);
			st->keys[st->nkeys++] = MemoryContextStrdup(st->batch_cxt, key);
		}
		tuplestore_puttupleslot(st->rows, outer);
		ResetExprContext(econtext);
	}
	ResetExprContext(econtext);
	qsort(st->keys, st->nkeys, sizeof(char *), compare_keys);
}

/*
 * The lists of the batch's keys: the inner scan sends them (max_concurrency
 * at a time) and its rows are kept by key.  No key, no request.
 */
static void
read_inner_batch(CpJoinState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;
	MemoryContext oldcxt;

	st->matches = MemoryContextAllocZero(st->batch_cxt, sizeof(List *) * Max(st->nkeys, 1));
	if (st->nkeys == 0)
		return;
	cp_scan_set_batch((ForeignScanState *) st->inner, st->keys, st->nkeys);
	ExecReScan(st->inner);
	st->keys_listed += st->nkeys;
	for (;;)
	{
		TupleTableSlot *inner = ExecProcNode(st->inner);
		bool		isnull;
		Datum		datum;
		int			k;

		if (TupIsNull(inner))
			break;
		datum = slot_getattr(inner, st->plan.inner_key, &isnull);
		if (isnull)
			continue;
		/* the key's copy is per row; only the row is kept, in the batch */
		oldcxt = MemoryContextSwitchTo(econtext->ecxt_per_tuple_memory);
		k = find_key(st, TextDatumGetCString(datum));
		MemoryContextSwitchTo(st->batch_cxt);
		if (k >= 0)
			st->matches[k] = lappend(st->matches[k], ExecCopySlotMinimalTuple(inner));
		MemoryContextSwitchTo(oldcxt);
		ResetExprContext(econtext);
	}
}

/*
 * Start the next batch; false when the outer plan has no more rows.  A
 * batch whose permissions took more than work_mem halves the keys of the
 * next, down to one round of max_concurrency lists.
 */
static bool
next_batch(CpJoinState *st)
{
	if (st->outer_done && !st->has_pending)
		return false;
	MemoryContextReset(st->batch_cxt);
	tuplestore_clear(st->rows);
	read_outer_batch(st);
	read_inner_batch(st);
	if (MemoryContextMemAllocated(st->batch_cxt, true) > (Size) work_mem * 1024)
		st->max_keys = Max(st->max_keys / 2, st->plan.batch_keys / CP_BATCH_ROUNDS);
	st->batches++;
	return true;
}

/*
 * The next outer row of the batch (false at its end): its key's inner rows
 * become the candidates.
 */
static bool
next_outer(CpJoinState *st)
{
	MemoryContext oldcxt;
	int			k;

	if (!tuplestore_gettupleslot(st->rows, true, false, st->outer_slot))
		return false;

	/*
	 * Outer rows without a match are passed over within one call of the
	 * scan, which resets this memory only once: the key of each would pile
	 * up.  Nothing of the row before is needed any more (the scan tuple's
	 * outer values are outer_slot's).
	 */
	ResetExprContext(st->css.ss.ps.ps_ExprContext);
	oldcxt = MemoryContextSwitchTo(st->css.ss.ps.ps_ExprContext->ecxt_per_tuple_memory);
	k = find_key(st, set_outer(st, st->outer_slot));
	MemoryContextSwitchTo(oldcxt);
	st->candidates = k >= 0 ? st->matches[k] : NIL;
	st->next_match = list_head(st->candidates);
	st->matched = false;
	st->have_outer = true;
	return true;
}

/*
 * The next inner row of the current outer row that passes the join quals,
 * in the scan tuple; false when none is left.  A semi or anti join needs
 * one at most.
 */
static bool
next_match(CpJoinState *st)
{
	ExprContext *econtext = st->css.ss.ps.ps_ExprContext;

	while (st->next_match)
	{
		MinimalTuple inner = lfirst(st->next_match);

		st->next_match = lnext(st->candidates, st->next_match);
		ResetExprContext(econtext);
		set_inner(st, inner);
		econtext->ecxt_scantuple = st->css.ss.ss_ScanTupleSlot;
		if (ExecQual(st->quals, econtext))
		{
			st->matched = true;
			if (st->plan.jointype == JOIN_SEMI || st->plan.jointype == JOIN_ANTI)
				st->next_match = NULL;
			return true;
		}
	}
	return false;
}

/*
 * ExecScan's access method: the next joined row in the scan tuple (the
 * plan's qual and projection follow), or an empty slot at the end.
 */
static TupleTableSlot *
next_joined(ScanState *node)
{
	CpJoinState *st = (CpJoinState *) node;
	JoinType	jointype = st->plan.jointype;

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (st->have_outer)
		{
			if (next_match(st))
			{
				if (jointype == JOIN_ANTI)
					continue;
				if (jointype == JOIN_SEMI)
					set_inner(st, NULL);
				return node->ss_ScanTupleSlot;
			}
			st->have_outer = false;
			if (!st->matched && (jointype == JOIN_LEFT || jointype == JOIN_ANTI))
			{
				set_inner(st, NULL);
				return node->ss_ScanTupleSlot;
			}
			continue;
		}
		if (next_outer(st))
			continue;
		if (!next_batch(st))
			return ExecClearTuple(node->ss_ScanTupleSlot);
	}
}

/* No EvalPlanQual: joinpath.c plans no batched join under a write or a row lock. */
static bool
recheck_joined(ScanState *node, TupleTableSlot *slot)
{
	return true;
}

static TupleTableSlot *
ExecBatchedJoin(CustomScanState *node)
{
	return ExecScan(&node->ss, next_joined, recheck_joined);
}

static void
BeginBatchedJoin(CustomScanState *node, EState *estate, int eflags)
{
	CpJoinState *st = (CpJoinState *) node;
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	int			child_flags = eflags & ~(EXEC_FLAG_BACKWARD | EXEC_FLAG_MARK);

	cp_join_plan_from_private(cscan->custom_private, &st->plan);
	st->max_keys = st->plan.batch_keys;
	st->outer = ExecInitNode(linitial(cscan->custom_plans), estate, child_flags);
	st->inner = ExecInitNode(lsecond(cscan->custom_plans), estate, child_flags);
	node->custom_ps = list_make2(st->outer, st->inner);
	st->ninner = ExecGetResultType(st->inner)->natts;
	if (eflags & EXEC_FLAG_EXPLAIN_ONLY)
		return;

	st->key = ExecInitExpr(list_nth(cscan->custom_exprs, CP_JOIN_EXPR_KEY), &node->ss.ps);
	st->quals = ExecInitQual(list_nth(cscan->custom_exprs, CP_JOIN_EXPR_QUALS), &node->ss.ps);
	st->batch_cxt = AllocSetContextCreate(estate->es_query_cxt, "checkpoint_perms join batch",
										  ALLOCSET_DEFAULT_SIZES);
	st->rows = tuplestore_begin_heap(false, false, work_mem);
	st->outer_slot = ExecInitExtraTupleSlot(estate, ExecGetResultType(st->outer),
											&TTSOpsMinimalTuple);
	st->inner_slot = ExecInitExtraTupleSlot(estate, ExecGetResultType(st->inner),
											&TTSOpsMinimalTuple);
	st->pending = ExecInitExtraTupleSlot(estate, ExecGetResultType(st->outer),
										 &TTSOpsMinimalTuple);
}

/*
 * A rescan (the join under a nested loop, in a correlated subquery): start
 * again from the first outer row; each batch lists its keys anew.
 */
static void
ReScanBatchedJoin(CustomScanState *node)
{
	CpJoinState *st = (CpJoinState *) node;
	Bitmapset  *changed = node->ss.ps.chgParam;
	int			i;

	for (i = 0; i < 2; i++)
	{
		PlanState  *child = i == 0 ? st->outer : st->inner;

		if (changed)
			UpdateChangedParamSet(child, changed);
		if (i == 0 && child->chgParam == NULL)
			ExecReScan(child);
	}
	MemoryContextReset(st->batch_cxt);
	tuplestore_clear(st->rows);
	st->nkeys = 0;
	st->matches = NULL;
	st->outer_done = false;
	st->has_pending = false;
	st->have_outer = false;
}

static void
EndBatchedJoin(CustomScanState *node)
{
	CpJoinState *st = (CpJoinState *) node;

	if (st->rows)
		tuplestore_end(st->rows);
	ExecEndNode(st->outer);
	ExecEndNode(st->inner);
}

/* The outer key, as EXPLAIN shows an expression of the plan. */
static char *
batch_key(CustomScanState *node, List *ancestors, ExplainState *es)
{
	CustomScan *cscan = (CustomScan *) node->ss.ps.plan;
	List	   *context = set_deparse_context_plan(es->deparse_cxt, (Plan *) cscan, ancestors);

	return deparse_expression(list_nth(cscan->custom_exprs, CP_JOIN_EXPR_KEY), context,
							  es->verbose || list_length(es->rtable) > 1, false);
}

/*
 * EXPLAIN: the join type and the batch (the inner scan below shows the
 * requests it sends per key); with ANALYZE, the batches and keys listed.
 */
static void
ExplainBatchedJoin(CustomScanState *node, List *ancestors, ExplainState *es)
{
	CpJoinState *st = (CpJoinState *) node;
	const char *jointype = "Inner";

	switch ((JoinType) st->plan.jointype)
	{
		case JOIN_LEFT:
			jointype = "Left";
			break;
		case JOIN_SEMI:
			jointype = "Semi";
			break;
		case JOIN_ANTI:
			jointype = "Anti";
			break;
		default:
			break;
	}
	ExplainPropertyText("Join Type", jointype, es);
	ExplainPropertyText("Batch Key", batch_key(node, ancestors, es), es);
	ExplainPropertyInteger("Batch Keys", NULL, st->plan.batch_keys, es);
	if (es->analyze)
	{
		ExplainPropertyInteger("Batches", NULL, st->batches, es);
		ExplainPropertyInteger("Keys Listed", NULL, st->keys_listed, es);
	}
}

static const CustomExecMethods batched_join_exec_methods = {
	.CustomName = CP_JOIN_NAME,
	.BeginCustomScan = BeginBatchedJoin,
	.ExecCustomScan = ExecBatchedJoin,
	.EndCustomScan = EndBatchedJoin,
	.ReScanCustomScan = ReScanBatchedJoin,
	.ExplainCustomScan = ExplainBatchedJoin,
};

static Node *
CreateBatchedJoinState(CustomScan *cscan)
{
	CpJoinState *st = (CpJoinState *) newNode(sizeof(CpJoinState), T_CustomScanState);

	st->css.methods = &batched_join_exec_methods;
	return (Node *) st;
}

static const CustomScanMethods batched_join_scan_methods = {
	.CustomName = CP_JOIN_NAME,
	.CreateCustomScanState = CreateBatchedJoinState,
};

/* Register the join's methods by name, so that plans copy and serialize (_PG_init). */
void
cp_join_init(void)
{
	RegisterCustomScanMethods(&batched_join_scan_methods);
}
