/* Unit tests of the ACME client against a scripted fake transport: each
 * test queues the server's replies and then inspects what was sent. */
#include <string.h>
#include <apr_strings.h>
#include <apr_time.h>
#include <jansson.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"

/* --- helpers ----------------------------------------------------------- */

static apr_array_header_t *one_contact(void)
{
    apr_array_header_t *a = apr_array_make(test_pool, 1, sizeof(const char *));

    APR_ARRAY_PUSH(a, const char *) = "mailto:admin@example.org";
    return a;
}

static const unsigned char hmac_key[] = "0123456789abcdef0123456789abcdef";

/* --- directory --------------------------------------------------------- */

START_TEST(directory_fetch_parses_pebble_directory)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 1);
    ck_assert(acme_directory_fetch(c) == APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 1);
    ck_assert_str_eq(f->requests[0].method, "GET");
    ck_assert_str_eq(f->requests[0].url, DIR_URL);
    ck_assert_str_eq(c->dir.new_nonce, NONCE_URL);
    ck_assert_str_eq(c->dir.new_account, ACCT_URL);
    ck_assert_str_eq(c->dir.new_order, ORDER_URL);
    ck_assert_str_eq(c->dir.revoke_cert, "https://ca.test/revoke-cert");
    ck_assert_str_eq(c->dir.key_change, "https://ca.test/rollover-account-key");
    ck_assert_str_eq(c->dir.renewal_info, ARI_URL);
    ck_assert_str_eq(c->dir.terms_of_service, TOS_URL);
    ck_assert_int_eq(c->dir.eab_required, 1);
    /* Read once per client: no second request (the fake would abort). */
    ck_assert(acme_directory_fetch(c) == APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 1);
}
END_TEST

START_TEST(directory_fetch_rejects_missing_new_order)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    fake_push(f, 200, CT_JSON, "{\"newNonce\":\"" NONCE_URL "\","
              "\"newAccount\":\"" ACCT_URL "\"}");
    ck_assert(acme_directory_fetch(c) != APR_SUCCESS);
    ck_assert_int_eq(c->have_dir, 0);
    ck_assert_ptr_nonnull(c->error);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_CONFIG);
    assert_has(c->error->hint, "ACMEServer");
    assert_has(c->error->activity, DIR_URL);
}
END_TEST

START_TEST(directory_parse_rejects_non_url_members)
{
    acme_directory_t dir;
    json_t *doc = acme_json_pool_own(test_pool, json_pack(
        "{s:s,s:s,s:i}", "newNonce", NONCE_URL, "newAccount", ACCT_URL,
        "newOrder", 5));

    ck_assert(acme_directory_parse(&dir, test_pool, doc) == APR_EINVAL);
    json_object_set_new(doc, "newOrder", json_string("file:///etc/passwd"));
    ck_assert(acme_directory_parse(&dir, test_pool, doc) == APR_EINVAL);
    json_object_set_new(doc, "newOrder", json_string(ORDER_URL));
    ck_assert(acme_directory_parse(&dir, test_pool, doc) == APR_SUCCESS);
    ck_assert_ptr_null(dir.terms_of_service);
    ck_assert_int_eq(dir.eab_required, 0);
}
END_TEST

START_TEST(directory_parse_reads_profiles)
{
    /* draft-ietf-acme-profiles: meta.profiles maps names to prose. */
    acme_directory_t dir;
    json_t *doc = acme_json_pool_own(test_pool, json_pack(
        "{s:s,s:s,s:s,s:{s:{s:s,s:s}}}", "newNonce", NONCE_URL,
        "newAccount", ACCT_URL, "newOrder", ORDER_URL, "meta", "profiles",
        "classic", "the usual 90 days", "shortlived", "6 days"));

    ck_assert(acme_directory_parse(&dir, test_pool, doc) == APR_SUCCESS);
    ck_assert_ptr_nonnull(dir.profiles);
    ck_assert_int_eq(dir.profiles->nelts, 2);
    json_object_set_new(json_object_get(doc, "meta"), "profiles",
                        json_string("classic"));
    ck_assert(acme_directory_parse(&dir, test_pool, doc) == APR_SUCCESS);
    ck_assert_ptr_null(dir.profiles);
}
END_TEST

START_TEST(directory_fetch_http_error_is_transient)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    fake_push(f, 503, "text/html", "<html>down</html>");
    ck_assert(acme_directory_fetch(c) != APR_SUCCESS);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    assert_has(c->error->detail, "503");
}
END_TEST

