/* Unit tests of the store: opening, locking, group commit, queues, states, expiry, faults, crashes. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"
#include "store_testlib.h"

typedef struct fixture {
    char dir[256];   /* scratch data directory */
    store *s;        /* open store, or NULL */
    char mnt[300];   /* a small file system mounted here by the test, or "" */
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    test_scratch_dir(f->dir, sizeof(f->dir));
    tl_clock_now = 1700000000000ull;
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    store_fault_alloc(-1);
    store_fault_io(-1);
    store_fault_fs_type(0);
    store_fault_free_bytes(-1);
    store_close(&f->s);
    if (f->mnt[0] != '\0')
        umount2(f->mnt, MNT_DETACH);
    test_scratch_remove(f->dir);
    free(f);
    return 0;
}

static void
make_id(uint8_t id[PROTO_ID_BYTES], uint32_t a, uint32_t b)
{
    memset(id, 0, PROTO_ID_BYTES);
    id[0] = 0x42;
    memcpy(id + 4, &a, 4);
    memcpy(id + 8, &b, 4);
}

static void
make_info(store_envelope_info *info, const uint8_t id[PROTO_ID_BYTES], uint64_t expires,
          uint64_t dup_until)
{
    memset(info, 0, sizeof(*info));
    memcpy(info->id, id, PROTO_ID_BYTES);
    info->received_ms = tl_clock_now;
    info->expires_ms = expires;
    info->dup_until_ms = dup_until;
    strcpy(info->sender, "USA/FBI");
    strcpy(info->kind, "watchlist.query");
}

static void
make_state(proto_status_entry *e, const char *recipient, uint8_t state)
{
    memset(e, 0, sizeof(*e));
    /* A partner broker's queue "peer:MEX" carries the state of the nation "MEX". */
    if (strncmp(recipient, "peer:", 5) == 0)
        recipient += 5;
    assert_int_equal(proto_addr_parse(recipient, &e->recipient, NULL), PROTO_OK);
    e->state = state;
    e->time_ms = tl_clock_now;
}

static const uint8_t body[1024] = {1, 2, 3};

/* Adds one message item: envelope, queue entries, queued states, events. */
static void
add_message(store_batch *b, const uint8_t id[PROTO_ID_BYTES], const char *const *dests,
            size_t ndest, size_t events, uint64_t expires)
{
    store_envelope_info info;
    proto_status_entry e;
    store_audit_record rec;
    proto_detail d = {0};

    assert_store_ok(store_batch_add_item(b, NULL), &d);
    make_info(&info, id, expires, expires + 1000);
    assert_store_ok(store_batch_put_envelope(b, &info, body, sizeof(body)), &d);
    for (size_t i = 0; i < ndest; i++) {
        assert_store_ok(store_batch_enqueue(b, dests[i], id, tl_clock_now, NULL, 0), &d);
        make_state(&e, dests[i], PROTO_STATE_QUEUED);
        assert_store_ok(store_batch_set_state(b, id, &e), &d);
    }
    for (size_t i = 0; i < events; i++) {
        tl_record(i, &rec);
        memcpy(rec.id, id, PROTO_ID_BYTES);
        assert_store_ok(store_audit_append(b, &rec, &d), &d);
    }
}

static uint64_t
audit_size(store *s)
{
    store_read *r = NULL;
    uint64_t n = 0;
    proto_detail d = {0};

    assert_store_ok(store_read_begin(s, &r), &d);
    assert_store_ok(store_audit_size(r, &n), &d);
    store_read_end(&r);
    return n;
}

static uint64_t
depth(store *s, const char *dest)
{
    store_read *r = NULL;
    uint64_t n = 0;
    proto_detail d = {0};

    assert_store_ok(store_read_begin(s, &r), &d);
    assert_store_ok(store_queue_depth(r, dest, &n), &d);
    store_read_end(&r);
    return n;
}

/* ---- Opening ------------------------------------------------------------- */

