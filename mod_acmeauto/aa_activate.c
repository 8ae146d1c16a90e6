/* Activation: the parent (root) turns staged certificates into live ones
 * at start-up and graceful restart, after checking them; it also provides
 * the self-signed fallback and gives mod_ssl its files. */
#include <string.h>
#include <unistd.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <unixd.h>

#include "aa_activate.h"
#include "aa_notify.h"
#include "acme_cert.h"
#include "acme_json.h"
#include "acme_schedule.h"
#include "acme_util.h"

APLOG_USE_MODULE(acmeauto);

/* Areas the unprivileged child writes to. */
static const acme_store_area_e child_areas[] = {
    ACME_AREA_ACCOUNTS, ACME_AREA_CHALLENGES, ACME_AREA_STAGING,
    ACME_AREA_STATE
};

apr_status_t aa_store_prepare(aa_global_t *g, apr_pool_t *p, server_rec *s)
{
    apr_status_t rv;
    apr_size_t i;

    acme_store_open(&g->store, g->pool, g->store_dir);
    if ((rv = acme_store_create_dirs(g->store, p)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, AA_LOGNO(00101)
                     "cannot create the store at %s: check ACMEStoreDir",
                     g->store_dir);
        return rv;
    }
    if (geteuid() != 0) {
        return APR_SUCCESS;
    }
    for (i = 0; i < sizeof(child_areas) / sizeof(child_areas[0]); i++) {
        const char *dir = acme_store_path(p, g->store, child_areas[i], NULL,
                                          NULL);
        if (chown(dir, ap_unixd_config.user_id, ap_unixd_config.group_id)) {
            rv = APR_FROM_OS_ERROR(errno);
            ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, AA_LOGNO(00102)
                         "cannot hand %s to the server's User", dir);
            return rv;
        }
    }
    return APR_SUCCESS;
}

static const char *cert_file(apr_pool_t *p, aa_global_t *g,
                             acme_store_area_e area, const char *name,
                             acme_key_type_e t, const char *kind)
{
    return acme_store_path(p, g->store, area, name,
                           apr_psprintf(p, "%s.%s.pem", acme_key_type_name(t),
                                        kind));
}

/* Loads chain and key of one certificate set member. */
static apr_status_t load_pair(apr_array_header_t **chain, EVP_PKEY **key,
                              const char **cert_pem, apr_size_t *cert_len,
                              const char **key_pem, apr_size_t *key_len,
                              apr_pool_t *p, const char *cert_path,
                              const char *key_path)
{
    char *c, *k;
    apr_status_t rv;

    if ((rv = acme_store_read(&c, cert_len, cert_path, ACME_STORE_FILE_MAX,
                              p)) != APR_SUCCESS
        || (rv = acme_store_read(&k, key_len, key_path, ACME_STORE_FILE_MAX,
                                 p)) != APR_SUCCESS
        || (rv = acme_cert_chain_parse(chain, p, c, *cert_len)) != APR_SUCCESS
        || (rv = acme_key_from_pem(key, p, k, *key_len)) != APR_SUCCESS) {
        return rv;
    }
    *cert_pem = c;
    *key_pem = k;
    return APR_SUCCESS;
}

/* Checks one key type's certificate in an area; *why on failure. */
static apr_status_t check_member(const char **why, acme_cert_info_t **info,
                                 aa_global_t *g, apr_pool_t *p,
                                 acme_store_area_e area, const aa_domain_t *d,
                                 acme_key_type_e t,
                                 const apr_array_header_t *names,
                                 const char **ari_id)
{
    apr_array_header_t *chain;
    EVP_PKEY *key;
    const char *cp, *kp;
    apr_size_t cl, kl;
    apr_status_t rv;

    rv = load_pair(&chain, &key, &cp, &cl, &kp, &kl, p,
                   cert_file(p, g, area, d->name, t, "cert"),
                   cert_file(p, g, area, d->name, t, "key"));
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "the %s certificate or key is missing or "
                            "unreadable", acme_key_type_name(t));
        return rv;
    }
    if ((rv = acme_cert_check(why, p, chain, key, names,
                              apr_time_now())) != APR_SUCCESS) {
        return rv;
    }
    if (ari_id && acme_cert_ari_id(ari_id, p, chain) != APR_SUCCESS) {
        *ari_id = NULL;
    }
    return info ? acme_cert_info(info, p, chain) : APR_SUCCESS;
}

