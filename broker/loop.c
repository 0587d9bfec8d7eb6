/* The main thread's event loop: sockets, signals, timers, reloads, drain. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

#define TICK_MS 200u

uint64_t
broker_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

size_t
broker_recv_frames(void *sock, zmq_msg_t frames[BROKER_FRAMES_MAX])
{
    size_t count = 0, bytes = 0;
    int more = 1, fd = -1;

    while (more) {
        zmq_msg_t scratch;
        zmq_msg_t *m = count < BROKER_FRAMES_MAX ? &frames[count] : &scratch;

        zmq_msg_init(m);
        if (zmq_msg_recv(m, sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(m);
            break; /* none waiting; or, mid-message, the connection went */
        }
        more = zmq_msg_more(m);
        bytes += zmq_msg_size(m);
        /* A ROUTER's routing id frame is made here and has no descriptor. */
        if (fd < 0)
            fd = zmq_msg_get(m, ZMQ_SRCFD);
        if (m == &scratch)
            zmq_msg_close(m);
        count++;
    }
    if (count > 0)
        broker_guard_consumed(fd, count, bytes);
    return count;
}

/* Audits that a reload refused one file, with the reason. */
static void
reload_refused(broker *b, const char *what, const char *why)
{
    char detail[STORE_DETAIL_MAX + 1];

    snprintf(detail, sizeof(detail), "%.16s refused: %.200s", what, why);
    broker_audit_item(b, STORE_EV_POLICY_RELOADED, NULL, b->id->addr.nation, "", NULL, "", NULL,
                      detail);
}

/* Logs each field of cfg, read at a reload, that differs from the
 * configuration the broker started with: only `peers:` is taken at a
 * reload, the rest at the next start. */
static void
restart_fields(const broker *b, const broker_config *cfg)
{
    const broker_config *o = b->cfg;
    struct {
        const char *name; /* the field */
        bool changed;     /* cfg differs from o */
    } f[] = {
        {"nation", strcmp(o->nation, cfg->nation) != 0},
        {"identity", strcmp(o->identity, cfg->identity) != 0},
        {"roster", strcmp(o->roster, cfg->roster) != 0},
        {"policy", strcmp(o->policy, cfg->policy) != 0},
        {"data_dir", strcmp(o->data_dir, cfg->data_dir) != 0},
        {"agency_endpoint", strcmp(o->agency_endpoint, cfg->agency_endpoint) != 0},
        {"federation_endpoint", strcmp(o->federation_endpoint, cfg->federation_endpoint) != 0},
        {"metrics_endpoint",
         (o->metrics_endpoint == NULL) != (cfg->metrics_endpoint == NULL) ||
             (o->metrics_endpoint != NULL &&
              strcmp(o->metrics_endpoint, cfg->metrics_endpoint) != 0)},
        {"limits.max_message_bytes", o->limits.max_message_bytes != cfg->limits.max_message_bytes},
        {"limits.max_in_flight", o->limits.max_in_flight != cfg->limits.max_in_flight},
        {"limits.max_queue_depth", o->limits.max_queue_depth != cfg->limits.max_queue_depth},
        {"limits.max_pending_per_client",
         o->limits.max_pending_per_client != cfg->limits.max_pending_per_client},
        {"tree_head_interval_s", o->tree_head_interval_s != cfg->tree_head_interval_s},
        {"expiry_sweep_interval_s", o->expiry_sweep_interval_s != cfg->expiry_sweep_interval_s},
        {"verify_signatures", o->verify_signatures != cfg->verify_signatures},
        {"verify_threads", o->verify_threads != cfg->verify_threads},
        {"log_level", o->log_level != cfg->log_level},
        {"nation_key", memcmp(o->nation_key, cfg->nation_key, sizeof(o->nation_key)) != 0},
    };

    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        if (f[i].changed)
            PROTO_LOG(PROTO_LOG_WARN, "B-RELOAD-RESTART",
                      "field=%s action=\"changed in %s: not applied, takes effect at the next "
                      "start\"",
                      f[i].name, b->config_path);
    }
}

