/* Bad input against a real broker: every kind gets its answer, others are unaffected. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "federation.h"
#include "helpers.h"
#include "raw.h"
#include "liaison.h"
#include "liaison_proto.h"

#define MAX_MESSAGE 65536
/* The broker counts refusals of at most this many keys one by one in an
 * interval (BROKER_REFUSALS_KEYS_MAX); the test uses more keys than that. */
#define BROKER_TEST_TABLE 64
#define BROKER_TEST_KEYS 100

static void
raw_send_frames(fed_raw *r, const proto_frame *frames, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_true(zmq_send(r->sock, frames[i].data, frames[i].len,
                             i + 1 < n ? ZMQ_SNDMORE : 0) >= 0);
}

static void
raw_send_cmd(fed_raw *r, const proto_cmd *cmd)
{
    proto_wire w;

    assert_int_equal(proto_cmd_build(cmd, &w, NULL), PROTO_OK);
    raw_send_frames(r, w.frames, w.count);
}

/* Receives the next answer (not a deliver or report) within ms; false if none. */
static bool
raw_answer(fed_raw *r, proto_cmd *out, unsigned ms)
{
    static zmq_msg_t frames[8];
    static size_t held;
    uint64_t deadline = liaison_now_ms() + ms;

    for (size_t i = 0; i < held; i++)
        zmq_msg_close(&frames[i]);
    held = 0;
    for (;;) {
        proto_frame pf[8];
        zmq_pollitem_t item = {r->sock, 0, ZMQ_POLLIN, 0};
        uint64_t now = liaison_now_ms();
        int more = 1;

        if (now >= deadline || zmq_poll(&item, 1, (long)(deadline - now)) <= 0)
            return false;
        for (size_t i = 0; i < held; i++)
            zmq_msg_close(&frames[i]);
        held = 0;
        while (more && held < 8) {
            zmq_msg_init(&frames[held]);
            zmq_msg_recv(&frames[held], r->sock, 0);
            more = zmq_msg_more(&frames[held]);
            held++;
        }
        for (size_t i = 0; i < held; i++)
            pf[i] = (proto_frame){zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i])};
        if (proto_cmd_parse(pf, held, out, NULL) != PROTO_OK)
            continue;
        if (out->type == PROTO_CMD_ACCEPTED) {
            /* A list of the submits one commit took; the first names corr and id. */
            proto_ack a;

            proto_ack_get(out, 0, &a);
            out->corr = a.n;
            memcpy(out->id, a.id, PROTO_ID_BYTES);
            return true;
        }
        if (out->type == PROTO_CMD_REJECTED || out->type == PROTO_CMD_PONG ||
            out->type == PROTO_CMD_STATUS_REPLY)
            return true;
    }
}

/* Seals a small message from id to CAN... no: to USA/CBP, with options. */
static void
seal(const proto_identity *from, const char *to, uint64_t created, uint64_t expires,
     uint8_t **buf, size_t *len)
{
    proto_addr rcpt;
    proto_draft_portion p;
    proto_draft d;

    memset(&d, 0, sizeof(d));
    memset(&p, 0, sizeof(p));
    assert_int_equal(proto_addr_parse(to, &rcpt, NULL), PROTO_OK);
    assert_int_equal(proto_labels_parse("LES", &p.labels, NULL), PROTO_OK);
    p.plain = (const uint8_t *)"payload";
    p.plain_len = 7;
    d.kind = "watchlist.publish";
    d.actor = "badge-4411";
    d.created_ms = created;
    d.expires_ms = expires;
    d.recipients = &rcpt;
    d.recipient_count = 1;
    d.portions = &p;
    d.portion_count = 1;
    assert_int_equal(proto_envelope_seal(&d, from, buf, len, NULL), PROTO_OK);
}

static uint16_t
submit_code(fed_raw *r, const uint8_t *buf, size_t len, uint64_t corr)
{
    proto_cmd cmd, ans;

    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_SUBMIT;
    cmd.corr = corr;
    cmd.envelope = (proto_slice){buf, len};
    raw_send_cmd(r, &cmd);
    if (!raw_answer(r, &ans, 10000))
        fail_msg("no answer to submit %llu", (unsigned long long)corr);
    assert_int_equal(ans.corr, corr);
    return ans.type == PROTO_CMD_ACCEPTED ? 0 : ans.code;
}

/*
 * Rewrites the version-2 envelope at buf as version 1 (no actor, no grants),
 * signed again by from: what a client of an older release would send.
 */
static void
as_version_1(const proto_identity *from, const uint8_t *buf, size_t len, uint8_t **v1_out,
             size_t *v1_len_out)
{
    static proto_envelope env;
    uint8_t input[20 + 2 * PROTO_HASH_BYTES], sig[PROTO_SIGNATURE_BYTES];
    size_t hl, actor_at, actor_len, rest, v1_hl, n = 0;
    uint8_t *v1;

    assert_int_equal(proto_envelope_decode(buf, len, &env, NULL), PROTO_OK);
    assert_int_equal(env.version, 2);
    assert_int_equal(env.grant_count, 0);
    hl = env.header_block.len - 9;
    actor_at = 9 + 1 + buf[9] + 16 + 8 + 8;           /* kind, id, times */
    actor_at += 1 + buf[actor_at];                     /* sender */
    actor_len = 1 + buf[actor_at];
    rest = env.header_block.len - 1 - (actor_at + actor_len); /* up to grant_count */
    v1_hl = hl - actor_len - 1;
    v1 = malloc(len);
    assert_non_null(v1);
    memcpy(v1, buf, 4);
    v1[4] = 1;
    v1[5] = (uint8_t)(v1_hl >> 24);
    v1[6] = (uint8_t)(v1_hl >> 16);
    v1[7] = (uint8_t)(v1_hl >> 8);
    v1[8] = (uint8_t)v1_hl;
    n = 9;
    memcpy(v1 + n, buf + 9, actor_at - 9);
    n += actor_at - 9;
    memcpy(v1 + n, buf + actor_at + actor_len, rest);
    n += rest;
    memcpy(v1 + n, buf + env.header_block.len, len - env.header_block.len - PROTO_SIGNATURE_BYTES);
    n += len - env.header_block.len - PROTO_SIGNATURE_BYTES;
    memcpy(input, "liaison envelope v1", 20);
    proto_sha256(v1, 9 + v1_hl, input + 20);
    memcpy(input + 20 + PROTO_HASH_BYTES, env.portions_root, PROTO_HASH_BYTES);
    proto_sign_detached(from, input, sizeof(input), sig);
    memcpy(v1 + n, sig, sizeof(sig));
    n += sizeof(sig);
    /* It is a valid, signed version-1 envelope: only its version is refused. */
    assert_int_equal(proto_envelope_decode(v1, n, &env, NULL), PROTO_OK);
    assert_int_equal(env.version, 1);
    assert_string_equal(env.actor, "");
    assert_int_equal(proto_envelope_verify(&env, from->sign_public), PROTO_OK);
    *v1_out = v1;
    *v1_len_out = n;
}

