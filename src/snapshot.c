/*-------------------------------------------------------------------------
 *
 * snapshot.c
 *		  REPEATABLE READ and SERIALIZABLE: one list per transaction.  The
 *		  lists a transaction keeps, their readers with its own writes
 *		  shown, and their end with it; snapshot_read.c reads a list whole
 *		  to be kept.
 *
 * The API has no snapshots, so two reads of one list can differ: another
 * session granted or revoked in between.  A transaction whose isolation
 * level keeps one snapshot for all its statements (IsolationUsesXactSnapshot)
 * gets the next best thing: the first time it reads a list, the list is
 * read whole and kept until the transaction ends, and every later read of
 * it in the transaction is served from what was kept, without a request.
 *
 * What is kept, and its key.  A list is what the API can send: the whole
 * list of a checkpoint, or of one project of it (?project_id=), read
 * through one user mapping.  The key is (user mapping, checkpoint, project
 * or none): two requests that can return different rows never share an
 * entry, and nothing else tells them apart.  Order, created_at bounds and
 * LIMIT are not in the key: a list is kept whole, newest first, and those
 * are applied when it is read (scan.c), so ORDER BY created_at ASC, DESC,
 * a bound or a LIMIT all read the same rows.  A list is read to its end
 * before the scan returns a row of it (from both ends at once, by
 * snapshot_read.c), and entered only then: a scan that stops early (a
 * LIMIT, a cursor closed before its end) or fails leaves no partial entry.
 *
 * One answer under every plan.  A project's list is served from the
 * checkpoint's whole list once that is kept; and a whole list read after
 * some of its projects' lists were kept holds those projects' rows as they
 * were kept (and the API's rows of the others), not as the API lists them
 * now.  So each project's rows are fixed by the first read that covered
 * them, and a plan that sends project_id = x answers as one that filters
 * the whole list here.
 *
 * The transaction's own writes.  A permission it granted after a list was
 * kept appears in that list when read (cp_snapshot_granted: its real id and
 * created_at, in order), and one it revoked, or found already gone, is
 * hidden (cp_snapshot_revoked), as a fresh read would show them.  Grants
 * are numbered: a list remembers how many had been made when it was read,
 * which it holds already.  (Writes queued for the COMMIT can be added and
 * hidden the same way: what a reader adds is a sorted array, what it hides
 * a set.)
 *
 * Storage.  A small list (its rows up to 16 kB) is an array, a larger one
 * a tuplestore of (id, created_at, project_id, object), up to work_mem in
 * memory, then a temporary file, in a memory context under
 * TopTransactionContext; its file belongs to the top
 * transaction's resource owner, so that it outlives a subtransaction: a
 * kept list is a true read of the API, so ROLLBACK TO SAVEPOINT keeps it.
 * Random access: an ascending read reads it backwards, and every reader has
 * a read pointer of its own.  All of it goes when the transaction ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/tupdesc.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/tuplestore.h"

#include "effects.h"
#include "snapshot_int.h"

/* A kept list's key; the strings belong to the entry. */
typedef struct KeptKey
{
	Oid			umid;
	const char *checkpoint;
	const char *project;		/* NULL: the checkpoint's whole list */
} KeptKey;

/*
 * A kept list's rows, newest first: a small list in an array (a tuplestore
 * takes 16 kB at least, and a nested loop keeps a list per outer row), one
 * of more than SMALL_LIST_BYTES in a tuplestore.
 */
#define SMALL_LIST_BYTES 16384

typedef struct KeptRows
{
	CpPermission *array;		/* in kept.cxt; NULL once in store */
	int64		nalloc;
	Size		bytes;			/* the array's rows, roughly */
	Tuplestorestate *store;		/* NULL while in array */
	int64		nrows;
} KeptRows;

typedef struct KeptList
{
	KeptKey		key;			/* first: the hash key */
	Oid			serverid;
	KeptRows	rows;
	int			grants_at;		/* own grants made before it was read */
	int		   *free_ptrs;		/* read pointers no reader holds */
	int			nfree;
	/* a whole list's projects as it shows them now (cp_snapshot_hides_project) */
	MemoryContext shown_cxt;
	CpStrSet   *shown;
	uint64		shown_version;	/* writes_version() it was made at */
} KeptList;

