/* Keys, JWK, JWS and EAB for the ACME core, on OpenSSL 3 EVP interfaces.
 * Nothing here knows httpd; lifetimes follow the APR pools passed in. */

#include <limits.h>
#include <string.h>

#include <apr_strings.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "acme_crypto.h"
#include "acme_ossl.h"
#include "acme_json.h"
#include "acme_util.h"

/* X.520 upper bound of a commonName; longer names only go in the SAN. */
#define ACME_CN_MAX 64

static const struct {
    const char *name;
    acme_key_type_e type;
    const char *curve;          /* NULL for RSA */
    size_t bits;                /* RSA modulus size */
} key_types[] = {
    { "rsa2048", ACME_KEY_RSA2048, NULL, 2048 },
    { "rsa3072", ACME_KEY_RSA3072, NULL, 3072 },
    { "rsa4096", ACME_KEY_RSA4096, NULL, 4096 },
    { "ec256",   ACME_KEY_EC256,   "P-256", 0 },
    { "ec384",   ACME_KEY_EC384,   "P-384", 0 },
};

#define KEY_TYPES_N (sizeof(key_types) / sizeof(key_types[0]))

apr_status_t acme_ossl_fail(void)
{
    /* Leave no stale entries in the thread's error queue: inside httpd,
     * mod_ssl would later mistake them for its own. */
    ERR_clear_error();
    return APR_EGENERAL;
}

static apr_status_t pkey_cleanup(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

acme_key_type_e acme_key_type_parse(const char *name)
{
    apr_size_t i;

    for (i = 0; name && i < KEY_TYPES_N; i++) {
        if (!strcasecmp(name, key_types[i].name)) {
            return key_types[i].type;
        }
    }
    return ACME_KEY_NONE;
}

const char *acme_key_type_name(acme_key_type_e t)
{
    apr_size_t i;

    for (i = 0; i < KEY_TYPES_N; i++) {
        if (key_types[i].type == t) {
            return key_types[i].name;
        }
    }
    return NULL;
}

apr_status_t acme_key_generate(EVP_PKEY **pkey, apr_pool_t *p,
                               acme_key_type_e type)
{
    EVP_PKEY *key = NULL;
    apr_size_t i;

    *pkey = NULL;
    for (i = 0; i < KEY_TYPES_N && key_types[i].type != type; i++)
        ;
    if (i == KEY_TYPES_N) {
        return APR_EINVAL;
    }
    if (key_types[i].curve) {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", key_types[i].curve);
    }
    else {
        key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", key_types[i].bits);
    }
    if (!key) {
        return acme_ossl_fail();
    }
    apr_pool_cleanup_register(p, key, pkey_cleanup, apr_pool_cleanup_null);
    *pkey = key;
    return APR_SUCCESS;
}

/* Contents of a memory BIO as a string in p. */
const char *acme_bio_str(apr_pool_t *p, BIO *bio)
{
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);

    return apr_pstrmemdup(p, data ? data : "", len > 0 ? (apr_size_t)len : 0);
}

apr_status_t acme_key_to_pem(const char **pem, apr_pool_t *p, EVP_PKEY *key)
{
    BIO *bio = NULL;
    apr_status_t rv = APR_SUCCESS;

    *pem = NULL;
    if (!key) {
        rv = APR_EINVAL;
        goto out;
    }
    /* A mem BIO wipes its buffer when freed, so the key does not linger
     * in OpenSSL's heap; the copy in p lives as long as the caller says. */
    bio = BIO_new(BIO_s_mem());
    if (!bio
        || !PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0,
                                          NULL, NULL)) {
        rv = acme_ossl_fail();
        goto out;
    }
    *pem = acme_bio_str(p, bio);
out:
    BIO_free(bio);
    return rv;
}

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    /* The default callback would prompt on the terminal, which must never
     * happen inside httpd: an encrypted key simply fails to load. */
    (void)buf; (void)size; (void)rwflag; (void)u;
    return -1;
}

