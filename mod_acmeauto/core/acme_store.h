/* The on-disk store: accounts, challenges, staged and live certificates,
 * per-domain state. Every write is temp file + fsync + rename, so a crash
 * never leaves a half-written file under a real name.
 *
 *   accounts/<ca-id>/account.json, account.key.pem (0600)
 *   challenges/<token>                 key authorizations in flight
 *   staging/<domain>/<type>.cert.pem, <type>.key.pem, staged.json
 *   live/<domain>/<type>.cert.pem, <type>.key.pem, live.json
 *   fallback/<domain>/<type>.cert.pem, <type>.key.pem
 *   rejected/<domain>.<time>/          staged sets that failed validation
 *   state/<domain>.json                job state and last error
 *   restart.request                    the child asks for a graceful restart
 */
#ifndef ACME_STORE_H
#define ACME_STORE_H

#include <apr_pools.h>
#include <apr_file_info.h>
#include <jansson.h>

#define ACME_STORE_FILE_MAX (1024 * 1024)

typedef enum {
    ACME_AREA_ACCOUNTS = 0,
    ACME_AREA_CHALLENGES,
    ACME_AREA_STAGING,
    ACME_AREA_LIVE,
    ACME_AREA_FALLBACK,
    ACME_AREA_REJECTED,
    ACME_AREA_STATE,
    ACME_AREA_COUNT
} acme_store_area_e;

typedef struct {
    const char *base;
} acme_store_t;

apr_status_t acme_store_open(acme_store_t **store, apr_pool_t *p,
                             const char *base);

const char *acme_store_area_name(acme_store_area_e area);

/* base/area[/name[/file]]; name and file may be NULL. In p. */
const char *acme_store_path(apr_pool_t *p, const acme_store_t *s,
                            acme_store_area_e area, const char *name,
                            const char *file);

/* Creates base and all areas (0755; 0700 for the areas that hold keys:
 * accounts, live, staging, rejected). */
apr_status_t acme_store_create_dirs(const acme_store_t *s, apr_pool_t *p);

/* mkdir -p with perms. Here and below perms are Unix modes (0700). */
apr_status_t acme_store_mkdirs(const char *path, apr_fileperms_t perms,
                               apr_pool_t *p);

/* Atomic write: path.tmp.<pid> in the same directory, fsync, rename,
 * fsync of the directory. perms e.g. 0600 for keys. */
apr_status_t acme_store_write(const char *path, const void *data,
                              apr_size_t len, apr_fileperms_t perms,
                              apr_pool_t *p);
/* Reads a whole file of at most max bytes; NUL-terminated; in p.
 * APR_ENOENT when absent. */
apr_status_t acme_store_read(char **data, apr_size_t *len, const char *path,
                             apr_size_t max, apr_pool_t *p);

/* JSON convenience over the two above; *json owned by p. */
apr_status_t acme_store_write_json(const char *path, const json_t *json,
                                   apr_fileperms_t perms, apr_pool_t *p);
apr_status_t acme_store_read_json(json_t **json, const char *path,
                                  apr_pool_t *p);

/* Removes a directory and the regular files in it (one level). */
apr_status_t acme_store_remove_dir(const char *path, apr_pool_t *p);

int acme_store_exists(const char *path, apr_pool_t *p);

#endif
