/* Benchmark of liaison-broker: end-to-end rate and latency through one and
 * two real brokers, beside a bare CurveZMQ relay and the Ed25519 wall. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_util.h"
#include "federation.h"
#include "helpers.h"
#include "liaison_proto.h"

#define PAYLOAD 1024
/* Each producer keeps this many submits unanswered; the broker's limit per
 * client is raised to match, so that group commits can grow. */
#define LIMITS "limits:\n  max_pending_per_client: 8192\n"
#define WINDOW 4096        /* submits in flight per producer */
#define REPORT_QUIET 0.3   /* seconds without a report that end a run */
#define RUN_MAX 600        /* seconds a run may take before it is given up */

typedef struct run {
    size_t count;              /* messages */
    uint8_t **env;             /* pre-sealed envelopes */
    size_t *env_len;           /* their lengths */
    double *sent_at;           /* when each submit left */
    double *got_at;            /* when each delivery arrived */
    double rate;               /* submits per second to pace at; 0: as fast as possible */
    const char *producer_ep;   /* endpoint the producer submits to */
    const char *consumer_ep;   /* endpoint the consumer receives from */
    const uint8_t *producer_server_key; /* CURVE key of the producer's broker */
    const uint8_t *consumer_server_key; /* CURVE key of the consumer's broker */
    proto_identity *producer;  /* keys */
    proto_identity *consumer;  /* keys */
    size_t received;           /* deliveries seen */
    size_t accepted;           /* accepted answers */
    size_t rejected;           /* rejected answers */
    size_t reports;            /* delivery reports receipted by the producer */
    bool online;               /* the producer pings, as a sender awaiting reports does */
    size_t *slots;             /* message id -> index + 1, open addressing */
    size_t slot_mask;          /* slots - 1, a power of two less one */
    volatile int done;         /* the consumer has everything */
} run;

static void *
curve_dealer(void *ctx, const proto_identity *id, const uint8_t *server_key, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int linger = 0, hwm = 0;

    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_key, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, id->curve_public, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, id->curve_secret, 32);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_connect(s, ep) != 0) {
        fprintf(stderr, "connect %s: %s\n", ep, zmq_strerror(zmq_errno()));
        exit(1);
    }
    return s;
}

/* Receipts not sent yet: as the client library does, they go out together
 * before the next command or before waiting. */
typedef struct receipts {
    proto_ack items[PROTO_ACKS_MAX];
    size_t count;
} receipts;

static void
build_send(void *s, const proto_cmd *cmd)
{
    proto_wire w;

    if (proto_cmd_build(cmd, &w, NULL) != PROTO_OK)
        abort();
    for (size_t i = 0; i < w.count; i++)
        zmq_send(s, w.frames[i].data, w.frames[i].len, i + 1 < w.count ? ZMQ_SNDMORE : 0);
}

static void
receipts_flush(void *s, receipts *rc)
{
    uint8_t buf[PROTO_ACKS_BYTES(PROTO_ACKS_MAX)];
    proto_cmd cmd;
    size_t len;

    if (rc == NULL || rc->count == 0)
        return;
    memset(&cmd, 0, sizeof(cmd));
    cmd.type = PROTO_CMD_RECEIPT;
    if (proto_acks_encode(rc->items, rc->count, buf, sizeof(buf), &len) != PROTO_OK)
        abort();
    cmd.acks = (proto_slice){buf, len};
    build_send(s, &cmd);
    rc->count = 0;
}

static void
receipts_add(void *s, receipts *rc, uint64_t tag, const uint8_t *id)
{
    if (rc->count == PROTO_ACKS_MAX)
        receipts_flush(s, rc);
    rc->items[rc->count].n = tag;
    memcpy(rc->items[rc->count].id, id, PROTO_ID_BYTES);
    rc->count++;
}

static void
send_cmd(void *s, receipts *rc, const proto_cmd *cmd)
{
    receipts_flush(s, rc);
    build_send(s, cmd);
}

/* Receives one command (frames kept in msgs until the next call).  What is
 * already queued is read without a poll, as a real client would; receipts
 * waiting in rc go out before a wait. */
