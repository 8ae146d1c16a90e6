/* Revocation (RFC 8555 §7.6) over the scripted fake transport: the
 * request's shape when the account signs ("kid") and when the
 * certificate's own key signs ("jwk"), the payload with and without a
 * reason, the CA's alreadyRevoked and badRevocationReason, the stored
 * account acme_revoke uses, and the reasons an administrator may give. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_revoke.h"
#include "acme_util.h"

#define REVOKE_URL "https://ca.test/revoke-cert"

typedef struct {
    EVP_PKEY *key;
    unsigned char *der;
    apr_size_t der_len;
} test_cert_t;

/* A self-signed certificate for example.org with a key of type t. */
static test_cert_t make_cert(acme_key_type_e t)
{
    apr_array_header_t *names = apr_array_make(test_pool, 1, sizeof(char *));
    apr_array_header_t *chain;
    test_cert_t tc;
    const char *pem;
    unsigned char *out;
    int len;

    APR_ARRAY_PUSH(names, const char *) = "example.org";
    ck_assert(acme_key_generate(&tc.key, test_pool, t) == APR_SUCCESS);
    ck_assert(acme_cert_self_signed(&pem, test_pool, tc.key, names, 30)
              == APR_SUCCESS);
    ck_assert(acme_cert_chain_parse(&chain, test_pool, pem, strlen(pem))
              == APR_SUCCESS);
    len = i2d_X509(APR_ARRAY_IDX(chain, 0, X509 *), NULL);
    ck_assert_int_gt(len, 0);
    tc.der = out = apr_palloc(test_pool, len);
    tc.der_len = (apr_size_t)i2d_X509(APR_ARRAY_IDX(chain, 0, X509 *), &out);
    return tc;
}

static const char *jwk_of(EVP_PKEY *key)
{
    json_t *jwk;

    ck_assert(acme_jwk_create(&jwk, test_pool, key) == APR_SUCCESS);
    return acme_json_dump(test_pool, jwk);
}

/* 1 if the ES256 JWS in rq verifies with key (raw r||s back to DER). */
static int es256_verifies(const fake_request_t *rq, EVP_PKEY *key)
{
    json_t *jws = acme_json_parse(test_pool, rq->body, strlen(rq->body));
    const char *input = apr_pstrcat(test_pool, acme_json_str(jws, "protected"),
                                    ".", acme_json_str(jws, "payload"), NULL);
    unsigned char *sig, *der = NULL;
    apr_size_t len;
    ECDSA_SIG *es = ECDSA_SIG_new();
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok, dlen;

    ck_assert(acme_b64_decode(&sig, &len, test_pool,
                              acme_json_str(jws, "signature")) == APR_SUCCESS);
    ck_assert_int_eq(len, 64);
    ck_assert(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL),
                             BN_bin2bn(sig + 32, 32, NULL)));
    dlen = i2d_ECDSA_SIG(es, &der);
    ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key),
                     1);
    ok = EVP_DigestVerify(md, der, dlen, (const unsigned char *)input,
                          strlen(input));
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(md);
    ERR_clear_error();
    return ok == 1;
}

static void assert_payload(const jws_parts_t *parts, const test_cert_t *tc,
                           int reason)
{
    json_t *r = json_object_get(parts->payload, "reason");

    ck_assert_str_eq(acme_json_str(parts->payload, "certificate"),
                     acme_b64url_encode(test_pool, tc->der, tc->der_len));
    if (reason == ACME_REVOKE_NO_REASON) {
        ck_assert_ptr_null(r);
        ck_assert_int_eq(json_object_size(parts->payload), 1);
    }
    else {
        ck_assert(json_is_integer(r));
        ck_assert_int_eq(json_integer_value(r), reason);
        ck_assert_int_eq(json_object_size(parts->payload), 2);
    }
}

