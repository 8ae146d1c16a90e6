/* Certificates: reading PEM chains, checking them against keys and names,
 * and the self-signed fallback served before the first real certificate. */
#ifndef ACME_CERT_H
#define ACME_CERT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* What we need to know of a certificate chain (leaf first). */
typedef struct {
    apr_array_header_t *names;      /* const char*: DNS and IP SANs of
                                     * the leaf (addresses canonical) */
    apr_array_header_t *ips;        /* const char*: its IP SANs alone */
    apr_time_t not_before;
    apr_time_t not_after;
    const char *serial_hex;
    const char *issuer;             /* one-line issuer DN */
    int chain_len;                  /* certificates in the PEM, leaf included */
} acme_cert_info_t;

/* Parses all certificates of a PEM chain; *chain (X509*) freed with p.
 * APR_EINVAL if there is none. */
apr_status_t acme_cert_chain_parse(apr_array_header_t **chain, apr_pool_t *p,
                                   const char *pem, apr_size_t len);

/* Facts of chain's leaf; lives in p. */
apr_status_t acme_cert_info(acme_cert_info_t **info, apr_pool_t *p,
                            const apr_array_header_t *chain);

/* How far in the future a notBefore may lie and still count as valid. */
#define ACME_CLOCK_SKEW apr_time_from_sec(300)

/* Checks a chain before it may go live: key matches the leaf, every name
 * in names is covered, an issuer certificate follows the leaf, now lies
 * within the validity. On failure *why (in p) says what is wrong. */
apr_status_t acme_cert_check(const char **why, apr_pool_t *p,
                             const apr_array_header_t *chain, EVP_PKEY *key,
                             const apr_array_header_t *names, apr_time_t now);

/* RFC 9773 certificate ID of the chain's leaf: base64url(AKI keyIdentifier)
 * "." base64url(serial, DER content bytes). APR_EINVAL without an AKI. */
apr_status_t acme_cert_ari_id(const char **id, apr_pool_t *p,
                              const apr_array_header_t *chain);

/* 1 if name (lower case) is covered by a SAN, wildcards included; an
 * IP address only by an iPAddress SAN of the same address. */
int acme_cert_covers(const acme_cert_info_t *info, const char *name);

/* Self-signed certificate for names, valid `days` from now; PEM in p. */
apr_status_t acme_cert_self_signed(const char **pem, apr_pool_t *p,
                                   EVP_PKEY *key,
                                   const apr_array_header_t *names, int days);

#endif
