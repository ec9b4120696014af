/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The launcher: a background worker connected to no database that keeps
 *	  durable.max_workers workers running for durable.database.  It follows
 *	  both settings at reload, starts no worker while that database does not
 *	  exist, and restarts a worker that exits.
 *
 * Commands that need the database to themselves (DROP DATABASE, ALTER
 * DATABASE ... RENAME, CREATE DATABASE ... TEMPLATE) would fail while the
 * workers are connected to it.  A utility hook makes the backend running
 * such a command pause the launcher and ask the workers to leave first;
 * the launcher starts them again afterwards if the database still exists.
 *
 * The same hook serialises ALTER EXTENSION durable UPDATE with the drives:
 * every worker transaction (and every transaction of a session driver)
 * takes a share lock on the extension before it touches a table, and the
 * update takes the exclusive lock before its script locks any table, so
 * it waits for the transactions in flight and the next ones wait for it,
 * instead of the two deadlocking table by table.  And it refuses DROP
 * ROLE of a role that owns unfinished executions or schedules in this
 * database, which would otherwise fail later as "invalid role OID".
 *
 * IDENTIFICATION
 *	  src/launcher.c
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

#include "durable.h"

PGDLLEXPORT void durable_launcher_main(Datum main_arg) pg_attribute_noreturn();

/* the launcher looks at the database and its workers at least this often */
#define LAUNCHER_NAP_MS 10000
/* a worker slot is not restarted sooner than this after its last start */
#define WORKER_RESTART_MS 1000

static ProcessUtility_hook_type prev_utility_hook = NULL;

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

/*
 * needs_database_alone
 *		Whether a utility statement needs durable.database without other
 *		connections.
 */
static bool
needs_database_alone(Node *stmt)
{
	const char *db = durable_database;
	ListCell   *lc;

	if (db == NULL)
		return false;
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return strcmp(((DropdbStmt *) stmt)->dbname, db) == 0;
		case T_RenameStmt:
			return ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE &&
				strcmp(((RenameStmt *) stmt)->subname, db) == 0;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) stmt)->options)
			{
				DefElem    *def = lfirst(lc);

				if (strcmp(def->defname, "template") == 0 && def->arg != NULL &&
					strcmp(defGetString(def), db) == 0)
					return true;
			}
			return false;
		default:
			return false;
	}
}

/*
 * lock_for_update
 *		Before ALTER EXTENSION durable UPDATE: the exclusive lock on the
 *		extension that every drive's transaction takes in share mode.  Only
 *		for a role that may update it: another would queue for the lock,
 *		and stall every worker behind it, only to be refused.
 */
static void
lock_for_update(void)
{
	Oid			ext = get_extension_oid("durable", true);

	if (OidIsValid(ext) && pg_extension_ownercheck(ext, GetUserId()))
		LockDatabaseObject(ExtensionRelationId, ext, 0, AccessExclusiveLock);
}

/*
 * check_drop_roles
 *		Refuses DROP ROLE of a role that owns unfinished executions or
 *		schedules in this database: they would fail with "invalid role OID"
 *		when next driven or fired.  Other databases are not looked at.
 */
static void
check_drop_roles(DropRoleStmt *stmt)
{
	ListCell   *lc;
	bool		connected = false;

	/* a role that may not drop roles learns nothing of others' executions */
	if (!has_createrole_privilege(GetUserId()) ||
		!OidIsValid(get_extension_oid("durable", true)))
		return;
	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			role;
		int64		executions;
		int64		schedules;

		if (spec->roletype != ROLESPEC_CSTRING)
			continue;			/* DROP ROLE refuses the others itself */
		role = get_role_oid(spec->rolename, true);
		if (!OidIsValid(role))
			continue;
		if (!connected)
		{
			SPI_connect();
			connected = true;
		}
		durable_storage_owner_busy(role, &executions, &schedules);
		if (executions > 0 || schedules > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because it owns durable executions or schedules",
							spec->rolename),
					 errdetail("Unfinished executions it owns in this database: %lld; schedules: %lld.",
							   (long long) executions, (long long) schedules),
					 errhint("Stop its executions (durable_stop) or let them finish, and unschedule its schedules; REASSIGN OWNED does not move executions to another role.")));
	}
	if (connected)
		SPI_finish();
}

/* whether a statement is DROP EXTENSION ... durable ... */
static bool
drops_durable(Node *stmt)
{
	ListCell   *lc;

	if (!IsA(stmt, DropStmt) || ((DropStmt *) stmt)->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, ((DropStmt *) stmt)->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "durable") == 0)
			return true;
	}
	return false;
}

/*
 * durable_utility_hook
 *		Around a statement that needs durable.database alone: pauses the
 *		launcher and asks the workers to exit (the statement itself waits a
 *		few seconds for other sessions to leave); when its transaction ends,
 *		committed or not, the launcher decides again.  After CREATE DATABASE
 *		of durable.database the launcher is woken at commit.  Before DROP
 *		EXTENSION durable, the pg_cron jobs it made go (cron.c).
 */
static void
durable_utility_hook(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest,
					 QueryCompletion *qc)
{
	DurableShared *sh = durable_shmem();
	Node	   *stmt = pstmt->utilityStmt;
	bool		pause = sh != NULL && needs_database_alone(stmt);
	bool		created;

	if (IsA(stmt, AlterExtensionStmt) &&
		strcmp(((AlterExtensionStmt *) stmt)->extname, "durable") == 0)
		lock_for_update();
	else if (IsA(stmt, DropRoleStmt))
		check_drop_roles((DropRoleStmt *) stmt);
	else if (drops_durable(stmt))
		durable_cron_drop_jobs();

	/* the workers' database created: the launcher need not wait to see it */
	created = sh != NULL && IsA(stmt, CreatedbStmt) &&
		durable_database != NULL &&
		strcmp(((CreatedbStmt *) stmt)->dbname, durable_database) == 0;

	if (pause)
	{
		/* paused until this transaction ends, and the launcher woken then */
		durable_launcher_at_end(true);
		(void) durable_signal_workers(SIGTERM);
	}
	else if (created)
		durable_launcher_at_end(false);
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
durable_utility_hook_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = durable_utility_hook;
}
