/* One domain's issuance, step by step as RFC 8555 §7 describes it. */
#include <string.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "acme_job_int.h"
#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_cert.h"
#include "acme_json.h"
#include "acme_util.h"

typedef acme_job_t job_t;

#define job_log acme_job_log

void acme_job_log(acme_job_t *job, int level, const char *fmt, ...)
{
    va_list ap;
    const char *msg;

    if (!job->env->log) {
        return;
    }
    va_start(ap, fmt);
    msg = apr_pstrcat(job->p, job->d->name, ": ",
                      apr_pvsprintf(job->p, fmt, ap), NULL);
    va_end(ap);
    job->env->log(job->env->baton, level, msg);
}

/* A hash keeps any URL and key id a safe directory name. */
static const char *hash_id(apr_pool_t *p, const char *s)
{
    return apr_pstrndup(p, acme_sha256_hex(p, s, strlen(s)), 16);
}

const char *acme_job_account_base_url(apr_pool_t *p, const char *server_url)
{
    return apr_pstrndup(p, server_url, strcspn(server_url, "?#"));
}

const char *acme_job_account_id(apr_pool_t *p, const char *server_url,
                                const char *eab_kid)
{
    const char *base = acme_job_account_base_url(p, server_url);

    /* A URL holds no newline, so the two parts cannot run together. */
    return hash_id(p, eab_kid ? apr_pstrcat(p, base, "\nkid:", eab_kid, NULL)
                              : base);
}

/* Earlier versions kept one account per URL, byte for byte: the ids
 * such an account may be under, other than the account's own id. */
static apr_array_header_t *legacy_ids(apr_pool_t *p, const char *server_url,
                                      const char *eab_kid)
{
    apr_array_header_t *ids = apr_array_make(p, 2, sizeof(const char *));
    const char *own = acme_job_account_id(p, server_url, eab_kid);
    const char *cand[2];
    int i;

    cand[0] = hash_id(p, server_url);
    cand[1] = hash_id(p, acme_job_account_base_url(p, server_url));
    for (i = 0; i < 2; i++) {
        if (strcmp(cand[i], own)
            && (!i || strcmp(cand[i], cand[0]))) {
            APR_ARRAY_PUSH(ids, const char *) = cand[i];
        }
    }
    return ids;
}

static const char *account_dir_of(apr_pool_t *p, const acme_store_t *store,
                                  const char *id)
{
    return acme_store_path(p, store, ACME_AREA_ACCOUNTS, id, NULL);
}

/* The stored account record in dir, if it names an account URL. */
static json_t *read_record(apr_pool_t *p, const char *dir)
{
    json_t *j;

    if (acme_store_read_json(&j, apr_pstrcat(p, dir, "/", ACME_FN_ACCOUNT,
                                             NULL), p) != APR_SUCCESS
        || !acme_json_str(j, "url")) {
        return NULL;
    }
    return j;
}

/* An earlier version's account for the URL: its record has no "kid"
 * member (this version always writes one). Which key id registered it
 * was never recorded; it served every key id at that URL, so it goes on
 * serving each of them rather than make any spend new EAB values. */
static const char *legacy_dir(apr_pool_t *p, const acme_store_t *store,
                              const char *server_url, const char *eab_kid)
{
    apr_array_header_t *ids = legacy_ids(p, server_url, eab_kid);
    int i;

    for (i = 0; i < ids->nelts; i++) {
        const char *dir = account_dir_of(p, store, APR_ARRAY_IDX(ids, i,
                                                                 const char *));
        json_t *j = read_record(p, dir);
        if (j && !json_object_get(j, "kid")) {
            return dir;
        }
    }
    return NULL;
}

const char *acme_job_account_dir(apr_pool_t *p, const acme_store_t *store,
                                 const char *server_url, const char *eab_kid)
{
    const char *own = account_dir_of(p, store, acme_job_account_id(p,
                                     server_url, eab_kid));

    return read_record(p, own) ? own
                               : legacy_dir(p, store, server_url, eab_kid);
}