apr_status_t acme_key_from_pem(EVP_PKEY **pkey, apr_pool_t *p,
                               const char *pem, apr_size_t len)
{
    BIO *bio = NULL;
    EVP_PKEY *key;
    apr_status_t rv = APR_SUCCESS;

    *pkey = NULL;
    if (!pem || len == 0 || len > INT_MAX) {
        rv = APR_EINVAL;
        goto out;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        rv = acme_ossl_fail();
        goto out;
    }
    key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    if (!key) {
        ERR_clear_error();
        rv = APR_EINVAL;
        goto out;
    }
    apr_pool_cleanup_register(p, key, pkey_cleanup, apr_pool_cleanup_null);
    *pkey = key;
out:
    BIO_free(bio);
    return rv;
}

/* JWK "crv" of an EC key and its field size in bytes; NULL for anything
 * but P-256 and P-384, the curves ACME servers accept. */
static const char *ec_curve(EVP_PKEY *key, apr_size_t *size)
{
    char group[80];
    int nid;

    if (!EVP_PKEY_is_a(key, "EC")
        || !EVP_PKEY_get_group_name(key, group, sizeof(group), NULL)) {
        ERR_clear_error();
        return NULL;
    }
    nid = OBJ_sn2nid(group);
    if (nid == NID_undef) {
        nid = EC_curve_nist2nid(group);
    }
    if (nid == NID_X9_62_prime256v1) {
        *size = 32;
        return "P-256";
    }
    if (nid == NID_secp384r1) {
        *size = 48;
        return "P-384";
    }
    return NULL;
}

acme_key_type_e acme_key_type_of(EVP_PKEY *key)
{
    apr_size_t size = 0, i;

    if (key && EVP_PKEY_is_a(key, "RSA")) {
        for (i = 0; i < KEY_TYPES_N; i++) {
            if (!key_types[i].curve
                && (int)key_types[i].bits == EVP_PKEY_get_bits(key)) {
                return key_types[i].type;
            }
        }
        return ACME_KEY_NONE;
    }
    if (!key || !ec_curve(key, &size)) {
        return ACME_KEY_NONE;
    }
    return size == 32 ? ACME_KEY_EC256 : ACME_KEY_EC384;
}

const char *acme_key_jws_alg(EVP_PKEY *key)
{
    apr_size_t size = 0;

    if (!key) {
        return NULL;
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        return "RS256";
    }
    if (!ec_curve(key, &size)) {
        return NULL;
    }
    return size == 32 ? "ES256" : "ES384";
}

/* base64url of a BIGNUM parameter of key, left-padded with zeros to pad
 * bytes, or in its minimal length when pad is 0. */
static apr_status_t bn_param_b64(const char **out, apr_pool_t *p,
                                 EVP_PKEY *key, const char *param,
                                 apr_size_t pad)
{
    BIGNUM *bn = NULL;
    unsigned char *buf;
    int len;
    apr_status_t rv = APR_SUCCESS;

    if (!EVP_PKEY_get_bn_param(key, param, &bn)) {
        rv = acme_ossl_fail();
        goto out;
    }
    len = pad ? (int)pad : BN_num_bytes(bn);
    if (len <= 0) {
        rv = APR_EINVAL;
        goto out;
    }
    buf = apr_palloc(p, len);
    if (BN_bn2binpad(bn, buf, len) != len) {
        rv = acme_ossl_fail();
        goto out;
    }
    *out = acme_b64url_encode(p, buf, len);
out:
    BN_free(bn);
    return rv;
}

/* Exactly the RFC 7638 §3.2 required members, so that the key-sorted
 * compact dump of the JWK is also the thumbprint input. */
