/* Integration tests of revocation: a reload that revokes a key closes its open
 * session, and a key the broker refuses is an error at once for libliaison
 * and the liaison tool. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define MESSAGES 10 /* sent to USA/CBP while it does not read */
#define WINDOW 4    /* limits.max_in_flight of the test broker */

static uint64_t
in_ms(unsigned ms)
{
    return liaison_now_ms() + ms;
}

static void
send_one(liaison_client *c, const char *to, uint8_t id_out[16])
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new("watchlist.query", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", "x", 1, NULL), LIAISON_OK);
    if (liaison_send(c, m, id_out, in_ms(20 * SECOND)) != LIAISON_OK)
        fail_msg("send to %s: %s", to, liaison_client_error(c));
    liaison_message_destroy(&m);
}

/* Revokes addr in the federation's roster with the liaison tool. */
static void
roster_revoke(fed *f, const char *addr)
{
    const char *args[] = {"roster", "revoke", f->roster, addr, "--reason", "test", NULL};

    assert_int_equal(fed_run_tool(args, NULL, 0), 0);
}

static void
write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *out = fopen(path, "w");

    assert_non_null(out);
    assert_int_equal(fwrite(data, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
}


typedef struct wait_ctx {
    fed *f;                 /* the federation */
    const char *needle;     /* a log text, or a metric name */
    long count;             /* how many lines, or the value, to wait for */
} wait_ctx;

static bool
logged(void *ctx)
{
    wait_ctx *w = ctx;

    return fed_log_count(w->f, "USA", w->needle) >= (size_t)w->count;
}

static bool
metric_reached(void *ctx)
{
    wait_ctx *w = ctx;

    return fed_metric(w->f, "USA", w->needle) >= w->count;
}

/* ---- Item: an open session of a revoked key ---------------------------------------- */

static void
test_revoke_reload_closes_open_session(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, "limits:\n  max_in_flight: 4\n");
    liaison_client *fbi, *cbp;
    uint8_t ids[MESSAGES][16], first[16];
    bool seen[MESSAGES] = {false};
    uint8_t *saved;
    size_t saved_len, got = 0, distinct = 0;
    liaison_err err;
    wait_ctx w = {f, "liaison_messages_delivered_total", 1 + WINDOW};
    char out[1 << 16];

    (void)state;
    fed_start(f, "USA");
    saved = test_read_file(f->roster, &saved_len);
    assert_non_null(saved);
    fbi = fed_client(f, "USA/FBI", false);
    cbp = fed_client(f, "USA/CBP", true);
    /* A stream that flows: one message received and receipted. */
    send_one(fbi, "USA/CBP", first);
    {
        liaison_event *e = NULL;

        assert_int_equal(liaison_receive(cbp, &e, in_ms(20 * SECOND)), LIAISON_OK);
        assert_memory_equal(e->id, first, 16);
        assert_int_equal(liaison_receipt(cbp, e), LIAISON_OK);
        liaison_event_free(&e);
    }
    /* More than the window while CBP does not read: WINDOW go out on its
     * connection, the rest wait in its queue. */
    for (size_t i = 0; i < MESSAGES; i++)
        send_one(fbi, "USA/CBP", ids[i]);
    assert_true(fed_wait_until(metric_reached, &w, 20 * SECOND));
    /* The roster revokes CBP; the reload closes its session. */
    roster_revoke(f, "USA/CBP");
    fed_reload(f, "USA");
    w.needle = "B-SESSION-REVOKED";
    w.count = 1;
    assert_true(fed_wait_until(logged, &w, 20 * SECOND));
    assert_true(fed_log_count(f, "USA", "agency=USA/CBP") >= 1);
    /* CBP reads: what was on its connection before, and nothing after.  Its
     * receipts and pings are refused, and libliaison says so. */
    for (;;) {
        liaison_event *e = NULL;

        err = liaison_receive(cbp, &e, in_ms(20 * SECOND));
        if (err != LIAISON_OK)
            break;
        if (e->type == LIAISON_EVENT_MESSAGE)
            got++;
        (void)liaison_receipt(cbp, e);
        liaison_event_free(&e);
        assert_true(got <= WINDOW);
    }
    assert_int_equal(err, LIAISON_ERR_REFUSED);
    assert_non_null(strstr(liaison_client_error(cbp), "revoked key of USA/CBP"));
    liaison_client_close(&cbp);
    assert_int_equal(fed_metric(f, "USA", "liaison_messages_delivered_total"), 1 + WINDOW);
    assert_int_equal(fed_metric(f, "USA", "liaison_messages_receipted_total"), 1);
    /* Reinstated, CBP gets every message that stayed queued. */
    write_file(f->roster, saved, saved_len);
    fed_reload(f, "USA");
    w.needle = "id=B-RELOAD ";
    w.count = 2;
    assert_true(fed_wait_until(logged, &w, 20 * SECOND));
    cbp = fed_client(f, "USA/CBP", true);
    while (distinct < MESSAGES) {
        liaison_event *e = NULL;

        if (liaison_receive(cbp, &e, in_ms(20 * SECOND)) != LIAISON_OK)
            fail_msg("%zu of %d queued messages came back: %s", distinct, MESSAGES,
                     liaison_client_error(cbp));
        for (size_t i = 0; i < MESSAGES && e->type == LIAISON_EVENT_MESSAGE; i++) {
            if (memcmp(e->id, ids[i], 16) == 0 && !seen[i]) {
                seen[i] = true;
                distinct++;
            }
        }
        assert_int_equal(liaison_receipt(cbp, e), LIAISON_OK);
        liaison_event_free(&e);
    }
    liaison_client_close(&cbp);
    liaison_client_close(&fbi);
    free(saved);
    assert_int_equal(fed_stop(f, "USA"), 0);
    /* The closure is in the audit log. */
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data, "--event",
                              "key-refused", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "open session closed at roster reload: revoked key of USA/CBP"));
    }
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* ---- A partner broker's key ------------------------------------------------------- */

