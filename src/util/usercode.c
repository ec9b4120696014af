/*-------------------------------------------------------------------------
 *
 * usercode.c
 *	  Running user code safely: entering and leaving the owner's role,
 *	  search_path and security-restricted mode with every setting change
 *	  undone; running a step's SQL with a cached plan in a subtransaction of
 *	  its own, under a private timeout (which, in a worker, ends the process
 *	  when the code ignores its cancel); converting its first value to
 *	  jsonb.  Nothing here knows about executions or tables.
 *
 * IDENTIFICATION
 *	  src/util/usercode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/latch.h"
#include "tcop/cmdtag.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/plancache.h"
#include "utils/resowner.h"
#include "utils/timeout.h"

#include "util/util.h"
#include "util/durable_errcodes.h"

/* step plans kept per backend; the cache is emptied when it gets this big */
#define STEP_PLAN_CACHE_SIZE 1024

typedef struct StepPlan
{
	uint64		key;			/* hash of search_path and SQL */
	char	   *text;			/* search_path, NUL, SQL: checked on hit */
	Size		textlen;
	SPIPlanPtr	plan;
	long		tcount;			/* 1 when every statement is a SELECT */
} StepPlan;

static HTAB *step_plans = NULL;
static MemoryContext step_plan_cxt = NULL;

static TimeoutId durable_timeout_id = MAX_TIMEOUTS;
static volatile sig_atomic_t durable_timeout_fired = false;

/* the second timer: code still running a grace period after its cancel */
static TimeoutId durable_grace_id = MAX_TIMEOUTS;
static bool durable_exit_on_ignore = false;
static volatile sig_atomic_t durable_grace_fired = false;

/*
 * durable_owner_enter
 *		Runs what follows as the execution's owner, with its search_path, in
 *		security-restricted mode, and (for replays) read-only.  Every setting
 *		changed from here on is undone by durable_owner_exit, and by
 *		subtransaction abort.
 */
void
durable_owner_enter(DurableOwnerState *st, Oid owner, const char *search_path,
					bool read_only)
{
	GetUserIdAndSecContext(&st->save_userid, &st->save_sec_context);
	st->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", search_path, PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (read_only)
		(void) set_config_option("transaction_read_only", "on", PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	SetUserIdAndSecContext(owner, st->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
}

void
durable_owner_exit(DurableOwnerState *st)
{
	SetUserIdAndSecContext(st->save_userid, st->save_sec_context);
	AtEOXact_GUC(false, st->save_nestlevel);
}

/*
 * The private timeout of step attempts and replays.  statement_timeout is
 * not armed in background workers and belongs to the caller's statement in
 * a backend, so steps get their own timer, which cancels like it.
 *
 * PL/pgSQL code can catch a cancel (EXCEPTION WHEN query_canceled, in a
 * loop) and run on.  In a worker (durable_timeout_exit_on_ignore) a second
 * timer fires DURABLE_CANCEL_GRACE_MS after the first, and when the code
 * still runs then, it ends the worker as SIGTERM does (a FATAL error at
 * the next interrupt check, which no exception handler catches).  The
 * worker's exit callback sees durable_timeout_exited() and leaves the
 * outcome for the next drive; no crash is charged for such an exit.
 */
static void
durable_timeout_handler(void)
{
	durable_timeout_fired = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

static void
durable_grace_handler(void)
{
	durable_grace_fired = true;
	ProcDiePending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}

/*
 * durable_timeout_exit_on_ignore
 *		Whether code that ignores the cancel of its timeout ends this
 *		process after the grace period: set by workers, not by client
 *		sessions.
 */
void
durable_timeout_exit_on_ignore(bool on)
{
	durable_exit_on_ignore = on;
}

/*
 * durable_timeout_exited
 *		Whether this process is exiting because the code a timer guarded
 *		ignored its cancel.
 */
bool
durable_timeout_exited(void)
{
	return durable_grace_fired;
}

void
durable_timeout_arm(int64 timeout_us)
{
	int			ms = (int) Min((timeout_us + 999) / 1000, (int64) INT_MAX);

	if (durable_timeout_id == MAX_TIMEOUTS)
		durable_timeout_id = RegisterTimeout(USER_TIMEOUT, durable_timeout_handler);
	durable_timeout_fired = false;
	enable_timeout_after(durable_timeout_id, ms);
	if (durable_exit_on_ignore)
	{
		if (durable_grace_id == MAX_TIMEOUTS)
			durable_grace_id = RegisterTimeout(USER_TIMEOUT, durable_grace_handler);
		enable_timeout_after(durable_grace_id,
							 (int) Min((int64) ms + DURABLE_CANCEL_GRACE_MS, (int64) INT_MAX));
	}
}

/*
 * durable_timeout_disarm
 *		Stops the timer; true when it fired.  A cancel it raised that nothing
 *		has seen yet is withdrawn, so it cannot hit the next statement.
 */
bool
durable_timeout_disarm(void)
{
	bool		fired;

	if (durable_timeout_id == MAX_TIMEOUTS)
		return false;
	/* a grace timer that fired has ended the process: that stands */
	if (durable_grace_id != MAX_TIMEOUTS)
		disable_timeout(durable_grace_id, false);
	disable_timeout(durable_timeout_id, false);
	fired = durable_timeout_fired;
	if (fired)
		QueryCancelPending = false;
	durable_timeout_fired = false;
	return fired;
}

/*
 * durable_timeout_finish
 *		For the end of the code the timer guards: stops it and, when it fired
 *		but the code caught the cancel and carried on, raises the cancel
 *		again, so that the caller's durable_timeout_disarm in its error path
 *		reports the timeout.  Code that catches query_canceled in a loop
 *		runs on in a client session, as with statement_timeout
 *		(pg_terminate_backend ends it); a worker ends itself.
 */
void
durable_timeout_finish(void)
{
	if (durable_timeout_disarm())
	{
		durable_timeout_fired = true;
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("canceling statement due to a durable timeout")));
	}
}

/*
 * durable_step_timeout_error
 *		The error of a step attempt that outlived its timeout.
 */
ErrorData *
durable_step_timeout_error(int64 timeout_us)
{
	ErrorData  *edata = palloc0(sizeof(ErrorData));

	edata->elevel = ERROR;
	edata->sqlerrcode = ERRCODE_DURABLE_STEP_TIMEOUT;
	edata->message = psprintf("step attempt timed out after " INT64_FORMAT " ms",
							  timeout_us / 1000);
	edata->hint = pstrdup("Raise the step's \"timeout\" option if it needs longer.");
	return edata;
}

/*
 * durable_datum_to_jsonb
 *		A value of any type as jsonb: jsonb as is, json parsed, anything else
 *		through to_jsonb().
 */
static Jsonb *
durable_datum_to_jsonb(Datum value, Oid typid)
{
	FmgrInfo	flinfo;
	FuncExpr   *fexpr;

	if (typid == JSONBOID)
		return DatumGetJsonbPCopy(value);
	if (typid == JSONOID)
		return DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
												  CStringGetDatum(TextDatumGetCString(value))));

	/* to_jsonb(anyelement) reads its argument type from the call expression */
	fmgr_info(F_TO_JSONB, &flinfo);
	fexpr = makeFuncExpr(F_TO_JSONB, JSONBOID,
						 list_make1(makeNullConst(typid, -1, InvalidOid)),
						 InvalidOid, InvalidOid, COERCE_EXPLICIT_CALL);
	flinfo.fn_expr = (Node *) fexpr;
	return DatumGetJsonbP(FunctionCall1(&flinfo, value));
}

