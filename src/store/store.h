/*-------------------------------------------------------------------------
 *
 * store.h
 *	  Storage and shared memory: every statement against the durable
 *	  tables (one file per table family: executions.c, operations.c,
 *	  queue.c, inbox.c, callbacks.c, children.c, http_requests.c,
 *	  secrets_table.c, schedules.c, maintenance.c, all run by spi.c), the
 *	  shared state of the workers (shmem.c), counters and notifications at
 *	  commit (signal.c), statistics per workflow (wfstats.c), per-role
 *	  quotas (quota.c), the sealed secrets (secrets.c) and the limiters of
 *	  operations (limiters.c).  Internal
 *	  helpers shared by these files are in store_int.h.
 *
 * IDENTIFICATION
 *	  src/store/store.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_STORE_STORE_H
#define DURABLE_STORE_STORE_H

#include "util/util.h"

/* ----------------------------------------------------------------
 * the tables (executions.c, operations.c, queue.c, inbox.c, callbacks.c,
 * children.c, http_requests.c, secrets_table.c, schedules.c, maintenance.c)
 * ----------------------------------------------------------------
 */
extern bool durable_storage_resolve(const char *execution, pg_uuid_t *id, Oid *owner);
extern bool durable_storage_name_claim(const char *name, const pg_uuid_t *id,
									   Oid owner, pg_uuid_t *existing, bool *theirs);
/* where a child execution reports to */
typedef struct DurableParentRef
{
	pg_uuid_t	id;
	int32		run_no;
	int32		op_id;
	int32		index;
	int32		depth;			/* of the child */
} DurableParentRef;

extern void durable_storage_insert_execution(const pg_uuid_t *id, const char *name,
											 const char *workflow, const char *hash,
											 Jsonb *input, Oid owner,
											 const char *search_path, Jsonb *tags,
											 Interval *timeout, Interval *retention,
											 TimestampTz now,
											 const DurableParentRef *parent);
extern void durable_storage_insert_execution_depth(const pg_uuid_t *id, const char *name,
												   const char *workflow, const char *hash,
												   Jsonb *input, Oid owner,
												   const char *search_path, Jsonb *tags,
												   Interval *timeout, Interval *retention,
												   TimestampTz now, int32 depth);
extern bool durable_storage_same_input(const pg_uuid_t *id, Jsonb *input,
									   const char *workflow);
extern bool durable_storage_lock_queue(const pg_uuid_t *id);
extern bool durable_storage_lock_execution(const pg_uuid_t *id, DurableExecution *ex,
										   MemoryContext cxt, bool queue_locked);
extern void durable_storage_load_ops(DurableDrive *d);
extern void durable_storage_write_op(DurableDrive *d, DurableOp *op);
extern void durable_storage_history(const pg_uuid_t *id, int32 run_no, Oid owner,
									const char *event, const DurableOp *op,
									Jsonb *details);
extern void durable_storage_set_status(const pg_uuid_t *id, const char *status,
									   Jsonb *result, Jsonb *error,
									   TimestampTz wake_at, TimestampTz now);
extern void durable_storage_new_run(const pg_uuid_t *id, int32 run_no, Jsonb *input,
									TimestampTz now);
extern void durable_storage_queue_set(const pg_uuid_t *id, Oid owner, TimestampTz due_at);
extern char *durable_storage_queue_delete(const pg_uuid_t *id);
extern void durable_storage_cancel_ops(const pg_uuid_t *id, int32 run_no, TimestampTz now);
extern bool durable_storage_next_due(TimestampTz after, TimestampTz *due_at);
extern bool durable_storage_status(const pg_uuid_t *id, char **status, bool *mine);
extern int	durable_storage_note_crash(const pg_uuid_t *id);
extern void durable_storage_owner_busy(Oid role, int64 *executions, int64 *schedules);
extern bool durable_storage_counts_drive_errors(void);
extern int	durable_storage_note_drive_error(const pg_uuid_t *id);
extern void durable_storage_queue_backoff(const pg_uuid_t *id, TimestampTz retry_at);
/* where a pass over the ready queue and the inboxes has got to, per owner */
typedef struct DurableOwnerCursor
{
	Oid			owner;
	TimestampTz due_at;			/* queue: the last claim's place */
	pg_uuid_t	id;
	int64		message_id;		/* inbox: the last claim's place */
	bool		inbox_first;	/* which source the next claim tries first */
} DurableOwnerCursor;

