/* Integration tests of recall in the brokers (builtin:recall): a recall
 * takes back what is not yet delivered, follows what is, reaches a partner
 * that was down, and only the originator may recall; recall.ack goes only
 * to the recall's sender. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define RACE_MESSAGES 120u     /* originals, each recalled at once, in the race */

static const char *const three[] = {"USA", "CAN", "MEX"};

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

static void
hex16(const uint8_t id[16], char out[33])
{
    for (size_t i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", id[i]);
}

/* Sends kind to the recipients in to (space separated), in reply to
 * reply_to (NULL: none), with one portion body; hash_out (may be NULL)
 * gets the SHA-256 of the envelope as sent.  Returns the send's result. */
static liaison_err
send_to(liaison_client *c, const char *kind, const char *to, const char *labels,
        const char *portion_labels, const char *body, const uint8_t *reply_to,
        uint8_t id_out[16], uint8_t hash_out[32])
{
    liaison_message *m = NULL;
    char list[256];
    liaison_err err;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    snprintf(list, sizeof(list), "%s", to);
    for (char *save = NULL, *t = strtok_r(list, " ", &save); t != NULL;
         t = strtok_r(NULL, " ", &save))
        assert_int_equal(liaison_message_add_recipient(m, t), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, portion_labels, body, strlen(body), NULL),
                     LIAISON_OK);
    if (reply_to != NULL)
        assert_int_equal(liaison_message_set_in_reply_to(m, reply_to), LIAISON_OK);
    err = liaison_send(c, m, id_out, in_ms(20 * SECOND));
    if (err == LIAISON_OK && hash_out != NULL) {
        const uint8_t *env = NULL;
        size_t len = 0;

        assert_int_equal(liaison_message_envelope(m, &env, &len), LIAISON_OK);
        proto_sha256(env, len, hash_out);
    }
    liaison_message_destroy(&m);
    return err;
}

/* The original of the tests: a watchlist entry from USA/FBI. */
static void
send_original(liaison_client *c, const char *to, uint8_t id_out[16], uint8_t hash_out[32])
{
    if (send_to(c, "watchlist.publish", to, "LES//REL TO CAN,USA//PURPOSE:fugitive search",
                "LES//REL TO CAN,USA", "DOE, JOHN", NULL, id_out, hash_out) != LIAISON_OK)
        fail_msg("send watchlist.publish to %s: %s", to, liaison_client_error(c));
}

/* A recall.request of original to the recipients in to (the original's
 * labels without PURPOSE).  Returns the send's result. */
static liaison_err
send_recall(liaison_client *c, const uint8_t original[16], const char *to, const char *labels,
            uint8_t id_out[16])
{
    char hex[33], body[256];

    hex16(original, hex);
    snprintf(body, sizeof(body),
             "{\"schema\":\"recall.request/1\",\"message\":\"%s\",\"action\":\"recall\","
             "\"reason\":\"entry made in error\"}",
             hex);
    return send_to(c, "recall.request", to, labels, labels, body, original, id_out, NULL);
}

static liaison_err
send_ack(liaison_client *c, const uint8_t recall[16], const uint8_t original[16], const char *to,
         uint8_t id_out[16])
{
    char hex[33], body[256];

    hex16(original, hex);
    snprintf(body, sizeof(body),
             "{\"schema\":\"recall.ack/1\",\"message\":\"%s\",\"result\":\"deleted\","
             "\"at\":\"2026-12-06T17:00:00Z\"}",
             hex);
    return send_to(c, "recall.ack", to, "LES//REL TO CAN,USA", "LES//REL TO CAN,USA", body,
                   recall, id_out, NULL);
}

/* Receives (and receipts) events until a message arrives or the deadline;
 * returns it, or NULL. */
