/* Refused handshakes, aggregated for the audit log and the log: anyone who
 * holds the broker's public key can make handshakes with unknown keys as
 * fast as it likes, so each one must not cost a record.  The first refusal
 * of a key in an interval is reported at once (key, address, reason); the
 * later ones are counted and summed up in one report per key and interval.
 * The table of keys is bounded; when it is full, refusals of further keys
 * are summed up together as "other keys".  Self-contained, so unit tests
 * link it; main thread only. */
#ifndef LIAISON_BROKER_REFUSALS_H
#define LIAISON_BROKER_REFUSALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BROKER_REFUSALS_KEYS_MAX 64u        /* keys counted one by one in an interval */
#define BROKER_REFUSALS_INTERVAL_MS 60000u  /* how long one count runs */
#define BROKER_REFUSALS_KEY_MAX 64u         /* hex digits of a CURVE key */
#define BROKER_REFUSALS_TEXT_MAX 160u       /* bytes of a domain, address, user or reason */

/* One refused handshake, as the ZAP handler saw it.  Every field is a
 * NUL-terminated string, "" when unknown; the caller has escaped anything a
 * peer chose. */
typedef struct broker_refusal_event {
    const char *domain;     /* "agency" or "federation" */
    const char *address;    /* the peer's IP address */
    const char *key;        /* its CURVE public key in hex, "" if it gave none */
    const char *user;       /* the roster identity of the key, "" if unknown */
    const char *why;        /* why it was refused */
} broker_refusal_event;

/* The count of one key (or of the other keys) over one interval. */
typedef struct broker_refusal_count {
    bool other;                                   /* the keys beyond the table, together */
    char key[BROKER_REFUSALS_KEY_MAX + 1];        /* the key; other: the first key counted */
    char domain[BROKER_REFUSALS_TEXT_MAX];        /* domain of the first refusal */
    char user[BROKER_REFUSALS_TEXT_MAX];          /* roster identity of the key, "" if unknown */
    char why[BROKER_REFUSALS_TEXT_MAX];           /* reason of the first refusal */
    char first_address[BROKER_REFUSALS_TEXT_MAX]; /* where the first came from */
    char last_address[BROKER_REFUSALS_TEXT_MAX];  /* where the latest came from */
    uint64_t start_ms;                            /* when the interval began: the first refusal */
    uint64_t last_ms;                             /* the latest refusal */
    uint64_t count;                               /* key: refusals after the first; other: all */
} broker_refusal_count;

/* What broker_refusals_note did with a refusal. */
typedef enum broker_refusal_kind {
    BROKER_REFUSAL_FIRST = 1,   /* the key's first in its interval: report it now */
    BROKER_REFUSAL_COUNTED = 2, /* counted toward the key's summary */
    BROKER_REFUSAL_OTHER = 3,   /* the table is full: counted toward "other keys" */
} broker_refusal_kind;

/* The table: the keys refused in their current interval, and the rest. */
typedef struct broker_refusals {
    uint64_t interval_ms;                               /* length of an interval */
    broker_refusal_count keys[BROKER_REFUSALS_KEYS_MAX]; /* keys[0..used) in use */
    size_t used;                                        /* keys counted */
    broker_refusal_count other;                         /* the rest, while other_active */
    bool other_active;                                  /* other holds a count */
} broker_refusals;

/* Empties r; interval_ms (at least 1) is the length of every interval. */
void broker_refusals_init(broker_refusals *r, uint64_t interval_ms);

/* Records one refusal at now_ms and says what became of it.  Call
 * broker_refusals_due first with the same now_ms, so that a count whose
 * interval has ended is reported before a new one starts. */
broker_refusal_kind broker_refusals_note(broker_refusals *r, const broker_refusal_event *ev,
                                         uint64_t now_ms);

/* Counts lost refusals (ones the ZAP handler could not pass on) toward
 * "other keys", so that the totals stay whole. */
void broker_refusals_lost(broker_refusals *r, uint64_t lost, uint64_t now_ms);

/* Takes out the counts whose interval has ended by now_ms (UINT64_MAX: all
 * of them, at stop), at most cap, into out; returns how many.  Only counts
 * with something to report come out (a key refused once in its interval
 * was reported whole when it happened); the others are just dropped.  Call
 * it again while it returns cap. */
size_t broker_refusals_due(broker_refusals *r, uint64_t now_ms, broker_refusal_count *out,
                           size_t cap);

/* Milliseconds until the next interval ends, at most cap. */
uint64_t broker_refusals_due_in(const broker_refusals *r, uint64_t now_ms, uint64_t cap);

#endif
