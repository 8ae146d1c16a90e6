/* Unit tests of acme_crypto.c and acme_cert.c. Results are checked with
 * OpenSSL directly (signature verification, CSR parsing, HMAC) and against
 * published vectors (RFC 7638 §3.1, RFC 4231 test case 2). */

#include <string.h>
#include <arpa/inet.h>

#include <check.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <apr_time.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"
#include "test_suites.h"

/* README, Activation: a validity that starts up to 5 minutes after our
 * clock still counts as valid (CA clocks differ). Stated here, not taken
 * from ACME_CLOCK_SKEW in the header under test. */
#define TOLERATED_SKEW apr_time_from_sec(5 * 60)

/* "a b c" -> array of const char*. */
static apr_array_header_t *names_of(const char *list)
{
    apr_array_header_t *a = apr_array_make(test_pool, 4, sizeof(const char *));
    char *copy = apr_pstrdup(test_pool, list), *last = NULL, *tok;

    for (tok = apr_strtok(copy, " ", &last); tok;
         tok = apr_strtok(NULL, " ", &last)) {
        APR_ARRAY_PUSH(a, const char *) = tok;
    }
    return a;
}

static unsigned char *b64_dec(const char *s, apr_size_t *len)
{
    unsigned char *out = NULL;

    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(acme_b64_decode(&out, len, test_pool, s), APR_SUCCESS);
    return out;
}

static json_t *b64_json(const char *s)
{
    apr_size_t len;
    unsigned char *d = b64_dec(s, &len);
    json_t *j = json_loadb((const char *)d, len, 0, NULL);

    ck_assert_ptr_nonnull(j);
    return acme_json_pool_own(test_pool, j);
}

static EVP_PKEY *new_key(acme_key_type_e type)
{
    EVP_PKEY *key = NULL;

    ck_assert_int_eq(acme_key_generate(&key, test_pool, type), APR_SUCCESS);
    ck_assert_ptr_nonnull(key);
    return key;
}

/* ---- keys ------------------------------------------------------------ */

START_TEST(test_key_type_names)
{
    ck_assert_int_eq(acme_key_type_parse("rsa2048"), ACME_KEY_RSA2048);
    ck_assert_int_eq(acme_key_type_parse("RSA3072"), ACME_KEY_RSA3072);
    ck_assert_int_eq(acme_key_type_parse("rsa4096"), ACME_KEY_RSA4096);
    ck_assert_int_eq(acme_key_type_parse("Ec256"), ACME_KEY_EC256);
    ck_assert_int_eq(acme_key_type_parse("ec384"), ACME_KEY_EC384);
    ck_assert_int_eq(acme_key_type_parse("ec521"), ACME_KEY_NONE);
    ck_assert_int_eq(acme_key_type_parse(""), ACME_KEY_NONE);
    ck_assert_int_eq(acme_key_type_parse(NULL), ACME_KEY_NONE);
    ck_assert_str_eq(acme_key_type_name(ACME_KEY_EC256), "ec256");
    ck_assert_str_eq(acme_key_type_name(ACME_KEY_RSA4096), "rsa4096");
    ck_assert_ptr_null(acme_key_type_name(ACME_KEY_NONE));
}
END_TEST

static const struct {
    acme_key_type_e type;
    const char *alg;
    int bits;
} gen_cases[] = {
    { ACME_KEY_RSA2048, "RS256", 2048 },
    { ACME_KEY_RSA3072, "RS256", 3072 },
    { ACME_KEY_RSA4096, "RS256", 4096 },
    { ACME_KEY_EC256,   "ES256", 256 },
    { ACME_KEY_EC384,   "ES384", 384 },
};

START_TEST(test_key_generate)
{
    EVP_PKEY *key = new_key(gen_cases[_i].type);

    ck_assert_str_eq(acme_key_jws_alg(key), gen_cases[_i].alg);
    ck_assert_int_eq(EVP_PKEY_get_bits(key), gen_cases[_i].bits);
    ck_assert_int_eq(acme_key_type_of(key), gen_cases[_i].type);
}
END_TEST