static int
recv_cmd(void *s, receipts *rc, proto_cmd *cmd, zmq_msg_t *msgs, size_t *held, long timeout_ms)
{
    proto_frame pf[8];
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    int more = 1, flags = ZMQ_DONTWAIT;

    for (size_t i = 0; i < *held; i++)
        zmq_msg_close(&msgs[i]);
    *held = 0;
    while (more && *held < 8) {
        zmq_msg_init(&msgs[*held]);
        if (zmq_msg_recv(&msgs[*held], s, flags) < 0) {
            zmq_msg_close(&msgs[*held]);
            if (*held > 0 || zmq_errno() != EAGAIN)
                return -1;
            receipts_flush(s, rc);
            if (zmq_poll(&it, 1, timeout_ms) <= 0)
                return -1;
            continue;
        }
        flags = 0;
        more = zmq_msg_more(&msgs[*held]);
        (*held)++;
    }
    for (size_t i = 0; i < *held; i++)
        pf[i] = (proto_frame){zmq_msg_data(&msgs[i]), zmq_msg_size(&msgs[i])};
    return proto_cmd_parse(pf, *held, cmd, NULL) == PROTO_OK ? 0 : 1;
}

/* An envelope's id, which the header carries after the kind. */
static const uint8_t *
id_of(const uint8_t *envelope)
{
    return envelope + 10 + envelope[9];
}

/* The load's index of a message by its id: ids are random, as a client's
 * are, so the broker's tables see the keys they see in service. */
static size_t
index_of(const run *r, const uint8_t *envelope)
{
    const uint8_t *id = id_of(envelope);

    for (size_t h = (size_t)proto_be64(id) & r->slot_mask;; h = (h + 1) & r->slot_mask) {
        size_t i = r->slots[h];

        if (i == 0)
            return SIZE_MAX;
        if (memcmp(id_of(r->env[i - 1]), id, PROTO_ID_BYTES) == 0)
            return i - 1;
    }
}

static void *
consumer_main(void *arg)
{
    run *r = arg;
    void *ctx = zmq_ctx_new();
    void *s = curve_dealer(ctx, r->consumer, r->consumer_server_key, r->consumer_ep);
    zmq_msg_t msgs[8];
    size_t held = 0;
    proto_cmd ping, cmd;
    double last_ping = 0, start = bench_now();
    receipts rc = {.count = 0};

    memset(&ping, 0, sizeof(ping));
    ping.type = PROTO_CMD_PING;
    while (r->received < r->count) {
        double now = bench_now();

        if (now - start > RUN_MAX) {
            fprintf(stderr, "bench: %zu of %zu messages arrived in %d s; giving up\n",
                    r->received, r->count, RUN_MAX);
            break;
        }
        if (now - last_ping > 1.0) {
            ping.corr++;
            send_cmd(s, &rc, &ping);
            last_ping = now;
        }
        if (recv_cmd(s, &rc, &cmd, msgs, &held, 500) != 0)
            continue;
        if (cmd.type == PROTO_CMD_DELIVER) {
            proto_tagged item;
            size_t offset = 0;

            while (proto_deliveries_next(&cmd, &offset, &item)) {
                size_t i = index_of(r, item.bytes.data);

                if (i < r->count && r->got_at[i] == 0) {
                    r->got_at[i] = bench_now();
                    r->received++;
                }
                receipts_add(s, &rc, item.tag, id_of(item.bytes.data));
            }
        }
    }
    receipts_flush(s, &rc);
    r->done = 1;
    for (size_t i = 0; i < held; i++)
        zmq_msg_close(&msgs[i]);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return NULL;
}

