/* Shared by the fuzz targets: APR set up once per process, one pool per
 * input (destroyed after it, so LeakSanitizer sees anything the core
 * forgets), and a check that turns a broken promise into a crash. */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <apr_pools.h>
#include <apr_tables.h>

/* A new pool for one input; APR is initialised on the first call. */
apr_pool_t *fuzz_pool(void);

/* The input as a NUL-terminated string in p (it may hold NULs before). */
char *fuzz_cstr(apr_pool_t *p, const uint8_t *data, size_t size);

/* Standard base64 PEM block of label around der; in p. */
const char *fuzz_pem_wrap(apr_pool_t *p, const char *label,
                          const uint8_t *der, size_t len);

/* A property the code under test promises; abort() (a crash libFuzzer
 * records) when it does not hold. */
#define FUZZ_CHECK(cond) \
    do { \
        if (!(cond)) { \
            fuzz_check_failed(#cond, __FILE__, __LINE__); \
        } \
    } while (0)

void fuzz_check_failed(const char *what, const char *file, int line)
    __attribute__((noreturn));

/* Fixed instant for checks that need a clock: 2030-01-01T00:00:00Z,
 * inside the validity of the test certificates in fuzz_pki.h. */
#define FUZZ_NOW APR_INT64_C(1893456000000000)

#endif
