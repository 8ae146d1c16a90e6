/* handoff/config.json (acme_conf.c): what the module writes, the
 * acmeauto command reads back exactly, and nothing else passes. */
#include <string.h>
#include <apr_strings.h>
#include <jansson.h>

#include "test_suites.h"
#include "acme_conf.h"
#include "acme_crypto.h"
#include "acme_json.h"

static apr_array_header_t *strs(const char *a, const char *b)
{
    apr_array_header_t *arr = apr_array_make(test_pool, 2,
                                             sizeof(const char *));
    APR_ARRAY_PUSH(arr, const char *) = a;
    if (b) {
        APR_ARRAY_PUSH(arr, const char *) = b;
    }
    return arr;
}

static acme_conf_t *sample(void)
{
    acme_conf_t *c = apr_pcalloc(test_pool, sizeof(*c));
    acme_conf_domain_t *d = apr_pcalloc(test_pool, sizeof(*d));

    c->written = apr_time_from_sec(2000000000);
    c->store = "/var/lib/acme";
    c->pid = 4242;
    c->user = "www-data";
    c->uid = 33;
    c->gid = 34;
    c->domains = apr_array_make(test_pool, 1, sizeof(d));
    APR_ARRAY_PUSH(c->domains, acme_conf_domain_t *) = d;
    d->key = "b.test";
    d->name = "a.test";
    d->names = strs("a.test", "b.test");
    d->key_types = apr_array_make(test_pool, 2, sizeof(acme_key_type_e));
    APR_ARRAY_PUSH(d->key_types, acme_key_type_e) = ACME_KEY_EC256;
    APR_ARRAY_PUSH(d->key_types, acme_key_type_e) = ACME_KEY_RSA3072;
    d->servers = strs("https://ca.test/dir?x=1", "https://ca2.test/dir");
    d->eab_kid = "kid-1";
    d->eab_file = "/etc/apache2/eab.json";
    d->contacts = strs("mailto:a@b.test", NULL);
    d->tos_agreed = 1;
    d->tos_url = "https://ca.test/tos";
    d->auto_restart = 1;
    d->activation_delay = apr_time_from_sec(60);
    d->retry_delay = apr_time_from_sec(30);
    d->renew_pct = 33;
    d->notify_cmd = strs("/bin/notify", "--x");
    d->defined_at = "/etc/apache2/sites/a.conf:3";
    d->state_config = "0123abcd";
    d->previous_file = "/etc/letsencrypt/live/a.test/fullchain.pem";
    d->previous_serial = "0A1B";
    d->previous_not_after = apr_time_from_sec(2000086400);
    return c;
}

static apr_status_t parse_text(acme_conf_t **c, const char **why,
                               const char *text)
{
    return acme_conf_parse(c, why, test_pool, text, strlen(text));
}

