/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Background workers, started by the launcher, each connected to
 *	  durable.database.  A worker claims ready executions oldest due first,
 *	  drives each with a commit after every operation, and sleeps on its
 *	  latch until a commit wakes it or the earliest timer is due.  While the
 *	  extension does not exist in its database it idles.
 *
 * Crash loops: before a worker drives an execution it notes the execution's
 * id in a small file of its slot (pg_durable/worker.<slot>), and it erases
 * the note when the drive ends, when it exits in an orderly way, and when
 * the postmaster takes the server down for another process's crash or an
 * immediate shutdown (SIGQUIT).  A note left means this very worker died
 * while driving that execution (a segfault, the OOM killer, kill -9): after
 * the restart, before any worker claims anything, the first worker charges
 * each such crash to its execution, which fails once it has caused
 * durable.max_crashes crashes in a row without progress.
 *
 * Each note is stamped with the incarnation of the server that wrote it:
 * the system identifier and the postmaster's start time, which a crash
 * restart keeps (the postmaster stays) and which a base backup, a restored
 * snapshot or a promoted standby do not share.  A note of another
 * incarnation was copied with the files and is not charged; nor is a note
 * of the format before 1.2 (20 bytes, "DRN1"), which only a postmaster
 * started before the library was updated can have written.
 *
 * durable_stop of an execution a worker drives cancels the worker's query
 * (a flag in the slot tells that cancel from others); the drive's
 * transaction rolls back and the stop goes through.
 *
 * Code that catches cancels and runs on (PL/pgSQL looping over EXCEPTION
 * WHEN query_canceled) is ended by the worker exiting, as on SIGTERM: a
 * FATAL error no handler catches, DURABLE_CANCEL_GRACE_MS after the cancel
 * of its timeout (util/usercode.c) or of durable_stop.  Such an exit erases the
 * note (it is no crash); for a timeout it leaves a verdict in the slot,
 * from which the next drive records the attempt (or replay) as timed out
 * instead of running it again.  The launcher starts the worker again.
 *
 * Fairness: a drive lasts at most durable.drive_slice (and ends after a
 * continue_as_new); the execution then waits behind the others that are
 * ready.  Claims take turns between the owners with ready work, from the
 * owner after the last one served.  Any other error that escapes a drive
 * is charged to its execution in a new transaction: it waits out a
 * backoff, others are claimed meanwhile, and it fails with WF018 after
 * durable.max_drive_errors errors in a row.
 *
 * IDENTIFICATION
 *	  src/bgw/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw/bgw.h"
#include "util/durable_errcodes.h"

/* longest sleep of an idle worker with nothing due: a safety net only */
#define DURABLE_IDLE_MS 10000
/* pause after an unexpected error, so that one does not spin */
#define DURABLE_ERROR_PAUSE_MS 1000
/* how soon to look again at a message whose execution another session drove */
#define DURABLE_BUSY_RETRY_MS 50

/* the note of a crash-loop file */
#define DURABLE_NOTE_MAGIC_V1 0x44524e31	/* "DRN1": before 1.2, unstamped */
#define DURABLE_NOTE_MAGIC 0x44524e32	/* "DRN2" */
#define DURABLE_NOTE_DIR "pg_durable"

typedef struct DurableNote
{
	uint32		magic;			/* 0: no note */
	pg_uuid_t	execution;
	uint64		system_id;		/* the server incarnation that wrote it: */
	TimestampTz started;		/* the postmaster's start time */
} DurableNote;

PGDLLEXPORT void durable_worker_main(Datum main_arg) pg_attribute_noreturn();

static int	my_slotno = -1;
static DurableWorkerSlot *my_slot = NULL;
static DurableDrive *worker_drive = NULL;
static int	note_fd = -1;
static bool processing_notes = false;
static bool session_dirty = false;	/* a drive ended in an error */
static bool drive_started = false;	/* drive_id is being driven */
static pg_uuid_t drive_id;
static DurableQueueCursor cursor;	/* the turn of owners outlives passes */

