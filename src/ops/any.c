/*-------------------------------------------------------------------------
 *
 * any.c
 *	  durable_wait_for_any: waits for the first of several branches, each
 *	  an event (by name), a timer or a callback made by
 *	  durable_create_callback of this execution (what promise.race,
 *	  WhenAny and Temporal's selector give).
 *
 * The contract:
 *	- The branches are checked in the replay, before anything is recorded;
 *	  a bad one is an error of the call (22004, 22023; WF009 for a name or
 *	  a timer past its limit, as the other waits).
 *	- When the wait begins (the operation is created), the branches are
 *	  looked at in the byte order of their names: the first event branch
 *	  with a kept event takes it, the first callback branch whose callback
 *	  is complete wins, and the first of these in that order decides.  A
 *	  callback branch whose callback this execution did not make fails the
 *	  operation (22023), as durable_await_callback does.
 *	- Else the operation waits, its result naming what it waits for
 *	  ({"branches": {name: {"event": e} | {"timer": at} | {"callback":
 *	  hash}}}), so that the inbox offers it the events of those names and
 *	  the completions of those callbacks (waits_for); the first that comes
 *	  wins.  Timers run from the moment the wait begins and are stored as
 *	  absolute times; the earliest is the operation's deadline (wake_at),
 *	  and an event sent at or after it does not win.  At the deadline the
 *	  earliest timer wins (ties: the first name).
 *	- The result is {"branch": name, "payload": the event's payload, the
 *	  callback's result or null}.  A callback that completed with a
 *	  failure fails the operation with WF002, as durable_await_callback.
 *	- The branches that lost are left as they are: an event that comes
 *	  later is kept for a later wait of its name; a callback that completes
 *	  later keeps its outcome in its row for durable_await_callback.  A
 *	  callback's own timeout or heartbeat is not a branch: a callback that
 *	  timed out never wins (use a timer branch).
 *
 * IDENTIFICATION
 *	  src/ops/any.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/json.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/* at most this many branches */
#define ANY_MAX_BRANCHES 64

/* one branch, as given by the caller or as stored in the waiting result */
typedef struct AnyBranch
{
	char	   *name;
	const char *what;			/* "event", "timer" or "callback" */
	char	   *ref;			/* the event name, the interval or time, the
								 * callback id or hash, as text */
	int64		us;				/* a timer given by the caller: its length */
	uint8		hash[DURABLE_TOKEN_HASH_LEN];	/* a callback given by the
												 * caller: its hash */
} AnyBranch;

/* what perform_any needs, in the replay's context */
typedef struct AnyArgs
{
	Jsonb	   *branches;		/* as given, checked */
} AnyArgs;

static DurableAdvance perform_any(DurableDrive *d);
static DurableAdvance perform_deadline(DurableDrive *d);
static bool waits_for_any(const DurableOp *op, const DurableSignal *s);
static void deliver_any(DurableDrive *d, DurableOp *op, const DurableSignal *s);

const DurableOpKindInfo durable_kind_any = {
	.name = "any",
	.counts_bytes = true,
	.waits_for = waits_for_any,
	.deliver = deliver_any,
};

static int
branch_cmp(const void *a, const void *b)
{
	return strcmp(((const AnyBranch *) a)->name, ((const AnyBranch *) b)->name);
}

/*
 * branch_value
 *		A branch's value: an object with exactly one of the keys "event",
 *		"timer" and "callback", whose value is a string.
 */
