/* The configuration the parent last started with, as the acmeauto
 * command sees it: handoff/config.json, written by root at every start
 * (never at configtest) into the root-owned handoff/ area.
 *
 * The command cannot parse httpd.conf the way httpd does (Include,
 * <VirtualHost>, ServerName and ServerAlias, inheritance), so the module
 * writes down what it resolved: every managed domain with its store key,
 * names, key types, CAs and settings, and the User the job runs as. No
 * secret goes in: of the EAB only the key id and, where ACMEEAB file:
 * was used, the file's path (which the command reads as root).
 *
 * Format:
 *   {"version": 1, "written": SEC, "store": "<dir>", "pid": N,
 *    "user": "<name>", "uid": N, "gid": N,
 *    "domains": [{"key", "name", "names": [..], "key_types": [..],
 *                 "servers": [..], "eab_kid": STR|null,
 *                 "eab_file": STR|null, "eab_inline": BOOL,
 *                 "contacts": [..], "tos_agreed": BOOL,
 *                 "tos_url": STR|null, "ca_file": STR|null,
 *                 "http_proxy": STR|null (absent from older files),
 *                 "auto_restart": BOOL, "activation_delay": SEC,
 *                 "retry_delay": SEC, "renew_pct": N, "renew_left": SEC,
 *                 "notify_cmd": [..]|null, "defined_at": STR,
 *                 "state_config": STR,
 *                 "profile": STR|null, "profile_mandatory": BOOL,
 *                 "challenges": [..]|null (these three absent from
 *                 older files: no profile, http-01),
 *                 "server_eab": [{"kid": STR|null, "file": STR|null,
 *                                 "inline": BOOL}, ..],
 *                 "challenges": [..]|null, "dns_cmd": [..]|null,
 *                 "dns_wait": SEC, "dns_resolver": STR|null,
 *                 "profile": STR|null, "profile_mandatory": BOOL,
 *                 "previous": {"file", "serial", "issuer",
 *                              "not_before": SEC, "not_after": SEC}
 *                              (only while one stands in)}, ...]}
 * (challenges, dns_*, profile* absent from older files: http-01 only)
 * server_eab has one entry per server, in the same order (ACMEEAB may be
 * given per ACMEServer URL); eab_kid, eab_file and eab_inline are those
 * of the first server. Older files have no server_eab: every server
 * then has the first one's.
 * state_config is the fingerprint the job keeps state/<key>.json under
 * (a hash; it covers the EAB HMAC only as a digest), so the command
 * reads the job's state as the job does; absent from older files. */
#ifndef ACME_CONF_H
#define ACME_CONF_H

#include <sys/types.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

#define ACME_FN_CONF "config.json"
#define ACME_CONF_VERSION 1

/* The EAB settings for one CA: the key id and where its HMAC is. */
typedef struct {
    const char *kid;                 /* NULL: no EAB */
    const char *file;                /* ACMEEAB file:PATH, or NULL */
    int inline_hmac;                 /* the HMAC is in httpd.conf itself */
} acme_conf_eab_t;

typedef struct {
    const char *key;                 /* the store key (staging/<key>/...) */
    const char *name;                /* first name, for messages */
    apr_array_header_t *names;       /* const char*, lower case */
    apr_array_header_t *key_types;   /* acme_key_type_e */
    apr_array_header_t *servers;     /* ACMEServer URLs, failover order */
    const char *eab_kid;             /* NULL: no EAB */
    const char *eab_file;            /* ACMEEAB file:PATH, or NULL */
    int eab_inline;                  /* the HMAC is in httpd.conf itself */
    apr_array_header_t *contacts;    /* "mailto:..." */
    int tos_agreed;
    const char *tos_url;
    const char *ca_file;
    const char *http_proxy;          /* ACMEHttpProxy: URL, "" (none) or
                                      * NULL (the environment's) */
    int auto_restart;
    apr_interval_time_t activation_delay;
    apr_interval_time_t retry_delay;
    int renew_pct;
    apr_interval_time_t renew_left;
    apr_array_header_t *notify_cmd;  /* argv, or NULL */
    /* A configured SSLCertificateFile serving until the module's own
     * certificate is live (as mod_ssl was handed it at the start that
     * wrote the file); previous_file NULL: none. */
    const char *previous_file;
    const char *previous_serial;
    const char *previous_issuer;
    apr_time_t previous_not_before;
    apr_time_t previous_not_after;
    const char *defined_at;          /* "file:line" */
    const char *state_config;        /* the job's state fingerprint, or
                                      * NULL (an older config.json) */
    apr_array_header_t *server_eab;  /* acme_conf_eab_t, one per server */
    const char *profile;             /* ACMEProfile, or NULL */
    int profile_mandatory;
    apr_array_header_t *challenges;  /* ACMEChallenges, or NULL: http-01 */
    apr_array_header_t *dns_cmd;     /* ACMEDNSCmd argv, or NULL */
    apr_interval_time_t dns_wait;    /* ACMEDNSWait */
    const char *dns_resolver;        /* its resolver, or NULL */
} acme_conf_domain_t;

typedef struct {
    apr_time_t written;
    const char *store;               /* ACMEStoreDir as the module uses it */
    long pid;                        /* the parent that wrote it */
    const char *user;                /* the server's User */
    uid_t uid;
    gid_t gid;
    apr_array_header_t *domains;     /* acme_conf_domain_t* */
} acme_conf_t;

/* The document for c. A new reference. */
json_t *acme_conf_to_json(const acme_conf_t *c);

/* Parses len bytes of config.json into a new *c (in p). APR_EINVAL when
 * it is not what acme_conf_to_json writes (wrong types, unknown key
 * type, another version), with *why saying what (in p). */
apr_status_t acme_conf_parse(acme_conf_t **c, const char **why,
                             apr_pool_t *p, const char *data,
                             apr_size_t len);

/* The EAB settings d uses at server_url: those of that ACMEServer URL;
 * for a URL d no longer lists, those of its first server. */
const acme_conf_eab_t *acme_conf_eab(const acme_conf_domain_t *d,
                                     const char *server_url);

/* The domain with this key or one of its names (case-insensitive);
 * NULL when none. */
acme_conf_domain_t *acme_conf_find(const acme_conf_t *c, const char *name);

#endif
