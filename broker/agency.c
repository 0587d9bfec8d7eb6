/* Agencies: their commands, their sessions, and deliveries to them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "frames.h"

void
broker_agency_answer(broker *b, const uint8_t *rid, size_t rid_len, const proto_cmd *cmd)
{
    if (broker_send(b->agency_sock, rid, rid_len, cmd) != 0 && zmq_errno() != EHOSTUNREACH)
        PROTO_LOG(PROTO_LOG_WARN, "B-ANSWER", "command=%s error=\"%s\"", proto_cmd_name(cmd->type),
                  zmq_strerror(zmq_errno()));
}

void
broker_agency_accepted(broker *b, const uint8_t *rid, size_t rid_len, const proto_ack *items,
                       size_t count)
{
    uint8_t buf[PROTO_ACKS_BYTES(PROTO_ACKS_MAX)];
    size_t len = 0;
    proto_cmd cmd;

    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_ACCEPTED;
    cmd.count = (uint16_t)count;
    if (proto_acks_encode(items, count, buf, sizeof(buf), &len) != PROTO_OK)
        return;
    cmd.acks = (proto_slice){buf, len};
    broker_agency_answer(b, rid, rid_len, &cmd);
}

void
broker_agency_reject(broker *b, const uint8_t *rid, size_t rid_len, uint64_t corr,
                     const uint8_t *id, uint16_t code, const char *text)
{
    proto_cmd cmd;
    size_t n;

    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_REJECTED;
    cmd.corr = corr;
    if (id != NULL)
        memcpy(cmd.id, id, PROTO_ID_BYTES);
    cmd.code = code;
    /* Keep the text valid UTF-8 when it is cut: cut at a character boundary. */
    n = strlen(text);
    if (n >= sizeof(cmd.text))
        n = sizeof(cmd.text) - 1;
    while (n > 0 && ((uint8_t)text[n] & 0xC0) == 0x80)
        n--;
    memcpy(cmd.text, text, n);
    cmd.text[n] = '\0';
    broker_agency_answer(b, rid, rid_len, &cmd);
}

/* ---- Sessions ------------------------------------------------------------- */

broker_session *
broker_session_find(broker *b, const proto_addr *addr)
{
    for (size_t i = 0; i < b->session_count; i++) {
        if (proto_addr_equal(&b->sessions[i].addr, addr))
            return &b->sessions[i];
    }
    return NULL;
}

static broker_session *
session_get(broker *b, const proto_addr *addr)
{
    broker_session *s = broker_session_find(b, addr);

    if (s != NULL)
        return s;
    if (b->session_count == BROKER_SESSIONS_MAX)
        return NULL;
    s = &b->sessions[b->session_count++];
    memset(s, 0, sizeof(*s));
    s->addr = *addr;
    proto_addr_format(addr, s->dest, sizeof(s->dest));
    return s;
}

/* A ping names the connection deliveries go to, and the key it holds (the
 * roster is checked against it at each reload); a new one starts over. */
static void
session_route(broker *b, broker_session *s, const uint8_t *rid, size_t rid_len,
              const uint8_t key[PROTO_CURVE_KEY_BYTES])
{
    memcpy(s->key, key, PROTO_CURVE_KEY_BYTES);
    s->keyed = true;
    if (s->rid_len != rid_len || memcmp(s->rid, rid, rid_len) != 0) {
        memcpy(s->rid, rid, rid_len);
        s->rid_len = rid_len;
        s->cursor = 0;
        s->inflight = 0;
        PROTO_LOG(PROTO_LOG_INFO, "B-SESSION", "agency=%s event=connected", s->dest);
    }
    s->last_seen_ms = broker_now_ms();
    (void)b;
}

void
broker_sessions_tick(broker *b, uint64_t now)
{
    size_t connected = 0;

    for (size_t i = 0; i < b->session_count; i++) {
        broker_session *s = &b->sessions[i];

        if (s->rid_len == 0)
            continue;
        if (now - s->last_seen_ms > BROKER_SESSION_IDLE_MS) {
            PROTO_LOG(PROTO_LOG_INFO, "B-SESSION", "agency=%s event=idle", s->dest);
            s->rid_len = 0;
            s->inflight = 0;
            s->cursor = 0;
            continue;
        }
        connected++;
    }
    broker_metrics_set_sessions_connected(b->metrics, connected);
}

