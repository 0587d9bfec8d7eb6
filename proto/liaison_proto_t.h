/* Types of the Liaison wire format: addresses, labels, envelopes, commands. */
#ifndef LIAISON_PROTO_T_H
#define LIAISON_PROTO_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Limits.  Every length and count on the wire has a maximum; the decoder
 * refuses anything above it.  docs/protocol.md lists the same numbers.
 */
#define PROTO_NATION_LEN         3u        /* ISO 3166 alpha-3, upper case */
#define PROTO_AGENCY_MAX         32u       /* characters in an agency name */
#define PROTO_ADDR_TEXT_MAX      36u       /* "NATION/AGENCY" at its longest */
#define PROTO_KIND_MAX           64u       /* characters in a message kind */
#define PROTO_CASE_ID_MAX        64u       /* characters in a case id */
#define PROTO_RECIPIENTS_MAX     64u       /* recipients (or selectors) a message */
#define PROTO_PORTIONS_MAX       64u       /* portions a message */
#define PROTO_SEALS_MAX          255u      /* key seals a portion */
#define PROTO_PORTION_MAX        (16u << 20) /* ciphertext bytes a portion */
#define PROTO_ENVELOPE_MAX       (64u << 20) /* bytes an envelope */
#define PROTO_REL_TO_MAX         32u       /* nations in one REL TO */
#define PROTO_CAVEATS_MAX        8u        /* extra caveat tokens */
#define PROTO_TOKEN_MAX          24u       /* characters of a caveat or offence token */
#define PROTO_OFFENCES_MAX       8u        /* offence categories */
#define PROTO_BASIS_MAX          48u       /* characters of a legal basis */
#define PROTO_RESTRICT_MAX       128u      /* characters of a free-text restriction */
#define PROTO_PURPOSE_MAX        200u      /* characters of a stated purpose */
#define PROTO_LABELS_TEXT_MAX    1400u     /* canonical label text, with its NUL */
#define PROTO_RULE_ID_MAX        64u       /* characters of a policy rule id */
#define PROTO_NOTE_MAX           (PROTO_NATION_LEN + 1u + PROTO_RULE_ID_MAX) /* bytes of a
                                              withholding note: "USA usa-orcon-mex" */
#define PROTO_TEXT_MAX           256u      /* bytes of an error or detail text */
#define PROTO_HOPS_MAX           8u        /* brokers a forwarded message may cross */
#define PROTO_TARGETS_MAX        255u      /* target agencies of one forward */
#define PROTO_STATUS_ENTRIES_MAX 1024u     /* entries in one status reply */
#define PROTO_REPORT_MAX         1024u     /* bytes of a signed delivery report */
#define PROTO_ACKS_MAX           256u      /* items of one accepted or receipt */
#define PROTO_REPORTS_MAX        64u       /* reports one report command carries */
#define PROTO_DELIVERIES_MAX     64u       /* envelopes one deliver command carries */
#define PROTO_TREE_HEAD_BYTES    112u      /* size, root, time, signature */
#define PROTO_ROSTER_SECTION_MAX (1u << 20) /* bytes of the roster text a roster command carries */
#define PROTO_PROOF_HASHES_MAX   64u       /* hashes in a consistency proof */
#define PROTO_ACTOR_MAX          64u       /* characters of an actor reference */
#define PROTO_GRANTS_MAX         4u        /* consent grant tokens an envelope carries */
#define PROTO_GRANT_MAX          1024u     /* bytes of one consent grant token */