static void
test_store_open_creates_and_reopens(void **state)
{
    fixture *f = *state;
    store_config cfg;
    store *s = NULL;
    proto_detail d = {0};
    char path[512], sub[300];
    uint8_t pub[32];

    /* Without CREATE a missing directory is reported, read-only too. */
    snprintf(sub, sizeof(sub), "%s/new", f->dir);
    store_config_init(&cfg);
    cfg.dir = sub;
    assert_int_equal(store_open(&cfg, &s, &d), STORE_ERR_NOT_FOUND);
    cfg.flags = STORE_OPEN_READONLY;
    assert_int_equal(store_open(&cfg, &s, &d), STORE_ERR_NOT_FOUND);
    assert_null(s);

    f->s = tl_open(sub);
    snprintf(path, sizeof(path), "%s/store/data.mdb", sub);
    assert_int_equal(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/broker.lock", sub);
    assert_int_equal(access(path, F_OK), 0);
    assert_store_ok(store_sign_public(f->s, pub), &d);
    assert_memory_equal(pub, tl_identity()->sign_public, 32);
    store_close(&f->s);
    assert_null(f->s);
    store_close(&f->s); /* NULL is fine */

    /* An existing store opens without CREATE, and without an identity. */
    store_config_init(&cfg);
    cfg.dir = sub;
    assert_store_ok(store_open(&cfg, &f->s, &d), &d);
    assert_store_ok(store_sign_public(f->s, pub), &d);
    /* ... but cannot sign heads. */
    {
        store_tree_head h;

        assert_int_equal(store_audit_head_sign(f->s, &h, &d), STORE_ERR_KEY);
    }
    store_close(&f->s);

    /* A read-only store refuses writes. */
    f->s = tl_open_ro(sub);
    {
        store_batch *b = NULL;
        store_tree_head h;
        size_t n;
        bool more;
        store_expired x;

        assert_int_equal(store_batch_new(f->s, &b), STORE_ERR_READONLY);
        assert_int_equal(store_audit_head_sign(f->s, &h, &d), STORE_ERR_READONLY);
        assert_int_equal(store_sweep(f->s, 0, &x, 1, &n, &more, &d), STORE_ERR_READONLY);
    }
}

static void
test_store_second_broker_refused(void **state)
{
    fixture *f = *state;
    int ready[2], release[2];
    pid_t pid;
    char c = 0, want[64];
    store_config cfg;
    store *s = NULL;
    proto_detail d = {0};

    f->s = tl_open(f->dir);
    store_close(&f->s);
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(release), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store_config_init(&cfg);
        cfg.dir = f->dir;
        close(ready[0]);
        close(release[1]);
        if (store_open(&cfg, &s, NULL) != STORE_OK)
            _exit(2);
        if (write(ready[1], "x", 1) != 1)
            _exit(3);
        if (read(release[0], &c, 1) < 0)
            _exit(4);
        store_close(&s);
        _exit(0);
    }
    close(ready[1]);
    close(release[0]);
    assert_int_equal(read(ready[0], &c, 1), 1);

    store_config_init(&cfg);
    cfg.dir = f->dir;
    assert_int_equal(store_open(&cfg, &s, &d), STORE_ERR_LOCKED);
    assert_null(s);
    snprintf(want, sizeof(want), "pid %ld", (long)pid);
    if (strstr(d.text, want) == NULL)
        fail_msg("detail does not name the holder: %s", d.text);
    /* The offline tools may read while the broker runs. */
    s = tl_open_ro(f->dir);
    assert_int_equal(audit_size(s), 0);
    store_close(&s);

    assert_int_equal(write(release[1], "x", 1), 1);
    {
        int status = 0;

        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    close(ready[0]);
    close(release[1]);
    f->s = tl_open(f->dir);
}

/* ---- A data file that is gone, emptied or truncated -------------------------- */

/* Opens dir with flags (no identity, the test clock); returns the error. */
static store_err
open_flags(const char *dir, unsigned flags, store **s_out, proto_detail *d)
{
    store_config cfg;

    store_config_init(&cfg);
    cfg.dir = dir;
    cfg.flags = flags;
    cfg.map_initial = 1u << 20;
    cfg.clock = tl_clock;
    memset(d, 0, sizeof(*d));
    return store_open(&cfg, s_out, d);
}

/* A store that was made, with some history, then closed; its data file path. */
static void
made_store(fixture *f, char *data, size_t len)
{
    f->s = tl_open(f->dir);
    tl_append(f->s, 0, 2000, 100);
    store_close(&f->s);
    snprintf(data, len, "%s/store/data.mdb", f->dir);
}

static void
test_store_created_once_marker_written(void **state)
{
    fixture *f = *state;
    store *s = NULL;
    proto_detail d;
    char path[512];

    /* CREATE|EXCL makes a store where there is none, and writes the marker. */
    assert_store_ok(open_flags(f->dir, STORE_OPEN_CREATE | STORE_OPEN_EXCL, &s, &d), &d);
    store_close(&s);
    snprintf(path, sizeof(path), "%s/store.created", f->dir);
    assert_int_equal(access(path, F_OK), 0);
    /* ... and refuses where there is one. */
    assert_int_equal(open_flags(f->dir, STORE_OPEN_CREATE | STORE_OPEN_EXCL, &s, &d),
                     STORE_ERR_EXISTS);
    assert_null(s);
    assert_non_null(strstr(d.text, "holds a store already"));
    /* A store made before the marker existed gets it at a writable open. */
    assert_int_equal(unlink(path), 0);
    assert_store_ok(open_flags(f->dir, 0, &s, &d), &d);
    store_close(&s);
    assert_int_equal(access(path, F_OK), 0);
}

static void
test_store_deleted_data_file_not_recreated(void **state)
{
    fixture *f = *state;
    store *s = NULL;
    proto_detail d;
    char data[512];

    made_store(f, data, sizeof(data));
    assert_int_equal(unlink(data), 0);
    /* Not even CREATE starts over where a store was. */
    assert_int_equal(open_flags(f->dir, STORE_OPEN_CREATE, &s, &d), STORE_ERR_LOST);
    assert_non_null(strstr(d.text, data));
    assert_non_null(strstr(d.text, "is missing"));
    assert_int_equal(open_flags(f->dir, 0, &s, &d), STORE_ERR_LOST);
    assert_int_equal(open_flags(f->dir, STORE_OPEN_READONLY, &s, &d), STORE_ERR_LOST);
    assert_int_equal(open_flags(f->dir, STORE_OPEN_CREATE | STORE_OPEN_EXCL, &s, &d),
                     STORE_ERR_LOST);
    assert_null(s);
    assert_int_not_equal(access(data, F_OK), 0);
}

static void
test_store_emptied_data_file_not_recreated(void **state)
{
    fixture *f = *state;
    store *s = NULL;
    proto_detail d;
    char data[512];
    struct stat st;

    made_store(f, data, sizeof(data));
    assert_int_equal(truncate(data, 0), 0);
    assert_int_equal(open_flags(f->dir, STORE_OPEN_CREATE, &s, &d), STORE_ERR_CORRUPT);
    assert_non_null(strstr(d.text, "empty (0 bytes)"));
    assert_int_equal(open_flags(f->dir, STORE_OPEN_READONLY, &s, &d), STORE_ERR_CORRUPT);
    assert_null(s);
    assert_int_equal(stat(data, &st), 0);
    assert_int_equal(st.st_size, 0);
}

/* Opens dir with flags in a child process, so that a SIGBUS fails the test
 * instead of ending the run; returns the child's raw wait status, and the
 * error it got in *err_out. */
static int
open_in_child(const char *dir, unsigned flags, store_err *err_out)
{
    int fds[2], status = 0;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        store *s = NULL;
        proto_detail d;
        store_err err = open_flags(dir, flags, &s, &d);
        store_verify_report rep;
        store_read *r = NULL;

        /* Read everything, as audit verify does. */
        if (err == STORE_OK && store_read_begin(s, &r) == STORE_OK &&
            store_audit_verify(r, NULL, &rep) != STORE_OK)
            err = STORE_ERR_IO;
        store_read_end(&r);
        store_close(&s);
        if (write(fds[1], &err, sizeof(err)) != (ssize_t)sizeof(err))
            _exit(2);
        _exit(0);
    }
    close(fds[1]);
    *err_out = STORE_OK;
    if (read(fds[0], err_out, sizeof(*err_out)) != (ssize_t)sizeof(*err_out))
        *err_out = (store_err)-1;
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void
test_store_truncated_data_file_refused(void **state)
{
    fixture *f = *state;
    char data[512];
    struct stat st;
    store_err err;
    int status;

    made_store(f, data, sizeof(data));
    assert_int_equal(stat(data, &st), 0);
    assert_true(st.st_size >= 64 * 4096);
    assert_int_equal(truncate(data, st.st_size / 2), 0);
    /* Refused with an error, read-only or not: never a signal. */
    status = open_in_child(f->dir, STORE_OPEN_READONLY, &err);
    assert_false(WIFSIGNALED(status));
    assert_int_equal(err, STORE_ERR_CORRUPT);
    status = open_in_child(f->dir, 0, &err);
    assert_false(WIFSIGNALED(status));
    assert_int_equal(err, STORE_ERR_CORRUPT);
    {
        store *s = NULL;
        proto_detail d;

        assert_int_equal(open_flags(f->dir, STORE_OPEN_READONLY, &s, &d), STORE_ERR_CORRUPT);
        assert_non_null(strstr(d.text, "truncated"));
        assert_non_null(strstr(d.text, "data.mdb"));
    }
    /* The refusal wrote nothing. */
    {
        struct stat now;

        assert_int_equal(stat(data, &now), 0);
        assert_int_equal(now.st_size, st.st_size / 2);
    }
}

/* ---- A full disk ------------------------------------------------------------------- */

/*
 * Nemesis: the file system of the data directory fills up.  A commit that
 * cannot be written says the disk is full (not "input/output error"), and
 * nothing of it is durable.  Needs a small tmpfs (root); skipped otherwise.
 */
static void
test_store_disk_full_reported(void **state)
{
    fixture *f = *state;
    store_config cfg;
    store_err err = STORE_OK;
    proto_detail d = {0};
    uint64_t i;

    snprintf(f->mnt, sizeof(f->mnt), "%s/small", f->dir);
    assert_int_equal(mkdir(f->mnt, 0700), 0);
    if (mount("tmpfs", f->mnt, "tmpfs", 0, "size=2m") != 0) {
        fprintf(stderr, "# skipped: cannot mount a small tmpfs: %s\n", strerror(errno));
        f->mnt[0] = '\0';
        skip();
    }
    store_config_init(&cfg);
    cfg.flags = STORE_OPEN_CREATE;
    cfg.identity = tl_identity();
    cfg.map_initial = 1u << 20;
    cfg.map_max = (uint64_t)64 << 20; /* the disk fills long before the map */
    cfg.head_interval_ms = 0;
    f->s = tl_open_cfg(f->mnt, &cfg);
    for (i = 0; i < 100000 && err == STORE_OK; i += 200) {
        store_batch *b = NULL;

        assert_store_ok(store_batch_new(f->s, &b), &d);
        for (uint64_t k = i; k < i + 200; k++) {
            store_audit_record rec;
            size_t item;

            tl_record(k, &rec);
            memset(rec.detail, 'd', STORE_DETAIL_MAX);
            rec.detail[STORE_DETAIL_MAX] = '\0';
            assert_store_ok(store_batch_add_item(b, &item), &d);
            assert_store_ok(store_audit_append(b, &rec, &d), &d);
        }
        err = store_batch_commit(b, &d);
        store_batch_destroy(&b);
    }
    assert_int_equal(err, STORE_ERR_DISK_FULL);
    assert_string_equal(store_strerror(err), "the disk is full");
    assert_non_null(strstr(d.text, "the disk is full"));
    assert_null(strstr(d.text, "input/output"));
    /* What committed before is intact; the failed batch left nothing. */
    {
        store_read *r = NULL;
        uint64_t size = 0;

        assert_store_ok(store_read_begin(f->s, &r), &d);
        assert_store_ok(store_audit_size(r, &size), &d);
        assert_int_equal(size, i - 200);
        store_read_end(&r);
    }
    store_close(&f->s);
    assert_int_equal(umount2(f->mnt, MNT_DETACH), 0);
    f->mnt[0] = '\0';
}

/* LMDB reports a write cut short (how a full disk shows) as EIO: with the
 * file system nearly full that is a full disk, otherwise an I/O error. */
static void
test_store_eio_on_nearly_full_disk_is_disk_full(void **state)
{
    fixture *f = *state;
    store_batch *b = NULL;
    proto_detail d = {0};
    store_audit_record rec;
    size_t item;

    f->s = tl_open(f->dir);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    tl_record(0, &rec);
    assert_store_ok(store_batch_add_item(b, &item), &d);
    assert_store_ok(store_audit_append(b, &rec, &d), &d);
    store_fault_free_bytes(4096);
    store_fault_io(0);
    assert_int_equal(store_batch_commit(b, &d), STORE_ERR_DISK_FULL);
    assert_non_null(strstr(d.text, "the disk is full"));
    store_fault_free_bytes((long long)1 << 30);
    store_fault_io(0);
    memset(&d, 0, sizeof(d));
    assert_int_equal(store_batch_commit(b, &d), STORE_ERR_IO);
    store_fault_io(-1);
    store_fault_free_bytes(-1);
    assert_store_ok(store_batch_commit(b, &d), &d);
    store_batch_destroy(&b);
}

static void
test_store_map_full_named(void **state)
{
    (void)state;
    /* A full map is not a full disk: more disk does not cure it. */
    assert_null(strstr(store_strerror(STORE_ERR_MAP_FULL), "disk"));
    assert_non_null(strstr(store_strerror(STORE_ERR_MAP_FULL), "map size is reached"));
}

static void
test_store_network_fs_refused(void **state)
{
    fixture *f = *state;
    store_config cfg;
    store *s = NULL;
    proto_detail d = {0};

    store_fault_fs_type(0x6969); /* NFS_SUPER_MAGIC */
    store_config_init(&cfg);
    cfg.dir = f->dir;
    cfg.flags = STORE_OPEN_CREATE;
    assert_int_equal(store_open(&cfg, &s, &d), STORE_ERR_NETWORK_FS);
    assert_non_null(strstr(d.text, "NFS"));
    store_fault_fs_type(0xFE534D42); /* SMB2 */
    assert_int_equal(store_open(&cfg, &s, &d), STORE_ERR_NETWORK_FS);
    assert_non_null(strstr(d.text, "SMB2"));
    store_fault_fs_type(0);
    assert_store_ok(store_open(&cfg, &s, &d), &d);
    store_close(&s);
}

/* ---- Messages and queues -------------------------------------------------- */

static void
test_store_envelope_queue_state(void **state)
{
    fixture *f = *state;
    static const char *const dests[] = {"CAN/RCMP", "peer:MEX"};
    store_batch *b = NULL;
    store_read *r = NULL;
    store_envelope_info info;
    proto_slice bytes;
    store_queue_entry q[8];
    store_dest_depth dd[4];
    proto_status_entry st[8];
    proto_detail d = {0};
    uint8_t id[3][PROTO_ID_BYTES];
    size_t n, total;

    f->s = tl_open(f->dir);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    for (uint32_t i = 0; i < 3; i++) {
        make_id(id[i], 1, i);
        add_message(b, id[i], dests, i == 1 ? 1 : 2, 2, tl_clock_now + 60000);
    }
    assert_store_ok(store_batch_commit(b, &d), &d);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(store_batch_result(b, i)->status, STORE_ITEM_DURABLE);

    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_envelope_get(r, id[1], &info, &bytes), &d);
    assert_int_equal(bytes.len, sizeof(body));
    assert_memory_equal(bytes.data, body, sizeof(body));
    assert_string_equal(info.sender, "USA/FBI");
    assert_string_equal(info.kind, "watchlist.query");
    assert_int_equal(info.expires_ms, tl_clock_now + 60000);
    /* FIFO per destination, sequences from 1. */
    assert_store_ok(store_queue_peek(r, "CAN/RCMP", 0, q, 8, &n), &d);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(q[i].seq, i + 1);
        assert_memory_equal(q[i].id, id[i], PROTO_ID_BYTES);
    }
    assert_store_ok(store_queue_peek(r, "CAN/RCMP", 1, q, 1, &n), &d);
    assert_int_equal(n, 1);
    assert_int_equal(q[0].seq, 2);
    assert_store_ok(store_queue_peek(r, "peer:MEX", 0, q, 8, &n), &d);
    assert_int_equal(n, 2);
    assert_memory_equal(q[1].id, id[2], PROTO_ID_BYTES);
    assert_store_ok(store_queue_list(r, dd, 4, &n, &total), &d);
    assert_int_equal(n, 2);
    assert_string_equal(dd[0].dest, "CAN/RCMP");
    assert_int_equal(dd[0].depth, 3);
    assert_string_equal(dd[1].dest, "peer:MEX");
    assert_int_equal(dd[1].depth, 2);
    assert_store_ok(store_state_list(r, id[0], st, 8, &n), &d);
    assert_int_equal(n, 2);
    assert_int_equal(st[0].state, PROTO_STATE_QUEUED);
    assert_int_equal(store_queue_peek(r, "bad dest", 0, q, 8, &n), STORE_ERR_INVALID);
    store_read_end(&r);

    /* Delivery: dequeue by seq, by id, and a state change, in one item each. */
    store_batch_reset(b);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_dequeue(b, "CAN/RCMP", 1), &d);
    make_state(&st[0], "CAN/RCMP", PROTO_STATE_RECEIPTED);
    strcpy(st[0].detail, "thanks");
    assert_store_ok(store_batch_set_state(b, id[0], &st[0]), &d);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_dequeue_id(b, "peer:MEX", id[2]), &d);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    assert_int_equal(store_batch_result(b, 1)->status, STORE_ITEM_DURABLE);
    assert_int_equal(depth(f->s, "CAN/RCMP"), 2);
    assert_int_equal(depth(f->s, "peer:MEX"), 1);
    assert_int_equal(depth(f->s, "nobody"), 0);
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_queue_peek(r, "CAN/RCMP", 0, q, 8, &n), &d);
    assert_int_equal(n, 2);
    assert_int_equal(q[0].seq, 2);
    assert_store_ok(store_state_list(r, id[0], st, 8, &n), &d);
    assert_int_equal(n, 2);
    assert_int_equal(st[0].state, PROTO_STATE_RECEIPTED);
    assert_string_equal(st[0].detail, "thanks");
    store_read_end(&r);

    /* A second dequeue of the same entry is rejected, and nothing of its item applies. */
    store_batch_reset(b);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_enqueue(b, "CAN/RCMP", id[0], tl_clock_now, NULL, 0), &d);
    {
        store_audit_record rec;

        tl_record(0, &rec);
        assert_store_ok(store_audit_append(b, &rec, &d), &d);
    }
    assert_store_ok(store_batch_dequeue(b, "CAN/RCMP", 1), &d);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_REJECTED);
    assert_int_equal(store_batch_result(b, 0)->err, STORE_ERR_NOT_FOUND);
    assert_int_equal(store_batch_result(b, 0)->failed_op, 2);
    assert_int_equal(depth(f->s, "CAN/RCMP"), 2);
    assert_int_equal(audit_size(f->s), 6);

    /* The same with the dequeue first (a receipt's shape: refused by lookup,
     * without a nested transaction); the next item still applies. */
    store_batch_reset(b);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_dequeue(b, "CAN/RCMP", 1), &d);
    {
        store_audit_record rec;

        tl_record(0, &rec);
        assert_store_ok(store_audit_append(b, &rec, &d), &d);
        assert_store_ok(store_batch_add_item(b, NULL), &d);
        assert_store_ok(store_batch_dequeue(b, "CAN/RCMP", 2), &d);
        assert_store_ok(store_audit_append(b, &rec, &d), &d);
    }
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_REJECTED);
    assert_int_equal(store_batch_result(b, 0)->err, STORE_ERR_NOT_FOUND);
    assert_int_equal(store_batch_result(b, 0)->failed_op, 0);
    assert_int_equal(store_batch_result(b, 1)->status, STORE_ITEM_DURABLE);
    assert_int_equal(store_batch_result(b, 1)->first_leaf, 6);
    assert_int_equal(depth(f->s, "CAN/RCMP"), 1);
    assert_int_equal(audit_size(f->s), 7);

    /* Removing an envelope. */
    store_batch_reset(b);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_remove_envelope(b, id[0]), &d);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_remove_envelope(b, id[0]), &d);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    assert_int_equal(store_batch_result(b, 1)->status, STORE_ITEM_REJECTED);
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_int_equal(store_envelope_get(r, id[0], &info, &bytes), STORE_ERR_NOT_FOUND);
    store_read_end(&r);
    store_batch_destroy(&b);
}

