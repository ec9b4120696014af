/*-------------------------------------------------------------------------
 *
 * signal.c
 *	  What the outside sees of executions, gathered per transaction: the
 *	  counters behind the durable.stats view, NOTIFY on each owner's
 *	  channel (durable_status_<owner oid>), and the wake-up of the sessions
 *	  in durable_await.  The SQL functions that read them are in
 *	  api/observe.c.
 *
 * Counters are gathered per transaction and added to shared memory when it
 * commits, so a rolled-back start or step is never counted.  A commit that
 * finished executions also wakes the sessions waiting in durable_await.
 * This file has its own transaction callback, registered the first time a
 * transaction counts something (see observe_xact_callback).
 *
 * IDENTIFICATION
 *	  src/store/signal.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "store/store.h"

/* counts of the current transaction, added to shared memory at commit */
static int64 pending[DC_COUNT];
static bool any_pending = false;
static bool finished_pending = false;
static bool observe_callback_registered = false;

static void observe_register(void);
static void observe_abort(void);

void
durable_count(DurableCounter c, int64 n)
{
	if (durable_shmem() == NULL)
		return;
	observe_register();
	if (c == DC_CLAIM_WAIT_MAX_US)
		pending[c] = Max(pending[c], n);
	else
		pending[c] += n;
	any_pending = true;
}

/*
 * durable_count_claim
 *		A worker claimed an execution that was due at due_at.
 */
void
durable_count_claim(TimestampTz due_at, TimestampTz now)
{
	int64		wait = Max(now - due_at, 0);

	durable_count(DC_CLAIMS, 1);
	durable_count(DC_CLAIM_WAIT_US, wait);
	durable_count(DC_CLAIM_WAIT_MAX_US, wait);
}

/*
 * observe_commit
 *		The transaction commits: adds its counts to shared memory and wakes
 *		durable_await if it finished executions.
 */
static void
observe_commit(void)
{
	DurableShared *sh = durable_shmem();
	int			i;

	if (sh == NULL || !any_pending)
		return;
	for (i = 0; i < DC_COUNT; i++)
	{
		if (pending[i] == 0)
			continue;
		if (i == DC_CLAIM_WAIT_MAX_US)
		{
			uint64		old = pg_atomic_read_u64(&sh->counters[i]);

			while (old < (uint64) pending[i] &&
				   !pg_atomic_compare_exchange_u64(&sh->counters[i], &old,
												   (uint64) pending[i]))
				;
		}
		else
			pg_atomic_fetch_add_u64(&sh->counters[i], pending[i]);
	}
	if (finished_pending)
		ConditionVariableBroadcast(&sh->finished_cv);
	observe_abort();
}

/*
 * observe_abort
 *		The transaction ends without commit: forgets what it gathered.
 */
static void
observe_abort(void)
{
	if (!any_pending)
		return;
	memset(pending, 0, sizeof(pending));
	any_pending = false;
	finished_pending = false;
}

/*
 * observe_xact_callback
 *		Adds or forgets the transaction's counts when it ends, as shmem.c's
 *		callback did before this file had its own (on commit after the
 *		commit is visible; on abort and on PREPARE forgets them).
 *
 * PostgreSQL calls transaction callbacks most recently registered first,
 * so this one may run before or after shmem.c's (the worker wake-ups)
 * and wfstats.c's (the counts per workflow), depending on which a
 * transaction registered first.  The order does not matter: each adds
 * what its own file gathered to shared memory, none reads what another
 * adds, and all run after the commit is visible, before control returns
 * to the client, so whoever reads the counters or is woken sees the
 * commit whatever the order.
 */
static void
observe_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			observe_commit();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			observe_abort();
			break;
		default:
			break;
	}
}

/* registers observe_xact_callback once per backend */
static void
observe_register(void)
{
	if (!observe_callback_registered)
	{
		RegisterXactCallback(observe_xact_callback, NULL);
		observe_callback_registered = true;
	}
}

/*
 * durable_status_changed
 *		Called in the transaction that gives execution ex a new status:
 *		counts terminal states, wakes durable_await at commit, and sends
 *		NOTIFY on the channel of the execution's owner (durable_status_<owner
 *		oid>) as durable.notify says.  Any role may LISTEN on any channel
 *		and NOTIFY any channel, so the payload holds only what is a hint to
 *		whoever listens: the execution id and the status, not its name nor
 *		its workflow.  Clients read the status with durable_status before
 *		acting on it.
 */
void
durable_status_changed(const DurableExecution *ex, DurableExecStatus status)
{
	bool		terminal = durable_exec_status_finished(status);
	StringInfoData buf;
	char		channel[NAMEDATALEN];

	if (terminal)
	{
		durable_count(status == DES_SUCCEEDED ? DC_SUCCEEDED :
					  status == DES_FAILED ? DC_FAILED :
					  status == DES_TIMED_OUT ? DC_TIMED_OUT : DC_STOPPED, 1);
		finished_pending = durable_shmem() != NULL;
		durable_wfstats_finished(ex, status);
		durable_quota_add(ex->owner, -1);
	}

	if (durable_notify == DURABLE_NOTIFY_NONE ||
		(durable_notify == DURABLE_NOTIFY_TERMINAL && !terminal))
		return;

	Assert(OidIsValid(ex->owner));
	snprintf(channel, sizeof(channel), "durable_status_%u", ex->owner);
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"id\": ");
	escape_json(&buf, durable_uuid_out(&ex->id));
	appendStringInfoString(&buf, ", \"status\": ");
	escape_json(&buf, durable_exec_status_name(status));
	appendStringInfoChar(&buf, '}');
	Async_Notify(channel, buf.data);
	pfree(buf.data);
}
