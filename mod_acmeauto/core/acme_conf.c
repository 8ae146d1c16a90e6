#include <string.h>
#include <apr_strings.h>

#include "acme_conf.h"
#include "acme_crypto.h"
#include "acme_json.h"

/* --- writing --------------------------------------------------------- */

static json_t *str_array(const apr_array_header_t *a)
{
    json_t *j = json_array();
    int i;

    for (i = 0; a && j && i < a->nelts; i++) {
        json_array_append_new(j, json_string(APR_ARRAY_IDX(a, i,
                                                           const char *)));
    }
    return j;
}

static json_t *key_type_array(const apr_array_header_t *a)
{
    json_t *j = json_array();
    int i;

    for (i = 0; a && j && i < a->nelts; i++) {
        json_array_append_new(j, json_string(acme_key_type_name(
            APR_ARRAY_IDX(a, i, acme_key_type_e))));
    }
    return j;
}

static json_int_t secs(apr_interval_time_t t)
{
    return (json_int_t)apr_time_sec(t);
}

static json_t *eab_array(const apr_array_header_t *a)
{
    json_t *j = json_array();
    int i;

    for (i = 0; a && j && i < a->nelts; i++) {
        const acme_conf_eab_t *e = &APR_ARRAY_IDX(a, i, acme_conf_eab_t);
        json_array_append_new(j, json_pack("{s:s?,s:s?,s:b}", "kid", e->kid,
                                           "file", e->file, "inline",
                                           e->inline_hmac));
    }
    return j;
}

static json_t *domain_to_json(const acme_conf_domain_t *d)
{
    json_t *j = json_pack("{s:s,s:s,s:s?,s:s?,s:b,s:b,s:s?,s:s?,s:b,s:I,"
                          "s:I,s:i,s:I,s:s?,s:s?}",
                          "key", d->key, "name", d->name,
                          "eab_kid", d->eab_kid, "eab_file", d->eab_file,
                          "eab_inline", d->eab_inline,
                          "tos_agreed", d->tos_agreed,
                          "tos_url", d->tos_url, "ca_file", d->ca_file,
                          "auto_restart", d->auto_restart,
                          "activation_delay", secs(d->activation_delay),
                          "retry_delay", secs(d->retry_delay),
                          "renew_pct", d->renew_pct,
                          "renew_left", secs(d->renew_left),
                          "defined_at", d->defined_at,
                          "state_config", d->state_config);

    if (j) {
        json_object_set_new(j, "names", str_array(d->names));
        json_object_set_new(j, "key_types", key_type_array(d->key_types));
        json_object_set_new(j, "servers", str_array(d->servers));
        json_object_set_new(j, "contacts", str_array(d->contacts));
        json_object_set_new(j, "notify_cmd", d->notify_cmd
                            ? str_array(d->notify_cmd) : json_null());
        json_object_set_new(j, "http_proxy", d->http_proxy
                            ? json_string(d->http_proxy) : json_null());
        if (d->server_eab) {
            json_object_set_new(j, "server_eab", eab_array(d->server_eab));
        }
        if (d->previous_file) {
            json_object_set_new(j, "previous", json_pack(
                "{s:s,s:s?,s:s?,s:I,s:I}", "file", d->previous_file,
                "serial", d->previous_serial, "issuer", d->previous_issuer,
                "not_before", secs(d->previous_not_before),
                "not_after", secs(d->previous_not_after)));
        }
        json_object_set_new(j, "profile", d->profile
                            ? json_string(d->profile) : json_null());
        json_object_set_new(j, "profile_mandatory",
                            json_boolean(d->profile_mandatory));
        json_object_set_new(j, "challenges", d->challenges
                            ? str_array(d->challenges) : json_null());
        json_object_set_new(j, "dns_cmd", d->dns_cmd
                            ? str_array(d->dns_cmd) : json_null());
        json_object_set_new(j, "dns_wait", json_integer(secs(d->dns_wait)));
        json_object_set_new(j, "dns_resolver", d->dns_resolver
                            ? json_string(d->dns_resolver) : json_null());
        json_object_set_new(j, "profile", d->profile
                            ? json_string(d->profile) : json_null());
        json_object_set_new(j, "profile_mandatory",
                            json_boolean(d->profile_mandatory));
    }
    return j;
}

