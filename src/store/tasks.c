/*-------------------------------------------------------------------------
 *
 * tasks.c
 *	  Statements against durable.tasks, durable.task_leases and
 *	  durable.task_queue_grants: the tasks of durable_task, their claims by
 *	  workers outside the database, and who may claim them.
 *
 * A task is keyed by its operation (execution, run, op_id).  Each claim
 * gives it a new attempt and a new task id, of which only the hash is
 * stored in task_leases; a lease found by its hash names the attempt it
 * was for, so a worker whose lease moved on cannot touch the task.  The
 * callers (ops/task.c, api/tasks.c) lock a task's row, decide, and write
 * what they decided through the key: the row lock orders a completion, a
 * heartbeat, a claim and the performer's expiry of a lease.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  The claim checks the caller's rights in its statement.
 *
 * IDENTIFICATION
 *	  src/store/tasks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "store/store.h"
#include "store/store_int.h"

typedef enum TasksQuery
{
	Q_TASK_INSERT,
	Q_TASK_GET,
	Q_TASK_BY_LEASE,
	Q_TASK_FINISH,
	Q_TASK_REQUEUE,
	Q_TASK_LEASE,
	Q_TASK_PICK,
	Q_TASK_CLAIM,
	Q_LEASE_INSERT,
	Q_TASK_NEXT,
	Q_GRANT,
	Q_REVOKE,
	Q_COUNT
} TasksQuery;

#define TASK_COLUMNS \
	"t.execution_id, t.run_no, t.op_id, t.name, t.task_queue, t.status, t.attempt, " \
	"t.max_attempts, t.available_at, t.timeout_at, " \
	"(extract(epoch FROM t.heartbeat_timeout) * 1000000)::int8, " \
	"(extract(epoch FROM t.lease) * 1000000)::int8, t.lease_until, t.result, t.error, " \
	"t.options, t.payload, t.owner, " \
	"EXISTS (SELECT 1 FROM durable.executions e WHERE e.id = t.execution_id " \
	"AND e.run_no = t.run_no AND e.status IN ('PENDING', 'RUNNING', 'SUSPENDED'))"
#define TASK_KEY "execution_id = $1 AND run_no = $2 AND op_id = $3"

static const StorageStatement statements[Q_COUNT] = {
	[Q_TASK_INSERT] = {
		"WITH gone AS (DELETE FROM durable.task_leases "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3) "
		"INSERT INTO durable.tasks (execution_id, run_no, op_id, name, task_queue, payload, "
		"options, status, max_attempts, available_at, timeout_at, heartbeat_timeout, owner, "
		"created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 'QUEUED', $8, $9, $10, "
		"$11 * interval '1 microsecond', $12, $9) "
		"ON CONFLICT (execution_id, run_no, op_id) DO UPDATE SET name = EXCLUDED.name, "
		"task_queue = EXCLUDED.task_queue, payload = EXCLUDED.payload, "
		"options = EXCLUDED.options, status = 'QUEUED', attempt = 0, "
		"max_attempts = EXCLUDED.max_attempts, available_at = EXCLUDED.available_at, "
		"timeout_at = EXCLUDED.timeout_at, heartbeat_timeout = EXCLUDED.heartbeat_timeout, "
		"worker = NULL, lease = NULL, lease_until = NULL, result = NULL, error = NULL, "
		"owner = EXCLUDED.owner, created_at = EXCLUDED.created_at, completed_at = NULL",
		12, {UUIDOID, INT4OID, INT4OID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, INT4OID,
		TIMESTAMPTZOID, TIMESTAMPTZOID, INT8OID, REGROLEOID}
	},
	[Q_TASK_GET] = {
		"SELECT " TASK_COLUMNS ", t.attempt FROM durable.tasks t "
		"WHERE t.execution_id = $1 AND t.run_no = $2 AND t.op_id = $3 FOR UPDATE OF t",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	[Q_TASK_BY_LEASE] = {
		"SELECT " TASK_COLUMNS ", l.attempt FROM durable.task_leases l "
		"JOIN durable.tasks t USING (execution_id, run_no, op_id) "
		"WHERE l.lease_hash = $1 FOR UPDATE OF t",
		1, {BYTEAOID}
	},
	[Q_TASK_FINISH] = {
		"UPDATE durable.tasks SET status = $4, result = $5, error = coalesce($6, error), "
		"completed_at = $7 WHERE " TASK_KEY,
		7, {UUIDOID, INT4OID, INT4OID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID}
	},
	[Q_TASK_REQUEUE] = {
		"UPDATE durable.tasks SET status = 'QUEUED', error = $4, available_at = $5, "
		"worker = NULL, lease = NULL, lease_until = NULL WHERE " TASK_KEY,
		5, {UUIDOID, INT4OID, INT4OID, JSONBOID, TIMESTAMPTZOID}
	},
	[Q_TASK_LEASE] = {
		"UPDATE durable.tasks SET lease = $4 * interval '1 microsecond', lease_until = $5 "
		"WHERE " TASK_KEY,
		5, {UUIDOID, INT4OID, INT4OID, INT8OID, TIMESTAMPTZOID}
	},
	/*
	 * The tasks a role may claim: of a task queue, due, of an execution
	 * that runs, whose owner the role is a member of or was granted the
	 * queue by ($4: the caller is an administrator).
	 */
	[Q_TASK_PICK] = {
		"SELECT t.execution_id, t.run_no, t.op_id FROM durable.tasks t "
		"WHERE t.task_queue = $1 AND t.status = 'QUEUED' AND t.available_at <= $2 "
		"AND (t.timeout_at IS NULL OR t.timeout_at > $2) "
		"AND EXISTS (SELECT 1 FROM durable.executions e WHERE e.id = t.execution_id "
		"AND e.run_no = t.run_no AND e.status IN ('PENDING', 'RUNNING', 'SUSPENDED')) "
		"AND ($4 OR pg_has_role($3, t.owner, 'USAGE') "
		"OR EXISTS (SELECT 1 FROM durable.task_queue_grants g WHERE g.task_queue = $1 "
		"AND g.owner = t.owner AND pg_has_role($3, g.grantee, 'USAGE'))) "
		"ORDER BY t.available_at LIMIT $5 FOR UPDATE OF t SKIP LOCKED",
		5, {TEXTOID, TIMESTAMPTZOID, OIDOID, BOOLOID, INT8OID}
	},
	/* a lease no longer than the task's heartbeat_timeout */
	[Q_TASK_CLAIM] = {
		"UPDATE durable.tasks SET status = 'CLAIMED', attempt = attempt + 1, worker = $4, "
		"lease = least($5 * interval '1 microsecond', coalesce(heartbeat_timeout, "
		"$5 * interval '1 microsecond')), "
		"lease_until = $6 + least($5 * interval '1 microsecond', coalesce(heartbeat_timeout, "
		"$5 * interval '1 microsecond')) "
		"WHERE " TASK_KEY " RETURNING name, payload, attempt, lease_until, owner",
		6, {UUIDOID, INT4OID, INT4OID, TEXTOID, INT8OID, TIMESTAMPTZOID}
	},
	[Q_LEASE_INSERT] = {
		"INSERT INTO durable.task_leases (lease_hash, execution_id, run_no, op_id, attempt, "
		"worker, claimed_at, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		8, {BYTEAOID, UUIDOID, INT4OID, INT4OID, INT4OID, TEXTOID, TIMESTAMPTZOID, REGROLEOID}
	},
	/* when the next task of a queue comes due (its backoff ends) */
	[Q_TASK_NEXT] = {
		"SELECT min(available_at) FROM durable.tasks "
		"WHERE task_queue = $1 AND status = 'QUEUED' AND available_at > $2",
		2, {TEXTOID, TIMESTAMPTZOID}
	},
	[Q_GRANT] = {
		"INSERT INTO durable.task_queue_grants (task_queue, owner, grantee, granted_at) "
		"VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
		4, {TEXTOID, REGROLEOID, REGROLEOID, TIMESTAMPTZOID}
	},
	[Q_REVOKE] = {
		"DELETE FROM durable.task_queue_grants "
		"WHERE task_queue = $1 AND owner = $2 AND grantee = $3",
		3, {TEXTOID, REGROLEOID, REGROLEOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

static Datum
hash_datum(const uint8 *hash)
{
	bytea	   *b = palloc(VARHDRSZ + DURABLE_TOKEN_HASH_LEN);

	SET_VARSIZE(b, VARHDRSZ + DURABLE_TOKEN_HASH_LEN);
	memcpy(VARDATA(b), hash, DURABLE_TOKEN_HASH_LEN);
	return PointerGetDatum(b);
}

static void
key_values(Datum *values, const pg_uuid_t *id, int32 run_no, int32 op_id)
{
	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
}

static TimestampTz
ts_col(int col)
{
	bool		isnull;
	Datum		v = get_col(col, &isnull);

	return isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
}

static Jsonb *
jsonb_col(int col)
{
	bool		isnull;
	Datum		v = get_col(col, &isnull);

	return isnull ? NULL : DatumGetJsonbPCopy(v);
}

static int64
us_col(int col)
{
	bool		isnull;
	Datum		v = get_col(col, &isnull);

	return isnull ? 0 : DatumGetInt64(v);
}

/* the task of the first row, in the current memory context */
static void
task_from_row(DurableTask *t)
{
	bool		isnull;

	t->execution = *DatumGetUUIDP(get_col(1, &isnull));
	t->run_no = DatumGetInt32(get_col(2, &isnull));
	t->op_id = DatumGetInt32(get_col(3, &isnull));
	t->name = TextDatumGetCString(get_col(4, &isnull));
	t->task_queue = TextDatumGetCString(get_col(5, &isnull));
	t->status = TextDatumGetCString(get_col(6, &isnull));
	t->attempt = DatumGetInt32(get_col(7, &isnull));
	t->max_attempts = DatumGetInt32(get_col(8, &isnull));
	t->available_at = ts_col(9);
	t->timeout_at = ts_col(10);
	t->heartbeat_timeout = us_col(11);
	t->lease = us_col(12);
	t->lease_until = ts_col(13);
	t->result = jsonb_col(14);
	t->error = jsonb_col(15);
	t->options = jsonb_col(16);
	t->payload = jsonb_col(17);
	t->owner = DatumGetObjectId(get_col(18, &isnull));
	t->live = DatumGetBool(get_col(19, &isnull));
	t->lease_attempt = DatumGetInt32(get_col(20, &isnull));
}

/*
 * durable_storage_task_insert
 *		A new task, claimable at commit.  An operation that durable_redrive
 *		runs again may have the op_id of a task of the failed run: that task
 *		starts over, and the ids handed out for it are forgotten.
 */
void
durable_storage_task_insert(const pg_uuid_t *id, int32 run_no, int32 op_id, const char *name,
							const char *task_queue, Jsonb *payload, Jsonb *options,
							int max_attempts, TimestampTz timeout_at, int64 heartbeat_us,
							Oid owner, TimestampTz now)
{
	Datum		values[12];
	char		nulls[12];

	memset(nulls, ' ', sizeof(nulls));
	key_values(values, id, run_no, op_id);
	values[3] = CStringGetTextDatum(name);
	values[4] = CStringGetTextDatum(task_queue);
	values[5] = jsonb_datum(payload, &nulls[5]);
	values[6] = jsonb_datum(options, &nulls[6]);
	values[7] = Int32GetDatum(max_attempts);
	values[8] = TimestampTzGetDatum(now);
	values[9] = ts_datum(timeout_at, &nulls[9]);
	values[10] = Int64GetDatum(heartbeat_us);
	nulls[10] = heartbeat_us > 0 ? ' ' : 'n';
	values[11] = ObjectIdGetDatum(owner);
	run(Q_TASK_INSERT, values, nulls, 0);
}

/*
 * durable_storage_task_get
 *		The task of an operation, its row locked until the end of the
 *		transaction; false when there is none.
 */
bool
durable_storage_task_get(const pg_uuid_t *id, int32 run_no, int32 op_id, DurableTask *t)
{
	Datum		values[3];

	key_values(values, id, run_no, op_id);
	if (run(Q_TASK_GET, values, NULL, 0) != 1)
		return false;
	task_from_row(t);
	return true;
}

/*
 * durable_storage_task_by_lease
 *		The task a task id was handed out for, its row locked, and in
 *		lease_attempt the attempt of that claim; false for an unknown id.
 */
bool
durable_storage_task_by_lease(const uint8 *hash, DurableTask *t)
{
	Datum		values[1];

	values[0] = hash_datum(hash);
	if (run(Q_TASK_BY_LEASE, values, NULL, 0) != 1)
		return false;
	task_from_row(t);
	return true;
}

/* a task's last word: SUCCEEDED, FAILED or TIMED_OUT */
void
durable_storage_task_finish(const DurableTask *t, const char *status, Jsonb *result,
							Jsonb *error, TimestampTz now)
{
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	key_values(values, &t->execution, t->run_no, t->op_id);
	values[3] = CStringGetTextDatum(status);
	values[4] = jsonb_datum(result, &nulls[4]);
	values[5] = jsonb_datum(error, &nulls[5]);
	values[6] = TimestampTzGetDatum(now);
	run(Q_TASK_FINISH, values, nulls, 0);
}

/* an attempt ended without the task: it waits for the next from available_at */
void
durable_storage_task_requeue(const DurableTask *t, Jsonb *error, TimestampTz available_at)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	key_values(values, &t->execution, t->run_no, t->op_id);
	values[3] = jsonb_datum(error, &nulls[3]);
	values[4] = TimestampTzGetDatum(available_at);
	run(Q_TASK_REQUEUE, values, nulls, 0);
}

/* a heartbeat: the lease renewed */
void
durable_storage_task_lease(const DurableTask *t, int64 lease_us, TimestampTz lease_until)
{
	Datum		values[5];

	key_values(values, &t->execution, t->run_no, t->op_id);
	values[3] = Int64GetDatum(lease_us);
	values[4] = TimestampTzGetDatum(lease_until);
	run(Q_TASK_LEASE, values, NULL, 0);
}

/*
 * durable_storage_task_claim
 *		Claims up to max_tasks due tasks of a task queue that the role may
 *		claim, each with a new task id; returns them (DurableClaimed, in
 *		the current memory context).
 */
List *
durable_storage_task_claim(const char *task_queue, const char *worker, Oid role, bool admin,
						   int64 lease_us, int max_tasks, TimestampTz now)
{
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	List	   *keys = NIL;
	List	   *claimed = NIL;
	ListCell   *lc;
	uint64		n;
	uint64		i;
	bool		isnull;

	values[0] = CStringGetTextDatum(task_queue);
	values[1] = TimestampTzGetDatum(now);
	values[2] = ObjectIdGetDatum(role);
	values[3] = BoolGetDatum(admin);
	values[4] = Int64GetDatum(max_tasks);
	n = run(Q_TASK_PICK, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		DurableClaimed *c = palloc0(sizeof(DurableClaimed));
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;

		c->execution = *DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull));
		c->run_no = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		c->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		keys = lappend(keys, c);
	}
	foreach(lc, keys)
	{
		DurableClaimed *c = lfirst(lc);
		uint8		hash[DURABLE_TOKEN_HASH_LEN];

		key_values(values, &c->execution, c->run_no, c->op_id);
		values[3] = CStringGetTextDatum(worker);
		values[4] = Int64GetDatum(lease_us);
		values[5] = TimestampTzGetDatum(now);
		if (run(Q_TASK_CLAIM, values, NULL, 0) != 1)
			elog(ERROR, "task of operation %d vanished while claimed", c->op_id);
		c->name = TextDatumGetCString(get_col(1, &isnull));
		c->payload = jsonb_col(2);
		c->attempt = DatumGetInt32(get_col(3, &isnull));
		c->lease_until = ts_col(4);
		c->owner = DatumGetObjectId(get_col(5, &isnull));
		c->task_id = durable_task_token_new(hash);
		values[0] = hash_datum(hash);
		key_values(values + 1, &c->execution, c->run_no, c->op_id);
		values[4] = Int32GetDatum(c->attempt);
		values[5] = CStringGetTextDatum(worker);
		values[6] = TimestampTzGetDatum(now);
		values[7] = ObjectIdGetDatum(c->owner);
		run(Q_LEASE_INSERT, values, nulls, 0);
		claimed = lappend(claimed, c);
	}
	return claimed;
}

