/*-------------------------------------------------------------------------
 *
 * driver.c
 *	  The replay loop.  durable_drive_advance() replays the workflow once,
 *	  in a subtransaction that is rolled back unless the workflow finished,
 *	  then performs the operation the replay yielded (a step attempt, a
 *	  timer) and writes its checkpoint.  Callers decide where transactions
 *	  end: durable_drive keeps one, CALL durable_run commits after every
 *	  advance.
 *
 * IDENTIFICATION
 *	  src/driver.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "common/md5.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "core/core.h"
#include "ops/ops.h"			/* XXX: upward, until the kind table */
#include "util/durable_errcodes.h"

typedef enum ReplayResult
{
	RR_DONE,
	RR_YIELD,
	RR_ERROR
} ReplayResult;

/*
 * definition_hash
 *		The md5 of a function's definition (its pg_proc row), as hex.
 */
static char *
definition_hash(HeapTuple tup)
{
	bool		isnull;
	Datum		src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
	char	   *def = isnull ? "" : TextDatumGetCString(src);
	char	   *hex = palloc(33);
	const char *errstr = NULL;

	if (!pg_md5_hash(def, strlen(def), hex, &errstr))
		elog(ERROR, "could not compute md5: %s", errstr ? errstr : "unknown error");
	return hex;
}

/*
 * durable_resolve_workflow
 *		Resolves a workflow given as text like a function name in SQL and
 *		checks it: one jsonb argument, returns jsonb, an ordinary function,
 *		not a system function (of pg_catalog or information_schema), and
 *		(if asked) EXECUTE for the current role.  Optionally returns its
 *		qualified name and the md5 of its definition.
 */
Oid
durable_resolve_workflow(const char *workflow, bool check_execute,
						 char **qualified, char **hash)
{
	List	   *names;
	Oid			argtypes[1] = {JSONBOID};
	Oid			fn;
	HeapTuple	tup;
	Form_pg_proc proc;

	names = stringToQualifiedNameList(workflow);
	fn = LookupFuncName(names, 1, argtypes, true);
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("workflow function %s(jsonb) does not exist", workflow),
				 errhint("A workflow is a function that takes one jsonb argument and returns jsonb.")));

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prokind != PROKIND_FUNCTION || proc->proretset ||
		proc->prorettype != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("function %s(jsonb) is not a workflow", workflow),
				 errdetail("A workflow is a function that takes one jsonb argument and returns one jsonb value.")));
	if (proc->pronamespace == PG_CATALOG_NAMESPACE ||
		proc->pronamespace == get_namespace_oid("information_schema", true))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("function %s.%s(jsonb) is a system function and cannot be a workflow",
						get_namespace_name(proc->pronamespace), NameStr(proc->proname)),
				 errhint("Write the workflow as a function of your own, which may call it.")));

	if (check_execute)
	{
		AclResult	aclresult = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);

		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_FUNCTION, NameStr(proc->proname));
	}

	if (qualified != NULL)
		*qualified = quote_qualified_identifier(get_namespace_name(proc->pronamespace),
												NameStr(proc->proname));
	if (hash != NULL)
		*hash = definition_hash(tup);
	ReleaseSysCache(tup);
	return fn;
}

/*
 * durable_resolve_workflow_as
 *		durable_resolve_workflow as the given role, with its EXECUTE checked:
 *		the owner of an execution, whoever drives or redrives it.
 */
Oid
durable_resolve_workflow_as(const char *workflow, Oid role, char **qualified, char **hash)
{
	Oid			save_userid;
	int			save_sec;
	Oid			fn;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		fn = durable_resolve_workflow(workflow, true, qualified, hash);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	return fn;
}

/*
 * durable_workflow_hash
 *		The md5 of a workflow's definition, given by its qualified name;
 *		NULL when there is no such function (it was dropped).
 */
char *
durable_workflow_hash(const char *qualified)
{
	List	   *names = stringToQualifiedNameList(qualified);
	Oid			argtypes[1] = {JSONBOID};
	Oid			fn = LookupFuncName(names, 1, argtypes, true);
	HeapTuple	tup;
	char	   *hash;

	if (!OidIsValid(fn))
		return NULL;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		return NULL;
	hash = definition_hash(tup);
	ReleaseSysCache(tup);
	return hash;
}

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

static void
drive_locktag(const pg_uuid_t *id, LOCKTAG *tag)
{
	SET_LOCKTAG_OBJECT(*tag, MyDatabaseId,
					   hash_bytes(id->data, 8), hash_bytes(id->data + 8, 8),
					   DURABLE_LOCKTAG_FIELD4);
}

/*
 * new_ops_hash
 *		An empty table of checkpoints, keyed by context and position.
 */
static HTAB *
new_ops_hash(MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(DurableOpKey);
	ctl.entrysize = sizeof(DurableOp);
	ctl.hcxt = cxt;
	return hash_create("durable checkpoints", 64, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * durable_drive_begin
 *		Takes the drive lock (waiting for it if wait, else giving up when
 *		another session holds it), locks the execution's queue row (unless
 *		queue_locked: a claim just locked it) and row, and sets up
 *		its drive state, in a context of its own that outlives transactions.
 *		NULL when there is no such execution or its lock is busy.
 */
static DurableDrive *
drive_begin(const pg_uuid_t *id, bool wait, bool queue_locked, bool load_ops)
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

	d->ops = new_ops_hash(cxt);
	d->fresh = true;

	/* a new execution has no checkpoints (a redriven one has): skip the load */
	if (!load_ops)
		d->ops_unknown = true;
	else if (strcmp(d->ex.status, "PENDING") != 0 || d->ex.redrive_count > 0)
		durable_storage_load_ops(d);
	return d;
}

