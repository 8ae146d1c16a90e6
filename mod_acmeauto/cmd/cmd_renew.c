/* acmeauto renew NAME [--force] [--wait DURATION] [--no-wait]: a new
 * certificate now, made live by the running server itself.
 *
 * Three steps. Root decides whether a renewal is due (live/ is root's;
 * the rules are the job's: ACMERenewWindow, the ARI pick in state/, a
 * key type, name or CA missing from live/). Then the ACME work runs as
 * the server's User under the job's lock, exactly as a tick of the job
 * would do it, ending with the job's restart hint. Last, the command only
 * reads: it waits for the parent's verdict on the very set it staged
 * (handoff/<key>.json names the set by the digest of its staged.json). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "acmeauto.h"
#include "acme_cert.h"
#include "acme_handoff.h"
#include "acme_json.h"
#include "acme_safe.h"
#include "acme_schedule.h"
#include "acme_state.h"
#include "acme_util.h"

#define RENEW_WAIT_DEFAULT apr_time_from_sec(300)
#define RENEW_POLL apr_time_from_msec(200)
#define RENEW_SAY_EVERY apr_time_from_sec(10)
#define REF_MAX 128

/* What live/<key>/ holds, as the job's parent judged it at its start. */
typedef struct {
    int is_live;              /* a configured key type can be served */
    int complete;             /* every key type and name, a configured CA */
    int unreadable;           /* live/ could not be read (not root?) */
    apr_time_t renew_at;      /* earliest ACMERenewWindow time */
    apr_table_t *ari_ids;     /* key type name -> RFC 9773 cert ID */
    const char *ids;          /* the same ","-joined, in the job's order */
    const char *serial;       /* of the first key type, for messages */
    apr_time_t not_after;
} live_t;

/* A staged set: its name (the digest of its staged.json) and when it was
 * made. */
typedef struct {
    char digest[REF_MAX];
    apr_time_t made;
} staged_ref_t;

typedef struct {
    const acme_conf_domain_t *d;
    acme_domain_spec_t spec;
    apr_interval_time_t lock_wait;
    /* The staged set there was when the command started (judged, else it
     * would be waited for), "" if none: one that is there later is the
     * job's, made while we waited for the lock. */
    char seen[REF_MAX];
    int ref_fd;               /* the staged set's name goes back here */
} renew_baton_t;

/* --- reading the store ------------------------------------------------- */

/* area/[sub/]file of the store. As root through acme_safe: no links, the
 * owner checked (the User's in its areas, root's in root's), bounded; as
 * anyone else plainly. APR_ENOENT when it is not there. */
static apr_status_t store_read(char **data, apr_size_t *len, ax_ctx_t *ctx,
                               acme_store_area_e area, const char *sub,
                               const char *file, apr_pool_t *p)
{
    uid_t owner = acme_store_area_is_users(area) ? ctx->conf->uid : 0;
    int base = -1, adir = -1, sdir = -1;
    acme_safe_e why;
    apr_status_t rv;

    if (geteuid() != 0) {
        return acme_store_read(data, len, acme_store_path(p, ctx->store,
                               area, sub ? sub : file, sub ? file : NULL),
                               ACME_STORE_FILE_MAX, p);
    }
    rv = acme_safe_opendir(&base, &why, AT_FDCWD, ctx->store_dir, 0, 0);
    if (rv == APR_SUCCESS) {
        rv = acme_safe_opendir(&adir, &why, base, acme_store_area_name(area),
                               owner, owner == 0);
    }
    if (rv == APR_SUCCESS && sub) {
        rv = acme_safe_opendir(&sdir, &why, adir, sub, owner, owner == 0);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_safe_read(data, len, &why, sub ? sdir : adir, file, owner,
                            ACME_STORE_FILE_MAX, p);
    }
    if (base >= 0) {
        close(base);
    }
    if (adir >= 0) {
        close(adir);
    }
    if (sdir >= 0) {
        close(sdir);
    }
    return rv;
}

static int is_configured(const acme_conf_domain_t *d, acme_key_type_e t)
{
    int i;

    for (i = 0; i < d->key_types->nelts; i++) {
        if (APR_ARRAY_IDX(d->key_types, i, acme_key_type_e) == t) {
            return 1;
        }
    }
    return 0;
}

