/* The background work. The renewal job runs in a mod_watchdog singleton
 * inside one child, as the unprivileged User. When it has staged new
 * certificates it drops a hint file; the parent's restart watcher
 * (aa_restart.c) looks at the staged set and restarts gracefully, which
 * the child could not do. The parent's verdict on a staged set comes back
 * through handoff/<key>.json: the job then cleans up staging/. */
#include <errno.h>
#include <string.h>
#include <signal.h>
#include <unistd.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <apr_thread_proc.h>
#include <apr_optional.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <ap_mpm.h>
#include <mpm_common.h>
#include <mod_watchdog.h>

#include "aa_watchdog.h"
#include "aa_config.h"
#include "aa_ari.h"
#include "aa_notify.h"
#include "acme_orders.h"
#include "acme_json.h"
#include "acme_handoff.h"
#include "acme_restart.h"
#include "acme_util.h"
#include "acme_schedule.h"
#include "acme_state.h"

APLOG_USE_MODULE(acmeauto);

/* A saved next attempt is clamped by the core to the longest delay the
 * job chooses: the two must be one. */
_Static_assert(AA_MAX_RETRY_DELAY == ACME_RETRY_DELAY_MAX,
               "the core clamps next_attempt to the job's longest delay");

#define AA_WATCHDOG_NAME "_acmeauto_"
#define TICK apr_time_from_sec(1)
#define CONFIG_PROBLEM_MIN_DELAY apr_time_from_sec(3600)
#define AA_FAILOVER_AFTER 3
/* New certificates that are staged close together go live with one
 * graceful restart: it is asked for once no other set has been staged
 * for AA_RESTART_QUIET, or AA_RESTART_LATEST after the first, whichever
 * comes first (orders still in flight then resume in the next child). */
#define AA_RESTART_QUIET apr_time_from_sec(2)
#define AA_RESTART_LATEST apr_time_from_sec(30)

/* The child's view of one domain between runs. */
typedef struct {
    int failures;
    int server;               /* index of the ACMEServer that last issued */
    apr_time_t next_attempt;
    int restart_noted;
    const char *fingerprint;
    aa_ari_state_t ari;
    aa_notify_state_t notify;
    json_t *last_error;       /* kept until the next success */
} job_state_t;

typedef struct {
    aa_global_t *g;
    /* For what the job keeps between ticks. Not pconf: the job runs in a
     * thread of its own and pools are not safe to share between threads. */
    apr_pool_t *keep;
    apr_file_t *lock;         /* state/job.lock: one job across generations */
    int restart_wanted;       /* by the tick's thread only */
    apr_time_t first_staged;  /* while restart_wanted: the first set */
    apr_time_t last_staged;   /* ... and the latest */
    apr_hash_t *ca_paused;    /* acme_orders_t.paused, in keep */
    apr_time_t next_check;
    job_state_t *states;      /* one per g->domains */
    apr_time_t note_mtime;    /* handoff/restart.json last looked at */
    apr_ino_t note_inode;
} child_ctx_t;

/* This child is going away (set by a pchild cleanup), and the job is
 * inside a tick: the cleanup waits for the job to notice and return, so
 * the process never exits under a running libcurl or OpenSSL call. */
static volatile int child_exiting;
static volatile int tick_busy;

static int server_stopping(void *baton)
{
    int state = AP_MPMQ_RUNNING;

    if (child_exiting) {
        return 1;
    }
    ap_mpm_query(AP_MPMQ_MPM_STATE, &state);
    return state == AP_MPMQ_STOPPING;
}

static void job_log(void *baton, int level, const char *msg)
{
    static const int levels[] = { APLOG_ERR, APLOG_WARNING, APLOG_INFO,
                                  APLOG_DEBUG };
    server_rec *s = baton;

    ap_log_error(APLOG_MARK, levels[level & 3], 0, s, AA_LOGNO(00301) "%s",
                 msg);
}

/* What the persisted backoff was computed for: a changed configuration
 * deserves a fresh attempt. No secrets in it, only their hash. */
