/* Signed roster sections between brokers: a nation changes its own section,
 * and its partners' brokers apply it without a restart or a copied file;
 * forged, stale and misdirected sections are refused. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"
#include "raw.h"

#define SECOND 1000u

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

static void
write_file(const char *path, const char *text, size_t len)
{
    FILE *out = fopen(path, "wb");

    assert_non_null(out);
    assert_int_equal(fwrite(text, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
}

static void
lower3(const char *nation, char out[4])
{
    for (int k = 0; k < 3; k++)
        out[k] = (char)(nation[k] - 'A' + 'a');
    out[3] = '\0';
}

/* Runs the liaison tool; fails the test unless it exits 0. */
static void
tool(const char *const *args)
{
    static char out[8192];
    int rc = fed_run_tool(args, out, sizeof(out));

    if (rc != 0)
        fail_msg("liaison %s %s exited %d: %s", args[0], args[1], rc, out);
}

/* The sign-public of a nation card file, 64 hex digits. */
static void
card_key(const char *path, char hex[65])
{
    char *text, *at;
    size_t len;

    text = (char *)test_read_file(path, &len);
    assert_non_null(text);
    at = strstr(text, "sign-public ");
    assert_non_null(at);
    memcpy(hex, at + strlen("sign-public "), 64);
    hex[64] = '\0';
    free(text);
}

static char pins[FED_NATIONS_MAX][65]; /* nation keys, by the federation's nation index */

/*
 * Makes the federation signed: a nation key per nation, each nation's
 * section of the roster signed with it, and every broker configuration
 * with its own nation key and its peers' (signed roster mode).  CAN's
 * broker reads its own copy of the roster, can-roster, which CAN's keeper
 * changes in the test.
 */
static void
sign_federation(fed *f, char *can_roster, size_t can_roster_len)
{
    char key[1100], card[1100], *text;
    size_t len;

    for (size_t i = 0; i < f->nation_count; i++) {
        const char *n = f->nations[i].nation;
        char lo[4];

        lower3(n, lo);
        snprintf(key, sizeof(key), "%s/%s.nation-key", f->dir, lo);
        snprintf(card, sizeof(card), "%s/%s.nation-card", f->dir, lo);
        {
            const char *args[] = {"keygen", n, "--nation", "--key", key, "--card", card, NULL};

            tool(args);
        }
        {
            const char *args[] = {"roster", "sign", f->roster, "--key", key, NULL};

            tool(args);
        }
        card_key(card, pins[i]);
    }
    snprintf(can_roster, can_roster_len, "%s/can-roster", f->dir);
    text = (char *)test_read_file(f->roster, &len);
    assert_non_null(text);
    write_file(can_roster, text, len);
    free(text);
    for (size_t i = 0; i < f->nation_count; i++) {
        fed_nation *n = &f->nations[i];
        char out[8192], *cut;
        size_t used;

        text = (char *)test_read_file(n->config, &len);
        assert_non_null(text);
        cut = strstr(text, "peers:\n");
        if (cut != NULL)
            *cut = '\0';
        used = (size_t)snprintf(out, sizeof(out), "%snation_key: %s\npeers:\n", text, pins[i]);
        for (size_t k = 0; k < f->nation_count; k++) {
            if (k != i)
                used += (size_t)snprintf(out + used, sizeof(out) - used,
                                         "  - nation: %s\n    endpoint: %s\n    nation_key: %s\n",
                                         f->nations[k].nation, f->nations[k].fed_endpoint,
                                         pins[k]);
        }
        if (strcmp(n->nation, "CAN") == 0) {
            char *at = strstr(out, "roster: roster\n");

            assert_non_null(at);
            memmove(at + strlen("roster: can-roster\n"), at + strlen("roster: roster\n"),
                    strlen(at + strlen("roster: roster\n")) + 1);
            memcpy(at, "roster: can-roster\n", strlen("roster: can-roster\n"));
        }
        write_file(n->config, out, strlen(out));
        free(text);
    }
}