/* A new envelope of version 1 names no actor: refused as malformed, with
 * that reason; the same message in version 2 is accepted. */
static void
test_badinput_version_1_refused(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    proto_identity *fbi_id = NULL;
    uint64_t now = liaison_now_ms();
    uint8_t *buf = NULL, *v1 = NULL;
    size_t len, v1_len;
    proto_cmd cmd, ans;
    fed_raw *r;

    (void)state;
    fed_start(f, "USA");
    r = fed_raw_agency(f, "USA/FBI");
    assert_int_equal(proto_keyfile_read(fed_agency_get(f, "USA/FBI")->key, &fbi_id, NULL),
                     PROTO_OK);
    seal(fbi_id, "USA/CBP", now, now + 3600000, &buf, &len);
    as_version_1(fbi_id, buf, len, &v1, &v1_len);
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_SUBMIT;
    cmd.corr = 41;
    cmd.envelope = (proto_slice){v1, v1_len};
    raw_send_cmd(r, &cmd);
    assert_true(raw_answer(r, &ans, 10000));
    assert_int_equal(ans.type, PROTO_CMD_REJECTED);
    assert_int_equal(ans.corr, 41);
    assert_int_equal(ans.code, PROTO_WIRE_MALFORMED);
    if (strstr(ans.text, "envelope version 1 names no actor") == NULL)
        fail_msg("rejected with '%s'", ans.text);
    assert_int_equal(submit_code(r, buf, len, 42), 0);
    fed_raw_close(&r);
    free(buf);
    free(v1);
    proto_identity_destroy(&fbi_id);
}

