/*-------------------------------------------------------------------------
 *
 * inbox.c
 *	  Statements against durable.inbox and durable.events: the messages
 *	  that wake an execution and the events parked until it waits for them.
 *
 * Messages are taken in the order they were added; an event sent before
 * its execution waits for it is parked until durable_wait_event takes it.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/inbox.c
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

/* durable.inbox, durable.events: Q_PURGE (maintenance.c) must name each */
typedef enum InboxQuery
{
	Q_INBOX_ADD,
	Q_INBOX_TAKE,
	Q_INBOX_DELETE,
	Q_EVENT_PARK,
	Q_EVENT_TAKE,
	Q_EVENTS_DELETE,
	Q_COUNT
} InboxQuery;

static const StorageStatement statements[Q_COUNT] = {
	[Q_INBOX_ADD] = {
		"INSERT INTO durable.inbox (execution_id, kind, payload, owner, created_at) "
		"VALUES ($1, $2, $3, $4, $5)",
		5, {UUIDOID, TEXTOID, JSONBOID, REGROLEOID, TIMESTAMPTZOID}
	},
	[Q_INBOX_TAKE] = {
		"DELETE FROM durable.inbox WHERE execution_id = $1 "
		"RETURNING message_id, kind, payload, created_at",
		1, {UUIDOID}
	},
	[Q_INBOX_DELETE] = {
		"DELETE FROM durable.inbox WHERE execution_id = $1",
		1, {UUIDOID}
	},
	[Q_EVENT_PARK] = {
		"INSERT INTO durable.events (execution_id, event_id, name, payload, owner, sent_at) "
		"VALUES ($1, $2, $3, $4, $5, $6)",
		6, {UUIDOID, INT8OID, TEXTOID, JSONBOID, REGROLEOID, TIMESTAMPTZOID}
	},
	[Q_EVENT_TAKE] = {
		"DELETE FROM durable.events WHERE execution_id = $1 AND event_id = "
		"(SELECT event_id FROM durable.events WHERE execution_id = $1 AND name = $2 "
		"ORDER BY event_id LIMIT 1) RETURNING payload",
		2, {UUIDOID, TEXTOID}
	},
	[Q_EVENTS_DELETE] = {
		"DELETE FROM durable.events WHERE execution_id = $1",
		1, {UUIDOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_inbox_add
 *		Appends a message to an execution's inbox.
 */
void
durable_storage_inbox_add(const pg_uuid_t *id, const char *kind, Jsonb *payload,
						  Oid owner, TimestampTz now)
{
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = UUIDPGetDatum(id);
	values[1] = CStringGetTextDatum(kind);
	values[2] = jsonb_datum(payload, &nulls[2]);
	values[3] = ObjectIdGetDatum(owner);
	values[4] = TimestampTzGetDatum(now);
	run(Q_INBOX_ADD, values, nulls, 0);
}

static int
message_cmp(const ListCell *a, const ListCell *b)
{
	const DurableMessage *ma = lfirst(a);
	const DurableMessage *mb = lfirst(b);

	return ma->message_id < mb->message_id ? -1 : ma->message_id > mb->message_id ? 1 : 0;
}

/*
 * durable_storage_inbox_take
 *		Deletes the messages of an execution and returns them, oldest first,
 *		allocated in the current memory context.  Messages committed after
 *		this statement's snapshot stay for the next claim.
 */
List *
durable_storage_inbox_take(const pg_uuid_t *id)
{
	Datum		values[1];
	uint64		n,
				i;
	List	   *msgs = NIL;

	values[0] = UUIDPGetDatum(id);
	n = run(Q_INBOX_TAKE, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableMessage *m = palloc0(sizeof(DurableMessage));
		bool		isnull;
		Datum		v;

		m->message_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		m->kind = TextDatumGetCString(SPI_getbinval(tup, desc, 2, &isnull));
		v = SPI_getbinval(tup, desc, 3, &isnull);
		m->payload = isnull ? NULL : DatumGetJsonbPCopy(v);
		m->created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 4, &isnull));
		msgs = lappend(msgs, m);
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
	list_sort(msgs, message_cmp);
	return msgs;
}

void
durable_storage_inbox_delete(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	run(Q_INBOX_DELETE, values, NULL, 0);
}

void
durable_storage_event_park(const pg_uuid_t *id, int64 event_id, const char *name,
						   Jsonb *payload, Oid owner, TimestampTz sent_at)
{
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

	values[0] = UUIDPGetDatum(id);
	values[1] = Int64GetDatum(event_id);
	values[2] = CStringGetTextDatum(name);
	values[3] = jsonb_datum(payload, &nulls[3]);
	values[4] = ObjectIdGetDatum(owner);
	values[5] = TimestampTzGetDatum(sent_at);
	run(Q_EVENT_PARK, values, nulls, 0);
}

/*
 * durable_storage_event_take
 *		Takes the oldest kept event of a name; false when there is none.
 */
bool
durable_storage_event_take(const pg_uuid_t *id, const char *name, Jsonb **payload)
{
	Datum		values[2];
	bool		isnull;
	Datum		v;

	values[0] = UUIDPGetDatum(id);
	values[1] = CStringGetTextDatum(name);
	if (run(Q_EVENT_TAKE, values, NULL, 0) != 1)
		return false;
	v = get_col(1, &isnull);
	*payload = isnull ? NULL : DatumGetJsonbPCopy(v);
	return true;
}

void
durable_storage_events_delete(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	run(Q_EVENTS_DELETE, values, NULL, 0);
}
