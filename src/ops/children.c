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
 *	  src/ops/children.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "lib/stringinfo.h"
#include "utils/datum.h"
#include "utils/float.h"
#include "utils/json.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/* what perform_children needs, in the replay's context */
typedef struct ChildrenArgs
{
	List	   *branches;		/* DurableBranch *, in order; map: the one */
	Jsonb	   *items;			/* map: the items */
	DurablePolicy policy;
	Jsonb	   *start_options;	/* invoke: the child's start options */
} ChildrenArgs;

static DurableAdvance perform_children(DurableDrive *d);
static bool apply_message(DurableDrive *d, DurableMessage *m);

const DurableOpKindInfo durable_kind_invoke = {.name = "invoke", .counts_bytes = true};
const DurableOpKindInfo durable_kind_parallel = {.name = "parallel", .counts_bytes = true};
const DurableOpKindInfo durable_kind_map = {.name = "map", .counts_bytes = true};
const DurableMessageKind durable_message_child = {
	.name = "child",
	.apply = apply_message,
};

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
	durable_op_set_result(d, op, jb);
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
	DurableStart s;
	DurableParentRef ref;

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

		if (last_workflow == NULL || strcmp(last_workflow, r->workflow) != 0)
		{
			/* a workflow dropped since the call: the child fails when driven */
			hash = durable_workflow_hash(r->workflow);
			last_workflow = r->workflow;
		}
		durable_uuid7(&s.id);
		ref.id = d->ex.id;
		ref.run_no = d->ex.run_no;
		ref.op_id = op->op_id;
		ref.index = r->idx;
		ref.depth = d->ex.depth + 1;
		s.name = NULL;
		s.workflow = r->workflow;
		s.hash = hash ? hash : "";
		s.input = r->input;
		s.owner = d->ex.owner;
		s.search_path = d->ex.search_path;
		s.tags = tags;
		s.timeout = timeout;
		s.retention = retention;
		s.parent = &ref;
		s.depth = ref.depth;
		durable_lifecycle_start(&s, now);
		durable_storage_child_started(&d->ex.id, d->ex.run_no, op->op_id, r->idx,
									  &s.id, now);
		st->next = r->idx + 1;
		st->running++;
	}
	/* the children wake a worker once, at commit */
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
	ErrorData  *err = durable_error_new(ERRCODE_DURABLE_CHILD_FAILED, NULL, NULL, NULL);

	/* a branch may have finished before it could be stopped: count it */
	durable_lifecycle_stop_children(&d->ex.id, d->ex.run_no, op->op_id,
									psprintf("stopped: the outcome of %s \"%s\" of its parent was decided",
											 kind, op->name),
									&st->succeeded, &st->failed);

	if (op->kind == &durable_kind_invoke)
	{
		DurableChildRow *r;

		rows = durable_storage_children_results(&d->ex.id, d->ex.run_no, op->op_id);
		r = linitial(rows);

		result = r->result;
		if (failed)
		{
			char	   *msg = r->error ? durable_jsonb_get_text(r->error, "message") : NULL;

			err->message = psprintf("child \"%s\" %s%s%s", op->name,
								   strcmp(r->status, "TIMED_OUT") == 0 ? "timed out" :
								   strcmp(r->status, "STOPPED") == 0 ? "was stopped" : "failed",
								   msg ? ": " : "", msg ? msg : "");
			err->detail = psprintf("The child execution ended %s.", r->status);
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
		if (st->policy.results == DRM_AUTO && op->kind == &durable_kind_map &&
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
				bool		batched = op->kind == &durable_kind_map && st->policy.batch_size > 0;
				bool		ok = strcmp(r->status, "SUCCEEDED") == 0;

				for (k = 0; k < r->items; k++)
				{
					if (!first)
						appendStringInfoString(&buf, ", ");
					first = false;
					appendStringInfoChar(&buf, '{');
					if (op->kind == &durable_kind_map)
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
					err->sqlerrcode = ERRCODE_DURABLE_LIMIT_EXCEEDED;
					err->message = psprintf("result of %s \"%s\" is too large (%zu bytes; durable.max_payload_size is %d)",
										   kind, op->name, (Size) VARSIZE(result),
										   durable_max_payload_size);
					err->hint = pstrdup("Use the option \"results\": \"auto\" or \"summary\" and read the outcomes with durable_results, or have the children keep large results in tables and return keys.");
					failed = true;
				}
				else
					summary = true;
				result = NULL;
			}
		}
		if (summary)
			result = durable_cstring_to_jsonb(psprintf("%s}", head));
		if (failed && err->sqlerrcode == ERRCODE_DURABLE_CHILD_FAILED)
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
				if (op->kind == &durable_kind_parallel)
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
			err->message = psprintf("%s \"%s\" failed: %d of %d %s failed%s%s%s%s",
								   kind, op->name, st->failed, st->total,
								   op->kind == &durable_kind_map ? "items" : "branches",
								   which ? ", first " : "", which ? which : "",
								   msg ? ": " : "", msg ? msg : "");
			if (which != NULL)
				err->detail = psprintf("The child execution of %s ended %s%s%s. Its completion policy tolerates fewer failures; %s",
									  which, bad->status,
									  state ? " with SQLSTATE " : "", state ? state : "",
									  summary ? "durable_results lists each one." :
									  "the result of the operation (durable_operations) has each one.");
			else
				err->detail = pstrdup(summary ?
									 "Its completion policy tolerates fewer failures; durable_results lists each one." :
									 "Its completion policy tolerates fewer failures; the result of the operation (durable_operations) has each one.");
		}
	}

	durable_op_done(d, op, failed ? DOS_FAILED : DOS_SUCCEEDED, result, failed ? err : NULL);
}