static liaison_event *
next_message(liaison_client *c, uint64_t deadline)
{
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

/* True once the home broker's status of id shows recipient in state. */
static bool
status_is(liaison_client *c, const uint8_t id[16], const char *recipient, const char *state,
          unsigned ms)
{
    uint64_t until = in_ms(ms);

    do {
        liaison_status_entry st[16];
        size_t n = 0;

        if (liaison_status(c, id, st, 16, &n, in_ms(5 * SECOND)) == LIAISON_OK) {
            for (size_t i = 0; i < n; i++) {
                if (strcmp(st[i].recipient, recipient) == 0 && strcmp(st[i].state, state) == 0)
                    return true;
            }
        }
        usleep(100 * 1000);
    } while (liaison_now_ms() < until);
    return false;
}

/* The rejection text of the last send, checked to hold each needle. */
static void
assert_rejected(liaison_client *c, liaison_err err, const char *a, const char *b)
{
    const char *why = liaison_client_error(c);

    if (err != LIAISON_ERR_REJECTED)
        fail_msg("expected a rejection, got %d: %s", (int)err, why);
    if (strstr(why, a) == NULL || (b != NULL && strstr(why, b) == NULL))
        fail_msg("rejection \"%s\" lacks \"%s\"%s%s", why, a, b != NULL ? " or " : "",
                 b != NULL ? b : "");
}

/*
 * (a) A message queued for agencies that are not connected (USA/CBP here,
 * CAN/RCMP at the partner) is recalled: neither ever gets it, both get the
 * recall, and the sender's status says recalled.  (d) Another agency may
 * not recall it, here or at the partner.  (f) The audit log records
 * `recalled` for each recipient with the original's envelope hash.
 */
static void
test_recall_queued_never_delivered(void **state)
{
    fed *f = fed_new(three, 2, NULL);
    liaison_client *fbi, *cbp, *rcmp;
    liaison_event *e;
    uint8_t original[16], hash[32], recall[16], other[16];
    char hex[33], hash_hex[65], recall_hex[33];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", false);
    send_original(fbi, "USA/CBP CAN/RCMP", original, hash);
    /* It waits in CBP's queue here and, once CAN took it, in RCMP's queue there. */
    assert_true(status_is(fbi, original, "CAN/RCMP", "forwarded", 20 * SECOND));
    /* (d) Nobody but the originator may recall it. */
    cbp = fed_client(f, "USA/CBP", false);
    assert_rejected(cbp,
                    send_recall(cbp, original, "USA/CBP CAN/RCMP", "LES//REL TO CAN,USA", other),
                    "builtin:recall", "only USA/FBI, the originator, may recall");
    liaison_client_close(&cbp);
    rcmp = fed_client(f, "CAN/RCMP", false);
    assert_rejected(rcmp, send_recall(rcmp, original, "USA/FBI", "LES//REL TO CAN,USA", other),
                    "builtin:recall", "only USA/FBI, the originator, may recall");
    liaison_client_close(&rcmp);
    /* The originator recalls it. */
    if (send_recall(fbi, original, "USA/CBP CAN/RCMP", "LES//REL TO CAN,USA", recall) !=
        LIAISON_OK)
        fail_msg("recall: %s", liaison_client_error(fbi));
    assert_true(status_is(fbi, original, "USA/CBP", "recalled", 20 * SECOND));
    assert_true(status_is(fbi, original, "CAN/RCMP", "recalled", 20 * SECOND));
    /* The agencies connect: only the recall comes. */
    cbp = fed_client(f, "USA/CBP", true);
    rcmp = fed_client(f, "CAN/RCMP", true);
    for (int k = 0; k < 2; k++) {
        liaison_client *c = k == 0 ? cbp : rcmp;

        e = next_message(c, in_ms(20 * SECOND));
        if (e == NULL)
            fail_msg("%s got no recall", k == 0 ? "USA/CBP" : "CAN/RCMP");
        assert_string_equal(e->kind, "recall.request");
        assert_memory_equal(e->id, recall, 16);
        assert_true(e->has_reply_to);
        assert_memory_equal(e->in_reply_to, original, 16);
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
        e = next_message(c, in_ms(2 * SECOND));
        if (e != NULL)
            fail_msg("%s got %s after the recall", k == 0 ? "USA/CBP" : "CAN/RCMP", e->kind);
    }
    liaison_client_close(&cbp);
    liaison_client_close(&rcmp);
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    /* (f) The audit log at home and at the partner. */
    hex16(original, hex);
    hex16(recall, recall_hex);
    for (size_t i = 0; i < 32; i++)
        snprintf(hash_hex + 2 * i, 3, "%02x", hash[i]);
    for (int k = 0; k < 2; k++) {
        static char out[1 << 16];
        const char *data = fed_nation_get(f, k == 0 ? "USA" : "CAN")->data;
        const char *args[] = {"audit", "log", "--data", data, "--event", "recalled", "--json",
                              NULL};
        const char *who = k == 0 ? "USA/CBP" : "CAN/RCMP";
        const char *line;

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        line = strstr(out, who);
        if (line == NULL)
            fail_msg("no recalled record for %s at %s:\n%s", who, k == 0 ? "USA" : "CAN", out);
        assert_non_null(strstr(out, hex));
        assert_non_null(strstr(out, hash_hex));
        assert_non_null(strstr(out, recall_hex));
        assert_non_null(strstr(out, "builtin:recall"));
        assert_non_null(strstr(out, "removed before delivery"));
    }
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/*
 * (e) recall.ack: a recipient's ack reaches the recall's sender; an ack
 * aimed at anyone else, or answering something that is no recall, is
 * denied by builtin:recall.  A recall of what was delivered follows it.
 */
static void
test_recall_ack_only_to_the_recall_sender(void **state)
{
    fed *f = fed_new(three, 2, NULL);
    liaison_client *fbi, *rcmp;
    liaison_event *e;
    uint8_t original[16], recall[16], ack[16], other[16];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", true);
    rcmp = fed_client(f, "CAN/RCMP", true);
    send_original(fbi, "CAN/RCMP", original, NULL);
    e = next_message(rcmp, in_ms(20 * SECOND));
    assert_non_null(e);
    assert_memory_equal(e->id, original, 16);
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    assert_true(status_is(fbi, original, "CAN/RCMP", "receipted", 20 * SECOND));
    if (send_recall(fbi, original, "CAN/RCMP", "LES//REL TO CAN,USA", recall) != LIAISON_OK)
        fail_msg("recall: %s", liaison_client_error(fbi));
    e = next_message(rcmp, in_ms(20 * SECOND));
    assert_non_null(e);
    assert_string_equal(e->kind, "recall.request");
    assert_memory_equal(e->id, recall, 16);
    assert_int_equal(liaison_receipt(rcmp, e), LIAISON_OK);
    liaison_event_free(&e);
    /* The delivered original stays delivered: receipted, not recalled. */
    assert_true(status_is(fbi, original, "CAN/RCMP", "receipted", 5 * SECOND));
    /* Aimed at another agency, or answering no recall: denied. */
    assert_rejected(rcmp, send_ack(rcmp, recall, original, "USA/CBP", other), "builtin:recall",
                    "goes only to USA/FBI");
    assert_rejected(rcmp, send_ack(rcmp, recall, original, "USA/FBI USA/CBP", other),
                    "builtin:recall", "goes only to USA/FBI");
    assert_rejected(rcmp, send_ack(rcmp, original, original, "USA/FBI", other), "builtin:recall",
                    "answers no recall known here");
    /* To the recall's sender: delivered. */
    if (send_ack(rcmp, recall, original, "USA/FBI", ack) != LIAISON_OK)
        fail_msg("ack: %s", liaison_client_error(rcmp));
    e = next_message(fbi, in_ms(20 * SECOND));
    if (e == NULL)
        fail_msg("USA/FBI got no recall.ack: %s", liaison_client_error(fbi));
    assert_string_equal(e->kind, "recall.ack");
    assert_memory_equal(e->id, ack, 16);
    assert_memory_equal(e->in_reply_to, recall, 16);
    assert_int_equal(liaison_receipt(fbi, e), LIAISON_OK);
    liaison_event_free(&e);
    liaison_client_close(&fbi);
    liaison_client_close(&rcmp);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    {
        static char out[1 << 16];
        char hex[33];
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data,
                              "--event", "recalled", NULL};

        hex16(recall, hex);
        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "follows the message"));
        assert_non_null(strstr(out, hex));
    }
    fed_destroy(&f);
}

