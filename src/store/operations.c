/*-------------------------------------------------------------------------
 *
 * operations.c
 *	  Statements against durable.operations and durable.history: the
 *	  checkpoints of a run and the events of an execution.
 *
 * A drive loads the checkpoints of its run once and writes back those it
 * changed; history is appended only (maintenance.c trims it).
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/operations.c
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

/* durable.operations, durable.history: Q_PURGE (maintenance.c) must name each */
typedef enum OperationsQuery
{
	Q_LOAD_OPS,
	Q_INSERT_OP,
	Q_UPDATE_OP,
	Q_HISTORY,
	Q_CANCEL_OPS,
	Q_COUNT
} OperationsQuery;

static const StorageStatement statements[Q_COUNT] = {
	[Q_LOAD_OPS] = {
		"SELECT op_id, parent_op_id, position, name, kind, status, attempt, result, "
		"error, wake_at, started_at, finished_at "
		"FROM durable.operations WHERE execution_id = $1 AND run_no = $2",
		2, {UUIDOID, INT4OID}
	},
	[Q_INSERT_OP] = {
		"INSERT INTO durable.operations (execution_id, run_no, op_id, parent_op_id, "
		"position, name, kind, status, attempt, result, error, owner, wake_at, "
		"started_at, finished_at) "
		"VALUES ($1, $2, $3, NULLIF($4, 0), $5, $6, $7, $8, $9, $10, $11, $12, "
		"$13, $14, $15)",
		15, {UUIDOID, INT4OID, INT4OID, INT4OID, INT4OID, TEXTOID, TEXTOID, TEXTOID,
			INT4OID, JSONBOID, JSONBOID, REGROLEOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
		TIMESTAMPTZOID}
	},
	[Q_UPDATE_OP] = {
		"UPDATE durable.operations SET status = $4, attempt = $5, result = $6, "
		"error = $7, wake_at = $8, finished_at = $9 "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3",
		9, {UUIDOID, INT4OID, INT4OID, TEXTOID, INT4OID, JSONBOID, JSONBOID,
		TIMESTAMPTZOID, TIMESTAMPTZOID}
	},
	[Q_HISTORY] = {
		"INSERT INTO durable.history (execution_id, run_no, at, event, op_id, "
		"position, name, kind, details, owner) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		10, {UUIDOID, INT4OID, TIMESTAMPTZOID, TEXTOID, INT4OID, INT4OID, TEXTOID,
		TEXTOID, JSONBOID, REGROLEOID}
	},
	[Q_CANCEL_OPS] = {
		"UPDATE durable.operations SET status = 'CANCELLED', finished_at = $3 "
		"WHERE execution_id = $1 AND run_no = $2 AND status IN ('STARTED', 'PENDING')",
		3, {UUIDOID, INT4OID, TIMESTAMPTZOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_load_ops
 *		Loads the checkpoints of the current run into the drive's hash.
 */
void
durable_storage_load_ops(DurableDrive *d)
{
	Datum		values[2];
	uint64		n,
				i;
	MemoryContext old;

	values[0] = UUIDPGetDatum(&d->ex.id);
	values[1] = Int32GetDatum(d->ex.run_no);
	n = run(Q_LOAD_OPS, values, NULL, 0);

	old = MemoryContextSwitchTo(d->cxt);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableOpKey key;
		DurableOp  *op;
		bool		isnull;
		bool		found;
		Datum		v;

		v = SPI_getbinval(tup, desc, 2, &isnull);
		key.parent_op_id = isnull ? 0 : DatumGetInt32(v);
		key.position = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		op = (DurableOp *) hash_search(d->ops, &key, HASH_ENTER, &found);
		op->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		op->name = TextDatumGetCString(SPI_getbinval(tup, desc, 4, &isnull));
		op->kind = durable_kind_by_name(TextDatumGetCString(SPI_getbinval(tup, desc, 5, &isnull)));
		op->status = status_from_name(TextDatumGetCString(SPI_getbinval(tup, desc, 6, &isnull)));
		op->attempt = DatumGetInt32(SPI_getbinval(tup, desc, 7, &isnull));
		v = SPI_getbinval(tup, desc, 8, &isnull);
		op->result = isnull ? NULL : DatumGetJsonbPCopy(v);
		v = SPI_getbinval(tup, desc, 9, &isnull);
		op->error = isnull ? NULL : DatumGetJsonbPCopy(v);
		v = SPI_getbinval(tup, desc, 10, &isnull);
		op->wake_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
		op->started_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 11, &isnull));
		v = SPI_getbinval(tup, desc, 12, &isnull);
		op->finished_at = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
		op->stored = true;
		op->dirty = false;
		op->quiet = false;
		if (op->op_id > d->max_op_id)
			d->max_op_id = op->op_id;
		if (op->result != NULL && op->status == DOS_SUCCEEDED && op->kind->counts_bytes)
			d->ckpt_bytes += VARSIZE(op->result);
	}
	MemoryContextSwitchTo(old);
	SPI_freetuptable(SPI_tuptable);
}