static void
test_badinput_each_rejected_with_its_code(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, "limits:\n  max_message_bytes: 65536\n  max_pending_per_client: 64\n");
    proto_identity *cbp_id = NULL;
    uint64_t now = liaison_now_ms();
    uint8_t *buf = NULL;
    size_t len;
    proto_cmd ans;
    fed_raw *r;

    (void)state;
    fed_start(f, "USA");
    r = fed_raw_agency(f, "USA/FBI");
    assert_int_equal(proto_keyfile_read(fed_agency_get(f, "USA/CBP")->key, &cbp_id, NULL),
                     PROTO_OK);
    /* A lone frame is no command; three frames without the signature are
     * not this protocol. */
    {
        proto_frame junk[] = {{(const uint8_t *)"hello", 5}};
        proto_frame nosig[] = {{(const uint8_t *)"HELLO123", 8}, {(const uint8_t *)"\x08", 1},
                               {(const uint8_t *)"12345678", 8}};

        raw_send_frames(r, junk, 1);
        assert_true(raw_answer(r, &ans, 5000));
        assert_int_equal(ans.type, PROTO_CMD_REJECTED);
        assert_int_equal(ans.code, PROTO_WIRE_COMMAND);
        raw_send_frames(r, nosig, 3);
        assert_true(raw_answer(r, &ans, 5000));
        assert_int_equal(ans.code, PROTO_WIRE_MALFORMED);
        assert_non_null(strstr(ans.text, "signature"));
    }
    /* An unknown command. */
    {
        proto_frame unknown[] = {{(const uint8_t *)"LIAISON1", 8}, {(const uint8_t *)"\x7f", 1},
                                 {(const uint8_t *)"12345678", 8}};

        raw_send_frames(r, unknown, 3);
        assert_true(raw_answer(r, &ans, 5000));
        assert_int_equal(ans.code, PROTO_WIRE_COMMAND);
    }
    /* A forward sent to the agency socket is not an agency's command. */
    {
        proto_frame fwd[] = {{(const uint8_t *)"LIAISON1", 8}, {(const uint8_t *)"\x09", 1},
                             {(const uint8_t *)"12345678", 8}};

        raw_send_frames(r, fwd, 3); /* a pong: ignored, no answer */
        assert_false(raw_answer(r, &ans, 300));
    }
    /* A receipt list whose count says two items and holds one: malformed,
     * naming the list; a deliver list is a broker's command, not an agency's. */
    {
        static const uint8_t ragged[2 + 24] = {0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 7, 7, 7};
        static const uint8_t deliveries[2 + 12 + 1] = {0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 'x'};
        proto_frame receipt[] = {{(const uint8_t *)"LIAISON1", 8}, {(const uint8_t *)"\x05", 1},
                                 {ragged, sizeof(ragged)}};
        proto_frame deliver[] = {{(const uint8_t *)"LIAISON1", 8}, {(const uint8_t *)"\x04", 1},
                                 {deliveries, sizeof(deliveries)}};

        raw_send_frames(r, receipt, 3);
        assert_true(raw_answer(r, &ans, 5000));
        assert_int_equal(ans.code, PROTO_WIRE_MALFORMED);
        assert_non_null(strstr(ans.text, "receipts"));
        raw_send_frames(r, deliver, 3);
        assert_true(raw_answer(r, &ans, 5000));
        assert_int_equal(ans.code, PROTO_WIRE_COMMAND);
        assert_non_null(strstr(ans.text, "deliver"));
    }
    /* An envelope that does not decode: malformed, with the field named. */
    {
        static const uint8_t garbage[] = "LSNE\x01\xff\xff\xff\xff";

        assert_int_equal(submit_code(r, garbage, sizeof(garbage) - 1, 11), PROTO_WIRE_MALFORMED);
    }
    /* Larger than this broker accepts. */
    {
        uint8_t *big = calloc(1, MAX_MESSAGE + 1);

        assert_int_equal(submit_code(r, big, MAX_MESSAGE + 1, 12), PROTO_WIRE_TOO_LARGE);
        free(big);
    }
    /* Another agency's envelope on FBI's connection. */
    seal(cbp_id, "USA/FBI", now, now + 60000, &buf, &len);
    assert_int_equal(submit_code(r, buf, len, 13), PROTO_WIRE_SENDER);
    free(buf);
    /* A changed byte: the signature no longer verifies. */
    seal(r->id, "USA/CBP", now, now + 60000, &buf, &len);
    buf[len - 100] ^= 1;
    assert_int_equal(submit_code(r, buf, len, 14), PROTO_WIRE_SIGNATURE);
    free(buf);
    /* Already expired, and created too far ahead. */
    seal(r->id, "USA/CBP", now - 120000, now - 60000, &buf, &len);
    assert_int_equal(submit_code(r, buf, len, 15), PROTO_WIRE_EXPIRED);
    free(buf);
    seal(r->id, "USA/CBP", now + 3600000, now + 7200000, &buf, &len);
    assert_int_equal(submit_code(r, buf, len, 16), PROTO_WIRE_EXPIRED);
    free(buf);
    /* A recipient that is not in the roster. */
    seal(r->id, "USA/NSA", now, now + 60000, &buf, &len);
    assert_int_equal(submit_code(r, buf, len, 17), PROTO_WIRE_RECIPIENT);
    free(buf);
    /* The same message twice: accepted twice, stored and delivered once. */
    seal(r->id, "USA/CBP", now, now + 60000, &buf, &len);
    assert_int_equal(submit_code(r, buf, len, 18), 0);
    assert_int_equal(submit_code(r, buf, len, 19), 0);
    {
        liaison_client *cbp = fed_client(f, "USA/CBP", true);
        liaison_event *e = NULL;
        int messages = 0;

        while (liaison_receive(cbp, &e, liaison_now_ms() + 1500) == LIAISON_OK) {
            messages += e->type == LIAISON_EVENT_MESSAGE;
            assert_int_equal(liaison_receipt(cbp, e), LIAISON_OK);
            liaison_event_free(&e);
        }
        assert_int_equal(messages, 1);
        liaison_client_close(&cbp);
    }
    free(buf);
    /* The broker is still up and answers. */
    {
        proto_cmd ping;

        memset(&ping, 0, sizeof(ping));
        ping.type = PROTO_CMD_PING;
        ping.corr = 99;
        raw_send_cmd(r, &ping);
        assert_true(raw_answer(r, &ans, 5000));
        assert_int_equal(ans.type, PROTO_CMD_PONG);
        assert_int_equal(ans.corr, 99);
    }
    fed_raw_close(&r);
    proto_identity_destroy(&cbp_id);
    assert_int_equal(fed_stop(f, "USA"), 0);
    /* Each refusal was audited. */
    {
        char out[16384];
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "rejected", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "signature does not verify"));
        assert_non_null(strstr(out, "is not the authenticated agency"));
        assert_non_null(strstr(out, "expired"));
        /* So were the commands refused before any envelope was read. */
        assert_non_null(strstr(out, "first frame is not the protocol signature"));
        assert_non_null(strstr(out, "receipts"));
        assert_non_null(
            strstr(out, "an agency may send submit, receipt, status and ping, not deliver"));
    }
    fed_destroy(&f);
}

/* Replaces byte `at` of every "USA/FBI" in buf with c. */
static void
patch_sender(uint8_t *buf, size_t len, size_t at, uint8_t c)
{
    size_t hits = 0;

    for (size_t i = 0; i + 7 <= len; i++) {
        if (memcmp(buf + i, "USA/FBI", 7) == 0) {
            buf[i + at] = c;
            hits++;
        }
    }
    assert_true(hits > 0);
}

/* Address bytes outside printable ASCII: a sender with a byte 0x80-0xFF,
 * and one with a control byte, are each answered (malformed, naming the
 * field and showing the byte escaped) and audited with the escaped text. */
