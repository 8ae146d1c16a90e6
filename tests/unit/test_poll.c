/* Poll pacing (acme_order.c): a pause between two polls of an
 * authorization or an order starts at 50 ms and doubles up to the
 * client's poll_interval; the server's Retry-After wins. The work a job
 * leaves for the wait (on_wait) is done once, in the first pause.
 *
 * Times come from the fake's timestamp per request. A pause is never
 * shorter than asked (acme_client_pause sleeps until the deadline), so
 * lower bounds are exact; a busy machine only stretches pauses, so upper
 * bounds get half a second of slack. */
#include <string.h>
#include <apr_strings.h>

#include "test_suites.h"
#include "fake_http.h"

#define AUTHZ_URL "https://ca.test/authz/a"
#define ORDER_AT  "https://ca.test/order/1"
#define SLACK     apr_time_from_msec(500)

#define AUTHZ_FMT \
    "{\"status\":\"%s\",\"identifier\":{\"type\":\"dns\"," \
    "\"value\":\"example.org\"},\"challenges\":[{\"type\":\"http-01\"," \
    "\"url\":\"https://ca.test/chall/1\",\"token\":\"tok1\"," \
    "\"status\":\"%s\"}]}"

#define ORDER_FMT \
    "{\"status\":\"%s\",\"finalize\":\"https://ca.test/finalize/1\"," \
    "\"authorizations\":[\"" AUTHZ_URL "\"]%s}"

static void push_authz(fake_http_t *f, const char *status,
                       const char *retry_after)
{
    fake_reply_t *r = fake_push(f, 200, CT_JSON, apr_psprintf(test_pool,
                                AUTHZ_FMT, status, status));

    r->nonce = "nonceAuthz";
    r->retry_after = retry_after;
}

static void push_order(fake_http_t *f, const char *status)
{
    fake_push(f, 200, CT_JSON, apr_psprintf(test_pool, ORDER_FMT, status,
              strcmp(status, "valid") ? "" : ",\"certificate\":"
              "\"https://ca.test/cert/1\""))->nonce = "nonceOrder";
}

/* The time between request i-1 and request i. */
static apr_interval_time_t gap(const fake_http_t *f, int i)
{
    ck_assert_int_lt(i, f->nrequests);
    return f->requests[i].at - f->requests[i - 1].at;
}

/* Pause i (from 1) lasted at least want and not much longer. */
static void assert_pause(const fake_http_t *f, int i, apr_interval_time_t want)
{
    apr_interval_time_t g = gap(f, i);

    ck_assert_msg(g >= want, "pause %d: %" APR_TIME_T_FMT " us, shorter "
                  "than %" APR_TIME_T_FMT, i, g, want);
    ck_assert_msg(g < want + SLACK, "pause %d: %" APR_TIME_T_FMT " us, far "
                  "longer than %" APR_TIME_T_FMT, i, g, want);
}

START_TEST(authz_polls_start_at_50ms_and_double)
{
    /* A CA that validates within a second is asked again after 50, 100,
     * 200 and 400 ms, not after a fixed poll_interval (4 s here, so that
     * it does not cap the series). */
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;
    int i;

    ck_assert_int_eq(c->poll_interval, apr_time_from_sec(1));  /* default */
    c->poll_interval = apr_time_from_sec(4);
    for (i = 0; i < 4; i++) {
        push_authz(f, "pending", NULL);
    }
    push_authz(f, "valid", NULL);
    ck_assert_int_eq(acme_authz_wait(&a, c, test_pool, AUTHZ_URL),
                     APR_SUCCESS);
    ck_assert_str_eq(a->status, "valid");
    ck_assert_int_eq(f->nrequests, 5);
    for (i = 1; i < 5; i++) {
        assert_pause(f, i, apr_time_from_msec(50) << (i - 1));
    }
}
END_TEST