START_TEST(round_trip_keeps_every_value)
{
    acme_conf_t *in = sample(), *out;
    acme_conf_domain_t *d;
    const char *why = NULL;
    const char *text = acme_json_dump(test_pool, acme_json_pool_own(
        test_pool, acme_conf_to_json(in)));

    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(parse_text(&out, &why, text), APR_SUCCESS);
    ck_assert_int_eq(out->written, in->written);
    ck_assert_str_eq(out->store, "/var/lib/acme");
    ck_assert_int_eq(out->pid, 4242);
    ck_assert_str_eq(out->user, "www-data");
    ck_assert_int_eq(out->uid, 33);
    ck_assert_int_eq(out->gid, 34);
    ck_assert_int_eq(out->domains->nelts, 1);
    d = APR_ARRAY_IDX(out->domains, 0, acme_conf_domain_t *);
    ck_assert_str_eq(d->key, "b.test");
    ck_assert_str_eq(d->name, "a.test");
    ck_assert_int_eq(d->names->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(d->names, 1, const char *), "b.test");
    ck_assert_int_eq(APR_ARRAY_IDX(d->key_types, 0, acme_key_type_e),
                     ACME_KEY_EC256);
    ck_assert_int_eq(APR_ARRAY_IDX(d->key_types, 1, acme_key_type_e),
                     ACME_KEY_RSA3072);
    ck_assert_str_eq(APR_ARRAY_IDX(d->servers, 0, const char *),
                     "https://ca.test/dir?x=1");
    ck_assert_str_eq(d->eab_kid, "kid-1");
    ck_assert_str_eq(d->eab_file, "/etc/apache2/eab.json");
    ck_assert_int_eq(d->eab_inline, 0);
    ck_assert_str_eq(APR_ARRAY_IDX(d->contacts, 0, const char *),
                     "mailto:a@b.test");
    ck_assert_int_eq(d->tos_agreed, 1);
    ck_assert_str_eq(d->tos_url, "https://ca.test/tos");
    ck_assert_ptr_null(d->ca_file);
    ck_assert_int_eq(d->auto_restart, 1);
    ck_assert_int_eq(d->activation_delay, apr_time_from_sec(60));
    ck_assert_int_eq(d->retry_delay, apr_time_from_sec(30));
    ck_assert_int_eq(d->renew_pct, 33);
    ck_assert_int_eq(d->renew_left, 0);
    ck_assert_int_eq(d->notify_cmd->nelts, 2);
    ck_assert_str_eq(d->defined_at, "/etc/apache2/sites/a.conf:3");
    ck_assert_str_eq(d->previous_file,
                     "/etc/letsencrypt/live/a.test/fullchain.pem");
    ck_assert_str_eq(d->previous_serial, "0A1B");
    ck_assert_ptr_null(d->previous_issuer);
    ck_assert_int_eq(d->previous_not_after, apr_time_from_sec(2000086400));
    ck_assert_str_eq(d->state_config, "0123abcd");
    ck_assert_ptr_eq(acme_conf_find(out, "A.TEST"), d);
    ck_assert_ptr_eq(acme_conf_find(out, "b.test"), d);
    ck_assert_ptr_null(acme_conf_find(out, "c.test"));
}
END_TEST

START_TEST(no_secret_is_written)
{
    const char *text = acme_json_dump(test_pool, acme_json_pool_own(
        test_pool, acme_conf_to_json(sample())));

    /* Only the key id and the file's path: the struct has no HMAC. */
    ck_assert_ptr_null(strstr(text, "hmac"));
    ck_assert_ptr_nonnull(strstr(text, "\"eab_kid\":\"kid-1\""));
}
END_TEST

/* The sample's text with one substitution. */
static const char *sample_with(const char *from, const char *to)
{
    const char *text = acme_json_dump(test_pool, acme_json_pool_own(
        test_pool, acme_conf_to_json(sample())));
    const char *at = strstr(text, from);

    ck_assert_ptr_nonnull(at);
    return apr_pstrcat(test_pool, apr_pstrndup(test_pool, text, at - text),
                       to, at + strlen(from), NULL);
}

START_TEST(what_it_did_not_write_is_refused)
{
    acme_conf_t *c;
    const char *why;

    ck_assert_int_eq(parse_text(&c, &why, "[]"), APR_EINVAL);
    ck_assert_int_eq(parse_text(&c, &why, ""), APR_EINVAL);
    ck_assert_int_eq(parse_text(&c, &why, sample_with("\"version\":1",
                                                      "\"version\":2")),
                     APR_EINVAL);
    ck_assert_str_eq(why, "it was written by another version of the module");
    ck_assert_int_eq(parse_text(&c, &why, sample_with("\"ec256\"",
                                                      "\"dsa1024\"")),
                     APR_EINVAL);
    ck_assert_str_eq(why, "key_types holds an unknown key type");
    ck_assert_int_eq(parse_text(&c, &why, sample_with("\"key\":\"b.test\"",
                                                      "\"key\":\"../x\"")),
                     APR_EINVAL);
    ck_assert_str_eq(why, "key is not a store key");
    ck_assert_int_eq(parse_text(&c, &why, sample_with("\"uid\":33",
                                                      "\"uid\":\"33\"")),
                     APR_EINVAL);
    ck_assert_str_eq(why, "uid is not an integer in range");
    ck_assert_int_eq(parse_text(&c, &why, sample_with("\"tos_agreed\":true",
                                                      "\"tos_agreed\":1")),
                     APR_EINVAL);
    ck_assert_int_eq(parse_text(&c, &why, sample_with(
        "\"servers\":[\"https://ca.test/dir?x=1\",\"https://ca2.test/dir\"]",
        "\"servers\":[]")), APR_EINVAL);
    ck_assert_ptr_null(c);
}
END_TEST

