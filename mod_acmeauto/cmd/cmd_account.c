/* acmeauto account [--ca URL] [--update-contact]: the account the store
 * holds for each configured CA, and what the CA says of it (a
 * POST-as-GET to the account URL, RFC 8555 §7.3); with --update-contact
 * the account's contact becomes ACMEContact's (§7.3.2).
 *
 * The account key is the User's: everything here runs as the server's
 * User (ax_as_user), reading accounts/ as the background job does. It
 * never registers an account: that stays the job's. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "acmeauto.h"
#include "acme_client.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "?"
#endif

static const char *const usage_text =
    "usage: acmeauto account [--ca URL] [--update-contact]\n\n"
    "For each CA in ACMEServer (or only URL): the account stored for it\n"
    "and what the CA says of it (status, contact, orders URL). With\n"
    "--update-contact the CA is told the contact of ACMEContact as the\n"
    "running server has it (after changing ACMEContact, restart Apache\n"
    "first). A CA without a stored account is left alone: the background\n"
    "job registers one when it first needs it.\n\n"
    "exit codes: 0 done; 1 the CA refused or could not be reached;\n"
    "3 no store, or URL is not a configured ACMEServer.\n";

/* One CA and the domain whose settings (ACMEContact, trust anchors)
 * speak for it: the first that uses it. */
typedef struct {
    const char *url;
    const char *kid;             /* its ACMEEAB key id: the account is
                                  * the CA's and the key id's */
    const acme_conf_domain_t *d;
} ca_t;

typedef struct {
    apr_array_header_t *cas;     /* ca_t */
    int update;
} run_t;

static int same_list(const apr_array_header_t *a,
                     const apr_array_header_t *b)
{
    int i;

    if (a->nelts != b->nelts) {
        return 0;
    }
    for (i = 0; i < a->nelts; i++) {
        if (strcmp(APR_ARRAY_IDX(a, i, const char *),
                   APR_ARRAY_IDX(b, i, const char *))) {
            return 0;
        }
    }
    return 1;
}

/* The configured CAs in the order they first appear; NULL when `only`
 * is given and none of them. Warns where domains sharing a CA (so one
 * account) give it different contacts. */
static apr_array_header_t *configured_cas(ax_ctx_t *ctx, const char *only,
                                          int update)
{
    apr_array_header_t *cas = apr_array_make(ctx->pool, 4, sizeof(ca_t));
    int i, k, n;

    for (i = 0; i < ctx->conf->domains->nelts; i++) {
        const acme_conf_domain_t *d = APR_ARRAY_IDX(ctx->conf->domains, i,
                                                    acme_conf_domain_t *);
        for (k = 0; k < d->servers->nelts; k++) {
            const char *url = APR_ARRAY_IDX(d->servers, k, const char *);
            const char *kid = acme_conf_eab(d, url)->kid;
            ca_t *ca = NULL;

            if (only && strcmp(only, url)) {
                continue;
            }
            for (n = 0; n < cas->nelts && !ca; n++) {
                ca_t *o = &APR_ARRAY_IDX(cas, n, ca_t);
                if (!strcmp(o->url, url) && (o->kid == kid || (o->kid && kid
                                             && !strcmp(o->kid, kid)))) {
                    ca = o;
                }
            }
            if (!ca) {
                ca = apr_array_push(cas);
                ca->url = url;
                ca->kid = kid;
                ca->d = d;
            }
            else if (update && !same_list(ca->d->contacts, d->contacts)) {
                ax_info(ctx, "%s and %s share the account at %s but not "
                        "their ACMEContact; using that of %s (%s)",
                        ca->d->name, d->name, url, ca->d->name,
                        ca->d->defined_at ? ca->d->defined_at : "?");
            }
        }
    }
    return (only && !cas->nelts) ? NULL : cas;
}

static const char *json_list(apr_pool_t *p, const json_t *a)
{
    const char *s = NULL;
    const json_t *e;
    size_t i;

    json_array_foreach(a, i, e) {
        if (json_is_string(e)) {
            s = s ? apr_pstrcat(p, s, " ", json_string_value(e), NULL)
                  : json_string_value(e);
        }
    }
    return s ? s : "(none)";
}

static void print_account(apr_pool_t *p, const char *url,
                          const char *kid, const char *account_url, const json_t *acct,
                          const json_t *stored, const char *key_path)
{
    json_int_t created = json_integer_value(json_object_get(stored,
                                                            "created"));
    const char *orders = acme_json_str(acct, "orders");
    char buf[APR_RFC822_DATE_LEN];

    printf("CA:       %s\n", url);
    if (kid) {
        printf("key id:   %s\n", kid);
    }
    printf("account:  %s\n", account_url);
    printf("status:   %s\n", acme_json_str(acct, "status")
                             ? acme_json_str(acct, "status") : "?");
    printf("contact:  %s\n", json_list(p, json_object_get(acct, "contact")));
    printf("orders:   %s\n", orders ? orders : "-");
    if (created > 0
        && apr_rfc822_date(buf, apr_time_from_sec(created)) == APR_SUCCESS) {
        printf("created:  %s\n", buf);
    }
    printf("key:      %s\n", key_path);
}

