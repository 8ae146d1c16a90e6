/* Parent side: graceful restart on evidence (see aa_restart.h).
 *
 * The watcher is a thread of the parent that allocates nothing once
 * started: children are forked while it runs, and a fork taken while it
 * held an allocator or library lock would leave them stuck. It uses only
 * syscalls (acme_safe's *_nb and check functions), a buffer and a table
 * prepared before it starts, and the log. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_thread_proc.h>
#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <mpm_common.h>

#include "aa_restart.h"
#include "aa_activate.h"
#include "acme_restart.h"
#include "acme_safe.h"
#include "acme_schedule.h"

APLOG_USE_MODULE(acmeauto);

#define POLL_INTERVAL (200 * 1000)            /* microseconds */
/* The first restarts go at once (a new certificate is live within
 * seconds); a stream of them is held to one a minute. */
#define RESTART_BURST 3
#define RESTART_INTERVAL apr_time_from_sec(60)
#define LIMITER_KEY "mod_acmeauto-restart-limiter"
/* A configuration that fails its test is tried again this often, or at
 * once when the job leaves a new hint. */
#define CONFIGTEST_RETRY apr_time_from_sec(60)
#define CONFIGTEST_TIMEOUT apr_time_from_sec(30)
#define CMDLINE_MAX 65536
/* ACMERestartWindow's openings are planned this many days ahead (then
 * repeated every 24 h: only a daylight saving change could be missed, by
 * a generation older than that). */
#define WINDOW_PLAN_DAYS 64
/* A new certificate waits for the window unless the live one expires
 * within this long after the window opens (or none is live). */
#define WINDOW_MARGIN apr_time_from_sec(86400)
/* While it waits, how often it looks again (expiry draws nearer). */
#define WINDOW_RECHECK apr_time_from_sec(60)

extern char **environ;

/* Survives generations: lives in the process pool. */
typedef struct {
    apr_time_t tat;              /* acme_rate_allow's state */
    dev_t hint_dev;              /* the hint last acted on */
    ino_t hint_ino;
    struct timespec hint_mtime;
    ino_t odd_ino;               /* a hint of the wrong kind, logged once */
} limiter_t;

typedef struct {
    const char *key;             /* staging/<key>/ */
    const char **files;          /* the set's PEM files by name */
    int nfiles;
    /* EAB: for each CA the account.json paths where its account may
     * be (acme_job_account_paths), as apr_array_header_t* */
    apr_array_header_t **accounts;
    int naccounts;
    unsigned int seen_hash;      /* the staged.json last judged */
    apr_size_t seen_len;
    apr_time_t held_until;       /* a held-back set is due then */
    int is_live;                 /* ACMERestartWindow: may this one wait */
    apr_time_t not_after;        /* for the window? */
} watched_t;

typedef struct {
    server_rec *s;
    volatile int stop;
    apr_thread_t *thread;
    apr_pool_t *pool;            /* allocator of its own; see above */
    const char *staging_path;
    const char *hint_path;
    uid_t user;
    watched_t *domains;
    int ndomains;
    char *buf;                   /* a staged.json */
    apr_size_t cap;
    limiter_t *limiter;
    pid_t owner;
    /* `<the server's own command line> -t`, prepared at start: NULL when
     * it cannot be had (the restart then goes ahead unchecked). */
    char **test_argv;
    /* ACMERestartWindow, planned ahead (acme_window_plan): the thread may
     * not call the C library's time functions. nwin 0: any time. */
    apr_time_t win_open[WINDOW_PLAN_DAYS], win_close[WINDOW_PLAN_DAYS];
    int nwin;
    char window[16];             /* "HH:MM-HH:MM" */
    /* handoff/restart.json, and the note being written */
    const char *note_path, *note_tmp;
    char note[ACME_RESTART_NOTE_MAX];
    const char *noted;           /* the reason now on disk, or NULL */
} watcher_t;

/* Has the job's hint changed since we last acted on one? A hint that is
 * not a regular file (a directory, a FIFO, a link) is no hint. */
