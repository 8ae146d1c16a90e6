/* Unit tests of acme_util (base64, tokens, strict parsers, RFC 3339
 * timestamps, DNS names) and acme_problem (problem documents -> errors
 * with hints). */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "test_suites.h"
#include "acme_util.h"
#include "acme_problem.h"
#include "acme_json.h"

/* --- base64url encoding ------------------------------------------------ */

static const char *enc(const char *s)
{
    return acme_b64url_encode(test_pool, s, strlen(s));
}

START_TEST(b64url_encode_rfc4648_vectors)
{
    /* RFC 4648 §10, with the padding removed (RFC 7515 §2). */
    ck_assert_str_eq(enc(""), "");
    ck_assert_str_eq(enc("f"), "Zg");
    ck_assert_str_eq(enc("fo"), "Zm8");
    ck_assert_str_eq(enc("foo"), "Zm9v");
    ck_assert_str_eq(enc("foob"), "Zm9vYg");
    ck_assert_str_eq(enc("fooba"), "Zm9vYmE");
    ck_assert_str_eq(enc("foobar"), "Zm9vYmFy");
}
END_TEST

START_TEST(b64url_encode_uses_url_alphabet)
{
    static const unsigned char bytes[] = { 0xfb, 0xff };

    /* Standard base64 would be "+/8=". */
    ck_assert_str_eq(acme_b64url_encode(test_pool, bytes, sizeof(bytes)), "-_8");
}
END_TEST

/* --- base64 decoding --------------------------------------------------- */

/* Decodes in and checks the bytes; len of want given for binary data. */
static void assert_decodes(const char *in, const void *want, apr_size_t wantlen)
{
    unsigned char *out = NULL;
    apr_size_t outlen = 12345;
    apr_status_t rv = acme_b64_decode(&out, &outlen, test_pool, in);

    ck_assert_msg(rv == APR_SUCCESS, "decoding '%s' failed: %d", in, rv);
    ck_assert_uint_eq(outlen, wantlen);
    ck_assert_msg(memcmp(out, want, wantlen) == 0, "'%s' decoded wrong", in);
    ck_assert_int_eq(out[outlen], '\0');
}

static void assert_rejected(const char *in)
{
    unsigned char *out = NULL;
    apr_size_t outlen = 0;

    ck_assert_msg(acme_b64_decode(&out, &outlen, test_pool, in) == APR_EINVAL,
                  "'%s' was accepted", in);
}

START_TEST(b64_decode_url_unpadded)
{
    static const unsigned char bytes[] = { 0xfb, 0xff };

    assert_decodes("", "", 0);
    assert_decodes("Zg", "f", 1);
    assert_decodes("Zm8", "fo", 2);
    assert_decodes("Zm9v", "foo", 3);
    assert_decodes("Zm9vYmE", "fooba", 5);
    assert_decodes("Zm9vYmFy", "foobar", 6);
    assert_decodes("-_8", bytes, 2);
}
END_TEST

START_TEST(b64_decode_url_padded)
{
    static const unsigned char bytes[] = { 0xfb, 0xff };

    assert_decodes("Zg==", "f", 1);
    assert_decodes("Zm8=", "fo", 2);
    assert_decodes("-_8=", bytes, 2);
}
END_TEST

START_TEST(b64_decode_standard_alphabet)
{
    static const unsigned char bytes[] = { 0xfb, 0xff };
    static const unsigned char more[] = { 0xfb, 0xef, 0xbe };

    assert_decodes("+/8=", bytes, 2);
    assert_decodes("+/8", bytes, 2);
    assert_decodes("++++", more, 3);
    assert_decodes("Zm9vYg==", "foob", 4);
}
END_TEST

START_TEST(b64_decode_rejects_invalid_chars)
{
    assert_rejected("Zm9v!");
    assert_rejected("Zm 9v");
    assert_rejected("Zm9v\n");
    assert_rejected("Zm.v");
    assert_rejected("Z=g=");     /* padding inside the data */
}
END_TEST

START_TEST(b64_decode_rejects_mixed_alphabets)
{
    assert_rejected("-/8=");
    assert_rejected("+_8");
}
END_TEST

START_TEST(b64_decode_rejects_bad_lengths)
{
    assert_rejected("Z");        /* one character cannot hold a byte */
    assert_rejected("Zm9vY");
    assert_rejected("Z===");     /* more than two padding characters */
    assert_rejected("Zg===");
}
END_TEST

/* --- tokens ------------------------------------------------------------ */