/* ACMEHttpProxy: a URL, "" (none, even if the environment names one) and
 * unset (the environment's) are three different things to libcurl. */
START_TEST(http_proxy_keeps_its_three_meanings)
{
    static const char *const values[] = { "http://proxy.test:3128", "",
                                          NULL };
    int i;

    for (i = 0; i < 3; i++) {
        acme_conf_t *in = sample(), *out;
        acme_conf_domain_t *d;
        const char *why = NULL, *text;

        APR_ARRAY_IDX(in->domains, 0, acme_conf_domain_t *)->http_proxy =
            values[i];
        text = acme_json_dump(test_pool, acme_json_pool_own(
            test_pool, acme_conf_to_json(in)));
        ck_assert_int_eq(parse_text(&out, &why, text), APR_SUCCESS);
        d = APR_ARRAY_IDX(out->domains, 0, acme_conf_domain_t *);
        if (values[i]) {
            ck_assert_ptr_nonnull(d->http_proxy);
            ck_assert_str_eq(d->http_proxy, values[i]);
        }
        else {
            ck_assert_ptr_null(d->http_proxy);
        }
    }
}
END_TEST

/* ACMEProfile and ACMEChallenges reach `acmeauto renew`; a file from
 * before them means no profile and http-01. */
START_TEST(profile_and_challenges_travel)
{
    acme_conf_t *in = sample(), *out;
    acme_conf_domain_t *d = APR_ARRAY_IDX(in->domains, 0,
                                          acme_conf_domain_t *);
    apr_array_header_t *types = apr_array_make(test_pool, 2,
                                               sizeof(const char *));
    json_t *j, *dom;
    const char *why = NULL, *text;

    APR_ARRAY_PUSH(types, const char *) = "dns-persist-01";
    APR_ARRAY_PUSH(types, const char *) = "http-01";
    d->profile = "shortlived";
    d->profile_mandatory = 1;
    d->challenges = types;
    j = acme_json_pool_own(test_pool, acme_conf_to_json(in));
    ck_assert_int_eq(parse_text(&out, &why, acme_json_dump(test_pool, j)),
                     APR_SUCCESS);
    d = APR_ARRAY_IDX(out->domains, 0, acme_conf_domain_t *);
    ck_assert_str_eq(d->profile, "shortlived");
    ck_assert_int_eq(d->profile_mandatory, 1);
    ck_assert_int_eq(d->challenges->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(d->challenges, 0, const char *),
                     "dns-persist-01");

    dom = json_array_get(json_object_get(j, "domains"), 0);
    json_object_del(dom, "profile");
    json_object_del(dom, "profile_mandatory");
    json_object_del(dom, "challenges");
    text = acme_json_dump(test_pool, j);
    ck_assert_int_eq(parse_text(&out, &why, text), APR_SUCCESS);
    d = APR_ARRAY_IDX(out->domains, 0, acme_conf_domain_t *);
    ck_assert_ptr_null(d->profile);
    ck_assert_int_eq(d->profile_mandatory, 0);
    ck_assert_ptr_null(d->challenges);
}
END_TEST

Suite *conf_suite(void)
{
    Suite *s = suite_create("conf");
    TCase *tc = tcase_create("config.json");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, round_trip_keeps_every_value);
    tcase_add_test(tc, no_secret_is_written);
    tcase_add_test(tc, what_it_did_not_write_is_refused);
    tcase_add_test(tc, http_proxy_keeps_its_three_meanings);
    tcase_add_test(tc, profile_and_challenges_travel);
    suite_add_tcase(s, tc);
    return s;
}
