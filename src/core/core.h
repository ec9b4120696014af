/*-------------------------------------------------------------------------
 *
 * core.h
 *	  The engine: replay, checkpoints, the drive lock, the lifecycle of
 *	  an execution, the inbox.
 *
 * IDENTIFICATION
 *	  src/core/core.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_CORE_CORE_H
#define DURABLE_CORE_CORE_H

#include "store/store.h"

/* ----------------------------------------------------------------
 * driver.c
 * ----------------------------------------------------------------
 */
typedef enum DurableAdvance
{
	DA_CONTINUE,				/* an operation was performed; replay again */
	DA_SUSPENDED,				/* waiting on a timer */
	DA_FINISHED					/* terminal status written */
} DurableAdvance;

extern DurableDrive *durable_drive_begin(const pg_uuid_t *id, bool wait,
										 bool queue_locked);
extern DurableAdvance durable_drive_advance(DurableDrive *d);
extern bool durable_drive_relock(DurableDrive *d);
extern void durable_drive_stop_wait(const pg_uuid_t *id);
extern void durable_drive_stop_release(const pg_uuid_t *id);
extern bool durable_drive_settle(DurableDrive *d, DurableAdvance r, TimestampTz deadline);
extern DurableAdvance durable_drive_committing(DurableDrive *d, TimestampTz deadline,
												void (*commit) (void));
extern void durable_drive_end(DurableDrive *d);
extern void durable_drive_charge_error(const pg_uuid_t *id, ErrorData *edata);
extern void durable_drive_fail(DurableDrive *d, int sqlerrcode, const char *message,
							   const char *detail, const char *hint);
extern Oid	durable_resolve_workflow(const char *workflow, bool check_execute,
									 char **qualified, char **hash);

extern Oid	durable_resolve_workflow_as(const char *workflow, Oid role,
										char **qualified, char **hash);
extern char *durable_workflow_hash(const char *qualified);


/* ----------------------------------------------------------------
 * ops.c
 * ----------------------------------------------------------------
 */
extern void durable_raise_op_error(Jsonb *error);
extern DurableOp *durable_op_create(DurableDrive *d, const DurableOpKey *key,
									DurableOpKind kind, const char *name,
									DurableOpStatus status);
extern void durable_op_mark_dirty(DurableDrive *d, DurableOp *op);

#endif							/* DURABLE_CORE_CORE_H */
