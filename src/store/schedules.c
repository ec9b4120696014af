/*-------------------------------------------------------------------------
 *
 * schedules.c
 *	  Statements against durable.schedules: the workflows started on a
 *	  cron schedule, with their pg_cron job.
 *
 * Schedules are named per owner; the pg_cron side is api/cron.c's.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/schedules.c
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

/* durable.schedules: Q_PURGE (maintenance.c) must name it */
typedef enum SchedulesQuery
{
	Q_SCHEDULE_GET,
	Q_SCHEDULE_INSERT,
	Q_SCHEDULE_DELETE,
	Q_COUNT
} SchedulesQuery;

static const StorageStatement statements[Q_COUNT] = {
	/* the schedules of a name, the caller's ($2) first (names are per owner) */
	[Q_SCHEDULE_GET] = {
		"SELECT owner, jobid FROM durable.schedules WHERE name = $1 "
		"ORDER BY owner <> $2, owner",
		2, {TEXTOID, REGROLEOID}
	},
	[Q_SCHEDULE_INSERT] = {
		"INSERT INTO durable.schedules (name, owner, schedule, workflow, input, "
		"options, search_path, jobid, created_at) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
		9, {TEXTOID, REGROLEOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, TEXTOID,
		INT8OID, TIMESTAMPTZOID}
	},
	[Q_SCHEDULE_DELETE] = {
		"DELETE FROM durable.schedules WHERE name = $1 AND owner = $2",
		2, {TEXTOID, REGROLEOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_schedule_get
 *		The owner and pg_cron job of a schedule; false when there is none.
 *		Schedule names are per owner, and resolve as execution names do:
 *		the current role's schedule of that name, or else (unless own_only)
 *		the one schedule of that name among the roles it controls; several
 *		there are an error.
 */
bool
durable_storage_schedule_get(const char *name, bool own_only, Oid *owner, int64 *jobid)
{
	Datum		values[2];
	bool		isnull;
	Oid			caller = GetUserId();
	uint64		n;
	uint64		i;
	int			visible = 0;

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(caller);
	n = run(Q_SCHEDULE_GET, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Oid			o = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));

		if (o != caller && (own_only || !durable_caller_controls(o)))
			continue;
		if (visible++ == 0)
		{
			*owner = o;
			*jobid = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			if (o == caller)
				return true;
		}
	}
	if (visible > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
				 errmsg("schedule name \"%s\" is ambiguous", name),
				 errdetail("Role \"%s\" has no schedule of that name, and %d roles whose schedules it may control have one each.",
						   GetUserNameFromId(caller, false), visible),
				 errhint("Schedule names are per owner: run it as (SET ROLE) the owner, see durable.schedules.")));
	return visible == 1;
}

/*
 * durable_storage_schedule_insert
 *		Stores a schedule; false when the owner has one of that name (or,
 *		before the update to 1.2, anyone has).
 */
bool
durable_storage_schedule_insert(const char *name, Oid owner, const char *cron,
								const char *workflow, Jsonb *input, Jsonb *options,
								const char *search_path, int64 jobid,
								TimestampTz now)
{
	Datum		values[9];

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(owner);
	values[2] = CStringGetTextDatum(cron);
	values[3] = CStringGetTextDatum(workflow);
	values[4] = JsonbPGetDatum(input);
	values[5] = JsonbPGetDatum(options);
	values[6] = CStringGetTextDatum(search_path);
	values[7] = Int64GetDatum(jobid);
	values[8] = TimestampTzGetDatum(now);
	return run(Q_SCHEDULE_INSERT, values, NULL, 0) == 1;
}

void
durable_storage_schedule_delete(const char *name, Oid owner)
{
	Datum		values[2];

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(owner);
	run(Q_SCHEDULE_DELETE, values, NULL, 0);
}
