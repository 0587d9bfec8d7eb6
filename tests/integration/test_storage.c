/* Integration tests of a broker's store under faults: a damaged envelope at
 * rest, an envelope that does not verify at the recipient, and a data file
 * truncated, emptied or deleted while the broker is down. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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

/* What a process did: its raw wait status and what it printed. */
typedef struct run_result {
    int status;           /* from waitpid; -1 if it had to be killed */
    char out[16384];      /* its stdout and stderr */
} run_result;

/*
 * Runs bin with argv (argv[0] is its name, NULL-ended), its stdout and
 * stderr into r->out, env (NULL-ended "K=V" strings, may be NULL) added to
 * the environment.  A process still running after 60 s is killed: a broker
 * that should have refused to start but serves instead.
 */
static void
run(const char *bin, const char *const *argv, const char *const *env, run_result *r)
{
    char path[] = "/tmp/liaison-test-run-XXXXXX";
    int fd = mkstemp(path);
    uint64_t deadline = in_ms(60 * SECOND);
    pid_t pid;
    ssize_t n;

    assert_true(fd >= 0);
    memset(r, 0, sizeof(*r));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
        close(fd);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)(uintptr_t)env[i]);
        execv(bin, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    for (;;) {
        if (waitpid(pid, &r->status, WNOHANG) == pid)
            break;
        if (liaison_now_ms() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            r->status = -1;
            break;
        }
        usleep(20000);
    }
    n = pread(fd, r->out, sizeof(r->out) - 1, 0);
    r->out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
}

/* Asserts that r ended by itself, not by a signal, with status want. */
static void
assert_exit(const run_result *r, int want, const char *what)
{
    if (r->status == -1)
        fail_msg("%s did not exit within 60 s; it printed: %s", what, r->out);
    if (WIFSIGNALED(r->status))
        fail_msg("%s died of signal %d; it printed: %s", what, WTERMSIG(r->status), r->out);
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != want)
        fail_msg("%s exited %d, not %d; it printed: %s", what, WEXITSTATUS(r->status), want,
                 r->out);
}

static const char *
tool_bin(void)
{
    const char *bin = getenv("LIAISON_TOOL_BIN");

    if (bin == NULL)
        fail_msg("LIAISON_TOOL_BIN is not set");
    return bin;
}

static const char *
broker_bin(void)
{
    const char *bin = getenv("LIAISON_BROKER_BIN");

    if (bin == NULL)
        fail_msg("LIAISON_BROKER_BIN is not set");
    return bin;
}

/* Seals a message of kind with labels for `to`, keeps its envelope in
 * env_out (malloc'd), and sends it; fails the test if it is not accepted. */