/* Reloads the configuration's peers, the policy and the roster through the
 * loaders start-up uses, so each passes the same checks, and each is taken
 * or refused on its own: a configuration that does not load leaves the
 * peers (and every other field) in force, a policy or roster refused leaves
 * the one in force.  The roster is checked against the peers it will serve
 * (the new ones, or those in force), so the peers change only with a roster
 * that loaded. */
static void
reload(broker *b)
{
    broker_config *cfg = NULL;
    broker_config_detail cd;
    const broker_config *peers;
    policy *pol = NULL;
    policy_rate *rate = NULL;
    proto_roster *roster = NULL, *old_roster;
    char why[768], detail[200], ph[17], rh[17];
    uint8_t hash[PROTO_HASH_BYTES];
    bool policy_ok = false, roster_ok = false;

    memset(&cd, 0, sizeof(cd));
    if (broker_config_load(b->config_path, &cfg, &cd) != BROKER_CONFIG_OK)
        snprintf(why, sizeof(why), "%s", cd.text);
    else if (broker_peers_check(b, cfg, why, sizeof(why)) != EX_OK)
        broker_config_destroy(&cfg);
    if (cfg == NULL) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-RELOAD-CONFIG",
                  "result=refused error=\"%s\" action=\"kept the configuration and peers in "
                  "force\"",
                  why);
        reload_refused(b, "configuration", why);
    } else {
        restart_fields(b, cfg);
    }
    peers = cfg != NULL ? cfg : b->peers_cfg;
    if (broker_policy_load(b, &pol, &rate, why, sizeof(why)) == EX_OK) {
        /* The main thread is the only one deciding; the committer asks the
         * policy about holds under pol_lock, so the swap takes it. */
        policy_rate_destroy(&b->rate);
        pthread_mutex_lock(&b->pol_lock);
        policy_destroy(&b->pol);
        b->pol = pol;
        pthread_mutex_unlock(&b->pol_lock);
        b->rate = rate;
        policy_ok = true;
        broker_metrics_inc(b->metrics, BROKER_METRICS_POLICY_RELOAD_OK, 1);
    } else {
        PROTO_LOG(PROTO_LOG_ERROR, "B-RELOAD-POLICY",
                  "result=refused error=\"%s\" action=\"kept the old policy\"", why);
        broker_metrics_inc(b->metrics, BROKER_METRICS_POLICY_RELOAD_FAILED, 1);
        reload_refused(b, "policy", why);
    }
    if (broker_roster_load(b, peers, &roster, why, sizeof(why)) == EX_OK) {
        pthread_rwlock_wrlock(&b->roster.lock);
        old_roster = b->roster.roster;
        b->roster.roster = roster;
        broker_zap_peers_set(b, peers);
        pthread_rwlock_unlock(&b->roster.lock);
        proto_roster_destroy(&old_roster);
        roster_ok = true;
        broker_metrics_inc(b->metrics, BROKER_METRICS_ROSTER_RELOAD_OK, 1);
        if (cfg != NULL) {
            broker_peers_reload(b, cfg);
            if (b->peers_cfg != b->cfg)
                broker_config_destroy(&b->peers_cfg);
            b->peers_cfg = cfg;
            cfg = NULL;
        }
        /* Before the reload is logged: once it is, a revoked key has no
         * open session left. */
        broker_revoke_sessions(b);
        broker_roster_publish(b);
    } else {
        PROTO_LOG(PROTO_LOG_ERROR, "B-RELOAD-ROSTER",
                  "result=refused error=\"%s\" action=\"kept the old roster and peers\"", why);
        broker_metrics_inc(b->metrics, BROKER_METRICS_ROSTER_RELOAD_FAILED, 1);
        reload_refused(b, "roster", why);
    }
    broker_config_destroy(&cfg);
    proto_hex(policy_hash(b->pol), 8, ph);
    pthread_rwlock_rdlock(&b->roster.lock);
    proto_roster_hash(b->roster.roster, hash);
    pthread_rwlock_unlock(&b->roster.lock);
    proto_hex(hash, 8, rh);
    snprintf(detail, sizeof(detail), "policy %s (%s) roster %s (%s)", ph,
             policy_ok ? "reloaded" : "kept", rh, roster_ok ? "reloaded" : "kept");
    PROTO_LOG(PROTO_LOG_INFO, "B-RELOAD",
              "policy=%s roster=%s policy_hash=%s roster_hash=%s peers=%zu",
              policy_ok ? "reloaded" : "kept", roster_ok ? "reloaded" : "kept", ph, rh,
              b->peer_count);
    broker_audit_item(b, STORE_EV_POLICY_RELOADED, NULL, b->id->addr.nation, "", NULL,
                      policy_ok ? "reload" : "", NULL, detail);
    broker_commit_kick(b);
}

