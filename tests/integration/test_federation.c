/* Integration tests of federation under faults: a partner broker killed and
 * restarted at once, or paused, while two agencies stream to one of its
 * agencies; every accepted message must arrive once, in order, in time. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "federation.h"
#include "helpers.h"
#include "liaison.h"
#include "liaison_proto.h"

#define SECOND 1000u
#define LATE_MS (15u * SECOND)  /* the bound: delivered this soon after the partner is back */
#define SENT_MAX 40000u         /* messages one sender may send in a run */
#define FAULTS_MAX 16u          /* faults one run injects */

static const char *const senders[] = {"USA/FBI", "USA/CBP"};
enum { SENDERS = 2 };

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

/* A sender: one message after another to CAN/RCMP, each sent until
 * accepted (the same id on every resend), until the stop file appears.
 * Writes "<number> <accepted ms>" per accepted message. */
static void
produce(fed *f, const char *agency, const char *stop_path, const char *out_path)
{
    liaison_client *c = fed_client(f, agency, false);
    FILE *out = fopen(out_path, "w");

    if (out == NULL)
        _exit(2);
    for (unsigned i = 0; i < SENT_MAX && !file_exists(stop_path); i++) {
        liaison_message *m = NULL;
        uint8_t id[16];
        char text[48];
        liaison_err err;

        snprintf(text, sizeof(text), "%s %06u", agency, i);
        if (liaison_message_new("watchlist.publish", &m) != LIAISON_OK ||
            liaison_message_add_recipient(m, "CAN/RCMP") != LIAISON_OK ||
            liaison_message_set_labels(m, "LES//REL TO CAN,USA") != LIAISON_OK ||
            liaison_message_add_portion(m, "LES", text, strlen(text), NULL) != LIAISON_OK)
            _exit(3);
        while ((err = liaison_send(c, m, id, in_ms(3 * SECOND))) != LIAISON_OK) {
            if (err != LIAISON_ERR_TIMEOUT && err != LIAISON_ERR_REJECTED) {
                fprintf(stderr, "%s: send: %s\n", agency, liaison_client_error(c));
                _exit(4);
            }
        }
        fprintf(out, "%u %llu\n", i, (unsigned long long)liaison_now_ms());
        fflush(out);
        liaison_message_destroy(&m);
        usleep(4000); /* a steady stream, not a flood: about 150 a second each */
    }
    fclose(out);
    liaison_client_close(&c);
}

/* The recipient: writes "<sender> <number> <received ms>" per message the
 * application gets, receipts it, and runs until killed. */
static void
consume(fed *f, const char *out_path)
{
    liaison_client *c = fed_client(f, "CAN/RCMP", true);
    FILE *out = fopen(out_path, "w");

    if (out == NULL)
        _exit(2);
    for (;;) {
        liaison_event *e = NULL;
        char text[64];

        if (liaison_receive(c, &e, in_ms(SECOND)) != LIAISON_OK)
            continue; /* a quiet second, or the broker is away: keep waiting */
        if (e->type == LIAISON_EVENT_MESSAGE && e->portion_count == 1 &&
            e->portions[0].len < sizeof(text)) {
            memcpy(text, e->portions[0].data, e->portions[0].len);
            text[e->portions[0].len] = '\0';
            fprintf(out, "%s %llu\n", text, (unsigned long long)liaison_now_ms());
            fflush(out);
        }
        (void)liaison_receipt(c, e);
        liaison_event_free(&e);
    }
}

/* One fault: a broker was gone (killed, or paused) from down_ms to back_ms. */
typedef struct fault {
    const char *nemesis; /* "kill" or "pause" */
    const char *nation;  /* whose broker */
    uint64_t down_ms;    /* just before the signal */
    uint64_t back_ms;    /* restarted and listening, or continued */
} fault;

/* What the checker makes of one sender's messages. */
typedef struct tally {
    size_t accepted;      /* accepted by USA */
    size_t delivered;     /* distinct messages the application got */
    size_t lost;          /* accepted, never delivered */
    size_t duplicated;    /* deliveries beyond the first */
    size_t reordered;     /* delivered after a later message of the same sender */
    size_t late;          /* delivered more than LATE_MS after due */
    uint64_t worst_ms;    /* the longest delay after due */
} tally;

