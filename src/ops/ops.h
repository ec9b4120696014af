/*-------------------------------------------------------------------------
 *
 * ops.h
 *	  The operations a workflow calls, one file per family.
 *
 * IDENTIFICATION
 *	  src/ops/ops.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_OPS_OPS_H
#define DURABLE_OPS_OPS_H

#include "core/core.h"
#include "net/net.h"

/*
 * The rows of the kind table, one per operation kind, each defined in the
 * file of its family; ops/kinds.c registers them all.
 */
extern const DurableOpKindInfo durable_kind_step;	/* step.c */
extern const DurableOpKindInfo durable_kind_http;	/* http.c */
extern const DurableOpKindInfo durable_kind_wait;	/* timer.c */
extern const DurableOpKindInfo durable_kind_now;	/* values.c */
extern const DurableOpKindInfo durable_kind_random;
extern const DurableOpKindInfo durable_kind_uuid;
extern const DurableOpKindInfo durable_kind_log;
extern const DurableOpKindInfo durable_kind_patch;
extern const DurableOpKindInfo durable_kind_child;	/* child.c */
extern const DurableOpKindInfo durable_kind_callback;	/* callback.c */
extern const DurableOpKindInfo durable_kind_create_callback;
extern const DurableOpKindInfo durable_kind_await_callback;
extern const DurableOpKindInfo durable_kind_event;	/* event.c */
extern const DurableOpKindInfo durable_kind_any;	/* any.c */
extern const DurableOpKindInfo durable_kind_condition;	/* condition.c */
extern const DurableOpKindInfo durable_kind_invoke; /* children.c */
extern const DurableOpKindInfo durable_kind_parallel;
extern const DurableOpKindInfo durable_kind_map;
extern const DurableOpKindInfo durable_kind_task;	/* task.c */

/* the inbox's message kinds, each defined in the file that applies it */
extern const DurableMessageKind durable_message_callback;	/* callback.c */
extern const DurableMessageKind durable_message_event;	/* event.c */
extern const DurableMessageKind durable_message_child;	/* children.c */
extern const DurableMessageKind durable_message_http;	/* http.c */
extern const DurableMessageKind durable_message_task;	/* task.c */

/* kinds.c */
extern void durable_ops_register(void);

#endif							/* DURABLE_OPS_OPS_H */
