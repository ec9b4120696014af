/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Small helpers: UUIDv7, name and payload checks, jsonb building and
 *	  reading, errors as jsonb, and who may control an execution.
 *
 * IDENTIFICATION
 *	  src/util/util.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/time.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "common/int.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/resowner.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "util/util.h"
#include "util/durable_errcodes.h"

/* the longest duration any option or argument may give */
#define DURABLE_MAX_INTERVAL_DAYS INT64CONST(365250)

/* longest operation or execution name, in bytes */
#define DURABLE_MAX_NAME_LENGTH 200

/*
 * durable_uuid7
 *		A new UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, 12 bits of
 *		sub-millisecond time so ids made in one backend keep their order,
 *		and 62 random bits.
 */
void
durable_uuid7(pg_uuid_t *uuid)
{
	struct timeval tv;
	uint64		ms;
	uint32		sub;

	gettimeofday(&tv, NULL);
	ms = (uint64) tv.tv_sec * 1000 + tv.tv_usec / 1000;
	sub = (uint32) ((tv.tv_usec % 1000) * 4096 / 1000);

	if (!pg_strong_random(uuid->data + 8, 8))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random values")));

	uuid->data[0] = (unsigned char) (ms >> 40);
	uuid->data[1] = (unsigned char) (ms >> 32);
	uuid->data[2] = (unsigned char) (ms >> 24);
	uuid->data[3] = (unsigned char) (ms >> 16);
	uuid->data[4] = (unsigned char) (ms >> 8);
	uuid->data[5] = (unsigned char) ms;
	uuid->data[6] = (unsigned char) (0x70 | ((sub >> 8) & 0x0f));
	uuid->data[7] = (unsigned char) (sub & 0xff);
	uuid->data[8] = (uuid->data[8] & 0x3f) | 0x80;
}

char *
durable_uuid_out(const pg_uuid_t *uuid)
{
	return DatumGetCString(DirectFunctionCall1(uuid_out, UUIDPGetDatum(uuid)));
}

/*
 * durable_parse_uuid
 *		True when text is a uuid in canonical form (8-4-4-4-12 hex digits).
 *		Anything else is taken for an execution name.
 */
bool
durable_parse_uuid(const char *text, pg_uuid_t *uuid)
{
	int			i,
				j = 0;

	if (strlen(text) != 36)
		return false;
	for (i = 0; i < 36; i++)
	{
		char		c = text[i];

		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (c != '-')
				return false;
			continue;
		}
		if (!isxdigit((unsigned char) c))
			return false;
		j++;
	}
	memcpy(uuid, DatumGetUUIDP(DirectFunctionCall1(uuid_in, CStringGetDatum(text))),
		   sizeof(pg_uuid_t));
	return true;
}

/*
 * durable_text_arg
 *		A text argument that must not be NULL, as a C string.
 */
char *
durable_text_arg(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return text_to_cstring(PG_GETARG_TEXT_PP(n));
}

/*
 * durable_check_name
 *		Names of executions and operations: not empty, at most 200 bytes, no
 *		control characters.
 */
void
durable_check_name(const char *what, const char *name)
{
	const unsigned char *p;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	if (name[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be empty", what)));
	if (strlen(name) > DURABLE_MAX_NAME_LENGTH)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("%s is too long", what),
				 errdetail("It has %zu bytes; the limit is %d.",
						   strlen(name), DURABLE_MAX_NAME_LENGTH)));
	for (p = (const unsigned char *) name; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s must not contain control characters", what)));
}

/*
 * durable_check_payload
 *		An input or result larger than durable.max_payload_size is an error.
 */
void
durable_check_payload(const char *what, Jsonb *value)
{
	if (value != NULL && VARSIZE_ANY(value) > (Size) durable_max_payload_size)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("%s is too large", what),
				 errdetail("It takes %zu bytes; the limit is %d bytes.",
						   (Size) VARSIZE_ANY(value), durable_max_payload_size),
				 errhint("Raise durable.max_payload_size, or keep large data in tables and pass keys.")));
}

/*
 * durable_error_text
 *		What an error given from outside (a callback's failure, a task
 *		worker's) says: its "message" when it is an object that has one,
 *		else the error as JSON text; NULL when there is none.
 */
char *
durable_error_text(Jsonb *error)
{
	char	   *msg = NULL;

	if (error == NULL)
		return NULL;
	if (JB_ROOT_IS_OBJECT(error))
		msg = durable_jsonb_get_text(error, "message");
	if (msg == NULL)
		msg = JsonbToCString(NULL, &error->root, VARSIZE(error));
	return msg;
}

