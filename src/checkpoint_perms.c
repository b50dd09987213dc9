/*-------------------------------------------------------------------------
 *
 * checkpoint_perms.c
 *		  The foreign-data wrapper's handler and what its statements share:
 *		  the transaction callback and EXPLAIN's request lines and counters.
 *
 * The callbacks live by the statement they serve: paths.c (planning a
 * scan), scan.c (SELECT), modify.c (INSERT, COPY, DELETE row by row), revoke.c (a DELETE
 * run whole: direct modify), analyze.c (ANALYZE), import.c (IMPORT
 * FOREIGN SCHEMA).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/explain.h"
#if PG_VERSION_NUM >= 180000
#include "commands/explain_format.h"
#include "commands/explain_state.h"
#endif
#include "foreign/fdwapi.h"

#include "executor.h"
#include "planner.h"
#include "effects.h"
#include "transport.h"

PG_MODULE_MAGIC;

/* Did this transaction grant or revoke?  Then PREPARE would mislead. */
static bool cp_xact_wrote = false;

static void
xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (cp_xact_wrote)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that granted or revoked checkpoint permissions"),
						 errdetail("The grants and revokes were applied by the OpenAI API when they ran; ROLLBACK PREPARED could not undo them.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			cp_xact_wrote = false;
			break;
		default:
			break;
	}
}

/* A grant or revoke is about to be sent in this transaction. */
void
cp_note_write(void)
{
	cp_xact_wrote = true;
}

void		_PG_init(void);

void
_PG_init(void)
{
	RegisterXactCallback(xact_callback, NULL);
	cp_journal_init();
	cp_queue_init();
	cp_snapshot_init();
	cp_join_init();
	cp_join_paths_init();
	cp_define_settings();
	cp_stats_init();
}

/* EXPLAIN ANALYZE: what the requests of a scan or modify cost. */
void
cp_explain_stats(const CpStats *stats, bool pages, ExplainState *es)
{
	ExplainPropertyInteger("OpenAI Requests", NULL, stats->requests, es);
	if (pages)
		ExplainPropertyInteger("OpenAI Pages", NULL, stats->pages, es);
	ExplainPropertyInteger("OpenAI Retries", NULL, stats->retries, es);
	ExplainPropertyInteger("OpenAI Rate Limited", NULL, stats->rate_limited, es);
	ExplainPropertyInteger("OpenAI Bytes Received", NULL, stats->bytes, es);
	/* VERBOSE only: the lines before it stay as they were */
	if (es->verbose)
	{
		ExplainPropertyInteger("OpenAI Connections Opened", NULL, stats->connections, es);
		ExplainPropertyInteger("OpenAI TLS Handshakes", NULL, stats->tls_handshakes, es);
		ExplainPropertyInteger("OpenAI TLS Sessions Resumed", NULL, stats->tls_resumed, es);
	}
}

/*
 * EXPLAIN's "OpenAI Request" lines: one line per request in text format;
 * a list in the others, whose keys must be unique.
 */
void
cp_explain_requests(List *lines, ExplainState *es)
{
	ListCell   *lc;

	if (es->format == EXPLAIN_FORMAT_TEXT)
	{
		foreach(lc, lines)
			ExplainPropertyText("OpenAI Request", lfirst(lc), es);
	}
	else
		ExplainPropertyList("OpenAI Request", lines, es);
}

PG_FUNCTION_INFO_V1(checkpoint_perms_handler);

Datum
checkpoint_perms_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	cp_path_callbacks(routine);
	cp_scan_callbacks(routine);
	cp_modify_callbacks(routine);
	cp_revoke_callbacks(routine);
	cp_analyze_callbacks(routine);
	cp_import_callbacks(routine);
	PG_RETURN_POINTER(routine);
}