/* Submits every envelope with a window of WINDOW unanswered, paced at rate. */
static double
produce(run *r)
{
    void *ctx = zmq_ctx_new();
    void *s = curve_dealer(ctx, r->producer, r->producer_server_key, r->producer_ep);
    zmq_msg_t msgs[8];
    size_t held = 0, next = 0, answered = 0;
    double start = bench_now(), last_report = 0, last_answer = 0, end, last_ping = 0;
    proto_cmd cmd, ping;
    receipts rc = {.count = 0};

    usleep(200000); /* the handshake */
    start = bench_now();
    /* Until every submit is answered, every message delivered, and no report
     * has come for REPORT_QUIET seconds. */
    while ((answered < r->count || !r->done || bench_now() - last_report < REPORT_QUIET) &&
           bench_now() - start < RUN_MAX) {
        if (r->online && bench_now() - last_ping > 1.0) {
            /* Online, as a sender that wants its delivery reports is. */
            memset(&ping, 0, sizeof(ping));
            ping.type = PROTO_CMD_PING;
            send_cmd(s, &rc, &ping);
            last_ping = bench_now();
        }
        while (next < r->count && next - answered < WINDOW &&
               (r->rate == 0 || (double)next < (bench_now() - start) * r->rate)) {
            proto_cmd sub;

            memset(&sub, 0, sizeof(sub));
            sub.type = PROTO_CMD_SUBMIT;
            sub.corr = next + 1;
            sub.envelope = (proto_slice){r->env[next], r->env_len[next]};
            r->sent_at[next] = bench_now();
            send_cmd(s, &rc, &sub);
            next++;
        }
        if (recv_cmd(s, &rc, &cmd, msgs, &held, r->rate == 0 ? 100 : 1) == 0) {
            if (cmd.type == PROTO_CMD_ACCEPTED) {
                r->accepted += cmd.count; /* the submits one commit took */
                answered += cmd.count;
                last_answer = bench_now();
            } else if (cmd.type == PROTO_CMD_REPORT) {
                /* Receipted as a client does (unverified), so the broker
                 * signs each report and takes it off the sender's queue. */
                proto_tagged item;
                proto_report rep;
                size_t offset = 0;

                while (proto_reports_next(&cmd, &offset, &item)) {
                    if (proto_report_decode(item.bytes.data, item.bytes.len, &rep, NULL) !=
                        PROTO_OK)
                        continue;
                    receipts_add(s, &rc, item.tag, rep.id);
                    r->reports++;
                    last_report = bench_now();
                }
            } else if (cmd.type == PROTO_CMD_REJECTED) {
                /* Busy or the like: send it again later, same bytes. */
                size_t i = (size_t)cmd.corr - 1;
                proto_cmd sub;

                r->rejected++;
                memset(&sub, 0, sizeof(sub));
                sub.type = PROTO_CMD_SUBMIT;
                sub.corr = i + 1;
                sub.envelope = (proto_slice){r->env[i], r->env_len[i]};
                usleep(1000);
                send_cmd(s, &rc, &sub);
            }
        }
    }
    /* The clock stops at the last answer, delivery or report. */
    end = last_answer > last_report ? last_answer : last_report;
    for (size_t i = 0; r->got_at != NULL && i < r->count; i++)
        end = r->got_at[i] > end ? r->got_at[i] : end;
    for (size_t i = 0; i < held; i++)
        zmq_msg_close(&msgs[i]);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return end - start;
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void
report(const char *what, run *r, double seconds)
{
    double *lat = malloc(r->count * sizeof(double));
    size_t n = 0;

    for (size_t i = 0; i < r->count; i++) {
        if (r->got_at[i] > 0)
            lat[n++] = (r->got_at[i] - r->sent_at[i]) * 1000.0;
    }
    qsort(lat, n, sizeof(double), cmp_double);
    printf("  %-44s %8.0f msg/s   p50 %7.3f ms   p99 %7.3f ms   p999 %7.3f ms   (%zu msgs, "
           "%zu busy retries)\n",
           what, (double)r->count / seconds, n ? lat[n / 2] : 0, n ? lat[n * 99 / 100] : 0,
           n ? lat[n * 999 / 1000] : 0, n, r->rejected);
    fflush(stdout);
    free(lat);
}

/* Milliseconds since the epoch, as a client stamps its messages. */
static uint64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Seals count 1 KiB messages from producer to recipient.  Ids are made as the
 * client library makes them (time first); LIAISON_BENCH_IDS=random makes
 * them wholly random, as a foreign sender's may be. */
static void
seal_load(run *r, const proto_identity *from, const proto_roster *roster, const char *to)
{
    proto_addr rcpt;
    const proto_roster_entry *e;
    proto_reader reader;
    uint8_t payload[PAYLOAD];
    const char *ids = getenv("LIAISON_BENCH_IDS");
    bool random_ids = ids != NULL && strcmp(ids, "random") == 0;

    randombytes_buf(payload, sizeof(payload));
    if (proto_addr_parse(to, &rcpt, NULL) != PROTO_OK ||
        (e = proto_roster_find(roster, &rcpt)) == NULL)
        abort();
    reader.addr = rcpt;
    memcpy(reader.box_public, e->card.box_public, 32);
    r->env = calloc(r->count, sizeof(*r->env));
    r->env_len = calloc(r->count, sizeof(*r->env_len));
    for (r->slot_mask = 1; r->slot_mask < 2 * r->count; r->slot_mask <<= 1)
        ;
    r->slots = calloc(r->slot_mask, sizeof(*r->slots));
    r->slot_mask--;
    for (size_t i = 0; i < r->count; i++) {
        proto_draft_portion p;
        proto_draft d;

        memset(&d, 0, sizeof(d));
        memset(&p, 0, sizeof(p));
        proto_labels_clear(&p.labels);
        p.plain = payload;
        p.plain_len = sizeof(payload);
        p.readers = &reader;
        p.reader_count = 1;
        d.kind = "watchlist.publish";
        d.actor = "badge-4411";
        if (random_ids) {
            do
                randombytes_buf(d.id, sizeof(d.id));
            while (proto_id_is_zero(d.id));
        } else {
            proto_id_new(wall_ms(), d.id);
        }
        d.expires_ms = UINT64_MAX / 2;
        d.recipients = &rcpt;
        d.recipient_count = 1;
        d.portions = &p;
        d.portion_count = 1;
        if (proto_envelope_seal(&d, from, &r->env[i], &r->env_len[i], NULL) != PROTO_OK)
            abort();
        for (size_t h = (size_t)proto_be64(d.id) & r->slot_mask;; h = (h + 1) & r->slot_mask) {
            if (r->slots[h] == 0) {
                r->slots[h] = i + 1;
                break;
            }
        }
    }
}

static void
free_load(run *r)
{
    for (size_t i = 0; i < r->count; i++)
        free(r->env[i]);
    free(r->env);
    free(r->env_len);
    free(r->slots);
}

static proto_identity *
load_id(fed *f, const char *addr)
{
    proto_identity *id = NULL;

    if (proto_keyfile_read(fed_agency_get(f, addr)->key, &id, NULL) != PROTO_OK)
        abort();
    return id;
}

static const uint8_t *
broker_key(const proto_roster *roster, const char *nation)
{
    proto_addr a;

    if (proto_addr_parse(nation, &a, NULL) != PROTO_OK)
        abort();
    return proto_roster_find(roster, &a)->card.curve_public;
}

/* CPU seconds this process has used, exited threads included. */
static double
process_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* One measured run through the federation f, from USA/FBI to to. */
static void
measure(fed *f, const proto_roster *roster, const char *to, size_t count, double rate,
        const char *label)
{
    run r;
    pthread_t consumer;
    double seconds, cpu0;
    const char *to_nation = strncmp(to, "CAN", 3) == 0 ? "CAN" : "USA";

    memset(&r, 0, sizeof(r));
    r.count = count;
    r.rate = rate;
    r.producer = load_id(f, "USA/FBI");
    r.online = true;
    r.consumer = load_id(f, to);
    r.producer_ep = fed_nation_get(f, "USA")->agency_endpoint;
    r.consumer_ep = fed_nation_get(f, to_nation)->agency_endpoint;
    r.producer_server_key = broker_key(roster, "USA");
    r.consumer_server_key = broker_key(roster, to_nation);
    r.sent_at = calloc(count, sizeof(double));
    r.got_at = calloc(count, sizeof(double));
    seal_load(&r, r.producer, roster, to); /* signed before the clock starts */
    cpu0 = process_cpu();
    pthread_create(&consumer, NULL, consumer_main, &r);
    seconds = produce(&r);
    pthread_join(consumer, NULL);
    report(label, &r, seconds);
    printf("      benchmark clients (producer, consumer, their ZeroMQ threads): %.1f us CPU per "
           "message; %zu delivery reports receipted\n",
           (process_cpu() - cpu0) * 1e6 / (double)count, r.reports);
    free_load(&r);
    free(r.sent_at);
    free(r.got_at);
    proto_identity_destroy(&r.producer);
    proto_identity_destroy(&r.consumer);
}

/* ---- The bare relay: DEALER -> ROUTER (CURVE) -> DEALER, no store, no checks. */

typedef struct relay {
    void *ctx;                  /* its own context */
    char endpoint[64];          /* where it binds */
    proto_identity *server;     /* its keys */
    volatile int stop;          /* ask it to end */
} relay;

static void *
relay_main(void *arg)
{
    relay *rl = arg;
    void *s = zmq_socket(rl->ctx, ZMQ_ROUTER);
    int one = 1, linger = 0, hwm = 0;
    uint8_t consumer_rid[256];
    size_t consumer_rid_len = 0;

    zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof(one));
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, rl->server->curve_secret, 32);
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    zmq_bind(s, rl->endpoint);
    while (!rl->stop) {
        zmq_msg_t m[8];
        size_t n = 0;
        int more = 1;
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};

        zmq_msg_init(&m[0]);
        if (zmq_msg_recv(&m[0], s, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m[0]);
            zmq_poll(&it, 1, 100);
            continue;
        }
        more = zmq_msg_more(&m[0]);
        n = 1;
        while (more && n < 8) {
            zmq_msg_init(&m[n]);
            zmq_msg_recv(&m[n], s, 0);
            more = zmq_msg_more(&m[n]);
            n++;
        }
        /* Ping registers the consumer; a submit is relayed to it as a deliver,
         * and answered accepted; receipts end here. */
        if (n >= 3 && zmq_msg_size(&m[2]) == 1 && *(uint8_t *)zmq_msg_data(&m[2]) == PROTO_CMD_PING) {
            consumer_rid_len = zmq_msg_size(&m[0]);
            memcpy(consumer_rid, zmq_msg_data(&m[0]), consumer_rid_len);
        } else if (n == 5 && consumer_rid_len > 0 && zmq_msg_size(&m[2]) == 1 &&
                   *(uint8_t *)zmq_msg_data(&m[2]) == PROTO_CMD_SUBMIT) {
            proto_cmd ok;
            proto_wire w;
            proto_ack item;
            uint8_t list[PROTO_ACKS_BYTES(1)];
            size_t list_len;

            proto_tagged delivery = {proto_be64(zmq_msg_data(&m[3])),
                                {zmq_msg_data(&m[4]), zmq_msg_size(&m[4])}};
            static uint8_t deliveries[2 + 12 + (1u << 20)];
            size_t deliveries_len;

            if (proto_deliveries_encode(&delivery, 1, deliveries, sizeof(deliveries), &deliveries_len) !=
                PROTO_OK)
                abort();
            zmq_send(s, consumer_rid, consumer_rid_len, ZMQ_SNDMORE);
            zmq_send(s, "LIAISON1", 8, ZMQ_SNDMORE);
            zmq_send(s, "\x04", 1, ZMQ_SNDMORE);
            zmq_send(s, deliveries, deliveries_len, 0);
            memset(&ok, 0, sizeof(ok));
            ok.type = PROTO_CMD_ACCEPTED;
            item.n = proto_be64(zmq_msg_data(&m[3]));
            memcpy(item.id, id_of(zmq_msg_data(&m[4])), PROTO_ID_BYTES);
            if (proto_acks_encode(&item, 1, list, sizeof(list), &list_len) != PROTO_OK)
                abort();
            ok.acks = (proto_slice){list, list_len};
            proto_cmd_build(&ok, &w, NULL) == PROTO_OK ? (void)0 : abort();
            zmq_send(s, zmq_msg_data(&m[0]), zmq_msg_size(&m[0]), ZMQ_SNDMORE);
            for (size_t i = 0; i < w.count; i++)
                zmq_send(s, w.frames[i].data, w.frames[i].len, i + 1 < w.count ? ZMQ_SNDMORE : 0);
        }
        for (size_t i = 0; i < n; i++)
            zmq_msg_close(&m[i]);
    }
    zmq_close(s);
    return NULL;
}

