/*-------------------------------------------------------------------------
 *
 * addresses.c
 *	  The allow list of durable.http_allow_addresses, and whether an
 *	  address may be connected to: public addresses always, the others
 *	  (private, loopback, link-local, documentation, ...) only when an
 *	  entry of the list covers them.  Used by the setting's check hook and
 *	  inside libcurl's open-socket callback, where nothing may allocate or
 *	  raise an error.
 *
 * IDENTIFICATION
 *	  src/util/addresses.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "utils/varlena.h"

#include "util/util.h"

static bool
parse_allow_entry(const char *s, DurableAllowEntry *e)
{
	char		buf[INET6_ADDRSTRLEN + 8];
	char	   *slash;
	int			maxbits;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash = '\0';
	memset(e, 0, sizeof(DurableAllowEntry));
	if (inet_pton(AF_INET, buf, e->addr) == 1)
	{
		e->family = AF_INET;
		maxbits = 32;
	}
	else if (inet_pton(AF_INET6, buf, e->addr) == 1)
	{
		e->family = AF_INET6;
		maxbits = 128;
	}
	else
		return false;
	e->bits = maxbits;
	if (slash != NULL)
	{
		char	   *end;
		long		bits = strtol(slash + 1, &end, 10);

		if (slash[1] == '\0' || *end != '\0' || bits < 0 || bits > maxbits)
			return false;
		e->bits = (int) bits;
	}
	return true;
}

/* Parses a list; false (and *bad the entry) when an entry is not valid. */
bool
durable_allow_list_parse(const char *value, DurableAllowList *list, char **bad)
{
	char	   *copy = pstrdup(value ? value : "");
	List	   *items;
	ListCell   *lc;

	list->n = 0;
	if (!SplitIdentifierString(copy, ',', &items))
	{
		*bad = pstrdup(value);
		return false;
	}
	foreach(lc, items)
	{
		char	   *item = lfirst(lc);

		if (list->n >= DURABLE_MAX_ALLOW_ENTRIES || !parse_allow_entry(item, &list->e[list->n]))
		{
			*bad = pstrdup(item);
			return false;
		}
		list->n++;
	}
	return true;
}

/* check hook of durable.http_allow_addresses */
bool
durable_check_allow_addresses(char **newval, void **extra, GucSource source)
{
	DurableAllowList *list = palloc(sizeof(DurableAllowList));
	char	   *bad = NULL;
	bool		ok = durable_allow_list_parse(*newval, list, &bad);

	if (!ok)
		GUC_check_errdetail("\"%s\" is not an IP address or CIDR block (at most %d entries).",
							bad, DURABLE_MAX_ALLOW_ENTRIES);
	pfree(list);
	return ok;
}

static bool
prefix_match(const unsigned char *a, const unsigned char *b, int bits)
{
	int			bytes = bits / 8;
	int			rest = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (0xFF << (8 - rest))) == 0;
}

/*
 * Whether an IPv4 address (network order bytes) is not a public one: the
 * IANA IPv4 special-purpose registry's blocks that are not globally
 * reachable, and the documentation nets.
 */
static bool
ipv4_special(const unsigned char *a)
{
	return a[0] == 0 ||			/* this network */
		a[0] == 10 ||			/* private */
		a[0] == 127 ||			/* loopback */
		(a[0] == 100 && (a[1] & 0xC0) == 64) ||	/* shared address space */
		(a[0] == 169 && a[1] == 254) || /* link-local */
		(a[0] == 172 && (a[1] & 0xF0) == 16) ||	/* private */
		(a[0] == 192 && a[1] == 0 && a[2] == 0) ||	/* protocol assignments */
		(a[0] == 192 && a[1] == 0 && a[2] == 2) ||	/* documentation */
		(a[0] == 192 && a[1] == 88 && a[2] == 99) ||	/* 6to4 relay anycast */
		(a[0] == 192 && a[1] == 168) || /* private */
		(a[0] == 198 && (a[1] & 0xFE) == 18) || /* benchmarking */
		(a[0] == 198 && a[1] == 51 && a[2] == 100) ||	/* documentation */
		(a[0] == 203 && a[1] == 0 && a[2] == 113) ||	/* documentation */
		a[0] >= 224;			/* multicast, reserved, broadcast */
}

