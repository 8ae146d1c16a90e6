/* What the administrator sees (SPEC.md §4): the acme-status handler (an
 * HTML table or JSON, all domains or one) and a section in mod_status's
 * server-status. Runs in a child: what the parent learned at start-up is
 * in each aa_domain_t, the job's state in state/<key>.json. Nothing here
 * reads a key or an EAB value, so no secret can appear. */
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <httpd.h>
#include <http_config.h>
#include <http_protocol.h>
#include <http_request.h>
#include <jansson.h>

#include "aa_status.h"
#include "aa_activate.h"
#include "aa_ari.h"
#include "aa_watchdog.h"
#include "acme_json.h"
#include "acme_restart.h"
#include "acme_state.h"
#include "acme_store.h"
#include "acme_util.h"
#include "acme_view.h"

#define AA_STATUS_HANDLER "acme-status"

/* The page's inputs: what the parent found at start-up (aa_domain_t),
 * the job's state file, and whether a staged set appeared since. The
 * rules and the JSON are the core's (acme_view.h), shared with
 * `acmeauto status`. */
static void load_state(acme_view_t *v, apr_pool_t *p, const aa_global_t *g,
                       const aa_domain_t *d, apr_time_t now)
{
    char *data;
    apr_size_t len;

    memset(&v->st, 0, sizeof(v->st));
    if (acme_store_read(&data, &len, aa_state_path(p, g, d),
                        ACME_STATE_FILE_MAX, p) != APR_SUCCESS
        || acme_state_parse(&v->st, p, data, len,
                            aa_state_fingerprint(p, d), v->ari_ids, now)
           != APR_SUCCESS) {
        memset(&v->st, 0, sizeof(v->st));
        return;
    }
    acme_json_pool_own(p, v->st.last_error ? json_incref(v->st.last_error)
                                           : NULL);
}

/* A staged.json other than the one the parent judged at start-up: a new
 * set waits for the next restart. */
static int staged_waiting(apr_pool_t *p, const aa_global_t *g,
                          const aa_domain_t *d)
{
    char *data;
    apr_size_t len;

    return acme_store_read(&data, &len, acme_store_path(p, g->store,
               ACME_AREA_STAGING, d->key, ACME_FN_STAGED),
               ACME_STORE_META_MAX, p) == APR_SUCCESS
        && !aa_staged_seen(d, data, len);
}

/* handoff/restart.json, or NULL (acme_restart.h). */
static const char *restart_note(apr_pool_t *p, const aa_global_t *g,
                                apr_size_t *len)
{
    char *data;

    return g->store && acme_store_read(&data, len, acme_store_path(p,
               g->store, ACME_AREA_HANDOFF, ACME_FN_RESTART_NOTE, NULL),
               ACME_RESTART_NOTE_MAX, p) == APR_SUCCESS ? data : NULL;
}

static void view_of(acme_view_t *v, apr_pool_t *p, const aa_global_t *g,
                    const aa_domain_t *d, apr_time_t now, const char *note,
                    apr_size_t note_len)
{
    memset(v, 0, sizeof(*v));
    acme_view_restart_note(v, p, note, note_len);
    v->name = d->name;
    v->key = d->key;
    v->names = d->names;
    v->profile = d->spec.profile;
    v->profile_mandatory = d->spec.profile_mandatory;
    v->is_live = d->is_live;
    v->live_types = d->live_types;
    v->ari_ids = aa_ari_ids(d, p);
    v->window_at = d->renew_at;
    v->expiring_at = d->expiring_at;
    if (d->is_live) {
        v->cert_serial = d->cert_serial;
        v->cert_issuer = d->cert_issuer;
        v->cert_not_before = d->cert_not_before;
        v->cert_not_after = d->cert_not_after;
    }
    else if (d->previous_file) {
        v->cert_file = d->previous_file;
        v->cert_serial = d->previous_serial;
        v->cert_issuer = d->previous_issuer;
        v->cert_not_before = d->previous_not_before;
        v->cert_not_after = d->previous_not_after;
    }
    v->staged_unseen = g->store && staged_waiting(p, g, d);
    v->held_until = d->held_until;
    load_state(v, p, g, d, now);
    acme_view_compute(v, now);
}