DurableDrive *
durable_drive_begin(const pg_uuid_t *id, bool wait, bool queue_locked)
{
	return drive_begin(id, wait, queue_locked, true);
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
#define DURABLE_STOP_POLL_MS 10
#define DURABLE_STOP_RESEND_MS 100

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

/*
 * op_event
 *		The history event for a checkpoint as it is now written.
 */
static const char *
op_event(DurableOp *op)
{
	switch (op->status)
	{
		case DOS_SUCCEEDED:
			return op->kind == DOK_LOG ? "log" : "operation_succeeded";
		case DOS_FAILED:
			return "operation_failed";
		case DOS_PENDING:
			return op->error != NULL ? "operation_retried" : "operation_started";
		case DOS_STARTED:
			return "operation_started";
		case DOS_CANCELLED:
			return "operation_cancelled";
		case DOS_TIMED_OUT:
			return "operation_timed_out";
	}
	return "operation";
}

static Jsonb *
op_event_details(DurableOp *op)
{
	const char *keys[3] = {"attempt", "wake_at", "error"};
	Jsonb	   *values[3] = {NULL, NULL, NULL};

	if (op->kind == DOK_LOG)
		return op->result;
	if ((op->kind == DOK_STEP || op->kind == DOK_CONDITION) &&
		(op->attempt > 1 || op->status == DOS_PENDING))
		values[0] = durable_jsonb_int(op->attempt);
	if (op->status == DOS_PENDING && op->wake_at != DT_NOBEGIN)
		values[1] = durable_jsonb_string(DatumGetCString(DirectFunctionCall1(timestamptz_out,
																			 TimestampTzGetDatum(op->wake_at))));
	values[2] = op->error;
	if (values[0] == NULL && values[1] == NULL && values[2] == NULL)
		return NULL;
	return durable_jsonb_build(3, keys, values);
}

/*
 * bound_history
 *		Keeps the history of the execution under durable.max_history_events:
 *		past it, the oldest quarter becomes one history_summarized event.
 *		Counting costs an index scan of the execution's history, so it is
 *		done after a quarter of the limit was written in this drive, or, at
 *		the end of a drive (ending), only for executions big enough to be
 *		near the limit: checkpoints and runs are a cheap lower bound.
 */
static void
bound_history(DurableDrive *d, int written, bool ending)
{
	int			limit = durable_max_history_events;

	if (limit <= 0)
		return;
	d->history_unchecked += written;
	if (d->history_unchecked < Max(limit / 4, 1) &&
		(!ending || (int64) hash_get_num_entries(d->ops) + d->ex.run_no < limit / 8))
		return;
	d->history_unchecked = 0;
	(void) durable_storage_history_trim(&d->ex.id, d->ex.owner, limit,
										limit - limit / 4);
}

/*
 * flush
 *		Writes the checkpoints created or changed since the last flush, each
 *		with its history event.
 */
static void
flush(DurableDrive *d)
{
	ListCell   *lc;
	int			events = 0;

	foreach(lc, d->dirty)
	{
		DurableOp  *op = lfirst(lc);

		durable_storage_write_op(d, op);
		if (!op->quiet)
		{
			durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner,
									op_event(op), op, op_event_details(op));
			events++;
		}
		op->quiet = false;
	}
	list_free(d->dirty);
	d->dirty = NIL;
	if (events > 0)
		bound_history(d, events, false);
}

/*
 * replay_timed_out
 *		Makes edata the error of a replay that outlived
 *		durable.replay_timeout.
 */
static void
replay_timed_out(ErrorData *edata)
{
	edata->sqlerrcode = ERRCODE_DURABLE_LIMIT_EXCEEDED;
	edata->message = psprintf("replay of the workflow ran longer than durable.replay_timeout (%d ms)",
							  durable_replay_timeout);
	edata->detail = pstrdup("A replay is the workflow body between two durable operations; it ran too long without reaching one.");
	edata->hint = pstrdup("Move long computations into steps; check the workflow for endless loops.");
}

/*
 * replay
 *		Calls the workflow function once, as its owner, read-only, inside a
 *		subtransaction that is rolled back unless the function returned
 *		without yielding.
 */
