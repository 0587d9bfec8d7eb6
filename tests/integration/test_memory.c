/* The broker's memory stays bounded whatever authenticated agencies send. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define MIB (1024u * 1024u)
/* BROKER_GUARD_MESSAGES: the bound is written in terms of it. */
#define GUARD_MESSAGES 16u
#define ATTACKERS 2u

/* The test broker's max_message_bytes: the largest frame it takes is this
 * plus 64 KiB (docs/operations.md, "Memory").  1 MiB, or
 * LIAISON_MEMORY_TEST_MIB MiB to measure other sizes. */
static unsigned max_message = MIB; /* bytes */
/* Frames of one attacking message: each as large as a legitimate frame may
 * be, 256 MiB in all at 1 MiB, which libzmq would hold whole before the
 * broker could read a byte of it; LIAISON_MEMORY_TEST_FRAMES to change. */
static unsigned attack_frames = 256u; /* frames */

/* A raw CURVE connection as one agency, to send what no client library would. */
typedef struct raw {
    void *ctx;                  /* ZeroMQ context */
    void *sock;                 /* DEALER */
    proto_identity *id;         /* the agency's keys */
} raw;

static raw *
raw_open(fed *f, const char *agency)
{
    raw *r = calloc(1, sizeof(*r));
    proto_roster *roster = NULL;
    proto_addr broker;
    const proto_roster_entry *e;
    int linger = 0, timeout = 20000;

    assert_non_null(r);
    assert_int_equal(proto_keyfile_read(fed_agency_get(f, agency)->key, &r->id, NULL), PROTO_OK);
    assert_int_equal(proto_roster_load(f->roster, &roster, NULL), PROTO_OK);
    assert_int_equal(proto_addr_parse(r->id->addr.nation, &broker, NULL), PROTO_OK);
    e = proto_roster_find(roster, &broker);
    r->ctx = zmq_ctx_new();
    r->sock = zmq_socket(r->ctx, ZMQ_DEALER);
    zmq_setsockopt(r->sock, ZMQ_CURVE_SERVERKEY, e->card.curve_public, 32);
    zmq_setsockopt(r->sock, ZMQ_CURVE_PUBLICKEY, r->id->curve_public, 32);
    zmq_setsockopt(r->sock, ZMQ_CURVE_SECRETKEY, r->id->curve_secret, 32);
    zmq_setsockopt(r->sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(r->sock, ZMQ_SNDTIMEO, &timeout, sizeof(timeout));
    assert_int_equal(zmq_connect(r->sock, fed_nation_get(f, r->id->addr.nation)->agency_endpoint), 0);
    proto_roster_destroy(&roster);
    return r;
}

static void
raw_close(raw **rp)
{
    raw *r = *rp;

    zmq_close(r->sock);
    zmq_ctx_term(r->ctx);
    proto_identity_destroy(&r->id);
    free(r);
    *rp = NULL;
}

/* Queues one message of attack_frames frames of max_message bytes, every
 * frame pointing at the same buffer (no copy here). */
static void
raw_send_huge(raw *r, void *frame)
{
    for (unsigned i = 0; i < attack_frames; i++) {
        zmq_msg_t m;

        assert_int_equal(zmq_msg_init_data(&m, frame, max_message, NULL, NULL), 0);
        if (zmq_msg_send(&m, r->sock, i + 1 < attack_frames ? ZMQ_SNDMORE : 0) < 0)
            fail_msg("send frame %u: %s", i, zmq_strerror(zmq_errno()));
    }
}

/* VmRSS and VmHWM of a process, in KiB. */
static void
memory_of(pid_t pid, long *rss_kib, long *hwm_kib)
{
    char path[64], line[256];
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    assert_non_null(f);
    *rss_kib = *hwm_kib = -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        sscanf(line, "VmRSS: %ld", rss_kib);
        sscanf(line, "VmHWM: %ld", hwm_kib);
    }
    fclose(f);
    assert_true(*rss_kib > 0 && *hwm_kib > 0);
}

/* Sends one message with a portion of len bytes (at most a few KiB short
 * of the broker's largest). */
