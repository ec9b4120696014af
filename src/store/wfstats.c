/*-------------------------------------------------------------------------
 *
 * wfstats.c
 *	  Statistics per workflow (behind the durable.workflow_stats view and
 *	  durable_stats_reset, whose SQL functions are in api/observe.c), kept
 *	  across a clean restart, and the server log lines of failed executions
 *	  and steps that ran out of attempts.
 *
 * Contract:
 *	- Counts and durations are gathered per transaction and added to a
 *	  fixed-size hash in shared memory, keyed by the workflow's qualified
 *	  name, when it commits (this file's own transaction callback): a
 *	  rolled-back start or step is never counted.
 *	  Once durable.max_tracked_workflows workflows have a row, the others
 *	  are counted together in one row whose workflow is NULL.
 *	- The duration of an execution is the wall-clock time from its start
 *	  (the time in its UUIDv7 id) to the commit that finished it.  Each
 *	  workflow keeps a histogram of them in quarter-octave buckets (each
 *	  bucket 2^(1/4), about 19%, wider than the one before, from 16 us to
 *	  about half a year); percentiles are interpolated inside a bucket and
 *	  clamped to the smallest and largest duration seen.
 *	- The postmaster writes the statistics, and the counters of durable.stats,
 *	  to pg_stat/durable.stat when it exits cleanly, and reads and removes
 *	  that file when it creates shared memory.  A crash, or an immediate
 *	  shutdown, writes nothing, so the statistics start from zero then.
 *	- With durable.log_failures, a transaction that ends an execution FAILED
 *	  or TIMED_OUT, or in which a step or HTTP request fails after its last
 *	  allowed attempt, writes one LOG line per such event when it commits
 *	  (nothing when it rolls back).  This part works without the preload.
 *
 * IDENTIFICATION
 *	  src/store/wfstats.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/time.h>
#include <unistd.h>

#include "access/xact.h"
#include "catalog/pg_control.h"
#include "common/controldata_utils.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/fd.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "store/store.h"

#define WF_NAME_LEN 256			/* longer qualified names are cut */
#define WF_BUCKETS 160
#define WF_BASE_US 16.0			/* upper bound of the first bucket */
#define WF_FILE PGSTAT_STAT_PERMANENT_DIRECTORY "/durable.stat"
#define WF_TMPFILE PGSTAT_STAT_PERMANENT_DIRECTORY "/durable.tmp"
#define WF_FILE_MAGIC 0x44757231	/* "Dur1" */
#define WF_FILE_VERSION 1

/* what is counted per workflow */
typedef enum WfCounter
{
	WC_STARTED,
	WC_SUCCEEDED,
	WC_FAILED,
	WC_TIMED_OUT,
	WC_STOPPED,
	WC_RETRIES,
	WC_STEPS,
	WC_COUNT
} WfCounter;

typedef struct WfData
{
	int64		counts[WC_COUNT];
	int64		finished;		/* durations recorded */
	double		sum_us;
	int64		min_us;
	int64		max_us;
	int64		hist[WF_BUCKETS];
} WfData;

typedef struct WfEntry
{
	char		workflow[WF_NAME_LEN];	/* hash key; "" for the others */
	slock_t		mutex;			/* protects data */
	WfData		data;
} WfEntry;

typedef struct WfShared
{
	LWLock	   *lock;			/* the hash's entries, and reset_at */
	TimestampTz reset_at;
} WfShared;

/* what the current transaction adds to one workflow's row */
typedef struct WfPending
{
	char		workflow[WF_NAME_LEN];
	int64		counts[WC_COUNT];
	int			ndurations;
	int			maxdurations;
	int64	   *durations;
} WfPending;

static WfShared *wf_shared = NULL;
static HTAB *wf_hash = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* the current transaction's counts and log lines, in wf_cxt */
static MemoryContext wf_cxt = NULL;
static List *wf_pending = NIL;
static List *wf_logs = NIL;
static bool wf_callback_registered = false;

static void wf_xact_callback(XactEvent event, void *arg);
static void wf_abort(void);

static Size
wf_shmem_size(void)
{
	return add_size(MAXALIGN(sizeof(WfShared)),
					hash_estimate_size(durable_max_tracked_workflows + 1,
									   sizeof(WfEntry)));
}

static void
wf_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(wf_shmem_size());
	RequestNamedLWLockTranche("durable_wfstats", 1);
}

