/*-------------------------------------------------------------------------
 *
 * spi.c
 *	  The one runner of the store layer's statements: every statement
 *	  against the durable tables goes through durable_store_run.
 *
 * Each store file holds its own statements (a StorageStatement array
 * indexed by its own enum) and its own plan cache; this file runs them.
 * Statements run as the owner of schema durable (the role that created
 * the extension), under a search_path of pg_catalog alone, so that callers
 * need no rights on the tables and cannot redirect names or operators.
 * The API functions check the caller before they get here.  The helpers
 * that marshal values to and from statements are in store_int.h.
 *
 * IDENTIFICATION
 *	  src/store/spi.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "store/store.h"
#include "store/store_int.h"

static OverrideSearchPath *catalog_path = NULL;

/*
 * Plans: every statement here finds its rows through an index, and a
 * backend keeps its plans for as long as it lives.  A cost-based plan made
 * while a table is empty, or just analyzed small, is a seq scan, and it
 * stays one as the table grows until the next ANALYZE of that table
 * invalidates it: claims and checkpoint loads then read whole tables.  So
 * the statements are kept as generic plans (never custom ones, which would
 * be planned again and again) and are planned, whenever the plan cache
 * finds it must, with seq scans disabled.  Bitmap scans are disabled too:
 * a generic plan of a key lookup is otherwise a bitmap scan, which never
 * marks the index entries of deleted rows dead, so taking an inbox's
 * messages read every message the execution ever had until a vacuum.  The setting is made around every
 * execution, not only when a plan looks invalid beforehand: invalidations
 * (an ANALYZE committed meanwhile) are also taken in while the plan cache
 * locks the tables, and such a plan must not be made without it.
 *
 * durable_store_run
 *		Executes one statement as the owner of schema durable with only
 *		pg_catalog on the search_path, planned as above and kept in *plan
 *		(the calling file's cache).  Returns SPI_processed.  Store files
 *		call it through the run() macro of store_int.h.
 */
uint64
durable_store_run(const StorageStatement *st, SPIPlanPtr *plan, Datum *values,
				  const char *nulls, long tcount)
{
	Oid			save_userid;
	int			save_sec;
	Oid			nspid;
	HeapTuple	tup;
	Oid			bookkeeper;
	int			rc;
	int			save_nestlevel;

	nspid = get_namespace_oid("durable", false);
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	bookkeeper = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);

	if (catalog_path == NULL)
	{
		catalog_path = MemoryContextAllocZero(TopMemoryContext, sizeof(OverrideSearchPath));
		catalog_path->schemas = NIL;
		catalog_path->addCatalog = true;
		catalog_path->addTemp = false;
	}

	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(bookkeeper, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	PushOverrideSearchPath(catalog_path);
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	PG_TRY();
	{
		if (*plan == NULL)
		{
			SPIPlanPtr	p = SPI_prepare_cursor(st->sql, st->nargs,
											   (Oid *) st->argtypes,
											   CURSOR_OPT_GENERIC_PLAN);

			if (p == NULL)
				elog(ERROR, "SPI_prepare failed for \"%s\": %s", st->sql,
					 SPI_result_code_string(SPI_result));
			if (SPI_keepplan(p) != 0)
				elog(ERROR, "SPI_keepplan failed");
			*plan = p;
		}
		rc = SPI_execute_plan(*plan, values, nulls, false, tcount);
		if (rc < 0)
			elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", st->sql,
				 SPI_result_code_string(rc));
	}
	PG_CATCH();
	{
		AtEOXact_GUC(false, save_nestlevel);
		PopOverrideSearchPath();
		SetUserIdAndSecContext(save_userid, save_sec);
		PG_RE_THROW();
	}
	PG_END_TRY();
	AtEOXact_GUC(true, save_nestlevel);
	PopOverrideSearchPath();
	SetUserIdAndSecContext(save_userid, save_sec);
	return SPI_processed;
}