/*
 * A recall addressed with a selector covers the agencies of its nation
 * whatever kinds their cards accept (none accepts recall.*), at home and in
 * the partner's forward check, but only those the original reached:
 * CAN/RCMP and CAN/CBSA get it, CAN/FINTRAC (freeze.* only) gets nothing.
 * A recall that names no message is malformed.
 */
static void
test_recall_selector_covers_what_the_original_reached(void **state)
{
    fed *f = fed_new(three, 2, NULL);
    liaison_client *fbi, *c;
    liaison_event *e;
    uint8_t original[16], recall[16], other[16];
    static const char *const agencies[] = {"CAN/RCMP", "CAN/CBSA", "CAN/FINTRAC"};
    liaison_err err;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", false);
    send_original(fbi, "CAN/*", original, NULL);
    assert_true(status_is(fbi, original, "CAN/CBSA", "forwarded", 20 * SECOND));
    err = send_to(fbi, "recall.request", "CAN/*", "LES//REL TO CAN,USA", "LES//REL TO CAN,USA",
                  "{}", NULL, other, NULL);
    assert_rejected(fbi, err, "in_reply_to", NULL);
    if (send_recall(fbi, original, "CAN/*", "LES//REL TO CAN,USA", recall) != LIAISON_OK)
        fail_msg("recall: %s", liaison_client_error(fbi));
    assert_true(status_is(fbi, recall, "CAN/CBSA", "forwarded", 20 * SECOND));
    assert_true(status_is(fbi, original, "CAN/RCMP", "recalled", 20 * SECOND));
    assert_true(status_is(fbi, original, "CAN/CBSA", "recalled", 20 * SECOND));
    for (size_t k = 0; k < 3; k++) {
        c = fed_client(f, agencies[k], true);
        e = next_message(c, in_ms(k < 2 ? 20 * SECOND : 3 * SECOND));
        if (k == 2) {
            if (e != NULL)
                fail_msg("CAN/FINTRAC, which never got the original, got %s", e->kind);
            liaison_client_close(&c);
            continue;
        }
        if (e == NULL)
            fail_msg("%s got no recall", agencies[k]);
        assert_string_equal(e->kind, "recall.request");
        assert_memory_equal(e->id, recall, 16);
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
        liaison_client_close(&c);
    }
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_destroy(&f);
}

