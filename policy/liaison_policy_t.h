/* Types of the release-policy library: requests, decisions, load errors. */
#ifndef LIAISON_POLICY_T_H
#define LIAISON_POLICY_T_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto_t.h"

/* Limits of a policy file; docs/policy.md lists the same numbers. */
#define POLICY_FILE_MAX        (1u << 20) /* bytes of a policy file */
#define POLICY_PARTNERS_MAX    256u       /* partners one policy declares */
#define POLICY_RULES_MAX       1024u      /* rules in one egress or ingress list */
#define POLICY_KINDS_MAX       64u        /* kinds in the vocabulary */
#define POLICY_CAVEATS_MAX     56u        /* caveats in the vocabulary */
#define POLICY_TREATIES_MAX    256u       /* treaties one policy declares */
#define POLICY_LIMITS_MAX      1024u      /* rate limits one policy declares */
#define POLICY_PER_MINUTE_MAX  10000u     /* highest per_minute of a rate limit */
#define POLICY_REASON_MAX      256u       /* bytes of a formatted one-line reason, NUL included */

/* Errors of the policy library.  Codes are appended, never renumbered. */
typedef enum policy_err {
    POLICY_OK = 0,
    POLICY_ERR_INVALID = 1,    /* a caller passed an invalid argument */
    POLICY_ERR_NOMEM = 2,      /* out of memory */
    POLICY_ERR_NOFILE = 3,     /* the policy file does not exist */
    POLICY_ERR_IO = 4,         /* the policy file could not be read */
    POLICY_ERR_SYNTAX = 5,     /* the file is not well-formed YAML */
    POLICY_ERR_SCHEMA = 6,     /* unknown field, wrong type, missing or repeated field */
    POLICY_ERR_VOCABULARY = 7, /* unknown kind, caveat or classification */
    POLICY_ERR_DUPLICATE = 8,  /* a rule id, partner or treaty is declared twice */
    POLICY_ERR_PARTNER = 9,    /* a treaty or rate limit names an undeclared partner */
    POLICY_ERR_SHADOWED = 10,  /* a rule can never fire: an earlier one matches all it does */
    POLICY_ERR_ADDRESS = 11,   /* a sender or recipient selector is malformed or misplaced */
    POLICY_ERR_DATES = 12,     /* a date is malformed, or a treaty ends before it starts */
    POLICY_ERR_VALUE = 13,     /* another value is out of its domain (nation, id, count) */
    POLICY_ERR_LIMIT = 14,     /* the file or one of its lists is larger than allowed */
    POLICY_ERR_PERMISSION = 15, /* group or others can write the file or its directory */
} policy_err;

/* Where and why a policy file was refused. */
typedef struct policy_load_error {
    char file[256];                  /* path as given, or "<buffer>" */
    uint32_t line;                   /* 1-based; 0 when the error has no position */
    uint32_t column;                 /* 1-based; 0 when the error has no position */
    char message[PROTO_TEXT_MAX];    /* one line for a human, e.g. "unknown field 'kindz'" */
} policy_load_error;

/* Which side of the border a decision is about. */
typedef enum policy_direction {
    POLICY_EGRESS = 0,   /* may this leave toward the partner? */
    POLICY_INGRESS = 1,  /* do we accept this from the partner? */
} policy_direction;

/* What a decision or a rule does. */
typedef enum policy_action {
    POLICY_RELEASE = 1,  /* release everything */
    POLICY_WITHHOLD = 2, /* release, with the portions in the withheld mask dropped */
    POLICY_DENY = 3,     /* release nothing */
} policy_action;

/* Why a verdict was reached; policy_reason() turns it into a line of text. */
typedef enum policy_why {
    POLICY_WHY_RULE_RELEASE = 1,    /* a rule released it */
    POLICY_WHY_RULE_DENY = 2,       /* a rule denied it */
    POLICY_WHY_RULE_WITHHOLD = 3,   /* a withhold rule dropped a portion carrying a marking */
    POLICY_WHY_CEILING = 4,         /* above the classification ceiling of the matching rule */
    POLICY_WHY_NO_RULE = 5,         /* no rule matched (default deny) */
    POLICY_WHY_NO_PARTNER = 6,      /* the partner is not in the policy (default deny) */
    POLICY_WHY_NOFORN = 7,          /* NOFORN content would leave its nation */
    POLICY_WHY_REL_TO = 8,          /* REL TO does not list the destination */
    POLICY_WHY_ORCON = 9,           /* ORCON content beyond its original recipients */
    POLICY_WHY_ORCON_THIRD = 10,    /* ORCON content of a third nation goes back only to it */
    POLICY_WHY_THIRD_PARTY = 11,    /* third-party content whose labels do not release it */
    POLICY_WHY_NO_TREATY = 12,      /* MLAT kind whose basis is no treaty with the partner */
    POLICY_WHY_TREATY_DATES = 13,   /* the treaty is not in force at the decision time */
    POLICY_WHY_TREATY_OFFENCE = 14, /* the treaty does not cover an offence of the request */
    POLICY_WHY_NO_OFFENCE = 15,     /* an MLAT request that names no offence */
    POLICY_WHY_ALL_WITHHELD = 16,   /* every portion was withheld, so the message is denied */
    POLICY_WHY_RATE = 17,           /* the partner's rate limit for this kind is reached */
    POLICY_WHY_RELEASED_PORTION = 18, /* a portion released with its message */
} policy_why;