/* the row of workflow, created if there is room, else the others' row */
static WfEntry *
wf_entry_enter(const char *workflow)
{
	WfEntry    *e;
	bool		found;

	e = hash_search(wf_hash, workflow, HASH_FIND, NULL);
	if (e != NULL)
		return e;
	if (hash_get_num_entries(wf_hash) < durable_max_tracked_workflows + 1)
		e = hash_search(wf_hash, workflow, HASH_ENTER_NULL, &found);
	if (e == NULL)
		return hash_search(wf_hash, "", HASH_FIND, NULL);
	SpinLockInit(&e->mutex);
	memset(&e->data, 0, sizeof(WfData));
	return e;
}

static void
wf_data_add(WfData *to, const WfData *from)
{
	int			i;

	for (i = 0; i < WC_COUNT; i++)
		to->counts[i] += from->counts[i];
	if (from->finished > 0)
	{
		to->min_us = to->finished > 0 ? Min(to->min_us, from->min_us) : from->min_us;
		to->max_us = Max(to->max_us, from->max_us);
	}
	to->finished += from->finished;
	to->sum_us += from->sum_us;
	for (i = 0; i < WF_BUCKETS; i++)
		to->hist[i] += from->hist[i];
}

/*
 * wf_load
 *		Reads the file a clean shutdown left, in the postmaster, and removes
 *		it, so that a crash later does not find it again.
 */
static void
wf_load(void)
{
	FILE	   *f;
	uint32		header[2];
	int32		sizes[3];
	uint64		counters[DC_COUNT];
	TimestampTz since;
	TimestampTz reset_at;
	int32		n;
	int32		i;
	WfEntry		tmp;
	DurableShared *sh = durable_shmem();

	f = AllocateFile(WF_FILE, PG_BINARY_R);
	if (f == NULL)
	{
		if (errno != ENOENT)
			ereport(LOG,
					(errcode_for_file_access(),
					 errmsg("could not read file \"%s\": %m", WF_FILE)));
		return;
	}
	if (fread(header, sizeof(header), 1, f) != 1 ||
		header[0] != WF_FILE_MAGIC || header[1] != WF_FILE_VERSION ||
		fread(sizes, sizeof(sizes), 1, f) != 1 ||
		sizes[0] != DC_COUNT || sizes[1] != WC_COUNT || sizes[2] != WF_BUCKETS ||
		fread(counters, sizeof(counters), 1, f) != 1 ||
		fread(&since, sizeof(since), 1, f) != 1 ||
		fread(&reset_at, sizeof(reset_at), 1, f) != 1 ||
		fread(&n, sizeof(n), 1, f) != 1 || n < 0)
		goto bad;

	if (sh != NULL)
	{
		for (i = 0; i < DC_COUNT; i++)
			pg_atomic_write_u64(&sh->counters[i], counters[i]);
		sh->stats_since = since;
	}
	wf_shared->reset_at = reset_at;
	for (i = 0; i < n; i++)
	{
		WfEntry    *e;

		if (fread(tmp.workflow, sizeof(tmp.workflow), 1, f) != 1 ||
			fread(&tmp.data, sizeof(tmp.data), 1, f) != 1)
			goto bad;
		tmp.workflow[WF_NAME_LEN - 1] = '\0';
		e = wf_entry_enter(tmp.workflow);
		wf_data_add(&e->data, &tmp.data);
	}
	FreeFile(f);
	unlink(WF_FILE);
	return;

bad:
	ereport(LOG,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("ignoring file \"%s\": it is not a durable statistics file of this version",
					WF_FILE)));
	FreeFile(f);
	unlink(WF_FILE);
}

/*
 * shut_down_cleanly
 *		Whether the control file says the last checkpoint was a shutdown
 *		checkpoint: false after an immediate shutdown, which ends the
 *		postmaster with code 0 too but leaves crash recovery to do.
 */
static bool
shut_down_cleanly(void)
{
	ControlFileData *cf;
	bool		crc_ok;
	bool		clean;

	cf = get_controlfile(DataDir, &crc_ok);
	clean = crc_ok && (cf->state == DB_SHUTDOWNED ||
					   cf->state == DB_SHUTDOWNED_IN_RECOVERY);
	pfree(cf);
	return clean;
}

