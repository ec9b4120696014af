/*-------------------------------------------------------------------------
 *
 * waits.c
 *	  Waits on the outside world: callbacks, events and conditions.  The
 *	  driver's side (creating a callback and running its submitter, taking
 *	  an event, running a condition's check, applying the messages of an
 *	  execution's inbox to its operations) and the SQL functions that
 *	  complete callbacks and send events.
 *
 * A completion or an event never touches the execution's own rows: the
 * sender appends a message to the inbox and wakes a worker at commit, so it
 * never waits for the worker that drives the execution.  The driver takes
 * the messages when it resumes the execution and before it suspends it.
 *
 * A callback id is "cb_" and 32 hex digits (128 random bits).  Only its
 * SHA-256 is stored (durable.callbacks), so the table gives away no
 * capability; the id of durable_create_callback is also checkpointed, as
 * its result, where the execution's owner alone can read it.
 *
 * IDENTIFICATION
 *	  src/waits.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"


/*
 * earliest
 *		The earlier of two deadlines, DT_NOBEGIN meaning none.
 */
static TimestampTz
earliest(TimestampTz a, TimestampTz b)
{
	if (a == DT_NOBEGIN)
		return b;
	if (b == DT_NOBEGIN)
		return a;
	return Min(a, b);
}

static Jsonb *
jsonb_copy_in(MemoryContext cxt, Jsonb *jb)
{
	MemoryContext old;
	Jsonb	   *copy;

	if (jb == NULL)
		return NULL;
	old = MemoryContextSwitchTo(cxt);
	copy = (Jsonb *) datumCopy(JsonbPGetDatum(jb), false, -1);
	MemoryContextSwitchTo(old);
	return copy;
}

/*
 * op_done
 *		Ends a waiting operation: SUCCEEDED with a result, or with an error
 *		(status FAILED or TIMED_OUT).
 */
static void
op_done(DurableDrive *d, DurableOp *op, DurableOpStatus status, Jsonb *result,
		ErrorData *error)
{
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	op->status = status;
	op->result = result ? (Jsonb *) datumCopy(JsonbPGetDatum(result), false, -1) : NULL;
	op->error = error ? durable_error_to_jsonb(error, NULL) : NULL;
	op->wake_at = DT_NOBEGIN;
	op->finished_at = durable_clock_now();
	MemoryContextSwitchTo(old);
	if (status == DOS_SUCCEEDED && result != NULL)
		d->ckpt_bytes += VARSIZE(result);
	durable_op_mark_dirty(d, op);
}

static ErrorData *
make_error(int code, char *message, char *detail)
{
	ErrorData  *e = palloc0(sizeof(ErrorData));

	e->sqlerrcode = code;
	e->message = message;
	e->detail = detail;
	return e;
}

/*
 * callback_failed
 *		The error a workflow sees for durable_callback_failure(id, error):
 *		the error's "message" if it has one, else the error as JSON.
 */
static ErrorData *
callback_failed(const char *name, Jsonb *error)
{
	char	   *msg = NULL;

	if (error != NULL && JB_ROOT_IS_OBJECT(error) && !JB_ROOT_IS_SCALAR(error))
		msg = durable_jsonb_get_text(error, "message");
	if (msg == NULL && error != NULL)
		msg = JsonbToCString(NULL, &error->root, VARSIZE(error));
	return make_error(ERRCODE_DURABLE_CALLBACK_FAILED,
					  psprintf("callback \"%s\" failed: %s", name,
							   msg ? msg : "no error was given"),
					  error ? psprintf("The error given: %s",
									   JsonbToCString(NULL, &error->root, VARSIZE(error))) : NULL);
}

static ErrorData *
callback_timed_out(const char *name, bool total)
{
	if (total)
		return make_error(ERRCODE_DURABLE_CALLBACK_TIMEOUT,
						  psprintf("callback \"%s\" timed out", name),
						  pstrdup("It was not completed within its timeout."));
	return make_error(ERRCODE_DURABLE_HEARTBEAT_TIMEOUT,
					  psprintf("callback \"%s\" missed its heartbeat", name),
					  pstrdup("Neither a completion nor a heartbeat came within its heartbeat_timeout."));
}

/*
 * apply_callback
 *		Applies what a callback's row says to the operation waiting on it;
 *		returns when to wake if it is still pending (DT_NOBEGIN: it is not).
 */
