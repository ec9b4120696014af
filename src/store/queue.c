/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Statements against durable.queue, and the claims of ready work
 *	  (queue rows and inbox messages) by workers and durable_drive.
 *
 * A claim takes the owners known to have ready work in turns, remembering
 * per owner where the last pass got to (DurableQueueCursor), so that one
 * owner's backlog does not starve the others.  Drive errors are counted on
 * the queue row and back off its next drive.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/queue.c
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

/* durable.queue: Q_PURGE (maintenance.c) must name it */
typedef enum QueueQuery
{
	Q_LOCK_QUEUE,
	Q_QUEUE_SET,
	Q_QUEUE_DELETE,
	Q_QUEUE_DELETE_XQ,
	Q_READY_OWNERS,
	Q_CLAIM_ANY,
	Q_CLAIM_READY,
	Q_CLAIM_ANY_XQ,
	Q_CLAIM_READY_XQ,
	Q_NOTE_DRIVE_ERROR,
	Q_QUEUE_BACKOFF,
	Q_NEXT_DUE,
	Q_CLAIM_INBOX,
	Q_CLAIM_INBOX_11,
	Q_CLAIM_ANY_INBOX,
	Q_CLAIM_ANY_INBOX_11,
	Q_COUNT
} QueueQuery;

static const StorageStatement statements[Q_COUNT] = {
	[Q_LOCK_QUEUE] = {
		"SELECT 1 FROM durable.queue WHERE execution_id = $1 FOR UPDATE",
		1, {UUIDOID}
	},
	[Q_QUEUE_SET] = {
		"INSERT INTO durable.queue (execution_id, due_at, owner) VALUES ($1, $2, $3) "
		"ON CONFLICT (execution_id) DO UPDATE SET due_at = excluded.due_at",
		3, {UUIDOID, TIMESTAMPTZOID, REGROLEOID}
	},
	[Q_QUEUE_DELETE] = {
		"DELETE FROM durable.queue WHERE execution_id = $1",
		1, {UUIDOID}
	},
	/* the same, saying which queue of executions it was admitted by */
	[Q_QUEUE_DELETE_XQ] = {
		"DELETE FROM durable.queue WHERE execution_id = $1 "
		"RETURNING CASE WHEN queue_admitted THEN queue_name END",
		1, {UUIDOID}
	},
	/*
	 * The owners (oids, at most 32, in order) that have work ready and whose
	 * executions the caller may drive: a queue row due by $1, or a message
	 * in an inbox.  A loose index scan over the distinct owners of each
	 * table: two index descents per owner.  Here and in the claims within an
	 * owner, the owner is bounded by row comparisons, not an equality: with
	 * an equality the planner may take queue_due_idx (or inbox_message_idx),
	 * whose order also fits, and filter the owner, walking every other
	 * owner's entries.
	 */
	[Q_READY_OWNERS] = {
		"WITH RECURSIVE qo(o) AS ("
		"SELECT (SELECT owner::oid FROM durable.queue ORDER BY owner::oid LIMIT 1) "
		"UNION ALL SELECT (SELECT x.owner::oid FROM durable.queue x WHERE x.owner::oid > qo.o "
		"ORDER BY x.owner::oid LIMIT 1) FROM qo WHERE qo.o IS NOT NULL), "
		"io(o) AS ("
		"SELECT (SELECT owner::oid FROM durable.inbox ORDER BY owner::oid LIMIT 1) "
		"UNION ALL SELECT (SELECT x.owner::oid FROM durable.inbox x WHERE x.owner::oid > io.o "
		"ORDER BY x.owner::oid LIMIT 1) FROM io WHERE io.o IS NOT NULL) "
		"SELECT o FROM ("
		"SELECT qo.o FROM qo WHERE qo.o IS NOT NULL "
		"AND (SELECT true FROM durable.queue q "
		"WHERE (q.owner::oid, q.due_at) >= (qo.o, '-infinity'::timestamptz) "
		"AND (q.owner::oid, q.due_at) <= (qo.o, $1) "
		"ORDER BY q.owner::oid, q.due_at LIMIT 1) "
		"UNION SELECT io.o FROM io WHERE io.o IS NOT NULL) s "
		"WHERE ($2 OR pg_has_role($3, o, 'USAGE')) ORDER BY o LIMIT 32",
		3, {TIMESTAMPTZOID, BOOLOID, OIDOID}
	},
	/* the oldest due queue row of any owner after the cursor */
	[Q_CLAIM_ANY] = {
		"SELECT execution_id, due_at, owner::oid FROM durable.queue "
		"WHERE due_at <= $1 AND ($2 OR pg_has_role($3, owner, 'USAGE')) "
		"AND (due_at, execution_id) > ($4, $5) "
		"ORDER BY due_at, execution_id LIMIT 1 FOR UPDATE SKIP LOCKED",
		5, {TIMESTAMPTZOID, BOOLOID, OIDOID, TIMESTAMPTZOID, UUIDOID}
	},
	/* the same two, saying whether the row is a gate of a queue of executions */
	[Q_CLAIM_ANY_XQ] = {
		"SELECT execution_id, due_at, owner::oid, NOT queue_admitted FROM durable.queue "
		"WHERE due_at <= $1 AND ($2 OR pg_has_role($3, owner, 'USAGE')) "
		"AND (due_at, execution_id) > ($4, $5) "
		"ORDER BY due_at, execution_id LIMIT 1 FOR UPDATE SKIP LOCKED",
		5, {TIMESTAMPTZOID, BOOLOID, OIDOID, TIMESTAMPTZOID, UUIDOID}
	},
	[Q_CLAIM_READY_XQ] = {
		"SELECT execution_id, due_at, NOT queue_admitted FROM durable.queue "
		"WHERE (owner::oid, due_at, execution_id) > ($1, $3, $4) "
		"AND (owner::oid, due_at) <= ($1, $2) "
		"ORDER BY owner::oid, due_at, execution_id LIMIT 1 FOR UPDATE SKIP LOCKED",
		4, {OIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID, UUIDOID}
	},
	/* the oldest due queue row of an owner after the cursor */
	[Q_CLAIM_READY] = {
		"SELECT execution_id, due_at FROM durable.queue "
		"WHERE (owner::oid, due_at, execution_id) > ($1, $3, $4) "
		"AND (owner::oid, due_at) <= ($1, $2) "
		"ORDER BY owner::oid, due_at, execution_id LIMIT 1 FOR UPDATE SKIP LOCKED",
		4, {OIDOID, TIMESTAMPTZOID, TIMESTAMPTZOID, UUIDOID}
	},
	/*
	 * An error escaped a drive of the execution: count it, unless the run
	 * progressed (a new run, more checkpoints or attempts) since the last
	 * one, which starts the count again.  No row: it has finished.
	 */
	[Q_NOTE_DRIVE_ERROR] = {
		"UPDATE durable.queue q SET "
		"drive_errors = CASE WHEN q.drive_error_marker = m.marker "
		"THEN q.drive_errors + 1 ELSE 1 END, "
		"drive_error_marker = m.marker "
		"FROM (SELECT (x.run_no::bigint << 32) + count(o.op_id) + coalesce(sum(o.attempt), 0) AS marker "
		"      FROM durable.executions x LEFT JOIN durable.operations o "
		"      ON o.execution_id = x.id AND o.run_no = x.run_no WHERE x.id = $1 "
		"      GROUP BY x.run_no) m "
		"WHERE q.execution_id = $1 RETURNING q.drive_errors",
		1, {UUIDOID}
	},
	/* the execution is not to be driven before $2 */
	[Q_QUEUE_BACKOFF] = {
		"UPDATE durable.queue SET due_at = $2, retry_at = $2 WHERE execution_id = $1",
		2, {UUIDOID, TIMESTAMPTZOID}
	},
	[Q_NEXT_DUE] = {
		"SELECT due_at FROM durable.queue WHERE due_at > $1 ORDER BY due_at LIMIT 1",
		1, {TIMESTAMPTZOID}
	},
	/*
	 * The oldest message of an owner after the cursor that no other claim
	 * holds, to an execution that is not waiting out a backoff
	 */
	[Q_CLAIM_INBOX] = {
		"SELECT i.execution_id, i.created_at, i.message_id FROM durable.inbox i "
		"WHERE (i.owner::oid, i.message_id) > ($1, $2) AND i.owner::oid <= $1 "
		"AND NOT EXISTS (SELECT 1 FROM durable.queue q "
		"WHERE q.execution_id = i.execution_id AND q.retry_at > $3) "
		"ORDER BY i.owner::oid, i.message_id LIMIT 1 FOR UPDATE OF i SKIP LOCKED",
		3, {OIDOID, INT8OID, TIMESTAMPTZOID}
	},
	/* the same on the schema of 1.1, which has no backoff */
	[Q_CLAIM_INBOX_11] = {
		"SELECT i.execution_id, i.created_at, i.message_id FROM durable.inbox i "
		"WHERE (i.owner::oid, i.message_id) > ($1, $2) AND i.owner::oid <= $1 "
		"AND $3 IS NOT NULL "
		"ORDER BY i.owner::oid, i.message_id LIMIT 1 FOR UPDATE OF i SKIP LOCKED",
		3, {OIDOID, INT8OID, TIMESTAMPTZOID}
	},
	/* the oldest message of any owner after the cursor, as above */
	[Q_CLAIM_ANY_INBOX] = {
		"SELECT i.execution_id, i.created_at, i.message_id, i.owner::oid FROM durable.inbox i "
		"WHERE ($1 OR pg_has_role($2, i.owner, 'USAGE')) AND i.message_id > $3 "
		"AND NOT EXISTS (SELECT 1 FROM durable.queue q "
		"WHERE q.execution_id = i.execution_id AND q.retry_at > $4) "
		"ORDER BY i.message_id LIMIT 1 FOR UPDATE OF i SKIP LOCKED",
		4, {BOOLOID, OIDOID, INT8OID, TIMESTAMPTZOID}
	},
	[Q_CLAIM_ANY_INBOX_11] = {
		"SELECT i.execution_id, i.created_at, i.message_id, i.owner::oid FROM durable.inbox i "
		"WHERE ($1 OR pg_has_role($2, i.owner, 'USAGE')) AND i.message_id > $3 "
		"AND $4 IS NOT NULL "
		"ORDER BY i.message_id LIMIT 1 FOR UPDATE OF i SKIP LOCKED",
		4, {BOOLOID, OIDOID, INT8OID, TIMESTAMPTZOID}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_lock_queue
 *		Locks an execution's queue row; false when it has none (it finished,
 *		or waits on no timer).
 */
bool
durable_storage_lock_queue(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	return run(Q_LOCK_QUEUE, values, NULL, 0) == 1;
}

void
durable_storage_queue_set(const pg_uuid_t *id, Oid owner, TimestampTz due_at)
{
	Datum		values[3];

	values[0] = UUIDPGetDatum(id);
	values[1] = TimestampTzGetDatum(due_at);
	values[2] = ObjectIdGetDatum(owner);
	run(Q_QUEUE_SET, values, NULL, 0);
}

/*
 * durable_storage_queue_delete
 *		Removes an execution's queue row; returns the name of the queue of
 *		executions that had admitted it (palloc'd), or NULL.
 */
char *
durable_storage_queue_delete(const pg_uuid_t *id)
{
	Datum		values[1];
	bool		isnull;
	Datum		name;

	values[0] = UUIDPGetDatum(id);
	if (!durable_xq_available())
	{
		run(Q_QUEUE_DELETE, values, NULL, 0);
		return NULL;
	}
	if (run(Q_QUEUE_DELETE_XQ, values, NULL, 0) != 1)
		return NULL;
	name = get_col(1, &isnull);
	return isnull ? NULL : TextDatumGetCString(name);
}

/*
 * is_gate
 *		Column col of the claimed row says it is a gate of a queue of
 *		executions: its admission runs now.  True when the claim must pass
 *		over it (it still waits, or waits for its rate).
 */
static bool
is_gate(int col, const pg_uuid_t *id, TimestampTz now)
{
	bool		isnull;
	bool		gate = DatumGetBool(get_col(col, &isnull));

	if (isnull || !gate)
		return false;
	return !durable_xq_gate(id, now);
}

/* how often a claim looks up which owners have ready work, at most */
#define DURABLE_OWNERS_REFRESH_MS 50

static void
place_reset(DurableOwnerCursor *oc)
{
	oc->due_at = DT_NOBEGIN;
	memset(&oc->id, 0, sizeof(pg_uuid_t));
	oc->message_id = 0;
}

void
durable_queue_cursor_reset(DurableQueueCursor *cursor)
{
	memset(cursor, 0, sizeof(DurableQueueCursor));
	place_reset(&cursor->any);
}

void
durable_queue_cursor_new_pass(DurableQueueCursor *cursor)
{
	int			i;

	for (i = 0; i < cursor->nowners; i++)
		place_reset(&cursor->owners[i]);
	place_reset(&cursor->any);
}

/*
 * owner_cursor
 *		The entry of an owner in the cursor, a new one (at the start of its
 *		work) when it has none yet.  With more owners than the cursor holds,
 *		an older entry is given up (that owner is found again by the next
 *		look-up or by a claim over all owners).
 */
static DurableOwnerCursor *
owner_cursor(DurableQueueCursor *cursor, Oid owner)
{
	DurableOwnerCursor *oc;
	int			i;

	for (i = 0; i < cursor->nowners; i++)
		if (cursor->owners[i].owner == owner)
			return &cursor->owners[i];
	if (cursor->nowners < DURABLE_CURSOR_OWNERS)
		oc = &cursor->owners[cursor->nowners++];
	else
	{
		oc = &cursor->owners[cursor->evict];
		cursor->evict = (cursor->evict + 1) % DURABLE_CURSOR_OWNERS;
	}
	memset(oc, 0, sizeof(DurableOwnerCursor));
	oc->owner = owner;
	place_reset(oc);
	return oc;
}

/*
 * refresh_owners
 *		Looks up the owners with ready work that the caller may drive, and
 *		makes them the owners of the cursor, keeping the places of those it
 *		had.
 */
static void
refresh_owners(TimestampTz now, Oid caller, bool all, DurableQueueCursor *cursor)
{
	DurableOwnerCursor old[DURABLE_CURSOR_OWNERS];
	int			nold = cursor->nowners;
	Datum		values[3];
	uint64		n,
				i;
	int			j;

	memcpy(old, cursor->owners, sizeof(old));
	values[0] = TimestampTzGetDatum(now);
	values[1] = BoolGetDatum(all);
	values[2] = ObjectIdGetDatum(caller);
	n = run(Q_READY_OWNERS, values, NULL, DURABLE_CURSOR_OWNERS);
	cursor->nowners = 0;
	cursor->evict = 0;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		DurableOwnerCursor *oc = &cursor->owners[cursor->nowners++];

		memset(oc, 0, sizeof(DurableOwnerCursor));
		oc->owner = owner;
		place_reset(oc);
		for (j = 0; j < nold; j++)
			if (old[j].owner == owner)
				*oc = old[j];
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
	cursor->owners_at = GetCurrentTimestamp();
}

/*
 * claim_queue, claim_inbox
 *		Lock the oldest due queue row, or the oldest message, of an owner
 *		after its place in the cursor, skipping those locked by other
 *		drivers, and move the place to it.  The place keeps a pass from
 *		walking again over the index entries of executions it has finished
 *		(or that another session drives); a new pass finds those committed
 *		behind it.
 */
static bool
claim_queue(TimestampTz now, DurableOwnerCursor *oc, DurableQueueCursor *cursor,
			pg_uuid_t *id)
{
	Datum		values[4];
	bool		isnull;

	bool		xq = durable_xq_available();

	do
	{
		values[0] = ObjectIdGetDatum(oc->owner);
		values[1] = TimestampTzGetDatum(now);
		values[2] = TimestampTzGetDatum(oc->due_at);
		values[3] = UUIDPGetDatum(&oc->id);
		if (run(xq ? Q_CLAIM_READY_XQ : Q_CLAIM_READY, values, NULL, 1) != 1)
			return false;
		*id = *DatumGetUUIDP(get_col(1, &isnull));
		oc->id = *id;
		oc->due_at = DatumGetTimestampTz(get_col(2, &isnull));
	} while (xq && is_gate(3, id, now));
	cursor->claimed_at = oc->due_at;
	cursor->from_inbox = false;
	return true;
}

static bool
claim_inbox(TimestampTz now, DurableOwnerCursor *oc, DurableQueueCursor *cursor,
			pg_uuid_t *id)
{
	Datum		values[3];
	bool		isnull;

	values[0] = ObjectIdGetDatum(oc->owner);
	values[1] = Int64GetDatum(oc->message_id);
	values[2] = TimestampTzGetDatum(now);
	if (run(durable_storage_counts_drive_errors() ? Q_CLAIM_INBOX : Q_CLAIM_INBOX_11,
			values, NULL, 1) != 1)
		return false;
	*id = *DatumGetUUIDP(get_col(1, &isnull));
	cursor->claimed_at = DatumGetTimestampTz(get_col(2, &isnull));
	oc->message_id = DatumGetInt64(get_col(3, &isnull));
	cursor->from_inbox = true;
	return true;
}

/*
 * claim_any
 *		The claims of claim_queue and claim_inbox over the work of all
 *		owners the caller may drive; *owner is the owner of what it claimed.
 */
static bool
claim_any(TimestampTz now, Oid caller, bool all, DurableQueueCursor *cursor,
		  pg_uuid_t *id, Oid *owner)
{
	DurableOwnerCursor *oc = &cursor->any;
	Datum		values[5];
	bool		isnull;
	int			source;
	bool		found;
	bool		xq = durable_xq_available();

	oc->inbox_first = !oc->inbox_first;
	for (source = 0; source < 2; source++)
	{
		if (oc->inbox_first == (source == 0))
		{
			values[0] = BoolGetDatum(all);
			values[1] = ObjectIdGetDatum(caller);
			values[2] = Int64GetDatum(oc->message_id);
			values[3] = TimestampTzGetDatum(now);
			if (run(durable_storage_counts_drive_errors() ?
					Q_CLAIM_ANY_INBOX : Q_CLAIM_ANY_INBOX_11, values, NULL, 1) != 1)
				continue;
			*id = *DatumGetUUIDP(get_col(1, &isnull));
			cursor->claimed_at = DatumGetTimestampTz(get_col(2, &isnull));
			oc->message_id = DatumGetInt64(get_col(3, &isnull));
			*owner = DatumGetObjectId(get_col(4, &isnull));
			cursor->from_inbox = true;
			return true;
		}
		do
		{
			values[0] = TimestampTzGetDatum(now);
			values[1] = BoolGetDatum(all);
			values[2] = ObjectIdGetDatum(caller);
			values[3] = TimestampTzGetDatum(oc->due_at);
			values[4] = UUIDPGetDatum(&oc->id);
			found = run(xq ? Q_CLAIM_ANY_XQ : Q_CLAIM_ANY, values, NULL, 1) == 1;
			if (!found)
				break;
			*id = *DatumGetUUIDP(get_col(1, &isnull));
			oc->id = *id;
			oc->due_at = DatumGetTimestampTz(get_col(2, &isnull));
			*owner = DatumGetObjectId(get_col(3, &isnull));
		} while (xq && is_gate(4, id, now));
		if (!found)
			continue;
		cursor->claimed_at = oc->due_at;
		cursor->from_inbox = false;
		return true;
	}
	return false;
}

/*
 * durable_storage_claim_ready
 *		Locks the next execution that is due in the queue or has a message
 *		in its inbox and that the caller may drive (all of them if all),
 *		skipping those locked by other drivers, and moves the cursor past
 *		it.  False when there is none.
 *
 *		Claims take turns between the owners with ready work, in the order
 *		of their oids from the owner after the last claim's, so that a role
 *		with a million ready executions does not starve a role with one;
 *		within an owner, the queue and the inbox take turns and each gives
 *		its oldest first.  Which owners have ready work is looked up (a loose
 *		index scan, two index descents per owner) at most every
 *		DURABLE_OWNERS_REFRESH_MS: a role whose work becomes ready waits for
 *		that and for one turn of each other role.  In between, the cursor
 *		keeps the owners it knows, and when none of them has work left one
 *		claim over all owners finds what else is ready (and its owner joins
 *		the turns), so that a claim costs what it did before the turns in
 *		the usual case of one or few roles.
 */
bool
durable_storage_claim_ready(TimestampTz now, Oid caller, bool all,
							DurableQueueCursor *cursor, pg_uuid_t *id)
{
	Oid			start = cursor->last_owner;
	Oid			after = start;
	bool		wrapped = false;
	Oid			owner;

	if (cursor->owners_at == 0 ||
		TimestampDifferenceExceeds(cursor->owners_at, GetCurrentTimestamp(),
								   DURABLE_OWNERS_REFRESH_MS))
		refresh_owners(now, caller, all, cursor);

	for (;;)
	{
		DurableOwnerCursor *oc = NULL;
		bool		claimed;
		int			i;

		/* the known owner that comes next, going round */
		for (i = 0; i < cursor->nowners; i++)
			if (cursor->owners[i].owner > after &&
				(oc == NULL || cursor->owners[i].owner < oc->owner))
				oc = &cursor->owners[i];
		if (oc == NULL)
		{
			if (wrapped || !OidIsValid(start))
				break;
			wrapped = true;
			after = InvalidOid;
			continue;
		}
		if (wrapped && oc->owner > start)
			break;				/* every known owner was tried */

		oc->inbox_first = !oc->inbox_first;
		if (oc->inbox_first)
			claimed = claim_inbox(now, oc, cursor, id) ||
				claim_queue(now, oc, cursor, id);
		else
			claimed = claim_queue(now, oc, cursor, id) ||
				claim_inbox(now, oc, cursor, id);
		if (claimed)
		{
			cursor->last_owner = oc->owner;
			return true;
		}
		after = oc->owner;
	}

	/* the known owners have nothing: anyone else? */
	if (!claim_any(now, caller, all, cursor, id, &owner))
		return false;
	(void) owner_cursor(cursor, owner);
	cursor->last_owner = owner;
	return true;
}

/*
 * durable_storage_counts_drive_errors
 *		Whether the queue has the columns of 1.2 that count drive errors
 *		(false until ALTER EXTENSION durable UPDATE has run on a schema of
 *		1.1).  Two catalog cache lookups.
 */
bool
durable_storage_counts_drive_errors(void)
{
	Oid			queue = get_relname_relid("queue", get_namespace_oid("durable", false));

	return OidIsValid(queue) && get_attnum(queue, "retry_at") != InvalidAttrNumber;
}

/*
 * durable_storage_note_drive_error
 *		Charges an error that escaped a drive to an unfinished execution;
 *		returns how many such errors in a row it has caused without
 *		progress, 0 when it has finished or does not exist.
 */
int
durable_storage_note_drive_error(const pg_uuid_t *id)
{
	Datum		values[1];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	if (run(Q_NOTE_DRIVE_ERROR, values, NULL, 0) != 1)
		return 0;
	return DatumGetInt32(get_col(1, &isnull));
}

/*
 * durable_storage_queue_backoff
 *		Makes an execution wait until retry_at before it is driven again,
 *		whether by its queue row or by a message.
 */
void
durable_storage_queue_backoff(const pg_uuid_t *id, TimestampTz retry_at)
{
	Datum		values[2];

	values[0] = UUIDPGetDatum(id);
	values[1] = TimestampTzGetDatum(retry_at);
	run(Q_QUEUE_BACKOFF, values, NULL, 0);
}

/*
 * durable_storage_next_due
 *		The earliest due time in the queue after a given time; false when
 *		there is none.
 */
bool
durable_storage_next_due(TimestampTz after, TimestampTz *due_at)
{
	Datum		values[1];
	bool		isnull;

	values[0] = TimestampTzGetDatum(after);
	if (run(Q_NEXT_DUE, values, NULL, 1) != 1)
		return false;
	*due_at = DatumGetTimestampTz(get_col(1, &isnull));
	return true;
}
