/* The job's persisted state, state/<key>.json (acme_state_parse), read
 * at a fixed instant for a fixed configuration and fixed live ARI ids.
 * Whatever the file says, what comes out is within the bounds the job
 * relies on (no file can stop renewals), and writing it back and reading
 * that again changes nothing. */
#include <string.h>

#include "fuzz_common.h"
#include "acme_json.h"
#include "acme_state.h"

#define FP "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
#define IDS "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"
#define DAY APR_INT64_C(86400000000)

/* Bounds checked independently of the code's own constants. */
static void check_bounds(const acme_state_t *st)
{
    static const char *const known[] = { "type", "detail", "activity",
                                         "hint", "http_status", "kind",
                                         "at" };
    const char *key;
    json_t *v;
    int i;

    FUZZ_CHECK(st->failures >= 0 && st->failures <= 1000);
    FUZZ_CHECK(st->next_attempt >= 0 && st->next_attempt <= FUZZ_NOW + DAY);
    FUZZ_CHECK(st->ari.next_check >= 0
               && st->ari.next_check <= FUZZ_NOW + DAY);
    FUZZ_CHECK(!st->ari.ids || !strcmp(st->ari.ids, IDS));
    FUZZ_CHECK(st->ari.start >= 0 && st->ari.start <= st->ari.end);
    FUZZ_CHECK(!st->ari.renew_at || (st->ari.renew_at >= st->ari.start
                                     && st->ari.renew_at <= st->ari.end));
    for (i = 0; i < ACME_EV_COUNT; i++) {
        FUZZ_CHECK(st->notified[i] >= 0 && st->notified[i] <= FUZZ_NOW);
    }
    if (!st->last_error) {
        return;
    }
    FUZZ_CHECK(json_is_object(st->last_error));
    json_object_foreach(st->last_error, key, v) {
        int ok = 0;
        for (i = 0; i < 7; i++) {
            ok |= !strcmp(key, known[i]);
        }
        FUZZ_CHECK(ok);
        FUZZ_CHECK(!json_is_string(v) || json_string_length(v) <= 1024);
    }
    v = json_object_get(st->last_error, "at");
    FUZZ_CHECK(json_integer_value(v) >= 0
               && json_integer_value(v) <= FUZZ_NOW / 1000000);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    acme_state_t st, again;
    const char *text;
    apr_status_t rv;

    rv = acme_state_parse(&st, p, (const char *)data, size, FP, IDS,
                          FUZZ_NOW);
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL);
    FUZZ_CHECK(st.config && !strcmp(st.config, FP));
    check_bounds(&st);

    /* What the job writes back reads as the same state. */
    st.domain = "example.org";
    text = acme_json_dump(p, acme_state_to_json(p, &st, FUZZ_NOW));
    FUZZ_CHECK(text != NULL);
    FUZZ_CHECK(acme_state_parse(&again, p, text, strlen(text), FP, IDS,
                                FUZZ_NOW) == APR_SUCCESS);
    FUZZ_CHECK(again.failures == st.failures);
    FUZZ_CHECK(again.next_attempt == st.next_attempt);
    FUZZ_CHECK((!again.ari.ids) == (!st.ari.ids));
    FUZZ_CHECK(again.ari.offered == st.ari.offered);
    FUZZ_CHECK(again.ari.start == st.ari.start);
    FUZZ_CHECK(again.ari.end == st.ari.end);
    FUZZ_CHECK(again.ari.renew_at == st.ari.renew_at);
    FUZZ_CHECK(again.ari.next_check == st.ari.next_check);
    FUZZ_CHECK(!memcmp(again.notified, st.notified, sizeof(st.notified)));
    FUZZ_CHECK((!again.last_error) == (!st.last_error));
    FUZZ_CHECK(!st.last_error || json_equal(again.last_error, st.last_error));

    /* Another configuration's state is never taken. */
    FUZZ_CHECK(acme_state_parse(&again, p, text, strlen(text), "other", IDS,
                                FUZZ_NOW) == APR_SUCCESS);
    FUZZ_CHECK(!again.failures && !again.next_attempt && !again.ari.ids
               && !again.last_error);
    apr_pool_destroy(p);
    return 0;
}
