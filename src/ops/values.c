/*-------------------------------------------------------------------------
 *
 * values.c
 *	  Values checkpointed at first use, so that replays see the same:
 *	  durable_now, durable_random, durable_uuid, durable_log (its history
 *	  line written once), durable_patched (versioning markers) and
 *	  durable_continue_as_new.
 *
 * IDENTIFICATION
 *	  src/ops/values.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/pg_prng.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

const DurableOpKindInfo durable_kind_now = {.name = "now"};
const DurableOpKindInfo durable_kind_random = {.name = "random"};
const DurableOpKindInfo durable_kind_uuid = {.name = "uuid"};
const DurableOpKindInfo durable_kind_log = {
	.name = "log",
	.success_event = "log",		/* its history line is the log line */
	.result_details = true,
};
const DurableOpKindInfo durable_kind_patch = {
	.name = "patch",
	.counts_bytes = true,
	.marker = true,
};

/*
 * value_op
 *		The stored value of a value operation, or NULL for a new one (the
 *		caller then stores its value with store_value).
 */
static DurableOp *
value_op(DurableDrive *d, DurableOpKind kind, const char *name, char **stored)
{
	DurableOpKey key;
	DurableOp  *op = durable_op_lookup(d, kind, name, &key);

	if (op != NULL)
	{
		*stored = durable_jsonb_get_text(op->result, "value");
		return op;
	}
	*stored = NULL;
	durable_op_check_limit(d);
	return durable_op_create(d, &key, kind, name, DOS_SUCCEEDED);
}

/* checkpoints a value operation's value */
static void
store_value(DurableDrive *d, DurableOp *op, const char *value)
{
	const char *keys[1] = {"value"};
	Jsonb	   *values[1];

	values[0] = durable_jsonb_string(value);
	durable_op_set_result(d, op, durable_jsonb_build(1, keys, values));
}

PG_FUNCTION_INFO_V1(durable_now);

/*
 * durable_now() RETURNS timestamptz
 */
Datum
durable_now(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_now");
	char	   *stored;
	DurableOp  *op = value_op(d, &durable_kind_now, "now", &stored);
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
	DurableDrive *d = durable_op_enter("durable_random");
	char	   *stored;
	DurableOp  *op = value_op(d, &durable_kind_random, "random", &stored);
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
	DurableDrive *d = durable_op_enter("durable_uuid");
	char	   *stored;
	DurableOp  *op = value_op(d, &durable_kind_uuid, "uuid", &stored);
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
	DurableDrive *d = durable_op_enter("durable_log");
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

	op = durable_op_lookup(d, &durable_kind_log, level, &key);
	if (op != NULL)
		PG_RETURN_VOID();

	durable_op_check_limit(d);
	values[0] = durable_jsonb_string(level);
	values[1] = durable_jsonb_string(message);
	values[2] = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	op = durable_op_create(d, &key, &durable_kind_log, level, DOS_SUCCEEDED);
	durable_op_set_result(d, op, durable_jsonb_build(3, keys, values));
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
	DurableDrive *d = durable_op_enter("durable_patched");
	char	   *patch_id = durable_text_arg(fcinfo, 0, "patch id");
	DurableOpKey key;
	DurableOp  *op;

	durable_check_name("patch id", patch_id);
	key.parent_op_id = d->ctx.parent_op_id;
	key.position = d->ctx.next_position + 1;
	op = (DurableOp *) hash_search(d->ops, &key, HASH_FIND, NULL);
	if (op != NULL && (op->kind != &durable_kind_patch || strcmp(op->name, patch_id) != 0))
		PG_RETURN_BOOL(false);
	d->ctx.next_position++;
	if (op == NULL)
	{
		durable_op_check_limit(d);
		(void) durable_op_create(d, &key, &durable_kind_patch, patch_id, DOS_SUCCEEDED);
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
	DurableDrive *d = durable_op_enter("durable_continue_as_new");
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
	old = durable_pending_begin(d, DPK_CONTINUE_AS_NEW, NULL, NULL, &key, NULL,
								"continue_as_new");
	d->pending.input = (Jsonb *) datumCopy(PG_GETARG_DATUM(0), false, -1);
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_VOID();			/* not reached */
}