/* A recall's view of the queues: store_queue_find lists a message's entries
 * in every queue from the index, and store_batch_dequeue_if removes an
 * entry that is there and lets its item commit when it is gone. */
static void
test_store_queue_find_and_dequeue_if(void **state)
{
    fixture *f = *state;
    static const char *const dests[] = {"CAN/RCMP", "peer:MEX"};
    store_batch *b = NULL;
    store_read *r = NULL;
    store_queue_hit hits[4];
    proto_detail d = {0};
    uint8_t id[3][PROTO_ID_BYTES], unknown[PROTO_ID_BYTES];
    size_t n = 0;
    bool more = false;

    f->s = tl_open(f->dir);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    for (uint32_t i = 0; i < 3; i++) {
        make_id(id[i], 7, i);
        add_message(b, id[i], dests, i == 1 ? 1 : 2, 1, tl_clock_now + 60000);
    }
    assert_store_ok(store_batch_commit(b, &d), &d);
    make_id(unknown, 7, 99);

    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_queue_find(r, id[2], hits, 4, &n, &more), &d);
    assert_int_equal(n, 2);
    assert_false(more);
    assert_string_equal(hits[0].dest, "CAN/RCMP");
    assert_int_equal(hits[0].entry.seq, 3);
    assert_memory_equal(hits[0].entry.id, id[2], PROTO_ID_BYTES);
    assert_string_equal(hits[1].dest, "peer:MEX");
    assert_int_equal(hits[1].entry.seq, 2);
    /* Fewer slots than entries: the first ones, and more says so. */
    assert_store_ok(store_queue_find(r, id[2], hits, 1, &n, &more), &d);
    assert_int_equal(n, 1);
    assert_true(more);
    assert_string_equal(hits[0].dest, "CAN/RCMP");
    assert_store_ok(store_queue_find(r, unknown, hits, 4, &n, &more), &d);
    assert_int_equal(n, 0);
    assert_false(more);
    store_read_end(&r);

    /* One item removes an entry that is there; the next names one that is
     * not (taken meanwhile) and still commits its other operations. */
    store_batch_reset(b);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_dequeue_if(b, "CAN/RCMP", 3), &d);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_dequeue_if(b, "peer:MEX", 99), &d);
    assert_store_ok(store_batch_enqueue(b, "peer:MEX", id[1], tl_clock_now, NULL, 0), &d);
    assert_int_equal(store_batch_dequeue_if(b, "bad dest", 1), STORE_ERR_INVALID);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    assert_int_equal(store_batch_result(b, 1)->status, STORE_ITEM_DURABLE);
    assert_int_equal(depth(f->s, "CAN/RCMP"), 2);
    assert_int_equal(depth(f->s, "peer:MEX"), 3);
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_queue_find(r, id[2], hits, 4, &n, &more), &d);
    assert_int_equal(n, 1);
    assert_string_equal(hits[0].dest, "peer:MEX");
    assert_store_ok(store_queue_find(r, id[1], hits, 4, &n, &more), &d);
    assert_int_equal(n, 2);
    assert_string_equal(hits[1].dest, "peer:MEX");
    assert_int_equal(hits[1].entry.seq, 3);
    store_read_end(&r);

    /* The same entry again, now gone: still no refusal. */
    store_batch_reset(b);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_dequeue_if(b, "CAN/RCMP", 3), &d);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    assert_int_equal(depth(f->s, "CAN/RCMP"), 2);
    store_batch_destroy(&b);
}

