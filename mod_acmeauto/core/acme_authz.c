/* Proving control of the names (RFC 8555 §7.5, §8): per authorization,
 * the first type of ACMEChallenges that the CA offers and that can be
 * set up; the next one when it cannot, or (with a new order, see
 * acme_job.c) when the CA's validation failed. A challenge type is one
 * entry of chtypes[]. */
#include <string.h>
#include <sys/wait.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "acme_job_int.h"
#include "acme_client_int.h"
#include "acme_alpn.h"
#include "acme_dns.h"
#include "acme_json.h"
#include "acme_util.h"

/* One authorization on its way to "valid". */
typedef struct {
    const char *url;
    const acme_authz_t *a;
    const char *id;                 /* identifier, "*.x" for a wildcard */
    int next;                       /* next ACMEChallenges entry to try */
    const struct chtype_t *type;    /* the type answered */
    const acme_challenge_t *ch;
    int settled;                    /* settle() has seen it */
    acme_job_txt_t txt;             /* dns-01: the record set up */
    const char *record;             /* dns-persist-01: the one to publish */
    acme_error_t *err;              /* settle() says it cannot work */
} attempt_t;

typedef struct chtype_t {
    const char *name;
    int wildcard_ok;                /* may validate "*.x" (RFC 8555 §7.1.3:
                                     * the CA offers only dns types there) */
    /* Puts the answer up; on failure c->error says why. */
    apr_status_t (*provision)(acme_job_t *job, attempt_t *at);
    /* Once every answer is up: waits until the CA can see this type's
     * answers, setting err on those it cannot. NULL: nothing to wait for. */
    void (*settle)(acme_job_t *job, apr_array_header_t *attempts);
} chtype_t;

static apr_status_t provision_http01(acme_job_t *job, attempt_t *at);
static apr_status_t provision_dns01(acme_job_t *job, attempt_t *at);
static void settle_dns01(acme_job_t *job, apr_array_header_t *attempts);
static apr_status_t provision_persist(acme_job_t *job, attempt_t *at);
static apr_status_t provision_alpn(acme_job_t *job, attempt_t *at);

static const chtype_t chtypes[] = {
    { "http-01", 0, provision_http01, NULL },
    { "dns-01", 1, provision_dns01, settle_dns01 },
    { "dns-persist-01", 1, provision_persist, NULL },
    { ACME_ALPN_CHALLENGE, 0, provision_alpn, NULL },
};
#define CHTYPE_COUNT (sizeof(chtypes) / sizeof(chtypes[0]))

static const chtype_t *chtype_find(const char *name)
{
    apr_size_t i;

    for (i = 0; i < CHTYPE_COUNT; i++) {
        if (!strcasecmp(chtypes[i].name, name)) {
            return &chtypes[i];
        }
    }
    return NULL;
}

static const apr_array_header_t *prefs(acme_job_t *job)
{
    static const char *http01 = "http-01";
    static apr_array_header_t dflt = { NULL, sizeof(const char *), 1, 1,
                                       (char *)&http01 };

    return (job->d->challenges && job->d->challenges->nelts)
        ? job->d->challenges : &dflt;
}

static int failed_before(acme_job_t *job, const char *id, const char *type)
{
    const char *f = apr_table_get(job->failed, id);

    return f && strstr(f, apr_pstrcat(job->p, " ", type, " ", NULL));
}

static const acme_challenge_t *find_challenge(const acme_authz_t *a,
                                              const char *type)
{
    int i;

    for (i = 0; i < a->challenges->nelts; i++) {
        const acme_challenge_t *ch = &APR_ARRAY_IDX(a->challenges, i,
                                                     acme_challenge_t);
        /* dns-persist-01 has no token: the CA names itself instead. */
        if (!strcasecmp(ch->type, type) && (ch->token || ch->issuer_domain)) {
            return ch;
        }
    }
    return NULL;
}

