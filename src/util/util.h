/*-------------------------------------------------------------------------
 *
 * util.h
 *	  The bottom layer: settings, the clock, the model of executions and
 *	  operations (kinds, statuses, checkpoints, the drive state), options,
 *	  utilities, running user code as its owner, session reset.  Nothing
 *	  here names a table or knows what another layer does.
 *
 * IDENTIFICATION
 *	  src/util/util.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_UTIL_UTIL_H
#define DURABLE_UTIL_UTIL_H

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
extern TimestampTz durable_clock_now(void);

/* addresses.c: durable.http_allow_addresses */
#define DURABLE_MAX_ALLOW_ENTRIES 64

/* an address or CIDR block of durable.http_allow_addresses */
typedef struct DurableAllowEntry
{
	int			family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int			bits;
} DurableAllowEntry;

typedef struct DurableAllowList
{
	int			n;
	DurableAllowEntry	e[DURABLE_MAX_ALLOW_ENTRIES];
} DurableAllowList;

struct sockaddr;
extern bool durable_check_allow_addresses(char **newval, void **extra, GucSource source);
extern bool durable_allow_list_parse(const char *value, DurableAllowList *list, char **bad);
extern bool durable_address_allowed(const struct sockaddr *sa, const DurableAllowList *allow,
									char *text);


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

/* ----------------------------------------------------------------
 * model.c: executions, operations and their checkpoints, kinds
 * ----------------------------------------------------------------
 */
/*
 * An operation kind is a row of the kind table: ops/kinds.c registers one
 * row per kind that an ops/ file defines, and the engine reads everything
 * it needs to know about a kind from its row.  Defined below, once the
 * types it refers to are.
 */
typedef struct DurableOpKindInfo DurableOpKindInfo;
typedef const DurableOpKindInfo *DurableOpKind;

typedef enum DurableOpStatus
{
	DOS_STARTED,
	DOS_PENDING,
	DOS_SUCCEEDED,
	DOS_FAILED,
	DOS_CANCELLED,
	DOS_TIMED_OUT
} DurableOpStatus;

/* The status of an execution, as durable.executions stores it by name. */
typedef enum DurableExecStatus
{
	DES_PENDING,				/* started, not yet driven */
	DES_RUNNING,
	DES_SUSPENDED,				/* waiting on a timer or a message */
	DES_SUCCEEDED,
	DES_FAILED,
	DES_TIMED_OUT,
	DES_STOPPED
} DurableExecStatus;

#define DURABLE_EXEC_STATUSES (DES_STOPPED + 1)

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

/* Retry options of steps, conditions and HTTP requests. */
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
	char	   *limiter;		/* steps, requests: the limiter each attempt
								 * holds (ops/limiter.c); NULL: none */
} DurableRetryOptions;

/* How a drive ends a step of its work. */
typedef enum DurableAdvance
{
	DA_CONTINUE,				/* an operation was performed; replay again */
	DA_SUSPENDED,				/* waiting on a timer */
	DA_FINISHED					/* terminal status written */
} DurableAdvance;

/* What a replay asks the driver to do next. */
typedef enum DurablePendingKind
{
	DPK_NONE,
	DPK_PERFORM,				/* perform an operation: pending.perform */
	DPK_SLEEP,					/* an operation waits: until wake_at, or a message */
	DPK_CONTINUE_AS_NEW			/* end the run, start the next one */
} DurablePendingKind;

typedef struct DurableDrive DurableDrive;

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
	/* DPK_PERFORM: performs the operation (in the ops/ file of its kind) */
	DurableAdvance (*perform) (DurableDrive *d);
	DurableOpKind op_kind;		/* the kind of operation it creates */
	DurableOpKey key;
	DurableOp  *op;				/* existing checkpoint, or NULL */
	char	   *name;
	TimestampTz wake_at;		/* DPK_SLEEP */
	Jsonb	   *input;			/* DPK_CONTINUE_AS_NEW: the next run's input */
	void	   *args;			/* what perform needs, in the replay's context */
	int64		attempt_timeout;	/* the timeout of the attempt it performs
									 * (steps), microseconds; 0: none */
} DurablePending;

