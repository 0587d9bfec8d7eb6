/* libliaison: the public C API of Liaison for agencies' applications. */
#ifndef LIAISON_H
#define LIAISON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A client connects one agency to its home broker over ZeroMQ with
 * CurveZMQ, seals and signs what it sends, and verifies and opens what it
 * receives.  Thread-safety: a liaison_client and the objects it returns
 * belong to one thread at a time; use one client per thread.  Times are
 * Unix milliseconds; blocking calls take an absolute deadline (0: wait
 * forever).  Every call that can fail returns a liaison_err; after a failure
 * liaison_client_error() says why in one line.
 */

/* Errors.  Codes are appended, never renumbered. */
typedef enum liaison_err {
    LIAISON_OK = 0,
    LIAISON_ERR_INVALID = 1,     /* an argument is invalid (see liaison_client_error) */
    LIAISON_ERR_NOMEM = 2,       /* out of memory */
    LIAISON_ERR_KEY = 3,         /* the key file cannot be used */
    LIAISON_ERR_ROSTER = 4,      /* the roster cannot be used, or lacks an identity */
    LIAISON_ERR_CONNECT = 5,     /* the broker endpoint cannot be used */
    LIAISON_ERR_TIMEOUT = 6,     /* the deadline passed */
    LIAISON_ERR_REJECTED = 7,    /* the broker rejected the message (code and text kept) */
    LIAISON_ERR_PROTOCOL = 8,    /* the broker sent something that does not parse */
    LIAISON_ERR_SIGNATURE = 9,   /* a received message or report does not verify */
    LIAISON_ERR_STATE = 10,      /* the state directory cannot be used */
    LIAISON_ERR_TOO_LARGE = 11,  /* the message would exceed the format's limits */
    LIAISON_ERR_REFUSED = 12,    /* the broker refused this agency's key (unknown to its
                                    roster, or revoked); final for this client */
    LIAISON_ERR_BUNDLE = 13,     /* an evidence bundle does not verify (see its report) */
    LIAISON_ERR_NOT_FOUND = 14,  /* a file or directory named does not exist or cannot be read */
} liaison_err;

/* Returns a static string for code; never NULL. */
const char *liaison_strerror(liaison_err code);

/* ---- Clients ------------------------------------------------------------ */

typedef struct liaison_client liaison_client;

/* How to connect. */
typedef struct liaison_config {
    const char *key_file;        /* the agency's secret key file (mode 0600) */
    const char *roster_file;     /* the federation roster */
    const char *endpoint;        /* the home broker's agency endpoint, "tcp://host:port" */
    const char *state_dir;       /* NULL, or a directory where received ids are kept durably
                                    so that no message reaches the application twice across
                                    restarts */
    bool receive;                /* announce this connection for deliveries */
    const char *actor;           /* NULL, or the default actor of every message this client
                                    sends: the officer or system, 1..64 of A-Z a-z 0-9
                                    . _ : @ - ("jdoe@fbi", "system:liaison-agent") */
} liaison_config;

/*
 * Loads the key and roster and connects to the broker (the connection
 * completes in the background; the first request waits for it).  The
 * broker's CURVE key comes from the roster card of the agency's nation.
 * *client_out is the caller's, to free with liaison_client_close.
 * Errors: LIAISON_ERR_KEY, LIAISON_ERR_ROSTER, LIAISON_ERR_CONNECT,
 * LIAISON_ERR_STATE, LIAISON_ERR_NOMEM; why (why_len bytes, may be NULL)
 * receives the reason.
 */
liaison_err liaison_client_open(const liaison_config *cfg, liaison_client **client_out,
                                char *why, size_t why_len);

/* Closes the connection, wipes the keys and sets *client to NULL.  Accepts NULL. */
void liaison_client_close(liaison_client **client);

/* The reason for the last failure, or "" (borrowed until the next call). */
const char *liaison_client_error(const liaison_client *client);

/* The agency this client acts for, "USA/FBI" (borrowed). */
const char *liaison_client_address(const liaison_client *client);

