/*-------------------------------------------------------------------------
 *
 * snapshot_read.c
 *		  A list read whole for a REPEATABLE READ transaction to keep
 *		  (snapshot.c), from both ends at once.
 *
 * A list is read whole, so it is read from both ends at once, as scan.c
 * reads one that needs no order: the newest end (D, the API's order) and
 * the oldest end (A, ?order=ascending), round by round, D's first page
 * alone (a list of one page costs one request).  With nothing to stop
 * early, the meeting is simpler than scan.c's: once A's last row is newer
 * than D's last (d_t), D holds every row newer than d_t and some at d_t,
 * A every row older than its last, so every row at d_t and older than it.
 * The list, newest first, is then D's rows, then A's at d_t that D did not
 * return (D's tie group at d_t says which) and A's older than d_t, newest
 * first: A's rows are kept in a store of their own and read backwards.  If
 * one end reaches the list's end first, it holds it all the same way.
 *
 * The rows go to a fill, newest first; what is kept of them, and where,
 * is snapshot.c's.  This file only reads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "utils/memutils.h"

#include "effects.h"
#include "snapshot_int.h"

typedef struct KeptEnds
{
	CpLister   *ends[2];		/* D, A */
	bool		a_started;
	int64		d_t;			/* created_at of D's last row */
	bool		d_any;			/* D returned a row */
	CpStrSet   *d_tie;			/* the ids of D's rows at d_t */
	MemoryContext tie_cxt;
	Tuplestorestate *a_rows;	/* A's rows, oldest first */
	MemoryContext a_cxt;		/* one of them written or read back */
	int64		a_n;
	int64		a_t;			/* created_at of A's last row */
} KeptEnds;

CP_NORETURN static void report_refused(const CpLister *lister);

static void
report_refused(const CpLister *lister)
{
	cp_lister_report_refused(lister,
							 "The list's cursor is a permission another session revoked while the list was read whole for the transaction. Run the query again.");
}

/* D's page in memory into the fill; the meeting relies on its order. */
static void
newest_page(KeptEnds *e, CpKeptFill *fill)
{
	CpPermission *perm;

	while ((perm = cp_lister_next_in_page(e->ends[0])) != NULL)
	{
		if (e->d_any && perm->created_at > e->d_t)
			cp_report_out_of_order(perm, e->d_t, true);
		if (!e->d_any || perm->created_at != e->d_t)
		{
			MemoryContextReset(e->tie_cxt);
			e->d_tie = cp_strset_create(e->tie_cxt);
			e->d_t = perm->created_at;
			e->d_any = true;
		}
		cp_strset_add(e->d_tie, perm->id);
		cp_kept_fill_put(fill, perm);
	}
	if (cp_lister_refused(e->ends[0]))
		report_refused(e->ends[0]);
}

/* A's page in memory into its store; the meeting relies on its order. */
static void
oldest_page(KeptEnds *e)
{
	CpPermission *perm;

	while ((perm = cp_lister_next_in_page(e->ends[1])) != NULL)
	{
		if (e->a_n > 0 && perm->created_at < e->a_t)
			cp_report_out_of_order(perm, e->a_t, false);
		cp_kept_store_put(e->a_rows, perm, e->a_cxt);
		e->a_n++;
		e->a_t = perm->created_at;
	}
	if (cp_lister_refused(e->ends[1]))
		report_refused(e->ends[1]);
}

/* The ends met: A's rows that D did not return, newest first, into the fill. */
static void
oldest_rows(KeptEnds *e, CpKeptFill *fill)
{
	TupleTableSlot *slot = cp_kept_slot();

	tuplestore_rescan(e->a_rows);
	(void) tuplestore_skiptuples(e->a_rows, e->a_n + 1, true);
	while (tuplestore_gettupleslot(e->a_rows, false, false, slot))
	{
		CpPermission perm;

		MemoryContext oldcxt;

		MemoryContextReset(e->a_cxt);
		oldcxt = MemoryContextSwitchTo(e->a_cxt);
		cp_kept_slot_permission(slot, &perm);
		MemoryContextSwitchTo(oldcxt);
		if (e->d_any && (perm.created_at > e->d_t ||
						 (perm.created_at == e->d_t && cp_strset_contains(e->d_tie, perm.id))))
			continue;
		cp_kept_fill_put(fill, &perm);
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* A lister of the list, newest first, started. */
CpLister *
cp_kept_start_newest(const CpOptions *opts, const char *checkpoint, const char *project,
					 CpStats *stats)
{
	CpLister   *lister = cp_lister_create(opts, stats, CurrentMemoryContext);

	cp_lister_set_checkpoint(lister, (char *) checkpoint);
	cp_lister_start(lister, cp_list_base_path(checkpoint, project, 0, CP_ORDER_NONE), project);
	return lister;
}

/*
 * List the list whole, from both ends, into fill.  first: its newest end,
 * with the first page fetched already (cp_snapshot_prefetch), or NULL.
 */
void
cp_kept_read_list(const CpOptions *opts, const char *checkpoint, const char *project,
				  CpKeptFill *fill, CpStats *stats, CpLister *first)
{
	KeptEnds	e = {0};

	e.ends[0] = first ? first : cp_kept_start_newest(opts, checkpoint, project, stats);
	e.ends[1] = cp_lister_create(opts, stats, CurrentMemoryContext);
	cp_lister_set_checkpoint(e.ends[1], (char *) checkpoint);
	e.tie_cxt = AllocSetContextCreate(CurrentMemoryContext, "checkpoint_perms tie group",
									  ALLOCSET_SMALL_SIZES);
	e.a_cxt = AllocSetContextCreate(CurrentMemoryContext, "checkpoint_perms kept row",
									ALLOCSET_SMALL_SIZES);
	e.a_rows = tuplestore_begin_heap(true, false, work_mem);
	if (first == NULL)
		(void) cp_lister_next_page(e.ends[0]);
	for (;;)
	{
		newest_page(&e, fill);
		if (cp_lister_exhausted(e.ends[0]))
			break;				/* D read it all */
		if (e.a_started)
		{
			oldest_page(&e);
			if (cp_lister_exhausted(e.ends[1]) || (e.a_n > 0 && e.d_any && e.a_t > e.d_t))
			{
				oldest_rows(&e, fill);
				break;
			}
		}
		else
		{
			cp_lister_start(e.ends[1], cp_list_base_path(checkpoint, project, 0, CP_ORDER_ASC),
							project);
			e.a_started = true;
		}
		cp_lister_fetch_round(e.ends, 2);
		(void) cp_lister_next_page(e.ends[0]);
		(void) cp_lister_next_page(e.ends[1]);
	}
	tuplestore_end(e.a_rows);
}