/*
 * wf_save
 *		on_shmem_exit of the postmaster: writes the statistics when it exits
 *		cleanly (code 0, after a shutdown checkpoint), never after a crash or
 *		an immediate shutdown.
 */
static void
wf_save(int code, Datum arg)
{
	FILE	   *f;
	uint32		header[2] = {WF_FILE_MAGIC, WF_FILE_VERSION};
	int32		sizes[3] = {DC_COUNT, WC_COUNT, WF_BUCKETS};
	uint64		counters[DC_COUNT];
	TimestampTz since = 0;
	int32		n;
	int			i;
	HASH_SEQ_STATUS seq;
	WfEntry    *e;
	DurableShared *sh = durable_shmem();

	if (code != 0 || wf_shared == NULL || wf_hash == NULL || !shut_down_cleanly())
		return;

	f = AllocateFile(WF_TMPFILE, PG_BINARY_W);
	if (f == NULL)
		goto error;
	memset(counters, 0, sizeof(counters));
	if (sh != NULL)
	{
		for (i = 0; i < DC_COUNT; i++)
			counters[i] = pg_atomic_read_u64(&sh->counters[i]);
		since = sh->stats_since;
	}
	n = hash_get_num_entries(wf_hash);
	if (fwrite(header, sizeof(header), 1, f) != 1 ||
		fwrite(sizes, sizeof(sizes), 1, f) != 1 ||
		fwrite(counters, sizeof(counters), 1, f) != 1 ||
		fwrite(&since, sizeof(since), 1, f) != 1 ||
		fwrite(&wf_shared->reset_at, sizeof(TimestampTz), 1, f) != 1 ||
		fwrite(&n, sizeof(n), 1, f) != 1)
		goto error;
	hash_seq_init(&seq, wf_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (fwrite(e->workflow, sizeof(e->workflow), 1, f) != 1 ||
			fwrite(&e->data, sizeof(e->data), 1, f) != 1)
		{
			hash_seq_term(&seq);
			goto error;
		}
	}
	if (FreeFile(f) != 0)
	{
		f = NULL;
		goto error;
	}
	(void) durable_rename(WF_TMPFILE, WF_FILE, LOG);
	return;

error:
	ereport(LOG,
			(errcode_for_file_access(),
			 errmsg("could not write file \"%s\": %m", WF_TMPFILE)));
	if (f != NULL)
		FreeFile(f);
	unlink(WF_TMPFILE);
}

static void
wf_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	/* first durable's own shared memory: the file restores its counters */
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wf_shared = ShmemInitStruct("durable wfstats", sizeof(WfShared), &found);
	if (!found)
	{
		wf_shared->lock = &(GetNamedLWLockTranche("durable_wfstats"))->lock;
		wf_shared->reset_at = GetCurrentTimestamp();
	}
	memset(&info, 0, sizeof(info));
	info.keysize = WF_NAME_LEN;
	info.entrysize = sizeof(WfEntry);
	wf_hash = ShmemInitHash("durable wfstats hash",
							durable_max_tracked_workflows + 1,
							durable_max_tracked_workflows + 1,
							&info, HASH_ELEM | HASH_STRINGS);
	if (!found)
	{
		WfEntry    *others = hash_search(wf_hash, "", HASH_ENTER, NULL);

		SpinLockInit(&others->mutex);
		memset(&others->data, 0, sizeof(WfData));
	}
	LWLockRelease(AddinShmemInitLock);

	if (!IsUnderPostmaster)
	{
		if (!found)
			wf_load();
		on_shmem_exit(wf_save, (Datum) 0);
	}
}

/*
 * durable_wfstats_init
 *		Called from _PG_init when preloaded, after durable_shmem_init.
 */
void
durable_wfstats_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = wf_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = wf_shmem_startup;
}

/* ----------------------------------------------------------------
 * gathering, per transaction
 * ----------------------------------------------------------------
 */
static void
wf_cxt_ensure(void)
{
	if (wf_cxt == NULL)
		wf_cxt = AllocSetContextCreate(TopMemoryContext, "durable wfstats",
									   ALLOCSET_SMALL_SIZES);
	if (!wf_callback_registered)
	{
		RegisterXactCallback(wf_xact_callback, NULL);
		wf_callback_registered = true;
	}
}