/*
 * step_plan
 *		The cached plan of a step's SQL with parameters of the given types
 *		($1 jsonb for steps), prepared under the current search_path (plans
 *		are keyed by it).
 */
static StepPlan *
step_plan(const char *sql, const char *search_path, int nargs, const Oid *argtypes)
{
	Size		splen = strlen(search_path);
	Size		sqllen = strlen(sql);
	Size		typlen = nargs * sizeof(Oid);
	Size		textlen = typlen + splen + 1 + sqllen;
	char	   *text = palloc(textlen);
	uint64		key;
	StepPlan   *entry;
	bool		found;
	SPIPlanPtr	plan;
	List	   *sources;
	ListCell   *lc;
	long		tcount = 1;

	/* the key: parameter types, search_path and SQL */
	memcpy(text, argtypes, typlen);
	memcpy(text + typlen, search_path, splen + 1);
	memcpy(text + typlen + splen + 1, sql, sqllen);
	key = hash_bytes_extended((const unsigned char *) text, textlen, 0);

	if (step_plans == NULL)
	{
		HASHCTL		ctl;

		step_plan_cxt = AllocSetContextCreate(TopMemoryContext, "durable step plans",
											  ALLOCSET_DEFAULT_SIZES);
		memset(&ctl, 0, sizeof(ctl));
		ctl.keysize = sizeof(uint64);
		ctl.entrysize = sizeof(StepPlan);
		ctl.hcxt = step_plan_cxt;
		step_plans = hash_create("durable step plans", 64, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	entry = (StepPlan *) hash_search(step_plans, &key, HASH_FIND, NULL);
	if (entry != NULL && entry->textlen == textlen &&
		memcmp(entry->text, text, textlen) == 0)
		return entry;

	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);
	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	sources = SPI_plan_get_plan_sources(plan);
	foreach(lc, sources)
	{
		CachedPlanSource *ps = lfirst(lc);

		/* LIMIT 1 only where it cannot cut a data change short */
		if (ps->commandTag != CMDTAG_SELECT)
			tcount = 0;
	}
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");

	if (hash_get_num_entries(step_plans) >= STEP_PLAN_CACHE_SIZE)
	{
		HASH_SEQ_STATUS status;
		StepPlan   *old;

		hash_seq_init(&status, step_plans);
		while ((old = hash_seq_search(&status)) != NULL)
		{
			SPI_freeplan(old->plan);
			pfree(old->text);
			hash_search(step_plans, &old->key, HASH_REMOVE, NULL);
		}
	}

	entry = (StepPlan *) hash_search(step_plans, &key, HASH_ENTER, &found);
	if (found)
	{
		SPI_freeplan(entry->plan);
		pfree(entry->text);
	}
	entry->text = MemoryContextAlloc(step_plan_cxt, textlen);
	memcpy(entry->text, text, textlen);
	entry->textlen = textlen;
	entry->plan = plan;
	entry->tcount = tcount;
	return entry;
}

/*
 * durable_step_run
 *		Runs sql with $1 = arg as owner, in a subtransaction, and returns the
 *		first column of the first row as jsonb (NULL when there is none).
 *		An error becomes *error and the subtransaction is rolled back; a
 *		cancel that is not the step's own timeout is raised again.
 */
Jsonb *
durable_step_run(const char *sql, Jsonb *arg, Oid owner, const char *search_path,
				 int64 timeout_us, ErrorData **error)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		values[1];
	char		nulls[1];

	values[0] = arg != NULL ? JsonbPGetDatum(arg) : (Datum) 0;
	nulls[0] = arg != NULL ? ' ' : 'n';
	return durable_sql_run(sql, 1, argtypes, values, nulls, owner, search_path,
						   timeout_us, error);
}