apr_array_header_t *acme_job_account_paths(apr_pool_t *p,
                                           const acme_store_t *store,
                                           const char *server_url,
                                           const char *eab_kid)
{
    apr_array_header_t *ids = legacy_ids(p, server_url, eab_kid);
    apr_array_header_t *paths = apr_array_make(p, ids->nelts + 1,
                                               sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(paths, const char *) = acme_store_path(p, store,
        ACME_AREA_ACCOUNTS, acme_job_account_id(p, server_url, eab_kid),
        ACME_FN_ACCOUNT);
    for (i = 0; i < ids->nelts; i++) {
        APR_ARRAY_PUSH(paths, const char *) = acme_store_path(p, store,
            ACME_AREA_ACCOUNTS, APR_ARRAY_IDX(ids, i, const char *),
            ACME_FN_ACCOUNT);
    }
    return paths;
}

static apr_status_t load_or_make_key(EVP_PKEY **key, job_t *job,
                                     const char *path, int *created)
{
    char *pem;
    apr_size_t len;
    const char *out;
    apr_status_t rv;

    *created = 0;
    rv = acme_store_read(&pem, &len, path, ACME_STORE_FILE_MAX, job->p);
    if (rv == APR_SUCCESS) {
        return acme_key_from_pem(key, job->p, pem, len);
    }
    if (!APR_STATUS_IS_ENOENT(rv)) {
        return rv;
    }
    if ((rv = acme_key_generate(key, job->p, ACME_KEY_EC256)) != APR_SUCCESS
        || (rv = acme_key_to_pem(&out, job->p, *key)) != APR_SUCCESS) {
        return rv;
    }
    *created = 1;
    return acme_store_write(path, out, strlen(out), 0600, job->p);
}

/* 'ACMEAgreeTOS URL' accepts those terms only: if the CA has moved on to
 * other terms, the administrator must read them first. */
static apr_status_t check_tos_url(job_t *job)
{
    acme_client_t *c = job->client;
    const char *now_tos;
    apr_status_t rv;

    if (!job->d->tos_url) {
        return APR_SUCCESS;
    }
    if ((rv = acme_directory_fetch(c)) != APR_SUCCESS) {
        return rv;
    }
    now_tos = c->dir.terms_of_service;
    if (now_tos && strcmp(now_tos, job->d->tos_url)) {
        c->error = acme_error_make(job->p, APR_EACCES, ACME_FAIL_CONFIG,
            apr_psprintf(job->p, "creating an account at %s",
                         job->d->server_url),
            apr_psprintf(job->p, "the CA's terms of service are now %s, but "
                         "ACMEAgreeTOS accepts %s", now_tos, job->d->tos_url),
            apr_psprintf(job->p, "read the new terms and set 'ACMEAgreeTOS "
                         "%s' (or 'ACMEAgreeTOS on')", now_tos));
        return APR_EACCES;
    }
    return APR_SUCCESS;
}

static json_t *account_record(apr_pool_t *p, const char *url,
                              const char *server_url, const char *eab_kid,
                              json_int_t created)
{
    return acme_json_pool_own(p, json_pack("{s:s,s:s,s:o,s:I}", "url", url,
        "server", server_url, "kid", eab_kid ? json_string(eab_kid)
                                             : json_null(),
        "created", created));
}

/* Takes an earlier version's account (legacy, a directory) as this
 * key id's own: a copy of its key and record, with the key id written
 * down. The original stays for the other key ids that shared it. */
static apr_status_t adopt_account(job_t *job, const char *legacy,
                                  const char *dir)
{
    json_t *old = read_record(job->p, legacy), *rec;
    char *pem;
    apr_size_t len;
    apr_status_t rv;

    if (!old) {
        return APR_ENOENT;
    }
    rec = account_record(job->p, acme_json_str(old, "url"),
                         acme_json_str(old, "server") ? acme_json_str(old,
                         "server") : job->d->server_url, job->d->eab_kid,
                         json_integer_value(json_object_get(old, "created")));
    json_object_set_new(rec, "adopted_from", json_string(
        strrchr(legacy, '/') + 1));
    if ((rv = acme_store_read(&pem, &len, apr_pstrcat(job->p, legacy, "/",
                              ACME_FN_ACCOUNT_KEY, NULL), ACME_STORE_FILE_MAX,
                              job->p)) != APR_SUCCESS
        || (rv = acme_store_mkdirs(dir, 0700, job->p)) != APR_SUCCESS
        || (rv = acme_store_write(apr_pstrcat(job->p, dir, "/",
                                  ACME_FN_ACCOUNT_KEY, NULL), pem, len, 0600,
                                  job->p)) != APR_SUCCESS
        || (rv = acme_store_write_json(apr_pstrcat(job->p, dir, "/",
                                       ACME_FN_ACCOUNT, NULL), rec, 0600,
                                       job->p)) != APR_SUCCESS) {
        return rv;
    }
    job_log(job, 2, "account %s (accounts/%s/, stored by an earlier "
            "version) adopted as accounts/%s/ for %s%s%s",
            acme_json_str(old, "url"), strrchr(legacy, '/') + 1,
            strrchr(dir, '/') + 1, acme_job_account_base_url(job->p,
            job->d->server_url), job->d->eab_kid ? " with key id " : "",
            job->d->eab_kid ? job->d->eab_kid : "");
    return APR_SUCCESS;
}

/* Loads the stored account for the CA and key id, adopts one an
 * earlier version stored, or registers one. The account is written to
 * the store right after the CA confirms it, before anything else can
 * fail, so the EAB (single use at many CAs) is spent once. */
static apr_status_t setup_account_alone(job_t *job);

/* Orders at one CA that run at once register the account once: the
 * others wait and then find it in the store. */
static apr_status_t setup_account(job_t *job)
{
    apr_status_t rv;

    if (!job->env->share) {
        return setup_account_alone(job);
    }
    acme_ca_share_lock(job->env->share);
    rv = setup_account_alone(job);
    acme_ca_share_unlock(job->env->share);
    return rv;
}

static apr_status_t setup_account_alone(job_t *job)
{
    acme_client_t *c = job->client;
    const char *id = acme_job_account_id(job->p, job->d->server_url,
                                         job->d->eab_kid);
    const char *dir = account_dir_of(job->p, job->store, id);
    const char *json_path = apr_pstrcat(job->p, dir, "/", ACME_FN_ACCOUNT,
                                        NULL);
    const char *legacy;
    json_t *acct = NULL;
    int created;
    apr_status_t rv;

    if (!read_record(job->p, dir)
        && (legacy = legacy_dir(job->p, job->store, job->d->server_url,
                                job->d->eab_kid)) != NULL
        && adopt_account(job, legacy, dir) != APR_SUCCESS) {
        c->error = acme_error_make(job->p, APR_EGENERAL, ACME_FAIL_CONFIG,
                                   "adopting the stored account",
                                   apr_psprintf(job->p, "cannot copy %s to "
                                                "%s", legacy, dir),
                                   "check ACMEStoreDir and its permissions");
        return APR_EGENERAL;
    }
    if ((rv = acme_store_mkdirs(dir, 0700, job->p)) != APR_SUCCESS
        || (rv = load_or_make_key(&c->account_key, job,
                                  apr_pstrcat(job->p, dir, "/",
                                              ACME_FN_ACCOUNT_KEY, NULL),
                                  &created)) != APR_SUCCESS) {
        c->error = acme_error_make(job->p, rv, ACME_FAIL_CONFIG,
                                   "preparing the account key", apr_psprintf(
                                   job->p, "cannot use %s", dir),
                                   "check ACMEStoreDir and its permissions");
        return rv;
    }
    if (!created && (acct = read_record(job->p, dir)) != NULL) {
        c->account_url = apr_pstrdup(job->p, acme_json_str(acct, "url"));
        return APR_SUCCESS;
    }
    if ((rv = check_tos_url(job)) != APR_SUCCESS) {
        return rv;
    }
    if (job->d->eab_kid && !job->d->eab_hmac) {
        /* The caller let go of the secret; it must hand it over again. */
        c->error = acme_error_make(job->p, APR_EAGAIN, ACME_FAIL_TRANSIENT,
                                   "registering an account", "the EAB HMAC "
                                   "key is not at hand", "it is needed to "
                                   "register a new account");
        return APR_EAGAIN;
    }
    rv = acme_account_register(c, job->p, job->d->contacts,
                               job->d->tos_agreed, job->d->eab_kid,
                               job->d->eab_hmac, job->d->eab_hmac_len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    acct = account_record(job->p, c->account_url, job->d->server_url,
                          job->d->eab_kid,
                          (json_int_t)apr_time_sec(apr_time_now()));
    rv = acme_store_write_json(json_path, acct, 0600, job->p);
    if (rv == APR_SUCCESS) {
        job_log(job, 2, "account %s registered at %s%s%s", c->account_url,
                job->d->server_url, job->d->eab_kid ? " with key id " : "",
                job->d->eab_kid ? job->d->eab_kid : "");
    }
    return rv;
}

/* Work in progress for one key type lives in staging/<name>/<type>.*:
 * the order URL (order.json), the key (key.pem) and, once downloaded, the
 * chain (cert.pem). A restart, a crash or kill -9 resumes from there. */
static const char *wip_path(job_t *job, acme_key_type_e t, const char *what)
{
    return acme_store_path(job->p, job->store, ACME_AREA_STAGING,
                           job->d->name, apr_psprintf(job->p, "%s.%s",
                           acme_key_type_name(t), what));
}

static int same_order_request(job_t *job, const json_t *j)
{
    const char *server = acme_json_str(j, "server");
    const char *names = acme_json_str(j, "names");
    const char *profile = acme_json_str(j, "profile");

    /* An order made with another ACMEProfile is not resumed. When the CA
     * lacked the profile, the order has none; it is not resumed either
     * and that is harmless: a new order costs one request. */
    return server && names && !strcmp(server, job->d->server_url)
        && !strcmp(names, acme_str_join(job->p, job->d->names, ","))
        && !strcmp(profile ? profile : "",
                   job->d->profile ? job->d->profile : "");
}

static apr_status_t resume_order(job_t *job, acme_key_type_e t,
                                 acme_order_t **o)
{
    const char *path = wip_path(job, t, ACME_FN_WIP_ORDER);
    json_t *j;

    if (acme_store_read_json(&j, path, job->p) != APR_SUCCESS
        || !acme_json_str(j, "url") || !same_order_request(job, j)) {
        return APR_ENOENT;
    }
    if (acme_order_get(o, job->client, job->p, acme_json_str(j, "url"))
        == APR_SUCCESS && strcmp((*o)->status, "invalid")) {
        job_log(job, 2, "resuming order %s (%s)", (*o)->url, (*o)->status);
        return APR_SUCCESS;
    }
    job_log(job, 2, "order %s cannot be resumed; starting a new one",
            acme_json_str(j, "url"));
    apr_file_remove(path, job->p);
    return APR_ENOENT;
}

/* Did the CA refuse the order because of "replaces"? RFC 9773 §5 has it
 * answer alreadyReplaced; some CAs say malformed. Any other problem (an
 * unknown account, a rejected name, terms to accept, a rate limit) is not
 * about "replaces": ordering again without it would only repeat it. */
static int refused_replaces(const acme_client_t *c)
{
    const acme_error_t *e = c->error;

    return e && e->type && (!strcmp(e->type, "alreadyReplaced")
                            || !strcmp(e->type, "malformed"));
}

/* The profile to order (draft-ietf-acme-profiles): ACMEProfile when the
 * CA's directory offers it. When it does not, a mandatory profile is a
 * configuration error; another is left out, and said once per run. */
static apr_status_t order_profile(job_t *job, const char **profile)
{
    const acme_domain_spec_t *d = job->d;
    acme_client_t *c = job->client;
    const char *offered;

    *profile = NULL;
    if (!d->profile || acme_directory_has_profile(c, d->profile)) {
        *profile = d->profile;
        return APR_SUCCESS;
    }
    if (!c->have_dir) {
        return APR_EGENERAL;    /* the directory fetch said why */
    }
    offered = c->dir.profiles && c->dir.profiles->nelts
        ? acme_str_join(job->p, c->dir.profiles, ", ") : "none";
    if (d->profile_mandatory) {
        c->error = acme_error_make(job->p, APR_ENOTIMPL, ACME_FAIL_CONFIG,
            "choosing the certificate profile", apr_psprintf(job->p,
            "the CA does not offer the profile \"%s\" that ACMEProfile "
            "requires (mandatory); it offers: %s", d->profile, offered),
            "set ACMEProfile to one of the CA's profiles, or drop "
            "\"mandatory\" to accept its default");
        return APR_ENOTIMPL;
    }
    if (!job->profile_noted) {
        job_log(job, 1, "the CA does not offer the profile \"%s\" "
                "(ACMEProfile); ordering its default profile. It offers: %s",
                d->profile, offered);
        job->profile_noted = 1;
    }
    return APR_SUCCESS;
}

static apr_status_t open_order(job_t *job, acme_key_type_e t, acme_order_t **o)
{
    const char *replaces, *profile;
    json_t *j;
    apr_status_t rv;

    if (resume_order(job, t, o) == APR_SUCCESS) {
        return APR_SUCCESS;
    }
    if ((rv = order_profile(job, &profile)) != APR_SUCCESS) {
        return rv;
    }
    replaces = job->d->replaces
        ? apr_table_get(job->d->replaces, acme_key_type_name(t)) : NULL;
    job_log(job, 2, "ordering a %s certificate for %s%s%s%s%s",
            acme_key_type_name(t), acme_str_join(job->p, job->d->names, ", "),
            profile ? " with profile " : "", profile ? profile : "",
            replaces ? " to replace " : "", replaces ? replaces : "");
    rv = acme_order_new(o, job->client, job->p, job->d->names, replaces,
                        profile);
    if (rv != APR_SUCCESS && replaces && refused_replaces(job->client)) {
        /* RFC 9773 §5: a CA may refuse "replaces"; the renewal must not
         * fail for that. */
        job_log(job, 1, "the CA refused the order as a replacement of %s "
                "(%s); ordering without", replaces,
                job->client->error->detail);
        rv = acme_order_new(o, job->client, job->p, job->d->names, NULL,
                            profile);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    j = acme_json_pool_own(job->p, json_pack("{s:s,s:s,s:s,s:I}", "url",
        (*o)->url, "server", job->d->server_url, "names",
        acme_str_join(job->p, job->d->names, ","), "created",
        (json_int_t)apr_time_sec(apr_time_now())));
    if (profile) {
        json_object_set_new(j, "profile", json_string(profile));
    }
    /* Not fatal if it fails: we just could not resume this order. */
    acme_store_write_json(wip_path(job, t, ACME_FN_WIP_ORDER), j, 0600,
                          job->p);
    return APR_SUCCESS;
}

/* The certificate key, kept across attempts so that an order finalized
 * just before a crash can still be downloaded and used. */
static apr_status_t order_key(job_t *job, acme_key_type_e t, EVP_PKEY **key)
{
    const char *path = wip_path(job, t, ACME_FN_WIP_KEY), *pem;
    char *data;
    apr_size_t len;
    apr_status_t rv;

    if (acme_store_read(&data, &len, path, ACME_STORE_FILE_MAX, job->p)
        == APR_SUCCESS && acme_key_from_pem(key, job->p, data, len)
        == APR_SUCCESS && acme_key_type_of(*key) == t) {
        return APR_SUCCESS;
    }
    if ((rv = acme_key_generate(key, job->p, t)) != APR_SUCCESS
        || (rv = acme_key_to_pem(&pem, job->p, *key)) != APR_SUCCESS) {
        return rv;
    }
    return acme_store_write(path, pem, strlen(pem), 0600, job->p);
}

/* Does staging/<name>/<type>.cert.pem pass the parent's activation check
 * with the kept key? *why says what is wrong when it does not. */
static int cert_fits(job_t *job, acme_key_type_e t, const char **why)
{
    apr_array_header_t *chain;
    EVP_PKEY *key;
    char *data;
    apr_size_t len;

    *why = "unreadable";
    return acme_store_read(&data, &len, wip_path(job, t, ACME_FN_WIP_CERT),
                           ACME_STORE_FILE_MAX, job->p) == APR_SUCCESS
        && acme_cert_chain_parse(&chain, job->p, data, len) == APR_SUCCESS
        && order_key(job, t, &key) == APR_SUCCESS
        && acme_cert_check(why, job->p, chain, key, job->d->names,
                           apr_time_now()) == APR_SUCCESS;
}

/* A set the parent would reject must count as a failure (with backoff),
 * not a success. */
static apr_status_t check_downloaded(job_t *job, acme_key_type_e t)
{
    const char *why;

    if (cert_fits(job, t, &why)) {
        return APR_SUCCESS;
    }
    apr_file_remove(wip_path(job, t, ACME_FN_WIP_CERT), job->p);
    job->client->error = acme_error_make(job->p, APR_EGENERAL,
        ACME_FAIL_TRANSIENT, "checking the downloaded certificate",
        apr_pstrdup(job->p, why), "the CA's certificate would not be "
        "accepted for activation; a new order follows");
    return APR_EGENERAL;
}

static apr_status_t finalize(job_t *job, acme_key_type_e t, acme_order_t **o)
{
    acme_client_t *c = job->client;
    EVP_PKEY *key;
    const char *csr;
    apr_status_t rv;

    if ((rv = order_key(job, t, &key)) != APR_SUCCESS
        || (rv = acme_csr_create(&csr, job->p, key, job->d->names))
           != APR_SUCCESS) {
        c->error = acme_error_make(job->p, rv, ACME_FAIL_CONFIG,
                                   "making the key and certificate request",
                                   "cannot create or store the key",
                                   "check ACMEStoreDir and its permissions");
        return rv;
    }
    return acme_order_finalize(o, c, job->p, *o, csr);
}

/* The certificate key is made while the CA validates (the first pause
 * between polls), not after: off the order's critical path. */
static void make_key_while_waiting(void *baton)
{
    job_t *job = baton;
    EVP_PKEY *key;

    order_key(job, (acme_key_type_e)job->key_type, &key);
}

static int order_not_ready(const acme_client_t *c)
{
    return c->error && c->error->type
           && !strcmp(c->error->type, "orderNotReady");
}

/* One order, from its creation (or resumption) to the checked chain. */
static apr_status_t run_order(job_t *job, acme_key_type_e t)
{
    acme_client_t *c = job->client;
    acme_order_t *o;
    const char *pem;
    apr_size_t len;
    apr_status_t rv;

    if ((rv = open_order(job, t, &o)) != APR_SUCCESS) {
        goto out;
    }
    if (!strcmp(o->status, "pending")) {
        job->key_type = t;
        c->on_wait = make_key_while_waiting;
        c->on_wait_baton = job;
        rv = acme_job_authorize(job, o);
        c->on_wait = NULL;
        if (rv != APR_SUCCESS) {
            goto out;
        }
    }
    if (!strcmp(o->status, "pending") || !strcmp(o->status, "ready")) {
        /* Every authorization is valid now, so the order is ready (RFC
         * 8555 §7.1.6): finalizing at once saves a poll. A CA that lags
         * behind answers orderNotReady, and is waited for. */
        rv = finalize(job, t, &o);
        if (rv != APR_SUCCESS && order_not_ready(c)
            && (rv = acme_order_wait(&o, c, job->p, o->url, "ready"))
               == APR_SUCCESS) {
            rv = finalize(job, t, &o);
        }
        if (rv != APR_SUCCESS) {
            goto out;
        }
    }
    if (strcmp(o->status, "valid")
        && (rv = acme_order_wait(&o, c, job->p, o->url, "valid"))
           != APR_SUCCESS) {
        goto out;
    }
    if (!o->certificate_url) {
        c->error = acme_error_make(job->p, APR_EGENERAL, ACME_FAIL_TRANSIENT,
                                   "finalizing the order", "the valid order "
                                   "has no certificate URL", NULL);
        rv = APR_EGENERAL;
        goto out;
    }
    if ((rv = acme_cert_download(&pem, &len, c, job->p, o->certificate_url))
        != APR_SUCCESS) {
        goto out;
    }
    rv = acme_store_write(wip_path(job, t, ACME_FN_WIP_CERT), pem, len, 0644,
                          job->p);
    if (rv == APR_SUCCESS) {
        apr_file_remove(wip_path(job, t, ACME_FN_WIP_ORDER), job->p);
        rv = check_downloaded(job, t);
    }
out:
    acme_job_unprovision(job);
    return rv;
}

/* How many (name, type) validations failed in this run. */
static int failures_noted(job_t *job)
{
    const apr_array_header_t *f = apr_table_elts(job->failed);
    int i, n = 0;

    for (i = 0; i < f->nelts; i++) {
        n += (int)strlen(APR_ARRAY_IDX(f, i, apr_table_entry_t).val);
    }
    return n;
}

/* A failed validation makes the whole order invalid (RFC 8555 §7.1.6),
 * so the next type of ACMEChallenges needs a new order. Each round
 * rules out at least one (name, type), so this ends. */
static apr_status_t issue_one(job_t *job, acme_key_type_e t)
{
    const char *why;
    apr_status_t rv;
    int before;

    /* A chain downloaded by an earlier, interrupted run is kept. */
    if (cert_fits(job, t, &why)) {
        return APR_SUCCESS;
    }
    for (;;) {
        before = failures_noted(job);
        rv = run_order(job, t);
        if (rv == APR_SUCCESS || failures_noted(job) == before
            || !acme_job_can_fall_back(job)) {
            return rv;
        }
        job_log(job, 1, "%s; ordering again with the next type of "
                "ACMEChallenges", acme_error_line(job->p, job->client->error));
        apr_file_remove(wip_path(job, t, ACME_FN_WIP_ORDER), job->p);
    }
}

/* staged.json is written last: its presence means the set is whole. It
 * lists the digest of every file, so that the parent installs exactly
 * the files this job checked, and its own digest names the set. */
static apr_status_t stage(job_t *job)
{
    const acme_domain_spec_t *d = job->d;
    json_t *meta, *names = json_array(), *types = json_array();
    json_t *files = json_object();
    static const char *const kinds[] = { "cert", "key" };
    char *data;
    apr_size_t len;
    apr_status_t rv;
    int i, k;

    for (i = 0; i < d->names->nelts; i++) {
        json_array_append_new(names, json_string(
            APR_ARRAY_IDX(d->names, i, const char *)));
    }
    meta = acme_json_pool_own(job->p, json_pack("{s:o,s:o,s:o,s:s,s:I}",
        "names", names, "key_types", types, "files", files, "server",
        d->server_url, "staged", (json_int_t)apr_time_sec(apr_time_now())));
    for (i = 0; i < d->key_types->nelts; i++) {
        acme_key_type_e t = APR_ARRAY_IDX(d->key_types, i, acme_key_type_e);
        json_array_append_new(types, json_string(acme_key_type_name(t)));
        for (k = 0; k < 2; k++) {
            const char *fn = acme_store_pem_name(job->p,
                                                 acme_key_type_name(t),
                                                 kinds[k]);
            rv = acme_store_read(&data, &len, acme_store_path(job->p,
                                 job->store, ACME_AREA_STAGING, d->name, fn),
                                 ACME_STORE_FILE_MAX, job->p);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            json_object_set_new(files, fn, json_string(
                acme_sha256_hex(job->p, data, len)));
        }
    }
    return acme_store_write_json(acme_store_path(job->p, job->store,
        ACME_AREA_STAGING, d->name, ACME_FN_STAGED), meta, 0600, job->p);
}

static void set_aside(job_t *job, const char *path)
{
    apr_file_rename(path, apr_psprintf(job->p, "%s.lost.%" APR_TIME_T_FMT,
                                       path, apr_time_sec(apr_time_now())),
                    job->p);
}

/* The CA no longer knows our account (RFC 8555 §7.3.1): set the stored
 * one aside so the next attempt registers anew; an earlier version's
 * record it was adopted from too, or the next attempt would adopt the
 * lost account again. */
static void forget_account_alone(job_t *job)
{
    const char *dir, *from, *legacy, *url;
    json_t *rec, *old;

    dir = account_dir_of(job->p, job->store, acme_job_account_id(job->p,
                         job->d->server_url, job->d->eab_kid));
    rec = read_record(job->p, dir);
    url = rec ? acme_json_str(rec, "url") : NULL;
    /* Another order of the run may have registered anew already: only
     * the account this order used is forgotten. */
    if (!url || !job->client->account_url
        || strcmp(url, job->client->account_url)) {
        return;
    }
    from = acme_json_str(rec, "adopted_from");
    if (from && !strchr(from, '/') && *from != '.') {
        legacy = account_dir_of(job->p, job->store, from);
        old = read_record(job->p, legacy);
        if (old && !json_object_get(old, "kid")
            && !strcmp(acme_json_str(old, "url"), acme_json_str(rec, "url"))) {
            set_aside(job, apr_pstrcat(job->p, legacy, "/", ACME_FN_ACCOUNT,
                                       NULL));
        }
    }
    set_aside(job, apr_pstrcat(job->p, dir, "/", ACME_FN_ACCOUNT, NULL));
    job_log(job, 1, "the CA does not know the stored account any more; "
            "a new one will be registered at the next attempt");
}

static void forget_lost_account(job_t *job, const acme_error_t *err)
{
    if (!err->type || strcmp(err->type, "accountDoesNotExist")) {
        return;
    }
    if (!job->env->share) {
        forget_account_alone(job);
        return;
    }
    acme_ca_share_lock(job->env->share);
    forget_account_alone(job);
    acme_ca_share_unlock(job->env->share);
}

static apr_status_t job_init(job_t *job, acme_error_t **err)
{
    const acme_job_env_t *env = job->env;
    acme_http_t *http;
    apr_status_t rv;

    *err = NULL;
    job->tokens = apr_array_make(job->p, 4, sizeof(const char *));
    job->failed = apr_table_make(job->p, 4);
    http = env->http;
    if ((!http && (rv = acme_http_curl_create(&http, job->p, job->d->ca_file,
                                              "mod_acmeauto/0.1"))
                  != APR_SUCCESS)
        || (rv = acme_client_create(&job->client, job->p, http,
                                    job->d->server_url)) != APR_SUCCESS) {
        *err = acme_error_make(job->p, rv, ACME_FAIL_TRANSIENT, "starting",
                               "no HTTP client", NULL);
        return rv;
    }
    if (!env->http) {
        acme_http_curl_set_proxy(http, job->d->http_proxy);
    }
    job->client->share = env->share;
    job->client->should_abort = env->should_abort;
    job->client->abort_baton = env->baton;
    http->should_abort = env->should_abort;
    http->abort_baton = env->baton;
    if (env->poll_interval) job->client->poll_interval = env->poll_interval;
    if (env->poll_timeout) job->client->poll_timeout = env->poll_timeout;
    return APR_SUCCESS;
}

apr_status_t acme_job_ari(acme_ari_t *ari, acme_error_t **err, apr_pool_t *p,
                          const acme_domain_spec_t *d, const char *cert_id,
                          const acme_job_env_t *env)
{
    job_t job = { p, d, NULL, env, NULL, NULL, NULL, NULL, 0, 0 };
    apr_status_t rv;

    if ((rv = job_init(&job, err)) != APR_SUCCESS) {
        return rv;
    }
    rv = acme_ari_get(ari, job.client, p, cert_id);
    if (rv != APR_SUCCESS && rv != APR_ENOTIMPL) {
        *err = job.client->error;
    }
    return rv;
}

apr_status_t acme_job_issue(acme_error_t **err, apr_pool_t *p,
                            const acme_domain_spec_t *d,
                            const acme_store_t *store,
                            const acme_job_env_t *env)
{
    job_t job = { p, d, store, env, NULL, NULL, NULL, NULL, 0, 0 };
    apr_status_t rv;
    int i;

    if ((rv = job_init(&job, err)) != APR_SUCCESS) {
        return rv;
    }
    /* TXT records an interrupted run left behind go first. */
    acme_job_unprovision(&job);
    if ((rv = setup_account(&job)) != APR_SUCCESS) {
        goto out;
    }
    rv = acme_store_mkdirs(acme_store_path(p, store, ACME_AREA_STAGING,
                                           d->name, NULL), 0700, p);
    for (i = 0; rv == APR_SUCCESS && i < d->key_types->nelts; i++) {
        rv = issue_one(&job, APR_ARRAY_IDX(d->key_types, i, acme_key_type_e));
    }
    if (rv != APR_SUCCESS) {
        goto out;
    }
    if ((rv = stage(&job)) != APR_SUCCESS) {
        job.client->error = acme_error_make(p, rv, ACME_FAIL_CONFIG,
            "staging the certificate", "cannot write to the store",
            "check ACMEStoreDir and its permissions");
        goto out;
    }
    job_log(&job, 2, "certificate staged");
out:
    if (rv != APR_SUCCESS) {
        *err = job.client->error ? job.client->error
             : acme_error_make(p, rv, ACME_FAIL_TRANSIENT, "issuing",
                               "unexpected failure", NULL);
        (*err)->status = rv;
        forget_lost_account(&job, *err);
    }
    return rv;
}

apr_status_t acme_job_account(acme_client_t **client, acme_error_t **err,
                              apr_pool_t *p, const acme_domain_spec_t *d,
                              const acme_store_t *store,
                              const acme_job_env_t *env)
{
    job_t job = { p, d, store, env, NULL, NULL, NULL, NULL, 0, 0 };
    apr_status_t rv;

    if ((rv = job_init(&job, err)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = setup_account(&job)) != APR_SUCCESS) {
        *err = job.client->error ? job.client->error
             : acme_error_make(p, rv, ACME_FAIL_TRANSIENT,
                               "setting up the account", "unexpected failure",
                               NULL);
        return rv;
    }
    *client = job.client;
    return APR_SUCCESS;
}