static liaison_err
good_send(liaison_client *c, size_t len)
{
    static char text[64 * MIB];
    liaison_message *m = NULL;
    uint8_t id[16];
    liaison_err rc;

    assert_true(len <= sizeof(text));
    memset(text, 'g', len);
    assert_int_equal(liaison_message_new("watchlist.query", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "USA/CBP"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", text, len, NULL), LIAISON_OK);
    rc = liaison_send(c, m, id, liaison_now_ms() + 20 * SECOND);
    liaison_message_destroy(&m);
    return rc;
}

static long
metric(fed *f, const char *sample)
{
    static char text[1 << 20];
    const char *p;

    assert_int_equal(fed_metrics(f, "USA", text, sizeof(text)), 0);
    p = strstr(text, sample);
    return p != NULL ? strtol(p + strlen(sample), NULL, 10) : -1;
}

static void
test_memory_bounded_under_huge_multipart(void **state)
{
    static const char *const one[] = {"USA"};
    static const char *const who[ATTACKERS] = {"USA/CBP", "USA/TREASURY"};
    char limits[128];
    fed *f;
    raw *attackers[ATTACKERS];
    liaison_client *good;
    void *frame;
    long rss0, hwm0, rss1, hwm1, bound_kib;
    pid_t pid;

    (void)state;
    if (getenv("LIAISON_MEMORY_TEST_MIB") != NULL)
        max_message = (unsigned)atoi(getenv("LIAISON_MEMORY_TEST_MIB")) * MIB;
    if (getenv("LIAISON_MEMORY_TEST_FRAMES") != NULL)
        attack_frames = (unsigned)atoi(getenv("LIAISON_MEMORY_TEST_FRAMES"));
    snprintf(limits, sizeof(limits), "limits:\n  max_message_bytes: %u\n", max_message);
    f = fed_new(one, 1, limits);
    frame = malloc(max_message);
    assert_non_null(frame);
    memset(frame, 'x', max_message);
    fed_start(f, "USA");
    pid = fed_nation_get(f, "USA")->pid;
    good = fed_client(f, "USA/FBI", false);
    assert_int_equal(good_send(good, 5), LIAISON_OK);
    memory_of(pid, &rss0, &hwm0);

    /* Each attacker sends two messages of 256 MiB: 1 GiB in all. */
    for (unsigned i = 0; i < ATTACKERS; i++)
        attackers[i] = raw_open(f, who[i]);
    for (unsigned round = 0; round < 2; round++) {
        for (unsigned i = 0; i < ATTACKERS; i++)
            raw_send_huge(attackers[i], frame);
        /* Meanwhile a good client is served, its messages of the largest
         * size too. */
        assert_int_equal(good_send(good, 5), LIAISON_OK);
        assert_int_equal(good_send(good, max_message - 16384), LIAISON_OK);
    }
    /* Let the attackers' libzmq push out what it holds; the guard cuts them
     * while it does. */
    for (int i = 0; i < 40 && metric(f, "\nliaison_connections_cut_total ") < (long)(2 * ATTACKERS);
         i++)
        usleep(250000);
    assert_int_equal(good_send(good, 5), LIAISON_OK);
    memory_of(pid, &rss1, &hwm1);

    /* The bound of docs/operations.md, "Memory", over the broker's own
     * footprint before the attack: 3 x BROKER_GUARD_MESSAGES messages of the
     * largest size, and 64 MiB for libzmq, threads and what arrives between
     * two measures of the guard. */
    bound_kib = (long)(3ull * GUARD_MESSAGES * (max_message + 65536ull) / 1024u) + 64 * 1024;
    printf("# broker memory: before VmRSS %ld KiB VmHWM %ld KiB; after %d x %u MiB from %u "
           "connections VmRSS %ld KiB VmHWM %ld KiB (+%ld KiB); bound +%ld KiB; "
           "connections cut %ld\n",
           rss0, hwm0, 2 * ATTACKERS, attack_frames * (max_message / MIB), ATTACKERS, rss1, hwm1,
           hwm1 - hwm0, bound_kib, metric(f, "\nliaison_connections_cut_total "));
    if (getenv("MEMTEST_DEBUG") != NULL) {
        char cmd[1200];

        snprintf(cmd, sizeof(cmd), "grep -v B-COMMIT %s | tail -20", fed_nation_get(f, "USA")->log);
        (void)system(cmd);
    }
    assert_true(hwm1 - rss0 < bound_kib);
    assert_true(metric(f, "\nliaison_connections_cut_total ") >= (long)ATTACKERS);
    assert_true(fed_log_count(f, "USA", "id=B-CONN-CUT") >= ATTACKERS);
    for (unsigned i = 0; i < ATTACKERS; i++)
        raw_close(&attackers[i]);
    liaison_client_close(&good);
    free(frame);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_memory_bounded_under_huge_multipart, fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("memory", tests, NULL, NULL);
}
