/*-------------------------------------------------------------------------
 *
 * http.c
 *	  durable_http's outcome, checkpointed: what an answer (or a failure
 *	  to get one) means for the operation: a result, a retry after a
 *	  durable delay (Retry-After honoured), or the error the workflow
 *	  sees.  The answer comes from net/http.c in place, or from the HTTP
 *	  worker as a message in the inbox.
 *
 * IDENTIFICATION
 *	  src/ops/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

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

static void
op_fail(DurableOp *op, int sqlerrcode, char *message, char *detail, char *hint)
{
	ErrorData	e;

	memset(&e, 0, sizeof(e));
	e.sqlerrcode = sqlerrcode;
	e.message = message;
	e.detail = detail;
	e.hint = hint;
	op->status = DOS_FAILED;
	op->error = durable_error_to_jsonb(&e, NULL);
	op->result = NULL;
	op->wake_at = DT_NOBEGIN;
	op->finished_at = durable_clock_now();
}

/*
 * durable_http_apply
 *		Checkpoints what an attempt of the operation got: the result, a
 *		retry after a durable delay, or the failure.
 */
void
durable_http_apply(DurableDrive *d, DurableOp *op, Jsonb *outcome, Jsonb *options)
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
	MemoryContext old;

	durable_parse_http_options(options, &o);
	durable_op_mark_dirty(d, op);
	old = MemoryContextSwitchTo(d->cxt);

	if (response != NULL)
	{
		status = atol(durable_jsonb_get_text(response, "status"));
		after = durable_http_retry_after(durable_jsonb_get(response, "headers"));
		why = psprintf("status %ld", status);
	}
	else if (kind == NULL)
		elog(ERROR, "durable_http_apply: malformed outcome");
	else if (strcmp(kind, "refused") == 0)
	{
		op_fail(op, ERRCODE_DURABLE_HTTP_REFUSED,
				psprintf("http request \"%s\" was refused: %s", op->name, message), NULL,
				pstrdup("durable.http_allow_addresses lists the private addresses requests may reach; a secret must be granted to the execution's owner and allow the request's host."));
		MemoryContextSwitchTo(old);
		return;
	}
	else if (strcmp(kind, "too_large") == 0)
	{
		op_fail(op, ERRCODE_DURABLE_LIMIT_EXCEEDED,
				psprintf("http request \"%s\" failed: %s", op->name, message), NULL,
				pstrdup("Raise durable.http_max_response_size, or ask for less."));
		MemoryContextSwitchTo(old);
		return;
	}
	else if (strcmp(kind, "unknown") == 0)
	{
		op_fail(op, ERRCODE_DURABLE_HTTP_UNKNOWN,
				psprintf("http request \"%s\" has an unknown outcome: %s", op->name, message),
				psprintf("Attempt %d was taken by the HTTP worker, which stopped before it was answered; with semantics at_most_once it is not sent again.",
						 op->attempt),
				pstrdup("Find out from the other side whether it was received."));
		MemoryContextSwitchTo(old);
		return;
	}
	else if (o.retry.at_most_once &&
			 (strcmp(kind, "timeout") == 0 || strcmp(kind, "connection") == 0) &&
			 (sent == NULL || strcmp(sent, "false") != 0))
	{
		/* it may have been received: never sent a second time */
		op_fail(op, ERRCODE_DURABLE_HTTP_UNKNOWN,
				psprintf("http request \"%s\" has an unknown outcome: %s", op->name, message),
				psprintf("Attempt %d ended with a %s error after the request may have been sent; with semantics at_most_once it is not sent again.",
						 op->attempt, kind),
				pstrdup("Find out from the other side whether it was received."));
		MemoryContextSwitchTo(old);
		return;
	}
	else
		why = pstrdup(message);

	if (retryable(&o, status, kind))
	{
		if (op->attempt < o.retry.max_attempts)
		{
			int64		delay;
			ErrorData	e;

			/*
			 * Draw the jittered delay once: Max() evaluates its arguments
			 * twice, and a second draw could fall below Retry-After.
			 */
			delay = durable_retry_delay(&o.retry, op->attempt);
			delay = Max(delay, after);
			delay = Min(delay, (int64) durable_max_wait * USECS_PER_SEC);
			memset(&e, 0, sizeof(e));
			e.sqlerrcode = ERRCODE_DURABLE_HTTP_FAILED;
			e.message = psprintf("http request \"%s\" attempt %d: %s", op->name,
								 op->attempt, why);
			op->status = DOS_PENDING;
			op->error = durable_error_to_jsonb(&e, NULL);
			op->wake_at = durable_clock_now() + delay;
			durable_count(DC_RETRIES, 1);
			durable_wfstats_count(d->ex.workflow, DC_RETRIES, 1);
			MemoryContextSwitchTo(old);
			return;
		}
		op_fail(op, ERRCODE_DURABLE_HTTP_FAILED,
				psprintf("http request \"%s\" failed: %s", op->name, why),
				psprintf("Attempt %d of %d.", op->attempt, o.retry.max_attempts), NULL);
		if (o.retry.max_attempts > 1)
			durable_log_exhausted(&d->ex, op->name, op->attempt, op->error);
		MemoryContextSwitchTo(old);
		return;
	}
	if (response == NULL)
	{
		op_fail(op, ERRCODE_DURABLE_HTTP_FAILED,
				psprintf("http request \"%s\" failed: %s", op->name, why),
				psprintf("Attempt %d of %d; a %s error is not retried.", op->attempt,
						 o.retry.max_attempts, kind), NULL);
		MemoryContextSwitchTo(old);
		return;
	}
	if (status >= 400 && code_listed(o.fail_on_status, status, NULL))
	{
		op_fail(op, ERRCODE_DURABLE_HTTP_FAILED,
				psprintf("http request \"%s\" failed: %s", op->name, why),
				pstrdup("The status is listed in fail_on_status."), NULL);
		MemoryContextSwitchTo(old);
		return;
	}
	MemoryContextSwitchTo(old);

	/* the result */
	response = durable_http_response_result(response);
	old = MemoryContextSwitchTo(d->cxt);
	if (VARSIZE(response) > (Size) durable_max_payload_size ||
		d->ckpt_bytes + VARSIZE(response) > (int64) durable_max_execution_bytes * 1024)
	{
		op_fail(op, ERRCODE_DURABLE_LIMIT_EXCEEDED,
				VARSIZE(response) > (Size) durable_max_payload_size ?
				psprintf("http response of \"%s\" is too large (%zu bytes; durable.max_payload_size is %d)",
						 op->name, (Size) VARSIZE(response), durable_max_payload_size) :
				psprintf("checkpoints of this run would exceed durable.max_execution_bytes (%d kB)",
						 durable_max_execution_bytes),
				NULL, pstrdup("Ask for less, or raise the limit."));
		MemoryContextSwitchTo(old);
		return;
	}
	op->status = DOS_SUCCEEDED;
	op->result = palloc(VARSIZE(response));
	memcpy(op->result, response, VARSIZE(response));
	op->error = NULL;
	op->wake_at = DT_NOBEGIN;
	op->finished_at = durable_clock_now();
	d->ckpt_bytes += VARSIZE(response);
	MemoryContextSwitchTo(old);
}

/*
 * durable_http_message
 *		An answer from the HTTP worker: {op_id, run_no, attempt, options,
 *		outcome}.  Applied to the operation if it still waits for that
 *		attempt; true when it was.
 */
bool
durable_http_message(DurableDrive *d, Jsonb *payload)
{
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
	if (op == NULL || op->kind != DOK_HTTP || op->status != DOS_STARTED ||
		op->attempt != atoi(attempt))
		return false;
	durable_http_apply(d, op, durable_jsonb_get(payload, "outcome"),
					   durable_jsonb_get(payload, "options"));
	return true;
}
