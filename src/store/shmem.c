/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory of the durable extension: one slot per possible
 *	  background worker (its latch, whether it is idle, the execution it
 *	  drives, the verdict its predecessor left when it exited to end code
 *	  that ignored a cancel), the launcher's latch, the counters of
 *	  durable.stats, the condition variable durable_await sleeps on and
 *	  those durable_task_claim sleeps on (one per hash of a task queue's
 *	  name); and the commit-time wake-ups that backends send the workers
 *	  and the claims waiting for tasks.  Also
 *	  the durable.activity view: what each worker and the HTTP worker run
 *	  now, which a worker records in its slot with a spinlock held for a
 *	  few stores (no allocation, no lock of the lock manager); api/observe.c
 *	  reads it.
 *
 * A backend that makes an execution ready (durable_start) asks for a wake
 * at commit; a transaction callback then sets the latch of an idle worker
 * once the commit is visible, never before it and never on rollback.
 *
 * There are max_worker_processes slots, fixed at server start, so that
 * durable.max_workers can change at reload up to that many.
 *
 * IDENTIFICATION
 *	  src/store/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_extension.h"
#include "common/hashfn.h"
#include "commands/extension.h"
#include "storage/lmgr.h"

#include <signal.h>

#include "access/htup_details.h"
#include "access/xact.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "store/store.h"

static DurableShared *durable_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* workers to wake when the current transaction commits */
static int	wakes_at_commit = 0;
static bool wake_http_at_commit = false;
/* requests' rows deleted: the HTTP worker ends their transfers at commit */
static bool http_cancel_at_commit = false;
/* launcher paused by this transaction; launcher to wake at its end */
static bool paused_here = false;
static bool wake_launcher_at_end = false;
/* executions this transaction registered as being stopped */
static pg_uuid_t stopping_here[DURABLE_STOPPING_SLOTS];
static int	nstopping_here = 0;
static bool xact_callback_registered = false;
/* the task condition variables to broadcast when this transaction commits */
static uint32 task_cvs_at_commit = 0;
static void durable_register_xact_callback(void);
/* the slot of this backend when it is a worker: durable.activity shows it */
static DurableWorkerSlot *activity_slot = NULL;

static Size
durable_shmem_size(void)
{
	return add_size(offsetof(DurableShared, slots),
					mul_size(sizeof(DurableWorkerSlot), max_worker_processes));
}

static void
durable_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(durable_shmem_size());
}

