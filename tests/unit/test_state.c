/* The job's persisted state (acme_state.c): what a damaged, forged or
 * old state/<key>.json can and cannot do to the schedule. Times below
 * are written out in seconds, computed by hand from NOW_SEC. */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "test_suites.h"
#include "acme_state.h"
#include "acme_json.h"

/* 2033-05-18T03:33:20Z */
#define NOW_SEC APR_INT64_C(2000000000)
#define NOW apr_time_from_sec(NOW_SEC)
#define FP "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define IDS "aaa.bbb,ccc.ddd"

/* JSON text written with ' for ", so the tests stay readable. */
static const char *json_text(const char *single_quoted)
{
    char *s = apr_pstrdup(test_pool, single_quoted), *c;

    for (c = s; *c; c++) {
        if (*c == '\'') {
            *c = '"';
        }
    }
    return s;
}

static apr_status_t parse(acme_state_t *st, const char *single_quoted)
{
    const char *text = json_text(single_quoted);

    return acme_state_parse(st, test_pool, text, strlen(text), FP, IDS, NOW);
}

/* One member of an otherwise good file. */
static apr_status_t parse_with(acme_state_t *st, const char *member)
{
    return parse(st, apr_pstrcat(test_pool, "{'config': '" FP "', ",
                                 member, "}", NULL));
}

static void assert_fresh(const acme_state_t *st)
{
    int i;

    ck_assert_int_eq(st->failures, 0);
    ck_assert_int_eq(st->next_attempt, 0);
    ck_assert_ptr_null(st->server);
    ck_assert_ptr_null(st->ari.ids);
    ck_assert_int_eq(st->ari.offered, 0);
    ck_assert_int_eq(st->ari.start, 0);
    ck_assert_int_eq(st->ari.end, 0);
    ck_assert_int_eq(st->ari.renew_at, 0);
    ck_assert_int_eq(st->ari.next_check, 0);
    for (i = 0; i < ACME_EV_COUNT; i++) {
        ck_assert_int_eq(st->notified[i], 0);
    }
    ck_assert_ptr_null(st->last_error);
}

static acme_state_t sample_state(void)
{
    acme_error_t err = { 0, 429, "urn:ietf:params:acme:error:rateLimited",
                         "too many", "ordering", NULL, ACME_FAIL_TRANSIENT,
                         0 };
    acme_state_t st;

    memset(&st, 0, sizeof(st));
    st.domain = "a.test";
    st.config = FP;
    st.failures = 3;
    st.server = "https://ca.test/dir";
    st.next_attempt = apr_time_from_sec(2000000600);
    st.ari.ids = IDS;
    st.ari.offered = 1;
    st.ari.start = apr_time_from_sec(2000086400);
    st.ari.end = apr_time_from_sec(2000172800);
    st.ari.renew_at = apr_time_from_sec(2000129600);
    st.ari.next_check = apr_time_from_sec(2000021600);
    st.notified[ACME_EV_ISSUED] = apr_time_from_sec(1999999900);
    st.notified[ACME_EV_ERRORED] = apr_time_from_sec(1999999950);
    st.last_error = acme_json_pool_own(test_pool, acme_state_error_new(
        &err, apr_time_from_sec(1999999950)));
    return st;
}

START_TEST(round_trip_keeps_the_format_and_every_value)
{
    acme_state_t st = sample_state(), back;
    const char *text = acme_json_dump(test_pool,
                                      acme_state_to_json(test_pool, &st, NOW));

    /* The format of the version that kept this in the glue. */
    ck_assert_str_eq(text, json_text(
        "{'ari':{'ids':'" IDS "','next_check':2000021600,'offered':true,"
        "'renew_at':2000129600,'window_end':2000172800,"
        "'window_start':2000086400},'config':'" FP "','domain':'a.test',"
        "'failures':3,'last_error':{'activity':'ordering','at':1999999950,"
        "'detail':'too many','hint':null,'http_status':429,"
        "'kind':'transient','type':'urn:ietf:params:acme:error:rateLimited'},"
        "'next_attempt':2000000600,'notified':{'errored':1999999950,"
        "'issued':1999999900},'server':'https://ca.test/dir',"
        "'updated':2000000000}"));
    ck_assert_int_eq(acme_state_parse(&back, test_pool, text, strlen(text),
                                      FP, IDS, NOW), APR_SUCCESS);
    ck_assert_str_eq(back.config, FP);
    ck_assert_int_eq(back.failures, 3);
    ck_assert_str_eq(back.server, "https://ca.test/dir");
    ck_assert_int_eq(back.next_attempt, st.next_attempt);
    ck_assert_str_eq(back.ari.ids, IDS);
    ck_assert_int_eq(back.ari.offered, 1);
    ck_assert_int_eq(back.ari.start, st.ari.start);
    ck_assert_int_eq(back.ari.end, st.ari.end);
    ck_assert_int_eq(back.ari.renew_at, st.ari.renew_at);
    ck_assert_int_eq(back.ari.next_check, st.ari.next_check);
    ck_assert_mem_eq(back.notified, st.notified, sizeof(st.notified));
    ck_assert_ptr_nonnull(back.last_error);
    ck_assert(json_equal(back.last_error, st.last_error));
}
END_TEST

