/*-------------------------------------------------------------------------
 *
 * guc.c
 *	  The settings of the durable extension, and the durable clock.
 *
 * IDENTIFICATION
 *	  src/util/guc.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include <limits.h>

#include "util/util.h"

int			durable_max_payload_size = 1024 * 1024;
int			durable_max_operations = 10000;
int			durable_max_execution_bytes = 100 * 1024;
int			durable_replay_timeout = 10000;
int			durable_max_wait = 366 * 24 * 3600;
char	   *durable_clock_offset_string = NULL;
int			durable_max_workers = 2;
int			durable_tick_duration = 5000;
char	   *durable_database = NULL;
char	   *durable_secrets_key_file = NULL;
int			durable_max_crashes = 3;
int			durable_max_drive_errors = 3;
int			durable_drive_slice = 200;
int			durable_notify = DURABLE_NOTIFY_NONE;
char	   *durable_http_allow_addresses = NULL;
int			durable_http_max_response_size = 1024 * 1024;
int			durable_http_timeout = 30000;
int			durable_http_connect_timeout = 10000;
int			durable_http_max_redirects = 3;
int			durable_http_max_in_flight = 256;
int			durable_http_max_timeout = 5 * 60 * 1000;
int			durable_http_max_in_flight_per_role = 64;
int			durable_retention = 30 * 24 * 3600;
int			durable_max_history_events = 10000;
bool		durable_log_failures = true;
bool		durable_notice_undriven = true;
int			durable_max_tracked_workflows = 1000;
int			durable_max_children_in_progress = 100;
int			durable_max_starts_per_step = 100;
int			durable_max_executions_per_role = 1000000;

static const struct config_enum_entry notify_options[] = {
	{"none", DURABLE_NOTIFY_NONE, false},
	{"terminal", DURABLE_NOTIFY_TERMINAL, false},
	{"all", DURABLE_NOTIFY_ALL, false},
	{NULL, 0, false}
};
bool		durable_synchronous_commit = false;

/* durable.clock_offset, parsed by its check hook */
static int64 clock_offset_us = 0;

static bool
check_clock_offset(char **newval, void **extra, GucSource source)
{
	Interval   *iv;
	int64	   *parsed;

	if (*newval == NULL || **newval == '\0')
	{
		parsed = malloc(sizeof(int64));
		if (parsed == NULL)
			return false;
		*parsed = 0;
		*extra = parsed;
		return true;
	}

	iv = (Interval *) DatumGetPointer(DirectFunctionCall3(interval_in,
														  CStringGetDatum(*newval),
														  ObjectIdGetDatum(InvalidOid),
														  Int32GetDatum(-1)));
	if (iv->month != 0)
	{
		GUC_check_errdetail("The offset must be given in days, hours, minutes and seconds, not months or years.");
		return false;
	}
	parsed = malloc(sizeof(int64));
	if (parsed == NULL)
		return false;
	*parsed = iv->time + (int64) iv->day * USECS_PER_DAY;
	*extra = parsed;
	return true;
}

static void
assign_clock_offset(const char *newval, void *extra)
{
	clock_offset_us = *(int64 *) extra;
}

/*
 * durable_clock_now
 *		clock_timestamp() plus durable.clock_offset: the time every durable
 *		timer reads, so that tests move time instead of sleeping.
 */
TimestampTz
durable_clock_now(void)
{
	return GetCurrentTimestamp() + clock_offset_us;
}

