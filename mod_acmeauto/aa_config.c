/* Directives (SPEC.md §2). Every handler has one shape: check the context,
 * parse, check the range, assign; it returns NULL or a message naming the
 * directive and the value. */
#include <stdlib.h>
#include <string.h>
#include <malloc.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <apr_hash.h>
#include <apr_strings.h>
#include <apr_uri.h>
#include <apr_lib.h>
#include <apr_user.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <util_cfgtree.h>

#include "aa_config.h"
#include "acme_util.h"
#include "acme_json.h"
#include "acme_dns.h"
#include "acme_alpn.h"

#define EAB_FILE_MAX 4096

void *aa_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    aa_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->tos = AA_UNSET;
    sc->auto_restart = AA_UNSET;
    sc->retry_delay = AA_UNSET;
    sc->check_interval = AA_UNSET;
    sc->max_orders = AA_UNSET;
    sc->status = AA_UNSET;
    sc->renew_pct = AA_UNSET;
    sc->renew_left = AA_UNSET;
    sc->activation_delay = AA_UNSET;
    sc->dns_wait = AA_UNSET;
    sc->domains = apr_array_make(p, 2, sizeof(aa_domain_t *));
    return sc;
}

/* ACMEEAB URL ... of this context by URL, then the inherited ones for
 * other URLs. A plain ACMEEAB here stands for every URL, so it hides
 * the inherited per-URL values: the nearer context wins. */
static apr_array_header_t *merge_eab_urls(apr_pool_t *p,
                                          const aa_srv_conf_t *base,
                                          const aa_srv_conf_t *add)
{
    apr_array_header_t *a;
    int i, j, seen;

    if (!base->eab_urls || add->eab_set) {
        return add->eab_urls;
    }
    if (!add->eab_urls) {
        return base->eab_urls;
    }
    a = apr_array_copy(p, add->eab_urls);
    for (i = 0; i < base->eab_urls->nelts; i++) {
        aa_eab_url_t *e = APR_ARRAY_IDX(base->eab_urls, i, aa_eab_url_t *);
        for (j = seen = 0; j < add->eab_urls->nelts; j++) {
            seen |= !strcmp(e->url, APR_ARRAY_IDX(add->eab_urls, j,
                                                  aa_eab_url_t *)->url);
        }
        if (!seen) {
            APR_ARRAY_PUSH(a, aa_eab_url_t *) = e;
        }
    }
    return a;
}

void *aa_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    aa_srv_conf_t *base = basev, *add = addv;
    aa_srv_conf_t *sc = apr_pcalloc(p, sizeof(*sc));

    sc->servers = add->servers ? add->servers : base->servers;
    sc->eab_set = add->eab_set || base->eab_set;
    sc->eab = add->eab_set ? add->eab : base->eab;
    sc->eab_urls = merge_eab_urls(p, base, add);
    sc->contacts = add->contacts ? add->contacts : base->contacts;
    sc->tos = add->tos != AA_UNSET ? add->tos : base->tos;
    sc->tos_url = add->tos != AA_UNSET ? add->tos_url : base->tos_url;
    sc->key_types = add->key_types ? add->key_types : base->key_types;
    sc->profile = add->profile ? add->profile : base->profile;
    sc->profile_mandatory = add->profile ? add->profile_mandatory
                                         : base->profile_mandatory;
    sc->auto_restart = add->auto_restart != AA_UNSET ? add->auto_restart
                                                     : base->auto_restart;
    sc->retry_delay = add->retry_delay != AA_UNSET ? add->retry_delay
                                                   : base->retry_delay;
    /* The two forms of ACMERenewWindow travel together. */
    sc->renew_pct = (add->renew_pct != AA_UNSET || add->renew_left != AA_UNSET)
                    ? add->renew_pct : base->renew_pct;
    sc->renew_left = (add->renew_pct != AA_UNSET || add->renew_left != AA_UNSET)
                     ? add->renew_left : base->renew_left;
    sc->activation_delay = add->activation_delay != AA_UNSET
        ? add->activation_delay : base->activation_delay;
    sc->ca_file = add->ca_file ? add->ca_file : base->ca_file;
    sc->http_proxy = add->http_proxy ? add->http_proxy : base->http_proxy;
    sc->notify_cmd = add->notify_cmd ? add->notify_cmd : base->notify_cmd;
    sc->deploy_cmd = add->deploy_cmd ? add->deploy_cmd : base->deploy_cmd;
    sc->challenges = add->challenges ? add->challenges : base->challenges;
    sc->challenges_set = add->challenges_set || base->challenges_set;
    sc->dns_cmd = add->dns_cmd ? add->dns_cmd : base->dns_cmd;
    /* The wait and its resolver travel together. */
    sc->dns_resolver = add->dns_wait != AA_UNSET ? add->dns_resolver
                                                 : base->dns_resolver;
    sc->dns_wait = add->dns_wait != AA_UNSET ? add->dns_wait : base->dns_wait;
    sc->store_dir = base->store_dir;
    sc->check_interval = base->check_interval;
    sc->max_orders = base->max_orders;
    sc->status = base->status;
    sc->domains = add->domains;    /* a domain belongs to where it is written */
    return sc;
}

static aa_srv_conf_t *conf_of(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &acmeauto_module);
}

static const char *bad(cmd_parms *cmd, const char *value, const char *why)
{
    return apr_psprintf(cmd->pool, "%s: '%s' %s", cmd->cmd->name, value, why);
}

static const char *main_server_only(cmd_parms *cmd)
{
    if (cmd->server->is_virtual) {
        return apr_psprintf(cmd->pool, "%s is not allowed inside "
                            "<VirtualHost>: it applies to the whole server",
                            cmd->cmd->name);
    }
    return ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
}

/* Terms of service may be any URL (Pebble's is a data: URL). */
static int is_url(apr_pool_t *p, const char *s)
{
    apr_uri_t uri;

    return apr_uri_parse(p, s, &uri) == APR_SUCCESS && uri.scheme
        && strlen(uri.scheme) > 1 && strchr(s, ':');
}

static int is_http_url(apr_pool_t *p, const char *s)
{
    apr_uri_t uri;

    return apr_uri_parse(p, s, &uri) == APR_SUCCESS && uri.scheme
        && (!strcasecmp(uri.scheme, "https") || !strcasecmp(uri.scheme, "http"))
        && uri.hostname && *uri.hostname;
}

static const char *set_server(cmd_parms *cmd, void *dc, int argc,
                              char *const argv[])
{
    aa_srv_conf_t *sc = conf_of(cmd);
    int i;

    if (argc < 1) {
        return "ACMEServer needs at least one ACME directory URL";
    }
    sc->servers = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        if (!is_http_url(cmd->pool, argv[i])) {
            return bad(cmd, argv[i], "is not an http(s) URL of an ACME "
                       "directory");
        }
        /* Kept byte for byte: some CAs select renew/reissue by query. */
        APR_ARRAY_PUSH(sc->servers, const char *) = argv[i];
    }
    return NULL;
}

/* The decoded EAB key lives as long as pconf and is wiped with it, so
 * that no earlier generation's copy lingers in the parent's free memory
 * (which every child inherits). */
static apr_status_t wipe_key(void *data)
{
    apr_size_t *len = data;

    OPENSSL_cleanse(len + 1, *len);
    return APR_SUCCESS;
}