#define DURABLE_CURSOR_OWNERS 32

/*
 * The owners known to have ready work, taken in turns, and the places of
 * a pass; see durable_storage_claim_ready.
 */
typedef struct DurableQueueCursor
{
	Oid			last_owner;		/* whose work the last claim took */
	int			nowners;
	int			evict;
	DurableOwnerCursor owners[DURABLE_CURSOR_OWNERS];
	TimestampTz owners_at;		/* when the owners were last looked up */
	DurableOwnerCursor any;		/* the claims over all owners */
	bool		from_inbox;		/* what the last claim came from ... */
	TimestampTz claimed_at;		/* ... and since when it was ready */
} DurableQueueCursor;

/* a new cursor; a new pass (places forgotten, owners and turn kept) */
extern void durable_queue_cursor_reset(DurableQueueCursor *cursor);
extern void durable_queue_cursor_new_pass(DurableQueueCursor *cursor);
#define DURABLE_QUEUE_CURSOR_RESET(c) durable_queue_cursor_reset(c)
#define DURABLE_QUEUE_CURSOR_NEW_PASS(c) durable_queue_cursor_new_pass(c)


/* a row of durable.callbacks */
typedef struct DurableCallback
{
	pg_uuid_t	execution;
	int32		run_no;
	char	   *status;
	Jsonb	   *result;
	Jsonb	   *error;
	TimestampTz timeout_at;		/* DT_NOBEGIN when none */
	TimestampTz heartbeat_deadline; /* DT_NOBEGIN when none */
} DurableCallback;

/* a row of durable.tasks, and the attempt of the lease it was found by */
typedef struct DurableTask
{
	pg_uuid_t	execution;
	int32		run_no;
	int32		op_id;
	char	   *name;
	char	   *task_queue;
	char	   *status;			/* QUEUED, CLAIMED, SUCCEEDED, FAILED, TIMED_OUT */
	int32		attempt;		/* attempts claimed so far */
	int32		max_attempts;
	TimestampTz available_at;
	TimestampTz timeout_at;		/* DT_NOBEGIN when none */
	int64		heartbeat_timeout;	/* microseconds; 0: none */
	int64		lease;			/* microseconds, the lease a heartbeat renews */
	TimestampTz lease_until;	/* DT_NOBEGIN when not claimed */
	Jsonb	   *result;
	Jsonb	   *error;
	Jsonb	   *options;
	Jsonb	   *payload;
	Oid			owner;
	bool		live;			/* its execution's run is not finished */
	int32		lease_attempt;	/* by_lease: the attempt of that claim */
} DurableTask;

/* a task a claim took */
typedef struct DurableClaimed
{
	pg_uuid_t	execution;
	int32		run_no;
	int32		op_id;
	char	   *task_id;
	char	   *name;
	Jsonb	   *payload;
	int32		attempt;
	TimestampTz lease_until;
	Oid			owner;
} DurableClaimed;

/* a row of durable.children, or the part of it a query returns */
typedef struct DurableChildRow
{
	int			idx;
	char	   *name;
	char	   *workflow;
	Jsonb	   *input;
	int			items;
	pg_uuid_t	child_id;
	int32		run_no;
	int32		op_id;
	char	   *status;
	Jsonb	   *result;
	Jsonb	   *error;
} DurableChildRow;

extern void durable_storage_inbox_add(const pg_uuid_t *id, const char *kind,
									  Jsonb *payload, Oid owner, TimestampTz now);
extern List *durable_storage_inbox_take(const pg_uuid_t *id);
extern void durable_storage_inbox_delete(const pg_uuid_t *id);
extern void durable_storage_callback_insert(const uint8 *hash, const pg_uuid_t *id,
											int32 run_no, int32 op_id, const char *name,
											TimestampTz timeout_at, int64 heartbeat_us,
											Oid owner, TimestampTz now);
extern bool durable_storage_callback_complete(const uint8 *hash, const char *status,
											  Jsonb *result, Jsonb *error,
											  TimestampTz now, pg_uuid_t *execution,
											  int32 *run_no, int32 *op_id, Oid *owner);
extern bool durable_storage_callback_heartbeat(const uint8 *hash, TimestampTz now);
extern bool durable_storage_callback_get(const uint8 *hash, DurableCallback *cb);