static WfPending *
wf_pending_for(const char *workflow)
{
	ListCell   *lc;
	WfPending  *p;
	MemoryContext old;

	foreach(lc, wf_pending)
	{
		p = lfirst(lc);
		if (strncmp(p->workflow, workflow, WF_NAME_LEN - 1) == 0)
			return p;
	}
	old = MemoryContextSwitchTo(wf_cxt);
	p = palloc0(sizeof(WfPending));
	strlcpy(p->workflow, workflow, WF_NAME_LEN);
	wf_pending = lappend(wf_pending, p);
	MemoryContextSwitchTo(old);
	return p;
}

/*
 * durable_wfstats_count
 *		Counts n of what c counts for workflow, at commit.  Counters that
 *		are not kept per workflow are ignored.
 */
void
durable_wfstats_count(const char *workflow, DurableCounter c, int64 n)
{
	WfCounter	w;

	switch (c)
	{
		case DC_STARTED:
			w = WC_STARTED;
			break;
		case DC_SUCCEEDED:
			w = WC_SUCCEEDED;
			break;
		case DC_FAILED:
			w = WC_FAILED;
			break;
		case DC_TIMED_OUT:
			w = WC_TIMED_OUT;
			break;
		case DC_STOPPED:
			w = WC_STOPPED;
			break;
		case DC_RETRIES:
			w = WC_RETRIES;
			break;
		case DC_STEPS:
			w = WC_STEPS;
			break;
		default:
			return;
	}
	if (wf_hash == NULL || workflow == NULL)
		return;
	wf_cxt_ensure();
	wf_pending_for(workflow)->counts[w] += n;
}

/* microseconds since the epoch in a UUIDv7, or -1 when id is no UUIDv7 */
static int64
uuid7_time_us(const pg_uuid_t *id)
{
	uint64		ms = 0;
	int			i;

	if ((id->data[6] & 0xf0) != 0x70)
		return -1;
	for (i = 0; i < 6; i++)
		ms = (ms << 8) | id->data[i];
	return (int64) ms * 1000 +
		(((id->data[6] & 0x0f) << 8 | id->data[7]) * 1000) / 4096;
}

/*
 * durable_wfstats_finished
 *		Execution ex ends with status (terminal) in this transaction: counts
 *		it, and its duration, for its workflow.
 */
void
durable_wfstats_finished(const DurableExecution *ex, DurableExecStatus status)
{
	WfPending  *p;
	int64		start_us;
	struct timeval tv;

	if (wf_hash == NULL || ex->workflow == NULL)
		return;
	durable_wfstats_count(ex->workflow,
						  status == DES_SUCCEEDED ? DC_SUCCEEDED :
						  status == DES_FAILED ? DC_FAILED :
						  status == DES_TIMED_OUT ? DC_TIMED_OUT : DC_STOPPED, 1);
	start_us = uuid7_time_us(&ex->id);
	if (start_us < 0)
		return;
	p = wf_pending_for(ex->workflow);
	if (p->ndurations == p->maxdurations)
	{
		MemoryContext old = MemoryContextSwitchTo(wf_cxt);

		p->maxdurations = Max(4, p->maxdurations * 2);
		p->durations = p->durations == NULL ?
			palloc(sizeof(int64) * p->maxdurations) :
			repalloc(p->durations, sizeof(int64) * p->maxdurations);
		MemoryContextSwitchTo(old);
	}
	gettimeofday(&tv, NULL);
	p->durations[p->ndurations++] =
		Max((int64) tv.tv_sec * 1000000 + tv.tv_usec - start_us, 0);
}

static int
bucket_of(int64 us)
{
	int			b;

	if (us < WF_BASE_US)
		return 0;
	b = 1 + (int) floor(4.0 * log2((double) us / WF_BASE_US));
	return Min(b, WF_BUCKETS - 1);
}

static void
wf_record_duration(WfData *d, int64 us)
{
	d->min_us = d->finished > 0 ? Min(d->min_us, us) : us;
	d->max_us = Max(d->max_us, us);
	d->finished++;
	d->sum_us += us;
	d->hist[bucket_of(us)]++;
}

/* the text of an error object: "message (SQLSTATE xxxxx)" */
static char *
error_text(Jsonb *error)
{
	char	   *message = error ? durable_jsonb_get_text(error, "message") : NULL;
	char	   *sqlstate = error ? durable_jsonb_get_text(error, "sqlstate") : NULL;

	return psprintf("%s (SQLSTATE %s)", message ? message : "no error given",
					sqlstate ? sqlstate : "none");
}