typedef struct log_wait {
    fed *f;             /* the federation */
    const char *nation; /* whose log */
    const char *needle; /* what to look for */
    size_t want;        /* lines to wait for */
} log_wait;

static bool
logged(void *ctx)
{
    log_wait *w = ctx;

    return fed_log_count(w->f, w->nation, w->needle) >= w->want;
}

static void
wait_log(fed *f, const char *nation, const char *needle, size_t want, unsigned ms)
{
    log_wait w = {f, nation, needle, want};

    if (!fed_wait_until(logged, &w, ms))
        fail_msg("no %zu lines '%s' in the log of %s within %u ms", want, needle, nation, ms);
}

/* Opens a client of agency addr with the key file key and the roster file roster. */
static liaison_client *
client_with(fed *f, const char *addr, const char *key, const char *roster, bool receive)
{
    liaison_config cfg;
    liaison_client *c = NULL;
    char why[512];

    memset(&cfg, 0, sizeof(cfg));
    cfg.key_file = key;
    cfg.roster_file = roster;
    cfg.endpoint = fed_nation_get(f, (char[4]){addr[0], addr[1], addr[2], 0})->agency_endpoint;
    cfg.actor = "badge-4411";
    cfg.receive = receive;
    if (liaison_client_open(&cfg, &c, why, sizeof(why)) != LIAISON_OK)
        fail_msg("client %s: %s", addr, why);
    return c;
}

/* Sends one watchlist message from c to `to`; the client's result. */
static liaison_err
send_one(liaison_client *c, const char *to, const char *text)
{
    liaison_message *m = NULL;
    liaison_err rc;

    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//REL TO CAN,USA"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", text, strlen(text), NULL), LIAISON_OK);
    rc = liaison_send(c, m, NULL, in_ms(10 * SECOND));
    if (rc != LIAISON_OK) {
        const char *why = "";

        (void)liaison_client_rejection(c, &why);
        fprintf(stderr, "# to %s: %s (%s)\n", to, liaison_strerror(rc), why);
    }
    liaison_message_destroy(&m);
    return rc;
}

/* Waits (up to ms) for a message whose only portion is text at c. */
static bool
receive_text(liaison_client *c, const char *text, unsigned ms)
{
    uint64_t deadline = in_ms(ms);

    for (;;) {
        liaison_event *e = NULL;
        bool hit;

        if (liaison_receive(c, &e, deadline) != LIAISON_OK)
            return false;
        hit = e->type == LIAISON_EVENT_MESSAGE && e->portion_count == 1 &&
              e->portions[0].len == strlen(text) &&
              memcmp(e->portions[0].data, text, e->portions[0].len) == 0;
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
        if (hit)
            return true;
    }
}

/* ---- Raw commands as a partner broker ----------------------------------------- */

static void
raw_send(fed_raw *r, const proto_cmd *cmd)
{
    proto_wire wire;
    proto_detail d = {{0}, {0}};

    assert_int_equal(proto_cmd_build(cmd, &wire, &d), PROTO_OK);
    for (size_t i = 0; i < wire.count; i++)
        assert_true(zmq_send(r->sock, wire.frames[i].data, wire.frames[i].len,
                             i + 1 < wire.count ? ZMQ_SNDMORE : 0) >= 0);
}

/* Waits for the answer of type to corr (a forward-ack's seq); its code,
 * its text into text. */