/* The current time in Unix milliseconds, for deadlines. */
uint64_t liaison_now_ms(void);

/* ---- Composing ---------------------------------------------------------- */

typedef struct liaison_message liaison_message;

/* Starts a message of kind ("watchlist.query").  Default expiry: 24 hours. */
liaison_err liaison_message_new(const char *kind, liaison_message **msg_out);
void liaison_message_destroy(liaison_message **msg);

// Adds a recipient: "CAN/RCMP", "CAN/*" or "*" (see docs/protocol.md).
liaison_err liaison_message_add_recipient(liaison_message *msg, const char *address);
/* Sets the message labels from their text form ("LES//REL TO CAN,USA"). */
liaison_err liaison_message_set_labels(liaison_message *msg, const char *labels);
liaison_err liaison_message_set_case(liaison_message *msg, const char *case_id);
liaison_err liaison_message_set_in_reply_to(liaison_message *msg, const uint8_t id[16]);
liaison_err liaison_message_set_expiry(liaison_message *msg, uint64_t expires_ms);
/*
 * Names who sends this message (the officer or system), overriding the
 * client's liaison_config.actor.  A message needs an actor from one or the
 * other: sealing one without fails with LIAISON_ERR_INVALID.  Errors:
 * LIAISON_ERR_INVALID if actor is not 1..64 of A-Z a-z 0-9 . _ : @ -.
 */
liaison_err liaison_message_set_actor(liaison_message *msg, const char *actor);
/*
 * Attaches a consent grant token (len 1..LIAISON_GRANT_MAX bytes, copied),
 * at most LIAISON_GRANTS_MAX a message.  The envelope carries it in its
 * signed header; brokers check it.  Errors: LIAISON_ERR_INVALID.
 */
#define LIAISON_GRANTS_MAX 4u    /* grant tokens a message carries */
#define LIAISON_GRANT_MAX 1024u  /* bytes of one grant token */
liaison_err liaison_message_add_grant(liaison_message *msg, const void *token, size_t len);
/*
 * Adds a portion: its labels (text form), its bytes (copied), and who may
 * read it.  readers NULL: every resolved recipient agency whose nation the
 * portion's and the message's labels release to; otherwise a NULL-ended
 * list of agency addresses.
 */
liaison_err liaison_message_add_portion(liaison_message *msg, const char *labels,
                                        const void *data, size_t len,
                                        const char *const *readers);

/* Seals and submits msg, and waits for the broker's answer.  id_out (16
 * bytes, may be NULL) receives the message id.  LIAISON_ERR_REJECTED: see
 * liaison_client_rejection().  The message can be sent again (same id) if
 * the answer was lost: the broker accepts a resubmission once.
 * LIAISON_ERR_REFUSED, as soon as the broker refuses this agency's key (at
 * the handshake, or on a connection whose key it revoked since): then
 * every later call on this client fails the same way. */
liaison_err liaison_send(liaison_client *client, liaison_message *msg, uint8_t id_out[16],
                         uint64_t deadline_ms);

/*
 * Seals msg now, exactly as liaison_send would, without submitting it:
 * its id is fixed from here on (id_out, 16 bytes, may be NULL).  An
 * application that must answer each request exactly once seals the answer,
 * keeps liaison_message_envelope's bytes durably, then sends; after a crash
 * it sends the kept bytes again (liaison_message_from_envelope) and the
 * broker, which accepts a resubmitted id once, stores nothing twice.
 * Errors: LIAISON_ERR_INVALID (no recipient or portion), LIAISON_ERR_ROSTER.
 */
liaison_err liaison_message_seal(liaison_client *client, liaison_message *msg, uint8_t id_out[16]);

/* The sealed envelope of msg: *data_out is borrowed until msg is changed or
 * destroyed.  LIAISON_ERR_INVALID if msg is not sealed yet. */
liaison_err liaison_message_envelope(const liaison_message *msg, const uint8_t **data_out,
                                     size_t *len_out);

