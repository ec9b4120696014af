/*-------------------------------------------------------------------------
 *
 * children.c
 *	  Child executions: durable_invoke, durable_parallel and durable_map.
 *
 * Each branch (a map item or batch of items, a parallel branch, the one
 * child of an invoke) is a row of durable.children, written by the
 * parent's driver alone, and once started an execution of its own, with
 * parent_id set, that any worker can drive.  A child that finishes appends
 * a report to its parent's inbox (never touching the parent's rows, so
 * parent and child never lock each other); the parent's driver applies it
 * to the branch row and the operation's counters, starts the next branch
 * while fewer than max_concurrency run, and decides the outcome as soon as
 * the completion policy allows.  Branches still running then are stopped,
 * those never started are CANCELLED.
 *
 * The branch rows are inserted up front, but child executions are created
 * only as room frees: at most max_concurrency, and never more than
 * durable.max_children_in_progress (a superuser setting), are started and
 * not finished at once.  A workflow waits on one operation at a time, so
 * that bounds the unfinished children of the whole execution too.
 *
 * While it waits, the operation's result holds its counters:
 * {"total", "rows", "next", "running", "succeeded", "failed"} and the policy.
 *
 * When it ends, the result of a parallel or map holds, by its "results"
 * option, the array of every branch's or item's outcome ("array": WF009
 * when that cannot fit in durable.max_payload_size), only the counts
 * ("summary"), or the array when it fits and else the counts ("auto", the
 * default: never a failure for size once the work is done).  The outcomes
 * stay in durable.children either way; durable_results lists them.
 *
 * IDENTIFICATION
 *	  src/children.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "ops/ops.h"
#include "api/api.h"			/* XXX: upward, until the lifecycle */
#include "util/durable_errcodes.h"

typedef struct ChildState
{
	int			total;			/* items (or branches) */
	int			rows;			/* children: batches, or items */
	int			next;			/* the next row to start */
	int			running;
	int			succeeded;		/* items */
	int			failed;			/* items */
	DurablePolicy policy;
} ChildState;

static const char *
results_mode_name(DurableResultsMode mode)
{
	switch (mode)
	{
		case DRM_AUTO:
			return "auto";
		case DRM_ARRAY:
			return "array";
		case DRM_SUMMARY:
			return "summary";
	}
	return "auto";
}

static Jsonb *
state_to_jsonb(const ChildState *st)
{
	char	   *json;

	json = psprintf("{\"total\": %d, \"rows\": %d, \"next\": %d, \"running\": %d, "
					"\"succeeded\": %d, \"failed\": %d, \"max_concurrency\": %d, "
					"\"min_successful\": %d, \"tolerated_failures\": %d, "
					"\"tolerated_failure_percentage\": %s, \"batch_size\": %d, "
					"\"results\": \"%s\"}",
					st->total, st->rows, st->next, st->running, st->succeeded,
					st->failed, st->policy.max_concurrency, st->policy.min_successful,
					st->policy.tolerated_failures,
					float8out_internal(st->policy.tolerated_pct), st->policy.batch_size,
					results_mode_name(st->policy.results));
	return durable_cstring_to_jsonb(json);
}

static int
state_int(Jsonb *jb, const char *key)
{
	char	   *v = durable_jsonb_get_text(jb, key);

	if (v == NULL)
		elog(ERROR, "state of a child operation has no \"%s\"", key);
	return atoi(v);
}