/* The next usable type for at, from at->next on, set up. */
static apr_status_t choose(acme_job_t *job, attempt_t *at)
{
    const apr_array_header_t *pr = prefs(job);
    acme_client_t *c = job->client;
    int tried = 0;

    while (at->next < pr->nelts) {
        const char *name = APR_ARRAY_IDX(pr, at->next, const char *);
        const chtype_t *t = chtype_find(name);
        at->next++;
        if (!t || (at->a->wildcard && !t->wildcard_ok)
            || failed_before(job, at->id, t->name)
            || !(at->ch = find_challenge(at->a, t->name))) {
            continue;
        }
        at->type = t;
        at->settled = 0;
        at->err = NULL;
        tried++;
        if (t->provision(job, at) == APR_SUCCESS) {
            return APR_SUCCESS;
        }
        acme_job_log(job, 1, "%s for %s: %s%s", t->name, at->id,
                     acme_error_line(job->p, c->error),
                     at->next < pr->nelts ? "; trying the next type of "
                     "ACMEChallenges" : "");
    }
    if (!tried) {
        c->error = acme_error_make(job->p, APR_ENOTIMPL, ACME_FAIL_CONFIG,
            apr_psprintf(job->p, "authorizing %s", at->id),
            apr_psprintf(job->p, "the CA offers none of the challenge "
                         "types %s for this name",
                         acme_str_join(job->p, pr, ", ")),
            at->a->wildcard ? "a wildcard name needs dns-01 in "
            "ACMEChallenges and an ACMEDNSCmd" : "list another type in "
            "ACMEChallenges");
        return APR_ENOTIMPL;
    }
    return c->error && c->error->status ? c->error->status : APR_EGENERAL;
}

/* --- http-01 ---------------------------------------------------------- */

/* Puts the key authorization where the request hook finds it. */
static apr_status_t provision_http01(acme_job_t *job, attempt_t *at)
{
    acme_client_t *c = job->client;
    const char *ka, *path;
    apr_status_t rv;

    if ((rv = acme_key_authorization(&ka, c, job->p, at->ch->token))
        != APR_SUCCESS) {
        return rv;
    }
    path = acme_store_path(job->p, job->store, ACME_AREA_CHALLENGES,
                           at->ch->token, NULL);
    if ((rv = acme_store_write(path, ka, strlen(ka), 0644, job->p))
        != APR_SUCCESS) {
        c->error = acme_error_make(job->p, rv, ACME_FAIL_CONFIG,
                                   "writing the http-01 answer", path,
                                   "check ACMEStoreDir and its permissions");
        return rv;
    }
    APR_ARRAY_PUSH(job->tokens, const char *) = path;
    acme_job_log(job, 3, "http-01 challenge for %s: token %s", at->id,
                 at->ch->token);
    return APR_SUCCESS;
}

/* --- tls-alpn-01 ------------------------------------------------------ */

/* Puts the challenge certificate where the handshake hook finds it
 * (aa_alpn.c). The key is made here, once per challenge, so that a
 * handshake only reads a file. */
static apr_status_t provision_alpn(acme_job_t *job, attempt_t *at)
{
    acme_client_t *c = job->client;
    const char *ka, *pem, *file, *path;
    apr_status_t rv;

    if ((rv = acme_key_authorization(&ka, c, job->p, at->ch->token))
        != APR_SUCCESS) {
        return rv;
    }
    /* An address is asked for under its reverse-DNS name (RFC 8738 §6). */
    file = acme_alpn_file(job->p, acme_is_ip_literal(at->a->identifier)
                          ? acme_ip_reverse_name(job->p, at->a->identifier)
                          : at->a->identifier);
    if (!file || (rv = acme_alpn_cert(&pem, job->p, at->a->identifier, ka))
                 != APR_SUCCESS) {
        rv = file ? rv : APR_EINVAL;
        c->error = acme_error_make(job->p, rv, ACME_FAIL_TRANSIENT,
                                   apr_psprintf(job->p, "making the "
                                   "tls-alpn-01 certificate for %s",
                                   at->id), NULL, NULL);
        return rv;
    }
    path = acme_store_path(job->p, job->store, ACME_AREA_CHALLENGES, file,
                           NULL);
    if ((rv = acme_store_write(path, pem, strlen(pem), 0600, job->p))
        != APR_SUCCESS) {
        c->error = acme_error_make(job->p, rv, ACME_FAIL_CONFIG,
                                   "writing the tls-alpn-01 answer", path,
                                   "check ACMEStoreDir and its permissions");
        return rv;
    }
    APR_ARRAY_PUSH(job->tokens, const char *) = path;
    acme_job_log(job, 3, "tls-alpn-01 challenge for %s: token %s", at->id,
                 at->ch->token);
    return APR_SUCCESS;
}

