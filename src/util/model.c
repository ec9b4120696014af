/*-------------------------------------------------------------------------
 *
 * model.c
 *	  The model every layer shares: the names under which operation kinds
 *	  and statuses are stored, and the execution being replayed in this
 *	  backend.
 *
 * IDENTIFICATION
 *	  src/util/model.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "util/util.h"

/* the execution being replayed in this backend, or NULL */
DurableDrive *durable_current = NULL;


const char *
durable_op_kind_name(DurableOpKind kind)
{
	switch (kind)
	{
		case DOK_STEP:
			return "step";
		case DOK_WAIT:
			return "wait";
		case DOK_NOW:
			return "now";
		case DOK_RANDOM:
			return "random";
		case DOK_UUID:
			return "uuid";
		case DOK_LOG:
			return "log";
		case DOK_CHILD:
			return "child";
		case DOK_CALLBACK:
			return "callback";
		case DOK_CREATE_CALLBACK:
			return "create_callback";
		case DOK_AWAIT_CALLBACK:
			return "await_callback";
		case DOK_EVENT:
			return "event";
		case DOK_CONDITION:
			return "condition";
		case DOK_INVOKE:
			return "invoke";
		case DOK_PARALLEL:
			return "parallel";
		case DOK_MAP:
			return "map";
		case DOK_HTTP:
			return "http";
		case DOK_PATCH:
			return "patch";
	}
	return "unknown";
}

const char *
durable_op_status_name(DurableOpStatus status)
{
	switch (status)
	{
		case DOS_STARTED:
			return "STARTED";
		case DOS_PENDING:
			return "PENDING";
		case DOS_SUCCEEDED:
			return "SUCCEEDED";
		case DOS_FAILED:
			return "FAILED";
		case DOS_CANCELLED:
			return "CANCELLED";
		case DOS_TIMED_OUT:
			return "TIMED_OUT";
	}
	return "UNKNOWN";
}
