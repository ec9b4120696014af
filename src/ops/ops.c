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

#include "ops/ops.h"
#include "util/durable_errcodes.h"


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
	/* markers of patches whose durable_patched call is gone are passed over */
	while (op != NULL && op->kind == DOK_PATCH)
	{
		key->position = ++d->ctx.next_position;
		op = (DurableOp *) hash_search(d->ops, key, HASH_FIND, NULL);
	}
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
	op->quiet = false;
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

/*
 * attempt_due
 *		A step or HTTP request met again by a replay: false when it has
 *		succeeded (its checkpoint is the result); its failure raised; a
 *		retry delay slept through; true when an attempt is due or under way.
 */
static bool
attempt_due(DurableDrive *d, DurableOp *op, const DurableOpKey *key)
{
	switch (op->status)
	{
		case DOS_SUCCEEDED:
			return false;
		case DOS_PENDING:
			wait_on(d, op, key);
			return true;
		case DOS_STARTED:
			return true;
		default:
			d->raised_op = op;
			durable_raise_op_error(op->error);
	}
	return true;					/* not reached */
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
		if (!attempt_due(d, op, &key))
		{
			if (op->result == NULL)
				PG_RETURN_NULL();
			PG_RETURN_JSONB_P(copy_result(op));
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
 * durable_http(name text, request jsonb, options jsonb) RETURNS jsonb
 * ----------------------------------------------------------------
 */
PG_FUNCTION_INFO_V1(durable_http);

Datum
durable_http(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_http");
	char	   *name = durable_text_arg(fcinfo, 0, "http request name");
	Jsonb	   *request;
	Jsonb	   *options = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	DurableOpKey key;
	DurableOp  *op;
	DurableHttpOptions o;
	MemoryContext old;

	durable_check_name("http request name", name);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("http request must not be null")));
	op = lookup(d, DOK_HTTP, name, &key);
	if (op != NULL)
	{
		if (!attempt_due(d, op, &key))
			PG_RETURN_JSONB_P(copy_result(op));
	}
	else
		check_op_limit(d);

	/* an attempt is due, or one is under way: the driver sees to it */
	old = MemoryContextSwitchTo(d->replay_cxt);
	request = durable_http_check_request(PG_GETARG_JSONB_P_COPY(1));
	durable_check_payload("http request", request);
	durable_parse_http_options(options, &o);
	durable_http_check_limits(&o);
	MemoryContextSwitchTo(old);
	old = pending_begin(d, DPK_HTTP, &key, op, name);
	d->pending.args = request;
	d->pending.options = options ? (Jsonb *) datumCopy(PointerGetDatum(options), false, -1) :
		durable_cstring_to_jsonb("{}");
	d->pending.retry = o.retry;
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

PG_FUNCTION_INFO_V1(durable_patched);

/*
 * durable_patched(patch_id text) RETURNS boolean
 *		Versioning: true when the execution reaches this point for the first
 *		time (a marker is checkpointed, so later replays see it) or replays a
 *		history that has the marker here; false when it replays a history
 *		written by code without the patch.  The position is then not
 *		consumed: the old code's operation that holds it comes next.
 */
Datum
durable_patched(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_patched");
	char	   *patch_id = durable_text_arg(fcinfo, 0, "patch id");
	DurableOpKey key;
	DurableOp  *op;

	durable_check_name("patch id", patch_id);
	key.parent_op_id = d->ctx.parent_op_id;
	key.position = d->ctx.next_position + 1;
	op = (DurableOp *) hash_search(d->ops, &key, HASH_FIND, NULL);
	if (op != NULL && (op->kind != DOK_PATCH || strcmp(op->name, patch_id) != 0))
		PG_RETURN_BOOL(false);
	d->ctx.next_position++;
	if (op == NULL)
	{
		check_op_limit(d);
		(void) durable_op_create(d, &key, DOK_PATCH, patch_id, DOS_SUCCEEDED);
	}
	PG_RETURN_BOOL(true);
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

/* ----------------------------------------------------------------
 * waits on the outside world: callbacks, events, conditions, children
 *
 * Their operations stay PENDING while they wait.  The driver applies the
 * messages of the execution's inbox to them (a completion, an event, a
 * child's report) before it replays, so a replay only reads the outcome;
 * it never touches a table.
 * ----------------------------------------------------------------
 */

/*
 * outcome
 *		The stored outcome of a finished operation: its result (true), or
 *		its error raised.  False when it is still waiting.
 */
static bool
outcome(DurableDrive *d, DurableOp *op, Jsonb **result)
{
	switch (op->status)
	{
		case DOS_SUCCEEDED:
			*result = copy_result(op);
			return true;
		case DOS_PENDING:
		case DOS_STARTED:
			return false;
		default:
			d->raised_op = op;
			durable_raise_op_error(op->error);
	}
	return false;				/* keep compiler quiet */
}

/*
 * await_message
 *		An operation waits for a message: the execution sleeps until one
 *		comes or the operation's deadline.  At the deadline a callback wait
 *		is handed to the driver, which knows of heartbeats; other waits
 *		return to their caller, which times them out.
 */
static void
await_message(DurableDrive *d, DurableOp *op, const DurableOpKey *key, bool at_deadline_check)
{
	if (op->wake_at != DT_NOBEGIN && op->wake_at <= durable_clock_now())
	{
		if (!at_deadline_check)
			return;
		pending_begin(d, DPK_CHECK_CALLBACK, key, op, op->name);
		yield(d);
	}
	pending_begin(d, DPK_SLEEP, key, op, op->name);
	d->pending.wake_at = op->wake_at == DT_NOBEGIN ? DT_NOEND : op->wake_at;
	yield(d);
}

/*
 * wait_length_arg
 *		An optional interval argument of a wait, in microseconds; 0 when
 *		NULL.  It must be positive and no longer than durable.max_wait.
 */
static int64
wait_length_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	int64		us;

	if (PG_ARGISNULL(n))
		return 0;
	us = durable_interval_us(PG_GETARG_INTERVAL_P(n), what);
	if (us == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", what)));
	if (us > (int64) durable_max_wait * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("%s is longer than durable.max_wait", what),
				 errdetail("The limit is %d seconds.", durable_max_wait)));
	return us;
}

#define RETURN_OUTCOME(d, op) \
	do { \
		Jsonb	   *res_; \
		if (outcome((d), (op), &res_)) \
		{ \
			if (res_ == NULL) \
				PG_RETURN_NULL(); \
			PG_RETURN_JSONB_P(res_); \
		} \
	} while (0)

PG_FUNCTION_INFO_V1(durable_wait_for_callback);

/*
 * durable_wait_for_callback(name text, submitter text, args jsonb,
 *							 timeout interval, heartbeat_timeout interval)
 *		RETURNS jsonb
 *		The driver creates the callback and runs the submitter in the
 *		transaction that records the wait.
 */
Datum
durable_wait_for_callback(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_wait_for_callback");
	char	   *name = durable_text_arg(fcinfo, 0, "callback name");
	char	   *submitter = durable_text_arg(fcinfo, 1, "submitter SQL");
	int64		timeout = wait_length_arg(fcinfo, 3, "callback timeout");
	int64		heartbeat = wait_length_arg(fcinfo, 4, "heartbeat_timeout");
	DurableOpKey key;
	DurableOp  *op;
	MemoryContext old;

	durable_check_name("callback name", name);
	op = lookup(d, DOK_CALLBACK, name, &key);
	if (op != NULL)
	{
		RETURN_OUTCOME(d, op);
		await_message(d, op, &key, true);
	}
	check_op_limit(d);
	if (!PG_ARGISNULL(2))
		durable_check_payload("callback args", PG_GETARG_JSONB_P(2));
	old = pending_begin(d, DPK_CALLBACK, &key, NULL, name);
	d->pending.op_kind = DOK_CALLBACK;
	d->pending.sql = pstrdup(submitter);
	if (!PG_ARGISNULL(2))
		d->pending.args = (Jsonb *) datumCopy(PG_GETARG_DATUM(2), false, -1);
	d->pending.timeout = timeout;
	d->pending.heartbeat = heartbeat;
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(durable_create_callback);

/*
 * durable_create_callback(name text, timeout interval, heartbeat_timeout interval)
 *		RETURNS text
 *		The id of a new callback, checkpointed.  Its deadlines run from now.
 */
Datum
durable_create_callback(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_create_callback");
	char	   *name = durable_text_arg(fcinfo, 0, "callback name");
	int64		timeout = wait_length_arg(fcinfo, 1, "callback timeout");
	int64		heartbeat = wait_length_arg(fcinfo, 2, "heartbeat_timeout");
	DurableOpKey key;
	DurableOp  *op;
	MemoryContext old;

	durable_check_name("callback name", name);
	op = lookup(d, DOK_CREATE_CALLBACK, name, &key);
	if (op != NULL && op->status == DOS_SUCCEEDED)
		PG_RETURN_TEXT_P(cstring_to_text(durable_jsonb_get_text(op->result, "callback_id")));
	check_op_limit(d);
	old = pending_begin(d, DPK_CALLBACK, &key, NULL, name);
	d->pending.op_kind = DOK_CREATE_CALLBACK;
	d->pending.timeout = timeout;
	d->pending.heartbeat = heartbeat;
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(durable_await_callback);

/*
 * durable_await_callback(name text, callback_id text) RETURNS jsonb
 */
Datum
durable_await_callback(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_await_callback");
	char	   *name = durable_text_arg(fcinfo, 0, "callback name");
	char	   *token = durable_text_arg(fcinfo, 1, "callback id");
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	DurableOpKey key;
	DurableOp  *op;
	MemoryContext old;

	durable_check_name("callback name", name);
	op = lookup(d, DOK_AWAIT_CALLBACK, name, &key);
	if (op != NULL)
	{
		RETURN_OUTCOME(d, op);
		await_message(d, op, &key, true);
	}
	durable_token_hash(token, hash);	/* a malformed id is an error here */
	check_op_limit(d);
	old = pending_begin(d, DPK_AWAIT_CALLBACK, &key, NULL, name);
	d->pending.op_kind = DOK_AWAIT_CALLBACK;
	d->pending.token = pstrdup(token);
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(durable_wait_for_event);

/*
 * durable_wait_for_event(name text, event_name text, timeout interval)
 *		RETURNS jsonb
 *		The payload of the oldest event of that name not yet taken.  A wait
 *		that reached its deadline times out here, with the events that came
 *		before it already delivered by the driver; its timeout is
 *		checkpointed, so every later replay raises it again, and an event
 *		that comes later is kept for the next wait.
 */
Datum
durable_wait_for_event(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_wait_for_event");
	char	   *name = durable_text_arg(fcinfo, 0, "wait name");
	char	   *event = durable_text_arg(fcinfo, 1, "event name");
	int64		timeout = wait_length_arg(fcinfo, 2, "event timeout");
	DurableOpKey key;
	DurableOp  *op;
	MemoryContext old;

	durable_check_name("wait name", name);
	durable_check_name("event name", event);
	op = lookup(d, DOK_EVENT, name, &key);
	if (op != NULL)
	{
		ErrorData	late;

		RETURN_OUTCOME(d, op);
		await_message(d, op, &key, false);
		/* past the deadline: timed out */
		memset(&late, 0, sizeof(late));
		late.sqlerrcode = ERRCODE_DURABLE_EVENT_TIMEOUT;
		late.message = psprintf("event \"%s\" did not arrive in time for wait \"%s\"",
								event, name);
		old = MemoryContextSwitchTo(d->cxt);
		op->status = DOS_TIMED_OUT;
		op->error = durable_error_to_jsonb(&late, NULL);
		op->finished_at = durable_clock_now();
		MemoryContextSwitchTo(old);
		durable_op_mark_dirty(d, op);
		d->raised_op = op;
		durable_raise_op_error(op->error);
	}
	check_op_limit(d);
	old = pending_begin(d, DPK_EVENT, &key, NULL, name);
	d->pending.op_kind = DOK_EVENT;
	d->pending.event = pstrdup(event);
	d->pending.timeout = timeout;
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(durable_wait_for_condition);

/*
 * durable_wait_for_condition(name text, check_sql text, initial_state jsonb,
 *							  options jsonb) RETURNS jsonb
 *		Runs check_sql($1 = state, $2 = attempt) until it returns
 *		{"done": true, "state": ...}, with a durable delay between checks;
 *		returns the last state.
 */
Datum
durable_wait_for_condition(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_wait_for_condition");
	char	   *name = durable_text_arg(fcinfo, 0, "condition name");
	char	   *check = durable_text_arg(fcinfo, 1, "check SQL");
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	DurableRetryOptions strategy;
	DurableOpKey key;
	DurableOp  *op;
	MemoryContext old;

	durable_check_name("condition name", name);
	op = lookup(d, DOK_CONDITION, name, &key);
	if (op != NULL)
	{
		RETURN_OUTCOME(d, op);
		if (op->wake_at > durable_clock_now())
		{
			pending_begin(d, DPK_SLEEP, &key, op, op->name);
			d->pending.wake_at = op->wake_at;
			yield(d);
		}
	}
	else
	{
		check_op_limit(d);
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("initial_state must not be null"),
					 errhint("Pass 'null'::jsonb for a JSON null.")));
		durable_check_payload("initial_state", PG_GETARG_JSONB_P(2));
	}

	/* the next check is due */
	old = MemoryContextSwitchTo(d->replay_cxt);
	durable_parse_wait_strategy(options, &strategy);
	MemoryContextSwitchTo(old);
	old = pending_begin(d, DPK_CONDITION, &key, op, name);
	d->pending.op_kind = DOK_CONDITION;
	d->pending.sql = pstrdup(check);
	d->pending.retry = strategy;
	d->pending.state = op != NULL ? copy_result(op) :
		(Jsonb *) datumCopy(PG_GETARG_DATUM(2), false, -1);
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/*
 * children_wait
 *		The common part of durable_invoke, durable_parallel and durable_map:
 *		the outcome of an operation that has one, the wait for its children
 *		while it has none.  Returns NULL for a new operation.
 */
static DurableOp *
children_wait(DurableDrive *d, DurableOpKind kind, const char *name, DurableOpKey *key,
			  Jsonb **result, bool *done)
{
	DurableOp  *op = lookup(d, kind, name, key);

	*done = false;
	if (op == NULL)
	{
		check_op_limit(d);
		if (d->ex.depth + 1 > DURABLE_MAX_CHILD_DEPTH)
			ereport(ERROR,
					(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
					 errmsg("child executions are nested more than %d levels deep",
							DURABLE_MAX_CHILD_DEPTH),
					 errhint("Check the workflow for unbounded recursion of durable_invoke.")));
		return NULL;
	}
	if (outcome(d, op, result))
	{
		*done = true;
		return op;
	}
	await_message(d, op, key, false);
	elog(ERROR, "child operation \"%s\" has a deadline", name);
	return op;					/* not reached */
}

static DurableBranch *
make_branch(const char *name, const char *workflow, Jsonb *input)
{
	DurableBranch *b = palloc0(sizeof(DurableBranch));

	b->name = name ? pstrdup(name) : NULL;
	b->workflow = pstrdup(workflow);
	b->input = input ? (Jsonb *) datumCopy(JsonbPGetDatum(input), false, -1) : NULL;
	return b;
}

#define RETURN_CHILDREN_OUTCOME(res) \
	do { \
		if ((res) == NULL) \
			PG_RETURN_NULL(); \
		PG_RETURN_JSONB_P(res); \
	} while (0)

PG_FUNCTION_INFO_V1(durable_invoke);

/*
 * durable_invoke(name text, workflow text, input jsonb, options jsonb) RETURNS jsonb
 *		A child execution of its own; its result, or WF006 when it did not
 *		succeed.
 */
Datum
durable_invoke(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_invoke");
	char	   *name = durable_text_arg(fcinfo, 0, "invoke name");
	char	   *workflow = durable_text_arg(fcinfo, 1, "child workflow");
	Jsonb	   *input = PG_ARGISNULL(2) ? durable_cstring_to_jsonb("{}") : PG_GETARG_JSONB_P(2);
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	Interval   *timeout;
	Interval   *retention;
	Jsonb	   *tags;
	char	   *qualified;
	DurableOpKey key;
	Jsonb	   *result = NULL;
	bool		done;
	MemoryContext old;

	durable_check_name("invoke name", name);
	(void) children_wait(d, DOK_INVOKE, name, &key, &result, &done);
	if (done)
		RETURN_CHILDREN_OUTCOME(result);

	(void) durable_resolve_workflow(workflow, true, &qualified, NULL);
	durable_check_payload("child input", input);
	durable_start_options(options, &timeout, &retention, &tags);
	old = pending_begin(d, DPK_CHILDREN, &key, NULL, name);
	d->pending.op_kind = DOK_INVOKE;
	d->pending.branches = list_make1(make_branch(NULL, qualified, input));
	d->pending.policy.min_successful = -1;
	d->pending.policy.tolerated_failures = -1;
	d->pending.policy.tolerated_pct = -1;
	if (options != NULL)
		d->pending.start_options = (Jsonb *) datumCopy(JsonbPGetDatum(options), false, -1);
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}

static JsonbValue *
branch_field(JsonbContainer *obj, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
}

static char *
branch_string(JsonbContainer *obj, const char *key, int i, bool required)
{
	JsonbValue *v = branch_field(obj, key);

	if (v == NULL || v->type == jbvNull)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("branch %d has no \"%s\"", i, key)));
		return NULL;
	}
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" of branch %d must be a string", key, i)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static Jsonb *
branch_jsonb(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = branch_field(obj, key);

	if (v == NULL)
		return NULL;
	return JsonbValueToJsonb(v);
}

/*
 * parse_branches
 *		The branches of durable_parallel: {name, workflow, input} runs a
 *		child workflow, {name, sql, args, options} a step (as a child
 *		execution of durable.run_step).  Names must be unique.
 */
static List *
parse_branches(Jsonb *branches)
{
	List	   *list = NIL;
	int			n,
				i;

	if (JB_ROOT_IS_SCALAR(branches) || !JB_ROOT_IS_ARRAY(branches))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("branches must be a jsonb array"),
				 errhint("Each branch is {\"name\", \"workflow\", \"input\"} or {\"name\", \"sql\", \"args\", \"options\"}.")));
	n = JB_ROOT_COUNT(branches);
	for (i = 0; i < n; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&branches->root, i);
		JsonbContainer *obj;
		char	   *name;
		char	   *workflow;
		char	   *sql;
		char	   *qualified;
		ListCell   *lc;

		if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("branch %d is not a jsonb object", i)));
		obj = elem->val.binary.data;
		name = branch_string(obj, "name", i, true);
		durable_check_name("branch name", name);
		foreach(lc, list)
			if (strcmp(((DurableBranch *) lfirst(lc))->name, name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("two branches are named \"%s\"", name)));
		workflow = branch_string(obj, "workflow", i, false);
		sql = branch_string(obj, "sql", i, false);
		if ((workflow == NULL) == (sql == NULL))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("branch \"%s\" must have either \"workflow\" or \"sql\"", name)));
		if (workflow != NULL)
		{
			Jsonb	   *input = branch_jsonb(obj, "input");

			(void) durable_resolve_workflow(workflow, true, &qualified, NULL);
			list = lappend(list, make_branch(name, qualified,
											 input ? input : durable_cstring_to_jsonb("{}")));
		}
		else
		{
			const char *keys[4] = {"name", "sql", "args", "options"};
			Jsonb	   *values[4];
			DurableRetryOptions retry;

			values[0] = durable_jsonb_string(name);
			values[1] = durable_jsonb_string(sql);
			values[2] = branch_jsonb(obj, "args");
			values[3] = branch_jsonb(obj, "options");
			durable_parse_retry_options(values[3], &retry);
			list = lappend(list, make_branch(name, "durable.run_step",
											 durable_jsonb_build(4, keys, values)));
		}
	}
	return list;
}