/* Sizes of hashes, keys and signatures (libsodium's, named for Liaison). */
#define PROTO_ID_BYTES           16u       /* message id */
#define PROTO_HASH_BYTES         32u       /* SHA-256 */
#define PROTO_SIGN_PUBLIC_BYTES  32u       /* Ed25519 public key */
#define PROTO_SIGN_SECRET_BYTES  64u       /* Ed25519 secret key (seed || public) */
#define PROTO_SIGN_SEED_BYTES    32u       /* Ed25519 seed */
#define PROTO_SIGNATURE_BYTES    64u       /* Ed25519 signature */
#define PROTO_BOX_PUBLIC_BYTES   32u       /* X25519 public key */
#define PROTO_BOX_SECRET_BYTES   32u       /* X25519 secret key */
#define PROTO_CURVE_KEY_BYTES    32u       /* CurveZMQ public or secret key */
#define PROTO_AEAD_KEY_BYTES     32u       /* XChaCha20-Poly1305 key */
#define PROTO_AEAD_NONCE_BYTES   24u       /* XChaCha20-Poly1305 nonce */
#define PROTO_AEAD_TAG_BYTES     16u       /* Poly1305 tag */
#define PROTO_SEAL_BYTES         80u       /* sealed portion key: 32 + 48 */

/* Errors of the proto library.  Codes are appended, never renumbered. */
typedef enum proto_err {
    PROTO_OK = 0,
    PROTO_ERR_INVALID = 1,      /* a caller passed an invalid argument */
    PROTO_ERR_NOMEM = 2,        /* out of memory */
    PROTO_ERR_SYNTAX = 3,       /* text does not follow its grammar */
    PROTO_ERR_LIMIT = 4,        /* a length, count or value is out of bounds */
    PROTO_ERR_TRUNCATED = 5,    /* input ends inside a field */
    PROTO_ERR_TRAILING = 6,     /* bytes follow the last field */
    PROTO_ERR_MAGIC = 7,        /* not a Liaison object */
    PROTO_ERR_VERSION = 8,      /* unknown format version */
    PROTO_ERR_NONCANONICAL = 9, /* valid but not the one canonical encoding */
    PROTO_ERR_SIGNATURE = 10,   /* signature does not verify */
    PROTO_ERR_WITHHELD = 11,    /* portion was withheld by a broker */
    PROTO_ERR_NOT_RECIPIENT = 12, /* no key seal for this reader */
    PROTO_ERR_DECRYPT = 13,     /* seal or ciphertext does not open */
    PROTO_ERR_IO = 14,          /* a file could not be read or written */
    PROTO_ERR_PERMISSION = 15,  /* a secret key file others can read, or a file others can change */
    PROTO_ERR_KEYFILE = 16,     /* a key file or card is damaged */
    PROTO_ERR_COMMAND = 17,     /* unknown wire command */
    PROTO_ERR_FRAMES = 18,      /* wrong number of frames for a command */
    PROTO_ERR_CRYPTO = 19,      /* libsodium refused an operation */
    PROTO_ERR_EXISTS = 20,      /* a file to create exists already */
    PROTO_ERR_NOT_FOUND = 21,   /* no such roster section */
    PROTO_ERR_UNSIGNED = 22,    /* a signed roster section changed and must be signed again */
} proto_err;

/* Detail of an error: which field, and what is wrong with it. */
typedef struct proto_detail {
    char field[48];             /* dotted path, e.g. "header.recipients[2]" */
    char text[PROTO_TEXT_MAX];  /* one line for a human */
} proto_detail;

/* What an address names. */
typedef enum proto_addr_kind {
    PROTO_ADDR_AGENCY = 1,      /* NATION/AGENCY: one agency */
    PROTO_ADDR_NATION_ALL = 2,  // NATION/*: every agency of a nation
    PROTO_ADDR_ALL = 3,         /* *: every partner that accepts the kind */
    PROTO_ADDR_BROKER = 4,      /* NATION: the broker of a nation */
} proto_addr_kind;

/* An address or selector, validated. */
typedef struct proto_addr {
    uint8_t kind;                        /* a proto_addr_kind */
    char nation[PROTO_NATION_LEN + 1];   /* "USA"; empty for PROTO_ADDR_ALL */
    char agency[PROTO_AGENCY_MAX + 1];   /* "FBI"; empty unless PROTO_ADDR_AGENCY */
} proto_addr;