static uint16_t
raw_wait(fed_raw *r, uint8_t type, uint64_t corr, char *text, size_t text_len, uint64_t *serial)
{
    uint64_t deadline = in_ms(10 * SECOND);

    for (;;) {
        zmq_msg_t frames[8];
        proto_frame pf[8];
        size_t held = 0;
        zmq_pollitem_t item = {r->sock, 0, ZMQ_POLLIN, 0};
        int more = 1;
        uint64_t now = liaison_now_ms();
        proto_cmd ans;
        bool hit;

        if (now >= deadline || zmq_poll(&item, 1, (long)(deadline - now)) <= 0)
            fail_msg("no answer 0x%02x to %llu", type, (unsigned long long)corr);
        while (more && held < 8) {
            zmq_msg_init(&frames[held]);
            zmq_msg_recv(&frames[held], r->sock, 0);
            more = zmq_msg_more(&frames[held]);
            pf[held] = (proto_frame){zmq_msg_data(&frames[held]), zmq_msg_size(&frames[held])};
            held++;
        }
        hit = proto_cmd_parse(pf, held, &ans, NULL) == PROTO_OK && ans.type == type &&
              (type == PROTO_CMD_FORWARD_ACK ? ans.seq : ans.corr) == corr;
        for (size_t i = 0; i < held; i++)
            zmq_msg_close(&frames[i]);
        if (hit) {
            snprintf(text, text_len, "%s", ans.text);
            if (serial != NULL)
                *serial = ans.serial;
            return ans.code;
        }
    }
}

/* Sends roster text as the raw partner; the roster-ack's code. */
static uint16_t
roster_code(fed_raw *r, uint64_t corr, const char *text, size_t len, char *why, size_t why_len,
            uint64_t *serial)
{
    proto_cmd cmd;

    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_ROSTER;
    cmd.corr = corr;
    cmd.roster = (proto_slice){(const uint8_t *)text, len};
    raw_send(r, &cmd);
    return raw_wait(r, PROTO_CMD_ROSTER_ACK, corr, why, why_len, serial);
}

/* Forwards, as the raw partner, a message signed by from's key to USA/FBI;
 * the forward-ack's code. */
static uint16_t
forward_code(fed_raw *r, uint64_t seq, const proto_identity *from, char *why, size_t why_len)
{
    proto_addr rcpt;
    proto_draft_portion p;
    proto_draft d;
    proto_target t;
    uint8_t *env = NULL, targets[128];
    size_t len = 0, tlen = 0;
    uint64_t now = liaison_now_ms();
    proto_cmd cmd;
    uint16_t code;

    memset(&d, 0, sizeof(d));
    memset(&p, 0, sizeof(p));
    memset(&t, 0, sizeof(t));
    assert_int_equal(proto_addr_parse("USA/FBI", &rcpt, NULL), PROTO_OK);
    assert_int_equal(proto_labels_parse("LES//REL TO CAN,USA", &p.labels, NULL), PROTO_OK);
    p.plain = (const uint8_t *)"payload";
    p.plain_len = 7;
    d.kind = "watchlist.publish";
    d.actor = "badge-4411";
    d.created_ms = now;
    d.expires_ms = now + 60000;
    d.recipients = &rcpt;
    d.recipient_count = 1;
    d.portions = &p;
    d.portion_count = 1;
    assert_int_equal(proto_envelope_seal(&d, from, &env, &len, NULL), PROTO_OK);
    t.agency = rcpt;
    assert_int_equal(proto_targets_encode(&t, 1, targets, sizeof(targets), &tlen), PROTO_OK);
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_FORWARD;
    cmd.seq = seq;
    cmd.hop_count = 1;
    snprintf(cmd.hops[0], sizeof(cmd.hops[0]), "CAN");
    cmd.targets = (proto_slice){targets, tlen};
    cmd.envelope = (proto_slice){env, len};
    raw_send(r, &cmd);
    code = raw_wait(r, PROTO_CMD_FORWARD_ACK, seq, why, why_len, NULL);
    free(env);
    return code;
}

/* The text of nation's section of the roster file at path, signed. */
static char *
section_of(const char *path, const char *nation, size_t *len)
{
    proto_roster *r = NULL;
    proto_detail d = {{0}, {0}};
    char *text = NULL;

    assert_int_equal(proto_roster_load(path, &r, &d), PROTO_OK);
    assert_int_equal(proto_roster_section_text(r, nation, &text, len), PROTO_OK);
    proto_roster_destroy(&r);
    return text;
}

static void
audit_has(fed *f, const char *nation, const char *event, const char *needle)
{
    static char log[1 << 16];
    const char *args[] = {"audit", "log", "--data", fed_nation_get(f, nation)->data, "--event",
                          event, NULL};

    assert_int_equal(fed_run_tool(args, log, sizeof(log)), 0);
    if (strstr(log, needle) == NULL)
        fail_msg("no '%s' in the %s records of %s:\n%s", needle, event, nation, log);
}

