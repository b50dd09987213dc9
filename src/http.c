/*-------------------------------------------------------------------------
 *
 * http.c
 *		  Send requests to the API over the cached curl handles: headers,
 *		  limits, cancellation, retries with back-off, and batches of
 *		  independent requests in flight at once.
 *
 * Transfers run through curl's multi interface in a loop that waits at most
 * CP_POLL_MS at a time and checks for interrupts in between, so Ctrl-C,
 * statement_timeout and pg_terminate_backend stop every request in flight
 * within a fraction of a second, with PostgreSQL's own error.  One request
 * is a batch of one: the same loop sends a batch of many, at most
 * max_concurrency at a time, sharing one pause when the API says to slow
 * down.  No curl callback ever raises an error: a longjmp through libcurl
 * would leave it in an undefined state.  The callbacks only record; this
 * file decides after the transfer.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <curl/curl.h>
#include <ctype.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"
#if PG_VERSION_NUM >= 150000
#include "common/pg_prng.h"
#endif

#include "transport.h"

/*
 * The wait events a backend shows while it waits on the API: PostgreSQL 17
 * lets an extension name its own (pg_stat_activity shows Extension /
 * CheckpointPermsNetwork); before, both are plain Extension.
 */
static uint32
wait_event(bool backoff)
{
#if PG_VERSION_NUM >= 170000
	static uint32 network = 0;
	static uint32 sleep = 0;

	if (network == 0)
	{
		network = WaitEventExtensionNew("CheckpointPermsNetwork");
		sleep = WaitEventExtensionNew("CheckpointPermsBackoff");
	}
	return backoff ? sleep : network;
#else
	return PG_WAIT_EXTENSION;
#endif
}

/* Longest wait inside curl before interrupts are checked again. */
#define CP_POLL_MS 50

/* Longest server-requested delay honoured between retries. */
#define CP_MAX_RETRY_AFTER_MS 60000.0

/* The body of a reply, growing up to a limit; written by a curl callback. */
typedef struct CpBodyBuffer
{
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;			/* max_response_bytes */
	bool		overflow;		/* the reply was larger than the limit */
	bool		nomem;			/* an allocation failed inside the callback */
	MemoryContext cxt;
} CpBodyBuffer;

/* What the headers of a reply said; filled by a curl callback. */
typedef struct CpHeaderState
{
	CpResponse *resp;
	const char *key;			/* opts->api_key: masked in every header kept */
	CURL	   *curl;			/* the attempt's handle, to ask about its TLS */
	double		retry_after_ms; /* < 0 when the reply names no delay */
	int			should_retry;	/* x-should-retry: -1 absent, 0 false, 1 true */
	bool		tls_resumed;	/* its connection resumed a TLS session */
} CpHeaderState;

/* The outcome of one attempt. */
typedef struct CpAttempt
{
	CURLcode	code;
	char		errbuf[CURL_ERROR_SIZE];
	bool		sent;			/* some of the request reached the network */
	CpBodyBuffer body;
	CpHeaderState headers;
	bool		restricted;		/* opts->restricted: no reserved address */
	bool		refused;		/* a connection to one was refused */
	bool		https;			/* its URL is https: a new connection is a
								 * TLS handshake */
	long		new_connections;	/* connections it opened (CURLINFO_NUM_CONNECTS) */
	long		verify_result;	/* CURLINFO_SSL_VERIFYRESULT */
} CpAttempt;

/*
 * Open the socket of a new connection.  curl calls this with the address it
 * resolved and is about to connect to, so for a server whose owner is not
 * superuser the check sees the address really used: a name that resolves
 * elsewhere when checked and to 127.0.0.1 when used cannot slip through.
 * A refused address fails before any packet leaves, whatever listens
 * there, so an error can tell nothing about the port.
 */
static curl_socket_t
open_socket_callback(void *clientp, curlsocktype purpose, struct curl_sockaddr *address)
{
	CpAttempt  *attempt = (CpAttempt *) clientp;
	const void *addr = NULL;

	if (address->family == AF_INET)
		addr = &((const struct sockaddr_in *) &address->addr)->sin_addr;
	else if (address->family == AF_INET6)
		addr = &((const struct sockaddr_in6 *) &address->addr)->sin6_addr;
	if (attempt->restricted && (addr == NULL || cp_address_is_reserved(address->family, addr)))
	{
		attempt->refused = true;
		return CURL_SOCKET_BAD;
	}
	/* close-on-exec, as curl's own sockets: COPY ... PROGRAM must not inherit it */
#ifdef SOCK_CLOEXEC
	return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
#else
	return socket(address->family, address->socktype, address->protocol);
#endif
}

static size_t
write_callback(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	CpBodyBuffer *buf = (CpBodyBuffer *) userdata;
	size_t		n = size * nmemb;

	if (buf->len + n > buf->limit)
	{
		buf->overflow = true;
		return 0;				/* makes curl stop with CURLE_WRITE_ERROR */
	}
	if (buf->len + n + 1 > buf->cap)
	{
		size_t		newcap = Max(buf->cap * 2, buf->len + n + 1);
		char	   *newdata;

		newcap = Min(newcap, buf->limit + 1);
		newdata = MemoryContextAllocExtended(buf->cxt, newcap, MCXT_ALLOC_NO_OOM);
		if (newdata == NULL)
		{
			buf->nomem = true;
			return 0;
		}
		if (buf->len > 0)
			memcpy(newdata, buf->data, buf->len);
		if (buf->data)
			pfree(buf->data);
		buf->data = newdata;
		buf->cap = newcap;
	}
	memcpy(buf->data + buf->len, ptr, n);
	buf->len += n;
	buf->data[buf->len] = '\0';
	return n;
}

/*
 * Copy text from the network into a fixed buffer for a message or a log:
 * every occurrence of the key becomes "[api_key]" (a proxy or a hostile
 * base_url may echo the Authorization header), anything but printable
 * ASCII becomes "?", and the copy is cut to fit.  The key is matched in
 * the whole source before anything is cut, so a cut never leaves a piece
 * of it.  No allocation: curl callbacks call it, and must not raise.
 */
static void
copy_masked(char *dst, size_t dstlen, const char *src, size_t len, const char *key)
{
	static const char mask[] = "[api_key]";
	size_t		keylen = key ? strlen(key) : 0;
	size_t		i = 0;
	size_t		o = 0;

	while (i < len && o + 1 < dstlen)
	{
		unsigned char c;

		if (keylen > 0 && len - i >= keylen && memcmp(src + i, key, keylen) == 0)
		{
			if (o + sizeof(mask) > dstlen)
				break;
			memcpy(dst + o, mask, sizeof(mask) - 1);
			o += sizeof(mask) - 1;
			i += keylen;
			continue;
		}
		c = (unsigned char) src[i++];
		dst[o++] = (c < 0x20 || c >= 0x7F) ? '?' : (char) c;
	}
	dst[o] = '\0';
}