/* Classification levels, ordered from lowest to highest. */
typedef enum proto_class {
    PROTO_CLASS_UNCLASSIFIED = 0,
    PROTO_CLASS_RESTRICTED = 1,
    PROTO_CLASS_CONFIDENTIAL = 2,
    PROTO_CLASS_SECRET = 3,
    PROTO_CLASS_TOP_SECRET = 4,
} proto_class;
#define PROTO_CLASS_COUNT 5u

/* Label flag bits (one byte on the wire). */
#define PROTO_LABEL_LES        0x01u  /* law enforcement sensitive */
#define PROTO_LABEL_ORCON      0x02u  /* originator controls further release */
#define PROTO_LABEL_NOFORN     0x04u  /* never leaves its nation */
#define PROTO_LABEL_CRIME_ONLY 0x08u  /* handling: use only to prevent and fight crime */
#define PROTO_LABEL_NO_COURT   0x10u  /* handling: not in court without consent */
#define PROTO_LABEL_NO_ONWARD  0x20u  /* handling: no onward sharing without consent */
#define PROTO_LABEL_FLAGS_ALL  0x3Fu  /* every defined bit */

/*
 * Security and handling labels of a message or of one portion.  Token
 * arrays are sorted and unique, as in the canonical encoding.
 */
typedef struct proto_labels {
    uint8_t classification;                               /* a proto_class */
    uint8_t flags;                                        /* PROTO_LABEL_* bits */
    uint8_t source_grade;                                 /* 0, or 'A' 'B' 'C' 'X' */
    uint8_t info_grade;                                   /* 0, or 1..4 */
    char origin[PROTO_NATION_LEN + 1];                    /* nation the content came from, "" = sender's */
    uint8_t rel_to_count;                                 /* nations in rel_to */
    char rel_to[PROTO_REL_TO_MAX][PROTO_NATION_LEN + 1];  /* REL TO nations */
    uint8_t caveat_count;                                 /* tokens in caveats */
    char caveats[PROTO_CAVEATS_MAX][PROTO_TOKEN_MAX + 1]; /* extra caveats */
    uint8_t offence_count;                                /* tokens in offences */
    char offences[PROTO_OFFENCES_MAX][PROTO_TOKEN_MAX + 1]; /* offence categories */
    char basis[PROTO_BASIS_MAX + 1];                      /* legal basis, "" if none */
    char restriction[PROTO_RESTRICT_MAX + 1];             /* free-text handling restriction */
    char purpose[PROTO_PURPOSE_MAX + 1];                  /* stated purpose, "" if none */
} proto_labels;

/* A borrowed run of bytes. */
typedef struct proto_slice {
    const uint8_t *data;        /* borrowed; NULL when len is 0 */
    size_t len;                 /* bytes at data */
} proto_slice;

/* Where a portion stands in an envelope. */
typedef enum proto_portion_state {
    PROTO_PORTION_PRESENT = 1,  /* ciphertext and key seals are here */
    PROTO_PORTION_WITHHELD = 2, /* a broker dropped it; only its hash is left */
    PROTO_PORTION_NOTED = 3,    /* the same, with the broker's note of who withheld it */
} proto_portion_state;

/* One portion of a decoded envelope; pointers borrow the envelope's bytes. */
typedef struct proto_portion {
    uint8_t state;                     /* a proto_portion_state */
    proto_slice labels;                /* binary labels, validated by decode */
    const uint8_t *nonce;              /* PROTO_AEAD_NONCE_BYTES, when present */
    const uint8_t *commitment;         /* PROTO_HASH_BYTES key commitment, when present */
    proto_slice ciphertext;            /* ciphertext with its tag, when present */
    uint8_t seal_count;                /* key seals, when present */
    proto_slice seals;                 /* the encoded seal list, when present */
    uint8_t leaf_hash[PROTO_HASH_BYTES]; /* Merkle leaf hash of this portion */
    proto_slice note;                  /* state 3: the broker's note, validated by decode;
                                          not signed by the sender; else empty */
} proto_portion;

/*
 * A decoded envelope.  Every field was validated by proto_envelope_decode.
 * Slices and pointers borrow the buffer that was decoded: they are valid
 * while that buffer is.
 */
