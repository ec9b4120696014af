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
 * checkpoint.c: checkpoints, on the replay side and the performer side
 * ----------------------------------------------------------------
 */
typedef DurableAdvance (*DurablePerform) (DurableDrive *d);

extern DurableDrive *durable_op_enter(const char *fname);
extern void durable_yield(DurableDrive *d) pg_attribute_noreturn();
extern void durable_op_fatal(DurableDrive *d, int sqlerrcode, const char *message,
							 const char *detail, const char *hint);
extern void durable_raise_op_error(Jsonb *error);
extern DurableOp *durable_op_lookup(DurableDrive *d, DurableOpKind kind, const char *name,
									DurableOpKey *key);
extern void durable_op_check_limit(DurableDrive *d);
extern MemoryContext durable_pending_begin(DurableDrive *d, DurablePendingKind kind,
										   DurablePerform perform, DurableOpKind op_kind,
										   const DurableOpKey *key, DurableOp *op,
										   const char *name);
extern void durable_op_sleep(DurableDrive *d, DurableOp *op, const DurableOpKey *key);
extern bool durable_attempt_due(DurableDrive *d, DurableOp *op, const DurableOpKey *key);
extern bool durable_op_outcome(DurableDrive *d, DurableOp *op, Jsonb **result);
extern void durable_op_await(DurableDrive *d, DurableOp *op, const DurableOpKey *key,
							 DurablePerform at_deadline);
extern DurableOp *durable_op_create(DurableDrive *d, const DurableOpKey *key,
									DurableOpKind kind, const char *name,
									DurableOpStatus status);
extern void durable_op_mark_dirty(DurableDrive *d, DurableOp *op);
extern void durable_op_set_result(DurableDrive *d, DurableOp *op, Jsonb *result);
extern Jsonb *durable_op_result_copy(DurableOp *op);
extern void durable_op_done(DurableDrive *d, DurableOp *op, DurableOpStatus status,
							Jsonb *result, ErrorData *error);
extern void durable_op_next_attempt(DurableDrive *d, DurableOp *op);
extern void durable_op_fired(DurableDrive *d, DurableOp *op);
extern void durable_op_timed_out(DurableDrive *d, DurableOp *op, ErrorData *error);
extern void durable_op_retry(DurableDrive *d, DurableOp *op, TimestampTz wake_at,
							 ErrorData *error);
extern HTAB *durable_ops_hash_new(MemoryContext cxt);
extern void durable_checkpoint_flush(DurableDrive *d);
extern void durable_history_bound(DurableDrive *d, int written, bool ending);

/*
 * In a primitive met again by a replay: returns the operation's result
 * when it has succeeded, raises its failure; goes on while it waits.
 */
#define DURABLE_RETURN_OUTCOME(d, op) \
	do { \
		Jsonb	   *res_; \
		if (durable_op_outcome((d), (op), &res_)) \
		{ \
			if (res_ == NULL) \
				PG_RETURN_NULL(); \
			PG_RETURN_JSONB_P(res_); \
		} \
	} while (0)

/* ----------------------------------------------------------------
 * drivelock.c: taking up an execution
 * ----------------------------------------------------------------
 */
extern DurableDrive *durable_drive_take(const pg_uuid_t *id, bool wait, bool queue_locked,
										bool load_ops);
extern DurableDrive *durable_drive_begin(const pg_uuid_t *id, bool wait,
										 bool queue_locked);
extern bool durable_drive_relock(DurableDrive *d);
extern void durable_drive_stop_wait(const pg_uuid_t *id);
extern void durable_drive_stop_release(const pg_uuid_t *id);
extern void durable_drive_end(DurableDrive *d);

/* ----------------------------------------------------------------
 * lifecycle.c: every change of an execution's status
 * ----------------------------------------------------------------
 */
/* what a new execution is */
typedef struct DurableStart
{
	pg_uuid_t	id;
	const char *name;			/* NULL: none */
	const char *workflow;		/* qualified name */
	const char *hash;			/* of its definition */
	Jsonb	   *input;
	Oid			owner;
	const char *search_path;
	Jsonb	   *tags;
	Interval   *timeout;		/* NULL: none */
	Interval   *retention;		/* NULL: the default */
	const DurableParentRef *parent; /* a branch of an operation, or NULL */
	int32		depth;			/* no parent: started by a step this deep */
} DurableStart;

extern void durable_lifecycle_start(const DurableStart *s, TimestampTz now);
extern bool durable_lifecycle_start_queued(const DurableStart *s, const DurableXqStart *q,
										   TimestampTz now, pg_uuid_t *id);
extern void durable_lifecycle_resume(DurableDrive *d, TimestampTz now);
extern DurableAdvance durable_lifecycle_suspend(DurableDrive *d, TimestampTz wake_at,
												const char *opname);
extern void durable_lifecycle_new_run(DurableDrive *d, Jsonb *input);
extern DurableAdvance durable_lifecycle_finish(DurableDrive *d, DurableExecStatus status,
											   Jsonb *result, Jsonb *error);
extern DurableAdvance durable_lifecycle_timed_out(DurableDrive *d, const char *opname);
extern DurableAdvance durable_lifecycle_fail(DurableDrive *d, ErrorData *edata);
extern void durable_drive_fail(DurableDrive *d, int sqlerrcode, const char *message,
							   const char *detail, const char *hint);
extern bool durable_stop_execution(const pg_uuid_t *id, Jsonb *error, bool cascade);
extern void durable_lifecycle_stop_children(const pg_uuid_t *parent, int32 run_no,
											int32 op_id, const char *why,
											int *late_succeeded, int *late_failed);
extern void durable_lifecycle_redrive(DurableExecution *ex, const char *hash,
									  TimestampTz now);
extern void durable_drive_charge_error(const pg_uuid_t *id, ErrorData *edata);

/* ----------------------------------------------------------------
 * inbox.c: messages applied to the operations waiting on them
 * ----------------------------------------------------------------
 */
extern bool durable_inbox_drain(DurableDrive *d);
extern bool durable_inbox_deliver(DurableDrive *d, const DurableSignal *s);

/* ----------------------------------------------------------------
 * replay.c: the replay loop
 * ----------------------------------------------------------------
 */
extern DurableAdvance durable_drive_advance(DurableDrive *d);
extern DurableAdvance durable_drive_performed(DurableDrive *d, TimestampTz wake_at,
											  const char *opname);
extern DurableAdvance durable_drive_settled(DurableDrive *d, DurableOp *op);
extern bool durable_drive_settle(DurableDrive *d, DurableAdvance r, TimestampTz deadline);
extern DurableAdvance durable_drive_committing(DurableDrive *d, TimestampTz deadline,
												void (*commit) (void));

/* ----------------------------------------------------------------
 * workflow.c: workflows and their definitions
 * ----------------------------------------------------------------
 */
extern Oid	durable_resolve_workflow(const char *workflow, bool check_execute,
									 char **qualified, char **hash);
extern Oid	durable_resolve_workflow_as(const char *workflow, Oid role,
										char **qualified, char **hash);
extern char *durable_workflow_hash(const char *qualified);

/* ----------------------------------------------------------------
 * drive.c: claiming ready executions and driving them in a session
 * ----------------------------------------------------------------
 */
extern int	durable_drive_ready(TimestampTz deadline, void (*commit) (void));
extern const char *durable_drive_one(const pg_uuid_t *id);

#endif							/* DURABLE_CORE_CORE_H */