static void
measure_relay(fed *f, const proto_roster *roster, size_t count)
{
    relay rl;
    pthread_t th;
    run r;
    pthread_t consumer;
    double seconds;
    proto_addr a;

    memset(&rl, 0, sizeof(rl));
    rl.ctx = zmq_ctx_new();
    snprintf(rl.endpoint, sizeof(rl.endpoint), "tcp://127.0.0.1:%d", test_free_port());
    if (proto_addr_parse("USA", &a, NULL) != PROTO_OK || proto_identity_generate(&a, &rl.server) != PROTO_OK)
        abort();
    pthread_create(&th, NULL, relay_main, &rl);
    memset(&r, 0, sizeof(r));
    r.count = count;
    r.producer = load_id(f, "USA/FBI");
    r.consumer = load_id(f, "USA/CBP");
    r.producer_ep = r.consumer_ep = rl.endpoint;
    r.producer_server_key = r.consumer_server_key = rl.server->curve_public;
    r.sent_at = calloc(count, sizeof(double));
    r.got_at = calloc(count, sizeof(double));
    seal_load(&r, r.producer, roster, "USA/CBP");
    pthread_create(&consumer, NULL, consumer_main, &r);
    usleep(300000);
    seconds = produce(&r);
    pthread_join(consumer, NULL);
    report("bare CurveZMQ relay (no store, no checks)", &r, seconds);
    rl.stop = 1;
    pthread_join(th, NULL);
    zmq_ctx_term(rl.ctx);
    free_load(&r);
    free(r.sent_at);
    free(r.got_at);
    proto_identity_destroy(&r.producer);
    proto_identity_destroy(&r.consumer);
    proto_identity_destroy(&rl.server);
}

