/*-------------------------------------------------------------------------
 *
 * grant.c
 *		  Grants exactly once: a POST whose outcome is unknown is followed by
 *		  a list that tells which of its grants landed, and only the missing
 *		  ones are sent again.  Also the list of some projects of a
 *		  checkpoint, which INSERT ... ON CONFLICT DO NOTHING uses to skip
 *		  the projects that already have a permission.
 *
 * The API has no idempotency key, and it may create a second permission
 * for a project that has one.  So a POST is never simply sent again: when
 * the connection dies after the request left, the reply is cut, malformed
 * or does not match the ids sent, or the time-out passes, the projects of
 * the batch are listed.  A project that now has a permission counts as
 * granted, and its newest permission is the one RETURNING shows; a project
 * without one is sent in a new POST, with the same care, at most
 * max_retries times.
 *
 * What a list cannot tell: whether a permission existed before the POST.
 * A project that already had one when a plain INSERT granted it again, and
 * whose POST was lost without being applied, is taken as granted by its
 * older permission (the project has access, as the INSERT asked, and no
 * second permission is made).  INSERT ... ON CONFLICT DO NOTHING lists its
 * projects before it sends them, so there every permission found after a
 * lost POST is a new one.
 *
 * When even that cannot be learned (a cancel, statement_timeout, or an
 * error while listing), the error is raised with a DETAIL naming the
 * projects whose grants may have been applied, and the journal keeps them
 * with the outcome "unknown".
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "utils/memutils.h"

#include "effects.h"

/* Projects an error names whose grants may have been applied. */
#define CP_NAMED_PROJECTS 10

/*
 * Requests one full list of the checkpoint takes, from the number of
 * permissions the table is thought to have (est_rows < 0: unknown).
 */
int
cp_full_list_requests(const CpOptions *opts, double est_rows)
{
	double		rows = est_rows >= 0 ? Max(est_rows, 1.0) : CP_DEFAULT_PERMISSIONS;

	return (int) Min(ceil(rows / Max(opts->page_size, 1)), (double) INT_MAX);
}

/* A project id and its place among those asked for, ordered by the id. */
typedef struct CpProjectSlot
{
	const char *project_id;
	int			index;
} CpProjectSlot;

static int
compare_slots(const void *a, const void *b)
{
	return strcmp(((const CpProjectSlot *) a)->project_id,
				  ((const CpProjectSlot *) b)->project_id);
}

static void
copy_permission(CpPermission *dst, const CpPermission *src, MemoryContext cxt)
{
	dst->id = MemoryContextStrdup(cxt, src->id);
	dst->created_at = src->created_at;
	dst->project_id = MemoryContextStrdup(cxt, src->project_id);
	dst->object = MemoryContextStrdup(cxt, src->object);
}

/* What the replies of cp_list_projects' filtered lists fill in. */
typedef struct CpProjectLists
{
	const CpOptions *opts;
	char	  **project_ids;
	bool	   *found;
	CpPermission *newest;
	MemoryContext callercxt;	/* where newest[] is copied to */
	MemoryContext scratch;		/* one reply's page; reset per reply */
	CpStats    *stats;
} CpProjectLists;

