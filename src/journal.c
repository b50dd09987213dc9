/*-------------------------------------------------------------------------
 *
 * journal.c
 *		  What this session sent to the API: the rollback warning and
 *		  checkpoint_perms_journal().
 *
 * The API has no transactions: a grant or revoke takes effect when it is
 * sent, and a ROLLBACK cannot undo it.  Every grant and revoke is recorded
 * here as it is sent (with the outcome "unknown" until its reply says
 * otherwise), so that
 *
 * - a transaction or subtransaction that rolls back after sending some
 *   raises a WARNING saying how many stay applied, naming the first few;
 * - checkpoint_perms_journal() lists what the current transaction and the
 *   last one that sent anything did, so that a failed script can be undone
 *   with one more statement.
 *
 * The journal lives in memory contexts under TopMemoryContext, one per
 * transaction, because it must outlive the transaction it describes; it
 * keeps at most CP_JOURNAL_MAX entries per transaction (about 100 bytes
 * each with ids of the API's length) and counts the ones it dropped.  At
 * abort the callbacks only walk the entries already there and build a
 * message: no catalog access, and nothing allocated but the message, in the
 * context the abort runs in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "effects.h"

/* Entries a rollback warning names, per kind (granted, revoked, unknown). */
#define CP_JOURNAL_NAMED 5

typedef struct CpJournalEntry
{
	TimestampTz sent_at;
	char	   *checkpoint;		/* shared by consecutive entries of one */
	char	   *project_id;		/* NULL when not known (a revoke by id) */
	char	   *permission_id;	/* NULL until the API names it */
	int			nest_level;		/* of the subtransaction that sent it; its
								 * parent's once that one ends */
	CpJournalAction action;
	CpJournalOutcome outcome;
	bool		discarded;		/* the request provably did nothing */
	bool		rolled_back;	/* its (sub)transaction rolled back */
} CpJournalEntry;

/*
 * The entries of one transaction.  Their nest levels never decrease along
 * the array (an entry is made at the current level, and the entries of a
 * subtransaction move to its parent's level when it ends), so the entries
 * of the innermost subtransaction are always a suffix.
 */
typedef struct CpJournal
{
	MemoryContext cxt;			/* holds entries and strings; NULL: empty */
	CpJournalEntry *entries;
	int			n;
	int			cap;
	int64		dropped;		/* requests beyond CP_JOURNAL_MAX */
	uint32		generation;		/* tells a stale CpJournalRef */
} CpJournal;

/* The current transaction's journal, and the last one that sent anything. */
static CpJournal current;
static CpJournal previous;
static uint32 generations = 0;

static const char *
action_name(CpJournalAction action)
{
	return action == CP_JOURNAL_GRANT ? "grant" : "revoke";
}

static const char *
outcome_name(CpJournalOutcome outcome)
{
	switch (outcome)
	{
		case CP_OUTCOME_APPLIED:
			return "applied";
		case CP_OUTCOME_NOT_FOUND:
			return "not found";
		case CP_OUTCOME_UNDONE:
			return "undone";
		case CP_OUTCOME_UNKNOWN:
		case CP_OUTCOME_NOT_APPLIED:	/* never listed: discarded */
			break;
	}
	return "unknown";
}

static void
free_journal(CpJournal *journal)
{
	if (journal->cxt)
		MemoryContextDelete(journal->cxt);
	memset(journal, 0, sizeof(*journal));
}

/* Did this journal send anything (that may have done something)? */
static bool
journal_sent_anything(const CpJournal *journal)
{
	int			i;

	if (journal->dropped > 0)
		return true;
	for (i = 0; i < journal->n; i++)
		if (!journal->entries[i].discarded)
			return true;
	return false;
}

static CpJournalEntry *
lookup(CpJournalRef ref)
{
	int64		index = ref & 0xFFFFFFFF;

	if (ref < 0 || (uint32) (ref >> 32) != current.generation || index >= current.n)
		return NULL;
	return &current.entries[index];
}

