/* Message entries of the broker's queues: the extra bytes a queue entry of a message carries,
 * and what audit records say about a message (pure; unit tests link it). */
#ifndef LIAISON_BROKER_ENTRY_H
#define LIAISON_BROKER_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto.h"

/*
 * What an audit record says about the message it concerns (docs/audit.md):
 * its id, kind, actor (the officer or system the envelope names), purpose
 * and envelope hash.  Every field may be NULL when unknown (an envelope too
 * broken to decode, a version-1 envelope without an actor).  The pointers
 * are borrowed for the call that takes the struct.  Fill one with
 * broker_about_envelope from a decoded envelope, or broker_about_entry from
 * a message queue entry, which carries them so that delivery, receipt,
 * forwarding and the partner's answers are audited without decoding.
 */
typedef struct broker_about {
    const uint8_t *id;            /* message id (16 bytes) */
    const char *kind;             /* message kind */
    const char *actor;            /* officer or system that sent it */
    const char *purpose;          /* its PURPOSE label */
    const uint8_t *envelope_hash; /* SHA-256 of the envelope as accepted */
} broker_about;

/* What a message entry of a queue carries besides the message id:
 * 'M' | u64 withheld mask | 32-byte envelope hash | str8 sender | targets,
 * or 'N' | the same up to the sender | str8 note for each bit of the mask,
 * lowest first ("" for none) | targets; 'A' and 'B' are 'M' and 'N' with
 * str8 kind | str8 actor | str8 purpose right after the sender (what the
 * audit records of the entry's delivery, receipt or forward name; entries
 * queued before they existed are 'M' or 'N' and parse with them empty). */
typedef struct broker_entry_msg {
    uint64_t mask;                           /* portions withheld from this destination */
    const uint8_t *hash;                     /* SHA-256 of the envelope as accepted */
    char sender[PROTO_ADDR_TEXT_MAX + 1];    /* who wrote it: reports go there */
    char kind[PROTO_KIND_MAX + 1];           /* its kind, "" in an 'M' or 'N' entry */
    char actor[PROTO_ACTOR_MAX + 1];         /* its actor, "" when none */
    char purpose[PROTO_PURPOSE_MAX + 1];     /* its purpose, "" when none */
    proto_slice notes;                       /* 'N', 'B': the encoded notes, else empty */
    proto_slice targets;                     /* peer queues: encoded targets */
} broker_entry_msg;

/* True if a queue entry's extra bytes are a message entry ('M', 'N', 'A', 'B'). */
bool broker_entry_is_message(proto_slice extra);

/* Encodes the entry of about's message (its envelope hash, kind, actor and
 * purpose; NULL text is "", longer text is cut to its limit) for sender,
 * withholding mask, notes (NULL for none: see broker_enqueue_message) and
 * encoded targets (targets_len bytes, 0 for none) into out (cap bytes):
 * 'A', or 'B' when some note says something and they fit.  0 with
 * *len_out set, or -1 when it does not fit in cap (out undefined). */
int broker_entry_message_encode(const broker_about *about, uint64_t mask,
                                const proto_addr *sender, const char *const *notes,
                                const uint8_t *targets, size_t targets_len, uint8_t *out,
                                size_t cap, size_t *len_out);

/* Reads a message entry's extra bytes ('M' and 'N' entries with an empty
 * kind, actor and purpose); out->hash, notes and targets borrow extra.  0,
 * or -1 if they are not a well-formed message entry. */
int broker_entry_message_parse(proto_slice extra, broker_entry_msg *out);

/* Fills *about from entry m of message id (both borrowed while *about is used). */
void broker_about_entry(broker_about *about, const uint8_t *id, const broker_entry_msg *m);

#endif
