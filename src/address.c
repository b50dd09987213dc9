/*-------------------------------------------------------------------------
 *
 * address.c
 *		  Which network addresses a server owned by a role that is not
 *		  superuser may not reach: the database host and its networks.
 *
 * option.c asks it of a base_url's literal address when the server is
 * created; http.c asks it of every address curl is about to connect to,
 * so that a name resolving elsewhere later cannot slip through.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/socket.h>

#include "checkpoint_perms.h"

/* An IPv4 address (network order) the database host or its network owns. */
static bool
ipv4_is_reserved(const unsigned char *a)
{
	return a[0] == 0 ||			/* 0.0.0.0/8: "this host" */
		a[0] == 10 ||			/* 10/8 private */
		(a[0] == 100 && (a[1] & 0xC0) == 64) ||	/* 100.64/10 CGNAT */
		a[0] == 127 ||			/* loopback */
		(a[0] == 169 && a[1] == 254) || /* link-local, cloud metadata */
		(a[0] == 172 && (a[1] & 0xF0) == 16) || /* 172.16/12 private */
		(a[0] == 192 && a[1] == 0 && a[2] == 0) ||	/* 192.0.0/24 IETF */
		(a[0] == 192 && a[1] == 168) || /* 192.168/16 private */
		(a[0] == 198 && (a[1] & 0xFE) == 18) || /* 198.18/15 benchmarking */
		a[0] >= 224;			/* multicast, reserved, broadcast */
}

/*
 * Is this address one that only a superuser's server may reach: loopback,
 * private, link-local, unique-local, multicast or unspecified?  IPv6 forms
 * that carry an IPv4 address (mapped, NAT64, 6to4) are judged by it.
 * addr is a struct in_addr or in6_addr; any other family counts as
 * reserved.
 */
bool
cp_address_is_reserved(int family, const void *addr)
{
	static const unsigned char zero[12] = {0};
	const unsigned char *a = addr;

	if (family == AF_INET)
		return ipv4_is_reserved(a);
	if (family != AF_INET6)
		return true;
	if (memcmp(a, zero, 10) == 0 && a[10] == 0xFF && a[11] == 0xFF)
		return ipv4_is_reserved(a + 12);	/* ::ffff:0:0/96 mapped */
	if (memcmp(a, zero, 12) == 0)
		return true;			/* ::, ::1, IPv4-compatible */
	if (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xFF && a[3] == 0x9B)
	{
		if (memcmp(a + 4, zero, 8) == 0)
			return ipv4_is_reserved(a + 12);	/* 64:ff9b::/96 NAT64 */
		return true;			/* 64:ff9b:1::/48 local NAT64 */
	}
	if (a[0] == 0x20 && a[1] == 0x02)
		return ipv4_is_reserved(a + 2); /* 2002::/16 6to4 */
	return (a[0] & 0xFE) == 0xFC ||	/* fc00::/7 unique local */
		(a[0] == 0xFE && (a[1] & 0x80) == 0x80) ||	/* fe80::/10, fec0::/10 */
		a[0] == 0xFF ||			/* multicast */
		(a[0] == 0x01 && a[1] == 0x00 && memcmp(a + 2, zero, 6) == 0);	/* 100::/64 */
}