PG_FUNCTION_INFO_V1(durable_parallel);

/*
 * durable_parallel(name text, branches jsonb, options jsonb) RETURNS jsonb
 */
Datum
durable_parallel(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_parallel");
	char	   *name = durable_text_arg(fcinfo, 0, "parallel name");
	Jsonb	   *options = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	DurableOpKey key;
	Jsonb	   *result = NULL;
	bool		done;
	List	   *branches;
	DurablePolicy policy;
	MemoryContext old;

	durable_check_name("parallel name", name);
	(void) children_wait(d, DOK_PARALLEL, name, &key, &result, &done);
	if (done)
		RETURN_CHILDREN_OUTCOME(result);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("branches must not be null")));
	old = MemoryContextSwitchTo(d->replay_cxt);
	branches = parse_branches(PG_GETARG_JSONB_P(1));
	durable_parse_policy(options, false, list_length(branches), &policy);
	MemoryContextSwitchTo(old);
	if (policy.results == DRM_ARRAY)
	{
		int64		name_bytes = 0;
		ListCell   *lc;

		foreach(lc, branches)
			name_bytes += strlen(((DurableBranch *) lfirst(lc))->name);
		durable_children_check_size(DOK_PARALLEL, name, list_length(branches), name_bytes);
	}
	old = pending_begin(d, DPK_CHILDREN, &key, NULL, name);
	d->pending.op_kind = DOK_PARALLEL;
	d->pending.branches = branches;
	d->pending.policy = policy;
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(durable_map);

