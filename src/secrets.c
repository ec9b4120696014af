/*-------------------------------------------------------------------------
 *
 * secrets.c
 *	  Secrets for HTTP requests: durable_secret_set, durable_secret_delete,
 *	  durable_secret_grant, durable_secret_revoke and durable_secrets, and
 *	  their resolution when a request is sent.
 *
 * A secret belongs to the role that set it.  A request of an execution
 * may use it when the execution's owner has the privileges of the
 * secret's owner or of a role it was granted to, and the request's host
 * is one of its allowed hosts.  Its value is read only by the code that
 * sends a request; no function returns it, and durable.secrets grants
 * nothing to anyone.
 *
 * IDENTIFICATION
 *	  src/secrets.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "durable.h"

static char *
secret_name_arg(FunctionCallInfo fcinfo)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));

	durable_check_name("secret name", name);
	return name;
}

/* a role's name as a Name datum; "?" for a role dropped meanwhile */
static Datum
role_name(Oid role)
{
	char	   *name = GetUserNameFromId(role, true);

	return DirectFunctionCall1(namein, CStringGetDatum(name ? name : "?"));
}

/* a secret's owner, checking that the caller may change it */
static void
check_owner(const char *name)
{
	Oid			owner;

	if (!durable_storage_secret_owner(name, &owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("secret \"%s\" does not exist", name)));
	if (!superuser() && !has_privs_of_role(GetUserId(), owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for secret \"%s\"", name),
				 errdetail("Only its owner, %s, and superusers may change it.",
						   GetUserNameFromId(owner, false))));
}

/* a host without the brackets of an IPv6 literal */
static const char *
bare_host(const char *h)
{
	size_t		len = strlen(h);

	if (len >= 2 && h[0] == '[' && h[len - 1] == ']')
		return pnstrdup(h + 1, len - 2);
	return h;
}

/* Whether a host is allowed: an exact name, or a subdomain of "*.name". */
static bool
host_allowed(List *allowed, const char *host)
{
	ListCell   *lc;

	host = bare_host(host);
	foreach(lc, allowed)
	{
		const char *a = bare_host(lfirst(lc));

		if (pg_strcasecmp(a, host) == 0)
			return true;
		if (a[0] == '*' && a[1] == '.')
		{
			size_t		hl = strlen(host);
			size_t		sl = strlen(a + 1);

			if (hl > sl && pg_strcasecmp(host + hl - sl, a + 1) == 0)
				return true;
		}
	}
	return false;
}

/* a host name, an IPv4 address or an IPv6 one (bracketed or not); no port */
static bool
host_pattern_ok(const char *h)
{
	const char *p = bare_host(h);
	bool		ipv6 = strchr(p, ':') != NULL;

	if (p[0] == '*' && p[1] == '.' && !ipv6)
		p += 2;
	if (*p == '\0' || strlen(h) > 255)
		return false;
	if (ipv6)
		return strspn(p, "0123456789abcdefABCDEF:.") == strlen(p) &&
			strchr(p, ':') != strrchr(p, ':');
	return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == strlen(p);
}

PG_FUNCTION_INFO_V1(durable_secret_set);

/*
 * durable_secret_set(name text, value text, allowed_hosts text[]) RETURNS void
 */
Datum
durable_secret_set(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *value;
	ArrayType  *hosts;
	Datum	   *elems;
	bool	   *elnulls;
	int			nelems;
	int			i;
	Oid			owner;
	ErrorContextCallback hide;

	/* no error of this call logs its statement, which holds the value */
	durable_hide_statement(&hide);
	name = secret_name_arg(fcinfo);
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("secret value must not be null")));
	value = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (value[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret value must not be empty")));
	if (strchr(value, '\r') || strchr(value, '\n'))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("secret value must not contain line breaks"),
				 errdetail("It may be sent in a header.")));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("allowed hosts must not be null"),
				 errhint("List the hosts the secret may be sent to, such as ARRAY['api.openai.com'].")));
	hosts = PG_GETARG_ARRAYTYPE_P(2);
	if (ARR_NDIM(hosts) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("allowed hosts must be a one-dimensional array")));
	deconstruct_array(hosts, TEXTOID, -1, false, TYPALIGN_INT, &elems, &elnulls, &nelems);
	if (nelems == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("allowed hosts must not be empty"),
				 errhint("List the hosts the secret may be sent to, such as ARRAY['api.openai.com'].")));
	for (i = 0; i < nelems; i++)
	{
		char	   *h;

		if (elnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("allowed hosts must not contain nulls")));
		h = TextDatumGetCString(elems[i]);
		if (!host_pattern_ok(h))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is not a host name", h),
					 errhint("Give names such as api.example.com, *.example.com or 127.0.0.1, without scheme or port.")));
	}

	SPI_connect();
	if (durable_storage_secret_owner(name, &owner))
		check_owner(name);
	else
		owner = GetUserId();

	/*
	 * The put changes a row only if its owner is the one checked: a row that
	 * another role's transaction inserted after our look, and committed
	 * while we waited for it, is not ours to overwrite.  Check that row's
	 * owner as for any existing secret, and try once more.
	 */
	if (!durable_storage_secret_put(name, value, PointerGetDatum(hosts), owner,
									GetCurrentTimestamp()))
	{
		check_owner(name);
		(void) durable_storage_secret_owner(name, &owner);
		if (!durable_storage_secret_put(name, value, PointerGetDatum(hosts), owner,
										GetCurrentTimestamp()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for secret \"%s\"", name),
					 errdetail("Another role's transaction changed its owner while this call ran.")));
	}
	SPI_finish();
	explicit_bzero(value, strlen(value));
	error_context_stack = hide.previous;
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_secret_delete);