static void
test_badinput_address_bytes_answered_and_audited(void **state)
{
    static const char *const one[] = {"USA"};
    static const uint8_t bad[] = {0x80, 0xff, 0x01, 0x1b, 0x7f};
    static const char *const shown[] = {"F\\x80I", "F\\xffI", "F\\x01I", "F\\x1bI", "F\\x7fI"};
    fed *f = fed_new(one, 1, NULL);
    uint64_t now = liaison_now_ms();
    proto_cmd ans;
    fed_raw *r;

    (void)state;
    fed_start(f, "USA");
    r = fed_raw_agency(f, "USA/FBI");
    for (size_t i = 0; i < sizeof(bad); i++) {
        uint8_t *buf = NULL;
        size_t len;
        proto_cmd cmd;

        seal(r->id, "USA/CBP", now, now + 60000, &buf, &len);
        patch_sender(buf, len, 5, bad[i]);
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = PROTO_CMD_SUBMIT;
        cmd.corr = 100 + i;
        cmd.envelope = (proto_slice){buf, len};
        raw_send_cmd(r, &cmd);
        if (!raw_answer(r, &ans, 10000))
            fail_msg("no answer to a sender with byte 0x%02x", bad[i]);
        assert_int_equal(ans.type, PROTO_CMD_REJECTED);
        assert_int_equal(ans.corr, 100 + i);
        assert_int_equal(ans.code, PROTO_WIRE_MALFORMED);
        assert_non_null(strstr(ans.text, "sender"));
        if (strstr(ans.text, shown[i]) == NULL)
            fail_msg("answer '%s' does not show the byte as %s", ans.text, shown[i]);
        for (const char *p = ans.text; *p != '\0'; p++)
            assert_true(*p >= 0x20 && *p < 0x7f);
        free(buf);
    }
    fed_raw_close(&r);
    assert_int_equal(fed_stop(f, "USA"), 0);
    /* The broker log shows only printable text, and every refusal is audited. */
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "rejected", NULL};
        static char out[65536];
        FILE *log = fopen(fed_nation_get(f, "USA")->log, "rb");
        int c;

        assert_non_null(log);
        while ((c = fgetc(log)) != EOF)
            assert_true(c == '\n' || (c >= 0x20 && c < 0x7f));
        fclose(log);
        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        for (size_t i = 0; i < sizeof(bad); i++) {
            if (strstr(out, shown[i]) == NULL)
                fail_msg("no audit record shows %s:\n%s", shown[i], out);
        }
    }
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* A frame larger than anything the broker accepts closes that connection only. */
static void
test_badinput_oversize_frame_closes_only_that_connection(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, "limits:\n  max_message_bytes: 65536\n");
    size_t huge = 4u << 20;
    uint8_t *big = calloc(1, huge);
    proto_cmd cmd, ans;
    fed_raw *r;
    liaison_client *cbp;
    static const char *const portions[] = {"LES", "still working"};
    liaison_message *m = NULL;

    (void)state;
    fed_start(f, "USA");
    r = fed_raw_agency(f, "USA/FBI");
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_SUBMIT;
    cmd.corr = 1;
    cmd.envelope = (proto_slice){big, huge};
    raw_send_cmd(r, &cmd);
    assert_false(raw_answer(r, &ans, 1000));
    fed_raw_close(&r);
    free(big);
    /* Everyone else carries on. */
    cbp = fed_client(f, "USA/CBP", false);
    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/FBI"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, portions[0], portions[1], strlen(portions[1]),
                                                 NULL),
                     LIAISON_OK);
    assert_int_equal(liaison_send(cbp, m, NULL, liaison_now_ms() + 5000), LIAISON_OK);
    liaison_message_destroy(&m);
    liaison_client_close(&cbp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

/* A client that floods gets busy answers; another is served all along. */
static void
test_badinput_flood_does_not_starve_others(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, "limits:\n  max_pending_per_client: 16\n");
    enum { FLOOD = 2000 };
    uint64_t now = liaison_now_ms();
    size_t accepted = 0, busy = 0, answers = 0;
    liaison_client *cbp;
    fed_raw *r;

    (void)state;
    fed_start(f, "USA");
    r = fed_raw_agency(f, "USA/FBI");
    cbp = fed_client(f, "USA/CBP", false);
    for (uint64_t i = 0; i < FLOOD; i++) {
        uint8_t *buf = NULL;
        size_t len;
        proto_cmd cmd;

        seal(r->id, "USA/CBP", now, now + 600000, &buf, &len);
        memset(&cmd, 0, sizeof(cmd));
        cmd.type = PROTO_CMD_SUBMIT;
        cmd.corr = i + 1;
        cmd.envelope = (proto_slice){buf, len};
        raw_send_cmd(r, &cmd);
        free(buf);
        /* Meanwhile the other agency's sends go through. */
        if (i % 500 == 0) {
            static const char *const portions[] = {"LES", "normal traffic"};
            liaison_message *m = NULL;

            assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
            assert_int_equal(liaison_message_add_recipient(m, "USA/FBI"), LIAISON_OK);
            assert_int_equal(liaison_message_add_portion(m, portions[0], portions[1],
                                                         strlen(portions[1]), NULL),
                             LIAISON_OK);
            if (liaison_send(cbp, m, NULL, liaison_now_ms() + 10000) != LIAISON_OK)
                fail_msg("CBP starved during the flood: %s", liaison_client_error(cbp));
            liaison_message_destroy(&m);
        }
    }
    while (answers < FLOOD) {
        proto_cmd ans;

        if (!raw_answer(r, &ans, 10000))
            break;
        if (ans.type == PROTO_CMD_ACCEPTED) {
            /* One accepted lists the submits of one commit. */
            answers += ans.count;
            accepted += ans.count;
            continue;
        }
        if (ans.code != PROTO_WIRE_BUSY)
            fail_msg("unexpected answer code %u: %s", ans.code, ans.text);
        answers++;
        busy++;
    }
    assert_int_equal(answers, FLOOD);
    assert_true(busy > 0);
    assert_true(accepted > 0);
    fed_raw_close(&r);
    liaison_client_close(&cbp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

/* Sends a forward or a report as a partner; returns the forward-ack's code
 * (0: committed). */
static uint16_t
partner_wait_ack(fed_raw *r, uint64_t seq, char *text, size_t text_len)
{
    uint64_t deadline = liaison_now_ms() + 10000;
    proto_cmd ans;

    /* The peer's own pings may come first; wait for the ack. */
    for (;;) {
        static zmq_msg_t frames[8];
        size_t held = 0;
        proto_frame pf[8];
        zmq_pollitem_t item = {r->sock, 0, ZMQ_POLLIN, 0};
        int more = 1;
        uint64_t now = liaison_now_ms();

        if (now >= deadline || zmq_poll(&item, 1, (long)(deadline - now)) <= 0)
            fail_msg("no forward-ack for seq %llu", (unsigned long long)seq);
        while (more && held < 8) {
            zmq_msg_init(&frames[held]);
            zmq_msg_recv(&frames[held], r->sock, 0);
            more = zmq_msg_more(&frames[held]);
            held++;
        }
        for (size_t i = 0; i < held; i++)
            pf[i] = (proto_frame){zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i])};
        if (proto_cmd_parse(pf, held, &ans, NULL) == PROTO_OK &&
            ans.type == PROTO_CMD_FORWARD_ACK && ans.seq == seq) {
            snprintf(text, text_len, "%s", ans.text);
            for (size_t i = 0; i < held; i++)
                zmq_msg_close(&frames[i]);
            return ans.code;
        }
        for (size_t i = 0; i < held; i++)
            zmq_msg_close(&frames[i]);
    }
}

/* Sends a forward or a report as a partner; returns the forward-ack's code
 * (0: committed). */