static const char *eab_assign(cmd_parms *cmd, aa_eab_t *out,
                              const char *kid, char *hmac,
                              const char *origin)
{
    unsigned char *key, *held;
    apr_size_t len, *box;
    apr_status_t rv = acme_b64_decode(&key, &len, cmd->pool, hmac);

    OPENSSL_cleanse(hmac, strlen(hmac));    /* our copy of the text */
    if (rv != APR_SUCCESS || len == 0) {
        /* Never echo the secret itself. */
        return apr_psprintf(cmd->pool, "%s: the HMAC key for '%s' is not "
                            "base64url or base64", cmd->cmd->name, kid);
    }
    if (!*kid) {
        OPENSSL_cleanse(key, len);
        return bad(cmd, origin, "has an empty key identifier");
    }
    box = apr_palloc(cmd->pool, sizeof(*box) + len);
    *box = len;
    held = (unsigned char *)(box + 1);
    memcpy(held, key, len);
    OPENSSL_cleanse(key, len);
    apr_pool_cleanup_register(cmd->pool, box, wipe_key,
                              apr_pool_cleanup_null);
    out->kid = kid;
    out->hmac = held;
    out->hmac_len = len;
    out->file = NULL;
    return NULL;
}

/* jansson's memory is wiped before it is freed while the EAB file is
 * parsed: the secret must not linger in freed heap either. */
static void free_wiped(void *ptr)
{
    if (ptr) {
        OPENSSL_cleanse(ptr, malloc_usable_size(ptr));
        free(ptr);
    }
}

/* The EAB key is a secret that only root needs (the parent reads it at
 * startup, the acmeauto command as root): a file that other users can
 * read gives the CA account away. Group root may read it. */
static const char *eab_file_private(cmd_parms *cmd, const char *arg,
                                    const char *path)
{
    apr_finfo_t fi;
    char *group = NULL;

    if (apr_stat(&fi, path, APR_FINFO_PROT | APR_FINFO_GROUP, cmd->pool)
        != APR_SUCCESS) {
        return NULL;    /* the read that follows says why */
    }
    if (fi.protection & APR_FPROT_WREAD) {
        return bad(cmd, arg, apr_psprintf(cmd->pool, "is readable by every "
                   "user of this machine, and it holds the secret EAB key "
                   "of your CA account: run 'chmod 600 %s' (and ask the CA "
                   "for new EAB values if untrusted users may have read "
                   "it)", path));
    }
    if ((fi.protection & APR_FPROT_GREAD) && fi.group != 0) {
        if (apr_gid_name_get(&group, fi.group, cmd->pool) != APR_SUCCESS) {
            group = apr_psprintf(cmd->pool, "%ld", (long)fi.group);
        }
        return bad(cmd, arg, apr_psprintf(cmd->pool, "is readable by group "
                   "%s, and it holds the secret EAB key of your CA account: "
                   "run 'chmod 600 %s' (only root needs to read it)",
                   group, path));
    }
    return NULL;
}

static const char *eab_from_file(cmd_parms *cmd, aa_eab_t *out,
                                 const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg + 5), *err;
    char *kid = NULL, *hmac = NULL, *data;
    json_malloc_t old_malloc;
    json_free_t old_free;
    apr_size_t len;
    json_t *j;

    if (path && (err = eab_file_private(cmd, arg, path)) != NULL) {
        return err;
    }
    if (!path || acme_store_read(&data, &len, path, EAB_FILE_MAX,
                                 cmd->pool) != APR_SUCCESS) {
        return bad(cmd, arg, "cannot be read");
    }
    json_get_alloc_funcs(&old_malloc, &old_free);
    json_set_alloc_funcs(malloc, free_wiped);
    j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    OPENSSL_cleanse(data, len);
    if (json_is_string(json_object_get(j, "kid"))
        && json_is_string(json_object_get(j, "hmac"))) {
        kid = apr_pstrdup(cmd->pool, json_string_value(
            json_object_get(j, "kid")));
        hmac = apr_pstrdup(cmd->pool, json_string_value(
            json_object_get(j, "hmac")));
    }
    json_decref(j);
    json_set_alloc_funcs(old_malloc, old_free);
    if (!kid || !hmac) {
        return bad(cmd, arg, "must hold a JSON object with string members "
                   "\"kid\" and \"hmac\"");
    }
    if ((err = eab_assign(cmd, out, kid, hmac, arg)) == NULL) {
        out->file = path;    /* for the acmeauto command, which reads it
                              * as root when it must register */
    }
    return err;
}

/* The values of one ACMEEAB: KID HMAC, file:PATH or none. */
static const char *eab_values(cmd_parms *cmd, aa_eab_t *out, const char *a1,
                              const char *a2)
{
    memset(out, 0, sizeof(*out));
    if (a2) {
        return eab_assign(cmd, out, a1, apr_pstrdup(cmd->pool, a2), a1);
    }
    if (!strcasecmp(a1, "none")) {
        return NULL;
    }
    if (!strncmp(a1, "file:", 5)) {
        return eab_from_file(cmd, out, a1);
    }
    return bad(cmd, a1, "needs a second argument: use 'ACMEEAB KID HMAC', "
               "'ACMEEAB file:PATH' or 'ACMEEAB none' (each may follow an "
               "ACMEServer URL)");
}

/* A key id is never an http(s) URL, so a first argument that is one
 * names the ACMEServer the values are for. */
static int names_a_server(const char *arg)
{
    return !strncasecmp(arg, "https://", 8) || !strncasecmp(arg, "http://", 7);
}

static const char *set_eab_url(cmd_parms *cmd, aa_srv_conf_t *sc,
                               const char *url, const char *a2,
                               const char *a3)
{
    aa_eab_url_t *e;
    int i;

    if (!is_http_url(cmd->pool, url)) {
        return bad(cmd, url, "is not an http(s) URL of an ACME directory");
    }
    if (!a2) {
        return bad(cmd, url, "needs the values for that CA: 'ACMEEAB URL KID "
                   "HMAC', 'ACMEEAB URL file:PATH' or 'ACMEEAB URL none'");
    }
    for (i = 0; sc->eab_urls && i < sc->eab_urls->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(sc->eab_urls, i, aa_eab_url_t *)->url,
                    url)) {
            return bad(cmd, url, "has ACMEEAB values twice here");
        }
    }
    e = apr_pcalloc(cmd->pool, sizeof(*e));
    e->url = url;
    e->defined_in = cmd->server;
    e->defined_at = apr_psprintf(cmd->pool, "%s:%d",
                                 cmd->directive->filename,
                                 cmd->directive->line_num);
    if (a3 && !strncmp(a2, "file:", 5)) {
        return bad(cmd, a3, "is one argument too many after file:PATH");
    }
    if (a3 && !strcasecmp(a2, "none")) {
        return bad(cmd, a3, "is one argument too many after none");
    }
    if (!sc->eab_urls) {
        sc->eab_urls = apr_array_make(cmd->pool, 2, sizeof(aa_eab_url_t *));
    }
    APR_ARRAY_PUSH(sc->eab_urls, aa_eab_url_t *) = e;
    return eab_values(cmd, &e->eab, a2, a3);
}

