/* Certificates: PEM chains in, facts and checks out, and the self-signed
 * stand-in served until the CA has issued the real one. */

#include <limits.h>
#include <string.h>
#include <arpa/inet.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "acme_cert.h"
#include "acme_ossl.h"
#include "acme_util.h"

/* A chain longer than this is not something a CA sends us. */
#define ACME_CHAIN_MAX 10
/* X.520 upper bound of a commonName; longer names only go in the SAN. */
#define ACME_CN_MAX 64
/* The stand-in certificate is replaced within days; cap its lifetime. */
#define ACME_SELF_SIGNED_DAYS_MAX 3650

static apr_status_t x509_cleanup(void *data)
{
    X509_free(data);
    return APR_SUCCESS;
}

apr_status_t acme_cert_chain_parse(apr_array_header_t **chain, apr_pool_t *p,
                                   const char *pem, apr_size_t len)
{
    apr_array_header_t *certs;
    BIO *bio = NULL;
    X509 *x;
    unsigned long err;
    apr_status_t rv = APR_SUCCESS;

    *chain = NULL;
    ERR_clear_error();
    if (!pem || len > INT_MAX) {
        rv = APR_EINVAL;
        goto out;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio) {
        rv = acme_ossl_fail();
        goto out;
    }
    certs = apr_array_make(p, 3, sizeof(X509 *));
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        apr_pool_cleanup_register(p, x, x509_cleanup, apr_pool_cleanup_null);
        if (certs->nelts >= ACME_CHAIN_MAX) {
            rv = APR_EINVAL;
            goto out;
        }
        APR_ARRAY_PUSH(certs, X509 *) = x;
    }
    /* Reading stops at the end of the text (no further BEGIN line) or at
     * a damaged certificate; only the first is a good chain. */
    err = ERR_peek_last_error();
    if (certs->nelts == 0 || ERR_GET_LIB(err) != ERR_LIB_PEM
        || ERR_GET_REASON(err) != PEM_R_NO_START_LINE) {
        rv = APR_EINVAL;
        goto out;
    }
    *chain = certs;
out:
    ERR_clear_error();
    BIO_free(bio);
    return rv;
}

/* DNS names of the subjectAltName, lower-cased, and its addresses in
 * canonical text (acme_ip_normalize); the addresses again in *ips. */
static apr_array_header_t *cert_names(apr_pool_t *p, X509 *x,
                                      apr_array_header_t **ips)
{
    apr_array_header_t *names = apr_array_make(p, 5, sizeof(const char *));
    GENERAL_NAMES *gens;
    GENERAL_NAME *gen;
    ASN1_STRING *s;
    const unsigned char *data;
    char *name;
    const char *ip;
    int i, j, len, type;

    *ips = apr_array_make(p, 1, sizeof(const char *));
    gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    for (i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        gen = sk_GENERAL_NAME_value(gens, i);
        s = GENERAL_NAME_get0_value(gen, &type);
        if (type != GEN_DNS && type != GEN_IPADD) {
            continue;
        }
        data = ASN1_STRING_get0_data(s);
        len = ASN1_STRING_length(s);
        if (type == GEN_IPADD) {
            if (acme_ip_from_bytes(&ip, p, data, len)) {
                APR_ARRAY_PUSH(names, const char *) = ip;
                APR_ARRAY_PUSH(*ips, const char *) = ip;
            }
            continue;
        }
        /* A NUL inside would make the name look like a shorter one. */
        if (len <= 0 || memchr(data, 0, len)) {
            continue;
        }
        name = apr_pstrmemdup(p, (const char *)data, len);
        for (j = 0; j < len; j++) {
            name[j] = apr_tolower(name[j]);
        }
        APR_ARRAY_PUSH(names, const char *) = name;
    }
    GENERAL_NAMES_free(gens);
    ERR_clear_error();
    return names;
}