/* Does this journal hold a revoke of that permission that the API confirmed? */
static bool
journal_revoked(const CpJournal *journal, const char *checkpoint, const char *permission_id)
{
	int			i;

	for (i = journal->n - 1; i >= 0; i--)
	{
		const CpJournalEntry *entry = &journal->entries[i];

		/* an undone revoke's permission is gone all the same: a new one replaced it */
		if (entry->action == CP_JOURNAL_REVOKE && !entry->discarded &&
			(entry->outcome == CP_OUTCOME_APPLIED || entry->outcome == CP_OUTCOME_NOT_FOUND ||
			 entry->outcome == CP_OUTCOME_UNDONE) &&
			entry->permission_id && strcmp(entry->permission_id, permission_id) == 0 &&
			strcmp(entry->checkpoint, checkpoint) == 0)
			return true;
	}
	return false;
}

/*
 * Did this session revoke that permission, as the API confirmed (applied,
 * or already gone)?  For a list whose cursor the API refused (scan.c): a
 * cursor this session broke can be resumed from another, one broken by
 * someone else cannot be told from a bad cursor.  The current
 * transaction's journal and the last one that sent anything answer: a
 * list is read within one transaction (a cursor held past its COMMIT is
 * read whole at the COMMIT), so that covers every revoke that can break
 * it, except those past CP_JOURNAL_MAX in one transaction, which are only
 * counted: then the answer is no, and the list fails as before.  A
 * rolled-back revoke still counts: the API has no transactions.  A linear
 * walk (at most 2 * CP_JOURNAL_MAX entries): it runs only after a refusal,
 * once per row of one page.
 */
bool
cp_session_revoked(const char *checkpoint, const char *permission_id)
{
	return journal_revoked(&current, checkpoint, permission_id) ||
		journal_revoked(&previous, checkpoint, permission_id);
}

/*
 * Record a grant or revoke that is about to be sent (outcome unknown) or
 * was just answered.  Returns a reference for cp_journal_set_outcome and
 * cp_journal_discard, valid until the transaction ends, or -1 when the
 * journal of this transaction is full (the request is counted, not kept).
 * project_id and permission_id may be NULL when not known.
 */
CpJournalRef
cp_journal_record(const CpOptions *opts, CpJournalAction action, const char *checkpoint,
				  const char *project_id, const char *permission_id,
				  CpJournalOutcome outcome)
{
	CpJournalEntry *entry;

	if (current.cxt == NULL)
	{
		current.cxt = AllocSetContextCreate(TopMemoryContext, "checkpoint_perms journal",
											ALLOCSET_SMALL_SIZES);
		current.generation = ++generations;
	}
	if (current.n >= CP_JOURNAL_MAX)
	{
		current.dropped++;
		/* not kept, so not settled: its audit line is written now */
		if (cp_log_writes)
			ereport(LOG,
					(errmsg("checkpoint_perms: %s sent, outcome not logged: role \"%s\", server \"%s\", checkpoint \"%s\", project \"%s\", permission \"%s\"",
							action_name(action), opts->rolename ? opts->rolename : "?",
							opts->servername, cp_shorten(checkpoint),
							project_id ? cp_shorten(project_id) : "?",
							permission_id ? cp_shorten(permission_id) : "?"),
					 errdetail("The journal of this transaction is full (%d entries).",
							   CP_JOURNAL_MAX),
					 errhidestmt(true)));
		return -1;
	}
	if (current.n == current.cap)
	{
		int			cap = Min(Max(current.cap * 2, 64), CP_JOURNAL_MAX);

		current.entries = current.entries ?
			repalloc(current.entries, sizeof(CpJournalEntry) * cap) :
			MemoryContextAlloc(current.cxt, sizeof(CpJournalEntry) * cap);
		current.cap = cap;
	}
	entry = &current.entries[current.n];
	memset(entry, 0, sizeof(*entry));
	entry->sent_at = GetCurrentTimestamp();
	if (current.n > 0 && strcmp(current.entries[current.n - 1].checkpoint, checkpoint) == 0)
		entry->checkpoint = current.entries[current.n - 1].checkpoint;
	else
		entry->checkpoint = MemoryContextStrdup(current.cxt, checkpoint);
	if (project_id)
		entry->project_id = MemoryContextStrdup(current.cxt, project_id);
	if (permission_id)
		entry->permission_id = MemoryContextStrdup(current.cxt, permission_id);
	entry->nest_level = GetCurrentTransactionNestLevel();
	entry->action = action;
	entry->outcome = outcome;
	return ((CpJournalRef) current.generation << 32) | current.n++;
}

