/* Activation: the parent (root) turns staged certificates into live ones
 * at start-up and graceful restart, after checking them; it also provides
 * the self-signed fallback and gives mod_ssl its files.
 *
 * The staged set is the User's: it is read once through acme_safe (no
 * links, no FIFOs, one hard link, the User's, bounded), checked, and the
 * very bytes that were checked are written into live/. Root writes only
 * in its own areas (live/, rejected/, fallback/, handoff/); its verdict
 * goes to handoff/<key>.json, from where the job cleans up staging/. */
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>

#include "aa_activate.h"
#include "aa_deploy.h"
#include "aa_store.h"
#include "acme_cert.h"
#include "acme_handoff.h"
#include "acme_json.h"
#include "acme_schedule.h"
#include "acme_util.h"
#include "acme_view.h"

APLOG_USE_MODULE(acmeauto);

/* Rejected sets kept per domain, newest first. */
#define AA_REJECTED_KEEP 5

typedef struct {
    char *cert, *key;
    apr_size_t cert_len, key_len;
} pem_pair_t;

/* A staged set as root read it, once. */
typedef struct {
    char *meta_data;
    apr_size_t meta_len;
    json_t *meta;
    const char *digest;
    pem_pair_t pair[ACME_KEY_EC384 + 1];
    const char *why;            /* set: the set cannot be used, and why */
} staged_set_t;

unsigned int aa_staged_hash(const char *meta, apr_size_t len)
{
    apr_ssize_t hlen = (apr_ssize_t)len;

    return apr_hashfunc_default(meta, &hlen);
}

int aa_staged_seen(const aa_domain_t *d, const char *meta, apr_size_t len)
{
    return len == d->staged_seen_len
        && aa_staged_hash(meta, len) == d->staged_seen_hash;
}

static void note_seen(aa_domain_t *d, const staged_set_t *set)
{
    d->staged_seen_hash = aa_staged_hash(set->meta_data, set->meta_len);
    d->staged_seen_len = set->meta_len;
}

static const char *pem_name(apr_pool_t *p, acme_key_type_e t,
                            const char *kind)
{
    return acme_store_pem_name(p, acme_key_type_name(t), kind);
}

