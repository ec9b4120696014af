/*-------------------------------------------------------------------------
 *
 * options.c
 *	  Retry options of durable operations: parsing and validation of the
 *	  options object, which errors are retried, and the backoff delay.
 *
 * Options: max_attempts (total attempts, default 3), initial_delay
 * (interval, default 1 s), max_delay (default 5 min), backoff_rate
 * (default 2), jitter (none, full, half; default full), retry_on and
 * no_retry_on (arrays of SQLSTATEs or two-character classes), timeout
 * (interval per attempt), semantics (at_least_once or at_most_once),
 * limiter (the name of the limiter each attempt holds, ops/limiter.c).
 * Errors of class 42 (programming errors) are retried only when retry_on
 * names them.
 *
 * Those of durable_parallel and durable_map: the completion policy,
 * batch_size and results (what the operation's checkpoint holds).
 *
 * IDENTIFICATION
 *	  src/util/options.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "common/pg_prng.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "util/util.h"
#include "util/durable_errcodes.h"

static void
options_error(const char *key, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\"", key),
			 errdetail("Expected %s.", expected)));
}

/*
 * durable_option_interval
 *		An option given as an interval string, in microseconds (the interval
 *		itself in *parsed, if wanted); negative intervals are an error.
 */
static void
option_context(void *arg)
{
	errcontext("option \"%s\"", (const char *) arg);
}

int64
durable_option_interval(const char *key, JsonbValue *v, Interval **parsed)
{
	Interval   *iv;
	ErrorContextCallback errcb;

	if (v->type != jbvString)
		options_error(key, "an interval as a string, such as \"2 seconds\"");
	/* interval_in's own errors say which option they are about */
	errcb.callback = option_context;
	errcb.arg = (void *) key;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;
	iv = DatumGetIntervalP(DirectFunctionCall3(interval_in,
											   CStringGetDatum(pnstrdup(v->val.string.val,
																		v->val.string.len)),
											   ObjectIdGetDatum(InvalidOid),
											   Int32GetDatum(-1)));
	error_context_stack = errcb.previous;
	if (parsed != NULL)
		*parsed = iv;
	return durable_interval_us(iv, key);
}

/*
 * durable_options_next
 *		Walks the top-level keys of an options object: *it starts NULL; each
 *		call returns the next key and its value, false at the end.  NULL
 *		options are an empty object; anything but an object is an error.
 */
static bool
durable_options_next(Jsonb *options, JsonbIterator **it, char **key, JsonbValue *value)
{
	JsonbIteratorToken tok;
	JsonbValue	v;

	if (options == NULL)
		return false;
	if (*it == NULL)
	{
		if (!JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("options must be a jsonb object")));
		*it = JsonbIteratorInit(&options->root);
	}
	while ((tok = JsonbIteratorNext(it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
			*key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (tok == WJB_VALUE)
		{
			*value = v;
			return true;
		}
	}
	return false;
}

static double
option_number(const char *key, JsonbValue *v)
{
	if (v->type != jbvNumeric)
		options_error(key, "a number");
	return DatumGetFloat8(DirectFunctionCall1(numeric_float8,
											  NumericGetDatum(v->val.numeric)));
}

static bool
valid_sqlstate_or_class(const char *s, int len)
{
	int			i;

	if (len != 2 && len != 5)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
	return true;
}

static List *
option_codes(const char *key, JsonbValue *v)
{
	List	   *codes = NIL;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		options_error(key, "an array of SQLSTATEs or SQLSTATE classes, such as [\"40001\", \"23\"]");
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString ||
			!valid_sqlstate_or_class(elem.val.string.val, elem.val.string.len))
			options_error(key, "an array of SQLSTATEs (five characters) or SQLSTATE classes (two characters)");
		codes = lappend(codes, pnstrdup(elem.val.string.val, elem.val.string.len));
	}
	return codes;
}

