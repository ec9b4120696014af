/*-------------------------------------------------------------------------
 *
 * api.c
 *	  SQL functions used outside workflows: durable_start, durable_stop,
 *	  durable_drive, durable_drive_pending, CALL durable_run and the
 *	  resolver behind the status functions.
 *
 * IDENTIFICATION
 *	  src/api/api.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/dbcommands.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"
#include "utils/varlena.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

/*
 * durable_resolve_controlled
 *		The id of an execution given by id or name that the caller may
 *		control.  Executions of other roles are reported as not existing, so
 *		their ids and names leak nothing.  SPI must be connected.
 */
Oid
durable_resolve_controlled(const char *execution, pg_uuid_t *id)
{
	Oid			owner;

	if (!durable_storage_resolve(execution, id, &owner) ||
		!durable_caller_controls(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("execution \"%s\" does not exist", execution),
				 errhint("Give an execution id or name returned by durable_start; executions of roles whose privileges you lack are not visible.")));
	return owner;
}

/*
 * start_search_path
 *		The caller's search_path with pg_temp moved to the end, so that a
 *		temporary object can never shadow what the workflow means.
 */
static char *
start_search_path(void)
{
	char	   *raw = pstrdup(namespace_search_path);
	List	   *elems;
	ListCell   *lc;
	StringInfoData buf;

	if (!SplitIdentifierString(raw, ',', &elems))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid search_path \"%s\"", namespace_search_path)));
	initStringInfo(&buf);
	foreach(lc, elems)
	{
		const char *e = lfirst(lc);

		if (strcmp(e, "pg_temp") == 0 || strncmp(e, "pg_temp_", 8) == 0)
			continue;
		appendStringInfo(&buf, "%s, ", quote_identifier(e));
	}
	appendStringInfoString(&buf, "pg_temp");
	return buf.data;
}

/* this session looked whether anything drives its database's executions */
static bool undriven_checked = false;

/*
 * notice_if_undriven
 *		Once per session (durable.notice_undriven), a NOTICE when no
 *		background worker serves this database (durable is not preloaded,
 *		durable.max_workers is 0, or durable.database names another) and no
 *		pg_cron job runs durable_tick here: the executions started then run
 *		only when a session drives them.  Not in workers, nor in drives.
 */
static void
notice_if_undriven(void)
{
	char	   *db;
	char	   *why;

	if (undriven_checked || !durable_notice_undriven ||
		IsBackgroundWorker || durable_current != NULL)
		return;
	undriven_checked = true;
	db = get_database_name(MyDatabaseId);
	if (db == NULL)
		return;
	if (durable_shmem() == NULL)
		why = pstrdup("No background worker runs (durable is not in shared_preload_libraries)");
	else if (durable_max_workers == 0)
		why = pstrdup("No background worker runs (durable.max_workers is 0)");
	else if (durable_database == NULL || strcmp(durable_database, db) != 0)
		why = psprintf("The background workers serve database \"%s\" (durable.database)",
					   durable_database ? durable_database : "");
	else
		return;
	if (durable_tick_job_here())
		return;
	ereport(NOTICE,
			(errmsg("nothing drives the executions of database \"%s\" by itself", db),
			 errdetail("%s, and no pg_cron job runs CALL durable_tick() in this database.", why),
			 errhint("Executions started here run only when a session drives them (durable_drive_pending, CALL durable_run). "
					 "For workers: durable in shared_preload_libraries, durable.database = '%s' and durable.max_workers > 0; or schedule the tick with SELECT durable_cron_enable(). "
					 "durable.notice_undriven = off silences this notice.", db)));
}

PG_FUNCTION_INFO_V1(durable_start);

/*
 * durable_start(workflow text, input jsonb, name text, options jsonb) RETURNS uuid
 *		Checks the workflow and stores a new execution, ready to run.  A
 *		name is an idempotency key: starting it again with the same workflow
 *		and input returns the same execution.
 */
