/*-------------------------------------------------------------------------
 *
 * queues.c
 *	  durable_queue_set and durable_queue_drop: the queues of executions of
 *	  the calling role.
 *
 * A queue belongs to the role that made it (current_user); its name is
 * unique per owner, and durable_start finds a queue among its caller's.
 * Changing a queue's limits nudges it (store/queues.c), so that raised
 * limits admit at once; a queue with unfinished executions (waiting or
 * admitted) cannot be dropped.  Neither takes the admission lock of the
 * queue for longer than its statement, except a change, which holds the
 * queue's row until the transaction ends.
 *
 * IDENTIFICATION
 *	  src/api/queues.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

/*
 * queue_name_arg
 *		The name of a queue: a non-empty name of at most 200 bytes.
 */
static char *
queue_name_arg(FunctionCallInfo fcinfo)
{
	char	   *name = durable_text_arg(fcinfo, 0, "name");

	if (name[0] == '\0' || strlen(name) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a queue name must have 1 to 200 bytes")));
	return name;
}

/*
 * schema_ready
 *		The queues of executions need the schema of 1.2.
 */
static void
schema_ready(void)
{
	if (!durable_xq_available())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queues of executions need the schema of durable 1.2"),
				 errhint("Run ALTER EXTENSION durable UPDATE.")));
}

PG_FUNCTION_INFO_V1(durable_queue_set);

/*
 * durable_queue_set(name text, options jsonb) RETURNS void
 *		Creates queue name of the calling role, or changes its limits (the
 *		options given replace all of them; an option left out is no limit).
 */
Datum
durable_queue_set(PG_FUNCTION_ARGS)
{
	char	   *name;
	Jsonb	   *options = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	DurableXqLimits lim;

	durable_not_inside_workflow("durable_queue_set");
	name = queue_name_arg(fcinfo);
	durable_queue_options(options, &lim);
	SPI_connect();
	schema_ready();
	durable_xq_define(GetUserId(), name, &lim);
	durable_xq_nudge(GetUserId(), name, durable_clock_now(), false);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_queue_drop);

/*
 * durable_queue_drop(name text) RETURNS void
 *		Drops queue name of the calling role; refused while an execution
 *		of it is unfinished.
 */
Datum
durable_queue_drop(PG_FUNCTION_ARGS)
{
	char	   *name;
	int64		n;

	durable_not_inside_workflow("durable_queue_drop");
	name = queue_name_arg(fcinfo);
	SPI_connect();
	schema_ready();
	n = durable_xq_drop(GetUserId(), name);
	if (n < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", name),
				 errhint("Queues are per role: durable.queue_status lists yours.")));
	if (n > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("queue \"%s\" has %lld unfinished execution%s", name,
						(long long) n, n == 1 ? "" : "s"),
				 errdetail("Executions that wait in a queue or that it admitted need it until they finish."),
				 errhint("Let them finish, or stop them with durable_stop, then drop the queue.")));
	SPI_finish();
	PG_RETURN_VOID();
}