START_TEST(a_file_of_the_earlier_version_loads)
{
    acme_state_t st;

    /* As json_dumps(JSON_INDENT(2)) wrote it, no ARI ids yet. */
    ck_assert_int_eq(parse(&st,
        "{\n  'ari': {\n    'ids': null,\n    'next_check': 0,\n"
        "    'offered': false,\n    'renew_at': 0,\n    'window_end': 0,\n"
        "    'window_start': 0\n  },\n  'config': '" FP "',\n"
        "  'domain': 'a.test',\n  'failures': 2,\n"
        "  'next_attempt': 2000000030,\n  'notified': {\n"
        "    'errored': 1999990000\n  },\n  'updated': 1999990000\n}\n"),
        APR_SUCCESS);
    ck_assert_int_eq(st.failures, 2);
    ck_assert_ptr_null(st.server);
    ck_assert_int_eq(st.next_attempt, apr_time_from_sec(2000000030));
    ck_assert_ptr_null(st.ari.ids);
    ck_assert_int_eq(st.notified[ACME_EV_ERRORED],
                     apr_time_from_sec(1999990000));
    ck_assert_ptr_null(st.last_error);
}
END_TEST

START_TEST(far_future_next_attempt_is_brought_back_to_a_day)
{
    acme_state_t st;

    /* 9999-12-31, and the largest integer JSON can carry here. */
    ck_assert_int_eq(parse_with(&st, "'next_attempt': 253402300799"),
                     APR_SUCCESS);
    ck_assert_int_eq(st.next_attempt, apr_time_from_sec(2000086400));
    ck_assert_int_eq(parse_with(&st, "'next_attempt': 9223372036854775807"),
                     APR_SUCCESS);
    ck_assert_int_eq(st.next_attempt, apr_time_from_sec(2000086400));
    /* Within a day: as saved. */
    ck_assert_int_eq(parse_with(&st, "'next_attempt': 2000086399"),
                     APR_SUCCESS);
    ck_assert_int_eq(st.next_attempt, apr_time_from_sec(2000086399));
}
END_TEST

START_TEST(negative_and_huge_times_are_clamped)
{
    acme_state_t st;

    ck_assert_int_eq(parse(&st,
        "{'config': '" FP "', 'next_attempt': -9223372036854775808,"
        " 'ari': {'ids': '" IDS "', 'offered': true,"
        "  'window_start': -5, 'window_end': 9223372036854775807,"
        "  'renew_at': 9223372036854775807,"
        "  'next_check': 9223372036854775807},"
        " 'notified': {'issued': 9223372036854775807, 'renewed': -1,"
        "  'installed': 1999999999, 'expiring': 2000000001}}"),
        APR_SUCCESS);
    ck_assert_int_eq(st.next_attempt, 0);
    ck_assert_int_eq(st.ari.start, 0);
    /* 9999-12-31T23:59:59Z is as far as a stored time goes. */
    ck_assert_int_eq(st.ari.end, apr_time_from_sec(253402300799));
    ck_assert_int_eq(st.ari.renew_at, apr_time_from_sec(253402300799));
    ck_assert_int_eq(st.ari.next_check, apr_time_from_sec(2000086400));
    /* Notifications: never in the future, never negative. */
    ck_assert_int_eq(st.notified[ACME_EV_ISSUED], NOW);
    ck_assert_int_eq(st.notified[ACME_EV_RENEWED], 0);
    ck_assert_int_eq(st.notified[ACME_EV_INSTALLED],
                     apr_time_from_sec(1999999999));
    ck_assert_int_eq(st.notified[ACME_EV_EXPIRING], NOW);
}
END_TEST