static double
option_backoff(const char *key, JsonbValue *v)
{
	double		rate = option_number(key, v);

	if (rate < 1.0 || rate > 100.0)
		options_error(key, "a number from 1 to 100");
	return rate;
}

static DurableJitter
option_jitter(const char *key, JsonbValue *v)
{
	char	   *s;

	if (v->type == jbvString)
	{
		s = pnstrdup(v->val.string.val, v->val.string.len);
		if (strcmp(s, "none") == 0)
			return DJ_NONE;
		if (strcmp(s, "full") == 0)
			return DJ_FULL;
		if (strcmp(s, "half") == 0)
			return DJ_HALF;
	}
	options_error(key, "one of \"none\", \"full\", \"half\"");
	return DJ_NONE;				/* keep compiler quiet */
}

/*
 * backoff_option
 *		The keys retries and condition checks share: max_attempts (from 1 to
 *		max_attempts_limit), initial_delay, max_delay, backoff_rate, jitter.
 *		False for another key.
 */
static bool
backoff_option(const char *key, JsonbValue *v, int max_attempts_limit,
			   DurableRetryOptions *opts)
{
	if (strcmp(key, "max_attempts") == 0)
	{
		double		n = option_number(key, v);

		if (n < 1 || n > max_attempts_limit || n != (int) n)
			options_error(key, psprintf("a whole number from 1 to %d", max_attempts_limit));
		opts->max_attempts = (int) n;
	}
	else if (strcmp(key, "initial_delay") == 0)
		opts->initial_delay = durable_option_interval(key, v, NULL);
	else if (strcmp(key, "max_delay") == 0)
		opts->max_delay = durable_option_interval(key, v, NULL);
	else if (strcmp(key, "backoff_rate") == 0)
		opts->backoff_rate = option_backoff(key, v);
	else if (strcmp(key, "jitter") == 0)
		opts->jitter = option_jitter(key, v);
	else
		return false;
	return true;
}

static void
check_backoff(const DurableRetryOptions *opts)
{
	if (opts->max_delay < opts->initial_delay)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max_delay must not be less than initial_delay")));
	if (opts->max_delay > (int64) durable_max_wait * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("max_delay is longer than durable.max_wait")));
}

/*
 * attempt_option
 *		The keys steps and HTTP requests share besides the backoff: timeout
 *		(per attempt), semantics and limiter.  False for another key.
 */
static bool
attempt_option(const char *key, JsonbValue *v, DurableRetryOptions *opts)
{
	if (strcmp(key, "timeout") == 0)
	{
		opts->timeout = durable_option_interval(key, v, NULL);
		if (opts->timeout == 0)
			options_error(key, "a positive interval");
	}
	else if (strcmp(key, "semantics") == 0)
	{
		char	   *s;

		if (v->type != jbvString)
			options_error(key, "\"at_least_once\" or \"at_most_once\"");
		s = pnstrdup(v->val.string.val, v->val.string.len);
		if (strcmp(s, "at_least_once") == 0)
			opts->at_most_once = false;
		else if (strcmp(s, "at_most_once") == 0)
			opts->at_most_once = true;
		else
			options_error(key, "\"at_least_once\" or \"at_most_once\"");
	}
	else if (strcmp(key, "limiter") == 0)
	{
		if (v->type != jbvString)
			options_error(key, "the name of a limiter as a string");
		opts->limiter = pnstrdup(v->val.string.val, v->val.string.len);
		durable_check_name("limiter name", opts->limiter);
	}
	else
		return false;
	return true;
}

static void
retry_defaults(DurableRetryOptions *opts)
{
	opts->max_attempts = 3;
	opts->initial_delay = USECS_PER_SEC;
	opts->max_delay = 5 * 60 * USECS_PER_SEC;
	opts->backoff_rate = 2.0;
	opts->jitter = DJ_FULL;
	opts->retry_on = NIL;
	opts->retry_on_given = false;
	opts->no_retry_on = NIL;
	opts->timeout = 0;
	opts->at_most_once = false;
	opts->limiter = NULL;
}

