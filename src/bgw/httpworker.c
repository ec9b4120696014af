/*-------------------------------------------------------------------------
 *
 * httpworker.c
 *	  The HTTP worker: a background worker, started by the launcher with
 *	  the workers, that sends the requests of durable_http for executions
 *	  the workers drive.
 *
 * A worker driving an execution that reaches durable_http writes a row to
 * durable.http_requests and suspends the execution; its commit wakes this
 * worker.  This worker takes new rows (marking them taken, one statement
 * for a batch), builds their curl handles, commits, and only then adds
 * them to one curl multi handle, so no transaction is open while requests
 * are in flight.  It waits on its latch and on curl's sockets together: a
 * private epoll set holds curl's sockets and is itself one event of a
 * WaitEventSet with the latch.  Each answer, in a transaction that may hold
 * many, deletes the request's row and appends a message of kind "http" to
 * the execution's inbox, which wakes a worker to take it up.
 *
 * The row is the request's lease: a driver that replays the operation
 * while the row exists waits for the answer instead of sending again.  A
 * row this worker took and never answered (it died) is taken again when
 * it starts, and sent again; with semantics at_most_once it is answered
 * as unknown instead.  Requests of an execution that is stopped or times
 * out lose their rows; the commit that deletes them bumps a counter in
 * shared memory and wakes this worker, which then ends the transfers whose
 * rows are gone (curl closes their connections) and frees their slots.
 *
 * Fairness: at most durable.http_max_in_flight_per_role requests of one
 * role are in flight at once, and the take lets the roles take turns.
 * Nothing a request row or a remote server holds may stop the others: a
 * request whose preparation raises an error, or whose answer cannot be
 * handled or stored, is answered with an error of kind "invalid" (the
 * operation fails with WF015) instead of rolling back the whole round.
 *
 * IDENTIFICATION
 *	  src/bgw/httpworker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <curl/curl.h>

#include "access/xact.h"
#include "access/xlog.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "bgw/bgw.h"

PGDLLEXPORT void durable_http_worker_main(Datum main_arg) pg_attribute_noreturn();

/* pause after an error writing answers or taking requests */
#define HTTP_ERROR_PAUSE_MS 1000
#define MAX_EPOLL_EVENTS 64

/* a request in flight */
typedef struct InFlight
{
	DurableHttpRequest *req;
	Oid			owner;
	int64		request_id;
	int32		run_no;
	int32		op_id;
	int32		attempt;
	bool		at_most_once;
	Jsonb	   *options;
} InFlight;

/* an answer not yet written */
typedef struct Answer
{
	int64		request_id;
	int32		run_no;
	int32		op_id;
	int32		attempt;
	Jsonb	   *options;
	Jsonb	   *outcome;
	bool		at_most_once;
} Answer;

static CURLM *multi = NULL;
static int	epfd = -1;
static int	in_flight = 0;
static TimestampTz timer_at = 0;	/* 0: curl wants no timeout */
static bool want_take = true;
static bool recovered = false;
static List *answers = NIL;		/* of Answer *, in answer_cxt */
static MemoryContext answer_cxt = NULL;
static MemoryContext collect_cxt = NULL;	/* reset after each answer */
static TimestampTz retry_at = 0;	/* after an error: not before */
static List *flights = NIL;		/* of InFlight *, in TopMemoryContext */
static uint32 cancels_seen = 0;	/* DurableShared.http_cancels looked at */

static void
http_detach(int code, Datum arg)
{
	DurableShared *sh = durable_shmem();

	SpinLockAcquire(&sh->mutex);
	sh->http_procno = -1;
	sh->http_pid = 0;
	SpinLockRelease(&sh->mutex);
	pg_atomic_write_u32(&sh->http_in_flight, 0);
}

/* curl tells which sockets to watch for what */
static int
socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct epoll_event ev;

	if (what == CURL_POLL_REMOVE)
	{
		(void) epoll_ctl(epfd, EPOLL_CTL_DEL, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = s;
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
		((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, s, &ev) != 0 && errno == ENOENT)
		(void) epoll_ctl(epfd, EPOLL_CTL_ADD, s, &ev);
	return 0;
}

/* curl tells when it wants to be called for its timeouts */
static int
timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	timer_at = timeout_ms < 0 ? 0 : GetCurrentTimestamp() + (int64) timeout_ms * 1000;
	return 0;
}

