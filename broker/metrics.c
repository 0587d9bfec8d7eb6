/* The broker's metrics: counters, gauges and a histogram exposed for Prometheus over HTTP, and the status page's JSON beside them. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "config.h"
#include "metrics.h"

/* The labelled families kept in the label table. */
enum {
    FAMILY_CONSISTENCY = 0, /* tree_head_consistency_failures_total{peer} */
    FAMILY_QUEUE_DEPTH = 1, /* queue_depth{destination} */
    FAMILY_PEER_UP = 2,     /* peer_up{peer} */
    FAMILY_PEER_INFLIGHT = 3, /* peer_inflight{peer} */
    FAMILY_COUNT = 4,
};

/* Slots of the label table's hash index: twice the entries, a power of two. */
#define INDEX_SLOTS (2u * BROKER_METRICS_LABELS_MAX)

/* One labelled value. */
typedef struct label_entry {
    uint8_t family;                          /* a FAMILY_* */
    char value[BROKER_METRICS_LABEL_MAX + 1]; /* the label value, unescaped */
    uint64_t number;                         /* the sample's value */
} label_entry;

/* Upper bounds of the commit latency buckets, and their text for le="". */
static const double bucket_bounds[BROKER_METRICS_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
};
static const char *const bucket_text[BROKER_METRICS_BUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1",
};

/* Counters the series follows, in the order of series_names. */
enum { SERIES_FIELDS = 5 };
static const char *const series_names[SERIES_FIELDS] = {
    "accepted", "rejected", "withheld", "denied", "delivered",
};

/* One partner on the status page. */
typedef struct status_peer {
    char nation[BROKER_METRICS_LABEL_MAX + 1];      /* the partner */
    bool up;                                       /* its link is up */
    uint64_t since_ms;                             /* when it went up or down; 0: unknown */
    bool has_head;                                 /* a head was received */
    uint64_t tree_size;                            /* its latest head: leaves */
    uint8_t root[PROTO_HASH_BYTES];                /* its latest head: root */
    uint64_t head_ms;                              /* its latest head: when it was signed */
    char check[BROKER_METRICS_STATUS_TEXT_MAX];    /* the check's outcome in words */
    bool ok;                                       /* the check passed */
    uint64_t checked_ms;                           /* when it was checked */
} status_peer;

/* One refusal in the ring. */
typedef struct status_refusal {
    broker_metrics_refusal_what what;              /* what was refused */
    uint64_t time_ms;                              /* when */
    char from[BROKER_METRICS_STATUS_FIELD_MAX];    /* who */
    char kind[BROKER_METRICS_STATUS_FIELD_MAX];    /* message kind; "" for none */
    char code[BROKER_METRICS_STATUS_FIELD_MAX];    /* wire code name */
    char rule[BROKER_METRICS_STATUS_FIELD_MAX];    /* policy rule; "" for none */
    char reason[BROKER_METRICS_STATUS_TEXT_MAX];   /* why */
} status_refusal;

/* One point of the series. */
typedef struct series_point {
    uint64_t time_ms;                              /* when it was taken */
    uint64_t delta[SERIES_FIELDS];                 /* growth since the point before */
} series_point;

/* What the status page shows beyond the metrics; under its own lock. */
typedef struct status_state {
    pthread_mutex_t lock;                              /* guards every field below */
    char nation[BROKER_METRICS_LABEL_MAX + 1];          /* this broker's nation; "" unknown */
    uint64_t started_ms;                               /* when it started; 0 unknown */
    status_peer peers[BROKER_METRICS_STATUS_PEERS_MAX]; /* peers[0..peer_count) */
    size_t peer_count;                                 /* partners tracked */
    bool has_head;                                     /* this broker signed a head */
    uint64_t tree_size;                                /* its latest head: leaves */
    uint8_t root[PROTO_HASH_BYTES];                    /* its latest head: root */
    uint64_t head_ms;                                  /* its latest head: when signed */
    status_refusal refusals[BROKER_METRICS_REFUSALS_MAX]; /* ring of the latest */
    size_t refusal_next;                               /* slot the next one takes */
    size_t refusal_count;                              /* slots in use */
    series_point series[BROKER_METRICS_SERIES_POINTS];  /* ring of points */
    size_t series_next;                                /* slot the next point takes */
    size_t series_count;                               /* points in use */
    uint64_t series_base[SERIES_FIELDS];               /* counters at the last point */
    uint64_t next_sample_ms;                           /* when the next point is due; 0: baseline */
} status_state;

struct broker_metrics {
    _Atomic uint64_t counters[BROKER_METRICS_COUNTER_COUNT]; /* by broker_metrics_counter */
    _Atomic uint64_t rejected[PROTO_WIRE_CODE_MAX + 1];      /* by wire code; [0]: unknown codes */
    _Atomic uint64_t sessions;                               /* sessions_connected */
    _Atomic uint64_t buckets[BROKER_METRICS_BUCKETS + 1];    /* per bucket (not cumulative); last: +Inf */
    _Atomic uint64_t latency_sum_ns;                         /* sum of observations, nanoseconds */
    pthread_mutex_t lock;                                    /* guards the label table */
    label_entry *labels;                                     /* BROKER_METRICS_LABELS_MAX entries */
    uint16_t *index;                                         /* INDEX_SLOTS slots: entry + 1, 0 = empty */
    size_t label_count;                                      /* entries in use */
    bool full_logged;                                        /* the table-full line was written */
    struct MHD_Daemon *daemon;                               /* the HTTP server; NULL when off */
    uint16_t port;                                           /* the port served; 0 when off */
    status_state *status;                                    /* the status page's records */
};

