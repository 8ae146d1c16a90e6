/* Unit tests of ACME Renewal Information (RFC 9773): the certificate ID
 * (acme_cert_ari_id) from certificates built here with a chosen Authority
 * Key Identifier and serial, and the renewalInfo request (acme_ari_get)
 * against the scripted fake transport. */
#include <string.h>
#include <apr_strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_util.h"

/* --- certificates with a chosen AKI and serial ------------------------- */

/* The RFC 9773 §4.1 example. */
static const unsigned char rfc_kid[] = {
    0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
    0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4
};
#define RFC_SERIAL "0087654321"
#define RFC_ARI_ID "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"

typedef enum {
    AKI_NONE,           /* no authorityKeyIdentifier at all */
    AKI_KEYID,          /* keyIdentifier only, as CAs issue them */
    AKI_ISSUER_SERIAL   /* authorityCertIssuer + serial, no keyIdentifier */
} aki_form_e;

static void add_aki(X509 *x, aki_form_e form, const unsigned char *kid,
                    apr_size_t kidlen)
{
    AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
    GENERAL_NAME *gn;

    ck_assert_ptr_nonnull(akid);
    if (form == AKI_KEYID) {
        akid->keyid = ASN1_OCTET_STRING_new();
        ck_assert(ASN1_OCTET_STRING_set(akid->keyid, kid, (int)kidlen));
    }
    else {
        gn = GENERAL_NAME_new();
        gn->type = GEN_DIRNAME;
        gn->d.dirn = X509_NAME_dup(X509_get_issuer_name(x));
        akid->issuer = GENERAL_NAMES_new();
        sk_GENERAL_NAME_push(akid->issuer, gn);
        akid->serial = ASN1_INTEGER_new();
        ck_assert(ASN1_INTEGER_set(akid->serial, 1));
    }
    ck_assert_int_eq(X509_add1_ext_i2d(x, NID_authority_key_identifier, akid,
                                       0, X509V3_ADD_DEFAULT), 1);
    AUTHORITY_KEYID_free(akid);
}

/* A signed leaf with serial (hex) and the AKI in form, read back through
 * acme_cert_chain_parse like a certificate from the store. */
static apr_array_header_t *leaf_chain(aki_form_e form, const unsigned char *kid,
                                      apr_size_t kidlen, const char *serial)
{
    EVP_PKEY *key = NULL;
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    BIGNUM *bn = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    apr_array_header_t *chain = NULL;
    char *pem = NULL;
    long len;

    ck_assert_int_eq(acme_key_generate(&key, test_pool, ACME_KEY_EC256),
                     APR_SUCCESS);
    ck_assert(x && name && bio);
    ck_assert(BN_hex2bn(&bn, serial) > 0);
    ck_assert(X509_set_version(x, X509_VERSION_3));
    ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    ck_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         (const unsigned char *)"example.org",
                                         -1, -1, 0));
    ck_assert(X509_set_subject_name(x, name) && X509_set_issuer_name(x, name));
    ck_assert(X509_gmtime_adj(X509_getm_notBefore(x), 0)
              && X509_gmtime_adj(X509_getm_notAfter(x), 86400));
    if (form != AKI_NONE) {
        add_aki(x, form, kid, kidlen);
    }
    ck_assert(X509_set_pubkey(x, key));
    ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
    ck_assert(PEM_write_bio_X509(bio, x));
    len = BIO_get_mem_data(bio, &pem);
    ck_assert_int_eq(acme_cert_chain_parse(&chain, test_pool, pem,
                                           (apr_size_t)len), APR_SUCCESS);
    BIO_free(bio);
    BN_free(bn);
    X509_NAME_free(name);
    X509_free(x);
    return chain;
}

static const char *ari_id_of(const char *serial)
{
    const char *id = NULL;

    ck_assert_int_eq(acme_cert_ari_id(&id, test_pool, leaf_chain(
        AKI_KEYID, rfc_kid, sizeof(rfc_kid), serial)), APR_SUCCESS);
    ck_assert_ptr_nonnull(id);
    return id;
}

START_TEST(ari_id_rfc9773_example)
{
    ck_assert_str_eq(ari_id_of(RFC_SERIAL), RFC_ARI_ID);
}
END_TEST

