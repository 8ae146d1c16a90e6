/* ACMERestartWindow and the restart note (acme_restart.c), and how the
 * status shows a restart that waits (acme_view.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <apr_strings.h>
#include <jansson.h>

#include "test_suites.h"
#include "acme_restart.h"
#include "acme_view.h"
#include "acme_json.h"

#define MIN apr_time_from_sec(60)
#define HOUR apr_time_from_sec(3600)
#define DAY apr_time_from_sec(86400)

static char *saved_tz;

static void tz_set(const char *tz)
{
    const char *old = getenv("TZ");

    saved_tz = old ? strdup(old) : NULL;
    setenv("TZ", tz, 1);
    tzset();
}

static void tz_restore(void)
{
    if (saved_tz) {
        setenv("TZ", saved_tz, 1);
        free(saved_tz);
        saved_tz = NULL;
    }
    else {
        unsetenv("TZ");
    }
    tzset();
}

/* A UTC time of day on 2033-05-18. */
static apr_time_t at(int h, int m)
{
    return apr_time_from_sec(APR_INT64_C(1999987200)) + h * HOUR + m * MIN;
}

START_TEST(test_parse)
{
    acme_window_t w;
    char buf[16];

    ck_assert_int_eq(acme_window_parse(&w, "02:00-05:30"), APR_SUCCESS);
    ck_assert_int_eq(w.start, 120);
    ck_assert_int_eq(w.end, 330);
    acme_window_format(buf, sizeof(buf), &w);
    ck_assert_str_eq(buf, "02:00-05:30");
    ck_assert_int_eq(acme_window_parse(&w, "22:00-02:00"), APR_SUCCESS);
    ck_assert_int_eq(w.start, 1320);
    ck_assert_int_eq(w.end, 120);
    ck_assert_int_eq(acme_window_parse(&w, "00:00-23:59"), APR_SUCCESS);
    ck_assert_int_ne(acme_window_parse(&w, "02:00-02:00"), APR_SUCCESS);
    ck_assert_int_ne(acme_window_parse(&w, "24:00-05:00"), APR_SUCCESS);
    ck_assert_int_ne(acme_window_parse(&w, "02:60-05:00"), APR_SUCCESS);
    ck_assert_int_ne(acme_window_parse(&w, "2:00-5:00"), APR_SUCCESS);
    ck_assert_int_ne(acme_window_parse(&w, "02:00"), APR_SUCCESS);
    ck_assert_int_ne(acme_window_parse(&w, "02:00 05:00"), APR_SUCCESS);
    ck_assert_int_ne(acme_window_parse(&w, "02:00-05:00x"), APR_SUCCESS);
    ck_assert_int_ne(acme_window_parse(&w, NULL), APR_SUCCESS);
}
END_TEST

START_TEST(test_check_utc)
{
    apr_time_t open[4], close[4], opens;
    acme_window_t w;

    tz_set("UTC");
    acme_window_parse(&w, "02:00-05:00");
    acme_window_plan(open, close, 4, &w, at(12, 0));
    tz_restore();
    ck_assert(open[0] == at(2, 0) - DAY && close[0] == at(5, 0) - DAY);
    ck_assert(open[1] == at(2, 0) && close[1] == at(5, 0));
    /* before, inside, at the end, after */
    ck_assert_int_eq(acme_window_check(open, close, 4, at(1, 59), &opens), 0);
    ck_assert(opens == at(2, 0));
    ck_assert_int_eq(acme_window_check(open, close, 4, at(2, 0), &opens), 1);
    ck_assert(opens == at(2, 0));
    ck_assert_int_eq(acme_window_check(open, close, 4, at(4, 59), &opens), 1);
    ck_assert_int_eq(acme_window_check(open, close, 4, at(5, 0), &opens), 0);
    ck_assert(opens == at(2, 0) + DAY);
    /* past the plan: it repeats every day */
    ck_assert_int_eq(acme_window_check(open, close, 4, at(3, 0) + 10 * DAY,
                                       &opens), 1);
    ck_assert_int_eq(acme_window_check(open, close, 4, at(6, 0) + 10 * DAY,
                                       &opens), 0);
    ck_assert(opens == at(2, 0) + 11 * DAY);
    /* no window: any time */
    ck_assert_int_eq(acme_window_check(open, close, 0, at(6, 0), &opens), 1);
}
END_TEST

START_TEST(test_check_wraps_and_local)
{
    apr_time_t open[3], close[3], opens;
    acme_window_t w;

    /* 22:00-02:00 in UTC+9 (no DST) is 13:00-17:00 UTC */
    tz_set("Asia/Tokyo");
    acme_window_parse(&w, "22:00-02:00");
    acme_window_plan(open, close, 3, &w, at(12, 0));
    tz_restore();
    ck_assert_int_eq(acme_window_check(open, close, 3, at(12, 59), &opens), 0);
    ck_assert(opens == at(13, 0));
    ck_assert_int_eq(acme_window_check(open, close, 3, at(15, 0), &opens), 1);
    ck_assert_int_eq(acme_window_check(open, close, 3, at(16, 59), &opens), 1);
    ck_assert_int_eq(acme_window_check(open, close, 3, at(17, 0), &opens), 0);
    ck_assert(opens == at(13, 0) + DAY);
}
END_TEST

