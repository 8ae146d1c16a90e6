#include <string.h>
#include <apr_strings.h>

#include "acme_view.h"
#include "acme_json.h"
#include "acme_restart.h"
#include "acme_schedule.h"

/* --- the rules ------------------------------------------------------- */

static int config_error(const json_t *last_error)
{
    const char *kind = acme_json_str(last_error, "kind");

    return kind && !strcmp(kind, "configuration");
}

void acme_view_compute(acme_view_t *v, apr_time_t now)
{
    v->renew_at = 0;
    v->renew_from = NULL;
    if (v->is_live) {
        v->renew_at = v->window_at;
        v->renew_from = v->window_at ? "window" : "now";
        if (v->st.ari.renew_at) {
            v->renew_at = v->st.ari.renew_at;
            v->renew_from = "ari";
        }
    }
    /* A hold that has run out waits for the restart that installs it. */
    v->restart_pending = v->staged_unseen
                         || (v->held_until && v->held_until <= now);
    v->restart_blocked = v->restart_pending ? v->restart_note : NULL;
    v->expiring = v->is_live && v->expiring_at && now >= v->expiring_at;
    if (v->held_until > now && !v->staged_unseen) {
        v->state = "held back";
    }
    else if (v->st.last_error && config_error(v->st.last_error)) {
        v->state = "errored";
    }
    else if (!v->is_live) {
        v->state = "pending";
    }
    else if (v->restart_pending || v->renew_at <= now) {
        v->state = "renewing";
    }
    else {
        v->state = "valid";
    }
}

void acme_view_staged(acme_view_t *v, apr_time_t staged,
                      apr_time_t parent_start, apr_interval_time_t delay,
                      apr_time_t now)
{
    apr_time_t release;

    staged = acme_time_clamp(staged, 0, now);
    release = acme_time_add(staged, delay);
    if (staged <= parent_start && v->is_live && delay > 0
        && release > parent_start) {
        v->held_until = release;
        v->staged_unseen = 0;
        return;
    }
    v->held_until = 0;
    v->staged_unseen = 1;
}

void acme_view_restart_note(acme_view_t *v, apr_pool_t *p, const char *data,
                            apr_size_t len)
{
    acme_restart_note_t n;

    v->restart_note = data && acme_restart_note_parse(&n, p, data, len)
                              == APR_SUCCESS
        ? acme_restart_note_text(p, &n) : NULL;
}

/* --- JSON ------------------------------------------------------------ */

const char *acme_view_time(apr_pool_t *p, apr_time_t t)
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

const char *acme_view_types(apr_pool_t *p, const acme_view_t *v)
{
    const char *s = "";
    int i;

    for (i = 0; v->live_types && i < v->live_types->nelts; i++) {
        s = apr_pstrcat(p, s, i ? " " : "", acme_key_type_name(
            APR_ARRAY_IDX(v->live_types, i, acme_key_type_e)), NULL);
    }
    return s;
}

