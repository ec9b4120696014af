/*-------------------------------------------------------------------------
 *
 * limiters.c
 *	  The SQL functions of limiters of operations: durable_limiter_set and
 *	  durable_limiter_drop.
 *
 * A limiter belongs to the role that created it; only its owner (roles
 * with its privileges, superusers and members of durable_admin) may change
 * or drop it.  Names are one namespace per database, so the name of
 * another role's limiter is refused, not reused.  Its options, all given
 * at every durable_limiter_set (those left out are unset):
 * max_concurrency, rate with period and burst, roles (the other roles
 * whose executions may use it).  The operations that use it are in
 * ops/limiter.c.
 *
 * IDENTIFICATION
 *	  src/api/limiters.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

/* the largest max_concurrency, rate and burst */
#define LIMITER_MAX_NUMBER 1000000

typedef struct LimiterOptions
{
	int			max_concurrency;	/* 0: none */
	int			rate;			/* 0: none */
	int64		period;			/* microseconds */
	int			burst;
	bool		period_given;
	bool		burst_given;
	List	   *roles;			/* of Oid */
} LimiterOptions;

static void
bad_option(const char *key, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for option \"%s\"", key),
			 errdetail("Expected %s.", expected)));
}

static int
whole_number(const char *key, JsonbValue *v)
{
	double		n;

	if (v->type != jbvNumeric)
		bad_option(key, psprintf("a whole number from 1 to %d", LIMITER_MAX_NUMBER));
	n = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
	if (n < 1 || n > LIMITER_MAX_NUMBER || n != (int) n)
		bad_option(key, psprintf("a whole number from 1 to %d", LIMITER_MAX_NUMBER));
	return (int) n;
}

static List *
role_list(const char *key, JsonbValue *v)
{
	List	   *roles = NIL;
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		bad_option(key, "an array of role names");
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString)
			bad_option(key, "an array of role names");
		roles = lappend_oid(roles,
							get_role_oid(pnstrdup(elem.val.string.val, elem.val.string.len),
										 false));
	}
	return roles;
}

/*
 * parse_options
 *		The options of durable_limiter_set; unknown keys and bad values are
 *		errors, and at least one of max_concurrency and rate is needed.
 */
static void
parse_options(Jsonb *options, LimiterOptions *o)
{
	JsonbIterator *it;
	JsonbIteratorToken tok;
	JsonbValue	v;
	char	   *key = NULL;

	memset(o, 0, sizeof(*o));
	o->period = USECS_PER_SEC;
	o->burst = 1;
	if (options == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("limiter options must not be null"),
				 errhint("Give max_concurrency, or rate (with period and burst), or both.")));
	if (!JB_ROOT_IS_OBJECT(options) || JB_ROOT_IS_SCALAR(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options must be a jsonb object")));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = pnstrdup(v.val.string.val, v.val.string.len);
			continue;
		}
		if (tok != WJB_VALUE)
			continue;
		if (strcmp(key, "max_concurrency") == 0)
			o->max_concurrency = whole_number(key, &v);
		else if (strcmp(key, "rate") == 0)
			o->rate = whole_number(key, &v);
		else if (strcmp(key, "burst") == 0)
		{
			o->burst = whole_number(key, &v);
			o->burst_given = true;
		}
		else if (strcmp(key, "period") == 0)
		{
			o->period = durable_option_interval(key, &v, NULL);
			if (o->period <= 0)
				bad_option(key, "a positive interval");
			if (o->period > (int64) durable_max_wait * USECS_PER_SEC)
				ereport(ERROR,
						(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
						 errmsg("period is longer than durable.max_wait")));
			o->period_given = true;
		}
		else if (strcmp(key, "roles") == 0)
			o->roles = role_list(key, &v);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", key),
					 errhint("Valid options are max_concurrency, rate, period, burst and roles.")));
	}
	if (o->max_concurrency == 0 && o->rate == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a limiter needs max_concurrency, rate, or both")));
	if (o->rate == 0 && (o->period_given || o->burst_given))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("period and burst need rate")));
}

static char *
limiter_name_arg(FunctionCallInfo fcinfo)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));

	durable_check_name("limiter name", name);
	return name;
}

/* another role's limiter is refused */
static void
check_owner(const char *name, Oid owner)
{
	if (!durable_caller_controls(owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("limiter \"%s\" belongs to another role", name),
				 errhint("Limiter names are shared by all roles of the database; choose another name.")));
}

PG_FUNCTION_INFO_V1(durable_limiter_set);

/*
 * durable_limiter_set(name text, options jsonb) RETURNS void
 *		Creates the limiter, owned by the current role, or redefines it.
 */
Datum
durable_limiter_set(PG_FUNCTION_ARGS)
{
	char	   *name;
	LimiterOptions o;
	Oid			owner;
	ArrayType  *roles;
	Datum	   *elems;
	ListCell   *lc;
	int			i = 0;

	durable_not_inside_workflow("durable_limiter_set");
	name = limiter_name_arg(fcinfo);
	parse_options(PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1), &o);
	elems = palloc(sizeof(Datum) * (list_length(o.roles) + 1));
	foreach(lc, o.roles)
		elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	roles = construct_array(elems, i, REGROLEOID, sizeof(Oid), true, TYPALIGN_INT);

	SPI_connect();
	if (durable_storage_limiter_owner(name, &owner))
		check_owner(name, owner);
	else
		owner = GetUserId();
	durable_storage_limiter_set(name, owner, roles, o.max_concurrency, o.rate, o.period,
								o.burst, durable_clock_now());
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_limiter_drop);

/*
 * durable_limiter_drop(name text) RETURNS void
 *		Drops the limiter.  The operations holding it finish their attempt;
 *		those waiting for it are woken and fail with WF023.
 */
Datum
durable_limiter_drop(PG_FUNCTION_ARGS)
{
	char	   *name;
	Oid			owner;

	durable_not_inside_workflow("durable_limiter_drop");
	name = limiter_name_arg(fcinfo);
	SPI_connect();
	if (!durable_storage_limiter_owner(name, &owner))
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMITER),
				 errmsg("limiter \"%s\" does not exist", name)));
	check_owner(name, owner);
	durable_storage_limiter_drop(name, durable_clock_now());
	SPI_finish();
	PG_RETURN_VOID();
}
