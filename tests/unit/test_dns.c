/* The resolver's answer as the dns-01 visibility check reads it
 * (acme_dns_answer_parse): datagrams built here byte by byte. */
#include <string.h>

#include "test_suites.h"
#include "acme_dns.h"

#define ID 0x1234
#define VALUE "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"

/* An answer to ID for _acme-challenge.a.test: rcode, then one TXT
 * record whose character-strings are parts (NULL-terminated list). */
static apr_size_t answer(unsigned char *m, unsigned rcode,
                         const char *const *parts)
{
    static const unsigned char head[] = {
        ID >> 8, ID & 0xff, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
        15, '_', 'a', 'c', 'm', 'e', '-', 'c', 'h', 'a', 'l', 'l', 'e',
        'n', 'g', 'e', 1, 'a', 4, 't', 'e', 's', 't', 0, 0, 16, 0, 1,
        0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60 };
    apr_size_t n = sizeof(head), rd = 0;
    int i;

    memcpy(m, head, n);
    m[3] |= rcode;
    for (i = 0; parts[i]; i++) {
        rd += 1 + strlen(parts[i]);
    }
    m[n++] = (unsigned char)(rd >> 8);
    m[n++] = (unsigned char)rd;
    for (i = 0; parts[i]; i++) {
        m[n++] = (unsigned char)strlen(parts[i]);
        memcpy(m + n, parts[i], strlen(parts[i]));
        n += strlen(parts[i]);
    }
    return n;
}

START_TEST(a_txt_record_with_the_value_is_found)
{
    static const char *const one[] = { VALUE, NULL };
    static const char *const split[] = { "LoqXcYV8q5ONbJ", "QxbmR7SCTNo3tiAXDfowyjxAjEuX0",
                                         NULL };
    static const char *const other[] = { "something else", NULL };
    unsigned char m[512];
    apr_size_t n;
    int found = 7;

    n = answer(m, 0, one);
    ck_assert_int_eq(acme_dns_answer_parse(&found, m, n, ID, VALUE),
                     APR_SUCCESS);
    ck_assert_int_eq(found, 1);
    /* TXT data in several character-strings is read as one */
    n = answer(m, 0, split);
    ck_assert_int_eq(acme_dns_answer_parse(&found, m, n, ID, VALUE),
                     APR_SUCCESS);
    ck_assert_int_eq(found, 1);
    n = answer(m, 0, other);
    ck_assert_int_eq(acme_dns_answer_parse(&found, m, n, ID, VALUE),
                     APR_SUCCESS);
    ck_assert_int_eq(found, 0);
    /* NXDOMAIN: an answer, nothing there */
    n = answer(m, 3, one);
    ck_assert_int_eq(acme_dns_answer_parse(&found, m, n, ID, VALUE),
                     APR_SUCCESS);
    ck_assert_int_eq(found, 0);
}
END_TEST

START_TEST(what_is_not_the_answer_is_refused)
{
    static const char *const one[] = { VALUE, NULL };
    unsigned char m[512];
    apr_size_t n = answer(m, 0, one), cut;
    int found;

    /* another query's id, or a query instead of a response */
    ck_assert_int_eq(acme_dns_answer_parse(&found, m, n, ID + 1, VALUE),
                     APR_EINVAL);
    m[2] &= 0x7f;
    ck_assert_int_eq(acme_dns_answer_parse(&found, m, n, ID, VALUE),
                     APR_EINVAL);
    m[2] |= 0x80;
    /* cut anywhere: never read past the end, never found */
    for (cut = 0; cut < n; cut++) {
        found = 7;
        ck_assert_int_eq(acme_dns_answer_parse(&found, m, cut, ID, VALUE),
                         APR_EINVAL);
        ck_assert_int_eq(found, 0);
    }
    /* an rdata length past the datagram */
    m[n - (1 + strlen(VALUE)) - 1] = 0xff;
    ck_assert_int_eq(acme_dns_answer_parse(&found, m, n, ID, VALUE),
                     APR_EINVAL);
}
END_TEST

Suite *dns_suite(void)
{
    Suite *s = suite_create("dns");
    TCase *tc = tcase_create("answers");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, a_txt_record_with_the_value_is_found);
    tcase_add_test(tc, what_is_not_the_answer_is_refused);
    suite_add_tcase(s, tc);
    return s;
}
