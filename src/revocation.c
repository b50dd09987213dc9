/*-------------------------------------------------------------------------
 *
 * revocation.c
 *		  Revokes as effects: each is in the journal from before its DELETE
 *		  is sent, and settled from what became of that request (cp_settle),
 *		  never from the SQLSTATE of an error.  The row-by-row DELETE
 *		  (modify.c) sends one at a time, the DELETE run whole (revoke.c)
 *		  many at once.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "effects.h"

/* What a DELETE's reply says, in the journal's terms. */
static CpReplySays
says_of(CpDeleteAnswer answer)
{
	switch (answer)
	{
		case CP_DELETE_DELETED:
			return CP_SAYS_DONE;
		case CP_DELETE_GONE:
			return CP_SAYS_GONE;
		case CP_DELETE_KEPT:
			break;
	}
	return CP_SAYS_KEPT;
}

/* Permissions an error names whose revokes may have been applied. */
#define CP_NAMED_REVOKES 10

/*
 * An error stopped revokes, some of which may have been applied (their
 * ids in doubt[0..ndoubt)): say so in its detail, naming them, as a grant's
 * error names its projects.  A cancel keeps its SQLSTATE and message.
 */
static void
name_in_doubt(ErrorData *edata, char **doubt, int ndoubt)
{
	StringInfoData buf;
	int			i;

	if (ndoubt == 0)
		return;
	initStringInfo(&buf);
	appendStringInfo(&buf, "The %s of %s ", ndoubt == 1 ? "revoke" : "revokes",
					 ndoubt == 1 ? "permission" : "permissions");
	for (i = 0; i < ndoubt && i < CP_NAMED_REVOKES; i++)
		appendStringInfo(&buf, "%s\"%s\"", i == 0 ? "" : ", ", cp_shorten(doubt[i]));
	if (ndoubt > CP_NAMED_REVOKES)
		appendStringInfo(&buf, " and %d more", ndoubt - CP_NAMED_REVOKES);
	appendStringInfoString(&buf, " may have been applied.");
	edata->detail = edata->detail ?
		psprintf("%s %s", edata->detail, buf.data) : buf.data;
	if (edata->hint == NULL)
		edata->hint = pstrdup(ndoubt == 1 ?
							  "Check with SELECT ... WHERE id = '...' whether it is gone; SELECT * FROM checkpoint_perms_journal() lists it." :
							  "Check with SELECT ... WHERE id = '...' whether they are gone; SELECT * FROM checkpoint_perms_journal() lists them.");
}

/*
 * Revoke one permission of opts->checkpoint, recorded in the journal from
 * before it is sent: a cancel or a lost reply leaves it there as
 * "unknown".  Returns whether it was revoked now (false: already gone).
 */
bool
cp_revoke_one(const CpOptions *opts, const char *project_id, const char *permission_id,
			  const char *progress, CpStats *stats)
{
	MemoryContext cxt = CurrentMemoryContext;
	/* palloc'd: what the transport records in it is read after an error */
	CpTransfer *t = palloc0(sizeof(CpTransfer));
	CpJournalRef ref;
	CpDeleteAnswer answer;
	CpJournalOutcome outcome;

	cp_api_delete_request(t, opts->checkpoint, permission_id);
	ref = cp_journal_record(opts, CP_JOURNAL_REVOKE, opts->checkpoint, project_id,
							permission_id, CP_OUTCOME_UNKNOWN);
	PG_TRY();
	{
		answer = cp_api_delete(opts, t, permission_id, progress, stats);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		if (cp_journal_settle(opts, ref, t, CP_SAYS_NOTHING, NULL) == CP_OUTCOME_UNKNOWN)
			name_in_doubt(edata, (char **) &permission_id, 1);
		ReThrowError(edata);
	}
	PG_END_TRY();
	outcome = cp_journal_settle(opts, ref, t, says_of(answer), NULL);
	if (outcome == CP_OUTCOME_APPLIED || outcome == CP_OUTCOME_NOT_FOUND)
		cp_snapshot_revoked(opts->checkpoint, permission_id);
	if (outcome == CP_OUTCOME_APPLIED)
		return true;
	/* the API says it kept it: not gone, so not a silent DELETE 0 */
	if (answer == CP_DELETE_KEPT)
		cp_api_report_kept(opts, t, permission_id, 0, progress);
	return false;
}

/* What cp_revoke_many's callbacks share. */
typedef struct CpRevokeBatch
{
	const CpOptions *opts;
	char	  **permission_ids;
	bool	   *revoked;
	int64	   *applied;
	CpJournalRef *refs;			/* the journal's entries of the slice sent */
	bool	   *settled;		/* ...and which of them a reply settled */
	int			start;			/* index of the slice's first id */
	int			kept;			/* the first one the API kept ("deleted": false) */
	int			nkept;			/* ...and how many it kept */
	bool		quiet;			/* no progress note: the caller words its own */
} CpRevokeBatch;