typedef struct proto_envelope {
    proto_slice bytes;                       /* the whole encoded envelope */
    proto_slice header_block;                /* magic .. end of header: what header_hash covers */
    uint8_t version;                         /* format version, 1 or 2 */
    char kind[PROTO_KIND_MAX + 1];           /* "watchlist.query" */
    uint8_t id[PROTO_ID_BYTES];              /* message id */
    uint64_t created_ms;                     /* Unix time of creation, ms */
    uint64_t expires_ms;                     /* Unix time after which it is dropped, ms */
    proto_addr sender;                       /* the agency that wrote and signed it */
    char actor[PROTO_ACTOR_MAX + 1];         /* officer or system that sent it; "" in version 1 */
    uint8_t recipient_count;                 /* entries in recipients */
    proto_addr recipients[PROTO_RECIPIENTS_MAX]; /* addresses and selectors */
    char case_id[PROTO_CASE_ID_MAX + 1];     /* "" when none */
    uint8_t in_reply_to[PROTO_ID_BYTES];     /* all zero when none */
    proto_labels labels;                     /* message labels */
    uint8_t portion_count;                   /* entries in portions */
    proto_portion portions[PROTO_PORTIONS_MAX]; /* content */
    uint8_t grant_count;                     /* entries in grants; 0 in version 1 */
    proto_slice grants[PROTO_GRANTS_MAX];    /* consent grant tokens, opaque here */
    uint8_t header_hash[PROTO_HASH_BYTES];   /* SHA-256 of header_block */
    uint8_t portions_root[PROTO_HASH_BYTES]; /* Merkle root of the portion leaf hashes */
    const uint8_t *signature;                /* PROTO_SIGNATURE_BYTES, last in bytes */
} proto_envelope;

/*
 * An identity: the address and the three key pairs of an agency or broker.
 * Lives in sodium_malloc memory; made by proto_identity_generate or
 * proto_keyfile_read, freed by proto_identity_destroy.
 */
typedef struct proto_identity {
    proto_addr addr;                              /* who this is */
    uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]; /* Ed25519 */
    uint8_t sign_secret[PROTO_SIGN_SECRET_BYTES]; /* Ed25519, seed || public */
    uint8_t box_public[PROTO_BOX_PUBLIC_BYTES];   /* X25519 for key seals */
    uint8_t box_secret[PROTO_BOX_SECRET_BYTES];   /* X25519 for key seals */
    uint8_t curve_public[PROTO_CURVE_KEY_BYTES];  /* CurveZMQ transport */
    uint8_t curve_secret[PROTO_CURVE_KEY_BYTES];  /* CurveZMQ transport */
} proto_identity;

/* The public half of an identity, as exchanged in the roster. */
typedef struct proto_card {
    proto_addr addr;                              /* who this is */
    uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]; /* verifies its signatures */
    uint8_t box_public[PROTO_BOX_PUBLIC_BYTES];   /* seals portion keys to it */
    uint8_t curve_public[PROTO_CURVE_KEY_BYTES];  /* admits it at the transport */
} proto_card;

#define PROTO_ROSTER_MAX     4096u          /* cards in a roster */
#define PROTO_ROSTER_TEXT_MAX (8u << 20)    /* bytes of a roster file */
#define PROTO_ACCEPTS_MAX    16u            /* kind patterns a card accepts */

/* One card of the roster, with what the federation knows of it. */
typedef struct proto_roster_entry {
    proto_card card;                                /* identity and public keys */
    uint8_t accept_count;                           /* patterns in accepts */
    char accepts[PROTO_ACCEPTS_MAX][PROTO_KIND_MAX + 1]; /* kinds it accepts: "mlat.*", "*" */
    bool revoked;                                   /* its keys are refused */
    uint64_t revoked_ms;                            /* when they were revoked */
    char reason[128];                               /* why, for humans */
} proto_roster_entry;

/* A parsed roster; opaque. */
typedef struct proto_roster proto_roster;

#define PROTO_ROSTER_SERIAL_MAX 0x7fffffffffffffffull /* highest section serial */

