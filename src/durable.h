/*-------------------------------------------------------------------------
 *
 * durable.h
 *	  Types and entry points shared by the modules of the durable extension.
 *
 * The data flows one way: the SQL entry points (api.c) hand an execution to
 * the driver (driver.c); the driver replays the workflow function, whose
 * primitives (ops.c) look up checkpoints and record the first operation
 * that has none; the driver performs it (step.c for SQL) and writes its
 * checkpoint through storage.c, the only module that names a table.
 *
 * IDENTIFICATION
 *	  src/durable.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_H
#define DURABLE_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/array.h"
#include "utils/elog.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

/* ----------------------------------------------------------------
 * settings (guc.c)
 * ----------------------------------------------------------------
 */
extern int	durable_max_payload_size;	/* bytes */
extern int	durable_max_operations;		/* per run */
extern int	durable_max_execution_bytes;	/* kB of checkpoints per run */
extern int	durable_replay_timeout;		/* ms */
extern int	durable_max_wait;			/* seconds */
extern char *durable_clock_offset_string;
extern bool durable_synchronous_commit;
extern int	durable_max_workers;
extern int	durable_tick_duration;	/* ms */
extern char *durable_http_allow_addresses;
extern int	durable_http_max_response_size; /* bytes */
extern int	durable_http_timeout;	/* ms */
extern int	durable_http_connect_timeout;	/* ms */
extern int	durable_http_max_redirects;
extern int	durable_http_max_in_flight;
extern int	durable_http_max_timeout;	/* ms */
extern int	durable_http_max_in_flight_per_role;
extern int	durable_retention;	/* seconds; -1: keep */
extern int	durable_max_history_events;	/* per execution; 0: all */
extern bool durable_log_failures;
extern bool durable_notice_undriven;
extern int	durable_max_tracked_workflows;
/* deepest nesting of durable_child, and of executions started by executions */
#define DURABLE_MAX_CHILD_DEPTH 32

extern int	durable_max_children_in_progress;	/* per operation; 0: no cap */
extern int	durable_max_starts_per_step;	/* per step attempt; 0: no cap */
extern int	durable_max_executions_per_role;	/* unfinished; 0: no cap */

extern void durable_define_settings(void);
extern bool durable_check_allow_addresses(char **newval, void **extra, GucSource source);
extern TimestampTz durable_clock_now(void);

/* ----------------------------------------------------------------
 * operations and their checkpoints
 * ----------------------------------------------------------------
 */
typedef enum DurableOpKind
{
	DOK_STEP,
	DOK_WAIT,
	DOK_NOW,
	DOK_RANDOM,
	DOK_UUID,
	DOK_LOG,
	DOK_CHILD,
	DOK_CALLBACK,				/* durable_wait_for_callback */
	DOK_CREATE_CALLBACK,
	DOK_AWAIT_CALLBACK,
	DOK_EVENT,
	DOK_CONDITION,
	DOK_INVOKE,
	DOK_PARALLEL,
	DOK_MAP,
	DOK_HTTP,
	DOK_PATCH					/* durable_patched's marker */
} DurableOpKind;

#define DURABLE_OP_KINDS (DOK_PATCH + 1)

typedef enum DurableOpStatus
{
	DOS_STARTED,
	DOS_PENDING,
	DOS_SUCCEEDED,
	DOS_FAILED,
	DOS_CANCELLED,
	DOS_TIMED_OUT
} DurableOpStatus;

/* Where an operation sits: its context (0 = top level) and position in it. */
typedef struct DurableOpKey
{
	int32		parent_op_id;
	int32		position;
} DurableOpKey;

/* One checkpoint, as loaded from storage or created by this drive. */
typedef struct DurableOp
{
	DurableOpKey key;			/* hash key: must be first */
	int32		op_id;
	DurableOpKind kind;
	char	   *name;
	DurableOpStatus status;
	int32		attempt;
	Jsonb	   *result;			/* NULL means SQL NULL */
	Jsonb	   *error;
	TimestampTz wake_at;		/* DT_NOBEGIN when none */
	TimestampTz started_at;
	TimestampTz finished_at;	/* DT_NOBEGIN when none */
	bool		stored;			/* a row exists in storage */
	bool		dirty;			/* memory differs from storage */
	bool		quiet;			/* the change is bookkeeping: no history event */
} DurableOp;

