/* Unit tests of acme_alpn.c: the tls-alpn-01 certificate is checked with
 * OpenSSL as a CA would check it (RFC 8737 §3). */

#include <string.h>

#include <check.h>

#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme_alpn.h"
#include "acme_util.h"
#include "test_suites.h"

#define KA "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"

static X509 *cert_of(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(bio, NULL, NULL, NULL);

    BIO_free(bio);
    return x;
}

static EVP_PKEY *key_of(const char *pem)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);

    BIO_free(bio);
    return k;
}

START_TEST(alpn_cert_as_rfc8737_says)
{
    const char *pem;
    unsigned char want[32], der[34];
    unsigned int wlen;
    X509 *x;
    EVP_PKEY *key;
    X509_EXTENSION *ext;
    ASN1_OBJECT *oid = OBJ_txt2obj(ACME_ALPN_OID, 1);
    const ASN1_OCTET_STRING *val;
    GENERAL_NAMES *san;
    GENERAL_NAME *gn;
    int idx;

    ck_assert_int_eq(acme_alpn_cert(&pem, test_pool, "WWW.Example.ORG", KA),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(x = cert_of(pem));
    ck_assert_ptr_nonnull(key = key_of(pem));
    /* Self-signed with the key that comes with it. */
    ck_assert_int_eq(X509_check_private_key(x, key), 1);
    ck_assert_int_eq(X509_verify(x, key), 1);
    /* A SAN with exactly the name, lower case. */
    san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(san);
    ck_assert_int_eq(sk_GENERAL_NAME_num(san), 1);
    gn = sk_GENERAL_NAME_value(san, 0);
    ck_assert_int_eq(gn->type, GEN_DNS);
    ck_assert_str_eq((const char *)ASN1_STRING_get0_data(gn->d.dNSName),
                     "www.example.org");
    GENERAL_NAMES_free(san);
    /* acmeIdentifier: critical, DER OCTET STRING of SHA-256(ka). */
    idx = X509_get_ext_by_OBJ(x, oid, -1);
    ck_assert_int_ge(idx, 0);
    ck_assert_int_lt(X509_get_ext_by_OBJ(x, oid, idx), 0);
    ext = X509_get_ext(x, idx);
    ck_assert_int_eq(X509_EXTENSION_get_critical(ext), 1);
    val = X509_EXTENSION_get_data(ext);
    ck_assert(EVP_Digest(KA, strlen(KA), want, &wlen, EVP_sha256(), NULL));
    der[0] = 0x04;
    der[1] = 0x20;
    memcpy(der + 2, want, 32);
    ck_assert_int_eq(ASN1_STRING_length(val), 34);
    ck_assert_mem_eq(ASN1_STRING_get0_data(val), der, 34);
    ASN1_OBJECT_free(oid);
    EVP_PKEY_free(key);
    X509_free(x);
}
END_TEST

START_TEST(alpn_cert_new_key_each_time)
{
    const char *a, *b;
    EVP_PKEY *ka, *kb;

    ck_assert_int_eq(acme_alpn_cert(&a, test_pool, "a.example", KA), APR_SUCCESS);
    ck_assert_int_eq(acme_alpn_cert(&b, test_pool, "a.example", KA), APR_SUCCESS);
    ka = key_of(a);
    kb = key_of(b);
    ck_assert_int_ne(EVP_PKEY_eq(ka, kb), 1);
    EVP_PKEY_free(ka);
    EVP_PKEY_free(kb);
}
END_TEST

/* RFC 8738 §6: for an address, the SAN is that address (iPAddress). */
START_TEST(alpn_cert_for_an_address)
{
    static const unsigned char v4[4] = { 192, 0, 2, 10 };
    const char *pem;
    GENERAL_NAMES *san;
    GENERAL_NAME *gn;
    X509 *x;

    ck_assert_int_eq(acme_alpn_cert(&pem, test_pool, "192.0.2.10", KA),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(x = cert_of(pem));
    san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    ck_assert_ptr_nonnull(san);
    ck_assert_int_eq(sk_GENERAL_NAME_num(san), 1);
    gn = sk_GENERAL_NAME_value(san, 0);
    ck_assert_int_eq(gn->type, GEN_IPADD);
    ck_assert_int_eq(ASN1_STRING_length(gn->d.iPAddress), 4);
    ck_assert_mem_eq(ASN1_STRING_get0_data(gn->d.iPAddress), v4, 4);
    GENERAL_NAMES_free(san);
    X509_free(x);
    /* and its answer file goes by the reverse name the CA sends as SNI */
    ck_assert_str_eq(acme_alpn_file(test_pool, acme_ip_reverse_name(
        test_pool, "192.0.2.10")), "10.2.0.192.in-addr.arpa.tls-alpn-01.pem");
}
END_TEST

START_TEST(alpn_cert_refuses_what_is_no_name)
{
    const char *pem = "x";

    ck_assert_int_eq(acme_alpn_cert(&pem, test_pool, "*.example.org", KA),
                     APR_EINVAL);
    ck_assert_ptr_null(pem);
    ck_assert_int_eq(acme_alpn_cert(&pem, test_pool, "a/b", KA), APR_EINVAL);
    ck_assert_int_eq(acme_alpn_cert(&pem, test_pool, NULL, KA), APR_EINVAL);
    ck_assert_int_eq(acme_alpn_cert(&pem, test_pool, "a.example", NULL),
                     APR_EINVAL);
}
END_TEST

/* A client's SNI becomes a file name: nothing but a DNS name gets one,
 * and none can pass for an http-01 token (which the request path would
 * serve as text). */
START_TEST(alpn_file_names)
{
    const char *f = acme_alpn_file(test_pool, "A.Example.ORG.");

    ck_assert_str_eq(f, "a.example.org.tls-alpn-01.pem");
    ck_assert(!acme_token_is_valid(f));
    ck_assert_ptr_null(acme_alpn_file(test_pool, "../../etc/passwd"));
    ck_assert_ptr_null(acme_alpn_file(test_pool, "a/b.example"));
    ck_assert_ptr_null(acme_alpn_file(test_pool, ".."));
    ck_assert_ptr_null(acme_alpn_file(test_pool, "*.example.org"));
    ck_assert_ptr_null(acme_alpn_file(test_pool, ""));
    ck_assert_ptr_null(acme_alpn_file(test_pool, NULL));
}
END_TEST

Suite *alpn_suite(void)
{
    Suite *s = suite_create("alpn");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);

    tcase_add_test(tc, alpn_cert_as_rfc8737_says);
    tcase_add_test(tc, alpn_cert_new_key_each_time);
    tcase_add_test(tc, alpn_cert_for_an_address);
    tcase_add_test(tc, alpn_cert_refuses_what_is_no_name);
    tcase_add_test(tc, alpn_file_names);
    suite_add_tcase(s, tc);
    return s;
}
