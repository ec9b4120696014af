/*-------------------------------------------------------------------------
 *
 * limiters.c
 *	  Statements against durable.limiters, durable.limiter_holders and
 *	  durable.limiter_waiters: taking a limiter for an operation, giving
 *	  it back, waiting in line, pausing it, and waking the operation at
 *	  the head of the line.
 *
 * Every change of who holds or waits locks the limiter's row first
 * (FOR UPDATE) and reads holders and waiters in later statements, with a
 * snapshot taken after the lock: a release that commits while a take
 * waits for the lock is seen by the take, and a waiter that commits
 * while a release waits for the lock is seen (and woken) by the release,
 * so no wake-up is lost.  The lock is held only by short transactions:
 * an operation that takes a limiter commits the take before its attempt
 * runs (ops/limiter.c).
 *
 * Waking the head waiter is a "limiter" message in its execution's inbox
 * ({"limiter", "run_no", "op_id"}), with the workers woken at commit.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/limiters.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "store/store.h"
#include "store/store_int.h"

typedef enum LimitersQuery
{
	Q_PEEK,
	Q_LOCK,
	Q_UPSERT,
	Q_DELETE,
	Q_HOLDERS_DROP,
	Q_WAITERS_DROP,
	Q_HELD,
	Q_HOLDERS_COUNT,
	Q_HEAD,
	Q_WAITER_ADD,
	Q_WAITER_REMOVE,
	Q_HOLDER_ADD,
	Q_TOKENS,
	Q_RELEASE,
	Q_RELEASE_ALL,
	Q_UNWAIT_ALL,
	Q_PAUSE,
	Q_WAITING,
	Q_COUNT
} LimitersQuery;

static const StorageStatement statements[Q_COUNT] = {
	/* who may use it, without a lock: others' operations never wait on it */
	[Q_PEEK] = {
		"SELECT owner, roles FROM durable.limiters WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_LOCK] = {
		"SELECT owner, roles, max_concurrency, rate, "
		"(extract(epoch FROM period) * 1000000)::int8, burst, tokens, refilled_at, "
		"paused_until FROM durable.limiters WHERE name = $1 FOR UPDATE",
		1, {TEXTOID}
	},
	/* a new limiter starts with a full bucket; a changed one keeps its state */
	[Q_UPSERT] = {
		"INSERT INTO durable.limiters AS l (name, owner, roles, max_concurrency, rate, period, "
		"burst, tokens, refilled_at, created_at, updated_at) "
		"VALUES ($1, $2, $3, $4, $5, $6 * interval '1 microsecond', $7, $7, $8, $8, $8) "
		"ON CONFLICT (name) DO UPDATE SET roles = $3, max_concurrency = $4, rate = $5, "
		"period = $6 * interval '1 microsecond', burst = $7, "
		"tokens = CASE WHEN l.tokens IS NULL THEN $7 ELSE least(l.tokens, $7) END, "
		"refilled_at = coalesce(l.refilled_at, $8), updated_at = $8",
		8, {TEXTOID, REGROLEOID, REGROLEARRAYOID, INT4OID, INT4OID, INT8OID, INT4OID,
		TIMESTAMPTZOID}
	},
	[Q_DELETE] = {
		"DELETE FROM durable.limiters WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_HOLDERS_DROP] = {
		"DELETE FROM durable.limiter_holders WHERE limiter = $1",
		1, {TEXTOID}
	},
	[Q_WAITERS_DROP] = {
		"DELETE FROM durable.limiter_waiters WHERE limiter = $1 "
		"RETURNING execution_id, run_no, op_id, owner",
		1, {TEXTOID}
	},
	[Q_HELD] = {
		"SELECT 1 FROM durable.limiter_holders "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	[Q_HOLDERS_COUNT] = {
		"SELECT count(*) FROM durable.limiter_holders WHERE limiter = $1",
		1, {TEXTOID}
	},
	/* the first two in line: the head, and the next one */
	[Q_HEAD] = {
		"SELECT execution_id, run_no, op_id, owner FROM durable.limiter_waiters "
		"WHERE limiter = $1 ORDER BY waiter_id LIMIT 2",
		1, {TEXTOID}
	},
	[Q_WAITER_ADD] = {
		"INSERT INTO durable.limiter_waiters (limiter, execution_id, run_no, op_id, owner, since) "
		"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (execution_id, run_no, op_id) DO NOTHING",
		6, {TEXTOID, UUIDOID, INT4OID, INT4OID, REGROLEOID, TIMESTAMPTZOID}
	},
	[Q_WAITER_REMOVE] = {
		"DELETE FROM durable.limiter_waiters "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	[Q_HOLDER_ADD] = {
		"INSERT INTO durable.limiter_holders (limiter, execution_id, run_no, op_id, owner, "
		"acquired_at) VALUES ($1, $2, $3, $4, $5, $6)",
		6, {TEXTOID, UUIDOID, INT4OID, INT4OID, REGROLEOID, TIMESTAMPTZOID}
	},
	[Q_TOKENS] = {
		"UPDATE durable.limiters SET tokens = $2, refilled_at = $3 WHERE name = $1",
		3, {TEXTOID, FLOAT8OID, TIMESTAMPTZOID}
	},
	[Q_RELEASE] = {
		"DELETE FROM durable.limiter_holders "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3 RETURNING limiter",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	[Q_RELEASE_ALL] = {
		"DELETE FROM durable.limiter_holders WHERE execution_id = $1 RETURNING limiter",
		1, {UUIDOID}
	},
	[Q_UNWAIT_ALL] = {
		"DELETE FROM durable.limiter_waiters WHERE execution_id = $1 RETURNING limiter",
		1, {UUIDOID}
	},
	[Q_PAUSE] = {
		"UPDATE durable.limiters SET paused_until = greatest(paused_until, $2) "
		"WHERE name = $1",
		2, {TEXTOID, TIMESTAMPTZOID}
	},
	/* a wake-up still means something: the operation waits, or its limiter is gone */
	[Q_WAITING] = {
		"SELECT EXISTS (SELECT 1 FROM durable.limiter_waiters "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3) "
		"OR NOT EXISTS (SELECT 1 FROM durable.limiters WHERE name = $4)",
		4, {UUIDOID, INT4OID, INT4OID, TEXTOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/* a limiter's row, as Q_LOCK reads it */
typedef struct LimiterRow
{
	Oid			owner;
	ArrayType  *roles;
	int			max_concurrency;	/* 0: none */
	int			rate;			/* 0: none */
	int64		period;			/* microseconds */
	int			burst;
	double		tokens;
	TimestampTz refilled_at;
	TimestampTz paused_until;	/* DT_NOBEGIN: none */
} LimiterRow;

static int
int_col(int col, int dflt)
{
	bool		isnull;
	Datum		v = get_col(col, &isnull);

	return isnull ? dflt : DatumGetInt32(v);
}

/* locks the limiter's row and reads it; false when there is none */
static bool
lock_limiter(const char *name, LimiterRow *row)
{
	Datum		values[1];
	bool		isnull;
	Datum		v;

	values[0] = CStringGetTextDatum(name);
	if (run(Q_LOCK, values, NULL, 1) == 0)
		return false;
	row->owner = DatumGetObjectId(get_col(1, &isnull));
	row->roles = DatumGetArrayTypePCopy(get_col(2, &isnull));
	row->max_concurrency = int_col(3, 0);
	row->rate = int_col(4, 0);
	v = get_col(5, &isnull);
	row->period = isnull ? USECS_PER_SEC : DatumGetInt64(v);
	row->burst = int_col(6, 1);
	v = get_col(7, &isnull);
	row->tokens = isnull ? row->burst : DatumGetFloat8(v);
	v = get_col(8, &isnull);
	row->refilled_at = isnull ? 0 : DatumGetTimestampTz(v);
	v = get_col(9, &isnull);
	row->paused_until = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
	return true;
}

/* whether executions of this owner may use the limiter */
static bool
may_use(const LimiterRow *row, Oid user)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				i;

	if (has_privs_of_role(user, row->owner))
		return true;
	deconstruct_array(row->roles, REGROLEOID, sizeof(Oid), true, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i] && has_privs_of_role(user, DatumGetObjectId(elems[i])))
			return true;
	return false;
}

/* a wake-up message for an operation waiting for a limiter */
static void
send_wake(const char *limiter, const pg_uuid_t *id, int32 run_no, int32 op_id, Oid owner,
		  TimestampTz now)
{
	const char *keys[3] = {"limiter", "run_no", "op_id"};
	Jsonb	   *values[3];

	values[0] = durable_jsonb_string(limiter);
	values[1] = durable_jsonb_int(run_no);
	values[2] = durable_jsonb_int(op_id);
	durable_storage_inbox_add(id, "limiter", durable_jsonb_build(3, keys, values), owner, now);
	durable_wake_at_commit();
}

/*
 * wake_head
 *		Wakes the first in line for a limiter whose row this transaction has
 *		locked (skip: an operation that is not to be woken, the taker).
 */
static void
wake_head(const char *limiter, const pg_uuid_t *skip_id, int32 skip_run, int32 skip_op,
		  TimestampTz now)
{
	Datum		values[1];
	uint64		n,
				i;

	values[0] = CStringGetTextDatum(limiter);
	n = run(Q_HEAD, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		pg_uuid_t	id = *DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull));
		int32		run_no = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		int32		op_id = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		Oid			owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));

		if (skip_id != NULL && memcmp(&id, skip_id, sizeof(id)) == 0 &&
			run_no == skip_run && op_id == skip_op)
			continue;
		send_wake(limiter, &id, run_no, op_id, owner, now);
		return;
	}
}