/* --- account ----------------------------------------------------------- */

START_TEST(account_refuses_without_tos_agreement)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 0);
    ck_assert(acme_account_register(c, test_pool, one_contact(), 0, NULL,
                                    NULL, 0) != APR_SUCCESS);
    ck_assert_int_eq(count_method(f, "POST"), 0);
    ck_assert_int_eq(count_method(f, "HEAD"), 0);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_CONFIG);
    assert_has(c->error->hint, "ACMEAgreeTOS");
    assert_has(c->error->detail, TOS_URL);
    ck_assert_ptr_null(c->account_url);
}
END_TEST

START_TEST(account_refuses_without_eab_when_required)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 1);
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, NULL,
                                    NULL, 0) != APR_SUCCESS);
    ck_assert_int_eq(count_method(f, "POST"), 0);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_CONFIG);
    assert_has(c->error->hint, "ACMEEAB");
}
END_TEST

START_TEST(account_register_sends_jwk_jws_with_eab)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);
    fake_reply_t *r;
    jws_parts_t jws;
    json_t *eab, *eab_hdr, *jwk, *contact;
    const char *mac, *input;

    push_directory(f, 1);
    push_nonce(f, "nonceFromHead");
    r = fake_push(f, 201, CT_JSON, "{\"status\":\"valid\"}");
    r->nonce = "nonceAfterAccount";
    r->location = KID_URL;
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, "kid-1",
                                    hmac_key, sizeof(hmac_key) - 1)
              == APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 3);
    ck_assert_str_eq(f->requests[1].method, "HEAD");
    ck_assert_str_eq(f->requests[1].url, NONCE_URL);
    ck_assert_str_eq(f->requests[2].url, ACCT_URL);

    jws = jws_decode(&f->requests[2]);
    ck_assert_str_eq(acme_json_str(jws.hdr, "alg"), "ES256");
    ck_assert_str_eq(acme_json_str(jws.hdr, "url"), ACCT_URL);
    ck_assert_str_eq(acme_json_str(jws.hdr, "nonce"), "nonceFromHead");
    ck_assert_ptr_null(json_object_get(jws.hdr, "kid"));
    ck_assert(acme_jwk_create(&jwk, test_pool, c->account_key) == APR_SUCCESS);
    ck_assert(json_equal(json_object_get(jws.hdr, "jwk"), jwk));

    ck_assert_ptr_nonnull(jws.payload);
    ck_assert(json_is_true(json_object_get(jws.payload, "termsOfServiceAgreed")));
    contact = json_object_get(jws.payload, "contact");
    ck_assert(json_is_array(contact));
    ck_assert_int_eq(json_array_size(contact), 1);
    ck_assert_str_eq(json_string_value(json_array_get(contact, 0)),
                     "mailto:admin@example.org");

    eab = json_object_get(jws.payload, "externalAccountBinding");
    ck_assert(json_is_object(eab));
    eab_hdr = b64_json(acme_json_str(eab, "protected"));
    ck_assert_str_eq(acme_json_str(eab_hdr, "alg"), "HS256");
    ck_assert_str_eq(acme_json_str(eab_hdr, "kid"), "kid-1");
    ck_assert_str_eq(acme_json_str(eab_hdr, "url"), ACCT_URL);
    ck_assert(json_equal(b64_json(acme_json_str(eab, "payload")), jwk));
    input = apr_pstrcat(test_pool, acme_json_str(eab, "protected"), ".",
                        acme_json_str(eab, "payload"), NULL);
    ck_assert(acme_hmac_sha256_b64(&mac, test_pool, hmac_key,
                                   sizeof(hmac_key) - 1, input,
                                   strlen(input)) == APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(eab, "signature"), mac);

    ck_assert_str_eq(c->account_url, KID_URL);
    ck_assert_str_eq(c->nonce, "nonceAfterAccount");
}
END_TEST

START_TEST(account_register_without_eab_omits_binding)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);
    jws_parts_t jws;

    push_directory(f, 0);
    push_nonce(f, "nonceFromHead");
    fake_push(f, 200, CT_JSON, "{\"status\":\"valid\"}")->location = KID_URL;
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, NULL,
                                    NULL, 0) == APR_SUCCESS);
    jws = jws_decode(&f->requests[2]);
    ck_assert_ptr_null(json_object_get(jws.payload, "externalAccountBinding"));
    ck_assert_str_eq(c->account_url, KID_URL);
}
END_TEST