/*
 * durable_parse_retry_options
 *		Fills opts from a jsonb object; unknown keys and bad values are errors.
 */
void
durable_parse_retry_options(Jsonb *options, DurableRetryOptions *opts)
{
	JsonbIterator *it = NULL;
	JsonbValue	v;
	char	   *key = NULL;

	retry_defaults(opts);
	while (durable_options_next(options, &it, &key, &v))
	{
		if (backoff_option(key, &v, 1000, opts))
			continue;
		if (strcmp(key, "retry_on") == 0)
		{
			opts->retry_on = option_codes(key, &v);
			opts->retry_on_given = true;
		}
		else if (strcmp(key, "no_retry_on") == 0)
			opts->no_retry_on = option_codes(key, &v);
		else if (attempt_option(key, &v, opts))
			continue;
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("Valid options are max_attempts, initial_delay, max_delay, backoff_rate, jitter, retry_on, no_retry_on, timeout, semantics and limiter.")));
	}

	check_backoff(opts);
}

/*
 * durable_parse_task_options
 *		The options of durable_task: max_attempts (default 3) and the
 *		backoff between attempts, timeout (of the whole task),
 *		heartbeat_timeout (the longest lease a claim or heartbeat gets),
 *		limiter (a name, kept for the performer).
 */
void
durable_parse_task_options(Jsonb *options, DurableTaskOptions *o)
{
	JsonbIterator *it = NULL;
	JsonbValue	v;
	char	   *key = NULL;

	retry_defaults(&o->retry);
	o->timeout = 0;
	o->heartbeat_timeout = 0;
	o->limiter = NULL;
	while (durable_options_next(options, &it, &key, &v))
	{
		if (backoff_option(key, &v, 1000, &o->retry))
			continue;
		if (strcmp(key, "timeout") == 0 || strcmp(key, "heartbeat_timeout") == 0)
		{
			int64		us = durable_option_interval(key, &v, NULL);

			if (us <= 0)
				options_error(key, "a positive interval");
			if (us > (int64) durable_max_wait * USECS_PER_SEC)
				ereport(ERROR,
						(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
						 errmsg("%s is longer than durable.max_wait", key)));
			if (key[0] == 't')
				o->timeout = us;
			else
				o->heartbeat_timeout = us;
		}
		else if (strcmp(key, "limiter") == 0)
		{
			if (v.type != jbvString || v.val.string.len == 0)
				options_error(key, "the name of a limiter, as a string");
			o->limiter = pnstrdup(v.val.string.val, v.val.string.len);
			durable_check_name("limiter name", o->limiter);
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("Valid options are max_attempts, initial_delay, max_delay, backoff_rate, jitter, timeout, heartbeat_timeout and limiter.")));
	}
	check_backoff(&o->retry);
}

/*
 * http_codes
 *		retry_on, no_retry_on and fail_on_status of HTTP: statuses (100 to
 *		599), classes ("4xx", "5xx") and, unless statuses_only, the error
 *		kinds "timeout" and "connection"; as strings.
 */
static List *
http_codes(const char *key, JsonbValue *v, bool statuses_only)
{
	const char *expected = statuses_only ?
		"an array of error statuses (400 to 599) and classes (\"4xx\", \"5xx\")" :
		"an array of statuses (such as 503), classes (such as \"5xx\"), \"timeout\" and \"connection\"";
	List	   *codes = NIL;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		options_error(key, expected);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		char	   *s;

		if (tok != WJB_ELEM)
			continue;
		if (elem.type == jbvNumeric)
		{
			double		n = option_number(key, &elem);

			if (n < (statuses_only ? 400 : 100) || n > 599 || n != (int) n)
				options_error(key, expected);
			codes = lappend(codes, psprintf("%d", (int) n));
			continue;
		}
		if (elem.type != jbvString)
			options_error(key, expected);
		s = pnstrdup(elem.val.string.val, elem.val.string.len);
		if (strlen(s) == 3 && s[0] >= (statuses_only ? '4' : '1') && s[0] <= '5' &&
			s[1] == 'x' && s[2] == 'x')
			codes = lappend(codes, s);
		else if (!statuses_only && (strcmp(s, "timeout") == 0 || strcmp(s, "connection") == 0))
			codes = lappend(codes, s);
		else
			options_error(key, expected);
	}
	return codes;
}