static apr_status_t asn1_time_get(apr_time_t *t, const ASN1_TIME *at)
{
    struct tm tm;
    apr_time_exp_t xt;

    if (!at || !ASN1_TIME_to_tm(at, &tm)) {
        ERR_clear_error();
        return APR_EINVAL;
    }
    /* apr_time_exp_gmt_get() is APR's portable timegm(). */
    memset(&xt, 0, sizeof(xt));
    xt.tm_year = tm.tm_year;
    xt.tm_mon = tm.tm_mon;
    xt.tm_mday = tm.tm_mday;
    xt.tm_hour = tm.tm_hour;
    xt.tm_min = tm.tm_min;
    xt.tm_sec = tm.tm_sec;
    return apr_time_exp_gmt_get(t, &xt);
}

static apr_status_t serial_hex(const char **out, apr_pool_t *p, X509 *x)
{
    BIGNUM *bn;
    char *hex = NULL;
    apr_status_t rv = APR_SUCCESS;

    bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    if (!bn || (hex = BN_bn2hex(bn)) == NULL) {
        rv = acme_ossl_fail();
        goto out;
    }
    *out = apr_pstrdup(p, hex);     /* BN_bn2hex writes upper case */
out:
    OPENSSL_free(hex);
    BN_free(bn);
    return rv;
}

static apr_status_t issuer_line(const char **out, apr_pool_t *p, X509 *x)
{
    BIO *bio;
    apr_status_t rv = APR_SUCCESS;

    bio = BIO_new(BIO_s_mem());
    if (!bio
        || X509_NAME_print_ex(bio, X509_get_issuer_name(x), 0,
                              XN_FLAG_ONELINE) < 0) {
        rv = acme_ossl_fail();
        goto out;
    }
    *out = acme_bio_str(p, bio);
out:
    BIO_free(bio);
    return rv;
}

apr_status_t acme_cert_info(acme_cert_info_t **pinfo, apr_pool_t *p,
                            const apr_array_header_t *chain)
{
    acme_cert_info_t *info;
    X509 *leaf;
    apr_status_t rv;

    *pinfo = NULL;
    if (!chain || chain->nelts < 1) {
        rv = APR_EINVAL;
        goto out;
    }
    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    info = apr_pcalloc(p, sizeof(*info));
    info->chain_len = chain->nelts;
    info->names = cert_names(p, leaf, &info->ips);
    rv = asn1_time_get(&info->not_before, X509_get0_notBefore(leaf));
    if (rv != APR_SUCCESS) goto out;
    rv = asn1_time_get(&info->not_after, X509_get0_notAfter(leaf));
    if (rv != APR_SUCCESS) goto out;
    rv = serial_hex(&info->serial_hex, p, leaf);
    if (rv != APR_SUCCESS) goto out;
    rv = issuer_line(&info->issuer, p, leaf);
    if (rv != APR_SUCCESS) goto out;
    *pinfo = info;
out:
    return rv;
}

/* An address is covered by an iPAddress SAN only: a dNSName spelling
 * the address does not make clients accept the certificate for it. */
static int covers_ip(const acme_cert_info_t *info, const char *name)
{
    unsigned char want[16], have[16];
    int i, fam = strchr(name, ':') ? AF_INET6 : AF_INET;

    if (!info->ips || inet_pton(fam, name, want) != 1) {
        return 0;
    }
    for (i = 0; i < info->ips->nelts; i++) {
        if (inet_pton(fam, APR_ARRAY_IDX(info->ips, i, const char *),
                      have) == 1
            && !memcmp(want, have, fam == AF_INET6 ? 16 : 4)) {
            return 1;
        }
    }
    return 0;
}

int acme_cert_covers(const acme_cert_info_t *info, const char *name)
{
    const char *san, *dot;
    int i;

    if (!info || !info->names || !name) {
        return 0;
    }
    if (acme_is_ip_literal(name)) {
        return covers_ip(info, name);
    }
    dot = strchr(name, '.');
    for (i = 0; i < info->names->nelts; i++) {
        san = APR_ARRAY_IDX(info->names, i, const char *);
        if (!strcasecmp(san, name)) {
            return 1;
        }
        /* "*.example.org" stands for exactly one non-empty label. */
        if (san[0] == '*' && san[1] == '.' && dot && dot != name
            && !strcasecmp(san + 2, dot + 1)) {
            return 1;
        }
    }
    return 0;
}