/* Retry options of steps (and later HTTP). */
typedef enum DurableJitter
{
	DJ_NONE,
	DJ_FULL,
	DJ_HALF
} DurableJitter;

typedef struct DurableRetryOptions
{
	int			max_attempts;
	int64		initial_delay;	/* microseconds */
	int64		max_delay;		/* microseconds */
	double		backoff_rate;
	DurableJitter jitter;
	List	   *retry_on;		/* of char *, SQLSTATEs or classes */
	bool		retry_on_given; /* retry_on was given (an empty one retries nothing) */
	List	   *no_retry_on;
	int64		timeout;		/* microseconds per attempt, 0 = none */
	bool		at_most_once;
} DurableRetryOptions;

/* What a replay asks the driver to do next. */
typedef enum DurablePendingKind
{
	DPK_NONE,
	DPK_STEP,					/* run step SQL (a new attempt) */
	DPK_WAIT,					/* start a timer */
	DPK_SLEEP,					/* an operation waits: until wake_at, or a message */
	DPK_CONTINUE_AS_NEW,		/* end the run, start the next one */
	DPK_CALLBACK,				/* create a callback (and run its submitter) */
	DPK_AWAIT_CALLBACK,			/* start waiting on a callback made earlier */
	DPK_CHECK_CALLBACK,			/* a callback wait reached its deadline */
	DPK_EVENT,					/* take an event, or start waiting for one */
	DPK_CONDITION,				/* run a check of durable_wait_for_condition */
	DPK_CHILDREN,				/* start child executions */
	DPK_HTTP					/* send an HTTP request (a new attempt) */
} DurablePendingKind;

/* A branch of durable_invoke, durable_parallel or durable_map. */
typedef struct DurableBranch
{
	char	   *name;			/* parallel: the branch name */
	char	   *workflow;		/* qualified name */
	Jsonb	   *input;
} DurableBranch;

/* What the checkpoint of a durable_parallel or durable_map holds. */
typedef enum DurableResultsMode
{
	DRM_AUTO = 0,				/* the array when it fits, else the summary */
	DRM_ARRAY,					/* the array of per-item results, or WF009 */
	DRM_SUMMARY					/* the counts only; items in durable.children */
} DurableResultsMode;

/* How durable_parallel and durable_map decide their outcome. */
typedef struct DurablePolicy
{
	int			max_concurrency;	/* 0: unlimited */
	int			min_successful; /* -1: not given */
	int			tolerated_failures; /* -1: not given */
	double		tolerated_pct;	/* -1: not given */
	int			batch_size;		/* map: items per child; 0: one */
	DurableResultsMode results; /* what the operation's result holds */
} DurablePolicy;

typedef struct DurablePending
{
	DurablePendingKind kind;
	DurableOpKey key;
	DurableOp  *op;				/* existing checkpoint, or NULL */
	char	   *name;
	char	   *sql;
	Jsonb	   *args;
	DurableRetryOptions retry;
	TimestampTz wake_at;
	Jsonb	   *input;			/* continue-as-new */
	DurableOpKind op_kind;		/* the kind of operation to create */
	int64		timeout;		/* callbacks, events: microseconds, 0 = none */
	int64		heartbeat;		/* callbacks: microseconds, 0 = none */
	char	   *event;			/* event name */
	char	   *token;			/* await_callback: the callback id */
	Jsonb	   *state;			/* condition: the state to check */
	List	   *branches;		/* DurableBranch *, in order */
	Jsonb	   *items;			/* map: the items */
	DurablePolicy policy;
	Jsonb	   *start_options;	/* invoke: options of the child */
	Jsonb	   *options;		/* http: the options as given */
} DurablePending;

/* An execution's row, the part the driver needs. */
typedef struct DurableExecution
{
	pg_uuid_t	id;
	char	   *name;
	char	   *workflow;		/* qualified name */
	char	   *status;
	Oid			owner;
	char	   *search_path;
	int32		run_no;
	Jsonb	   *input;
	TimestampTz deadline;		/* DT_NOBEGIN when none */
	bool		has_parent;		/* a child: reports to its parent */
	pg_uuid_t	parent_id;
	int32		parent_run_no;
	int32		parent_op_id;
	int32		parent_index;
	int32		depth;
	int32		redrive_count;
} DurableExecution;

