/* The ACME protocol (RFC 8555), one function per step. Every signed
 * request goes through one path: nonce, JWS, badNonce retry, next nonce.
 * On failure each function returns non-success and leaves the reason in
 * client->error. */
#ifndef ACME_CLIENT_H
#define ACME_CLIENT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <openssl/evp.h>
#include <jansson.h>
#include "acme_http.h"
#include "acme_problem.h"

#define ACME_BADNONCE_RETRIES 5

typedef struct {
    const char *new_nonce;
    const char *new_account;
    const char *new_order;
    const char *revoke_cert;
    const char *key_change;
    const char *renewal_info;       /* RFC 9773, may be NULL */
    const char *terms_of_service;   /* meta.termsOfService, may be NULL */
    int eab_required;               /* meta.externalAccountRequired */
    /* meta.profiles (draft-ietf-acme-profiles): the names of the
     * certificate profiles the CA offers; NULL when it lists none. */
    apr_array_header_t *profiles;
} acme_directory_t;

/* What the clients of one CA share within one run of the job, when
 * several orders run at once: the directory, fetched once, and a pool
 * of unused nonces that every answer feeds, so that no order spends a
 * request on either. Thread-safe; it outlives the clients that use it. */
typedef struct acme_ca_share_t acme_ca_share_t;

/* In p, which must not be used by other threads meanwhile. */
apr_status_t acme_ca_share_create(acme_ca_share_t **share, apr_pool_t *p);

/* Held around work only one client of the CA may do at a time
 * (registering the account, whose EAB values are single use). */
void acme_ca_share_lock(acme_ca_share_t *share);
void acme_ca_share_unlock(acme_ca_share_t *share);

/* Requests the share's clients sent: directory GETs, nonce HEADs. For
 * the tests that count them. */
void acme_ca_share_counts(acme_ca_share_t *share, int *directory_gets,
                          int *nonce_heads);

typedef struct {
    apr_pool_t *pool;
    acme_http_t *http;
    acme_ca_share_t *share;         /* NULL: this client alone */
    const char *directory_url;      /* byte for byte as configured */
    acme_directory_t dir;
    int have_dir;
    const char *nonce;              /* NULL or nonce_buf */
    char nonce_buf[256];            /* reused: no allocation per request */
    EVP_PKEY *account_key;
    const char *account_url;        /* "kid" once registered */
    acme_error_t *error;            /* last failure, in pool */
    /* Called between steps and while waiting; non-zero aborts. */
    int (*should_abort)(void *baton);
    void *abort_baton;
    /* Poll pacing: used when the server gives no Retry-After. */
    apr_interval_time_t poll_interval;  /* the longest pause of a poll */
    apr_interval_time_t poll_timeout;
    /* Done once, at the next pause between polls, instead of (part of)
     * the pause; then cleared. NULL: nothing. */
    void (*on_wait)(void *baton);
    void *on_wait_baton;
} acme_client_t;

typedef struct {
    const char *url;
    const char *status;             /* pending, ready, processing, valid, invalid */
    apr_array_header_t *authz_urls; /* const char* */
    const char *finalize_url;
    const char *certificate_url;
    json_t *json;
} acme_order_t;

typedef struct {
    const char *type;
    const char *url;
    const char *token;
    const char *status;
    /* dns-persist-01: the first of the CA's "issuer-domain-names", the
     * name its persistent TXT record must carry; else NULL. */
    const char *issuer_domain;
} acme_challenge_t;

typedef struct {
    const char *url;
    const char *identifier;
    const char *status;
    int wildcard;
    apr_array_header_t *challenges; /* acme_challenge_t */
} acme_authz_t;

apr_status_t acme_client_create(acme_client_t **client, apr_pool_t *p,
                                acme_http_t *http, const char *directory_url);

/* GET the directory (once per client). */
apr_status_t acme_directory_fetch(acme_client_t *c);
/* Parses a directory document; used by acme_directory_fetch and tests. */
apr_status_t acme_directory_parse(acme_directory_t *dir, apr_pool_t *p,
                                  const json_t *doc);

/* Signed POST to url with payload (NULL = POST-as-GET). Handles nonces and
 * badNonce. *resp is any 2xx answer; a problem becomes client->error and
 * APR_EGENERAL. *json is the parsed body when it is JSON, else NULL. */
