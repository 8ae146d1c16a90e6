/* mod_acmeauto: the httpd glue around the ACME core (core/). Symbols of
 * the glue start with aa_; the core's with acme_. */
#ifndef MOD_ACMEAUTO_H
#define MOD_ACMEAUTO_H

#include <httpd.h>
#include <http_config.h>
#include <apr_tables.h>

#include "acme_crypto.h"
#include "acme_job.h"
#include "acme_restart.h"
#include "acme_store.h"

#define AA_UNSET (-1)

/* Our log message numbers: "AA" and five digits, like httpd's "AH". */
#define AA_LOGNO(n) "AA" #n ": "


/* External Account Binding values for a CA (ACMEEAB). */
typedef struct {
    const char *kid;                 /* NULL: none */
    const unsigned char *hmac;       /* decoded; lives (and is wiped) with
                                      * pconf */
    apr_size_t hmac_len;
    const char *file;                /* ACMEEAB file:PATH, or NULL */
    const char *digest;              /* SHA-256 of hmac, or "": set with
                                      * the domain, kept when hmac goes */
} aa_eab_t;

/* 'ACMEEAB URL ...': the values for one ACMEServer URL. */
typedef struct {
    const char *url;
    aa_eab_t eab;
    server_rec *defined_in;
    const char *defined_at;          /* "file:line" for messages */
} aa_eab_url_t;

/* One ACMEDomain: one certificate (per key type) for its names. */
typedef struct aa_domain_t {
    const char *name;                /* first name: logs and notifications */
    const char *key;                 /* the store's name for it: stays with
                                      * its set of names (aa_identity.c) */
    apr_array_header_t *names;       /* const char*, lower case */
    server_rec *defined_in;          /* the vhost, or the main server */
    int from_vhost;                  /* no arguments: ServerName + aliases */
    const char *defined_at;          /* "file:line" for messages */
    acme_domain_spec_t spec;         /* resolved settings, after post_config;
                                      * the job's copy of the EAB HMAC is
                                      * wiped once the accounts exist */
    const char *eab_digest;          /* SHA-256 of the EAB HMAC, or "" */
    const char *eab_file;            /* ACMEEAB file:PATH, or NULL */
    apr_array_header_t *servers;     /* ACMEServer URLs, in failover order */
    aa_eab_t *eab;                   /* the EAB for each of servers; the
                                      * first's is also in spec */
    int auto_restart;
    apr_interval_time_t retry_delay;
    int renew_pct;                   /* renew with this % of lifetime left */
    apr_interval_time_t renew_left;  /* ... or this much time (if > 0) */
    apr_interval_time_t activation_delay;
    apr_array_header_t *notify_cmd;  /* ACMENotifyCmd argv, or NULL */
    /* What the parent found at start-up, inherited by the children. */
    int is_live;                     /* some live certificate can be served */
    apr_array_header_t *live_types;  /* key types with a servable live cert */
    apr_table_t *ari_ids;            /* key type -> RFC 9773 cert ID (live) */
    apr_time_t expiring_at;          /* when "expiring" is due; 0: none */
    apr_time_t renew_at;             /* when the job acts; 0: at once (none
                                      * live, or the config asks for more) */
    /* The first servable live certificate, for the status page (the
     * children cannot read live/): NULL/0 when none is live. */
    const char *cert_serial;         /* hex */
    const char *cert_issuer;         /* one-line DN */
    apr_time_t cert_not_before;
    apr_time_t cert_not_after;
    /* The staged set the parent last judged (installed or rejected), or
     * holds back until held_until: hash and length of its staged.json, so
     * the restart watcher knows a new one (0: none). */
    unsigned int staged_seen_hash;
    apr_size_t staged_seen_len;
    apr_time_t held_until;
    const char *fallback_cert;       /* self-signed stand-in, when needed */
    const char *fallback_key;
    /* Before the module's first certificate: a configured SSLCertificateFile
     * (Certbot's, say) that mod_ssl serves meanwhile, as the parent found
     * it when it gave mod_ssl its files (NULL/0: none). */
    const char *previous_file;
    const char *previous_serial;     /* hex */
    const char *previous_issuer;
    apr_time_t previous_not_before;
    apr_time_t previous_not_after;
    apr_array_header_t *deploy_cmd;  /* ACMEDeployCmd argv, or NULL */
    int deploy_due;                  /* a set went live in this pass */
} aa_domain_t;