/* ---- Deliveries ------------------------------------------------------------ */

/* Audits and records that entry e (a message) reached s for the first time. */
static void
mark_delivered(broker *b, broker_session *s, const store_queue_entry *e)
{
    broker_entry_msg m;
    proto_addr sender;
    broker_op *op;

    if (broker_entry_message_parse(e->extra, &m) != 0 ||
        proto_addr_parse(m.sender, &sender, NULL) != PROTO_OK)
        return;
    op = broker_op_begin(b, BROKER_OP_PLAIN);
    if (op == NULL)
        return;
    if (broker_state(b, e->id, &sender, &s->addr, PROTO_STATE_DELIVERED, "", "", m.hash) != 0 ||
        broker_audit(b, STORE_EV_DELIVERED, e->id, m.sender, s->dest, NULL, "", m.hash, NULL) != 0)
        broker_op_abort(b);
    broker_metrics_inc(b->metrics, BROKER_METRICS_DELIVERED, 1);
}

/* Sends what box holds as one command on connection rid of s (its delivery
 * connection, or the one an answer goes to).  Messages sent are marked
 * delivered (the first time); when the command cannot go, its entries count
 * as never sent.  0 sent, -1 blocked. */
static int
flush_to(broker *b, broker_session *s, broker_outbox *box, const uint8_t *rid, size_t rid_len,
         bool *marked)
{
    bool own = rid == s->rid;
    int rc = broker_outbox_send(b->agency_sock, rid, rid_len, box);

    if (rc == 0 && box->kind == PROTO_CMD_DELIVER) {
        for (size_t i = 0; i < box->count; i++) {
            if (box->entries[i]->seq > s->delivered_hwm) {
                s->delivered_hwm = box->entries[i]->seq;
                mark_delivered(b, s, box->entries[i]);
                *marked = true;
            }
        }
    } else if (rc != 0) {
        if (own && zmq_errno() == EHOSTUNREACH) {
            PROTO_LOG(PROTO_LOG_INFO, "B-SESSION", "agency=%s event=gone", s->dest);
            s->rid_len = 0;
            s->inflight = 0;
            s->cursor = 0;
        } else {
            s->cursor = box->cursor_before;
            s->inflight -= (uint32_t)box->count;
        }
    }
    broker_outbox_clear(box);
    return rc;
}

static int
flush(broker *b, broker_session *s, broker_outbox *box, bool *marked)
{
    return flush_to(b, s, box, s->rid, s->rid_len, marked);
}

void
broker_agency_deliver(broker *b, broker_session *s)
{
    store_queue_entry entries[BROKER_SEND_MAX];
    broker_signed reports[BROKER_SEND_MAX];
    broker_outbox box = {.kind = 0, .count = 0};
    store_read *rd = NULL;
    bool marked = false;

    if (s->rid_len == 0 || b->stopping)
        return;
    while (s->inflight < b->cfg->limits.max_in_flight) {
        size_t want = b->cfg->limits.max_in_flight - s->inflight, n = 0, to_len = 0;
        const uint8_t *to = NULL;
        bool again = false;
        int rc = 0;

        if (want > sizeof(entries) / sizeof(entries[0]))
            want = sizeof(entries) / sizeof(entries[0]);
        if (rd == NULL && store_read_begin(b->st, &rd) != STORE_OK)
            return;
        if (store_queue_peek(rd, s->dest, s->cursor, entries, want, &n) != STORE_OK || n == 0)
            break;
        if (broker_reports_sign(b, entries, n, reports) != 0) /* one signature for them all */
            break;
        /* Runs of reports, and runs of messages, go out as one command each,
         * in queue order. */
        for (size_t i = 0; i < n && rc == 0; i++) {
            const store_queue_entry *e = &entries[i];
            proto_slice bytes = broker_entry_report(e, &reports[i]);
            uint8_t kind = PROTO_CMD_REPORT, *owned = NULL;
            int got;

            if (bytes.data == NULL) {
                broker_entry_msg m;

                if (broker_recall_pending(b, s->dest, e->seq)) {
                    s->cursor = e->seq; /* a recall removes it: never sent */
                    continue;
                }
                kind = PROTO_CMD_DELIVER;
                got = broker_entry_envelope(rd, e, &m, &bytes, &owned);
                if (got == BROKER_ENTRY_DAMAGED &&
                    broker_entry_damaged(b, s->dest, e, &m, &s->addr) == 0)
                    marked = true;
                if (got != 0) {
                    s->cursor = e->seq; /* nothing to send: skipped */
                    continue;
                }
            }
            if (kind == PROTO_CMD_DELIVER && broker_reply_target(b, s, e->id, e->seq, &to, &to_len)) {
                /* An answer goes alone to the connection that asked, after
                 * what is collected for the delivery connection. */
                if ((rc = flush(b, s, &box, &marked)) != 0) {
                    free(owned);
                    break;
                }
                broker_outbox_add(&box, kind, e, bytes, owned, s->cursor);
                s->cursor = e->seq;
                s->inflight++;
                if (flush_to(b, s, &box, to, to_len, &marked) != 0) {
                    /* That connection is gone: the answer goes again, from
                     * the cursor flush_to put back, to the delivery one. */
                    broker_reply_done(b, s, e->id);
                    again = true;
                    break;
                }
                continue;
            }
            if (!broker_outbox_fits(&box, kind, bytes.len) && (rc = flush(b, s, &box, &marked)) != 0) {
                free(owned);
                break;
            }
            broker_outbox_add(&box, kind, e, bytes, owned, s->cursor);
            s->cursor = e->seq;
            s->inflight++;
        }
        if (rc == 0)
            rc = flush(b, s, &box, &marked);
        broker_reports_free(reports, n);
        if (rc != 0 || (n < want && !again))
            break;
    }
    store_read_end(&rd);
    if (marked)
        broker_commit_kick(b);
}

