/*-------------------------------------------------------------------------
 *
 * ops.c
 *	  The primitives called inside workflows: durable_step, durable_wait,
 *	  durable_wait_until, durable_now, durable_random, durable_uuid,
 *	  durable_log, durable_continue_as_new and durable_child.
 *
 * Each primitive takes the next position in its context and looks up its
 * checkpoint in the drive's memory.  A checkpoint that matches in kind and
 * name returns its stored result (or raises its stored error); one that
 * does not is a non-determinism error.  The first operation without a
 * checkpoint is recorded as the drive's pending operation and the replay
 * ends with the yield signal (SQLSTATE WF000), which the driver catches.
 * Operations whose value can be made here without touching anything
 * (durable_now, durable_random, durable_uuid, durable_log, timers already
 * due) are checkpointed in memory and written by the driver after the
 * replay, so they cost no extra replay.
 *
 * Nothing in this file touches a table: a replay must stay side-effect
 * free.
 *
 * IDENTIFICATION
 *	  src/ops.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "durable.h"
#include "durable_errcodes.h"

/* deepest nesting of durable_child */
#define DURABLE_MAX_CHILD_DEPTH 32

DurableDrive *durable_current = NULL;

static void yield(DurableDrive *d) pg_attribute_noreturn();

/*
 * durable_raise_op_error
 *		Raises an error stored as {message, sqlstate, detail, hint}.
 */
void
durable_raise_op_error(Jsonb *error)
{
	char	   *message = durable_jsonb_get_text(error, "message");
	char	   *sqlstate = durable_jsonb_get_text(error, "sqlstate");
	char	   *detail = durable_jsonb_get_text(error, "detail");
	char	   *hint = durable_jsonb_get_text(error, "hint");
	int			code = ERRCODE_DURABLE_STEP_FAILED;

	if (sqlstate != NULL && strlen(sqlstate) == 5)
		code = MAKE_SQLSTATE(sqlstate[0], sqlstate[1], sqlstate[2],
							 sqlstate[3], sqlstate[4]);
	ereport(ERROR,
			(errcode(code),
			 errmsg_internal("%s", message ? message : "operation failed"),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/*
 * yield
 *		Ends the replay.  The flag, not the error, is what the driver trusts:
 *		a workflow that catches the error still cannot go on.
 */
static void
yield(DurableDrive *d)
{
	d->yielded = true;
	ereport(ERROR,
			(errcode(ERRCODE_DURABLE_YIELD),
			 errmsg("durable workflow yield"),
			 errdetail("This signal ends a replay of a durable workflow; workflows must not catch it."),
			 errhidestmt(true),
			 errhidecontext(true)));
}

/*
 * enter_op
 *		The drive of the current replay; an error outside workflows, inside
 *		a step, and after a yield or a fatal error of this replay.
 */
static DurableDrive *
enter_op(const char *fname)
{
	DurableDrive *d = durable_current;

	if (d != NULL && d->in_step)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_NOT_IN_WORKFLOW),
				 errmsg("%s cannot be called inside a step", fname),
				 errhint("Durable operations belong in the workflow body, not in the SQL a step runs.")));
	if (d == NULL || !d->in_replay)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_NOT_IN_WORKFLOW),
				 errmsg("%s can only be called inside a durable workflow", fname),
				 errhint("Start the workflow with durable_start(); a driver calls it.")));
	if (d->fatal != NULL)
		durable_raise_op_error(d->fatal);
	if (d->yielded)
		yield(d);
	return d;
}

/*
 * fatal
 *		An error that ends the run whatever the workflow does with it
 *		(non-determinism, limits): kept in the drive, raised again by every
 *		later primitive, and taken by the driver as the run's failure.
 */
static void
fatal(DurableDrive *d, int sqlerrcode, const char *message, const char *detail,
	  const char *hint)
{
	ErrorData	edata;
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	memset(&edata, 0, sizeof(edata));
	edata.sqlerrcode = sqlerrcode;
	edata.message = (char *) message;
	edata.detail = (char *) detail;
	edata.hint = (char *) hint;
	d->fatal = durable_error_to_jsonb(&edata, NULL);
	MemoryContextSwitchTo(old);
	durable_raise_op_error(d->fatal);
}

/*
 * lookup
 *		Takes the next position of the current context and returns its
 *		checkpoint, checking that it is the same kind and name; NULL when
 *		there is none.
 */
