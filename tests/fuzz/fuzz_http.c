/* See fuzz_http.h. The real transport is included so that its static
 * header and body callbacks (the code that parses what the CA sends)
 * run here; nothing in it that needs a network is called. */
#include "../../mod_acmeauto/core/acme_http.c"

#include <stdlib.h>

#include "fuzz_http.h"

#define SEPARATOR "\n%%\n"

struct fuzz_http_t {
    acme_http_t http;           /* first, so acme_http_t* casts back */
    const char *data, *end;     /* responses not yet given */
    const acme_http_response_t *last;
    int requests;
};

/* Next response's text; NULL when none is left. */
static int next_record(fuzz_http_t *f, const char **rec, size_t *len)
{
    const char *sep;

    if (!f->data) {
        return 0;
    }
    sep = memmem(f->data, (size_t)(f->end - f->data), SEPARATOR,
                 sizeof(SEPARATOR) - 1);
    *rec = f->data;
    *len = sep ? (size_t)(sep - f->data) : (size_t)(f->end - f->data);
    f->data = sep ? sep + sizeof(SEPARATOR) - 1 : NULL;
    return 1;
}

/* What curl reports as the response code: the digits after the status
 * line's protocol, or 0. */
static int status_of(const char *line, size_t len)
{
    const char *sp = memchr(line, ' ', len);
    int code = 0, i;

    if (!sp || (size_t)(sp - line) + 4 > len) {
        return 0;
    }
    for (i = 1; i <= 3; i++) {
        if (sp[i] < '0' || sp[i] > '9') {
            return 0;
        }
        code = code * 10 + (sp[i] - '0');
    }
    return code;
}

static apr_status_t transport_error(acme_http_t *http, apr_pool_t *p,
                                    const char *rec, size_t len)
{
    static const struct {
        const char *word;
        apr_status_t rv;
    } kinds[] = {
        { "!refused", APR_ECONNREFUSED },
        { "!eof", APR_EOF },
        { "!toolarge", APR_ENOSPC },
    };
    size_t i;

    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (len >= strlen(kinds[i].word)
            && !memcmp(rec, kinds[i].word, strlen(kinds[i].word))) {
            http->error_text = apr_psprintf(p, "fuzz: %s", kinds[i].word + 1);
            return kinds[i].rv;
        }
    }
    return APR_SUCCESS;
}

/* Feeds one response through the libcurl callbacks into *resp. */
static apr_status_t deliver(acme_http_t *http, acme_http_response_t **resp,
                            apr_pool_t *p, const char *rec, size_t len)
{
    curl_sink_t sink;
    const char *at = rec, *end = rec + len, *nl;
    size_t n, chunk;
    int code = 0, in_headers = 1;

    memset(&sink, 0, sizeof(sink));
    sink.p = p;
    sink.headers = apr_table_make(p, 16);
    while (in_headers && at < end) {
        nl = memchr(at, '\n', (size_t)(end - at));
        n = nl ? (size_t)(nl - at) + 1 : (size_t)(end - at);
        if (n >= 5 && !memcmp(at, "HTTP/", 5)) {
            code = status_of(at, n);
        }
        /* curl hands over the blank line that ends the headers too. */
        in_headers = !(n == 1 || (n == 2 && at[0] == '\r'));
        if (on_header((char *)at, 1, n, &sink) != n) {
            http->error_text = "fuzz: header callback refused a line";
            return APR_ECONNREFUSED;    /* curl: CURLE_WRITE_ERROR */
        }
        at += n;
    }
    if (code == 0) {
        http->error_text = "fuzz: no HTTP status line";
        return APR_EOF;     /* curl: weird server reply */
    }
    /* The body in uneven pieces, as a network delivers it. */
    for (chunk = 1; at < end; at += n, chunk = chunk * 3 + 1) {
        n = (size_t)(end - at) < chunk ? (size_t)(end - at) : chunk;
        if (on_body((char *)at, 1, n, &sink) != n) {
            http->error_text = "fuzz: body too large";
            return APR_ENOSPC;
        }
    }
    *resp = apr_pcalloc(p, sizeof(**resp));
    (*resp)->status = code;
    (*resp)->headers = sink.headers;
    (*resp)->body = sink.body ? sink.body : "";
    (*resp)->body_len = sink.len;
    return APR_SUCCESS;
}

static apr_status_t fuzz_request(acme_http_t *http,
                                 acme_http_response_t **resp, apr_pool_t *p,
                                 const char *method, const char *url,
                                 const char *content_type, const char *body,
                                 apr_size_t body_len)
{
    fuzz_http_t *f = (fuzz_http_t *)http;
    const char *rec;
    size_t len;
    apr_status_t rv;

    (void)content_type;
    (void)body;
    (void)body_len;
    f->requests++;
    f->last = NULL;
    if (!method || !url) {
        abort();    /* the core never asks without both */
    }
    if (!next_record(f, &rec, &len)) {
        http->error_text = "fuzz: no more responses";
        return APR_EOF;
    }
    if ((rv = transport_error(http, p, rec, len)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = deliver(http, resp, p, rec, len)) == APR_SUCCESS) {
        f->last = *resp;
    }
    return rv;
}

acme_http_t *fuzz_http_create(apr_pool_t *p, const char *data, size_t len)
{
    fuzz_http_t *f = apr_pcalloc(p, sizeof(*f));

    f->http.request = fuzz_request;
    f->data = data;
    f->end = data + len;
    return &f->http;
}

const acme_http_response_t *fuzz_http_last(const acme_http_t *http)
{
    return ((const fuzz_http_t *)http)->last;
}

int fuzz_http_requests(const acme_http_t *http)
{
    return ((const fuzz_http_t *)http)->requests;
}