/* Keys OpenSSL makes but ACME certificates here do not use. */
START_TEST(test_key_type_of_foreign)
{
    EVP_PKEY *key;

    ck_assert_int_eq(acme_key_type_of(NULL), ACME_KEY_NONE);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(acme_key_type_of(key), ACME_KEY_NONE);
    EVP_PKEY_free(key);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(acme_key_type_of(key), ACME_KEY_NONE);
    EVP_PKEY_free(key);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(acme_key_type_of(key), ACME_KEY_NONE);
    EVP_PKEY_free(key);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    ck_assert_ptr_nonnull(key);
    ck_assert_int_eq(acme_key_type_of(key), ACME_KEY_NONE);
    EVP_PKEY_free(key);
    ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

START_TEST(test_key_generate_bad)
{
    EVP_PKEY *key = (EVP_PKEY *)1;

    ck_assert_int_ne(acme_key_generate(&key, test_pool, ACME_KEY_NONE),
                     APR_SUCCESS);
    ck_assert_ptr_null(key);
}
END_TEST

START_TEST(test_key_pem_roundtrip)
{
    acme_key_type_e type = _i ? ACME_KEY_RSA2048 : ACME_KEY_EC256;
    EVP_PKEY *key = new_key(type), *back = NULL;
    const char *pem = NULL, *pem2 = NULL;

    ck_assert_int_eq(acme_key_to_pem(&pem, test_pool, key), APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN PRIVATE KEY-----"));
    ck_assert_int_eq(acme_key_from_pem(&back, test_pool, pem, strlen(pem)),
                     APR_SUCCESS);
    ck_assert_int_eq(EVP_PKEY_eq(key, back), 1);
    ck_assert_int_eq(acme_key_type_of(back), type);
    ck_assert_int_eq(acme_key_to_pem(&pem2, test_pool, back), APR_SUCCESS);
    ck_assert_str_eq(pem, pem2);
}
END_TEST

START_TEST(test_key_pem_bad)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256), *back = NULL;
    const char *junk = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
                       "-----END PRIVATE KEY-----\n";
    BIO *bio = BIO_new(BIO_s_mem());
    char *enc = NULL;
    long len;

    ck_assert_int_ne(acme_key_from_pem(&back, test_pool, junk, strlen(junk)),
                     APR_SUCCESS);
    ck_assert_int_ne(acme_key_from_pem(&back, test_pool, "", 0), APR_SUCCESS);
    /* An encrypted key must fail, not prompt for a pass phrase. */
    ck_assert_int_eq(PEM_write_bio_PKCS8PrivateKey(bio, key,
                                                   EVP_aes_128_cbc(),
                                                   "secret", 6, NULL, NULL),
                     1);
    len = BIO_get_mem_data(bio, &enc);
    ck_assert_int_ne(acme_key_from_pem(&back, test_pool, enc, (apr_size_t)len),
                     APR_SUCCESS);
    ck_assert_ptr_null(back);
    BIO_free(bio);
}
END_TEST

/* ---- JWK ------------------------------------------------------------- */

static void assert_coord(const char *b64, EVP_PKEY *key, const char *param,
                         int size)
{
    BIGNUM *bn = NULL;
    unsigned char want[66];
    apr_size_t len;
    unsigned char *got = b64_dec(b64, &len);

    ck_assert_int_eq(len, size);
    ck_assert_int_eq(EVP_PKEY_get_bn_param(key, param, &bn), 1);
    ck_assert_int_eq(BN_bn2binpad(bn, want, size), size);
    ck_assert_mem_eq(got, want, size);
    BN_free(bn);
}

START_TEST(test_jwk_ec)
{
    acme_key_type_e type = _i ? ACME_KEY_EC384 : ACME_KEY_EC256;
    int size = _i ? 48 : 32;
    EVP_PKEY *key = new_key(type);
    json_t *jwk = NULL;

    ck_assert_int_eq(acme_jwk_create(&jwk, test_pool, key), APR_SUCCESS);
    ck_assert_int_eq(json_object_size(jwk), 4);
    ck_assert_str_eq(acme_json_str(jwk, "kty"), "EC");
    ck_assert_str_eq(acme_json_str(jwk, "crv"), _i ? "P-384" : "P-256");
    assert_coord(acme_json_str(jwk, "x"), key, OSSL_PKEY_PARAM_EC_PUB_X, size);
    assert_coord(acme_json_str(jwk, "y"), key, OSSL_PKEY_PARAM_EC_PUB_Y, size);
}
END_TEST

START_TEST(test_jwk_rsa)
{
    EVP_PKEY *key = new_key(ACME_KEY_RSA2048);
    json_t *jwk = NULL;
    apr_size_t len;
    unsigned char *n;

    ck_assert_int_eq(acme_jwk_create(&jwk, test_pool, key), APR_SUCCESS);
    ck_assert_int_eq(json_object_size(jwk), 3);
    ck_assert_str_eq(acme_json_str(jwk, "kty"), "RSA");
    ck_assert_str_eq(acme_json_str(jwk, "e"), "AQAB");
    n = b64_dec(acme_json_str(jwk, "n"), &len);
    ck_assert_int_eq(len, 256);
    ck_assert_int_ne(n[0], 0);     /* minimal: no leading zero byte */
}
END_TEST

/* The RSA key of RFC 7638 §3.1 and its published thumbprint. */
#define RFC7638_N \
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7a" \
    "PFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArw" \
    "l93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0z" \
    "gdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2Nc" \
    "Rwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
#define RFC7638_TP "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"

static EVP_PKEY *rsa_public_from_jwk(const char *n_b64, const char *e_b64)
{
    apr_size_t nlen, elen;
    unsigned char *nb = b64_dec(n_b64, &nlen), *eb = b64_dec(e_b64, &elen);
    BIGNUM *n = BN_bin2bn(nb, (int)nlen, NULL);
    BIGNUM *e = BN_bin2bn(eb, (int)elen, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *key = NULL;

    ck_assert(n && e && bld && ctx);
    ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n));
    ck_assert(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e));
    params = OSSL_PARAM_BLD_to_param(bld);
    ck_assert_ptr_nonnull(params);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY,
                                       params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_free(n);
    BN_free(e);
    return key;
}

