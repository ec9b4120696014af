/*-------------------------------------------------------------------------
 *
 * quota.c
 *	  durable.max_executions_per_role: how many unfinished (PENDING,
 *	  RUNNING, SUSPENDED) executions each role owns, kept in shared memory
 *	  so that durable_start checks its quota without counting rows.
 *
 * Contract.  A shared hash holds, per (database, role), the number of
 * unfinished executions the role owns there, and per database whether
 * those numbers are known.  A transaction gathers its changes (+1 for an
 * execution stored, -1 for one that finishes, +1 for one redriven) per
 * role and subtransaction level; a subtransaction that aborts drops its
 * own, and the rest is added to the shared numbers when the transaction
 * commits (after the commit is visible, before its locks go).
 *
 * The numbers of a database become known at the first check there: it
 * marks the database as being counted (from then on, commits add their
 * changes), zeroes its numbers, and adds a GROUP BY of durable.executions
 * read with a snapshot taken after the mark.  A transaction whose commit
 * becomes visible before that snapshot but whose changes are added after
 * the mark is counted twice, so the numbers are exact up to transactions
 * committing at that very moment, and then err on the high side.  The
 * check itself adds the caller's own changes not committed yet but cannot
 * see those of other transactions in flight: exact up to concurrent starts.
 * A check in a REPEATABLE READ or SERIALIZABLE transaction does not count
 * (its snapshot may be older than the mark) and lets the start through.
 *
 * The numbers are counted again when durable.executions is another table
 * (the extension was dropped and created again).  Writes to the tables by
 * hand, and the changes of a two-phase (prepared) transaction, are not
 * seen until the server restarts.  Without shared memory
 * (durable not preloaded), and while another backend counts, the quota is
 * not enforced.  At most QUOTA_ENTRIES (database, role) pairs are kept;
 * past that, a database's quota is no longer enforced (logged once).
 *
 * IDENTIFICATION
 *	  src/store/quota.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/acl.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "store/store.h"
#include "store/store_int.h"
#include "util/durable_errcodes.h"

#define QUOTA_ENTRIES 4096

/* the state of a database's entry (role InvalidOid) */
typedef enum QuotaState
{
	QS_UNKNOWN,					/* not counted: commits add nothing */
	QS_COUNTING,				/* the GROUP BY runs; commits add */
	QS_READY,					/* exact up to concurrent starts */
	QS_FULL						/* the hash was full: not enforced */
} QuotaState;

typedef struct QuotaKey
{
	Oid			dbid;
	Oid			role;			/* InvalidOid: the database's own entry */
} QuotaKey;

typedef struct QuotaEntry
{
	QuotaKey	key;
	int64		count;			/* a role's unfinished executions */
	QuotaState	state;			/* a database's entry: */
	Oid			relid;			/* ... durable.executions it counted */
	int			counter_pid;	/* ... the backend counting */
} QuotaEntry;

/* a change of the current transaction not yet in shared memory */
typedef struct QuotaDelta
{
	Oid			role;
	int			level;			/* subtransaction nesting level */
	int64		delta;
} QuotaDelta;

static HTAB *quota_hash = NULL;
static LWLock *quota_lock = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

static QuotaDelta *deltas = NULL;
static int	ndeltas = 0;
static int	maxdeltas = 0;
static bool callbacks_registered = false;

/* while counting: whether the hash was full */
static bool counting_full;

static void
quota_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(hash_estimate_size(QUOTA_ENTRIES, sizeof(QuotaEntry)));
	RequestNamedLWLockTranche("durable quota", 1);
}

static void
quota_shmem_startup(void)
{
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	memset(&info, 0, sizeof(info));
	info.keysize = sizeof(QuotaKey);
	info.entrysize = sizeof(QuotaEntry);
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	quota_hash = ShmemInitHash("durable quota", QUOTA_ENTRIES, QUOTA_ENTRIES, &info,
							   HASH_ELEM | HASH_BLOBS);
	quota_lock = &(GetNamedLWLockTranche("durable quota"))->lock;
	LWLockRelease(AddinShmemInitLock);
}