static const char *set_eab(cmd_parms *cmd, void *dc, const char *a1,
                           const char *a2, const char *a3)
{
    aa_srv_conf_t *sc = conf_of(cmd);

    if (names_a_server(a1)) {
        return set_eab_url(cmd, sc, a1, a2, a3);
    }
    if (a3) {
        return bad(cmd, a3, "is one argument too many: use 'ACMEEAB KID "
                   "HMAC', or 'ACMEEAB URL KID HMAC' for one ACMEServer URL");
    }
    sc->eab_set = 1;
    return eab_values(cmd, &sc->eab, a1, a2);
}

static const char *set_domain(cmd_parms *cmd, void *dc, int argc,
                              char *const argv[])
{
    aa_srv_conf_t *sc = conf_of(cmd);
    aa_domain_t *d;
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT), *name;
    int i, j;

    if (err) {
        return err;
    }
    if (argc == 0 && !cmd->server->is_virtual) {
        return "ACMEDomain without names is only allowed inside <VirtualHost> "
               "(it then takes the ServerName and ServerAlias)";
    }
    d = apr_pcalloc(cmd->pool, sizeof(*d));
    d->names = apr_array_make(cmd->pool, argc + 1, sizeof(const char *));
    d->defined_in = cmd->server;
    d->from_vhost = (argc == 0);
    d->defined_at = apr_psprintf(cmd->pool, "%s:%d",
                                 cmd->directive->filename,
                                 cmd->directive->line_num);
    for (i = 0; i < argc; i++) {
        /* Addresses become RFC 8738 "ip" identifiers, kept in their
         * canonical text so that the store key, the coverage checks and
         * the CA's answers all spell them alike. */
        if (!acme_name_normalize(&name, cmd->pool, argv[i])) {
            return bad(cmd, argv[i], "is neither a valid DNS name nor an "
                       "IP address");
        }
        for (j = 0; j < d->names->nelts; j++) {
            if (!strcmp(APR_ARRAY_IDX(d->names, j, const char *), name)) {
                return bad(cmd, argv[i], "is listed twice");
            }
        }
        APR_ARRAY_PUSH(d->names, const char *) = name;
    }
    d->name = argc ? APR_ARRAY_IDX(d->names, 0, const char *) : NULL;
    APR_ARRAY_PUSH(sc->domains, aa_domain_t *) = d;
    return NULL;
}

static const char *set_contact(cmd_parms *cmd, void *dc, int argc,
                               char *const argv[])
{
    aa_srv_conf_t *sc = conf_of(cmd);
    int i;

    if (argc < 1) {
        return "ACMEContact needs at least one e-mail address";
    }
    sc->contacts = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        const char *addr = argv[i], *at;
        if (!strncasecmp(addr, "mailto:", 7)) {
            addr += 7;
        }
        at = strchr(addr, '@');
        if (!at || at == addr || !at[1] || strchr(at + 1, '@')
            || strpbrk(addr, " \t,;<>\"")) {
            return bad(cmd, argv[i], "is not an e-mail address");
        }
        APR_ARRAY_PUSH(sc->contacts, const char *) =
            apr_pstrcat(cmd->pool, "mailto:", addr, NULL);
    }
    return NULL;
}

static const char *set_agree_tos(cmd_parms *cmd, void *dc, const char *arg)
{
    aa_srv_conf_t *sc = conf_of(cmd);

    if (!strcasecmp(arg, "on")) {
        sc->tos = 1;
    }
    else if (!strcasecmp(arg, "off")) {
        sc->tos = 0;
    }
    else if (is_url(cmd->pool, arg)) {
        sc->tos = 1;
        sc->tos_url = arg;
    }
    else {
        return bad(cmd, arg, "must be on, off or the URL of the CA's terms "
                   "of service");
    }
    return NULL;
}

static const char *set_key_type(cmd_parms *cmd, void *dc, int argc,
                                char *const argv[])
{
    aa_srv_conf_t *sc = conf_of(cmd);
    int i, j;

    if (argc < 1) {
        return "ACMEKeyType needs at least one of rsa2048, rsa3072, rsa4096, "
               "ec256, ec384";
    }
    sc->key_types = apr_array_make(cmd->pool, argc, sizeof(acme_key_type_e));
    for (i = 0; i < argc; i++) {
        acme_key_type_e t = acme_key_type_parse(argv[i]);
        if (t == ACME_KEY_NONE) {
            return bad(cmd, argv[i], "is not a key type; use rsa2048, "
                       "rsa3072, rsa4096, ec256 or ec384");
        }
        for (j = 0; j < sc->key_types->nelts; j++) {
            if (APR_ARRAY_IDX(sc->key_types, j, acme_key_type_e) == t) {
                return bad(cmd, argv[i], "is listed twice");
            }
        }
        APR_ARRAY_PUSH(sc->key_types, acme_key_type_e) = t;
    }
    return NULL;
}

static const char *set_store_dir(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = main_server_only(cmd);

    if (err) {
        return err;
    }
    if (!*arg) {
        return bad(cmd, arg, "is empty");
    }
    conf_of(cmd)->store_dir = ap_server_root_relative(cmd->pool, arg);
    return conf_of(cmd)->store_dir ? NULL : bad(cmd, arg, "is not a valid path");
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_finfo_t fi;

    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_REG) {
        return bad(cmd, arg, "is not a readable file");
    }
    conf_of(cmd)->ca_file = path;
    return NULL;
}

/* on | off into *out. */
static const char *on_off(cmd_parms *cmd, const char *arg, int *out)
{
    if (strcasecmp(arg, "on") && strcasecmp(arg, "off")) {
        return bad(cmd, arg, "must be on or off");
    }
    *out = !strcasecmp(arg, "on");
    return NULL;
}

static const char *set_auto_restart(cmd_parms *cmd, void *dc, const char *arg)
{
    return on_off(cmd, arg, &conf_of(cmd)->auto_restart);
}

static const char *set_status(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = main_server_only(cmd);

    return err ? err : on_off(cmd, arg, &conf_of(cmd)->status);
}

/* For a number without unit: the readings that the directive accepts,
 * "did you mean 12m or 12h?", so the fix is one edit. */
static const char *unit_hint(apr_pool_t *p, const char *num,
                             apr_interval_time_t min, apr_interval_time_t max)
{
    static const char units[] = "smhd";
    const char *fits[4];
    apr_interval_time_t d;
    int i, n = 0;

    for (i = 0; units[i]; i++) {
        if (acme_parse_duration(&d, apr_psprintf(p, "%s%c", num, units[i]))
            == APR_SUCCESS && d >= min && d <= max) {
            fits[n++] = apr_psprintf(p, "%s%c", num, units[i]);
        }
    }
    if (n == 0) {
        return "has no unit: write it with s, m, h or d";
    }
    return apr_psprintf(p, "has no unit: did you mean %s%s%s%s%s%s%s? "
                        "(s, m, h or d: a bare number is not accepted)",
                        fits[0], n > 2 ? ", " : "", n > 2 ? fits[1] : "",
                        n > 3 ? ", " : "", n > 3 ? fits[2] : "",
                        n > 1 ? " or " : "", n > 1 ? fits[n - 1] : "");
}

