/* ACMENotifyCmd, the running of it: `PATH ARG... EVENT NAME` in a process
 * group of its own, with a fixed minimal environment (nothing of the
 * caller's: no secret can leak through it), waited for a bounded time.
 * Shared by the background job (aa_notify.c, which adds rate limits and
 * log lines) and the acmeauto command. Runs as whoever calls it: both
 * callers are the server's User by then. */
#ifndef ACME_NOTIFY_H
#define ACME_NOTIFY_H

#include <sys/types.h>
#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* The longest a notification program may run before its process group
 * is killed. */
#define ACME_NOTIFY_TIMEOUT apr_time_from_sec(30)

/* Runs cmd (argv: PATH ARG...) with event and name appended and waits
 * at most timeout. APR_SUCCESS: it ran and *status is its wait status;
 * APR_TIMEUP: it was killed, with its whole group, after timeout; else
 * it could not be started (the status says why). */
apr_status_t acme_notify_run(int *status, const apr_array_header_t *cmd,
                             const char *event, const char *name,
                             apr_interval_time_t timeout, apr_pool_t *p);

/* Waits for the program pid (a process group leader) until `until`; then
 * kills its whole group, so that a script's own children (a `sleep` it
 * waits for, say) do not outlive it, and says APR_TIMEUP. Shared with
 * ACMEDNSCmd (acme_dns.c). */
apr_status_t acme_notify_reap(int *status, pid_t pid, apr_time_t until);

#endif