json_t *acme_conf_to_json(const acme_conf_t *c)
{
    json_t *j = json_pack("{s:i,s:I,s:s,s:I,s:s?,s:I,s:I}",
                          "version", ACME_CONF_VERSION,
                          "written", secs(c->written), "store", c->store,
                          "pid", (json_int_t)c->pid, "user", c->user,
                          "uid", (json_int_t)c->uid,
                          "gid", (json_int_t)c->gid);
    json_t *domains = json_array();
    int i;

    for (i = 0; j && domains && c->domains && i < c->domains->nelts; i++) {
        json_array_append_new(domains, domain_to_json(
            APR_ARRAY_IDX(c->domains, i, const acme_conf_domain_t *)));
    }
    if (!j || !domains) {
        json_decref(j);
        json_decref(domains);
        return NULL;
    }
    json_object_set_new(j, "domains", domains);
    return j;
}

/* --- reading --------------------------------------------------------- */

typedef struct {
    apr_pool_t *p;
    const char *why;          /* the first problem found */
} reader_t;

static void problem(reader_t *r, const char *what, const char *member)
{
    if (!r->why) {
        r->why = apr_psprintf(r->p, "%s %s", member, what);
    }
}

/* A string member; NULL when absent or null, a problem when another
 * type (or required and missing). */
static const char *get_str(reader_t *r, const json_t *j, const char *member,
                           int required)
{
    const json_t *v = json_object_get(j, member);

    if (json_is_string(v) && strlen(json_string_value(v))
                             == json_string_length(v)) {
        return apr_pstrdup(r->p, json_string_value(v));
    }
    if (required || (v && !json_is_null(v))) {
        problem(r, "is not a string", member);
    }
    return NULL;
}

static json_int_t get_int(reader_t *r, const json_t *j, const char *member,
                          json_int_t min, json_int_t max)
{
    const json_t *v = json_object_get(j, member);

    if (!json_is_integer(v) || json_integer_value(v) < min
        || json_integer_value(v) > max) {
        problem(r, "is not an integer in range", member);
        return min;
    }
    return json_integer_value(v);
}

static int get_bool(reader_t *r, const json_t *j, const char *member)
{
    const json_t *v = json_object_get(j, member);

    if (!json_is_boolean(v)) {
        problem(r, "is not true or false", member);
    }
    return json_is_true(v);
}

static apr_array_header_t *get_strs(reader_t *r, const json_t *j,
                                    const char *member, int nullable)
{
    const json_t *v = json_object_get(j, member), *e;
    apr_array_header_t *a;
    size_t i;

    if (nullable && json_is_null(v)) {
        return NULL;
    }
    a = apr_array_make(r->p, 4, sizeof(const char *));
    if (!json_is_array(v)) {
        problem(r, "is not a list", member);
        return a;
    }
    json_array_foreach(v, i, e) {
        if (!json_is_string(e)) {
            problem(r, "holds something other than strings", member);
            continue;
        }
        APR_ARRAY_PUSH(a, const char *) = apr_pstrdup(r->p,
                                                      json_string_value(e));
    }
    return a;
}

static apr_interval_time_t get_secs(reader_t *r, const json_t *j,
                                    const char *member)
{
    /* Up to ten years: more than any directive accepts. */
    return apr_time_from_sec(get_int(r, j, member, 0, 10LL * 366 * 86400));
}

/* server_eab, one entry per server; absent (an older file): the
 * domain's EAB for each. */