/* Copy a header's value, trimmed and masked (copy_masked), into a buffer. */
static void
copy_header_value(char *dst, size_t dstlen, const char *value, size_t len,
				  const char *key)
{
	while (len > 0 && (*value == ' ' || *value == '\t'))
		value++, len--;
	while (len > 0 && (value[len - 1] == '\r' || value[len - 1] == '\n' ||
					   value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	copy_masked(dst, dstlen, value, len, key);
}

/*
 * Did the connection of this transfer resume a TLS session?  Asked while
 * the transfer still holds its connection (from the header callback):
 * afterwards curl no longer says which one it was.  Only OpenSSL's answer
 * is understood; with another TLS library every handshake counts as full.
 */
static bool
tls_session_resumed(CURL *curl)
{
	struct curl_tlssessioninfo *info = NULL;

	if (curl == NULL ||
		curl_easy_getinfo(curl, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK ||
		info == NULL || info->backend != CURLSSLBACKEND_OPENSSL || info->internals == NULL)
		return false;
	return SSL_session_reused((SSL *) info->internals) == 1;
}

/* Does a header line start with this name and a colon?  Sets *value. */
static bool
header_is(const char *line, size_t len, const char *name, const char **value,
		  size_t *valuelen)
{
	size_t		namelen = strlen(name);

	if (len <= namelen || line[namelen] != ':' ||
		pg_strncasecmp(line, name, namelen) != 0)
		return false;
	*value = line + namelen + 1;
	*valuelen = len - namelen - 1;
	return true;
}

static size_t
header_callback(char *line, size_t size, size_t nmemb, void *userdata)
{
	CpHeaderState *hs = (CpHeaderState *) userdata;
	size_t		len = size * nmemb;
	const char *value;
	size_t		vlen;
	char		buf[64];

	/* a new status line (after a 1xx reply) starts a new set of headers */
	if (len >= 5 && strncmp(line, "HTTP/", 5) == 0)
	{
		hs->resp->request_id[0] = '\0';
		hs->resp->content_type[0] = '\0';
		hs->resp->location[0] = '\0';
		hs->retry_after_ms = -1;
		hs->should_retry = -1;
		hs->tls_resumed = tls_session_resumed(hs->curl);
	}
	else if (header_is(line, len, "x-request-id", &value, &vlen))
		copy_header_value(hs->resp->request_id, sizeof(hs->resp->request_id), value, vlen, hs->key);
	else if (header_is(line, len, "content-type", &value, &vlen))
		copy_header_value(hs->resp->content_type, sizeof(hs->resp->content_type), value, vlen, hs->key);
	else if (header_is(line, len, "location", &value, &vlen))
		copy_header_value(hs->resp->location, sizeof(hs->resp->location), value, vlen, hs->key);
	else if (header_is(line, len, "x-should-retry", &value, &vlen))
	{
		copy_header_value(buf, sizeof(buf), value, vlen, NULL);
		if (strcmp(buf, "true") == 0)
			hs->should_retry = 1;
		else if (strcmp(buf, "false") == 0)
			hs->should_retry = 0;
	}
	else if (header_is(line, len, "retry-after-ms", &value, &vlen))
	{
		char	   *end;
		double		ms;

		copy_header_value(buf, sizeof(buf), value, vlen, NULL);
		ms = strtod(buf, &end);
		if (end != buf && *end == '\0' && ms >= 0 && !isnan(ms))
			hs->retry_after_ms = ms;
	}
	else if (header_is(line, len, "retry-after", &value, &vlen) &&
			 hs->retry_after_ms < 0)
	{
		char	   *end;
		double		secs;

		/* seconds, or an HTTP date; retry-after-ms wins when both come */
		copy_header_value(buf, sizeof(buf), value, vlen, NULL);
		secs = strtod(buf, &end);
		if (end != buf && *end == '\0' && secs >= 0 && !isnan(secs))
			hs->retry_after_ms = secs * 1000.0;
		else
		{
			time_t		when = curl_getdate(buf, NULL);

			if (when > 0)
				hs->retry_after_ms = Max(0, (double) (when - time(NULL)) * 1000.0);
		}
	}
	return len;
}

/* Wipe and free a header list: one of its entries holds the API key. */
static void
free_headers(struct curl_slist *headers)
{
	struct curl_slist *h;

	for (h = headers; h != NULL; h = h->next)
		explicit_bzero(h->data, strlen(h->data));
	curl_slist_free_all(headers);
}

static struct curl_slist *
add_header(struct curl_slist *headers, const char *header)
{
	struct curl_slist *added = curl_slist_append(headers, header);

	if (added == NULL)
	{
		free_headers(headers);
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	}
	return added;
}

/*
 * A value stored by an earlier version, which did not check options, could
 * still hold a CR or LF: in a header curl would send it as it is, ending
 * the line and adding lines of its own.  Checked again before every
 * request; the value is never repeated (it may be the key).
 */
static void
check_stored_value(const char *option, const char *value)
{
	int			byte;

	if (value && cp_value_problem(value, strlen(value), &byte) == CP_VALUE_CONTROL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("value of option \"%s\" contains a control character", option),
				 errdetail("Byte %d is the control character 0x%02X. Nothing was sent.",
						   byte, (unsigned char) value[byte - 1]),
				 errhint("Set the option again with ALTER SERVER or ALTER USER MAPPING.")));
}

static struct curl_slist *
build_headers(const CpOptions *opts, const CpRequest *req)
{
	struct curl_slist *headers = NULL;
	char	   *auth;
	char	   *line;

	check_stored_value("api_key", opts->api_key);
	check_stored_value("organization", opts->organization);
	check_stored_value("project", opts->project);
	check_stored_value("base_url", opts->base_url);
	check_stored_value("proxy", opts->proxy);
	check_stored_value("ca_bundle", opts->ca_bundle);
	auth = psprintf("Authorization: Bearer %s", opts->api_key);

	headers = add_header(headers, auth);
	explicit_bzero(auth, strlen(auth));
	pfree(auth);
	headers = add_header(headers, "Accept: application/json");
	line = psprintf("User-Agent: checkpoint_perms/%s (PostgreSQL %s; libcurl %s)",
					CHECKPOINT_PERMS_VERSION, PG_VERSION, LIBCURL_VERSION);
	headers = add_header(headers, line);
	if (opts->organization)
		headers = add_header(headers, psprintf("OpenAI-Organization: %s", opts->organization));
	if (opts->project)
		headers = add_header(headers, psprintf("OpenAI-Project: %s", opts->project));
	if (req->body)
	{
		headers = add_header(headers, "Content-Type: application/json");
		/* no "100 Continue" round trip before a body */
		headers = add_header(headers, "Expect:");
	}
	return headers;
}

/*
 * Set every option of the handle for this request.  curl_easy_reset keeps
 * the live connections, TLS sessions and DNS cache, so nothing from an
 * earlier request (its method, its body) can leak into this one.
 */
static void
setup_handle(CURL *curl, CURLSH *share, const CpOptions *opts, const CpRequest *req,
			 struct curl_slist *headers, char *url, CpAttempt *attempt)
{
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	/* the reset dropped it: TLS sessions and DNS shared by the mapping's handles */
	curl_easy_setopt(curl, CURLOPT_SHARE, share);
	if (attempt->https)
	{
		/*
		 * Wait for a connection that may carry this transfer as an HTTP/2
		 * stream rather than open one: otherwise every transfer of a batch
		 * added before the first connection has said it multiplexes opens
		 * its own (8 TCP connections and TLS handshakes for 8 lists).  Not
		 * for http://, where HTTP/1.1 cannot multiplex and it only delays.
		 */
		curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, (long) CURL_HTTP_VERSION_2TLS);
		curl_easy_setopt(curl, CURLOPT_PIPEWAIT, 1L);
	}
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
	curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	/* "" turns off the proxies that http_proxy and friends would impose */
	curl_easy_setopt(curl, CURLOPT_PROXY, opts->proxy ? opts->proxy : "");
	if (opts->ca_bundle)
		curl_easy_setopt(curl, CURLOPT_CAINFO, opts->ca_bundle);
	curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
	/* curl's SIGALRM-based DNS time-outs would fight PostgreSQL's timers */
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, (long) opts->connect_timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long) opts->timeout_ms);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) opts->max_response_bytes);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, attempt->errbuf);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_callback);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &attempt->body);
	curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, header_callback);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, &attempt->headers);
	curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_socket_callback);
	curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, attempt);

	if (strcmp(req->method, "POST") == 0)
	{
		/*
		 * A new connection for every POST: on a reused connection that
		 * closes without a reply, libcurl sends the request again by
		 * itself, and a POST (no idempotency key) must never be sent twice
		 * unless it provably did nothing.  TLS session reuse keeps the
		 * handshake short.
		 */
		curl_easy_setopt(curl, CURLOPT_FRESH_CONNECT, 1L);
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long) (req->body ? strlen(req->body) : 0));
	}
	else if (strcmp(req->method, "GET") == 0)
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	else
		curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, req->method);
}