static void
seal_and_send_as(liaison_client *c, const char *kind, const char *labels, const char *to,
                 const char *text, uint8_t id[16], uint8_t **env_out, size_t *len_out)
{
    liaison_message *m = NULL;
    const uint8_t *data = NULL;
    size_t len = 0;

    assert_int_equal(liaison_message_new(kind, &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", text, strlen(text), NULL), LIAISON_OK);
    assert_int_equal(liaison_message_seal(c, m, id), LIAISON_OK);
    assert_int_equal(liaison_message_envelope(m, &data, &len), LIAISON_OK);
    *env_out = malloc(len);
    assert_non_null(*env_out);
    memcpy(*env_out, data, len);
    *len_out = len;
    if (liaison_send(c, m, id, in_ms(10 * SECOND)) != LIAISON_OK)
        fail_msg("send to %s: %s", to, liaison_client_error(c));
    liaison_message_destroy(&m);
}

/* A traveldoc.check within the nation. */
static void
seal_and_send(liaison_client *c, const char *to, const char *text, uint8_t id[16],
              uint8_t **env_out, size_t *len_out)
{
    seal_and_send_as(c, "traveldoc.check", "LES//PURPOSE:border check", to, text, id, env_out,
                     len_out);
}

/* The state of id for recipient in the sender's status, or "none". */
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

/* Flips one byte, at offset `at` from the start of every copy of needle in
 * the file at path (LMDB may hold older copies of a page in free pages);
 * returns how many copies it changed. */
static size_t
flip_in_file(const char *path, const uint8_t *needle, size_t len, long at)
{
    struct stat st;
    uint8_t *buf;
    size_t hits = 0;
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(fstat(fd, &st), 0);
    buf = malloc((size_t)st.st_size);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    for (uint8_t *p = buf;
         (p = memmem(p, (size_t)st.st_size - (size_t)(p - buf), needle, len)) != NULL; p += len) {
        off_t where = (off_t)(p - buf) + (off_t)at;
        uint8_t b;

        assert_true(where >= 0 && where < st.st_size);
        b = (uint8_t)(buf[where] ^ 0x01);
        assert_int_equal(pwrite(fd, &b, 1, where), 1);
        hits++;
    }
    assert_int_equal(fsync(fd), 0);
    close(fd);
    free(buf);
    return hits;
}

/* Runs `liaison audit log --data DIR --event EVENT` into r. */
static void
audit_log(fed_nation *n, const char *event, run_result *r)
{
    const char *argv[] = {"liaison", "audit", "log", "--data", n->data, "--event", event, NULL};

    run(tool_bin(), argv, NULL, r);
}

/* ---- A damaged envelope at rest ----------------------------------------------- */

/*
 * Nemesis: one bit of a queued envelope flipped on disk while the broker is
 * down.  The broker must not deliver it (nor anything that claims to be
 * it), must tell the sender `damaged` (never receipted), audit it, and let
 * the rest of the queue go on.
 */
static void
test_storage_damaged_envelope_not_delivered(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    fed_nation *usa = fed_nation_get(f, "USA");
    liaison_client *fbi, *cbp;
    uint8_t bad_id[16], meta_id[16], good_id[16], *bad_env = NULL, *meta_env = NULL,
        *good_env = NULL;
    size_t bad_len = 0, meta_len = 0, good_len = 0, messages = 0;
    char path[1100], hex[33], metrics[65536];
    liaison_event *report = NULL;
    run_result r;

    (void)state;
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", true);
    /* USA/CBP is offline: all wait in its queue, the damaged ones first. */
    seal_and_send(fbi, "USA/CBP", "is passport X1234567 known?", bad_id, &bad_env, &bad_len);
    seal_and_send(fbi, "USA/CBP", "is passport Z1111111 known?", meta_id, &meta_env, &meta_len);
    seal_and_send(fbi, "USA/CBP", "is passport Y7654321 known?", good_id, &good_env, &good_len);
    assert_string_equal(state_of(fbi, bad_id, "USA/CBP"), "queued");
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);

    snprintf(path, sizeof(path), "%s/store/data.mdb", usa->data);
    /* A byte in the middle of the envelope: not the id or the sender the
     * store indexes, but bytes the signature covers. */
    assert_true(flip_in_file(path, bad_env, bad_len, (long)(bad_len / 2)) >= 1);
    /* And the first byte of what the store keeps beside another (its
     * format byte, before the times, "USA/FBI" and "traveldoc.check"):
     * that one no longer decodes at all. */
    assert_true(flip_in_file(path, meta_env, meta_len,
                             -(long)(1 + 24 + 1 + strlen("USA/FBI") + 1 +
                                     strlen("traveldoc.check"))) >= 1);

    fed_start(f, "USA");
    cbp = fed_client(f, "USA/CBP", true);
    /* The intact message comes; the damaged one never does, in any form. */
    for (;;) {
        liaison_event *e = NULL;
        liaison_err err = liaison_receive(cbp, &e, in_ms(5 * SECOND));

        if (err == LIAISON_ERR_TIMEOUT)
            break;
        if (err != LIAISON_OK)
            fail_msg("the recipient was handed something that does not verify: %s",
                     liaison_client_error(cbp));
        assert_int_equal(e->type, LIAISON_EVENT_MESSAGE);
        assert_memory_not_equal(e->id, bad_id, 16);
        assert_memory_not_equal(e->id, meta_id, 16);
        assert_memory_equal(e->id, good_id, 16);
        messages++;
        assert_int_equal(liaison_receipt(cbp, e), LIAISON_OK);
        liaison_event_free(&e);
    }
    assert_int_equal(messages, 1);

    /* The sender learns it, signed, and status says so: not receipted. */
    fbi = fed_client(f, "USA/FBI", true);
    assert_true(fed_wait_report(fbi, bad_id, "USA/CBP", "damaged", &report, 15 * SECOND));
    assert_non_null(strstr(report->detail, "send it again"));
    liaison_event_free(&report);
    assert_string_equal(state_of(fbi, bad_id, "USA/CBP"), "damaged");
    assert_true(fed_wait_report(fbi, meta_id, "USA/CBP", "damaged", NULL, 15 * SECOND));
    assert_string_equal(state_of(fbi, good_id, "USA/CBP"), "receipted");
    assert_int_equal(fed_metrics(f, "USA", metrics, sizeof(metrics)), 0);
    assert_non_null(strstr(metrics, "liaison_messages_damaged_total 2\n"));
    liaison_client_close(&fbi);
    liaison_client_close(&cbp);
    assert_int_equal(fed_stop(f, "USA"), 0);

    /* Logged with its id, audited, and the audit log still verifies. */
    liaison_id_to_hex(bad_id, hex);
    assert_true(fed_log_count(f, "USA", "B-ENVELOPE-DAMAGED") >= 1);
    audit_log(usa, "damaged", &r);
    assert_exit(&r, 0, "liaison audit log --event damaged");
    assert_non_null(strstr(r.out, hex));
    fed_assert_audit_verifies(f, "USA");
    free(bad_env);
    free(meta_env);
    free(good_env);
    fed_destroy(&f);
}

/* The same nemesis on a message queued for a partner broker: it must not be
 * forwarded, and its recipient there is reported damaged. */
static void
test_storage_damaged_envelope_not_forwarded(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    fed_nation *usa = fed_nation_get(f, "USA");
    liaison_client *fbi, *rcmp;
    uint8_t id[16], *env = NULL;
    size_t len = 0;
    char path[1100], metrics[65536];
    liaison_event *e = NULL;
    liaison_err err;

    (void)state;
    fed_start(f, "USA"); /* CAN is down: the message waits in USA's queue toward it */
    fbi = fed_client(f, "USA/FBI", true);
    seal_and_send_as(fbi, "watchlist.publish", "LES//REL TO CAN,USA", "CAN/RCMP",
                     "subject: John DOE, born 1980-02-29", id, &env, &len);
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    snprintf(path, sizeof(path), "%s/store/data.mdb", usa->data);
    assert_true(flip_in_file(path, env, len, (long)(len / 2)) >= 1);

    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", true);
    assert_true(fed_wait_report(fbi, id, "CAN/RCMP", "damaged", NULL, 20 * SECOND));
    assert_string_equal(state_of(fbi, id, "CAN/RCMP"), "damaged");
    assert_int_equal(fed_metrics(f, "USA", metrics, sizeof(metrics)), 0);
    assert_non_null(strstr(metrics, "liaison_messages_damaged_total 1\n"));
    /* Nothing reached the recipient. */
    rcmp = fed_client(f, "CAN/RCMP", true);
    err = liaison_receive(rcmp, &e, in_ms(3 * SECOND));
    if (err == LIAISON_OK)
        fail_msg("CAN/RCMP was handed %s %s",
                 e->type == LIAISON_EVENT_MESSAGE ? "message" : "report", e->id_hex);
    assert_int_equal(err, LIAISON_ERR_TIMEOUT);
    liaison_client_close(&rcmp);
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_true(fed_log_count(f, "USA", "B-ENVELOPE-DAMAGED") >= 1);
    fed_assert_audit_verifies(f, "USA");
    free(env);
    fed_destroy(&f);
}

/* ---- An envelope that does not verify at the recipient -------------------------- */

/*
 * A broker that does not check signatures (verify_signatures: false) takes
 * an envelope whose signature was damaged before it was sent.  The
 * recipient's library must not hand it out as a message nor receipt it,
 * and must say so; `liaison inbox` names it and exits non-zero.
 */
static void
test_storage_unverifiable_delivery_not_receipted(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, "verify_signatures: false\n");
    fed_nation *usa = fed_nation_get(f, "USA");
    fed_agency *cbp_agency = fed_agency_get(f, "USA/CBP");
    liaison_client *fbi, *cbp;
    liaison_message *m = NULL;
    uint8_t id[16], *env = NULL, id2[16];
    size_t len = 0;
    char hex[33], key_env[1100], roster_env[1100], broker_env[128];
    liaison_err err;
    liaison_event *e = NULL;
    run_result r;

    (void)state;
    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", true);
    {
        liaison_message *sealed = NULL;
        const uint8_t *data = NULL;

        assert_int_equal(liaison_message_new("traveldoc.check", &sealed), LIAISON_OK);
        assert_int_equal(liaison_message_add_recipient(sealed, "USA/CBP"), LIAISON_OK);
        assert_int_equal(liaison_message_add_portion(sealed, "LES", "x", 1, NULL), LIAISON_OK);
        assert_int_equal(liaison_message_seal(fbi, sealed, id), LIAISON_OK);
        assert_int_equal(liaison_message_envelope(sealed, &data, &len), LIAISON_OK);
        env = malloc(len);
        assert_non_null(env);
        memcpy(env, data, len);
        liaison_message_destroy(&sealed);
    }
    env[len - 1] ^= 0x01; /* the last byte of the signature */
    assert_int_equal(liaison_message_from_envelope(env, len, &m, id2), LIAISON_OK);
    assert_memory_equal(id, id2, 16);
    assert_int_equal(liaison_send(fbi, m, NULL, in_ms(10 * SECOND)), LIAISON_OK);
    liaison_message_destroy(&m);
    liaison_id_to_hex(id, hex);

    /* The library says what, which and why, and hands out no message. */
    cbp = fed_client(f, "USA/CBP", true);
    err = liaison_receive(cbp, &e, in_ms(15 * SECOND));
    assert_int_equal(err, LIAISON_ERR_SIGNATURE);
    assert_null(e);
    assert_non_null(strstr(liaison_client_error(cbp), hex));
    assert_non_null(strstr(liaison_client_error(cbp), "USA/FBI"));
    assert_non_null(strstr(liaison_client_error(cbp), "not receipted"));
    assert_int_equal(liaison_receive(cbp, &e, in_ms(2 * SECOND)), LIAISON_ERR_TIMEOUT);
    liaison_client_close(&cbp);
    /* Nothing was receipted: the broker still holds it as delivered. */
    assert_string_equal(state_of(fbi, id, "USA/CBP"), "delivered");

    /* The tool names it and exits with a failure. */
    snprintf(key_env, sizeof(key_env), "LIAISON_KEY=%s", cbp_agency->key);
    snprintf(roster_env, sizeof(roster_env), "LIAISON_ROSTER=%s", f->roster);
    snprintf(broker_env, sizeof(broker_env), "LIAISON_BROKER=%s", usa->agency_endpoint);
    {
        const char *argv[] = {"liaison", "inbox", "--wait", "3", NULL};
        const char *envv[] = {key_env, roster_env, broker_env, NULL};

        run(tool_bin(), argv, envv, &r);
    }
    assert_exit(&r, 76, "liaison inbox");
    assert_non_null(strstr(r.out, hex));
    assert_non_null(strstr(r.out, "does not verify"));
    assert_string_equal(state_of(fbi, id, "USA/CBP"), "delivered");
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);
    free(env);
    fed_destroy(&f);
}

