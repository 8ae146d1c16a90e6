/* Renewal times and retry delays (acme_schedule.c). */
#include <string.h>

#include <check.h>

#include "acme_schedule.h"
#include "test_suites.h"

#define DAY apr_time_from_sec(86400)

START_TEST(renew_at_a_third_of_lifetime_left)
{
    apr_time_t nb = 1000 * DAY, na = nb + 90 * DAY;

    ck_assert_int_eq(acme_renew_time(nb, na, 33, 0), na - 90 * DAY * 33 / 100);
}
END_TEST

/* A "shortlived" profile's 6-day certificate (ACMEProfile): the default
 * window is a share of the lifetime actually issued, so it renews within
 * days, about 2 days before it ends, not 30 days before. */
START_TEST(six_day_certificate_renews_within_days)
{
    apr_time_t nb = 1000 * DAY, na = nb + 6 * DAY;
    apr_time_t at = acme_renew_time(nb, na, 33, 0);

    ck_assert(at > nb + 3 * DAY && at < nb + 5 * DAY);
    ck_assert_int_eq(at, na - 6 * DAY / 100 * 33);
}
END_TEST

START_TEST(renew_with_absolute_window)
{
    apr_time_t nb = 1000 * DAY, na = nb + 90 * DAY;

    ck_assert_int_eq(acme_renew_time(nb, na, 0, 30 * DAY), na - 30 * DAY);
}
END_TEST

/* ACMERenewWindow 30d and a 6-day certificate (a short-lived profile):
 * not due at once (that would renew it for ever), but with a third of
 * its lifetime left. */
START_TEST(window_longer_than_lifetime_renews_at_a_third)
{
    apr_time_t nb = 1000 * DAY, na = nb + 6 * DAY;
    apr_time_t third = na - 6 * DAY / 100 * 33;

    ck_assert_int_eq(acme_renew_time(nb, na, 0, 30 * DAY), third);
    ck_assert_int_eq(acme_renew_time(nb, na, 0, 6 * DAY), third);
    ck_assert_int_eq(acme_renew_time(nb, na, 0, 5 * DAY), na - 5 * DAY);
}
END_TEST

START_TEST(tiny_window_is_pulled_to_the_emergency_point)
{
    apr_time_t nb = 1000 * DAY, na = nb + 100 * DAY;

    /* 1 hour before expiry would be too late: 10% of lifetime wins. */
    ck_assert_int_eq(acme_renew_time(nb, na, 0, apr_time_from_sec(3600)),
                     na - 10 * DAY);
    ck_assert_int_eq(acme_renew_time(nb, na, 1, 0), na - 10 * DAY);
}
END_TEST

START_TEST(no_lifetime_renews_at_once)
{
    apr_time_t nb = 1000 * DAY;

    /* Expired before it began, or no lifetime at all: renew now. */
    ck_assert_int_eq(acme_renew_time(nb, nb, 33, 0), nb);
    ck_assert_int_eq(acme_renew_time(nb, nb - DAY, 33, 0), nb);
    ck_assert_int_eq(acme_renew_time(nb, nb - DAY, 0, 30 * DAY), nb);
}
END_TEST

START_TEST(renew_percent_extremes)
{
    apr_time_t nb = 1000 * DAY, na = nb + 100 * DAY;

    /* All of the lifetime left (or more): at the start. */
    ck_assert_int_eq(acme_renew_time(nb, na, 100, 0), nb);
    ck_assert_int_eq(acme_renew_time(nb, na, 150, 0), nb);
    /* Nothing left, or a negative share: the emergency point. */
    ck_assert_int_eq(acme_renew_time(nb, na, 0, 0), na - 10 * DAY);
    ck_assert_int_eq(acme_renew_time(nb, na, -5, 0), na - 10 * DAY);
    /* A negative window counts as none: the percentage decides. */
    ck_assert_int_eq(acme_renew_time(nb, na, 50, -DAY), na - 50 * DAY);
}
END_TEST

