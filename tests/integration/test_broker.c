/* Integration tests of liaison-broker: real processes on loopback. */
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

#define SECOND 1000u

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

/* Sends one message; returns its id through id_out.  Fails the test on error. */
static void
send_text(liaison_client *c, const char *kind, const char *to, const char *labels,
          const char *const *portions, size_t count, uint8_t id_out[16])
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    for (size_t i = 0; i < count; i++)
        assert_int_equal(liaison_message_add_portion(m, portions[2 * i], portions[2 * i + 1],
                                                     strlen(portions[2 * i + 1]), NULL),
                         LIAISON_OK);
    if (liaison_send(c, m, id_out, in_ms(10 * SECOND)) != LIAISON_OK)
        fail_msg("send %s to %s: %s", kind, to, liaison_client_error(c));
    liaison_message_destroy(&m);
}

/* Receives the next message (reports are receipted and skipped). */
static liaison_event *
next_message(liaison_client *c, unsigned ms)
{
    uint64_t deadline = in_ms(ms);

    for (;;) {
        liaison_event *e = NULL;

        if (liaison_receive(c, &e, deadline) != LIAISON_OK)
            return NULL;
        if (e->type == LIAISON_EVENT_MESSAGE)
            return e;
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
    }
}

static const char *
state_of(liaison_client *c, const uint8_t id[16], const char *recipient, char *rule, size_t len)
{
    static liaison_status_entry entries[64];
    size_t n = 0;

    if (liaison_status(c, id, entries, 64, &n, in_ms(5 * SECOND)) != LIAISON_OK)
        return "?";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(entries[i].recipient, recipient) == 0) {
            if (rule != NULL)
                snprintf(rule, len, "%s", entries[i].rule_id);
            return entries[i].state;
        }
    }
    return "none";
}

/* ---- One broker ------------------------------------------------------------ */