/* ---- HTML ---- */

static const char *esc(request_rec *r, const char *s)
{
    return s ? ap_escape_html(r->pool, s) : "";
}

static const char *error_text(request_rec *r, const json_t *e)
{
    if (!e) {
        return "";
    }
    return apr_pstrcat(r->pool, esc(r, acme_json_str(e, "kind")), ": ",
        esc(r, acme_json_str(e, "activity")), ": ",
        esc(r, acme_json_str(e, "type")), " ",
        esc(r, acme_json_str(e, "detail")), "<br>",
        esc(r, acme_json_str(e, "hint")), NULL);
}

/* A time the browser may wrap after its "T" (<wbr> adds no text, so the
 * cell still reads as the JSON's value): four time columns then fit. */
static const char *time_html(request_rec *r, apr_time_t t)
{
    const char *s = esc(r, acme_view_time(r->pool, t));
    const char *tee = s ? strchr(s, 'T') : NULL;

    return tee ? apr_pstrcat(r->pool, apr_pstrndup(r->pool, s, tee - s + 1),
                             "<wbr>", tee + 1, NULL) : "";
}

static const char *renew_text(request_rec *r, const acme_view_t *v)
{
    if (!v->renew_from) {
        return "";
    }
    return apr_pstrcat(r->pool, time_html(r, v->renew_at), " (",
                       v->renew_from, ")", NULL);
}

static const char *wait_text(request_rec *r, const acme_view_t *v)
{
    if (v->restart_blocked) {
        return apr_pstrcat(r->pool, "restart needed: ",
                           esc(r, v->restart_blocked), NULL);
    }
    if (v->restart_pending) {
        return "restart needed";
    }
    if (!strcmp(v->state, "held back")) {
        return apr_pstrcat(r->pool, "held back until ",
                           esc(r, acme_view_time(r->pool, v->held_until)),
                           NULL);
    }
    return "";
}

/* The store key only where it is not the first name (a hover text). */
static const char *key_title(request_rec *r, const acme_view_t *v)
{
    const char *first = v->names->nelts
        ? APR_ARRAY_IDX(v->names, 0, const char *) : "";

    return v->key && strcmp(v->key, first)
        ? apr_pstrcat(r->pool, " title=\"store key: ", esc(r, v->key), "\"",
                      NULL) : "";
}

static void html_row(request_rec *r, const acme_view_t *v)
{
    ap_rprintf(r, "<tr class=\"%s\"><td%s>%s</td><td class=\"w\">%s</td>"
        "<td class=\"k\">%s</td><td class=\"x\">%s</td><td>%s</td>"
        "<td class=\"t\">%s</td><td class=\"t\">%s</td>"
        "<td class=\"t\">%s</td><td class=\"t\">%s</td>"
        "<td class=\"w\">%d</td><td>%s</td><td>%s</td></tr>\n",
        strcmp(v->state, "held back") ? v->state : "held",
        key_title(r, v), esc(r, acme_str_join(r->pool, v->names, " ")),
        esc(r, v->state), esc(r, acme_view_types(r->pool, v)),
        esc(r, v->cert_serial), apr_pstrcat(r->pool, esc(r, v->cert_issuer),
        v->is_live || !v->cert_file ? "" : " (SSLCertificateFile, until the "
        "module's own is live)", NULL),
        time_html(r, v->cert_not_before), time_html(r, v->cert_not_after),
        renew_text(r, v), time_html(r, v->st.next_attempt),
        v->st.failures, error_text(r, v->st.last_error), wait_text(r, v));
}

/* What needs the administrator first: errors, then what waits, then the
 * rest, each in configuration order. */