START_TEST(account_register_needs_location)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 0);
    push_nonce(f, "nonceFromHead");
    fake_push(f, 201, CT_JSON, "{\"status\":\"valid\"}");
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, NULL,
                                    NULL, 0) != APR_SUCCESS);
    ck_assert_ptr_null(c->account_url);
    assert_has(c->error->detail, "Location");
}
END_TEST

START_TEST(bad_nonce_is_retried_with_nonce_from_error)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);
    fake_reply_t *r;

    push_directory(f, 0);
    push_nonce(f, "nonceFromHead");
    push_problem(f, 400, "badNonce", "JWS has an invalid anti-replay nonce")
        ->nonce = "nonceFromError";
    r = fake_push(f, 201, CT_JSON, "{\"status\":\"valid\"}");
    r->location = KID_URL;
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, NULL,
                                    NULL, 0) == APR_SUCCESS);
    ck_assert_int_eq(count_method(f, "HEAD"), 1);
    ck_assert_int_eq(count_method(f, "POST"), 2);
    ck_assert_str_eq(acme_json_str(jws_decode(&f->requests[2]).hdr, "nonce"),
                     "nonceFromHead");
    ck_assert_str_eq(acme_json_str(jws_decode(&f->requests[3]).hdr, "nonce"),
                     "nonceFromError");
    ck_assert_str_eq(c->account_url, KID_URL);
}
END_TEST

START_TEST(bad_nonce_retries_are_bounded)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);
    int i;

    /* A CA that refuses every nonce: the client retries (RFC 8555 §6.5
     * lets it) a few times, then gives up rather than loop. The bound is
     * the client's choice; the test asks only that there be one, below
     * the number of refusals queued (a request past those would fail). */
    push_directory(f, 0);
    push_nonce(f, "nonceFromHead");
    for (i = 0; i < FAKE_MAX - 2; i++) {
        push_problem(f, 400, "badNonce", "stale")->nonce =
            apr_psprintf(test_pool, "nonce%d", i);
    }
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, NULL,
                                    NULL, 0) != APR_SUCCESS);
    ck_assert_int_ge(count_method(f, "POST"), 2);
    ck_assert_int_lt(count_method(f, "POST"), FAKE_MAX - 2);
    ck_assert_str_eq(c->error->type, "badNonce");
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    ck_assert_ptr_null(c->account_url);
}
END_TEST

START_TEST(eab_refused_as_malformed_is_config)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 1);
    push_nonce(f, "nonceFromHead");
    push_problem(f, 400, "malformed", "Invalid JWS");
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, "kid-1",
                                    hmac_key, sizeof(hmac_key) - 1)
              != APR_SUCCESS);
    ck_assert_int_eq(c->error->http_status, 400);
    ck_assert_str_eq(c->error->type, "malformed");
    ck_assert_int_eq(c->error->kind, ACME_FAIL_CONFIG);
    assert_has(c->error->hint, "ACMEEAB");
    assert_has(c->error->activity, "creating an account");
}
END_TEST

START_TEST(rate_limit_with_eab_stays_transient)
{
    /* A refused registration with EAB is blamed on the EAB, but a rate
     * limit is not the EAB's fault and must still be retried. */
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 1);
    push_nonce(f, "nonceFromHead");
    push_problem(f, 429, "rateLimited", "too many new accounts")
        ->retry_after = "3600";
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, "kid-1",
                                    hmac_key, sizeof(hmac_key) - 1)
              != APR_SUCCESS);
    ck_assert_str_eq(c->error->type, "rateLimited");
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    ck_assert_int_eq(c->error->retry_after, apr_time_from_sec(3600));
    assert_has(c->error->hint, "rate limit");
}
END_TEST

START_TEST(server_error_on_account_is_transient)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 1);
    push_nonce(f, "nonceFromHead");
    fake_push(f, 503, "text/html", "<html>maintenance</html>")
        ->retry_after = "120";
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, "kid-1",
                                    hmac_key, sizeof(hmac_key) - 1)
              != APR_SUCCESS);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    ck_assert_int_eq(c->error->retry_after, apr_time_from_sec(120));
}
END_TEST

/* --- orders, authorizations, certificates ------------------------------ */

static const char *const order_json =
    "{\"status\":\"pending\",\"expires\":\"2030-01-01T00:00:00Z\","
    "\"identifiers\":[{\"type\":\"dns\",\"value\":\"example.org\"},"
    "{\"type\":\"dns\",\"value\":\"www.example.org\"}],"
    "\"finalize\":\"https://ca.test/finalize/1\","
    "\"authorizations\":[\"https://ca.test/authz/a\","
    "\"https://ca.test/authz/b\"]}";