/*
 * checkpoint_perms.log_writes: the audit line of a grant or revoke the API
 * applied, or whose outcome is unknown, written where that is settled, so
 * that "what did it grant or revoke, as whom" outlives the session (the
 * journal does not).  Ids were checked for control characters and length
 * before they were sent or taken from a reply; the request id, a header of
 * the reply, is masked for the key like every byte from the network.
 */
static void
audit_line(const CpOptions *opts, const CpJournalEntry *entry, const char *request_id)
{
	ereport(LOG,
			(errmsg("checkpoint_perms: %s %s: role \"%s\", server \"%s\", checkpoint \"%s\", project \"%s\", permission \"%s\", request id \"%s\"",
					action_name(entry->action),
					entry->outcome == CP_OUTCOME_APPLIED ? "applied" : "outcome unknown",
					opts->rolename ? opts->rolename : "?", opts->servername,
					cp_shorten(entry->checkpoint),
					entry->project_id ? cp_shorten(entry->project_id) : "?",
					entry->permission_id ? cp_shorten(entry->permission_id) : "?",
					request_id && request_id[0] ? cp_mask_key(opts, request_id) : "none"),
			 errhidestmt(true)));
}

/*
 * The reply came: set the outcome, and the permission id if given.
 * request_id: of the reply that settled it ("" or NULL: none), for the
 * audit line.
 */
void
cp_journal_set_outcome(const CpOptions *opts, CpJournalRef ref, CpJournalOutcome outcome,
					   const char *permission_id, const char *request_id)
{
	CpJournalEntry *entry = lookup(ref);

	if (entry == NULL)
		return;
	if (outcome == CP_OUTCOME_NOT_APPLIED)
	{
		entry->discarded = true;
		return;
	}
	entry->outcome = outcome;
	if (permission_id && (entry->permission_id == NULL ||
						  strcmp(entry->permission_id, permission_id) != 0))
		entry->permission_id = MemoryContextStrdup(current.cxt, permission_id);
	if (cp_log_writes && outcome != CP_OUTCOME_NOT_FOUND)
		audit_line(opts, entry, request_id);
}

/* The request provably did nothing (refused, never sent): forget it. */
void
cp_journal_discard(CpJournalRef ref)
{
	CpJournalEntry *entry = lookup(ref);

	if (entry)
		entry->discarded = true;
}

/*
 * What a grant or revoke did, from what became of its request: the one
 * place that decides applied, unknown or not applied.  says is what its
 * reply said, once read; when it was not read (no usable reply, or an
 * error came first), the transport's outcome decides:
 *
 * - never sent, or refused with a 4xx (a 429 included): it did nothing,
 *   unless an earlier attempt of it may have been applied (sent, and not
 *   answered with a 4xx: a retry refused says nothing of it);
 * - anything else (sent without a whole reply, abandoned by a cancel, a
 *   5xx, a 3xx, a 2xx whose reading failed for any reason): unknown.
 *
 * No SQLSTATE is looked at: an error nobody listed after the API acted
 * (an encoding error, say) leaves the request unknown, never dropped.
 */