static const char *const counter_names[BROKER_METRICS_COUNTER_COUNT] = {
    [BROKER_METRICS_ACCEPTED] = "messages_accepted_total",
    [BROKER_METRICS_RELEASED] = "messages_released_total",
    [BROKER_METRICS_WITHHELD] = "messages_withheld_total",
    [BROKER_METRICS_DENIED] = "messages_denied_total",
    [BROKER_METRICS_REFUSED] = "messages_refused_total",
    [BROKER_METRICS_FORWARDED] = "messages_forwarded_total",
    [BROKER_METRICS_DELIVERED] = "messages_delivered_total",
    [BROKER_METRICS_RECEIPTED] = "messages_receipted_total",
    [BROKER_METRICS_EXPIRED] = "messages_expired_total",
    [BROKER_METRICS_DUPLICATES_DROPPED] = "duplicates_dropped_total",
    [BROKER_METRICS_KEYS_REFUSED] = "keys_refused_total",
    [BROKER_METRICS_FORWARDS_REFUSED_IN] = "partner_forwards_refused_total",
    [BROKER_METRICS_REPORTS_REFUSED_IN] = "partner_reports_refused_total",
    [BROKER_METRICS_DAMAGED] = "messages_damaged_total",
    [BROKER_METRICS_CONNECTIONS_CUT] = "connections_cut_total",
};

static const char *const counter_help[BROKER_METRICS_COUNTER_COUNT] = {
    [BROKER_METRICS_ACCEPTED] = "Messages accepted: committed durably and acknowledged to the sender.",
    [BROKER_METRICS_RELEASED] = "Release decisions that released a message to a partner whole.",
    [BROKER_METRICS_WITHHELD] = "Release decisions that released a message with portions withheld.",
    [BROKER_METRICS_DENIED] = "Release decisions that denied a message to a partner.",
    [BROKER_METRICS_REFUSED] = "Messages a partner broker refused when forwarded to it.",
    [BROKER_METRICS_FORWARDED] = "Messages forwarded to a peer broker and acknowledged by it.",
    [BROKER_METRICS_DELIVERED] = "Messages delivered to a local agency.",
    [BROKER_METRICS_RECEIPTED] = "Deliveries acknowledged with a receipt by the receiving agency.",
    [BROKER_METRICS_EXPIRED] = "Queued messages that expired before delivery.",
    [BROKER_METRICS_DUPLICATES_DROPPED] = "Messages dropped because their id was seen before.",
    [BROKER_METRICS_KEYS_REFUSED] = "Connections and messages refused for an unknown or revoked key.",
    [BROKER_METRICS_FORWARDS_REFUSED_IN] =
        "Forwards from partner brokers this broker refused (forward-ack with a non-zero code).",
    [BROKER_METRICS_REPORTS_REFUSED_IN] = "Delivery reports from partner brokers this broker refused.",
    [BROKER_METRICS_DAMAGED] = "Queued messages not delivered or forwarded: the stored envelope no longer matched its hash.",
    [BROKER_METRICS_CONNECTIONS_CUT] = "Connections shut down for holding more unread bytes than they may.",
};

/* ---- The label table ------------------------------------------------------ */