static void
state_from_jsonb(Jsonb *jb, ChildState *st)
{
	char	   *pct = durable_jsonb_get_text(jb, "tolerated_failure_percentage");
	char	   *results = durable_jsonb_get_text(jb, "results");

	st->total = state_int(jb, "total");
	st->rows = state_int(jb, "rows");
	st->next = state_int(jb, "next");
	st->running = state_int(jb, "running");
	st->succeeded = state_int(jb, "succeeded");
	st->failed = state_int(jb, "failed");
	st->policy.max_concurrency = state_int(jb, "max_concurrency");
	st->policy.min_successful = state_int(jb, "min_successful");
	st->policy.tolerated_failures = state_int(jb, "tolerated_failures");
	st->policy.tolerated_pct = pct ? strtod(pct, NULL) : -1;
	st->policy.batch_size = state_int(jb, "batch_size");
	/* an operation that began waiting before the option existed: auto */
	st->policy.results = results == NULL ? DRM_AUTO :
		strcmp(results, "array") == 0 ? DRM_ARRAY :
		strcmp(results, "summary") == 0 ? DRM_SUMMARY : DRM_AUTO;
}

static void
save_state(DurableDrive *d, DurableOp *op, const ChildState *st)
{
	Jsonb	   *jb = state_to_jsonb(st);
	MemoryContext old = MemoryContextSwitchTo(d->cxt);

	op->result = (Jsonb *) datumCopy(JsonbPGetDatum(jb), false, -1);
	MemoryContextSwitchTo(old);
	/* counters of a waiting operation: no event of their own (but a new one's) */
	if (op->stored)
		op->quiet = true;
	durable_op_mark_dirty(d, op);
}

/*
 * start_next
 *		Starts branches in order while fewer than max_concurrency run.
 *		start_options (durable_invoke's) go to the children's start.
 */
static void
start_next(DurableDrive *d, DurableOp *op, ChildState *st, Jsonb *start_options)
{
	int			room = st->rows - st->next;
	List	   *rows;
	ListCell   *lc;
	Interval   *timeout;
	Interval   *retention;
	Jsonb	   *tags;
	char	   *last_workflow = NULL;
	char	   *hash = NULL;
	TimestampTz now = durable_clock_now();

	if (st->policy.max_concurrency > 0)
		room = Min(room, st->policy.max_concurrency - st->running);
	/* the superuser's cap: with or without max_concurrency, never more */
	if (durable_max_children_in_progress > 0)
		room = Min(room, durable_max_children_in_progress - st->running);
	if (room <= 0)
		return;
	durable_start_options(start_options, &timeout, &retention, &tags);
	rows = durable_storage_children_next(&d->ex.id, d->ex.run_no, op->op_id, st->next, room);
	foreach(lc, rows)
	{
		DurableChildRow *r = lfirst(lc);
		pg_uuid_t	child;
		DurableParentRef ref;

		if (last_workflow == NULL || strcmp(last_workflow, r->workflow) != 0)
		{
			/* a workflow dropped since the call: the child fails when driven */
			hash = durable_workflow_hash(r->workflow);
			last_workflow = r->workflow;
		}
		durable_uuid7(&child);
		ref.id = d->ex.id;
		ref.run_no = d->ex.run_no;
		ref.op_id = op->op_id;
		ref.index = r->idx;
		ref.depth = d->ex.depth + 1;
		durable_storage_insert_execution(&child, NULL, r->workflow, hash ? hash : "",
										 r->input, d->ex.owner, d->ex.search_path, tags,
										 timeout, retention, now, &ref);
		durable_storage_child_started(&d->ex.id, d->ex.run_no, op->op_id, r->idx,
									  &child, now);
		durable_count(DC_STARTED, 1);
		durable_wfstats_count(r->workflow, DC_STARTED, 1);
		st->next = r->idx + 1;
		st->running++;
	}
	if (rows != NIL)
		durable_wake_at_commit();
}

typedef enum Outcome
{
	OUTCOME_NONE,
	OUTCOME_ALL_COMPLETED,
	OUTCOME_MIN_SUCCESSFUL,
	OUTCOME_TOLERANCE_EXCEEDED
} Outcome;

/*
 * decide
 *		The outcome, as soon as the policy allows: too many failures (by
 *		default none is tolerated; with min_successful alone, as many as
 *		leave it reachable), min_successful reached, or all done.
 */
