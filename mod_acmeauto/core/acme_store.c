#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <sys/stat.h>
#include <apr_strings.h>
#include <apr_file_io.h>

#include "acme_store.h"
#include "acme_json.h"

static const char *const area_names[ACME_AREA_COUNT] = {
    "accounts", "challenges", "staging", "live", "fallback", "rejected",
    "state", "handoff"
};

apr_status_t acme_store_open(acme_store_t **store, apr_pool_t *p,
                             const char *base)
{
    *store = apr_pcalloc(p, sizeof(**store));
    (*store)->base = apr_pstrdup(p, base);
    return APR_SUCCESS;
}

const char *acme_store_area_name(acme_store_area_e area)
{
    return area < ACME_AREA_COUNT ? area_names[area] : "?";
}

int acme_store_area_is_users(acme_store_area_e area)
{
    return area == ACME_AREA_ACCOUNTS || area == ACME_AREA_CHALLENGES
        || area == ACME_AREA_STAGING || area == ACME_AREA_STATE;
}

const char *acme_store_pem_name(apr_pool_t *p, const char *type_name,
                                const char *kind)
{
    return apr_psprintf(p, "%s.%s.pem", type_name, kind);
}

const char *acme_store_domain_file(apr_pool_t *p, const char *key)
{
    return apr_pstrcat(p, key, ".json", NULL);
}

const char *acme_store_path(apr_pool_t *p, const acme_store_t *s,
                            acme_store_area_e area, const char *name,
                            const char *file)
{
    return apr_pstrcat(p, s->base, "/", acme_store_area_name(area),
                       name ? "/" : "", name ? name : "",
                       file ? "/" : "", file ? file : "", NULL);
}

/* Callers give Unix modes (0600); APR wants its own flag bits. */
static apr_fileperms_t mode_to_perms(apr_fileperms_t mode)
{
    static const struct { int mode; apr_fileperms_t perm; } bits[] = {
        { 0400, APR_FPROT_UREAD }, { 0200, APR_FPROT_UWRITE },
        { 0100, APR_FPROT_UEXECUTE }, { 0040, APR_FPROT_GREAD },
        { 0020, APR_FPROT_GWRITE }, { 0010, APR_FPROT_GEXECUTE },
        { 0004, APR_FPROT_WREAD }, { 0002, APR_FPROT_WWRITE },
        { 0001, APR_FPROT_WEXECUTE },
    };
    apr_fileperms_t perms = 0;
    apr_size_t i;

    for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
        if (mode & bits[i].mode) {
            perms |= bits[i].perm;
        }
    }
    return perms;
}

apr_status_t acme_store_mkdirs(const char *path, apr_fileperms_t perms,
                               apr_pool_t *p)
{
    apr_status_t rv = apr_dir_make_recursive(path, mode_to_perms(perms), p);

    return APR_STATUS_IS_EEXIST(rv) ? APR_SUCCESS : rv;
}