static void
add_answer(int64 request_id, int32 run_no, int32 op_id, int32 attempt, bool at_most_once,
		   Jsonb *options, Jsonb *outcome)
{
	MemoryContext old = MemoryContextSwitchTo(answer_cxt);
	Answer	   *a = palloc(sizeof(Answer));

	a->request_id = request_id;
	a->run_no = run_no;
	a->op_id = op_id;
	a->attempt = attempt;
	a->at_most_once = at_most_once;
	a->options = (Jsonb *) datumCopy(JsonbPGetDatum(options), false, -1);
	a->outcome = (Jsonb *) datumCopy(JsonbPGetDatum(outcome), false, -1);
	answers = lappend(answers, a);
	MemoryContextSwitchTo(old);
}

/* this transaction's commit need not wait for the WAL flush */
static void
async_commit(void)
{
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

static void
free_in_flight(InFlight *f)
{
	durable_http_free(f->req);
	pfree(f->options);
	pfree(f);
}

/* a request row and what preparing it made, for prepare_row */
typedef struct Preparing
{
	DurableHttpRow *row;
	Jsonb	   *refused;
	DurableHttpRequest *req;
} Preparing;

static void
prepare_row(void *arg)
{
	Preparing  *p = arg;

	p->req = durable_http_prepare(p->row->request, p->row->options, p->row->idempotency_key,
								  p->row->owner, &p->refused);
}

/*
 * take
 *		Takes new requests, as many as may be in flight (and each role's
 *		share), and starts them once the transaction that marked them taken
 *		has committed.
 */
static void
take(void)
{
	List	   *started = NIL;
	ListCell   *lc;
	int			limit = durable_http_max_in_flight - in_flight;
	MemoryContext old;
	XLogRecPtr	upto;
	bool		flush = false;
	Oid		   *roles;
	int32	   *counts;
	int			nroles = 0;
	int			i;

	if (limit <= 0)
		return;
	if (!durable_worker_begin())
	{
		/* no extension here: nothing to send until a commit wakes us */
		durable_worker_end();
		want_take = false;
		return;
	}
	pgstat_report_activity(STATE_RUNNING, "durable: taking http requests");
	/* what the requests' executions committed before they were taken */
	upto = durable_wal_inserted();
	if (!recovered)
	{
		foreach(lc, durable_storage_http_recover())
		{
			DurableHttpRow *r = lfirst(lc);

			add_answer(r->request_id, r->run_no, r->op_id, r->attempt, true, r->options,
					   durable_http_error_outcome("unknown", "the HTTP worker stopped while the request was in flight"));
		}
	}
	/* how many each role has in flight */
	roles = palloc(sizeof(Oid) * (list_length(flights) + 1));
	counts = palloc(sizeof(int32) * (list_length(flights) + 1));
	foreach(lc, flights)
	{
		InFlight   *f = lfirst(lc);

		for (i = 0; i < nroles && roles[i] != f->owner; i++)
			;
		if (i == nroles)
		{
			roles[nroles] = f->owner;
			counts[nroles++] = 0;
		}
		counts[i]++;
	}
	PG_TRY();
	{
		foreach(lc, durable_storage_http_take(GetCurrentTimestamp(), limit, nroles, roles,
											  counts, durable_http_max_in_flight_per_role))
		{
			DurableHttpRow *r = lfirst(lc);
			Preparing	p;
			char	   *why = NULL;
			InFlight   *f;

			p.row = r;
			p.refused = NULL;
			p.req = NULL;
			if (!durable_guarded(prepare_row, &p, &why))
			{
				/* it ends here: answered, its row goes */
				add_answer(r->request_id, r->run_no, r->op_id, r->attempt, r->at_most_once,
						   r->options,
						   durable_http_error_outcome("invalid",
													  psprintf("the request could not be prepared: %s", why)));
				continue;
			}
			if (p.req == NULL)
			{
				add_answer(r->request_id, r->run_no, r->op_id, r->attempt, r->at_most_once,
						   r->options, p.refused);
				continue;
			}
			f = MemoryContextAlloc(TopMemoryContext, sizeof(InFlight));
			f->req = p.req;
			f->owner = r->owner;
			f->request_id = r->request_id;
			f->run_no = r->run_no;
			f->op_id = r->op_id;
			f->attempt = r->attempt;
			f->at_most_once = r->at_most_once;
			if (r->at_most_once)
				flush = true;
			f->options = (Jsonb *) MemoryContextAlloc(TopMemoryContext, VARSIZE(r->options));
			memcpy(f->options, r->options, VARSIZE(r->options));
			/* the list outlives the transaction */
			old = MemoryContextSwitchTo(TopMemoryContext);
			started = lappend(started, f);
			MemoryContextSwitchTo(old);
			limit--;
		}
		/*
		 * The checkpoints of these requests' executions are on disk before
		 * they go (a no-op when their commits waited for the flush, as
		 * suspensions do).  Marking them taken need not wait for it, but
		 * for an at_most_once request it is the started marker.
		 */
		XLogFlush(upto);
		if (!flush)
			async_commit();
	}
	PG_CATCH();
	{
		/* the take rolls back: its requests are new again */
		foreach(lc, started)
			free_in_flight(lfirst(lc));
		list_free(started);
		PG_RE_THROW();
	}
	PG_END_TRY();
	/*
	 * Another take may find more: fewer rows than the limit came when the
	 * table had no more new ones, or when roles were at their share (a
	 * transfer's end wakes the take then).
	 */
	want_take = limit == 0;
	durable_worker_end();
	recovered = true;

	foreach(lc, started)
	{
		InFlight   *f = lfirst(lc);
		CURL	   *easy = durable_http_handle(f->req);

		if (curl_easy_setopt(easy, CURLOPT_PRIVATE, f) != CURLE_OK ||
			curl_multi_add_handle(multi, easy) != CURLM_OK)
		{
			add_answer(f->request_id, f->run_no, f->op_id, f->attempt, f->at_most_once,
					   f->options,
					   durable_http_error_outcome("connection", "the request could not be started"));
			free_in_flight(f);
			continue;
		}
		old = MemoryContextSwitchTo(TopMemoryContext);
		flights = lappend(flights, f);
		MemoryContextSwitchTo(old);
		in_flight++;
	}
	list_free(started);
	pgstat_report_activity(STATE_IDLE, NULL);
}

/*
 * drop_cancelled
 *		Ends the transfers of requests whose rows are gone (their
 *		executions were stopped, timed out or ended): curl closes their
 *		connections, and their slots are free for others.
 */
static void
drop_cancelled(void)
{
	uint32		cancels = pg_atomic_read_u32(&durable_shmem()->http_cancels);
	int64	   *ids;
	int			n = 0;
	List	   *found;
	ListCell   *lc;
	List	   *gone = NIL;

	if (cancels == cancels_seen)
		return;
	if (flights == NIL)
	{
		cancels_seen = cancels;
		return;
	}
	if (!durable_worker_begin())
	{
		/* no extension here: no row to look up */
		durable_worker_end();
		cancels_seen = cancels;
		return;
	}
	pgstat_report_activity(STATE_RUNNING, "durable: ending cancelled http requests");
	ids = palloc(sizeof(int64) * list_length(flights));
	foreach(lc, flights)
		ids[n++] = ((InFlight *) lfirst(lc))->request_id;
	found = durable_storage_http_existing(n, ids);
	foreach(lc, flights)
	{
		InFlight   *f = lfirst(lc);
		ListCell   *fc;
		bool		exists = false;

		foreach(fc, found)
		{
			if (*(int64 *) lfirst(fc) == f->request_id)
			{
				exists = true;
				break;
			}
		}
		if (!exists)
			gone = lappend(gone, f);
	}
	/* before the commit frees the list of them */
	foreach(lc, gone)
	{
		InFlight   *f = lfirst(lc);

		(void) curl_multi_remove_handle(multi, durable_http_handle(f->req));
		flights = list_delete_ptr(flights, f);
		free_in_flight(f);
		in_flight--;
		want_take = true;
	}
	durable_worker_end();
	pgstat_report_activity(STATE_IDLE, NULL);
	/* seen only once looked at: an error here looks again */
	cancels_seen = cancels;
}

/* an answer as the message of kind "http", for answer_message */
typedef struct Message
{
	Answer	   *answer;
	Jsonb	   *message;
} Message;

static void
answer_message(void *arg)
{
	Message    *m = arg;
	Answer	   *a = m->answer;
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"op_id\": %d, \"run_no\": %d, \"attempt\": %d, "
					 "\"options\": %s, \"outcome\": %s}",
					 a->op_id, a->run_no, a->attempt,
					 JsonbToCString(NULL, &a->options->root, VARSIZE(a->options)),
					 JsonbToCString(NULL, &a->outcome->root, VARSIZE(a->outcome)));
	m->message = durable_cstring_to_jsonb(buf.data);
}