static apr_array_header_t *two_names(void)
{
    apr_array_header_t *a = apr_array_make(test_pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(a, const char *) = "example.org";
    APR_ARRAY_PUSH(a, const char *) = "www.example.org";
    return a;
}

START_TEST(order_new_parses_order)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;
    jws_parts_t jws;
    json_t *ids;
    fake_reply_t *r;

    r = fake_push(f, 201, CT_JSON, order_json);
    r->location = "https://ca.test/order/1";
    r->nonce = "nonceAfterOrder";
    ck_assert(acme_order_new(&o, c, test_pool, two_names(), NULL, NULL) == APR_SUCCESS);
    ck_assert_str_eq(o->url, "https://ca.test/order/1");
    ck_assert_str_eq(o->status, "pending");
    ck_assert_str_eq(o->finalize_url, "https://ca.test/finalize/1");
    ck_assert_ptr_null(o->certificate_url);
    ck_assert_int_eq(o->authz_urls->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(o->authz_urls, 0, const char *),
                     "https://ca.test/authz/a");
    ck_assert_str_eq(APR_ARRAY_IDX(o->authz_urls, 1, const char *),
                     "https://ca.test/authz/b");

    ck_assert_int_eq(f->nrequests, 1);
    ck_assert_str_eq(f->requests[0].url, ORDER_URL);
    jws = jws_decode(&f->requests[0]);
    ck_assert_str_eq(acme_json_str(jws.hdr, "kid"), KID_URL);
    ck_assert_ptr_null(json_object_get(jws.hdr, "jwk"));
    ck_assert_str_eq(acme_json_str(jws.hdr, "nonce"), "startNonce");
    ids = json_object_get(jws.payload, "identifiers");
    ck_assert_int_eq(json_array_size(ids), 2);
    ck_assert_str_eq(acme_json_str(json_array_get(ids, 1), "type"), "dns");
    ck_assert_str_eq(acme_json_str(json_array_get(ids, 1), "value"),
                     "www.example.org");
    ck_assert_str_eq(c->nonce, "nonceAfterOrder");
}
END_TEST

START_TEST(order_stuck_in_processing_hits_the_deadline)
{
    /* A per-job bound: an order the CA leaves in "processing" ends the
     * attempt (transient) instead of holding the job forever. */
    static const char *const processing =
        "{\"status\":\"processing\",\"finalize\":\"https://ca.test/"
        "finalize/1\",\"authorizations\":[\"https://ca.test/authz/a\"]}";
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;
    int i;

    /* Polls at 0, 20, ..., 160 ms at the most (a pause is never shorter
     * than asked; it may be longer on a busy machine): 2 to 9 requests,
     * whatever the client's sleep granularity. One reply more than that
     * is queued; a tenth request would fail the test. */
    c->poll_interval = apr_time_from_msec(20);
    c->poll_timeout = apr_time_from_msec(150);
    for (i = 0; i < 10; i++) {
        fake_push(f, 200, CT_JSON, processing)->nonce = "nonceP";
    }
    ck_assert(acme_order_wait(&o, c, test_pool, "https://ca.test/order/1",
                              "valid") == APR_TIMEUP);
    ck_assert_ptr_nonnull(c->error);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    ck_assert_int_ge(f->nrequests, 2);
    ck_assert_int_le(f->nrequests, 150 / 20 + 2);
}
END_TEST

START_TEST(order_new_sends_replaces)
{
    /* RFC 9773 §5: the order that renews a certificate names it. */
    static const char id[] = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE";
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;
    jws_parts_t jws;

    fake_push(f, 201, CT_JSON, order_json)->location = "https://ca.test/order/2";
    ck_assert(acme_order_new(&o, c, test_pool, two_names(), id, NULL) == APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 1);
    jws = jws_decode(&f->requests[0]);
    ck_assert_str_eq(acme_json_str(jws.payload, "replaces"), id);
    ck_assert_int_eq(json_array_size(json_object_get(jws.payload,
                                                     "identifiers")), 2);
    ck_assert_int_eq(json_object_size(jws.payload), 2);
}
END_TEST