static void
test_broker_agency_to_agency(void **state)
{
    static const char *const one[] = {"USA"};
    static const char *const portions[] = {"LES", "is passport X1234567 known?"};
    fed *f = fed_new(one, 1, NULL);
    liaison_client *fbi, *cbp;
    liaison_event *e;
    uint8_t id[16];

    (void)state;
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", true);
    cbp = fed_client(f, "USA/CBP", true);
    send_text(fbi, "traveldoc.check", "USA/CBP", "LES//PURPOSE:border check", portions, 1, id);
    e = next_message(cbp, 10 * SECOND);
    assert_non_null(e);
    assert_memory_equal(e->id, id, 16);
    assert_string_equal(e->sender, "USA/FBI");
    assert_string_equal(e->kind, "traveldoc.check");
    assert_string_equal(e->labels, "LES//PURPOSE:border check");
    assert_int_equal(e->portion_count, 1);
    assert_true(e->portions[0].readable);
    assert_int_equal(e->portions[0].len, strlen(portions[1]));
    assert_memory_equal(e->portions[0].data, portions[1], e->portions[0].len);
    assert_int_equal(liaison_receipt(cbp, e), LIAISON_OK);
    liaison_event_free(&e);
    /* The sender gets signed reports, and status says receipted. */
    assert_true(fed_wait_report(fbi, id, "USA/CBP", "receipted", NULL, 10 * SECOND));
    assert_string_equal(state_of(fbi, id, "USA/CBP", NULL, 0), "receipted");
    /* Only the sender may ask. */
    {
        liaison_status_entry entries[4];
        size_t n;

        assert_int_equal(liaison_status(cbp, id, entries, 4, &n, in_ms(5 * SECOND)),
                         LIAISON_ERR_REJECTED);
    }
    /* The metrics endpoint counts what happened. */
    {
        char metrics[65536];

        assert_int_equal(fed_metrics(f, "USA", metrics, sizeof(metrics)), 0);
        assert_non_null(strstr(metrics, "liaison_messages_accepted_total 1\n"));
        assert_non_null(strstr(metrics, "liaison_messages_delivered_total 1\n"));
        assert_non_null(strstr(metrics, "liaison_messages_receipted_total 1\n"));
    }
    liaison_client_close(&fbi);
    liaison_client_close(&cbp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* A backlog taken at once: the deliveries and the receipts go out as lists,
 * every message is receipted once, nothing comes again once the receipts
 * are durable, and the sender's reports say receipted for each. */
static void
test_broker_backlog_receipted_together(void **state)
{
    enum { N = 40 };
    static const char *const one[] = {"USA"};
    static const char *const portions[] = {"LES", "entry"};
    fed *f = fed_new(one, 1, NULL);
    liaison_client *fbi, *cbp;
    uint8_t ids[N][16];
    bool receipted[N] = {false};
    size_t got = 0, reports = 0;
    uint64_t deadline;
    char metrics[65536], want[64];

    (void)state;
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", true);
    for (size_t i = 0; i < N; i++)
        send_text(fbi, "watchlist.publish", "USA/CBP", "LES", portions, 1, ids[i]);
    /* CBP comes online to a queue of N, and takes them in order. */
    cbp = fed_client(f, "USA/CBP", true);
    while (got < N) {
        liaison_event *e = next_message(cbp, 10 * SECOND);

        if (e == NULL)
            fail_msg("%zu of %d queued messages arrived", got, N);
        assert_memory_equal(e->id, ids[got], 16);
        assert_int_equal(liaison_receipt(cbp, e), LIAISON_OK);
        liaison_event_free(&e);
        got++;
    }
    liaison_client_close(&cbp);
    /* The broker counts N receipts, once each. */
    snprintf(want, sizeof(want), "liaison_messages_receipted_total %d\n", N);
    deadline = in_ms(10 * SECOND);
    for (;;) {
        assert_int_equal(fed_metrics(f, "USA", metrics, sizeof(metrics)), 0);
        if (strstr(metrics, want) != NULL || liaison_now_ms() >= deadline)
            break;
        usleep(100000);
    }
    assert_non_null(strstr(metrics, want));
    /* Once the last receipt is durable (status reads what is committed),
     * nothing comes again on a new connection. */
    deadline = in_ms(10 * SECOND);
    while (strcmp(state_of(fbi, ids[N - 1], "USA/CBP", NULL, 0), "receipted") != 0 &&
           liaison_now_ms() < deadline)
        usleep(20000);
    cbp = fed_client(f, "USA/CBP", true);
    {
        liaison_event *again = next_message(cbp, 1500);

        if (again != NULL)
            fail_msg("message %s from %s came again", again->id_hex, again->sender);
    }
    liaison_client_close(&cbp);
    /* The sender hears receipted for every one of them. */
    deadline = in_ms(10 * SECOND);
    while (reports < N) {
        liaison_event *e = NULL;

        if (liaison_receive(fbi, &e, deadline) != LIAISON_OK)
            fail_msg("%zu of %d receipted reports arrived", reports, N);
        for (size_t i = 0; i < N; i++) {
            if (e->type == LIAISON_EVENT_REPORT && memcmp(e->id, ids[i], 16) == 0 &&
                strcmp(e->state, "receipted") == 0 && !receipted[i]) {
                receipted[i] = true;
                reports++;
            }
        }
        assert_int_equal(liaison_receipt(fbi, e), LIAISON_OK);
        liaison_event_free(&e);
    }
    assert_string_equal(state_of(fbi, ids[0], "USA/CBP", NULL, 0), "receipted");
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* ---- Two brokers ------------------------------------------------------------- */

static void
test_broker_federated_withheld_portion(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    static const char *const portions[] = {"LES", "subject: John DOE, born 1980-02-29",
                                           "LES//HUMINT", "source CANARY reports..."};
    fed *f = fed_new(two, 2, NULL);
    liaison_client *fbi, *rcmp;
    liaison_event *e;
    uint8_t id[16];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", true);
    rcmp = fed_client(f, "CAN/RCMP", true);
    send_text(fbi, "watchlist.query", "CAN/RCMP", "LES//REL TO CAN,USA//PURPOSE:fugitive search",
              portions, 2, id);
    e = next_message(rcmp, 15 * SECOND);
    assert_non_null(e);
    /* The client verified the sender's signature over the redacted copy. */
    assert_memory_equal(e->id, id, 16);
    assert_string_equal(e->sender, "USA/FBI");
    assert_int_equal(e->portion_count, 2);
    assert_true(e->portions[0].readable);
    assert_memory_equal(e->portions[0].data, portions[1], strlen(portions[1]));
    assert_true(e->portions[1].withheld);
    assert_false(e->portions[1].readable);
    assert_null(e->portions[1].data);
    assert_string_equal(e->portions[1].labels, "LES//HUMINT");
    /* The USA broker withheld it at egress and said so in its note. */
    assert_string_equal(e->portions[1].withheld_by, "USA");
    assert_string_equal(e->portions[1].withheld_rule, "usa-can-watchlist");
    assert_string_equal(e->portions[0].withheld_by, "");
    assert_string_equal(e->portions[0].withheld_rule, "");
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    /* The sender learns the withholding rule, then the partner's receipt. */
    assert_true(fed_wait_report(fbi, id, "CAN/RCMP", "withheld", &e, 10 * SECOND));
    assert_string_equal(e->rule_id, "usa-can-watchlist");
    liaison_event_free(&e);
    assert_true(fed_wait_report(fbi, id, "CAN/RCMP", "receipted", NULL, 10 * SECOND));
    assert_string_equal(state_of(fbi, id, "CAN/RCMP", NULL, 0), "receipted");
    liaison_client_close(&fbi);
    liaison_client_close(&rcmp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_assert_audit_verifies(f, "CAN");
    fed_destroy(&f);
}

/* Who withheld what, as each recipient reads it in the notes: the sending
 * nation at egress (with its rule, when one rule withheld the portion from
 * every target of the copy), the sending nation alone where the receiving
 * broker applies a target's withheld mask, and the receiving nation with
 * its rule at ingress. */
static void
test_broker_federated_withheld_notes(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    static const char usa_policy[] =
        "nation: USA\n"
        "vocabulary: {caveats: [HUMINT, FININT, YOUTH]}\n"
        "partners:\n"
        "  - nation: CAN\n"
        "    egress:\n"
        "      - {id: usa-can-rcmp, kinds: [watchlist.*], to: [CAN/RCMP], action: withhold,\n"
        "         withhold: [HUMINT]}\n"
        "      - {id: usa-can-wl, kinds: [watchlist.*], action: withhold, withhold: [HUMINT, YOUTH]}\n"
        "    ingress:\n"
        "      - {id: can-usa-in, kinds: [\"*\"], action: release}\n";
    static const char can_policy[] =
        "nation: CAN\n"
        "vocabulary: {caveats: [HUMINT, FININT, YOUTH]}\n"
        "partners:\n"
        "  - nation: USA\n"
        "    egress:\n"
        "      - {id: can-usa-wl, kinds: [watchlist.*], action: release}\n"
        "    ingress:\n"
        "      - {id: usa-can-in-finint, kinds: [watchlist.*], action: withhold,\n"
        "         withhold: [FININT]}\n";
    static const char *const portions[] = {"LES", "subject: John DOE",
                                           "LES//NOFORN", "USA only",
                                           "LES//HUMINT", "source CANARY reports...",
                                           "LES//YOUTH", "a youth record",
                                           "LES//FININT", "account 12345"};
    static const struct {
        const char *addr;          /* the recipient */
        const char *by[5];         /* withheld_by of each portion; NULL: readable */
        const char *rule[5];       /* withheld_rule of each portion */
    } want[] = {
        {"CAN/CBSA",
         {NULL, "USA", "USA", "USA", "CAN"},
         {"", "builtin:noforn", "", "", "usa-can-in-finint"}},
        {"CAN/RCMP",
         {NULL, "USA", "USA", NULL, "CAN"},
         {"", "builtin:noforn", "", "", "usa-can-in-finint"}},
    };
    fed *f = fed_new(two, 2, NULL);
    liaison_client *fbi;
    uint8_t id[16];
    FILE *out;

    (void)state;
    out = fopen(fed_nation_get(f, "USA")->policy, "w");
    assert_non_null(out);
    fputs(usa_policy, out);
    assert_int_equal(fclose(out), 0);
    out = fopen(fed_nation_get(f, "CAN")->policy, "w");
    assert_non_null(out);
    fputs(can_policy, out);
    assert_int_equal(fclose(out), 0);
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", true);
    /* NOFORN is withheld from both by one rule (the built-in); HUMINT from
     * both, by two rules (usa-can-rcmp, usa-can-wl), so the note names the
     * nation alone; YOUTH from CBSA only, so the copy carries it and the CAN
     * broker withholds it from CBSA on USA's word; FININT by CAN's ingress. */
    send_text(fbi, "watchlist.publish", "CAN/*", "LES//REL TO CAN,USA", portions, 5, id);
    for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++) {
        liaison_client *c = fed_client(f, want[w].addr, true);
        liaison_event *e = next_message(c, 15 * SECOND);

        if (e == NULL)
            fail_msg("%s received nothing", want[w].addr);
        assert_memory_equal(e->id, id, 16);
        assert_int_equal(e->portion_count, 5);
        for (size_t i = 0; i < 5; i++) {
            const liaison_portion *p = &e->portions[i];

            if (want[w].by[i] == NULL) {
                assert_false(p->withheld);
                assert_true(p->readable);
                assert_string_equal(p->withheld_by, "");
                continue;
            }
            if (!p->withheld || strcmp(p->withheld_by, want[w].by[i]) != 0 ||
                strcmp(p->withheld_rule, want[w].rule[i]) != 0)
                fail_msg("%s portion %zu: withheld %d by '%s' rule '%s', want by '%s' rule '%s'",
                         want[w].addr, i, p->withheld, p->withheld_by, p->withheld_rule,
                         want[w].by[i], want[w].rule[i]);
            assert_false(p->readable);
        }
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
        liaison_client_close(&c);
    }
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_assert_audit_verifies(f, "CAN");
    fed_destroy(&f);
}

static void
test_broker_denied_reported_with_rule(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    static const char *const gj[] = {"LES//GRAND-JURY", "testimony excerpt"};
    fed *f = fed_new(two, 2, NULL);
    liaison_client *fbi;
    liaison_message *m = NULL;
    liaison_event *e = NULL;
    const char *text = "";
    char rule[80];
    uint8_t id[16];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", true);
    /* Denied for its only recipient: rejected, with the rule in the text. */
    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "CAN/RCMP"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//GRAND-JURY"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, gj[0], gj[1], strlen(gj[1]), NULL),
                     LIAISON_OK);
    assert_int_equal(liaison_send(fbi, m, id, in_ms(10 * SECOND)), LIAISON_ERR_REJECTED);
    assert_int_equal(liaison_client_rejection(fbi, &text), PROTO_WIRE_DENIED);
    assert_non_null(strstr(text, "usa-can-grand-jury"));
    liaison_message_destroy(&m);
    /* Denied for one recipient, released to another: accepted, and the denial
     * is in status and in a signed report. */
    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "CAN/RCMP"), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/CBP"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//GRAND-JURY"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, gj[0], gj[1], strlen(gj[1]), NULL),
                     LIAISON_OK);
    assert_int_equal(liaison_send(fbi, m, id, in_ms(10 * SECOND)), LIAISON_OK);
    liaison_message_destroy(&m);
    assert_true(fed_wait_report(fbi, id, "CAN/RCMP", "denied", &e, 10 * SECOND));
    assert_string_equal(e->rule_id, "usa-can-grand-jury");
    liaison_event_free(&e);
    assert_string_equal(state_of(fbi, id, "CAN/RCMP", rule, sizeof(rule)), "denied");
    assert_string_equal(rule, "usa-can-grand-jury");
    assert_string_equal(state_of(fbi, id, "USA/CBP", NULL, 0), "queued");
    liaison_client_close(&fbi);
    fed_destroy(&f);
}