/* ---- A data file truncated, emptied or deleted ---------------------------------- */

typedef enum damage {
    DAMAGE_HALF = 1,     /* truncated to half its size */
    DAMAGE_EMPTY = 2,    /* truncated to 0 bytes */
    DAMAGE_DELETED = 3,  /* removed */
} damage;

/*
 * Nemesis: the data file of a stopped broker that holds a queue and an
 * audit history is cut short or removed.  Neither the broker nor `liaison
 * audit verify` may die of a signal or start afresh: each exits with the
 * documented status and names the file, and nothing makes a new store.
 */
static void
storage_damage(damage how, int broker_status, int audit_status, const char *phrase)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    fed_nation *usa = fed_nation_get(f, "USA");
    liaison_client *fbi;
    char path[1100], text[1100];
    struct stat st;
    off_t damaged_size;
    run_result r;

    fed_start(f, "USA");
    fbi = fed_client(f, "USA/FBI", true);
    /* Enough queued (for USA/CBP, offline) that half the file is many pages. */
    memset(text, 'x', 1000);
    text[1000] = '\0';
    for (int i = 0; i < 300; i++) {
        uint8_t id[16], *env = NULL;
        size_t len = 0;

        seal_and_send(fbi, "USA/CBP", text, id, &env, &len);
        free(env);
    }
    liaison_client_close(&fbi);
    assert_int_equal(fed_stop(f, "USA"), 0);

    snprintf(path, sizeof(path), "%s/store/data.mdb", usa->data);
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size >= 512 * 1024);
    switch (how) {
    case DAMAGE_HALF: assert_int_equal(truncate(path, st.st_size / 2), 0); break;
    case DAMAGE_EMPTY: assert_int_equal(truncate(path, 0), 0); break;
    case DAMAGE_DELETED: assert_int_equal(unlink(path), 0); break;
    }
    damaged_size = how == DAMAGE_DELETED ? -1 : (how == DAMAGE_EMPTY ? 0 : st.st_size / 2);

    {
        const char *argv[] = {"liaison-broker", "--config", usa->config, NULL};

        run(broker_bin(), argv, NULL, &r);
    }
    assert_exit(&r, broker_status, "liaison-broker");
    assert_non_null(strstr(r.out, path));
    assert_non_null(strstr(r.out, phrase));
    {
        const char *argv[] = {"liaison", "audit", "verify", "--data", usa->data, NULL};

        run(tool_bin(), argv, NULL, &r);
    }
    assert_exit(&r, audit_status, "liaison audit verify");
    assert_non_null(strstr(r.out, "data.mdb"));
    /* --init does not make a new store over what is left either. */
    {
        const char *argv[] = {"liaison-broker", "--config", usa->config, "--init", NULL};

        run(broker_bin(), argv, NULL, &r);
    }
    assert_false(WIFSIGNALED(r.status));
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) != 0);
    /* Nothing wrote to what is left, or made a new file. */
    if (how == DAMAGE_DELETED)
        assert_int_not_equal(stat(path, &st), 0);
    else
        assert_true(stat(path, &st) == 0 && st.st_size == damaged_size);
    fed_destroy(&f);
}

