/* libliaison: connect, seal and send, receive and open, status, queries. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "client_int.h"

#define PING_MS 5000u              /* keepalive toward the broker when receiving */
#define FRAMES_MAX (PROTO_CMD_FRAMES_MAX + 1)
#define PUMP_MAX 64u                /* messages one pump takes beyond the first, if there */
#define DEFAULT_TTL_MS (24u * 3600u * 1000u)
#define RECEIPT_WAIT_MS 2000u       /* longest a receipt command waits for room */
#define MONITOR_ENDPOINT "inproc://liaison.client.monitor" /* one per client's context */

const char *
liaison_strerror(liaison_err code)
{
    switch (code) {
    case LIAISON_OK: return "success";
    case LIAISON_ERR_INVALID: return "invalid argument";
    case LIAISON_ERR_NOMEM: return "out of memory";
    case LIAISON_ERR_KEY: return "key file cannot be used";
    case LIAISON_ERR_ROSTER: return "roster cannot be used";
    case LIAISON_ERR_CONNECT: return "cannot connect to the broker";
    case LIAISON_ERR_TIMEOUT: return "deadline passed";
    case LIAISON_ERR_REJECTED: return "rejected by the broker";
    case LIAISON_ERR_PROTOCOL: return "protocol error";
    case LIAISON_ERR_SIGNATURE: return "signature does not verify";
    case LIAISON_ERR_STATE: return "state directory cannot be used";
    case LIAISON_ERR_TOO_LARGE: return "message too large";
    case LIAISON_ERR_REFUSED: return "the broker refused this agency's key";
    case LIAISON_ERR_BUNDLE: return "the evidence bundle does not verify";
    case LIAISON_ERR_NOT_FOUND: return "no such file or directory, or it cannot be read";
    }
    return "unknown error";
}

uint64_t
liaison_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
liaison_id_to_hex(const uint8_t id[16], char out[33])
{
    proto_id_format(id, out);
}

liaison_err
liaison_id_from_hex(const char *hex, uint8_t id_out[16])
{
    return proto_id_parse(hex, id_out) == PROTO_OK ? LIAISON_OK : LIAISON_ERR_INVALID;
}

liaison_err
client_fail(liaison_client *c, liaison_err err, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->error, sizeof(c->error), fmt, ap);
    va_end(ap);
    return err;
}

const char *
liaison_client_error(const liaison_client *c)
{
    return c->error;
}

const char *
liaison_client_address(const liaison_client *c)
{
    return c->address;
}

uint16_t
liaison_client_rejection(const liaison_client *c, const char **text_out)
{
    if (text_out != NULL)
        *text_out = c->reject_text;
    return c->reject_code;
}

/* ---- Opening -------------------------------------------------------------- */

