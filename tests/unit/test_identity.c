/* Unit tests of store keys (acme_identity), hand-off verdicts
 * (acme_handoff) and the clamping of stored times (acme_schedule). */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "test_suites.h"
#include "acme_identity.h"
#include "acme_handoff.h"
#include "acme_schedule.h"

static apr_array_header_t *set_of(const char *names)
{
    apr_array_header_t *a = apr_array_make(test_pool, 4, sizeof(char *));
    char *copy = apr_pstrdup(test_pool, names), *last, *tok;

    for (tok = apr_strtok(copy, " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = tok;
    }
    return a;
}

static json_t *index_of(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);

    ck_assert_ptr_nonnull(j);
    return j;
}

static const char *legacy_key;

static int legacy_store(void *baton, const char *key)
{
    return legacy_key && !strcmp(key, legacy_key);
}

START_TEST(reordered_names_keep_their_key)
{
    json_t *idx = index_of("{\"a.test\": [\"a.test\", \"b.test\"]}");
    apr_array_header_t *sets[1] = { set_of("b.test a.test") };
    const char *keys[1];

    acme_identity_assign(keys, test_pool, idx, sets, 1, NULL, NULL);
    ck_assert_str_eq(keys[0], "a.test");
    json_decref(idx);
}
END_TEST

START_TEST(a_changed_set_keeps_the_key_it_shares_most_with)
{
    json_t *idx = index_of("{\"a.test\": [\"a.test\", \"b.test\"],"
                           " \"c.test\": [\"c.test\"]}");
    apr_array_header_t *sets[2] = { set_of("new.test b.test a.test"),
                                     set_of("d.test c.test") };
    const char *keys[2];

    acme_identity_assign(keys, test_pool, idx, sets, 2, NULL, NULL);
    ck_assert_str_eq(keys[0], "a.test");
    ck_assert_str_eq(keys[1], "c.test");
    json_decref(idx);
}
END_TEST

START_TEST(a_split_domain_leaves_the_key_to_its_namesake)
{
    /* {a, b} was stored as a.test; now {b} and {a} are separate: both
     * share one name, and a.test stays with the domain named a.test. */
    json_t *idx = index_of("{\"a.test\": [\"a.test\", \"b.test\"]}");
    apr_array_header_t *sets[2] = { set_of("b.test"), set_of("a.test") };
    const char *keys[2];

    acme_identity_assign(keys, test_pool, idx, sets, 2, NULL, NULL);
    ck_assert_str_eq(keys[0], "b.test");
    ck_assert_str_eq(keys[1], "a.test");
    json_decref(idx);
}
END_TEST

START_TEST(new_domains_take_their_first_name_or_a_suffix)
{
    json_t *idx = index_of("{\"a.test\": [\"old.test\"]}");
    apr_array_header_t *sets[2] = { set_of("a.test z.test"),
                                    set_of("q.test") };
    const char *keys[2];

    acme_identity_assign(keys, test_pool, idx, sets, 2, NULL, NULL);
    /* a.test is the key of another (unconfigured) set: not reused */
    ck_assert_str_eq(keys[0], "a.test~2");
    ck_assert_str_eq(keys[1], "q.test");
    json_decref(idx);
}
END_TEST

START_TEST(stores_without_index_are_found_by_any_name)
{
    apr_array_header_t *sets[1] = { set_of("second.test first.test") };
    const char *keys[1];

    legacy_key = "first.test";
    acme_identity_assign(keys, test_pool, NULL, sets, 1, legacy_store, NULL);
    ck_assert_str_eq(keys[0], "first.test");
    legacy_key = NULL;
    acme_identity_assign(keys, test_pool, NULL, sets, 1, legacy_store, NULL);
    ck_assert_str_eq(keys[0], "second.test");
}
END_TEST

START_TEST(index_keeps_old_entries_and_sorts_names)
{
    json_t *idx = index_of("{\"gone.test\": [\"gone.test\"]}");
    apr_array_header_t *sets[1] = { set_of("b.test a.test") };
    const char *keys[1] = { "b.test" };
    json_t *out = acme_identity_index(idx, keys, sets, 1);
    json_t *want = index_of("{\"gone.test\": [\"gone.test\"],"
                            " \"b.test\": [\"a.test\", \"b.test\"]}");

    ck_assert(json_equal(out, want));
    json_decref(idx);
    json_decref(out);
    json_decref(want);
}
END_TEST

START_TEST(index_keys_cannot_walk_out_of_the_area)
{
    json_t *idx = index_of("{\"../live\": [\"a.test\"], \"x/y\": [\"a.test\"],"
                           " \".\": [\"a.test\"]}");
    apr_array_header_t *sets[1] = { set_of("a.test") };
    const char *keys[1];

    acme_identity_assign(keys, test_pool, idx, sets, 1, NULL, NULL);
    ck_assert_str_eq(keys[0], "a.test");
    json_decref(idx);
}
END_TEST