static uint32_t
label_hash(uint8_t family, const char *value)
{
    uint32_t h = 2166136261u ^ family;

    for (const unsigned char *p = (const unsigned char *)value; *p != '\0'; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

/*
 * Finds or adds the entry of (family, value) and applies op to it: set
 * number to n, or add n.  Call without the lock held.
 */
static broker_metrics_err
label_update(broker_metrics *m, uint8_t family, const char *value, uint64_t n, bool add)
{
    size_t len = strlen(value);
    uint32_t slot;
    broker_metrics_err err = BROKER_METRICS_OK;

    if (len == 0 || len > BROKER_METRICS_LABEL_MAX)
        return BROKER_METRICS_ERR_INVALID;
    pthread_mutex_lock(&m->lock);
    slot = label_hash(family, value) & (INDEX_SLOTS - 1);
    for (;;) {
        uint16_t at = m->index[slot];
        label_entry *e;

        if (at == 0) {
            if (m->label_count == BROKER_METRICS_LABELS_MAX) {
                if (!m->full_logged) {
                    PROTO_LOG(PROTO_LOG_WARN, "metrics.labels_full",
                              "label table holds %u values; new values such as \"%s\" are not kept",
                              BROKER_METRICS_LABELS_MAX, value);
                    m->full_logged = true;
                }
                err = BROKER_METRICS_ERR_FULL;
                break;
            }
            e = &m->labels[m->label_count];
            e->family = family;
            memcpy(e->value, value, len + 1);
            e->number = n;
            m->index[slot] = (uint16_t)(++m->label_count);
            break;
        }
        e = &m->labels[at - 1];
        if (e->family == family && strcmp(e->value, value) == 0) {
            e->number = add ? e->number + n : n;
            break;
        }
        slot = (slot + 1) & (INDEX_SLOTS - 1);
    }
    pthread_mutex_unlock(&m->lock);
    return err;
}

static int
label_cmp(const void *a, const void *b)
{
    const label_entry *x = a, *y = b;

    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    return strcmp(x->value, y->value);
}

/* ---- Lifecycle and updates ------------------------------------------------ */

broker_metrics_err
broker_metrics_new(broker_metrics **m_out)
{
    broker_metrics *m = calloc(1, sizeof(*m));
    broker_metrics_err err = BROKER_METRICS_ERR_NOMEM;

    if (m == NULL)
        goto out;
    m->labels = calloc(BROKER_METRICS_LABELS_MAX, sizeof(*m->labels));
    m->index = calloc(INDEX_SLOTS, sizeof(*m->index));
    m->status = calloc(1, sizeof(*m->status));
    if (m->labels == NULL || m->index == NULL || m->status == NULL)
        goto out;
    if (pthread_mutex_init(&m->status->lock, NULL) != 0)
        goto out;
    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        pthread_mutex_destroy(&m->status->lock);
        goto out;
    }
    for (size_t i = 0; i < BROKER_METRICS_COUNTER_COUNT; i++)
        atomic_init(&m->counters[i], 0);
    for (size_t i = 0; i <= PROTO_WIRE_CODE_MAX; i++)
        atomic_init(&m->rejected[i], 0);
    for (size_t i = 0; i <= BROKER_METRICS_BUCKETS; i++)
        atomic_init(&m->buckets[i], 0);
    atomic_init(&m->sessions, 0);
    atomic_init(&m->latency_sum_ns, 0);
    *m_out = m;
    m = NULL;
    err = BROKER_METRICS_OK;
out:
    if (m != NULL) {
        free(m->labels);
        free(m->index);
        free(m->status);
        free(m);
    }
    return err;
}

void
broker_metrics_destroy(broker_metrics **m)
{
    if (m == NULL || *m == NULL)
        return;
    broker_metrics_stop(*m);
    pthread_mutex_destroy(&(*m)->lock);
    pthread_mutex_destroy(&(*m)->status->lock);
    free((*m)->status);
    free((*m)->labels);
    free((*m)->index);
    free(*m);
    *m = NULL;
}

const char *
broker_metrics_strerror(broker_metrics_err code)
{
    switch (code) {
    case BROKER_METRICS_OK: return "success";
    case BROKER_METRICS_ERR_INVALID: return "label value is empty or too long";
    case BROKER_METRICS_ERR_NOMEM: return "out of memory";
    case BROKER_METRICS_ERR_FULL: return "metrics label table is full";
    case BROKER_METRICS_ERR_ENDPOINT: return "metrics endpoint is not HOST:PORT";
    case BROKER_METRICS_ERR_LISTEN: return "cannot listen on the metrics endpoint";
    case BROKER_METRICS_ERR_HTTP: return "HTTP server would not start";
    case BROKER_METRICS_ERR_RUNNING: return "metrics are already being served";
    case BROKER_METRICS_ERR_TOO_LARGE: return "metrics exposition is too large";
    }
    return "unknown error";
}

void
broker_metrics_inc(broker_metrics *m, broker_metrics_counter which, uint64_t by)
{
    if ((unsigned)which >= BROKER_METRICS_COUNTER_COUNT)
        return;
    atomic_fetch_add_explicit(&m->counters[which], by, memory_order_relaxed);
}

void
broker_metrics_inc_rejected(broker_metrics *m, uint16_t code)
{
    size_t slot = code >= 1 && code <= PROTO_WIRE_CODE_MAX ? code : 0;

    atomic_fetch_add_explicit(&m->rejected[slot], 1, memory_order_relaxed);
}

broker_metrics_err
broker_metrics_inc_consistency_failure(broker_metrics *m, const char *peer)
{
    return label_update(m, FAMILY_CONSISTENCY, peer, 1, true);
}

broker_metrics_err
broker_metrics_set_queue_depth(broker_metrics *m, const char *destination, uint64_t depth)
{
    return label_update(m, FAMILY_QUEUE_DEPTH, destination, depth, false);
}

broker_metrics_err
broker_metrics_set_peer_up(broker_metrics *m, const char *peer, bool up)
{
    return label_update(m, FAMILY_PEER_UP, peer, up ? 1 : 0, false);
}

broker_metrics_err
broker_metrics_set_peer_inflight(broker_metrics *m, const char *peer, uint64_t inflight)
{
    return label_update(m, FAMILY_PEER_INFLIGHT, peer, inflight, false);
}

void
broker_metrics_set_sessions_connected(broker_metrics *m, uint64_t sessions)
{
    atomic_store_explicit(&m->sessions, sessions, memory_order_relaxed);
}

void
broker_metrics_observe_commit(broker_metrics *m, double seconds)
{
    size_t b = 0;
    uint64_t ns;

    if (isnan(seconds))
        return;
    if (seconds < 0)
        seconds = 0;
    while (b < BROKER_METRICS_BUCKETS && seconds > bucket_bounds[b])
        b++;
    /* Past a day the sum is clamped; such a latency is a failure anyway. */
    ns = seconds >= 86400.0 ? 86400000000000ull : (uint64_t)llround(seconds * 1e9);
    atomic_fetch_add_explicit(&m->latency_sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
}

/* ---- Rendering ------------------------------------------------------------- */

/* A growing text buffer with a maximum; failure is sticky. */
typedef struct textbuf {
    char *p;                  /* the text, NUL-terminated */
    size_t len;               /* bytes before the NUL */
    size_t cap;               /* bytes allocated */
    broker_metrics_err err;   /* first failure, or BROKER_METRICS_OK */
} textbuf;

static bool
tb_reserve(textbuf *tb, size_t more)
{
    size_t cap;
    char *grown;

    if (tb->err != BROKER_METRICS_OK)
        return false;
    if (tb->len + more + 1 <= tb->cap)
        return true;
    if (tb->len + more + 1 > BROKER_METRICS_TEXT_MAX) {
        tb->err = BROKER_METRICS_ERR_TOO_LARGE;
        return false;
    }
    cap = tb->cap == 0 ? 8192 : tb->cap;
    while (cap < tb->len + more + 1)
        cap *= 2;
    if (cap > BROKER_METRICS_TEXT_MAX)
        cap = BROKER_METRICS_TEXT_MAX;
    grown = realloc(tb->p, cap);
    if (grown == NULL) {
        tb->err = BROKER_METRICS_ERR_NOMEM;
        return false;
    }
    tb->p = grown;
    tb->cap = cap;
    return true;
}

static void tb_printf(textbuf *tb, const char *fmt, ...) PROTO_PRINTF(2, 3);

static void
tb_printf(textbuf *tb, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !tb_reserve(tb, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(tb->p + tb->len, tb->cap - tb->len, fmt, ap);
    va_end(ap);
    tb->len += (size_t)n;
}

/* Appends a label value escaped as the text format wants: \\ \" \n. */
static void
tb_label_value(textbuf *tb, const char *value)
{
    if (!tb_reserve(tb, 2 * strlen(value)))
        return;
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\\' || *p == '"') {
            tb->p[tb->len++] = '\\';
            tb->p[tb->len++] = *p;
        } else if (*p == '\n') {
            tb->p[tb->len++] = '\\';
            tb->p[tb->len++] = 'n';
        } else {
            tb->p[tb->len++] = *p;
        }
    }
    tb->p[tb->len] = '\0';
}

static void
tb_header(textbuf *tb, const char *name, const char *type, const char *help)
{
    tb_printf(tb, "# HELP liaison_%s %s\n# TYPE liaison_%s %s\n", name, help, name, type);
}

/* Samples of one labelled family, from the sorted copy. */
static void
tb_family(textbuf *tb, const label_entry *labels, size_t count, uint8_t family, const char *name,
          const char *label)
{
    for (size_t i = 0; i < count; i++) {
        if (labels[i].family != family)
            continue;
        tb_printf(tb, "liaison_%s{%s=\"", name, label);
        tb_label_value(tb, labels[i].value);
        tb_printf(tb, "\"} %llu\n", (unsigned long long)labels[i].number);
    }
}

broker_metrics_err
broker_metrics_render(broker_metrics *m, char **text_out, size_t *len_out)
{
    textbuf tb = {0};
    label_entry *labels = NULL;
    size_t count, peers_up = 0;
    uint64_t cumulative = 0, sum_ns;
    broker_metrics_err err;

    /* Copy the labelled values so the lock is not held while formatting. */
    pthread_mutex_lock(&m->lock);
    count = m->label_count;
    if (count > 0) {
        labels = malloc(count * sizeof(*labels));
        if (labels != NULL)
            memcpy(labels, m->labels, count * sizeof(*labels));
    }
    pthread_mutex_unlock(&m->lock);
    if (count > 0 && labels == NULL) {
        err = BROKER_METRICS_ERR_NOMEM;
        goto out;
    }
    if (count > 1)
        qsort(labels, count, sizeof(*labels), label_cmp);

    for (size_t i = 0; i < BROKER_METRICS_COUNTER_COUNT; i++) {
        if (counter_names[i] == NULL)
            continue;
        tb_header(&tb, counter_names[i], "counter", counter_help[i]);
        tb_printf(&tb, "liaison_%s %llu\n", counter_names[i],
                  (unsigned long long)atomic_load_explicit(&m->counters[i], memory_order_relaxed));
    }

    tb_header(&tb, "messages_rejected_total", "counter",
              "Submits and forwards refused before acceptance, by wire error code.");
    for (uint16_t code = 1; code <= PROTO_WIRE_CODE_MAX; code++)
        tb_printf(&tb, "liaison_messages_rejected_total{code=\"%s\"} %llu\n",
                  proto_wire_code_name(code),
                  (unsigned long long)atomic_load_explicit(&m->rejected[code], memory_order_relaxed));
    if (atomic_load_explicit(&m->rejected[0], memory_order_relaxed) > 0)
        tb_printf(&tb, "liaison_messages_rejected_total{code=\"unknown\"} %llu\n",
                  (unsigned long long)atomic_load_explicit(&m->rejected[0], memory_order_relaxed));

    tb_header(&tb, "policy_reloads_total", "counter", "Release policy reloads, by result.");
    tb_printf(&tb, "liaison_policy_reloads_total{result=\"ok\"} %llu\n",
              (unsigned long long)atomic_load_explicit(
                  &m->counters[BROKER_METRICS_POLICY_RELOAD_OK], memory_order_relaxed));
    tb_printf(&tb, "liaison_policy_reloads_total{result=\"failed\"} %llu\n",
              (unsigned long long)atomic_load_explicit(
                  &m->counters[BROKER_METRICS_POLICY_RELOAD_FAILED], memory_order_relaxed));

    tb_header(&tb, "roster_reloads_total", "counter", "Roster reloads, by result.");
    tb_printf(&tb, "liaison_roster_reloads_total{result=\"ok\"} %llu\n",
              (unsigned long long)atomic_load_explicit(
                  &m->counters[BROKER_METRICS_ROSTER_RELOAD_OK], memory_order_relaxed));
    tb_printf(&tb, "liaison_roster_reloads_total{result=\"failed\"} %llu\n",
              (unsigned long long)atomic_load_explicit(
                  &m->counters[BROKER_METRICS_ROSTER_RELOAD_FAILED], memory_order_relaxed));

    tb_header(&tb, "tree_head_consistency_failures_total", "counter",
              "Signed tree heads of a peer that failed the consistency check, by peer.");
    tb_family(&tb, labels, count, FAMILY_CONSISTENCY, "tree_head_consistency_failures_total", "peer");

    tb_header(&tb, "queue_depth", "gauge", "Messages queued for a destination (agency or peer).");
    tb_family(&tb, labels, count, FAMILY_QUEUE_DEPTH, "queue_depth", "destination");

    tb_header(&tb, "peer_up", "gauge", "1 if the link to the peer broker is up, else 0.");
    tb_family(&tb, labels, count, FAMILY_PEER_UP, "peer_up", "peer");
    for (size_t i = 0; i < count; i++)
        peers_up += labels[i].family == FAMILY_PEER_UP && labels[i].number != 0;
    tb_header(&tb, "peers_up", "gauge", "Peer brokers whose link is up.");
    tb_printf(&tb, "liaison_peers_up %zu\n", peers_up);

    tb_header(&tb, "peer_inflight", "gauge",
              "Forwards and reports sent to the peer broker and not acknowledged yet.");
    tb_family(&tb, labels, count, FAMILY_PEER_INFLIGHT, "peer_inflight", "peer");

    tb_header(&tb, "sessions_connected", "gauge", "Agency and peer broker sessions connected now.");
    tb_printf(&tb, "liaison_sessions_connected %llu\n",
              (unsigned long long)atomic_load_explicit(&m->sessions, memory_order_relaxed));

    tb_header(&tb, "commit_latency_seconds", "histogram",
              "Seconds each group commit took: its write transaction and fsync.");
    for (size_t b = 0; b <= BROKER_METRICS_BUCKETS; b++) {
        cumulative += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
        tb_printf(&tb, "liaison_commit_latency_seconds_bucket{le=\"%s\"} %llu\n",
                  b < BROKER_METRICS_BUCKETS ? bucket_text[b] : "+Inf",
                  (unsigned long long)cumulative);
    }
    /* The sum is exact in nanoseconds; print it as a decimal without float noise. */
    sum_ns = atomic_load_explicit(&m->latency_sum_ns, memory_order_relaxed);
    {
        char frac[16];
        size_t n;

        snprintf(frac, sizeof(frac), "%09llu", (unsigned long long)(sum_ns % 1000000000ull));
        n = strlen(frac);
        while (n > 0 && frac[n - 1] == '0')
            frac[--n] = '\0';
        tb_printf(&tb, "liaison_commit_latency_seconds_sum %llu%s%s\n",
                  (unsigned long long)(sum_ns / 1000000000ull), n > 0 ? "." : "", frac);
    }
    /* _count is the +Inf bucket as read above, so the two always agree. */
    tb_printf(&tb, "liaison_commit_latency_seconds_count %llu\n", (unsigned long long)cumulative);

    err = tb.err;
    if (err == BROKER_METRICS_OK) {
        *text_out = tb.p;
        *len_out = tb.len;
        tb.p = NULL;
    }
out:
    free(tb.p);
    free(labels);
    return err;
}

/* ---- The status page --------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when the byte at p
 * does not start one: overlong forms, surrogates and code points above
 * U+10FFFF are invalid (RFC 3629). */
static size_t
utf8_sequence(const unsigned char *p)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0u) != 0x80u) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (p[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800u) || (len == 4 && (cp < 0x10000u || cp > 0x10ffffu)) ||
        (cp >= 0xd800u && cp <= 0xdfffu))
        return 0;
    return len;
}