/* A receiving agency for the race: writes "<kind> <id> <in_reply_to>" per
 * message, receipts it, and runs until killed; it takes pause_ms over each
 * message (a slow application: its queue grows beyond what is in flight). */
static void
consume(fed *f, const char *agency, const char *out_path, unsigned pause_ms)
{
    liaison_client *c = fed_client(f, agency, true);
    FILE *out = fopen(out_path, "w");

    if (out == NULL)
        _exit(2);
    for (;;) {
        liaison_event *e = NULL;
        char id[33], reply[33];

        if (liaison_receive(c, &e, in_ms(SECOND)) != LIAISON_OK)
            continue;
        if (e->type == LIAISON_EVENT_MESSAGE) {
            hex16(e->id, id);
            hex16(e->in_reply_to, reply);
            fprintf(out, "%s %s %s\n", e->kind, id, reply);
            fflush(out);
        }
        (void)liaison_receipt(c, e);
        liaison_event_free(&e);
        if (pause_ms > 0)
            usleep(pause_ms * 1000);
    }
}

static pid_t
consumer_start(fed *f, const char *agency, const char *path, unsigned pause_ms)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        consume(f, agency, path, pause_ms);
        _exit(0);
    }
    return pid;
}

/* Lines of path that start with prefix. */
static size_t
lines_with(const char *path, const char *prefix)
{
    char line[128];
    size_t n = 0;
    FILE *in = fopen(path, "r");

    if (in == NULL)
        return 0;
    while (fgets(line, sizeof(line), in) != NULL)
        n += strncmp(line, prefix, strlen(prefix)) == 0;
    fclose(in);
    return n;
}

