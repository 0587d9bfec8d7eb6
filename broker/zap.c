/* The ZAP handler: admits only roster keys, maps each to its address. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "broker.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_STOP_ENDPOINT "inproc://liaison.zap.stop"
#define ZAP_EVENTS_ENDPOINT "inproc://liaison.zap.events"

typedef struct zap_ctx {
    broker *b;          /* the daemon (roster, config) */
    void *rep;          /* bound to ZAP_ENDPOINT */
    void *stop;         /* PAIR: a frame here stops the thread */
    void *events;       /* PUSH: refusals for the main thread to audit */
} zap_ctx;

static zap_ctx zap;
/* Refusals not passed on to the main thread (its pipe was full). */
static _Atomic uint64_t zap_lost;

/* Receives one frame into buf (truncated to cap); returns its length or -1. */
static int
recv_frame(void *sock, char *buf, size_t cap, bool *more)
{
    int n = zmq_recv(sock, buf, cap, 0);
    int rcvmore = 0;
    size_t sz = sizeof(rcvmore);

    if (n < 0)
        return -1;
    zmq_getsockopt(sock, ZMQ_RCVMORE, &rcvmore, &sz);
    *more = rcvmore != 0;
    return n > (int)cap ? (int)cap : n;
}

/* Answers a request; key (NULL on a refusal) becomes the connection's
 * BROKER_KEY_PROPERTY, so that each command it sends names the key that
 * authenticated it (broker_key_admitted). */