static uint16_t
partner_ack_code(fed_raw *r, const proto_cmd *cmd, uint64_t seq, char *text, size_t text_len)
{
    raw_send_cmd(r, cmd);
    return partner_wait_ack(r, seq, text, text_len);
}

/* Sends a forward for the targets (ascending, at most 4); returns the
 * forward-ack's code (0: committed). */
static uint16_t
forward_targets_code(fed_raw *r, uint64_t seq, const char *hop, const char *const *target, size_t n,
                     const uint8_t *env, size_t len, char *text, size_t text_len)
{
    proto_target t[4];
    uint8_t targets[256];
    size_t tlen;
    proto_cmd cmd;

    assert_true(n >= 1 && n <= 4);
    memset(t, 0, sizeof(t));
    for (size_t i = 0; i < n; i++)
        assert_int_equal(proto_addr_parse(target[i], &t[i].agency, NULL), PROTO_OK);
    assert_int_equal(proto_targets_encode(t, n, targets, sizeof(targets), &tlen), PROTO_OK);
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_FORWARD;
    cmd.seq = seq;
    cmd.hop_count = 1;
    snprintf(cmd.hops[0], sizeof(cmd.hops[0]), "%s", hop);
    cmd.targets = (proto_slice){targets, tlen};
    cmd.envelope = (proto_slice){env, len};
    return partner_ack_code(r, &cmd, seq, text, text_len);
}

/* Sends a forward for one target; returns the forward-ack's code (0: committed). */
static uint16_t
forward_code(fed_raw *r, uint64_t seq, const char *hop, const char *target, const uint8_t *env,
             size_t len, char *text, size_t text_len)
{
    return forward_targets_code(r, seq, hop, &target, 1, env, len, text, text_len);
}

/* Sends a report command of one report; returns the forward-ack's code (0: committed). */
static uint16_t
report_code(fed_raw *r, uint64_t tag, const uint8_t *report, size_t len, char *text, size_t text_len)
{
    proto_tagged item = {tag, {report, len}};
    uint8_t list[PROTO_REPORT_MAX + 16];
    size_t list_len = 0;
    proto_cmd cmd;

    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_REPORT;
    cmd.count = 1;
    assert_int_equal(proto_reports_encode(&item, 1, list, sizeof(list), &list_len), PROTO_OK);
    cmd.reports = (proto_slice){list, list_len};
    return partner_ack_code(r, &cmd, tag, text, text_len);
}

/* A report by `by` that `to` received the message `id`, signed with `key`. */
static void
make_report(const proto_identity *key, const char *by, const char *to, const uint8_t *id,
            uint8_t **buf, size_t *len)
{
    proto_report rep;

    memset(&rep, 0, sizeof(rep));
    memcpy(rep.id, id, PROTO_ID_BYTES);
    assert_int_equal(proto_addr_parse(by, &rep.broker, NULL), PROTO_OK);
    assert_int_equal(proto_addr_parse(to, &rep.entry.recipient, NULL), PROTO_OK);
    rep.entry.state = PROTO_STATE_DELIVERED;
    rep.entry.time_ms = liaison_now_ms();
    assert_int_equal(proto_report_sign(&rep, key, buf, len), PROTO_OK);
}

/* What a partner broker might send wrongly, or a forger pretending to be one. */
static void
test_badinput_federation_forwards(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    proto_identity *fbi = NULL, *rcmp = NULL;
    uint64_t now = liaison_now_ms();
    uint8_t *buf = NULL;
    size_t len;
    char text[PROTO_TEXT_MAX];
    fed_raw *can;

    (void)state;
    fed_start(f, "USA");
    can = fed_raw_peer(f, "CAN", "USA");
    assert_int_equal(proto_keyfile_read(fed_agency_get(f, "CAN/RCMP")->key, &rcmp, NULL),
                     PROTO_OK);
    assert_int_equal(proto_keyfile_read(fed_agency_get(f, "USA/FBI")->key, &fbi, NULL), PROTO_OK);
    /* A message that has already crossed USA would loop. */
    seal(rcmp, "USA/FBI", now, now + 60000, &buf, &len);
    assert_int_equal(forward_code(can, 1, "USA", "USA/FBI", buf, len, text, sizeof(text)),
                     PROTO_WIRE_LOOP);
    /* A partner forwards only its own agencies' messages. */
    free(buf);
    seal(fbi, "USA/CBP", now, now + 60000, &buf, &len);
    assert_int_equal(forward_code(can, 2, "CAN", "USA/CBP", buf, len, text, sizeof(text)),
                     PROTO_WIRE_SENDER);
    assert_non_null(strstr(text, "not the forwarding broker"));
    /* A forged or damaged envelope does not verify, even from a partner. */
    free(buf);
    seal(rcmp, "USA/FBI", now, now + 60000, &buf, &len);
    buf[len - 70] ^= 1;
    assert_int_equal(forward_code(can, 3, "CAN", "USA/FBI", buf, len, text, sizeof(text)),
                     PROTO_WIRE_SIGNATURE);
    /* Garbage in the envelope frame is malformed. */
    assert_int_equal(forward_code(can, 4, "CAN", "USA/FBI", (const uint8_t *)"LSNE", 4, text,
                                  sizeof(text)),
                     PROTO_WIRE_MALFORMED);
    /* A partner's reports are checked like its envelopes: one that does not
     * verify, one that names another broker, and bytes that are no report
     * are each refused with their code; a good one is acknowledged. */
    {
        proto_identity *mex = NULL;
        proto_addr mex_addr;
        uint8_t *rb = NULL, id[PROTO_ID_BYTES];
        size_t rlen;

        randombytes_buf(id, sizeof(id));
        make_report(can->id, "CAN", "CAN/RCMP", id, &rb, &rlen);
        rb[rlen - 1] ^= 1;
        assert_int_equal(report_code(can, 6, rb, rlen, text, sizeof(text)), PROTO_WIRE_SIGNATURE);
        assert_non_null(strstr(text, "does not verify"));
        rb[rlen - 1] ^= 1;
        assert_int_equal(report_code(can, 7, rb, rlen, text, sizeof(text)), 0);
        free(rb);
        assert_int_equal(proto_addr_parse("MEX", &mex_addr, NULL), PROTO_OK);
        assert_int_equal(proto_identity_generate(&mex_addr, &mex), PROTO_OK);
        make_report(mex, "MEX", "MEX/FGR", id, &rb, &rlen);
        assert_int_equal(report_code(can, 8, rb, rlen, text, sizeof(text)), PROTO_WIRE_SIGNATURE);
        assert_non_null(strstr(text, "not signed by the partner that sent it"));
        free(rb);
        assert_int_equal(report_code(can, 9, (const uint8_t *)"LSNR", 4, text, sizeof(text)),
                         PROTO_WIRE_MALFORMED);
        assert_int_equal(fed_log_count(f, "USA", "B-REPORT-REFUSED"), 3);
        proto_identity_destroy(&mex);
    }
    /* And a good one is committed, then delivered. */
    buf[len - 70] ^= 1;
    assert_int_equal(forward_code(can, 5, "CAN", "USA/FBI", buf, len, text, sizeof(text)), 0);
    {
        liaison_client *c = fed_client(f, "USA/FBI", true);
        liaison_event *e = NULL;

        assert_int_equal(liaison_receive(c, &e, liaison_now_ms() + 5000), LIAISON_OK);
        assert_int_equal(e->type, LIAISON_EVENT_MESSAGE);
        assert_string_equal(e->sender, "CAN/RCMP");
        liaison_event_free(&e);
        liaison_client_close(&c);
    }
    free(buf);
    fed_raw_close(&can);
    proto_identity_destroy(&fbi);
    proto_identity_destroy(&rcmp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    /* The refused reports are in the audit log, and the log verifies. */
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "rejected", NULL};
        static char out[65536];

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "report does not verify with the broker key"));
        assert_non_null(strstr(out, "report is not signed by the partner that sent it"));
    }
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}