static uint64_t accepted_ms[SENDERS][SENT_MAX]; /* 0: not accepted */
static uint64_t received_ms[SENDERS][SENT_MAX]; /* first delivery, 0: none */
static unsigned received_count[SENDERS][SENT_MAX];

/* Reads the producers' and the consumer's records into the tables. */
static void
load_records(const char (*sent_paths)[1100], const char *received_path)
{
    char line[128];
    FILE *in;

    memset(accepted_ms, 0, sizeof(accepted_ms));
    memset(received_ms, 0, sizeof(received_ms));
    memset(received_count, 0, sizeof(received_count));
    for (int s = 0; s < SENDERS; s++) {
        unsigned n;
        unsigned long long ms;

        if ((in = fopen(sent_paths[s], "r")) == NULL)
            continue;
        while (fgets(line, sizeof(line), in) != NULL) {
            if (sscanf(line, "%u %llu", &n, &ms) == 2 && n < SENT_MAX)
                accepted_ms[s][n] = ms;
        }
        fclose(in);
    }
    if ((in = fopen(received_path, "r")) == NULL)
        return;
    while (fgets(line, sizeof(line), in) != NULL) {
        char who[40];
        unsigned n;
        unsigned long long ms;

        if (sscanf(line, "%39s %u %llu", who, &n, &ms) != 3 || n >= SENT_MAX)
            continue;
        for (int s = 0; s < SENDERS; s++) {
            if (strcmp(who, senders[s]) == 0) {
                if (received_count[s][n]++ == 0)
                    received_ms[s][n] = ms;
            }
        }
    }
    fclose(in);
}

/* When message (s, n) was due: when it was accepted, or when the partner
 * was last back from a fault that overlapped its way there. */
static uint64_t
due_ms(int s, unsigned n, const fault *faults, size_t fault_count)
{
    uint64_t due = accepted_ms[s][n], until = received_ms[s][n];

    for (size_t i = 0; i < fault_count; i++) {
        if (faults[i].back_ms > due && (until == 0 || faults[i].down_ms < until))
            due = faults[i].back_ms;
    }
    return due;
}

static void
check(tally *t, int s, const fault *faults, size_t fault_count)
{
    uint64_t last_ms = 0;

    memset(t, 0, sizeof(*t));
    for (unsigned n = 0; n < SENT_MAX; n++) {
        if (received_count[s][n] > 1)
            t->duplicated += received_count[s][n] - 1;
        if (accepted_ms[s][n] == 0)
            continue;
        t->accepted++;
        if (received_count[s][n] == 0) {
            t->lost++;
            continue;
        }
        t->delivered++;
        /* Each sender sends one message after the other, so acceptance
         * order is the number order: delivery must follow it. */
        if (received_ms[s][n] < last_ms)
            t->reordered++;
        else
            last_ms = received_ms[s][n];
        {
            uint64_t due = due_ms(s, n, faults, fault_count);
            uint64_t delay = received_ms[s][n] > due ? received_ms[s][n] - due : 0;

            if (delay > t->worst_ms)
                t->worst_ms = delay;
            if (delay > LATE_MS)
                t->late++;
        }
    }
}

/* True once every message accepted so far has been delivered. */
typedef struct drain_ctx {
    const char (*sent_paths)[1100]; /* the producers' records */
    const char *received_path;      /* the consumer's */
} drain_ctx;

static bool
all_delivered(void *ctx)
{
    drain_ctx *d = ctx;

    load_records(d->sent_paths, d->received_path);
    for (int s = 0; s < SENDERS; s++) {
        for (unsigned n = 0; n < SENT_MAX; n++) {
            if (accepted_ms[s][n] != 0 && received_count[s][n] == 0)
                return false;
        }
    }
    return true;
}

