/* acmeauto import-certbot [DIR] [--dry-run]: takes over what Certbot
 * keeps in DIR (default /etc/letsencrypt), so that moving a site to the
 * module needs neither new EAB values nor a minute without a certificate.
 *
 * Accounts: DIR/accounts/<host[:port]/path of the CA>/<id>/ holds
 * regr.json (the account URL) and private_key.json (the key as a JWK).
 * One whose CA is an ACMEServer becomes the module's account for that CA,
 * in the very place and format the job looks for it (core/acme_job.c),
 * so the job never registers anew.
 *
 * Certificates: DIR/live/<name>/{fullchain,privkey}.pem, with the CA and
 * the account in DIR/renewal/<name>.conf. A valid one that covers every
 * name of an ACMEDomain, of its key type and from one of its ACMEServers,
 * is staged exactly as the job stages a new certificate: the running
 * server's parent checks it as it checks any staged set and makes it live
 * at its next graceful restart; renewal then follows ACMERenewWindow.
 *
 * Privileges: Certbot's keys are root's, so root reads them first, into
 * memory. Everything written goes into the User's areas of the store
 * (accounts/, staging/, state/) from a child running as the User, under
 * the job's lock; root writes nothing into the store. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/param_build.h>

#include "acmeauto.h"
#include "acme_cert.h"
#include "acme_handoff.h"
#include "acme_json.h"
#include "acme_safe.h"
#include "acme_state.h"
#include "acme_util.h"

#define CERTBOT_DIR_DEFAULT "/etc/letsencrypt"
#define CB_FILE_MAX (64 * 1024)
#define CB_WALK_DEPTH 8
#define IMPORT_LOCK_WAIT apr_time_from_sec(120)

/* One Certbot account, as root read it. */
typedef struct {
    const char *dir;            /* DIR/accounts/<server path>/<id> */
    const char *real;           /* its realpath, to see it only once */
    const char *id;
    const char *url;            /* regr.json "uri" */
    const char *key_pem;        /* private_key.json as PKCS#8 PEM */
    const char *server;         /* the ACMEServer it belongs to, or NULL */
    const char *why;            /* unusable: why */
    int uses;                   /* certificates of ours that name it */
} cb_account_t;

/* One Certbot certificate lineage (live/<name>/), as root read it. */
typedef struct {
    const char *name;
    const char *chain_pem;      /* fullchain.pem */
    apr_size_t chain_len;
    const char *key_pem;        /* privkey.pem, as PKCS#8 PEM */
    acme_cert_info_t *info;
    acme_key_type_e type;
    const char *server;         /* renewal/<name>.conf "server" */
    const char *account;        /* renewal/<name>.conf "account" */
    const char *why;            /* unusable for any domain: why */
    int taken;                  /* imported for some domain */
} cb_cert_t;

/* A module account to fill: one per CA of the configured domains. */
typedef struct {
    const char *server;         /* the ACMEServer URL, byte for byte */
    const char *id;             /* accounts/<id>/ */
    cb_account_t *from;         /* the Certbot account for it, or NULL */
} target_t;

/* What happens to one configured domain. */
typedef struct {
    const acme_conf_domain_t *d;
    cb_cert_t *cert;            /* to stage, or NULL */
    const char *server;         /* the ACMEServer that issued it */
    const char *why;            /* nothing to stage: why */
} plan_dom_t;

typedef struct {
    const char *dir;            /* Certbot's DIR */
    int dry_run;
    apr_array_header_t *accounts;   /* cb_account_t* */
    apr_array_header_t *certs;      /* cb_cert_t* */
    apr_array_header_t *targets;    /* target_t */
    apr_array_header_t *doms;       /* plan_dom_t */
} import_t;

/* The one place that names the module's account directory for a
 * domain's CA: the job's own rule (the CA and the domain's EAB key id
 * for it; Certbot does not record which key id made its account). */
static const char *module_account_id(apr_pool_t *p,
                                     const acme_conf_domain_t *d,
                                     const char *server)
{
    const acme_conf_eab_t *eab = d ? acme_conf_eab(d, server) : NULL;

    return acme_job_account_id(p, server, eab ? eab->kid : NULL);
}

/* Certbot names a CA's account directory after host[:port]/path of its
 * directory URL (certbot's server_path); a query is not part of it. */
static const char *server_path(apr_pool_t *p, const char *url)
{
    const char *s = strstr(url, "://");

    s = s ? s + 3 : url;
    return apr_pstrndup(p, s, strcspn(s, "?#"));
}

static int same_ca(apr_pool_t *p, const char *a, const char *b)
{
    return !strcmp(server_path(p, a), server_path(p, b));
}

/* --- reading Certbot's files (root) ------------------------------------ */

static const char *read_small(apr_pool_t *p, const char *path,
                              apr_size_t *len)
{
    char *data;
    apr_size_t n;

    if (acme_store_read(&data, &n, path, CB_FILE_MAX, p) != APR_SUCCESS) {
        return NULL;
    }
    if (len) {
        *len = n;
    }
    return data;
}

static apr_status_t pkey_free(void *data)
{
    EVP_PKEY_free(data);
    return APR_SUCCESS;
}

