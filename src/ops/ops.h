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
extern const DurableMessageKind durable_message_limiter;	/* limiter.c */

/*
 * limiter.c: limiters of operations, for any performer (see the contract
 * in the file's header).  Before an attempt of the pending operation
 * begins: durable_limiter_acquire is true when it holds the limiter and
 * may begin now (*op its checkpoint, created when NULL); false when it may
 * not, and *next is what the performer returns (it waits, it failed with
 * WF023, or the take commits first because the attempt runs in_place, in
 * the drive's own transaction).  When the attempt ended:
 * durable_limiter_release.  A server's Retry-After: durable_limiter_pause.
 */
extern bool durable_limiter_acquire(DurableDrive *d, DurableOp **op, const char *limiter,
									bool in_place, DurableAdvance *next);
extern void durable_limiter_release(DurableDrive *d, DurableOp *op);
extern void durable_limiter_pause(const char *limiter, TimestampTz until);

/* kinds.c */
extern void durable_ops_register(void);

#endif							/* DURABLE_OPS_OPS_H */
