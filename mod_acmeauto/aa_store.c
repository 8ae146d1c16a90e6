/* Parent side of the store: see aa_store.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <unixd.h>

#include "aa_store.h"

APLOG_USE_MODULE(acmeauto);

/* Modes of the areas: keys live in accounts, staging, live and rejected,
 * where nobody else needs to look. */
static mode_t area_mode(acme_store_area_e area)
{
    switch (area) {
    case ACME_AREA_CHALLENGES:
    case ACME_AREA_STATE:
    case ACME_AREA_HANDOFF:
        return 0755;
    default:
        return 0700;
    }
}

uid_t aa_store_owner(const aa_global_t *g, acme_store_area_e area)
{
    return acme_store_area_is_users(area) ? g->user : geteuid();
}

static apr_status_t close_fds(void *data)
{
    aa_global_t *g = data;
    int i;

    for (i = 0; i < ACME_AREA_COUNT; i++) {
        if (g->area_fd[i] >= 0) {
            close(g->area_fd[i]);
            g->area_fd[i] = -1;
        }
    }
    return APR_SUCCESS;
}

static apr_hash_t *refusals_said;

static apr_status_t forget_refusals(void *data)
{
    refusals_said = NULL;
    return APR_SUCCESS;
}

void aa_store_log_refusal(server_rec *s, const char *where, acme_safe_e why)
{
    aa_global_t *g = aa_global();
    const char *msg;

    /* Once per generation: the table lives in pconf. */
    if (g && !refusals_said) {
        refusals_said = apr_hash_make(g->pool);
        apr_pool_cleanup_register(g->pool, NULL, forget_refusals,
                                  apr_pool_cleanup_null);
    }
    if (refusals_said) {
        msg = apr_psprintf(g->pool, "%s %s", where, acme_safe_reason(why));
        if (apr_hash_get(refusals_said, msg, APR_HASH_KEY_STRING)
            || apr_hash_count(refusals_said) > 1000) {
            return;
        }
        apr_hash_set(refusals_said, msg, APR_HASH_KEY_STRING, "");
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00110)
                 "the store's %s %s: ignored, as root trusts nothing there "
                 "that is not a plain file of the server's User", where,
                 acme_safe_reason(why));
}

/* base/<area>: created if missing, handed to its owner, opened. */
static int open_area(aa_global_t *g, int base, acme_store_area_e area,
                     apr_pool_t *p, server_rec *s)
{
    uid_t owner = aa_store_owner(g, area);
    const char *name = acme_store_area_name(area);
    acme_safe_e why;
    int fd = -1, d;

    if (mkdirat(base, name, area_mode(area)) != 0 && errno != EEXIST) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(errno), s,
                     AA_LOGNO(00101) "cannot create %s/%s: certificates "
                     "cannot be %s until it can (check ACMEStoreDir: a full "
                     "or read-only disk?)", g->store_dir, name,
                     acme_store_area_is_users(area) ? "obtained" : "activated");
        return -1;
    }
    /* The area itself is in base, which root owns: setting its owner
     * and mode on the opened descriptor is safe. */
    d = openat(base, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d >= 0 && geteuid() == 0) {
        struct stat st;
        if (fstat(d, &st) == 0 && (st.st_uid != owner
                                   || (st.st_mode & 07777) != area_mode(area))
            && (fchown(d, owner, acme_store_area_is_users(area) ? g->group
                                                                : 0) != 0
                || fchmod(d, area_mode(area)) != 0)) {
            ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(errno), s,
                         AA_LOGNO(00102) "cannot hand %s/%s to %s: the "
                         "background job may fail to write there",
                         g->store_dir, name,
                         owner == 0 ? "root" : "the server's User");
        }
    }
    if (d >= 0) {
        close(d);
    }
    if (acme_safe_opendir(&fd, &why, base, name, owner, 0) != APR_SUCCESS) {
        aa_store_log_refusal(s, apr_pstrcat(p, "directory ", name, NULL),
                             why);
        return -1;
    }
    return fd;
}

