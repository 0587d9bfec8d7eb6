/* Answers to the connection that asked: when two programs of one agency are
 * connected at once, an answer goes to the one that submitted its query. */
#include <string.h>

#include "broker.h"

static bool
same_rid(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    return a_len == b_len && memcmp(a, b, a_len) == 0;
}

/* The receiver (si, rid) if it was heard within the idle time, else NULL. */
static broker_receiver *
receiver_find(broker *b, uint16_t si, const uint8_t *rid, size_t rid_len, uint64_t now)
{
    for (size_t i = 0; i < BROKER_RECEIVERS_MAX; i++) {
        broker_receiver *r = &b->receivers[i];

        if (r->rid_len > 0 && r->session == si && same_rid(r->rid, r->rid_len, rid, rid_len))
            return now - r->heard_ms <= BROKER_SESSION_IDLE_MS ? r : NULL;
    }
    return NULL;
}

/* Frees route r.  An answer sent on its connection and not receipted is sent
 * again: the session's cursor goes back before it, to the delivery
 * connection this time (at-least-once, as for any delivery not receipted). */
static void
route_free(broker *b, broker_route *r)
{
    if (r->answer && r->sent_seq > 0 && r->session < b->session_count) {
        broker_session *s = &b->sessions[r->session];

        if (s->cursor >= r->sent_seq)
            s->cursor = r->sent_seq - 1;
        if (s->inflight > 0)
            s->inflight--;
    }
    if (r->answer && b->answers_noted > 0)
        b->answers_noted--;
    memset(r, 0, sizeof(*r));
}

/* A free slot, or the oldest one freed. */
static broker_route *
route_slot(broker *b)
{
    broker_route *oldest = &b->routes[0];

    for (size_t i = 0; i < BROKER_ROUTES_MAX; i++) {
        broker_route *r = &b->routes[i];

        if (r->rid_len == 0)
            return r;
        if (r->made_ms < oldest->made_ms)
            oldest = r;
    }
    route_free(b, oldest);
    return oldest;
}

static broker_route *
route_find(broker *b, uint16_t si, const uint8_t id[PROTO_ID_BYTES], bool answer)
{
    for (size_t i = 0; i < BROKER_ROUTES_MAX; i++) {
        broker_route *r = &b->routes[i];

        if (r->rid_len > 0 && r->answer == answer && r->session == si &&
            memcmp(r->id, id, PROTO_ID_BYTES) == 0)
            return r;
    }
    return NULL;
}

void
broker_reply_heard(broker *b, broker_session *s, const uint8_t *rid, size_t rid_len, uint64_t now)
{
    uint16_t si = (uint16_t)(s - b->sessions);
    broker_receiver *slot = NULL;

    for (size_t i = 0; i < BROKER_RECEIVERS_MAX; i++) {
        broker_receiver *r = &b->receivers[i];

        if (r->rid_len > 0 && r->session == si && same_rid(r->rid, r->rid_len, rid, rid_len)) {
            r->heard_ms = now;
            return;
        }
        if (slot == NULL || (slot->rid_len > 0 && (r->rid_len == 0 || r->heard_ms < slot->heard_ms)))
            slot = r;
    }
    /* A new receiver takes a free slot, or the one heard least lately. */
    memcpy(slot->rid, rid, rid_len);
    slot->rid_len = rid_len;
    slot->session = si;
    slot->heard_ms = now;
}

void
broker_reply_query(broker *b, const proto_addr *from, const uint8_t id[PROTO_ID_BYTES],
                   const uint8_t *rid, size_t rid_len)
{
    broker_session *s = broker_session_find(b, from);
    broker_route *r;
    uint64_t now = broker_now_ms();

    /* Only a connection that receives can be given its answers. */
    if (s == NULL || rid_len == 0 ||
        receiver_find(b, (uint16_t)(s - b->sessions), rid, rid_len, now) == NULL)
        return;
    r = route_slot(b);
    memcpy(r->id, id, PROTO_ID_BYTES);
    memcpy(r->rid, rid, rid_len);
    r->rid_len = rid_len;
    r->session = (uint16_t)(s - b->sessions);
    r->made_ms = now;
}

