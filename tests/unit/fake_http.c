/* The scripted fake HTTP transport and helpers shared by the client tests
 * (test_client.c, test_ari.c). */
#include <string.h>
#include <apr_strings.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"

/* As recorded from Pebble (which sorts keys); the arguments are
 * externalAccountRequired, termsOfService and the renewalInfo line. */
#define DIRECTORY_FMT \
    "{\n" \
    "   \"keyChange\": \"https://ca.test/rollover-account-key\",\n" \
    "   \"meta\": {\n" \
    "      \"externalAccountRequired\": %s,\n" \
    "      \"termsOfService\": \"%s\"\n" \
    "   },\n" \
    "   \"newAccount\": \"" ACCT_URL "\",\n" \
    "   \"newNonce\": \"" NONCE_URL "\",\n" \
    "   \"newOrder\": \"" ORDER_URL "\",\n" \
    "%s" \
    "   \"revokeCert\": \"https://ca.test/revoke-cert\"\n" \
    "}"

static apr_status_t fake_request(acme_http_t *http,
                                 acme_http_response_t **resp, apr_pool_t *p,
                                 const char *method, const char *url,
                                 const char *content_type, const char *body,
                                 apr_size_t body_len)
{
    fake_http_t *f = (fake_http_t *)http;
    fake_request_t *rq;
    fake_reply_t answer;
    const fake_reply_t *r = &answer;
    acme_http_response_t *out;

    if (f->lock) {
        apr_thread_mutex_lock(f->lock);
    }
    ck_assert_msg((f->respond || f->next < f->nreplies)
                  && f->nrequests < FAKE_MAX,
                  "unexpected request %s %s", method, url);
    rq = &f->requests[f->nrequests++];
    rq->at = apr_time_now();
    rq->method = apr_pstrdup(f->pool, method);
    rq->url = apr_pstrdup(f->pool, url);
    rq->content_type = content_type ? apr_pstrdup(f->pool, content_type) : NULL;
    rq->body = body ? apr_pstrmemdup(f->pool, body, body_len) : NULL;
    rq->reply_nonce = NULL;
    if (!f->respond) {
        r = &f->replies[f->next++];
        rq->reply_nonce = r->nonce;
    }
    if (f->lock) {
        apr_thread_mutex_unlock(f->lock);
    }
    if (f->respond) {
        memset(&answer, 0, sizeof(answer));
        f->respond(f, rq, &answer, p);
        if (f->lock) {
            apr_thread_mutex_lock(f->lock);
        }
        rq->reply_nonce = answer.nonce ? apr_pstrdup(f->pool, answer.nonce)
                                       : NULL;
        if (f->lock) {
            apr_thread_mutex_unlock(f->lock);
        }
    }
    if (r->transport_rv != APR_SUCCESS) {
        http->error_text = r->error_text;
        return r->transport_rv;
    }
    out = apr_pcalloc(p, sizeof(*out));
    out->status = r->status;
    out->headers = apr_table_make(p, 8);
    if (r->content_type) apr_table_set(out->headers, "Content-Type", r->content_type);
    if (r->nonce) apr_table_set(out->headers, "Replay-Nonce", r->nonce);
    if (r->location) apr_table_set(out->headers, "Location", r->location);
    if (r->retry_after) apr_table_set(out->headers, "Retry-After", r->retry_after);
    out->body = apr_pstrdup(p, r->body ? r->body : "");
    out->body_len = strlen(out->body);
    *resp = out;
    return APR_SUCCESS;
}

fake_http_t *fake_create(void)
{
    fake_http_t *f = apr_pcalloc(test_pool, sizeof(*f));

    f->pool = test_pool;
    f->http.request = fake_request;
    return f;
}

fake_http_t *fake_create_responder(fake_respond_fn *respond, void *baton)
{
    fake_http_t *f = fake_create();

    f->respond = respond;
    f->baton = baton;
    ck_assert_int_eq(apr_thread_mutex_create(&f->lock,
                                             APR_THREAD_MUTEX_DEFAULT,
                                             test_pool), APR_SUCCESS);
    return f;
}