static volatile ssize_t quit_erase_result;

static void worker_commit(void);

/*
 * worker_cancel
 *		SIGINT: a query cancel, as in any backend; when durable_stop has
 *		found its cancels ignored (the flag of the slot), also the end of
 *		this worker, as on SIGTERM.
 */
static void
worker_cancel(SIGNAL_ARGS)
{
	if (my_slot != NULL && pg_atomic_read_u32(&my_slot->stop_exit) != 0)
		ProcDiePending = true;
	StatementCancelHandler(postgres_signal_arg);
}

/*
 * worker_crash_exit
 *		SIGQUIT: the postmaster takes the server down, because another
 *		process crashed or for an immediate shutdown.  This worker is not to
 *		blame, so its note goes (pwrite is async-signal-safe), then it exits
 *		at once as every process does on SIGQUIT.
 */
static void
worker_crash_exit(SIGNAL_ARGS)
{
	static const DurableNote empty;

	if (note_fd >= 0)
		quit_erase_result = pwrite(note_fd, &empty, sizeof(empty), 0);
	_exit(2);
}

/*
 * note_erase
 *		Erases the note in a note file, logging (not raising) a failure:
 *		for exit callbacks, and for notes already charged.
 */
static void
note_erase(int fd)
{
	static const DurableNote empty;

	if (pwrite(fd, &empty, sizeof(empty), 0) != sizeof(empty))
		ereport(LOG,
				(errcode_for_file_access(),
				 errmsg("could not erase a crash note of durable: %m")));
}

/*
 * leave_verdict
 *		This worker exits because the code of its drive ignored the cancel
 *		of its timeout: leaves in the slot what the next drive is to record.
 */
static void
leave_verdict(DurableDrive *d)
{
	DurableVerdict v;

	memset(&v, 0, sizeof(v));
	v.execution = d->ex.id;
	if (d->in_replay)
	{
		v.kind = DV_REPLAY_TIMEOUT;
		ereport(LOG,
				(errmsg("durable: a replay of execution %s ignored the cancel of durable.replay_timeout; its worker exits to end it",
						durable_uuid_out(&d->ex.id))));
	}
	else if (d->in_step && d->pending.attempt_timeout > 0 &&
			 (d->ex.deadline == DT_NOBEGIN || durable_clock_now() < d->ex.deadline))
	{
		v.kind = DV_STEP_TIMEOUT;
		v.key = d->pending.key;
		v.attempt = d->pending.op != NULL ? d->pending.op->attempt + 1 : 1;
		v.timeout = d->pending.attempt_timeout;
		ereport(LOG,
				(errmsg("durable: step \"%s\" of execution %s ignored the cancel of its timeout; its worker exits to end it",
						d->pending.name, durable_uuid_out(&d->ex.id))));
	}
	else
	{
		/* the next drive finds the deadline passed */
		ereport(LOG,
				(errmsg("durable: code run for execution %s ignored the cancel at its deadline; its worker exits to end it",
						durable_uuid_out(&d->ex.id))));
		return;
	}
	durable_verdict_set(my_slot, &v);
}

static void
worker_detach(int code, Datum arg)
{
	/* an exit that runs this is no crash: the note would mislead */
	if (note_fd >= 0)
		note_erase(note_fd);
	if (worker_drive != NULL && durable_timeout_exited())
		leave_verdict(worker_drive);
	else if (worker_drive != NULL && pg_atomic_read_u32(&my_slot->stop_exit) != 0)
		ereport(LOG,
				(errmsg("durable: execution %s is being stopped: its drive ignored the cancel, so its worker exits",
						durable_uuid_out(&worker_drive->ex.id))));
	pg_atomic_write_u32(&my_slot->stop_exit, 0);
	if (processing_notes)
		pg_atomic_write_u32(&durable_shmem()->notes_state, NOTES_PENDING);
	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = 0;
	my_slot->procno = -1;
	my_slot->driving = false;
	my_slot->stop_requested = false;
	my_slot->charging = false;
	SpinLockRelease(&my_slot->mutex);
	pg_atomic_write_u32(&my_slot->idle, 0);
}

