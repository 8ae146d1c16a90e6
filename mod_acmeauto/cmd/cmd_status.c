/* acmeauto status [NAME] [--json]: what each managed domain has and does,
 * read from the store without the running server's help. The inputs
 * the status page gets from the parent are found here the way the
 * parent finds them (live/ checked as at start-up, the staged set and
 * the parent's verdict on it, the job's state under the fingerprint the
 * job uses); the rules and the JSON are the core's (acme_view.h), so
 * both say the same.
 *
 * Runs as root: live/ is root's. Everything the User can write is read
 * through acme_safe (no links, bounded, the expected owner). */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "acmeauto.h"
#include "acme_handoff.h"
#include "acme_json.h"
#include "acme_restart.h"
#include "acme_safe.h"
#include "acme_schedule.h"
#include "acme_state.h"
#include "acme_util.h"
#include "acme_view.h"

/* Longest last-error text on a line of the overview. */
#define SHORT_ERROR_MAX 60
/* Widest name column before names overflow their column. */
#define NAME_COLUMN_MAX 40

static const char *const usage_text =
    "usage: acmeauto status [NAME] [--json]\n\n"
    "Every managed domain on one line (name, state, key types, notAfter,\n"
    "when it renews, the last error); with NAME all about that domain;\n"
    "--json the objects the status page shows (README, \"Status page and\n"
    "server-status\").\n\n"
    "exit codes: 0 all is well or under way; 1 a domain is errored (its\n"
    "configuration needs a change) or expiring (10% of its lifetime or\n"
    "less is left); 3 no store, or NAME is not managed.\n";

/* The store's areas, opened once; -1 where missing or refused. */
typedef struct {
    int live, staging, state, handoff;
    const char *restart_note;    /* why a due restart waits, or NULL */
} areas_t;

static int open_area(ax_ctx_t *ctx, int base, acme_store_area_e area)
{
    int users = acme_store_area_is_users(area), fd = -1;
    acme_safe_e why = ACME_SAFE_OK;

    if (acme_safe_opendir(&fd, &why, base, acme_store_area_name(area),
                          users ? ctx->conf->uid : 0, !users)
        != APR_SUCCESS) {
        if (why != ACME_SAFE_MISSING) {
            ax_error("%s/%s %s: not read", ctx->store_dir,
                     acme_store_area_name(area), acme_safe_reason(why));
        }
        return -1;
    }
    return fd;
}

static apr_status_t open_areas(ax_ctx_t *ctx, areas_t *a)
{
    acme_safe_e why = ACME_SAFE_OK;
    int base;

    a->live = a->staging = a->state = a->handoff = -1;
    if (acme_safe_opendir(&base, &why, AT_FDCWD, ctx->store_dir, 0, 0)
        != APR_SUCCESS) {
        ax_error("cannot open the store %s: %s", ctx->store_dir,
                 acme_safe_reason(why));
        return APR_EGENERAL;
    }
    a->live = open_area(ctx, base, ACME_AREA_LIVE);
    a->staging = open_area(ctx, base, ACME_AREA_STAGING);
    a->state = open_area(ctx, base, ACME_AREA_STATE);
    a->handoff = open_area(ctx, base, ACME_AREA_HANDOFF);
    close(base);
    return APR_SUCCESS;
}

static void close_areas(areas_t *a)
{
    int *fds[] = { &a->live, &a->staging, &a->state, &a->handoff };
    size_t i;

    for (i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    }
}

/* A file of <area>/<key>/ (file NULL: <area>/name), read through
 * acme_safe; NULL when absent or refused. */
static char *read_in(apr_size_t *len, int area_fd, const char *key,
                     const char *file, uid_t owner, apr_size_t max,
                     apr_pool_t *p)
{
    acme_safe_e why;
    char *data = NULL;
    int dir = area_fd;

    if (area_fd < 0) {
        return NULL;
    }
    if (file && acme_safe_opendir(&dir, &why, area_fd, key, owner, 0)
                != APR_SUCCESS) {
        return NULL;
    }
    if (acme_safe_read(&data, len, &why, dir, file ? file : key, owner, max,
                       p) != APR_SUCCESS) {
        data = NULL;
    }
    if (file) {
        close(dir);
    }
    return data;
}