static int hint_changed(watcher_t *w)
{
    limiter_t *l = w->limiter;
    struct stat st;

    if (lstat(w->hint_path, &st) != 0) {
        return 0;
    }
    if (!S_ISREG(st.st_mode)) {
        if (l->odd_ino != st.st_ino) {
            l->odd_ino = st.st_ino;
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, w->s, AA_LOGNO(00312)
                         "%s is not a regular file: ignored", w->hint_path);
        }
        return 0;
    }
    if (st.st_dev == l->hint_dev && st.st_ino == l->hint_ino
        && st.st_mtim.tv_sec == l->hint_mtime.tv_sec
        && st.st_mtim.tv_nsec == l->hint_mtime.tv_nsec) {
        return 0;
    }
    l->hint_dev = st.st_dev;
    l->hint_ino = st.st_ino;
    l->hint_mtime = st.st_mtim;
    return 1;
}

/* Is there a staged set for this domain the parent has not judged, whose
 * files all pass the hardened checks; or a held one now due? */
static int domain_has_evidence(watcher_t *w, int staging, watched_t *wd,
                               apr_time_t now)
{
    apr_size_t len;
    acme_safe_e why;
    int dir, i, ok = 0;

    if (acme_safe_opendir(&dir, &why, staging, wd->key, w->user, 0)
        != APR_SUCCESS) {
        return 0;
    }
    if (acme_safe_read_nb(w->buf, w->cap, &len, &why, dir, ACME_FN_STAGED,
                          w->user) == APR_SUCCESS) {
        if (len == wd->seen_len
            && aa_staged_hash(w->buf, len) == wd->seen_hash) {
            ok = wd->held_until && now >= wd->held_until;
        }
        else {
            for (ok = 1, i = 0; ok && i < wd->nfiles; i++) {
                ok = acme_safe_check(&why, dir, wd->files[i], w->user,
                                     ACME_STORE_FILE_MAX) == APR_SUCCESS;
            }
        }
    }
    close(dir);
    return ok;
}

/* A CA of an EAB domain without an account: the job needs the HMAC,
 * which only a new generation of children gets. */
static int account_missing(const watched_t *wd)
{
    struct stat st;
    int i, j, missing;

    for (i = 0; i < wd->naccounts; i++) {
        const apr_array_header_t *paths = wd->accounts[i];
        for (j = 0, missing = 1; missing && j < paths->nelts; j++) {
            missing = lstat(APR_ARRAY_IDX(paths, j, const char *), &st) != 0
                      && errno == ENOENT;
        }
        if (missing) {
            return 1;
        }
    }
    return 0;
}

/* May this domain's new set wait for ACMERestartWindow (opening at
 * `opens`)? Not when nothing is live (the host serves a fallback), nor
 * when the live certificate expires within WINDOW_MARGIN of that. */
static int must_not_wait(const watched_t *wd, apr_time_t opens)
{
    return !wd->is_live || wd->not_after < opens + WINDOW_MARGIN;
}

/* 0: nothing to restart for; 1: something that may wait for the
 * window; 2: something that may not. */
static int evidence(watcher_t *w, apr_time_t now, int hinted,
                    apr_time_t opens)
{
    acme_safe_e why;
    int staging, i, found = 0;

    for (i = 0; hinted && found < 2 && i < w->ndomains; i++) {
        if (account_missing(&w->domains[i])) {
            found = must_not_wait(&w->domains[i], opens) ? 2 : 1;
        }
    }
    if (found == 2 || acme_safe_opendir(&staging, &why, AT_FDCWD,
                                        w->staging_path, w->user, 0)
                      != APR_SUCCESS) {
        return found;
    }
    for (i = 0; found < 2 && i < w->ndomains; i++) {
        if (domain_has_evidence(w, staging, &w->domains[i], now)) {
            found = must_not_wait(&w->domains[i], opens) ? 2 : 1;
        }
    }
    close(staging);
    return found;
}

/* handoff/restart.json (acme_restart.h): why a restart that is due does
 * not happen, for the status and the job. Syscalls and a buffer of our
 * own only; written when the reason changes. */
static void note_write(watcher_t *w, const char *reason, apr_time_t now,
                       apr_time_t opens)
{
    acme_restart_note_t n = { reason, now, NULL, 0 };
    int fd, len;

    if (w->noted && !strcmp(w->noted, reason)) {
        return;
    }
    if (!strcmp(reason, ACME_RESTART_WINDOW)) {
        n.window = w->window;
        n.opens = opens;
    }
    if ((len = acme_restart_note_format(w->note, sizeof(w->note), &n)) < 0
        || (fd = open(w->note_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW
                      | O_CLOEXEC, 0644)) < 0) {
        return;
    }
    if (write(fd, w->note, len) == len && fsync(fd) == 0) {
        close(fd);
        if (rename(w->note_tmp, w->note_path) == 0) {
            w->noted = reason;
        }
        return;
    }
    close(fd);
    unlink(w->note_tmp);
}