static Outcome
decide(const ChildState *st)
{
	const DurablePolicy *p = &st->policy;
	int			limit;

	if (p->tolerated_failures >= 0 || p->tolerated_pct >= 0)
	{
		limit = INT_MAX;
		if (p->tolerated_failures >= 0)
			limit = p->tolerated_failures;
		if (p->tolerated_pct >= 0)
			limit = Min(limit, (int) floor(p->tolerated_pct * st->total / 100.0));
	}
	else if (p->min_successful >= 0)
		limit = st->total - p->min_successful;
	else
		limit = 0;

	if (st->failed > limit)
		return OUTCOME_TOLERANCE_EXCEEDED;
	if (p->min_successful >= 0 && st->succeeded >= p->min_successful)
		return OUTCOME_MIN_SUCCESSFUL;
	if (st->succeeded + st->failed >= st->total)
		return (p->min_successful >= 0 && st->succeeded < p->min_successful) ?
			OUTCOME_TOLERANCE_EXCEEDED : OUTCOME_ALL_COMPLETED;
	return OUTCOME_NONE;
}

static void
append_jsonb(StringInfo buf, Jsonb *jb)
{
	if (jb == NULL)
		appendStringInfoString(buf, "null");
	else
		(void) JsonbToCString(buf, &jb->root, VARSIZE(jb));
}

/*
 * batch_element
 *		Element k of a batch's result array (checked when it was reported).
 */
static Jsonb *
batch_element(Jsonb *result, int k)
{
	JsonbValue *v;

	if (result == NULL || !JB_ROOT_IS_ARRAY(result) || JB_ROOT_IS_SCALAR(result))
		return NULL;
	v = getIthJsonbValueFromContainer(&result->root, k);
	return v ? JsonbValueToJsonb(v) : NULL;
}

/*
 * stop_running
 *		Stops the running children of an operation (of every operation of
 *		the execution when op_id is 0) and cancels those not started.
 */
static void
stop_running(const pg_uuid_t *parent, int32 run_no, int32 op_id, const char *why,
			 int *late_succeeded, int *late_failed)
{
	List	   *rows = durable_storage_children_running(parent, run_no, op_id);
	ListCell   *lc;
	TimestampTz now = durable_clock_now();
	const char *keys[2] = {"message", "sqlstate"};
	Jsonb	   *values[2];
	Jsonb	   *error;

	values[0] = durable_jsonb_string(why);
	values[1] = durable_jsonb_string("57014");
	error = durable_jsonb_build(2, keys, values);
	foreach(lc, rows)
	{
		DurableChildRow *r = lfirst(lc);

		char	   *status;
		Jsonb	   *result;
		Jsonb	   *child_error;

		if (durable_stop_execution(&r->child_id, error, true) ||
			!durable_storage_outcome(&r->child_id, &status, &result, &child_error))
			(void) durable_storage_child_done(parent, r->run_no, r->op_id, r->idx,
											  "STOPPED", NULL, error, now);
		else
		{
			/* it had finished, its report not read yet: record how */
			int			items = durable_storage_child_done(parent, r->run_no, r->op_id,
														   r->idx, status, result,
														   child_error, now);

			if (strcmp(status, "SUCCEEDED") == 0)
				*late_succeeded += items;
			else
				*late_failed += items;
		}
	}
	durable_storage_children_cancel(parent, run_no, op_id, now);
}

/*
 * durable_children_stop
 *		For an execution that ends (stopped, timed out, failed): stops all
 *		its running children.
 */
void
durable_children_stop(const pg_uuid_t *parent)
{
	int			late_succeeded = 0;
	int			late_failed = 0;

	stop_running(parent, 0, 0, "stopped: its parent execution ended",
				 &late_succeeded, &late_failed);
}

/*
 * first_failed
 *		The first branch (in index order) that failed or timed out, else the
 *		first that was stopped; NULL when none did.
 */
