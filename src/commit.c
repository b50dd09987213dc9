/*-------------------------------------------------------------------------
 *
 * commit.c
 *		  The COMMIT of a transaction that queued writes (queue.c): send
 *		  them, and if any fails, undo what this COMMIT applied before the
 *		  error aborts the transaction.
 *
 * The queued writes go out per server and role (one user mapping, one
 * multi handle): first every group's grants, one POST per checkpoint and
 * batch_size projects, at once (cp_grant_many); then every group's
 * revokes, at most max_concurrency DELETEs in flight (cp_revoke_many).
 * Both record each request in the journal before it is sent and settle it
 * from what became of it, as a statement's writes are.  So when an error
 * stops the COMMIT, the journal says exactly what it applied, and the undo
 * reads it from there:
 *
 * - a grant the API made is revoked by its permission id;
 * - a permission it revoked is replaced by a grant of its project (a new
 *   permission, with a new id: the API cannot bring an id back);
 * - a write whose outcome is unknown cannot be undone (nothing says what
 *   to undo), nor a revoke through a table without a project_id column.
 *
 * Each undo request is in the journal too; one the API confirmed marks
 * what it undid "undone" (cp_journal_mark_undone).  The undo stops at its
 * first error (a second cancel, the API down): what is left is named in
 * the DETAIL of the error the COMMIT raises, which is the error that
 * stopped it, so that its SQLSTATE (a cancel's 57014, the API's own)
 * tells what happened.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "effects.h"

/* The writes of one server and role, and their entries in the journal. */
typedef struct CpCommitGroup
{
	Oid			serverid;
	Oid			userid;
	CpOptions	opts;			/* of the first table written (as queued): the
								 * group's revokes and undo go with these, each
								 * grant with its own table's (batch_size) */
	int			grants_from;	/* journal positions of its grants; -1: not
								 * sent yet */
	int			grants_to;
	int			revokes_from;	/* ...and of its revokes */
	int			revokes_to;
} CpCommitGroup;

/* What a COMMIT sends. */
typedef struct CpCommit
{
	const CpQueued *queue;
	int			n;
	CpCommitGroup *groups;
	int			ngroups;
	int			from;			/* the journal's position before the first */
	int64		dropped;		/* ...and the requests it had not kept */
	CpStats		stats;			/* EXPLAIN never sees them: counted for the
								 * transport, which wants somewhere to count */
} CpCommit;

/* One group per server and role, in the order first written. */
static void
make_groups(CpCommit *commit)
{
	int			i;
	int			g;

	commit->groups = palloc0(sizeof(CpCommitGroup) * commit->n);
	for (i = 0; i < commit->n; i++)
	{
		const CpQueued *q = &commit->queue[i];

		if (q->cancelled_at != 0)
			continue;
		for (g = 0; g < commit->ngroups; g++)
			if (commit->groups[g].serverid == q->serverid &&
				commit->groups[g].userid == q->userid)
				break;
		if (g < commit->ngroups)
			continue;
		commit->groups[g].serverid = q->serverid;
		commit->groups[g].userid = q->userid;
		commit->groups[g].opts = *q->opts;
		commit->ngroups++;
	}
}

static bool
in_group(const CpQueued *q, const CpCommitGroup *group, CpJournalAction action)
{
	return q->cancelled_at == 0 && q->action == action &&
		q->serverid == group->serverid && q->userid == group->userid;
}

/*
 * Batches of writes of one checkpoint each, at most batch_size project ids
 * a batch, from the (checkpoint, project) pairs given.  each[i], unless
 * each is NULL, is the options pair i was queued with (its table's
 * batch_size, page_size, max_pages): a batch holds pairs of one only.
 */