static void __attribute__((format(printf, 3, 4)))
say(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

liaison_err
liaison_client_open(const liaison_config *cfg, liaison_client **client_out, char *why,
                    size_t why_len)
{
    liaison_client *c = NULL;
    proto_detail d = {{0}, {0}};
    const proto_roster_entry *broker_card;
    proto_addr broker_addr;
    int linger = 0;
    liaison_err err;

    if (cfg == NULL || client_out == NULL || cfg->key_file == NULL || cfg->roster_file == NULL ||
        cfg->endpoint == NULL) {
        say(why, why_len, "key file, roster and endpoint are required");
        return LIAISON_ERR_INVALID;
    }
    if (proto_init() != PROTO_OK)
        return LIAISON_ERR_NOMEM;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return LIAISON_ERR_NOMEM;
    c->receive = cfg->receive;
    if (cfg->actor != NULL && cfg->actor[0] != '\0') {
        if (!proto_actor_valid(cfg->actor)) {
            say(why, why_len, "actor '%.80s' is not 1 to 64 of A-Z a-z 0-9 . _ : @ -", cfg->actor);
            err = LIAISON_ERR_INVALID;
            goto fail;
        }
        snprintf(c->actor, sizeof(c->actor), "%s", cfg->actor);
    }
    if (proto_keyfile_read(cfg->key_file, &c->id, &d) != PROTO_OK) {
        say(why, why_len, "%s", d.text);
        err = LIAISON_ERR_KEY;
        goto fail;
    }
    if (c->id->addr.kind != PROTO_ADDR_AGENCY) {
        say(why, why_len, "%s is a broker key, not an agency's", cfg->key_file);
        err = LIAISON_ERR_KEY;
        goto fail;
    }
    proto_addr_format(&c->id->addr, c->address, sizeof(c->address));
    if (proto_roster_load(cfg->roster_file, &c->roster, &d) != PROTO_OK) {
        say(why, why_len, "%s", d.text);
        err = LIAISON_ERR_ROSTER;
        goto fail;
    }
    broker_card = proto_addr_parse(c->id->addr.nation, &broker_addr, NULL) == PROTO_OK
                      ? proto_roster_find(c->roster, &broker_addr)
                      : NULL;
    if (broker_card == NULL || broker_card->revoked) {
        say(why, why_len, "the roster has no active card for broker %s", c->id->addr.nation);
        err = LIAISON_ERR_ROSTER;
        goto fail;
    }
    if (cfg->state_dir != NULL && client_seen_open(c, cfg->state_dir, why, why_len) != 0) {
        err = LIAISON_ERR_STATE;
        goto fail;
    }
    c->zctx = zmq_ctx_new();
    c->sock = c->zctx != NULL ? zmq_socket(c->zctx, ZMQ_DEALER) : NULL;
    if (c->sock == NULL) {
        say(why, why_len, "cannot create a ZeroMQ socket");
        err = LIAISON_ERR_CONNECT;
        goto fail;
    }
    zmq_setsockopt(c->sock, ZMQ_CURVE_SERVERKEY, broker_card->card.curve_public, 32);
    zmq_setsockopt(c->sock, ZMQ_CURVE_PUBLICKEY, c->id->curve_public, 32);
    zmq_setsockopt(c->sock, ZMQ_CURVE_SECRETKEY, c->id->curve_secret, 32);
    zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
    /* A broker that refuses our key says so only in the handshake: a
     * monitor of the DEALER hears it (before connecting, or the first
     * handshake could pass unheard). */
    if (zmq_socket_monitor(c->sock, MONITOR_ENDPOINT, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        (c->monitor = zmq_socket(c->zctx, ZMQ_PAIR)) == NULL ||
        zmq_setsockopt(c->monitor, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_connect(c->monitor, MONITOR_ENDPOINT) != 0) {
        say(why, why_len, "cannot monitor the connection: %s", zmq_strerror(zmq_errno()));
        err = LIAISON_ERR_CONNECT;
        goto fail;
    }
    snprintf(c->endpoint, sizeof(c->endpoint), "%s", cfg->endpoint);
    if (zmq_connect(c->sock, cfg->endpoint) != 0) {
        say(why, why_len, "cannot connect to %s: %s", cfg->endpoint, zmq_strerror(zmq_errno()));
        err = LIAISON_ERR_CONNECT;
        goto fail;
    }
    c->next_corr = 1;
    if (c->receive)
        client_ping(c);
    *client_out = c;
    return LIAISON_OK;
fail:
    liaison_client_close(&c);
    return err;
}

void
liaison_client_close(liaison_client **cp)
{
    liaison_client *c;

    if (cp == NULL || *cp == NULL)
        return;
    c = *cp;
    if (c->sock != NULL) {
        if (!c->refused)
            (void)client_receipts_flush(c);
        if (c->monitor != NULL)
            (void)zmq_socket_monitor(c->sock, NULL, 0);
        zmq_close(c->sock);
    }
    if (c->monitor != NULL)
        zmq_close(c->monitor);
    if (c->zctx != NULL)
        zmq_ctx_term(c->zctx);
    while (c->queue_head != NULL) {
        client_queued *q = c->queue_head;

        c->queue_head = q->next;
        liaison_event_free(&q->event);
        free(q);
    }
    client_seen_close(c);
    free(c->report_hashes);
    free(c->reply_entries);
    proto_roster_destroy(&c->roster);
    proto_identity_destroy(&c->id);
    free(c);
    *cp = NULL;
}

/* ---- Talking to the broker -------------------------------------------------- */

static void
refused_say(liaison_client *c, const char *text)
{
    c->refused = true;
    snprintf(c->refusal, sizeof(c->refusal),
             "the broker at %.200s refused the key of %.40s: %.200s; ask its operator to check "
             "the roster",
             c->endpoint, c->address, text);
}

bool
client_refused(liaison_client *c)
{
    while (!c->refused && c->monitor != NULL) {
        zmq_msg_t ev, where;
        uint16_t event = 0;

        zmq_msg_init(&ev);
        if (zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&ev);
            break;
        }
        /* An event is two frames: u16 event and u32 value, then the endpoint. */
        if (zmq_msg_size(&ev) >= 2)
            memcpy(&event, zmq_msg_data(&ev), sizeof(event));
        if (zmq_msg_more(&ev)) {
            zmq_msg_init(&where);
            (void)zmq_msg_recv(&where, c->monitor, 0);
            zmq_msg_close(&where);
        }
        zmq_msg_close(&ev);
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            refused_say(c, "it does not admit this key (unknown to its roster, or revoked)");
    }
    /* Every call after the refusal reports it. */
    if (c->refused)
        client_fail(c, LIAISON_ERR_REFUSED, "%s", c->refusal);
    return c->refused;
}

/*
 * Sends cmd without ever blocking past deadline_ms (0: no limit), watching
 * the handshake meanwhile: a DEALER whose connection the broker refused has
 * nowhere to put a message, and a plain send would wait for good.
 */
static liaison_err
send_now(liaison_client *c, const proto_cmd *cmd, uint64_t deadline_ms)
{
    proto_wire wire;
    proto_detail d;
    size_t i = 0;

    if (client_refused(c))
        return LIAISON_ERR_REFUSED;
    if (proto_cmd_build(cmd, &wire, &d) != PROTO_OK)
        return client_fail(c, LIAISON_ERR_INVALID, "cannot build %s: %s",
                           proto_cmd_name(cmd->type), d.text);
    while (i < wire.count) {
        int flags = (i + 1 < wire.count ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT;
        zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLOUT, 0}, {c->monitor, 0, ZMQ_POLLIN, 0}};
        uint64_t now;

        if (zmq_send(c->sock, wire.frames[i].data, wire.frames[i].len, flags) >= 0) {
            i++;
            continue;
        }
        if (zmq_errno() == EINTR)
            continue;
        if (zmq_errno() != EAGAIN)
            return client_fail(c, LIAISON_ERR_CONNECT, "cannot send to the broker at %s: %s",
                               c->endpoint, zmq_strerror(zmq_errno()));
        /* No room: libzmq dropped the parts sent so far; all go again. */
        i = 0;
        now = liaison_now_ms();
        if (deadline_ms != 0 && now >= deadline_ms)
            return client_fail(c, LIAISON_ERR_TIMEOUT,
                               "the broker at %s took nothing before the deadline", c->endpoint);
        if (zmq_poll(items, 2, deadline_ms == 0 ? 1000L : (long)(deadline_ms - now)) < 0 &&
            zmq_errno() != EINTR)
            return client_fail(c, LIAISON_ERR_CONNECT, "cannot wait for the broker: %s",
                               zmq_strerror(zmq_errno()));
        if (client_refused(c))
            return LIAISON_ERR_REFUSED;
    }
    return LIAISON_OK;
}

int
client_receipts_flush(liaison_client *c)
{
    uint8_t buf[PROTO_ACKS_BYTES(PROTO_ACKS_MAX)];
    proto_cmd cmd;
    size_t len = 0;

    if (c->receipt_count == 0)
        return 0;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_RECEIPT;
    if (proto_acks_encode(c->receipts, c->receipt_count, buf, sizeof(buf), &len) != PROTO_OK)
        return -1;
    cmd.acks = (proto_slice){buf, len};
    /* A short wait for room: receipts never block a client for good. */
    if (send_now(c, &cmd, liaison_now_ms() + RECEIPT_WAIT_MS) != LIAISON_OK)
        return -1; /* kept: they go with the next send */
    c->receipt_count = 0;
    return 0;
}

int
client_receipt_add(liaison_client *c, uint64_t tag, const uint8_t id[PROTO_ID_BYTES])
{
    if (c->receipt_count == PROTO_ACKS_MAX && client_receipts_flush(c) != 0)
        return -1;
    c->receipts[c->receipt_count].n = tag;
    memcpy(c->receipts[c->receipt_count].id, id, PROTO_ID_BYTES);
    c->receipt_count++;
    return 0;
}

liaison_err
client_send(liaison_client *c, const proto_cmd *cmd, uint64_t deadline_ms)
{
    (void)client_receipts_flush(c); /* what cannot go now goes with a later send */
    return send_now(c, cmd, deadline_ms);
}

void
client_ping(liaison_client *c)
{
    proto_cmd ping;

    memset(&ping, 0, sizeof(ping));
    ping.type = PROTO_CMD_PING;
    ping.corr = c->next_corr++;
    /* Never waits: a ping that cannot go now goes at the next keepalive. */
    (void)client_send(c, &ping, CLIENT_NO_WAIT);
    c->next_ping_ms = liaison_now_ms() + PING_MS;
}

static void
enqueue_event(liaison_client *c, liaison_event *e)
{
    client_queued *q = calloc(1, sizeof(*q));

    if (q == NULL) {
        liaison_event_free(&e);
        return;
    }
    q->event = e;
    if (c->queue_tail != NULL)
        c->queue_tail->next = q;
    else
        c->queue_head = q;
    c->queue_tail = q;
}

liaison_event *
client_dequeue(liaison_client *c)
{
    client_queued *q = c->queue_head;
    liaison_event *e;

    if (q == NULL)
        return NULL;
    c->queue_head = q->next;
    if (c->queue_head == NULL)
        c->queue_tail = NULL;
    e = q->event;
    free(q);
    return e;
}

/*
 * Receives and handles one multipart message, if one is there (flags 0:
 * waits for its frames).  Deliveries and reports become events; an answer
 * whose corr is want_corr is copied into *reply.  Returns 1 when the wanted
 * answer arrived, 0 when something else did, -1 when nothing was there.
 */
static int
handle_one(liaison_client *c, int flags, uint64_t want_corr, proto_cmd *reply)
{
    zmq_msg_t frames[FRAMES_MAX];
    proto_frame pf[FRAMES_MAX];
    size_t count = 0;
    int more = 1, rc = 0;
    proto_cmd cmd;
    proto_detail d;

    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *m = count < FRAMES_MAX ? &frames[count] : &scratch;

        zmq_msg_init(m);
        if (zmq_msg_recv(m, c->sock, count == 0 ? flags : 0) < 0) {
            zmq_msg_close(m);
            if (count == 0)
                return -1;
            break;
        }
        more = zmq_msg_more(m);
        if (m == &scratch)
            zmq_msg_close(m);
        count++;
    }
    if (count > FRAMES_MAX)
        goto out;
    for (size_t i = 0; i < count; i++)
        pf[i] = (proto_frame){zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i])};
    if (proto_cmd_parse(pf, count, &cmd, &d) != PROTO_OK)
        goto out;
    switch (cmd.type) {
    case PROTO_CMD_DELIVER: {
        proto_tagged item;
        size_t offset = 0;

        while (proto_deliveries_next(&cmd, &offset, &item)) {
            liaison_event *e = NULL;

            if (client_open_delivery(c, &item, &e) == 0 && e != NULL)
                enqueue_event(c, e);
        }
        break;
    }
    case PROTO_CMD_REPORT: {
        proto_tagged item;
        size_t offset = 0;

        while (proto_reports_next(&cmd, &offset, &item)) {
            liaison_event *e = NULL;

            if (client_open_report(c, &item, &e) == 0 && e != NULL)
                enqueue_event(c, e);
        }
        break;
    }
    case PROTO_CMD_ACCEPTED:
        /* A list of the submits one commit took: find ours. */
        for (size_t i = 0; want_corr != 0 && reply != NULL && i < cmd.count; i++) {
            proto_ack a;

            proto_ack_get(&cmd, i, &a);
            if (a.n == want_corr) {
                *reply = cmd;
                reply->corr = a.n;
                memcpy(reply->id, a.id, PROTO_ID_BYTES);
                reply->acks = (proto_slice){NULL, 0}; /* borrowed the frame */
                rc = 1;
            }
        }
        break;
    case PROTO_CMD_REJECTED:
        /* Revoked: whatever the command, the broker no longer takes our key. */
        if (cmd.code == PROTO_WIRE_REVOKED && !c->refused) {
            refused_say(c, cmd.text);
            client_fail(c, LIAISON_ERR_REFUSED, "%s", c->refusal);
        }
        /* fall through */
    case PROTO_CMD_STATUS_REPLY:
    case PROTO_CMD_PONG:
        if (want_corr != 0 && cmd.corr == want_corr && reply != NULL) {
            *reply = cmd;
            if (cmd.type == PROTO_CMD_STATUS_REPLY) {
                /* The entries borrow the frame: copy them before it closes. */
                free(c->reply_entries);
                c->reply_entries = malloc(cmd.entries.len);
                if (c->reply_entries != NULL)
                    memcpy(c->reply_entries, cmd.entries.data, cmd.entries.len);
                reply->entries = (proto_slice){c->reply_entries, cmd.entries.len};
            }
            rc = 1;
        }
        break;
    default:
        break;
    }