/*
 * Makes a message from an envelope sealed earlier (data, len bytes, copied),
 * for liaison_send to submit again under the same id; id_out (may be NULL)
 * receives that id.  Changing the message (recipients, labels, ...) would
 * unseal it and is refused by liaison_send for want of recipients.
 * Errors: LIAISON_ERR_INVALID (the bytes are no envelope), LIAISON_ERR_NOMEM.
 */
liaison_err liaison_message_from_envelope(const void *data, size_t len, liaison_message **msg_out,
                                          uint8_t id_out[16]);

/* The broker's code (docs/protocol.md 9.1) and text of the last rejection. */
uint16_t liaison_client_rejection(const liaison_client *client, const char **text_out);

/* ---- Receiving ------------------------------------------------------------ */

/* One portion of a received message. */
typedef struct liaison_portion {
    char labels[1400];        /* its labels, text form */
    bool withheld;            /* a broker withheld it (its hash is still signed) */
    bool readable;            /* this agency holds a key to it */
    uint8_t *data;            /* its bytes when readable, else NULL */
    size_t len;               /* bytes at data */
    /* Who withheld it, as the withholding broker states in its note: not
     * signed by the sender, so show it as the broker's word (the sender's
     * own record is its signed delivery reports).  Both "" when the portion
     * is not withheld or the broker left no note.  Appended fields: the
     * library allocates every liaison_portion, so code built against the
     * earlier layout reads the fields it knows unchanged. */
    char withheld_by[4];      /* the withholding broker's nation, "USA", or "" */
    char withheld_rule[65];   /* the policy rule that withheld it, or "" (the nation alone) */
} liaison_portion;

/* What the broker delivers: a message, or a signed delivery report. */
typedef enum liaison_event_type {
    LIAISON_EVENT_MESSAGE = 1,  /* a message for this agency */
    LIAISON_EVENT_REPORT = 2,   /* a broker's signed report about a message this agency sent */
} liaison_event_type;

/* A consent grant token carried by a message, as received (not verified here). */
typedef struct liaison_grant_blob {
    uint8_t *data;               /* the token's bytes, owned by the event */
    size_t len;                  /* bytes at data */
} liaison_grant_blob;

typedef struct liaison_event {
    uint8_t type;                /* a liaison_event_type */
    uint8_t id[16];              /* message id */
    char id_hex[33];             /* the same, in hex */
    /* Messages: */
    char kind[65];               /* "watchlist.answer" */
    char sender[40];             /* "CAN/RCMP" */
    char case_id[65];            /* "" when none */
    uint8_t in_reply_to[16];     /* all zero when none */
    bool has_reply_to;           /* in_reply_to is set */
    char labels[1400];           /* message labels, text form */
    uint64_t created_ms;         /* when the sender made it */
    uint64_t expires_ms;         /* when it expires */
    size_t portion_count;        /* entries in portions */
    liaison_portion *portions;   /* owned by the event */
    /* Reports: */
    char broker[8];              /* the broker that signed it, "CAN" */
    char recipient[40];          /* whose state it reports */
    char state[16];              /* "delivered", "receipted", "denied", ... */
    char rule_id[65];            /* the rule that decided, when any */
    char detail[256];            /* its reason, when any */
    uint64_t time_ms;            /* when the state was reached */
    uint8_t *raw;                /* the signed report or envelope, as received */
    size_t raw_len;              /* bytes at raw */
    uint64_t tag;                /* the broker's delivery tag, for liaison_receipt */
    /* Messages, appended: */
    char actor[65];              /* who sent it at its agency, "" from an envelope version 1 */
    size_t grant_count;          /* entries in grants */
    liaison_grant_blob *grants;  /* consent grant tokens it carries, owned by the event */
} liaison_event;

