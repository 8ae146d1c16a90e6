/* RFC 8555 §7.3: finding or creating the account. */
#include <string.h>
#include <apr_strings.h>

#include "acme_client_int.h"
#include "acme_crypto.h"
#include "acme_json.h"

#define EAB_HINT "check ACMEEAB: the CA did not accept the key identifier " \
                 "and HMAC key (EAB values expire 14 days after the CA " \
                 "issues them)"

static apr_status_t take_account_url(acme_client_t *c,
                                     const acme_http_response_t *resp,
                                     const char *activity)
{
    const char *loc = apr_table_get(resp->headers, "Location");

    if (!loc || (strncasecmp(loc, "https://", 8) && strncasecmp(loc, "http://", 7))) {
        return acme_client_fail(c, APR_EGENERAL, ACME_FAIL_TRANSIENT, activity,
                                "the CA answered without the account URL "
                                "(Location header)", NULL);
    }
    c->account_url = apr_pstrdup(c->pool, loc);
    return APR_SUCCESS;
}

/* The checks that need no round trip: terms and EAB presence. */
static apr_status_t check_preconditions(acme_client_t *c, apr_pool_t *p,
                                        int tos_agreed, const char *eab_kid,
                                        const char *activity)
{
    const char *tos = c->dir.terms_of_service;

    if (tos && !tos_agreed) {
        return acme_client_fail(c, APR_EACCES, ACME_FAIL_CONFIG, activity,
                                apr_psprintf(p, "the CA's terms of service "
                                             "(%s) have not been accepted", tos),
                                apr_psprintf(p, "read them and set "
                                             "'ACMEAgreeTOS on' (or "
                                             "'ACMEAgreeTOS %s')", tos));
    }
    if (c->dir.eab_required && !eab_kid) {
        return acme_client_fail(c, APR_EACCES, ACME_FAIL_CONFIG, activity,
                                "the CA requires External Account Binding",
                                apr_psprintf(p, "set 'ACMEEAB KID HMAC' (or, "
                                             "for this CA only, 'ACMEEAB %s "
                                             "KID HMAC') with the values "
                                             "from the CA's account page",
                                             c->directory_url));
    }
    return APR_SUCCESS;
}

static json_t *account_payload(apr_pool_t *p,
                               const apr_array_header_t *contacts,
                               int tos_agreed)
{
    json_t *payload = acme_json_pool_own(p, json_object());
    json_t *list = json_array();
    int i;

    for (i = 0; contacts && i < contacts->nelts; i++) {
        json_array_append_new(list, json_string(
            APR_ARRAY_IDX(contacts, i, const char *)));
    }
    json_object_set_new(payload, "contact", list);
    if (tos_agreed) {
        json_object_set_new(payload, "termsOfServiceAgreed", json_true());
    }
    return payload;
}

apr_status_t acme_account_register(acme_client_t *c, apr_pool_t *p,
                                   const apr_array_header_t *contacts,
                                   int tos_agreed, const char *eab_kid,
                                   const unsigned char *eab_hmac,
                                   apr_size_t eab_hmac_len)
{
    const char *activity = apr_psprintf(c->pool, "creating an account at %s",
                                        c->directory_url);
    acme_http_response_t *resp;
    json_t *payload, *eab;
    apr_status_t rv;

    if ((rv = acme_directory_fetch(c)) != APR_SUCCESS) {
        return rv;
    }
    rv = check_preconditions(c, p, tos_agreed, eab_kid, activity);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    payload = account_payload(p, contacts, tos_agreed);
    if (eab_kid) {
        rv = acme_eab_create(&eab, p, c->account_key, eab_kid, eab_hmac,
                             eab_hmac_len, c->dir.new_account);
        if (rv != APR_SUCCESS) {
            return acme_client_fail(c, rv, ACME_FAIL_CONFIG, activity,
                                    "could not sign the EAB", EAB_HINT);
        }
        json_object_set(payload, "externalAccountBinding", eab);
    }
    rv = acme_signed_post(c, &resp, NULL, p, c->dir.new_account, payload,
                          activity, 1);
    if (rv != APR_SUCCESS) {
        /* A refused registration with EAB is almost always the EAB; a
         * stale nonce or a rate limit is not, and stays transient. */
        if (eab_kid && c->error && c->error->http_status >= 400
            && c->error->http_status < 500 && c->error->http_status != 429
            && (!c->error->type || (strcmp(c->error->type, "badNonce")
                                    && strcmp(c->error->type, "rateLimited")))) {
            c->error->kind = ACME_FAIL_CONFIG;
            if (!c->error->hint || !strstr(c->error->hint, "ACME")) {
                c->error->hint = EAB_HINT;
            }
        }
        return rv;
    }
    return take_account_url(c, resp, activity);
}

/* The account object of a 2xx answer, or a failure. */
static apr_status_t take_account(json_t **acct, acme_client_t *c,
                                 json_t *doc, const char *activity)
{
    if (!json_is_object(doc)) {
        *acct = NULL;
        return acme_client_fail(c, APR_EGENERAL, ACME_FAIL_TRANSIENT,
                                activity, "the CA answered without an "
                                "account object", NULL);
    }
    *acct = doc;
    return APR_SUCCESS;
}

apr_status_t acme_account_get(json_t **acct, acme_client_t *c,
                              apr_pool_t *p)
{
    const char *activity = apr_psprintf(c->pool, "reading the account %s",
                                        c->account_url ? c->account_url
                                                       : "(none)");
    acme_http_response_t *resp;
    json_t *doc = NULL;
    apr_status_t rv;

    *acct = NULL;
    rv = acme_post(c, &resp, &doc, p, c->account_url, NULL, activity);
    return rv != APR_SUCCESS ? rv : take_account(acct, c, doc, activity);
}

apr_status_t acme_account_update_contact(json_t **acct, acme_client_t *c,
                                         apr_pool_t *p,
                                         const apr_array_header_t *contacts)
{
    const char *activity = apr_psprintf(c->pool, "updating the contact of "
                                        "the account %s", c->account_url
                                        ? c->account_url : "(none)");
    json_t *payload = acme_json_pool_own(p, json_object());
    json_t *list = json_array();
    acme_http_response_t *resp;
    json_t *doc = NULL;
    apr_status_t rv;
    int i;

    *acct = NULL;
    for (i = 0; contacts && i < contacts->nelts; i++) {
        json_array_append_new(list, json_string(
            APR_ARRAY_IDX(contacts, i, const char *)));
    }
    json_object_set_new(payload, "contact", list);
    rv = acme_post(c, &resp, &doc, p, c->account_url, payload, activity);
    return rv != APR_SUCCESS ? rv : take_account(acct, c, doc, activity);
}