static const char *parse_duration(cmd_parms *cmd, const char *arg,
                                  apr_interval_time_t min,
                                  apr_interval_time_t max,
                                  apr_interval_time_t *out)
{
    apr_interval_time_t d;
    apr_status_t rv = acme_parse_duration(&d, arg);

    if (rv == APR_EINCOMPLETE) {
        return bad(cmd, arg, unit_hint(cmd->pool, arg, min, max));
    }
    if (rv != APR_SUCCESS) {
        return bad(cmd, arg, "is not a duration (a number with s, m, h or d)");
    }
    if (d < min || d > max) {
        return bad(cmd, arg, apr_psprintf(cmd->pool, "is out of range (%s to "
                   "%s)", acme_duration_str(cmd->pool, min),
                   acme_duration_str(cmd->pool, max)));
    }
    *out = d;
    return NULL;
}

static const char *set_check_interval(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    const char *err = main_server_only(cmd);

    return err ? err : parse_duration(cmd, arg, apr_time_from_sec(1),
                                      apr_time_from_sec(7 * 86400),
                                      &conf_of(cmd)->check_interval);
}

static const char *set_max_orders(cmd_parms *cmd, void *dc,
                                  const char *arg)
{
    const char *err = main_server_only(cmd);
    apr_int64_t n;

    if (err) {
        return err;
    }
    if (acme_parse_int64(&n, arg, 1, AA_MAX_ORDERS_LIMIT)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "ACMEMaxOrders: '%s' is not a "
                            "number from 1 to %d (orders at once per CA)",
                            arg, AA_MAX_ORDERS_LIMIT);
    }
    conf_of(cmd)->max_orders = (int)n;
    return NULL;
}

static const char *set_retry_delay(cmd_parms *cmd, void *dc, const char *arg)
{
    return parse_duration(cmd, arg, apr_time_from_sec(1), AA_MAX_RETRY_DELAY,
                          &conf_of(cmd)->retry_delay);
}

static const char *set_renew_window(cmd_parms *cmd, void *dc,
                                    const char *arg)
{
    aa_srv_conf_t *sc = conf_of(cmd);
    apr_size_t len = strlen(arg);
    apr_int64_t pct;

    if (len > 1 && arg[len - 1] == '%') {
        if (acme_parse_int64(&pct, apr_pstrndup(cmd->pool, arg, len - 1), 1,
                             99) != APR_SUCCESS) {
            return bad(cmd, arg, "must be a percentage from 1% to 99%");
        }
        sc->renew_pct = (int)pct;
        sc->renew_left = AA_UNSET;
        return NULL;
    }
    sc->renew_pct = AA_UNSET;
    return parse_duration(cmd, arg, apr_time_from_sec(3600),
                          apr_time_from_sec(3650 * 86400), &sc->renew_left);
}

static const char *set_activation_delay(cmd_parms *cmd, void *dc,
                                        const char *arg)
{
    return parse_duration(cmd, arg, 0, apr_time_from_sec(7 * 86400),
                          &conf_of(cmd)->activation_delay);
}

/* The challenge types this version answers; the job's table
 * (core/acme_authz.c) has the same names. */
static int challenge_known(const char *type)
{
    static const char *const types[] = { "http-01", "dns-01",
                                         "dns-persist-01",
                                         ACME_ALPN_CHALLENGE, NULL };
    int i;

    for (i = 0; types[i]; i++) {
        if (!strcasecmp(type, types[i])) {
            return 1;
        }
    }
    return 0;
}

static const char *set_challenges(cmd_parms *cmd, void *dc, int argc,
                                  char *const argv[])
{
    aa_srv_conf_t *sc = conf_of(cmd);
    apr_array_header_t *a;
    int i, j;

    if (argc < 1) {
        return "ACMEChallenges needs at least one challenge type";
    }
    a = apr_array_make(cmd->pool, argc, sizeof(const char *));
    for (i = 0; i < argc; i++) {
        if (!challenge_known(argv[i])) {
            return bad(cmd, argv[i], "is not a challenge type this version "
                       "answers (http-01, dns-01, dns-persist-01, "
                       "tls-alpn-01)");
        }
        for (j = 0; j < i; j++) {
            if (!strcasecmp(argv[i], argv[j])) {
                return bad(cmd, argv[i], "is listed twice");
            }
        }
        APR_ARRAY_PUSH(a, const char *) = apr_pstrdup(cmd->pool, argv[i]);
        ap_str_tolower(APR_ARRAY_IDX(a, i, char *));
    }
    sc->challenges = a;
    sc->challenges_set = 1;
    return NULL;
}

/* PATH [ARG...] of a program the job runs as the server's User: an
 * executable regular file that everybody may run (relative to
 * ServerRoot); *argv gets PATH resolved and the arguments. */
static const char *user_program(cmd_parms *cmd, int argc, char *const argv[],
                                const char *why, apr_array_header_t **out)
{
    const char *path;
    apr_finfo_t fi;
    int i;

    if (argc < 1) {
        return apr_psprintf(cmd->pool, "%s needs the path of a program",
                            cmd->cmd->name);
    }
    path = ap_server_root_relative(cmd->pool, argv[0]);
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_PROT,
                          cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_REG || !(fi.protection & APR_FPROT_WEXECUTE)) {
        return bad(cmd, argv[0], apr_pstrcat(cmd->pool, "is not a program "
                   "that everybody may run ", why, NULL));
    }
    *out = apr_array_make(cmd->pool, argc, sizeof(const char *));
    APR_ARRAY_PUSH(*out, const char *) = path;
    for (i = 1; i < argc; i++) {
        APR_ARRAY_PUSH(*out, const char *) = argv[i];
    }
    return NULL;
}

/* ACMEProfile NAME [mandatory] (draft-ietf-acme-profiles). The name is
 * the CA's: it goes into newOrder as given. */
static const char *set_profile(cmd_parms *cmd, void *dc, const char *name,
                               const char *flag)
{
    aa_srv_conf_t *sc = conf_of(cmd);
    size_t n = strlen(name);

    if (!n || n > 64 || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
                        != n) {
        return bad(cmd, name, "is not a profile name (letters, digits, "
                   "'.', '_' and '-', as the CA's directory lists them)");
    }
    if (flag && strcasecmp(flag, "mandatory")) {
        return bad(cmd, flag, "is not understood after the profile name; "
                   "only \"mandatory\" is");
    }
    sc->profile = name;
    sc->profile_mandatory = flag != NULL;
    return NULL;
}

/* Runs as the server's User, like ACMENotifyCmd. */
static const char *set_dns_cmd(cmd_parms *cmd, void *dc, int argc,
                               char *const argv[])
{
    return user_program(cmd, argc, argv, "(it runs as the server's User, "
                        "without a shell)", &conf_of(cmd)->dns_cmd);
}

/* ACMEDNSWait DURATION [RESOLVER]: without a resolver a plain wait; with
 * one, the longest wait for the records to be visible there. */
static const char *set_dns_wait(cmd_parms *cmd, void *dc, const char *arg,
                                const char *resolver)
{
    aa_srv_conf_t *sc = conf_of(cmd);
    const char *err = parse_duration(cmd, arg, 0, apr_time_from_sec(3600),
                                     &sc->dns_wait);

    if (err) {
        return err;
    }
    if (resolver && acme_dns_resolver_check(resolver, cmd->pool)
                    != APR_SUCCESS) {
        return bad(cmd, resolver, "is not a resolver address: an IP "
                   "address with an optional port (192.0.2.53, "
                   "127.0.0.1:8053, [2001:db8::53]:53)");
    }
    sc->dns_resolver = resolver;
    return NULL;
}