static bool
usa_logged(void *ctx)
{
    wait_ctx *w = ctx;

    return fed_log_count(w->f, "USA", w->needle) >= (size_t)w->count;
}

/* Receives messages until one with id arrives; false at the deadline. */
static bool
receive_id(liaison_client *c, const uint8_t id[16], unsigned ms)
{
    uint64_t deadline = in_ms(ms);

    for (;;) {
        liaison_event *e = NULL;
        bool hit;

        if (liaison_receive(c, &e, deadline) != LIAISON_OK)
            return false;
        hit = e->type == LIAISON_EVENT_MESSAGE && memcmp(e->id, id, 16) == 0;
        assert_int_equal(liaison_receipt(c, e), LIAISON_OK);
        liaison_event_free(&e);
        if (hit)
            return true;
    }
}

static void
send_partner(liaison_client *c, const char *to, uint8_t id_out[16])
{
    liaison_message *m = NULL;

    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//REL TO CAN,USA"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES//REL TO CAN,USA", "x", 1, NULL),
                     LIAISON_OK);
    if (liaison_send(c, m, id_out, in_ms(20 * SECOND)) != LIAISON_OK)
        fail_msg("send to %s: %s", to, liaison_client_error(c));
    liaison_message_destroy(&m);
}

static void
test_revoke_reload_closes_partner_connection(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    liaison_client *fbi, *rcmp;
    uint8_t id[16], out_id[16], in_id[16];
    uint8_t *saved;
    size_t saved_len;
    wait_ctx w = {f, "B-PEER-REVOKED", 1};
    char out[1 << 16];

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    saved = test_read_file(f->roster, &saved_len);
    assert_non_null(saved);
    fbi = fed_client(f, "USA/FBI", true);
    rcmp = fed_client(f, "CAN/RCMP", true);
    send_partner(fbi, "CAN/RCMP", id);
    assert_true(receive_id(rcmp, id, 30 * SECOND));
    /* USA's roster revokes broker CAN's card (CAN keeps its own roster). */
    roster_revoke(f, "CAN");
    fed_reload(f, "USA");
    assert_true(fed_wait_until(usa_logged, &w, 20 * SECOND));
    /* Nothing crosses either way: USA does not forward to CAN, and does not
     * take what CAN forwards on its connection opened before. */
    send_partner(fbi, "CAN/RCMP", out_id);
    send_partner(rcmp, "USA/FBI", in_id);
    assert_false(receive_id(rcmp, out_id, 4 * SECOND));
    assert_false(receive_id(fbi, in_id, 4 * SECOND));
    /* Reinstated, both go through: they stayed queued on each side. */
    write_file(f->roster, saved, saved_len);
    fed_reload(f, "USA");
    w.needle = "B-PEER-REINSTATED";
    assert_true(fed_wait_until(usa_logged, &w, 20 * SECOND));
    assert_true(receive_id(rcmp, out_id, 60 * SECOND));
    assert_true(receive_id(fbi, in_id, 60 * SECOND));
    liaison_client_close(&fbi);
    liaison_client_close(&rcmp);
    free(saved);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    {
        const char *args[] = {"audit", "log", "--data", fed_nation_get(f, "USA")->data, "--event",
                              "key-refused", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
        assert_non_null(strstr(out, "partner connection closed at roster reload: revoked key"));
    }
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

/* ---- Item: the liaison tool under refusal --------------------------------------------- */

/* Runs `liaison args...` with stdout and stderr in files; returns its exit
 * status and how long it took (ms) in *ms_out; err_out gets its stderr. */
static int
run_timed(fed *f, const char *const *args, uint64_t *ms_out, char *err_out, size_t err_len)
{
    const char *bin = getenv("LIAISON_TOOL_BIN");
    char err_path[1100];
    uint64_t start = liaison_now_ms();
    int status = 0;
    pid_t pid;

    if (bin == NULL)
        fail_msg("LIAISON_TOOL_BIN is not set");
    snprintf(err_path, sizeof(err_path), "%s/run.err", f->dir);
    pid = fork();
    if (pid == 0) {
        char *argv[32];
        size_t n = 0;
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int null = open("/dev/null", O_WRONLY);

        dup2(fd, STDERR_FILENO);
        dup2(null, STDOUT_FILENO);
        argv[n++] = (char *)(uintptr_t) "liaison";
        for (size_t i = 0; args[i] != NULL && n < 31; i++)
            argv[n++] = (char *)(uintptr_t)args[i];
        argv[n] = NULL;
        setenv("LIAISON_ACTOR", "test.officer", 0);
        execv(bin, argv);
        _exit(127);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    *ms_out = liaison_now_ms() - start;
    {
        size_t len = 0;
        uint8_t *text = test_read_file(err_path, &len);

        snprintf(err_out, err_len, "%.*s", text != NULL ? (int)len : 0,
                 text != NULL ? (const char *)text : "");
        free(text);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* send, inbox and status with key: each exits 77 (EX_NOPERM) long before
 * their 30 s timeout and says the broker refused the key. */
static void
expect_refused(fed *f, const char *key, const char *who)
{
    const char *endpoint = fed_nation_get(f, "USA")->agency_endpoint;
    const char *const send[] = {"send", "--kind", "watchlist.query", "--to", "USA/CBP",
                                "--labels", "LES", "--portion", "LES", "--text", "x",
                                "--key", key, "--roster", f->roster, "--broker", endpoint,
                                "--timeout", "30", NULL};
    const char *const inbox[] = {"inbox", "--wait", "30", "--key", key, "--roster", f->roster,
                                 "--broker", endpoint, "--timeout", "30", NULL};
    const char *const status[] = {"status", "0123456789abcdef0123456789abcdef", "--key", key,
                                  "--roster", f->roster, "--broker", endpoint, "--timeout", "30",
                                  NULL};
    char state[1100];
    /* The family commands that first receive into the casebook. */
    const char *const freeze[] = {"freeze", "status", "FZ-1", "--wait", "30", "--state", state,
                                  "--key", key, "--roster", f->roster, "--broker", endpoint,
                                  "--timeout", "30", NULL};
    const char *const mlat[] = {"mlat", "status", "CASE-1", "--wait", "30", "--state", state,
                                "--key", key, "--roster", f->roster, "--broker", endpoint,
                                "--timeout", "30", NULL};
    const char *const *runs[] = {send, inbox, status, freeze, mlat};

    snprintf(state, sizeof(state), "%s/refused-state", f->dir);
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        char err[4096];
        uint64_t ms = 0;
        int rc = run_timed(f, runs[i], &ms, err, sizeof(err));

        print_message("liaison %s with %s: exit %d after %llu ms\n", runs[i][0], who, rc,
                      (unsigned long long)ms);
        if (rc != 77 || strstr(err, "refused the key") == NULL)
            fail_msg("liaison %s with %s: exit %d, stderr: %s", runs[i][0], who, rc, err);
        /* Far below the 30 s timeout: the refusal is not waited out. */
        assert_true(ms < 15 * SECOND);
    }
}

/* A partner whose broker card the roster already revokes when the broker
 * starts is cut off as at a reload (not a configuration error): the broker
 * starts, does not dial it, keeps what is for it queued, and forwards it
 * once a reload reinstates the card. */
static void
test_revoke_partner_revoked_at_start(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    liaison_client *fbi, *rcmp;
    uint8_t id[16];
    uint8_t *saved;
    size_t saved_len;
    wait_ctx w = {f, "B-PEER-REVOKED", 1};

    (void)state;
    fed_start(f, "CAN");
    saved = test_read_file(f->roster, &saved_len);
    assert_non_null(saved);
    /* CAN's own agency reads the roster before it names CAN revoked. */
    rcmp = fed_client(f, "CAN/RCMP", true);
    roster_revoke(f, "CAN");
    fed_start(f, "USA");
    assert_true(fed_wait_until(usa_logged, &w, 20 * SECOND));
    fbi = fed_client(f, "USA/FBI", true);
    send_partner(fbi, "CAN/RCMP", id);
    assert_false(receive_id(rcmp, id, 4 * SECOND));
    write_file(f->roster, saved, saved_len);
    fed_reload(f, "USA");
    w.needle = "B-PEER-REINSTATED";
    assert_true(fed_wait_until(usa_logged, &w, 20 * SECOND));
    assert_true(receive_id(rcmp, id, 60 * SECOND));
    liaison_client_close(&fbi);
    liaison_client_close(&rcmp);
    free(saved);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_destroy(&f);
}

static void
test_revoke_cli_refused_key_exits_77(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    char stranger[1100];
    wait_ctx w = {f, "id=B-RELOAD ", 1};

    (void)state;
    fed_start(f, "USA");
    /* A key the roster does not hold. */
    {
        proto_identity *id = NULL;
        proto_addr a;

        snprintf(stranger, sizeof(stranger), "%s/stranger.key", f->dir);
        assert_int_equal(proto_addr_parse("USA/FBI", &a, NULL), PROTO_OK);
        assert_int_equal(proto_identity_generate(&a, &id), PROTO_OK);
        assert_int_equal(proto_keyfile_write(id, stranger, NULL), PROTO_OK);
        proto_identity_destroy(&id);
    }
    expect_refused(f, stranger, "a key absent from the roster");
    /* A revoked key. */
    roster_revoke(f, "USA/FBI");
    fed_reload(f, "USA");
    assert_true(fed_wait_until(logged, &w, 20 * SECOND));
    expect_refused(f, fed_agency_get(f, "USA/FBI")->key, "a revoked key");
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_revoke_reload_closes_open_session, fed_destroy_all),
        cmocka_unit_test_teardown(test_revoke_reload_closes_partner_connection, fed_destroy_all),
        cmocka_unit_test_teardown(test_revoke_partner_revoked_at_start, fed_destroy_all),
        cmocka_unit_test_teardown(test_revoke_cli_refused_key_exits_77, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("revoke", tests, NULL, NULL);
}
