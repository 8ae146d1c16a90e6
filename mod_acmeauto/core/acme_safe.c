#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>
#include <apr_strings.h>

#include "acme_safe.h"

#define OPEN_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
#define OPEN_FILE_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC \
                         | O_NOCTTY)

const char *acme_safe_reason(acme_safe_e why)
{
    static const char *const text[] = {
        "is fine", "is missing", "is a symbolic link",
        "is not a regular file", "is not a directory",
        "has more than one hard link", "has the wrong owner",
        "is too large", "changed while it was read",
        "is writable by others than root", "cannot be read"
    };

    return why <= ACME_SAFE_IO ? text[why] : "?";
}

static apr_status_t refuse(acme_safe_e *why, acme_safe_e what,
                           apr_status_t rv)
{
    *why = what;
    return rv;
}

/* Why openat failed: ELOOP is O_NOFOLLOW meeting a link. */
static apr_status_t open_failed(acme_safe_e *why, int dirfd,
                                const char *name)
{
    int err = errno;
    struct stat st;

    if (err == ENOENT) {
        return refuse(why, ACME_SAFE_MISSING, APR_ENOENT);
    }
    if (err == ELOOP || (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0
                         && S_ISLNK(st.st_mode))) {
        return refuse(why, ACME_SAFE_LINK, APR_FROM_OS_ERROR(ELOOP));
    }
    if (err == ENOTDIR) {
        return refuse(why, ACME_SAFE_NOT_DIR, APR_FROM_OS_ERROR(ENOTDIR));
    }
    return refuse(why, ACME_SAFE_IO, APR_FROM_OS_ERROR(err));
}

apr_status_t acme_safe_opendir(int *fd, acme_safe_e *why, int dirfd,
                               const char *name, uid_t owner,
                               int want_private)
{
    struct stat st;
    int d = openat(dirfd, name, OPEN_DIR_FLAGS);

    *fd = -1;
    if (d < 0) {
        return open_failed(why, dirfd, name);
    }
    if (fstat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
        close(d);
        return refuse(why, ACME_SAFE_NOT_DIR, APR_FROM_OS_ERROR(ENOTDIR));
    }
    if (st.st_uid != owner) {
        close(d);
        return refuse(why, ACME_SAFE_OWNER, APR_FROM_OS_ERROR(EPERM));
    }
    if (want_private && (st.st_mode & (S_IWGRP | S_IWOTH))) {
        close(d);
        return refuse(why, ACME_SAFE_WRITABLE, APR_FROM_OS_ERROR(EPERM));
    }
    *fd = d;
    *why = ACME_SAFE_OK;
    return APR_SUCCESS;
}

/* Opens and checks; *fd open on success, with its size in *size. */
static apr_status_t open_checked(int *fd, apr_size_t *size, acme_safe_e *why,
                                 int dirfd, const char *name, uid_t owner,
                                 apr_size_t max)
{
    struct stat st;
    acme_safe_e what = ACME_SAFE_OK;
    int f = openat(dirfd, name, OPEN_FILE_FLAGS);

    *fd = -1;
    if (f < 0) {
        return open_failed(why, dirfd, name);
    }
    if (fstat(f, &st) != 0) {
        what = ACME_SAFE_IO;
    }
    else if (!S_ISREG(st.st_mode)) {
        what = ACME_SAFE_NOT_REGULAR;
    }
    else if (st.st_nlink != 1) {
        what = ACME_SAFE_HARDLINK;
    }
    else if (st.st_uid != owner) {
        what = ACME_SAFE_OWNER;
    }
    else if (st.st_size < 0 || (apr_size_t)st.st_size > max) {
        what = ACME_SAFE_TOO_BIG;
    }
    if (what != ACME_SAFE_OK) {
        close(f);
        return refuse(why, what, APR_EINVAL);
    }
    *fd = f;
    *size = (apr_size_t)st.st_size;
    *why = ACME_SAFE_OK;
    return APR_SUCCESS;
}

apr_status_t acme_safe_check(acme_safe_e *why, int dirfd, const char *name,
                             uid_t owner, apr_size_t max)
{
    apr_size_t size;
    int fd;
    apr_status_t rv = open_checked(&fd, &size, why, dirfd, name, owner, max);

    if (rv == APR_SUCCESS) {
        close(fd);
    }
    return rv;
}

/* Exactly size bytes, and then end of file. */
static apr_status_t read_exact(int fd, char *buf, apr_size_t size,
                               acme_safe_e *why)
{
    apr_size_t got = 0;
    char extra;

    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return refuse(why, ACME_SAFE_IO, APR_FROM_OS_ERROR(errno));
        }
        if (n == 0) {
            return refuse(why, ACME_SAFE_CHANGED, APR_EINVAL);
        }
        got += (apr_size_t)n;
    }
    if (read(fd, &extra, 1) != 0) {
        return refuse(why, ACME_SAFE_CHANGED, APR_EINVAL);
    }
    buf[size] = '\0';
    return APR_SUCCESS;
}

