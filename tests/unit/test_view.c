/* What the status page and `acmeauto status` show (acme_view.c): the
 * state rules, the renewal time and its source, and the JSON object. */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "test_suites.h"
#include "acme_view.h"
#include "acme_json.h"
#include "acme_util.h"

/* 2033-05-18T03:33:20Z */
#define NOW_SEC APR_INT64_C(2000000000)
#define NOW apr_time_from_sec(NOW_SEC)
#define HOUR apr_time_from_sec(3600)

static apr_array_header_t *names_of(const char *list)
{
    apr_array_header_t *a = apr_array_make(test_pool, 2, sizeof(char *));
    char *last, *s = apr_pstrdup(test_pool, list), *w;

    for (w = apr_strtok(s, " ", &last); w; w = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = w;
    }
    return a;
}

/* A domain with an EC P-256 certificate live, renewal due in a day. */
static acme_view_t live_view(void)
{
    acme_view_t v;

    memset(&v, 0, sizeof(v));
    v.name = "example.org";
    v.key = "example.org";
    v.names = names_of("example.org www.example.org");
    acme_view_live_reset(&v, test_pool);
    APR_ARRAY_PUSH(v.live_types, acme_key_type_e) = ACME_KEY_EC256;
    v.is_live = 1;
    v.window_at = NOW + 24 * HOUR;
    v.expiring_at = NOW + 48 * HOUR;
    v.cert_serial = "0A1B";
    v.cert_issuer = "CN=Test CA";
    v.cert_not_before = NOW - 24 * HOUR;
    v.cert_not_after = NOW + 72 * HOUR;
    return v;
}

static json_t *config_error(void)
{
    return acme_json_pool_own(test_pool, json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:i, s:I}", "type", "unauthorized",
        "detail", "bad EAB", "activity", "creating an account",
        "hint", "check ACMEEAB", "kind", "configuration", "http_status", 403,
        "at", (json_int_t)NOW_SEC - 60));
}

START_TEST(test_valid)
{
    acme_view_t v = live_view();

    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "valid");
    ck_assert_str_eq(v.renew_from, "window");
    ck_assert(v.renew_at == NOW + 24 * HOUR);
    ck_assert_int_eq(v.restart_pending, 0);
    ck_assert_int_eq(v.expiring, 0);
}
END_TEST

START_TEST(test_renewing_when_due_or_staged)
{
    acme_view_t v = live_view();

    acme_view_compute(&v, NOW + 24 * HOUR);
    ck_assert_str_eq(v.state, "renewing");
    v = live_view();
    v.staged_unseen = 1;
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "renewing");
    ck_assert_int_eq(v.restart_pending, 1);
    /* a missing key type or name: renew now, without a time */
    v = live_view();
    acme_view_live_done(&v, 0);
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "renewing");
    ck_assert_str_eq(v.renew_from, "now");
    ck_assert(v.renew_at == 0);
}
END_TEST

START_TEST(test_ari_wins_over_window)
{
    acme_view_t v = live_view();

    v.st.ari.renew_at = NOW + 2 * HOUR;
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.renew_from, "ari");
    ck_assert(v.renew_at == NOW + 2 * HOUR);
    ck_assert_str_eq(v.state, "valid");
}
END_TEST

START_TEST(test_pending_and_errored)
{
    acme_view_t v;

    memset(&v, 0, sizeof(v));
    v.name = v.key = "new.example.org";
    v.names = names_of("new.example.org");
    acme_view_live_reset(&v, test_pool);
    acme_view_live_done(&v, 1);
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "pending");
    ck_assert_ptr_null(v.renew_from);
    ck_assert(v.renew_at == 0);
    /* a transient error keeps it pending, a configuration error not */
    v.st.failures = 3;
    v.st.last_error = config_error();
    json_object_set_new(v.st.last_error, "kind", json_string("transient"));
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "pending");
    v.st.last_error = config_error();
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "errored");
    /* errored wins over live */
    v = live_view();
    v.st.last_error = config_error();
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "errored");
}
END_TEST

START_TEST(test_held_back)
{
    acme_view_t v = live_view();

    v.held_until = NOW + HOUR;
    v.st.last_error = config_error();
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "held back");
    ck_assert_int_eq(v.restart_pending, 0);
    /* the hold over, the set waits for its restart */
    acme_view_compute(&v, NOW + HOUR);
    ck_assert_int_eq(v.restart_pending, 1);
    ck_assert_str_eq(v.state, "errored");
    v.st.last_error = NULL;
    acme_view_compute(&v, NOW + HOUR);
    ck_assert_str_eq(v.state, "renewing");
    /* a newer set than the held one: the restart comes first */
    v.staged_unseen = 1;
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "renewing");
}
END_TEST

