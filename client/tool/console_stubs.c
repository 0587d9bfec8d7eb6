/* Placeholders of the console's JSON handlers not built yet: each answers 501.  The real
 * handlers (console_mlat.c, console_freeze.c, console_inbox.c) replace these weak ones. */
#include <stdio.h>

#include "console.h"

#define NOT_BUILT(name)                                                                      \
    __attribute__((weak)) json_t *name(console_ctx *ctx, const console_req *req, int *status, \
                                       char *why, size_t why_len)                            \
    {                                                                                        \
        (void)ctx;                                                                           \
        (void)req;                                                                           \
        *status = 501;                                                                       \
        snprintf(why, why_len, "not built yet");                                             \
        return NULL;                                                                         \
    }

NOT_BUILT(console_api_mlat_list)
NOT_BUILT(console_api_mlat_case)
NOT_BUILT(console_api_mlat_respond)
NOT_BUILT(console_api_mlat_export)
NOT_BUILT(console_api_freeze_list)
NOT_BUILT(console_api_freeze_one)
NOT_BUILT(console_api_freeze_implement)
NOT_BUILT(console_api_inbox)
NOT_BUILT(console_api_queries)
NOT_BUILT(console_api_recalls)
NOT_BUILT(console_api_consents)