START_TEST(account_signs_with_kid)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    test_cert_t tc = make_cert(ACME_KEY_EC256);
    jws_parts_t parts;

    fake_push(f, 200, NULL, NULL)->nonce = "after";
    ck_assert_int_eq(acme_cert_revoke(c, test_pool, tc.der, tc.der_len, 4,
                                      NULL), APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 1);
    ck_assert_str_eq(f->requests[0].url, REVOKE_URL);
    parts = jws_decode(&f->requests[0]);
    ck_assert_str_eq(acme_json_str(parts.hdr, "kid"), KID_URL);
    ck_assert_ptr_null(json_object_get(parts.hdr, "jwk"));
    ck_assert_str_eq(acme_json_str(parts.hdr, "url"), REVOKE_URL);
    ck_assert_str_eq(acme_json_str(parts.hdr, "nonce"), "startNonce");
    ck_assert_str_eq(acme_json_str(parts.hdr, "alg"), "ES256");
    assert_payload(&parts, &tc, 4);
    ck_assert_str_eq(c->nonce, "after");
}
END_TEST

START_TEST(certificate_key_signs_with_jwk)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    EVP_PKEY *account_key = c->account_key;
    test_cert_t tc = make_cert(ACME_KEY_RSA2048);
    jws_parts_t parts;

    /* No account at all is needed for this form. */
    c->account_url = NULL;
    fake_push(f, 200, NULL, NULL);
    ck_assert_int_eq(acme_cert_revoke(c, test_pool, tc.der, tc.der_len,
                                      ACME_REVOKE_NO_REASON, tc.key),
                     APR_SUCCESS);
    parts = jws_decode(&f->requests[0]);
    ck_assert_ptr_null(json_object_get(parts.hdr, "kid"));
    ck_assert_str_eq(acme_json_dump(test_pool,
                                    json_object_get(parts.hdr, "jwk")),
                     jwk_of(tc.key));
    ck_assert_str_eq(acme_json_str(parts.hdr, "alg"), "RS256");
    assert_payload(&parts, &tc, ACME_REVOKE_NO_REASON);
    /* the account key is the client's again for what follows */
    ck_assert_ptr_eq(c->account_key, account_key);
}
END_TEST

START_TEST(bad_nonce_resent_with_the_same_key)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    test_cert_t tc = make_cert(ACME_KEY_EC384);
    jws_parts_t first, second;

    push_problem(f, 400, "badNonce", "stale")->nonce = "fresh";
    fake_push(f, 200, NULL, NULL);
    ck_assert_int_eq(acme_cert_revoke(c, test_pool, tc.der, tc.der_len, 1,
                                      tc.key), APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 2);
    first = jws_decode(&f->requests[0]);
    second = jws_decode(&f->requests[1]);
    ck_assert_str_eq(acme_json_str(second.hdr, "nonce"), "fresh");
    ck_assert_str_eq(acme_json_str(second.hdr, "alg"), "ES384");
    ck_assert_str_eq(acme_json_dump(test_pool,
                                    json_object_get(first.hdr, "jwk")),
                     acme_json_dump(test_pool,
                                    json_object_get(second.hdr, "jwk")));
    assert_payload(&second, &tc, 1);
}
END_TEST

START_TEST(already_revoked)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    test_cert_t tc = make_cert(ACME_KEY_EC256);

    push_problem(f, 400, "alreadyRevoked", "Certificate already revoked");
    ck_assert_int_ne(acme_cert_revoke(c, test_pool, tc.der, tc.der_len, 0,
                                      NULL), APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 1);    /* not retried */
    ck_assert_str_eq(c->error->type, "alreadyRevoked");
    ck_assert_int_eq(c->error->kind, ACME_FAIL_CONFIG);
    assert_has(acme_error_line(test_pool, c->error), "already revoked");
    assert_has(c->error->activity, "revoking a certificate at " DIR_URL);
}
END_TEST

START_TEST(bad_revocation_reason)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_registered(f);
    test_cert_t tc = make_cert(ACME_KEY_EC256);

    push_problem(f, 400, "badRevocationReason", "reason not allowed");
    ck_assert_int_ne(acme_cert_revoke(c, test_pool, tc.der, tc.der_len, 5,
                                      NULL), APR_SUCCESS);
    ck_assert_str_eq(c->error->type, "badRevocationReason");
    assert_has(c->error->detail, "reason not allowed");
    assert_has(c->error->hint, "--reason");
}
END_TEST

