/*-------------------------------------------------------------------------
 *
 * durable.c
 *	  Module magic and initialisation of the durable extension.
 *
 * IDENTIFICATION
 *	  src/durable.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "api/api.h"
#include "bgw/bgw.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init
 *		Fills the kind table and defines the settings; when preloaded, also
 *		the shared memory, the
 *		launcher of the background workers and the utility hook that lets
 *		DROP DATABASE through.  Loading on first use works too, without
 *		workers.
 */
void
_PG_init(void)
{
	durable_ops_register();
	durable_define_settings();
	MarkGUCPrefixReserved("durable");
	if (process_shared_preload_libraries_in_progress)
	{
		durable_shmem_init();
		durable_wfstats_init();
		durable_quota_shmem_init();
		durable_register_launcher();
		durable_utility_hook_init();
	}
}