void
broker_metrics_utf8_copy(char *out, size_t cap, const char *in)
{
    static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)in;
    size_t at = 0;

    if (cap == 0)
        return;
    while (*p != '\0') {
        size_t n = utf8_sequence(p);
        const char *from = n > 0 ? (const char *)p : replacement;
        size_t len = n > 0 ? n : sizeof(replacement) - 1;

        if (at + len + 1 > cap)
            break;
        memcpy(out + at, from, len);
        at += len;
        p += n > 0 ? n : 1;
    }
    out[at] = '\0';
}

/* The record of peer, added when new; NULL when the table is full.  Call
 * with the status lock held. */
static status_peer *
status_peer_get(status_state *st, const char *peer)
{
    for (size_t i = 0; i < st->peer_count; i++) {
        if (strcmp(st->peers[i].nation, peer) == 0)
            return &st->peers[i];
    }
    if (st->peer_count == BROKER_METRICS_STATUS_PEERS_MAX)
        return NULL;
    memset(&st->peers[st->peer_count], 0, sizeof(st->peers[0]));
    broker_metrics_utf8_copy(st->peers[st->peer_count].nation, sizeof(st->peers[0].nation), peer);
    return &st->peers[st->peer_count++];
}

void
broker_metrics_set_identity(broker_metrics *m, const char *nation, uint64_t started_ms)
{
    pthread_mutex_lock(&m->status->lock);
    broker_metrics_utf8_copy(m->status->nation, sizeof(m->status->nation), nation);
    m->status->started_ms = started_ms;
    pthread_mutex_unlock(&m->status->lock);
}