START_TEST(ari_id_serial_without_high_bit)
{
    /* 0x12345678: DER content is the four bytes, no leading zero. */
    ck_assert_str_eq(ari_id_of("12345678"),
                     "aYhba4dGQEHhs3uEe6CuLN4ByNQ.EjRWeA");
    ck_assert_str_eq(ari_id_of("7F"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.fw");
    ck_assert_str_eq(ari_id_of("01"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AQ");
    /* 0x80 needs the zero byte, 0x0100 does not. */
    ck_assert_str_eq(ari_id_of("80"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIA");
    ck_assert_str_eq(ari_id_of("0100"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AQA");
}
END_TEST

/* The serial part must be the DER content octets, whatever the length:
 * compare with OpenSSL's own encoding of the INTEGER. */
static const char *const der_serials[] = {
    "FF", "00FF", "7FFF", "8000", "0123456789ABCDEF",
    "FEDCBA9876543210FEDCBA9876543210",
    "7EDCBA9876543210FEDCBA9876543210FEDCBA98",   /* 20 octets, RFC 5280 max */
};

START_TEST(ari_id_serial_is_der_content)
{
    BIGNUM *bn = NULL;
    ASN1_INTEGER *ai;
    unsigned char *der = NULL;
    const char *id, *dot;
    int len;

    ck_assert(BN_hex2bn(&bn, der_serials[_i]) > 0);
    ai = BN_to_ASN1_INTEGER(bn, NULL);
    ck_assert_ptr_nonnull(ai);
    len = i2d_ASN1_INTEGER(ai, &der);
    /* tag 02, a one-byte length (all of these are short), content */
    ck_assert(len > 2 && der[0] == 0x02 && der[1] == len - 2);
    id = ari_id_of(der_serials[_i]);
    dot = strchr(id, '.');
    ck_assert_ptr_nonnull(dot);
    ck_assert_str_eq(dot + 1, acme_b64url_encode(test_pool, der + 2,
                                                 (apr_size_t)len - 2));
    OPENSSL_free(der);
    ASN1_INTEGER_free(ai);
    BN_free(bn);
}
END_TEST

START_TEST(ari_id_other_key_id)
{
    static const unsigned char kid[] = { 0xfb, 0xff, 0x00 };
    const char *id = NULL;

    /* base64url, not base64: 0xfbff00 is "-_8A" ("+/8A" in base64). */
    ck_assert_int_eq(acme_cert_ari_id(&id, test_pool, leaf_chain(
        AKI_KEYID, kid, sizeof(kid), "12345678")), APR_SUCCESS);
    ck_assert_str_eq(id, "-_8A.EjRWeA");
}
END_TEST

START_TEST(ari_id_needs_key_identifier)
{
    const char *id = "unset";

    ck_assert_int_eq(acme_cert_ari_id(&id, test_pool, leaf_chain(
        AKI_NONE, NULL, 0, RFC_SERIAL)), APR_EINVAL);
    ck_assert_int_eq(acme_cert_ari_id(&id, test_pool, leaf_chain(
        AKI_ISSUER_SERIAL, NULL, 0, RFC_SERIAL)), APR_EINVAL);
    ck_assert_str_eq(id, "unset");
    ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(ari_id_of_self_signed_stand_in)
{
    /* The stand-in certificate has no AKI: it has no ARI either. */
    EVP_PKEY *key = NULL;
    apr_array_header_t *names = apr_array_make(test_pool, 1,
                                               sizeof(const char *));
    apr_array_header_t *chain = NULL;
    const char *pem = NULL, *id = NULL;

    APR_ARRAY_PUSH(names, const char *) = "example.org";
    ck_assert_int_eq(acme_key_generate(&key, test_pool, ACME_KEY_EC256),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_cert_self_signed(&pem, test_pool, key, names, 1),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_cert_chain_parse(&chain, test_pool, pem,
                                           strlen(pem)), APR_SUCCESS);
    ck_assert_int_eq(acme_cert_ari_id(&id, test_pool, chain), APR_EINVAL);
}
END_TEST

/* --- renewalInfo requests ---------------------------------------------- */

/* 2026-11-26T12:00:00Z and a day later, seconds since the epoch. */
#define WIN_START APR_INT64_C(1795694400)
#define WIN_END   APR_INT64_C(1795780800)

#define ARI_BODY_FMT \
    "{\"suggestedWindow\":{\"start\":\"%s\",\"end\":\"%s\"}%s}"

static fake_reply_t *push_ari(fake_http_t *f, const char *start,
                              const char *end, const char *extra)
{
    return fake_push(f, 200, CT_JSON, apr_psprintf(test_pool, ARI_BODY_FMT,
                                                   start, end, extra));
}

/* A client whose directory offers renewal_info (NULL: no ARI). */
static acme_client_t *ari_client(fake_http_t *f, const char *renewal_info)
{
    acme_client_t *c = client_new(f);

    push_directory_ari(f, 0, renewal_info);
    return c;
}

START_TEST(ari_get_without_renewal_info_is_not_implemented)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, NULL);
    acme_ari_t ari;

    ck_assert_int_eq(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_ENOTIMPL);
    ck_assert_int_eq(c->have_dir, 1);
    ck_assert_ptr_null(c->dir.renewal_info);
    /* Only the directory was asked. */
    ck_assert_int_eq(f->nrequests, 1);
    ck_assert_str_eq(f->requests[0].url, DIR_URL);
}
END_TEST

START_TEST(ari_get_parses_window)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, "https://ca/renewal-info");
    acme_ari_t ari;

    push_ari(f, "2026-11-26T12:00:00Z", "2026-11-27T12:00:00Z",
             ",\"explanationURL\":\"https://ca/why\"")->retry_after = "21600";
    memset(&ari, 0, sizeof(ari));
    ck_assert_int_eq(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_SUCCESS);
    ck_assert_int_eq(f->nrequests, 2);
    ck_assert_str_eq(f->requests[1].method, "GET");
    ck_assert_str_eq(f->requests[1].url,
                     "https://ca/renewal-info/" RFC_ARI_ID);
    ck_assert_ptr_null(f->requests[1].body);
    ck_assert_int_eq(ari.start, apr_time_from_sec(WIN_START));
    ck_assert_int_eq(ari.end, apr_time_from_sec(WIN_END));
    ck_assert_str_eq(ari.explanation_url, "https://ca/why");
    ck_assert_int_eq(ari.retry_after, apr_time_from_sec(21600));
}
END_TEST

START_TEST(ari_get_url_with_trailing_slash)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, "https://ca/renewal-info/");
    acme_ari_t ari;

    push_ari(f, "2026-11-26T12:00:00Z", "2026-11-27T12:00:00Z", "");
    ck_assert_int_eq(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_SUCCESS);
    ck_assert_str_eq(f->requests[1].url,
                     "https://ca/renewal-info/" RFC_ARI_ID);
    /* Neither explanationURL nor Retry-After was sent. */
    ck_assert_ptr_null(ari.explanation_url);
    ck_assert_int_eq(ari.retry_after, 0);
}
END_TEST

START_TEST(ari_get_window_with_offsets_and_fractions)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, ARI_URL);
    acme_ari_t ari;

    push_ari(f, "2026-11-26T14:00:00.123456+02:00",
             "2026-11-27T06:30:00-05:30", "");
    ck_assert_int_eq(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_SUCCESS);
    ck_assert_str_eq(f->requests[1].url, ARI_URL RFC_ARI_ID);
    ck_assert_int_eq(ari.start, apr_time_from_sec(WIN_START));
    ck_assert_int_eq(ari.end, apr_time_from_sec(WIN_END));
}
END_TEST

START_TEST(ari_get_window_of_one_instant)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, ARI_URL);
    acme_ari_t ari;

    push_ari(f, "2026-11-26T12:00:00Z", "2026-11-26T12:00:00Z", "");
    ck_assert_int_eq(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_SUCCESS);
    ck_assert_int_eq(ari.start, ari.end);
}
END_TEST