/* Reads one key type's chain and key from an open domain directory. */
static apr_status_t read_pair(pem_pair_t *pp, const char **why, int dir,
                              uid_t owner, acme_key_type_e t, apr_pool_t *p)
{
    const char *names[2] = { pem_name(p, t, "cert"), pem_name(p, t, "key") };
    char **data[2] = { &pp->cert, &pp->key };
    apr_size_t *len[2] = { &pp->cert_len, &pp->key_len };
    acme_safe_e safe;
    apr_status_t rv;
    int i;

    for (i = 0; i < 2; i++) {
        rv = acme_safe_read(data[i], len[i], &safe, dir, names[i], owner,
                            ACME_STORE_FILE_MAX, p);
        if (rv != APR_SUCCESS) {
            *why = apr_psprintf(p, "%s %s", names[i], acme_safe_reason(safe));
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* APR_ENOENT: nothing (complete) is staged. Otherwise set->why tells
 * whether what is staged can be used. */
static apr_status_t read_staged_set(staged_set_t *set, aa_global_t *g,
                                    apr_pool_t *p, server_rec *s,
                                    const aa_domain_t *d)
{
    const apr_array_header_t *types = d->spec.key_types;
    acme_safe_e safe;
    int dir, i;

    memset(set, 0, sizeof(*set));
    if (aa_store_open_domain(&dir, g, ACME_AREA_STAGING, d->key, s)
        != APR_SUCCESS) {
        return APR_ENOENT;
    }
    if (acme_safe_read(&set->meta_data, &set->meta_len, &safe, dir,
                       ACME_FN_STAGED, g->user, ACME_STORE_META_MAX, p)
        != APR_SUCCESS) {
        if (safe != ACME_SAFE_MISSING) {
            aa_store_log_refusal(s, apr_psprintf(p, "staging/%s/%s", d->key,
                                 ACME_FN_STAGED), safe);
        }
        close(dir);
        return APR_ENOENT;
    }
    set->digest = acme_staged_digest(p, set->meta_data, set->meta_len);
    set->meta = acme_json_parse(p, set->meta_data, set->meta_len);
    if (!json_is_object(set->meta)) {
        set->why = "staged.json is not a JSON object";
    }
    for (i = 0; !set->why && i < types->nelts; i++) {
        acme_key_type_e t = APR_ARRAY_IDX(types, i, acme_key_type_e);
        pem_pair_t *pp = &set->pair[t];
        if (read_pair(pp, &set->why, dir, g->user, t, p) == APR_SUCCESS
            && (!acme_staged_file_ok(set->meta, pem_name(p, t, "cert"),
                                     pp->cert, pp->cert_len, p)
                || !acme_staged_file_ok(set->meta, pem_name(p, t, "key"),
                                        pp->key, pp->key_len, p))) {
            set->why = apr_psprintf(p, "the %s files differ from what "
                                    "staged.json lists",
                                    acme_key_type_name(t));
        }
    }
    close(dir);
    return APR_SUCCESS;
}

/* Checks one chain and key as read; *why on failure. */
static apr_status_t check_pair(const char **why, acme_cert_info_t **info,
                               const char **ari_id, apr_pool_t *p,
                               const pem_pair_t *pp, acme_key_type_e t,
                               const apr_array_header_t *names)
{
    apr_array_header_t *chain;
    EVP_PKEY *key;
    apr_status_t rv;

    if ((rv = acme_cert_chain_parse(&chain, p, pp->cert, pp->cert_len))
        != APR_SUCCESS
        || (rv = acme_key_from_pem(&key, p, pp->key, pp->key_len))
           != APR_SUCCESS) {
        *why = apr_psprintf(p, "the %s certificate or key cannot be parsed",
                            acme_key_type_name(t));
        return rv;
    }
    if (acme_key_type_of(key) != t) {
        *why = apr_psprintf(p, "the %s key is of another type",
                            acme_key_type_name(t));
        return APR_EINVAL;
    }
    if ((rv = acme_cert_check(why, p, chain, key, names, apr_time_now()))
        != APR_SUCCESS) {
        return rv;
    }
    if (ari_id && acme_cert_ari_id(ari_id, p, chain) != APR_SUCCESS) {
        *ari_id = NULL;
    }
    return info ? acme_cert_info(info, p, chain) : APR_SUCCESS;
}

/* The parent's verdict, for the job (and for the next generation). */
static void write_handoff(aa_global_t *g, apr_pool_t *p, server_rec *s,
                          const aa_domain_t *d, const staged_set_t *set,
                          const char *outcome)
{
    acme_handoff_t h = { set->digest, outcome, set->why, apr_time_now() };
    json_t *j = acme_json_pool_own(p, acme_handoff_to_json(&h));
    char *text = j ? json_dumps(j, JSON_SORT_KEYS) : NULL;
    apr_status_t rv = text ? aa_store_write_in(g, ACME_AREA_HANDOFF,
        acme_store_domain_file(p, d->key), text, strlen(text), 0644)
        : APR_ENOMEM;

    free(text);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AA_LOGNO(00112)
                     "%s: cannot record the activation in %s/handoff; the "
                     "background job will not see it", d->name,
                     g->store_dir);
    }
}

/* The last verdict was about this very set. */
static int already_judged(aa_global_t *g, apr_pool_t *p,
                          const aa_domain_t *d, const staged_set_t *set)
{
    acme_handoff_t h;
    char *data;
    apr_size_t len;

    return aa_store_read_in(&data, &len, g, ACME_AREA_HANDOFF,
                            acme_store_domain_file(p, d->key),
                            ACME_STORE_META_MAX, p) == APR_SUCCESS
        && acme_handoff_parse(&h, p, data, len) == APR_SUCCESS
        && !strcmp(h.staged, set->digest);
}

/* Only the newest AA_REJECTED_KEEP entries of rejected/ for key stay. */
static void prune_rejected(aa_global_t *g, apr_pool_t *p, const char *key)
{
    apr_array_header_t *mine = apr_array_make(p, 8, sizeof(const char *));
    const char *prefix = apr_pstrcat(p, key, ".", NULL);
    apr_size_t plen = strlen(prefix);
    struct dirent *e;
    DIR *dir;
    int fd = dup(g->area_fd[ACME_AREA_REJECTED]), i;

    if (fd < 0 || !(dir = fdopendir(fd))) {
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    rewinddir(dir);
    while ((e = readdir(dir)) != NULL) {
        /* <key>.<20-digit time>.<random>: one more dot is another key */
        if (!strncmp(e->d_name, prefix, plen)
            && strlen(e->d_name + plen) == 20 + 1 + 8
            && e->d_name[plen + 20] == '.') {
            APR_ARRAY_PUSH(mine, const char *) = apr_pstrdup(p, e->d_name);
        }
    }
    closedir(dir);
    mine = acme_str_sorted(p, mine);    /* oldest first */
    for (i = 0; i < mine->nelts - AA_REJECTED_KEEP; i++) {
        acme_safe_remove(g->area_fd[ACME_AREA_REJECTED],
                         APR_ARRAY_IDX(mine, i, const char *));
    }
}

/* Keeps a copy of what was read (for the administrator) in a root-owned
 * directory of a name of its own, and tells the job. */
static void reject_staged(aa_global_t *g, apr_pool_t *p, server_rec *s,
                          aa_domain_t *d, staged_set_t *set)
{
    unsigned char rnd[4];
    const char *name;
    acme_safe_e why;
    int dir = -1, t;

    apr_generate_random_bytes(rnd, sizeof(rnd));
    name = apr_psprintf(p, "%s.%020" APR_INT64_T_FMT ".%02x%02x%02x%02x",
                        d->key, (apr_int64_t)apr_time_now(), rnd[0], rnd[1],
                        rnd[2], rnd[3]);
    if (g->area_fd[ACME_AREA_REJECTED] >= 0
        && acme_safe_mkdir(&dir, &why, g->area_fd[ACME_AREA_REJECTED], name,
                           0700, geteuid(), 0) == APR_SUCCESS) {
        acme_safe_write(dir, ACME_FN_STAGED, set->meta_data, set->meta_len,
                        0600, (uid_t)-1, (gid_t)-1);
        for (t = ACME_KEY_RSA2048; t <= ACME_KEY_EC384; t++) {
            pem_pair_t *pp = &set->pair[t];
            if (pp->cert) {
                acme_safe_write(dir, pem_name(p, t, "cert"), pp->cert,
                                pp->cert_len, 0600, (uid_t)-1, (gid_t)-1);
            }
            if (pp->key) {
                acme_safe_write(dir, pem_name(p, t, "key"), pp->key,
                                pp->key_len, 0600, (uid_t)-1, (gid_t)-1);
            }
        }
        close(dir);
        prune_rejected(g, p, d->key);
    }
    write_handoff(g, p, s, d, set, ACME_HANDOFF_REJECTED);
    note_seen(d, set);
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, AA_LOGNO(00103)
                 "%s: the new certificate was not activated: %s; a copy is "
                 "in %s/rejected/%s and the current certificate stays in "
                 "use", d->name, set->why, g->store_dir, name);
}

/* ACMEActivationDelay: while the current certificate is valid, a new one
 * waits until the CA's OCSP responder surely knows it. A staging time in
 * the future (a clock that jumped, a forged file) counts as now. */
static int held_back(apr_pool_t *p, server_rec *s, aa_domain_t *d,
                     const json_t *meta)
{
    apr_time_t now = apr_time_now();
    apr_time_t staged = acme_time_clamp(acme_time_from_stored(
        json_integer_value(json_object_get(meta, "staged"))), 0, now);
    apr_time_t release = acme_time_add(staged, d->activation_delay);

    if (!d->is_live || d->activation_delay <= 0 || now >= release) {
        return 0;
    }
    d->held_until = release;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, AA_LOGNO(00108)
                 "%s: the new certificate waits %s more before activation "
                 "(ACMEActivationDelay)", d->name,
                 acme_duration_str(p, release - now));
    return 1;
}