/* ----------------------------------------------------------------
 * crash-loop notes
 * ----------------------------------------------------------------
 */
static char *
note_path(int slotno)
{
	return psprintf("%s/worker.%d", DURABLE_NOTE_DIR, slotno);
}

static void
note_write(const pg_uuid_t *id)
{
	DurableNote note;

	memset(&note, 0, sizeof(note));
	if (id != NULL)
	{
		note.magic = DURABLE_NOTE_MAGIC;
		note.execution = *id;
		note.system_id = GetSystemIdentifier();
		note.started = PgStartTime;
	}
	/* no fsync: the note must survive the process, not the machine */
	if (pwrite(note_fd, &note, sizeof(note), 0) != sizeof(note))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write file \"%s\": %m", note_path(my_slotno))));
}

/*
 * charge_crash
 *		The server went down while a worker drove execution id: count it,
 *		and fail the execution when it has caused durable.max_crashes
 *		crashes in a row.
 */
static void
charge_crash(const pg_uuid_t *id)
{
	int			crashes = durable_storage_note_crash(id);
	DurableDrive *d;

	if (crashes == 0)
		return;
	durable_count(DC_CRASHES, 1);
	ereport(LOG,
			(errmsg("durable: the worker driving execution %s died (%d time%s in a row)",
					durable_uuid_out(id), crashes, crashes == 1 ? "" : "s")));
	if (crashes < durable_max_crashes)
		return;
	d = durable_drive_begin(id, true, false);
	if (d == NULL)
		return;
	PG_TRY();
	{
		durable_drive_fail(d, ERRCODE_DURABLE_CRASH_LOOP,
						   psprintf("execution crashed the server %d time%s",
									crashes, crashes == 1 ? "" : "s"),
						   psprintf("Its worker died %d time%s in a row while driving it, "
									"with no progress in between; durable.max_crashes is %d.",
									crashes, crashes == 1 ? "" : "s", durable_max_crashes),
						   "Fix the step or function that crashes, then start the execution again.");
	}
	PG_FINALLY();
	{
		durable_drive_end(d);
	}
	PG_END_TRY();
}

/*
 * open_note
 *		Opens (creating it if need be) the note file of a slot.
 */
static int
open_note(int slotno)
{
	char	   *path = note_path(slotno);
	int			fd = BasicOpenFile(path, O_RDWR | O_CREAT | PG_BINARY);

	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not open file \"%s\": %m", path)));
	pfree(path);
	return fd;
}

/*
 * process_notes
 *		Charges the crashes noted in the files of every slot.  Runs once
 *		after each server start, in the first worker that gets here, before
 *		any worker claims an execution (the others wait for it), so that an
 *		execution that crashed the server is charged before it runs again.
 *		The notes are erased after the transaction commits.
 */
static void
process_notes(void)
{
	DurableShared *sh = durable_shmem();
	List	   *fds = NIL;
	ListCell   *lc;
	DurableNote note;
	int			n;

	for (n = 0; n < sh->nslots; n++)
	{
		char	   *path = note_path(n);
		struct stat st;
		int			fd;
		MemoryContext old;

		if (stat(path, &st) != 0)
			continue;
		fd = open_note(n);
		/* the list outlives the transaction */
		old = MemoryContextSwitchTo(TopMemoryContext);
		fds = lappend_int(fds, fd);
		MemoryContextSwitchTo(old);
		memset(&note, 0, sizeof(note));
		if (pread(fd, &note, sizeof(note), 0) < (ssize_t) offsetof(DurableNote, system_id))
			continue;
		if (note.magic == DURABLE_NOTE_MAGIC &&
			note.system_id == GetSystemIdentifier() &&
			note.started == PgStartTime)
			charge_crash(&note.execution);
		else if (note.magic == DURABLE_NOTE_MAGIC || note.magic == DURABLE_NOTE_MAGIC_V1)
			ereport(LOG,
					(errmsg("durable: a crash note of execution %s is not charged: another server start wrote it",
							durable_uuid_out(&note.execution)),
					 errdetail("It was copied with the data directory (a base backup, a snapshot, a promoted standby), or written before the update to durable 1.2.")));
	}
	worker_commit();

	foreach(lc, fds)
	{
		note_erase(lfirst_int(lc));
		close(lfirst_int(lc));
	}
	list_free(fds);
}