/* libcurl's proxy schemes; socks5h resolves the CA's name at the proxy. */
static int is_proxy_scheme(const char *scheme)
{
    static const char *const schemes[] = {
        "http", "https", "socks4", "socks4a", "socks5", "socks5h", NULL
    };
    int i;

    for (i = 0; scheme && schemes[i]; i++) {
        if (!strcasecmp(scheme, schemes[i])) {
            return 1;
        }
    }
    return 0;
}

static const char *set_http_proxy(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_uri_t uri;

    if (!strcasecmp(arg, "none")) {
        conf_of(cmd)->http_proxy = "";    /* libcurl: no proxy, whatever
                                           * the environment says */
        return NULL;
    }
    if (apr_uri_parse(cmd->pool, arg, &uri) != APR_SUCCESS
        || !is_proxy_scheme(uri.scheme) || !uri.hostname || !*uri.hostname
        || (uri.path && strcmp(uri.path, "/")) || uri.query
        || uri.fragment) {
        return bad(cmd, arg, "is not a proxy URL: use http://HOST:PORT "
                   "(or https://, socks5h://...), or none to connect to the "
                   "CA directly even when the environment names a proxy");
    }
    if (uri.user || uri.password) {
        /* It would be written to handoff/config.json for the command. */
        return bad(cmd, arg, "carries a user name or password: keep them "
                   "out of httpd.conf and leave ACMEHttpProxy unset; give "
                   "the proxy URL with its credentials in https_proxy in "
                   "Apache's environment (/etc/apache2/envvars) instead");
    }
    conf_of(cmd)->http_proxy = arg;
    return NULL;
}

static const char *set_notify_cmd(cmd_parms *cmd, void *dc, int argc,
                                  char *const argv[])
{
    return user_program(cmd, argc, argv, "(the command runs as the "
                        "server's User)", &conf_of(cmd)->notify_cmd);
}

/* Run by root: a program the server's User (or anybody but root) could
 * change would be a way to root. */
static const char *set_deploy_cmd(cmd_parms *cmd, void *dc, int argc,
                                  char *const argv[])
{
    aa_srv_conf_t *sc = conf_of(cmd);
    const char *path;
    apr_finfo_t fi;
    int i;

    if (argc < 1) {
        return "ACMEDeployCmd needs the path of a program";
    }
    path = ap_server_root_relative(cmd->pool, argv[0]);
    if (!path || apr_stat(&fi, path, APR_FINFO_TYPE | APR_FINFO_PROT
                          | APR_FINFO_USER, cmd->pool) != APR_SUCCESS
        || fi.filetype != APR_REG || !(fi.protection & APR_FPROT_UEXECUTE)) {
        return bad(cmd, argv[0], "is not an executable program (it runs as "
                   "root, without a shell)");
    }
    if ((fi.protection & (APR_FPROT_GWRITE | APR_FPROT_WWRITE))
        || (fi.user != 0 && fi.user != geteuid())) {
        return bad(cmd, argv[0], "may be changed by others than root (it "
                   "runs as root): make it owned by root and writable by "
                   "root only");
    }
    sc->deploy_cmd = apr_array_make(cmd->pool, argc, sizeof(const char *));
    APR_ARRAY_PUSH(sc->deploy_cmd, const char *) = path;
    for (i = 1; i < argc; i++) {
        APR_ARRAY_PUSH(sc->deploy_cmd, const char *) = argv[i];
    }
    return NULL;
}

static const char *set_restart_window(cmd_parms *cmd, void *dc,
                                      const char *arg)
{
    aa_srv_conf_t *sc = conf_of(cmd);
    const char *err = main_server_only(cmd);

    if (err) {
        return err;
    }
    if (acme_window_parse(&sc->restart_window, arg) != APR_SUCCESS) {
        return bad(cmd, arg, "is not a daily window HH:MM-HH:MM in local "
                   "time (e.g. 02:00-05:00; 22:00-02:00 spans midnight)");
    }
    sc->restart_window_set = 1;
    return NULL;
}

const command_rec aa_directives[] = {
    AP_INIT_TAKE_ARGV("ACMEServer", set_server, NULL, RSRC_CONF,
        "ACME directory URL(s), tried in order"),
    AP_INIT_TAKE123("ACMEEAB", set_eab, NULL, RSRC_CONF,
        "External Account Binding: [URL] KID HMAC, [URL] file:PATH or "
        "[URL] none"),
    AP_INIT_TAKE_ARGV("ACMEDomain", set_domain, NULL, RSRC_CONF,
        "Names of one managed certificate (none in a VirtualHost: its names)"),
    AP_INIT_TAKE_ARGV("ACMEContact", set_contact, NULL, RSRC_CONF,
        "Contact e-mail address(es) of the ACME account"),
    AP_INIT_TAKE1("ACMEAgreeTOS", set_agree_tos, NULL, RSRC_CONF,
        "on, off or the URL of the accepted terms of service"),
    AP_INIT_TAKE_ARGV("ACMEKeyType", set_key_type, NULL, RSRC_CONF,
        "Certificate key type(s): rsa2048 rsa3072 rsa4096 ec256 ec384"),
    AP_INIT_TAKE1("ACMEStoreDir", set_store_dir, NULL, RSRC_CONF,
        "Directory for accounts, keys, certificates and state"),
    AP_INIT_TAKE1("ACMECACertificate", set_ca_file, NULL, RSRC_CONF,
        "PEM trust anchors for connections to the ACME server"),
    AP_INIT_TAKE1("ACMEAutoRestart", set_auto_restart, NULL, RSRC_CONF,
        "on: restart gracefully when new certificates are ready"),
    AP_INIT_TAKE1("ACMECheckInterval", set_check_interval, NULL, RSRC_CONF,
        "How often all certificates are checked"),
    AP_INIT_TAKE1("ACMEMaxOrders", set_max_orders, NULL, RSRC_CONF,
        "Orders run at once at each CA (1 to 64, default 5)"),
    AP_INIT_TAKE1("ACMERetryDelay", set_retry_delay, NULL, RSRC_CONF,
        "First delay after a failure; grows with each further failure"),
    AP_INIT_TAKE1("ACMERenewWindow", set_renew_window, NULL, RSRC_CONF,
        "Renew when this much lifetime remains: N% or a duration (30d)"),
    AP_INIT_TAKE1("ACMEActivationDelay", set_activation_delay, NULL,
        RSRC_CONF, "Hold a renewed certificate back this long after issuance"),
    AP_INIT_TAKE_ARGV("ACMEChallenges", set_challenges, NULL, RSRC_CONF,
        "Challenge types in order of preference (http-01, tls-alpn-01, "
        "dns-01, dns-persist-01)"),
    AP_INIT_TAKE12("ACMEProfile", set_profile, NULL, RSRC_CONF,
        "Certificate profile to order when the CA offers it; "
        "'mandatory': never order without it"),
    AP_INIT_TAKE_ARGV("ACMEDNSCmd", set_dns_cmd, NULL, RSRC_CONF,
        "Program run as PATH ARG... setup|teardown NAME VALUE for dns-01"),
    AP_INIT_TAKE12("ACMEDNSWait", set_dns_wait, NULL, RSRC_CONF,
        "Wait after the dns-01 setup: DURATION [RESOLVER-IP[:PORT]]"),
    AP_INIT_TAKE_ARGV("ACMENotifyCmd", set_notify_cmd, NULL, RSRC_CONF,
        "Program run as PATH ARG... EVENT NAME on certificate events"),
    AP_INIT_TAKE1("ACMEStatus", set_status, NULL, RSRC_CONF,
        "on: server-status shows the managed certificates (default on)"),
    AP_INIT_TAKE1("ACMEHttpProxy", set_http_proxy, NULL, RSRC_CONF,
        "Proxy URL for the connections to the CA, or none"),
    AP_INIT_TAKE_ARGV("ACMEDeployCmd", set_deploy_cmd, NULL, RSRC_CONF,
        "Program run as root as PATH ARG... DOMAIN CERT KEY CHAIN once a "
        "new certificate is live"),
    AP_INIT_TAKE1("ACMERestartWindow", set_restart_window, NULL, RSRC_CONF,
        "The module restarts Apache only in this daily window: HH:MM-HH:MM"),
    { NULL }
};

