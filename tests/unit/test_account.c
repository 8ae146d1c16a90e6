/* The account as the CA has it (acme_account_get: POST-as-GET) and its
 * contact update (RFC 8555 §7.3.2), for `acmeauto account`. */
#include <string.h>
#include <apr_strings.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_json.h"

#define ACCOUNT_DOC "{\"status\":\"valid\",\"contact\":[\"mailto:a@example.org\"]," \
                    "\"orders\":\"https://ca.test/list-orderz/1\"}"

START_TEST(account_get_is_post_as_get)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    json_t *acct = NULL;
    jws_parts_t jws;

    fake_push(f, 200, CT_JSON, ACCOUNT_DOC)->nonce = "n2";
    ck_assert(acme_account_get(&acct, c, test_pool) == APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(acct, "status"), "valid");
    ck_assert_str_eq(acme_json_str(acct, "orders"),
                     "https://ca.test/list-orderz/1");
    ck_assert_int_eq(f->nrequests, 1);
    ck_assert_str_eq(f->requests[0].url, KID_URL);
    jws = jws_decode(&f->requests[0]);
    ck_assert_str_eq(acme_json_str(jws.hdr, "kid"), KID_URL);
    ck_assert_str_eq(acme_json_str(jws.hdr, "url"), KID_URL);
    ck_assert_ptr_null(jws.payload);
    ck_assert_str_eq(jws.payload_b64, "");
}
END_TEST

START_TEST(account_update_contact_sends_the_list)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    apr_array_header_t *contacts = apr_array_make(test_pool, 2,
                                                  sizeof(char *));
    json_t *acct = NULL, *list;
    jws_parts_t jws;

    APR_ARRAY_PUSH(contacts, const char *) = "mailto:ops@example.org";
    APR_ARRAY_PUSH(contacts, const char *) = "mailto:dev@example.org";
    fake_push(f, 200, CT_JSON, ACCOUNT_DOC)->nonce = "n2";
    ck_assert(acme_account_update_contact(&acct, c, test_pool, contacts)
              == APR_SUCCESS);
    ck_assert(json_is_object(acct));
    jws = jws_decode(&f->requests[0]);
    ck_assert_str_eq(f->requests[0].url, KID_URL);
    ck_assert_int_eq(json_object_size(jws.payload), 1);
    list = json_object_get(jws.payload, "contact");
    ck_assert_int_eq(json_array_size(list), 2);
    ck_assert_str_eq(json_string_value(json_array_get(list, 0)),
                     "mailto:ops@example.org");
    ck_assert_str_eq(json_string_value(json_array_get(list, 1)),
                     "mailto:dev@example.org");
    /* none configured: an empty list removes them */
    fake_push(f, 200, CT_JSON, "{\"status\":\"valid\"}")->nonce = "n3";
    ck_assert(acme_account_update_contact(&acct, c, test_pool, NULL)
              == APR_SUCCESS);
    jws = jws_decode(&f->requests[1]);
    ck_assert_int_eq(json_array_size(json_object_get(jws.payload,
                                                     "contact")), 0);
}
END_TEST

START_TEST(account_get_errors)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    json_t *acct = NULL;

    push_problem(f, 400, "accountDoesNotExist", "no such account")->nonce
        = "n3";
    ck_assert(acme_account_get(&acct, c, test_pool) != APR_SUCCESS);
    ck_assert_ptr_null(acct);
    ck_assert_str_eq(c->error->type, "accountDoesNotExist");
    assert_has(c->error->activity, KID_URL);
    /* a 2xx that is no account object */
    fake_push(f, 200, "text/html", "<html></html>")->nonce = "n4";
    ck_assert(acme_account_get(&acct, c, test_pool) != APR_SUCCESS);
    ck_assert_ptr_null(acct);
    assert_has(c->error->detail, "account object");
    /* no account URL: nothing is sent */
    c->account_url = NULL;
    f->nrequests = 0;
    ck_assert(acme_account_get(&acct, c, test_pool) != APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 0);
}
END_TEST

Suite *account_suite(void)
{
    Suite *s = suite_create("account");
    TCase *tc = tcase_create("account");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, account_get_is_post_as_get);
    tcase_add_test(tc, account_update_contact_sends_the_list);
    tcase_add_test(tc, account_get_errors);
    suite_add_tcase(s, tc);
    return s;
}
