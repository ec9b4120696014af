/*-------------------------------------------------------------------------
 *
 * store_int.h
 *	  Private to the store layer: the statement runner (spi.c) and the
 *	  helpers that marshal values to and from statements.  No file outside
 *	  src/store includes it.
 *
 * A store file declares its statements as
 *
 *		static const StorageStatement statements[Q_COUNT] = {...};
 *		static SPIPlanPtr plans[Q_COUNT];
 *
 * indexed by its own enum, and runs them with run(q, values, nulls, tcount).
 *
 * IDENTIFICATION
 *	  src/store/store_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_STORE_STORE_INT_H
#define DURABLE_STORE_STORE_INT_H

#include "executor/spi.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "store/store.h"

/* one statement: its text and the types of its parameters */
typedef struct StorageStatement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[16];
} StorageStatement;

/* spi.c */
extern uint64 durable_store_run(const StorageStatement *st, SPIPlanPtr *plan,
								Datum *values, const char *nulls, long tcount);

/* statement q of the calling file, with that file's plan cache */
#define run(q, values, nulls, tcount) \
	durable_store_run(&statements[(q)], &plans[(q)], (values), (nulls), (tcount))

/* column col of the first row the last statement returned */
static inline Datum
get_col(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/* a parameter that is NULL when ts is DT_NOBEGIN */
static inline Datum
ts_datum(TimestampTz ts, char *null)
{
	*null = ts == DT_NOBEGIN ? 'n' : ' ';
	return TimestampTzGetDatum(ts);
}

/* a parameter that is NULL when jb is */
static inline Datum
jsonb_datum(Jsonb *jb, char *null)
{
	*null = jb == NULL ? 'n' : ' ';
	return PointerGetDatum(jb);
}

/* an operation's status from its name in durable.operations */
static inline DurableOpStatus
status_from_name(const char *s)
{
	int			i;

	for (i = DOS_STARTED; i <= DOS_TIMED_OUT; i++)
		if (strcmp(s, durable_op_status_name((DurableOpStatus) i)) == 0)
			return (DurableOpStatus) i;
	elog(ERROR, "unknown operation status \"%s\"", s);
	return DOS_FAILED;			/* keep compiler quiet */
}

#endif							/* DURABLE_STORE_STORE_INT_H */