/* Audits and logs what the refusal table says is due: one summary per key
 * whose interval has ended (or every one, at stop: UINT64_MAX). */
static void
refusals_flush(broker *b, uint64_t now)
{
    broker_refusal_count due[16];
    size_t n;

    broker_refusals_lost(&b->refusals, broker_zap_lost_take(),
                         now == UINT64_MAX ? broker_now_ms() : now);
    do {
        n = broker_refusals_due(&b->refusals, now, due, sizeof(due) / sizeof(due[0]));
        for (size_t i = 0; i < n; i++) {
            const broker_refusal_count *c = &due[i];
            double last_s = (double)(c->last_ms - c->start_ms) / 1000.0;
            char detail[256];

            if (c->other) {
                PROTO_LOG(PROTO_LOG_WARN, "B-KEY-REFUSALS",
                          "key=other count=%llu interval_s=%u table=%u first_key=%s "
                          "first_address=%s last_address=%s last_s=%.1f",
                          (unsigned long long)c->count, BROKER_REFUSALS_INTERVAL_MS / 1000u,
                          BROKER_REFUSALS_KEYS_MAX, c->key, c->first_address, c->last_address,
                          last_s);
                snprintf(detail, sizeof(detail),
                         "%s: %llu refusals of other keys within %u s (the table of %u keys "
                         "was full); first key %.16s from %s, last from %s at +%.1f s",
                         c->domain, (unsigned long long)c->count,
                         BROKER_REFUSALS_INTERVAL_MS / 1000u, BROKER_REFUSALS_KEYS_MAX, c->key,
                         c->first_address, c->last_address, last_s);
            } else {
                PROTO_LOG(PROTO_LOG_WARN, "B-KEY-REFUSALS",
                          "key=%s domain=%s identity=%s count=%llu interval_s=%u "
                          "first_address=%s last_address=%s last_s=%.1f why=\"%s\"",
                          c->key, c->domain, c->user, (unsigned long long)c->count,
                          BROKER_REFUSALS_INTERVAL_MS / 1000u, c->first_address,
                          c->last_address, last_s, c->why);
                snprintf(detail, sizeof(detail),
                         "%s key %.16s: %llu more refusals within %u s of the first, last from "
                         "%s at +%.1f s: %s",
                         c->domain, c->key, (unsigned long long)c->count,
                         BROKER_REFUSALS_INTERVAL_MS / 1000u, c->last_address, last_s, c->why);
            }
            broker_audit_item(b, STORE_EV_KEY_REFUSED, NULL, c->user, b->id->addr.nation, NULL, "",
                              NULL, detail);
        }
    } while (n == sizeof(due) / sizeof(due[0]));
    broker_commit_kick(b);
}

/*
 * Handles the handshakes the ZAP handler refused: "domain|address|key|user|why"
 * each.  Each is counted in the metrics; only the first of a key in an
 * interval is logged and audited at once, the rest are summed up by
 * refusals_flush (refusals.h), so that handshakes with made-up keys cost
 * the audit log a bounded number of records.
 */