const char *aa_state_fingerprint(apr_pool_t *p, const aa_domain_t *d)
{
    const acme_domain_spec_t *sp = &d->spec;
    const char *s = apr_pstrcat(p, acme_str_join(p, d->servers, " "), "|",
        acme_str_join(p, acme_str_sorted(p, sp->names), ","), "|",
        sp->eab_kid ? sp->eab_kid : "", "|", d->eab_digest, "|",
        sp->tos_agreed ? (sp->tos_url ? sp->tos_url : "tos") : "", "|",
        acme_str_join(p, sp->contacts, ","), NULL);
    int i;

    for (i = 0; i < sp->key_types->nelts; i++) {
        s = apr_pstrcat(p, s, "|", acme_key_type_name(
            APR_ARRAY_IDX(sp->key_types, i, acme_key_type_e)), NULL);
    }
    /* A fixed proxy starts a fresh attempt, not the end of a day-long
     * back-off; without ACMEHttpProxy the fingerprint is what it was. */
    if (sp->http_proxy) {
        s = apr_pstrcat(p, s, "|proxy=", sp->http_proxy, NULL);
    }
    /* Likewise a corrected ACMEProfile or ACMEChallenges. */
    if (sp->profile) {
        s = apr_pstrcat(p, s, "|profile=", sp->profile,
                        sp->profile_mandatory ? "!" : "", NULL);
    }
    if (sp->challenges) {
        s = apr_pstrcat(p, s, "|challenges=", acme_str_join(p,
                        sp->challenges, ","), NULL);
    }
    /* Per-URL EAB values of the other CAs, where they differ from the
     * first's (so a configuration without them keeps its fingerprint). */
    for (i = 1; i < d->servers->nelts; i++) {
        const char *kid = d->eab[i].kid ? d->eab[i].kid : "";
        if (strcmp(kid, sp->eab_kid ? sp->eab_kid : "")
            || strcmp(d->eab[i].digest, d->eab_digest)) {
            s = apr_pstrcat(p, s, "|eab", apr_itoa(p, i), "=", kid, "|",
                            d->eab[i].digest, NULL);
        }
    }
    return acme_sha256_hex(p, s, strlen(s));
}

const char *aa_state_path(apr_pool_t *p, const aa_global_t *g,
                          const aa_domain_t *d)
{
    return acme_store_path(p, g->store, ACME_AREA_STATE,
                           acme_store_domain_file(p, d->key), NULL);
}

/* A state file that cannot be read as JSON: keep it for a look, start
 * afresh. */
static void set_aside_damaged(child_ctx_t *ctx, const aa_domain_t *d,
                              apr_pool_t *p)
{
    const char *path = aa_state_path(p, ctx->g, d);
    const char *aside = apr_psprintf(p, "%s.damaged.%" APR_TIME_T_FMT, path,
                                     apr_time_sec(apr_time_now()));

    apr_file_rename(path, aside, p);
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, ctx->g->main_server,
                 AA_LOGNO(00311) "%s: the state file was damaged and is set "
                 "aside as %s; starting with a fresh state", d->name, aside);
}

/* The saved state of domain i, checked and clamped by the core; a file
 * that is no state at all is set aside. */
/* Where url is in the domain's ACMEServer list; 0 if it is not there
 * (the list changed, or no CA has issued yet). */
static int server_index(const aa_domain_t *d, const char *url)
{
    int i;

    for (i = 0; url && i < d->servers->nelts; i++) {
        if (!strcmp(url, APR_ARRAY_IDX(d->servers, i, const char *))) {
            return i;
        }
    }
    return 0;
}

static void load_state(child_ctx_t *ctx, int i, apr_pool_t *p)
{
    aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
    job_state_t *st = &ctx->states[i];
    acme_state_t saved;
    char *data;
    apr_size_t len;
    apr_status_t rv;

    st->fingerprint = apr_pstrdup(ctx->keep, aa_state_fingerprint(p, d));
    rv = acme_store_read(&data, &len, aa_state_path(p, ctx->g, d),
                         ACME_STATE_FILE_MAX, p);
    if (rv == APR_SUCCESS) {
        rv = acme_state_parse(&saved, p, data, len, st->fingerprint,
                              aa_ari_ids(d, p), apr_time_now());
    }
    /* Damaged is what is there (not JSON, too large, a directory), not a
     * file that cannot be reached: the parent logs what is wrong with
     * the store. */
    if (rv == APR_EINVAL || rv == APR_ENOSPC
        || rv == APR_FROM_OS_ERROR(EISDIR)) {
        set_aside_damaged(ctx, d, p);
        return;
    }
    if (rv != APR_SUCCESS) {
        return;
    }
    st->failures = saved.failures;
    st->server = server_index(d, saved.server);
    st->next_attempt = saved.next_attempt;
    aa_ari_from_state(&st->ari, &saved.ari, ctx->keep);
    aa_notify_from_state(&st->notify, saved.notified);
    /* Kept across ticks, outside any pool, until the next success. */
    json_decref(st->last_error);
    st->last_error = saved.last_error ? json_incref(saved.last_error) : NULL;
}