apr_status_t acme_store_create_dirs(const acme_store_t *s, apr_pool_t *p)
{
    apr_status_t rv;
    int i;

    if ((rv = acme_store_mkdirs(s->base, 0755, p)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < ACME_AREA_COUNT; i++) {
        /* Keys live in these; nobody else needs to look in. */
        int private = (i == ACME_AREA_ACCOUNTS || i == ACME_AREA_LIVE
                       || i == ACME_AREA_STAGING || i == ACME_AREA_REJECTED);
        const char *dir = acme_store_path(p, s, i, NULL, NULL);
        if ((rv = acme_store_mkdirs(dir, private ? 0700 : 0755, p)) != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

static apr_status_t fsync_dir(const char *path, apr_pool_t *p)
{
    char *dir = apr_pstrdup(p, path), *slash = strrchr(dir, '/');
    int fd;

    if (!slash) {
        return APR_SUCCESS;
    }
    *slash = '\0';
    if ((fd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY)) < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    fsync(fd);
    close(fd);
    return APR_SUCCESS;
}

apr_status_t acme_store_write(const char *path, const void *data,
                              apr_size_t len, apr_fileperms_t perms,
                              apr_pool_t *p)
{
    const char *tmp = apr_psprintf(p, "%s.tmp.%ld", path, (long)getpid());
    apr_file_t *f = NULL;
    apr_size_t written;
    apr_status_t rv;

    /* The temp file gets the final permissions before any byte is in it. */
    /* EXCL: root writes into directories the child's user owns, where a
     * planted symlink must not be followed. */
    apr_file_remove(tmp, p);
    rv = apr_file_open(&f, tmp, APR_FOPEN_WRITE | APR_FOPEN_CREATE
                       | APR_FOPEN_EXCL | APR_FOPEN_BINARY,
                       mode_to_perms(perms), p);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    if ((rv = apr_file_perms_set(tmp, mode_to_perms(perms))) != APR_SUCCESS
        && rv != APR_ENOTIMPL) {
        goto out;
    }
    if ((rv = apr_file_write_full(f, data, len, &written)) != APR_SUCCESS
        || (rv = apr_file_sync(f)) != APR_SUCCESS) {
        goto out;
    }
    rv = apr_file_close(f);
    f = NULL;
    if (rv != APR_SUCCESS
        || (rv = apr_file_rename(tmp, path, p)) != APR_SUCCESS) {
        goto out;
    }
    rv = fsync_dir(path, p);
out:
    if (f) {
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS) {
        apr_file_remove(tmp, p);
    }
    return rv;
}

/* O_NONBLOCK: a FIFO planted in the store (or named by a path in the
 * configuration) is refused instead of blocking the reader for ever. */
apr_status_t acme_store_read(char **data, apr_size_t *len, const char *path,
                             apr_size_t max, apr_pool_t *p)
{
    struct stat st;
    apr_size_t got = 0;
    apr_status_t rv = APR_SUCCESS;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);

    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (fstat(fd, &st) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    else if (S_ISDIR(st.st_mode)) {
        rv = APR_FROM_OS_ERROR(EISDIR);
    }
    else if (!S_ISREG(st.st_mode)) {
        rv = APR_EINVAL;
    }
    else if (st.st_size < 0 || (apr_size_t)st.st_size > max) {
        rv = APR_ENOSPC;
    }
    if (rv == APR_SUCCESS) {
        *data = apr_palloc(p, (apr_size_t)st.st_size + 1);
        while (got < (apr_size_t)st.st_size) {
            ssize_t n = read(fd, *data + got, (apr_size_t)st.st_size - got);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;    /* shrank meanwhile: what was there */
            }
            got += (apr_size_t)n;
        }
        (*data)[got] = '\0';
        *len = got;
    }
    close(fd);
    return rv;
}

apr_status_t acme_store_write_json(const char *path, const json_t *json,
                                   apr_fileperms_t perms, apr_pool_t *p)
{
    char *s = json_dumps(json, JSON_INDENT(2) | JSON_SORT_KEYS);
    apr_status_t rv;

    if (!s) {
        return APR_ENOMEM;
    }
    rv = acme_store_write(path, s, strlen(s), perms, p);
    free(s);
    return rv;
}

apr_status_t acme_store_read_json(json_t **json, const char *path,
                                  apr_pool_t *p)
{
    char *data;
    apr_size_t len;
    apr_status_t rv = acme_store_read(&data, &len, path, ACME_STORE_FILE_MAX,
                                      p);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    *json = acme_json_parse(p, data, len);
    return *json ? APR_SUCCESS : APR_EINVAL;
}

apr_status_t acme_store_remove_dir(const char *path, apr_pool_t *p)
{
    apr_dir_t *dir;
    apr_finfo_t fi;
    apr_status_t rv;

    /* Never follow a symlink someone put in place of the directory. */
    if (apr_stat(&fi, path, APR_FINFO_LINK | APR_FINFO_TYPE, p) == APR_SUCCESS
        && fi.filetype == APR_LNK) {
        return apr_file_remove(path, p);
    }
    if ((rv = apr_dir_open(&dir, path, p)) != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) ? APR_SUCCESS : rv;
    }
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, dir) == APR_SUCCESS) {
        if (fi.filetype == APR_REG || fi.filetype == APR_LNK) {
            apr_file_remove(apr_pstrcat(p, path, "/", fi.name, NULL), p);
        }
    }
    apr_dir_close(dir);
    return apr_dir_remove(path, p);
}

int acme_store_exists(const char *path, apr_pool_t *p)
{
    apr_finfo_t fi;

    return apr_stat(&fi, path, APR_FINFO_TYPE, p) == APR_SUCCESS;
}