/*
 * check_size
 *		At the call of durable_parallel or durable_map with "results":
 *		"array": refuses (WF009) an operation whose result could never fit
 *		in durable.max_payload_size, whatever its children return, before
 *		anything is recorded or started.  name_bytes: the bytes of all
 *		branch names (parallel).  ("auto" and "summary" never fail for size.)
 */
static void
check_size(DurableOpKind kind, const char *name, int items,
							int64 name_bytes)
{
	int64		floor_bytes;
	int64		per_item = kind == &durable_kind_map ? MAP_ENTRY_FLOOR : PARALLEL_ENTRY_FLOOR;

	floor_bytes = (int64) items * per_item + name_bytes;
	if (floor_bytes <= (int64) durable_max_payload_size)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
			 errmsg("result of %s \"%s\" cannot fit in durable.max_payload_size",
					durable_op_kind_name(kind), name),
			 errdetail("%d %s take at least %lld bytes in the result (%lld per %s), and durable.max_payload_size is %d bytes; no child was started.",
					   items, kind == &durable_kind_map ? "items" : "branches",
					   (long long) floor_bytes, (long long) per_item,
					   kind == &durable_kind_map ? "item" : "branch plus its name",
					   durable_max_payload_size),
			 errhint("Without \"results\": \"array\", the result holds only the counts when the array cannot fit, and durable_results lists the outcomes; or split the work over several smaller operations (batch_size does not help: the array keeps one entry per item).")));
}

/*
 * start_children
 *		Records the branches of a new invoke, parallel or map operation,
 *		starts as many as max_concurrency allows, and waits (DT_NOEND), or
 *		returns DT_NOBEGIN when the outcome is known at once (no branch).
 */