START_TEST(poll_pauses_stop_growing_at_poll_interval)
{
    /* 50 ms, then the interval (80 ms) each time: doubled on, the fifth
     * pause would be 800 ms. */
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;
    int i;

    c->poll_interval = apr_time_from_msec(80);
    for (i = 0; i < 6; i++) {
        push_authz(f, "pending", NULL);
    }
    push_authz(f, "valid", NULL);
    ck_assert_int_eq(acme_authz_wait(&a, c, test_pool, AUTHZ_URL),
                     APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 7);
    assert_pause(f, 1, apr_time_from_msec(50));
    for (i = 2; i < 7; i++) {
        assert_pause(f, i, apr_time_from_msec(80));
    }
}
END_TEST

START_TEST(retry_after_wins_over_the_short_pause)
{
    /* The CA asks for a second: that is waited, not 50 ms; the next
     * pause, without the header, is short again. */
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;

    c->poll_interval = apr_time_from_sec(4);
    push_authz(f, "pending", "1");
    push_authz(f, "pending", NULL);
    push_authz(f, "valid", NULL);
    ck_assert_int_eq(acme_authz_wait(&a, c, test_pool, AUTHZ_URL),
                     APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 3);
    assert_pause(f, 1, apr_time_from_sec(1));
    ck_assert_int_ge(gap(f, 2), apr_time_from_msec(50));
    ck_assert_int_lt(gap(f, 2), apr_time_from_msec(100) + SLACK);
}
END_TEST

START_TEST(order_polls_start_at_50ms_and_double)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;

    c->poll_interval = apr_time_from_sec(4);
    push_order(f, "processing");
    push_order(f, "processing");
    push_order(f, "processing");
    push_order(f, "valid");
    ck_assert_int_eq(acme_order_wait(&o, c, test_pool, ORDER_AT, "valid"),
                     APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 4);
    assert_pause(f, 1, apr_time_from_msec(50));
    assert_pause(f, 2, apr_time_from_msec(100));
    assert_pause(f, 3, apr_time_from_msec(200));
}
END_TEST

typedef struct {
    fake_http_t *f;
    int calls;
    int requests_before;    /* how many polls preceded the call */
} wait_work_t;

static void note_work(void *baton)
{
    wait_work_t *w = baton;

    w->calls++;
    w->requests_before = w->f->nrequests;
}

START_TEST(on_wait_is_done_once_in_the_first_pause)
{
    /* The job's work (the certificate key) goes into the first pause,
     * between the first and the second poll, and only there. */
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;
    wait_work_t w = { f, 0, -1 };

    c->poll_interval = apr_time_from_msec(10);
    c->on_wait = note_work;
    c->on_wait_baton = &w;
    push_authz(f, "pending", NULL);
    push_authz(f, "pending", NULL);
    push_authz(f, "valid", NULL);
    ck_assert_int_eq(acme_authz_wait(&a, c, test_pool, AUTHZ_URL),
                     APR_SUCCESS);
    ck_assert_int_eq(w.calls, 1);
    ck_assert_int_eq(w.requests_before, 1);
    ck_assert_ptr_null(c->on_wait);
}
END_TEST

START_TEST(on_wait_is_not_done_without_a_pause)
{
    /* Valid at the first poll: no pause, so no work in one. */
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;
    wait_work_t w = { f, 0, -1 };

    c->on_wait = note_work;
    c->on_wait_baton = &w;
    push_order(f, "valid");
    ck_assert_int_eq(acme_order_wait(&o, c, test_pool, ORDER_AT, "valid"),
                     APR_SUCCESS);
    ck_assert_int_eq(w.calls, 0);
}
END_TEST

Suite *poll_suite(void)
{
    Suite *s = suite_create("poll");
    TCase *tc = tcase_create("pacing");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, authz_polls_start_at_50ms_and_double);
    tcase_add_test(tc, poll_pauses_stop_growing_at_poll_interval);
    tcase_add_test(tc, retry_after_wins_over_the_short_pause);
    tcase_add_test(tc, order_polls_start_at_50ms_and_double);
    tcase_add_test(tc, on_wait_is_done_once_in_the_first_pause);
    tcase_add_test(tc, on_wait_is_not_done_without_a_pause);
    suite_add_tcase(s, tc);
    return s;
}