START_TEST(token_valid_accepts_rfc8555_token)
{
    ck_assert(acme_token_is_valid("evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"));
    ck_assert(acme_token_is_valid("a"));
    ck_assert(acme_token_is_valid("_-09AZaz"));
}
END_TEST

START_TEST(token_valid_rejects_path_tricks)
{
    ck_assert(!acme_token_is_valid(NULL));
    ck_assert(!acme_token_is_valid(""));
    ck_assert(!acme_token_is_valid("."));
    ck_assert(!acme_token_is_valid(".."));
    ck_assert(!acme_token_is_valid("/"));
    ck_assert(!acme_token_is_valid("abc/def"));
    ck_assert(!acme_token_is_valid("abc.def"));
    ck_assert(!acme_token_is_valid("%2e"));
    ck_assert(!acme_token_is_valid("abc def"));
    ck_assert(!acme_token_is_valid("abc\\def"));
}
END_TEST

START_TEST(token_valid_length_limit)
{
    char tok[ACME_TOKEN_MAX + 2];

    memset(tok, 'a', sizeof(tok));
    tok[ACME_TOKEN_MAX] = '\0';
    ck_assert_uint_eq(strlen(tok), 128);
    ck_assert(acme_token_is_valid(tok));
    tok[ACME_TOKEN_MAX] = 'a';
    tok[ACME_TOKEN_MAX + 1] = '\0';
    ck_assert_uint_eq(strlen(tok), 129);
    ck_assert(!acme_token_is_valid(tok));
}
END_TEST

/* --- durations and integers -------------------------------------------- */

static apr_interval_time_t dur(const char *s)
{
    apr_interval_time_t d = -1;

    ck_assert_msg(acme_parse_duration(&d, s) == APR_SUCCESS,
                  "'%s' was rejected", s);
    return d;
}

START_TEST(duration_accepts_units)
{
    ck_assert_int_eq(dur("30s"), apr_time_from_sec(30));
    ck_assert_int_eq(dur("30S"), apr_time_from_sec(30));
    ck_assert_int_eq(dur("15m"), apr_time_from_sec(15 * 60));
    ck_assert_int_eq(dur("12h"), apr_time_from_sec(12 * 3600));
    ck_assert_int_eq(dur("7d"), apr_time_from_sec(7 * 86400));
    ck_assert_int_eq(dur("7D"), apr_time_from_sec(7 * 86400));
    ck_assert_int_eq(dur("0"), 0);
    ck_assert_int_eq(dur("0s"), 0);
    ck_assert_int_eq(dur("0d"), 0);
}
END_TEST

/* A bare number is ambiguous (ACMECheckInterval 12: seconds or hours?):
 * it is refused with its own status so the caller can suggest units. */
START_TEST(duration_needs_a_unit)
{
    static const char *const bare[] = { "1", "12", "30", "007", "3660" };
    apr_size_t i;

    for (i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
        apr_interval_time_t d = 42;
        ck_assert_msg(acme_parse_duration(&d, bare[i]) == APR_EINCOMPLETE,
                      "'%s' was not refused as a number without unit",
                      bare[i]);
        ck_assert_msg(d == 42, "'%s' changed the output", bare[i]);
    }
    /* Garbage stays garbage, not "a number without unit". */
    {
        apr_interval_time_t d = 42;
        ck_assert(acme_parse_duration(&d, "12x") == APR_EINVAL);
        ck_assert(acme_parse_duration(&d, "-12") == APR_EINVAL);
        ck_assert(acme_parse_duration(&d, "99999999999999999") == APR_EINVAL);
    }
}
END_TEST

START_TEST(duration_rejects_garbage)
{
    static const char *const bad[] = {
        "", "-1", "+1", "5x", "1.5h", " 5", "5 ", "s", "d", "5dd", "0x10",
        "99999999999999d", "99999999999999999999999999", "3661d",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_interval_time_t d = 42;
        ck_assert_msg(acme_parse_duration(&d, bad[i]) == APR_EINVAL,
                      "'%s' was accepted", bad[i]);
        ck_assert_msg(d == 42, "'%s' changed the output", bad[i]);
    }
    {
        apr_interval_time_t d = 42;
        ck_assert(acme_parse_duration(&d, NULL) == APR_EINVAL);
    }
}
END_TEST

START_TEST(duration_upper_bound_is_ten_years)
{
    apr_interval_time_t d;

    ck_assert_int_eq(dur("3660d"), apr_time_from_sec(APR_INT64_C(3660) * 86400));
    ck_assert(acme_parse_duration(&d, "3661d") == APR_EINVAL);
}
END_TEST