static TimestampTz
start_children(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	ChildrenArgs *a = p->args;
	DurableOp  *op = durable_op_create(d, &p->key, p->op_kind, p->name, DOS_PENDING);
	ChildState	st;
	Outcome		outcome;

	memset(&st, 0, sizeof(st));
	st.policy = a->policy;
	if (p->op_kind == &durable_kind_map)
	{
		DurableBranch *b = linitial(a->branches);

		st.total = JB_ROOT_COUNT(a->items);
		st.rows = st.total == 0 ? 0 :
			durable_storage_children_insert_map(&d->ex.id, d->ex.run_no, op->op_id,
												b->workflow, a->items,
												st.policy.batch_size, d->ex.owner);
	}
	else
	{
		ListCell   *lc;

		foreach(lc, a->branches)
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
	start_next(d, op, &st, a->start_options);
	save_state(d, op, &st);
	return DT_NOEND;
}

static DurableAdvance
perform_children(DurableDrive *d)
{
	return durable_drive_performed(d, start_children(d), d->pending.name);
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
 * apply_message
 *		Applies a child's report: records how the branch ended, then
 *		decides the outcome or starts the next branch.  Returns whether the
 *		operation has finished.  A report for an operation that no longer
 *		waits (decided, another run) is dropped.
 */
static bool
apply_message(DurableDrive *d, DurableMessage *m)
{
	Jsonb	   *payload = m->payload;
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
		(op->kind != &durable_kind_invoke && op->kind != &durable_kind_parallel && op->kind != &durable_kind_map))
		return false;
	state_from_jsonb(op->result, &st);

	/* a batch returns one result per item */
	if (op->kind == &durable_kind_map && st.policy.batch_size > 0 && strcmp(status, "SUCCEEDED") == 0)
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

/* ----------------------------------------------------------------
 * the operations, as a replay meets them
 * ----------------------------------------------------------------
 */

/*
 * children_wait
 *		The common part of durable_invoke, durable_parallel and durable_map:
 *		the outcome of an operation that has one, the wait for its children
 *		while it has none.  Returns NULL for a new operation.
 */
static DurableOp *
children_wait(DurableDrive *d, DurableOpKind kind, const char *name, DurableOpKey *key,
			  Jsonb **result, bool *done)
{
	DurableOp  *op = durable_op_lookup(d, kind, name, key);

	*done = false;
	if (op == NULL)
	{
		durable_op_check_limit(d);
		if (d->ex.depth + 1 > DURABLE_MAX_CHILD_DEPTH)
			ereport(ERROR,
					(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
					 errmsg("child executions are nested more than %d levels deep",
							DURABLE_MAX_CHILD_DEPTH),
					 errhint("Check the workflow for unbounded recursion of durable_invoke.")));
		return NULL;
	}
	if (durable_op_outcome(d, op, result))
	{
		*done = true;
		return op;
	}
	durable_op_await(d, op, key, NULL);
	elog(ERROR, "child operation \"%s\" has a deadline", name);
	return op;					/* not reached */
}

/* the pending operation of a new invoke, parallel or map */
static MemoryContext
children_pending(DurableDrive *d, DurableOpKind kind, const DurableOpKey *key,
				 const char *name, ChildrenArgs **a)
{
	MemoryContext old = durable_pending_begin(d, DPK_PERFORM, perform_children, kind, key,
											  NULL, name);

	*a = palloc0(sizeof(ChildrenArgs));
	d->pending.args = *a;
	return old;
}

static DurableBranch *
make_branch(const char *name, const char *workflow, Jsonb *input)
{
	DurableBranch *b = palloc0(sizeof(DurableBranch));

	b->name = name ? pstrdup(name) : NULL;
	b->workflow = pstrdup(workflow);
	b->input = input ? (Jsonb *) datumCopy(JsonbPGetDatum(input), false, -1) : NULL;
	return b;
}

#define RETURN_CHILDREN_OUTCOME(res) \
	do { \
		if ((res) == NULL) \
			PG_RETURN_NULL(); \
		PG_RETURN_JSONB_P(res); \
	} while (0)

PG_FUNCTION_INFO_V1(durable_invoke);

/*
 * durable_invoke(name text, workflow text, input jsonb, options jsonb) RETURNS jsonb
 *		A child execution of its own; its result, or WF006 when it did not
 *		succeed.
 */
Datum
durable_invoke(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_invoke");
	char	   *name = durable_text_arg(fcinfo, 0, "invoke name");
	char	   *workflow = durable_text_arg(fcinfo, 1, "child workflow");
	Jsonb	   *input = PG_ARGISNULL(2) ? durable_cstring_to_jsonb("{}") : PG_GETARG_JSONB_P(2);
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	Interval   *timeout;
	Interval   *retention;
	Jsonb	   *tags;
	char	   *qualified;
	DurableOpKey key;
	Jsonb	   *result = NULL;
	bool		done;
	ChildrenArgs *a;
	MemoryContext old;

	durable_check_name("invoke name", name);
	(void) children_wait(d, &durable_kind_invoke, name, &key, &result, &done);
	if (done)
		RETURN_CHILDREN_OUTCOME(result);

	(void) durable_resolve_workflow(workflow, true, &qualified, NULL);
	durable_check_payload("child input", input);
	durable_start_options(options, &timeout, &retention, &tags);
	old = children_pending(d, &durable_kind_invoke, &key, name, &a);
	a->branches = list_make1(make_branch(NULL, qualified, input));
	a->policy.min_successful = -1;
	a->policy.tolerated_failures = -1;
	a->policy.tolerated_pct = -1;
	if (options != NULL)
		a->start_options = (Jsonb *) datumCopy(JsonbPGetDatum(options), false, -1);
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

static JsonbValue *
branch_field(JsonbContainer *obj, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	return findJsonbValueFromContainer(obj, JB_FOBJECT, &k);
}

static char *
branch_string(JsonbContainer *obj, const char *key, int i, bool required)
{
	JsonbValue *v = branch_field(obj, key);

	if (v == NULL || v->type == jbvNull)
	{
		if (required)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("branch %d has no \"%s\"", i, key)));
		return NULL;
	}
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" of branch %d must be a string", key, i)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

static Jsonb *
branch_jsonb(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = branch_field(obj, key);

	if (v == NULL)
		return NULL;
	return JsonbValueToJsonb(v);
}

/*
 * parse_branches
 *		The branches of durable_parallel: {name, workflow, input} runs a
 *		child workflow, {name, sql, args, options} a step (as a child
 *		execution of durable.run_step).  Names must be unique.
 */
static List *
parse_branches(Jsonb *branches)
{
	List	   *list = NIL;
	int			n,
				i;

	if (JB_ROOT_IS_SCALAR(branches) || !JB_ROOT_IS_ARRAY(branches))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("branches must be a jsonb array"),
				 errhint("Each branch is {\"name\", \"workflow\", \"input\"} or {\"name\", \"sql\", \"args\", \"options\"}.")));
	n = JB_ROOT_COUNT(branches);
	for (i = 0; i < n; i++)
	{
		JsonbValue *elem = getIthJsonbValueFromContainer(&branches->root, i);
		JsonbContainer *obj;
		char	   *name;
		char	   *workflow;
		char	   *sql;
		char	   *qualified;
		ListCell   *lc;

		if (elem->type != jbvBinary || !JsonContainerIsObject(elem->val.binary.data))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("branch %d is not a jsonb object", i)));
		obj = elem->val.binary.data;
		name = branch_string(obj, "name", i, true);
		durable_check_name("branch name", name);
		foreach(lc, list)
			if (strcmp(((DurableBranch *) lfirst(lc))->name, name) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("two branches are named \"%s\"", name)));
		workflow = branch_string(obj, "workflow", i, false);
		sql = branch_string(obj, "sql", i, false);
		if ((workflow == NULL) == (sql == NULL))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("branch \"%s\" must have either \"workflow\" or \"sql\"", name)));
		if (workflow != NULL)
		{
			Jsonb	   *input = branch_jsonb(obj, "input");

			(void) durable_resolve_workflow(workflow, true, &qualified, NULL);
			list = lappend(list, make_branch(name, qualified,
											 input ? input : durable_cstring_to_jsonb("{}")));
		}
		else
		{
			const char *keys[4] = {"name", "sql", "args", "options"};
			Jsonb	   *values[4];
			DurableRetryOptions retry;

			values[0] = durable_jsonb_string(name);
			values[1] = durable_jsonb_string(sql);
			values[2] = branch_jsonb(obj, "args");
			values[3] = branch_jsonb(obj, "options");
			durable_parse_retry_options(values[3], &retry);
			list = lappend(list, make_branch(name, "durable.run_step",
											 durable_jsonb_build(4, keys, values)));
		}
	}
	return list;
}

