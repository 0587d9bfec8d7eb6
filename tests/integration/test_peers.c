/* Partners added and removed by a reload (SIGHUP), while traffic to the
 * other partners flows on untouched. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define STREAM_MAX 20000u /* messages the stream may send */

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

static bool
file_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static void
write_file(const char *path, const char *text)
{
    FILE *out = fopen(path, "w");

    assert_non_null(out);
    assert_true(fputs(text, out) >= 0);
    assert_int_equal(fclose(out), 0);
}

/*
 * Rewrites the `peers:` of nation's configuration: the partners named in
 * peers (space separated, "" for none), each at its federation endpoint;
 * every other field is left as it was.
 */
static void
set_peers(fed *f, const char *nation, const char *peers)
{
    fed_nation *n = fed_nation_get(f, nation);
    char *text, *cut, out[8192], list[64];
    size_t len, used;

    text = (char *)test_read_file(n->config, &len);
    assert_non_null(text);
    cut = strstr(text, "peers:\n");
    if (cut != NULL)
        *cut = '\0';
    used = (size_t)snprintf(out, sizeof(out), "%s", text);
    if (peers[0] != '\0')
        used += (size_t)snprintf(out + used, sizeof(out) - used, "peers:\n");
    snprintf(list, sizeof(list), "%s", peers);
    for (char *save = NULL, *p = strtok_r(list, " ", &save); p != NULL;
         p = strtok_r(NULL, " ", &save))
        used += (size_t)snprintf(out + used, sizeof(out) - used,
                                 "  - nation: %s\n    endpoint: %s\n", p,
                                 fed_nation_get(f, p)->fed_endpoint);
    write_file(n->config, out);
    free(text);
}

