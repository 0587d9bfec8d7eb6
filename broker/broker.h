/* Private to broker/: the daemon's state and the functions its files share. */
#ifndef LIAISON_BROKER_H
#define LIAISON_BROKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "config.h"
#include "entry.h"
#include "liaison_policy.h"
#include "liaison_proto.h"
#include "liaison_store.h"
#include "metrics.h"
#include "order.h"
#include "outbox.h"
#include "refusals.h"
#include "window.h"

/*
 * Threads.  The main thread owns every socket but the ZAP handler's, every
 * session and peer, the policy and the batch being collected.  Verify
 * workers decode envelopes and check signatures; the committer thread
 * commits one batch at a time (and runs the expiry sweep and tree heads).
 * The ZAP thread answers handshakes from the roster.  Threads talk over
 * inproc ZeroMQ sockets, passing pointers; an object passed belongs to the
 * receiver until it is passed back.
 */

#define BROKER_SESSIONS_MAX 4096u   /* agencies of this nation connected at once */
#define BROKER_PEERS_MAX    64u     /* partner brokers */
#define BROKER_RID_MAX      256u    /* bytes of a ZeroMQ routing id */
#define BROKER_TARGETS_MAX  PROTO_TARGETS_MAX
#define BROKER_RESOLVED_MAX 1024u   /* agencies one message may resolve to */
#define BROKER_SESSION_IDLE_MS 30000u /* an agency silent this long is disconnected */
#define BROKER_PEER_PING_MS  1000u  /* ping period toward each peer */
#define BROKER_PEER_DEAD_MS  5000u  /* a peer silent this long is down */
#define BROKER_PEER_REDIAL_MS 10000u /* a peer down this long since we dialled is dialled again */
#define BROKER_PEER_RESEND_MS 10000u /* an entry unacknowledged this long is resent */
#define BROKER_DUP_WINDOW_MS (7u * 24u * 3600u * 1000u) /* ids stay duplicates this long after expiry */
#define BROKER_CLOCK_SKEW_MS (5u * 60u * 1000u) /* messages created further ahead are refused */

/* Memory.  Bytes a received message may take beyond its envelope: the
 * other frames of its command.  ZMQ_MAXMSGSIZE is max_message_bytes plus
 * this: no legitimate frame is larger. */
#define BROKER_MESSAGE_OVERHEAD 65536u
/* Sockets whose connections the receive guard watches (guard.c): the two
 * ROUTERs and a DEALER per peer. */
#define BROKER_GUARD_SOCKETS (2u + BROKER_PEERS_MAX)
/* SO_RCVBUF of the ROUTERs' connections (ZMQ_RCVBUF): fixed, so that what
 * the kernel holds for one connection does not depend on the host's tuning. */
#define BROKER_GUARD_RCVBUF (1u << 20)
/* All connections together may hold this many messages of the largest
 * size that libzmq is still receiving or has not yet handed over; and the
 * verify pool and the batches may hold half as many (each counted twice:
 * its bytes and its decoded envelope).  See "Memory" in docs/operations.md. */
#define BROKER_GUARD_MESSAGES 16u


/* The roster, shared with the ZAP and verify threads; swapped on SIGHUP,
 * with the partner nations the federation socket admits (the `peers:` of
 * the configuration in force, which a reload may change too). */
typedef struct broker_roster {
    pthread_rwlock_t lock;          /* readers: lookups; writer: the swap */
    proto_roster *roster;           /* current roster */
    char peers[BROKER_PEERS_MAX][PROTO_NATION_LEN + 1]; /* configured partner nations */
    size_t peer_count;              /* entries in peers */
} broker_roster;

/* A connected agency of this nation. */
typedef struct broker_session {
    proto_addr addr;                    /* the agency, from ZAP User-Id */
    char dest[PROTO_ADDR_TEXT_MAX + 1]; /* its queue: its address text */
    uint8_t rid[BROKER_RID_MAX];        /* routing id of its latest connection */
    size_t rid_len;                     /* bytes in rid */
    uint64_t last_seen_ms;              /* last command from it */
    uint64_t cursor;                    /* highest queue seq sent on this connection */
    uint64_t delivered_hwm;             /* highest seq audited as delivered */
    uint32_t inflight;                  /* sent, not yet receipted */
    uint32_t pending;                   /* submits waiting for their commit */
    bool send_due;                      /* receipts made room: send after this input */
    uint8_t key[PROTO_CURVE_KEY_BYTES]; /* CURVE key of the connection in rid */
    bool keyed;                         /* key is known */
} broker_session;

/* Answers go to the connection that asked (docs/protocol.md, "Answers"):
 * the queries a receiving connection submitted, the answers queued for
 * them, and the connections that announced themselves with a ping. */
