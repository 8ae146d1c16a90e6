/* acmeauto revoke: revokes a managed domain's live certificates, or any
 * certificate file, at the CA (RFC 8555 §7.6).
 *
 * Root reads what it must (live/, the certificate files given), hands the
 * bytes to a child that does the ACME request as the server's User (the
 * account key is the User's), and afterwards, as root again, moves a
 * revoked live certificate out of live/ into rejected/, so that no
 * restart puts it back into service, and asks for a replacement. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include <apr_strings.h>
#include <openssl/x509.h>

#include "acmeauto.h"
#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_json.h"
#include "acme_notify.h"
#include "acme_revoke.h"
#include "acme_safe.h"
#include "acme_state.h"
#include "acme_util.h"

/* How long the replacement may take to go live. */
#define REPLACEMENT_WAIT apr_time_from_sec(300)
/* Revoked live sets kept in rejected/ per domain, newest first. */
#define REVOKED_KEEP 5
/* The child's answer when the CA had revoked the certificate already:
 * for a live one, the setting aside is still to be done. */
#define RC_ALREADY 64

static void usage(FILE *out, apr_pool_t *p)
{
    fprintf(out,
        "usage: acmeauto revoke NAME [--key-type TYPE] [--reason REASON]\n"
        "       acmeauto revoke --cert PATH [--key PATH] [--ca URL] "
        "[--reason REASON]\n\n"
        "Revokes at the CA, without asking for confirmation:\n"
        "  NAME          the live certificates of this managed domain (each\n"
        "                key type, or only --key-type TYPE), signed with the\n"
        "                account of the CA that issued them. They are then\n"
        "                moved from live/ to rejected/ and a replacement is\n"
        "                ordered at once; until it is live the server\n"
        "                keeps serving what it loaded.\n"
        "  --cert PATH   any certificate (PEM), signed with the account at\n"
        "                --ca (default: the CA of the managed domain whose\n"
        "                names it covers, else the first configured one)\n"
        "  --key PATH    sign with the certificate's own private key\n"
        "                instead: no account needed (RFC 8555 section 7.6)\n"
        "  --reason R    one of %s\n"
        "                (RFC 5280); without it the CA records none\n\n"
        "ACMENotifyCmd is run with the event 'revoked'.\n"
        "exit codes: 0 revoked (and the replacement live); 1 the CA said\n"
        "no (already revoked, a reason it refuses...); 2 bad arguments;\n"
        "3 unknown NAME or no usable store; 5 revoked, the replacement not\n"
        "live yet.\n", acme_revoke_reason_list(p));
}

typedef struct {
    const char *name;               /* NAME, or NULL with --cert */
    const char *cert_path, *key_path, *ca;
    acme_key_type_e key_type;       /* NONE: all */
    int reason;
} revoke_args_t;

/* One certificate to revoke, as root read it. */
typedef struct {
    acme_key_type_e type;           /* its live/ slot; NONE: not live */
    char *pem;
    apr_size_t pem_len;
    char *key_pem;                  /* --key, or NULL */
    apr_size_t key_len;
    unsigned char *der;             /* the leaf */
    apr_size_t der_len;
    acme_cert_info_t *info;
} target_t;

/* What the User-side child is given. */
typedef struct {
    const target_t *t;
    const char *server, *ca_file, *http_proxy, *name;
    const char *eab_kid;            /* with server: whose account signs */
    int reason;
    const acme_conf_domain_t *d;    /* for the notification; or NULL */
} revoke_job_t;