START_TEST(test_staged)
{
    acme_view_t v = live_view();
    apr_time_t start = NOW - 10 * apr_time_from_sec(60);

    /* staged before the parent started, within the delay: held */
    acme_view_staged(&v, start - 60 * apr_time_from_sec(1), start, HOUR,
                     NOW);
    ck_assert(v.held_until == start - apr_time_from_sec(60) + HOUR);
    ck_assert_int_eq(v.staged_unseen, 0);
    acme_view_compute(&v, NOW);
    ck_assert_str_eq(v.state, "held back");
    /* staged after it started: the parent has not seen it */
    acme_view_staged(&v, start + 1, start, HOUR, NOW);
    ck_assert_int_eq(v.staged_unseen, 1);
    ck_assert(v.held_until == 0);
    /* the delay had run out at the start, or none is set, or nothing
     * was live: the parent could not install it */
    acme_view_staged(&v, start - 2 * HOUR, start, HOUR, NOW);
    ck_assert_int_eq(v.staged_unseen, 1);
    acme_view_staged(&v, start - 60, start, 0, NOW);
    ck_assert_int_eq(v.staged_unseen, 1);
    v.is_live = 0;
    acme_view_staged(&v, start - 60, start, HOUR, NOW);
    ck_assert_int_eq(v.staged_unseen, 1);
    /* a staging time in the future counts as now: after the start */
    v = live_view();
    acme_view_staged(&v, NOW + 24 * HOUR, start, HOUR, NOW);
    ck_assert_int_eq(v.staged_unseen, 1);
}
END_TEST

START_TEST(test_expiring)
{
    acme_view_t v = live_view();

    acme_view_compute(&v, NOW + 48 * HOUR - 1);
    ck_assert_int_eq(v.expiring, 0);
    acme_view_compute(&v, NOW + 48 * HOUR);
    ck_assert_int_eq(v.expiring, 1);
    v.is_live = 0;
    acme_view_compute(&v, NOW + 48 * HOUR);
    ck_assert_int_eq(v.expiring, 0);
}
END_TEST

START_TEST(test_json)
{
    acme_view_t v = live_view();
    json_t *j, *c, *e;

    v.st.failures = 2;
    v.st.next_attempt = NOW + 60 * apr_time_from_sec(1);
    v.st.last_error = config_error();
    v.held_until = NOW + HOUR;
    acme_view_compute(&v, NOW);
    j = acme_json_pool_own(test_pool, acme_view_to_json(test_pool, &v));
    ck_assert_int_eq(json_object_size(j), 16);
    ck_assert(json_is_null(json_object_get(j, "profile")));
    v.profile = "shortlived";
    v.profile_mandatory = 1;
    e = acme_json_pool_own(test_pool, acme_view_to_json(test_pool, &v));
    ck_assert_str_eq(acme_json_str(json_object_get(e, "profile"), "name"),
                     "shortlived");
    ck_assert(json_is_true(json_object_get(json_object_get(e, "profile"),
                                           "mandatory")));
    ck_assert_str_eq(acme_json_str(j, "name"), "example.org");
    ck_assert_str_eq(acme_json_str(j, "key"), "example.org");
    ck_assert_int_eq(json_array_size(json_object_get(j, "names")), 2);
    ck_assert_str_eq(acme_json_str(j, "state"), "held back");
    ck_assert_str_eq(json_string_value(json_array_get(
        json_object_get(j, "key_types"), 0)), "ec256");
    c = json_object_get(j, "certificate");
    ck_assert_str_eq(acme_json_str(c, "serial"), "0A1B");
    ck_assert_str_eq(acme_json_str(c, "issuer"), "CN=Test CA");
    ck_assert_str_eq(acme_json_str(c, "not_before"), "2033-05-17T03:33:20Z");
    ck_assert_str_eq(acme_json_str(c, "not_after"), "2033-05-21T03:33:20Z");
    ck_assert_str_eq(acme_json_str(j, "renew_at"), "2033-05-19T03:33:20Z");
    ck_assert_str_eq(acme_json_str(j, "renew_from"), "window");
    ck_assert_str_eq(acme_json_str(j, "next_attempt"),
                     "2033-05-18T03:34:20Z");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "failures")), 2);
    e = json_object_get(j, "last_error");
    ck_assert_str_eq(acme_json_str(e, "kind"), "configuration");
    ck_assert_str_eq(acme_json_str(e, "hint"), "check ACMEEAB");
    ck_assert_str_eq(acme_json_str(e, "at"), "2033-05-18T03:32:20Z");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "http_status")),
                     403);
    ck_assert(json_is_false(json_object_get(j, "restart_pending")));
    ck_assert_str_eq(acme_json_str(j, "held_until"), "2033-05-18T04:33:20Z");
    ck_assert(json_is_false(json_object_get(j, "expiring")));
    ck_assert(json_is_null(json_object_get(j, "restart_blocked")));
}
END_TEST

START_TEST(test_json_nothing_live)
{
    acme_view_t v;
    json_t *j;

    memset(&v, 0, sizeof(v));
    v.name = v.key = "new.example.org";
    v.names = names_of("new.example.org");
    acme_view_live_reset(&v, test_pool);
    acme_view_live_done(&v, 1);
    acme_view_compute(&v, NOW);
    j = acme_json_pool_own(test_pool, acme_view_to_json(test_pool, &v));
    ck_assert(json_is_null(json_object_get(j, "certificate")));
    ck_assert_int_eq(json_array_size(json_object_get(j, "key_types")), 0);
    ck_assert(json_is_null(json_object_get(j, "renew_at")));
    ck_assert(json_is_null(json_object_get(j, "renew_from")));
    ck_assert(json_is_null(json_object_get(j, "next_attempt")));
    ck_assert(json_is_null(json_object_get(j, "last_error")));
    ck_assert(json_is_null(json_object_get(j, "held_until")));
}
END_TEST