static apr_array_header_t *get_server_eab(reader_t *r, const json_t *j,
                                          const acme_conf_domain_t *d)
{
    const json_t *v = json_object_get(j, "server_eab"), *e;
    apr_array_header_t *a = apr_array_make(r->p, d->servers->nelts + 1,
                                           sizeof(acme_conf_eab_t));
    acme_conf_eab_t *x;
    size_t i;

    if (!v) {
        for (i = 0; i < (size_t)d->servers->nelts; i++) {
            x = apr_array_push(a);
            x->kid = d->eab_kid;
            x->file = d->eab_file;
            x->inline_hmac = d->eab_inline;
        }
        return a;
    }
    if (!json_is_array(v) || json_array_size(v) != (size_t)d->servers->nelts) {
        problem(r, "is not a list with one entry per server", "server_eab");
        return a;
    }
    json_array_foreach(v, i, e) {
        x = apr_array_push(a);
        if (!json_is_object(e)) {
            problem(r, "holds something other than objects", "server_eab");
            continue;
        }
        x->kid = get_str(r, e, "kid", 0);
        x->file = get_str(r, e, "file", 0);
        x->inline_hmac = get_bool(r, e, "inline");
    }
    return a;
}

/* "previous": the SSLCertificateFile standing in; absent or null: none. */
static void get_previous(reader_t *r, const json_t *j, acme_conf_domain_t *d)
{
    if (!j || json_is_null(j)) {
        return;
    }
    if (!json_is_object(j)) {
        problem(r, "is not an object", "previous");
        return;
    }
    d->previous_file = get_str(r, j, "file", 1);
    d->previous_serial = get_str(r, j, "serial", 0);
    d->previous_issuer = get_str(r, j, "issuer", 0);
    d->previous_not_before = apr_time_from_sec(get_int(r, j, "not_before", 0,
                                                       APR_INT64_C(1) << 40));
    d->previous_not_after = apr_time_from_sec(get_int(r, j, "not_after", 0,
                                                      APR_INT64_C(1) << 40));
}

static acme_conf_domain_t *domain_from_json(reader_t *r, const json_t *j)
{
    acme_conf_domain_t *d = apr_pcalloc(r->p, sizeof(*d));
    apr_array_header_t *types;
    int i;

    if (!json_is_object(j)) {
        problem(r, "holds something other than objects", "domains");
        return d;
    }
    d->key = get_str(r, j, "key", 1);
    /* A path component of the store: nothing that leaves its area. */
    if (d->key && (!*d->key || strchr(d->key, '/') || d->key[0] == '.')) {
        problem(r, "is not a store key", "key");
    }
    d->name = get_str(r, j, "name", 1);
    d->names = get_strs(r, j, "names", 0);
    types = get_strs(r, j, "key_types", 0);
    d->key_types = apr_array_make(r->p, types->nelts,
                                  sizeof(acme_key_type_e));
    for (i = 0; i < types->nelts; i++) {
        acme_key_type_e t = acme_key_type_parse(APR_ARRAY_IDX(types, i,
                                                              const char *));
        if (t == ACME_KEY_NONE) {
            problem(r, "holds an unknown key type", "key_types");
        }
        APR_ARRAY_PUSH(d->key_types, acme_key_type_e) = t;
    }
    d->servers = get_strs(r, j, "servers", 0);
    d->eab_kid = get_str(r, j, "eab_kid", 0);
    d->eab_file = get_str(r, j, "eab_file", 0);
    d->eab_inline = get_bool(r, j, "eab_inline");
    d->contacts = get_strs(r, j, "contacts", 0);
    d->tos_agreed = get_bool(r, j, "tos_agreed");
    d->tos_url = get_str(r, j, "tos_url", 0);
    d->ca_file = get_str(r, j, "ca_file", 0);
    d->http_proxy = get_str(r, j, "http_proxy", 0);
    d->auto_restart = get_bool(r, j, "auto_restart");
    d->activation_delay = get_secs(r, j, "activation_delay");
    d->retry_delay = get_secs(r, j, "retry_delay");
    d->renew_pct = (int)get_int(r, j, "renew_pct", 0, 100);
    d->renew_left = get_secs(r, j, "renew_left");
    d->notify_cmd = get_strs(r, j, "notify_cmd", 1);
    d->defined_at = get_str(r, j, "defined_at", 0);
    d->state_config = get_str(r, j, "state_config", 0);
    d->server_eab = get_server_eab(r, j, d);
    get_previous(r, json_object_get(j, "previous"), d);
    d->profile = get_str(r, j, "profile", 0);
    d->profile_mandatory = json_is_true(json_object_get(j,
                                                        "profile_mandatory"));
    /* Absent from files written before dns-01: http-01 only. */
    if (json_object_get(j, "challenges")) {
        d->challenges = get_strs(r, j, "challenges", 1);
        d->dns_cmd = get_strs(r, j, "dns_cmd", 1);
        d->dns_wait = get_secs(r, j, "dns_wait");
        d->dns_resolver = get_str(r, j, "dns_resolver", 0);
    }
    if (!r->why && (!d->names->nelts || !d->key_types->nelts
                    || !d->servers->nelts)) {
        r->why = apr_psprintf(r->p, "domain %s has no names, key types or "
                              "servers", d->name);
    }
    return d;
}