START_TEST(test_thumbprint_rfc7638)
{
    EVP_PKEY *key = rsa_public_from_jwk(RFC7638_N, "AQAB");
    const char *tp = NULL;
    json_t *jwk = NULL;

    ck_assert_int_eq(acme_jwk_create(&jwk, test_pool, key), APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(jwk, "n"), RFC7638_N);
    ck_assert_int_eq(acme_jwk_thumbprint(&tp, test_pool, key), APR_SUCCESS);
    ck_assert_str_eq(tp, RFC7638_TP);
    EVP_PKEY_free(key);
}
END_TEST

START_TEST(test_thumbprint_ec)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    json_t *jwk = NULL;
    const char *tp = NULL, *canon;
    unsigned char md[32], *got;
    apr_size_t len;

    ck_assert_int_eq(acme_jwk_create(&jwk, test_pool, key), APR_SUCCESS);
    /* RFC 7638 §3.3 spells the canonical form out; build it by hand. */
    canon = apr_psprintf(test_pool,
                         "{\"crv\":\"P-256\",\"kty\":\"EC\","
                         "\"x\":\"%s\",\"y\":\"%s\"}",
                         acme_json_str(jwk, "x"), acme_json_str(jwk, "y"));
    ck_assert_int_eq(EVP_Digest(canon, strlen(canon), md, NULL, EVP_sha256(),
                                NULL), 1);
    ck_assert_int_eq(acme_jwk_thumbprint(&tp, test_pool, key), APR_SUCCESS);
    got = b64_dec(tp, &len);
    ck_assert_int_eq(len, 32);
    ck_assert_mem_eq(got, md, 32);
}
END_TEST

/* ---- JWS ------------------------------------------------------------- */

/* 1 if the JWS verifies with key; raw r||s is turned back into DER. */
static int jws_verifies(json_t *jws, EVP_PKEY *key, const EVP_MD *md,
                        int ec_size)
{
    const char *prot = acme_json_str(jws, "protected");
    const char *pay = acme_json_str(jws, "payload");
    const char *input = apr_pstrcat(test_pool, prot, ".", pay, NULL);
    apr_size_t siglen;
    unsigned char *sig = b64_dec(acme_json_str(jws, "signature"), &siglen);
    unsigned char *der = NULL;
    ECDSA_SIG *es;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok, derlen;

    if (ec_size) {
        ck_assert_int_eq(siglen, 2 * ec_size);
        es = ECDSA_SIG_new();
        ck_assert(ECDSA_SIG_set0(es, BN_bin2bn(sig, ec_size, NULL),
                                 BN_bin2bn(sig + ec_size, ec_size, NULL)));
        derlen = i2d_ECDSA_SIG(es, &der);
        ck_assert_int_gt(derlen, 0);
        ECDSA_SIG_free(es);
        sig = apr_pmemdup(test_pool, der, derlen);
        siglen = derlen;
        OPENSSL_free(der);
    }
    ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, md, NULL, key), 1);
    ok = EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)input,
                          strlen(input));
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok == 1;
}

static json_t *jws_make(EVP_PKEY *key, const json_t *payload)
{
    json_t *hdr = acme_json_pool_own(test_pool, json_pack(
        "{s:s, s:s, s:s}", "nonce", "n0nce",
        "url", "https://ca.example/acme/x",
        "kid", "https://ca.example/acme/acct/1"));
    json_t *jws = NULL, *prot;

    ck_assert_int_eq(acme_jws_create(&jws, test_pool, key, hdr, payload),
                     APR_SUCCESS);
    ck_assert_int_eq(json_object_size(jws), 3);
    prot = b64_json(acme_json_str(jws, "protected"));
    ck_assert_str_eq(acme_json_str(prot, "alg"), acme_key_jws_alg(key));
    ck_assert_str_eq(acme_json_str(prot, "nonce"), "n0nce");
    ck_assert_str_eq(acme_json_str(prot, "url"), "https://ca.example/acme/x");
    return jws;
}

START_TEST(test_jws_es256)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    json_t *payload, *jws;
    int i;

    /* Many signatures, so r or s with leading zero bytes come up too. */
    for (i = 0; i < 64; i++) {
        payload = acme_json_pool_own(test_pool, json_pack("{s:i}", "n", i));
        jws = jws_make(key, payload);
        ck_assert(json_equal(b64_json(acme_json_str(jws, "payload")),
                             payload));
        ck_assert(jws_verifies(jws, key, EVP_sha256(), 32));
    }
}
END_TEST

START_TEST(test_jws_es384)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC384);
    json_t *payload = acme_json_pool_own(test_pool,
                                         json_pack("{s:s}", "a", "b"));
    json_t *jws = jws_make(key, payload);

    ck_assert(jws_verifies(jws, key, EVP_sha384(), 48));
}
END_TEST

START_TEST(test_jws_rs256)
{
    EVP_PKEY *key = new_key(ACME_KEY_RSA2048);
    json_t *payload = acme_json_pool_own(test_pool, json_pack(
        "{s:[s]}", "contact", "mailto:admin@example.org"));
    json_t *jws = jws_make(key, payload);
    apr_size_t len;

    b64_dec(acme_json_str(jws, "signature"), &len);
    ck_assert_int_eq(len, 256);
    ck_assert(jws_verifies(jws, key, EVP_sha256(), 0));
}
END_TEST