static void note_clear(watcher_t *w)
{
    if (w->noted) {
        unlink(w->note_path);
        w->noted = NULL;
    }
}

/* The earliest held-back set not yet due, or 0. */
static apr_time_t next_due(const watcher_t *w, apr_time_t now)
{
    apr_time_t due = 0;
    int i;

    for (i = 0; i < w->ndomains; i++) {
        apr_time_t t = w->domains[i].held_until;
        if (t && (!due || t < due)) {
            due = t;
        }
    }
    return due;
}

pid_t aa_raw_fork(int sibling)
{
    return (pid_t)syscall(SYS_clone, (sibling ? CLONE_PARENT : 0) | SIGCHLD,
                          NULL, NULL, NULL, NULL);
}

/* In the sibling: run `argv -t` as its child, with output to /dev/null,
 * default signals and at most CONFIGTEST_TIMEOUT (alarm survives
 * execve), and write its exit status as one byte to fd. */
static void configtest_sibling(char *const *argv, int fd)
{
    unsigned char code = 255;
    sigset_t none;
    pid_t pid;
    int st, null;

    sigemptyset(&none);
    if ((pid = aa_raw_fork(0)) == 0) {
        null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        sigprocmask(SIG_SETMASK, &none, NULL);
        alarm((unsigned)apr_time_sec(CONFIGTEST_TIMEOUT));
        execve(argv[0], argv, environ);
        _exit(127);
    }
    if (pid > 0 && waitpid(pid, &st, 0) == pid) {
        code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    if (write(fd, &code, 1) != 1) {
        _exit(1);
    }
    _exit(0);
}

/* Does the configuration on disk pass `apache2 -t`, run with the
 * arguments this server was started with? A graceful restart re-reads it
 * without the check that apache2ctl and systemctl run first, and a
 * half-finished edit would make the parent exit. *code: its exit status
 * (-1: no answer in time). 1 when it cannot be checked at all (logged),
 * as a restart by hand would go ahead too.
 *
 * The test runs under a sibling of this process, not a child: httpd's
 * MPM reaps every child of the parent it does not know ("long lost child
 * came home"), and would take the exit status from us. The sibling's
 * parent (init, systemd) reaps it. */
static int configtest_passes(watcher_t *w, int *code)
{
    struct pollfd pfd;
    unsigned char byte;
    int fds[2], rv;
    pid_t pid;

    *code = -1;
    if (!w->test_argv) {
        return 1;
    }
    if (pipe2(fds, O_CLOEXEC) != 0 || (pid = aa_raw_fork(1)) < 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, errno, w->s, AA_LOGNO(00316)
                     "cannot run %s -t to check the configuration before "
                     "restarting; restarting unchecked", w->test_argv[0]);
        return 1;
    }
    if (pid == 0) {
        close(fds[0]);
        configtest_sibling(w->test_argv, fds[1]);
    }
    close(fds[1]);
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    /* The alarm ends the test; a little more for the sibling to say so. */
    rv = poll(&pfd, 1, (int)apr_time_msec(CONFIGTEST_TIMEOUT) + 5000);
    if (rv == 1 && read(fds[0], &byte, 1) == 1) {
        *code = byte;
    }
    close(fds[0]);
    return *code == 0;
}

