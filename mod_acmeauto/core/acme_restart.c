#include <stdio.h>
#include <string.h>
#include <time.h>
#include <apr_strings.h>

#include "acme_restart.h"
#include "acme_json.h"
#include "acme_schedule.h"

#define DAY apr_time_from_sec(86400)

static int parse_hhmm(const char *s, int *minutes)
{
    if (!(s[0] >= '0' && s[0] <= '2') || !(s[1] >= '0' && s[1] <= '9')
        || s[2] != ':' || !(s[3] >= '0' && s[3] <= '5')
        || !(s[4] >= '0' && s[4] <= '9')) {
        return 0;
    }
    *minutes = ((s[0] - '0') * 10 + (s[1] - '0')) * 60
               + (s[3] - '0') * 10 + (s[4] - '0');
    return *minutes < 24 * 60;
}

apr_status_t acme_window_parse(acme_window_t *w, const char *s)
{
    if (!s || strlen(s) != 11 || s[5] != '-'
        || !parse_hhmm(s, &w->start) || !parse_hhmm(s + 6, &w->end)
        || w->start == w->end) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

void acme_window_format(char *buf, apr_size_t cap, const acme_window_t *w)
{
    snprintf(buf, cap, "%02d:%02d-%02d:%02d", w->start / 60, w->start % 60,
             w->end / 60, w->end % 60);
}

/* The local time `minutes` after midnight of the day `day` days from
 * the date of `base` (mktime normalises the day and any time that DST
 * skips). */
static apr_time_t local_at(const struct tm *base, int day, int minutes)
{
    struct tm tm = *base;

    tm.tm_mday += day;
    tm.tm_hour = minutes / 60;
    tm.tm_min = minutes % 60;
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return apr_time_from_sec(mktime(&tm));
}

void acme_window_plan(apr_time_t *open, apr_time_t *close, int n,
                      const acme_window_t *w, apr_time_t now)
{
    time_t t = (time_t)apr_time_sec(now);
    struct tm base;
    int i;

    localtime_r(&t, &base);
    for (i = 0; i < n; i++) {
        open[i] = local_at(&base, i - 1, w->start);
        close[i] = local_at(&base, i - 1 + (w->end < w->start), w->end);
    }
}

int acme_window_check(const apr_time_t *open, const apr_time_t *close,
                      int n, apr_time_t now, apr_time_t *opens)
{
    apr_time_t shift = 0;
    int i;

    if (n <= 0) {
        *opens = now;
        return 1;
    }
    /* Past the plan: the last opening, as many whole days later as
     * puts its end after now (the one before that has ended). */
    if (now >= close[n - 1]) {
        shift = ((now - close[n - 1]) / DAY + 1) * DAY;
        *opens = now >= open[n - 1] + shift ? now : open[n - 1] + shift;
        return now >= open[n - 1] + shift;
    }
    for (i = 0; i < n; i++) {
        if (now < close[i]) {
            *opens = now >= open[i] ? now : open[i];
            return now >= open[i];
        }
    }
    *opens = now;    /* not reached: now < close[n - 1] */
    return 1;
}

/* --- the restart note ------------------------------------------------ */

int acme_restart_note_format(char *buf, apr_size_t cap,
                             const acme_restart_note_t *n)
{
    int len;

    if (n->window) {
        len = snprintf(buf, cap, "{\"reason\": \"%s\", \"since\": %"
                       APR_INT64_T_FMT ", \"window\": \"%s\", \"opens\": %"
                       APR_INT64_T_FMT "}\n", n->reason,
                       (apr_int64_t)apr_time_sec(n->since), n->window,
                       (apr_int64_t)apr_time_sec(n->opens));
    }
    else {
        len = snprintf(buf, cap, "{\"reason\": \"%s\", \"since\": %"
                       APR_INT64_T_FMT "}\n", n->reason,
                       (apr_int64_t)apr_time_sec(n->since));
    }
    return len < 0 || (apr_size_t)len >= cap ? -1 : len;
}

apr_status_t acme_restart_note_parse(acme_restart_note_t *n, apr_pool_t *p,
                                     const char *data, apr_size_t len)
{
    json_t *j = acme_json_parse(p, data, len);
    const char *reason = acme_json_str(j, "reason");

    memset(n, 0, sizeof(*n));
    if (!reason || (strcmp(reason, ACME_RESTART_CONFIGTEST)
                    && strcmp(reason, ACME_RESTART_WINDOW))) {
        return APR_EINVAL;
    }
    n->reason = apr_pstrdup(p, reason);
    n->since = acme_time_from_stored(json_integer_value(json_object_get(j,
                                     "since")));
    if (!strcmp(reason, ACME_RESTART_WINDOW)) {
        n->window = acme_json_str(j, "window");
        n->window = n->window ? apr_pstrdup(p, n->window) : "";
        n->opens = acme_time_from_stored(json_integer_value(
            json_object_get(j, "opens")));
    }
    return APR_SUCCESS;
}

const char *acme_restart_note_text(apr_pool_t *p,
                                   const acme_restart_note_t *n)
{
    apr_time_exp_t tm;
    char when[32] = "";
    apr_size_t len;

    if (!strcmp(n->reason, ACME_RESTART_CONFIGTEST)) {
        return "configuration does not pass configtest";
    }
    if (n->opens > 0 && apr_time_exp_gmt(&tm, n->opens) == APR_SUCCESS) {
        apr_strftime(when, &len, sizeof(when), " (opens %Y-%m-%dT%H:%M:%SZ)",
                     &tm);
    }
    return apr_psprintf(p, "waiting for ACMERestartWindow %s%s", n->window,
                        when);
}