/*
 * durable_sql_run
 *		durable_step_run with parameters of other types: the submitter of a
 *		callback ($1 text, $2 jsonb), the check of a condition ($1 jsonb,
 *		$2 integer).
 */
typedef struct SqlRun
{
	const char *sql;
	int			nargs;
	const Oid  *argtypes;
	Datum	   *values;
	const char *nulls;
	Oid			owner;
	const char *search_path;
	int64		timeout_us;
	MemoryContext cxt;			/* where the result goes */
	Jsonb	   *result;
	bool		fired;			/* the timeout fired */
} SqlRun;

static bool
sql_run_fn(void *arg)
{
	SqlRun	   *r = arg;
	DurableOwnerState st;
	StepPlan   *sp;
	int			rc;

	durable_owner_enter(&st, r->owner, r->search_path, false);
	if (r->timeout_us > 0)
		durable_timeout_arm(r->timeout_us);
	sp = step_plan(r->sql, r->search_path, r->nargs, r->argtypes);
	rc = SPI_execute_plan(sp->plan, r->values, r->nulls, false, sp->tcount);
	if (rc < 0)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if (SPI_tuptable != NULL && SPI_processed > 0)
	{
		bool		isnull;
		Datum		v = SPI_getbinval(SPI_tuptable->vals[0],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			MemoryContext c = MemoryContextSwitchTo(r->cxt);

			r->result = durable_datum_to_jsonb(v, SPI_gettypeid(SPI_tuptable->tupdesc, 1));
			MemoryContextSwitchTo(c);
		}
	}
	SPI_freetuptable(SPI_tuptable);
	if (r->timeout_us > 0)
		durable_timeout_finish();
	durable_owner_exit(&st);
	return true;
}

static void
sql_run_error(void *arg)
{
	SqlRun	   *r = arg;

	if (r->timeout_us > 0)
		r->fired = durable_timeout_disarm();
}

Jsonb *
durable_sql_run(const char *sql, int nargs, const Oid *argtypes, Datum *values,
				const char *nulls, Oid owner, const char *search_path,
				int64 timeout_us, ErrorData **error)
{
	SqlRun		r;
	ErrorData  *edata;

	*error = NULL;
	/* durable.max_starts_per_step counts per attempt */
	if (durable_current != NULL)
		durable_current->step_starts = 0;
	r.sql = sql;
	r.nargs = nargs;
	r.argtypes = argtypes;
	r.values = values;
	r.nulls = nulls;
	r.owner = owner;
	r.search_path = search_path;
	r.timeout_us = timeout_us;
	r.cxt = CurrentMemoryContext;
	r.result = NULL;
	r.fired = false;
	edata = durable_subxact(sql_run_fn, sql_run_error, &r);
	if (edata == NULL)
		return r.result;
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
	{
		if (!r.fired)
			ReThrowError(edata);
		edata->sqlerrcode = ERRCODE_DURABLE_STEP_TIMEOUT;
		edata->message = psprintf("step attempt timed out after " INT64_FORMAT " ms",
								  timeout_us / 1000);
		edata->detail = NULL;
		edata->hint = pstrdup("Raise the step's \"timeout\" option if it needs longer.");
	}
	*error = edata;
	return NULL;
}