START_TEST(huge_and_negative_failures_are_bounded)
{
    acme_state_t st;

    ck_assert_int_eq(parse_with(&st, "'failures': 1000000000000000"),
                     APR_SUCCESS);
    ck_assert_int_eq(st.failures, 1000);
    /* 2^32 + 5 must not wrap to 5 on the way to an int. */
    ck_assert_int_eq(parse_with(&st, "'failures': 4294967301"), APR_SUCCESS);
    ck_assert_int_eq(st.failures, 1000);
    ck_assert_int_eq(parse_with(&st, "'failures': -3"), APR_SUCCESS);
    ck_assert_int_eq(st.failures, 0);
    ck_assert_int_eq(parse_with(&st, "'failures': 999"), APR_SUCCESS);
    ck_assert_int_eq(st.failures, 999);
}
END_TEST

START_TEST(members_of_the_wrong_type_count_as_absent)
{
    acme_state_t st;

    ck_assert_int_eq(parse(&st,
        "{'config': '" FP "', 'failures': '7', 'next_attempt': 2000000001.5,"
        " 'ari': [1, 2], 'notified': 'issued', 'last_error': 'oops',"
        " 'server': 3}"),
        APR_SUCCESS);
    assert_fresh(&st);
    ck_assert_int_eq(parse(&st,
        "{'config': '" FP "', 'failures': true, 'next_attempt': null,"
        " 'ari': {'ids': 5, 'next_check': 2000000100},"
        " 'notified': {'issued': '1999999999', 'errored': [1]},"
        " 'last_error': [{'detail': 'x'}]}"), APR_SUCCESS);
    assert_fresh(&st);
    /* Inside an ARI state that is ours: 'offered' must be true itself. */
    ck_assert_int_eq(parse_with(&st, "'ari': {'ids': '" IDS "', 'offered':"
                                " 'true', 'renew_at': 'soon',"
                                " 'next_check': {}}"), APR_SUCCESS);
    ck_assert_str_eq(st.ari.ids, IDS);
    ck_assert_int_eq(st.ari.offered, 0);
    ck_assert_int_eq(st.ari.renew_at, 0);
    ck_assert_int_eq(st.ari.next_check, 0);
}
END_TEST

START_TEST(missing_members_give_a_fresh_state)
{
    acme_state_t st;

    ck_assert_int_eq(parse(&st, "{'config': '" FP "'}"), APR_SUCCESS);
    assert_fresh(&st);
    ck_assert_str_eq(st.config, FP);
    ck_assert_int_eq(parse(&st, "{'ari': {}, 'notified': {},"
                                " 'last_error': {}}"), APR_SUCCESS);
    assert_fresh(&st);
}
END_TEST

START_TEST(a_state_about_another_configuration_is_ignored)
{
    const char *body = "'failures': 5, 'next_attempt': 2000000600,"
        " 'ari': {'ids': '" IDS "', 'next_check': 2000000100},"
        " 'notified': {'issued': 1999999900},"
        " 'last_error': {'detail': 'x'}}";
    acme_state_t st;

    ck_assert_int_eq(parse(&st, apr_pstrcat(test_pool, "{'config': 'other', ",
                                            body, NULL)), APR_SUCCESS);
    assert_fresh(&st);
    /* The one we run with is what gets saved next. */
    ck_assert_str_eq(st.config, FP);
    /* A NUL inside would fool a C string comparison: not even JSON
     * for us. */
    ck_assert_int_eq(parse(&st, apr_pstrcat(test_pool, "{'config': '" FP
                                            "\\u0000x', ", body, NULL)),
                     APR_EINVAL);
    assert_fresh(&st);
    ck_assert_int_eq(parse(&st, apr_pstrcat(test_pool, "{'config': 7, ",
                                            body, NULL)), APR_SUCCESS);
    assert_fresh(&st);
    /* The same body under our fingerprint is taken. */
    ck_assert_int_eq(parse(&st, apr_pstrcat(test_pool, "{'config': '" FP
                                            "', ", body, NULL)), APR_SUCCESS);
    ck_assert_int_eq(st.failures, 5);
}
END_TEST