/* Per-server settings; AA_UNSET/NULL fields inherit from the main server. */
typedef struct {
    apr_array_header_t *servers;     /* ACMEServer URLs */
    int eab_set;                     /* ACMEEAB without URL seen */
    aa_eab_t eab;                    /* ... its values (kid NULL: none) */
    apr_array_header_t *eab_urls;    /* aa_eab_url_t*: ACMEEAB URL ...,
                                      * this context's first */
    apr_array_header_t *contacts;    /* "mailto:..." */
    int tos;                         /* AA_UNSET, 0, 1 */
    const char *tos_url;
    apr_array_header_t *key_types;   /* acme_key_type_e */
    int auto_restart;
    apr_interval_time_t retry_delay;
    int renew_pct;                   /* AA_UNSET, or 1..99 */
    apr_interval_time_t renew_left;  /* AA_UNSET, or a duration */
    apr_interval_time_t activation_delay;
    int challenges_set;              /* ACMEChallenges seen */
    apr_array_header_t *challenges;  /* ... its types, lower case, or NULL */
    const char *profile;             /* ACMEProfile NAME, or NULL */
    int profile_mandatory;           /* ... with "mandatory" */
    apr_array_header_t *notify_cmd;  /* ACMENotifyCmd argv */
    const char *ca_file;
    const char *http_proxy;          /* ACMEHttpProxy: URL, "" (none) or
                                      * NULL (libcurl's environment) */
    const char *store_dir;           /* main server only */
    apr_interval_time_t check_interval; /* main server only */
    int max_orders;           /* main server only; AA_UNSET */
    int status;                      /* ACMEStatus: AA_UNSET, 0, 1 (main) */
    apr_array_header_t *domains;     /* aa_domain_t*, defined here (no merge) */
    /* Set in post_config for the request path: the domain this vhost
     * serves, and whether it still runs on the fallback certificate. */
    aa_domain_t *served;
    int serves_previous;             /* a valid SSLCertificateFile stands in
                                      * until the module's own is live */
    apr_array_header_t *deploy_cmd;  /* ACMEDeployCmd argv */
    int restart_window_set;          /* ACMERestartWindow (main server) */
    acme_window_t restart_window;
    apr_array_header_t *dns_cmd;     /* ACMEDNSCmd argv */
    apr_interval_time_t dns_wait;    /* ACMEDNSWait, AA_UNSET */
    const char *dns_resolver;        /* ACMEDNSWait's resolver */
    int serves_tls;                  /* see aa_serves_tls */
} aa_srv_conf_t;

/* Process-wide state, rebuilt by every post_config. */
typedef struct {
    const char *store_dir;
    apr_interval_time_t check_interval;
    int max_orders;           /* ACMEMaxOrders: per CA */
    int status;                      /* ACMEStatus on: in server-status */
    server_rec *main_server;
    apr_array_header_t *domains;     /* all aa_domain_t*, after post_config */
    acme_store_t *store;
    apr_pool_t *pool;                /* pconf */
    /* The parent's descriptors of the store's areas (aa_store.c), -1 where
     * unusable; only valid during post_config. */
    int area_fd[ACME_AREA_COUNT];
    uid_t user;                      /* the server's User: owns the job's */
    gid_t group;                     /* areas */
    const char *fallback_dir;        /* where fallback certificates are */
    int restart_window_set;          /* ACMERestartWindow, or any time */
    acme_window_t restart_window;
} aa_global_t;

extern module AP_MODULE_DECLARE_DATA acmeauto_module;

aa_srv_conf_t *aa_srv_conf(const server_rec *s);
aa_global_t *aa_global(void);

#endif