static TimestampTz
apply_callback(DurableDrive *d, DurableOp *op, DurableCallback *cb, const uint8 *hash,
			   TimestampTz now)
{
	bool		total;
	TimestampTz deadline;

	if (strcmp(cb->status, "SUCCEEDED") == 0)
		op_done(d, op, DOS_SUCCEEDED, cb->result, NULL);
	else if (strcmp(cb->status, "FAILED") == 0)
		op_done(d, op, DOS_FAILED, NULL, callback_failed(op->name, cb->error));
	else if (strcmp(cb->status, "PENDING") != 0)
		op_done(d, op, DOS_TIMED_OUT, NULL,
				callback_timed_out(op->name, cb->timeout_at != DT_NOBEGIN &&
								   cb->timeout_at <= now));
	else if (durable_storage_callback_timeout(hash, now, &total))
		op_done(d, op, DOS_TIMED_OUT, NULL, callback_timed_out(op->name, total));
	else
	{
		deadline = earliest(cb->timeout_at, cb->heartbeat_deadline);
		op->wake_at = deadline;
		if (op->stored)
			op->quiet = true;	/* a heartbeat moved the deadline */
		durable_op_mark_dirty(d, op);
		return deadline == DT_NOBEGIN ? DT_NOEND : deadline;
	}
	return DT_NOBEGIN;
}

/*
 * op_callback_hash
 *		The hash of the callback a waiting operation waits on.
 */
static bool
op_callback_hash(DurableOp *op, uint8 *hash)
{
	char	   *h = durable_jsonb_get_text(op->result, "callback");
	int			i;

	if (h == NULL || strlen(h) != 2 * DURABLE_TOKEN_HASH_LEN)
		return false;
	for (i = 0; i < DURABLE_TOKEN_HASH_LEN; i++)
	{
		char		byte[3] = {h[2 * i], h[2 * i + 1], '\0'};

		hash[i] = (uint8) strtol(byte, NULL, 16);
	}
	return true;
}

static Jsonb *
callback_ref(const uint8 *hash)
{
	const char *keys[1] = {"callback"};
	Jsonb	   *values[1];

	values[0] = durable_jsonb_string(durable_hex(hash, DURABLE_TOKEN_HASH_LEN));
	return durable_jsonb_build(1, keys, values);
}

/*
 * durable_perform_callback
 *		Creates a callback: for durable_wait_for_callback, runs the
 *		submitter with the id first (its failure fails the operation and
 *		no callback exists), then records the callback and the waiting
 *		operation, all in this transaction.  For durable_create_callback,
 *		the id is the operation's result.  Returns when to wake, or
 *		DT_NOBEGIN to replay at once.
 */
TimestampTz
durable_perform_callback(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	TimestampTz now = durable_clock_now();
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	char	   *token = durable_token_new(hash);
	TimestampTz timeout_at = p->timeout > 0 ? now + p->timeout : DT_NOBEGIN;
	TimestampTz deadline;
	DurableOp  *op;

	if (p->op_kind == DOK_CALLBACK)
	{
		Oid			argtypes[2] = {TEXTOID, JSONBOID};
		Datum		values[2];
		char		nulls[2] = {' ', ' '};
		ErrorData  *err = NULL;
		int64		limit = d->ex.deadline != DT_NOBEGIN ? Max(d->ex.deadline - now, 1) : 0;

		values[0] = CStringGetTextDatum(token);
		values[1] = p->args ? JsonbPGetDatum(p->args) : (Datum) 0;
		nulls[1] = p->args ? ' ' : 'n';
		d->in_step = true;
		PG_TRY();
		{
			(void) durable_sql_run(p->sql, 2, argtypes, values, nulls, d->ex.owner,
								   d->ex.search_path, limit, &err);
		}
		PG_FINALLY();
		{
			d->in_step = false;
		}
		PG_END_TRY();
		if (err != NULL)
		{
			op = durable_op_create(d, &p->key, DOK_CALLBACK, p->name, DOS_STARTED);
			op_done(d, op, DOS_FAILED, NULL,
					make_error(ERRCODE_DURABLE_CALLBACK_FAILED,
							   psprintf("submitter of callback \"%s\" failed: %s",
										p->name, err->message),
							   psprintf("The submitter raised SQLSTATE %s%s%s",
										unpack_sql_state(err->sqlerrcode),
										err->detail ? ": " : ".",
										err->detail ? err->detail : "")));
			return DT_NOBEGIN;
		}
	}

	op = durable_op_create(d, &p->key, p->op_kind, p->name,
						   p->op_kind == DOK_CREATE_CALLBACK ? DOS_SUCCEEDED : DOS_PENDING);
	durable_storage_callback_insert(hash, &d->ex.id, d->ex.run_no, op->op_id, p->name,
									timeout_at, p->heartbeat, d->ex.owner, now);
	if (p->op_kind == DOK_CREATE_CALLBACK)
	{
		const char *keys[1] = {"callback_id"};
		Jsonb	   *values[1];

		values[0] = durable_jsonb_string(token);
		op->result = jsonb_copy_in(d->cxt, durable_jsonb_build(1, keys, values));
		return DT_NOBEGIN;
	}
	op->result = jsonb_copy_in(d->cxt, callback_ref(hash));
	deadline = earliest(timeout_at, p->heartbeat > 0 ? now + p->heartbeat : DT_NOBEGIN);
	op->wake_at = deadline;
	return deadline == DT_NOBEGIN ? DT_NOEND : deadline;
}

