/*-------------------------------------------------------------------------
 *
 * effects.h
 *		  The effects layer (statement.c, journal.c, grant.c, revocation.c):
 *		  what a statement wrote, the journal of grants and revokes, grants
 *		  made exactly once, revokes.  The only layer that decides whether a
 *		  request was applied, is unknown or did nothing (cp_settle), from
 *		  what the transport says became of it, never from an error's
 *		  SQLSTATE.
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
	CP_OUTCOME_UNKNOWN,			/* sent; no reply says what happened */
	CP_OUTCOME_NOT_APPLIED,		/* it provably did nothing: not kept */
	CP_OUTCOME_UNDONE			/* applied by a COMMIT that failed, then undone
								 * (queue.c) */
} CpJournalOutcome;

/* What a request's reply, once read, says it did (for cp_settle). */
typedef enum CpReplySays
{
	CP_SAYS_NOTHING = 0,		/* not read: no usable reply, or an error came
								 * before it was read */
	CP_SAYS_DONE,				/* it made or revoked what was asked */
	CP_SAYS_GONE,				/* a revoke answered 404 */
	CP_SAYS_KEPT				/* a revoke answered "deleted": false */
} CpReplySays;

/* Entries the journal keeps per transaction; later ones are only counted. */
#define CP_JOURNAL_MAX 10000

/* An entry of the current transaction's journal; -1: not kept. */
typedef int64 CpJournalRef;

/* statement.c */
extern CpStatement *cp_statement(EState *estate);
extern bool cp_statement_writes(EState *estate);
extern void cp_statement_granted(CpStatement *stmt, const char *checkpoint,
								 const char *permission_id);
extern bool cp_statement_is_own_grant(const CpStatement *stmt, const char *checkpoint,
									  const char *permission_id);
extern int64 cp_statement_grants(const CpStatement *stmt);

/*
 * journal.c: record every grant and revoke where it is sent.  Record it
 * before sending, as CP_OUTCOME_UNKNOWN, then settle it from its request's
 * transfer (cp_journal_settle): after its reply was read, with what the
 * reply says; in a PG_CATCH, with CP_SAYS_NOTHING, so that the transport's
 * outcome decides and unknown is the default.  A rollback then warns about
 * it, and checkpoint_perms_journal() lists it.  With
 * checkpoint_perms.log_writes on, settling an entry as applied or unknown
 * writes its audit line to the server log (opts: the server and the role
 * whose user mapping sent it).
 */
extern void cp_journal_init(void);
extern CpJournalRef cp_journal_record(const CpOptions *opts, CpJournalAction action,
									  const char *checkpoint, const char *project_id,
									  const char *permission_id, CpJournalOutcome outcome);
extern void cp_journal_set_outcome(const CpOptions *opts, CpJournalRef ref,
								   CpJournalOutcome outcome, const char *permission_id,
								   const char *request_id);
extern void cp_journal_discard(CpJournalRef ref);
extern CpJournalOutcome cp_settle(const CpTransfer *t, CpReplySays says);
extern CpJournalOutcome cp_journal_settle(const CpOptions *opts, CpJournalRef ref,
										  const CpTransfer *t, CpReplySays says,
										  const char *permission_id);
extern const char *cp_progress_note(bool revoke, int64 applied);
extern bool cp_session_revoked(const char *checkpoint, const char *permission_id);

/*
 * journal.c, for a COMMIT that sends the queue (queue.c): entries are
 * addressed by their position in the current transaction's journal.
 */
typedef struct CpJournalWrite
{
	CpJournalAction action;
	const char *checkpoint;
	const char *project_id;		/* NULL when not known */
	const char *permission_id;
} CpJournalWrite;

extern int	cp_journal_position(void);
extern int64 cp_journal_dropped(void);
extern int	cp_journal_applied(int from, int to, CpJournalAction action,
							   CpJournalWrite **writes);
extern void cp_journal_mark_undone(int from, int undo_from);
extern char *cp_journal_left_over(int from, int to, int *count);

/*
 * queue.c: writes applied at COMMIT (apply_writes 'at_commit').  relid
 * and opts->userid say whose options send it; the command that queues it
 * decides which reads see it (cid: those of later commands, as a row's
 * xmin does).
 */