/* True once nothing is in flight between the two brokers: no forward in
 * USA's window toward CAN, no report in CAN's window toward USA. */
static bool
windows_empty(void *ctx)
{
    static char text[65536];

    return fed_metrics(ctx, "USA", text, sizeof(text)) == 0 &&
           strstr(text, "liaison_peer_inflight{peer=\"CAN\"} 0\n") != NULL &&
           fed_metrics(ctx, "CAN", text, sizeof(text)) == 0 &&
           strstr(text, "liaison_peer_inflight{peer=\"USA\"} 0\n") != NULL;
}

/* The nemesis, run from the test's process while the stream flows. */
static void
inject(fed *f, fault *ft, const char *nemesis, const char *nation, unsigned pause_ms)
{
    fed_nation *n = fed_nation_get(f, nation);

    ft->nemesis = nemesis;
    ft->nation = nation;
    ft->down_ms = liaison_now_ms();
    if (strcmp(nemesis, "kill") == 0) {
        fed_kill(f, nation);
        fed_start(f, nation); /* at once, as a supervisor restarts a crashed broker */
    } else {
        kill(n->pid, SIGSTOP);
        usleep(pause_ms * 1000u);
        kill(n->pid, SIGCONT);
    }
    ft->back_ms = liaison_now_ms();
    fprintf(stderr, "# nemesis %s %s: away %llu ms\n", nemesis, nation,
            (unsigned long long)(ft->back_ms - ft->down_ms));
}

/*
 * Nemeses: CAN's broker killed (SIGKILL) and restarted at once, three
 * times, USA's once (the reports flowing back lose their connection too),
 * then CAN's paused (SIGSTOP) for 2, 3 and 4 s, while USA/FBI and USA/CBP
 * stream to CAN/RCMP.  Checker, per sender: every accepted message reaches
 * the application exactly once, in order, at most LATE_MS after the broker
 * is back; and at the end nothing is left in either broker's window.
 */