/* NULL when chain[1] issued chain[0]; else why not. RFC 8555 §7.4.2
 * sends the issuer right after the leaf, and clients without it in their
 * cache could not build a path. */
static const char *issuer_problem(const apr_array_header_t *chain)
{
    X509 *leaf, *issuer;
    EVP_PKEY *ikey;

    if (chain->nelts < 2) {
        return "the chain holds only the certificate itself; the issuer "
               "(intermediate) certificate that must follow it is missing";
    }
    leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    issuer = APR_ARRAY_IDX(chain, 1, X509 *);
    ikey = X509_get0_pubkey(issuer);
    if (X509_check_issued(issuer, leaf) != X509_V_OK || !ikey
        || X509_verify(leaf, ikey) != 1) {
        return "the second certificate of the chain did not issue the first";
    }
    return NULL;
}

static const char *validity_problem(apr_pool_t *p,
                                    const acme_cert_info_t *info,
                                    apr_time_t now)
{
    char date[APR_RFC822_DATE_LEN];

    /* A CA whose clock runs a little ahead of ours is no reason to throw
     * a fresh certificate away. */
    if (now + ACME_CLOCK_SKEW < info->not_before) {
        apr_rfc822_date(date, info->not_before);
        return apr_psprintf(p, "certificate is not valid before %s", date);
    }
    if (now >= info->not_after) {
        apr_rfc822_date(date, info->not_after);
        return apr_psprintf(p, "certificate expired on %s", date);
    }
    return NULL;
}

apr_status_t acme_cert_check(const char **why, apr_pool_t *p,
                             const apr_array_header_t *chain, EVP_PKEY *key,
                             const apr_array_header_t *names, apr_time_t now)
{
    acme_cert_info_t *info = NULL;
    const char *name;
    int i;
    apr_status_t rv;

    *why = NULL;
    rv = acme_cert_info(&info, p, chain);
    if (rv != APR_SUCCESS) {
        *why = "certificate could not be read";
        goto out;
    }
    rv = APR_EINVAL;
    if (!key
        || X509_check_private_key(APR_ARRAY_IDX(chain, 0, X509 *), key) != 1) {
        *why = "the private key does not belong to the certificate";
        goto out;
    }
    for (i = 0; names && i < names->nelts; i++) {
        name = APR_ARRAY_IDX(names, i, const char *);
        if (!acme_cert_covers(info, name)) {
            *why = apr_psprintf(p, "certificate does not cover %s", name);
            goto out;
        }
    }
    *why = issuer_problem(chain);
    if (!*why) {
        *why = validity_problem(p, info, now);
    }
    if (!*why) {
        rv = APR_SUCCESS;
    }
out:
    ERR_clear_error();
    return rv;
}

/* Random positive 16-byte serial (RFC 5280 allows up to 20 octets). */
static apr_status_t cert_set_serial(X509 *x)
{
    unsigned char buf[16];
    BIGNUM *bn = NULL;
    apr_status_t rv = APR_SUCCESS;

    if (RAND_bytes(buf, sizeof(buf)) != 1) {
        rv = acme_ossl_fail();
        goto out;
    }
    /* Top bit clear keeps it positive, the next one set keeps 16 bytes. */
    buf[0] = (buf[0] & 0x7f) | 0x40;
    bn = BN_bin2bn(buf, sizeof(buf), NULL);
    if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x))) {
        rv = acme_ossl_fail();
        goto out;
    }
out:
    BN_free(bn);
    return rv;
}

/* Subject = issuer = CN of the first name (when it fits), and the SAN,
 * critical when the subject is empty (RFC 5280 §4.2.1.6). */
