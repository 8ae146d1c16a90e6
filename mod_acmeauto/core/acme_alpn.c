/* tls-alpn-01 challenge certificates (RFC 8737 §3). */
#include <string.h>
#include <apr_strings.h>

#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "acme_alpn.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_ossl.h"
#include "acme_store.h"
#include "acme_util.h"

/* The CA checks it at once; a week covers clocks that are far off. */
#define ALPN_CERT_DAYS 7

/* The extension's value is the DER of an OCTET STRING holding the hash
 * (RFC 8737 §3: "Authorization ::= OCTET STRING (SIZE (32))"). */
static apr_status_t add_acme_identifier(X509 *x, const char *ka)
{
    unsigned char hash[EVP_MAX_MD_SIZE], *der = NULL;
    unsigned int hlen = 0;
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj(ACME_ALPN_OID, 1);
    X509_EXTENSION *ext = NULL;
    apr_status_t rv = APR_SUCCESS;
    int len;

    if (!inner || !value || !oid
        || !EVP_Digest(ka, strlen(ka), hash, &hlen, EVP_sha256(), NULL)
        || !ASN1_OCTET_STRING_set(inner, hash, (int)hlen)
        || (len = i2d_ASN1_OCTET_STRING(inner, &der)) <= 0
        || !ASN1_OCTET_STRING_set(value, der, len)
        || !(ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, value))
        || !X509_add_ext(x, ext, -1)) {
        rv = acme_ossl_fail();
    }
    OPENSSL_free(der);
    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    ASN1_OCTET_STRING_free(inner);
    return rv;
}

/* acme_cert_self_signed gives serial, names and dates; the extension is
 * added to its result, which is then signed again. */
apr_status_t acme_alpn_cert(const char **pem, apr_pool_t *p,
                            const char *name, const char *ka)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
    const char *plain, *key_pem, *norm;
    EVP_PKEY *key;
    X509 *x = NULL;
    BIO *in = NULL, *out = NULL;
    apr_status_t rv;

    *pem = NULL;
    /* A DNS name, or an address (RFC 8738 §6: its iPAddress SAN). */
    if (!name || !ka || !acme_name_normalize(&norm, p, name)
        || norm[0] == '*') {
        return APR_EINVAL;
    }
    APR_ARRAY_PUSH(names, const char *) = norm;
    rv = acme_key_generate(&key, p, ACME_KEY_EC256);
    if (rv != APR_SUCCESS) goto out;
    rv = acme_cert_self_signed(&plain, p, key, names, ALPN_CERT_DAYS);
    if (rv != APR_SUCCESS) goto out;
    rv = acme_key_to_pem(&key_pem, p, key);
    if (rv != APR_SUCCESS) goto out;
    in = BIO_new_mem_buf(plain, -1);
    out = BIO_new(BIO_s_mem());
    if (!in || !out || !(x = PEM_read_bio_X509(in, NULL, NULL, NULL))) {
        rv = acme_ossl_fail();
        goto out;
    }
    rv = add_acme_identifier(x, ka);
    if (rv != APR_SUCCESS) goto out;
    if (X509_sign(x, key, EVP_sha256()) <= 0 || !PEM_write_bio_X509(out, x)) {
        rv = acme_ossl_fail();
        goto out;
    }
    *pem = apr_pstrcat(p, acme_bio_str(p, out), key_pem, NULL);
out:
    X509_free(x);
    BIO_free(in);
    BIO_free(out);
    return rv;
}

const char *acme_alpn_file(apr_pool_t *p, const char *name)
{
    const char *norm;

    if (!name || !acme_dns_name_normalize(&norm, p, name) || norm[0] == '*') {
        return NULL;
    }
    return apr_pstrcat(p, norm, ACME_FN_ALPN_SUFFIX, NULL);
}
