/* HTTP transport of the ACME core, as a small table of function pointers
 * so unit tests can plug in a scripted fake. The real one is libcurl. */
#ifndef ACME_HTTP_H
#define ACME_HTTP_H

#include <apr_pools.h>
#include <apr_tables.h>

/* Bounds on what a server may send us. */
#define ACME_HTTP_BODY_MAX   (2 * 1024 * 1024)
#define ACME_HTTP_HEADER_MAX 100
#define ACME_HTTP_TIMEOUT_S  30

typedef struct {
    int status;
    apr_table_t *headers;     /* header names as sent; apr_table is case-blind */
    const char *body;         /* NUL-terminated, may contain NULs before */
    apr_size_t body_len;
} acme_http_response_t;

typedef struct acme_http_t acme_http_t;
struct acme_http_t {
    /* Performs one request. body may be NULL. The response lives in p.
     * Returns an APR error (and sets error_text) only when no HTTP answer
     * was received: APR_ECONNREFUSED when the server was not reached
     * (connection, DNS, TLS), APR_EOF when its answer broke off or timed
     * out, APR_ENOSPC when it was larger than ACME_HTTP_BODY_MAX. */
    apr_status_t (*request)(acme_http_t *http, acme_http_response_t **resp,
                            apr_pool_t *p, const char *method, const char *url,
                            const char *content_type,
                            const char *body, apr_size_t body_len);
    void *baton;
    const char *error_text;   /* last transport error, in the owner's pool */
    /* Optional: non-zero ends a transfer in progress (server stopping). */
    int (*should_abort)(void *abort_baton);
    void *abort_baton;
};

/* libcurl transport; ca_file (may be NULL: system trust) is the PEM bundle
 * to trust. Lives as long as p; the curl handle is freed by a cleanup. */
apr_status_t acme_http_curl_create(acme_http_t **http, apr_pool_t *p,
                                   const char *ca_file, const char *user_agent);

/* The proxy for the requests of a transport made by acme_http_curl_create
 * (ACMEHttpProxy): a URL libcurl understands, "" for none even if the
 * environment names one, NULL (the default) for libcurl's environment
 * variables (https_proxy, no_proxy...). proxy must outlive http. */
void acme_http_curl_set_proxy(acme_http_t *http, const char *proxy);

/* Call once per process before any thread uses the transport. */
void acme_http_global_init(void);

#endif