static const char *vhost_names(aa_domain_t *d, apr_pool_t *p, server_rec *s)
{
    const char *name;
    int i;

    if (!s->server_hostname
        || !acme_name_normalize(&name, p, s->server_hostname)) {
        return apr_psprintf(p, "ACMEDomain at %s: the virtual host has no "
                            "usable ServerName", d->defined_at);
    }
    APR_ARRAY_PUSH(d->names, const char *) = name;
    /* httpd keeps aliases with * or ? apart (s->wild_names): without
     * them here they would silently get no certificate. A "*.<name>" is
     * a wildcard name (check_challenges wants dns-01 for it); any other
     * pattern is no name a certificate can hold. */
    for (i = 0; s->wild_names && i < s->wild_names->nelts; i++) {
        const char *alias = APR_ARRAY_IDX(s->wild_names, i, const char *);
        if (strncmp(alias, "*.", 2) || strpbrk(alias + 2, "*?")
            || !acme_dns_name_normalize(&name, p, alias)) {
            return apr_psprintf(p, "ACMEDomain at %s takes the names of the "
                                "<VirtualHost> at %s:%d, and its ServerAlias "
                                "'%s' is a pattern no certificate can hold "
                                "(only *.NAME is); serve it from another "
                                "<VirtualHost>, or list this certificate's "
                                "names with ACMEDomain NAME...", d->defined_at,
                                s->defn_name, s->defn_line_number, alias);
        }
        if (strcmp(name, APR_ARRAY_IDX(d->names, 0, const char *))) {
            APR_ARRAY_PUSH(d->names, const char *) = name;
        }
    }
    for (i = 0; s->names && i < s->names->nelts; i++) {
        const char *alias = APR_ARRAY_IDX(s->names, i, const char *);
        if (!acme_name_normalize(&name, p, alias)) {
            return apr_psprintf(p, "ACMEDomain at %s: ServerAlias '%s' is "
                                "neither a DNS name nor an IP address",
                                d->defined_at, alias);
        }
        if (!acme_str_in(d->names, name)) {
            APR_ARRAY_PUSH(d->names, const char *) = name;
        }
    }
    d->name = APR_ARRAY_IDX(d->names, 0, const char *);
    return NULL;
}

/* ServerAdmin is the contact when ACMEContact is not given, if mail to it
 * can arrive: the CA's expiry and revocation notices must not go to
 * webmaster@localhost (aa_config_warnings says so). */
static apr_array_header_t *default_contacts(apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *a = apr_array_make(p, 1, sizeof(const char *));
    const char *admin = s->server_admin;

    if (aa_admin_is_contact(admin)) {
        APR_ARRAY_PUSH(a, const char *) = apr_pstrcat(p, "mailto:", admin,
                                                      NULL);
    }
    return a;
}

/* Does 'ACMEEAB URL' apply to the ACMEServer server? The URL itself,
 * or a URL without query string for all its query variants. */
static int eab_url_matches(apr_pool_t *p, const char *url, const char *server,
                           int exact)
{
    return exact ? !strcmp(url, server)
                 : !strpbrk(url, "?#") && !strcmp(url,
                       acme_job_account_base_url(p, server));
}

static const aa_eab_url_t *find_eab_url(apr_pool_t *p,
                                        const apr_array_header_t *urls,
                                        const char *server)
{
    int i, exact;

    for (exact = 1; exact >= 0; exact--) {
        for (i = 0; urls && i < urls->nelts; i++) {
            const aa_eab_url_t *e = APR_ARRAY_IDX(urls, i, aa_eab_url_t *);
            if (eab_url_matches(p, e->url, server, exact)) {
                return e;
            }
        }
    }
    return NULL;
}

/* The EAB for one ACMEServer URL: its own, else the plain ACMEEAB. */
static aa_eab_t eab_for(apr_pool_t *p, const aa_srv_conf_t *sc,
                        const char *server)
{
    const aa_eab_url_t *e = find_eab_url(p, sc->eab_urls, server);
    aa_eab_t none = { NULL, NULL, 0, NULL, "" };

    return e ? e->eab : sc->eab_set ? sc->eab : none;
}

void aa_domain_spec_at(acme_domain_spec_t *spec, const aa_domain_t *d,
                       int index)
{
    *spec = d->spec;
    spec->server_url = APR_ARRAY_IDX(d->servers, index, const char *);
    spec->eab_kid = d->eab[index].kid;
    spec->eab_hmac = d->eab[index].hmac;
    spec->eab_hmac_len = d->eab[index].hmac_len;
}

static void resolve_spec(aa_domain_t *d, aa_srv_conf_t *sc, apr_pool_t *p,
                         server_rec *s)
{
    acme_domain_spec_t *spec = &d->spec;
    int i;

    spec->name = d->name;
    spec->names = d->names;
    if (sc->servers) {
        d->servers = sc->servers;
    }
    else {
        d->servers = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(d->servers, const char *) = AA_DEFAULT_SERVER;
    }
    spec->server_url = APR_ARRAY_IDX(d->servers, 0, const char *);
    d->eab = apr_pcalloc(p, sizeof(aa_eab_t) * d->servers->nelts);
    for (i = 0; i < d->servers->nelts; i++) {
        d->eab[i] = eab_for(p, sc, APR_ARRAY_IDX(d->servers, i,
                                                 const char *));
        d->eab[i].digest = d->eab[i].hmac ? acme_sha256_hex(p,
            (const char *)d->eab[i].hmac, d->eab[i].hmac_len) : "";
    }
    spec->eab_kid = d->eab[0].kid;
    spec->eab_hmac = d->eab[0].hmac;
    spec->eab_hmac_len = d->eab[0].hmac_len;
    d->eab_file = d->eab[0].file;
    d->eab_digest = d->eab[0].digest;
    spec->contacts = sc->contacts ? sc->contacts : default_contacts(p, s);
    spec->tos_agreed = sc->tos == 1;
    spec->tos_url = sc->tos_url;
    spec->ca_file = sc->ca_file;
    spec->http_proxy = sc->http_proxy;
    spec->profile = sc->profile;
    spec->profile_mandatory = sc->profile_mandatory;
    if (sc->key_types) {
        spec->key_types = sc->key_types;
    }
    else {
        spec->key_types = apr_array_make(p, 1, sizeof(acme_key_type_e));
        APR_ARRAY_PUSH(spec->key_types, acme_key_type_e) = ACME_KEY_RSA2048;
    }
    d->auto_restart = sc->auto_restart != 0;
    d->renew_pct = sc->renew_pct != AA_UNSET ? sc->renew_pct : 0;
    d->renew_left = sc->renew_left != AA_UNSET ? sc->renew_left : 0;
    if (!d->renew_pct && !d->renew_left) {
        d->renew_pct = AA_DEFAULT_RENEW_PCT;
    }
    d->activation_delay = sc->activation_delay != AA_UNSET
        ? sc->activation_delay : 0;
    d->notify_cmd = sc->notify_cmd;
    d->deploy_cmd = sc->deploy_cmd;
    d->retry_delay = sc->retry_delay != AA_UNSET ? sc->retry_delay
                                                 : AA_DEFAULT_RETRY_DELAY;
    spec->challenges = sc->challenges;
    spec->dns_cmd = sc->dns_cmd;
    spec->dns_wait = sc->dns_wait != AA_UNSET ? sc->dns_wait
                                              : AA_DEFAULT_DNS_WAIT;
    spec->dns_resolver = sc->dns_resolver;
}