static int urgency(const acme_view_t *v)
{
    static const char *const order[] = { "errored", "held back", "renewing",
                                         "pending", NULL };
    int i;

    for (i = 0; order[i] && strcmp(v->state, order[i]); i++) {
    }
    return v->expiring && i > 1 ? 1 : i;
}

static void html_page(request_rec *r, const apr_array_header_t *views)
{
    static const char *const states[] = { "valid", "pending", "renewing",
                                          "held back", "errored", NULL };
    int i, k, level;

    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs(DOCTYPE_HTML_4_01 "<html><head><title>Managed certificates"
             "</title><style>\n"
             "body{font:13px/1.35 sans-serif;margin:10px}\n"
             "table{border-collapse:collapse;width:100%}\n"
             "th,td{border:1px solid #bbb;padding:2px 4px;text-align:left;"
             "vertical-align:top;overflow-wrap:anywhere}\n"
             "th{background:#e8e8e8;overflow-wrap:normal}\n"
             "td.t{overflow-wrap:normal;min-width:5.5em}\n"
             "td.k{overflow-wrap:normal}\n"
             "td.w{overflow-wrap:normal;white-space:nowrap}\n"
             "td.x{font-family:monospace;font-size:12px}\n"
             "tr.errored td{background:#fde2e2}\n"
             "tr.held td,tr.renewing td{background:#fff6d5}\n"
             "tr.pending td{background:#f2f2f2}\n"
             "</style></head><body><h1>Managed certificates</h1>\n<p>", r);
    ap_rprintf(r, "%d domain%s", views->nelts, views->nelts == 1 ? "" : "s");
    for (k = 0; states[k]; k++) {
        int n = 0;
        for (i = 0; i < views->nelts; i++) {
            n += !strcmp(APR_ARRAY_IDX(views, i, acme_view_t).state,
                         states[k]);
        }
        if (n) {
            ap_rprintf(r, ", %d %s", n, states[k]);
        }
    }
    ap_rputs("</p>\n<table><tr><th>Names</th><th>State</th>"
             "<th>Key types</th><th>Serial</th><th>Issuer</th>"
             "<th>Not before</th><th>Not after</th><th>Renew at</th>"
             "<th>Next attempt</th><th>Failures</th><th>Last error</th>"
             "<th>Activation</th></tr>\n", r);
    for (level = 0; level <= 4; level++) {
        for (i = 0; i < views->nelts; i++) {
            const acme_view_t *v = &APR_ARRAY_IDX(views, i, acme_view_t);
            if (urgency(v) == level) {
                html_row(r, v);
            }
        }
    }
    ap_rputs("</table></body></html>\n", r);
}

/* ---- the handler ---- */

static int wants_json(const request_rec *r)
{
    const char *accept = apr_table_get(r->headers_in, "Accept");

    return (r->args && !strcmp(r->args, "json"))
           || (accept && ap_strstr_c(accept, "application/json"));
}

static int matches(const aa_domain_t *d, const char *name)
{
    int i;

    if (d->key && !strcasecmp(d->key, name)) {
        return 1;
    }
    for (i = 0; i < d->names->nelts; i++) {
        if (!strcasecmp(APR_ARRAY_IDX(d->names, i, const char *), name)) {
            return 1;
        }
    }
    return 0;
}

/* The views of all domains, or of the one NAME names (empty if none). */
static apr_array_header_t *views_for(request_rec *r, const aa_global_t *g,
                                     const char *name)
{
    apr_array_header_t *views = apr_array_make(r->pool, 8,
                                               sizeof(acme_view_t));
    apr_time_t now = apr_time_now();
    const aa_domain_t *d;
    const char *note = NULL;
    apr_size_t note_len = 0;
    int i;

    if (g && g->domains && g->domains->nelts) {
        note = restart_note(r->pool, g, &note_len);
    }
    for (i = 0; g && g->domains && i < g->domains->nelts; i++) {
        d = APR_ARRAY_IDX(g->domains, i, const aa_domain_t *);
        if (!name || matches(d, name)) {
            view_of(apr_array_push(views), r->pool, g, d, now, note,
                    note_len);
        }
    }
    return views;
}