/* A single core's Ed25519 rate over len random bytes for one second: checks
 * if verify, else signatures. */
static double
ed25519_rate(size_t len, bool verify)
{
    uint8_t pk[32], sk[64], msg[PAYLOAD], sig[64];
    double start, elapsed;
    size_t n = 0;

    crypto_sign_keypair(pk, sk);
    randombytes_buf(msg, len);
    crypto_sign_detached(sig, NULL, msg, len, sk);
    start = bench_now();
    do {
        if (!verify)
            crypto_sign_detached(sig, NULL, msg, len, sk);
        else if (crypto_sign_verify_detached(sig, msg, len, pk) != 0)
            abort();
        n++;
        elapsed = bench_now() - start;
    } while (elapsed < 1.0);
    return (double)n / elapsed;
}

/* A line of /proc/PID/status, in KiB: "VmRSS", "RssAnon", "RssFile". */
static long
status_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t n = strlen(field);
    FILE *f;
    long kib = -1;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, field, n) == 0 && line[n] == ':')
            kib = atol(line + n + 1);
    }
    if (f != NULL)
        fclose(f);
    return kib;
}

/* Queues count messages for an offline partner and reports the broker's RSS. */
static void
measure_offline_rss(size_t count)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, "verify_signatures: false\nlimits:\n  max_pending_per_client: 4096\n");
    proto_roster *roster = NULL;
    run r;
    pthread_t consumer_unused;
    double seconds;
    size_t batch = 100000;

    (void)consumer_unused;
    if (proto_roster_load(f->roster, &roster, NULL) != PROTO_OK)
        abort();
    fed_start(f, "USA"); /* CAN stays down: everything queues for it */
    memset(&r, 0, sizeof(r));
    r.producer = load_id(f, "USA/FBI");
    r.producer_ep = fed_nation_get(f, "USA")->agency_endpoint;
    r.producer_server_key = broker_key(roster, "USA");
    r.done = 1; /* no consumer */
    seconds = 0;
    for (size_t sent = 0; sent < count; sent += batch) {
        r.count = batch < count - sent ? batch : count - sent;
        r.sent_at = calloc(r.count, sizeof(double));
        seal_load(&r, r.producer, roster, "CAN/RCMP");
        seconds += produce(&r);
        free_load(&r);
        free(r.sent_at);
        {
            pid_t pid = fed_nation_get(f, "USA")->pid;

            printf("    ... %zu queued, broker RSS %ld KiB (anonymous %ld KiB, file-backed %ld KiB)\n",
                   sent + r.count, status_kib(pid, "VmRSS"), status_kib(pid, "RssAnon"),
                   status_kib(pid, "RssFile"));
        }
        fflush(stdout);
    }
    sleep(3); /* the broker gives memory back every 2 s */
    {
        pid_t pid = fed_nation_get(f, "USA")->pid;

        char path[64], line[512], name[512] = "";
        FILE *maps;

        printf("  %zu messages queued for an offline partner in %.1f s: broker RSS %.1f MiB "
               "(anonymous %.1f MiB, file-backed %.1f MiB)\n",
               count, seconds, (double)status_kib(pid, "VmRSS") / 1024.0,
               (double)status_kib(pid, "RssAnon") / 1024.0,
               (double)status_kib(pid, "RssFile") / 1024.0);
        /* Where the resident pages are, for the larger mappings. */
        snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
        maps = fopen(path, "r");
        while (maps != NULL && fgets(line, sizeof(line), maps) != NULL) {
            char *dash = strchr(line, '-'), *space = strchr(line, ' ');

            if (dash != NULL && space != NULL && dash < space &&
                strspn(line, "0123456789abcdef") == (size_t)(dash - line)) {
                snprintf(name, sizeof(name), "%s", line);
                name[strcspn(name, "\n")] = '\0';
            } else if (strncmp(line, "Rss:", 4) == 0 && atol(line + 4) > 4096) {
                printf("      %8ld KiB  %s\n", atol(line + 4), name);
            }
        }
        if (maps != NULL)
            fclose(maps);
    }
    proto_identity_destroy(&r.producer);
    proto_roster_destroy(&roster);
    fed_destroy(&f);
}