static DurableChildRow *
first_failed(List *rows)
{
	ListCell   *lc;
	DurableChildRow *stopped = NULL;

	foreach(lc, rows)
	{
		DurableChildRow *r = lfirst(lc);

		if (strcmp(r->status, "FAILED") == 0 || strcmp(r->status, "TIMED_OUT") == 0)
			return r;
		if (stopped == NULL && strcmp(r->status, "STOPPED") == 0)
			stopped = r;
	}
	return stopped;
}

/*
 * Floors of one entry of the "results" array of a parallel or map result
 * (see conclude), as jsonb: the entry's JEntry in the array (4), the
 * object's header and the JEntries of its 4 keys and 4 values (36), the
 * key bytes, and the shortest values: status "FAILED" (6), result and
 * error null (0), and for a map an index, a numeric of at least 6 bytes.
 * A parallel entry also has its branch's name.
 */
#define MAP_ENTRY_FLOOR			(4 + 36 + 22 + 6 + 6)	/* error index result status */
#define PARALLEL_ENTRY_FLOOR	(4 + 36 + 21 + 6)	/* error name result status */

/*
 * conclude
 *		Ends an operation whose outcome is decided: stops what still runs,
 *		and writes the result (invoke: the child's; parallel and map: the
 *		batch result) or the error raised in the workflow.
 */
