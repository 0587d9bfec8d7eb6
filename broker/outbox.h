/* Sending queue entries: runs of reports or messages as one command each.
 * Self-contained (proto, store types, ZeroMQ), so unit tests link it. */
#ifndef LIAISON_BROKER_OUTBOX_H
#define LIAISON_BROKER_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto.h"
#include "liaison_store.h"

/* Kinds of queue entries (first byte of a queue entry's extra data). */
#define BROKER_ENTRY_MESSAGE 'M'    /* a message: mask, envelope hash, sender, targets (peers) */
#define BROKER_ENTRY_NOTED   'N'    /* the same, with a note for each withheld portion */
#define BROKER_ENTRY_ABOUT   'A'    /* 'M' with the kind, actor and purpose after the sender */
#define BROKER_ENTRY_ABOUT_NOTED 'B' /* 'N' with the kind, actor and purpose after the sender */
#define BROKER_ENTRY_REPORT  'R'    /* a report this broker makes, signed when sent */
#define BROKER_ENTRY_SIGNED  'S'    /* a report another broker signed, relayed as is */

/* Queue entries that one send signs together, at most: a peek's worth. */
#define BROKER_SEND_MAX 64

/* A signed report ready to send; NULL data when there is none. */
typedef struct broker_signed {
    uint8_t *data;  /* malloc'd */
    size_t len;
} broker_signed;

/* Bytes of envelopes one deliver command carries, unless one is larger alone. */
#define BROKER_DELIVER_BYTES (1u << 20)

/* Consecutive queue entries of one kind, reports or messages, waiting to go
 * out as one report or deliver command, so that a window of them costs one
 * message (and, from an agency, one receipt). */
typedef struct broker_outbox {
    uint8_t kind;                                       /* PROTO_CMD_REPORT or _DELIVER; 0: empty */
    proto_tagged items[BROKER_SEND_MAX];                /* tag and bytes */
    const store_queue_entry *entries[BROKER_SEND_MAX];  /* the entry of each */
    uint8_t *owned[BROKER_SEND_MAX];                    /* redacted copies, freed on clear */
    size_t count;                                       /* items in use */
    size_t bytes;                                       /* bytes of the items */
    uint64_t cursor_before;                             /* the queue cursor before the first */
} broker_outbox;

/* The signed bytes entry e sends as a report: its report signed with the
 * others of its send (report), or a partner's report relayed as it came.
 * Empty (NULL data) when e is not a report. */
proto_slice broker_entry_report(const store_queue_entry *e, const broker_signed *report);

/* True if an item of kind and len bytes may join box without sending it
 * first: same kind, room left, and for messages the byte budget. */
bool broker_outbox_fits(const broker_outbox *box, uint8_t kind, size_t len);
/* Adds an item (box must be empty or fit it); owned is freed on clear. */
void broker_outbox_add(broker_outbox *box, uint8_t kind, const store_queue_entry *e,
                       proto_slice bytes, uint8_t *owned, uint64_t cursor);
/* Sends box as one command on sock (to rid when not NULL).  0, or -1 when
 * it could not be sent (nothing of it went).  The box is unchanged.  Uses a
 * static buffer for report commands: one thread sends (the broker's main). */
int broker_outbox_send(void *sock, const uint8_t *rid, size_t rid_len, const broker_outbox *box);
/* Empties box, freeing what it owns. */
void broker_outbox_clear(broker_outbox *box);

/* ---- Sending ------------------------------------------------------------------ */

/* Sends a built command on sock, to rid if not NULL (ROUTER). 0 or -1. */
int broker_send(void *sock, const uint8_t *rid, size_t rid_len, const proto_cmd *cmd);

#endif