/*
 * A nation key: signs the roster section of one nation (docs/protocol.md
 * 5.5).  Lives in sodium_malloc memory; made by proto_nation_key_generate,
 * proto_nation_key_from_seed or proto_nation_key_load, freed by
 * proto_nation_key_destroy.
 */
typedef struct proto_nation_key {
    char nation[PROTO_NATION_LEN + 1];            /* "USA" */
    uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]; /* Ed25519, on the nation card */
    uint8_t sign_secret[PROTO_SIGN_SECRET_BYTES]; /* Ed25519, seed || public */
} proto_nation_key;

/* The public half of a nation key: what partners pin. */
typedef struct proto_nation_card {
    char nation[PROTO_NATION_LEN + 1];            /* "USA" */
    uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES]; /* verifies the nation's section */
} proto_nation_card;

/*
 * A consent grant (docs/protocol.md, "Consent grants"): the originating
 * agency's signed permission that one agency pass one message's content on
 * to named agencies or nations, in named kinds of message, until a time.
 */
#define PROTO_GRANT_TOKEN_MAX    PROTO_GRANT_MAX /* bytes of an encoded grant token */
#define PROTO_GRANT_TO_MAX       16u       /* entries of its to list */
#define PROTO_GRANT_KINDS_MAX    8u        /* kinds that may carry the content */
#define PROTO_GRANT_ACTOR_MAX    PROTO_ACTOR_MAX /* characters of the deciding officer's reference */
#define PROTO_GRANT_COND_MAX     200u      /* bytes of the conditions text */

typedef struct proto_grant {
    uint8_t id[PROTO_ID_BYTES];                 /* grant id, non-zero */
    proto_addr grantor;                         /* agency of the originating nation; signs */
    char grantor_actor[PROTO_GRANT_ACTOR_MAX + 1]; /* who decided, actor grammar */
    proto_addr grantee;                         /* the agency that may pass the content on */
    uint8_t content[PROTO_ID_BYTES];            /* the grantor's message whose content may pass */
    uint8_t to_count;                           /* entries in to, 1..PROTO_GRANT_TO_MAX */
    proto_addr to[PROTO_GRANT_TO_MAX];          /* agencies or nation selectors, ascending */
    uint8_t kind_count;                         /* entries in kinds, 1..PROTO_GRANT_KINDS_MAX */
    char kinds[PROTO_GRANT_KINDS_MAX][PROTO_KIND_MAX + 1]; /* exact kinds, strictly ascending */
    uint64_t issued_ms;                         /* when it was granted, Unix ms */
    uint64_t until_ms;                          /* first instant it no longer holds, > issued_ms */
    char conditions[PROTO_GRANT_COND_MAX + 1];  /* printable ASCII, "" when none */
    uint8_t hash[PROTO_HASH_BYTES];             /* decode: SHA-256 of magic .. conditions */
    uint8_t signature[PROTO_SIGNATURE_BYTES];   /* decode: the grantor's Ed25519 signature */
} proto_grant;

/* Fills buf with len random bytes; ctx is the caller's.  Tests only. */
typedef void (*proto_rng_fn)(void *ctx, uint8_t *buf, size_t len);

/* One reader of a portion: the address its seal is filed under and its box key. */
typedef struct proto_reader {
    proto_addr addr;                              /* an agency address */
    uint8_t box_public[PROTO_BOX_PUBLIC_BYTES];   /* from the reader's card */
} proto_reader;

/* One portion to encrypt. */
typedef struct proto_draft_portion {
    proto_labels labels;                /* the portion's own labels */
    const uint8_t *plain;               /* borrowed plaintext */
    size_t plain_len;                   /* bytes at plain */
    const proto_reader *readers;        /* who gets the key; borrowed */
    size_t reader_count;                /* entries in readers */
} proto_draft_portion;

