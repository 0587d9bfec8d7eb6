/* Federation: forwarding to partner brokers, their acknowledgements and
 * reports, and the cross-check of each other's audit tree heads. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

/* Events of a peer's DEALER: sessions for the window, descriptors for the
 * receive guard. */
#define PEER_EVENTS                                                                              \
    (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED |             \
     ZMQ_EVENT_CLOSED)

/* Progress of a delivery state: a state replaces another only if it ranks
 * at least as high, so that late or reordered news cannot undo progress. */
static int
state_rank(uint8_t state)
{
    switch (state) {
    case PROTO_STATE_QUEUED: return 1;
    case PROTO_STATE_ACCEPTED: return 2;
    case PROTO_STATE_FORWARDED: return 3;
    case PROTO_STATE_WITHHELD: return 4;
    case PROTO_STATE_DELIVERED: return 5;
    case PROTO_STATE_RECEIPTED: return 6;
    default: return 7; /* denied, refused, expired: final */
    }
}

/* The state recorded for (id, recipient), or 0. */
static uint8_t
current_state(store_read *rd, const uint8_t id[PROTO_ID_BYTES], const proto_addr *recipient)
{
    static proto_status_entry entries[PROTO_STATUS_ENTRIES_MAX];
    size_t n = 0;

    if (store_state_list(rd, id, entries, PROTO_STATUS_ENTRIES_MAX, &n) != STORE_OK)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (proto_addr_equal(&entries[i].recipient, recipient))
            return entries[i].state;
    }
    return 0;
}

void
broker_fed_answer(broker *b, const uint8_t *rid, size_t rid_len, const proto_cmd *cmd)
{
    if (broker_send(b->fed_sock, rid, rid_len, cmd) != 0 && zmq_errno() != EHOSTUNREACH)
        PROTO_LOG(PROTO_LOG_WARN, "B-FED-ANSWER", "command=%s error=\"%s\"",
                  proto_cmd_name(cmd->type), zmq_strerror(zmq_errno()));
}

/* Forgets what is in flight toward p: the next send starts again from the
 * oldest entry still queued (every entry not acknowledged), in order.  The
 * partner answers what it already has as a duplicate, so nothing arrives
 * twice. */
static void
peer_rewind(broker_peer *p)
{
    p->cursor = 0;
    broker_window_reset(&p->window);
}

/* Closes our DEALER to p and its monitor. */
static void
peer_hangup(broker_peer *p)
{
    if (p->sock != NULL)
        zmq_close(p->sock);
    if (p->monitor != NULL)
        zmq_close(p->monitor);
    p->sock = NULL;
    p->monitor = NULL;
    p->connected = false;
}

/*
 * Watches p's new DEALER: each connection that completes its handshake, and
 * each that drops, is an event on p->monitor.  A connection that drops takes
 * what was queued on it; however briefly the partner was gone (a restart
 * within a second, a pause), the next connection starts by resending all
 * that is unacknowledged.  Without a monitor only the resend timer notices.
 */
static void
peer_monitor(broker *b, broker_peer *p)
{
    char endpoint[64];

    snprintf(endpoint, sizeof(endpoint), "inproc://liaison-peer-%s-%llu", p->nation,
             (unsigned long long)++p->monitors);
    if (zmq_socket_monitor(p->sock, endpoint, PEER_EVENTS) == 0 &&
        (p->monitor = zmq_socket(b->zctx, ZMQ_PAIR)) != NULL &&
        zmq_connect(p->monitor, endpoint) == 0) {
        p->connected = false; /* until the first handshake */
        return;
    }
    PROTO_LOG(PROTO_LOG_WARN, "B-PEER-MONITOR",
              "peer=%s error=\"%s\" action=\"new connections are noticed by the resend timer only\"",
              p->nation, zmq_strerror(zmq_errno()));
    if (p->monitor != NULL)
        zmq_close(p->monitor);
    p->monitor = NULL;
    p->connected = true;
}

void
broker_peer_events(broker *b, broker_peer *p)
{
    zmq_msg_t frames[BROKER_FRAMES_MAX];
    size_t count;

    while (p->monitor != NULL && (count = broker_recv_frames(p->monitor, frames)) > 0) {
        uint16_t event = 0;
        int32_t value = -1;

        /* Frame 1: u16 event, u32 value (host order); frame 2: the endpoint. */
        if (zmq_msg_size(&frames[0]) >= sizeof(event) + sizeof(value)) {
            memcpy(&event, zmq_msg_data(&frames[0]), sizeof(event));
            memcpy(&value, (const uint8_t *)zmq_msg_data(&frames[0]) + sizeof(event),
                   sizeof(value));
        }
        for (size_t i = 0; i < count && i < BROKER_FRAMES_MAX; i++)
            zmq_msg_close(&frames[i]);
        /* The value of these is the connection's descriptor. */
        if ((event == ZMQ_EVENT_CONNECTED || event == ZMQ_EVENT_DISCONNECTED ||
             event == ZMQ_EVENT_CLOSED) &&
            broker_guard_connection(b, value, event == ZMQ_EVENT_CONNECTED, "peer") != 0)
            PROTO_LOG(PROTO_LOG_ERROR, "B-PEER-GUARD", "peer=%s fd=%d error=\"%s\"", p->nation,
                      (int)value, zmq_strerror(zmq_errno()));
        if (event == ZMQ_EVENT_DISCONNECTED) {
            PROTO_LOG(PROTO_LOG_INFO, "B-PEER-DISCONNECTED", "peer=%s endpoint=%s unacked=%zu",
                      p->nation, p->endpoint, broker_window_inflight(&p->window));
            p->connected = false;
            peer_rewind(p);
        } else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            p->sessions++;
            PROTO_LOG(PROTO_LOG_INFO, "B-PEER-SESSION",
                      "peer=%s endpoint=%s session=%llu action=\"resending what is unacknowledged\"",
                      p->nation, p->endpoint, (unsigned long long)p->sessions);
            p->connected = true;
            peer_rewind(p);
            p->send_due = true;
            /* A new session may be a partner that restarted, and perhaps
             * lost our section: it is sent again (see peer_updown). */
            p->roster_due = b->own_section != NULL;
        }
        (void)broker_metrics_set_peer_inflight(b->metrics, p->nation, 0);
    }
}