/* the operation's place in the three tables' keys */
static void
op_values(Datum *values, const pg_uuid_t *id, int32 run_no, int32 op_id)
{
	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
}

/*
 * durable_storage_limiter_owner
 *		Locks the limiter's row; false when there is none, else its owner.
 */
bool
durable_storage_limiter_owner(const char *name, Oid *owner)
{
	LimiterRow	row;

	if (!lock_limiter(name, &row))
		return false;
	*owner = row.owner;
	return true;
}

/*
 * durable_storage_limiter_set
 *		Creates the limiter, or gives the existing one (whose row the caller
 *		locked) these limits; 0 is none.  The first in line is woken: the
 *		new limits may let it go.
 */
void
durable_storage_limiter_set(const char *name, Oid owner, ArrayType *roles,
							int max_concurrency, int rate, int64 period, int burst,
							TimestampTz now)
{
	Datum		values[8];
	char		nulls[8];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(owner);
	values[2] = PointerGetDatum(roles);
	values[3] = Int32GetDatum(max_concurrency);
	nulls[3] = max_concurrency > 0 ? ' ' : 'n';
	values[4] = Int32GetDatum(rate);
	values[5] = Int64GetDatum(period);
	values[6] = Int32GetDatum(burst);
	if (rate == 0)
		nulls[4] = nulls[5] = nulls[6] = 'n';
	values[7] = TimestampTzGetDatum(now);
	run(Q_UPSERT, values, nulls, 0);
	wake_head(name, NULL, 0, 0, now);
}

