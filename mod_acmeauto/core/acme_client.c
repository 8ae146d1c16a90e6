#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_date.h>
#include <apr_thread_mutex.h>

#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"
#include "acme_client_int.h"

#define CT_JOSE "application/jose+json"

apr_status_t acme_client_create(acme_client_t **client, apr_pool_t *p,
                                acme_http_t *http, const char *directory_url)
{
    acme_client_t *c = apr_pcalloc(p, sizeof(*c));

    c->pool = p;
    c->http = http;
    c->directory_url = apr_pstrdup(p, directory_url);
    c->poll_interval = apr_time_from_sec(1);
    c->poll_timeout = apr_time_from_sec(300);
    *client = c;
    return APR_SUCCESS;
}

/* Enough for the orders a run keeps in flight at one CA; the newest are
 * used first (an old one may have expired at the CA). */
#define SHARED_NONCES 32
#define NONCE_MAX 256

struct acme_ca_share_t {
    apr_pool_t *pool;               /* its own allocator: used by any thread
                                     * holding lock */
    apr_thread_mutex_t *lock;       /* dir, have_dir, nonces, counts */
    apr_thread_mutex_t *account;    /* acme_ca_share_lock */
    acme_directory_t dir;
    int have_dir;
    acme_error_t *dir_error;        /* the run's failed fetch, in pool */
    char nonces[SHARED_NONCES][NONCE_MAX];
    int n_nonces;
    int directory_gets, nonce_heads;
};

static apr_status_t share_cleanup(void *data)
{
    acme_ca_share_t *share = data;

    apr_thread_mutex_destroy(share->lock);
    apr_thread_mutex_destroy(share->account);
    apr_pool_destroy(share->pool);
    return APR_SUCCESS;
}

apr_status_t acme_ca_share_create(acme_ca_share_t **share, apr_pool_t *p)
{
    acme_ca_share_t *sh = apr_pcalloc(p, sizeof(*sh));
    apr_status_t rv;

    if ((rv = apr_pool_create_unmanaged_ex(&sh->pool, NULL, NULL))
        != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_thread_mutex_create(&sh->lock, APR_THREAD_MUTEX_DEFAULT,
                                      sh->pool)) != APR_SUCCESS
        || (rv = apr_thread_mutex_create(&sh->account,
                                         APR_THREAD_MUTEX_DEFAULT, sh->pool))
           != APR_SUCCESS) {
        apr_pool_destroy(sh->pool);
        return rv;
    }
    apr_pool_cleanup_register(p, sh, share_cleanup, apr_pool_cleanup_null);
    *share = sh;
    return APR_SUCCESS;
}

void acme_ca_share_lock(acme_ca_share_t *share)
{
    apr_thread_mutex_lock(share->account);
}

void acme_ca_share_unlock(acme_ca_share_t *share)
{
    apr_thread_mutex_unlock(share->account);
}

void acme_ca_share_counts(acme_ca_share_t *share, int *directory_gets,
                          int *nonce_heads)
{
    apr_thread_mutex_lock(share->lock);
    *directory_gets = share->directory_gets;
    *nonce_heads = share->nonce_heads;
    apr_thread_mutex_unlock(share->lock);
}

/* Into the shared pool; the oldest goes when it is full. */
static void share_put_nonce(acme_ca_share_t *sh, const char *n)
{
    apr_thread_mutex_lock(sh->lock);
    if (sh->n_nonces == SHARED_NONCES) {
        memmove(sh->nonces[0], sh->nonces[1],
                (SHARED_NONCES - 1) * sizeof(sh->nonces[0]));
        sh->n_nonces--;
    }
    memcpy(sh->nonces[sh->n_nonces++], n, strlen(n) + 1);
    apr_thread_mutex_unlock(sh->lock);
}

/* The newest unused nonce into c's own buffer; 0 when there is none. */
static int share_take_nonce(acme_client_t *c)
{
    acme_ca_share_t *sh = c->share;
    int got = 0;

    apr_thread_mutex_lock(sh->lock);
    if (sh->n_nonces > 0) {
        memcpy(c->nonce_buf, sh->nonces[--sh->n_nonces], NONCE_MAX);
        c->nonce = c->nonce_buf;
        got = 1;
    }
    apr_thread_mutex_unlock(sh->lock);
    return got;
}

