/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared memory of the durable extension: one slot per background
 *	  worker (its latch and whether it is idle), and
 *	  the commit-time wake-ups that backends send them.
 *
 * A backend that makes an execution ready (durable_start) asks for a wake
 * at commit; a transaction callback then sets the latch of an idle worker
 * once the commit is visible, never before it and never on rollback.
 *
 * IDENTIFICATION
 *	  src/shmem.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"

#include "durable.h"

static DurableShared *durable_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* workers to wake when the current transaction commits */
static int	wakes_at_commit = 0;
static bool xact_callback_registered = false;

static Size
durable_shmem_size(void)
{
	return add_size(offsetof(DurableShared, slots),
					mul_size(sizeof(DurableWorkerSlot), durable_max_workers));
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
		durable_shared->nslots = durable_max_workers;
		for (i = 0; i < durable_max_workers; i++)
		{
			DurableWorkerSlot *slot = &durable_shared->slots[i];

			SpinLockInit(&slot->mutex);
			slot->pid = 0;
			slot->procno = -1;
			pg_atomic_init_u32(&slot->idle, 0);
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

DurableWorkerSlot *
durable_worker_slot(int n)
{
	if (durable_shared == NULL || n < 0 || n >= durable_shared->nslots)
		return NULL;
	return &durable_shared->slots[n];
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
				SetLatch(&ProcGlobal->allProcs[procno].procLatch);
				n--;
			}
		}
	}
}

static void
durable_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wakes_at_commit > 0)
				durable_wake_workers(wakes_at_commit);
			wakes_at_commit = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wakes_at_commit = 0;
			break;
		default:
			break;
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
	if (durable_shared == NULL || durable_shared->nslots == 0)
		return;
	if (!xact_callback_registered)
	{
		RegisterXactCallback(durable_xact_callback, NULL);
		xact_callback_registered = true;
	}
	if (wakes_at_commit < durable_shared->nslots)
		wakes_at_commit++;
}

/*
 * durable_workers_running
 *		Whether any worker slot holds a live worker: false when none runs,
 *		and when shared memory was not set up (the library not preloaded).
 */
bool
durable_workers_running(void)
{
	int			i;

	if (durable_shared == NULL)
		return false;
	for (i = 0; i < durable_shared->nslots; i++)
	{
		DurableWorkerSlot *slot = &durable_shared->slots[i];
		pid_t		pid;

		SpinLockAcquire(&slot->mutex);
		pid = slot->pid;
		SpinLockRelease(&slot->mutex);
		if (pid != 0 && kill(pid, 0) == 0)
			return true;
	}
	return false;
}
