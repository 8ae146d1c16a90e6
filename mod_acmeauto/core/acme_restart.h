/* The module's own graceful restarts, as the administrator sees them:
 * ACMERestartWindow (a daily time of day, local time) and the restart
 * note, handoff/restart.json, in which the parent says why a restart
 * that is due does not happen (the configuration on disk fails its
 * test, or the window is closed). Root writes the note, into its own
 * area; the job (to send `restart-blocked`), the status page and
 * `acmeauto status` read it:
 *
 *   {"reason": "configtest" | "window", "since": SEC,
 *    "window": "HH:MM-HH:MM", "opens": SEC}
 *
 * ("window" and "opens" only for reason "window"; SEC: Unix seconds).
 * The parent removes it when the restart goes ahead, and at each start. */
#ifndef ACME_RESTART_H
#define ACME_RESTART_H

#include <apr_pools.h>
#include <apr_time.h>

#define ACME_FN_RESTART_NOTE "restart.json"
#define ACME_RESTART_NOTE_MAX 512

/* A daily window in minutes after local midnight; end < start wraps
 * past midnight ("22:00-02:00"). */
typedef struct {
    int start, end;
} acme_window_t;

/* "HH:MM-HH:MM", 00:00 to 23:59 each, start and end different (an empty
 * window would never open). APR_EINVAL otherwise. */
apr_status_t acme_window_parse(acme_window_t *w, const char *s);

/* "HH:MM-HH:MM" into buf (at least 12 bytes). */
void acme_window_format(char *buf, apr_size_t cap, const acme_window_t *w);

/* The window's openings as local time makes them, one a day from the
 * day before `now` (a window that wraps may have opened yesterday):
 * [open[i], close[i]) in increasing order, n of them. Daylight saving
 * time is mktime's business: this runs where calling the C library's
 * time functions is safe, and acme_window_check later uses the table
 * where it is not (the restart watcher thread). */
void acme_window_plan(apr_time_t *open, apr_time_t *close, int n,
                      const acme_window_t *w, apr_time_t now);

/* Pure. Is now inside one of the planned openings? Past the last one,
 * they repeat every 24 h. *opens: now when inside, else when the next
 * opening begins. */
int acme_window_check(const apr_time_t *open, const apr_time_t *close,
                      int n, apr_time_t now, apr_time_t *opens);

/* --- the restart note ------------------------------------------------ */

#define ACME_RESTART_CONFIGTEST "configtest"
#define ACME_RESTART_WINDOW     "window"

typedef struct {
    const char *reason;       /* ACME_RESTART_CONFIGTEST or _WINDOW */
    apr_time_t since;
    const char *window;       /* "HH:MM-HH:MM" (window only) */
    apr_time_t opens;         /* when it opens (window only) */
} acme_restart_note_t;

/* The note's JSON into buf, without allocating (the watcher thread
 * writes it); its length, or -1 when it does not fit. */
int acme_restart_note_format(char *buf, apr_size_t cap,
                             const acme_restart_note_t *n);

/* Parses what was read; strings in p. APR_EINVAL for anything but an
 * object with a known "reason". */
apr_status_t acme_restart_note_parse(acme_restart_note_t *n, apr_pool_t *p,
                                     const char *data, apr_size_t len);

/* What the status says of a restart held up so, e.g. "configuration
 * does not pass configtest". In p. */
const char *acme_restart_note_text(apr_pool_t *p,
                                   const acme_restart_note_t *n);

#endif