#define BROKER_ROUTES_MAX 1024u     /* queries and answers noted at once */
#define BROKER_RECEIVERS_MAX 256u   /* receiving connections known at once */

/* A query, or an answer to deliver, and the connection it belongs to. */
typedef struct broker_route {
    uint8_t id[PROTO_ID_BYTES];         /* the query's id, or the answer's */
    uint8_t rid[BROKER_RID_MAX];        /* the connection that submitted the query */
    size_t rid_len;                     /* bytes in rid; 0: the slot is free */
    uint16_t session;                   /* index of the agency's session */
    bool answer;                        /* an answer queued for that agency */
    uint64_t sent_seq;                  /* answer: queue seq sent to rid, 0 before */
    uint64_t made_ms;                   /* when it was noted: the oldest goes first */
} broker_route;

/* A connection of an agency that asked for deliveries (it pings). */
typedef struct broker_receiver {
    uint8_t rid[BROKER_RID_MAX];        /* its routing id */
    size_t rid_len;                     /* bytes in rid; 0: the slot is free */
    uint16_t session;                   /* index of the agency's session */
    uint64_t heard_ms;                  /* its last ping */
} broker_receiver;

/* A partner broker. */
typedef struct broker_peer {
    char nation[PROTO_NATION_LEN + 1];  /* "CAN" */
    char endpoint[256];                 /* its federation endpoint */
    char dest[16];                      /* our queue toward it: "peer:CAN" */
    void *sock;                         /* our DEALER to it */
    void *monitor;                      /* PAIR: sock's connection events, or NULL */
    uint64_t monitors;                  /* monitors made, to name each one anew */
    bool connected;                     /* a handshake succeeded on sock's current connection */
    uint64_t sessions;                  /* connections to it that completed a handshake */
    uint64_t resends;                   /* rewinds that resend what is unacknowledged */
    bool up;                            /* it answered a ping lately */
    uint64_t last_heard_ms;             /* last frame from it on our DEALER */
    uint64_t dialed_ms;                 /* when our DEALER to it was opened */
    uint64_t down_ms;                   /* when its link was counted down from: its first
                                           dial, or BROKER_PEER_DEAD_MS before it went down;
                                           0 before the first dial */
    uint64_t next_ping_ms;              /* when to ping it next */
    uint64_t cursor;                    /* highest queue seq sent on this connection */
    broker_window window;               /* entries sent on this connection, not yet acknowledged */
    bool send_due;                      /* acks made room: send after this input */
    uint64_t next_head_ms;              /* when to send it our tree head next */
    uint64_t heads_sent;                /* tree heads sent, for logs */
    uint8_t key[PROTO_CURVE_KEY_BYTES]; /* its CURVE key our DEALER was dialled with */
    bool revoked;                       /* its card is gone or revoked: not dialled */
    uint8_t nation_key[PROTO_SIGN_PUBLIC_BYTES]; /* its pinned nation key (signed mode) */
    bool roster_due;                    /* our section is to be sent to it when it is up */
    uint64_t roster_corr;               /* corr of the last roster command sent to it */
    uint64_t roster_sent;               /* serial of our section sent last */
} broker_peer;

/* Work passing through the verify pool: a submit, an incoming forward, or a
 * partner's signed report. */
typedef struct broker_job {
    broker_ordered ord;                 /* first: its place in dispatch order (order.h) */
    uint64_t held;                      /* bytes counted against broker_jobs_max, or 0 */
    uint8_t type;                       /* PROTO_CMD_SUBMIT, _FORWARD or _REPORT */
    zmq_msg_t msg;                      /* owns the envelope (or report) bytes */
    uint8_t rid[BROKER_RID_MAX];        /* where to answer */
    size_t rid_len;                     /* bytes in rid */
    proto_addr from;                    /* authenticated agency, or peer broker */
    uint64_t corr;                      /* submit corr or forward seq */
    uint8_t hop_count;                  /* forward: hops */
    char hops[PROTO_HOPS_MAX][PROTO_NATION_LEN + 1]; /* forward: nations crossed */
    size_t target_count;                /* forward: targets */
    proto_target *targets;              /* forward: malloc'd */
    bool verify;                        /* check the signature */
    bool decoded;                       /* worker: env holds the decoded envelope */
    proto_err result;                   /* worker: decode or verify outcome */
    uint16_t wire_code;                 /* worker: rejection code when result fails */
    char why[PROTO_TEXT_MAX];           /* worker: reason when result fails */
    proto_envelope *env;                /* worker: the decoded envelope; freed once routed */
    proto_report *report;               /* worker: the decoded report (a report job) */
    proto_grant *grants;                /* worker: the envelope's consent grants, decoded and
                                           verified with their grantors' cards; malloc'd */
    uint8_t grant_count;                /* worker: entries in grants */
    uint8_t id[PROTO_ID_BYTES];         /* the message id, kept after env is freed */
    uint8_t envelope_hash[PROTO_HASH_BYTES]; /* worker: SHA-256 of the envelope */
} broker_job;