/* A context of durable_child on the replay's context stack. */
typedef struct DurableContext
{
	int32		parent_op_id;
	int32		next_position;
} DurableContext;

/* The state of one execution being driven; lives across transactions. */
typedef struct DurableDrive
{
	MemoryContext cxt;			/* owns everything below */
	MemoryContext replay_cxt;	/* reset before every replay */
	MemoryContext spare_cxt;	/* the other one, while replay_cxt is kept */
	bool		carried;		/* pending was found by the last advance */
	bool		fresh;			/* no advance yet: the inbox is still to take */
	bool		yield;			/* continue_as_new: a committing drive ends here */
	bool		ops_unknown;	/* checkpoints not loaded: finish cancels all */
	DurableExecution ex;
	Oid			fn_oid;
	HTAB	   *ops;			/* DurableOpKey -> DurableOp */
	int32		max_op_id;
	int64		ckpt_bytes;		/* result bytes checkpointed this run */

	/* replay state */
	bool		in_replay;
	bool		in_step;
	int			step_starts;	/* executions the running step attempt started */
	bool		yielded;
	DurableContext ctx;			/* current context */
	int			ctx_depth;
	DurablePending pending;
	Jsonb	   *fatal;			/* nondeterminism, limits: ends the run */
	List	   *dirty;			/* DurableOps to write after the replay */
	DurableOp  *raised_op;		/* the last checkpointed failure raised */
	int			history_unchecked;	/* events written since the last bound check */
} DurableDrive;

/* the execution being replayed in this backend, or NULL */
extern DurableDrive *durable_current;

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
extern const char *durable_op_kind_name(DurableOpKind kind);
extern const char *durable_op_status_name(DurableOpStatus status);
extern Oid	durable_resolve_workflow(const char *workflow, bool check_execute,
									 char **qualified, char **hash);

extern Oid	durable_resolve_workflow_as(const char *workflow, Oid role,
										char **qualified, char **hash);
extern char *durable_workflow_hash(const char *qualified);

/* ----------------------------------------------------------------
 * waits.c and children.c: what the driver performs for them
 * ----------------------------------------------------------------
 */
extern void durable_token_hash(const char *token, uint8 *hash);
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

/* ----------------------------------------------------------------
 * http.c, httpworker.c and secrets.c
 * ----------------------------------------------------------------
 */

/* HTTP options: the retry options and what only HTTP has */
typedef struct DurableHttpOptions
{
	DurableRetryOptions retry;	/* retry_on, no_retry_on: "429", "5xx", ... */
	List	   *fail_on_status; /* of char *; NIL: none */
	int64		connect_timeout;	/* microseconds */
	int			max_redirects;
	bool		tls_verify;
} DurableHttpOptions;

typedef struct DurableHttpRequest DurableHttpRequest;

/* set by the workers: requests go to the HTTP worker, not sent in place */
extern bool durable_http_async;

extern Jsonb *durable_http_check_request(Jsonb *request);
extern void durable_http_check_limits(const DurableHttpOptions *o);
extern bool durable_guarded(void (*fn) (void *arg), void *arg, char **message);
extern void durable_parse_http_options(Jsonb *options, DurableHttpOptions *o);
extern char *durable_http_idempotency_key(const DurableExecution *ex, int32 op_id);
extern DurableHttpRequest *durable_http_prepare(Jsonb *request, Jsonb *options,
												const char *idempotency_key, Oid owner,
												Jsonb **refused);
extern void *durable_http_handle(DurableHttpRequest *r);
extern Jsonb *durable_http_outcome(DurableHttpRequest *r, int curlcode);
extern void durable_http_free(DurableHttpRequest *r);
extern Jsonb *durable_http_send(Jsonb *request, Jsonb *options,
								const char *idempotency_key, Oid owner);
extern XLogRecPtr durable_wal_inserted(void);
extern Jsonb *durable_http_error_outcome(const char *kind, const char *message);
extern void durable_http_apply(DurableDrive *d, DurableOp *op, Jsonb *outcome,
							   Jsonb *options);
extern bool durable_http_message(DurableDrive *d, Jsonb *payload);
extern void durable_cron_drop_jobs(void);
extern void durable_secret_resolve(const char *name, Oid owner, const char *host,
								   char **value, char **refusal);

