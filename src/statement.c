/*-------------------------------------------------------------------------
 *
 * statement.c
 *		  What one statement has written, so that its scans see the list as
 *		  it was before its first write.
 *
 * The API has no snapshots.  Two rules give a statement PostgreSQL's view
 * all the same:
 *
 * - In a statement that writes, a scan reads its whole list before it
 *   returns its first row (scan.c), so a grant or revoke sent for that
 *   row cannot change what the rest of the list holds, nor invalidate the
 *   cursor of the next page: a strict API refuses a revoked id as "after".
 *
 * - A scan that starts after the statement's first write (a CTE read
 *   after the CTE that grants, a parameterized rescan) skips the
 *   permissions that the statement itself created.  The ones it revoked
 *   are gone, as rows deleted by a concurrent transaction would be.
 *
 * The state of a statement hangs off its EState, which the ModifyTable
 * and every scan of the statement (CTEs and subplans included) share, and
 * it is dropped with the EState's memory.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "nodes/execnodes.h"
#include "nodes/plannodes.h"
#include "utils/memutils.h"

#include "effects.h"

struct CpStatement
{
	EState	   *estate;
	CpStrSet   *granted;		/* the permissions it created: grant_key() */
	MemoryContextCallback on_free;
	struct CpStatement *next;
};

/* The statements being executed in this backend (nested: functions). */
static CpStatement *statements = NULL;

static void
forget_statement(void *arg)
{
	CpStatement *stmt = (CpStatement *) arg;
	CpStatement **p;

	for (p = &statements; *p != NULL; p = &(*p)->next)
	{
		if (*p == stmt)
		{
			*p = stmt->next;
			break;
		}
	}
}

static CpStatement *
find_statement(EState *estate)
{
	CpStatement *stmt;

	for (stmt = statements; stmt != NULL; stmt = stmt->next)
		if (stmt->estate == estate)
			return stmt;
	return NULL;
}

/* The state of estate's statement, made on first use. */
CpStatement *
cp_statement(EState *estate)
{
	CpStatement *stmt = find_statement(estate);

	if (stmt == NULL)
	{
		stmt = MemoryContextAllocZero(estate->es_query_cxt, sizeof(CpStatement));
		stmt->estate = estate;
		stmt->on_free.func = forget_statement;
		stmt->on_free.arg = stmt;
		MemoryContextRegisterResetCallback(estate->es_query_cxt, &stmt->on_free);
		stmt->next = statements;
		statements = stmt;
	}
	return stmt;
}

/*
 * Does the statement write anything?  Then its scans read their whole list
 * first.  Any write counts, not only one into a checkpoint_perms table: a
 * row routed into a foreign partition, or a trigger on a local table, can
 * grant or revoke too.
 */
bool
cp_statement_writes(EState *estate)
{
	PlannedStmt *plan = estate->es_plannedstmt;

	return plan != NULL && (plan->commandType != CMD_SELECT || plan->hasModifyingCTE);
}

/*
 * A permission's key in the set: its checkpoint and its id, the length of
 * the first in front so that no pair of strings can spell another pair.
 */
static char *
grant_key(const char *checkpoint, const char *permission_id)
{
	return psprintf("%zu:%s%s", strlen(checkpoint), checkpoint, permission_id);
}

/* Remember a permission the statement created. */
void
cp_statement_granted(CpStatement *stmt, const char *checkpoint, const char *permission_id)
{
	char	   *key = grant_key(checkpoint, permission_id);

	if (stmt->granted == NULL)
		stmt->granted = cp_strset_create(stmt->estate->es_query_cxt);
	(void) cp_strset_add(stmt->granted, key);
	pfree(key);
}

/* Did the statement itself create this permission? */
bool
cp_statement_is_own_grant(const CpStatement *stmt, const char *checkpoint,
						  const char *permission_id)
{
	char	   *key;
	bool		found;

	if (stmt == NULL || stmt->granted == NULL)
		return false;
	key = grant_key(checkpoint, permission_id);
	found = cp_strset_contains(stmt->granted, key);
	pfree(key);
	return found;
}

/* How many permissions the statement has granted (stmt may be NULL). */
int64
cp_statement_grants(const CpStatement *stmt)
{
	if (stmt == NULL || stmt->granted == NULL)
		return 0;
	return cp_strset_count(stmt->granted);
}