START_TEST(order_new_sends_profile)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;
    jws_parts_t jws;

    fake_push(f, 201, CT_JSON, order_json)->location = "https://ca.test/order/3";
    ck_assert(acme_order_new(&o, c, test_pool, two_names(), NULL,
                             "shortlived") == APR_SUCCESS);
    jws = jws_decode(&f->requests[0]);
    ck_assert_str_eq(acme_json_str(jws.payload, "profile"), "shortlived");
    ck_assert_ptr_null(json_object_get(jws.payload, "replaces"));
}
END_TEST

START_TEST(order_new_without_replaces_omits_it)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;
    jws_parts_t jws;

    fake_push(f, 201, CT_JSON, order_json)->location = "https://ca.test/order/2";
    ck_assert(acme_order_new(&o, c, test_pool, two_names(), NULL, NULL)
              == APR_SUCCESS);
    jws = jws_decode(&f->requests[0]);
    ck_assert_ptr_null(json_object_get(jws.payload, "replaces"));
    ck_assert_int_eq(json_object_size(jws.payload), 1);
}
END_TEST

START_TEST(order_new_without_location_is_an_error)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;

    fake_push(f, 201, CT_JSON, order_json);
    ck_assert(acme_order_new(&o, c, test_pool, two_names(), NULL, NULL) != APR_SUCCESS);
    assert_has(c->error->detail, "order");
}
END_TEST

START_TEST(order_new_needs_account)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;

    c->account_url = NULL;
    ck_assert(acme_order_new(&o, c, test_pool, two_names(), NULL, NULL) != APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 0);
}
END_TEST

START_TEST(order_parse_rejects_bad_documents)
{
    acme_order_t *o;
    json_t *doc = acme_json_parse(test_pool, order_json, strlen(order_json));

    ck_assert(acme_order_parse(&o, test_pool, "https://ca.test/o", doc)
              == APR_SUCCESS);
    json_array_append_new(json_object_get(doc, "authorizations"),
                          json_integer(3));
    ck_assert(acme_order_parse(&o, test_pool, "https://ca.test/o", doc)
              == APR_EINVAL);
    doc = acme_json_parse(test_pool, order_json, strlen(order_json));
    json_object_set_new(doc, "finalize", json_string("javascript:alert(1)"));
    ck_assert(acme_order_parse(&o, test_pool, "https://ca.test/o", doc)
              == APR_EINVAL);
    doc = acme_json_parse(test_pool, order_json, strlen(order_json));
    json_object_del(doc, "status");
    ck_assert(acme_order_parse(&o, test_pool, "https://ca.test/o", doc)
              == APR_EINVAL);
}
END_TEST

#define AUTHZ_FMT \
    "{\"status\":\"%s\",\"identifier\":{\"type\":\"dns\"," \
    "\"value\":\"example.org\"},\"challenges\":[{\"type\":\"http-01\"," \
    "\"url\":\"https://ca.test/chal/1\",\"token\":\"%s\"," \
    "\"status\":\"%s\"%s}]}"

static json_t *authz_doc(const char *status, const char *token)
{
    const char *s = apr_psprintf(test_pool, AUTHZ_FMT, status, token, status, "");

    return acme_json_parse(test_pool, s, strlen(s));
}

START_TEST(authz_parse_reads_challenges)
{
    acme_authz_t *a = NULL;
    acme_challenge_t *ch;

    ck_assert(acme_authz_parse(&a, test_pool, "https://ca.test/authz/a",
                               authz_doc("pending", "tok_EN-1")) == APR_SUCCESS);
    ck_assert_str_eq(a->identifier, "example.org");
    ck_assert_str_eq(a->status, "pending");
    ck_assert_int_eq(a->wildcard, 0);
    ck_assert_int_eq(a->challenges->nelts, 1);
    ch = &APR_ARRAY_IDX(a->challenges, 0, acme_challenge_t);
    ck_assert_str_eq(ch->type, "http-01");
    ck_assert_str_eq(ch->url, "https://ca.test/chal/1");
    ck_assert_str_eq(ch->token, "tok_EN-1");
}
END_TEST