/* Opens our DEALER to peer p with the peer's broker key from the roster. */
static int
peer_dial(broker *b, broker_peer *p, uint64_t now)
{
    const proto_roster_entry *e;
    proto_addr addr;
    int linger = 0, immediate = 1, ivl = 100, ivl_max = 5000, hb = 1000, hb_timeout = 3000;
    int64_t max = (int64_t)b->cfg->limits.max_message_bytes + BROKER_MESSAGE_OVERHEAD;
    int rcvbuf = (int)BROKER_GUARD_RCVBUF;

    if (proto_addr_parse(p->nation, &addr, NULL) != PROTO_OK)
        return -1;
    pthread_rwlock_rdlock(&b->roster.lock);
    e = proto_roster_find(b->roster.roster, &addr);
    if (e == NULL || e->revoked) {
        pthread_rwlock_unlock(&b->roster.lock);
        PROTO_LOG(PROTO_LOG_ERROR, "B-PEER-KEY", "peer=%s error=\"no active broker card in the roster\"",
                  p->nation);
        return -1;
    }
    p->sock = zmq_socket(b->zctx, ZMQ_DEALER);
    if (p->sock == NULL) {
        pthread_rwlock_unlock(&b->roster.lock);
        return -1;
    }
    zmq_setsockopt(p->sock, ZMQ_CURVE_SERVERKEY, e->card.curve_public, PROTO_CURVE_KEY_BYTES);
    memcpy(p->key, e->card.curve_public, PROTO_CURVE_KEY_BYTES);
    pthread_rwlock_unlock(&b->roster.lock);
    zmq_setsockopt(p->sock, ZMQ_CURVE_PUBLICKEY, b->id->curve_public, PROTO_CURVE_KEY_BYTES);
    zmq_setsockopt(p->sock, ZMQ_CURVE_SECRETKEY, b->id->curve_secret, PROTO_CURVE_KEY_BYTES);
    zmq_setsockopt(p->sock, ZMQ_LINGER, &linger, sizeof(linger));
    /* Queue nothing for a peer that is not connected: what is not acknowledged
     * stays in the store and is resent, in order, when it comes back. */
    zmq_setsockopt(p->sock, ZMQ_IMMEDIATE, &immediate, sizeof(immediate));
    zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof(ivl));
    zmq_setsockopt(p->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof(ivl_max));
    zmq_setsockopt(p->sock, ZMQ_HEARTBEAT_IVL, &hb, sizeof(hb));
    zmq_setsockopt(p->sock, ZMQ_HEARTBEAT_TIMEOUT, &hb_timeout, sizeof(hb_timeout));
    /* What the partner sends back on this connection is bounded as on the
     * broker's ROUTERs: no frame larger than a message, and the guard, which
     * learns of this socket's connections from its monitor (peer_monitor). */
    zmq_setsockopt(p->sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    zmq_setsockopt(p->sock, ZMQ_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    peer_monitor(b, p); /* before connecting: the first handshake is an event too */
    peer_rewind(p);
    if (zmq_connect(p->sock, p->endpoint) != 0) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-PEER-CONNECT", "peer=%s endpoint=%s error=\"%s\"",
                  p->nation, p->endpoint, zmq_strerror(zmq_errno()));
        peer_hangup(p);
        return -1;
    }
    p->dialed_ms = now;
    if (p->down_ms == 0)
        p->down_ms = now;
    return 0;
}

bool
broker_peer_unreachable(const broker_peer *p, uint64_t now)
{
    return !p->up && p->down_ms != 0 && now - p->down_ms >= BROKER_PEER_DEAD_MS;
}

/* True if the roster holds only a revoked card for p (the roster loader
 * refuses one with no card at all). */
static bool
peer_card_revoked(broker *b, const broker_peer *p)
{
    const proto_roster_entry *e;
    proto_addr addr;
    bool revoked;

    if (proto_addr_parse(p->nation, &addr, NULL) != PROTO_OK)
        return false;
    pthread_rwlock_rdlock(&b->roster.lock);
    e = proto_roster_find(b->roster.roster, &addr);
    revoked = e != NULL && e->revoked;
    pthread_rwlock_unlock(&b->roster.lock);
    return revoked;
}

static void peer_updown(broker *b, broker_peer *p, bool up);

/* Fills p for partner c, as nothing sent yet. */
static void
peer_init(broker_peer *p, const broker_config_peer *c)
{
    memset(p, 0, sizeof(*p));
    memcpy(p->nation, c->nation, sizeof(p->nation));
    snprintf(p->endpoint, sizeof(p->endpoint), "%s", c->endpoint);
    memcpy(p->nation_key, c->nation_key, sizeof(p->nation_key));
    memcpy(p->dest, "peer:", 5);
    memcpy(p->dest + 5, p->nation, sizeof(p->nation));
}

/* Dials p unless the roster holds only a revoked card for it.  -1 when the
 * dial failed. */
static int
peer_open(broker *b, broker_peer *p)
{
    if (peer_card_revoked(b, p)) {
        /* Cut off by the roster: not dialled until a reload reinstates it. */
        p->revoked = true;
        PROTO_LOG(PROTO_LOG_WARN, "B-PEER-REVOKED",
                  "peer=%s endpoint=%s why=\"revoked\" action=\"not dialled: nothing "
                  "forwarded, its commands not answered\"",
                  p->nation, p->endpoint);
        return 0;
    }
    return peer_dial(b, p, broker_now_ms());
}

int
broker_peers_open(broker *b)
{
    for (size_t i = 0; i < b->cfg->peer_count; i++) {
        broker_peer *p = &b->peers[b->peer_count];

        peer_init(p, &b->cfg->peers[i]);
        b->peer_count++;
        if (peer_open(b, p) != 0)
            return -1;
    }
    return 0;
}

broker_peer *
broker_peer_find(broker *b, const char *nation)
{
    for (size_t i = 0; i < b->peer_count; i++) {
        if (strcmp(b->peers[i].nation, nation) == 0)
            return &b->peers[i];
    }
    return NULL;
}

/* Logs and audits one change of the partners at a reload: change ("added",
 * "removed", "endpoint changed") and what the broker did about it. */
static void
peer_change(broker *b, const char *id, const char *nation, const char *change,
            const char *action, const char *endpoint)
{
    char detail[STORE_DETAIL_MAX + 1];

    PROTO_LOG(PROTO_LOG_INFO, id, "peer=%s endpoint=%s action=\"%s\"", nation, endpoint, action);
    snprintf(detail, sizeof(detail), "peer %s %s at reload (%.200s): %s", nation, change,
             endpoint, action);
    broker_audit_item(b, STORE_EV_POLICY_RELOADED, NULL, b->id->addr.nation, nation, NULL, "",
                      NULL, detail);
}

