/* acme_probe (the acmeauto check's probes) over the scripted transport:
 * the account's status by POST-as-GET (RFC 8555 §7.3, §6.3) and the CA's
 * refusals of it. */
#include <string.h>
#include <apr_strings.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_json.h"
#include "acme_probe.h"

static const char *account_doc(const char *status)
{
    return apr_psprintf(test_pool, "{\"status\":\"%s\",\"contact\":"
                        "[\"mailto:admin@example.org\"],\"orders\":"
                        "\"https://ca.test/list-orderz/1\"}", status);
}

START_TEST(account_status_is_a_post_as_get_of_the_account)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    const char *status = NULL;
    jws_parts_t jws;

    fake_push(f, 200, CT_JSON, account_doc("valid"))->nonce = "next";
    ck_assert(acme_probe_account_status(&status, c, test_pool)
              == APR_SUCCESS);
    ck_assert_str_eq(status, "valid");
    ck_assert_int_eq(f->nrequests, 1);
    ck_assert_str_eq(f->requests[0].url, KID_URL);
    jws = jws_decode(&f->requests[0]);
    ck_assert_str_eq(acme_json_str(jws.hdr, "kid"), KID_URL);
    ck_assert_ptr_null(json_object_get(jws.hdr, "jwk"));
    /* POST-as-GET: an empty payload, not "{}" (RFC 8555 §6.3) */
    ck_assert_ptr_null(jws.payload);
    ck_assert_str_eq(jws.payload_b64, "");
}
END_TEST

START_TEST(account_status_deactivated_and_revoked)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    const char *status = NULL;

    fake_push(f, 200, CT_JSON, account_doc("deactivated"))->nonce = "n2";
    fake_push(f, 200, CT_JSON, account_doc("revoked"));
    ck_assert(acme_probe_account_status(&status, c, test_pool)
              == APR_SUCCESS);
    ck_assert_str_eq(status, "deactivated");
    ck_assert(acme_probe_account_status(&status, c, test_pool)
              == APR_SUCCESS);
    ck_assert_str_eq(status, "revoked");
}
END_TEST

START_TEST(account_unknown_to_the_ca_is_its_problem)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    const char *status = "untouched";

    push_problem(f, 400, "accountDoesNotExist", "no such account");
    ck_assert(acme_probe_account_status(&status, c, test_pool)
              != APR_SUCCESS);
    ck_assert_ptr_null(status);
    ck_assert_str_eq(c->error->type, "accountDoesNotExist");
    assert_has(c->error->activity, KID_URL);
}
END_TEST

START_TEST(account_answer_without_status_is_refused)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    const char *status = NULL;

    fake_push(f, 200, CT_JSON, "{\"status\":7}");
    ck_assert(acme_probe_account_status(&status, c, test_pool)
              != APR_SUCCESS);
    ck_assert_ptr_null(status);
    assert_has(c->error->detail, "no account status");
}
END_TEST

START_TEST(account_status_needs_an_account)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);
    const char *status = NULL;

    ck_assert(acme_probe_account_status(&status, c, test_pool)
              != APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 0);
}
END_TEST

Suite *probe_suite(void)
{
    Suite *s = suite_create("probe");
    TCase *tc = tcase_create("account");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, account_status_is_a_post_as_get_of_the_account);
    tcase_add_test(tc, account_status_deactivated_and_revoked);
    tcase_add_test(tc, account_unknown_to_the_ca_is_its_problem);
    tcase_add_test(tc, account_answer_without_status_is_refused);
    tcase_add_test(tc, account_status_needs_an_account);
    suite_add_tcase(s, tc);
    return s;
}