static void
test_store_duplicate_item_skipped(void **state)
{
    fixture *f = *state;
    static const char *const dests[] = {"CAN/RCMP"};
    store_batch *b = NULL;
    store_read *r = NULL;
    proto_detail d = {0};
    uint8_t a[PROTO_ID_BYTES], c[PROTO_ID_BYTES];
    bool seen = false;

    f->s = tl_open(f->dir);
    make_id(a, 2, 1);
    make_id(c, 2, 2);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    add_message(b, a, dests, 1, 2, tl_clock_now + 1000);
    add_message(b, a, dests, 1, 3, tl_clock_now + 1000); /* same id in the same batch */
    add_message(b, c, dests, 1, 1, tl_clock_now + 1000);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    assert_int_equal(store_batch_result(b, 1)->status, STORE_ITEM_DUPLICATE);
    assert_int_equal(store_batch_result(b, 2)->status, STORE_ITEM_DURABLE);
    /* The skipped item left no trace: leaves stay contiguous. */
    assert_int_equal(store_batch_result(b, 2)->first_leaf, 2);
    assert_int_equal(audit_size(f->s), 3);
    assert_int_equal(depth(f->s, "CAN/RCMP"), 2);

    /* In a later batch, and after the envelope is gone, still a duplicate. */
    store_batch_reset(b);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_remove_envelope(b, a), &d);
    assert_store_ok(store_batch_dequeue_id(b, "CAN/RCMP", a), &d);
    add_message(b, a, dests, 1, 1, tl_clock_now + 1000);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    assert_int_equal(store_batch_result(b, 1)->status, STORE_ITEM_DUPLICATE);
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_dup_seen(r, a, tl_clock_now, &seen), &d);
    assert_true(seen);
    /* The window is expires + 1000 ms (add_message). */
    assert_store_ok(store_dup_seen(r, a, tl_clock_now + 2000, &seen), &d);
    assert_false(seen);
    store_read_end(&r);

    /* Once the window has ended the id is accepted again. */
    tl_clock_now += 2001;
    store_batch_reset(b);
    add_message(b, a, dests, 1, 1, tl_clock_now + 1000);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    store_batch_destroy(&b);
}

static void
test_store_batch_argument_checks(void **state)
{
    fixture *f = *state;
    store_batch *b = NULL;
    store_envelope_info info;
    proto_status_entry e;
    uint8_t id[PROTO_ID_BYTES];
    proto_detail d = {0};
    char longdest[STORE_DEST_MAX + 2];

    f->s = tl_open(f->dir);
    make_id(id, 3, 1);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    /* Operations need an item. */
    assert_int_equal(store_batch_enqueue(b, "CAN/RCMP", id, 0, NULL, 0), STORE_ERR_INVALID);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_int_equal(store_batch_enqueue(b, "", id, 0, NULL, 0), STORE_ERR_INVALID);
    assert_int_equal(store_batch_enqueue(b, "CAN RCMP", id, 0, NULL, 0), STORE_ERR_INVALID);
    memset(longdest, 'A', sizeof(longdest) - 1);
    longdest[sizeof(longdest) - 1] = '\0';
    assert_int_equal(store_batch_enqueue(b, longdest, id, 0, NULL, 0), STORE_ERR_INVALID);
    longdest[STORE_DEST_MAX] = '\0';
    assert_store_ok(store_batch_enqueue(b, longdest, id, 0, NULL, 0), &d);
    make_info(&info, id, 10, 5); /* window ends before expiry */
    assert_int_equal(store_batch_put_envelope(b, &info, body, sizeof(body)), STORE_ERR_INVALID);
    make_info(&info, id, 10, 10);
    assert_int_equal(store_batch_put_envelope(b, &info, body, 0), STORE_ERR_LIMIT);
    make_state(&e, "CAN/RCMP", 0);
    assert_int_equal(store_batch_set_state(b, id, &e), STORE_ERR_INVALID);
    assert_int_equal(store_batch_meta_put(b, "", "x", 1), STORE_ERR_INVALID);
    assert_int_equal(store_batch_meta_put(b, "k", body, STORE_META_VALUE_MAX + 1),
                     STORE_ERR_INVALID);
    store_batch_destroy(&b);

    /* The batch has a maximum. */
    {
        store_config cfg;

        store_close(&f->s);
        store_config_init(&cfg);
        cfg.batch_ops_max = 4;
        f->s = tl_open_cfg(f->dir, &cfg);
        assert_store_ok(store_batch_new(f->s, &b), &d);
        assert_store_ok(store_batch_add_item(b, NULL), &d);
        for (int i = 0; i < 4; i++)
            assert_store_ok(store_batch_meta_put(b, "k", "v", 1), &d);
        assert_int_equal(store_batch_meta_put(b, "k", "v", 1), STORE_ERR_LIMIT);
        store_batch_destroy(&b);
    }
}

static void
test_store_meta_put_get(void **state)
{
    fixture *f = *state;
    store_batch *b = NULL;
    store_read *r = NULL;
    proto_slice v;
    proto_detail d = {0};

    f->s = tl_open(f->dir);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_meta_put(b, "fwd.seq.CAN", "\x00\x00\x00\x07", 4), &d);
    assert_store_ok(store_batch_meta_put(b, "cursor.MEX", "abc", 3), &d);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_meta_get(r, "fwd.seq.CAN", &v), &d);
    assert_int_equal(v.len, 4);
    assert_int_equal(v.data[3], 7);
    assert_int_equal(store_meta_get(r, "absent", &v), STORE_ERR_NOT_FOUND);
    store_read_end(&r);
    store_batch_reset(b);
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    assert_store_ok(store_batch_meta_delete(b, "cursor.MEX"), &d);
    assert_store_ok(store_batch_meta_delete(b, "never.there"), &d);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_int_equal(store_meta_get(r, "cursor.MEX", &v), STORE_ERR_NOT_FOUND);
    store_read_end(&r);
    store_batch_destroy(&b);
}