/*
 * durable_secret_delete(name text) RETURNS void
 */
Datum
durable_secret_delete(PG_FUNCTION_ARGS)
{
	char	   *name = secret_name_arg(fcinfo);

	SPI_connect();
	check_owner(name);
	durable_storage_secret_delete(name);
	SPI_finish();
	PG_RETURN_VOID();
}

static Datum
secret_grant(FunctionCallInfo fcinfo, bool grant)
{
	char	   *name = secret_name_arg(fcinfo);
	Oid			role;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("role must not be null")));
	role = get_role_oid(NameStr(*PG_GETARG_NAME(1)), false);
	SPI_connect();
	check_owner(name);
	durable_storage_secret_grant(name, role, grant);
	SPI_finish();
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(durable_secret_grant);

/*
 * durable_secret_grant(name text, role name) RETURNS void
 */
Datum
durable_secret_grant(PG_FUNCTION_ARGS)
{
	return secret_grant(fcinfo, true);
}

PG_FUNCTION_INFO_V1(durable_secret_revoke);

/*
 * durable_secret_revoke(name text, role name) RETURNS void
 */
Datum
durable_secret_revoke(PG_FUNCTION_ARGS)
{
	return secret_grant(fcinfo, false);
}

/* Whether a role may use a secret: it owns it or holds a grant of it. */
static bool
may_use(const char *name, Oid role, Oid owner)
{
	List	   *grantees;
	ListCell   *lc;

	if (has_privs_of_role(role, owner))
		return true;
	grantees = durable_storage_secret_grantees(name);
	foreach(lc, grantees)
		if (has_privs_of_role(role, lfirst_oid(lc)))
			return true;
	return false;
}

/*
 * durable_secret_resolve
 *		The value of a secret for a request of role owner to host; or NULL
 *		and in *refusal why not (the value never appears in it).
 */
void
durable_secret_resolve(const char *name, Oid owner, const char *host, char **value,
					   char **refusal)
{
	char	   *v;
	List	   *hosts;
	Oid			secret_owner;

	*value = NULL;
	if (!durable_storage_secret_get(name, &v, &hosts, &secret_owner))
		*refusal = psprintf("secret \"%s\" does not exist", name);
	else if (!may_use(name, owner, secret_owner))
		*refusal = psprintf("role %s may not use secret \"%s\"",
							NameStr(*DatumGetName(role_name(owner))), name);
	else if (!host_allowed(hosts, host))
		*refusal = psprintf("secret \"%s\" may not be sent to host \"%s\"", name, host);
	else
		*value = v;
}

PG_FUNCTION_INFO_V1(durable_secrets);

/*
 * durable_secrets() RETURNS TABLE (name, owner, allowed_hosts, grantees,
 * created_at, updated_at): the secrets the caller owns or may use.
 */
Datum
durable_secrets(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	uint64		n,
				i;

	InitMaterializedSRF(fcinfo, 0);
	SPI_connect();
	n = durable_storage_secrets_list();
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};
		bool		isnull;
		char	   *name = TextDatumGetCString(SPI_getbinval(tup, desc, 1, &isnull));
		Oid			owner = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		Datum	   *grantees;
		int			ngrantees;
		Datum	   *names;
		bool		visible;
		int			j;

		deconstruct_array(DatumGetArrayTypeP(SPI_getbinval(tup, desc, 4, &isnull)),
						  OIDOID, sizeof(Oid), true, TYPALIGN_INT,
						  &grantees, NULL, &ngrantees);
		visible = superuser() || has_privs_of_role(GetUserId(), owner);
		names = palloc(sizeof(Datum) * Max(ngrantees, 1));
		for (j = 0; j < ngrantees; j++)
		{
			if (has_privs_of_role(GetUserId(), DatumGetObjectId(grantees[j])))
				visible = true;
			names[j] = role_name(DatumGetObjectId(grantees[j]));
		}
		if (!visible)
			continue;
		values[0] = CStringGetTextDatum(name);
		values[1] = role_name(owner);
		values[2] = SPI_getbinval(tup, desc, 3, &isnull);
		values[3] = PointerGetDatum(construct_array(names, ngrantees, NAMEOID, NAMEDATALEN,
													false, TYPALIGN_CHAR));
		values[4] = SPI_getbinval(tup, desc, 5, &isnull);
		values[5] = SPI_getbinval(tup, desc, 6, &isnull);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	return (Datum) 0;
}