static int
make_batches(const CpOptions *opts, const CpOptions **each, char **checkpoints,
			 char **project_ids, int n, CpGrantBatch *batches)
{
	bool	   *done = palloc0(sizeof(bool) * Max(n, 1));
	int			nbatches = 0;
	int			i;
	int			j;

	for (i = 0; i < n; i++)
	{
		CpGrantBatch *b = NULL;
		const CpOptions *bopts = each ? each[i] : opts;

		if (done[i])
			continue;
		for (j = i; j < n; j++)
		{
			if (done[j] || strcmp(checkpoints[j], checkpoints[i]) != 0 ||
				(each && each[j] != bopts))
				continue;
			if (b == NULL || b->n == bopts->batch_size)
			{
				b = &batches[nbatches++];
				b->opts = *bopts;
				b->opts.checkpoint = checkpoints[i];
				b->project_ids = palloc(sizeof(char *) * bopts->batch_size);
				b->n = 0;
			}
			b->project_ids[b->n++] = project_ids[j];
			done[j] = true;
		}
	}
	return nbatches;
}

/* Grant the (checkpoint, project) pairs given, the batches at once. */
static void
grant_pairs(CpCommit *commit, const CpOptions *opts, const CpOptions **each,
			char **checkpoints, char **project_ids, int n)
{
	CpGrantBatch *batches;
	int			nbatches;

	if (n == 0)
		return;
	batches = palloc0(sizeof(CpGrantBatch) * n);
	nbatches = make_batches(opts, each, checkpoints, project_ids, n, batches);
	cp_grant_many(batches, nbatches, -1, "", &commit->stats);
}

/* Revoke the permissions given, at most max_concurrency at once. */
static void
revoke_ids(CpCommit *commit, const CpOptions *opts, char **checkpoints, char **ids,
		   char **project_ids, int n)
{
	bool	   *revoked = palloc0(sizeof(bool) * Max(n, 1));

	if (n > 0)
		cp_revoke_many(opts, checkpoints, ids, project_ids, n, revoked, NULL, &commit->stats);
}

/* Send one group's queued writes of one action. */
static void
send_group(CpCommit *commit, CpCommitGroup *group, CpJournalAction action)
{
	char	  **checkpoints = palloc(sizeof(char *) * commit->n);
	char	  **projects = palloc(sizeof(char *) * commit->n);
	char	  **ids = palloc(sizeof(char *) * commit->n);
	const CpOptions **each = palloc(sizeof(CpOptions *) * commit->n);
	int			n = 0;
	int			i;

	for (i = 0; i < commit->n; i++)
	{
		const CpQueued *q = &commit->queue[i];

		if (!in_group(q, group, action))
			continue;
		each[n] = q->opts;
		checkpoints[n] = q->checkpoint;
		projects[n] = q->project_id;
		ids[n++] = q->permission_id;
	}
	if (action == CP_JOURNAL_GRANT)
	{
		group->grants_from = cp_journal_position();
		grant_pairs(commit, &group->opts, each, checkpoints, projects, n);
	}
	else
	{
		group->revokes_from = cp_journal_position();
		revoke_ids(commit, &group->opts, checkpoints, ids, projects, n);
	}
}

/*
 * Undo what one group's writes applied: revoke its grants, grant again
 * the projects of its revokes (those whose project is known).
 */
static void
undo_group(CpCommit *commit, const CpCommitGroup *group)
{
	CpJournalWrite *w;
	char	  **checkpoints;
	char	  **projects;
	char	  **ids;
	int			n;
	int			k = 0;
	int			i;

	n = cp_journal_applied(group->grants_from, group->grants_to, CP_JOURNAL_GRANT, &w);
	checkpoints = palloc(sizeof(char *) * Max(n, 1));
	projects = palloc(sizeof(char *) * Max(n, 1));
	ids = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		checkpoints[i] = (char *) w[i].checkpoint;
		projects[i] = (char *) w[i].project_id;
		ids[i] = (char *) w[i].permission_id;
	}
	revoke_ids(commit, &group->opts, checkpoints, ids, projects, n);

	n = cp_journal_applied(group->revokes_from, group->revokes_to, CP_JOURNAL_REVOKE, &w);
	checkpoints = palloc(sizeof(char *) * Max(n, 1));
	projects = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (w[i].project_id == NULL)
			continue;			/* nothing says what to grant again */
		checkpoints[k] = (char *) w[i].checkpoint;
		projects[k++] = (char *) w[i].project_id;
	}
	grant_pairs(commit, &group->opts, NULL, checkpoints, projects, k);
}

/*
 * Undo every group's writes; stop at the first error, whose message is
 * returned (NULL: the undo ran to its end).
 */
