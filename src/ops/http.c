/*-------------------------------------------------------------------------
 *
 * http.c
 *	  durable_http's outcome, checkpointed: what an answer (or a failure
 *	  to get one) means for the operation: a result, a retry after a
 *	  durable delay (Retry-After honoured), or the error the workflow
 *	  sees.  The answer comes from net/http.c in place, or from the HTTP
 *	  worker as a message in the inbox.  A request whose options name a
 *	  limiter is sent holding it, gives it back when its answer is applied,
 *	  and a 429 or 503 with Retry-After pauses the limiter (ops/limiter.c).
 *
 * IDENTIFICATION
 *	  src/ops/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/datum.h"

#include "ops/ops.h"
#include "util/durable_errcodes.h"

/* whether a status or an error kind is in a list of retry_on codes */
static bool
code_listed(List *codes, long status, const char *kind)
{
	ListCell   *lc;

	foreach(lc, codes)
	{
		const char *c = lfirst(lc);

		if (kind != NULL)
		{
			if (strcmp(c, kind) == 0)
				return true;
		}
		else if (strlen(c) == 3 && c[1] == 'x')
		{
			if (status / 100 == c[0] - '0')
				return true;
		}
		else if (atol(c) == status)
			return true;
	}
	return false;
}

static bool
retryable(DurableHttpOptions *o, long status, const char *kind)
{
	if (code_listed(o->retry.no_retry_on, status, kind))
		return false;
	if (o->retry.retry_on_given)
		return code_listed(o->retry.retry_on, status, kind);
	if (kind != NULL)
		return strcmp(kind, "timeout") == 0 || strcmp(kind, "connection") == 0;
	return status == 429 || status / 100 == 5;
}

/* the attempt failed for good: FAILED with this error */
static void
op_fail(DurableDrive *d, DurableOp *op, int sqlerrcode, char *message, char *detail,
		char *hint)
{
	durable_op_done(d, op, DOS_FAILED, NULL, durable_error_new(sqlerrcode, message, detail, hint));
}

/* what perform_http needs, in the replay's context */
typedef struct HttpArgs
{
	Jsonb	   *request;		/* checked */
	Jsonb	   *options;		/* as given ({} when none) */
	bool		at_most_once;
	char	   *limiter;		/* or NULL */
} HttpArgs;

static DurableAdvance perform_http(DurableDrive *d);
static bool apply_message(DurableDrive *d, DurableMessage *m);

const DurableOpKindInfo durable_kind_http = {
	.name = "http",
	.counts_bytes = true,
	.activity_attempt = true,
};
const DurableMessageKind durable_message_http = {
	.name = "http",
	.apply = apply_message,
};

/*
 * apply
 *		Checkpoints what an attempt of the operation got: the result, a
 *		retry after a durable delay, or the failure.
 */