CpJournalOutcome
cp_settle(const CpTransfer *t, CpReplySays says)
{
	bool		earlier = t->resp.earlier_applied;

	switch (says)
	{
		case CP_SAYS_DONE:
			return CP_OUTCOME_APPLIED;
		case CP_SAYS_GONE:
			/* most likely the answer to an earlier attempt whose reply was lost */
			return earlier ? CP_OUTCOME_APPLIED : CP_OUTCOME_NOT_FOUND;
		case CP_SAYS_KEPT:
			return earlier ? CP_OUTCOME_UNKNOWN : CP_OUTCOME_NOT_APPLIED;
		case CP_SAYS_NOTHING:
			break;
	}
	if (earlier)
		return CP_OUTCOME_UNKNOWN;
	if (t->outcome == CP_NOT_SENT)
		return CP_OUTCOME_NOT_APPLIED;
	if (t->outcome == CP_REPLIED && t->resp.status >= 400 && t->resp.status < 500)
		return CP_OUTCOME_NOT_APPLIED;
	return CP_OUTCOME_UNKNOWN;
}

/*
 * Settle a journal entry from its request (cp_settle): set its outcome,
 * with the permission id when given, or discard it when the request did
 * nothing.  Returns the outcome.
 */
CpJournalOutcome
cp_journal_settle(const CpOptions *opts, CpJournalRef ref, const CpTransfer *t,
				  CpReplySays says, const char *permission_id)
{
	CpJournalOutcome outcome = cp_settle(t, says);

	if (outcome == CP_OUTCOME_NOT_APPLIED)
		cp_journal_discard(ref);
	else
		cp_journal_set_outcome(opts, ref, outcome, permission_id, t->resp.request_id);
	return outcome;
}

/*
 * An entry, for a warning: a grant as "(checkpoint, project)", a revoke as
 * "(checkpoint, project, permission)" or, its project not known,
 * "(checkpoint, permission)": the permission id is what tells apart the
 * revokes of one project's permissions, and what a grant again needs.
 */
static void
append_entry(StringInfo buf, const CpJournalEntry *entry)
{
	appendStringInfo(buf, "(%s", cp_shorten(entry->checkpoint));
	if (entry->project_id)
		appendStringInfo(buf, ", %s", cp_shorten(entry->project_id));
	if (entry->action == CP_JOURNAL_REVOKE || entry->project_id == NULL)
		appendStringInfo(buf, ", %s",
						 entry->permission_id ? cp_shorten(entry->permission_id) : "?");
	appendStringInfoChar(buf, ')');
}

/* " Granted: (c, p), (c, p) and 3 more." for the entries of one kind. */
static void
append_named(StringInfo buf, const char *label, const CpJournal *journal, int from,
			 int kind, int count)
{
	int			named = 0;
	int			i;

	if (count == 0)
		return;
	appendStringInfo(buf, " %s: ", label);
	for (i = from; i < journal->n && named < CP_JOURNAL_NAMED; i++)
	{
		const CpJournalEntry *e = &journal->entries[i];

		if (e->discarded)
			continue;
		if (kind == 2 ? e->outcome != CP_OUTCOME_UNKNOWN :
			(e->outcome != CP_OUTCOME_APPLIED || (int) e->action != kind))
			continue;
		if (named > 0)
			appendStringInfoString(buf, ", ");
		if (kind == 2)
			appendStringInfo(buf, "%s ", action_name(e->action));
		append_entry(buf, e);
		named++;
	}
	if (count > named)
		appendStringInfo(buf, " and %d more", count - named);
	appendStringInfoChar(buf, '.');
}

/* "2 grants and 1 revoke", or "" for none. */
static char *
count_phrase(int grants, int revokes)
{
	const char *g = grants == 0 ? NULL :
		psprintf("%d %s", grants, grants == 1 ? "grant" : "grants");
	const char *r = revokes == 0 ? NULL :
		psprintf("%d %s", revokes, revokes == 1 ? "revoke" : "revokes");

	if (g && r)
		return psprintf("%s and %s", g, r);
	return pstrdup(g ? g : r ? r : "");
}

