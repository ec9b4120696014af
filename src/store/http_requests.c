/*-------------------------------------------------------------------------
 *
 * http_requests.c
 *	  Statements against durable.http_requests: requests waiting for
 *	  and taken by the HTTP worker.
 *
 * A request's row lives from the operation that makes it until the HTTP
 * worker's answer is delivered; deleting rows tells the worker to drop
 * their transfers at commit.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/http_requests.c
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

/* durable.http_requests: Q_PURGE (maintenance.c) must name it */
typedef enum HttpRequestsQuery
{
	Q_HTTP_INSERT,
	Q_HTTP_IN_FLIGHT,
	Q_HTTP_CANCEL,
	Q_HTTP_TAKE,
	Q_HTTP_RELEASE,
	Q_HTTP_ORPHANS,
	Q_HTTP_DONE,
	Q_HTTP_EXISTING,
	Q_COUNT
} HttpRequestsQuery;

static const StorageStatement statements[Q_COUNT] = {
	[Q_HTTP_INSERT] = {
		"INSERT INTO durable.http_requests (execution_id, run_no, op_id, attempt, owner, "
		"request, options, idempotency_key, at_most_once, created_at) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
		10, {UUIDOID, INT4OID, INT4OID, INT4OID, REGROLEOID, JSONBOID, JSONBOID, TEXTOID,
		BOOLOID, TIMESTAMPTZOID}
	},
	[Q_HTTP_IN_FLIGHT] = {
		"SELECT 1 FROM durable.http_requests WHERE execution_id = $1 AND run_no = $2 "
		"AND op_id = $3",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	[Q_HTTP_CANCEL] = {
		"DELETE FROM durable.http_requests WHERE execution_id = $1",
		1, {UUIDOID}
	},
	/*
	 * New requests, at most $2: a role ($3) that has $4 in flight gets no
	 * more than $5 (0: no limit) in flight, and the roles take turns (each
	 * role's oldest first, the role with fewest in flight first).
	 */
	[Q_HTTP_TAKE] = {
		"UPDATE durable.http_requests r SET taken_at = $1 "
		"FROM (SELECT c.request_id FROM "
		"(SELECT request_id, owner::oid AS owner, "
		"row_number() OVER (PARTITION BY owner ORDER BY request_id) AS k "
		"FROM durable.http_requests WHERE taken_at IS NULL) c "
		"LEFT JOIN unnest($3::oid[], $4::int4[]) AS f(owner, n) ON f.owner = c.owner "
		"WHERE $5 = 0 OR c.k + coalesce(f.n, 0) <= $5 "
		"ORDER BY c.k + coalesce(f.n, 0), c.request_id LIMIT $2) n "
		"WHERE r.request_id = n.request_id AND r.taken_at IS NULL "
		"RETURNING r.request_id, r.execution_id, r.run_no, r.op_id, r.attempt, r.owner, "
		"r.request, r.options, r.idempotency_key, r.at_most_once",
		5, {TIMESTAMPTZOID, INT4OID, OIDARRAYOID, INT4ARRAYOID, INT4OID}
	},
	/* after a restart of the HTTP worker: taken requests are sent again ... */
	[Q_HTTP_RELEASE] = {
		"UPDATE durable.http_requests SET taken_at = NULL "
		"WHERE taken_at IS NOT NULL AND NOT at_most_once",
		0, {InvalidOid}
	},
	/* ... unless at most once: those the HTTP worker answers as unknown */
	[Q_HTTP_ORPHANS] = {
		"SELECT request_id, execution_id, run_no, op_id, attempt, owner, request, options, "
		"idempotency_key, at_most_once FROM durable.http_requests "
		"WHERE taken_at IS NOT NULL AND at_most_once",
		0, {InvalidOid}
	},
	[Q_HTTP_DONE] = {
		"DELETE FROM durable.http_requests WHERE request_id = $1 "
		"RETURNING execution_id, owner",
		1, {INT8OID}
	},
	/* which of these requests still have their rows */
	[Q_HTTP_EXISTING] = {
		"SELECT request_id FROM durable.http_requests WHERE request_id = ANY ($1)",
		1, {INT8ARRAYOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/* ----------------------------------------------------------------
 * HTTP requests and secrets
 * ----------------------------------------------------------------
 */

void
durable_storage_http_insert(const DurableExecution *ex, int32 op_id, int32 attempt,
							Jsonb *request, Jsonb *options, const char *idempotency_key,
							bool at_most_once, TimestampTz now)
{
	Datum		values[10];

	values[0] = UUIDPGetDatum(&ex->id);
	values[1] = Int32GetDatum(ex->run_no);
	values[2] = Int32GetDatum(op_id);
	values[3] = Int32GetDatum(attempt);
	values[4] = ObjectIdGetDatum(ex->owner);
	values[5] = JsonbPGetDatum(request);
	values[6] = JsonbPGetDatum(options);
	values[7] = CStringGetTextDatum(idempotency_key);
	values[8] = BoolGetDatum(at_most_once);
	values[9] = TimestampTzGetDatum(now);
	run(Q_HTTP_INSERT, values, NULL, 0);
}

/*
 * durable_storage_http_in_flight
 *		Whether an operation's request is with the HTTP worker: its lease.
 */
bool
durable_storage_http_in_flight(const pg_uuid_t *id, int32 run_no, int32 op_id)
{
	Datum		values[3];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	return run(Q_HTTP_IN_FLIGHT, values, NULL, 1) == 1;
}

void
durable_storage_http_cancel(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	if (run(Q_HTTP_CANCEL, values, NULL, 0) > 0)
		durable_http_cancel_at_commit();
}

static List *
http_rows(uint64 n)
{
	List	   *rows = NIL;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableHttpRow *r = palloc0(sizeof(DurableHttpRow));
		bool		isnull;

		r->request_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		r->execution = *DatumGetUUIDP(SPI_getbinval(tup, desc, 2, &isnull));
		r->run_no = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		r->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		r->attempt = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
		r->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 6, &isnull));
		r->request = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 7, &isnull));
		r->options = DatumGetJsonbPCopy(SPI_getbinval(tup, desc, 8, &isnull));
		r->idempotency_key = TextDatumGetCString(SPI_getbinval(tup, desc, 9, &isnull));
		r->at_most_once = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		rows = lappend(rows, r);
	}
	return rows;
}

