/* Private to libliaison: the client object and the functions its files share. */
#ifndef LIAISON_CLIENT_INT_H
#define LIAISON_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison.h"
#include "liaison_proto.h"

/* An event waiting for liaison_receive. */
typedef struct client_queued {
    liaison_event *event;           /* owned */
    struct client_queued *next;     /* FIFO link */
} client_queued;

/* Ids already handed to the application: an open-addressing hash set,
 * optionally backed by an LMDB file in the state directory. */
typedef struct client_seen {
    uint8_t (*slots)[PROTO_ID_BYTES]; /* all-zero slot = empty */
    uint8_t *marks;                   /* CLIENT_SEEN_* of each slot */
    size_t cap;                       /* slots allocated, a power of two */
    size_t count;                     /* ids held */
    void *env;                        /* MDB_env *, NULL without a state directory */
    unsigned dbi;                     /* MDB_dbi of the ids */
} client_seen;

struct liaison_client {
    proto_identity *id;             /* the agency's keys */
    char address[PROTO_ADDR_TEXT_MAX + 1]; /* its address text */
    proto_roster *roster;           /* the federation */
    void *zctx;                     /* ZeroMQ context */
    void *sock;                     /* DEALER to the home broker */
    void *monitor;                  /* PAIR: the DEALER's handshake events */
    char endpoint[256];             /* the broker's endpoint, for messages */
    bool refused;                   /* the broker refused our key: every call fails */
    char refusal[600];              /* what the refusal said, one line */
    bool receive;                   /* this connection asks for deliveries */
    char actor[PROTO_ACTOR_MAX + 1]; /* default actor of what it sends, "" for none */
    uint64_t next_corr;             /* next request correlation */
    uint64_t next_ping_ms;          /* next keepalive */
    client_queued *queue_head;      /* events not yet returned */
    client_queued *queue_tail;      /* last of them */
    client_seen seen;               /* ids handed out */
    uint8_t *reply_entries;         /* copy of the last status reply's entries */
    uint16_t reject_code;           /* last rejection's code */
    char reject_text[PROTO_TEXT_MAX]; /* and its text */
    char error[512];                /* last failure, one line */
    uint8_t (*report_hashes)[PROTO_HASH_BYTES]; /* reports already handed out */
    size_t report_count, report_cap; /* entries used and allocated */
    proto_report_cache report_cache; /* report batches whose signature checked out */
    proto_ack receipts[PROTO_ACKS_MAX]; /* receipts not sent yet */
    size_t receipt_count;           /* entries in receipts */
};

liaison_err client_fail(liaison_client *c, liaison_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A deadline already passed: a send that cannot go at once fails. */
#define CLIENT_NO_WAIT 1u
/* Sends cmd, after the receipts waiting to go (so the broker sees them
 * first), waiting for room until deadline_ms (0: no limit).  Returns
 * LIAISON_OK, or LIAISON_ERR_REFUSED, LIAISON_ERR_TIMEOUT or
 * LIAISON_ERR_CONNECT with c->error set. */
liaison_err client_send(liaison_client *c, const proto_cmd *cmd, uint64_t deadline_ms);
/* True once the broker refused our key: the handshake failed its
 * authentication, or it answered a command with code revoked.  Reads the
 * handshake events waiting, and sets c->error. */
bool client_refused(liaison_client *c);
/* Receipts wait until the client next sends or waits, or until a receipt
 * command is full, so that a run of them goes out as one command. */
int client_receipt_add(liaison_client *c, uint64_t tag, const uint8_t id[PROTO_ID_BYTES]);
int client_receipts_flush(liaison_client *c);
void client_ping(liaison_client *c);
/* Returns as documented in client.c; -2 when the broker refused our key. */
int client_pump(liaison_client *c, uint64_t deadline_ms, uint64_t want_corr, proto_cmd *reply);
liaison_event *client_dequeue(liaison_client *c);

/*
 * Internal event types, never returned to the application: a delivery or
 * report that was not handed out because it does not verify (or does not
 * decode).  It is not receipted, so the broker keeps it; liaison_receive
 * turns it into LIAISON_ERR_SIGNATURE (or LIAISON_ERR_PROTOCOL) with the
 * event's detail as the error text, in its place among the events.
 */
#define CLIENT_EVENT_UNVERIFIED 0x80u
#define CLIENT_EVENT_UNDECODABLE 0x81u

/* client_recv.c: turn a delivered envelope or report into an event (NULL: dropped). */
int client_open_delivery(liaison_client *c, const proto_tagged *item, liaison_event **event_out);
int client_open_report(liaison_client *c, const proto_tagged *item,
                       liaison_event **event_out);

/* client_seen.c: what became of each message id this client received. */
#define CLIENT_SEEN_NONE 0       /* never handed out */
#define CLIENT_SEEN_HANDED 1     /* handed to the application, not receipted yet */
#define CLIENT_SEEN_RECEIPTED 2  /* receipted (kept in the state directory, if any) */
int client_seen_open(liaison_client *c, const char *dir, char *why, size_t why_len);
void client_seen_close(liaison_client *c);
uint8_t client_seen_get(liaison_client *c, const uint8_t id[PROTO_ID_BYTES]);
/* Raises the mark of id; RECEIPTED is committed to the state directory first. */
int client_seen_mark(liaison_client *c, const uint8_t id[PROTO_ID_BYTES], uint8_t mark);

/* ---- client_tally.c: who a query still waits for ---------------------------- */

/* Where one expected agency stands. */
#define CLIENT_TALLY_WAITING 0   /* nothing heard yet */
#define CLIENT_TALLY_ANSWERED 1  /* its answer came */
#define CLIENT_TALLY_SILENT 2    /* known not to answer (reason set); an answer still counts */

typedef struct client_tally_agency {
    proto_addr addr;             /* the agency */
    uint8_t status;              /* CLIENT_TALLY_* */
    bool unaccepting;            /* named outright, but its card does not accept the kind */
    liaison_not_answered why;    /* agency text always; the rest when SILENT */
} client_tally_agency;

/* The agencies a query expects answers from. */
typedef struct client_tally {
    client_tally_agency *agencies; /* owned, in roster order */
    size_t count;                  /* entries in agencies */
} client_tally;

/* Fills t (allocated, count entries) from the agencies the query resolves to,
 * noting those named outright whose card does not accept kind.  -1 when out
 * of memory (t is then empty). */
int client_tally_init(client_tally *t, const proto_roster_entry *const *agencies, size_t count,
                      const char *kind);
void client_tally_free(client_tally *t);
/* An answer from sender ("CAN/RCMP"): marks it answered.  False if sender
 * is not expected. */
bool client_tally_answer(client_tally *t, const char *sender);
/* A delivery report from broker that recipient (an agency or a broker
 * address) reached state: a state that means no answer marks the agency (or
 * every expected agency of that broker's nation) silent with its reason,
 * rule and detail, unless it answered.  Other states change nothing.
 * Returns the agencies marked. */
size_t client_tally_report(client_tally *t, const char *broker, const char *recipient,
                           const char *state, const char *rule_id, const char *detail);
/* At the end: every agency still waiting is marked silent, "deadline", or
 * "kind-not-accepted" when its card does not accept the kind. */
void client_tally_close(client_tally *t);
/* The agencies still waiting. */
size_t client_tally_waiting(const client_tally *t);
/* The reason a report's state gives for not answering ("no-agent"), or NULL
 * for a state that does not mean it. */
const char *client_tally_reason(const char *state);

#endif
