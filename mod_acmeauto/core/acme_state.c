#include <string.h>
#include <apr_strings.h>

#include "acme_state.h"
#include "acme_json.h"
#include "acme_schedule.h"

#define HTTP_STATUS_MAX 999
#define KIND_CONFIG "configuration"
#define KIND_TRANSIENT "transient"

static const char *const event_names[ACME_EV_COUNT] = {
    "issued", "renewed", "installed", "errored", "expiring", "revoked",
    "restart-blocked"
};

const char *acme_event_name(acme_event_e ev)
{
    return ev >= 0 && ev < ACME_EV_COUNT ? event_names[ev] : "?";
}

/* --- reading --------------------------------------------------------- */

/* A stored time; 0 when absent or not an integer. */
static apr_time_t stored_time(const json_t *j, const char *key)
{
    const json_t *v = json_object_get(j, key);

    return json_is_integer(v) ? acme_time_from_stored(json_integer_value(v))
                              : 0;
}

/* An integer member within [lo, hi]; lo when absent or not an integer. */
static json_int_t int_member(const json_t *j, const char *key,
                             json_int_t lo, json_int_t hi)
{
    const json_t *v = json_object_get(j, key);
    json_int_t n = json_is_integer(v) ? json_integer_value(v) : lo;

    return n < lo ? lo : (n > hi ? hi : n);
}

/* A string member of at most max bytes and no NUL inside (which C's
 * string comparison would not see, should the parser ever let one
 * through); NULL otherwise. */
static const char *id_member(const json_t *j, const char *key,
                             apr_size_t max)
{
    const json_t *v = json_object_get(j, key);
    const char *s = json_string_value(v);
    apr_size_t len = s ? json_string_length(v) : 0;

    return s && len <= max && strlen(s) == len ? s : NULL;
}

/* How many bytes of the UTF-8 string s to keep for at most max: never a
 * character cut in two, so the result is still valid JSON text. */
static apr_size_t text_cut(const char *s, apr_size_t max)
{
    apr_size_t n = strlen(s);

    if (n <= max) {
        return n;
    }
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80) {
        max--;
    }
    return max;
}

/* Sets key to s (bounded) or to null when s is NULL or not UTF-8. */
static void set_text(json_t *obj, const char *key, const char *s)
{
    json_t *v = s ? json_stringn(s, text_cut(s, ACME_STATE_TEXT_MAX)) : NULL;

    json_object_set_new(obj, key, v ? v : json_null());
}

static json_t *error_object(const char *const text[4], json_int_t status,
                            int config, apr_time_t at)
{
    static const char *const keys[4] = { "type", "detail", "activity",
                                         "hint" };
    json_t *e = json_object();
    int i;

    for (i = 0; e && i < 4; i++) {
        set_text(e, keys[i], text[i]);
    }
    if (e) {
        json_object_set_new(e, "http_status", json_integer(
            status < 0 || status > HTTP_STATUS_MAX ? 0 : status));
        json_object_set_new(e, "kind", json_string(config ? KIND_CONFIG
                                                          : KIND_TRANSIENT));
        json_object_set_new(e, "at", json_integer(apr_time_sec(at)));
    }
    return e;
}

/* The stored last error rebuilt from what we know of it: nothing else
 * the file holds is carried along. */
static json_t *parse_error(apr_pool_t *p, const json_t *j, apr_time_t now)
{
    const char *text[4];

    if (!json_is_object(j)) {
        return NULL;
    }
    text[0] = acme_json_str(j, "type");
    text[1] = acme_json_str(j, "detail");
    text[2] = acme_json_str(j, "activity");
    text[3] = acme_json_str(j, "hint");
    return acme_json_pool_own(p, error_object(text,
        json_integer_value(json_object_get(j, "http_status")),
        acme_json_str(j, "kind") && !strcmp(acme_json_str(j, "kind"),
                                            KIND_CONFIG),
        acme_time_clamp(stored_time(j, "at"), 0, now)));
}

