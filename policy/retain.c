/* Retention rules and holds: how long a message is kept, and what keeps it longer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

#define DAY_MS 86400000ull

policy_err
policy_keep_parse(const char *text, uint8_t *keep_out, uint64_t *ms_out)
{
    uint64_t n = 0, unit;
    size_t len = strlen(text), i;

    if (strcmp(text, "case") == 0) {
        *keep_out = POLICY_KEEP_CASE;
        *ms_out = 0;
        return POLICY_OK;
    }
    if (len < 2 || len > 12 || text[0] == '0')
        return POLICY_ERR_VALUE;
    for (i = 0; i + 1 < len; i++) {
        if (text[i] < '0' || text[i] > '9')
            return POLICY_ERR_VALUE;
        n = n * 10u + (uint64_t)(text[i] - '0');
    }
    switch (text[len - 1]) {
    case 's':
        unit = 1000ull;
        break;
    case 'd':
        unit = DAY_MS;
        break;
    case 'w':
        unit = 7ull * DAY_MS;
        break;
    case 'y':
        unit = 365ull * DAY_MS;
        break;
    default:
        return POLICY_ERR_VALUE;
    }
    if (n > (uint64_t)POLICY_KEEP_YEARS_MAX * 365ull * DAY_MS / unit)
        return POLICY_ERR_VALUE;
    *keep_out = POLICY_KEEP_FOR;
    *ms_out = n * unit;
    return POLICY_OK;
}

policy_err
policy_retention_lookup(const policy *p, const policy_retention_query *q, uint64_t now_ms,
                        policy_retention *out)
{
    uint64_t marks;
    int kind_index;

    if (q->kind == NULL || q->kind[0] == '\0')
        return POLICY_ERR_INVALID;
    memset(out, 0, sizeof(*out));
    out->keep = POLICY_KEEP_FOREVER;
    out->until_ms = UINT64_MAX;
    out->hold_until_ms = UINT64_MAX;
    marks = q->labels != NULL ? pol_marks_of(p, q->labels) : 0;
    kind_index = pol_kind_index(p, q->kind);
    for (size_t i = 0; i < p->retention_count; i++) {
        const pol_retention *r = &p->retention[i];

        if (!pol_kindset_has(p, &r->kinds, q->kind, kind_index) ||
            (marks & r->require) != r->require)
            continue;
        out->keep = r->info.keep;
        snprintf(out->rule, sizeof(out->rule), "%s", r->info.id);
        if (r->info.keep == POLICY_KEEP_FOR) {
            out->keep_ms = r->info.keep_ms;
            out->until_ms = q->created_ms > UINT64_MAX - r->info.keep_ms
                                ? UINT64_MAX
                                : q->created_ms + r->info.keep_ms;
            out->ended = out->until_ms <= now_ms;
        }
        break;
    }
    for (size_t i = 0; i < p->hold_count; i++) {
        const policy_hold_info *h = &p->holds[i];
        bool covers = h->has_message
                          ? q->id != NULL && memcmp(h->message, q->id, PROTO_ID_BYTES) == 0
                          : q->case_id != NULL && strcmp(h->case_id, q->case_id) == 0;

        if (!covers || now_ms >= h->until_ms)
            continue;
        out->held = true;
        snprintf(out->hold, sizeof(out->hold), "%s", h->id);
        snprintf(out->hold_reason, sizeof(out->hold_reason), "%s", h->reason);
        out->hold_until_ms = h->until_ms;
        break;
    }
    return POLICY_OK;
}

bool
policy_retention_at(const policy *p, size_t index, policy_retention_info *info_out)
{
    if (index >= p->retention_count)
        return false;
    *info_out = p->retention[index].info;
    return true;
}

bool
policy_hold_at(const policy *p, size_t index, policy_hold_info *info_out)
{
    if (index >= p->hold_count)
        return false;
    *info_out = p->holds[index];
    return true;
}