/* ----------------------------------------------------------------
 * api.c
 * ----------------------------------------------------------------
 */
extern Oid	durable_resolve_controlled(const char *execution, pg_uuid_t *id);
extern bool durable_stop_execution(const pg_uuid_t *id, Jsonb *error, bool cascade);
extern void durable_start_options(Jsonb *options, Interval **timeout,
								  Interval **retention, Jsonb **tags);
extern int	durable_drive_ready(TimestampTz deadline, void (*commit) (void));

/* ----------------------------------------------------------------
 * ops.c
 * ----------------------------------------------------------------
 */
extern void durable_raise_op_error(Jsonb *error);
extern DurableOp *durable_op_create(DurableDrive *d, const DurableOpKey *key,
									DurableOpKind kind, const char *name,
									DurableOpStatus status);
extern void durable_op_mark_dirty(DurableDrive *d, DurableOp *op);

/* ----------------------------------------------------------------
 * step.c
 * ----------------------------------------------------------------
 */
typedef struct DurableOwnerState
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} DurableOwnerState;

extern void durable_owner_enter(DurableOwnerState *st, Oid owner,
								const char *search_path, bool read_only);
extern void durable_owner_exit(DurableOwnerState *st);
extern Jsonb *durable_step_run(const char *sql, Jsonb *arg, Oid owner,
							   const char *search_path, int64 timeout_us,
							   ErrorData **error);
extern Jsonb *durable_sql_run(const char *sql, int nargs, const Oid *argtypes,
							  Datum *values, const char *nulls, Oid owner,
							  const char *search_path, int64 timeout_us,
							  ErrorData **error);
extern void durable_timeout_arm(int64 timeout_us);
extern bool durable_timeout_disarm(void);
extern void durable_timeout_finish(void);
extern void durable_timeout_exit_on_ignore(bool on);
extern bool durable_timeout_exited(void);
extern ErrorData *durable_step_timeout_error(int64 timeout_us);

/*
 * How long code may run on after the cancel of its timeout (or of
 * durable_stop) before the worker running it ends itself.
 */
#define DURABLE_CANCEL_GRACE_MS 1000
extern Jsonb *durable_datum_to_jsonb(Datum value, Oid typid);

/* ----------------------------------------------------------------
 * isolation.c
 * ----------------------------------------------------------------
 */
extern void durable_session_reset(void);
typedef struct DurableSessionState DurableSessionState;
extern DurableSessionState *durable_session_save(void);
extern void durable_session_restore(DurableSessionState *st, bool failed);
extern void durable_session_forget(DurableSessionState *st);

/* ----------------------------------------------------------------
 * options.c
 * ----------------------------------------------------------------
 */
extern bool durable_options_next(Jsonb *options, JsonbIterator **it, char **key,
								 JsonbValue *value);
extern int64 durable_option_interval(const char *key, JsonbValue *v,
									 Interval **parsed);
extern void durable_parse_retry_options(Jsonb *options, DurableRetryOptions *opts);
extern void durable_parse_wait_strategy(Jsonb *options, DurableRetryOptions *opts);
extern void durable_parse_policy(Jsonb *options, bool map, int n, DurablePolicy *p);
extern bool durable_retry_allows(const DurableRetryOptions *opts, int sqlerrcode);
extern int64 durable_retry_delay(const DurableRetryOptions *opts, int attempt);

/* ----------------------------------------------------------------
 * util.c
 * ----------------------------------------------------------------
 */
extern void durable_uuid7(pg_uuid_t *uuid);
extern char *durable_uuid_out(const pg_uuid_t *uuid);
extern bool durable_parse_uuid(const char *text, pg_uuid_t *uuid);
extern char *durable_text_arg(FunctionCallInfo fcinfo, int n, const char *what);
extern void durable_check_name(const char *what, const char *name);
extern void durable_not_inside_workflow(const char *fname);
extern ArrayType *durable_finished_statuses(void);
extern void durable_check_payload(const char *what, Jsonb *value);
extern Jsonb *durable_error_to_jsonb(ErrorData *edata, const char *operation);
extern Jsonb *durable_cstring_to_jsonb(const char *json);
extern char *durable_jsonb_get_text(Jsonb *obj, const char *key);
extern Jsonb *durable_jsonb_get(Jsonb *obj, const char *key);
extern Jsonb *durable_jsonb_build(int nkeys, const char **keys, Jsonb **values);
extern Jsonb *durable_jsonb_string(const char *s);
extern Jsonb *durable_jsonb_int(int64 v);
extern int64 durable_interval_us(Interval *iv, const char *what);
extern bool durable_caller_controls(Oid owner);
extern bool durable_caller_controls_all(void);
extern bool durable_subxact_call(void (*fn) (void *arg), void *arg, ErrorData **error);
extern void durable_hide_statement(ErrorContextCallback *cb);

