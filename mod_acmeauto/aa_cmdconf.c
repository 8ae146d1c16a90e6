#include <string.h>
#include <unistd.h>

#include "aa_cmdconf.h"

#include <http_log.h>
#include <unixd.h>
#include "aa_store.h"
#include "aa_watchdog.h"
#include "acme_conf.h"
#include "acme_json.h"

APLOG_USE_MODULE(acmeauto);

static acme_conf_domain_t *conf_domain(apr_pool_t *p, const aa_domain_t *d)
{
    acme_conf_domain_t *c = apr_pcalloc(p, sizeof(*c));
    int i;

    c->key = d->key;
    c->name = d->name;
    c->names = d->names;
    c->key_types = d->spec.key_types;
    c->servers = d->servers;
    c->eab_kid = d->spec.eab_kid;
    c->eab_file = d->eab_file;
    c->eab_inline = d->spec.eab_kid && !d->eab_file;
    c->server_eab = apr_array_make(p, d->servers->nelts,
                                   sizeof(acme_conf_eab_t));
    for (i = 0; i < d->servers->nelts; i++) {
        acme_conf_eab_t *e = apr_array_push(c->server_eab);
        e->kid = d->eab[i].kid;
        e->file = d->eab[i].file;
        e->inline_hmac = d->eab[i].kid && !d->eab[i].file;
    }
    c->contacts = d->spec.contacts;
    c->tos_agreed = d->spec.tos_agreed;
    c->tos_url = d->spec.tos_url;
    c->ca_file = d->spec.ca_file;
    c->http_proxy = d->spec.http_proxy;
    c->auto_restart = d->auto_restart;
    c->activation_delay = d->activation_delay;
    c->retry_delay = d->retry_delay;
    c->renew_pct = d->renew_pct;
    c->renew_left = d->renew_left;
    c->notify_cmd = d->notify_cmd;
    c->challenges = d->spec.challenges;
    c->dns_cmd = d->spec.dns_cmd;
    c->dns_wait = d->spec.dns_wait;
    c->dns_resolver = d->spec.dns_resolver;
    c->defined_at = d->defined_at;
    c->previous_file = d->previous_file;
    c->previous_serial = d->previous_serial;
    c->previous_issuer = d->previous_issuer;
    c->previous_not_before = d->previous_not_before;
    c->previous_not_after = d->previous_not_after;
    c->state_config = aa_state_fingerprint(p, d);
    c->profile = d->spec.profile;
    c->profile_mandatory = d->spec.profile_mandatory;
    return c;
}

void aa_cmdconf_write(aa_global_t *g, apr_pool_t *p, server_rec *s)
{
    acme_conf_t c;
    const char *text;
    int i;

    if (g->area_fd[ACME_AREA_HANDOFF] < 0) {
        return;    /* AA00101 or AA00111 has said why */
    }
    memset(&c, 0, sizeof(c));
    c.written = apr_time_now();
    c.store = g->store_dir;
    c.pid = (long)getpid();
    c.user = ap_unixd_config.user_name;
    c.uid = g->user;
    c.gid = g->group;
    c.domains = apr_array_make(p, g->domains->nelts,
                               sizeof(acme_conf_domain_t *));
    for (i = 0; i < g->domains->nelts; i++) {
        APR_ARRAY_PUSH(c.domains, acme_conf_domain_t *) = conf_domain(p,
            APR_ARRAY_IDX(g->domains, i, const aa_domain_t *));
    }
    text = acme_json_dump(p, acme_json_pool_own(p, acme_conf_to_json(&c)));
    if (!text || aa_store_write_in(g, ACME_AREA_HANDOFF, ACME_FN_CONF, text,
                                   strlen(text), 0644) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, AA_LOGNO(00117)
                     "cannot write %s/handoff/%s: the acmeauto command "
                     "will not know this configuration", g->store_dir,
                     ACME_FN_CONF);
    }
}