/* --- dns-persist-01 --------------------------------------------------- */

/* draft-ietf-acme-dns-persist-01: the administrator publishes once, at
 * _validation-persist.<name>, a record naming the CA and our account
 * (policy=wildcard where a wildcard of the name is managed); the CA
 * checks it, so nothing is put up here. */
static apr_status_t provision_persist(acme_job_t *job, attempt_t *at)
{
    const char *wild = apr_pstrcat(job->p, "*.", at->a->identifier, NULL);
    int i, policy = at->a->wildcard;

    if (!at->ch->issuer_domain) {
        job->client->error = acme_error_make(job->p, APR_EGENERAL,
            ACME_FAIL_TRANSIENT, "dns-persist-01", "the CA's challenge "
            "names no issuer domain", NULL);
        return APR_EGENERAL;
    }
    for (i = 0; i < job->d->names->nelts; i++) {
        policy |= !strcmp(APR_ARRAY_IDX(job->d->names, i, const char *),
                          wild);
    }
    at->record = apr_psprintf(job->p, "_validation-persist.%s. IN TXT "
                              "\"%s; accounturi=%s%s\"", at->a->identifier,
                              at->ch->issuer_domain,
                              job->client->account_url,
                              policy ? "; policy=wildcard" : "");
    acme_job_log(job, 2, "dns-persist-01 for %s: the CA checks the record "
                 "published once: %s", at->id, at->record);
    return APR_SUCCESS;
}

/* --- dns-01 ----------------------------------------------------------- */

static const char *dns_path(acme_job_t *job)
{
    return acme_store_path(job->p, job->store, ACME_AREA_STAGING,
                           job->d->name, ACME_FN_WIP_DNS);
}

/* What is up is written down before it goes up, so that a run killed
 * in between still has it torn down by the next. */
static void dns_save(acme_job_t *job)
{
    json_t *list;
    int i;

    if (!job->dns->nelts) {
        apr_file_remove(dns_path(job), job->p);
        return;
    }
    list = acme_json_pool_own(job->p, json_array());
    for (i = 0; i < job->dns->nelts; i++) {
        const acme_job_txt_t *r = &APR_ARRAY_IDX(job->dns, i, acme_job_txt_t);
        json_array_append_new(list, json_pack("{s:s,s:s}", "name", r->name,
                                              "value", r->value));
    }
    acme_store_write_json(dns_path(job), list, 0600, job->p);
}

static void dns_load(acme_job_t *job)
{
    json_t *list, *e;
    size_t i;

    job->dns = apr_array_make(job->p, 4, sizeof(acme_job_txt_t));
    if (acme_store_read_json(&list, dns_path(job), job->p) != APR_SUCCESS
        || !json_is_array(list)) {
        return;
    }
    json_array_foreach(list, i, e) {
        acme_job_txt_t *r;
        if (!acme_json_str(e, "name") || !acme_json_str(e, "value")) {
            continue;
        }
        r = apr_array_push(job->dns);
        r->name = apr_pstrdup(job->p, acme_json_str(e, "name"));
        r->value = apr_pstrdup(job->p, acme_json_str(e, "value"));
    }
}

/* The program's output for a log line: line breaks become spaces. */
static const char *one_line(apr_pool_t *p, const char *s)
{
    char *o = apr_pstrdup(p, s), *e;

    for (e = o; *e; e++) {
        if (*e == '\n' || *e == '\r' || *e == '\t') {
            *e = ' ';
        }
    }
    while (e > o && e[-1] == ' ') {
        *--e = '\0';
    }
    return o;
}