/* handoff/restart.json (acme_restart.h): the parent's word on a restart
 * that is due and waits. */
static void read_restart_note(ax_ctx_t *ctx, areas_t *a)
{
    acme_view_t v = { 0 };
    apr_size_t len = 0;
    char *data = read_in(&len, a->handoff, ACME_FN_RESTART_NOTE, NULL, 0,
                         ACME_RESTART_NOTE_MAX, ctx->pool);

    acme_view_restart_note(&v, ctx->pool, data, len);
    a->restart_note = v.restart_note;
}

/* --- the inputs, as the parent and the job find them ---------------- */

static int configured(const acme_conf_domain_t *d, acme_key_type_e t)
{
    int i;

    for (i = 0; i < d->key_types->nelts; i++) {
        if (APR_ARRAY_IDX(d->key_types, i, acme_key_type_e) == t) {
            return 1;
        }
    }
    return 0;
}

static int add_live(acme_view_t *v, apr_pool_t *p, int dir,
                    const acme_conf_domain_t *d, acme_key_type_e t,
                    apr_time_t now)
{
    const char *tn = acme_key_type_name(t);
    char *cert, *key;
    apr_size_t cert_len, key_len;
    acme_safe_e why;

    if (acme_safe_read(&cert, &cert_len, &why, dir,
                       acme_store_pem_name(p, tn, "cert"), 0,
                       ACME_STORE_FILE_MAX, p) != APR_SUCCESS
        || acme_safe_read(&key, &key_len, &why, dir,
                          acme_store_pem_name(p, tn, "key"), 0,
                          ACME_STORE_FILE_MAX, p) != APR_SUCCESS) {
        return 0;
    }
    return acme_view_live_add(v, p, t, cert, cert_len, key, key_len,
                              d->renew_pct, d->renew_left, now);
}

/* A certificate from a CA no longer in ACMEServer is replaced at once
 * (as the parent judges it: unknown origin passes). */
