/*-------------------------------------------------------------------------
 *
 * ddl.c
 *	  A utility hook for the commands that concern durable's workers and
 *	  tables.
 *
 * Commands that need the database to themselves (DROP DATABASE, ALTER
 * DATABASE ... RENAME, CREATE DATABASE ... TEMPLATE) would fail while the
 * workers are connected to it.  The hook makes the backend running such a
 * command pause the launcher and ask the workers to leave first; the
 * launcher starts them again afterwards if the database still exists.
 *
 * The hook serialises ALTER EXTENSION durable UPDATE with the drives:
 * every worker transaction (and every transaction of a session driver)
 * takes a share lock on the extension before it touches a table, and the
 * update takes the exclusive lock before its script locks any table, so
 * it waits for the transactions in flight and the next ones wait for it,
 * instead of the two deadlocking table by table.  It refuses DROP ROLE of
 * a role that owns unfinished executions or schedules in this database,
 * which would otherwise fail later as "invalid role OID", and it removes
 * the pg_cron jobs of durable's schedules on DROP EXTENSION.
 *
 * IDENTIFICATION
 *	  src/api/ddl.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "catalog/pg_extension.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "tcop/utility.h"
#include "utils/acl.h"

#include "api/api.h"
#include "util/durable_errcodes.h"

static ProcessUtility_hook_type prev_utility_hook = NULL;

/*
 * needs_database_alone
 *		Whether a utility statement needs durable.database without other
 *		connections.
 */
static bool
needs_database_alone(Node *stmt)
{
	const char *db = durable_database;
	ListCell   *lc;

	if (db == NULL)
		return false;
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			return strcmp(((DropdbStmt *) stmt)->dbname, db) == 0;
		case T_RenameStmt:
			return ((RenameStmt *) stmt)->renameType == OBJECT_DATABASE &&
				strcmp(((RenameStmt *) stmt)->subname, db) == 0;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) stmt)->options)
			{
				DefElem    *def = lfirst(lc);

				if (strcmp(def->defname, "template") == 0 && def->arg != NULL &&
					strcmp(defGetString(def), db) == 0)
					return true;
			}
			return false;
		default:
			return false;
	}
}

/*
 * lock_for_update
 *		Before ALTER EXTENSION durable UPDATE: the exclusive lock on the
 *		extension that every drive's transaction takes in share mode.  Only
 *		for a role that may update it: another would queue for the lock,
 *		and stall every worker behind it, only to be refused.
 */
static void
lock_for_update(void)
{
	Oid			ext = get_extension_oid("durable", true);

	if (OidIsValid(ext) && pg_extension_ownercheck(ext, GetUserId()))
		LockDatabaseObject(ExtensionRelationId, ext, 0, AccessExclusiveLock);
}

/*
 * check_drop_roles
 *		Refuses DROP ROLE of a role that owns unfinished executions or
 *		schedules in this database: they would fail with "invalid role OID"
 *		when next driven or fired.  Other databases are not looked at.
 */
static void
check_drop_roles(DropRoleStmt *stmt)
{
	ListCell   *lc;
	bool		connected = false;

	/* a role that may not drop roles learns nothing of others' executions */
	if (!has_createrole_privilege(GetUserId()) ||
		!OidIsValid(get_extension_oid("durable", true)))
		return;
	foreach(lc, stmt->roles)
	{
		RoleSpec   *spec = lfirst(lc);
		Oid			role;
		int64		executions;
		int64		schedules;

		if (spec->roletype != ROLESPEC_CSTRING)
			continue;			/* DROP ROLE refuses the others itself */
		role = get_role_oid(spec->rolename, true);
		if (!OidIsValid(role))
			continue;
		if (!connected)
		{
			SPI_connect();
			connected = true;
		}
		durable_storage_owner_busy(role, &executions, &schedules);
		if (executions > 0 || schedules > 0)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because it owns durable executions or schedules",
							spec->rolename),
					 errdetail("Unfinished executions it owns in this database: %lld; schedules: %lld.",
							   (long long) executions, (long long) schedules),
					 errhint("Stop its executions (durable_stop) or let them finish, and unschedule its schedules; REASSIGN OWNED does not move executions to another role.")));
	}
	if (connected)
		SPI_finish();
}

/* whether a statement is DROP EXTENSION ... durable ... */
static bool
drops_durable(Node *stmt)
{
	ListCell   *lc;

	if (!IsA(stmt, DropStmt) || ((DropStmt *) stmt)->removeType != OBJECT_EXTENSION)
		return false;
	foreach(lc, ((DropStmt *) stmt)->objects)
	{
		Node	   *obj = lfirst(lc);

		if (IsA(obj, String) && strcmp(strVal(obj), "durable") == 0)
			return true;
	}
	return false;
}

/*
 * durable_utility_hook
 *		Around a statement that needs durable.database alone: pauses the
 *		launcher and asks the workers to exit (the statement itself waits a
 *		few seconds for other sessions to leave); when its transaction ends,
 *		committed or not, the launcher decides again.  After CREATE DATABASE
 *		of durable.database the launcher is woken at commit.  Before DROP
 *		EXTENSION durable, the pg_cron jobs it made go (cron.c).
 */
static void
durable_utility_hook(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest,
					 QueryCompletion *qc)
{
	DurableShared *sh = durable_shmem();
	Node	   *stmt = pstmt->utilityStmt;
	bool		pause = sh != NULL && needs_database_alone(stmt);
	bool		created;

	if (IsA(stmt, AlterExtensionStmt) &&
		strcmp(((AlterExtensionStmt *) stmt)->extname, "durable") == 0)
		lock_for_update();
	else if (IsA(stmt, DropRoleStmt))
		check_drop_roles((DropRoleStmt *) stmt);
	else if (drops_durable(stmt))
		durable_cron_drop_jobs();

	/* the workers' database created: the launcher need not wait to see it */
	created = sh != NULL && IsA(stmt, CreatedbStmt) &&
		durable_database != NULL &&
		strcmp(((CreatedbStmt *) stmt)->dbname, durable_database) == 0;

	if (pause)
	{
		/* paused until this transaction ends, and the launcher woken then */
		durable_launcher_at_end(true);
		(void) durable_signal_workers(SIGTERM);
	}
	else if (created)
		durable_launcher_at_end(false);
	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);
}

void
durable_utility_hook_init(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = durable_utility_hook;
}
