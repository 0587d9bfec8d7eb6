/* The verify pool and the committer thread. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"
#include "frames.h"

#define JOBS_ENDPOINT "inproc://liaison.jobs"
#define VERIFIED_ENDPOINT "inproc://liaison.verified"
#define COMMIT_ENDPOINT "inproc://liaison.commit"

static int
send_ptr(void *sock, void *ptr)
{
    return zmq_send(sock, &ptr, sizeof(ptr), 0) == sizeof(ptr) ? 0 : -1;
}

static void *
recv_ptr(void *sock, bool *ok)
{
    void *ptr = NULL;
    int n;

    do
        n = zmq_recv(sock, &ptr, sizeof(ptr), 0);
    while (n < 0 && zmq_errno() == EINTR);
    *ok = n == sizeof(ptr);
    return ptr;
}

/* Bytes the jobs between dispatch and free hold (any thread frees). */
static _Atomic uint64_t jobs_bytes;

uint64_t
broker_jobs_max(const broker_config *cfg)
{
    /* The guard's budget for all connections: each job counts its message
     * twice (the bytes and the decoded envelope), so half as many fit. */
    return broker_guard_total_max(cfg);
}

void
broker_job_free(broker_job **job)
{
    if (job == NULL)
        return;
    while (*job != NULL) {
        broker_job *j = *job;

        *job = broker_job_of(j->ord.chain);
        if (j->held > 0)
            atomic_fetch_sub_explicit(&jobs_bytes, j->held, memory_order_relaxed);
        zmq_msg_close(&j->msg);
        free(j->env);
        free(j->report);
        free(j->grants);
        free(j->targets);
        free(j);
    }
}

static void job_fail(broker_job *job, proto_err result, uint16_t code, const char *fmt, ...)
    PROTO_PRINTF(4, 5);

/* Marks a job refused: its result, the wire code to answer with, and why. */
static void
job_fail(broker_job *job, proto_err result, uint16_t code, const char *fmt, ...)
{
    va_list ap;

    job->result = result;
    job->wire_code = code;
    va_start(ap, fmt);
    vsnprintf(job->why, sizeof(job->why), fmt, ap);
    va_end(ap);
}

/* The roster's signing key of who: false when it has no card; *revoked says
 * whether the card is revoked. */
static bool
signing_key(broker *b, const proto_addr *who, uint8_t key[PROTO_SIGN_PUBLIC_BYTES], bool *revoked)
{
    const proto_roster_entry *e;

    pthread_rwlock_rdlock(&b->roster.lock);
    e = proto_roster_find(b->roster.roster, who);
    if (e != NULL) {
        *revoked = e->revoked;
        memcpy(key, e->card.sign_public, PROTO_SIGN_PUBLIC_BYTES);
    }
    pthread_rwlock_unlock(&b->roster.lock);
    return e != NULL;
}

/* Decodes a partner's report and checks that partner's signature on it;
 * cache holds the batches this worker has checked already. */
static void
verify_report_job(broker *b, broker_job *job, proto_report_cache *cache)
{
    const uint8_t *data = zmq_msg_data(&job->msg);
    size_t len = zmq_msg_size(&job->msg);
    uint8_t key[PROTO_SIGN_PUBLIC_BYTES];
    bool revoked = false;
    proto_detail d;

    job->report = malloc(sizeof(*job->report));
    if (job->report == NULL) {
        job_fail(job, PROTO_ERR_NOMEM, PROTO_WIRE_INTERNAL, "out of memory");
        return;
    }
    if (proto_report_decode(data, len, job->report, &d) != PROTO_OK) {
        job_fail(job, PROTO_ERR_SIGNATURE, PROTO_WIRE_MALFORMED, "report: %.240s", d.text);
        return;
    }
    if (!proto_addr_equal(&job->report->broker, &job->from)) {
        job_fail(job, PROTO_ERR_SIGNATURE, PROTO_WIRE_SIGNATURE,
                 "report is not signed by the partner that sent it");
        return;
    }
    if (!signing_key(b, &job->from, key, &revoked) || revoked) {
        job_fail(job, PROTO_ERR_SIGNATURE, PROTO_WIRE_SIGNATURE,
                 "the partner broker is not in the roster");
        return;
    }
    if (job->verify && proto_report_verify_cached(data, len, key, cache) != PROTO_OK) {
        job_fail(job, PROTO_ERR_SIGNATURE, PROTO_WIRE_SIGNATURE,
                 "report does not verify with the broker key");
        return;
    }
    memcpy(job->id, job->report->id, PROTO_ID_BYTES);
    job->result = PROTO_OK;
    job->wire_code = 0;
}