/* ---- Keys ------------------------------------------------------------------------ */

static bool
refused_logged(void *ctx)
{
    void **a = ctx;

    return fed_log_count(a[0], a[1], "B-KEY-REFUSED") >= (size_t)(uintptr_t)a[2];
}

static void
test_broker_unknown_and_revoked_keys_refused(void **state)
{
    static const char *const one[] = {"USA"};
    static const char *const portions[] = {"LES", "x"};
    fed *f = fed_new(one, 1, NULL);
    liaison_client *stranger = NULL, *fbi;
    liaison_message *m = NULL;
    liaison_config cfg;
    char why[512], key[1100], out[4096];
    uint8_t id[16];
    void *ctx[3] = {f, (void *)"USA", (void *)(uintptr_t)1};

    (void)state;
    fed_start(f, "USA");
    /* An identity that is not in the roster: its handshake is refused. */
    {
        proto_identity *id_s = NULL;
        proto_addr a;

        snprintf(key, sizeof(key), "%s/stranger.key", f->dir);
        assert_int_equal(proto_addr_parse("USA/FBI", &a, NULL), PROTO_OK);
        assert_int_equal(proto_identity_generate(&a, &id_s), PROTO_OK);
        assert_int_equal(proto_keyfile_write(id_s, key, NULL), PROTO_OK);
        proto_identity_destroy(&id_s);
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.key_file = key;
    cfg.roster_file = f->roster;
    cfg.endpoint = fed_nation_get(f, "USA")->agency_endpoint;
    cfg.actor = "badge-4411";
    assert_int_equal(liaison_client_open(&cfg, &stranger, why, sizeof(why)), LIAISON_OK);
    assert_int_equal(liaison_message_new("watchlist.query", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/CBP"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, portions[0], portions[1], 1, NULL), LIAISON_OK);
    assert_int_equal(liaison_send(stranger, m, id, in_ms(20 * SECOND)), LIAISON_ERR_REFUSED);
    liaison_message_destroy(&m);
    liaison_client_close(&stranger);
    assert_true(fed_wait_until(refused_logged, ctx, 5 * SECOND));
    /* A known agency works until its key is revoked and the broker reloads. */
    fbi = fed_client(f, "USA/FBI", false);
    send_text(fbi, "watchlist.query", "USA/CBP", "LES", portions, 1, id);
    liaison_client_close(&fbi);
    {
        const char *args[] = {"roster", "revoke", f->roster, "USA/FBI", "--reason",
                              "laptop lost", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
    }
    fed_reload(f, "USA");
    usleep(500000);
    fbi = fed_client(f, "USA/FBI", false);
    assert_int_equal(liaison_message_new("watchlist.query", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/CBP"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, portions[0], portions[1], 1, NULL), LIAISON_OK);
    assert_int_equal(liaison_send(fbi, m, id, in_ms(20 * SECOND)), LIAISON_ERR_REFUSED);
    liaison_message_destroy(&m);
    liaison_client_close(&fbi);
    ctx[2] = (void *)(uintptr_t)2;
    assert_true(fed_wait_until(refused_logged, ctx, 5 * SECOND));
    assert_true(fed_log_count(f, "USA", "revoked key of USA/FBI") >= 1);
    assert_int_equal(fed_stop(f, "USA"), 0);
    /* The refusals are in the audit log. */
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "key-refused", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "unknown key"));
        assert_non_null(strstr(out, "revoked key of USA/FBI"));
    }
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* ---- A partner down for a while --------------------------------------------------- */

static void
test_broker_peer_down_then_catches_up_in_order(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    liaison_client *fbi, *rcmp;
    enum { COUNT = 100 };
    uint8_t ids[COUNT][16];

    (void)state;
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", false);
    for (int i = 0; i < COUNT; i++) {
        char text[32];
        const char *portions[] = {"LES", text};

        snprintf(text, sizeof(text), "message %03d", i);
        send_text(fbi, "watchlist.publish", "CAN/RCMP", "LES//REL TO CAN,USA", portions, 1,
                  ids[i]);
    }
    /* CAN comes up only now; everything arrives, in order. */
    fed_start(f, "CAN");
    rcmp = fed_client(f, "CAN/RCMP", true);
    for (int i = 0; i < COUNT; i++) {
        liaison_event *e = next_message(rcmp, 15 * SECOND);
        char want[32];

        if (e == NULL)
            fail_msg("message %d of %d did not arrive", i, COUNT);
        snprintf(want, sizeof(want), "message %03d", i);
        assert_memory_equal(e->id, ids[i], 16);
        assert_int_equal(e->portions[0].len, strlen(want));
        assert_memory_equal(e->portions[0].data, want, strlen(want));
        assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
        liaison_event_free(&e);
    }
    assert_null(next_message(rcmp, 500));
    liaison_client_close(&fbi);
    liaison_client_close(&rcmp);
    fed_destroy(&f);
}

/* True once CAN's log shows it refused USA's broker at the handshake. */
static bool
can_refused_usa(void *ctx)
{
    return fed_log_count(ctx, "CAN", "USA is not a configured peer broker") > 0;
}

/* A partner that refused our handshake (here: its configuration did not
 * name us yet) is dialled again, and gets what waited for it. */
static void
test_broker_refused_peer_is_dialled_again(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    fed_nation *can = fed_nation_get(f, "CAN");
    liaison_client *fbi, *rcmp;
    liaison_event *e;
    uint8_t id[16];
    const char *portions[] = {"LES", "after the refusal"};
    char *text, *peers, *after;
    size_t len;

    (void)state;
    /* CAN's configuration without its peers: it refuses USA's broker. */
    text = (char *)test_read_file(can->config, &len);
    assert_non_null(text);
    peers = strstr(text, "peers:\n");
    assert_non_null(peers);
    after = strchr(strstr(peers, "endpoint: "), '\n') + 1;
    {
        FILE *fp = fopen(can->config, "w");

        fprintf(fp, "%.*s%s", (int)(peers - text), text, after);
        fclose(fp);
    }
    fed_start(f, "CAN");
    fed_start(f, "USA");
    assert_true(fed_wait_until(can_refused_usa, f, 15 * SECOND));
    fbi = fed_client(f, "USA/FBI", false);
    send_text(fbi, "watchlist.publish", "CAN/RCMP", "LES//REL TO CAN,USA", portions, 1, id);
    /* CAN comes back knowing USA; USA's connection was refused, and libzmq
     * would not try it again by itself. */
    assert_int_equal(fed_stop(f, "CAN"), 0);
    {
        FILE *fp = fopen(can->config, "w");

        fputs(text, fp);
        fclose(fp);
    }
    free(text);
    fed_start(f, "CAN");
    rcmp = fed_client(f, "CAN/RCMP", true);
    e = next_message(rcmp, 30 * SECOND);
    if (e == NULL)
        fail_msg("the message did not arrive after CAN accepted USA");
    assert_memory_equal(e->id, id, 16);
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    assert_true(fed_log_count(f, "USA", "B-PEER-REDIAL") > 0);
    liaison_client_close(&fbi);
    liaison_client_close(&rcmp);
    fed_destroy(&f);
}

/* ---- SIGKILL under load ---------------------------------------------------------------- */

/* The consumer: receives and records every message id handed to it. */
static void
consume(fed *f, const char *out_path, unsigned idle_ms)
{
    liaison_client *cbp = fed_client(f, "USA/CBP", true);
    FILE *out = fopen(out_path, "w");

    for (;;) {
        liaison_event *e = next_message(cbp, idle_ms);

        if (e == NULL)
            break;
        fprintf(out, "%s\n", e->id_hex);
        fflush(out);
        (void)liaison_receipt(cbp, e);
        liaison_event_free(&e);
    }
    fclose(out);
    liaison_client_close(&cbp);
}

/* A producer: sends count messages, each until accepted (same id on every
 * resend), and records each accepted id. */
static void
produce(fed *f, const char *agency, int count, const char *out_path)
{
    liaison_client *c = fed_client(f, agency, false);
    FILE *out = fopen(out_path, "w");

    for (int i = 0; i < count; i++) {
        liaison_message *m = NULL;
        uint8_t id[16];
        char text[48], hex[33];
        liaison_err err;

        snprintf(text, sizeof(text), "%s load %05d", agency, i);
        if (liaison_message_new("watchlist.publish", &m) != LIAISON_OK ||
            liaison_message_add_recipient(m, "USA/CBP") != LIAISON_OK ||
            liaison_message_add_portion(m, "LES", text, strlen(text), NULL) != LIAISON_OK)
            _exit(3);
        while ((err = liaison_send(c, m, id, in_ms(3 * SECOND))) != LIAISON_OK) {
            if (err != LIAISON_ERR_TIMEOUT && err != LIAISON_ERR_REJECTED)
                _exit(4);
        }
        liaison_id_to_hex(id, hex);
        fprintf(out, "%s\n", hex);
        fflush(out);
        liaison_message_destroy(&m);
    }
    fclose(out);
    liaison_client_close(&c);
}

static size_t
read_ids(const char *path, char (*ids)[33], size_t cap)
{
    FILE *in = fopen(path, "r");
    size_t n = 0;

    if (in == NULL)
        return 0;
    while (n < cap && fscanf(in, "%32s", ids[n]) == 1)
        n++;
    fclose(in);
    return n;
}

static int
cmp_hex(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void
test_broker_kill9_under_load_loses_nothing(void **state)
{
    static const char *const one[] = {"USA"};
    static const char *const producers[] = {"USA/FBI", "USA/TREASURY"};
    enum { COUNT = 10000, PER = COUNT / 2 };
    static char accepted[COUNT][33];
    static char got[2 * COUNT][33];
    fed *f = fed_new(one, 1, NULL);
    char received[1100], sent[2][1100];
    size_t accepted_count = 0, got_count;
    pid_t consumer, pids[2];

    (void)state;
    snprintf(received, sizeof(received), "%s/received", f->dir);
    fed_start(f, "USA");
    consumer = fork();
    if (consumer == 0) {
        consume(f, received, 10 * SECOND);
        _exit(0);
    }
    for (int p = 0; p < 2; p++) {
        snprintf(sent[p], sizeof(sent[p]), "%s/sent-%d", f->dir, p);
        pids[p] = fork();
        if (pids[p] == 0) {
            produce(f, producers[p], PER, sent[p]);
            _exit(0);
        }
    }
    /* Kill the broker while both producers and the consumer are busy. */
    for (;;) {
        size_t n = read_ids(sent[0], accepted, COUNT) + read_ids(sent[1], accepted, COUNT);

        if (n >= COUNT / 2)
            break;
        usleep(20000);
    }
    fed_kill(f, "USA");
    fed_start(f, "USA");
    for (int p = 0; p < 2; p++) {
        int status;

        waitpid(pids[p], &status, 0);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    waitpid(consumer, NULL, 0);
    accepted_count = read_ids(sent[0], accepted, COUNT);
    accepted_count += read_ids(sent[1], accepted + accepted_count, COUNT - accepted_count);
    got_count = read_ids(received, got, 2 * COUNT);
    /* Every accepted message reached the application exactly once. */
    assert_int_equal(accepted_count, COUNT);
    qsort(accepted, accepted_count, sizeof(accepted[0]), cmp_hex);
    qsort(got, got_count, sizeof(got[0]), cmp_hex);
    for (size_t i = 1; i < got_count; i++) {
        if (strcmp(got[i - 1], got[i]) == 0)
            fail_msg("message %s reached the application twice", got[i]);
    }
    for (size_t i = 0; i < accepted_count; i++) {
        if (bsearch(accepted[i], got, got_count, sizeof(got[0]), cmp_hex) == NULL)
            fail_msg("accepted message %s never arrived (%zu of %zu arrived)", accepted[i],
                     got_count, accepted_count);
    }
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* ---- Expiry ------------------------------------------------------------------------- */

static void
test_broker_expiry_audited_and_reported(void **state)
{
    static const char *const one[] = {"USA"};
    static const char *const portions[] = {"LES", "short-lived"};
    fed *f = fed_new(one, 1, "expiry_sweep_interval_s: 1\n");
    liaison_client *fbi;
    liaison_message *m = NULL;
    uint8_t id[16];
    char out[8192];

    (void)state;
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", true);
    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/CBP"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, portions[0], portions[1], strlen(portions[1]),
                                                 NULL),
                     LIAISON_OK);
    assert_int_equal(liaison_message_set_expiry(m, liaison_now_ms() + 1500), LIAISON_OK);
    assert_int_equal(liaison_send(fbi, m, id, in_ms(5 * SECOND)), LIAISON_OK);
    liaison_message_destroy(&m);
    /* CBP never connects: the message expires, the sender hears of it. */
    assert_true(fed_wait_report(fbi, id, "USA/CBP", "expired", NULL, 10 * SECOND));
    /* The envelope is gone with its expiry; what was said about it stays in
     * the signed report above and in the audit log below. */
    liaison_client_close(&fbi);
    /* Nothing is delivered after expiry. */
    {
        liaison_client *cbp = fed_client(f, "USA/CBP", true);

        assert_null(next_message(cbp, 1500));
        liaison_client_close(&cbp);
    }
    assert_int_equal(fed_stop(f, "USA"), 0);
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "expired", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "USA/CBP"));
    }
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* ---- Tree heads between partners ------------------------------------------------------ */

static bool
exchanged(void *ctx)
{
    fed *f = ctx;
    char out[16384];
    const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data, "--event",
                          "tree-head-exchanged", NULL};

    return fed_run_tool(args, out, sizeof(out)) == 0 && strstr(out, "consistent") != NULL;
}

static bool
inconsistency_seen(void *ctx)
{
    fed *f = ctx;
    char out[16384];

    return fed_metrics(f, "USA", out, sizeof(out)) == 0 &&
           strstr(out, "liaison_tree_head_consistency_failures_total{peer=\"CAN\"} 1") != NULL;
}

static void
test_broker_tree_heads_cross_checked(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    static const char *const portions[] = {"LES", "x"};
    fed *f = fed_new(two, 2, "tree_head_interval_s: 1\n");
    liaison_client *rcmp;
    uint8_t id[16];
    char cmd[2200];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    /* CAN's log grows between heads; USA checks each new head is consistent. */
    rcmp = fed_client(f, "CAN/RCMP", false);
    for (int i = 0; i < 3; i++) {
        send_text(rcmp, "watchlist.publish", "CAN/CBSA", "LES", portions, 1, id);
        usleep(1200000);
    }
    liaison_client_close(&rcmp);
    assert_true(fed_wait_until(exchanged, f, 30 * SECOND));
    /* CAN's operator replaces its log with a fresh one: USA notices. */
    fed_kill(f, "CAN");
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fed_nation_get(f, "CAN")->data);
    assert_int_equal(system(cmd), 0);
    fed_start(f, "CAN");
    assert_true(fed_wait_until(inconsistency_seen, f, 30 * SECOND));
    assert_true(fed_log_count(f, "USA", "B-CONSISTENCY-FAILED") >= 1);
    assert_int_equal(fed_stop(f, "USA"), 0);
    {
        char out[16384];
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "consistency-failed", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "CAN"));
    }
    fed_destroy(&f);
}