/* Fixed rule ids of the built-in semantics. */
#define POLICY_BUILTIN_NOFORN       "builtin:noforn"
#define POLICY_BUILTIN_REL_TO       "builtin:rel-to"
#define POLICY_BUILTIN_ORCON        "builtin:orcon"
#define POLICY_BUILTIN_THIRD_PARTY  "builtin:third-party"
#define POLICY_BUILTIN_MLAT_TREATY  "builtin:mlat-treaty"
#define POLICY_BUILTIN_DEFAULT_DENY "builtin:default-deny"
#define POLICY_BUILTIN_RATE_LIMIT   "builtin:rate-limit"
#define POLICY_BUILTIN_RECALL       "builtin:recall" /* recall.request and recall.ack: the broker routes them */

/*
 * One verdict, on the message or on a portion.  rule_id and token are
 * borrowed from the policy (or static), so they are valid while the policy
 * that made the decision lives: copy them before destroying it (for example
 * after a reload).  Everything taken from the request is copied in.
 */
typedef struct policy_verdict {
    const char *rule_id;            /* "builtin:noforn" or a rule id of the policy */
    const char *token;              /* marking, kind, treaty or kind pattern concerned, or NULL */
    uint8_t why;                    /* a policy_why */
    uint8_t direction;              /* a policy_direction, as requested */
    uint8_t level;                  /* classification concerned (CEILING) */
    uint8_t ceiling;                /* the rule's ceiling (CEILING) */
    char nation[PROTO_NATION_LEN + 1]; /* the nation the content would reach, or the partner */
    char origin[PROTO_NATION_LEN + 1]; /* the nation the content came from */
    char text[PROTO_BASIS_MAX + 1];    /* a basis or offence copied from the request, or "" */
    uint32_t number;                /* a count concerned (RATE: per minute), or 0 */
} policy_verdict;

/*
 * What policy_decide is asked.  Every pointer is borrowed for the call only.
 * The origin of content is labels.origin when set (on the message, or on a
 * portion for that portion), otherwise the sender's nation.
 */
typedef struct policy_request {
    uint8_t direction;                 /* a policy_direction */
    char partner[PROTO_NATION_LEN + 1]; /* the partner nation the message goes to or came from */
    const char *kind;                  /* "watchlist.query" */
    const proto_labels *labels;        /* the message labels */
    const proto_addr *sender;          /* the agency that wrote it */
    const proto_addr *recipient;       /* the recipient agency or selector; NULL: the partner as a whole */
    const proto_addr *recipients;      /* the envelope's original recipients (ORCON); may be NULL */
    size_t recipient_count;            /* entries in recipients */
    const proto_labels *portions;      /* each portion's labels; may be NULL when portion_count is 0 */
    size_t portion_count;              /* at most PROTO_PORTIONS_MAX */
    uint64_t now_ms;                   /* Unix time in ms: treaties in force, rate windows */
} policy_request;

/* What policy_decide answers. */
typedef struct policy_decision {
    uint8_t action;                    /* a policy_action */
    policy_verdict verdict;            /* the rule that made the decision, and why */
    uint64_t withheld;                 /* bit i set: portion i is withheld */
    uint8_t portion_count;             /* entries in portions */
    policy_verdict portions[PROTO_PORTIONS_MAX]; /* why each portion is released or withheld */
} policy_decision;

/* A summary of a loaded policy, for `liaison policy check`. */
typedef struct policy_info {
    char nation[PROTO_NATION_LEN + 1]; /* the policy's own nation */
    size_t partner_count;              /* partners declared */
    size_t rule_count;                 /* rules in every list */
    size_t treaty_count;               /* treaties declared */
    size_t limit_count;                /* rate limits, after expanding partner "*" */
    size_t kind_count;                 /* kinds in the vocabulary */
    size_t caveat_count;               /* caveats in the vocabulary */
    uint8_t hash[PROTO_HASH_BYTES];    /* SHA-256 of the file bytes */
} policy_info;

/* A summary of one partner's section. */
typedef struct policy_partner_info {
    char nation[PROTO_NATION_LEN + 1]; /* the partner */
    size_t egress_rules;               /* rules in its egress list */
    size_t ingress_rules;              /* rules in its ingress list */
    size_t treaties;                   /* treaties with it */
    size_t limits;                     /* rate limits that apply to it */
} policy_partner_info;

/* Opaque types: a loaded policy, and the state of its rate limits. */
typedef struct policy policy;
typedef struct policy_rate policy_rate;

#endif