/* The first page (of one row) of one project's list. */
static void
project_list_reply(CpTransfer *t, void *arg)
{
	CpProjectLists *lists = (CpProjectLists *) arg;
	int			i = (int) (intptr_t) t->arg;
	MemoryContext oldcxt = MemoryContextSwitchTo(lists->scratch);
	CpPage		page;
	int			k;

	cp_parse_page(lists->opts, &t->resp, &page);
	if (lists->stats)
		lists->stats->pages++;
	/* an API that ignored the filter must not make us skip a grant */
	for (k = 0; k < page.nitems; k++)
		cp_check_listed_project(&page.items[k], lists->project_ids[i], NULL);
	if (page.nitems > 0)
	{
		lists->found[i] = true;
		copy_permission(&lists->newest[i], &page.items[0], lists->callercxt);
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(lists->scratch);
	pfree(t->resp.body);
	t->resp.body = NULL;
}

/*
 * List what n projects have on opts->checkpoint: found[i] tells whether
 * project_ids[i] has a permission, and newest[i] is its newest one (the
 * API lists the newest first), copied into the caller's memory context.
 *
 * Without full: one filtered list of one row per project, all sent at
 * once (at most max_concurrency in flight).  full: one full list of the
 * checkpoint instead; then every project the list holds is also added to
 * seen, when given, so that a caller can answer later questions without a
 * request.  This is the one place that lists "these projects of this
 * checkpoint".
 */
void
cp_list_projects(const CpOptions *opts, char **project_ids, int n, bool full,
				 bool *found, CpPermission *newest, CpStrSet *seen, CpStats *stats)
{
	MemoryContext callercxt = CurrentMemoryContext;
	MemoryContext cxt;
	int			i;

	memset(found, 0, sizeof(bool) * n);
	if (n == 0)
		return;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "checkpoint_perms project lists",
								ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);

	if (!full)
	{
		CpProjectLists lists = {opts, project_ids, found, newest, callercxt, NULL, stats};
		CpTransfer *t = palloc0(sizeof(CpTransfer) * n);

		lists.scratch = AllocSetContextCreate(cxt, "checkpoint_perms project list page",
											  ALLOCSET_SMALL_SIZES);
		for (i = 0; i < n; i++)
		{
			t[i].req.method = "GET";
			t[i].req.path = cp_list_page_path(cp_list_base_path(opts->checkpoint, project_ids[i],
																false, CP_ORDER_NONE),
											  1, NULL);
			t[i].arg = (void *) (intptr_t) i;
		}
		cp_api_send_many(opts, t, n, project_list_reply, NULL, &lists, stats);
	}
	else
	{
		CpProjectSlot *slots = palloc(sizeof(CpProjectSlot) * n);
		CpLister   *lister;
		CpPermission *perm;

		lister = cp_lister_create(opts, stats, cxt);
		for (i = 0; i < n; i++)
		{
			slots[i].project_id = project_ids[i];
			slots[i].index = i;
		}
		qsort(slots, n, sizeof(CpProjectSlot), compare_slots);
		cp_lister_start(lister, cp_list_base_path(opts->checkpoint, NULL, false,
												   CP_ORDER_NONE), NULL);
		while ((perm = cp_lister_next(lister)) != NULL)
		{
			CpProjectSlot key = {.project_id = perm->project_id};
			CpProjectSlot *hit;

			if (seen)
				(void) cp_strset_add(seen, perm->project_id);
			hit = bsearch(&key, slots, n, sizeof(CpProjectSlot), compare_slots);
			/* newest first: the first one seen is the one to keep */
			if (hit && !found[hit->index])
			{
				found[hit->index] = true;
				copy_permission(&newest[hit->index], perm, callercxt);
			}
		}
	}
	MemoryContextSwitchTo(callercxt);
	MemoryContextDelete(cxt);
}

/* '"proj_a", "proj_b" and 3 more' for the pending projects. */
static char *
name_projects(char **project_ids, const int *pending, int npending)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < npending && i < CP_NAMED_PROJECTS; i++)
		appendStringInfo(&buf, "%s\"%s\"", i == 0 ? "" : ", ",
						 cp_shorten(project_ids[pending[i]]));
	if (npending > CP_NAMED_PROJECTS)
		appendStringInfo(&buf, " and %d more", npending - CP_NAMED_PROJECTS);
	return buf.data;
}

/* Strip the period that ends a sentence, to put it inside another. */
static const char *
without_period(const char *sentence)
{
	size_t		len = strlen(sentence);

	if (len > 0 && sentence[len - 1] == '.')
		return pnstrdup(sentence, len - 1);
	return sentence;
}

/*
 * One batch's grants while they are made (cp_grant_once).  palloc'd, and
 * read through a pointer in a PG_CATCH: what it holds when an error comes
 * is what the error's detail and the journal are settled from.
 */