static DurableOp *
lookup(DurableDrive *d, DurableOpKind kind, const char *name, DurableOpKey *key)
{
	DurableOp  *op;

	key->parent_op_id = d->ctx.parent_op_id;
	key->position = ++d->ctx.next_position;
	op = (DurableOp *) hash_search(d->ops, key, HASH_FIND, NULL);
	if (op != NULL && (op->kind != kind || strcmp(op->name, name) != 0))
		fatal(d, ERRCODE_DURABLE_NONDETERMINISM,
			  psprintf("non-deterministic workflow: operation %d%s was %s \"%s\" in the history, now %s \"%s\"",
					   key->position,
					   key->parent_op_id ? psprintf(" of child context %d", key->parent_op_id) : "",
					   durable_op_kind_name(op->kind), op->name,
					   durable_op_kind_name(kind), name),
			  "A replay must call the same durable operations in the same order as the history.",
			  "Keep the code an execution started with until it finishes; read time, random numbers and data through durable operations.");
	return op;
}

/*
 * durable_op_create
 *		A checkpoint created by this replay, in memory; the driver writes it.
 */
static void
check_op_limit(DurableDrive *d)
{
	if (d->max_op_id >= durable_max_operations)
		fatal(d, ERRCODE_DURABLE_LIMIT_EXCEEDED,
			  psprintf("execution has reached %d operations in this run", d->max_op_id),
			  "The limit is set by durable.max_operations.",
			  "Move long loops into durable_child or start the next run with durable_continue_as_new.");
}

DurableOp *
durable_op_create(DurableDrive *d, const DurableOpKey *key, DurableOpKind kind,
				  const char *name, DurableOpStatus status)
{
	DurableOp  *op;
	bool		found;
	MemoryContext old;

	old = MemoryContextSwitchTo(d->cxt);
	op = (DurableOp *) hash_search(d->ops, key, HASH_ENTER, &found);
	Assert(!found);
	op->op_id = ++d->max_op_id;
	op->kind = kind;
	op->name = pstrdup(name);
	op->status = status;
	op->attempt = 1;
	op->result = NULL;
	op->error = NULL;
	op->wake_at = DT_NOBEGIN;
	op->started_at = durable_clock_now();
	op->finished_at = status == DOS_SUCCEEDED ? op->started_at : DT_NOBEGIN;
	op->stored = false;
	op->dirty = true;
	d->dirty = lappend(d->dirty, op);
	MemoryContextSwitchTo(old);
	return op;
}

void
durable_op_mark_dirty(DurableDrive *d, DurableOp *op)
{
	if (!op->dirty)
	{
		MemoryContext old = MemoryContextSwitchTo(d->cxt);

		op->dirty = true;
		d->dirty = lappend(d->dirty, op);
		MemoryContextSwitchTo(old);
	}
}

static void
set_result(DurableDrive *d, DurableOp *op, Jsonb *result)
{
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	op->result = result ? (Jsonb *) datumCopy(JsonbPGetDatum(result), false, -1) : NULL;
	MemoryContextSwitchTo(old);
}

static Jsonb *
copy_result(DurableOp *op)
{
	if (op->result == NULL)
		return NULL;
	return (Jsonb *) datumCopy(JsonbPGetDatum(op->result), false, -1);
}

/*
 * pending_begin
 *		Starts recording the pending operation, in the replay's context.
 */
static MemoryContext
pending_begin(DurableDrive *d, DurablePendingKind kind, const DurableOpKey *key,
			  DurableOp *op, const char *name)
{
	MemoryContext old = MemoryContextSwitchTo(d->replay_cxt);

	memset(&d->pending, 0, sizeof(d->pending));
	d->pending.kind = kind;
	d->pending.key = *key;
	d->pending.op = op;
	d->pending.name = pstrdup(name);
	return old;
}

/*
 * wait_on
 *		An operation waiting on a timer: done when due, else the execution
 *		sleeps until then.
 */
static void
wait_on(DurableDrive *d, DurableOp *op, const DurableOpKey *key)
{
	if (op->wake_at <= durable_clock_now())
		return;
	pending_begin(d, DPK_SLEEP, key, op, op->name);
	d->pending.wake_at = op->wake_at;
	yield(d);
}