static bool
is_retryable_curl_error(CURLcode code)
{
	switch (code)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
		case CURLE_COULDNT_CONNECT:
		case CURLE_OPERATION_TIMEDOUT:
		case CURLE_SEND_ERROR:
		case CURLE_RECV_ERROR:
		case CURLE_GOT_NOTHING:
		case CURLE_PARTIAL_FILE:
		case CURLE_SSL_CONNECT_ERROR:
			return true;
		default:
			return false;
	}
}

static bool
is_retryable_status(long status)
{
	return status == 408 || status == 409 || status == 429 || status >= 500;
}

/*
 * May this failed attempt be sent again?  GET and DELETE follow the SDKs.
 * A POST has no idempotency key, so it is sent again only when it provably
 * did nothing: it never left this machine, or the API answered 429.
 */
static bool
should_retry(const CpRequest *req, const CpResponse *resp, const CpAttempt *attempt)
{
	bool		is_post = strcmp(req->method, "POST") == 0;

	if (attempt->body.overflow || attempt->body.nomem || attempt->refused)
		return false;
	if (attempt->code != CURLE_OK)
	{
		if (is_post)
			return !attempt->sent && is_retryable_curl_error(attempt->code);
		return is_retryable_curl_error(attempt->code);
	}
	if (attempt->headers.should_retry == 0)
		return false;
	if (is_post)
		return resp->status == 429;
	if (attempt->headers.should_retry == 1)
		return true;
	return is_retryable_status(resp->status);
}

/* The SDKs' back-off: min(0.5 s * 2^n, 8 s) minus up to 25 % jitter. */
static long
retry_delay_ms(int retry, const CpAttempt *attempt)
{
	double		base;
	double		jitter;

	if (attempt->headers.retry_after_ms >= 0 &&
		attempt->headers.retry_after_ms <= CP_MAX_RETRY_AFTER_MS)
		return (long) ceil(attempt->headers.retry_after_ms);
	base = Min(500.0 * pow(2.0, retry), 8000.0);
#if PG_VERSION_NUM >= 150000
	jitter = pg_prng_double(&pg_global_prng_state);
#else
	jitter = (double) random() / (double) MAX_RANDOM_VALUE;
#endif
	return (long) (base * (1.0 - 0.25 * jitter));
}

/* Sleep, waking at once for a cancel or a terminate. */
static void
interruptible_sleep(long ms)
{
	TimestampTz end = GetCurrentTimestamp() + ms * 1000L;

	for (;;)
	{
		long		left;

		CHECK_FOR_INTERRUPTS();
		left = (long) ((end - GetCurrentTimestamp()) / 1000);
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, wait_event(true));
		ResetLatch(MyLatch);
	}
}

/* Is libcurl's TLS library OpenSSL, whose verification results we know? */
static bool
tls_is_openssl(void)
{
	const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);

	return info && info->ssl_version && strncmp(info->ssl_version, "OpenSSL", 7) == 0;
}

/*
 * Is a CURLE_PEER_FAILED_VERIFICATION with this result a host name that the
 * certificate does not name?  OpenSSL says so with HOSTNAME_MISMATCH or
 * IP_ADDRESS_MISMATCH when it checks the name; curl checks it itself after
 * a chain that OpenSSL accepted, and then the result is still the value
 * curl starts with before it asks OpenSSL: 1 (X509_V_ERR_UNSPECIFIED;
 * 7.88 to 8.x), or X509_V_OK.
 */
static bool
tls_host_mismatch(long result)
{
	return result == X509_V_OK || result == X509_V_ERR_UNSPECIFIED ||
		result == X509_V_ERR_HOSTNAME_MISMATCH || result == X509_V_ERR_IP_ADDRESS_MISMATCH;
}

/*
 * Why the server's certificate was refused, from OpenSSL's verification
 * result, in our words, not OpenSSL's or curl's, which change between
 * their versions.
 */
static const char *
tls_verify_reason(long result)
{
	if (!tls_is_openssl())
		return "The server's TLS certificate could not be verified";
	if (tls_host_mismatch(result))
		return "The server's TLS certificate does not name the host of option \"base_url\"";
	switch (result)
	{
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
			return "The server's TLS certificate is signed by an unknown certificate authority, or by itself";
		case X509_V_ERR_CERT_HAS_EXPIRED:
			return "The server's TLS certificate has expired";
		case X509_V_ERR_CERT_NOT_YET_VALID:
			return "The server's TLS certificate is not valid yet";
		case X509_V_ERR_CERT_REVOKED:
			return "The server's TLS certificate has been revoked";
		default:
			/* the number is OpenSSL's X509_V_ERR_*, stable across its versions */
			return psprintf("The server's TLS certificate could not be verified (verification error %ld)",
							result);
	}
}