/* tasks.c: durable.tasks, durable.task_leases, durable.task_queue_grants */
extern void durable_storage_task_insert(const pg_uuid_t *id, int32 run_no, int32 op_id,
										const char *name, const char *task_queue,
										Jsonb *payload, Jsonb *options, int max_attempts,
										TimestampTz timeout_at, int64 heartbeat_us, Oid owner,
										TimestampTz now);
extern bool durable_storage_task_get(const pg_uuid_t *id, int32 run_no, int32 op_id,
									 DurableTask *t);
extern bool durable_storage_task_by_lease(const uint8 *hash, DurableTask *t);
extern void durable_storage_task_finish(const DurableTask *t, const char *status,
										Jsonb *result, Jsonb *error, TimestampTz now);
extern void durable_storage_task_requeue(const DurableTask *t, Jsonb *error,
										 TimestampTz available_at);
extern void durable_storage_task_lease(const DurableTask *t, int64 lease_us,
									   TimestampTz lease_until);
extern List *durable_storage_task_claim(const char *task_queue, const char *worker, Oid role,
										bool admin, int64 lease_us, int max_tasks,
										TimestampTz now);
extern TimestampTz durable_storage_task_next(const char *task_queue, TimestampTz now);
extern bool durable_storage_task_grant(const char *task_queue, Oid owner, Oid grantee,
									   TimestampTz now);
extern bool durable_storage_task_revoke(const char *task_queue, Oid owner, Oid grantee);
extern bool durable_storage_callback_timeout(const uint8 *hash, TimestampTz now,
											 bool *total);
extern void durable_storage_callbacks_cancel(const pg_uuid_t *id, TimestampTz now);
extern void durable_storage_event_park(const pg_uuid_t *id, int64 event_id,
									   const char *name, Jsonb *payload, Oid owner,
									   TimestampTz sent_at);
extern bool durable_storage_event_take(const pg_uuid_t *id, const char *name,
									   Jsonb **payload);
extern int	durable_storage_children_insert_map(const pg_uuid_t *parent, int32 run_no,
												int32 op_id, const char *workflow,
												Jsonb *items, int batch_size, Oid owner);
extern void durable_storage_child_insert(const pg_uuid_t *parent, int32 run_no,
										 int32 op_id, int idx, const char *name,
										 const char *workflow, Jsonb *input, Oid owner);
extern List *durable_storage_children_next(const pg_uuid_t *parent, int32 run_no,
										   int32 op_id, int first, int limit);
extern void durable_storage_child_started(const pg_uuid_t *parent, int32 run_no,
										  int32 op_id, int idx, const pg_uuid_t *child,
										  TimestampTz now);
extern int	durable_storage_child_done(const pg_uuid_t *parent, int32 run_no, int32 op_id,
									   int idx, const char *status, Jsonb *result,
									   Jsonb *error, TimestampTz now);
extern List *durable_storage_children_running(const pg_uuid_t *parent, int32 run_no,
											  int32 op_id);
extern void durable_storage_children_cancel(const pg_uuid_t *parent, int32 run_no,
											int32 op_id, TimestampTz now);
extern bool durable_storage_outcome(const pg_uuid_t *id, char **status, Jsonb **result,
									Jsonb **error);
extern void durable_storage_events_delete(const pg_uuid_t *id);
extern List *durable_storage_children_results(const pg_uuid_t *parent, int32 run_no,
											  int32 op_id);

/* an operation with branches, as durable_results lists it */
typedef struct DurableResultOp
{
	int32		run_no;
	int32		op_id;
	char	   *name;
	bool		map;
} DurableResultOp;

extern List *durable_storage_result_ops(const pg_uuid_t *parent, const char *operation);
extern void durable_storage_result_rows(const pg_uuid_t *parent, const DurableResultOp *op,
										Tuplestorestate *store, TupleDesc desc);

/* a row of durable.http_requests, as the HTTP worker takes it */
typedef struct DurableHttpRow
{
	int64		request_id;
	pg_uuid_t	execution;
	int32		run_no;
	int32		op_id;
	int32		attempt;
	Oid			owner;
	Jsonb	   *request;
	Jsonb	   *options;
	char	   *idempotency_key;
	bool		at_most_once;
} DurableHttpRow;

