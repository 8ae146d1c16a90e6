#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>

#include "acme_problem.h"
#include "acme_json.h"

/* What each RFC 8555 §6.7 error type means for the administrator, and
 * whether retrying can help. Detail texts differ between CAs; the hint is
 * ours. */
typedef struct {
    const char *type;
    acme_fail_kind_e kind;
    const char *hint;
} problem_info_t;

static const problem_info_t problem_table[] = {
    { "accountDoesNotExist", ACME_FAIL_TRANSIENT,
      "the CA does not know the stored account; it will be registered again" },
    { "alreadyRevoked", ACME_FAIL_CONFIG,
      "the certificate is already revoked; nothing to do" },
    { "badCSR", ACME_FAIL_CONFIG,
      "the CA refused the certificate request; check ACMEKeyType (some CAs "
      "accept only rsa2048) and the names in ACMEDomain" },
    { "badNonce", ACME_FAIL_TRANSIENT,
      "the CA refused a replay nonce; retried at once with a fresh one" },
    { "badPublicKey", ACME_FAIL_CONFIG,
      "the CA does not accept the account key type" },
    { "badRevocationReason", ACME_FAIL_CONFIG,
      "the CA does not allow this revocation reason; use another --reason" },
    { "badSignatureAlgorithm", ACME_FAIL_CONFIG,
      "the CA does not accept the account key's signature algorithm" },
    { "caa", ACME_FAIL_CONFIG,
      "a DNS CAA record forbids this CA to issue for the name; add the CA "
      "to the CAA record or remove the record" },
    { "compound", ACME_FAIL_TRANSIENT,
      "several problems; see the subproblems" },
    { "connection", ACME_FAIL_TRANSIENT,
      "the CA could not connect to this server to validate the name; check "
      "DNS, firewall and that port 80 reaches this Apache" },
    { "dns", ACME_FAIL_TRANSIENT,
      "the CA could not resolve the name; check its DNS records" },
    { "externalAccountRequired", ACME_FAIL_CONFIG,
      "this CA requires External Account Binding: set ACMEEAB with the key "
      "identifier and HMAC key from the CA's account page" },
    { "incorrectResponse", ACME_FAIL_TRANSIENT,
      "the CA got a wrong answer to the challenge; check that requests for "
      "/.well-known/acme-challenge/ reach this server" },
    { "invalidContact", ACME_FAIL_CONFIG,
      "the CA rejected the contact address; fix ACMEContact" },
    { "malformed", ACME_FAIL_CONFIG,
      "the CA rejected the request as malformed" },
    { "orderNotReady", ACME_FAIL_TRANSIENT,
      "the order was finalized before the CA considered it ready" },
    { "rateLimited", ACME_FAIL_TRANSIENT,
      "the CA's rate limit was reached; waiting before the next attempt" },
    { "rejectedIdentifier", ACME_FAIL_CONFIG,
      "the CA will not issue for a name; remove it from ACMEDomain" },
    { "serverInternal", ACME_FAIL_TRANSIENT,
      "the CA had an internal error; retrying later" },
    { "tls", ACME_FAIL_TRANSIENT,
      "the CA had a TLS problem while validating the name" },
    { "unauthorized", ACME_FAIL_CONFIG,
      "the CA refused the request for lack of authorization (account "
      "deactivated, or the name is not allowed for this account)" },
    { "unsupportedContact", ACME_FAIL_CONFIG,
      "the CA does not support the contact scheme; use mailto: addresses "
      "in ACMEContact" },
    { "unsupportedIdentifier", ACME_FAIL_CONFIG,
      "the CA does not issue for this kind of name" },
    { "userActionRequired", ACME_FAIL_CONFIG,
      "the CA needs a manual action, usually accepting new terms of "
      "service; see the instance URL given by the CA" },
};

/* CA-specific detail texts (SPEC.md §1, ca-errors.md) that reveal a
 * configuration problem behind a generic "malformed". */
typedef struct {
    const char *needle;      /* case-insensitive substring of detail */
    acme_fail_kind_e kind;
    const char *hint;
} detail_hint_t;