out:
    for (size_t i = 0; i < count && i < FRAMES_MAX; i++)
        zmq_msg_close(&frames[i]);
    return rc;
}

/*
 * Waits until deadline for input, then handles what has arrived: the first
 * message and up to PUMP_MAX more that are already there, so that a backlog
 * becomes events at once and their receipts can go out together.  Returns 1
 * when the answer whose corr is want_corr arrived (copied into *reply), 0
 * when something else did or the wait should go on, -1 at the deadline, -2
 * when the broker refused our key (c->error says so).
 */
int
client_pump(liaison_client *c, uint64_t deadline_ms, uint64_t want_corr, proto_cmd *reply)
{
    int rc = 0;

    if (client_refused(c))
        return -2;
    (void)client_receipts_flush(c); /* before waiting: the broker may be waiting on them */
    for (;;) {
        uint64_t now = liaison_now_ms();
        zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->monitor, 0, ZMQ_POLLIN, 0}};
        long wait;

        if (c->receive && now >= c->next_ping_ms)
            client_ping(c);
        if (deadline_ms != 0 && now >= deadline_ms)
            return -1;
        wait = deadline_ms == 0 ? (long)PING_MS : (long)(deadline_ms - now);
        if (c->receive && wait > (long)(c->next_ping_ms - now))
            wait = (long)(c->next_ping_ms - now);
        if (zmq_poll(items, 2, wait) < 0 && zmq_errno() != EINTR)
            return -1;
        if (client_refused(c))
            return -2;
        if (items[0].revents & ZMQ_POLLIN)
            break;
    }
    for (unsigned i = 0; i <= PUMP_MAX; i++) {
        int got = handle_one(c, i == 0 ? 0 : ZMQ_DONTWAIT, want_corr, reply);

        if (got < 0)
            break;
        if (got == 1)
            rc = 1;
    }
    /* A refusal answers the command that was waited for as well. */
    if (c->refused)
        return -2;
    return rc;
}

