/*-------------------------------------------------------------------------
 *
 * storage.c
 *	  Every SQL statement against the durable tables, as cached plans.  No
 *	  other module names a table.
 *
 * Statements run as the owner of schema durable (the role that created
 * the extension), under a search_path of pg_catalog alone, so that callers
 * need no rights on the tables and cannot redirect names or operators.
 * The API functions check the caller before they get here.
 *
 * IDENTIFICATION
 *	  src/storage.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "store/store.h"

typedef enum StorageQuery
{
	Q_RESOLVE_NAME,
	Q_RESOLVE_ID,
	Q_NAME_CLAIM,
	Q_NAME_GET,
	Q_INSERT_EXECUTION,
	Q_SAME_INPUT,
	Q_LOCK_QUEUE,
	Q_LOCK_EXECUTION,
	Q_LOAD_OPS,
	Q_INSERT_OP,
	Q_UPDATE_OP,
	Q_HISTORY,
	Q_SET_STATUS,
	Q_NEW_RUN,
	Q_QUEUE_SET,
	Q_QUEUE_DELETE,
	Q_CANCEL_OPS,
	Q_READY_OWNERS,
	Q_CLAIM_ANY,
	Q_CLAIM_READY,
	Q_NOTE_DRIVE_ERROR,
	Q_QUEUE_BACKOFF,
	Q_NEXT_DUE,
	Q_STATUS,
	Q_NOTE_CRASH,
	Q_OWNER_BUSY,
	Q_PURGE,
	Q_HISTORY_TRIM,
	Q_REDRIVE_OPS,
	Q_REDRIVE_DELETE_OP,
	Q_REDRIVE_REOPEN_OP,
	Q_REDRIVE_CALLBACKS,
	Q_REDRIVE_EXECUTION,
	Q_SCHEDULE_GET,
	Q_SCHEDULE_INSERT,
	Q_SCHEDULE_DELETE,
	Q_CLAIM_INBOX,
	Q_CLAIM_INBOX_11,
	Q_CLAIM_ANY_INBOX,
	Q_CLAIM_ANY_INBOX_11,
	Q_INBOX_ADD,
	Q_INBOX_TAKE,
	Q_INBOX_DELETE,
	Q_CALLBACK_INSERT,
	Q_CALLBACK_COMPLETE,
	Q_CALLBACK_HEARTBEAT,
	Q_CALLBACK_GET,
	Q_CALLBACK_TIMEOUT,
	Q_CALLBACKS_CANCEL,
	Q_EVENT_PARK,
	Q_EVENT_TAKE,
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
	Q_EXEC_OUTCOME,
	Q_EVENTS_DELETE,
	Q_HTTP_INSERT,
	Q_HTTP_IN_FLIGHT,
	Q_HTTP_CANCEL,
	Q_HTTP_TAKE,
	Q_HTTP_RELEASE,
	Q_HTTP_ORPHANS,
	Q_HTTP_DONE,
	Q_HTTP_EXISTING,
	Q_SECRET_GET,
	Q_SECRET_OWNER,
	Q_SECRET_PUT,
	Q_SECRET_DELETE,
	Q_SECRET_GRANT,
	Q_SECRET_REVOKE,
	Q_SECRET_GRANTEES,
	Q_SECRETS_LIST,
	Q_SECRETS_SEALED,
	Q_UNFINISHED_PER_OWNER,
	Q_COUNT
} StorageQuery;

typedef struct StorageStatement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[16];
} StorageStatement;

static const StorageStatement statements[Q_COUNT] = {
	/* the executions of a name, the caller's ($2) first */
	[Q_RESOLVE_NAME] = {
		"SELECT execution_id, owner FROM durable.names WHERE name = $1 "
		"ORDER BY owner <> $2, execution_id",
		2, {TEXTOID, REGROLEOID}
	},
	[Q_RESOLVE_ID] = {
		"SELECT id, owner FROM durable.executions WHERE id = $1",
		1, {UUIDOID}
	},
	/*
	 * Names are unique per owner, (name, owner), from 1.2 on; the conflict
	 * has no target so that the statement works with the key of 1.1, on
	 * name alone, too.
	 */
	[Q_NAME_CLAIM] = {
		"INSERT INTO durable.names (name, execution_id, owner) VALUES ($1, $2, $3) "
		"ON CONFLICT DO NOTHING",
		3, {TEXTOID, UUIDOID, REGROLEOID}
	},
	[Q_NAME_GET] = {
		"SELECT execution_id FROM durable.names WHERE name = $1 AND owner = $3",
		3, {TEXTOID, UUIDOID, REGROLEOID}
	},
	[Q_INSERT_EXECUTION] = {
		"INSERT INTO durable.executions (id, name, workflow, workflow_hash, input, "
		"status, run_no, tags, owner, search_path, execution_timeout, deadline, "
		"retention, created_at, updated_at, parent_id, parent_run_no, parent_op_id, "
		"parent_index, depth) "
		"VALUES ($1, $2, $3, $4, $5, 'PENDING', 1, $6, $7, $8, $9, $11 + $9, $10, $11, $11, "
		"$12, $13, $14, $15, $16)",
		16, {UUIDOID, TEXTOID, TEXTOID, TEXTOID, JSONBOID, JSONBOID, REGROLEOID,
			TEXTOID, INTERVALOID, INTERVALOID, TIMESTAMPTZOID, UUIDOID, INT4OID, INT4OID,
		INT4OID, INT4OID}
	},
	[Q_SAME_INPUT] = {
		"SELECT input IS NOT DISTINCT FROM $2 AND workflow = $3 "
		"FROM durable.executions WHERE id = $1",
		3, {UUIDOID, JSONBOID, TEXTOID}
	},
	[Q_LOCK_QUEUE] = {
		"SELECT 1 FROM durable.queue WHERE execution_id = $1 FOR UPDATE",
		1, {UUIDOID}
	},
	[Q_LOCK_EXECUTION] = {
		"SELECT name, workflow, status, owner, search_path, run_no, input, deadline, "
		"parent_id, parent_run_no, parent_op_id, parent_index, depth, redrive_count "
		"FROM durable.executions WHERE id = $1 FOR NO KEY UPDATE",
		1, {UUIDOID}
	},
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
	[Q_SET_STATUS] = {
		"UPDATE durable.executions SET status = $2, result = $3, error = $4, "
		"wake_at = $5, updated_at = $6, "
		"started_at = CASE WHEN $2 = 'RUNNING' THEN COALESCE(started_at, $6) "
		"ELSE started_at END, "
		"finished_at = CASE WHEN $2 IN ('SUCCEEDED', 'FAILED', 'TIMED_OUT', 'STOPPED') "
		"THEN $6 END "
		"WHERE id = $1",
		6, {UUIDOID, TEXTOID, JSONBOID, JSONBOID, TIMESTAMPTZOID, TIMESTAMPTZOID}
	},
	[Q_NEW_RUN] = {
		"UPDATE durable.executions SET run_no = $2, input = $3, updated_at = $4 "
		"WHERE id = $1",
		4, {UUIDOID, INT4OID, JSONBOID, TIMESTAMPTZOID}
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
	[Q_CANCEL_OPS] = {
		"UPDATE durable.operations SET status = 'CANCELLED', finished_at = $3 "
		"WHERE execution_id = $1 AND run_no = $2 AND status IN ('STARTED', 'PENDING')",
		3, {UUIDOID, INT4OID, TIMESTAMPTZOID}
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
	[Q_STATUS] = {
		"SELECT status, xmin FROM durable.executions WHERE id = $1",
		1, {UUIDOID}
	},
	/*
	 * A crash while the execution was driven: count it, unless the run
	 * progressed (more checkpoints or attempts) since the last crash, which
	 * starts the count again.
	 */
	/* what keeps a role from being dropped (DROP ROLE, launcher.c) */
	[Q_OWNER_BUSY] = {
		"SELECT (SELECT count(*) FROM durable.executions WHERE owner = $1 "
		"        AND status IN ('PENDING', 'RUNNING', 'SUSPENDED')), "
		"       (SELECT count(*) FROM durable.schedules WHERE owner = $1)",
		1, {REGROLEOID}
	},
	[Q_NOTE_CRASH] = {
		"UPDATE durable.executions e SET "
		"crash_count = CASE WHEN e.crash_marker = m.marker THEN e.crash_count + 1 ELSE 1 END, "
		"crash_marker = m.marker "
		"FROM (SELECT count(*) + coalesce(sum(o.attempt), 0) AS marker "
		"      FROM durable.executions x JOIN durable.operations o "
		"      ON o.execution_id = x.id AND o.run_no = x.run_no WHERE x.id = $1) m "
		"WHERE e.id = $1 AND e.status IN ('PENDING', 'RUNNING', 'SUSPENDED') "
		"RETURNING e.crash_count",
		1, {UUIDOID}
	},
	/*
	 * A batch of finished executions with every row they have anywhere;
	 * their names are freed for reuse.  Those past their retention (the
	 * tick: $4 is NULL, $5 the default retention in seconds, NULL to keep),
	 * or finished by $4 (durable_purge); of the statuses $3, and of roles
	 * whose privileges $7 has unless $6.  No index serves the search (one
	 * on finished_at would make every terminal update of executions
	 * non-HOT): it scans executions once per batch.
	 */
	[Q_PURGE] = {
		"WITH doomed AS ("
		"SELECT id, name FROM durable.executions "
		"WHERE status = ANY ($3) AND finished_at IS NOT NULL "
		"AND CASE WHEN $4 IS NULL "
		"THEN finished_at + COALESCE(retention, make_interval(secs => $5)) <= $1 "
		"ELSE finished_at <= $4 END "
		"AND ($6 OR pg_has_role($7, owner, 'USAGE')) "
		"LIMIT $2 FOR UPDATE SKIP LOCKED), "
		"o AS (DELETE FROM durable.operations t USING doomed WHERE t.execution_id = doomed.id), "
		"h AS (DELETE FROM durable.history t USING doomed WHERE t.execution_id = doomed.id), "
		"q AS (DELETE FROM durable.queue t USING doomed WHERE t.execution_id = doomed.id), "
		"i AS (DELETE FROM durable.inbox t USING doomed WHERE t.execution_id = doomed.id), "
		"c AS (DELETE FROM durable.callbacks t USING doomed WHERE t.execution_id = doomed.id), "
		"v AS (DELETE FROM durable.events t USING doomed WHERE t.execution_id = doomed.id), "
		"k AS (DELETE FROM durable.children t USING doomed WHERE t.parent_id = doomed.id), "
		"r AS (DELETE FROM durable.http_requests t USING doomed WHERE t.execution_id = doomed.id), "
		"n AS (DELETE FROM durable.names t USING doomed "
		"WHERE t.name = doomed.name AND t.execution_id = doomed.id) "
		"DELETE FROM durable.executions t USING doomed WHERE t.id = doomed.id",
		7, {TIMESTAMPTZOID, INT4OID, TEXTARRAYOID, TIMESTAMPTZOID, FLOAT8OID, BOOLOID, OIDOID}
	},
	/*
	 * When an execution has more than $2 history events, the oldest are
	 * replaced, so that $3 remain, by one history_summarized event that
	 * takes the place (event_id) of the first and counts them by event
	 * (earlier summaries included).
	 */
	[Q_HISTORY_TRIM] = {
		"WITH over AS (SELECT 1 FROM durable.history WHERE execution_id = $1 "
		"ORDER BY event_id DESC OFFSET $2 LIMIT 1), "
		"cut AS (SELECT event_id FROM durable.history "
		"WHERE execution_id = $1 AND EXISTS (SELECT 1 FROM over) "
		"ORDER BY event_id DESC OFFSET $3 LIMIT 1), "
		"doomed AS (DELETE FROM durable.history h USING cut "
		"WHERE h.execution_id = $1 AND h.event_id <= cut.event_id "
		"RETURNING h.event_id, h.run_no, h.at, h.event, h.details), "
		"counts AS (SELECT event AS k, count(*) AS n FROM doomed "
		"WHERE event <> 'history_summarized' GROUP BY event "
		"UNION ALL SELECT e.key, e.value::bigint FROM doomed, "
		"jsonb_each_text(doomed.details -> 'events') e "
		"WHERE doomed.event = 'history_summarized') "
		"INSERT INTO durable.history (execution_id, event_id, run_no, at, event, details, owner) "
		"OVERRIDING SYSTEM VALUE "
		"SELECT $1, min(event_id), min(run_no), min(at), 'history_summarized', "
		"jsonb_build_object('count', (SELECT sum(n) FROM counts), "
		"'events', (SELECT jsonb_object_agg(k, n) FROM "
		"(SELECT k, sum(n) AS n FROM counts GROUP BY k) s), "
		"'until', max(at)), $4 "
		"FROM doomed HAVING count(*) > 0",
		4, {UUIDOID, INT4OID, INT4OID, REGROLEOID}
	},
	/* what durable_redrive looks at: the operations of the current run */
	[Q_REDRIVE_OPS] = {
		"SELECT op_id, COALESCE(parent_op_id, 0), position, name, kind, status "
		"FROM durable.operations WHERE execution_id = $1 AND run_no = $2",
		2, {UUIDOID, INT4OID}
	},
	/* an operation to run again: it goes, with its callbacks and branches */
	[Q_REDRIVE_DELETE_OP] = {
		"WITH c AS (DELETE FROM durable.callbacks "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3), "
		"k AS (DELETE FROM durable.children "
		"WHERE parent_id = $1 AND run_no = $2 AND op_id = $3) "
		"DELETE FROM durable.operations "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	/* a durable_child context to enter again */
	[Q_REDRIVE_REOPEN_OP] = {
		"UPDATE durable.operations SET status = 'STARTED', result = NULL, "
		"error = NULL, finished_at = NULL "
		"WHERE execution_id = $1 AND run_no = $2 AND op_id = $3",
		3, {UUIDOID, INT4OID, INT4OID}
	},
	/* callbacks of durable_create_callback that the failure cancelled */
	[Q_REDRIVE_CALLBACKS] = {
		"UPDATE durable.callbacks c SET status = 'PENDING', completed_at = NULL, "
		"heartbeat_at = $3 "
		"FROM durable.operations o "
		"WHERE c.execution_id = $1 AND c.run_no = $2 AND c.status = 'CANCELLED' "
		"AND o.execution_id = $1 AND o.run_no = $2 AND o.op_id = c.op_id "
		"AND o.kind = 'create_callback'",
		3, {UUIDOID, INT4OID, TIMESTAMPTZOID}
	},
	/*
	 * The execution is PENDING again, with the definition of its workflow
	 * as it is now, a new deadline, and no crashes counted.
	 */
	[Q_REDRIVE_EXECUTION] = {
		"UPDATE durable.executions SET status = 'PENDING', result = NULL, "
		"error = NULL, wake_at = NULL, finished_at = NULL, updated_at = $2, "
		"workflow_hash = $3, redrive_count = redrive_count + 1, crash_count = 0, "
		"crash_marker = NULL, deadline = $2 + execution_timeout "
		"WHERE id = $1 RETURNING redrive_count",
		3, {UUIDOID, TIMESTAMPTZOID, TEXTOID}
	},
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
	[Q_EXEC_OUTCOME] = {
		"SELECT status, result, error FROM durable.executions WHERE id = $1",
		1, {UUIDOID}
	},
	[Q_EVENTS_DELETE] = {
		"DELETE FROM durable.events WHERE execution_id = $1",
		1, {UUIDOID}
	},
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
	[Q_SECRET_GET] = {
		"SELECT value, allowed_hosts, owner FROM durable.secrets WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_SECRET_OWNER] = {
		"SELECT owner FROM durable.secrets WHERE name = $1 FOR UPDATE",
		1, {TEXTOID}
	},
	[Q_SECRET_PUT] = {
		"INSERT INTO durable.secrets (name, value, allowed_hosts, owner, created_at, updated_at) "
		"VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (name) DO UPDATE "
		"SET value = excluded.value, allowed_hosts = excluded.allowed_hosts, "
		"updated_at = excluded.updated_at "
		"WHERE secrets.owner = excluded.owner",
		5, {TEXTOID, TEXTOID, TEXTARRAYOID, REGROLEOID, TIMESTAMPTZOID}
	},
	[Q_SECRET_DELETE] = {
		"DELETE FROM durable.secrets WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_SECRET_GRANT] = {
		"INSERT INTO durable.secret_grants (name, grantee) VALUES ($1, $2) "
		"ON CONFLICT DO NOTHING",
		2, {TEXTOID, REGROLEOID}
	},
	[Q_SECRET_REVOKE] = {
		"DELETE FROM durable.secret_grants WHERE name = $1 AND grantee = $2",
		2, {TEXTOID, REGROLEOID}
	},
	[Q_SECRET_GRANTEES] = {
		"SELECT grantee FROM durable.secret_grants WHERE name = $1",
		1, {TEXTOID}
	},
	/* never the values */
	[Q_SECRETS_LIST] = {
		"SELECT s.name, s.owner::oid, s.allowed_hosts, "
		"ARRAY(SELECT g.grantee::oid FROM durable.secret_grants g "
		"WHERE g.name = s.name ORDER BY g.grantee::text), "
		"s.created_at, s.updated_at FROM durable.secrets s ORDER BY s.name",
		0, {InvalidOid}
	},
	/* whether any value is sealed under a key (secrets.c) */
	[Q_SECRETS_SEALED] = {
		"SELECT 1 FROM durable.secrets WHERE value LIKE 'durable-aes256gcm:%' LIMIT 1",
		0, {InvalidOid}
	},
	/* the quota counters' starting point (quota.c); a seq scan, once */
	[Q_UNFINISHED_PER_OWNER] = {
		"SELECT owner::oid, count(*) FROM durable.executions "
		"WHERE status IN ('PENDING', 'RUNNING', 'SUSPENDED') GROUP BY owner",
		0, {InvalidOid}
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
static OverrideSearchPath *catalog_path = NULL;

/*
 * Plans: every statement here finds its rows through an index, and a
 * backend keeps its plans for as long as it lives.  A cost-based plan made
 * while a table is empty, or just analyzed small, is a seq scan, and it
 * stays one as the table grows until the next ANALYZE of that table
 * invalidates it: claims and checkpoint loads then read whole tables.  So
 * the statements are kept as generic plans (never custom ones, which would
 * be planned again and again) and are planned, whenever the plan cache
 * finds it must, with seq scans disabled.  Bitmap scans are disabled too:
 * a generic plan of a key lookup is otherwise a bitmap scan, which never
 * marks the index entries of deleted rows dead, so taking an inbox's
 * messages read every message the execution ever had until a vacuum.  The setting is made around every
 * execution, not only when a plan looks invalid beforehand: invalidations
 * (an ANALYZE committed meanwhile) are also taken in while the plan cache
 * locks the tables, and such a plan must not be made without it.
 *
 * run
 *		Executes one statement as the owner of schema durable with only
 *		pg_catalog on the search_path, planned as above.  Returns
 *		SPI_processed.
 */
static uint64
run(StorageQuery q, Datum *values, const char *nulls, long tcount)
{
	Oid			save_userid;
	int			save_sec;
	Oid			nspid;
	HeapTuple	tup;
	Oid			bookkeeper;
	int			rc;
	int			save_nestlevel;

	nspid = get_namespace_oid("durable", false);
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	bookkeeper = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	if (catalog_path == NULL)
	{
		catalog_path = MemoryContextAllocZero(TopMemoryContext, sizeof(OverrideSearchPath));
		catalog_path->schemas = NIL;
		catalog_path->addCatalog = true;
		catalog_path->addTemp = false;
	}

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(bookkeeper, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PushOverrideSearchPath(catalog_path);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		if (plans[q] == NULL)
		{
			SPIPlanPtr	plan = SPI_prepare_cursor(statements[q].sql, statements[q].nargs,
												  (Oid *) statements[q].argtypes,
												  CURSOR_OPT_GENERIC_PLAN);

			if (plan == NULL)
				elog(ERROR, "SPI_prepare failed for \"%s\": %s", statements[q].sql,
					 SPI_result_code_string(SPI_result));
			if (SPI_keepplan(plan) != 0)
				elog(ERROR, "SPI_keepplan failed");
			plans[q] = plan;
		}
		rc = SPI_execute_plan(plans[q], values, nulls, false, tcount);
		if (rc < 0)
			elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", statements[q].sql,
				 SPI_result_code_string(rc));
	}
	PG_CATCH();
	{
		AtEOXact_GUC(false, save_nestlevel);
		PopOverrideSearchPath();
		SetUserIdAndSecContext(save_userid, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(true, save_nestlevel);
	PopOverrideSearchPath();
	SetUserIdAndSecContext(save_userid, save_sec);
	return SPI_processed;
}

static Datum
get_col(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

static Datum
ts_datum(TimestampTz ts, char *null)
{
	*null = ts == DT_NOBEGIN ? 'n' : ' ';
	return TimestampTzGetDatum(ts);
}

static Datum
jsonb_datum(Jsonb *jb, char *null)
{
	*null = jb == NULL ? 'n' : ' ';
	return PointerGetDatum(jb);
}

/*
 * durable_storage_resolve
 *		An execution given by id (canonical uuid text) or name; false when
 *		there is none.  Names are per owner: a name is the current role's
 *		execution of that name when it has one, and otherwise the one
 *		execution of that name among the roles the current role controls
 *		(durable_caller_controls); several there are an error, and none
 *		there is false, so that other roles' names leak nothing.  An id is
 *		returned with its owner, whoever that is: callers check it.
 */
bool
durable_storage_resolve(const char *execution, pg_uuid_t *id, Oid *owner)
{
	Datum		values[2];
	pg_uuid_t	parsed;
	bool		isnull;
	Oid			caller = GetUserId();
	uint64		n;
	uint64		i;
	int			visible = 0;

	if (durable_parse_uuid(execution, &parsed))
	{
		values[0] = UUIDPGetDatum(&parsed);
		if (run(Q_RESOLVE_ID, values, NULL, 1) == 1)
		{
			*id = parsed;
			*owner = DatumGetObjectId(get_col(2, &isnull));
			return true;
		}
	}
	values[0] = CStringGetTextDatum(execution);
	values[1] = ObjectIdGetDatum(caller);
	n = run(Q_RESOLVE_NAME, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Oid			o = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));

		if (o != caller && !durable_caller_controls(o))
			continue;
		if (visible++ == 0)
		{
			*id = *DatumGetUUIDP(SPI_getbinval(tup, desc, 1, &isnull));
			*owner = o;
			if (o == caller)
				return true;	/* the caller's own comes first */
		}
	}
	if (visible > 1)
		ereport(ERROR,
				(errcode(ERRCODE_AMBIGUOUS_PARAMETER),
				 errmsg("execution name \"%s\" is ambiguous", execution),
				 errdetail("Role \"%s\" has no execution of that name, and %d roles whose executions it may see have one each.",
						   GetUserNameFromId(caller, false), visible),
				 errhint("Names are per owner: pass the execution id instead (see durable.executions).")));
	return visible == 1;
}

/*
 * durable_storage_name_claim
 *		Reserves a name of owner for an execution; when owner already has
 *		an execution of that name, false and its id in *existing.  *theirs
 *		is set when the name is taken by another role, which can happen only
 *		before ALTER EXTENSION UPDATE to 1.2 (names were per database).
 */
bool
durable_storage_name_claim(const char *name, const pg_uuid_t *id, Oid owner,
						   pg_uuid_t *existing, bool *theirs)
{
	Datum		values[3];
	bool		isnull;

	*theirs = false;
	values[0] = CStringGetTextDatum(name);
	values[1] = UUIDPGetDatum(id);
	values[2] = ObjectIdGetDatum(owner);
	if (run(Q_NAME_CLAIM, values, NULL, 0) == 1)
		return true;
	if (run(Q_NAME_GET, values, NULL, 1) != 1)
	{
		*theirs = true;
		return false;
	}
	*existing = *DatumGetUUIDP(get_col(1, &isnull));
	return false;
}

static void
insert_execution(const pg_uuid_t *id, const char *name,
				 const char *workflow, const char *hash,
				 Jsonb *input, Oid owner, const char *search_path,
				 Jsonb *tags, Interval *timeout, Interval *retention,
				 TimestampTz now, const DurableParentRef *parent, int32 depth)
{
	Datum		values[16];
	char		nulls[16];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(id);
	values[1] = name ? CStringGetTextDatum(name) : (Datum) 0;
	nulls[1] = name ? ' ' : 'n';
	values[2] = CStringGetTextDatum(workflow);
	values[3] = CStringGetTextDatum(hash);
	values[4] = jsonb_datum(input, &nulls[4]);
	values[5] = jsonb_datum(tags, &nulls[5]);
	values[6] = ObjectIdGetDatum(owner);
	values[7] = CStringGetTextDatum(search_path);
	values[8] = PointerGetDatum(timeout);
	nulls[8] = timeout ? ' ' : 'n';
	values[9] = PointerGetDatum(retention);
	nulls[9] = retention ? ' ' : 'n';
	values[10] = TimestampTzGetDatum(now);
	if (parent != NULL)
	{
		values[11] = UUIDPGetDatum(&parent->id);
		values[12] = Int32GetDatum(parent->run_no);
		values[13] = Int32GetDatum(parent->op_id);
		values[14] = Int32GetDatum(parent->index);
		values[15] = Int32GetDatum(parent->depth);
	}
	else
	{
		nulls[11] = nulls[12] = nulls[13] = nulls[14] = 'n';
		values[15] = Int32GetDatum(depth);
	}
	run(Q_INSERT_EXECUTION, values, nulls, 0);
	durable_storage_queue_set(id, owner, now);
	/* one more unfinished execution of owner, at commit */
	durable_quota_add(owner, 1);
}

void
durable_storage_insert_execution(const pg_uuid_t *id, const char *name,
								 const char *workflow, const char *hash,
								 Jsonb *input, Oid owner, const char *search_path,
								 Jsonb *tags, Interval *timeout, Interval *retention,
								 TimestampTz now, const DurableParentRef *parent)
{
	insert_execution(id, name, workflow, hash, input, owner, search_path, tags,
					 timeout, retention, now, parent, 0);
}

/*
 * durable_storage_insert_execution_depth
 *		A top-level execution (no parent to report to) at a depth of its
 *		own: one started by a step of an execution of depth - 1.
 */
void
durable_storage_insert_execution_depth(const pg_uuid_t *id, const char *name,
									   const char *workflow, const char *hash,
									   Jsonb *input, Oid owner, const char *search_path,
									   Jsonb *tags, Interval *timeout, Interval *retention,
									   TimestampTz now, int32 depth)
{
	insert_execution(id, name, workflow, hash, input, owner, search_path, tags,
					 timeout, retention, now, NULL, depth);
}

/*
 * durable_storage_same_input
 *		Whether an execution was started with this workflow and input.
 */
bool
durable_storage_same_input(const pg_uuid_t *id, Jsonb *input, const char *workflow)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	values[1] = jsonb_datum(input, &nulls[1]);
	values[2] = CStringGetTextDatum(workflow);
	if (run(Q_SAME_INPUT, values, nulls, 1) != 1)
		return false;
	return DatumGetBool(get_col(1, &isnull));
}

/*
 * durable_storage_lock_execution
 *		Locks an execution's queue row (if any, unless the caller holds it)
 *		and then its row for this transaction, and reads it into ex,
 *		allocated in cxt.  False when it does not exist.  Every path locks
 *		in this order (claims take the queue row first), so a stop racing a
 *		drive waits instead of deadlocking.
 */
bool
durable_storage_lock_execution(const pg_uuid_t *id, DurableExecution *ex,
							   MemoryContext cxt, bool queue_locked)
{
	Datum		values[1];
	bool		isnull;
	Datum		v;
	MemoryContext old;

	values[0] = UUIDPGetDatum(id);
	if (!queue_locked)
		(void) durable_storage_lock_queue(id);
	if (run(Q_LOCK_EXECUTION, values, NULL, 0) != 1)
		return false;

	old = MemoryContextSwitchTo(cxt);
	ex->id = *id;
	v = get_col(1, &isnull);
	ex->name = isnull ? NULL : TextDatumGetCString(v);
	ex->workflow = TextDatumGetCString(get_col(2, &isnull));
	ex->status = TextDatumGetCString(get_col(3, &isnull));
	ex->owner = DatumGetObjectId(get_col(4, &isnull));
	ex->search_path = TextDatumGetCString(get_col(5, &isnull));
	ex->run_no = DatumGetInt32(get_col(6, &isnull));
	v = get_col(7, &isnull);
	ex->input = isnull ? NULL : DatumGetJsonbPCopy(v);
	v = get_col(8, &isnull);
	ex->deadline = isnull ? DT_NOBEGIN : DatumGetTimestampTz(v);
	v = get_col(9, &isnull);
	ex->has_parent = !isnull;
	if (!isnull)
	{
		ex->parent_id = *DatumGetUUIDP(v);
		ex->parent_run_no = DatumGetInt32(get_col(10, &isnull));
		ex->parent_op_id = DatumGetInt32(get_col(11, &isnull));
		ex->parent_index = DatumGetInt32(get_col(12, &isnull));
	}
	ex->depth = DatumGetInt32(get_col(13, &isnull));
	ex->redrive_count = DatumGetInt32(get_col(14, &isnull));
	MemoryContextSwitchTo(old);
	return true;
}

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

static DurableOpStatus
status_from_name(const char *s)
{
	int			i;

	for (i = DOS_STARTED; i <= DOS_TIMED_OUT; i++)
		if (strcmp(s, durable_op_status_name((DurableOpStatus) i)) == 0)
			return (DurableOpStatus) i;
	elog(ERROR, "unknown operation status \"%s\"", s);
	return DOS_FAILED;			/* keep compiler quiet */
}

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

void
durable_storage_set_status(const pg_uuid_t *id, const char *status, Jsonb *result,
						   Jsonb *error, TimestampTz wake_at, TimestampTz now)
{
	Datum		values[6];
	char		nulls[6];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = UUIDPGetDatum(id);
	values[1] = CStringGetTextDatum(status);
	values[2] = jsonb_datum(result, &nulls[2]);
	values[3] = jsonb_datum(error, &nulls[3]);
	values[4] = ts_datum(wake_at, &nulls[4]);
	values[5] = TimestampTzGetDatum(now);
	run(Q_SET_STATUS, values, nulls, 0);
}

void
durable_storage_new_run(const pg_uuid_t *id, int32 run_no, Jsonb *input,
						TimestampTz now)
{
	Datum		values[4];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = JsonbPGetDatum(input);
	values[3] = TimestampTzGetDatum(now);
	run(Q_NEW_RUN, values, NULL, 0);
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

void
durable_storage_queue_delete(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	run(Q_QUEUE_DELETE, values, NULL, 0);
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

	values[0] = ObjectIdGetDatum(oc->owner);
	values[1] = TimestampTzGetDatum(now);
	values[2] = TimestampTzGetDatum(oc->due_at);
	values[3] = UUIDPGetDatum(&oc->id);
	if (run(Q_CLAIM_READY, values, NULL, 1) != 1)
		return false;
	*id = *DatumGetUUIDP(get_col(1, &isnull));
	oc->id = *id;
	oc->due_at = DatumGetTimestampTz(get_col(2, &isnull));
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
		values[0] = TimestampTzGetDatum(now);
		values[1] = BoolGetDatum(all);
		values[2] = ObjectIdGetDatum(caller);
		values[3] = TimestampTzGetDatum(oc->due_at);
		values[4] = UUIDPGetDatum(&oc->id);
		if (run(Q_CLAIM_ANY, values, NULL, 1) != 1)
			continue;
		*id = *DatumGetUUIDP(get_col(1, &isnull));
		oc->id = *id;
		oc->due_at = DatumGetTimestampTz(get_col(2, &isnull));
		*owner = DatumGetObjectId(get_col(3, &isnull));
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

/*
 * durable_storage_unfinished_per_owner
 *		Calls add(owner, n) for every role that owns n > 0 unfinished
 *		executions.
 */
void
durable_storage_unfinished_per_owner(void (*add) (Oid owner, int64 n))
{
	uint64		n,
				i;

	n = run(Q_UNFINISHED_PER_OWNER, NULL, NULL, 0);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		int64		count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 2, &isnull));

		add(owner, count);
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
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

/*
 * durable_storage_status
 *		The status of an execution as of a new snapshot, and whether the row
 *		was written by this very transaction.  False when there is none.
 */
bool
durable_storage_status(const pg_uuid_t *id, char **status, bool *mine)
{
	Datum		values[1];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	if (run(Q_STATUS, values, NULL, 1) != 1)
		return false;
	*status = TextDatumGetCString(get_col(1, &isnull));
	*mine = TransactionIdIsCurrentTransactionId(DatumGetTransactionId(get_col(2, &isnull)));
	SPI_freetuptable(SPI_tuptable);
	return true;
}

/*
 * durable_storage_note_crash
 *		Charges a server crash to an unfinished execution; returns how many
 *		crashes in a row it has caused without progress, 0 when it has
 *		finished or does not exist.
 */
int
durable_storage_note_crash(const pg_uuid_t *id)
{
	Datum		values[1];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	if (run(Q_NOTE_CRASH, values, NULL, 0) != 1)
		return 0;
	return DatumGetInt32(get_col(1, &isnull));
}

/*
 * durable_storage_owner_busy
 *		How many unfinished executions and how many schedules a role owns.
 */
void
durable_storage_owner_busy(Oid role, int64 *executions, int64 *schedules)
{
	Datum		values[1];
	bool		isnull;

	values[0] = ObjectIdGetDatum(role);
	if (run(Q_OWNER_BUSY, values, NULL, 1) != 1)
		elog(ERROR, "could not count the executions of role %u", role);
	*executions = DatumGetInt64(get_col(1, &isnull));
	*schedules = DatumGetInt64(get_col(2, &isnull));
	SPI_freetuptable(SPI_tuptable);
}

/*
 * durable_storage_purge
 *		Deletes up to limit finished executions from every table: those
 *		whose retention has passed by now (finished_by DT_NOBEGIN), or those
 *		finished by finished_by; with a status in statuses, owned by a role
 *		whose privileges role has unless all.  Returns how many.
 */
uint64
durable_storage_purge(TimestampTz now, int limit, TimestampTz finished_by,
					  ArrayType *statuses, bool all, Oid role)
{
	Datum		values[7];
	char		nulls[7];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(now);
	values[1] = Int32GetDatum(limit);
	values[2] = PointerGetDatum(statuses);
	values[3] = ts_datum(finished_by, &nulls[3]);
	values[4] = Float8GetDatum((float8) durable_retention);
	if (durable_retention < 0)
		nulls[4] = 'n';
	values[5] = BoolGetDatum(all);
	values[6] = ObjectIdGetDatum(role);
	return run(Q_PURGE, values, nulls, 0);
}

/*
 * durable_storage_history_trim
 *		When the execution has more than above history events, replaces the
 *		oldest by a summary so that keep remain; true when it did.
 */
bool
durable_storage_history_trim(const pg_uuid_t *id, Oid owner, int above, int keep)
{
	Datum		values[4];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(above);
	values[2] = Int32GetDatum(keep);
	values[3] = ObjectIdGetDatum(owner);
	return run(Q_HISTORY_TRIM, values, NULL, 0) > 0;
}

/*
 * durable_storage_redrive_ops
 *		The operations of a run, as DurableRedriveOps.
 */
List *
durable_storage_redrive_ops(const pg_uuid_t *id, int32 run_no)
{
	Datum		values[2];
	uint64		n,
				i;
	List	   *ops = NIL;

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	n = run(Q_REDRIVE_OPS, values, NULL, 0);
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		DurableRedriveOp *op = palloc(sizeof(DurableRedriveOp));
		bool		isnull;

		op->op_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		op->parent_op_id = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		op->position = DatumGetInt32(SPI_getbinval(tup, desc, 3, &isnull));
		op->name = TextDatumGetCString(SPI_getbinval(tup, desc, 4, &isnull));
		op->kind = durable_kind_by_name(TextDatumGetCString(SPI_getbinval(tup, desc, 5, &isnull)));
		op->status = status_from_name(TextDatumGetCString(SPI_getbinval(tup, desc, 6, &isnull)));
		ops = lappend(ops, op);
	}
	return ops;
}

/*
 * durable_storage_redrive_op
 *		An operation to perform again: deleted with its callbacks and
 *		branches, or, for a durable_child context, STARTED again.
 */
void
durable_storage_redrive_op(const pg_uuid_t *id, int32 run_no, int32 op_id, bool reopen)
{
	Datum		values[3];

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = Int32GetDatum(op_id);
	run(reopen ? Q_REDRIVE_REOPEN_OP : Q_REDRIVE_DELETE_OP, values, NULL, 0);
}

/*
 * durable_storage_redrive_execution
 *		Makes a finished execution PENDING again (see Q_REDRIVE_EXECUTION)
 *		and its cancelled durable_create_callback callbacks PENDING; returns
 *		its redrive count.
 */
int32
durable_storage_redrive_execution(const pg_uuid_t *id, int32 run_no, const char *hash,
								  TimestampTz now)
{
	Datum		values[3];
	bool		isnull;

	values[0] = UUIDPGetDatum(id);
	values[1] = Int32GetDatum(run_no);
	values[2] = TimestampTzGetDatum(now);
	run(Q_REDRIVE_CALLBACKS, values, NULL, 0);

	values[1] = TimestampTzGetDatum(now);
	values[2] = CStringGetTextDatum(hash);
	if (run(Q_REDRIVE_EXECUTION, values, NULL, 0) != 1)
		elog(ERROR, "execution %s vanished while it was redriven", durable_uuid_out(id));
	return DatumGetInt32(get_col(1, &isnull));
}

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

/*
 * durable_storage_outcome
 *		The status, result and error of an execution; false when there is
 *		none.  Allocated in the current memory context.
 */
bool
durable_storage_outcome(const pg_uuid_t *id, char **status, Jsonb **result, Jsonb **error)
{
	Datum		values[1];
	bool		isnull;
	Datum		v;

	values[0] = UUIDPGetDatum(id);
	if (run(Q_EXEC_OUTCOME, values, NULL, 1) != 1)
		return false;
	*status = TextDatumGetCString(get_col(1, &isnull));
	v = get_col(2, &isnull);
	*result = isnull ? NULL : DatumGetJsonbPCopy(v);
	v = get_col(3, &isnull);
	*error = isnull ? NULL : DatumGetJsonbPCopy(v);
	return true;
}

void
durable_storage_events_delete(const pg_uuid_t *id)
{
	Datum		values[1];

	values[0] = UUIDPGetDatum(id);
	run(Q_EVENTS_DELETE, values, NULL, 0);
}

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

/*
 * durable_storage_secret_get
 *		A secret's value, allowed hosts (char *) and owner; false when it
 *		does not exist.
 */
bool
durable_storage_secret_get(const char *name, char **value, List **allowed_hosts,
						   Oid *owner)
{
	Datum		values[1];
	bool		isnull;
	Datum	   *elems;
	bool	   *elnulls;
	int			nelems;
	int			i;

	values[0] = CStringGetTextDatum(name);
	if (run(Q_SECRET_GET, values, NULL, 1) != 1)
		return false;
	*value = TextDatumGetCString(get_col(1, &isnull));
	deconstruct_array(DatumGetArrayTypeP(get_col(2, &isnull)), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &elnulls, &nelems);
	*allowed_hosts = NIL;
	for (i = 0; i < nelems; i++)
		if (!elnulls[i])
			*allowed_hosts = lappend(*allowed_hosts, TextDatumGetCString(elems[i]));
	*owner = DatumGetObjectId(get_col(3, &isnull));
	return true;
}

/*
 * durable_storage_secret_owner
 *		Locks a secret's row and returns its owner; false when none.
 */
bool
durable_storage_secret_owner(const char *name, Oid *owner)
{
	Datum		values[1];
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	if (run(Q_SECRET_OWNER, values, NULL, 1) != 1)
		return false;
	*owner = DatumGetObjectId(get_col(1, &isnull));
	return true;
}

/*
 * durable_storage_secret_put
 *		Creates a secret owned by owner, or changes it if owner owns it;
 *		false when the name is taken by a secret of another owner (one that
 *		committed after the caller looked).
 */
bool
durable_storage_secret_put(const char *name, const char *value, Datum allowed_hosts,
						   Oid owner, TimestampTz now)
{
	Datum		values[5];

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(value);
	values[2] = allowed_hosts;
	values[3] = ObjectIdGetDatum(owner);
	values[4] = TimestampTzGetDatum(now);
	return run(Q_SECRET_PUT, values, NULL, 0) == 1;
}

void
durable_storage_secret_delete(const char *name)
{
	Datum		values[1];

	values[0] = CStringGetTextDatum(name);
	run(Q_SECRET_DELETE, values, NULL, 0);
}

void
durable_storage_secret_grant(const char *name, Oid grantee, bool grant)
{
	Datum		values[2];

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(grantee);
	run(grant ? Q_SECRET_GRANT : Q_SECRET_REVOKE, values, NULL, 0);
}

/*
 * durable_storage_secret_grantees
 *		The roles a secret is granted to, as a list of Oids.
 */
List *
durable_storage_secret_grantees(const char *name)
{
	Datum		values[1];
	uint64		n,
				i;
	List	   *roles = NIL;
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	n = run(Q_SECRET_GRANTEES, values, NULL, 0);
	for (i = 0; i < n; i++)
		roles = lappend_oid(roles, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																  SPI_tuptable->tupdesc,
																  1, &isnull)));
	return roles;
}

/*
 * durable_storage_secrets_list
 *		Every secret but its value: name, owner, allowed_hosts, grantees
 *		(oid[]), created_at, updated_at; the rows are left in SPI_tuptable.
 */
uint64
durable_storage_secrets_list(void)
{
	return run(Q_SECRETS_LIST, NULL, NULL, 0);
}

/*
 * durable_storage_secrets_sealed
 *		Whether any secret value is sealed under a key (secrets.c): then a
 *		missing key file is lost, not new.
 */
bool
durable_storage_secrets_sealed(void)
{
	return run(Q_SECRETS_SEALED, NULL, NULL, 1) > 0;
}
