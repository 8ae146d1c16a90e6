#include <string.h>
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <openssl/evp.h>

#include "acme_util.h"

const char *acme_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len)
{
    /* EVP_EncodeBlock writes standard base64 with padding and a NUL. */
    char *out = apr_palloc(p, 4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    int i;

    for (i = 0; i < n; i++) {
        if (out[i] == '+') out[i] = '-';
        else if (out[i] == '/') out[i] = '_';
    }
    while (n > 0 && out[n - 1] == '=') {
        n--;
    }
    out[n] = '\0';
    return out;
}

apr_status_t acme_b64_decode(unsigned char **out, apr_size_t *outlen,
                             apr_pool_t *p, const char *in)
{
    apr_size_t len = strlen(in), i, padded;
    int url = 0, std = 0, pad = 0, n;
    char *buf;

    while (len > 0 && in[len - 1] == '=') {
        len--;
        pad++;
    }
    if (pad > 2 || len % 4 == 1) {
        return APR_EINVAL;
    }
    padded = (len + 3) / 4 * 4;
    buf = apr_palloc(p, padded + 1);
    for (i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-' || c == '_') {
            url = 1;
            c = (c == '-') ? '+' : '/';
        }
        else if (c == '+' || c == '/') {
            std = 1;
        }
        else if (!apr_isalnum(c)) {
            return APR_EINVAL;
        }
        buf[i] = c;
    }
    if (url && std) {
        return APR_EINVAL;
    }
    for (; i < padded; i++) {
        buf[i] = '=';
    }
    buf[padded] = '\0';
    *out = apr_palloc(p, padded / 4 * 3 + 1);
    n = EVP_DecodeBlock(*out, (unsigned char *)buf, (int)padded);
    if (n < 0) {
        return APR_EINVAL;
    }
    /* EVP_DecodeBlock counts the bytes the padding stands for. */
    n -= (int)(padded - len);
    (*out)[n] = '\0';
    *outlen = (apr_size_t)n;
    return APR_SUCCESS;
}

int acme_token_is_valid(const char *token)
{
    apr_size_t i;

    if (!token || !*token) {
        return 0;
    }
    for (i = 0; token[i]; i++) {
        char c = token[i];
        if (i >= ACME_TOKEN_MAX) {
            return 0;
        }
        if (!(apr_isalnum(c) || c == '-' || c == '_')) {
            return 0;
        }
    }
    return 1;
}

apr_status_t acme_parse_int64(apr_int64_t *out, const char *s,
                              apr_int64_t min, apr_int64_t max)
{
    char *end;
    apr_int64_t v;

    if (!s || !*s || apr_isspace(*s)) {
        return APR_EINVAL;
    }
    errno = 0;
    v = apr_strtoi64(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        return APR_EINVAL;
    }
    *out = v;
    return APR_SUCCESS;
}

apr_status_t acme_parse_duration(apr_interval_time_t *out, const char *s)
{
    /* Ten years is more than any sane interval and keeps us off overflow. */
    const apr_int64_t max_s = APR_INT64_C(10) * 366 * 86400;
    apr_int64_t n, unit;
    apr_size_t len;
    char num[32];

    if (!s || !(len = strlen(s)) || len >= sizeof(num)) {
        return APR_EINVAL;
    }
    memcpy(num, s, len + 1);
    switch (apr_tolower(num[len - 1])) {
    case 's': unit = 1; num[--len] = '\0'; break;
    case 'm': unit = 60; num[--len] = '\0'; break;
    case 'h': unit = 3600; num[--len] = '\0'; break;
    case 'd': unit = 86400; num[--len] = '\0'; break;
    default: unit = 0; break;    /* no unit: only a plain 0 is clear */
    }
    if (!apr_isdigit(num[0])
        || acme_parse_int64(&n, num, 0, max_s / (unit ? unit : 1))
           != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!unit && n != 0) {
        /* "12" meant 12 seconds to the parser and 12 hours to whoever
         * wrote ACMECheckInterval 12: refuse rather than guess. */
        return APR_EINCOMPLETE;
    }
    *out = apr_time_from_sec(n * unit);
    return APR_SUCCESS;
}

