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
#include "acme_state.h"
#include "acme_store.h"
#include "acme_util.h"

#define AA_STATUS_HANDLER "acme-status"

/* One domain as the page shows it. */
typedef struct {
    const aa_domain_t *d;
    acme_state_t st;
    const char *state;        /* valid, pending, renewing, errored, held back */
    apr_time_t renew_at;      /* 0: none */
    const char *renew_from;   /* "window", "ari", "now" or NULL */
    int restart_pending;      /* a staged set waits for a restart */
    int expiring;
} view_t;

static const char *iso_time(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;
    apr_size_t len;
    char buf[32];

    if (t <= 0 || apr_time_exp_gmt(&tm, t) != APR_SUCCESS
        || apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm)
           != APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrdup(p, buf);
}

static void load_state(view_t *v, apr_pool_t *p, const aa_global_t *g,
                       apr_time_t now)
{
    char *data;
    apr_size_t len;

    memset(&v->st, 0, sizeof(v->st));
    if (acme_store_read(&data, &len, aa_state_path(p, g, v->d),
                        ACME_STATE_FILE_MAX, p) != APR_SUCCESS
        || acme_state_parse(&v->st, p, data, len,
                            aa_state_fingerprint(p, v->d),
                            aa_ari_ids(v->d, p), now) != APR_SUCCESS) {
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

static int config_error(const json_t *last_error)
{
    const char *kind = acme_json_str(last_error, "kind");

    return kind && !strcmp(kind, "configuration");
}

static const char *state_of(const view_t *v, apr_time_t now)
{
    if (v->d->held_until > now && !v->restart_pending) {
        return "held back";
    }
    if (v->st.last_error && config_error(v->st.last_error)) {
        return "errored";
    }
    if (!v->d->is_live) {
        return "pending";
    }
    if (v->restart_pending || v->renew_at <= now) {
        return "renewing";
    }
    return "valid";
}

static void view_of(view_t *v, apr_pool_t *p, const aa_global_t *g,
                    const aa_domain_t *d, apr_time_t now)
{
    v->d = d;
    load_state(v, p, g, now);
    v->renew_at = d->renew_at;
    v->renew_from = d->is_live ? (d->renew_at ? "window" : "now") : NULL;
    if (d->is_live && v->st.ari.renew_at) {
        v->renew_at = v->st.ari.renew_at;
        v->renew_from = "ari";
    }
    v->restart_pending = g->store && staged_waiting(p, g, d);
    v->expiring = d->is_live && d->expiring_at && now >= d->expiring_at;
    v->state = state_of(v, now);
}

/* ---- JSON ---- */

static json_t *json_time(apr_pool_t *p, apr_time_t t)
{
    const char *s = iso_time(p, t);

    return s ? json_string(s) : json_null();
}

static json_t *json_str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *json_names(const apr_array_header_t *names)
{
    json_t *a = json_array();
    int i;

    for (i = 0; names && i < names->nelts; i++) {
        json_array_append_new(a, json_string(APR_ARRAY_IDX(names, i,
                                                           const char *)));
    }
    return a;
}

static json_t *json_key_types(const apr_array_header_t *types)
{
    json_t *a = json_array();
    int i;

    for (i = 0; types && i < types->nelts; i++) {
        json_array_append_new(a, json_string(acme_key_type_name(
            APR_ARRAY_IDX(types, i, acme_key_type_e))));
    }
    return a;
}

static json_t *json_cert(apr_pool_t *p, const aa_domain_t *d)
{
    if (!d->is_live || !d->cert_serial) {
        return json_null();
    }
    return json_pack("{s:s, s:s, s:o, s:o}", "serial", d->cert_serial,
                     "issuer", d->cert_issuer ? d->cert_issuer : "",
                     "not_before", json_time(p, d->cert_not_before),
                     "not_after", json_time(p, d->cert_not_after));
}

static json_t *json_error(apr_pool_t *p, const json_t *e)
{
    json_int_t at = json_integer_value(json_object_get(e, "at"));

    if (!e) {
        return json_null();
    }
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:I, s:o}",
        "type", json_str_or_null(acme_json_str(e, "type")),
        "detail", json_str_or_null(acme_json_str(e, "detail")),
        "activity", json_str_or_null(acme_json_str(e, "activity")),
        "hint", json_str_or_null(acme_json_str(e, "hint")),
        "kind", json_str_or_null(acme_json_str(e, "kind")),
        "http_status", json_integer_value(json_object_get(e, "http_status")),
        "at", json_time(p, apr_time_from_sec(at)));
}