/* The job whose place in order o is (ord is a job's first member); NULL
 * for NULL. */
static inline broker_job *
broker_job_of(broker_ordered *o)
{
    return (broker_job *)(void *)o;
}

/* What the main thread does once an item of a batch is durable. */
typedef enum broker_op_type {
    BROKER_OP_SUBMIT = 1,       /* answer accepted or rejected */
    BROKER_OP_FORWARD_IN = 2,   /* answer forward-ack */
    BROKER_OP_REPORT_IN = 3,    /* acknowledge a peer's report */
    BROKER_OP_PLAIN = 4,        /* nothing to answer */
} broker_op_type;

/* One item of a batch, and what to do after it commits. */
typedef struct broker_op {
    uint8_t type;                       /* a broker_op_type */
    size_t item;                        /* its item index in the batch */
    broker_job *job;                    /* submit or forward: owned by the batch */
    uint8_t rid[BROKER_RID_MAX];        /* report-in: where to acknowledge */
    size_t rid_len;                     /* bytes in rid */
    uint64_t seq;                       /* report-in: its tag */
    uint8_t id[PROTO_ID_BYTES];         /* report-in: message id */
} broker_op;

/* A batch with its ops: collected by main, committed by the committer. */
typedef struct broker_commit {
    store_batch *batch;                 /* the store's batch */
    broker_op *ops;                     /* ops in item order */
    size_t count;                       /* ops in use */
    size_t cap;                         /* ops allocated */
    store_err err;                      /* committer: the commit's outcome */
    proto_detail detail;                /* committer: why it failed */
    double seconds;                     /* committer: how long the commit took */
    bool sweep;                         /* committer: run the expiry sweep too */
    uint64_t sweep_now_ms;              /* when the sweep runs */
    size_t expired_count;               /* committer: expired recipients found */
    store_expired expired[256];         /* committer: what the sweep expired */
    bool sweep_more;                    /* committer: the sweep left work for next time */
    bool sign_head;                     /* committer: sign a tree head */
    store_tree_head head;               /* committer: the head it signed */
    store_err head_err;                 /* committer: outcome of signing */
    char dirty[64][STORE_DEST_MAX + 1]; /* queues this batch adds entries to */
    size_t dirty_count;                 /* entries in dirty */
    bool all_dirty;                     /* too many to list: look at every queue */
    size_t waited;                      /* ops someone waits on (not BROKER_OP_PLAIN) */
    uint64_t first_ms;                  /* when its first op was added */
} broker_commit;

/* A batch of BROKER_OP_PLAIN items only (delivered marks, receipts, refusal
 * audits: nobody waits on them) is committed once it is this old or this
 * large, or with the next item somebody waits on; never lost, since the
 * queue entry it removes or the record it adds is only informational until
 * then, and delivery is at-least-once. */
#define BROKER_LAZY_MS 20u
#define BROKER_LAZY_ITEMS 1024u

/* Items per write transaction of a group commit (store batch_txn_items):
 * see "Durability and group commit" in docs/operations.md. */
#define BROKER_TXN_ITEMS 1024u

/* Frames a received message may have that the broker looks at: the routing
 * id, a command's frames, and one more to see that there are too many. */
#define BROKER_FRAMES_MAX (1 + PROTO_CMD_FRAMES_MAX + 1)

/* A queue entry a recall removes in the collecting (or committing) batch:
 * not sent meanwhile, though the store still holds it until that commit. */
typedef struct broker_withdrawn {
    char dest[STORE_DEST_MAX + 1];      /* its queue */
    uint64_t seq;                       /* its seq there */
    const broker_commit *commit;        /* the batch that removes it */
    size_t item;                        /* its item there */
} broker_withdrawn;

#define BROKER_WITHDRAWN_MAX 1024u      /* entries removed by recalls not yet committed */

