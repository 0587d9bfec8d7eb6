/* The window toward a partner broker: the queue entries sent on the current
 * connection, in send order, each holding a slot until its own
 * acknowledgement.  Self-contained, so unit tests link it. */
#ifndef LIAISON_BROKER_WINDOW_H
#define LIAISON_BROKER_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BROKER_WINDOW_SLOTS 256u /* entries in flight toward one partner at most */

/* One entry sent: a slot of the window. */
typedef struct broker_window_slot {
    uint64_t seq;                  /* its seq in the queue toward the partner */
    uint64_t sent_ms;              /* when it went out */
    bool acked;                    /* acknowledged; freed once the older slots are */
} broker_window_slot;

/*
 * A ring of slots in send order, so in seq order.  A slot is freed only by
 * the acknowledgement of its own entry, or by a reset: an answer that comes
 * twice, or for an entry sent before the last reset, frees nothing, so the
 * count can neither leak nor go below zero.  A slot acknowledged out of
 * order stays taken until the older ones are acknowledged too, so that the
 * oldest slot in use is always the oldest entry still unacknowledged.
 */
typedef struct broker_window {
    broker_window_slot slots[BROKER_WINDOW_SLOTS]; /* the ring */
    uint32_t head;                 /* ring index of the oldest slot in use */
    uint32_t used;                 /* slots in use, acknowledged or not */
    uint32_t unacked;              /* slots in use not acknowledged */
} broker_window;

/* Frees every slot: nothing is in flight any more (a new connection, a
 * resend from the oldest entry). */
void broker_window_reset(broker_window *w);
/* Slots free: how many more entries may go out now. */
size_t broker_window_room(const broker_window *w);
/* Entries sent and not acknowledged. */
size_t broker_window_inflight(const broker_window *w);
/* Takes a slot for entry seq, sent at now_ms.  False, and w unchanged, if
 * no slot is free or seq is not above every seq in use (the caller's bug). */
bool broker_window_take(broker_window *w, uint64_t seq, uint64_t now_ms);
/* Gives back the n slots taken last (their entries did not go out after
 * all); n larger than the slots in use gives back all of them. */
void broker_window_untake(broker_window *w, size_t n);
/* Marks entry seq acknowledged and frees what that frees.  False if seq
 * holds no unacknowledged slot (acknowledged before, or sent before the
 * last reset): nothing changes. */
bool broker_window_ack(broker_window *w, uint64_t seq);
/* The oldest entry unacknowledged: its seq and when it was sent.  False
 * when nothing is in flight. */
bool broker_window_oldest(const broker_window *w, uint64_t *seq_out, uint64_t *sent_ms_out);

#endif