apr_status_t acme_client_fail(acme_client_t *c, apr_status_t rv,
                         acme_fail_kind_e kind, const char *activity,
                         const char *detail, const char *hint)
{
    c->error = acme_error_make(c->pool, rv, kind,
                               apr_pstrdup(c->pool, activity),
                               apr_pstrdup(c->pool, detail),
                               hint ? apr_pstrdup(c->pool, hint) : NULL);
    return rv;
}

static apr_status_t transport_fail(acme_client_t *c, apr_status_t rv,
                                   const char *activity)
{
    const char *hint = rv == APR_ECONNREFUSED
        ? "the ACME server could not be reached; check ACMEServer, the "
          "network, and ACMECACertificate if the CA uses a private root"
        : "the ACME server's answer broke off or was too large; retrying "
          "later";

    return acme_client_fail(c, rv, ACME_FAIL_TRANSIENT, activity,
                c->http->error_text ? c->http->error_text : "no answer", hint);
}

apr_interval_time_t acme_retry_after(const acme_http_response_t *resp,
                                     apr_time_t now)
{
    const char *v = resp ? apr_table_get(resp->headers, "Retry-After") : NULL;
    apr_int64_t secs;
    apr_time_t when;

    if (!v) {
        return 0;
    }
    if (acme_parse_int64(&secs, v, 0, 366 * 86400) == APR_SUCCESS) {
        return apr_time_from_sec(secs);
    }
    when = apr_date_parse_http(v);
    return (when != APR_DATE_BAD && when > now) ? when - now : 0;
}

/* Server-provided URLs must be absolute http(s) URLs. */
static const char *url_member(const json_t *obj, const char *key)
{
    const char *v = acme_json_str(obj, key);

    if (v && (!strncasecmp(v, "https://", 8) || !strncasecmp(v, "http://", 7))) {
        return v;
    }
    return NULL;
}

/* meta.profiles maps each profile name to a description for humans;
 * only the names matter here. */
static void parse_profiles(acme_directory_t *dir, apr_pool_t *p,
                           const json_t *profiles)
{
    const char *name;
    json_t *v;

    if (!json_is_object(profiles)) {
        return;
    }
    dir->profiles = apr_array_make(p, (int)json_object_size(profiles) + 1,
                                   sizeof(const char *));
    json_object_foreach((json_t *)profiles, name, v) {
        (void)v;
        APR_ARRAY_PUSH(dir->profiles, const char *) = apr_pstrdup(p, name);
    }
}

int acme_directory_has_profile(acme_client_t *c, const char *profile)
{
    return acme_directory_fetch(c) == APR_SUCCESS
           && acme_str_in(c->dir.profiles, profile);
}

apr_status_t acme_directory_parse(acme_directory_t *dir, apr_pool_t *p,
                                  const json_t *doc)
{
    json_t *meta = json_object_get(doc, "meta");
    const char *v;

    memset(dir, 0, sizeof(*dir));
    if (!(v = url_member(doc, "newNonce"))) return APR_EINVAL;
    dir->new_nonce = apr_pstrdup(p, v);
    if (!(v = url_member(doc, "newAccount"))) return APR_EINVAL;
    dir->new_account = apr_pstrdup(p, v);
    if (!(v = url_member(doc, "newOrder"))) return APR_EINVAL;
    dir->new_order = apr_pstrdup(p, v);
    if ((v = url_member(doc, "revokeCert"))) dir->revoke_cert = apr_pstrdup(p, v);
    if ((v = url_member(doc, "keyChange"))) dir->key_change = apr_pstrdup(p, v);
    if ((v = url_member(doc, "renewalInfo"))) dir->renewal_info = apr_pstrdup(p, v);
    if (json_is_object(meta)) {
        if ((v = acme_json_str(meta, "termsOfService"))) {
            dir->terms_of_service = apr_pstrdup(p, v);
        }
        dir->eab_required =
            json_is_true(json_object_get(meta, "externalAccountRequired"));
        parse_profiles(dir, p, json_object_get(meta, "profiles"));
    }
    return APR_SUCCESS;
}