/* Bytes queued with an entry come back with it; a dropped item leaves no trace. */
static void
test_store_queue_extra_and_drop_item(void **state)
{
    fixture *f = *state;
    store_batch *b = NULL;
    store_read *r = NULL;
    store_queue_entry q[4];
    proto_detail d = {0};
    uint8_t id[3][PROTO_ID_BYTES];
    static uint8_t big[STORE_QUEUE_EXTRA_MAX + 1];
    uint64_t depth = 0;
    size_t n = 0, item;

    f->s = tl_open(f->dir);
    for (uint32_t i = 0; i < 3; i++)
        make_id(id[i], 7, i);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    assert_store_ok(store_batch_add_item(b, &item), &d);
    assert_store_ok(store_batch_enqueue(b, "CAN/RCMP", id[0], 1, "M\x00\x01", 3), &d);
    assert_store_ok(store_batch_enqueue(b, "CAN/RCMP", id[1], 2, NULL, 0), &d);
    assert_int_equal(store_batch_enqueue(b, "CAN/RCMP", id[1], 2, big, sizeof(big)),
                     STORE_ERR_LIMIT);
    /* The second item is built half-way, then dropped: none of it commits. */
    assert_store_ok(store_batch_add_item(b, &item), &d);
    assert_store_ok(store_batch_enqueue(b, "CAN/RCMP", id[2], 3, "dropped", 7), &d);
    assert_store_ok(store_batch_meta_put(b, "dropped", "x", 1), &d);
    store_batch_drop_item(b);
    assert_int_equal(store_batch_items(b), 1);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DURABLE);
    assert_null(store_batch_result(b, 1));
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_queue_peek(r, "CAN/RCMP", 0, q, 4, &n), &d);
    assert_int_equal(n, 2);
    assert_int_equal(q[0].extra.len, 3);
    assert_memory_equal(q[0].extra.data, "M\x00\x01", 3);
    assert_int_equal(q[1].extra.len, 0);
    assert_store_ok(store_queue_depth(r, "CAN/RCMP", &depth), &d);
    assert_int_equal(depth, 2);
    assert_int_equal(store_meta_get(r, "dropped", &(proto_slice){0}), STORE_ERR_NOT_FOUND);
    store_read_end(&r);
    store_batch_destroy(&b);
}

static void
test_store_map_grows_when_full(void **state)
{
    fixture *f = *state;
    static uint8_t big[64 * 1024];
    store_batch *b = NULL;
    store_envelope_info info;
    proto_detail d = {0};
    uint64_t map0, map1, used;
    uint8_t id[PROTO_ID_BYTES];

    f->s = tl_open(f->dir); /* 1 MiB map */
    store_space(f->s, &map0, &used);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    /* 4 MiB of envelopes in one batch, then more in later ones. */
    for (uint32_t round = 0; round < 3; round++) {
        store_batch_reset(b);
        for (uint32_t i = 0; i < 64; i++) {
            make_id(id, 4 + round, i);
            make_info(&info, id, tl_clock_now + 1000, tl_clock_now + 1000);
            assert_store_ok(store_batch_add_item(b, NULL), &d);
            assert_store_ok(store_batch_put_envelope(b, &info, big, sizeof(big)), &d);
        }
        assert_store_ok(store_batch_commit(b, &d), &d);
        for (size_t i = 0; i < 64; i++)
            assert_int_equal(store_batch_result(b, i)->status, STORE_ITEM_DURABLE);
    }
    store_space(f->s, &map1, &used);
    assert_true(map1 > map0);
    assert_true(used > 3 * 64 * sizeof(big));
    store_batch_destroy(&b);

    /* At the configured maximum the commit fails cleanly. */
    {
        store_config cfg;

        store_close(&f->s);
        store_config_init(&cfg);
        cfg.map_initial = map1;
        cfg.map_max = map1;
        f->s = tl_open_cfg(f->dir, &cfg);
        assert_store_ok(store_batch_new(f->s, &b), &d);
        for (uint32_t i = 0; i < 400; i++) {
            make_id(id, 99, i);
            make_info(&info, id, tl_clock_now + 1000, tl_clock_now + 1000);
            assert_store_ok(store_batch_add_item(b, NULL), &d);
            assert_store_ok(store_batch_put_envelope(b, &info, big, sizeof(big)), &d);
        }
        assert_int_equal(store_batch_commit(b, &d), STORE_ERR_MAP_FULL);
        assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_FAILED);
        store_batch_destroy(&b);
    }
}

/* ---- Expiry --------------------------------------------------------------- */

static void
test_store_sweep_expires_and_reports(void **state)
{
    fixture *f = *state;
    static const char *const dests[] = {"CAN/RCMP", "CAN/CBSA", "MEX/FGR"};
    store_batch *b = NULL;
    store_read *r = NULL;
    store_expired x[8];
    proto_status_entry st[8];
    store_envelope_info info;
    proto_slice bytes;
    proto_detail d = {0};
    uint8_t id1[PROTO_ID_BYTES], id2[PROTO_ID_BYTES], id3[PROTO_ID_BYTES];
    uint64_t t0 = tl_clock_now, leaves;
    size_t n;
    bool more, seen;

    f->s = tl_open(f->dir);
    make_id(id1, 5, 1);
    make_id(id2, 5, 2);
    make_id(id3, 5, 3);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    add_message(b, id1, dests, 3, 1, t0 + 100);
    add_message(b, id2, dests, 2, 1, t0 + 100);
    add_message(b, id3, dests, 1, 1, t0 + 10000);
    /* id1: CAN/CBSA already receipted; it leaves its queue. */
    assert_store_ok(store_batch_add_item(b, NULL), &d);
    make_state(&st[0], "CAN/CBSA", PROTO_STATE_RECEIPTED);
    assert_store_ok(store_batch_set_state(b, id1, &st[0]), &d);
    assert_store_ok(store_batch_dequeue_id(b, "CAN/CBSA", id1), &d);
    assert_store_ok(store_batch_commit(b, &d), &d);
    leaves = audit_size(f->s);

    /* Nothing has expired yet. */
    assert_store_ok(store_sweep(f->s, t0 + 99, x, 8, &n, &more, &d), &d);
    assert_int_equal(n, 0);
    assert_false(more);
    /* A cap of 2 fits id1's two waiting recipients, not id2's. */
    assert_store_ok(store_sweep(f->s, t0 + 100, x, 2, &n, &more, &d), &d);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_memory_equal(x[0].id, id1, PROTO_ID_BYTES);
    assert_string_equal(x[0].sender, "USA/FBI");
    assert_string_equal(x[0].recipient.agency, "RCMP");
    assert_string_equal(x[1].recipient.nation, "MEX");
    assert_int_equal(x[0].expires_ms, t0 + 100);
    assert_store_ok(store_sweep(f->s, t0 + 100, x, 8, &n, &more, &d), &d);
    assert_int_equal(n, 2);
    assert_false(more);
    assert_memory_equal(x[0].id, id2, PROTO_ID_BYTES);
    /* One `expired` event per recipient. */
    assert_int_equal(audit_size(f->s), leaves + 4);
    /* A cap too small for one message alone. */
    {
        store_batch_reset(b);
        add_message(b, id1 /* same id, window still open: duplicate */, dests, 3, 0, t0 + 200);
        make_id(id1, 5, 9);
        add_message(b, id1, dests, 3, 0, t0 + 200);
        assert_store_ok(store_batch_commit(b, &d), &d);
        assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DUPLICATE);
        assert_int_equal(store_sweep(f->s, t0 + 200, x, 2, &n, &more, &d), STORE_ERR_LIMIT);
        assert_store_ok(store_sweep(f->s, t0 + 200, x, 8, &n, &more, &d), &d);
        assert_int_equal(n, 3);
        make_id(id1, 5, 1);
    }

    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_int_equal(store_envelope_get(r, id1, &info, &bytes), STORE_ERR_NOT_FOUND);
    assert_store_ok(store_envelope_get(r, id3, &info, &bytes), &d);
    assert_store_ok(store_state_list(r, id1, st, 8, &n), &d);
    assert_int_equal(n, 3);
    assert_int_equal(st[0].state, PROTO_STATE_RECEIPTED); /* CAN/CBSA, sorted first */
    assert_int_equal(st[1].state, PROTO_STATE_EXPIRED);
    assert_int_equal(st[1].time_ms, t0 + 100);
    assert_int_equal(st[2].state, PROTO_STATE_EXPIRED);
    assert_store_ok(store_dup_seen(r, id1, t0 + 100, &seen), &d);
    assert_true(seen);
    {
        store_audit_record rec;

        assert_store_ok(store_audit_get(r, leaves, &rec), &d);
        assert_int_equal(rec.event, STORE_EV_EXPIRED);
        assert_memory_equal(rec.id, id1, PROTO_ID_BYTES);
        assert_string_equal(rec.counterpart, "CAN/RCMP");
        assert_string_equal(rec.actor, "USA/FBI");
    }
    store_read_end(&r);
    /* Only id3 is left in the queues. */
    assert_int_equal(depth(f->s, "CAN/RCMP"), 1);
    assert_int_equal(depth(f->s, "CAN/CBSA"), 0);
    assert_int_equal(depth(f->s, "MEX/FGR"), 0);

    /* When the duplicate window ends, the id and its states go. */
    assert_store_ok(store_sweep(f->s, t0 + 1100, x, 8, &n, &more, &d), &d);
    assert_int_equal(n, 0);
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_dup_seen(r, id1, 0, &seen), &d);
    assert_false(seen);
    assert_store_ok(store_state_list(r, id1, st, 8, &n), &d);
    assert_int_equal(n, 0);
    assert_store_ok(store_dup_seen(r, id3, t0, &seen), &d);
    assert_true(seen);
    store_read_end(&r);
    store_batch_destroy(&b);
    store_close(&f->s);
    {
        store_verify_report rep;

        tl_verify(f->dir, &rep);
        assert_int_equal(rep.failure, STORE_VERIFY_OK);
    }
}

