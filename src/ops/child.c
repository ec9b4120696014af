/*-------------------------------------------------------------------------
 *
 * child.c
 *	  durable_child: a workflow function run inline in a child context of
 *	  the same execution, its operations numbered apart; once it has
 *	  finished, replays skip it as one checkpoint.
 *
 * IDENTIFICATION
 *	  src/ops/child.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

const DurableOpKindInfo durable_kind_child = {
	.name = "child",
	.counts_bytes = true,
	.reopen_on_redrive = true,	/* a redrive reopens the context it failed in */
};

/* the call of the child's workflow function */
typedef struct ChildCall
{
	Oid			fn;
	Jsonb	   *input;
	Datum		result;
	bool		isnull;
} ChildCall;

static bool
child_call(void *arg)
{
	ChildCall  *c = arg;
	LOCAL_FCINFO(cfcinfo, 1);
	FmgrInfo	flinfo;

	fmgr_info(c->fn, &flinfo);
	InitFunctionCallInfoData(*cfcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
	cfcinfo->args[0].value = JsonbPGetDatum(c->input);
	cfcinfo->args[0].isnull = false;
	c->result = FunctionCallInvoke(cfcinfo);
	c->isnull = cfcinfo->isnull;
	return true;
}

PG_FUNCTION_INFO_V1(durable_child);

/*
 * durable_child(name text, workflow text, input jsonb) RETURNS jsonb
 *		Runs a workflow function in a child context: its operations have
 *		positions of their own, and once it has finished the replay skips
 *		it as one checkpoint.  A child that fails raises WF006 here.
 */
Datum
durable_child(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_child");
	char	   *name = durable_text_arg(fcinfo, 0, "child name");
	char	   *workflow = durable_text_arg(fcinfo, 1, "child workflow");
	Jsonb	   *input = PG_ARGISNULL(2) ? durable_cstring_to_jsonb("{}") : PG_GETARG_JSONB_P(2);
	DurableOpKey key;
	DurableOp  *op;
	DurableContext saved;
	ChildCall	call;
	ErrorData  *edata;

	durable_check_name("child name", name);
	op = durable_op_lookup(d, &durable_kind_child, name, &key);
	if (op != NULL && op->status == DOS_SUCCEEDED)
	{
		if (op->result == NULL)
			PG_RETURN_NULL();
		PG_RETURN_JSONB_P(durable_op_result_copy(op));
	}
	if (op != NULL && op->status != DOS_STARTED)
	{
		d->raised_op = op;
		durable_raise_op_error(op->error);
	}

	call.fn = durable_resolve_workflow(workflow, true, NULL, NULL);
	if (d->ctx_depth >= DURABLE_MAX_CHILD_DEPTH)
		durable_op_fatal(d, ERRCODE_DURABLE_LIMIT_EXCEEDED,
			  psprintf("durable_child is nested more than %d levels deep", DURABLE_MAX_CHILD_DEPTH),
			  NULL, "Check the workflow for unbounded recursion.");
	if (op == NULL)
	{
		durable_op_check_limit(d);
		op = durable_op_create(d, &key, &durable_kind_child, name, DOS_STARTED);
	}

	saved = d->ctx;
	d->ctx.parent_op_id = op->op_id;
	d->ctx.next_position = 0;
	d->ctx_depth++;

	call.input = input;
	call.result = (Datum) 0;
	call.isnull = true;
	edata = durable_subxact(child_call, NULL, &call);
	/* a cancel (durable_stop, an administrator) ends the drive */
	if (edata != NULL && edata->sqlerrcode == ERRCODE_QUERY_CANCELED &&
		!d->yielded && d->fatal == NULL)
		ReThrowError(edata);

	d->ctx = saved;
	d->ctx_depth--;

	if (d->fatal != NULL)
		durable_raise_op_error(d->fatal);
	if (d->yielded)
		durable_yield(d);
	if (edata != NULL)
	{
		/* the child failed: checkpoint the failure, raise it here */
		durable_op_done(d, op, DOS_FAILED, NULL,
						durable_error_new(ERRCODE_DURABLE_CHILD_FAILED,
										  psprintf("child \"%s\" failed: %s", name, edata->message),
										  psprintf("The child workflow %s raised SQLSTATE %s%s%s",
												   workflow, unpack_sql_state(edata->sqlerrcode),
												   edata->detail ? ": " : ".",
												   edata->detail ? edata->detail : ""),
										  NULL));
		d->raised_op = op;
		durable_raise_op_error(op->error);
	}

	if (!call.isnull)
		durable_check_payload("child result", DatumGetJsonbP(call.result));
	durable_op_done(d, op, DOS_SUCCEEDED, call.isnull ? NULL : DatumGetJsonbP(call.result),
					NULL);
	if (call.isnull)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(durable_op_result_copy(op));
}