/*
 * durable_parse_http_options
 *		Options of durable_http: the retry options, with statuses in
 *		retry_on and no_retry_on, and fail_on_status, connect_timeout,
 *		max_redirects and tls_verify.
 */
void
durable_parse_http_options(Jsonb *options, DurableHttpOptions *o)
{
	JsonbIterator *it = NULL;
	JsonbValue	v;
	char	   *key = NULL;

	retry_defaults(&o->retry);
	o->fail_on_status = NIL;
	o->connect_timeout = 0;
	o->max_redirects = durable_http_max_redirects;
	o->tls_verify = true;
	while (durable_options_next(options, &it, &key, &v))
	{
		if (backoff_option(key, &v, 1000, &o->retry) ||
			attempt_option(key, &v, &o->retry))
			continue;
		if (strcmp(key, "retry_on") == 0)
		{
			o->retry.retry_on = http_codes(key, &v, false);
			o->retry.retry_on_given = true;
		}
		else if (strcmp(key, "no_retry_on") == 0)
			o->retry.no_retry_on = http_codes(key, &v, false);
		else if (strcmp(key, "fail_on_status") == 0)
		{
			if (v.type == jbvBool)
				o->fail_on_status = v.val.boolean ? list_make2("4xx", "5xx") : NIL;
			else
				o->fail_on_status = http_codes(key, &v, true);
		}
		else if (strcmp(key, "connect_timeout") == 0)
		{
			o->connect_timeout = durable_option_interval(key, &v, NULL);
			if (o->connect_timeout == 0)
				options_error(key, "a positive interval");
		}
		else if (strcmp(key, "max_redirects") == 0)
		{
			double		n = option_number(key, &v);

			if (n < 0 || n > 20 || n != (int) n)
				options_error(key, "a whole number from 0 to 20");
			o->max_redirects = (int) n;
		}
		else if (strcmp(key, "tls_verify") == 0)
		{
			if (v.type != jbvBool)
				options_error(key, "true or false");
			o->tls_verify = v.val.boolean;
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("Valid options are max_attempts, initial_delay, max_delay, backoff_rate, jitter, retry_on, no_retry_on, timeout, semantics, limiter, fail_on_status, connect_timeout, max_redirects and tls_verify.")));
	}
	check_backoff(&o->retry);
}

static bool
codes_match(List *codes, int sqlerrcode)
{
	ListCell   *lc;
	const char *state = unpack_sql_state(sqlerrcode);

	foreach(lc, codes)
	{
		const char *c = lfirst(lc);

		if (strncmp(c, state, strlen(c)) == 0)
			return true;
	}
	return false;
}

/*
 * durable_retry_allows
 *		Whether an attempt that failed with this SQLSTATE may be retried:
 *		never the unrecoverable code; always serialization failures and
 *		deadlocks; otherwise per no_retry_on and retry_on (default: all but
 *		class 42, syntax errors and access rule violations such as an
 *		undefined function: programming errors that a retry does not cure,
 *		retried only when retry_on names them).
 */
bool
durable_retry_allows(const DurableRetryOptions *opts, int sqlerrcode)
{
	if (sqlerrcode == ERRCODE_DURABLE_UNRECOVERABLE)
		return false;
	if (sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED)
		return true;
	if (codes_match(opts->no_retry_on, sqlerrcode))
		return false;
	if (ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_SYNTAX_ERROR_OR_ACCESS_RULE_VIOLATION)
		return opts->retry_on_given && codes_match(opts->retry_on, sqlerrcode);
	if (opts->retry_on_given)
		return codes_match(opts->retry_on, sqlerrcode);
	return true;
}