/* ---- Receiving -------------------------------------------------------------- */

liaison_err
liaison_receive(liaison_client *c, liaison_event **event_out, uint64_t deadline_ms)
{
    for (;;) {
        liaison_event *e = client_dequeue(c);

        if (e != NULL &&
            (e->type == CLIENT_EVENT_UNVERIFIED || e->type == CLIENT_EVENT_UNDECODABLE)) {
            liaison_err err = e->type == CLIENT_EVENT_UNVERIFIED ? LIAISON_ERR_SIGNATURE
                                                                 : LIAISON_ERR_PROTOCOL;

            client_fail(c, err, "%s", e->detail);
            liaison_event_free(&e);
            return err;
        }
        if (e != NULL) {
            *event_out = e;
            return LIAISON_OK;
        }
        int rc = client_pump(c, deadline_ms, 0, NULL);

        if (rc == -2)
            return LIAISON_ERR_REFUSED;
        if (rc < 0)
            return client_fail(c, LIAISON_ERR_TIMEOUT, "no event before the deadline");
    }
}

liaison_err
liaison_dispatch(liaison_client *c, liaison_event_fn fn, void *ctx, uint64_t deadline_ms)
{
    for (;;) {
        liaison_event *e = NULL;
        liaison_err err = liaison_receive(c, &e, deadline_ms);

        if (err == LIAISON_ERR_TIMEOUT)
            return LIAISON_OK;
        if (err != LIAISON_OK)
            return err;
        if (!fn(ctx, e))
            return LIAISON_OK;
    }
}