/*
 * What went wrong below HTTP, in our own words.  curl's messages change
 * between its versions ("Couldn't connect to server" became "Could not
 * connect to server", "transfer closed with 980 bytes remaining to read"
 * became "end of response with 980 bytes missing"), so a user, a script or
 * a test sees a sentence chosen from the CURLcode; curl's own text, with
 * host and port, goes to the server log only (errdetail_log).
 */
static const char *
transport_reason(const CpFailure *failure)
{
	switch ((CURLcode) failure->code)
	{
		case CURLE_COULDNT_RESOLVE_HOST:
			return "The host name could not be resolved";
		case CURLE_COULDNT_RESOLVE_PROXY:
			return "The proxy's host name could not be resolved";
		case CURLE_COULDNT_CONNECT:
			return "The connection was refused or the host is unreachable";
		case CURLE_OPERATION_TIMEDOUT:
			return failure->sent ? "No complete reply arrived in time" :
				"No connection was established in time";
		case CURLE_SSL_CONNECT_ERROR:
			return "The TLS handshake failed";
		case CURLE_PEER_FAILED_VERIFICATION:
			return tls_verify_reason(failure->verify_result);
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
			return "The CA certificates could not be read";
		case CURLE_SEND_ERROR:
			return "The connection failed while the request was being sent";
		case CURLE_RECV_ERROR:
			return "The connection failed while the reply was being received";
		case CURLE_GOT_NOTHING:
			return "The connection closed without a reply";
		case CURLE_PARTIAL_FILE:
			return "The connection closed before the reply was complete";
		case CURLE_WEIRD_SERVER_REPLY:
			return "The reply is not valid HTTP";
		case CURLE_UNSUPPORTED_PROTOCOL:
			return "The URL's protocol is not allowed";
		default:
			/* the number is stable across curl versions, its text is not */
			return psprintf("The transfer failed (curl error %d)", failure->code);
	}
}

/*
 * curl's message for the server log, without its " after 123 ms" timings
 * so that log lines of the same failure are alike.
 */
static char *
curl_message(const CpFailure *failure)
{
	const char *msg = failure->message[0] ? failure->message :
		curl_easy_strerror((CURLcode) failure->code);
	StringInfoData buf;
	const char *p = msg;

	initStringInfo(&buf);
	while (*p)
	{
		if (strncmp(p, " after ", 7) == 0 && isdigit((unsigned char) p[7]))
		{
			const char *q = p + 7;

			while (isdigit((unsigned char) *q))
				q++;
			if (strncmp(q, " milliseconds", 13) == 0)
			{
				p = q + 13;
				continue;
			}
			if (strncmp(q, " ms", 3) == 0)
			{
				p = q + 3;
				continue;
			}
		}
		appendStringInfoChar(&buf, *p++);
	}
	/* curl ends some messages with a newline */
	while (buf.len > 0 && (buf.data[buf.len - 1] == '\n' || buf.data[buf.len - 1] == '.'))
		buf.data[--buf.len] = '\0';
	return buf.data;
}

static bool
is_tls_failure(const CpFailure *failure)
{
	return failure->code == CURLE_PEER_FAILED_VERIFICATION ||
		failure->code == CURLE_SSL_CACERT_BADFILE ||
		failure->code == CURLE_SSL_CERTPROBLEM ||
		failure->code == CURLE_SSL_CONNECT_ERROR;
}

/*
 * What to do about a TLS failure.  Each names option "ca_bundle" and the
 * system's store, the two places certificates are trusted from, and says
 * when neither is the fix (a clock, a host name).
 */
static char *
tls_hint(const CpOptions *opts, const CpFailure *failure)
{
	long		result = failure->verify_result;

	if (failure->code == CURLE_SSL_CACERT_BADFILE || failure->code == CURLE_SSL_CERTPROBLEM)
		return psprintf("Check that option \"ca_bundle\" of server \"%s\" names a readable file of PEM CA certificates, or unset it to use the system's store (Debian: package ca-certificates).",
						opts->servername);
	if (failure->code == CURLE_SSL_CONNECT_ERROR)
		return psprintf("Check that option \"base_url\" of server \"%s\" names an HTTPS server; its certificate is verified against %s.",
						opts->servername, opts->ca_bundle ? "the file of option \"ca_bundle\"" :
						"the system's CA store (Debian: package ca-certificates), or the file of option \"ca_bundle\" when set");
	if (tls_is_openssl() && tls_host_mismatch(result))
		return psprintf("Use the host name the certificate names in option \"base_url\" of server \"%s\"; option \"ca_bundle\" only chooses whom to trust, not which name.",
						opts->servername);
	if (tls_is_openssl() && (result == X509_V_ERR_CERT_HAS_EXPIRED ||
							 result == X509_V_ERR_CERT_NOT_YET_VALID))
		return psprintf("Check the database host's clock, then the certificate of the server at option \"base_url\" of server \"%s\"; no CA in option \"ca_bundle\" or the system's store can make it valid.",
						opts->servername);
	if (opts->ca_bundle)
		return psprintf("Certificates are verified against the file of option \"ca_bundle\" of server \"%s\" only: name the file of the CA that signs the server's certificate, or unset the option to use the system's store (Debian: package ca-certificates).",
						opts->servername);
	return psprintf("Certificates are verified against the system's CA store (Debian: package ca-certificates): install the CA that signs the server's certificate there, or name its file in option \"ca_bundle\" of server \"%s\".",
					opts->servername);
}

/*
 * A failure below HTTP: the reply never came whole.  What the request may
 * have done is not said here: the transport does not know what a request
 * means, and the effects layer adds it to the detail (grant.c,
 * revocation.c).
 */
