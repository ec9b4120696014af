/*-------------------------------------------------------------------------
 *
 * cron.c
 *	  pg_cron: CALL durable_tick() (the job pg_cron runs every minute),
 *	  durable_cron_enable/disable (that job), and durable_schedule/
 *	  unschedule (jobs that start executions on a cron schedule).
 *
 * The workers fire timers on time; the tick is the sweeper and the
 * fallback.  It deletes the run details of its own job, purges finished
 * executions past their retention, and either wakes the workers when
 * something is overdue or, when none runs for this database, drives the
 * ready executions itself for durable.tick_duration, committing as it goes.
 *
 * Schedules are rows of durable.schedules, the source of truth; each has a
 * pg_cron job, created as the scheduling role (pg_cron runs a job as the
 * role that scheduled it), whose command is
 * SELECT durable.schedule_fire('<name>').  That function starts the
 * execution '<name>@<fire minute, UTC>' as the schedule's owner, so a fire
 * that happens twice in a minute starts one execution.  Schedule names and
 * execution names are per owner: no other role can take the names of a
 * schedule's fires, nor learn that a schedule exists.  The statements
 * against pg_cron's tables live here; store/schedules.c has those against
 * durable's.
 *
 * pg_cron runs a job through libpq at the job's nodename, by default
 * cron.host ('localhost'), unless cron.use_background_workers is on.  On a
 * server that listens on no TCP address that can never connect, so the
 * jobs made here get the first Unix socket directory as their nodename
 * instead.  CREATE EXTENSION schedules the tick, except inside a restore
 * (pg_dump's scripts and pg_restore turn row_security off; CREATE
 * EXTENSION itself leaves it alone, unlike check_function_bodies), whose
 * data of cron.job brings the tick back itself: scheduling it too would
 * make that COPY fail on pg_cron's unique job name and lose every job.  DROP
 * EXTENSION durable removes the jobs of the tick and of the schedules
 * (durable_cron_drop_jobs, from the utility hook of api/ddl.c).
 *
 * IDENTIFICATION
 *	  src/api/cron.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "postmaster/postmaster.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/rls.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

/* the name of the tick's pg_cron job (one per role that enables it) */
#define DURABLE_TICK_JOB "durable_tick"

/* executions purged per transaction */
#define DURABLE_PURGE_BATCH 500

/*
 * Execution names are at most 200 bytes; a schedule's are its name, '@'
 * and 17 bytes of fire minute (2026-11-22T10:05Z).
 */
#define DURABLE_SCHEDULE_NAME_MAX (200 - 18)

static void
require_controls_all(const char *fname)
{
	if (!durable_caller_controls_all())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for %s", fname),
				 errdetail("The tick drives and purges the executions of every role."),
				 errhint("Run it as a superuser or a member of durable_admin.")));
}

static bool
pg_cron_installed(void)
{
	return OidIsValid(get_extension_oid("pg_cron", true));
}

static void
require_pg_cron(const char *fname)
{
	if (!pg_cron_installed())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs the extension pg_cron, which is not installed in this database", fname),
				 errhint("Add pg_cron to shared_preload_libraries, set cron.database_name to this database and run CREATE EXTENSION pg_cron. Everything but schedules works without it.")));
}

/*
 * cron_usable
 *		Whether the current role may use schema cron; with complain, an
 *		error saying how to grant it when it may not.
 */