static acme_error_t *copy_error(apr_pool_t *p, const acme_error_t *e)
{
    acme_error_t *out = apr_pmemdup(p, e, sizeof(*e));

    out->type = e->type ? apr_pstrdup(p, e->type) : NULL;
    out->detail = e->detail ? apr_pstrdup(p, e->detail) : NULL;
    out->activity = e->activity ? apr_pstrdup(p, e->activity) : NULL;
    out->hint = e->hint ? apr_pstrdup(p, e->hint) : NULL;
    return out;
}

/* GET and parse the directory into dir, allocated in dp. */
static apr_status_t get_directory(acme_client_t *c, acme_directory_t *dir,
                                  apr_pool_t *dp)
{
    const char *activity = apr_psprintf(c->pool, "reading the ACME directory "
                                        "%s", c->directory_url);
    acme_http_response_t *resp;
    apr_pool_t *tmp;
    json_t *doc;
    apr_status_t rv;

    apr_pool_create(&tmp, c->pool);
    rv = c->http->request(c->http, &resp, tmp, "GET", c->directory_url,
                          NULL, NULL, 0);
    if (rv != APR_SUCCESS) {
        rv = transport_fail(c, rv, activity);
        goto out;
    }
    doc = acme_json_parse(tmp, resp->body, resp->body_len);
    if (resp->status != 200) {
        /* 503 or 429 with Retry-After: the CA is busy, not misconfigured. */
        c->error = acme_error_from_problem(c->pool, doc, resp->status,
                                           apr_pstrdup(c->pool, activity));
        c->error->retry_after = acme_retry_after(resp, apr_time_now());
        if (resp->status == 404) {
            c->error->hint = "check that ACMEServer is the CA's ACME "
                             "directory URL";
        }
        rv = APR_EGENERAL;
        goto out;
    }
    if (!doc) {
        rv = acme_client_fail(c, APR_EGENERAL, ACME_FAIL_TRANSIENT, activity,
                              "the answer is not a JSON document",
                              "check that ACMEServer is the CA's ACME "
                              "directory URL");
        goto out;
    }
    if ((rv = acme_directory_parse(dir, dp, doc)) != APR_SUCCESS) {
        rv = acme_client_fail(c, rv, ACME_FAIL_CONFIG, activity,
                  "the document lacks newNonce, newAccount or newOrder",
                  "check that ACMEServer is the CA's ACME directory URL");
        goto out;
    }
out:
    apr_pool_destroy(tmp);
    return rv;
}

apr_status_t acme_directory_fetch(acme_client_t *c)
{
    acme_ca_share_t *sh = c->share;
    apr_status_t rv = APR_SUCCESS;

    if (c->have_dir) {
        return APR_SUCCESS;
    }
    if (!sh) {
        if ((rv = get_directory(c, &c->dir, c->pool)) == APR_SUCCESS) {
            c->have_dir = 1;
        }
        return rv;
    }
    /* The others wait for the one fetch rather than make their own; when
     * it failed, they fail alike for this run, without a fetch (and a
     * timeout) each. */
    apr_thread_mutex_lock(sh->lock);
    if (sh->dir_error) {
        c->error = copy_error(c->pool, sh->dir_error);
        rv = c->error->status;
    }
    else if (!sh->have_dir) {
        sh->directory_gets++;
        if ((rv = get_directory(c, &sh->dir, sh->pool)) == APR_SUCCESS) {
            sh->have_dir = 1;
        }
        else if (c->error) {
            sh->dir_error = copy_error(sh->pool, c->error);
            sh->dir_error->status = rv;
        }
    }
    if (sh->have_dir) {
        c->dir = sh->dir;    /* its strings live as long as the share */
        c->have_dir = 1;
    }
    apr_thread_mutex_unlock(sh->lock);
    return rv;
}

/* The nonce resp came with: for c's next request, or with a share (and
 * !own) for whichever of its clients needs one next. */
static void take_nonce(acme_client_t *c, const acme_http_response_t *resp,
                       int own)
{
    const char *n = apr_table_get(resp->headers, "Replay-Nonce");

    /* A nonce is base64url (RFC 8555 §6.5.1); anything else is dropped.
     * One buffer for all of them: a long job does not grow with its
     * requests. */
    c->nonce = NULL;
    if (!acme_token_is_valid(n) || strlen(n) >= sizeof(c->nonce_buf)) {
        return;
    }
    if (c->share && !own) {
        share_put_nonce(c->share, n);
        return;
    }
    memcpy(c->nonce_buf, n, strlen(n) + 1);
    c->nonce = c->nonce_buf;
}

