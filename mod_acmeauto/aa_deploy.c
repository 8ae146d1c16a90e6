/* ACMEDeployCmd (see aa_deploy.h).
 *
 * How it runs, and why so. The parent is root and, right after
 * activation, forks the new generation's children: nothing here may
 * hold up the restart for as long as a deploy command takes, and
 * httpd's MPM must not meet a process of ours (it reaps every child of
 * the parent it does not know, logging "long lost child came home", and
 * the exit status would be lost). So:
 *
 *  - at activation the parent creates one output file per command in a
 *    root-only directory of the run-time dir (acmeauto-deploy/), then
 *    starts a supervisor as a sibling (aa_raw_fork, CLONE_PARENT: init
 *    or systemd reaps it, as with the configuration test, aa_restart.c)
 *    and goes on at once;
 *  - the supervisor runs the commands one after the other (two deploy
 *    commands restarting one service at once would trip over each
 *    other), each in a process group of its own, copies at most
 *    DEPLOY_OUT_MAX bytes of its output into its file (draining the
 *    rest, so that it never blocks on a full pipe), stops the group with
 *    SIGTERM after 30 s and SIGKILL DEPLOY_KILL_GRACE later, and then
 *    writes <id>.status (by rename: it appears whole). Being a raw clone
 *    of a threaded process, it makes only syscalls until execve;
 *  - a thread of the parent logs each outcome when its status appears.
 *    Output goes to files, not pipes, so that a graceful restart while
 *    a command runs loses nothing: the thread ends with its generation,
 *    and the next generation's thread, which starts by looking for
 *    output files without a verdict, logs it.
 *
 * The thread allocates nothing once started, like the restart watcher:
 * children are forked while it runs. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>

#include "aa_deploy.h"
#include "aa_restart.h"
#include "acme_safe.h"
#include "acme_util.h"

APLOG_USE_MODULE(acmeauto);

#define DEPLOY_DIR "acmeauto-deploy"
#define DEPLOY_TIMEOUT_MS (30 * 1000)
#define DEPLOY_KILL_GRACE_MS (5 * 1000)
/* After the command exited, output from what it left running in the
 * background is read this much longer. */
#define DEPLOY_DRAIN_MS 1000
#define DEPLOY_OUT_MAX (32 * 1024)
#define DEPLOY_LINES_MAX 40
#define DEPLOY_LINE_MAX 400
#define DEPLOY_POLL (250 * 1000)                    /* microseconds */
/* A command without a verdict this long after its file last changed
 * (per command still waiting before it) has lost its supervisor. */
#define DEPLOY_GIVE_UP apr_time_from_sec(45)
#define STATUS_MAX 96

/* Root's usual PATH; nothing of the server's environment. */
static char *const deploy_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG=C", NULL
};

typedef struct {
    char **argv;
    int out;                       /* <id>.out, created by the parent */
    const char *status_tmp;        /* names in the directory */
    const char *status;
} job_t;

/* ---- the supervisor: syscalls only ---- */

static long long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *put_num(char *p, long long v)
{
    char digits[24];
    int n = 0;

    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        *p++ = digits[--n];
    }
    return p;
}

/* "status WAIT TIMED_OUT DROPPED" or "exec ERRNO", whole or not at all. */
static void write_status(int dir, const job_t *j, const char *word,
                         long long a, long long b, long long c)
{
    char buf[STATUS_MAX], *p = buf;
    int fd;

    memcpy(p, word, strlen(word));
    p += strlen(word);
    *p++ = ' ';
    p = put_num(p, a);
    *p++ = ' ';
    p = put_num(p, b);
    *p++ = ' ';
    p = put_num(p, c);
    *p++ = '\n';
    fd = openat(dir, j->status_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW
                | O_CLOEXEC, 0600);
    if (fd < 0) {
        return;
    }
    if (write(fd, buf, p - buf) == p - buf && fsync(fd) == 0) {
        close(fd);
        renameat(dir, j->status_tmp, dir, j->status);
        return;
    }
    close(fd);
}

/* The highest descriptor number worth closing. */
static int fd_limit(void)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur > 65536) {
        return 65536;
    }
    return (int)rl.rlim_cur;
}

/* In the command's process, before execve: nothing of the server's
 * descriptors, signal handling or working directory goes along. */