static apr_status_t jwk_members(json_t **jwk, apr_pool_t *p, EVP_PKEY *key)
{
    const char *a, *b, *crv;
    apr_size_t size = 0;
    apr_status_t rv;

    if (EVP_PKEY_is_a(key, "RSA")) {
        rv = bn_param_b64(&a, p, key, OSSL_PKEY_PARAM_RSA_E, 0);
        if (rv != APR_SUCCESS) goto out;
        rv = bn_param_b64(&b, p, key, OSSL_PKEY_PARAM_RSA_N, 0);
        if (rv != APR_SUCCESS) goto out;
        *jwk = json_pack("{s:s, s:s, s:s}", "e", a, "kty", "RSA", "n", b);
    }
    else if ((crv = ec_curve(key, &size)) != NULL) {
        rv = bn_param_b64(&a, p, key, OSSL_PKEY_PARAM_EC_PUB_X, size);
        if (rv != APR_SUCCESS) goto out;
        rv = bn_param_b64(&b, p, key, OSSL_PKEY_PARAM_EC_PUB_Y, size);
        if (rv != APR_SUCCESS) goto out;
        *jwk = json_pack("{s:s, s:s, s:s, s:s}", "crv", crv, "kty", "EC",
                         "x", a, "y", b);
    }
    else {
        rv = APR_ENOTIMPL;
        goto out;
    }
    if (!*jwk) {
        rv = APR_ENOMEM;
    }
out:
    return rv;
}

apr_status_t acme_jwk_create(json_t **jwk, apr_pool_t *p, EVP_PKEY *key)
{
    json_t *j = NULL;
    apr_status_t rv;

    *jwk = NULL;
    if (!key) {
        rv = APR_EINVAL;
        goto out;
    }
    rv = jwk_members(&j, p, key);
    if (rv != APR_SUCCESS) goto out;
    *jwk = acme_json_pool_own(p, j);
out:
    return rv;
}

apr_status_t acme_jwk_thumbprint(const char **tp, apr_pool_t *p, EVP_PKEY *key)
{
    apr_pool_t *ptemp = NULL;
    json_t *jwk;
    const char *s;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    apr_status_t rv;

    *tp = NULL;
    rv = apr_pool_create(&ptemp, p);
    if (rv != APR_SUCCESS) goto out;
    rv = acme_jwk_create(&jwk, ptemp, key);
    if (rv != APR_SUCCESS) goto out;
    s = acme_json_dump(ptemp, jwk);
    if (!s) {
        rv = APR_ENOMEM;
        goto out;
    }
    if (!EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL)) {
        rv = acme_ossl_fail();
        goto out;
    }
    *tp = acme_b64url_encode(p, md, mdlen);
out:
    if (ptemp) apr_pool_destroy(ptemp);
    return rv;
}

/* Signature of data: DER for ECDSA, the raw block for RSA. */
static apr_status_t sign_data(unsigned char **sig, size_t *siglen,
                              apr_pool_t *p, EVP_PKEY *key, const EVP_MD *md,
                              const char *data, apr_size_t len)
{
    EVP_MD_CTX *ctx = NULL;
    int max = EVP_PKEY_get_size(key);
    apr_status_t rv = APR_SUCCESS;

    if (max <= 0) {
        rv = acme_ossl_fail();
        goto out;
    }
    *siglen = (size_t)max;
    *sig = apr_palloc(p, *siglen);
    ctx = EVP_MD_CTX_new();
    if (!ctx
        || EVP_DigestSignInit(ctx, NULL, md, NULL, key) != 1
        || EVP_DigestSign(ctx, *sig, siglen,
                          (const unsigned char *)data, len) != 1) {
        rv = acme_ossl_fail();
        goto out;
    }
out:
    EVP_MD_CTX_free(ctx);
    return rv;
}

/* JWS (RFC 7518 §3.4) wants r||s, each padded to the field size, where
 * OpenSSL produces an ASN.1 SEQUENCE of two INTEGERs. */
