/* ACMENotifyCmd: tell the administrator's program what happened. */
#ifndef AA_NOTIFY_H
#define AA_NOTIFY_H

#include "mod_acmeauto.h"
#include "acme_state.h"

/* The core's events: their names are also what state/<key>.json keeps. */
typedef enum {
    AA_EV_ISSUED = ACME_EV_ISSUED,
    AA_EV_RENEWED = ACME_EV_RENEWED,
    AA_EV_INSTALLED = ACME_EV_INSTALLED,
    AA_EV_ERRORED = ACME_EV_ERRORED,
    AA_EV_EXPIRING = ACME_EV_EXPIRING,
    AA_EV_REVOKED = ACME_EV_REVOKED,     /* sent by the acmeauto command */
    AA_EV_RESTART_BLOCKED = ACME_EV_RESTART_BLOCKED,
    AA_EV_COUNT = ACME_EV_COUNT
} aa_event_e;

typedef struct {
    apr_time_t last[AA_EV_COUNT];    /* when each event was last sent */
} aa_notify_state_t;

/* Runs `PATH ARG... EVENT NAME` for d, unless the same event for the same
 * domain was sent too recently. Runs in the child (the server's User),
 * with a minimal environment, and waits at most a while for it. */
void aa_notify(aa_notify_state_t *ns, const aa_domain_t *d, aa_event_e ev,
               apr_pool_t *p, server_rec *s);

/* To and from the persisted times (acme_state_t.notified, clamped there
 * when read). */
void aa_notify_to_state(apr_time_t *last, const aa_notify_state_t *ns);
void aa_notify_from_state(aa_notify_state_t *ns, const apr_time_t *last);

#endif