/* Runs ACMEDNSCmd; NULL when it succeeded, else what went wrong. */
static const char *dns_cmd(acme_job_t *job, const char *action,
                           const acme_job_txt_t *r)
{
    const char *out, *what;
    apr_status_t rv;
    int status;

    rv = acme_dns_cmd_run(&status, &out, job->d->dns_cmd, action, r->name,
                          r->value, ACME_DNS_CMD_TIMEOUT, job->p);
    if (rv == APR_SUCCESS && WIFEXITED(status) && !WEXITSTATUS(status)) {
        return NULL;
    }
    if (rv == APR_TIMEUP) {
        what = apr_psprintf(job->p, "was killed after %s",
                            acme_duration_str(job->p, ACME_DNS_CMD_TIMEOUT));
    }
    else if (rv != APR_SUCCESS) {
        char buf[120];
        what = apr_psprintf(job->p, "could not be started (%s)",
                            apr_strerror(rv, buf, sizeof(buf)));
    }
    else if (WIFEXITED(status)) {
        what = apr_psprintf(job->p, "exited with status %d",
                            WEXITSTATUS(status));
    }
    else {
        what = apr_psprintf(job->p, "was killed by signal %d",
                            WTERMSIG(status));
    }
    out = one_line(job->p, out);
    return apr_psprintf(job->p, "'%s %s %s %s' %s%s%s",
                        APR_ARRAY_IDX(job->d->dns_cmd, 0, const char *),
                        action, r->name, r->value, what,
                        *out ? "; it said: " : "", out);
}

static apr_status_t provision_dns01(acme_job_t *job, attempt_t *at)
{
    acme_client_t *c = job->client;
    const char *ka, *why;
    acme_job_txt_t *r;
    apr_status_t rv;

    if (!job->d->dns_cmd) {
        c->error = acme_error_make(job->p, APR_ENOTIMPL, ACME_FAIL_CONFIG,
            apr_psprintf(job->p, "answering dns-01 for %s", at->id),
            "no ACMEDNSCmd is set", "set ACMEDNSCmd to a program that "
            "publishes the TXT record");
        return APR_ENOTIMPL;
    }
    if ((rv = acme_key_authorization(&ka, c, job->p, at->ch->token))
        != APR_SUCCESS) {
        return rv;
    }
    r = apr_array_push(job->dns);
    r->name = acme_dns01_name(job->p, at->a->identifier);
    r->value = acme_dns01_value(job->p, ka);
    at->txt = *r;
    dns_save(job);
    acme_job_log(job, 3, "dns-01 challenge for %s: TXT %s %s", at->id,
                 r->name, r->value);
    if ((why = dns_cmd(job, "setup", r)) != NULL) {
        c->error = acme_error_make(job->p, APR_EGENERAL, ACME_FAIL_TRANSIENT,
            apr_psprintf(job->p, "setting up the dns-01 TXT record for %s",
                         at->id), why, "check ACMEDNSCmd and the output of "
            "the program");
        return APR_EGENERAL;
    }
    return APR_SUCCESS;
}

/* Are all records of pending visible at the resolver? Checks each once;
 * marks those seen by clearing their slot. */
static int dns_all_visible(acme_job_t *job, apr_array_header_t *pending,
                           apr_interval_time_t timeout)
{
    int i, left = 0, found;

    for (i = 0; i < pending->nelts; i++) {
        const acme_job_txt_t **r = &APR_ARRAY_IDX(pending, i,
                                                  const acme_job_txt_t *);
        if (!*r) {
            continue;
        }
        if (acme_dns_txt_has(&found, job->d->dns_resolver, (*r)->name,
                             (*r)->value, timeout, job->p) == APR_SUCCESS
            && found) {
            *r = NULL;
        }
        else {
            left++;
        }
    }
    return !left;
}

/* ACMEDNSWait: a plain wait, or with a resolver, until every record is
 * visible there (checked every half second) for at most that long. */