/* A JWK member as a BIGNUM, pushed onto the parameter builder. */
static int push_bn(OSSL_PARAM_BLD *bld, apr_array_header_t *bns,
                   const json_t *jwk, const char *member, const char *param,
                   apr_pool_t *p)
{
    const char *s = json_string_value(json_object_get(jwk, member));
    unsigned char *raw;
    apr_size_t len;
    BIGNUM *bn;

    if (!s || acme_b64_decode(&raw, &len, p, s) != APR_SUCCESS || !len
        || len > INT_MAX) {
        return 0;
    }
    bn = BN_bin2bn(raw, (int)len, NULL);
    OPENSSL_cleanse(raw, len);
    if (!bn) {
        return 0;
    }
    APR_ARRAY_PUSH(bns, BIGNUM *) = bn;
    return OSSL_PARAM_BLD_push_BN(bld, param, bn);
}

/* The EC public point 04||x||y of a JWK, pushed onto the builder. */
static int push_ec_point(OSSL_PARAM_BLD *bld, const json_t *jwk,
                         apr_size_t size, apr_pool_t *p)
{
    const char *x = json_string_value(json_object_get(jwk, "x"));
    const char *y = json_string_value(json_object_get(jwk, "y"));
    unsigned char *xr, *yr, *pt;
    apr_size_t xl, yl;

    if (!x || !y || acme_b64_decode(&xr, &xl, p, x) != APR_SUCCESS
        || acme_b64_decode(&yr, &yl, p, y) != APR_SUCCESS
        || xl != size || yl != size) {
        return 0;
    }
    pt = apr_palloc(p, 1 + 2 * size);
    pt[0] = 0x04;
    memcpy(pt + 1, xr, size);
    memcpy(pt + 1 + size, yr, size);
    return OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pt,
                                            1 + 2 * size);
}

/* The private key of a JWK (RFC 7518 §6: RSA with its CRT members, or
 * EC P-256/P-384), checked as a key pair; freed with p. */
static apr_status_t key_from_jwk(EVP_PKEY **key, const json_t *jwk,
                                 apr_pool_t *p)
{
    static const char *const rsa[][2] = {
        { "n", OSSL_PKEY_PARAM_RSA_N }, { "e", OSSL_PKEY_PARAM_RSA_E },
        { "d", OSSL_PKEY_PARAM_RSA_D },
        { "p", OSSL_PKEY_PARAM_RSA_FACTOR1 },
        { "q", OSSL_PKEY_PARAM_RSA_FACTOR2 },
        { "dp", OSSL_PKEY_PARAM_RSA_EXPONENT1 },
        { "dq", OSSL_PKEY_PARAM_RSA_EXPONENT2 },
        { "qi", OSSL_PKEY_PARAM_RSA_COEFFICIENT1 },
    };
    const char *kty = acme_json_str(jwk, "kty");
    const char *crv = acme_json_str(jwk, "crv");
    apr_array_header_t *bns = apr_array_make(p, 8, sizeof(BIGNUM *));
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *pctx = NULL, *check = NULL;
    apr_status_t rv = APR_EINVAL;
    int ok = bld != NULL, i;

    *key = NULL;
    if (ok && kty && !strcmp(kty, "RSA")) {
        for (i = 0; ok && i < (int)(sizeof(rsa) / sizeof(rsa[0])); i++) {
            ok = push_bn(bld, bns, jwk, rsa[i][0], rsa[i][1], p);
        }
        pctx = ok ? EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL) : NULL;
    }
    else if (ok && kty && !strcmp(kty, "EC") && crv
             && (!strcmp(crv, "P-256") || !strcmp(crv, "P-384"))) {
        int p256 = !strcmp(crv, "P-256");
        ok = OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                             p256 ? "prime256v1"
                                                  : "secp384r1", 0)
             && push_ec_point(bld, jwk, p256 ? 32 : 48, p)
             && push_bn(bld, bns, jwk, "d", OSSL_PKEY_PARAM_PRIV_KEY, p);
        pctx = ok ? EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL) : NULL;
    }
    if (pctx && (params = OSSL_PARAM_BLD_to_param(bld)) != NULL
        && EVP_PKEY_fromdata_init(pctx) > 0
        && EVP_PKEY_fromdata(pctx, key, EVP_PKEY_KEYPAIR, params) > 0) {
        apr_pool_cleanup_register(p, *key, pkey_free, apr_pool_cleanup_null);
        check = EVP_PKEY_CTX_new_from_pkey(NULL, *key, NULL);
        rv = check && EVP_PKEY_pairwise_check(check) > 0
             && acme_key_jws_alg(*key) ? APR_SUCCESS : APR_EINVAL;
    }
    ERR_clear_error();
    EVP_PKEY_CTX_free(check);
    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    for (i = 0; i < bns->nelts; i++) {
        BN_clear_free(APR_ARRAY_IDX(bns, i, BIGNUM *));
    }
    if (rv != APR_SUCCESS) {
        *key = NULL;
    }
    return rv;
}