/* The chain without the certificate: what follows the first PEM block
 * (for ACMEDeployCmd, as software like HAProxy or an OCSP configuration
 * may want it apart). Empty when there is none. */
static const char *chain_of(const char *pem, apr_size_t len,
                            apr_size_t *chain_len)
{
    static const char end_line[] = "-----END CERTIFICATE-----";
    const char *end = pem ? memmem(pem, len, end_line, sizeof(end_line) - 1)
                          : NULL;
    const char *next = end ? memmem(end, len - (end - pem), "-----BEGIN ",
                                    11) : NULL;

    *chain_len = next ? len - (next - pem) : 0;
    return next ? next : "";
}

/* Each file is replaced atomically; should we die between two of them,
 * the staged set is still there and is installed again at the next
 * start (the verdict is written last). */
static apr_status_t install_set(aa_global_t *g, apr_pool_t *p,
                                const aa_domain_t *d, const staged_set_t *set)
{
    const apr_array_header_t *types = d->spec.key_types;
    acme_safe_e why;
    apr_status_t rv;
    int dir, i;

    if (g->area_fd[ACME_AREA_LIVE] < 0) {
        return APR_ENOENT;
    }
    rv = acme_safe_mkdir(&dir, &why, g->area_fd[ACME_AREA_LIVE], d->key,
                         0700, geteuid(), 0);
    for (i = 0; rv == APR_SUCCESS && i < types->nelts; i++) {
        acme_key_type_e t = APR_ARRAY_IDX(types, i, acme_key_type_e);
        const pem_pair_t *pp = &set->pair[t];
        rv = acme_safe_write(dir, pem_name(p, t, "key"), pp->key,
                             pp->key_len, 0600, (uid_t)-1, (gid_t)-1);
        if (rv == APR_SUCCESS) {
            rv = acme_safe_write(dir, pem_name(p, t, "cert"), pp->cert,
                                 pp->cert_len, 0644, (uid_t)-1, (gid_t)-1);
        }
        if (rv == APR_SUCCESS) {
            apr_size_t clen;
            const char *chain = chain_of(pp->cert, pp->cert_len, &clen);
            rv = acme_safe_write(dir, pem_name(p, t, "chain"), chain, clen,
                                 0644, (uid_t)-1, (gid_t)-1);
        }
    }
    /* What the live set was made for: names, key types, CA. */
    if (rv == APR_SUCCESS) {
        rv = acme_safe_write(dir, ACME_FN_LIVE, set->meta_data,
                             set->meta_len, 0644, (uid_t)-1, (gid_t)-1);
    }
    if (dir >= 0) {
        close(dir);
    }
    return rv;
}

