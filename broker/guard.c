/* The receive guard: bounds what connections hold inside libzmq, where the broker cannot see it. */
#define _GNU_SOURCE /* struct tcp_info from linux/tcp.h beside the socket headers */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"

/*
 * Why this exists.  libzmq 4.3 hands the application a multipart message
 * only once its last frame has arrived, and nothing in its stable API limits
 * the frames of one message: ZMQ_MAXMSGSIZE bounds each frame, ZMQ_RCVHWM
 * counts whole messages.  So one connection can make libzmq buffer a message
 * of any size before the broker sees a byte of it.  The guard watches every
 * accepted connection (the socket monitor gives its descriptor), compares
 * the bytes the kernel has received on it (TCP_INFO) with the bytes the
 * broker has read from it (broker_guard_consumed, through ZMQ_SRCFD), and
 * shuts down a connection that holds more than one connection may, or the
 * largest ones while all together hold more than all may.  libzmq then ends
 * the connection as if the peer had closed it and drops the message it was
 * assembling; a client reconnects and sends again what was not answered.
 */

#define GUARD_FDS 65536u          /* descriptors tracked: above this, none is admitted */
#define GUARD_CONNS_MAX 8192u     /* connections watched at once: more are shut down */
#define GUARD_TICK_MS 5           /* how often every connection is measured */
#define GUARD_FRAME_BYTES 64u     /* wire bytes of one frame beyond its payload, at most */
#define GUARD_SLACK_BYTES 16384u  /* the handshake, and what is on its way */
#define GUARD_FORGIVE_BYTES 65536u /* unread bytes forgiven when a message is read: below */
#define GUARD_CTL_ENDPOINT "inproc://liaison.guard.ctl"

/* Wire bytes the broker has read from each descriptor, ever (main thread
 * adds, guard thread reads). */
static _Atomic uint64_t consumed[GUARD_FDS];

/* One connection the guard watches (guard thread only). */
typedef struct guard_conn {
    int fd;                 /* its descriptor */
    uint64_t base;          /* consumed[fd] when it was accepted */
    uint64_t seen;          /* consumed[fd] at the last measure */
    int64_t adjust;         /* bytes not held after all: forgiven, or counted twice */
    const char *domain;     /* "agency" or "federation" */
    uint64_t held;          /* wire bytes it holds, at the last measure */
    bool cut;               /* shut down; waiting for its disconnect event */
} guard_conn;

/* The guard thread's state. */
typedef struct guard {
    broker *b;                          /* the daemon (metrics, limits) */
    void *mon[BROKER_GUARD_SOCKETS];    /* PAIRs on the socket monitors */
    const char *domain[BROKER_GUARD_SOCKETS]; /* their domains */
    size_t mon_count;                   /* entries in mon */
    void *ctl;                          /* PAIR: a monitor handed over, or empty: stop */
    guard_conn conns[GUARD_CONNS_MAX];  /* the connections */
    size_t conn_count;                  /* entries in conns */
} guard;

static guard the_guard;

void
broker_guard_consumed(int fd, size_t frames, size_t bytes)
{
    /* Messages from inproc sockets have no descriptor. */
    if (fd < 0 || (unsigned)fd >= GUARD_FDS)
        return;
    atomic_fetch_add_explicit(&consumed[fd], bytes + frames * GUARD_FRAME_BYTES,
                              memory_order_relaxed);
}

uint64_t
broker_guard_connection_max(const broker_config *cfg)
{
    /* Half of what all may hold: room for a client that sends several
     * messages of the largest size without waiting while the broker is
     * behind, plus the kernel's receive buffer (BROKER_GUARD_RCVBUF, which
     * Linux doubles). */
    return BROKER_GUARD_MESSAGES / 2u * (cfg->limits.max_message_bytes + BROKER_MESSAGE_OVERHEAD) +
           2u * BROKER_GUARD_RCVBUF;
}

uint64_t
broker_guard_total_max(const broker_config *cfg)
{
    return BROKER_GUARD_MESSAGES * (cfg->limits.max_message_bytes + BROKER_MESSAGE_OVERHEAD);
}

