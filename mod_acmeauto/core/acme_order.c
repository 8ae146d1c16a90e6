/* RFC 8555 §7.4 and §7.5: orders, authorizations, challenges,
 * finalization and the certificate download. */
#include <string.h>
#include <apr_strings.h>

#include "acme_client_int.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"

#define ORDER_AUTHZ_MAX 100
#define POLL_MAX_WAIT apr_time_from_sec(60)
#define POLL_FIRST apr_time_from_msec(50)

static const char *url_or_null(const json_t *obj, const char *key)
{
    const char *v = acme_json_str(obj, key);

    return (v && (!strncasecmp(v, "https://", 8) || !strncasecmp(v, "http://", 7)))
        ? v : NULL;
}

apr_status_t acme_order_parse(acme_order_t **order, apr_pool_t *p,
                              const char *url, json_t *doc)
{
    acme_order_t *o = apr_pcalloc(p, sizeof(*o));
    json_t *authzs = json_object_get(doc, "authorizations"), *v;
    size_t i;

    o->url = url ? apr_pstrdup(p, url) : NULL;
    o->status = acme_json_str(doc, "status");
    o->finalize_url = url_or_null(doc, "finalize");
    o->certificate_url = url_or_null(doc, "certificate");
    o->json = doc;
    if (!o->status || !o->finalize_url || !json_is_array(authzs)
        || json_array_size(authzs) > ORDER_AUTHZ_MAX) {
        return APR_EINVAL;
    }
    o->authz_urls = apr_array_make(p, (int)json_array_size(authzs) + 1,
                                   sizeof(const char *));
    json_array_foreach(authzs, i, v) {
        if (!json_is_string(v)) {
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(o->authz_urls, const char *) = json_string_value(v);
    }
    *order = o;
    return APR_SUCCESS;
}

static apr_status_t bad_document(acme_client_t *c, const char *activity,
                                 const char *what)
{
    return acme_client_fail(c, APR_EGENERAL, ACME_FAIL_TRANSIENT, activity,
                            apr_psprintf(c->pool, "the CA sent an invalid %s",
                                         what), NULL);
}

apr_status_t acme_order_new(acme_order_t **order, acme_client_t *c,
                            apr_pool_t *p, const apr_array_header_t *names,
                            const char *replaces, const char *profile)
{
    const char *activity = apr_psprintf(c->pool, "creating an order for %s",
                                        acme_str_join(p, names, ", "));
    json_t *payload = acme_json_pool_own(p, json_object());
    json_t *ids = json_array(), *doc = NULL;
    acme_http_response_t *resp;
    apr_status_t rv;
    int i;

    /* Addresses are "ip" identifiers (RFC 8738 §3), already in canonical
     * text (acme_ip_normalize). */
    for (i = 0; i < names->nelts; i++) {
        const char *name = APR_ARRAY_IDX(names, i, const char *);
        json_array_append_new(ids, json_pack("{s:s,s:s}",
            "type", acme_identifier_type(name), "value", name));
    }
    json_object_set_new(payload, "identifiers", ids);
    if (replaces) {
        json_object_set_new(payload, "replaces", json_string(replaces));
    }
    if (profile) {
        json_object_set_new(payload, "profile", json_string(profile));
    }
    if ((rv = acme_directory_fetch(c)) != APR_SUCCESS
        || (rv = acme_post(c, &resp, &doc, p, c->dir.new_order, payload,
                           activity)) != APR_SUCCESS) {
        return rv;
    }
    if (!doc || acme_order_parse(order, p,
                                 apr_table_get(resp->headers, "Location"),
                                 doc) != APR_SUCCESS || !(*order)->url) {
        return bad_document(c, activity, "order");
    }
    return APR_SUCCESS;
}

apr_status_t acme_order_get(acme_order_t **order, acme_client_t *c,
                            apr_pool_t *p, const char *url)
{
    const char *activity = apr_psprintf(c->pool, "reading order %s", url);
    acme_http_response_t *resp;
    json_t *doc = NULL;
    apr_status_t rv;

    if ((rv = acme_post(c, &resp, &doc, p, url, NULL, activity)) != APR_SUCCESS) {
        return rv;
    }
    if (!doc || acme_order_parse(order, p, url, doc) != APR_SUCCESS) {
        return bad_document(c, activity, "order");
    }
    return APR_SUCCESS;
}

/* A host name as a DNS zone holds it: nothing else may reach a log line
 * or a record the administrator is asked to publish. */
static int is_dns_name(const char *s)
{
    size_t n = strlen(s);

    return n > 0 && n <= 253 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                       "0123456789.-") == n;
}