Datum
durable_start(PG_FUNCTION_ARGS)
{
	char	   *workflow = durable_text_arg(fcinfo, 0, "workflow");
	Jsonb	   *input;
	char	   *name = PG_ARGISNULL(2) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(2));
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	char	   *qualified;
	char	   *hash;
	Interval   *timeout;
	Interval   *retention;
	Jsonb	   *tags;
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));
	pg_uuid_t	existing;
	bool		theirs;
	Oid			owner = GetUserId();
	int32		depth = 0;
	DurableStart s;
	DurableXqStart xq;

	if (durable_current != NULL && durable_current->in_replay)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_WRITE_IN_WORKFLOW),
				 errmsg("durable_start cannot be called in a workflow body"),
				 errhint("Start executions from a durable_step, or use durable_child.")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("input must not be null"),
				 errhint("Pass '{}' or the JSON null 'null'::jsonb.")));
	input = PG_GETARG_JSONB_P(1);
	if (name != NULL)
	{
		durable_check_name("execution name", name);
		if (durable_parse_uuid(name, &existing))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("execution name must not have the form of a uuid"),
					 errdetail("Executions are looked up by id or by name; a name like an id would be ambiguous.")));
	}
	durable_check_payload("input", input);
	durable_start_options_xq(options, &timeout, &retention, &tags, &xq);
	if (xq.debounce_us > 0 && name != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a debounced start cannot have a name"),
				 errdetail("A debounced start may return the execution already waiting under its key, which has another name or none.")));
	(void) durable_resolve_workflow(workflow, true, &qualified, &hash);

	durable_uuid7(id);
	SPI_connect();
	if (name != NULL && !durable_storage_name_claim(name, id, owner, &existing, &theirs))
	{
		if (theirs)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("execution name \"%s\" is already in use", name),
					 errdetail("Execution names are unique per database until ALTER EXTENSION durable UPDATE makes them unique per owner.")));
		if (!durable_storage_same_input(&existing, input, qualified))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("execution name \"%s\" is already used by execution %s with another workflow or input",
							name, durable_uuid_out(&existing)),
					 errhint("A name is an idempotency key: the same name starts the same execution. Choose a new name for new work.")));
		SPI_finish();
		*id = existing;
		PG_RETURN_UUID_P(id);
	}
	if (durable_current != NULL)
	{
		/* inside a drive: a step (or submitter, or check) starts it */
		DurableDrive *d = durable_current;

		depth = d->ex.depth + 1;
		if (depth > DURABLE_MAX_CHILD_DEPTH)
			ereport(ERROR,
					(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
					 errmsg("executions started by steps are nested more than %d levels deep",
							DURABLE_MAX_CHILD_DEPTH),
					 errdetail("Execution %s, at depth %d, started this one.",
							   durable_uuid_out(&d->ex.id), d->ex.depth),
					 errhint("Check the workflow for a step that starts its own workflow without end.")));
		if (durable_max_starts_per_step > 0 &&
			d->step_starts >= durable_max_starts_per_step)
			ereport(ERROR,
					(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
					 errmsg("a step may start at most %d executions",
							durable_max_starts_per_step),
					 errdetail("durable.max_starts_per_step is %d per attempt of a step.",
							   durable_max_starts_per_step),
					 errhint("Start many executions with durable_map or durable_parallel, or ask a superuser to raise durable.max_starts_per_step.")));
	}
	durable_quota_check(owner);
	s.id = *id;
	s.name = name;
	s.workflow = qualified;
	s.hash = hash;
	s.input = input;
	s.owner = owner;
	s.search_path = start_search_path();
	s.tags = tags;
	s.timeout = timeout;
	s.retention = retention;
	s.parent = NULL;
	s.depth = depth;
	if (xq.queue == NULL)
		durable_lifecycle_start(&s, durable_clock_now());
	else
		(void) durable_lifecycle_start_queued(&s, &xq, durable_clock_now(), id);
	if (durable_current != NULL)
		durable_current->step_starts++;
	SPI_finish();
	notice_if_undriven();
	PG_RETURN_UUID_P(id);
}

PG_FUNCTION_INFO_V1(durable_execution_id);

/*
 * durable.execution_id(execution text) RETURNS uuid
 */
Datum
durable_execution_id(PG_FUNCTION_ARGS)
{
	char	   *execution = durable_text_arg(fcinfo, 0, "execution");
	pg_uuid_t  *id = palloc(sizeof(pg_uuid_t));

	SPI_connect();
	(void) durable_resolve_controlled(execution, id);
	SPI_finish();
	PG_RETURN_UUID_P(id);
}

PG_FUNCTION_INFO_V1(durable_stop);

/*
 * durable_stop(execution text, reason text) RETURNS text
 *		Marks an unfinished execution STOPPED and cancels what it waits on.
 */
