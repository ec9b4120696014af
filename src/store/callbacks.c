/*-------------------------------------------------------------------------
 *
 * callbacks.c
 *	  Statements against durable.callbacks: the callbacks an execution
 *	  waits on, found by the hash of their token.
 *
 * Tokens are never stored, only their hashes (DURABLE_TOKEN_HASH_LEN
 * bytes).
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/callbacks.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "store/store.h"
#include "store/store_int.h"

/* durable.callbacks: Q_PURGE (maintenance.c) must name it */
typedef enum CallbacksQuery
{
	Q_CALLBACK_INSERT,
	Q_CALLBACK_COMPLETE,
	Q_CALLBACK_HEARTBEAT,
	Q_CALLBACK_GET,
	Q_CALLBACK_TIMEOUT,
	Q_CALLBACKS_CANCEL,
	Q_COUNT
} CallbacksQuery;

static const StorageStatement statements[Q_COUNT] = {
	[Q_CALLBACK_INSERT] = {
		"INSERT INTO durable.callbacks (token_hash, execution_id, run_no, op_id, name, "
		"status, timeout_at, heartbeat_timeout, heartbeat_at, owner, created_at) "
		"VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, $7 * interval '1 microsecond', $8, $9, $8)",
		9, {BYTEAOID, UUIDOID, INT4OID, INT4OID, TEXTOID, TIMESTAMPTZOID, INT8OID,
		TIMESTAMPTZOID, REGROLEOID}
	},
	/* a completion in time; the row says why not when it is not */
	[Q_CALLBACK_COMPLETE] = {
		"UPDATE durable.callbacks SET status = $2, result = $3, error = $4, completed_at = $5 "
		"WHERE token_hash = $1 AND status = 'PENDING' "
		"AND (timeout_at IS NULL OR timeout_at > $5) "
		"AND (heartbeat_timeout IS NULL OR heartbeat_at + heartbeat_timeout > $5) "
		"RETURNING execution_id, run_no, op_id, owner",
		5, {BYTEAOID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID}
	},
	[Q_CALLBACK_HEARTBEAT] = {
		"UPDATE durable.callbacks SET heartbeat_at = $2 "
		"WHERE token_hash = $1 AND status = 'PENDING' "
		"AND (timeout_at IS NULL OR timeout_at > $2) "
		"AND (heartbeat_timeout IS NULL OR heartbeat_at + heartbeat_timeout > $2)",
		2, {BYTEAOID, TIMESTAMPTZOID}
	},
	[Q_CALLBACK_GET] = {
		"SELECT execution_id, run_no, status, result, error, timeout_at, "
		"heartbeat_at + heartbeat_timeout "
		"FROM durable.callbacks WHERE token_hash = $1",
		1, {BYTEAOID}
	},
	[Q_CALLBACK_TIMEOUT] = {
		"UPDATE durable.callbacks SET status = 'TIMED_OUT', completed_at = $2 "
		"WHERE token_hash = $1 AND status = 'PENDING' "
		"AND (timeout_at <= $2 OR heartbeat_at + heartbeat_timeout <= $2) "
		"RETURNING coalesce(timeout_at <= $2, false)",
		2, {BYTEAOID, TIMESTAMPTZOID}
	},
	[Q_CALLBACKS_CANCEL] = {
		"UPDATE durable.callbacks SET status = 'CANCELLED', completed_at = $2 "
		"WHERE execution_id = $1 AND status = 'PENDING'",
		2, {UUIDOID, TIMESTAMPTZOID}
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

void
durable_storage_callback_insert(const uint8 *hash, const pg_uuid_t *id, int32 run_no,
								int32 op_id, const char *name, TimestampTz timeout_at,
								int64 heartbeat_us, Oid owner, TimestampTz now)
{
	Datum		values[9];
	char		nulls[9];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = hash_datum(hash);
	values[1] = UUIDPGetDatum(id);
	values[2] = Int32GetDatum(run_no);
	values[3] = Int32GetDatum(op_id);
	values[4] = CStringGetTextDatum(name);
	values[5] = ts_datum(timeout_at, &nulls[5]);
	values[6] = Int64GetDatum(heartbeat_us);
	nulls[6] = heartbeat_us > 0 ? ' ' : 'n';
	values[7] = TimestampTzGetDatum(now);
	values[8] = ObjectIdGetDatum(owner);
	run(Q_CALLBACK_INSERT, values, nulls, 0);
}

/*
 * durable_storage_callback_complete
 *		Completes a callback that is pending and within its deadlines;
 *		false when it is not (durable_storage_callback_get says why).
 */
bool
durable_storage_callback_complete(const uint8 *hash, const char *status, Jsonb *result,
								  Jsonb *error, TimestampTz now, pg_uuid_t *execution,
								  int32 *run_no, int32 *op_id, Oid *owner)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	bool		isnull;

	values[0] = hash_datum(hash);
	values[1] = CStringGetTextDatum(status);
	values[2] = jsonb_datum(result, &nulls[2]);
	values[3] = jsonb_datum(error, &nulls[3]);
	values[4] = TimestampTzGetDatum(now);
	if (run(Q_CALLBACK_COMPLETE, values, nulls, 0) != 1)
		return false;
	*execution = *DatumGetUUIDP(get_col(1, &isnull));
	*run_no = DatumGetInt32(get_col(2, &isnull));
	*op_id = DatumGetInt32(get_col(3, &isnull));
	*owner = DatumGetObjectId(get_col(4, &isnull));
	return true;
}

bool
durable_storage_callback_heartbeat(const uint8 *hash, TimestampTz now)
{
	Datum		values[2];

	values[0] = hash_datum(hash);
	values[1] = TimestampTzGetDatum(now);
	return run(Q_CALLBACK_HEARTBEAT, values, NULL, 0) == 1;
}

/*
 * durable_storage_callback_get
 *		A callback as it is; false when there is none.  Allocated in the
 *		current memory context.
 */
bool
durable_storage_callback_get(const uint8 *hash, DurableCallback *cb)
{
	Datum		values[1];
	bool		isnull;
	Datum		v;

	values[0] = hash_datum(hash);
	if (run(Q_CALLBACK_GET, values, NULL, 1) != 1)
		return false;
	cb->execution = *DatumGetUUIDP(get_col(1, &isnull));
	cb->run_no = DatumGetInt32(get_col(2, &isnull));
	cb->status = TextDatumGetCString(get_col(3, &isnull));
	v = get_col(4, &isnull);
	cb->result = isnull ? NULL : DatumGetJsonbPCopy(v);
	v = get_col(5, &isnull);
	cb->error = isnull ? NULL : DatumGetJsonbPCopy(v);
	v = get_col(6, &isnull);
	cb->timeout_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
	v = get_col(7, &isnull);
	cb->heartbeat_deadline = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
	return true;
}

/*
 * durable_storage_callback_timeout
 *		Times a pending callback out if one of its deadlines has passed;
 *		*total says whether it was the timeout (else the heartbeat).
 */
bool
durable_storage_callback_timeout(const uint8 *hash, TimestampTz now, bool *total)
{
	Datum		values[2];
	bool		isnull;

	values[0] = hash_datum(hash);
	values[1] = TimestampTzGetDatum(now);
	if (run(Q_CALLBACK_TIMEOUT, values, NULL, 0) != 1)
		return false;
	*total = DatumGetBool(get_col(1, &isnull));
	return true;
}

void
durable_storage_callbacks_cancel(const pg_uuid_t *id, TimestampTz now)
{
	Datum		values[2];

	values[0] = UUIDPGetDatum(id);
	values[1] = TimestampTzGetDatum(now);
	run(Q_CALLBACKS_CANCEL, values, NULL, 0);
}
