/* OpenSSL helpers shared by acme_crypto.c and acme_cert.c; not API. */
#ifndef ACME_OSSL_H
#define ACME_OSSL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>

/* Clears OpenSSL's error queue (inside httpd, mod_ssl would mistake stale
 * entries for its own) and returns APR_EGENERAL. */
apr_status_t acme_ossl_fail(void);

/* Contents of a memory BIO as a string in p. */
const char *acme_bio_str(apr_pool_t *p, BIO *bio);

/* dNSName and iPAddress entries for names, each checked and normalized
 * (acme_name_normalize); the caller
 * frees *pgens with GENERAL_NAMES_free. */
apr_status_t acme_san_create(GENERAL_NAMES **pgens, apr_pool_t *p,
                             const apr_array_header_t *names);

#endif
