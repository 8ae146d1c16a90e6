/* Revoking a certificate (RFC 8555 §7.6): the revokeCert request, signed
 * either by the account that holds authority over the certificate (JWS
 * "kid") or by the certificate's own private key (JWS "jwk"), and the
 * revocation reasons (RFC 5280 §5.3.1) an administrator may give. */
#ifndef ACME_REVOKE_H
#define ACME_REVOKE_H

#include <apr_pools.h>
#include <openssl/evp.h>

#include "acme_client.h"
#include "acme_job.h"
#include "acme_problem.h"
#include "acme_store.h"

/* No reason: the member is left out (the CA takes it as unspecified). */
#define ACME_REVOKE_NO_REASON (-1)

/* The reasons a subscriber may give, by their RFC 5280 names
 * ("keyCompromise" -> 1, case-insensitive); ACME_REVOKE_NO_REASON for any
 * other word, CA-only reasons (cACompromise, certificateHold...) included. */
int acme_revoke_reason_parse(const char *name);
/* The name of a reason code; "?" for one not in the list above. */
const char *acme_revoke_reason_name(int code);
/* "unspecified, keyCompromise, ..." for messages. */
const char *acme_revoke_reason_list(apr_pool_t *p);

/* POST revokeCert {"certificate": base64url(der), "reason": reason (left
 * out when ACME_REVOKE_NO_REASON)}. With cert_key the request is signed
 * with that key and carries it as "jwk"; without, with the client's
 * account (c->account_key, c->account_url as "kid"). The failure, an
 * ACME problem such as alreadyRevoked included, is in c->error. */
apr_status_t acme_cert_revoke(acme_client_t *c, apr_pool_t *p,
                              const unsigned char *der, apr_size_t der_len,
                              int reason, EVP_PKEY *cert_key);

/* What to revoke, where and how. */
typedef struct {
    const char *server_url;         /* the CA's ACME directory */
    const char *eab_kid;            /* its ACMEEAB key id, or NULL: with
                                     * server_url it names the account */
    const char *ca_file;            /* trust anchors for it, or NULL */
    const char *http_proxy;         /* as acme_domain_spec_t's, or NULL */
    const unsigned char *der;       /* the certificate (leaf), DER */
    apr_size_t der_len;
    int reason;                     /* or ACME_REVOKE_NO_REASON */
    EVP_PKEY *cert_key;             /* NULL: sign with the stored account */
} acme_revoke_req_t;

/* Revokes r->der at r->server_url. Without a certificate key the account
 * the job uses for that CA and key id signs (acme_job_account_dir in
 * store; none is registered here: an account that never dealt with this
 * certificate has no authority over it). On failure *err says why (in
 * p); err->type "alreadyRevoked" when the CA had revoked it already.
 * env: log, abort and transport as for acme_job_issue. */
apr_status_t acme_revoke(acme_error_t **err, apr_pool_t *p,
                         const acme_revoke_req_t *r,
                         const acme_store_t *store,
                         const acme_job_env_t *env);

#endif