/* An https directory hands out https URLs only: a plain http:// URL from
 * it would send signed requests (and fetch certificates) in the clear. */
static apr_status_t check_url(acme_client_t *c, const char *url,
                              const char *activity)
{
    if (strncasecmp(c->directory_url, "https://", 8)
        || !strncasecmp(url, "https://", 8)) {
        return APR_SUCCESS;
    }
    return acme_client_fail(c, APR_EINVAL, ACME_FAIL_TRANSIENT, activity,
                            apr_psprintf(c->pool, "the CA handed out %s, "
                                         "which is not https", url),
                            "the CA's answers are not trustworthy; "
                            "check ACMEServer");
}

static apr_status_t fetch_nonce(acme_client_t *c, apr_pool_t *p)
{
    acme_http_response_t *resp;
    apr_status_t rv;

    if ((rv = check_url(c, c->dir.new_nonce, "getting a nonce"))
        != APR_SUCCESS) {
        return rv;
    }
    if (c->share) {
        apr_thread_mutex_lock(c->share->lock);
        c->share->nonce_heads++;
        apr_thread_mutex_unlock(c->share->lock);
    }
    rv = c->http->request(c->http, &resp, p, "HEAD", c->dir.new_nonce,
                          NULL, NULL, 0);
    if (rv != APR_SUCCESS) {
        return transport_fail(c, rv, "getting a nonce");
    }
    take_nonce(c, resp, 1);
    if (!c->nonce) {
        return acme_client_fail(c, APR_EGENERAL, ACME_FAIL_TRANSIENT, "getting a nonce",
                    apr_psprintf(p, "HTTP %d without Replay-Nonce",
                                 resp->status), NULL);
    }
    return APR_SUCCESS;
}

static int is_json_response(const acme_http_response_t *resp)
{
    const char *ct = apr_table_get(resp->headers, "Content-Type");

    return ct && strstr(ct, "json") != NULL;
}

/* One attempt of a signed request. */
static apr_status_t post_once(acme_client_t *c, acme_http_response_t **resp,
                              apr_pool_t *p, const char *url,
                              const json_t *payload, int use_jwk)
{
    json_t *hdr = acme_json_pool_own(p, json_object()), *jws, *jwk;
    const char *body;
    apr_status_t rv;

    if ((rv = check_url(c, url, "sending a request")) != APR_SUCCESS
        || (!c->nonce && !(c->share && share_take_nonce(c))
            && (rv = fetch_nonce(c, p)) != APR_SUCCESS)) {
        return rv;
    }
    json_object_set_new(hdr, "nonce", json_string(c->nonce));
    json_object_set_new(hdr, "url", json_string(url));
    if (use_jwk) {
        if ((rv = acme_jwk_create(&jwk, p, c->account_key)) != APR_SUCCESS) {
            return acme_client_fail(c, rv, ACME_FAIL_CONFIG, "signing", "account key "
                        "unusable", NULL);
        }
        json_object_set(hdr, "jwk", jwk);
    }
    else {
        json_object_set_new(hdr, "kid", json_string(c->account_url));
    }
    rv = acme_jws_create(&jws, p, c->account_key, hdr, payload);
    if (rv != APR_SUCCESS) {
        return acme_client_fail(c, rv, ACME_FAIL_CONFIG, "signing", "JWS signing failed",
                    NULL);
    }
    body = acme_json_dump(p, jws);
    c->nonce = NULL;    /* used up, whatever happens next */
    rv = c->http->request(c->http, resp, p, "POST", url, CT_JOSE, body,
                          strlen(body));
    if (rv != APR_SUCCESS) {
        return transport_fail(c, rv, apr_psprintf(p, "POST %s", url));
    }
    take_nonce(c, *resp, 0);
    return APR_SUCCESS;
}

