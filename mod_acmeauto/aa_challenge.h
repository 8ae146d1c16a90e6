#ifndef AA_CHALLENGE_H
#define AA_CHALLENGE_H

#include <httpd.h>

#define AA_CHALLENGE_PREFIX "/.well-known/acme-challenge/"

/* post_read_request: answers http-01 challenges before any auth, redirect
 * or rewrite, and 503 on hosts still running on the fallback. */
int aa_post_read_request(request_rec *r);

#endif