static int from_configured_ca(apr_pool_t *p, int dir,
                              const acme_conf_domain_t *d)
{
    const char *server;
    acme_safe_e why;
    char *data;
    apr_size_t len;
    json_t *j;
    int i;

    if (acme_safe_read(&data, &len, &why, dir, ACME_FN_LIVE, 0,
                       ACME_STORE_META_MAX, p) != APR_SUCCESS
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

/* Nothing of ours live, and the server started with a configured
 * SSLCertificateFile standing in: that is what is served (as the page
 * shows it). */
static void previous_stands_in(acme_view_t *v, const acme_conf_domain_t *d)
{
    if (v->is_live || !d->previous_file) {
        return;
    }
    v->cert_file = d->previous_file;
    v->cert_serial = d->previous_serial;
    v->cert_issuer = d->previous_issuer;
    v->cert_not_before = d->previous_not_before;
    v->cert_not_after = d->previous_not_after;
}

/* live/<key>/: configured key types first; another one only when it is
 * all there is (it keeps serving until its replacement is there). */
static void assess_live(acme_view_t *v, apr_pool_t *p, const areas_t *a,
                        const acme_conf_domain_t *d, apr_time_t now)
{
    acme_safe_e why;
    int dir, t, complete = 1;

    acme_view_live_reset(v, p);
    if (a->live < 0 || acme_safe_opendir(&dir, &why, a->live, d->key, 0, 0)
                       != APR_SUCCESS) {
        acme_view_live_done(v, 1);
        previous_stands_in(v, d);
        return;
    }
    for (t = ACME_KEY_RSA2048; t <= ACME_KEY_EC384; t++) {
        if (configured(d, t) && add_live(v, p, dir, d, t, now) != 2) {
            complete = 0;
        }
    }
    for (t = ACME_KEY_RSA2048; !v->live_types->nelts && t <= ACME_KEY_EC384;
         t++) {
        if (!configured(d, t)) {
            add_live(v, p, dir, d, t, now);
        }
    }
    if (v->live_types->nelts && !from_configured_ca(p, dir, d)) {
        complete = 0;
    }
    close(dir);
    acme_view_live_done(v, complete);
    previous_stands_in(v, d);
}

/* staging/<key>/staged.json against the parent's verdict: judged
 * (installed or rejected), nothing waits; otherwise acme_view_staged
 * tells held back from waiting for a restart by the parent's start
 * (config.json's "written"). */
static void assess_staged(acme_view_t *v, ax_ctx_t *ctx, apr_pool_t *p,
                          const areas_t *a, const acme_conf_domain_t *d,
                          apr_time_t now)
{
    apr_size_t len, hlen;
    char *meta = read_in(&len, a->staging, d->key, ACME_FN_STAGED,
                         ctx->conf->uid, ACME_STORE_META_MAX, p);
    char *verdict = read_in(&hlen, a->handoff,
                            acme_store_domain_file(p, d->key), NULL, 0,
                            ACME_STORE_META_MAX, p);
    acme_handoff_t h;
    json_t *j;

    if (!meta) {
        return;
    }
    if (verdict && acme_handoff_parse(&h, p, verdict, hlen) == APR_SUCCESS
        && !strcmp(h.staged, acme_staged_digest(p, meta, len))) {
        return;
    }
    j = acme_json_parse(p, meta, len);
    if (!j) {
        v->staged_unseen = 1;    /* the parent rejects it at its restart */
        return;
    }
    acme_view_staged(v, acme_time_from_stored(json_integer_value(
                         json_object_get(j, "staged"))),
                     ctx->conf->written, d->activation_delay, now);
}

/* state/<key>.json under the fingerprint the job keeps it (config.json
 * of an older module has none: then the file's own). */
static void load_state(acme_view_t *v, ax_ctx_t *ctx, apr_pool_t *p,
                       const areas_t *a, const acme_conf_domain_t *d,
                       apr_time_t now)
{
    const char *config = d->state_config;
    apr_size_t len;
    char *data = read_in(&len, a->state, acme_store_domain_file(p, d->key),
                         NULL, ctx->conf->uid, ACME_STATE_FILE_MAX, p);

    memset(&v->st, 0, sizeof(v->st));
    if (!data) {
        return;
    }
    if (!config) {
        config = acme_json_str(acme_json_parse(p, data, len), "config");
    }
    if (acme_state_parse(&v->st, p, data, len, config ? config : "",
                         v->ari_ids, now) != APR_SUCCESS) {
        memset(&v->st, 0, sizeof(v->st));
        return;
    }
    acme_json_pool_own(p, v->st.last_error ? json_incref(v->st.last_error)
                                           : NULL);
}

static void view_of(acme_view_t *v, ax_ctx_t *ctx, const areas_t *a,
                    const acme_conf_domain_t *d, apr_time_t now)
{
    apr_pool_t *p = ctx->pool;

    memset(v, 0, sizeof(*v));
    v->name = d->name;
    v->key = d->key;
    v->names = d->names;
    v->profile = d->profile;
    v->profile_mandatory = d->profile_mandatory;
    v->restart_note = a->restart_note;
    assess_live(v, p, a, d, now);
    assess_staged(v, ctx, p, a, d, now);
    load_state(v, ctx, p, a, d, now);
    acme_view_compute(v, now);
}

/* --- output ---------------------------------------------------------- */

/* "2026-03-01 12:00": minutes are enough to read. */
static const char *short_time(apr_pool_t *p, apr_time_t t)
{
    const char *iso = acme_view_time(p, t);

    return iso ? apr_psprintf(p, "%.10s %.5s", iso, iso + 11) : "-";
}

static const char *or_dash(const char *s)
{
    return s && *s ? s : "-";
}

static const char *error_long(apr_pool_t *p, const json_t *e)
{
    const char *type = acme_json_str(e, "type");

    if (!e) {
        return NULL;
    }
    return apr_psprintf(p, "%s: %s: %s%s%s", or_dash(acme_json_str(e, "kind")),
                        or_dash(acme_json_str(e, "activity")),
                        type ? type : "", type ? ": " : "",
                        or_dash(acme_json_str(e, "detail")));
}

/* Cut at SHORT_ERROR_MAX bytes, on a UTF-8 character boundary. */
static const char *error_short(apr_pool_t *p, const json_t *e)
{
    const char *type = acme_json_str(e, "type");
    const char *s;
    apr_size_t n;

    if (!e) {
        return "";
    }
    s = apr_psprintf(p, "%s: %s", type ? type : or_dash(acme_json_str(e,
                     "kind")), or_dash(acme_json_str(e, "detail")));
    if (strlen(s) <= SHORT_ERROR_MAX) {
        return s;
    }
    n = SHORT_ERROR_MAX - 3;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) {
        n--;
    }
    return apr_pstrcat(p, apr_pstrndup(p, s, n), "...", NULL);
}

static const char *renew_text(apr_pool_t *p, const acme_view_t *v)
{
    if (!v->renew_from) {
        return "-";
    }
    if (!v->renew_at) {
        return apr_pstrcat(p, "now (", v->renew_from, ")", NULL);
    }
    return apr_pstrcat(p, short_time(p, v->renew_at), " (", v->renew_from,
                       ")", NULL);
}

static void print_table(apr_pool_t *p, const apr_array_header_t *views)
{
    int i, w = 4;

    for (i = 0; i < views->nelts; i++) {
        int n = (int)strlen(APR_ARRAY_IDX(views, i, acme_view_t).name);
        w = n > w ? (n > NAME_COLUMN_MAX ? NAME_COLUMN_MAX : n) : w;
    }
    printf("%-*s  %-9s  %-15s  %-16s  %-24s  %s\n", w, "NAME", "STATE",
           "KEY TYPES", "NOT AFTER", "RENEW AT", "LAST ERROR");
    for (i = 0; i < views->nelts; i++) {
        const acme_view_t *v = &APR_ARRAY_IDX(views, i, acme_view_t);
        const char *types = acme_view_types(p, v);
        const char *error = error_short(p, v->st.last_error);

        printf("%-*s  %-9s  %-15s  %-16s  %-*s%s%s\n", w, v->name,
               v->state, *types ? types : "-",
               short_time(p, v->cert_not_after), *error ? 24 : 0,
               renew_text(p, v), *error ? "  " : "", error);
    }
}

static void print_one(apr_pool_t *p, const acme_view_t *v,
                      const acme_conf_domain_t *d)
{
    const json_t *e = v->st.last_error;
    const char *types = acme_view_types(p, v);

    printf("name:            %s\n", v->name);
    printf("names:           %s\n", acme_str_join(p, v->names, " "));
    printf("store key:       %s\n", v->key);
    printf("state:           %s\n", v->state);
    printf("CA:              %s\n", acme_str_join(p, d->servers, " "));
    printf("key types:       %s (configured: %s)\n", *types ? types : "-",
           acme_view_types(p, &(acme_view_t){ .live_types = d->key_types }));
    if (v->cert_file) {
        printf("served from:     %s (SSLCertificateFile, until the "
               "module's certificate is live)\n", v->cert_file);
    }
    if (v->cert_serial) {
        printf("serial:          %s\n", v->cert_serial);
        printf("issuer:          %s\n", or_dash(v->cert_issuer));
        printf("not before:      %s\n", acme_view_time(p,
                                                       v->cert_not_before));
        printf("not after:       %s\n", acme_view_time(p,
                                                       v->cert_not_after));
    }
    else {
        printf("certificate:     none live\n");
    }
    printf("renew at:        %s\n", !v->renew_from ? "-" : !v->renew_at
           ? apr_pstrcat(p, "now (", v->renew_from, ")", NULL)
           : apr_pstrcat(p, acme_view_time(p, v->renew_at), " (",
                         v->renew_from, ")", NULL));
    printf("expiring:        %s\n", v->expiring ? "yes" : "no");
    printf("restart pending: %s%s%s\n", v->restart_pending ? "yes" : "no",
           v->restart_blocked ? ": " : "",
           v->restart_blocked ? v->restart_blocked : "");
    printf("held until:      %s\n",
           or_dash(acme_view_time(p, v->held_until)));
    printf("failures:        %d\n", v->st.failures);
    printf("next attempt:    %s\n",
           or_dash(acme_view_time(p, v->st.next_attempt)));
    if (e) {
        apr_time_t at = apr_time_from_sec(json_integer_value(
            json_object_get(e, "at")));

        printf("last error:      %s\n", error_long(p, e));
        printf("  at:            %s\n", or_dash(acme_view_time(p, at)));
        if (acme_json_str(e, "hint")) {
            printf("  what to do:    %s\n", acme_json_str(e, "hint"));
        }
    }
    else {
        printf("last error:      -\n");
    }
}

static int print_json(apr_pool_t *p, const apr_array_header_t *views,
                      int one)
{
    json_t *all = acme_json_pool_own(p, json_array());
    const char *text;
    int i;

    for (i = 0; i < views->nelts; i++) {
        json_array_append_new(all, acme_view_to_json(p,
            &APR_ARRAY_IDX(views, i, acme_view_t)));
    }
    text = acme_json_dump(p, one ? json_array_get(all, 0)
                          : acme_json_pool_own(p, json_pack("{s:O}",
                                                            "domains", all)));
    if (!text) {
        ax_error("cannot write the JSON");
        return AX_FAILED;
    }
    printf("%s\n", text);
    return AX_OK;
}

/* --- the command ----------------------------------------------------- */

int ax_cmd_status(ax_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_array_header_t *views;
    acme_conf_domain_t *only = NULL;
    const char *name = NULL;
    apr_time_t now;
    areas_t a;
    int i, json = 0, rc = AX_OK;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return AX_OK;
        }
        if (!strcmp(argv[i], "--json")) {
            json = 1;
        }
        else if (argv[i][0] != '-' && !name) {
            name = argv[i];
        }
        else {
            ax_error("status: unexpected argument %s", argv[i]);
            fputs(usage_text, stderr);
            return AX_USAGE;
        }
    }
    if ((rc = ax_load_conf(ctx)) != AX_OK) {
        return rc;
    }
    if (name && !(only = ax_domain(ctx, name))) {
        return AX_CONFIG;
    }
    if (geteuid() != 0) {
        ax_error("status reads the live certificates in %s/live, which only "
                 "root may: run it as root", ctx->store_dir);
        return AX_CONFIG;
    }
    if (open_areas(ctx, &a) != APR_SUCCESS) {
        return AX_CONFIG;
    }
    read_restart_note(ctx, &a);
    now = apr_time_now();
    views = apr_array_make(ctx->pool, ctx->conf->domains->nelts,
                           sizeof(acme_view_t));
    for (i = 0; i < ctx->conf->domains->nelts; i++) {
        acme_conf_domain_t *d = APR_ARRAY_IDX(ctx->conf->domains, i,
                                              acme_conf_domain_t *);
        if (!only || d == only) {
            view_of(apr_array_push(views), ctx, &a, d, now);
        }
    }
    close_areas(&a);
    rc = AX_OK;
    for (i = 0; i < views->nelts; i++) {
        const acme_view_t *v = &APR_ARRAY_IDX(views, i, acme_view_t);
        if (!strcmp(v->state, "errored") || v->expiring) {
            rc = AX_FAILED;
        }
    }
    if (json) {
        return print_json(ctx->pool, views, only != NULL) == AX_OK ? rc
                                                                  : AX_FAILED;
    }
    if (only) {
        print_one(ctx->pool, &APR_ARRAY_IDX(views, 0, acme_view_t), only);
    }
    else {
        print_table(ctx->pool, views);
    }
    return rc;
}