static void
zap_refused(broker *b)
{
    for (int budget = 0; budget < 1024; budget++) {
        char event[512];
        int n = zmq_recv(b->zap_events, event, sizeof(event) - 1, ZMQ_DONTWAIT);
        char *field[5] = {NULL};
        char *save = NULL, *p;
        size_t i = 0;
        uint64_t now = broker_now_ms();
        broker_refusal_event ev;
        broker_op *op;

        if (n <= 0)
            return;
        event[n < (int)sizeof(event) ? n : (int)sizeof(event) - 1] = '\0';
        for (p = strtok_r(event, "|", &save); p != NULL && i < 5; p = strtok_r(NULL, "|", &save))
            field[i++] = p;
        if (i < 5) {
            /* An empty user leaves four fields: domain, address, key, why. */
            field[4] = field[3];
            field[3] = "";
        }
        for (i = 0; i < 5; i++)
            field[i] = field[i] != NULL ? field[i] : "";
        broker_metrics_inc(b->metrics, BROKER_METRICS_KEYS_REFUSED, 1);
        ev = (broker_refusal_event){field[0], field[1], field[2], field[3], field[4]};
        refusals_flush(b, now); /* an ended interval is summed up before a new one starts */
        if (broker_refusals_note(&b->refusals, &ev, now) != BROKER_REFUSAL_FIRST)
            continue;
        {
            char from[BROKER_REFUSALS_TEXT_MAX * 2 + 2];

            snprintf(from, sizeof(from), "%s %s", field[0], field[1]);
            broker_metrics_note_refusal(
                b->metrics, &(broker_metrics_refusal){BROKER_METRICS_REFUSED_HANDSHAKE, now, from,
                                                      NULL, "key-refused", NULL, field[4]});
        }
        PROTO_LOG(PROTO_LOG_WARN, "B-KEY-REFUSED",
                  "domain=%s address=%s key=%s identity=%s why=\"%s\"", field[0], field[1],
                  field[2], field[3], field[4]);
        op = broker_op_begin(b, BROKER_OP_PLAIN);
        if (op != NULL) {
            char detail[256];

            snprintf(detail, sizeof(detail), "%s from %s key %.16s: %s", field[0], field[1],
                     field[2], field[4]);
            if (broker_audit(b, STORE_EV_KEY_REFUSED, NULL, field[3], b->id->addr.nation, NULL,
                             "", NULL, detail) != 0)
                broker_op_abort(b);
            broker_commit_kick(b);
        }
    }
}

static void
on_signal(broker *b)
{
    struct signalfd_siginfo si;

    while (read(b->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            b->reload = true;
        } else {
            if (!b->stopping)
                PROTO_LOG(PROTO_LOG_INFO, "B-STOP", "signal=%u action=\"draining\"", si.ssi_signo);
            b->stopping = true;
        }
    }
}

static void
refresh_depths(broker *b)
{
    store_dest_depth depths[256];
    store_read *rd = NULL;
    size_t n = 0;

    if (store_read_begin(b->st, &rd) != STORE_OK)
        return;
    if (store_queue_list(rd, depths, sizeof(depths) / sizeof(depths[0]), &n, NULL) == STORE_OK) {
        for (size_t i = 0; i < n; i++)
            (void)broker_metrics_set_queue_depth(b->metrics, depths[i].dest, depths[i].depth);
    }
    store_read_end(&rd);
}

static void
tick(broker *b, uint64_t now)
{
    broker_metrics_sample(b->metrics, now);
    broker_sessions_tick(b, now);
    broker_replies_tick(b, now);
    broker_peers_tick(b, now);
    for (size_t i = 0; i < b->session_count; i++) {
        if (b->sessions[i].rid_len > 0)
            broker_agency_deliver(b, &b->sessions[i]);
    }
    if (now >= b->next_depth_ms) {
        refresh_depths(b);
        b->next_depth_ms = now + 5000u;
    }
    /* Queued messages live on disk, not in the broker: give back the pages
     * of the data file it read, and the heap it freed, every 2 s. */
    if (now >= b->next_trim_ms) {
        store_release_memory(b->st);
        malloc_trim(0);
        b->next_trim_ms = now + 2000u;
    }
    broker_commit_kick(b);
}

/* Refills the windows that receipts and acks opened while the input was
 * read: one send per session or peer, so the reports that go out together
 * are signed together. */
static void
send_due(broker *b)
{
    broker_agency_send_due(b);
    for (size_t i = 0; i < b->peer_count; i++) {
        if (b->peers[i].send_due) {
            b->peers[i].send_due = false;
            broker_peer_send(b, &b->peers[i]);
        }
    }
}

/* True once nothing accepted is still on its way to disk. */
static bool
drained(broker *b)
{
    return b->order.in_pool == 0 && !b->committing && b->collecting->count == 0;
}