static void exec_command(const job_t *j, int out, int err)
{
    struct sigaction dfl;
    sigset_t none;
    int fd, limit, sig, null = open("/dev/null", O_RDONLY);

    setpgid(0, 0);
    dup2(null, 0);
    dup2(out, 1);
    dup2(out, 2);
#ifdef SYS_close_range
    if (syscall(SYS_close_range, 3, err - 1, 0) != 0
        || syscall(SYS_close_range, err + 1, ~0U, 0) != 0)
#endif
    {
        for (fd = 3, limit = fd_limit(); fd < limit; fd++) {
            if (fd != err) {
                close(fd);
            }
        }
    }
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++) {
        sigaction(sig, &dfl, NULL);    /* httpd ignores SIGPIPE, say */
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    umask(022);
    if (chdir("/") == 0) {
        execve(j->argv[0], j->argv, deploy_env);
    }
    sig = errno;
    if (write(err, &sig, sizeof(sig)) != sizeof(sig)) {
        _exit(126);
    }
    _exit(127);
}

static void run_one(int dir, const job_t *j)
{
    long long now, start, exited = -1, kept = 0, dropped = 0;
    int out[2], err[2], st = 0, timed_out = 0, e = 0;
    char buf[4096];
    struct pollfd pfd;
    ssize_t n;
    pid_t pid;

    if (pipe2(out, O_CLOEXEC) != 0) {
        write_status(dir, j, "exec", errno, 0, 0);
        return;
    }
    if (pipe2(err, O_CLOEXEC) != 0 || (pid = aa_raw_fork(0)) < 0) {
        write_status(dir, j, "exec", errno, 0, 0);
        close(out[0]);
        close(out[1]);
        return;
    }
    if (pid == 0) {
        exec_command(j, out[1], err[1]);
    }
    setpgid(pid, pid);    /* whichever of us comes first */
    close(out[1]);
    close(err[1]);
    /* The error pipe closes on a successful execve. */
    if (read(err[0], &e, sizeof(e)) == sizeof(e)) {
        close(err[0]);
        close(out[0]);
        waitpid(pid, &st, 0);
        write_status(dir, j, "exec", e, 0, 0);
        return;
    }
    close(err[0]);
    start = mono_ms();
    pfd.fd = out[0];
    pfd.events = POLLIN;
    for (;;) {
        if (poll(&pfd, pfd.fd >= 0 ? 1 : 0, 100) > 0) {
            n = read(pfd.fd, buf, sizeof(buf));
            if (n > 0) {
                long long room = DEPLOY_OUT_MAX - kept;
                long long take = n < room ? n : room;
                if (take > 0 && write(j->out, buf, take) == take) {
                    kept += take;
                }
                dropped += n - take;
            }
            else if (n == 0 || errno != EINTR) {
                close(pfd.fd);
                pfd.fd = -1;
            }
        }
        now = mono_ms();
        if (exited < 0 && waitpid(pid, &st, WNOHANG) == pid) {
            exited = now;
        }
        if (exited >= 0
            && (pfd.fd < 0 || now - exited > DEPLOY_DRAIN_MS)) {
            break;
        }
        if (exited < 0 && !timed_out && now - start >= DEPLOY_TIMEOUT_MS) {
            kill(-pid, SIGTERM);
            timed_out = 1;
        }
        if (exited < 0 && now - start >= DEPLOY_TIMEOUT_MS
                                          + DEPLOY_KILL_GRACE_MS) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            exited = now;
        }
    }
    if (pfd.fd >= 0) {
        close(pfd.fd);
    }
    /* What the command left running in its group goes with a timeout. */
    if (timed_out) {
        kill(-pid, SIGKILL);
    }
    write_status(dir, j, "status", st, timed_out, dropped);
}

static void supervise(int dir, const job_t *jobs, int n)
{
    sigset_t all;
    int fd, i, keep, limit = fd_limit();

    /* Detached from the server's process group and signals: a stop of
     * Apache does not stop a deploy half-way. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    setsid();
    /* Nothing of the server's stays open here (it does not execve, so
     * close-on-exec does not help): a listening socket held by us would
     * keep a restarted Apache from binding its ports. */
    for (fd = 3; fd < limit; fd++) {
        for (keep = fd == dir, i = 0; !keep && i < n; i++) {
            keep = fd == jobs[i].out;
        }
        if (!keep) {
            close(fd);
        }
    }
    for (i = 0; i < n; i++) {
        run_one(dir, &jobs[i]);
        close(jobs[i].out);
    }
    _exit(0);
}

/* ---- launching, in the parent's main thread ---- */