/* A permission this transaction granted while it kept lists. */
typedef struct OwnGrant
{
	Oid			serverid;
	CpPermission perm;			/* perm.checkpoint set */
} OwnGrant;

/* The columns of a kept list's tuples. */
enum
{
	KEPT_ID, KEPT_CREATED_AT, KEPT_PROJECT, KEPT_OBJECT, KEPT_NATTS
};

/* What the transaction keeps; all of it in cxt, under TopTransactionContext. */
static struct
{
	MemoryContext cxt;
	HTAB	   *lists;
	TupleDesc	desc;
	OwnGrant   *grants;
	int			ngrants;
	int			maxgrants;
	CpStrSet   *revoked;		/* revoked_key(): revoked or found gone */
} kept;

/* Counts transactions that kept lists: a reader closed after its own ended */
static uint64 kept_generation = 0;

static CpKeptReader *open_kept(KeptList *list, const char *project, bool ascending);

/* One read of a kept list (cp_snapshot_open). */
struct CpKeptReader
{
	KeptList   *list;
	uint64		generation;		/* kept_generation when opened */
	const char *project;		/* a project's rows of a whole list, or NULL */
	bool		ascending;
	int			readptr;
	TupleTableSlot *slot;
	int64		index;			/* an array's next row */
	bool		store_done;
	bool		have_next;		/* next holds the store's next row */
	CpPermission next;			/* in next_cxt */
	OwnGrant  **added;			/* own grants to add, in reading order */
	int			nadded;
	int			next_added;
	CpPermission out;			/* the row returned, in out_cxt */
	StringInfoData key;			/* a row's revoked_key() */
	MemoryContext next_cxt;
	MemoryContext out_cxt;
};

static uint32
kept_hash(const void *key, Size keysize)
{
	const KeptKey *k = (const KeptKey *) key;
	uint32		h = murmurhash32(k->umid);

	h = hash_combine(h, string_hash(k->checkpoint, strlen(k->checkpoint) + 1));
	if (k->project)
		h = hash_combine(h, string_hash(k->project, strlen(k->project) + 1));
	return h;
}

static int
kept_match(const void *key1, const void *key2, Size keysize)
{
	const KeptKey *a = (const KeptKey *) key1;
	const KeptKey *b = (const KeptKey *) key2;

	if (a->umid != b->umid || strcmp(a->checkpoint, b->checkpoint) != 0)
		return 1;
	if (a->project == NULL || b->project == NULL)
		return a->project != b->project;
	return strcmp(a->project, b->project);
}

/* Does this transaction read one list per list?  (scan.c asks.) */
bool
cp_snapshot_applies(void)
{
	return IsolationUsesXactSnapshot();
}