static ReplayResult
replay(DurableDrive *d, Datum *result, bool *isnull, ErrorData **error)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	DurableOwnerState st;
	ReplayResult rr = RR_DONE;
	ErrorData  *edata = NULL;
	bool		timed_out = false;

	d->yielded = false;
	d->pending.kind = DPK_NONE;
	d->ctx.parent_op_id = 0;
	d->ctx.next_position = 0;
	d->ctx_depth = 0;
	d->raised_op = NULL;

	/*
	 * The same replay ran in the last drive, caught the cancel of its
	 * timeout and ran on until its worker exited: it timed out.
	 */
	if (durable_replay_timeout > 0 &&
		durable_verdict_take(&d->ex.id, DV_REPLAY_TIMEOUT, NULL))
	{
		edata = palloc0(sizeof(ErrorData));
		edata->elevel = ERROR;
		replay_timed_out(edata);
		edata->detail = psprintf("%s It caught the cancel and ran on; the worker driving it exited to end it.",
								 edata->detail);
		*error = edata;
		return RR_ERROR;
	}

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		FmgrInfo	flinfo;

		durable_owner_enter(&st, d->ex.owner, d->ex.search_path, true);
		d->in_replay = true;
		durable_current = d;
		if (durable_replay_timeout > 0)
			durable_timeout_arm((int64) durable_replay_timeout * 1000);

		fmgr_info(d->fn_oid, &flinfo);
		InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = JsonbPGetDatum(d->ex.input);
		fcinfo->args[0].isnull = false;
		*result = FunctionCallInvoke(fcinfo);
		*isnull = fcinfo->isnull;

		if (durable_replay_timeout > 0)
			durable_timeout_finish();
		d->in_replay = false;
		durable_owner_exit(&st);

		if (d->yielded || d->fatal != NULL)
		{
			/* a yield or fatal error was swallowed: discard what followed */
			RollbackAndReleaseCurrentSubTransaction();
			rr = d->fatal != NULL ? RR_ERROR : RR_YIELD;
		}
		else
			ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		d->in_replay = false;
		if (durable_replay_timeout > 0)
			timed_out = durable_timeout_disarm();
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;

		if (d->fatal != NULL)
			rr = RR_ERROR;
		else if (d->yielded)
			rr = RR_YIELD;
		else if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !timed_out)
			ReThrowError(edata);	/* a real cancel ends the drive */
		else
			rr = RR_ERROR;
	}
	PG_END_TRY();

	if (rr != RR_ERROR)
		return rr;

	if (d->fatal != NULL)
	{
		*error = NULL;
		return rr;
	}
	if (timed_out)
		replay_timed_out(edata);
	else if (edata->sqlerrcode == ERRCODE_READ_ONLY_SQL_TRANSACTION)
	{
		edata->detail = psprintf("The body raised: %s", edata->message);
		edata->message = pstrdup("a workflow body cannot change the database");
		edata->sqlerrcode = ERRCODE_DURABLE_WRITE_IN_WORKFLOW;
		edata->hint = pstrdup("Replays of the workflow body are rolled back; put writes, nextval() and row locks in a durable_step.");
	}
	*error = edata;
	return rr;
}

/*
 * has_open_ops
 *		Whether an operation of the run is still STARTED or PENDING, or
 *		made a callback that may still be pending (durable_create_callback
 *		without an await).
 */
static bool
has_open_ops(DurableDrive *d)
{
	HASH_SEQ_STATUS status;
	DurableOp  *op;

	hash_seq_init(&status, d->ops);
	while ((op = hash_seq_search(&status)) != NULL)
	{
		if (op->status == DOS_STARTED || op->status == DOS_PENDING ||
			op->kind == DOK_CREATE_CALLBACK)
		{
			hash_seq_term(&status);
			return true;
		}
	}
	return false;
}

/*
 * finish
 *		Writes a terminal status.
 */
static DurableAdvance
finish(DurableDrive *d, const char *status, Jsonb *result, Jsonb *error)
{
	TimestampTz now = durable_clock_now();
	const char *keys[2] = {"status", "error"};
	Jsonb	   *values[2];

	flush(d);
	if (d->ops_unknown || has_open_ops(d))
	{
		/* what it still waits on: operations, callbacks, children */
		durable_storage_cancel_ops(&d->ex.id, d->ex.run_no, now);
		durable_storage_callbacks_cancel(&d->ex.id, now);
		durable_storage_http_cancel(&d->ex.id);
		durable_children_stop(&d->ex.id);
	}
	/* events no wait took are of no use once it has finished */
	durable_storage_events_delete(&d->ex.id);
	durable_storage_set_status(&d->ex.id, status, result, error, DT_NOBEGIN, now);
	durable_storage_queue_delete(&d->ex.id);
	durable_status_changed(&d->ex, status);
	durable_log_failure(&d->ex, status, error);
	if (d->ex.has_parent)
		durable_report_to_parent(&d->ex, status, result, error);
	values[0] = durable_jsonb_string(status);
	values[1] = error;
	durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner,
							strcmp(status, "SUCCEEDED") == 0 ? "succeeded" :
							strcmp(status, "FAILED") == 0 ? "failed" :
							strcmp(status, "TIMED_OUT") == 0 ? "timed_out" : "finished",
							NULL, durable_jsonb_build(2, keys, values));
	bound_history(d, 1, true);
	d->ex.status = MemoryContextStrdup(d->cxt, status);
	return DA_FINISHED;
}

/*
 * timed_out
 *		The execution ran past its execution_timeout (while the operation
 *		opname ran, if not NULL).
 */
static DurableAdvance
timed_out(DurableDrive *d, const char *opname)
{
	ErrorData	timeout;

	memset(&timeout, 0, sizeof(timeout));
	timeout.sqlerrcode = ERRCODE_DURABLE_LIMIT_EXCEEDED;
	timeout.message = pstrdup("execution timed out");
	timeout.detail = pstrdup("It ran past the execution_timeout given to durable_start.");
	return finish(d, "TIMED_OUT", NULL, durable_error_to_jsonb(&timeout, opname));
}