/*
 * write_answers
 *		Hands every answer to its execution's inbox, in one transaction.
 *		An answer that cannot become a message is replaced by an error of
 *		kind "invalid", so that it never holds up the others.
 */
static void
write_answers(void)
{
	ListCell   *lc;
	TimestampTz now = GetCurrentTimestamp();

	if (durable_worker_begin())
	{
		bool		flush = false;

		pgstat_report_activity(STATE_RUNNING, "durable: writing http answers");
		foreach(lc, answers)
		{
			Answer	   *a = lfirst(lc);
			pg_uuid_t	execution;
			Oid			owner;
			Message		m;
			char	   *why = NULL;

			/*
			 * A lost answer of an at_least_once request is sent again (its
			 * row comes back); an at_most_once one would fail as unknown.
			 */
			if (a->at_most_once)
				flush = true;

			m.answer = a;
			m.message = NULL;
			if (!durable_guarded(answer_message, &m, &why))
			{
				a->outcome = durable_http_error_outcome("invalid",
														psprintf("the answer could not be handled: %s", why));
				answer_message(&m);
			}
			if (!durable_storage_http_done(a->request_id, &execution, &owner))
				continue;		/* stopped or finished meanwhile */
			durable_storage_inbox_add(&execution, "http", m.message, owner, now);
			durable_wake_at_commit();
		}
		if (!flush)
			async_commit();
	}
	durable_worker_end();
	pgstat_report_activity(STATE_IDLE, NULL);
	list_free(answers);
	answers = NIL;
	MemoryContextReset(answer_cxt);
}