void aa_store_prepare(aa_global_t *g, apr_pool_t *p, server_rec *s)
{
    acme_safe_e why;
    apr_status_t rv;
    const char *what = "cannot be created";
    int base, i;

    g->user = geteuid() == 0 ? ap_unixd_config.user_id : geteuid();
    g->group = geteuid() == 0 ? ap_unixd_config.group_id : getegid();
    for (i = 0; i < ACME_AREA_COUNT; i++) {
        g->area_fd[i] = -1;
    }
    apr_pool_cleanup_register(p, g, close_fds, apr_pool_cleanup_null);
    acme_store_open(&g->store, g->pool, g->store_dir);
    rv = acme_store_mkdirs(g->store_dir, 0755, p);
    if (rv == APR_SUCCESS
        && (rv = acme_safe_opendir(&base, &why, AT_FDCWD, g->store_dir,
                                   geteuid(), 1)) != APR_SUCCESS) {
        what = acme_safe_reason(why);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AA_LOGNO(00111)
                     "the store %s cannot be used (%s): Apache serves the "
                     "certificates it can and obtains none until this is "
                     "fixed; ACMEStoreDir must be a directory root owns and "
                     "only root may write", g->store_dir, what);
        return;
    }
    for (i = 0; i < ACME_AREA_COUNT; i++) {
        g->area_fd[i] = open_area(g, base, i, p, s);
    }
    close(base);
}

/* A missing store is created with its parents: the nearest existing
 * one must be a directory we can write. */
static const char *creatable(apr_pool_t *p, const char *dir)
{
    char *up = apr_pstrdup(p, dir), *slash;
    struct stat st;

    while ((slash = strrchr(up, '/')) != NULL) {
        *(slash == up ? slash + 1 : slash) = '\0';
        if (stat(up, &st) != 0) {
            if ((errno == ENOENT || errno == ENOTDIR) && slash != up) {
                continue;
            }
            return apr_psprintf(p, "cannot be created: %s: %s", up,
                                strerror(errno));
        }
        if (!S_ISDIR(st.st_mode)) {
            return apr_psprintf(p, "cannot be created: %s is not a "
                                "directory", up);
        }
        if (access(up, W_OK) != 0) {
            return apr_psprintf(p, "cannot be created in %s (%s)", up,
                                strerror(errno));
        }
        return NULL;
    }
    return NULL;
}

const char *aa_store_problem(apr_pool_t *p, const char *dir)
{
    acme_safe_e why;
    struct stat st;
    int fd;

    if (lstat(dir, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return creatable(p, dir);
        }
        return apr_psprintf(p, "cannot be looked at (%s)", strerror(errno));
    }
    if (acme_safe_opendir(&fd, &why, AT_FDCWD, dir, geteuid(), 1)
        != APR_SUCCESS) {
        return apr_psprintf(p, "%s (%s)", acme_safe_reason(why),
                            geteuid() == 0 ? "it must be root's, and "
                            "writable by root only" : "it must be yours");
    }
    close(fd);
    if (access(dir, W_OK) != 0) {
        return apr_psprintf(p, "is not writable (%s)", strerror(errno));
    }
    return NULL;
}

apr_status_t aa_store_open_domain(int *fd, aa_global_t *g,
                                  acme_store_area_e area, const char *key,
                                  server_rec *s)
{
    acme_safe_e why;
    apr_status_t rv;

    *fd = -1;
    if (g->area_fd[area] < 0) {
        return APR_ENOENT;
    }
    rv = acme_safe_opendir(fd, &why, g->area_fd[area], key,
                           aa_store_owner(g, area), 0);
    if (rv != APR_SUCCESS && why != ACME_SAFE_MISSING) {
        aa_store_log_refusal(s, apr_psprintf(g->pool, "%s/%s",
                             acme_store_area_name(area), key), why);
    }
    return rv;
}

apr_status_t aa_store_read_in(char **data, apr_size_t *len, aa_global_t *g,
                              acme_store_area_e area, const char *name,
                              apr_size_t max, apr_pool_t *p)
{
    acme_safe_e why;

    if (g->area_fd[area] < 0) {
        return APR_ENOENT;
    }
    return acme_safe_read(data, len, &why, g->area_fd[area], name,
                          aa_store_owner(g, area), max, p);
}

apr_status_t aa_store_write_in(aa_global_t *g, acme_store_area_e area,
                               const char *name, const char *data,
                               apr_size_t len, mode_t mode)
{
    if (g->area_fd[area] < 0 || acme_store_area_is_users(area)) {
        return APR_EACCES;    /* root never writes where the User can */
    }
    return acme_safe_write(g->area_fd[area], name, data, len, mode,
                           (uid_t)-1, (gid_t)-1);
}
