/*-------------------------------------------------------------------------
 *
 * http.c
 *	  HTTP requests of durable_http through libcurl: checking a request
 *	  and building its curl handle (secrets resolved, addresses checked),
 *	  sending it in place.  outcome.c turns what curl got into an outcome;
 *	  ops/http.c decides what an outcome means for the operation.
 *
 * A request is sent in one of two places.  An execution driven by the
 * background workers hands it to the HTTP worker (httpworker.c) through
 * durable.http_requests and suspends; the answer comes back through the
 * inbox as a message of kind "http".  Any other driver (durable_drive,
 * CALL durable_run, durable_tick) sends it in place and waits for it.
 * Both build the handle here.
 *
 * An outcome is {"response": {status, headers, body, base64}} or
 * {"error": {kind, message[, sent]}}, kind being timeout, connection,
 * refused, too_large, redirects, tls, unknown or invalid (the HTTP worker
 * could not prepare the request or handle its answer); "sent": false says
 * that no byte of the request went out (curl wrote none).
 *
 * Nothing a remote server sends may raise an error where an outcome is
 * made or applied: bodies are kept as strings (or base64) in outcomes, and
 * a JSON body that jsonb cannot hold (numbers out of range, deep nesting)
 * is converted in a subtransaction and kept as a string when it fails.
 *
 * Nothing here runs inside a curl callback that may raise an error: the
 * callbacks only copy bytes into malloc'd buffers and set flags.
 *
 * IDENTIFICATION
 *	  src/net/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "access/xlog.h"
#include "pgstat.h"
#include "utils/memutils.h"

#include "net/net.h"
#include "net/http_int.h"
#include "util/durable_errcodes.h"

bool		durable_http_async = false;

static curl_socket_t
open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	DurableHttpRequest *r = clientp;

	if (!durable_address_allowed(&address->addr, &r->allow, r->refused_addr))
	{
		r->refused = true;
		return CURL_SOCKET_BAD;
	}
	return socket(address->family, address->socktype, address->protocol);
}

/* ----------------------------------------------------------------
 * checking a request
 * ----------------------------------------------------------------
 */

static void
request_error(const char *message, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid http request: %s", message),
			 detail ? errdetail("%s", detail) : 0,
			 errhint("A request is {\"method\", \"url\", \"headers\", \"body\", \"timeout\"}; only url is required.")));
}

/* a timeout longer than durable.http_max_timeout, at the call */
static void
timeout_error(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid http request: %s is longer than durable.http_max_timeout (%d ms)",
					what, durable_http_max_timeout),
			 errhint("Ask for a shorter timeout; a superuser sets durable.http_max_timeout.")));
}

/*
 * durable_http_check_limits
 *		At the call: the option timeouts (per attempt, and of connecting)
 *		are at most durable.http_max_timeout.
 */
void
durable_http_check_limits(const DurableHttpOptions *o)
{
	if (o->retry.timeout > (int64) durable_http_max_timeout * 1000)
		timeout_error("the option \"timeout\"");
	if (o->connect_timeout > (int64) durable_http_max_timeout * 1000)
		timeout_error("the option \"connect_timeout\"");
}

static const char *const methods[] = {
	"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", NULL
};

static const char *
check_method(const char *m)
{
	int			i;

	for (i = 0; methods[i] != NULL; i++)
		if (pg_strcasecmp(m, methods[i]) == 0)
			return methods[i];
	return NULL;
}

/* A secret reference {"secret": name[, "prefix": text]}; its name or NULL. */
static char *
secret_ref(JsonbContainer *c, char **prefix)
{
	JsonbValue *v;
	int			n = JsonContainerSize(c);
	char	   *name;

	if (!JsonContainerIsObject(c) || n < 1 || n > 2)
		return NULL;
	v = getKeyJsonValueFromContainer(c, "secret", 6, NULL);
	if (v == NULL || v->type != jbvString)
		return NULL;
	name = pnstrdup(v->val.string.val, v->val.string.len);
	*prefix = NULL;
	if (n == 2)
	{
		v = getKeyJsonValueFromContainer(c, "prefix", 6, NULL);
		if (v == NULL || v->type != jbvString)
			return NULL;
		*prefix = pnstrdup(v->val.string.val, v->val.string.len);
	}
	return name;
}