static bool
cron_usable(bool complain)
{
	Oid			nsp = get_namespace_oid("cron", true);

	if (OidIsValid(nsp) &&
		pg_namespace_aclcheck(nsp, GetUserId(), ACL_USAGE) == ACLCHECK_OK)
		return true;
	if (complain)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema cron"),
				 errdetail("pg_cron runs a job as the role that schedules it, so role \"%s\" needs pg_cron's functions.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("A superuser can run: GRANT USAGE ON SCHEMA cron TO %s;",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
	return false;
}

/*
 * cron_sql
 *		Runs a statement on pg_cron's objects as the current role, with only
 *		pg_catalog on the search_path.  SPI must be connected.  Returns
 *		SPI_processed.
 */
static uint64
cron_sql(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	OverrideSearchPath path;
	int			rc;

	memset(&path, 0, sizeof(path));
	path.schemas = NIL;
	path.addCatalog = true;
	path.addTemp = false;
	PushOverrideSearchPath(&path);
	PG_TRY();
	{
		rc = SPI_execute_with_args(sql, nargs, argtypes, values, NULL, false, 0);
		if (rc < 0)
			elog(ERROR, "SPI_execute_with_args failed for \"%s\": %s", sql,
				 SPI_result_code_string(rc));
	}
	PG_FINALLY();
	{
		PopOverrideSearchPath();
	}
	PG_END_TRY();
	return SPI_processed;
}

/*
 * as_cron_owner
 *		Runs a statement on pg_cron's tables as the owner of schema cron (who
 *		owns them), for what pg_cron's functions cannot do.
 */
static uint64
as_cron_owner(const char *sql, int nargs, Oid *argtypes, Datum *values)
{
	Oid			nsp = get_namespace_oid("cron", false);
	HeapTuple	tup;
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	uint64		n;

	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nsp);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		n = cron_sql(sql, nargs, argtypes, values);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	return n;
}

/*
 * socket_only_dir
 *		When pg_cron's jobs must reach this server through a Unix socket
 *		(no TCP address is listened on, and pg_cron does not use background
 *		workers): the first socket directory; otherwise NULL.
 */
static char *
socket_only_dir(void)
{
	const char *bgw = GetConfigOption("cron.use_background_workers", true, false);
	char	   *raw;
	List	   *dirs;

	if (bgw != NULL && (strcmp(bgw, "on") == 0 || strcmp(bgw, "true") == 0))
		return NULL;
	if (ListenAddresses != NULL && ListenAddresses[strspn(ListenAddresses, " \t")] != '\0')
		return NULL;
	if (Unix_socket_directories == NULL)
		return NULL;
	raw = pstrdup(Unix_socket_directories);
	if (!SplitDirectoriesString(raw, ',', &dirs) || dirs == NIL)
		return NULL;
	return (char *) linitial(dirs);
}

/*
 * reach_by_socket
 *		On a server that only a Unix socket reaches, points a job of durable
 *		at the socket directory: one that pg_cron would run through TCP, or
 *		one restored from a cluster whose socket directory was another.
 */
static void
reach_by_socket(int64 jobid)
{
	char	   *dir = socket_only_dir();
	Oid			argtypes[2] = {TEXTOID, INT8OID};
	Datum		values[2];

	if (dir == NULL)
		return;
	values[0] = CStringGetTextDatum(dir);
	values[1] = Int64GetDatum(jobid);
	(void) as_cron_owner("UPDATE cron.job SET nodename = $1 "
						 "WHERE jobid = $2 AND nodename IS DISTINCT FROM $1",
						 2, argtypes, values);
}

static int64
first_int8(void)
{
	bool		isnull;
	Datum		v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	return isnull ? 0 : DatumGetInt64(v);
}

/*
 * tick_command
 *		What the tick's job runs: CALL <schema>.durable_tick(), in the schema
 *		of the extension, which is that of the calling function fn.
 */
static char *
tick_command(Oid fn)
{
	return psprintf("CALL %s.durable_tick()",
					quote_identifier(get_namespace_name(get_func_namespace(fn))));
}

/*
 * trim_tick_runs
 *		Deletes the finished run details of the current role's tick job, so
 *		that they never pile up: what remains is the run in progress, which
 *		the next tick deletes.  Nothing to do without pg_cron.
 */
static void
trim_tick_runs(void)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];

	if (!pg_cron_installed() || !cron_usable(false))
		return;
	values[0] = CStringGetTextDatum(DURABLE_TICK_JOB);
	(void) cron_sql("DELETE FROM cron.job_run_details d USING cron.job j "
					"WHERE d.jobid = j.jobid AND j.jobname = $1 "
					"AND j.username = CURRENT_USER "
					"AND d.status IN ('succeeded', 'failed')",
					1, argtypes, values);
}