broker_metrics_err
broker_metrics_set_peer_since(broker_metrics *m, const char *peer, bool up, uint64_t since_ms)
{
    status_peer *p;
    size_t len = strlen(peer);

    if (len == 0 || len > BROKER_METRICS_LABEL_MAX)
        return BROKER_METRICS_ERR_INVALID;
    pthread_mutex_lock(&m->status->lock);
    p = status_peer_get(m->status, peer);
    if (p != NULL) {
        p->up = up;
        p->since_ms = since_ms;
    }
    pthread_mutex_unlock(&m->status->lock);
    return p != NULL ? BROKER_METRICS_OK : BROKER_METRICS_ERR_FULL;
}

broker_metrics_err
broker_metrics_set_peer_head(broker_metrics *m, const char *peer, uint64_t tree_size,
                             const uint8_t root[PROTO_HASH_BYTES], uint64_t time_ms,
                             const char *check, bool ok, uint64_t checked_ms)
{
    status_peer *p;
    size_t len = strlen(peer);

    if (len == 0 || len > BROKER_METRICS_LABEL_MAX)
        return BROKER_METRICS_ERR_INVALID;
    pthread_mutex_lock(&m->status->lock);
    p = status_peer_get(m->status, peer);
    if (p != NULL) {
        p->has_head = true;
        p->tree_size = tree_size;
        memcpy(p->root, root, PROTO_HASH_BYTES);
        p->head_ms = time_ms;
        broker_metrics_utf8_copy(p->check, sizeof(p->check), check);
        p->ok = ok;
        p->checked_ms = checked_ms;
    }
    pthread_mutex_unlock(&m->status->lock);
    return p != NULL ? BROKER_METRICS_OK : BROKER_METRICS_ERR_FULL;
}

void
broker_metrics_set_tree_head(broker_metrics *m, uint64_t tree_size,
                             const uint8_t root[PROTO_HASH_BYTES], uint64_t time_ms)
{
    pthread_mutex_lock(&m->status->lock);
    m->status->has_head = true;
    m->status->tree_size = tree_size;
    memcpy(m->status->root, root, PROTO_HASH_BYTES);
    m->status->head_ms = time_ms;
    pthread_mutex_unlock(&m->status->lock);
}

