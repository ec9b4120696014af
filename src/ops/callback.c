/*-------------------------------------------------------------------------
 *
 * callback.c
 *	  Callbacks: durable_wait_for_callback, durable_create_callback and
 *	  durable_await_callback.  A callback id ("cb_" and 32 random hex
 *	  digits) is a capability whose hash alone is stored; the outside
 *	  completes it (api/messages.c), which puts a message in the
 *	  execution's inbox that completes the waiting operation here.
 *
 * IDENTIFICATION
 *	  src/ops/callback.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/datum.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/* what the performers need, in the replay's context */
typedef struct CallbackArgs
{
	char	   *sql;			/* wait_for_callback: the submitter */
	Jsonb	   *args;			/* its $2 */
	int64		timeout;		/* microseconds, 0: none */
	int64		heartbeat;		/* microseconds, 0: none */
	char	   *token;			/* await_callback: the id */
} CallbackArgs;

static DurableAdvance perform_callback(DurableDrive *d);
static DurableAdvance perform_await_callback(DurableDrive *d);
static DurableAdvance perform_check_callback(DurableDrive *d);
static bool waits_for_callback(const DurableOp *op, const DurableSignal *s);
static void deliver_callback(DurableDrive *d, DurableOp *op, const DurableSignal *s);
static bool apply_message(DurableDrive *d, DurableMessage *m);

const DurableOpKindInfo durable_kind_callback = {
	.name = "callback",
	.counts_bytes = true,
	.waits_for = waits_for_callback,
	.deliver = deliver_callback,
};
const DurableOpKindInfo durable_kind_create_callback = {
	.name = "create_callback",
	.counts_bytes = true,
	.open_at_finish = true,		/* the callback may still be pending */
};
const DurableOpKindInfo durable_kind_await_callback = {
	.name = "await_callback",
	.counts_bytes = true,
	.waits_for = waits_for_callback,
	.deliver = deliver_callback,
};
const DurableMessageKind durable_message_callback = {
	.name = "callback",
	.apply = apply_message,
};

static MemoryContext
callback_pending(DurableDrive *d, DurablePerform perform, DurableOpKind kind,
				 const DurableOpKey *key, const char *name, CallbackArgs **a)
{
	MemoryContext old = durable_pending_begin(d, DPK_PERFORM, perform, kind, key, NULL, name);

	*a = palloc0(sizeof(CallbackArgs));
	d->pending.args = *a;
	return old;
}

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
	DurableDrive *d = durable_op_enter("durable_wait_for_callback");
	char	   *name = durable_text_arg(fcinfo, 0, "callback name");
	char	   *submitter = durable_text_arg(fcinfo, 1, "submitter SQL");
	int64		timeout = durable_wait_length_arg(fcinfo, 3, "callback timeout");
	int64		heartbeat = durable_wait_length_arg(fcinfo, 4, "heartbeat_timeout");
	DurableOpKey key;
	DurableOp  *op;
	CallbackArgs *a;
	MemoryContext old;

	durable_check_name("callback name", name);
	op = durable_op_lookup(d, &durable_kind_callback, name, &key);
	if (op != NULL)
	{
		DURABLE_RETURN_OUTCOME(d, op);
		durable_op_await(d, op, &key, perform_check_callback);
	}
	durable_op_check_limit(d);
	if (!PG_ARGISNULL(2))
		durable_check_payload("callback args", PG_GETARG_JSONB_P(2));
	old = callback_pending(d, perform_callback, &durable_kind_callback, &key, name, &a);
	a->sql = pstrdup(submitter);
	if (!PG_ARGISNULL(2))
		a->args = (Jsonb *) datumCopy(PG_GETARG_DATUM(2), false, -1);
	a->timeout = timeout;
	a->heartbeat = heartbeat;
	MemoryContextSwitchTo(old);
	durable_yield(d);
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
	DurableDrive *d = durable_op_enter("durable_create_callback");
	char	   *name = durable_text_arg(fcinfo, 0, "callback name");
	int64		timeout = durable_wait_length_arg(fcinfo, 1, "callback timeout");
	int64		heartbeat = durable_wait_length_arg(fcinfo, 2, "heartbeat_timeout");
	DurableOpKey key;
	DurableOp  *op;
	CallbackArgs *a;
	MemoryContext old;

	durable_check_name("callback name", name);
	op = durable_op_lookup(d, &durable_kind_create_callback, name, &key);
	if (op != NULL && op->status == DOS_SUCCEEDED)
		PG_RETURN_TEXT_P(cstring_to_text(durable_jsonb_get_text(op->result, "callback_id")));
	durable_op_check_limit(d);
	old = callback_pending(d, perform_callback, &durable_kind_create_callback, &key, name, &a);
	a->timeout = timeout;
	a->heartbeat = heartbeat;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(durable_await_callback);

/*
 * durable_await_callback(name text, callback_id text) RETURNS jsonb
 */