const char *acme_duration_str(apr_pool_t *p, apr_interval_time_t d)
{
    apr_int64_t s = apr_time_sec(d);

    if (s >= 86400 && s % 3600 == 0) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "d %" APR_INT64_T_FMT "h",
                            s / 86400, (s % 86400) / 3600);
    }
    if (s >= 3600) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "h %" APR_INT64_T_FMT "m",
                            s / 3600, (s % 3600) / 60);
    }
    if (s >= 60) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT "m %" APR_INT64_T_FMT "s",
                            s / 60, s % 60);
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT "s", s);
}

const char *acme_sha256_hex(apr_pool_t *p, const char *s, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;
    char *hex;

    EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL);
    hex = apr_palloc(p, mdlen * 2 + 1);
    for (i = 0; i < mdlen; i++) {
        apr_snprintf(hex + 2 * i, 3, "%02x", md[i]);
    }
    hex[mdlen * 2] = '\0';
    return hex;
}

int acme_dns_name_normalize(const char **out, apr_pool_t *p, const char *name)
{
    apr_size_t len = name ? strlen(name) : 0, i, label = 0;
    char *n;

    if (len == 0) {
        return 0;
    }
    n = apr_pstrdup(p, name);
    if (n[len - 1] == '.') {
        n[--len] = '\0';    /* absolute form: drop the root dot */
    }
    if (len == 0 || len > 253) {
        return 0;
    }
    i = (n[0] == '*' && n[1] == '.') ? 2 : 0;
    if (i == len) {
        return 0;
    }
    for (; i < len; i++) {
        char c = apr_tolower(n[i]);
        n[i] = c;
        if (c == '.') {
            if (label == 0 || n[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!(apr_isalnum(c) || (c == '-' && label > 0)) || ++label > 63) {
            return 0;
        }
    }
    if (label == 0 || n[len - 1] == '-') {
        return 0;
    }
    *out = n;
    return 1;
}

int acme_str_in(const apr_array_header_t *a, const char *s)
{
    int i;

    for (i = 0; a && i < a->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(a, i, const char *), s)) {
            return 1;
        }
    }
    return 0;
}

const char *acme_str_join(apr_pool_t *p, const apr_array_header_t *a,
                          const char *sep)
{
    const char *s = "";
    int i;

    for (i = 0; a && i < a->nelts; i++) {
        s = apr_pstrcat(p, s, i ? sep : "", APR_ARRAY_IDX(a, i, const char *),
                        NULL);
    }
    return s;
}

/* Reads exactly n digits. */
static int digits(const char **s, int n, int *out)
{
    int v = 0;

    while (n-- > 0) {
        if (!apr_isdigit(**s)) {
            return 0;
        }
        v = v * 10 + (*(*s)++ - '0');
    }
    *out = v;
    return 1;
}

/* Days of month mo (1..12) in year y of the Gregorian calendar. */
static int month_days(int y, int mo)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31 };

    return days[mo - 1]
        + (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

apr_status_t acme_parse_rfc3339(apr_time_t *out, const char *s)
{
    apr_time_exp_t tm;
    int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
    apr_time_t t;

    memset(&tm, 0, sizeof(tm));
    if (!s || !digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo)
        || *s++ != '-' || !digits(&s, 2, &d) || (*s != 'T' && *s != 't')
        || !++s || !digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi)
        || *s++ != ':' || !digits(&s, 2, &sec)) {
        return APR_EINVAL;
    }
    if (*s == '.') {
        if (!apr_isdigit(*++s)) {
            return APR_EINVAL;      /* time-secfrac is "." 1*DIGIT */
        }
        while (apr_isdigit(*s)) {
            s++;    /* sub-second precision does not matter here */
        }
    }
    if (*s == 'Z' || *s == 'z') {
        s++;
    }
    else if (*s == '+' || *s == '-') {
        sign = (*s++ == '-') ? -1 : 1;
        if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om)) {
            return APR_EINVAL;
        }
    }
    else {
        return APR_EINVAL;
    }
    if (*s || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23
        || mi > 59 || sec > 60 || oh > 23 || om > 59) {
        return APR_EINVAL;
    }
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec > 59 ? 59 : sec;
    if (apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *out = t - sign * apr_time_from_sec(oh * 3600 + om * 60);
    return APR_SUCCESS;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_array_header_t *acme_str_sorted(apr_pool_t *p,
                                    const apr_array_header_t *a)
{
    apr_array_header_t *copy = apr_array_copy(p, a);

    qsort(copy->elts, copy->nelts, sizeof(const char *), cmp_str);
    return copy;
}

int acme_is_ip_literal(const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];

    return s && (inet_pton(AF_INET, s, addr) == 1
                 || inet_pton(AF_INET6, s, addr) == 1);
}

