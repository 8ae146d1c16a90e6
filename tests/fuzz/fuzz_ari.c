/* ACME Renewal Information (RFC 9773): acme_ari_get on a renewalInfo
 * response taken from the fuzz input (one raw HTTP response, see
 * fuzz_http.h; suggestedWindow, explanationURL, Retry-After, problems).
 * The directory before it is a fixed good one. */
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "fuzz_http.h"
#include "acme_client.h"

static const char directory[] =
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "\r\n"
    "{\"newNonce\":\"https://ca.test/nonce\","
    "\"newAccount\":\"https://ca.test/acct\","
    "\"newOrder\":\"https://ca.test/order\","
    "\"renewalInfo\":\"https://ca.test/renewalInfo/\"}"
    "\n%%\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    apr_size_t dlen = sizeof(directory) - 1;
    char *text = apr_palloc(p, dlen + size + 1);
    acme_client_t *c;
    acme_ari_t ari;

    memcpy(text, directory, dlen);
    if (size) {
        memcpy(text + dlen, data, size);
    }
    text[dlen + size] = '\0';
    acme_client_create(&c, p, fuzz_http_create(p, text, dlen + size),
                       "https://ca.test/dir");
    memset(&ari, 0, sizeof(ari));
    if (acme_ari_get(&ari, c, p, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
        == APR_SUCCESS) {
        FUZZ_CHECK(ari.start <= ari.end);
        FUZZ_CHECK(ari.retry_after >= 0);
        FUZZ_CHECK(!ari.explanation_url
                   || !strncasecmp(ari.explanation_url, "http", 4));
    }
    else {
        FUZZ_CHECK(c->error != NULL && acme_error_line(p, c->error) != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