START_TEST(test_check_dst)
{
    /* Europe/Berlin leaves summer time on 2033-10-30 at 03:00 local: a
     * 05:00-07:00 window opens at 03:00 UTC before, at 04:00 UTC after. */
    apr_time_t base = apr_time_from_sec(APR_INT64_C(2014156800)); /* 10-29 */
    apr_time_t open[4], close[4], opens;
    acme_window_t w;

    tz_set("Europe/Berlin");
    acme_window_parse(&w, "05:00-07:00");
    acme_window_plan(open, close, 4, &w, base + 12 * HOUR);
    tz_restore();
    ck_assert(open[1] == base + 3 * HOUR);           /* 10-29 05:00 CEST */
    ck_assert(open[2] == base + DAY + 4 * HOUR);     /* 10-30 05:00 CET */
    ck_assert(close[2] == base + DAY + 6 * HOUR);
    ck_assert_int_eq(acme_window_check(open, close, 4, base + DAY + 3 * HOUR
                                       + 30 * MIN, &opens), 0);
    ck_assert(opens == base + DAY + 4 * HOUR);
}
END_TEST

START_TEST(test_note)
{
    acme_restart_note_t n = { ACME_RESTART_WINDOW, apr_time_from_sec(100),
                              "02:00-05:00", apr_time_from_sec(2000000000) };
    acme_restart_note_t back;
    char buf[ACME_RESTART_NOTE_MAX];
    int len = acme_restart_note_format(buf, sizeof(buf), &n);

    ck_assert_int_gt(len, 0);
    ck_assert_int_eq(acme_restart_note_parse(&back, test_pool, buf, len),
                     APR_SUCCESS);
    ck_assert_str_eq(back.reason, "window");
    ck_assert(back.since == apr_time_from_sec(100));
    ck_assert_str_eq(back.window, "02:00-05:00");
    ck_assert_str_eq(acme_restart_note_text(test_pool, &back),
                     "waiting for ACMERestartWindow 02:00-05:00 (opens "
                     "2033-05-18T03:33:20Z)");
    n.reason = ACME_RESTART_CONFIGTEST;
    n.window = NULL;
    len = acme_restart_note_format(buf, sizeof(buf), &n);
    ck_assert_int_eq(acme_restart_note_parse(&back, test_pool, buf, len),
                     APR_SUCCESS);
    ck_assert_str_eq(acme_restart_note_text(test_pool, &back),
                     "configuration does not pass configtest");
    ck_assert_int_eq(acme_restart_note_format(buf, 10, &n), -1);
    ck_assert_int_ne(acme_restart_note_parse(&back, test_pool,
                     "{\"reason\": \"x\"}", 15), APR_SUCCESS);
    ck_assert_int_ne(acme_restart_note_parse(&back, test_pool, "[]", 2),
                     APR_SUCCESS);
}
END_TEST

/* The status says why only while a restart is pending. */
START_TEST(test_view_note)
{
    static const char note[] = "{\"reason\": \"configtest\", \"since\": 1}";
    acme_view_t v;
    json_t *j;

    memset(&v, 0, sizeof(v));
    acme_view_live_reset(&v, test_pool);
    acme_view_restart_note(&v, test_pool, note, strlen(note));
    acme_view_compute(&v, apr_time_from_sec(10));
    ck_assert_ptr_null(v.restart_blocked);
    v.staged_unseen = 1;
    acme_view_compute(&v, apr_time_from_sec(10));
    ck_assert_str_eq(v.restart_blocked,
                     "configuration does not pass configtest");
    j = acme_json_pool_own(test_pool, acme_view_to_json(test_pool, &v));
    ck_assert_str_eq(acme_json_str(j, "restart_blocked"),
                     "configuration does not pass configtest");
    acme_view_restart_note(&v, test_pool, NULL, 0);
    acme_view_compute(&v, apr_time_from_sec(10));
    ck_assert_ptr_null(v.restart_blocked);
}
END_TEST

Suite *restart_suite(void)
{
    Suite *s = suite_create("restart");
    TCase *tc = tcase_create("window");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, test_parse);
    tcase_add_test(tc, test_check_utc);
    tcase_add_test(tc, test_check_wraps_and_local);
    tcase_add_test(tc, test_check_dst);
    tcase_add_test(tc, test_note);
    tcase_add_test(tc, test_view_note);
    suite_add_tcase(s, tc);
    return s;
}