/*
 * workers_drive_here
 *		Whether background workers run and serve this database.
 */
static bool
workers_drive_here(void)
{
	char	   *db;

	if (!durable_workers_running() || durable_database == NULL)
		return false;
	db = get_database_name(MyDatabaseId);
	return db != NULL && strcmp(db, durable_database) == 0;
}

/*
 * durable_tick_job_here
 *		Whether an active pg_cron job named durable_tick runs in this
 *		database, whoever scheduled it (read as the bootstrap superuser:
 *		pg_cron shows a role only its own jobs).  False without pg_cron in
 *		this database, where its jobs cannot be seen.
 */
bool
durable_tick_job_here(void)
{
	Oid			save_userid;
	int			save_sec_context;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	uint64		n = 0;

	if (!pg_cron_installed())
		return false;
	values[0] = CStringGetTextDatum(DURABLE_TICK_JOB);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	SPI_connect();
	PG_TRY();
	{
		n = cron_sql("SELECT 1 FROM cron.job WHERE jobname = $1 "
					 "AND database = current_database() AND active LIMIT 1",
					 1, argtypes, values);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	SPI_finish();
	return n > 0;
}

PG_FUNCTION_INFO_V1(durable_tick);

/*
 * CALL durable_tick()
 *		The job pg_cron runs every minute: deletes its own finished run
 *		details, purges finished executions past their retention, and then
 *		wakes the workers if anything is overdue or, when no worker serves
 *		this database, drives the ready executions for durable.tick_duration
 *		with a commit after every operation (which fires due timers and ends
 *		executions past their execution_timeout).  An admin job: it acts on
 *		the executions of every role.
 */
Datum
durable_tick(PG_FUNCTION_ARGS)
{
	TimestampTz deadline;

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("durable_tick must be called with CALL outside a transaction block"),
				 errhint("Its pg_cron job runs CALL durable_tick(); inside a transaction, use durable_drive_pending().")));
	durable_not_inside_workflow("durable_tick");
	require_controls_all("durable_tick");

	SPI_connect_ext(SPI_OPT_NONATOMIC);

	/*
	 * Each transaction takes the extension's share lock first, as a drive's
	 * do, so that ALTER EXTENSION ... UPDATE waits for it (api/ddl.c).
	 */
	durable_lock_extension();
	trim_tick_runs();
	SPI_commit();

	deadline = durable_clock_now() + (int64) durable_tick_duration * 1000;
	for (;;)
	{
		uint64		n;

		durable_lock_extension();
		n = durable_storage_purge(durable_clock_now(), DURABLE_PURGE_BATCH,
								  DT_NOBEGIN, durable_finished_statuses(),
								  true, GetUserId());
		SPI_commit();
		if (n < DURABLE_PURGE_BATCH || durable_clock_now() >= deadline)
			break;
	}
	durable_lock_extension();

	if (workers_drive_here())
	{
		TimestampTz due;

		if (durable_storage_next_due(DT_NOBEGIN, &due) && due <= durable_clock_now())
			durable_wake_workers(durable_max_workers);
	}
	else if (durable_tick_duration > 0)
		(void) durable_drive_ready(deadline, SPI_commit);

	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_cron_enable);

/*
 * durable_cron_enable() RETURNS bigint
 *		Schedules the tick with pg_cron, every minute, as the current role;
 *		returns the job id.  Idempotent: pg_cron keeps one job of a name per
 *		role.
 */