apr_status_t acme_conf_parse(acme_conf_t **out, const char **why,
                             apr_pool_t *p, const char *data,
                             apr_size_t len)
{
    json_t *j = acme_json_parse(p, data, len), *e;
    acme_conf_t *c = apr_pcalloc(p, sizeof(*c));
    reader_t r = { p, NULL };
    size_t i;

    *out = NULL;
    if (!j) {
        *why = "it is not a JSON object";
        return APR_EINVAL;
    }
    if (get_int(&r, j, "version", 0, 1000) != ACME_CONF_VERSION) {
        *why = "it was written by another version of the module";
        return APR_EINVAL;
    }
    c->written = apr_time_from_sec(get_int(&r, j, "written", 0,
                                           APR_INT64_C(1) << 40));
    c->store = get_str(&r, j, "store", 1);
    c->pid = (long)get_int(&r, j, "pid", 0, APR_INT64_C(1) << 31);
    c->user = get_str(&r, j, "user", 0);
    c->uid = (uid_t)get_int(&r, j, "uid", 0, (json_int_t)(uid_t)-2);
    c->gid = (gid_t)get_int(&r, j, "gid", 0, (json_int_t)(gid_t)-2);
    c->domains = apr_array_make(p, 8, sizeof(acme_conf_domain_t *));
    if (!json_is_array(json_object_get(j, "domains"))) {
        problem(&r, "is not a list", "domains");
    }
    json_array_foreach(json_object_get(j, "domains"), i, e) {
        APR_ARRAY_PUSH(c->domains, acme_conf_domain_t *) =
            domain_from_json(&r, e);
    }
    if (r.why) {
        *why = r.why;
        return APR_EINVAL;
    }
    *out = c;
    return APR_SUCCESS;
}

const acme_conf_eab_t *acme_conf_eab(const acme_conf_domain_t *d,
                                     const char *server_url)
{
    static const acme_conf_eab_t none = { NULL, NULL, 0 };
    int i;

    for (i = 0; d->server_eab && i < d->server_eab->nelts; i++) {
        if (!strcmp(server_url, APR_ARRAY_IDX(d->servers, i, const char *))) {
            return &APR_ARRAY_IDX(d->server_eab, i, acme_conf_eab_t);
        }
    }
    return d->server_eab && d->server_eab->nelts
           ? &APR_ARRAY_IDX(d->server_eab, 0, acme_conf_eab_t) : &none;
}

acme_conf_domain_t *acme_conf_find(const acme_conf_t *c, const char *name)
{
    int i, k;

    for (i = 0; i < c->domains->nelts; i++) {
        acme_conf_domain_t *d = APR_ARRAY_IDX(c->domains, i,
                                              acme_conf_domain_t *);
        if (!strcasecmp(d->key, name)) {
            return d;
        }
        for (k = 0; k < d->names->nelts; k++) {
            if (!strcasecmp(APR_ARRAY_IDX(d->names, k, const char *),
                            name)) {
                return d;
            }
        }
    }
    return NULL;
}