/* Reads the broker's commit count and total commit time from its metrics. */
static void
commit_stats(fed *f, const char *nation, double *count_out, double *sum_out, double *within_5ms)
{
    char req[] = "GET /metrics HTTP/1.0\r\n\r\n", *buf = malloc(1 << 20), *p;
    struct sockaddr_in sa;
    size_t used = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    *count_out = *sum_out = *within_5ms = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)fed_nation_get(f, nation)->metrics_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (buf == NULL || fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        write(fd, req, sizeof(req) - 1) < 0) {
        free(buf);
        if (fd >= 0)
            close(fd);
        return;
    }
    while (used + 1 < (1u << 20) && (n = read(fd, buf + used, (1u << 20) - used - 1)) > 0)
        used += (size_t)n;
    buf[used] = '\0';
    close(fd);
    if ((p = strstr(buf, "liaison_commit_latency_seconds_sum ")) != NULL)
        *sum_out = atof(p + 35);
    if ((p = strstr(buf, "liaison_commit_latency_seconds_count ")) != NULL)
        *count_out = atof(p + 37);
    if ((p = strstr(buf, "liaison_commit_latency_seconds_bucket{le=\"0.005\"} ")) != NULL)
        *within_5ms = atof(p + 50);
    free(buf);
}

/* CPU seconds each thread of process pid has used, by thread name (threads of
 * one name summed); returns how many names. */
