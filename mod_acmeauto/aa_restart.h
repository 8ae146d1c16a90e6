/* The parent's restart watcher: restarts Apache gracefully when the job
 * has staged a certificate set the parent has not judged yet, or when a
 * held-back set's activation delay has passed. On evidence only: the
 * job's hint file (state/restart.request) only says "look now"; what is
 * looked at is the staged set, read as hostile input (acme_safe). Module
 * restarts are rate-limited across generations. */
#ifndef AA_RESTART_H
#define AA_RESTART_H

#include "mod_acmeauto.h"

/* Starts the watcher thread for this generation; it ends with pconf. */
apr_status_t aa_restart_watcher_start(aa_global_t *g, apr_pool_t *pconf,
                                      server_rec *s);

/* A process like fork()'s child; with sibling (CLONE_PARENT) a sibling
 * of ours, which httpd's MPM never sees and init or systemd reaps. Raw
 * clone: no fork handlers run (other threads may hold their locks), so
 * the new process must make only syscalls before execve or _exit. */
pid_t aa_raw_fork(int sibling);

#endif