/* ----------------------------------------------------------------
 * durable_step(name text, sql text, args jsonb, options jsonb) RETURNS jsonb
 * ----------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(durable_step);

Datum
durable_step(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_step");
	char	   *name = durable_text_arg(fcinfo, 0, "step name");
	char	   *sql = durable_text_arg(fcinfo, 1, "step SQL");
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	DurableOpKey key;
	DurableOp  *op;
	DurableRetryOptions retry;
	MemoryContext old;

	durable_check_name("step name", name);
	op = lookup(d, DOK_STEP, name, &key);
	if (op != NULL)
	{
		switch (op->status)
		{
			case DOS_SUCCEEDED:
				if (op->result == NULL)
					PG_RETURN_NULL();
				PG_RETURN_JSONB_P(copy_result(op));
			case DOS_PENDING:
				/* a retry delay: sleep until it is over */
				wait_on(d, op, &key);
				break;
			case DOS_STARTED:
				break;
			default:
				d->raised_op = op;
				durable_raise_op_error(op->error);
		}
	}
	else
		check_op_limit(d);		/* before the step runs, not after */

	/* the next attempt is due: the driver runs it */
	old = MemoryContextSwitchTo(d->replay_cxt);
	durable_parse_retry_options(options, &retry);
	MemoryContextSwitchTo(old);
	old = pending_begin(d, DPK_STEP, &key, op, name);
	d->pending.sql = pstrdup(sql);
	if (!PG_ARGISNULL(2))
		d->pending.args = (Jsonb *) datumCopy(PG_GETARG_DATUM(2), false, -1);
	d->pending.retry = retry;
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/* ----------------------------------------------------------------
 * timers
 * ----------------------------------------------------------------
 */
static void
timer(DurableDrive *d, const char *name, TimestampTz wake_at)
{
	DurableOpKey key;
	DurableOp  *op;

	op = lookup(d, DOK_WAIT, name, &key);
	if (op == NULL)
	{
		check_op_limit(d);
		if (wake_at <= durable_clock_now())
		{
			/* already due: checkpoint it as done, no replay needed */
			op = durable_op_create(d, &key, DOK_WAIT, name, DOS_SUCCEEDED);
			op->wake_at = wake_at;
			return;
		}
		pending_begin(d, DPK_WAIT, &key, NULL, name);
		d->pending.wake_at = wake_at;
		yield(d);
	}

	switch (op->status)
	{
		case DOS_SUCCEEDED:
			return;
		case DOS_PENDING:
			wait_on(d, op, &key);
			/* due: the timer fired */
			op->status = DOS_SUCCEEDED;
			op->finished_at = durable_clock_now();
			durable_op_mark_dirty(d, op);
			return;
		default:
			d->raised_op = op;
			durable_raise_op_error(op->error);
	}
}

static void
check_wait_length(int64 us)
{
	if (us > (int64) durable_max_wait * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("wait is longer than durable.max_wait"),
				 errdetail("The limit is %d seconds.", durable_max_wait)));
}

PG_FUNCTION_INFO_V1(durable_wait);

/*
 * durable_wait(name text, duration interval) RETURNS void
 */
Datum
durable_wait(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_wait");
	char	   *name = durable_text_arg(fcinfo, 0, "wait name");
	int64		us;

	durable_check_name("wait name", name);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("wait duration must not be null")));
	us = durable_interval_us(PG_GETARG_INTERVAL_P(1), "wait duration");
	check_wait_length(us);
	timer(d, name, durable_clock_now() + us);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_wait_until);

/*
 * durable_wait_until(name text, at timestamptz) RETURNS void
 */
Datum
durable_wait_until(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_wait_until");
	char	   *name = durable_text_arg(fcinfo, 0, "wait name");
	TimestampTz at;

	durable_check_name("wait name", name);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("wait time must not be null")));
	at = PG_GETARG_TIMESTAMPTZ(1);
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("wait time must be finite")));
	check_wait_length(at - durable_clock_now());
	timer(d, name, at);
	PG_RETURN_VOID();
}

/* ----------------------------------------------------------------
 * values checkpointed at first use: durable_now, durable_random,
 * durable_uuid
 * ----------------------------------------------------------------
 */

/*
 * value_op
 *		The stored value of a value operation, or NULL for a new one (the
 *		caller then stores its value with set_result).
 */