/*
 * CAN's keeper adds an agency (CAN/CSIS) and revokes one (CAN/CBSA) in CAN's
 * own roster, signing each change, and reloads CAN's broker only.  USA's
 * broker takes CAN's new section over the federation: a message to CAN/CSIS
 * is accepted and delivered, one signed by CAN/CBSA's key is refused.  A
 * forged section, a stale one and MEX's sent by CAN are refused with their
 * codes.  Restarted, USA keeps CAN's section.
 */
static void
test_sections_partner_update_applied(void **state)
{
    static const char *const three[] = {"USA", "CAN", "MEX"};
    fed *f = fed_new(three, 3, NULL);
    char can_roster[1100], path[1100], card[1100], key[1100], why[PROTO_TEXT_MAX];
    char usa_roster[1100], can_used[1100];
    char *stale, *mex, *forged;
    size_t stale_len, mex_len, forged_len;
    proto_identity *cbsa = NULL, *csis = NULL;
    liaison_client *fbi, *csis_client;
    uint64_t serial = 0;
    fed_raw *raw;

    (void)state;
    sign_federation(f, can_roster, sizeof(can_roster));
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    /* Every broker sends its section at link-up; each partner holds it. */
    wait_log(f, "CAN", "id=B-ROSTER-ACKED", 2, 20 * SECOND);
    wait_log(f, "USA", "id=B-READY", 1, 10 * SECOND);
    assert_int_equal(fed_log_count(f, "USA", "id=B-ROSTER-UNSIGNED"), 0);
    assert_int_equal(fed_log_count(f, "USA", "id=B-ROSTER-UPDATED"), 0);

    /* CAN's keeper: a new agency, CAN/CSIS (serial 2), then CAN/CBSA revoked (serial 3). */
    snprintf(key, sizeof(key), "%s/can-csis.key", f->dir);
    snprintf(card, sizeof(card), "%s/can-csis.card", f->dir);
    {
        const char *args[] = {"keygen", "CAN/CSIS", "--key", key, "--card", card, NULL};

        tool(args);
    }
    snprintf(path, sizeof(path), "%s/can.nation-key", f->dir);
    {
        const char *args[] = {"roster", "add", can_roster, card, "--accepts", "watchlist.*",
                              "--sign", path, NULL};

        tool(args);
    }
    stale = section_of(can_roster, "CAN", &stale_len); /* serial 2, signed by CAN */
    {
        const char *args[] = {"roster", "revoke", can_roster, "CAN/CBSA", "--reason",
                              "test: key lost", "--sign", path, NULL};

        tool(args);
    }
    assert_int_equal(proto_keyfile_read(fed_agency_get(f, "CAN/CBSA")->key, &cbsa, NULL),
                     PROTO_OK);
    assert_int_equal(proto_keyfile_read(key, &csis, NULL), PROTO_OK);
    /* Before USA hears of it, CAN/CBSA's messages are still taken. */
    raw = fed_raw_peer(f, "CAN", "USA");
    assert_int_equal(forward_code(raw, 1, cbsa, why, sizeof(why)), 0);

    /* Only CAN's broker reloads; USA applies CAN's section over the federation. */
    fed_reload(f, "CAN");
    wait_log(f, "USA", "id=B-ROSTER-UPDATED", 1, 20 * SECOND);
    assert_int_equal(fed_log_count(f, "USA", "serial=3 previous=1"), 1);
    wait_log(f, "CAN", "id=B-ROSTER-ACKED", 3, 10 * SECOND);
    /* MEX too. */
    wait_log(f, "MEX", "id=B-ROSTER-UPDATED", 1, 20 * SECOND);

    /* USA's broker wrote the roster it uses: an agency of USA takes it and
     * can write to CAN/CSIS, which CAN's broker delivers. */
    snprintf(usa_roster, sizeof(usa_roster), "%s/roster", fed_nation_get(f, "USA")->data);
    snprintf(can_used, sizeof(can_used), "%s/roster", fed_nation_get(f, "CAN")->data);
    fbi = client_with(f, "USA/FBI", fed_agency_get(f, "USA/FBI")->key, usa_roster, false);
    assert_int_equal(send_one(fbi, "CAN/CSIS", "to csis"), LIAISON_OK);
    csis_client = client_with(f, "CAN/CSIS", key, can_used, true);
    assert_true(receive_text(csis_client, "to csis", 20 * SECOND));
    liaison_client_close(&csis_client);
    /* And CAN/CBSA's key is refused by USA: revoked. */
    assert_int_equal(forward_code(raw, 2, cbsa, why, sizeof(why)), PROTO_WIRE_REVOKED);
    assert_non_null(strstr(why, "revoked"));
    {
        /* The roster USA wrote checks with the nation cards. */
        char usa_card[1100], can_card[1100], mex_card[1100];
        const char *args[] = {"roster", "verify", usa_roster, "--nation-card", usa_card,
                              "--nation-card", can_card, "--nation-card", mex_card, NULL};

        snprintf(usa_card, sizeof(usa_card), "%s/usa.nation-card", f->dir);
        snprintf(can_card, sizeof(can_card), "%s/can.nation-card", f->dir);
        snprintf(mex_card, sizeof(mex_card), "%s/mex.nation-card", f->dir);
        tool(args);
    }

    /* A section of CAN signed by another key. */
    {
        proto_roster *r = NULL;
        proto_nation_key *other = NULL;
        proto_detail d = {{0}, {0}};

        assert_int_equal(proto_roster_load(can_roster, &r, &d), PROTO_OK);
        assert_int_equal(proto_nation_key_generate("CAN", &other), PROTO_OK);
        assert_int_equal(proto_roster_section_sign(r, other, &d), PROTO_OK);
        assert_int_equal(proto_roster_section_text(r, "CAN", &forged, &forged_len), PROTO_OK);
        proto_nation_key_destroy(&other);
        proto_roster_destroy(&r);
    }
    assert_int_equal(roster_code(raw, 10, forged, forged_len, why, sizeof(why), &serial),
                     PROTO_WIRE_SIGNATURE);
    assert_int_equal(serial, 3);
    /* CAN's own serial 2, validly signed, but older than the 3 held. */
    assert_int_equal(roster_code(raw, 11, stale, stale_len, why, sizeof(why), &serial),
                     PROTO_WIRE_STALE);
    assert_int_equal(serial, 3);
    /* MEX's section, validly signed by MEX, sent by CAN. */
    mex = section_of(f->roster, "MEX", &mex_len);
    assert_int_equal(roster_code(raw, 12, mex, mex_len, why, sizeof(why), &serial),
                     PROTO_WIRE_SENDER);
    /* Malformed roster commands: text that is no roster, two sections, and
     * a section with cards outside it.  Each is refused with its reason and
     * changes nothing; the broker goes on answering. */
    {
        static const char garbage[] = "liaison-roster 1\nnation CAN\nserial x\n";
        size_t can_len, two_len = 0, loose_len = 0;
        char *can = section_of(can_roster, "CAN", &can_len);
        char *two = test_malloc(can_len + mex_len + 1), *loose = test_malloc(can_len + mex_len + 1);
        const char *line = mex, *mex_body = strchr(mex, '\n') + 1; /* after its header */

        /* two: CAN's section, then MEX's. */
        memcpy(two, can, can_len);
        memcpy(two + can_len, mex_body, (size_t)(mex + mex_len - mex_body));
        two_len = can_len + (size_t)(mex + mex_len - mex_body);
        /* loose: CAN's section, then MEX's cards without nation, serial and signature. */
        memcpy(loose, can, can_len);
        loose_len = can_len;
        while (line < mex + mex_len) {
            const char *end = strchr(line, '\n');
            size_t n = end != NULL ? (size_t)(end - line) + 1 : strlen(line);

            if (strncmp(line, "liaison-roster ", 15) != 0 && strncmp(line, "nation ", 7) != 0 &&
                strncmp(line, "serial ", 7) != 0 && strncmp(line, "signature ", 10) != 0) {
                memcpy(loose + loose_len, line, n);
                loose_len += n;
            }
            line += n;
        }
        assert_int_equal(roster_code(raw, 20, garbage, sizeof(garbage) - 1, why, sizeof(why),
                                     &serial),
                         PROTO_WIRE_MALFORMED);
        assert_non_null(strstr(why, "does not parse"));
        assert_int_equal(serial, 3);
        assert_int_equal(roster_code(raw, 21, two, two_len, why, sizeof(why), &serial),
                         PROTO_WIRE_MALFORMED);
        assert_non_null(strstr(why, "exactly one section"));
        assert_int_equal(roster_code(raw, 22, loose, loose_len, why, sizeof(why), &serial),
                         PROTO_WIRE_MALFORMED);
        assert_non_null(strstr(why, "unsigned cards"));
        assert_int_equal(serial, 3);
        test_free(two);
        test_free(loose);
        free(can);
    }
    /* The one held again: taken as held, nothing changes. */
    {
        size_t len;
        char *now = section_of(can_roster, "CAN", &len);

        assert_int_equal(roster_code(raw, 13, now, len, why, sizeof(why), &serial), 0);
        assert_int_equal(serial, 3);
        free(now);
    }
    assert_int_equal(fed_log_count(f, "USA", "id=B-ROSTER-UPDATED"), 1);
    assert_int_equal(fed_log_count(f, "USA", "id=B-ROSTER-REFUSED"), 6);
    fed_raw_close(&raw);
    liaison_client_close(&fbi);

    /* Restarted, USA keeps CAN's newer section (from data_dir/rosters). */
    assert_int_equal(fed_stop(f, "USA"), 0);
    audit_has(f, "USA", "roster-updated", "serial 3 (was 1)");
    audit_has(f, "USA", "rejected", "roster section refused (bad-signature)");
    audit_has(f, "USA", "rejected", "roster section refused (stale)");
    audit_has(f, "USA", "rejected", "roster section refused (wrong-sender)");
    audit_has(f, "USA", "rejected", "roster section refused (malformed)");
    fed_start(f, "USA");
    assert_true(fed_log_count(f, "USA", "id=B-ROSTER-STORED") >= 1);
    fbi = client_with(f, "USA/FBI", fed_agency_get(f, "USA/FBI")->key, usa_roster, false);
    assert_int_equal(send_one(fbi, "CAN/CSIS", "again"), LIAISON_OK);
    liaison_client_close(&fbi);
    raw = fed_raw_peer(f, "CAN", "USA");
    assert_int_equal(forward_code(raw, 3, cbsa, why, sizeof(why)), PROTO_WIRE_REVOKED);
    fed_raw_close(&raw);
    proto_identity_destroy(&cbsa);
    proto_identity_destroy(&csis);
    free(stale);
    free(mex);
    free(forged);
    fed_destroy(&f);
}

