/* Small helpers of the ACME core: base64, strict number and duration
 * parsing, token checks. No httpd headers here or anywhere in core/. */
#ifndef ACME_UTIL_H
#define ACME_UTIL_H

#include <apr_pools.h>
#include <apr_time.h>
#include <apr_tables.h>

/* Longest challenge token we accept; RFC 8555 tokens are 43 characters. */
#define ACME_TOKEN_MAX 128

/* base64url without padding (RFC 7515 §2). Result lives in p. */
const char *acme_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len);

/* Decodes base64url (padded or not) or standard base64. Returns APR_EINVAL
 * on any character outside those alphabets or an impossible length.
 * *out lives in p and is NUL-terminated for convenience. */
apr_status_t acme_b64_decode(unsigned char **out, apr_size_t *outlen,
                             apr_pool_t *p, const char *in);

/* 1 if token is 1..ACME_TOKEN_MAX characters of [A-Za-z0-9_-]. */
int acme_token_is_valid(const char *token);

/* Strict parsers: the whole string must be consumed. */
apr_status_t acme_parse_int64(apr_int64_t *out, const char *s,
                              apr_int64_t min, apr_int64_t max);
/* "90s", "15m", "12h", "7d" (the unit is case-blind), or "0". A number
 * without a unit is APR_EINCOMPLETE (the caller can suggest units), any
 * other text APR_EINVAL; *out is only set on success. */
apr_status_t acme_parse_duration(apr_interval_time_t *out, const char *s);
/* RFC 3339 timestamp ("2026-11-26T12:00:00Z", fractions and offsets
 * allowed), strictly. */
apr_status_t acme_parse_rfc3339(apr_time_t *out, const char *s);

/* "2h 3m" style text for logs; lives in p. */
const char *acme_duration_str(apr_pool_t *p, apr_interval_time_t d);

/* Lower-case hex SHA-256 of a string; used to name per-CA directories. */
const char *acme_sha256_hex(apr_pool_t *p, const char *s, apr_size_t len);

/* 1 if name is a plausible DNS name (labels of [a-z0-9-], optional
 * leading "*."), lower-cased copy in *out. */
int acme_dns_name_normalize(const char **out, apr_pool_t *p, const char *name);

/* 1 if s is an IPv4 or IPv6 address literal: never a DNS identifier
 * (RFC 8555 §7.1.4; addresses are "ip" identifiers, RFC 8738). */
int acme_is_ip_literal(const char *s);

/* Canonical text of an IP address literal in *out (in p): IPv4 dotted
 * decimal, IPv6 in RFC 5952 §4 form (lower case, no leading zeros, the
 * longest run of two or more zero groups as "::"), the form RFC 8738 §3
 * asks for in "ip" identifiers. 0 if s is no address literal. */
int acme_ip_normalize(const char **out, apr_pool_t *p, const char *s);

/* The same text for the 4 or 16 bytes of an iPAddress SAN; 0 for other
 * lengths (a name constraint's address/mask pair, or garbage). */
int acme_ip_from_bytes(const char **out, apr_pool_t *p,
                       const unsigned char *b, apr_size_t len);

/* A certificate name: an IP address (canonical) or a DNS name
 * (acme_dns_name_normalize) whose last label is not all digits. */
int acme_name_normalize(const char **out, apr_pool_t *p, const char *name);

/* The ACME identifier type of a normalized name: "ip" or "dns". */
const char *acme_identifier_type(const char *name);

/* The reverse-DNS name of an address literal (RFC 8738 §6): for an "ip"
 * identifier, tls-alpn-01 (RFC 8737) is asked with this name as SNI,
 * "10.2.0.192.in-addr.arpa" or the nibbles of IPv6 under "ip6.arpa",
 * and the challenge certificate carries the address itself as its
 * iPAddress SAN. NULL if ip is no address literal. In p. */
const char *acme_ip_reverse_name(apr_pool_t *p, const char *ip);

/* Is s one of a's strings (const char*, compared exactly)? 0 for a NULL
 * array. */
int acme_str_in(const apr_array_header_t *a, const char *s);

/* Joins an array of const char* with sep; lives in p. */
const char *acme_str_join(apr_pool_t *p, const apr_array_header_t *a,
                          const char *sep);

/* A copy of an array of strings, sorted (strcmp); in p. */
apr_array_header_t *acme_str_sorted(apr_pool_t *p,
                                    const apr_array_header_t *a);

#endif
