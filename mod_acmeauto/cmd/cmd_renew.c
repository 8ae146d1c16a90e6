/* acmeauto renew: being built (issue 8). */
#include "acmeauto.h"

int ax_cmd_renew(ax_ctx_t *ctx, int argc, const char *const *argv)
{
    int rc = ax_load_conf(ctx);

    if (rc != AX_OK) {
        return rc;
    }
    if (argc > 1 && argv[1][0] != '-' && !ax_domain(ctx, argv[1])) {
        return AX_CONFIG;
    }
    ax_error("renew is not built yet");
    return AX_FAILED;
}

int ax_renew_domain(ax_ctx_t *ctx, const acme_conf_domain_t *d,
                    apr_interval_time_t wait)
{
    (void)ctx;
    (void)wait;
    ax_error("%s: renewing is not built yet", d->name);
    return AX_FAILED;
}