/*
 * durable_storage_write_op
 *		Inserts or updates a checkpoint.
 */
void
durable_storage_write_op(DurableDrive *d, DurableOp *op)
{
	Datum		values[15];
	char		nulls[15];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(&d->ex.id);
	values[1] = Int32GetDatum(d->ex.run_no);
	values[2] = Int32GetDatum(op->op_id);
	if (!op->stored)
	{
		values[3] = Int32GetDatum(op->key.parent_op_id);
		values[4] = Int32GetDatum(op->key.position);
		values[5] = CStringGetTextDatum(op->name);
		values[6] = CStringGetTextDatum(durable_op_kind_name(op->kind));
		values[7] = CStringGetTextDatum(durable_op_status_name(op->status));
		values[8] = Int32GetDatum(op->attempt);
		values[9] = jsonb_datum(op->result, &nulls[9]);
		values[10] = jsonb_datum(op->error, &nulls[10]);
		values[11] = ObjectIdGetDatum(d->ex.owner);
		values[12] = ts_datum(op->wake_at, &nulls[12]);
		values[13] = TimestampTzGetDatum(op->started_at);
		values[14] = ts_datum(op->finished_at, &nulls[14]);
		run(Q_INSERT_OP, values, nulls, 0);
	}
	else
	{
		values[3] = CStringGetTextDatum(durable_op_status_name(op->status));
		values[4] = Int32GetDatum(op->attempt);
		values[5] = jsonb_datum(op->result, &nulls[5]);
		values[6] = jsonb_datum(op->error, &nulls[6]);
		values[7] = ts_datum(op->wake_at, &nulls[7]);
		values[8] = ts_datum(op->finished_at, &nulls[8]);
		run(Q_UPDATE_OP, values, nulls, 0);
	}
	op->stored = true;
	op->dirty = false;
}

/*
 * durable_storage_history
 *		Appends an event to an execution's history.
 */
void
durable_storage_history(const pg_uuid_t *id, int32 run_no, Oid owner,
						const char *event, const DurableOp *op, Jsonb *details)
{
	Datum		values[10];
	char		nulls[10];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = TimestampTzGetDatum(durable_clock_now());
	values[3] = CStringGetTextDatum(event);
	if (op != NULL)
	{
		values[4] = Int32GetDatum(op->op_id);
		values[5] = Int32GetDatum(op->key.position);
		values[6] = CStringGetTextDatum(op->name);
		values[7] = CStringGetTextDatum(durable_op_kind_name(op->kind));
	}
	else
		nulls[4] = nulls[5] = nulls[6] = nulls[7] = 'n';
	values[8] = jsonb_datum(details, &nulls[8]);
	values[9] = ObjectIdGetDatum(owner);
	run(Q_HISTORY, values, nulls, 0);
}

/*
 * durable_storage_cancel_ops
 *		Marks the operations of a run that are still waiting CANCELLED.
 */
void
durable_storage_cancel_ops(const pg_uuid_t *id, int32 run_no, TimestampTz now)
{
	Datum		values[3];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = TimestampTzGetDatum(now);
	run(Q_CANCEL_OPS, values, NULL, 0);
}