void
broker_metrics_note_refusal(broker_metrics *m, const broker_metrics_refusal *r)
{
    status_state *st = m->status;
    status_refusal *slot;

    pthread_mutex_lock(&st->lock);
    assert(r->what <= BROKER_METRICS_REFUSED_HANDSHAKE);
    slot = &st->refusals[st->refusal_next];
    slot->what = r->what <= BROKER_METRICS_REFUSED_HANDSHAKE ? r->what
                                                             : BROKER_METRICS_REFUSED_SUBMISSION;
    slot->time_ms = r->time_ms;
    broker_metrics_utf8_copy(slot->from, sizeof(slot->from), r->from != NULL ? r->from : "");
    broker_metrics_utf8_copy(slot->kind, sizeof(slot->kind), r->kind != NULL ? r->kind : "");
    broker_metrics_utf8_copy(slot->code, sizeof(slot->code), r->code != NULL ? r->code : "");
    broker_metrics_utf8_copy(slot->rule, sizeof(slot->rule), r->rule != NULL ? r->rule : "");
    broker_metrics_utf8_copy(slot->reason, sizeof(slot->reason),
                             r->reason != NULL ? r->reason : "");
    st->refusal_next = (st->refusal_next + 1) % BROKER_METRICS_REFUSALS_MAX;
    if (st->refusal_count < BROKER_METRICS_REFUSALS_MAX)
        st->refusal_count++;
    pthread_mutex_unlock(&st->lock);
}

/* The counters the series follows, read now. */
static void
series_read(broker_metrics *m, uint64_t v[SERIES_FIELDS])
{
    uint64_t rejected = 0;

    for (size_t i = 0; i <= PROTO_WIRE_CODE_MAX; i++)
        rejected += atomic_load_explicit(&m->rejected[i], memory_order_relaxed);
    v[0] = atomic_load_explicit(&m->counters[BROKER_METRICS_ACCEPTED], memory_order_relaxed);
    v[1] = rejected;
    v[2] = atomic_load_explicit(&m->counters[BROKER_METRICS_WITHHELD], memory_order_relaxed);
    v[3] = atomic_load_explicit(&m->counters[BROKER_METRICS_DENIED], memory_order_relaxed);
    v[4] = atomic_load_explicit(&m->counters[BROKER_METRICS_DELIVERED], memory_order_relaxed);
}

void
broker_metrics_sample(broker_metrics *m, uint64_t now_ms)
{
    status_state *st = m->status;
    uint64_t v[SERIES_FIELDS];

    pthread_mutex_lock(&st->lock);
    if (st->next_sample_ms != 0 && now_ms < st->next_sample_ms) {
        pthread_mutex_unlock(&st->lock);
        return;
    }
    series_read(m, v);
    if (st->next_sample_ms != 0) {
        series_point *pt = &st->series[st->series_next];

        pt->time_ms = now_ms;
        for (size_t i = 0; i < SERIES_FIELDS; i++)
            pt->delta[i] = v[i] - st->series_base[i];
        st->series_next = (st->series_next + 1) % BROKER_METRICS_SERIES_POINTS;
        if (st->series_count < BROKER_METRICS_SERIES_POINTS)
            st->series_count++;
    }
    memcpy(st->series_base, v, sizeof(v));
    /* The next point is due one interval later; after a long stall (a
     * stopped process) it is due at once, and covers the whole gap. */
    st->next_sample_ms = now_ms + BROKER_METRICS_SERIES_INTERVAL_MS;
    pthread_mutex_unlock(&st->lock);
}

/* A time as RFC 3339 UTC ("2026-12-06T20:30:00Z"), or JSON null for 0. */
static json_t *
json_time(uint64_t ms)
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;
    char text[32];

    if (ms == 0 || gmtime_r(&t, &tm) == NULL)
        return json_null();
    strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(text);
}

/* A root as hex. */
static json_t *
json_root(const uint8_t root[PROTO_HASH_BYTES])
{
    char hex[2 * PROTO_HASH_BYTES + 1];

    proto_hex(root, PROTO_HASH_BYTES, hex);
    return json_string(hex);
}

/* A string the status keeps (already valid UTF-8), or null when empty. */
static json_t *
json_text_or_null(const char *text)
{
    return text[0] != '\0' ? json_string(text) : json_null();
}

/* Sets key of obj to value, taking the reference; a NULL value (no
 * memory) makes the object NULL-marked through *ok. */
static void
put(json_t *obj, const char *key, json_t *value, bool *ok)
{
    if (value == NULL || json_object_set_new(obj, key, value) != 0)
        *ok = false;
}

static void
append(json_t *arr, json_t *value, bool *ok)
{
    if (value == NULL || json_array_append_new(arr, value) != 0)
        *ok = false;
}

static const char *const refusal_what_names[] = {
    [BROKER_METRICS_REFUSED_SUBMISSION] = "submission",
    [BROKER_METRICS_REFUSED_FORWARD] = "forward",
    [BROKER_METRICS_REFUSED_HANDSHAKE] = "handshake",
};

/* Orders queue entries deepest first, then by destination. */
static int
depth_cmp(const void *a, const void *b)
{
    const label_entry *x = a, *y = b;

    if (x->number != y->number)
        return x->number < y->number ? 1 : -1;
    return strcmp(x->value, y->value);
}

/* The inflight gauge of peer, from the copy of the label table. */
static uint64_t
inflight_of(const label_entry *labels, size_t count, const char *peer)
{
    for (size_t i = 0; i < count; i++) {
        if (labels[i].family == FAMILY_PEER_INFLIGHT && strcmp(labels[i].value, peer) == 0)
            return labels[i].number;
    }
    return 0;
}

