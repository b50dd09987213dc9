/*-------------------------------------------------------------------------
 *
 * queue.c
 *		  Writes applied at COMMIT (apply_writes 'at_commit'): the grants and
 *		  revokes a transaction queues instead of sending them, what its
 *		  reads see of them, and the COMMIT that sends them all, or undoes
 *		  what it sent when any of them fails.
 *
 * The API has no transactions, so this is the closest PostgreSQL's
 * BEGIN ... COMMIT can come:
 *
 * - INSERT and DELETE queue what they would send; nothing reaches the API
 *   before COMMIT, so ROLLBACK (to a savepoint too) drops it and sends
 *   nothing.
 * - Reads see the queue as PostgreSQL's own rows see a transaction's
 *   writes: a queued revoke hides its row, a queued grant is a row (with
 *   no id nor created_at, which the API makes), each from the next command
 *   on (the command id that queued it, as a row's xmin).  A grant revoked
 *   in the same transaction leaves the queue: nothing is sent for either.
 * - At PRE_COMMIT (where an error still aborts the transaction, as
 *   postgres_fdw commits its remote transactions) every grant is sent,
 *   then every revoke, each kind at once per server and role; with the
 *   journal's exactly-once rules (grant.c, revocation.c).  Grants go first
 *   because they are the writes an undo restores exactly.
 * - If any fails, what this COMMIT applied is undone (its grants revoked,
 *   the projects it revoked granted again, with new permission ids: an id
 *   cannot come back), and the error is raised again, so the transaction
 *   aborts and the API is as it was.  What could not be undone is named in
 *   the error's DETAIL and stays in checkpoint_perms_journal().
 *
 * The queue lives in a memory context under TopMemoryContext, made at the
 * first queued write and deleted when the transaction ends.  Its entries
 * are ordered by nesting level (as the journal's), so a subtransaction's
 * are a suffix: ROLLBACK TO SAVEPOINT truncates them.  A hash index finds
 * a project's grant or a permission's revoke (each read row asks); what a
 * scan adds of the queue, one walk per list.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "effects.h"


static MemoryContext queue_cxt = NULL;
static CpQueued *queue = NULL;
static int	nqueue = 0;
static int	capqueue = 0;

static bool
is_live(const CpQueued *q)
{
	return q->cancelled_at == 0;
}

/*
 * Does a read at curcid see this grant?  As PostgreSQL's own rows are
 * seen: queued by an earlier command, and not cancelled, or cancelled by
 * a command the read does not see yet (a cursor opened before the DELETE).
 */
static bool
seen_live(const CpQueued *q, CommandId curcid)
{
	return q->cid < curcid && (is_live(q) || q->cancelled_cid >= curcid);
}

static bool
same_target(const CpQueued *q, Oid serverid, const char *checkpoint)
{
	return q->serverid == serverid && strcmp(q->checkpoint, checkpoint) == 0;
}

/*
 * The index of the queue: the 64-bit hash of an entry's action, server,
 * checkpoint and project (a grant) or permission (a revoke), to the
 * position of the last entry with it.  One grant of a project is live at
 * a time, and always the last (a grant is queued only when none is live),
 * so the last is the one to look at; a revoke is queued once.  A 64-bit
 * hash match decides, as list.c's duplicate check does.  Built at the
 * first lookup, kept up to date by append, and dropped when a rollback to
 * a savepoint truncates the queue.
 */
typedef struct CpQueueSlot
{
	uint64		key;
	int			index;
} CpQueueSlot;

static HTAB *queue_index = NULL;

static uint64
entry_key(CpJournalAction action, Oid serverid, const char *checkpoint, const char *id)
{
	uint64		h = hash_bytes_extended((const unsigned char *) checkpoint, strlen(checkpoint),
										((uint64) serverid << 1) | (uint64) action);

	return hash_combine64(h, hash_bytes_extended((const unsigned char *) id, strlen(id), 0));
}

static const char *
entry_id(const CpQueued *q)
{
	return q->action == CP_JOURNAL_GRANT ? q->project_id : q->permission_id;
}

static void
index_entry(int i)
{
	const CpQueued *q = &queue[i];
	uint64		key = entry_key(q->action, q->serverid, q->checkpoint, entry_id(q));
	CpQueueSlot *slot = hash_search(queue_index, &key, HASH_ENTER, NULL);

	slot->index = i;
}

static void
build_index(void)
{
	HASHCTL		ctl;
	int			i;

	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(CpQueueSlot);
	ctl.hcxt = queue_cxt;
	queue_index = hash_create("checkpoint_perms queue index", Max(nqueue, 64), &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = 0; i < nqueue; i++)
		index_entry(i);
}