void
broker_peers_reload(broker *b, const broker_config *cfg)
{
    /* Partners no longer listed: closed, their queues kept. */
    for (size_t i = 0; i < b->peer_count;) {
        broker_peer *p = &b->peers[i];

        if (broker_config_peer_find(cfg, p->nation) != NULL) {
            i++;
            continue;
        }
        peer_hangup(p);
        if (p->up)
            peer_updown(b, p, false);
        (void)broker_metrics_set_peer_inflight(b->metrics, p->nation, 0);
        peer_change(b, "B-PEER-REMOVED", p->nation, "removed",
                    "closed; what is queued for it waits", p->endpoint);
        memmove(p, p + 1, (b->peer_count - i - 1) * sizeof(*p));
        b->peer_count--;
    }
    for (size_t i = 0; i < cfg->peer_count; i++) {
        const broker_config_peer *c = &cfg->peers[i];
        broker_peer *p = NULL;

        for (size_t k = 0; k < b->peer_count && p == NULL; k++) {
            if (strcmp(b->peers[k].nation, c->nation) == 0)
                p = &b->peers[k];
        }
        if (p != NULL && memcmp(p->nation_key, c->nation_key, sizeof(p->nation_key)) != 0) {
            /* A new pin checks what it sends from now on; the sections held
             * were checked by the reload's roster (broker_roster_load). */
            memcpy(p->nation_key, c->nation_key, sizeof(p->nation_key));
            PROTO_LOG(PROTO_LOG_INFO, "B-PEER-PIN", "peer=%s action=\"nation key changed\"",
                      p->nation);
        }
        if (p != NULL && strcmp(p->endpoint, c->endpoint) == 0)
            continue; /* untouched: its connection and window go on */
        if (p != NULL) {
            /* Moved: what was in flight on the old connection is resent on
             * the new one (the partner answers a duplicate as such). */
            peer_hangup(p);
            if (p->up)
                peer_updown(b, p, false);
            snprintf(p->endpoint, sizeof(p->endpoint), "%s", c->endpoint);
            peer_change(b, "B-PEER-MOVED", p->nation, "endpoint changed",
                        "dialled at the new endpoint", p->endpoint);
        } else {
            /* broker_peers_check kept the count within BROKER_PEERS_MAX. */
            assert(b->peer_count < BROKER_PEERS_MAX);
            p = &b->peers[b->peer_count++];
            peer_init(p, c);
            p->roster_due = b->own_section != NULL;
            peer_change(b, "B-PEER-ADDED", p->nation, "added", "dialled", p->endpoint);
        }
        p->revoked = false;
        if (peer_open(b, p) != 0)
            p->dialed_ms = broker_now_ms(); /* dialled again after BROKER_PEER_REDIAL_MS */
    }
    broker_commit_kick(b);
}

void
broker_peers_close(broker *b)
{
    for (size_t i = 0; i < b->peer_count; i++)
        peer_hangup(&b->peers[i]);
}

static void
peer_updown(broker *b, broker_peer *p, bool up)
{

    p->up = up;
    if (!up)
        p->down_ms = broker_now_ms() - BROKER_PEER_DEAD_MS;
    peer_rewind(p);
    PROTO_LOG(up ? PROTO_LOG_INFO : PROTO_LOG_WARN, up ? "B-PEER-UP" : "B-PEER-DOWN",
              "peer=%s endpoint=%s", p->nation, p->endpoint);
    (void)broker_metrics_set_peer_up(b->metrics, p->nation, up);
    (void)broker_metrics_set_peer_since(b->metrics, p->nation, up, broker_now_ms());
    broker_audit_item(b, up ? STORE_EV_PEER_UP : STORE_EV_PEER_DOWN, NULL, b->id->addr.nation,
                      p->nation, NULL, "", NULL, p->endpoint);
    broker_commit_kick(b);
    if (up) {
        p->next_head_ms = 0; /* tell it our tree head now */
        /* And our roster section, at every link-up even when it
         * acknowledged this serial before: a partner that came back may have
         * lost it (a new data directory after a broker key rotation, a
         * restored backup) and would keep an older section for good. */
        p->roster_due = b->own_section != NULL;
    }
}

void
broker_peers_tick(broker *b, uint64_t now)
{
    for (size_t i = 0; i < b->peer_count; i++) {
        broker_peer *p = &b->peers[i];
        uint64_t oldest = 0, sent_ms = 0;

        broker_peer_events(b, p);
        if (p->up && now - p->last_heard_ms > BROKER_PEER_DEAD_MS)
            peer_updown(b, p, false);
        /* The safety net: an entry unacknowledged this long on a live link
         * (its answer lost, or the partner dropped it unanswered) is sent
         * again with everything after it. */
        if (p->up && broker_window_oldest(&p->window, &oldest, &sent_ms) &&
            now - sent_ms >= BROKER_PEER_RESEND_MS) {
            p->resends++;
            PROTO_LOG(PROTO_LOG_WARN, "B-PEER-RESEND",
                      "peer=%s seq=%llu unacked=%zu waited_ms=%llu resends=%llu", p->nation,
                      (unsigned long long)oldest, broker_window_inflight(&p->window),
                      (unsigned long long)(now - sent_ms), (unsigned long long)p->resends);
            peer_rewind(p);
        }
        (void)broker_metrics_set_peer_inflight(b->metrics, p->nation,
                                               broker_window_inflight(&p->window));
        /* libzmq gives up on a connection whose handshake the peer refused
         * (say, before its roster had our key) and never tries it again, so
         * a peer silent this long is dialled afresh. */
        if (!p->up && !p->revoked && now - p->dialed_ms >= BROKER_PEER_REDIAL_MS) {
            PROTO_LOG(PROTO_LOG_INFO, "B-PEER-REDIAL", "peer=%s endpoint=%s", p->nation,
                      p->endpoint);
            peer_hangup(p);
            if (peer_dial(b, p, now) != 0)
                p->dialed_ms = now; /* try again after the same wait */
        }
        if (p->sock == NULL)
            continue;
        if (now >= p->next_ping_ms) {
            proto_cmd ping;

            memset(&ping, 0, sizeof(ping));
            ping.type = PROTO_CMD_PING;
            ping.corr = now;
            (void)broker_send(p->sock, NULL, 0, &ping); /* fails quietly while it is down */
            p->next_ping_ms = now + BROKER_PEER_PING_MS;
        }
        broker_roster_send(b, p);
        if (p->up && now >= p->next_head_ms) {
            store_read *rd = NULL;
            store_tree_head h;

            p->next_head_ms = now + (uint64_t)b->cfg->tree_head_interval_s * 1000u;
            if (store_read_begin(b->st, &rd) == STORE_OK &&
                store_audit_head_latest(rd, &h) == STORE_OK) {
                uint8_t buf[PROTO_TREE_HEAD_BYTES];
                proto_cmd cmd;

                proto_put_be64(buf, h.tree_size);
                memcpy(buf + 8, h.root, PROTO_HASH_BYTES);
                proto_put_be64(buf + 40, h.time_ms);
                memcpy(buf + 48, h.signature, PROTO_SIGNATURE_BYTES);
                memset(&cmd, 0, sizeof(cmd));
                cmd.type = PROTO_CMD_TREE_HEAD;
                cmd.head = (proto_slice){buf, sizeof(buf)};
                if (broker_send(p->sock, NULL, 0, &cmd) == 0)
                    p->heads_sent++;
            }
            store_read_end(&rd);
        }
        broker_peer_send(b, p);
    }
}

