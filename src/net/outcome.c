/*-------------------------------------------------------------------------
 *
 * outcome.c
 *	  What a request got, as an outcome: {"response": {status, headers,
 *	  body, base64}} or {"error": {kind, message[, sent]}} (see http.c);
 *	  converting a response body for the operation's result; Retry-After.
 *	  Nothing a remote server sends may raise an error here.
 *
 * IDENTIFICATION
 *	  src/net/outcome.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "common/base64.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "net/http_int.h"
#include "util/durable_errcodes.h"

/* ----------------------------------------------------------------
 * outcomes
 * ----------------------------------------------------------------
 */

/*
 * clean_text
 *		A copy of a message that may hold bytes from elsewhere (curl's
 *		error buffer quotes URLs and servers): at most 1000 bytes, and
 *		every byte that is not printable ASCII replaced by '?' unless the
 *		whole is valid text.
 */
static char *
clean_text(const char *message)
{
	int			len = strlen(message);
	char	   *copy;
	int			i;

	if (pg_verifymbstr(message, len, true))
		return pnstrdup(message, pg_mbcliplen(message, len, 1000));
	copy = pnstrdup(message, Min(len, 1000));
	len = strlen(copy);
	for (i = 0; i < len; i++)
		if ((unsigned char) copy[i] < 0x20 || (unsigned char) copy[i] >= 0x7F)
			copy[i] = '?';
	return copy;
}

static Jsonb *
error_outcome(const char *kind, const char *message, bool not_sent)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"error\": {\"kind\": ");
	escape_json(&buf, kind);
	appendStringInfoString(&buf, ", \"message\": ");
	escape_json(&buf, clean_text(message));
	if (not_sent)
		appendStringInfoString(&buf, ", \"sent\": false");
	appendStringInfoString(&buf, "}}");
	return durable_cstring_to_jsonb(buf.data);
}

Jsonb *
durable_http_error_outcome(const char *kind, const char *message)
{
	return error_outcome(kind, message, false);
}

/* The header lines of a response as an object: lowercase names. */
static void
append_headers(StringInfo buf, const char *head)
{
	List	   *names = NIL;
	List	   *values = NIL;
	char	   *copy = pstrdup(head ? head : "");
	char	   *line;
	char	   *save = NULL;
	ListCell   *ln,
			   *lv;
	bool		first = true;

	for (line = strtok_r(copy, "\r\n", &save); line; line = strtok_r(NULL, "\r\n", &save))
	{
		char	   *colon = strchr(line, ':');
		char	   *name;
		char	   *value;
		char	   *end;
		bool		merged = false;

		if (colon == NULL || strncmp(line, "HTTP/", 5) == 0)
			continue;
		*colon = '\0';
		for (name = line; *name; name++)
			*name = pg_ascii_tolower((unsigned char) *name);
		name = pstrdup(line);
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		end = value + strlen(value);
		while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		/* a header that is not valid text is left out */
		if (!pg_verifymbstr(value, strlen(value), true) ||
			!pg_verifymbstr(name, strlen(name), true))
			continue;
		forboth(ln, names, lv, values)
		{
			if (strcmp(lfirst(ln), name) == 0)
			{
				lfirst(lv) = psprintf("%s, %s", (char *) lfirst(lv), value);
				merged = true;
				break;
			}
		}
		if (!merged)
		{
			names = lappend(names, name);
			values = lappend(values, pstrdup(value));
		}
	}
	appendStringInfoChar(buf, '{');
	forboth(ln, names, lv, values)
	{
		if (!first)
			appendStringInfoString(buf, ", ");
		first = false;
		escape_json(buf, lfirst(ln));
		appendStringInfoString(buf, ": ");
		escape_json(buf, lfirst(lv));
	}
	appendStringInfoChar(buf, '}');
}

/*
 * durable_http_outcome
 *		What a finished transfer got, as an outcome.
 */
Jsonb *
durable_http_outcome(DurableHttpRequest *r, int curlcode)
{
	CURLcode	rc = (CURLcode) curlcode;
	long		status = 0;
	long		request_size = 0;
	StringInfoData buf;
	const char *msg = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
	bool		not_sent;

	/* bytes of requests curl wrote to a socket: none, nothing was sent */
	(void) curl_easy_getinfo(r->easy, CURLINFO_REQUEST_SIZE, &request_size);
	not_sent = request_size == 0;

	/* refused, unless another address of the host was then reached */
	if (r->refused && rc != CURLE_OK)
		return durable_http_error_outcome("refused",
										  psprintf("connecting to %s is not allowed: it is a loopback, private, link-local or reserved address",
												   r->refused_addr));
	if (r->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		return durable_http_error_outcome("too_large",
										  psprintf("the response is larger than durable.http_max_response_size (%d bytes)",
												   durable_http_max_response_size));
	switch (rc)
	{
		case CURLE_OK:
			break;
		case CURLE_OPERATION_TIMEDOUT:
			return error_outcome("timeout", msg, not_sent);
		case CURLE_TOO_MANY_REDIRECTS:
			return durable_http_error_outcome("redirects", msg);
		case CURLE_UNSUPPORTED_PROTOCOL:
			/* the request's own scheme was checked: a redirect's */
			return durable_http_error_outcome("refused",
											  psprintf("a redirect to a scheme other than http or https is not followed: %s",
													   msg));
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_ISSUER_ERROR:
		case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
			return durable_http_error_outcome("tls", msg);
		default:
			return error_outcome("connection", msg, not_sent);
	}

	(void) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"response\": {\"status\": %ld, \"headers\": ", status);
	append_headers(&buf, r->head.data);
	appendStringInfoString(&buf, ", \"body\": ");
	if (r->body.len == 0)
		appendStringInfoString(&buf, "null");
	else if (memchr(r->body.data, '\0', r->body.len) == NULL &&
			 pg_verifymbstr(r->body.data, r->body.len, true))
		escape_json(&buf, r->body.data);
	else
	{
		int			enclen = pg_b64_enc_len(r->body.len);
		char	   *enc = palloc(enclen + 1);
		int			n = pg_b64_encode(r->body.data, r->body.len, enc, enclen);

		enc[Max(n, 0)] = '\0';
		escape_json(&buf, enc);
		appendStringInfoString(&buf, ", \"base64\": true");
	}
	appendStringInfoString(&buf, "}}");
	return durable_cstring_to_jsonb(buf.data);
}