/* The last entry of that action, server, checkpoint and id, or NULL. */
static CpQueued *
find_entry(CpJournalAction action, Oid serverid, const char *checkpoint, const char *id)
{
	uint64		key;
	CpQueueSlot *slot;
	CpQueued   *q;

	if (nqueue == 0)
		return NULL;
	if (queue_index == NULL)
		build_index();
	key = entry_key(action, serverid, checkpoint, id);
	slot = hash_search(queue_index, &key, HASH_FIND, NULL);
	if (slot == NULL)
		return NULL;
	q = &queue[slot->index];
	if (q->action != action || !same_target(q, serverid, checkpoint) ||
		strcmp(entry_id(q), id) != 0)
		return NULL;
	return q;
}

/* A string of the queue's, or NULL. */
static char *
queue_strdup(const char *str)
{
	return str ? MemoryContextStrdup(queue_cxt, str) : NULL;
}

/*
 * The options an entry of table relid is sent with: those of an earlier
 * entry of the same table and role, or a copy of opts in the queue's
 * memory (so that a table dropped, or a mapping altered, before COMMIT
 * does not change what the queued writes were made with).
 */
static const CpOptions *
entry_options(const CpOptions *opts, Oid relid)
{
	CpOptions  *copy;
	int			i;

	for (i = nqueue - 1; i >= 0; i--)
		if (queue[i].relid == relid && queue[i].userid == opts->userid)
			return queue[i].opts;
	copy = MemoryContextAlloc(queue_cxt, sizeof(CpOptions));
	*copy = *opts;
	copy->servername = queue_strdup(opts->servername);
	copy->rolename = queue_strdup(opts->rolename);
	copy->base_url = queue_strdup(opts->base_url);
	copy->organization = queue_strdup(opts->organization);
	copy->project = queue_strdup(opts->project);
	copy->ca_bundle = queue_strdup(opts->ca_bundle);
	copy->proxy = queue_strdup(opts->proxy);
	copy->api_key = queue_strdup(opts->api_key);
	copy->checkpoint = NULL;	/* each entry's own */
	return copy;
}

static CpQueued *
append(CpJournalAction action, const CpOptions *opts, Oid relid, const char *checkpoint,
	   const char *project_id, const char *permission_id)
{
	const CpOptions *entry_opts;
	CpQueued   *q;

	if (queue_cxt == NULL)
		queue_cxt = AllocSetContextCreate(TopMemoryContext, "checkpoint_perms queue",
										  ALLOCSET_SMALL_SIZES);
	if (nqueue == capqueue)
	{
		capqueue = Max(capqueue * 2, 64);
		queue = queue ? repalloc(queue, sizeof(CpQueued) * capqueue) :
			MemoryContextAlloc(queue_cxt, sizeof(CpQueued) * capqueue);
	}
	entry_opts = entry_options(opts, relid);
	q = &queue[nqueue++];
	memset(q, 0, sizeof(*q));
	q->action = action;
	q->opts = entry_opts;
	q->relid = relid;
	q->userid = opts->userid;
	q->serverid = opts->serverid;
	q->checkpoint = queue_strdup(checkpoint);
	q->project_id = queue_strdup(project_id);
	q->permission_id = queue_strdup(permission_id);
	q->cid = GetCurrentCommandId(true);
	q->nest_level = GetCurrentTransactionNestLevel();
	if (queue_index)
		index_entry(nqueue - 1);
	return q;
}

/* The live queued grant of a project, or NULL. */
static CpQueued *
find_grant(Oid serverid, const char *checkpoint, const char *project_id)
{
	CpQueued   *q = find_entry(CP_JOURNAL_GRANT, serverid, checkpoint, project_id);

	return q && is_live(q) ? q : NULL;
}

/*
 * Queue a grant of project_id on checkpoint; false when this transaction
 * has queued one already (the caller decides: a conflict or an error).
 */
bool
cp_queue_grant(const CpOptions *opts, Oid relid, const char *checkpoint,
			   const char *project_id)
{
	if (find_grant(opts->serverid, checkpoint, project_id) != NULL)
		return false;
	(void) append(CP_JOURNAL_GRANT, opts, relid, checkpoint, project_id, NULL);
	return true;
}

/* Has this transaction queued a grant of that project? */
bool
cp_queue_has_grant(Oid serverid, const char *checkpoint, const char *project_id)
{
	return find_grant(serverid, checkpoint, project_id) != NULL;
}

/*
 * A DELETE of a queued grant's row (its id is NULL): the grant leaves the
 * queue, and nothing is sent for either.  A rollback of the DELETE's
 * subtransaction puts it back.  False: no such grant is queued.
 */
bool
cp_queue_cancel_grant(Oid serverid, const char *checkpoint, const char *project_id)
{
	CpQueued   *q = find_grant(serverid, checkpoint, project_id);

	if (q == NULL)
		return false;
	q->cancelled_at = GetCurrentTransactionNestLevel();
	q->cancelled_cid = GetCurrentCommandId(true);
	return true;
}

/* The queued revoke of a permission, or NULL. */
static CpQueued *
find_revoke(Oid serverid, const char *checkpoint, const char *permission_id)
{
	return find_entry(CP_JOURNAL_REVOKE, serverid, checkpoint, permission_id);
}