/* Writes "address:port" of the peer of fd into out ("?" when unknown). */
static void
peer_of(int fd, char *out, size_t out_len)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    snprintf(out, out_len, "?");
    if (getpeername(fd, (struct sockaddr *)&sa, &len) != 0)
        return;
    if (sa.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&sa;

        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        port = ntohs(in->sin_port);
        snprintf(out, out_len, "%s:%u", host, port);
    } else if (sa.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&sa;

        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        port = ntohs(in6->sin6_port);
        snprintf(out, out_len, "[%s]:%u", host, port);
    }
}

static void
cut(guard *g, guard_conn *c, const char *why, uint64_t limit)
{
    char peer[INET6_ADDRSTRLEN + 16];

    peer_of(c->fd, peer, sizeof(peer));
    PROTO_LOG(PROTO_LOG_WARN, "B-CONN-CUT",
              "domain=%s peer=%s fd=%d held_bytes=%llu limit_bytes=%llu why=\"%s\" "
              "action=\"connection shut down; what it was sending is dropped\"",
              c->domain, peer, c->fd, (unsigned long long)c->held, (unsigned long long)limit, why);
    shutdown(c->fd, SHUT_RDWR);
    c->cut = true;
    broker_metrics_inc(g->b->metrics, BROKER_METRICS_CONNECTIONS_CUT, 1);
}

static void
conn_remove(guard *g, int fd)
{
    for (size_t i = 0; i < g->conn_count; i++) {
        if (g->conns[i].fd == fd) {
            g->conns[i] = g->conns[--g->conn_count];
            return;
        }
    }
}

static void
conn_add(guard *g, int fd, const char *domain)
{
    guard_conn *c;

    if ((unsigned)fd >= GUARD_FDS || g->conn_count == GUARD_CONNS_MAX) {
        PROTO_LOG(PROTO_LOG_WARN, "B-CONN-CUT",
                  "domain=%s fd=%d why=\"more connections than the broker watches (%u)\" "
                  "action=\"connection shut down\"",
                  domain, fd, GUARD_CONNS_MAX);
        shutdown(fd, SHUT_RDWR);
        broker_metrics_inc(g->b->metrics, BROKER_METRICS_CONNECTIONS_CUT, 1);
        return;
    }
    /* A descriptor libzmq closed before its event came, now reused. */
    conn_remove(g, fd);
    c = &g->conns[g->conn_count++];
    c->fd = fd;
    c->base = atomic_load_explicit(&consumed[fd], memory_order_relaxed);
    c->seen = c->base;
    c->adjust = 0;
    c->domain = domain;
    c->held = 0;
    c->cut = false;
}

/* Reads the monitor events waiting on mon: connections come and go.
 * Returns false once the socket it watches is closed. */
static bool
events(guard *g, void *mon, const char *domain)
{
    for (;;) {
        zmq_msg_t m;
        uint16_t event;
        int32_t value;
        bool ok;

        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return true;
        }
        ok = zmq_msg_size(&m) >= 6;
        if (ok) {
            memcpy(&event, zmq_msg_data(&m), sizeof(event));
            memcpy(&value, (const uint8_t *)zmq_msg_data(&m) + 2, sizeof(value));
        }
        /* The second frame, the endpoint, tells nothing more. */
        while (zmq_msg_more(&m)) {
            zmq_msg_close(&m);
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, mon, 0) < 0)
                break;
        }
        zmq_msg_close(&m);
        if (!ok)
            continue;
        if (event == ZMQ_EVENT_ACCEPTED || event == ZMQ_EVENT_CONNECTED)
            conn_add(g, value, domain);
        else if (event == ZMQ_EVENT_DISCONNECTED || event == ZMQ_EVENT_CLOSED)
            conn_remove(g, value);
        else if (event == ZMQ_EVENT_MONITOR_STOPPED)
            return false;
    }
}

/* Takes over a monitor PAIR: watches its socket from now on. */
static void
mon_add(guard *g, void *mon, const char *domain)
{
    if (g->mon_count == BROKER_GUARD_SOCKETS) {
        zmq_close(mon);
        return;
    }
    g->mon[g->mon_count] = mon;
    g->domain[g->mon_count] = domain;
    g->mon_count++;
}

