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
#include "utils/guc.h"

#include "durable.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * _PG_init
 *		Defines the settings.  Loading from shared_preload_libraries is the
 *		supported way (the workers need it); loading on first use works too.
 */
void
_PG_init(void)
{
	durable_define_settings();
	MarkGUCPrefixReserved("durable");
}