static apr_status_t ecdsa_der_to_raw(unsigned char **raw, apr_pool_t *p,
                                     const unsigned char *der, size_t derlen,
                                     apr_size_t size)
{
    ECDSA_SIG *es;
    const BIGNUM *r = NULL, *s = NULL;
    const unsigned char *q = der;
    apr_status_t rv = APR_SUCCESS;

    es = d2i_ECDSA_SIG(NULL, &q, (long)derlen);
    if (!es) {
        rv = acme_ossl_fail();
        goto out;
    }
    ECDSA_SIG_get0(es, &r, &s);
    *raw = apr_palloc(p, 2 * size);
    if (BN_bn2binpad(r, *raw, (int)size) < 0
        || BN_bn2binpad(s, *raw + size, (int)size) < 0) {
        rv = acme_ossl_fail();
        goto out;
    }
out:
    ECDSA_SIG_free(es);
    return rv;
}

apr_status_t acme_jws_sign(const char **sig_b64, apr_pool_t *p, EVP_PKEY *key,
                           const char *protected_b64, const char *payload_b64)
{
    const EVP_MD *md;
    const char *input, *crv = NULL;
    unsigned char *sig = NULL, *raw = NULL;
    size_t siglen = 0;
    apr_size_t size = 0;
    apr_status_t rv;

    *sig_b64 = NULL;
    if (!key || !protected_b64 || !payload_b64) {
        rv = APR_EINVAL;
        goto out;
    }
    if (EVP_PKEY_is_a(key, "RSA")) {
        md = EVP_sha256();
    }
    else if ((crv = ec_curve(key, &size)) != NULL) {
        md = (size == 32) ? EVP_sha256() : EVP_sha384();
    }
    else {
        rv = APR_ENOTIMPL;
        goto out;
    }
    input = apr_pstrcat(p, protected_b64, ".", payload_b64, NULL);
    rv = sign_data(&sig, &siglen, p, key, md, input, strlen(input));
    if (rv != APR_SUCCESS) goto out;
    if (crv) {
        rv = ecdsa_der_to_raw(&raw, p, sig, siglen, size);
        if (rv != APR_SUCCESS) goto out;
        sig = raw;
        siglen = 2 * size;
    }
    *sig_b64 = acme_b64url_encode(p, sig, siglen);
out:
    return rv;
}

/* base64url of the compact JSON of j. */
static apr_status_t json_b64(const char **out, apr_pool_t *p, const json_t *j)
{
    const char *s = acme_json_dump(p, j);

    if (!s) {
        return APR_ENOMEM;
    }
    *out = acme_b64url_encode(p, s, strlen(s));
    return APR_SUCCESS;
}

apr_status_t acme_jws_create(json_t **jws, apr_pool_t *p, EVP_PKEY *key,
                             json_t *protected_hdr, const json_t *payload)
{
    apr_pool_t *ptemp = NULL;
    const char *alg, *prot, *pay = "", *sig;
    json_t *j;
    apr_status_t rv;

    *jws = NULL;
    alg = acme_key_jws_alg(key);
    if (!alg || !json_is_object(protected_hdr)) {
        rv = alg ? APR_EINVAL : APR_ENOTIMPL;
        goto out;
    }
    if (json_object_set_new(protected_hdr, "alg", json_string(alg))) {
        rv = APR_ENOMEM;
        goto out;
    }
    /* The encoded pieces are copied into the result: scratch pool. */
    rv = apr_pool_create(&ptemp, p);
    if (rv != APR_SUCCESS) goto out;
    rv = json_b64(&prot, ptemp, protected_hdr);
    if (rv != APR_SUCCESS) goto out;
    if (payload) {
        rv = json_b64(&pay, ptemp, payload);
        if (rv != APR_SUCCESS) goto out;
    }
    rv = acme_jws_sign(&sig, ptemp, key, prot, pay);
    if (rv != APR_SUCCESS) goto out;
    j = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload", pay,
                  "signature", sig);
    if (!j) {
        rv = APR_ENOMEM;
        goto out;
    }
    *jws = acme_json_pool_own(p, j);
out:
    if (ptemp) apr_pool_destroy(ptemp);
    return rv;
}