START_TEST(authz_parse_reads_dns_persist)
{
    /* draft-ietf-acme-dns-persist: no token, the CA's issuer names; a
     * name that is no DNS name never reaches the administrator. */
    acme_authz_t *a = NULL;
    acme_challenge_t *ch;
    json_t *doc = acme_json_pool_own(test_pool, json_pack(
        "{s:s,s:{s:s,s:s},s:[{s:s,s:s,s:s,s:[s]}]}", "status", "pending",
        "identifier", "type", "dns", "value", "example.org", "challenges",
        "type", "dns-persist-01", "url", "https://ca.test/chal/2", "status",
        "pending", "issuer-domain-names", "ca.example"));
    json_t *chj = json_array_get(json_object_get(doc, "challenges"), 0);

    ck_assert(acme_authz_parse(&a, test_pool, "https://ca.test/authz/b", doc)
              == APR_SUCCESS);
    ch = &APR_ARRAY_IDX(a->challenges, 0, acme_challenge_t);
    ck_assert_str_eq(ch->type, "dns-persist-01");
    ck_assert_ptr_null(ch->token);
    ck_assert_str_eq(ch->issuer_domain, "ca.example");
    json_object_set_new(chj, "issuer-domain-names",
                        json_pack("[s]", "ca.example; policy=wildcard"));
    ck_assert(acme_authz_parse(&a, test_pool, "https://ca.test/authz/b", doc)
              == APR_EINVAL);
}
END_TEST

START_TEST(authz_parse_rejects_unsafe_tokens)
{
    acme_authz_t *a = NULL;

    ck_assert(acme_authz_parse(&a, test_pool, "https://ca.test/authz/a",
                               authz_doc("pending", "abc/def")) == APR_EINVAL);
    ck_assert(acme_authz_parse(&a, test_pool, "https://ca.test/authz/a",
                               authz_doc("pending", "abc.def")) == APR_EINVAL);
    ck_assert(acme_authz_parse(&a, test_pool, "https://ca.test/authz/a",
                               authz_doc("pending", "..")) == APR_EINVAL);
    ck_assert(acme_authz_parse(&a, test_pool, "https://ca.test/authz/a",
                               authz_doc("pending", "")) == APR_EINVAL);
    ck_assert_ptr_null(a);
}
END_TEST

static void push_authz(fake_http_t *f, const char *status, const char *extra,
                       const char *retry_after)
{
    fake_reply_t *r = fake_push(f, 200, CT_JSON, apr_psprintf(test_pool,
        AUTHZ_FMT, status, "tok1", status, extra));

    r->nonce = "nonceAuthz";
    r->retry_after = retry_after;
}

START_TEST(authz_wait_honours_retry_after)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;
    apr_time_t start;

    c->poll_interval = apr_time_from_msec(1);
    push_authz(f, "pending", "", "1");
    push_authz(f, "valid", "", NULL);
    start = apr_time_now();
    ck_assert(acme_authz_wait(&a, c, test_pool, "https://ca.test/authz/a")
              == APR_SUCCESS);
    ck_assert_int_ge(apr_time_now() - start, apr_time_from_msec(900));
    ck_assert_str_eq(a->status, "valid");
    ck_assert_int_eq(count_method(f, "POST"), 2);
    /* Polling is POST-as-GET: an empty payload. */
    ck_assert_str_eq(jws_decode(&f->requests[1]).payload_b64, "");
}
END_TEST

START_TEST(authz_wait_without_retry_after_uses_poll_interval)
{
    /* The counterpart of the test above: the long wait came from the
     * header, not from the client. */
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;
    apr_time_t start;

    c->poll_interval = apr_time_from_msec(1);
    push_authz(f, "pending", "", NULL);
    push_authz(f, "valid", "", NULL);
    start = apr_time_now();
    ck_assert(acme_authz_wait(&a, c, test_pool, "https://ca.test/authz/a")
              == APR_SUCCESS);
    ck_assert_int_lt(apr_time_now() - start, apr_time_from_msec(600));
}
END_TEST

START_TEST(authz_wait_returns_challenge_problem)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;

    c->poll_interval = apr_time_from_msec(1);
    push_authz(f, "pending", "", NULL);
    push_authz(f, "invalid", ",\"error\":{\"type\":"
               "\"urn:ietf:params:acme:error:incorrectResponse\","
               "\"detail\":\"The key authorization file from the server did "
               "not match\",\"status\":403}", NULL);
    ck_assert(acme_authz_wait(&a, c, test_pool, "https://ca.test/authz/a")
              != APR_SUCCESS);
    ck_assert_str_eq(c->error->type, "incorrectResponse");
    assert_has(c->error->detail, "did not match");
    assert_has(c->error->detail, "example.org");
    assert_has(c->error->detail, "http-01");
    assert_has(c->error->hint, "acme-challenge");
}
END_TEST