Datum
durable_await_callback(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_await_callback");
	char	   *name = durable_text_arg(fcinfo, 0, "callback name");
	char	   *token = durable_text_arg(fcinfo, 1, "callback id");
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	DurableOpKey key;
	DurableOp  *op;
	CallbackArgs *a;
	MemoryContext old;

	durable_check_name("callback name", name);
	op = durable_op_lookup(d, &durable_kind_await_callback, name, &key);
	if (op != NULL)
	{
		DURABLE_RETURN_OUTCOME(d, op);
		durable_op_await(d, op, &key, perform_check_callback);
	}
	durable_token_hash(token, hash);	/* a malformed id is an error here */
	durable_op_check_limit(d);
	old = callback_pending(d, perform_await_callback, &durable_kind_await_callback, &key, name,
						   &a);
	a->token = pstrdup(token);
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/*
 * callback_failed
 *		The error a workflow sees for durable_callback_failure(id, error):
 *		the error's "message" if it has one, else the error as JSON.
 */
static ErrorData *
callback_failed(const char *name, Jsonb *error)
{
	char	   *msg = durable_error_text(error);

	return durable_error_new(ERRCODE_DURABLE_CALLBACK_FAILED,
							 psprintf("callback \"%s\" failed: %s", name,
									  msg ? msg : "no error was given"),
							 error ? psprintf("The error given: %s",
											  JsonbToCString(NULL, &error->root, VARSIZE(error))) : NULL,
							 NULL);
}

static ErrorData *
callback_timed_out(const char *name, bool total)
{
	if (total)
		return durable_error_new(ERRCODE_DURABLE_CALLBACK_TIMEOUT,
						  psprintf("callback \"%s\" timed out", name),
						  pstrdup("It was not completed within its timeout."), NULL);
	return durable_error_new(ERRCODE_DURABLE_HEARTBEAT_TIMEOUT,
					  psprintf("callback \"%s\" missed its heartbeat", name),
					  pstrdup("Neither a completion nor a heartbeat came within its heartbeat_timeout."), NULL);
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
		durable_op_done(d, op, DOS_SUCCEEDED, cb->result, NULL);
	else if (strcmp(cb->status, "FAILED") == 0)
		durable_op_done(d, op, DOS_FAILED, NULL, callback_failed(op->name, cb->error));
	else if (strcmp(cb->status, "PENDING") != 0)
		durable_op_done(d, op, DOS_TIMED_OUT, NULL,
				callback_timed_out(op->name, cb->timeout_at != DT_NOBEGIN &&
								   cb->timeout_at <= now));
	else if (durable_storage_callback_timeout(hash, now, &total))
		durable_op_done(d, op, DOS_TIMED_OUT, NULL, callback_timed_out(op->name, total));
	else
	{
		deadline = durable_earliest(cb->timeout_at, cb->heartbeat_deadline);
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
 * create_callback
 *		Creates a callback: for durable_wait_for_callback, runs the
 *		submitter with the id first (its failure fails the operation and
 *		no callback exists), then records the callback and the waiting
 *		operation, all in this transaction.  For durable_create_callback,
 *		the id is the operation's result.  Returns when to wake, or
 *		DT_NOBEGIN to replay at once.
 */
static TimestampTz
create_callback(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	CallbackArgs *a = p->args;
	TimestampTz now = durable_clock_now();
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	char	   *token = durable_token_new(hash);
	TimestampTz timeout_at = a->timeout > 0 ? now + a->timeout : DT_NOBEGIN;
	TimestampTz deadline;
	DurableOp  *op;

	if (p->op_kind == &durable_kind_callback)
	{
		Oid			argtypes[2] = {TEXTOID, JSONBOID};
		Datum		values[2];
		char		nulls[2] = {' ', ' '};
		ErrorData  *err = NULL;
		int64		limit = d->ex.deadline != DT_NOBEGIN ? Max(d->ex.deadline - now, 1) : 0;

		values[0] = CStringGetTextDatum(token);
		values[1] = a->args ? JsonbPGetDatum(a->args) : (Datum) 0;
		nulls[1] = a->args ? ' ' : 'n';
		d->in_step = true;
		PG_TRY();
		{
			(void) durable_sql_run(a->sql, 2, argtypes, values, nulls, d->ex.owner,
								   d->ex.search_path, limit, &err);
		}
		PG_FINALLY();
		{
			d->in_step = false;
		}
		PG_END_TRY();
		if (err != NULL)
		{
			op = durable_op_create(d, &p->key, &durable_kind_callback, p->name, DOS_STARTED);
			durable_op_done(d, op, DOS_FAILED, NULL,
					durable_error_new(ERRCODE_DURABLE_CALLBACK_FAILED,
							   psprintf("submitter of callback \"%s\" failed: %s",
										p->name, err->message),
							   psprintf("The submitter raised SQLSTATE %s%s%s",
										unpack_sql_state(err->sqlerrcode),
										err->detail ? ": " : ".",
										err->detail ? err->detail : ""), NULL));
			return DT_NOBEGIN;
		}
	}

	op = durable_op_create(d, &p->key, p->op_kind, p->name,
						   p->op_kind == &durable_kind_create_callback ? DOS_SUCCEEDED : DOS_PENDING);
	durable_storage_callback_insert(hash, &d->ex.id, d->ex.run_no, op->op_id, p->name,
									timeout_at, a->heartbeat, d->ex.owner, now);
	if (p->op_kind == &durable_kind_create_callback)
	{
		const char *keys[1] = {"callback_id"};
		Jsonb	   *values[1];

		values[0] = durable_jsonb_string(token);
		durable_op_set_result(d, op, durable_jsonb_build(1, keys, values));
		return DT_NOBEGIN;
	}
	durable_op_set_result(d, op, callback_ref(hash));
	deadline = durable_earliest(timeout_at, a->heartbeat > 0 ? now + a->heartbeat : DT_NOBEGIN);
	op->wake_at = deadline;
	return deadline == DT_NOBEGIN ? DT_NOEND : deadline;
}

/*
 * await_callback
 *		Starts waiting on a callback made earlier by durable_create_callback
 *		of this execution; it may be complete already.
 */
static TimestampTz
await_callback(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	CallbackArgs *a = p->args;
	TimestampTz now = durable_clock_now();
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	DurableCallback cb;
	DurableOp  *op;

	durable_token_hash(a->token, hash);
	op = durable_op_create(d, &p->key, &durable_kind_await_callback, p->name, DOS_PENDING);
	if (!durable_storage_callback_get(hash, &cb) ||
		memcmp(&cb.execution, &d->ex.id, sizeof(pg_uuid_t)) != 0)
	{
		durable_op_done(d, op, DOS_FAILED, NULL,
				durable_error_new(ERRCODE_INVALID_PARAMETER_VALUE,
						   psprintf("callback \"%s\" was not created by this execution", p->name),
						   pstrdup("durable_await_callback waits on an id returned by durable_create_callback of the same execution."), NULL));
		return DT_NOBEGIN;
	}
	durable_op_set_result(d, op, callback_ref(hash));
	return apply_callback(d, op, &cb, hash, now);
}

/*
 * check_callback
 *		A callback wait reached its deadline: it timed out, unless a
 *		heartbeat moved the deadline or a completion came.
 */
static TimestampTz
check_callback(DurableDrive *d)
{
	DurableOp  *op = d->pending.op;
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	DurableCallback cb;

	if (!op_callback_hash(op, hash) || !durable_storage_callback_get(hash, &cb))
		elog(ERROR, "callback of operation \"%s\" is missing", op->name);
	return apply_callback(d, op, &cb, hash, durable_clock_now());
}

static DurableAdvance
perform_callback(DurableDrive *d)
{
	return durable_drive_performed(d, create_callback(d), d->pending.name);
}

static DurableAdvance
perform_await_callback(DurableDrive *d)
{
	return durable_drive_performed(d, await_callback(d), d->pending.name);
}

static DurableAdvance
perform_check_callback(DurableDrive *d)
{
	return durable_drive_performed(d, check_callback(d), d->pending.name);
}

/* a waiting callback operation takes the completion of its callback */
static bool
waits_for_callback(const DurableOp *op, const DurableSignal *s)
{
	char	   *ref;

	if (strcmp(s->what, "callback") != 0)
		return false;
	ref = durable_jsonb_get_text(op->result, "callback");
	return ref != NULL && strcmp(ref, s->ref) == 0;
}

static void
deliver_callback(DurableDrive *d, DurableOp *op, const DurableSignal *s)
{
	if (!s->failed)
		durable_op_done(d, op, DOS_SUCCEEDED, s->payload, NULL);
	else
		durable_op_done(d, op, DOS_FAILED, NULL, callback_failed(op->name, s->error));
}

/*
 * apply_message
 *		A callback was completed (api/messages.c): the operation waiting on
 *		it, if any, takes the outcome; else the callback's row keeps it for
 *		a later durable_await_callback.
 */
static bool
apply_message(DurableDrive *d, DurableMessage *m)
{
	DurableSignal s;
	char	   *status;

	memset(&s, 0, sizeof(s));
	s.what = "callback";
	s.ref = durable_jsonb_get_text(m->payload, "callback");
	status = durable_jsonb_get_text(m->payload, "status");
	if (s.ref == NULL || status == NULL)
		return false;
	/*
	 * A completion sent after a wait's deadline does not win (a race's
	 * timer fired first); a callback wait that reached its deadline reads
	 * the callback's row instead, which has the completion.
	 */
	s.sent_at = m->created_at;
	s.failed = strcmp(status, "SUCCEEDED") != 0;
	s.payload = durable_jsonb_get(m->payload, "result");
	s.error = durable_jsonb_get(m->payload, "error");
	return durable_inbox_deliver(d, &s);
}