/* The daemon. */
typedef struct broker {
    broker_config *cfg;                 /* configuration, as loaded at start */
    broker_config *peers_cfg;           /* main thread: the configuration whose peers: are in
                                         * force: cfg, or one a reload took (then owned) */
    char config_path[4096];             /* for reloads */
    proto_identity *id;                 /* this broker's identity */
    broker_roster roster;               /* shared with ZAP and workers */
    policy *pol;                        /* current release policy */
    pthread_mutex_t pol_lock;           /* held by the committer while it asks pol about holds,
                                         * and by the main thread to swap pol */
    policy_rate *rate;                  /* rate-limit state of pol */
    store *st;                          /* the data directory */
    broker_metrics *metrics;            /* counters for the metrics endpoint */
    void *zctx;                         /* ZeroMQ context */
    void *agency_sock;                  /* ROUTER for agencies */
    void *fed_sock;                     /* ROUTER for peer brokers */
    void *jobs_out;                     /* PUSH to verify workers */
    void *jobs_back;                    /* PULL of verified jobs */
    void *commit_sock;                  /* PAIR to the committer */
    void *zap_events;                   /* PULL of ZAP refusals to audit */
    pthread_t *workers;                 /* verify threads */
    size_t worker_count;                /* threads in workers */
    pthread_t committer;                /* commit thread */
    pthread_t zap_thread;               /* ZAP handler thread */
    pthread_t guard_thread;             /* receive guard thread (guard.c) */
    bool guard_started;                 /* guard_thread to join */
    void *guard_ctl;                    /* PAIR: monitors for the guard thread; empty: stop */
    bool zap_started, committer_started;/* threads to join */
    int signal_fd;                      /* signalfd for HUP, TERM, INT */
    broker_session sessions[BROKER_SESSIONS_MAX]; /* agencies; a slot, once used, stays its agency's */
    size_t session_count;               /* slots in use: sessions[0..session_count) */
    uint16_t sends_due[BROKER_SESSIONS_MAX];     /* sessions with send_due set */
    size_t sends_due_count;                     /* entries in sends_due */
    broker_peer peers[BROKER_PEERS_MAX];/* partner brokers */
    size_t peer_count;                  /* peers in use */
    broker_commit commits[2];           /* one collecting, one committing */
    broker_commit *collecting;          /* main adds items here */
    bool committing;                    /* the other one is with the committer */
    broker_order order;                 /* jobs at the verify workers and back from them */
    uint64_t next_sweep_ms;             /* when to sweep expired messages */
    uint64_t next_head_ms;              /* when to sign a tree head */
    uint64_t next_depth_ms;             /* when to refresh queue-depth gauges */
    bool sweep_more;                    /* the last sweep left work */
    bool stopping;                      /* SIGTERM: drain and exit */
    bool reload;                        /* SIGHUP received */
    uint64_t next_tick_ms;              /* sessions, peers and delivery retries */
    uint64_t next_trim_ms;              /* when to give unused memory back */
    broker_refusals refusals;           /* refused handshakes, counted per key (refusals.h) */
    broker_route routes[BROKER_ROUTES_MAX];          /* queries and answers noted */
    size_t answers_noted;                            /* routes with answer set */
    broker_receiver receivers[BROKER_RECEIVERS_MAX]; /* receiving connections */
    broker_withdrawn withdrawn[BROKER_WITHDRAWN_MAX]; /* recalled entries not yet committed */
    size_t withdrawn_count;                          /* entries in withdrawn */
    char *own_section;                  /* signed mode: our nation's section as sent to peers */
    size_t own_section_len;             /* bytes at own_section */
    uint64_t own_serial;                /* its serial, 0: none */
} broker;

/* ---- main.c / loop.c -------------------------------------------------- */

uint64_t broker_now_ms(void);
/* Loads the roster file of the configuration b started with and checks it
 * against the broker's key and the peers of cfg (b->cfg at start, the
 * configuration just read at a reload): it holds an active card with the
 * broker's own keys, and a card for every peer.  Start-up and every reload
 * run this same function, so a reload takes nothing that start-up would
 * refuse.  On success *roster_out is the caller's; on failure it is
 * unchanged and why (why_len bytes) holds "file: reason" (with the line
 * where the roster has one).  Returns EX_OK or EX_CONFIG. */
int broker_roster_load(const broker *b, const broker_config *cfg, proto_roster **roster_out,
                       char *why, size_t why_len);
/* Checks that cfg's peers fit the broker (at most BROKER_PEERS_MAX, none of
 * them this broker's own nation, nation keys given exactly when the broker
 * runs with them); why gets the reason when not.  Returns EX_OK or
 * EX_CONFIG. */
int broker_peers_check(const broker *b, const broker_config *cfg, char *why, size_t why_len);
/* Loads the policy file of the configuration, checks that it is this
 * nation's policy, and makes its rate-limit state: the same for start-up
 * and reloads.  On success *pol_out and *rate_out are the caller's; on
 * failure they are unchanged and why holds "file:line:column: reason" (or
 * "file: reason").  Returns EX_OK, EX_CONFIG or EX_SOFTWARE (no memory). */
