/* Refused handshakes, aggregated per key and interval in a bounded table. */
#include <stdio.h>
#include <string.h>

#include "refusals.h"

void
broker_refusals_init(broker_refusals *r, uint64_t interval_ms)
{
    memset(r, 0, sizeof(*r));
    r->interval_ms = interval_ms > 0 ? interval_ms : 1;
}

/* Starts count c at now with ev as its first refusal. */
static void
start(broker_refusal_count *c, const broker_refusal_event *ev, uint64_t now, bool other)
{
    memset(c, 0, sizeof(*c));
    c->other = other;
    snprintf(c->key, sizeof(c->key), "%s", ev->key);
    snprintf(c->domain, sizeof(c->domain), "%s", ev->domain);
    snprintf(c->user, sizeof(c->user), "%s", ev->user);
    snprintf(c->why, sizeof(c->why), "%s", ev->why);
    snprintf(c->first_address, sizeof(c->first_address), "%s", ev->address);
    snprintf(c->last_address, sizeof(c->last_address), "%s", ev->address);
    c->start_ms = now;
    c->last_ms = now;
}

broker_refusal_kind
broker_refusals_note(broker_refusals *r, const broker_refusal_event *ev, uint64_t now_ms)
{
    broker_refusal_count *c;

    for (size_t i = 0; i < r->used; i++) {
        c = &r->keys[i];
        if (strcmp(c->key, ev->key) == 0) {
            c->count++;
            c->last_ms = now_ms;
            snprintf(c->last_address, sizeof(c->last_address), "%s", ev->address);
            return BROKER_REFUSAL_COUNTED;
        }
    }
    if (r->used < BROKER_REFUSALS_KEYS_MAX) {
        start(&r->keys[r->used++], ev, now_ms, false);
        return BROKER_REFUSAL_FIRST;
    }
    /* Full: one count for every further key until the interval ends. */
    if (!r->other_active) {
        start(&r->other, ev, now_ms, true);
        r->other_active = true;
    }
    r->other.count++;
    r->other.last_ms = now_ms;
    snprintf(r->other.last_address, sizeof(r->other.last_address), "%s", ev->address);
    return BROKER_REFUSAL_OTHER;
}

void
broker_refusals_lost(broker_refusals *r, uint64_t lost, uint64_t now_ms)
{
    static const broker_refusal_event none = {"", "", "", "", "not passed on by the ZAP handler"};

    if (lost == 0)
        return;
    if (!r->other_active) {
        start(&r->other, &none, now_ms, true);
        r->other_active = true;
    }
    r->other.count += lost;
    r->other.last_ms = now_ms;
}

static bool
ended(const broker_refusals *r, const broker_refusal_count *c, uint64_t now_ms)
{
    return now_ms == UINT64_MAX ||
           (now_ms >= c->start_ms && now_ms - c->start_ms >= r->interval_ms);
}

size_t
broker_refusals_due(broker_refusals *r, uint64_t now_ms, broker_refusal_count *out, size_t cap)
{
    size_t n = 0, kept = 0;

    for (size_t i = 0; i < r->used; i++) {
        broker_refusal_count *c = &r->keys[i];

        if (!ended(r, c, now_ms) || (c->count > 0 && n == cap)) {
            if (kept != i)
                r->keys[kept] = *c;
            kept++;
            continue;
        }
        if (c->count > 0)
            out[n++] = *c;
    }
    r->used = kept;
    if (r->other_active && ended(r, &r->other, now_ms) && n < cap) {
        out[n++] = r->other;
        r->other_active = false;
    }
    return n;
}

uint64_t
broker_refusals_due_in(const broker_refusals *r, uint64_t now_ms, uint64_t cap)
{
    uint64_t in = cap;

    for (size_t i = 0; i < r->used; i++) {
        uint64_t end = r->keys[i].start_ms + r->interval_ms;

        if (end <= now_ms)
            return 0;
        if (end - now_ms < in)
            in = end - now_ms;
    }
    if (r->other_active) {
        uint64_t end = r->other.start_ms + r->interval_ms;

        if (end <= now_ms)
            return 0;
        if (end - now_ms < in)
            in = end - now_ms;
    }
    return in;
}