/* ---- Reloads -------------------------------------------------------------------------- */

static bool
reload_failed_logged(void *ctx)
{
    return fed_log_count(ctx, "USA", "B-RELOAD-POLICY") >= 1;
}

static bool
reloaded_twice(void *ctx)
{
    return fed_log_count(ctx, "USA", "id=B-RELOAD ") >= 2;
}

static void
test_broker_reload_keeps_connections_and_old_policy_on_error(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    static const char *const portions[] = {"LES", "entry"};
    fed *f = fed_new(two, 2, NULL);
    fed_nation *usa;
    liaison_client *fbi;
    liaison_message *m = NULL;
    uint8_t id[16];
    char *text;
    size_t len;
    FILE *out;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    usa = fed_nation_get(f, "USA");
    fbi = fed_client(f, "USA/FBI", false);
    send_text(fbi, "watchlist.publish", "CAN/RCMP", "LES//REL TO CAN,USA", portions, 1, id);
    /* A broken policy: the reload is refused, the old policy stays. */
    text = (char *)test_read_file(usa->policy, &len);
    assert_non_null(text);
    out = fopen(usa->policy, "w");
    fputs("nation: USA\npartners: [[[\n", out);
    fclose(out);
    fed_reload(f, "USA");
    assert_true(fed_wait_until(reload_failed_logged, f, 5 * SECOND));
    assert_true(fed_log_count(f, "USA", "kept the old policy") >= 1);
    send_text(fbi, "watchlist.publish", "CAN/RCMP", "LES//REL TO CAN,USA", portions, 1, id);
    /* A valid policy that drops the watchlist rule toward CAN takes effect on
     * the same connection. */
    {
        char *cut = strstr(text, "      - id: usa-can-watchlist");
        char *next = cut != NULL ? strstr(cut + 10, "      - id:") : NULL;

        assert_non_null(next);
        out = fopen(usa->policy, "w");
        fwrite(text, 1, (size_t)(cut - text), out);
        fputs(next, out);
        fclose(out);
    }
    fed_reload(f, "USA");
    assert_true(fed_wait_until(reloaded_twice, f, 5 * SECOND));
    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "CAN/RCMP"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//REL TO CAN,USA"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, portions[0], portions[1], 5, NULL), LIAISON_OK);
    assert_int_equal(liaison_send(fbi, m, id, in_ms(5 * SECOND)), LIAISON_ERR_REJECTED);
    {
        const char *why = "";

        assert_int_equal(liaison_client_rejection(fbi, &why), PROTO_WIRE_DENIED);
        assert_non_null(strstr(why, "default-deny"));
    }
    liaison_message_destroy(&m);
    free(text);
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    {
        char log[8192];
        const char *args[] = {"audit", "log", "--data", usa->data, "--event", "policy-reloaded",
                              NULL};

        assert_int_equal(fed_run_tool(args, log, sizeof(log)), 0);
        assert_non_null(strstr(log, "kept"));
        assert_non_null(strstr(log, "reloaded"));
    }
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_broker_agency_to_agency, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_backlog_receipted_together, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_federated_withheld_portion, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_federated_withheld_notes, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_denied_reported_with_rule, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_unknown_and_revoked_keys_refused, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_peer_down_then_catches_up_in_order, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_refused_peer_is_dialled_again, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_kill9_under_load_loses_nothing, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_expiry_audited_and_reported, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_tree_heads_cross_checked, fed_destroy_all),
        cmocka_unit_test_teardown(test_broker_reload_keeps_connections_and_old_policy_on_error, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("broker", tests, NULL, NULL);
}