typedef struct CpGrantRun
{
	const CpOptions *opts;
	char	  **project_ids;
	int			n;
	double		est_rows;
	const char *progress;
	CpStats    *stats;
	CpPermission *result;		/* per project id, once known */
	CpJournalRef *refs;			/* per project id */
	int		   *pending;		/* indexes of the ids not known to be granted */
	int			npending;
	char	  **send;			/* the pending ids, for a request */
	CpTransfer *post;			/* the last POST sent for the pending ids */
	const char *reason;			/* why the last POST's outcome is unknown */
	const char *first_reason;	/* ...and the first's, which had every id */
	bool		all_lost;		/* no POST so far had a whole reply */
	int			resent;			/* POSTs sent after the first */
} CpGrantRun;

static CpGrantRun *
start_run(const CpOptions *opts, char **project_ids, int n, double est_rows,
		  const char *progress, CpStats *stats, const CpGrantFirst *first)
{
	CpGrantRun *run = palloc0(sizeof(CpGrantRun));
	int			i;

	run->opts = opts;
	run->project_ids = project_ids;
	run->n = n;
	run->est_rows = est_rows;
	run->progress = progress;
	run->stats = stats;
	run->result = palloc0(sizeof(CpPermission) * n);
	run->refs = palloc(sizeof(CpJournalRef) * n);
	run->pending = palloc(sizeof(int) * n);
	run->send = palloc(sizeof(char *) * n);
	run->npending = n;
	run->all_lost = true;
	/* until a POST is made, what an error finds: a request not sent */
	run->post = first ? first->post : palloc0(sizeof(CpTransfer));
	for (i = 0; i < n; i++)
	{
		run->pending[i] = i;
		run->send[i] = project_ids[i];
		run->refs[i] = first ? first->refs[i] :
			cp_journal_record(opts, CP_JOURNAL_GRANT, opts->checkpoint, project_ids[i],
							  NULL, CP_OUTCOME_UNKNOWN);
	}
	return run;
}

/* A POST's reply says what it made: every pending grant is applied. */
static void
take_made(CpGrantRun *run, CpPermission *made)
{
	int			i;

	for (i = 0; i < run->npending; i++)
	{
		int			k = run->pending[i];

		run->result[k] = made[i];
		cp_journal_settle(run->opts, run->refs[k], run->post, CP_SAYS_DONE, made[i].id);
	}
	run->npending = 0;
}

/*
 * The last POST was sent and no reply says what it did: list its projects,
 * take those that have a permission as granted, keep the others pending.
 */
static void
learn_from_list(CpGrantRun *run)
{
	bool	   *found = palloc(sizeof(bool) * run->npending);
	CpPermission *newest = palloc0(sizeof(CpPermission) * run->npending);
	int			still = 0;
	int			i;

	ereport(LOG,
			(errmsg("checkpoint_perms: the outcome of a grant request is unknown; listing %d %s to learn it",
					run->npending, run->npending == 1 ? "project" : "projects"),
			 errdetail("%s.", without_period(run->reason))));
	cp_list_projects(run->opts, run->send, run->npending,
					 cp_full_list_requests(run->opts, run->est_rows) < run->npending,
					 found, newest, NULL, run->stats);
	for (i = 0; i < run->npending; i++)
	{
		int			k = run->pending[i];

		/*
		 * A COMMIT that revokes a project's permission and grants the
		 * project again (apply_writes 'at_commit') sends the grant first:
		 * the permission it is about to revoke is not the new one.
		 */
		if (found[i] && run->opts->at_commit &&
			cp_queue_hides(run->opts->serverid, run->opts->checkpoint, newest[i].id,
						   InvalidCommandId))
			found[i] = false;
		if (found[i])
		{
			run->result[k] = newest[i];
			cp_journal_set_outcome(run->opts, run->refs[k], CP_OUTCOME_APPLIED, newest[i].id,
								   run->post->resp.request_id);
		}
		else
		{
			run->pending[still] = k;
			run->send[still++] = run->project_ids[k];
		}
	}
	run->npending = still;
}

/*
 * Send the pending grants, and learn what each POST whose outcome is
 * unknown did, until none is pending or max_retries POSTs were sent again.
 * first: the first POST, sent already by cp_grant_many, or NULL.
 */