/*
 * notes_processed
 *		Whether the crash notes of this server start have been charged;
 *		processes them if no other worker is doing so.
 */
static bool
notes_processed(void)
{
	DurableShared *sh = durable_shmem();
	uint32		state = NOTES_PENDING;

	if (pg_atomic_read_u32(&sh->notes_state) == NOTES_DONE)
		return true;
	if (!pg_atomic_compare_exchange_u32(&sh->notes_state, &state, NOTES_BUSY))
		return false;			/* another worker is at it */
	processing_notes = true;
	process_notes();
	pg_atomic_write_u32(&sh->notes_state, NOTES_DONE);
	processing_notes = false;
	return true;
}

/* ----------------------------------------------------------------
 * transactions
 * ----------------------------------------------------------------
 */

/*
 * The transaction bracket of every worker transaction.  It takes a share
 * lock on the extension first: DROP EXTENSION and ALTER EXTENSION ...
 * UPDATE (the utility hook of api/ddl.c) lock the extension before its tables,
 * so they wait for this transaction to end instead of deadlocking with it
 * table by table, and the next transaction waits for them and then finds
 * no extension, or the updated one.
 *
 * Looking the extension up scans pg_extension, which has no catalog cache;
 * the worker keeps its oid and that of schema durable, and looks again only
 * when the schema (a cache lookup, current once the lock is taken) is not
 * the one it knew: dropped, or dropped and created again.
 */
static Oid	known_extension = InvalidOid;
static Oid	known_schema = InvalidOid;

/*
 * durable_worker_begin
 *		Starts a transaction of a background worker; false when the
 *		extension does not exist in its database.
 */
bool
durable_worker_begin(void)
{
	Oid			ext;
	bool		exists = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();

	/*
	 * The lock before the snapshot: a transaction that waited for ALTER
	 * EXTENSION ... UPDATE must see what the update committed.
	 */
	if (OidIsValid(known_extension))
	{
		LockDatabaseObject(ExtensionRelationId, known_extension, 0, AccessShareLock);
		if (get_namespace_oid("durable", true) != known_schema)
			known_extension = InvalidOid;
	}
	if (!OidIsValid(known_extension))
	{
		ext = get_extension_oid("durable", true);
		if (!OidIsValid(ext))
			exists = false;
		else
		{
			LockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock);
			/* a DROP that held the lock has committed: look again */
			if (get_extension_oid("durable", true) != ext)
				exists = false;
			else
			{
				known_extension = ext;
				known_schema = get_namespace_oid("durable", true);
			}
		}
	}
	PushActiveSnapshot(GetTransactionSnapshot());
	return exists;
}

void
durable_worker_end(void)
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
	durable_worker_end();
	if (!durable_worker_begin())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"durable\" was dropped while an execution was being driven")));
}

/*
 * set_driving
 *		Shows in the slot which execution this worker drives (NULL: none).
 */
static void
set_driving(const pg_uuid_t *id)
{
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&my_slot->mutex);
	my_slot->driving = id != NULL;
	if (id != NULL)
		my_slot->execution = *id;
	/* durable.activity: the owner is known once the drive has begun */
	my_slot->owner = InvalidOid;
	my_slot->drive_since = now;
	my_slot->in_op = false;
	my_slot->stop_requested = false;
	pg_atomic_write_u32(&my_slot->stop_exit, 0);
	SpinLockRelease(&my_slot->mutex);
}

/*
 * set_charging
 *		Shows in the slot which execution's drive error this worker is
 *		charging (NULL: none); see durable_is_charging.
 */