/*
 * durable_quota_shmem_init
 *		Called from _PG_init when preloaded.
 */
void
durable_quota_shmem_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = quota_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = quota_shmem_startup;
}

static QuotaEntry *
db_entry(bool create)
{
	QuotaKey	key;
	QuotaEntry *e;
	bool		found;

	key.dbid = MyDatabaseId;
	key.role = InvalidOid;
	e = hash_search(quota_hash, &key, create ? HASH_ENTER_NULL : HASH_FIND, &found);
	if (e != NULL && !found)
	{
		e->count = 0;
		e->state = QS_UNKNOWN;
		e->relid = InvalidOid;
		e->counter_pid = 0;
	}
	return e;
}

/*
 * add_to_role
 *		Adds n to a role's number in this database; the lock is held
 *		exclusively.  False when the hash is full.
 */
static bool
add_to_role(Oid role, int64 n)
{
	QuotaKey	key;
	QuotaEntry *e;
	bool		found;

	key.dbid = MyDatabaseId;
	key.role = role;
	e = hash_search(quota_hash, &key, HASH_ENTER_NULL, &found);
	if (e == NULL)
		return false;
	if (!found)
	{
		e->count = 0;
		e->state = QS_UNKNOWN;
		e->relid = InvalidOid;
		e->counter_pid = 0;
	}
	e->count += n;
	return true;
}

static void
mark_full(QuotaEntry *db)
{
	if (db->state != QS_FULL)
		ereport(LOG,
				(errmsg("durable.max_executions_per_role is no longer enforced in database %u: more than %d roles and databases to count",
						MyDatabaseId, QUOTA_ENTRIES)));
	db->state = QS_FULL;
}

/* at commit: the transaction's changes go to shared memory */
static void
quota_commit(void)
{
	QuotaEntry *db;
	int			i;

	LWLockAcquire(quota_lock, LW_EXCLUSIVE);
	db = db_entry(false);
	if (db != NULL && (db->state == QS_COUNTING || db->state == QS_READY))
	{
		for (i = 0; i < ndeltas; i++)
		{
			if (deltas[i].delta != 0 && !add_to_role(deltas[i].role, deltas[i].delta))
			{
				mark_full(db);
				break;
			}
		}
	}
	LWLockRelease(quota_lock);
}

static void
quota_xact_callback(XactEvent event, void *arg)
{
	if (ndeltas == 0)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			quota_commit();
			ndeltas = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			ndeltas = 0;
			break;
		default:
			break;
	}
}

static void
quota_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			i,
				n;

	if (ndeltas == 0)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		/* what the subtransaction did is rolled back */
		for (i = 0, n = 0; i < ndeltas; i++)
			if (deltas[i].level < level)
				deltas[n++] = deltas[i];
		ndeltas = n;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* the parent's now: folded into its entry for the role, if any */
		for (i = 0, n = 0; i < ndeltas; i++)
		{
			int			j;

			if (deltas[i].level >= level)
				deltas[i].level = level - 1;
			for (j = 0; j < n; j++)
				if (deltas[j].role == deltas[i].role && deltas[j].level == deltas[i].level)
					break;
			if (j < n)
				deltas[j].delta += deltas[i].delta;
			else
				deltas[n++] = deltas[i];
		}
		ndeltas = n;
	}
}

/*
 * durable_quota_add
 *		The current transaction adds delta unfinished executions to owner.
 */