apr_status_t acme_signed_post(acme_client_t *c, acme_http_response_t **resp,
                                json_t **json, apr_pool_t *p, const char *url,
                                const json_t *payload, const char *activity,
                                int use_jwk)
{
    apr_status_t rv;
    json_t *doc = NULL;
    int attempt;

    if ((rv = acme_directory_fetch(c)) != APR_SUCCESS) {
        return rv;
    }
    for (attempt = 0; attempt <= ACME_BADNONCE_RETRIES; attempt++) {
        if ((rv = post_once(c, resp, p, url, payload, use_jwk)) != APR_SUCCESS) {
            if (c->error) {
                c->error->activity = apr_pstrdup(c->pool, activity);
            }
            return rv;
        }
        doc = is_json_response(*resp)
            ? acme_json_parse(p, (*resp)->body, (*resp)->body_len) : NULL;
        if ((*resp)->status >= 200 && (*resp)->status < 300) {
            if (json) {
                *json = doc;
            }
            return APR_SUCCESS;
        }
        c->error = acme_error_from_problem(c->pool, doc, (*resp)->status,
                                           apr_pstrdup(c->pool, activity));
        c->error->retry_after = acme_retry_after(*resp, apr_time_now());
        /* badNonce: retry at once with the nonce that came with the error. */
        if (!c->error->type || strcmp(c->error->type, "badNonce")) {
            break;
        }
    }
    return APR_EGENERAL;
}

apr_status_t acme_post(acme_client_t *c, acme_http_response_t **resp,
                       json_t **json, apr_pool_t *p, const char *url,
                       const json_t *payload, const char *activity)
{
    if (!c->account_url) {
        return acme_client_fail(c, APR_EINIT, ACME_FAIL_CONFIG, activity,
                    "no account registered", NULL);
    }
    return acme_signed_post(c, resp, json, p, url, payload, activity, 0);
}

int acme_client_aborted(acme_client_t *c)
{
    return c->should_abort && c->should_abort(c->abort_baton);
}

/* Sleeps d, in slices of at most 100 ms (the last one shorter, so a
 * short pause is not stretched), returning early (non-zero) on abort. */
int acme_client_pause(acme_client_t *c, apr_interval_time_t d)
{
    apr_time_t until = apr_time_now() + d, now;

    while ((now = apr_time_now()) < until) {
        if (acme_client_aborted(c)) {
            return 1;
        }
        apr_sleep(until - now < apr_time_from_msec(100)
                  ? until - now : apr_time_from_msec(100));
    }
    return acme_client_aborted(c);
}


apr_status_t acme_ari_get(acme_ari_t *ari, acme_client_t *c, apr_pool_t *p,
                          const char *cert_id)
{
    const char *activity = apr_psprintf(c->pool, "asking for renewal "
                                        "information (ARI) of %s", cert_id);
    const char *url;
    acme_http_response_t *resp;
    json_t *doc, *win;
    apr_status_t rv;

    if ((rv = acme_directory_fetch(c)) != APR_SUCCESS) {
        return rv;
    }
    if (!c->dir.renewal_info) {
        return APR_ENOTIMPL;
    }
    url = apr_pstrcat(p, c->dir.renewal_info,
                      c->dir.renewal_info[strlen(c->dir.renewal_info) - 1]
                      == '/' ? "" : "/", cert_id, NULL);
    if ((rv = check_url(c, url, activity)) != APR_SUCCESS) {
        return rv;
    }
    rv = c->http->request(c->http, &resp, p, "GET", url, NULL, NULL, 0);
    if (rv != APR_SUCCESS) {
        return transport_fail(c, rv, activity);
    }
    doc = acme_json_parse(p, resp->body, resp->body_len);
    if (resp->status != 200) {
        c->error = acme_error_from_problem(c->pool, doc, resp->status,
                                           apr_pstrdup(c->pool, activity));
        c->error->retry_after = acme_retry_after(resp, apr_time_now());
        return APR_EGENERAL;
    }
    win = json_object_get(doc, "suggestedWindow");
    if (acme_parse_rfc3339(&ari->start, acme_json_str(win, "start"))
        != APR_SUCCESS
        || acme_parse_rfc3339(&ari->end, acme_json_str(win, "end"))
        != APR_SUCCESS || ari->end < ari->start) {
        return acme_client_fail(c, APR_EGENERAL, ACME_FAIL_TRANSIENT, activity,
                                "the CA sent an invalid suggestedWindow",
                                NULL);
    }
    /* Shown to the administrator: only a plain http(s) URL. */
    ari->explanation_url = url_member(doc, "explanationURL");
    if (ari->explanation_url) {
        ari->explanation_url = apr_pstrdup(p, ari->explanation_url);
    }
    ari->retry_after = acme_retry_after(resp, apr_time_now());
    return APR_SUCCESS;
}
