/* ACMENotifyCmd: tell the administrator's program what happened. */
#ifndef AA_NOTIFY_H
#define AA_NOTIFY_H

#include <jansson.h>
#include "mod_acmeauto.h"

typedef enum {
    AA_EV_ISSUED = 0,
    AA_EV_RENEWED,
    AA_EV_INSTALLED,
    AA_EV_ERRORED,
    AA_EV_EXPIRING,
    AA_EV_COUNT
} aa_event_e;

typedef struct {
    apr_time_t last[AA_EV_COUNT];    /* when each event was last sent */
} aa_notify_state_t;

/* Runs `PATH ARG... EVENT NAME` for d, unless the same event for the same
 * domain was sent too recently. Runs in the child (the server's User),
 * with a minimal environment, and waits at most a while for it. */
void aa_notify(aa_notify_state_t *ns, const aa_domain_t *d, aa_event_e ev,
               apr_pool_t *p, server_rec *s);

json_t *aa_notify_to_json(const aa_notify_state_t *ns);
void aa_notify_from_json(aa_notify_state_t *ns, const json_t *j);

#endif
