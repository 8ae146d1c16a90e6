/* Response headers: one raw HTTP response (see fuzz_http.h) through the
 * real libcurl header and body callbacks, then the header readers of the
 * client: Retry-After (seconds or HTTP-date), Replay-Nonce, Location,
 * Content-Type. */
#include <string.h>
#include <apr_lib.h>

#include "fuzz_common.h"
#include "fuzz_http.h"
#include "acme_client.h"
#include "acme_util.h"

static int check_entry(void *rec, const char *key, const char *value)
{
    size_t n = strlen(value);

    (void)rec;
    /* The callback trims the value on both sides and keeps the name. */
    FUZZ_CHECK(strchr(key, ':') == NULL);
    FUZZ_CHECK(n == 0 || (value[0] != ' ' && value[0] != '\t'
                          && !apr_isspace(value[n - 1])));
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *text = fuzz_cstr(p, data, size);
    acme_http_t *http = fuzz_http_create(p, text, size);
    acme_http_response_t *resp = NULL;
    apr_interval_time_t d;

    if (http->request(http, &resp, p, "GET", "https://ca.test/x", NULL, NULL,
                      0) == APR_SUCCESS) {
        FUZZ_CHECK(resp->status >= 0 && resp->status <= 999);
        FUZZ_CHECK(resp->body && resp->body[resp->body_len] == '\0');
        FUZZ_CHECK(apr_table_elts(resp->headers)->nelts
                   <= ACME_HTTP_HEADER_MAX);
        apr_table_do(check_entry, NULL, resp->headers, NULL);
        d = acme_retry_after(resp, FUZZ_NOW);
        FUZZ_CHECK(d >= 0);
        /* Seconds are believed up to a year; dates only when ahead. */
        d = acme_retry_after(resp, 0);
        FUZZ_CHECK(d >= 0);
        (void)acme_token_is_valid(apr_table_get(resp->headers,
                                                "Replay-Nonce"));
    }
    apr_pool_destroy(p);
    return 0;
}
