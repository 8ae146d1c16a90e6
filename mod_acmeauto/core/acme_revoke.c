/* RFC 8555 §7.6: revoking a certificate. */
#include <string.h>
#include <apr_strings.h>

#include "acme_revoke.h"
#include "acme_client_int.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"

/* RFC 5280 §5.3.1 codes a subscriber may ask for. The others belong to
 * the CA (cACompromise, aACompromise), to CRL mechanics (certificateHold,
 * removeFromCRL) or to the CA's own judgement (privilegeWithdrawn). */
static const struct {
    const char *name;
    int code;
} reasons[] = {
    { "unspecified", 0 },
    { "keyCompromise", 1 },
    { "affiliationChanged", 3 },
    { "superseded", 4 },
    { "cessationOfOperation", 5 },
};

#define N_REASONS (sizeof(reasons) / sizeof(reasons[0]))

int acme_revoke_reason_parse(const char *name)
{
    apr_size_t i;

    for (i = 0; name && i < N_REASONS; i++) {
        if (!strcasecmp(name, reasons[i].name)) {
            return reasons[i].code;
        }
    }
    return ACME_REVOKE_NO_REASON;
}

const char *acme_revoke_reason_name(int code)
{
    apr_size_t i;

    for (i = 0; i < N_REASONS; i++) {
        if (reasons[i].code == code) {
            return reasons[i].name;
        }
    }
    return "?";
}

const char *acme_revoke_reason_list(apr_pool_t *p)
{
    const char *list = reasons[0].name;
    apr_size_t i;

    for (i = 1; i < N_REASONS; i++) {
        list = apr_pstrcat(p, list, ", ", reasons[i].name, NULL);
    }
    return list;
}

apr_status_t acme_cert_revoke(acme_client_t *c, apr_pool_t *p,
                              const unsigned char *der, apr_size_t der_len,
                              int reason, EVP_PKEY *cert_key)
{
    const char *activity = apr_psprintf(c->pool, "revoking a certificate "
                                        "at %s", c->directory_url);
    json_t *payload = acme_json_pool_own(p, json_object());
    acme_http_response_t *resp;
    EVP_PKEY *account_key = c->account_key;
    apr_status_t rv;

    if ((rv = acme_directory_fetch(c)) != APR_SUCCESS) {
        return rv;
    }
    if (!c->dir.revoke_cert) {
        return acme_client_fail(c, APR_ENOTIMPL, ACME_FAIL_CONFIG, activity,
                                "the CA's directory has no revokeCert",
                                "this CA does not revoke over ACME; use "
                                "its web interface");
    }
    if (!cert_key && !c->account_url) {
        return acme_client_fail(c, APR_EINIT, ACME_FAIL_CONFIG, activity,
                                "no account registered", NULL);
    }
    json_object_set_new(payload, "certificate",
                        json_string(acme_b64url_encode(p, der, der_len)));
    if (reason != ACME_REVOKE_NO_REASON) {
        json_object_set_new(payload, "reason", json_integer(reason));
    }
    /* The one signing path; only the key differs. With the certificate's
     * key the JWS carries it as "jwk" (§7.6: "the public key in the
     * certificate"), as newAccount does with the account key. */
    if (cert_key) {
        c->account_key = cert_key;
    }
    rv = acme_signed_post(c, &resp, NULL, p, c->dir.revoke_cert, payload,
                          activity, cert_key != NULL);
    c->account_key = account_key;
    return rv;
}

/* The stored account for the CA: key and URL, as the job keeps them. */
static apr_status_t load_account(acme_client_t *c, apr_pool_t *p,
                                 const acme_revoke_req_t *r,
                                 const acme_store_t *store)
{
    const char *dir = acme_job_account_dir(p, store, r->server_url,
                                           r->eab_kid);
    const char *activity = apr_psprintf(c->pool, "loading the account for "
                                        "%s", r->server_url);
    json_t *acct;
    char *pem;
    apr_size_t len;
    apr_status_t rv = APR_ENOENT;

    if (dir) {
        rv = acme_store_read(&pem, &len, apr_pstrcat(p, dir, "/",
                             ACME_FN_ACCOUNT_KEY, NULL), ACME_STORE_FILE_MAX,
                             p);
    }
    else {    /* for the message: where the job would keep it */
        dir = acme_store_path(p, store, ACME_AREA_ACCOUNTS,
                              acme_job_account_id(p, r->server_url,
                                                  r->eab_kid), NULL);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_key_from_pem(&c->account_key, p, pem, len);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_store_read_json(&acct, apr_pstrcat(p, dir, "/",
                                  ACME_FN_ACCOUNT, NULL), p);
    }
    if (rv == APR_SUCCESS && !acme_json_str(acct, "url")) {
        rv = APR_EINVAL;
    }
    if (rv != APR_SUCCESS) {
        return acme_client_fail(c, rv, ACME_FAIL_CONFIG, activity,
                    apr_psprintf(p, "there is no usable account for this CA "
                                 "in %s", dir),
                    "revoke with the certificate's own key instead "
                    "(--cert PATH --key PATH)");
    }
    c->account_url = apr_pstrdup(c->pool, acme_json_str(acct, "url"));
    return APR_SUCCESS;
}

apr_status_t acme_revoke(acme_error_t **err, apr_pool_t *p,
                         const acme_revoke_req_t *r,
                         const acme_store_t *store,
                         const acme_job_env_t *env)
{
    acme_http_t *http = env->http;
    acme_client_t *c;
    apr_status_t rv;

    *err = NULL;
    if (!http && (rv = acme_http_curl_create(&http, p, r->ca_file,
                                             "mod_acmeauto/0.1"))
                 != APR_SUCCESS) {
        *err = acme_error_make(p, rv, ACME_FAIL_TRANSIENT, "starting",
                               "no HTTP client", NULL);
        return rv;
    }
    if (!env->http) {
        acme_http_curl_set_proxy(http, r->http_proxy);
    }
    acme_client_create(&c, p, http, r->server_url);
    c->should_abort = env->should_abort;
    c->abort_baton = env->baton;
    http->should_abort = env->should_abort;
    http->abort_baton = env->baton;
    rv = r->cert_key ? APR_SUCCESS : load_account(c, p, r, store);
    if (rv == APR_SUCCESS) {
        rv = acme_cert_revoke(c, p, r->der, r->der_len, r->reason,
                              r->cert_key);
    }
    if (rv != APR_SUCCESS) {
        *err = c->error ? c->error
             : acme_error_make(p, rv, ACME_FAIL_TRANSIENT, "revoking",
                               "unexpected failure", NULL);
        (*err)->status = rv;
    }
    return rv;
}