Datum
durable_stop(PG_FUNCTION_ARGS)
{
	char	   *execution = durable_text_arg(fcinfo, 0, "execution");
	char	   *reason = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	pg_uuid_t	id;
	char	   *status;
	bool		mine;
	const char *keys[3] = {"message", "sqlstate", "reason"};
	Jsonb	   *values[3];
	Jsonb	   *error;

	durable_not_inside_workflow("durable_stop");
	SPI_connect();
	(void) durable_resolve_controlled(execution, &id);
	values[0] = durable_jsonb_string("execution stopped");
	values[1] = durable_jsonb_string("57014");
	values[2] = durable_jsonb_string(reason);
	error = durable_jsonb_build(3, keys, values);
	durable_check_payload("reason", error);
	if (!durable_stop_execution(&id, error, false))
	{
		if (!durable_storage_status(&id, &status, &mine))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("execution \"%s\" does not exist", execution)));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("execution \"%s\" has already finished", execution),
				 errdetail("Its status is %s.", status)));
	}
	SPI_finish();
	PG_RETURN_TEXT_P(cstring_to_text(durable_exec_status_name(DES_STOPPED)));
}

PG_FUNCTION_INFO_V1(durable_drive);

/*
 * durable_drive(execution text) RETURNS text
 *		Drives one execution in this transaction until it suspends or
 *		finishes.  A workflow failure is a FAILED status, not an error.
 *		One that waits in a queue of executions is left waiting: PENDING.
 */
Datum
durable_drive(PG_FUNCTION_ARGS)
{
	char	   *execution = durable_text_arg(fcinfo, 0, "execution");
	pg_uuid_t	id;
	const char *status;
	text	   *result;
	MemoryContext callercxt = CurrentMemoryContext;

	durable_not_inside_workflow("durable_drive");
	SPI_connect();
	(void) durable_resolve_controlled(execution, &id);
	/* one its queue has not admitted waits for its turn */
	if (durable_xq_available() && durable_xq_waiting(&id))
		status = durable_exec_status_name(DES_PENDING);
	else
		status = durable_drive_one(&id);
	if (status == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("execution \"%s\" does not exist", execution)));
	/* SPI_finish frees what was allocated since SPI_connect */
	MemoryContextSwitchTo(callercxt);
	result = cstring_to_text(status);
	SPI_finish();
	PG_RETURN_TEXT_P(result);
}

static TimestampTz
deadline_after(FunctionCallInfo fcinfo, int n)
{
	Interval   *iv;

	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("max_duration must not be null")));
	iv = PG_GETARG_INTERVAL_P(n);
	return durable_clock_now() + durable_interval_us(iv, "max_duration");
}

PG_FUNCTION_INFO_V1(durable_drive_pending);

/*
 * durable_drive_pending(max_duration interval) RETURNS integer
 *		Drives every ready execution the caller may drive, in this
 *		transaction, until none is ready or the time is up; returns how many
 *		drives advanced an execution.
 */
Datum
durable_drive_pending(PG_FUNCTION_ARGS)
{
	TimestampTz deadline = deadline_after(fcinfo, 0);
	int			count;

	durable_not_inside_workflow("durable_drive_pending");
	SPI_connect();
	count = durable_drive_ready(deadline, NULL);
	SPI_finish();
	PG_RETURN_INT32(count);
}

PG_FUNCTION_INFO_V1(durable_run);

/*
 * CALL durable_run(max_duration interval)
 *		Like durable_drive_pending, but commits after every operation, so
 *		each replay starts in a fresh transaction (PL/pgSQL's fast path) and
 *		every checkpoint is durable as soon as it is made.  Intermediate
 *		commits do not wait for the WAL flush unless
 *		durable.synchronous_commit is on; suspensions and terminal states
 *		always do.
 */
Datum
durable_run(PG_FUNCTION_ARGS)
{
	TimestampTz deadline = deadline_after(fcinfo, 0);

	if (fcinfo->context == NULL || !IsA(fcinfo->context, CallContext) ||
		((CallContext *) fcinfo->context)->atomic)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
				 errmsg("durable_run must be called with CALL outside a transaction block"),
				 errhint("Inside a transaction, use durable_drive_pending().")));
	durable_not_inside_workflow("durable_run");

	SPI_connect_ext(SPI_OPT_NONATOMIC);
	(void) durable_drive_ready(deadline, SPI_commit);
	SPI_finish();
	PG_RETURN_VOID();
}