/* An execution's row, the part the driver needs. */
typedef struct DurableExecution
{
	pg_uuid_t	id;
	char	   *name;
	char	   *workflow;		/* qualified name */
	DurableExecStatus status;
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
struct DurableDrive
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
};


/* what the inbox brings to an operation waiting on it */
typedef struct DurableSignal
{
	const char *what;			/* "event" or "callback" */
	const char *ref;			/* the event's name; the callback's hash */
	TimestampTz sent_at;		/* events: checked against the wait's deadline */
	bool		failed;			/* callbacks: completed with a failure */
	Jsonb	   *payload;		/* the event's payload; the callback's result */
	Jsonb	   *error;			/* the callback's error */
} DurableSignal;

/* A row of the kind table (see DurableOpKind). */
struct DurableOpKindInfo
{
	const char *name;			/* stored in durable.operations.kind */
	bool		counts_bytes;	/* its result counts toward
								 * durable.max_execution_bytes */
	bool		marker;			/* a marker a replay passes over when its call
								 * is gone (durable_patched) */
	bool		open_at_finish; /* what it made may outlive its success: a run
								 * that ends cancels what it left
								 * (durable_create_callback) */
	bool		reopen_on_redrive;	/* durable_redrive reopens it instead of
									 * dropping it (a durable_child context) */
	bool		history_attempt;	/* its history shows the attempt (steps,
									 * checks) */
	bool		activity_attempt;	/* durable.activity shows the attempt
									 * (steps, requests) */
	const char *success_event;	/* history event of its success; NULL:
								 * operation_succeeded */
	bool		result_details; /* its history details are its result */

	/*
	 * An operation waiting on messages: whether it takes this one (it still
	 * waits, and on this event or callback), and taking it.
	 */
	bool		(*waits_for) (const DurableOp *op, const DurableSignal *s);
	void		(*deliver) (DurableDrive *d, DurableOp *op, const DurableSignal *s);
};

/* A kind of inbox message, and what applying one to its execution does. */
/* a message taken from an inbox */
typedef struct DurableMessage
{
	int64		message_id;
	char	   *kind;			/* a DurableMessageKind's name */
	Jsonb	   *payload;
	TimestampTz created_at;
} DurableMessage;

typedef struct DurableMessageKind
{
	const char *name;			/* stored in durable.inbox.kind */
	/* applies it; true when an operation has finished, so a replay goes on */
	bool		(*apply) (DurableDrive *d, DurableMessage *m);
} DurableMessageKind;

/* model.c */
extern void durable_kind_register(const DurableOpKindInfo *kind);
extern DurableOpKind durable_kind_by_name(const char *name);
extern void durable_message_kind_register(const DurableMessageKind *kind);
extern const DurableMessageKind *durable_message_kind_by_name(const char *name);
extern const char *durable_op_kind_name(DurableOpKind kind);
extern const char *durable_op_status_name(DurableOpStatus status);
extern const char *durable_exec_status_name(DurableExecStatus status);
extern DurableExecStatus durable_exec_status_from_name(const char *name);
extern bool durable_exec_status_finished(DurableExecStatus status);
extern ArrayType *durable_finished_statuses(void);

/* the execution being replayed in this backend, or NULL */
extern DurableDrive *durable_current;


/* ----------------------------------------------------------------
 * usercode.c: running user code as its owner
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

/* ----------------------------------------------------------------
 * session.c: session state reset around executions
 * ----------------------------------------------------------------
 */
extern void durable_session_reset(void);
typedef struct DurableSessionState DurableSessionState;
extern DurableSessionState *durable_session_save(void);
extern void durable_session_restore(DurableSessionState *st, bool failed);
extern void durable_session_forget(DurableSessionState *st);

/* ----------------------------------------------------------------
 * options.c: options of operations and starts
 * ----------------------------------------------------------------
 */
extern int64 durable_option_interval(const char *key, JsonbValue *v,
									 Interval **parsed);
