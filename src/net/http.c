/*-------------------------------------------------------------------------
 *
 * http.c
 *	  HTTP requests of durable_http through libcurl: checking a request,
 *	  building its curl handle (secrets resolved, addresses checked),
 *	  turning what curl got into an outcome, and deciding what an outcome
 *	  means for the operation: a result, a retry after a durable delay, or
 *	  a failure.
 *
 * A request is sent in one of two places.  An execution driven by the
 * background workers hands it to the HTTP worker (httpworker.c) through
 * durable.http_requests and suspends; the answer comes back through the
 * inbox as a message of kind "http".  Any other driver (durable_drive,
 * CALL durable_run, durable_tick) sends it in place and waits for it.
 * Both build the handle here and apply the outcome here.
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
 *	  src/http.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "access/xlog_internal.h"
#include "common/base64.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "net/net.h"
#include "util/durable_errcodes.h"

bool		durable_http_async = false;

/* a growing malloc'd buffer that curl callbacks fill */
typedef struct HttpBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} HttpBuffer;

struct DurableHttpRequest
{
	CURL	   *easy;
	struct curl_slist *headers;
	HttpBuffer		body;
	HttpBuffer		head;			/* header lines of the last response */
	size_t		max_body;
	bool		too_large;
	bool		refused;
	char		refused_addr[INET6_ADDRSTRLEN];
	DurableAllowList allow;
	char		errbuf[CURL_ERROR_SIZE];
};

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

/* In place: interrupts end a transfer; the caller raises them after. */
static int
interrupt_check(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
				curl_off_t ultotal, curl_off_t ulnow)
{
	return (QueryCancelPending || ProcDiePending) ? 1 : 0;
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
