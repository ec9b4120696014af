/*-------------------------------------------------------------------------
 *
 * secrets.c
 *	  Secrets for HTTP requests: the key they are sealed with, sealing and
 *	  unsealing, and their resolution when a request is sent.  The SQL
 *	  functions that set, grant and list them (durable_secret_set,
 *	  durable_secret_delete, durable_secret_grant, durable_secret_revoke,
 *	  durable_secret_seal, durable_secrets) are in api/secrets.c; the rows
 *	  are read and written by secrets_table.c.
 *
 * A secret belongs to the role that set it.  A request of an execution
 * may use it when the execution's owner has the privileges of the
 * secret's owner or of a role it was granted to, and the request's host
 * is one of its allowed hosts.  Its value is read only by the code that
 * sends a request; no function returns it, and durable.secrets grants
 * nothing to anyone.
 *
 * Values are sealed at rest with AES-256-GCM (OpenSSL's libcrypto), so
 * that neither pg_dump nor a copy of the table files holds them in clear
 * text.  The column value holds 'durable-aes256gcm:' and the base64 of a
 * key id (4 bytes of a SHA-256 of the key), a random 12-byte nonce, the
 * ciphertext and the 16-byte tag; the secret's name is authenticated with
 * it, so a sealed value cannot be moved to another name.  The key, 32
 * bytes, lives outside the database: in durable.secrets_key_file, by
 * default pg_durable/secrets.key in the data directory, which the first
 * durable_secret_set creates (mode 0600) unless sealed values already
 * exist: then the key was lost (a restore into another cluster), and the
 * error says to copy the file rather than make a new key.  A value not
 * sealed (written by the library before 1.2) is used as it is.
 *
 * IDENTIFICATION
 *	  src/store/secrets.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/base64.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "store/store.h"
#include "util/durable_errcodes.h"

#define SEAL_PREFIX "durable-aes256gcm:"
#define KEY_DIR "pg_durable"
#define KEY_DEFAULT KEY_DIR "/secrets.key"
#define KEY_LEN 32
#define KEYID_LEN 4
#define NONCE_LEN 12
#define TAG_LEN 16

/* the key file in use: the setting, or the default in the data directory */
static const char *
key_path(void)
{
	if (durable_secrets_key_file != NULL && durable_secrets_key_file[0] != '\0')
		return durable_secrets_key_file;
	return KEY_DEFAULT;
}

/*
 * read_key
 *		Reads the key file into key; NULL, or why not.  *missing says
 *		whether the file does not exist.
 */
static char *
read_key(const char *path, unsigned char *key, bool *missing)
{
	int			fd;
	int			n;
	unsigned char buf[KEY_LEN + 1];

	*missing = false;
	fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	if (fd < 0)
	{
		*missing = (errno == ENOENT);
		return psprintf("could not open key file \"%s\": %m", path);
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0)
	{
		char	   *why = psprintf("could not read key file \"%s\": %m", path);

		CloseTransientFile(fd);
		return why;
	}
	CloseTransientFile(fd);
	if (n != KEY_LEN)
	{
		explicit_bzero(buf, sizeof(buf));
		return psprintf("key file \"%s\" does not hold %d bytes", path, KEY_LEN);
	}
	memcpy(key, buf, KEY_LEN);
	explicit_bzero(buf, sizeof(buf));
	return NULL;
}

/*
 * create_key
 *		Writes 32 random bytes to a file of its own, mode 0600, and links it
 *		to path, so that a concurrent creator's key wins or ours does, never
 *		half of one.  Errors are reported.
 */
static void
create_key(const char *path, unsigned char *key)
{
	char	   *tmp = psprintf("%s.%d.tmp", path, MyProcPid);
	int			fd;

	if (strcmp(path, KEY_DEFAULT) == 0 && MakePGDirectory(KEY_DIR) < 0 && errno != EEXIST)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create directory \"%s\": %m", KEY_DIR)));
	if (!pg_strong_random(key, KEY_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random key for secrets")));
	fd = OpenTransientFilePerm(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY,
							   S_IRUSR | S_IWUSR);
	if (fd < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create key file \"%s\": %m", tmp)));
	if (write(fd, key, KEY_LEN) != KEY_LEN || pg_fsync(fd) != 0)
	{
		int			save_errno = errno ? errno : ENOSPC;

		CloseTransientFile(fd);
		unlink(tmp);
		errno = save_errno;
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not write key file \"%s\": %m", tmp)));
	}
	CloseTransientFile(fd);
	if (link(tmp, path) < 0)
	{
		int			save_errno = errno;
		bool		missing;
		char	   *why;

		unlink(tmp);
		if (save_errno != EEXIST)
		{
			errno = save_errno;
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not create key file \"%s\": %m", path)));
		}
		/* another session made it first: use that one */
		why = read_key(path, key, &missing);
		if (why != NULL)
			ereport(ERROR, (errcode_for_file_access(), errmsg_internal("%s", why)));
		return;
	}
	unlink(tmp);
	ereport(LOG,
			(errmsg("durable created the key file \"%s\" that encrypts secret values", path),
			 errhint("Keep a copy of it with the backups: a cluster restored without it cannot use the secrets.")));
}