/* Everything a sender chooses before proto_envelope_seal. */
typedef struct proto_draft {
    const char *kind;                        /* "watchlist.query" */
    uint8_t id[PROTO_ID_BYTES];              /* all zero: draw a random id */
    uint64_t created_ms;                     /* 0: now */
    uint64_t expires_ms;                     /* must be after created_ms */
    const char *actor;                       /* who sends: proto_actor_valid; required */
    const proto_addr *recipients;            /* borrowed */
    size_t recipient_count;                  /* entries in recipients */
    const char *case_id;                     /* NULL or "" for none */
    uint8_t in_reply_to[PROTO_ID_BYTES];     /* all zero for none */
    proto_labels labels;                     /* message labels */
    const proto_draft_portion *portions;     /* borrowed */
    size_t portion_count;                    /* entries in portions */
    const proto_slice *grants;               /* consent grant tokens, borrowed; NULL if none */
    size_t grant_count;                      /* entries in grants, 0..PROTO_GRANTS_MAX */
    proto_rng_fn rng;                        /* NULL: the system CSPRNG */
    void *rng_ctx;                           /* passed to rng */
} proto_draft;

/* Delivery states of a message for one recipient (one byte on the wire). */
typedef enum proto_state {
    PROTO_STATE_QUEUED = 1,     /* accepted and waiting for its recipient or next hop */
    PROTO_STATE_FORWARDED = 2,  /* handed to the partner broker, which committed it */
    PROTO_STATE_DELIVERED = 3,  /* handed to the recipient agency */
    PROTO_STATE_RECEIPTED = 4,  /* the recipient agency acknowledged it */
    PROTO_STATE_WITHHELD = 5,   /* released with portions withheld by policy */
    PROTO_STATE_DENIED = 6,     /* denied by this nation's egress policy */
    PROTO_STATE_REFUSED = 7,    /* refused by the partner (its ingress policy) */
    PROTO_STATE_EXPIRED = 8,    /* expired before it could be delivered */
    PROTO_STATE_ACCEPTED = 9,   /* a broker committed it durably */
    PROTO_STATE_DAMAGED = 10,   /* the broker's stored copy was damaged: not delivered */
    PROTO_STATE_RECALLED = 11,  /* its originator recalled it before it was delivered */
    PROTO_STATE_UNATTENDED = 12,/* queued for an agency with no receiving connection (not final) */
    PROTO_STATE_UNREACHABLE = 13,/* queued toward a partner broker whose link is down (not final) */
} proto_state;
#define PROTO_STATE_MAX 13u

/* Codes of the wire's "rejected" command.  Appended, never renumbered. */
typedef enum proto_wire_code {
    PROTO_WIRE_MALFORMED = 1,   /* frames or envelope do not decode */
    PROTO_WIRE_TOO_LARGE = 2,   /* larger than the broker accepts */
    PROTO_WIRE_SIGNATURE = 3,   /* signature does not verify */
    PROTO_WIRE_SENDER = 4,      /* sender is not the authenticated agency */
    PROTO_WIRE_EXPIRED = 5,     /* already expired, or expiry out of range */
    PROTO_WIRE_RECIPIENT = 6,   /* a recipient is unknown or resolves to nobody */
    PROTO_WIRE_DENIED = 7,      /* denied by policy for every recipient */
    PROTO_WIRE_RATE = 8,        /* rate limit reached; retry later */
    PROTO_WIRE_BUSY = 9,        /* too many in flight; retry later */
    PROTO_WIRE_INTERNAL = 10,   /* the broker failed; nothing was accepted */
    PROTO_WIRE_UNKNOWN_MESSAGE = 11, /* status asked for a message it does not know */
    PROTO_WIRE_REVOKED = 12,    /* the sender's key is revoked */
    PROTO_WIRE_LOOP = 13,       /* forwarded message would loop */
    PROTO_WIRE_COMMAND = 14,    /* unknown command or wrong frame count */
    PROTO_WIRE_STALE = 15,      /* roster-ack: a section older than the one held */
    PROTO_WIRE_UNSIGNED_MODE = 16, /* roster-ack: the broker runs without nation keys */
    PROTO_WIRE_ROSTER_CONFLICT = 17, /* roster-ack: the merged roster would break a rule */
} proto_wire_code;
#define PROTO_WIRE_CODE_MAX 17u