static void
apply(DurableDrive *d, DurableOp *op, Jsonb *outcome, Jsonb *options)
{
	DurableHttpOptions o;
	Jsonb	   *response = durable_jsonb_get(outcome, "response");
	Jsonb	   *error = durable_jsonb_get(outcome, "error");
	char	   *kind = error ? durable_jsonb_get_text(error, "kind") : NULL;
	char	   *message = error ? durable_jsonb_get_text(error, "message") : NULL;
	char	   *sent = error ? durable_jsonb_get_text(error, "sent") : NULL;
	long		status = 0;
	int64		after = 0;
	char	   *why;

	durable_parse_http_options(options, &o);

	/*
	 * The attempt ended: its limiter is free.  A server that asks to wait
	 * (429 or 503 with Retry-After) pauses the limiter for every execution.
	 */
	if (o.retry.limiter != NULL)
	{
		durable_limiter_release(d, op);
		if (response != NULL)
		{
			long		st = atol(durable_jsonb_get_text(response, "status"));
			int64		ra = durable_http_retry_after(durable_jsonb_get(response, "headers"));

			if ((st == 429 || st == 503) && ra > 0)
				durable_limiter_pause(o.retry.limiter, durable_clock_now() +
									  Min(ra, (int64) durable_max_wait * USECS_PER_SEC));
		}
	}

	if (response != NULL)
	{
		status = atol(durable_jsonb_get_text(response, "status"));
		after = durable_http_retry_after(durable_jsonb_get(response, "headers"));
		why = psprintf("status %ld", status);
	}
	else if (kind == NULL)
		elog(ERROR, "durable_http: malformed outcome");
	else if (strcmp(kind, "refused") == 0)
	{
		op_fail(d, op, ERRCODE_DURABLE_HTTP_REFUSED,
				psprintf("http request \"%s\" was refused: %s", op->name, message), NULL,
				pstrdup("durable.http_allow_addresses lists the private addresses requests may reach; a secret must be granted to the execution's owner and allow the request's host."));
		return;
	}
	else if (strcmp(kind, "too_large") == 0)
	{
		op_fail(d, op, ERRCODE_DURABLE_LIMIT_EXCEEDED,
				psprintf("http request \"%s\" failed: %s", op->name, message), NULL,
				pstrdup("Raise durable.http_max_response_size, or ask for less."));
		return;
	}
	else if (strcmp(kind, "unknown") == 0)
	{
		op_fail(d, op, ERRCODE_DURABLE_HTTP_UNKNOWN,
				psprintf("http request \"%s\" has an unknown outcome: %s", op->name, message),
				psprintf("Attempt %d was taken by the HTTP worker, which stopped before it was answered; with semantics at_most_once it is not sent again.",
						 op->attempt),
				pstrdup("Find out from the other side whether it was received."));
		return;
	}
	else if (o.retry.at_most_once &&
			 (strcmp(kind, "timeout") == 0 || strcmp(kind, "connection") == 0) &&
			 (sent == NULL || strcmp(sent, "false") != 0))
	{
		/* it may have been received: never sent a second time */
		op_fail(d, op, ERRCODE_DURABLE_HTTP_UNKNOWN,
				psprintf("http request \"%s\" has an unknown outcome: %s", op->name, message),
				psprintf("Attempt %d ended with a %s error after the request may have been sent; with semantics at_most_once it is not sent again.",
						 op->attempt, kind),
				pstrdup("Find out from the other side whether it was received."));
		return;
	}
	else
		why = pstrdup(message);

	if (retryable(&o, status, kind))
	{
		if (op->attempt < o.retry.max_attempts)
		{
			int64		delay;

			/*
			 * Draw the jittered delay once: Max() evaluates its arguments
			 * twice, and a second draw could fall below Retry-After.
			 */
			delay = durable_retry_delay(&o.retry, op->attempt);
			delay = Max(delay, after);
			delay = Min(delay, (int64) durable_max_wait * USECS_PER_SEC);
			durable_op_retry(d, op, durable_clock_now() + delay,
							 durable_error_new(ERRCODE_DURABLE_HTTP_FAILED,
											   psprintf("http request \"%s\" attempt %d: %s",
														op->name, op->attempt, why),
											   NULL, NULL));
			durable_count(DC_RETRIES, 1);
			durable_wfstats_count(d->ex.workflow, DC_RETRIES, 1);
			return;
		}
		op_fail(d, op, ERRCODE_DURABLE_HTTP_FAILED,
				psprintf("http request \"%s\" failed: %s", op->name, why),
				psprintf("Attempt %d of %d.", op->attempt, o.retry.max_attempts), NULL);
		if (o.retry.max_attempts > 1)
			durable_log_exhausted(&d->ex, op->name, op->attempt, op->error);
		return;
	}
	if (response == NULL)
	{
		op_fail(d, op, ERRCODE_DURABLE_HTTP_FAILED,
				psprintf("http request \"%s\" failed: %s", op->name, why),
				psprintf("Attempt %d of %d; a %s error is not retried.", op->attempt,
						 o.retry.max_attempts, kind), NULL);
		return;
	}
	if (status >= 400 && code_listed(o.fail_on_status, status, NULL))
	{
		op_fail(d, op, ERRCODE_DURABLE_HTTP_FAILED,
				psprintf("http request \"%s\" failed: %s", op->name, why),
				pstrdup("The status is listed in fail_on_status."), NULL);
		return;
	}

	/* the result */
	response = durable_http_response_result(response);
	if (VARSIZE(response) > (Size) durable_max_payload_size ||
		d->ckpt_bytes + VARSIZE(response) > (int64) durable_max_execution_bytes * 1024)
	{
		op_fail(d, op, ERRCODE_DURABLE_LIMIT_EXCEEDED,
				VARSIZE(response) > (Size) durable_max_payload_size ?
				psprintf("http response of \"%s\" is too large (%zu bytes; durable.max_payload_size is %d)",
						 op->name, (Size) VARSIZE(response), durable_max_payload_size) :
				psprintf("checkpoints of this run would exceed durable.max_execution_bytes (%d kB)",
						 durable_max_execution_bytes),
				NULL, pstrdup("Ask for less, or raise the limit."));
		return;
	}
	durable_op_done(d, op, DOS_SUCCEEDED, response, NULL);
}

/*
 * apply_message
 *		An answer from the HTTP worker: {op_id, run_no, attempt, options,
 *		outcome}.  Applied to the operation if it still waits for that
 *		attempt; true when it was.
 */