int acme_ip_from_bytes(const char **out, apr_pool_t *p,
                       const unsigned char *b, apr_size_t len)
{
    char buf[8 * 5 + 1], *o = buf;
    int i, run = 0, best = -1, best_len = 1, start = -1;

    if (len == 4) {
        *out = apr_psprintf(p, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
        return 1;
    }
    if (len != 16) {
        return 0;
    }
    /* The first longest run of zero groups, if it is two or more long
     * (RFC 5952 §4.2.2, §4.2.3): inet_ntop's choice varies by libc. */
    for (i = 0; i < 8; i++) {
        if (!b[2 * i] && !b[2 * i + 1]) {
            if (run++ == 0) {
                start = i;
            }
            if (run > best_len) {
                best = start;
                best_len = run;
            }
        }
        else {
            run = 0;
        }
    }
    for (i = 0; i < 8; i++) {
        if (i == best) {
            o += apr_snprintf(o, buf + sizeof(buf) - o, "::");
            i += best_len - 1;
            continue;
        }
        o += apr_snprintf(o, buf + sizeof(buf) - o, "%s%x",
                          (i && i != best + best_len) ? ":" : "",
                          (unsigned)(b[2 * i] << 8 | b[2 * i + 1]));
    }
    *out = apr_pstrdup(p, buf);
    return 1;
}

int acme_ip_normalize(const char **out, apr_pool_t *p, const char *s)
{
    unsigned char addr[sizeof(struct in6_addr)];

    if (!s) {
        return 0;
    }
    if (inet_pton(AF_INET, s, addr) == 1) {
        return acme_ip_from_bytes(out, p, addr, 4);
    }
    if (inet_pton(AF_INET6, s, addr) == 1) {
        return acme_ip_from_bytes(out, p, addr, 16);
    }
    return 0;
}

int acme_name_normalize(const char **out, apr_pool_t *p, const char *name)
{
    const char *n, *last;

    /* Addresses first: "192.0.2.10" is also a well-formed DNS name. */
    if (acme_ip_normalize(out, p, name)) {
        return 1;
    }
    if (!acme_dns_name_normalize(&n, p, name)) {
        return 0;
    }
    /* No top-level domain is all digits (RFC 3696 §2): "192.0.2.300" is
     * a mistyped address, not a DNS name. */
    last = strrchr(n, '.');
    last = last ? last + 1 : n;
    if (last[strspn(last, "0123456789")] == '\0') {
        return 0;
    }
    *out = n;
    return 1;
}

const char *acme_identifier_type(const char *name)
{
    return acme_is_ip_literal(name) ? "ip" : "dns";
}

const char *acme_ip_reverse_name(apr_pool_t *p, const char *ip)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char a[16];
    char buf[16 * 4 + sizeof("ip6.arpa")], *o = buf;
    int i;

    if (ip && inet_pton(AF_INET, ip, a) == 1) {
        return apr_psprintf(p, "%u.%u.%u.%u.in-addr.arpa",
                            a[3], a[2], a[1], a[0]);
    }
    if (!ip || inet_pton(AF_INET6, ip, a) != 1) {
        return NULL;
    }
    for (i = 15; i >= 0; i--) {
        *o++ = hex[a[i] & 0x0f];
        *o++ = '.';
        *o++ = hex[a[i] >> 4];
        *o++ = '.';
    }
    memcpy(o, "ip6.arpa", sizeof("ip6.arpa"));
    return apr_pstrdup(p, buf);
}