START_TEST(test_jws_post_as_get)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    json_t *jws = jws_make(key, NULL);

    ck_assert_str_eq(acme_json_str(jws, "payload"), "");
    ck_assert(jws_verifies(jws, key, EVP_sha256(), 32));
}
END_TEST

START_TEST(test_jws_tampered)
{
    EVP_PKEY *key = new_key(_i ? ACME_KEY_RSA2048 : ACME_KEY_EC256);
    EVP_PKEY *other = new_key(_i ? ACME_KEY_RSA2048 : ACME_KEY_EC256);
    json_t *payload = acme_json_pool_own(test_pool,
                                         json_pack("{s:s}", "a", "b"));
    json_t *jws = jws_make(key, payload);
    const char *pay = acme_b64url_encode(test_pool, "{\"a\":\"c\"}", 9);

    ck_assert(!jws_verifies(jws, other, EVP_sha256(), _i ? 0 : 32));
    json_object_set_new(jws, "payload", json_string(pay));
    ck_assert(!jws_verifies(jws, key, EVP_sha256(), _i ? 0 : 32));
}
END_TEST

START_TEST(test_jws_sign_bad)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    json_t *jws = NULL, *arr = acme_json_pool_own(test_pool, json_array());
    const char *sig = NULL;

    ck_assert_int_ne(acme_jws_sign(&sig, test_pool, NULL, "a", "b"),
                     APR_SUCCESS);
    ck_assert_int_ne(acme_jws_sign(&sig, test_pool, key, NULL, "b"),
                     APR_SUCCESS);
    ck_assert_int_ne(acme_jws_create(&jws, test_pool, key, arr, NULL),
                     APR_SUCCESS);
    ck_assert_ptr_null(jws);
}
END_TEST

/* ---- HMAC and EAB ---------------------------------------------------- */

START_TEST(test_hmac_rfc4231)
{
    /* RFC 4231 §4.3, test case 2. */
    static const unsigned char want[32] = {
        0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
        0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
        0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43 };
    const char *data = "what do ya want for nothing?", *mac = NULL;
    apr_size_t len;
    unsigned char *got;

    ck_assert_int_eq(acme_hmac_sha256_b64(&mac, test_pool,
                                          (const unsigned char *)"Jefe", 4,
                                          data, strlen(data)), APR_SUCCESS);
    got = b64_dec(mac, &len);
    ck_assert_int_eq(len, 32);
    ck_assert_mem_eq(got, want, 32);
    ck_assert_int_ne(acme_hmac_sha256_b64(&mac, test_pool, NULL, 0, data, 1),
                     APR_SUCCESS);
}
END_TEST

START_TEST(test_eab)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    static const unsigned char hkey[] = "an EAB MAC key, 32 bytes long!!";
    const char *url = "https://ca.example/acme/new-account", *input;
    json_t *eab = NULL, *prot, *jwk = NULL;
    unsigned char want[EVP_MAX_MD_SIZE], *got;
    unsigned int wantlen = 0;
    apr_size_t len;

    ck_assert_int_eq(acme_eab_create(&eab, test_pool, key, "kid-1", hkey, 32,
                                     url), APR_SUCCESS);
    ck_assert_int_eq(json_object_size(eab), 3);
    prot = b64_json(acme_json_str(eab, "protected"));
    ck_assert_int_eq(json_object_size(prot), 3);
    ck_assert_str_eq(acme_json_str(prot, "alg"), "HS256");
    ck_assert_str_eq(acme_json_str(prot, "kid"), "kid-1");
    ck_assert_str_eq(acme_json_str(prot, "url"), url);
    ck_assert_int_eq(acme_jwk_create(&jwk, test_pool, key), APR_SUCCESS);
    ck_assert(json_equal(b64_json(acme_json_str(eab, "payload")), jwk));

    input = apr_pstrcat(test_pool, acme_json_str(eab, "protected"), ".",
                        acme_json_str(eab, "payload"), NULL);
    ck_assert_ptr_nonnull(HMAC(EVP_sha256(), hkey, 32,
                               (const unsigned char *)input, strlen(input),
                               want, &wantlen));
    got = b64_dec(acme_json_str(eab, "signature"), &len);
    ck_assert_int_eq(len, wantlen);
    ck_assert_mem_eq(got, want, wantlen);
}
END_TEST

/* ---- CSR ------------------------------------------------------------- */

static X509_REQ *csr_parse(const char *b64)
{
    apr_size_t len;
    const unsigned char *der = b64_dec(b64, &len);
    X509_REQ *req = d2i_X509_REQ(NULL, &der, (long)len);

    ck_assert_ptr_nonnull(req);
    return req;
}

