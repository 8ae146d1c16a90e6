/* Orders at one CA that share a run (acme_ca_share_t in acme_client.c,
 * acme_job.c): one directory fetch for all of them, a pool of nonces
 * that every answer feeds (the newest used first, 32 kept), one account
 * registration when several orders need it at once; and the certificate
 * key, made while the CA validates.
 *
 * The CA is simulated request by request (a responder on the fake
 * transport), so that jobs in several threads can use it at once. It
 * checks what a real CA would (each nonce used once, requests signed by
 * the account) and notes what it saw; the tests assert on that. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_thread_proc.h>
#include <apr_thread_cond.h>
#include <openssl/x509.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_job.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_store.h"
#include "acme_util.h"

#define CA         "https://ca.test/"
#define CT_PEM     "application/pem-certificate-chain"
#define MAX_NAMES  2
#define MAX_POLLS  4

/* What the simulated CA saw of one name's order. */
typedef struct {
    const char *name;
    int challenged;                 /* its challenge was POSTed */
    int polls;                      /* authorization polls since */
    int key_at_order;               /* the staged key existed at newOrder */
    int key_at_poll[MAX_POLLS];     /* ... at each of those polls */
    const char *key_pem;            /* the staged key at the last poll */
    int csr_fits;                   /* the CSR is for the staged key */
    const char *chain;              /* issued for the staged key */
} ca_order_t;

typedef struct {
    apr_thread_mutex_t *lock;       /* everything below */
    apr_thread_cond_t *cond;        /* accounts or orders went up */
    apr_pool_t *pool;               /* its own allocator: any thread with
                                     * lock uses it */
    const acme_store_t *store;
    apr_hash_t *nonces;             /* issued nonce -> "" (fresh), "used" */
    int nonce_seq;
    ca_order_t orders[MAX_NAMES];
    int norders;
    int accounts;                   /* newAccount requests */
    int orders_wait_for;            /* newOrder is held until this many
                                     * newOrders came in (0: not held) */
    int orders_met;                 /* and they did */
    apr_interval_time_t account_hold;   /* newAccount waits this long for
                                         * a second one */
    const char *problem;            /* the first thing wrong */
} ca_t;

static apr_status_t ca_cleanup(void *data)
{
    ca_t *ca = data;

    apr_thread_cond_destroy(ca->cond);
    apr_thread_mutex_destroy(ca->lock);
    apr_pool_destroy(ca->pool);
    return APR_SUCCESS;
}