START_TEST(authz_wait_times_out)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;
    int i;

    /* Polls 40 ms apart at least, given up after 100 ms: at 0, 40, 80
     * and 120 ms at the most (2 to 4 requests); a fifth request, for
     * which no reply is queued, would fail the test. */
    c->poll_interval = apr_time_from_msec(40);
    c->poll_timeout = apr_time_from_msec(100);
    for (i = 0; i < 4; i++) {
        push_authz(f, "pending", "", NULL);
    }
    ck_assert(acme_authz_wait(&a, c, test_pool, "https://ca.test/authz/a")
              == APR_TIMEUP);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    ck_assert_int_ge(f->nrequests, 2);
}
END_TEST

static int abort_now(void *baton)
{
    return *(int *)baton;
}

START_TEST(authz_wait_can_be_aborted)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_authz_t *a = NULL;
    int stop = 1;
    apr_time_t start = apr_time_now();

    c->should_abort = abort_now;
    c->abort_baton = &stop;
    push_authz(f, "pending", "", "30");
    ck_assert(acme_authz_wait(&a, c, test_pool, "https://ca.test/authz/a")
              == APR_EINTR);
    ck_assert_int_lt(apr_time_now() - start, apr_time_from_sec(2));
}
END_TEST

START_TEST(order_wait_reports_order_problem)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    acme_order_t *o = NULL;

    fake_push(f, 200, CT_JSON, "{\"status\":\"invalid\",\"finalize\":"
              "\"https://ca.test/finalize/1\",\"authorizations\":[],"
              "\"error\":{\"type\":\"urn:ietf:params:acme:error:caa\","
              "\"detail\":\"CAA forbids\"}}");
    ck_assert(acme_order_wait(&o, c, test_pool, "https://ca.test/order/1",
                              "valid") != APR_SUCCESS);
    ck_assert_str_eq(c->error->type, "caa");
    ck_assert_int_eq(c->error->kind, ACME_FAIL_CONFIG);
    assert_has(c->error->detail, "CAA forbids");
}
END_TEST

START_TEST(retry_after_seconds_and_date)
{
    acme_http_response_t resp;
    char date[APR_RFC822_DATE_LEN];
    apr_time_t now = apr_time_now();
    apr_interval_time_t d;

    memset(&resp, 0, sizeof(resp));
    resp.headers = apr_table_make(test_pool, 2);
    ck_assert_int_eq(acme_retry_after(&resp, now), 0);
    ck_assert_int_eq(acme_retry_after(NULL, now), 0);

    apr_table_set(resp.headers, "Retry-After", "120");
    ck_assert_int_eq(acme_retry_after(&resp, now), apr_time_from_sec(120));

    apr_rfc822_date(date, now + apr_time_from_sec(90));
    apr_table_set(resp.headers, "Retry-After", date);
    d = acme_retry_after(&resp, now);
    /* HTTP-dates have whole seconds. */
    ck_assert_int_gt(d, apr_time_from_sec(88));
    ck_assert_int_le(d, apr_time_from_sec(90));

    apr_rfc822_date(date, now - apr_time_from_sec(90));
    apr_table_set(resp.headers, "Retry-After", date);
    ck_assert_int_eq(acme_retry_after(&resp, now), 0);

    apr_table_set(resp.headers, "Retry-After", "soon");
    ck_assert_int_eq(acme_retry_after(&resp, now), 0);
    apr_table_set(resp.headers, "Retry-After", "-5");
    ck_assert_int_eq(acme_retry_after(&resp, now), 0);
}
END_TEST

START_TEST(cert_download_rejects_non_pem)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    const char *pem = NULL;
    apr_size_t len = 0;

    fake_push(f, 200, "text/html", "<html>not a certificate</html>");
    ck_assert(acme_cert_download(&pem, &len, c, test_pool,
                                 "https://ca.test/cert/1") != APR_SUCCESS);
    ck_assert_ptr_null(pem);
    assert_has(c->error->detail, "PEM");
}
END_TEST

START_TEST(cert_download_returns_pem)
{
    static const char body[] = "-----BEGIN CERTIFICATE-----\nMIIB\n"
                               "-----END CERTIFICATE-----\n";
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    const char *pem = NULL;
    apr_size_t len = 0;

    fake_push(f, 200, "application/pem-certificate-chain", body);
    ck_assert(acme_cert_download(&pem, &len, c, test_pool,
                                 "https://ca.test/cert/1") == APR_SUCCESS);
    ck_assert_str_eq(pem, body);
    ck_assert_uint_eq(len, sizeof(body) - 1);
    ck_assert_str_eq(f->requests[0].url, "https://ca.test/cert/1");
}
END_TEST