static int send_json(request_rec *r, const apr_array_header_t *views,
                     int one)
{
    json_t *all = json_array();
    int i;

    acme_json_pool_own(r->pool, all);
    for (i = 0; i < views->nelts; i++) {
        json_array_append_new(all, acme_view_to_json(r->pool,
            &APR_ARRAY_IDX(views, i, acme_view_t)));
    }
    ap_set_content_type(r, "application/json");
    ap_rputs(acme_json_dump(r->pool, one ? json_array_get(all, 0)
             : acme_json_pool_own(r->pool, json_pack("{s:O}", "domains",
                                                       all))), r);
    ap_rputs("\n", r);
    return OK;
}

int aa_status_handler(request_rec *r)
{
    const char *name = NULL;
    apr_array_header_t *views;

    if (!r->handler || strcmp(r->handler, AA_STATUS_HANDLER)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) {
        r->allowed = AP_METHOD_BIT << M_GET;
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (r->path_info && *r->path_info && strcmp(r->path_info, "/")) {
        name = r->path_info + 1;
    }
    views = views_for(r, aa_global(), name);
    if (name && views->nelts == 0) {
        return HTTP_NOT_FOUND;
    }
    if (r->header_only) {
        return OK;
    }
    if (wants_json(r)) {
        return send_json(r, views, name != NULL);
    }
    html_page(r, views);
    return OK;
}

/* ---- server-status ---- */

typedef struct {
    int total, valid, renewing, errored, expiring;
} counts_t;

static void count(counts_t *c, const apr_array_header_t *views)
{
    int i;

    memset(c, 0, sizeof(*c));
    for (i = 0; i < views->nelts; i++) {
        const acme_view_t *v = &APR_ARRAY_IDX(views, i, acme_view_t);
        c->total++;
        c->valid += !strcmp(v->state, "valid");
        c->renewing += !strcmp(v->state, "renewing");
        c->errored += !strcmp(v->state, "errored");
        c->expiring += v->expiring;
    }
}

static void status_short(request_rec *r, const counts_t *c)
{
    ap_rprintf(r, "ACMECertificatesTotal: %d\nACMECertificatesValid: %d\n"
               "ACMECertificatesRenewing: %d\nACMECertificatesErrored: %d\n"
               "ACMECertificatesExpiring: %d\n", c->total, c->valid,
               c->renewing, c->errored, c->expiring);
}

static void status_html(request_rec *r, const apr_array_header_t *views,
                        const counts_t *c)
{
    int i;

    ap_rprintf(r, "<hr>\n<h2>Managed certificates</h2>\n<p>%d total, %d "
               "valid, %d renewing, %d errored, %d expiring</p>\n<table "
               "border=\"0\"><tr><th>Names</th><th>State</th><th>Not after"
               "</th><th>Renew at</th></tr>\n", c->total, c->valid,
               c->renewing, c->errored, c->expiring);
    for (i = 0; i < views->nelts; i++) {
        const acme_view_t *v = &APR_ARRAY_IDX(views, i, acme_view_t);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                   "</tr>\n", esc(r, acme_str_join(r->pool, v->names, " ")),
                   esc(r, v->state), esc(r, acme_view_time(r->pool,
                   v->cert_not_after)), renew_text(r, v));
    }
    ap_rputs("</table>\n", r);
}

int aa_status_hook(request_rec *r, int flags)
{
    aa_global_t *g = aa_global();
    apr_array_header_t *views;
    counts_t c;

    if (!g || !g->status) {
        return OK;
    }
    views = views_for(r, g, NULL);
    count(&c, views);
    if (flags & AP_STATUS_SHORT) {
        status_short(r, &c);
    }
    else {
        status_html(r, views, &c);
    }
    return OK;
}