static void
test_storage_data_file_truncated_to_half(void **state)
{
    (void)state;
    storage_damage(DAMAGE_HALF, 65, 65, "truncated");
}

static void
test_storage_data_file_truncated_to_zero(void **state)
{
    (void)state;
    storage_damage(DAMAGE_EMPTY, 65, 65, "empty (0 bytes)");
}

static void
test_storage_data_file_deleted(void **state)
{
    (void)state;
    storage_damage(DAMAGE_DELETED, 66, 66, "is missing");
}

/* A store is made by --init alone: not by a plain start, never twice. */
static void
test_storage_store_created_only_by_init(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    fed_nation *usa = fed_nation_get(f, "USA");
    const char *start[] = {"liaison-broker", "--config", usa->config, NULL};
    const char *init[] = {"liaison-broker", "--config", usa->config, "--init", NULL};
    char path[1100];
    struct stat st;
    run_result r;

    (void)state;
    run(broker_bin(), start, NULL, &r);
    assert_exit(&r, 66, "liaison-broker on an empty data directory");
    assert_non_null(strstr(r.out, "--init"));
    snprintf(path, sizeof(path), "%s/store/data.mdb", usa->data);
    assert_int_not_equal(stat(path, &st), 0);

    run(broker_bin(), init, NULL, &r);
    assert_exit(&r, 0, "liaison-broker --init");
    assert_non_null(strstr(r.out, "created an empty store"));
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/store.created", usa->data);
    assert_int_equal(stat(path, &st), 0);

    run(broker_bin(), init, NULL, &r);
    assert_exit(&r, 73, "liaison-broker --init a second time");
    assert_non_null(strstr(r.out, "holds a store already"));

    fed_start(f, "USA"); /* the store exists: it starts */
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_storage_damaged_envelope_not_delivered, fed_destroy_all),
        cmocka_unit_test_teardown(test_storage_damaged_envelope_not_forwarded, fed_destroy_all),
        cmocka_unit_test_teardown(test_storage_unverifiable_delivery_not_receipted, fed_destroy_all),
        cmocka_unit_test_teardown(test_storage_data_file_truncated_to_half, fed_destroy_all),
        cmocka_unit_test_teardown(test_storage_data_file_truncated_to_zero, fed_destroy_all),
        cmocka_unit_test_teardown(test_storage_data_file_deleted, fed_destroy_all),
        cmocka_unit_test_teardown(test_storage_store_created_only_by_init, fed_destroy_all),
    };

    signal(SIGPIPE, SIG_IGN);
    if (proto_init() != PROTO_OK)
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
