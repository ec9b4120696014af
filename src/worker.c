/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Background workers: durable.max_workers of them, registered at server
 *	  start, each connected to durable.database.  A worker claims ready
 *	  executions oldest due first, drives each with a commit after every
 *	  operation, and sleeps on its latch until a commit wakes it or the
 *	  earliest timer is due.  While the extension does not exist in its
 *	  database it idles.
 *
 * IDENTIFICATION
 *	  src/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "durable.h"

/* longest sleep of an idle worker with nothing due: a safety net only */
#define DURABLE_IDLE_MS 10000
/* pause after an unexpected error, so that one does not spin */
#define DURABLE_ERROR_PAUSE_MS 1000

PGDLLEXPORT void durable_worker_main(Datum main_arg) pg_attribute_noreturn();

static DurableWorkerSlot *my_slot = NULL;
static DurableDrive *worker_drive = NULL;

/*
 * durable_register_workers
 *		Registers the workers; called from _PG_init when preloaded.  Their
 *		number is fixed at server start.
 */
void
durable_register_workers(void)
{
	BackgroundWorker worker;
	int			i;

	for (i = 0; i < durable_max_workers; i++)
	{
		memset(&worker, 0, sizeof(worker));
		worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
		worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
		worker.bgw_restart_time = 5;
		snprintf(worker.bgw_library_name, BGW_MAXLEN, "durable");
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "durable_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "durable worker %d", i);
		snprintf(worker.bgw_type, BGW_MAXLEN, "durable worker");
		worker.bgw_main_arg = Int32GetDatum(i);
		RegisterBackgroundWorker(&worker);
	}
}

static void
worker_detach(int code, Datum arg)
{
	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = 0;
	my_slot->procno = -1;
	SpinLockRelease(&my_slot->mutex);
	pg_atomic_write_u32(&my_slot->idle, 0);
}

/*
 * The transaction bracket of every worker transaction.  It takes a share
 * lock on the extension first: DROP EXTENSION locks the extension before
 * its tables, so it waits for this transaction to end instead of
 * deadlocking with it table by table, and the next transaction waits for
 * the DROP and then finds no extension.
 */
static bool
worker_begin(void)
{
	Oid			ext;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	ext = get_extension_oid("durable", true);
	if (!OidIsValid(ext))
		return false;
	LockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock);
	/* a DROP that held the lock has committed: look again */
	return OidIsValid(get_extension_oid("durable", true));
}

static void
worker_end(void)
{
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
	/* table statistics, which autovacuum reads (pg_net #254) */
	pgstat_report_stat(false);
}

static void
worker_commit(void)
{
	worker_end();
	if (!worker_begin())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"durable\" was dropped while an execution was being driven")));
}

/*
 * worker_pass
 *		Drives every ready execution; returns whether it drove any, and in
 *		*sleep_ms how long to sleep before the next timer is due.
 */
static bool
worker_pass(long *sleep_ms)
{
	volatile bool worked = false;
	DurableQueueCursor cursor;

	*sleep_ms = DURABLE_IDLE_MS;
	DURABLE_QUEUE_CURSOR_RESET(&cursor);
	PG_TRY();
	{
		pg_uuid_t	id;
		TimestampTz due;

		if (worker_begin())
		{
			while (durable_storage_claim_ready(durable_clock_now(), InvalidOid, true,
											   &cursor, &id))
			{
				DurableDrive *d = durable_drive_begin(&id, false, true);

				if (d == NULL)
					continue;	/* another session drives it */
				pg_atomic_write_u32(&my_slot->idle, 0);
				worker_drive = d;
				/* pg_stat_activity shows which execution this worker drives */
				pgstat_report_activity(STATE_RUNNING,
									   psprintf("durable: driving execution %s",
												durable_uuid_out(&id)));
				(void) durable_drive_committing(d, DT_NOEND, worker_commit);
				worker_drive = NULL;
				durable_drive_end(d);
				durable_session_reset();
				worked = true;
			}
			if (durable_storage_next_due(&due))
			{
				TimestampTz now = durable_clock_now();

				*sleep_ms = due <= now ? 0 :
					(long) Min((due - now + 999) / 1000, (int64) DURABLE_IDLE_MS);
			}
		}
		worker_end();
	}
	PG_CATCH();
	{
		/* an error no drive caught: report it, clean up, go on */
		HOLD_INTERRUPTS();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		if (worker_drive != NULL)
		{
			durable_drive_end(worker_drive);
			worker_drive = NULL;
		}
		RESUME_INTERRUPTS();
		*sleep_ms = DURABLE_ERROR_PAUSE_MS;
		worked = false;
	}
	PG_END_TRY();

	pgstat_report_activity(STATE_IDLE, NULL);
	return worked;
}

/*
 * durable_worker_main
 *		Entry point of a worker; main_arg is its slot number.
 */
void
durable_worker_main(Datum main_arg)
{
	my_slot = durable_worker_slot(DatumGetInt32(main_arg));
	if (my_slot == NULL)
		proc_exit(0);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(durable_database, NULL, 0);

	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = MyProcPid;
	my_slot->procno = MyProc->pgprocno;
	SpinLockRelease(&my_slot->mutex);
	before_shmem_exit(worker_detach, 0);
	pgstat_report_appname("durable worker");

	for (;;)
	{
		long		sleep_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* idle from here: a commit that makes work wakes this worker */
		pg_atomic_write_u32(&my_slot->idle, 1);
		pg_memory_barrier();
		if (worker_pass(&sleep_ms))
			continue;
		if (sleep_ms > 0)
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 sleep_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
