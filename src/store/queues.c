/*-------------------------------------------------------------------------
 *
 * queues.c
 *	  Queues of executions: durable.exec_queues (a queue's limits, per
 *	  owner) and the queue columns of durable.queue (which queue, key and
 *	  priority an execution waits in, and whether it was admitted).
 *
 * An execution of a queue keeps its ready-queue row from its start to its
 * end.  While it waits, queue_admitted is false and its row is due never
 * (retry_at never too, so no claim of its inbox takes it), except when it is
 * a gate: a waiting row due now (or at the end of its debounce), which the
 * driver that claims it turns into an admission (durable_xq_gate).  The
 * admission (admit) runs under the lock of the queue's row, so that two
 * admissions never both see a free slot: it counts the admitted executions
 * of the queue (started and not finished, suspended included), and admits
 * the waiting ones in order (priority, then virtual time, then age) while
 * max_concurrency, max_concurrency_per_key and the rate allow, setting
 * their due time to when the rate lets them begin.  The virtual time (a
 * row's queue_vseq) makes the round robin between keys: a key's next
 * waiting execution comes one turn after its previous one, and never
 * before the turn the queue has reached, so a key with a long backlog
 * takes one turn in every round, not all of them.
 * The admission stops at the next execution in order when another session
 * holds its row rather than pass it over (a driver that claimed it as a
 * gate and could not have the lock looks again 100 ms later and admits in
 * order then).
 *
 * A start, a stop or a change of the queue, which run in the caller's
 * transaction, never take that lock: they make a waiting row a gate (a
 * nudge), and a driver admits.  The end of an admitted execution in a
 * drive nudges too; only when no waiting row can be nudged (each is held
 * by a concurrent admission) does it wait for the lock and admit itself,
 * so that no freed slot goes unnoticed.
 *
 * Statements run through durable_store_run (spi.c).  Callers check the
 * caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/queues.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "catalog/namespace.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "store/store.h"
#include "store/store_int.h"

/* how long a gate waits when another session holds the queue's lock */
#define XQ_GATE_RETRY_US	INT64CONST(100000)
/* at most this many admissions at once */
#define XQ_ADMIT_MAX		1000

typedef enum XqQuery
{
	Q_DEF_SET,
	Q_DEF_LOOKUP,
	Q_DEF_LOCK,
	Q_DEF_LOCK_WAIT,
	Q_DEF_SAVE,
	Q_DEF_DELETE,
	Q_UNFINISHED,
	Q_ENQUEUE,
	Q_DEBOUNCE,
	Q_RUNNING,
	Q_PICK,
	Q_PICK_LOCK,
	Q_ADMIT,
	Q_NUDGE,
	Q_GATE_HOLD,
	Q_WAITING,
	Q_COUNT
} XqQuery;

