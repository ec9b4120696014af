/*-------------------------------------------------------------------------
 *
 * model.c
 *	  The model every layer shares: the kind table (the rows ops/kinds.c
 *	  registers), the inbox's message kinds, the names under which kinds
 *	  and statuses are stored, and the execution being replayed in this
 *	  backend.
 *
 * IDENTIFICATION
 *	  src/util/model.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "util/util.h"

/* the execution being replayed in this backend, or NULL */
DurableDrive *durable_current = NULL;


/* the kind table and the message kinds, filled at _PG_init */
#define MAX_OP_KINDS 64
#define MAX_MESSAGE_KINDS 16

static const DurableOpKindInfo *op_kinds[MAX_OP_KINDS];
static int	n_op_kinds = 0;
static const DurableMessageKind *message_kinds[MAX_MESSAGE_KINDS];
static int	n_message_kinds = 0;

static const char *const exec_status_names[DURABLE_EXEC_STATUSES] = {
	[DES_PENDING] = "PENDING",
	[DES_RUNNING] = "RUNNING",
	[DES_SUSPENDED] = "SUSPENDED",
	[DES_SUCCEEDED] = "SUCCEEDED",
	[DES_FAILED] = "FAILED",
	[DES_TIMED_OUT] = "TIMED_OUT",
	[DES_STOPPED] = "STOPPED",
};

/*
 * durable_kind_register
 *		Adds a row to the kind table (ops/kinds.c, at _PG_init).
 */
void
durable_kind_register(const DurableOpKindInfo *kind)
{
	int			i;

	for (i = 0; i < n_op_kinds; i++)
		if (op_kinds[i] == kind)
			return;
	if (n_op_kinds >= MAX_OP_KINDS)
		elog(ERROR, "too many durable operation kinds");
	op_kinds[n_op_kinds++] = kind;
}

/*
 * durable_kind_by_name
 *		The kind stored under this name; an error for an unknown one (a
 *		checkpoint written by a newer version of the library).
 */
DurableOpKind
durable_kind_by_name(const char *name)
{
	int			i;

	for (i = 0; i < n_op_kinds; i++)
		if (strcmp(op_kinds[i]->name, name) == 0)
			return op_kinds[i];
	elog(ERROR, "unknown operation kind \"%s\"", name);
	return NULL;				/* keep compiler quiet */
}

void
durable_message_kind_register(const DurableMessageKind *kind)
{
	int			i;

	for (i = 0; i < n_message_kinds; i++)
		if (message_kinds[i] == kind)
			return;
	if (n_message_kinds >= MAX_MESSAGE_KINDS)
		elog(ERROR, "too many durable message kinds");
	message_kinds[n_message_kinds++] = kind;
}

/* the message kind of this name, NULL when unknown */
const DurableMessageKind *
durable_message_kind_by_name(const char *name)
{
	int			i;

	for (i = 0; i < n_message_kinds; i++)
		if (strcmp(message_kinds[i]->name, name) == 0)
			return message_kinds[i];
	return NULL;
}

const char *
durable_op_kind_name(DurableOpKind kind)
{
	return kind->name;
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

const char *
durable_exec_status_name(DurableExecStatus status)
{
	return exec_status_names[status];
}

DurableExecStatus
durable_exec_status_from_name(const char *name)
{
	int			i;

	for (i = 0; i < DURABLE_EXEC_STATUSES; i++)
		if (strcmp(exec_status_names[i], name) == 0)
			return (DurableExecStatus) i;
	elog(ERROR, "unknown execution status \"%s\"", name);
	return DES_FAILED;			/* keep compiler quiet */
}

/* whether an execution of this status has finished */
bool
durable_exec_status_finished(DurableExecStatus status)
{
	return status != DES_PENDING && status != DES_RUNNING && status != DES_SUSPENDED;
}

/*
 * durable_finished_statuses
 *		The terminal statuses of an execution, as a text[].
 */
ArrayType *
durable_finished_statuses(void)
{
	Datum		elems[DURABLE_EXEC_STATUSES];
	int			n = 0;
	int			i;

	for (i = 0; i < DURABLE_EXEC_STATUSES; i++)
		if (durable_exec_status_finished((DurableExecStatus) i))
			elems[n++] = CStringGetTextDatum(exec_status_names[i]);
	return construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
}
