/* The request path. It must cost nothing for ordinary requests: one
 * prefix compare, one pointer check. */
#include <string.h>
#include <apr_strings.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>
#include <http_request.h>
#include <http_ssl.h>

#include "mod_acmeauto.h"
#include "aa_challenge.h"
#include "acme_util.h"

APLOG_USE_MODULE(acmeauto);

/* Key authorizations are "token.thumbprint": well under this. */
#define KEY_AUTH_MAX 512

static int answer_challenge(request_rec *r, const char *token)
{
    aa_global_t *g = aa_global();
    const char *path;
    char *ka;
    apr_size_t len;

    /* A bad token never reaches the file system. */
    if (!acme_token_is_valid(token) || !g || !g->store) {
        return HTTP_NOT_FOUND;
    }
    if (r->method_number != M_GET) {
        return DECLINED;
    }
    path = acme_store_path(r->pool, g->store, ACME_AREA_CHALLENGES, token,
                           NULL);
    if (acme_store_read(&ka, &len, path, KEY_AUTH_MAX, r->pool) != APR_SUCCESS) {
        /* Not ours: another client may answer it (Certbot's webroot, or
         * mod_md, during a migration), so the request goes on. */
        return DECLINED;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, AA_LOGNO(00201)
                  "answering http-01 challenge %s", token);
    r->status = HTTP_OK;
    ap_set_content_type(r, "text/plain");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(ka, (int)len, r);
    }
    return DONE;    /* ap_die() finishes the response */
}

int aa_post_read_request(request_rec *r)
{
    aa_srv_conf_t *sc;
    const char *path = r->parsed_uri.path;

    if (path && !strncmp(path, AA_CHALLENGE_PREFIX,
                         sizeof(AA_CHALLENGE_PREFIX) - 1)) {
        return answer_challenge(r, path + sizeof(AA_CHALLENGE_PREFIX) - 1);
    }
    sc = aa_srv_conf(r->server);
    if (sc && sc->served && !sc->served->is_live && !sc->serves_previous
        && ap_ssl_conn_is_ssl(r->connection)) {
        /* The browser has a self-signed certificate in front of it; say
         * clearly that the real one is on its way. */
        apr_table_setn(r->err_headers_out, "Retry-After", "60");
        return HTTP_SERVICE_UNAVAILABLE;
    }
    return DECLINED;
}
