/* acmeauto check [NAME] [--http-port N] [--connect-to ADDR]: everything
 * short of issuing, for CAs without a staging endpoint. Per domain: the
 * configuration the running server resolved, each CA's directory and
 * terms, the account at the CA, the job's last configuration error, and
 * a self-test of the http-01 path as the CA would fetch it.
 *
 * One line per finding on stdout: "NAME: what is wrong -- what to
 * change", or "NAME: ok: what was checked" (not with -q). Root reads
 * config.json and an ACMEEAB file:; everything else runs as the server's
 * User (ax_as_user), in the same store areas as the background job. */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>
#include <openssl/rand.h>

#include "acmeauto.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_probe.h"
#include "acme_state.h"
#include "acme_util.h"

/* How long a registration waits for the background job's step. */
#define CHECK_LOCK_WAIT apr_time_from_sec(60)
#define TOKEN_BYTES 32
#define PREVIEW_MAX 60
#define HELP_SHOWN (-1)

typedef struct {
    int http_port;              /* where the CA connects: 80 */
    const char *to_host;        /* --connect-to, or NULL */
    const char *to_port;        /* its port, or NULL: http_port */
} check_opts_t;

typedef struct {
    ax_ctx_t *ctx;
    const check_opts_t *o;
    const acme_conf_domain_t *d;
    acme_domain_spec_t spec;    /* first ACMEServer; EAB key read as root */
    apr_pool_t *p;
    int problems;
} check_t;

/* --- findings -------------------------------------------------------- */