/*
 * durable_wal_inserted
 *		Where the WAL inserted so far ends: past every commit this session
 *		can see, asynchronous ones included.  An insert position just past
 *		a page header that is not written yet is taken back to the page's
 *		start, which ends the same records and may be flushed.
 */
XLogRecPtr
durable_wal_inserted(void)
{
	XLogRecPtr	ptr = GetXLogInsertRecPtr();

	if (ptr % XLOG_BLCKSZ <= SizeOfXLogLongPHD)
		ptr -= ptr % XLOG_BLCKSZ;
	return ptr;
}

/* ----------------------------------------------------------------
 * what an outcome means for the operation
 * ----------------------------------------------------------------
 */

/*
 * durable_guarded
 *		Runs fn(arg) in a subtransaction: true when it returned; false when
 *		it raised an error, which is then gone (*message says what it was,
 *		in the caller's memory context) and what fn did is rolled back.  A
 *		cancel is raised again.  For work that data from elsewhere may make
 *		fail, where an error must not undo the rest.
 */
bool
durable_guarded(void (*fn) (void *arg), void *arg, char **message)
{
	ErrorData  *e;

	if (durable_subxact_call(fn, arg, &e))
		return true;
	if (message != NULL)
		*message = clean_text(e->message ? e->message : "unknown error");
	FreeErrorData(e);
	return false;
}

typedef struct ToJsonb
{
	const char *body;			/* JSON text from elsewhere */
	const char *text;			/* the result with that body in it */
	Jsonb	   *result;			/* NULL: the body is not valid JSON */
} ToJsonb;

static void
body_to_jsonb(void *arg)
{
	ToJsonb    *t = arg;
	JsonLexContext *lex = makeJsonLexContextCstringLen((char *) t->body, strlen(t->body),
													   GetDatabaseEncoding(), true);

	if (pg_parse_json(lex, &nullSemAction) != JSON_SUCCESS)
		return;
	t->result = durable_cstring_to_jsonb(t->text);
}

/*
 * durable_http_response_result
 *		The response as the operation's result: a JSON body parsed.  A body
 *		whose content type says JSON but that is not valid JSON stays a
 *		string; one that is valid JSON but that jsonb cannot hold (a number
 *		out of numeric's range, nesting deeper than the stack allows...)
 *		stays a string too, with "json_error" saying why.  Never raises an
 *		error for what the server sent.
 */
Jsonb *
durable_http_response_result(Jsonb *response)
{
	Jsonb	   *headers = durable_jsonb_get(response, "headers");
	char	   *ctype = headers ? durable_jsonb_get_text(headers, "content-type") : NULL;
	char	   *base64 = durable_jsonb_get_text(response, "base64");
	char	   *body = durable_jsonb_get_text(response, "body");
	StringInfoData buf;
	ToJsonb		t;
	char	   *why = NULL;

	if (ctype == NULL || strstr(ctype, "json") == NULL || body == NULL ||
		base64 != NULL || strstr(body, "\\u0000") != NULL)
		return response;
	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"status\": %s, \"headers\": %s, \"body\": %s}",
					 durable_jsonb_get_text(response, "status"),
					 JsonbToCString(NULL, &headers->root, VARSIZE(headers)),
					 body);
	t.body = body;
	t.text = buf.data;
	t.result = NULL;
	if (durable_guarded(body_to_jsonb, &t, &why))
		return t.result ? t.result : response;	/* not JSON: the string */
	pfree(buf.data);

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"status\": %s, \"headers\": %s, \"body\": ",
					 durable_jsonb_get_text(response, "status"),
					 JsonbToCString(NULL, &headers->root, VARSIZE(headers)));
	escape_json(&buf, body);
	appendStringInfoString(&buf, ", \"json_error\": ");
	escape_json(&buf, why);
	appendStringInfoChar(&buf, '}');
	return durable_cstring_to_jsonb(buf.data);
}

/* Retry-After in microseconds from now; 0 when absent or past */
int64
durable_http_retry_after(Jsonb *headers)
{
	char	   *v = headers ? durable_jsonb_get_text(headers, "retry-after") : NULL;
	char	   *end;
	long		secs;

	if (v == NULL)
		return 0;
	secs = strtol(v, &end, 10);
	if (end != v && *end == '\0')
		return secs > 0 ? (int64) Min(secs, (long) durable_max_wait) * USECS_PER_SEC : 0;
	else
	{
		time_t		at = curl_getdate(v, NULL);
		TimestampTz ts;

		if (at == (time_t) -1)
			return 0;
		ts = time_t_to_timestamptz(at);
		return ts > GetCurrentTimestamp() ? ts - GetCurrentTimestamp() : 0;
	}
}