/* Wire commands (the one-byte command frame).  Appended, never renumbered. */
typedef enum proto_cmd_type {
    PROTO_CMD_SUBMIT = 0x01,       /* agency -> broker: corr, envelope */
    PROTO_CMD_ACCEPTED = 0x02,     /* broker -> agency: (corr, message id) list */
    PROTO_CMD_REJECTED = 0x03,     /* broker -> agency: corr, message id, code, text */
    PROTO_CMD_DELIVER = 0x04,      /* broker -> agency: (tag, envelope) list */
    PROTO_CMD_RECEIPT = 0x05,      /* agency -> broker: (tag, message id) list */
    PROTO_CMD_STATUS = 0x06,       /* agency -> broker: corr, message id */
    PROTO_CMD_STATUS_REPLY = 0x07, /* broker -> agency: corr, message id, entries */
    PROTO_CMD_PING = 0x08,         /* either way: corr */
    PROTO_CMD_PONG = 0x09,         /* either way: corr */
    PROTO_CMD_FORWARD = 0x0A,      /* broker -> broker: seq, hops, targets, envelope */
    PROTO_CMD_FORWARD_ACK = 0x0B,  /* broker -> broker: seq, message id, code, text */
    PROTO_CMD_REPORT = 0x0C,       /* broker -> agency or broker: (tag, signed report) list */
    PROTO_CMD_TREE_HEAD = 0x0D,    /* broker -> broker: its latest signed audit tree head */
    PROTO_CMD_CONSISTENCY_REQ = 0x0E, /* broker -> broker: corr, first size, second size */
    PROTO_CMD_CONSISTENCY = 0x0F,  /* broker -> broker: corr, first, second, proof hashes */
    PROTO_CMD_ROSTER = 0x10,       /* broker -> broker: corr, its own signed roster section */
    PROTO_CMD_ROSTER_ACK = 0x11,   /* broker -> broker: corr, serial, code, text */
} proto_cmd_type;

/* The most frames any command has, signature and command frames included. */
#define PROTO_CMD_FRAMES_MAX 6u
/* The protocol signature frame. */
#define PROTO_WIRE_SIGNATURE_TEXT "LIAISON1"
#define PROTO_WIRE_SIGNATURE_LEN 8u

/* One frame of a multipart message; data is borrowed. */
typedef struct proto_frame {
    const uint8_t *data;        /* borrowed */
    size_t len;                 /* bytes at data */
} proto_frame;

/*
 * A parsed or to-be-built command.  Only the fields its type uses are read
 * or written; slices borrow the frames.
 */
typedef struct proto_cmd {
    uint8_t type;                       /* a proto_cmd_type */
    uint64_t corr;                      /* caller's correlation number */
    uint64_t seq;                       /* delivery tag or forward sequence (queue position) */
    uint8_t id[PROTO_ID_BYTES];         /* message id */
    uint16_t code;                      /* REJECTED / FORWARD_ACK: a proto_wire_code, 0 = ok */
    char text[PROTO_TEXT_MAX];          /* REJECTED / FORWARD_ACK: human text, UTF-8 */
    uint8_t hop_count;                  /* FORWARD: nations crossed so far */
    char hops[PROTO_HOPS_MAX][PROTO_NATION_LEN + 1]; /* FORWARD: in order */
    proto_slice targets;                /* FORWARD: encoded target agencies (proto_targets_*) */
    proto_slice envelope;               /* SUBMIT / FORWARD */
    proto_slice deliveries;             /* DELIVER: the list (proto_deliveries_encode) */
    proto_slice entries;                /* STATUS_REPLY: encoded status entries */
    uint16_t count;                     /* ACCEPTED / RECEIPT / REPORT / DELIVER: items in the list */
    proto_slice acks;                   /* ACCEPTED / RECEIPT: the list (proto_acks_encode) */
    proto_slice reports;                /* REPORT: the list (proto_reports_encode) */
    uint64_t first;                     /* CONSISTENCY*: the older tree size */
    uint64_t second;                    /* CONSISTENCY*: the newer tree size */
    proto_slice head;                   /* TREE_HEAD: PROTO_TREE_HEAD_BYTES */
    proto_slice path;                   /* CONSISTENCY: n * 32 bytes of proof hashes */
    proto_slice roster;                 /* ROSTER: roster text, 1 .. PROTO_ROSTER_SECTION_MAX bytes */
    uint64_t serial;                    /* ROSTER_ACK: the serial the receiver holds for that nation */
} proto_cmd;