static void
grant_rounds(CpGrantRun *run, const CpGrantFirst *first)
{
	for (;;)
	{
		CpPermission *made;

		if (first)
		{
			run->post = first->post;
			made = first->made;
			run->reason = first->reason;
			first = NULL;
		}
		else
		{
			run->post = palloc0(sizeof(CpTransfer));
			cp_api_create_request(run->post, run->opts->checkpoint, run->send, run->npending);
			made = cp_api_create(run->opts, run->post, run->send, run->npending,
								 run->progress, run->stats, &run->reason);
		}
		if (made != NULL)
		{
			take_made(run, made);
			return;
		}
		if (run->first_reason == NULL)
			run->first_reason = run->reason;
		if (run->post->outcome == CP_REPLIED)
			run->all_lost = false;
		learn_from_list(run);
		if (run->npending == 0 || run->resent >= run->opts->max_retries)
			return;
		run->resent++;
	}
}

/*
 * An error stopped the grants: settle each pending one from the last POST
 * (cp_settle: never sent or refused, it did nothing; else unknown, also
 * while its outcome was being learned from a list), and name in the
 * error's detail those that may have been applied.  A cancel or
 * statement_timeout lands here too: copying the error and throwing it
 * again keeps its SQLSTATE (57014) and message; only a detail is added.
 * A terminate is FATAL and never comes here: the backend exits, and the
 * journal's rollback warning names these grants in the server log.
 */
static void
grant_in_doubt(CpGrantRun *run, ErrorData *edata)
{
	int		   *doubtful = palloc(sizeof(int) * Max(run->npending, 1));
	int			ndoubtful = 0;
	const char *doubt;
	int			i;

	for (i = 0; i < run->npending; i++)
	{
		int			k = run->pending[i];

		if (cp_journal_settle(run->opts, run->refs[k], run->post, CP_SAYS_NOTHING, NULL) ==
			CP_OUTCOME_UNKNOWN)
			doubtful[ndoubtful++] = k;
	}
	if (ndoubtful == 0)
		return;
	doubt = psprintf("The %s of %s %s may have been applied.",
					 ndoubtful == 1 ? "grant" : "grants",
					 ndoubtful == 1 ? "project" : "projects",
					 name_projects(run->project_ids, doubtful, ndoubtful));
	edata->detail = edata->detail ?
		psprintf("%s %s", edata->detail, doubt) : pstrdup(doubt);
	/* an error of a recovery list: its request did not end with what the
	 * statement (and the other checkpoints' grants) already applied */
	if (run->progress[0] != '\0' && strstr(edata->detail, run->progress) == NULL)
		edata->detail = psprintf("%s%s", edata->detail, run->progress);
	if (edata->hint == NULL)
		edata->hint = pstrdup("Check with SELECT ... WHERE project_id = '...' before you grant them again; SELECT * FROM checkpoint_perms_journal() lists them.");
}

/*
 * Lists show the pending grants were not applied, after every try.  The
 * error says what the first POST's reply said (it had every project id of
 * the request), and that replies were lost only when none came whole.
 */
CP_NORETURN static void report_not_granted(CpGrantRun *run);

static void
report_not_granted(CpGrantRun *run)
{
	int			npending = run->npending;
	int			n = run->n;
	int			posts = run->resent + 1;
	const char *what = psprintf("%d of %d %s", npending, n, n == 1 ? "project" : "projects");
	int			i;

	for (i = 0; i < npending; i++)
		cp_journal_discard(run->refs[run->pending[i]]);
	/* an API that kept answering 5xx is a server error, as a 5xx to a GET */
	ereport(ERROR,
			(errcode(run->post->outcome == CP_REPLIED && run->post->resp.status >= 500 ?
					 ERRCODE_SYSTEM_ERROR : ERRCODE_CONNECTION_FAILURE),
			 run->all_lost ?
			 errmsg("could not grant %s: every reply to the grant request was lost", what) :
			 errmsg("could not grant %s: no reply to the grant request confirmed %s", what,
					npending == 1 ? "it" : "them"),
			 errdetail("%s. Lists show no permission for %s after %d grant %s: %s not applied.%s%s",
					   without_period(run->first_reason),
					   name_projects(run->project_ids, run->pending, npending),
					   posts, posts == 1 ? "request" : "requests",
					   npending == 1 ? "it was" : "they were",
					   n > npending ? psprintf(" The other %d of the request %s applied.",
											   n - npending, n - npending == 1 ? "was" : "were") : "",
					   run->progress),
			 errhint("Option \"max_retries\" of server \"%s\" (%d) sets how often a grant whose outcome is unknown is sent again.",
					 run->opts->servername, run->opts->max_retries)));
}