static void save_state(child_ctx_t *ctx, int i, apr_pool_t *p,
                       const acme_error_t *err)
{
    aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
    job_state_t *st = &ctx->states[i];
    apr_time_t now = apr_time_now();
    acme_state_t out;

    if (err) {
        json_decref(st->last_error);
        st->last_error = acme_state_error_new(err, now);
    }
    else if (!st->failures && st->last_error) {
        json_decref(st->last_error);
        st->last_error = NULL;
    }
    memset(&out, 0, sizeof(out));
    out.domain = d->name;
    out.config = st->fingerprint;
    out.failures = st->failures;
    out.next_attempt = st->next_attempt;
    out.server = APR_ARRAY_IDX(d->servers, st->server, const char *);
    aa_ari_to_state(&out.ari, &st->ari);
    aa_notify_to_state(out.notified, &st->notify);
    out.last_error = st->last_error;
    acme_store_write_json(aa_state_path(p, ctx->g, d),
                          acme_state_to_json(p, &out, now), 0644, p);
}

static apr_interval_time_t backoff(const aa_domain_t *d, const job_state_t *st,
                                   const acme_error_t *err)
{
    unsigned char r;

    apr_generate_random_bytes(&r, 1);
    return acme_retry_delay(st->failures, d->retry_delay, AA_MAX_RETRY_DELAY,
                            CONFIG_PROBLEM_MIN_DELAY, err, 10, r / 255.0);
}

static void request_restart(child_ctx_t *ctx, aa_domain_t *d, apr_pool_t *p,
                            server_rec *s)
{
    if (!d->auto_restart) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, AA_LOGNO(00302)
                     "%s: a new certificate is ready; a graceful restart of "
                     "Apache is needed to activate it (ACMEAutoRestart off)",
                     d->name);
        return;
    }
    if (!ctx->restart_wanted) {
        ctx->first_staged = apr_time_now();
    }
    ctx->restart_wanted = 1;
    ctx->last_staged = apr_time_now();
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, AA_LOGNO(00303)
                 "%s: a new certificate is ready; asking for a graceful "
                 "restart to activate it", d->name);
}

/* The restart ends this child: orders still in flight notice it and
 * stop (they resume in the next child), and the tick returns. */
static void send_restart_request(child_ctx_t *ctx, apr_pool_t *p)
{
    const char *path = acme_store_path(p, ctx->g->store, ACME_AREA_STATE,
                                       ACME_FN_RESTART, NULL);

    if (ctx->restart_wanted) {
        acme_store_write(path, "restart\n", 8, 0644, p);
        ctx->restart_wanted = 0;
    }
}

/* With several ACMEServer URLs, every AA_FAILOVER_AFTER consecutive
 * failures move on to the next one, round and round, starting from the
 * one that last issued: after a failover the job stays with the CA that
 * works (its renewals and ARI questions go there). */
static int current_index(const aa_domain_t *d, const job_state_t *st)
{
    return (st->server + st->failures / AA_FAILOVER_AFTER)
           % d->servers->nelts;
}

static const char *current_server(const aa_domain_t *d, const job_state_t *st)
{
    return APR_ARRAY_IDX(d->servers, current_index(d, st), const char *);
}

/* Did the CA ask us to slow down? Then its other orders wait. */
static int pushed_back(const acme_error_t *err)
{
    return err->http_status == 429 || err->http_status == 503
           || (err->type && !strcmp(err->type, "rateLimited"));
}

/* One domain's order, in a worker thread (acme_orders.c): it touches only
 * this domain's state and files, and p, its own pool. */