#define THREADS_MAX 16
typedef struct thread_cpu {
    char name[32];   /* comm of the thread */
    double seconds;  /* user + system */
} thread_cpu;

static size_t
threads_cpu(pid_t pid, thread_cpu *out)
{
    char path[300];
    struct dirent *d;
    size_t n = 0;
    DIR *dir;
    long tick = sysconf(_SC_CLK_TCK);

    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    if ((dir = opendir(path)) == NULL)
        return 0;
    while ((d = readdir(dir)) != NULL) {
        char line[1024], name[32], *close_paren;
        unsigned long ut = 0, st = 0;
        size_t k;
        FILE *f;

        if (d->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/stat", (int)pid, d->d_name);
        if ((f = fopen(path, "r")) == NULL)
            continue;
        if (fgets(line, sizeof(line), f) == NULL || (close_paren = strrchr(line, ')')) == NULL ||
            sscanf(close_paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                   &st) != 2) {
            fclose(f);
            continue;
        }
        fclose(f);
        *close_paren = '\0';
        snprintf(name, sizeof(name), "%s", strchr(line, '(') + 1);
        for (k = 0; k < n && strcmp(out[k].name, name) != 0; k++)
            ;
        if (k == n) {
            if (n == THREADS_MAX)
                continue;
            snprintf(out[n].name, sizeof(out[n].name), "%s", name);
            out[n++].seconds = 0;
        }
        out[k].seconds += (double)(ut + st) / (double)tick;
    }
    closedir(dir);
    return n;
}

/* Prints the CPU each thread of the broker used since before. */
/* CPU seconds a process has used, from /proc/PID/stat. */
static double
pid_cpu(pid_t pid)
{
    char path[64], line[1024], *p;
    unsigned long utime = 0, stime = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    if ((fp = fopen(path, "r")) == NULL)
        return 0;
    if (fgets(line, sizeof(line), fp) != NULL && (p = strrchr(line, ')')) != NULL)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime);
    fclose(fp);
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Waits (at most 60 s) until both brokers are idle, so that one run's
 * leftovers (reports still on their way back) do not load the next. */
static void
wait_idle(pid_t a, pid_t b)
{
    double before = pid_cpu(a) + pid_cpu(b);

    for (int i = 0; i < 120; i++) {
        double now;

        usleep(500000);
        now = pid_cpu(a) + pid_cpu(b);
        if (now - before < 0.05) /* under 10 % of a core */
            return;
        before = now;
    }
}

static void
print_threads_cpu(const char *who, pid_t pid, const thread_cpu *before, size_t nbefore,
                  size_t messages)
{
    thread_cpu after[THREADS_MAX];
    size_t n = threads_cpu(pid, after);

    printf("      %s CPU per message by thread:", who);
    for (size_t i = 0; i < n; i++) {
        double s = after[i].seconds;

        for (size_t k = 0; k < nbefore; k++) {
            if (strcmp(before[k].name, after[i].name) == 0)
                s -= before[k].seconds;
        }
        if (s > 0)
            printf(" %s %.1f us", after[i].name, s * 1e6 / (double)messages);
    }
    printf("\n");
}

/* The bare relay, with the keys of a one-broker federation. */
static void
bare_relay(size_t count)
{
    static const char *const one[] = {"USA"};
    fed *f = fed_new(one, 1, NULL);
    proto_roster *roster = NULL;

    if (proto_roster_load(f->roster, &roster, NULL) != PROTO_OK)
        abort();
    measure_relay(f, roster, count);
    proto_roster_destroy(&roster);
    fed_destroy(&f);
}

static void
suite(const char *title, const char *extra, size_t count)
{
    static const char *const two[] = {"USA", "CAN"};
    fed *f = fed_new(two, 2, extra);
    proto_roster *roster = NULL;

    if (proto_roster_load(f->roster, &roster, NULL) != PROTO_OK)
        abort();
    fed_start(f, "USA");
    fed_start(f, "CAN");
    printf("%s\n", title);
    {
        static const struct {
            const char *to;      /* recipient */
            double rate;         /* 0: as fast as possible */
            const char *label;   /* what it measures */
        } runs[] = {
            {"USA/CBP", 0, "one broker, USA/FBI -> USA/CBP"},
            {"CAN/RCMP", 0, "two brokers, USA/FBI -> CAN/RCMP"},
            {"USA/CBP", 10000, "one broker, paced"},
        };

        const char *only_run = getenv("LIAISON_BENCH_RUN"); /* one run alone: 0, 1 or 2 */

        for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
            double c0, s0, c1, s1, f0, f1;

            if (only_run != NULL && (size_t)atol(only_run) != i)
                continue;

            thread_cpu before[THREADS_MAX];
            pid_t pid = fed_nation_get(f, "USA")->pid;
            thread_cpu can_before[THREADS_MAX];
            pid_t can_pid = fed_nation_get(f, "CAN")->pid;
            size_t nbefore, ncan;

            wait_idle(pid, can_pid);
            nbefore = threads_cpu(pid, before);
            ncan = threads_cpu(can_pid, can_before);

            commit_stats(f, "USA", &c0, &s0, &f0);
            double rate = runs[i].rate;

            /* LIAISON_BENCH_RATE sets the paced run's rate, to see latency at other loads. */
            if (rate > 0 && getenv("LIAISON_BENCH_RATE") != NULL)
                rate = atof(getenv("LIAISON_BENCH_RATE"));
            char label[64];

            if (rate > 0)
                snprintf(label, sizeof(label), "%s at %.0f msg/s", runs[i].label, rate);
            else
                snprintf(label, sizeof(label), "%s", runs[i].label);
            measure(f, roster, runs[i].to, count, rate, label);
            commit_stats(f, "USA", &c1, &s1, &f1);
            print_threads_cpu("USA broker", pid, before, nbefore, count);
            if (strncmp(runs[i].to, "CAN", 3) == 0)
                print_threads_cpu("CAN broker", can_pid, can_before, ncan, count);
            if (c1 > c0)
                printf("      USA broker: %.0f group commits, %.1f messages and %.2f ms each on "
                       "average, %.0f over 5 ms\n",
                       c1 - c0, (double)count / (c1 - c0), (s1 - s0) * 1000.0 / (c1 - c0),
                       (c1 - c0) - (f1 - f0));
        }
    }
    proto_roster_destroy(&roster);
    fed_destroy(&f);
}