void
broker_agency_deliver_later(broker *b, broker_session *s)
{
    if (!s->send_due) {
        s->send_due = true;
        b->sends_due[b->sends_due_count++] = (uint16_t)(s - b->sessions);
    }
}

/* Refills the windows that receipts opened while the input was read: one
 * send per session, so the reports that go out together are signed together. */
void
broker_agency_send_due(broker *b)
{
    for (size_t i = 0; i < b->sends_due_count; i++) {
        broker_session *s = &b->sessions[b->sends_due[i]];

        s->send_due = false;
        broker_agency_deliver(b, s);
    }
    b->sends_due_count = 0;
}

/* ---- Commands --------------------------------------------------------------- */

/* Removes the entry a receipt names from s's queue (auditing a message as
 * receipted); a receipt for an entry already gone, or never s's, does nothing. */
static void
receipt_one(broker *b, broker_session *s, store_read *rd, const proto_ack *r)
{
    store_queue_entry e;
    size_t n = 0;
    broker_op *op;
    bool ok;

    if (r->n == 0 || store_queue_peek(rd, s->dest, r->n - 1, &e, 1, &n) != STORE_OK ||
        n == 0 || e.seq != r->n || memcmp(e.id, r->id, PROTO_ID_BYTES) != 0)
        return;
    op = broker_op_begin(b, BROKER_OP_PLAIN);
    if (op == NULL)
        return;
    ok = store_batch_dequeue(b->collecting->batch, s->dest, e.seq) == STORE_OK;
    if (ok)
        broker_reply_done(b, s, e.id);
    if (ok && broker_entry_is_message(e.extra)) {
        broker_entry_msg m;
        proto_addr sender;

        if (broker_entry_message_parse(e.extra, &m) == 0 &&
            proto_addr_parse(m.sender, &sender, NULL) == PROTO_OK) {
            ok = broker_state(b, e.id, &sender, &s->addr, PROTO_STATE_RECEIPTED, "", "",
                              m.hash) == 0 &&
                 broker_audit(b, STORE_EV_RECEIPTED, e.id, m.sender, s->dest, NULL, "", m.hash,
                              NULL) == 0;
            broker_metrics_inc(b->metrics, BROKER_METRICS_RECEIPTED, 1);
        }
    }
    if (!ok)
        broker_op_abort(b);
}

/*
 * Each receipt frees a slot of the session's window, even when the store
 * cannot be read to apply it: the entry then stays queued and goes again
 * when the agency reconnects (delivery is at-least-once).
 */
