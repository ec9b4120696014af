/*-------------------------------------------------------------------------
 *
 * http_int.h
 *	  The curl handle of a request, shared by http.c (which builds it) and
 *	  outcome.c (which reads what it got); nothing outside net/ sees it.
 *
 * IDENTIFICATION
 *	  src/net/http_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef DURABLE_NET_HTTP_INT_H
#define DURABLE_NET_HTTP_INT_H

#include <arpa/inet.h>
#include <curl/curl.h>

#include "net/net.h"

/* a growing malloc'd buffer that curl callbacks fill */
typedef struct HttpBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
} HttpBuffer;

struct DurableHttpRequest
{
	CURL	   *easy;
	struct curl_slist *headers;
	HttpBuffer		body;
	HttpBuffer		head;			/* header lines of the last response */
	size_t		max_body;
	bool		too_large;
	bool		refused;
	char		refused_addr[INET6_ADDRSTRLEN];
	DurableAllowList allow;
	char		errbuf[CURL_ERROR_SIZE];
};

#endif							/* DURABLE_NET_HTTP_INT_H */
