/* The broker's metrics: counters, gauges and a histogram exposed for Prometheus over HTTP, and the status page's JSON beside them. */
#ifndef LIAISON_BROKER_METRICS_H
#define LIAISON_BROKER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto.h"

/*
 * One broker_metrics object holds every metric of a broker (names,
 * meanings and an example scrape: docs/operations.md, "Metrics").  The
 * update functions (inc, inc_rejected, set_*, observe_commit) may be called
 * from any thread at any time; counters and the histogram are C11 atomics,
 * labelled values sit in a fixed-capacity table under a mutex.  render may
 * run concurrently with updates.  new/destroy and serve/stop are for one
 * thread (the broker's main thread).
 */

typedef struct broker_metrics broker_metrics;

/* Errors of the metrics module.  Codes are appended, never renumbered. */
typedef enum broker_metrics_err {
    BROKER_METRICS_OK = 0,
    BROKER_METRICS_ERR_INVALID = 1,   /* a label value is empty or too long */
    BROKER_METRICS_ERR_NOMEM = 2,     /* out of memory */
    BROKER_METRICS_ERR_FULL = 3,      /* the label table holds BROKER_METRICS_LABELS_MAX values */
    BROKER_METRICS_ERR_ENDPOINT = 4,  /* the endpoint is not HOST:PORT or does not resolve */
    BROKER_METRICS_ERR_LISTEN = 5,    /* the endpoint cannot be bound (in use, not ours) */
    BROKER_METRICS_ERR_HTTP = 6,      /* libmicrohttpd would not start */
    BROKER_METRICS_ERR_RUNNING = 7,   /* serve called while already serving */
    BROKER_METRICS_ERR_TOO_LARGE = 8, /* the exposition would exceed BROKER_METRICS_TEXT_MAX */
} broker_metrics_err;

/* Most label values (destinations, peers) held at once, over every family. */
#define BROKER_METRICS_LABELS_MAX 4096u
/* Longest label value, in bytes. */
#define BROKER_METRICS_LABEL_MAX 64u
/* Largest exposition text, in bytes. */
#define BROKER_METRICS_TEXT_MAX (8u << 20)
/* Histogram buckets of liaison_commit_latency_seconds, without +Inf. */
#define BROKER_METRICS_BUCKETS 11u

/* The unlabelled counters; each is liaison_<name>. */
typedef enum broker_metrics_counter {
    BROKER_METRICS_ACCEPTED = 0,           /* messages_accepted_total */
    BROKER_METRICS_RELEASED = 1,           /* messages_released_total */
    BROKER_METRICS_WITHHELD = 2,           /* messages_withheld_total */
    BROKER_METRICS_DENIED = 3,             /* messages_denied_total */
    BROKER_METRICS_REFUSED = 4,            /* messages_refused_total */
    BROKER_METRICS_FORWARDED = 5,          /* messages_forwarded_total */
    BROKER_METRICS_DELIVERED = 6,          /* messages_delivered_total */
    BROKER_METRICS_RECEIPTED = 7,          /* messages_receipted_total */
    BROKER_METRICS_EXPIRED = 8,            /* messages_expired_total */
    BROKER_METRICS_DUPLICATES_DROPPED = 9, /* duplicates_dropped_total */
    BROKER_METRICS_KEYS_REFUSED = 10,      /* keys_refused_total */
    BROKER_METRICS_POLICY_RELOAD_OK = 11,  /* policy_reloads_total{result="ok"} */
    BROKER_METRICS_POLICY_RELOAD_FAILED = 12, /* policy_reloads_total{result="failed"} */
    BROKER_METRICS_FORWARDS_REFUSED_IN = 13, /* partner_forwards_refused_total */
    BROKER_METRICS_REPORTS_REFUSED_IN = 14,  /* partner_reports_refused_total */
    BROKER_METRICS_DAMAGED = 15,           /* messages_damaged_total */
    BROKER_METRICS_ROSTER_RELOAD_OK = 16,  /* roster_reloads_total{result="ok"} */
    BROKER_METRICS_ROSTER_RELOAD_FAILED = 17, /* roster_reloads_total{result="failed"} */
    BROKER_METRICS_CONNECTIONS_CUT = 18,   /* connections_cut_total */
    BROKER_METRICS_COUNTER_COUNT = 19,     /* not a counter: how many there are */
} broker_metrics_counter;

/* Makes an empty set of metrics, not serving.  *m_out is the caller's, to
 * free with broker_metrics_destroy.  Errors: BROKER_METRICS_ERR_NOMEM. */
broker_metrics_err broker_metrics_new(broker_metrics **m_out) PROTO_NONNULL(1) PROTO_MUST_CHECK;

/* Stops serving, frees *m and sets it to NULL; accepts NULL and *m == NULL. */
void broker_metrics_destroy(broker_metrics **m);

/* Returns a static, human-readable string for code; never NULL. */
const char *broker_metrics_strerror(broker_metrics_err code);