static apr_status_t copy_file(apr_pool_t *p, const char *from, const char *to,
                              apr_fileperms_t perms)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = acme_store_read(&data, &len, from, ACME_STORE_FILE_MAX, p);

    return rv == APR_SUCCESS ? acme_store_write(to, data, len, perms, p) : rv;
}

static void reject_staged(aa_global_t *g, apr_pool_t *p, server_rec *s,
                          const aa_domain_t *d, const char *why)
{
    const char *from = acme_store_path(p, g->store, ACME_AREA_STAGING,
                                       d->name, NULL);
    const char *to = acme_store_path(p, g->store, ACME_AREA_REJECTED,
        apr_psprintf(p, "%s.%" APR_TIME_T_FMT, d->name,
                     apr_time_sec(apr_time_now())), NULL);

    apr_file_rename(from, to, p);
    /* Word for the job, which counts it as a failed attempt (backoff)
     * rather than ordering again at once. */
    acme_store_write(acme_store_path(p, g->store, ACME_AREA_STATE,
                     apr_pstrcat(p, d->name, ".rejected", NULL), NULL),
                     why, strlen(why), 0644, p);
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, AA_LOGNO(00103)
                 "%s: the new certificate was not activated: %s; it was "
                 "kept in %s and the current certificate stays in use",
                 d->name, why, to);
}

/* ACMEActivationDelay: while the current certificate is valid, a new one
 * waits until the CA's OCSP responder surely knows it. */
static int held_back(apr_pool_t *p, server_rec *s, const aa_domain_t *d,
                     const json_t *meta)
{
    apr_time_t staged = apr_time_from_sec(json_integer_value(
        json_object_get(meta, "staged")));
    apr_time_t release = staged + d->activation_delay;

    if (!d->is_live || d->activation_delay <= 0 || apr_time_now() >= release) {
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, AA_LOGNO(00108)
                 "%s: the new certificate waits %s more before activation "
                 "(ACMEActivationDelay)", d->name,
                 acme_duration_str(p, release - apr_time_now()));
    return 1;
}

/* Each file is replaced atomically; should we die between two of them,
 * the staged set is still there and is copied again at the next start. */
static apr_status_t copy_set_to_live(aa_global_t *g, apr_pool_t *p,
                                     const aa_domain_t *d, const char *staged)
{
    const apr_array_header_t *types = d->spec.key_types;
    apr_status_t rv;
    int i;

    rv = acme_store_mkdirs(acme_store_path(p, g->store, ACME_AREA_LIVE,
                                           d->name, NULL), 0700, p);
    for (i = 0; rv == APR_SUCCESS && i < types->nelts; i++) {
        acme_key_type_e t = APR_ARRAY_IDX(types, i, acme_key_type_e);
        rv = copy_file(p, cert_file(p, g, ACME_AREA_STAGING, d->name, t, "key"),
                       cert_file(p, g, ACME_AREA_LIVE, d->name, t, "key"),
                       0600);
        if (rv == APR_SUCCESS) {
            rv = copy_file(p, cert_file(p, g, ACME_AREA_STAGING, d->name, t,
                                        "cert"),
                           cert_file(p, g, ACME_AREA_LIVE, d->name, t, "cert"),
                           0644);
        }
    }
    /* What the live set was made for: names, key types, CA. */
    return rv != APR_SUCCESS ? rv
        : copy_file(p, staged, acme_store_path(p, g->store, ACME_AREA_LIVE,
                                               d->name, "live.json"), 0644);
}

/* Staged set -> live, all key types or none. */
static void activate_staged(aa_global_t *g, apr_pool_t *p, server_rec *s,
                            const aa_domain_t *d)
{
    const char *staged = acme_store_path(p, g->store, ACME_AREA_STAGING,
                                         d->name, "staged.json");
    const char *live_dir = acme_store_path(p, g->store, ACME_AREA_LIVE,
                                           d->name, NULL);
    const apr_array_header_t *types = d->spec.key_types;
    const char *why;
    json_t *meta;
    apr_status_t rv;
    int i;

    if (acme_store_read_json(&meta, staged, p) != APR_SUCCESS) {
        return;
    }
    if (held_back(p, s, d, meta)) {
        return;
    }
    for (i = 0; i < types->nelts; i++) {
        acme_key_type_e t = APR_ARRAY_IDX(types, i, acme_key_type_e);
        if (check_member(&why, NULL, g, p, ACME_AREA_STAGING, d, t,
                         d->names, NULL) != APR_SUCCESS) {
            reject_staged(g, p, s, d, why);
            return;
        }
    }
    if ((rv = copy_set_to_live(g, p, d, staged)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AA_LOGNO(00105)
                     "%s: could not copy the new certificate into %s",
                     d->name, live_dir);
        return;
    }
    acme_store_remove_dir(acme_store_path(p, g->store, ACME_AREA_STAGING,
                                          d->name, NULL), p);
    aa_notify_mark_installed(g, d, p);
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, AA_LOGNO(00104)
                 "%s: new certificate activated for %s", d->name,
                 acme_str_join(p, d->names, ", "));
}