PG_FUNCTION_INFO_V1(durable_parallel);

/*
 * durable_parallel(name text, branches jsonb, options jsonb) RETURNS jsonb
 */
Datum
durable_parallel(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_parallel");
	char	   *name = durable_text_arg(fcinfo, 0, "parallel name");
	Jsonb	   *options = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	DurableOpKey key;
	Jsonb	   *result = NULL;
	bool		done;
	List	   *branches;
	DurablePolicy policy;
	ChildrenArgs *a;
	MemoryContext old;

	durable_check_name("parallel name", name);
	(void) children_wait(d, &durable_kind_parallel, name, &key, &result, &done);
	if (done)
		RETURN_CHILDREN_OUTCOME(result);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("branches must not be null")));
	old = MemoryContextSwitchTo(d->replay_cxt);
	branches = parse_branches(PG_GETARG_JSONB_P(1));
	durable_parse_policy(options, false, list_length(branches), &policy);
	MemoryContextSwitchTo(old);
	if (policy.results == DRM_ARRAY)
	{
		int64		name_bytes = 0;
		ListCell   *lc;

		foreach(lc, branches)
			name_bytes += strlen(((DurableBranch *) lfirst(lc))->name);
		check_size(&durable_kind_parallel, name, list_length(branches), name_bytes);
	}
	old = children_pending(d, &durable_kind_parallel, &key, name, &a);
	a->branches = branches;
	a->policy = policy;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