/*
 * durable_retry_delay
 *		The delay before attempt + 1, after attempt failed: initial_delay *
 *		backoff_rate ^ (attempt - 1), capped at max_delay, then jittered.
 */
int64
durable_retry_delay(const DurableRetryOptions *opts, int attempt)
{
	double		delay = (double) opts->initial_delay;
	int			i;

	for (i = 1; i < attempt && delay < (double) opts->max_delay; i++)
		delay *= opts->backoff_rate;
	if (delay > (double) opts->max_delay)
		delay = (double) opts->max_delay;

	switch (opts->jitter)
	{
		case DJ_NONE:
			break;
		case DJ_FULL:
			delay = delay * pg_prng_double(&pg_global_prng_state);
			break;
		case DJ_HALF:
			delay = delay / 2 + delay / 2 * pg_prng_double(&pg_global_prng_state);
			break;
	}
	return (int64) delay;
}

/*
 * durable_parse_wait_strategy
 *		The wait strategy of durable_wait_for_condition: the delays between
 *		checks, and how many checks at most.  Defaults as AWS Lambda's
 *		waitForCondition: 60 checks, 5 s doubling by 1.5 up to 5 min, full
 *		jitter.
 */
void
durable_parse_wait_strategy(Jsonb *options, DurableRetryOptions *opts)
{
	JsonbIterator *it = NULL;
	JsonbValue	v;
	char	   *key = NULL;

	memset(opts, 0, sizeof(*opts));
	opts->max_attempts = 60;
	opts->initial_delay = 5 * USECS_PER_SEC;
	opts->max_delay = 5 * 60 * USECS_PER_SEC;
	opts->backoff_rate = 1.5;
	opts->jitter = DJ_FULL;

	while (durable_options_next(options, &it, &key, &v))
	{
		if (!backoff_option(key, &v, 100000, opts))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("Valid options are max_attempts, initial_delay, max_delay, backoff_rate and jitter.")));
	}
	check_backoff(opts);
}

static int
option_count(const char *key, JsonbValue *v, int min)
{
	double		n = option_number(key, v);

	if (n < min || n > INT_MAX || n != (int) n)
		options_error(key, min == 0 ? "a whole number, 0 or more" : "a whole number, 1 or more");
	return (int) n;
}

/*
 * option_results
 *		The "results" option of durable_parallel and durable_map: "auto",
 *		"array" or "summary".  The state of a waiting operation keeps it as
 *		a string too (ops/children.c).
 */
static DurableResultsMode
option_results(const char *key, JsonbValue *v)
{
	if (v->type == jbvString)
	{
		char	   *s = pnstrdup(v->val.string.val, v->val.string.len);

		if (strcmp(s, "auto") == 0)
			return DRM_AUTO;
		if (strcmp(s, "array") == 0)
			return DRM_ARRAY;
		if (strcmp(s, "summary") == 0)
			return DRM_SUMMARY;
	}
	options_error(key, "one of \"auto\", \"array\", \"summary\"");
	return DRM_AUTO;			/* keep compiler quiet */
}

/*
 * durable_parse_policy
 *		The options of durable_parallel and durable_map (batch_size for
 *		maps only), checked against the number of branches or items n.
 */