static int parse_args(revoke_args_t *a, apr_pool_t *p, int argc,
                      const char *const *argv)
{
    const char *reason = NULL, *type = NULL;
    int i;

    memset(a, 0, sizeof(*a));
    for (i = 1; i < argc; i++) {
        const char *o = argv[i];
        const char **val = !strcmp(o, "--cert") ? &a->cert_path
                         : !strcmp(o, "--key") ? &a->key_path
                         : !strcmp(o, "--ca") ? &a->ca
                         : !strcmp(o, "--reason") ? &reason
                         : !strcmp(o, "--key-type") ? &type : NULL;

        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            usage(stdout, p);
            return -1;
        }
        if (val && i + 1 < argc) {
            *val = argv[++i];
        }
        else if (o[0] == '-' || val || a->name) {
            ax_error(val ? "%s needs a value" : "unexpected argument %s", o);
            return AX_USAGE;
        }
        else {
            a->name = o;
        }
    }
    if (!a->name == !a->cert_path) {
        ax_error("give either NAME or --cert PATH");
        return AX_USAGE;
    }
    if (a->name && (a->key_path || a->ca)) {
        ax_error("--key and --ca go with --cert; revoke NAME uses the "
                 "account of the CA that issued the live certificate");
        return AX_USAGE;
    }
    if (type && (a->cert_path || !(a->key_type = acme_key_type_parse(type)))) {
        ax_error(a->cert_path ? "--key-type goes with NAME"
                 : "unknown key type %s (rsa2048, rsa3072, rsa4096, ec256, "
                   "ec384)", type);
        return AX_USAGE;
    }
    a->reason = ACME_REVOKE_NO_REASON;
    if (reason && (a->reason = acme_revoke_reason_parse(reason))
                  == ACME_REVOKE_NO_REASON) {
        ax_error("unknown --reason %s; accepted are: %s", reason,
                 acme_revoke_reason_list(p));
        return AX_USAGE;
    }
    return AX_OK;
}

/* --- reading what is to be revoked (root) ---------------------------- */

/* Parses t->pem: the leaf's DER and facts. *why on failure. */
static apr_status_t parse_target(target_t *t, X509 **leaf, const char **why,
                                 apr_pool_t *p)
{
    apr_array_header_t *chain;
    unsigned char *out;
    int len;

    if (acme_cert_chain_parse(&chain, p, t->pem, t->pem_len) != APR_SUCCESS
        || acme_cert_info(&t->info, p, chain) != APR_SUCCESS) {
        *why = "holds no PEM certificate";
        return APR_EINVAL;
    }
    *leaf = APR_ARRAY_IDX(chain, 0, X509 *);
    if ((len = i2d_X509(*leaf, NULL)) <= 0) {
        *why = "cannot be encoded";
        return APR_EINVAL;
    }
    t->der = out = apr_palloc(p, len);
    t->der_len = (apr_size_t)i2d_X509(*leaf, &out);
    return APR_SUCCESS;
}

static apr_status_t open_area(int *fd, int base,
                              acme_store_area_e area, uid_t owner)
{
    acme_safe_e why;

    return acme_safe_opendir(fd, &why, base, acme_store_area_name(area),
                             owner, owner == 0);
}

/* live/<key>/ (root's, writable by nobody else), and the store's base. */
static apr_status_t open_live(int *base, int *live, int *dom, ax_ctx_t *ctx,
                              const char *key)
{
    acme_safe_e why = ACME_SAFE_OK;
    apr_status_t rv;

    *base = *live = *dom = -1;
    rv = acme_safe_opendir(base, &why, AT_FDCWD, ctx->store_dir, 0, 0);
    if (rv == APR_SUCCESS) {
        rv = open_area(live, *base, ACME_AREA_LIVE, 0);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_safe_opendir(dom, &why, *live, key, 0, 1);
    }
    return rv;
}

static void close_fds(int *fds, int n)
{
    int i;

    for (i = 0; i < n; i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
    }
}