/*
 * Waits for the next event.  A message is verified (its sender's signature,
 * from the roster), opened, and dropped if already seen; a report is
 * verified with its broker's key.  *event_out is the caller's, to free with
 * liaison_event_free, and to acknowledge with liaison_receipt once the
 * application has taken it.  A message or report that does not verify is
 * never handed out and never receipted (the broker keeps it, and delivers it
 * again after a reconnect): in its place among the events, one call returns
 * LIAISON_ERR_SIGNATURE (LIAISON_ERR_PROTOCOL if it does not even decode)
 * with *event_out unchanged, and liaison_client_error() names the message
 * id, the sender and the reason; call again for the events after it.
 * Errors: LIAISON_ERR_TIMEOUT, LIAISON_ERR_SIGNATURE, LIAISON_ERR_PROTOCOL,
 * LIAISON_ERR_REFUSED (the broker refused this agency's key; events received
 * before that are returned first).
 */
liaison_err liaison_receive(liaison_client *client, liaison_event **event_out,
                            uint64_t deadline_ms);

/* Acknowledges an event to the broker: it is removed from the queue and, for
 * a message, its id is recorded (durably, with a state directory) so it is
 * never handed out again.  While more received events wait for
 * liaison_receive, receipts are held and go out together with the last
 * one's, or before the client next sends or waits, or when it is closed. */
liaison_err liaison_receipt(liaison_client *client, const liaison_event *event);

void liaison_event_free(liaison_event **event);

/* Calls fn for each event until the deadline; fn returns false to stop.  A
 * delivery that does not verify ends it with LIAISON_ERR_SIGNATURE (see
 * liaison_receive); call it again to go on. */
typedef bool (*liaison_event_fn)(void *ctx, liaison_event *event);
liaison_err liaison_dispatch(liaison_client *client, liaison_event_fn fn, void *ctx,
                             uint64_t deadline_ms);

/* ---- Status ------------------------------------------------------------------ */

/* One recipient's state of a message, as the home broker knows it. */
typedef struct liaison_status_entry {
    char recipient[40];          /* agency, or a partner broker */
    char state[16];              /* "queued", "forwarded", "delivered", ... */
    uint64_t time_ms;            /* when it reached that state */
    char rule_id[65];            /* the policy rule, when any */
    char detail[256];            /* a reason, when any */
} liaison_status_entry;

/* Asks the home broker for the state of a message this agency sent. */
liaison_err liaison_status(liaison_client *client, const uint8_t id[16],
                           liaison_status_entry *entries, size_t cap, size_t *count_out,
                           uint64_t deadline_ms);

/* ---- Queries (scatter-gather) -------------------------------------------------- */

/* An agency a query expected an answer from, that did not answer. */
typedef struct liaison_not_answered {
    char agency[40];             /* "CAN/CBSA" */
    char reason[24];             /* why, one of: "no-agent" (its broker reports no agent
                                    connected: unattended), "partner-down" (the link to its
                                    nation's broker is down: unreachable), "kind-not-accepted"
                                    (named outright, its card does not accept the kind, and
                                    nothing came), "denied" (this nation's egress policy), "refused"
                                    (the partner's ingress policy), "expired", "damaged",
                                    "recalled", "deadline" (nothing heard in time) */
    char rule_id[65];            /* the policy rule that decided, or "" */
    char detail[256];            /* the reporting broker's reason, or "" */
    char broker[8];              /* the broker whose signed report says so, or "" */
} liaison_not_answered;

/* The answers to a query. */
typedef struct liaison_answers {
    size_t count;                /* answers received */
    liaison_event **answers;     /* each a message whose in_reply_to is the query */
    size_t silent_count;         /* nations none of whose agencies answered in time */
    char silent[64][4];          /* their codes */
    /* Appended fields: the library allocates every liaison_answers, so code
     * built against the earlier layout reads the fields it knows unchanged. */
    size_t not_answered_count;   /* entries in not_answered */
    liaison_not_answered *not_answered; /* each agency expected that did not answer, in
                                           roster order; owned by the answers */
} liaison_answers;