static json_t *json_time(apr_pool_t *p, apr_time_t t)
{
    const char *s = acme_view_time(p, t);

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

/* "source" says whose certificate is served: the module's ("live") or,
 * until it has one, a configured "SSLCertificateFile" ("file"). */
static json_t *json_cert(apr_pool_t *p, const acme_view_t *v)
{
    int live = v->is_live;

    if (!v->cert_serial || (!live && !v->cert_file)) {
        return json_null();
    }
    return json_pack("{s:s, s:s, s:o, s:o, s:s, s:o}", "serial",
                     v->cert_serial,
                     "issuer", v->cert_issuer ? v->cert_issuer : "",
                     "not_before", json_time(p, v->cert_not_before),
                     "not_after", json_time(p, v->cert_not_after),
                     "source", live ? "live" : "SSLCertificateFile",
                     "file", json_str_or_null(live ? NULL : v->cert_file));
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

json_t *acme_view_to_json(apr_pool_t *p, const acme_view_t *v)
{
    json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:i, "
                     "s:o, s:b, s:o, s:b, s:o}",
        "name", v->name ? v->name : "", "key", v->key ? v->key : "",
        "names", json_names(v->names),
        "state", v->state ? v->state : "",
        "key_types", json_key_types(v->is_live ? v->live_types : NULL),
        "certificate", json_cert(p, v),
        "renew_at", json_time(p, v->renew_at),
        "renew_from", json_str_or_null(v->renew_from),
        "next_attempt", json_time(p, v->st.next_attempt),
        "failures", v->st.failures,
        "last_error", json_error(p, v->st.last_error),
        "restart_pending", v->restart_pending,
        "held_until", json_time(p, v->held_until),
        "expiring", v->expiring,
        "restart_blocked", json_str_or_null(v->restart_blocked));

    /* The profile the job orders; whether the CA offers it, the log and
     * last_error say. */
    if (j) {
        json_object_set_new(j, "profile", v->profile ? json_pack("{s:s,s:b}",
            "name", v->profile, "mandatory", v->profile_mandatory)
            : json_null());
    }
    return j;
}

/* --- what is live ---------------------------------------------------- */

void acme_view_live_reset(acme_view_t *v, apr_pool_t *p)
{
    v->is_live = 0;
    v->live_types = apr_array_make(p, ACME_KEY_EC384,
                                   sizeof(acme_key_type_e));
    v->ari_ids = NULL;
    v->window_at = v->expiring_at = 0;
    v->cert_serial = v->cert_issuer = NULL;
    v->cert_not_before = v->cert_not_after = 0;
}

int acme_view_live_add(acme_view_t *v, apr_pool_t *p, acme_key_type_e t,
                       const char *cert, apr_size_t cert_len,
                       const char *key, apr_size_t key_len, int renew_pct,
                       apr_interval_time_t renew_left, apr_time_t now)
{
    /* Which names it covers is judged below: an incomplete certificate
     * still serves until its replacement is there. */
    apr_array_header_t *no_names = apr_array_make(p, 1, sizeof(char *));
    apr_array_header_t *chain;
    acme_cert_info_t *info;
    const char *why, *ari_id;
    apr_time_t at, expiring;
    EVP_PKEY *pkey;
    int j;

    if (acme_cert_chain_parse(&chain, p, cert, cert_len) != APR_SUCCESS
        || acme_key_from_pem(&pkey, p, key, key_len) != APR_SUCCESS
        || acme_key_type_of(pkey) != t
        || acme_cert_check(&why, p, chain, pkey, no_names, now)
           != APR_SUCCESS
        || acme_cert_info(&info, p, chain) != APR_SUCCESS) {
        return 0;
    }
    APR_ARRAY_PUSH(v->live_types, acme_key_type_e) = t;
    v->is_live = 1;
    if (!v->cert_serial) {
        v->cert_serial = info->serial_hex;
        v->cert_issuer = info->issuer;
        v->cert_not_before = info->not_before;
        v->cert_not_after = info->not_after;
    }
    if (acme_cert_ari_id(&ari_id, p, chain) == APR_SUCCESS) {
        v->ari_ids = v->ari_ids ? apr_pstrcat(p, v->ari_ids, ",", ari_id,
                                              NULL)
                                : ari_id;
    }
    at = acme_renew_time(info->not_before, info->not_after, renew_pct,
                         renew_left);
    expiring = acme_renew_time(info->not_before, info->not_after,
                               ACME_EMERGENCY_PCT, 0);
    if (!v->expiring_at || expiring < v->expiring_at) {
        v->expiring_at = expiring;
    }
    if (!v->window_at || at < v->window_at) {
        v->window_at = at;
    }
    for (j = 0; v->names && j < v->names->nelts; j++) {
        if (!acme_cert_covers(info, APR_ARRAY_IDX(v->names, j,
                                                  const char *))) {
            return 1;
        }
    }
    return 2;
}

void acme_view_live_done(acme_view_t *v, int complete)
{
    v->is_live = v->live_types && v->live_types->nelts > 0;
    if (!v->is_live || !complete) {
        v->window_at = 0;
    }
}