static DurableOp *
value_op(DurableDrive *d, DurableOpKind kind, const char *name, char **stored)
{
	DurableOpKey key;
	DurableOp  *op = lookup(d, kind, name, &key);

	if (op != NULL)
	{
		*stored = durable_jsonb_get_text(op->result, "value");
		return op;
	}
	*stored = NULL;
	check_op_limit(d);
	return durable_op_create(d, &key, kind, name, DOS_SUCCEEDED);
}

static void
store_value(DurableDrive *d, DurableOp *op, const char *value)
{
	const char *keys[1] = {"value"};
	Jsonb	   *values[1];

	values[0] = durable_jsonb_string(value);
	set_result(d, op, durable_jsonb_build(1, keys, values));
}

PG_FUNCTION_INFO_V1(durable_now);

/*
 * durable_now() RETURNS timestamptz
 */
Datum
durable_now(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_now");
	char	   *stored;
	DurableOp  *op = value_op(d, DOK_NOW, "now", &stored);
	TimestampTz now;

	if (stored != NULL)
		return DirectFunctionCall3(timestamptz_in, CStringGetDatum(stored),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	now = durable_clock_now();
	store_value(d, op, DatumGetCString(DirectFunctionCall1(timestamptz_out,
														   TimestampTzGetDatum(now))));
	PG_RETURN_TIMESTAMPTZ(now);
}

PG_FUNCTION_INFO_V1(durable_random);

/*
 * durable_random() RETURNS float8
 */
Datum
durable_random(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_random");
	char	   *stored;
	DurableOp  *op = value_op(d, DOK_RANDOM, "random", &stored);
	float8		r;

	if (stored != NULL)
		PG_RETURN_FLOAT8(float8in_internal(stored, NULL, "double precision", stored));
	r = pg_prng_double(&pg_global_prng_state);
	store_value(d, op, float8out_internal(r));
	PG_RETURN_FLOAT8(r);
}

PG_FUNCTION_INFO_V1(durable_uuid);

/*
 * durable_uuid() RETURNS uuid
 */
Datum
durable_uuid(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_uuid");
	char	   *stored;
	DurableOp  *op = value_op(d, DOK_UUID, "uuid", &stored);
	pg_uuid_t  *u;

	if (stored != NULL)
		return DirectFunctionCall1(uuid_in, CStringGetDatum(stored));
	u = palloc(sizeof(pg_uuid_t));
	durable_uuid7(u);
	store_value(d, op, durable_uuid_out(u));
	PG_RETURN_UUID_P(u);
}

PG_FUNCTION_INFO_V1(durable_log);

/*
 * durable_log(level text, message text, details jsonb) RETURNS void
 *		Checkpointed, so the driver writes the history line once.
 */
Datum
durable_log(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_log");
	char	   *level = durable_text_arg(fcinfo, 0, "log level");
	char	   *message = durable_text_arg(fcinfo, 1, "log message");
	DurableOpKey key;
	DurableOp  *op;
	const char *keys[3] = {"level", "message", "details"};
	Jsonb	   *values[3];

	if (strcmp(level, "debug") != 0 && strcmp(level, "info") != 0 &&
		strcmp(level, "notice") != 0 && strcmp(level, "warning") != 0 &&
		strcmp(level, "error") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid log level \"%s\"", level),
				 errhint("Valid levels are debug, info, notice, warning and error.")));

	op = lookup(d, DOK_LOG, level, &key);
	if (op != NULL)
		PG_RETURN_VOID();

	check_op_limit(d);
	values[0] = durable_jsonb_string(level);
	values[1] = durable_jsonb_string(message);
	values[2] = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	op = durable_op_create(d, &key, DOK_LOG, level, DOS_SUCCEEDED);
	set_result(d, op, durable_jsonb_build(3, keys, values));
	durable_check_payload("log details", op->result);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_continue_as_new);

/*
 * durable_continue_as_new(input jsonb) RETURNS void
 */
Datum
durable_continue_as_new(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_continue_as_new");
	DurableOpKey key;
	MemoryContext old;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("input of the next run must not be null")));
	if (d->ctx_depth > 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("durable_continue_as_new cannot be called inside durable_child"),
				 errhint("Call it from the top level of the workflow.")));
	durable_check_payload("input of the next run", PG_GETARG_JSONB_P(0));
	key.parent_op_id = 0;
	key.position = d->ctx.next_position + 1;
	old = pending_begin(d, DPK_CONTINUE_AS_NEW, &key, NULL, "continue_as_new");
	d->pending.input = (Jsonb *) datumCopy(PG_GETARG_DATUM(0), false, -1);
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_VOID();			/* not reached */
}

