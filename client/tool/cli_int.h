/* Private to the liaison tool: connection options and helpers its subcommands share. */
#ifndef LIAISON_CLI_INT_H
#define LIAISON_CLI_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison.h"

/* Exit status of a request the broker rejected. */
#define CLI_EXIT_REJECTED 2

/* Option codes of the connection options (above any short option). */
enum {
    CLI_OPT_KEY = 1000,
    CLI_OPT_ROSTER,
    CLI_OPT_BROKER,
    CLI_OPT_STATE,
    CLI_OPT_TIMEOUT,
    CLI_OPT_ACTOR,
};

#define CLI_CONN_OPTIONS                                                  \
    {"key", required_argument, NULL, CLI_OPT_KEY},                        \
    {"roster", required_argument, NULL, CLI_OPT_ROSTER},                  \
    {"broker", required_argument, NULL, CLI_OPT_BROKER},                  \
    {"state", required_argument, NULL, CLI_OPT_STATE},                    \
    {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},                \
    {"actor", required_argument, NULL, CLI_OPT_ACTOR}

#define CLI_CONN_HELP                                                              \
    "CONNECTION OPTIONS\n"                                                        \
    "    --key FILE       the agency's secret key file (or $LIAISON_KEY)\n"      \
    "    --roster FILE    the federation roster (or $LIAISON_ROSTER)\n"          \
    "    --broker URL     the home broker, tcp://host:port (or $LIAISON_BROKER)\n" \
    "    --state DIR      keep received ids here durably (or $LIAISON_STATE)\n"   \
    "    --timeout SECS   how long to wait for the broker (default 10)\n"         \
    "    --actor REF      who sends: the officer or system (or $LIAISON_ACTOR)\n\n"

/* Where to connect, from options or the environment. */
typedef struct cli_conn {
    const char *key;        /* secret key file */
    const char *roster;     /* roster file */
    const char *broker;     /* broker endpoint */
    const char *state;      /* state directory, or NULL */
    int timeout_s;          /* seconds to wait for answers */
    const char *actor;      /* who sends (officer or system), or NULL */
} cli_conn;

void cli_conn_defaults(cli_conn *c);
/* True if opt was a connection option (and took arg). */
bool cli_conn_option(cli_conn *c, int opt, const char *arg);
/* Opens a client; prints the reason and returns a sysexits code on failure. */
int cli_connect(const char *sub, const cli_conn *conn, bool receive, liaison_client **client_out);
int cli_exit_for(liaison_err err);
/* A command that sends needs an actor: prints "no actor: ..." and returns
 * EX_USAGE when conn has none, EX_OK otherwise. */
int cli_actor_require(const char *sub, const cli_conn *conn);
uint64_t cli_deadline(const cli_conn *conn);

json_t *cli_event_json(const liaison_event *e);
/* Says in out (len bytes) who withheld portion index, p, as the withholding
 * broker's note states: "portion 1 (LES//ORCON) withheld by USA policy rule
 * usa-orcon-mex, as the broker states", "... withheld by USA policy, as the
 * broker states", or, without a note, "... withheld by a broker".  The
 * labels are cut to fit.  Returns out. */
char *cli_withheld_text(const liaison_portion *p, size_t index, char *out, size_t len);
/* The same as JSON: {"by": "USA", "rule": "usa-orcon-mex"} (null for what
 * the note does not say), or NULL when p was not withheld. */
json_t *cli_withheld_json(const liaison_portion *p);
void cli_print_json(json_t *o, bool line);

/* The largest file cli_read_file reads, in bytes. */
#define CLI_FILE_MAX (64L << 20)

/* Reads a whole file into a malloc'd buffer (at most CLI_FILE_MAX bytes),
 * with a NUL after its *len_out bytes.  0, or -1 with errno: the open's
 * error, EISDIR when it cannot be read as a file, EFBIG when it is larger
 * than CLI_FILE_MAX, EIO when reading it failed or memory was short. */