/* The transaction's first kept list: its memory and tables. */
static void
kept_init(void)
{
	HASHCTL		ctl;
	MemoryContext oldcxt;

	if (kept.cxt)
		return;
	kept.cxt = AllocSetContextCreate(TopTransactionContext, "checkpoint_perms kept lists",
									 ALLOCSET_DEFAULT_SIZES);
	kept_generation++;
	ctl.keysize = sizeof(KeptKey);
	ctl.entrysize = sizeof(KeptList);
	ctl.hash = kept_hash;
	ctl.match = kept_match;
	ctl.hcxt = kept.cxt;
	kept.lists = hash_create("checkpoint_perms kept lists", 64, &ctl,
							 HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	oldcxt = MemoryContextSwitchTo(kept.cxt);
	kept.desc = CreateTemplateTupleDesc(KEPT_NATTS);
	TupleDescInitEntry(kept.desc, KEPT_ID + 1, "id", TEXTOID, -1, 0);
	TupleDescInitEntry(kept.desc, KEPT_CREATED_AT + 1, "created_at", INT8OID, -1, 0);
	TupleDescInitEntry(kept.desc, KEPT_PROJECT + 1, "project_id", TEXTOID, -1, 0);
	TupleDescInitEntry(kept.desc, KEPT_OBJECT + 1, "object", TEXTOID, -1, 0);
	kept.revoked = cp_strset_create(kept.cxt);
	MemoryContextSwitchTo(oldcxt);
}

/*
 * The transaction ends: close the files (before the resource owner would,
 * with a warning, at COMMIT) and forget the rest, which goes with
 * TopTransactionContext.
 */
static void
end_transaction(bool commit)
{
	if (kept.cxt == NULL)
		return;
	if (commit)
	{
		HASH_SEQ_STATUS status;
		KeptList   *list;

		hash_seq_init(&status, kept.lists);
		while ((list = hash_seq_search(&status)) != NULL)
			if (list->rows.store)
				tuplestore_end(list->rows.store);
	}
	memset(&kept, 0, sizeof(kept));
}

static void
snapshot_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_PREPARE:
			end_transaction(true);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* the resource owner closes the files, the memory goes */
			end_transaction(false);
			break;
		default:
			break;
	}
}

void
cp_snapshot_init(void)
{
	RegisterXactCallback(snapshot_xact_callback, NULL);
}

/* The key of a revoke in kept.revoked, into buf. */
static const char *
revoked_key(StringInfo buf, const char *checkpoint, const char *permission_id)
{
	resetStringInfo(buf);
	appendStringInfo(buf, "%s\n%s", checkpoint, permission_id);
	return buf->data;
}

/*
 * This transaction granted made[0..n) on opts->checkpoint: the lists it
 * kept before show them.  Only while it keeps lists: a list read later
 * holds them already.
 */
void
cp_snapshot_granted(const CpOptions *opts, const CpPermission *made, int n)
{
	MemoryContext oldcxt;
	int			i;

	if (kept.cxt == NULL || n <= 0)
		return;
	oldcxt = MemoryContextSwitchTo(kept.cxt);
	if (kept.ngrants + n > kept.maxgrants)
	{
		kept.maxgrants = Max(kept.maxgrants * 2, kept.ngrants + n + 16);
		kept.grants = kept.grants ? repalloc(kept.grants, sizeof(OwnGrant) * kept.maxgrants) :
			palloc(sizeof(OwnGrant) * kept.maxgrants);
	}
	for (i = 0; i < n; i++)
	{
		OwnGrant   *g = &kept.grants[kept.ngrants++];

		g->serverid = opts->serverid;
		g->perm.checkpoint = pstrdup(opts->checkpoint);
		g->perm.id = pstrdup(made[i].id);
		g->perm.created_at = made[i].created_at;
		g->perm.project_id = pstrdup(made[i].project_id);
		g->perm.object = pstrdup(made[i].object ? made[i].object : "checkpoint.permission");
	}
	MemoryContextSwitchTo(oldcxt);
}

/*
 * This transaction revoked permission_id of checkpoint, or learned it was
 * gone (a 404): no kept list shows it from now on.
 */
void
cp_snapshot_revoked(const char *checkpoint, const char *permission_id)
{
	StringInfoData buf;

	if (kept.cxt == NULL)
		return;
	initStringInfo(&buf);
	cp_strset_add(kept.revoked, revoked_key(&buf, checkpoint, permission_id));
	pfree(buf.data);
}

/* ---------------------------------------------------------------------
 * Keeping a list: its rows in the transaction's memory, as snapshot_read.c
 * reads them
 * ---------------------------------------------------------------------
 */

/* A permission into a store of kept.desc's rows; rowcxt is reset for each. */
void
cp_kept_store_put(Tuplestorestate *store, const CpPermission *perm, MemoryContext rowcxt)
{
	Datum		values[KEPT_NATTS];
	bool		nulls[KEPT_NATTS] = {false, false, false, false};
	MemoryContext oldcxt;

	MemoryContextReset(rowcxt);
	oldcxt = MemoryContextSwitchTo(rowcxt);
	values[KEPT_ID] = CStringGetTextDatum(perm->id);
	values[KEPT_CREATED_AT] = Int64GetDatum(perm->created_at);
	values[KEPT_PROJECT] = CStringGetTextDatum(perm->project_id);
	values[KEPT_OBJECT] = CStringGetTextDatum(perm->object ? perm->object :
											  "checkpoint.permission");
	MemoryContextSwitchTo(oldcxt);
	tuplestore_putvalues(store, kept.desc, values, nulls);
}