int
broker_run(broker *b)
{
    zmq_pollitem_t items[6 + 2 * BROKER_PEERS_MAX];

    broker_refusals_init(&b->refusals, BROKER_REFUSALS_INTERVAL_MS);
    PROTO_LOG(PROTO_LOG_INFO, "B-READY", "nation=%s agency_endpoint=%s federation_endpoint=%s peers=%zu",
              b->id->addr.nation, b->cfg->agency_endpoint, b->cfg->federation_endpoint,
              b->peer_count);
    for (;;) {
        size_t n = 0;
        uint64_t now;
        int rc;

        /* While draining, read no new work; finish what was accepted. */
        items[n++] = (zmq_pollitem_t){b->agency_sock, 0, b->stopping ? 0 : ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){b->fed_sock, 0, b->stopping ? 0 : ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){b->jobs_back, 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){b->commit_sock, 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){b->zap_events, 0, ZMQ_POLLIN, 0};
        items[n++] = (zmq_pollitem_t){NULL, b->signal_fd, ZMQ_POLLIN, 0};
        for (size_t i = 0; i < b->peer_count; i++) /* no socket between failed redials */
            items[n++] = b->peers[i].sock != NULL
                             ? (zmq_pollitem_t){b->peers[i].sock, 0, ZMQ_POLLIN, 0}
                             : (zmq_pollitem_t){NULL, -1, 0, 0};
        for (size_t i = 0; i < b->peer_count; i++) /* connection events of each DEALER */
            items[n++] = b->peers[i].monitor != NULL
                             ? (zmq_pollitem_t){b->peers[i].monitor, 0, ZMQ_POLLIN, 0}
                             : (zmq_pollitem_t){NULL, -1, 0, 0};
        rc = zmq_poll(items, (int)n, broker_commit_due_in(b, (int)TICK_MS));
        if (rc < 0 && zmq_errno() != EINTR) {
            PROTO_LOG(PROTO_LOG_ERROR, "B-POLL", "error=\"%s\"", zmq_strerror(zmq_errno()));
            return -1;
        }
        if (rc > 0) {
            if (items[5].revents & ZMQ_POLLIN)
                on_signal(b);
            if (items[3].revents & ZMQ_POLLIN)
                broker_commit_done(b);
            if (items[2].revents & ZMQ_POLLIN) {
                broker_job *job = NULL;

                while (zmq_recv(b->jobs_back, &job, sizeof(job), ZMQ_DONTWAIT) == sizeof(job)) {
                    broker_job *ready = broker_job_back(b, job);

                    while (ready != NULL) {
                        broker_job *next = broker_job_of(ready->ord.next);

                        ready->ord.next = NULL;
                        if (ready->type == PROTO_CMD_SUBMIT)
                            broker_route_submit(b, ready);
                        else if (ready->type == PROTO_CMD_FORWARD)
                            broker_route_forward(b, ready);
                        else
                            broker_fed_report(b, ready);
                        ready = next;
                    }
                }
            }
            if (items[0].revents & ZMQ_POLLIN)
                broker_agency_readable(b);
            if (items[1].revents & ZMQ_POLLIN)
                broker_fed_readable(b);
            if (items[4].revents & ZMQ_POLLIN)
                zap_refused(b);
            for (size_t i = 0; i < b->peer_count; i++) {
                if (items[6 + b->peer_count + i].revents & ZMQ_POLLIN)
                    broker_peer_events(b, &b->peers[i]);
                if (items[6 + i].revents & ZMQ_POLLIN)
                    broker_peer_readable(b, &b->peers[i]);
            }
            send_due(b);
        }
        if (b->reload) {
            b->reload = false;
            reload(b);
        }
        now = broker_now_ms();
        if (now >= b->next_tick_ms) {
            b->next_tick_ms = now + TICK_MS;
            if (!b->stopping)
                tick(b, now);
        }
        /* At stop every count is summed up now: none is lost with the process. */
        if (b->stopping || broker_refusals_due_in(&b->refusals, now, TICK_MS) == 0)
            refusals_flush(b, b->stopping ? UINT64_MAX : now);
        broker_commit_kick(b);
        if (b->stopping && drained(b)) {
            PROTO_LOG(PROTO_LOG_INFO, "B-STOPPED", "nation=%s", b->id->addr.nation);
            return 0;
        }
    }
}