void
durable_parse_policy(Jsonb *options, bool map, int n, DurablePolicy *p)
{
	JsonbIterator *it = NULL;
	JsonbValue	v;
	char	   *key = NULL;

	p->max_concurrency = 0;
	p->min_successful = -1;
	p->tolerated_failures = -1;
	p->tolerated_pct = -1;
	p->batch_size = 0;
	p->results = DRM_AUTO;
	while (durable_options_next(options, &it, &key, &v))
	{
		if (strcmp(key, "max_concurrency") == 0)
			p->max_concurrency = option_count(key, &v, 1);
		else if (strcmp(key, "min_successful") == 0)
			p->min_successful = option_count(key, &v, 0);
		else if (strcmp(key, "tolerated_failures") == 0)
			p->tolerated_failures = option_count(key, &v, 0);
		else if (strcmp(key, "tolerated_failure_percentage") == 0)
		{
			p->tolerated_pct = option_number(key, &v);
			if (p->tolerated_pct < 0 || p->tolerated_pct > 100)
				options_error(key, "a number from 0 to 100");
		}
		else if (map && strcmp(key, "batch_size") == 0)
			p->batch_size = option_count(key, &v, 1);
		else if (strcmp(key, "results") == 0)
			p->results = option_results(key, &v);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint(map ? "Valid options are max_concurrency, min_successful, tolerated_failures, tolerated_failure_percentage, batch_size and results."
							 : "Valid options are max_concurrency, min_successful, tolerated_failures, tolerated_failure_percentage and results.")));
	}
	if (p->min_successful > n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("min_successful (%d) is more than the %d %s", p->min_successful, n,
						map ? "items" : "branches")));
}

/*
 * option_int
 *		An option that must be an integer from lo to hi.
 */
static int32
option_int(const char *key, JsonbValue *v, int32 lo, int32 hi)
{
	double		d = option_number(key, v);

	if (d != (double) (int64) d || d < lo || d > hi)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", key),
				 errdetail("Expected an integer from %d to %d.", lo, hi)));
	return (int32) d;
}

/*
 * option_text
 *		An option that must be a non-empty string of at most 200 bytes.
 */
static char *
option_text(const char *key, JsonbValue *v)
{
	if (v->type != jbvString || v->val.string.len == 0 || v->val.string.len > 200)
		options_error(key, "a non-empty string of at most 200 bytes");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/*
 * durable_start_options
 *		execution_timeout (interval), retention (interval), tags (object).
 *		durable_schedule checks the options of its starts with it too.
 */
void
durable_start_options(Jsonb *options, Interval **timeout, Interval **retention,
					  Jsonb **tags)
{
	durable_start_options_xq(options, timeout, retention, tags, NULL);
}

/*
 * durable_start_options_xq
 *		The same, and when xq is not NULL (durable_start) the options of a
 *		queue of executions: queue (name), key (text), priority (integer,
 *		smaller first, 0 by default), debounce (interval, with a key).
 */
void
durable_start_options_xq(Jsonb *options, Interval **timeout, Interval **retention,
						 Jsonb **tags, DurableXqStart *xq)
{
	JsonbIterator *it = NULL;
	JsonbValue	v;
	char	   *key = NULL;
	bool		queued = false;

	*timeout = NULL;
	*retention = NULL;
	*tags = durable_cstring_to_jsonb("{}");
	if (xq != NULL)
		memset(xq, 0, sizeof(DurableXqStart));
	while (durable_options_next(options, &it, &key, &v))
	{
		if (strcmp(key, "execution_timeout") == 0 || strcmp(key, "retention") == 0)
		{
			Interval   *iv;

			if (durable_option_interval(key, &v, &iv) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must be positive", key)));
			if (key[0] == 'e')
				*timeout = iv;
			else
				*retention = iv;
		}
		else if (strcmp(key, "tags") == 0)
		{
			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid value for option \"tags\""),
						 errdetail("Expected a jsonb object of business keys, such as {\"customer\": \"c-42\"}.")));
			*tags = JsonbValueToJsonb(&v);
			durable_check_payload("tags", *tags);
		}
		else if (strcmp(key, "queue") == 0 || strcmp(key, "key") == 0 ||
				 strcmp(key, "priority") == 0 || strcmp(key, "debounce") == 0)
		{
			if (xq == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("option \"%s\" is for durable_start only", key),
						 errdetail("Queues of executions admit the executions that durable_start starts; children and schedules do not use them.")));
			queued = true;
			if (key[0] == 'q')
				xq->queue = option_text(key, &v);
			else if (key[0] == 'k')
				xq->key = option_text(key, &v);
			else if (key[0] == 'p')
				xq->priority = option_int(key, &v, -1000000, 1000000);
			else
			{
				xq->debounce_us = durable_option_interval(key, &v, NULL);
				if (xq->debounce_us <= 0 || xq->debounce_us > INT64CONST(86400000000))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("debounce must be positive and at most a day")));
			}
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint(xq != NULL ?
							 "Valid options are execution_timeout, retention, tags, queue, key, priority and debounce." :
							 "Valid options are execution_timeout, retention and tags.")));
	}
	if (queued && xq->queue == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options key, priority and debounce need a queue"),
				 errhint("Add \"queue\": \"<name>\" of a queue made by durable_queue_set.")));
	if (queued && xq->debounce_us > 0 && xq->key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("option \"debounce\" needs a key"),
				 errdetail("A debounced start replaces the input of the execution waiting under the same queue and key.")));
}

