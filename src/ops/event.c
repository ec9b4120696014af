/*-------------------------------------------------------------------------
 *
 * event.c
 *	  durable_wait_for_event: waits for an event sent to the execution by
 *	  name (durable_send_event).  An event that no wait takes is kept for
 *	  the next wait of its name.
 *
 * IDENTIFICATION
 *	  src/ops/event.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/* what perform_event needs, in the replay's context */
typedef struct EventArgs
{
	char	   *event;
	int64		timeout;		/* microseconds, 0: none */
} EventArgs;

static DurableAdvance perform_event(DurableDrive *d);
static bool waits_for_event(const DurableOp *op, const DurableSignal *s);
static void deliver_event(DurableDrive *d, DurableOp *op, const DurableSignal *s);
static bool apply_message(DurableDrive *d, DurableMessage *m);

const DurableOpKindInfo durable_kind_event = {
	.name = "event",
	.counts_bytes = true,
	.waits_for = waits_for_event,
	.deliver = deliver_event,
};
const DurableMessageKind durable_message_event = {
	.name = "event",
	.apply = apply_message,
};

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
	DurableDrive *d = durable_op_enter("durable_wait_for_event");
	char	   *name = durable_text_arg(fcinfo, 0, "wait name");
	char	   *event = durable_text_arg(fcinfo, 1, "event name");
	int64		timeout = durable_wait_length_arg(fcinfo, 2, "event timeout");
	DurableOpKey key;
	DurableOp  *op;
	EventArgs  *a;
	MemoryContext old;

	durable_check_name("wait name", name);
	durable_check_name("event name", event);
	op = durable_op_lookup(d, &durable_kind_event, name, &key);
	if (op != NULL)
	{
		DURABLE_RETURN_OUTCOME(d, op);
		durable_op_await(d, op, &key, NULL);
		/* past the deadline: timed out */
		durable_op_timed_out(d, op,
							 durable_error_new(ERRCODE_DURABLE_EVENT_TIMEOUT,
											   psprintf("event \"%s\" did not arrive in time for wait \"%s\"",
														event, name),
											   NULL, NULL));
		d->raised_op = op;
		durable_raise_op_error(op->error);
	}
	durable_op_check_limit(d);
	old = durable_pending_begin(d, DPK_PERFORM, perform_event, &durable_kind_event, &key,
								NULL, name);
	a = palloc(sizeof(EventArgs));
	a->event = pstrdup(event);
	a->timeout = timeout;
	d->pending.args = a;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/*
 * start_wait
 *		Takes the oldest kept event of the name, or starts waiting: the
 *		operation's result names the event it waits for.  Returns when to
 *		wake (DT_NOBEGIN: at once; DT_NOEND: when a message comes).
 */
static TimestampTz
start_wait(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	EventArgs  *a = p->args;
	DurableOp  *op = durable_op_create(d, &p->key, &durable_kind_event, p->name, DOS_PENDING);
	Jsonb	   *payload;
	const char *keys[1] = {"event"};
	Jsonb	   *values[1];

	if (durable_storage_event_take(&d->ex.id, a->event, &payload))
	{
		durable_op_done(d, op, DOS_SUCCEEDED, payload, NULL);
		return DT_NOBEGIN;
	}
	values[0] = durable_jsonb_string(a->event);
	durable_op_set_result(d, op, durable_jsonb_build(1, keys, values));
	if (a->timeout == 0)
		return DT_NOEND;
	op->wake_at = op->started_at + a->timeout;
	return op->wake_at;
}

static DurableAdvance
perform_event(DurableDrive *d)
{
	return durable_drive_performed(d, start_wait(d), d->pending.name);
}

/* a wait for an event takes the events of its name */
static bool
waits_for_event(const DurableOp *op, const DurableSignal *s)
{
	char	   *name;

	if (strcmp(s->what, "event") != 0)
		return false;
	name = durable_jsonb_get_text(op->result, "event");
	return name != NULL && strcmp(name, s->ref) == 0;
}

static void
deliver_event(DurableDrive *d, DurableOp *op, const DurableSignal *s)
{
	durable_op_done(d, op, DOS_SUCCEEDED, s->payload, NULL);
}

/*
 * apply_message
 *		An event came (durable_send_event): the oldest wait for it takes
 *		it, else it is kept for the next wait of its name.
 */
static bool
apply_message(DurableDrive *d, DurableMessage *m)
{
	DurableSignal s;

	memset(&s, 0, sizeof(s));
	s.what = "event";
	s.ref = durable_jsonb_get_text(m->payload, "event");
	if (s.ref == NULL)
		return false;
	s.sent_at = m->created_at;
	s.payload = durable_jsonb_get(m->payload, "payload");
	if (durable_inbox_deliver(d, &s))
		return true;
	durable_storage_event_park(&d->ex.id, m->message_id, s.ref, s.payload,
							   d->ex.owner, m->created_at);
	return false;
}