void
broker_peers_roster_changed(broker *b)
{
    for (size_t i = 0; i < b->peer_count; i++) {
        broker_peer *p = &b->peers[i];
        const proto_roster_entry *e;
        proto_addr addr;
        bool active, same_key;

        if (proto_addr_parse(p->nation, &addr, NULL) != PROTO_OK)
            continue;
        pthread_rwlock_rdlock(&b->roster.lock);
        e = proto_roster_find(b->roster.roster, &addr);
        active = e != NULL && !e->revoked;
        same_key = active && memcmp(e->card.curve_public, p->key, PROTO_CURVE_KEY_BYTES) == 0;
        pthread_rwlock_unlock(&b->roster.lock);
        if (active && p->revoked) {
            /* Reinstated: dialled on the next tick. */
            p->revoked = false;
            p->dialed_ms = 0;
            PROTO_LOG(PROTO_LOG_INFO, "B-PEER-REINSTATED", "peer=%s", p->nation);
            continue;
        }
        if (same_key || p->revoked)
            continue;
        peer_hangup(p);
        if (p->up)
            peer_updown(b, p, false);
        if (active) {
            /* A new key: our DEALER must check the partner against it. */
            PROTO_LOG(PROTO_LOG_INFO, "B-PEER-REKEY", "peer=%s endpoint=%s", p->nation, p->endpoint);
            if (peer_dial(b, p, broker_now_ms()) != 0)
                p->dialed_ms = broker_now_ms();
            continue;
        }
        p->revoked = true;
        PROTO_LOG(PROTO_LOG_WARN, "B-PEER-REVOKED",
                  "peer=%s endpoint=%s why=\"%s\" action=\"closed: nothing forwarded, its "
                  "commands not answered\"",
                  p->nation, p->endpoint, e == NULL ? "no card in the roster" : "revoked");
        broker_metrics_inc(b->metrics, BROKER_METRICS_KEYS_REFUSED, 1);
        broker_audit_item(b, STORE_EV_KEY_REFUSED, NULL, p->nation, b->id->addr.nation, NULL, "",
                          NULL,
                          e == NULL ? "partner connection closed at roster reload: no card in "
                                      "the roster"
                                    : "partner connection closed at roster reload: revoked key");
    }
}

/* ---- Forwarding --------------------------------------------------------- */

/* Takes the window slot of entry seq, just sent (or collected to send).
 * broker_peer_send asks for no more entries than the window has room for,
 * and the cursor, beyond every seq in the window, only grows until a
 * rewind empties it, so the take cannot fail. */
static void
take_slot(broker_peer *p, uint64_t seq)
{
    bool taken = broker_window_take(&p->window, seq, broker_now_ms());

    assert(taken);
    (void)taken;
}

/* Forwards the message of queue entry e to p, redacted as its entry says.
 * 0 sent, 1 skipped, -1 blocked. */
static int
send_message(broker *b, broker_peer *p, store_read *rd, const store_queue_entry *e)
{
    proto_cmd cmd;
    uint8_t *owned = NULL;
    broker_entry_msg m;
    int rc = 0;

    memset(&cmd, 0, sizeof(cmd));
    rc = broker_entry_envelope(rd, e, &m, &cmd.envelope, &owned);
    if (rc == BROKER_ENTRY_DAMAGED)
        (void)broker_entry_damaged(b, p->dest, e, &m, NULL);
    if (rc != 0)
        return 1;
    cmd.type = PROTO_CMD_FORWARD;
    cmd.seq = e->seq;
    cmd.hop_count = 1;
    memcpy(cmd.hops[0], b->id->addr.nation, sizeof(cmd.hops[0]));
    cmd.targets = m.targets;
    if (broker_send(p->sock, NULL, 0, &cmd) != 0)
        rc = -1;
    else
        take_slot(p, e->seq);
    free(owned);
    return rc;
}

/* Sends the reports collected in box as one command; when it cannot go,
 * they count as never sent.  0 sent, -1 blocked. */
static int
send_reports(broker_peer *p, broker_outbox *box)
{
    int rc = broker_outbox_send(p->sock, NULL, 0, box);

    if (rc != 0) {
        p->cursor = box->cursor_before;
        broker_window_untake(&p->window, box->count);
    }
    broker_outbox_clear(box);
    return rc;
}

void
broker_peer_send(broker *b, broker_peer *p)
{
    store_queue_entry entries[BROKER_SEND_MAX];
    broker_signed reports[BROKER_SEND_MAX];
    broker_outbox box = {.kind = 0, .count = 0};
    store_read *rd = NULL;

    broker_peer_events(b, p); /* a new connection first rewinds, so nothing goes out of order */
    if (!p->up || !p->connected || b->stopping)
        return;
    while (broker_window_room(&p->window) > 0) {
        size_t want = broker_window_room(&p->window), n = 0;
        int rc = 0;

        if (want > sizeof(entries) / sizeof(entries[0]))
            want = sizeof(entries) / sizeof(entries[0]);
        if (rd == NULL && store_read_begin(b->st, &rd) != STORE_OK)
            return;
        if (store_queue_peek(rd, p->dest, p->cursor, entries, want, &n) != STORE_OK || n == 0)
            break;
        if (broker_reports_sign(b, entries, n, reports) != 0) /* one signature for them all */
            break;
        /* Runs of reports go out as one command; messages one forward each. */
        for (size_t i = 0; i < n && rc == 0; i++) {
            const store_queue_entry *e = &entries[i];
            proto_slice report = broker_entry_report(e, &reports[i]);

            if (report.data != NULL && e->extra.data[0] == BROKER_ENTRY_REPORT) {
                if (!broker_outbox_fits(&box, PROTO_CMD_REPORT, report.len) &&
                    (rc = send_reports(p, &box)) != 0)
                    break;
                broker_outbox_add(&box, PROTO_CMD_REPORT, e, report, NULL, p->cursor);
                take_slot(p, e->seq);
                p->cursor = e->seq;
                continue;
            }
            if ((rc = send_reports(p, &box)) != 0)
                break;
            if (broker_recall_pending(b, p->dest, e->seq)) {
                p->cursor = e->seq; /* a recall removes it: never sent */
                continue;
            }
            rc = send_message(b, p, rd, e); /* 1: not a message, or expired: skipped */
            if (rc < 0)
                break;
            p->cursor = e->seq; /* sent (its slot taken) or skipped */
            rc = 0;
        }
        if (rc == 0)
            rc = send_reports(p, &box);
        broker_reports_free(reports, n);
        if (rc != 0 || n < want)
            break;
    }
    store_read_end(&rd);
}

