/* Probes for `acmeauto check` (acme_probe.h). */
#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <curl/curl.h>

#include "acme_probe.h"
#include "acme_json.h"

#define PROBE_CONNECT_TIMEOUT_S 10L
#define PROBE_TIMEOUT_S 20L

apr_status_t acme_probe_account_status(const char **status, acme_client_t *c,
                                       apr_pool_t *p)
{
    const char *activity = apr_psprintf(p, "reading the account %s",
                                        c->account_url ? c->account_url
                                                       : "(none)");
    acme_http_response_t *resp;
    json_t *doc = NULL;
    const char *s;
    apr_status_t rv;

    *status = NULL;
    rv = acme_post(c, &resp, &doc, p, c->account_url, NULL, activity);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!(s = acme_json_str(doc, "status"))) {
        c->error = acme_error_make(c->pool, APR_EGENERAL, ACME_FAIL_TRANSIENT,
                                   apr_pstrdup(c->pool, activity),
                                   "the CA's answer has no account status",
                                   NULL);
        return APR_EGENERAL;
    }
    *status = apr_pstrdup(p, s);
    return APR_SUCCESS;
}

typedef struct {
    apr_pool_t *p;
    acme_probe_answer_t *ans;
    char *buf;
} probe_sink_t;

static size_t probe_body(char *data, size_t size, size_t n, void *ud)
{
    probe_sink_t *sink = ud;
    acme_probe_answer_t *ans = sink->ans;
    apr_size_t len = size * n, room = ACME_PROBE_BODY_MAX - ans->body_len;

    if (len > room) {
        ans->oversize = 1;
        len = room;
    }
    memcpy(sink->buf + ans->body_len, data, len);
    ans->body_len += len;
    sink->buf[ans->body_len] = '\0';
    return ans->oversize ? 0 : size * n;    /* enough seen: stop */
}

static size_t probe_header(char *data, size_t size, size_t n, void *ud)
{
    probe_sink_t *sink = ud;
    apr_size_t len = size * n;
    const char *v;

    if (len > 9 && !strncasecmp(data, "Location:", 9)) {
        v = data + 9;
        while (v < data + len && (*v == ' ' || *v == '\t')) {
            v++;
        }
        while (len > 0 && apr_isspace(data[len - 1])) {
            len--;
        }
        sink->ans->location = apr_pstrmemdup(sink->p, v, data + len - v);
    }
    return size * n;
}

apr_status_t acme_probe_http_get(acme_probe_answer_t *ans, apr_pool_t *p,
                                 const char *url, const char *to_host,
                                 const char *to_port)
{
    struct curl_slist *connect_to = NULL;
    probe_sink_t sink;
    char errbuf[CURL_ERROR_SIZE] = "";
    CURL *curl;
    CURLcode cc;
    long code = 0;

    memset(ans, 0, sizeof(*ans));
    sink.p = p;
    sink.ans = ans;
    sink.buf = apr_palloc(p, ACME_PROBE_BODY_MAX + 1);
    sink.buf[0] = '\0';
    ans->body = sink.buf;
    if (!(curl = curl_easy_init())) {
        ans->error = "cannot start libcurl";
        return APR_ENOMEM;
    }
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(curl, CURLOPT_PROXY, "");   /* the CA uses none */
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, PROBE_CONNECT_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, PROBE_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, "mod_acmeauto check");
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, probe_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, probe_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &sink);
    if (to_host) {
        /* Any host and port of the URL go to to_host; an IPv6 literal
         * needs its brackets there. */
        int v6 = strchr(to_host, ':') && to_host[0] != '[';

        connect_to = curl_slist_append(NULL, apr_psprintf(p, "::%s%s%s:%s",
                                       v6 ? "[" : "", to_host, v6 ? "]" : "",
                                       to_port ? to_port : ""));
        curl_easy_setopt(curl, CURLOPT_CONNECT_TO, connect_to);
    }
    cc = curl_easy_perform(curl);
    if (cc == CURLE_OK || (cc == CURLE_WRITE_ERROR && ans->oversize)) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
        ans->status = (int)code;
    }
    else {
        ans->error = apr_pstrdup(p, *errbuf ? errbuf : curl_easy_strerror(cc));
    }
    curl_easy_cleanup(curl);
    curl_slist_free_all(connect_to);
    return ans->status ? APR_SUCCESS : APR_ECONNREFUSED;
}