/* One key type's live certificate: 0 when it cannot be served (missing,
 * unparsable, out of its dates) or does not cover every name. */
static int live_type(live_t *lv, ax_ctx_t *ctx, const acme_conf_domain_t *d,
                     acme_key_type_e t, apr_pool_t *p)
{
    const char *tn = acme_key_type_name(t), *id;
    apr_array_header_t *chain;
    acme_cert_info_t *info;
    apr_time_t now = apr_time_now();
    apr_status_t rv;
    char *pem;
    apr_size_t len;
    int i;

    rv = store_read(&pem, &len, ctx, ACME_AREA_LIVE, d->key,
                    acme_store_pem_name(p, tn, "cert"), p);
    if (rv != APR_SUCCESS) {
        lv->unreadable |= !APR_STATUS_IS_ENOENT(rv);
        return 0;
    }
    if (acme_cert_chain_parse(&chain, p, pem, len) != APR_SUCCESS
        || acme_cert_info(&info, p, chain) != APR_SUCCESS
        || now + ACME_CLOCK_SKEW < info->not_before
        || now >= info->not_after) {
        return 0;
    }
    lv->is_live = 1;
    if (!lv->serial) {
        lv->serial = info->serial_hex;
        lv->not_after = info->not_after;
    }
    if (acme_cert_ari_id(&id, p, chain) == APR_SUCCESS) {
        apr_table_set(lv->ari_ids, tn, id);
        lv->ids = lv->ids ? apr_pstrcat(p, lv->ids, ",", id, NULL) : id;
    }
    now = acme_renew_time(info->not_before, info->not_after, d->renew_pct,
                          d->renew_left);
    if (!lv->renew_at || now < lv->renew_at) {
        lv->renew_at = now;
    }
    for (i = 0; i < d->names->nelts; i++) {
        if (!acme_cert_covers(info, APR_ARRAY_IDX(d->names, i,
                                                  const char *))) {
            return 0;
        }
    }
    return 1;
}