/* an operation in the line of a limiter being dropped */
typedef struct DroppedWaiter
{
	pg_uuid_t	id;
	int32		run_no;
	int32		op_id;
	Oid			owner;
} DroppedWaiter;

/*
 * durable_storage_limiter_drop
 *		Drops the limiter (its row locked by the caller) with its holders
 *		and its line; every operation in line is woken, to find it gone.
 */
void
durable_storage_limiter_drop(const char *name, TimestampTz now)
{
	Datum		values[1];
	uint64		n,
				i;
	List	   *waiters = NIL;
	ListCell   *lc;

	values[0] = CStringGetTextDatum(name);
	run(Q_DELETE, values, NULL, 0);
	run(Q_HOLDERS_DROP, values, NULL, 0);
	n = run(Q_WAITERS_DROP, values, NULL, 0);
	/* read the rows first: every send_wake runs a statement of its own */
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		DroppedWaiter *w = palloc(sizeof(DroppedWaiter));

		w->id = *DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull));
		w->run_no = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		w->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		w->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		waiters = lappend(waiters, w);
	}
	foreach(lc, waiters)
	{
		DroppedWaiter *w = lfirst(lc);

		send_wake(name, &w->id, w->run_no, w->op_id, w->owner, now);
	}
}

/*
 * durable_storage_limiter_take
 *		An operation asks for the limiter: LT_HELD when it holds it
 *		already, LT_TAKEN when it takes it now (a slot and a token), LT_WAIT
 *		when it must wait (it is in line; *wake_at is when to ask again,
 *		DT_NOEND: when woken; *queued: it joined the line now), LT_MISSING
 *		when the limiter does not exist or its owner may not use it.  When
 *		it takes the limiter and room is left, the next in line is woken.
 *		*waited: it was in line before it took the limiter.
 */