int cli_read_file(const char *path, uint8_t **data_out, size_t *len_out);

/* ---- Message families (cli_family.c) -------------------------------------- */

struct casebook;


/* Opens the casebook of conn->state; prints why and returns a sysexits code
 * (EX_USAGE without a state directory) on failure. */
int cli_casebook_open(const char *sub, const cli_conn *conn, struct casebook **cb_out);
/* The same, without applying retention: cli_casebook_open, when LIAISON_POLICY
 * names a policy file, deletes what its retention ends (cli_retention.c). */
int cli_casebook_open_plain(const char *sub, const cli_conn *conn, struct casebook **cb_out);
/* Applies the retention of the policy $LIAISON_POLICY names (if any) to cb;
 * prints why and returns a sysexits code on failure. */
int cli_retention_apply(const char *sub, struct casebook *cb);

/*
 * Receives every event the broker has for this agency and stores it in the
 * casebook, then acknowledges it (in that order, so nothing is lost and,
 * with libliaison's state directory, nothing is received twice).  An event
 * that cannot be stored is not acknowledged (the broker delivers it again
 * later).  Stops after idle_ms without an event, or after five minutes in
 * all.  *stored_out (may be NULL) gets the number of messages stored.
 * Returns EX_NOPERM when the broker refused the agency's key (said on
 * stderr), else EX_OK.
 */
int cli_drain(const char *sub, liaison_client *c, struct casebook *cb, unsigned idle_ms,
               size_t *stored_out);

/* Stores one received event (message or report) in the casebook. */
int cli_store_event(struct casebook *cb, const liaison_event *e);

/*
 * Applies a recall.request e (stored already by cli_store_event; any other
 * event is left alone and 0 returned): when its sender is the sender of
 * the message it recalls, deletes that message (or the records it names)
 * from the casebook keeping a tombstone, then sends the recall.ack
 * (deleted, rectified or not-held) back through c.  A recall from anyone
 * else, or one that does not parse, is kept and said on stderr, not acted
 * upon.  Returns 0 when the caller may acknowledge e to the broker, -1 when
 * the deletion or the ack failed (e must stay in the inbox: applied again,
 * it sends the same ack).
 */
int cli_recall_apply(const char *sub, liaison_client *c, struct casebook *cb,
                     const liaison_event *e);

/*
 * Sends the recall of msgid (32 hex), a message this agency sent and keeps in
 * the casebook of conn->state, with reason and, when record_count > 0, only
 * those records; with rectify (a file of JSON), first the replacement.
 * Prints the recall's id (or JSON).  Returns a sysexits code (EX_USAGE for a
 * bad id or reason, EX_DATAERR when msgid is not in the casebook as sent).
 */
int cli_recall_send(const char *sub, const cli_conn *conn, const char *msgid, const char *reason,
                    const char *const *records, size_t record_count, const char *rectify,
                    bool json);

/*
 * What `liaison recall status MSGID --json` prints about id, a message of kind this agency
 * sent, from the casebook cb (drained already) and, with agent_config (may be NULL), the
 * recall.acks the agency's agent kept: *out_json (the caller's) gets {message, kind,
 * recall|null, recipients [{recipient, original, recall, ack {result, at}|null}]}.  Returns
 * EX_OK, EX_IOERR when the casebook cannot be read, or the code of the agent's store
 * (said on stderr, under sub).
 */
int cli_recall_status_json(const char *sub, struct casebook *cb, const uint8_t id[16],
                           const char *kind, const char *agent_config, json_t **out_json);

/* What `liaison recall deleted --json` prints: *arr_out (the caller's) gets the tombstones of
 * cb, oldest deletion first, as [{message, kind, sender, case, envelope_sha256, recall,
 * action, reason, whole, deleted, records?}].  0, or -1 when the casebook cannot be read. */
int cli_recall_deleted_json(struct casebook *cb, json_t **arr_out);