/* A section changed while the partner is down reaches it at the next
 * link-up: the sender sends again until it is acknowledged. */
static void
test_sections_sent_at_link_up(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    char can_roster[1100], key[1100], card[1100], path[1100];

    (void)state;
    sign_federation(f, can_roster, sizeof(can_roster));
    fed_start(f, "CAN");
    wait_log(f, "CAN", "id=B-READY", 1, 10 * SECOND);
    snprintf(key, sizeof(key), "%s/can-csis.key", f->dir);
    snprintf(card, sizeof(card), "%s/can-csis.card", f->dir);
    snprintf(path, sizeof(path), "%s/can.nation-key", f->dir);
    {
        const char *args[] = {"keygen", "CAN/CSIS", "--key", key, "--card", card, NULL};

        tool(args);
    }
    {
        const char *args[] = {"roster", "add", can_roster, card, "--accepts", "watchlist.*",
                              "--sign", path, NULL};

        tool(args);
    }
    fed_reload(f, "CAN");
    wait_log(f, "CAN", "id=B-RELOAD ", 1, 10 * SECOND);
    /* USA was not there to take it: it comes when the link comes up. */
    assert_int_equal(fed_log_count(f, "CAN", "id=B-ROSTER-SENT"), 0);
    fed_start(f, "USA");
    wait_log(f, "USA", "id=B-ROSTER-UPDATED", 1, 20 * SECOND);
    assert_int_equal(fed_log_count(f, "USA", "serial=2 previous=1"), 1);
    wait_log(f, "CAN", "id=B-ROSTER-ACKED", 1, 10 * SECOND);
    assert_int_equal(fed_stop(f, "USA"), 0);
    audit_has(f, "USA", "roster-updated", "serial 2 (was 1)");
    fed_destroy(&f);
}