broker_metrics_err
broker_metrics_render_status(broker_metrics *m, uint64_t now_ms, char **json_out, size_t *len_out)
{
    status_state *copy = NULL;
    label_entry *labels = NULL, *queues = NULL;
    size_t count = 0, nqueues = 0;
    json_t *root = NULL, *arr, *obj;
    char *text = NULL, dest[2 * BROKER_METRICS_LABEL_MAX + 4];
    bool ok = true;
    broker_metrics_err err = BROKER_METRICS_ERR_NOMEM;
    static const struct {
        const char *name;             /* member of "counters" */
        broker_metrics_counter which; /* its counter; COUNT: the sum of rejected */
    } counters[] = {
        {"accepted", BROKER_METRICS_ACCEPTED},   {"released", BROKER_METRICS_RELEASED},
        {"withheld", BROKER_METRICS_WITHHELD},   {"denied", BROKER_METRICS_DENIED},
        {"rejected", BROKER_METRICS_COUNTER_COUNT}, {"refused", BROKER_METRICS_REFUSED},
        {"forwarded", BROKER_METRICS_FORWARDED}, {"delivered", BROKER_METRICS_DELIVERED},
        {"receipted", BROKER_METRICS_RECEIPTED}, {"expired", BROKER_METRICS_EXPIRED},
    };
    uint64_t series_now[SERIES_FIELDS];

    /* Copy both tables so no lock is held while formatting. */
    copy = malloc(sizeof(*copy));
    if (copy == NULL)
        goto out;
    pthread_mutex_lock(&m->status->lock);
    memcpy(copy, m->status, sizeof(*copy));
    pthread_mutex_unlock(&m->status->lock);
    pthread_mutex_lock(&m->lock);
    count = m->label_count;
    if (count > 0) {
        labels = malloc(count * sizeof(*labels));
        if (labels != NULL)
            memcpy(labels, m->labels, count * sizeof(*labels));
    }
    pthread_mutex_unlock(&m->lock);
    if (count > 0 && labels == NULL)
        goto out;
    series_read(m, series_now);

    root = json_object();
    if (root == NULL)
        goto out;
    put(root, "broker", json_text_or_null(copy->nation), &ok);
    put(root, "now", json_time(now_ms), &ok);
    put(root, "started", json_time(copy->started_ms), &ok);

    arr = json_array();
    put(root, "peers", arr, &ok);
    for (size_t i = 0; arr != NULL && i < copy->peer_count; i++) {
        const status_peer *p = &copy->peers[i];

        obj = json_object();
        append(arr, obj, &ok);
        if (obj == NULL)
            break;
        put(obj, "nation", json_string(p->nation), &ok);
        put(obj, "up", json_boolean(p->up), &ok);
        put(obj, "since", json_time(p->since_ms), &ok);
        put(obj, "inflight", json_integer((json_int_t)inflight_of(labels, count, p->nation)), &ok);
        if (!p->has_head) {
            put(obj, "head", json_null(), &ok);
            continue;
        }
        put(obj, "head",
            json_pack("{s:I, s:o, s:o, s:s, s:b, s:o}", "tree_size", (json_int_t)p->tree_size,
                      "root", json_root(p->root), "timestamp", json_time(p->head_ms), "check",
                      p->check, "ok", (int)p->ok, "checked", json_time(p->checked_ms)),
            &ok);
    }

    /* Queues: the deepest BROKER_METRICS_STATUS_QUEUES_MAX. */
    if (count > 0) {
        queues = malloc(count * sizeof(*queues));
        if (queues == NULL)
            goto out;
        for (size_t i = 0; i < count; i++) {
            if (labels[i].family == FAMILY_QUEUE_DEPTH)
                queues[nqueues++] = labels[i];
        }
        if (nqueues > 1)
            qsort(queues, nqueues, sizeof(*queues), depth_cmp);
    }
    arr = json_array();
    put(root, "queues", arr, &ok);
    for (size_t i = 0; arr != NULL && i < nqueues && i < BROKER_METRICS_STATUS_QUEUES_MAX; i++) {
        broker_metrics_utf8_copy(dest, sizeof(dest), queues[i].value);
        append(arr, json_pack("{s:s, s:I}", "destination", dest, "depth",
                              (json_int_t)queues[i].number), &ok);
    }

    put(root, "sessions",
        json_pack("{s:I}", "connected",
                  (json_int_t)atomic_load_explicit(&m->sessions, memory_order_relaxed)),
        &ok);

    obj = json_object();
    put(root, "counters", obj, &ok);
    for (size_t i = 0; obj != NULL && i < sizeof(counters) / sizeof(counters[0]); i++) {
        uint64_t v = counters[i].which == BROKER_METRICS_COUNTER_COUNT
                         ? series_now[1]
                         : atomic_load_explicit(&m->counters[counters[i].which],
                                                memory_order_relaxed);

        put(obj, counters[i].name, json_integer((json_int_t)v), &ok);
    }

    obj = json_object();
    put(root, "series", obj, &ok);
    if (obj != NULL) {
        put(obj, "interval_s", json_integer(BROKER_METRICS_SERIES_INTERVAL_MS / 1000u), &ok);
        arr = json_array();
        put(obj, "points", arr, &ok);
        /* Oldest first, as a plot reads them. */
        for (size_t k = 0; arr != NULL && k < copy->series_count; k++) {
            size_t at = (copy->series_next + BROKER_METRICS_SERIES_POINTS - copy->series_count + k) %
                        BROKER_METRICS_SERIES_POINTS;
            const series_point *pt = &copy->series[at];
            json_t *point = json_object();

            append(arr, point, &ok);
            if (point == NULL)
                break;
            put(point, "time", json_time(pt->time_ms), &ok);
            for (size_t f = 0; f < SERIES_FIELDS; f++)
                put(point, series_names[f], json_integer((json_int_t)pt->delta[f]), &ok);
        }
    }

    if (copy->has_head)
        put(root, "tree_head",
            json_pack("{s:I, s:o, s:o}", "tree_size", (json_int_t)copy->tree_size, "root",
                      json_root(copy->root), "timestamp", json_time(copy->head_ms)),
            &ok);
    else
        put(root, "tree_head", json_null(), &ok);

    arr = json_array();
    put(root, "refusals", arr, &ok);
    /* Newest first. */
    for (size_t k = 0; arr != NULL && k < copy->refusal_count; k++) {
        size_t at = (copy->refusal_next + BROKER_METRICS_REFUSALS_MAX - 1 - k) %
                    BROKER_METRICS_REFUSALS_MAX;
        const status_refusal *r = &copy->refusals[at];

        append(arr,
               json_pack("{s:o, s:s, s:s, s:o, s:s, s:o, s:s}", "time", json_time(r->time_ms),
                         "what", refusal_what_names[r->what], "from", r->from, "kind",
                         json_text_or_null(r->kind), "code", r->code, "rule",
                         json_text_or_null(r->rule), "reason", r->reason),
               &ok);
    }
    if (!ok)
        goto out;
    text = json_dumps(root, JSON_COMPACT);
    if (text == NULL)
        goto out;
    if (strlen(text) > BROKER_METRICS_TEXT_MAX) {
        err = BROKER_METRICS_ERR_TOO_LARGE;
        goto out;
    }
    *len_out = strlen(text);
    *json_out = text;
    text = NULL;
    err = BROKER_METRICS_OK;
out:
    free(text);
    json_decref(root);
    free(queues);
    free(labels);
    free(copy);
    return err;
}