/* A certificate from a CA no longer in ACMEServer is replaced. */
static int issued_by_configured_ca(aa_global_t *g, apr_pool_t *p,
                                   server_rec *s, const aa_domain_t *d)
{
    const char *server;
    json_t *j;
    int i;

    if (acme_store_read_json(&j, acme_store_path(p, g->store, ACME_AREA_LIVE,
                             d->name, "live.json"), p) != APR_SUCCESS
        || !(server = acme_json_str(j, "server"))) {
        return 1;    /* unknown origin: judge by names and dates only */
    }
    for (i = 0; i < d->servers->nelts; i++) {
        if (!strcmp(server, APR_ARRAY_IDX(d->servers, i, const char *))) {
            return 1;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, AA_LOGNO(00109)
                 "%s: the live certificate comes from %s, which is no longer "
                 "in ACMEServer; it keeps serving until its replacement is "
                 "ready", d->name, server);
    return 0;
}

/* One key type's live certificate: 0 when it cannot be served; else
 * records it and returns 1, or 2 when it also covers every name. */
static int assess_type(aa_global_t *g, apr_pool_t *p, aa_domain_t *d,
                       acme_key_type_e t)
{
    apr_array_header_t *no_names = apr_array_make(p, 1, sizeof(char *));
    acme_cert_info_t *info;
    const char *why, *ari_id;
    apr_time_t at, expiring;
    int j;

    if (check_member(&why, &info, g, p, ACME_AREA_LIVE, d, t, no_names,
                     &ari_id) != APR_SUCCESS) {
        return 0;
    }
    APR_ARRAY_PUSH(d->live_types, acme_key_type_e) = t;
    if (ari_id) {
        apr_table_set(d->ari_ids, acme_key_type_name(t), ari_id);
    }
    at = acme_renew_time(info->not_before, info->not_after, d->renew_pct,
                         d->renew_left);
    expiring = acme_renew_time(info->not_before, info->not_after,
                               ACME_EMERGENCY_PCT, 0);
    if (!d->expiring_at || expiring < d->expiring_at) {
        d->expiring_at = expiring;
    }
    if (!d->renew_at || at < d->renew_at) {
        d->renew_at = at;
    }
    for (j = 0; j < d->names->nelts; j++) {
        if (!acme_cert_covers(info, APR_ARRAY_IDX(d->names, j, const char *))) {
            return 1;
        }
    }
    return 2;
}

static int is_configured(const aa_domain_t *d, acme_key_type_e t)
{
    int i;

    for (i = 0; i < d->spec.key_types->nelts; i++) {
        if (APR_ARRAY_IDX(d->spec.key_types, i, acme_key_type_e) == t) {
            return 1;
        }
    }
    return 0;
}

/* Which key types have a live certificate we may serve (key matches,
 * dates valid, issuer present), and when to renew: when ACMERenewWindow
 * says, or at once when a key type is missing, a name is no longer
 * covered or the CA changed. Until then the old certificate keeps serving,
 * even one of a key type no longer configured when it is all there is. */
static void assess_live(aa_global_t *g, apr_pool_t *p, server_rec *s,
                        aa_domain_t *d)
{
    int t, complete = 1;

    d->live_types = apr_array_make(g->pool, ACME_KEY_EC384,
                                   sizeof(acme_key_type_e));
    d->ari_ids = apr_table_make(g->pool, ACME_KEY_EC384);
    d->expiring_at = 0;
    d->renew_at = 0;
    for (t = ACME_KEY_RSA2048; t <= ACME_KEY_EC384; t++) {
        if (is_configured(d, t) && assess_type(g, p, d, t) != 2) {
            complete = 0;
        }
    }
    for (t = ACME_KEY_RSA2048; !d->live_types->nelts && t <= ACME_KEY_EC384;
         t++) {
        if (!is_configured(d, t)) {
            assess_type(g, p, d, t);
        }
    }
    d->is_live = d->live_types->nelts > 0;
    if (d->is_live && !issued_by_configured_ca(g, p, s, d)) {
        complete = 0;
    }
    if (!complete) {
        d->renew_at = 0;
    }
}

static apr_status_t ensure_fallback(aa_global_t *g, apr_pool_t *p,
                                    const aa_domain_t *d)
{
    const char *dir = acme_store_path(p, g->store, ACME_AREA_FALLBACK,
                                      d->name, NULL);
    const char *cert = cert_file(p, g, ACME_AREA_FALLBACK, d->name,
                                 ACME_KEY_EC256, "cert");
    const char *key = cert_file(p, g, ACME_AREA_FALLBACK, d->name,
                                ACME_KEY_EC256, "key");
    EVP_PKEY *pkey;
    const char *cert_pem, *key_pem;
    apr_status_t rv;

    if (acme_store_exists(cert, p) && acme_store_exists(key, p)) {
        return APR_SUCCESS;
    }
    if ((rv = acme_store_mkdirs(dir, 0700, p)) != APR_SUCCESS
        || (rv = acme_key_generate(&pkey, p, ACME_KEY_EC256)) != APR_SUCCESS
        || (rv = acme_key_to_pem(&key_pem, p, pkey)) != APR_SUCCESS
        || (rv = acme_cert_self_signed(&cert_pem, p, pkey, d->names,
                                       30)) != APR_SUCCESS
        || (rv = acme_store_write(key, key_pem, strlen(key_pem), 0600,
                                  p)) != APR_SUCCESS) {
        return rv;
    }
    return acme_store_write(cert, cert_pem, strlen(cert_pem), 0644, p);
}

void aa_activate_all(aa_global_t *g, apr_pool_t *p, server_rec *s,
                     int quiet)
{
    apr_status_t rv;
    int i;

    for (i = 0; i < g->domains->nelts; i++) {
        aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        assess_live(g, p, s, d);     /* what is live decides any delay */
        activate_staged(g, p, s, d);
        assess_live(g, p, s, d);
        if (!d->is_live && (rv = ensure_fallback(g, p, d)) != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AA_LOGNO(00106)
                         "%s: cannot create the fallback certificate",
                         d->name);
        }
        if (quiet) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, AA_LOGNO(00107)
                     "%s: %s", d->name, d->is_live
                     ? (d->renew_at ? "certificate is live"
                        : "certificate is live; a new one is needed for "
                          "the configured names or key types")
                     : "no valid certificate yet; serving a self-signed "
                       "fallback and answering 503 until one is obtained");
    }
}