/* True if agency addr has nothing waiting: a receive finds no message. */
static bool
inbox_empty(fed *f, const char *addr)
{
    liaison_client *c = fed_client(f, addr, true);
    liaison_event *e = NULL;
    bool empty = true;

    while (liaison_receive(c, &e, liaison_now_ms() + 1500) == LIAISON_OK) {
        if (e->type == LIAISON_EVENT_MESSAGE)
            empty = false;
        liaison_event_free(&e);
    }
    liaison_client_close(&c);
    return empty;
}

/* A partner may forward a message only to agencies its sender signed for:
 * named in the envelope, or matched by one of its selectors and accepting
 * the kind.  Any other target refuses the whole forward (bad-recipient),
 * audited and counted; nothing reaches the agency it was not meant for. */
static void
test_badinput_forward_targets_must_be_signed(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    static const char *const doj[] = {"USA/DOJ"};
    static const char *const cbp_doj[] = {"USA/CBP", "USA/DOJ"};
    static const char *const cbp[] = {"USA/CBP"};
    static const char *const fbi[] = {"USA/FBI"};
    fed *f = fed_new(two, 2, NULL);
    proto_identity *rcmp = NULL;
    uint64_t now = liaison_now_ms();
    uint8_t *to_cbp = NULL, *to_all = NULL;
    size_t to_cbp_len, to_all_len;
    char text[PROTO_TEXT_MAX];
    fed_raw *can;

    (void)state;
    fed_start(f, "USA");
    can = fed_raw_peer(f, "CAN", "USA");
    assert_int_equal(proto_keyfile_read(fed_agency_get(f, "CAN/RCMP")->key, &rcmp, NULL),
                     PROTO_OK);
    seal(rcmp, "USA/CBP", now, now + 60000, &to_cbp, &to_cbp_len);
    seal(rcmp, "USA/*", now, now + 60000, &to_all, &to_all_len);
    /* Addressed to USA/CBP, forwarded to USA/DOJ: refused, naming the target. */
    assert_int_equal(forward_targets_code(can, 1, "CAN", doj, 1, to_cbp, to_cbp_len, text,
                                          sizeof(text)),
                     PROTO_WIRE_RECIPIENT);
    assert_non_null(strstr(text, "USA/DOJ"));
    /* With the right target beside it: still refused whole. */
    assert_int_equal(forward_targets_code(can, 2, "CAN", cbp_doj, 2, to_cbp, to_cbp_len, text,
                                          sizeof(text)),
                     PROTO_WIRE_RECIPIENT);
    /* USA/ * matches DOJ, but DOJ's card accepts only mlat.*: refused. */
    assert_int_equal(forward_targets_code(can, 3, "CAN", doj, 1, to_all, to_all_len, text,
                                          sizeof(text)),
                     PROTO_WIRE_RECIPIENT);
    assert_non_null(strstr(text, "watchlist.publish"));
    assert_int_equal(fed_log_count(f, "USA", "B-FWD-REFUSED"), 3);
    assert_int_equal(fed_metric(f, "USA", "liaison_partner_forwards_refused_total"), 3);
    assert_int_equal(
        fed_metric(f, "USA", "liaison_messages_rejected_total{code=\"bad-recipient\"}"), 3);
    /* A target whose address has a byte 0x80 does not parse: still answered
     * (malformed, the byte escaped), audited and counted. */
    {
        static const uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0, 9};
        static const uint8_t targets[] = {1, 7, 'U', 'S', 'A', '/', 'F', 0x80, 'I',
                                          0, 0, 0, 0, 0, 0, 0, 0};
        proto_frame fwd[] = {{(const uint8_t *)"LIAISON1", 8}, {(const uint8_t *)"\x0a", 1},
                             {seq, 8}, {(const uint8_t *)"CAN", 3}, {targets, sizeof(targets)},
                             {to_cbp, to_cbp_len}};

        raw_send_frames(can, fwd, 6);
        assert_int_equal(partner_wait_ack(can, 9, text, sizeof(text)), PROTO_WIRE_MALFORMED);
        if (strstr(text, "F\\x80I") == NULL)
            fail_msg("forward-ack text '%s' does not show the byte escaped", text);
        assert_int_equal(fed_metric(f, "USA", "liaison_partner_forwards_refused_total"), 4);
    }
    /* What the sender did sign for goes through: the named agency, and an
     * agency the selector matches that accepts the kind. */
    assert_int_equal(forward_targets_code(can, 4, "CAN", cbp, 1, to_cbp, to_cbp_len, text,
                                          sizeof(text)),
                     0);
    assert_int_equal(forward_targets_code(can, 5, "CAN", fbi, 1, to_all, to_all_len, text,
                                          sizeof(text)),
                     0);
    assert_int_equal(fed_metric(f, "USA", "liaison_partner_forwards_refused_total"), 4);
    {
        liaison_client *c = fed_client(f, "USA/CBP", true);
        liaison_event *e = NULL;

        assert_int_equal(liaison_receive(c, &e, liaison_now_ms() + 5000), LIAISON_OK);
        assert_int_equal(e->type, LIAISON_EVENT_MESSAGE);
        assert_string_equal(e->sender, "CAN/RCMP");
        liaison_event_free(&e);
        liaison_client_close(&c);
    }
    assert_true(inbox_empty(f, "USA/DOJ"));
    free(to_cbp);
    free(to_all);
    fed_raw_close(&can);
    proto_identity_destroy(&rcmp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    /* Each refusal is in the audit log, naming DOJ; nothing about DOJ was released. */
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "rejected", NULL};
        const char *released[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                                  "--event", "released", NULL};
        static char out[65536];
        size_t hits = 0;

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        for (const char *p = out; (p = strstr(p, "target USA/DOJ is not among")) != NULL; p++)
            hits++;
        assert_int_equal(hits, 3);
        assert_non_null(strstr(out, "F\\x80I"));
        assert_int_equal(fed_run_tool(released, out, sizeof(out)), 0);
        assert_null(strstr(out, "USA/DOJ"));
    }
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* The number just before needle in line, or 0. */
static unsigned long long
count_before(const char *line, const char *needle)
{
    const char *p = strstr(line, needle);

    if (p == NULL)
        return 0;
    while (p > line && p[-1] >= '0' && p[-1] <= '9')
        p--;
    return strtoull(p, NULL, 10);
}

