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

/* ----------------------------------------------------------------
 * waits.c and children.c: what the driver performs for them
 * ----------------------------------------------------------------
 */
extern TimestampTz durable_perform_callback(DurableDrive *d);
extern TimestampTz durable_perform_await_callback(DurableDrive *d);
extern TimestampTz durable_perform_check_callback(DurableDrive *d);
extern TimestampTz durable_perform_event(DurableDrive *d);
extern TimestampTz durable_perform_condition(DurableDrive *d);
extern bool durable_drain(DurableDrive *d);
extern TimestampTz durable_perform_children(DurableDrive *d);
extern bool durable_children_report(DurableDrive *d, Jsonb *payload);
extern void durable_children_stop(const pg_uuid_t *parent);
extern void durable_children_check_size(DurableOpKind kind, const char *name, int items,
										int64 name_bytes);
extern void durable_report_to_parent(const DurableExecution *ex, const char *status,
									 Jsonb *result, Jsonb *error);


extern void durable_http_apply(DurableDrive *d, DurableOp *op, Jsonb *outcome,
							   Jsonb *options);
extern bool durable_http_message(DurableDrive *d, Jsonb *payload);

#endif							/* DURABLE_OPS_OPS_H */
