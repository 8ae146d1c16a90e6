/* The parent's (root's) hold on the store: one descriptor per area,
 * opened without following links at every (re)start, and the only way
 * the parent reads or writes the store (through core/acme_safe). Store
 * trouble is logged with what to do and never stops the server. */
#ifndef AA_STORE_H
#define AA_STORE_H

#include "mod_acmeauto.h"
#include "acme_safe.h"

/* Creates what is missing, hands the User its areas and opens every area
 * into g->area_fd (-1 where unusable). Closed with p. Logs; never fails. */
void aa_store_prepare(aa_global_t *g, apr_pool_t *p, server_rec *s);

/* What start-up would find wrong with the store directory `dir`
 * (missing and not creatable, not root's, writable by others, read-only),
 * looked at without changing anything; NULL when nothing is. For
 * configtest. */
const char *aa_store_problem(apr_pool_t *p, const char *dir);

/* The owner the parent expects in an area: the User or root. */
uid_t aa_store_owner(const aa_global_t *g, acme_store_area_e area);

/* Opens <area>/<key>/ (checked as acme_safe_opendir does, with the area's
 * owner); *fd -1 and APR_ENOENT when it is absent. Logs a refusal. */
apr_status_t aa_store_open_domain(int *fd, aa_global_t *g,
                                  acme_store_area_e area, const char *key,
                                  server_rec *s);

/* Reads <area>/<name> (a file directly in the area) with the area's
 * owner and a bound; APR_ENOENT when absent. */
apr_status_t aa_store_read_in(char **data, apr_size_t *len, aa_global_t *g,
                              acme_store_area_e area, const char *name,
                              apr_size_t max, apr_pool_t *p);

/* Writes a root-owned file directly in a root area (handoff/). */
apr_status_t aa_store_write_in(aa_global_t *g, acme_store_area_e area,
                               const char *name, const char *data,
                               apr_size_t len, mode_t mode);

/* Logs, once per message and process generation, why a file the User
 * can write was refused. */
void aa_store_log_refusal(server_rec *s, const char *where,
                          acme_safe_e why);

#endif
