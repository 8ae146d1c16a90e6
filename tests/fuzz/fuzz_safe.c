/* Root's reads of what the User wrote (acme_safe_read, acme_safe_read_nb,
 * acme_safe_check) on a real file holding the input, in a temporary
 * directory: exactly the bytes of the file, NUL-terminated, within the
 * bound and never past a buffer. Beside it, the kinds of file root must
 * refuse whatever they hold: a symbolic link to it, a hard link, a FIFO
 * (which must not block), a directory, a missing name, another owner. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "acme_safe.h"

/* A bound no test file reaches. */
#define READ_MAX (16 * 1024 * 1024)

static char dir[64];
static int dirfd_ = -1;

static void remove_dir(void)
{
    static const char *const names[] = { "f", "h", "l", "p" };
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        unlinkat(dirfd_, names[i], 0);
    }
    unlinkat(dirfd_, "d", AT_REMOVEDIR);
    close(dirfd_);
    rmdir(dir);
}

static void setup(void)
{
    acme_safe_e why;

    snprintf(dir, sizeof(dir), "/tmp/acmeauto-fuzz-safe.XXXXXX");
    FUZZ_CHECK(mkdtemp(dir) != NULL);
    FUZZ_CHECK(acme_safe_opendir(&dirfd_, &why, AT_FDCWD, dir, geteuid(), 0)
               == APR_SUCCESS);
    atexit(remove_dir);
    FUZZ_CHECK(symlinkat("f", dirfd_, "l") == 0);
    FUZZ_CHECK(mkfifoat(dirfd_, "p", 0600) == 0);
    FUZZ_CHECK(mkdirat(dirfd_, "d", 0700) == 0);
}

static void write_file(const uint8_t *data, size_t size)
{
    int fd = openat(dirfd_, "f", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                    0600);
    size_t done = 0;

    FUZZ_CHECK(fd >= 0);
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        FUZZ_CHECK(n > 0 || (n < 0 && errno == EINTR));
        done += n > 0 ? (size_t)n : 0;
    }
    FUZZ_CHECK(close(fd) == 0);
}

/* name is refused as `want`, through every reader. */
static void check_refused(apr_pool_t *p, const char *name, uid_t owner,
                          acme_safe_e want)
{
    char buf[16], *got = NULL;
    apr_size_t len = 1;
    acme_safe_e why = ACME_SAFE_OK;

    FUZZ_CHECK(acme_safe_read(&got, &len, &why, dirfd_, name, owner,
                              READ_MAX, p) != APR_SUCCESS);
    FUZZ_CHECK(why == want && got == NULL);
    why = ACME_SAFE_OK;
    FUZZ_CHECK(acme_safe_read_nb(buf, sizeof(buf), &len, &why, dirfd_, name,
                                 owner) != APR_SUCCESS);
    FUZZ_CHECK(why == want && len == 0);
    why = ACME_SAFE_OK;
    FUZZ_CHECK(acme_safe_check(&why, dirfd_, name, owner, READ_MAX)
               != APR_SUCCESS);
    FUZZ_CHECK(why == want);
}

static void check_reads(apr_pool_t *p, const uint8_t *data, size_t size,
                        uid_t me)
{
    char *got = NULL, *buf = apr_palloc(p, size + 1);
    apr_size_t len = 0;
    acme_safe_e why;

    FUZZ_CHECK(acme_safe_read(&got, &len, &why, dirfd_, "f", me, size, p)
               == APR_SUCCESS);
    FUZZ_CHECK(why == ACME_SAFE_OK && len == size && got[len] == '\0');
    FUZZ_CHECK(size == 0 || !memcmp(got, data, size));
    /* Exactly fits: size bytes and the NUL. */
    FUZZ_CHECK(acme_safe_read_nb(buf, size + 1, &len, &why, dirfd_, "f", me)
               == APR_SUCCESS);
    FUZZ_CHECK(len == size && buf[len] == '\0');
    FUZZ_CHECK(size == 0 || !memcmp(buf, data, size));
    FUZZ_CHECK(acme_safe_check(&why, dirfd_, "f", me, size) == APR_SUCCESS);
    /* One byte short. */
    FUZZ_CHECK(acme_safe_read_nb(buf, size, &len, &why, dirfd_, "f", me)
               != APR_SUCCESS && why == ACME_SAFE_TOO_BIG);
    if (size > 0) {
        FUZZ_CHECK(acme_safe_read(&got, &len, &why, dirfd_, "f", me,
                                  size - 1, p) != APR_SUCCESS
                   && why == ACME_SAFE_TOO_BIG);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    uid_t me = geteuid();

    if (dirfd_ < 0) {
        setup();
    }
    write_file(data, size);
    check_reads(p, data, size, me);
    check_refused(p, "f", me + 1, ACME_SAFE_OWNER);
    check_refused(p, "l", me, ACME_SAFE_LINK);
    check_refused(p, "p", me, ACME_SAFE_NOT_REGULAR);
    check_refused(p, "d", me, ACME_SAFE_NOT_REGULAR);
    check_refused(p, "missing", me, ACME_SAFE_MISSING);
    FUZZ_CHECK(linkat(dirfd_, "f", dirfd_, "h", 0) == 0);
    check_refused(p, "f", me, ACME_SAFE_HARDLINK);
    check_refused(p, "h", me, ACME_SAFE_HARDLINK);
    FUZZ_CHECK(unlinkat(dirfd_, "h", 0) == 0);
    apr_pool_destroy(p);
    return 0;
}