START_TEST(ari_about_other_certificates_is_dropped)
{
    const char *text = json_text("{'config': '" FP "', 'failures': 1,"
        " 'ari': {'ids': '" IDS "', 'offered': true,"
        " 'window_start': 2000086400, 'window_end': 2000172800,"
        " 'renew_at': 2000100000, 'next_check': 2000000100}}");
    acme_state_t st;

    ck_assert_int_eq(acme_state_parse(&st, test_pool, text, strlen(text), FP,
                                      "aaa.bbb", NOW), APR_SUCCESS);
    ck_assert_int_eq(st.failures, 1);
    ck_assert_ptr_null(st.ari.ids);
    ck_assert_int_eq(st.ari.renew_at, 0);
    ck_assert_int_eq(st.ari.next_check, 0);
    /* Nothing live: no ARI state at all. */
    ck_assert_int_eq(acme_state_parse(&st, test_pool, text, strlen(text), FP,
                                      NULL, NOW), APR_SUCCESS);
    ck_assert_ptr_null(st.ari.ids);
    ck_assert_int_eq(st.ari.offered, 0);
    ck_assert_int_eq(acme_state_parse(&st, test_pool, text, strlen(text), FP,
                                      IDS, NOW), APR_SUCCESS);
    ck_assert_int_eq(st.ari.renew_at, apr_time_from_sec(2000100000));
    ck_assert_int_eq(st.ari.next_check, apr_time_from_sec(2000000100));
}
END_TEST

START_TEST(ari_pick_stays_in_its_window)
{
    acme_state_t st;

    /* A window that ends before it starts is no window. */
    ck_assert_int_eq(parse_with(&st, "'ari': {'ids': '" IDS "',"
        " 'offered': true, 'window_start': 2000172800,"
        " 'window_end': 2000086400, 'renew_at': 2000100000}"), APR_SUCCESS);
    ck_assert_int_eq(st.ari.offered, 1);
    ck_assert_int_eq(st.ari.start, 0);
    ck_assert_int_eq(st.ari.end, 0);
    ck_assert_int_eq(st.ari.renew_at, 0);
    /* A pick after the window is pulled to its end, one before to its
     * start. */
    ck_assert_int_eq(parse_with(&st, "'ari': {'ids': '" IDS "',"
        " 'window_start': 2000086400, 'window_end': 2000172800,"
        " 'renew_at': 2100000000}"), APR_SUCCESS);
    ck_assert_int_eq(st.ari.renew_at, apr_time_from_sec(2000172800));
    ck_assert_int_eq(parse_with(&st, "'ari': {'ids': '" IDS "',"
        " 'window_start': 2000086400, 'window_end': 2000172800,"
        " 'renew_at': 1}"), APR_SUCCESS);
    ck_assert_int_eq(st.ari.renew_at, apr_time_from_sec(2000086400));
    /* No pick stays no pick. */
    ck_assert_int_eq(parse_with(&st, "'ari': {'ids': '" IDS "',"
        " 'window_start': 2000086400, 'window_end': 2000172800,"
        " 'renew_at': 0}"), APR_SUCCESS);
    ck_assert_int_eq(st.ari.renew_at, 0);
}
END_TEST

START_TEST(damaged_files_are_refused)
{
    static const char *const bad[] = {
        "", "{", "not json", "[]", "\"config\"", "null",
        "{'config': 1, 'config': 2}",
    };
    acme_state_t st;
    apr_size_t big = 64 * 1024 + 1, i;
    char *text;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_int_eq(parse(&st, bad[i]), APR_EINVAL);
        assert_fresh(&st);
    }
    /* Valid JSON, but larger than a state file ever is. */
    text = apr_palloc(test_pool, big + 1);
    memset(text, ' ', big);
    memcpy(text, "{}", 2);
    text[big] = '\0';
    ck_assert_int_eq(acme_state_parse(&st, test_pool, text, big, FP, IDS,
                                      NOW), APR_EINVAL);
    ck_assert_int_eq(acme_state_parse(&st, test_pool, text, big - 1, FP, IDS,
                                      NOW), APR_SUCCESS);
}
END_TEST

