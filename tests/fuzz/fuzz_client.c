/* The ACME protocol as the job runs it, against a CA that answers with the
 * fuzz input (a list of HTTP responses, see fuzz_http.h): directory,
 * nonce, account, order, authorizations, challenge, polling, finalize,
 * download, renewal information. Every step runs even when the one before
 * failed (with the values a good CA would have given), so the fuzzer
 * reaches each reader without a perfect conversation. Covers the status,
 * header (Replay-Nonce, Location, Retry-After, Content-Type) and problem
 * handling of the one signed-request path, badNonce retries included. */
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_http.h"
#include "acme_cert.h"
#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_problem.h"

static apr_pool_t *key_pool;
static EVP_PKEY *account_key;

/* Polling waits for the server's Retry-After, or for poll_interval (0
 * here). Instead of sleeping, stop the job when a wait would be longer. */
static int no_waiting(void *baton)
{
    acme_client_t *c = baton;
    const acme_http_response_t *last = fuzz_http_last(c->http);

    return last && acme_retry_after(last, apr_time_now()) > 0;
}

static void note_error(acme_client_t *c, apr_pool_t *p)
{
    if (c->error) {
        FUZZ_CHECK(acme_error_line(p, c->error) != NULL);
        c->error = NULL;
    }
}

static void authorize(acme_client_t *c, apr_pool_t *p, const char *url)
{
    acme_authz_t *a = NULL;
    const acme_challenge_t *ch;
    const char *ka;
    int i;

    if (acme_authz_get(&a, c, p, url) == APR_SUCCESS) {
        for (i = 0; i < a->challenges->nelts; i++) {
            ch = &APR_ARRAY_IDX(a->challenges, i, acme_challenge_t);
            if (!strcmp(ch->type, "http-01") && ch->token) {
                FUZZ_CHECK(acme_key_authorization(&ka, c, p, ch->token)
                           == APR_SUCCESS);
                acme_challenge_respond(c, p, ch);
                break;
            }
        }
    }
    note_error(c, p);
    acme_authz_wait(&a, c, p, url);
    note_error(c, p);
}

static void download(acme_client_t *c, apr_pool_t *p, const char *url)
{
    const char *pem, *id;
    apr_size_t len;
    apr_array_header_t *chain;
    acme_cert_info_t *info;

    if (acme_cert_download(&pem, &len, c, p, url) == APR_SUCCESS
        && acme_cert_chain_parse(&chain, p, pem, len) == APR_SUCCESS) {
        acme_cert_info(&info, p, chain);
        acme_cert_ari_id(&id, p, chain);
    }
    note_error(c, p);
}

static void run(acme_client_t *c, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 2, sizeof(const char *));
    apr_array_header_t *contacts = apr_array_make(p, 1, sizeof(const char *));
    static const unsigned char hmac[] = "0123456789abcdef0123456789abcdef";
    acme_order_t *o = NULL, *fin = NULL;
    const char *order_url = "https://ca.test/order/1";
    acme_ari_t ari;
    int i;

    APR_ARRAY_PUSH(names, const char *) = "example.org";
    APR_ARRAY_PUSH(names, const char *) = "*.example.org";
    APR_ARRAY_PUSH(contacts, const char *) = "mailto:admin@example.org";

    acme_directory_fetch(c);
    note_error(c, p);
    if (acme_account_register(c, p, contacts, 1,
                              c->dir.eab_required ? "kid-1" : NULL, hmac,
                              sizeof(hmac) - 1) != APR_SUCCESS) {
        c->account_url = "https://ca.test/acct/1";
    }
    note_error(c, p);
    if (acme_order_new(&o, c, p, names, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
                       "shortlived")
        == APR_SUCCESS) {
        order_url = o->url;
        for (i = 0; i < o->authz_urls->nelts && i < 3; i++) {
            authorize(c, p, APR_ARRAY_IDX(o->authz_urls, i, const char *));
        }
    }
    note_error(c, p);
    if (acme_order_wait(&o, c, p, order_url, "ready") == APR_SUCCESS) {
        acme_order_finalize(&fin, c, p, o, "MIIBAjCBqAIBADAWMRQwEgYDVQQD");
    }
    note_error(c, p);
    if (acme_order_wait(&o, c, p, order_url, "valid") == APR_SUCCESS
        && o->certificate_url) {
        download(c, p, o->certificate_url);
    }
    else {
        download(c, p, "https://ca.test/cert/1");
    }
    memset(&ari, 0, sizeof(ari));
    if (acme_ari_get(&ari, c, p, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
        == APR_SUCCESS) {
        FUZZ_CHECK(ari.start <= ari.end);
        FUZZ_CHECK(ari.retry_after >= 0);
    }
    note_error(c, p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *text = fuzz_cstr(p, data, size);
    acme_client_t *c;

    if (!key_pool) {
        /* One account key for the whole run: signing is real, keygen once. */
        key_pool = fuzz_pool();
        FUZZ_CHECK(acme_key_generate(&account_key, key_pool, ACME_KEY_EC256)
                   == APR_SUCCESS);
    }
    acme_client_create(&c, p, fuzz_http_create(p, text, size),
                       "https://ca.test/dir");
    c->account_key = account_key;
    c->poll_interval = 0;
    c->should_abort = no_waiting;
    c->abort_baton = c;
    run(c, p);
    apr_pool_destroy(p);
    return 0;
}
