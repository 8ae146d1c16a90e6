/* Probes for `acmeauto check`: everything short of issuing. What the CA
 * says about a stored account, and whether an http-01 answer can be
 * fetched the way the CA fetches it. */
#ifndef ACME_PROBE_H
#define ACME_PROBE_H

#include <apr_pools.h>
#include "acme_client.h"

/* Where a CA asks for the http-01 answer (RFC 8555 §8.3). */
#define ACME_HTTP01_PATH "/.well-known/acme-challenge/"

/* More than any key authorization; a longer answer is not ours. */
#define ACME_PROBE_BODY_MAX 4096

/* POST-as-GET of c->account_url (RFC 8555 §7.3): the account's status at
 * the CA ("valid", "deactivated", "revoked"), in p. On failure (the CA
 * refuses the account, e.g. accountDoesNotExist or unauthorized) c->error
 * says why. */
apr_status_t acme_probe_account_status(const char **status, acme_client_t *c,
                                       apr_pool_t *p);

typedef struct {
    int status;             /* HTTP status; 0 when there was no answer */
    const char *body;       /* NUL-terminated, at most ACME_PROBE_BODY_MAX */
    apr_size_t body_len;
    int oversize;           /* the body went on beyond that */
    const char *location;   /* Location of a redirect, or NULL */
    const char *error;      /* why there was no answer; NULL otherwise */
} acme_probe_answer_t;

/* GET url as a CA's validation does: plain HTTP, no proxy from the
 * environment, no redirect followed, bounded body and time. With
 * to_host, the connection goes there (to_port: another port, NULL: the
 * URL's) while the Host header stays the URL's, as libcurl's
 * CURLOPT_CONNECT_TO does. *ans lives in p. APR_SUCCESS when an HTTP
 * answer came, APR_ECONNREFUSED (ans->error set) when none did. */
apr_status_t acme_probe_http_get(acme_probe_answer_t *ans, apr_pool_t *p,
                                 const char *url, const char *to_host,
                                 const char *to_port);

#endif