START_TEST(last_error_is_rebuilt_type_checked_and_bounded)
{
    /* 1500 bytes: "x" then two-byte characters (é) from byte 1 on, so a
     * cut at 1024 would split one. */
    char detail[1501];
    const char *got;
    acme_state_t st;
    int i;

    detail[0] = 'x';
    for (i = 1; i < 1499; i += 2) {
        detail[i] = (char)0xC3;
        detail[i + 1] = (char)0xA9;
    }
    detail[1499] = 'y';
    detail[1500] = '\0';
    ck_assert_int_eq(parse_with(&st, apr_pstrcat(test_pool,
        "'last_error': {'type': 5, 'detail': '", detail, "',"
        " 'activity': 'ordering', 'http_status': 100000, 'kind': 'weird',"
        " 'at': 2100000000, 'secret': 'not kept'}", NULL)), APR_SUCCESS);
    ck_assert_ptr_nonnull(st.last_error);
    ck_assert(json_is_null(json_object_get(st.last_error, "type")));
    ck_assert(json_is_null(json_object_get(st.last_error, "hint")));
    ck_assert_str_eq(acme_json_str(st.last_error, "activity"), "ordering");
    ck_assert_int_eq(json_integer_value(json_object_get(st.last_error,
                                                        "http_status")), 0);
    ck_assert_str_eq(acme_json_str(st.last_error, "kind"), "transient");
    ck_assert_int_eq(json_integer_value(json_object_get(st.last_error, "at")),
                     NOW_SEC);
    ck_assert_ptr_null(json_object_get(st.last_error, "secret"));
    /* 1 + 511 * 2 = 1023 bytes: the 512th é would end at 1025. */
    got = acme_json_str(st.last_error, "detail");
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(strlen(got), 1023);
    ck_assert(!memcmp(got, detail, 1023));
    ck_assert_int_eq(parse_with(&st, "'last_error': {'kind': 'configuration',"
                                " 'http_status': 403, 'at': -7}"),
                     APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(st.last_error, "kind"), "configuration");
    ck_assert_int_eq(json_integer_value(json_object_get(st.last_error,
                                                        "http_status")), 403);
    ck_assert_int_eq(json_integer_value(json_object_get(st.last_error, "at")),
                     0);
}
END_TEST

START_TEST(a_new_error_is_bounded_too)
{
    char *detail = apr_palloc(test_pool, 5001);
    acme_error_t err = { 0, 0, NULL, NULL, "finalizing order", "check DNS",
                         ACME_FAIL_CONFIG, 0 };
    json_t *e;

    memset(detail, 'd', 5000);
    detail[5000] = '\0';
    err.detail = detail;
    e = acme_json_pool_own(test_pool, acme_state_error_new(
        &err, apr_time_from_sec(1999999999)));
    ck_assert_ptr_nonnull(e);
    ck_assert_uint_eq(strlen(acme_json_str(e, "detail")), 1024);
    ck_assert(json_is_null(json_object_get(e, "type")));
    ck_assert_str_eq(acme_json_str(e, "activity"), "finalizing order");
    ck_assert_str_eq(acme_json_str(e, "hint"), "check DNS");
    ck_assert_str_eq(acme_json_str(e, "kind"), "configuration");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "at")),
                     1999999999);
}
END_TEST

START_TEST(event_names_are_the_file_members)
{
    ck_assert_str_eq(acme_event_name(ACME_EV_ISSUED), "issued");
    ck_assert_str_eq(acme_event_name(ACME_EV_RENEWED), "renewed");
    ck_assert_str_eq(acme_event_name(ACME_EV_INSTALLED), "installed");
    ck_assert_str_eq(acme_event_name(ACME_EV_ERRORED), "errored");
    ck_assert_str_eq(acme_event_name(ACME_EV_EXPIRING), "expiring");
    ck_assert_str_eq(acme_event_name(ACME_EV_COUNT), "?");
}
END_TEST

Suite *state_suite(void)
{
    Suite *s = suite_create("state");
    TCase *tc = tcase_create("persisted state");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, round_trip_keeps_the_format_and_every_value);
    tcase_add_test(tc, a_file_of_the_earlier_version_loads);
    tcase_add_test(tc, far_future_next_attempt_is_brought_back_to_a_day);
    tcase_add_test(tc, negative_and_huge_times_are_clamped);
    tcase_add_test(tc, huge_and_negative_failures_are_bounded);
    tcase_add_test(tc, members_of_the_wrong_type_count_as_absent);
    tcase_add_test(tc, missing_members_give_a_fresh_state);
    tcase_add_test(tc, a_state_about_another_configuration_is_ignored);
    tcase_add_test(tc, ari_about_other_certificates_is_dropped);
    tcase_add_test(tc, ari_pick_stays_in_its_window);
    tcase_add_test(tc, damaged_files_are_refused);
    tcase_add_test(tc, last_error_is_rebuilt_type_checked_and_bounded);
    tcase_add_test(tc, a_new_error_is_bounded_too);
    tcase_add_test(tc, event_names_are_the_file_members);
    suite_add_tcase(s, tc);
    return s;
}