/* Counts lines of nation's broker log with the log id and a peer=peer field. */
static size_t
peer_lines(fed *f, const char *nation, const char *id, const char *peer)
{
    FILE *in = fopen(fed_nation_get(f, nation)->log, "r");
    char line[4096], want_id[64], want_peer[32];
    size_t count = 0;

    snprintf(want_id, sizeof(want_id), "id=%s ", id);
    snprintf(want_peer, sizeof(want_peer), " peer=%s ", peer);
    while (in != NULL && fgets(line, sizeof(line), in) != NULL) {
        if (strstr(line, want_id) != NULL && strstr(line, want_peer) != NULL)
            count++;
    }
    if (in != NULL)
        fclose(in);
    return count;
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

/* Sends SIGHUP to nation's broker and waits until it has finished the reload. */
static void
reload(fed *f, const char *nation)
{
    log_wait w = {f, nation, "id=B-RELOAD ", fed_log_count(f, nation, "id=B-RELOAD ") + 1};

    fed_reload(f, nation);
    assert_true(fed_wait_until(logged, &w, 10 * SECOND));
}

/* Sends one watchlist message from c to `to`; its id goes to id. */
static liaison_err
send_one(liaison_client *c, const char *to, const char *labels, const char *text, uint8_t id[16])
{
    liaison_message *m = NULL;
    liaison_err rc;

    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", text, strlen(text), NULL), LIAISON_OK);
    rc = liaison_send(c, m, id, in_ms(10 * SECOND));
    if (rc == LIAISON_ERR_REJECTED) {
        const char *why = "";

        (void)liaison_client_rejection(c, &why);
        fprintf(stderr, "# %s rejected: %s\n", to, why);
    }
    liaison_message_destroy(&m);
    return rc;
}

/* The state of id for recipient, as c's broker reports it. */
static const char *
state_of(liaison_client *c, const uint8_t id[16], const char *recipient)
{
    static liaison_status_entry entries[64];
    size_t n = 0;

    if (liaison_status(c, id, entries, 64, &n, in_ms(5 * SECOND)) != LIAISON_OK)
        return "?";
    for (size_t i = 0; i < n; i++) {
        if (strcmp(entries[i].recipient, recipient) == 0)
            return entries[i].state;
    }
    return "none";
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

/* The stream: numbered messages from USA/FBI to CAN/RCMP, one after the
 * other, each sent until accepted, until the stop file appears.  Writes the
 * number of each accepted message, a line each. */
static void
produce(fed *f, const char *stop_path, const char *out_path)
{
    liaison_client *c = fed_client(f, "USA/FBI", false);
    FILE *out = fopen(out_path, "w");

    if (out == NULL)
        _exit(2);
    for (unsigned i = 0; i < STREAM_MAX && !file_exists(stop_path); i++) {
        liaison_message *m = NULL;
        uint8_t id[16];
        char text[48];
        liaison_err err;

        snprintf(text, sizeof(text), "stream %06u", i);
        if (liaison_message_new("watchlist.publish", &m) != LIAISON_OK ||
            liaison_message_add_recipient(m, "CAN/RCMP") != LIAISON_OK ||
            liaison_message_set_labels(m, "LES//REL TO CAN,USA") != LIAISON_OK ||
            liaison_message_add_portion(m, "LES", text, strlen(text), NULL) != LIAISON_OK)
            _exit(3);
        while ((err = liaison_send(c, m, id, in_ms(3 * SECOND))) != LIAISON_OK) {
            if (err != LIAISON_ERR_TIMEOUT && err != LIAISON_ERR_REJECTED)
                _exit(4);
        }
        fprintf(out, "%u\n", i);
        fflush(out);
        liaison_message_destroy(&m);
        usleep(5000);
    }
    fclose(out);
    liaison_client_close(&c);
}

static unsigned received[STREAM_MAX]; /* deliveries of each stream number */

/* Counts at CAN/RCMP the stream's messages until none came for a while. */
static void
consume_stream(fed *f)
{
    liaison_client *c = fed_client(f, "CAN/RCMP", true);

    memset(received, 0, sizeof(received));
    for (;;) {
        liaison_event *e = NULL;
        unsigned n;
        char text[48];

        if (liaison_receive(c, &e, in_ms(5 * SECOND)) != LIAISON_OK)
            break;
        if (e->type == LIAISON_EVENT_MESSAGE && e->portion_count == 1 &&
            e->portions[0].len < sizeof(text)) {
            memcpy(text, e->portions[0].data, e->portions[0].len);
            text[e->portions[0].len] = '\0';
            if (sscanf(text, "stream %u", &n) == 1 && n < STREAM_MAX)
                received[n]++;
        }
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
    }
    liaison_client_close(&c);
}

static void
audit_has(fed *f, const char *nation, const char *needle)
{
    static char log[1 << 16];
    const char *args[] = {"audit", "log", "--data", fed_nation_get(f, nation)->data, "--event",
                          "policy-reloaded", NULL};

    assert_int_equal(fed_run_tool(args, log, sizeof(log)), 0);
    if (strstr(log, needle) == NULL)
        fail_msg("no '%s' in the audit log of %s:\n%s", needle, nation, log);
}

/*
 * USA peers with CAN only; a stream flows USA -> CAN.  MEX is added to
 * USA's peers by a reload in the middle of the stream: a message reaches
 * MEX, and the link to CAN was not touched (no disconnect, no resend, one
 * session; every message of the stream arrives once).  MEX removed by
 * another reload: a message to it stays queued; added again: delivered.
 */
static void
test_peers_added_and_removed_by_reload(void **state)
{
    static const char *const three[] = {"USA", "CAN", "MEX"};
    fed *f = fed_new(three, 3, NULL);
    char stop_path[1100], sent_path[1100], line[64];
    uint8_t id[16];
    size_t accepted = 0, lost = 0, duplicated = 0, can_sessions;
    liaison_client *fbi, *aic;
    pid_t producer;
    FILE *in;

    (void)state;
    set_peers(f, "USA", "CAN");
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fed_start(f, "MEX");
    fbi = fed_client(f, "USA/FBI", false);
    aic = fed_client(f, "MEX/AIC", true);
    /* Not a partner of USA yet: accepted (the roster has MEX/AIC), queued. */
    assert_int_equal(send_one(fbi, "CAN/RCMP", "LES//REL TO CAN,USA", "first", id), LIAISON_OK);
    {
        log_wait w = {f, "USA", "id=B-PEER-UP ", 1};

        assert_true(fed_wait_until(logged, &w, 15 * SECOND));
        assert_int_equal(peer_lines(f, "USA", "B-PEER-UP", "CAN"), 1);
    }
    can_sessions = peer_lines(f, "USA", "B-PEER-SESSION", "CAN");
    assert_int_equal(can_sessions, 1);

    /* The stream to CAN flows; MEX is added in the middle of it. */
    snprintf(stop_path, sizeof(stop_path), "%s/stop", f->dir);
    snprintf(sent_path, sizeof(sent_path), "%s/sent", f->dir);
    producer = fork();
    assert_true(producer >= 0);
    if (producer == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        produce(f, stop_path, sent_path);
        _exit(0);
    }
    usleep(1500u * 1000u);
    set_peers(f, "USA", "CAN MEX");
    reload(f, "USA");
    assert_int_equal(peer_lines(f, "USA", "B-PEER-ADDED", "MEX"), 1);
    assert_int_equal(send_one(fbi, "MEX/AIC", "LES//REL TO MEX,USA", "to mex", id), LIAISON_OK);
    assert_true(receive_text(aic, "to mex", 20 * SECOND));
    usleep(1500u * 1000u);
    write_file(stop_path, "");
    {
        int status = 0;

        assert_int_equal(waitpid(producer, &status, 0), producer);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    consume_stream(f);
    in = fopen(sent_path, "r");
    assert_non_null(in);
    while (fgets(line, sizeof(line), in) != NULL) {
        unsigned n = (unsigned)strtoul(line, NULL, 10);

        accepted++;
        if (received[n] == 0)
            lost++;
        else if (received[n] > 1)
            duplicated += received[n] - 1;
    }
    fclose(in);
    fprintf(stderr, "# stream USA -> CAN across the reload: accepted %zu lost %zu duplicated %zu\n",
            accepted, lost, duplicated);
    assert_true(accepted > 100);
    assert_int_equal(lost, 0);
    assert_int_equal(duplicated, 0);
    /* The link to CAN went on as it was: one session, nothing resent. */
    assert_int_equal(peer_lines(f, "USA", "B-PEER-DISCONNECTED", "CAN"), 0);
    assert_int_equal(peer_lines(f, "USA", "B-PEER-RESEND", "CAN"), 0);
    assert_int_equal(peer_lines(f, "USA", "B-PEER-SESSION", "CAN"), can_sessions);
    assert_int_equal(peer_lines(f, "USA", "B-PEER-DOWN", "CAN"), 0);
    assert_int_equal(fed_metric(f, "CAN", "liaison_duplicates_dropped_total"), 0);

    /* MEX removed: a message to it is accepted and stays queued. */
    set_peers(f, "USA", "CAN");
    reload(f, "USA");
    assert_int_equal(peer_lines(f, "USA", "B-PEER-REMOVED", "MEX"), 1);
    assert_int_equal(send_one(fbi, "MEX/AIC", "LES//REL TO MEX,USA", "while removed", id),
                     LIAISON_OK);
    assert_false(receive_text(aic, "while removed", 4 * SECOND));
    assert_string_equal(state_of(fbi, id, "MEX/AIC"), "queued");
    /* Listed again: what waited is delivered. */
    set_peers(f, "USA", "CAN MEX");
    reload(f, "USA");
    assert_int_equal(peer_lines(f, "USA", "B-PEER-ADDED", "MEX"), 2);
    assert_true(receive_text(aic, "while removed", 20 * SECOND));
    /* CAN still untouched by all three reloads. */
    assert_int_equal(peer_lines(f, "USA", "B-PEER-DISCONNECTED", "CAN"), 0);
    assert_int_equal(peer_lines(f, "USA", "B-PEER-SESSION", "CAN"), can_sessions);
    liaison_client_close(&fbi);
    liaison_client_close(&aic);
    assert_int_equal(fed_stop(f, "USA"), 0);
    audit_has(f, "USA", "peer MEX added at reload");
    audit_has(f, "USA", "peer MEX removed");
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* A configuration that does not load changes nothing; fields other than
 * peers are logged as needing a restart and not applied; an endpoint that
 * changed is dialled anew. */
static void
test_peers_reload_refusals_and_restart_fields(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    fed_nation *usa = fed_nation_get(f, "USA");
    char *good;
    size_t len;
    uint8_t id[16];
    liaison_client *fbi;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", false);
    assert_int_equal(send_one(fbi, "CAN/RCMP", "LES//REL TO CAN,USA", "one", id), LIAISON_OK);
    good = (char *)test_read_file(usa->config, &len);
    assert_non_null(good);

    /* Not YAML the loader takes: refused, audited, the peers kept (the
     * policy and roster are still reloaded, each on its own). */
    write_file(usa->config, "nation: USA\npeers: [\n");
    reload(f, "USA");
    assert_int_equal(fed_log_count(f, "USA", "id=B-RELOAD-CONFIG"), 1);
    assert_int_equal(fed_log_count(f, "USA", "peers=1"), 2); /* B-READY and B-RELOAD */
    /* Nation keys given to a broker that started without them: the roster
     * mode changes only at a restart, so the configuration is refused. */
    {
        char text[8192];

        snprintf(text, sizeof(text), "%snation_key: %064d\n", good, 0);
        /* The peer's too, so that the file itself loads. */
        {
            static const char pin[] = "    nation_key: "
                                      "1111111111111111111111111111111111111111111111111111111111111111\n";
            char *at = strstr(text, "    endpoint: ");

            assert_non_null(at);
            at = strchr(at, '\n') + 1;
            memmove(at + strlen(pin), at, strlen(at) + 1);
            memcpy(at, pin, strlen(pin));
        }
        write_file(usa->config, text);
    }
    reload(f, "USA");
    assert_int_equal(fed_log_count(f, "USA", "a restart changes the roster mode"), 1);
    assert_int_equal(fed_log_count(f, "USA", "id=B-RELOAD-CONFIG"), 2);
    /* A peer the roster has no card for: the roster is refused with the new
     * peers, and the peers stay as they were. */
    {
        char text[8192];

        snprintf(text, sizeof(text), "%s  - nation: GBR\n    endpoint: tcp://127.0.0.1:9\n", good);
        write_file(usa->config, text);
    }
    reload(f, "USA");
    assert_true(fed_log_count(f, "USA", "no broker card for the peer GBR") >= 1);
    assert_int_equal(fed_log_count(f, "USA", "id=B-PEER-ADDED"), 0);
    /* A changed log level and tree-head interval: logged, not applied. */
    {
        char text[8192];

        snprintf(text, sizeof(text), "%stree_head_interval_s: 77\n", good);
        write_file(usa->config, text);
    }
    reload(f, "USA");
    assert_int_equal(fed_log_count(f, "USA", "field=tree_head_interval_s action="), 1);
    assert_true(fed_log_count(f, "USA", "policy=reloaded roster=reloaded") >= 1);
    /* CAN's endpoint changed (CAN moved): USA dials the new one. */
    fed_stop(f, "CAN");
    snprintf(fed_nation_get(f, "CAN")->fed_endpoint, sizeof(fed_nation_get(f, "CAN")->fed_endpoint),
             "tcp://127.0.0.1:%d", test_free_port());
    set_peers(f, "CAN", "USA");
    {
        /* CAN's own configuration binds the new endpoint. */
        fed_nation *can = fed_nation_get(f, "CAN");
        char *text = (char *)test_read_file(can->config, &len), *at, out[8192];

        assert_non_null(text);
        at = strstr(text, "federation_endpoint: ");
        assert_non_null(at);
        *at = '\0';
        snprintf(out, sizeof(out), "%sfederation_endpoint: %s%s", text, can->fed_endpoint,
                 strchr(at + 1, '\n'));
        write_file(can->config, out);
        free(text);
    }
    fed_start(f, "CAN");
    write_file(usa->config, good);
    set_peers(f, "USA", "CAN");
    reload(f, "USA");
    assert_int_equal(peer_lines(f, "USA", "B-PEER-MOVED", "CAN"), 1);
    assert_int_equal(send_one(fbi, "CAN/RCMP", "LES//REL TO CAN,USA", "moved", id), LIAISON_OK);
    {
        liaison_client *rcmp = fed_client(f, "CAN/RCMP", true);

        assert_true(receive_text(rcmp, "moved", 20 * SECOND));
        liaison_client_close(&rcmp);
    }
    liaison_client_close(&fbi);
    free(good);
    assert_int_equal(fed_stop(f, "USA"), 0);
    audit_has(f, "USA", "configuration refused");
    audit_has(f, "USA", "peer CAN endpoint changed");
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_peers_added_and_removed_by_reload, fed_destroy_all),
        cmocka_unit_test_teardown(test_peers_reload_refusals_and_restart_fields, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("peers", tests, NULL, NULL);
}