PG_FUNCTION_INFO_V1(durable_map);

/*
 * durable_map(name text, items jsonb, workflow text, options jsonb) RETURNS jsonb
 */
Datum
durable_map(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_map");
	char	   *name = durable_text_arg(fcinfo, 0, "map name");
	char	   *workflow = durable_text_arg(fcinfo, 2, "map workflow");
	Jsonb	   *options = PG_ARGISNULL(3) ? NULL : PG_GETARG_JSONB_P(3);
	Jsonb	   *items;
	DurableOpKey key;
	Jsonb	   *result = NULL;
	bool		done;
	char	   *qualified;
	DurablePolicy policy;
	ChildrenArgs *a;
	MemoryContext old;

	durable_check_name("map name", name);
	(void) children_wait(d, &durable_kind_map, name, &key, &result, &done);
	if (done)
		RETURN_CHILDREN_OUTCOME(result);

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("items must not be null")));
	items = PG_GETARG_JSONB_P(1);
	if (JB_ROOT_IS_SCALAR(items) || !JB_ROOT_IS_ARRAY(items))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("items must be a jsonb array")));
	durable_check_payload("map items", items);
	(void) durable_resolve_workflow(workflow, true, &qualified, NULL);
	old = MemoryContextSwitchTo(d->replay_cxt);
	durable_parse_policy(options, true, JB_ROOT_COUNT(items), &policy);
	MemoryContextSwitchTo(old);
	if (policy.results == DRM_ARRAY)
		check_size(&durable_kind_map, name, JB_ROOT_COUNT(items), 0);
	old = children_pending(d, &durable_kind_map, &key, name, &a);
	a->branches = list_make1(make_branch(NULL, qualified, NULL));
	a->items = (Jsonb *) datumCopy(JsonbPGetDatum(items), false, -1);
	a->policy = policy;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}
