/* Root-side access to the store. Whatever the unprivileged User can write
 * (staging/, state/, accounts/, challenges/) is hostile input to root: a
 * planted symlink, hard link, FIFO, device, directory or an oversized file
 * must never make root follow, block, read past a bound or change anything
 * outside the store. Every function here works on directory descriptors
 * opened without following links, checks what it opened with fstat, and
 * never creates, changes or removes anything in a directory it does not
 * own. No other code of the parent opens a path the User can write.
 *
 * All of it is plain syscalls: no allocation except into the caller's
 * pool, so the parent's restart watcher thread may use the *_nb variants
 * with a buffer of its own. */
#ifndef ACME_SAFE_H
#define ACME_SAFE_H

#include <sys/types.h>
#include <apr_pools.h>

/* What a refused open or read was; for log lines. */
typedef enum {
    ACME_SAFE_OK = 0,
    ACME_SAFE_MISSING,      /* ENOENT */
    ACME_SAFE_LINK,         /* a symbolic link */
    ACME_SAFE_NOT_REGULAR,  /* FIFO, socket, device, directory... */
    ACME_SAFE_NOT_DIR,      /* a file where a directory belongs */
    ACME_SAFE_HARDLINK,     /* a regular file with more than one link */
    ACME_SAFE_OWNER,        /* not owned by the expected user */
    ACME_SAFE_TOO_BIG,      /* over the bound */
    ACME_SAFE_CHANGED,      /* size changed while read */
    ACME_SAFE_WRITABLE,     /* a root-owned directory others may write */
    ACME_SAFE_IO            /* any other error (errno in the status) */
} acme_safe_e;

/* A short phrase for the log: "is a symbolic link". */
const char *acme_safe_reason(acme_safe_e why);

/* Opens the directory `name` below dirfd (AT_FDCWD and an absolute path
 * for the store's base) with O_DIRECTORY|O_NOFOLLOW|O_CLOEXEC and checks
 * it is owned by `owner`. want_private: root-owned and writable by nobody
 * else (refused with ACME_SAFE_WRITABLE otherwise). *fd >= 0 on success;
 * the caller closes it. */
apr_status_t acme_safe_opendir(int *fd, acme_safe_e *why, int dirfd,
                               const char *name, uid_t owner,
                               int want_private);

/* Reads the file `name` below dirfd once: openat with O_NOFOLLOW,
 * O_NONBLOCK (a FIFO never blocks) and O_CLOEXEC, then fstat: a regular
 * file with one link, owned by `owner`, of at most max bytes; exactly
 * that many bytes are read and a file that changes size meanwhile is
 * refused. *data is NUL-terminated and lives in p. */
apr_status_t acme_safe_read(char **data, apr_size_t *len, acme_safe_e *why,
                            int dirfd, const char *name, uid_t owner,
                            apr_size_t max, apr_pool_t *p);

/* The same into a caller's buffer of size cap (at most cap - 1 bytes are
 * accepted, and a NUL follows them). Allocates nothing. */
apr_status_t acme_safe_read_nb(char *buf, apr_size_t cap, apr_size_t *len,
                               acme_safe_e *why, int dirfd, const char *name,
                               uid_t owner);

/* Only the checks of acme_safe_read (open, fstat), no read. */
apr_status_t acme_safe_check(acme_safe_e *why, int dirfd, const char *name,
                             uid_t owner, apr_size_t max);

/* Atomic write into a directory the caller owns (live/, rejected/,
 * handoff/): a temp name created O_EXCL|O_NOFOLLOW, mode and owner set
 * on the descriptor, written, fsynced, renamed over `name`, directory
 * fsynced. uid/gid (uid_t)-1: keep the creator's. */
apr_status_t acme_safe_write(int dirfd, const char *name, const void *data,
                             apr_size_t len, mode_t mode, uid_t uid,
                             gid_t gid);

/* Creates the directory `name` below dirfd (mode, owner set on the new
 * directory's descriptor) unless it exists; then opens it as
 * acme_safe_opendir does. Only for directories root owns. */
apr_status_t acme_safe_mkdir(int *fd, acme_safe_e *why, int dirfd,
                             const char *name, mode_t mode, uid_t owner,
                             gid_t group);

/* Removes `name` below dirfd and, if it is a directory (not followed),
 * the entries directly in it first. Only for directories root owns. */
apr_status_t acme_safe_remove(int dirfd, const char *name);

#endif