Datum
durable_cron_enable(PG_FUNCTION_ARGS)
{
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	int64		jobid;

	durable_not_inside_workflow("durable_cron_enable");
	require_controls_all("durable_cron_enable");
	require_pg_cron("durable_cron_enable");
	cron_usable(true);

	/*
	 * CREATE EXTENSION inside a restore: the dumped cron.job has the tick,
	 * if the database had it, and its COPY must not meet another.
	 */
	if (creating_extension && !row_security)
	{
		ereport(NOTICE,
				(errmsg("the pg_cron job of durable_tick() is not scheduled during a restore"),
				 errhint("The restored cron.job brings it back; if it does not, run SELECT durable_cron_enable();")));
		PG_RETURN_NULL();
	}

	SPI_connect();
	values[0] = CStringGetTextDatum(DURABLE_TICK_JOB);
	values[1] = CStringGetTextDatum(tick_command(fcinfo->flinfo->fn_oid));
	(void) cron_sql("SELECT cron.schedule($1, '* * * * *', $2)", 2, argtypes, values);
	jobid = first_int8();
	reach_by_socket(jobid);
	SPI_finish();
	PG_RETURN_INT64(jobid);
}

PG_FUNCTION_INFO_V1(durable_cron_disable);

/*
 * durable_cron_disable() RETURNS boolean
 *		Removes the current role's tick job; false when there was none (or
 *		no pg_cron).
 */
Datum
durable_cron_disable(PG_FUNCTION_ARGS)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		removed;

	durable_not_inside_workflow("durable_cron_disable");
	if (!pg_cron_installed())
		PG_RETURN_BOOL(false);
	cron_usable(true);

	SPI_connect();
	values[0] = CStringGetTextDatum(DURABLE_TICK_JOB);
	removed = cron_sql("SELECT cron.unschedule(jobid) FROM cron.job "
					   "WHERE jobname = $1 AND username = CURRENT_USER",
					   1, argtypes, values) > 0;
	SPI_finish();
	PG_RETURN_BOOL(removed);
}

/*
 * schedule_job
 *		Creates the pg_cron job of a schedule as the current role and
 *		returns its id.  pg_cron checks the cron expression; its complaint
 *		is turned into an error that says what pg_cron 1.4 accepts.
 */
typedef struct ScheduleCall
{
	Datum		values[2];
	int64		jobid;
} ScheduleCall;

static bool
schedule_job_fn(void *arg)
{
	ScheduleCall *c = arg;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};

	(void) cron_sql("SELECT cron.schedule($1, $2)", 2, argtypes, c->values);
	c->jobid = first_int8();
	reach_by_socket(c->jobid);
	return true;
}

static int64
schedule_job(const char *cron, const char *command)
{
	ScheduleCall c;
	ErrorData  *edata;

	c.values[0] = CStringGetTextDatum(cron);
	c.values[1] = CStringGetTextDatum(command);
	c.jobid = 0;
	edata = durable_subxact(schedule_job_fn, NULL, &c);
	if (edata == NULL)
		return c.jobid;
	if (edata->sqlerrcode != ERRCODE_INVALID_PARAMETER_VALUE)
		ReThrowError(edata);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid cron expression \"%s\"", cron),
			 errdetail("pg_cron said: %s", edata->message),
			 errhint("Give five fields, minute hour day-of-month month day-of-week, in UTC, such as '*/5 * * * *' or '0 3 * * 1-5', or @hourly, @daily, @weekly, @monthly, @yearly.")));
	return 0;					/* keep compiler quiet */
}

PG_FUNCTION_INFO_V1(durable_schedule);

/*
 * durable_schedule(schedule_name text, cron text, workflow text,
 *					input jsonb, options jsonb) RETURNS bigint
 *		Starts the workflow on a cron schedule, as the current role, with
 *		its search_path; returns the id of the pg_cron job.  Every argument
 *		is checked first, and any error leaves nothing behind.
 */