static void
durable_shmem_startup(void)
{
	bool		found;
	int			i;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	durable_shared = ShmemInitStruct("durable", durable_shmem_size(), &found);
	if (!found)
	{
		durable_shared->nslots = max_worker_processes;
		SpinLockInit(&durable_shared->mutex);
		durable_shared->launcher_procno = -1;
		durable_shared->http_procno = -1;
		pg_atomic_init_u32(&durable_shared->http_cancels, 0);
		durable_shared->http_pid = 0;
		durable_shared->http_since = 0;
		pg_atomic_init_u32(&durable_shared->http_in_flight, 0);
		durable_shared->nstopping = 0;
		pg_atomic_init_u32(&durable_shared->paused, 0);
		pg_atomic_init_u32(&durable_shared->notes_state, NOTES_PENDING);
		pg_atomic_init_u32(&durable_shared->nverdicts, 0);
		ConditionVariableInit(&durable_shared->finished_cv);
		for (i = 0; i < DURABLE_TASK_CVS; i++)
			ConditionVariableInit(&durable_shared->task_cv[i]);
		for (i = 0; i < DC_COUNT; i++)
			pg_atomic_init_u64(&durable_shared->counters[i], 0);
		durable_shared->stats_since = GetCurrentTimestamp();
		for (i = 0; i < durable_shared->nslots; i++)
		{
			DurableWorkerSlot *slot = &durable_shared->slots[i];

			SpinLockInit(&slot->mutex);
			slot->pid = 0;
			slot->procno = -1;
			slot->driving = false;
			slot->stop_requested = false;
			slot->owner = InvalidOid;
			slot->drive_since = 0;
			slot->in_op = false;
			slot->verdict.kind = DV_NONE;
			pg_atomic_init_u32(&slot->idle, 0);
			pg_atomic_init_u32(&slot->stop_exit, 0);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * durable_shmem_init
 *		Called from _PG_init when preloaded.
 */
void
durable_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = durable_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = durable_shmem_startup;
}

/* NULL when the library was not preloaded */
DurableShared *
durable_shmem(void)
{
	return durable_shared;
}

DurableWorkerSlot *
durable_worker_slot(int n)
{
	if (durable_shared == NULL || n < 0 || n >= durable_shared->nslots)
		return NULL;
	return &durable_shared->slots[n];
}

static void
set_proc_latch(int procno)
{
	if (procno >= 0)
		SetLatch(&ProcGlobal->allProcs[procno].procLatch);
}

/*
 * durable_wake_workers
 *		Sets the latches of up to n idle workers.  Busy workers look for
 *		ready executions again before they sleep.
 */
void
durable_wake_workers(int n)
{
	int			i;

	if (durable_shared == NULL)
		return;
	for (i = 0; i < durable_shared->nslots && n > 0; i++)
	{
		DurableWorkerSlot *slot = &durable_shared->slots[i];
		uint32		expected = 1;

		if (pg_atomic_compare_exchange_u32(&slot->idle, &expected, 0))
		{
			int			procno;

			SpinLockAcquire(&slot->mutex);
			procno = slot->procno;
			SpinLockRelease(&slot->mutex);
			if (procno >= 0)
			{
				set_proc_latch(procno);
				n--;
			}
		}
	}
}

/* sets the launcher's latch, if it runs */
static void
durable_wake_launcher(void)
{
	int			procno;

	if (durable_shared == NULL)
		return;
	SpinLockAcquire(&durable_shared->mutex);
	procno = durable_shared->launcher_procno;
	SpinLockRelease(&durable_shared->mutex);
	set_proc_latch(procno);
}

/*
 * durable_request_stop
 *		If a worker is driving execution id, asks it to abandon that drive
 *		(a query cancel, which it recognises by the flag set here); true if
 *		one was.  The drive's transaction rolls back, releasing the rows
 *		that durable_stop then waits for.  With exit_worker (the code it
 *		runs has ignored the cancels so far), the worker ends itself at this
 *		cancel: its signal handler reads the flag, which the worker clears
 *		when it takes up another drive, so that the exit cannot hit that one.
 */
bool
durable_request_stop(const pg_uuid_t *id, bool exit_worker)
{
	int			i;
	bool		found = false;

	if (durable_shared == NULL)
		return false;
	for (i = 0; i < durable_shared->nslots; i++)
	{
		DurableWorkerSlot *slot = &durable_shared->slots[i];
		pid_t		pid = 0;

		SpinLockAcquire(&slot->mutex);
		if (slot->driving && slot->pid != 0 &&
			memcmp(&slot->execution, id, sizeof(pg_uuid_t)) == 0)
		{
			slot->stop_requested = true;
			if (exit_worker)
				pg_atomic_write_u32(&slot->stop_exit, 1);
			pid = slot->pid;
		}
		SpinLockRelease(&slot->mutex);
		if (pid != 0)
		{
			(void) kill(pid, SIGINT);
			found = true;
		}
	}
	return found;
}

/*
 * durable_verdict_set
 *		Leaves in a slot the outcome of the drive its worker ends by
 *		exiting; it replaces one that no drive took.
 */
void
durable_verdict_set(DurableWorkerSlot *slot, const DurableVerdict *v)
{
	bool		had;

	SpinLockAcquire(&slot->mutex);
	had = slot->verdict.kind != DV_NONE;
	slot->verdict = *v;
	SpinLockRelease(&slot->mutex);
	if (!had)
		pg_atomic_fetch_add_u32(&durable_shared->nverdicts, 1);
}

/*
 * durable_verdict_take
 *		Takes (and clears) a verdict of the given kind on execution id; true
 *		if there was one.  Cheap when there is none anywhere.
 */
bool
durable_verdict_take(const pg_uuid_t *id, DurableVerdictKind kind, DurableVerdict *v)
{
	int			i;
	bool		found = false;

	if (durable_shared == NULL || pg_atomic_read_u32(&durable_shared->nverdicts) == 0)
		return false;
	for (i = 0; i < durable_shared->nslots && !found; i++)
	{
		DurableWorkerSlot *slot = &durable_shared->slots[i];

		SpinLockAcquire(&slot->mutex);
		if (slot->verdict.kind == kind &&
			memcmp(&slot->verdict.execution, id, sizeof(pg_uuid_t)) == 0)
		{
			if (v != NULL)
				*v = slot->verdict;
			slot->verdict.kind = DV_NONE;
			found = true;
		}
		SpinLockRelease(&slot->mutex);
	}
	if (found)
		pg_atomic_fetch_sub_u32(&durable_shared->nverdicts, 1);
	return found;
}

/*
 * durable_launcher_at_end
 *		Wakes the launcher when this transaction ends; with pause, keeps it
 *		from starting workers until then.
 */
void
durable_launcher_at_end(bool pause)
{
	if (durable_shared == NULL)
		return;
	durable_register_xact_callback();
	if (pause && !paused_here)
	{
		pg_atomic_fetch_add_u32(&durable_shared->paused, 1);
		paused_here = true;
	}
	wake_launcher_at_end = true;
}

/*
 * durable_stopping_add
 *		Registers an execution as being stopped by this transaction until
 *		it ends: workers do not take it up meanwhile.  When the registry is
 *		full, nothing is registered (durable_stop then relies on cancelling
 *		the workers that take it up).
 */
void
durable_stopping_add(const pg_uuid_t *id)
{
	if (durable_shared == NULL || nstopping_here >= DURABLE_STOPPING_SLOTS)
		return;
	durable_register_xact_callback();
	SpinLockAcquire(&durable_shared->mutex);
	if (durable_shared->nstopping < DURABLE_STOPPING_SLOTS)
	{
		durable_shared->stopping[durable_shared->nstopping++] = *id;
		stopping_here[nstopping_here++] = *id;
	}
	SpinLockRelease(&durable_shared->mutex);
}

bool
durable_is_stopping(const pg_uuid_t *id)
{
	bool		found = false;
	int			i;

	if (durable_shared == NULL)
		return false;
	SpinLockAcquire(&durable_shared->mutex);
	for (i = 0; i < durable_shared->nstopping && !found; i++)
		found = memcmp(&durable_shared->stopping[i], id, sizeof(pg_uuid_t)) == 0;
	SpinLockRelease(&durable_shared->mutex);
	return found;
}

/*
 * durable_is_charging
 *		Whether a worker is charging an error of a drive of the execution:
 *		its transaction is rolled back (so its locks are gone) but the
 *		backoff is not written yet.  A driver that took the execution up
 *		in between would skip the backoff; it lets go instead.
 */
bool
durable_is_charging(const pg_uuid_t *id)
{
	bool		found = false;
	int			i;

	if (durable_shared == NULL)
		return false;
	for (i = 0; i < durable_shared->nslots && !found; i++)
	{
		DurableWorkerSlot *slot = &durable_shared->slots[i];

		SpinLockAcquire(&slot->mutex);
		found = slot->charging &&
			memcmp(&slot->charging_id, id, sizeof(pg_uuid_t)) == 0;
		SpinLockRelease(&slot->mutex);
	}
	return found;
}

/* forgets, at the end of the transaction, what it registered as stopping */
static void
stopping_clear(void)
{
	int			i,
				j;

	SpinLockAcquire(&durable_shared->mutex);
	for (i = 0; i < nstopping_here; i++)
	{
		for (j = 0; j < durable_shared->nstopping; j++)
		{
			if (memcmp(&durable_shared->stopping[j], &stopping_here[i],
					   sizeof(pg_uuid_t)) == 0)
			{
				durable_shared->stopping[j] =
					durable_shared->stopping[--durable_shared->nstopping];
				break;
			}
		}
	}
	SpinLockRelease(&durable_shared->mutex);
	nstopping_here = 0;
}

static void
durable_xact_callback(XactEvent event, void *arg)
{
	if (nstopping_here > 0 &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		 event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		 event == XACT_EVENT_PREPARE))
		stopping_clear();

	if (wake_launcher_at_end &&
		(event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		 event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT))
	{
		if (paused_here)
			pg_atomic_fetch_sub_u32(&durable_shared->paused, 1);
		paused_here = false;
		wake_launcher_at_end = false;
		durable_wake_launcher();
	}

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wakes_at_commit > 0)
				durable_wake_workers(wakes_at_commit);
			wakes_at_commit = 0;
			if (http_cancel_at_commit)
			{
				pg_atomic_fetch_add_u32(&durable_shared->http_cancels, 1);
				wake_http_at_commit = true;
			}
			http_cancel_at_commit = false;
			if (wake_http_at_commit)
			{
				int			procno;

				SpinLockAcquire(&durable_shared->mutex);
				procno = durable_shared->http_procno;
				SpinLockRelease(&durable_shared->mutex);
				set_proc_latch(procno);
			}
			wake_http_at_commit = false;
			if (task_cvs_at_commit != 0)
			{
				int			i;

				for (i = 0; i < DURABLE_TASK_CVS; i++)
					if (task_cvs_at_commit & ((uint32) 1 << i))
						ConditionVariableBroadcast(&durable_shared->task_cv[i]);
			}
			task_cvs_at_commit = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wakes_at_commit = 0;
			wake_http_at_commit = false;
			http_cancel_at_commit = false;
			task_cvs_at_commit = 0;
			break;
		default:
			break;
	}
}

