/* mod_acmeauto: Apache gets, renews and activates its own certificates
 * over ACME (RFC 8555). This file wires the hooks; the work is in aa_*.c
 * (httpd glue) and core/ (the ACME client, which knows nothing of httpd). */
#include <stdio.h>
#include <stdlib.h>
#include <apr_strings.h>
#include <openssl/crypto.h>
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "mod_acmeauto.h"
#include "aa_config.h"
#include "aa_activate.h"
#include "aa_identity.h"
#include "aa_cmdconf.h"
#include "aa_restart.h"
#include "aa_store.h"
#include "aa_challenge.h"
#include "aa_alpn.h"
#include "aa_watchdog.h"
#include "aa_status.h"
#include "acme_http.h"

static aa_global_t *global;

aa_srv_conf_t *aa_srv_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &acmeauto_module);
}

aa_global_t *aa_global(void)
{
    return global;
}

static int aa_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    global = NULL;
    return OK;
}

/* What configtest warns about, in the log too: a server that is only
 * ever reloaded never shows configtest's output to anyone. As a notice,
 * which httpd logs at every LogLevel: the server works as configured, so
 * it is no [warn] for monitoring to page anyone about at each restart. */
static void log_warnings(aa_global_t *g, apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *w = aa_config_warnings(g, p);
    int i;

    for (i = 0; i < w->nelts; i++) {
        aa_warning_t *e = &APR_ARRAY_IDX(w, i, aa_warning_t);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s, "%s%s", e->logno,
                     e->text);
    }
}

/* Runs before mod_ssl's post_config so that the certificate files we
 * hand it are already in place. */
static int aa_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    int dry_run = ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG;
    aa_global_t *g = apr_pcalloc(pconf, sizeof(*g));
    const char *err;

    g->pool = pconf;
    if ((err = aa_config_collect(g, pconf, s)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, AA_LOGNO(00001) "%s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    global = g;
    if (!dry_run) {
        log_warnings(g, ptemp, s);
    }
    if (g->domains->nelts == 0) {
        return OK;    /* loaded but unused: no store, no threads */
    }
    /* Store trouble is logged and never stops the server: what is live
     * (or a fallback) is served, and the log says what to fix. */
    aa_store_prepare(g, ptemp, s);
    aa_identity_assign(g, ptemp, s, !dry_run);
    aa_activate_all(g, ptemp, s, dry_run);
    if (!dry_run) {
        acme_http_global_init();
        aa_watchdog_start(g, pconf, s);
        aa_restart_watcher_start(g, pconf, s);
    }
    return OK;
}

/* After mod_ssl's post_config: what the acmeauto command is told includes
 * what mod_ssl was handed for each vhost (a previous certificate). */
static int aa_post_config_after_ssl(apr_pool_t *pconf, apr_pool_t *plog,
                                    apr_pool_t *ptemp, server_rec *s)
{
    aa_global_t *g = global;

    (void)pconf;
    (void)plog;
    if (g && g->domains->nelts
        && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_CREATE_PRE_CONFIG) {
        aa_cmdconf_write(g, ptemp, s);
    }
    return OK;
}

/* apachectl configtest stops before post_config: check there too what
 * only the whole configuration shows (a name in two ACMEDomains, a vhost
 * without ServerName), so that the module's own restart never meets a
 * configuration that fails; and warn about store trouble it can see. */
static void aa_test_config(apr_pool_t *pconf, server_rec *s)
{
    aa_global_t *g = apr_pcalloc(pconf, sizeof(*g));
    apr_array_header_t *w;
    const char *err;
    int i;

    g->pool = pconf;
    if ((err = aa_config_collect(g, pconf, s)) != NULL) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    w = aa_config_warnings(g, pconf);
    for (i = 0; i < w->nelts; i++) {
        aa_warning_t *e = &APR_ARRAY_IDX(w, i, aa_warning_t);
        fprintf(stderr, "%swarning: %s\n", e->logno, e->text);
    }
    /* Store trouble does not stop the server, so it is only a warning. */
    if (g->domains->nelts > 0
        && (err = aa_store_problem(pconf, g->store_dir)) != NULL) {
        fprintf(stderr, AA_LOGNO(00116) "warning: ACMEStoreDir %s %s: "
                "Apache will start and serve what is live (or a "
                "self-signed fallback), but obtains and activates no "
                "certificate until this is fixed\n", g->store_dir, err);
    }
}

static void aa_register_hooks(apr_pool_t *p)
{
    static const char *const before_ssl[] = { "mod_ssl.c", NULL };

    /* Before anything (libcurl included) initialises OpenSSL with its
     * defaults: no atexit handler. A child told to stop while inside
     * malloc exits from the signal handler, and OpenSSL's cleanup would
     * then wait for the malloc lock for ever (the parent SIGKILLs it
     * after 10 s, at every stop that follows a restart too closely). */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);

    ap_hook_pre_config(aa_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_test_config(aa_test_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(aa_post_config, NULL, before_ssl, APR_HOOK_MIDDLE);
    ap_hook_post_config(aa_post_config_after_ssl, before_ssl, NULL,
                        APR_HOOK_MIDDLE);
    ap_hook_child_init(aa_watchdog_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_read_request(aa_post_read_request, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_ssl_add_cert_files(aa_add_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_add_fallback_cert_files(aa_add_fallback_cert_files, NULL,
                                        NULL, APR_HOOK_MIDDLE);
    aa_alpn_register_hooks();
    ap_hook_handler(aa_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ap, status_hook, aa_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(acmeauto) = {
    STANDARD20_MODULE_STUFF,
    NULL,                   /* per-directory config */
    NULL,                   /* merge per-directory */
    aa_create_srv_conf,
    aa_merge_srv_conf,
    aa_directives,
    aa_register_hooks,
#if defined(AP_MODULE_FLAG_NONE)
    AP_MODULE_FLAG_ALWAYS_MERGE
#endif
};