int broker_policy_load(const broker *b, policy **pol_out, policy_rate **rate_out, char *why,
                       size_t why_len);
/* Reads one whole message from sock without waiting: its first
 * BROKER_FRAMES_MAX frames into frames, the rest read and dropped.  Returns
 * how many frames it had (more than BROKER_FRAMES_MAX when too many), 0 when
 * none was waiting.  The caller closes the frames it got. */
size_t broker_recv_frames(void *sock, zmq_msg_t frames[BROKER_FRAMES_MAX]);
int broker_run(broker *b);

/* ---- zap.c --------------------------------------------------------------- */

/* Binds the ZAP handler and starts its thread; fails if another handler is
 * bound in the context.  Must run before any CURVE socket binds. */
int broker_zap_start(broker *b);
void broker_zap_stop(broker *b);
/* Sets the partner nations the federation socket admits to cfg's peers.
 * The caller holds the roster write lock, or runs before the ZAP thread. */
void broker_zap_peers_set(broker *b, const broker_config *cfg);
/* Refusals the ZAP handler could not pass to the main thread (its pipe was
 * full) since the last call; they are counted, not lost.  Any thread. */
uint64_t broker_zap_lost_take(void);

/* ---- revoke.c ----------------------------------------------------------- */

/* The ZAP metadata property that names the CURVE key (64 hex digits) a
 * connection authenticated with. */
#define BROKER_KEY_PROPERTY "Liaison-Key"

/* True if the connection that sent frame (a received command's first frame)
 * still holds a key the roster admits for who: the roster has that key, on
 * a card that is not revoked and is who's.  The key goes to key_out (may be
 * NULL) and, when false, the reason to why. */
bool broker_key_admitted(broker *b, const zmq_msg_t *frame, const proto_addr *who,
                         uint8_t key_out[PROTO_CURVE_KEY_BYTES], char *why, size_t why_len);
/* After the roster changed: closes every open session whose key the roster
 * no longer admits (a log line and an audit record each; its queue stays),
 * and every partner broker's (broker_peers_roster_changed). */
void broker_revoke_sessions(broker *b);

/* ---- replies.c ---------------------------------------------------------- */

/* A ping from connection rid of s: it receives deliveries. */
void broker_reply_heard(broker *b, broker_session *s, const uint8_t *rid, size_t rid_len,
                        uint64_t now);
/* Agency from submitted query id on connection rid: its answers go to rid
 * while rid receives (nothing is noted for a connection that never pinged). */
void broker_reply_query(broker *b, const proto_addr *from, const uint8_t id[PROTO_ID_BYTES],
                        const uint8_t *rid, size_t rid_len);
/* Message id, queued for the local agency to, answers in_reply_to (all zero
 * for none): noted if to submitted that query on a connection that receives. */
void broker_reply_answer(broker *b, const proto_addr *to, const uint8_t id[PROTO_ID_BYTES],
                         const uint8_t in_reply_to[PROTO_ID_BYTES]);
/* Where entry (id, seq) of s's queue goes when it is not s's own delivery
 * connection: true, with *rid and *rid_len (borrowed until the next call
 * here), for an answer whose asking connection still receives. */
bool broker_reply_target(broker *b, broker_session *s, const uint8_t id[PROTO_ID_BYTES],
                         uint64_t seq, const uint8_t **rid, size_t *rid_len);
/* The answer id of s is receipted, or its connection is gone: forgotten. */
void broker_reply_done(broker *b, broker_session *s, const uint8_t id[PROTO_ID_BYTES]);
/* Forgets receivers silent for BROKER_SESSION_IDLE_MS; an answer sent to one
 * and not receipted goes again, to the agency's delivery connection. */
void broker_replies_tick(broker *b, uint64_t now);

/* ---- guard.c ------------------------------------------------------------- */

/* Watches the connections of sock from the guard thread: call before sock
 * binds or connects.  domain (static text) names it in logs.  Main thread.
 * -1 when the monitor cannot be set up. */
int broker_guard_watch(broker *b, void *sock, const char *domain);
/* Tells the guard that connection fd of a socket whose monitor another
 * module reads (a peer's DEALER: federation.c) came up or went down; a socket
 * has one monitor only.  Main thread, after broker_guard_start.  -1 when the
 * guard cannot be told. */
int broker_guard_connection(broker *b, int fd, bool up, const char *domain);
/* Starts the guard thread, which takes over the monitors. */
int broker_guard_start(broker *b);
void broker_guard_stop(broker *b);
/* Counts a message read from descriptor fd (ZMQ_SRCFD; -1 for none): its
 * frames and payload bytes.  Main thread. */