START_TEST(handoff_roundtrip_and_refusals)
{
    acme_handoff_t h = { "abc", ACME_HANDOFF_REJECTED, "why", 
                         apr_time_from_sec(1700000000) }, back;
    json_t *j = acme_handoff_to_json(&h);
    char *text = json_dumps(j, 0);

    ck_assert_int_eq(acme_handoff_parse(&back, test_pool, text, strlen(text)),
                     APR_SUCCESS);
    ck_assert_str_eq(back.staged, "abc");
    ck_assert_str_eq(back.outcome, "rejected");
    ck_assert_str_eq(back.why, "why");
    ck_assert(back.at == apr_time_from_sec(1700000000));
    ck_assert_int_ne(acme_handoff_parse(&back, test_pool, "[]", 2),
                     APR_SUCCESS);
    ck_assert_int_ne(acme_handoff_parse(&back, test_pool,
                     "{\"staged\": 1, \"outcome\": \"x\"}", 31), APR_SUCCESS);
    free(text);
    json_decref(j);
}
END_TEST

START_TEST(staged_files_must_match_their_listed_digest)
{
    /* sha256("abc"), FIPS 180-2 appendix B.1 */
    json_t *meta = index_of("{\"files\": {\"ec256.cert.pem\": \"ba7816bf8f01"
        "cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"}}");
    json_t *old = index_of("{}");

    ck_assert(acme_staged_file_ok(meta, "ec256.cert.pem", "abc", 3,
                                  test_pool));
    ck_assert(!acme_staged_file_ok(meta, "ec256.cert.pem", "abd", 3,
                                   test_pool));
    ck_assert(!acme_staged_file_ok(meta, "ec256.key.pem", "abc", 3,
                                   test_pool));
    ck_assert(acme_staged_file_ok(old, "ec256.key.pem", "x", 1, test_pool));
    json_decref(meta);
    json_decref(old);
}
END_TEST

START_TEST(stored_times_are_clamped)
{
    ck_assert(acme_time_from_stored(-5) == 0);
    ck_assert(acme_time_from_stored(0) == 0);
    ck_assert(acme_time_from_stored(60) == APR_INT64_C(60000000));
    /* 2^62 seconds would overflow microseconds; year 9999 is the most */
    ck_assert(acme_time_from_stored(APR_INT64_C(1) << 62)
              == APR_INT64_C(253402300799) * 1000000);
    ck_assert(acme_time_clamp(5, 10, 20) == 10);
    ck_assert(acme_time_clamp(25, 10, 20) == 20);
    ck_assert(acme_time_add(APR_INT64_MAX - 1, 10) == APR_INT64_MAX);
    ck_assert(acme_time_add(APR_INT64_MIN + 1, -10) == APR_INT64_MIN);
    ck_assert(acme_time_add(5, -3) == 2);
}
END_TEST

START_TEST(renew_time_of_extreme_dates_stays_inside)
{
    apr_time_t nb = 0, na = acme_time_from_stored(APR_INT64_C(253402300799));
    apr_time_t at = acme_renew_time(nb, na, 99, 0);

    ck_assert(at >= nb && at <= na);
    /* a window past any lifetime counts as the fallback share */
    at = acme_renew_time(nb, na, 33, APR_INT64_MAX);
    ck_assert(at > nb && at < na);
    ck_assert(acme_renew_time(na, nb, 33, 0) == na);
}
END_TEST

START_TEST(rate_limit_allows_a_burst_then_one_a_minute)
{
    apr_time_t tat = 0, t0 = apr_time_from_sec(1000000);
    apr_interval_time_t min = apr_time_from_sec(60);

    ck_assert(acme_rate_allow(&tat, t0, 3, min));
    ck_assert(acme_rate_allow(&tat, t0, 3, min));
    ck_assert(acme_rate_allow(&tat, t0, 3, min));
    ck_assert(!acme_rate_allow(&tat, t0, 3, min));
    ck_assert(!acme_rate_allow(&tat, t0 + apr_time_from_sec(59), 3, min));
    ck_assert(acme_rate_allow(&tat, t0 + apr_time_from_sec(60), 3, min));
    ck_assert(!acme_rate_allow(&tat, t0 + apr_time_from_sec(61), 3, min));
    /* a clock set back a year does not lock restarts out for a year */
    ck_assert(acme_rate_allow(&tat, t0 - apr_time_from_sec(365 * 86400), 3,
                              min));
}
END_TEST

Suite *identity_suite(void)
{
    Suite *s = suite_create("identity");
    TCase *tc = tcase_create("keys, verdicts, clamping");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, reordered_names_keep_their_key);
    tcase_add_test(tc, a_changed_set_keeps_the_key_it_shares_most_with);
    tcase_add_test(tc, a_split_domain_leaves_the_key_to_its_namesake);
    tcase_add_test(tc, new_domains_take_their_first_name_or_a_suffix);
    tcase_add_test(tc, stores_without_index_are_found_by_any_name);
    tcase_add_test(tc, index_keeps_old_entries_and_sorts_names);
    tcase_add_test(tc, index_keys_cannot_walk_out_of_the_area);
    tcase_add_test(tc, handoff_roundtrip_and_refusals);
    tcase_add_test(tc, staged_files_must_match_their_listed_digest);
    tcase_add_test(tc, stored_times_are_clamped);
    tcase_add_test(tc, renew_time_of_extreme_dates_stays_inside);
    tcase_add_test(tc, rate_limit_allows_a_burst_then_one_a_minute);
    suite_add_tcase(s, tc);
    return s;
}