static void run_domain(child_ctx_t *ctx, acme_order_job_t *o,
                       acme_ca_share_t *share, apr_pool_t *p)
{
    int i = o->index;
    server_rec *s = ctx->g->main_server;
    aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
    job_state_t *st = &ctx->states[i];
    acme_job_env_t env = { server_stopping, job_log, s, 0, 0, NULL, share };
    acme_domain_spec_t spec;
    acme_error_t *err;
    apr_interval_time_t delay;
    const char *next_url;

    /* Each CA gets its own EAB values. */
    aa_domain_spec_at(&spec, d, current_index(d, st));
    /* RFC 9773 §5: a renewal names what it replaces, where the CA has ARI. */
    spec.replaces = (d->is_live && st->ari.offered) ? d->ari_ids : NULL;

    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, AA_LOGNO(00304)
                 "%s: %s a certificate from %s", d->name,
                 d->is_live ? "renewing" : "obtaining", spec.server_url);
    if (acme_job_issue(&err, p, &spec, ctx->g->store, &env) == APR_SUCCESS) {
        st->server = current_index(d, st);
        st->failures = 0;
        st->next_attempt = 0;
        aa_notify(&st->notify, d, d->is_live ? AA_EV_RENEWED : AA_EV_ISSUED,
                  p, s);
        save_state(ctx, i, p, NULL);
        return;
    }
    if (server_stopping(NULL)) {
        return;    /* interrupted, not failed: the next child resumes */
    }
    if (APR_STATUS_IS_EAGAIN(err->status)) {
        /* A new registration needs the EAB key, which this child no
         * longer holds: the next generation gets it from the parent. */
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, AA_LOGNO(00314)
                     "%s: a new account must be registered at %s; the EAB "
                     "key is handed to the background job at the next "
                     "graceful restart", d->name, spec.server_url);
        st->next_attempt = apr_time_now() + d->retry_delay;
        o->restart_wanted = d->auto_restart;
        return;
    }
    st->failures++;
    delay = backoff(d, st, err);
    if (pushed_back(err)) {
        /* The CA's other orders wait as long as this one: its
         * Retry-After, else this domain's back-off. */
        o->ca_pushed_back = 1;
        o->ca_retry_after = err->retry_after > 0 ? err->retry_after : delay;
    }
    st->next_attempt = apr_time_now() + delay;
    aa_notify(&st->notify, d, AA_EV_ERRORED, p, s);
    save_state(ctx, i, p, err);
    next_url = current_server(d, st);
    /* The line says it all; an errno prefix would only mislead. */
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, AA_LOGNO(00305)
                 "%s: %s; next attempt in %s%s%s", d->name,
                 acme_error_line(p, err), acme_duration_str(p, delay),
                 strcmp(next_url, spec.server_url) ? " at " : "",
                 strcmp(next_url, spec.server_url) ? next_url : "");
}

static void check_ari(child_ctx_t *ctx, const acme_orders_t *q, int i,
                      apr_pool_t *p, apr_time_t now)
{
    aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
    job_state_t *st = &ctx->states[i];
    acme_job_env_t env = { server_stopping, job_log, ctx->g->main_server,
                           0, 0, NULL, NULL };
    acme_domain_spec_t spec;

    aa_domain_spec_at(&spec, d, current_index(d, st));
    /* One directory fetch per CA and tick, for ARI and orders alike. */
    env.share = acme_orders_share(q, spec.server_url);
    aa_ari_check(&st->ari, d, &spec, &env, ctx->keep, p,
                 ctx->g->main_server, now);
    save_state(ctx, i, p, NULL);
}

/* staging/<key>/staged.json as the job reads it; 0 when there is none. */
static int read_staged(child_ctx_t *ctx, const aa_domain_t *d, apr_pool_t *p,
                       char **meta, apr_size_t *len)
{
    return acme_store_read(meta, len, acme_store_path(p, ctx->g->store,
                           ACME_AREA_STAGING, d->key, ACME_FN_STAGED),
                           ACME_STORE_META_MAX, p) == APR_SUCCESS;
}

/* When the staged set was made; 0 if there is none (meta NULL) or it is
 * no JSON object. Not in the future, and never 0 for a set that exists. */
static apr_time_t staged_time(apr_pool_t *p, const char *meta,
                              apr_size_t len)
{
    json_t *j = meta ? acme_json_parse(p, meta, len) : NULL;

    if (!j) {
        return 0;
    }
    return acme_time_clamp(acme_time_from_stored(json_integer_value(
        json_object_get(j, "staged"))), 1, apr_time_now());
}

/* A staged set goes live at the next restart, which we ask for once the
 * activation delay has passed (no delay when nothing valid is live). */
static void release_staged(child_ctx_t *ctx, int i, apr_time_t staged,
                           apr_pool_t *p, apr_time_t now, apr_time_t *next)
{
    aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
    job_state_t *st = &ctx->states[i];
    apr_time_t release = d->is_live ? staged + d->activation_delay : staged;

    if (now < release) {
        if (!st->restart_noted) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->g->main_server,
                         AA_LOGNO(00310) "%s: new certificate held back for "
                         "%s (ACMEActivationDelay)", d->name,
                         acme_duration_str(p, release - now));
            st->restart_noted = -1;
        }
        if (release < *next) {
            *next = release;
        }
        return;
    }
    if (st->restart_noted != 1) {
        request_restart(ctx, d, p, ctx->g->main_server);
        st->restart_noted = 1;
    }
}