/*
 * Grant project_ids[0..n) on opts->checkpoint, each exactly once, and
 * return their permissions in that order (see the top of this file).
 * est_rows is the number of permissions the checkpoint is thought to have
 * (< 0: unknown): it chooses between filtered lists and one full list when
 * the outcome of a POST must be learned.  progress ends the detail of any
 * error (what the statement applied before).
 *
 * Every grant is in the journal from before its POST, as "unknown" until
 * a reply or a list says it was applied, and settled from what became of
 * the POST when an error stops it.
 *
 * first: the outcome of the first POST, sent by cp_grant_many with the
 * journal's entries already made; NULL: send it here.
 */
CpPermission *
cp_grant_once(const CpOptions *opts, char **project_ids, int n, double est_rows,
			  const char *progress, CpStats *stats, const CpGrantFirst *first)
{
	MemoryContext cxt = CurrentMemoryContext;
	CpGrantRun *run = start_run(opts, project_ids, n, est_rows, progress, stats, first);

	PG_TRY();
	{
		grant_rounds(run, first);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		grant_in_doubt(run, edata);
		ReThrowError(edata);
	}
	PG_END_TRY();

	if (run->npending > 0)
		report_not_granted(run);
	/* the lists this transaction keeps show them (REPEATABLE READ) */
	cp_snapshot_granted(opts, run->result, n);
	return run->result;
}

/* What cp_grant_many's reply callback fills in. */
typedef struct CpGrantMany
{
	CpGrantBatch *batches;
	CpGrantFirst *firsts;
	const char *progress;
} CpGrantMany;

/* The reply to a batch's first POST: what it made, or why it cannot say. */
static void
first_post_reply(CpTransfer *t, void *arg)
{
	CpGrantMany *many = (CpGrantMany *) arg;
	int			b = (int) (intptr_t) t->arg;
	CpGrantBatch *batch = &many->batches[b];
	CpGrantFirst *first = &many->firsts[b];
	int			i;

	first->made = cp_read_created(&batch->opts, t, batch->project_ids, batch->n,
								  &first->reason);
	if (first->made)
		for (i = 0; i < batch->n; i++)
			cp_journal_settle(&batch->opts, first->refs[i], t, CP_SAYS_DONE,
							  first->made[i].id);
	if (t->resp.body)
		pfree(t->resp.body);
	t->resp.body = NULL;
}

static const char *
many_progress(void *arg)
{
	return ((CpGrantMany *) arg)->progress;
}

/*
 * An error stopped the first POSTs of cp_grant_many: settle the grants of
 * every batch whose reply did not say what it made from what became of its
 * POST, and say in the error's detail how many were applied and how many
 * may have been.
 */
static void
first_posts_in_doubt(CpGrantMany *many, CpTransfer *t, int nbatches, ErrorData *edata)
{
	int			doubtful = 0;
	int			applied = 0;
	StringInfoData doubt;
	int			b;
	int			i;

	for (b = 0; b < nbatches; b++)
	{
		if (many->firsts[b].made)
		{
			applied += many->batches[b].n;
			continue;
		}
		for (i = 0; i < many->batches[b].n; i++)
			if (cp_journal_settle(&many->batches[b].opts, many->firsts[b].refs[i], &t[b],
								  CP_SAYS_NOTHING, NULL) ==
				CP_OUTCOME_UNKNOWN)
				doubtful++;
	}
	if (doubtful == 0 && applied == 0)
		return;
	initStringInfo(&doubt);
	if (applied > 0)
		appendStringInfo(&doubt, "The grants of %d %s on other checkpoints were applied.",
						 applied, applied == 1 ? "project" : "projects");
	if (doubtful > 0)
		appendStringInfo(&doubt, "%sThe grants of %d %s may have been applied.",
						 applied > 0 ? " " : "",
						 doubtful, doubtful == 1 ? "project" : "projects");
	edata->detail = edata->detail ?
		psprintf("%s %s", edata->detail, doubt.data) : doubt.data;
	if (edata->hint == NULL)
		edata->hint = pstrdup("SELECT * FROM checkpoint_perms_journal() lists them.");
}

