/* Renewal times and retry delays (acme_schedule.c). */
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

START_TEST(renew_with_absolute_window)
{
    apr_time_t nb = 1000 * DAY, na = nb + 90 * DAY;

    ck_assert_int_eq(acme_renew_time(nb, na, 0, 30 * DAY), na - 30 * DAY);
}
END_TEST

START_TEST(window_longer_than_lifetime_renews_at_once)
{
    apr_time_t nb = 1000 * DAY, na = nb + 7 * DAY;

    ck_assert_int_eq(acme_renew_time(nb, na, 0, 30 * DAY), nb);
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

    ck_assert_int_eq(acme_renew_time(nb, na, 0, 90 * DAY), nb);
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

Suite *schedule_suite(void)
{
    Suite *s = suite_create("schedule");
    TCase *tc = tcase_create("schedule");

    tcase_add_test(tc, renew_at_a_third_of_lifetime_left);
    tcase_add_test(tc, renew_with_absolute_window);
    tcase_add_test(tc, window_longer_than_lifetime_renews_at_once);
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
    suite_add_tcase(s, tc);
    return s;
}