static void
branch_value(AnyBranch *b, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	k;
	JsonbValue	val;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data) ||
		JsonContainerSize(v->val.binary.data) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("branch \"%s\" must be an object with one key", b->name),
				 errdetail("A branch is {\"event\": name}, {\"timer\": interval} or {\"callback\": id}.")));
	it = JsonbIteratorInit(v->val.binary.data);
	(void) JsonbIteratorNext(&it, &k, true);	/* WJB_BEGIN_OBJECT */
	(void) JsonbIteratorNext(&it, &k, true);	/* WJB_KEY */
	(void) JsonbIteratorNext(&it, &val, true);	/* WJB_VALUE */
	if (k.val.string.len == 5 && strncmp(k.val.string.val, "event", 5) == 0)
		b->what = "event";
	else if (k.val.string.len == 5 && strncmp(k.val.string.val, "timer", 5) == 0)
		b->what = "timer";
	else if (k.val.string.len == 8 && strncmp(k.val.string.val, "callback", 8) == 0)
		b->what = "callback";
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("branch \"%s\" has an unknown key \"%s\"", b->name,
						pnstrdup(k.val.string.val, k.val.string.len)),
				 errdetail("A branch is {\"event\": name}, {\"timer\": interval} or {\"callback\": id}.")));
	if (val.type == jbvNull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the %s of branch \"%s\" must not be null", b->what, b->name)));
	if (val.type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the %s of branch \"%s\" must be a string", b->what, b->name)));
	b->ref = pnstrdup(val.val.string.val, val.val.string.len);
}

/*
 * load_branches
 *		The branches of an object, in the byte order of their names.  SQL
 *		NULL and JSON null are both null.
 */
static int
load_branches(Jsonb *branches, AnyBranch **out)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	AnyBranch  *b;
	int			size;
	int			n = 0;

	if (branches == NULL ||
		(JB_ROOT_IS_SCALAR(branches) && JsonbExtractScalar(&branches->root, &v) &&
		 v.type == jbvNull))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("branches must not be null")));
	if (!JB_ROOT_IS_OBJECT(branches))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("branches must be a JSON object"),
				 errdetail("It maps each branch name to {\"event\": name}, {\"timer\": interval} or {\"callback\": id}.")));
	size = JB_ROOT_COUNT(branches);
	if (size == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("branches must not be empty")));
	if (size > ANY_MAX_BRANCHES)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("too many branches"),
				 errdetail("There are %d; the limit is %d.", size, ANY_MAX_BRANCHES)));
	b = palloc0(sizeof(AnyBranch) * size);
	it = JsonbIteratorInit(&branches->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY && n < size)
			b[n].name = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE && n < size)
			branch_value(&b[n++], &v);
	}
	qsort(b, n, sizeof(AnyBranch), branch_cmp);
	*out = b;
	return n;
}

/*
 * timer_length
 *		A timer branch's interval: positive, at most durable.max_wait, as
 *		the timeouts of the other waits.
 */
static int64
timer_length(AnyBranch *b)
{
	char	   *what = psprintf("timer of branch \"%s\"", b->name);
	MemoryContext cxt = CurrentMemoryContext;
	Interval   *iv = NULL;
	int64		us;

	PG_TRY();
	{
		iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(b->ref),
												   ObjectIdGetDatum(InvalidOid),
												   Int32GetDatum(-1)));
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is not an interval: \"%s\"", what, b->ref),
				 errdetail("%s", edata->message)));
	}
	PG_END_TRY();
	us = durable_interval_us(iv, what);
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

/*
 * check_branches
 *		The branches given to the call, checked: names, event names, timers,
 *		callback ids.  An error for the first bad one.
 */
static int
check_branches(Jsonb *branches, AnyBranch **out)
{
	AnyBranch  *b;
	int			n = load_branches(branches, &b);
	int			i;

	for (i = 0; i < n; i++)
	{
		durable_check_name("branch name", b[i].name);
		if (strcmp(b[i].what, "event") == 0)
			durable_check_name(psprintf("event name of branch \"%s\"", b[i].name), b[i].ref);
		else if (strcmp(b[i].what, "timer") == 0)
			b[i].us = timer_length(&b[i]);
		else
			durable_token_hash(b[i].ref, b[i].hash);	/* a malformed id is an error */
	}
	*out = b;
	return n;
}

PG_FUNCTION_INFO_V1(durable_wait_for_any);

/*
 * durable_wait_for_any(name text, branches jsonb) RETURNS jsonb
 *		{"branch": the first branch that fired, "payload": its payload}.
 */