/* Staged set -> live, all key types or none. */
static void activate_staged(aa_global_t *g, apr_pool_t *p, server_rec *s,
                            aa_domain_t *d)
{
    const apr_array_header_t *types = d->spec.key_types;
    staged_set_t set;
    apr_status_t rv;
    int i;

    d->held_until = 0;
    if (read_staged_set(&set, g, p, s, d) != APR_SUCCESS) {
        return;
    }
    if (already_judged(g, p, d, &set)) {
        note_seen(d, &set);    /* the job has not cleaned up yet */
        return;
    }
    if (!set.why && held_back(p, s, d, set.meta)) {
        note_seen(d, &set);
        return;
    }
    for (i = 0; !set.why && i < types->nelts; i++) {
        acme_key_type_e t = APR_ARRAY_IDX(types, i, acme_key_type_e);
        check_pair(&set.why, NULL, NULL, p, &set.pair[t], t, d->names);
    }
    if (set.why) {
        reject_staged(g, p, s, d, &set);
        return;
    }
    if ((rv = install_set(g, p, d, &set)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AA_LOGNO(00105)
                     "%s: could not write the new certificate into "
                     "%s/live/%s; the current one stays in use", d->name,
                     g->store_dir, d->key);
        return;
    }
    write_handoff(g, p, s, d, &set, ACME_HANDOFF_INSTALLED);
    note_seen(d, &set);
    d->deploy_due = 1;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, AA_LOGNO(00104)
                 "%s: new certificate activated for %s", d->name,
                 acme_str_join(p, d->names, ", "));
}