START_TEST(int64_bounds)
{
    apr_int64_t v = 0;

    ck_assert(acme_parse_int64(&v, "10", 10, 20) == APR_SUCCESS);
    ck_assert_int_eq(v, 10);
    ck_assert(acme_parse_int64(&v, "20", 10, 20) == APR_SUCCESS);
    ck_assert_int_eq(v, 20);
    ck_assert(acme_parse_int64(&v, "-5", -10, 0) == APR_SUCCESS);
    ck_assert_int_eq(v, -5);
    v = 7;
    ck_assert(acme_parse_int64(&v, "9", 10, 20) == APR_EINVAL);
    ck_assert(acme_parse_int64(&v, "21", 10, 20) == APR_EINVAL);
    ck_assert_int_eq(v, 7);
}
END_TEST

START_TEST(int64_rejects_garbage_and_overflow)
{
    apr_int64_t v = 7;

    ck_assert(acme_parse_int64(&v, NULL, 0, 100) == APR_EINVAL);
    ck_assert(acme_parse_int64(&v, "", 0, 100) == APR_EINVAL);
    ck_assert(acme_parse_int64(&v, " 5", 0, 100) == APR_EINVAL);
    ck_assert(acme_parse_int64(&v, "5 ", 0, 100) == APR_EINVAL);
    ck_assert(acme_parse_int64(&v, "5a", 0, 100) == APR_EINVAL);
    ck_assert(acme_parse_int64(&v, "99999999999999999999", 0,
                               APR_INT64_MAX) == APR_EINVAL);
    ck_assert_int_eq(v, 7);
    ck_assert(acme_parse_int64(&v, "9223372036854775807", 0,
                               APR_INT64_MAX) == APR_SUCCESS);
    ck_assert(v == APR_INT64_MAX);
}
END_TEST

START_TEST(duration_str_formats)
{
    ck_assert_str_eq(acme_duration_str(test_pool, apr_time_from_sec(45)), "45s");
    ck_assert_str_eq(acme_duration_str(test_pool, apr_time_from_sec(125)),
                     "2m 5s");
    ck_assert_str_eq(acme_duration_str(test_pool, apr_time_from_sec(7380)),
                     "2h 3m");
    ck_assert_str_eq(acme_duration_str(test_pool,
                                       apr_time_from_sec(2 * 86400 + 3600)),
                     "2d 1h");
}
END_TEST

/* --- misc helpers ------------------------------------------------------ */