apr_status_t acme_eab_create(json_t **eab, apr_pool_t *p, EVP_PKEY *account_key,
                             const char *kid, const unsigned char *hmac_key,
                             apr_size_t hmac_key_len, const char *url)
{
    apr_pool_t *ptemp = NULL;
    json_t *jwk, *hdr, *j;
    const char *prot, *pay, *input, *sig;
    apr_status_t rv;

    *eab = NULL;
    if (!kid || !url) {
        rv = APR_EINVAL;
        goto out;
    }
    rv = apr_pool_create(&ptemp, p);
    if (rv != APR_SUCCESS) goto out;
    rv = acme_jwk_create(&jwk, ptemp, account_key);
    if (rv != APR_SUCCESS) goto out;
    rv = json_b64(&pay, ptemp, jwk);
    if (rv != APR_SUCCESS) goto out;
    hdr = json_pack("{s:s, s:s, s:s}", "alg", "HS256", "kid", kid, "url", url);
    if (!hdr) {
        rv = APR_ENOMEM;
        goto out;
    }
    acme_json_pool_own(ptemp, hdr);
    rv = json_b64(&prot, ptemp, hdr);
    if (rv != APR_SUCCESS) goto out;
    input = apr_pstrcat(ptemp, prot, ".", pay, NULL);
    rv = acme_hmac_sha256_b64(&sig, ptemp, hmac_key, hmac_key_len,
                              input, strlen(input));
    if (rv != APR_SUCCESS) goto out;
    j = json_pack("{s:s, s:s, s:s}", "protected", prot, "payload", pay,
                  "signature", sig);
    if (!j) {
        rv = APR_ENOMEM;
        goto out;
    }
    *eab = acme_json_pool_own(p, j);
out:
    if (ptemp) apr_pool_destroy(ptemp);
    return rv;
}

apr_status_t acme_hmac_sha256_b64(const char **out, apr_pool_t *p,
                                  const unsigned char *key, apr_size_t keylen,
                                  const char *data, apr_size_t len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;

    *out = NULL;
    /* An empty MAC key is always a configuration mistake (EAB keys are
     * issued by the CA), so refuse it instead of signing with it. */
    if (!key || keylen == 0 || (!data && len)) {
        return APR_EINVAL;
    }
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen,
                   (const unsigned char *)(data ? data : ""), len,
                   mac, sizeof(mac), &maclen)) {
        return acme_ossl_fail();
    }
    *out = acme_b64url_encode(p, mac, maclen);
    return APR_SUCCESS;
}

/* One SAN entry for a normalized name: an iPAddress for an address
 * (RFC 8738 §4: the address itself, never its text as a dNSName), else
 * a dNSName. */
static GENERAL_NAME *san_entry(const char *name)
{
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_STRING *v;
    int ip = acme_is_ip_literal(name);

    if (!gen) {
        return NULL;
    }
    v = ip ? a2i_IPADDRESS(name) : ASN1_IA5STRING_new();
    if (!v || (!ip && !ASN1_STRING_set(v, name, -1))) {
        ASN1_STRING_free(v);
        GENERAL_NAME_free(gen);
        return NULL;
    }
    GENERAL_NAME_set0_value(gen, ip ? GEN_IPADD : GEN_DNS, v);
    return gen;
}

/* SAN entries for names, each checked and normalized. */
apr_status_t acme_san_create(GENERAL_NAMES **pgens, apr_pool_t *p,
                               const apr_array_header_t *names)
{
    GENERAL_NAMES *gens;
    GENERAL_NAME *gen = NULL;
    const char *name;
    int i;
    apr_status_t rv = APR_SUCCESS;

    gens = sk_GENERAL_NAME_new_null();
    if (!gens) {
        rv = acme_ossl_fail();
        goto out;
    }
    for (i = 0; i < names->nelts; i++) {
        name = APR_ARRAY_IDX(names, i, const char *);
        if (!name || !acme_name_normalize(&name, p, name)) {
            rv = APR_EINVAL;
            goto out;
        }
        gen = san_entry(name);
        if (!gen || !sk_GENERAL_NAME_push(gens, gen)) {
            rv = acme_ossl_fail();
            goto out;
        }
        gen = NULL;
    }
out:
    GENERAL_NAME_free(gen);
    if (rv != APR_SUCCESS) {
        GENERAL_NAMES_free(gens);
        gens = NULL;
    }
    *pgens = gens;
    return rv;
}