/*
 * Whether an IPv6 address is not a public one.  An address that carries an
 * IPv4 address (IPv4-mapped, IPv4-translated, IPv4-compatible, NAT64 in
 * 64:ff9b::/96, 6to4, and the server or client of Teredo) is special when
 * the IPv4 address it carries is; the local-use NAT64 prefix 64:ff9b:1::/48
 * is special as a whole.
 */
static bool
ipv6_special(const unsigned char *a)
{
	static const unsigned char zero[12] = {0};
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
	static const unsigned char translated[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0};
	static const unsigned char nat64[12] = {0, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0};
	unsigned char client[4];
	int			i;

	/* unspecified, loopback and IPv4-compatible (::/96, deprecated) */
	if (memcmp(a, zero, 12) == 0)
		return true;
	if (memcmp(a, mapped, 12) == 0 || memcmp(a, translated, 12) == 0 ||
		memcmp(a, nat64, 12) == 0)
		return ipv4_special(a + 12);
	if (a[0] == 0 && a[1] == 0x64 && a[2] == 0xFF && a[3] == 0x9B &&
		a[4] == 0 && a[5] == 1)
		return true;			/* local-use NAT64 */
	if (a[0] == 0x20 && a[1] == 0x02)
		return ipv4_special(a + 2); /* 6to4 */
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0)
	{
		/* Teredo: the server, and the client's address inverted */
		for (i = 0; i < 4; i++)
			client[i] = a[12 + i] ^ 0xFF;
		return ipv4_special(a + 4) || ipv4_special(client);
	}
	return (a[0] == 0x01 && a[1] == 0 && memcmp(a + 2, zero, 6) == 0) ||	/* discard 100::/64 */
		(a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) ||	/* documentation */
		(a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0x02 && a[4] == 0 && a[5] == 0) ||	/* benchmarking */
		(a[0] == 0x3F && a[1] == 0xFF && (a[2] & 0xF0) == 0) ||	/* documentation 3fff::/20 */
		(a[0] == 0x5F && a[1] == 0) ||	/* segment routing SIDs */
		(a[0] == 0xFE && (a[1] & 0xC0) == 0x80) ||	/* link-local */
		(a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) ||	/* site-local (deprecated) */
		(a[0] & 0xFE) == 0xFC ||	/* unique local */
		a[0] == 0xFF;			/* multicast */
}

/*
 * durable_address_allowed
 *		Whether a connection may be opened to this address.  Runs inside a
 *		curl callback: no allocation, no error.
 */
bool
durable_address_allowed(const struct sockaddr *sa, const DurableAllowList *allow, char *text)
{
	const unsigned char *a;
	int			family = sa->sa_family;
	int			i;

	if (family == AF_INET)
		a = (const unsigned char *) &((const struct sockaddr_in *) sa)->sin_addr;
	else if (family == AF_INET6)
		a = (const unsigned char *) &((const struct sockaddr_in6 *) sa)->sin6_addr;
	else
		return false;
	if (inet_ntop(family, a, text, INET6_ADDRSTRLEN) == NULL)
		strcpy(text, "?");
	if (family == AF_INET ? !ipv4_special(a) : !ipv6_special(a))
		return true;
	/*
	 * An IPv4-mapped IPv6 address is allowed as its IPv4 address is (it is
	 * the same socket); the other forms that carry one only by an entry of
	 * their own.
	 */
	if (family == AF_INET6 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\377\377", 12) == 0)
	{
		family = AF_INET;
		a += 12;
	}
	for (i = 0; i < allow->n; i++)
		if (allow->e[i].family == family && prefix_match(a, allow->e[i].addr, allow->e[i].bits))
			return true;
	return false;
}