/*
 * durable_role_name
 *		A role's name as a name Datum ("?" for a role that is gone).
 */
Datum
durable_role_name(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return DirectFunctionCall1(namein, CStringGetDatum(name ? name : "?"));
}

/*
 * durable_earliest
 *		The earlier of two deadlines, DT_NOBEGIN meaning none.
 */
TimestampTz
durable_earliest(TimestampTz a, TimestampTz b)
{
	if (a == DT_NOBEGIN)
		return b;
	if (b == DT_NOBEGIN)
		return a;
	return Min(a, b);
}

/*
 * durable_error_new
 *		An error of the engine's own, to checkpoint or end a run with; the
 *		strings are taken as they are (palloc'd or constant).
 */
ErrorData *
durable_error_new(int sqlerrcode, char *message, char *detail, char *hint)
{
	ErrorData  *e = palloc0(sizeof(ErrorData));

	e->elevel = ERROR;
	e->sqlerrcode = sqlerrcode;
	e->message = message;
	e->detail = detail;
	e->hint = hint;
	return e;
}

Jsonb *
durable_cstring_to_jsonb(const char *json)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(json)));
}

static void
append_json_field(StringInfo buf, bool *first, const char *key, const char *value)
{
	if (value == NULL)
		return;
	if (!*first)
		appendStringInfoString(buf, ", ");
	*first = false;
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	escape_json(buf, value);
}

/*
 * durable_error_to_jsonb
 *		{message, sqlstate, detail, hint, operation}, the fields that are set.
 */
Jsonb *
durable_error_to_jsonb(ErrorData *edata, const char *operation)
{
	StringInfoData buf;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	append_json_field(&buf, &first, "message", edata->message ? edata->message : "");
	append_json_field(&buf, &first, "sqlstate", unpack_sql_state(edata->sqlerrcode));
	append_json_field(&buf, &first, "detail", edata->detail);
	append_json_field(&buf, &first, "hint", edata->hint);
	append_json_field(&buf, &first, "operation", operation);
	appendStringInfoChar(&buf, '}');
	return durable_cstring_to_jsonb(buf.data);
}

/*
 * durable_jsonb_build
 *		An object of the given keys and values; NULL values are left out.
 */
Jsonb *
durable_jsonb_build(int nkeys, const char **keys, Jsonb **values)
{
	StringInfoData buf;
	bool		first = true;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (i = 0; i < nkeys; i++)
	{
		if (values[i] == NULL)
			continue;
		if (!first)
			appendStringInfoString(&buf, ", ");
		first = false;
		escape_json(&buf, keys[i]);
		appendStringInfoString(&buf, ": ");
		appendStringInfoString(&buf, JsonbToCString(NULL, &values[i]->root,
													VARSIZE(values[i])));
	}
	appendStringInfoChar(&buf, '}');
	return durable_cstring_to_jsonb(buf.data);
}

Jsonb *
durable_jsonb_string(const char *s)
{
	StringInfoData buf;

	if (s == NULL)
		return NULL;
	initStringInfo(&buf);
	escape_json(&buf, s);
	return durable_cstring_to_jsonb(buf.data);
}

Jsonb *
durable_jsonb_int(int64 v)
{
	char		num[32];

	snprintf(num, sizeof(num), INT64_FORMAT, v);
	return durable_cstring_to_jsonb(num);
}

/*
 * durable_jsonb_get_text
 *		The value of a top-level key as text: strings unquoted, other values
 *		as JSON; NULL when absent or JSON null.
 */
char *
durable_jsonb_get_text(Jsonb *obj, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type == jbvString)
		return pnstrdup(v->val.string.val, v->val.string.len);
	if (v->type == jbvBinary)
		return JsonbToCString(NULL, v->val.binary.data, v->val.binary.len);
	return JsonbToCString(NULL, &JsonbValueToJsonb(v)->root, 0);
}

/*
 * durable_jsonb_get
 *		The value of a top-level key as jsonb; NULL when obj is not an
 *		object, or the key is absent or JSON null.
 */
Jsonb *
durable_jsonb_get(Jsonb *obj, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (obj == NULL || !JB_ROOT_IS_OBJECT(obj))
		return NULL;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&obj->root, JB_FOBJECT, &k);
	if (v == NULL || v->type == jbvNull)
		return NULL;
	return JsonbValueToJsonb(v);
}