typedef struct CpQueued
{
	CpJournalAction action;
	const CpOptions *opts;		/* what sends it: the table's options and the
								 * role's user mapping when it was queued (a
								 * copy, shared by the entries of one table and
								 * role: COMMIT reads no catalog) */
	Oid			relid;			/* the table written */
	Oid			userid;			/* the role whose user mapping sends it */
	Oid			serverid;
	char	   *checkpoint;
	char	   *project_id;		/* a revoke's: NULL through a table without it */
	char	   *permission_id;	/* a revoke's */
	CommandId	cid;			/* the command that queued it */
	int			nest_level;		/* of the subtransaction that queued it */
	int			cancelled_at;	/* a grant revoked again: the nesting level of
								 * that revoke; 0: live */
	CommandId	cancelled_cid;	/* ...and its command: reads of earlier
								 * commands still see the grant */
} CpQueued;

extern void cp_queue_init(void);
extern bool cp_queue_grant(const CpOptions *opts, Oid relid, const char *checkpoint,
						   const char *project_id);
extern bool cp_queue_has_grant(Oid serverid, const char *checkpoint, const char *project_id);
extern bool cp_queue_revoke(const CpOptions *opts, Oid relid, const char *checkpoint,
							const char *project_id, const char *permission_id);
extern bool cp_queue_cancel_grant(Oid serverid, const char *checkpoint, const char *project_id);
extern bool cp_queue_hides(Oid serverid, const char *checkpoint, const char *permission_id,
						   CommandId curcid);
extern bool cp_queue_revokes_on(Oid serverid, const char *checkpoint);
extern const char *cp_queue_next_grant(Oid serverid, const char *checkpoint,
									   const char *project_id, CommandId curcid, int *pos);
extern bool cp_queue_entry(int *pos, CpJournalWrite *write);

/* commit.c: send the live writes of the queue, or undo what was sent */
extern void cp_commit_queue(const CpQueued *queue, int n);

/*
 * snapshot.c: REPEATABLE READ and SERIALIZABLE read one list per
 * transaction.  cp_snapshot_open gives a reader of a list, kept whole for
 * the transaction the first time it is read (*listed: read now); its rows
 * come newest first (oldest first if ascending), with the transaction's
 * own grants since it was kept (cp_snapshot_granted) and without its
 * revokes (cp_snapshot_revoked).  cp_snapshot_prefetch keeps the lists of
 * several keys, their first pages fetched at once.  (snapshot_read.c
 * reads a list whole for it, through snapshot_int.h.)
 */
typedef struct CpKeptReader CpKeptReader;
extern void cp_snapshot_init(void);
extern bool cp_snapshot_applies(void);
extern CpKeptReader *cp_snapshot_open(const CpOptions *opts, const char *checkpoint,
									  const char *project, bool ascending, CpStats *stats,
									  bool *listed);
extern void cp_snapshot_prefetch(const CpOptions *opts, const char *const *checkpoints,
								 const char *const *projects, int n, CpStats *stats,
								 bool *listed);
extern CpPermission *cp_snapshot_next(CpKeptReader *reader);
extern void cp_snapshot_close(CpKeptReader *reader);
extern bool cp_snapshot_hides_project(const CpOptions *opts, const char *checkpoint,
									  const char *project);
extern void cp_snapshot_granted(const CpOptions *opts, const CpPermission *made, int n);
extern void cp_snapshot_revoked(const char *checkpoint, const char *permission_id);

/* grant.c */
extern int	cp_full_list_requests(const CpOptions *opts, double est_rows);
extern void cp_list_projects(const CpOptions *opts, char **project_ids, int n, bool full,
							 bool *found, CpPermission *newest, CpStrSet *seen,
							 CpStats *stats);
/* The first POST of a batch, sent by cp_grant_many: its entries and result. */
typedef struct CpGrantFirst
{
	CpJournalRef *refs;			/* per project id, in the journal already */
	CpTransfer *post;			/* the POST, and what became of it */
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

/* revocation.c */
extern bool cp_revoke_one(const CpOptions *opts, const char *project_id,
						  const char *permission_id, const char *progress, CpStats *stats);
extern void cp_revoke_many(const CpOptions *opts, char **checkpoints, char **permission_ids,
						   char **project_ids, int n, bool *revoked, int64 *applied,
						   CpStats *stats);

#endif							/* CP_EFFECTS_H */