/* The live certificate of one key type; APR_ENOENT when there is none. */
static apr_status_t read_live(target_t *t, ax_ctx_t *ctx, int dom,
                              acme_key_type_e type)
{
    const char *why;
    acme_safe_e safe;
    X509 *leaf;
    apr_status_t rv;

    memset(t, 0, sizeof(*t));
    t->type = type;
    rv = acme_safe_read(&t->pem, &t->pem_len, &safe, dom,
                        acme_store_pem_name(ctx->pool,
                                            acme_key_type_name(type), "cert"),
                        0, ACME_STORE_FILE_MAX, ctx->pool);
    if (rv != APR_SUCCESS) {
        return safe == ACME_SAFE_MISSING ? APR_ENOENT : rv;
    }
    if (parse_target(t, &leaf, &why, ctx->pool) != APR_SUCCESS) {
        ax_error("the live %s certificate %s", acme_key_type_name(type), why);
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The "server" member of a JSON file in dir; NULL if none. */
static const char *server_in(ax_ctx_t *ctx, int dir, const char *file,
                             uid_t owner)
{
    const char *url;
    acme_safe_e why;
    char *data;
    apr_size_t len;

    if (dir < 0 || acme_safe_read(&data, &len, &why, dir, file, owner,
                                  ACME_STORE_META_MAX, ctx->pool)
                   != APR_SUCCESS) {
        return NULL;
    }
    url = acme_json_str(acme_json_parse(ctx->pool, data, len), "server");
    return url && (!strncmp(url, "https://", 8) || !strncmp(url, "http://", 7))
           ? url : NULL;
}

/* The CA that issued d's certificate: the one live.json names (what the
 * live set was made by), else the one the job last used (state/), else
 * d's first ACMEServer. */
static const char *issuing_ca(ax_ctx_t *ctx, const acme_conf_domain_t *d)
{
    int fds[4] = { -1, -1, -1, -1 };
    const char *url = NULL;
    acme_safe_e why;

    if (geteuid() == 0
        && open_live(&fds[0], &fds[1], &fds[2], ctx, d->key) == APR_SUCCESS) {
        url = server_in(ctx, fds[2], ACME_FN_LIVE, 0);
    }
    if (!url && (fds[0] >= 0 || acme_safe_opendir(&fds[0], &why, AT_FDCWD,
                                                  ctx->store_dir, 0, 0)
                                == APR_SUCCESS)
        && open_area(&fds[3], fds[0], ACME_AREA_STATE, ctx->conf->uid)
           == APR_SUCCESS) {
        url = server_in(ctx, fds[3],
                        acme_store_domain_file(ctx->pool, d->key),
                        ctx->conf->uid);
    }
    close_fds(fds, 4);
    return url ? url : APR_ARRAY_IDX(d->servers, 0, const char *);
}

/* The domain a certificate belongs to: the first whose names it all
 * covers, else the first it shares a name with. */
static const acme_conf_domain_t *domain_of(ax_ctx_t *ctx,
                                           const acme_cert_info_t *info)
{
    const acme_conf_domain_t *some = NULL;
    int i, j, covered;

    for (i = 0; i < ctx->conf->domains->nelts; i++) {
        const acme_conf_domain_t *d = APR_ARRAY_IDX(ctx->conf->domains, i,
                                                    acme_conf_domain_t *);
        for (j = covered = 0; j < d->names->nelts; j++) {
            covered += acme_cert_covers(info, APR_ARRAY_IDX(d->names, j,
                                                            const char *));
        }
        if (covered == d->names->nelts) {
            return d;
        }
        if (covered && !some) {
            some = d;
        }
    }
    return some;
}

/* ACMECACertificate of a domain that uses server; NULL: system trust. */
/* A configured domain with this CA, for its ACMECACertificate and
 * ACMEHttpProxy; NULL when none has it. */
static const acme_conf_domain_t *domain_of_ca(ax_ctx_t *ctx,
                                              const char *server)
{
    int i, j;

    for (i = 0; i < ctx->conf->domains->nelts; i++) {
        const acme_conf_domain_t *d = APR_ARRAY_IDX(ctx->conf->domains, i,
                                                    acme_conf_domain_t *);
        for (j = 0; j < d->servers->nelts; j++) {
            if (!strcmp(server, APR_ARRAY_IDX(d->servers, j, const char *))) {
                return d;
            }
        }
    }
    return NULL;
}

/* The ACMEEAB key id for server: d's if it lists server, else that of
 * the first domain that does; NULL: none (the account has no key id). */
static const char *eab_kid_for(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                               const char *server)
{
    int i, j;

    for (i = -1; i < ctx->conf->domains->nelts; i++) {
        const acme_conf_domain_t *e = i < 0 ? d
            : APR_ARRAY_IDX(ctx->conf->domains, i, acme_conf_domain_t *);
        for (j = 0; e && j < e->servers->nelts; j++) {
            if (!strcmp(server, APR_ARRAY_IDX(e->servers, j, const char *))) {
                return acme_conf_eab(e, server)->kid;
            }
        }
    }
    return NULL;
}

/* --- the ACME request and the notification (the User) ---------------- */

static const char *describe(apr_pool_t *p, const target_t *t)
{
    return apr_psprintf(p, "serial %s, %s, valid until %s",
                        t->info->serial_hex,
                        acme_str_join(p, t->info->names, " "),
                        ax_time_str(p, t->info->not_after));
}

static int revoke_as_user(ax_ctx_t *ctx, void *baton)
{
    const revoke_job_t *job = baton;
    const target_t *t = job->t;
    acme_job_env_t env = ax_job_env(ctx);
    acme_revoke_req_t r;
    acme_error_t *err;

    memset(&r, 0, sizeof(r));
    r.server_url = job->server;
    r.eab_kid = job->eab_kid;
    r.ca_file = job->ca_file;
    r.http_proxy = job->http_proxy;
    r.der = t->der;
    r.der_len = t->der_len;
    r.reason = job->reason;
    if (t->key_pem && acme_key_from_pem(&r.cert_key, ctx->pool, t->key_pem,
                                        t->key_len) != APR_SUCCESS) {
        ax_error("the --key file holds no usable private key");
        return AX_FAILED;
    }
    if (acme_revoke(&err, ctx->pool, &r, ctx->store, &env) != APR_SUCCESS) {
        ax_error("%s", acme_error_line(ctx->pool, err));
        return err->type && !strcmp(err->type, "alreadyRevoked")
               ? RC_ALREADY : AX_FAILED;
    }
    printf("revoked: %s%s%s (%s), reason %s\n",
           t->type ? acme_key_type_name(t->type) : "", t->type ? " " : "",
           "certificate", describe(ctx->pool, t),
           job->reason == ACME_REVOKE_NO_REASON
           ? "not given" : acme_revoke_reason_name(job->reason));
    return AX_OK;
}

static int notify_as_user(ax_ctx_t *ctx, void *baton)
{
    const acme_conf_domain_t *d = baton;
    int status;
    apr_status_t rv = acme_notify_run(&status, d->notify_cmd,
                                      acme_event_name(ACME_EV_REVOKED),
                                      d->name, ACME_NOTIFY_TIMEOUT,
                                      ctx->pool);

    if (rv == APR_TIMEUP) {
        ax_error("%s: ACMENotifyCmd for 'revoked' took longer than %d s and "
                 "was stopped", d->name,
                 (int)apr_time_sec(ACME_NOTIFY_TIMEOUT));
    }
    else if (rv != APR_SUCCESS) {
        char buf[128];
        ax_error("%s: cannot run ACMENotifyCmd %s: %s", d->name,
                 APR_ARRAY_IDX(d->notify_cmd, 0, const char *),
                 apr_strerror(rv, buf, sizeof(buf)));
    }
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        ax_error("%s: ACMENotifyCmd for 'revoked' failed", d->name);
    }
    return AX_OK;    /* the revocation stands either way */
}

static void notify(ax_ctx_t *ctx, const acme_conf_domain_t *d)
{
    if (d && d->notify_cmd) {
        ax_as_user(ctx, notify_as_user, (void *)d);
    }
}

/* --- setting a revoked live certificate aside (root) ----------------- */

/* Only the newest REVOKED_KEEP of rejected/<key>.revoked.<20 digits>. */
static void prune_revoked(ax_ctx_t *ctx, int rejected, const char *key)
{
    apr_array_header_t *mine = apr_array_make(ctx->pool, 8,
                                              sizeof(const char *));
    const char *prefix = apr_pstrcat(ctx->pool, key, ".revoked.", NULL);
    apr_size_t plen = strlen(prefix);
    struct dirent *e;
    DIR *dir;
    int fd = dup(rejected), i;

    if (fd < 0 || !(dir = fdopendir(fd))) {
        close_fds(&fd, 1);
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        if (!strncmp(e->d_name, prefix, plen)
            && strlen(e->d_name + plen) == 20
            && strspn(e->d_name + plen, "0123456789") == 20) {
            APR_ARRAY_PUSH(mine, const char *) = apr_pstrdup(ctx->pool,
                                                             e->d_name);
        }
    }
    closedir(dir);
    mine = acme_str_sorted(ctx->pool, mine);    /* oldest first */
    for (i = 0; i < mine->nelts - REVOKED_KEEP; i++) {
        acme_safe_remove(rejected, APR_ARRAY_IDX(mine, i, const char *));
    }
}

/* Moves the revoked key types' files from live/<key>/ into a new
 * rejected/<key>.revoked.<time>/: both directories are root's, so a
 * rename is all it takes, and what was live is kept for the record. */
static apr_status_t set_aside(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                              const target_t *ts, const int *revoked, int n)
{
    int fds[5] = { -1, -1, -1, -1, -1 };    /* base live dom rejected new */
    const char *name = apr_psprintf(ctx->pool, "%s.revoked.%020"
                                    APR_INT64_T_FMT, d->key,
                                    (apr_int64_t)apr_time_now());
    acme_safe_e why;
    apr_status_t rv;
    int i, k;

    rv = open_live(&fds[0], &fds[1], &fds[2], ctx, d->key);
    if (rv == APR_SUCCESS) {
        rv = acme_safe_mkdir(&fds[3], &why, fds[0],
                             acme_store_area_name(ACME_AREA_REJECTED), 0700,
                             0, 0);
    }
    if (rv == APR_SUCCESS) {
        rv = acme_safe_mkdir(&fds[4], &why, fds[3], name, 0700, 0, 0);
    }
    for (i = 0; rv == APR_SUCCESS && i < n; i++) {
        for (k = 0; revoked[i] && k < 2; k++) {
            const char *fn = acme_store_pem_name(ctx->pool,
                acme_key_type_name(ts[i].type), k ? "key" : "cert");
            if (renameat(fds[2], fn, fds[4], fn) != 0 && errno != ENOENT) {
                rv = APR_FROM_OS_ERROR(errno);
            }
        }
    }
    if (rv == APR_SUCCESS) {
        fsync(fds[2]);
        fsync(fds[4]);
        prune_revoked(ctx, fds[3], d->key);
        ax_info(ctx, "%s: the revoked certificate was moved from live/ to "
                "%s/rejected/%s", d->name, ctx->store_dir, name);
    }
    else {
        char buf[128];
        ax_error("%s: cannot move the revoked certificate out of %s/live/%s "
                 "(%s); remove it by hand before the next restart of Apache",
                 d->name, ctx->store_dir, d->key,
                 apr_strerror(rv, buf, sizeof(buf)));
    }
    close_fds(fds, 5);
    return rv;
}

/* After the revocations: set aside, tell, replace. The exit code. */
static int conclude(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                    const target_t *ts, const int *rcs, int n)
{
    int revoked[ACME_KEY_EC384 + 1], any = 0, fresh = 0, failed = 0, i, rc;

    for (i = 0; i < n; i++) {
        /* Already revoked is revoked: it must not be served either. */
        revoked[i] = ts[i].type && (rcs[i] == AX_OK || rcs[i] == RC_ALREADY);
        any |= revoked[i];
        fresh |= rcs[i] == AX_OK;
        failed |= rcs[i] != AX_OK;
    }
    if (fresh) {
        notify(ctx, d);
    }
    if (!any) {
        return failed ? AX_FAILED : AX_OK;
    }
    if (set_aside(ctx, d, ts, revoked, n) != APR_SUCCESS) {
        return AX_FAILED;
    }
    ax_info(ctx, "%s: getting a replacement", d->name);
    rc = ax_renew_domain(ctx, d, REPLACEMENT_WAIT);
    return failed ? AX_FAILED : rc;
}

/* --- the two forms --------------------------------------------------- */

static int revoke_domain(ax_ctx_t *ctx, const revoke_args_t *a)
{
    const acme_conf_domain_t *d = ax_domain(ctx, a->name);
    target_t ts[ACME_KEY_EC384 + 1];
    int rcs[ACME_KEY_EC384 + 1], fds[3], n = 0, t;
    revoke_job_t job;
    apr_status_t rv = APR_SUCCESS;

    if (!d) {
        return AX_CONFIG;
    }
    if (open_live(&fds[0], &fds[1], &fds[2], ctx, d->key) != APR_SUCCESS) {
        close_fds(fds, 3);
        ax_error(geteuid() ? "%s: live/ is root's: run this as root"
                           : "%s has no live certificate", d->name);
        return AX_FAILED;
    }
    for (t = ACME_KEY_RSA2048; rv != APR_EINVAL && t <= ACME_KEY_EC384; t++) {
        if ((!a->key_type || a->key_type == (acme_key_type_e)t)
            && (rv = read_live(&ts[n], ctx, fds[2], t)) == APR_SUCCESS) {
            n++;
        }
    }
    close_fds(fds, 3);
    if (rv == APR_EINVAL) {
        return AX_FAILED;
    }
    if (!n) {
        ax_error("%s has no live %s%scertificate", d->name,
                 a->key_type ? acme_key_type_name(a->key_type) : "",
                 a->key_type ? " " : "");
        return AX_FAILED;
    }
    memset(&job, 0, sizeof(job));
    job.server = issuing_ca(ctx, d);
    job.eab_kid = eab_kid_for(ctx, d, job.server);
    job.ca_file = d->ca_file;
    job.http_proxy = d->http_proxy;
    job.reason = a->reason;
    for (t = 0; t < n; t++) {
        job.t = &ts[t];
        ax_info(ctx, "%s: revoking the %s certificate at %s (%s)", d->name,
                acme_key_type_name(ts[t].type), job.server,
                describe(ctx->pool, &ts[t]));
        rcs[t] = ax_as_user(ctx, revoke_as_user, &job);
    }
    return conclude(ctx, d, ts, rcs, n);
}

/* The live key type whose certificate is t, if d has it live. */
static acme_key_type_e live_slot(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                                 const target_t *t)
{
    target_t live;
    int fds[3], k;
    acme_key_type_e found = ACME_KEY_NONE;

    if (!d || geteuid() != 0
        || open_live(&fds[0], &fds[1], &fds[2], ctx, d->key) != APR_SUCCESS) {
        close_fds(fds, 3);
        return ACME_KEY_NONE;
    }
    for (k = ACME_KEY_RSA2048; !found && k <= ACME_KEY_EC384; k++) {
        if (read_live(&live, ctx, fds[2], k) == APR_SUCCESS
            && live.der_len == t->der_len
            && !memcmp(live.der, t->der, t->der_len)) {
            found = k;
        }
    }
    close_fds(fds, 3);
    return found;
}

static int revoke_file(ax_ctx_t *ctx, const revoke_args_t *a)
{
    const acme_conf_domain_t *d, *ca;
    const char *why;
    target_t t;
    revoke_job_t job;
    EVP_PKEY *key;
    X509 *leaf;
    int rc;

    memset(&t, 0, sizeof(t));
    if (acme_store_read(&t.pem, &t.pem_len, a->cert_path,
                        ACME_STORE_FILE_MAX, ctx->pool) != APR_SUCCESS
        || parse_target(&t, &leaf, &why, ctx->pool) != APR_SUCCESS) {
        ax_error("%s: cannot read a certificate from it", a->cert_path);
        return AX_FAILED;
    }
    if (a->key_path
        && (acme_store_read(&t.key_pem, &t.key_len, a->key_path,
                            ACME_STORE_FILE_MAX, ctx->pool) != APR_SUCCESS
            || acme_key_from_pem(&key, ctx->pool, t.key_pem, t.key_len)
               != APR_SUCCESS)) {
        ax_error("%s: cannot read a private key from it", a->key_path);
        return AX_FAILED;
    }
    if (a->key_path && X509_check_private_key(leaf, key) != 1) {
        ax_error("%s is not the key of the certificate %s", a->key_path,
                 a->cert_path);
        return AX_FAILED;
    }
    d = domain_of(ctx, t.info);
    memset(&job, 0, sizeof(job));
    job.t = &t;
    job.server = a->ca ? a->ca
               : d ? issuing_ca(ctx, d)
               : APR_ARRAY_IDX(APR_ARRAY_IDX(ctx->conf->domains, 0,
                               acme_conf_domain_t *)->servers, 0,
                               const char *);
    if ((ca = domain_of_ca(ctx, job.server)) != NULL) {
        job.ca_file = ca->ca_file;
        job.http_proxy = ca->http_proxy;
    }
    job.eab_kid = eab_kid_for(ctx, d, job.server);
    job.reason = a->reason;
    /* Revoking a file that is in fact a live certificate of d: it is set
     * aside and replaced as revoke NAME does. */
    t.type = live_slot(ctx, d, &t);
    ax_info(ctx, "revoking the certificate %s at %s with %s (%s)",
            a->cert_path, job.server,
            a->key_path ? "its own key" : "the account",
            describe(ctx->pool, &t));
    rc = ax_as_user(ctx, revoke_as_user, &job);
    if (d && (t.type || rc == AX_OK)) {
        return conclude(ctx, d, &t, &rc, 1);
    }
    return rc == RC_ALREADY ? AX_FAILED : rc;
}

int ax_cmd_revoke(ax_ctx_t *ctx, int argc, const char *const *argv)
{
    revoke_args_t a;
    int rc = parse_args(&a, ctx->pool, argc, argv);

    if (rc != AX_OK) {
        return rc < 0 ? AX_OK : rc;
    }
    if ((rc = ax_load_conf(ctx)) != AX_OK) {
        return rc;
    }
    if (!ctx->conf->domains->nelts) {
        ax_error("no ACMEDomain is configured");
        return AX_CONFIG;
    }
    return a.name ? revoke_domain(ctx, &a) : revoke_file(ctx, &a);
}