static void parse_ari(acme_state_ari_t *ari, apr_pool_t *p, const json_t *j,
                      const char *ari_ids, apr_time_t now)
{
    const char *saved = id_member(j, "ids", ACME_STATE_ID_MAX);

    memset(ari, 0, sizeof(*ari));
    if (!ari_ids || !saved || strcmp(ari_ids, saved)) {
        return;    /* about certificates that are no longer live */
    }
    ari->ids = apr_pstrdup(p, saved);
    ari->offered = json_is_true(json_object_get(j, "offered"));
    ari->start = stored_time(j, "window_start");
    ari->end = stored_time(j, "window_end");
    ari->renew_at = stored_time(j, "renew_at");
    if (ari->end < ari->start) {
        ari->start = ari->end = ari->renew_at = 0;
    }
    /* The job picks inside the window (or now, once it has passed): a
     * pick elsewhere is not ours, and the window's end is the latest
     * that can be right. */
    if (ari->renew_at) {
        ari->renew_at = acme_time_clamp(ari->renew_at, ari->start, ari->end);
    }
    /* A clock that jumped back or a damaged file must not silence the
     * CA for longer than it may ask us to wait. */
    ari->next_check = acme_time_clamp(stored_time(j, "next_check"), 0,
                                      acme_time_add(now,
                                                    ACME_ARI_RECHECK_MAX));
}

static void parse_notified(apr_time_t *last, const json_t *j,
                           apr_time_t now)
{
    int i;

    for (i = 0; i < ACME_EV_COUNT; i++) {
        /* Never in the future: that would silence the event. */
        last[i] = acme_time_clamp(stored_time(j, event_names[i]), 0, now);
    }
}

apr_status_t acme_state_parse(acme_state_t *st, apr_pool_t *p,
                              const char *data, apr_size_t len,
                              const char *config, const char *ari_ids,
                              apr_time_t now)
{
    json_t *j = len <= ACME_STATE_FILE_MAX ? acme_json_parse(p, data, len)
                                          : NULL;
    const char *saved;

    memset(st, 0, sizeof(*st));
    st->config = config;
    if (!j) {
        return APR_EINVAL;
    }
    saved = id_member(j, "config", ACME_STATE_ID_MAX);
    if (!config || !saved || strcmp(saved, config)) {
        return APR_SUCCESS;    /* a changed configuration starts afresh */
    }
    st->failures = (int)int_member(j, "failures", 0,
                                   ACME_STATE_FAILURES_MAX);
    /* Whatever the file says, an attempt is never further away than the
     * longest delay the job would choose itself. */
    st->next_attempt = acme_time_clamp(stored_time(j, "next_attempt"), 0,
                                       acme_time_add(now,
                                                     ACME_RETRY_DELAY_MAX));
    saved = id_member(j, "server", ACME_STATE_ID_MAX);
    st->server = saved ? apr_pstrdup(p, saved) : NULL;
    parse_ari(&st->ari, p, json_object_get(j, "ari"), ari_ids, now);
    parse_notified(st->notified, json_object_get(j, "notified"), now);
    st->last_error = parse_error(p, json_object_get(j, "last_error"), now);
    return APR_SUCCESS;
}

/* --- writing --------------------------------------------------------- */

static json_int_t secs(apr_time_t t)
{
    return (json_int_t)apr_time_sec(t);
}

static json_t *ari_to_json(const acme_state_ari_t *ari)
{
    return json_pack("{s:s?,s:b,s:I,s:I,s:I,s:I}", "ids", ari->ids,
                     "offered", ari->offered,
                     "window_start", secs(ari->start),
                     "window_end", secs(ari->end),
                     "renew_at", secs(ari->renew_at),
                     "next_check", secs(ari->next_check));
}

static json_t *notified_to_json(const apr_time_t *last)
{
    json_t *j = json_object();
    int i;

    for (i = 0; j && i < ACME_EV_COUNT; i++) {
        if (last[i]) {
            json_object_set_new(j, event_names[i],
                                json_integer(secs(last[i])));
        }
    }
    return j;
}

json_t *acme_state_to_json(apr_pool_t *p, const acme_state_t *st,
                           apr_time_t now)
{
    json_t *j = json_pack("{s:s?,s:s?,s:i,s:I,s:I,s:s?}", "domain",
                          st->domain, "config", st->config,
                          "failures", st->failures,
                          "next_attempt", secs(st->next_attempt),
                          "updated", secs(now), "server", st->server);

    if (!j) {
        return NULL;
    }
    json_object_set_new(j, "ari", ari_to_json(&st->ari));
    json_object_set_new(j, "notified", notified_to_json(st->notified));
    if (st->last_error) {
        json_object_set(j, "last_error", st->last_error);
    }
    return acme_json_pool_own(p, j);
}

json_t *acme_state_error_new(const acme_error_t *err, apr_time_t at)
{
    const char *text[4];

    text[0] = err->type;
    text[1] = err->detail;
    text[2] = err->activity;
    text[3] = err->hint;
    return error_object(text, err->http_status,
                        err->kind == ACME_FAIL_CONFIG, at);
}
