/* Problem documents (RFC 8555 §6.7, RFC 7807): acme_error_from_problem and
 * the log line made of it. An optional first line "NNN" is the HTTP
 * status; the rest is the body. A body that is no JSON object is read as
 * the client does then: no document at all. */
#include <string.h>

#include "fuzz_common.h"
#include "acme_json.h"
#include "acme_problem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    int status = 400;
    json_t *doc;
    acme_error_t *e;
    const char *line;

    if (size >= 4 && data[3] == '\n' && data[0] >= '0' && data[0] <= '9'
        && data[1] >= '0' && data[1] <= '9' && data[2] >= '0'
        && data[2] <= '9') {
        status = (data[0] - '0') * 100 + (data[1] - '0') * 10 + data[2] - '0';
        data += 4;
        size -= 4;
    }
    doc = acme_json_parse(p, (const char *)data, size);
    e = acme_error_from_problem(p, doc, status, "fuzzing");
    FUZZ_CHECK(e && e->detail);
    FUZZ_CHECK(e->kind == ACME_FAIL_TRANSIENT || e->kind == ACME_FAIL_CONFIG);
    FUZZ_CHECK(e->http_status == status);
    line = acme_error_line(p, e);
    FUZZ_CHECK(line && strstr(line, e->detail));
    (void)acme_problem_short_type(acme_json_str(doc, "type"));
    apr_pool_destroy(p);
    return 0;
}