/*
 * durable_storage_http_take
 *		Marks up to limit new requests taken and returns them, in the
 *		current memory context.
 */
List *
durable_storage_http_take(TimestampTz now, int limit, int nroles, Oid *roles,
						  int32 *in_flight, int per_role)
{
	Datum		values[5];
	Datum	   *r = palloc(sizeof(Datum) * Max(nroles, 1));
	Datum	   *n = palloc(sizeof(Datum) * Max(nroles, 1));
	int			i;

	for (i = 0; i < nroles; i++)
	{
		r[i] = ObjectIdGetDatum(roles[i]);
		n[i] = Int32GetDatum(in_flight[i]);
	}
	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(limit);
	values[2] = PointerGetDatum(construct_array(r, nroles, OIDOID, sizeof(Oid), true,
												TYPALIGN_INT));
	values[3] = PointerGetDatum(construct_array(n, nroles, INT4OID, sizeof(int32), true,
												TYPALIGN_INT));
	values[4] = Int32GetDatum(per_role);
	return http_rows(run(Q_HTTP_TAKE, values, NULL, 0));
}

/*
 * durable_storage_http_existing
 *		Which of these requests still have their rows: a List of int64 *.
 */
List *
durable_storage_http_existing(int n, int64 *ids)
{
	Datum		values[1];
	Datum	   *d = palloc(sizeof(Datum) * Max(n, 1));
	List	   *found = NIL;
	uint64		rows;
	uint64		i;
	bool		isnull;

	for (i = 0; i < (uint64) n; i++)
		d[i] = Int64GetDatum(ids[i]);
	values[0] = PointerGetDatum(construct_array(d, n, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
												TYPALIGN_DOUBLE));
	rows = run(Q_HTTP_EXISTING, values, NULL, 0);
	for (i = 0; i < rows; i++)
	{
		int64	   *id = palloc(sizeof(int64));

		*id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
										  &isnull));
		found = lappend(found, id);
	}
	return found;
}

/*
 * durable_storage_http_recover
 *		At the start of the HTTP worker: requests an earlier one had taken
 *		are new again, except those sent at most once, which are returned.
 */
List *
durable_storage_http_recover(void)
{
	run(Q_HTTP_RELEASE, NULL, NULL, 0);
	return http_rows(run(Q_HTTP_ORPHANS, NULL, NULL, 0));
}

/*
 * durable_storage_http_done
 *		Deletes an answered request; false when it is gone (its execution
 *		was stopped or finished meanwhile).
 */
bool
durable_storage_http_done(int64 request_id, pg_uuid_t *execution, Oid *owner)
{
	Datum		values[1];
	bool		isnull;

	values[0] = Int64GetDatum(request_id);
	if (run(Q_HTTP_DONE, values, NULL, 0) != 1)
		return false;
	*execution = *DatumGetUUIDP(get_col(1, &isnull));
	*owner = DatumGetObjectId(get_col(2, &isnull));
	return true;
}
