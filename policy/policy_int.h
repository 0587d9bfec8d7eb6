/* Private to policy/: the file as libcyaml reads it, and the compiled form. */
#ifndef LIAISON_POLICY_INT_H
#define LIAISON_POLICY_INT_H

#include <pthread.h>
#include <stdarg.h>

#include "liaison_policy.h"
#include "liaison_yaml.h"

/* ---- The file as read (filled by libcyaml in load.c) -------------------- */

typedef struct raw_rule {
    char *id;                  /* rule id, unique in the file */
    char **kinds;              /* kind patterns: exact, "family.*" or "*" */
    unsigned kinds_count;      /* entries in kinds */
    char *ceiling;             /* classification name, or NULL: no ceiling */
    char **require;            /* markings the message must all carry */
    unsigned require_count;    /* entries in require */
    char **exclude;            /* markings the message must not carry */
    unsigned exclude_count;    /* entries in exclude */
    char **basis;              /* accepted legal bases ("*": any non-empty) */
    unsigned basis_count;      /* entries in basis */
    char **from;               /* sender selectors */
    unsigned from_count;       /* entries in from */
    char **to;                 /* recipient selectors */
    unsigned to_count;         /* entries in to */
    int action;                /* a policy_action */
    char **withhold;           /* markings whose portions a withhold rule drops */
    unsigned withhold_count;   /* entries in withhold */
} raw_rule;

typedef struct raw_partner {
    char *nation;              /* partner nation */
    raw_rule *egress;          /* what may leave toward it */
    unsigned egress_count;     /* entries in egress */
    raw_rule *ingress;         /* what we accept from it */
    unsigned ingress_count;    /* entries in ingress */
} raw_partner;

typedef struct raw_treaty {
    char *id;                  /* treaty id, as messages name it in BASIS: */
    char *partner;             /* partner nation */
    char *in_force_from;       /* YYYY-MM-DD */
    char *in_force_until;      /* YYYY-MM-DD, inclusive, or NULL: open-ended */
    char **offences;           /* offence categories covered */
    unsigned offences_count;   /* entries in offences */
} raw_treaty;

typedef struct raw_limit {
    char *partner;             /* partner nation, or "*": each partner separately */
    int direction;             /* a policy_direction */
    char **kinds;              /* kind patterns counted */
    unsigned kinds_count;      /* entries in kinds */
    unsigned per_minute;       /* messages allowed in any 60 s */
} raw_limit;

typedef struct raw_vocabulary {
    char **classifications;    /* levels in ascending order */
    unsigned classifications_count; /* entries in classifications */
    char **caveats;            /* known caveat tokens */
    unsigned caveats_count;    /* entries in caveats */
    char **kinds;              /* known kinds */
    unsigned kinds_count;      /* entries in kinds */
} raw_vocabulary;

typedef struct raw_retention {
    char *id;                  /* rule id, unique among retention rules */
    char **kinds;              /* kind patterns */
    unsigned kinds_count;      /* entries in kinds */
    char **require;            /* markings the message must all carry */
    unsigned require_count;    /* entries in require */
    char *keep;                /* "183d", "26w", "7y", "30s" or "case" */
} raw_retention;

typedef struct raw_hold {
    char *id;                  /* hold id, unique among holds */
    char *case_id;             /* the case it covers, or NULL */
    char *message;             /* the message it covers (32 hex), or NULL */
    char *until;               /* YYYY-MM-DD, inclusive, or NULL: until removed */
    char *reason;              /* why (court order, trial) */
} raw_hold;

typedef struct raw_policy {
    char *nation;              /* this nation */
    char *description;         /* free text, or NULL */
    raw_vocabulary *vocabulary; /* or NULL: the defaults */
    raw_treaty *treaties;      /* treaties */
    unsigned treaties_count;   /* entries in treaties */
    raw_partner *partners;     /* partners, each with its rule lists */
    unsigned partners_count;   /* entries in partners */
    raw_limit *rate_limits;    /* rate limits */
    unsigned rate_limits_count; /* entries in rate_limits */
    raw_retention *retention;  /* retention rules */
    unsigned retention_count;  /* entries in retention */
    raw_hold *holds;           /* holds */
    unsigned holds_count;      /* entries in holds */
} raw_policy;

/* ---- Positions of YAML nodes (yaml/'s node table) ----------------------- */

#define POL_NODES_MAX (1u << 20) /* YAML nodes in a policy or cases file; more is refused */

/* Records an error at path's value (or key, if at_key) position. */
void pol_error_at(policy_load_error *err, const liaison_yaml_doc *doc, const char *path,
                  bool at_key, const char *fmt, ...) PROTO_PRINTF(5, 6);

/* Records an error at a given position. */
void pol_error_set(policy_load_error *err, uint32_t line, uint32_t column, const char *fmt, ...)
    PROTO_PRINTF(4, 5);

/* ---- The compiled form --------------------------------------------------- */

/* Marking bits: the label flag bits, then OTHER, then vocabulary caveats. */
#define POL_MARK_OTHER       (1ull << 6)  /* a caveat that is not in the vocabulary */
#define POL_MARK_CAVEAT0     8u           /* bit of the first vocabulary caveat */

/* A set of kinds: vocabulary kinds as bits, plus patterns for other kinds. */
typedef struct pol_kindset {
    bool any;                  /* "*" */
    uint64_t mask;             /* vocabulary kinds matched */
    char **prefixes;           /* "family." of each prefix pattern, for unknown kinds */
    size_t prefix_count;       /* entries in prefixes */
    char **exact;              /* exact patterns (all in the vocabulary) */
    size_t exact_count;        /* entries in exact */
} pol_kindset;