/* An iPAddress SAN as "ip:" and the libc's text of its bytes. */
static const char *ip_san(const ASN1_OCTET_STRING *ip)
{
    char buf[INET6_ADDRSTRLEN];
    int len = ASN1_STRING_length(ip);

    ck_assert(len == 4 || len == 16);
    ck_assert_ptr_nonnull(inet_ntop(len == 4 ? AF_INET : AF_INET6,
                                    ASN1_STRING_get0_data(ip), buf,
                                    sizeof(buf)));
    return apr_pstrcat(test_pool, "ip:", buf, NULL);
}

/* The subjectAltName of req as "a b ip:192.0.2.1"; *crit tells if it is
 * critical. */
static const char *csr_sans(X509_REQ *req, int *crit)
{
    STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
    GENERAL_NAMES *gens = X509V3_get_d2i(exts, NID_subject_alt_name, crit,
                                         NULL);
    const char *s = NULL, *one;
    const GENERAL_NAME *gen;
    int i;

    ck_assert_ptr_nonnull(gens);
    for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        gen = sk_GENERAL_NAME_value(gens, i);
        ck_assert(gen->type == GEN_DNS || gen->type == GEN_IPADD);
        one = gen->type == GEN_IPADD ? ip_san(gen->d.iPAddress)
            : (const char *)ASN1_STRING_get0_data(gen->d.dNSName);
        s = apr_pstrcat(test_pool, s ? s : "", s ? " " : "", one, NULL);
    }
    GENERAL_NAMES_free(gens);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    return s;
}

static const char *subject_cn(const X509_NAME *name)
{
    int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);

    if (i < 0) {
        return NULL;
    }
    return apr_pstrdup(test_pool, (const char *)ASN1_STRING_get0_data(
        X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i))));
}

START_TEST(test_csr)
{
    EVP_PKEY *key = new_key(_i ? ACME_KEY_RSA2048 : ACME_KEY_EC256);
    const char *csr = NULL;
    X509_REQ *req;
    EVP_PKEY *pub;
    int crit = -1;

    ck_assert_int_eq(acme_csr_create(&csr, test_pool, key, names_of(
        "example.org www.example.org *.example.org")), APR_SUCCESS);
    ck_assert_ptr_null(strpbrk(csr, "+/="));
    req = csr_parse(csr);
    pub = X509_REQ_get0_pubkey(req);
    ck_assert_int_eq(EVP_PKEY_eq(pub, key), 1);
    ck_assert_int_eq(X509_REQ_verify(req, pub), 1);
    ck_assert_int_eq(X509_REQ_get_signature_nid(req),
                     _i ? NID_sha256WithRSAEncryption : NID_ecdsa_with_SHA256);
    ck_assert_str_eq(subject_cn(X509_REQ_get_subject_name(req)),
                     "example.org");
    ck_assert_str_eq(csr_sans(req, &crit),
                     "example.org www.example.org *.example.org");
    ck_assert_int_eq(crit, 0);
    X509_REQ_free(req);
}
END_TEST

START_TEST(test_csr_long_name)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    const char *label = "a123456789b123456789c123456789"
                        "d123456789e123456789f12345678";
    const char *longname = apr_pstrcat(test_pool, label, ".example.org", NULL);
    const char *csr = NULL;
    X509_REQ *req;
    int crit = -1;

    ck_assert_int_gt(strlen(longname), 64);
    ck_assert_int_eq(acme_csr_create(&csr, test_pool, key, names_of(
        apr_pstrcat(test_pool, longname, " example.org", NULL))), APR_SUCCESS);
    req = csr_parse(csr);
    ck_assert_ptr_null(subject_cn(X509_REQ_get_subject_name(req)));
    ck_assert_str_eq(csr_sans(req, &crit),
                     apr_pstrcat(test_pool, longname, " example.org", NULL));
    ck_assert_int_eq(crit, 1);
    X509_REQ_free(req);
}
END_TEST

/* RFC 8738 §4: addresses go in as iPAddress SANs, never as dNSNames,
 * and not in the CN; an address first leaves the subject empty, so the
 * SAN is critical. */
START_TEST(test_csr_ip)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    const char *csr = NULL;
    X509_REQ *req;
    int crit = -1;

    ck_assert_int_eq(acme_csr_create(&csr, test_pool, key, names_of(
        "192.0.2.10 2001:DB8:0:0::1 www.example.org")), APR_SUCCESS);
    req = csr_parse(csr);
    ck_assert_ptr_null(subject_cn(X509_REQ_get_subject_name(req)));
    ck_assert_str_eq(csr_sans(req, &crit),
                     "ip:192.0.2.10 ip:2001:db8::1 www.example.org");
    ck_assert_int_eq(crit, 1);
    X509_REQ_free(req);

    ck_assert_int_eq(acme_csr_create(&csr, test_pool, key, names_of(
        "www.example.org ::1")), APR_SUCCESS);
    req = csr_parse(csr);
    ck_assert_str_eq(subject_cn(X509_REQ_get_subject_name(req)),
                     "www.example.org");
    ck_assert_str_eq(csr_sans(req, &crit), "www.example.org ip:::1");
    ck_assert_int_eq(crit, 0);
    X509_REQ_free(req);
}
END_TEST