/* One CA, as the User. */
static int one_ca(ax_ctx_t *ctx, const ca_t *ca, int update, apr_pool_t *p)
{
    const char *dir = acme_job_account_dir(p, ctx->store, ca->url, ca->kid);
    const char *key_path = dir ? apr_pstrcat(p, dir, "/", ACME_FN_ACCOUNT_KEY,
                                             NULL) : NULL;
    json_t *stored = NULL, *acct = NULL;
    const char *account_url = NULL;
    acme_http_t *http;
    acme_client_t *c;
    EVP_PKEY *key = NULL;
    char *pem;
    apr_size_t len;
    apr_status_t rv;

    if (dir && acme_store_read_json(&stored, apr_pstrcat(p, dir, "/",
                                                         ACME_FN_ACCOUNT,
                                                         NULL), p)
               == APR_SUCCESS) {
        account_url = acme_json_str(stored, "url");
    }
    if (!account_url) {
        printf("CA:       %s\n%s%s%saccount:  none yet (the background "
               "job registers one when it first needs a certificate from "
               "this CA)\n", ca->url, ca->kid ? "key id:   " : "",
               ca->kid ? ca->kid : "", ca->kid ? "\n" : "");
        return AX_OK;
    }
    if ((rv = acme_store_read(&pem, &len, key_path, ACME_STORE_FILE_MAX, p))
        != APR_SUCCESS
        || (rv = acme_key_from_pem(&key, p, pem, len)) != APR_SUCCESS) {
        ax_error("%s: the account key %s cannot be used", ca->url,
                 key_path);
        return AX_FAILED;
    }
    if ((rv = acme_http_curl_create(&http, p, ca->d->ca_file,
                                    "acmeauto/" PACKAGE_VERSION))
        != APR_SUCCESS
        || (rv = acme_client_create(&c, p, http, ca->url)) != APR_SUCCESS) {
        ax_error("%s: no HTTP client", ca->url);
        return AX_FAILED;
    }
    acme_http_curl_set_proxy(http, ca->d->http_proxy);
    c->account_key = key;
    c->account_url = account_url;
    rv = update ? acme_account_update_contact(&acct, c, p, ca->d->contacts)
                : acme_account_get(&acct, c, p);
    if (rv != APR_SUCCESS) {
        ax_error("%s: %s", ca->url, c->error ? acme_error_line(p, c->error)
                                             : "failed");
        if (c->error && c->error->type
            && !strcmp(c->error->type, "accountDoesNotExist")) {
            ax_error("%s: the background job sets the stored account aside "
                     "and registers a new one at its next attempt", ca->url);
        }
        return AX_FAILED;
    }
    if (update) {
        ax_info(ctx, "%s: contact set to %s", ca->url,
                ca->d->contacts->nelts
                ? acme_str_join(p, ca->d->contacts, " ")
                : "(none: ACMEContact is not set)");
    }
    print_account(p, ca->url, ca->kid, account_url, acct, stored, key_path);
    return AX_OK;
}

static int all_cas(ax_ctx_t *ctx, void *baton)
{
    const run_t *run = baton;
    apr_pool_t *p;
    int i, rc = AX_OK;

    for (i = 0; i < run->cas->nelts && !ax_interrupted(); i++) {
        apr_pool_create(&p, ctx->pool);
        if (i) {
            putchar('\n');
        }
        if (one_ca(ctx, &APR_ARRAY_IDX(run->cas, i, ca_t), run->update, p)
            != AX_OK) {
            rc = AX_FAILED;
        }
        fflush(stdout);
        apr_pool_destroy(p);
    }
    return rc;
}

int ax_cmd_account(ax_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *only = NULL;
    run_t run = { NULL, 0 };
    int i, rc;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(usage_text, stdout);
            return AX_OK;
        }
        if (!strcmp(argv[i], "--update-contact")) {
            run.update = 1;
        }
        else if (!strcmp(argv[i], "--ca") && i + 1 < argc) {
            only = argv[++i];
        }
        else {
            ax_error("account: unexpected argument %s", argv[i]);
            fputs(usage_text, stderr);
            return AX_USAGE;
        }
    }
    if ((rc = ax_load_conf(ctx)) != AX_OK) {
        return rc;
    }
    if (!(run.cas = configured_cas(ctx, only, run.update))) {
        ax_error("%s is not an ACMEServer of any managed domain; the "
                 "configured ones are:", only);
        run.cas = configured_cas(ctx, NULL, 0);
        for (i = 0; i < run.cas->nelts; i++) {
            const char *url = APR_ARRAY_IDX(run.cas, i, ca_t).url;
            int k, seen = 0;
            for (k = 0; k < i && !seen; k++) {    /* once, whatever key ids */
                seen = !strcmp(url, APR_ARRAY_IDX(run.cas, k, ca_t).url);
            }
            if (!seen) {
                fprintf(stderr, "  %s\n", url);
            }
        }
        return AX_CONFIG;
    }
    ax_job_env(ctx);    /* SIGINT stops between CAs */
    return ax_as_user(ctx, all_cas, &run);
}
