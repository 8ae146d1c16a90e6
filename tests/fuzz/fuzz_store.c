/* The store's readers: the input as a file in a temporary store, read with
 * acme_store_read (size bound, NUL termination) and acme_store_read_json,
 * then the fields the job takes from account.json and order.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "acme_json.h"
#include "acme_store.h"

static char dir[64];
static char path[96];

static void remove_dir(void)
{
    unlink(path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    char *got;
    apr_size_t len;
    json_t *j;
    FILE *f;

    if (!*dir) {
        snprintf(dir, sizeof(dir), "/tmp/acmeauto-fuzz-store.XXXXXX");
        FUZZ_CHECK(mkdtemp(dir) != NULL);
        snprintf(path, sizeof(path), "%s/state.json", dir);
        atexit(remove_dir);
    }
    f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(fwrite(data, 1, size, f) == size || size == 0);
    FUZZ_CHECK(fclose(f) == 0);

    FUZZ_CHECK(acme_store_read(&got, &len, path, ACME_STORE_FILE_MAX, p)
               == APR_SUCCESS);
    FUZZ_CHECK(len == size && got[len] == '\0');
    FUZZ_CHECK(size == 0 || !memcmp(got, data, size));
    if (size > 0) {
        FUZZ_CHECK(acme_store_read(&got, &len, path, size - 1, p)
                   == APR_ENOSPC);
    }
    if (acme_store_read_json(&j, path, p) == APR_SUCCESS) {
        FUZZ_CHECK(json_is_object(j));
        (void)acme_json_str(j, "url");
        (void)acme_json_str(j, "server");
        (void)acme_json_str(j, "names");
    }
    apr_pool_destroy(p);
    return 0;
}