/*
 * Warn that the entries from "from" on stay applied although their
 * (sub)transaction rolls back, and mark them rolled back.  Runs at abort:
 * a message is all it allocates.
 */
static void
warn_rollback(int from, bool subxact)
{
	int			count[2] = {0, 0};	/* applied, by action */
	int			unknown[2] = {0, 0};	/* unknown, by action */
	char	   *applied_phrase;
	char	   *unknown_phrase;
	char	   *what;
	StringInfoData detail;
	int			i;

	for (i = from; i < current.n; i++)
	{
		CpJournalEntry *e = &current.entries[i];

		if (e->discarded)
			continue;
		e->rolled_back = true;
		if (e->outcome == CP_OUTCOME_APPLIED)
			count[e->action]++;
		else if (e->outcome == CP_OUTCOME_UNKNOWN)
			unknown[e->action]++;
	}
	/* a subtransaction cannot tell which of the dropped entries were its own */
	if (count[0] + count[1] + unknown[0] + unknown[1] == 0 &&
		(subxact || current.dropped == 0))
		return;

	applied_phrase = count_phrase(count[0], count[1]);
	unknown_phrase = count_phrase(unknown[0], unknown[1]);
	if (*applied_phrase && *unknown_phrase)
		what = psprintf("%s of checkpoint permissions, nor %s whose outcome is unknown",
						applied_phrase, unknown_phrase);
	else if (*unknown_phrase)
		what = psprintf("%s of checkpoint permissions whose outcome is unknown", unknown_phrase);
	else if (*applied_phrase)
		what = psprintf("%s of checkpoint permissions", applied_phrase);
	else
		what = "grants or revokes of checkpoint permissions";

	initStringInfo(&detail);
	appendStringInfoString(&detail, "The OpenAI API has no transactions: it acted on each request when it was sent.");
	append_named(&detail, "Granted", &current, from, CP_JOURNAL_GRANT, count[0]);
	append_named(&detail, "Revoked", &current, from, CP_JOURNAL_REVOKE, count[1]);
	append_named(&detail, "Outcome unknown", &current, from, 2, unknown[0] + unknown[1]);
	if (current.dropped > 0)
		appendStringInfo(&detail, " %lld more %s of this transaction %s not recorded (the journal keeps %d).",
						 (long long) current.dropped,
						 current.dropped == 1 ? "request" : "requests",
						 current.dropped == 1 ? "was" : "were", CP_JOURNAL_MAX);

	ereport(WARNING,
			(errcode(ERRCODE_WARNING),
			 subxact ?
			 errmsg("rollback to a savepoint does not undo %s", what) :
			 errmsg("rollback does not undo %s", what),
			 errdetail("%s", detail.data),
			 errhint("SELECT * FROM checkpoint_perms_journal() lists them with their permission ids.")));
}

/* The transaction ended: its journal becomes the previous one, if it sent anything. */
static void
end_transaction(void)
{
	if (journal_sent_anything(&current))
	{
		free_journal(&previous);
		previous = current;
		memset(&current, 0, sizeof(current));
	}
	else
		free_journal(&current);
}

static void
journal_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (current.n > 0 || current.dropped > 0)
				warn_rollback(0, false);
			end_transaction();
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			end_transaction();
			break;
		default:
			break;
	}
}

/*
 * A subtransaction ends: on commit its entries become its parent's; on
 * abort (ROLLBACK TO SAVEPOINT, an exception caught by PL/pgSQL) they are
 * warned about first.
 */
static void
journal_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						 SubTransactionId parentSubid, void *arg)
{
	int			level;
	int			from;

	if (event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB)
		return;
	level = GetCurrentTransactionNestLevel();
	from = current.n;
	while (from > 0 && current.entries[from - 1].nest_level >= level)
		from--;
	if (from == current.n)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		warn_rollback(from, true);
	for (; from < current.n; from++)
		current.entries[from].nest_level = level - 1;
}