static char *
undo_all(CpCommit *commit)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *failure = NULL;
	int			g;

	for (g = 0; g < commit->ngroups && failure == NULL; g++)
	{
		PG_TRY();
		{
			undo_group(commit, &commit->groups[g]);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			failure = edata->message;
		}
		PG_END_TRY();
	}
	return failure;
}

/*
 * The COMMIT failed with edata: undo what it applied, and say in the
 * error's detail what it did and what stays.
 */
static void
undo_commit(CpCommit *commit, ErrorData *edata)
{
	int			undo_from = cp_journal_position();
	char	   *failure;
	char	   *left;
	int			nleft;
	StringInfoData buf;
	int			g;

	/* the writes the error stopped end where it came; those not sent are none */
	for (g = 0; g < commit->ngroups; g++)
	{
		CpCommitGroup *group = &commit->groups[g];

		if (group->grants_from < 0)
			group->grants_from = undo_from;
		if (group->grants_to < 0)
			group->grants_to = undo_from;
		if (group->revokes_from < 0)
			group->revokes_from = undo_from;
		if (group->revokes_to < 0)
			group->revokes_to = undo_from;
	}
	failure = undo_all(commit);
	cp_journal_mark_undone(commit->from, undo_from);
	left = cp_journal_left_over(commit->from, undo_from, &nleft);

	initStringInfo(&buf);
	if (edata->detail)
		appendStringInfo(&buf, "%s ", edata->detail);
	appendStringInfoString(&buf, "COMMIT sent the grants and revokes this transaction queued, and one failed: the transaction rolls back");
	if (nleft == 0)
		appendStringInfoString(&buf, ", and what the COMMIT applied was undone (a revoked permission was granted again with a new id).");
	else
		appendStringInfo(&buf, ", and what the COMMIT applied was undone but for %d %s that stay%s: %s.",
						 nleft, nleft == 1 ? "write" : "writes", nleft == 1 ? "s" : "", left);
	if (failure)
		appendStringInfo(&buf, " The undo stopped at an error: %s.", cp_shorten(failure));
	/* what the journal did not keep, the undo did not see, nor is it named */
	if (cp_journal_dropped() > commit->dropped)
		appendStringInfo(&buf, " " INT64_FORMAT " more requests of this COMMIT and its undo were not recorded (the journal keeps %d a transaction): what they did is not named here.",
						 cp_journal_dropped() - commit->dropped, CP_JOURNAL_MAX);
	/* the hint of the error that stopped it says how to fix that: keep it */
	if (edata->hint)
		appendStringInfoString(&buf, " SELECT * FROM checkpoint_perms_journal() lists each write of the COMMIT.");
	else
		edata->hint = pstrdup("SELECT * FROM checkpoint_perms_journal() lists each write of the COMMIT: applied, undone or unknown.");
	edata->detail = buf.data;
}

/*
 * Send the live writes of the queue (at PRE_COMMIT): every grant first,
 * then every revoke.  An error undoes what was applied and is raised
 * again: the transaction aborts.
 */
void
cp_commit_queue(const CpQueued *queue, int n)
{
	MemoryContext cxt = AllocSetContextCreate(TopTransactionContext, "checkpoint_perms commit",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	CpCommit   *commit = palloc0(sizeof(CpCommit));
	int			g;

	commit->queue = queue;
	commit->n = n;
	make_groups(commit);
	commit->from = cp_journal_position();
	commit->dropped = cp_journal_dropped();
	for (g = 0; g < commit->ngroups; g++)
	{
		commit->groups[g].grants_from = commit->groups[g].grants_to = -1;
		commit->groups[g].revokes_from = commit->groups[g].revokes_to = -1;
	}
	PG_TRY();
	{
		for (g = 0; g < commit->ngroups; g++)
		{
			send_group(commit, &commit->groups[g], CP_JOURNAL_GRANT);
			commit->groups[g].grants_to = cp_journal_position();
		}
		for (g = 0; g < commit->ngroups; g++)
		{
			send_group(commit, &commit->groups[g], CP_JOURNAL_REVOKE);
			commit->groups[g].revokes_to = cp_journal_position();
		}
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		undo_commit(commit, edata);
		ReThrowError(edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
}
