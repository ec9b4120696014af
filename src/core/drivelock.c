/*-------------------------------------------------------------------------
 *
 * drivelock.c
 *	  Taking up an execution to drive it: the drive lock (a session-level
 *	  lock of the execution's id, held for the whole drive across
 *	  transactions, so that one session drives an execution at a time),
 *	  the execution's row locked in each transaction, and the drive's
 *	  memory.  durable_stop waits here for a drive in another session.
 *
 * IDENTIFICATION
 *	  src/core/drivelock.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "utils/memutils.h"

#include "core/core.h"
#include "util/durable_errcodes.h"

/*
 * The drive lock: a session-level lock on the execution, held for the whole
 * drive, across the commits of CALL durable_run and of the workers, so that
 * two drivers never run one execution at once.  It is an object lock, not
 * an advisory one, so that pg_advisory_unlock_all() in a step cannot
 * release it.  Its second and third fields hash the execution id where
 * PostgreSQL's own object locks have a catalog and an object OID, and its
 * fourth keeps it apart from those (which use 0 or a column number).  Like
 * every session-level lock but advisory ones, it goes away when the
 * transaction aborts (not a subtransaction: a failed step keeps it); an
 * abort ends the drive anyway, and durable_drive_end knows it may be gone.
 */
#define DURABLE_LOCKTAG_FIELD4 0x44

#define DURABLE_STOP_POLL_MS 10
#define DURABLE_STOP_RESEND_MS 100

static void
drive_locktag(const pg_uuid_t *id, LOCKTAG *tag)
{
	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId,
					   hash_bytes(id->data, 8), hash_bytes(id->data + 8, 8),
					   DURABLE_LOCKTAG_FIELD4);
}

/*
 * durable_drive_take
 *		Takes the drive lock (waiting for it if wait, else giving up when
 *		another session holds it), locks the execution's queue row (unless
 *		queue_locked: a claim just locked it) and row, and sets up
 *		its drive state, in a context of its own that outlives transactions.
 *		NULL when there is no such execution or its lock is busy.  load_ops:
 *		its checkpoints are loaded now (else a finish cancels all).
 */
DurableDrive *
durable_drive_take(const pg_uuid_t *id, bool wait, bool queue_locked, bool load_ops)
{
	MemoryContext cxt;
	DurableDrive *d;
	LOCKTAG		tag;

	drive_locktag(id, &tag);
	if (LockAcquire(&tag, ExclusiveLock, true, !wait) == LOCKACQUIRE_NOT_AVAIL)
		return NULL;

	cxt = AllocSetContextCreate(TopMemoryContext, "durable drive",
								ALLOCSET_DEFAULT_SIZES);
	d = MemoryContextAllocZero(cxt, sizeof(DurableDrive));
	d->cxt = cxt;
	d->replay_cxt = AllocSetContextCreate(cxt, "durable replay",
										  ALLOCSET_DEFAULT_SIZES);
	d->spare_cxt = AllocSetContextCreate(cxt, "durable replay",
										 ALLOCSET_DEFAULT_SIZES);
	PG_TRY();
	{
		if (!durable_storage_lock_execution(id, &d->ex, cxt, queue_locked))
		{
			/* gone (purged): drop what was still sent to it */
			durable_storage_inbox_delete(id);
			MemoryContextDelete(cxt);
			d = NULL;
		}
	}
	PG_CATCH();
	{
		LockRelease(&tag, ExclusiveLock, true);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (d == NULL)
	{
		LockRelease(&tag, ExclusiveLock, true);
		return NULL;
	}

	d->ops = durable_ops_hash_new(cxt);
	d->fresh = true;

	/* a new execution has no checkpoints (a redriven one has): skip the load */
	if (!load_ops)
		d->ops_unknown = true;
	else if (d->ex.status != DES_PENDING || d->ex.redrive_count > 0)
		durable_storage_load_ops(d);
	return d;
}

/*
 * durable_drive_begin
 *		durable_drive_take, checkpoints loaded: a drive that advances.
 */
DurableDrive *
durable_drive_begin(const pg_uuid_t *id, bool wait, bool queue_locked)
{
	return durable_drive_take(id, wait, queue_locked, true);
}

/*
 * durable_drive_stop_wait
 *		For durable_stop: takes the drive lock for this transaction, so that
 *		no session starts a drive of the execution before it ends.  A
 *		worker that holds it is asked to abandon its drive, again every
 *		DURABLE_STOP_RESEND_MS if need be (the code it runs may catch a
 *		cancel, another worker may claim the execution in between); when
 *		the drive still holds the lock DURABLE_CANCEL_GRACE_MS after the
 *		first cancel, the worker is told to end itself at the next one.
 *		Another session's drive is waited for.
 */
void
durable_drive_stop_wait(const pg_uuid_t *id)
{
	LOCKTAG		tag;
	TimestampTz first_sent = 0;
	TimestampTz last_sent = 0;

	drive_locktag(id, &tag);
	for (;;)
	{
		TimestampTz now;

		if (LockAcquire(&tag, ExclusiveLock, false, true) != LOCKACQUIRE_NOT_AVAIL)
			return;
		now = GetCurrentTimestamp();
		if (last_sent == 0 ||
			TimestampDifferenceExceeds(last_sent, now, DURABLE_STOP_RESEND_MS))
		{
			bool		exit_worker = first_sent != 0 &&
				TimestampDifferenceExceeds(first_sent, now, DURABLE_CANCEL_GRACE_MS);

			if (!durable_request_stop(id, exit_worker))
				break;
			if (first_sent == 0)
				first_sent = now;
			last_sent = now;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 DURABLE_STOP_POLL_MS, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * durable_drive_stop_release
 *		Lets go of the drive lock durable_drive_stop_wait took.
 */
void
durable_drive_stop_release(const pg_uuid_t *id)
{
	LOCKTAG		tag;

	drive_locktag(id, &tag);
	(void) LockRelease(&tag, ExclusiveLock, false);
}

/*
 * durable_drive_relock
 *		After a commit: locks the execution's queue row again.  The drive
 *		lock kept other drivers away; only durable_stop can have finished
 *		the execution meanwhile, and it deletes that row.  False when the
 *		drive must end.
 */
bool
durable_drive_relock(DurableDrive *d)
{
	return durable_storage_lock_queue(&d->ex.id);
}

/*
 * durable_drive_end
 *		Lets go of the drive lock and frees the drive's memory.
 */
void
durable_drive_end(DurableDrive *d)
{
	LOCKTAG		tag;

	if (durable_current == d)
		durable_current = NULL;
	drive_locktag(&d->ex.id, &tag);
	/* after an abort, the lock is gone already */
	if (LockHeldByMe(&tag, ExclusiveLock))
		LockRelease(&tag, ExclusiveLock, true);
	MemoryContextDelete(d->cxt);
}