static json_t *view_json(apr_pool_t *p, const view_t *v)
{
    const aa_domain_t *d = v->d;

    return json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:i, "
                     "s:o, s:b, s:o, s:b}",
        "name", d->name, "key", d->key ? d->key : "",
        "names", json_names(d->names), "state", v->state,
        "key_types", json_key_types(d->live_types),
        "certificate", json_cert(p, d),
        "renew_at", json_time(p, v->renew_at),
        "renew_from", json_str_or_null(v->renew_from),
        "next_attempt", json_time(p, v->st.next_attempt),
        "failures", v->st.failures,
        "last_error", json_error(p, v->st.last_error),
        "restart_pending", v->restart_pending,
        "held_until", json_time(p, v->d->held_until),
        "expiring", v->expiring);
}

/* ---- HTML ---- */

static const char *esc(request_rec *r, const char *s)
{
    return s ? ap_escape_html(r->pool, s) : "";
}

static const char *types_text(apr_pool_t *p, const apr_array_header_t *t)
{
    const char *s = "";
    int i;

    for (i = 0; t && i < t->nelts; i++) {
        s = apr_pstrcat(p, s, i ? " " : "", acme_key_type_name(
            APR_ARRAY_IDX(t, i, acme_key_type_e)), NULL);
    }
    return s;
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

static const char *renew_text(request_rec *r, const view_t *v)
{
    if (!v->renew_from) {
        return "";
    }
    return apr_pstrcat(r->pool, esc(r, iso_time(r->pool, v->renew_at)), " (",
                       v->renew_from, ")", NULL);
}

static const char *wait_text(request_rec *r, const view_t *v)
{
    if (v->restart_pending) {
        return "restart needed";
    }
    if (!strcmp(v->state, "held back")) {
        return apr_pstrcat(r->pool, "held back until ",
                           iso_time(r->pool, v->d->held_until), NULL);
    }
    return "";
}

static void html_row(request_rec *r, const view_t *v)
{
    const aa_domain_t *d = v->d;

    ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
        "<td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
        "<td>%d</td><td>%s</td><td>%s</td></tr>\n",
        esc(r, acme_str_join(r->pool, d->names, " ")), esc(r, d->key),
        esc(r, v->state), esc(r, types_text(r->pool, d->live_types)),
        esc(r, d->is_live ? d->cert_serial : NULL),
        esc(r, d->is_live ? d->cert_issuer : NULL),
        esc(r, iso_time(r->pool, d->is_live ? d->cert_not_before : 0)),
        esc(r, iso_time(r->pool, d->is_live ? d->cert_not_after : 0)),
        renew_text(r, v), esc(r, iso_time(r->pool, v->st.next_attempt)),
        v->st.failures, error_text(r, v->st.last_error),
        esc(r, wait_text(r, v)));
}

static void html_page(request_rec *r, const apr_array_header_t *views)
{
    int i;

    ap_set_content_type(r, "text/html; charset=utf-8");
    ap_rputs(DOCTYPE_HTML_4_01 "<html><head><title>Managed certificates"
             "</title></head><body><h1>Managed certificates</h1>\n"
             "<table border=\"1\"><tr><th>Names</th><th>Store key</th>"
             "<th>State</th><th>Key types</th><th>Serial</th><th>Issuer</th>"
             "<th>Not before</th><th>Not after</th><th>Renew at</th>"
             "<th>Next attempt</th><th>Failures</th><th>Last error</th>"
             "<th>Activation</th></tr>\n", r);
    for (i = 0; i < views->nelts; i++) {
        html_row(r, &APR_ARRAY_IDX(views, i, view_t));
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
    apr_array_header_t *views = apr_array_make(r->pool, 8, sizeof(view_t));
    apr_time_t now = apr_time_now();
    const aa_domain_t *d;
    int i;

    for (i = 0; g && g->domains && i < g->domains->nelts; i++) {
        d = APR_ARRAY_IDX(g->domains, i, const aa_domain_t *);
        if (!name || matches(d, name)) {
            view_of(apr_array_push(views), r->pool, g, d, now);
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
        json_array_append_new(all, view_json(r->pool,
                                             &APR_ARRAY_IDX(views, i, view_t)));
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
        const view_t *v = &APR_ARRAY_IDX(views, i, view_t);
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
        const view_t *v = &APR_ARRAY_IDX(views, i, view_t);
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                   "</tr>\n", esc(r, acme_str_join(r->pool, v->d->names, " ")),
                   esc(r, v->state), esc(r, iso_time(r->pool, v->d->is_live
                   ? v->d->cert_not_after : 0)), renew_text(r, v));
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
