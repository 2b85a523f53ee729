/* The text forms the host sends: addresses, prefixes, hardware addresses, interface names. Strict: a value
 * either parses whole or is refused, so that validation can finish before the first netlink write. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "netconfig/netconfig.h"

int nl_ip_parse(const char *s, nl_ip *ret) {
	nl_ip ip = { 0 };

	if (!s || strnlen(s, NL_IP_STR_MAX) >= NL_IP_STR_MAX)
		return -EINVAL;
	/* inet_pton is strict for both families: no octal, no short forms, no scope suffix. */
	ip.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(ip.family, s, ip.addr) != 1)
		return -EINVAL;
	ip.prefixlen = (uint8_t)nl_ip_max_prefix(ip.family);
	*ret = ip;
	return 0;
}

int nl_prefixlen_parse(const char *s, int family, uint8_t *ret) {
	unsigned v = 0;
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > nl_ip_max_prefix(family))
		return -ERANGE;
	*ret = (uint8_t)v;
	return 0;
}

int nl_prefix_parse(const char *s, nl_ip *ret, bool *ret_has_len) {
	char addr[NL_IP_STR_MAX];
	nl_ip ip;
	int r;

	if (!s || strnlen(s, NL_IP_STR_MAX) >= NL_IP_STR_MAX)
		return -EINVAL;
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	r = nl_ip_parse(addr, &ip);
	if (r < 0)
		return r;
	if (slash) {
		r = nl_prefixlen_parse(slash + 1, ip.family, &ip.prefixlen);
		if (r < 0)
			return r;
	}
	if (ret_has_len)
		*ret_has_len = slash != NULL;
	*ret = ip;
	return 0;
}

bool nl_ip_is_network(const nl_ip *ip) {
	size_t len = nl_ip_len(ip->family);
	for (size_t bit = ip->prefixlen; bit < len * 8; bit++)
		if (ip->addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

bool nl_ip_is_zero(const nl_ip *ip) {
	for (size_t i = 0; i < nl_ip_len(ip->family); i++)
		if (ip->addr[i])
			return false;
	return true;
}

void nl_ip_format(const nl_ip *ip, char buf[static NL_IP_STR_MAX]) {
	if (!inet_ntop(ip->family == AF_INET6 ? AF_INET6 : AF_INET, ip->addr, buf, NL_IP_STR_MAX))
		buf[0] = '\0';
}

static int hexval(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int nl_hwaddr_parse(const char *s, uint8_t buf[static NL_HWADDR_MAX], uint8_t *ret_len) {
	size_t n = 0;

	if (!s || !*s)
		return -EINVAL;
	for (;;) {
		int hi = hexval(s[0]), lo = hi >= 0 ? hexval(s[1]) : -1;
		if (lo < 0 || n == NL_HWADDR_MAX)
			return -EINVAL;
		buf[n++] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (*s == '\0')
			break;
		if (*s++ != ':')
			return -EINVAL;
	}
	*ret_len = (uint8_t)n;
	return 0;
}

void nl_hwaddr_format(const uint8_t *a, size_t len, char buf[static NL_HWADDR_STR_MAX]) {
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	len = MIN(len, (size_t)NL_HWADDR_MAX);
	for (size_t i = 0; i < len; i++) {
		if (i)
			buf[o++] = ':';
		buf[o++] = hex[a[i] >> 4];
		buf[o++] = hex[a[i] & 15];
	}
	buf[o] = '\0';
}

bool nl_ifname_valid(const char *s) {
	size_t n = s ? strnlen(s, IFNAMSIZ) : 0;
	if (n == 0 || n >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || isspace((unsigned char)s[i]))
			return false;
	return true;
}
