/* The web console's handlers of /api/inbox, /api/queries, /api/recalls and /api/consents. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "console_inbox.h"
#include "liaison_proto.h"

json_t *
console_api_inbox(console_ctx *ctx, const console_req *req, int *status, char *why,
                  size_t why_len)
{
    const char *limit = console_param(req, "limit");
    const char *before = console_param(req, "before");
    size_t n = CONSOLE_INBOX_LIMIT;

    if (limit != NULL) {
        char *end = NULL;
        unsigned long v = strtoul(limit, &end, 10);

        if (limit[0] < '0' || limit[0] > '9' || *end != '\0' || v == 0 ||
            v > CONSOLE_INBOX_LIMIT_MAX) {
            *status = 400;
            snprintf(why, why_len, "limit is 1 to %u", CONSOLE_INBOX_LIMIT_MAX);
            return NULL;
        }
        n = (size_t)v;
    }
    if (before != NULL && before[0] == '\0')
        before = NULL;
    return console_inbox_json(ctx->cb, n, before, status, why, why_len);
}

json_t *
console_api_queries(console_ctx *ctx, const console_req *req, int *status, char *why,
                    size_t why_len)
{
    proto_roster *roster = NULL;
    proto_detail d = {{0}, {0}};
    json_t *out;

    (void)req;
    /* Without a readable roster the selectors stay unresolved: the page still lists the
     * queries and their answers. */
    if (ctx->conn.roster != NULL && proto_roster_load(ctx->conn.roster, &roster, &d) != PROTO_OK)
        roster = NULL;
    out = console_queries_json(ctx->cb, roster, ctx->agency, status, why, why_len);
    proto_roster_destroy(&roster);
    return out;
}

json_t *
console_api_recalls(console_ctx *ctx, const console_req *req, int *status, char *why,
                    size_t why_len)
{
    (void)req;
    return console_recalls_json(ctx->cb, ctx->agent_config, status, why, why_len);
}

json_t *
console_api_consents(console_ctx *ctx, const console_req *req, int *status, char *why,
                     size_t why_len)
{
    (void)req;
    return console_consents_json(ctx->cb, ctx->agency, status, why, why_len);
}