/* A forward-ack for one entry of the queue toward p. */
static void
on_forward_ack(broker *b, broker_peer *p, const proto_cmd *cmd)
{
    store_queue_entry e;
    store_read *rd = NULL;
    size_t n = 0;
    broker_op *op;
    bool retry = cmd->code == PROTO_WIRE_INTERNAL || cmd->code == PROTO_WIRE_BUSY;

    /* Only the answer to an entry sent on this connection frees its slot;
     * any answer still settles the entry below. */
    (void)broker_window_ack(&p->window, cmd->seq);
    if (store_read_begin(b->st, &rd) != STORE_OK)
        return;
    if (cmd->seq == 0 || store_queue_peek(rd, p->dest, cmd->seq - 1, &e, 1, &n) != STORE_OK ||
        n == 0 || e.seq != cmd->seq) {
        store_read_end(&rd);
        return; /* acknowledged before */
    }
    if (retry) {
        /* Resend everything unacknowledged, in order, on the next tick. */
        store_read_end(&rd);
        peer_rewind(p);
        return;
    }
    op = broker_op_begin(b, BROKER_OP_PLAIN);
    if (op == NULL) {
        store_read_end(&rd);
        return;
    }
    if (store_batch_dequeue(b->collecting->batch, p->dest, e.seq) != STORE_OK) {
        broker_op_abort(b);
        store_read_end(&rd);
        return;
    }
    if (broker_entry_is_message(e.extra)) {
        static proto_target targets[BROKER_TARGETS_MAX];
        broker_entry_msg m;
        proto_addr sender;
        size_t count = 0;
        uint8_t state = cmd->code == 0 ? PROTO_STATE_FORWARDED : PROTO_STATE_REFUSED;

        if (broker_entry_message_parse(e.extra, &m) == 0 &&
            proto_addr_parse(m.sender, &sender, NULL) == PROTO_OK &&
            proto_targets_decode(m.targets.data, m.targets.len, targets, BROKER_TARGETS_MAX,
                                 &count, NULL) == PROTO_OK) {
            const uint8_t *h = m.hash;
            broker_about about;
            bool ok = true;
            /* The partner's reason is text from the wire: escaped before it
             * reaches a status entry, a report or the audit log. */
            char why[PROTO_TEXT_MAX];

            proto_text_escape(cmd->text, strlen(cmd->text), why, sizeof(why));
            broker_about_entry(&about, e.id, &m);

            for (size_t i = 0; i < count && ok; i++) {
                char rtext[PROTO_ADDR_TEXT_MAX + 1];
                bool advance = state_rank(current_state(rd, e.id, &targets[i].agency)) <=
                               state_rank(state);

                proto_addr_format(&targets[i].agency, rtext, sizeof(rtext));
                ok = (!advance || broker_state(b, e.id, &sender, &targets[i].agency, state, "",
                                               cmd->code == 0 ? "" : why, h) == 0) &&
                     broker_audit_msg(b, cmd->code == 0 ? STORE_EV_FORWARDED : STORE_EV_REFUSED,
                                      &about, m.sender, rtext, "",
                                      cmd->code == 0 ? p->nation : why) == 0;
                broker_metrics_inc(b->metrics, cmd->code == 0 ? BROKER_METRICS_FORWARDED
                                                              : BROKER_METRICS_REFUSED, 1);
            }
            if (!ok)
                broker_op_abort(b); /* left queued: resent and acknowledged again */
        }
    }
    store_read_end(&rd);
    broker_commit_kick(b);
    p->send_due = true; /* refilled once the input at hand is read */
}

/* Checks a partner's tree head and asks for a consistency proof if needed. */
static void on_tree_head(broker *b, const proto_addr *peer, const uint8_t *rid, size_t rid_len,
                         const proto_cmd *cmd);
static void on_consistency(broker *b, const proto_addr *peer, const proto_cmd *cmd);

/* Answers a partner that asks for a consistency proof of our log. */
static void
on_consistency_req(broker *b, void *sock, const uint8_t *rid, size_t rid_len, const proto_cmd *cmd)
{
    static store_consistency_proof proof;
    store_read *rd = NULL;
    proto_cmd reply;

    if (store_read_begin(b->st, &rd) != STORE_OK)
        return;
    if (store_audit_consistency(rd, cmd->first, cmd->second, &proof) != STORE_OK ||
        proof.count > PROTO_PROOF_HASHES_MAX) {
        store_read_end(&rd);
        PROTO_LOG(PROTO_LOG_WARN, "B-CONSISTENCY-REQ", "first=%llu second=%llu error=\"out of range\"",
                  (unsigned long long)cmd->first, (unsigned long long)cmd->second);
        return;
    }
    store_read_end(&rd);
    memset(&reply, 0, sizeof(reply));
    reply.type = PROTO_CMD_CONSISTENCY;
    reply.corr = cmd->corr;
    reply.first = cmd->first;
    reply.second = cmd->second;
    reply.path = (proto_slice){proof.count > 0 ? proof.path[0] : NULL, proof.count * PROTO_HASH_BYTES};
    if (broker_send(sock, rid, rid_len, &reply) != 0)
        PROTO_LOG(PROTO_LOG_WARN, "B-CONSISTENCY-SEND", "error=\"%s\"", zmq_strerror(zmq_errno()));
}