/* A row of a store of kept.desc's rows as a permission, in CurrentMemoryContext. */
void
cp_kept_slot_permission(TupleTableSlot *slot, CpPermission *perm)
{
	bool		isnull;

	perm->id = TextDatumGetCString(slot_getattr(slot, KEPT_ID + 1, &isnull));
	perm->created_at = DatumGetInt64(slot_getattr(slot, KEPT_CREATED_AT + 1, &isnull));
	perm->project_id = TextDatumGetCString(slot_getattr(slot, KEPT_PROJECT + 1, &isnull));
	perm->object = TextDatumGetCString(slot_getattr(slot, KEPT_OBJECT + 1, &isnull));
}

/* A slot for a row of a store of kept.desc's rows, in CurrentMemoryContext. */
TupleTableSlot *
cp_kept_slot(void)
{
	return MakeSingleTupleTableSlot(kept.desc, &TTSOpsMinimalTuple);
}

/* A tuplestore for a kept list, its file the top transaction's. */
static Tuplestorestate *
kept_store(void)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(kept.cxt);
	ResourceOwner owner = CurrentResourceOwner;
	Tuplestorestate *store;

	/* the store makes its file for the resource owner current now */
	CurrentResourceOwner = TopTransactionResourceOwner;
	store = tuplestore_begin_heap(true, false, work_mem);
	CurrentResourceOwner = owner;
	MemoryContextSwitchTo(oldcxt);
	return store;
}

/* The array's rows, grown past SMALL_LIST_BYTES, into a tuplestore. */
static void
rows_to_store(KeptRows *rows, MemoryContext rowcxt)
{
	int64		i;

	rows->store = kept_store();
	for (i = 0; i < rows->nrows; i++)
	{
		cp_kept_store_put(rows->store, &rows->array[i], rowcxt);
		pfree(rows->array[i].id);
		pfree(rows->array[i].project_id);
		pfree(rows->array[i].object);
	}
	if (rows->array)
		pfree(rows->array);
	rows->array = NULL;
}

/* Add a permission to a kept list's rows. */
static void
kept_put(KeptRows *rows, const CpPermission *perm, MemoryContext rowcxt)
{
	const char *object = perm->object ? perm->object : "checkpoint.permission";
	CpPermission *row;

	if (rows->store == NULL &&
		rows->bytes + sizeof(CpPermission) + strlen(perm->id) + strlen(perm->project_id) +
		strlen(object) + 3 > SMALL_LIST_BYTES)
		rows_to_store(rows, rowcxt);
	rows->nrows++;
	if (rows->store)
	{
		cp_kept_store_put(rows->store, perm, rowcxt);
		return;
	}
	if (rows->nrows > rows->nalloc)
	{
		rows->nalloc = Max(8, rows->nalloc * 2);
		rows->array = rows->array ?
			repalloc(rows->array, sizeof(CpPermission) * rows->nalloc) :
			MemoryContextAlloc(kept.cxt, sizeof(CpPermission) * rows->nalloc);
	}
	row = &rows->array[rows->nrows - 1];
	row->checkpoint = NULL;
	row->id = MemoryContextStrdup(kept.cxt, perm->id);
	row->created_at = perm->created_at;
	row->project_id = MemoryContextStrdup(kept.cxt, perm->project_id);
	row->object = MemoryContextStrdup(kept.cxt, object);
	rows->bytes += sizeof(CpPermission) + strlen(row->id) + strlen(row->project_id) +
		strlen(object) + 3;
}