/* One account directory: regr.json and private_key.json. */
static cb_account_t *read_account(apr_pool_t *p, const char *dir,
                                  const char *id)
{
    cb_account_t *a = apr_pcalloc(p, sizeof(*a));
    const char *regr, *jwk_text;
    char real[PATH_MAX];
    apr_size_t len;
    json_t *j, *jwk;
    EVP_PKEY *key;

    a->dir = dir;
    a->id = id;
    a->real = realpath(dir, real) ? apr_pstrdup(p, real) : dir;
    if (!(regr = read_small(p, apr_pstrcat(p, dir, "/regr.json", NULL),
                            NULL))
        || !(j = acme_json_parse(p, regr, strlen(regr)))
        || !(a->url = acme_json_str(j, "uri"))
        || (strncmp(a->url, "https://", 8) && strncmp(a->url, "http://", 7))) {
        a->why = "regr.json is missing or has no account URL (\"uri\")";
        return a;
    }
    a->url = apr_pstrdup(p, a->url);
    jwk_text = read_small(p, apr_pstrcat(p, dir, "/private_key.json", NULL),
                          &len);
    jwk = jwk_text ? acme_json_parse(p, jwk_text, len) : NULL;
    if (jwk_text) {
        OPENSSL_cleanse((char *)jwk_text, len);
    }
    if (!jwk) {
        a->why = "private_key.json is missing or not JSON (run as root)";
    }
    else if (key_from_jwk(&key, jwk, p) != APR_SUCCESS) {
        a->why = "private_key.json is no RSA or EC P-256/P-384 key pair";
    }
    else if (acme_key_to_pem(&a->key_pem, p, key) != APR_SUCCESS) {
        a->why = "its key cannot be converted to PEM";
    }
    return a;
}

/* Certbot's account directories below DIR/accounts, links not followed
 * (Certbot links Let's Encrypt's v02 directory to the v01 one; the link
 * is found when looking for a configured CA, below). */
static void walk_accounts(import_t *im, apr_pool_t *p, const char *dir,
                          int depth)
{
    struct dirent *e;
    struct stat st;
    DIR *dh;

    if (depth > CB_WALK_DEPTH || !(dh = opendir(dir))) {
        return;
    }
    while ((e = readdir(dh)) != NULL) {
        const char *sub;

        if (e->d_name[0] == '.') {
            continue;
        }
        sub = apr_pstrcat(p, dir, "/", e->d_name, NULL);
        if (lstat(sub, &st) != 0 || !S_ISDIR(st.st_mode)) {
            continue;
        }
        if (!access(apr_pstrcat(p, sub, "/regr.json", NULL), F_OK)) {
            APR_ARRAY_PUSH(im->accounts, cb_account_t *)
                = read_account(p, sub, apr_pstrdup(p, e->d_name));
        }
        else {
            walk_accounts(im, p, sub, depth + 1);
        }
    }
    closedir(dh);
}

static cb_account_t *account_by_real(import_t *im, const char *real)
{
    int i;

    for (i = 0; i < im->accounts->nelts; i++) {
        cb_account_t *a = APR_ARRAY_IDX(im->accounts, i, cb_account_t *);
        if (!strcmp(a->real, real)) {
            return a;
        }
    }
    return NULL;
}

/* The Certbot accounts at a configured CA, as Certbot itself finds them
 * (links followed); each gets a->server. */
static void accounts_at(import_t *im, apr_pool_t *p, const char *server)
{
    const char *dir = apr_pstrcat(p, im->dir, "/accounts/",
                                  server_path(p, server), NULL);
    char real[PATH_MAX];
    struct dirent *e;
    DIR *dh;

    if (!(dh = opendir(dir))) {
        return;
    }
    while ((e = readdir(dh)) != NULL) {
        const char *sub = apr_pstrcat(p, dir, "/", e->d_name, NULL);
        cb_account_t *a;

        if (e->d_name[0] == '.' || !realpath(sub, real)
            || access(apr_pstrcat(p, sub, "/regr.json", NULL), F_OK)) {
            continue;
        }
        if (!(a = account_by_real(im, real))) {
            a = read_account(p, sub, apr_pstrdup(p, e->d_name));
            APR_ARRAY_PUSH(im->accounts, cb_account_t *) = a;
        }
        if (!a->server) {
            a->server = server;
        }
    }
    closedir(dh);
}

/* "key = value" of renewal/<name>.conf (ConfigObj); the keys asked for
 * are in its [renewalparams] section only. */