START_TEST(sha256_hex_known_value)
{
    ck_assert_str_eq(acme_sha256_hex(test_pool, "abc", 3),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(str_join_joins)
{
    apr_array_header_t *a = apr_array_make(test_pool, 3, sizeof(const char *));

    ck_assert_str_eq(acme_str_join(test_pool, a, ", "), "");
    APR_ARRAY_PUSH(a, const char *) = "a.org";
    ck_assert_str_eq(acme_str_join(test_pool, a, ", "), "a.org");
    APR_ARRAY_PUSH(a, const char *) = "b.org";
    ck_assert_str_eq(acme_str_join(test_pool, a, ", "), "a.org, b.org");
}
END_TEST

START_TEST(str_in_finds_exact_members)
{
    apr_array_header_t *a = apr_array_make(test_pool, 2, sizeof(const char *));

    ck_assert(!acme_str_in(NULL, "a.org"));
    ck_assert(!acme_str_in(a, "a.org"));
    APR_ARRAY_PUSH(a, const char *) = "a.org";
    APR_ARRAY_PUSH(a, const char *) = "b.org";
    ck_assert(acme_str_in(a, "a.org"));
    ck_assert(acme_str_in(a, "b.org"));
    ck_assert(!acme_str_in(a, "A.org"));
    ck_assert(!acme_str_in(a, "a.or"));
}
END_TEST

/* --- RFC 3339 timestamps ---------------------------------------------- */

/* 2026-11-26T12:00:00Z in seconds since the epoch (date -u -d ... +%s). */
#define T_20261126_12 APR_INT64_C(1795694400)

static void rfc3339_is(const char *in, apr_int64_t want_sec)
{
    apr_time_t t = 0;
    apr_status_t rv = acme_parse_rfc3339(&t, in);

    ck_assert_msg(rv == APR_SUCCESS, "'%s' rejected: %d", in, rv);
    ck_assert_msg(t == apr_time_from_sec(want_sec), "'%s' is %" APR_INT64_T_FMT
                  "s, not %" APR_INT64_T_FMT "s", in, (apr_int64_t)
                  apr_time_sec(t), want_sec);
}

static void rfc3339_bad(const char *in)
{
    apr_time_t t = 4711;

    ck_assert_msg(acme_parse_rfc3339(&t, in) == APR_EINVAL,
                  "'%s' accepted", in ? in : "(null)");
    ck_assert_int_eq(t, 4711);    /* untouched on failure */
}

START_TEST(rfc3339_utc)
{
    rfc3339_is("2026-11-26T12:00:00Z", T_20261126_12);
    rfc3339_is("2026-11-26t12:00:00z", T_20261126_12);
    rfc3339_is("1970-01-01T00:00:00Z", 0);
    rfc3339_is("2024-02-29T23:59:59Z", APR_INT64_C(1709251199));
    rfc3339_is("2000-02-29T00:00:00Z", APR_INT64_C(951782400));
    rfc3339_is("2026-12-31T23:59:59Z", APR_INT64_C(1798761599));
}
END_TEST

START_TEST(rfc3339_fractions_are_dropped)
{
    rfc3339_is("2026-11-26T12:00:00.123456Z", T_20261126_12);
    rfc3339_is("2026-11-26T12:00:00.9Z", T_20261126_12);
    rfc3339_is("2026-11-26T12:00:00.000000000000000000000001+00:00",
               T_20261126_12);
}
END_TEST

START_TEST(rfc3339_offsets_to_utc)
{
    /* 12:00 at +02:00 is 10:00 UTC; 12:00 at -05:30 is 17:30 UTC. */
    rfc3339_is("2026-11-26T12:00:00+02:00", T_20261126_12 - 2 * 3600);
    rfc3339_is("2026-11-26T12:00:00-05:30", T_20261126_12 + 5 * 3600 + 1800);
    rfc3339_is("2026-11-26T12:00:00.5+02:00", T_20261126_12 - 2 * 3600);
    rfc3339_is("2026-11-26T12:00:00+00:00", T_20261126_12);
    rfc3339_is("2026-11-26T12:00:00-00:00", T_20261126_12);
    /* Across midnight and the year's end. */
    rfc3339_is("2027-01-01T01:00:00+02:00", APR_INT64_C(1798761599) + 1 - 3600);
}
END_TEST

START_TEST(rfc3339_leap_second)
{
    /* 23:59:60 is counted as 23:59:59; POSIX time has no leap seconds. */
    rfc3339_is("2026-12-31T23:59:60Z", APR_INT64_C(1798761599));
}
END_TEST

START_TEST(rfc3339_rejects)
{
    rfc3339_bad(NULL);
    rfc3339_bad("");
    rfc3339_bad("2026-11-26T12:00:00");          /* no zone */
    rfc3339_bad("2026-11-26T12:00:00.5");
    rfc3339_bad("2026-13-01T12:00:00Z");
    rfc3339_bad("2026-00-01T12:00:00Z");
    rfc3339_bad("2026-11-00T12:00:00Z");
    rfc3339_bad("2026-11-32T12:00:00Z");
    rfc3339_bad("2026-11-26 12:00:00Z");
    rfc3339_bad("2026-11-26T12:00:00Zjunk");
    rfc3339_bad("2026-11-26T12:00:00Z ");
    rfc3339_bad("2026-11-26T12:00:00+02:00x");
    rfc3339_bad(" 2026-11-26T12:00:00Z");
    rfc3339_bad("2026-11-26T24:00:00Z");
    rfc3339_bad("2026-11-26T12:60:00Z");
    rfc3339_bad("2026-11-26T12:00:61Z");
    rfc3339_bad("2026-11-26T12:00Z");
    rfc3339_bad("2026-11-26");
    rfc3339_bad("2026-1-26T12:00:00Z");
    rfc3339_bad("26-11-26T12:00:00Z");
    rfc3339_bad("2026-11-26T12:00:00.Z");        /* a fraction has digits */
    rfc3339_bad("2026-11-26T12:00:00+0200");
    rfc3339_bad("2026-11-26T12:00:00+02");
    rfc3339_bad("2026-11-26T12:00:00+24:00");
    rfc3339_bad("2026-11-26T12:00:00+02:60");
    rfc3339_bad("2026-11-26T12:00:00 +02:00");
    rfc3339_bad("2026-02-30T12:00:00Z");         /* no such day */
    rfc3339_bad("2026-04-31T12:00:00Z");
    rfc3339_bad("2025-02-29T12:00:00Z");
    rfc3339_bad("2100-02-29T12:00:00Z");         /* not a leap year */
    rfc3339_bad("1969-12-31T23:59:59Z");         /* before APR's epoch */
}
END_TEST

/* --- DNS names --------------------------------------------------------- */

static const char *dns_ok(const char *in)
{
    const char *out = NULL;

    ck_assert_msg(acme_dns_name_normalize(&out, test_pool, in),
                  "'%s' was rejected", in);
    return out;
}

static void dns_bad(const char *in)
{
    const char *out = "untouched";

    ck_assert_msg(!acme_dns_name_normalize(&out, test_pool, in),
                  "'%s' was accepted", in);
    ck_assert_str_eq(out, "untouched");
}

START_TEST(dns_name_lowercases_and_drops_root_dot)
{
    ck_assert_str_eq(dns_ok("Example.ORG"), "example.org");
    ck_assert_str_eq(dns_ok("www.example.org."), "www.example.org");
    ck_assert_str_eq(dns_ok("a-b.c0.example"), "a-b.c0.example");
    ck_assert_str_eq(dns_ok("localhost"), "localhost");
}
END_TEST

START_TEST(dns_name_accepts_leading_wildcard)
{
    ck_assert_str_eq(dns_ok("*.Example.org"), "*.example.org");
}
END_TEST

START_TEST(dns_name_rejects_bad_names)
{
    dns_bad(NULL);
    dns_bad("");
    dns_bad(".");
    dns_bad("bad_name!");
    dns_bad("under_score.org");
    dns_bad("a..b");
    dns_bad(".a.b");
    dns_bad("a.b..");
    dns_bad("-a.b");
    dns_bad("a-.b");
    dns_bad("a.b-");
    dns_bad("*");
    dns_bad("*.");
    dns_bad("a.*.b");
    dns_bad("**.b");
    dns_bad("a b.org");
}
END_TEST

START_TEST(ip_literals_are_told_apart)
{
    ck_assert(acme_is_ip_literal("192.0.2.10"));
    ck_assert(acme_is_ip_literal("2001:db8::1"));
    ck_assert(acme_is_ip_literal("::1"));
    ck_assert(!acme_is_ip_literal("192.0.2.10.example"));
    ck_assert(!acme_is_ip_literal("example.org"));
    ck_assert(!acme_is_ip_literal("300.1.1.1"));
    ck_assert(!acme_is_ip_literal(NULL));
}
END_TEST

/* RFC 8738 §3 asks for RFC 5952 text: lower case, no leading zeros,
 * the first longest run of two or more zero groups as "::", a single
 * zero group kept. */
START_TEST(ip_canonical_text)
{
    static const char *const cases[][2] = {
        { "192.0.2.10", "192.0.2.10" },
        { "2001:DB8::1", "2001:db8::1" },
        { "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1" },
        { "2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1" },
        { "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1" },
        { "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1" },
        { "0:0:0:0:0:0:0:0", "::" },
        { "0:0:0:0:0:0:0:1", "::1" },
        { "fe80:0:0:0:0:0:0:0", "fe80::" },
        { "2001:db8::1:0", "2001:db8::1:0" },
        { "::ffff:192.0.2.1", "::ffff:c000:201" },
    };
    const char *out;
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        out = NULL;
        ck_assert_msg(acme_ip_normalize(&out, test_pool, cases[i][0]),
                      "%s", cases[i][0]);
        ck_assert_str_eq(out, cases[i][1]);
        ck_assert_str_eq(acme_identifier_type(out), "ip");
    }
    ck_assert(!acme_ip_normalize(&out, test_pool, "192.0.2"));
    ck_assert(!acme_ip_normalize(&out, test_pool, "fe80::1%eth0"));
    ck_assert(!acme_ip_normalize(&out, test_pool, "[2001:db8::1]"));
    ck_assert(!acme_ip_normalize(&out, test_pool, "example.org"));
    ck_assert(!acme_ip_from_bytes(&out, test_pool,
                                  (const unsigned char *)"12345678", 8));
    ck_assert_str_eq(acme_identifier_type("example.org"), "dns");
    ck_assert(acme_name_normalize(&out, test_pool, "WWW.Example.org."));
    ck_assert_str_eq(out, "www.example.org");
    ck_assert(acme_name_normalize(&out, test_pool, "2001:DB8::0:1"));
    ck_assert_str_eq(out, "2001:db8::1");
    ck_assert(!acme_name_normalize(&out, test_pool, "bad_name.org"));
    ck_assert(!acme_name_normalize(&out, test_pool, "192.0.2.300"));
    ck_assert(!acme_name_normalize(&out, test_pool, "192.0.2"));
    ck_assert(acme_name_normalize(&out, test_pool, "host1.example2"));
}
END_TEST

/* RFC 8738 §6 names: what tls-alpn-01 gets as SNI for an address. */
START_TEST(ip_reverse_names)
{
    ck_assert_str_eq(acme_ip_reverse_name(test_pool, "192.0.2.10"),
                     "10.2.0.192.in-addr.arpa");
    ck_assert_str_eq(acme_ip_reverse_name(test_pool, "2001:db8::1"),
                     "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                     "0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    ck_assert_ptr_null(acme_ip_reverse_name(test_pool, "example.org"));
}
END_TEST

START_TEST(dns_name_label_length)
{
    char label[70], *name;

    memset(label, 'a', 63);
    label[63] = '\0';
    name = apr_pstrcat(test_pool, label, ".example.org", NULL);
    ck_assert_str_eq(dns_ok(name), name);
    label[63] = 'a';
    label[64] = '\0';
    dns_bad(apr_pstrcat(test_pool, label, ".example.org", NULL));
    dns_bad(apr_pstrcat(test_pool, "www.", label, NULL));
}
END_TEST

START_TEST(dns_name_total_length)
{
    /* 3 labels of 63 and one of 61 with dots: 253 characters, the limit;
     * one more character is too long. */
    char label[64];
    const char *name;

    memset(label, 'a', 63);
    label[63] = '\0';
    name = apr_pstrcat(test_pool, label, ".", label, ".", label, ".",
                       label + 2, NULL);
    ck_assert_uint_eq(strlen(name), 253);
    ck_assert_str_eq(dns_ok(name), name);
    name = apr_pstrcat(test_pool, label, ".", label, ".", label, ".",
                       label + 1, NULL);
    ck_assert_uint_eq(strlen(name), 254);
    dns_bad(name);
}
END_TEST

/* --- problem documents ------------------------------------------------- */

static acme_error_t *problem(const char *type, const char *detail, int status)
{
    json_t *doc = acme_json_pool_own(test_pool, json_object());

    if (type) {
        json_object_set_new(doc, "type", json_string(
            apr_pstrcat(test_pool, ACME_ERR_NS, type, NULL)));
    }
    if (detail) {
        json_object_set_new(doc, "detail", json_string(detail));
    }
    return acme_error_from_problem(test_pool, doc, status, "testing");
}

static void assert_hint_has(const acme_error_t *e, const char *needle)
{
    ck_assert_ptr_nonnull(e->hint);
    ck_assert_msg(strstr(e->hint, needle) != NULL, "hint '%s' lacks '%s'",
                  e->hint, needle);
}

START_TEST(problem_bad_nonce_is_transient)
{
    acme_error_t *e = problem("badNonce", "JWS has an invalid anti-replay "
                              "nonce", 400);

    ck_assert_str_eq(e->type, "badNonce");
    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
    ck_assert_int_eq(e->http_status, 400);
    ck_assert_str_eq(e->detail, "JWS has an invalid anti-replay nonce");
    ck_assert_str_eq(e->activity, "testing");
    ck_assert(e->status != APR_SUCCESS);
}
END_TEST

START_TEST(problem_eab_required_is_config)
{
    acme_error_t *e = problem("externalAccountRequired", "no EAB given", 403);

    ck_assert_str_eq(e->type, "externalAccountRequired");
    ck_assert_int_eq(e->kind, ACME_FAIL_CONFIG);
    assert_hint_has(e, "ACMEEAB");
}
END_TEST

START_TEST(problem_rate_limited_is_transient)
{
    acme_error_t *e = problem("rateLimited", "too many certificates already "
                              "issued", 429);

    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
}
END_TEST

START_TEST(problem_caa_is_config)
{
    acme_error_t *e = problem("caa", "CAA record for example.org prevents "
                              "issuance", 403);

    ck_assert_int_eq(e->kind, ACME_FAIL_CONFIG);
    assert_hint_has(e, "CAA");
}
END_TEST

START_TEST(problem_malformed_tos_detail_hints_agree_tos)
{
    acme_error_t *e = problem("malformed", "Please agree to the term of "
                              "service.", 400);

    ck_assert_int_eq(e->kind, ACME_FAIL_CONFIG);
    assert_hint_has(e, "ACMEAgreeTOS");
}
END_TEST

START_TEST(problem_malformed_account_detail_hints_eab)
{
    acme_error_t *e = problem("malformed", "Unable to create account", 400);

    ck_assert_int_eq(e->kind, ACME_FAIL_CONFIG);
    assert_hint_has(e, "ACMEEAB");
}
END_TEST

START_TEST(problem_expired_or_refused_order_is_transient)
{
    /* A CA's generic "malformed" for an order it no longer takes: a new
     * order helps, waiting for a configuration change does not. */
    acme_error_t *e = problem("malformed", "Validity period of application "
                              "has been expired", 400);

    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
    assert_hint_has(e, "new order");
    e = problem("malformed", "Unable to accept order", 400);
    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
    assert_hint_has(e, "new order");
    e = problem("malformed", "unable to ACCEPT order (state: ready)", 403);
    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
}
END_TEST

START_TEST(problem_agreeable_is_not_eab)
{
    /* "agrEEABle" holds the letters "eab" but says nothing about EAB. */
    acme_error_t *e = problem("malformed", "The request was not agreeable",
                              400);

    ck_assert_int_eq(e->kind, ACME_FAIL_CONFIG);
    ck_assert_ptr_nonnull(e->hint);
    ck_assert_ptr_null(strstr(e->hint, "ACMEEAB"));
    ck_assert_ptr_null(strstr(e->hint, "ACMEAgreeTOS"));
    e = problem("rateLimited", "Disagreeable: too many orders", 429);
    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
    ck_assert_ptr_null(strstr(e->hint, "ACMEEAB"));
}
END_TEST

START_TEST(problem_external_account_detail_hints_eab)
{
    acme_error_t *e = problem("unauthorized", "External account binding "
                              "failed: unknown key id", 403);

    ck_assert_int_eq(e->kind, ACME_FAIL_CONFIG);
    assert_hint_has(e, "ACMEEAB");
}
END_TEST

START_TEST(problem_unknown_type_by_http_status)
{
    acme_error_t *e = problem("somethingNew", "whatever", 503);

    ck_assert_str_eq(e->type, "somethingNew");
    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
    e = problem("somethingNew", "whatever", 429);
    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
    e = problem("somethingNew", "whatever", 400);
    ck_assert_int_eq(e->kind, ACME_FAIL_CONFIG);
    /* No HTTP status: a challenge's error object; the CA's business. */
    e = problem("somethingNew", "whatever", 0);
    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
}
END_TEST

START_TEST(problem_without_document)
{
    acme_error_t *e = acme_error_from_problem(test_pool, NULL, 502, "x");

    ck_assert_ptr_null(e->type);
    ck_assert_ptr_nonnull(strstr(e->detail, "502"));
    ck_assert_int_eq(e->kind, ACME_FAIL_TRANSIENT);
    e = acme_error_from_problem(test_pool, NULL, 404, "x");
    ck_assert_int_eq(e->kind, ACME_FAIL_CONFIG);
}
END_TEST

START_TEST(problem_non_string_fields_ignored)
{
    json_t *doc = acme_json_pool_own(test_pool,
        json_pack("{s:i,s:[]}", "type", 5, "detail"));
    acme_error_t *e = acme_error_from_problem(test_pool, doc, 500, "x");

    ck_assert_ptr_null(e->type);
    ck_assert_str_eq(e->detail, "HTTP status 500");
}
END_TEST

START_TEST(problem_short_type)
{
    ck_assert_str_eq(acme_problem_short_type(
        "urn:ietf:params:acme:error:badNonce"), "badNonce");
    ck_assert_str_eq(acme_problem_short_type("about:blank"), "about:blank");
    ck_assert_str_eq(acme_problem_short_type("urn:ietf:params:acme:errorx"),
                     "urn:ietf:params:acme:errorx");
    ck_assert_ptr_null(acme_problem_short_type(NULL));
}
END_TEST

START_TEST(error_line_has_all_parts)
{
    acme_error_t *e = problem("caa", "CAA forbids", 403);
    const char *line;

    e->activity = "creating an order for example.org";
    line = acme_error_line(test_pool, e);
    ck_assert_ptr_nonnull(strstr(line, "creating an order for example.org"));
    ck_assert_ptr_nonnull(strstr(line, "caa"));
    ck_assert_ptr_nonnull(strstr(line, "CAA forbids"));
    ck_assert_ptr_nonnull(strstr(line, e->hint));
    /* activity first, hint last */
    ck_assert(strstr(line, "creating") < strstr(line, "CAA forbids"));
    ck_assert(strstr(line, "CAA forbids") < strstr(line, e->hint));
}
END_TEST

START_TEST(error_line_of_own_error)
{
    acme_error_t *e = acme_error_make(test_pool, APR_EGENERAL,
                                      ACME_FAIL_CONFIG, NULL, NULL, NULL);

    ck_assert_str_eq(acme_error_line(test_pool, e), "failed");
    e = acme_error_make(test_pool, APR_EGENERAL, ACME_FAIL_CONFIG, "act",
                        "broke", "fix it");
    ck_assert_str_eq(acme_error_line(test_pool, e), "act: broke -- fix it");
}
END_TEST

Suite *util_suite(void)
{
    Suite *s = suite_create("util");
    TCase *tc;

    tc = tcase_create("base64");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, b64url_encode_rfc4648_vectors);
    tcase_add_test(tc, b64url_encode_uses_url_alphabet);
    tcase_add_test(tc, b64_decode_url_unpadded);
    tcase_add_test(tc, b64_decode_url_padded);
    tcase_add_test(tc, b64_decode_standard_alphabet);
    tcase_add_test(tc, b64_decode_rejects_invalid_chars);
    tcase_add_test(tc, b64_decode_rejects_mixed_alphabets);
    tcase_add_test(tc, b64_decode_rejects_bad_lengths);
    suite_add_tcase(s, tc);

    tc = tcase_create("parsers");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, token_valid_accepts_rfc8555_token);
    tcase_add_test(tc, token_valid_rejects_path_tricks);
    tcase_add_test(tc, token_valid_length_limit);
    tcase_add_test(tc, duration_accepts_units);
    tcase_add_test(tc, duration_rejects_garbage);
    tcase_add_test(tc, duration_needs_a_unit);
    tcase_add_test(tc, duration_upper_bound_is_ten_years);
    tcase_add_test(tc, int64_bounds);
    tcase_add_test(tc, int64_rejects_garbage_and_overflow);
    tcase_add_test(tc, duration_str_formats);
    tcase_add_test(tc, sha256_hex_known_value);
    tcase_add_test(tc, str_join_joins);
    tcase_add_test(tc, str_in_finds_exact_members);
    suite_add_tcase(s, tc);

    tc = tcase_create("rfc3339");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, rfc3339_utc);
    tcase_add_test(tc, rfc3339_fractions_are_dropped);
    tcase_add_test(tc, rfc3339_offsets_to_utc);
    tcase_add_test(tc, rfc3339_leap_second);
    tcase_add_test(tc, rfc3339_rejects);
    suite_add_tcase(s, tc);

    tc = tcase_create("dns");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, dns_name_lowercases_and_drops_root_dot);
    tcase_add_test(tc, dns_name_accepts_leading_wildcard);
    tcase_add_test(tc, dns_name_rejects_bad_names);
    tcase_add_test(tc, ip_literals_are_told_apart);
    tcase_add_test(tc, ip_canonical_text);
    tcase_add_test(tc, ip_reverse_names);
    tcase_add_test(tc, dns_name_label_length);
    tcase_add_test(tc, dns_name_total_length);
    suite_add_tcase(s, tc);

    tc = tcase_create("problem");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, problem_bad_nonce_is_transient);
    tcase_add_test(tc, problem_eab_required_is_config);
    tcase_add_test(tc, problem_rate_limited_is_transient);
    tcase_add_test(tc, problem_caa_is_config);
    tcase_add_test(tc, problem_malformed_tos_detail_hints_agree_tos);
    tcase_add_test(tc, problem_malformed_account_detail_hints_eab);
    tcase_add_test(tc, problem_expired_or_refused_order_is_transient);
    tcase_add_test(tc, problem_agreeable_is_not_eab);
    tcase_add_test(tc, problem_external_account_detail_hints_eab);
    tcase_add_test(tc, problem_unknown_type_by_http_status);
    tcase_add_test(tc, problem_without_document);
    tcase_add_test(tc, problem_non_string_fields_ignored);
    tcase_add_test(tc, problem_short_type);
    tcase_add_test(tc, error_line_has_all_parts);
    tcase_add_test(tc, error_line_of_own_error);
    suite_add_tcase(s, tc);

    return s;
}
