/* The issuance job (acme_job.c) driven over the scripted fake transport:
 * resume of a kept order, a new order when the CA lost the old one, the
 * "replaces" fallback (RFC 9773 §5), a lost account (RFC 8555 §7.3.1 /
 * §6.7 accountDoesNotExist), a chain kept across an interruption, the
 * requests a new order makes (finalized as soon as it is authorized) and
 * a CA that answers that too early (orderNotReady).
 *
 * The expected requests are what RFC 8555 prescribes for each situation;
 * the store layout is the one the README documents
 * (staging/<name>/<type>.{key,cert,order}.pem|json, staged.json,
 * accounts/<ca-id>/account.json). */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "test_suites.h"
#include "fake_http.h"
#include "acme_job.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_store.h"
#include "acme_util.h"

#define NAME       "example.org"
#define OLD_ORDER  "https://ca.test/my-order/kept"
#define NEW_ORDER  "https://ca.test/my-order/new"
#define FINALIZE   "https://ca.test/finalize-order/1"
#define CERT_URL   "https://ca.test/certZ/1"
#define NEW_KID    "https://ca.test/my-account/2"
/* RFC 9773 §4.1's example certificate identifier. */
#define REPLACES   "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
#define CT_PEM     "application/pem-certificate-chain"
#define AUTHZ      "https://ca.test/authZ/1"
#define CHALL      "https://ca.test/chalZ/1"

#define ORDER_FMT \
    "{\"status\":\"%s\",\"expires\":\"2030-01-01T00:00:00Z\"," \
    "\"identifiers\":[{\"type\":\"dns\",\"value\":\"" NAME "\"}]," \
    "\"authorizations\":[\"" AUTHZ "\"]," \
    "\"finalize\":\"" FINALIZE "\"%s}"

typedef struct {
    fake_http_t *f;
    acme_store_t *store;
    acme_domain_spec_t spec;
    acme_job_env_t env;
    apr_array_header_t *log;      /* const char*: what the job logged */
    const char *chain;            /* a chain that fits the kept key */
} job_fixture_t;

static void log_line(void *baton, int level, const char *msg)
{
    apr_array_header_t *log = baton;

    (void)level;
    APR_ARRAY_PUSH(log, const char *) = apr_pstrdup(test_pool, msg);
}

static int logged(const job_fixture_t *jf, const char *needle)
{
    int i;

    for (i = 0; i < jf->log->nelts; i++) {
        if (strstr(APR_ARRAY_IDX(jf->log, i, const char *), needle)) {
            return 1;
        }
    }
    return 0;
}

static const char *staging(const job_fixture_t *jf, const char *file)
{
    return apr_pstrcat(test_pool, jf->store->base, "/staging/" NAME "/",
                       file, NULL);
}

static const char *account_dir(const job_fixture_t *jf)
{
    return apr_pstrcat(test_pool, jf->store->base, "/accounts/",
                       acme_job_account_id(test_pool, DIR_URL, NULL), NULL);
}

static int exists(const char *path)
{
    apr_finfo_t fi;

    return apr_stat(&fi, path, APR_FINFO_TYPE, test_pool) == APR_SUCCESS;
}

static const char *read_all(const char *path)
{
    char *data = NULL;
    apr_size_t len;

    ck_assert_int_eq(acme_store_read(&data, &len, path, ACME_STORE_FILE_MAX,
                                     test_pool), APR_SUCCESS);
    return data;
}

static void write_text(const char *path, const char *text)
{
    ck_assert_int_eq(acme_store_write(path, text, strlen(text), 0600,
                                      test_pool), APR_SUCCESS);
}

static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

/* Registered on test_pool: removes the temporary store (no allocation,
 * the pool is going away). */
