/*-------------------------------------------------------------------------
 *
 * analyze.c
 *		  ANALYZE of a foreign table: the row count and a sample of the
 *		  list, so that the planner estimates filters and joins right.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "foreign/fdwapi.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/sampling.h"

#include "executor.h"
#include "planner.h"
#include "effects.h"

/* ---------------------------------------------------------------------
 * ANALYZE
 * ---------------------------------------------------------------------
 */

/*
 * Sample the whole list (one pass, every page) with Vitter's reservoir
 * algorithm, as file_fdw does: the row count and the column statistics
 * make the selectivity of a project_id filter right.
 */
static int
acquire_sample_rows(Relation relation, int elevel, HeapTuple *rows, int targrows,
					double *totalrows, double *totaldeadrows)
{
	TupleDesc	tupdesc = RelationGetDescr(relation);
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "checkpoint_perms analyze",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext row_cxt = AllocSetContextCreate(cxt, "checkpoint_perms analyze row",
												  ALLOCSET_SMALL_SIZES);
	MemoryContext callercxt = CurrentMemoryContext;
	Datum	   *values = palloc(sizeof(Datum) * tupdesc->natts);
	bool	   *nulls = palloc(sizeof(bool) * tupdesc->natts);
	ReservoirStateData rstate;
	CpOptions	opts;
	CpColumnMap columns;
	CpStats		stats = {0};
	CpLister   *lister;
	CpPermission *perm;
	double		rowstoskip = -1;
	int			numrows = 0;

	cp_get_options(RelationGetRelid(relation), relation->rd_rel->relowner, &opts);
	cp_build_column_map(relation, &columns);
	lister = cp_lister_create(&opts, &stats, cxt);
	cp_lister_start(lister, cp_list_base_path(opts.checkpoint, NULL, 0, CP_ORDER_NONE), NULL);
	reservoir_init_selection_state(&rstate, targrows);
	*totalrows = 0;

	while ((perm = cp_lister_next(lister)) != NULL)
	{
		MemoryContext oldcxt;
		HeapTuple	tuple;

		/* the values live until their tuple is formed: memory stays flat */
		MemoryContextReset(row_cxt);
		oldcxt = MemoryContextSwitchTo(row_cxt);
		perm->checkpoint = opts.checkpoint;
		cp_store_permission(&columns, perm, values, nulls);
		MemoryContextSwitchTo(callercxt);
		tuple = heap_form_tuple(tupdesc, values, nulls);
		MemoryContextSwitchTo(oldcxt);

		if (numrows < targrows)
			rows[numrows++] = tuple;
		else
		{
			if (rowstoskip < 0)
				rowstoskip = reservoir_get_next_S(&rstate, *totalrows, targrows);
			if (rowstoskip <= 0)
			{
#if PG_VERSION_NUM >= 150000
				int			k = (int) (targrows * sampler_random_fract(&rstate.randstate));
#else
				int			k = (int) (targrows * sampler_random_fract(rstate.randstate));
#endif

				heap_freetuple(rows[k]);
				rows[k] = tuple;
			}
			else
				heap_freetuple(tuple);
			rowstoskip -= 1;
		}
		*totalrows += 1;
	}
	MemoryContextDelete(cxt);
	*totaldeadrows = 0;

	ereport(elevel,
			(errmsg("\"%s\": permissions listed: %.0f, requests: %lld, rows in sample: %d",
					RelationGetRelationName(relation), *totalrows,
					(long long) stats.requests, numrows)));
	return numrows;
}

static bool
AnalyzeForeignTable(Relation relation, AcquireSampleRowsFunc *func, BlockNumber *totalpages)
{
	CpColumnMap columns;

	/*
	 * A table across checkpoints has no list to sample: the API cannot
	 * enumerate checkpoints.  PostgreSQL then says it skipped the table;
	 * the planner assumes CP_DEFAULT_PERMISSIONS per checkpoint named.
	 */
	cp_build_column_map(relation, &columns);
	if (columns.checkpoint == NULL)
		return false;
	*func = acquire_sample_rows;
	*totalpages = 1;
	return true;
}

/* Set the callback of ANALYZE. */
void
cp_analyze_callbacks(FdwRoutine *routine)
{
	routine->AnalyzeForeignTable = AnalyzeForeignTable;
}