/* ---- live certificates ---- */

/* A self-signed certificate is its own issuer: [cert, cert] is a chain
 * with an issuer behind the leaf. */
static const char *chain_pem(EVP_PKEY *key, const char *names, int days)
{
    const char *pem = NULL;

    ck_assert_int_eq(acme_cert_self_signed(&pem, test_pool, key,
                                           names_of(names), days),
                     APR_SUCCESS);
    return apr_pstrcat(test_pool, pem, pem, NULL);
}

static const char *key_pem(EVP_PKEY *key)
{
    const char *pem = NULL;

    ck_assert_int_eq(acme_key_to_pem(&pem, test_pool, key), APR_SUCCESS);
    return pem;
}

static EVP_PKEY *new_key(acme_key_type_e t)
{
    EVP_PKEY *key = NULL;

    ck_assert_int_eq(acme_key_generate(&key, test_pool, t), APR_SUCCESS);
    return key;
}

START_TEST(test_live_add)
{
    EVP_PKEY *ec = new_key(ACME_KEY_EC256), *other = new_key(ACME_KEY_EC256);
    const char *all = chain_pem(ec, "example.org www.example.org", 30);
    const char *one = chain_pem(ec, "example.org", 30);
    const char *single = chain_pem(ec, "example.org", 30);
    const char *k = key_pem(ec);
    apr_time_t now = apr_time_now();
    acme_view_t v;

    memset(&v, 0, sizeof(v));
    v.name = v.key = "example.org";
    v.names = names_of("example.org www.example.org");
    acme_view_live_reset(&v, test_pool);
    /* unusable: another key, the wrong type, no issuer, garbage */
    ck_assert_int_eq(acme_view_live_add(&v, test_pool, ACME_KEY_EC256, all,
                                        strlen(all), key_pem(other),
                                        strlen(key_pem(other)), 33, 0, now),
                     0);
    ck_assert_int_eq(acme_view_live_add(&v, test_pool, ACME_KEY_EC384, all,
                                        strlen(all), k, strlen(k), 33, 0,
                                        now), 0);
    single = apr_pstrndup(test_pool, single, strlen(single) / 2);
    ck_assert_int_eq(acme_view_live_add(&v, test_pool, ACME_KEY_EC256,
                                        single, strlen(single), k, strlen(k),
                                        33, 0, now), 0);
    ck_assert_int_eq(acme_view_live_add(&v, test_pool, ACME_KEY_EC256, "x",
                                        1, k, strlen(k), 33, 0, now), 0);
    acme_view_live_done(&v, 1);
    ck_assert_int_eq(v.is_live, 0);
    ck_assert_int_eq(v.live_types->nelts, 0);
    /* covers one name only: served, but incomplete */
    acme_view_live_reset(&v, test_pool);
    ck_assert_int_eq(acme_view_live_add(&v, test_pool, ACME_KEY_EC256, one,
                                        strlen(one), k, strlen(k), 33, 0,
                                        now), 1);
    acme_view_live_done(&v, 0);
    ck_assert_int_eq(v.is_live, 1);
    ck_assert(v.window_at == 0);
    ck_assert_ptr_nonnull(v.cert_serial);
    /* complete: renew with a third of the lifetime left */
    acme_view_live_reset(&v, test_pool);
    ck_assert_int_eq(acme_view_live_add(&v, test_pool, ACME_KEY_EC256, all,
                                        strlen(all), k, strlen(k), 33, 0,
                                        now), 2);
    acme_view_live_done(&v, 1);
    ck_assert_int_eq(v.is_live, 1);
    ck_assert_int_eq(APR_ARRAY_IDX(v.live_types, 0, acme_key_type_e),
                     ACME_KEY_EC256);
    ck_assert(v.window_at > v.cert_not_before
              && v.window_at < v.cert_not_after);
    ck_assert(v.expiring_at > v.window_at
              && v.expiring_at < v.cert_not_after);
    ck_assert_ptr_nonnull(strstr(v.cert_issuer, "example.org"));
    acme_view_compute(&v, now);
    ck_assert_str_eq(v.state, "valid");
}
END_TEST

Suite *view_suite(void)
{
    Suite *s = suite_create("view");
    TCase *tc = tcase_create("rules");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, test_valid);
    tcase_add_test(tc, test_renewing_when_due_or_staged);
    tcase_add_test(tc, test_ari_wins_over_window);
    tcase_add_test(tc, test_pending_and_errored);
    tcase_add_test(tc, test_held_back);
    tcase_add_test(tc, test_staged);
    tcase_add_test(tc, test_expiring);
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_json_nothing_live);
    tcase_add_test(tc, test_live_add);
    suite_add_tcase(s, tc);
    return s;
}
