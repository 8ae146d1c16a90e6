#ifndef AA_ALPN_H
#define AA_ALPN_H

#include <httpd.h>

/* tls-alpn-01 (RFC 8737) through mod_ssl: acme-tls/1 is proposed and
 * switched to only on a handshake for a name the job holds an answer
 * for, and only such a connection is given the challenge certificate. */
void aa_alpn_register_hooks(void);

#endif