typedef struct race_wait {
    const char *paths[2];   /* the consumers' records */
} race_wait;

static bool
all_recalls_in(void *ctx)
{
    race_wait *w = ctx;

    return lines_with(w->paths[0], "recall.request ") >= RACE_MESSAGES &&
           lines_with(w->paths[1], "recall.request ") >= RACE_MESSAGES;
}

static uint8_t race_ids[RACE_MESSAGES][16];

/* Checks one recipient's record: every original came before its recall or
 * not at all, and every recall came; and the sender's status agrees: an
 * original delivered is receipted, one never delivered is recalled.
 * Prints the figures. */
static void
race_check(liaison_client *fbi, const char *agency, const char *path)
{
    static char orig_seen[RACE_MESSAGES], recall_seen[RACE_MESSAGES];
    char line[128];
    size_t delivered = 0, withdrawn = 0, after = 0, missing = 0;
    FILE *in = fopen(path, "r");

    assert_non_null(in);
    memset(orig_seen, 0, sizeof(orig_seen));
    memset(recall_seen, 0, sizeof(recall_seen));
    while (fgets(line, sizeof(line), in) != NULL) {
        char kind[65], id[33], reply[33];

        if (sscanf(line, "%64s %32s %32s", kind, id, reply) != 3)
            continue;
        for (size_t i = 0; i < RACE_MESSAGES; i++) {
            char hex[33];

            hex16(race_ids[i], hex);
            if (strcmp(kind, "watchlist.publish") == 0 && strcmp(id, hex) == 0) {
                if (recall_seen[i])
                    after++;
                orig_seen[i] = 1;
            } else if (strcmp(kind, "recall.request") == 0 && strcmp(reply, hex) == 0) {
                recall_seen[i] = 1;
            }
        }
    }
    fclose(in);
    for (size_t i = 0; i < RACE_MESSAGES; i++) {
        const char *want = orig_seen[i] ? "receipted" : "recalled";

        if (!recall_seen[i])
            missing++;
        else if (orig_seen[i])
            delivered++;
        else
            withdrawn++;
        if (!status_is(fbi, race_ids[i], agency, want, 10 * SECOND))
            fail_msg("original %zu %s at %s, but its status is not %s", i,
                     orig_seen[i] ? "delivered" : "never delivered", agency, want);
    }
    printf("recall race at %s: %u originals, %zu delivered before their recall, %zu withdrawn "
           "(never delivered), %zu delivered after their recall, %zu recalls missing\n",
           agency, RACE_MESSAGES, delivered, withdrawn, after, missing);
    fflush(stdout);
    assert_int_equal(after, 0);
    assert_int_equal(missing, 0);
}

/*
 * (b) A recall racing delivery: each message recalled right after its
 * submit while both recipients (one here, one at the partner) receive.
 * Each gets each original before its recall or never, and every recall.
 * USA/CBP is slow, so that its queue holds originals not yet sent when
 * their recall comes.
 */