START_TEST(test_csr_bad)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    const char *csr = NULL;

    ck_assert_int_ne(acme_csr_create(&csr, test_pool, key, names_of("")),
                     APR_SUCCESS);
    ck_assert_int_ne(acme_csr_create(&csr, test_pool, key,
                                     names_of("ok.org a,b.org")),
                     APR_SUCCESS);
    ck_assert_ptr_null(csr);
}
END_TEST

Suite *crypto_suite(void)
{
    Suite *s = suite_create("crypto");
    TCase *tc;

    tc = tcase_create("keys");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 120);    /* RSA 4096 generation takes a while */
    tcase_add_test(tc, test_key_type_names);
    tcase_add_loop_test(tc, test_key_generate, 0,
                        sizeof(gen_cases) / sizeof(gen_cases[0]));
    tcase_add_test(tc, test_key_generate_bad);
    tcase_add_test(tc, test_key_type_of_foreign);
    tcase_add_loop_test(tc, test_key_pem_roundtrip, 0, 2);
    tcase_add_test(tc, test_key_pem_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("jwk");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_add_loop_test(tc, test_jwk_ec, 0, 2);
    tcase_add_test(tc, test_jwk_rsa);
    tcase_add_test(tc, test_thumbprint_rfc7638);
    tcase_add_test(tc, test_thumbprint_ec);
    suite_add_tcase(s, tc);

    tc = tcase_create("jws");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_jws_es256);
    tcase_add_test(tc, test_jws_es384);
    tcase_add_test(tc, test_jws_rs256);
    tcase_add_test(tc, test_jws_post_as_get);
    tcase_add_loop_test(tc, test_jws_tampered, 0, 2);
    tcase_add_test(tc, test_jws_sign_bad);
    tcase_add_test(tc, test_hmac_rfc4231);
    tcase_add_test(tc, test_eab);
    suite_add_tcase(s, tc);

    tc = tcase_create("csr");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_csr, 0, 2);
    tcase_add_test(tc, test_csr_long_name);
    tcase_add_test(tc, test_csr_ip);
    tcase_add_test(tc, test_csr_bad);
    suite_add_tcase(s, tc);
    return s;
}

/* ---- certificates ---------------------------------------------------- */

static const char *self_signed(EVP_PKEY *key, const char *names, int days)
{
    const char *pem = NULL;

    ck_assert_int_eq(acme_cert_self_signed(&pem, test_pool, key,
                                           names_of(names), days),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN CERTIFICATE-----"));
    return pem;
}

static apr_array_header_t *chain_of(const char *pem)
{
    apr_array_header_t *chain = NULL;

    ck_assert_int_eq(acme_cert_chain_parse(&chain, test_pool, pem,
                                           strlen(pem)), APR_SUCCESS);
    return chain;
}

static int within_minute(apr_time_t a, apr_time_t b)
{
    apr_interval_time_t d = a > b ? a - b : b - a;

    return d < apr_time_from_sec(60);
}

START_TEST(test_self_signed_info)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    apr_time_t now = apr_time_now();
    const char *pem = self_signed(key, "Example.ORG www.example.org", 7);
    apr_array_header_t *chain = chain_of(pem);
    acme_cert_info_t *info = NULL;
    X509 *x = APR_ARRAY_IDX(chain, 0, X509 *);

    ck_assert_int_eq(acme_cert_info(&info, test_pool, chain), APR_SUCCESS);
    ck_assert_int_eq(info->chain_len, 1);
    ck_assert_str_eq(acme_str_join(test_pool, info->names, " "),
                     "example.org www.example.org");
    ck_assert(within_minute(info->not_before, now - apr_time_from_sec(3600)));
    ck_assert(within_minute(info->not_after,
                            now + apr_time_from_sec(7 * 86400)));
    ck_assert_int_eq(strlen(info->serial_hex), 32);
    ck_assert_int_eq(strspn(info->serial_hex, "0123456789ABCDEF"), 32);
    ck_assert_ptr_nonnull(strstr(info->issuer, "example.org"));
    ck_assert_str_eq(subject_cn(X509_get_subject_name(x)), "example.org");
    ck_assert_int_eq(X509_verify(x, key), 1);
    ck_assert_int_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
}
END_TEST

START_TEST(test_self_signed_serials_differ)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    acme_cert_info_t *a = NULL, *b = NULL;

    ck_assert_int_eq(acme_cert_info(&a, test_pool, chain_of(
        self_signed(key, "example.org", 1))), APR_SUCCESS);
    ck_assert_int_eq(acme_cert_info(&b, test_pool, chain_of(
        self_signed(key, "example.org", 1))), APR_SUCCESS);
    ck_assert_str_ne(a->serial_hex, b->serial_hex);
}
END_TEST

START_TEST(test_self_signed_bad)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    const char *pem = NULL;

    ck_assert_int_ne(acme_cert_self_signed(&pem, test_pool, key,
                                           names_of(""), 7), APR_SUCCESS);
    ck_assert_int_ne(acme_cert_self_signed(&pem, test_pool, key,
                                           names_of("example.org"), 0),
                     APR_SUCCESS);
    ck_assert_int_ne(acme_cert_self_signed(&pem, test_pool, key,
                                           names_of("bad_name.org"), 7),
                     APR_SUCCESS);
    ck_assert_ptr_null(pem);
}
END_TEST