/* A list read half way: what it holds goes. */
static void
kept_discard(KeptRows *rows)
{
	int64		i;

	if (rows->store)
		tuplestore_end(rows->store);
	for (i = 0; rows->array && i < rows->nrows; i++)
	{
		pfree(rows->array[i].id);
		pfree(rows->array[i].project_id);
		pfree(rows->array[i].object);
	}
	if (rows->array)
		pfree(rows->array);
}

static int
compare_newest_first(const void *a, const void *b)
{
	int64		ta = ((const CpPermission *) a)->created_at;
	int64		tb = ((const CpPermission *) b)->created_at;

	return ta > tb ? -1 : ta < tb ? 1 : 0;
}

/*
 * A whole list being read into a kept list's store, newest first; the
 * rows of the projects whose lists were kept before come from those lists
 * (fixed, newest first), merged in by created_at.
 */
struct CpKeptFill
{
	KeptRows	rows;
	CpStrSet   *projects;		/* the projects of fixed */
	CpPermission *fixed;
	int			nfixed;
	int			next_fixed;
	MemoryContext rowcxt;
};

/* The next row, newest first, of the API's list (snapshot_read.c). */
void
cp_kept_fill_put(CpKeptFill *fill, const CpPermission *perm)
{
	if (cp_strset_contains(fill->projects, perm->project_id))
		return;
	for (; fill->next_fixed < fill->nfixed &&
		 fill->fixed[fill->next_fixed].created_at > perm->created_at; fill->next_fixed++)
		kept_put(&fill->rows, &fill->fixed[fill->next_fixed], fill->rowcxt);
	kept_put(&fill->rows, perm, fill->rowcxt);
}

static void
fill_finish(CpKeptFill *fill)
{
	for (; fill->next_fixed < fill->nfixed; fill->next_fixed++)
		kept_put(&fill->rows, &fill->fixed[fill->next_fixed], fill->rowcxt);
}

/*
 * For a whole list: the rows of its projects whose lists are kept already,
 * as those lists read now, newest first, and the set of those projects.
 */
static void
fixed_rows(const KeptKey *key, CpKeptFill *fill)
{
	HASH_SEQ_STATUS status;
	KeptList   *list;
	int			max = 0;

	hash_seq_init(&status, kept.lists);
	while ((list = hash_seq_search(&status)) != NULL)
	{
		CpKeptReader *reader;
		CpPermission *perm;

		if (list->key.project == NULL || list->key.umid != key->umid ||
			strcmp(list->key.checkpoint, key->checkpoint) != 0)
			continue;
		cp_strset_add(fill->projects, list->key.project);
		reader = open_kept(list, NULL, false);
		while ((perm = cp_snapshot_next(reader)) != NULL)
		{
			CpPermission *row;

			if (fill->nfixed >= max)
			{
				max = Max(16, max * 2);
				fill->fixed = fill->fixed ? repalloc(fill->fixed, sizeof(CpPermission) * max) :
					palloc(sizeof(CpPermission) * max);
			}
			row = &fill->fixed[fill->nfixed++];
			row->id = pstrdup(perm->id);
			row->created_at = perm->created_at;
			row->project_id = pstrdup(perm->project_id);
			row->object = pstrdup(perm->object);
		}
		cp_snapshot_close(reader);
	}
	if (fill->nfixed > 1)
		qsort(fill->fixed, fill->nfixed, sizeof(CpPermission), compare_newest_first);
}

/*
 * Read key's list whole and keep it for the transaction; entered only
 * once complete, so that a failure leaves nothing half read.
 */