static const char *conf_value(apr_pool_t *p, const char *text,
                              const char *key)
{
    apr_size_t klen = strlen(key);
    const char *line = text;

    while (line && *line) {
        const char *s = line + strspn(line, " \t");
        if (!strncmp(s, key, klen)) {
            s += klen + strspn(s + klen, " \t");
            if (*s == '=') {
                s += 1 + strspn(s + 1, " \t");
                return apr_pstrndup(p, s, strcspn(s, " \t\r\n"));
            }
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return NULL;
}

/* One lineage: its chain, key and renewal parameters. */
static cb_cert_t *read_cert(apr_pool_t *p, const char *dir, const char *name)
{
    cb_cert_t *c = apr_pcalloc(p, sizeof(*c));
    const char *base = apr_pstrcat(p, dir, "/live/", name, "/", NULL);
    const char *key_text, *renewal, *why;
    apr_array_header_t *chain;
    apr_size_t klen;
    EVP_PKEY *key;

    c->name = name;
    c->chain_pem = read_small(p, apr_pstrcat(p, base, "fullchain.pem", NULL),
                              &c->chain_len);
    key_text = read_small(p, apr_pstrcat(p, base, "privkey.pem", NULL),
                          &klen);
    if (!c->chain_pem || !key_text) {
        c->why = "fullchain.pem or privkey.pem cannot be read (run as root)";
        return c;
    }
    if (acme_cert_chain_parse(&chain, p, c->chain_pem, c->chain_len)
        != APR_SUCCESS || acme_cert_info(&c->info, p, chain) != APR_SUCCESS
        || acme_key_from_pem(&key, p, key_text, klen) != APR_SUCCESS
        || acme_key_to_pem(&c->key_pem, p, key) != APR_SUCCESS) {
        c->why = "fullchain.pem or privkey.pem cannot be parsed";
    }
    else if ((c->type = acme_key_type_of(key)) == ACME_KEY_NONE) {
        c->why = "its key is of a type the module does not use";
    }
    else if (acme_cert_check(&why, p, chain, key, c->info->names,
                             apr_time_now()) != APR_SUCCESS) {
        c->why = c->info->not_after <= apr_time_now()
               ? apr_psprintf(p, "expired on %s",
                              ax_time_str(p, c->info->not_after))
               : why;
    }
    OPENSSL_cleanse((char *)key_text, klen);
    renewal = read_small(p, apr_pstrcat(p, dir, "/renewal/", name, ".conf",
                                        NULL), NULL);
    if (renewal) {
        c->server = conf_value(p, renewal, "server");
        c->account = conf_value(p, renewal, "account");
    }
    if (!c->why && !c->server) {
        c->why = apr_psprintf(p, "renewal/%s.conf does not say which CA "
                              "issued it", name);
    }
    return c;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void read_certs(import_t *im, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(char *));
    const char *live = apr_pstrcat(p, im->dir, "/live", NULL);
    struct dirent *e;
    struct stat st;
    DIR *dh;
    int i;

    if (!(dh = opendir(live))) {
        return;
    }
    while ((e = readdir(dh)) != NULL) {
        if (e->d_name[0] != '.'
            && !stat(apr_pstrcat(p, live, "/", e->d_name, NULL), &st)
            && S_ISDIR(st.st_mode)) {
            APR_ARRAY_PUSH(names, const char *) = apr_pstrdup(p, e->d_name);
        }
    }
    closedir(dh);
    qsort(names->elts, names->nelts, sizeof(char *), by_name);
    for (i = 0; i < names->nelts; i++) {
        APR_ARRAY_PUSH(im->certs, cb_cert_t *) = read_cert(p, im->dir,
            APR_ARRAY_IDX(names, i, const char *));
    }
}

/* --- deciding (root) ---------------------------------------------------- */

/* The latest notAfter of the module's own live certificates for d (live/
 * is root's); 0 when there is none or it cannot be read. */
static apr_time_t live_until(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                             apr_pool_t *p)
{
    int base = -1, area = -1, dir = -1, t;
    apr_time_t until = 0;
    acme_safe_e why;

    if (acme_safe_opendir(&base, &why, AT_FDCWD, ctx->store_dir, 0, 0)
        == APR_SUCCESS
        && acme_safe_opendir(&area, &why, base,
                             acme_store_area_name(ACME_AREA_LIVE), 0, 1)
           == APR_SUCCESS
        && acme_safe_opendir(&dir, &why, area, d->key, 0, 1)
           == APR_SUCCESS) {
        for (t = ACME_KEY_RSA2048; t <= ACME_KEY_EC384; t++) {
            apr_array_header_t *chain;
            acme_cert_info_t *info;
            char *pem;
            apr_size_t len;

            if (acme_safe_read(&pem, &len, &why, dir, acme_store_pem_name(p,
                               acme_key_type_name(t), "cert"), 0,
                               ACME_STORE_FILE_MAX, p) == APR_SUCCESS
                && acme_cert_chain_parse(&chain, p, pem, len) == APR_SUCCESS
                && acme_cert_info(&info, p, chain) == APR_SUCCESS
                && info->not_after > until) {
                until = info->not_after;
            }
        }
    }
    if (dir >= 0) close(dir);
    if (area >= 0) close(area);
    if (base >= 0) close(base);
    return until;
}

/* The configured key types as text. */
static const char *types_str(apr_pool_t *p, const acme_conf_domain_t *d)
{
    apr_array_header_t *a = apr_array_make(p, 2, sizeof(char *));
    int i;

    for (i = 0; i < d->key_types->nelts; i++) {
        APR_ARRAY_PUSH(a, const char *) = acme_key_type_name(
            APR_ARRAY_IDX(d->key_types, i, acme_key_type_e));
    }
    return acme_str_join(p, a, " ");
}

/* Why c cannot serve d (NULL: it can); *server the ACMEServer of d that
 * issued it. */
static const char *unfit(apr_pool_t *p, const cb_cert_t *c,
                         const acme_conf_domain_t *d, const char **server)
{
    apr_array_header_t *missing = apr_array_make(p, 2, sizeof(char *));
    int i;

    *server = NULL;
    for (i = 0; i < d->names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(d->names, i, const char *);
        if (!acme_cert_covers(c->info, n)) {
            APR_ARRAY_PUSH(missing, const char *) = n;
        }
    }
    if (missing->nelts) {
        return apr_psprintf(p, "does not cover %s",
                            acme_str_join(p, missing, ", "));
    }
    for (i = 0; i < d->servers->nelts && !*server; i++) {
        const char *s = APR_ARRAY_IDX(d->servers, i, const char *);
        if (same_ca(p, s, c->server)) {
            *server = s;
        }
    }
    if (!*server) {
        return apr_psprintf(p, "it comes from %s, which is no ACMEServer of "
                            "this domain", c->server);
    }
    if (d->key_types->nelts != 1
        || APR_ARRAY_IDX(d->key_types, 0, acme_key_type_e) != c->type) {
        /* The parent takes a staged set only with every configured key
         * type in it. */
        return apr_psprintf(p, "its key is %s, but ACMEKeyType is '%s': set "
                            "'ACMEKeyType %s' to import it",
                            acme_key_type_name(c->type), types_str(p, d),
                            acme_key_type_name(c->type));
    }
    return NULL;
}

/* For each domain the Certbot certificate to take: among those that fit,
 * the one valid longest; and only when it outlives the module's own. */
static void plan_domain(import_t *im, ax_ctx_t *ctx, apr_pool_t *p,
                        plan_dom_t *pd)
{
    const acme_conf_domain_t *d = pd->d;
    const char *near_why = NULL, *server;
    cb_cert_t *near = NULL;
    apr_time_t mine;
    int i;

    for (i = 0; i < im->certs->nelts; i++) {
        cb_cert_t *c = APR_ARRAY_IDX(im->certs, i, cb_cert_t *);
        const char *why;

        if (c->why || !c->info) {
            continue;
        }
        if (!(why = unfit(p, c, d, &server))) {
            if (!pd->cert || c->info->not_after > pd->cert->info->not_after) {
                pd->cert = c;
                pd->server = server;
            }
        }
        else if (!near_why && acme_cert_covers(c->info, d->name)) {
            near_why = apr_psprintf(p, "Certbot's %s: %s", c->name, why);
            near = c;
        }
    }
    mine = live_until(ctx, d, p);
    /* No advice on how to import what the module's own certificate
     * outlives anyway. */
    if (!pd->cert && near && mine >= near->info->not_after) {
        pd->cert = near;
    }
    else if (!pd->cert) {
        pd->why = near_why ? near_why : "no valid Certbot certificate "
                  "covers its names";
        return;
    }
    if (mine >= pd->cert->info->not_after) {
        pd->why = apr_psprintf(p, "the module's own certificate is valid "
                               "until %s, Certbot's %s only until %s",
                               ax_time_str(p, mine), pd->cert->name,
                               ax_time_str(p, pd->cert->info->not_after));
        pd->cert = NULL;
        return;
    }
    pd->cert->taken = 1;
}

static target_t *target_for(import_t *im, const char *id)
{
    int i;

    for (i = 0; i < im->targets->nelts; i++) {
        target_t *t = &APR_ARRAY_IDX(im->targets, i, target_t);
        if (!strcmp(t->id, id)) {
            return t;
        }
    }
    return NULL;
}

/* The account a CA's Certbot certificates use is the one to take; with
 * none in use, the only one there is. */
static void plan_accounts(import_t *im, apr_pool_t *p)
{
    int i, j, k;

    for (i = 0; i < im->doms->nelts; i++) {
        plan_dom_t *pd = &APR_ARRAY_IDX(im->doms, i, plan_dom_t);
        for (j = 0; j < pd->d->servers->nelts; j++) {
            const char *s = APR_ARRAY_IDX(pd->d->servers, j, const char *);
            const char *id = module_account_id(p, pd->d, s);
            target_t *t = target_for(im, id);
            if (!t) {
                t = apr_array_push(im->targets);
                t->server = s;
                t->id = id;
                t->from = NULL;
                accounts_at(im, p, s);
            }
        }
    }
    for (i = 0; i < im->certs->nelts; i++) {
        cb_cert_t *c = APR_ARRAY_IDX(im->certs, i, cb_cert_t *);
        for (k = 0; c->account && k < im->accounts->nelts; k++) {
            cb_account_t *a = APR_ARRAY_IDX(im->accounts, k, cb_account_t *);
            if (!strcmp(a->id, c->account) && a->server && c->server
                && same_ca(p, a->server, c->server)) {
                a->uses += 1 + c->taken;
            }
        }
    }
    for (i = 0; i < im->targets->nelts; i++) {
        target_t *t = &APR_ARRAY_IDX(im->targets, i, target_t);
        for (k = 0; k < im->accounts->nelts; k++) {
            cb_account_t *a = APR_ARRAY_IDX(im->accounts, k, cb_account_t *);
            if (!a->why && a->server && same_ca(p, a->server, t->server)
                && (!t->from || a->uses > t->from->uses)) {
                t->from = a;
            }
        }
    }
}

/* --- the User's part ------------------------------------------------------ */

/* Is this account (URL) the one the module has for target t? 1 yes,
 * 0 none there yet, -1 another one. */
static int module_account(ax_ctx_t *ctx, const target_t *t, apr_pool_t *p,
                          const char **url)
{
    json_t *j;

    *url = NULL;
    if (acme_store_read_json(&j, acme_store_path(p, ctx->store,
                             ACME_AREA_ACCOUNTS, t->id, ACME_FN_ACCOUNT), p)
        != APR_SUCCESS || !(*url = acme_json_str(j, "url"))) {
        return 0;
    }
    return strcmp(*url, t->from->url) ? -1 : 1;
}

/* accounts/<id>/ as the job writes it: the key first, then account.json,
 * whose URL tells the job the account exists (it registers otherwise). */
static int write_account(ax_ctx_t *ctx, const target_t *t, apr_pool_t *p)
{
    const char *dir = acme_store_path(p, ctx->store, ACME_AREA_ACCOUNTS,
                                      t->id, NULL);
    json_t *acct = acme_json_pool_own(p, json_pack("{s:s,s:s,s:I,s:s}",
        "url", t->from->url, "server", t->server, "created",
        (json_int_t)apr_time_sec(apr_time_now()), "imported_from",
        t->from->dir));

    return acme_store_mkdirs(dir, 0700, p) == APR_SUCCESS
        && acme_store_write(apr_pstrcat(p, dir, "/", ACME_FN_ACCOUNT_KEY,
                                        NULL), t->from->key_pem,
                            strlen(t->from->key_pem), 0600, p)
           == APR_SUCCESS
        && acme_store_write_json(apr_pstrcat(p, dir, "/", ACME_FN_ACCOUNT,
                                             NULL), acct, 0600, p)
           == APR_SUCCESS;
}

static int import_account(ax_ctx_t *ctx, import_t *im, const target_t *t,
                          apr_pool_t *p)
{
    const char *have;
    int known = module_account(ctx, t, p, &have);

    if (known > 0) {
        printf("account %s: already the module's account at %s\n",
               t->from->url, t->server);
        return AX_OK;
    }
    if (known < 0) {
        printf("account %s: skipped for accounts/%s: the module has its "
               "own account at %s (%s) and keeps it\n", t->from->url, t->id,
               t->server, have);
        return AX_OK;
    }
    if (!im->dry_run && !write_account(ctx, t, p)) {
        ax_error("account %s: cannot write it to %s/%s/%s", t->from->url,
                 ctx->store_dir, acme_store_area_name(ACME_AREA_ACCOUNTS),
                 t->id);
        return AX_FAILED;
    }
    printf("account %s: %s for %s as accounts/%s (from %s)\n",
           t->from->url, im->dry_run ? "would be imported" : "imported",
           t->server, t->id, t->from->dir);
    return AX_OK;
}

/* A set staged by the job (or a renewal) the parent has not judged yet:
 * it is newer than anything Certbot has. */
static int unjudged_set(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                        apr_pool_t *p)
{
    acme_handoff_t h;
    char *meta, *verdict;
    apr_size_t mlen, vlen;

    if (acme_store_read(&meta, &mlen, acme_store_path(p, ctx->store,
                        ACME_AREA_STAGING, d->key, ACME_FN_STAGED),
                        ACME_STORE_META_MAX, p) != APR_SUCCESS) {
        return 0;
    }
    return acme_store_read(&verdict, &vlen, acme_store_path(p, ctx->store,
                           ACME_AREA_HANDOFF, acme_store_domain_file(p,
                           d->key), NULL), ACME_STORE_META_MAX, p)
           != APR_SUCCESS
        || acme_handoff_parse(&h, p, verdict, vlen) != APR_SUCCESS
        || strcmp(h.staged, acme_staged_digest(p, meta, mlen));
}

/* staging/<key>/ as the job's stage() leaves it: the chain and key of
 * the one key type, then staged.json with their digests. What was there
 * (a judged set, an order under way) goes, as after a verdict. */
static apr_status_t stage(ax_ctx_t *ctx, const plan_dom_t *pd, apr_pool_t *p)
{
    const acme_conf_domain_t *d = pd->d;
    const char *type = acme_key_type_name(pd->cert->type);
    const char *cert_fn = acme_store_pem_name(p, type, "cert");
    const char *key_fn = acme_store_pem_name(p, type, "key");
    const char *key_pem = pd->cert->key_pem;
    json_t *meta, *names = json_array();
    apr_status_t rv;
    int i;

    acme_store_remove_dir(acme_store_path(p, ctx->store, ACME_AREA_STAGING,
                                          d->key, NULL), p);

    for (i = 0; i < d->names->nelts; i++) {
        json_array_append_new(names, json_string(APR_ARRAY_IDX(d->names, i,
                                                               const char *)));
    }
    meta = acme_json_pool_own(p, json_pack("{s:o,s:[s],s:{s:s,s:s},s:s,"
        "s:I,s:s}", "names", names, "key_types", type, "files",
        cert_fn, acme_sha256_hex(p, pd->cert->chain_pem, pd->cert->chain_len),
        key_fn, acme_sha256_hex(p, key_pem, strlen(key_pem)), "server",
        pd->server, "staged", (json_int_t)apr_time_sec(apr_time_now()),
        "imported_from", apr_pstrcat(p, "certbot:", pd->cert->name, NULL)));
    if (!meta) {
        return APR_ENOMEM;
    }
    if ((rv = acme_store_mkdirs(acme_store_path(p, ctx->store,
                                ACME_AREA_STAGING, d->key, NULL), 0700, p))
        != APR_SUCCESS
        || (rv = acme_store_write(acme_store_path(p, ctx->store,
                                  ACME_AREA_STAGING, d->key, key_fn),
                                  key_pem, strlen(key_pem), 0600, p))
           != APR_SUCCESS
        || (rv = acme_store_write(acme_store_path(p, ctx->store,
                                  ACME_AREA_STAGING, d->key, cert_fn),
                                  pd->cert->chain_pem, pd->cert->chain_len,
                                  0644, p)) != APR_SUCCESS) {
        return rv;
    }
    return acme_store_write_json(acme_store_path(p, ctx->store,
                                 ACME_AREA_STAGING, d->key, ACME_FN_STAGED),
                                 meta, 0600, p);
}

/* The job's failures and backoff (a missing EAB, say) no longer apply;
 * server (when not NULL) is the one to renew with. */
static void reset_state(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                        const char *server, apr_pool_t *p)
{
    const char *path = acme_store_path(p, ctx->store, ACME_AREA_STATE,
        acme_store_domain_file(p, d->key), NULL);
    acme_state_t st;
    char *data;
    apr_size_t len;
    json_t *j;

    if (acme_store_read(&data, &len, path, ACME_STORE_FILE_MAX, p)
        != APR_SUCCESS || !(j = acme_json_parse(p, data, len))
        || acme_state_parse(&st, p, data, len, acme_json_str(j, "config"),
                            NULL, apr_time_now()) != APR_SUCCESS
        || !st.config) {
        return;    /* the job writes its own */
    }
    st.domain = d->name;
    st.failures = 0;
    st.next_attempt = 0;
    st.server = server ? server : st.server;
    st.last_error = NULL;
    acme_store_write_json(path, acme_state_to_json(p, &st, apr_time_now()),
                          0644, p);
}

static int import_cert(ax_ctx_t *ctx, import_t *im, const plan_dom_t *pd,
                       apr_pool_t *p, int *restart)
{
    const acme_conf_domain_t *d = pd->d;
    const cb_cert_t *c = pd->cert;

    if (unjudged_set(ctx, d, p)) {
        printf("%s: skipped: the module has made a newer certificate; it is "
               "staged in staging/%s\n", d->name, d->key);
        return AX_OK;
    }
    if (!im->dry_run && stage(ctx, pd, p) != APR_SUCCESS) {
        ax_error("%s: cannot stage Certbot's %s in %s/staging/%s", d->name,
                 c->name, ctx->store_dir, d->key);
        return AX_FAILED;
    }
    if (!im->dry_run) {
        reset_state(ctx, pd->d, pd->server, p);
    }
    printf("%s: %s Certbot's %s (serial %s, valid until %s, %s): %s\n",
           d->name, im->dry_run ? "would stage" : "staged", c->name,
           c->info->serial_hex, ax_time_str(p, c->info->not_after),
           acme_key_type_name(c->type), d->auto_restart
           ? "the server makes it live with its own graceful restart"
           : "ACMEAutoRestart is off: run 'apachectl graceful' to make it "
             "live");
    *restart |= d->auto_restart ? 1 : 2;
    return AX_OK;
}

static int import_as_user(ax_ctx_t *ctx, void *baton)
{
    import_t *im = baton;
    int i, rc = AX_OK, one, restart = 0;
    apr_pool_t *p;

    if (!im->dry_run && (rc = ax_lock(ctx, IMPORT_LOCK_WAIT)) != AX_OK) {
        return rc;
    }
    apr_pool_create(&p, ctx->pool);
    for (i = 0; i < im->targets->nelts; i++) {
        const target_t *t = &APR_ARRAY_IDX(im->targets, i, target_t);
        if (t->from && (one = import_account(ctx, im, t, p)) != AX_OK) {
            rc = one;
        }
    }
    for (i = 0; i < im->doms->nelts; i++) {
        const plan_dom_t *pd = &APR_ARRAY_IDX(im->doms, i, plan_dom_t);
        if (pd->cert && (one = import_cert(ctx, im, pd, p, &restart))
            != AX_OK) {
            rc = one;
        }
    }
    /* A domain that only needed the account (its renewal failed for
     * want of EAB values): its backoff no longer applies. The running job
     * keeps its own until its next attempt; a graceful restart starts
     * one at once. */
    for (i = 0; !im->dry_run && i < im->doms->nelts; i++) {
        const plan_dom_t *pd = &APR_ARRAY_IDX(im->doms, i, plan_dom_t);
        int k;
        for (k = 0; !pd->cert && k < im->targets->nelts; k++) {
            const target_t *t = &APR_ARRAY_IDX(im->targets, k, target_t);
            if (t->from && acme_str_in(pd->d->servers, t->server)) {
                reset_state(ctx, pd->d, NULL, p);
                printf("%s: its CA's account is imported: the background "
                       "job orders at its next attempt, or at once after "
                       "'apachectl graceful'\n", pd->d->name);
                break;
            }
        }
    }
    /* Last, as the job does: "look now". */
    if (!im->dry_run && (restart & 1)
        && acme_store_write(acme_store_path(p, ctx->store, ACME_AREA_STATE,
                            ACME_FN_RESTART, NULL), "restart\n", 8, 0644, p)
           != APR_SUCCESS) {
        ax_error("cannot write state/%s; the server makes the certificates "
                 "live at its next graceful restart", ACME_FN_RESTART);
    }
    if (rc == AX_OK && (restart & 2) && !im->dry_run) {
        rc = AX_PENDING;
    }
    ax_unlock(ctx);
    apr_pool_destroy(p);
    return rc;
}

/* --- output ------------------------------------------------------------- */

/* host[:port]/path of an account's CA, from where Certbot keeps it. */
static const char *ca_of(const import_t *im, apr_pool_t *p,
                         const cb_account_t *a)
{
    const char *top = apr_pstrcat(p, im->dir, "/accounts/", NULL);
    apr_size_t tl = strlen(top), dl = strlen(a->dir), il = strlen(a->id);

    if (strncmp(a->dir, top, tl) || dl < tl + il + 1) {
        return a->dir;
    }
    return apr_pstrndup(p, a->dir + tl, dl - tl - il - 1);
}

static void say_skipped(import_t *im, apr_pool_t *p)
{
    int i, j;

    for (i = 0; i < im->accounts->nelts; i++) {
        const cb_account_t *a = APR_ARRAY_IDX(im->accounts, i,
                                              cb_account_t *);
        int used = 0;

        for (j = 0; j < im->targets->nelts; j++) {
            used |= APR_ARRAY_IDX(im->targets, j, target_t).from == a;
        }
        if (used) {
            continue;
        }
        printf("account %s: skipped: %s\n", a->url ? a->url : a->dir,
               a->why ? apr_pstrcat(p, a->why, " (", a->dir, ")", NULL)
               : !a->server ? apr_psprintf(p, "its CA (%s) is no ACMEServer "
                                           "here (%s)", ca_of(im, p, a),
                                           a->dir)
               : "another Certbot account at the same CA is in use by its "
                 "certificates");
    }
    for (i = 0; i < im->certs->nelts; i++) {
        const cb_cert_t *c = APR_ARRAY_IDX(im->certs, i, cb_cert_t *);
        if (c->taken) {
            continue;
        }
        printf("certificate %s: skipped: %s\n", c->name, c->why ? c->why
               : "not taken for any ACMEDomain (each domain's line "
                 "below says why)");
    }
    for (i = 0; i < im->doms->nelts; i++) {
        const plan_dom_t *pd = &APR_ARRAY_IDX(im->doms, i, plan_dom_t);
        if (!pd->cert) {
            printf("%s: skipped: %s\n", pd->d->name, pd->why);
        }
    }
}

static void say_next_steps(import_t *im, apr_pool_t *p)
{
    apr_array_header_t *names = apr_array_make(p, 4, sizeof(char *));
    int i;

    for (i = 0; i < im->doms->nelts; i++) {
        const plan_dom_t *pd = &APR_ARRAY_IDX(im->doms, i, plan_dom_t);
        if (pd->cert) {
            APR_ARRAY_PUSH(names, const char *) = pd->cert->name;
        }
    }
    if (!names->nelts) {
        return;
    }
    printf("\nnext, once 'acmeauto status' shows these domains valid:\n"
           "  1. in httpd.conf, remove from their <VirtualHost>s the "
           "SSLCertificateFile and\n"
           "     SSLCertificateKeyFile lines that point into %s/live\n"
           "     and any Include of %s/options-ssl-apache.conf;\n"
           "     then 'apachectl configtest && apachectl graceful'\n"
           "  2. then stop Certbot renewing them: 'certbot delete "
           "--cert-name NAME' for\n"
           "     %s (not before step 1: Apache does not start while\n"
           "     httpd.conf names files that are gone); if Certbot manages "
           "nothing else,\n"
           "     'systemctl disable --now certbot.timer' (or remove "
           "/etc/cron.d/certbot)\n",
           im->dir, im->dir, acme_str_join(p, names, ", "));
}

static void usage(FILE *out)
{
    fprintf(out,
        "usage: acmeauto import-certbot [DIR] [--dry-run]\n\n"
        "Takes over Certbot's accounts and certificates from DIR (default "
        CERTBOT_DIR_DEFAULT "):\n"
        "  - an account at a CA that is an ACMEServer becomes the module's "
        "account\n    there, so no new EAB values are needed;\n"
        "  - a valid certificate that covers all names of an ACMEDomain, of "
        "its\n    ACMEKeyType and from one of its ACMEServers, is staged; the "
        "server\n    makes it live at its next graceful restart and renews it "
        "per\n    ACMERenewWindow.\n"
        "Prints one line per account, certificate and domain (imported or "
        "skipped,\nand why), then what to change in httpd.conf. Run as root "
        "(Certbot's keys\nare root's).\n\n"
        "  --dry-run   say what would be done; change nothing\n\n"
        "exit codes: 0 done (skipped things included); 1 something could "
        "not be\nwritten; 2 bad arguments; 3 no usable store, or DIR is no "
        "Certbot directory;\n4 the background job held the lock too long; "
        "5 staged, but ACMEAutoRestart\nis off: 'apachectl graceful' makes "
        "it live.\n");
}

int ax_cmd_import(ax_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_pool_t *p = ctx->pool;
    import_t im;
    struct stat st;
    int i, rc, dir_given = 0;

    memset(&im, 0, sizeof(im));
    im.dir = CERTBOT_DIR_DEFAULT;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return AX_OK;
        }
        if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n")) {
            im.dry_run = 1;
        }
        else if (argv[i][0] == '-' || dir_given++) {
            ax_error("import-certbot: unexpected %s", argv[i]);
            usage(stderr);
            return AX_USAGE;
        }
        else {
            im.dir = argv[i];
        }
    }
    if ((rc = ax_load_conf(ctx)) != AX_OK) {
        return rc;
    }
    if (stat(apr_pstrcat(p, im.dir, "/live", NULL), &st) != 0
        && stat(apr_pstrcat(p, im.dir, "/accounts", NULL), &st) != 0) {
        ax_error("%s is no Certbot directory (it has neither live/ nor "
                 "accounts/); name Certbot's --config-dir", im.dir);
        return AX_CONFIG;
    }
    im.accounts = apr_array_make(p, 4, sizeof(cb_account_t *));
    im.certs = apr_array_make(p, 8, sizeof(cb_cert_t *));
    im.targets = apr_array_make(p, 4, sizeof(target_t));
    im.doms = apr_array_make(p, ctx->conf->domains->nelts,
                             sizeof(plan_dom_t));
    walk_accounts(&im, p, apr_pstrcat(p, im.dir, "/accounts", NULL), 0);
    read_certs(&im, p);
    for (i = 0; i < ctx->conf->domains->nelts; i++) {
        plan_dom_t *pd = apr_array_push(im.doms);
        memset(pd, 0, sizeof(*pd));
        pd->d = APR_ARRAY_IDX(ctx->conf->domains, i, acme_conf_domain_t *);
        plan_domain(&im, ctx, p, pd);
    }
    plan_accounts(&im, p);
    rc = ax_as_user(ctx, import_as_user, &im);
    say_skipped(&im, p);
    if (rc == AX_OK || rc == AX_PENDING) {
        say_next_steps(&im, p);
    }
    fflush(stdout);
    return rc;
}