void
cp_http_report_failure(const CpOptions *opts, const CpRequest *req, const CpResponse *resp)
{
	const CpFailure *failure = &resp->failure;
	const char *reason = transport_reason(failure);
	const char *curlmsg = curl_message(failure);
	const char *progress = req->progress ? req->progress : "";
	int			retries = resp->retries;
	const char *retried = retries == 0 ? "" :
		psprintf(" (after %d %s)", retries, retries == 1 ? "retry" : "retries");

	/* nothing of curl's message: it names the port, which was never tried */
	if (failure->refused)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("server \"%s\" may not connect to a loopback, private or link-local address",
						opts->servername),
				 errdetail("Option \"base_url\" leads to such an address, and the server's owner is not a superuser. Nothing was sent.%s",
						   progress),
				 errhint("Only a server owned by a superuser may reach the database host or its network.")));
	if (failure->overflow || failure->code == CURLE_FILESIZE_EXCEEDED)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("OpenAI API reply is larger than \"max_response_bytes\""),
				 errdetail("The limit is %d bytes.%s", opts->max_response_bytes, progress),
				 errhint("Raise option \"max_response_bytes\" of server \"%s\", or lower \"page_size\".",
						 opts->servername)));
	if (failure->nomem)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while reading an OpenAI API reply")));
	if (failure->code == CURLE_OPERATION_TIMEDOUT)
		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("OpenAI API request timed out"),
				 errdetail("%s%s.%s", reason, retried, progress),
				 errdetail_log("%s%s (curl: %s).%s", reason, retried, curlmsg, progress),
				 errhint("Options \"connect_timeout_ms\" (%d) and \"timeout_ms\" (%d) of server \"%s\" set the limits.",
						 opts->connect_timeout_ms, opts->timeout_ms, opts->servername)));
	if (!failure->sent && is_tls_failure(failure))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to the OpenAI API"),
				 errdetail("%s%s.%s", reason, retried, progress),
				 errdetail_log("%s%s (curl: %s).%s", reason, retried, curlmsg, progress),
				 errhint("%s", tls_hint(opts, failure))));
	if (!failure->sent)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not connect to the OpenAI API"),
				 errdetail("%s%s.%s", reason, retried, progress),
				 errdetail_log("%s%s (curl: %s).%s", reason, retried, curlmsg, progress),
				 errhint("Check option \"base_url\" of server \"%s\" and the network.",
						 opts->servername)));
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("connection to the OpenAI API failed"),
			 errdetail("%s%s.%s", reason, retried, progress),
			 errdetail_log("%s%s (curl: %s).%s", reason, retried, curlmsg, progress)));
}

/*
 * A request that failed after it was sent, below HTTP: the API may have
 * acted on it (the connection died, the reply was cut or too large, the
 * time-out passed).  Returns why, or NULL when it provably did nothing or
 * when the failure is ours (no memory).
 */
const char *
cp_http_lost_reason(const CpResponse *resp)
{
	const CpFailure *failure = &resp->failure;

	if (failure->code == CURLE_OK || !failure->sent || failure->refused || failure->nomem)
		return NULL;
	if (failure->overflow || failure->code == CURLE_FILESIZE_EXCEEDED)
		return "The reply was larger than \"max_response_bytes\"";
	return transport_reason(failure);
}

/* ---------------------------------------------------------------------
 * The engine: every transfer of a batch on the connection's multi handle
 * ---------------------------------------------------------------------
 */

/* Where a transfer of a batch is. */
typedef enum CpSlotState
{
	CP_SLOT_WAITING = 0,		/* not sent yet, or waiting to be sent again */
	CP_SLOT_RUNNING,			/* an attempt is in flight */
	CP_SLOT_DONE,				/* it ended with a usable reply */
	CP_SLOT_FAILED				/* it ended without one; never sent again */
} CpSlotState;

/* The engine's side of one transfer. */
typedef struct CpSlot
{
	CpTransfer *t;
	CpSlotState state;
	CpAttempt	attempt;		/* the attempt in flight, or the last one */
	char	   *url;
	struct curl_slist *headers; /* of the attempt in flight, else NULL */
	int			handle;			/* its easy handle while in flight */
	int			attempts;		/* attempts sent */
	int			retries;		/* retries counted against max_retries */
	TimestampTz not_before;		/* its own back-off ends */
	TimestampTz started;		/* the attempt in flight was sent */
	bool		crowded;		/* another transfer was in flight beside it */
	bool		maybe_applied;	/* an attempt so far may have been applied */
} CpSlot;

/*
 * One batch of transfers.  At most cap are in flight: max_concurrency, or
 * what the batch before on the connection ended with; halved by a 429 and
 * grown back by one after cap successes in a row, so that an API that
 * limits requests in flight gets about as many as it takes.  A 429, or any
 * delay the API names, pauses the whole batch.
 */
typedef struct CpPool
{
	const CpOptions *opts;
	CpConnection *conn;
	CURLM	   *multi;
	CpSlot	   *slots;
	int			nslots;
	int			next_new;		/* first slot never sent */
	int		   *retry_queue;	/* slots waiting to be sent again, by index */
	int			nretry;
	int			inflight;
	int			max;			/* max_concurrency */
	int			cap;			/* in flight at most, now */
	int			successes;		/* in a row since cap last changed */
	TimestampTz paused_until;	/* nothing is sent before this */
	TimestampTz last_cut;		/* when cap was last halved */
	int			failed;			/* the first final failure, -1: none */
	int			free_handles[CP_MAX_CONCURRENCY];
	int			nfree;
	MemoryContext body_cxt;		/* the caller's: holds the replies */
	void		(*on_reply) (CpTransfer *t, void *arg);
	void	   *arg;
	bool		context;		/* errors of on_reply get the request line */
	CpStats    *stats;
} CpPool;

/* Shows "OpenAI API request: GET /fine_tuning/..." under an error. */
static void
transfer_error_callback(void *arg)
{
	const CpRequest *req = (const CpRequest *) arg;

	/* a path holds ids of up to hundreds of bytes, each encoded: cut it */
	errcontext("OpenAI API request: %s %s", req->method, cp_shorten(req->path));
}

/*
 * The handle outlives its transfer in the connection cache: it must keep
 * no pointer to headers freed after it or to the engine's state.
 */
static void
detach_handle(CURL *curl)
{
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(curl, CURLOPT_HEADERDATA, NULL);
	curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, NULL);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, NULL);
	curl_easy_setopt(curl, CURLOPT_PRIVATE, NULL);
}

/* Send one attempt of a transfer: it joins the multi handle. */
static void
start_slot(CpPool *pool, CpSlot *slot)
{
	CpTransfer *t = slot->t;
	int			h = pool->free_handles[pool->nfree - 1];
	CURL	   *curl;
	struct curl_slist *headers;
	CURLMcode	mc;
	int			i;

	/* these may raise: nothing is held yet */
	curl = (CURL *) cp_connection_curl(pool->conn, h);
	headers = build_headers(pool->opts, &t->req);

	memset(&slot->attempt, 0, sizeof(slot->attempt));
	memset(&t->resp, 0, sizeof(t->resp));
	/* known before this attempt ends: a cancel may abandon it */
	t->resp.earlier_applied = slot->maybe_applied;
	slot->attempt.body.limit = (size_t) pool->opts->max_response_bytes;
	slot->attempt.body.cxt = pool->body_cxt;
	slot->attempt.headers.resp = &t->resp;
	slot->attempt.headers.retry_after_ms = -1;
	slot->attempt.headers.should_retry = -1;
	slot->attempt.headers.key = pool->opts->api_key;
	slot->attempt.headers.curl = curl;
	slot->attempt.restricted = pool->opts->restricted;
	slot->attempt.https = pg_strncasecmp(slot->url, "https://", 8) == 0;
	setup_handle(curl, (CURLSH *) cp_connection_share(pool->conn), pool->opts, &t->req,
				 headers, slot->url, &slot->attempt);
	curl_easy_setopt(curl, CURLOPT_PRIVATE, (void *) slot);
	mc = curl_multi_add_handle(pool->multi, curl);
	if (mc != CURLM_OK)
	{
		detach_handle(curl);
		free_headers(headers);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION),
				 errmsg("could not start an HTTP request"),
				 errdetail("The curl multi handle failed (curl multi error %d).", (int) mc),
				 errdetail_log("The curl multi handle failed (curl multi error %d: %s).",
							   (int) mc, curl_multi_strerror(mc))));
	}
	pool->nfree--;
	slot->handle = h;
	slot->headers = headers;
	slot->state = CP_SLOT_RUNNING;
	slot->attempts++;
	slot->started = GetCurrentTimestamp();
	slot->crowded = pool->inflight > 0;
	if (pool->inflight > 0)
		for (i = 0; i < pool->nslots; i++)
			if (pool->slots[i].state == CP_SLOT_RUNNING)
				pool->slots[i].crowded = true;
	pool->inflight++;
}