/* the key id: 4 bytes of SHA-256("durable secrets key" || key) */
static void
key_id(const unsigned char *key, unsigned char *id)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL ||
		!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
		!EVP_DigestUpdate(ctx, "durable secrets key", 19) ||
		!EVP_DigestUpdate(ctx, key, KEY_LEN) ||
		!EVP_DigestFinal_ex(ctx, md, &mdlen))
	{
		EVP_MD_CTX_free(ctx);
		elog(ERROR, "could not compute the id of the secrets key");
	}
	EVP_MD_CTX_free(ctx);
	memcpy(id, md, KEYID_LEN);
}

/*
 * seal
 *		The sealed form of a secret's value, to be stored.  Makes the key
 *		file when it does not exist and no value is sealed yet.  SPI must be
 *		connected.
 */
static char *
seal(const char *name, const char *value)
{
	const char *path = key_path();
	unsigned char key[KEY_LEN];
	bool		missing;
	char	   *why = read_key(path, key, &missing);
	int			vlen = strlen(value);
	int			rawlen = KEYID_LEN + NONCE_LEN + vlen + TAG_LEN;
	unsigned char *raw = palloc(rawlen);
	unsigned char *ct = raw + KEYID_LEN + NONCE_LEN;
	EVP_CIPHER_CTX *ctx;
	int			len;
	int			fin;
	bool		ok;
	char	   *out;
	int			outlen;

	if (why != NULL)
	{
		if (!missing)
			ereport(ERROR,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("%s", why),
					 errhint("The key file must be readable by the server and hold the 32 bytes durable wrote; see durable.secrets_key_file.")));
		if (durable_storage_secrets_sealed())
			ereport(ERROR,
					(errcode(ERRCODE_DURABLE_HTTP_REFUSED),
					 errmsg("the key file \"%s\" of the secrets does not exist", path),
					 errdetail("Secret values in durable.secrets were encrypted with that key; a new key would make them unusable."),
					 errhint("Copy the key file of the cluster the secrets were set on to \"%s\" (mode 0600, owned by the server's user), or delete every secret first.", path)));
		create_key(path, key);
	}

	key_id(key, raw);
	if (!pg_strong_random(raw + KEYID_LEN, NONCE_LEN))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate a random nonce")));
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) &&
		EVP_EncryptInit_ex(ctx, NULL, NULL, key, raw + KEYID_LEN) &&
		EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *) name, strlen(name)) &&
		EVP_EncryptUpdate(ctx, ct, &len, (const unsigned char *) value, vlen) &&
		EVP_EncryptFinal_ex(ctx, ct + len, &fin) &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, ct + vlen);
	EVP_CIPHER_CTX_free(ctx);
	explicit_bzero(key, sizeof(key));
	if (!ok)
		elog(ERROR, "could not encrypt the value of secret \"%s\"", name);

	outlen = pg_b64_enc_len(rawlen);
	out = palloc(strlen(SEAL_PREFIX) + outlen + 1);
	strcpy(out, SEAL_PREFIX);
	outlen = pg_b64_encode((const char *) raw, rawlen, out + strlen(SEAL_PREFIX), outlen);
	if (outlen < 0)
		elog(ERROR, "could not encode the value of secret \"%s\"", name);
	out[strlen(SEAL_PREFIX) + outlen] = '\0';
	return out;
}

/*
 * unseal
 *		The clear value of a stored one; NULL and in *why the reason when it
 *		cannot be had (never the value).
 */
static char *
unseal(const char *name, const char *stored, char **why)
{
	const char *path = key_path();
	const char *b64;
	unsigned char key[KEY_LEN];
	unsigned char id[KEYID_LEN];
	unsigned char *raw;
	int			rawlen;
	int			vlen;
	char	   *value;
	EVP_CIPHER_CTX *ctx;
	int			len;
	int			fin;
	bool		ok;
	bool		missing;
	char	   *cause;

	*why = NULL;
	if (strncmp(stored, SEAL_PREFIX, strlen(SEAL_PREFIX)) != 0)
		return pstrdup(stored); /* written before 1.2 */
	b64 = stored + strlen(SEAL_PREFIX);
	raw = palloc(pg_b64_dec_len(strlen(b64)));
	rawlen = pg_b64_decode(b64, strlen(b64), (char *) raw, pg_b64_dec_len(strlen(b64)));
	if (rawlen < KEYID_LEN + NONCE_LEN + TAG_LEN)
	{
		*why = psprintf("secret \"%s\" cannot be decrypted: its stored value is damaged", name);
		return NULL;
	}
	cause = read_key(path, key, &missing);
	if (cause != NULL)
	{
		*why = missing ?
			psprintf("secret \"%s\" cannot be decrypted: the key file \"%s\" does not exist; copy the key file of the cluster the secret was set on there (or set durable.secrets_key_file), or set the secret again",
					 name, path) :
			psprintf("secret \"%s\" cannot be decrypted: %s", name, cause);
		return NULL;
	}
	key_id(key, id);
	if (memcmp(id, raw, KEYID_LEN) != 0)
	{
		explicit_bzero(key, sizeof(key));
		*why = psprintf("secret \"%s\" cannot be decrypted: it was encrypted with another key than the one in \"%s\"; copy the key file of the cluster the secret was set on there, or set the secret again",
						name, path);
		return NULL;
	}
	vlen = rawlen - KEYID_LEN - NONCE_LEN - TAG_LEN;
	value = palloc(vlen + 1);
	ctx = EVP_CIPHER_CTX_new();
	ok = ctx != NULL &&
		EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) &&
		EVP_DecryptInit_ex(ctx, NULL, NULL, key, raw + KEYID_LEN) &&
		EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *) name, strlen(name)) &&
		EVP_DecryptUpdate(ctx, (unsigned char *) value, &len,
						  raw + KEYID_LEN + NONCE_LEN, vlen) &&
		EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
							raw + KEYID_LEN + NONCE_LEN + vlen) &&
		EVP_DecryptFinal_ex(ctx, (unsigned char *) value + len, &fin) > 0;
	EVP_CIPHER_CTX_free(ctx);
	explicit_bzero(key, sizeof(key));
	if (!ok)
	{
		explicit_bzero(value, vlen + 1);
		*why = psprintf("secret \"%s\" cannot be decrypted: its stored value does not authenticate under the key in \"%s\"",
						name, path);
		return NULL;
	}
	value[vlen] = '\0';
	return value;
}