/* A self-signed certificate issued itself, so [cert, cert] is a chain
 * with a real issuer behind the leaf. */
static apr_array_header_t *ss_chain(EVP_PKEY *key, const char *names)
{
    const char *pem = self_signed(key, names, 30);

    return chain_of(apr_pstrcat(test_pool, pem, pem, NULL));
}

START_TEST(test_check_ok)
{
    EVP_PKEY *key = new_key(_i ? ACME_KEY_RSA2048 : ACME_KEY_EC384);
    apr_array_header_t *chain = ss_chain(key, "example.org www.example.org");
    const char *why = "unset";

    ck_assert_int_eq(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("www.example.org example.org"),
                                     apr_time_now()), APR_SUCCESS);
    ck_assert_ptr_null(why);
}
END_TEST

START_TEST(test_check_other_key)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256), *other = new_key(ACME_KEY_EC256);
    apr_array_header_t *chain = ss_chain(key, "example.org");
    const char *why = NULL;

    ck_assert_int_ne(acme_cert_check(&why, test_pool, chain, other,
                                     names_of("example.org"), apr_time_now()),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "private key"));
}
END_TEST

START_TEST(test_check_uncovered)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    apr_array_header_t *chain = ss_chain(key, "example.org www.example.org");
    const char *why = NULL;

    ck_assert_int_ne(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("example.org mail.example.org"),
                                     apr_time_now()), APR_SUCCESS);
    ck_assert_str_eq(why, "certificate does not cover mail.example.org");
}
END_TEST

START_TEST(test_check_chain_len1)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    apr_array_header_t *chain = chain_of(self_signed(key, "example.org", 30));
    const char *why = NULL;

    ck_assert_int_ne(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("example.org"), apr_time_now()),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "issuer"));
    ck_assert_ptr_nonnull(strstr(why, "missing"));
}
END_TEST

START_TEST(test_check_wrong_issuer)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256), *other = new_key(ACME_KEY_EC256);
    const char *pem = apr_pstrcat(test_pool,
                                  self_signed(key, "example.org", 30),
                                  self_signed(other, "ca.example", 30), NULL);
    const char *why = NULL;

    ck_assert_int_ne(acme_cert_check(&why, test_pool, chain_of(pem), key,
                                     names_of("example.org"), apr_time_now()),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "did not issue"));
}
END_TEST

START_TEST(test_check_validity)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    apr_array_header_t *chain = ss_chain(key, "example.org");
    acme_cert_info_t *info = NULL;
    const char *why = NULL;

    ck_assert_int_eq(acme_cert_info(&info, test_pool, chain), APR_SUCCESS);
    ck_assert_int_ne(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("example.org"),
                                     info->not_after + apr_time_from_sec(1)),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "expired"));
    /* A notBefore slightly ahead of our clock is tolerated (CA clocks),
     * one beyond the 5 minutes the README promises is not. The value is
     * stated here, not taken from the header under test. */
    ck_assert_int_eq(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("example.org"),
                                     info->not_before - apr_time_from_sec(60)),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("example.org"),
                                     info->not_before - TOLERATED_SKEW),
                     APR_SUCCESS);
    ck_assert_int_ne(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("example.org"),
                                     info->not_before - TOLERATED_SKEW
                                     - apr_time_from_sec(1)),
                     APR_SUCCESS);
    ck_assert_ptr_nonnull(strstr(why, "not valid before"));
}
END_TEST

START_TEST(test_covers_wildcard)
{
    acme_cert_info_t info;

    memset(&info, 0, sizeof(info));
    info.names = names_of("*.example.org example.net");
    ck_assert(acme_cert_covers(&info, "www.example.org"));
    ck_assert(acme_cert_covers(&info, "*.example.org"));
    ck_assert(acme_cert_covers(&info, "example.net"));
    ck_assert(!acme_cert_covers(&info, "example.org"));
    ck_assert(!acme_cert_covers(&info, "a.b.example.org"));
    ck_assert(!acme_cert_covers(&info, ".example.org"));
    ck_assert(!acme_cert_covers(&info, "wwwexample.org"));
    ck_assert(!acme_cert_covers(&info, "www.example.net"));
    ck_assert(!acme_cert_covers(&info, "*.example.net"));
    ck_assert(!acme_cert_covers(&info, "org"));
    ck_assert(!acme_cert_covers(NULL, "example.net"));
}
END_TEST

/* An address is covered by an iPAddress SAN of the same address only,
 * whatever its spelling; a dNSName with its text does not count, and
 * wildcards never reach it. */
START_TEST(test_covers_ip)
{
    acme_cert_info_t info;

    memset(&info, 0, sizeof(info));
    info.names = names_of("192.0.2.10 2001:db8::1 *.0.2.10 10.0.0.1");
    info.ips = names_of("192.0.2.10 2001:db8::1");
    ck_assert(acme_cert_covers(&info, "192.0.2.10"));
    ck_assert(acme_cert_covers(&info, "2001:db8::1"));
    ck_assert(acme_cert_covers(&info, "2001:0DB8:0:0::0:1"));
    ck_assert(!acme_cert_covers(&info, "192.0.2.11"));
    ck_assert(!acme_cert_covers(&info, "2001:db8::2"));
    ck_assert(!acme_cert_covers(&info, "::ffff:192.0.2.10"));
    ck_assert(!acme_cert_covers(&info, "10.0.0.1"));
    ck_assert(!acme_cert_covers(&info, "1.0.2.10"));
}
END_TEST