static apr_status_t parse_challenges(apr_array_header_t **out, apr_pool_t *p,
                                     const json_t *list)
{
    json_t *v;
    size_t i;

    if (!json_is_array(list)) {
        return APR_EINVAL;
    }
    *out = apr_array_make(p, 4, sizeof(acme_challenge_t));
    json_array_foreach(list, i, v) {
        acme_challenge_t ch;
        ch.type = acme_json_str(v, "type");
        ch.url = url_or_null(v, "url");
        ch.token = acme_json_str(v, "token");
        ch.status = acme_json_str(v, "status");
        /* dns-persist-01 carries no token but the CA's issuer names;
         * the first goes into a record the administrator publishes. */
        ch.issuer_domain = json_string_value(json_array_get(
            json_object_get(v, "issuer-domain-names"), 0));
        if (ch.issuer_domain && !is_dns_name(ch.issuer_domain)) {
            return APR_EINVAL;
        }
        if (!ch.type || !ch.url || !ch.status) {
            return APR_EINVAL;
        }
        /* Never let a strange token near a file name or a response. */
        if (ch.token && !acme_token_is_valid(ch.token)) {
            return APR_EINVAL;
        }
        APR_ARRAY_PUSH(*out, acme_challenge_t) = ch;
    }
    return APR_SUCCESS;
}