static void
test_federation_partner_restart_and_pause_lose_nothing(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    static char sent_paths[SENDERS][1100];
    static const struct {
        const char *nemesis;
        const char *nation;
        unsigned pause_ms;
    } plan[] = {{"kill", "CAN", 0},     {"kill", "CAN", 0},     {"kill", "USA", 0},
                {"kill", "CAN", 0},     {"pause", "CAN", 2000}, {"pause", "CAN", 3000},
                {"pause", "CAN", 4000}};
    fed *f = fed_new(two, 2, NULL);
    fault faults[FAULTS_MAX];
    size_t fault_count = 0;
    char received_path[1100], stop_path[1100];
    pid_t consumer, producers[SENDERS];
    drain_ctx drain = {(const char (*)[1100])sent_paths, received_path};
    bool drained, empty;
    tally t[SENDERS];
    bool ok = true;

    (void)state;
    snprintf(received_path, sizeof(received_path), "%s/received", f->dir);
    snprintf(stop_path, sizeof(stop_path), "%s/stop", f->dir);
    fed_start(f, "USA");
    fed_start(f, "CAN");
    consumer = fork();
    if (consumer == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        consume(f, received_path);
        _exit(0);
    }
    for (int s = 0; s < SENDERS; s++) {
        snprintf(sent_paths[s], sizeof(sent_paths[s]), "%s/sent-%d", f->dir, s);
        producers[s] = fork();
        if (producers[s] == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            produce(f, senders[s], stop_path, sent_paths[s]);
            _exit(0);
        }
    }
    usleep(2 * SECOND * 1000u); /* the stream is flowing */
    for (size_t i = 0; i < sizeof(plan) / sizeof(plan[0]); i++) {
        inject(f, &faults[fault_count++], plan[i].nemesis, plan[i].nation, plan[i].pause_ms);
        usleep(3 * SECOND * 1000u); /* flowing again between faults */
    }
    /* Stop the stream, then give what was accepted the bound to arrive. */
    fclose(fopen(stop_path, "w"));
    for (int s = 0; s < SENDERS; s++) {
        int status;

        waitpid(producers[s], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            kill(consumer, SIGKILL);
            waitpid(consumer, NULL, 0);
            fail_msg("sender %s failed (status %d)", senders[s], status);
        }
    }
    drained = fed_wait_until(all_delivered, &drain, LATE_MS + 5 * SECOND);
    usleep(SECOND * 1000u); /* time for a stray second copy to show */
    kill(consumer, SIGKILL);
    waitpid(consumer, NULL, 0);
    empty = fed_wait_until(windows_empty, f, 10 * SECOND);
    load_records((const char (*)[1100])sent_paths, received_path);
    for (int s = 0; s < SENDERS; s++) {
        check(&t[s], s, faults, fault_count);
        fprintf(stderr,
                "# %s -> CAN/RCMP: accepted %zu delivered %zu lost %zu duplicated %zu "
                "reordered %zu late %zu (over %u ms) worst %llu ms after due\n",
                senders[s], t[s].accepted, t[s].delivered, t[s].lost, t[s].duplicated,
                t[s].reordered, t[s].late, LATE_MS, (unsigned long long)t[s].worst_ms);
        ok = ok && t[s].accepted > 0 && t[s].lost == 0 && t[s].duplicated == 0 &&
             t[s].reordered == 0 && t[s].late == 0;
    }
    fprintf(stderr,
            "# new connections: USA to CAN %zu, CAN to USA %zu; timer resends %zu; "
            "windows empty: %s\n",
            fed_log_count(f, "USA", "B-PEER-SESSION"), fed_log_count(f, "CAN", "B-PEER-SESSION"),
            fed_log_count(f, "USA", "B-PEER-RESEND") + fed_log_count(f, "CAN", "B-PEER-RESEND"),
            empty ? "yes" : "no");
    if (!ok || !drained || !empty)
        fail_msg("federation under faults: %s%s%s", ok ? "" : "messages lost, duplicated, "
                 "reordered or late (figures above); ", drained ? "" : "not all delivered; ",
                 empty ? "" : "a window between the brokers did not empty");
    assert_int_equal(fed_stop(f, "USA"), 0);
    assert_int_equal(fed_stop(f, "CAN"), 0);
    fed_assert_audit_verifies(f, "USA");
    fed_assert_audit_verifies(f, "CAN");
    fed_destroy(&f);
}

/* ---- A partner that answers only as told ----------------------------------- */

/* CAN's federation endpoint served by the test with CAN's broker key: it
 * answers pings, and acknowledges forwards only when the test says so. */
typedef struct fake_partner {
    void *ctx;                  /* ZeroMQ context */
    void *sock;                 /* ROUTER, CURVE server with CAN's broker key */
    proto_identity *id;         /* CAN's broker identity */
    char endpoint[64];          /* CAN's federation endpoint */
    uint8_t rid[256];           /* USA's connection, from its latest frame */
    size_t rid_len;             /* bytes in rid */
} fake_partner;

static void
fake_bind(fake_partner *fp)
{
    int server = 1, linger = 0;

    fp->sock = zmq_socket(fp->ctx, ZMQ_ROUTER);
    zmq_setsockopt(fp->sock, ZMQ_CURVE_SERVER, &server, sizeof(server));
    zmq_setsockopt(fp->sock, ZMQ_CURVE_SECRETKEY, fp->id->curve_secret, 32);
    zmq_setsockopt(fp->sock, ZMQ_LINGER, &linger, sizeof(linger));
    /* A socket just closed may hold the port for a moment. */
    for (int i = 0; zmq_bind(fp->sock, fp->endpoint) != 0; i++) {
        if (i == 100)
            fail_msg("bind %s: %s", fp->endpoint, zmq_strerror(zmq_errno()));
        usleep(50000);
    }
}

static fake_partner *
fake_open(fed *f)
{
    fake_partner *fp = calloc(1, sizeof(*fp));
    char key[1100];

    assert_non_null(fp);
    snprintf(key, sizeof(key), "%s/can-broker.key", f->dir);
    assert_int_equal(proto_keyfile_read(key, &fp->id, NULL), PROTO_OK);
    snprintf(fp->endpoint, sizeof(fp->endpoint), "%s", fed_nation_get(f, "CAN")->fed_endpoint);
    fp->ctx = zmq_ctx_new();
    fake_bind(fp);
    return fp;
}