static KeptList *
keep_list(const CpOptions *opts, const KeptKey *key, CpStats *stats, CpLister *first)
{
	MemoryContext cxt = CurrentMemoryContext;
	MemoryContext work = AllocSetContextCreate(CurrentMemoryContext, "checkpoint_perms list read",
											   ALLOCSET_DEFAULT_SIZES);
	CpKeptFill	fill = {{0}};
	KeptList   *list;
	int			grants_at = kept.ngrants;
	bool		found;

	MemoryContextSwitchTo(work);
	PG_TRY();
	{
		fill.projects = cp_strset_create(work);
		fill.rowcxt = AllocSetContextCreate(work, "checkpoint_perms kept row",
											ALLOCSET_SMALL_SIZES);
		if (key->project == NULL)
			fixed_rows(key, &fill);
		cp_kept_read_list(opts, key->checkpoint, key->project, &fill, stats, first);
		fill_finish(&fill);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		kept_discard(&fill.rows);
		PG_RE_THROW();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	MemoryContextDelete(work);

	list = hash_search(kept.lists, key, HASH_ENTER, &found);
	Assert(!found);
	list->key.checkpoint = MemoryContextStrdup(kept.cxt, key->checkpoint);
	list->key.project = key->project ? MemoryContextStrdup(kept.cxt, key->project) : NULL;
	list->serverid = opts->serverid;
	list->rows = fill.rows;
	list->grants_at = grants_at;
	list->free_ptrs = MemoryContextAlloc(kept.cxt, sizeof(int) * 4);
	list->nfree = 0;
	list->shown_cxt = NULL;
	list->shown = NULL;
	return list;
}

/* ---------------------------------------------------------------------
 * Reading a kept list
 * ---------------------------------------------------------------------
 */

static int
compare_added_newest(const void *a, const void *b)
{
	return compare_newest_first(&(*(OwnGrant *const *) a)->perm,
								&(*(OwnGrant *const *) b)->perm);
}

static int
compare_added_oldest(const void *a, const void *b)
{
	return -compare_added_newest(a, b);
}

/* The own grants a reader of list adds: made since it was read, of its rows. */
static void
find_added(CpKeptReader *reader)
{
	KeptList   *list = reader->list;
	const char *project = list->key.project ? list->key.project : reader->project;
	int			i;

	for (i = list->grants_at; i < kept.ngrants; i++)
	{
		OwnGrant   *g = &kept.grants[i];

		if (g->serverid != list->serverid ||
			strcmp(g->perm.checkpoint, list->key.checkpoint) != 0 ||
			(project && strcmp(g->perm.project_id, project) != 0))
			continue;
		if (reader->added == NULL)
			reader->added = palloc(sizeof(OwnGrant *) * (kept.ngrants - i));
		reader->added[reader->nadded++] = g;
	}
	if (reader->nadded > 1)
		qsort(reader->added, reader->nadded, sizeof(OwnGrant *),
			  reader->ascending ? compare_added_oldest : compare_added_newest);
}

/*
 * A reader of a kept list in CurrentMemoryContext: its rows (only those of
 * project, if given), oldest first if ascending.
 */
static CpKeptReader *
open_kept(KeptList *list, const char *project, bool ascending)
{
	CpKeptReader *reader = palloc0(sizeof(CpKeptReader));

	reader->list = list;
	reader->generation = kept_generation;
	reader->project = project ? pstrdup(project) : NULL;
	reader->ascending = ascending;
	reader->slot = cp_kept_slot();
	reader->next_cxt = AllocSetContextCreate(CurrentMemoryContext, "checkpoint_perms kept row",
											 ALLOCSET_SMALL_SIZES);
	reader->out_cxt = AllocSetContextCreate(CurrentMemoryContext, "checkpoint_perms kept row",
											ALLOCSET_SMALL_SIZES);
	initStringInfo(&reader->key);
	if (list->rows.store)
	{
		Tuplestorestate *store = list->rows.store;

		reader->readptr = list->nfree > 0 ? list->free_ptrs[--list->nfree] :
			tuplestore_alloc_read_pointer(store, EXEC_FLAG_BACKWARD | EXEC_FLAG_REWIND);
		tuplestore_select_read_pointer(store, reader->readptr);
		tuplestore_rescan(store);
		/* oldest first: from past the last row (then a backward read returns it) */
		if (ascending)
			(void) tuplestore_skiptuples(store, list->rows.nrows + 1, true);
	}
	else
		reader->index = ascending ? list->rows.nrows - 1 : 0;
	find_added(reader);
	return reader;
}

/*
 * The kept list that answers key: its own, or for a project's list the
 * checkpoint's whole list if that is kept (*whole set); NULL if none.
 */
static KeptList *
find_list(const KeptKey *key, bool *whole)
{
	KeptList   *list = hash_search(kept.lists, key, HASH_FIND, NULL);

	*whole = false;
	if (list == NULL && key->project)
	{
		KeptKey		all = {key->umid, key->checkpoint, NULL};

		list = hash_search(kept.lists, &all, HASH_FIND, NULL);
		*whole = list != NULL;
	}
	return list;
}

/*
 * Keep the lists of n keys of one user mapping (opts) that are not kept
 * yet, their first pages fetched at once (at most max_concurrency in
 * flight), as a scan of several lists fetches them (an IN list of
 * projects, several checkpoints); each is then read on from both ends.
 * listed[i] says whether key i's list was read now.
 */
void
cp_snapshot_prefetch(const CpOptions *opts, const char *const *checkpoints,
					 const char *const *projects, int n, CpStats *stats, bool *listed)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "checkpoint_perms prefetch",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	KeptKey    *keys = palloc(sizeof(KeptKey) * n);
	CpLister  **firsts = palloc(sizeof(CpLister *) * n);
	int		   *which = palloc(sizeof(int) * n);
	int			m = 0;
	int			i;

	kept_init();
	for (i = 0; i < n; i++)
	{
		KeptKey		key = {opts->umid, checkpoints[i], projects[i]};
		bool		whole;

		listed[i] = false;
		if (find_list(&key, &whole) != NULL)
			continue;
		keys[m] = key;
		which[m] = i;
		firsts[m] = cp_kept_start_newest(opts, key.checkpoint, key.project, stats);
		m++;
	}
	if (m > 1)
		cp_lister_fetch_first(firsts, m);
	for (i = 0; i < m; i++)
	{
		(void) keep_list(opts, &keys[i], stats, m > 1 ? firsts[i] : NULL);
		listed[which[i]] = true;
	}
	MemoryContextSwitchTo(oldcxt);
	MemoryContextDelete(cxt);
}

