/*-------------------------------------------------------------------------
 *
 * workflow.c
 *	  Workflows are PL/pgSQL functions of one jsonb argument returning
 *	  jsonb: resolving a workflow's name to its function (checking the
 *	  signature and that its owner may run it) and the hash of its
 *	  definition that an execution records at start.
 *
 * IDENTIFICATION
 *	  src/core/workflow.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "common/md5.h"
#include "miscadmin.h"
#include "parser/parse_func.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "core/core.h"
#include "util/durable_errcodes.h"

/*
 * definition_hash
 *		The md5 of a function's definition (its pg_proc row), as hex.
 */
static char *
definition_hash(HeapTuple tup)
{
	bool		isnull;
	Datum		src = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_prosrc, &isnull);
	char	   *def = isnull ? "" : TextDatumGetCString(src);
	char	   *hex = palloc(33);
	const char *errstr = NULL;

	if (!pg_md5_hash(def, strlen(def), hex, &errstr))
		elog(ERROR, "could not compute md5: %s", errstr ? errstr : "unknown error");
	return hex;
}

/*
 * durable_resolve_workflow
 *		Resolves a workflow given as text like a function name in SQL and
 *		checks it: one jsonb argument, returns jsonb, an ordinary function,
 *		not a system function (of pg_catalog or information_schema), and
 *		(if asked) EXECUTE for the current role.  Optionally returns its
 *		qualified name and the md5 of its definition.
 */
Oid
durable_resolve_workflow(const char *workflow, bool check_execute,
						 char **qualified, char **hash)
{
	List	   *names;
	Oid			argtypes[1] = {JSONBOID};
	Oid			fn;
	HeapTuple	tup;
	Form_pg_proc proc;

	names = stringToQualifiedNameList(workflow);
	fn = LookupFuncName(names, 1, argtypes, true);
	if (!OidIsValid(fn))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("workflow function %s(jsonb) does not exist", workflow),
				 errhint("A workflow is a function that takes one jsonb argument and returns jsonb.")));

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", fn);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	if (proc->prokind != PROKIND_FUNCTION || proc->proretset ||
		proc->prorettype != JSONBOID)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("function %s(jsonb) is not a workflow", workflow),
				 errdetail("A workflow is a function that takes one jsonb argument and returns one jsonb value.")));
	if (proc->pronamespace == PG_CATALOG_NAMESPACE ||
		proc->pronamespace == get_namespace_oid("information_schema", true))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("function %s.%s(jsonb) is a system function and cannot be a workflow",
						get_namespace_name(proc->pronamespace), NameStr(proc->proname)),
				 errhint("Write the workflow as a function of your own, which may call it.")));

	if (check_execute)
	{
		AclResult	aclresult = pg_proc_aclcheck(fn, GetUserId(), ACL_EXECUTE);

		if (aclresult != ACLCHECK_OK)
			aclcheck_error(aclresult, OBJECT_FUNCTION, NameStr(proc->proname));
	}

	if (qualified != NULL)
		*qualified = quote_qualified_identifier(get_namespace_name(proc->pronamespace),
												NameStr(proc->proname));
	if (hash != NULL)
		*hash = definition_hash(tup);
	ReleaseSysCache(tup);
	return fn;
}

/*
 * durable_resolve_workflow_as
 *		durable_resolve_workflow as the given role, with its EXECUTE checked:
 *		the owner of an execution, whoever drives or redrives it.
 */
Oid
durable_resolve_workflow_as(const char *workflow, Oid role, char **qualified, char **hash)
{
	Oid			save_userid;
	int			save_sec;
	Oid			fn;

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(role, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		fn = durable_resolve_workflow(workflow, true, qualified, hash);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	return fn;
}

/*
 * durable_workflow_hash
 *		The md5 of a workflow's definition, given by its qualified name;
 *		NULL when there is no such function (it was dropped).
 */
char *
durable_workflow_hash(const char *qualified)
{
	List	   *names = stringToQualifiedNameList(qualified);
	Oid			argtypes[1] = {JSONBOID};
	Oid			fn = LookupFuncName(names, 1, argtypes, true);
	HeapTuple	tup;
	char	   *hash;

	if (!OidIsValid(fn))
		return NULL;
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	if (!HeapTupleIsValid(tup))
		return NULL;
	hash = definition_hash(tup);
	ReleaseSysCache(tup);
	return hash;
}