/*
 * Take an attempt's handle out of the multi handle: a transfer that has
 * not ended is abandoned, and curl closes its connection.  Records what
 * became of it (the transfer's outcome: ended says whether curl finished
 * it, with attempt.code) and the status received.
 */
static void
detach_slot(CpPool *pool, CpSlot *slot, bool ended)
{
	CURL	   *curl = (CURL *) cp_connection_curl(pool->conn, slot->handle);
	CpTransfer *t = slot->t;
	long		request_size = 0;

	curl_multi_remove_handle(pool->multi, curl);
	/* bytes of request handed to the network: zero means it never left */
	curl_easy_getinfo(curl, CURLINFO_REQUEST_SIZE, &request_size);
	slot->attempt.sent = request_size > 0;
	/* what the attempt cost in connections, and why its TLS failed if it did */
	if (curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &slot->attempt.new_connections) != CURLE_OK)
		slot->attempt.new_connections = 0;
	if (curl_easy_getinfo(curl, CURLINFO_SSL_VERIFYRESULT, &slot->attempt.verify_result) != CURLE_OK)
		slot->attempt.verify_result = 0;
	if (ended && slot->attempt.code == CURLE_OK)
	{
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &t->resp.status);
		t->outcome = CP_REPLIED;
	}
	else
		t->outcome = slot->attempt.sent ? CP_SENT_NO_REPLY : CP_NOT_SENT;
	detach_handle(curl);
	free_headers(slot->headers);
	slot->headers = NULL;
	pool->free_handles[pool->nfree++] = slot->handle;
	pool->inflight--;
}

/* A transfer has its usable reply: hand it to on_reply. */
static void
deliver(CpPool *pool, CpSlot *slot)
{
	ErrorContextCallback errcallback;

	slot->state = CP_SLOT_DONE;
	slot->t->done = true;
	if (pool->cap < pool->max && ++pool->successes >= pool->cap)
	{
		pool->cap++;
		pool->successes = 0;
	}
	if (pool->on_reply == NULL)
		return;
	if (pool->context)
	{
		errcallback.callback = transfer_error_callback;
		errcallback.arg = (void *) &slot->t->req;
		errcallback.previous = error_context_stack;
		error_context_stack = &errcallback;
	}
	pool->on_reply(slot->t, pool->arg);
	if (pool->context)
		error_context_stack = errcallback.previous;
}

/*
 * Count an ended attempt in checkpoint_perms_stats (stats.c), with its
 * error in our words: the status, or why no whole reply came.  The
 * request id is a header from the network: one that holds the key is not
 * kept.
 */
static void
count_attempt(CpPool *pool, CpSlot *slot)
{
	const CpResponse *resp = &slot->t->resp;
	const CpAttempt *attempt = &slot->attempt;
	const char *key = pool->opts->api_key;
	CpStatsAttempt a;
	char		error[CP_STATS_ERROR_LEN];

	memset(&a, 0, sizeof(a));
	a.at = GetCurrentTimestamp();
	a.status = attempt->code == CURLE_OK ? resp->status : 0;
	a.retry = slot->attempts > 1;
	a.bytes = resp->len;
	a.ms = (double) (a.at - slot->started) / 1000.0;
	if (attempt->code != CURLE_OK)
		a.error = attempt->body.overflow ? "The reply was larger than max_response_bytes" :
			attempt->refused ? "A connection to a reserved address was refused" :
			transport_reason(&resp->failure);
	else if (a.status < 200 || a.status >= 300)
	{
		snprintf(error, sizeof(error), "HTTP %ld", a.status);
		a.error = error;
	}
	a.request_id = key && key[0] && strstr(resp->request_id, key) ? "" : resp->request_id;
	cp_stats_count(pool->opts, slot->t->req.method, &a);
}

/*
 * Copy what an ended attempt left into its transfer's reply: the body, the
 * retries, and why it has no whole reply (resp.failure), for the api layer.
 */
static void
record_attempt(CpPool *pool, CpSlot *slot)
{
	CpResponse *resp = &slot->t->resp;
	CpAttempt  *attempt = &slot->attempt;

	resp->body = attempt->body.data ? attempt->body.data :
		MemoryContextStrdup(pool->body_cxt, "");
	resp->len = attempt->body.len;
	resp->retries = slot->attempts - 1;
	resp->earlier_applied = slot->maybe_applied;
	resp->failure.code = (int) attempt->code;
	resp->failure.sent = attempt->sent;
	resp->failure.overflow = attempt->body.overflow;
	resp->failure.nomem = attempt->body.nomem;
	resp->failure.refused = attempt->refused;
	resp->failure.verify_result = attempt->verify_result;
	/* curl's text may quote a header of the reply: masked like one */
	copy_masked(resp->failure.message, sizeof(resp->failure.message),
				attempt->errbuf, strnlen(attempt->errbuf, sizeof(attempt->errbuf)),
				pool->opts->api_key);
	/* a 429 or another 4xx, or a request never sent, did nothing */
	if (attempt->sent &&
		!(attempt->code == CURLE_OK && resp->status >= 400 && resp->status < 500))
		slot->maybe_applied = true;
	if (pool->stats)
	{
		pool->stats->requests++;
		pool->stats->bytes += resp->len;
		if (attempt->code == CURLE_OK && resp->status == 429)
			pool->stats->rate_limited++;
		pool->stats->connections += attempt->new_connections;
		if (attempt->https && attempt->new_connections > 0)
		{
			pool->stats->tls_handshakes += attempt->new_connections;
			if (attempt->headers.tls_resumed)
				pool->stats->tls_resumed++;
		}
	}
	count_attempt(pool, slot);
}

/*
 * Whether a 429 halves the batch's cap: once per burst (the 429s of the
 * attempts sent before it count once).  Returns whether the attempt was
 * rate-limited.
 */
