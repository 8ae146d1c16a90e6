/* The issuance job: for one managed domain, get a certificate per key
 * type from the CA and stage it in the store. The httpd glue calls this
 * from its watchdog; the acmeauto command can call it too. */
#ifndef ACME_JOB_H
#define ACME_JOB_H

#include <apr_pools.h>
#include <apr_tables.h>
#include "acme_problem.h"
#include "acme_store.h"
#include "acme_crypto.h"
#include "acme_client.h"

typedef struct {
    const char *name;                 /* the store key: staging/<name>/ */
    apr_array_header_t *names;        /* const char*, lower case */
    apr_array_header_t *key_types;    /* acme_key_type_e */
    const char *server_url;           /* ACME directory, byte for byte */
    const char *eab_kid;              /* NULL: no EAB; with server_url
                                       * it names the account */
    /* NULL with eab_kid set: the caller holds the key back; a needed
     * registration fails with APR_EAGAIN. */
    const unsigned char *eab_hmac;
    apr_size_t eab_hmac_len;
    apr_array_header_t *contacts;     /* "mailto:..." */
    int tos_agreed;                   /* ACMEAgreeTOS on or a URL */
    const char *tos_url;              /* the URL given to ACMEAgreeTOS */
    const char *ca_file;              /* trust anchors for the CA, or NULL */
    const char *http_proxy;           /* proxy URL for the CA; "": none;
                                       * NULL: libcurl's environment */
    apr_table_t *replaces;            /* key type name -> ARI cert ID of the
                                       * certificate being renewed; or NULL */
    const char *profile;              /* ACMEProfile, or NULL */
    int profile_mandatory;            /* no order without that profile */
    apr_array_header_t *challenges;   /* const char*, ACMEChallenges in
                                       * order of preference; NULL or
                                       * empty: http-01 */
    apr_array_header_t *dns_cmd;      /* ACMEDNSCmd argv, or NULL */
    apr_interval_time_t dns_wait;     /* ACMEDNSWait: the wait, or with
                                       * dns_resolver the longest wait */
    const char *dns_resolver;         /* ACMEDNSWait's resolver, or NULL */
} acme_domain_spec_t;

typedef struct {
    /* Non-zero stops the job at the next step (server shutting down). */
    int (*should_abort)(void *baton);
    /* level: 0 error, 1 warning, 2 info, 3 debug. */
    void (*log)(void *baton, int level, const char *msg);
    void *baton;
    apr_interval_time_t poll_interval;   /* 0: 1s */
    apr_interval_time_t poll_timeout;    /* 0: 5 minutes */
    /* The transport to the CA; NULL: libcurl, trusting d->ca_file. Given
     * (e.g. a scripted fake in the unit tests), it must outlive the job;
     * its should_abort is set to the job's. */
    acme_http_t *http;
    /* Shared with the other orders at the same CA that run at once (the
     * directory, the nonces, one registration at a time); NULL: none. */
    acme_ca_share_t *share;
} acme_job_env_t;

/* Runs one order per key type for d and stages the results in
 * staging/<name>/. On failure *err says what went wrong (in p). The
 * account for d->server_url and d->eab_kid is created on first use and
 * reused after. */
apr_status_t acme_job_issue(acme_error_t **err, apr_pool_t *p,
                            const acme_domain_spec_t *d,
                            const acme_store_t *store,
                            const acme_job_env_t *env);

/* Asks the CA for renewal information (RFC 9773) about cert_id.
 * APR_ENOTIMPL when the CA offers no ARI. */
apr_status_t acme_job_ari(acme_ari_t *ari, acme_error_t **err, apr_pool_t *p,
                          const acme_domain_spec_t *d, const char *cert_id,
                          const acme_job_env_t *env);

/* An account belongs to a CA and an EAB key id: to the directory URL
 * without its query string and fragment (DigiCert selects renew or
 * reissue by query; it is still the same CA) and to eab_kid (NULL: no
 * EAB). Two key ids at one URL are two accounts. */
const char *acme_job_account_base_url(apr_pool_t *p, const char *server_url);

/* Directory name under accounts/ of the account for (server_url,
 * eab_kid). Without a key id and without a query string it is the id
 * earlier versions gave the URL, so such accounts stay where they are.
 * In p. */
const char *acme_job_account_id(apr_pool_t *p, const char *server_url,
                                const char *eab_kid);

/* The directory (a path in p) of the account the job would use for
 * (server_url, eab_kid): its own, else one an earlier version stored
 * under the URL alone (byte for byte, or without the query), which the
 * job adopts rather than spend EAB values on a new registration. NULL
 * when there is none. Reads account.json: the User's side only. */
const char *acme_job_account_dir(apr_pool_t *p, const acme_store_t *store,
                                 const char *server_url, const char *eab_kid);

/* The account.json paths acme_job_account_dir looks at, own first: for
 * root, which may lstat them but not read them. Array of const char*. */
apr_array_header_t *acme_job_account_paths(apr_pool_t *p,
                                           const acme_store_t *store,
                                           const char *server_url,
                                           const char *eab_kid);

/* The client for d->server_url with the account the job uses: loaded
 * from the store, or registered exactly as the job would (EAB, terms,
 * written to the store at once). For the acmeauto command's check. On
 * failure *err says why (in p). *client lives in p. */
apr_status_t acme_job_account(acme_client_t **client, acme_error_t **err,
                              apr_pool_t *p, const acme_domain_spec_t *d,
                              const acme_store_t *store,
                              const acme_job_env_t *env);

#endif