/* Collects the transfers curl has finished. */
static void
collect(void)
{
	CURLMsg    *msg;
	int			left;
	MemoryContext old;

	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
	{
		InFlight   *f = NULL;
		CURL	   *easy = msg->easy_handle;
		Jsonb	   *outcome;

		if (msg->msg != CURLMSG_DONE)
			continue;
		(void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **) &f);
		(void) curl_multi_remove_handle(multi, easy);
		in_flight--;
		want_take = true;
		if (f == NULL)
			continue;
		flights = list_delete_ptr(flights, f);
		old = MemoryContextSwitchTo(collect_cxt);
		outcome = NULL;
		/* no transaction is open: an error here would end the worker */
		PG_TRY();
		{
			outcome = durable_http_outcome(f->req, msg->data.result);
		}
		PG_CATCH();
		{
			ErrorData  *e;

			MemoryContextSwitchTo(collect_cxt);
			e = CopyErrorData();
			FlushErrorState();
			outcome = durable_http_error_outcome("invalid",
												 psprintf("the response could not be handled: %s",
														  e->message ? e->message : "unknown error"));
		}
		PG_END_TRY();
		add_answer(f->request_id, f->run_no, f->op_id, f->attempt, f->at_most_once,
				   f->options, outcome);
		MemoryContextSwitchTo(old);
		MemoryContextReset(collect_cxt);
		free_in_flight(f);
	}
}