static bool
refusals_counted(void *ctx)
{
    void **c = ctx;

    return fed_metric(c[0], "USA", "liaison_keys_refused_total") >= (long long)(uintptr_t)c[1];
}

/* Handshakes with made-up keys, which anyone holding the broker's public
 * key can make: each is counted, but the audit log gets one record for the
 * first refusal of a key in an interval and one summary for the rest, and
 * the keys past the table's bound share one summary; the counts add up to
 * the handshakes.  A known agency is served meanwhile. */
static void
test_badinput_unknown_keys_audited_in_bounded_records(void **state)
{
    enum { KEYS = BROKER_TEST_KEYS, BATCH = 50, HANDSHAKES = 500 };
    static const char *const one[] = {"USA"};
    static uint8_t pub[KEYS][32], sec[KEYS][32];
    static char out[1 << 18];
    fed *f = fed_new(one, 1, NULL);
    uint8_t server[32];
    uint64_t now = liaison_now_ms();
    unsigned long long total = 0, records = 0, firsts = 0, others = 0;
    void *ctx;
    fed_raw *fbi;

    (void)state;
    fed_start(f, "USA");
    fbi = fed_raw_agency(f, "USA/FBI");
    {
        proto_roster *roster = NULL;
        proto_addr usa;

        assert_int_equal(proto_roster_load(f->roster, &roster, NULL), PROTO_OK);
        assert_int_equal(proto_addr_parse("USA", &usa, NULL), PROTO_OK);
        memcpy(server, proto_roster_find(roster, &usa)->card.curve_public, 32);
        proto_roster_destroy(&roster);
    }
    for (size_t k = 0; k < KEYS; k++)
        crypto_box_keypair(pub[k], sec[k]);
    ctx = zmq_ctx_new();
    for (size_t done = 0; done < HANDSHAKES; done += BATCH) {
        void *socks[BATCH];
        void *wait[2] = {f, (void *)(uintptr_t)(done + BATCH)};
        int linger = 0, never = -1;

        /* Each socket makes one handshake: it does not reconnect. */
        for (size_t i = 0; i < BATCH; i++) {
            size_t k = (done + i) % KEYS;

            socks[i] = zmq_socket(ctx, ZMQ_DEALER);
            zmq_setsockopt(socks[i], ZMQ_CURVE_SERVERKEY, server, 32);
            zmq_setsockopt(socks[i], ZMQ_CURVE_PUBLICKEY, pub[k], 32);
            zmq_setsockopt(socks[i], ZMQ_CURVE_SECRETKEY, sec[k], 32);
            zmq_setsockopt(socks[i], ZMQ_LINGER, &linger, sizeof(linger));
            zmq_setsockopt(socks[i], ZMQ_RECONNECT_IVL, &never, sizeof(never));
            assert_int_equal(zmq_connect(socks[i], fed_nation_get(f, "USA")->agency_endpoint), 0);
        }
        if (!fed_wait_until(refusals_counted, wait, 60000))
            fail_msg("%zu handshakes not refused within 60 s", done + BATCH);
        for (size_t i = 0; i < BATCH; i++)
            zmq_close(socks[i]);
        /* Meanwhile a known agency is answered. */
        if (done % (4 * BATCH) == 0) {
            uint8_t *buf = NULL;
            size_t len;

            seal(fbi->id, "USA/CBP", now, now + 60000, &buf, &len);
            assert_int_equal(submit_code(fbi, buf, len, 1000 + done), 0);
            free(buf);
        }
    }
    zmq_ctx_term(ctx);
    /* Exactly one handshake per socket. */
    assert_int_equal(fed_metric(f, "USA", "liaison_keys_refused_total"), HANDSHAKES);
    fed_raw_close(&fbi);
    assert_true(fed_log_count(f, "USA", "B-KEY-REFUSED") <= BROKER_TEST_TABLE);
    assert_int_equal(fed_stop(f, "USA"), 0);
    /* The summaries still pending were written at stop. */
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "key-refused", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        for (char *line = strtok(out, "\n"); line != NULL; line = strtok(NULL, "\n")) {
            if (strstr(line, "refusals of other keys") != NULL) {
                total += count_before(line, " refusals of other keys");
                others++;
            } else if (strstr(line, "more refusals within") != NULL) {
                total += count_before(line, " more refusals within");
            } else if (strstr(line, "unknown key") != NULL) {
                total++;
                firsts++;
            } else {
                continue;
            }
            records++;
        }
    }
    if (total != HANDSHAKES)
        fail_msg("the audit records count %llu refusals, not %d", total, HANDSHAKES);
    assert_int_equal(firsts, BROKER_TEST_TABLE);
    assert_int_equal(others, 1);
    assert_true(records <= 2 * BROKER_TEST_TABLE + 1);
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* Counts the lines of `liaison audit log --event event` on a stopped
 * broker's data that name message id_hex. */