apr_status_t acme_safe_read_nb(char *buf, apr_size_t cap, apr_size_t *len,
                               acme_safe_e *why, int dirfd, const char *name,
                               uid_t owner)
{
    apr_size_t size;
    int fd;
    apr_status_t rv;

    if (cap == 0) {
        return refuse(why, ACME_SAFE_TOO_BIG, APR_EINVAL);
    }
    rv = open_checked(&fd, &size, why, dirfd, name, owner, cap - 1);
    if (rv == APR_SUCCESS) {
        rv = read_exact(fd, buf, size, why);
        close(fd);
    }
    *len = rv == APR_SUCCESS ? size : 0;
    return rv;
}

apr_status_t acme_safe_read(char **data, apr_size_t *len, acme_safe_e *why,
                            int dirfd, const char *name, uid_t owner,
                            apr_size_t max, apr_pool_t *p)
{
    apr_size_t size;
    char *buf;
    int fd;
    apr_status_t rv = open_checked(&fd, &size, why, dirfd, name, owner, max);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    buf = apr_palloc(p, size + 1);
    rv = read_exact(fd, buf, size, why);
    close(fd);
    if (rv == APR_SUCCESS) {
        *data = buf;
        *len = size;
    }
    return rv;
}

static apr_status_t write_all(int fd, const char *data, apr_size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return APR_FROM_OS_ERROR(n < 0 ? errno : EIO);
        }
        data += n;
        len -= (apr_size_t)n;
    }
    return APR_SUCCESS;
}

apr_status_t acme_safe_write(int dirfd, const char *name, const void *data,
                             apr_size_t len, mode_t mode, uid_t uid,
                             gid_t gid)
{
    char tmp[256];
    apr_status_t rv = APR_SUCCESS;
    int fd;

    if (snprintf(tmp, sizeof(tmp), ".%s.tmp.%ld", name, (long)getpid())
        >= (int)sizeof(tmp)) {
        return APR_ENAMETOOLONG;
    }
    unlinkat(dirfd, tmp, 0);
    fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                | O_CLOEXEC, mode & 0600);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if ((uid != (uid_t)-1 && fchown(fd, uid, gid) != 0)
        || fchmod(fd, mode) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv == APR_SUCCESS) {
        rv = write_all(fd, data, len);
    }
    if (rv == APR_SUCCESS && fsync(fd) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (close(fd) != 0 && rv == APR_SUCCESS) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv == APR_SUCCESS && renameat(dirfd, tmp, dirfd, name) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
    }
    if (rv != APR_SUCCESS) {
        unlinkat(dirfd, tmp, 0);
        return rv;
    }
    fsync(dirfd);
    return APR_SUCCESS;
}

apr_status_t acme_safe_mkdir(int *fd, acme_safe_e *why, int dirfd,
                             const char *name, mode_t mode, uid_t owner,
                             gid_t group)
{
    apr_status_t rv;
    int created = mkdirat(dirfd, name, mode & 0700) == 0;

    if (!created && errno != EEXIST) {
        *fd = -1;
        return refuse(why, ACME_SAFE_IO, APR_FROM_OS_ERROR(errno));
    }
    if (created) {
        int d = openat(dirfd, name, OPEN_DIR_FLAGS);
        if (d < 0) {
            *fd = -1;
            return open_failed(why, dirfd, name);
        }
        if (fchown(d, owner, group) != 0 || fchmod(d, mode) != 0) {
            rv = APR_FROM_OS_ERROR(errno);
            close(d);
            *fd = -1;
            return refuse(why, ACME_SAFE_IO, rv);
        }
        close(d);
    }
    return acme_safe_opendir(fd, why, dirfd, name, owner, 0);
}

apr_status_t acme_safe_remove(int parent, const char *name)
{
    struct dirent *e;
    DIR *dir;
    int d = openat(parent, name, OPEN_DIR_FLAGS);

    if (d < 0) {
        if (errno == ENOENT) {
            return APR_SUCCESS;
        }
        return unlinkat(parent, name, 0) == 0 ? APR_SUCCESS
                                             : APR_FROM_OS_ERROR(errno);
    }
    if (!(dir = fdopendir(d))) {
        close(d);
        return APR_FROM_OS_ERROR(errno);
    }
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            unlinkat(dirfd(dir), e->d_name, 0);
        }
    }
    closedir(dir);
    return unlinkat(parent, name, AT_REMOVEDIR) == 0 ? APR_SUCCESS
                                                    : APR_FROM_OS_ERROR(errno);
}