/* Changes with every own grant or revoke kept lists show. */
static uint64
writes_version(void)
{
	return (uint64) kept.ngrants + cp_strset_count(kept.revoked);
}

/* The projects a whole list shows now, made again after own writes. */
static const CpStrSet *
shown_projects(KeptList *list)
{
	CpKeptReader *reader;
	CpPermission *perm;

	if (list->shown && list->shown_version == writes_version())
		return list->shown;
	if (list->shown_cxt == NULL)
		list->shown_cxt = AllocSetContextCreate(kept.cxt, "checkpoint_perms shown projects",
												ALLOCSET_SMALL_SIZES);
	MemoryContextReset(list->shown_cxt);
	list->shown = cp_strset_create(list->shown_cxt);
	reader = open_kept(list, NULL, false);
	while ((perm = cp_snapshot_next(reader)) != NULL)
		cp_strset_add(list->shown, perm->project_id);
	cp_snapshot_close(reader);
	list->shown_version = writes_version();
	return list->shown;
}

/*
 * Does a list this transaction keeps cover project (its own list, or the
 * checkpoint's whole list) and show no permission of it?  For INSERT ...
 * ON CONFLICT DO NOTHING, which asks the API: a permission the API has and
 * the transaction's list does not show was granted by another session
 * after the list was kept.
 */
bool
cp_snapshot_hides_project(const CpOptions *opts, const char *checkpoint, const char *project)
{
	KeptKey		key = {opts->umid, checkpoint, project};
	KeptList   *list;
	CpKeptReader *reader;
	bool		whole;
	bool		shown;

	if (kept.cxt == NULL || (list = find_list(&key, &whole)) == NULL)
		return false;
	if (whole)
		return !cp_strset_contains(shown_projects(list), project);
	reader = open_kept(list, NULL, false);
	shown = cp_snapshot_next(reader) != NULL;
	cp_snapshot_close(reader);
	return !shown;
}