/* ---- Faults: one at a time, then check the state ----------------------- */

/* A batch of three messages and some events. */
static void
build_fault_batch(store_batch *b, uint32_t round)
{
    static const char *const dests[] = {"CAN/RCMP", "peer:MEX"};
    uint8_t id[PROTO_ID_BYTES];

    for (uint32_t i = 0; i < 3; i++) {
        make_id(id, 1000 + round, i);
        add_message(b, id, dests, 2, 2, tl_clock_now + 100000);
    }
}

static void
check_unchanged(store *s, uint64_t leaves, uint64_t can_depth, uint32_t round)
{
    store_read *r = NULL;
    store_envelope_info info;
    proto_slice bytes;
    proto_detail d = {0};
    uint8_t id[PROTO_ID_BYTES];

    assert_int_equal(audit_size(s), leaves);
    assert_int_equal(depth(s, "CAN/RCMP"), can_depth);
    assert_store_ok(store_read_begin(s, &r), &d);
    make_id(id, 1000 + round, 0);
    assert_int_equal(store_envelope_get(r, id, &info, &bytes), STORE_ERR_NOT_FOUND);
    store_read_end(&r);
}

static void
test_store_commit_survives_io_faults(void **state)
{
    fixture *f = *state;
    store_batch *b = NULL;
    proto_detail d = {0};
    uint64_t leaves = 0, can_depth = 0;
    long n;
    store_err err;

    f->s = tl_open(f->dir);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    for (n = 0;; n++) {
        store_batch_reset(b);
        build_fault_batch(b, (uint32_t)n);
        store_fault_io((long)n);
        err = store_batch_commit(b, &d);
        store_fault_io(-1);
        if (err == STORE_OK)
            break;
        assert_int_equal(err, STORE_ERR_IO);
        for (size_t i = 0; i < store_batch_items(b); i++)
            assert_int_equal(store_batch_result(b, i)->status, STORE_ITEM_FAILED);
        check_unchanged(f->s, leaves, can_depth, (uint32_t)n);
    }
    assert_true(n > 10);
    leaves += 6;
    can_depth += 3;
    assert_int_equal(audit_size(f->s), leaves);
    assert_int_equal(depth(f->s, "CAN/RCMP"), can_depth);
    /* The in-memory tree followed: the next commit and verify agree. */
    store_batch_reset(b);
    build_fault_batch(b, 100000);
    assert_store_ok(store_batch_commit(b, &d), &d);
    store_batch_destroy(&b);
    store_close(&f->s);
    {
        store_verify_report rep;

        tl_verify(f->dir, &rep);
        assert_int_equal(rep.failure, STORE_VERIFY_OK);
        assert_int_equal(rep.tree_size, leaves + 6);
    }
}

/* A batch larger than batch_txn_items is several transactions, in order:
 * all durable when they all commit; when one fails, the items before it
 * stay durable, it and the later ones read FAILED, and nothing is lost or
 * written twice. */
static void
test_store_large_batch_commits_in_parts(void **state)
{
    fixture *f = *state;
    static const char *const dest[] = {"CAN/RCMP"};
    store_config cfg;
    store_batch *b = NULL;
    proto_detail d = {0};
    uint8_t id[PROTO_ID_BYTES];
    uint64_t leaves = 0, queued = 0;
    bool partial = false;
    store_err err;

    store_config_init(&cfg);
    cfg.flags = STORE_OPEN_CREATE;
    cfg.identity = tl_identity();
    cfg.head_interval_ms = 0;
    cfg.batch_txn_items = 2;
    f->s = tl_open_cfg(f->dir, &cfg);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    for (uint32_t i = 0; i < 5; i++) {
        make_id(id, 5000, i);
        add_message(b, id, dest, 1, 2, tl_clock_now + 100000);
    }
    assert_store_ok(store_batch_commit(b, &d), &d);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(store_batch_result(b, i)->status, STORE_ITEM_DURABLE);
        assert_int_equal(store_batch_result(b, i)->first_leaf, 2 * i);
        assert_int_equal(store_batch_result(b, i)->leaf_count, 2);
    }
    leaves = 10;
    queued = 5;
    assert_int_equal(audit_size(f->s), leaves);
    assert_int_equal(depth(f->s, "CAN/RCMP"), queued);
    /* An I/O error at every point in turn. */
    for (long n = 0;; n++) {
        size_t k = 0;

        store_batch_reset(b);
        for (uint32_t i = 0; i < 5; i++) {
            make_id(id, 6000 + (uint32_t)n, i);
            add_message(b, id, dest, 1, 2, tl_clock_now + 100000);
        }
        store_fault_io(n);
        err = store_batch_commit(b, &d);
        store_fault_io(-1);
        while (k < 5 && store_batch_result(b, k)->status == STORE_ITEM_DURABLE)
            k++;
        leaves += 2 * k;
        queued += k;
        assert_int_equal(audit_size(f->s), leaves);
        assert_int_equal(depth(f->s, "CAN/RCMP"), queued);
        if (err == STORE_OK) {
            assert_int_equal(k, 5);
            break;
        }
        assert_int_equal(err, STORE_ERR_IO);
        assert_int_equal(k % 2, 0); /* a transaction is whole or absent */
        for (size_t i = k; i < 5; i++)
            assert_int_equal(store_batch_result(b, i)->status, STORE_ITEM_FAILED);
        if (k > 0) {
            partial = true;
            assert_int_equal(store_batch_commit(b, &d), STORE_ERR_STATE);
        }
        assert_true(n < 10000);
    }
    assert_true(partial);
    store_batch_destroy(&b);
    store_close(&f->s);
    {
        store_verify_report rep;

        tl_verify(f->dir, &rep);
        assert_int_equal(rep.failure, STORE_VERIFY_OK);
        assert_int_equal(rep.tree_size, leaves);
    }
}

/* An id as the client makes it: creation time first (big-endian), then n. */
static void
ordered_id(uint8_t id[PROTO_ID_BYTES], uint64_t ms, uint32_t n)
{
    memset(id, 0, PROTO_ID_BYTES);
    for (int k = 0; k < 6; k++)
        id[k] = (uint8_t)(ms >> (40 - 8 * k));
    for (int k = 0; k < 4; k++)
        id[6 + k] = (uint8_t)(n >> (24 - 8 * k));
    id[15] = 1;
}

static long
file_size(const char *dir, const char *name)
{
    char path[512];
    FILE *fp;
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    fclose(fp);
    return n;
}

/*
 * Messages whose ids mostly grow (as clients make them) fill the data file's
 * pages: 3000 messages of 1 KiB, committed 100 at a time with every tenth
 * id older than those before it, take at most 2.65 KiB of disk each (2.49
 * here; 2.82 when every page splits at its middle, as without appending);
 * the late ones and the others read back whole, and an id seen before is
 * still a duplicate whether it was the last one or a late one.
 */