/* Subject CN = first name when it is a DNS name that fits; an address
 * stays out of the CN (RFC 8738 certificates carry it in the SAN only).
 * *empty tells the caller the SAN must then be critical (RFC 5280
 * §4.2.1.6). */
static apr_status_t req_set_subject(X509_REQ *req, apr_pool_t *p,
                                    const char *first, int *empty)
{
    X509_NAME *subj = NULL;
    const char *cn;
    apr_status_t rv = APR_SUCCESS;

    if (!first || !acme_name_normalize(&cn, p, first)) {
        rv = APR_EINVAL;
        goto out;
    }
    *empty = strlen(cn) > ACME_CN_MAX || acme_is_ip_literal(cn);
    subj = X509_NAME_new();
    if (!subj
        || (!*empty
            && !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
                                           (const unsigned char *)cn,
                                           -1, -1, 0))
        || !X509_REQ_set_subject_name(req, subj)) {
        rv = acme_ossl_fail();
        goto out;
    }
out:
    X509_NAME_free(subj);
    return rv;
}

/* Fills and signs req: subject, subjectAltName request extension, key. */
static apr_status_t req_build(X509_REQ *req, apr_pool_t *p, EVP_PKEY *key,
                              const apr_array_header_t *names)
{
    GENERAL_NAMES *gens = NULL;
    STACK_OF(X509_EXTENSION) *exts = NULL;
    X509_EXTENSION *ext = NULL;
    int empty = 0;
    apr_status_t rv;

    rv = req_set_subject(req, p, APR_ARRAY_IDX(names, 0, const char *),
                         &empty);
    if (rv != APR_SUCCESS) goto out;
    rv = acme_san_create(&gens, p, names);
    if (rv != APR_SUCCESS) goto out;
    exts = sk_X509_EXTENSION_new_null();
    ext = X509V3_EXT_i2d(NID_subject_alt_name, empty, gens);
    if (!exts || !ext || !sk_X509_EXTENSION_push(exts, ext)) {
        rv = acme_ossl_fail();
        goto out;
    }
    ext = NULL;
    if (!X509_REQ_set_version(req, X509_REQ_VERSION_1)
        || !X509_REQ_add_extensions(req, exts)
        || !X509_REQ_set_pubkey(req, key)
        || X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
        rv = acme_ossl_fail();
        goto out;
    }
out:
    X509_EXTENSION_free(ext);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
    GENERAL_NAMES_free(gens);
    return rv;
}

apr_status_t acme_csr_create(const char **csr_b64, apr_pool_t *p, EVP_PKEY *key,
                             const apr_array_header_t *names)
{
    X509_REQ *req = NULL;
    unsigned char *der, *q;
    int len;
    apr_status_t rv;

    *csr_b64 = NULL;
    if (!key || !names || names->nelts < 1) {
        rv = APR_EINVAL;
        goto out;
    }
    req = X509_REQ_new();
    if (!req) {
        rv = acme_ossl_fail();
        goto out;
    }
    rv = req_build(req, p, key, names);
    if (rv != APR_SUCCESS) goto out;
    len = i2d_X509_REQ(req, NULL);
    if (len <= 0) {
        rv = acme_ossl_fail();
        goto out;
    }
    der = q = apr_palloc(p, len);
    if (i2d_X509_REQ(req, &q) != len) {
        rv = acme_ossl_fail();
        goto out;
    }
    *csr_b64 = acme_b64url_encode(p, der, len);
out:
    X509_REQ_free(req);
    return rv;
}