extern void durable_storage_http_insert(const DurableExecution *ex, int32 op_id,
										int32 attempt, Jsonb *request, Jsonb *options,
										const char *idempotency_key, bool at_most_once,
										TimestampTz now);
extern bool durable_storage_http_in_flight(const pg_uuid_t *id, int32 run_no, int32 op_id);
extern void durable_storage_http_cancel(const pg_uuid_t *id);
extern List *durable_storage_http_take(TimestampTz now, int limit, int nroles, Oid *roles,
									   int32 *in_flight, int per_role);
extern List *durable_storage_http_existing(int n, int64 *ids);
extern List *durable_storage_http_recover(void);
extern bool durable_storage_http_done(int64 request_id, pg_uuid_t *execution, Oid *owner);
extern bool durable_storage_secret_get(const char *name, char **value,
									   List **allowed_hosts, Oid *owner);
extern bool durable_storage_secret_owner(const char *name, Oid *owner);
extern bool durable_storage_secret_put(const char *name, const char *value,
									   Datum allowed_hosts, Oid owner, TimestampTz now);
extern void durable_storage_secret_delete(const char *name);
extern void durable_storage_secret_grant(const char *name, Oid grantee, bool grant);
extern List *durable_storage_secret_grantees(const char *name);
extern uint64 durable_storage_secrets_list(void);
extern bool durable_storage_secrets_sealed(void);

extern bool durable_storage_claim_ready(TimestampTz now, Oid caller, bool all,
										DurableQueueCursor *cursor, pg_uuid_t *id);
extern uint64 durable_storage_purge(TimestampTz now, int limit, TimestampTz finished_by,
									ArrayType *statuses, bool all, Oid role);
extern bool durable_storage_history_trim(const pg_uuid_t *id, Oid owner, int above,
										 int keep);

/* an operation as durable_redrive sees it */
typedef struct DurableRedriveOp
{
	int32		op_id;
	int32		parent_op_id;	/* 0 at the top level */
	int32		position;
	char	   *name;
	DurableOpKind kind;
	DurableOpStatus status;
} DurableRedriveOp;

extern List *durable_storage_redrive_ops(const pg_uuid_t *id, int32 run_no);
extern void durable_storage_redrive_op(const pg_uuid_t *id, int32 run_no, int32 op_id,
									   bool reopen);
extern int32 durable_storage_redrive_execution(const pg_uuid_t *id, int32 run_no,
											   const char *hash, TimestampTz now);
extern bool durable_storage_schedule_get(const char *name, bool own_only, Oid *owner,
										 int64 *jobid);
extern bool durable_storage_schedule_insert(const char *name, Oid owner,
											const char *cron, const char *workflow,
											Jsonb *input, Jsonb *options,
											const char *search_path, int64 jobid,
											TimestampTz now);
extern void durable_storage_schedule_delete(const char *name, Oid owner);


/* ----------------------------------------------------------------
 * shmem.c: the shared state of the workers
 * ----------------------------------------------------------------
 */
#include "port/atomics.h"
#include "storage/condition_variable.h"
#include "storage/spin.h"

/*
 * How a drive ended that its worker had to end by exiting, because the
 * code it ran caught the cancel of a timeout and ran on: the next drive of
 * the execution records it instead of running that code again.
 */
typedef enum DurableVerdictKind
{
	DV_NONE,
	DV_STEP_TIMEOUT,			/* a step attempt outlived its timeout */
	DV_REPLAY_TIMEOUT			/* a replay outlived durable.replay_timeout */
} DurableVerdictKind;

typedef struct DurableVerdict
{
	DurableVerdictKind kind;
	pg_uuid_t	execution;
	DurableOpKey key;			/* steps: the operation ... */
	int32		attempt;		/* ... and its attempt */
	int64		timeout;		/* steps: the attempt's timeout, microseconds */
} DurableVerdict;

/* bytes of an operation's name that durable.activity shows */
#define DURABLE_ACTIVITY_NAMELEN 64