static void
reply(void *sock, const char *req_id, int req_id_len, const char *status, const char *text,
      const char *user, const uint8_t *key)
{
    uint8_t meta[1 + sizeof(BROKER_KEY_PROPERTY) + 4 + 64];
    size_t name_len = sizeof(BROKER_KEY_PROPERTY) - 1, meta_len = 0;

    /* ZMTP metadata: one property, a name with a one-byte length and a
     * value with a four-byte big-endian length. */
    if (key != NULL) {
        char hex[65];

        proto_hex(key, 32, hex);
        meta[0] = (uint8_t)name_len;
        memcpy(meta + 1, BROKER_KEY_PROPERTY, name_len);
        memcpy(meta + 1 + name_len, "\0\0\0\x40", 4); /* 64 */
        memcpy(meta + 1 + name_len + 4, hex, 64);
        meta_len = 1 + name_len + 4 + 64;
    }
    zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(sock, req_id, (size_t)req_id_len, ZMQ_SNDMORE);
    zmq_send(sock, status, strlen(status), ZMQ_SNDMORE);
    zmq_send(sock, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(sock, user, strlen(user), ZMQ_SNDMORE);
    zmq_send(sock, meta, meta_len, 0);
}

void
broker_zap_peers_set(broker *b, const broker_config *cfg)
{
    b->roster.peer_count = 0;
    for (size_t i = 0; i < cfg->peer_count; i++)
        memcpy(b->roster.peers[b->roster.peer_count++], cfg->peers[i].nation,
               PROTO_NATION_LEN + 1);
}

/* True if nation is one of the configured peers (the caller holds the
 * roster lock).  The configuration's list, not the peer sockets: those are
 * opened after the federation endpoint is bound, and a peer that connects in
 * between must not be refused.  A reload changes the list with the roster. */
static bool
configured_peer(const broker *b, const char *nation)
{
    for (size_t i = 0; i < b->roster.peer_count; i++) {
        if (strcmp(b->roster.peers[i], nation) == 0)
            return true;
    }
    return false;
}

/* Decides one request: the status text and user id to answer with. */
static bool
admit(broker *b, const char *domain, const uint8_t key[32], char *user, size_t user_len,
      char *why, size_t why_len)
{
    const proto_roster_entry *e;
    bool ok = false;

    pthread_rwlock_rdlock(&b->roster.lock);
    e = proto_roster_find_curve(b->roster.roster, key);
    if (e == NULL) {
        snprintf(why, why_len, "unknown key");
    } else if (e->revoked) {
        proto_addr_format(&e->card.addr, user, user_len);
        snprintf(why, why_len, "revoked key of %s", user);
    } else if (strcmp(domain, "agency") == 0) {
        if (e->card.addr.kind != PROTO_ADDR_AGENCY ||
            strcmp(e->card.addr.nation, b->id->addr.nation) != 0) {
            proto_addr_format(&e->card.addr, user, user_len);
            snprintf(why, why_len, "%s is not an agency of %s", user, b->id->addr.nation);
        } else {
            proto_addr_format(&e->card.addr, user, user_len);
            ok = true;
        }
    } else if (strcmp(domain, "federation") == 0) {
        if (e->card.addr.kind != PROTO_ADDR_BROKER || !configured_peer(b, e->card.addr.nation)) {
            proto_addr_format(&e->card.addr, user, user_len);
            snprintf(why, why_len, "%s is not a configured peer broker", user);
        } else {
            proto_addr_format(&e->card.addr, user, user_len);
            ok = true;
        }
    } else {
        snprintf(why, why_len, "unknown ZAP domain '%.32s'", domain);
    }
    pthread_rwlock_unlock(&b->roster.lock);
    if (!ok && e == NULL)
        user[0] = '\0';
    return ok;
}

static void
handle(zap_ctx *z)
{
    char version[8], req_id[256], domain[64], address[128], identity[256], mech[16];
    uint8_t cred[64];
    char user[PROTO_ADDR_TEXT_MAX + 1] = "", why[160] = "";
    int lv, lr, ld, la, li, lm, lc;
    bool more = true;

    if ((lv = recv_frame(z->rep, version, sizeof(version) - 1, &more)) < 0 || !more ||
        (lr = recv_frame(z->rep, req_id, sizeof(req_id), &more)) < 0 || !more ||
        (ld = recv_frame(z->rep, domain, sizeof(domain) - 1, &more)) < 0 || !more ||
        (la = recv_frame(z->rep, address, sizeof(address) - 1, &more)) < 0 || !more ||
        (li = recv_frame(z->rep, identity, sizeof(identity), &more)) < 0 || !more ||
        (lm = recv_frame(z->rep, mech, sizeof(mech) - 1, &more)) < 0) {
        while (more && recv_frame(z->rep, identity, sizeof(identity), &more) >= 0)
            ;
        return;
    }
    lc = more ? recv_frame(z->rep, (char *)cred, sizeof(cred), &more) : 0;
    while (more && recv_frame(z->rep, identity, sizeof(identity), &more) >= 0)
        ;
    (void)li;
    version[lv] = domain[ld] = address[la] = mech[lm] = '\0';
    if (strcmp(mech, "CURVE") != 0 || lc != 32) {
        reply(z->rep, req_id, lr, "400", "CURVE required", "", NULL);
        snprintf(why, sizeof(why), "mechanism %s refused", mech);
    } else if (admit(z->b, domain, cred, user, sizeof(user), why, sizeof(why))) {
        reply(z->rep, req_id, lr, "200", "OK", user, cred);
        return;
    } else {
        reply(z->rep, req_id, lr, "400", why, "", NULL);
    }
    /* Tell the main thread, which audits it. */
    {
        char event[512], hex[65] = "";

        if (lc == 32)
            proto_hex(cred, 32, hex);
        snprintf(event, sizeof(event), "%s|%s|%s|%s|%s", domain, address, hex, user, why);
        if (zmq_send(z->events, event, strlen(event), ZMQ_DONTWAIT) < 0)
            atomic_fetch_add_explicit(&zap_lost, 1, memory_order_relaxed);
    }
}

uint64_t
broker_zap_lost_take(void)
{
    return atomic_exchange_explicit(&zap_lost, 0, memory_order_relaxed);
}

static void *
zap_main(void *arg)
{
    zap_ctx *z = arg;

    prctl(PR_SET_NAME, "lsn-zap");
    for (;;) {
        zmq_pollitem_t items[2] = {{z->rep, 0, ZMQ_POLLIN, 0}, {z->stop, 0, ZMQ_POLLIN, 0}};

        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            handle(z);
    }
    return NULL;
}

int
broker_zap_start(broker *b)
{
    int linger = 0;

    memset(&zap, 0, sizeof(zap));
    zap.b = b;
    zap.rep = zmq_socket(b->zctx, ZMQ_REP);
    zap.stop = zmq_socket(b->zctx, ZMQ_PAIR);
    zap.events = zmq_socket(b->zctx, ZMQ_PUSH);
    b->zap_events = zmq_socket(b->zctx, ZMQ_PULL);
    if (zap.rep == NULL || zap.stop == NULL || zap.events == NULL || b->zap_events == NULL)
        return -1;
    zmq_setsockopt(zap.rep, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(zap.stop, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(zap.events, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(b->zap_events, ZMQ_LINGER, &linger, sizeof(linger));
    /* Binding fails if another ZAP handler is bound in this context: the
     * broker then refuses to start rather than run without one. */
    if (zmq_bind(zap.rep, ZAP_ENDPOINT) != 0) {
        PROTO_LOG(PROTO_LOG_ERROR, "B-ZAP-BIND", "endpoint=%s error=\"%s\"", ZAP_ENDPOINT,
                  zmq_strerror(zmq_errno()));
        return -1;
    }
    if (zmq_bind(zap.stop, ZAP_STOP_ENDPOINT) != 0 ||
        zmq_bind(b->zap_events, ZAP_EVENTS_ENDPOINT) != 0 ||
        zmq_connect(zap.events, ZAP_EVENTS_ENDPOINT) != 0)
        return -1;
    if (pthread_create(&b->zap_thread, NULL, zap_main, &zap) != 0)
        return -1;
    b->zap_started = true;
    return 0;
}

void
broker_zap_stop(broker *b)
{
    if (b->zap_started) {
        void *poke = zmq_socket(b->zctx, ZMQ_PAIR);
        int linger = 0;

        zmq_setsockopt(poke, ZMQ_LINGER, &linger, sizeof(linger));
        zmq_connect(poke, ZAP_STOP_ENDPOINT);
        zmq_send(poke, "", 0, 0);
        pthread_join(b->zap_thread, NULL);
        zmq_close(poke);
        b->zap_started = false;
    }
    if (zap.rep != NULL)
        zmq_close(zap.rep);
    if (zap.stop != NULL)
        zmq_close(zap.stop);
    if (zap.events != NULL)
        zmq_close(zap.events);
    if (b->zap_events != NULL)
        zmq_close(b->zap_events);
    memset(&zap, 0, sizeof(zap));
    b->zap_events = NULL;
}