/* The parent's verdict on the staged set (its staged.json: meta), if it
 * is about this very set: the set is removed; an installation is
 * announced, a rejection counts as a failed attempt (with backoff). 1 when
 * there was a verdict. */
static int take_verdict(child_ctx_t *ctx, int i, apr_pool_t *p,
                        apr_time_t now, const char *meta, apr_size_t mlen)
{
    aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
    job_state_t *st = &ctx->states[i];
    const char *dir = acme_store_path(p, ctx->g->store, ACME_AREA_STAGING,
                                      d->key, NULL);
    acme_handoff_t h;
    acme_error_t *err;
    char *verdict;
    apr_size_t vlen;

    if (acme_store_read(&verdict, &vlen, acme_store_path(p, ctx->g->store,
                           ACME_AREA_HANDOFF, acme_store_domain_file(p,
                           d->key), NULL), ACME_STORE_META_MAX, p)
           != APR_SUCCESS
        || acme_handoff_parse(&h, p, verdict, vlen) != APR_SUCCESS
        || strcmp(h.staged, acme_staged_digest(p, meta, mlen))) {
        return 0;
    }
    acme_store_remove_dir(dir, p);
    st->restart_noted = 0;
    if (!strcmp(h.outcome, ACME_HANDOFF_INSTALLED)) {
        aa_notify(&st->notify, d, AA_EV_INSTALLED, p, ctx->g->main_server);
        save_state(ctx, i, p, NULL);
        return 1;
    }
    err = acme_error_make(p, APR_EGENERAL, ACME_FAIL_TRANSIENT,
                          "activating the new certificate",
                          h.why ? h.why : "refused by the server",
                          "a copy was kept in rejected/; see the log");
    st->failures++;
    st->next_attempt = now + backoff(d, st, err);
    save_state(ctx, i, p, err);
    return 1;
}

/* The plain values the schedule decides on (acme_schedule.h). */
static acme_sched_view_t sched_view(const aa_domain_t *d,
                                    const job_state_t *st)
{
    acme_sched_view_t v;

    v.is_live = d->is_live;
    v.renew_at = d->renew_at;
    v.expiring_at = d->expiring_at;
    v.ari_renew_at = st->ari.renew_at;
    v.ari_next_check = st->ari.next_check;
    v.ari_ids = d->ari_ids != NULL;
    v.next_attempt = st->next_attempt;
    return v;
}

/* When domain i's staged set was made, read now; 0 if there is none. */
static apr_time_t staged_now(child_ctx_t *ctx, int i, apr_pool_t *p)
{
    char *meta;
    apr_size_t mlen;

    return read_staged(ctx, APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *),
                       p, &meta, &mlen) ? staged_time(p, meta, mlen) : 0;
}

/* After the domain's order (if any): a set staged at `staged` (0: none)
 * is released, else the next time the domain needs the job goes into
 * *next. */
static void after_order(child_ctx_t *ctx, int i, apr_pool_t *p,
                        apr_time_t now, apr_time_t staged, apr_time_t *next)
{
    aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
    job_state_t *st = &ctx->states[i];
    acme_sched_view_t v;

    if (staged) {
        release_staged(ctx, i, staged, p, now, next);
        return;
    }
    st->restart_noted = 0;
    v = sched_view(d, st);
    *next = acme_sched_wakeup(&v, now, *next);
}

/* Everything for domain i but its order: the parent's verdict, ARI, the
 * expiry notice. 1 when an order is due (the caller runs it, with the
 * others, and then after_order). */
static int tick_domain(child_ctx_t *ctx, const acme_orders_t *q, int i,
                       apr_pool_t *p, apr_time_t now, apr_time_t *next)
{
    aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
    job_state_t *st = &ctx->states[i];
    acme_sched_view_t v;
    apr_time_t staged, paused;
    char *meta = NULL;
    apr_size_t mlen = 0;

    if (read_staged(ctx, d, p, &meta, &mlen)
        && take_verdict(ctx, i, p, now, meta, mlen)) {
        meta = NULL;    /* judged, and gone */
    }
    staged = staged_time(p, meta, mlen);
    if (!staged && d->is_live && now >= st->ari.next_check) {
        check_ari(ctx, q, i, p, now);
    }
    if (d->is_live && d->expiring_at && now >= d->expiring_at) {
        aa_notify(&st->notify, d, AA_EV_EXPIRING, p, ctx->g->main_server);
    }
    v = sched_view(d, st);
    if (!staged && acme_sched_due(&v, now)) {
        paused = acme_orders_paused_until(q, current_server(d, st), now);
        if (!paused) {
            return 1;
        }
        if (paused < *next) {
            *next = paused;    /* its CA asked us to slow down */
        }
        return 0;
    }
    after_order(ctx, i, p, now, staged, next);
    return 0;
}

