/*-------------------------------------------------------------------------
 *
 * isolation.c
 *	  Resetting the session state of a worker between two executions.
 *
 * User code runs as the execution's owner in security-restricted mode,
 * and every setting it changes is undone when it returns (step.c); that
 * mode also refuses PREPARE, LISTEN, DISCARD, cursors WITH HOLD, SET ROLE
 * and temporary tables.  What neither covers is state a backend keeps for
 * the rest of its session: session-level advisory locks, objects in the
 * temporary schema (a step can create a function or type there), the
 * currval/lastval state of sequences, and the seed of random().  A worker
 * runs the executions of many roles one after the other in one session,
 * so it throws that state away after each one, as DISCARD ALL would.
 *
 * IDENTIFICATION
 *	  src/isolation.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "commands/sequence.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "storage/lock.h"
#include "utils/fmgrprotos.h"

#include "durable.h"

/*
 * durable_session_reset
 *		Forgets what the execution just driven left in this session.  Runs
 *		in a transaction (dropping temporary objects needs one), as the
 *		worker's own role, after the drive has ended: the drive lock is not
 *		an advisory lock, so releasing those cannot touch it.
 */
void
durable_session_reset(void)
{
	/* pg_advisory_lock() and friends: what pg_advisory_unlock_all() does */
	LockReleaseSession(USER_LOCKMETHOD);

	/* temporary objects: DISCARD TEMP (cheap when there is no temp schema) */
	ResetTempTableNamespace();

	/* currval() and lastval(): DISCARD SEQUENCES */
	ResetSequenceCaches();

	/* a setseed() must not make the next execution's random() predictable */
	(void) DirectFunctionCall1(setseed,
							   Float8GetDatum(pg_prng_double(&pg_global_prng_state) * 2.0 - 1.0));
}
