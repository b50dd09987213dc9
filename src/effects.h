/*-------------------------------------------------------------------------
 *
 * effects.h
 *		  The effects layer (statement.c, journal.c, grant.c): what a statement
 *		  wrote, the journal of grants and revokes, grants made exactly once.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CP_EFFECTS_H
#define CP_EFFECTS_H

#include "api.h"

/* What one statement has written (statement.c). */
typedef struct CpStatement CpStatement;

/* What the journal records of a grant or revoke (journal.c). */
typedef enum CpJournalAction
{
	CP_JOURNAL_GRANT = 0,
	CP_JOURNAL_REVOKE = 1
} CpJournalAction;

typedef enum CpJournalOutcome
{
	CP_OUTCOME_APPLIED,			/* the API confirmed it */
	CP_OUTCOME_NOT_FOUND,		/* a revoke of a permission already gone */
	CP_OUTCOME_UNKNOWN			/* sent; no reply says what happened */
} CpJournalOutcome;

/* An entry of the current transaction's journal; -1: not kept. */
typedef int64 CpJournalRef;

/* statement.c */
extern CpStatement *cp_statement(EState *estate);
extern bool cp_statement_writes(EState *estate);
extern void cp_statement_granted(CpStatement *stmt, const char *checkpoint,
								 const char *permission_id);
extern bool cp_statement_is_own_grant(const CpStatement *stmt, const char *checkpoint,
									  const char *permission_id);

/*
 * journal.c: record every grant and revoke where it is sent.  Record it
 * before sending, as CP_OUTCOME_UNKNOWN, then set its outcome from the
 * reply; in a PG_CATCH, discard it only when
 * cp_error_proves_nothing_applied(the error's sqlerrcode).  A rollback then
 * warns about it, and checkpoint_perms_journal() lists it.
 */
extern void cp_journal_init(void);
extern CpJournalRef cp_journal_record(CpJournalAction action, const char *checkpoint,
									  const char *project_id, const char *permission_id,
									  CpJournalOutcome outcome);
extern void cp_journal_set_outcome(CpJournalRef ref, CpJournalOutcome outcome,
								   const char *permission_id);
extern void cp_journal_discard(CpJournalRef ref);
extern bool cp_error_proves_nothing_applied(int sqlerrcode);
extern const char *cp_progress_note(bool revoke, int64 applied);

/* grant.c */
extern int	cp_full_list_requests(const CpOptions *opts, double est_rows);
extern void cp_list_projects(const CpOptions *opts, char **project_ids, int n, bool full,
							 bool *found, CpPermission *newest, CpStrSet *seen,
							 CpStats *stats);
/* The first POST of a batch, sent by cp_grant_many: its entries and result. */
typedef struct CpGrantFirst
{
	CpJournalRef *refs;			/* per project id, in the journal already */
	CpPermission *made;			/* what the reply made, or NULL: */
	const char *reason;			/* why its outcome is unknown */
} CpGrantFirst;

/* One checkpoint's batch of grants (cp_grant_many). */
typedef struct CpGrantBatch
{
	CpOptions	opts;			/* with the batch's checkpoint */
	char	  **project_ids;
	int			n;
	CpPermission *made;			/* out: the permissions, in that order */
} CpGrantBatch;

extern void cp_grant_many(CpGrantBatch *batches, int nbatches, double est_rows,
						  const char *progress, CpStats *stats);
extern CpPermission *cp_grant_once(const CpOptions *opts, char **project_ids, int n,
								   double est_rows, const char *progress, CpStats *stats,
								   const CpGrantFirst *first);

#endif							/* CP_EFFECTS_H */