/* Measures every connection and shuts down those that hold too much. */
static void
measure(guard *g)
{
    uint64_t conn_max = broker_guard_connection_max(g->b->cfg);
    uint64_t total_max = broker_guard_total_max(g->b->cfg);
    uint64_t total = 0;

    for (size_t i = 0; i < g->conn_count;) {
        guard_conn *c = &g->conns[i];
        struct tcp_info ti;
        socklen_t len = sizeof(ti);
        uint64_t now_consumed;
        int64_t unread;

        memset(&ti, 0, sizeof(ti));
        if (getsockopt(c->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0) {
            /* Gone before its event was read. */
            *c = g->conns[--g->conn_count];
            continue;
        }
        i++;
        if (c->cut)
            continue;
        now_consumed = atomic_load_explicit(&consumed[c->fd], memory_order_relaxed);
        unread = (int64_t)ti.tcpi_bytes_received - (int64_t)(now_consumed - c->base) -
                 c->adjust - (int64_t)GUARD_SLACK_BYTES;
        /* A frame's wire bytes are counted high (GUARD_FRAME_BYTES), so the
         * count of what was read can pass what came; the difference is
         * dropped rather than kept as credit for a message still to come. */
        if (unread < 0) {
            c->adjust += unread;
            unread = 0;
        }
        /* Bytes libzmq reads and keeps nothing of (ZMTP heartbeats) would
         * add up over days.  So when the broker has read a message from the
         * connection since the last measure, up to GUARD_FORGIVE_BYTES left
         * unread are forgiven.  This cannot hide a message in the making
         * for long: it blocks the ones behind it, so while it grows nothing
         * more is read from its connection, and at most the bytes of it
         * that had come when the message before it was read are forgiven. */
        if (now_consumed != c->seen) {
            c->seen = now_consumed;
            if (unread <= (int64_t)GUARD_FORGIVE_BYTES) {
                c->adjust += unread;
                unread = 0;
            }
        }
        c->held = (uint64_t)unread;
        if (c->held > conn_max)
            cut(g, c, "holds more than one connection may", conn_max);
        else
            total += c->held;
    }
    while (total > total_max) {
        guard_conn *largest = NULL;

        for (size_t i = 0; i < g->conn_count; i++) {
            if (!g->conns[i].cut && (largest == NULL || g->conns[i].held > largest->held))
                largest = &g->conns[i];
        }
        if (largest == NULL || largest->held == 0)
            break;
        total -= largest->held;
        cut(g, largest, "the connections together hold more than they may", total_max);
    }
}

/* A monitor handed over after the thread started (guard_ctl), or, when mon
 * is NULL, a connection that another monitor saw come or go. */
typedef struct guard_handover {
    void *mon;              /* the PAIR, connected to the monitor; NULL: fd */
    const char *domain;     /* static text */
    int fd;                 /* mon NULL: the connection's descriptor */
    bool up;                /* mon NULL: it came (true) or went (false) */
} guard_handover;

static void *
guard_main(void *arg)
{
    guard *g = arg;
    zmq_pollitem_t items[1 + BROKER_GUARD_SOCKETS];

    for (;;) {
        size_t watched = g->mon_count;

        items[0] = (zmq_pollitem_t){g->ctl, 0, ZMQ_POLLIN, 0};
        for (size_t i = 0; i < watched; i++)
            items[1 + i] = (zmq_pollitem_t){g->mon[i], 0, ZMQ_POLLIN, 0};
        if (zmq_poll(items, (int)(1 + watched), GUARD_TICK_MS) < 0 && zmq_errno() != EINTR)
            break;
        if (items[0].revents & ZMQ_POLLIN) {
            guard_handover h;
            int n = zmq_recv(g->ctl, &h, sizeof(h), 0);

            if (n != (int)sizeof(h))
                break; /* the empty message: stop */
            if (h.mon != NULL)
                mon_add(g, h.mon, h.domain);
            else if (h.up)
                conn_add(g, h.fd, h.domain);
            else
                conn_remove(g, h.fd);
        }
        /* From the last, so that a closed monitor can be dropped in place. */
        for (size_t i = watched; i-- > 0;) {
            if (!events(g, g->mon[i], g->domain[i])) {
                zmq_close(g->mon[i]);
                g->mon[i] = g->mon[g->mon_count - 1];
                g->domain[i] = g->domain[g->mon_count - 1];
                g->mon_count--;
            }
        }
        measure(g);
    }
    return NULL;
}

int
broker_guard_watch(broker *b, void *sock, const char *domain)
{
    static unsigned watches;
    guard *g = &the_guard;
    char endpoint[64];
    int linger = 0, hwm = 0;
    void *mon;

    if (!b->guard_started && g->mon_count == BROKER_GUARD_SOCKETS)
        return -1;
    snprintf(endpoint, sizeof(endpoint), "inproc://liaison.guard.%u", watches++);
    if (zmq_socket_monitor(sock, endpoint,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_CLOSED | ZMQ_EVENT_MONITOR_STOPPED) != 0)
        return -1;
    mon = zmq_socket(b->zctx, ZMQ_PAIR);
    if (mon == NULL)
        return -1;
    zmq_setsockopt(mon, ZMQ_LINGER, &linger, sizeof(linger));
    /* An event dropped would be a connection not watched. */
    zmq_setsockopt(mon, ZMQ_RCVHWM, &hwm, sizeof(hwm));
    if (zmq_connect(mon, endpoint) != 0) {
        zmq_close(mon);
        return -1;
    }
    if (b->guard_started) {
        /* Sending the pointer is the memory barrier that passing a ZeroMQ
         * socket to another thread needs. */
        guard_handover h = {mon, domain, -1, false};

        if (zmq_send(b->guard_ctl, &h, sizeof(h), 0) != (int)sizeof(h)) {
            zmq_close(mon);
            return -1;
        }
        return 0;
    }
    mon_add(g, mon, domain);
    return 0;
}

int
broker_guard_connection(broker *b, int fd, bool up, const char *domain)
{
    guard_handover h = {NULL, domain, fd, up};

    if (!b->guard_started)
        return -1;
    return zmq_send(b->guard_ctl, &h, sizeof(h), 0) == (int)sizeof(h) ? 0 : -1;
}

int
broker_guard_start(broker *b)
{
    guard *g = &the_guard;
    int linger = 0;

    g->b = b;
    b->guard_ctl = zmq_socket(b->zctx, ZMQ_PAIR);
    g->ctl = zmq_socket(b->zctx, ZMQ_PAIR);
    if (b->guard_ctl == NULL || g->ctl == NULL)
        return -1;
    zmq_setsockopt(b->guard_ctl, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(g->ctl, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(g->ctl, GUARD_CTL_ENDPOINT) != 0 ||
        zmq_connect(b->guard_ctl, GUARD_CTL_ENDPOINT) != 0)
        return -1;
    /* The thread takes over the sockets made here; creating the thread is
     * the memory barrier that passing a ZeroMQ socket between threads needs. */
    if (pthread_create(&b->guard_thread, NULL, guard_main, g) != 0)
        return -1;
    b->guard_started = true;
    PROTO_LOG(PROTO_LOG_INFO, "B-GUARD",
              "sockets=%zu connection_max_bytes=%llu total_max_bytes=%llu tick_ms=%d", g->mon_count,
              (unsigned long long)broker_guard_connection_max(b->cfg),
              (unsigned long long)broker_guard_total_max(b->cfg), GUARD_TICK_MS);
    return 0;
}

void
broker_guard_stop(broker *b)
{
    guard *g = &the_guard;

    if (b->guard_started) {
        zmq_send(b->guard_ctl, "", 0, 0);
        pthread_join(b->guard_thread, NULL);
        b->guard_started = false;
    }
    for (size_t i = 0; i < g->mon_count; i++)
        zmq_close(g->mon[i]);
    g->mon_count = 0;
    if (g->ctl != NULL)
        zmq_close(g->ctl);
    g->ctl = NULL;
    if (b->guard_ctl != NULL)
        zmq_close(b->guard_ctl);
    b->guard_ctl = NULL;
}