typedef struct pol_rule {
    char id[PROTO_RULE_ID_MAX + 1]; /* rule id */
    uint8_t action;            /* a policy_action */
    uint8_t ceiling;           /* highest classification it releases */
    pol_kindset kinds;         /* kinds it matches */
    uint64_t require;          /* marking bits the message must all carry */
    uint64_t exclude;          /* marking bits the message must not carry */
    uint64_t withhold;         /* marking bits whose portions are withheld */
    char **basis;              /* accepted bases; empty: any basis or none */
    size_t basis_count;        /* entries in basis */
    bool basis_any;            /* "*": any non-empty basis */
    proto_addr *from;          /* sender selectors; empty: any sender */
    size_t from_count;         /* entries in from */
    proto_addr *to;            /* recipient selectors; empty: any recipient */
    size_t to_count;           /* entries in to */
    uint32_t line;             /* where it is defined */
    uint32_t column;           /* column of its definition */
} pol_rule;

typedef struct pol_treaty {
    char id[PROTO_BASIS_MAX + 1]; /* treaty id */
    char partner[PROTO_NATION_LEN + 1]; /* partner nation */
    uint64_t from_ms;          /* in force from (UTC midnight) */
    uint64_t until_ms;         /* in force before this (the day after "until"); UINT64_MAX: open */
    char (*offences)[PROTO_TOKEN_MAX + 1]; /* offence categories covered */
    size_t offence_count;      /* entries in offences */
} pol_treaty;

typedef struct pol_limit {
    size_t slot;               /* index of its state in a policy_rate */
    uint8_t direction;         /* a policy_direction */
    pol_kindset kinds;         /* kinds counted */
    uint32_t per_minute;       /* messages allowed in any 60 s */
    char pattern[PROTO_KIND_MAX + 1]; /* first kind pattern, for reasons */
} pol_limit;

typedef struct pol_partner {
    char nation[PROTO_NATION_LEN + 1]; /* partner nation */
    uint32_t key;              /* the nation as a sortable integer */
    pol_rule *rules[2];        /* per direction, in file order */
    size_t rule_count[2];      /* entries in rules */
    pol_treaty **treaties;     /* treaties with it (borrowed from policy) */
    size_t treaty_count;       /* entries in treaties */
    pol_limit *limits;         /* its rate limits */
    size_t limit_count;        /* entries in limits */
} pol_partner;

typedef struct pol_retention {
    policy_retention_info info; /* id, keep, texts, line */
    pol_kindset kinds;         /* kinds it matches */
    uint64_t require;          /* marking bits the message must all carry */
} pol_retention;

struct policy {
    char nation[PROTO_NATION_LEN + 1]; /* this nation */
    uint8_t hash[PROTO_HASH_BYTES];    /* SHA-256 of the file */
    char **kinds;              /* vocabulary kinds, sorted */
    size_t kind_count;         /* entries in kinds */
    char **caveats;            /* vocabulary caveats, in file order (bit = index + 8) */
    size_t caveat_count;       /* entries in caveats */
    uint8_t class_mask;        /* classification levels in the vocabulary */
    pol_partner *partners;     /* sorted by key */
    size_t partner_count;      /* entries in partners */
    pol_treaty *treaties;      /* every treaty */
    size_t treaty_count;       /* entries in treaties */
    size_t slot_count;         /* rate-limit slots (limits after expansion) */
    uint32_t *slot_sizes;      /* per_minute of each slot */
    size_t rule_total;         /* rules in every list */
    pol_retention *retention;  /* retention rules, in file order */
    size_t retention_count;    /* entries in retention */
    policy_hold_info *holds;   /* holds, in file order */
    size_t hold_count;         /* entries in holds */
};

struct policy_rate {
    const policy *owner;       /* the policy it counts for */
    pthread_mutex_t lock;      /* serialises decisions that use it */
    size_t slot_count;         /* entries in slots */
    struct pol_window {
        uint64_t *times;       /* ring of the last per_minute release times */
        uint32_t cap;          /* per_minute */
        uint32_t count;        /* entries in use */
        uint32_t head;         /* oldest entry */
    } *slots;                  /* one per limit slot */
};

/* compile.c: validates raw (positions in doc for errors) and builds *out. */
policy_err pol_compile(const raw_policy *raw, const liaison_yaml_doc *doc, const uint8_t *bytes,
                       size_t len, policy **out, policy_load_error *err);

/* decide.c: the marking bits of labels. */
uint64_t pol_marks_of(const policy *p, const proto_labels *l);

/* decide.c: the nation as an integer key. */
static inline uint32_t
pol_nation_key(const char *n)
{
    return ((uint32_t)(uint8_t)n[0] << 16) | ((uint32_t)(uint8_t)n[1] << 8) | (uint8_t)n[2];
}

/* decide.c: true if kind is in set. */
bool pol_kindset_has(const policy *p, const pol_kindset *set, const char *kind, int kind_index);

/* decide.c: the vocabulary index of kind, or -1. */
int pol_kind_index(const policy *p, const char *kind);

/* decide.c: true if selector a names every address b names. */
bool pol_selector_covers(const proto_addr *a, const proto_addr *b);

/* rate.c: checks and, if every limit has room, records a release at now. */
bool pol_rate_admit(policy_rate *rate, const pol_partner *partner, uint8_t direction,
                    const char *kind, int kind_index, uint64_t now_ms, const pol_limit **hit_out);

/* policy.c: frees a kind set's patterns. */
void pol_kindset_free(pol_kindset *set);

#endif