liaison_err
liaison_receipt(liaison_client *c, const liaison_event *e)
{
    if (e == NULL)
        return client_fail(c, LIAISON_ERR_INVALID, "no event");
    if (client_refused(c))
        return LIAISON_ERR_REFUSED;
    if (e->type == LIAISON_EVENT_MESSAGE &&
        client_seen_mark(c, e->id, CLIENT_SEEN_RECEIPTED) != 0)
        return client_fail(c, LIAISON_ERR_STATE, "cannot record message %s as received", e->id_hex);
    /* While events wait, their receipts will follow: send them together. */
    if (client_receipt_add(c, e->tag, e->id) != 0 ||
        (c->queue_head == NULL && client_receipts_flush(c) != 0))
        return client_refused(c) ? LIAISON_ERR_REFUSED
                                 : client_fail(c, LIAISON_ERR_CONNECT, "cannot send the receipts: %s",
                                               zmq_strerror(zmq_errno()));
    return LIAISON_OK;
}

void
liaison_event_free(liaison_event **ep)
{
    liaison_event *e;

    if (ep == NULL || *ep == NULL)
        return;
    e = *ep;
    for (size_t i = 0; i < e->portion_count; i++) {
        if (e->portions[i].data != NULL) {
            proto_wipe(e->portions[i].data, e->portions[i].len);
            free(e->portions[i].data);
        }
    }
    free(e->portions);
    for (size_t i = 0; i < e->grant_count; i++)
        free(e->grants[i].data);
    free(e->grants);
    free(e->raw);
    free(e);
    *ep = NULL;
}