static void
conclude(DurableDrive *d, DurableOp *op, ChildState *st, Outcome outcome)
{
	List	   *rows;
	ListCell   *lc;
	StringInfoData buf;
	bool		failed = outcome == OUTCOME_TOLERANCE_EXCEEDED;
	const char *kind = durable_op_kind_name(op->kind);
	Jsonb	   *result;
	ErrorData	err;
	MemoryContext old;

	/* a branch may have finished before it could be stopped: count it */
	stop_running(&d->ex.id, d->ex.run_no, op->op_id,
				 psprintf("stopped: the outcome of %s \"%s\" of its parent was decided",
						  kind, op->name),
				 &st->succeeded, &st->failed);
	memset(&err, 0, sizeof(err));
	err.sqlerrcode = ERRCODE_DURABLE_CHILD_FAILED;

	if (op->kind == DOK_INVOKE)
	{
		DurableChildRow *r;

		rows = durable_storage_children_results(&d->ex.id, d->ex.run_no, op->op_id);
		r = linitial(rows);

		result = r->result;
		if (failed)
		{
			char	   *msg = r->error ? durable_jsonb_get_text(r->error, "message") : NULL;

			err.message = psprintf("child \"%s\" %s%s%s", op->name,
								   strcmp(r->status, "TIMED_OUT") == 0 ? "timed out" :
								   strcmp(r->status, "STOPPED") == 0 ? "was stopped" : "failed",
								   msg ? ": " : "", msg ? msg : "");
			err.detail = psprintf("The child execution ended %s.", r->status);
			result = NULL;
		}
	}
	else
	{
		bool		first = true;
		bool		summary = st->policy.results == DRM_SUMMARY;
		char	   *head;

		head = psprintf("{\"status\": \"%s\", \"completion_reason\": \"%s\", "
						"\"total\": %d, \"succeeded\": %d, \"failed\": %d",
						failed ? "FAILED" : "SUCCEEDED",
						outcome == OUTCOME_ALL_COMPLETED ? "ALL_COMPLETED" :
						outcome == OUTCOME_MIN_SUCCESSFUL ? "MIN_SUCCESSFUL_REACHED" :
						"FAILURE_TOLERANCE_EXCEEDED",
						st->total, st->succeeded, st->failed);
		/* auto: a map whose array cannot fit is summed up without reading it */
		if (st->policy.results == DRM_AUTO && op->kind == DOK_MAP &&
			(int64) st->total * MAP_ENTRY_FLOOR > (int64) durable_max_payload_size)
			summary = true;
		result = NULL;
		if (!summary)
		{
			rows = durable_storage_children_results(&d->ex.id, d->ex.run_no, op->op_id);
			initStringInfo(&buf);
			appendStringInfo(&buf, "%s, \"results\": [", head);
			foreach(lc, rows)
			{
				DurableChildRow *r = lfirst(lc);
				int			k;
				bool		batched = op->kind == DOK_MAP && st->policy.batch_size > 0;
				bool		ok = strcmp(r->status, "SUCCEEDED") == 0;

				for (k = 0; k < r->items; k++)
				{
					if (!first)
						appendStringInfoString(&buf, ", ");
					first = false;
					appendStringInfoChar(&buf, '{');
					if (op->kind == DOK_MAP)
						appendStringInfo(&buf, "\"index\": %d",
										 batched ? r->idx * st->policy.batch_size + k : r->idx);
					else
					{
						appendStringInfoString(&buf, "\"name\": ");
						escape_json(&buf, r->name ? r->name : "");
					}
					appendStringInfo(&buf, ", \"status\": \"%s\", \"result\": ", r->status);
					append_jsonb(&buf, ok ? (batched ? batch_element(r->result, k) : r->result) : NULL);
					appendStringInfoString(&buf, ", \"error\": ");
					append_jsonb(&buf, r->error);
					appendStringInfoChar(&buf, '}');
				}
			}
			appendStringInfoString(&buf, "]}");
			result = durable_cstring_to_jsonb(buf.data);
			pfree(buf.data);
			list_free_deep(rows);
			if (VARSIZE(result) > (Size) durable_max_payload_size)
			{
				if (st->policy.results == DRM_ARRAY)
				{
					/* a result no checkpoint may hold: the operation fails with WF009 */
					err.sqlerrcode = ERRCODE_DURABLE_LIMIT_EXCEEDED;
					err.message = psprintf("result of %s \"%s\" is too large (%zu bytes; durable.max_payload_size is %d)",
										   kind, op->name, (Size) VARSIZE(result),
										   durable_max_payload_size);
					err.hint = pstrdup("Use the option \"results\": \"auto\" or \"summary\" and read the outcomes with durable_results, or have the children keep large results in tables and return keys.");
					failed = true;
				}
				else
					summary = true;
				result = NULL;
			}
		}
		if (summary)
			result = durable_cstring_to_jsonb(psprintf("%s}", head));
		if (failed && err.sqlerrcode == ERRCODE_DURABLE_CHILD_FAILED)
		{
			/* the rows again: a summary never read them, an array freed them */
			DurableChildRow *bad = first_failed(durable_storage_children_results(&d->ex.id,
																			  d->ex.run_no,
																			  op->op_id));
			char	   *which = NULL;
			char	   *msg = NULL;
			char	   *state = NULL;

			if (bad != NULL)
			{
				if (op->kind == DOK_PARALLEL)
					which = psprintf("branch \"%s\"", bad->name ? bad->name : "");
				else if (st->policy.batch_size > 0)
					which = psprintf("items %d to %d",
									 bad->idx * st->policy.batch_size,
									 bad->idx * st->policy.batch_size + bad->items - 1);
				else
					which = psprintf("item %d", bad->idx);
				if (bad->error != NULL)
				{
					msg = durable_jsonb_get_text(bad->error, "message");
					state = durable_jsonb_get_text(bad->error, "sqlstate");
				}
			}
			err.message = psprintf("%s \"%s\" failed: %d of %d %s failed%s%s%s%s",
								   kind, op->name, st->failed, st->total,
								   op->kind == DOK_MAP ? "items" : "branches",
								   which ? ", first " : "", which ? which : "",
								   msg ? ": " : "", msg ? msg : "");
			if (which != NULL)
				err.detail = psprintf("The child execution of %s ended %s%s%s. Its completion policy tolerates fewer failures; %s",
									  which, bad->status,
									  state ? " with SQLSTATE " : "", state ? state : "",
									  summary ? "durable_results lists each one." :
									  "the result of the operation (durable_operations) has each one.");
			else
				err.detail = pstrdup(summary ?
									 "Its completion policy tolerates fewer failures; durable_results lists each one." :
									 "Its completion policy tolerates fewer failures; the result of the operation (durable_operations) has each one.");
		}
	}

	old = MemoryContextSwitchTo(d->cxt);
	op->status = failed ? DOS_FAILED : DOS_SUCCEEDED;
	op->result = result ? (Jsonb *) datumCopy(JsonbPGetDatum(result), false, -1) : NULL;
	op->error = failed ? durable_error_to_jsonb(&err, NULL) : NULL;
	op->finished_at = durable_clock_now();
	MemoryContextSwitchTo(old);
	if (!failed && result != NULL)
		d->ckpt_bytes += VARSIZE(result);
	durable_op_mark_dirty(d, op);
}