/*
 * Queue the revoke of a permission; false when it is queued already (its
 * row is counted once).  A revoke of an existing permission followed by a
 * grant of the same project are both sent: the project ends with a new
 * permission.
 */
bool
cp_queue_revoke(const CpOptions *opts, Oid relid, const char *checkpoint,
				const char *project_id, const char *permission_id)
{
	if (find_revoke(opts->serverid, checkpoint, permission_id) != NULL)
		return false;
	(void) append(CP_JOURNAL_REVOKE, opts, relid, checkpoint, project_id, permission_id);
	return true;
}

/*
 * Does a revoke that this transaction queued before the command of
 * curcid hide this permission from a read?  InvalidCommandId: any queued
 * revoke does.
 */
bool
cp_queue_hides(Oid serverid, const char *checkpoint, const char *permission_id,
			   CommandId curcid)
{
	CpQueued   *q;

	if (nqueue == 0 || permission_id == NULL)
		return false;
	q = find_revoke(serverid, checkpoint, permission_id);
	return q != NULL && (curcid == InvalidCommandId || q->cid < curcid);
}

/* Has this transaction queued a revoke on that checkpoint? */
bool
cp_queue_revokes_on(Oid serverid, const char *checkpoint)
{
	int			i;

	for (i = 0; i < nqueue; i++)
		if (queue[i].action == CP_JOURNAL_REVOKE && same_target(&queue[i], serverid, checkpoint))
			return true;
	return false;
}

/*
 * The project of the next queued grant that a read of checkpoint (and of
 * project_id, unless NULL) at curcid sees, from *pos on; NULL at the end.
 * *pos starts at 0 and moves past the grant returned.
 */
const char *
cp_queue_next_grant(Oid serverid, const char *checkpoint, const char *project_id,
					CommandId curcid, int *pos)
{
	for (; *pos < nqueue; (*pos)++)
	{
		CpQueued   *q = &queue[*pos];

		if (q->action != CP_JOURNAL_GRANT || !seen_live(q, curcid) ||
			!same_target(q, serverid, checkpoint) ||
			(project_id && strcmp(q->project_id, project_id) != 0))
			continue;
		return queue[(*pos)++].project_id;
	}
	return NULL;
}

/*
 * The next live queued write from *pos on, for checkpoint_perms_journal();
 * false past the end.  *pos starts at 0 and moves past the write returned.
 */
bool
cp_queue_entry(int *pos, CpJournalWrite *write)
{
	for (; *pos < nqueue; (*pos)++)
	{
		const CpQueued *q = &queue[*pos];

		if (!is_live(q))
			continue;
		write->action = q->action;
		write->checkpoint = q->checkpoint;
		write->project_id = q->project_id;
		write->permission_id = q->permission_id;
		(*pos)++;
		return true;
	}
	return false;
}

static bool
queue_has_live(void)
{
	int			i;

	for (i = 0; i < nqueue; i++)
		if (is_live(&queue[i]))
			return true;
	return false;
}

static void
reset_queue(void)
{
	if (queue_cxt)
		MemoryContextDelete(queue_cxt);
	queue_cxt = NULL;
	queue_index = NULL;
	queue = NULL;
	nqueue = capqueue = 0;
}

static void
queue_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (queue_has_live())
				cp_commit_queue(queue, nqueue);
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (queue_has_live())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction with grants or revokes of checkpoint permissions queued for COMMIT"),
						 errdetail("The OpenAI API has no two-phase commit: COMMIT PREPARED could not send them with the guarantee PREPARE TRANSACTION gives."),
						 errhint("COMMIT or ROLLBACK the transaction, or use apply_writes 'now' in a prepared transaction.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			reset_queue();
			break;
		default:
			break;
	}
}

/*
 * A subtransaction ends: on commit its writes become its parent's; on
 * abort they leave the queue, and grants it cancelled are queued again.
 */
static void
queue_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level;
	int			i;

	if ((event != SUBXACT_EVENT_COMMIT_SUB && event != SUBXACT_EVENT_ABORT_SUB) || nqueue == 0)
		return;
	level = GetCurrentTransactionNestLevel();
	for (i = 0; i < nqueue; i++)
		if (queue[i].cancelled_at >= level)
			queue[i].cancelled_at = event == SUBXACT_EVENT_ABORT_SUB ? 0 : level - 1;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		int			before = nqueue;

		while (nqueue > 0 && queue[nqueue - 1].nest_level >= level)
			nqueue--;
		if (nqueue < before && queue_index)
		{
			hash_destroy(queue_index);
			queue_index = NULL;
		}
		return;
	}
	for (i = nqueue; i > 0 && queue[i - 1].nest_level >= level; i--)
		queue[i - 1].nest_level = level - 1;
}

void
cp_queue_init(void)
{
	RegisterXactCallback(queue_xact_callback, NULL);
	RegisterSubXactCallback(queue_subxact_callback, NULL);
}