static void
test_store_ordered_ids_fill_pages(void **state)
{
    fixture *f = *state;
    static const char *const dest[] = {"CAN/RCMP"};
    store_batch *b = NULL;
    store_read *r = NULL;
    store_envelope_info info;
    proto_slice bytes;
    proto_detail d = {0};
    uint8_t id[PROTO_ID_BYTES], late[PROTO_ID_BYTES], last[PROTO_ID_BYTES];
    uint64_t ms = 1700000000000ull;
    long size;

    f->s = tl_open(f->dir);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    for (uint32_t n = 0; n < 3000; n++) {
        if (n % 100 == 0 && n > 0) {
            assert_store_ok(store_batch_commit(b, &d), &d);
            store_batch_reset(b);
        }
        /* Every tenth comes from a sender whose clock is a second behind. */
        ordered_id(id, n % 10 == 9 ? ms + n - 1000 : ms + n, n);
        add_message(b, id, dest, 1, 2, tl_clock_now + 3600000);
        if (n == 1509)
            memcpy(late, id, PROTO_ID_BYTES);
        memcpy(last, id, PROTO_ID_BYTES);
    }
    assert_store_ok(store_batch_commit(b, &d), &d);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(store_batch_result(b, i)->status, STORE_ITEM_DURABLE);
    assert_int_equal(depth(f->s, "CAN/RCMP"), 3000);

    assert_store_ok(store_read_begin(f->s, &r), &d);
    for (uint32_t n = 0; n < 3000; n += 7) {
        ordered_id(id, n % 10 == 9 ? ms + n - 1000 : ms + n, n);
        assert_store_ok(store_envelope_get(r, id, &info, &bytes), &d);
        assert_int_equal(bytes.len, sizeof(body));
        assert_memory_equal(bytes.data, body, sizeof(body));
    }
    store_read_end(&r);

    /* The last id (the tail) and a late one are duplicates now. */
    store_batch_reset(b);
    add_message(b, last, dest, 1, 2, tl_clock_now + 3600000);
    add_message(b, late, dest, 1, 2, tl_clock_now + 3600000);
    assert_store_ok(store_batch_commit(b, &d), &d);
    assert_int_equal(store_batch_result(b, 0)->status, STORE_ITEM_DUPLICATE);
    assert_int_equal(store_batch_result(b, 1)->status, STORE_ITEM_DUPLICATE);
    assert_int_equal(depth(f->s, "CAN/RCMP"), 3000);
    store_batch_destroy(&b);
    store_close(&f->s);

    size = file_size(f->dir, "store/data.mdb");
    print_message("3000 messages of 1 KiB: data file %ld bytes, %.2f KiB a message\n", size,
                  (double)size / 3000 / 1024);
    assert_true(size <= 3000l * 2714); /* 2.65 KiB */
}

static void
test_store_alloc_faults(void **state)
{
    fixture *f = *state;
    store_batch *b = NULL;
    store_config cfg;
    proto_detail d = {0};
    long n;
    store_err err;

    /* Opening. */
    f->s = tl_open(f->dir);
    store_close(&f->s);
    store_config_init(&cfg);
    cfg.dir = f->dir;
    cfg.identity = tl_identity();
    for (n = 0;; n++) {
        store_fault_alloc(n);
        err = store_open(&cfg, &f->s, &d);
        store_fault_alloc(-1);
        if (err == STORE_OK)
            break;
        assert_int_equal(err, STORE_ERR_NOMEM);
        assert_null(f->s);
    }
    assert_true(n > 0);
    /* Building and committing a batch. */
    for (n = 0;; n++) {
        bool built = true;
        uint8_t id[PROTO_ID_BYTES];
        store_envelope_info info;
        store_audit_record rec;

        store_fault_alloc(n);
        err = store_batch_new(f->s, &b);
        for (uint32_t i = 0; err == STORE_OK && i < 40; i++) {
            make_id(id, 2000 + (uint32_t)n, i);
            make_info(&info, id, tl_clock_now + 1000, tl_clock_now + 1000);
            tl_record(i, &rec);
            if ((err = store_batch_add_item(b, NULL)) != STORE_OK ||
                (err = store_batch_put_envelope(b, &info, body, sizeof(body))) != STORE_OK ||
                (err = store_batch_enqueue(b, "CAN/RCMP", id, 0, NULL, 0)) != STORE_OK ||
                (err = store_audit_append(b, &rec, &d)) != STORE_OK)
                built = false;
        }
        if (err == STORE_OK)
            err = store_batch_commit(b, &d);
        store_fault_alloc(-1);
        store_batch_destroy(&b);
        if (err == STORE_OK && built)
            break;
        assert_int_equal(err, STORE_ERR_NOMEM);
        /* A batch that failed to build was never committed. */
        assert_int_equal(audit_size(f->s), 0);
        assert_int_equal(depth(f->s, "CAN/RCMP"), 0);
    }
    assert_true(n > 3);
    assert_int_equal(audit_size(f->s), 40);
}


/* ---- Threads: writers serialised, readers while the map grows ------------ */

typedef struct thread_arg {
    store *s;            /* shared store */
    uint64_t first;      /* first record number this writer appends */
    volatile int *stop;  /* readers stop when set */
    int errors;          /* failures seen */
    uint64_t reads;      /* proofs read */
} thread_arg;

static void *
writer_main(void *p)
{
    thread_arg *a = p;
    store_batch *b = NULL;
    store_audit_record rec;

    if (store_batch_new(a->s, &b) != STORE_OK) {
        a->errors++;
        return NULL;
    }
    for (int n = 0; n < 100; n++) {
        store_batch_reset(b);
        if (store_batch_add_item(b, NULL) != STORE_OK)
            a->errors++;
        for (int k = 0; k < 50; k++) {
            tl_record(a->first + (uint64_t)(n * 50 + k), &rec);
            if (store_audit_append(b, &rec, NULL) != STORE_OK)
                a->errors++;
        }
        if (store_batch_commit(b, NULL) != STORE_OK)
            a->errors++;
    }
    store_batch_destroy(&b);
    return NULL;
}

static void *
reader_main(void *p)
{
    thread_arg *a = p;
    store_inclusion_proof *ip = malloc(sizeof(*ip));

    while (!*a->stop) {
        store_read *r = NULL;
        uint64_t n = 0;

        if (store_read_begin(a->s, &r) != STORE_OK || store_audit_size(r, &n) != STORE_OK) {
            a->errors++;
        } else if (n > 0) {
            if (store_audit_inclusion(r, n / 2, n, ip) != STORE_OK ||
                store_merkle_verify_inclusion(ip->leaf_index, ip->tree_size, ip->leaf_hash,
                                              (const uint8_t(*)[PROTO_HASH_BYTES])ip->path,
                                              ip->count, ip->root) != STORE_OK)
                a->errors++;
            a->reads++;
        }
        store_read_end(&r);
    }
    free(ip);
    return NULL;
}