static void
test_recall_races_delivery(void **state)
{
    fed *f = fed_new(three, 2, NULL);
    liaison_client *fbi;
    char path_cbp[1100], path_rcmp[1100];
    race_wait w = {{path_cbp, path_rcmp}};
    pid_t cbp, rcmp;
    int status;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    snprintf(path_cbp, sizeof(path_cbp), "%s/race-cbp.txt", f->dir);
    snprintf(path_rcmp, sizeof(path_rcmp), "%s/race-rcmp.txt", f->dir);
    cbp = consumer_start(f, "USA/CBP", path_cbp, 15);
    rcmp = consumer_start(f, "CAN/RCMP", path_rcmp, 0);
    fbi = fed_client(f, "USA/FBI", false);
    for (size_t i = 0; i < RACE_MESSAGES; i++) {
        uint8_t recall[16];

        send_original(fbi, "USA/CBP CAN/RCMP", race_ids[i], NULL);
        if (i % 7 == 3)
            usleep(20 * 1000); /* now and then, let delivery win */
        if (send_recall(fbi, race_ids[i], "USA/CBP CAN/RCMP", "LES//REL TO CAN,USA", recall) !=
            LIAISON_OK)
            fail_msg("recall %zu: %s", i, liaison_client_error(fbi));
    }
    if (!fed_wait_until(all_recalls_in, &w, 60 * SECOND))
        fail_msg("recalls delivered: %zu at USA/CBP, %zu at CAN/RCMP of %u",
                 lines_with(path_cbp, "recall.request "), lines_with(path_rcmp, "recall.request "),
                 RACE_MESSAGES);
    usleep(500 * 1000); /* anything that would come after the recalls */
    kill(cbp, SIGKILL);
    kill(rcmp, SIGKILL);
    waitpid(cbp, &status, 0);
    waitpid(rcmp, &status, 0);
    race_check(fbi, "USA/CBP", path_cbp);
    race_check(fbi, "CAN/RCMP", path_rcmp);
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_destroy(&f);
}

/*
 * (c) A recall to a partner that is down: the original was delivered at
 * MEX; MEX's broker is killed; the recall waits at USA and is delivered
 * when MEX is back.
 */
static void
test_recall_partner_down(void **state)
{
    fed *f = fed_new(three, 3, NULL);
    liaison_client *fbi, *aic;
    liaison_event *e;
    uint8_t original[16], recall[16];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    fbi = fed_client(f, "USA/FBI", false);
    aic = fed_client(f, "MEX/AIC", true);
    if (send_to(fbi, "traveldoc.report", "MEX/AIC", "LES//REL TO MEX,USA//PURPOSE:lost passport",
                "LES//REL TO MEX,USA", "P1234567", NULL, original, NULL) != LIAISON_OK)
        fail_msg("send: %s", liaison_client_error(fbi));
    e = next_message(aic, in_ms(20 * SECOND));
    if (e == NULL)
        fail_msg("MEX/AIC got nothing: %s", liaison_client_error(aic));
    assert_memory_equal(e->id, original, 16);
    assert_int_equal(liaison_receipt(aic, e), LIAISON_OK);
    liaison_event_free(&e);
    assert_true(status_is(fbi, original, "MEX/AIC", "receipted", 20 * SECOND));
    liaison_client_close(&aic);
    fed_kill(f, "MEX");
    if (send_recall(fbi, original, "MEX/AIC", "LES//REL TO MEX,USA", recall) != LIAISON_OK)
        fail_msg("recall: %s", liaison_client_error(fbi));
    sleep(2);
    fed_start(f, "MEX");
    aic = fed_client(f, "MEX/AIC", true);
    e = next_message(aic, in_ms(40 * SECOND));
    if (e == NULL)
        fail_msg("MEX/AIC got no recall after MEX came back: %s", liaison_client_error(aic));
    assert_string_equal(e->kind, "recall.request");
    assert_memory_equal(e->id, recall, 16);
    assert_memory_equal(e->in_reply_to, original, 16);
    assert_int_equal(liaison_receipt(aic, e), LIAISON_OK);
    liaison_event_free(&e);
    assert_true(status_is(fbi, recall, "MEX/AIC", "receipted", 20 * SECOND));
    liaison_client_close(&aic);
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    assert_int_equal(fed_stop(f, "MEX"), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_recall_queued_never_delivered, fed_destroy_all),
        cmocka_unit_test_teardown(test_recall_ack_only_to_the_recall_sender, fed_destroy_all),
        cmocka_unit_test_teardown(test_recall_selector_covers_what_the_original_reached,
                                  fed_destroy_all),
        cmocka_unit_test_teardown(test_recall_races_delivery, fed_destroy_all),
        cmocka_unit_test_teardown(test_recall_partner_down, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