/* What `liaison consent list --json` prints under "consent": *rows_out (the caller's) gets
 * the consent requests, grants and denials of cb, sent and received, as [{direction, kind,
 * id, created, to|from, in_reply_to?, body}].  0, or -1 when the casebook cannot be read. */
int cli_consent_rows(struct casebook *cb, json_t **rows_out);

/* labels without its PURPOSE marking, into out (len bytes): what a recall carries. */
void cli_labels_without_purpose(const char *labels, char *out, size_t len);

/* Expiry of what partners keep (designations, published entries, document
 * reports, MLAT messages): a partner offline for days still gets them. */
#define CLI_LONG_TTL_S (30u * 86400u)

/* What a family command sends: one JSON body in portion 0 and, optionally,
 * further binary portions. */
typedef struct cli_outgoing {
    const char *kind;              /* "watchlist.query" */
    const char *const *to;         /* recipients */
    size_t to_count;               /* entries in to */
    const char *labels;            /* message labels, text form */
    const char *portion_labels;    /* labels of every portion; NULL: same as labels */
    const char *case_id;           /* NULL for none */
    const uint8_t *reply_to;       /* 16 bytes, or NULL */
    uint64_t ttl_s;                /* 0: libliaison's default (24 h) */
    json_t *body;                  /* portion 0 (borrowed) */
    size_t extra_count;            /* further portions */
    const uint8_t *const *extra;   /* their bytes */
    const size_t *extra_len;       /* and lengths */
    const json_t *json_extra;      /* members added to the JSON object a query prints
                                      (cli_query_run), or NULL */
} cli_outgoing;

/* Builds the message of out; prints why and returns a sysexits code on failure. */
int cli_outgoing_build(const char *sub, const cli_outgoing *out, liaison_message **msg_out);

/*
 * Sends msg and records it in cb (may be NULL) with out's body.  Prints
 * nothing on success (the caller does); on failure prints why on stderr
 * and, with json, one JSON object with id, result and, when rejected, code,
 * reason and rule.  Returns 0, CLI_EXIT_REJECTED, or a sysexits code.
 * id_out (may be NULL) receives the id.
 */
int cli_outgoing_send(const char *sub, liaison_client *c, struct casebook *cb,
                      const cli_outgoing *out, liaison_message *msg, const cli_conn *conn,
                      bool json, uint8_t id_out[16]);

/* Records a message sent in the casebook (when cb is not NULL). */
int cli_record_sent(struct casebook *cb, const uint8_t id[16], const cli_outgoing *out,
                    const char *body_text);

/* The rule id in a broker's rejection text ("denied by RULE: ..."), into
 * rule (65 bytes); "" when there is none. */
void cli_rejection_rule(const char *text, char rule[65]);

/* Checks a stated purpose (printable, at most 200 characters, no "//");
 * prints why and returns EX_USAGE if it is missing or unusable. */
int cli_purpose_check(const char *sub, const char *purpose);

/* Labels plus "//PURPOSE:<purpose>" into buf (len bytes) when there is a
 * purpose; returns buf, or labels itself when purpose is NULL or "". */
const char *cli_labels_with_purpose(const char *labels, const char *purpose, char *buf,
                                    size_t len);

/* Finds, among the messages of kind this agency sent (cb), the newest whose
 * portion 0 has member equal to value (a traveldoc.report's "ref", a
 * recall.request's "message"): *found_out, and its id in id_out.  0, or -1
 * when the casebook cannot be read. */
int cli_newest_sent(struct casebook *cb, const char *kind, const char *member, const char *value,
                    uint8_t id_out[16], bool *found_out);

/* Parses text as a JSON object whose "schema" is schema ("watchlist.answer/1");
 * NULL if it is not (why, 128 bytes, says what is wrong). */
json_t *cli_body_parse(const char *text, const char *schema, char why[128]);

/* Reads a received event's portion 0 as a JSON body of schema; NULL if
 * unreadable (why says why). */
json_t *cli_event_body(const liaison_event *e, const char *schema, char why[128]);

