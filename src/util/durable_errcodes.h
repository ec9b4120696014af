/*-------------------------------------------------------------------------
 *
 * durable_errcodes.h
 *	  The SQLSTATEs of class WF that durable raises.  This list is public
 *	  API: docs/reference.md documents every code, and workflows catch them with
 *	  EXCEPTION WHEN SQLSTATE 'WF001' and so on.
 *
 * IDENTIFICATION
 *	  src/util/durable_errcodes.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_ERRCODES_H
#define DURABLE_ERRCODES_H

#include "utils/elog.h"

/* internal: the signal that ends a replay; never reaches a user */
#define ERRCODE_DURABLE_YIELD				MAKE_SQLSTATE('W','F','0','0','0')
/* a step failed and exhausted its retries */
#define ERRCODE_DURABLE_STEP_FAILED			MAKE_SQLSTATE('W','F','0','0','1')
/* a callback was completed with durable_callback_failure */
#define ERRCODE_DURABLE_CALLBACK_FAILED		MAKE_SQLSTATE('W','F','0','0','2')
/* a callback was not completed within its timeout */
#define ERRCODE_DURABLE_CALLBACK_TIMEOUT	MAKE_SQLSTATE('W','F','0','0','3')
/* a callback missed its heartbeat timeout */
#define ERRCODE_DURABLE_HEARTBEAT_TIMEOUT	MAKE_SQLSTATE('W','F','0','0','4')
/* an event did not arrive within its timeout */
#define ERRCODE_DURABLE_EVENT_TIMEOUT		MAKE_SQLSTATE('W','F','0','0','5')
/* a child workflow (durable_child, durable_invoke) failed */
#define ERRCODE_DURABLE_CHILD_FAILED		MAKE_SQLSTATE('W','F','0','0','6')
/* the workflow did not replay the operations of its history */
#define ERRCODE_DURABLE_NONDETERMINISM		MAKE_SQLSTATE('W','F','0','0','7')
/* the workflow body tried to change the database */
#define ERRCODE_DURABLE_WRITE_IN_WORKFLOW	MAKE_SQLSTATE('W','F','0','0','8')
/* a limit (payload size, operations, replay time...) was exceeded */
#define ERRCODE_DURABLE_LIMIT_EXCEEDED		MAKE_SQLSTATE('W','F','0','0','9')
/* raised by a step to fail at once, without retries */
#define ERRCODE_DURABLE_UNRECOVERABLE		MAKE_SQLSTATE('W','F','0','1','0')
/* one attempt of a step ran past its timeout */
#define ERRCODE_DURABLE_STEP_TIMEOUT		MAKE_SQLSTATE('W','F','0','1','1')
/* a durable operation was called outside a workflow, or inside a step */
#define ERRCODE_DURABLE_NOT_IN_WORKFLOW		MAKE_SQLSTATE('W','F','0','1','2')
/* the execution crashed the server durable.max_crashes times in a row */
#define ERRCODE_DURABLE_CRASH_LOOP			MAKE_SQLSTATE('W','F','0','1','3')
/* durable_wait_for_condition made max_attempts checks, none done */
#define ERRCODE_DURABLE_CONDITION_NOT_MET	MAKE_SQLSTATE('W','F','0','1','4')

/* an HTTP request failed: a status per fail_on_status, or retries exhausted */
#define ERRCODE_DURABLE_HTTP_FAILED			MAKE_SQLSTATE('W','F','0','1','5')
/* an HTTP request was refused: an address or a secret it may not use */
#define ERRCODE_DURABLE_HTTP_REFUSED		MAKE_SQLSTATE('W','F','0','1','6')
/* an at_most_once HTTP attempt was interrupted: whether it was received is unknown */
#define ERRCODE_DURABLE_HTTP_UNKNOWN		MAKE_SQLSTATE('W','F','0','1','7')
/* drives of the execution raised durable.max_drive_errors errors in a row */
#define ERRCODE_DURABLE_DRIVE_ERRORS		MAKE_SQLSTATE('W','F','0','1','8')
/* a task failed: attempts exhausted, or a failure its worker said is not retryable */
#define ERRCODE_DURABLE_TASK_FAILED			MAKE_SQLSTATE('W','F','0','2','0')
/* a task was not completed within its timeout */
#define ERRCODE_DURABLE_TASK_TIMEOUT		MAKE_SQLSTATE('W','F','0','2','1')
/* a limiter of operations that does not exist or that the owner may not use */
#define ERRCODE_DURABLE_LIMITER				MAKE_SQLSTATE('W','F','0','2','3')

#endif							/* DURABLE_ERRCODES_H */