static const char *deploy_dir(apr_pool_t *p)
{
    return ap_runtime_dir_relative(p, DEPLOY_DIR);
}

static int open_dir(apr_pool_t *p, server_rec *s)
{
    const char *path = deploy_dir(p);
    acme_safe_e why = ACME_SAFE_OK;
    int fd = -1;

    acme_store_mkdirs(path, 0700, p);
    if (acme_safe_opendir(&fd, &why, AT_FDCWD, path, geteuid(), 1)
        != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, AA_LOGNO(00706)
                     "%s %s: ACMEDeployCmd cannot run", path,
                     acme_safe_reason(why));
        return -1;
    }
    return fd;
}

/* PATH ARG... DOMAIN, then CERTFILE KEYFILE CHAINFILE per key type. */
static char **deploy_argv(aa_global_t *g, apr_pool_t *p, const aa_domain_t *d)
{
    const apr_array_header_t *types = d->spec.key_types;
    apr_array_header_t *a = apr_array_make(p, d->deploy_cmd->nelts + 2
                                           + 3 * types->nelts, sizeof(char *));
    static const char *const kinds[] = { "cert", "key", "chain" };
    int i, k;

    for (i = 0; i < d->deploy_cmd->nelts; i++) {
        APR_ARRAY_PUSH(a, char *) = apr_pstrdup(p,
            APR_ARRAY_IDX(d->deploy_cmd, i, const char *));
    }
    APR_ARRAY_PUSH(a, char *) = apr_pstrdup(p, d->name);
    for (i = 0; i < types->nelts; i++) {
        const char *tn = acme_key_type_name(APR_ARRAY_IDX(types, i,
                                                          acme_key_type_e));
        for (k = 0; k < 3; k++) {
            APR_ARRAY_PUSH(a, char *) = (char *)acme_store_path(p, g->store,
                ACME_AREA_LIVE, d->key, acme_store_pem_name(p, tn, kinds[k]));
        }
    }
    APR_ARRAY_PUSH(a, char *) = NULL;
    return (char **)a->elts;
}

void aa_deploy_launch(aa_global_t *g, apr_pool_t *p, server_rec *s)
{
    apr_array_header_t *jobs = apr_array_make(p, 4, sizeof(job_t));
    apr_time_t base = apr_time_now();
    int dir = -1, i;
    pid_t pid;

    for (i = 0; i < g->domains->nelts; i++) {
        aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        const char *id;
        job_t *j;
        if (!d->deploy_due || !d->deploy_cmd) {
            continue;
        }
        if (dir < 0 && (dir = open_dir(p, s)) < 0) {
            return;
        }
        /* <key>.<time>: unique, and the key says whose it is. */
        id = apr_psprintf(p, "%s.%" APR_TIME_T_FMT, d->key, base + i);
        j = apr_array_push(jobs);
        j->argv = deploy_argv(g, p, d);
        j->status = apr_pstrcat(p, id, ".status", NULL);
        j->status_tmp = apr_pstrcat(p, id, ".status.tmp", NULL);
        j->out = openat(dir, apr_pstrcat(p, id, ".out", NULL), O_WRONLY
                        | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (j->out < 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, AA_LOGNO(00707)
                         "%s: cannot create %s/%s.out; ACMEDeployCmd does not "
                         "run", d->name, deploy_dir(p), id);
            jobs->nelts--;
            continue;
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, AA_LOGNO(00700)
                     "%s: running ACMEDeployCmd %s", d->name, j->argv[0]);
    }
    if (!jobs->nelts) {
        if (dir >= 0) {
            close(dir);
        }
        return;
    }
    /* A sibling, so that the MPM never reaps it. As PID 1 (a container)
     * there is no parent to share: then a child, which the MPM reaps
     * with a "long lost child" line; the verdict is in the files. */
    pid = aa_raw_fork(1);
    if (pid < 0 && errno == EINVAL) {
        pid = aa_raw_fork(0);
    }
    if (pid == 0) {
        supervise(dir, (const job_t *)jobs->elts, jobs->nelts);
    }
    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, AA_LOGNO(00708)
                     "cannot start ACMEDeployCmd; the new certificates are "
                     "live, but not deployed");
    }
    for (i = 0; i < jobs->nelts; i++) {
        job_t *j = &APR_ARRAY_IDX(jobs, i, job_t);
        close(j->out);
        if (pid < 0) {
            unlinkat(dir, apr_pstrcat(p, apr_pstrndup(p, j->status,
                     strlen(j->status) - 7), ".out", NULL), 0);
        }
    }
    close(dir);
}

