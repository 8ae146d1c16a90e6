/* tls-alpn-01 (RFC 8737): the self-signed certificate a CA must see in
 * a TLS handshake for a name when it offers the ALPN protocol
 * "acme-tls/1". The job builds it (a key is generated per challenge);
 * the handshake only reads what the job wrote. */
#ifndef ACME_ALPN_H
#define ACME_ALPN_H

#include <apr_pools.h>

#define ACME_ALPN_PROTOCOL "acme-tls/1"
#define ACME_ALPN_CHALLENGE "tls-alpn-01"
/* id-pe-acmeIdentifier (RFC 8737 §6.1). */
#define ACME_ALPN_OID "1.3.6.1.5.5.7.1.31"
/* Certificate and key of a P-256 challenge are well under this. */
#define ACME_ALPN_PEM_MAX (16 * 1024)

/* The challenge certificate for name (a DNS name, or an IP address: then
 * an iPAddress SAN, RFC 8738 §6) and the key authorization ka:
 * self-signed, a SAN of name alone, and the critical
 * acmeIdentifier extension holding SHA-256(ka). *pem is the certificate
 * followed by its private key, both PEM, in p. */
apr_status_t acme_alpn_cert(const char **pem, apr_pool_t *p,
                            const char *name, const char *ka);

/* The file name under challenges/ for name's answer; NULL when name is
 * no DNS name (a client's SNI is checked before it nears a path). It
 * contains a dot, which no http-01 token does, so the request hook can
 * never serve the key. In p. */
const char *acme_alpn_file(apr_pool_t *p, const char *name);

#endif