DurableLimiterTake
durable_storage_limiter_take(const char *name, const pg_uuid_t *id, int32 run_no,
							 int32 op_id, Oid owner, TimestampTz now,
							 TimestampTz *wake_at, bool *queued, bool *waited)
{
	LimiterRow	row;
	Datum		values[6];
	Datum		key[3];
	bool		isnull;
	uint64		n;
	bool		in_line = false;
	bool		first = true;
	int64		holders = 0;
	double		tokens = 0;

	*wake_at = DT_NOEND;
	*queued = false;
	*waited = false;
	/* held: its attempt runs now, without the limiter's row locked */
	op_values(key, id, run_no, op_id);
	if (run(Q_HELD, key, NULL, 1) > 0)
		return LT_HELD;
	values[0] = CStringGetTextDatum(name);
	if (run(Q_PEEK, values, NULL, 1) == 0)
		return LT_MISSING;
	row.owner = DatumGetObjectId(get_col(1, &isnull));
	row.roles = DatumGetArrayTypePCopy(get_col(2, &isnull));
	if (!may_use(&row, owner))
		return LT_MISSING;
	if (!lock_limiter(name, &row))
		return LT_MISSING;		/* dropped meanwhile */

	/* the line: who is first */
	values[0] = CStringGetTextDatum(name);
	n = run(Q_HEAD, values, NULL, 0);
	if (n > 0)
	{
		pg_uuid_t	head = *DatumGetUUIDP(get_col(1, &isnull));

		first = memcmp(&head, id, sizeof(head)) == 0 &&
			DatumGetInt32(get_col(2, &isnull)) == run_no &&
			DatumGetInt32(get_col(3, &isnull)) == op_id;
		in_line = first;
	}

	if (first && row.paused_until != DT_NOBEGIN && row.paused_until > now)
	{
		*wake_at = row.paused_until;
		goto wait;
	}
	if (first && row.max_concurrency > 0)
	{
		values[0] = CStringGetTextDatum(name);
		run(Q_HOLDERS_COUNT, values, NULL, 1);
		holders = DatumGetInt64(get_col(1, &isnull));
		if (holders >= row.max_concurrency)
			goto wait;			/* a release wakes the first in line */
	}
	if (first && row.rate > 0)
	{
		double		per_us = (double) row.rate / (double) row.period;

		tokens = row.tokens + (double) (now - row.refilled_at) * per_us;
		if (tokens > row.burst)
			tokens = row.burst;
		if (tokens < 1.0)
		{
			*wake_at = now + (int64) ceil((1.0 - tokens) / per_us);
			goto wait;
		}
	}
	if (!first)
		goto wait;

	/* it takes the limiter */
	if (row.rate > 0)
	{
		Datum		tv[3];

		tv[0] = CStringGetTextDatum(name);
		tv[1] = Float8GetDatum(tokens - 1.0);
		tv[2] = TimestampTzGetDatum(now);
		run(Q_TOKENS, tv, NULL, 0);
	}
	if (in_line)
		run(Q_WAITER_REMOVE, key, NULL, 0);
	*waited = in_line;
	values[0] = CStringGetTextDatum(name);
	values[1] = UUIDPGetDatum(id);
	values[2] = Int32GetDatum(run_no);
	values[3] = Int32GetDatum(op_id);
	values[4] = ObjectIdGetDatum(owner);
	values[5] = TimestampTzGetDatum(now);
	run(Q_HOLDER_ADD, values, NULL, 0);
	/* room left: the next in line may go too (or learn when its token comes) */
	if (row.max_concurrency == 0 || holders + 1 < row.max_concurrency)
		wake_head(name, id, run_no, op_id, now);
	return LT_TAKEN;

wait:
	values[0] = CStringGetTextDatum(name);
	values[1] = UUIDPGetDatum(id);
	values[2] = Int32GetDatum(run_no);
	values[3] = Int32GetDatum(op_id);
	values[4] = ObjectIdGetDatum(owner);
	values[5] = TimestampTzGetDatum(now);
	*queued = run(Q_WAITER_ADD, values, NULL, 0) > 0;
	return LT_WAIT;
}