static DurableAdvance
fail(DurableDrive *d, ErrorData *edata)
{
	const char *opname = NULL;

	if (d->raised_op != NULL && d->raised_op->error != NULL)
	{
		char	   *msg = durable_jsonb_get_text(d->raised_op->error, "message");

		if (msg != NULL && edata->message != NULL && strcmp(msg, edata->message) == 0)
			opname = d->raised_op->name;
	}
	return finish(d, "FAILED", NULL, durable_error_to_jsonb(edata, opname));
}

/*
 * durable_drive_fail
 *		Ends the execution FAILED with an error of the engine's own (not
 *		the workflow's), such as a crash loop.
 */
void
durable_drive_fail(DurableDrive *d, int sqlerrcode, const char *message,
				   const char *detail, const char *hint)
{
	ErrorData	edata;

	memset(&edata, 0, sizeof(edata));
	edata.sqlerrcode = sqlerrcode;
	edata.message = pstrdup(message);
	edata.detail = detail ? pstrdup(detail) : NULL;
	edata.hint = hint ? pstrdup(hint) : NULL;
	(void) finish(d, "FAILED", NULL, durable_error_to_jsonb(&edata, NULL));
}

/*
 * suspend
 *		The execution sleeps until wake_at (or its deadline, if earlier).
 */
static DurableAdvance
suspend(DurableDrive *d, TimestampTz wake_at, const char *opname)
{
	const char *keys[2] = {"wake_at", "operation"};
	Jsonb	   *values[2];

	flush(d);
	if (d->ex.deadline != DT_NOBEGIN && d->ex.deadline < wake_at)
		wake_at = d->ex.deadline;
	/* DT_NOEND: until a message comes (the queue row stays, due never) */
	durable_storage_set_status(&d->ex.id, "SUSPENDED", NULL, NULL,
							   wake_at == DT_NOEND ? DT_NOBEGIN : wake_at,
							   durable_clock_now());
	durable_storage_queue_set(&d->ex.id, d->ex.owner, wake_at);
	durable_status_changed(&d->ex, "SUSPENDED");
	values[0] = wake_at == DT_NOEND ? NULL :
		durable_jsonb_string(DatumGetCString(DirectFunctionCall1(timestamptz_out,
																 TimestampTzGetDatum(wake_at))));
	values[1] = durable_jsonb_string(opname);
	durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner, "suspended",
							NULL, durable_jsonb_build(2, keys, values));
	bound_history(d, 1, true);
	d->ex.status = MemoryContextStrdup(d->cxt, "SUSPENDED");
	return DA_SUSPENDED;
}

/*
 * step_verdict
 *		Whether this attempt of the pending step has run before and ended
 *		only when its worker exited, because it ignored the cancel of its
 *		own timeout (its outcome, rolled back with the worker's transaction,
 *		was left in shared memory).  A verdict on another operation or
 *		attempt is stale and dropped.
 */
static bool
step_verdict(DurableDrive *d, int attempt)
{
	DurableVerdict v;

	if (!durable_verdict_take(&d->ex.id, DV_STEP_TIMEOUT, &v))
		return false;
	return v.key.parent_op_id == d->pending.key.parent_op_id &&
		v.key.position == d->pending.key.position &&
		v.attempt == attempt && v.timeout == d->pending.retry.timeout &&
		v.timeout > 0;
}

/*
 * perform_step
 *		Runs one attempt of the pending step and checkpoints its outcome: a
 *		result, a retry (a durable timer), or the failure the workflow sees.
 *		An attempt still running at the execution's deadline is cancelled
 *		and the execution is TIMED_OUT.
 */