START_TEST(renew_window_equal_to_lifetime)
{
    apr_time_t nb = 1000 * DAY, na = nb + 90 * DAY;

    ck_assert_int_eq(acme_renew_time(nb, na, 0, 90 * DAY),
                     na - 90 * DAY / 100 * 33);
    ck_assert_int_eq(acme_renew_time(nb, na, 0, 10 * DAY), na - 10 * DAY);
    ck_assert_int_eq(acme_renew_time(nb, na, 0, 11 * DAY), na - 11 * DAY);
}
END_TEST

START_TEST(backoff_zero_failures_is_the_first_delay)
{
    apr_interval_time_t first = apr_time_from_sec(30);
    apr_interval_time_t max = apr_time_from_sec(24 * 3600);

    ck_assert_int_eq(acme_retry_delay(0, first, max, 0, NULL, 0, 0), first);
    ck_assert_int_eq(acme_retry_delay(-3, first, max, 0, NULL, 0, 0), first);
    /* A first delay above the cap is capped from the start. */
    ck_assert_int_eq(acme_retry_delay(1, 2 * max, max, 0, NULL, 0, 0), max);
    /* Many failures neither overflow nor exceed the cap. */
    ck_assert_int_eq(acme_retry_delay(1 << 30, first, max, 0, NULL, 0, 0),
                     max);
}
END_TEST

START_TEST(jitter_bounds)
{
    apr_interval_time_t first = apr_time_from_sec(100);
    apr_interval_time_t max = apr_time_from_sec(24 * 3600);

    /* A random value outside [0,1] is clamped, not trusted. */
    ck_assert_int_eq(acme_retry_delay(1, first, max, 0, NULL, 10, 7.0),
                     apr_time_from_sec(110));
    ck_assert_int_eq(acme_retry_delay(1, first, max, 0, NULL, 10, -1.0),
                     first);
    ck_assert_int_eq(acme_retry_delay(1, first, max, 0, NULL, 0, 1.0), first);
    /* Jitter never pushes past the cap. */
    ck_assert_int_eq(acme_retry_delay(40, first, max, 0, NULL, 50, 1.0), max);
}
END_TEST

START_TEST(retry_after_shorter_than_backoff_is_ignored)
{
    apr_interval_time_t first = apr_time_from_sec(600);
    apr_interval_time_t max = apr_time_from_sec(24 * 3600);
    acme_error_t err = { 0 };

    /* Retry-After is a minimum, not a reason to come back sooner. */
    err.kind = ACME_FAIL_TRANSIENT;
    err.retry_after = apr_time_from_sec(5);
    ck_assert_int_eq(acme_retry_delay(2, first, max, 0, &err, 0, 0),
                     2 * first);
    /* A configuration problem below config_min still waits config_min,
     * and a longer Retry-After beats both. */
    err.kind = ACME_FAIL_CONFIG;
    ck_assert_int_eq(acme_retry_delay(1, first, max, apr_time_from_sec(3600),
                                      &err, 0, 0), apr_time_from_sec(3600));
    err.retry_after = apr_time_from_sec(7200);
    ck_assert_int_eq(acme_retry_delay(1, first, max, apr_time_from_sec(3600),
                                      &err, 0, 0), apr_time_from_sec(7200));
}
END_TEST

START_TEST(backoff_doubles_and_caps)
{
    apr_interval_time_t first = apr_time_from_sec(30);
    apr_interval_time_t max = apr_time_from_sec(24 * 3600);

    ck_assert_int_eq(acme_retry_delay(1, first, max, 0, NULL, 0, 0), first);
    ck_assert_int_eq(acme_retry_delay(2, first, max, 0, NULL, 0, 0), 2 * first);
    ck_assert_int_eq(acme_retry_delay(4, first, max, 0, NULL, 0, 0), 8 * first);
    ck_assert_int_eq(acme_retry_delay(40, first, max, 0, NULL, 0, 0), max);
}
END_TEST