/* Bodies that are no valid renewalInfo document. */
static const char *const bad_ari_bodies[] = {
    /* end before start */
    "{\"suggestedWindow\":{\"start\":\"2026-11-27T12:00:00Z\","
    "\"end\":\"2026-11-26T12:00:00Z\"}}",
    /* no window */
    "{\"explanationURL\":\"https://ca/why\"}",
    "{}",
    /* half a window */
    "{\"suggestedWindow\":{\"start\":\"2026-11-26T12:00:00Z\"}}",
    "{\"suggestedWindow\":{\"end\":\"2026-11-26T12:00:00Z\"}}",
    /* wrong types and formats */
    "{\"suggestedWindow\":\"2026-11-26T12:00:00Z\"}",
    "{\"suggestedWindow\":{\"start\":1795694400,\"end\":1795780800}}",
    "{\"suggestedWindow\":{\"start\":\"2026-11-26\","
    "\"end\":\"2026-11-27\"}}",
    /* not JSON at all */
    "<html>renewal info</html>",
    "",
};

START_TEST(ari_get_rejects_bad_documents)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, ARI_URL);
    acme_ari_t ari;

    fake_push(f, 200, CT_JSON, bad_ari_bodies[_i]);
    ck_assert_int_ne(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(c->error);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    assert_has(c->error->detail, "suggestedWindow");
    assert_has(c->error->activity, RFC_ARI_ID);
}
END_TEST