/*
 * durable_interval_us
 *		An interval as microseconds (a month counts 30 days); negative
 *		intervals are an error.
 */
int64
durable_interval_us(Interval *iv, const char *what)
{
	int64		us;
	int64		days;

	/* months as 30 days, as interval arithmetic does; at most 1000 years */
	days = (int64) iv->month * DAYS_PER_MONTH + iv->day;
	if (days > DURABLE_MAX_INTERVAL_DAYS || days < -DURABLE_MAX_INTERVAL_DAYS ||
		pg_mul_s64_overflow(days, USECS_PER_DAY, &us) ||
		pg_add_s64_overflow(us, iv->time, &us) ||
		us > DURABLE_MAX_INTERVAL_DAYS * USECS_PER_DAY)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("%s is out of range", what),
				 errdetail("Durations are at most 1000 years.")));
	if (us < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what)));
	return us;
}

/*
 * durable_not_inside_workflow
 *		For the functions that steer executions from outside: not from a
 *		workflow body or a step.
 */
void
durable_not_inside_workflow(const char *fname)
{
	if (durable_current != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot be called inside a durable workflow or step", fname)));
}

/*
 * durable_caller_controls
 *		The current role may see and steer executions of this owner: it has
 *		the owner's privileges, or those of durable_admin.
 */
bool
durable_caller_controls(Oid owner)
{
	Oid			admin;

	if (superuser() || has_privs_of_role(GetUserId(), owner))
		return true;
	admin = get_role_oid("durable_admin", true);
	return OidIsValid(admin) && has_privs_of_role(GetUserId(), admin);
}

/* errors raised while it is pushed do not log the statement */
static void
hide_statement_callback(void *arg)
{
	errhidestmt(true);
}

/*
 * durable_hide_statement
 *		Pushes an error context callback that marks every error (and
 *		message) raised until it is popped with errhidestmt(true), so that
 *		log_min_error_statement does not copy the statement, and the secret
 *		or capability in its text, to the server log.  The caller pops it
 *		with error_context_stack = cb->previous before returning; an error
 *		resets the stack itself.
 */
void
durable_hide_statement(ErrorContextCallback *cb)
{
	cb->callback = hide_statement_callback;
	cb->arg = NULL;
	cb->previous = error_context_stack;
	error_context_stack = cb;
}

/*
 * durable_caller_controls_all
 *		The current role may see and steer every execution: a superuser or
 *		a member of durable_admin.
 */
bool
durable_caller_controls_all(void)
{
	Oid			admin = get_role_oid("durable_admin", true);

	return superuser() ||
		(OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}

/*
 * durable_subxact
 *		The one subtransaction catch block: runs fn(arg) in a subtransaction
 *		of the current transaction, whose work stays when fn returns true
 *		and is rolled back when it returns false or raises an error.
 *		on_error(arg), when given, runs first after an error (to disarm a
 *		timer before anything else can fire).  Returns the error, allocated
 *		in the caller's memory context with the error state flushed, or
 *		NULL; the caller decides what a cancel means.  The caller's memory
 *		context and resource owner are current again on return.
 */
ErrorData *
durable_subxact(bool (*fn) (void *arg), void (*on_error) (void *arg), void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile failed = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		if (fn(arg))
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		if (on_error != NULL)
			on_error(arg);
		MemoryContextSwitchTo(cxt);
		failed = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return failed;
}

typedef struct SubxactCall
{
	void		(*fn) (void *arg);
	void	   *arg;
} SubxactCall;

static bool
subxact_call_fn(void *arg)
{
	SubxactCall *c = arg;

	c->fn(c->arg);
	return true;
}

/*
 * durable_subxact_call
 *		Runs fn(arg) in a subtransaction of the current transaction.  True
 *		when it returned (its work stays); false when it raised an error:
 *		its work is rolled back and the error returned in *error, allocated
 *		in the caller's memory context, for the caller to report, charge or
 *		raise again.  A cancel is raised again after the rollback: it is
 *		the statement's, not fn's.
 */
bool
durable_subxact_call(void (*fn) (void *arg), void *arg, ErrorData **error)
{
	SubxactCall c;
	ErrorData  *failed;

	c.fn = fn;
	c.arg = arg;
	failed = durable_subxact(subxact_call_fn, NULL, &c);
	if (failed == NULL)
		return true;
	if (failed->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(failed);
	*error = failed;
	return false;
}
