/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher: a background worker connected to no database that keeps
 *	  durable.max_workers workers running for durable.database.  It follows
 *	  both settings at reload, starts no worker while that database does not
 *	  exist, and restarts a worker that exits.  A backend running a command
 *	  that needs the database to itself pauses it (api/ddl.c).
 *
 * IDENTIFICATION
 *	  src/bgw/launcher.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw/bgw.h"

PGDLLEXPORT void durable_launcher_main(Datum main_arg) pg_attribute_noreturn();

/* the launcher looks at the database and its workers at least this often */
#define LAUNCHER_NAP_MS 10000
/* a worker slot is not restarted sooner than this after its last start */
#define WORKER_RESTART_MS 1000

/*
 * durable_register_launcher
 *		Called from _PG_init when preloaded.
 */
void
durable_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "durable");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "durable_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "durable launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "durable launcher");
	RegisterBackgroundWorker(&worker);
}

static void
launcher_detach(int code, Datum arg)
{
	DurableShared *sh = durable_shmem();

	SpinLockAcquire(&sh->mutex);
	sh->launcher_procno = -1;
	SpinLockRelease(&sh->mutex);
}

/*
 * database_exists
 *		Looks the database up in pg_database with a plain scan: connected to
 *		no database, the launcher can read shared catalogs but not the
 *		relation descriptors an index scan needs.
 */
static bool
database_exists(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0)
		{
			found = true;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return found;
}

/* starts worker n, or the HTTP worker when n is -1 */
static BackgroundWorkerHandle *
start_worker(int n)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "durable");
	if (n < 0)
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "durable_http_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "durable http");
		snprintf(worker.bgw_type, BGW_MAXLEN, "durable http");
	}
	else
	{
		snprintf(worker.bgw_function_name, BGW_MAXLEN, "durable_worker_main");
		snprintf(worker.bgw_name, BGW_MAXLEN, "durable worker %d", n);
		snprintf(worker.bgw_type, BGW_MAXLEN, "durable worker");
	}
	worker.bgw_main_arg = Int32GetDatum(n);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;
	return handle;
}

/*
 * durable_launcher_main
 *		Entry point of the launcher.
 */
void
durable_launcher_main(Datum main_arg)
{
	DurableShared *sh = durable_shmem();
	BackgroundWorkerHandle **handles;
	TimestampTz *started;
	BackgroundWorkerHandle *http_handle = NULL;
	TimestampTz http_started = 0;
	char	   *database = NULL;
	bool		exists = false;
	bool		said_missing = false;
	bool		said_full = false;
	int			i;

	if (sh == NULL)
		proc_exit(0);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("durable launcher");

	SpinLockAcquire(&sh->mutex);
	sh->launcher_procno = MyProc->pgprocno;
	SpinLockRelease(&sh->mutex);
	before_shmem_exit(launcher_detach, 0);

	handles = MemoryContextAllocZero(TopMemoryContext,
									 sizeof(BackgroundWorkerHandle *) * sh->nslots);
	started = MemoryContextAllocZero(TopMemoryContext, sizeof(TimestampTz) * sh->nslots);

	for (;;)
	{
		long		nap = LAUNCHER_NAP_MS;
		int			target;
		bool		paused;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* another database: its workers go, the new one's come */
		if (database == NULL || strcmp(database, durable_database) != 0)
		{
			for (i = 0; i < sh->nslots; i++)
				if (handles[i] != NULL)
					TerminateBackgroundWorker(handles[i]);
			if (http_handle != NULL)
				TerminateBackgroundWorker(http_handle);
			if (database != NULL)
				pfree(database);
			database = MemoryContextStrdup(TopMemoryContext, durable_database);
			said_missing = false;
		}

		paused = pg_atomic_read_u32(&sh->paused) > 0;
		target = Min(durable_max_workers, sh->nslots);
		if (!paused && target > 0)
		{
			exists = database_exists(database);
			if (!exists && !said_missing)
				ereport(LOG,
						(errmsg("durable: database \"%s\" does not exist; no workers are started",
								database),
						 errhint("Create it, or set durable.database and reload.")));
			said_missing = !exists;
		}
		if (paused || !exists)
			target = 0;

		now = GetCurrentTimestamp();

		/* the HTTP worker runs while workers do */
		if (http_handle != NULL)
		{
			pid_t		pid;

			if (GetBackgroundWorkerPid(http_handle, &pid) == BGWH_STOPPED)
			{
				pfree(http_handle);
				http_handle = NULL;
			}
			else if (target == 0)
				TerminateBackgroundWorker(http_handle);
		}
		if (http_handle == NULL && target > 0)
		{
			if (http_started != 0 &&
				!TimestampDifferenceExceeds(http_started, now, WORKER_RESTART_MS))
				nap = Min(nap, WORKER_RESTART_MS);
			else
			{
				http_handle = start_worker(-1);
				http_started = now;
				if (http_handle == NULL && !said_full)
				{
					said_full = true;
					ereport(LOG,
							(errmsg("durable: could not start the HTTP worker: no free background worker slots"),
							 errhint("Raise max_worker_processes (it needs a restart).")));
				}
				if (http_handle == NULL)
					nap = Min(nap, WORKER_RESTART_MS);
			}
		}

		for (i = 0; i < sh->nslots; i++)
		{
			pid_t		pid;
			bool		running = false;

			if (handles[i] != NULL)
			{
				if (GetBackgroundWorkerPid(handles[i], &pid) != BGWH_STOPPED)
					running = true;
				else
				{
					pfree(handles[i]);
					handles[i] = NULL;
				}
			}

			if (i >= target)
			{
				if (running)
					TerminateBackgroundWorker(handles[i]);
				continue;
			}
			if (running)
				continue;
			if (started[i] != 0 &&
				!TimestampDifferenceExceeds(started[i], now, WORKER_RESTART_MS))
			{
				nap = Min(nap, WORKER_RESTART_MS);
				continue;
			}
			handles[i] = start_worker(i);
			started[i] = now;
			if (handles[i] == NULL)
			{
				if (!said_full)
					ereport(LOG,
							(errmsg("durable: could not start worker %d: no free background worker slots", i),
							 errhint("Raise max_worker_processes (it needs a restart) or lower durable.max_workers.")));
				said_full = true;
				nap = Min(nap, WORKER_RESTART_MS);
				break;
			}
			said_full = false;
		}

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nap, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
