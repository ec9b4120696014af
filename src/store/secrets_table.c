/*-------------------------------------------------------------------------
 *
 * secrets_table.c
 *	  Statements against durable.secrets and durable.secret_grants: the
 *	  rows behind secrets.c, which seals and unseals values.
 *
 * Values are read and written as stored (sealed or not); listing never
 * returns them.
 *
 * Statements run through durable_store_run (spi.c): as the owner of schema
 * durable, with only pg_catalog on the search_path, as generic plans kept
 * per file.  Callers check the caller's rights before they get here.
 *
 * IDENTIFICATION
 *	  src/store/secrets_table.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#include "store/store.h"
#include "store/store_int.h"

/* durable.secrets, durable.secret_grants: Q_PURGE (maintenance.c) must name each */
typedef enum SecretsTableQuery
{
	Q_SECRET_GET,
	Q_SECRET_OWNER,
	Q_SECRET_PUT,
	Q_SECRET_DELETE,
	Q_SECRET_GRANT,
	Q_SECRET_REVOKE,
	Q_SECRET_GRANTEES,
	Q_SECRETS_LIST,
	Q_SECRETS_SEALED,
	Q_COUNT
} SecretsTableQuery;

static const StorageStatement statements[Q_COUNT] = {
	[Q_SECRET_GET] = {
		"SELECT value, allowed_hosts, owner FROM durable.secrets WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_SECRET_OWNER] = {
		"SELECT owner FROM durable.secrets WHERE name = $1 FOR UPDATE",
		1, {TEXTOID}
	},
	[Q_SECRET_PUT] = {
		"INSERT INTO durable.secrets (name, value, allowed_hosts, owner, created_at, updated_at) "
		"VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (name) DO UPDATE "
		"SET value = excluded.value, allowed_hosts = excluded.allowed_hosts, "
		"updated_at = excluded.updated_at "
		"WHERE secrets.owner = excluded.owner",
		5, {TEXTOID, TEXTOID, TEXTARRAYOID, REGROLEOID, TIMESTAMPTZOID}
	},
	[Q_SECRET_DELETE] = {
		"DELETE FROM durable.secrets WHERE name = $1",
		1, {TEXTOID}
	},
	[Q_SECRET_GRANT] = {
		"INSERT INTO durable.secret_grants (name, grantee) VALUES ($1, $2) "
		"ON CONFLICT DO NOTHING",
		2, {TEXTOID, REGROLEOID}
	},
	[Q_SECRET_REVOKE] = {
		"DELETE FROM durable.secret_grants WHERE name = $1 AND grantee = $2",
		2, {TEXTOID, REGROLEOID}
	},
	[Q_SECRET_GRANTEES] = {
		"SELECT grantee FROM durable.secret_grants WHERE name = $1",
		1, {TEXTOID}
	},
	/* never the values */
	[Q_SECRETS_LIST] = {
		"SELECT s.name, s.owner::oid, s.allowed_hosts, "
		"ARRAY(SELECT g.grantee::oid FROM durable.secret_grants g "
		"WHERE g.name = s.name ORDER BY g.grantee::text), "
		"s.created_at, s.updated_at FROM durable.secrets s ORDER BY s.name",
		0, {InvalidOid}
	},
	/* whether any value is sealed under a key (secrets.c) */
	[Q_SECRETS_SEALED] = {
		"SELECT 1 FROM durable.secrets WHERE value LIKE 'durable-aes256gcm:%' LIMIT 1",
		0, {InvalidOid}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_secret_get
 *		A secret's value, allowed hosts (char *) and owner; false when it
 *		does not exist.
 */
bool
durable_storage_secret_get(const char *name, char **value, List **allowed_hosts,
						   Oid *owner)
{
	Datum		values[1];
	bool		isnull;
	Datum	   *elems;
	bool	   *elnulls;
	int			nelems;
	int			i;

	values[0] = CStringGetTextDatum(name);
	if (run(Q_SECRET_GET, values, NULL, 1) != 1)
		return false;
	*value = TextDatumGetCString(get_col(1, &isnull));
	deconstruct_array(DatumGetArrayTypeP(get_col(2, &isnull)), TEXTOID, -1, false,
					  TYPALIGN_INT, &elems, &elnulls, &nelems);
	*allowed_hosts = NIL;
	for (i = 0; i < nelems; i++)
		if (!elnulls[i])
			*allowed_hosts = lappend(*allowed_hosts, TextDatumGetCString(elems[i]));
	*owner = DatumGetObjectId(get_col(3, &isnull));
	return true;
}

/*
 * durable_storage_secret_owner
 *		Locks a secret's row and returns its owner; false when none.
 */
bool
durable_storage_secret_owner(const char *name, Oid *owner)
{
	Datum		values[1];
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	if (run(Q_SECRET_OWNER, values, NULL, 1) != 1)
		return false;
	*owner = DatumGetObjectId(get_col(1, &isnull));
	return true;
}

/*
 * durable_storage_secret_put
 *		Creates a secret owned by owner, or changes it if owner owns it;
 *		false when the name is taken by a secret of another owner (one that
 *		committed after the caller looked).
 */
bool
durable_storage_secret_put(const char *name, const char *value, Datum allowed_hosts,
						   Oid owner, TimestampTz now)
{
	Datum		values[5];

	values[0] = CStringGetTextDatum(name);
	values[1] = CStringGetTextDatum(value);
	values[2] = allowed_hosts;
	values[3] = ObjectIdGetDatum(owner);
	values[4] = TimestampTzGetDatum(now);
	return run(Q_SECRET_PUT, values, NULL, 0) == 1;
}

void
durable_storage_secret_delete(const char *name)
{
	Datum		values[1];

	values[0] = CStringGetTextDatum(name);
	run(Q_SECRET_DELETE, values, NULL, 0);
}

void
durable_storage_secret_grant(const char *name, Oid grantee, bool grant)
{
	Datum		values[2];

	values[0] = CStringGetTextDatum(name);
	values[1] = ObjectIdGetDatum(grantee);
	run(grant ? Q_SECRET_GRANT : Q_SECRET_REVOKE, values, NULL, 0);
}

/*
 * durable_storage_secret_grantees
 *		The roles a secret is granted to, as a list of Oids.
 */
List *
durable_storage_secret_grantees(const char *name)
{
	Datum		values[1];
	uint64		n,
				i;
	List	   *roles = NIL;
	bool		isnull;

	values[0] = CStringGetTextDatum(name);
	n = run(Q_SECRET_GRANTEES, values, NULL, 0);
	for (i = 0; i < n; i++)
		roles = lappend_oid(roles, DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
																  SPI_tuptable->tupdesc,
																  1, &isnull)));
	return roles;
}

/*
 * durable_storage_secrets_list
 *		Every secret but its value: name, owner, allowed_hosts, grantees
 *		(oid[]), created_at, updated_at; the rows are left in SPI_tuptable.
 */
uint64
durable_storage_secrets_list(void)
{
	return run(Q_SECRETS_LIST, NULL, NULL, 0);
}

/*
 * durable_storage_secrets_sealed
 *		Whether any secret value is sealed under a key (secrets.c): then a
 *		missing key file is lost, not new.
 */
bool
durable_storage_secrets_sealed(void)
{
	return run(Q_SECRETS_SEALED, NULL, NULL, 1) > 0;
}
