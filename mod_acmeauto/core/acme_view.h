/* What the administrator is shown of one managed domain, computed once
 * for both readers: the acme-status page (from what the parent found at
 * start-up) and `acmeauto status` (from the store). Both fill the inputs
 * of an acme_view_t, then acme_view_compute applies the rules and
 * acme_view_to_json writes the documented object (README, "Status page
 * and server-status"), so the page and the command cannot disagree.
 *
 * Pure: `now` is a parameter; nothing here reads a file. */
#ifndef ACME_VIEW_H
#define ACME_VIEW_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <jansson.h>

#include "acme_cert.h"
#include "acme_crypto.h"
#include "acme_state.h"

typedef struct {
    /* --- inputs: the configuration --- */
    const char *name;                /* first name */
    const char *key;                 /* store key */
    const apr_array_header_t *names; /* const char* */
    const char *profile;             /* ACMEProfile, or NULL */
    int profile_mandatory;
    /* --- inputs: what is live (acme_view_live_reset / _add / _done) --- */
    int is_live;                     /* some live certificate can be served */
    apr_array_header_t *live_types;  /* acme_key_type_e, being served */
    const char *ari_ids;             /* their RFC 9773 IDs, "," joined */
    apr_time_t window_at;            /* ACMERenewWindow's time; 0: at once */
    apr_time_t expiring_at;          /* "expiring" from then; 0: never */
    const char *cert_serial;         /* the first servable certificate */
    const char *cert_issuer;
    apr_time_t cert_not_before;
    apr_time_t cert_not_after;
    /* --- input: before the first live certificate, the cert_* facts may
     * be those of a configured certificate that is served meanwhile
     * (is_live stays 0); cert_file is its path --- */
    const char *cert_file;
    /* --- inputs: activation --- */
    int staged_unseen;               /* a staged set the parent has not
                                      * looked at yet (its start preceded
                                      * it, or it could not install it) */
    apr_time_t held_until;           /* ACMEActivationDelay ends; 0: none */
    /* --- inputs: the job's state/<key>.json (zero: none) --- */
    acme_state_t st;
    /* --- input: why the parent's restart waits (acme_view_restart_note),
     * or NULL --- */
    const char *restart_note;
    /* --- computed by acme_view_compute --- */
    const char *state;    /* valid, pending, renewing, errored, held back */
    apr_time_t renew_at;  /* 0: none */
    const char *renew_from; /* "window", "ari", "now" or NULL */
    int restart_pending;  /* a staged set waits for a restart */
    const char *restart_blocked; /* restart pending, and why it waits
                                  * (restart_note); NULL: it does not */
    int expiring;
} acme_view_t;

/* Applies the rules, in this order:
 *  held back  a staged set waits for ACMEActivationDelay (held_until
 *             in the future);
 *  errored    the last error is of kind "configuration";
 *  pending    nothing live;
 *  renewing   a staged set waits for a restart (unseen, or held until
 *             a time now past), or renewal is due (renew_at <= now);
 *  valid      otherwise.
 * renew_at is ARI's pick when the state has one for the live
 * certificates ("ari"), else window_at ("window"); with window_at 0 it
 * stays 0 and renew_from says "now"; neither without a live
 * certificate. */
void acme_view_compute(acme_view_t *v, apr_time_t now);

/* handoff/restart.json as read (acme_restart.h), or NULL: sets
 * restart_note, e.g. "configuration does not pass configtest". */
void acme_view_restart_note(acme_view_t *v, apr_pool_t *p, const char *data,
                            apr_size_t len);

/* The domain object of the status JSON. A new reference. */
json_t *acme_view_to_json(apr_pool_t *p, const acme_view_t *v);

/* "YYYY-MM-DDTHH:MM:SSZ" in p; NULL for t <= 0. */
const char *acme_view_time(apr_pool_t *p, apr_time_t t);

/* "rsa2048 ec256": the key types being served. In p. */
const char *acme_view_types(apr_pool_t *p, const acme_view_t *v);

/* A staged set the parent has not judged (installed or rejected), seen
 * from outside the parent, which keeps in memory what it held back:
 * staged at `staged` (a stored time, clamped to [0, now]), the parent
 * started at `parent_start`. Staged after that start, the parent has
 * not looked at it: it waits for a restart. Staged before, while a
 * certificate was live and ACMEActivationDelay `delay` had not run out
 * at that start, the parent held it back until staged + delay (as
 * activation computes it). Otherwise the parent could not install it,
 * and it waits for a restart too. Call after the live inputs. */
void acme_view_staged(acme_view_t *v, apr_time_t staged,
                      apr_time_t parent_start, apr_interval_time_t delay,
                      apr_time_t now);

/* --- what is live ---------------------------------------------------- */

/* Starts the live inputs afresh (nothing live). */
void acme_view_live_reset(acme_view_t *v, apr_pool_t *p);

/* Adds one key type's live chain and key, as read: 0 when it cannot be
 * served (unparsable, key of another type or not matching, dates not
 * valid at now, no issuer certificate); else notes it and returns 1, or
 * 2 when it also covers every name of v. The renewal time follows
 * ACMERenewWindow (renew_pct, renew_left; acme_renew_time), the earliest
 * over all types. Strings in p. */
int acme_view_live_add(acme_view_t *v, apr_pool_t *p, acme_key_type_e t,
                       const char *cert, apr_size_t cert_len,
                       const char *key, apr_size_t key_len, int renew_pct,
                       apr_interval_time_t renew_left, apr_time_t now);

/* Ends the live inputs: `complete` is 0 when a configured key type
 * lacks a certificate that covers every name, or the certificate comes
 * from a CA no longer configured: renewal is then due at once. */
void acme_view_live_done(acme_view_t *v, int complete);

#endif