/*
 * Sends query (its recipients name the partners), then collects messages
 * in reply to it until every agency expected has answered or is known not
 * to answer, or the deadline passes.  The agencies expected are those the
 * recipients resolve to in the roster: a selector reaches the cards whose
 * accepts cover the kind, and an agency named outright is expected whatever
 * its card accepts (the broker delivers to it; if nothing comes, it is
 * "kind-not-accepted" rather than "deadline").  An answer marks its
 * sender.  A delivery report about the query marks the agency it names (every expected agency of a nation, when it names the
 * nation's broker) as not answering: denied, refused, expired, damaged,
 * recalled, and the brokers' unattended ("no-agent") and unreachable
 * ("partner-down"); an answer that comes later still counts.  At the
 * deadline, the agencies still awaited are "deadline".  Reaching the
 * deadline is not an error: the result says who did not answer and why.
 * Other events received meanwhile are kept for liaison_receive.
 * *answers_out is the caller's, to free with liaison_answers_free.
 */
liaison_err liaison_query(liaison_client *client, liaison_message *query, uint64_t deadline_ms,
                          liaison_answers **answers_out);
void liaison_answers_free(liaison_answers **answers);

/* ---- Evidence bundles (docs/bundle.md) ------------------------------------------ */

/*
 * An MLAT evidence bundle is a directory that `liaison mlat export` writes
 * and a court or a partner verifies offline, with no network and no secret
 * key.  docs/bundle.md specifies it.  These functions keep no state between
 * calls and share nothing: any thread may call them at any time, on
 * distinct reports (a report belongs to one thread at a time).
 */

#define LIAISON_BUNDLE_SCHEMA "liaison.bundle/1"              /* manifest.json's "schema" */
#define LIAISON_BUNDLE_SIGN_CONTEXT "liaison bundle v1"       /* first bytes the exporter's
                                                                 signature covers */
#define LIAISON_BUNDLE_CUSTODY_CONTEXT "liaison custody v1"   /* and those of a custody
                                                                 signature */
#define LIAISON_BUNDLE_NAME_MAX 200u                          /* bytes of an evidence file name */

/* The result of verifying one bundle: opaque, read with the accessors below. */
typedef struct liaison_bundle_report liaison_bundle_report;

/* What a verification checked and found good. */
typedef struct liaison_bundle_counts {
    size_t envelopes;            /* envelope signatures that verified */
    size_t files;                /* evidence files that matched their chunks and hashes */
    size_t chunks;               /* chunks that matched their hashes */
    size_t custody;              /* custody signatures that verified */
    size_t proofs;               /* audit inclusion proofs that led to a signed tree head */
} liaison_bundle_counts;

/*
 * Verifies the bundle in directory dir (in), offline, in the order of
 * docs/bundle.md section 5: the bundle's roster (and, given trusted_roster,
 * that every card it holds is the same in that roster); the exporter's
 * signature over manifest.json; every listed file's SHA-256 (and that no
 * file is unlisted); every envelope's sender signature; each evidence file
 * against its chunks; every custody signature; every audit inclusion proof
 * up to a tree head signed by its broker.  trusted_roster (in, may be NULL)
 * is the path of a roster the caller obtained out of band.
 * *report_out (out) receives the report, the caller's to free with
 * liaison_bundle_report_destroy, both on LIAISON_OK and on
 * LIAISON_ERR_BUNDLE.  Nothing depends on the current time.
 * Returns LIAISON_OK when everything verifies; LIAISON_ERR_BUNDLE when
 * something does not (the report lists each problem, naming its file);
 * LIAISON_ERR_NOT_FOUND when dir is not a readable directory and
 * LIAISON_ERR_ROSTER when trusted_roster cannot be read as a roster (then
 * *report_out is NULL: nothing was verified); LIAISON_ERR_INVALID when dir
 * or report_out is NULL; LIAISON_ERR_NOMEM.
 */
liaison_err liaison_bundle_verify(const char *dir, const char *trusted_roster,
                                  liaison_bundle_report **report_out)
    __attribute__((warn_unused_result));

/* Frees a report and sets *report to NULL.  Accepts NULL and a NULL *report. */
void liaison_bundle_report_destroy(liaison_bundle_report **report);

/* True if the bundle verified: no problem was found. */
bool liaison_bundle_report_ok(const liaison_bundle_report *report) __attribute__((nonnull));

/* The case id manifest.json names, or NULL if the manifest could not be
 * read (borrowed until the report is destroyed). */