/* Frames of a built command, with room for their small frames. */
typedef struct proto_wire {
    size_t count;                              /* frames in use */
    proto_frame frames[PROTO_CMD_FRAMES_MAX];  /* point into store or the cmd's slices */
    uint8_t store[PROTO_TEXT_MAX + 96];        /* backing for the small frames */
} proto_wire;

/* One item of an accepted (a submit the broker accepted) or of a receipt
 * (a queue entry the agency has taken). */
typedef struct proto_ack {
    uint64_t n;                         /* accepted: the submit's corr; receipt: the entry's tag */
    uint8_t id[PROTO_ID_BYTES];         /* the message id */
} proto_ack;

/* One item of a report or deliver command: its tag and its bytes (borrowed):
 * a signed report, or an envelope. */
typedef struct proto_tagged {
    uint64_t tag;                       /* its tag */
    proto_slice bytes;                  /* the signed delivery report or the envelope */
} proto_tagged;

/* Bytes of an accepted or receipt list of n items; of a report list, at most. */
#define PROTO_ACKS_BYTES(n) (2u + (n) * (8u + PROTO_ID_BYTES))
#define PROTO_REPORTS_BYTES_MAX (2u + PROTO_REPORTS_MAX * (8u + 2u + PROTO_REPORT_MAX))
/* A deliver frame holds at most what one largest envelope needs alone. */
#define PROTO_DELIVERIES_BYTES_MAX (2u + 8u + 4u + PROTO_ENVELOPE_MAX)

/* One target agency of a forwarded copy, and what it may not read. */
typedef struct proto_target {
    proto_addr agency;          /* an agency of the receiving nation */
    uint64_t withheld;          /* bit i: portion i is withheld from it */
} proto_target;

/* One recipient's state, in a status reply. */
typedef struct proto_status_entry {
    proto_addr recipient;                 /* agency, or nation for a partner hop */
    uint8_t state;                        /* a proto_state */
    uint64_t time_ms;                     /* when it entered that state */
    char rule_id[PROTO_RULE_ID_MAX + 1];  /* policy rule, "" when none */
    char detail[PROTO_TEXT_MAX];          /* reason, "" when none */
} proto_status_entry;

/*
 * A delivery report: a broker's signed statement that a message reached a
 * state for a recipient.  Signed with the broker's Ed25519 key.
 */
typedef struct proto_report {
    uint8_t id[PROTO_ID_BYTES];           /* the message */
    proto_addr broker;                    /* the broker that makes the statement */
    proto_status_entry entry;             /* recipient, state, time, rule, detail */
    uint8_t envelope_hash[PROTO_HASH_BYTES]; /* SHA-256 of the envelope as it held it */
} proto_report;

/* Bytes a batch of reports' signature covers: context, batch size, root. */
#define PROTO_REPORT_SIGNED_BYTES 54u
#define PROTO_REPORT_CACHE_SLOTS 8u

/*
 * Report batches whose signature a verifier has checked: the other reports
 * of such a batch then cost the hashes of their path, not an Ed25519 check
 * (proto_report_verify_cached).  Zeroed before first use; not shared
 * between threads.
 */
typedef struct proto_report_cache {
    struct {
        bool used;
        uint8_t key[PROTO_SIGN_PUBLIC_BYTES];      /* the signer's key */
        uint8_t signed_bytes[PROTO_REPORT_SIGNED_BYTES];
        uint8_t signature[PROTO_SIGNATURE_BYTES];
    } slot[PROTO_REPORT_CACHE_SLOTS];
    unsigned next;                                 /* slot to fill next */
} proto_report_cache;

#endif