static void settle_dns01(acme_job_t *job, apr_array_header_t *attempts)
{
    apr_array_header_t *pending = apr_array_make(job->p, 4,
                                                 sizeof(acme_job_txt_t *));
    apr_array_header_t *ats = apr_array_make(job->p, 4, sizeof(attempt_t *));
    apr_time_t until = apr_time_now() + job->d->dns_wait;
    int i;

    for (i = 0; i < attempts->nelts; i++) {
        attempt_t *at = &APR_ARRAY_IDX(attempts, i, attempt_t);
        if (at->type->settle == settle_dns01 && !at->settled) {
            at->settled = 1;
            APR_ARRAY_PUSH(ats, attempt_t *) = at;
            APR_ARRAY_PUSH(pending, const acme_job_txt_t *) = &at->txt;
        }
    }
    if (!ats->nelts) {
        return;
    }
    if (!job->d->dns_resolver) {
        acme_job_log(job, 2, "waiting %s for the TXT records to propagate "
                     "(ACMEDNSWait)", acme_duration_str(job->p,
                                                        job->d->dns_wait));
        acme_client_pause(job->client, job->d->dns_wait);
        return;
    }
    while (!dns_all_visible(job, pending, apr_time_from_sec(1))
           && apr_time_now() < until
           && !acme_client_pause(job->client, apr_time_from_msec(500))) {
    }
    for (i = 0; i < ats->nelts; i++) {
        const acme_job_txt_t *r = APR_ARRAY_IDX(pending, i,
                                                const acme_job_txt_t *);
        attempt_t *at = APR_ARRAY_IDX(ats, i, attempt_t *);
        if (r) {
            at->err = acme_error_make(job->p, APR_TIMEUP, ACME_FAIL_TRANSIENT,
                apr_psprintf(job->p, "waiting for the dns-01 TXT record "
                             "for %s", at->id),
                apr_psprintf(job->p, "TXT %s \"%s\" is not visible at %s "
                             "after %s", r->name, r->value,
                             job->d->dns_resolver,
                             acme_duration_str(job->p, job->d->dns_wait)),
                "check that ACMEDNSCmd publishes the record and that "
                "ACMEDNSWait's resolver serves the zone");
        }
    }
}

/* --- the authorization step ------------------------------------------- */

/* Waits for the settle() of every type, falling back for the answers
 * that cannot work; a fallback may need settling itself, so rounds. */
static apr_status_t settle_all(acme_job_t *job, apr_array_header_t *attempts)
{
    apr_size_t round, t;
    apr_status_t rv;
    int i, again;

    for (round = 0; round <= CHTYPE_COUNT; round++) {
        for (t = 0; t < CHTYPE_COUNT; t++) {
            if (chtypes[t].settle) {
                chtypes[t].settle(job, attempts);
            }
        }
        for (i = again = 0; i < attempts->nelts; i++) {
            attempt_t *at = &APR_ARRAY_IDX(attempts, i, attempt_t);
            if (!at->err) {
                continue;
            }
            job->client->error = at->err;
            acme_job_log(job, 1, "%s for %s: %s%s", at->type->name, at->id,
                         acme_error_line(job->p, at->err),
                         at->next < prefs(job)->nelts ? "; trying the next "
                         "type of ACMEChallenges" : "");
            at->err = NULL;
            if ((rv = choose(job, at)) != APR_SUCCESS) {
                return rv;
            }
            again = 1;
        }
        if (!again) {
            break;
        }
    }
    return APR_SUCCESS;
}

/* A validation that failed: the authorization is "invalid" at the CA,
 * so this type is not chosen again for the name in this run. */
static void note_failure(acme_job_t *job, const attempt_t *at)
{
    acme_error_t *keep = job->client->error;
    acme_authz_t *now;

    if (acme_authz_get(&now, job->client, job->p, at->url) == APR_SUCCESS
        && !strcmp(now->status, "invalid")) {
        const char *f = apr_table_get(job->failed, at->id);
        apr_table_set(job->failed, at->id, apr_pstrcat(job->p, f ? f : " ",
                      at->type->name, " ", NULL));
    }
    job->client->error = keep;
}