START_TEST(jitter_adds_at_most_its_share)
{
    apr_interval_time_t first = apr_time_from_sec(100);
    apr_interval_time_t max = apr_time_from_sec(24 * 3600);

    ck_assert_int_eq(acme_retry_delay(1, first, max, 0, NULL, 10, 1.0),
                     apr_time_from_sec(110));
    ck_assert_int_eq(acme_retry_delay(1, first, max, 0, NULL, 10, 0.5),
                     apr_time_from_sec(105));
}
END_TEST

START_TEST(config_problems_wait_longer_and_retry_after_wins)
{
    apr_interval_time_t first = apr_time_from_sec(30);
    apr_interval_time_t max = apr_time_from_sec(24 * 3600);
    acme_error_t err = { 0 };

    err.kind = ACME_FAIL_CONFIG;
    ck_assert_int_eq(acme_retry_delay(1, first, max, apr_time_from_sec(3600),
                                      &err, 0, 0), apr_time_from_sec(3600));
    err.kind = ACME_FAIL_TRANSIENT;
    err.retry_after = apr_time_from_sec(600);
    ck_assert_int_eq(acme_retry_delay(1, first, max, apr_time_from_sec(3600),
                                      &err, 0, 0), apr_time_from_sec(600));
    err.retry_after = apr_time_from_sec(7 * 86400);
    ck_assert_int_eq(acme_retry_delay(1, first, max, 0, &err, 0, 0), max);
}
END_TEST

/* The job's decision (acme_sched_due, acme_sched_wakeup). Times in whole
 * seconds from an arbitrary origin; every expected value is one of the
 * literal times given, chosen here by reading the rule, not computed by
 * the code under test. */
#define S(x) apr_time_from_sec(x)

static acme_sched_view_t live_view(void)
{
    acme_sched_view_t v;

    memset(&v, 0, sizeof(v));
    v.is_live = 1;
    v.renew_at = S(5000);
    v.expiring_at = S(9000);
    return v;
}

START_TEST(due_when_nothing_is_live)
{
    acme_sched_view_t v;

    memset(&v, 0, sizeof(v));
    ck_assert(acme_sched_due(&v, S(1000)));
    /* a renewal time of a certificate that is not live does not matter */
    v.renew_at = S(5000);
    ck_assert(acme_sched_due(&v, S(1000)));
    /* but the backoff does */
    v.next_attempt = S(1060);
    ck_assert(!acme_sched_due(&v, S(1000)));
    ck_assert(!acme_sched_due(&v, S(1059)));
    ck_assert(acme_sched_due(&v, S(1060)));
    ck_assert(acme_sched_due(&v, S(1061)));
}
END_TEST

START_TEST(due_at_the_renewal_time)
{
    acme_sched_view_t v = live_view();

    ck_assert(!acme_sched_due(&v, S(1000)));
    ck_assert(!acme_sched_due(&v, S(4999)));
    ck_assert(acme_sched_due(&v, S(5000)));
    ck_assert(acme_sched_due(&v, S(7000)));
    /* after a failure: not before the next attempt */
    v.next_attempt = S(5030);
    ck_assert(!acme_sched_due(&v, S(5000)));
    ck_assert(!acme_sched_due(&v, S(5029)));
    ck_assert(acme_sched_due(&v, S(5030)));
}
END_TEST

START_TEST(due_at_the_ari_moment)
{
    acme_sched_view_t v = live_view();

    /* the CA's window moves renewal earlier ... */
    v.ari_renew_at = S(2000);
    ck_assert(!acme_sched_due(&v, S(1999)));
    ck_assert(acme_sched_due(&v, S(2000)));
    /* ... and a later ARI moment does not hold the window back */
    v.ari_renew_at = S(6000);
    ck_assert(!acme_sched_due(&v, S(4999)));
    ck_assert(acme_sched_due(&v, S(5000)));
    /* no ARI moment (0) is not "the moment has come" */
    v.ari_renew_at = 0;
    ck_assert(!acme_sched_due(&v, S(1000)));
    /* backoff wins over ARI too */
    v.ari_renew_at = S(2000);
    v.next_attempt = S(2500);
    ck_assert(!acme_sched_due(&v, S(2000)));
    ck_assert(acme_sched_due(&v, S(2500)));
}
END_TEST