static bool
note_rate_limit(CpPool *pool, CpSlot *slot)
{
	bool		rate_limited = slot->attempt.code == CURLE_OK && slot->t->resp.status == 429;

	if (rate_limited && slot->started >= pool->last_cut)
	{
		pool->cap = Max(1, pool->cap / 2);
		pool->successes = 0;
		pool->last_cut = GetCurrentTimestamp();
		cp_stats_set_cap(pool->opts, pool->cap, true);
	}
	return rate_limited;
}

/*
 * A 429 or 5xx that names a delay (retry-after-ms, retry-after) speaks for
 * the server, not this request: the API's limits are per organization and
 * project, so every backend of this PostgreSQL that sends to the server
 * waits until then (stats.c keeps the moment when preloaded), whether or
 * not this request is retried.
 */
static void
share_pause(CpPool *pool, CpSlot *slot)
{
	double		ms = slot->attempt.headers.retry_after_ms;
	long		status = slot->t->resp.status;

	/* a delay longer than retries honour is not honoured here either */
	if (slot->attempt.code != CURLE_OK || ms < 0 || ms > CP_MAX_RETRY_AFTER_MS ||
		(status != 429 && status < 500))
		return;
	cp_stats_pause(pool->opts, GetCurrentTimestamp() + (TimestampTz) ceil(ms) * 1000);
}

/*
 * Put a failed attempt back to be sent again, if the retry policy allows:
 * should_retry, within max_retries unless for_free (a 429 that answered
 * the batch, not this request), and only while the batch has not failed.
 */
static bool
retry_later(CpPool *pool, CpSlot *slot, bool rate_limited)
{
	CpTransfer *t = slot->t;
	bool		for_free = rate_limited && slot->crowded;
	long		delay;

	if (pool->failed >= 0 || pool->opts->max_retries <= 0 ||
		!(slot->retries < pool->opts->max_retries || for_free) ||
		!should_retry(&t->req, &t->resp, &slot->attempt))
		return false;
	delay = retry_delay_ms(slot->retries, &slot->attempt);
	if (!for_free)
		slot->retries++;
	if (pool->stats)
		pool->stats->retries++;
	/* what a DBA needs to tell a rate limit from a flaky network */
	if (slot->attempt.code == CURLE_OK)
		elog(DEBUG1, "checkpoint_perms: retrying %s to server \"%s\" in %ld ms after HTTP %ld",
			 t->req.method, pool->opts->servername, delay, t->resp.status);
	else
		elog(DEBUG1, "checkpoint_perms: retrying %s to server \"%s\" in %ld ms: %s",
			 t->req.method, pool->opts->servername, delay, transport_reason(&t->resp.failure));
	pfree(t->resp.body);
	t->resp.body = NULL;
	slot->state = CP_SLOT_WAITING;
	slot->not_before = GetCurrentTimestamp() + (TimestampTz) delay * 1000;
	/* a 429, or a delay the API names, holds back the whole batch */
	if (rate_limited || slot->attempt.headers.retry_after_ms >= 0)
		pool->paused_until = Max(pool->paused_until, slot->not_before);
	pool->retry_queue[pool->nretry++] = slot - pool->slots;
	return true;
}

/*
 * An attempt has ended: deliver its reply, send it again later, or record
 * the batch's failure.  Each transfer keeps the retry policy of a single
 * request (should_retry), with one exception: a 429 that came while other
 * transfers of the batch were in flight answers the batch, not this
 * request, so it costs the request none of its max_retries.  That cannot
 * go on for ever: every such 429 halves cap, and once a transfer runs
 * alone its 429s count.
 */
static void
finish_slot(CpPool *pool, CpSlot *slot, CURLcode code)
{
	CpTransfer *t = slot->t;

	slot->attempt.code = code;
	detach_slot(pool, slot, true);
	record_attempt(pool, slot);

	if (code == CURLE_OK &&
		((t->resp.status >= 200 && t->resp.status < 300) ||
		 (t->resp.status == 404 && t->req.missing_ok)))
	{
		deliver(pool, slot);
		return;
	}
	share_pause(pool, slot);
	if (retry_later(pool, slot, note_rate_limit(pool, slot)))
		return;

	/*
	 * A request sent whose reply was lost or was a server error, when its
	 * caller learns otherwise what it did (req.unknown_is_answer): not a
	 * failure of the batch.
	 */
	if (t->req.unknown_is_answer &&
		((t->outcome == CP_SENT_NO_REPLY && cp_http_lost_reason(&t->resp) != NULL) ||
		 (t->outcome == CP_REPLIED && t->resp.status >= 500)))
	{
		deliver(pool, slot);
		return;
	}

	slot->state = CP_SLOT_FAILED;
	if (pool->failed < 0)
		pool->failed = slot - pool->slots;
	else
	{
		pfree(t->resp.body);
		t->resp.body = NULL;
	}
}

/* When a waiting transfer may be sent: its own back-off and the batch's. */
static TimestampTz
ready_at(const CpPool *pool, const CpSlot *slot)
{
	return Max(slot->not_before, pool->paused_until);
}

/*
 * Send what may be sent now, transfers waiting for a retry first, then new
 * ones in order.  Returns the milliseconds until a waiting transfer may be
 * sent, or -1 when none waits for a time (none left, the batch failed, or
 * only room in flight is missing: an ending transfer makes it).
 */
static long
start_ready(CpPool *pool)
{
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake = 0;
	int			i;
	int			kept;

	if (pool->failed >= 0)
		return -1;
	/* a delay the API named to another backend holds this one back too */
	if (pool->nretry > 0 || pool->next_new < pool->nslots)
		pool->paused_until = Max(pool->paused_until, cp_stats_paused_until(pool->opts));

	kept = 0;
	for (i = 0; i < pool->nretry; i++)
	{
		CpSlot	   *slot = &pool->slots[pool->retry_queue[i]];

		if (pool->inflight < pool->cap && ready_at(pool, slot) <= now)
		{
			start_slot(pool, slot);
			continue;
		}
		if (ready_at(pool, slot) > now && (wake == 0 || ready_at(pool, slot) < wake))
			wake = ready_at(pool, slot);
		pool->retry_queue[kept++] = pool->retry_queue[i];
	}
	pool->nretry = kept;

	while (pool->next_new < pool->nslots && pool->inflight < pool->cap)
	{
		if (pool->paused_until > now)
		{
			if (wake == 0 || pool->paused_until < wake)
				wake = pool->paused_until;
			break;
		}
		start_slot(pool, &pool->slots[pool->next_new++]);
	}
	if (wake == 0)
		return -1;
	return (long) ((wake - now + 999) / 1000);
}