static DurableAdvance
perform_step(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = p->op;
	int			attempt = op != NULL ? op->attempt + 1 : 1;
	ErrorData  *err = NULL;
	Jsonb	   *result;
	TimestampTz started = durable_clock_now();
	int64		timeout = p->retry.timeout;
	bool		until_deadline = false;
	MemoryContext old;

	durable_count(DC_STEPS, 1);
	durable_wfstats_count(d->ex.workflow, DC_STEPS, 1);
	/* durable_drive_advance saw the deadline ahead: stop the attempt there */
	if (d->ex.deadline != DT_NOBEGIN &&
		(timeout == 0 || d->ex.deadline - started < timeout))
	{
		timeout = Max(d->ex.deadline - started, 1);
		until_deadline = true;
	}

	if (step_verdict(d, attempt))
	{
		/* this attempt ran and outlived its timeout: its worker ended it */
		result = NULL;
		err = durable_step_timeout_error(p->retry.timeout);
		err->detail = pstrdup("The attempt caught the cancel of its timeout and ran on; the worker driving it exited to end it.");
	}
	else
	{
		d->in_step = true;
		PG_TRY();
		{
			result = durable_step_run(p->sql, p->args, d->ex.owner, d->ex.search_path,
									  timeout, &err);
		}
		PG_FINALLY();
		{
			d->in_step = false;
		}
		PG_END_TRY();
	}

	if (until_deadline && err != NULL && err->sqlerrcode == ERRCODE_DURABLE_STEP_TIMEOUT)
	{
		/* the execution's deadline cancelled the attempt, not its own timeout */
		if (op == NULL)
		{
			op = durable_op_create(d, &p->key, DOK_STEP, p->name, DOS_STARTED);
			op->started_at = started;
		}
		else
			durable_op_mark_dirty(d, op);
		old = MemoryContextSwitchTo(d->cxt);
		op->attempt = attempt;
		op->status = DOS_TIMED_OUT;
		op->error = NULL;
		op->wake_at = DT_NOBEGIN;
		op->finished_at = durable_clock_now();
		MemoryContextSwitchTo(old);
		return timed_out(d, op->name);
	}

	/* a result over the limits is a failure that no retry can mend */
	if (err == NULL && result != NULL)
	{
		Size		size = VARSIZE(result);

		if (size > (Size) durable_max_payload_size ||
			d->ckpt_bytes + size > (int64) durable_max_execution_bytes * 1024)
		{
			err = palloc0(sizeof(ErrorData));
			err->sqlerrcode = ERRCODE_DURABLE_LIMIT_EXCEEDED;
			err->message = size > (Size) durable_max_payload_size ?
				psprintf("step result is too large (%zu bytes; durable.max_payload_size is %d)",
						 size, durable_max_payload_size) :
				psprintf("checkpoints of this run would exceed durable.max_execution_bytes (%d kB)",
						 durable_max_execution_bytes);
			err->hint = pstrdup("Keep large data in tables and return keys from steps.");
		}
	}

	if (op == NULL)
	{
		op = durable_op_create(d, &p->key, DOK_STEP, p->name, DOS_STARTED);
		op->started_at = started;
	}
	else
		durable_op_mark_dirty(d, op);
	op->attempt = attempt;

	old = MemoryContextSwitchTo(d->cxt);
	if (err == NULL)
	{
		op->status = DOS_SUCCEEDED;
		op->result = result ? (Jsonb *) datumCopy(JsonbPGetDatum(result), false, -1) : NULL;
		op->error = NULL;
		op->wake_at = DT_NOBEGIN;
		op->finished_at = durable_clock_now();
		d->ckpt_bytes += result ? VARSIZE(result) : 0;
	}
	else if (attempt < p->retry.max_attempts &&
			 err->sqlerrcode != ERRCODE_DURABLE_LIMIT_EXCEEDED &&
			 durable_retry_allows(&p->retry, err->sqlerrcode))
	{
		op->status = DOS_PENDING;
		op->error = durable_error_to_jsonb(err, NULL);
		op->wake_at = durable_clock_now() + durable_retry_delay(&p->retry, attempt);
		durable_count(DC_RETRIES, 1);
		durable_wfstats_count(d->ex.workflow, DC_RETRIES, 1);
	}
	else
	{
		ErrorData	failed;

		memset(&failed, 0, sizeof(failed));
		failed.sqlerrcode = ERRCODE_DURABLE_STEP_FAILED;
		failed.message = psprintf("step \"%s\" failed: %s", p->name, err->message);
		failed.detail = psprintf("Attempt %d of %d raised SQLSTATE %s%s%s%s",
								 attempt, p->retry.max_attempts,
								 unpack_sql_state(err->sqlerrcode),
								 attempt < p->retry.max_attempts &&
								 ERRCODE_TO_CATEGORY(err->sqlerrcode) == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION ?
								 ", a programming error, retried only when retry_on names it" : "",
								 err->detail ? ": " : ".",
								 err->detail ? err->detail : "");
		failed.hint = err->hint;
		op->status = DOS_FAILED;
		op->error = durable_error_to_jsonb(&failed, NULL);
		op->wake_at = DT_NOBEGIN;
		op->finished_at = durable_clock_now();
		if (attempt >= p->retry.max_attempts && p->retry.max_attempts > 1)
			durable_log_exhausted(&d->ex, p->name, attempt,
								  durable_error_to_jsonb(err, NULL));
	}
	MemoryContextSwitchTo(old);

	if (op->status == DOS_PENDING && op->wake_at > durable_clock_now())
		return suspend(d, op->wake_at, op->name);
	flush(d);
	return DA_CONTINUE;
}

static DurableAdvance performed(DurableDrive *d, TimestampTz wake_at, const char *opname);

/*
 * perform_http
 *		Sends an attempt of the pending HTTP request: through the HTTP
 *		worker when a worker drives the execution (it suspends until the
 *		answer comes as a message), else in place.  An attempt already made
 *		is waited for while its request is with the HTTP worker; one that
 *		is not was lost and counts as failed.
 */
static DurableAdvance
perform_http(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = p->op;
	char	   *key;
	Jsonb	   *outcome;
	MemoryContext old;

	if (op != NULL && op->status == DOS_STARTED)
	{
		if (durable_storage_http_in_flight(&d->ex.id, d->ex.run_no, op->op_id))
			return performed(d, DT_NOEND, p->name);
		outcome = p->retry.at_most_once ?
			durable_http_error_outcome("unknown", "the attempt was interrupted") :
			durable_http_error_outcome("connection", "the attempt was interrupted");
		durable_http_apply(d, op, outcome, p->options);
	}
	else
	{
		if (op == NULL)
			op = durable_op_create(d, &p->key, DOK_HTTP, p->name, DOS_STARTED);
		else
		{
			durable_op_mark_dirty(d, op);
			op->status = DOS_STARTED;
			op->attempt++;
			op->error = NULL;
			op->wake_at = DT_NOBEGIN;
		}
		old = MemoryContextSwitchTo(d->cxt);
		key = durable_http_idempotency_key(&d->ex, op->op_id);
		MemoryContextSwitchTo(old);
		if (durable_http_async)
		{
			durable_storage_http_insert(&d->ex, op->op_id, op->attempt, p->args, p->options,
										key, p->retry.at_most_once, durable_clock_now());
			durable_wake_http_at_commit();
			return performed(d, DT_NOEND, p->name);
		}
		durable_count(DC_STEPS, 1);
		durable_wfstats_count(d->ex.workflow, DC_STEPS, 1);
		outcome = durable_http_send(p->args, p->options, key, d->ex.owner);
		durable_http_apply(d, op, outcome, p->options);
	}
	if (op->status == DOS_PENDING && op->wake_at > durable_clock_now())
		return suspend(d, op->wake_at, op->name);
	flush(d);
	return DA_CONTINUE;
}