static int add_files(server_rec *s, apr_pool_t *p,
                     apr_array_header_t *cert_files,
                     apr_array_header_t *key_files, int fallback)
{
    aa_srv_conf_t *sc = aa_srv_conf(s);
    aa_global_t *g = aa_global();
    aa_domain_t *d = sc ? sc->served : NULL;
    const apr_array_header_t *types;
    int i;

    if (!d || !g || !g->store || (fallback == d->is_live)) {
        return DECLINED;
    }
    if (fallback) {
        APR_ARRAY_PUSH(cert_files, const char *) = cert_file(p, g,
            ACME_AREA_FALLBACK, d->name, ACME_KEY_EC256, "cert");
        APR_ARRAY_PUSH(key_files, const char *) = cert_file(p, g,
            ACME_AREA_FALLBACK, d->name, ACME_KEY_EC256, "key");
        return OK;
    }
    types = d->live_types;
    for (i = 0; i < types->nelts; i++) {
        acme_key_type_e t = APR_ARRAY_IDX(types, i, acme_key_type_e);
        APR_ARRAY_PUSH(cert_files, const char *) = cert_file(p, g,
            ACME_AREA_LIVE, d->name, t, "cert");
        APR_ARRAY_PUSH(key_files, const char *) = cert_file(p, g,
            ACME_AREA_LIVE, d->name, t, "key");
    }
    return OK;
}

int aa_add_cert_files(server_rec *s, apr_pool_t *p,
                      apr_array_header_t *cert_files,
                      apr_array_header_t *key_files)
{
    return add_files(s, p, cert_files, key_files, 0);
}

int aa_add_fallback_cert_files(server_rec *s, apr_pool_t *p,
                               apr_array_header_t *cert_files,
                               apr_array_header_t *key_files)
{
    return add_files(s, p, cert_files, key_files, 1);
}