/* Decodes the consent grants the envelope carries and checks each with its
 * grantor's card (docs/protocol.md section 11): one that does not decode, or
 * whose grantor is unknown or revoked, or whose signature does not verify,
 * refuses the whole message (malformed or bad-signature). */
static void
verify_grants(broker *b, broker_job *job)
{
    const proto_envelope *env = job->env;
    char who[PROTO_ADDR_TEXT_MAX + 1], id[2 * PROTO_ID_BYTES + 1];

    if (env->grant_count == 0)
        return;
    job->grants = calloc(env->grant_count, sizeof(*job->grants));
    if (job->grants == NULL) {
        job_fail(job, PROTO_ERR_NOMEM, PROTO_WIRE_INTERNAL, "out of memory");
        return;
    }
    for (size_t i = 0; i < env->grant_count; i++) {
        proto_grant *g = &job->grants[i];
        uint8_t key[PROTO_SIGN_PUBLIC_BYTES];
        bool revoked = false;
        proto_detail d;

        if (proto_grant_decode(env->grants[i].data, env->grants[i].len, g, &d) != PROTO_OK) {
            job_fail(job, PROTO_ERR_SYNTAX, PROTO_WIRE_MALFORMED,
                     "consent grant %zu does not decode: %.200s", i + 1, d.text);
            return;
        }
        proto_addr_format(&g->grantor, who, sizeof(who));
        proto_hex(g->id, PROTO_ID_BYTES, id);
        if (!signing_key(b, &g->grantor, key, &revoked) || revoked) {
            job_fail(job, PROTO_ERR_SIGNATURE, PROTO_WIRE_SIGNATURE,
                     "consent grant %s: its grantor %s is %s", id, who,
                     revoked ? "revoked" : "not in the roster");
            return;
        }
        if (job->verify && proto_grant_verify(g, key) != PROTO_OK) {
            job_fail(job, PROTO_ERR_SIGNATURE, PROTO_WIRE_SIGNATURE,
                     "consent grant %s does not verify with the key of its grantor %s", id, who);
            return;
        }
        job->grant_count++;
    }
}

/* Decodes the envelope, finds its sender in the roster, checks the signature. */
static void
verify_job(broker *b, broker_job *job)
{
    const uint8_t *data = zmq_msg_data(&job->msg);
    size_t len = zmq_msg_size(&job->msg);
    uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES];
    bool revoked = false;

    job->env = malloc(sizeof(*job->env));
    if (job->env == NULL) {
        job_fail(job, PROTO_ERR_NOMEM, PROTO_WIRE_INTERNAL, "out of memory");
        return;
    }
    job->wire_code = broker_envelope_check(data, len, job->type == PROTO_CMD_SUBMIT, job->env,
                                           job->why, sizeof(job->why));
    if (job->wire_code != 0) {
        job->result = PROTO_ERR_SYNTAX;
        return;
    }
    job->result = PROTO_OK;
    job->decoded = true;
    memcpy(job->id, job->env->id, PROTO_ID_BYTES);
    proto_sha256(data, len, job->envelope_hash);
    if (!signing_key(b, &job->env->sender, sign_public, &revoked) || revoked) {
        char who[PROTO_ADDR_TEXT_MAX + 1];

        job_fail(job, PROTO_ERR_SIGNATURE, revoked ? PROTO_WIRE_REVOKED : PROTO_WIRE_SENDER,
                 "sender %s is %s", proto_addr_format(&job->env->sender, who, sizeof(who)),
                 revoked ? "revoked" : "not in the roster");
        return;
    }
    if (job->verify && proto_envelope_verify(job->env, sign_public) != PROTO_OK) {
        job_fail(job, PROTO_ERR_SIGNATURE, PROTO_WIRE_SIGNATURE,
                 "the sender's signature does not verify");
        return;
    }
    verify_grants(b, job);
}