/* ---- the outcome, from a thread of the parent ---- */

typedef struct {
    const char *name;              /* the domain, for the log */
    const char *out, *status;      /* paths */
    apr_time_t deadline;
    int done;
} pending_t;

typedef struct {
    server_rec *s;
    volatile int stop;
    apr_thread_t *thread;
    apr_pool_t *pool;              /* allocator of its own */
    pid_t owner;
    pending_t *jobs;
    int njobs;
    char *buf;                     /* DEPLOY_OUT_MAX + 1 */
} watch_t;

/* Parses "word N N N"; 0 when it is not that. */
static int parse_status(const char *s, const char *word, long long v[3])
{
    apr_size_t wl = strlen(word);
    char *end;
    int i;

    if (strncmp(s, word, wl) || s[wl] != ' ') {
        return 0;
    }
    s += wl;
    for (i = 0; i < 3; i++) {
        v[i] = strtoll(s, &end, 10);
        if (end == s) {
            return 0;
        }
        s = end;
    }
    return 1;
}

/* One log line per line of output, control characters shown as '?'. */
static void log_output(watch_t *w, const pending_t *j, int level,
                       long long dropped)
{
    char *p, *end, *nl;
    ssize_t n = 0, got;
    int fd = open(j->out, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), lines = 0;

    while (fd >= 0 && n < DEPLOY_OUT_MAX
           && (got = read(fd, w->buf + n, DEPLOY_OUT_MAX - n)) > 0) {
        n += got;
    }
    if (fd >= 0) {
        close(fd);
    }
    for (p = w->buf, end = w->buf + n; p < end; p = nl + 1) {
        char *c;
        nl = memchr(p, '\n', end - p);
        if (!nl) {
            nl = end;
        }
        if (lines == DEPLOY_LINES_MAX) {
            ap_log_error(APLOG_MARK, level, 0, w->s, AA_LOGNO(00704)
                         "%s: ACMEDeployCmd: (more output not logged)",
                         j->name);
            return;
        }
        for (c = p; c < nl; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                *c = *c == '\t' ? ' ' : '?';
            }
        }
        ap_log_error(APLOG_MARK, level, 0, w->s, AA_LOGNO(00702)
                     "%s: ACMEDeployCmd: %.*s", j->name,
                     (int)(nl - p < DEPLOY_LINE_MAX ? nl - p
                                                    : DEPLOY_LINE_MAX), p);
        lines++;
    }
    if (dropped > 0) {
        ap_log_error(APLOG_MARK, level, 0, w->s, AA_LOGNO(00704)
                     "%s: ACMEDeployCmd: (%lld more bytes of output not "
                     "logged)", j->name, dropped);
    }
}

static void report(watch_t *w, const pending_t *j, const char *text)
{
    long long v[3];
    int st;

    if (parse_status(text, "exec", v)) {
        ap_log_error(APLOG_MARK, APLOG_ERR, (apr_status_t)v[0], w->s,
                     AA_LOGNO(00705) "%s: cannot run ACMEDeployCmd; the new "
                     "certificate is live, but not deployed", j->name);
        return;
    }
    if (!parse_status(text, "status", v)) {
        return;
    }
    st = (int)v[0];
    if (v[1]) {
        log_output(w, j, APLOG_WARNING, v[2]);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, AA_LOGNO(00711)
                     "%s: ACMEDeployCmd took longer than %d s and was "
                     "stopped with its process group", j->name,
                     DEPLOY_TIMEOUT_MS / 1000);
    }
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        log_output(w, j, APLOG_INFO, v[2]);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s, AA_LOGNO(00701)
                     "%s: ACMEDeployCmd succeeded", j->name);
    }
    else {
        log_output(w, j, APLOG_WARNING, v[2]);
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, AA_LOGNO(00703)
                     "%s: ACMEDeployCmd failed (%s %d); the new certificate "
                     "is live in Apache all the same", j->name,
                     WIFEXITED(st) ? "exit status" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    }
}

/* 1 when the job has its verdict (logged) or is given up. */
static int check_job(watch_t *w, pending_t *j, apr_time_t now)
{
    char text[STATUS_MAX];
    ssize_t n = -1;
    int fd = open(j->status, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

    if (fd >= 0) {
        n = read(fd, text, sizeof(text) - 1);
        close(fd);
    }
    if (n >= 0) {
        text[n] = '\0';
        report(w, j, text);
        unlink(j->status);
    }
    else if (now > j->deadline) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, AA_LOGNO(00709)
                     "%s: ACMEDeployCmd gave no verdict: its supervisor "
                     "ended early", j->name);
    }
    else {
        return 0;
    }
    unlink(j->out);
    return 1;
}

