/*-------------------------------------------------------------------------
 *
 * bgw.h
 *	  The background workers: the launcher, the workers that drive
 *	  executions, the HTTP worker.
 *
 * IDENTIFICATION
 *	  src/bgw/bgw.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_BGW_BGW_H
#define DURABLE_BGW_BGW_H

#include "ops/ops.h"

/* worker.c */
extern bool durable_worker_begin(void);
extern void durable_worker_end(void);

/* launcher.c */
extern void durable_register_launcher(void);

#endif							/* DURABLE_BGW_BGW_H */
