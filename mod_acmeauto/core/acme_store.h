/* The on-disk store: accounts, challenges, staged and live certificates,
 * per-domain state. Every write is temp file + fsync + rename, so a crash
 * never leaves a half-written file under a real name. This comment and
 * the names below are the truth about the layout; no caller spells a
 * file name of its own.
 *
 * <key> is a domain's store key: the name it was first stored under,
 * which stays with its set of names (see aa_identity).
 *
 * Owned by the server's User (the job writes; root reads with acme_safe):
 *   accounts/<ca-id>/account.json, account.key.pem (0600); <ca-id>:
 *     the CA's URL without query and the EAB key id, hashed
 *     (acme_job_account_id)
 *   challenges/<token>                 key authorizations in flight
 *   challenges/<name>.tls-alpn-01.pem  tls-alpn-01 certificate and key
 *                                      for <name> (acme_alpn_file)
 *   staging/<key>/<type>.cert.pem, <type>.key.pem, <type>.order.json,
 *                 staged.json          orders under way and staged sets
 *   state/<key>.json                   job state and last error (format
 *                                      and clamping: acme_state.h)
 *   state/restart.request              the job's hint: something is staged
 *   state/job.lock                     one job across generations
 * Owned by root:
 *   live/<key>/<type>.cert.pem, <type>.key.pem, live.json
 *   live/<key>/<type>.chain.pem        the chain alone (ACMEDeployCmd)
 *   fallback/<key>/ec256.cert.pem, ec256.key.pem
 *   rejected/<key>.<time>.<random>/    staged sets that failed the checks
 *   handoff/<key>.json                 the parent's verdict on the last
 *                                      staged set (readable by the User)
 *   handoff/domains.json               store key -> set of names
 *   handoff/restart.json               why a due restart waits
 *                                      (acme_restart.h)
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
    ACME_AREA_HANDOFF,
    ACME_AREA_COUNT
} acme_store_area_e;

#define ACME_FN_STAGED   "staged.json"
#define ACME_FN_LIVE     "live.json"
#define ACME_FN_RESTART  "restart.request"
#define ACME_FN_JOB_LOCK "job.lock"
#define ACME_FN_INDEX    "domains.json"
#define ACME_FN_ACCOUNT  "account.json"
#define ACME_FN_ACCOUNT_KEY "account.key.pem"
/* staging/<key>/<type>.<suffix>: an order under way, then the staged set
 * (cert and key match acme_store_pem_name). */
#define ACME_FN_WIP_ORDER "order.json"
#define ACME_FN_WIP_KEY   "key.pem"
#define ACME_FN_WIP_CERT  "cert.pem"
#define ACME_FN_WIP_DNS   "dns-records.json"  /* staging/<name>/: TXT
                                             * records to tear down */
/* challenges/<name><suffix>: a tls-alpn-01 answer (acme_alpn.h). */
#define ACME_FN_ALPN_SUFFIX ".tls-alpn-01.pem"
/* The most of one staged.json or handoff file anybody reads. */
#define ACME_STORE_META_MAX (64 * 1024)

typedef struct {
    const char *base;
} acme_store_t;

apr_status_t acme_store_open(acme_store_t **store, apr_pool_t *p,
                             const char *base);

const char *acme_store_area_name(acme_store_area_e area);

/* Does the area belong to the server's User (the job writes there)? */
int acme_store_area_is_users(acme_store_area_e area);

/* "<type>.<kind>.pem" for a key type name and "cert" or "key". In p. */
const char *acme_store_pem_name(apr_pool_t *p, const char *type_name,
                                const char *kind);

/* "<key>.json": a domain's file in state/ and handoff/. In p. */
const char *acme_store_domain_file(apr_pool_t *p, const char *key);

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