/* The first POST of each batch, and the journal's entries of its grants. */
static CpTransfer *
first_posts(CpGrantBatch *batches, int nbatches, CpGrantFirst *firsts)
{
	CpTransfer *t = palloc0(sizeof(CpTransfer) * nbatches);
	int			b;
	int			i;

	for (b = 0; b < nbatches; b++)
	{
		cp_api_create_request(&t[b], batches[b].opts.checkpoint, batches[b].project_ids,
							  batches[b].n);
		t[b].arg = (void *) (intptr_t) b;
		firsts[b].post = &t[b];
	}
	for (b = 0; b < nbatches; b++)
	{
		firsts[b].refs = palloc(sizeof(CpJournalRef) * batches[b].n);
		for (i = 0; i < batches[b].n; i++)
			firsts[b].refs[i] = cp_journal_record(&batches[b].opts, CP_JOURNAL_GRANT,
												  batches[b].opts.checkpoint,
												  batches[b].project_ids[i], NULL,
												  CP_OUTCOME_UNKNOWN);
	}
	return t;
}

/*
 * The progress note of batch b's recovery: the statement's, and the grants
 * of the other checkpoints' batches known applied by then (those before b
 * are done; those after it, if their first POST's reply said so), which an
 * error in b's recovery leaves applied.
 */
static const char *
others_granted(const CpGrantMany *many, int nbatches, int b)
{
	int			applied = 0;
	int			c;

	for (c = 0; c < nbatches; c++)
		if (c < b || (c > b && many->firsts[c].made != NULL))
			applied += many->batches[c].n;
	if (applied == 0)
		return many->progress;
	if (applied == 1)
		return psprintf("%s The grant of 1 project on another checkpoint was applied; it stays applied.",
						many->progress);
	return psprintf("%s The grants of %d projects on other checkpoints were applied; they stay applied.",
					many->progress, applied);
}

/*
 * Grant the batches of several checkpoints (one POST each), exactly once
 * each: their first POSTs go out at once (cp_api_send_many); a batch
 * whose reply was lost is then learned and completed by cp_grant_once, one
 * batch after another.  Each batch's permissions come back in its made.
 */
void
cp_grant_many(CpGrantBatch *batches, int nbatches, double est_rows, const char *progress,
			  CpStats *stats)
{
	MemoryContext cxt = CurrentMemoryContext;
	CpGrantMany *many;
	CpTransfer *t;
	int			b;

	if (nbatches == 1)
	{
		batches[0].made = cp_grant_once(&batches[0].opts, batches[0].project_ids,
										batches[0].n, est_rows, progress, stats, NULL);
		return;
	}

	many = palloc0(sizeof(CpGrantMany));
	many->batches = batches;
	many->firsts = palloc0(sizeof(CpGrantFirst) * nbatches);
	many->progress = progress;
	t = first_posts(batches, nbatches, many->firsts);
	PG_TRY();
	{
		cp_api_send_many(&batches[0].opts, t, nbatches, first_post_reply, many_progress,
						 many, stats);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		first_posts_in_doubt(many, t, nbatches, edata);
		ReThrowError(edata);
	}
	PG_END_TRY();

	for (b = 0; b < nbatches; b++)
		batches[b].made = cp_grant_once(&batches[b].opts, batches[b].project_ids, batches[b].n,
										est_rows, others_granted(many, nbatches, b), stats,
										&many->firsts[b]);
}