/*
 * performed
 *		After an operation that may wait: replay at once (wake_at is
 *		DT_NOBEGIN, or already past), or suspend until wake_at (DT_NOEND:
 *		until a message) unless a message that came meanwhile ends the wait.
 */
static DurableAdvance
performed(DurableDrive *d, TimestampTz wake_at, const char *opname)
{
	if (wake_at == DT_NOBEGIN || wake_at <= durable_clock_now())
	{
		flush(d);
		return DA_CONTINUE;
	}
	if (durable_drain(d))
		return DA_CONTINUE;
	return suspend(d, wake_at, opname);
}

/*
 * activity_op_begin
 *		Shows in durable.activity (workers only) the operation about to be
 *		performed: kind, name, op_id when it has a checkpoint, and the
 *		attempt of a step or HTTP request.
 */
static void
activity_op_begin(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = p->op;
	const char *kind;
	int32		attempt = 0;

	switch (p->kind)
	{
		case DPK_NONE:
			return;
		case DPK_STEP:
			kind = "step";
			attempt = op != NULL ? op->attempt + 1 : 1;
			break;
		case DPK_HTTP:
			kind = "http";
			attempt = op != NULL ? op->attempt + 1 : 1;
			break;
		case DPK_WAIT:
			kind = "wait";
			break;
		case DPK_CONTINUE_AS_NEW:
			kind = "continue_as_new";
			break;
		default:
			/* as in durable.operations */
			kind = durable_op_kind_name(op != NULL ? op->kind : p->op_kind);
			break;
	}
	durable_activity_op(kind, p->name, op != NULL ? op->op_id : 0, attempt);
}

/*
 * perform
 *		Performs what the replay yielded.
 */
static DurableAdvance
perform(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op;

	switch (p->kind)
	{
		case DPK_STEP:
			return perform_step(d);

		case DPK_WAIT:
			op = durable_op_create(d, &p->key, DOK_WAIT, p->name, DOS_PENDING);
			op->wake_at = p->wake_at;
			if (p->wake_at > durable_clock_now())
				return suspend(d, p->wake_at, p->name);
			flush(d);
			return DA_CONTINUE;

		case DPK_SLEEP:
			/* a message that came meanwhile may end the wait */
			if (durable_drain(d))
				return DA_CONTINUE;
			return suspend(d, p->wake_at, p->name);

		case DPK_CALLBACK:
			return performed(d, durable_perform_callback(d), p->name);

		case DPK_AWAIT_CALLBACK:
			return performed(d, durable_perform_await_callback(d), p->name);

		case DPK_CHECK_CALLBACK:
			return performed(d, durable_perform_check_callback(d), p->name);

		case DPK_EVENT:
			return performed(d, durable_perform_event(d), p->name);

		case DPK_CONDITION:
			return performed(d, durable_perform_condition(d), p->name);

		case DPK_CHILDREN:
			return performed(d, durable_perform_children(d), p->name);

		case DPK_HTTP:
			return perform_http(d);

		case DPK_CONTINUE_AS_NEW:
			{
				const char *keys[1] = {"next_run_no"};
				Jsonb	   *values[1];
				MemoryContext old;

				flush(d);
				values[0] = durable_jsonb_int(d->ex.run_no + 1);
				durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner,
										"continued_as_new", NULL,
										durable_jsonb_build(1, keys, values));
				bound_history(d, 1, true);
				durable_storage_new_run(&d->ex.id, d->ex.run_no + 1, p->input,
										durable_clock_now());
				durable_count(DC_CONTINUED, 1);
				old = MemoryContextSwitchTo(d->cxt);
				d->ex.run_no++;
				d->ex.input = (Jsonb *) datumCopy(JsonbPGetDatum(p->input), false, -1);
				hash_destroy(d->ops);
				d->ops = new_ops_hash(d->cxt);
				d->max_op_id = 0;
				d->ckpt_bytes = 0;
				MemoryContextSwitchTo(old);
				/* a new run: a committing drive lets the others have a turn */
				d->yield = true;
				return DA_CONTINUE;
			}

		case DPK_NONE:
			break;
	}
	elog(ERROR, "durable replay yielded without a pending operation");
	return DA_FINISHED;			/* keep compiler quiet */
}

/*
 * conclude
 *		What a replay leads to: a terminal status (true, *res set), or an
 *		operation to perform (false; the checkpoints the replay made are
 *		written).
 */
