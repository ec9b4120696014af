/*-------------------------------------------------------------------------
 *
 * token.c
 *	  Callback ids ("cb_") and task ids ("tk_", one per claim of a task):
 *	  the prefix and 32 random hexadecimal digits, a capability whose
 *	  SHA-256 hash alone is stored.
 *
 * IDENTIFICATION
 *	  src/util/token.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"

#include "util/util.h"

#define TOKEN_PREFIX "cb_"
#define TASK_PREFIX "tk_"
#define TOKEN_PREFIX_LEN 3
#define TOKEN_RANDOM_BYTES 16
#define TOKEN_LEN (TOKEN_PREFIX_LEN + 2 * TOKEN_RANDOM_BYTES)

static void
sha256(const char *data, size_t len, uint8 *hash)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, hash, DURABLE_TOKEN_HASH_LEN) < 0)
		elog(ERROR, "could not compute a SHA-256 hash: %s", pg_cryptohash_error(ctx));
	pg_cryptohash_free(ctx);
}

/* bytes as lowercase hexadecimal */
char *
durable_hex(const uint8 *bytes, int n)
{
	static const char digits[] = "0123456789abcdef";
	char	   *s = palloc(2 * n + 1);
	int			i;

	for (i = 0; i < n; i++)
	{
		s[2 * i] = digits[bytes[i] >> 4];
		s[2 * i + 1] = digits[bytes[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

/* a new id with the prefix (three characters), and its hash */
static char *
token_new(const char *prefix, const char *what, uint8 *hash)
{
	uint8		random[TOKEN_RANDOM_BYTES];
	char	   *token;

	if (!pg_strong_random(random, sizeof(random)))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random %s", what)));
	token = psprintf("%s%s", prefix, durable_hex(random, TOKEN_RANDOM_BYTES));
	sha256(token, TOKEN_LEN, hash);
	return token;
}

/* the hash of an id with the prefix; a malformed id is an error */
static void
token_hash(const char *token, const char *prefix, const char *what, uint8 *hash)
{
	int			i;
	bool		ok = strlen(token) == TOKEN_LEN &&
		strncmp(token, prefix, TOKEN_PREFIX_LEN) == 0;

	for (i = TOKEN_PREFIX_LEN; ok && i < TOKEN_LEN; i++)
		ok = (token[i] >= '0' && token[i] <= '9') || (token[i] >= 'a' && token[i] <= 'f');
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("malformed %s", what),
				 errdetail("A %s is \"%s\" followed by 32 hexadecimal digits.", what, prefix)));
	sha256(token, TOKEN_LEN, hash);
}

/*
 * durable_token_new
 *		A new callback id and its hash.
 */
char *
durable_token_new(uint8 *hash)
{
	return token_new(TOKEN_PREFIX, "callback id", hash);
}

/*
 * durable_token_hash
 *		The hash of a callback id; a malformed id is an error.
 */
void
durable_token_hash(const char *token, uint8 *hash)
{
	token_hash(token, TOKEN_PREFIX, "callback id", hash);
}

/*
 * durable_task_token_new
 *		A new task id (of one claim of a task) and its hash.
 */
char *
durable_task_token_new(uint8 *hash)
{
	return token_new(TASK_PREFIX, "task id", hash);
}

/*
 * durable_task_token_hash
 *		The hash of a task id; a malformed id is an error.
 */
void
durable_task_token_hash(const char *token, uint8 *hash)
{
	token_hash(token, TASK_PREFIX, "task id", hash);
}
