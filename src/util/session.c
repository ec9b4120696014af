/*-------------------------------------------------------------------------
 *
 * session.c
 *	  Resetting the session state that executions leave behind: in a
 *	  worker between two executions, and in the session of a client that
 *	  drives executions (durable_drive, durable_drive_pending, CALL
 *	  durable_run, CALL durable_tick) after each drive.
 *
 * User code runs as the execution's owner in security-restricted mode,
 * and every setting it changes is undone when it returns (usercode.c); that
 * mode also refuses PREPARE, LISTEN, DISCARD, cursors WITH HOLD, SET ROLE
 * and temporary tables.  What neither covers is state a backend keeps for
 * the rest of its session: session-level advisory locks, objects in the
 * temporary schema (a step can create a function or type there), the
 * currval/lastval state of sequences, and the seed of random().  A worker
 * runs the executions of many roles one after the other in one session,
 * so it throws that state away after each one, as DISCARD ALL would.
 *
 * A client session has state of its own that must survive the drive.  So
 * a session driver notes, before it drives, which session-level advisory
 * locks the session holds (and how many times) and which objects its
 * temporary schema has; after each drive, and when the call ends in an
 * error, it releases the advisory locks taken since and takes back those
 * a step released, and drops the temporary objects created since.  The
 * sequence state and the random() seed cannot be read, only reset: the
 * session forgets every currval() and lastval() (DISCARD SEQUENCES) and
 * random() gets an unpredictable seed.
 *
 * IDENTIFICATION
 *	  src/util/session.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_namespace.h"
#include "commands/sequence.h"
#include "common/pg_prng.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"

#include "util/util.h"

/* a session-level advisory lock and how many times the session holds it */
typedef struct HeldLock
{
	LOCKTAG		tag;
	LOCKMODE	mode;
	int			count;
} HeldLock;

struct DurableSessionState
{
	MemoryContext cxt;			/* everything below lives here */
	HeldLock   *locks;
	int			nlocks;
	Oid			temp_nsp;		/* the temporary schema, or InvalidOid */
	ObjectAddress *temp_objects;	/* the objects in it */
	int			ntemp;
};

static void
reseed(void)
{
	(void) DirectFunctionCall1(setseed,
							   Float8GetDatum(pg_prng_double(&pg_global_prng_state) * 2.0 - 1.0));
}

/*
 * session_count
 *		How many times this session holds an advisory lock it holds in some
 *		way, at session level.  The count is kept in the backend's local
 *		lock table, which only LockAcquireExtended hands out: taking the
 *		lock once more is local (it is held already) and gives the entry,
 *		and the extra hold is given back at once.
 */
static int
session_count(const LOCKTAG *tag, LOCKMODE mode)
{
	LOCKTAG		t = *tag;
	LOCALLOCK  *ll = NULL;
	LockAcquireResult res;
	int			count = 0;
	int			i;

	res = LockAcquireExtended(&t, mode, true, true, true, &ll);
	if (res == LOCKACQUIRE_NOT_AVAIL)
		return 0;				/* not held after all */
	if (res == LOCKACQUIRE_OK)
	{
		/* not held after all, and now taken: give it back */
		LockRelease(&t, mode, true);
		return 0;
	}
	for (i = 0; i < ll->numLockOwners; i++)
		if (ll->lockOwners[i].owner == NULL)
			count = ll->lockOwners[i].nLocks - 1;
	LockRelease(&t, mode, true);
	return count;
}

/*
 * session_locks
 *		The session-level advisory locks this backend holds, with counts.
 */
static HeldLock *
session_locks(int *n)
{
	LockData   *data = GetLockStatusData();
	int			size = 8;
	HeldLock   *locks = palloc(sizeof(HeldLock) * size);
	int			i;

	*n = 0;
	for (i = 0; i < data->nelements; i++)
	{
		LockInstanceData *inst = &data->locks[i];
		LOCKMODE	mode;

		if (inst->pid != MyProcPid ||
			inst->locktag.locktag_lockmethodid != USER_LOCKMETHOD)
			continue;
		for (mode = 1; mode < MAX_LOCKMODES; mode++)
		{
			int			count;

			if ((inst->holdMask & LOCKBIT_ON(mode)) == 0)
				continue;
			count = session_count(&inst->locktag, mode);
			if (count == 0)
				continue;		/* a transaction-level lock */
			if (*n == size)
			{
				size *= 2;
				locks = repalloc(locks, sizeof(HeldLock) * size);
			}
			locks[*n].tag = inst->locktag;
			locks[*n].mode = mode;
			locks[*n].count = count;
			(*n)++;
		}
	}
	return locks;
}