static size_t
audit_count(fed *f, const char *nation, const char *event, const char *id_hex)
{
    const char *args[] = {"audit", "log", "--data", fed_nation_get(f, nation)->data,
                          "--event", event, NULL};
    static char out[65536];
    char needle[40];
    size_t n = 0;

    assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
    snprintf(needle, sizeof(needle), "id=%s", id_hex);
    for (const char *p = strstr(out, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* A partner resends what it holds no answer for (its connection dropped,
 * or this broker restarted): every copy is answered as committed (code 0),
 * even one that comes after the message expired, and copies that race the
 * first one through the broker change nothing: the message is received,
 * queued and delivered once. */
static void
test_badinput_partner_resend_answered_and_stored_once(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    proto_identity *rcmp = NULL;
    uint64_t now = liaison_now_ms();
    uint8_t *buf = NULL, targets[128];
    size_t len, tlen;
    bool acked[4] = {false};
    char text[PROTO_TEXT_MAX], id_hex[33];
    proto_target t;
    proto_cmd cmd;
    fed_raw *can;

    (void)state;
    fed_start(f, "USA");
    can = fed_raw_peer(f, "CAN", "USA");
    assert_int_equal(proto_keyfile_read(fed_agency_get(f, "CAN/RCMP")->key, &rcmp, NULL),
                     PROTO_OK);
    seal(rcmp, "USA/FBI", now, now + 4000, &buf, &len); /* expires in 4 s */
    /* Three copies at once, as after a resend that crossed the answers. */
    memset(&t, 0, sizeof(t));
    assert_int_equal(proto_addr_parse("USA/FBI", &t.agency, NULL), PROTO_OK);
    assert_int_equal(proto_targets_encode(&t, 1, targets, sizeof(targets), &tlen), PROTO_OK);
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_FORWARD;
    cmd.hop_count = 1;
    snprintf(cmd.hops[0], sizeof(cmd.hops[0]), "CAN");
    cmd.targets = (proto_slice){targets, tlen};
    cmd.envelope = (proto_slice){buf, len};
    for (cmd.seq = 1; cmd.seq <= 3; cmd.seq++)
        raw_send_cmd(can, &cmd);
    for (int got = 0; got < 3;) {
        proto_cmd ans;
        static zmq_msg_t frames[8];
        proto_frame pf[8];
        size_t held = 0;
        int more = 1;
        zmq_pollitem_t item = {can->sock, 0, ZMQ_POLLIN, 0};

        if (zmq_poll(&item, 1, 10000) <= 0)
            fail_msg("only %d of 3 copies were answered", got);
        while (more && held < 8) {
            zmq_msg_init(&frames[held]);
            zmq_msg_recv(&frames[held], can->sock, 0);
            more = zmq_msg_more(&frames[held]);
            held++;
        }
        for (size_t i = 0; i < held; i++)
            pf[i] = (proto_frame){zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i])};
        if (proto_cmd_parse(pf, held, &ans, NULL) == PROTO_OK &&
            ans.type == PROTO_CMD_FORWARD_ACK && ans.seq >= 1 && ans.seq <= 3 && !acked[ans.seq]) {
            if (ans.code != 0)
                fail_msg("copy %llu answered with code %u: %s", (unsigned long long)ans.seq,
                         ans.code, ans.text);
            acked[ans.seq] = true;
            got++;
        }
        for (size_t i = 0; i < held; i++)
            zmq_msg_close(&frames[i]);
    }
    {
        liaison_client *c = fed_client(f, "USA/FBI", true);
        liaison_event *e = NULL;

        assert_int_equal(liaison_receive(c, &e, liaison_now_ms() + 5000), LIAISON_OK);
        assert_int_equal(e->type, LIAISON_EVENT_MESSAGE);
        snprintf(id_hex, sizeof(id_hex), "%s", e->id_hex);
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
        liaison_client_close(&c);
    }
    /* Once it has expired, a late copy is still answered as committed. */
    while (liaison_now_ms() <= now + 4000)
        usleep(100000);
    assert_int_equal(forward_code(can, 4, "CAN", "USA/FBI", buf, len, text, sizeof(text)), 0);
    free(buf);
    fed_raw_close(&can);
    proto_identity_destroy(&rcmp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(audit_count(f, "USA", "received", id_hex), 1);
    assert_int_equal(audit_count(f, "USA", "delivered", id_hex), 1);
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_badinput_each_rejected_with_its_code, fed_destroy_all),
        cmocka_unit_test_teardown(test_badinput_version_1_refused, fed_destroy_all),
        cmocka_unit_test_teardown(test_badinput_oversize_frame_closes_only_that_connection, fed_destroy_all),
        cmocka_unit_test_teardown(test_badinput_flood_does_not_starve_others, fed_destroy_all),
        cmocka_unit_test_teardown(test_badinput_federation_forwards, fed_destroy_all),
        cmocka_unit_test_teardown(test_badinput_forward_targets_must_be_signed, fed_destroy_all),
        cmocka_unit_test_teardown(test_badinput_address_bytes_answered_and_audited, fed_destroy_all),
        cmocka_unit_test_teardown(test_badinput_unknown_keys_audited_in_bounded_records, fed_destroy_all),
        cmocka_unit_test_teardown(test_badinput_partner_resend_answered_and_stored_once,
                                  fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("badinput", tests, NULL, NULL);
}