/*
 * durable_storage_task_next
 *		When the next task of a task queue that waits for its backoff comes
 *		due; DT_NOBEGIN when none does.
 */
TimestampTz
durable_storage_task_next(const char *task_queue, TimestampTz now)
{
	Datum		values[2];

	values[0] = CStringGetTextDatum(task_queue);
	values[1] = TimestampTzGetDatum(now);
	if (run(Q_TASK_NEXT, values, NULL, 1) != 1)
		return DT_NOBEGIN;
	return ts_col(1);
}

/* a grant of a task queue; false when it existed */
bool
durable_storage_task_grant(const char *task_queue, Oid owner, Oid grantee, TimestampTz now)
{
	Datum		values[4];

	values[0] = CStringGetTextDatum(task_queue);
	values[1] = ObjectIdGetDatum(owner);
	values[2] = ObjectIdGetDatum(grantee);
	values[3] = TimestampTzGetDatum(now);
	return run(Q_GRANT, values, NULL, 0) == 1;
}

/* a grant taken back; false when there was none */
bool
durable_storage_task_revoke(const char *task_queue, Oid owner, Oid grantee)
{
	Datum		values[3];

	values[0] = CStringGetTextDatum(task_queue);
	values[1] = ObjectIdGetDatum(owner);
	values[2] = ObjectIdGetDatum(grantee);
	return run(Q_REVOKE, values, NULL, 0) == 1;
}
