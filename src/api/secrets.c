/*-------------------------------------------------------------------------
 *
 * secrets.c
 *	  The SQL functions of secrets: durable_secret_set, durable_secret_delete,
 *	  durable_secret_grant, durable_secret_revoke, durable_secret_seal and
 *	  durable_secrets.
 *
 * A secret belongs to the role that set it; only its owner (and roles with
 * its privileges, and superusers) may change, delete, grant or revoke it.
 * No function here returns a value: durable_secrets lists names, owners,
 * allowed hosts and grantees of the secrets the caller owns or may use.
 * Values are sealed by store/secrets.c before they are stored, and no
 * error of durable_secret_set logs its statement, which holds the value.
 *
 * IDENTIFICATION
 *	  src/api/secrets.c
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

#include "api/api.h"
#include "util/durable_errcodes.h"

static char *
secret_name_arg(FunctionCallInfo fcinfo)
{
	char	   *name = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));

	durable_check_name("secret name", name);
	return name;
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
	char	   *sealed;
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
		if (!durable_secret_host_ok(h))
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
	sealed = durable_secret_seal_value(name, value);

	/*
	 * The put changes a row only if its owner is the one checked: a row that
	 * another role's transaction inserted after our look, and committed
	 * while we waited for it, is not ours to overwrite.  Check that row's
	 * owner as for any existing secret, and try once more.
	 */
	if (!durable_storage_secret_put(name, sealed, PointerGetDatum(hosts), owner,
									GetCurrentTimestamp()))
	{
		check_owner(name);
		(void) durable_storage_secret_owner(name, &owner);
		if (!durable_storage_secret_put(name, sealed, PointerGetDatum(hosts), owner,
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

PG_FUNCTION_INFO_V1(durable_secret_seal);

/*
 * durable.secret_seal(name text, value text) RETURNS text
 *		The sealed form of a value, for the update to 1.2, which seals the
 *		values stored before it; a value already sealed is returned as it is.
 *		Not granted to anyone.
 */
Datum
durable_secret_seal(PG_FUNCTION_ARGS)
{
	char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *value = text_to_cstring(PG_GETARG_TEXT_PP(1));
	char	   *sealed;
	ErrorContextCallback hide;

	durable_hide_statement(&hide);
	if (durable_secret_is_sealed(value))
		sealed = value;
	else
	{
		SPI_connect();
		sealed = durable_secret_seal_value(name, value);
		SPI_finish();
		explicit_bzero(value, strlen(value));
	}
	error_context_stack = hide.previous;
	PG_RETURN_TEXT_P(cstring_to_text(sealed));
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
			names[j] = durable_role_name(DatumGetObjectId(grantees[j]));
		}
		if (!visible)
			continue;
		values[0] = CStringGetTextDatum(name);
		values[1] = durable_role_name(owner);
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
