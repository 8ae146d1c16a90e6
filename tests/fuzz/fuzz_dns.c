/* A resolver's datagram as the dns-01 visibility check reads it
 * (acme_dns_answer_parse): whatever comes from the network, the parser
 * stays inside it and says found or not. The query id is the datagram's
 * own, so that the parser gets past the header. */
#include "fuzz_common.h"
#include "acme_dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned id = size >= 2 ? (unsigned)data[0] << 8 | data[1] : 0;
    int found = 7;
    apr_status_t rv;

    rv = acme_dns_answer_parse(&found, data, size, id,
                               "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0");
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL);
    FUZZ_CHECK(found == 0 || found == 1);
    FUZZ_CHECK(rv == APR_SUCCESS || found == 0);
    return 0;
}