/* HTTP options: the retry options and what only HTTP has */
typedef struct DurableHttpOptions
{
	DurableRetryOptions retry;	/* retry_on, no_retry_on: "429", "5xx", ... */
	List	   *fail_on_status; /* of char *; NIL: none */
	int64		connect_timeout;	/* microseconds */
	int			max_redirects;
	bool		tls_verify;
} DurableHttpOptions;

extern void durable_parse_http_options(Jsonb *options, DurableHttpOptions *o);
extern void durable_parse_retry_options(Jsonb *options, DurableRetryOptions *opts);

/* options of durable_task */
typedef struct DurableTaskOptions
{
	DurableRetryOptions retry;	/* max_attempts and the backoff */
	int64		timeout;		/* microseconds, the whole task; 0: none */
	int64		heartbeat_timeout;	/* microseconds, the longest lease; 0: none */
	char	   *limiter;		/* NULL: none */
} DurableTaskOptions;

extern void durable_parse_task_options(Jsonb *options, DurableTaskOptions *o);
extern void durable_parse_wait_strategy(Jsonb *options, DurableRetryOptions *opts);
/* a start in a queue of executions (durable_start's options) */
typedef struct DurableXqStart
{
	const char *queue;			/* NULL: no queue */
	const char *key;			/* NULL: none */
	int32		priority;		/* smaller first; 0 by default */
	int64		debounce_us;	/* 0: none */
} DurableXqStart;

/* the limits of a queue of executions (durable_queue_set); < 0: none */
typedef struct DurableXqLimits
{
	int32		max_concurrency;
	int32		max_per_key;
	int32		rate;
	Interval   *period;			/* with rate */
	bool		fairness;		/* round robin between keys */
} DurableXqLimits;

extern void durable_parse_policy(Jsonb *options, bool map, int n, DurablePolicy *p);
extern int64 durable_wait_length_arg(FunctionCallInfo fcinfo, int n, const char *what);
extern void durable_start_options(Jsonb *options, Interval **timeout,
								  Interval **retention, Jsonb **tags);
extern void durable_start_options_xq(Jsonb *options, Interval **timeout,
									 Interval **retention, Jsonb **tags,
									 DurableXqStart *xq);
extern void durable_queue_options(Jsonb *options, DurableXqLimits *lim);
extern bool durable_retry_allows(const DurableRetryOptions *opts, int sqlerrcode);
extern int64 durable_retry_delay(const DurableRetryOptions *opts, int attempt);

/* ----------------------------------------------------------------
 * util.c: small helpers
 * ----------------------------------------------------------------
 */
extern void durable_uuid7(pg_uuid_t *uuid);
extern char *durable_uuid_out(const pg_uuid_t *uuid);
extern bool durable_parse_uuid(const char *text, pg_uuid_t *uuid);
extern char *durable_text_arg(FunctionCallInfo fcinfo, int n, const char *what);
extern void durable_check_name(const char *what, const char *name);
extern void durable_not_inside_workflow(const char *fname);
extern void durable_check_payload(const char *what, Jsonb *value);
extern char *durable_error_text(Jsonb *error);
extern Datum durable_role_name(Oid role);
extern TimestampTz durable_earliest(TimestampTz a, TimestampTz b);
extern ErrorData *durable_error_new(int sqlerrcode, char *message, char *detail, char *hint);
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
extern ErrorData *durable_subxact(bool (*fn) (void *arg), void (*on_error) (void *arg),
								  void *arg);
extern bool durable_subxact_call(void (*fn) (void *arg), void *arg, ErrorData **error);
extern void durable_hide_statement(ErrorContextCallback *cb);

/* token.c: callback ids and task ids */
#define DURABLE_TOKEN_HASH_LEN 32	/* SHA-256 */
extern char *durable_hex(const uint8 *bytes, int n);
extern char *durable_token_new(uint8 *hash);
extern void durable_token_hash(const char *token, uint8 *hash);
extern char *durable_task_token_new(uint8 *hash);
extern void durable_task_token_hash(const char *token, uint8 *hash);

#endif							/* DURABLE_UTIL_UTIL_H */
