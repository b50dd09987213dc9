/*-------------------------------------------------------------------------
 *
 * snapshot_int.h
 *		  Between snapshot.c (the lists a transaction keeps) and
 *		  snapshot_read.c (a list read whole from both ends, to be kept).
 *
 * Private to those two files: no other file reads a list to keep it or
 * touches a kept list's tuples, so none of this crosses the effects layer
 * and effects.h does not carry it.  The fill is opaque here: what it does
 * with a row (the projects kept before, the array or tuplestore) is
 * snapshot.c's; snapshot_read.c only hands it rows, newest first.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CP_SNAPSHOT_INT_H
#define CP_SNAPSHOT_INT_H

#include "executor/tuptable.h"
#include "utils/tuplestore.h"

#include "effects.h"

/*
 * snapshot.c: a list being kept takes its rows newest first
 * (cp_kept_fill_put); a store of the kept lists' tuples, as the reader of
 * the oldest end keeps its rows, takes and gives them back as permissions.
 */
typedef struct CpKeptFill CpKeptFill;
extern void cp_kept_fill_put(CpKeptFill *fill, const CpPermission *perm);
extern void cp_kept_store_put(Tuplestorestate *store, const CpPermission *perm,
							  MemoryContext rowcxt);
extern TupleTableSlot *cp_kept_slot(void);
extern void cp_kept_slot_permission(TupleTableSlot *slot, CpPermission *perm);

/*
 * snapshot_read.c: read the list of checkpoint (of project, if not NULL)
 * whole into a fill.  cp_kept_start_newest starts its newest end, so that
 * the first pages of several lists can be fetched at once before they are
 * read (first; NULL: cp_kept_read_list starts it).
 */
extern CpLister *cp_kept_start_newest(const CpOptions *opts, const char *checkpoint,
									  const char *project, CpStats *stats);
extern void cp_kept_read_list(const CpOptions *opts, const char *checkpoint,
							  const char *project, CpKeptFill *fill, CpStats *stats,
							  CpLister *first);

#endif							/* CP_SNAPSHOT_INT_H */