static const StorageStatement statements[Q_COUNT] = {
	/* create or change; a change keeps the rate's window and the turn */
	[Q_DEF_SET] = {
		"INSERT INTO durable.exec_queues AS d (owner, name, max_concurrency, "
		"max_concurrency_per_key, rate, period, fairness) VALUES ($1, $2, $3, $4, $5, $6, $7) "
		"ON CONFLICT (owner, name) DO UPDATE SET max_concurrency = excluded.max_concurrency, "
		"max_concurrency_per_key = excluded.max_concurrency_per_key, rate = excluded.rate, "
		"period = excluded.period, fairness = excluded.fairness",
		7, {REGROLEOID, TEXTOID, INT4OID, INT4OID, INT4OID, INTERVALOID, BOOLOID}
	},
	/* a start: the queue must stay until the start commits (a drop waits) */
	[Q_DEF_LOOKUP] = {
		"SELECT fairness, vclock FROM durable.exec_queues WHERE owner = $1 AND name = $2 "
		"FOR KEY SHARE",
		2, {REGROLEOID, TEXTOID}
	},
	/* an admission: one at a time per queue; starts (KEY SHARE) do not wait */
	[Q_DEF_LOCK] = {
		"SELECT max_concurrency, max_concurrency_per_key, rate, "
		"(extract(epoch FROM period) * 1000000)::bigint, fairness, vclock, admissions "
		"FROM durable.exec_queues WHERE owner = $1 AND name = $2 "
		"FOR NO KEY UPDATE SKIP LOCKED",
		2, {REGROLEOID, TEXTOID}
	},
	[Q_DEF_LOCK_WAIT] = {
		"SELECT max_concurrency, max_concurrency_per_key, rate, "
		"(extract(epoch FROM period) * 1000000)::bigint, fairness, vclock, admissions "
		"FROM durable.exec_queues WHERE owner = $1 AND name = $2 "
		"FOR NO KEY UPDATE",
		2, {REGROLEOID, TEXTOID}
	},
	[Q_DEF_SAVE] = {
		"UPDATE durable.exec_queues SET vclock = $3, admissions = $4 "
		"WHERE owner = $1 AND name = $2",
		4, {REGROLEOID, TEXTOID, INT8OID, TIMESTAMPTZARRAYOID}
	},
	[Q_DEF_DELETE] = {
		"DELETE FROM durable.exec_queues WHERE owner = $1 AND name = $2 RETURNING 1",
		2, {REGROLEOID, TEXTOID}
	},
	[Q_UNFINISHED] = {
		"SELECT count(*) FROM durable.queue WHERE owner = $1 AND queue_name = $2 "
		"AND queue_admitted IS NOT NULL",
		2, {REGROLEOID, TEXTOID}
	},
	/*
	 * A new execution joins its queue (its row was just inserted, due now):
	 * a gate due at $6, its turn one after the key's last waiting one.
	 */
	[Q_ENQUEUE] = {
		"UPDATE durable.queue q SET queue_name = $2, queue_key = $3, queue_priority = $4, "
		"queue_admitted = false, queue_not_before = $6, due_at = $6, retry_at = 'infinity', "
		"queue_vseq = CASE WHEN $7 THEN 1 + GREATEST($5, (SELECT max(w.queue_vseq) "
		"FROM durable.queue w WHERE w.owner = q.owner AND w.queue_name = $2 "
		"AND w.queue_key IS NOT DISTINCT FROM $3 AND NOT w.queue_admitted)) ELSE 0 END "
		"WHERE execution_id = $1",
		7, {UUIDOID, TEXTOID, TEXTOID, INT4OID, INT8OID, TIMESTAMPTZOID, BOOLOID}
	},
	/*
	 * A debounced start: the newest execution of the workflow waiting in
	 * the queue under the key takes the new input and begins no sooner
	 * than $6.
	 */
	[Q_DEBOUNCE] = {
		"WITH w AS (SELECT q.execution_id FROM durable.queue q "
		"JOIN durable.executions e ON e.id = q.execution_id "
		"WHERE q.owner = $1 AND q.queue_name = $2 AND q.queue_key = $3 "
		"AND NOT q.queue_admitted AND e.workflow = $4 "
		"ORDER BY q.queue_vseq DESC, q.execution_id DESC LIMIT 1 FOR UPDATE OF q), "
		"i AS (UPDATE durable.executions e SET input = $5, updated_at = now() "
		"FROM w WHERE e.id = w.execution_id RETURNING e.id) "
		"UPDATE durable.queue q SET queue_not_before = $6, due_at = $6, queue_priority = $7 "
		"FROM i WHERE q.execution_id = i.id RETURNING q.execution_id",
		7, {REGROLEOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, TIMESTAMPTZOID, INT4OID}
	},
	[Q_RUNNING] = {
		"SELECT count(*) FROM durable.queue WHERE owner = $1 AND queue_name = $2 "
		"AND queue_admitted",
		2, {REGROLEOID, TEXTOID}
	},
	/*
	 * The next execution to admit: waiting, past its debounce, of a key
	 * below max_concurrency_per_key ($4, NULL: none), in order.
	 */
	[Q_PICK] = {
		"SELECT q.execution_id, q.queue_vseq FROM durable.queue q "
		"WHERE q.owner = $1 AND q.queue_name = $2 AND NOT q.queue_admitted "
		"AND q.queue_not_before <= $3 "
		"AND ($4::integer IS NULL OR (SELECT count(*) FROM durable.queue r "
		"WHERE r.owner = $1 AND r.queue_name = $2 AND r.queue_admitted "
		"AND r.queue_key IS NOT DISTINCT FROM q.queue_key) < $4) "
		"ORDER BY q.queue_priority, q.queue_vseq, q.execution_id LIMIT 1",
		4, {REGROLEOID, TEXTOID, TIMESTAMPTZOID, INT4OID}
	},
	/*
	 * The picked one, unless another session holds it (a driver that
	 * claimed it as a gate and will admit in turn, a stop, a debounce):
	 * the admission then stops rather than pass it over.
	 */
	[Q_PICK_LOCK] = {
		"SELECT 1 FROM durable.queue WHERE execution_id = $1 AND NOT queue_admitted "
		"FOR UPDATE SKIP LOCKED",
		1, {UUIDOID}
	},
	[Q_ADMIT] = {
		"UPDATE durable.queue SET queue_admitted = true, due_at = $2, retry_at = NULL "
		"WHERE execution_id = $1",
		2, {UUIDOID, TIMESTAMPTZOID}
	},
	/* the first waiting execution of a queue becomes a gate */
	[Q_NUDGE] = {
		"UPDATE durable.queue SET due_at = $3 WHERE execution_id = ("
		"SELECT q.execution_id FROM durable.queue q WHERE q.owner = $1 AND q.queue_name = $2 "
		"AND NOT q.queue_admitted AND q.queue_not_before <= $3 "
		"ORDER BY q.queue_priority, q.queue_vseq, q.execution_id "
		"LIMIT 1 FOR UPDATE OF q SKIP LOCKED) RETURNING 1",
		3, {REGROLEOID, TEXTOID, TIMESTAMPTZOID}
	},
	/* a gate claimed: due never again (or at $2), its queue and admission */
	[Q_GATE_HOLD] = {
		"UPDATE durable.queue SET due_at = $2 WHERE execution_id = $1 "
		"RETURNING owner::oid, queue_name",
		2, {UUIDOID, TIMESTAMPTZOID}
	},
	[Q_WAITING] = {
		"SELECT 1 FROM durable.queue WHERE execution_id = $1 AND NOT queue_admitted",
		1, {UUIDOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_xq_available
 *		Whether the schema has the queues of executions (false until ALTER
 *		EXTENSION durable UPDATE has run on a schema of 1.1).  Two catalog
 *		cache lookups.
 */
bool
durable_xq_available(void)
{
	Oid			queue = get_relname_relid("queue", get_namespace_oid("durable", false));

	return OidIsValid(queue) && get_attnum(queue, "queue_admitted") != InvalidAttrNumber;
}

static void
set_name_args(Datum *values, Oid owner, const char *name)
{
	values[0] = ObjectIdGetDatum(owner);
	values[1] = CStringGetTextDatum(name);
}

/*
 * durable_xq_define
 *		Creates or changes queue name of owner; an option < 0 is none.
 */
void
durable_xq_define(Oid owner, const char *name, const DurableXqLimits *lim)
{
	Datum		values[7];
	char		nulls[7] = "       ";

	set_name_args(values, owner, name);
	values[2] = Int32GetDatum(lim->max_concurrency);
	nulls[2] = lim->max_concurrency < 0 ? 'n' : ' ';
	values[3] = Int32GetDatum(lim->max_per_key);
	nulls[3] = lim->max_per_key < 0 ? 'n' : ' ';
	values[4] = Int32GetDatum(lim->rate);
	nulls[4] = lim->rate < 0 ? 'n' : ' ';
	values[5] = PointerGetDatum(lim->period);
	nulls[5] = lim->period == NULL ? 'n' : ' ';
	values[6] = BoolGetDatum(lim->fairness);
	run(Q_DEF_SET, values, nulls, 0);
}

/*
 * durable_xq_drop
 *		Drops queue name of owner.  -1: it does not exist; otherwise the
 *		number of its unfinished executions (it is dropped only when 0).
 */
int64
durable_xq_drop(Oid owner, const char *name)
{
	Datum		values[2];
	bool		isnull;
	int64		n;

	set_name_args(values, owner, name);
	if (run(Q_DEF_DELETE, values, NULL, 0) != 1)
		return -1;
	run(Q_UNFINISHED, values, NULL, 1);
	n = DatumGetInt64(get_col(1, &isnull));
	return n;
}

/*
 * durable_xq_lookup
 *		Whether queue name of owner exists; locks it against a drop until
 *		the transaction ends.
 */
bool
durable_xq_lookup(Oid owner, const char *name, bool *fairness, int64 *vclock)
{
	Datum		values[2];
	bool		isnull;

	set_name_args(values, owner, name);
	if (run(Q_DEF_LOOKUP, values, NULL, 1) != 1)
		return false;
	*fairness = DatumGetBool(get_col(1, &isnull));
	*vclock = DatumGetInt64(get_col(2, &isnull));
	return true;
}

/*
 * durable_xq_enqueue
 *		The new execution id (its row just inserted) waits in its queue,
 *		a gate from not_before.
 */
void
durable_xq_enqueue(const pg_uuid_t *id, const DurableXqStart *q, bool fairness,
				   int64 vclock, TimestampTz not_before)
{
	Datum		values[7];
	char		nulls[7] = "       ";

	values[0] = UUIDPGetDatum(id);
	values[1] = CStringGetTextDatum(q->queue);
	values[2] = q->key ? CStringGetTextDatum(q->key) : (Datum) 0;
	nulls[2] = q->key ? ' ' : 'n';
	values[3] = Int32GetDatum(q->priority);
	values[4] = Int64GetDatum(vclock);
	values[5] = TimestampTzGetDatum(not_before);
	values[6] = BoolGetDatum(fairness);
	run(Q_ENQUEUE, values, nulls, 0);
}

/*
 * durable_xq_debounce
 *		A debounced start of workflow: when an execution of it waits in
 *		the queue under the key, it takes input and waits until not_before
 *		(true, *id is it).
 */
bool
durable_xq_debounce(Oid owner, const DurableXqStart *q, const char *workflow,
					Jsonb *input, TimestampTz not_before, pg_uuid_t *id)
{
	Datum		values[7];
	bool		isnull;

	set_name_args(values, owner, q->queue);
	values[2] = CStringGetTextDatum(q->key);
	values[3] = CStringGetTextDatum(workflow);
	values[4] = JsonbPGetDatum(input);
	values[5] = TimestampTzGetDatum(not_before);
	values[6] = Int32GetDatum(q->priority);
	if (run(Q_DEBOUNCE, values, NULL, 0) != 1)
		return false;
	*id = *DatumGetUUIDP(get_col(1, &isnull));
	return true;
}

/*
 * admit
 *		The admission of queue name of owner (see the file header): admits
 *		what its limits allow now.  -1 when another session holds the
 *		queue's lock (and wait is false); otherwise how many it admitted.
 *		When gate is not NULL, *gate_at is the due time given to it, or
 *		DT_NOEND when it still waits.  *blocked: it stopped at an execution
 *		another session holds, which was next in order.
 */
static int
admit(Oid owner, const char *name, TimestampTz now, bool wait,
	  const pg_uuid_t *gate, TimestampTz *gate_at, bool *blocked)
{
	Datum		values[4];
	char		nulls[4] = "    ";
	bool		isnull;
	bool		maxc_null,
				perkey_null,
				rate_null;
	int32		maxc,
				perkey,
				rate;
	int64		period;
	int64		vclock;
	int64		running;
	TimestampTz *log = NULL;
	int			nlog = 0;
	int			admitted = 0;

	if (gate_at != NULL)
		*gate_at = DT_NOEND;
	*blocked = false;
	set_name_args(values, owner, name);
	if (run(wait ? Q_DEF_LOCK_WAIT : Q_DEF_LOCK, values, NULL, 1) != 1)
		return -1;				/* locked by another (or dropped) */
	maxc = DatumGetInt32(get_col(1, &maxc_null));
	perkey = DatumGetInt32(get_col(2, &perkey_null));
	rate = DatumGetInt32(get_col(3, &rate_null));
	period = DatumGetInt64(get_col(4, &isnull));
	vclock = DatumGetInt64(get_col(6, &isnull));
	if (!rate_null)
	{
		ArrayType  *arr = DatumGetArrayTypePCopy(get_col(7, &isnull));
		Datum	   *elems;
		int			i;

		deconstruct_array(arr, TIMESTAMPTZOID, sizeof(TimestampTz), true, TYPALIGN_DOUBLE,
						  &elems, NULL, &nlog);
		log = palloc(sizeof(TimestampTz) * (nlog + XQ_ADMIT_MAX + 1));
		for (i = 0; i < nlog; i++)
			log[i] = DatumGetTimestampTz(elems[i]);
	}
	run(Q_RUNNING, values, NULL, 1);
	running = DatumGetInt64(get_col(1, &isnull));

	while (admitted < XQ_ADMIT_MAX && (maxc_null || running < maxc))
	{
		TimestampTz at = now;
		pg_uuid_t	id;
		int64		vseq;

		/* the rate: the rate-th admission back must be a period ago */
		if (!rate_null && nlog >= rate)
			at = Max(now, log[nlog - rate] + period);
		values[2] = TimestampTzGetDatum(now);
		values[3] = Int32GetDatum(perkey);
		nulls[3] = perkey_null ? 'n' : ' ';
		if (run(Q_PICK, values, nulls, 1) != 1)
			break;
		id = *DatumGetUUIDP(get_col(1, &isnull));
		vseq = DatumGetInt64(get_col(2, &isnull));
		{
			Datum		a[2];

			a[0] = UUIDPGetDatum(&id);
			if (run(Q_PICK_LOCK, a, NULL, 1) != 1)
			{
				*blocked = true;
				break;
			}
			a[1] = TimestampTzGetDatum(at);
			run(Q_ADMIT, a, NULL, 0);
		}
		if (gate != NULL && memcmp(gate, &id, sizeof(pg_uuid_t)) == 0)
			*gate_at = at;
		if (log != NULL)
			log[nlog++] = at;
		vclock = Max(vclock, vseq);
		running++;
		admitted++;
	}
	if (admitted > 0)
	{
		Datum		s[4];
		Datum	   *elems;
		int			keep = log == NULL ? 0 : Min(nlog, rate);
		int			i;

		elems = palloc(sizeof(Datum) * (keep + 1));
		for (i = 0; i < keep; i++)
			elems[i] = TimestampTzGetDatum(log[nlog - keep + i]);
		set_name_args(s, owner, name);
		s[2] = Int64GetDatum(vclock);
		s[3] = PointerGetDatum(construct_array(elems, keep, TIMESTAMPTZOID,
											   sizeof(TimestampTz), true, TYPALIGN_DOUBLE));
		run(Q_DEF_SAVE, s, NULL, 0);
		durable_wake_at_commit();
	}
	return admitted;
}

/*
 * durable_xq_nudge
 *		Something may have freed a slot of queue name of owner, or changed
 *		its limits: its first waiting execution becomes a gate, due now,
 *		for a driver to admit.  When each waiting execution is held by
 *		another session (an admission that may have counted what this
 *		transaction frees), and may_wait, it waits for the queue's lock and
 *		admits itself.
 */
void
durable_xq_nudge(Oid owner, const char *name, TimestampTz now, bool may_wait)
{
	Datum		values[3];

	set_name_args(values, owner, name);
	values[2] = TimestampTzGetDatum(now);
	if (run(Q_NUDGE, values, NULL, 0) == 1)
	{
		durable_wake_at_commit();
		return;
	}
	if (may_wait)
	{
		bool		blocked;

		(void) admit(owner, name, now, true, NULL, NULL, &blocked);
	}
}

/*
 * durable_xq_gate
 *		A driver claimed id, a gate of its queue: it runs the queue's
 *		admission.  True when id was admitted and may begin now (the
 *		driver goes on with it); otherwise it waits again: due never, or
 *		when the rate lets it begin, or soon when another session held the
 *		queue's lock.
 */
bool
durable_xq_gate(const pg_uuid_t *id, TimestampTz now)
{
	Datum		values[2];
	bool		isnull;
	Oid			owner;
	char	   *name;
	TimestampTz at;
	bool		blocked;

	values[0] = UUIDPGetDatum(id);
	values[1] = TimestampTzGetDatum(DT_NOEND);
	if (run(Q_GATE_HOLD, values, NULL, 0) != 1)
		return false;
	owner = DatumGetObjectId(get_col(1, &isnull));
	name = TextDatumGetCString(get_col(2, &isnull));
	if (admit(owner, name, now, false, id, &at, &blocked) < 0 ||
		(blocked && at == DT_NOEND))
	{
		/* another session holds the queue, or the next one: look again soon */
		values[1] = TimestampTzGetDatum(now + XQ_GATE_RETRY_US);
		run(Q_GATE_HOLD, values, NULL, 0);
		return false;
	}
	return at <= now;
}

/*
 * durable_xq_waiting
 *		Whether id waits in its queue, not admitted yet.
 */
bool
durable_xq_waiting(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	return run(Q_WAITING, values, NULL, 1) == 1;
}