/* A partner that acknowledged a section and then lost it (it came back on
 * a new data directory, as after a broker key rotation, or a restored
 * backup) gets it again at the next link-up: the sender sends its section
 * at every link-up, not only until the first acknowledgement. */
static void
test_sections_sent_again_to_partner_that_lost_it(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    char can_roster[1100], key[1100], card[1100], path[1100], stored[1100];

    (void)state;
    sign_federation(f, can_roster, sizeof(can_roster));
    fed_start(f, "USA");
    fed_start(f, "CAN");
    wait_log(f, "CAN", "id=B-ROSTER-ACKED", 1, 20 * SECOND);
    snprintf(key, sizeof(key), "%s/can-csis.key", f->dir);
    snprintf(card, sizeof(card), "%s/can-csis.card", f->dir);
    snprintf(path, sizeof(path), "%s/can.nation-key", f->dir);
    {
        const char *args[] = {"keygen", "CAN/CSIS", "--key", key, "--card", card, NULL};

        tool(args);
    }
    {
        const char *args[] = {"roster", "add", can_roster, card, "--accepts", "watchlist.*",
                              "--sign", path, NULL};

        tool(args);
    }
    fed_reload(f, "CAN");
    wait_log(f, "USA", "id=B-ROSTER-UPDATED", 1, 20 * SECOND);
    wait_log(f, "CAN", "roster_ack peer=USA serial=2", 1, 10 * SECOND);
    /* USA loses what it stored: its configured roster holds CAN's serial 1. */
    assert_int_equal(fed_stop(f, "USA"), 0);
    snprintf(stored, sizeof(stored), "%s/rosters/CAN.roster", fed_nation_get(f, "USA")->data);
    assert_int_equal(unlink(stored), 0);
    fed_start(f, "USA");
    wait_log(f, "USA", "id=B-ROSTER-UPDATED", 2, 20 * SECOND);
    assert_int_equal(fed_log_count(f, "USA", "serial=2 previous=1"), 2);
    wait_log(f, "CAN", "roster_ack peer=USA serial=2", 2, 10 * SECOND);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

/* Runs USA's broker with --check: it must refuse the configuration (78)
 * with needle in its message. */
static void
check_refused(fed *f, const char *needle)
{
    fed_nation *usa = fed_nation_get(f, "USA");
    const char *bin = getenv("LIAISON_BROKER_BIN");
    char out[4096], cmd[3000];
    FILE *p;
    int rc;

    assert_non_null(bin);
    snprintf(cmd, sizeof(cmd), "'%s' --config '%s' --check 2>&1", bin, usa->config);
    p = popen(cmd, "r");
    assert_non_null(p);
    out[fread(out, 1, sizeof(out) - 1, p)] = '\0';
    rc = pclose(p);
    if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 78 || strstr(out, needle) == NULL)
        fail_msg("--check: status %d, no '%s' in: %s", rc, needle, out);
}