/*
 * A progress line on stderr, drawn only when stderr is a terminal (nothing
 * at all is written otherwise), at most every 100 ms (counts: 200 ms) but
 * always at the end of a pass.  Bytes: a bar, done/total MiB, the rate in
 * MiB/s and the time left, both measured over the current pass (a pass
 * starts at cli_progress_start and whenever done goes back, as when
 * hashing ends and sending begins).  Counts: "what done of total".
 */
typedef struct cli_progress {
    bool on;                       /* stderr is a terminal */
    bool bytes;                    /* counts bytes (a bar, rate, time left), else items */
    uint64_t total;                /* bytes in all (bytes mode) */
    uint64_t last_ms;              /* when it was last drawn; 0: draw at the next show */
    uint64_t pass_ms;              /* when the current pass began */
    uint64_t pass_done;            /* done when it began */
    uint64_t prev_done;            /* done at the previous show */
    bool drawn;                    /* a line is on the terminal */
} cli_progress;
/* Starts a bar over total bytes. */
void cli_progress_start(cli_progress *p, uint64_t total);
/* Starts a line of counts; each cli_progress_count gives its own total. */
void cli_progress_start_count(cli_progress *p);
/* Draws the bar at done bytes of the total, with the label what. */
void cli_progress_show(cli_progress *p, const char *what, uint64_t done);
/* Draws "what done of total" ("what done" when total is 0). */
void cli_progress_count(cli_progress *p, const char *what, uint64_t done, uint64_t total);
/* Ends the line: a bar stays on its own line, a count line is wiped. */
void cli_progress_end(cli_progress *p);

/*
 * Sends a query (msg, built from out) and collects the answers in reply to
 * it until every agency addressed has answered or is known not to answer
 * (liaison_query), or deadline_ms passes; prints one row per answer (result
 * and hits of answer_schema), then one row per agency that did not answer
 * with its reason in words, or all of it as JSON ("not_answered").  Answers
 * are recorded in cb when it is not NULL.  Returns 0 when every agency
 * answered, EX_TEMPFAIL when one did not, CLI_EXIT_REJECTED or another
 * sysexits code on failure.  id_out (may be NULL) gets the query id and
 * *answers_out (may be NULL) the answers, the caller's to free.
 */
/* Why agency n did not answer, in words ("no agent connected (its broker CAN
 * reports unattended)"), into buf (len bytes); returns buf. */
const char *cli_not_answered_words(const liaison_not_answered *n, char *buf, size_t len);
int cli_query_run(const char *sub, liaison_client *c, struct casebook *cb, const cli_conn *conn,
                  const cli_outgoing *out, liaison_message *msg, uint64_t deadline_ms,
                  const char *answer_schema, bool json, uint8_t id_out[16],
                  liaison_answers **answers_out);

/* The agent's configuration and store, for the commands that read or write
 * an agent's store (liaison agent ..., freeze screen and export, the freeze
 * commands' --agent-config).  Each prints why and returns a sysexits code on
 * failure: a configuration that cannot be read is EX_NOINPUT, a bad one
 * EX_CONFIG; a store that cannot be made EX_CANTCREAT, or opened EX_IOERR.
 * Without create, a store that does not exist yet is EX_NOINPUT (a command
 * that only reads does not make one). */
struct agent_config;
struct agent_store;
int cli_agent_config_load(const char *sub, const char *path, struct agent_config **cfg_out);
int cli_agent_store_open(const char *sub, const struct agent_config *cfg, bool create,
                         struct agent_store **st_out);

/* $LIAISON_AGENT_CONFIG when set and not empty, else NULL (borrowed). */
const char *cli_agent_config_env(void);

/*
 * What the store of the agency's agent (configured at config) holds of
 * message id, a message the agent received (kept, or records filed from
 * it): *meta_out (the caller's) gets at least "from" and "case", and "kind"
 * when known.  EX_DATAERR (nothing printed) when the store holds nothing of
 * it; other failures print why and return a sysexits code.
 */