/* What the orders of one tick share with the tick's thread. */
typedef struct {
    child_ctx_t *ctx;
    apr_pool_t *p;            /* the tick's: its thread only */
    apr_time_t *next;
} tick_run_t;

static void order_run(void *baton, acme_order_job_t *o, acme_ca_share_t *share,
                      apr_pool_t *p)
{
    run_domain(((tick_run_t *)baton)->ctx, o, share, p);
}

static void order_finished(void *baton, acme_order_job_t *o)
{
    tick_run_t *run = baton;
    child_ctx_t *ctx = run->ctx;
    apr_pool_t *p;

    if (o->state == ACME_ORDER_DEFERRED) {
        /* Not started: its CA pushed back (the next tick is due when the
         * pause ends), or the server is stopping. */
        if (o->deferred_until && o->deferred_until < *run->next) {
            *run->next = o->deferred_until;
        }
        return;
    }
    ctx->restart_wanted |= o->restart_wanted;
    apr_pool_create(&p, run->p);
    after_order(ctx, o->index, p, apr_time_now(), staged_now(ctx, o->index,
                                                           p), run->next);
    apr_pool_destroy(p);
}

/* While orders run: the sets staged so far need not wait for the
 * slowest order of the tick. */
static void orders_meanwhile(void *baton)
{
    tick_run_t *run = baton;
    child_ctx_t *ctx = run->ctx;
    apr_time_t now = apr_time_now();
    apr_pool_t *p;

    if (!ctx->restart_wanted || server_stopping(NULL)
        || (now - ctx->last_staged < AA_RESTART_QUIET
            && now - ctx->first_staged < AA_RESTART_LATEST)) {
        return;
    }
    apr_pool_create(&p, run->p);
    send_restart_request(ctx, p);
    apr_pool_destroy(p);
}

static int orders_stopping(void *baton)
{
    (void)baton;
    return server_stopping(NULL);
}

static void orders_setup(acme_orders_t *q, child_ctx_t *ctx, tick_run_t *run)
{
    memset(q, 0, sizeof(*q));
    q->run = order_run;
    q->finished = order_finished;
    q->meanwhile = orders_meanwhile;
    q->stopping = orders_stopping;
    q->baton = run;
    q->per_ca = ctx->g->max_orders;
    if (!ctx->ca_paused) {
        ctx->ca_paused = apr_hash_make(ctx->keep);
    }
    q->paused = ctx->ca_paused;
    q->pause_pool = ctx->keep;
    q->shares = apr_hash_make(run->p);
    q->share_pool = run->p;
}

/* Has the parent written a new restart note (acme_restart.h) since we
 * last looked? A stat a second: the note matters within seconds. */
static int restart_note_changed(child_ctx_t *ctx, apr_pool_t *p)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, acme_store_path(p, ctx->g->store, ACME_AREA_HANDOFF,
                 ACME_FN_RESTART_NOTE, NULL), APR_FINFO_MTIME
                 | APR_FINFO_INODE, p) != APR_SUCCESS) {
        ctx->note_mtime = 0;
        return 0;
    }
    if (fi.mtime == ctx->note_mtime && fi.inode == ctx->note_inode) {
        return 0;
    }
    ctx->note_mtime = fi.mtime;
    ctx->note_inode = fi.inode;
    return 1;
}

/* The parent does not restart into a configuration that fails its test:
 * `restart-blocked` for every domain whose new certificate waits for
 * that restart (the parent cannot run ACMENotifyCmd as the User). */
static void notify_restart_blocked(child_ctx_t *ctx, apr_pool_t *p)
{
    acme_restart_note_t note;
    char *data, *meta;
    apr_size_t len, mlen;
    int i;

    if (acme_store_read(&data, &len, acme_store_path(p, ctx->g->store,
                        ACME_AREA_HANDOFF, ACME_FN_RESTART_NOTE, NULL),
                        ACME_RESTART_NOTE_MAX, p) != APR_SUCCESS
        || acme_restart_note_parse(&note, p, data, len) != APR_SUCCESS
        || strcmp(note.reason, ACME_RESTART_CONFIGTEST)) {
        return;
    }
    for (i = 0; i < ctx->g->domains->nelts && !server_stopping(NULL); i++) {
        aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i, aa_domain_t *);
        if (d->auto_restart && read_staged(ctx, d, p, &meta, &mlen)) {
            aa_notify(&ctx->states[i].notify, d, AA_EV_RESTART_BLOCKED, p,
                      ctx->g->main_server);
            save_state(ctx, i, p, NULL);
        }
    }
}