/* A certificate from a CA no longer in ACMEServer is replaced. */
static int issued_by_configured_ca(apr_pool_t *p, server_rec *s,
                                   const aa_domain_t *d, int dir)
{
    const char *server;
    acme_safe_e why;
    char *data;
    apr_size_t len;
    json_t *j;
    int i;

    if (acme_safe_read(&data, &len, &why, dir, ACME_FN_LIVE, geteuid(),
                       ACME_STORE_META_MAX, p) != APR_SUCCESS
        || !(j = acme_json_parse(p, data, len))
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
/* What the status page shows of the first servable certificate. */
static void note_cert(aa_global_t *g, aa_domain_t *d,
                      const acme_cert_info_t *info)
{
    if (d->cert_serial) {
        return;
    }
    d->cert_serial = apr_pstrdup(g->pool, info->serial_hex);
    d->cert_issuer = apr_pstrdup(g->pool, info->issuer);
    d->cert_not_before = info->not_before;
    d->cert_not_after = info->not_after;
}

static int assess_type(aa_global_t *g, apr_pool_t *p, aa_domain_t *d,
                       int dir, acme_key_type_e t)
{
    apr_array_header_t *no_names = apr_array_make(p, 1, sizeof(char *));
    acme_cert_info_t *info;
    const char *why, *ari_id;
    apr_time_t at, expiring;
    pem_pair_t pp;
    int j;

    if (read_pair(&pp, &why, dir, geteuid(), t, p) != APR_SUCCESS
        || check_pair(&why, &info, &ari_id, p, &pp, t, no_names)
           != APR_SUCCESS) {
        return 0;
    }
    APR_ARRAY_PUSH(d->live_types, acme_key_type_e) = t;
    note_cert(g, d, info);
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
    int t, dir, complete = 1;

    d->live_types = apr_array_make(g->pool, ACME_KEY_EC384,
                                   sizeof(acme_key_type_e));
    d->ari_ids = apr_table_make(g->pool, ACME_KEY_EC384);
    d->expiring_at = 0;
    d->renew_at = 0;
    d->cert_serial = d->cert_issuer = NULL;
    d->cert_not_before = d->cert_not_after = 0;
    d->is_live = 0;
    if (aa_store_open_domain(&dir, g, ACME_AREA_LIVE, d->key, s)
        != APR_SUCCESS) {
        return;
    }
    for (t = ACME_KEY_RSA2048; t <= ACME_KEY_EC384; t++) {
        if (is_configured(d, t) && assess_type(g, p, d, dir, t) != 2) {
            complete = 0;
        }
    }
    for (t = ACME_KEY_RSA2048; !d->live_types->nelts && t <= ACME_KEY_EC384;
         t++) {
        if (!is_configured(d, t)) {
            assess_type(g, p, d, dir, t);
        }
    }
    d->is_live = d->live_types->nelts > 0;
    if (d->is_live && !issued_by_configured_ca(p, s, d, dir)) {
        complete = 0;
    }
    if (!complete) {
        d->renew_at = 0;
    }
    close(dir);
}

/* One key for all the fallbacks of a generation: a fallback only stands
 * in (answering 503) and thousands of names must not mean thousands of
 * key generations at a start. Each certificate still names its domain. */
#define AA_FALLBACK_KEY "acmeauto:fallback-key"

static apr_status_t make_fallback(const char **cert_pem, const char **key_pem,
                                  apr_pool_t *p, aa_global_t *g,
                                  const aa_domain_t *d)
{
    EVP_PKEY *pkey = NULL;
    const char *pem;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&pkey, AA_FALLBACK_KEY, g->pool);
    if (!pkey) {
        if ((rv = acme_key_generate(&pkey, g->pool, ACME_KEY_EC256))
            != APR_SUCCESS) {
            return rv;
        }
        apr_pool_userdata_setn(pkey, AA_FALLBACK_KEY, NULL, g->pool);
    }
    if ((rv = acme_key_to_pem(&pem, p, pkey)) != APR_SUCCESS) {
        return rv;
    }
    *key_pem = pem;
    return acme_cert_self_signed(cert_pem, p, pkey, d->names, 30);
}

/* fallback/<key>/ in the store; where the store cannot take it, a
 * directory of the server's run-time dir, so that mod_ssl always has
 * something to serve and Apache starts. */
static apr_status_t fallback_in(aa_global_t *g, apr_pool_t *p, int area_fd,
                                const char *dir_path, aa_domain_t *d)
{
    const char *cert = pem_name(p, ACME_KEY_EC256, "cert");
    const char *key = pem_name(p, ACME_KEY_EC256, "key");
    const char *cert_pem, *key_pem;
    acme_safe_e why;
    apr_status_t rv;
    int dir;

    if ((rv = acme_safe_mkdir(&dir, &why, area_fd, d->key, 0700, geteuid(),
                              0)) != APR_SUCCESS) {
        return rv;
    }
    if (acme_safe_check(&why, dir, cert, geteuid(), ACME_STORE_FILE_MAX)
        != APR_SUCCESS
        || acme_safe_check(&why, dir, key, geteuid(), ACME_STORE_FILE_MAX)
           != APR_SUCCESS) {
        if ((rv = make_fallback(&cert_pem, &key_pem, p, g, d)) == APR_SUCCESS
            && (rv = acme_safe_write(dir, key, key_pem, strlen(key_pem), 0600,
                                     (uid_t)-1, (gid_t)-1)) == APR_SUCCESS) {
            rv = acme_safe_write(dir, cert, cert_pem, strlen(cert_pem), 0644,
                                 (uid_t)-1, (gid_t)-1);
        }
    }
    close(dir);
    if (rv == APR_SUCCESS) {
        d->fallback_cert = apr_pstrcat(g->pool, dir_path, "/", d->key, "/",
                                       cert, NULL);
        d->fallback_key = apr_pstrcat(g->pool, dir_path, "/", d->key, "/",
                                      key, NULL);
    }
    return rv;
}

static void ensure_fallback(aa_global_t *g, apr_pool_t *p, server_rec *s,
                            aa_domain_t *d)
{
    const char *run_dir;
    acme_safe_e why;
    apr_status_t rv = APR_ENOENT;
    int fd;

    if (g->area_fd[ACME_AREA_FALLBACK] >= 0) {
        rv = fallback_in(g, p, g->area_fd[ACME_AREA_FALLBACK],
                         acme_store_path(p, g->store, ACME_AREA_FALLBACK,
                                         NULL, NULL), d);
    }
    if (rv == APR_SUCCESS) {
        return;
    }
    run_dir = ap_runtime_dir_relative(p, "acmeauto-fallback");
    acme_store_mkdirs(run_dir, 0700, p);
    if (acme_safe_opendir(&fd, &why, AT_FDCWD, run_dir, geteuid(), 1)
        == APR_SUCCESS) {
        rv = fallback_in(g, p, fd, run_dir, d);
        close(fd);
    }
    ap_log_error(APLOG_MARK, rv == APR_SUCCESS ? APLOG_WARNING : APLOG_ERR,
                 rv, s, AA_LOGNO(00106) "%s: cannot write the fallback "
                 "certificate into the store%s%s", d->name,
                 rv == APR_SUCCESS ? "; using one in " : "",
                 rv == APR_SUCCESS ? run_dir : "");
}

void aa_activate_all(aa_global_t *g, apr_pool_t *p, server_rec *s,
                     int quiet)
{
    int i;

    for (i = 0; i < g->domains->nelts; i++) {
        aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        assess_live(g, p, s, d);     /* what is live decides any delay */
        activate_staged(g, p, s, d);
        assess_live(g, p, s, d);
        if (quiet) {
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, AA_LOGNO(00107)
                     "%s: %s", d->name, d->is_live
                     ? (d->renew_at ? "certificate is live"
                        : "certificate is live; a new one is needed for "
                          "the configured names or key types")
                     : "no valid certificate yet; until one is obtained, "
                       "a valid SSLCertificateFile keeps serving (AA00120), "
                       "else a self-signed fallback answers 503");
    }
    /* In the pass that installed (the first at start-up); the outcome
     * is logged by the generation that serves. */
    aa_deploy_launch(g, p, s);
    if (!quiet) {
        aa_deploy_watch(g, g->pool, s);
    }
}

/* ---- what mod_ssl serves ------------------------------------------ */

/* mod_ssl asks at both start-up passes; what is served is logged at the
 * second, the one that serves. */
static int serving_pass(void)
{
    return ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG;
}

/* Why a configured certificate cannot stand in for the module's, or NULL
 * with *info its facts. The file is the administrator's own (root's) and
 * mod_ssl reads it anyway; the key is mod_ssl's to check. */
static const char *previous_unusable(acme_cert_info_t **info, apr_pool_t *p,
                                     const aa_domain_t *d, const char *file,
                                     apr_time_t now)
{
    apr_array_header_t *chain;
    char *pem;
    apr_size_t len;
    int i;

    if (acme_store_read(&pem, &len, file, ACME_STORE_FILE_MAX, p)
        != APR_SUCCESS
        || acme_cert_chain_parse(&chain, p, pem, len) != APR_SUCCESS
        || acme_cert_info(info, p, chain) != APR_SUCCESS) {
        return "cannot be read as a PEM certificate";
    }
    if (now + ACME_CLOCK_SKEW < (*info)->not_before) {
        return apr_psprintf(p, "is not valid before %s",
                            acme_view_time(p, (*info)->not_before));
    }
    if (now >= (*info)->not_after) {
        return apr_psprintf(p, "expired at %s",
                            acme_view_time(p, (*info)->not_after));
    }
    for (i = 0; i < d->names->nelts; i++) {
        if (acme_cert_covers(*info, APR_ARRAY_IDX(d->names, i,
                                                  const char *))) {
            return NULL;
        }
    }
    return apr_psprintf(p, "covers none of %s (it is for %s)",
                        acme_str_join(p, d->names, ", "),
                        acme_str_join(p, (*info)->names, ", "));
}

static void note_previous(aa_global_t *g, aa_domain_t *d, const char *file,
                          const acme_cert_info_t *info)
{
    if (d->previous_file) {
        return;    /* the first vhost's is shown */
    }
    d->previous_file = apr_pstrdup(g->pool, file);
    d->previous_serial = apr_pstrdup(g->pool, info->serial_hex);
    d->previous_issuer = apr_pstrdup(g->pool, info->issuer);
    d->previous_not_before = info->not_before;
    d->previous_not_after = info->not_after;
}

/* Zero downtime: before the module's first certificate, an
 * SSLCertificateFile still configured (Certbot's, say) keeps serving when
 * it is valid and covers some of the names; one that is not is taken out
 * of mod_ssl's list, and where none is left the fallback (and 503) stands
 * in. mod_ssl pairs cert_files[i] with key_files[i] where that exists,
 * else the key is in the certificate's file: the pairs stay together. */
static void judge_previous(aa_global_t *g, apr_pool_t *p, server_rec *s,
                           aa_srv_conf_t *sc, aa_domain_t *d,
                           apr_array_header_t *cert_files,
                           apr_array_header_t *key_files)
{
    apr_array_header_t *certs = apr_array_make(p, 2, sizeof(const char *));
    apr_array_header_t *keys = apr_array_make(p, 2, sizeof(const char *));
    apr_time_t now = apr_time_now();
    int i, log = serving_pass();

    for (i = 0; i < cert_files->nelts; i++) {
        const char *file = APR_ARRAY_IDX(cert_files, i, const char *);
        acme_cert_info_t *info;
        const char *why = previous_unusable(&info, p, d, file, now);

        if (why) {
            if (log) {
                ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00121)
                             "%s: SSLCertificateFile %s %s; it is not served "
                             "while the module obtains a certificate",
                             d->name, file, why);
            }
            continue;
        }
        note_previous(g, d, file, info);
        if (log) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, AA_LOGNO(00120)
                         "%s: serving SSLCertificateFile %s (serial %s, "
                         "valid until %s) until the module's own certificate "
                         "is live", d->name, file, info->serial_hex,
                         acme_view_time(p, info->not_after));
        }
        APR_ARRAY_PUSH(certs, const char *) = file;
        if (i < key_files->nelts) {
            APR_ARRAY_PUSH(keys, const char *) =
                APR_ARRAY_IDX(key_files, i, const char *);
        }
    }
    if (!certs->nelts && !d->fallback_cert) {
        ensure_fallback(g, p, s, d);
    }
    if (!certs->nelts && !d->fallback_cert) {
        return;    /* mod_ssl needs something; AA00106 said why */
    }
    apr_array_clear(cert_files);
    apr_array_clear(key_files);
    apr_array_cat(cert_files, certs);
    apr_array_cat(key_files, keys);
    sc->serves_previous = certs->nelts > 0;
    if (!certs->nelts && log) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00122)
                     "%s: no configured certificate can be served; the "
                     "self-signed fallback answers 503 until the module's "
                     "own certificate is live", d->name);
    }
}