int cli_agent_message(const char *sub, const char *config, const uint8_t id[16],
                      json_t **meta_out);

/*
 * The messages of kind that the agency's agent (configured at config) kept
 * as received: *list_out (the caller's) gets an array of their metadata
 * (docs/agent.md, table kept) with "id", and "body" (portion 0) for the
 * kinds kept with it.  Prints why and returns a sysexits code on failure.
 */
int cli_agent_kept(const char *sub, const char *config, const char *kind, json_t **list_out);

/*
 * Records the agency's own designations, the latest version of each that
 * the casebook cb holds as sent, in the own_designations table of the
 * agent configured at config_path (docs/agent.md), in one transaction:
 * what the agent answers freeze.query from.  Versions recorded already are
 * not written again; *recorded_out gets how many were.  Prints why and
 * returns a sysexits code on failure (nothing recorded).
 */
int cli_freeze_own_record(const char *sub, struct casebook *cb, const char *config_path,
                          size_t *recorded_out);

/*
 * The freeze.ack messages about designation that the agency's agent
 * (configured at config_path) received and filed (docs/agent.md, table
 * freeze_acks): *acks_out gets a new array of {designation, version,
 * status, note, from, message, in_reply_to, created, received}.  Prints why
 * and returns a sysexits code on failure.
 */
int cli_freeze_agent_acks(const char *sub, const char *config_path, const char *designation,
                          json_t **acks_out);

/*
 * The consent grant token `--grant ARG` names (cli_consent.c): a grant id
 * received in a consent.grant (from the casebook of conn's state
 * directory, then, with agent_config (may be NULL), from what the agency's
 * agent kept), or a token file (its bytes, or their base64).  *token_out
 * (malloc'd, the caller's) gets *len_out bytes.  Prints why and returns a
 * sysexits code on failure.
 */
int cli_grant_load(const char *sub, const cli_conn *conn, const char *agent_config,
                   const char *arg, uint8_t **token_out, size_t *len_out);

/*
 * The designation as `liaison freeze status ID --json` prints it, from the
 * casebook cb (and, with agent_store_config, the acknowledgements the agency's
 * agent filed): {designation, entity, versions, units [{unit, versions
 * [{version, action, received, implemented, acknowledged, delivery?,
 * note?}]}], latest {version, action, units, received, implemented}}; the
 * units are the agencies of roster (never self) that the versions were sent
 * to, and those that acknowledged.  *out is the caller's.  Returns EX_OK;
 * EX_NOINPUT when no version is in the casebook (state named in why);
 * EX_IOERR with why; another code when the agent's store could not be read
 * (said on stderr, why "").
 */
struct proto_roster;
int cli_freeze_status_json(struct casebook *cb, const struct proto_roster *roster,
                           const char *self, const char *state, const char *designation,
                           const char *agent_store_config, json_t **out, char *why,
                           size_t why_len);

/*
 * Marks the designation received by the agent of cfg (its store st, open for
 * writing) as implemented, as `liaison agent implement` does: the newest
 * version (or version, when not 0) received (from from, when not NULL); the
 * agent then sends freeze.ack implemented.  With wait_s > 0, waits that long
 * for the agent to have sent it.  *result_out gets {designation, version,
 * from, ack: "implemented"|"implement-requested", already, message}, the
 * caller's, when the request was recorded: then the code is EX_OK,
 * EX_TEMPFAIL (the wait ran out) or EX_UNAVAILABLE (the agent could not
 * send it: why).  Else EX_DATAERR (no such designation) or EX_USAGE (several
 * senders: say from) with why, or EX_IOERR (said on stderr, why "").
 */
struct agent_config;
struct agent_store;
int cli_agent_implement(const struct agent_config *cfg, struct agent_store *st,
                        const char *designation, const char *from, long version,
                        const char *note, long wait_s, json_t **result_out, char *why,
                        size_t why_len);

/* Family entry points are declared in cli.h. */

#endif