void
durable_define_settings(void)
{
	DefineCustomStringVariable("durable.clock_offset",
							   "Moves the durable clock forward by this interval.",
							   "Every durable timer reads clock_timestamp() plus this offset; tests use it instead of sleeping.",
							   &durable_clock_offset_string,
							   "0",
							   PGC_SUSET, 0,
							   check_clock_offset, assign_clock_offset, NULL);

	DefineCustomIntVariable("durable.max_payload_size",
							"Largest input, step result or workflow result, in bytes.",
							NULL,
							&durable_max_payload_size,
							1024 * 1024, 1024, MaxAllocSize / 2,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_operations",
							"Most operations one run of an execution may checkpoint.",
							"Replay cost grows with the square of this number; long loops belong in durable_child or durable_continue_as_new.",
							&durable_max_operations,
							10000, 1, 1000000,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_execution_bytes",
							"Most bytes of checkpointed results one run of an execution may hold.",
							NULL,
							&durable_max_execution_bytes,
							100 * 1024, 64, INT_MAX / 1024,
							PGC_SUSET, GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.replay_timeout",
							"Longest time one replay of a workflow body may run; 0 disables.",
							"A workflow body that never reaches a durable operation fails when it runs past this.",
							&durable_replay_timeout,
							10000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_wait",
							"Longest durable timer, retry delay or wait.",
							NULL,
							&durable_max_wait,
							366 * 24 * 3600, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.retention",
							"How long finished executions are kept when durable_start gave no retention; -1 keeps them.",
							"The tick (CALL durable_tick(), every minute with pg_cron) purges executions past their retention, with their operations, history, callbacks and branches.",
							&durable_retention,
							30 * 24 * 3600, -1, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_history_events",
							"Most history events kept per execution; 0 keeps all.",
							"Past it, the oldest quarter is replaced by one history_summarized event that counts them by kind.",
							&durable_max_history_events,
							10000, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_children_in_progress",
							"Most child executions of one invoke, parallel or map operation started and not finished at once; 0: no cap.",
							"Applies to operations without max_concurrency and caps a larger max_concurrency; further children start as others finish.",
							&durable_max_children_in_progress,
							100, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_starts_per_step",
							"Most executions one attempt of a step (or submitter or condition check) may start with durable_start; 0: no cap.",
							"An execution started inside a step is one level deeper than the execution of the step, so the nesting limit of 32 levels applies too.",
							&durable_max_starts_per_step,
							100, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_executions_per_role",
							"Most unfinished (PENDING, RUNNING, SUSPENDED) executions one role may own, children included; 0: no cap.",
							"durable_start refuses past it. Counted in shared memory (durable preloaded), exact up to starts that commit concurrently.",
							&durable_max_executions_per_role,
							1000000, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("durable.synchronous_commit",
							 "Whether intermediate checkpoints wait for the WAL flush.",
							 "Suspensions and terminal states always wait. A lost asynchronous commit loses a step's effects together with its checkpoint, so the step runs again: still exactly once for the database.",
							 &durable_synchronous_commit,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_workers",
							"Number of background workers that drive executions.",
							"Takes effect at reload; each worker uses one of max_worker_processes. "
							"With 0, executions are driven by durable_tick, durable_drive, "
							"durable_drive_pending and CALL durable_run.",
							&durable_max_workers,
							2, 0, MAX_BACKENDS,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.tick_duration",
							"Longest time CALL durable_tick() drives executions when no worker runs; 0 disables.",
							"The pg_cron tick runs once a minute; keep this well under a minute.",
							&durable_tick_duration,
							5000, 0, 50000,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomStringVariable("durable.database",
							   "Database whose executions the background workers drive.",
							   "Takes effect at reload.",
							   &durable_database,
							   "postgres",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_crashes",
							"Server crashes an execution may cause before it fails.",
							"Counts crashes while a worker drove the execution with no progress in between.",
							&durable_max_crashes,
							3, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.max_drive_errors",
							"Errors in a row that drives of an execution may raise before it fails.",
							"Counts errors that escape a drive (not failures of the workflow) with no progress in between; "
							"between two, the execution waits 1 s, then 2 s, 4 s and so on up to a minute.",
							&durable_max_drive_errors,
							3, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.drive_slice",
							"Time a worker drives one execution before it takes the next in turn.",
							"Past it, the drive commits and the execution waits behind the others that are ready.",
							&durable_drive_slice,
							200, 1, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("durable.notify",
							 "Which status changes send NOTIFY on the owner's channel, durable_status_<owner oid>.",
							 "none, terminal (finished executions) or all.",
							 &durable_notify,
							 DURABLE_NOTIFY_NONE, notify_options,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("durable.http_allow_addresses",
							   "Loopback, private and link-local addresses that HTTP requests may reach.",
							   "A comma-separated list of IP addresses and CIDR blocks, such as 127.0.0.1 or 10.1.0.0/16. "
							   "Requests to other such addresses are refused.",
							   &durable_http_allow_addresses,
							   "",
							   PGC_SUSET, GUC_LIST_INPUT,
							   durable_check_allow_addresses, NULL, NULL);

	DefineCustomStringVariable("durable.secrets_key_file",
							   "File holding the key that encrypts secret values at rest.",
							   "Empty: pg_durable/secrets.key in the data directory, created at first use. "
							   "A relative path is relative to the data directory.",
							   &durable_secrets_key_file,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("durable.http_max_response_size",
							"Largest HTTP response body, in bytes.",
							"A larger response fails the request with WF009.",
							&durable_http_max_response_size,
							1024 * 1024, 1024, MaxAllocSize / 4,
							PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.http_timeout",
							"Default time limit of one HTTP attempt.",
							"The request's timeout, or the option timeout, overrides it.",
							&durable_http_timeout,
							30000, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.http_connect_timeout",
							"Default time limit of connecting for one HTTP attempt.",
							NULL,
							&durable_http_connect_timeout,
							10000, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.http_max_redirects",
							"Default number of redirects an HTTP request follows.",
							"Requests that use a secret never follow redirects.",
							&durable_http_max_redirects,
							3, 0, 20,
							PGC_SUSET, 0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.http_max_in_flight",
							"Most HTTP requests the HTTP worker has in flight at once.",
							"Each takes a socket of the HTTP worker; further requests wait their turn.",
							&durable_http_max_in_flight,
							256, 1, 10000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("durable.log_failures",
							 "Logs a line when an execution fails or times out, or a step runs out of attempts.",
							 "The line is written at level LOG when the transaction that decided it commits.",
							 &durable_log_failures,
							 true,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);

	DefineCustomBoolVariable("durable.notice_undriven",
							 "Says so, once per session, when durable_start stores an execution that no background worker nor pg_cron tick will drive.",
							 "Turn it off in sessions that drive executions themselves (durable_drive_pending, CALL durable_run).",
							 &durable_notice_undriven,
							 true,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);

	/*
	 * A setting of the postmaster can only be defined while preloading (a
	 * backend that loads the library on demand would die with FATAL); it
	 * sizes shared memory, which exists only then.
	 */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("durable.max_tracked_workflows",
								"Most workflows with a row of their own in durable.workflow_stats.",
								"Further workflows are counted together in one row whose workflow is NULL.",
								&durable_max_tracked_workflows,
								1000, 10, 100000,
								PGC_POSTMASTER, 0,
								NULL, NULL, NULL);

	DefineCustomIntVariable("durable.http_max_timeout",
							"Longest time limit an HTTP attempt may have.",
							"A request or option timeout or connect_timeout above it is refused at the call; "
							"the HTTP worker also ends any attempt at it.",
							&durable_http_max_timeout,
							5 * 60 * 1000, 1, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("durable.http_max_in_flight_per_role",
							"Most HTTP requests of one role the HTTP worker has in flight at once.",
							"Further requests of that role wait while other roles' requests are sent; 0 means no limit per role.",
							&durable_http_max_in_flight_per_role,
							64, 0, 10000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
}