void
cp_journal_init(void)
{
	RegisterXactCallback(journal_xact_callback, NULL);
	RegisterSubXactCallback(journal_subxact_callback, NULL);
}

static void
put_journal(Tuplestorestate *store, TupleDesc tupdesc, const CpJournal *journal,
			const char *which)
{
	int			i;

	for (i = 0; i < journal->n; i++)
	{
		const CpJournalEntry *e = &journal->entries[i];
		Datum		values[8];
		bool		nulls[8] = {0};

		if (e->discarded)
			continue;
		values[0] = CStringGetTextDatum(which);
		values[1] = TimestampTzGetDatum(e->sent_at);
		values[2] = CStringGetTextDatum(e->checkpoint);
		values[3] = CStringGetTextDatum(action_name(e->action));
		if (e->project_id)
			values[4] = CStringGetTextDatum(e->project_id);
		else
			nulls[4] = true;
		if (e->permission_id)
			values[5] = CStringGetTextDatum(e->permission_id);
		else
			nulls[5] = true;
		values[6] = CStringGetTextDatum(outcome_name(e->outcome));
		values[7] = BoolGetDatum(e->rolled_back);
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	if (journal->dropped > 0)
		ereport(NOTICE,
				(errmsg("the journal of the %s transaction is incomplete", which),
				 errdetail("%lld more %s sent after the first %d %s not recorded.",
						   (long long) journal->dropped,
						   journal->dropped == 1 ? "request" : "requests", CP_JOURNAL_MAX,
						   journal->dropped == 1 ? "was" : "were")));
}

/*
 * The writes queued for COMMIT (queue.c), after what the current
 * transaction sent: outcome "queued", sent_at NULL (not sent yet).
 */
static void
put_queued(Tuplestorestate *store, TupleDesc tupdesc)
{
	CpJournalWrite w;
	int			pos = 0;

	while (cp_queue_entry(&pos, &w))
	{
		Datum		values[8];
		bool		nulls[8] = {0};

		values[0] = CStringGetTextDatum("current");
		nulls[1] = true;
		values[2] = CStringGetTextDatum(w.checkpoint);
		values[3] = CStringGetTextDatum(action_name(w.action));
		if (w.project_id)
			values[4] = CStringGetTextDatum(w.project_id);
		else
			nulls[4] = true;
		if (w.permission_id)
			values[5] = CStringGetTextDatum(w.permission_id);
		else
			nulls[5] = true;
		values[6] = CStringGetTextDatum("queued");
		values[7] = BoolGetDatum(false);
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
}

PG_FUNCTION_INFO_V1(checkpoint_perms_journal);

/*
 * checkpoint_perms_journal(): the grants and revokes this session sent in
 * its current transaction and in the last one before it that sent any,
 * oldest first.
 */
Datum
checkpoint_perms_journal(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Tuplestorestate *store = cp_materialize_result(fcinfo, &tupdesc);

	put_journal(store, tupdesc, &previous, "previous");
	put_journal(store, tupdesc, &current, "current");
	put_queued(store, tupdesc);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * A COMMIT that sends the queue (queue.c)
 * ---------------------------------------------------------------------
 */

/* The position of the next entry of the current transaction. */
int
cp_journal_position(void)
{
	return current.n;
}

/* Requests of the current transaction past CP_JOURNAL_MAX: counted, not kept. */
int64
cp_journal_dropped(void)
{
	return current.dropped;
}

/*
 * The entries in [from, to) of one action that the API applied: what a
 * failed COMMIT must undo.  Returns how many, in *writes (palloc'd; the
 * strings are the journal's, valid until the transaction ends).
 */
int
cp_journal_applied(int from, int to, CpJournalAction action, CpJournalWrite **writes)
{
	int			n = 0;
	int			i;

	*writes = palloc(sizeof(CpJournalWrite) * Max(to - from, 1));
	for (i = from; i < to && i < current.n; i++)
	{
		const CpJournalEntry *e = &current.entries[i];

		if (e->discarded || e->action != action || e->outcome != CP_OUTCOME_APPLIED)
			continue;
		(*writes)[n].action = e->action;
		(*writes)[n].checkpoint = e->checkpoint;
		(*writes)[n].project_id = e->project_id;
		(*writes)[n++].permission_id = e->permission_id;
	}
	return n;
}

/* The applied entry in [from, to) that an undo entry undid, or NULL. */
static CpJournalEntry *
undone_by(const CpJournalEntry *undo, int from, int to)
{
	int			i;

	for (i = from; i < to; i++)
	{
		CpJournalEntry *e = &current.entries[i];

		if (e->discarded || e->outcome != CP_OUTCOME_APPLIED || e->action == undo->action ||
			strcmp(e->checkpoint, undo->checkpoint) != 0)
			continue;
		/* a grant is undone by the revoke of its permission */
		if (undo->action == CP_JOURNAL_REVOKE && e->permission_id && undo->permission_id &&
			strcmp(e->permission_id, undo->permission_id) == 0)
			return e;
		/* a revoke by a grant of its project again */
		if (undo->action == CP_JOURNAL_GRANT && e->project_id && undo->project_id &&
			strcmp(e->project_id, undo->project_id) == 0)
			return e;
	}
	return NULL;
}

/*
 * A failed COMMIT sent the entries in [from, undo_from) and then the undo
 * requests from undo_from on: each undo the API confirmed (applied, or a
 * revoke of a permission already gone) marks what it undid "undone" and
 * leaves the journal, so that it lists each write of the COMMIT once.  An
 * undo whose outcome is unknown stays, as does what it was to undo.
 */
void
cp_journal_mark_undone(int from, int undo_from)
{
	int			i;

	for (i = undo_from; i < current.n; i++)
	{
		CpJournalEntry *undo = &current.entries[i];
		CpJournalEntry *e;

		if (undo->discarded ||
			(undo->outcome != CP_OUTCOME_APPLIED && undo->outcome != CP_OUTCOME_NOT_FOUND))
			continue;
		e = undone_by(undo, from, undo_from);
		if (e == NULL)
			continue;
		e->outcome = CP_OUTCOME_UNDONE;
		undo->discarded = true;
	}
}

/*
 * What stays of the entries in [from, to) after an undo: applied (the
 * undo failed or could not be made) or unknown.  "grant (c, p), revoke
 * (c, p, id) and 3 more", and their number in *count; "" for none.
 */
char *
cp_journal_left_over(int from, int to, int *count)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	*count = 0;
	for (i = from; i < to && i < current.n; i++)
	{
		const CpJournalEntry *e = &current.entries[i];

		if (e->discarded || (e->outcome != CP_OUTCOME_APPLIED && e->outcome != CP_OUTCOME_UNKNOWN))
			continue;
		if ((*count)++ >= CP_JOURNAL_NAMED)
			continue;
		appendStringInfo(&buf, "%s%s %s", *count > 1 ? ", " : "", action_name(e->action),
						 e->outcome == CP_OUTCOME_UNKNOWN ? "of unknown outcome " : "");
		append_entry(&buf, e);
	}
	if (*count > CP_JOURNAL_NAMED)
		appendStringInfo(&buf, " and %d more", *count - CP_JOURNAL_NAMED);
	return buf.data;
}

/*
 * " Earlier requests of this statement already revoked N permissions; they
 * stay applied.", to end the detail of an error mid-statement; "" before
 * anything was applied.
 */
const char *
cp_progress_note(bool revoke, int64 applied)
{
	if (applied == 0)
		return "";
	return psprintf(" Earlier requests of this statement already %s " INT64_FORMAT " %s; they stay applied.",
					revoke ? "revoked" : "granted", applied,
					applied == 1 ? "permission" : "permissions");
}
