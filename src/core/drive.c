/*-------------------------------------------------------------------------
 *
 * drive.c
 *	  Driving the ready executions in a session: durable_drive_pending,
 *	  CALL durable_run and the pg_cron tick claim ready executions (in
 *	  turns between their owners) and drive each until it suspends,
 *	  finishes or the time is up.  An error that escapes a drive is charged
 *	  to its execution, and the session is put back as the call found it
 *	  after every drive.
 *
 * IDENTIFICATION
 *	  src/core/drive.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"

#include "core/core.h"

/* the commit of durable_drive_ready's caller, and one that locks again */
static void (*ready_commit) (void) = NULL;

/* durable_drive_advance as a function of durable_subxact_call */
typedef struct AdvanceCall
{
	DurableDrive *d;
	DurableAdvance r;
} AdvanceCall;

static void
commit_and_lock(void)
{
	ready_commit();
	durable_lock_extension();
}

static void
advance_call(void *arg)
{
	AdvanceCall *call = arg;

	call->r = durable_drive_advance(call->d);
}

/*
 * advance_guarded
 *		durable_drive_advance in a subtransaction: an error that escapes it
 *		is rolled back and returned in *edata (false), to be charged to the
 *		execution, except a cancel (the caller's ^C or statement_timeout),
 *		which goes on up.
 */
static bool
advance_guarded(DurableDrive *d, DurableAdvance *r, ErrorData **edata)
{
	AdvanceCall call;

	call.d = d;
	if (durable_subxact_call(advance_call, &call, edata))
	{
		*r = call.r;
		return true;
	}
	if (durable_current == d)
		durable_current = NULL;
	return false;
}

/*
 * drive_claimed
 *		Drives a claimed execution, with a commit after every operation
 *		(commit not NULL) until it suspends, finishes, continues as new or
 *		the deadline passes, or in the caller's transaction until it
 *		suspends, finishes or the deadline passes.  An error the drive
 *		raises is charged to the execution (durable_drive_charge_error) and
 *		logged, and the caller goes on with the others.
 */
static void
drive_claimed(DurableDrive *d, TimestampTz deadline, void (*commit) (void))
{
	pg_uuid_t	id = d->ex.id;
	ErrorData  *edata = NULL;
	DurableAdvance r;

	PG_TRY();
	{
		for (;;)
		{
			bool		yield;

			if (!advance_guarded(d, &r, &edata))
				break;
			if (commit == NULL)
			{
				if (r != DA_CONTINUE || durable_clock_now() >= deadline)
					break;
				continue;
			}
			yield = durable_drive_settle(d, r, deadline);
			commit();
			if (r != DA_CONTINUE || yield)
				break;
			/* lock the queue row again; stop if durable_stop finished it */
			if (!durable_drive_relock(d))
				break;
		}
	}
	PG_FINALLY();
	{
		durable_drive_end(d);
	}
	PG_END_TRY();

	if (edata != NULL)
	{
		/* on a schema of 1.1 there is nowhere to count it: raise it */
		if (!durable_storage_counts_drive_errors())
			ReThrowError(edata);
		ereport(LOG,
				(errmsg("durable: a drive of execution %s raised an error: %s",
						durable_uuid_out(&id), edata->message ? edata->message : "?"),
				 errdetail("SQLSTATE %s", unpack_sql_state(edata->sqlerrcode))));
		durable_drive_charge_error(&id, edata);
		if (commit != NULL)
			commit();
		FreeErrorData(edata);
	}
}

/*
 * durable_drive_ready
 *		Drives every ready execution the caller may control, taking turns
 *		between their owners and oldest due first within one, until none is
 *		ready or the deadline passes; returns how many drives it made.  With
 *		commit, a commit follows every operation (and lets go of a queue row
 *		another session's execution holds); without, all runs in the
 *		caller's transaction.  Passes over the queue repeat until one drives
 *		nothing: a drive leaves its execution finished or sleeping, and one
 *		that sleeps briefly may be due by the next pass.  One execution
 *		whose drives raise errors does not stop the others: see
 *		drive_claimed.  After each drive, and when the call fails, the
 *		session is put back as the call found it (util/session.c), so that no
 *		execution's session state reaches the next execution or the caller.
 */
int
durable_drive_ready(TimestampTz deadline, void (*commit) (void))
{
	bool		all = durable_caller_controls_all();
	volatile int count = 0;
	bool		drove = true;
	pg_uuid_t	id;
	DurableQueueCursor cursor;
	DurableSessionState *st;
	void		(*save_commit) (void) = ready_commit;

	durable_lock_extension();
	st = durable_session_save();
	ready_commit = commit;
	durable_queue_cursor_reset(&cursor);
	PG_TRY();
	{
		while (drove && durable_clock_now() < deadline)
		{
			durable_queue_cursor_new_pass(&cursor);
			drove = false;
			while (durable_clock_now() < deadline &&
				   durable_storage_claim_ready(durable_clock_now(), GetUserId(), all,
											   &cursor, &id))
			{
				DurableDrive *d = durable_drive_begin(&id, false, true);

				if (d != NULL && durable_is_charging(&id))
				{
					/* a worker whose drive of it failed writes its backoff */
					durable_drive_end(d);
					d = NULL;
				}
				if (d == NULL)
				{
					/* another session drives it */
					if (commit != NULL)
						commit_and_lock();
					continue;
				}
				drive_claimed(d, deadline, commit != NULL ? commit_and_lock : NULL);
				durable_session_restore(st, false);
				count++;
				drove = true;
			}
		}
	}
	PG_CATCH();
	{
		ready_commit = save_commit;
		durable_session_restore(st, true);
		durable_session_forget(st);
		PG_RE_THROW();
	}
	PG_END_TRY();
	ready_commit = save_commit;
	durable_session_forget(st);
	return count;
}

/*
 * durable_drive_one
 *		Drives an execution named by the caller until it suspends or
 *		finishes (waiting if another session drives it); returns its status,
 *		or NULL when it does not exist.  The caller's session is left as
 *		the drive found it (util/session.c), also when the drive fails.
 */
const char *
durable_drive_one(const pg_uuid_t *id)
{
	DurableSessionState *st;
	DurableDrive *volatile d = NULL;
	const char *volatile status = NULL;

	durable_lock_extension();
	st = durable_session_save();
	PG_TRY();
	{
		d = durable_drive_begin(id, true, false);
		if (d != NULL)
		{
			PG_TRY();
			{
				while (durable_drive_advance(d) == DA_CONTINUE)
					;
				status = durable_exec_status_name(d->ex.status);
			}
			PG_FINALLY();
			{
				durable_drive_end(d);
			}
			PG_END_TRY();
		}
	}
	PG_CATCH();
	{
		durable_session_restore(st, true);
		durable_session_forget(st);
		PG_RE_THROW();
	}
	PG_END_TRY();
	durable_session_restore(st, false);
	durable_session_forget(st);
	return status;
}