static void *APR_THREAD_FUNC watcher_main(apr_thread_t *t, void *data)
{
    watcher_t *w = data;
    apr_time_t due = next_due(w, 0), blocked_until = 0, wait_until = 0;
    int pending = 0, deferred_said = 0, blocked_said = 0, window_said = 0;
    int code, open_now;
    sigset_t all;

    /* Signals are the main thread's business, including our own. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    hint_changed(w);    /* what is there now was seen by this generation */
    while (!w->stop) {
        apr_time_t now, opens;
        int hinted;
        usleep(POLL_INTERVAL);
        now = apr_time_now();
        hinted = hint_changed(w);
        open_now = acme_window_check(w->win_open, w->win_close, w->nwin, now,
                                     &opens);
        if (hinted || (due && now >= due) || (pending && now >= wait_until)) {
            pending = evidence(w, now, hinted || pending, opens);
            due = due && now >= due ? 0 : due;
            wait_until = 0;
        }
        if (!pending) {
            note_clear(w);
            continue;
        }
        if (now < blocked_until && !hinted) {
            continue;
        }
        if (!open_now && pending == 1) {
            if (!window_said) {
                int min = (int)((opens - now) / apr_time_from_sec(60)) + 1;
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s,
                             AA_LOGNO(00318) "new certificates are staged; "
                             "the graceful restart that activates them "
                             "waits for ACMERestartWindow %s (opens in %d h "
                             "%02d min)", w->window, min / 60, min % 60);
                window_said = 1;
            }
            note_write(w, ACME_RESTART_WINDOW, now, opens);
            wait_until = opens < now + WINDOW_RECHECK ? opens
                                                      : now + WINDOW_RECHECK;
            continue;
        }
        if (!acme_rate_allow(&w->limiter->tat, now, RESTART_BURST,
                             RESTART_INTERVAL)) {
            if (!deferred_said) {
                ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s,
                             AA_LOGNO(00313) "new certificates are staged; "
                             "the graceful restart waits for the rate limit "
                             "(one a minute)");
                deferred_said = 1;
            }
            continue;
        }
        if (!configtest_passes(w, &code)) {
            if (!blocked_said) {
                ap_log_error(APLOG_MARK, APLOG_ERR, 0, w->s, AA_LOGNO(00315)
                             "new certificates are staged, but the "
                             "configuration on disk fails its test (%s -t %s"
                             "): not restarting into it; run apache2ctl "
                             "configtest, fix what it says, and the module "
                             "restarts within a minute", w->test_argv[0],
                             code < 0 ? "timed out" : "exits non-zero");
                blocked_said = 1;
            }
            note_write(w, ACME_RESTART_CONFIGTEST, now, 0);
            blocked_until = now + CONFIGTEST_RETRY;
            continue;
        }
        if (blocked_said) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s, AA_LOGNO(00317)
                         "the configuration on disk passes its test again");
        }
        note_clear(w);
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, w->s, AA_LOGNO(00308)
                     "new certificates are staged: restarting gracefully to "
                     "activate them");
        kill(getpid(), AP_SIG_GRACEFUL);
        break;
    }
    return NULL;
}

static apr_status_t watcher_stop(void *data)
{
    watcher_t *w = data;
    apr_status_t rv;

    /* Children inherit pconf but not the thread. */
    if (w->thread && w->owner == getpid()) {
        w->stop = 1;
        apr_thread_join(&rv, w->thread);
        w->thread = NULL;
        apr_pool_destroy(w->pool);
    }
    return APR_SUCCESS;
}

static limiter_t *process_limiter(server_rec *s)
{
    void *data = NULL;

    apr_pool_userdata_get(&data, LIMITER_KEY, s->process->pool);
    if (!data) {
        data = apr_pcalloc(s->process->pool, sizeof(limiter_t));
        apr_pool_userdata_set(data, LIMITER_KEY, apr_pool_cleanup_null,
                              s->process->pool);
    }
    return data;
}

/* `argv... -t` from /proc/self/cmdline, without `-k start` (a control
 * action, not a setting). */
static void prepare_configtest(watcher_t *w)
{
    char *buf = apr_palloc(w->pool, CMDLINE_MAX), *arg;
    apr_array_header_t *argv = apr_array_make(w->pool, 16, sizeof(char *));
    ssize_t n = 0, got;
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return;
    }
    while (n < CMDLINE_MAX - 1
           && (got = read(fd, buf + n, CMDLINE_MAX - 1 - n)) > 0) {
        n += got;
    }
    close(fd);
    if (n <= 0 || n >= CMDLINE_MAX - 1 || buf[0] != '/') {
        return;    /* cut short, or a program we cannot find again */
    }
    buf[n] = '\0';
    for (arg = buf; arg < buf + n; arg += strlen(arg) + 1) {
        if (!strcmp(arg, "-k") && arg + strlen(arg) + 1 < buf + n) {
            arg += strlen(arg) + 1;    /* and its action */
            continue;
        }
        APR_ARRAY_PUSH(argv, char *) = arg;
    }
    APR_ARRAY_PUSH(argv, char *) = "-t";
    APR_ARRAY_PUSH(argv, char *) = NULL;
    w->test_argv = (char **)argv->elts;
}