/* Only dns-01 validates a wildcard (RFC 8555 §7.1.3), and dns-01 is
 * answered through ACMEDNSCmd (checked for every context in
 * check_dns_cmd): without both, the order could not work. */
static const char *check_wildcards(const aa_domain_t *d, apr_pool_t *p)
{
    const acme_domain_spec_t *spec = &d->spec;
    int dns = acme_str_in(spec->challenges, "dns-01"), i;
    server_rec *s = d->defined_in;

    for (i = 0; i < d->names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(d->names, i, const char *);
        if (n[0] == '*' && (!dns || !spec->dns_cmd)) {
            return apr_psprintf(p, "ACMEDomain at %s%s%s%s: '%s' is a "
                "wildcard, which only the dns-01 challenge can validate: %s",
                d->defined_at, d->from_vhost ? " (the names of the "
                "<VirtualHost> at " : "", d->from_vhost ? apr_psprintf(p,
                "%s:%d", s->defn_name, s->defn_line_number) : "",
                d->from_vhost ? ")" : "", n, !spec->dns_cmd
                ? "set ACMEDNSCmd to the program that publishes the TXT "
                  "records, and list dns-01 in ACMEChallenges"
                : "list dns-01 in ACMEChallenges");
        }
    }
    return NULL;
}

/* dns-01 is answered only through ACMEDNSCmd. */
static const char *check_dns_cmd(apr_pool_t *p, server_rec *vs)
{
    const aa_srv_conf_t *sc = aa_srv_conf(vs);

    if (acme_str_in(sc->challenges, "dns-01") && !sc->dns_cmd) {
        return apr_psprintf(p, "ACMEChallenges lists dns-01%s%s%s but no "
                            "ACMEDNSCmd is set there: set ACMEDNSCmd to the "
                            "program that publishes the TXT records",
                            vs->is_virtual ? " for the <VirtualHost> at " : "",
                            vs->is_virtual ? vs->defn_name : "",
                            vs->is_virtual ? apr_psprintf(p, ":%d",
                                vs->defn_line_number) : "");
    }
    return NULL;
}

/* A name's first domain and that domain's place in the configuration.
 * With thousands of ACMEDomains, "who has this name" is one hash lookup:
 * start-up and configtest must not compare every domain with every
 * other one, nor every virtual host with every domain. */
typedef struct {
    aa_domain_t *d;
    int pos;
} aa_owner_t;

static const char *check_unique(apr_hash_t *owners, aa_domain_t *d,
                                apr_pool_t *p)
{
    const aa_owner_t *first = NULL;
    const char *name = NULL;
    int j;

    /* The error names the earliest domain met, as a scan would. */
    for (j = 0; j < d->names->nelts; j++) {
        const char *n = APR_ARRAY_IDX(d->names, j, const char *);
        const aa_owner_t *o = apr_hash_get(owners, n, APR_HASH_KEY_STRING);
        if (o && (!first || o->pos < first->pos)) {
            first = o;
            name = n;
        }
    }
    if (first) {
        return apr_psprintf(p, "ACMEDomain at %s: '%s' is already managed "
                            "by the ACMEDomain at %s", d->defined_at, name,
                            first->d->defined_at);
    }
    return NULL;
}

static void add_owner(apr_hash_t *owners, aa_domain_t *d, int pos,
                      apr_pool_t *p)
{
    aa_owner_t *o = apr_palloc(p, sizeof(*o));
    int j;

    o->d = d;
    o->pos = pos;
    for (j = 0; j < d->names->nelts; j++) {
        const char *n = APR_ARRAY_IDX(d->names, j, const char *);
        if (!apr_hash_get(owners, n, APR_HASH_KEY_STRING)) {
            apr_hash_set(owners, n, APR_HASH_KEY_STRING, o);
        }
    }
}

/* The vhost's own ACMEDomain, else the one that names its ServerName. */
static aa_domain_t *domain_for_server(apr_hash_t *owners, server_rec *s,
                                      apr_pool_t *p)
{
    const apr_array_header_t *own = aa_srv_conf(s)->domains;
    const aa_owner_t *o;
    const char *name;
    int i;

    for (i = 0; s->is_virtual && i < own->nelts; i++) {
        aa_domain_t *d = APR_ARRAY_IDX(own, i, aa_domain_t *);
        if (d->defined_in == s) {
            return d;
        }
    }
    /* Normalized like the ACMEDomain names, so that "ServerName
     * 2001:DB8:0::1" finds "ACMEDomain 2001:db8::1". */
    if (!s->server_hostname
        || !acme_name_normalize(&name, p, s->server_hostname)) {
        return NULL;
    }
    o = apr_hash_get(owners, name, APR_HASH_KEY_STRING);
    return o ? o->d : NULL;
}

/* Settings that belong to an ACMEDomain: in a <VirtualHost> they apply
 * to the ACMEDomain written in that <VirtualHost>, and only to it. */
static int is_domain_setting(const char *directive)
{
    static const char *const names[] = {
        "ACMEServer", "ACMEEAB", "ACMEContact", "ACMEAgreeTOS",
        "ACMEKeyType", "ACMECACertificate", "ACMEAutoRestart",
        "ACMERetryDelay", "ACMERenewWindow", "ACMEActivationDelay",
        "ACMEChallenges", "ACMENotifyCmd", "ACMEHttpProxy",
        "ACMEDeployCmd", "ACMEProfile", "ACMEDNSCmd", "ACMEDNSWait", NULL
    };
    int i;

    for (i = 0; names[i]; i++) {
        if (!strcasecmp(directive, names[i])) {
            return 1;
        }
    }
    return 0;
}

/* In the directives of one <VirtualHost> (and conditional sections in
 * it): the first domain setting, and whether an ACMEDomain is there. */