static char *
execution_text(const DurableExecution *ex)
{
	return psprintf("execution %s%s%s%s of workflow %s", durable_uuid_out(&ex->id),
					ex->name ? " (\"" : "", ex->name ? ex->name : "",
					ex->name ? "\")" : "", ex->workflow ? ex->workflow : "?");
}

static void
wf_log_at_commit(char *line)
{
	MemoryContext old;

	wf_cxt_ensure();
	old = MemoryContextSwitchTo(wf_cxt);
	wf_logs = lappend(wf_logs, pstrdup(line));
	MemoryContextSwitchTo(old);
	pfree(line);
}

/*
 * durable_log_failure
 *		Execution ex ends FAILED or TIMED_OUT with error in this transaction:
 *		a LOG line at commit, unless durable.log_failures is off.
 */
void
durable_log_failure(const DurableExecution *ex, DurableExecStatus status, Jsonb *error)
{
	if (!durable_log_failures ||
		(status != DES_FAILED && status != DES_TIMED_OUT))
		return;
	wf_log_at_commit(psprintf("durable %s %s: %s", execution_text(ex),
							  status == DES_FAILED ? "failed" : "timed out",
							  error_text(error)));
}

/*
 * durable_log_exhausted
 *		Operation opname of ex (a step or HTTP request) failed after the
 *		last of its attempts: a LOG line at commit, unless
 *		durable.log_failures is off.
 */
void
durable_log_exhausted(const DurableExecution *ex, const char *opname, int attempts,
					  Jsonb *error)
{
	if (!durable_log_failures)
		return;
	wf_log_at_commit(psprintf("durable %s: operation \"%s\" gave up after %d attempt%s: %s",
							  execution_text(ex), opname, attempts,
							  attempts == 1 ? "" : "s", error_text(error)));
}

/*
 * wf_commit
 *		The transaction commits: adds its counts to shared memory and writes
 *		its log lines.
 */
static void
wf_commit(void)
{
	ListCell   *lc;

	if (wf_pending != NIL && wf_hash != NULL)
	{
		LWLockAcquire(wf_shared->lock, LW_SHARED);
		foreach(lc, wf_pending)
		{
			WfPending  *p = lfirst(lc);
			WfEntry    *e = hash_search(wf_hash, p->workflow, HASH_FIND, NULL);
			int			i;

			if (e == NULL)
			{
				LWLockRelease(wf_shared->lock);
				LWLockAcquire(wf_shared->lock, LW_EXCLUSIVE);
				e = wf_entry_enter(p->workflow);
				LWLockRelease(wf_shared->lock);
				LWLockAcquire(wf_shared->lock, LW_SHARED);
				/* a reset in between removed it: count it again next time */
				e = hash_search(wf_hash, p->workflow, HASH_FIND, NULL);
				if (e == NULL)
					e = hash_search(wf_hash, "", HASH_FIND, NULL);
			}
			SpinLockAcquire(&e->mutex);
			for (i = 0; i < WC_COUNT; i++)
				e->data.counts[i] += p->counts[i];
			for (i = 0; i < p->ndurations; i++)
				wf_record_duration(&e->data, p->durations[i]);
			SpinLockRelease(&e->mutex);
		}
		LWLockRelease(wf_shared->lock);
	}
	foreach(lc, wf_logs)
		ereport(LOG,
				(errmsg("%s", (char *) lfirst(lc)),
				 errhidestmt(true), errhidecontext(true)));
	wf_abort();
}

/*
 * wf_abort
 *		The transaction ends without commit: forgets what it gathered.
 */
static void
wf_abort(void)
{
	if (wf_pending == NIL && wf_logs == NIL)
		return;
	wf_pending = NIL;
	wf_logs = NIL;
	MemoryContextReset(wf_cxt);
}

/*
 * wf_xact_callback
 *		Adds or forgets what the transaction gathered when it ends: on
 *		commit after the commit is visible, on abort and PREPARE forgets.
 *		Its order against the other callbacks does not matter (see
 *		signal.c's observe_xact_callback).
 */
static void
wf_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			wf_commit();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			wf_abort();
			break;
		default:
			break;
	}
}

/* ----------------------------------------------------------------
 * the view and the reset
 * ----------------------------------------------------------------
 */