static const detail_hint_t detail_hints[] = {
    { "unable to create account", ACME_FAIL_CONFIG,
      "the CA refused the account; check the key identifier and HMAC of "
      "ACMEEAB (they expire 14 days after the CA issues them)" },
    { "agree to the term", ACME_FAIL_CONFIG,
      "the CA requires acceptance of its terms of service: set ACMEAgreeTOS on" },
    { "contact information is invalid", ACME_FAIL_CONFIG,
      "fix ACMEContact (1 to 6 distinct e-mail addresses)" },
    { "fqdn is invalid", ACME_FAIL_CONFIG,
      "the CA refuses a name in ACMEDomain; remove or correct it" },
    { "validity period of application has been expired", ACME_FAIL_TRANSIENT,
      "the order expired at the CA; a new order will be created" },
    { "unable to accept order", ACME_FAIL_TRANSIENT,
      "the order is in a state the CA does not accept; a new order will be "
      "created" },
    { "external account", ACME_FAIL_CONFIG, "check ACMEEAB: the key "
      "identifier or HMAC key was not accepted by the CA" },
};

const char *acme_problem_short_type(const char *type)
{
    if (type && !strncmp(type, ACME_ERR_NS, sizeof(ACME_ERR_NS) - 1)) {
        return type + sizeof(ACME_ERR_NS) - 1;
    }
    return type;
}

static int contains_nocase(const char *hay, const char *needle)
{
    apr_size_t n = strlen(needle);

    for (; hay && *hay; hay++) {
        if (!strncasecmp(hay, needle, n)) {
            return 1;
        }
    }
    return 0;
}

static void apply_table(acme_error_t *e)
{
    apr_size_t i;

    for (i = 0; i < sizeof(detail_hints) / sizeof(detail_hints[0]); i++) {
        if (contains_nocase(e->detail, detail_hints[i].needle)) {
            e->hint = detail_hints[i].hint;
            e->kind = detail_hints[i].kind;
            return;
        }
    }
    for (i = 0; i < sizeof(problem_table) / sizeof(problem_table[0]); i++) {
        if (e->type && !strcmp(e->type, problem_table[i].type)) {
            e->kind = problem_table[i].kind;
            if (problem_table[i].hint) {
                e->hint = problem_table[i].hint;
            }
            return;
        }
    }
    /* Unknown type: 5xx and 429 are the server's trouble, others ours. */
    e->kind = (e->http_status >= 500 || e->http_status == 429
               || e->http_status == 0) ? ACME_FAIL_TRANSIENT : ACME_FAIL_CONFIG;
}

acme_error_t *acme_error_from_problem(apr_pool_t *p, const json_t *problem,
                                      int http_status, const char *activity)
{
    acme_error_t *e = apr_pcalloc(p, sizeof(*e));
    const char *type = acme_json_str(problem, "type");
    const char *detail = acme_json_str(problem, "detail");

    e->status = APR_EGENERAL;
    e->http_status = http_status;
    e->activity = activity;
    e->type = type ? apr_pstrdup(p, acme_problem_short_type(type)) : NULL;
    e->detail = detail ? apr_pstrdup(p, detail)
                       : apr_psprintf(p, "HTTP status %d", http_status);
    apply_table(e);
    return e;
}

acme_error_t *acme_error_make(apr_pool_t *p, apr_status_t status,
                              acme_fail_kind_e kind, const char *activity,
                              const char *detail, const char *hint)
{
    acme_error_t *e = apr_pcalloc(p, sizeof(*e));

    e->status = status;
    e->kind = kind;
    e->activity = activity;
    e->detail = detail;
    e->hint = hint;
    return e;
}

const char *acme_error_line(apr_pool_t *p, const acme_error_t *e)
{
    return apr_psprintf(p, "%s%s%s%s%s%s%s",
                        e->activity ? e->activity : "",
                        e->activity ? ": " : "",
                        e->type ? e->type : "",
                        e->type ? ": " : "",
                        e->detail ? e->detail : "failed",
                        e->hint ? " -- " : "",
                        e->hint ? e->hint : "");
}