/* Answers left behind by a job that was killed; fresh ones may belong to
 * the job of the generation before ours, still finishing. */
static void remove_stale_challenges(child_ctx_t *ctx, apr_pool_t *p)
{
    const char *dir = acme_store_path(p, ctx->g->store, ACME_AREA_CHALLENGES,
                                      NULL, NULL);
    apr_time_t old = apr_time_now() - apr_time_from_sec(3600);
    apr_dir_t *d;
    apr_finfo_t fi;

    if (apr_dir_open(&d, dir, p) != APR_SUCCESS) {
        return;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE | APR_FINFO_MTIME,
                        d) == APR_SUCCESS) {
        if (fi.filetype == APR_REG && fi.mtime < old) {
            apr_file_remove(apr_pstrcat(p, dir, "/", fi.name, NULL), p);
        }
    }
    apr_dir_close(d);
}

static void child_start(child_ctx_t *ctx, apr_pool_t *ptemp)
{
    int i;

    if (!ctx->keep) {
        apr_pool_create(&ctx->keep, NULL);
    }
    if (!ctx->lock && apr_file_open(&ctx->lock, acme_store_path(ptemp,
            ctx->g->store, ACME_AREA_STATE, ACME_FN_JOB_LOCK, NULL),
            APR_FOPEN_WRITE | APR_FOPEN_CREATE, APR_FPROT_UREAD
            | APR_FPROT_UWRITE, ctx->keep) != APR_SUCCESS) {
        ctx->lock = NULL;
    }
    remove_stale_challenges(ctx, ptemp);
    for (i = 0; i < ctx->g->domains->nelts; i++) {
        load_state(ctx, i, ptemp);
    }
}

static apr_status_t child_tick(int state, void *data, apr_pool_t *ptemp)
{
    child_ctx_t *ctx = (child_ctx_t *)data;
    apr_time_t now = apr_time_now(), next;
    apr_array_header_t *orders;
    tick_run_t run;
    acme_orders_t q;
    int i, noted;

    if (state == AP_WATCHDOG_STATE_STARTING) {
        child_start(ctx, ptemp);
        /* and the first tick at once, not a second later */
    }
    else if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    if (child_exiting) {
        return APR_SUCCESS;
    }
    noted = restart_note_changed(ctx, ptemp);
    if (now < ctx->next_check && !noted) {
        return APR_SUCCESS;
    }
    /* During a graceful restart the old generation's job may still run:
     * mod_watchdog's singleton mutex is per generation, this lock is not. */
    if (ctx->lock && apr_file_lock(ctx->lock, APR_FLOCK_EXCLUSIVE
                                   | APR_FLOCK_NONBLOCK) != APR_SUCCESS) {
        ctx->note_mtime = 0;    /* looked at again next time */
        return APR_SUCCESS;
    }
    tick_busy = 1;
    if (noted) {
        notify_restart_blocked(ctx, ptemp);
        if (now < ctx->next_check) {
            if (ctx->lock) {
                apr_file_unlock(ctx->lock);
            }
            tick_busy = 0;
            return APR_SUCCESS;
        }
    }
    next = now + ctx->g->check_interval;
    run.ctx = ctx;
    run.p = ptemp;
    run.next = &next;
    orders_setup(&q, ctx, &run);
    orders = apr_array_make(ptemp, 8, sizeof(acme_order_job_t));
    for (i = 0; i < ctx->g->domains->nelts && !server_stopping(NULL); i++) {
        apr_pool_t *p;
        apr_pool_create(&p, ptemp);
        if (tick_domain(ctx, &q, i, p, now, &next)) {
            acme_order_job_t *o = apr_array_push(orders);
            memset(o, 0, sizeof(*o));
            aa_domain_t *d = APR_ARRAY_IDX(ctx->g->domains, i,
                                           aa_domain_t *);
            o->index = i;
            o->ca = current_server(d, &ctx->states[i]);
            /* A site with no certificate of its own yet (nothing, a
             * fallback, the one it migrates from) goes first, then the
             * renewal whose certificate ends soonest. */
            o->urgency = d->is_live ? d->cert_not_after : 0;
        }
        apr_pool_destroy(p);
        now = apr_time_now();
    }
    acme_orders_run(&q, orders, ptemp);
    ctx->next_check = next;
    if (!server_stopping(NULL)) {
        send_restart_request(ctx, ptemp);
    }
    if (ctx->lock) {
        apr_file_unlock(ctx->lock);
    }
    tick_busy = 0;
    return APR_SUCCESS;
}