/* Closes the socket and binds a new one: CAN's broker restarting in a
 * few milliseconds, far inside any timeout. */
static void
fake_restart(fake_partner *fp)
{
    zmq_close(fp->sock);
    fake_bind(fp);
}

static void
fake_close(fake_partner **fpp)
{
    fake_partner *fp = *fpp;

    zmq_close(fp->sock);
    zmq_ctx_term(fp->ctx);
    proto_identity_destroy(&fp->id);
    free(fp);
    *fpp = NULL;
}

static void
fake_send(fake_partner *fp, const proto_cmd *cmd)
{
    proto_wire w;

    assert_int_equal(proto_cmd_build(cmd, &w, NULL), PROTO_OK);
    zmq_send(fp->sock, fp->rid, fp->rid_len, ZMQ_SNDMORE);
    for (size_t i = 0; i < w.count; i++)
        zmq_send(fp->sock, w.frames[i].data, w.frames[i].len, i + 1 < w.count ? ZMQ_SNDMORE : 0);
}

/* Acknowledges forward seq as committed. */
static void
fake_ack(fake_partner *fp, uint64_t seq)
{
    proto_cmd ack;

    memset(&ack, 0, sizeof(ack));
    ack.type = PROTO_CMD_FORWARD_ACK;
    ack.seq = seq;
    memset(ack.id, 0x01, sizeof(ack.id));
    fake_send(fp, &ack);
}

/* Serves until a forward arrives or ms pass, answering pings; returns the
 * forward's seq, or 0. */
static uint64_t
fake_next_forward(fake_partner *fp, unsigned ms)
{
    uint64_t deadline = liaison_now_ms() + ms;

    for (;;) {
        zmq_msg_t frames[10];
        proto_frame pf[10];
        size_t held = 0;
        int more = 1;
        proto_cmd cmd;
        uint64_t now = liaison_now_ms(), seq = 0;
        zmq_pollitem_t item = {fp->sock, 0, ZMQ_POLLIN, 0};

        if (now >= deadline)
            return 0;
        if (zmq_poll(&item, 1, (long)(deadline - now)) <= 0)
            continue;
        while (more && held < 10) {
            zmq_msg_init(&frames[held]);
            if (zmq_msg_recv(&frames[held], fp->sock, 0) < 0) {
                zmq_msg_close(&frames[held]);
                break;
            }
            more = zmq_msg_more(&frames[held]);
            held++;
        }
        if (held < 2)
            goto next;
        fp->rid_len = zmq_msg_size(&frames[0]) < sizeof(fp->rid) ? zmq_msg_size(&frames[0]) : 0;
        memcpy(fp->rid, zmq_msg_data(&frames[0]), fp->rid_len);
        for (size_t i = 1; i < held; i++)
            pf[i - 1] = (proto_frame){zmq_msg_data(&frames[i]), zmq_msg_size(&frames[i])};
        if (proto_cmd_parse(pf, held - 1, &cmd, NULL) != PROTO_OK)
            goto next;
        if (cmd.type == PROTO_CMD_PING) {
            proto_cmd pong;

            memset(&pong, 0, sizeof(pong));
            pong.type = PROTO_CMD_PONG;
            pong.corr = cmd.corr;
            fake_send(fp, &pong);
        } else if (cmd.type == PROTO_CMD_FORWARD) {
            seq = cmd.seq;
        }
    next:
        for (size_t i = 0; i < held; i++)
            zmq_msg_close(&frames[i]);
        if (seq != 0)
            return seq;
    }
}

/* Reads USA's liaison_peer_inflight{peer="CAN"}; -1 if absent. */
static long
usa_inflight(fed *f)
{
    static char text[65536];
    const char *p;

    if (fed_metrics(f, "USA", text, sizeof(text)) != 0 ||
        (p = strstr(text, "liaison_peer_inflight{peer=\"CAN\"} ")) == NULL)
        return -1;
    return strtol(p + strlen("liaison_peer_inflight{peer=\"CAN\"} "), NULL, 10);
}