/* ---- Status ------------------------------------------------------------------ */

liaison_err
liaison_status(liaison_client *c, const uint8_t id[16], liaison_status_entry *entries, size_t cap,
               size_t *count_out, uint64_t deadline_ms)
{
    /* On the heap, not static: clients of different threads ask at the same time. */
    proto_status_entry *raw = NULL;
    proto_cmd cmd, reply;
    size_t n = 0;
    liaison_err err = LIAISON_OK;
    int rc;

    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_STATUS;
    cmd.corr = c->next_corr++;
    memcpy(cmd.id, id, 16);
    if ((err = client_send(c, &cmd, deadline_ms)) != LIAISON_OK)
        return err;
    while ((rc = client_pump(c, deadline_ms, cmd.corr, &reply)) == 0)
        ;
    if (rc == -2)
        return LIAISON_ERR_REFUSED;
    if (rc < 0)
        return client_fail(c, LIAISON_ERR_TIMEOUT, "no status answer before the deadline");
    if (reply.type == PROTO_CMD_REJECTED) {
        c->reject_code = reply.code;
        snprintf(c->reject_text, sizeof(c->reject_text), "%s", reply.text);
        return client_fail(c, LIAISON_ERR_REJECTED, "%s: %s", proto_wire_code_name(reply.code),
                           reply.text);
    }
    if (reply.type != PROTO_CMD_STATUS_REPLY)
        return client_fail(c, LIAISON_ERR_PROTOCOL, "malformed status reply");
    raw = calloc(PROTO_STATUS_ENTRIES_MAX, sizeof(*raw));
    if (raw == NULL) {
        err = client_fail(c, LIAISON_ERR_NOMEM, "out of memory");
        goto out;
    }
    if (proto_status_decode(reply.entries.data, reply.entries.len, raw, PROTO_STATUS_ENTRIES_MAX,
                            &n, NULL) != PROTO_OK) {
        err = client_fail(c, LIAISON_ERR_PROTOCOL, "malformed status reply");
        goto out;
    }
    for (size_t i = 0; i < n && i < cap; i++) {
        proto_addr_format(&raw[i].recipient, entries[i].recipient, sizeof(entries[i].recipient));
        snprintf(entries[i].state, sizeof(entries[i].state), "%s", proto_state_name(raw[i].state));
        entries[i].time_ms = raw[i].time_ms;
        snprintf(entries[i].rule_id, sizeof(entries[i].rule_id), "%s", raw[i].rule_id);
        snprintf(entries[i].detail, sizeof(entries[i].detail), "%s", raw[i].detail);
    }
    *count_out = n < cap ? n : cap;
out:
    free(raw);
    return err;
}
