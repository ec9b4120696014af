/*-------------------------------------------------------------------------
 *
 * inbox.c
 *	  The execution's inbox: messages that others wrote for it (a
 *	  callback's completion, an event, a child's report, an HTTP answer),
 *	  taken by its driver and applied before a replay decides anything, so
 *	  that a replay only reads outcomes.
 *
 * Each message has a kind, registered with the function that applies it
 * by the ops/ file that owns it (ops/kinds.c).  A message for operations
 * that wait on something by reference (an event's name, a callback) is
 * offered, as a DurableSignal, to the oldest waiting operation whose kind
 * says it waits for it (the kind table's waits_for), whatever its kind:
 * a durable_wait_for_event and a durable_wait_for_any both take events.
 * A message for no known kind, or for an operation that is gone, is
 * dropped.
 *
 * IDENTIFICATION
 *	  src/core/inbox.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "core/core.h"

/*
 * waiter
 *		The oldest waiting operation that waits for s: one of a kind that
 *		says so, whose deadline had not passed when s was sent.
 */
static DurableOp *
waiter(DurableDrive *d, const DurableSignal *s)
{
	HASH_SEQ_STATUS status;
	DurableOp  *op;
	DurableOp  *best = NULL;

	hash_seq_init(&status, d->ops);
	while ((op = hash_seq_search(&status)) != NULL)
	{
		if (op->status != DOS_PENDING || op->kind->waits_for == NULL)
			continue;
		/* sent after the wait's deadline: the wait has timed out */
		if (op->wake_at != DT_NOBEGIN && s->sent_at >= op->wake_at)
			continue;
		if ((best == NULL || op->op_id < best->op_id) && op->kind->waits_for(op, s))
			best = op;
	}
	return best;
}

/*
 * durable_inbox_deliver
 *		Gives s to the operation waiting for it; false when none waits.
 */
bool
durable_inbox_deliver(DurableDrive *d, const DurableSignal *s)
{
	DurableOp  *op = waiter(d, s);

	if (op == NULL)
		return false;
	op->kind->deliver(d, op, s);
	return true;
}

/*
 * durable_inbox_drain
 *		Takes the messages of the execution's inbox and applies each by its
 *		kind.  Returns whether an operation has finished, so that a replay
 *		goes on.
 */
bool
durable_inbox_drain(DurableDrive *d)
{
	List	   *msgs = durable_storage_inbox_take(&d->ex.id);
	ListCell   *lc;
	bool		applied = false;

	foreach(lc, msgs)
	{
		DurableMessage *m = lfirst(lc);
		const DurableMessageKind *kind = durable_message_kind_by_name(m->kind);

		if (kind != NULL && kind->apply(d, m))
			applied = true;
	}
	return applied;
}