void
broker_reply_answer(broker *b, const proto_addr *to, const uint8_t id[PROTO_ID_BYTES],
                    const uint8_t in_reply_to[PROTO_ID_BYTES])
{
    static const uint8_t none[PROTO_ID_BYTES];
    broker_session *s;
    broker_route *q, *r;
    uint16_t si;

    if (memcmp(in_reply_to, none, PROTO_ID_BYTES) == 0 || (s = broker_session_find(b, to)) == NULL)
        return;
    si = (uint16_t)(s - b->sessions);
    if ((q = route_find(b, si, in_reply_to, false)) == NULL || route_find(b, si, id, true) != NULL)
        return;
    r = route_slot(b);
    if (q->rid_len == 0) /* the query's slot was the oldest, and freed */
        return;
    memcpy(r->id, id, PROTO_ID_BYTES);
    memcpy(r->rid, q->rid, q->rid_len);
    r->rid_len = q->rid_len;
    r->session = si;
    r->answer = true;
    r->made_ms = broker_now_ms();
    b->answers_noted++;
}

bool
broker_reply_target(broker *b, broker_session *s, const uint8_t id[PROTO_ID_BYTES], uint64_t seq,
                    const uint8_t **rid, size_t *rid_len)
{
    uint16_t si = (uint16_t)(s - b->sessions);
    broker_route *r;

    if (b->answers_noted == 0 || (r = route_find(b, si, id, true)) == NULL)
        return false;
    if (receiver_find(b, si, r->rid, r->rid_len, broker_now_ms()) == NULL) {
        /* Its connection stopped receiving: the agency's delivery connection
         * takes it.  Nothing was sent on the other one since it went quiet,
         * or the cursor would not be here again. */
        r->sent_seq = 0;
        route_free(b, r);
        return false;
    }
    if (same_rid(r->rid, r->rid_len, s->rid, s->rid_len))
        return false;
    r->sent_seq = seq;
    *rid = r->rid;
    *rid_len = r->rid_len;
    return true;
}

void
broker_reply_done(broker *b, broker_session *s, const uint8_t id[PROTO_ID_BYTES])
{
    broker_route *r;

    if (b->answers_noted == 0 || (r = route_find(b, (uint16_t)(s - b->sessions), id, true)) == NULL)
        return;
    r->sent_seq = 0; /* nothing to send again */
    route_free(b, r);
}

void
broker_replies_tick(broker *b, uint64_t now)
{
    for (size_t i = 0; i < BROKER_RECEIVERS_MAX; i++) {
        broker_receiver *rc = &b->receivers[i];

        if (rc->rid_len == 0 || now - rc->heard_ms <= BROKER_SESSION_IDLE_MS)
            continue;
        /* Silent: its queries and the answers sent to it are given up. */
        for (size_t k = 0; k < BROKER_ROUTES_MAX; k++) {
            broker_route *r = &b->routes[k];

            if (r->rid_len > 0 && r->session == rc->session &&
                same_rid(r->rid, r->rid_len, rc->rid, rc->rid_len))
                route_free(b, r);
        }
        memset(rc, 0, sizeof(*rc));
    }
}

bool
broker_agency_attended(broker *b, const proto_addr *agency, uint64_t now)
{
    broker_session *s = broker_session_find(b, agency);
    uint16_t si;

    if (s == NULL)
        return false;
    si = (uint16_t)(s - b->sessions);
    for (size_t i = 0; i < BROKER_RECEIVERS_MAX; i++) {
        const broker_receiver *r = &b->receivers[i];

        if (r->rid_len > 0 && r->session == si && now - r->heard_ms <= BROKER_SESSION_IDLE_MS)
            return true;
    }
    return false;
}