/* --- transport failures ------------------------------------------------ */

static void push_refused(fake_http_t *f)
{
    fake_reply_t *r = fake_push(f, 0, NULL, NULL);

    r->transport_rv = APR_ECONNREFUSED;
    r->error_text = "Failed to connect to ca.test port 443: Connection refused";
}

START_TEST(transport_failure_on_directory_is_transient)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_refused(f);
    ck_assert(acme_directory_fetch(c) == APR_ECONNREFUSED);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    assert_has(c->error->hint, "ACMEServer");
    assert_has(c->error->detail, "Connection refused");
    assert_has(c->error->activity, DIR_URL);
}
END_TEST

START_TEST(transport_failure_on_post_is_transient)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 0);
    push_nonce(f, "nonceFromHead");
    push_refused(f);
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, NULL,
                                    NULL, 0) == APR_ECONNREFUSED);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    assert_has(c->error->hint, "ACMEServer");
    assert_has(c->error->activity, "creating an account");
    /* The nonce went out with the lost request; it must not be reused. */
    ck_assert_ptr_null(c->nonce);
}
END_TEST

START_TEST(nonce_reply_without_nonce_fails)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);

    push_directory(f, 0);
    push_nonce(f, "bad nonce/..");
    ck_assert(acme_account_register(c, test_pool, one_contact(), 1, NULL,
                                    NULL, 0) != APR_SUCCESS);
    ck_assert_int_eq(count_method(f, "POST"), 0);
    assert_has(c->error->detail, "Replay-Nonce");
}
END_TEST

Suite *client_suite(void)
{
    Suite *s = suite_create("client");
    TCase *tc;

    tc = tcase_create("directory");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, directory_fetch_parses_pebble_directory);
    tcase_add_test(tc, directory_fetch_rejects_missing_new_order);
    tcase_add_test(tc, directory_parse_rejects_non_url_members);
    tcase_add_test(tc, directory_parse_reads_profiles);
    tcase_add_test(tc, directory_fetch_http_error_is_transient);
    suite_add_tcase(s, tc);

    tc = tcase_create("account");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, account_refuses_without_tos_agreement);
    tcase_add_test(tc, account_refuses_without_eab_when_required);
    tcase_add_test(tc, account_register_sends_jwk_jws_with_eab);
    tcase_add_test(tc, account_register_without_eab_omits_binding);
    tcase_add_test(tc, account_register_needs_location);
    tcase_add_test(tc, bad_nonce_is_retried_with_nonce_from_error);
    tcase_add_test(tc, bad_nonce_retries_are_bounded);
    tcase_add_test(tc, eab_refused_as_malformed_is_config);
    tcase_add_test(tc, rate_limit_with_eab_stays_transient);
    tcase_add_test(tc, server_error_on_account_is_transient);
    suite_add_tcase(s, tc);

    tc = tcase_create("order");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, order_new_parses_order);
    tcase_add_test(tc, order_new_sends_replaces);
    tcase_add_test(tc, order_stuck_in_processing_hits_the_deadline);
    tcase_add_test(tc, order_new_without_replaces_omits_it);
    tcase_add_test(tc, order_new_sends_profile);
    tcase_add_test(tc, order_new_without_location_is_an_error);
    tcase_add_test(tc, order_new_needs_account);
    tcase_add_test(tc, order_parse_rejects_bad_documents);
    tcase_add_test(tc, authz_parse_reads_challenges);
    tcase_add_test(tc, authz_parse_reads_dns_persist);
    tcase_add_test(tc, authz_parse_rejects_unsafe_tokens);
    tcase_add_test(tc, authz_wait_honours_retry_after);
    tcase_add_test(tc, authz_wait_without_retry_after_uses_poll_interval);
    tcase_add_test(tc, authz_wait_returns_challenge_problem);
    tcase_add_test(tc, authz_wait_times_out);
    tcase_add_test(tc, authz_wait_can_be_aborted);
    tcase_add_test(tc, order_wait_reports_order_problem);
    tcase_add_test(tc, retry_after_seconds_and_date);
    tcase_add_test(tc, cert_download_rejects_non_pem);
    tcase_add_test(tc, cert_download_returns_pem);
    suite_add_tcase(s, tc);

    tc = tcase_create("transport");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, transport_failure_on_directory_is_transient);
    tcase_add_test(tc, transport_failure_on_post_is_transient);
    tcase_add_test(tc, nonce_reply_without_nonce_fails);
    suite_add_tcase(s, tc);

    return s;
}
