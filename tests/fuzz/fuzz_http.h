/* A transport for the fuzz targets that answers from the fuzz input.
 *
 * The input is a list of raw HTTP responses separated by lines "%%":
 *
 *     HTTP/1.1 200 OK
 *     Content-Type: application/json
 *     Replay-Nonce: abc
 *
 *     {"status": "valid", ...}
 *     %%
 *     HTTP/1.1 ...
 *
 * Each request takes the next response. Its header lines go, one by one
 * and with their line ends, through the header callback of the real
 * libcurl transport (acme_http.c), and its body through the real body
 * callback, so the core sees exactly what it would see from curl. A
 * response "!refused", "!eof" or "!toolarge" stands for a transport
 * failure; a request after the last response fails as if cut off. */
#ifndef FUZZ_HTTP_H
#define FUZZ_HTTP_H

#include <stddef.h>
#include "acme_http.h"

typedef struct fuzz_http_t fuzz_http_t;

/* A transport in p answering from data (not copied: keep it alive). */
acme_http_t *fuzz_http_create(apr_pool_t *p, const char *data, size_t len);

/* The response the transport gave last, or NULL. */
const acme_http_response_t *fuzz_http_last(const acme_http_t *http);

/* Requests made so far. */
int fuzz_http_requests(const acme_http_t *http);

#endif