void broker_guard_consumed(int fd, size_t frames, size_t bytes);
/* What one connection may hold inside libzmq and the kernel, in wire bytes. */
uint64_t broker_guard_connection_max(const broker_config *cfg);
/* What all connections together may hold. */
uint64_t broker_guard_total_max(const broker_config *cfg);

/* ---- workers.c ----------------------------------------------------------- */

int broker_workers_start(broker *b);
void broker_workers_stop(broker *b);
/* Hands a job, and the jobs chained after it, to one worker of the pool,
 * which checks them in turn (a partner's report list: its reports share a
 * batch signature, which the worker then checks once).  Returns 0,
 * BROKER_JOB_BUSY when the jobs held would exceed broker_jobs_max, or -1;
 * on failure the jobs stay the caller's. */
int broker_job_dispatch(broker *b, broker_job *job);
/* broker_job_dispatch's answer when the jobs at the pool and in batches
 * already hold broker_jobs_max bytes: the caller answers busy. */
#define BROKER_JOB_BUSY 1
/* Bytes the jobs between dispatch and free may hold together. */
uint64_t broker_jobs_max(const broker_config *cfg);
/* Takes back a chain of jobs a worker is done with; returns the jobs that
 * may now be routed, linked by ord.next, in dispatch order (order.h). */
broker_job *broker_job_back(broker *b, broker_job *job);
/* Frees a job and the jobs chained after it. */
void broker_job_free(broker_job **job);
int broker_committer_start(broker *b);
void broker_committer_stop(broker *b);
/* Sends the collecting batch to the committer if it is idle and there is work
 * that is due (see BROKER_LAZY_MS). */
void broker_commit_kick(broker *b);
/* Milliseconds until broker_commit_kick has due work, at most cap. */
int broker_commit_due_in(broker *b, int cap);
/* Handles the committer's answer: completes every op of the batch. */
void broker_commit_done(broker *b);

/* ---- batch.c ------------------------------------------------------------- */

/* Starts a new item in the collecting batch with its op; NULL on failure. */
broker_op *broker_op_begin(broker *b, uint8_t type);
/* Drops the item started last (its operations are not committed). */
void broker_op_abort(broker *b);
/* Audit helper: appends one record about a message to the current item of
 * the collecting batch.  event is a store_audit_event; about (in, NULL for
 * none) names the message; party is the agency or peer on this side (the
 * sender agency, "peer:CAN"), counterpart the recipient or peer, rule_id the
 * policy rule that decided ("" or NULL for none; the current policy's hash
 * goes with it), detail a short reason; NULL text is "".  Text longer than
 * its field is cut; a detail with control characters is escaped whole.
 * 0, or -1 when the store refused the record (logged): abort the item. */
int broker_audit_msg(broker *b, uint8_t event, const broker_about *about, const char *party,
                     const char *counterpart, const char *rule_id, const char *detail);
/* The same as an item of its own that nobody waits on (a refusal, a
 * partner's answer); when it cannot be added, nothing is (logged). */
void broker_audit_msg_item(broker *b, uint8_t event, const broker_about *about,
                           const char *party, const char *counterpart, const char *rule_id,
                           const char *detail);
/* Fills *about from env (decoded; borrowed while *about is used) and its
 * envelope hash h (NULL for none). */
void broker_about_envelope(broker_about *about, const proto_envelope *env, const uint8_t *h);
/* Audit helper for a record that concerns no message, or whose kind and
 * actor are unknown: broker_audit_msg with only id, purpose and hash. */
int broker_audit(broker *b, uint8_t event, const uint8_t *id, const char *party,
                 const char *counterpart, const char *purpose, const char *rule_id,
                 const uint8_t *envelope_hash, const char *detail);
/* One audit record as an item of its own that nobody waits on (a refusal,
 * a reload, a partner coming or going); when it cannot be added, nothing
 * is (the failure is logged by broker_audit). */
void broker_audit_item(broker *b, uint8_t event, const uint8_t *id, const char *party,
                       const char *counterpart, const char *purpose, const char *rule_id,
                       const uint8_t *envelope_hash, const char *detail);
/* Sets a state and queues the matching report toward the sender. */
int broker_state(broker *b, const uint8_t id[PROTO_ID_BYTES], const proto_addr *sender,
                 const proto_addr *recipient, uint8_t state, const char *rule_id,
                 const char *detail, const uint8_t envelope_hash[PROTO_HASH_BYTES]);
/* Adds to the current item a signed report to sender (in) that message id
 * reached state for recipient, without recording that state: for the
 * states that are news but not progress (unattended, unreachable), which
 * leave the message queued.  0, or -1 if the batch refused it. */
int broker_notice(broker *b, const uint8_t id[PROTO_ID_BYTES], const proto_addr *sender,
                  const proto_addr *recipient, uint8_t state, const char *detail,
                  const uint8_t envelope_hash[PROTO_HASH_BYTES]);