static void scan_vhost(const ap_directive_t *dir, const ap_directive_t **setting,
                       int *has_domain)
{
    for (; dir; dir = dir->next) {
        if (!strcasecmp(dir->directive, "ACMEDomain")) {
            *has_domain = 1;
        }
        else if (!*setting && is_domain_setting(dir->directive)) {
            *setting = dir;
        }
        if (dir->first_child) {
            scan_vhost(dir->first_child, setting, has_domain);
        }
    }
}

/* No silent settings: a domain setting in a <VirtualHost> without an
 * ACMEDomain of its own would apply to nothing, so it is refused. */
static const char *check_vhost_settings(apr_pool_t *p,
                                        const ap_directive_t *dir)
{
    const char *err;

    for (; dir; dir = dir->next) {
        if (!strcasecmp(dir->directive, "<VirtualHost")) {
            const ap_directive_t *setting = NULL;
            int has_domain = 0;
            scan_vhost(dir->first_child, &setting, &has_domain);
            if (setting && !has_domain) {
                return apr_psprintf(p, "%s at %s:%d has no effect: this "
                    "<VirtualHost> has no ACMEDomain of its own, and a "
                    "setting in a <VirtualHost> applies only to the "
                    "ACMEDomain written there. Move %s beside the "
                    "ACMEDomain it is meant for, or to the server level",
                    setting->directive, setting->filename,
                    setting->line_num, setting->directive);
            }
        }
        else if (dir->first_child
                 && (err = check_vhost_settings(p, dir->first_child))) {
            return err;
        }
    }
    return NULL;
}

static int eab_url_in(apr_pool_t *p, const char *url,
                      const apr_array_header_t *servers)
{
    int i;

    for (i = 0; i < servers->nelts; i++) {
        const char *u = APR_ARRAY_IDX(servers, i, const char *);
        if (eab_url_matches(p, url, u, 1) || eab_url_matches(p, url, u, 0)) {
            return 1;
        }
    }
    return 0;
}

/* Is the URL of 'ACMEEAB URL' an ACMEServer URL of its context: of the
 * vhost, or at the server level (whose settings every vhost inherits)
 * of the server or of any domain? */
static int eab_url_used(const aa_global_t *g, apr_pool_t *p,
                        const aa_eab_url_t *e, server_rec *vs)
{
    apr_array_header_t *servers = aa_srv_conf(vs)->servers;
    int i;

    if (!servers) {
        servers = apr_array_make(p, 1, sizeof(const char *));
        APR_ARRAY_PUSH(servers, const char *) = AA_DEFAULT_SERVER;
    }
    if (eab_url_in(p, e->url, servers)) {
        return 1;
    }
    for (i = 0; !vs->is_virtual && i < g->domains->nelts; i++) {
        if (eab_url_in(p, e->url, APR_ARRAY_IDX(g->domains, i,
                                                aa_domain_t *)->servers)) {
            return 1;
        }
    }
    return 0;
}

/* No silent settings: EAB values for a URL no ACMEServer names (a typo,
 * a forgotten trailing slash) would never be sent. */
static const char *check_eab_urls(const aa_global_t *g, apr_pool_t *p,
                                  server_rec *vs)
{
    const apr_array_header_t *urls = aa_srv_conf(vs)->eab_urls;
    int i;

    for (i = 0; urls && i < urls->nelts; i++) {
        const aa_eab_url_t *e = APR_ARRAY_IDX(urls, i, aa_eab_url_t *);
        if (e->defined_in == vs && !eab_url_used(g, p, e, vs)) {
            return apr_psprintf(p, "ACMEEAB at %s: %s is not one of the "
                "ACMEServer URLs %s, so these values would never be sent. "
                "Give the URL exactly as ACMEServer has it (or without its "
                "query string)", e->defined_at, e->url, vs->is_virtual
                ? "of this <VirtualHost>" : "of this server");
        }
    }
    return NULL;
}

/* mod_ssl selects acme-tls/1 only where Protocols allows it; without it
 * the CA's tls-alpn-01 handshake gets the ordinary certificate and the
 * validation fails at every renewal, far from this configuration. */
static const char *check_alpn_protocols(apr_pool_t *p, server_rec *vs)
{
    aa_domain_t *d = aa_srv_conf(vs)->served;

    if (!d || !acme_str_in(d->spec.challenges, ACME_ALPN_CHALLENGE)
        || !aa_serves_tls(vs)
        || ap_is_allowed_protocol(NULL, NULL, vs, ACME_ALPN_PROTOCOL)) {
        return NULL;
    }
    return apr_psprintf(p, "ACMEChallenges lists tls-alpn-01 for the "
        "ACMEDomain at %s, but %s %s%s%s does not allow the protocol "
        ACME_ALPN_PROTOCOL ", so the CA's validation would fail. Add to it "
        "(or at the server level): Protocols h2 http/1.1 acme-tls/1",
        d->defined_at, vs->is_virtual ? "the <VirtualHost> at" : "the main "
        "server", vs->is_virtual ? vs->defn_name : "", vs->is_virtual
        ? apr_psprintf(p, ":%d", vs->defn_line_number) : "",
        vs->server_hostname ? apr_psprintf(p, " (ServerName %s)",
                                           vs->server_hostname) : "");
}

const char *aa_config_collect(aa_global_t *g, apr_pool_t *p, server_rec *s)
{
    aa_srv_conf_t *main_sc = aa_srv_conf(s);
    apr_hash_t *owners = apr_hash_make(p);
    server_rec *vs;
    const char *err;
    int i;

    g->main_server = s;
    g->store_dir = main_sc->store_dir ? main_sc->store_dir
                                      : ap_server_root_relative(p, "acmeauto");
    g->check_interval = main_sc->check_interval != AA_UNSET
        ? main_sc->check_interval : AA_DEFAULT_CHECK_INTERVAL;
    g->max_orders = main_sc->max_orders != AA_UNSET
        ? main_sc->max_orders : AA_DEFAULT_MAX_ORDERS;
    g->status = main_sc->status != 0;
    g->restart_window_set = main_sc->restart_window_set;
    g->restart_window = main_sc->restart_window;
    g->domains = apr_array_make(p, 8, sizeof(aa_domain_t *));
    for (vs = s; vs; vs = vs->next) {
        aa_srv_conf_t *sc = aa_srv_conf(vs);
        for (i = 0; i < sc->domains->nelts; i++) {
            aa_domain_t *d = APR_ARRAY_IDX(sc->domains, i, aa_domain_t *);
            if (d->defined_in != vs) {
                continue;
            }
            if (d->from_vhost && !d->name
                && (err = vhost_names(d, p, vs)) != NULL) {
                return err;
            }
            if ((err = check_unique(owners, d, p)) != NULL) {
                return err;
            }
            resolve_spec(d, sc, p, vs);
            if ((err = check_wildcards(d, p)) != NULL) {
                return err;
            }
            add_owner(owners, d, g->domains->nelts, p);
            APR_ARRAY_PUSH(g->domains, aa_domain_t *) = d;
        }
    }
    aa_mark_tls_servers(p, s);
    for (vs = s; vs; vs = vs->next) {
        aa_srv_conf(vs)->served = domain_for_server(owners, vs, p);
        if ((err = check_eab_urls(g, p, vs)) != NULL
            || (err = check_dns_cmd(p, vs)) != NULL
            || (err = check_alpn_protocols(p, vs)) != NULL) {
            return err;
        }
    }
    return check_vhost_settings(p, ap_conftree);
}