/* Take the batch's share of the connection: its handles and its cap. */
static void
open_pool(CpPool *pool)
{
	int			i;

	pool->conn = cp_get_connection(pool->opts);
	pool->multi = (CURLM *) cp_connection_multi(pool->conn);
	pool->max = Max(1, Min(pool->opts->max_concurrency, cp_connection_size(pool->conn)));
	pool->cap = Min(pool->max, cp_connection_cap(pool->conn));
	/* where the last batch to this server, in any backend, left off */
	if (cp_stats_cap(pool->opts) > 0)
		pool->cap = Min(pool->max, cp_stats_cap(pool->opts));
	pool->nfree = pool->max;
	for (i = 0; i < pool->max; i++)
		pool->free_handles[i] = pool->max - 1 - i;
	pool->failed = -1;
}

/* curl's multi handle itself failed: the batch cannot go on. */
CP_NORETURN static void report_multi_failure(CURLMcode mc);

static void
report_multi_failure(CURLMcode mc)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("HTTP transfer failed"),
			 errdetail("The curl multi handle failed (curl multi error %d).", (int) mc),
			 errdetail_log("The curl multi handle failed (curl multi error %d: %s).",
						   (int) mc, curl_multi_strerror(mc))));
}

/*
 * Let curl move the transfers in flight, and finish those that ended.
 * Returns whether one did (then there may be room to start the next at
 * once); raises when the multi handle itself fails.
 */
static bool
perform(CpPool *pool)
{
	int			running = 0;
	int			queued;
	bool		ended = false;
	CURLMcode	mc;
	CURLMsg    *msg;

	mc = curl_multi_perform(pool->multi, &running);
	while (mc == CURLM_OK && (msg = curl_multi_info_read(pool->multi, &queued)) != NULL)
	{
		CpSlot	   *slot = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &slot);
		if (slot == NULL || slot->state != CP_SLOT_RUNNING)
			continue;
		finish_slot(pool, slot, msg->data.result);
		ended = true;
	}
	if (mc != CURLM_OK)
		report_multi_failure(mc);
	return ended;
}

/* Wait on the network for at most CP_POLL_MS (less when a retry is due). */
static void
poll_network(CpPool *pool, long wait)
{
	CURLMcode	mc;

	pgstat_report_wait_start(wait_event(false));
	mc = curl_multi_poll(pool->multi, NULL, 0,
						 wait >= 0 && wait < CP_POLL_MS ? (int) wait : CP_POLL_MS, NULL);
	pgstat_report_wait_end();
	if (mc != CURLM_OK)
		report_multi_failure(mc);
}

/*
 * Run a batch to its end: until every transfer has its reply, or failed
 * and those in flight beside it have ended.  The loop waits at most
 * CP_POLL_MS at a time and checks for interrupts in between; if one is
 * pending, CHECK_FOR_INTERRUPTS throws, and every transfer in flight is
 * detached on the way out (curl closes their connections; each keeps the
 * outcome detach_slot records), as it is when on_reply raises.  Returns
 * the first failed transfer, or -1.
 */
static int
run_pool(CpPool *pool)
{
	int			i;

	open_pool(pool);
	cp_connection_set_busy(pool->conn, true);
	PG_TRY();
	{
		for (;;)
		{
			long		wait = start_ready(pool);

			if (pool->inflight == 0)
			{
				if (wait < 0)
					break;
				/* everything waits for a back-off or the batch's pause */
				interruptible_sleep(wait);
				continue;
			}
			/* an ended transfer may make room: start the next at once */
			if (!perform(pool) && pool->inflight > 0)
				poll_network(pool, wait);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_FINALLY();
	{
		for (i = 0; i < pool->nslots; i++)
			if (pool->slots[i].state == CP_SLOT_RUNNING)
			{
				detach_slot(pool, &pool->slots[i], false);
				pool->slots[i].state = CP_SLOT_FAILED;
			}
		cp_connection_set_cap(pool->conn, pool->cap);
		cp_stats_set_cap(pool->opts, pool->cap, false);
		cp_connection_set_busy(pool->conn, false);
	}
	PG_END_TRY();
	return pool->failed;
}

/*
 * Send n transfers as a batch (see cp_http_send_many).  Replies are
 * allocated in the caller's memory context; the engine's own state lives
 * in a context of its own, gone when this returns or raises.
 */
static int
send_transfers(const CpOptions *opts, CpTransfer *t, int n,
			   void (*on_reply) (CpTransfer *t, void *arg), void *arg,
			   CpStats *stats, bool context)
{
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext,
											  "checkpoint_perms transfers",
											  ALLOCSET_SMALL_SIZES);
	CpPool		pool;
	int			failed;
	int			i;

	memset(&pool, 0, sizeof(pool));
	pool.opts = opts;
	pool.nslots = n;
	pool.slots = MemoryContextAllocZero(cxt, sizeof(CpSlot) * n);
	pool.retry_queue = MemoryContextAlloc(cxt, sizeof(int) * n);
	pool.body_cxt = CurrentMemoryContext;
	pool.on_reply = on_reply;
	pool.arg = arg;
	pool.context = context;
	pool.stats = stats;
	for (i = 0; i < n; i++)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(cxt);

		pool.slots[i].t = &t[i];
		pool.slots[i].url = psprintf("%s%s", opts->base_url, t[i].req.path);
		MemoryContextSwitchTo(oldcxt);
		t[i].done = false;
		t[i].outcome = CP_NOT_SENT;
	}
	PG_TRY();
	{
		failed = run_pool(&pool);
	}
	PG_FINALLY();
	{
		MemoryContextDelete(cxt);
	}
	PG_END_TRY();
	return failed;
}

/* Checked at every use: the server's owner or the list may have changed. */
static void
check_base_url(const CpOptions *opts, const char *progress)
{
	if (opts->restricted && !cp_base_url_allowed(opts->base_url))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("server \"%s\" may not use its option \"base_url\"", opts->servername),
				 errdetail("The server's owner is not a superuser, and the URL is neither the default nor listed in checkpoint_perms.allowed_base_urls. Nothing was sent.%s",
						   progress),
				 errhint("Ask a superuser to list the URL in checkpoint_perms.allowed_base_urls, or to own the server.")));
}

/* Send one transfer: see transport.h. */
bool
cp_http_send(const CpOptions *opts, CpTransfer *t, CpStats *stats)
{
	check_base_url(opts, t->req.progress ? t->req.progress : "");
	return send_transfers(opts, t, 1, NULL, NULL, stats, false) < 0;
}

/* Send n independent transfers as one batch: see transport.h. */
int
cp_http_send_many(const CpOptions *opts, CpTransfer *t, int n,
				  void (*on_reply) (CpTransfer *t, void *arg), void *arg, CpStats *stats)
{
	if (n <= 0)
		return -1;
	check_base_url(opts, t[0].req.progress ? t[0].req.progress : "");
	return send_transfers(opts, t, n, on_reply, arg, stats, true);
}
