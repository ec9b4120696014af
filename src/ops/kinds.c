/*-------------------------------------------------------------------------
 *
 * kinds.c
 *	  The kind table: every operation kind and inbox message kind that the
 *	  files of this folder define, registered at _PG_init.  The engine
 *	  (core/) knows a kind only by its row: a new operation is a new file
 *	  here and one line below.
 *
 * IDENTIFICATION
 *	  src/ops/kinds.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ops/ops.h"

static const DurableOpKindInfo *const op_kinds[] = {
	&durable_kind_step,
	&durable_kind_wait,
	&durable_kind_now,
	&durable_kind_random,
	&durable_kind_uuid,
	&durable_kind_log,
	&durable_kind_child,
	&durable_kind_callback,
	&durable_kind_create_callback,
	&durable_kind_await_callback,
	&durable_kind_event,
	&durable_kind_any,
	&durable_kind_condition,
	&durable_kind_invoke,
	&durable_kind_parallel,
	&durable_kind_map,
	&durable_kind_http,
	&durable_kind_patch,
	&durable_kind_task,
};

static const DurableMessageKind *const message_kinds[] = {
	&durable_message_callback,
	&durable_message_event,
	&durable_message_child,
	&durable_message_http,
	&durable_message_task,
	&durable_message_limiter,
};

/*
 * durable_ops_register
 *		Fills the kind table and the message kinds (once per process).
 */
void
durable_ops_register(void)
{
	int			i;

	for (i = 0; i < lengthof(op_kinds); i++)
		durable_kind_register(op_kinds[i]);
	for (i = 0; i < lengthof(message_kinds); i++)
		durable_message_kind_register(message_kinds[i]);
}