void
durable_quota_add(Oid owner, int delta)
{
	int			level;
	int			i;

	if (quota_hash == NULL)
		return;
	if (!callbacks_registered)
	{
		RegisterXactCallback(quota_xact_callback, NULL);
		RegisterSubXactCallback(quota_subxact_callback, NULL);
		callbacks_registered = true;
	}
	level = GetCurrentTransactionNestLevel();
	for (i = 0; i < ndeltas; i++)
	{
		if (deltas[i].role == owner && deltas[i].level == level)
		{
			deltas[i].delta += delta;
			return;
		}
	}
	if (ndeltas == maxdeltas)
	{
		maxdeltas = Max(16, maxdeltas * 2);
		deltas = deltas == NULL ?
			MemoryContextAlloc(TopMemoryContext, maxdeltas * sizeof(QuotaDelta)) :
			repalloc(deltas, maxdeltas * sizeof(QuotaDelta));
	}
	deltas[ndeltas].role = owner;
	deltas[ndeltas].level = level;
	deltas[ndeltas].delta = delta;
	ndeltas++;
}

/* the current transaction's changes to owner, not committed yet */
static int64
own_delta(Oid owner)
{
	int64		n = 0;
	int			i;

	for (i = 0; i < ndeltas; i++)
		if (deltas[i].role == owner)
			n += deltas[i].delta;
	return n;
}

/* a row of the GROUP BY */
static void
counted_add(Oid owner, int64 n)
{
	LWLockAcquire(quota_lock, LW_EXCLUSIVE);
	if (!add_to_role(owner, n))
		counting_full = true;
	LWLockRelease(quota_lock);
}

/* the one statement of quota.c, run by spi.c */
typedef enum QuotaQuery
{
	Q_UNFINISHED_PER_OWNER,
	Q_COUNT
} QuotaQuery;

static const StorageStatement statements[Q_COUNT] = {
	/* the quota counters' starting point; a seq scan, once */
	[Q_UNFINISHED_PER_OWNER] = {
		"SELECT owner::oid, count(*) FROM durable.executions "
		"WHERE status IN ('PENDING', 'RUNNING', 'SUSPENDED') GROUP BY owner",
		0, {InvalidOid}
	},
};

static SPIPlanPtr plans[Q_COUNT];

/*
 * durable_storage_unfinished_per_owner
 *		Calls add(owner, n) for every role that owns n > 0 unfinished
 *		executions.
 */
static void
durable_storage_unfinished_per_owner(void (*add) (Oid owner, int64 n))
{
	uint64		n,
				i;

	n = run(Q_UNFINISHED_PER_OWNER, NULL, NULL, 0);
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														   SPI_tuptable->tupdesc, 1, &isnull));
		int64		count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
														SPI_tuptable->tupdesc, 2, &isnull));

		add(owner, count);
	}
	if (n > 0)
		SPI_freetuptable(SPI_tuptable);
}

/*
 * count_database
 *		Makes this database's numbers known (see the header).  Called with
 *		no lock held, when the database entry is unknown, stale or its
 *		counter has died.  SPI must be connected.
 */
static void
count_database(Oid relid)
{
	QuotaEntry *db;
	HASH_SEQ_STATUS status;
	QuotaEntry *e;
	int			i;
	bool		failed = false;

	LWLockAcquire(quota_lock, LW_EXCLUSIVE);
	db = db_entry(true);
	if (db == NULL || db->state == QS_FULL ||
		(db->state == QS_COUNTING && db->counter_pid != MyProcPid &&
		 db->counter_pid != 0 && kill(db->counter_pid, 0) == 0))
	{
		/* someone else counts (or cannot) */
		LWLockRelease(quota_lock);
		return;
	}
	db->state = QS_COUNTING;
	db->relid = relid;
	db->counter_pid = MyProcPid;
	hash_seq_init(&status, quota_hash);
	while ((e = hash_seq_search(&status)) != NULL)
		if (e->key.dbid == MyDatabaseId && e->key.role != InvalidOid)
			e->count = 0;
	/* the GROUP BY sees this transaction's own rows, and its commit adds them */
	for (i = 0; i < ndeltas; i++)
		if (!add_to_role(deltas[i].role, -deltas[i].delta))
			failed = true;
	LWLockRelease(quota_lock);

	counting_full = failed;
	PG_TRY();
	{
		durable_storage_unfinished_per_owner(counted_add);
	}
	PG_CATCH();
	{
		LWLockAcquire(quota_lock, LW_EXCLUSIVE);
		db = db_entry(false);
		if (db != NULL && db->counter_pid == MyProcPid)
			db->state = QS_UNKNOWN;
		LWLockRelease(quota_lock);
		PG_RE_THROW();
	}
	PG_END_TRY();

	LWLockAcquire(quota_lock, LW_EXCLUSIVE);
	db = db_entry(false);
	if (db != NULL && db->counter_pid == MyProcPid && db->state == QS_COUNTING)
	{
		if (counting_full)
			mark_full(db);
		else
			db->state = QS_READY;
		db->counter_pid = 0;
	}
	LWLockRelease(quota_lock);
}

