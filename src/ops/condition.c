/*-------------------------------------------------------------------------
 *
 * condition.c
 *	  durable_wait_for_condition: a check run as a step until it says
 *	  done, with durable delays between checks.
 *
 * IDENTIFICATION
 *	  src/ops/condition.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/datum.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/* what perform_condition needs, in the replay's context */
typedef struct ConditionArgs
{
	char	   *sql;			/* the check */
	DurableRetryOptions strategy;	/* checks and delays between them */
	Jsonb	   *state;			/* $1 of the next check */
} ConditionArgs;

static DurableAdvance perform_condition(DurableDrive *d);

const DurableOpKindInfo durable_kind_condition = {
	.name = "condition",
	.counts_bytes = true,
	.history_attempt = true,
};

PG_FUNCTION_INFO_V1(durable_wait_for_condition);

/*
 * durable_wait_for_condition(name text, check_sql text, initial_state jsonb,
 *							  options jsonb) RETURNS jsonb
 *		Runs check_sql($1 = state, $2 = attempt) until it returns
 *		{"done": true, "state": ...}, with a durable delay between checks;
 *		returns the last state.
 */
Datum
durable_wait_for_condition(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_wait_for_condition");
	char	   *name = durable_text_arg(fcinfo, 0, "condition name");
	char	   *check = durable_text_arg(fcinfo, 1, "check SQL");
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	DurableOpKey key;
	DurableOp  *op;
	ConditionArgs *a;
	MemoryContext old;

	durable_check_name("condition name", name);
	op = durable_op_lookup(d, &durable_kind_condition, name, &key);
	if (op != NULL)
	{
		DURABLE_RETURN_OUTCOME(d, op);
		durable_op_sleep(d, op, &key);
	}
	else
	{
		durable_op_check_limit(d);
		if (PG_ARGISNULL(2))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("initial_state must not be null"),
					 errhint("Pass 'null'::jsonb for a JSON null.")));
		durable_check_payload("initial_state", PG_GETARG_JSONB_P(2));
	}

	/* the next check is due */
	old = durable_pending_begin(d, DPK_PERFORM, perform_condition, &durable_kind_condition,
								&key, op, name);
	a = palloc(sizeof(ConditionArgs));
	durable_parse_wait_strategy(options, &a->strategy);
	a->sql = pstrdup(check);
	a->state = op != NULL ? durable_op_result_copy(op) :
		(Jsonb *) datumCopy(PG_GETARG_DATUM(2), false, -1);
	d->pending.args = a;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/*
 * check_condition
 *		Runs one check of durable_wait_for_condition: done, another check
 *		after a durable delay, or not met after max_attempts checks.
 */
static TimestampTz
check_condition(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	ConditionArgs *a = p->args;
	DurableOp  *op = p->op;
	int			attempt = op != NULL ? op->attempt + 1 : 1;
	Oid			argtypes[2] = {JSONBOID, INT4OID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	ErrorData  *err = NULL;
	Jsonb	   *res;
	Jsonb	   *done_jb;
	JsonbValue	done;
	Jsonb	   *state = NULL;
	TimestampTz now = durable_clock_now();
	int64		limit = d->ex.deadline != DT_NOBEGIN ? Max(d->ex.deadline - now, 1) : 0;

	if (op == NULL)
		op = durable_op_create(d, &p->key, &durable_kind_condition, p->name, DOS_PENDING);
	else
		durable_op_mark_dirty(d, op);
	op->attempt = attempt;
	durable_count(DC_STEPS, 1);
	durable_wfstats_count(d->ex.workflow, DC_STEPS, 1);

	values[0] = a->state ? JsonbPGetDatum(a->state) : (Datum) 0;
	nulls[0] = a->state ? ' ' : 'n';
	values[1] = Int32GetDatum(attempt);
	d->in_step = true;
	PG_TRY();
	{
		res = durable_sql_run(a->sql, 2, argtypes, values, nulls, d->ex.owner,
							  d->ex.search_path, limit, &err);
	}
	PG_FINALLY();
	{
		d->in_step = false;
	}
	PG_END_TRY();

	if (err != NULL)
	{
		durable_op_done(d, op, DOS_FAILED, NULL,
				durable_error_new(ERRCODE_DURABLE_STEP_FAILED,
						   psprintf("check of condition \"%s\" failed: %s", p->name, err->message),
						   psprintf("Check %d raised SQLSTATE %s.", attempt,
									unpack_sql_state(err->sqlerrcode)),
						   NULL));
		return DT_NOBEGIN;
	}
	done_jb = durable_jsonb_get(res, "done");
	if (done_jb == NULL || !JsonbExtractScalar(&done_jb->root, &done) ||
		done.type != jbvBool)
	{
		durable_op_done(d, op, DOS_FAILED, NULL,
				durable_error_new(ERRCODE_DURABLE_STEP_FAILED,
						   psprintf("check of condition \"%s\" returned no boolean \"done\"", p->name),
						   pstrdup("A check returns a jsonb object {\"done\": true or false, \"state\": ...}."),
						   NULL));
		return DT_NOBEGIN;
	}
	state = durable_jsonb_get(res, "state");
	if (state != NULL)
		durable_check_payload("condition state", state);
	if (done.val.boolean)
	{
		durable_op_done(d, op, DOS_SUCCEEDED, state, NULL);
		return DT_NOBEGIN;
	}
	if (attempt >= a->strategy.max_attempts)
	{
		durable_op_done(d, op, DOS_FAILED, NULL,
				durable_error_new(ERRCODE_DURABLE_CONDITION_NOT_MET,
						   psprintf("condition \"%s\" was not met after %d checks", p->name, attempt),
						   pstrdup("Raise the \"max_attempts\" option of durable_wait_for_condition to wait longer."),
						   NULL));
		return DT_NOBEGIN;
	}
	durable_op_set_result(d, op, state);
	op->wake_at = durable_clock_now() + durable_retry_delay(&a->strategy, attempt);
	return op->wake_at;
}

static DurableAdvance
perform_condition(DurableDrive *d)
{
	return durable_drive_performed(d, check_condition(d), d->pending.name);
}