static apr_status_t store_cleanup(void *base)
{
    nftw((const char *)base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return APR_SUCCESS;
}

/* A store with a registered account (account.json + key) and, in
 * staging, an EC P-256 certificate key; jf->chain is a chain for that
 * key and NAME (a self-signed leaf followed by its issuer: itself). */
static void setup(job_fixture_t *jf)
{
    char tmpl[] = "/tmp/acmeauto-test-job-XXXXXX";
    EVP_PKEY *acct_key, *cert_key;
    const char *pem, *leaf;

    memset(jf, 0, sizeof(*jf));
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    ck_assert_int_eq(acme_store_open(&jf->store, test_pool, tmpl),
                     APR_SUCCESS);
    apr_pool_cleanup_register(test_pool, apr_pstrdup(test_pool, tmpl),
                              store_cleanup, apr_pool_cleanup_null);
    ck_assert_int_eq(acme_store_create_dirs(jf->store, test_pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_mkdirs(account_dir(jf), 0700, test_pool),
                     APR_SUCCESS);
    ck_assert_int_eq(acme_store_mkdirs(staging(jf, ""), 0700, test_pool),
                     APR_SUCCESS);

    ck_assert(acme_key_generate(&acct_key, test_pool, ACME_KEY_EC256)
              == APR_SUCCESS);
    ck_assert(acme_key_to_pem(&pem, test_pool, acct_key) == APR_SUCCESS);
    write_text(apr_pstrcat(test_pool, account_dir(jf), "/account.key.pem",
                           NULL), pem);
    write_text(apr_pstrcat(test_pool, account_dir(jf), "/account.json", NULL),
               "{\"url\":\"" KID_URL "\",\"server\":\"" DIR_URL "\"}");

    ck_assert(acme_key_generate(&cert_key, test_pool, ACME_KEY_EC256)
              == APR_SUCCESS);
    ck_assert(acme_key_to_pem(&pem, test_pool, cert_key) == APR_SUCCESS);
    write_text(staging(jf, "ec256.key.pem"), pem);
    jf->spec.names = apr_array_make(test_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(jf->spec.names, const char *) = NAME;
    ck_assert(acme_cert_self_signed(&leaf, test_pool, cert_key,
                                    jf->spec.names, 30) == APR_SUCCESS);
    jf->chain = apr_pstrcat(test_pool, leaf, leaf, NULL);

    jf->spec.name = NAME;
    jf->spec.key_types = apr_array_make(test_pool, 1, sizeof(acme_key_type_e));
    APR_ARRAY_PUSH(jf->spec.key_types, acme_key_type_e) = ACME_KEY_EC256;
    jf->spec.server_url = DIR_URL;
    jf->spec.contacts = apr_array_make(test_pool, 1, sizeof(const char *));
    APR_ARRAY_PUSH(jf->spec.contacts, const char *) = "mailto:admin@" NAME;
    jf->spec.tos_agreed = 1;

    jf->f = fake_create();
    jf->log = apr_array_make(test_pool, 8, sizeof(const char *));
    jf->env.log = log_line;
    jf->env.baton = jf->log;
    jf->env.poll_interval = apr_time_from_msec(1);
    jf->env.http = &jf->f->http;
}

static void keep_order(job_fixture_t *jf)
{
    write_text(staging(jf, "ec256.order.json"),
               "{\"url\":\"" OLD_ORDER "\",\"server\":\"" DIR_URL "\","
               "\"names\":\"" NAME "\",\"created\":1}");
}

static fake_reply_t *push_order(job_fixture_t *jf, int status,
                                const char *order_status, const char *nonce)
{
    fake_reply_t *r = fake_push(jf->f, status, CT_JSON, apr_psprintf(
        test_pool, ORDER_FMT, order_status, strcmp(order_status, "valid")
        ? "" : ",\"certificate\":\"" CERT_URL "\""));

    r->nonce = nonce;
    return r;
}

/* The authorization of NAME, with its one http-01 challenge in the same
 * status. */
static void push_authz(job_fixture_t *jf, const char *status,
                       const char *nonce)
{
    fake_push(jf->f, 200, CT_JSON, apr_psprintf(test_pool,
        "{\"status\":\"%s\",\"identifier\":{\"type\":\"dns\","
        "\"value\":\"" NAME "\"},\"challenges\":[{\"type\":\"http-01\","
        "\"url\":\"" CHALL "\",\"token\":\"tokOne\",\"status\":\"%s\"}]}",
        status, status))->nonce = nonce;
}

/* The answer to the challenge POST: the CA is at it. */
static void push_challenge(job_fixture_t *jf, const char *nonce)
{
    fake_push(jf->f, 200, CT_JSON, "{\"type\":\"http-01\",\"url\":\""
              CHALL "\",\"token\":\"tokOne\",\"status\":\"processing\"}")
        ->nonce = nonce;
}

static void push_chain(job_fixture_t *jf)
{
    fake_push(jf->f, 200, CT_PEM, jf->chain)->nonce = "nonceCert";
}

static apr_status_t run_job(job_fixture_t *jf, acme_error_t **err)
{
    *err = NULL;
    return acme_job_issue(err, test_pool, &jf->spec, jf->store, &jf->env);
}

/* The URLs of the signed requests, in order, space-separated. */
static const char *posted(const job_fixture_t *jf)
{
    const char *s = "";
    int i;

    for (i = 0; i < jf->f->nrequests; i++) {
        if (!strcmp(jf->f->requests[i].method, "POST")) {
            s = apr_pstrcat(test_pool, s, *s ? " " : "",
                            jf->f->requests[i].url, NULL);
        }
    }
    return s;
}

static const fake_request_t *nth_post_to(const job_fixture_t *jf,
                                         const char *url, int n)
{
    int i;

    for (i = 0; i < jf->f->nrequests; i++) {
        if (!strcmp(jf->f->requests[i].method, "POST")
            && !strcmp(jf->f->requests[i].url, url) && n-- == 0) {
            return &jf->f->requests[i];
        }
    }
    ck_abort_msg("no POST #%d to %s", n, url);
    return NULL;
}

static void assert_staged(job_fixture_t *jf)
{
    json_t *staged = NULL;

    ck_assert_str_eq(read_all(staging(jf, "ec256.cert.pem")), jf->chain);
    ck_assert_int_eq(acme_store_read_json(&staged, staging(jf, "staged.json"),
                                          test_pool), APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(staged, "server"), DIR_URL);
    ck_assert(!exists(staging(jf, "ec256.order.json")));
}

START_TEST(kept_download_is_staged_without_asking_the_ca)
{
    /* Interrupted after the download: the chain is in staging and fits
     * the kept key; nothing needs the CA (the fake has no reply queued,
     * so any request fails the test). */
    job_fixture_t jf;
    acme_error_t *err;

    setup(&jf);
    write_text(staging(&jf, "ec256.cert.pem"), jf.chain);
    ck_assert_int_eq(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_int_eq(jf.f->nrequests, 0);
    assert_staged(&jf);
}
END_TEST

START_TEST(kept_order_is_resumed)
{
    /* An order under way survives a restart: the job asks the CA about
     * that order (POST-as-GET to its URL, RFC 8555 §7.4), finds it valid
     * and downloads; no newOrder. */
    job_fixture_t jf;
    acme_error_t *err;

    setup(&jf);
    keep_order(&jf);
    push_directory(jf.f, 0);
    push_nonce(jf.f, "nonce1");
    push_order(&jf, 200, "valid", "nonce2");
    push_chain(&jf);
    ck_assert_int_eq(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_str_eq(posted(&jf), OLD_ORDER " " CERT_URL);
    ck_assert_str_eq(jws_decode(nth_post_to(&jf, OLD_ORDER, 0)).payload_b64,
                     "");
    ck_assert(logged(&jf, "resuming order " OLD_ORDER));
    assert_staged(&jf);
}
END_TEST

START_TEST(order_the_ca_lost_is_replaced_by_a_new_one)
{
    /* The CA no longer has the kept order (404): a new order, finalized
     * with a CSR for the kept key, and downloaded. */
    job_fixture_t jf;
    acme_error_t *err;
    jws_parts_t neworder, fin;
    json_t *ids;

    setup(&jf);
    keep_order(&jf);
    push_directory(jf.f, 0);
    push_nonce(jf.f, "nonce1");
    push_problem(jf.f, 404, "malformed", "No order found")->nonce = "nonce2";
    push_order(&jf, 201, "ready", "nonce3")->location = NEW_ORDER;
    push_order(&jf, 200, "processing", "nonce4");    /* finalized */
    push_order(&jf, 200, "valid", "nonce5");
    push_chain(&jf);
    ck_assert_int_eq(run_job(&jf, &err), APR_SUCCESS);
    /* A ready order is finalized at once, without a poll first. */
    ck_assert_str_eq(posted(&jf), OLD_ORDER " " ORDER_URL " " FINALIZE " "
                     NEW_ORDER " " CERT_URL);
    ck_assert(logged(&jf, "cannot be resumed"));
    neworder = jws_decode(nth_post_to(&jf, ORDER_URL, 0));
    ids = json_object_get(neworder.payload, "identifiers");
    ck_assert_int_eq(json_array_size(ids), 1);
    ck_assert_str_eq(acme_json_str(json_array_get(ids, 0), "value"), NAME);
    ck_assert_ptr_null(json_object_get(neworder.payload, "replaces"));
    fin = jws_decode(nth_post_to(&jf, FINALIZE, 0));
    ck_assert_ptr_nonnull(acme_json_str(fin.payload, "csr"));
    assert_staged(&jf);
}
END_TEST

/* Every request, "METHOD URL", in order, comma-separated. */
static const char *requests(const job_fixture_t *jf)
{
    const char *s = "";
    int i;

    for (i = 0; i < jf->f->nrequests; i++) {
        s = apr_pstrcat(test_pool, s, *s ? ", " : "",
                        jf->f->requests[i].method, " ",
                        jf->f->requests[i].url, NULL);
    }
    return s;
}

/* Up to the order's authorization, answered pending, and the challenge
 * POST: what a new single-name order starts with. */
static void push_order_start(job_fixture_t *jf)
{
    push_directory(jf->f, 0);
    push_nonce(jf->f, "nonce1");
    push_order(jf, 201, "pending", "nonce2")->location = NEW_ORDER;
    push_authz(jf, "pending", "nonce3");
    push_challenge(jf, "nonce4");
}

START_TEST(new_order_makes_only_the_requests_it_needs)
{
    /* A fresh run with a stored account: the directory, one nonce, the
     * order, its authorization, the challenge, polls of the
     * authorization, the finalization (at once: the authorization is
     * valid, so the order is ready; no poll for "ready"), polls of the
     * order and the download. Each signed request uses the nonce the
     * answer before it brought. */
    job_fixture_t jf;
    acme_error_t *err;
    jws_parts_t jws;
    int i;

    setup(&jf);
    push_order_start(&jf);
    push_authz(&jf, "pending", "nonce5");
    push_authz(&jf, "valid", "nonce6");
    push_order(&jf, 200, "processing", "nonce7");    /* finalized */
    push_order(&jf, 200, "valid", "nonce8");
    push_chain(&jf);
    ck_assert_int_eq(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_str_eq(requests(&jf), "GET " DIR_URL ", HEAD " NONCE_URL
                     ", POST " ORDER_URL ", POST " AUTHZ ", POST " CHALL
                     ", POST " AUTHZ ", POST " AUTHZ ", POST " FINALIZE
                     ", POST " NEW_ORDER ", POST " CERT_URL);
    for (i = 2; i < jf.f->nrequests; i++) {
        jws = jws_decode(&jf.f->requests[i]);
        ck_assert_str_eq(acme_json_str(jws.hdr, "nonce"),
                         jf.f->requests[i - 1].reply_nonce);
        if (!strcmp(jf.f->requests[i].url, CHALL)) {
            ck_assert_str_eq(acme_json_dump(test_pool, jws.payload), "{}");
        }
        else if (!strcmp(jf.f->requests[i].url, FINALIZE)) {
            ck_assert_ptr_nonnull(acme_json_str(jws.payload, "csr"));
        }
        else if (strcmp(jf.f->requests[i].url, ORDER_URL)) {
            ck_assert_str_eq(jws.payload_b64, "");    /* POST-as-GET */
        }
    }
    assert_staged(&jf);
}
END_TEST

START_TEST(order_not_ready_is_waited_for_and_finalized_again)
{
    /* A CA whose order lags behind its authorizations refuses the early
     * finalization (orderNotReady, RFC 8555 §7.4): the job polls the
     * order until it is ready and finalizes again. */
    job_fixture_t jf;
    acme_error_t *err;

    setup(&jf);
    push_order_start(&jf);
    push_authz(&jf, "valid", "nonce5");
    push_problem(jf.f, 403, "orderNotReady",
                 "Order's status (pending) is not acceptable for "
                 "finalization")->nonce = "nonce6";
    push_order(&jf, 200, "pending", "nonce7");
    push_order(&jf, 200, "ready", "nonce8");
    push_order(&jf, 200, "valid", "nonce9");         /* finalized */
    push_chain(&jf);
    ck_assert_int_eq(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_str_eq(posted(&jf), ORDER_URL " " AUTHZ " " CHALL " " AUTHZ
                     " " FINALIZE " " NEW_ORDER " " NEW_ORDER " " FINALIZE
                     " " CERT_URL);
    ck_assert_ptr_nonnull(acme_json_str(jws_decode(nth_post_to(&jf,
                          FINALIZE, 1)).payload, "csr"));
    assert_staged(&jf);
}
END_TEST

START_TEST(other_finalize_refusals_are_not_retried)
{
    /* Only orderNotReady means "too early": any other refusal of the
     * finalization ends the attempt with that problem, at once. */
    job_fixture_t jf;
    acme_error_t *err;

    setup(&jf);
    push_order_start(&jf);
    push_authz(&jf, "valid", "nonce5");
    push_problem(jf.f, 400, "badCSR", "the CSR is unacceptable")->nonce =
        "nonce6";
    ck_assert_int_ne(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_str_eq(err->type, "badCSR");
    ck_assert_str_eq(posted(&jf), ORDER_URL " " AUTHZ " " CHALL " " AUTHZ
                     " " FINALIZE);
    ck_assert(!exists(staging(&jf, "staged.json")));
}
END_TEST

START_TEST(refused_replaces_orders_again_without)
{
    /* RFC 9773 §5: a CA that will not take the order as a replacement
     * answers 409 alreadyReplaced (loop 0); some say malformed (loop 1).
     * The renewal goes on without "replaces". */
    static const struct { int status; const char *type; } refusal[] = {
        { 409, "alreadyReplaced" }, { 400, "malformed" },
    };
    job_fixture_t jf;
    acme_error_t *err;

    setup(&jf);
    jf.spec.replaces = apr_table_make(test_pool, 1);
    apr_table_set(jf.spec.replaces, "ec256", REPLACES);
    push_directory(jf.f, 0);
    push_nonce(jf.f, "nonce1");
    push_problem(jf.f, refusal[_i].status, refusal[_i].type,
                 "will not replace")->nonce = "nonce2";
    push_order(&jf, 201, "ready", "nonce3")->location = NEW_ORDER;
    push_order(&jf, 200, "ready", "nonce4");
    push_order(&jf, 200, "valid", "nonce5");
    push_chain(&jf);
    ck_assert_int_eq(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(jws_decode(nth_post_to(&jf, ORDER_URL, 0))
                                   .payload, "replaces"), REPLACES);
    ck_assert_ptr_null(json_object_get(jws_decode(nth_post_to(&jf, ORDER_URL,
                                                              1)).payload,
                                       "replaces"));
    assert_staged(&jf);
}
END_TEST

START_TEST(other_refusals_are_not_taken_for_a_refused_replaces)
{
    /* A problem that is not about "replaces" ends the attempt with that
     * problem: ordering again without "replaces" would only repeat it. */
    static const struct { int status; const char *type; } other[] = {
        { 403, "unauthorized" }, { 400, "rejectedIdentifier" },
        { 403, "userActionRequired" }, { 400, "accountDoesNotExist" },
    };
    job_fixture_t jf;
    acme_error_t *err;

    setup(&jf);
    jf.spec.replaces = apr_table_make(test_pool, 1);
    apr_table_set(jf.spec.replaces, "ec256", REPLACES);
    push_directory(jf.f, 0);
    push_nonce(jf.f, "nonce1");
    push_problem(jf.f, other[_i].status, other[_i].type, "no")->nonce = "n2";
    ck_assert_int_ne(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_str_eq(posted(&jf), ORDER_URL);
    ck_assert_ptr_nonnull(err);
    ck_assert_str_eq(err->type, other[_i].type);
    ck_assert(!exists(staging(&jf, "staged.json")));
}
END_TEST

START_TEST(lost_account_is_set_aside_and_registered_anew)
{
    /* The CA answers accountDoesNotExist: the stored account is set
     * aside (account.json.lost.<time>, its key kept) and the next attempt
     * registers (newAccount, 201 Created with a new URL) and signs with
     * the new account URL. */
    job_fixture_t jf;
    acme_error_t *err;
    apr_dir_t *dir;
    apr_finfo_t fi;
    const char *lost = NULL;
    json_t *acct = NULL;
    jws_parts_t reg, order;

    setup(&jf);
    push_directory(jf.f, 0);
    push_nonce(jf.f, "nonce1");
    push_problem(jf.f, 400, "accountDoesNotExist",
                 "unknown account")->nonce = "nonce2";
    ck_assert_int_ne(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_str_eq(err->type, "accountDoesNotExist");
    ck_assert(!exists(apr_pstrcat(test_pool, account_dir(&jf),
                                  "/account.json", NULL)));
    ck_assert(exists(apr_pstrcat(test_pool, account_dir(&jf),
                                 "/account.key.pem", NULL)));
    ck_assert_int_eq(apr_dir_open(&dir, account_dir(&jf), test_pool),
                     APR_SUCCESS);
    while (apr_dir_read(&fi, APR_FINFO_NAME, dir) == APR_SUCCESS) {
        if (!strncmp(fi.name, "account.json.lost.", 18)) {
            lost = apr_pstrdup(test_pool, fi.name);
        }
    }
    apr_dir_close(dir);
    ck_assert_ptr_nonnull(lost);
    assert_has(read_all(apr_pstrcat(test_pool, account_dir(&jf), "/", lost,
                                    NULL)), KID_URL);

    /* the next attempt */
    jf.f = fake_create();
    jf.env.http = &jf.f->http;
    push_directory(jf.f, 0);
    push_nonce(jf.f, "nonce3");
    fake_push(jf.f, 201, CT_JSON, "{\"status\":\"valid\",\"contact\":"
              "[\"mailto:admin@" NAME "\"],\"orders\":\"" NEW_KID
              "/orders\"}")->location = NEW_KID;
    jf.f->replies[jf.f->nreplies - 1].nonce = "nonce4";
    push_problem(jf.f, 503, "serverInternal", "try later")->nonce = "nonce5";
    ck_assert_int_ne(run_job(&jf, &err), APR_SUCCESS);
    ck_assert_str_eq(posted(&jf), ACCT_URL " " ORDER_URL);
    reg = jws_decode(nth_post_to(&jf, ACCT_URL, 0));
    ck_assert_ptr_nonnull(json_object_get(reg.hdr, "jwk"));
    ck_assert(json_is_true(json_object_get(reg.payload,
                                           "termsOfServiceAgreed")));
    order = jws_decode(nth_post_to(&jf, ORDER_URL, 0));
    ck_assert_str_eq(acme_json_str(order.hdr, "kid"), NEW_KID);
    ck_assert_int_eq(acme_store_read_json(&acct, apr_pstrcat(test_pool,
                     account_dir(&jf), "/account.json", NULL), test_pool),
                     APR_SUCCESS);
    ck_assert_str_eq(acme_json_str(acct, "url"), NEW_KID);
}
END_TEST

Suite *job_suite(void)
{
    Suite *s = suite_create("job");
    TCase *tc = tcase_create("driver");

    tcase_add_checked_fixture(tc, test_pool_setup, test_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, kept_download_is_staged_without_asking_the_ca);
    tcase_add_test(tc, kept_order_is_resumed);
    tcase_add_test(tc, order_the_ca_lost_is_replaced_by_a_new_one);
    tcase_add_loop_test(tc, refused_replaces_orders_again_without, 0, 2);
    tcase_add_loop_test(tc, other_refusals_are_not_taken_for_a_refused_replaces,
                        0, 4);
    tcase_add_test(tc, lost_account_is_set_aside_and_registered_anew);
    tcase_add_test(tc, new_order_makes_only_the_requests_it_needs);
    tcase_add_test(tc, order_not_ready_is_waited_for_and_finalized_again);
    tcase_add_test(tc, other_finalize_refusals_are_not_retried);
    suite_add_tcase(s, tc);
    return s;
}