/* True if agency (of this nation) has a connection that asked for
 * deliveries and was heard within BROKER_SESSION_IDLE_MS (replies.c). */
bool broker_agency_attended(broker *b, const proto_addr *agency, uint64_t now);
/* Enqueues a message entry for about's message (id and hash required; its
 * kind, actor and purpose go into the entry).  notes (NULL for none) holds,
 * for each bit i set in mask, the withholding note portion i gets when it is
 * redacted (docs/protocol.md section 6.5; NULL or "" for none); a note that
 * breaks the note grammar is left out, and when the notes do not fit in the
 * entry beside the targets, all are (the portions go out as state 2). */
int broker_enqueue_message(broker *b, const char *dest, const broker_about *about,
                           uint64_t mask, const proto_addr *sender, const char *const *notes,
                           const uint8_t *targets, size_t targets_len);

/* The envelope of message entry e as its destination gets it: redacted as
 * the entry says (*owned then holds the copy, the caller's to free), else
 * borrowed from rd.  *m receives the entry.  0, or 1 when it is no longer
 * deliverable (expired meanwhile: the sweep removes it), or
 * BROKER_ENTRY_DAMAGED when the stored envelope no longer matches the hash
 * recorded when it was accepted (nothing is sent: see broker_entry_damaged). */
#define BROKER_ENTRY_DAMAGED 2
int broker_entry_envelope(store_read *rd, const store_queue_entry *e, broker_entry_msg *m,
                          proto_slice *bytes, uint8_t **owned);
/* Gives up entry e of queue dest, whose envelope broker_entry_envelope found
 * damaged: removes the entry (so the queue goes on), sets the state
 * `damaged` for its recipient (recipient, or for a peer queue the entry's
 * targets), reports it to the sender, audits it, logs and counts it, all
 * in one item of the collecting batch.  0, or -1 when the item could not be
 * made (the entry stays, and is found again). */
int broker_entry_damaged(broker *b, const char *dest, const store_queue_entry *e,
                         const broker_entry_msg *m, const proto_addr *recipient);
/* Marks dest as having new entries to deliver. */
void broker_dirty(broker *b, const char *dest);

/* ---- route.c --------------------------------------------------------------- */

/* A verified submit: checks, resolves, decides, adds its item. */
void broker_route_submit(broker *b, broker_job *job);
/* A verified forward from a peer. */
void broker_route_forward(broker *b, broker_job *job);
/* Refuses a partner's forward or report: a forward-ack with code and why,
 * a log line, a `rejected` audit record; frees job. */
void broker_refuse_partner(broker *b, broker_job *job, uint16_t code, const char *why);

/* ---- recall.c -------------------------------------------------------------- */

#define BROKER_KIND_RECALL     "recall.request" /* a recall by the originator */
#define BROKER_KIND_RECALL_ACK "recall.ack"     /* a recipient's answer to a recall */

/* True for the kinds builtin:recall routes instead of the policy. */
bool broker_recall_kind(const char *kind);
/*
 * Adds to the current item what recall (a recall.request by originator)
 * takes back of message original for the agencies targets[0..n): every
 * queue entry of original toward one of them that was not yet sent (an
 * agency's queue; a partner queue entry not in the window, when the recall
 * covers all its targets) is removed, its recipients' state becomes
 * recalled (with a report toward the sender) and audited `recalled`; each
 * other target is audited `recalled` as one the recall follows.
 * original names the recalled message as its audit records do: its id, its
 * kind ("" when the original is no longer stored), the recall's actor and
 * purpose (who recalled it, and why), and its envelope hash (NULL when no
 * longer stored: each entry's own hash is used).  rd is a snapshot of the
 * store.  0, or -1 when an operation could not be added (abort the item).
 * Main thread.
 */
int broker_recall_withdraw(broker *b, store_read *rd, const broker_about *original,
                           const uint8_t recall[PROTO_ID_BYTES], const proto_addr *targets,
                           size_t n, const char *originator);

/* True if entry seq of queue dest is removed by a recall whose batch has
 * not committed yet: it is skipped, not sent.  Main thread. */
bool broker_recall_pending(const broker *b, const char *dest, uint64_t seq);
/* Batch c committed (or failed): its removals are no longer pending. */
void broker_recall_committed(broker *b, const broker_commit *c);
/* Item item of batch c was dropped: its removals are not made. */
void broker_recall_dropped(broker *b, const broker_commit *c, size_t item);

/* ---- agency.c -------------------------------------------------------------- */