static bool
header_name_ok(const char *s, int len)
{
	int			i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
	{
		unsigned char c = s[i];

		if (c <= ' ' || c >= 127 || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
			return false;
	}
	return true;
}

static bool
header_value_ok(const char *s, int len)
{
	int			i;

	for (i = 0; i < len; i++)
		if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0')
			return false;
	return true;
}

/* scheme and host of a URL; false when curl cannot parse it */
static bool
url_parts(const char *url, char **scheme, char **host)
{
	CURLU	   *u = curl_url();
	char	   *s = NULL;
	char	   *h = NULL;
	bool		ok = false;

	if (u == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_SCHEME, &s, 0) == CURLUE_OK &&
		curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK)
	{
		*scheme = pstrdup(s);
		*host = pstrdup(h);
		ok = true;
	}
	curl_free(s);
	curl_free(h);
	curl_url_cleanup(u);
	return ok;
}

/*
 * durable_http_check_request
 *		Checks a request of durable_http; returns it.  Bad requests are
 *		errors (22023) at the call.
 */
Jsonb *
durable_http_check_request(Jsonb *request)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	bool		has_url = false;

	if (request == NULL || !JB_ROOT_IS_OBJECT(request) || JB_ROOT_IS_SCALAR(request))
		request_error("it must be a JSON object", NULL);

	it = JsonbIteratorInit(&request->root);
	tok = JsonbIteratorNext(&it, &v, true);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_END_OBJECT)
	{
		char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "url") == 0)
		{
			char	   *url,
					   *scheme,
					   *host;

			if (v.type != jbvString)
				request_error("\"url\" must be a string", NULL);
			url = pnstrdup(v.val.string.val, v.val.string.len);
			if (strlen(url) != (size_t) v.val.string.len || !url_parts(url, &scheme, &host))
				request_error("\"url\" is not a valid URL", NULL);
			if (pg_strcasecmp(scheme, "http") != 0 && pg_strcasecmp(scheme, "https") != 0)
				request_error(psprintf("URL scheme \"%s\" is not supported", scheme),
							  "Only http and https are.");
			if (strncmp(url, scheme, strlen(scheme)) != 0 || url[strlen(scheme)] != ':')
				request_error("\"url\" must be absolute, such as https://example.com/path", NULL);
			has_url = true;
		}
		else if (strcmp(key, "method") == 0)
		{
			if (v.type != jbvString ||
				check_method(pnstrdup(v.val.string.val, v.val.string.len)) == NULL)
				request_error("unknown \"method\"",
							  "Use GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS.");
		}
		else if (strcmp(key, "headers") == 0)
		{
			JsonbIterator *hit;
			JsonbValue	hv;

			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				request_error("\"headers\" must be an object of header names and values", NULL);
			hit = JsonbIteratorInit(v.val.binary.data);
			(void) JsonbIteratorNext(&hit, &hv, true);
			while (JsonbIteratorNext(&hit, &hv, true) == WJB_KEY)
			{
				char	   *name = pnstrdup(hv.val.string.val, hv.val.string.len);
				char	   *prefix;

				if (!header_name_ok(hv.val.string.val, hv.val.string.len))
					request_error(psprintf("\"%s\" is not a valid header name", name), NULL);
				(void) JsonbIteratorNext(&hit, &hv, true);
				if (hv.type == jbvString)
				{
					if (!header_value_ok(hv.val.string.val, hv.val.string.len))
						request_error(psprintf("the value of header \"%s\" contains a line break", name),
									  NULL);
				}
				else if (hv.type != jbvBinary || secret_ref(hv.val.binary.data, &prefix) == NULL)
					request_error(psprintf("the value of header \"%s\" must be a string or a secret reference", name),
								  "A secret reference is {\"secret\": \"name\"} or {\"secret\": \"name\", \"prefix\": \"Bearer \"}.");
				else if (prefix != NULL && !header_value_ok(prefix, strlen(prefix)))
					request_error(psprintf("the prefix of header \"%s\" contains a line break", name),
								  NULL);
			}
		}
		else if (strcmp(key, "body") == 0)
		{
			/* any JSON */
		}
		else if (strcmp(key, "timeout") == 0)
		{
			int64		t;

			if (v.type != jbvString)
				request_error("\"timeout\" must be an interval, such as \"5 seconds\"", NULL);
			t = durable_option_interval("timeout", &v, NULL);
			if (t <= 0)
				request_error("\"timeout\" must be a positive interval", NULL);
			if (t > (int64) durable_http_max_timeout * 1000)
				timeout_error("the request's \"timeout\"");
		}
		else
			request_error(psprintf("unknown key \"%s\"", key), NULL);
	}
	if (!has_url)
		request_error("\"url\" is missing", NULL);
	return request;
}