/*
 * durable_queue_options
 *		The options of durable_queue_set: max_concurrency,
 *		max_concurrency_per_key (positive integers), rate (a positive
 *		integer, with period, a positive interval), fairness
 *		("round_robin", the default, or "none").
 */
void
durable_queue_options(Jsonb *options, DurableXqLimits *lim)
{
	JsonbIterator *it = NULL;
	JsonbValue	v;
	char	   *key = NULL;

	lim->max_concurrency = -1;
	lim->max_per_key = -1;
	lim->rate = -1;
	lim->period = NULL;
	lim->fairness = true;
	while (durable_options_next(options, &it, &key, &v))
	{
		if (strcmp(key, "max_concurrency") == 0)
			lim->max_concurrency = option_int(key, &v, 1, 1000000);
		else if (strcmp(key, "max_concurrency_per_key") == 0)
			lim->max_per_key = option_int(key, &v, 1, 1000000);
		else if (strcmp(key, "rate") == 0)
			lim->rate = option_int(key, &v, 1, 10000);
		else if (strcmp(key, "period") == 0)
		{
			if (durable_option_interval(key, &v, &lim->period) <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("period must be positive")));
		}
		else if (strcmp(key, "fairness") == 0)
		{
			if (v.type == jbvString && v.val.string.len == 11 &&
				strncmp(v.val.string.val, "round_robin", 11) == 0)
				lim->fairness = true;
			else if (v.type == jbvString && v.val.string.len == 4 &&
					 strncmp(v.val.string.val, "none", 4) == 0)
				lim->fairness = false;
			else
				options_error(key, "\"round_robin\" or \"none\"");
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("Valid options are max_concurrency, max_concurrency_per_key, rate, period and fairness.")));
	}
	if ((lim->rate > 0) != (lim->period != NULL))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options rate and period go together"),
				 errhint("Give both, as in {\"rate\": 10, \"period\": \"1 second\"}, or neither.")));
}

/*
 * wait_length_arg
 *		An optional interval argument of a wait, in microseconds; 0 when
 *		NULL.  It must be positive and no longer than durable.max_wait.
 */
/*
 * durable_wait_length_arg
 *		Argument n, an interval: a positive one up to durable.max_wait, 0
 *		when NULL.
 */
int64
durable_wait_length_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	int64		us;

	if (PG_ARGISNULL(n))
		return 0;
	us = durable_interval_us(PG_GETARG_INTERVAL_P(n), what);
	if (us == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be positive", what)));
	if (us > (int64) durable_max_wait * USECS_PER_SEC)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("%s is longer than durable.max_wait", what),
				 errdetail("The limit is %d seconds.", durable_max_wait)));
	return us;
}