typedef struct DurableWorkerSlot
{
	slock_t		mutex;			/* protects the fields up to idle */
	pid_t		pid;
	int			procno;			/* -1 when no worker runs in the slot */
	bool		driving;		/* an execution is being driven ... */
	pg_uuid_t	execution;		/* ... this one */
	bool		stop_requested; /* durable_stop wants that drive abandoned */
	bool		charging;		/* a drive of this execution raised an error
								 * that is not charged yet: no driver may
								 * take it up meanwhile */
	pg_uuid_t	charging_id;
	/* what durable.activity shows of the drive, set by the worker: */
	Oid			owner;			/* the execution's owner, once known */
	TimestampTz drive_since;	/* when the drive began */
	bool		in_op;			/* an operation is being performed ... */
	char		op_kind[16];	/* ... of this kind */
	char		op_name[DURABLE_ACTIVITY_NAMELEN];	/* its name, clipped */
	int32		op_id;			/* 0 when it has no checkpoint yet */
	int32		op_attempt;		/* 0 when not an attempt */
	TimestampTz op_since;		/* when it began */
	DurableVerdict verdict;		/* left by the last worker that exited to end
								 * a drive; kept across its restart */
	pg_atomic_uint32 idle;		/* 1 while it may sleep: a waker clears it */
	pg_atomic_uint32 stop_exit; /* durable_stop's cancel was ignored: the
								 * next one ends the worker (read by its
								 * signal handler) */
} DurableWorkerSlot;

/* counters of the durable.stats view */
typedef enum DurableCounter
{
	DC_STARTED,
	DC_SUCCEEDED,
	DC_FAILED,
	DC_TIMED_OUT,
	DC_STOPPED,
	DC_CONTINUED,				/* runs ended by durable_continue_as_new */
	DC_STEPS,					/* step attempts run */
	DC_RETRIES,					/* step attempts that scheduled a retry */
	DC_TIMERS_FIRED,			/* suspended executions resumed */
	DC_CRASHES,					/* server crashes charged to executions */
	DC_CLAIMS,					/* ready executions claimed by a worker */
	DC_CLAIM_WAIT_US,			/* sum of due-to-claim times */
	DC_CLAIM_WAIT_MAX_US,		/* the longest of them */
	DC_COUNT
} DurableCounter;

#define NOTES_PENDING 0
#define NOTES_BUSY 1
#define NOTES_DONE 2

/* executions durable_stop is stopping, which workers must not take up */
#define DURABLE_STOPPING_SLOTS 32

/* condition variables of task queues: a queue's name hashes to one */
#define DURABLE_TASK_CVS 32

typedef struct DurableShared
{
	int			nslots;			/* max_worker_processes at server start */
	slock_t		mutex;			/* protects the procnos and stopping */
	int			launcher_procno;	/* -1 when the launcher is not running */
	int			nstopping;
	pg_uuid_t	stopping[DURABLE_STOPPING_SLOTS];
	pg_atomic_uint32 paused;	/* commands that need the database alone */
	pg_atomic_uint32 notes_state;	/* crash notes of this start: NOTES_* */
	pg_atomic_uint32 nverdicts;	/* verdicts set in slots, not yet taken */
	ConditionVariable finished_cv;	/* broadcast when executions finish */
	/* broadcast at the commit that makes tasks claimable, by task queue hash */
	ConditionVariable task_cv[DURABLE_TASK_CVS];
	int			http_procno;	/* the HTTP worker; -1 when not running */
	pg_atomic_uint32 http_cancels;	/* bumped when requests' rows are deleted */
	pid_t		http_pid;		/* the HTTP worker; 0 when not running */
	TimestampTz http_since;		/* when it started */
	pg_atomic_uint32 http_in_flight;	/* requests it has in flight */
	pg_atomic_uint64 counters[DC_COUNT];
	TimestampTz stats_since;
	DurableWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} DurableShared;

extern void durable_shmem_init(void);
extern DurableShared *durable_shmem(void);
extern DurableWorkerSlot *durable_worker_slot(int n);
extern void durable_wake_workers(int n);
extern void durable_wake_at_commit(void);

/* queues.c: queues of executions */
extern bool durable_xq_available(void);
extern void durable_xq_define(Oid owner, const char *name, const DurableXqLimits *lim);
extern int64 durable_xq_drop(Oid owner, const char *name);
extern bool durable_xq_lookup(Oid owner, const char *name, bool *fairness, int64 *vclock);
extern void durable_xq_enqueue(const pg_uuid_t *id, const DurableXqStart *q, bool fairness,
							   int64 vclock, TimestampTz not_before);
extern bool durable_xq_debounce(Oid owner, const DurableXqStart *q, const char *workflow,
								Jsonb *input, TimestampTz not_before, pg_uuid_t *id);