/*
 * durable_children_check_size
 *		At the call of durable_parallel or durable_map with "results":
 *		"array": refuses (WF009) an operation whose result could never fit
 *		in durable.max_payload_size, whatever its children return, before
 *		anything is recorded or started.  name_bytes: the bytes of all
 *		branch names (parallel).  ("auto" and "summary" never fail for size.)
 */
void
durable_children_check_size(DurableOpKind kind, const char *name, int items,
							int64 name_bytes)
{
	int64		floor_bytes;
	int64		per_item = kind == DOK_MAP ? MAP_ENTRY_FLOOR : PARALLEL_ENTRY_FLOOR;

	floor_bytes = (int64) items * per_item + name_bytes;
	if (floor_bytes <= (int64) durable_max_payload_size)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
			 errmsg("result of %s \"%s\" cannot fit in durable.max_payload_size",
					durable_op_kind_name(kind), name),
			 errdetail("%d %s take at least %lld bytes in the result (%lld per %s), and durable.max_payload_size is %d bytes; no child was started.",
					   items, kind == DOK_MAP ? "items" : "branches",
					   (long long) floor_bytes, (long long) per_item,
					   kind == DOK_MAP ? "item" : "branch plus its name",
					   durable_max_payload_size),
			 errhint("Without \"results\": \"array\", the result holds only the counts when the array cannot fit, and durable_results lists the outcomes; or split the work over several smaller operations (batch_size does not help: the array keeps one entry per item).")));
}

/*
 * durable_perform_children
 *		Records the branches of a new invoke, parallel or map operation,
 *		starts as many as max_concurrency allows, and waits (DT_NOEND), or
 *		returns DT_NOBEGIN when the outcome is known at once (no branch).
 */
TimestampTz
durable_perform_children(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	DurableOp  *op = durable_op_create(d, &p->key, p->op_kind, p->name, DOS_PENDING);
	ChildState	st;
	Outcome		outcome;

	memset(&st, 0, sizeof(st));
	st.policy = p->policy;
	if (p->op_kind == DOK_MAP)
	{
		DurableBranch *b = linitial(p->branches);

		st.total = JB_ROOT_COUNT(p->items);
		st.rows = st.total == 0 ? 0 :
			durable_storage_children_insert_map(&d->ex.id, d->ex.run_no, op->op_id,
												b->workflow, p->items,
												st.policy.batch_size, d->ex.owner);
	}
	else
	{
		ListCell   *lc;

		foreach(lc, p->branches)
		{
			DurableBranch *b = lfirst(lc);

			durable_storage_child_insert(&d->ex.id, d->ex.run_no, op->op_id, st.rows, b->name,
										 b->workflow, b->input, d->ex.owner);
			st.rows++;
		}
		st.total = st.rows;
	}
	/* no branch, or min_successful 0: decided before anything starts */
	outcome = decide(&st);
	if (outcome != OUTCOME_NONE)
	{
		conclude(d, op, &st, outcome);
		return DT_NOBEGIN;
	}
	start_next(d, op, &st, p->start_options);
	save_state(d, op, &st);
	return DT_NOEND;
}