/* In signed mode the broker refuses a roster with unsigned cards, or with
 * a section of a nation it has no key for; without keys it warns at start
 * and answers roster commands with unsigned-mode. */
static void
test_sections_signed_mode_checks(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    char can_roster[1100], why[PROTO_TEXT_MAX], *text;
    size_t len;
    uint64_t serial = 1;
    fed_raw *raw;

    (void)state;
    /* Unsigned mode first. */
    fed_start(f, "USA");
    wait_log(f, "USA", "id=B-ROSTER-UNSIGNED", 1, 10 * SECOND);
    raw = fed_raw_peer(f, "CAN", "USA");
    text = (char *)test_read_file(f->roster, &len);
    assert_non_null(text);
    assert_int_equal(roster_code(raw, 1, text, len, why, sizeof(why), &serial),
                     PROTO_WIRE_UNSIGNED_MODE);
    assert_string_equal(why, "unsigned roster mode");
    assert_int_equal(serial, 0);
    free(text);
    fed_raw_close(&raw);
    assert_int_equal(fed_stop(f, "USA"), 0);

    /* Signed: a card outside any section is refused at start. */
    sign_federation(f, can_roster, sizeof(can_roster));
    text = (char *)test_read_file(f->roster, &len);
    assert_non_null(text);
    {
        char out[65536], gbr_key[1100], gbr_card[1100];
        proto_identity *id = NULL;
        proto_addr addr;
        proto_card c;
        char card[512];

        assert_int_equal(proto_addr_parse("GBR/NCA", &addr, NULL), PROTO_OK);
        assert_int_equal(proto_identity_generate(&addr, &id), PROTO_OK);
        proto_identity_card(id, &c);
        assert_int_equal(proto_card_format(&c, card, sizeof(card)), PROTO_OK);
        proto_identity_destroy(&id);
        snprintf(out, sizeof(out), "%s\ncard\n%send\n", text, strchr(card, '\n') + 1);
        write_file(f->roster, out, strlen(out));
        check_refused(f, "cards outside any section");
        /* Signed by GBR's own key: a section of a nation USA has no key for. */
        snprintf(gbr_key, sizeof(gbr_key), "%s/gbr.nation-key", f->dir);
        snprintf(gbr_card, sizeof(gbr_card), "%s/gbr.nation-card", f->dir);
        {
            const char *args[] = {"keygen", "GBR", "--nation", "--key", gbr_key, "--card",
                                  gbr_card, NULL};

            tool(args);
        }
        {
            const char *args[] = {"roster", "sign", f->roster, "--key", gbr_key, NULL};

            tool(args);
        }
        check_refused(f, "section of GBR, which is neither this broker's nation nor a peer's");
    }
    /* CAN's section signed again by a key that is not CAN's pinned one. */
    write_file(f->roster, text, len);
    {
        proto_roster *r = NULL;
        proto_nation_key *other = NULL;
        proto_detail d = {{0}, {0}};
        char *out = NULL;
        size_t out_len = 0;

        assert_int_equal(proto_roster_load(f->roster, &r, &d), PROTO_OK);
        assert_int_equal(proto_nation_key_generate("CAN", &other), PROTO_OK);
        assert_int_equal(proto_roster_section_sign(r, other, &d), PROTO_OK);
        assert_int_equal(proto_roster_format(r, &out, &out_len), PROTO_OK);
        write_file(f->roster, out, out_len);
        free(out);
        proto_nation_key_destroy(&other);
        proto_roster_destroy(&r);
    }
    check_refused(f, "section of CAN: its signature does not verify with the pinned nation key");
    /* The signed roster as made: taken. */
    write_file(f->roster, text, len);
    free(text);
    fed_start(f, "USA");
    wait_log(f, "USA", "id=B-READY", 2, 10 * SECOND);
    assert_int_equal(fed_log_count(f, "USA", "id=B-ROSTER-UNSIGNED"), 1); /* the first start's */
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sections_partner_update_applied, fed_destroy_all),
        cmocka_unit_test_teardown(test_sections_sent_at_link_up, fed_destroy_all),
        cmocka_unit_test_teardown(test_sections_sent_again_to_partner_that_lost_it,
                                  fed_destroy_all),
        cmocka_unit_test_teardown(test_sections_signed_mode_checks, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("sections", tests, NULL, NULL);
}