/*
 * durable_perform_await_callback
 *		Starts waiting on a callback made earlier by durable_create_callback
 *		of this execution; it may be complete already.
 */
TimestampTz
durable_perform_await_callback(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	TimestampTz now = durable_clock_now();
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	DurableCallback cb;
	DurableOp  *op;

	durable_token_hash(p->token, hash);
	op = durable_op_create(d, &p->key, DOK_AWAIT_CALLBACK, p->name, DOS_PENDING);
	if (!durable_storage_callback_get(hash, &cb) ||
		memcmp(&cb.execution, &d->ex.id, sizeof(pg_uuid_t)) != 0)
	{
		op_done(d, op, DOS_FAILED, NULL,
				make_error(ERRCODE_INVALID_PARAMETER_VALUE,
						   psprintf("callback \"%s\" was not created by this execution", p->name),
						   pstrdup("durable_await_callback waits on an id returned by durable_create_callback of the same execution.")));
		return DT_NOBEGIN;
	}
	op->result = jsonb_copy_in(d->cxt, callback_ref(hash));
	return apply_callback(d, op, &cb, hash, now);
}

/*
 * durable_perform_check_callback
 *		A callback wait reached its deadline: it timed out, unless a
 *		heartbeat moved the deadline or a completion came.
 */
TimestampTz
durable_perform_check_callback(DurableDrive *d)
{
	DurableOp  *op = d->pending.op;
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	DurableCallback cb;

	if (!op_callback_hash(op, hash) || !durable_storage_callback_get(hash, &cb))
		elog(ERROR, "callback of operation \"%s\" is missing", op->name);
	return apply_callback(d, op, &cb, hash, durable_clock_now());
}

/*
 * durable_perform_event
 *		Takes the oldest kept event of the name, or starts waiting.
 */
TimestampTz
durable_perform_event(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = durable_op_create(d, &p->key, DOK_EVENT, p->name, DOS_PENDING);
	Jsonb	   *payload;
	const char *keys[1] = {"event"};
	Jsonb	   *values[1];

	if (durable_storage_event_take(&d->ex.id, p->event, &payload))
	{
		op_done(d, op, DOS_SUCCEEDED, payload, NULL);
		return DT_NOBEGIN;
	}
	values[0] = durable_jsonb_string(p->event);
	op->result = jsonb_copy_in(d->cxt, durable_jsonb_build(1, keys, values));
	if (p->timeout == 0)
		return DT_NOEND;
	op->wake_at = op->started_at + p->timeout;
	return op->wake_at;
}

/*
 * durable_perform_condition
 *		Runs one check of durable_wait_for_condition: done, another check
 *		after a durable delay, or not met after max_attempts checks.
 */
