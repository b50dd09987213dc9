/*-------------------------------------------------------------------------
 *
 * strset.c
 *		  A set of strings, compared whole: the project ids a statement has
 *		  granted to, the permission ids it created.
 *
 * A hash alone would make two different ids collide once in a great while
 * and refuse a valid statement; the set keeps a copy of each string and
 * compares it, so a collision only costs a comparison.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"

#include "checkpoint_perms.h"

typedef struct CpStrSetEntry
{
	const char *key;			/* palloc'd in the set's context */
	uint32		hash;
	char		status;			/* used by simplehash */
} CpStrSetEntry;

#define SH_PREFIX		cp_strtab
#define SH_ELEMENT_TYPE CpStrSetEntry
#define SH_KEY_TYPE		const char *
#define SH_KEY			key
#define SH_HASH_KEY(tb, k) hash_bytes((const unsigned char *) (k), (int) strlen(k))
#define SH_EQUAL(tb, a, b) (strcmp((a), (b)) == 0)
#define SH_STORE_HASH
#define SH_GET_HASH(tb, a) ((a)->hash)
#define SH_SCOPE		static inline
#define SH_DECLARE
#define SH_DEFINE
#include "lib/simplehash.h"

struct CpStrSet
{
	MemoryContext cxt;			/* holds the table and the strings */
	cp_strtab_hash *table;
};

/* An empty set whose memory lives in (a child of) parent. */
CpStrSet *
cp_strset_create(MemoryContext parent)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "checkpoint_perms string set",
											  ALLOCSET_SMALL_SIZES);
	CpStrSet   *set = MemoryContextAlloc(cxt, sizeof(CpStrSet));

	set->cxt = cxt;
	set->table = cp_strtab_create(cxt, 16, NULL);
	return set;
}

/* Add str (copied); false if it was there already. */
bool
cp_strset_add(CpStrSet *set, const char *str)
{
	bool		found;
	CpStrSetEntry *entry = cp_strtab_insert(set->table, str, &found);

	if (!found)
		entry->key = MemoryContextStrdup(set->cxt, str);
	return !found;
}

bool
cp_strset_contains(const CpStrSet *set, const char *str)
{
	return set != NULL && cp_strtab_lookup(set->table, str) != NULL;
}

uint32
cp_strset_count(const CpStrSet *set)
{
	return set ? set->table->members : 0;
}
