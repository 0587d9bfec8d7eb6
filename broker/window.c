/* The window toward a partner broker: slots taken per entry sent, freed by
 * that entry's own acknowledgement. */
#include "window.h"

static broker_window_slot *
slot_at(broker_window *w, uint32_t i)
{
    return &w->slots[(w->head + i) % BROKER_WINDOW_SLOTS];
}

static const broker_window_slot *
slot_at_const(const broker_window *w, uint32_t i)
{
    return &w->slots[(w->head + i) % BROKER_WINDOW_SLOTS];
}

void
broker_window_reset(broker_window *w)
{
    w->head = 0;
    w->used = 0;
    w->unacked = 0;
}

size_t
broker_window_room(const broker_window *w)
{
    return BROKER_WINDOW_SLOTS - w->used;
}

size_t
broker_window_inflight(const broker_window *w)
{
    return w->unacked;
}

bool
broker_window_take(broker_window *w, uint64_t seq, uint64_t now_ms)
{
    broker_window_slot *s;

    if (w->used == BROKER_WINDOW_SLOTS || (w->used > 0 && slot_at(w, w->used - 1)->seq >= seq))
        return false;
    s = slot_at(w, w->used);
    s->seq = seq;
    s->sent_ms = now_ms;
    s->acked = false;
    w->used++;
    w->unacked++;
    return true;
}

void
broker_window_untake(broker_window *w, size_t n)
{
    while (n > 0 && w->used > 0) {
        if (!slot_at(w, w->used - 1)->acked)
            w->unacked--;
        w->used--;
        n--;
    }
}

bool
broker_window_ack(broker_window *w, uint64_t seq)
{
    bool found = false;

    for (uint32_t i = 0; i < w->used; i++) {
        broker_window_slot *s = slot_at(w, i);

        if (s->seq > seq)
            break; /* the slots are in seq order: seq holds none */
        if (s->seq == seq) {
            found = !s->acked;
            s->acked = true;
            break;
        }
    }
    if (!found)
        return false;
    w->unacked--;
    while (w->used > 0 && slot_at(w, 0)->acked) {
        w->head = (w->head + 1) % BROKER_WINDOW_SLOTS;
        w->used--;
    }
    return true;
}

bool
broker_window_oldest(const broker_window *w, uint64_t *seq_out, uint64_t *sent_ms_out)
{
    const broker_window_slot *s;

    if (w->used == 0)
        return false;
    s = slot_at_const(w, 0); /* never acknowledged: it would have been freed */
    *seq_out = s->seq;
    *sent_ms_out = s->sent_ms;
    return true;
}