/*
 * quota_prepare
 *		Makes this database's numbers known if they are not; returns the
 *		oid of durable.executions (InvalidOid: no quota to check).  SPI
 *		must be connected.
 */
static Oid
quota_prepare(void)
{
	Oid			nspid;
	Oid			relid;
	QuotaEntry *db;
	QuotaState	state = QS_UNKNOWN;

	if (durable_max_executions_per_role <= 0 || quota_hash == NULL)
		return InvalidOid;
	nspid = get_namespace_oid("durable", true);
	relid = OidIsValid(nspid) ? get_relname_relid("executions", nspid) : InvalidOid;
	if (!OidIsValid(relid))
		return InvalidOid;

	LWLockAcquire(quota_lock, LW_SHARED);
	db = db_entry(false);
	if (db != NULL)
	{
		state = db->state;
		if (db->relid != relid && state != QS_COUNTING)
			state = QS_UNKNOWN;		/* the extension was created again */
		else if (state == QS_COUNTING &&
				 (db->counter_pid == MyProcPid || kill(db->counter_pid, 0) != 0))
			state = QS_UNKNOWN;		/* its counter died, or failed here */
	}
	LWLockRelease(quota_lock);

	if (state == QS_UNKNOWN)
	{
		if (IsolationUsesXactSnapshot())
			return InvalidOid;
		count_database(relid);
	}
	return relid;
}

/*
 * durable_quota_prepare
 *		For the workers, before they claim: the numbers of their database
 *		are read then, not at a client's first start.  SPI must be
 *		connected.
 */
void
durable_quota_prepare(void)
{
	(void) quota_prepare();
}

/*
 * durable_quota_check
 *		Before owner's new execution is stored by durable_start: WF009 when
 *		owner has durable.max_executions_per_role unfinished executions
 *		already.  SPI must be connected.
 */
void
durable_quota_check(Oid owner)
{
	Oid			relid = quota_prepare();
	QuotaEntry *db;
	QuotaKey	key;
	QuotaEntry *e;
	QuotaState	state;
	int64		count = 0;

	if (!OidIsValid(relid))
		return;
	LWLockAcquire(quota_lock, LW_SHARED);
	db = db_entry(false);
	state = db != NULL && db->relid == relid ? db->state : QS_UNKNOWN;
	if (state == QS_READY)
	{
		key.dbid = MyDatabaseId;
		key.role = owner;
		e = hash_search(quota_hash, &key, HASH_FIND, NULL);
		count = e != NULL ? e->count : 0;
	}
	LWLockRelease(quota_lock);
	if (state != QS_READY)
		return;

	count += own_delta(owner);
	if (count >= durable_max_executions_per_role)
		ereport(ERROR,
				(errcode(ERRCODE_DURABLE_LIMIT_EXCEEDED),
				 errmsg("role \"%s\" has too many unfinished executions",
						GetUserNameFromId(owner, false)),
				 errdetail("It has %lld PENDING, RUNNING or SUSPENDED executions, children included; durable.max_executions_per_role is %d.",
						   (long long) count, durable_max_executions_per_role),
				 errhint("Wait for some to finish or stop some, or ask a superuser to raise durable.max_executions_per_role.")));
}