static void
on_receipt(broker *b, broker_session *s, const proto_cmd *cmd)
{
    store_read *rd = NULL;
    bool readable = store_read_begin(b->st, &rd) == STORE_OK;

    for (size_t i = 0; i < cmd->count; i++) {
        proto_ack r;

        if (s->inflight > 0)
            s->inflight--;
        if (!readable)
            continue;
        proto_ack_get(cmd, i, &r);
        receipt_one(b, s, rd, &r);
    }
    if (readable) {
        store_read_end(&rd);
        broker_commit_kick(b);
    }
    broker_agency_deliver_later(b, s);
}

static void
on_status(broker *b, const uint8_t *rid, size_t rid_len, const proto_addr *from,
          const proto_cmd *cmd)
{
    static proto_status_entry entries[PROTO_STATUS_ENTRIES_MAX];
    static uint8_t buf[1 << 20];
    store_envelope_info info;
    proto_slice bytes;
    store_read *rd = NULL;
    char who[PROTO_ADDR_TEXT_MAX + 1];
    size_t n = 0, len = 0;
    proto_cmd reply;

    proto_addr_format(from, who, sizeof(who));
    if (store_read_begin(b->st, &rd) != STORE_OK) {
        broker_agency_reject(b, rid, rid_len, cmd->corr, cmd->id, PROTO_WIRE_INTERNAL,
                             "the store cannot be read");
        return;
    }
    /* Only the sender may ask about a message. */
    if (store_envelope_get(rd, cmd->id, &info, &bytes) != STORE_OK ||
        strcmp(info.sender, who) != 0 ||
        store_state_list(rd, cmd->id, entries, PROTO_STATUS_ENTRIES_MAX, &n) != STORE_OK ||
        proto_status_encode(entries, n, buf, sizeof(buf), &len) != PROTO_OK) {
        store_read_end(&rd);
        broker_agency_reject(b, rid, rid_len, cmd->corr, cmd->id, PROTO_WIRE_UNKNOWN_MESSAGE,
                             "no message of yours with this id is held here");
        return;
    }
    store_read_end(&rd);
    memset(&reply, 0, sizeof(reply));
    reply.type = PROTO_CMD_STATUS_REPLY;
    reply.corr = cmd->corr;
    memcpy(reply.id, cmd->id, PROTO_ID_BYTES);
    reply.entries = (proto_slice){buf, len};
    broker_agency_answer(b, rid, rid_len, &reply);
}

static void
on_submit(broker *b, broker_session *s, const uint8_t *rid, size_t rid_len, zmq_msg_t *frames,
          const proto_cmd *cmd)
{
    broker_job *job;
    int rc;

    if (s->pending >= b->cfg->limits.max_pending_per_client || b->stopping) {
        broker_agency_reject(b, rid, rid_len, cmd->corr, NULL, PROTO_WIRE_BUSY,
                             b->stopping ? "the broker is shutting down"
                                         : "too many submits waiting; retry after the answers");
        broker_metrics_inc_rejected(b->metrics, PROTO_WIRE_BUSY);
        return;
    }
    job = calloc(1, sizeof(*job));
    if (job == NULL) {
        broker_agency_reject(b, rid, rid_len, cmd->corr, NULL, PROTO_WIRE_INTERNAL,
                             "out of memory");
        return;
    }
    job->type = PROTO_CMD_SUBMIT;
    zmq_msg_init(&job->msg);
    zmq_msg_move(&job->msg, &frames[4]); /* the envelope frame: no copy */
    memcpy(job->rid, rid, rid_len);
    job->rid_len = rid_len;
    job->from = s->addr;
    job->corr = cmd->corr;
    job->verify = b->cfg->verify_signatures;
    rc = broker_job_dispatch(b, job);
    if (rc != 0) {
        /* Busy: the messages in hand already take the memory they may. */
        broker_agency_reject(b, rid, rid_len, cmd->corr, NULL,
                             rc == BROKER_JOB_BUSY ? PROTO_WIRE_BUSY : PROTO_WIRE_INTERNAL,
                             rc == BROKER_JOB_BUSY
                                 ? "the broker holds as many messages as it may; retry later"
                                 : "the verify pool is not running");
        if (rc == BROKER_JOB_BUSY)
            broker_metrics_inc_rejected(b->metrics, PROTO_WIRE_BUSY);
        broker_job_free(&job);
        return;
    }
    s->pending++;
}