static DurableOp *
op_by_id(DurableDrive *d, int32 op_id)
{
	HASH_SEQ_STATUS status;
	DurableOp  *op;

	hash_seq_init(&status, d->ops);
	while ((op = hash_seq_search(&status)) != NULL)
	{
		if (op->op_id == op_id)
		{
			hash_seq_term(&status);
			return op;
		}
	}
	return NULL;
}

static int
payload_int(Jsonb *payload, const char *key)
{
	char	   *v = durable_jsonb_get_text(payload, key);

	return v ? atoi(v) : -1;
}

/*
 * durable_children_report
 *		Applies a child's report: records how the branch ended, then
 *		decides the outcome or starts the next branch.  Returns whether the
 *		operation has finished.  A report for an operation that no longer
 *		waits (decided, another run) is dropped.
 */
bool
durable_children_report(DurableDrive *d, Jsonb *payload)
{
	int			run_no = payload_int(payload, "run_no");
	int			op_id = payload_int(payload, "op_id");
	int			idx = payload_int(payload, "idx");
	char	   *status = durable_jsonb_get_text(payload, "status");
	Jsonb	   *result = durable_jsonb_get(payload, "result");
	Jsonb	   *error = durable_jsonb_get(payload, "error");
	DurableOp  *op;
	ChildState	st;
	int			items;
	Outcome		outcome;

	if (run_no != d->ex.run_no || status == NULL)
		return false;
	op = op_by_id(d, op_id);
	if (op == NULL || op->status != DOS_PENDING ||
		(op->kind != DOK_INVOKE && op->kind != DOK_PARALLEL && op->kind != DOK_MAP))
		return false;
	state_from_jsonb(op->result, &st);

	/* a batch returns one result per item */
	if (op->kind == DOK_MAP && st.policy.batch_size > 0 && strcmp(status, "SUCCEEDED") == 0)
	{
		int			expected = Min(st.policy.batch_size, st.total - idx * st.policy.batch_size);

		if (result == NULL || JB_ROOT_IS_SCALAR(result) || !JB_ROOT_IS_ARRAY(result) ||
			(int) JB_ROOT_COUNT(result) != expected)
		{
			status = "FAILED";
			error = durable_cstring_to_jsonb(psprintf("{\"message\": \"a batch must return a jsonb array of %d results\", \"sqlstate\": \"22023\"}",
													  expected));
		}
	}

	items = durable_storage_child_done(&d->ex.id, run_no, op_id, idx, status, result, error,
									   durable_clock_now());
	if (items == 0)
		return false;
	st.running--;
	if (strcmp(status, "SUCCEEDED") == 0)
		st.succeeded += items;
	else
		st.failed += items;

	outcome = decide(&st);
	if (outcome != OUTCOME_NONE)
	{
		conclude(d, op, &st, outcome);
		return true;
	}
	start_next(d, op, &st, NULL);
	save_state(d, op, &st);
	return false;
}

/*
 * durable_report_to_parent
 *		A child execution ended: its report goes to the parent's inbox.
 */
void
durable_report_to_parent(const DurableExecution *ex, const char *status, Jsonb *result,
						 Jsonb *error)
{
	const char *keys[6] = {"run_no", "op_id", "idx", "status", "result", "error"};
	Jsonb	   *values[6];

	values[0] = durable_jsonb_int(ex->parent_run_no);
	values[1] = durable_jsonb_int(ex->parent_op_id);
	values[2] = durable_jsonb_int(ex->parent_index);
	values[3] = durable_jsonb_string(status);
	values[4] = result;
	values[5] = error;
	durable_storage_inbox_add(&ex->parent_id, "child", durable_jsonb_build(6, keys, values),
							  ex->owner, durable_clock_now());
	durable_wake_at_commit();
}