apr_status_t acme_job_authorize(acme_job_t *job, const acme_order_t *o)
{
    apr_array_header_t *attempts = apr_array_make(job->p, 4,
                                                  sizeof(attempt_t));
    apr_status_t rv, first = APR_SUCCESS;
    acme_error_t *first_err = NULL;
    acme_authz_t *a;
    int i;

    for (i = 0; i < o->authz_urls->nelts; i++) {
        const char *url = APR_ARRAY_IDX(o->authz_urls, i, const char *);
        attempt_t *at;
        if ((rv = acme_authz_get(&a, job->client, job->p, url))
            != APR_SUCCESS) {
            return rv;
        }
        if (!strcmp(a->status, "valid")) {
            continue;    /* the CA still remembers an earlier validation */
        }
        at = apr_array_push(attempts);
        memset(at, 0, sizeof(*at));
        at->url = url;
        at->a = a;
        at->id = a->wildcard ? apr_pstrcat(job->p, "*.", a->identifier, NULL)
                             : a->identifier;
        if ((rv = choose(job, at)) != APR_SUCCESS) {
            return rv;
        }
    }
    if ((rv = settle_all(job, attempts)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < attempts->nelts; i++) {
        const attempt_t *at = &APR_ARRAY_IDX(attempts, i, attempt_t);
        if (at->ch->status && strcmp(at->ch->status, "pending")) {
            continue;    /* the CA is at it already, or has decided */
        }
        if ((rv = acme_challenge_respond(job->client, job->p, at->ch))
            != APR_SUCCESS) {
            return rv;
        }
    }
    /* Every authorization is waited for, so that each failed type is
     * known before the next order. */
    for (i = 0; i < attempts->nelts; i++) {
        const attempt_t *at = &APR_ARRAY_IDX(attempts, i, attempt_t);
        rv = acme_authz_wait(&a, job->client, job->p, at->url);
        if (rv == APR_SUCCESS) {
            acme_job_log(job, 2, "%s validated by %s", at->id,
                         at->type->name);
            continue;
        }
        if (at->record && job->client->error) {
            /* What the administrator must do, in the log and the status. */
            job->client->error->hint = apr_pstrcat(job->p, "publish this "
                "DNS record once (dns-persist-01): ", at->record, NULL);
        }
        if (first == APR_SUCCESS) {
            first = rv;
            first_err = job->client->error;
        }
        if (rv == APR_EINTR) {
            break;
        }
        note_failure(job, at);
    }
    job->client->error = first_err ? first_err : job->client->error;
    return first;
}

int acme_job_can_fall_back(acme_job_t *job)
{
    const apr_array_header_t *pr = prefs(job);
    const apr_array_header_t *f = apr_table_elts(job->failed);
    int i, k, left;

    for (i = 0; i < f->nelts; i++) {
        const char *id = APR_ARRAY_IDX(f, i, apr_table_entry_t).key;
        for (k = left = 0; k < pr->nelts && !left; k++) {
            const chtype_t *t = chtype_find(APR_ARRAY_IDX(pr, k,
                                                          const char *));
            left = t && (id[0] != '*' || t->wildcard_ok)
                && !failed_before(job, id, t->name);
        }
        if (!left) {
            return 0;
        }
    }
    return f->nelts > 0;
}

void acme_job_unprovision(acme_job_t *job)
{
    apr_array_header_t *kept;
    const char *why;
    int i;

    /* Interrupted (a restart or stop), the order resumes in the next
     * child, and the CA may still be validating: its http-01 answers stay
     * (the next job's start removes those an hour old). */
    for (i = 0; !acme_client_aborted(job->client) && i < job->tokens->nelts;
         i++) {
        apr_file_remove(APR_ARRAY_IDX(job->tokens, i, const char *), job->p);
    }
    apr_array_clear(job->tokens);
    if (!job->dns) {
        dns_load(job);
    }
    if (!job->dns->nelts) {
        return;
    }
    kept = apr_array_make(job->p, 2, sizeof(acme_job_txt_t));
    for (i = 0; i < job->dns->nelts; i++) {
        const acme_job_txt_t *r = &APR_ARRAY_IDX(job->dns, i, acme_job_txt_t);
        if (!job->d->dns_cmd) {
            why = "no ACMEDNSCmd is set any more";
        }
        else if (!(why = dns_cmd(job, "teardown", r))) {
            acme_job_log(job, 3, "TXT %s %s torn down", r->name, r->value);
            continue;
        }
        /* Kept for the next run: a record left behind is harmless to
         * the server but litters the zone. */
        acme_job_log(job, 1, "tearing down the dns-01 TXT record %s: %s; "
                     "the next run tries again", r->name, why);
        APR_ARRAY_PUSH(kept, acme_job_txt_t) = *r;
    }
    job->dns = kept;
    dns_save(job);
}