typedef struct worker_arg {
    broker *b;      /* the daemon */
} worker_arg;

static worker_arg warg;

static void *
worker_main(void *arg)
{
    broker *b = ((worker_arg *)arg)->b;
    void *in = zmq_socket(b->zctx, ZMQ_PULL);
    void *out = zmq_socket(b->zctx, ZMQ_PUSH);
    proto_report_cache cache;
    int linger = 0;

    memset(&cache, 0, sizeof(cache));
    prctl(PR_SET_NAME, "lsn-verify"); /* as top -H and ps -L show it */
    zmq_setsockopt(in, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(out, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_connect(in, JOBS_ENDPOINT) != 0 || zmq_connect(out, VERIFIED_ENDPOINT) != 0)
        goto out;
    for (;;) {
        bool ok;
        broker_job *job = recv_ptr(in, &ok);

        if (!ok || job == NULL)
            break;
        for (broker_ordered *o = &job->ord; o != NULL; o = o->chain) {
            broker_job *j = broker_job_of(o);

            if (j->type == PROTO_CMD_REPORT)
                verify_report_job(b, j, &cache);
            else
                verify_job(b, j);
        }
        if (send_ptr(out, job) != 0)
            break;
    }
out:
    zmq_close(in);
    zmq_close(out);
    return NULL;
}

int
broker_workers_start(broker *b)
{
    size_t n = broker_config_verify_thread_count(b->cfg);
    int linger = 0, hwm = 0;

    b->jobs_out = zmq_socket(b->zctx, ZMQ_PUSH);
    b->jobs_back = zmq_socket(b->zctx, ZMQ_PULL);
    if (b->jobs_out == NULL || b->jobs_back == NULL)
        return -1;
    zmq_setsockopt(b->jobs_out, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(b->jobs_back, ZMQ_LINGER, &linger, sizeof(linger));
    /* Pointers never pile up beyond what the main thread admits; no HWM drops. */
    zmq_setsockopt(b->jobs_out, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    zmq_setsockopt(b->jobs_back, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_bind(b->jobs_out, JOBS_ENDPOINT) != 0 || zmq_bind(b->jobs_back, VERIFIED_ENDPOINT) != 0)
        return -1;
    b->workers = calloc(n, sizeof(*b->workers));
    if (b->workers == NULL)
        return -1;
    warg.b = b;
    for (size_t i = 0; i < n; i++) {
        if (pthread_create(&b->workers[i], NULL, worker_main, &warg) != 0)
            return -1;
        b->worker_count++;
    }
    PROTO_LOG(PROTO_LOG_INFO, "B-WORKERS", "verify_threads=%zu verify_signatures=%s", n,
              b->cfg->verify_signatures ? "true" : "false");
    return 0;
}

void
broker_workers_stop(broker *b)
{
    for (size_t i = 0; i < b->worker_count; i++)
        send_ptr(b->jobs_out, NULL);
    for (size_t i = 0; i < b->worker_count; i++)
        pthread_join(b->workers[i], NULL);
    for (broker_ordered *o = broker_order_drain(&b->order); o != NULL;) {
        broker_job *j = broker_job_of(o);

        o = o->next;
        broker_job_free(&j);
    }
    /* Jobs still on their way back are freed unanswered: nothing of them was
     * accepted, and the client resends. */
    if (b->jobs_back != NULL) {
        for (;;) {
            broker_job *job = NULL;

            if (zmq_recv(b->jobs_back, &job, sizeof(job), ZMQ_DONTWAIT) != sizeof(job))
                break;
            broker_job_free(&job);
        }
    }
    free(b->workers);
    b->workers = NULL;
    b->worker_count = 0;
    if (b->jobs_out != NULL)
        zmq_close(b->jobs_out);
    if (b->jobs_back != NULL)
        zmq_close(b->jobs_back);
    b->jobs_out = b->jobs_back = NULL;
}

int
broker_job_dispatch(broker *b, broker_job *job)
{
    uint64_t bytes = 0, max = broker_jobs_max(b->cfg);
    size_t n;

    /* A job holds its message and, once checked, the decoded envelope. */
    for (broker_job *j = job; j != NULL; j = broker_job_of(j->ord.chain))
        bytes += 2u * zmq_msg_size(&j->msg) + sizeof(*j);
    if (atomic_load_explicit(&jobs_bytes, memory_order_relaxed) + bytes > max)
        return BROKER_JOB_BUSY;
    for (broker_job *j = job; j != NULL; j = broker_job_of(j->ord.chain)) {
        j->held = 2u * zmq_msg_size(&j->msg) + sizeof(*j);
        atomic_fetch_add_explicit(&jobs_bytes, j->held, memory_order_relaxed);
    }
    n = broker_order_number(&b->order, &job->ord);
    if (send_ptr(b->jobs_out, job) != 0)
        return -1;
    broker_order_sent(&b->order, n);
    return 0;
}

broker_job *
broker_job_back(broker *b, broker_job *job)
{
    return broker_job_of(broker_order_back(&b->order, &job->ord));
}

/* ---- The committer ------------------------------------------------------ */

static double
mono_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Asks the policy in force whether a hold keeps r (the committer's, under pol_lock). */
static void
hold_lookup(void *ctx, const store_retention *r, uint64_t now_ms, store_hold *out)
{
    broker *b = ctx;
    policy_retention_query q;
    policy_retention pr;

    memset(&q, 0, sizeof(q));
    q.kind = r->kind;
    q.case_id = r->case_id;
    q.id = r->id;
    q.created_ms = r->created_ms;
    if (policy_retention_lookup(b->pol, &q, now_ms, &pr) != POLICY_OK || !pr.held)
        return;
    out->held = true;
    snprintf(out->id, sizeof(out->id), "%s", pr.hold);
    snprintf(out->reason, sizeof(out->reason), "%s", pr.hold_reason);
    out->until_ms = pr.hold_until_ms;
}

/* Runs the retention sweep after the expiry sweep; true if work is left. */
static bool
retention_sweep(broker *b, uint64_t now_ms)
{
    size_t deleted = 0, held = 0;
    bool more = false;
    proto_detail detail;
    store_err e;

    memset(&detail, 0, sizeof(detail));
    pthread_mutex_lock(&b->pol_lock);
    e = store_retention_sweep(b->st, now_ms, hold_lookup, b, &deleted, &held, &more, &detail);
    pthread_mutex_unlock(&b->pol_lock);
    if (e != STORE_OK) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-RETAIN", "error=\"%s\" detail=\"%s\"", store_strerror(e),
                  detail.text);
        return false;
    }
    if (deleted > 0 || held > 0)
        PROTO_LOG(PROTO_LOG_INFO, "B-RETAIN", "deleted=%zu held=%zu more=%d", deleted, held,
                  more);
    return more;
}

static void *
committer_main(void *arg)
{
    broker *b = arg;
    void *sock = zmq_socket(b->zctx, ZMQ_PAIR);
    int linger = 0;

    prctl(PR_SET_NAME, "lsn-commit");
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_connect(sock, COMMIT_ENDPOINT) != 0)
        goto out;
    for (;;) {
        bool ok;
        broker_commit *c = recv_ptr(sock, &ok);

        if (!ok || c == NULL)
            break;
        c->err = STORE_OK;
        c->seconds = 0;
        if (store_batch_items(c->batch) > 0) {
            double t0 = mono_seconds();

            c->err = store_batch_commit(c->batch, &c->detail);
            c->seconds = mono_seconds() - t0;
        }
        c->expired_count = 0;
        c->sweep_more = false;
        if (c->sweep) {
            bool more = false;
            store_err e = store_sweep(b->st, c->sweep_now_ms, c->expired,
                                      sizeof(c->expired) / sizeof(c->expired[0]),
                                      &c->expired_count, &more, &c->detail);

            if (e != STORE_OK) {
                PROTO_LOG(PROTO_LOG_ERROR, "B-SWEEP", "error=\"%s\" detail=\"%s\"",
                          store_strerror(e), c->detail.text);
                c->expired_count = 0;
            }
            c->sweep_more = more;
            if (retention_sweep(b, c->sweep_now_ms))
                c->sweep_more = true;
        }
        if (c->sign_head)
            c->head_err = store_audit_head_sign(b->st, &c->head, NULL);
        if (send_ptr(sock, c) != 0)
            break;
    }
out:
    zmq_close(sock);
    return NULL;
}

int
broker_committer_start(broker *b)
{
    int linger = 0;

    b->commit_sock = zmq_socket(b->zctx, ZMQ_PAIR);
    if (b->commit_sock == NULL)
        return -1;
    zmq_setsockopt(b->commit_sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(b->commit_sock, COMMIT_ENDPOINT) != 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        if (store_batch_new(b->st, &b->commits[i].batch) != STORE_OK)
            return -1;
    }
    b->collecting = &b->commits[0];
    if (pthread_create(&b->committer, NULL, committer_main, b) != 0)
        return -1;
    b->committer_started = true;
    return 0;
}

void
broker_committer_stop(broker *b)
{
    if (b->committer_started) {
        if (b->committing) {
            bool ok;

            (void)recv_ptr(b->commit_sock, &ok);
            b->committing = false;
        }
        send_ptr(b->commit_sock, NULL);
        pthread_join(b->committer, NULL);
        b->committer_started = false;
    }
    for (int i = 0; i < 2; i++) {
        broker_commit *c = &b->commits[i];

        for (size_t k = 0; k < c->count; k++)
            broker_job_free(&c->ops[k].job);
        free(c->ops);
        c->ops = NULL;
        c->count = c->cap = 0;
        store_batch_destroy(&c->batch);
    }
    if (b->commit_sock != NULL)
        zmq_close(b->commit_sock);
    b->commit_sock = NULL;
}

/* True if the collecting batch c may wait for more (see BROKER_LAZY_MS). */
static bool
may_wait(const broker *b, const broker_commit *c, uint64_t now)
{
    return c->waited == 0 && !b->stopping && c->count < BROKER_LAZY_ITEMS &&
           now < c->first_ms + BROKER_LAZY_MS;
}

int
broker_commit_due_in(broker *b, int cap)
{
    const broker_commit *c = b->collecting;
    uint64_t now = broker_now_ms(), due;

    if (b->committing || c->count == 0)
        return cap;
    if (!may_wait(b, c, now))
        return 0;
    due = c->first_ms + BROKER_LAZY_MS - now;
    return due < (uint64_t)cap ? (int)due : cap;
}

void
broker_commit_kick(broker *b)
{
    broker_commit *c = b->collecting;
    uint64_t now = broker_now_ms();
    bool sweep, sign_head;

    if (b->committing)
        return;
    sweep = now >= b->next_sweep_ms || b->sweep_more;
    sign_head = now >= b->next_head_ms;
    if (c->count == 0 && !sweep && !sign_head)
        return;
    if (c->count > 0 && !sweep && !sign_head && may_wait(b, c, now))
        return;
    c->sweep = sweep;
    c->sign_head = sign_head;
    if (c->sweep) {
        c->sweep_now_ms = now;
        b->next_sweep_ms = now + (uint64_t)b->cfg->expiry_sweep_interval_s * 1000u;
        b->sweep_more = false;
    }
    if (c->sign_head)
        b->next_head_ms = now + (uint64_t)b->cfg->tree_head_interval_s * 1000u;
    if (send_ptr(b->commit_sock, c) != 0) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-COMMIT-SEND", "error=\"%s\"", zmq_strerror(zmq_errno()));
        return;
    }
    b->committing = true;
    b->collecting = c == &b->commits[0] ? &b->commits[1] : &b->commits[0];
}