extern void durable_xq_nudge(Oid owner, const char *name, TimestampTz now, bool may_wait);
extern bool durable_xq_gate(const pg_uuid_t *id, TimestampTz now);
extern bool durable_xq_waiting(const pg_uuid_t *id);
extern void durable_wake_http_at_commit(void);
extern void durable_http_cancel_at_commit(void);
extern void durable_launcher_at_end(bool pause);
extern bool durable_request_stop(const pg_uuid_t *id, bool exit_worker);
extern void durable_verdict_set(DurableWorkerSlot *slot, const DurableVerdict *v);
extern bool durable_verdict_take(const pg_uuid_t *id, DurableVerdictKind kind,
								 DurableVerdict *v);
extern int	durable_signal_workers(int signo);
extern void durable_activity_attach(DurableWorkerSlot *slot);
extern void durable_activity_op(const char *kind, const char *name, int32 op_id,
								int32 attempt);
extern void durable_activity_op_end(void);
extern void durable_activity_owner(Oid owner);
extern void durable_stopping_add(const pg_uuid_t *id);
extern bool durable_is_stopping(const pg_uuid_t *id);
extern bool durable_is_charging(const pg_uuid_t *id);
extern ConditionVariable *durable_task_cv(const char *task_queue);
extern void durable_task_wake_at_commit(const char *task_queue);

/* signal.c: counters (added at commit), NOTIFY, the wake of durable_await */
extern void durable_count(DurableCounter c, int64 n);
extern void durable_count_claim(TimestampTz due_at, TimestampTz now);
extern void durable_status_changed(const DurableExecution *ex, DurableExecStatus status);

/* wfstats.c: statistics per workflow, and the log lines of failures */
extern void durable_wfstats_init(void);
extern void durable_wfstats_count(const char *workflow, DurableCounter c, int64 n);
extern void durable_wfstats_finished(const DurableExecution *ex, DurableExecStatus status);
extern void durable_log_failure(const DurableExecution *ex, DurableExecStatus status,
								Jsonb *error);
extern void durable_log_exhausted(const DurableExecution *ex, const char *opname,
								  int attempts, Jsonb *error);
extern void durable_wfstats_rows(Tuplestorestate *store, TupleDesc desc);
extern bool durable_wfstats_reset(TimestampTz now);
/* quota.c: unfinished executions per role, in shared memory */
extern void durable_quota_shmem_init(void);
extern void durable_quota_add(Oid owner, int delta);
extern void durable_quota_check(Oid owner);
extern void durable_quota_prepare(void);


/* limiters.c: limiters of operations, their holders and their lines */
typedef enum DurableLimiterTake
{
	LT_MISSING,					/* no such limiter, or the owner may not use it */
	LT_HELD,					/* the operation holds it already */
	LT_TAKEN,					/* the operation takes it now */
	LT_WAIT						/* the operation waits in line */
} DurableLimiterTake;

extern bool durable_storage_limiter_owner(const char *name, Oid *owner);
extern void durable_storage_limiter_set(const char *name, Oid owner, ArrayType *roles,
										int max_concurrency, int rate, int64 period,
										int burst, TimestampTz now);
extern void durable_storage_limiter_drop(const char *name, TimestampTz now);
extern DurableLimiterTake durable_storage_limiter_take(const char *name, const pg_uuid_t *id,
													   int32 run_no, int32 op_id, Oid owner,
													   TimestampTz now, TimestampTz *wake_at,
													   bool *queued, bool *waited);
extern void durable_storage_limiter_release(const pg_uuid_t *id, int32 run_no, int32 op_id,
											TimestampTz now);
extern void durable_storage_limiters_release_execution(const pg_uuid_t *id, TimestampTz now);
extern void durable_storage_limiter_pause(const char *name, TimestampTz until);
extern bool durable_storage_limiter_waiting(const char *name, const pg_uuid_t *id,
											int32 run_no, int32 op_id);

/* secrets.c: the key file, sealing, and the values requests may use */
extern void durable_secret_resolve(const char *name, Oid owner, const char *host,
								   char **value, char **refusal);
extern char *durable_secret_seal_value(const char *name, const char *value);
extern bool durable_secret_is_sealed(const char *stored);
extern bool durable_secret_host_ok(const char *host);

extern bool durable_workers_running(void);
extern void durable_lock_extension(void);

#endif							/* DURABLE_STORE_STORE_H */