static bool
conclude(DurableDrive *d, ReplayResult rr, Datum result, bool isnull,
		 ErrorData *error, DurableAdvance *res)
{
	if (d->fatal != NULL)
		*res = finish(d, "FAILED", NULL, d->fatal);
	else if (rr == RR_ERROR)
	{
		flush(d);
		*res = fail(d, error);
	}
	else if (rr == RR_DONE)
	{
		Jsonb	   *jb = isnull ? NULL : DatumGetJsonbP(result);

		if (jb != NULL && VARSIZE(jb) > (Size) durable_max_payload_size)
		{
			ErrorData	big;

			memset(&big, 0, sizeof(big));
			big.sqlerrcode = ERRCODE_DURABLE_LIMIT_EXCEEDED;
			big.message = psprintf("workflow result is too large (%zu bytes; durable.max_payload_size is %d)",
								   (Size) VARSIZE(jb), durable_max_payload_size);
			*res = fail(d, &big);
		}
		else
			*res = finish(d, "SUCCEEDED", jb, NULL);
	}
	else
	{
		flush(d);
		return false;
	}
	return true;
}

/*
 * durable_drive_advance
 *		Performs the next operation of the execution, and replays it once
 *		more to learn what follows: a terminal status is written in the same
 *		transaction, an operation is kept for the next call.  Runs in the
 *		caller's transaction; SPI must be connected.
 *
 *		Each transaction thus holds one operation and the replay after it
 *		(plus, in the first, the replay that found it): an execution of n
 *		operations takes n transactions and n + 1 replays.  The replay kept
 *		across a commit is read-only and its own checkpoints (durable_now
 *		and the like) were written before that commit, so a drive that
 *		stops between two calls loses nothing: the next drive replays again.
 */
DurableAdvance
durable_drive_advance(DurableDrive *d)
{
	MemoryContext oldcxt;
	DurableAdvance res;
	Datum		result;
	bool		isnull = true;
	ErrorData  *error = NULL;
	ReplayResult rr;
	TimestampTz now = durable_clock_now();
	bool		carried = d->carried;

	d->carried = false;
	if (strcmp(d->ex.status, "PENDING") != 0 &&
		strcmp(d->ex.status, "RUNNING") != 0 &&
		strcmp(d->ex.status, "SUSPENDED") != 0)
	{
		/* messages that came too late: nothing will read them */
		if (d->fresh)
			durable_storage_inbox_delete(&d->ex.id);
		d->fresh = false;
		return DA_FINISHED;
	}

	/* the operation found by the last call lives in replay_cxt */
	if (!carried)
		MemoryContextReset(d->replay_cxt);
	oldcxt = MemoryContextSwitchTo(d->replay_cxt);

	if (strcmp(d->ex.status, "RUNNING") != 0)
	{
		durable_storage_history(&d->ex.id, d->ex.run_no, d->ex.owner,
								strcmp(d->ex.status, "PENDING") == 0 ? "started" : "resumed",
								NULL, NULL);
		durable_storage_set_status(&d->ex.id, "RUNNING", NULL, NULL, DT_NOBEGIN, now);
		if (strcmp(d->ex.status, "SUSPENDED") == 0)
			durable_count(DC_TIMERS_FIRED, 1);
		durable_status_changed(&d->ex, "RUNNING");
		d->ex.status = MemoryContextStrdup(d->cxt, "RUNNING");
	}

	if (d->ex.deadline != DT_NOBEGIN && now >= d->ex.deadline)
	{
		res = timed_out(d, NULL);
		MemoryContextSwitchTo(oldcxt);
		return res;
	}

	if (!OidIsValid(d->fn_oid))
	{
		ErrorData  *edata = NULL;

		PG_TRY();
		{
			d->fn_oid = durable_resolve_workflow_as(d->ex.workflow, d->ex.owner, NULL, NULL);
		}
		PG_CATCH();
		{
			MemoryContextSwitchTo(d->replay_cxt);
			edata = CopyErrorData();
			FlushErrorState();
			d->fn_oid = InvalidOid;
		}
		PG_END_TRY();
		if (edata != NULL)
		{
			res = fail(d, edata);
			MemoryContextSwitchTo(oldcxt);
			return res;
		}
	}

	/*
	 * The messages that came while it slept, before the replay decides
	 * whether its waits timed out.  A new execution has none that matter
	 * yet: they are taken before it first suspends.
	 */
	if (d->fresh && strcmp(d->ex.status, "PENDING") != 0)
		(void) durable_drain(d);
	d->fresh = false;

	if (!carried)
	{
		rr = replay(d, &result, &isnull, &error);
		if (conclude(d, rr, result, isnull, error, &res))
		{
			MemoryContextSwitchTo(oldcxt);
			return res;
		}
	}

	activity_op_begin(d);
	res = perform(d);
	durable_activity_op_end();
	if (res == DA_CONTINUE)
	{
		MemoryContext spare = d->spare_cxt;

		/* replay what follows into the other context, keeping what it yields */
		d->spare_cxt = d->replay_cxt;
		d->replay_cxt = spare;
		MemoryContextReset(d->replay_cxt);
		MemoryContextSwitchTo(d->replay_cxt);
		isnull = true;
		error = NULL;
		rr = replay(d, &result, &isnull, &error);
		if (!conclude(d, rr, result, isnull, error, &res))
		{
			d->carried = true;
			res = DA_CONTINUE;
		}
	}

	MemoryContextSwitchTo(oldcxt);
	return res;
}