/* Sends one message from USA/FBI to CAN/RCMP. */
static void
send_one(liaison_client *c, const char *text)
{
    liaison_message *m = NULL;
    uint8_t id[16];

    assert_int_equal(liaison_message_new("watchlist.publish", &m), LIAISON_OK);
    assert_int_equal(liaison_message_add_recipient(m, "CAN/RCMP"), LIAISON_OK);
    assert_int_equal(liaison_message_set_labels(m, "LES//REL TO CAN,USA"), LIAISON_OK);
    assert_int_equal(liaison_message_add_portion(m, "LES", text, strlen(text), NULL), LIAISON_OK);
    if (liaison_send(c, m, id, in_ms(10 * SECOND)) != LIAISON_OK)
        fail_msg("send: %s", liaison_client_error(c));
    liaison_message_destroy(&m);
}

/*
 * Against a partner that answers only as told: a forward left unanswered
 * on a live link is sent again by the resend timer; a forward in flight
 * when the partner restarts within milliseconds is sent again on the new
 * connection at once, not after the timer; answers that come twice free
 * no window slot twice, and the window ends empty.
 */
static void
test_federation_unanswered_forward_resent(void **state)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, NULL);
    fake_partner *can;
    liaison_client *fbi;
    uint64_t first, again, t0, waited;

    (void)state;
    fed_start(f, "USA");
    can = fake_open(f);
    fbi = fed_client(f, "USA/FBI", false);
    /* The timer: the forward is not answered; it comes again after 10 s. */
    send_one(fbi, "unanswered");
    first = fake_next_forward(can, 20 * SECOND);
    if (first == 0)
        fail_msg("USA forwarded nothing to its partner");
    t0 = liaison_now_ms();
    again = fake_next_forward(can, 25 * SECOND);
    waited = liaison_now_ms() - t0;
    fprintf(stderr, "# unanswered forward seq %llu sent again after %llu ms\n",
            (unsigned long long)first, (unsigned long long)waited);
    if (again != first)
        fail_msg("the unanswered forward %llu was not sent again (got %llu)",
                 (unsigned long long)first, (unsigned long long)again);
    fake_ack(can, first);
    fake_ack(can, first); /* twice: frees nothing more */
    /* The restart: the next forward is lost with the connection. */
    send_one(fbi, "lost in a restart");
    first = fake_next_forward(can, 10 * SECOND);
    if (first == 0)
        fail_msg("USA did not forward the second message");
    fake_restart(can);
    t0 = liaison_now_ms();
    again = fake_next_forward(can, 20 * SECOND);
    waited = liaison_now_ms() - t0;
    fprintf(stderr, "# forward seq %llu sent again %llu ms after the partner restarted\n",
            (unsigned long long)first, (unsigned long long)waited);
    if (again != first)
        fail_msg("the forward in flight at the restart was not sent again (got %llu)",
                 (unsigned long long)again);
    if (waited >= 9 * SECOND)
        fail_msg("the restart was noticed only by the resend timer (%llu ms)",
                 (unsigned long long)waited);
    fake_ack(can, first);
    /* Answers served, the window is empty (the gauge is refreshed every 200 ms). */
    {
        uint64_t deadline = in_ms(5 * SECOND);
        long n;

        while ((n = usa_inflight(f)) != 0 && liaison_now_ms() < deadline)
            (void)fake_next_forward(can, 200);
        assert_int_equal(n, 0);
    }
    liaison_client_close(&fbi);
    fake_close(&can);
    assert_int_equal(fed_stop(f, "USA"), 0);
    fed_destroy(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_federation_unanswered_forward_resent, fed_destroy_all),
        cmocka_unit_test_teardown(test_federation_partner_restart_and_pause_lose_nothing,
                                  fed_destroy_all),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests_name("federation", tests, NULL, NULL);
}