/*
 * durable_storage_limiter_release
 *		The operation's attempt ended: it gives its limiter back, and the
 *		first in line is woken.  Nothing when it held none.
 */
void
durable_storage_limiter_release(const pg_uuid_t *id, int32 run_no, int32 op_id,
								TimestampTz now)
{
	Datum		key[3];
	char	   *limiter;
	LimiterRow	row;
	bool		isnull;

	op_values(key, id, run_no, op_id);
	if (run(Q_RELEASE, key, NULL, 1) == 0)
		return;
	limiter = TextDatumGetCString(get_col(1, &isnull));
	if (lock_limiter(limiter, &row))
		wake_head(limiter, NULL, 0, 0, now);
}

/* the limiters named in column 1 of the last statement's rows */
static List *
limiter_names(uint64 n)
{
	List	   *names = NIL;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *name = TextDatumGetCString(SPI_getbinval(SPI_tuptable->vals[i],
															 SPI_tuptable->tupdesc, 1,
															 &isnull));

		names = list_append_unique(names, makeString(name));
	}
	return names;
}

/*
 * durable_storage_limiters_release_execution
 *		An execution ends: what it holds is given back and its place in
 *		any line is given up; the first in line of each limiter concerned
 *		is woken.
 */
void
durable_storage_limiters_release_execution(const pg_uuid_t *id, TimestampTz now)
{
	Datum		values[1];
	List	   *names;
	ListCell   *lc;
	LimiterRow	row;

	values[0] = UUIDPGetDatum(id);
	names = limiter_names(run(Q_RELEASE_ALL, values, NULL, 0));
	names = list_concat_unique(names, limiter_names(run(Q_UNWAIT_ALL, values, NULL, 0)));
	foreach(lc, names)
	{
		const char *name = strVal(lfirst(lc));

		if (lock_limiter(name, &row))
			wake_head(name, NULL, 0, 0, now);
	}
}

/*
 * durable_storage_limiter_pause
 *		No operation takes the limiter before until (a server asked so with
 *		Retry-After).
 */
void
durable_storage_limiter_pause(const char *name, TimestampTz until)
{
	Datum		values[2];

	values[0] = CStringGetTextDatum(name);
	values[1] = TimestampTzGetDatum(until);
	run(Q_PAUSE, values, NULL, 0);
}

/*
 * durable_storage_limiter_waiting
 *		Whether a wake-up for this operation still means something: it is
 *		in the limiter's line, or the limiter is gone.
 */
bool
durable_storage_limiter_waiting(const char *name, const pg_uuid_t *id, int32 run_no,
								int32 op_id)
{
	Datum		values[4];
	bool		isnull;

	op_values(values, id, run_no, op_id);
	values[3] = CStringGetTextDatum(name);
	run(Q_WAITING, values, NULL, 1);
	return DatumGetBool(get_col(1, &isnull));
}