static void
set_charging(const pg_uuid_t *id)
{
	SpinLockAcquire(&my_slot->mutex);
	my_slot->charging = id != NULL;
	if (id != NULL)
		my_slot->charging_id = *id;
	SpinLockRelease(&my_slot->mutex);
}

static bool
stop_was_requested(void)
{
	bool		requested;

	SpinLockAcquire(&my_slot->mutex);
	requested = my_slot->stop_requested;
	SpinLockRelease(&my_slot->mutex);
	return requested;
}

/*
 * drive
 *		Drives a claimed execution until it suspends or finishes, with a
 *		commit after every operation; false when it did not drive it.
 */
static bool
drive(const pg_uuid_t *id, TimestampTz due_at)
{
	DurableDrive *d;

	/*
	 * Visible to durable_stop before the drive lock is taken; one that
	 * registered the execution before that is not undone by taking it up.
	 */
	set_driving(id);
	if (durable_is_stopping(id))
	{
		set_driving(NULL);
		return false;			/* being stopped */
	}
	/* from here an error is the execution's (see worker_pass) */
	drive_id = *id;
	drive_started = true;
	if ((d = durable_drive_begin(id, false, true)) == NULL)
	{
		drive_started = false;
		set_driving(NULL);
		return false;			/* another session drives it */
	}
	if (durable_is_charging(id))
	{
		/* a worker whose drive of it failed is writing its backoff */
		durable_drive_end(d);
		drive_started = false;
		set_driving(NULL);
		return false;
	}
	pg_atomic_write_u32(&my_slot->idle, 0);
	durable_activity_owner(d->ex.owner);
	worker_drive = d;
	note_write(id);
	durable_count_claim(due_at, durable_clock_now());
	/* pg_stat_activity shows which execution this worker drives */
	pgstat_report_activity(STATE_RUNNING,
						   psprintf("durable: driving execution %s", durable_uuid_out(id)));
	(void) durable_drive_committing(d, durable_clock_now() + (int64) durable_drive_slice * 1000,
									worker_commit);
	worker_drive = NULL;
	durable_drive_end(d);
	drive_started = false;
	note_write(NULL);
	set_driving(NULL);
	durable_session_reset();
	return true;
}

/*
 * charge_drive_error
 *		In a transaction of its own, after the abort: charges the error
 *		that escaped the drive of drive_id to that execution.  False when
 *		that failed too (the caller pauses, as for any unexpected error).
 */