Datum
durable_schedule(PG_FUNCTION_ARGS)
{
	char	   *name = durable_text_arg(fcinfo, 0, "schedule_name");
	char	   *cron = durable_text_arg(fcinfo, 1, "cron");
	char	   *workflow = durable_text_arg(fcinfo, 2, "workflow");
	Jsonb	   *input;
	Jsonb	   *options;
	Interval   *timeout;
	Interval   *retention;
	Jsonb	   *tags;
	char	   *qualified;
	Oid			owner = GetUserId();
	Oid			existing_owner;
	int64		jobid;

	durable_not_inside_workflow("durable_schedule");
	durable_check_name("schedule name", name);
	if (strlen(name) > DURABLE_SCHEDULE_NAME_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("schedule name is too long"),
				 errdetail("It has %zu bytes; the limit is %d, so that the names of its executions (the schedule name, '@' and the fire minute) fit in 200.",
						   strlen(name), DURABLE_SCHEDULE_NAME_MAX)));
	if (PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("input must not be null"),
				 errhint("Pass '{}' or the JSON null 'null'::jsonb.")));
	input = PG_GETARG_JSONB_P(3);
	options = PG_ARGISNULL(4) ? durable_cstring_to_jsonb("{}") : PG_GETARG_JSONB_P(4);
	durable_check_payload("input", input);
	durable_start_options(options, &timeout, &retention, &tags);
	(void) durable_resolve_workflow(workflow, true, &qualified, NULL);
	require_pg_cron("durable_schedule");
	cron_usable(true);

	SPI_connect();
	if (durable_storage_schedule_get(name, true, &existing_owner, &jobid))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("schedule \"%s\" already exists", name),
				 errhint("Schedule names are unique per role; to change a schedule, durable_unschedule it first.")));
	jobid = schedule_job(cron, psprintf("SELECT durable.schedule_fire(%s)",
										quote_literal_cstr(name)));
	if (!durable_storage_schedule_insert(name, owner, cron, qualified, input, options,
										 namespace_search_path, jobid,
										 GetCurrentTimestamp()))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("schedule \"%s\" already exists", name)));
	SPI_finish();
	PG_RETURN_INT64(jobid);
}

PG_FUNCTION_INFO_V1(durable_unschedule);

/*
 * durable_unschedule(schedule_name text) RETURNS void
 *		Removes a schedule the caller may control, and its pg_cron job.
 *		Executions it started are left alone.
 */
Datum
durable_unschedule(PG_FUNCTION_ARGS)
{
	char	   *name = durable_text_arg(fcinfo, 0, "schedule_name");
	Oid			owner;
	int64		jobid;

	durable_not_inside_workflow("durable_unschedule");
	SPI_connect();
	if (!durable_storage_schedule_get(name, false, &owner, &jobid) ||
		!durable_caller_controls(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("schedule \"%s\" does not exist", name),
				 errhint("See durable.schedules for the schedules you may control.")));

	/* its job, if pg_cron and the job are still there */
	if (pg_cron_installed())
	{
		Oid			save_userid;
		int			save_sec;
		Oid			argtypes[1] = {INT8OID};
		Datum		values[1];

		/* pg_cron lets the job's role (or a superuser) remove it */
		GetUserIdAndSecContext(&save_userid, &save_sec);
		if (!superuser())
			SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
		PG_TRY();
		{
			cron_usable(true);
			values[0] = Int64GetDatum(jobid);
			(void) cron_sql("SELECT cron.unschedule(jobid) FROM cron.job WHERE jobid = $1",
							1, argtypes, values);
		}
		PG_FINALLY();
		{
			SetUserIdAndSecContext(save_userid, save_sec);
		}
		PG_END_TRY();
	}
	durable_storage_schedule_delete(name, owner);
	SPI_finish();
	PG_RETURN_VOID();
}

/*
 * durable_cron_drop_jobs
 *		Before DROP EXTENSION durable: removes the pg_cron jobs of the tick
 *		(of every role) and of the schedules, which would otherwise fail
 *		every minute.  If the drop fails, its transaction takes this back.
 *		Nothing to do without pg_cron or without the extension.
 */
void
durable_cron_drop_jobs(void)
{
	if (!pg_cron_installed() || !OidIsValid(get_extension_oid("durable", true)) ||
		!OidIsValid(get_namespace_oid("durable", true)))
		return;
	SPI_connect();
	(void) as_cron_owner("DELETE FROM cron.job WHERE jobid IN (SELECT jobid FROM durable.schedules) "
						 "OR (jobname = 'durable_tick' AND command LIKE 'CALL %durable_tick()')",
						 0, NULL, NULL);
	SPI_finish();
}