/*
 * A reader of key's list: the kept one, the whole list's rows of the
 * project if that is kept, or else the list read now (one request per
 * page) and kept.  *listed says whether it was read now.
 */
CpKeptReader *
cp_snapshot_open(const CpOptions *opts, const char *checkpoint, const char *project,
				 bool ascending, CpStats *stats, bool *listed)
{
	KeptKey		key = {opts->umid, checkpoint, project};
	KeptList   *list;
	bool		whole;

	kept_init();
	*listed = false;
	list = find_list(&key, &whole);
	if (list == NULL)
	{
		list = keep_list(opts, &key, stats, NULL);
		*listed = true;
	}
	return open_kept(list, whole ? project : NULL, ascending);
}

/* The store's next row in the reader's order into reader->next, if any. */
static void
read_next(CpKeptReader *reader)
{
	const KeptRows *rows = &reader->list->rows;
	Tuplestorestate *store = rows->store;
	MemoryContext oldcxt;

	reader->have_next = false;
	if (reader->store_done)
		return;
	if (store == NULL)
	{
		/* a small list: its array, which stays as it is */
		if (reader->index < 0 || reader->index >= rows->nrows)
		{
			reader->store_done = true;
			return;
		}
		reader->next = rows->array[reader->index];
		reader->index += reader->ascending ? -1 : 1;
		reader->have_next = true;
		return;
	}
	tuplestore_select_read_pointer(store, reader->readptr);
	if (!tuplestore_gettupleslot(store, !reader->ascending, false, reader->slot))
	{
		reader->store_done = true;
		return;
	}
	MemoryContextReset(reader->next_cxt);
	oldcxt = MemoryContextSwitchTo(reader->next_cxt);
	cp_kept_slot_permission(reader->slot, &reader->next);
	MemoryContextSwitchTo(oldcxt);
	ExecClearTuple(reader->slot);
	reader->have_next = true;
}

/*
 * The next row of a kept list, with the transaction's own grants since it
 * was kept merged in by created_at, its own revokes left out; NULL at the
 * end.  Valid until the next call.
 */
CpPermission *
cp_snapshot_next(CpKeptReader *reader)
{
	const char *checkpoint = reader->list->key.checkpoint;

	for (;;)
	{
		OwnGrant   *added = reader->next_added < reader->nadded ?
			reader->added[reader->next_added] : NULL;
		const CpPermission *row;

		if (!reader->have_next)
			read_next(reader);
		if (reader->have_next &&
			(added == NULL || (reader->ascending ?
							   reader->next.created_at <= added->perm.created_at :
							   reader->next.created_at >= added->perm.created_at)))
		{
			row = &reader->next;
			reader->have_next = false;
		}
		else if (added)
		{
			row = &added->perm;
			reader->next_added++;
		}
		else
			return NULL;
		if (reader->project && strcmp(row->project_id, reader->project) != 0)
			continue;
		if (cp_strset_count(kept.revoked) > 0 &&
			cp_strset_contains(kept.revoked, revoked_key(&reader->key, checkpoint, row->id)))
			continue;
		MemoryContextReset(reader->out_cxt);
		reader->out.checkpoint = checkpoint;
		reader->out.id = MemoryContextStrdup(reader->out_cxt, row->id);
		reader->out.created_at = row->created_at;
		reader->out.project_id = MemoryContextStrdup(reader->out_cxt, row->project_id);
		reader->out.object = MemoryContextStrdup(reader->out_cxt, row->object);
		return &reader->out;
	}
}

/* Done with a reader: its read pointer serves the next one. */
void
cp_snapshot_close(CpKeptReader *reader)
{
	KeptList   *list = reader->list;

	if (kept.cxt && reader->generation == kept_generation && list->rows.store &&
		list->nfree < 4)
		list->free_ptrs[list->nfree++] = reader->readptr;
	ExecDropSingleTupleTableSlot(reader->slot);
	MemoryContextDelete(reader->next_cxt);
	MemoryContextDelete(reader->out_cxt);
	pfree(reader->key.data);
	pfree(reader);
}
