#include <string.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <curl/curl.h>

#include "acme_http.h"

typedef struct {
    CURL *curl;
    const char *ca_file;
    const char *user_agent;
    const char *proxy;        /* NULL: libcurl reads the environment */
} curl_baton_t;

typedef struct {
    apr_pool_t *p;
    char *body;
    apr_size_t len, cap;
    int oversize;
    apr_table_t *headers;
    int header_count;
} curl_sink_t;

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    curl_sink_t *sink = ud;
    apr_size_t len = size * n;

    if (sink->len + len > ACME_HTTP_BODY_MAX) {
        sink->oversize = 1;
        return 0;    /* makes curl fail with CURLE_WRITE_ERROR */
    }
    if (sink->len + len + 1 > sink->cap) {
        apr_size_t cap = sink->cap ? sink->cap * 2 : 4096;
        char *nb;
        while (cap < sink->len + len + 1) {
            cap *= 2;
        }
        nb = apr_palloc(sink->p, cap);
        if (sink->len) {
            memcpy(nb, sink->body, sink->len);
        }
        sink->body = nb;
        sink->cap = cap;
    }
    memcpy(sink->body + sink->len, data, len);
    sink->len += len;
    sink->body[sink->len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    curl_sink_t *sink = ud;
    apr_size_t len = size * n;
    char *line, *colon, *value, *end;

    if (len >= 5 && !strncmp(data, "HTTP/", 5)) {
        /* A new response (after 100 Continue or a redirect) starts over. */
        apr_table_clear(sink->headers);
        sink->header_count = 0;
        return len;
    }
    if (++sink->header_count > ACME_HTTP_HEADER_MAX) {
        return 0;
    }
    line = apr_pstrmemdup(sink->p, data, len);
    if (!(colon = strchr(line, ':'))) {
        return len;
    }
    *colon = '\0';
    value = colon + 1;
    while (*value == ' ' || *value == '\t') {
        value++;
    }
    end = value + strlen(value);
    while (end > value && apr_isspace(end[-1])) {
        *--end = '\0';
    }
    apr_table_add(sink->headers, line, value);
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
    acme_http_t *http = ud;

    return http->should_abort(http->abort_baton) ? 1 : 0;
}

/* Options of one request; returns the header list to free afterwards. */
static struct curl_slist *setup_request(acme_http_t *http, CURL *curl,
                                        curl_sink_t *sink, apr_pool_t *p,
                                        const char *method, const char *url,
                                        const char *content_type,
                                        const char *body, apr_size_t body_len,
                                        char *errbuf)
{
    curl_baton_t *b = http->baton;
    struct curl_slist *hdrs = NULL;

    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)ACME_HTTP_TIMEOUT_S);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(curl, CURLOPT_USERAGENT, b->user_agent);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, sink);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, sink);
    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)ACME_HTTP_BODY_MAX);
    if (b->ca_file) {
        curl_easy_setopt(curl, CURLOPT_CAINFO, b->ca_file);
    }
    if (b->proxy) {
        /* "" turns the environment's proxy off; a URL is used for every
         * request, whatever no_proxy says: the administrator named it. */
        curl_easy_setopt(curl, CURLOPT_PROXY, b->proxy);
        curl_easy_setopt(curl, CURLOPT_NOPROXY, "");
    }
    if (http->should_abort) {
        /* Lets a stopping server end a slow request within a second. */
        curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(curl, CURLOPT_XFERINFODATA, http);
    }
    if (!strcmp(method, "POST")) {
        curl_easy_setopt(curl, CURLOPT_POST, 1L);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(body ? body_len : 0));
        if (content_type) {
            hdrs = curl_slist_append(hdrs, apr_pstrcat(p, "Content-Type: ",
                                                       content_type, NULL));
        }
        hdrs = curl_slist_append(hdrs, "Expect:");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
    }
    else if (!strcmp(method, "HEAD")) {
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    }

    return hdrs;
}

static apr_status_t curl_request(acme_http_t *http, acme_http_response_t **resp,
                                 apr_pool_t *p, const char *method,
                                 const char *url, const char *content_type,
                                 const char *body, apr_size_t body_len)
{
    curl_baton_t *b = http->baton;
    CURL *curl = b->curl;
    struct curl_slist *hdrs = NULL;
    curl_sink_t sink;
    CURLcode cc;
    long code = 0;
    char errbuf[CURL_ERROR_SIZE] = "";

    memset(&sink, 0, sizeof(sink));
    sink.p = p;
    sink.headers = apr_table_make(p, 16);

    hdrs = setup_request(http, curl, &sink, p, method, url, content_type,
                         body, body_len, errbuf);
    cc = curl_easy_perform(curl);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);    /* on our stack */
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK) {
        http->error_text = sink.oversize
            ? apr_psprintf(p, "%s %s: response larger than %d bytes", method,
                           url, ACME_HTTP_BODY_MAX)
            : apr_psprintf(p, "%s %s: %s", method, url,
                           *errbuf ? errbuf : curl_easy_strerror(cc));
        if (sink.oversize) {
            return APR_ENOSPC;
        }
        /* Reached but cut off, versus not reached at all. */
        return (cc == CURLE_PARTIAL_FILE || cc == CURLE_RECV_ERROR
                || cc == CURLE_GOT_NOTHING || cc == CURLE_SEND_ERROR
                || cc == CURLE_OPERATION_TIMEDOUT) ? APR_EOF : APR_ECONNREFUSED;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    *resp = apr_pcalloc(p, sizeof(**resp));
    (*resp)->status = (int)code;
    (*resp)->headers = sink.headers;
    (*resp)->body = sink.body ? sink.body : "";
    (*resp)->body_len = sink.len;
    return APR_SUCCESS;
}

static apr_status_t curl_cleanup(void *data)
{
    curl_easy_cleanup((CURL *)data);
    return APR_SUCCESS;
}

void acme_http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

apr_status_t acme_http_curl_create(acme_http_t **http, apr_pool_t *p,
                                   const char *ca_file, const char *user_agent)
{
    curl_baton_t *b = apr_pcalloc(p, sizeof(*b));

    if (!(b->curl = curl_easy_init())) {
        return APR_ENOMEM;
    }
    apr_pool_cleanup_register(p, b->curl, curl_cleanup, apr_pool_cleanup_null);
    b->ca_file = ca_file ? apr_pstrdup(p, ca_file) : NULL;
    b->user_agent = apr_pstrdup(p, user_agent ? user_agent : "mod_acmeauto");
    *http = apr_pcalloc(p, sizeof(**http));
    (*http)->request = curl_request;
    (*http)->baton = b;
    return APR_SUCCESS;
}

void acme_http_curl_set_proxy(acme_http_t *http, const char *proxy)
{
    curl_baton_t *b = http->baton;

    b->proxy = proxy;
}