/* Adds by to a counter (a which out of range is ignored).  Any thread. */
void broker_metrics_inc(broker_metrics *m, broker_metrics_counter which, uint64_t by) PROTO_NONNULL(1);

/* Counts one message rejected with wire code (a proto_wire_code); a code
 * outside the known ones counts under code="unknown".  Any thread. */
void broker_metrics_inc_rejected(broker_metrics *m, uint16_t code) PROTO_NONNULL(1);

/* Counts a tree head of peer (a nation) that failed its consistency check.
 * Errors: BROKER_METRICS_ERR_INVALID, BROKER_METRICS_ERR_FULL (a log line
 * says so, once); the count is then not kept.  Any thread. */
broker_metrics_err broker_metrics_inc_consistency_failure(broker_metrics *m,
                                                          const char *peer) PROTO_NONNULL(1, 2);

/* Sets the queue depth of destination ("CAN/RCMP", or a peer "CAN").
 * Errors as for inc_consistency_failure.  Any thread; meant for the main one. */
broker_metrics_err broker_metrics_set_queue_depth(broker_metrics *m, const char *destination,
                                                  uint64_t depth) PROTO_NONNULL(1, 2);

/* Sets whether the link to peer (a nation) is up; liaison_peers_up counts
 * the peers set up.  Errors as for inc_consistency_failure.  Any thread. */
broker_metrics_err broker_metrics_set_peer_up(broker_metrics *m, const char *peer,
                                              bool up) PROTO_NONNULL(1, 2);

/* Sets how many forwards and reports sent to peer (a nation) wait for its
 * acknowledgement (at most the window).  Errors as for
 * inc_consistency_failure.  Any thread; meant for the main one. */
broker_metrics_err broker_metrics_set_peer_inflight(broker_metrics *m, const char *peer,
                                                    uint64_t inflight) PROTO_NONNULL(1, 2);

/* Sets the number of connected agency and peer sessions.  Any thread. */
void broker_metrics_set_sessions_connected(broker_metrics *m, uint64_t sessions) PROTO_NONNULL(1);

/* Records one commit latency, in seconds (NaN is ignored, below 0 counts
 * as 0).  The sum is kept in whole nanoseconds.  Any thread. */
void broker_metrics_observe_commit(broker_metrics *m, double seconds) PROTO_NONNULL(1);

/*
 * Writes the Prometheus text exposition (format 0.0.4) of every metric
 * into *text_out (malloc'd, NUL-terminated, the caller's to free) and its
 * length, without the NUL, into *len_out.  Labelled samples come sorted by
 * label value.  Errors: BROKER_METRICS_ERR_NOMEM, BROKER_METRICS_ERR_TOO_LARGE;
 * the out-parameters are then unchanged.  Any thread.
 */
broker_metrics_err broker_metrics_render(broker_metrics *m, char **text_out,
                                         size_t *len_out) PROTO_NONNULL(1, 2, 3) PROTO_MUST_CHECK;

/*
 * Serves GET /metrics (and HEAD) on endpoint "HOST:PORT" ("[IPv6]:PORT",
 * "*:PORT" for every address) from a libmicrohttpd thread: 200 with
 * Content-Type text/plain; version=0.0.4; and GET /status.json beside it
 * (application/json, broker_metrics_render_status); 404 for other paths, 405 for
 * other methods.  On failure nothing is served and err (err_len bytes;
 * may be NULL) says why, naming the endpoint and the system's reason.
 * Errors: BROKER_METRICS_ERR_ENDPOINT, BROKER_METRICS_ERR_LISTEN,
 * BROKER_METRICS_ERR_HTTP, BROKER_METRICS_ERR_RUNNING.
 */
broker_metrics_err broker_metrics_serve(broker_metrics *m, const char *endpoint, char *err,
                                        size_t err_len) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/* Stops serving and closes the listening socket; does nothing if not serving. */
void broker_metrics_stop(broker_metrics *m) PROTO_NONNULL(1);

/* The port being served, or 0 when not serving. */
uint16_t broker_metrics_port(const broker_metrics *m) PROTO_NONNULL(1);

/* ---- The status page: GET /status.json -------------------------------------
 *
 * Beside the Prometheus text, the same object keeps what a duty officer's
 * page shows (docs/operations.md, "The status page's JSON"): each partner's
 * link state and since when, its latest tree head and how it checked, this
 * broker's own latest head, a series of counter deltas (one point per
 * BROKER_METRICS_SERIES_INTERVAL_MS over the last hour) and the latest
 * refusals.  Every table is fixed in size.  The update functions may be
 * called from any thread; render_status may run concurrently with them.
 */