static void
test_store_threads_write_and_read(void **state)
{
    fixture *f = *state;
    volatile int stop = 0;
    thread_arg w1 = {0}, w2 = {0}, rd = {0};
    pthread_t t1, t2, t3;
    uint64_t map0, map1, used;

    f->s = tl_open(f->dir); /* a 1 MiB map: it grows while readers read */
    store_space(f->s, &map0, &used);
    w1.s = w2.s = rd.s = f->s;
    w2.first = 100000;
    rd.stop = &stop;
    assert_int_equal(pthread_create(&t3, NULL, reader_main, &rd), 0);
    assert_int_equal(pthread_create(&t1, NULL, writer_main, &w1), 0);
    assert_int_equal(pthread_create(&t2, NULL, writer_main, &w2), 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    stop = 1;
    pthread_join(t3, NULL);
    assert_int_equal(w1.errors + w2.errors + rd.errors, 0);
    assert_true(rd.reads > 0);
    assert_int_equal(audit_size(f->s), 10000);
    store_space(f->s, &map1, &used);
    assert_true(map1 > map0);
    store_close(&f->s);
    {
        store_verify_report rep;

        tl_verify(f->dir, &rep);
        assert_int_equal(rep.failure, STORE_VERIFY_OK);
    }
}

/* ---- Crash: SIGKILL a committing child at a random moment --------------- */

#define CRASH_ROUNDS 50

/* What the child reports after each durable commit. */
typedef struct crash_report {
    uint32_t round;      /* crash round */
    uint32_t batch;      /* batch number within the round */
    uint64_t first_leaf; /* first audit leaf of the batch */
    uint32_t leaves;     /* audit leaves in the batch */
    uint32_t items;      /* message items in the batch */
} crash_report;

static void
crash_child(const char *dir, uint32_t round, int fd, unsigned seed)
{
    store *s = NULL;
    store_batch *b = NULL;
    store_config cfg;
    static const char *const dests[] = {"CAN/RCMP", "peer:MEX"};

    store_config_init(&cfg);
    cfg.dir = dir;
    cfg.identity = tl_identity();
    cfg.map_initial = 1u << 20;
    cfg.head_interval_ms = 5; /* heads are signed now and then, in the commits */
    if (store_open(&cfg, &s, NULL) != STORE_OK || store_batch_new(s, &b) != STORE_OK)
        _exit(2);
    srand(seed);
    for (uint32_t batch = 0;; batch++) {
        crash_report rep = {round, batch, 0, 0, 0};
        uint32_t items = 1 + (uint32_t)rand() % 6;
        uint32_t per = 1 + (uint32_t)rand() % 4;
        uint32_t total = items * per;

        store_batch_reset(b);
        for (uint32_t i = 0; i < items; i++) {
            uint8_t id[PROTO_ID_BYTES];
            store_envelope_info info;
            store_audit_record rec;
            proto_status_entry e;

            make_id(id, round * 100000 + batch, i);
            memset(&info, 0, sizeof(info));
            memcpy(info.id, id, PROTO_ID_BYTES);
            info.expires_ms = info.dup_until_ms = UINT64_MAX;
            strcpy(info.sender, "USA/FBI");
            strcpy(info.kind, "freeze.designation");
            if (store_batch_add_item(b, NULL) != STORE_OK ||
                store_batch_put_envelope(b, &info, body, 300) != STORE_OK ||
                store_batch_enqueue(b, dests[i % 2], id, 0, NULL, 0) != STORE_OK)
                _exit(3);
            memset(&e, 0, sizeof(e));
            if (proto_addr_parse("CAN/RCMP", &e.recipient, NULL) != PROTO_OK)
                _exit(3);
            e.state = PROTO_STATE_QUEUED;
            if (store_batch_set_state(b, id, &e) != STORE_OK)
                _exit(3);
            for (uint32_t k = 0; k < per; k++) {
                tl_record(k, &rec);
                memcpy(rec.id, id, PROTO_ID_BYTES);
                snprintf(rec.detail, sizeof(rec.detail), "r%u b%u n%u k%u", round, batch, total,
                         i * per + k);
                if (store_audit_append(b, &rec, NULL) != STORE_OK)
                    _exit(3);
            }
        }
        if (store_batch_commit(b, NULL) != STORE_OK)
            _exit(4);
        rep.first_leaf = store_batch_result(b, 0)->first_leaf;
        rep.leaves = total;
        rep.items = items;
        if (write(fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
            _exit(5);
    }
}

/* Checks one round after the kill: reported batches whole, no batch half there. */
static void
crash_check(const char *dir, uint32_t round, const crash_report *reps, size_t nrep,
            uint64_t *size_io)
{
    store *s = tl_open(dir); /* writable: the lock and stale readers are gone */
    store_read *r = NULL;
    store_verify_report vr;
    store_audit_record rec;
    proto_detail d = {0};
    uint64_t size, i;

    assert_store_ok(store_read_begin(s, &r), &d);
    assert_store_ok(store_audit_size(r, &size), &d);
    for (size_t k = 0; k < nrep; k++) {
        char want[64];

        assert_int_equal(reps[k].round, round);
        for (uint32_t j = 0; j < reps[k].leaves; j++) {
            assert_store_ok(store_audit_get(r, reps[k].first_leaf + j, &rec), &d);
            snprintf(want, sizeof(want), "r%u b%u n%u k%u", round, reps[k].batch, reps[k].leaves, j);
            assert_string_equal(rec.detail, want);
        }
        for (uint32_t j = 0; j < reps[k].items; j++) {
            uint8_t id[PROTO_ID_BYTES];
            store_envelope_info info;
            proto_slice bytes;

            make_id(id, round * 100000 + reps[k].batch, j);
            assert_store_ok(store_envelope_get(r, id, &info, &bytes), &d);
        }
    }
    /* Walk this round's records: every batch present is present whole. */
    for (i = *size_io; i < size;) {
        unsigned rr, bb, nn, kk;

        assert_store_ok(store_audit_get(r, i, &rec), &d);
        assert_int_equal(sscanf(rec.detail, "r%u b%u n%u k%u", &rr, &bb, &nn, &kk), 4);
        assert_int_equal(rr, round);
        assert_int_equal(kk, 0);
        assert_true(i + nn <= size);
        for (unsigned j = 1; j < nn; j++) {
            char want[64];

            assert_store_ok(store_audit_get(r, i + j, &rec), &d);
            snprintf(want, sizeof(want), "r%u b%u n%u k%u", rr, bb, nn, j);
            assert_string_equal(rec.detail, want);
        }
        i += nn;
    }
    /* Depth counters agree with the queues. */
    {
        static store_queue_entry q[20000];
        uint64_t dep;
        size_t n;

        assert_store_ok(store_queue_depth(r, "CAN/RCMP", &dep), &d);
        assert_store_ok(store_queue_peek(r, "CAN/RCMP", 0, q, 20000, &n), &d);
        assert_int_equal(dep, n);
    }
    assert_store_ok(store_audit_verify(r, NULL, &vr), &d);
    if (vr.failure != STORE_VERIFY_OK)
        fail_msg("round %u: verify: %s", round, vr.text);
    store_read_end(&r);
    store_close(&s);
    *size_io = size;
}

static void
test_store_crash_kill9_rounds(void **state)
{
    fixture *f = *state;
    unsigned seed = (unsigned)time(NULL);
    const char *env = getenv("LIAISON_CRASH_SEED");
    uint64_t size = 0;
    size_t total_batches = 0, kills_mid = 0;

    if (env != NULL)
        seed = (unsigned)strtoul(env, NULL, 10);
    print_message("crash test seed %u (LIAISON_CRASH_SEED)\n", seed);
    srand(seed);
    f->s = tl_open(f->dir);
    store_close(&f->s);
    for (uint32_t round = 0; round < CRASH_ROUNDS; round++) {
        static crash_report reps[4096];
        size_t nrep = 0;
        int p[2], status = 0;
        unsigned child_seed = (unsigned)rand();
        long delay_us = rand() % 40000;
        struct timespec ts = {0, delay_us * 1000};
        pid_t pid;
        ssize_t got;

        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            crash_child(f->dir, round, p[1], child_seed);
            _exit(0);
        }
        close(p[1]);
        if (round % 2 == 1) {
            /* Odd rounds wait for a first durable batch, so that at least
             * half the kills land among commits even on a slow machine. */
            struct pollfd pf = {p[0], POLLIN, 0};

            assert_int_equal(poll(&pf, 1, 10000), 1);
            got = read(p[0], &reps[nrep], sizeof(reps[0]));
            assert_int_equal(got, sizeof(reps[0]));
            nrep++;
            ts.tv_nsec /= 2;
        }
        nanosleep(&ts, NULL);
        assert_int_equal(kill(pid, SIGKILL), 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL))
            fail_msg("round %u: child exited with %d before the kill", round,
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        while (nrep < 4096 && (got = read(p[0], &reps[nrep], sizeof(reps[0]))) > 0) {
            assert_int_equal(got, sizeof(reps[0]));
            nrep++;
        }
        close(p[0]);
        crash_check(f->dir, round, reps, nrep, &size);
        total_batches += nrep;
        kills_mid += nrep > 0;
    }
    print_message("%d rounds, %zu durable batches reported, %llu records, %zu rounds killed "
                  "after at least one commit\n",
                  CRASH_ROUNDS, total_batches, (unsigned long long)size, kills_mid);
    assert_true(kills_mid >= CRASH_ROUNDS / 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_open_creates_and_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_second_broker_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_network_fs_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_created_once_marker_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_deleted_data_file_not_recreated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_emptied_data_file_not_recreated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_truncated_data_file_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_disk_full_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_eio_on_nearly_full_disk_is_disk_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_map_full_named, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_envelope_queue_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_queue_find_and_dequeue_if, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_duplicate_item_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_batch_argument_checks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_meta_put_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_queue_extra_and_drop_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_map_grows_when_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_sweep_expires_and_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_commit_survives_io_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_large_batch_commits_in_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_ordered_ids_fill_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_alloc_faults, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_threads_write_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_crash_kill9_rounds, setup, teardown),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    test_quiet_logs();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