apr_status_t acme_authz_parse(acme_authz_t **authz, apr_pool_t *p,
                              const char *url, const json_t *doc)
{
    acme_authz_t *a = apr_pcalloc(p, sizeof(*a));
    json_t *id = json_object_get(doc, "identifier");

    a->url = apr_pstrdup(p, url);
    a->status = acme_json_str(doc, "status");
    /* For an "ip" identifier (RFC 8738) this is the address, and
     * acme_is_ip_literal() tells it apart. tls-alpn-01 hook: the CA then
     * connects to the address with acme_ip_reverse_name() as SNI (§6),
     * and the challenge certificate's SAN is the address as an iPAddress
     * (acme_san_create makes that for an address). */
    a->identifier = acme_json_str(id, "value");
    a->wildcard = json_is_true(json_object_get(doc, "wildcard"));
    if (!a->status || !a->identifier
        || parse_challenges(&a->challenges, p,
                            json_object_get(doc, "challenges")) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    *authz = a;
    return APR_SUCCESS;
}

apr_status_t acme_authz_get(acme_authz_t **authz, acme_client_t *c,
                            apr_pool_t *p, const char *url)
{
    const char *activity = apr_psprintf(c->pool, "reading authorization %s",
                                        url);
    acme_http_response_t *resp;
    json_t *doc = NULL;
    apr_status_t rv;

    if ((rv = acme_post(c, &resp, &doc, p, url, NULL, activity)) != APR_SUCCESS) {
        return rv;
    }
    if (!doc || acme_authz_parse(authz, p, url, doc) != APR_SUCCESS) {
        return bad_document(c, activity, "authorization");
    }
    return APR_SUCCESS;
}

apr_status_t acme_challenge_respond(acme_client_t *c, apr_pool_t *p,
                                    const acme_challenge_t *ch)
{
    const char *activity = apr_psprintf(c->pool, "starting %s challenge %s",
                                        ch->type, ch->url);
    json_t *payload = acme_json_pool_own(p, json_object());
    acme_http_response_t *resp;

    return acme_post(c, &resp, NULL, p, ch->url, payload, activity);
}

/* A failed authorization carries the reason in its challenge's "error"
 * problem document (RFC 8555 §7.1.4); that is what the admin needs. */
static apr_status_t authz_failed(acme_client_t *c, const acme_authz_t *a,
                                 const json_t *doc, const char *activity)
{
    json_t *chs = json_object_get(doc, "challenges"), *ch, *err;
    size_t i;

    json_array_foreach(chs, i, ch) {
        err = json_object_get(ch, "error");
        if (json_is_object(err)) {
            c->error = acme_error_from_problem(c->pool, err, 0, activity);
            c->error->detail = apr_psprintf(c->pool, "%s challenge for %s "
                                            "failed: %s",
                                            acme_json_str(ch, "type"),
                                            a->identifier, c->error->detail);
            return APR_EGENERAL;
        }
    }
    return acme_client_fail(c, APR_EGENERAL, ACME_FAIL_TRANSIENT, activity,
                            apr_psprintf(c->pool, "authorization for %s is %s",
                                         a->identifier, a->status), NULL);
}

/* How long to wait before polling again: the server's Retry-After when
 * given (bounded); else *step, which starts at POLL_FIRST and doubles up
 * to the client's interval. A CA that validates at once is asked again
 * within tens of milliseconds, one that takes minutes about once per
 * interval. */
static apr_interval_time_t poll_delay(acme_client_t *c,
                                      const acme_http_response_t *resp,
                                      apr_interval_time_t *step)
{
    apr_interval_time_t d = acme_retry_after(resp, apr_time_now());

    if (d > 0) {
        return d > POLL_MAX_WAIT ? POLL_MAX_WAIT : d;
    }
    d = *step ? *step : POLL_FIRST;
    if (d > c->poll_interval) {
        d = c->poll_interval;
    }
    *step = 2 * d;
    return d;
}

/* Between two polls: gives up at the deadline (a per-job bound on orders
 * stuck in "processing"), or when the server is stopping. Work the job
 * left for the wait (c->on_wait: the certificate key) is done first and
 * counts towards the pause. */
static apr_status_t poll_pause(acme_client_t *c,
                               const acme_http_response_t *resp,
                               apr_time_t deadline, const char *activity,
                               apr_interval_time_t *step)
{
    apr_interval_time_t d = poll_delay(c, resp, step);
    apr_time_t started = apr_time_now();

    if (started > deadline) {
        return acme_client_fail(c, APR_TIMEUP, ACME_FAIL_TRANSIENT, activity,
                                "the CA did not finish in time", NULL);
    }
    if (c->on_wait) {
        void (*work)(void *) = c->on_wait;
        c->on_wait = NULL;
        work(c->on_wait_baton);
        d -= apr_time_now() - started;
    }
    if (d > 0 && acme_client_pause(c, d)) {
        return acme_client_fail(c, APR_EINTR, ACME_FAIL_TRANSIENT, activity,
                                "interrupted", NULL);
    }
    return APR_SUCCESS;
}

/* Polls run in a pool of their own per round, so that a CA that keeps
 * an order "processing" for minutes does not grow the job's memory; the
 * final document is parsed again into p. */
apr_status_t acme_authz_wait(acme_authz_t **authz, acme_client_t *c,
                             apr_pool_t *p, const char *url)
{
    apr_time_t deadline = apr_time_now() + c->poll_timeout;
    const char *activity = apr_psprintf(c->pool, "waiting for authorization "
                                        "%s", url);
    acme_http_response_t *resp;
    json_t *doc = NULL;
    apr_pool_t *round;
    apr_interval_time_t step = 0;
    apr_status_t rv;

    for (;;) {
        apr_pool_create(&round, p);
        rv = acme_post(c, &resp, &doc, round, url, NULL, activity);
        if (rv == APR_SUCCESS && (!doc || acme_authz_parse(authz, round, url,
                                                           doc)
                                  != APR_SUCCESS)) {
            rv = bad_document(c, activity, "authorization");
        }
        if (rv == APR_SUCCESS && strcmp((*authz)->status, "valid")) {
            if (strcmp((*authz)->status, "pending")
                && strcmp((*authz)->status, "processing")) {
                rv = authz_failed(c, *authz, doc, activity);
            }
            else if ((rv = poll_pause(c, resp, deadline, activity, &step))
                     == APR_SUCCESS) {
                apr_pool_destroy(round);
                continue;
            }
        }
        if (rv == APR_SUCCESS) {
            rv = acme_authz_parse(authz, p, url,
                                  acme_json_pool_own(p, json_incref(doc)));
        }
        apr_pool_destroy(round);
        return rv;
    }
}

apr_status_t acme_order_wait(acme_order_t **order, acme_client_t *c,
                             apr_pool_t *p, const char *url,
                             const char *until_status)
{
    apr_time_t deadline = apr_time_now() + c->poll_timeout;
    const char *activity = apr_psprintf(c->pool, "waiting for order %s to "
                                        "become %s", url, until_status);
    acme_http_response_t *resp;
    json_t *doc = NULL;
    apr_pool_t *round;
    apr_interval_time_t step = 0;
    apr_status_t rv;

    for (;;) {
        apr_pool_create(&round, p);
        rv = acme_post(c, &resp, &doc, round, url, NULL, activity);
        if (rv == APR_SUCCESS && (!doc || acme_order_parse(order, round, url,
                                                           doc)
                                  != APR_SUCCESS)) {
            rv = bad_document(c, activity, "order");
        }
        if (rv == APR_SUCCESS && strcmp((*order)->status, until_status)) {
            if (!strcmp((*order)->status, "invalid")
                || (strcmp((*order)->status, "pending")
                    && strcmp((*order)->status, "processing")
                    && strcmp((*order)->status, "ready"))) {
                c->error = acme_error_from_problem(c->pool,
                    json_object_get(doc, "error"), 0, activity);
                c->error->detail = apr_psprintf(c->pool, "the order is %s: "
                                                "%s", (*order)->status,
                                                c->error->detail);
                rv = APR_EGENERAL;
            }
            else if ((rv = poll_pause(c, resp, deadline, activity, &step))
                     == APR_SUCCESS) {
                apr_pool_destroy(round);
                continue;
            }
        }
        if (rv == APR_SUCCESS) {
            rv = acme_order_parse(order, p, url,
                                  acme_json_pool_own(p, json_incref(doc)));
        }
        apr_pool_destroy(round);
        return rv;
    }
}

apr_status_t acme_order_finalize(acme_order_t **order, acme_client_t *c,
                                 apr_pool_t *p, const acme_order_t *o,
                                 const char *csr_b64)
{
    const char *activity = apr_psprintf(c->pool, "finalizing order %s",
                                        o->url);
    json_t *payload = acme_json_pool_own(p, json_pack("{s:s}", "csr",
                                                      csr_b64));
    acme_http_response_t *resp;
    json_t *doc = NULL;
    apr_status_t rv;

    rv = acme_post(c, &resp, &doc, p, o->finalize_url, payload, activity);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!doc || acme_order_parse(order, p, o->url, doc) != APR_SUCCESS) {
        return bad_document(c, activity, "order");
    }
    return APR_SUCCESS;
}

apr_status_t acme_cert_download(const char **pem, apr_size_t *len,
                                acme_client_t *c, apr_pool_t *p,
                                const char *url)
{
    const char *activity = apr_psprintf(c->pool, "downloading certificate %s",
                                        url);
    acme_http_response_t *resp;
    apr_status_t rv;

    rv = acme_post(c, &resp, NULL, p, url, NULL, activity);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!strstr(resp->body, "-----BEGIN CERTIFICATE-----")) {
        return bad_document(c, activity, "certificate (no PEM)");
    }
    *pem = resp->body;
    *len = resp->body_len;
    return APR_SUCCESS;
}

apr_status_t acme_key_authorization(const char **ka, acme_client_t *c,
                                    apr_pool_t *p, const char *token)
{
    const char *tp;
    apr_status_t rv = acme_jwk_thumbprint(&tp, p, c->account_key);

    if (rv == APR_SUCCESS) {
        *ka = apr_pstrcat(p, token, ".", tp, NULL);
    }
    return rv;
}