static int
held_count(const HeldLock *locks, int n, const HeldLock *lock)
{
	int			i;

	for (i = 0; i < n; i++)
		if (locks[i].mode == lock->mode &&
			memcmp(&locks[i].tag, &lock->tag, sizeof(LOCKTAG)) == 0)
			return locks[i].count;
	return 0;
}

/*
 * temp_objects
 *		The objects in the temporary schema nsp: those that depend on it.
 */
static ObjectAddress *
temp_objects(Oid nsp, int *n)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int			size = 16;
	ObjectAddress *objects = palloc(sizeof(ObjectAddress) * size);

	*n = 0;
	if (!OidIsValid(nsp))
		return objects;
	rel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(NamespaceRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(nsp));
	scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		if (*n == size)
		{
			size *= 2;
			objects = repalloc(objects, sizeof(ObjectAddress) * size);
		}
		objects[*n].classId = dep->classid;
		objects[*n].objectId = dep->objid;
		objects[*n].objectSubId = dep->objsubid;
		(*n)++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return objects;
}

static Oid
temp_namespace(void)
{
	Oid			nsp;
	Oid			toast;

	GetTempNamespaceState(&nsp, &toast);
	return nsp;
}

/*
 * durable_session_save
 *		What a session driver's session has before it drives: its
 *		session-level advisory locks and its temporary objects.  In a
 *		transaction.
 */
DurableSessionState *
durable_session_save(void)
{
	MemoryContext cxt = AllocSetContextCreate(TopMemoryContext, "durable session state",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	DurableSessionState *st = palloc0(sizeof(DurableSessionState));

	st->cxt = cxt;
	st->locks = session_locks(&st->nlocks);
	st->temp_nsp = temp_namespace();
	st->temp_objects = temp_objects(st->temp_nsp, &st->ntemp);
	MemoryContextSwitchTo(old);
	return st;
}

/*
 * drop_new_temp_objects
 *		Drops the objects in the temporary schema that st did not note.
 */
static void
drop_new_temp_objects(DurableSessionState *st)
{
	int			n;
	ObjectAddress *now = temp_objects(temp_namespace(), &n);
	ObjectAddresses *drop = new_object_addresses();
	bool		any = false;
	bool		pushed = false;
	int			i;
	int			j;

	for (i = 0; i < n; i++)
	{
		bool		old = false;

		for (j = 0; j < st->ntemp && !old; j++)
			old = now[i].classId == st->temp_objects[j].classId &&
				now[i].objectId == st->temp_objects[j].objectId &&
				now[i].objectSubId == st->temp_objects[j].objectSubId;
		if (!old)
		{
			add_exact_object_address(&now[i], drop);
			any = true;
		}
	}
	if (any)
	{
		if (!ActiveSnapshotSet())
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			pushed = true;
		}
		performMultipleDeletions(drop, DROP_CASCADE,
								 PERFORM_DELETION_INTERNAL | PERFORM_DELETION_QUIETLY);
		CommandCounterIncrement();
		if (pushed)
			PopActiveSnapshot();
	}
	free_object_addresses(drop);
}

/*
 * durable_session_restore
 *		Undoes what the drives since durable_session_save left in the
 *		session: releases the session-level advisory locks taken since (as
 *		often as they were taken), takes back those a step released (when
 *		no other session has taken them meanwhile), drops the temporary
 *		objects created since, forgets every sequence's currval and lastval
 *		and reseeds random().  With failed, in an error that is about to be
 *		re-thrown: the transaction is failing and rolls back the temporary
 *		objects of its own, so the catalog is left alone.
 */
void
durable_session_restore(DurableSessionState *st, bool failed)
{
	/* a call may restore after each of thousands of drives: nothing stays */
	MemoryContext tmp = AllocSetContextCreate(st->cxt, "durable session restore",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(tmp);
	HeldLock   *now;
	int			n;
	int			i;
	int			k;

	if (!failed)
		drop_new_temp_objects(st);

	now = session_locks(&n);
	for (i = 0; i < n; i++)
		for (k = held_count(st->locks, st->nlocks, &now[i]); k < now[i].count; k++)
			LockRelease(&now[i].tag, now[i].mode, true);
	for (i = 0; i < st->nlocks; i++)
		for (k = held_count(now, n, &st->locks[i]); k < st->locks[i].count; k++)
			if (LockAcquire(&st->locks[i].tag, st->locks[i].mode, true, true) ==
				LOCKACQUIRE_NOT_AVAIL)
				break;			/* another session has it now */

	ResetSequenceCaches();
	reseed();
	MemoryContextSwitchTo(old);
	MemoryContextDelete(tmp);
}

/*
 * durable_session_forget
 *		Frees what durable_session_save noted.
 */
void
durable_session_forget(DurableSessionState *st)
{
	MemoryContextDelete(st->cxt);
}

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
	reseed();
}
