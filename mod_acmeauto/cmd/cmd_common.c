#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <apr_strings.h>
#include <openssl/crypto.h>

#include "acmeauto.h"
#include "acme_json.h"
#include "acme_safe.h"
#include "acme_util.h"

#ifndef ACMEAUTO_HTTPD_CONF
#define ACMEAUTO_HTTPD_CONF "/etc/apache2/apache2.conf"
#endif
#ifndef ACMEAUTO_SERVER_ROOT
#define ACMEAUTO_SERVER_ROOT "/etc/apache2"
#endif
#define CONF_LINE_MAX 8192
#define INCLUDE_DEPTH_MAX 16
#define EAB_FILE_MAX 4096

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

int ax_interrupted(void)
{
    return interrupted != 0;
}

static void vsay(const char *fmt, va_list ap)
{
    fputs("acmeauto: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void ax_error(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

void ax_info(const ax_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;

    if (ctx->quiet) {
        return;
    }
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

/* --- finding the store in httpd.conf --------------------------------- */

typedef struct {
    apr_pool_t *p;
    const char *server_root;
    const char *store_dir;       /* the last ACMEStoreDir seen */
} conf_scan_t;

/* The next word of a directive line (quotes removed); NULL at the end. */
static const char *next_word(apr_pool_t *p, const char **line)
{
    const char *s = *line, *start;
    char quote = 0;

    while (*s == ' ' || *s == '\t') {
        s++;
    }
    if (!*s || *s == '\n' || *s == '\r') {
        return NULL;
    }
    if (*s == '"' || *s == '\'') {
        quote = *s++;
    }
    start = s;
    while (*s && (quote ? *s != quote
                        : (*s != ' ' && *s != '\t' && *s != '\n'
                           && *s != '\r'))) {
        s++;
    }
    *line = *s ? s + 1 : s;
    return apr_pstrndup(p, start, s - start);
}

static const char *root_relative(conf_scan_t *sc, const char *path)
{
    return path[0] == '/' ? path
                          : apr_pstrcat(sc->p, sc->server_root, "/", path,
                                        NULL);
}

static void scan_file(conf_scan_t *sc, const char *path, int depth);

static void scan_include(conf_scan_t *sc, const char *pattern, int depth)
{
    glob_t g;
    size_t i;

    if (glob(root_relative(sc, pattern), 0, NULL, &g) != 0) {
        return;
    }
    for (i = 0; i < g.gl_pathc; i++) {
        scan_file(sc, g.gl_pathv[i], depth + 1);
    }
    globfree(&g);
}

/* Only what decides the store: ServerRoot, ACMEStoreDir and the files
 * they may be in. Conditional sections are read as if they held. */
static void scan_file(conf_scan_t *sc, const char *path, int depth)
{
    char line[CONF_LINE_MAX];
    FILE *f;

    if (depth > INCLUDE_DEPTH_MAX || !(f = fopen(path, "r"))) {
        return;
    }
    while (fgets(line, sizeof(line), f)) {
        const char *rest = line, *word = next_word(sc->p, &rest), *arg;

        if (!word || word[0] == '#' || !(arg = next_word(sc->p, &rest))) {
            continue;
        }
        if (!strcasecmp(word, "ServerRoot")) {
            sc->server_root = arg;
        }
        else if (!strcasecmp(word, "ACMEStoreDir")) {
            sc->store_dir = root_relative(sc, arg);
        }
        else if (!strcasecmp(word, "Include")
                 || !strcasecmp(word, "IncludeOptional")) {
            scan_include(sc, arg, depth);
        }
    }
    fclose(f);
}

static const char *store_from_httpd_conf(apr_pool_t *p, const char *path)
{
    conf_scan_t sc = { p, ACMEAUTO_SERVER_ROOT, NULL };

    scan_file(&sc, path, 0);
    return sc.store_dir ? sc.store_dir
                        : apr_pstrcat(p, sc.server_root, "/acmeauto", NULL);
}

/* --- config.json ----------------------------------------------------- */

static apr_status_t read_conf_as_root(char **data, apr_size_t *len,
                                      const char **why, ax_ctx_t *ctx)
{
    int base = -1, handoff = -1;
    acme_safe_e refusal = ACME_SAFE_OK;
    apr_status_t rv;

    rv = acme_safe_opendir(&base, &refusal, AT_FDCWD, ctx->store_dir, 0, 0);
    if (rv == APR_SUCCESS) {
        rv = acme_safe_opendir(&handoff, &refusal, base,
                               acme_store_area_name(ACME_AREA_HANDOFF), 0, 1);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_safe_read(data, len, &refusal, handoff, ACME_FN_CONF, 0,
                            ACME_STORE_FILE_MAX, ctx->pool);
    }
    if (base >= 0) {
        close(base);
    }
    if (handoff >= 0) {
        close(handoff);
    }
    *why = refusal != ACME_SAFE_OK ? acme_safe_reason(refusal) : NULL;
    return rv;
}

int ax_load_conf(ax_ctx_t *ctx)
{
    const char *path, *why = NULL;
    char *data = NULL, errbuf[256];
    apr_size_t len = 0;
    apr_status_t rv;

    if (!ctx->store_dir) {
        ctx->store_dir = store_from_httpd_conf(ctx->pool, ctx->httpd_conf
                                               ? ctx->httpd_conf
                                               : ACMEAUTO_HTTPD_CONF);
    }
    path = apr_pstrcat(ctx->pool, ctx->store_dir, "/",
                       acme_store_area_name(ACME_AREA_HANDOFF), "/",
                       ACME_FN_CONF, NULL);
    rv = geteuid() == 0 ? read_conf_as_root(&data, &len, &why, ctx)
                        : acme_store_read(&data, &len, path,
                                          ACME_STORE_FILE_MAX, ctx->pool);
    if (rv != APR_SUCCESS) {
        ax_error("cannot read %s: %s; is this the store of a running "
                 "Apache with ACMEDomain (use --store DIR), and was the "
                 "server started since the module was installed?", path,
                 why ? why : apr_strerror(rv, errbuf, sizeof(errbuf)));
        return AX_CONFIG;
    }
    if (acme_conf_parse(&ctx->conf, &why, ctx->pool, data, len)
        != APR_SUCCESS) {
        ax_error("%s is damaged (%s); a restart of Apache writes it anew",
                 path, why);
        return AX_CONFIG;
    }
    if (acme_store_open(&ctx->store, ctx->pool, ctx->store_dir)
        != APR_SUCCESS) {
        ax_error("cannot open the store %s", ctx->store_dir);
        return AX_CONFIG;
    }
    return AX_OK;
}

acme_conf_domain_t *ax_domain(ax_ctx_t *ctx, const char *name)
{
    acme_conf_domain_t *d = acme_conf_find(ctx->conf, name);
    int i;

    if (d) {
        return d;
    }
    ax_error("%s is not a managed domain; managed are:", name);
    for (i = 0; i < ctx->conf->domains->nelts; i++) {
        d = APR_ARRAY_IDX(ctx->conf->domains, i, acme_conf_domain_t *);
        fprintf(stderr, "  %s\n", acme_str_join(ctx->pool, d->names, " "));
    }
    return NULL;
}

/* --- the job's spec -------------------------------------------------- */

static apr_status_t wipe(void *data)
{
    apr_size_t *len = data;

    OPENSSL_cleanse(len + 1, *len);
    return APR_SUCCESS;
}

/* The HMAC of an ACMEEAB file: for kid; NULL (said why) if it cannot be
 * had. Wiped with the pool. */
static const unsigned char *eab_from_file(ax_ctx_t *ctx, const char *file,
                                          const char *kid, apr_size_t *len)
{
    char *data;
    apr_size_t dlen, klen;
    unsigned char *key;
    apr_size_t *box = NULL;
    json_t *j;
    const char *hmac, *file_kid;

    if (acme_store_read(&data, &dlen, file, EAB_FILE_MAX, ctx->pool)
        != APR_SUCCESS) {
        ax_error("cannot read the EAB file %s (run as root)", file);
        return NULL;
    }
    j = json_loadb(data, dlen, JSON_REJECT_DUPLICATES, NULL);
    OPENSSL_cleanse(data, dlen);
    hmac = json_string_value(json_object_get(j, "hmac"));
    file_kid = json_string_value(json_object_get(j, "kid"));
    if (hmac && file_kid && !strcmp(kid, file_kid)
        && acme_b64_decode(&key, &klen, ctx->pool, hmac) == APR_SUCCESS) {
        box = apr_palloc(ctx->pool, sizeof(*box) + klen);
        *box = klen;
        memcpy(box + 1, key, klen);
        OPENSSL_cleanse(key, klen);
        apr_pool_cleanup_register(ctx->pool, box, wipe,
                                  apr_pool_cleanup_null);
    }
    if (hmac) {
        OPENSSL_cleanse((char *)hmac, strlen(hmac));
    }
    json_decref(j);
    if (!box) {
        ax_error("the EAB file %s no longer holds the key id %s the server "
                 "started with", file, kid);
        return NULL;
    }
    *len = *box;
    return (const unsigned char *)(box + 1);
}

acme_domain_spec_t ax_spec(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                           int server_index, int read_eab)
{
    acme_domain_spec_t spec;
    const acme_conf_eab_t *eab;

    memset(&spec, 0, sizeof(spec));
    spec.name = d->key;
    spec.names = d->names;
    spec.key_types = d->key_types;
    spec.server_url = APR_ARRAY_IDX(d->servers, server_index
                                    % d->servers->nelts, const char *);
    /* Each CA its own EAB values (ACMEEAB URL ...), as the job. */
    eab = acme_conf_eab(d, spec.server_url);
    spec.eab_kid = eab->kid;
    if (read_eab && eab->kid && eab->file) {
        spec.eab_hmac = eab_from_file(ctx, eab->file, eab->kid,
                                      &spec.eab_hmac_len);
    }
    spec.contacts = d->contacts;
    spec.tos_agreed = d->tos_agreed;
    spec.tos_url = d->tos_url;
    spec.ca_file = d->ca_file;
    spec.http_proxy = d->http_proxy;
    spec.profile = d->profile;
    spec.profile_mandatory = d->profile_mandatory;
    /* The same challenges as the job: a renewal by the command must not
     * fail where the background job would succeed. */
    spec.challenges = d->challenges;
    spec.dns_cmd = d->dns_cmd;
    spec.dns_wait = d->dns_wait;
    spec.dns_resolver = d->dns_resolver;
    return spec;
}

/* --- privileges and the lock ----------------------------------------- */

int ax_drop_privileges(ax_ctx_t *ctx)
{
    if (ctx->dropped || geteuid() != 0 || ctx->conf->uid == 0) {
        return AX_OK;
    }
    if (setgroups(0, NULL) != 0 || setgid(ctx->conf->gid) != 0
        || setuid(ctx->conf->uid) != 0 || setuid(0) == 0) {
        ax_error("cannot become the server's User %s (uid %ld): %s",
                 ctx->conf->user ? ctx->conf->user : "?",
                 (long)ctx->conf->uid, strerror(errno));
        return AX_FAILED;
    }
    ctx->dropped = 1;
    return AX_OK;
}

int ax_as_user(ax_ctx_t *ctx, int (*fn)(ax_ctx_t *ctx, void *baton),
               void *baton)
{
    pid_t pid;
    int status, rc;

    if (geteuid() != 0 || ctx->dropped) {
        return fn(ctx, baton);
    }
    fflush(stdout);
    fflush(stderr);
    if ((pid = fork()) < 0) {
        ax_error("cannot fork: %s", strerror(errno));
        return AX_FAILED;
    }
    if (pid == 0) {
        rc = ax_drop_privileges(ctx);
        if (rc == AX_OK) {
            rc = fn(ctx, baton);
        }
        ax_unlock(ctx);
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            ax_error("lost the worker process: %s", strerror(errno));
            return AX_FAILED;
        }
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    ax_error("the worker process died of signal %d", WTERMSIG(status));
    return AX_FAILED;
}

int ax_lock(ax_ctx_t *ctx, apr_interval_time_t wait)
{
    const char *path = acme_store_path(ctx->pool, ctx->store,
                                       ACME_AREA_STATE, ACME_FN_JOB_LOCK,
                                       NULL);
    apr_time_t until = apr_time_now() + wait, said = 0;

    if (apr_file_open(&ctx->lock, path, APR_FOPEN_WRITE | APR_FOPEN_CREATE,
                      APR_FPROT_UREAD | APR_FPROT_UWRITE, ctx->pool)
        != APR_SUCCESS) {
        ax_error("cannot open %s", path);
        ctx->lock = NULL;
        return AX_CONFIG;
    }
    while (apr_file_lock(ctx->lock, APR_FLOCK_EXCLUSIVE
                         | APR_FLOCK_NONBLOCK) != APR_SUCCESS) {
        apr_time_t now = apr_time_now();

        if (now >= until || ax_interrupted()) {
            ax_error("the background job is still working (it holds %s); "
                     "try again later, or wait longer with --wait", path);
            apr_file_close(ctx->lock);
            ctx->lock = NULL;
            return AX_BUSY;
        }
        if (now - said >= apr_time_from_sec(10)) {
            ax_info(ctx, "waiting for the background job to finish what it "
                    "is doing...");
            said = now;
        }
        apr_sleep(apr_time_from_msec(200));
    }
    return AX_OK;
}

void ax_unlock(ax_ctx_t *ctx)
{
    if (ctx->lock) {
        apr_file_unlock(ctx->lock);
        apr_file_close(ctx->lock);
        ctx->lock = NULL;
    }
}

/* --- the job's environment ------------------------------------------- */

static int should_abort(void *baton)
{
    (void)baton;
    return ax_interrupted();
}

static void job_log(void *baton, int level, const char *msg)
{
    const ax_ctx_t *ctx = baton;

    if (level == 0 || (level == 1 && !ctx->quiet)
        || (level == 2 && !ctx->quiet) || (level == 3 && ctx->verbose)) {
        fprintf(stderr, "acmeauto: %s\n", msg);
    }
}

acme_job_env_t ax_job_env(ax_ctx_t *ctx)
{
    acme_job_env_t env;
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    memset(&env, 0, sizeof(env));
    env.should_abort = should_abort;
    env.log = job_log;
    env.baton = ctx;
    return env;
}

const char *ax_time_str(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;
    apr_size_t n = 0;
    char buf[32];

    apr_time_exp_gmt(&e, t);
    apr_strftime(buf, &n, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &e);
    return apr_pstrndup(p, buf, n);
}