void
broker_peer_readable(broker *b, broker_peer *p)
{
    for (int budget = 0; budget < 256; budget++) {
        zmq_msg_t frames[BROKER_FRAMES_MAX];
        proto_frame pf[BROKER_FRAMES_MAX];
        size_t count = 0;
        proto_cmd cmd;
        proto_detail d;

        if ((count = broker_recv_frames(p->sock, frames)) == 0)
            return;
        p->last_heard_ms = broker_now_ms();
        if (!p->connected) {
            /* A frame came, so a connection is up: should its event have
             * been lost (the monitor's queue overflowed), sending must not
             * wait for it.  The disconnect before it rewound p (and were
             * that lost too, the resend timer would). */
            broker_peer_events(b, p);
            p->connected = true;
        }
        if (!p->up)
            peer_updown(b, p, true);
        for (size_t i = 0; i < count && i < BROKER_FRAMES_MAX; i++)
            pf[i] = (proto_frame){zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i])};
        if (count <= BROKER_FRAMES_MAX && proto_cmd_parse(pf, count, &cmd, &d) == PROTO_OK) {
            switch (cmd.type) {
            case PROTO_CMD_FORWARD_ACK:
                on_forward_ack(b, p, &cmd);
                break;
            case PROTO_CMD_CONSISTENCY_REQ:
                on_consistency_req(b, p->sock, NULL, 0, &cmd);
                break;
            case PROTO_CMD_ROSTER_ACK:
                broker_peer_roster_ack(b, p, &cmd);
                break;
            case PROTO_CMD_PONG:
            case PROTO_CMD_PING:
                break;
            default:
                PROTO_LOG(PROTO_LOG_WARN, "B-PEER-CMD", "peer=%s command=%s", p->nation,
                          proto_cmd_name(cmd.type));
                break;
            }
        } else {
            PROTO_LOG(PROTO_LOG_WARN, "B-PEER-MALFORMED", "peer=%s frames=%zu", p->nation, count);
        }
        for (size_t i = 0; i < count && i < BROKER_FRAMES_MAX; i++)
            zmq_msg_close(&frames[i]);
    }
}

/* ---- What partners send to our federation socket ------------------------ */

/* A signed report from the partner broker about a message of ours, decoded
 * and (unless verify_signatures is off: the partner is authenticated by
 * CurveZMQ and the sender's library checks the signature) verified by the
 * pool, in arrival order with the partner's forwards. */
void
broker_fed_report(broker *b, broker_job *job)
{
    const proto_report *r = job->report;
    store_envelope_info info;
    proto_slice bytes;
    store_read *rd = NULL;
    proto_addr sender;
    broker_op *op;

    if (job->result != PROTO_OK) {
        broker_refuse_partner(b, job, job->wire_code, job->why);
        return;
    }
    op = broker_op_begin(b, BROKER_OP_REPORT_IN);
    if (op == NULL) {
        broker_job_free(&job); /* unacknowledged: the partner resends it */
        return;
    }
    memcpy(op->rid, job->rid, job->rid_len);
    op->rid_len = job->rid_len;
    op->seq = job->corr;
    memcpy(op->id, r->id, PROTO_ID_BYTES);
    if (store_read_begin(b->st, &rd) != STORE_OK) {
        broker_job_free(&job);
        return; /* an empty item: acknowledged once committed, and resent if not */
    }
    if (store_envelope_get(rd, r->id, &info, &bytes) == STORE_OK &&
        proto_addr_parse(info.sender, &sender, NULL) == PROTO_OK &&
        strcmp(sender.nation, b->id->addr.nation) == 0) {
        uint8_t extra[1 + PROTO_REPORT_MAX];
        char rtext[PROTO_ADDR_TEXT_MAX + 1];
        proto_status_entry ent = r->entry;
        size_t len = zmq_msg_size(&job->msg);

        proto_addr_format(&r->entry.recipient, rtext, sizeof(rtext));
        extra[0] = BROKER_ENTRY_SIGNED;
        memcpy(extra + 1, zmq_msg_data(&job->msg), len);
        /* Unattended and unreachable are news, not progress: the message
         * stays where it was (forwarded), and the report goes on. */
        if (r->entry.state != PROTO_STATE_ACCEPTED &&
            r->entry.state != PROTO_STATE_UNATTENDED && r->entry.state != PROTO_STATE_UNREACHABLE &&
            state_rank(current_state(rd, r->id, &r->entry.recipient)) <= state_rank(r->entry.state))
            if (store_batch_set_state(b->collecting->batch, r->id, &ent) != STORE_OK)
                PROTO_LOG(PROTO_LOG_WARN, "B-REPORT-STATE", "peer=%s", job->from.nation);
        if (store_batch_enqueue(b->collecting->batch, info.sender, r->id, broker_now_ms(), extra,
                                1 + len) == STORE_OK)
            broker_dirty(b, info.sender);
        if (r->entry.state == PROTO_STATE_REFUSED) {
            /* The stored envelope names the actor and purpose (it decoded
             * when it was accepted); the kind is in its info anyway. */
            static proto_envelope env; /* the main thread's */
            broker_about about = {r->id, info.kind, NULL, NULL, r->envelope_hash};

            if (proto_envelope_decode(bytes.data, bytes.len, &env, NULL) == PROTO_OK)
                broker_about_envelope(&about, &env, r->envelope_hash);
            broker_audit_msg(b, STORE_EV_REFUSED, &about, info.sender, rtext, r->entry.rule_id,
                             r->entry.detail);
        }
    }
    store_read_end(&rd);
    broker_job_free(&job);
    broker_commit_kick(b);
}

/* A partner's report command: its reports, each a job with a copy of its
 * bytes, go to the verify pool as one chain, and each is acknowledged once
 * filed. */
static void
on_reports(broker *b, const proto_addr *peer, const uint8_t *rid, size_t rid_len,
           const proto_cmd *cmd)
{
    proto_tagged item;
    size_t offset = 0;
    broker_ordered *chain = NULL, **tail = &chain;
    broker_job *first = NULL;

    /* One chain: one worker checks the list's shared batch signature once. */
    while (proto_reports_next(cmd, &offset, &item)) {
        broker_job *job = calloc(1, sizeof(*job));

        if (job == NULL || zmq_msg_init_size(&job->msg, item.bytes.len) != 0) {
            free(job);
            first = broker_job_of(chain);
            broker_job_free(&first);
            PROTO_LOG(PROTO_LOG_ERROR, "B-REPORT-IN", "peer=%s error=\"out of memory\"",
                      peer->nation);
            return; /* the partner sends it again after its window times out */
        }
        memcpy(zmq_msg_data(&job->msg), item.bytes.data, item.bytes.len);
        job->type = PROTO_CMD_REPORT;
        memcpy(job->rid, rid, rid_len);
        job->rid_len = rid_len;
        job->from = *peer;
        job->corr = item.tag;
        job->verify = b->cfg->verify_signatures;
        *tail = &job->ord;
        tail = &job->ord.chain;
    }
    first = broker_job_of(chain);
    if (first != NULL && broker_job_dispatch(b, first) != 0)
        broker_job_free(&first);
}

/* A forward that does not parse (a target with a bad address, say) is
 * still answered, audited and counted when its seq can be read, so the
 * partner learns why instead of sending it again for ever. */
