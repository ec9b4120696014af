/*-------------------------------------------------------------------------
 *
 * api.h
 *	  The SQL-callable functions used outside workflows.
 *
 * IDENTIFICATION
 *	  src/api/api.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_API_API_H
#define DURABLE_API_API_H

#include "ops/ops.h"

/* api.c */
extern Oid	durable_resolve_controlled(const char *execution, pg_uuid_t *id);

/* cron.c */
extern void durable_cron_drop_jobs(void);
extern bool durable_tick_job_here(void);

/* ddl.c */
extern void durable_utility_hook_init(void);

#endif							/* DURABLE_API_API_H */