static void *APR_THREAD_FUNC watch_main(apr_thread_t *t, void *data)
{
    watch_t *w = data;
    sigset_t all;
    int left = w->njobs, i;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!w->stop && left) {
        apr_time_t now;
        usleep(DEPLOY_POLL);
        now = apr_time_now();
        for (i = 0; i < w->njobs; i++) {
            if (!w->jobs[i].done && check_job(w, &w->jobs[i], now)) {
                w->jobs[i].done = 1;
                left--;
            }
        }
    }
    return NULL;
}

static apr_status_t watch_stop(void *data)
{
    watch_t *w = data;
    apr_status_t rv;

    if (w->thread && w->owner == getpid()) {
        w->stop = 1;
        apr_thread_join(&rv, w->thread);
        w->thread = NULL;
        apr_pool_destroy(w->pool);
    }
    return APR_SUCCESS;
}

static const char *name_of(const aa_global_t *g, const char *key)
{
    int i;

    for (i = 0; i < g->domains->nelts; i++) {
        const aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        if (!strcmp(d->key, key)) {
            return d->name;
        }
    }
    return key;
}

/* Every <id>.out whose verdict is not logged yet: this generation's and
 * those an earlier one left when it ended. */
static void collect(watch_t *w, const aa_global_t *g, apr_pool_t *p)
{
    apr_array_header_t *found = apr_array_make(w->pool, 4, sizeof(pending_t));
    const char *dir_path = deploy_dir(p);
    struct dirent *e;
    struct stat st;
    acme_safe_e why;
    DIR *dir;
    int fd, i;

    if (acme_safe_opendir(&fd, &why, AT_FDCWD, dir_path, geteuid(), 1)
        != APR_SUCCESS) {
        return;
    }
    if (!(dir = fdopendir(fd))) {
        close(fd);
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        apr_size_t len = strlen(e->d_name);
        const char *dot, *base;
        pending_t *j;
        if (len <= 4 || strcmp(e->d_name + len - 4, ".out")
            || fstatat(dirfd(dir), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0
            || !S_ISREG(st.st_mode)) {
            continue;
        }
        j = apr_array_push(found);
        j->out = apr_pstrcat(w->pool, dir_path, "/", e->d_name, NULL);
        base = apr_pstrndup(p, e->d_name, len - 4);
        j->status = apr_pstrcat(w->pool, dir_path, "/", base, ".status",
                                NULL);
        dot = strrchr(base, '.');
        j->name = apr_pstrdup(w->pool, name_of(g, dot ? apr_pstrndup(p,
                              base, dot - base) : base));
        j->deadline = apr_time_from_sec(st.st_mtim.tv_sec);
    }
    closedir(dir);
    /* Run one after the other: the last may wait for all before it. */
    for (i = 0; i < found->nelts; i++) {
        APR_ARRAY_IDX(found, i, pending_t).deadline += DEPLOY_GIVE_UP
                                                       * found->nelts;
    }
    w->jobs = (pending_t *)found->elts;
    w->njobs = found->nelts;
}

void aa_deploy_watch(aa_global_t *g, apr_pool_t *pconf, server_rec *s)
{
    watch_t *w = apr_pcalloc(pconf, sizeof(*w));
    apr_allocator_t *alloc;
    apr_status_t rv;

    w->s = s;
    w->owner = getpid();
    if (apr_allocator_create(&alloc) != APR_SUCCESS
        || apr_pool_create_ex(&w->pool, NULL, NULL, alloc) != APR_SUCCESS) {
        return;
    }
    apr_allocator_owner_set(alloc, w->pool);
    collect(w, g, pconf);
    if (!w->njobs) {
        apr_pool_destroy(w->pool);
        return;
    }
    w->buf = apr_palloc(w->pool, DEPLOY_OUT_MAX + 1);
    rv = apr_thread_create(&w->thread, NULL, watch_main, w, w->pool);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(w->pool);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AA_LOGNO(00710)
                     "cannot start the thread that logs what ACMEDeployCmd "
                     "says; its output stays in %s", deploy_dir(pconf));
        return;
    }
    apr_pool_pre_cleanup_register(pconf, w, watch_stop);
}
