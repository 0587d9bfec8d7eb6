/* Reloads and start-up checks of liaison-broker: a reload refuses what start-up refuses. */
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

/* Sends one watchlist message from c to `to`; returns the client's result. */
static liaison_err
try_send(liaison_client *c, const char *to, const char *labels, unsigned ms)
{
    liaison_message *m = NULL;
    uint8_t id[16];
    liaison_err rc;

    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, to), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, labels), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", "entry", 5, NULL), LIAISON_OK);
    rc = liaison_send(c, m, id, in_ms(ms));
    if (rc == LIAISON_ERR_REJECTED) {
        const char *why = "";

        (void)liaison_client_rejection(c, &why);
        fprintf(stderr, "# %s rejected: %s\n", to, why);
    }
    liaison_message_destroy(&m);
    return rc;
}

/* The agencies' side: copies of their keys and of the roster as it was at
 * first, in a directory of their own, so that what a test does to the
 * broker's files and directory leaves the clients as they were. */
static char client_dir[512];

static void
copy_file(const char *from, const char *dir, const char *name, mode_t mode)
{
    char to[1024];
    uint8_t *text;
    size_t len;
    int fd;

    snprintf(to, sizeof(to), "%s/%s", dir, name);
    text = test_read_file(from, &len);
    assert_non_null(text);
    fd = open(to, O_WRONLY | O_CREAT | O_EXCL, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    free(text);
}

static void
clients_prepare(fed *f)
{
    test_scratch_dir(client_dir, sizeof(client_dir));
    copy_file(f->roster, client_dir, "roster", 0644);
    for (size_t i = 0; i < f->agency_count; i++)
        copy_file(f->agencies[i].key, client_dir, f->agencies[i].addr + 4, 0600);
}

static int
clients_remove(void **state)
{
    if (client_dir[0] != '\0')
        test_scratch_remove(client_dir);
    client_dir[0] = '\0';
    return fed_destroy_all(state);
}

/* Sends from a new connection of agency addr: the handshake consults the
 * roster in force at the broker now. */
static liaison_err
send_fresh(fed *f, const char *addr, const char *to, const char *labels, unsigned ms)
{
    liaison_config cfg;
    liaison_client *c = NULL;
    char key[1024], roster[1024], why[512];
    liaison_err rc;

    snprintf(key, sizeof(key), "%s/%s", client_dir, addr + 4);
    snprintf(roster, sizeof(roster), "%s/roster", client_dir);
    memset(&cfg, 0, sizeof(cfg));
    cfg.key_file = key;
    cfg.roster_file = roster;
    cfg.endpoint = fed_nation_get(f, "USA")->agency_endpoint;
    cfg.actor = "badge-4411";
    if (liaison_client_open(&cfg, &c, why, sizeof(why)) != LIAISON_OK)
        fail_msg("client %s: %s", addr, why);
    rc = try_send(c, to, labels, ms);
    liaison_client_close(&c);
    return rc;
}

typedef struct reloads {
    fed *f;            /* the federation */
    size_t want;       /* B-RELOAD lines to wait for */
} reloads;

static bool
reloaded(void *ctx)
{
    reloads *r = ctx;

    return fed_log_count(r->f, "USA", "id=B-RELOAD ") >= r->want;
}

/* Sends SIGHUP to USA's broker and waits until it has finished the reload. */
static void
reload_usa(fed *f)
{
    reloads r = {f, fed_log_count(f, "USA", "id=B-RELOAD ") + 1};

    fed_reload(f, "USA");
    assert_true(fed_wait_until(reloaded, &r, 10 * SECOND));
}

static void
write_file(const char *path, const char *text, size_t len)
{
    FILE *out = fopen(path, "wb");

    assert_non_null(out);
    assert_int_equal(fwrite(text, 1, len, out), len);
    assert_int_equal(fclose(out), 0);
}

/* Cuts the card of identity (e.g. "USA") out of roster text, in place. */
static void
cut_card(char *text, const char *identity)
{
    char needle[64];
    char *start, *end;

    snprintf(needle, sizeof(needle), "\ncard\nidentity %s\n", identity);
    start = strstr(text, needle);
    assert_non_null(start);
    end = strstr(start + 1, "\nend\n");
    assert_non_null(end);
    memmove(start, end + 4, strlen(end + 4) + 1);
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

/* ---- The policy: only this nation's ------------------------------------------------ */

static void
test_reload_refuses_another_nations_policy(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    char *usa_text, *can_text;
    size_t usa_len, can_len;
    liaison_client *fbi;

    (void)state;
    fed_start(f, "USA");
    fed_start(f, "CAN");
    fbi = fed_client(f, "USA/FBI", false);
    assert_int_equal(try_send(fbi, "CAN/RCMP", "LES//REL TO CAN,USA", 10 * SECOND), LIAISON_OK);
    /* CAN's policy in USA's place: a valid file, but not USA's.  Taken as
     * USA's, it would have no rules toward CAN and deny all of USA's
     * traffic there. */
    usa_text = (char *)test_read_file(fed_nation_get(f, "USA")->policy, &usa_len);
    can_text = (char *)test_read_file(fed_nation_get(f, "CAN")->policy, &can_len);
    assert_non_null(usa_text);
    assert_non_null(can_text);
    write_file(fed_nation_get(f, "USA")->policy, can_text, can_len);
    reload_usa(f);
    /* USA's own policy still decides: the same message is released. */
    assert_int_equal(try_send(fbi, "CAN/RCMP", "LES//REL TO CAN,USA", 10 * SECOND), LIAISON_OK);
    assert_true(fed_log_count(f, "USA", "is the policy of CAN, not USA") >= 1);
    assert_true(fed_log_count(f, "USA", "kept the old policy") >= 1);
    assert_true(fed_log_count(f, "USA", "policy=kept") >= 1);
    assert_int_equal(fed_metric(f, "USA", "liaison_policy_reloads_total{result=\"failed\"}"), 1);
    assert_int_equal(fed_metric(f, "USA", "liaison_policy_reloads_total{result=\"ok\"}"), 0);
    /* USA's policy again: taken. */
    write_file(fed_nation_get(f, "USA")->policy, usa_text, usa_len);
    reload_usa(f);
    assert_int_equal(fed_metric(f, "USA", "liaison_policy_reloads_total{result=\"ok\"}"), 1);
    assert_int_equal(try_send(fbi, "CAN/RCMP", "LES//REL TO CAN,USA", 10 * SECOND), LIAISON_OK);
    liaison_client_close(&fbi);
    free(usa_text);
    free(can_text);
    assert_int_equal(fed_stop(f, "USA"), 0);
    audit_has(f, "USA", "policy refused");
    audit_has(f, "USA", "is the policy of CAN");
    fed_destroy(&f);
}

/* ---- The roster: the broker's own card and its peers' ------------------------------- */

static void
test_reload_refuses_roster_without_own_or_peer_card(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    char *text, out[4096];
    size_t len;

    (void)state;
    clients_prepare(f);
    fed_start(f, "USA");
    fed_start(f, "CAN");
    assert_int_equal(send_fresh(f, "USA/FBI", "USA/CBP", "LES", 10 * SECOND), LIAISON_OK);
    /* Every roster below also revokes USA/FBI: had the broker taken it,
     * USA/FBI would be refused at its next handshake. */
    {
        const char *args[] = {"roster", "revoke", f->roster, "USA/FBI", "--reason", "test", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
    }
    text = (char *)test_read_file(f->roster, &len);
    assert_non_null(text);

    /* Without the broker's own card. */
    {
        char *copy = strdup(text);

        cut_card(copy, "USA");
        write_file(f->roster, copy, strlen(copy));
        free(copy);
    }
    reload_usa(f);
    assert_int_equal(send_fresh(f, "USA/FBI", "USA/CBP", "LES", 10 * SECOND), LIAISON_OK);
    assert_true(fed_log_count(f, "USA", "has no active card matching") >= 1);
    assert_true(fed_log_count(f, "USA", "kept the old roster") >= 1);
    assert_int_equal(fed_metric(f, "USA", "liaison_roster_reloads_total{result=\"failed\"}"), 1);

    /* Without the card of a peer. */
    {
        char *copy = strdup(text);

        cut_card(copy, "CAN");
        write_file(f->roster, copy, strlen(copy));
        free(copy);
    }
    reload_usa(f);
    assert_int_equal(send_fresh(f, "USA/FBI", "USA/CBP", "LES", 10 * SECOND), LIAISON_OK);
    assert_true(fed_log_count(f, "USA", "no broker card for the peer CAN") >= 1);
    assert_int_equal(fed_metric(f, "USA", "liaison_roster_reloads_total{result=\"failed\"}"), 2);

    /* The whole roster: taken, and USA/FBI is refused from then on. */
    write_file(f->roster, text, len);
    reload_usa(f);
    assert_int_equal(fed_metric(f, "USA", "liaison_roster_reloads_total{result=\"ok\"}"), 1);
    assert_int_equal(send_fresh(f, "USA/FBI", "USA/CBP", "LES", 10 * SECOND), LIAISON_ERR_REFUSED);
    assert_int_equal(send_fresh(f, "USA/CBP", "CAN/RCMP", "LES//REL TO CAN,USA", 10 * SECOND), LIAISON_OK);
    free(text);
    assert_int_equal(fed_stop(f, "USA"), 0);
    audit_has(f, "USA", "roster refused");
    fed_destroy(&f);
}

/* ---- Files others can write ------------------------------------------------------------ */

static void
test_reload_refuses_writable_roster_and_policy(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    char out[4096];

    (void)state;
    clients_prepare(f);
    fed_start(f, "USA");
    {
        const char *args[] = {"roster", "revoke", f->roster, "USA/FBI", "--reason", "test", NULL};

        assert_int_equal(fed_run_tool(args, out, sizeof(out)), 0);
    }
    /* Anyone could have written these: refused, the old ones stay. */
    assert_int_equal(chmod(f->roster, 0666), 0);
    assert_int_equal(chmod(fed_nation_get(f, "USA")->policy, 0646), 0);
    reload_usa(f);
    assert_int_equal(send_fresh(f, "USA/FBI", "USA/CBP", "LES", 10 * SECOND), LIAISON_OK);
    assert_true(fed_log_count(f, "USA", "has mode 0666: group and others must not") >= 1);
    assert_true(fed_log_count(f, "USA", "has mode 0646: group and others must not") >= 1);
    assert_true(fed_log_count(f, "USA", "policy=kept roster=kept") >= 1);
    /* A directory others can write: the same. */
    assert_int_equal(chmod(f->roster, 0644), 0);
    assert_int_equal(chmod(fed_nation_get(f, "USA")->policy, 0644), 0);
    assert_int_equal(chmod(f->dir, 0777), 0);
    reload_usa(f);
    assert_true(fed_log_count(f, "USA", "has mode 0777: group and others must not") >= 2);
    assert_int_equal(send_fresh(f, "USA/FBI", "USA/CBP", "LES", 10 * SECOND), LIAISON_OK);
    /* Closed again: taken. */
    assert_int_equal(chmod(f->dir, 0700), 0);
    reload_usa(f);
    assert_true(fed_log_count(f, "USA", "policy=reloaded roster=reloaded") >= 1);
    assert_int_equal(send_fresh(f, "USA/FBI", "USA/CBP", "LES", 10 * SECOND), LIAISON_ERR_REFUSED);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

/* Runs liaison-broker --config config --check; returns its exit status and
 * its stderr in err. */
static int
broker_check(const char *config, char *err, size_t err_len)
{
    const char *bin = getenv("LIAISON_BROKER_BIN");
    char path[1100];
    pid_t pid;
    int status = -1;
    uint8_t *text;
    size_t len = 0;

    assert_non_null(bin);
    snprintf(path, sizeof(path), "%s.check-err", config);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

        if (fd >= 0) {
            dup2(fd, STDERR_FILENO);
            dup2(fd, STDOUT_FILENO);
            close(fd);
        }
        execl(bin, "liaison-broker", "--config", config, "--check", (char *)NULL);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    text = test_read_file(path, &len);
    snprintf(err, err_len, "%.*s", (int)len, text != NULL ? (const char *)text : "");
    free(text);
    unlink(path);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_start_refuses_writable_files(void **state)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    fed_nation *usa = fed_nation_get(f, "USA");
    char err[2048];

    (void)state;
    assert_int_equal(broker_check(usa->config, err, sizeof(err)), 0);
    assert_int_equal(chmod(f->roster, 0666), 0);
    assert_int_equal(broker_check(usa->config, err, sizeof(err)), 78);
    assert_non_null(strstr(err, "roster"));
    assert_non_null(strstr(err, "has mode 0666"));
    assert_int_equal(chmod(f->roster, 0644), 0);
    assert_int_equal(chmod(usa->policy, 0664), 0);
    assert_int_equal(broker_check(usa->config, err, sizeof(err)), 78);
    assert_non_null(strstr(err, "has mode 0664"));
    assert_int_equal(chmod(usa->policy, 0644), 0);
    assert_int_equal(chmod(usa->config, 0666), 0);
    assert_int_equal(broker_check(usa->config, err, sizeof(err)), 78);
    assert_non_null(strstr(err, "configuration"));
    assert_int_equal(chmod(usa->config, 0644), 0);
    /* The directory that holds the broker's key (and everything else here). */
    assert_int_equal(chmod(f->dir, 0770), 0);
    assert_int_equal(broker_check(usa->config, err, sizeof(err)), 78);
    assert_non_null(strstr(err, "has mode 0770"));
    assert_int_equal(chmod(f->dir, 0700), 0);
    assert_int_equal(broker_check(usa->config, err, sizeof(err)), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_reload_refuses_another_nations_policy, fed_destroy_all),
        cmocka_unit_test_teardown(test_reload_refuses_roster_without_own_or_peer_card,
                                  clients_remove),
        cmocka_unit_test_teardown(test_reload_refuses_writable_roster_and_policy, clients_remove),
        cmocka_unit_test_teardown(test_start_refuses_writable_files, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}