static bool
apply_message(DurableDrive *d, DurableMessage *m)
{
	Jsonb	   *payload = m->payload;
	char	   *op_id = durable_jsonb_get_text(payload, "op_id");
	char	   *run_no = durable_jsonb_get_text(payload, "run_no");
	char	   *attempt = durable_jsonb_get_text(payload, "attempt");
	HASH_SEQ_STATUS status;
	DurableOp  *op;

	if (op_id == NULL || run_no == NULL || attempt == NULL || atoi(run_no) != d->ex.run_no)
		return false;
	hash_seq_init(&status, d->ops);
	while ((op = hash_seq_search(&status)) != NULL)
	{
		if (op->op_id == atoi(op_id))
		{
			hash_seq_term(&status);
			break;
		}
	}
	if (op == NULL || op->kind != &durable_kind_http || op->status != DOS_STARTED ||
		op->attempt != atoi(attempt))
		return false;
	apply(d, op, durable_jsonb_get(payload, "outcome"), durable_jsonb_get(payload, "options"));
	return true;
}

PG_FUNCTION_INFO_V1(durable_http);

/*
 * durable_http(name text, request jsonb, options jsonb) RETURNS jsonb
 */
Datum
durable_http(PG_FUNCTION_ARGS)
{
	DurableDrive *d = durable_op_enter("durable_http");
	char	   *name = durable_text_arg(fcinfo, 0, "http request name");
	Jsonb	   *request;
	Jsonb	   *options = PG_ARGISNULL(2) ? NULL : PG_GETARG_JSONB_P(2);
	DurableOpKey key;
	DurableOp  *op;
	DurableHttpOptions o;
	HttpArgs   *a;
	MemoryContext old;

	durable_check_name("http request name", name);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("http request must not be null")));
	op = durable_op_lookup(d, &durable_kind_http, name, &key);
	if (op != NULL)
	{
		if (!durable_attempt_due(d, op, &key))
			PG_RETURN_JSONB_P(durable_op_result_copy(op));
	}
	else
		durable_op_check_limit(d);

	/* an attempt is due, or one is under way: the driver sees to it */
	old = MemoryContextSwitchTo(d->replay_cxt);
	request = durable_http_check_request(PG_GETARG_JSONB_P_COPY(1));
	durable_check_payload("http request", request);
	durable_parse_http_options(options, &o);
	durable_http_check_limits(&o);
	MemoryContextSwitchTo(old);
	old = durable_pending_begin(d, DPK_PERFORM, perform_http, &durable_kind_http, &key, op,
								name);
	a = palloc(sizeof(HttpArgs));
	a->request = request;
	a->options = options ? (Jsonb *) datumCopy(PointerGetDatum(options), false, -1) :
		durable_cstring_to_jsonb("{}");
	a->at_most_once = o.retry.at_most_once;
	a->limiter = o.retry.limiter ? pstrdup(o.retry.limiter) : NULL;
	d->pending.args = a;
	MemoryContextSwitchTo(old);
	durable_yield(d);
	PG_RETURN_NULL();			/* not reached */
}

/*
 * perform_http
 *		Sends an attempt of the pending HTTP request: through the HTTP
 *		worker when a worker drives the execution (it suspends until the
 *		answer comes as a message), else in place.  An attempt already made
 *		is waited for while its request is with the HTTP worker; one that
 *		is not was lost and counts as failed.
 */
static DurableAdvance
perform_http(DurableDrive *d)
{
	DurablePending *p = &d->pending;
	HttpArgs   *a = p->args;
	DurableOp  *op = p->op;
	char	   *key;
	Jsonb	   *outcome;

	if (op != NULL && op->status == DOS_STARTED)
	{
		if (durable_storage_http_in_flight(&d->ex.id, d->ex.run_no, op->op_id))
			return durable_drive_performed(d, DT_NOEND, p->name);
		outcome = a->at_most_once ?
			durable_http_error_outcome("unknown", "the attempt was interrupted") :
			durable_http_error_outcome("connection", "the attempt was interrupted");
		apply(d, op, outcome, a->options);
	}
	else
	{
		/* a limiter: the attempt is sent once the request holds it */
		if (a->limiter != NULL)
		{
			DurableAdvance next;

			if (!durable_limiter_acquire(d, &op, a->limiter, !durable_http_async, &next))
				return next;
		}
		if (op == NULL)
			op = durable_op_create(d, &p->key, &durable_kind_http, p->name, DOS_STARTED);
		else
			durable_op_next_attempt(d, op);
		key = durable_http_idempotency_key(&d->ex, op->op_id);
		if (durable_http_async)
		{
			durable_storage_http_insert(&d->ex, op->op_id, op->attempt, a->request, a->options,
										key, a->at_most_once, durable_clock_now());
			durable_wake_http_at_commit();
			return durable_drive_performed(d, DT_NOEND, p->name);
		}
		durable_count(DC_STEPS, 1);
		durable_wfstats_count(d->ex.workflow, DC_STEPS, 1);
		outcome = durable_http_send(a->request, a->options, key, d->ex.owner);
		apply(d, op, outcome, a->options);
	}
	return durable_drive_settled(d, op);
}