/*
 * durable_http_idempotency_key
 *		<execution id>:<op_id>, and <execution id>:<run>.<op_id> in the runs
 *		after the first, whose op_ids start again at 1.
 */
char *
durable_http_idempotency_key(const DurableExecution *ex, int32 op_id)
{
	if (ex->run_no == 1)
		return psprintf("%s:%d", durable_uuid_out(&ex->id), op_id);
	return psprintf("%s:%d.%d", durable_uuid_out(&ex->id), ex->run_no, op_id);
}

/* ----------------------------------------------------------------
 * building a handle
 * ----------------------------------------------------------------
 */

static bool
buffer_add(HttpBuffer *b, const char *data, size_t len)
{
	if (b->len + len + 1 > b->cap)
	{
		size_t		cap = Max(b->cap * 2, b->len + len + 1);
		char	   *p;

		cap = Max(cap, 1024);
		p = realloc(b->data, cap);
		if (p == NULL)
			return false;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return true;
}

static size_t
write_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	DurableHttpRequest *r = userdata;
	size_t		n = size * nmemb;

	if (r->body.len + n > r->max_body)
	{
		r->too_large = true;
		return 0;
	}
	return buffer_add(&r->body, ptr, n) ? n : 0;
}

static size_t
write_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	DurableHttpRequest *r = userdata;
	size_t		n = size * nmemb;

	/* a status line starts a response: after a redirect or a 100 Continue */
	if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
		r->head.len = 0;
	if (r->head.len + n > 256 * 1024)
		return 0;
	return buffer_add(&r->head, ptr, n) ? n : 0;
}

/* resolves the secrets of a request, once each */
typedef struct SecretCtx
{
	Oid			owner;
	const char *host;
	char	   *refusal;
	bool		used;
} SecretCtx;

static char *
secret_value(SecretCtx *sc, const char *name, const char *prefix)
{
	char	   *value = NULL;

	sc->used = true;
	if (sc->refusal != NULL)
		return NULL;
	durable_secret_resolve(name, sc->owner, sc->host, &value, &sc->refusal);
	if (value == NULL)
		return NULL;
	return prefix ? psprintf("%s%s", prefix, value) : value;
}

/*
 * substitute
 *		Pushes a container with its secret references replaced by their
 *		values; returns what the last push returned (the whole value, at the
 *		top).
 */