/*
 * durable_drive_settle
 *		What follows an advance, before its commit: an intermediate commit
 *		(an operation was performed and the drive goes on) need not wait for
 *		the WAL flush unless durable.synchronous_commit is on; suspensions
 *		and terminal states always do.  A drive that continued as new or
 *		passed its deadline yields: its execution is still ready, and its
 *		queue row is made due now, so that the work ready before comes
 *		first.  Returns whether the drive yields.
 */
bool
durable_drive_settle(DurableDrive *d, DurableAdvance r, TimestampTz deadline)
{
	bool		yield = false;

	if (r == DA_CONTINUE)
	{
		if (!durable_synchronous_commit)
			(void) set_config_option("synchronous_commit", "off",
									 PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_LOCAL, true, 0, false);
		if (d->yield || durable_clock_now() >= deadline)
		{
			yield = true;
			durable_storage_queue_set(&d->ex.id, d->ex.owner, durable_clock_now());
		}
	}
	d->yield = false;
	return yield;
}

/*
 * durable_drive_committing
 *		Advances an execution with a commit after every operation, until it
 *		suspends, finishes, continues as new or the deadline passes (see
 *		durable_drive_settle).  commit() ends the current transaction and
 *		starts the next.
 */
DurableAdvance
durable_drive_committing(DurableDrive *d, TimestampTz deadline, void (*commit) (void))
{
	for (;;)
	{
		DurableAdvance r = durable_drive_advance(d);
		bool		yield = durable_drive_settle(d, r, deadline);

		commit();
		if (r != DA_CONTINUE || yield)
			return r;
		/* lock the queue row again; stop if durable_stop finished it */
		if (!durable_drive_relock(d))
			return DA_FINISHED;
	}
}

/*
 * durable_drive_charge_error
 *		An error escaped a drive of the execution (the drive's transaction,
 *		or subtransaction, is rolled back and the drive ended): counts it
 *		against the execution, which then waits 1 s, 2 s, 4 s ... (at most
 *		a minute) before any driver takes it again, so that others are
 *		driven meanwhile, and fails with WF018 once it has raised
 *		durable.max_drive_errors errors in a row without progress.  Runs in
 *		the caller's transaction; nothing when the execution has finished
 *		or another session drives it.
 */
void
durable_drive_charge_error(const pg_uuid_t *id, ErrorData *edata)
{
	DurableDrive *d = NULL;
	const char *sqlstate;
	int			errors;
	int			tries;

	/*
	 * A driver that claimed the execution between the abort and now lets
	 * go of it as soon as it sees that the error is being charged
	 * (durable_is_charging): wait a little for that, not for a whole
	 * drive of a session that holds it.
	 */
	for (tries = 0; tries < 100 && d == NULL; tries++)
	{
		if (tries > 0)
		{
			pg_usleep(10000L);
			CHECK_FOR_INTERRUPTS();
		}
		d = drive_begin(id, false, false, false);
	}
	if (d == NULL)
		return;
	sqlstate = unpack_sql_state(edata->sqlerrcode);
	PG_TRY();
	{
		if (strcmp(d->ex.status, "PENDING") != 0 &&
			strcmp(d->ex.status, "RUNNING") != 0 &&
			strcmp(d->ex.status, "SUSPENDED") != 0)
			errors = 0;
		else
			errors = durable_storage_note_drive_error(id);
		if (errors >= durable_max_drive_errors)
		{
			ereport(LOG,
					(errmsg("durable: execution %s failed: its drives raised %d errors in a row",
							durable_uuid_out(id), errors)));
			durable_drive_fail(d, ERRCODE_DURABLE_DRIVE_ERRORS,
							   psprintf("driving the execution failed %d time%s in a row",
										errors, errors == 1 ? "" : "s"),
							   psprintf("The last error was SQLSTATE %s: %s. The errors escaped the driver "
										"(they are not failures of the workflow), with no progress in between; "
										"durable.max_drive_errors is %d.",
										sqlstate, edata->message ? edata->message : "?",
										durable_max_drive_errors),
							   "Fix the cause (the server log has each error), then call durable_redrive.");
		}
		else if (errors > 0)
		{
			int64		delay = INT64CONST(1000000) << Min(errors - 1, 6);
			TimestampTz retry_at;
			const char *keys[4] = {"errors", "message", "retry_at", "sqlstate"};
			Jsonb	   *values[4];

			delay = Min(delay, INT64CONST(60000000));
			retry_at = durable_clock_now() + delay;
			durable_storage_queue_backoff(id, retry_at);
			values[0] = durable_jsonb_int(errors);
			values[1] = durable_jsonb_string(edata->message ? edata->message : "?");
			values[2] = durable_jsonb_string(DatumGetCString(DirectFunctionCall1(timestamptz_out,
																				 TimestampTzGetDatum(retry_at))));
			values[3] = durable_jsonb_string(sqlstate);
			durable_storage_history(id, d->ex.run_no, d->ex.owner, "drive_error", NULL,
									durable_jsonb_build(4, keys, values));
			ereport(LOG,
					(errmsg("durable: a drive of execution %s raised an error (%d time%s in a row); it waits until %s",
							durable_uuid_out(id), errors, errors == 1 ? "" : "s",
							DatumGetCString(DirectFunctionCall1(timestamptz_out,
																TimestampTzGetDatum(retry_at))))));
		}
	}
	PG_FINALLY();
	{
		durable_drive_end(d);
	}
	PG_END_TRY();
}
