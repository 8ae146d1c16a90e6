/* The acme-status handler and the server-status section (SPEC.md §4). */
#ifndef AA_STATUS_H
#define AA_STATUS_H

#include "mod_acmeauto.h"
#include <mod_status.h>

/* SetHandler acme-status: all domains (HTML, or JSON with ?json or
 * Accept: application/json), or one at <location>/NAME. */
int aa_status_handler(request_rec *r);

/* mod_status's status_hook: a "Managed certificates" section, or the
 * ACMECertificates* counters with ?auto; nothing with ACMEStatus off. */
int aa_status_hook(request_rec *r, int flags);

#endif
