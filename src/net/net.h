/*-------------------------------------------------------------------------
 *
 * net.h
 *	  HTTP through libcurl: checking a request, preparing and sending it,
 *	  turning the answer into an outcome.  Knows no executions.
 *
 * IDENTIFICATION
 *	  src/net/net.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_NET_NET_H
#define DURABLE_NET_NET_H

#include "store/store.h"

/* ----------------------------------------------------------------
 * http.c (requests) and outcome.c (what they got)
 * ----------------------------------------------------------------
 */
typedef struct DurableHttpRequest DurableHttpRequest;

/* set by the workers: requests go to the HTTP worker, not sent in place */
extern bool durable_http_async;

extern Jsonb *durable_http_check_request(Jsonb *request);
extern void durable_http_check_limits(const DurableHttpOptions *o);
extern bool durable_guarded(void (*fn) (void *arg), void *arg, char **message);
extern char *durable_http_idempotency_key(const DurableExecution *ex, int32 op_id);
extern DurableHttpRequest *durable_http_prepare(Jsonb *request, Jsonb *options,
												const char *idempotency_key, Oid owner,
												Jsonb **refused);
extern void *durable_http_handle(DurableHttpRequest *r);
extern Jsonb *durable_http_outcome(DurableHttpRequest *r, int curlcode);
extern void durable_http_free(DurableHttpRequest *r);
extern Jsonb *durable_http_send(Jsonb *request, Jsonb *options,
								const char *idempotency_key, Oid owner);
extern XLogRecPtr durable_wal_inserted(void);
extern Jsonb *durable_http_error_outcome(const char *kind, const char *message);
extern Jsonb *durable_http_response_result(Jsonb *response);
extern int64 durable_http_retry_after(Jsonb *headers);

#endif							/* DURABLE_NET_NET_H */