fake_reply_t *fake_push(fake_http_t *f, int status, const char *content_type,
                        const char *body)
{
    fake_reply_t *r;

    ck_assert_int_lt(f->nreplies, FAKE_MAX);
    r = &f->replies[f->nreplies++];
    r->status = status;
    r->content_type = content_type;
    r->body = body;
    return r;
}

void push_directory(fake_http_t *f, int eab_required)
{
    push_directory_ari(f, eab_required, ARI_URL);
}

void push_directory_ari(fake_http_t *f, int eab_required,
                        const char *renewal_info)
{
    const char *ari = renewal_info
        ? apr_psprintf(test_pool, "   \"renewalInfo\": \"%s\",\n", renewal_info)
        : "";

    fake_push(f, 200, CT_JSON, apr_psprintf(test_pool, DIRECTORY_FMT,
                                            eab_required ? "true" : "false",
                                            TOS_URL, ari));
}

void push_nonce(fake_http_t *f, const char *nonce)
{
    fake_push(f, 200, NULL, NULL)->nonce = nonce;
}

fake_reply_t *push_problem(fake_http_t *f, int status, const char *type,
                           const char *detail)
{
    return fake_push(f, status, CT_PROBLEM, apr_psprintf(test_pool,
        "{\"type\":\"urn:ietf:params:acme:error:%s\",\"detail\":\"%s\","
        "\"status\":%d}", type, detail, status));
}

int count_method(const fake_http_t *f, const char *method)
{
    int i, n = 0;

    for (i = 0; i < f->nrequests; i++) {
        n += !strcmp(f->requests[i].method, method);
    }
    return n;
}

acme_client_t *client_new(fake_http_t *f)
{
    acme_client_t *c;
    EVP_PKEY *key;

    ck_assert(acme_key_generate(&key, test_pool, ACME_KEY_EC256) == APR_SUCCESS);
    ck_assert(acme_client_create(&c, test_pool, &f->http, DIR_URL) == APR_SUCCESS);
    c->account_key = key;
    return c;
}

acme_client_t *client_registered(fake_http_t *f)
{
    acme_client_t *c = client_new(f);

    push_directory(f, 0);
    ck_assert(acme_directory_fetch(c) == APR_SUCCESS);
    c->account_url = KID_URL;
    c->nonce = "startNonce";
    f->nrequests = 0;
    return c;
}

void assert_has(const char *hay, const char *needle)
{
    ck_assert_ptr_nonnull(hay);
    ck_assert_msg(strstr(hay, needle) != NULL, "'%s' lacks '%s'", hay, needle);
}

json_t *b64_json(const char *b64)
{
    unsigned char *raw;
    apr_size_t len;
    json_t *j;

    ck_assert(acme_b64_decode(&raw, &len, test_pool, b64) == APR_SUCCESS);
    j = acme_json_parse(test_pool, (const char *)raw, len);
    ck_assert_msg(j != NULL, "not a JSON object: %s", raw);
    return j;
}

jws_parts_t jws_decode(const fake_request_t *rq)
{
    jws_parts_t parts;
    json_t *jws;

    ck_assert_str_eq(rq->method, "POST");
    ck_assert_str_eq(rq->content_type, "application/jose+json");
    jws = acme_json_parse(test_pool, rq->body, strlen(rq->body));
    ck_assert_ptr_nonnull(jws);
    ck_assert_ptr_nonnull(acme_json_str(jws, "signature"));
    parts.hdr = b64_json(acme_json_str(jws, "protected"));
    parts.payload_b64 = acme_json_str(jws, "payload");
    ck_assert_ptr_nonnull(parts.payload_b64);
    parts.payload = *parts.payload_b64 ? b64_json(parts.payload_b64) : NULL;
    return parts;
}