Datum
durable_wait_for_any(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_wait_for_any");
	char	   *name = durable_text_arg(fcinfo, 0, "wait name");
	Jsonb	   *branches = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	AnyBranch  *b;
	DurableOpKey key;
	DurableOp  *op;
	AnyArgs    *a;
	MemoryContext old;

	durable_check_name("wait name", name);
	(void) check_branches(branches, &b);
	op = durable_op_lookup(d, &durable_kind_any, name, &key);
	if (op != NULL)
	{
		DURABLE_RETURN_OUTCOME(d, op);
		durable_op_await(d, op, &key, perform_deadline);
	}
	durable_op_check_limit(d);
	old = durable_pending_begin(d, DPK_PERFORM, perform_any, &durable_kind_any, &key,
								NULL, name);
	a = palloc(sizeof(AnyArgs));
	a->branches = (Jsonb *) datumCopy(JsonbPGetDatum(branches), false, -1);
	d->pending.args = a;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/*
 * won
 *		The operation's result: the branch that won and its payload.
 */
static void
won(DurableDrive *d, DurableOp *op, const char *branch, Jsonb *payload)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"branch\": ");
	escape_json(&buf, branch);
	appendStringInfoString(&buf, ", \"payload\": ");
	if (payload != NULL)
		appendStringInfoString(&buf, JsonbToCString(NULL, &payload->root, VARSIZE(payload)));
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoChar(&buf, '}');
	durable_op_done(d, op, DOS_SUCCEEDED, durable_cstring_to_jsonb(buf.data), NULL);
}

/*
 * callback_failed
 *		The error of a callback branch completed with a failure: WF002 with
 *		the error's "message", as durable_await_callback raises it.
 */
static ErrorData *
callback_failed(const char *wait, const char *branch, Jsonb *error)
{
	char	   *msg = durable_error_text(error);
	char	   *all = error ? JsonbToCString(NULL, &error->root, VARSIZE(error)) : NULL;
	return durable_error_new(ERRCODE_DURABLE_CALLBACK_FAILED,
							 psprintf("callback of branch \"%s\" of wait \"%s\" failed: %s",
									  branch, wait, msg ? msg : "no error was given"),
							 all ? psprintf("The error given: %s", all) : NULL, NULL);
}

/*
 * start_wait
 *		Creates the operation: a branch that has fired already wins, else it
 *		waits.  Returns when to wake (DT_NOBEGIN: at once; DT_NOEND: when a
 *		message comes).
 */
static TimestampTz
start_wait(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	AnyArgs    *a = p->args;
	DurableOp  *op = durable_op_create(d, &p->key, &durable_kind_any, p->name, DOS_PENDING);
	DurableCallback *cbs;
	AnyBranch  *b;
	int			n = check_branches(a->branches, &b);
	int			i;
	int			zero = 0;
	StringInfoData buf;
	TimestampTz deadline = DT_NOBEGIN;

	/* every callback must be this execution's */
	cbs = palloc0(sizeof(DurableCallback) * n);
	for (i = 0; i < n; i++)
	{
		if (strcmp(b[i].what, "callback") != 0)
			continue;
		if (!durable_storage_callback_get(b[i].hash, &cbs[i]) ||
			memcmp(&cbs[i].execution, &d->ex.id, sizeof(pg_uuid_t)) != 0)
		{
			durable_op_done(d, op, DOS_FAILED, NULL,
							durable_error_new(ERRCODE_INVALID_PARAMETER_VALUE,
											  psprintf("callback of branch \"%s\" of wait \"%s\" was not created by this execution",
													   b[i].name, p->name),
											  pstrdup("A callback branch waits on an id returned by durable_create_callback of the same execution."),
											  NULL));
			return DT_NOBEGIN;
		}
	}

	/* a branch that has fired already, the first by name */
	for (i = 0; i < n; i++)
	{
		Jsonb	   *payload;

		if (strcmp(b[i].what, "event") == 0 &&
			durable_storage_event_take(&d->ex.id, b[i].ref, &payload))
		{
			won(d, op, b[i].name, payload);
			return DT_NOBEGIN;
		}
		if (strcmp(b[i].what, "callback") == 0 &&
			strcmp(cbs[i].status, "SUCCEEDED") == 0)
		{
			won(d, op, b[i].name, cbs[i].result);
			return DT_NOBEGIN;
		}
		if (strcmp(b[i].what, "callback") == 0 &&
			strcmp(cbs[i].status, "FAILED") == 0)
		{
			durable_op_done(d, op, DOS_FAILED, NULL,
							callback_failed(p->name, b[i].name, cbs[i].error));
			return DT_NOBEGIN;
		}
	}

	/* wait: the result says for what; the earliest timer is the deadline */
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"branches\": {");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, b[i].name);
		appendStringInfoString(&buf, ": {");
		escape_json(&buf, b[i].what);
		appendStringInfoString(&buf, ": ");
		if (strcmp(b[i].what, "event") == 0)
			escape_json(&buf, b[i].ref);
		else if (strcmp(b[i].what, "callback") == 0)
			escape_json(&buf, durable_hex(b[i].hash, DURABLE_TOKEN_HASH_LEN));
		else
		{
			TimestampTz at = op->started_at + b[i].us;
			char		iso[MAXDATELEN + 1];

			JsonEncodeDateTime(iso, TimestampTzGetDatum(at), TIMESTAMPTZOID, &zero);
			escape_json(&buf, iso);
			if (deadline == DT_NOBEGIN || at < deadline)
				deadline = at;
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "}}");
	durable_op_set_result(d, op, durable_cstring_to_jsonb(buf.data));
	op->wake_at = deadline;
	return deadline == DT_NOBEGIN ? DT_NOEND : deadline;
}