/* What the thread will look at, made before it starts. */
static void watch_list(watcher_t *w, const aa_global_t *g)
{
    int i, j, n = 0;

    w->domains = apr_pcalloc(w->pool, sizeof(watched_t)
                             * (g->domains->nelts + 1));
    for (i = 0; i < g->domains->nelts; i++) {
        const aa_domain_t *d = APR_ARRAY_IDX(g->domains, i, aa_domain_t *);
        const apr_array_header_t *types = d->spec.key_types;
        watched_t *wd = &w->domains[n];
        if (!d->auto_restart) {
            continue;    /* ACMEAutoRestart off: the admin restarts */
        }
        wd->key = apr_pstrdup(w->pool, d->key);
        wd->files = apr_pcalloc(w->pool, sizeof(char *) * types->nelts * 2);
        for (j = 0; j < types->nelts; j++) {
            const char *tn = acme_key_type_name(APR_ARRAY_IDX(types, j,
                                                acme_key_type_e));
            wd->files[wd->nfiles++] = acme_store_pem_name(w->pool, tn, "cert");
            wd->files[wd->nfiles++] = acme_store_pem_name(w->pool, tn, "key");
        }
        wd->accounts = apr_pcalloc(w->pool, sizeof(apr_array_header_t *)
                                   * d->servers->nelts);
        for (j = 0; j < d->servers->nelts; j++) {
            if (d->eab[j].kid) {
                wd->accounts[wd->naccounts++] = acme_job_account_paths(
                    w->pool, g->store, APR_ARRAY_IDX(d->servers, j,
                    const char *), d->eab[j].kid);
            }
        }
        wd->is_live = d->is_live;
        wd->not_after = d->cert_not_after;
        wd->seen_hash = d->staged_seen_hash;
        wd->seen_len = d->staged_seen_len;
        wd->held_until = d->held_until;
        n++;
    }
    w->ndomains = n;
}

apr_status_t aa_restart_watcher_start(aa_global_t *g, apr_pool_t *pconf,
                                      server_rec *s)
{
    watcher_t *w = apr_pcalloc(pconf, sizeof(*w));
    apr_allocator_t *alloc;
    apr_status_t rv;

    w->s = s;
    w->owner = getpid();
    w->user = g->user;
    w->limiter = process_limiter(s);
    /* A pool and allocator of its own: nothing the thread touches is
     * shared with the main thread's pools. */
    if ((rv = apr_allocator_create(&alloc)) != APR_SUCCESS
        || (rv = apr_pool_create_ex(&w->pool, NULL, NULL, alloc))
           != APR_SUCCESS) {
        return rv;
    }
    apr_allocator_owner_set(alloc, w->pool);
    w->staging_path = acme_store_path(w->pool, g->store, ACME_AREA_STAGING,
                                      NULL, NULL);
    w->hint_path = acme_store_path(w->pool, g->store, ACME_AREA_STATE,
                                   ACME_FN_RESTART, NULL);
    w->cap = ACME_STORE_META_MAX + 1;
    w->buf = apr_palloc(w->pool, w->cap);
    watch_list(w, g);
    prepare_configtest(w);
    if (g->restart_window_set) {
        acme_window_plan(w->win_open, w->win_close, WINDOW_PLAN_DAYS,
                         &g->restart_window, apr_time_now());
        w->nwin = WINDOW_PLAN_DAYS;
        acme_window_format(w->window, sizeof(w->window), &g->restart_window);
    }
    /* A note of the generation before is over: it restarted. */
    w->note_path = acme_store_path(w->pool, g->store, ACME_AREA_HANDOFF,
                                   ACME_FN_RESTART_NOTE, NULL);
    w->note_tmp = apr_pstrcat(w->pool, w->note_path, ".tmp", NULL);
    unlink(w->note_path);
    rv = apr_thread_create(&w->thread, NULL, watcher_main, w, w->pool);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(w->pool);
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, AA_LOGNO(00309)
                     "cannot start the restart watcher; new certificates "
                     "will go live at the next manual restart");
        return rv;
    }
    apr_pool_pre_cleanup_register(pconf, w, watcher_stop);
    return APR_SUCCESS;
}