static void
refuse_unparsed_forward(broker *b, const proto_addr *peer, const uint8_t *rid, size_t rid_len,
                        const proto_frame *pf, size_t n, const proto_detail *d)
{
    broker_job *job;
    char why[PROTO_TEXT_MAX];

    if (n < 3 || pf[1].len != 1 || pf[1].data[0] != PROTO_CMD_FORWARD || pf[2].len != 8)
        return;
    job = calloc(1, sizeof(*job));
    if (job == NULL)
        return;
    job->type = PROTO_CMD_FORWARD;
    zmq_msg_init(&job->msg);
    memcpy(job->rid, rid, rid_len);
    job->rid_len = rid_len;
    job->from = *peer;
    job->corr = proto_be64(pf[2].data);
    snprintf(why, sizeof(why), "%.40s: %.200s", d->field, d->text);
    broker_refuse_partner(b, job, PROTO_WIRE_MALFORMED, why);
}

void
broker_fed_readable(broker *b)
{
    for (int budget = 0; budget < 256; budget++) {
        zmq_msg_t frames[BROKER_FRAMES_MAX];
        proto_frame pf[BROKER_FRAMES_MAX];
        size_t count = 0;
        proto_cmd cmd;
        proto_detail d;
        const char *user;
        proto_addr peer;
        const uint8_t *rid;
        size_t rid_len;

        if ((count = broker_recv_frames(b->fed_sock, frames)) == 0)
            return;
        rid = zmq_msg_data(&frames[0]);
        rid_len = zmq_msg_size(&frames[0]);
        user = count > 1 ? zmq_msg_gets(&frames[1], "User-Id") : NULL;
        if (user == NULL || proto_addr_parse(user, &peer, NULL) != PROTO_OK ||
            peer.kind != PROTO_ADDR_BROKER || count > BROKER_FRAMES_MAX)
            goto next;
        /* A partner whose key the roster no longer admits is not answered:
         * what it sends stays queued on its side. */
        {
            char why[160];

            if (!broker_key_admitted(b, &frames[1], &peer, NULL, why, sizeof(why))) {
                broker_metrics_inc(b->metrics, BROKER_METRICS_KEYS_REFUSED, 1);
                PROTO_LOG(PROTO_LOG_DEBUG, "B-REVOKED-COMMAND", "peer=%s why=\"%s\"", user, why);
                goto next;
            }
            /* Nor is a partner a reload removed from the peers: its
             * connection opened before stays open, unanswered. */
            if (broker_peer_find(b, peer.nation) == NULL) {
                PROTO_LOG(PROTO_LOG_DEBUG, "B-UNCONFIGURED-COMMAND", "peer=%s", user);
                goto next;
            }
        }
        for (size_t i = 1; i < count; i++)
            pf[i - 1] = (proto_frame){zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i])};
        if (proto_cmd_parse(pf, count - 1, &cmd, &d) != PROTO_OK) {
            PROTO_LOG(PROTO_LOG_WARN, "B-FED-MALFORMED", "peer=%s field=%s error=\"%s\"", user,
                      d.field, d.text);
            refuse_unparsed_forward(b, &peer, rid, rid_len, pf, count - 1, &d);
            goto next;
        }
        switch (cmd.type) {
        case PROTO_CMD_FORWARD: {
            broker_job *job = calloc(1, sizeof(*job));
            proto_detail td = {{0}, {0}};
            size_t n = 0;

            if (job == NULL)
                break;
            job->type = PROTO_CMD_FORWARD;
            zmq_msg_init(&job->msg);
            memcpy(job->rid, rid, rid_len);
            job->rid_len = rid_len;
            job->from = peer;
            job->corr = cmd.seq;
            job->targets = calloc(BROKER_TARGETS_MAX, sizeof(*job->targets));
            if (job->targets == NULL) {
                broker_job_free(&job);
                break;
            }
            /* Targets that do not decode are answered like any refusal. */
            if (proto_targets_decode(cmd.targets.data, cmd.targets.len, job->targets,
                                     BROKER_TARGETS_MAX, &n, &td) != PROTO_OK) {
                char why[PROTO_TEXT_MAX];

                snprintf(why, sizeof(why), "targets: %.200s", td.text);
                broker_refuse_partner(b, job, PROTO_WIRE_MALFORMED, why);
                break;
            }
            job->target_count = n;
            /* Frames: rid, signature, command, seq, hops, targets, envelope. */
            zmq_msg_move(&job->msg, &frames[6]);
            job->hop_count = cmd.hop_count;
            memcpy(job->hops, cmd.hops, sizeof(job->hops));
            job->verify = true; /* a partner's forward is always checked */
            if (broker_job_dispatch(b, job) != 0)
                broker_job_free(&job);
            break;
        }
        case PROTO_CMD_REPORT:
            on_reports(b, &peer, rid, rid_len, &cmd);
            break;
        case PROTO_CMD_TREE_HEAD:
            on_tree_head(b, &peer, rid, rid_len, &cmd);
            break;
        case PROTO_CMD_CONSISTENCY:
            on_consistency(b, &peer, &cmd);
            break;
        case PROTO_CMD_ROSTER:
            broker_fed_roster(b, &peer, rid, rid_len, &cmd);
            break;
        case PROTO_CMD_PING: {
            proto_cmd pong;

            memset(&pong, 0, sizeof(pong));
            pong.type = PROTO_CMD_PONG;
            pong.corr = cmd.corr;
            broker_fed_answer(b, rid, rid_len, &pong);
            break;
        }
        default:
            PROTO_LOG(PROTO_LOG_WARN, "B-FED-CMD", "peer=%s command=%s", user,
                      proto_cmd_name(cmd.type));
            break;
        }
    next:
        for (size_t i = 0; i < count && i < BROKER_FRAMES_MAX; i++)
            zmq_msg_close(&frames[i]);
    }
}

/* ---- Tree heads ------------------------------------------------------------ */

/* The last head accepted from a partner, kept in the store's meta table as
 * "peerhead:<NATION>": u64 size, root, u64 time, signature (112 bytes). */
static bool
peer_head_get(broker *b, const char *nation, store_tree_head *h)
{
    char key[32];
    store_read *rd = NULL;
    proto_slice v;
    bool ok = false;

    snprintf(key, sizeof(key), "peerhead:%s", nation);
    if (store_read_begin(b->st, &rd) != STORE_OK)
        return false;
    if (store_meta_get(rd, key, &v) == STORE_OK && v.len == PROTO_TREE_HEAD_BYTES) {
        h->tree_size = proto_be64(v.data);
        memcpy(h->root, v.data + 8, PROTO_HASH_BYTES);
        h->time_ms = proto_be64(v.data + 40);
        memcpy(h->signature, v.data + 48, PROTO_SIGNATURE_BYTES);
        ok = true;
    }
    store_read_end(&rd);
    return ok;
}