START_TEST(test_check_ip)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    apr_array_header_t *chain = ss_chain(key, "127.0.0.1 ::1 example.org");
    acme_cert_info_t *info = NULL;
    const char *why = NULL;

    ck_assert_int_eq(acme_cert_info(&info, test_pool, chain), APR_SUCCESS);
    ck_assert_str_eq(acme_str_join(test_pool, info->names, " "),
                     "127.0.0.1 ::1 example.org");
    ck_assert_str_eq(acme_str_join(test_pool, info->ips, " "),
                     "127.0.0.1 ::1");
    ck_assert_ptr_null(subject_cn(X509_get_subject_name(
        APR_ARRAY_IDX(chain, 0, X509 *))));
    ck_assert_int_eq(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("example.org ::1 127.0.0.1"),
                                     apr_time_now()), APR_SUCCESS);
    ck_assert_int_ne(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("127.0.0.2"),
                                     apr_time_now()), APR_SUCCESS);
    ck_assert_str_eq(why, "certificate does not cover 127.0.0.2");
}
END_TEST

START_TEST(test_check_wildcard)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    apr_array_header_t *chain = ss_chain(key, "*.example.org");
    const char *why = NULL;

    ck_assert_int_eq(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("*.example.org foo.example.org"),
                                     apr_time_now()), APR_SUCCESS);
    ck_assert_int_ne(acme_cert_check(&why, test_pool, chain, key,
                                     names_of("foo.bar.example.org"),
                                     apr_time_now()), APR_SUCCESS);
    ck_assert_str_eq(why, "certificate does not cover foo.bar.example.org");
}
END_TEST

START_TEST(test_chain_parse)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    const char *a = self_signed(key, "a.example", 1);
    const char *b = self_signed(key, "b.example", 1);
    const char *pem = apr_pstrcat(test_pool, "leaf:\n", a, "\nissuer:\n", b,
                                  "\n", NULL);
    apr_array_header_t *chain = chain_of(pem);
    acme_cert_info_t *info = NULL;

    ck_assert_int_eq(chain->nelts, 2);
    ck_assert_int_eq(acme_cert_info(&info, test_pool, chain), APR_SUCCESS);
    ck_assert_int_eq(info->chain_len, 2);
    ck_assert_str_eq(acme_str_join(test_pool, info->names, " "), "a.example");
}
END_TEST

START_TEST(test_chain_parse_bad)
{
    EVP_PKEY *key = new_key(ACME_KEY_EC256);
    const char *a = self_signed(key, "a.example", 1), *many = "", *broken;
    apr_array_header_t *chain = NULL;
    int i;

    ck_assert_int_eq(acme_cert_chain_parse(&chain, test_pool, "", 0),
                     APR_EINVAL);
    ck_assert_int_eq(acme_cert_chain_parse(&chain, test_pool, "junk", 4),
                     APR_EINVAL);
    for (i = 0; i < 11; i++) {
        many = apr_pstrcat(test_pool, many, a, NULL);
    }
    ck_assert_int_eq(acme_cert_chain_parse(&chain, test_pool, many,
                                           strlen(many)), APR_EINVAL);
    /* A good certificate followed by a damaged one is no chain either. */
    broken = apr_pstrcat(test_pool, a,
                         "-----BEGIN CERTIFICATE-----\nMIIBAAAA\n"
                         "-----END CERTIFICATE-----\n", NULL);
    ck_assert_int_eq(acme_cert_chain_parse(&chain, test_pool, broken,
                                           strlen(broken)), APR_EINVAL);
    ck_assert_ptr_null(chain);
    ck_assert_int_eq(ERR_peek_error(), 0);
}
END_TEST

Suite *cert_suite(void)
{
    Suite *s = suite_create("cert");
    TCase *tc;

    tc = tcase_create("self_signed");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_self_signed_info);
    tcase_add_test(tc, test_self_signed_serials_differ);
    tcase_add_test(tc, test_self_signed_bad);
    tcase_add_test(tc, test_chain_parse);
    tcase_add_test(tc, test_chain_parse_bad);
    suite_add_tcase(s, tc);

    tc = tcase_create("check");
    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_check_ok, 0, 2);
    tcase_add_test(tc, test_check_other_key);
    tcase_add_test(tc, test_check_uncovered);
    tcase_add_test(tc, test_check_chain_len1);
    tcase_add_test(tc, test_check_wrong_issuer);
    tcase_add_test(tc, test_check_validity);
    tcase_add_test(tc, test_covers_wildcard);
    tcase_add_test(tc, test_check_wildcard);
    tcase_add_test(tc, test_covers_ip);
    tcase_add_test(tc, test_check_ip);
    suite_add_tcase(s, tc);
    return s;
}