const char *liaison_bundle_report_case(const liaison_bundle_report *report)
    __attribute__((nonnull));

/* Copies the counts of what verified into *counts_out (out). */
void liaison_bundle_report_counts(const liaison_bundle_report *report,
                                  liaison_bundle_counts *counts_out) __attribute__((nonnull));

/* Number of problems found (0 when the bundle verifies). */
size_t liaison_bundle_report_problem_count(const liaison_bundle_report *report)
    __attribute__((nonnull));

/*
 * Problem i (in, below the count) of report, in the order found:
 * *file_out (out, may be NULL) the bundle path it names ("manifest.json",
 * "files/statements.pdf", ...), *reason_out (out, may be NULL) one line
 * saying what is wrong; both borrowed until the report is destroyed.
 * LIAISON_ERR_INVALID when i is out of range (outputs unchanged).
 */
liaison_err liaison_bundle_report_problem(const liaison_bundle_report *report, size_t i,
                                          const char **file_out, const char **reason_out)
    __attribute__((nonnull(1)));

/* Number of warnings: facts that do not fail the bundle (e.g. it holds no
 * audit proofs). */
size_t liaison_bundle_report_warning_count(const liaison_bundle_report *report)
    __attribute__((nonnull));

/* Warning i (below the count), borrowed until the report is destroyed; NULL
 * when i is out of range. */
const char *liaison_bundle_report_warning(const liaison_bundle_report *report, size_t i)
    __attribute__((nonnull));

/*
 * Renders report as JSON text (what `liaison mlat verify-bundle --json`
 * prints): {"ok", "case" (absent when unknown), "dir", "checked":
 * {"envelopes", "files", "chunks", "custody", "proofs"}, "failures":
 * [{"file", "message"}], "warnings": [text]}, indented by two spaces, no
 * final newline.  *json_out (out) is the caller's, to free with free().
 * Errors: LIAISON_ERR_NOMEM (*json_out unchanged).
 */
liaison_err liaison_bundle_report_json(const liaison_bundle_report *report, char **json_out)
    __attribute__((nonnull, warn_unused_result));

/*
 * The bytes a custody entry's signature covers (docs/bundle.md 3.3):
 * LIAISON_BUNDLE_CUSTODY_CONTEXT, then time, actor, action, file and
 * sha256_hex (in, the entry's string values, UTF-8), each preceded by one
 * 0x00 byte.  *buf_out (out) is malloc'd, the caller's to free(); *len_out
 * (out) its length.  Errors: LIAISON_ERR_INVALID (an argument is NULL),
 * LIAISON_ERR_NOMEM; outputs unchanged on error.
 */
liaison_err liaison_bundle_custody_input(const char *time, const char *actor, const char *action,
                                         const char *file, const char *sha256_hex,
                                         uint8_t **buf_out, size_t *len_out)
    __attribute__((warn_unused_result));

/*
 * Checks a custody entry's signature (in: its six string values; signature
 * in hex) with sign_public (in, the actor's 32-byte Ed25519 signing key,
 * from a roster card).  Returns LIAISON_OK; LIAISON_ERR_INVALID when a value
 * is NULL or signature_hex is not 128 hex digits; LIAISON_ERR_SIGNATURE when
 * the signature does not verify; LIAISON_ERR_NOMEM.
 */
liaison_err liaison_bundle_custody_verify(const char *time, const char *actor,
                                          const char *action, const char *file,
                                          const char *sha256_hex, const char *signature_hex,
                                          const uint8_t sign_public[32])
    __attribute__((warn_unused_result));

/* True if name can be an evidence file name in a bundle: 1 to
 * LIAISON_BUNDLE_NAME_MAX bytes, no '/', no control byte (below 0x20, or
 * 0x7f), not starting with '.'.  NULL is not. */
bool liaison_bundle_name_ok(const char *name);

/* Hex helpers for ids. */
void liaison_id_to_hex(const uint8_t id[16], char out[33]);
liaison_err liaison_id_from_hex(const char *hex, uint8_t id_out[16]);

#ifdef __cplusplus
}
#endif

#endif
