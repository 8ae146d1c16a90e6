/* Keys and signatures for the ACME core: account/certificate keys,
 * JWK (RFC 7517/7638), JWS (RFC 7515) and EAB HMAC. Everything is
 * OpenSSL underneath; EVP_PKEYs handed out are freed by a pool cleanup. */
#ifndef ACME_CRYPTO_H
#define ACME_CRYPTO_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <jansson.h>

typedef enum {
    ACME_KEY_NONE = 0,
    ACME_KEY_RSA2048,
    ACME_KEY_RSA3072,
    ACME_KEY_RSA4096,
    ACME_KEY_EC256,
    ACME_KEY_EC384
} acme_key_type_e;

/* "rsa2048" <-> ACME_KEY_RSA2048 (case-insensitive); NONE if unknown. */
acme_key_type_e acme_key_type_parse(const char *name);
const char *acme_key_type_name(acme_key_type_e t);
/* The type of an existing key; NONE if it is none of ours. */
acme_key_type_e acme_key_type_of(EVP_PKEY *key);

/* New private key; freed with p. */
apr_status_t acme_key_generate(EVP_PKEY **pkey, apr_pool_t *p,
                               acme_key_type_e type);

/* PEM (PKCS#8, unencrypted) of the private key; lives in p. */
apr_status_t acme_key_to_pem(const char **pem, apr_pool_t *p, EVP_PKEY *key);
/* Private key from PEM text; freed with p. */
apr_status_t acme_key_from_pem(EVP_PKEY **pkey, apr_pool_t *p,
                               const char *pem, apr_size_t len);

/* JWS algorithm for an account key: "ES256", "ES384" or "RS256". */
const char *acme_key_jws_alg(EVP_PKEY *key);

/* Public JWK of key as a new json object owned by p. */
apr_status_t acme_jwk_create(json_t **jwk, apr_pool_t *p, EVP_PKEY *key);
/* RFC 7638 thumbprint, base64url; lives in p. */
apr_status_t acme_jwk_thumbprint(const char **tp, apr_pool_t *p, EVP_PKEY *key);

/* Signs "protected_b64.payload_b64" with key (ES256/ES384 as raw r||s,
 * RS256 PKCS#1 v1.5); *sig_b64 is base64url and lives in p. */
apr_status_t acme_jws_sign(const char **sig_b64, apr_pool_t *p, EVP_PKEY *key,
                           const char *protected_b64, const char *payload_b64);

/* Builds a flattened JWS object (owned by p). protected_hdr is a json
 * object to which "alg" is added; payload NULL means POST-as-GET (""). */
apr_status_t acme_jws_create(json_t **jws, apr_pool_t *p, EVP_PKEY *key,
                             json_t *protected_hdr, const json_t *payload);

/* The RFC 8555 §7.3.4 externalAccountBinding object (owned by p):
 * {"protected": {alg HS256, kid, url}, "payload": account JWK, HMAC sig}. */
apr_status_t acme_eab_create(json_t **eab, apr_pool_t *p, EVP_PKEY *account_key,
                             const char *kid, const unsigned char *hmac_key,
                             apr_size_t hmac_key_len, const char *url);

/* HMAC-SHA256 of data, base64url; lives in p. */
apr_status_t acme_hmac_sha256_b64(const char **out, apr_pool_t *p,
                                  const unsigned char *key, apr_size_t keylen,
                                  const char *data, apr_size_t len);

/* DER CSR for names (first one is the subject CN), base64url; lives in p. */
apr_status_t acme_csr_create(const char **csr_b64, apr_pool_t *p, EVP_PKEY *key,
                             const apr_array_header_t *names);

#endif