START_TEST(ari_get_not_found_is_an_error)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, ARI_URL);
    acme_ari_t ari;

    push_problem(f, 404, "malformed", "Certificate not found")
        ->retry_after = "3600";
    ck_assert_int_eq(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_EGENERAL);
    ck_assert_int_eq(f->nrequests, 2);
    ck_assert_ptr_nonnull(c->error);
    ck_assert_int_eq(c->error->http_status, 404);
    ck_assert_str_eq(c->error->type, "malformed");
    assert_has(c->error->detail, "Certificate not found");
    assert_has(c->error->activity, "renewal information");
    ck_assert_int_eq(c->error->retry_after, apr_time_from_sec(3600));
}
END_TEST

START_TEST(ari_get_server_error_is_transient)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, ARI_URL);
    acme_ari_t ari;

    fake_push(f, 503, "text/html", "<html>busy</html>");
    ck_assert_int_ne(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_SUCCESS);
    ck_assert_int_eq(c->error->http_status, 503);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
}
END_TEST

START_TEST(ari_get_transport_failure)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = ari_client(f, ARI_URL);
    acme_ari_t ari;
    fake_reply_t *r = fake_push(f, 0, NULL, NULL);

    r->transport_rv = APR_ECONNREFUSED;
    r->error_text = "Connection refused";
    ck_assert_int_eq(acme_ari_get(&ari, c, test_pool, RFC_ARI_ID),
                     APR_ECONNREFUSED);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    assert_has(c->error->detail, "Connection refused");
    assert_has(c->error->activity, "renewal information");
}
END_TEST

START_TEST(ari_get_directory_failure)
{
    fake_http_t *f = fake_create();
    acme_client_t *c = client_new(f);
    acme_ari_t ari;
    apr_status_t rv;

    /* A directory that could not be read is not "no ARI". */
    fake_push(f, 503, "text/html", "<html>down</html>");
    rv = acme_ari_get(&ari, c, test_pool, RFC_ARI_ID);
    ck_assert_int_ne(rv, APR_SUCCESS);
    ck_assert_int_ne(rv, APR_ENOTIMPL);
    ck_assert_int_eq(c->error->kind, ACME_FAIL_TRANSIENT);
    ck_assert_int_eq(f->nrequests, 1);
}
END_TEST

Suite *ari_suite(void)
{
    Suite *s = suite_create("ari");
    TCase *tc;

    tc = tcase_create("cert_id");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, ari_id_rfc9773_example);
    tcase_add_test(tc, ari_id_serial_without_high_bit);
    tcase_add_loop_test(tc, ari_id_serial_is_der_content, 0,
                        sizeof(der_serials) / sizeof(der_serials[0]));
    tcase_add_test(tc, ari_id_other_key_id);
    tcase_add_test(tc, ari_id_needs_key_identifier);
    tcase_add_test(tc, ari_id_of_self_signed_stand_in);
    suite_add_tcase(s, tc);

    tc = tcase_create("renewal_info");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_test(tc, ari_get_without_renewal_info_is_not_implemented);
    tcase_add_test(tc, ari_get_parses_window);
    tcase_add_test(tc, ari_get_url_with_trailing_slash);
    tcase_add_test(tc, ari_get_window_with_offsets_and_fractions);
    tcase_add_test(tc, ari_get_window_of_one_instant);
    tcase_add_loop_test(tc, ari_get_rejects_bad_documents, 0,
                        sizeof(bad_ari_bodies) / sizeof(bad_ari_bodies[0]));
    tcase_add_test(tc, ari_get_not_found_is_an_error);
    tcase_add_test(tc, ari_get_server_error_is_transient);
    tcase_add_test(tc, ari_get_transport_failure);
    tcase_add_test(tc, ari_get_directory_failure);
    suite_add_tcase(s, tc);

    return s;
}
