/*-------------------------------------------------------------------------
 *
 * children.c
 *	  Statements against durable.children: the child executions of
 *	  parallel, map and invoke operations, and what durable_results reads.
 *
 * One row per child (per batch of a map); a row is WAITING until its
 * child starts, RUNNING until it reports, then has its outcome.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/children.c
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

/* durable.children: Q_PURGE (maintenance.c) must name it */
typedef enum ChildrenQuery
{
	Q_CHILDREN_INSERT_MAP,
	Q_CHILD_INSERT,
	Q_CHILDREN_NEXT,
	Q_CHILD_STARTED,
	Q_CHILD_DONE,
	Q_CHILDREN_RUNNING,
	Q_CHILDREN_CANCEL,
	Q_CHILDREN_RESULTS,
	Q_RESULT_OPS,
	Q_RESULT_ROWS,
	Q_COUNT
} ChildrenQuery;

static const StorageStatement statements[Q_COUNT] = {
	/* the items of a map, one row per child (batch_size items, or one) */
	[Q_CHILDREN_INSERT_MAP] = {
		"INSERT INTO durable.children (parent_id, run_no, op_id, idx, workflow, input, "
		"items, status, owner) "
		"SELECT $1, $2, $3, b.idx, $4, "
		"CASE WHEN $6 = 0 THEN jsonb_build_object('item', b.items -> 0, 'index', b.first) "
		"ELSE jsonb_build_object('items', b.items, 'index', b.first) END, "
		"b.n, 'WAITING', $7 "
		"FROM (SELECT ((t.i - 1) / greatest($6, 1))::integer AS idx, min(t.i - 1) AS first, "
		"jsonb_agg(t.x ORDER BY t.i) AS items, count(*)::integer AS n "
		"FROM jsonb_array_elements($5) WITH ORDINALITY AS t(x, i) GROUP BY 1) b",
		7, {UUIDOID, INT4OID, INT4OID, TEXTOID, JSONBOID, INT4OID, REGROLEOID}
	},
	[Q_CHILD_INSERT] = {
		"INSERT INTO durable.children (parent_id, run_no, op_id, idx, name, workflow, "
		"input, items, status, owner) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, 'WAITING', $8)",
		8, {UUIDOID, INT4OID, INT4OID, INT4OID, TEXTOID, TEXTOID, JSONBOID, REGROLEOID}
	},
	[Q_CHILDREN_NEXT] = {
		"SELECT idx, workflow, input FROM durable.children "
		"WHERE parent_id = $1 AND run_no = $2 AND op_id = $3 AND idx >= $4 "
		"ORDER BY idx LIMIT $5",
		5, {UUIDOID, INT4OID, INT4OID, INT4OID, INT4OID}
	},
	[Q_CHILD_STARTED] = {
		"UPDATE durable.children SET child_id = $5, status = 'RUNNING', started_at = $6 "
		"WHERE parent_id = $1 AND run_no = $2 AND op_id = $3 AND idx = $4",
		6, {UUIDOID, INT4OID, INT4OID, INT4OID, UUIDOID, TIMESTAMPTZOID}
	},
	[Q_CHILD_DONE] = {
		"UPDATE durable.children SET status = $5, result = $6, error = $7, finished_at = $8 "
		"WHERE parent_id = $1 AND run_no = $2 AND op_id = $3 AND idx = $4 "
		"AND status = 'RUNNING' RETURNING items",
		8, {UUIDOID, INT4OID, INT4OID, INT4OID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID}
	},
	/* the running children of one operation, or of every one ($2 = 0) */
	[Q_CHILDREN_RUNNING] = {
		"SELECT child_id, run_no, op_id, idx FROM durable.children "
		"WHERE parent_id = $1 AND status = 'RUNNING' "
		"AND ($2 = 0 OR (run_no = $2 AND op_id = $3))",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	[Q_CHILDREN_CANCEL] = {
		"UPDATE durable.children SET status = 'CANCELLED', finished_at = $4 "
		"WHERE parent_id = $1 AND status = 'WAITING' "
		"AND ($2 = 0 OR (run_no = $2 AND op_id = $3))",
		4, {UUIDOID, INT4OID, INT4OID, TIMESTAMPTZOID}
	},
	[Q_CHILDREN_RESULTS] = {
		"SELECT idx, name, items, status, result, error FROM durable.children "
		"WHERE parent_id = $1 AND run_no = $2 AND op_id = $3 ORDER BY idx",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	/* durable_results: the operations with branches, every run, by name */
	[Q_RESULT_OPS] = {
		"SELECT run_no, op_id, name, kind = 'map' FROM durable.operations "
		"WHERE execution_id = $1 AND kind IN ('invoke', 'parallel', 'map') "
		"AND ($2::text IS NULL OR name = $2) ORDER BY run_no, op_id",
		2, {UUIDOID, TEXTOID}
	},
	/*
	 * durable_results: one row per item of an operation ($4: a map), a
	 * batch's result array unfolded; the result only of those that
	 * succeeded, as in the operation's result array.
	 */
	[Q_RESULT_ROWS] = {
		"SELECT CASE WHEN k.k IS NULL THEN c.idx "
		"ELSE (c.input ->> 'index')::integer + k.k END, "
		"c.name, c.status, "
		"CASE WHEN c.status <> 'SUCCEEDED' THEN NULL WHEN k.k IS NULL THEN c.result "
		"ELSE c.result -> k.k END, "
		"c.error FROM durable.children c "
		"LEFT JOIN LATERAL generate_series(0, c.items - 1) AS k(k) "
		"ON $4 AND c.input ? 'items' "
		"WHERE c.parent_id = $1 AND c.run_no = $2 AND c.op_id = $3 "
		"ORDER BY c.idx, k.k",
		4, {UUIDOID, INT4OID, INT4OID, BOOLOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_children_insert_map
 *		One row per child of a map: per item, or per batch of batch_size
 *		items; returns how many.
 */
int
durable_storage_children_insert_map(const pg_uuid_t *parent, int32 run_no, int32 op_id,
									const char *workflow, Jsonb *items, int batch_size,
									Oid owner)
{
	Datum		values[7];

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	values[3] = CStringGetTextDatum(workflow);
	values[4] = JsonbPGetDatum(items);
	values[5] = Int32GetDatum(batch_size);
	values[6] = ObjectIdGetDatum(owner);
	return (int) run(Q_CHILDREN_INSERT_MAP, values, NULL, 0);
}

void
durable_storage_child_insert(const pg_uuid_t *parent, int32 run_no, int32 op_id, int idx,
							 const char *name, const char *workflow, Jsonb *input,
							 Oid owner)
{
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	values[3] = Int32GetDatum(idx);
	values[4] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[4] = name ? ' ' : 'n';
	values[5] = CStringGetTextDatum(workflow);
	values[6] = jsonb_datum(input, &nulls[6]);
	values[7] = ObjectIdGetDatum(owner);
	run(Q_CHILD_INSERT, values, nulls, 0);
}

/*
 * durable_storage_children_next
 *		Up to limit children of an operation from index first on, in order:
 *		a list of DurableChildRow, allocated in the current memory context.
 */
List *
durable_storage_children_next(const pg_uuid_t *parent, int32 run_no, int32 op_id,
							  int first, int limit)
{
	Datum		values[5];
	uint64		n,
				i;
	List	   *rows = NIL;

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	values[3] = Int32GetDatum(first);
	values[4] = Int32GetDatum(limit);
	n = run(Q_CHILDREN_NEXT, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableChildRow *r = palloc0(sizeof(DurableChildRow));
		bool		isnull;
		Datum		v;

		r->idx = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		r->workflow = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		v = SPI_getbinval(tup, desc, 3, &isnull);
		r->input = isnull ? NULL : DatumGetJsonbPCopy(v);
		rows = lappend(rows, r);
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
	return rows;
}

void
durable_storage_child_started(const pg_uuid_t *parent, int32 run_no, int32 op_id, int idx,
							  const pg_uuid_t *child, TimestampTz now)
{
	Datum		values[6];

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	values[3] = Int32GetDatum(idx);
	values[4] = UUIDPGetDatum(child);
	values[5] = TimestampTzGetDatum(now);
	run(Q_CHILD_STARTED, values, NULL, 0);
}

/*
 * durable_storage_child_done
 *		Records how a running child ended; returns the number of items it
 *		held, or 0 when it was not running (a late or repeated report).
 */
int
durable_storage_child_done(const pg_uuid_t *parent, int32 run_no, int32 op_id, int idx,
						   const char *status, Jsonb *result, Jsonb *error,
						   TimestampTz now)
{
	Datum		values[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	bool		isnull;

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	values[3] = Int32GetDatum(idx);
	values[4] = CStringGetTextDatum(status);
	values[5] = jsonb_datum(result, &nulls[5]);
	values[6] = jsonb_datum(error, &nulls[6]);
	values[7] = TimestampTzGetDatum(now);
	if (run(Q_CHILD_DONE, values, nulls, 0) != 1)
		return 0;
	return DatumGetInt32(get_col(1, &isnull));
}

/*
 * durable_storage_children_running
 *		The running children of an operation (of every operation of the
 *		execution when run_no is 0): a list of DurableChildRow.
 */
List *
durable_storage_children_running(const pg_uuid_t *parent, int32 run_no, int32 op_id)
{
	Datum		values[3];
	uint64		n,
				i;
	List	   *rows = NIL;

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	n = run(Q_CHILDREN_RUNNING, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableChildRow *r = palloc0(sizeof(DurableChildRow));
		bool		isnull;

		r->child_id = *DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull));
		r->run_no = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		r->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		r->idx = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		rows = lappend(rows, r);
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
	return rows;
}

void
durable_storage_children_cancel(const pg_uuid_t *parent, int32 run_no, int32 op_id,
								TimestampTz now)
{
	Datum		values[4];

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	values[3] = TimestampTzGetDatum(now);
	run(Q_CHILDREN_CANCEL, values, NULL, 0);
}

/*
 * durable_storage_children_results
 *		Every child row of an operation in order: a list of DurableChildRow
 *		with name, items, status, result and error.
 */
List *
durable_storage_children_results(const pg_uuid_t *parent, int32 run_no, int32 op_id)
{
	Datum		values[3];
	uint64		n,
				i;
	List	   *rows = NIL;

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	n = run(Q_CHILDREN_RESULTS, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableChildRow *r = palloc0(sizeof(DurableChildRow));
		bool		isnull;
		Datum		v;

		r->idx = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		v = SPI_getbinval(tup, desc, 2, &isnull);
		r->name = isnull ? NULL : TextDatumGetCString(v);
		r->items = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		r->status = TextDatumGetCString(SPI_getbinval(tup, desc, 4, &isnull));
		v = SPI_getbinval(tup, desc, 5, &isnull);
		r->result = isnull ? NULL : DatumGetJsonbPCopy(v);
		v = SPI_getbinval(tup, desc, 6, &isnull);
		r->error = isnull ? NULL : DatumGetJsonbPCopy(v);
		rows = lappend(rows, r);
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
	return rows;
}

/*
 * durable_storage_result_ops
 *		The operations of an execution that have branches (invoke, parallel,
 *		map), every run, in order; only those named operation unless NULL.
 *		A list of DurableResultOp.
 */
List *
durable_storage_result_ops(const pg_uuid_t *parent, const char *operation)
{
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	uint64		n,
				i;
	List	   *ops = NIL;

	values[0] = UUIDPGetDatum(parent);
	values[1] = operation ? CStringGetTextDatum(operation) : (Datum) 0;
	nulls[1] = operation ? ' ' : 'n';
	n = run(Q_RESULT_OPS, values, nulls, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableResultOp *op = palloc0(sizeof(DurableResultOp));
		bool		isnull;

		op->run_no = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		op->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		op->name = TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull));
		op->map = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		ops = lappend(ops, op);
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
	return ops;
}

/*
 * durable_storage_result_rows
 *		Appends to store (of desc: run_no, op_id, operation, idx, name,
 *		status, result, error) one row per item or branch of op.
 */
void
durable_storage_result_rows(const pg_uuid_t *parent, const DurableResultOp *op,
							Tuplestorestate *store, TupleDesc desc)
{
	Datum		values[4];
	uint64		n,
				i;
	int			k;

	values[0] = UUIDPGetDatum(parent);
	values[1] = Int32GetDatum(op->run_no);
	values[2] = Int32GetDatum(op->op_id);
	values[3] = BoolGetDatum(op->map);
	n = run(Q_RESULT_ROWS, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		Datum		row[8];
		bool		rownulls[8];

		memset(rownulls, 0, sizeof(rownulls));
		row[0] = Int32GetDatum(op->run_no);
		row[1] = Int32GetDatum(op->op_id);
		row[2] = CStringGetTextDatum(op->name);
		for (k = 0; k < 5; k++)
			row[3 + k] = SPI_getbinval(tup, SPI_tuptable->tupdesc, k + 1, &rownulls[3 + k]);
		tuplestore_putvalues(store, desc, row, rownulls);
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
}