static ca_t *ca_create(const acme_store_t *store)
{
    ca_t *ca = apr_pcalloc(test_pool, sizeof(*ca));

    ck_assert_int_eq(apr_pool_create_unmanaged_ex(&ca->pool, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_thread_mutex_create(&ca->lock,
                     APR_THREAD_MUTEX_DEFAULT, ca->pool), APR_SUCCESS);
    ck_assert_int_eq(apr_thread_cond_create(&ca->cond, ca->pool),
                     APR_SUCCESS);
    apr_pool_cleanup_register(test_pool, ca, ca_cleanup,
                              apr_pool_cleanup_null);
    ca->store = store;
    ca->nonces = apr_hash_make(ca->pool);
    return ca;
}

/* Notes the first problem; the request is answered with an error. */
static void ca_wrong(ca_t *ca, fake_reply_t *r, apr_pool_t *p,
                     const char *what)
{
    if (!ca->problem) {
        ca->problem = apr_pstrdup(ca->pool, what);
    }
    r->status = 500;
    r->content_type = CT_PROBLEM;
    r->body = apr_psprintf(p, "{\"type\":\"urn:ietf:params:acme:error:"
                           "serverInternal\",\"detail\":\"%s\"}", what);
}

/* Waits (lock held) until *count reaches n or timeout passed. */
static int ca_wait_for(ca_t *ca, const int *count, int n,
                       apr_interval_time_t timeout)
{
    apr_time_t until = apr_time_now() + timeout;

    while (*count < n && apr_time_now() < until) {
        apr_thread_cond_timedwait(ca->cond, ca->lock,
                                  until - apr_time_now());
    }
    return *count >= n;
}

static ca_order_t *ca_order(ca_t *ca, const char *name)
{
    int i;

    for (i = 0; i < ca->norders; i++) {
        if (!strcmp(ca->orders[i].name, name)) {
            return &ca->orders[i];
        }
    }
    return NULL;
}

static const char *key_path(ca_t *ca, apr_pool_t *p, const char *name)
{
    return apr_pstrcat(p, ca->store->base, "/staging/", name,
                       "/ec256.key.pem", NULL);
}

static const char *read_key(ca_t *ca, apr_pool_t *p, const char *name)
{
    char *data;
    apr_size_t len;

    return acme_store_read(&data, &len, key_path(ca, p, name),
                           ACME_STORE_FILE_MAX, p) == APR_SUCCESS ? data
                                                                  : NULL;
}

/* The protected header and payload (NULL: POST-as-GET) of a JWS. */
static int jws_parse(apr_pool_t *p, const char *body, json_t **hdr,
                     json_t **payload)
{
    json_t *jws = body ? acme_json_parse(p, body, strlen(body)) : NULL;
    const char *ph = jws ? acme_json_str(jws, "protected") : NULL;
    const char *pl = jws ? acme_json_str(jws, "payload") : NULL;
    unsigned char *raw;
    apr_size_t len;

    *payload = NULL;
    if (!ph || !pl || acme_b64_decode(&raw, &len, p, ph) != APR_SUCCESS
        || !(*hdr = acme_json_parse(p, (const char *)raw, len))) {
        return 0;
    }
    return !*pl || (acme_b64_decode(&raw, &len, p, pl) == APR_SUCCESS
                    && (*payload = acme_json_parse(p, (const char *)raw,
                                                   len)) != NULL);
}

/* Does the CSR (base64url DER) carry the public half of key_pem? */
static int csr_fits(apr_pool_t *p, const char *csr_b64, const char *key_pem)
{
    unsigned char *der;
    const unsigned char *q;
    apr_size_t len;
    X509_REQ *req;
    EVP_PKEY *key;
    int fits;

    if (!csr_b64 || !key_pem
        || acme_b64_decode(&der, &len, p, csr_b64) != APR_SUCCESS
        || acme_key_from_pem(&key, p, key_pem, strlen(key_pem))
           != APR_SUCCESS) {
        return 0;
    }
    q = der;
    if (!(req = d2i_X509_REQ(NULL, &q, (long)len))) {
        return 0;
    }
    fits = EVP_PKEY_eq(X509_REQ_get0_pubkey(req), key) == 1;
    X509_REQ_free(req);
    return fits;
}

/* A chain the job accepts for name and the key staged for it: a leaf
 * that key signs itself, followed by its issuer, itself. */
static const char *ca_issue(ca_t *ca, apr_pool_t *p, const char *name)
{
    apr_array_header_t *names = apr_array_make(p, 1, sizeof(const char *));
    const char *pem = read_key(ca, p, name), *leaf;
    EVP_PKEY *key;

    APR_ARRAY_PUSH(names, const char *) = name;
    if (!pem || acme_key_from_pem(&key, p, pem, strlen(pem)) != APR_SUCCESS
        || acme_cert_self_signed(&leaf, p, key, names, 30) != APR_SUCCESS) {
        return NULL;
    }
    return apr_pstrcat(ca->pool, leaf, leaf, NULL);
}

static const char *order_doc(apr_pool_t *p, const char *name,
                             const char *status)
{
    const char *cert = strcmp(status, "valid") ? "" : apr_psprintf(p,
        ",\"certificate\":\"" CA "cert/%s\"", name);

    return apr_psprintf(p, "{\"status\":\"%s\",\"expires\":"
        "\"2030-01-01T00:00:00Z\",\"identifiers\":[{\"type\":\"dns\","
        "\"value\":\"%s\"}],\"authorizations\":[\"" CA "authz/%s\"],"
        "\"finalize\":\"" CA "finalize/%s\"%s}", status, name, name, name,
        cert);
}

static const char *challenge_doc(apr_pool_t *p, ca_t *ca, const char *name,
                                 const char *status)
{
    return apr_psprintf(p, "{\"type\":\"http-01\",\"url\":\"" CA
                        "chall/%s\",\"token\":\"tok%d\",\"status\":\"%s\"}",
                        name, (int)(ca_order(ca, name) - ca->orders),
                        status);
}

static const char *authz_doc(apr_pool_t *p, ca_t *ca, const char *name,
                             const char *status)
{
    return apr_psprintf(p, "{\"status\":\"%s\",\"identifier\":{\"type\":"
                        "\"dns\",\"value\":\"%s\"},\"challenges\":[%s]}",
                        status, name, challenge_doc(p, ca, name, status));
}

/* The signed requests, by URL; lock held. */
static void ca_post(ca_t *ca, const fake_request_t *rq, fake_reply_t *r,
                    apr_pool_t *p)
{
    json_t *hdr, *payload;
    const char *nonce, *kid, *name;
    ca_order_t *o = NULL;

    if (!jws_parse(p, rq->body, &hdr, &payload)) {
        ca_wrong(ca, r, p, apr_pstrcat(p, "not a JWS: ", rq->url, NULL));
        return;
    }
    nonce = acme_json_str(hdr, "nonce");
    if (!nonce || !apr_hash_get(ca->nonces, nonce, APR_HASH_KEY_STRING)
        || *(const char *)apr_hash_get(ca->nonces, nonce,
                                       APR_HASH_KEY_STRING)) {
        ca_wrong(ca, r, p, apr_pstrcat(p, "nonce not issued or used twice: ",
                                       nonce ? nonce : "none", NULL));
        return;
    }
    apr_hash_set(ca->nonces, apr_pstrdup(ca->pool, nonce),
                 APR_HASH_KEY_STRING, "used");
    kid = acme_json_str(hdr, "kid");
    if (!strcmp(rq->url, ACCT_URL)) {
        /* A second registration comes in while the first is held, unless
         * the job lets one registration at a time go. */
        ca->accounts++;
        apr_thread_cond_broadcast(ca->cond);
        if (ca->account_hold) {
            ca_wait_for(ca, &ca->accounts, 2, ca->account_hold);
        }
        r->status = 201;
        r->content_type = CT_JSON;
        r->body = "{\"status\":\"valid\",\"orders\":\"" KID_URL "/orders\"}";
        r->location = KID_URL;
        return;
    }
    if (!kid || strcmp(kid, KID_URL)) {
        ca_wrong(ca, r, p, apr_pstrcat(p, "not signed by the account: ",
                                       rq->url, NULL));
        return;
    }
    r->status = 200;
    r->content_type = CT_JSON;
    if (!strcmp(rq->url, ORDER_URL)) {
        name = acme_json_str(json_array_get(json_object_get(payload,
                             "identifiers"), 0), "value");
        if (!name || ca_order(ca, name) || ca->norders == MAX_NAMES) {
            ca_wrong(ca, r, p, "unexpected newOrder");
            return;
        }
        o = &ca->orders[ca->norders++];
        o->name = apr_pstrdup(ca->pool, name);
        o->key_at_order = read_key(ca, p, name) != NULL;
        apr_thread_cond_broadcast(ca->cond);
        if (ca->orders_wait_for) {
            ca->orders_met = ca_wait_for(ca, &ca->norders,
                                         ca->orders_wait_for,
                                         apr_time_from_sec(10));
        }
        r->status = 201;
        r->location = apr_pstrcat(p, CA "order/", name, NULL);
        r->body = order_doc(p, name, "pending");
        return;
    }
    name = strchr(rq->url + strlen(CA), '/');
    o = name ? ca_order(ca, name + 1) : NULL;
    if (!o) {
        ca_wrong(ca, r, p, apr_pstrcat(p, "unknown URL ", rq->url, NULL));
        return;
    }
    name = o->name;
    if (!strncmp(rq->url, CA "authz/", strlen(CA "authz/"))) {
        if (o->challenged) {
            o->key_pem = read_key(ca, ca->pool, name);
            if (o->polls < MAX_POLLS) {
                o->key_at_poll[o->polls] = o->key_pem != NULL;
            }
            o->polls++;
        }
        /* Valid at the second poll: one pause between the two. */
        r->body = authz_doc(p, ca, name, o->polls > 1 ? "valid" : "pending");
    }
    else if (!strncmp(rq->url, CA "chall/", strlen(CA "chall/"))) {
        o->challenged = 1;
        r->body = challenge_doc(p, ca, name, "processing");
    }
    else if (!strncmp(rq->url, CA "finalize/", strlen(CA "finalize/"))) {
        o->csr_fits = csr_fits(p, acme_json_str(payload, "csr"),
                               read_key(ca, p, name));
        if (!o->csr_fits || !(o->chain = ca_issue(ca, p, name))) {
            ca_wrong(ca, r, p, "the CSR is not for the staged key");
            return;
        }
        r->body = order_doc(p, name, "processing");
    }
    else if (!strncmp(rq->url, CA "order/", strlen(CA "order/"))) {
        r->body = order_doc(p, name, o->chain ? "valid" : "pending");
    }
    else if (!strncmp(rq->url, CA "cert/", strlen(CA "cert/")) && o->chain) {
        r->content_type = CT_PEM;
        r->body = apr_pstrdup(p, o->chain);
    }
    else {
        ca_wrong(ca, r, p, apr_pstrcat(p, "unexpected POST ", rq->url, NULL));
    }
}

static void ca_respond(fake_http_t *f, const fake_request_t *rq,
                       fake_reply_t *r, apr_pool_t *p)
{
    ca_t *ca = f->baton;
    const char *nonce;

    apr_thread_mutex_lock(ca->lock);
    if (strcmp(rq->method, "GET")) {
        /* Every answer but the directory's brings a fresh nonce. */
        nonce = apr_psprintf(ca->pool, "nonce%d", ++ca->nonce_seq);
        apr_hash_set(ca->nonces, nonce, APR_HASH_KEY_STRING, "");
        r->nonce = apr_pstrdup(p, nonce);
    }
    if (!strcmp(rq->method, "GET") && !strcmp(rq->url, DIR_URL)) {
        r->status = 200;
        r->content_type = CT_JSON;
        r->body = "{\"newAccount\":\"" ACCT_URL "\",\"newNonce\":\""
                  NONCE_URL "\",\"newOrder\":\"" ORDER_URL "\"}";
    }
    else if (!strcmp(rq->method, "HEAD") && !strcmp(rq->url, NONCE_URL)) {
        r->status = 200;
    }
    else if (!strcmp(rq->method, "POST")) {
        ca_post(ca, rq, r, p);
    }
    else {
        ca_wrong(ca, r, p, apr_pstrcat(p, "unexpected ", rq->method, " ",
                                       rq->url, NULL));
    }
    apr_thread_mutex_unlock(ca->lock);
}

/* --- the store and the jobs ------------------------------------------ */

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

static apr_status_t store_cleanup(void *base)
{
    nftw((const char *)base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return APR_SUCCESS;
}

static const char *account_dir(const acme_store_t *store)
{
    return apr_pstrcat(test_pool, store->base, "/accounts/",
                       acme_job_account_id(test_pool, DIR_URL, NULL), NULL);
}

/* An empty store; with_account: an account registered at KID_URL. */
static acme_store_t *store_new(int with_account)
{
    char tmpl[] = "/tmp/acmeauto-test-share-XXXXXX";
    acme_store_t *store;
    EVP_PKEY *key;
    const char *pem, *dir;

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_int_eq(acme_store_open(&store, test_pool, tmpl), APR_SUCCESS);
    apr_pool_cleanup_register(test_pool, apr_pstrdup(test_pool, tmpl),
                              store_cleanup, apr_pool_cleanup_null);
    ck_assert_int_eq(acme_store_create_dirs(store, test_pool), APR_SUCCESS);
    if (!with_account) {
        return store;
    }
    dir = account_dir(store);
    ck_assert_int_eq(acme_store_mkdirs(dir, 0700, test_pool), APR_SUCCESS);
    ck_assert(acme_key_generate(&key, test_pool, ACME_KEY_EC256)
              == APR_SUCCESS);
    ck_assert(acme_key_to_pem(&pem, test_pool, key) == APR_SUCCESS);
    ck_assert_int_eq(acme_store_write(apr_pstrcat(test_pool, dir,
                     "/account.key.pem", NULL), pem, strlen(pem), 0600,
                     test_pool), APR_SUCCESS);
    pem = "{\"url\":\"" KID_URL "\",\"server\":\"" DIR_URL "\"}";
    ck_assert_int_eq(acme_store_write(apr_pstrcat(test_pool, dir,
                     "/account.json", NULL), pem, strlen(pem), 0600,
                     test_pool), APR_SUCCESS);
    return store;
}

/* One job: an EC P-256 certificate for name, in a pool of its own. */
typedef struct {
    acme_domain_spec_t spec;
    acme_job_env_t env;
    const acme_store_t *store;
    apr_pool_t *pool;               /* own allocator: for its thread */
    apr_status_t rv;
    const char *error;              /* why it failed */
} run_t;

static run_t *run_new(const char *name, const acme_store_t *store,
                      fake_http_t *f, acme_ca_share_t *share)
{
    run_t *run = apr_pcalloc(test_pool, sizeof(*run));
    acme_domain_spec_t *d = &run->spec;

    ck_assert_int_eq(apr_pool_create_unmanaged_ex(&run->pool, NULL, NULL),
                     APR_SUCCESS);
    d->name = name;
    d->names = apr_array_make(test_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(d->names, const char *) = name;
    d->key_types = apr_array_make(test_pool, 1, sizeof(acme_key_type_e));
    APR_ARRAY_PUSH(d->key_types, acme_key_type_e) = ACME_KEY_EC256;
    d->server_url = DIR_URL;
    d->contacts = apr_array_make(test_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(d->contacts, const char *) = "mailto:admin@example.org";
    d->tos_agreed = 1;
    run->env.poll_interval = apr_time_from_msec(1);
    run->env.http = &f->http;
    run->env.share = share;
    run->store = store;
    return run;
}

/* Any thread: all it allocates is in run->pool. */
static void run_job(run_t *run)
{
    acme_error_t *err = NULL;

    run->rv = acme_job_issue(&err, run->pool, &run->spec, run->store,
                             &run->env);
    run->error = run->rv == APR_SUCCESS ? NULL
        : err ? acme_error_line(run->pool, err) : "no error";
}

/* The job's own pool goes; only what it stored, and the share, stay. */
static void run_done(run_t *run)
{
    const char *error = run->error ? apr_pstrdup(test_pool, run->error)
                                   : NULL;
    apr_finfo_t fi;

    apr_pool_destroy(run->pool);
    run->pool = NULL;
    ck_assert_msg(run->rv == APR_SUCCESS, "%s: %s", run->spec.name, error);
    ck_assert_msg(apr_stat(&fi, apr_pstrcat(test_pool, run->store->base,
                  "/staging/", run->spec.name, "/staged.json", NULL),
                  APR_FINFO_TYPE, test_pool) == APR_SUCCESS,
                  "%s not staged", run->spec.name);
}

static void *APR_THREAD_FUNC run_thread(apr_thread_t *t, void *data)
{
    run_job(data);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* Two jobs in two threads at once. */
static void run_both(run_t *a, run_t *b)
{
    apr_thread_t *ta, *tb;
    apr_status_t st;

    ck_assert_int_eq(apr_thread_create(&ta, NULL, run_thread, a, test_pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_thread_create(&tb, NULL, run_thread, b, test_pool),
                     APR_SUCCESS);
    ck_assert_int_eq(apr_thread_join(&st, ta), APR_SUCCESS);
    ck_assert_int_eq(apr_thread_join(&st, tb), APR_SUCCESS);
}

static const char *nonce_of(const fake_request_t *rq)
{
    return acme_json_str(jws_decode(rq).hdr, "nonce");
}

/* --- the tests -------------------------------------------------------- */

START_TEST(orders_in_turn_share_the_directory_and_the_nonces)
{
    /* Two orders one after the other in one run: the second asks for
     * neither the directory nor a nonce. Its first request (newOrder)
     * uses the nonce that the first order's last answer brought, though
     * the first job's pool is gone by then. */
    const acme_store_t *store = store_new(1);
    ca_t *ca = ca_create(store);
    fake_http_t *f = fake_create_responder(ca_respond, ca);
    acme_ca_share_t *share;
    run_t *a, *b;
    int first_of_b, gets, heads;

    ck_assert_int_eq(acme_ca_share_create(&share, test_pool), APR_SUCCESS);
    a = run_new("a.example.org", store, f, share);
    b = run_new("b.example.org", store, f, share);
    run_job(a);
    run_done(a);
    first_of_b = f->nrequests;
    run_job(b);
    run_done(b);
    ck_assert_msg(!ca->problem, "%s", ca->problem);
    ck_assert_int_eq(count_method(f, "GET"), 1);
    ck_assert_int_eq(count_method(f, "HEAD"), 1);
    acme_ca_share_counts(share, &gets, &heads);
    ck_assert_int_eq(gets, 1);
    ck_assert_int_eq(heads, 1);
    ck_assert_str_eq(f->requests[first_of_b].url, ORDER_URL);
    ck_assert_str_eq(nonce_of(&f->requests[first_of_b]),
                     f->requests[first_of_b - 1].reply_nonce);
    /* newOrder, authorization, challenge, two polls, finalize, order
     * poll, download: the same for both. */
    ck_assert_int_eq(count_method(f, "POST"), 2 * 8);
}
END_TEST

START_TEST(orders_at_once_fetch_the_directory_once)
{
    /* Two jobs in two threads, their newOrders in flight together (the
     * CA holds each until both came in): one directory GET in all; one
     * nonce HEAD each, as neither has an answer to take a nonce from
     * yet; after that the answers' nonces serve both. */
    const acme_store_t *store = store_new(1);
    ca_t *ca = ca_create(store);
    fake_http_t *f = fake_create_responder(ca_respond, ca);
    acme_ca_share_t *share;
    run_t *a, *b;
    int gets, heads;

    ck_assert_int_eq(acme_ca_share_create(&share, test_pool), APR_SUCCESS);
    a = run_new("a.example.org", store, f, share);
    b = run_new("b.example.org", store, f, share);
    ca->orders_wait_for = 2;
    run_both(a, b);
    run_done(a);
    run_done(b);
    ck_assert_msg(!ca->problem, "%s", ca->problem);
    ck_assert(ca->orders_met);
    ck_assert_int_eq(count_method(f, "GET"), 1);
    ck_assert_int_eq(count_method(f, "HEAD"), 2);
    acme_ca_share_counts(share, &gets, &heads);
    ck_assert_int_eq(gets, 1);
    ck_assert_int_eq(heads, 2);
    ck_assert_int_eq(count_method(f, "POST"), 2 * 8);
}
END_TEST

START_TEST(orders_at_once_register_the_account_once)
{
    /* No account yet, two orders at once: one registers it (the CA
     * holds that registration half a second, long enough for a second
     * one to arrive if the other job did not wait for it), the other
     * finds it stored and signs with it. */
    const acme_store_t *store = store_new(0);
    ca_t *ca = ca_create(store);
    fake_http_t *f = fake_create_responder(ca_respond, ca);
    acme_ca_share_t *share;
    run_t *a, *b;
    json_t *acct = NULL;
    int gets, heads;

    ck_assert_int_eq(acme_ca_share_create(&share, test_pool), APR_SUCCESS);
    a = run_new("a.example.org", store, f, share);
    b = run_new("b.example.org", store, f, share);
    ca->account_hold = apr_time_from_msec(500);
    ca->orders_wait_for = 2;
    run_both(a, b);
    ck_assert_int_eq(ca->accounts, 1);
    run_done(a);
    run_done(b);
    ck_assert_msg(!ca->problem, "%s", ca->problem);
    ck_assert_int_eq(acme_store_read_json(&acct, apr_pstrcat(test_pool,
                     account_dir(store), "/account.json", NULL), test_pool),
                     APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(acct, "url"), KID_URL);
    ck_assert_int_eq(count_method(f, "GET"), 1);
    acme_ca_share_counts(share, &gets, &heads);
    ck_assert_int_eq(gets, 1);
    ck_assert_int_eq(heads, count_method(f, "HEAD"));
    ck_assert_int_le(heads, 2);
}
END_TEST

START_TEST(certificate_key_is_made_while_the_ca_validates)
{
    /* No key staged: it is made in the first pause between the polls of
     * the authorization (there at the second poll, not at the first),
     * and the CSR sent at finalize is for that very key. */
    const acme_store_t *store = store_new(1);
    ca_t *ca = ca_create(store);
    fake_http_t *f = fake_create_responder(ca_respond, ca);
    run_t *a = run_new("a.example.org", store, f, NULL);
    ca_order_t *o;

    run_job(a);
    run_done(a);
    ck_assert_msg(!ca->problem, "%s", ca->problem);
    o = ca_order(ca, "a.example.org");
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(o->polls, 2);
    ck_assert(!o->key_at_order);
    ck_assert(!o->key_at_poll[0]);
    ck_assert(o->key_at_poll[1]);
    ck_assert(o->csr_fits);
    ck_assert_str_eq(read_key(ca, test_pool, "a.example.org"), o->key_pem);
}
END_TEST

START_TEST(nonce_pool_hands_out_the_newest_and_keeps_32)
{
    /* 34 clients of one CA each sign a request with a nonce of their
     * own; the answers' nonces (n1..n34) go to the pool, which keeps the
     * 32 newest. A 35th client, whose answers bring none, uses n34,
     * n33, ..., n3, and then has to ask for one. */
    fake_http_t *feed = fake_create(), *drain = fake_create();
    acme_ca_share_t *share;
    acme_client_t *c;
    acme_http_response_t *resp;
    int i, gets, heads;

    ck_assert_int_eq(acme_ca_share_create(&share, test_pool), APR_SUCCESS);
    push_directory(feed, 0);
    for (i = 1; i <= 34; i++) {
        fake_push(feed, 200, CT_JSON, "{}")->nonce =
            apr_psprintf(test_pool, "n%d", i);
    }
    for (i = 1; i <= 34; i++) {
        c = client_new(feed);
        c->share = share;
        c->account_url = KID_URL;
        c->nonce = apr_psprintf(test_pool, "own%d", i);
        ck_assert_int_eq(acme_post(c, &resp, NULL, test_pool, CA "x", NULL,
                                   "feeding"), APR_SUCCESS);
        ck_assert_str_eq(nonce_of(&feed->requests[feed->nrequests - 1]),
                         apr_psprintf(test_pool, "own%d", i));
    }
    for (i = 0; i < 32; i++) {
        fake_push(drain, 200, CT_JSON, "{}");
    }
    push_nonce(drain, "fromHead");
    fake_push(drain, 200, CT_JSON, "{}");
    c = client_new(drain);
    c->share = share;
    c->account_url = KID_URL;
    for (i = 0; i < 33; i++) {
        ck_assert_int_eq(acme_post(c, &resp, NULL, test_pool, CA "y", NULL,
                                   "draining"), APR_SUCCESS);
    }
    for (i = 0; i < 32; i++) {
        ck_assert_str_eq(nonce_of(&drain->requests[i]),
                         apr_psprintf(test_pool, "n%d", 34 - i));
    }
    ck_assert_str_eq(drain->requests[32].method, "HEAD");
    ck_assert_str_eq(nonce_of(&drain->requests[33]), "fromHead");
    acme_ca_share_counts(share, &gets, &heads);
    ck_assert_int_eq(gets, 1);
    ck_assert_int_eq(heads, 1);
}
END_TEST

Suite *share_suite(void)
{
    Suite *s = suite_create("share");
    TCase *tc = tcase_create("orders");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, orders_in_turn_share_the_directory_and_the_nonces);
    tcase_add_test(tc, orders_at_once_fetch_the_directory_once);
    tcase_add_test(tc, orders_at_once_register_the_account_once);
    tcase_add_test(tc, certificate_key_is_made_while_the_ca_validates);
    tcase_add_test(tc, nonce_pool_hands_out_the_newest_and_keeps_32);
    suite_add_tcase(s, tc);
    return s;
}
