/*-------------------------------------------------------------------------
 *
 * executor.h
 *		  The executor layer (scan.c, modify.c, revoke.c, analyze.c, import.c,
 *		  checkpoint_perms.c): the FDW callbacks, which walk request plans and
 *		  build tuples.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CP_EXECUTOR_H
#define CP_EXECUTOR_H

#include "checkpoint_perms.h"

/* checkpoint_perms.c */
struct ExplainState;
extern void cp_note_write(void);
extern void cp_explain_stats(const CpStats *stats, bool pages, struct ExplainState *es);

extern void cp_explain_requests(List *lines, struct ExplainState *es);

/* scan.c, modify.c, revoke.c, analyze.c, import.c: each sets the callbacks it holds */
struct FdwRoutine;
extern void cp_scan_callbacks(struct FdwRoutine *routine);
extern void cp_modify_callbacks(struct FdwRoutine *routine);
extern void cp_revoke_callbacks(struct FdwRoutine *routine);
extern void cp_analyze_callbacks(struct FdwRoutine *routine);
extern void cp_import_callbacks(struct FdwRoutine *routine);

/* join.c: the executor side of a batched join (joinpath.c plans it) */
extern void cp_join_init(void);

/* scan.c: the lists of a ForeignScan, for revoke.c too */
typedef struct CpScanState CpScanState;
extern CpScanState *cp_scan_begin(ForeignScanState *node, int eflags, bool stream);
extern TupleTableSlot *cp_scan_next(CpScanState *st, ForeignScanState *node);
extern void cp_scan_end(CpScanState *st);
extern List *cp_scan_request_lines(const CpScanState *st);
extern Oid	cp_scan_userid(ForeignScanState *node);
extern const CpStats *cp_scan_stats(const CpScanState *st);
extern void cp_scan_set_batch(ForeignScanState *node, char **keys, int n);

#endif							/* CP_EXECUTOR_H */