static JsonbValue *
substitute(JsonbContainer *c, JsonbParseState **ps, SecretCtx *sc)
{
	JsonbIterator *it = JsonbIteratorInit(c);
	JsonbValue	v;
	JsonbIteratorToken tok;
	JsonbValue *res = NULL;

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if ((tok == WJB_VALUE || tok == WJB_ELEM) && v.type == jbvBinary)
		{
			char	   *prefix;
			char	   *name = secret_ref(v.val.binary.data, &prefix);

			if (name != NULL)
			{
				char	   *value = secret_value(sc, name, prefix);
				JsonbValue	s;

				s.type = jbvString;
				s.val.string.val = value ? value : "";
				s.val.string.len = value ? strlen(value) : 0;
				res = pushJsonbValue(ps, tok, &s);
			}
			else
				res = substitute(v.val.binary.data, ps, sc);
			continue;
		}
		res = pushJsonbValue(ps, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	return res;
}

/* whether a line of our own sets a header */
static bool
has_header_line(List *lines, const char *name)
{
	ListCell   *lc;
	size_t		len = strlen(name);

	foreach(lc, lines)
	{
		const char *l = lfirst(lc);

		if (pg_strncasecmp(l, name, len) == 0 && l[len] == ':')
			return true;
	}
	return false;
}

static bool
has_header(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (pg_strcasecmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

#define SETOPT(opt, val) \
	do { \
		if (curl_easy_setopt(r->easy, (opt), (val)) != CURLE_OK) \
			failed = #opt; \
	} while (0)

/*
 * durable_http_prepare
 *		Builds the curl handle of a request sent by a role.  NULL, with the
 *		outcome in *refused, when a secret may not be used.  The request
 *		lives in TopMemoryContext until durable_http_free.
 */
DurableHttpRequest *
durable_http_prepare(Jsonb *request, Jsonb *options, const char *idempotency_key,
					 Oid owner, Jsonb **refused)
{
	DurableHttpOptions o;
	DurableHttpRequest *r;
	char	   *url = durable_jsonb_get_text(request, "url");
	char	   *method_text = durable_jsonb_get_text(request, "method");
	const char *method = method_text ? check_method(method_text) : "GET";
	Jsonb	   *headers = durable_jsonb_get(request, "headers");
	Jsonb	   *body = durable_jsonb_get(request, "body");
	char	   *timeout = durable_jsonb_get_text(request, "timeout");
	char	   *scheme,
			   *host;
	List	   *names = NIL;
	List	   *lines = NIL;
	List	   *secret_lines = NIL;
	char	   *body_text = NULL;
	size_t		body_len = 0;
	SecretCtx	sc;
	int64		timeout_us;
	const char *failed = NULL;
	char	   *bad = NULL;
	ListCell   *lc;

	durable_parse_http_options(options, &o);
	timeout_us = o.retry.timeout > 0 ? o.retry.timeout :
		(int64) durable_http_timeout * 1000;
	if (timeout != NULL)
	{
		JsonbValue	tv;

		tv.type = jbvString;
		tv.val.string.val = timeout;
		tv.val.string.len = strlen(timeout);
		timeout_us = durable_option_interval("timeout", &tv, NULL);
	}
	/* checked at the call; the setting may have been lowered since */
	timeout_us = Min(timeout_us, (int64) durable_http_max_timeout * 1000);
	if (url == NULL || method == NULL || !url_parts(url, &scheme, &host))
		elog(ERROR, "durable_http_prepare: unchecked request");

	memset(&sc, 0, sizeof(sc));
	sc.owner = owner;
	sc.host = host;

	/* headers, with secrets resolved */
	if (headers != NULL)
	{
		JsonbIterator *it = JsonbIteratorInit(&headers->root);
		JsonbValue	v;

		(void) JsonbIteratorNext(&it, &v, true);
		while (JsonbIteratorNext(&it, &v, true) == WJB_KEY)
		{
			char	   *name = pnstrdup(v.val.string.val, v.val.string.len);
			char	   *line;

			(void) JsonbIteratorNext(&it, &v, true);
			if (v.type == jbvString)
				line = psprintf("%s: %.*s", name, v.val.string.len, v.val.string.val);
			else
			{
				char	   *prefix;
				char	   *ref = secret_ref(v.val.binary.data, &prefix);
				char	   *value = ref ? secret_value(&sc, ref, prefix) : NULL;

				line = psprintf("%s: %s", name, value ? value : "");
				if (value != NULL)
					explicit_bzero(value, strlen(value));
				secret_lines = lappend(secret_lines, line);
			}
			names = lappend(names, name);
			lines = lappend(lines, line);
		}
	}

	/* the body: a string as is, other JSON as JSON text */
	if (body != NULL && !(JB_ROOT_IS_SCALAR(body) &&
						  getIthJsonbValueFromContainer(&body->root, 0)->type == jbvNull))
	{
		JsonbValue *scalar = JB_ROOT_IS_SCALAR(body) ?
			getIthJsonbValueFromContainer(&body->root, 0) : NULL;

		if (scalar != NULL && scalar->type == jbvString)
		{
			body_text = pnstrdup(scalar->val.string.val, scalar->val.string.len);
			body_len = scalar->val.string.len;
		}
		else
		{
			char	   *prefix;
			char	   *ref = JB_ROOT_IS_SCALAR(body) ? NULL : secret_ref(&body->root, &prefix);

			if (ref != NULL)
			{
				/* the whole body is a secret: sent as its text */
				char	   *value = secret_value(&sc, ref, prefix);

				body_text = value ? value : pstrdup("");
			}
			else
			{
				if (!JB_ROOT_IS_SCALAR(body))
				{
					JsonbParseState *ps = NULL;
					JsonbValue *res;

					res = substitute(&body->root, &ps, &sc);
					body = JsonbValueToJsonb(res);
				}
				body_text = JsonbToCString(NULL, &body->root, VARSIZE(body));
			}
			body_len = strlen(body_text);
			if (!has_header(names, "Content-Type"))
				lines = lappend(lines, "Content-Type: application/json");
		}
	}

	if (sc.refusal != NULL)
	{
		*refused = durable_http_error_outcome("refused", sc.refusal);
		return NULL;
	}

	if (!has_header(names, "Idempotency-Key"))
		lines = lappend(lines, psprintf("Idempotency-Key: %s", idempotency_key));
	if (!has_header(names, "User-Agent"))
		lines = lappend(lines, "User-Agent: durable/1.0");
	if (!has_header(names, "Expect"))
		lines = lappend(lines, "Expect:");
	/* no Content-Type of curl's own: a string body is sent as it is */
	if (!has_header(names, "Content-Type") && !has_header_line(lines, "Content-Type"))
		lines = lappend(lines, "Content-Type:");

	r = MemoryContextAllocZero(TopMemoryContext, sizeof(DurableHttpRequest));
	if (!durable_allow_list_parse(durable_http_allow_addresses, &r->allow, &bad))
		r->allow.n = 0;
	r->max_body = durable_http_max_response_size;
	r->easy = curl_easy_init();
	if (r->easy == NULL)
	{
		pfree(r);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a curl handle")));
	}
	foreach(lc, lines)
	{
		struct curl_slist *l = curl_slist_append(r->headers, lfirst(lc));

		if (l == NULL)
			failed = "curl_slist_append";
		else
			r->headers = l;
	}
	/* our copies of secret values go at once; curl keeps its own */
	foreach(lc, secret_lines)
		explicit_bzero(lfirst(lc), strlen(lfirst(lc)));

	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_PRIVATE, r);
	SETOPT(CURLOPT_NOSIGNAL, 1L);
	SETOPT(CURLOPT_ERRORBUFFER, r->errbuf);
#if LIBCURL_VERSION_NUM >= 0x075500
	SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
	SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	SETOPT(CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
	SETOPT(CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	/* no proxy from the environment: it would bypass the address check */
	SETOPT(CURLOPT_PROXY, "");
	SETOPT(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SETOPT(CURLOPT_OPENSOCKETDATA, r);
	SETOPT(CURLOPT_WRITEFUNCTION, write_body);
	SETOPT(CURLOPT_WRITEDATA, r);
	SETOPT(CURLOPT_HEADERFUNCTION, write_header);
	SETOPT(CURLOPT_HEADERDATA, r);
	SETOPT(CURLOPT_HTTPHEADER, r->headers);
	SETOPT(CURLOPT_TIMEOUT_MS, (long) Max(timeout_us / 1000, 1));
	SETOPT(CURLOPT_CONNECTTIMEOUT_MS,
		   (long) Max(Min(o.connect_timeout > 0 ? o.connect_timeout :
						  (int64) durable_http_connect_timeout * 1000,
						  (int64) durable_http_max_timeout * 1000) / 1000, 1));
	/* a response that announces a larger body ends at once */
	SETOPT(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) r->max_body);
	SETOPT(CURLOPT_SSL_VERIFYPEER, o.tls_verify ? 1L : 0L);
	SETOPT(CURLOPT_SSL_VERIFYHOST, o.tls_verify ? 2L : 0L);
	/* a secret never follows a redirect to another host */
	SETOPT(CURLOPT_FOLLOWLOCATION, (o.max_redirects > 0 && !sc.used) ? 1L : 0L);
	SETOPT(CURLOPT_MAXREDIRS, (long) o.max_redirects);
	SETOPT(CURLOPT_ACCEPT_ENCODING, "");
	if (strcmp(method, "HEAD") == 0)
		SETOPT(CURLOPT_NOBODY, 1L);
	else if (strcmp(method, "GET") != 0)
		SETOPT(CURLOPT_CUSTOMREQUEST, method);
	if (body_text != NULL || strcmp(method, "POST") == 0 ||
		strcmp(method, "PUT") == 0 || strcmp(method, "PATCH") == 0)
	{
		SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
		SETOPT(CURLOPT_COPYPOSTFIELDS, body_text ? body_text : "");
		if (strcmp(method, "POST") != 0)
			SETOPT(CURLOPT_CUSTOMREQUEST, method);
	}
	if (sc.used && body_text != NULL)
		explicit_bzero(body_text, body_len);

	if (failed != NULL)
	{
		durable_http_free(r);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not set up an http request: %s failed", failed)));
	}
	return r;
}

void *
durable_http_handle(DurableHttpRequest *r)
{
	return r->easy;
}

void
durable_http_free(DurableHttpRequest *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body.data);
	free(r->head.data);
	pfree(r);
}

/* In place: interrupts end a transfer; the caller raises them after. */
static int
interrupt_check(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
				curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
}

/*
 * durable_http_send
 *		Sends a request in this session and waits for it; interrupts end
 *		it (and are raised).  Before it goes out, the WAL written so far is
 *		flushed, so the outside world never sees an effect whose cause a
 *		crash could undo.
 */
Jsonb *
durable_http_send(Jsonb *request, Jsonb *options, const char *idempotency_key, Oid owner)
{
	Jsonb	   *refused = NULL;
	DurableHttpRequest *r;
	CURLcode	rc;
	Jsonb	   *outcome;

	r = durable_http_prepare(request, options, idempotency_key, owner, &refused);
	if (r == NULL)
		return refused;
	PG_TRY();
	{
		XLogFlush(durable_wal_inserted());
		if (curl_easy_setopt(r->easy, CURLOPT_NOPROGRESS, 0L) != CURLE_OK ||
			curl_easy_setopt(r->easy, CURLOPT_XFERINFOFUNCTION, interrupt_check) != CURLE_OK)
			elog(ERROR, "could not set up an http request: CURLOPT_XFERINFOFUNCTION failed");
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		rc = curl_easy_perform(r->easy);
		pgstat_report_wait_end();
		CHECK_FOR_INTERRUPTS();
		outcome = durable_http_outcome(r, rc);
	}
	PG_FINALLY();
	{
		durable_http_free(r);
	}
	PG_END_TRY();
	return outcome;
}