/* Heads waiting for their consistency proof, one per partner. */
static struct {
    char nation[PROTO_NATION_LEN + 1];  /* the partner */
    bool waiting;                       /* a proof was asked for */
    uint64_t corr;                      /* which request */
    store_tree_head old_head, new_head; /* the two heads to join */
} pending[BROKER_PEERS_MAX];

static void
head_outcome(broker *b, const char *nation, const store_tree_head *h, bool ok, const char *why)
{
    broker_op *op;
    char detail[160];

    snprintf(detail, sizeof(detail), "size=%llu %s", (unsigned long long)h->tree_size, why);
    if (!ok) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-CONSISTENCY-FAILED",
                  "peer=%s size=%llu error=\"%s\" action=\"investigate: the partner's audit log "
                  "is not an extension of what it showed before\"",
                  nation, (unsigned long long)h->tree_size, why);
        (void)broker_metrics_inc_consistency_failure(b->metrics, nation);
    }
    (void)broker_metrics_set_peer_head(b->metrics, nation, h->tree_size, h->root, h->time_ms, why,
                                       ok, broker_now_ms());
    op = broker_op_begin(b, BROKER_OP_PLAIN);
    if (op == NULL)
        return;
    if (broker_audit(b, ok ? STORE_EV_TREE_HEAD_EXCHANGED : STORE_EV_CONSISTENCY_FAILED, NULL,
                     b->id->addr.nation, nation, NULL, "", h->root, detail) != 0) {
        broker_op_abort(b);
        return;
    }
    if (ok) {
        uint8_t v[PROTO_TREE_HEAD_BYTES];
        char key[32];

        snprintf(key, sizeof(key), "peerhead:%s", nation);
        proto_put_be64(v, h->tree_size);
        memcpy(v + 8, h->root, PROTO_HASH_BYTES);
        proto_put_be64(v + 40, h->time_ms);
        memcpy(v + 48, h->signature, PROTO_SIGNATURE_BYTES);
        if (store_batch_meta_put(b->collecting->batch, key, v, sizeof(v)) != STORE_OK)
            broker_op_abort(b);
    }
    broker_commit_kick(b);
}

static void
on_tree_head(broker *b, const proto_addr *peer, const uint8_t *rid, size_t rid_len,
             const proto_cmd *cmd)
{
    store_tree_head h, old;
    const proto_roster_entry *e;
    uint8_t key[PROTO_SIGN_PUBLIC_BYTES];
    bool have_key = false;
    size_t slot = 0;

    h.tree_size = proto_be64(cmd->head.data);
    memcpy(h.root, cmd->head.data + 8, PROTO_HASH_BYTES);
    h.time_ms = proto_be64(cmd->head.data + 40);
    memcpy(h.signature, cmd->head.data + 48, PROTO_SIGNATURE_BYTES);
    pthread_rwlock_rdlock(&b->roster.lock);
    e = proto_roster_find(b->roster.roster, peer);
    if (e != NULL && !e->revoked) {
        memcpy(key, e->card.sign_public, sizeof(key));
        have_key = true;
    }
    pthread_rwlock_unlock(&b->roster.lock);
    if (!have_key || store_tree_head_verify(&h, key) != STORE_OK) {
        head_outcome(b, peer->nation, &h, false, "tree head signature does not verify");
        return;
    }
    while (slot < BROKER_PEERS_MAX && pending[slot].nation[0] != '\0' &&
           strcmp(pending[slot].nation, peer->nation) != 0)
        slot++;
    if (slot == BROKER_PEERS_MAX)
        return;
    memcpy(pending[slot].nation, peer->nation, sizeof(pending[slot].nation));
    if (!peer_head_get(b, peer->nation, &old)) {
        head_outcome(b, peer->nation, &h, true, "first head");
        return;
    }
    if (h.tree_size < old.tree_size) {
        head_outcome(b, peer->nation, &h, false, "the log shrank");
        return;
    }
    if (h.tree_size == old.tree_size) {
        bool same = memcmp(h.root, old.root, PROTO_HASH_BYTES) == 0;

        if (!same)
            head_outcome(b, peer->nation, &h, false, "same size, different root");
        return;
    }
    if (old.tree_size == 0) {
        /* The empty tree is a prefix of every tree: nothing to prove. */
        head_outcome(b, peer->nation, &h, true, "consistent (from the empty tree)");
        return;
    }
    if (pending[slot].waiting && broker_now_ms() - pending[slot].corr < 10000u)
        return; /* one proof at a time; a request unanswered for 10 s is asked again */
    pending[slot].waiting = true;
    pending[slot].corr = broker_now_ms();
    pending[slot].old_head = old;
    pending[slot].new_head = h;
    {
        proto_cmd req;

        memset(&req, 0, sizeof(req));
        req.type = PROTO_CMD_CONSISTENCY_REQ;
        req.corr = pending[slot].corr;
        req.first = old.tree_size;
        req.second = h.tree_size;
        broker_fed_answer(b, rid, rid_len, &req);
    }
}

static void
on_consistency(broker *b, const proto_addr *peer, const proto_cmd *cmd)
{
    static uint8_t path[PROTO_PROOF_HASHES_MAX][PROTO_HASH_BYTES];
    size_t slot;

    for (slot = 0; slot < BROKER_PEERS_MAX; slot++) {
        if (strcmp(pending[slot].nation, peer->nation) == 0)
            break;
    }
    if (slot == BROKER_PEERS_MAX || !pending[slot].waiting || pending[slot].corr != cmd->corr ||
        cmd->first != pending[slot].old_head.tree_size ||
        cmd->second != pending[slot].new_head.tree_size)
        return;
    pending[slot].waiting = false;
    /* An empty proof (equal sizes, or from size 0) has no data to copy. */
    if (cmd->path.len > 0)
        memcpy(path, cmd->path.data, cmd->path.len);
    if (store_merkle_verify_consistency(cmd->first, cmd->second, pending[slot].old_head.root,
                                        pending[slot].new_head.root,
                                        (const uint8_t(*)[PROTO_HASH_BYTES])path,
                                        cmd->path.len / PROTO_HASH_BYTES) != STORE_OK)
        head_outcome(b, peer->nation, &pending[slot].new_head, false,
                     "consistency proof does not verify");
    else
        head_outcome(b, peer->nation, &pending[slot].new_head, true, "consistent");
}
