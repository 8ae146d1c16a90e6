/* tls-alpn-01 in the handshake. mod_ssl asks the protocol hooks when the
 * client offers ALPN protocols, and, once we switched the connection to
 * acme-tls/1, asks ssl_answer_challenge for the certificate. Ordinary
 * clients never offer acme-tls/1, so they cost one array lookup; a CA's
 * handshake costs one bounded read of what the job wrote. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_connection.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_ssl.h>

#include "mod_acmeauto.h"
#include "aa_alpn.h"
#include "acme_alpn.h"
#include "acme_store.h"

APLOG_USE_MODULE(acmeauto);

/* Per connection, once acme-tls/1 was proposed for its SNI name. */
typedef struct {
    const char *name;                /* the SNI name, lower case */
    const char *pem;                 /* certificate and key for it */
    int switched;                    /* mod_ssl selected acme-tls/1 */
} alpn_conn_t;

static alpn_conn_t *conn_ctx(const conn_rec *c)
{
    return ap_get_module_config(c->conn_config, &acmeauto_module);
}

/* The job's answer for name, or NULL: another ACME client on this server
 * (mod_md during a migration) may be the one validating it. */
static const char *read_answer(conn_rec *c, const char *name)
{
    aa_global_t *g = aa_global();
    const char *file;
    char *pem;
    apr_size_t len;

    if (!g || !g->store || !(file = acme_alpn_file(c->pool, name))) {
        return NULL;
    }
    if (acme_store_read(&pem, &len, acme_store_path(c->pool, g->store,
                                                    ACME_AREA_CHALLENGES,
                                                    file, NULL),
                        ACME_ALPN_PEM_MAX, c->pool) != APR_SUCCESS
        || !strstr(pem, "-----BEGIN CERTIFICATE-----")) {
        return NULL;
    }
    return pem;
}

static int alpn_propose(conn_rec *c, request_rec *r, server_rec *s,
                        const apr_array_header_t *offers,
                        apr_array_header_t *proposals)
{
    alpn_conn_t *ctx;
    const char *sni, *pem;

    if (r || !offers || !ap_array_str_contains(offers, ACME_ALPN_PROTOCOL)) {
        return DECLINED;
    }
    sni = ap_ssl_var_lookup(c->pool, s, c, NULL, "SSL_TLS_SNI");
    if (!sni || !*sni || !(pem = read_answer(c, sni))) {
        return DECLINED;
    }
    ctx = apr_pcalloc(c->pool, sizeof(*ctx));
    ctx->name = apr_pstrdup(c->pool, sni);
    ctx->pem = pem;
    ap_set_module_config(c->conn_config, &acmeauto_module, ctx);
    APR_ARRAY_PUSH(proposals, const char *) = ACME_ALPN_PROTOCOL;
    return OK;
}

static int alpn_switch(conn_rec *c, request_rec *r, server_rec *s,
                       const char *protocol)
{
    alpn_conn_t *ctx = conn_ctx(c);

    if (r || !ctx || strcmp(protocol, ACME_ALPN_PROTOCOL)) {
        return DECLINED;
    }
    ctx->switched = 1;
    return OK;
}

static const char *alpn_get(const conn_rec *c)
{
    alpn_conn_t *ctx = conn_ctx(c);

    return ctx && ctx->switched ? ACME_ALPN_PROTOCOL : NULL;
}

/* Only a connection switched to acme-tls/1 for this very name gets the
 * challenge certificate: everybody else keeps getting the real one while
 * a validation is under way. */
static int alpn_answer(conn_rec *c, const char *server_name,
                       const char **pcert_pem, const char **pkey_pem)
{
    alpn_conn_t *ctx = conn_ctx(c);

    if (!ctx || !ctx->switched || !server_name
        || strcasecmp(server_name, ctx->name)) {
        return DECLINED;
    }
    ap_log_cerror(APLOG_MARK, APLOG_DEBUG, 0, c, AA_LOGNO(01051)
                  "answering tls-alpn-01 challenge for %s", ctx->name);
    /* mod_ssl finds the key after the certificate in the same text. */
    *pcert_pem = ctx->pem;
    *pkey_pem = ctx->pem;
    return OK;
}

void aa_alpn_register_hooks(void)
{
    ap_hook_protocol_propose(alpn_propose, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(alpn_switch, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_get(alpn_get, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_answer_challenge(alpn_answer, NULL, NULL, APR_HOOK_MIDDLE);
}