/* ----------------------------------------------------------------
 * storage.c
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
extern void durable_storage_queue_delete(const pg_uuid_t *id);
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

/* a message taken from an inbox */
typedef struct DurableMessage
{
	int64		message_id;
	char	   *kind;			/* callback, event, child */
	Jsonb	   *payload;
	TimestampTz created_at;
} DurableMessage;

#define DURABLE_TOKEN_HASH_LEN 32	/* SHA-256 */

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
 * shmem.c, launcher.c and worker.c
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
	int			http_procno;	/* the HTTP worker; -1 when not running */
	pg_atomic_uint32 http_cancels;	/* bumped when requests' rows are deleted */
	pid_t		http_pid;		/* the HTTP worker; 0 when not running */
	TimestampTz http_since;		/* when it started */
	pg_atomic_uint32 http_in_flight;	/* requests it has in flight */
	pg_atomic_uint64 counters[DC_COUNT];
	TimestampTz stats_since;
	DurableWorkerSlot slots[FLEXIBLE_ARRAY_MEMBER];
} DurableShared;

extern char *durable_database;
extern char *durable_secrets_key_file;
extern int	durable_max_crashes;
extern int	durable_max_drive_errors;
extern int	durable_drive_slice;	/* ms */
extern int	durable_notify;

typedef enum DurableNotify
{
	DURABLE_NOTIFY_NONE,
	DURABLE_NOTIFY_TERMINAL,
	DURABLE_NOTIFY_ALL
} DurableNotify;

extern void durable_shmem_init(void);
extern DurableShared *durable_shmem(void);
extern DurableWorkerSlot *durable_worker_slot(int n);
extern void durable_wake_workers(int n);
extern void durable_wake_at_commit(void);
extern void durable_wake_launcher(void);
extern void durable_wake_http_at_commit(void);
extern void durable_http_cancel_at_commit(void);
extern void durable_launcher_at_end(bool pause);
extern void durable_register_xact_callback(void);
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

/* observe.c: counters (added at commit), NOTIFY, durable_await */
extern void durable_count(DurableCounter c, int64 n);
extern void durable_count_claim(TimestampTz due_at, TimestampTz now);
extern void durable_observe_commit(void);
extern void durable_observe_abort(void);
extern void durable_status_changed(const DurableExecution *ex, const char *status);

/* wfstats.c: statistics per workflow, and the log lines of failures */
extern void durable_wfstats_init(void);
extern void durable_wfstats_count(const char *workflow, DurableCounter c, int64 n);
extern void durable_wfstats_finished(const DurableExecution *ex, const char *status);
extern void durable_log_failure(const DurableExecution *ex, const char *status,
								Jsonb *error);
extern void durable_log_exhausted(const DurableExecution *ex, const char *opname,
								  int attempts, Jsonb *error);
extern void durable_wfstats_commit(void);
extern void durable_wfstats_abort(void);
/* quota.c: unfinished executions per role, in shared memory */
extern void durable_quota_shmem_init(void);
extern void durable_quota_add(Oid owner, int delta);
extern void durable_quota_check(Oid owner);
extern void durable_quota_prepare(void);
extern void durable_storage_unfinished_per_owner(void (*add) (Oid owner, int64 n));

/* worker.c */
extern bool durable_worker_begin(void);
extern void durable_lock_extension(void);
extern void durable_worker_end(void);

/* launcher.c */
extern void durable_register_launcher(void);
extern void durable_utility_hook_init(void);
extern bool durable_workers_running(void);

/* cron.c */
extern bool durable_tick_job_here(void);

#endif							/* DURABLE_H */