/* a host without the brackets of an IPv6 literal */
static const char *
bare_host(const char *h)
{
	size_t		len = strlen(h);

	if (len >= 2 && h[0] == '[' && h[len - 1] == ']')
		return pnstrdup(h + 1, len - 2);
	return h;
}

/* Whether a host is allowed: an exact name, or a subdomain of "*.name". */
static bool
host_allowed(List *allowed, const char *host)
{
	ListCell   *lc;

	host = bare_host(host);
	foreach(lc, allowed)
	{
		const char *a = bare_host(lfirst(lc));

		if (pg_strcasecmp(a, host) == 0)
			return true;
		if (a[0] == '*' && a[1] == '.')
		{
			size_t		hl = strlen(host);
			size_t		sl = strlen(a + 1);

			if (hl > sl && pg_strcasecmp(host + hl - sl, a + 1) == 0)
				return true;
		}
	}
	return false;
}

/*
 * durable_secret_host_ok
 *		Whether h may be listed among a secret's allowed hosts: a host name,
 *		"*." and a name, an IPv4 address or an IPv6 one (bracketed or not);
 *		no port.
 */
bool
durable_secret_host_ok(const char *h)
{
	const char *p = bare_host(h);
	bool		ipv6 = strchr(p, ':') != NULL;

	if (p[0] == '*' && p[1] == '.' && !ipv6)
		p += 2;
	if (*p == '\0' || strlen(h) > 255)
		return false;
	if (ipv6)
		return strspn(p, "0123456789abcdefABCDEF:.") == strlen(p) &&
			strchr(p, ':') != strrchr(p, ':');
	return strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == strlen(p);
}

/* Whether a role may use a secret: it owns it or holds a grant of it. */
static bool
may_use(const char *name, Oid role, Oid owner)
{
	List	   *grantees;
	ListCell   *lc;

	if (has_privs_of_role(role, owner))
		return true;
	grantees = durable_storage_secret_grantees(name);
	foreach(lc, grantees)
		if (has_privs_of_role(role, lfirst_oid(lc)))
			return true;
	return false;
}

/*
 * durable_secret_resolve
 *		The value of a secret for a request of role owner to host; or NULL
 *		and in *refusal why not (the value never appears in it).
 */
void
durable_secret_resolve(const char *name, Oid owner, const char *host, char **value,
					   char **refusal)
{
	char	   *v;
	List	   *hosts;
	Oid			secret_owner;

	*value = NULL;
	if (!durable_storage_secret_get(name, &v, &hosts, &secret_owner))
		*refusal = psprintf("secret \"%s\" does not exist", name);
	else if (!may_use(name, owner, secret_owner))
		*refusal = psprintf("role %s may not use secret \"%s\"",
							NameStr(*DatumGetName(durable_role_name(owner))), name);
	else if (!host_allowed(hosts, host))
		*refusal = psprintf("secret \"%s\" may not be sent to host \"%s\"", name, host);
	else
	{
		*value = unseal(name, v, refusal);
		explicit_bzero(v, strlen(v));
	}
}

/*
 * durable_secret_seal_value
 *		The sealed form of value for the secret name, as stored (see the
 *		header); makes the key file when there is none and no value is
 *		sealed yet.  SPI must be connected.
 */
char *
durable_secret_seal_value(const char *name, const char *value)
{
	return seal(name, value);
}

/*
 * durable_secret_is_sealed
 *		Whether a stored value is sealed already (written by 1.2 or later).
 */
bool
durable_secret_is_sealed(const char *stored)
{
	return strncmp(stored, SEAL_PREFIX, strlen(SEAL_PREFIX)) == 0;
}