/* Partners tracked by the status page (as the broker's BROKER_PEERS_MAX). */
#define BROKER_METRICS_STATUS_PEERS_MAX 64u
/* Points of the series: one hour at one point every 10 s. */
#define BROKER_METRICS_SERIES_POINTS 360u
/* Milliseconds between two points of the series. */
#define BROKER_METRICS_SERIES_INTERVAL_MS 10000u
/* Refusals kept, newest first. */
#define BROKER_METRICS_REFUSALS_MAX 50u
/* Bytes kept of a refusal's party, kind, code or rule. */
#define BROKER_METRICS_STATUS_FIELD_MAX 128u
/* Bytes kept of a refusal's reason or a head's check outcome. */
#define BROKER_METRICS_STATUS_TEXT_MAX 256u
/* Queues listed by the status page, at most (the deepest when more). */
#define BROKER_METRICS_STATUS_QUEUES_MAX 1000u

/* What was refused, for broker_metrics_note_refusal. */
typedef enum broker_metrics_refusal_what {
    BROKER_METRICS_REFUSED_SUBMISSION = 0, /* a submission of a local agency */
    BROKER_METRICS_REFUSED_FORWARD = 1,    /* a forward or report of a partner broker */
    BROKER_METRICS_REFUSED_HANDSHAKE = 2,  /* a CURVE handshake (unknown or revoked key) */
} broker_metrics_refusal_what;

/* One refusal.  The strings are copied (cut to the sizes above, invalid
 * UTF-8 replaced by U+FFFD); NULL kind or rule means none. */
typedef struct broker_metrics_refusal {
    broker_metrics_refusal_what what; /* what was refused */
    uint64_t time_ms;                 /* when, Unix milliseconds */
    const char *from;                 /* who: an address, a nation, "domain address" */
    const char *kind;                 /* the message kind, or NULL */
    const char *code;                 /* the wire code's name ("denied", "busy") */
    const char *rule;                 /* the policy rule, or NULL */
    const char *reason;               /* why, as the sender was told */
} broker_metrics_refusal;

/* Names this broker (its nation) and when it started, Unix milliseconds.
 * Any thread; meant for start-up. */
void broker_metrics_set_identity(broker_metrics *m, const char *nation,
                                 uint64_t started_ms) PROTO_NONNULL(1, 2);

/* Records the link state of peer (a nation) and since when (Unix ms; 0:
 * unknown, e.g. a partner that has not been up since the broker started).
 * Errors: BROKER_METRICS_ERR_INVALID, BROKER_METRICS_ERR_FULL (more than
 * BROKER_METRICS_STATUS_PEERS_MAX partners).  Any thread. */
broker_metrics_err broker_metrics_set_peer_since(broker_metrics *m, const char *peer, bool up,
                                                 uint64_t since_ms) PROTO_NONNULL(1, 2);

/* Records the latest tree head of peer and the outcome of its check: check
 * is the outcome in words ("consistent", "the log shrank"), ok whether it
 * passed, checked_ms when.  Errors as for set_peer_since.  Any thread. */
broker_metrics_err broker_metrics_set_peer_head(broker_metrics *m, const char *peer,
                                                uint64_t tree_size,
                                                const uint8_t root[PROTO_HASH_BYTES],
                                                uint64_t time_ms, const char *check, bool ok,
                                                uint64_t checked_ms) PROTO_NONNULL(1, 2, 4, 6);

/* Records the latest tree head this broker signed.  Any thread. */
void broker_metrics_set_tree_head(broker_metrics *m, uint64_t tree_size,
                                  const uint8_t root[PROTO_HASH_BYTES],
                                  uint64_t time_ms) PROTO_NONNULL(1, 3);

/* Adds one refusal to the ring of the latest BROKER_METRICS_REFUSALS_MAX
 * (the oldest goes).  Any thread. */
void broker_metrics_note_refusal(broker_metrics *m,
                                 const broker_metrics_refusal *r) PROTO_NONNULL(1, 2);

/* Takes a point of the series when one is due at now_ms (Unix ms): the
 * growth of the counters since the previous point.  The first call only
 * sets the baseline.  Cheap when no point is due: call it from the
 * broker's timer.  Any thread. */
void broker_metrics_sample(broker_metrics *m, uint64_t now_ms) PROTO_NONNULL(1);

/*
 * Writes the status JSON at now_ms (Unix ms) into *json_out (malloc'd,
 * NUL-terminated, the caller's to free) and its length into *len_out.
 * Errors: BROKER_METRICS_ERR_NOMEM, BROKER_METRICS_ERR_TOO_LARGE (over
 * BROKER_METRICS_TEXT_MAX); the out-parameters are then unchanged.  Any thread.
 */
broker_metrics_err broker_metrics_render_status(broker_metrics *m, uint64_t now_ms,
                                                char **json_out, size_t *len_out)
    PROTO_NONNULL(1, 3, 4) PROTO_MUST_CHECK;

/* Copies the UTF-8 of in into out (cap bytes, at least 4, NUL included):
 * each byte that does not start a valid sequence becomes U+FFFD, and the
 * text is cut, on a character boundary, to fit.  Exposed for tests. */
void broker_metrics_utf8_copy(char *out, size_t cap, const char *in) PROTO_NONNULL(1, 3);

#endif