int
main(int argc, char **argv)
{
    size_t count = argc > 1 ? (size_t)atol(argv[1]) : 50000;
    size_t offline = argc > 2 ? (size_t)atol(argv[2]) : 0;

    if (proto_init() != PROTO_OK || getenv("LIAISON_BROKER_BIN") == NULL) {
        fprintf(stderr, "usage: LIAISON_BROKER_BIN=... LIAISON_TEST_DATA=... bench_broker "
                        "[MESSAGES] [OFFLINE_MESSAGES]\n");
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    proto_log_configure(NULL, NULL, PROTO_LOG_WARN);
    bench_print_machine();
    printf("1 KiB messages, fsync on; producers sign their load before the clock starts and\n"
           "consumers do not verify, so the figures are the broker's.  The producer stays\n"
           "online and receipts its delivery reports (unverified); a run ends at its last\n"
           "report.  Ids are time-ordered as the client makes them%s.  Latency: submit sent\n"
           "to deliver received, through the broker's durable commit.\n",
           getenv("LIAISON_BENCH_IDS") != NULL && strcmp(getenv("LIAISON_BENCH_IDS"), "random") == 0
               ? " -- NOT here: wholly random (LIAISON_BENCH_IDS=random)"
               : "");
    printf("single-core crypto_sign_verify_detached of 1 KiB: %.0f /s\n",
           ed25519_rate(PAYLOAD, true));
    printf("single-core crypto_sign_detached of a report batch (54 bytes): %.0f /s; each message "
           "sends its sender two reports (delivered, receipted), the reports of one send signed "
           "together\n",
           ed25519_rate(PROTO_REPORT_SIGNED_BYTES, false)); /* the bytes a report batch signs */
    if (getenv("LIAISON_BENCH_ONLY") != NULL) {
        /* One part alone: verify, noverify, rss or relay. */
        const char *only = getenv("LIAISON_BENCH_ONLY");

        if (strcmp(only, "verify") == 0)
            suite("every signature checked by the broker (default):", LIMITS, count);
        else if (strcmp(only, "noverify") == 0)
            suite("signature checks left to recipients (verify_signatures: false):",
                  LIMITS "verify_signatures: false\n", count);
        else if (strcmp(only, "rss") == 0)
            measure_offline_rss(offline);
        else if (strcmp(only, "relay") == 0)
            bare_relay(count);
        return 0;
    }
    bare_relay(count);
    suite("every signature checked by the broker (default):", LIMITS, count);
    suite("signature checks left to recipients (verify_signatures: false):",
          LIMITS "verify_signatures: false\n", count);
    if (offline > 0)
        measure_offline_rss(offline);
    return 0;
}