START_TEST(wakeup_takes_the_earliest_future_time)
{
    acme_sched_view_t v = live_view();

    /* renewal 5000, expiring 9000, nothing else: 5000 */
    ck_assert_int_eq(acme_sched_wakeup(&v, S(1000), S(43200)), S(5000));
    /* the check interval's end comes first */
    ck_assert_int_eq(acme_sched_wakeup(&v, S(1000), S(3000)), S(3000));
    /* renewal time passed (an order failed): the expiring time is next */
    ck_assert_int_eq(acme_sched_wakeup(&v, S(6000), S(43200)), S(9000));
    /* ... unless the next attempt is sooner */
    v.next_attempt = S(6030);
    ck_assert_int_eq(acme_sched_wakeup(&v, S(6000), S(43200)), S(6030));
    /* times already past are never a wake-up time */
    ck_assert_int_eq(acme_sched_wakeup(&v, S(9500), S(43200)), S(43200));
    /* nor is now itself */
    ck_assert_int_eq(acme_sched_wakeup(&v, S(5000), S(5500)), S(5500));
}
END_TEST

START_TEST(wakeup_for_ari)
{
    acme_sched_view_t v = live_view();

    v.ari_renew_at = S(4000);
    v.ari_next_check = S(2000);
    /* next ARI question counts only with ids to ask about */
    ck_assert_int_eq(acme_sched_wakeup(&v, S(1000), S(43200)), S(4000));
    v.ari_ids = 1;
    ck_assert_int_eq(acme_sched_wakeup(&v, S(1000), S(43200)), S(2000));
    ck_assert_int_eq(acme_sched_wakeup(&v, S(2500), S(43200)), S(4000));
}
END_TEST

START_TEST(wakeup_when_nothing_is_live)
{
    acme_sched_view_t v = live_view();

    /* only the next attempt counts: the other times are a live
     * certificate's */
    v.is_live = 0;
    v.ari_ids = 1;
    v.ari_renew_at = S(2000);
    v.ari_next_check = S(1500);
    ck_assert_int_eq(acme_sched_wakeup(&v, S(1000), S(43200)), S(43200));
    v.next_attempt = S(8000);
    ck_assert_int_eq(acme_sched_wakeup(&v, S(1000), S(43200)), S(8000));
    ck_assert_int_eq(acme_sched_wakeup(&v, S(1000), S(7000)), S(7000));
}
END_TEST

Suite *schedule_suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");

    tcase_add_test(tc, renew_at_a_third_of_lifetime_left);
    tcase_add_test(tc, renew_with_absolute_window);
    tcase_add_test(tc, six_day_certificate_renews_within_days);
    tcase_add_test(tc, window_longer_than_lifetime_renews_at_a_third);
    tcase_add_test(tc, tiny_window_is_pulled_to_the_emergency_point);
    tcase_add_test(tc, no_lifetime_renews_at_once);
    tcase_add_test(tc, renew_percent_extremes);
    tcase_add_test(tc, renew_window_equal_to_lifetime);
    tcase_add_test(tc, backoff_doubles_and_caps);
    tcase_add_test(tc, jitter_adds_at_most_its_share);
    tcase_add_test(tc, config_problems_wait_longer_and_retry_after_wins);
    tcase_add_test(tc, backoff_zero_failures_is_the_first_delay);
    tcase_add_test(tc, jitter_bounds);
    tcase_add_test(tc, retry_after_shorter_than_backoff_is_ignored);
    tcase_add_test(tc, due_when_nothing_is_live);
    tcase_add_test(tc, due_at_the_renewal_time);
    tcase_add_test(tc, due_at_the_ari_moment);
    tcase_add_test(tc, wakeup_takes_the_earliest_future_time);
    tcase_add_test(tc, wakeup_for_ari);
    tcase_add_test(tc, wakeup_when_nothing_is_live);
    suite_add_tcase(s, tc);
    return s;
}
