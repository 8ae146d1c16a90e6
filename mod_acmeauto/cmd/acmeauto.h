/* The acmeauto command: the administrator's tool on the module's store
 * (status, check, renew, revoke, account). It links the same ACME core as
 * the module and reads what the running server resolved from
 * handoff/config.json (core/acme_conf.h).
 *
 * Privileges: started as root, it reads what only root may (config.json
 * through the hardened reader, an ACMEEAB file:, live/), then does all
 * ACME work as the server's User, in the same store areas as the
 * background job, so the ownership model of the store holds. Root-side
 * steps afterwards (setting a revoked live certificate aside) run in a
 * root process that trusts nothing the User-side one wrote. */
#ifndef ACMEAUTO_CMD_H
#define ACMEAUTO_CMD_H

#include <apr_pools.h>
#include <apr_file_io.h>

#include "acme_conf.h"
#include "acme_job.h"
#include "acme_store.h"

/* Exit codes, for scripts (documented in the README and --help). */
#define AX_OK          0   /* done */
#define AX_FAILED      1   /* the CA, the server or a check said no */
#define AX_USAGE       2   /* bad arguments */
#define AX_CONFIG      3   /* no usable store or configuration, unknown name */
#define AX_BUSY        4   /* the background job kept the lock too long */
#define AX_PENDING     5   /* done at the CA, not live yet (see the message) */

typedef struct {
    apr_pool_t *pool;
    const char *store_dir;       /* --store, else from httpd.conf */
    const char *httpd_conf;      /* --config */
    int quiet;                   /* -q: errors only */
    int verbose;                 /* -v: the job's debug lines too */
    acme_conf_t *conf;           /* NULL until ax_load_conf */
    acme_store_t *store;
    int dropped;                 /* now running as the server's User */
    apr_file_t *lock;            /* state/job.lock, while held */
} ax_ctx_t;

/* One subcommand: argv[0] is its name. Returns an exit code. */
typedef int (*ax_cmd_fn)(ax_ctx_t *ctx, int argc, const char *const *argv);

int ax_cmd_status(ax_ctx_t *ctx, int argc, const char *const *argv);
int ax_cmd_check(ax_ctx_t *ctx, int argc, const char *const *argv);
int ax_cmd_renew(ax_ctx_t *ctx, int argc, const char *const *argv);
int ax_cmd_revoke(ax_ctx_t *ctx, int argc, const char *const *argv);
int ax_cmd_account(ax_ctx_t *ctx, int argc, const char *const *argv);
int ax_cmd_import(ax_ctx_t *ctx, int argc, const char *const *argv);

/* Gets d a new certificate now, as `renew NAME --force` does, and waits
 * (at most `wait`) until the running server serves it; the exit code.
 * Used by revoke for the replacement. In cmd_renew.c. */
int ax_renew_domain(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                    apr_interval_time_t wait);

/* --- common steps (cmd_common.c) ------------------------------------- */

/* Messages: "acmeauto: ..." on stderr. ax_info is silenced by -q. */
void ax_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
void ax_info(const ax_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Finds the store (--store, else ACMEStoreDir in --config or the
 * default httpd.conf, else ServerRoot/acmeauto) and reads
 * handoff/config.json: as root through the hardened reader (root-owned,
 * no links); as another user plainly. AX_OK or AX_CONFIG (said why). */
int ax_load_conf(ax_ctx_t *ctx);

/* The configured domain with this name (or store key); NULL after
 * saying which names are managed. */
acme_conf_domain_t *ax_domain(ax_ctx_t *ctx, const char *name);

/* The spec the job would use for d at its server_index-th ACMEServer.
 * With read_eab, the EAB key is read from its file: (call this before
 * ax_drop_privileges; only root may read it). An EAB given inline in
 * httpd.conf cannot be read here: the spec then holds the key back and
 * a needed registration fails with APR_EAGAIN. */
acme_domain_spec_t ax_spec(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                           int server_index, int read_eab);

/* Becomes the server's User (its group, no supplementary groups) when
 * running as root; a no-op otherwise. AX_OK or AX_FAILED (said why). */
int ax_drop_privileges(ax_ctx_t *ctx);

/* Runs fn as the server's User: in a child process that drops its
 * privileges when running as root (the caller stays root for root-side
 * steps after it), or directly otherwise. fn's exit code, or AX_FAILED
 * when the child died (said why). */
int ax_as_user(ax_ctx_t *ctx, int (*fn)(ax_ctx_t *ctx, void *baton),
               void *baton);

/* Takes state/job.lock, the lock the background job holds while it
 * works, waiting at most `wait` and saying so while it waits. AX_OK or
 * AX_BUSY. Released by ax_unlock (and at exit). */
int ax_lock(ax_ctx_t *ctx, apr_interval_time_t wait);
void ax_unlock(ax_ctx_t *ctx);

/* The job environment: logs to stderr as "acmeauto: NAME: ...", stops
 * on SIGINT/SIGTERM. */
acme_job_env_t ax_job_env(ax_ctx_t *ctx);

/* "YYYY-MM-DDTHH:MM:SSZ" (UTC), as the status JSON writes times. In p. */
const char *ax_time_str(apr_pool_t *p, apr_time_t t);

/* Did SIGINT or SIGTERM arrive? */
int ax_interrupted(void);

#endif