/* Audits a command refused before it became a job (frames that do not
 * parse, a command an agency may not send): why is already escaped. */
static void
audit_refused_command(broker *b, const proto_addr *from, const char *why)
{
    char actor[PROTO_ADDR_TEXT_MAX + 1];
    broker_audit_item(b, STORE_EV_REJECTED, NULL, proto_addr_format(from, actor, sizeof(actor)),
                      "", NULL, "", NULL, why);
}

void
broker_agency_readable(broker *b)
{
    zmq_msg_t frames[BROKER_FRAMES_MAX];
    size_t count = 0;

    for (int budget = 0; budget < 256; budget++) {
        proto_frame pf[BROKER_FRAMES_MAX];
        proto_cmd cmd;
        char why[PROTO_TEXT_MAX];
        uint64_t corr;
        uint16_t code;
        const char *user;
        proto_addr from;
        broker_session *s;
        const uint8_t *rid;
        size_t rid_len;
        uint8_t key[PROTO_CURVE_KEY_BYTES];

        if ((count = broker_recv_frames(b->agency_sock, frames)) == 0)
            return;
        rid = zmq_msg_data(&frames[0]);
        rid_len = zmq_msg_size(&frames[0]);
        user = count > 1 ? zmq_msg_gets(&frames[1], "User-Id") : NULL;
        if (user == NULL || proto_addr_parse(user, &from, NULL) != PROTO_OK) {
            PROTO_LOG(PROTO_LOG_WARN, "B-NO-USER", "frames=%zu", count);
            goto next;
        }
        if (count > BROKER_FRAMES_MAX) {
            broker_agency_reject(b, rid, rid_len, 0, NULL, PROTO_WIRE_COMMAND,
                                 "too many frames for any command");
            broker_metrics_inc_rejected(b->metrics, PROTO_WIRE_COMMAND);
            audit_refused_command(b, &from, "too many frames for any command");
            goto next;
        }
        for (size_t i = 1; i < count; i++)
            pf[i - 1] = (proto_frame){zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i])};
        code = broker_frames_check(pf, count - 1, b->cfg->limits.max_message_bytes, &cmd, &corr,
                                   why, sizeof(why));
        /* A connection whose key the roster no longer admits is refused
         * whatever it sends: its commands are not carried out. */
        if (!broker_key_admitted(b, &frames[1], &from, key, why, sizeof(why))) {
            broker_agency_reject(b, rid, rid_len, corr, NULL, PROTO_WIRE_REVOKED, why);
            broker_metrics_inc(b->metrics, BROKER_METRICS_KEYS_REFUSED, 1);
            PROTO_LOG(PROTO_LOG_DEBUG, "B-REVOKED-COMMAND", "agency=%s why=\"%s\"", user, why);
            goto next;
        }
        if ((s = session_get(b, &from)) == NULL) {
            PROTO_LOG(PROTO_LOG_WARN, "B-NO-USER", "frames=%zu agency=%s sessions=full", count,
                      user);
            goto next;
        }
        if (code != 0) {
            broker_agency_reject(b, rid, rid_len, corr, NULL, code, why);
            broker_metrics_inc_rejected(b->metrics, code);
            audit_refused_command(b, &from, why);
            goto next;
        }
        switch (cmd.type) {
        case PROTO_CMD_SUBMIT:
            on_submit(b, s, rid, rid_len, frames, &cmd);
            break;
        case PROTO_CMD_RECEIPT:
            on_receipt(b, s, &cmd);
            break;
        case PROTO_CMD_STATUS:
            on_status(b, rid, rid_len, &from, &cmd);
            break;
        case PROTO_CMD_PING: {
            proto_cmd pong;

            session_route(b, s, rid, rid_len, key);
            broker_reply_heard(b, s, rid, rid_len, s->last_seen_ms);
            memset(&pong, 0, sizeof(pong));
            pong.type = PROTO_CMD_PONG;
            pong.corr = cmd.corr;
            broker_agency_answer(b, rid, rid_len, &pong);
            broker_agency_deliver(b, s);
            break;
        }
        case PROTO_CMD_PONG:
            break;
        default:
            break; /* broker_frames_check admits nothing else */
        }
    next:
        for (size_t i = 0; i < count && i < BROKER_FRAMES_MAX; i++)
            zmq_msg_close(&frames[i]);
    }
}