/* the q-quantile of the durations in d, in milliseconds */
static double
wf_percentile(const WfData *d, double q)
{
	double		target = q * d->finished;
	double		cum = 0;
	double		v = (double) d->max_us;
	int			b;

	for (b = 0; b < WF_BUCKETS; b++)
	{
		double		lo,
					hi,
					f;

		if (d->hist[b] == 0 || cum + d->hist[b] < target)
		{
			cum += d->hist[b];
			continue;
		}
		f = (target - cum) / d->hist[b];
		hi = WF_BASE_US * pow(2.0, b / 4.0);
		if (b == 0)
			v = f * hi;
		else
		{
			lo = WF_BASE_US * pow(2.0, (b - 1) / 4.0);
			v = b == WF_BUCKETS - 1 ? lo : lo * pow(hi / lo, f);
		}
		break;
	}
	v = Max(v, (double) d->min_us);
	v = Min(v, (double) d->max_us);
	return v / 1000.0;
}

/*
 * durable_wfstats_rows
 *		Puts one row per workflow of the hash into store, for
 *		durable.workflow_stats (api/observe.c); none when the library was
 *		not preloaded.
 */
void
durable_wfstats_rows(Tuplestorestate *store, TupleDesc desc)
{
	HASH_SEQ_STATUS seq;
	WfEntry    *e;
	TimestampTz reset_at;

	if (wf_hash == NULL)
		return;

	LWLockAcquire(wf_shared->lock, LW_SHARED);
	reset_at = wf_shared->reset_at;
	hash_seq_init(&seq, wf_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[WC_COUNT + 8];
		bool		nulls[WC_COUNT + 8];
		WfData		d;
		int			i;
		int			col = 0;

		SpinLockAcquire(&e->mutex);
		d = e->data;
		SpinLockRelease(&e->mutex);
		/* the others' row only once it counts something */
		if (e->workflow[0] == '\0' && d.counts[WC_STARTED] == 0 && d.finished == 0 &&
			d.counts[WC_STEPS] == 0)
			continue;

		memset(nulls, false, sizeof(nulls));
		if (e->workflow[0] == '\0')
			nulls[col++] = true;
		else
			values[col++] = CStringGetTextDatum(e->workflow);
		for (i = 0; i < WC_COUNT; i++)
			values[col++] = Int64GetDatum(d.counts[i]);
		values[col++] = Int64GetDatum(d.finished);
		if (d.finished > 0)
		{
			values[col++] = Float8GetDatum(d.sum_us / d.finished / 1000.0);
			values[col++] = Float8GetDatum(wf_percentile(&d, 0.50));
			values[col++] = Float8GetDatum(wf_percentile(&d, 0.95));
			values[col++] = Float8GetDatum(wf_percentile(&d, 0.99));
			values[col++] = Float8GetDatum(d.max_us / 1000.0);
		}
		else
		{
			for (i = 0; i < 5; i++)
				nulls[col++] = true;
		}
		values[col++] = TimestampTzGetDatum(reset_at);
		Assert(col == WC_COUNT + 8);
		tuplestore_putvalues(store, desc, values, nulls);
	}
	LWLockRelease(wf_shared->lock);
}

/*
 * durable_wfstats_reset
 *		Empties the statistics per workflow and sets the counters of
 *		durable.stats to zero, as of now; false, and nothing done, when they
 *		are not kept (the library not preloaded).  The caller checks the
 *		caller's rights (durable_stats_reset in api/observe.c).
 */
bool
durable_wfstats_reset(TimestampTz now)
{
	DurableShared *sh = durable_shmem();
	HASH_SEQ_STATUS seq;
	WfEntry    *e;
	int			i;

	if (wf_hash == NULL || sh == NULL)
		return false;

	LWLockAcquire(wf_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&seq, wf_hash);
	while ((e = hash_seq_search(&seq)) != NULL)
	{
		if (e->workflow[0] == '\0')
		{
			SpinLockAcquire(&e->mutex);
			memset(&e->data, 0, sizeof(WfData));
			SpinLockRelease(&e->mutex);
		}
		else
			(void) hash_search(wf_hash, e->workflow, HASH_REMOVE, NULL);
	}
	wf_shared->reset_at = now;
	for (i = 0; i < DC_COUNT; i++)
		pg_atomic_write_u64(&sh->counters[i], 0);
	sh->stats_since = now;
	LWLockRelease(wf_shared->lock);
	return true;
}