/* One round of database work; errors pause it instead of ending the worker. */
static void
database_round(void)
{
	MemoryContext cxt = CurrentMemoryContext;

	if (retry_at != 0 && GetCurrentTimestamp() < retry_at)
		return;
	retry_at = 0;
	PG_TRY();
	{
		if (answers != NIL)
			write_answers();
		drop_cancelled();
		if (want_take && in_flight < durable_http_max_in_flight)
			take();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		FlushErrorState();
		AbortCurrentTransaction();
		RESUME_INTERRUPTS();
		pgstat_report_activity(STATE_IDLE, NULL);
		retry_at = GetCurrentTimestamp() + HTTP_ERROR_PAUSE_MS * 1000;
	}
	PG_END_TRY();
}

/*
 * durable_http_worker_main
 *		Entry point of the HTTP worker.
 */
void
durable_http_worker_main(Datum main_arg)
{
	DurableShared *sh = durable_shmem();
	WaitEventSet *wes;
	int			running = 0;

	if (sh == NULL)
		proc_exit(0);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(durable_database, NULL, 0);
	pgstat_report_appname("durable http");

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize libcurl")));
	multi = curl_multi_init();
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (multi == NULL || epfd < 0)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not set up the HTTP worker: %m")));
	(void) curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
	(void) curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	answer_cxt = AllocSetContextCreate(TopMemoryContext, "durable http answers",
									   ALLOCSET_DEFAULT_SIZES);
	collect_cxt = AllocSetContextCreate(TopMemoryContext, "durable http outcomes",
										ALLOCSET_DEFAULT_SIZES);

	wes = CreateWaitEventSet(TopMemoryContext, 3);
	AddWaitEventToSet(wes, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wes, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	AddWaitEventToSet(wes, WL_SOCKET_READABLE, epfd, NULL, NULL);

	SpinLockAcquire(&sh->mutex);
	sh->http_procno = MyProc->pgprocno;
	sh->http_pid = MyProcPid;
	sh->http_since = GetCurrentTimestamp();
	SpinLockRelease(&sh->mutex);
	before_shmem_exit(http_detach, 0);

	for (;;)
	{
		WaitEvent	events[3];
		long		timeout = -1;
		int			n,
					i;
		TimestampTz now;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		database_round();

		now = GetCurrentTimestamp();
		if (timer_at != 0)
			timeout = timer_at <= now ? 0 : (long) ((timer_at - now + 999) / 1000);
		if (retry_at != 0)
		{
			long		pause = retry_at <= now ? 0 : (long) ((retry_at - now + 999) / 1000);

			timeout = timeout < 0 ? pause : Min(timeout, pause);
		}
		else if (answers != NIL || (want_take && in_flight < durable_http_max_in_flight))
			timeout = 0;

		/* durable.activity */
		pg_atomic_write_u32(&sh->http_in_flight, (uint32) in_flight);
		n = WaitEventSetWait(wes, timeout, events, lengthof(events), PG_WAIT_EXTENSION);
		for (i = 0; i < n; i++)
		{
			if (events[i].events & WL_LATCH_SET)
			{
				ResetLatch(MyLatch);
				want_take = true;
			}
			if (events[i].events & WL_SOCKET_READABLE)
			{
				struct epoll_event ev[MAX_EPOLL_EVENTS];
				int			k,
							m;

				m = epoll_wait(epfd, ev, MAX_EPOLL_EVENTS, 0);
				for (k = 0; k < m; k++)
				{
					int			mask = 0;

					if (ev[k].events & (EPOLLIN | EPOLLHUP))
						mask |= CURL_CSELECT_IN;
					if (ev[k].events & EPOLLOUT)
						mask |= CURL_CSELECT_OUT;
					if (ev[k].events & EPOLLERR)
						mask |= CURL_CSELECT_ERR;
					(void) curl_multi_socket_action(multi, ev[k].data.fd, mask, &running);
				}
			}
		}
		if (timer_at != 0 && GetCurrentTimestamp() >= timer_at)
		{
			timer_at = 0;
			(void) curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
		}
		collect();
	}
}