apr_status_t acme_post(acme_client_t *c, acme_http_response_t **resp,
                       json_t **json, apr_pool_t *p, const char *url,
                       const json_t *payload, const char *activity);

/* newAccount with contact, termsOfServiceAgreed and (when eab_kid) EAB.
 * A CA that already knows the key answers with that account (RFC 8555
 * §7.3.1), so this also finds an account whose URL we lost. Sets
 * c->account_url. */
apr_status_t acme_account_register(acme_client_t *c, apr_pool_t *p,
                                   const apr_array_header_t *contacts,
                                   int tos_agreed, const char *eab_kid,
                                   const unsigned char *eab_hmac,
                                   apr_size_t eab_hmac_len);

/* The account at c->account_url as the CA has it (POST-as-GET, RFC 8555
 * §7.3): status, contact, orders... *acct owned by p. */
apr_status_t acme_account_get(json_t **acct, acme_client_t *c,
                              apr_pool_t *p);

/* Replaces the account's contact URLs (RFC 8555 §7.3.2; an empty list
 * removes them); *acct is the account as the CA answers. In p. */
apr_status_t acme_account_update_contact(json_t **acct, acme_client_t *c,
                                         apr_pool_t *p,
                                         const apr_array_header_t *contacts);

/* replaces: the ARI certificate ID of the certificate this order renews
 * (RFC 9773 §5), or NULL; profile: the certificate profile to ask for
 * (draft-ietf-acme-profiles), or NULL for the CA's default. */
apr_status_t acme_order_new(acme_order_t **order, acme_client_t *c,
                            apr_pool_t *p, const apr_array_header_t *names,
                            const char *replaces, const char *profile);

/* Does the directory list profile in meta.profiles? Fetches it first. */
int acme_directory_has_profile(acme_client_t *c, const char *profile);
apr_status_t acme_order_get(acme_order_t **order, acme_client_t *c,
                            apr_pool_t *p, const char *url);
apr_status_t acme_order_parse(acme_order_t **order, apr_pool_t *p,
                              const char *url, json_t *doc);

apr_status_t acme_authz_get(acme_authz_t **authz, acme_client_t *c,
                            apr_pool_t *p, const char *url);
apr_status_t acme_authz_parse(acme_authz_t **authz, apr_pool_t *p,
                              const char *url, const json_t *doc);
/* Tells the server we are ready for challenge ch. */
apr_status_t acme_challenge_respond(acme_client_t *c, apr_pool_t *p,
                                    const acme_challenge_t *ch);
/* Polls authz until valid/invalid; honours Retry-After. */
apr_status_t acme_authz_wait(acme_authz_t **authz, acme_client_t *c,
                             apr_pool_t *p, const char *url);

/* Polls the order until it leaves "pending"/"processing" as wanted. */
apr_status_t acme_order_wait(acme_order_t **order, acme_client_t *c,
                             apr_pool_t *p, const char *url,
                             const char *until_status);
apr_status_t acme_order_finalize(acme_order_t **order, acme_client_t *c,
                                 apr_pool_t *p, const acme_order_t *o,
                                 const char *csr_b64);
/* PEM chain of a valid order. */
apr_status_t acme_cert_download(const char **pem, apr_size_t *len,
                                acme_client_t *c, apr_pool_t *p,
                                const char *url);

/* RFC 9773 renewal information of one certificate. */
typedef struct {
    apr_time_t start, end;          /* the suggested window */
    const char *explanation_url;    /* may be NULL */
    apr_interval_time_t retry_after;/* when to ask again; 0: not said */
} acme_ari_t;

/* GET renewalInfo/<cert_id>. APR_ENOTIMPL when the CA offers no ARI. */
apr_status_t acme_ari_get(acme_ari_t *ari, acme_client_t *c, apr_pool_t *p,
                          const char *cert_id);

/* Retry-After header (seconds or HTTP-date) as an interval; 0 if none. */
apr_interval_time_t acme_retry_after(const acme_http_response_t *resp,
                                     apr_time_t now);

/* Key authorization "token.thumbprint" for the account key; in p. */
apr_status_t acme_key_authorization(const char **ka, acme_client_t *c,
                                    apr_pool_t *p, const char *token);

#endif
