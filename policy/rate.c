/* Rate limits: a sliding 60-second window per partner and limit. */
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

#define WINDOW_MS 60000u

policy_err
policy_rate_new(const policy *p, policy_rate **rate_out)
{
    policy_rate *r = calloc(1, sizeof(*r));
    policy_err rc = POLICY_ERR_NOMEM;

    if (r == NULL)
        return POLICY_ERR_NOMEM;
    r->owner = p;
    if (pthread_mutex_init(&r->lock, NULL) != 0) {
        free(r);
        return POLICY_ERR_NOMEM;
    }
    if (p->slot_count > 0) {
        r->slots = calloc(p->slot_count, sizeof(*r->slots));
        if (r->slots == NULL)
            goto out;
        r->slot_count = p->slot_count;
        for (size_t i = 0; i < p->slot_count; i++) {
            r->slots[i].cap = p->slot_sizes[i];
            r->slots[i].times = calloc(p->slot_sizes[i], sizeof(uint64_t));
            if (r->slots[i].times == NULL)
                goto out;
        }
    }
    *rate_out = r;
    r = NULL;
    rc = POLICY_OK;
out:
    policy_rate_destroy(&r);
    return rc;
}

void
policy_rate_destroy(policy_rate **rate)
{
    policy_rate *r;

    if (rate == NULL || *rate == NULL)
        return;
    r = *rate;
    for (size_t i = 0; i < r->slot_count; i++)
        free(r->slots[i].times);
    free(r->slots);
    pthread_mutex_destroy(&r->lock);
    free(r);
    *rate = NULL;
}

/* True if the window has room for one more release at now. */
static bool
has_room(const struct pol_window *w, uint64_t now)
{
    uint64_t oldest;

    if (w->count < w->cap)
        return true;
    oldest = w->times[w->head];
    /* A clock that went back counts as inside the window. */
    return now >= oldest && now - oldest >= WINDOW_MS;
}

static void
record(struct pol_window *w, uint64_t now)
{
    if (w->count < w->cap) {
        w->times[(w->head + w->count) % w->cap] = now;
        w->count++;
    } else {
        w->times[w->head] = now;
        w->head = (w->head + 1) % w->cap;
    }
}

bool
pol_rate_admit(policy_rate *rate, const pol_partner *pt, uint8_t direction, const char *kind,
               int kind_index, uint64_t now_ms, const pol_limit **hit_out)
{
    bool ok = true;

    pthread_mutex_lock(&rate->lock);
    for (size_t i = 0; i < pt->limit_count && ok; i++) {
        const pol_limit *lim = &pt->limits[i];

        if (lim->direction != direction ||
            !pol_kindset_has(rate->owner, &lim->kinds, kind, kind_index))
            continue;
        if (!has_room(&rate->slots[lim->slot], now_ms)) {
            *hit_out = lim;
            ok = false;
        }
    }
    for (size_t i = 0; i < pt->limit_count && ok; i++) {
        const pol_limit *lim = &pt->limits[i];

        if (lim->direction == direction &&
            pol_kindset_has(rate->owner, &lim->kinds, kind, kind_index))
            record(&rate->slots[lim->slot], now_ms);
    }
    pthread_mutex_unlock(&rate->lock);
    return ok;
}