static apr_status_t child_exit_wait(void *data)
{
    apr_time_t until = apr_time_now() + apr_time_from_sec(10);

    child_exiting = 1;
    while (tick_busy && apr_time_now() < until) {
        apr_sleep(apr_time_from_msec(50));
    }
    return APR_SUCCESS;
}

/* Is there a stored account for d's index-th CA and its key id (one
 * the job would adopt included)? Runs in the child, as the User. */
static int account_exists(const aa_global_t *g, const aa_domain_t *d,
                          int index, apr_pool_t *p)
{
    return acme_job_account_dir(p, g->store, APR_ARRAY_IDX(d->servers,
                                index, const char *), d->eab[index].kid)
           != NULL;
}

/* Wipes key unless an HMAC still kept points at the same bytes (a
 * plain ACMEEAB is shared by every CA and domain that inherits it). */
static void wipe_unless_kept(const aa_global_t *g, const unsigned char *key,
                             apr_size_t len)
{
    int i, j;

    for (i = 0; i < g->domains->nelts; i++) {
        aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        for (j = 0; j < d->servers->nelts; j++) {
            if (d->eab[j].hmac == key) {
                return;
            }
        }
    }
    OPENSSL_cleanse((void *)key, len);
}

/* The EAB HMAC is needed only to register an account: a child does not
 * keep the one for a CA whose account exists. The bytes are wiped once
 * no domain and CA of this child keeps them. */
static void drop_eab_secrets(const aa_global_t *g, apr_pool_t *p)
{
    apr_array_header_t *dropped;
    int i, j;

    if (!g || !g->store) {
        return;
    }
    dropped = apr_array_make(p, 4, sizeof(aa_eab_t));
    for (i = 0; i < g->domains->nelts; i++) {
        aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        for (j = 0; j < d->servers->nelts; j++) {
            if (d->eab[j].hmac && account_exists(g, d, j, p)) {
                APR_ARRAY_PUSH(dropped, aa_eab_t) = d->eab[j];
                d->eab[j].hmac = NULL;
                d->eab[j].hmac_len = 0;
            }
        }
        d->spec.eab_hmac = d->eab[0].hmac;
        d->spec.eab_hmac_len = d->eab[0].hmac_len;
    }
    for (i = 0; i < dropped->nelts; i++) {
        const aa_eab_t *e = &APR_ARRAY_IDX(dropped, i, aa_eab_t);
        for (j = 0; j < i; j++) {
            if (APR_ARRAY_IDX(dropped, j, aa_eab_t).hmac == e->hmac) {
                break;    /* already seen to */
            }
        }
        if (j == i) {
            wipe_unless_kept(g, e->hmac, e->hmac_len);
        }
    }
}

void aa_watchdog_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_pool_t *p;

    apr_pool_create(&p, pchild);
    drop_eab_secrets(aa_global(), p);
    apr_pool_destroy(p);
    child_exiting = 0;
    tick_busy = 0;
    apr_pool_pre_cleanup_register(pchild, NULL, child_exit_wait);
}

apr_status_t aa_watchdog_start(aa_global_t *g, apr_pool_t *pconf,
                               server_rec *s)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
    ap_watchdog_t *wd;
    child_ctx_t *ctx;
    apr_status_t rv;

    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    register_cb = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (!get_instance || !register_cb) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, AA_LOGNO(00306)
                     "mod_watchdog is not loaded: certificates cannot be "
                     "obtained or renewed");
        return APR_ENOTIMPL;
    }
    ctx = apr_pcalloc(pconf, sizeof(*ctx));
    ctx->g = g;
    ctx->states = apr_pcalloc(pconf, sizeof(job_state_t)
                              * (g->domains->nelts + 1));
    if ((rv = get_instance(&wd, AA_WATCHDOG_NAME, 0, 1, pconf)) != APR_SUCCESS
        || (rv = register_cb(wd, TICK, ctx, child_tick)) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, AA_LOGNO(00307)
                     "cannot start the background job");
    }
    return rv;
}
