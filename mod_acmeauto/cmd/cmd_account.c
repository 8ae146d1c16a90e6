/* acmeauto account: being built (issue 8). */
#include "acmeauto.h"

int ax_cmd_account(ax_ctx_t *ctx, int argc, const char *const *argv)
{
    int rc = ax_load_conf(ctx);

    if (rc != AX_OK) {
        return rc;
    }
    if (argc > 1 && argv[1][0] != '-' && !ax_domain(ctx, argv[1])) {
        return AX_CONFIG;
    }
    ax_error("account is not built yet");
    return AX_FAILED;
}