/*
 * durable_map(name text, items jsonb, workflow text, options jsonb) RETURNS jsonb
 */
Datum
durable_map(PG_FUNCTION_ARGS)
{
	DurableDrive *d = enter_op("durable_map");
	char	   *name = durable_text_arg(fcinfo, 0, "map name");
	char	   *workflow = durable_text_arg(fcinfo, 2, "map workflow");
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	Jsonb	   *items;
	DurableOpKey key;
	Jsonb	   *result = NULL;
	bool		done;
	char	   *qualified;
	DurablePolicy policy;
	MemoryContext old;

	durable_check_name("map name", name);
	(void) children_wait(d, DOK_MAP, name, &key, &result, &done);
	if (done)
		RETURN_CHILDREN_OUTCOME(result);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("items must not be null")));
	items = PG_GETARG_JSONB_P(1);
	if (JB_ROOT_IS_SCALAR(items) || !JB_ROOT_IS_ARRAY(items))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("items must be a jsonb array")));
	durable_check_payload("map items", items);
	(void) durable_resolve_workflow(workflow, true, &qualified, NULL);
	old = MemoryContextSwitchTo(d->replay_cxt);
	durable_parse_policy(options, true, JB_ROOT_COUNT(items), &policy);
	MemoryContextSwitchTo(old);
	if (policy.results == DRM_ARRAY)
		durable_children_check_size(DOK_MAP, name, JB_ROOT_COUNT(items), 0);
	old = pending_begin(d, DPK_CHILDREN, &key, NULL, name);
	d->pending.op_kind = DOK_MAP;
	d->pending.branches = list_make1(make_branch(NULL, qualified, NULL));
	d->pending.items = (Jsonb *) datumCopy(JsonbPGetDatum(items), false, -1);
	d->pending.policy = policy;
	MemoryContextSwitchTo(old);
	yield(d);
	PG_RETURN_NULL();			/* not reached */
}