static apr_status_t cert_set_names(X509 *x, apr_pool_t *p,
                                   const apr_array_header_t *names)
{
    GENERAL_NAMES *gens = NULL;
    X509_NAME *subj = NULL;
    const char *cn = NULL;
    int empty;
    apr_status_t rv;

    rv = acme_san_create(&gens, p, names);
    if (rv != APR_SUCCESS) goto out;
    if (!acme_name_normalize(&cn, p,
                             APR_ARRAY_IDX(names, 0, const char *))) {
        rv = APR_EINVAL;
        goto out;
    }
    empty = strlen(cn) > ACME_CN_MAX || acme_is_ip_literal(cn);
    subj = X509_NAME_new();
    if (!subj
        || (!empty
            && !X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
                                           (const unsigned char *)cn,
                                           -1, -1, 0))
        || !X509_set_subject_name(x, subj)
        || !X509_set_issuer_name(x, subj)
        || X509_add1_ext_i2d(x, NID_subject_alt_name, gens, empty,
                             X509V3_ADD_DEFAULT) != 1) {
        rv = acme_ossl_fail();
        goto out;
    }
out:
    X509_NAME_free(subj);
    GENERAL_NAMES_free(gens);
    return rv;
}

apr_status_t acme_cert_self_signed(const char **pem, apr_pool_t *p,
                                   EVP_PKEY *key,
                                   const apr_array_header_t *names, int days)
{
    X509 *x = NULL;
    BIO *bio = NULL;
    apr_status_t rv;

    *pem = NULL;
    if (!key || !names || names->nelts < 1
        || days < 1 || days > ACME_SELF_SIGNED_DAYS_MAX) {
        rv = APR_EINVAL;
        goto out;
    }
    x = X509_new();
    if (!x || !X509_set_version(x, X509_VERSION_3)) {
        rv = acme_ossl_fail();
        goto out;
    }
    rv = cert_set_serial(x);
    if (rv != APR_SUCCESS) goto out;
    rv = cert_set_names(x, p, names);
    if (rv != APR_SUCCESS) goto out;
    /* An hour back in time tolerates clients whose clocks run late. */
    bio = BIO_new(BIO_s_mem());
    if (!bio
        || !X509_gmtime_adj(X509_getm_notBefore(x), -60 * 60)
        || !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL)
        || !X509_set_pubkey(x, key)
        || X509_sign(x, key, EVP_sha256()) <= 0
        || !PEM_write_bio_X509(bio, x)) {
        rv = acme_ossl_fail();
        goto out;
    }
    *pem = acme_bio_str(p, bio);
out:
    BIO_free(bio);
    X509_free(x);
    return rv;
}

apr_status_t acme_cert_ari_id(const char **id, apr_pool_t *p,
                              const apr_array_header_t *chain)
{
    X509 *leaf = (chain && chain->nelts) ? APR_ARRAY_IDX(chain, 0, X509 *)
                                         : NULL;
    const ASN1_OCTET_STRING *kid = leaf ? X509_get0_authority_key_id(leaf)
                                        : NULL;
    const ASN1_INTEGER *serial = leaf ? X509_get0_serialNumber(leaf) : NULL;
    const unsigned char *sb;
    unsigned char *der;
    int len;

    if (!kid || !serial || (len = ASN1_STRING_length(serial)) <= 0) {
        return APR_EINVAL;
    }
    /* The DER content of a positive INTEGER has a leading zero byte when
     * its top bit is set; OpenSSL keeps only the magnitude. */
    sb = ASN1_STRING_get0_data(serial);
    der = apr_palloc(p, (apr_size_t)len + 1);
    der[0] = 0;
    memcpy(der + 1, sb, (apr_size_t)len);
    *id = apr_pstrcat(p, acme_b64url_encode(p, ASN1_STRING_get0_data(kid),
                                            (apr_size_t)ASN1_STRING_length(kid)),
                      ".", (sb[0] & 0x80)
                      ? acme_b64url_encode(p, der, (apr_size_t)len + 1)
                      : acme_b64url_encode(p, sb, (apr_size_t)len), NULL);
    return APR_SUCCESS;
}