/*
 * durable_register_xact_callback
 *		Registers the commit/abort callback of the wake-ups above once per
 *		backend.  signal.c (counters) and wfstats.c (counts per workflow)
 *		register their own: see signal.c's observe_xact_callback for why
 *		their order does not matter.
 */
static void
durable_register_xact_callback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(durable_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

/*
 * durable_wake_at_commit
 *		Asks for a worker to be woken when this transaction commits; a
 *		transaction that makes many executions ready wakes as many idle
 *		workers.
 */
void
durable_wake_at_commit(void)
{
	if (durable_shared == NULL || durable_max_workers == 0)
		return;
	durable_register_xact_callback();
	if (wakes_at_commit < Min(durable_max_workers, durable_shared->nslots))
		wakes_at_commit++;
}

static int
task_cv_index(const char *task_queue)
{
	return (int) (hash_bytes((const unsigned char *) task_queue, strlen(task_queue)) %
				  DURABLE_TASK_CVS);
}

/*
 * durable_task_cv
 *		The condition variable a claim of the task queue sleeps on; NULL
 *		when the library was not preloaded (no shared memory).
 */
ConditionVariable *
durable_task_cv(const char *task_queue)
{
	if (durable_shared == NULL)
		return NULL;
	return &durable_shared->task_cv[task_cv_index(task_queue)];
}

/*
 * durable_task_wake_at_commit
 *		Tasks of the task queue become claimable when this transaction
 *		commits: the claims waiting on it are woken then, not before (they
 *		would not see the rows) and not on rollback.
 */
void
durable_task_wake_at_commit(const char *task_queue)
{
	if (durable_shared == NULL)
		return;
	durable_register_xact_callback();
	task_cvs_at_commit |= (uint32) 1 << task_cv_index(task_queue);
}

/*
 * durable_wake_http_at_commit
 *		Asks for the HTTP worker to be woken when this transaction commits:
 *		it has a request to send.
 */
void
durable_wake_http_at_commit(void)
{
	if (durable_shared == NULL)
		return;
	durable_register_xact_callback();
	wake_http_at_commit = true;
}

/*
 * durable_http_cancel_at_commit
 *		Tells the HTTP worker, when this transaction commits, that rows of
 *		requests were deleted (a stop, a timeout, an end): it ends their
 *		transfers and frees their slots.
 */
void
durable_http_cancel_at_commit(void)
{
	if (durable_shared == NULL)
		return;
	durable_register_xact_callback();
	http_cancel_at_commit = true;
}

/*
 * durable_signal_workers
 *		Sends signo to the worker of every slot (0 sends nothing: it only
 *		checks that the process lives); returns how many it reached.  0
 *		when shared memory was not set up (the library not preloaded).
 */
int
durable_signal_workers(int signo)
{
	int			i;
	int			n = 0;

	if (durable_shared == NULL)
		return 0;
	for (i = 0; i < durable_shared->nslots; i++)
	{
		DurableWorkerSlot *slot = &durable_shared->slots[i];
		pid_t		pid;

		SpinLockAcquire(&slot->mutex);
		pid = slot->pid;
		SpinLockRelease(&slot->mutex);
		if (pid != 0 && kill(pid, signo) == 0)
			n++;
	}
	return n;
}

/*
 * durable_workers_running
 *		Whether any worker slot holds a live worker.
 */
bool
durable_workers_running(void)
{
	return durable_signal_workers(0) > 0;
}

/*
 * durable_activity_attach
 *		Makes slot the one whose operations this backend (a worker) shows.
 */
void
durable_activity_attach(DurableWorkerSlot *slot)
{
	activity_slot = slot;
}

/*
 * durable_activity_owner
 *		Records the owner of the execution being driven: who may see it.
 */
void
durable_activity_owner(Oid owner)
{
	if (activity_slot == NULL)
		return;
	SpinLockAcquire(&activity_slot->mutex);
	activity_slot->owner = owner;
	SpinLockRelease(&activity_slot->mutex);
}

/*
 * durable_activity_op
 *		Shows that the worker now performs an operation: its kind, its name
 *		(clipped to DURABLE_ACTIVITY_NAMELEN - 1 bytes), its op_id (0 when
 *		it has no checkpoint yet) and attempt (0 when not an attempt).  A
 *		no-op outside workers.
 */
void
durable_activity_op(const char *kind, const char *name, int32 op_id, int32 attempt)
{
	TimestampTz now;
	int			len;

	if (activity_slot == NULL)
		return;
	now = GetCurrentTimestamp();
	len = name == NULL ? 0 :
		pg_mbcliplen(name, strlen(name), DURABLE_ACTIVITY_NAMELEN - 1);
	SpinLockAcquire(&activity_slot->mutex);
	activity_slot->in_op = true;
	strlcpy(activity_slot->op_kind, kind, sizeof(activity_slot->op_kind));
	if (len > 0)
		memcpy(activity_slot->op_name, name, len);
	activity_slot->op_name[len] = '\0';
	activity_slot->op_id = op_id;
	activity_slot->op_attempt = attempt;
	activity_slot->op_since = now;
	SpinLockRelease(&activity_slot->mutex);
}

/*
 * durable_activity_op_end
 *		The operation was performed: the worker replays or commits.
 */
void
durable_activity_op_end(void)
{
	if (activity_slot == NULL)
		return;
	SpinLockAcquire(&activity_slot->mutex);
	activity_slot->in_op = false;
	SpinLockRelease(&activity_slot->mutex);
}

/*
 * durable_lock_extension
 *		The share lock of a worker transaction, for a transaction of a
 *		session driver (durable_drive, CALL durable_run, the tick), taken
 *		before it drives: an ALTER EXTENSION ... UPDATE waits for it, and
 *		it waits for the update, rather than the two deadlocking.
 */
void
durable_lock_extension(void)
{
	Oid			ext = get_extension_oid("durable", true);

	if (OidIsValid(ext))
		LockDatabaseObject(ExtensionRelationId, ext, 0, AccessShareLock);
}