static DurableAdvance
perform_any(DurableDrive *d)
{
	return durable_drive_performed(d, start_wait(d), d->pending.name);
}

/*
 * perform_deadline
 *		The deadline passed with no branch fired: the earliest timer wins
 *		(ties: the first by name).
 */
static DurableAdvance
perform_deadline(DurableDrive *d)
{
	DurableOp  *op = d->pending.op;
	AnyBranch  *b;
	int			n = load_branches(durable_jsonb_get(op->result, "branches"), &b);
	int			i;
	const char *first = NULL;
	TimestampTz first_at = DT_NOBEGIN;

	for (i = 0; i < n; i++)
	{
		TimestampTz at;

		if (strcmp(b[i].what, "timer") != 0)
			continue;
		at = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in,
													 CStringGetDatum(b[i].ref),
													 ObjectIdGetDatum(InvalidOid),
													 Int32GetDatum(-1)));
		if (first == NULL || at < first_at)
		{
			first = b[i].name;
			first_at = at;
		}
	}
	if (first == NULL)
		elog(ERROR, "wait \"%s\" has a deadline but no timer", op->name);
	won(d, op, first, NULL);
	return durable_drive_performed(d, DT_NOBEGIN, op->name);
}

/*
 * branch_for
 *		The first branch (by name) of a waiting operation that waits for s,
 *		or NULL.
 */
static const char *
branch_for(const DurableOp *op, const DurableSignal *s)
{
	AnyBranch  *b;
	int			n;
	int			i;

	if (strcmp(s->what, "event") != 0 && strcmp(s->what, "callback") != 0)
		return NULL;
	n = load_branches(durable_jsonb_get(op->result, "branches"), &b);
	for (i = 0; i < n; i++)
		if (strcmp(b[i].what, s->what) == 0 && strcmp(b[i].ref, s->ref) == 0)
			return b[i].name;
	return NULL;
}

/* a race takes the events of its event branches and the completions of its callbacks */
static bool
waits_for_any(const DurableOp *op, const DurableSignal *s)
{
	return branch_for(op, s) != NULL;
}

static void
deliver_any(DurableDrive *d, DurableOp *op, const DurableSignal *s)
{
	const char *branch = branch_for(op, s);

	if (strcmp(s->what, "callback") == 0 && s->failed)
		durable_op_done(d, op, DOS_FAILED, NULL, callback_failed(op->name, branch, s->error));
	else
		won(d, op, branch, s->payload);
}