static void ok(const check_t *ck, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void skipped(const check_t *ck, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void ok(const check_t *ck, const char *fmt, ...)
{
    va_list ap;

    if (ck->ctx->quiet) {
        return;
    }
    printf("%s: ok: ", ck->d->name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* Not a problem, but not checked either: says why. */
static void skipped(const check_t *ck, const char *fmt, ...)
{
    va_list ap;

    if (ck->ctx->quiet) {
        return;
    }
    printf("%s: skipped: ", ck->d->name);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

static void problem(check_t *ck, const char *what, const char *change)
{
    printf("%s: %s -- %s\n", ck->d->name, what, change);
    ck->problems++;
}

/* A core error as a finding; fallback when it carries no hint. */
static void problem_err(check_t *ck, const acme_error_t *e,
                        const char *fallback)
{
    problem(ck, apr_psprintf(ck->p, "%s: %s%s%s", e->activity ? e->activity
                             : "asking the CA", e->type ? e->type : "",
                             e->type ? ": " : "",
                             e->detail ? e->detail : "failed"),
            e->hint ? e->hint : fallback);
}

static const char *when(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;
    apr_size_t len;
    char buf[32];

    if (t <= 0 || apr_time_exp_lt(&tm, t) != APR_SUCCESS
        || apr_strftime(buf, &len, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm)
           != APR_SUCCESS) {
        return "?";
    }
    return apr_pstrdup(p, buf);
}

/* --- 1. the configuration (as root) ---------------------------------- */

static int server_runs(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

static void check_config(check_t *ck)
{
    const acme_conf_t *c = ck->ctx->conf;
    const acme_conf_domain_t *d = ck->d;
    apr_array_header_t *types = apr_array_make(ck->p, 4, sizeof(char *));
    int i;

    if (!server_runs(c->pid)) {
        problem(ck, apr_psprintf(ck->p, "handoff/config.json was written by "
                                 "Apache pid %ld at %s, which no longer "
                                 "runs", c->pid, when(ck->p, c->written)),
                "start Apache: the check tests what the running server "
                "resolved, and only a running server answers http-01");
    }
    else {
        ok(ck, "configuration: Apache pid %ld runs it since %s; ACMEDomain "
           "at %s", c->pid, when(ck->p, c->written), d->defined_at);
    }
    for (i = 0; i < d->key_types->nelts; i++) {
        APR_ARRAY_PUSH(types, const char *) = acme_key_type_name(
            APR_ARRAY_IDX(d->key_types, i, acme_key_type_e));
    }
    ok(ck, "names %s; key types %s; CA %s", acme_str_join(ck->p, d->names,
       " "), acme_str_join(ck->p, types, " "),
       acme_str_join(ck->p, d->servers, ", then "));
    for (i = 0; i < d->names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(d->names, i, const char *);

        if (n[0] == '*'
            && !(acme_str_in(d->challenges, "dns-01") && d->dns_cmd)) {
            problem(ck, apr_psprintf(ck->p, "%s is a wildcard name, which "
                                     "CAs validate with dns-01 only", n),
                    "list dns-01 in ACMEChallenges and set ACMEDNSCmd, or "
                    "list the names themselves in ACMEDomain");
        }
    }
    if (d->eab_kid && d->eab_file && !ck->spec.eab_hmac) {
        problem(ck, apr_psprintf(ck->p, "the EAB file %s cannot be used "
                                 "(said above)", d->eab_file),
                apr_psprintf(ck->p, "fix ACMEEAB file:%s: a JSON file "
                             "{\"kid\": \"%s\", \"hmac\": ...} that root "
                             "can read", d->eab_file, d->eab_kid));
    }
}

/* --- 2. the CA and 3. the account (as the User) ---------------------- */

/* The CA's terms and EAB demands against the configuration; non-zero
 * when they stop a registration (already said). */
static int check_terms(check_t *ck, const acme_directory_t *dir)
{
    const acme_conf_domain_t *d = ck->d;
    const char *tos = dir->terms_of_service;
    int blocked = 0;

    if (dir->eab_required && !d->eab_kid) {
        problem(ck, "the CA requires External Account Binding and no "
                "ACMEEAB is configured", "set 'ACMEEAB file:PATH' (a JSON "
                "file with the CA's \"kid\" and \"hmac\") or 'ACMEEAB KID "
                "HMAC' with the values from the CA's account page");
        blocked = 1;
    }
    else if (dir->eab_required) {
        ok(ck, "the CA requires External Account Binding; ACMEEAB %s is "
           "set", d->eab_kid);
    }
    if (!tos) {
        ok(ck, "the CA has no terms of service to accept");
    }
    else if (!d->tos_agreed) {
        problem(ck, apr_psprintf(ck->p, "the CA's terms %s are not "
                                 "accepted", tos),
                apr_psprintf(ck->p, "ACMEAgreeTOS on (or ACMEAgreeTOS %s)",
                             tos));
        blocked = 1;
    }
    else if (d->tos_url && strcmp(d->tos_url, tos)) {
        problem(ck, apr_psprintf(ck->p, "the CA's terms are now %s, but "
                                 "ACMEAgreeTOS accepts %s", tos, d->tos_url),
                apr_psprintf(ck->p, "read the new terms and set "
                             "'ACMEAgreeTOS %s' (or 'ACMEAgreeTOS on')",
                             tos));
        blocked = 1;
    }
    else {
        ok(ck, "the CA's terms %s are accepted", tos);
    }
    return blocked;
}

/* The CA refused the account, or its registration. */
static void account_refused(check_t *ck, const acme_error_t *e,
                            const char *id)
{
    if (e->type && (!strcmp(e->type, "accountDoesNotExist")
                    || !strcmp(e->type, "unauthorized"))
        && !e->hint) {
        problem_err(ck, e, apr_psprintf(ck->p, "the CA no longer accepts "
                    "the stored account: move accounts/%s/ aside; the "
                    "background job then registers a new one (a CA with "
                    "EAB may want new ACMEEAB values)", id));
        return;
    }
    problem_err(ck, e, "check ACMEServer and the account's settings "
                "(ACMEEAB, ACMEContact)");
}

/* The stored account and its status; none yet: registers it as the job
 * would (at the first CA only), which is how a wrong EAB shows. */
static void check_account(check_t *ck, const acme_job_env_t *env,
                          const acme_domain_spec_t *spec, int first,
                          int blocked)
{
    ax_ctx_t *ctx = ck->ctx;
    const char *url = spec->server_url, *status;
    const char *dir = acme_job_account_dir(ck->p, ctx->store, url,
                                           spec->eab_kid);
    const char *id = dir ? strrchr(dir, '/') + 1
                         : acme_job_account_id(ck->p, url, spec->eab_kid);
    int had = dir != NULL;
    acme_client_t *c;
    acme_error_t *err;

    if (!had && !first) {
        skipped(ck, "no account yet at %s; the background job registers "
                "one when it fails over to it", url);
        return;
    }
    if (!had && blocked) {
        skipped(ck, "no account yet at %s; it can be registered once the "
                "problems above are fixed", url);
        return;
    }
    if (!had && spec->eab_kid && !spec->eab_hmac) {
        if (ck->d->eab_inline) {
            skipped(ck, "the EAB check: no account yet at %s, and the EAB "
                    "HMAC is written in httpd.conf itself, which only "
                    "Apache reads; with 'ACMEEAB %s file:PATH' this check "
                    "registers the account and so tests the EAB", url,
                    spec->eab_kid);
        }
        return;    /* an unusable EAB file: said above */
    }
    if (!had) {
        /* Registering writes accounts/: not while the job does. */
        if (ax_lock(ctx, CHECK_LOCK_WAIT) != AX_OK) {
            problem(ck, apr_psprintf(ck->p, "the account at %s was not "
                                     "checked: the background job kept "
                                     "state/job.lock", url),
                    "run the check again");
            return;
        }
        had = acme_job_account_dir(ck->p, ctx->store, url, spec->eab_kid)
              != NULL;
    }
    if (acme_job_account(&c, &err, ck->p, spec, ctx->store, env)
        != APR_SUCCESS) {
        ax_unlock(ctx);
        account_refused(ck, err, id);
        return;
    }
    ax_unlock(ctx);
    if (acme_probe_account_status(&status, c, ck->p) != APR_SUCCESS) {
        account_refused(ck, c->error, id);
    }
    else if (!strcmp(status, "valid")) {
        ok(ck, "account %s at %s is valid%s", c->account_url, url,
           had ? "" : " (registered now, as the background job would have)");
    }
    else {
        problem(ck, apr_psprintf(ck->p, "the account %s at %s is %s: the "
                                 "CA takes no orders from it",
                                 c->account_url, url, status),
                apr_psprintf(ck->p, "%smove accounts/%s/ aside; the "
                             "background job then registers a new account "
                             "(a CA with EAB may want new ACMEEAB values)",
                             !strcmp(status, "revoked")
                             ? "ask the CA why it revoked it, then " : "",
                             id));
    }
}

static void check_ca(check_t *ck, const acme_job_env_t *env, int index)
{
    /* The first CA's EAB key was read as root; the others' key ids. */
    acme_domain_spec_t spec = index ? ax_spec(ck->ctx, ck->d, index, 0)
                                    : ck->spec;
    acme_http_t *http;
    acme_client_t *c;

    if (acme_http_curl_create(&http, ck->p, spec.ca_file,
                              "mod_acmeauto/0.1 (check)") != APR_SUCCESS
        || acme_client_create(&c, ck->p, http, spec.server_url)
           != APR_SUCCESS) {
        problem(ck, "cannot start libcurl", "check the installation");
        return;
    }
    acme_http_curl_set_proxy(http, spec.http_proxy);
    if (acme_directory_fetch(c) != APR_SUCCESS) {
        problem_err(ck, c->error, "check ACMEServer, the network, and "
                    "ACMECACertificate if the CA uses a private root");
        return;
    }
    ok(ck, "the CA's directory %s is reachable and valid", spec.server_url);
    check_account(ck, env, &spec, index == 0, check_terms(ck, &c->dir));
}

/* The job's last error, when it waits for a configuration change. */
static void check_last_error(check_t *ck)
{
    const char *path = acme_store_path(ck->p, ck->ctx->store,
                                       ACME_AREA_STATE,
                                       acme_store_domain_file(ck->p,
                                                              ck->d->key),
                                       NULL);
    acme_state_t st;
    json_t *j, *e;
    char *data;
    apr_size_t len;

    memset(&st, 0, sizeof(st));
    if (acme_store_read(&data, &len, path, ACME_STATE_FILE_MAX, ck->p)
        == APR_SUCCESS) {
        /* The state is kept only for its own configuration fingerprint,
         * which the glue computes; the file's own is taken as it is. A
         * damaged file is the job's to set aside. */
        j = acme_json_parse(ck->p, data, len);
        if (acme_state_parse(&st, ck->p, data, len,
                             acme_json_str(j, "config"), NULL,
                             apr_time_now()) != APR_SUCCESS) {
            st.last_error = NULL;
        }
    }
    e = st.last_error;
    if (!e || strcmp(acme_json_str(e, "kind") ? acme_json_str(e, "kind")
                     : "", "configuration")) {
        ok(ck, "no configuration error recorded by the background job");
        return;
    }
    problem(ck, apr_psprintf(ck->p, "the background job's last attempt "
                             "(%s) failed: %s: %s%s%s", when(ck->p,
                             apr_time_from_sec(json_integer_value(
                                 json_object_get(e, "at")))),
                             acme_json_str(e, "activity")
                             ? acme_json_str(e, "activity") : "?",
                             acme_json_str(e, "type")
                             ? acme_json_str(e, "type") : "",
                             acme_json_str(e, "type") ? ": " : "",
                             acme_json_str(e, "detail")
                             ? acme_json_str(e, "detail") : "?"),
            acme_json_str(e, "hint") ? acme_json_str(e, "hint")
            : "see the error log; it waits for a configuration change");
}

/* --- 4. the http-01 self-test (as the User) -------------------------- */

static const char *random_b64url(apr_pool_t *p)
{
    unsigned char buf[TOKEN_BYTES];

    if (RAND_bytes(buf, sizeof(buf)) != 1) {
        return NULL;
    }
    return acme_b64url_encode(p, buf, sizeof(buf));
}

static const char *preview(apr_pool_t *p, const acme_probe_answer_t *ans)
{
    apr_size_t n = ans->body_len < PREVIEW_MAX ? ans->body_len : PREVIEW_MAX;
    char *s = apr_pstrmemdup(p, ans->body, n);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        if (!apr_isprint(s[i])) {
            s[i] = '?';
        }
    }
    return n ? apr_psprintf(p, "\"%s%s\"", s, ans->body_len > n ? "..." : "")
             : "an empty body";
}

static int body_matches(const acme_probe_answer_t *ans, const char *ka)
{
    apr_size_t len = ans->body_len;

    /* RFC 8555 §8.3: trailing whitespace is ignored. */
    while (len > 0 && apr_isspace(ans->body[len - 1])) {
        len--;
    }
    return !ans->oversize && len == strlen(ka)
           && !memcmp(ans->body, ka, len);
}

static void probe_name(check_t *ck, const char *name, const char *token,
                       const char *ka)
{
    const check_opts_t *o = ck->o;
    const char *port = o->http_port == 80 ? ""
                       : apr_psprintf(ck->p, ":%d", o->http_port);
    const char *url = apr_pstrcat(ck->p, "http://", name, port,
                                  ACME_HTTP01_PATH, token, NULL);
    const char *via = o->to_host ? apr_pstrcat(ck->p, " (connected to ",
                      o->to_host, o->to_port ? ":" : "", o->to_port
                      ? o->to_port : "", ")", NULL) : "";
    acme_probe_answer_t ans;

    if (acme_probe_http_get(&ans, ck->p, url, o->to_host, o->to_port)
        != APR_SUCCESS) {
        problem(ck, apr_psprintf(ck->p, "http-01: GET %s%s got no answer: "
                                 "%s", url, via, ans.error),
                apr_psprintf(ck->p, "the CA must reach %s on port %d over "
                             "plain HTTP: check that DNS for it points at "
                             "this server, that no firewall blocks the "
                             "port, and that Apache listens there", name,
                             o->http_port));
    }
    else if (ans.status >= 300 && ans.status < 400) {
        problem(ck, apr_psprintf(ck->p, "http-01: GET %s%s was redirected "
                                 "(HTTP %d) to %s", url, via, ans.status,
                                 ans.location ? ans.location : "?"),
                "the module answers this path before any Redirect or "
                "RewriteRule, so something in front of Apache answered (a "
                "proxy, a load balancer, another server): let "
                ACME_HTTP01_PATH " through to Apache");
    }
    else if (ans.status != 200 || !body_matches(&ans, ka)) {
        problem(ck, apr_psprintf(ck->p, "http-01: GET %s%s answered HTTP %d "
                                 "with %s instead of the test answer", url,
                                 via, ans.status, preview(ck->p, &ans)),
                apr_psprintf(ck->p, "another server answers for %s: check "
                             "that DNS for it points at this server and "
                             "what runs in front of Apache (a proxy, a load "
                             "balancer, port forwarding)", name));
    }
    else {
        ok(ck, "http-01: %s%s answers as the CA needs", url, via);
    }
}

static void check_http01(check_t *ck)
{
    const char *token = random_b64url(ck->p), *secret = random_b64url(ck->p);
    const char *ka, *path;
    int i;

    if (!token || !secret) {
        problem(ck, "http-01 not tested: no random numbers",
                "check the OpenSSL installation");
        return;
    }
    /* Shaped like a key authorization ("token.thumbprint"); the module
     * serves the file as it is. */
    ka = apr_pstrcat(ck->p, token, ".", secret, NULL);
    path = acme_store_path(ck->p, ck->ctx->store, ACME_AREA_CHALLENGES,
                           token, NULL);
    if (acme_store_write(path, ka, strlen(ka), 0644, ck->p)
        != APR_SUCCESS) {
        problem(ck, apr_psprintf(ck->p, "http-01 not tested: cannot write "
                                 "%s", path),
                "check ACMEStoreDir: the server's User must be able to "
                "write challenges/");
        return;
    }
    for (i = 0; i < ck->d->names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(ck->d->names, i, const char *);

        if (n[0] != '*') {
            probe_name(ck, n, token, ka);
        }
    }
    apr_file_remove(path, ck->p);
}

static int check_as_user(ax_ctx_t *ctx, void *baton)
{
    check_t *ck = baton;
    acme_job_env_t env = ax_job_env(ctx);
    int i;

    for (i = 0; i < ck->d->servers->nelts && !ax_interrupted(); i++) {
        check_ca(ck, &env, i);
    }
    check_last_error(ck);
    /* The path the CA takes: http-01's, where it is one of the types. */
    if (!ax_interrupted() && (!ck->d->challenges
                              || acme_str_in(ck->d->challenges, "http-01"))) {
        check_http01(ck);
    }
    else if (!ax_interrupted()) {
        skipped(ck, "http-01 self-test: ACMEChallenges (%s) does not list "
                "http-01", acme_str_join(ck->p, ck->d->challenges, " "));
    }
    fflush(stdout);
    return ck->problems ? AX_FAILED : AX_OK;
}

static int check_domain(ax_ctx_t *ctx, const check_opts_t *o,
                        const acme_conf_domain_t *d)
{
    check_t ck;
    int rc;

    memset(&ck, 0, sizeof(ck));
    ck.ctx = ctx;
    ck.o = o;
    ck.d = d;
    apr_pool_create(&ck.p, ctx->pool);
    ck.spec = ax_spec(ctx, d, 0, 1);
    check_config(&ck);
    rc = ax_as_user(ctx, check_as_user, &ck);
    rc = (rc != AX_OK || ck.problems) ? AX_FAILED : AX_OK;
    apr_pool_destroy(ck.p);
    return rc;
}

/* --- arguments ------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
        "usage: acmeauto check [NAME] [--http-port N] [--connect-to ADDR]\n\n"
        "Everything short of issuing, for each managed domain (or NAME):\n"
        "the configuration the running server resolved, each CA's\n"
        "directory and terms of service, the account at the CA (registered\n"
        "now, as the background job would, if there is none yet: that tests\n"
        "ACMEEAB), the job's last configuration error, and a self-test of\n"
        "the http-01 path: a test answer fetched from\n"
        "http://NAME/.well-known/acme-challenge/ as the CA would.\n\n"
        "  --http-port N      the port the CA connects to (default 80)\n"
        "  --connect-to ADDR  connect to ADDR (HOST, HOST:PORT, [IPv6]:PORT)\n"
        "                     instead of what NAME resolves to; the request\n"
        "                     still names NAME\n\n"
        "One line per finding: 'NAME: what is wrong -- what to change', or\n"
        "'NAME: ok: what was checked' (not with -q).\n"
        "Exit 0: no problem; 1: a problem found; 3: no usable store or\n"
        "configuration, or an unknown NAME.\n");
}

static int parse_port(int *port, const char *s)
{
    apr_int64_t n;

    if (acme_parse_int64(&n, s, 1, 65535) != APR_SUCCESS) {
        return 0;
    }
    *port = (int)n;
    return 1;
}

static int parse_port_str(const char **out, apr_pool_t *p, const char *s)
{
    int port;

    if (!parse_port(&port, s)) {
        return 0;
    }
    *out = apr_psprintf(p, "%d", port);
    return 1;
}

/* HOST, HOST:PORT, [V6], [V6]:PORT or a bare IPv6 address. */
static int parse_connect_to(check_opts_t *o, apr_pool_t *p, const char *s)
{
    const char *colon = strrchr(s, ':'), *end;

    o->to_port = NULL;
    if (s[0] == '[') {
        if (!(end = strchr(s, ']')) || end == s + 1
            || (end[1] && (end[1] != ':'
                           || !parse_port_str(&o->to_port, p, end + 2)))) {
            return 0;
        }
        o->to_host = apr_pstrmemdup(p, s, end + 1 - s);
        return 1;
    }
    if (colon && colon == strchr(s, ':')) {
        if (colon == s || !parse_port_str(&o->to_port, p, colon + 1)) {
            return 0;
        }
        o->to_host = apr_pstrmemdup(p, s, colon - s);
        return 1;
    }
    o->to_host = s;
    return *s != '\0';
}

static int parse_args(check_opts_t *o, const char **name, apr_pool_t *p,
                      int argc, const char *const *argv)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return HELP_SHOWN;
        }
        if (!strcmp(a, "--http-port") && i + 1 < argc) {
            if (!parse_port(&o->http_port, argv[++i])) {
                ax_error("check: --http-port wants a port number, not %s",
                         argv[i]);
                return AX_USAGE;
            }
        }
        else if (!strcmp(a, "--connect-to") && i + 1 < argc) {
            if (!parse_connect_to(o, p, argv[++i])) {
                ax_error("check: --connect-to wants HOST, HOST:PORT or "
                         "[IPv6]:PORT, not %s", argv[i]);
                return AX_USAGE;
            }
        }
        else if (a[0] == '-') {
            ax_error("check: unknown option %s", a);
            usage(stderr);
            return AX_USAGE;
        }
        else if (*name) {
            ax_error("check: one NAME at most (%s, then %s)", *name, a);
            return AX_USAGE;
        }
        else {
            *name = a;
        }
    }
    return AX_OK;
}

int ax_cmd_check(ax_ctx_t *ctx, int argc, const char *const *argv)
{
    check_opts_t o = { 80, NULL, NULL };
    const char *name = NULL;
    acme_conf_domain_t *d;
    int rc, i, failed = 0;

    rc = parse_args(&o, &name, ctx->pool, argc, argv);
    if (rc != AX_OK) {
        return rc == HELP_SHOWN ? AX_OK : rc;
    }
    if ((rc = ax_load_conf(ctx)) != AX_OK) {
        return rc;
    }
    if (name) {
        if (!(d = ax_domain(ctx, name))) {
            return AX_CONFIG;
        }
        return check_domain(ctx, &o, d);
    }
    if (!ctx->conf->domains->nelts) {
        ax_error("the running server manages no domain (no ACMEDomain)");
        return AX_CONFIG;
    }
    for (i = 0; i < ctx->conf->domains->nelts && !ax_interrupted(); i++) {
        d = APR_ARRAY_IDX(ctx->conf->domains, i, acme_conf_domain_t *);
        if (check_domain(ctx, &o, d) != AX_OK) {
            failed = 1;
        }
    }
    return failed ? AX_FAILED : AX_OK;
}