START_TEST(no_revoke_cert_in_directory)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);
    test_cert_t tc = make_cert(ACME_KEY_EC256);

    fake_push(f, 200, CT_JSON, "{\"newNonce\":\"" NONCE_URL "\","
              "\"newAccount\":\"" ACCT_URL "\",\"newOrder\":\"" ORDER_URL
              "\"}");
    ck_assert_int_eq(acme_cert_revoke(c, test_pool, tc.der, tc.der_len, 0,
                                      tc.key), APR_ENOTIMPL);
    ck_assert_int_eq(f->nrequests, 1);    /* the directory only */
    assert_has(c->error->detail, "revokeCert");
}
END_TEST

/* --- acme_revoke: the stored account --------------------------------- */

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static apr_status_t store_cleanup(void *base)
{
    nftw((const char *)base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return APR_SUCCESS;
}

static acme_store_t *temp_store(void)
{
    char tmpl[] = "/tmp/acmeauto-test-revoke-XXXXXX";
    acme_store_t *store;

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_int_eq(acme_store_open(&store, test_pool, tmpl), APR_SUCCESS);
    apr_pool_cleanup_register(test_pool, apr_pstrdup(test_pool, tmpl),
                              store_cleanup, apr_pool_cleanup_null);
    ck_assert_int_eq(acme_store_create_dirs(store, test_pool), APR_SUCCESS);
    return store;
}

static acme_revoke_req_t request(const test_cert_t *tc, int reason)
{
    acme_revoke_req_t r;

    memset(&r, 0, sizeof(r));
    r.server_url = DIR_URL;
    r.der = tc->der;
    r.der_len = tc->der_len;
    r.reason = reason;
    return r;
}

START_TEST(stored_account_signs)
{
    fake_http_t *f = fake_create();
    acme_store_t *store = temp_store();
    test_cert_t tc = make_cert(ACME_KEY_EC256);
    acme_revoke_req_t r = request(&tc, 3);
    acme_job_env_t env = { 0 };
    const char *dir = acme_store_path(test_pool, store, ACME_AREA_ACCOUNTS,
        acme_job_account_id(test_pool, DIR_URL, NULL), NULL), *pem;
    EVP_PKEY *acct;
    acme_error_t *err;
    jws_parts_t parts;

    ck_assert(acme_key_generate(&acct, test_pool, ACME_KEY_EC256)
              == APR_SUCCESS);
    ck_assert(acme_key_to_pem(&pem, test_pool, acct) == APR_SUCCESS);
    ck_assert_int_eq(acme_store_mkdirs(dir, 0700, test_pool), APR_SUCCESS);
    ck_assert_int_eq(acme_store_write(apr_pstrcat(test_pool, dir,
                     "/account.key.pem", NULL), pem, strlen(pem), 0600,
                     test_pool), APR_SUCCESS);
    pem = "{\"url\":\"" KID_URL "\",\"server\":\"" DIR_URL "\"}";
    ck_assert_int_eq(acme_store_write(apr_pstrcat(test_pool, dir,
                     "/account.json", NULL), pem, strlen(pem), 0600,
                     test_pool), APR_SUCCESS);
    env.http = &f->http;
    push_directory(f, 0);
    push_nonce(f, "n1");
    fake_push(f, 200, NULL, NULL);
    ck_assert_int_eq(acme_revoke(&err, test_pool, &r, store, &env),
                     APR_SUCCESS);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(f->nrequests, 3);
    ck_assert_str_eq(f->requests[1].method, "HEAD");
    parts = jws_decode(&f->requests[2]);
    ck_assert_str_eq(acme_json_str(parts.hdr, "kid"), KID_URL);
    ck_assert_str_eq(acme_json_str(parts.hdr, "alg"), "ES256");
    /* signed with the stored account key, not the certificate's */
    ck_assert(es256_verifies(&f->requests[2], acct));
    ck_assert(!es256_verifies(&f->requests[2], tc.key));
    assert_payload(&parts, &tc, 3);
}
END_TEST

START_TEST(no_stored_account)
{
    fake_http_t *f = fake_create();
    acme_store_t *store = temp_store();
    test_cert_t tc = make_cert(ACME_KEY_EC256);
    acme_revoke_req_t r = request(&tc, 0);
    acme_job_env_t env = { 0 };
    acme_error_t *err;

    env.http = &f->http;
    ck_assert_int_ne(acme_revoke(&err, test_pool, &r, store, &env),
                     APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 0);    /* nothing registered, nothing sent */
    ck_assert_ptr_nonnull(err);
    assert_has(err->detail, "no usable account");
    assert_has(err->hint, "--key");
}
END_TEST

START_TEST(certificate_key_needs_no_account)
{
    fake_http_t *f = fake_create();
    acme_store_t *store = temp_store();
    test_cert_t tc = make_cert(ACME_KEY_EC256);
    acme_revoke_req_t r = request(&tc, 1);
    acme_job_env_t env = { 0 };
    acme_error_t *err;
    jws_parts_t parts;

    r.cert_key = tc.key;
    env.http = &f->http;
    push_directory(f, 0);
    push_nonce(f, "n1");
    push_problem(f, 400, "alreadyRevoked", "Certificate already revoked");
    ck_assert_int_ne(acme_revoke(&err, test_pool, &r, store, &env),
                     APR_SUCCESS);
    parts = jws_decode(&f->requests[2]);
    ck_assert_str_eq(acme_json_dump(test_pool,
                                    json_object_get(parts.hdr, "jwk")),
                     jwk_of(tc.key));
    ck_assert(es256_verifies(&f->requests[2], tc.key));
    ck_assert_str_eq(err->type, "alreadyRevoked");
}
END_TEST

START_TEST(reasons)
{
    ck_assert_int_eq(acme_revoke_reason_parse("unspecified"), 0);
    ck_assert_int_eq(acme_revoke_reason_parse("keyCompromise"), 1);
    ck_assert_int_eq(acme_revoke_reason_parse("KEYCOMPROMISE"), 1);
    ck_assert_int_eq(acme_revoke_reason_parse("affiliationChanged"), 3);
    ck_assert_int_eq(acme_revoke_reason_parse("superseded"), 4);
    ck_assert_int_eq(acme_revoke_reason_parse("cessationOfOperation"), 5);
    /* the CA's own reasons, numbers and nothing are not accepted */
    ck_assert_int_eq(acme_revoke_reason_parse("cACompromise"),
                     ACME_REVOKE_NO_REASON);
    ck_assert_int_eq(acme_revoke_reason_parse("certificateHold"),
                     ACME_REVOKE_NO_REASON);
    ck_assert_int_eq(acme_revoke_reason_parse("1"), ACME_REVOKE_NO_REASON);
    ck_assert_int_eq(acme_revoke_reason_parse(""), ACME_REVOKE_NO_REASON);
    ck_assert_int_eq(acme_revoke_reason_parse(NULL), ACME_REVOKE_NO_REASON);
    ck_assert_str_eq(acme_revoke_reason_name(4), "superseded");
    ck_assert_str_eq(acme_revoke_reason_name(2), "?");
    ck_assert_str_eq(acme_revoke_reason_list(test_pool),
                     "unspecified, keyCompromise, affiliationChanged, "
                     "superseded, cessationOfOperation");
}
END_TEST

Suite *revoke_suite(void)
{
    Suite *s = suite_create("revoke");
    TCase *tc = tcase_create("revoke");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, account_signs_with_kid);
    tcase_add_test(tc, certificate_key_signs_with_jwk);
    tcase_add_test(tc, bad_nonce_resent_with_the_same_key);
    tcase_add_test(tc, already_revoked);
    tcase_add_test(tc, bad_revocation_reason);
    tcase_add_test(tc, no_revoke_cert_in_directory);
    tcase_add_test(tc, stored_account_signs);
    tcase_add_test(tc, no_stored_account);
    tcase_add_test(tc, certificate_key_needs_no_account);
    tcase_add_test(tc, reasons);
    suite_add_tcase(s, tc);
    return s;
}