void broker_agency_readable(broker *b);
void broker_agency_deliver(broker *b, broker_session *s);
/* Delivers to s once the input at hand is read (broker_agency_send_due). */
void broker_agency_deliver_later(broker *b, broker_session *s);
void broker_agency_send_due(broker *b);
void broker_agency_answer(broker *b, const uint8_t *rid, size_t rid_len, const proto_cmd *cmd);
/* Answers accepted for count (1..PROTO_ACKS_MAX) submits of one connection. */
void broker_agency_accepted(broker *b, const uint8_t *rid, size_t rid_len, const proto_ack *items,
                            size_t count);
void broker_agency_reject(broker *b, const uint8_t *rid, size_t rid_len, uint64_t corr,
                          const uint8_t *id, uint16_t code, const char *text);
broker_session *broker_session_find(broker *b, const proto_addr *addr);
void broker_sessions_tick(broker *b, uint64_t now);

/* ---- federation.c ---------------------------------------------------------- */

int broker_peers_open(broker *b);
void broker_peers_close(broker *b);
/* At a reload whose roster loaded: makes the partners those of cfg's
 * `peers:`.  A new partner is dialled; one no longer listed is closed (its
 * queue stays, and waits for a configuration that lists it again); one whose
 * endpoint changed is dialled at the new one; every other is not touched.
 * Each change is logged and audited.  The roster already in force must hold
 * a card for every peer of cfg (broker_roster_load checked it). */
void broker_peers_reload(broker *b, const broker_config *cfg);
/* The partner of nation in the configuration in force, or NULL.  Main thread. */
broker_peer *broker_peer_find(broker *b, const char *nation);
/* True if the link to p is down: it went down, or it has not come up in
 * BROKER_PEER_DEAD_MS since the broker first dialled it (a link still
 * being made at start is not down yet). */
bool broker_peer_unreachable(const broker_peer *p, uint64_t now);
void broker_fed_readable(broker *b);
void broker_peer_readable(broker *b, broker_peer *p);
/* Reads p's connection events (its monitor socket): a connection that
 * drops or a new one that completes its handshake rewinds p, so that what
 * is not acknowledged is sent again, in order, on the new connection. */
void broker_peer_events(broker *b, broker_peer *p);
void broker_peer_send(broker *b, broker_peer *p);
void broker_peers_tick(broker *b, uint64_t now);
void broker_fed_answer(broker *b, const uint8_t *rid, size_t rid_len, const proto_cmd *cmd);
/* After the roster changed: closes our connection to each partner whose
 * broker card is gone or revoked (a log line and an audit record each; its
 * queue stays), and dials again one whose key changed. */
void broker_peers_roster_changed(broker *b);
/* Files a partner's report that the pool decoded (and checked); frees job. */
void broker_fed_report(broker *b, broker_job *job);

/* ---- sections.c -------------------------------------------------------------- */

/* In signed roster mode (b->cfg->nation_keys), checks a roster just loaded
 * for the peers of cfg: no card outside a section, every section this
 * broker's nation's or a peer's, each verifying with its pinned nation key;
 * then replaces each peer's section with the one it sent (data_dir/rosters/)
 * when that one's serial is higher and it verifies.  Without nation keys
 * it does nothing.  EX_OK, or EX_CONFIG with why naming nation and reason. */
int broker_roster_signed_check(const broker *b, const broker_config *cfg, proto_roster *r,
                               char *why, size_t why_len);
/* After the roster in force changed (start, reload, a partner's section):
 * writes it to data_dir/roster and, in signed mode, makes our section ready
 * to send; when its serial changed, every partner is sent it again. */
void broker_roster_publish(broker *b);
/* Sends p our section if it is due and p is up. */
void broker_roster_send(broker *b, broker_peer *p);
/* A roster-ack from p, answering our section. */
void broker_peer_roster_ack(broker *b, broker_peer *p, const proto_cmd *cmd);
/* A roster command from partner peer on connection rid: checked, stored,
 * audited and applied as docs/protocol.md 7.6 says, and answered. */
void broker_fed_roster(broker *b, const proto_addr *peer, const uint8_t *rid, size_t rid_len,
                       const proto_cmd *cmd);

/* ---- Reports (batch.c) -------------------------------------------------------- */

/* Signs the reports among entries[0..n) (n <= BROKER_SEND_MAX) with one
 * signature: out[i] is the signed report of entries[i], or empty for any
 * other entry and for a report that does not parse (skipped).  -1 when the
 * signing failed: nothing is made and the caller sends nothing this time.
 * broker_reports_free frees them. */
int broker_reports_sign(broker *b, const store_queue_entry *entries, size_t n,
                        broker_signed *out) PROTO_MUST_CHECK;
void broker_reports_free(broker_signed *out, size_t n);

#endif
