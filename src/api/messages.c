/*-------------------------------------------------------------------------
 *
 * messages.c
 *	  What the outside sends to executions: the completion and heartbeat
 *	  of a callback, and events.  Each goes to the execution's inbox and
 *	  wakes a worker at commit; the driver applies it (core/inbox.c).
 *
 * IDENTIFICATION
 *	  src/api/messages.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

/*
 * callback_refused
 *		Why a callback cannot be completed or kept alive: the error.
 */
static void
callback_refused(const uint8 *hash, TimestampTz now)
{
	DurableCallback cb;

	if (!durable_storage_callback_get(hash, &cb))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("callback does not exist"),
				 errhint("A callback id comes from durable_create_callback or the submitter of durable_wait_for_callback; its execution may have been purged.")));
	if (strcmp(cb.status, "SUCCEEDED") == 0 || strcmp(cb.status, "FAILED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("callback has already been completed"),
				 errdetail("It was completed with status %s.", cb.status)));
	if (strcmp(cb.status, "CANCELLED") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("callback has been cancelled"),
				 errdetail("Its execution was stopped or finished without it.")));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("callback has timed out"),
			 errdetail(cb.timeout_at != DT_NOBEGIN && cb.timeout_at <= now ?
					   "Its timeout has passed." :
					   "Its heartbeat_timeout passed without a heartbeat.")));
}

static void
complete(FunctionCallInfo fcinfo, const char *status)
{
	char	   *token;
	Jsonb	   *value = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	ErrorContextCallback hide;
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	TimestampTz now = durable_clock_now();
	pg_uuid_t	execution;
	int32		run_no;
	int32		op_id;
	Oid			owner;
	const char *keys[4] = {"callback", "status", "result", "error"};
	Jsonb	   *values[4];
	bool		success = strcmp(status, "SUCCEEDED") == 0;

	/* the callback id is a capability: no error logs the statement */
	durable_hide_statement(&hide);
	token = durable_text_arg(fcinfo, 0, "callback id");
	durable_token_hash(token, hash);
	durable_check_payload(success ? "callback result" : "callback error", value);
	SPI_connect();
	if (!durable_storage_callback_complete(hash, status, success ? value : NULL,
										   success ? NULL : value, now, &execution,
										   &run_no, &op_id, &owner))
		callback_refused(hash, now);
	values[0] = durable_jsonb_string(durable_hex(hash, DURABLE_TOKEN_HASH_LEN));
	values[1] = durable_jsonb_string(status);
	values[2] = success ? value : NULL;
	values[3] = success ? NULL : value;
	durable_storage_inbox_add(&execution, "callback", durable_jsonb_build(4, keys, values),
							  owner, now);
	durable_wake_at_commit();
	SPI_finish();
	error_context_stack = hide.previous;
}

PG_FUNCTION_INFO_V1(durable_callback_success);

/*
 * durable_callback_success(callback_id text, result jsonb) RETURNS void
 */
Datum
durable_callback_success(PG_FUNCTION_ARGS)
{
	complete(fcinfo, "SUCCEEDED");
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_callback_failure);

/*
 * durable_callback_failure(callback_id text, error jsonb) RETURNS void
 */
Datum
durable_callback_failure(PG_FUNCTION_ARGS)
{
	complete(fcinfo, "FAILED");
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_callback_heartbeat);

/*
 * durable_callback_heartbeat(callback_id text) RETURNS void
 *		Starts the heartbeat_timeout of a pending callback again.  Nothing
 *		is woken: the execution wakes at the old deadline, sees the
 *		heartbeat, and sleeps until the new one.
 */
Datum
durable_callback_heartbeat(PG_FUNCTION_ARGS)
{
	char	   *token;
	uint8		hash[DURABLE_TOKEN_HASH_LEN];
	TimestampTz now = durable_clock_now();
	ErrorContextCallback hide;

	durable_hide_statement(&hide);
	token = durable_text_arg(fcinfo, 0, "callback id");
	durable_token_hash(token, hash);
	SPI_connect();
	if (!durable_storage_callback_heartbeat(hash, now))
		callback_refused(hash, now);
	SPI_finish();
	error_context_stack = hide.previous;
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_send_event);

/*
 * durable_send_event(execution text, event_name text, payload jsonb) RETURNS void
 */
Datum
durable_send_event(PG_FUNCTION_ARGS)
{
	char	   *execution = durable_text_arg(fcinfo, 0, "execution");
	char	   *event = durable_text_arg(fcinfo, 1, "event name");
	Jsonb	   *payload = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	pg_uuid_t	id;
	Oid			owner;
	char	   *status;
	bool		mine;
	const char *keys[2] = {"event", "payload"};
	Jsonb	   *values[2];

	durable_check_name("event name", event);
	durable_check_payload("event payload", payload);
	SPI_connect();
	owner = durable_resolve_controlled(execution, &id);
	if (durable_storage_status(&id, &status, &mine) &&
		durable_exec_status_finished(durable_exec_status_from_name(status)))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("execution \"%s\" has already finished", execution),
				 errdetail("Its status is %s.", status)));
	values[0] = durable_jsonb_string(event);
	values[1] = payload;
	durable_storage_inbox_add(&id, "event", durable_jsonb_build(2, keys, values), owner,
							  durable_clock_now());
	durable_wake_at_commit();
	SPI_finish();
	PG_RETURN_VOID();
}
