/*-------------------------------------------------------------------------
 *
 * observe.c
 *	  Reading what executions did and do: durable_results, durable_await,
 *	  the durable.stats counters, the notification channel, the worker
 *	  activity rows and whether the library was preloaded.  Nothing here
 *	  changes an execution.
 *
 * IDENTIFICATION
 *	  src/api/observe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

PG_FUNCTION_INFO_V1(durable_results);

/*
 * durable_results(execution text, operation text) RETURNS TABLE (run_no
 *		integer, op_id integer, operation text, idx integer, name text,
 *		status text, result jsonb, error jsonb)
 *
 *		The outcome of every branch (durable_parallel, durable_invoke) or
 *		item (durable_map, batches unfolded) of the execution's operations,
 *		or of those named operation, every run, from durable.children:
 *		result only for those that succeeded, as in the operation's array.
 *		The caller must control the execution, as for durable_operations.
 *		Inside a step (or a check or submitter) a NULL execution is the
 *		step's own.  In a workflow body it is refused: whether the rows
 *		exist depends on how far the execution has got, not on the replay,
 *		so a step reads them (its result is checkpointed).
 */
Datum
durable_results(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *execution = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *operation = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	pg_uuid_t	id;
	List	   *ops;
	ListCell   *lc;

	if (durable_current != NULL && durable_current->in_replay && !durable_current->in_step)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_NOT_IN_WORKFLOW),
				 errmsg("durable_results cannot be called in a workflow body"),
				 errdetail("A replay must read the same rows every time, and these rows appear as the children finish."),
				 errhint("Read them in a durable_step, where durable_results(NULL, 'name') reads the step's own execution.")));
	if (execution == NULL && durable_current == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("execution must not be null outside a step"),
				 errhint("Give an execution id or name returned by durable_start; a NULL execution means the step's own only inside a durable_step.")));
	if (operation != NULL)
		durable_check_name("operation name", operation);

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	if (execution == NULL)
		id = durable_current->ex.id;
	else
		(void) durable_resolve_controlled(execution, &id);
	ops = durable_storage_result_ops(&id, operation);
	if (operation != NULL && ops == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("execution \"%s\" has no operation \"%s\" with branches",
						execution ? execution : durable_uuid_out(&id), operation),
				 errhint("durable_results reads the branches of durable_invoke, durable_parallel and durable_map; durable_operations lists the operations.")));
	foreach(lc, ops)
		durable_storage_result_rows(&id, lfirst(lc), rsinfo->setResult, rsinfo->setDesc);
	SPI_finish();
	return (Datum) 0;
}
