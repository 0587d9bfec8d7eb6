/* Benchmark of store/: audit append rates, group commit, proofs and verify at 1 M records. */
#define _DEFAULT_SOURCE 1 /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "liaison_proto.h"
#include "liaison_store.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what, store_err err, const proto_detail *d)
{
    fprintf(stderr, "bench_store: %s: %s (%s)\n", what, store_strerror(err), d != NULL ? d->text : "");
    exit(1);
}

static void
machine(void)
{
    char line[512], model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');

            if (c != NULL) {
                snprintf(model, sizeof(model), "%s", c + 2);
                model[strcspn(model, "\n")] = '\0';
            }
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    printf("machine: %ld cores (nproc), CPU %s\n", sysconf(_SC_NPROCESSORS_ONLN), model);
}

static proto_identity *
identity(void)
{
    proto_identity *id = NULL;
    proto_addr addr;
    uint8_t seed[32] = {1};

    if (proto_addr_parse("USA", &addr, NULL) != PROTO_OK ||
        proto_identity_from_seed(&addr, seed, &id) != PROTO_OK)
        exit(1);
    return id;
}

static store *
open_store(const char *dir, const proto_identity *id)
{
    store_config cfg;
    store *s = NULL;
    proto_detail d = {{0}, {0}};
    store_err err;

    store_config_init(&cfg);
    cfg.dir = dir;
    cfg.flags = STORE_OPEN_CREATE;
    cfg.identity = id;
    cfg.head_interval_ms = 0;
    if ((err = store_open(&cfg, &s, &d)) != STORE_OK)
        die("open", err, &d);
    return s;
}

static void
record(uint64_t i, store_audit_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->time_ms = 1700000000000ull + i;
    rec->event = (uint8_t)(1 + i % 10);
    memcpy(rec->id, &i, sizeof(i));
    rec->id[15] = 1;
    strcpy(rec->actor, "USA/FBI");
    strcpy(rec->counterpart, "CAN/RCMP");
    strcpy(rec->purpose, "fugitive inquiry, case 2024-117");
    strcpy(rec->rule_id, "usa-to-can-watchlist");
    memset(rec->policy_hash, 0xAB, sizeof(rec->policy_hash));
    memset(rec->envelope_hash, (int)(i & 0xFF), sizeof(rec->envelope_hash));
    snprintf(rec->detail, sizeof(rec->detail), "released, 2 of 3 portions");
}

/* Appends n records, per_commit events a commit (one item each). */
static double
append_audit(store *s, uint64_t first, uint64_t n, size_t per_commit)
{
    store_batch *b = NULL;
    store_audit_record rec;
    proto_detail d = {{0}, {0}};
    store_err err;
    double t0 = now_s();

    if ((err = store_batch_new(s, &b)) != STORE_OK)
        die("batch", err, NULL);
    for (uint64_t i = 0; i < n;) {
        store_batch_reset(b);
        for (size_t k = 0; k < per_commit && i < n; k++, i++) {
            record(first + i, &rec);
            if ((err = store_batch_add_item(b, NULL)) != STORE_OK ||
                (err = store_audit_append(b, &rec, &d)) != STORE_OK)
                die("append", err, &d);
        }
        if ((err = store_batch_commit(b, &d)) != STORE_OK)
            die("commit", err, &d);
    }
    store_batch_destroy(&b);
    return now_s() - t0;
}

static void
bench_messages(store *s, uint64_t groups)
{
    static uint8_t env[1024];
    bool random_ids = getenv("LIAISON_BENCH_IDS") != NULL &&
                      strcmp(getenv("LIAISON_BENCH_IDS"), "random") == 0;
    store_batch *b = NULL;
    store_envelope_info info;
    store_audit_record rec;
    proto_status_entry st;
    proto_detail d = {{0}, {0}};
    store_err err;
    double t0, dt;
    uint64_t n = 0;

    memset(env, 0x5C, sizeof(env));
    memset(&st, 0, sizeof(st));
    if (proto_addr_parse("CAN/RCMP", &st.recipient, NULL) != PROTO_OK)
        exit(1);
    st.state = PROTO_STATE_QUEUED;
    if ((err = store_batch_new(s, &b)) != STORE_OK)
        die("batch", err, NULL);
    t0 = now_s();
    for (uint64_t g = 0; g < groups; g++) {
        store_batch_reset(b);
        for (int k = 0; k < 100; k++, n++) {
            memset(&info, 0, sizeof(info));
            /* As the client makes ids: creation time first, a message a
             * millisecond; LIAISON_BENCH_IDS=random scatters them. */
            if (random_ids)
                randombytes_buf(info.id, sizeof(info.id));
            else
                proto_id_new(1700000000000ull + n, info.id);
            info.received_ms = 1700000000000ull;
            info.expires_ms = info.dup_until_ms = 1800000000000ull;
            strcpy(info.sender, "USA/FBI");
            strcpy(info.kind, "watchlist.query");
            record(n, &rec);
            memcpy(rec.id, info.id, sizeof(info.id));
            if ((err = store_batch_add_item(b, NULL)) != STORE_OK ||
                (err = store_batch_put_envelope(b, &info, env, sizeof(env))) != STORE_OK ||
                (err = store_batch_enqueue(b, k % 2 ? "CAN/RCMP" : "peer:MEX", info.id, 0, NULL, 0)) != STORE_OK ||
                (err = store_batch_set_state(b, info.id, &st)) != STORE_OK ||
                (err = store_audit_append(b, &rec, &d)) != STORE_OK)
                die("message", err, &d);
        }
        if ((err = store_batch_commit(b, &d)) != STORE_OK)
            die("commit", err, &d);
    }
    dt = now_s() - t0;
    store_batch_destroy(&b);
    printf("messages: %.0f items/s (item = 1 KiB envelope + queue entry + state + audit record; "
           "100 items a commit; %llu items in %.2f s; %s ids)\n",
           (double)n / dt, (unsigned long long)n, dt, random_ids ? "random" : "time-ordered");
}