/* Was the live set made by a CA still in ACMEServer? Unknown: yes. */
static int from_configured_ca(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                              apr_pool_t *p)
{
    const char *server;
    char *data;
    apr_size_t len;
    json_t *j;
    int i;

    if (store_read(&data, &len, ctx, ACME_AREA_LIVE, d->key, ACME_FN_LIVE,
                   p) != APR_SUCCESS
        || !(j = acme_json_parse(p, data, len))
        || !(server = acme_json_str(j, "server"))) {
        return 1;
    }
    for (i = 0; i < d->servers->nelts; i++) {
        if (!strcmp(server, APR_ARRAY_IDX(d->servers, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

/* The same judgement as the parent's at its start (aa_activate.c), in
 * the same key type order, so the ARI ids match the job's. */
static void read_live(live_t *lv, ax_ctx_t *ctx, const acme_conf_domain_t *d,
                      apr_pool_t *p)
{
    int t;

    memset(lv, 0, sizeof(*lv));
    lv->ari_ids = apr_table_make(p, ACME_KEY_EC384 + 1);
    lv->complete = 1;
    for (t = ACME_KEY_RSA2048; t <= ACME_KEY_EC384; t++) {
        if (is_configured(d, t) && !live_type(lv, ctx, d, t, p)) {
            lv->complete = 0;
        }
    }
    if (lv->is_live && !from_configured_ca(ctx, d, p)) {
        lv->complete = 0;
    }
}

/* state/<key>.json as the job wrote it, clamped by the core. The command
 * cannot compute the job's configuration fingerprint (it hashes the EAB
 * key), so it takes the file's own: the running job rewrites the file for
 * its configuration at every tick that changes anything. ARI is taken
 * only for the certificates in ids. APR_ENOENT and friends: no state. */
static apr_status_t read_state(acme_state_t *st, ax_ctx_t *ctx,
                               const acme_conf_domain_t *d, const char *ids,
                               apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    json_t *j;
    apr_status_t rv;

    memset(st, 0, sizeof(*st));
    rv = store_read(&data, &len, ctx, ACME_AREA_STATE, NULL,
                    acme_store_domain_file(p, d->key), p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!(j = acme_json_parse(p, data, len))) {
        return APR_EINVAL;
    }
    return acme_state_parse(st, p, data, len, acme_json_str(j, "config"),
                            ids, apr_time_now());
}

/* The parent's verdict, if it is about the set named digest. */
static int verdict_for(acme_handoff_t *h, ax_ctx_t *ctx,
                       const acme_conf_domain_t *d, const char *digest,
                       apr_pool_t *p)
{
    char *data;
    apr_size_t len;

    return store_read(&data, &len, ctx, ACME_AREA_HANDOFF, NULL,
                      acme_store_domain_file(p, d->key), p) == APR_SUCCESS
        && acme_handoff_parse(h, p, data, len) == APR_SUCCESS
        && !strcmp(h->staged, digest);
}

/* The staged set in staging/<key>/, if there is a whole one. */
static int staged_set(staged_ref_t *ref, ax_ctx_t *ctx,
                      const acme_conf_domain_t *d, apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    json_t *j;

    if (store_read(&data, &len, ctx, ACME_AREA_STAGING, d->key,
                   ACME_FN_STAGED, p) != APR_SUCCESS) {
        return 0;
    }
    apr_cpystrn(ref->digest, acme_staged_digest(p, data, len),
                sizeof(ref->digest));
    j = acme_json_parse(p, data, len);
    ref->made = acme_time_clamp(acme_time_from_stored(json_integer_value(
        json_object_get(j, "staged"))), 0, apr_time_now());
    return 1;
}

/* --- the ACME work, as the server's User ------------------------------ */

/* After a success: the job's failure count and backoff no longer apply,
 * and the CA that issued is the one to renew with. The job's next
 * generation (the restart that installs the set) starts from this. */
static void note_success(ax_ctx_t *ctx, const renew_baton_t *b,
                         apr_pool_t *p)
{
    acme_state_t st;

    if (read_state(&st, ctx, b->d, NULL, p) != APR_SUCCESS || !st.config) {
        return;    /* the job writes its own */
    }
    st.domain = b->d->name;
    st.failures = 0;
    st.next_attempt = 0;
    st.server = b->spec.server_url;
    st.last_error = NULL;
    acme_store_write_json(acme_store_path(p, ctx->store, ACME_AREA_STATE,
                          acme_store_domain_file(p, b->d->key), NULL),
                          acme_state_to_json(p, &st, apr_time_now()), 0644,
                          p);
}

/* Under the lock. A set not judged yet is a renewal already made, and
 * so is one the job made while we waited for the lock (judged or not;
 * any other than the one seen at the start): take it. An older judged set is the job's to clean up, but the job may
 * not come round before we order, and a chain left there would be taken
 * up again by the core (it is kept to survive a crash): remove it as the
 * job does. Else order. The staged set's name goes to b->ref_fd. */
static int renew_as_user(ax_ctx_t *ctx, void *baton)
{
    renew_baton_t *b = baton;
    const acme_conf_domain_t *d = b->d;
    staged_ref_t ref;
    acme_handoff_t h;
    acme_job_env_t env;
    acme_error_t *err;
    apr_pool_t *p;
    const char *line;
    int rc;

    if ((rc = ax_lock(ctx, b->lock_wait)) != AX_OK) {
        return rc;
    }
    apr_pool_create(&p, ctx->pool);
    if (staged_set(&ref, ctx, d, p)) {
        if (!verdict_for(&h, ctx, d, ref.digest, p)
            || strcmp(ref.digest, b->seen)) {
            ax_info(ctx, "%s: a new certificate was staged at %s (by the "
                    "background job, or an earlier acmeauto run) and not yet "
                    "made live; taking that one", d->name,
                    ax_time_str(p, ref.made));
            goto done;
        }
        acme_store_remove_dir(acme_store_path(p, ctx->store,
                              ACME_AREA_STAGING, d->key, NULL), p);
    }
    ax_info(ctx, "%s: ordering from %s", d->name, b->spec.server_url);
    env = ax_job_env(ctx);
    if (acme_job_issue(&err, p, &b->spec, ctx->store, &env) != APR_SUCCESS) {
        ax_error("%s: %s", d->name, ax_interrupted() ? "interrupted; the "
                 "order is resumed by the next attempt"
                 : acme_error_line(p, err));
        rc = AX_FAILED;
        goto out;
    }
    if (!staged_set(&ref, ctx, d, p)) {
        ax_error("%s: the new certificate is not in staging/%s", d->name,
                 d->key);
        rc = AX_FAILED;
        goto out;
    }
    note_success(ctx, b, p);
done:
    /* Last, as the job does (send_restart_request): "look now". */
    if (d->auto_restart
        && acme_store_write(acme_store_path(p, ctx->store, ACME_AREA_STATE,
                            ACME_FN_RESTART, NULL), "restart\n", 8, 0644, p)
           != APR_SUCCESS) {
        ax_error("%s: cannot write state/%s; the server makes the "
                 "certificate live at its next graceful restart", d->name,
                 ACME_FN_RESTART);
    }
    line = apr_psprintf(p, "%s %" APR_TIME_T_FMT "\n", ref.digest,
                        apr_time_sec(ref.made));
    if (write(b->ref_fd, line, strlen(line)) != (ssize_t)strlen(line)) {
        rc = AX_FAILED;
    }
out:
    ax_unlock(ctx);
    apr_pool_destroy(p);
    return rc;
}

/* Runs renew_as_user (in a child when root) and gets the staged set's
 * name back through a pipe. */
static int stage_new(staged_ref_t *ref, ax_ctx_t *ctx, renew_baton_t *b)
{
    char buf[REF_MAX + 32];
    apr_int64_t made = 0;
    ssize_t n, got = 0;
    char *sp;
    int fds[2], rc;

    if (pipe(fds) != 0) {
        ax_error("cannot make a pipe: %s", strerror(errno));
        return AX_FAILED;
    }
    b->ref_fd = fds[1];
    rc = ax_as_user(ctx, renew_as_user, b);
    close(fds[1]);
    while (got < (ssize_t)sizeof(buf) - 1
           && (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0) {
        got += n;
    }
    close(fds[0]);
    buf[got] = '\0';
    if (rc != AX_OK) {
        return rc;
    }
    if (!(sp = strchr(buf, ' ')) || sp - buf >= REF_MAX
        || acme_parse_int64(&made, apr_pstrndup(ctx->pool, sp + 1,
                                                strcspn(sp + 1, "\n")),
                            0, ACME_STORED_SEC_MAX) != APR_SUCCESS) {
        ax_error("lost the worker's answer");
        return AX_FAILED;
    }
    memcpy(ref->digest, buf, sp - buf);
    ref->digest[sp - buf] = '\0';
    ref->made = apr_time_from_sec(made);
    return AX_OK;
}

/* --- waiting for the server ------------------------------------------ */

static int server_running(const ax_ctx_t *ctx)
{
    return ctx->conf->pid <= 0 || kill((pid_t)ctx->conf->pid, 0) == 0
        || errno != ESRCH;
}

/* The verdict's outcome as an exit code; the new certificate's facts. */
static int judged(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                  const acme_handoff_t *h, apr_pool_t *p)
{
    live_t lv;

    if (strcmp(h->outcome, ACME_HANDOFF_INSTALLED)) {
        ax_error("%s: the server did not take the new certificate: %s; "
                 "the current one stays in use (a copy of the new one is in "
                 "rejected/)", d->name, h->why ? h->why : "no reason given");
        return AX_FAILED;
    }
    read_live(&lv, ctx, d, p);
    if (lv.serial) {
        printf("%s: new certificate live: serial %s, valid until %s\n",
               d->name, lv.serial, ax_time_str(p, lv.not_after));
    }
    else {
        printf("%s: new certificate live\n", d->name);
    }
    return AX_OK;
}

/* Until the parent judged the set, or `wait` is over (AX_PENDING, said
 * what is left to happen). was_live: a valid certificate was live
 * before, so ACMEActivationDelay applies. */
static int wait_live(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                     const staged_ref_t *ref, int was_live,
                     apr_interval_time_t wait)
{
    apr_time_t start = apr_time_now(), until = acme_time_add(start, wait);
    apr_time_t release = was_live ? acme_time_add(ref->made,
                                                  d->activation_delay) : 0;
    apr_time_t said = start, now;
    acme_handoff_t h;
    apr_pool_t *p;
    int rc = AX_PENDING, held_said = 0;

    apr_pool_create(&p, ctx->pool);
    if (d->auto_restart) {
        ax_info(ctx, "%s: waiting (at most %s) for the server to make it "
                "live...", d->name, acme_duration_str(p, wait));
    }
    for (;;) {
        apr_pool_clear(p);
        if (verdict_for(&h, ctx, d, ref->digest, p)) {
            rc = judged(ctx, d, &h, p);
            break;
        }
        now = apr_time_now();
        if (!d->auto_restart) {
            ax_info(ctx, "%s: the new certificate is staged; ACMEAutoRestart "
                    "is off: run 'apachectl graceful' to make it live",
                    d->name);
            break;
        }
        if (!server_running(ctx)) {
            ax_info(ctx, "%s: the new certificate is staged, but the server "
                    "(pid %ld) is not running; it goes live when the server "
                    "starts", d->name, ctx->conf->pid);
            break;
        }
        if (now < release && !held_said) {
            ax_info(ctx, "%s: the new certificate goes live at %s "
                    "(ACMEActivationDelay)%s", d->name,
                    ax_time_str(p, release), release > until
                    ? "; the server makes it live then by itself" : "");
            held_said = 1;
            if (release > until) {
                break;
            }
        }
        if (now >= until || ax_interrupted()) {
            ax_info(ctx, "%s: the new certificate is staged and not live yet; "
                    "the server makes it live by itself", d->name);
            break;
        }
        if (now - said >= RENEW_SAY_EVERY) {
            ax_info(ctx, "%s: waiting for the server to make it live "
                    "(%s so far)...", d->name,
                    acme_duration_str(p, now - start));
            said = now;
        }
        apr_sleep(RENEW_POLL);
    }
    apr_pool_destroy(p);
    return rc;
}

/* --- the command ------------------------------------------------------ */

/* The index of the ACMEServer that last issued (state "server"); the
 * first when none did or it is no longer configured. */
static int issuing_server(const acme_conf_domain_t *d, const char *url)
{
    int i;

    for (i = 0; url && i < d->servers->nelts; i++) {
        if (!strcmp(url, APR_ARRAY_IDX(d->servers, i, const char *))) {
            return i;
        }
    }
    return 0;
}

/* Not due: says until when and why; 0. Due (or undecidable when force):
 * 1. Unreadable live/ without force: -1 (said why). */
static int due(const acme_conf_domain_t *d, const live_t *lv, const acme_state_t *st, int force,
               apr_pool_t *p)
{
    acme_sched_view_t v;
    apr_time_t now = apr_time_now(), at;
    int ari;

    if (force) {
        return 1;
    }
    if (lv->unreadable) {
        ax_error("%s: cannot read live/%s to see whether a renewal is due "
                 "(run as root, or renew anyway with --force)", d->name,
                 d->key);
        return -1;
    }
    memset(&v, 0, sizeof(v));
    v.is_live = lv->is_live;
    v.renew_at = lv->complete ? lv->renew_at : 0;
    v.ari_renew_at = st->ari.renew_at;
    /* An administrator asking is no reason to wait out the job's
     * backoff: v.next_attempt stays 0. */
    if (acme_sched_due(&v, now)) {
        return 1;
    }
    ari = v.ari_renew_at && v.ari_renew_at < v.renew_at;
    at = ari ? v.ari_renew_at : v.renew_at;
    printf("%s: not due until %s (%s); --force renews now\n", d->name,
           ax_time_str(p, at), ari ? "ari" : "window");
    return 0;
}

static int renew(ax_ctx_t *ctx, const acme_conf_domain_t *d, int force,
                 apr_interval_time_t wait, int no_wait)
{
    apr_pool_t *p = ctx->pool;
    renew_baton_t b;
    staged_ref_t ref;
    acme_handoff_t h;
    acme_state_t st;
    live_t lv;
    int rc, pending;

    ax_job_env(ctx);    /* SIGINT: stop at the next step, not at once */
    read_live(&lv, ctx, d, p);
    read_state(&st, ctx, d, lv.ids, p);
    /* A set already staged and not judged is a renewal under way: wait
     * for it whatever the window says. */
    memset(&b, 0, sizeof(b));
    if (staged_set(&ref, ctx, d, p)) {
        pending = !verdict_for(&h, ctx, d, ref.digest, p);
        memcpy(b.seen, ref.digest, sizeof(b.seen));
    }
    else {
        pending = 0;
    }
    if (!pending && (rc = due(d, &lv, &st, force, p)) <= 0) {
        return rc == 0 ? AX_OK : AX_CONFIG;
    }
    b.d = d;
    b.lock_wait = wait;
    /* As root, before dropping privileges: an ACMEEAB file: is root's. */
    b.spec = ax_spec(ctx, d, issuing_server(d, st.server), 1);
    /* RFC 9773 §5, as the job does: a renewal names what it replaces
     * where the CA has ARI. */
    b.spec.replaces = lv.is_live && st.ari.offered ? lv.ari_ids : NULL;
    if ((rc = stage_new(&ref, ctx, &b)) != AX_OK) {
        return rc;
    }
    if (no_wait) {
        ax_info(ctx, "%s: the new certificate is staged%s", d->name,
                d->auto_restart ? "; the server makes it live by itself"
                : "; ACMEAutoRestart is off: run 'apachectl graceful' to "
                  "make it live");
        return AX_PENDING;
    }
    return wait_live(ctx, d, &ref, lv.is_live, wait);
}

int ax_renew_domain(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                    apr_interval_time_t wait)
{
    return renew(ctx, d, 1, wait, 0);
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: acmeauto renew NAME [--force] [--wait DURATION] "
        "[--no-wait]\n\n"
        "Renews NAME's certificate when it is due (ACMERenewWindow, or the\n"
        "CA's renewal information), and waits until the running server\n"
        "serves it: the module restarts Apache gracefully by itself.\n\n"
        "  --force           renew now, due or not\n"
        "  --wait DURATION   wait at most this long for the background job\n"
        "                    and then for the server (default 5m; 90s, 10m)\n"
        "  --no-wait         return once the certificate is staged (exit 5)\n\n"
        "exit codes: 0 live (or not due); 1 the CA or the server said no;\n"
        "2 bad arguments; 3 unknown NAME or no store; 4 the background job\n"
        "held the lock too long; 5 staged but not live yet.\n");
}

int ax_cmd_renew(ax_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_interval_time_t wait = RENEW_WAIT_DEFAULT;
    const acme_conf_domain_t *d;
    const char *name = NULL;
    int i, force = 0, no_wait = 0, rc;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return AX_OK;
        }
        if (!strcmp(argv[i], "--force")) {
            force = 1;
        }
        else if (!strcmp(argv[i], "--no-wait")) {
            no_wait = 1;
        }
        else if (!strcmp(argv[i], "--wait")) {
            if (i + 1 >= argc
                || acme_parse_duration(&wait, argv[i + 1]) != APR_SUCCESS
                || wait < 0) {
                ax_error("renew: --wait wants a duration such as 90s or 10m"
                         "%s%s", i + 1 < argc ? ", not " : "",
                         i + 1 < argc ? argv[i + 1] : "");
                return AX_USAGE;
            }
            i++;
        }
        else if (argv[i][0] == '-' || name) {
            ax_error("renew: unexpected %s", argv[i]);
            usage(stderr);
            return AX_USAGE;
        }
        else {
            name = argv[i];
        }
    }
    if (!name) {
        ax_error("renew: which domain? (a name of an ACMEDomain)");
        usage(stderr);
        return AX_USAGE;
    }
    if ((rc = ax_load_conf(ctx)) != AX_OK) {
        return rc;
    }
    if (!(d = ax_domain(ctx, name))) {
        return AX_CONFIG;
    }
    return renew(ctx, d, force, wait, no_wait);
}