int aa_add_cert_files(server_rec *s, apr_pool_t *p,
                      apr_array_header_t *cert_files,
                      apr_array_header_t *key_files)
{
    aa_srv_conf_t *sc = aa_srv_conf(s);
    aa_global_t *g = aa_global();
    aa_domain_t *d = sc ? sc->served : NULL;
    const apr_array_header_t *types;
    int i;

    if (!d || !g || !g->store) {
        return DECLINED;
    }
    if (!d->is_live) {
        if (cert_files->nelts) {
            judge_previous(g, p, s, sc, d, cert_files, key_files);
        }
        return DECLINED;
    }
    /* The module's certificate wins: with the old files beside it mod_ssl
     * would serve either, by the client's key type preference. */
    if (cert_files->nelts && serving_pass()) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, AA_LOGNO(00123)
                     "%s: serving the module's certificate; SSLCertificateFile "
                     "%s is no longer used and can be removed from this "
                     "virtual host", d->name,
                     acme_str_join(p, cert_files, ", "));
    }
    apr_array_clear(cert_files);
    apr_array_clear(key_files);
    types = d->live_types;
    for (i = 0; i < types->nelts; i++) {
        acme_key_type_e t = APR_ARRAY_IDX(types, i, acme_key_type_e);
        APR_ARRAY_PUSH(cert_files, const char *) = acme_store_path(p,
            g->store, ACME_AREA_LIVE, d->key, pem_name(p, t, "cert"));
        APR_ARRAY_PUSH(key_files, const char *) = acme_store_path(p,
            g->store, ACME_AREA_LIVE, d->key, pem_name(p, t, "key"));
    }
    return OK;
}

/* Only called when no certificate is left in mod_ssl's list. */
int aa_add_fallback_cert_files(server_rec *s, apr_pool_t *p,
                               apr_array_header_t *cert_files,
                               apr_array_header_t *key_files)
{
    aa_srv_conf_t *sc = aa_srv_conf(s);
    aa_global_t *g = aa_global();
    aa_domain_t *d = sc ? sc->served : NULL;

    if (!d || !g || !g->store || d->is_live) {
        return DECLINED;
    }
    if (!d->fallback_cert) {
        ensure_fallback(g, p, s, d);
    }
    if (!d->fallback_cert) {
        return DECLINED;
    }
    APR_ARRAY_PUSH(cert_files, const char *) = d->fallback_cert;
    APR_ARRAY_PUSH(key_files, const char *) = d->fallback_key;
    return OK;
}