PG_FUNCTION_INFO_V1(durable_child);

/*
 * durable_child(name text, workflow text, input jsonb) RETURNS jsonb
 *		Runs a workflow function in a child context: its operations have
 *		positions of their own, and once it has finished the replay skips
 *		it as one checkpoint.  A child that fails raises WF006 here.
 */
Datum
durable_child(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_child");
	char	   *name = durable_text_arg(fcinfo, 0, "child name");
	char	   *workflow = durable_text_arg(fcinfo, 1, "child workflow");
	Jsonb	   *input = PG_ARGISNULL(2) ? durable_cstring_to_jsonb("{}") : PG_GETARG_JSONB_P(2);
	DurableOpKey key;
	DurableOp  *op;
	Oid			fn;
	DurableContext saved;
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Datum		result = (Datum) 0;
	bool		isnull = true;
	ErrorData  *edata = NULL;

	durable_check_name("child name", name);
	op = lookup(d, DOK_CHILD, name, &key);
	if (op != NULL && op->status == DOS_SUCCEEDED)
	{
		if (op->result == NULL)
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(copy_result(op));
	}
	if (op != NULL && op->status != DOS_STARTED)
	{
		d->raised_op = op;
		durable_raise_op_error(op->error);
	}

	fn = durable_resolve_workflow(workflow, true, NULL, NULL);
	if (d->ctx_depth >= DURABLE_MAX_CHILD_DEPTH)
		fatal(d, ERRCODE_DURABLE_LIMIT_EXCEEDED,
			  psprintf("durable_child is nested more than %d levels deep", DURABLE_MAX_CHILD_DEPTH),
			  NULL, "Check the workflow for unbounded recursion.");
	if (op == NULL)
	{
		check_op_limit(d);
		op = durable_op_create(d, &key, DOK_CHILD, name, DOS_STARTED);
	}

	saved = d->ctx;
	d->ctx.parent_op_id = op->op_id;
	d->ctx.next_position = 0;
	d->ctx_depth++;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		LOCAL_FCINFO(cfcinfo, 1);
		FmgrInfo	flinfo;

		fmgr_info(fn, &flinfo);
		InitFunctionCallInfoData(*cfcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
		cfcinfo->args[0].value = JsonbPGetDatum(input);
		cfcinfo->args[0].isnull = false;
		result = FunctionCallInvoke(cfcinfo);
		isnull = cfcinfo->isnull;
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		/* a cancel (durable_stop, an administrator) ends the drive */
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED && !d->yielded && d->fatal == NULL)
			ReThrowError(edata);
	}
	PG_END_TRY();

	d->ctx = saved;
	d->ctx_depth--;

	if (d->fatal != NULL)
		durable_raise_op_error(d->fatal);
	if (d->yielded)
		yield(d);
	if (edata != NULL)
	{
		ErrorData	child_error;
		MemoryContext old;

		/* the child failed: checkpoint the failure, raise it here */
		memset(&child_error, 0, sizeof(child_error));
		child_error.sqlerrcode = ERRCODE_DURABLE_CHILD_FAILED;
		child_error.message = psprintf("child \"%s\" failed: %s", name, edata->message);
		child_error.detail = psprintf("The child workflow %s raised SQLSTATE %s%s%s",
									  workflow, unpack_sql_state(edata->sqlerrcode),
									  edata->detail ? ": " : ".",
									  edata->detail ? edata->detail : "");
		old = MemoryContextSwitchTo(d->cxt);
		op->error = durable_error_to_jsonb(&child_error, NULL);
		MemoryContextSwitchTo(old);
		op->status = DOS_FAILED;
		op->finished_at = durable_clock_now();
		durable_op_mark_dirty(d, op);
		d->raised_op = op;
		durable_raise_op_error(op->error);
	}

	if (!isnull)
		durable_check_payload("child result", DatumGetJsonbP(result));
	set_result(d, op, isnull ? NULL : DatumGetJsonbP(result));
	op->status = DOS_SUCCEEDED;
	op->finished_at = durable_clock_now();
	d->ckpt_bytes += op->result ? VARSIZE(op->result) : 0;
	durable_op_mark_dirty(d, op);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(copy_result(op));
}