static uint64_t
rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

int
main(int argc, char **argv)
{
    char dir[512], sub[600];
    const char *tmp = getenv("TMPDIR");
    uint64_t big = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    proto_identity *id;
    store *s;
    store_read *r = NULL;
    store_err err;
    double dt;
    uint64_t size = 0, map, used, x = 88172645463325252ull;
    int reps;
    struct stat st;

    if (proto_init() != PROTO_OK)
        return 1;
    proto_log_configure(NULL, NULL, PROTO_LOG_WARN);
    id = identity();
    machine();
    snprintf(dir, sizeof(dir), "%s/liaison-bench-XXXXXX", tmp != NULL ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL)
        return 1;
    printf("data directory: %s (sync on: every commit is fsync'd)\n", dir);

    /* Audit append rates. */
    snprintf(sub, sizeof(sub), "%s/rates", dir);
    s = open_store(sub, id);
    dt = append_audit(s, 0, 2000, 1);
    printf("audit:    %9.0f records/s with    1 event  per commit (2000 records, %.2f s)\n",
           2000 / dt, dt);
    dt = append_audit(s, 2000, 100000, 100);
    printf("audit:    %9.0f records/s with  100 events per commit (100000 records, %.2f s)\n",
           100000 / dt, dt);
    dt = append_audit(s, 102000, 500000, 1000);
    printf("audit:    %9.0f records/s with 1000 events per commit (500000 records, %.2f s)\n",
           500000 / dt, dt);
    bench_messages(s, 500);
    store_close(&s);

    /* The big log. */
    snprintf(sub, sizeof(sub), "%s/big", dir);
    s = open_store(sub, id);
    dt = append_audit(s, 0, big, 1000);
    printf("build:    %llu records at 1000 per commit in %.2f s (%.0f records/s)\n",
           (unsigned long long)big, dt, (double)big / dt);
    {
        store_tree_head h;
        proto_detail d = {{0}, {0}};

        if ((err = store_audit_head_sign(s, &h, &d)) != STORE_OK)
            die("head", err, &d);
    }
    if ((err = store_read_begin(s, &r)) != STORE_OK || (err = store_audit_size(r, &size)) != STORE_OK)
        die("read", err, NULL);
    {
        static store_inclusion_proof ip;
        static store_consistency_proof cp;
        size_t hashes = 0;

        reps = 20000;
        dt = now_s();
        for (int i = 0; i < reps; i++) {
            uint64_t n = size - rnd(&x) % 1000;
            uint64_t leaf = rnd(&x) % n;

            if ((err = store_audit_inclusion(r, leaf, n, &ip)) != STORE_OK)
                die("inclusion", err, NULL);
            hashes += ip.count;
        }
        dt = now_s() - dt;
        printf("proofs:   inclusion   %.1f us each at %llu records (avg %.1f hashes; %d random "
               "proofs, one read txn)\n",
               dt / reps * 1e6, (unsigned long long)size, (double)hashes / reps, reps);
        hashes = 0;
        dt = now_s();
        for (int i = 0; i < reps; i++) {
            uint64_t n = size - rnd(&x) % 1000;
            uint64_t m = 1 + rnd(&x) % (n - 1);

            if ((err = store_audit_consistency(r, m, n, &cp)) != STORE_OK)
                die("consistency", err, NULL);
            hashes += cp.count;
        }
        dt = now_s() - dt;
        printf("proofs:   consistency %.1f us each at %llu records (avg %.1f hashes)\n",
               dt / reps * 1e6, (unsigned long long)size, (double)hashes / reps);
        /* With a read transaction of its own per proof, as the CLI does. */
        store_read_end(&r);
        dt = now_s();
        for (int i = 0; i < reps; i++) {
            if ((err = store_read_begin(s, &r)) != STORE_OK ||
                (err = store_audit_inclusion(r, rnd(&x) % size, size, &ip)) != STORE_OK)
                die("inclusion", err, NULL);
            store_read_end(&r);
        }
        dt = now_s() - dt;
        printf("proofs:   inclusion   %.1f us each with a read txn per proof\n", dt / reps * 1e6);
    }
    {
        store_verify_report rep;

        if ((err = store_read_begin(s, &r)) != STORE_OK)
            die("read", err, NULL);
        dt = now_s();
        if ((err = store_audit_verify(r, NULL, &rep)) != STORE_OK)
            die("verify", err, NULL);
        dt = now_s() - dt;
        printf("verify:   %llu records and %llu heads in %.2f s (%s)\n",
               (unsigned long long)rep.tree_size, (unsigned long long)rep.heads_checked, dt,
               rep.failure == 0 ? "ok" : rep.text);
        store_read_end(&r);
    }
    store_space(s, &map, &used);
    snprintf(sub, sizeof(sub), "%s/big/store/data.mdb", dir);
    if (stat(sub, &st) == 0)
        printf("disk:     %.1f bytes per record in use (%llu bytes of pages), data.mdb file "
               "%llu bytes (%.1f per record; the file is the LMDB map high-water mark)\n",
               (double)used / (double)size, (unsigned long long)used,
               (unsigned long long)st.st_size, (double)st.st_size / (double)size);
    store_close(&s);
    proto_identity_destroy(&id);
    printf("(scratch data left in %s; remove it with rm -r)\n", dir);
    return 0;
}