static bool
charge_drive_error(ErrorData *edata)
{
	volatile bool charged = true;

	PG_TRY();
	{
		/* on a schema of 1.1, the error is only reported: pause */
		if (durable_worker_begin())
		{
			if (durable_storage_counts_drive_errors())
				durable_drive_charge_error(&drive_id, edata);
			else
				charged = false;
		}
		durable_worker_end();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		RESUME_INTERRUPTS();
		charged = false;
	}
	PG_END_TRY();
	return charged;
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
	bool		busy_inbox = false;
	ErrorData  *volatile failed = NULL;

	*sleep_ms = DURABLE_IDLE_MS;
	DURABLE_QUEUE_CURSOR_NEW_PASS(&cursor);
	PG_TRY();
	{
		pg_uuid_t	id;
		TimestampTz due;

		if (durable_worker_begin())
		{
			/* what a drive that ended in an error left in this session */
			if (session_dirty)
			{
				durable_session_reset();
				session_dirty = false;
			}
			if (!notes_processed())
				*sleep_ms = 10; /* another worker charges the crashes */
			else
			{
				TimestampTz claimed_at;

				durable_quota_prepare();

				/*
				 * Idle before every claim: a start committed too late for
				 * the claim's snapshot sees the flag and sets the latch, so
				 * the sleep below returns at once.
				 */
				for (;;)
				{
					pg_atomic_write_u32(&my_slot->idle, 1);
					pg_memory_barrier();
					claimed_at = durable_clock_now();
					if (!durable_storage_claim_ready(claimed_at, InvalidOid, true,
													 &cursor, &id))
						break;
					if (drive(&id, cursor.claimed_at))
						worked = true;
					else if (cursor.from_inbox)
						busy_inbox = true;
				}

				/*
				 * Sleep until the next timer.  What was due when the last
				 * claim looked and is still queued is being driven by
				 * another session, which goes on with it: no reason to
				 * wake (this worker would spin on it otherwise).
				 */
				if (durable_storage_next_due(claimed_at, &due))
				{
					TimestampTz now = durable_clock_now();

					*sleep_ms = due <= now ? 0 :
						(long) Min((due - now + 999) / 1000, (int64) DURABLE_IDLE_MS);
				}

				/*
				 * A message for an execution another session drives: that
				 * driver may have taken its inbox before the message came.
				 * A worker driver looks again after its drive, another
				 * session may not: look again soon.
				 */
				if (busy_inbox)
					*sleep_ms = Min(*sleep_ms, DURABLE_BUSY_RETRY_MS);
			}
		}
		durable_worker_end();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		bool		stopped;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		stopped = edata->sqlerrcode == ERRCODE_QUERY_CANCELED && stop_was_requested();
		if (!stopped)
			EmitErrorReport();	/* an error no drive caught: report it */
		FlushErrorState();
		/*
		 * The abort lets go of the drive lock: until the error is charged
		 * (below), other drivers must not take the execution up and skip
		 * its backoff.
		 */
		if (drive_started && !stopped)
			set_charging(&drive_id);
		AbortCurrentTransaction();
		if (worker_drive != NULL)
		{
			if (stopped)
				ereport(LOG,
						(errmsg("durable: execution %s is being stopped: its drive was abandoned",
								durable_uuid_out(&worker_drive->ex.id))));
			durable_drive_end(worker_drive);
			worker_drive = NULL;
			session_dirty = true;
		}
		note_write(NULL);
		set_driving(NULL);
		if (processing_notes)
		{
			pg_atomic_write_u32(&durable_shmem()->notes_state, NOTES_PENDING);
			processing_notes = false;
		}
		/* an error of a drive is its execution's: charged below */
		if (drive_started && !stopped)
			failed = edata;
		else
			FreeErrorData(edata);
		drive_started = false;
		RESUME_INTERRUPTS();
		/* after a stop go on at once; after an error pause, not to spin */
		*sleep_ms = stopped ? 0 : DURABLE_ERROR_PAUSE_MS;
		worked = stopped;
	}
	PG_END_TRY();

	/*
	 * The execution waits out a backoff (or has failed): the others can be
	 * claimed at once.
	 */
	if (failed != NULL)
	{
		if (charge_drive_error(failed))
		{
			*sleep_ms = 0;
			worked = true;
		}
		set_charging(NULL);
		FreeErrorData(failed);
	}

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
	my_slotno = DatumGetInt32(main_arg);
	durable_http_async = true;	/* requests go to the HTTP worker */
	my_slot = durable_worker_slot(my_slotno);
	if (my_slot == NULL)
		proc_exit(0);
	durable_activity_attach(my_slot);

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGINT, worker_cancel);
	pqsignal(SIGTERM, die);
	pqsignal(SIGQUIT, worker_crash_exit);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(durable_database, NULL, 0);
	durable_timeout_exit_on_ignore(true);

	SpinLockAcquire(&my_slot->mutex);
	my_slot->pid = MyProcPid;
	my_slot->procno = MyProc->pgprocno;
	my_slot->driving = false;
	my_slot->stop_requested = false;
	my_slot->charging = false;
	pg_atomic_write_u32(&my_slot->stop_exit, 0);
	SpinLockRelease(&my_slot->mutex);
	before_shmem_exit(worker_detach, 0);
	pgstat_report_appname("durable worker");

	if (MakePGDirectory(DURABLE_NOTE_DIR) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", DURABLE_NOTE_DIR)));
	note_fd = open_note(my_slotno);

	for (;;)
	{
		long		sleep_ms;

		/* a cancel meant for a drive that has ended is void */
		QueryCancelPending = false;
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