TimestampTz
durable_perform_condition(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = p->op;
	int			attempt = op != NULL ? op->attempt + 1 : 1;
	Oid			argtypes[2] = {JSONBOID, INT4OID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	ErrorData  *err = NULL;
	Jsonb	   *res;
	Jsonb	   *done_jb;
	JsonbValue	done;
	Jsonb	   *state = NULL;
	TimestampTz now = durable_clock_now();
	int64		limit = d->ex.deadline != DT_NOBEGIN ? Max(d->ex.deadline - now, 1) : 0;

	if (op == NULL)
		op = durable_op_create(d, &p->key, DOK_CONDITION, p->name, DOS_PENDING);
	else
		durable_op_mark_dirty(d, op);
	op->attempt = attempt;
	durable_count(DC_STEPS, 1);
	durable_wfstats_count(d->ex.workflow, DC_STEPS, 1);

	values[0] = p->state ? JsonbPGetDatum(p->state) : (Datum) 0;
	nulls[0] = p->state ? ' ' : 'n';
	values[1] = Int32GetDatum(attempt);
	d->in_step = true;
	PG_TRY();
	{
		res = durable_sql_run(p->sql, 2, argtypes, values, nulls, d->ex.owner,
							  d->ex.search_path, limit, &err);
	}
	PG_FINALLY();
	{
		d->in_step = false;
	}
	PG_END_TRY();

	if (err != NULL)
	{
		op_done(d, op, DOS_FAILED, NULL,
				make_error(ERRCODE_DURABLE_STEP_FAILED,
						   psprintf("check of condition \"%s\" failed: %s", p->name, err->message),
						   psprintf("Check %d raised SQLSTATE %s.", attempt,
									unpack_sql_state(err->sqlerrcode))));
		return DT_NOBEGIN;
	}
	done_jb = durable_jsonb_get(res, "done");
	if (done_jb == NULL || !JsonbExtractScalar(&done_jb->root, &done) ||
		done.type != jbvBool)
	{
		op_done(d, op, DOS_FAILED, NULL,
				make_error(ERRCODE_DURABLE_STEP_FAILED,
						   psprintf("check of condition \"%s\" returned no boolean \"done\"", p->name),
						   pstrdup("A check returns a jsonb object {\"done\": true or false, \"state\": ...}.")));
		return DT_NOBEGIN;
	}
	state = durable_jsonb_get(res, "state");
	if (state != NULL)
		durable_check_payload("condition state", state);
	if (done.val.boolean)
	{
		op_done(d, op, DOS_SUCCEEDED, state, NULL);
		return DT_NOBEGIN;
	}
	if (attempt >= p->retry.max_attempts)
	{
		op_done(d, op, DOS_FAILED, NULL,
				make_error(ERRCODE_DURABLE_CONDITION_NOT_MET,
						   psprintf("condition \"%s\" was not met after %d checks", p->name, attempt),
						   pstrdup("Raise the \"max_attempts\" option of durable_wait_for_condition to wait longer.")));
		return DT_NOBEGIN;
	}
	op->result = jsonb_copy_in(d->cxt, state);
	op->wake_at = durable_clock_now() + durable_retry_delay(&p->retry, attempt);
	return op->wake_at;
}

/*
 * find_waiting
 *		The oldest waiting operation of one of two kinds whose result has
 *		key = value.
 */
static DurableOp *
find_waiting(DurableDrive *d, DurableOpKind k1, DurableOpKind k2, const char *key,
			 const char *value, TimestampTz sent_at)
{
	HASH_SEQ_STATUS status;
	DurableOp  *op;
	DurableOp  *best = NULL;

	hash_seq_init(&status, d->ops);
	while ((op = hash_seq_search(&status)) != NULL)
	{
		char	   *v;

		if (op->status != DOS_PENDING || (op->kind != k1 && op->kind != k2))
			continue;
		/* sent after the wait's deadline: the wait has timed out */
		if (op->wake_at != DT_NOBEGIN && sent_at >= op->wake_at)
			continue;
		v = durable_jsonb_get_text(op->result, key);
		if (v != NULL && strcmp(v, value) == 0 && (best == NULL || op->op_id < best->op_id))
			best = op;
	}
	return best;
}

/*
 * durable_drain
 *		Takes the messages of the execution's inbox and applies them: a
 *		completion to the operation waiting on its callback (if none waits
 *		yet, the callback's row keeps it), an event to the oldest wait for
 *		it (else it is kept), a child's report to its operation.  Returns
 *		whether an operation has finished, so that a replay goes on.
 */
bool
durable_drain(DurableDrive *d)
{
	List	   *msgs = durable_storage_inbox_take(&d->ex.id);
	ListCell   *lc;
	bool		applied = false;

	foreach(lc, msgs)
	{
		DurableMessage *m = lfirst(lc);

		if (strcmp(m->kind, "callback") == 0)
		{
			char	   *ref = durable_jsonb_get_text(m->payload, "callback");
			char	   *status = durable_jsonb_get_text(m->payload, "status");
			DurableOp  *op;

			if (ref == NULL || status == NULL)
				continue;
			op = find_waiting(d, DOK_CALLBACK, DOK_AWAIT_CALLBACK, "callback", ref,
							  DT_NOBEGIN);
			if (op == NULL)
				continue;
			if (strcmp(status, "SUCCEEDED") == 0)
				op_done(d, op, DOS_SUCCEEDED, durable_jsonb_get(m->payload, "result"), NULL);
			else
				op_done(d, op, DOS_FAILED, NULL,
						callback_failed(op->name, durable_jsonb_get(m->payload, "error")));
			applied = true;
		}
		else if (strcmp(m->kind, "event") == 0)
		{
			char	   *name = durable_jsonb_get_text(m->payload, "event");
			Jsonb	   *payload = durable_jsonb_get(m->payload, "payload");
			DurableOp  *op;

			if (name == NULL)
				continue;
			op = find_waiting(d, DOK_EVENT, DOK_EVENT, "event", name, m->created_at);
			if (op != NULL)
			{
				op_done(d, op, DOS_SUCCEEDED, payload, NULL);
				applied = true;
			}
			else
				durable_storage_event_park(&d->ex.id, m->message_id, name, payload,
										   d->ex.owner, m->created_at);
		}
		else if (strcmp(m->kind, "child") == 0)
		{
			if (durable_children_report(d, m->payload))
				applied = true;
		}
		else if (strcmp(m->kind, "http") == 0)
		{
			if (durable_http_message(d, m->payload))
				applied = true;
		}
	}
	return applied;
}