/* One DELETE's reply: settle its entry from what it says. */
static void
revoke_reply(CpTransfer *t, void *arg)
{
	CpRevokeBatch *batch = (CpRevokeBatch *) arg;
	int			i = (int) (intptr_t) t->arg;
	CpDeleteAnswer answer = cp_read_deleted(batch->opts, t, batch->permission_ids[i]);
	CpJournalOutcome outcome = cp_journal_settle(batch->opts,
												 batch->refs[i - batch->start], t,
												 says_of(answer), NULL);

	batch->settled[i - batch->start] = true;
	if (outcome == CP_OUTCOME_APPLIED || outcome == CP_OUTCOME_NOT_FOUND)
		cp_snapshot_revoked(t->req.checkpoint, batch->permission_ids[i]);
	/* the error names the first in the statement's order, whatever ended first */
	if (answer == CP_DELETE_KEPT && (batch->nkept++ == 0 || i < batch->kept))
		batch->kept = i;
	batch->revoked[i] = outcome == CP_OUTCOME_APPLIED;
	if (batch->revoked[i])
		(*batch->applied)++;
	pfree(t->resp.body);
	t->resp.body = NULL;
}

static const char *
revoke_progress(void *arg)
{
	CpRevokeBatch *batch = (CpRevokeBatch *) arg;

	return batch->quiet ? "" : cp_progress_note(true, *batch->applied);
}

/*
 * After an error in a slice of revokes: settle every entry that no reply
 * settled from what became of its request, and name in the error's detail
 * those that may have been applied.
 */
static void
settle_slice(CpRevokeBatch *batch, CpTransfer *t, int count, ErrorData *edata)
{
	char	  **doubt = palloc(sizeof(char *) * count);
	int			ndoubt = 0;
	int			i;

	for (i = 0; i < count; i++)
		if (!batch->settled[i] &&
			cp_journal_settle(batch->opts, batch->refs[i], &t[i], CP_SAYS_NOTHING, NULL) ==
			CP_OUTCOME_UNKNOWN)
			doubt[ndoubt++] = batch->permission_ids[batch->start + i];
	name_in_doubt(edata, doubt, ndoubt);
}

/* Send one slice of cp_revoke_many's revokes, from index start on. */
static void
revoke_slice(const CpOptions *opts, char **checkpoints, char **project_ids,
			 CpRevokeBatch *batch, int start, int count, CpStats *stats)
{
	MemoryContext cxt = CurrentMemoryContext;
	CpTransfer *t = palloc0(sizeof(CpTransfer) * count);
	int			i;

	batch->refs = palloc(sizeof(CpJournalRef) * count);
	batch->settled = palloc0(sizeof(bool) * count);
	batch->start = start;
	/* every id is checked (by its path) before any is in the journal */
	for (i = 0; i < count; i++)
	{
		cp_api_delete_request(&t[i], checkpoints ? checkpoints[start + i] : opts->checkpoint,
							  batch->permission_ids[start + i]);
		t[i].arg = (void *) (intptr_t) (start + i);
	}
	for (i = 0; i < count; i++)
		batch->refs[i] = cp_journal_record(opts, CP_JOURNAL_REVOKE, t[i].req.checkpoint,
										   project_ids ? project_ids[start + i] : NULL,
										   batch->permission_ids[start + i],
										   CP_OUTCOME_UNKNOWN);
	PG_TRY();
	{
		cp_api_send_many(opts, t, count, revoke_reply, revoke_progress, batch, stats);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		settle_slice(batch, t, count, edata);
		ReThrowError(edata);
	}
	PG_END_TRY();
	/* the others of the slice have ended: each is settled */
	if (batch->nkept > 0)
		cp_api_report_kept(opts, &t[batch->kept - start], batch->permission_ids[batch->kept],
						   batch->nkept - 1, revoke_progress(batch));
}

/*
 * DELETE n permissions at once, at most max_concurrency in flight.
 * revoked[i] tells whether permission_ids[i] was revoked now (false: it
 * was already gone); *applied counts the revokes of the statement, for the
 * detail of an error mid-way (NULL: no such detail, the caller words its
 * own, as a COMMIT does).  Each revoke is in the journal before it is
 * sent (project_ids, or NULL when unknown, name their projects there).
 * checkpoints: each permission's, or NULL: all opts->checkpoint's.  Sent
 * in slices, so that a long list of revokes holds a bounded number of
 * transfers.
 */
void
cp_revoke_many(const CpOptions *opts, char **checkpoints, char **permission_ids,
			   char **project_ids, int n, bool *revoked, int64 *applied, CpStats *stats)
{
	int64		counted = 0;
	CpRevokeBatch batch = {opts, permission_ids, revoked, applied ? applied : &counted,
	NULL, NULL, 0, 0, 0, applied == NULL};
	MemoryContext cxt = CurrentMemoryContext;
	int			start;

	for (start = 0; start < n; start += CP_DELETE_SLICE)
	{
		MemoryContext slice = AllocSetContextCreate(cxt, "checkpoint_perms revokes",
													ALLOCSET_DEFAULT_SIZES);

		/* what a slice allocates (paths, replies, headers) goes with it */
		MemoryContextSwitchTo(slice);
		revoke_slice(opts, checkpoints, project_ids, &batch, start,
					 Min(CP_DELETE_SLICE, n - start), stats);
		MemoryContextSwitchTo(cxt);
		MemoryContextDelete(slice);
	}
}