/* ---- HTTP ------------------------------------------------------------------ */

/* The wall clock, Unix milliseconds. */
static uint64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void http_log(void *cls, const char *fmt, va_list ap) PROTO_PRINTF(2, 0);

/* libmicrohttpd's error log, into ours. */
static void
http_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    proto_log_library("metrics.http", __func__, fmt, ap);
}

static enum MHD_Result
respond_static(struct MHD_Connection *conn, unsigned status, const char *body, const char *allow)
{
    struct MHD_Response *r;
    enum MHD_Result ret;

    r = MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
                                        MHD_RESPMEM_PERSISTENT);
    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (allow != NULL)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **req_cls)
{
    static int seen; /* marks a request whose headers have arrived */
    broker_metrics *m = cls;
    struct MHD_Response *r;
    enum MHD_Result ret;
    char *text = NULL;
    size_t len = 0;
    bool status;

    (void)version;
    (void)upload_data;
    if (*req_cls == NULL) {
        *req_cls = &seen;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0; /* a body is read and ignored */
        return MHD_YES;
    }
    status = strcmp(url, "/status.json") == 0;
    if (!status && strcmp(url, "/metrics") != 0)
        return respond_static(conn, MHD_HTTP_NOT_FOUND,
                              "not found; metrics are at /metrics, the status at /status.json\n",
                              NULL);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return respond_static(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n", "GET, HEAD");
    if ((status ? broker_metrics_render_status(m, wall_ms(), &text, &len)
                : broker_metrics_render(m, &text, &len)) != BROKER_METRICS_OK)
        return respond_static(conn, MHD_HTTP_INTERNAL_SERVER_ERROR,
                              status ? "cannot render the status\n" : "cannot render metrics\n",
                              NULL);
    r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            status ? "application/json"
                                   : "text/plain; version=0.0.4; charset=utf-8");
    if (status)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* Opens a listening TCP socket on host:port; *fd_out gets it. */
static broker_metrics_err
listen_on(const char *endpoint, const char *host, uint16_t port, int *fd_out, int *family_out,
          char *err, size_t err_len)
{
    struct addrinfo hints, *res = NULL;
    char service[8];
    int fd = -1, one = 1, rc;
    broker_metrics_err e;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    rc = getaddrinfo(strcmp(host, "*") == 0 ? NULL : host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, err_len, "metrics endpoint %s: cannot resolve %s: %s", endpoint, host,
                 gai_strerror(rc));
        e = BROKER_METRICS_ERR_ENDPOINT;
        goto out;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        snprintf(err, err_len, "metrics endpoint %s: cannot listen: %s", endpoint, strerror(errno));
        PROTO_LOG(PROTO_LOG_ERROR, "metrics.listen", "endpoint=%s error=\"%s\"", endpoint,
                  strerror(errno));
        e = BROKER_METRICS_ERR_LISTEN;
        goto out;
    }
    *family_out = res->ai_family;
    *fd_out = fd;
    fd = -1;
    e = BROKER_METRICS_OK;
out:
    if (fd >= 0)
        close(fd);
    if (res != NULL)
        freeaddrinfo(res);
    return e;
}

broker_metrics_err
broker_metrics_serve(broker_metrics *m, const char *endpoint, char *err, size_t err_len)
{
    char scratch[8];
    char host[256], why[160];
    uint16_t port;
    int fd = -1, family = 0;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    broker_metrics_err e;

    if (err == NULL || err_len == 0) {
        err = scratch;
        err_len = sizeof(scratch);
    }
    err[0] = '\0';
    if (m->daemon != NULL) {
        snprintf(err, err_len, "metrics are already served on port %u", (unsigned)m->port);
        return BROKER_METRICS_ERR_RUNNING;
    }
    if (!broker_config_split_hostport(endpoint, host, sizeof(host), &port, why, sizeof(why))) {
        snprintf(err, err_len, "metrics endpoint '%s' is not HOST:PORT: %s", endpoint, why);
        return BROKER_METRICS_ERR_ENDPOINT;
    }
    e = listen_on(endpoint, host, port, &fd, &family, err, err_len);
    if (e != BROKER_METRICS_OK)
        return e;
    if (family == AF_INET6)
        flags |= MHD_USE_IPv6;
    m->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, m,
                                 MHD_OPTION_EXTERNAL_LOGGER, http_log, NULL,
                                 MHD_OPTION_LISTEN_SOCKET, fd,
                                 MHD_OPTION_CONNECTION_LIMIT, 32u,
                                 MHD_OPTION_CONNECTION_TIMEOUT, 10u,
                                 MHD_OPTION_END);
    if (m->daemon == NULL) {
        close(fd);
        snprintf(err, err_len, "metrics endpoint %s: the HTTP server would not start", endpoint);
        return BROKER_METRICS_ERR_HTTP;
    }
    m->port = port;
    PROTO_LOG(PROTO_LOG_INFO, "metrics.serving", "endpoint=%s", endpoint);
    return BROKER_METRICS_OK;
}

void
broker_metrics_stop(broker_metrics *m)
{
    if (m->daemon == NULL)
        return;
    /* MHD_stop_daemon closes the listening socket it was given. */
    MHD_stop_daemon(m->daemon);
    m->daemon = NULL;
    m->port = 0;
}

uint16_t
broker_metrics_port(const broker_metrics *m)
{
    return m->port;
}
