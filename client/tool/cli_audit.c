/* liaison audit: inspect, prove and verify a broker's audit log offline. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "csv.h"
#include "liaison_proto.h"
#include "liaison_store.h"

#define SUB "audit"
#define HB PROTO_HASH_BYTES

/* Options every subcommand may take; unset numbers are UINT64_MAX. */
typedef struct audit_opts {
    const char *data;      /* --data DIR */
    const char *key;       /* --key FILE (verify, head) */
    bool json;             /* --json */
    uint64_t leaf;         /* --leaf N */
    uint64_t size;         /* --size M */
    uint64_t from;         /* --from M */
    uint64_t to;           /* --to N */
    uint64_t count;        /* --count N (log) */
    const char *event;     /* --event NAME (log) */
    const char *actor;     /* --actor REF (log, report): exact */
    const char *purpose;   /* --purpose TEXT (log): substring, any case */
    const char *kind;      /* --kind PATTERN (log): kind, family.* or * */
    const char *counterpart; /* --counterpart ADDR (log): an address or a nation's */
    const char *party;     /* --party ADDR (log): as counterpart */
    const char *since;     /* --since WHEN (log, report) as given */
    const char *until;     /* --until WHEN (log, report) as given */
    uint64_t since_ms;     /* --since in Unix ms; 0 when not given */
    uint64_t until_ms;     /* --until in Unix ms (exclusive); UINT64_MAX when not given */
    const char *format;    /* --format text|csv|json (report) */
} audit_opts;

static const char usage_audit[] =
    "NAME\n"
    "    liaison audit - inspect, prove and verify a broker's audit log (offline)\n\n"
    "SYNOPSIS\n"
    "    liaison audit head --data DIR [--key FILE] [--json]\n"
    "    liaison audit verify --data DIR [--key FILE] [--json]\n"
    "    liaison audit proof --data DIR --leaf N [--size M] [--json]\n"
    "    liaison audit consistency --data DIR --from M [--to N] [--json]\n"
    "    liaison audit log --data DIR [--from N] [--count N] [--event NAME] [--actor REF]\n"
    "            [--purpose TEXT] [--kind PATTERN] [--counterpart ADDR] [--party ADDR]\n"
    "            [--since WHEN] [--until WHEN] [--json]\n"
    "    liaison audit report --data DIR --since WHEN --until WHEN [--actor REF]\n"
    "            [--format text|csv|json]\n\n"
    "DESCRIPTION\n"
    "    Reads the audit log in the broker data directory DIR without taking the\n"
    "    broker's lock, so it works while the broker runs. The log is an RFC 9162\n"
    "    Merkle tree of audit records; see docs/audit.md. Each command has its own\n"
    "    page: liaison audit <command> --help.\n\n"
    "EXIT STATUS\n"
    "    0 success; 1 a verification failed; 64 bad usage; 65 damaged or\n"
    "    out-of-range data; 66 no such data directory, store or key file;\n"
    "    70 internal error; 74 I/O error.\n";

static const char usage_head[] =
    "NAME\n"
    "    liaison audit head - print the latest signed tree head\n\n"
    "SYNOPSIS\n"
    "    liaison audit head --data DIR [--key FILE] [--json]\n\n"
    "DESCRIPTION\n"
    "    Prints the signed tree head with the largest tree size stored in DIR: tree\n"
    "    size, root, time and Ed25519 signature, and checks the signature with the\n"
    "    broker key recorded in DIR (or the card in FILE).\n\n"
    "OPTIONS\n"
    "    --data DIR   the broker data directory\n"
    "    --key FILE   check with the sign key of this card file instead\n"
    "    --json       print {tree_size, root, time_ms, signature, public_key,\n"
    "                 signature_valid} with hex strings\n\n"
    "EXIT STATUS\n"
    "    0 printed and the signature verifies; 1 the signature does not verify;\n"
    "    64 bad usage; 65 damaged data; 66 no store or no tree head yet.\n\n"
    "EXAMPLES\n"
    "    liaison audit head --data /var/lib/liaison --json\n";

static const char usage_verify[] =
    "NAME\n"
    "    liaison audit verify - recompute the audit tree and check every tree head\n\n"
    "SYNOPSIS\n"
    "    liaison audit verify --data DIR [--key FILE] [--json]\n\n"
    "DESCRIPTION\n"
    "    Reads every audit record in order, recomputes its RFC 9162 leaf hash and\n"
    "    every inner node, compares them with the stored ones, and checks each\n"
    "    stored signed tree head (root and Ed25519 signature). On damage it names\n"
    "    the first record index that does not match.\n\n"
    "OPTIONS\n"
    "    --data DIR   the broker data directory\n"
    "    --key FILE   check signatures with the sign key of this card file instead\n"
    "                 of the key recorded in DIR\n"
    "    --json       print {ok, tree_size, heads_checked, root} or, on damage,\n"
    "                 {ok: false, failure, index, level, head_size, message}\n\n"
    "EXIT STATUS\n"
    "    0 the log verifies; 1 it does not; 64 bad usage; 66 no store.\n\n"
    "EXAMPLES\n"
    "    liaison audit verify --data /var/lib/liaison\n";

static const char usage_proof[] =
    "NAME\n"
    "    liaison audit proof - print an RFC 9162 inclusion proof\n\n"
    "SYNOPSIS\n"
    "    liaison audit proof --data DIR --leaf N [--size M] [--json]\n\n"
    "DESCRIPTION\n"
    "    Prints the audit path of record N (0-based) in the tree of the first M\n"
    "    records (default: every record), with the leaf hash and the root, so that\n"
    "    any RFC 9162 implementation can check it (section 2.1.3.2).\n\n"
    "OPTIONS\n"
    "    --data DIR   the broker data directory\n"
    "    --leaf N     the record index\n"
    "    --size M     the tree size (N < M <= records)\n"
    "    --json       print {leaf_index, tree_size, leaf_hash, root, inclusion[]}\n"
    "                 with hex hashes (and signed_head when one is stored for M)\n\n"
    "EXIT STATUS\n"
    "    0 printed; 64 bad usage; 65 N or M outside the log; 66 no store.\n\n"
    "EXAMPLES\n"
    "    liaison audit proof --data /var/lib/liaison --leaf 41 --size 1000 --json\n";

static const char usage_consistency[] =
    "NAME\n"
    "    liaison audit consistency - print an RFC 9162 consistency proof\n\n"
    "SYNOPSIS\n"
    "    liaison audit consistency --data DIR --from M [--to N] [--json]\n\n"
    "DESCRIPTION\n"
    "    Prints the proof that the tree of the first N records (default: every\n"
    "    record) extends the tree of the first M, with both roots, so that any\n"
    "    RFC 9162 implementation can check it (section 2.1.4.2).\n\n"
    "OPTIONS\n"
    "    --data DIR   the broker data directory\n"
    "    --from M     the older tree size\n"
    "    --to N       the newer tree size (M <= N <= records)\n"
    "    --json       print {first, second, first_root, second_root, consistency[]}\n"
    "                 with hex hashes\n\n"
    "EXIT STATUS\n"
    "    0 printed; 64 bad usage; 65 M or N outside the log; 66 no store.\n\n"
    "EXAMPLES\n"
    "    liaison audit consistency --data /var/lib/liaison --from 1000 --to 2000\n";

static bool
parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return false;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return false;
    *out = v;
    return true;
}

/* Reads exactly n decimal digits at *p into *v and advances *p. */
static bool
digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil(int y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/*
 * Parses when: a date YYYY-MM-DD (UTC) or an RFC 3339 time
 * YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM) into Unix ms.  A bare
 * date means its start, or with end_of_day its end (the next day's start,
 * for an exclusive bound).  False with why when it is neither.
 */
static bool
parse_when(const char *when, bool end_of_day, uint64_t *ms_out, const char **why)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = when;
    int y, mo, d, h = 0, mi = 0, sec = 0, off = 0, oh, om, ms = 0;
    int64_t t;

    *why = "not a date (2026-12-06) or an RFC 3339 time (2026-12-06T17:00:00Z)";
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
        (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))) {
        *why = "no such date";
        return false;
    }
    if (*p == '\0') {
        t = days_from_civil(y, mo, d) + (end_of_day ? 1 : 0);
        *ms_out = (uint64_t)t * 86400000u;
        return true;
    }
    if ((*p != 'T' && *p != 't') || (p++, !digits(&p, 2, &h)) || *p++ != ':' ||
        !digits(&p, 2, &mi) || *p++ != ':' || !digits(&p, 2, &sec))
        return false;
    if (*p == '.') {
        int n = 0;

        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return false;
        for (; n < 3; n++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1;

        if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om) || oh > 23 || om > 59)
            return false;
        off = sign * (oh * 60 + om);
    } else {
        *why = "an RFC 3339 time needs its offset (Z or +HH:MM)";
        return false;
    }
    if (*p != '\0')
        return false;
    if (h > 23 || mi > 59 || sec > 59) {
        *why = "no such time of day";
        return false;
    }
    t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - (int64_t)off * 60;
    if (t < 0) {
        *why = "before 1970";
        return false;
    }
    *ms_out = (uint64_t)t * 1000u + (uint64_t)ms;
    return true;
}

/* True if kind matches pattern: a kind, a family (watchlist.*) or *. */
static bool
kind_matches(const char *pattern, const char *kind)
{
    size_t n = strlen(pattern);

    if (strcmp(pattern, "*") == 0)
        return true;
    if (n >= 2 && strcmp(pattern + n - 2, ".*") == 0)
        return strncmp(kind, pattern, n - 1) == 0;
    return strcmp(kind, pattern) == 0;
}

/* True if pattern is a kind pattern kind_matches takes. */
static bool
kind_pattern_ok(const char *pattern)
{
    size_t n = strlen(pattern), body = n;

    if (strcmp(pattern, "*") == 0)
        return true;
    if (n >= 2 && strcmp(pattern + n - 2, ".*") == 0)
        body = n - 2;
    if (body == 0 || body > PROTO_KIND_MAX)
        return false;
    for (size_t i = 0; i < body; i++) {
        char c = pattern[i];

        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
              c == '_'))
            return false;
    }
    return true;
}

/* True if addr (an agency "CAN/RCMP", a peer "peer:CAN" or "") matches
 * pattern: the same text, or a nation selector (CAN/ followed by a star) for
 * every agency of that nation and its peer. */
static bool
addr_matches(const char *pattern, const char *addr)
{
    size_t n = strlen(pattern);
    const char *peer = strncmp(addr, "peer:", 5) == 0 ? addr + 5 : addr;

    /* A partner broker appears as its nation ("CAN") or as "peer:CAN". */
    if (n == PROTO_NATION_LEN)
        return strcmp(peer, pattern) == 0;
    if (strncmp(pattern, "peer:", 5) == 0)
        return strcmp(peer, pattern + 5) == 0;
    if (n == PROTO_NATION_LEN + 2 && strcmp(pattern + PROTO_NATION_LEN, "/*") == 0)
        return strncmp(addr, pattern, PROTO_NATION_LEN + 1) == 0 ||
               (strlen(peer) == PROTO_NATION_LEN &&
                strncmp(peer, pattern, PROTO_NATION_LEN) == 0);
    return strcmp(addr, pattern) == 0;
}

/* True if pattern is an address pattern addr_matches takes. */
static bool
addr_pattern_ok(const char *pattern)
{
    const char *nation = strncmp(pattern, "peer:", 5) == 0 ? pattern + 5 : pattern;
    proto_addr a;

    if (strlen(nation) == PROTO_NATION_LEN || nation != pattern) {
        for (size_t i = 0; i < PROTO_NATION_LEN; i++) {
            if (nation[i] < 'A' || nation[i] > 'Z')
                return false;
        }
        return nation[PROTO_NATION_LEN] == '\0';
    }
    return proto_addr_parse(pattern, &a, NULL) == PROTO_OK && a.kind != PROTO_ADDR_ALL;
}

/* True if s contains needle, ignoring ASCII case. */
static bool
contains_nocase(const char *s, const char *needle)
{
    size_t n = strlen(needle);

    for (; *s != '\0'; s++) {
        size_t i = 0;

        while (i < n && s[i] != '\0' && tolower((unsigned char)s[i]) ==
                                             tolower((unsigned char)needle[i]))
            i++;
        if (i == n)
            return true;
    }
    return n == 0;
}

/* Checks the filter options and turns the dates into ms: EX_USAGE with
 * what and why when one is malformed. */
static int
check_filters(const char *sub, audit_opts *o)
{
    const char *why = NULL;

    if (o->since != NULL && !parse_when(o->since, false, &o->since_ms, &why)) {
        cli_error(SUB, "%s: --since '%s': %s", sub, o->since, why);
        return EX_USAGE;
    }
    if (o->until != NULL && !parse_when(o->until, true, &o->until_ms, &why)) {
        cli_error(SUB, "%s: --until '%s': %s", sub, o->until, why);
        return EX_USAGE;
    }
    if (o->since != NULL && o->until != NULL && o->since_ms >= o->until_ms) {
        cli_error(SUB, "%s: --since '%s' is not before --until '%s'", sub, o->since, o->until);
        return EX_USAGE;
    }
    if (o->actor != NULL && !proto_actor_valid(o->actor)) {
        cli_error(SUB, "%s: --actor '%s': an actor is 1 to %u of A-Z a-z 0-9 . _ : @ -", sub,
                  o->actor, PROTO_ACTOR_MAX);
        return EX_USAGE;
    }
    if (o->kind != NULL && !kind_pattern_ok(o->kind)) {
        cli_error(SUB, "%s: --kind '%s': a kind (watchlist.query), a family (watchlist.*) or *",
                  sub, o->kind);
        return EX_USAGE;
    }
    if (o->counterpart != NULL && !addr_pattern_ok(o->counterpart)) {
        cli_error(SUB, "%s: --counterpart '%s': an agency (CAN/RCMP), a nation's agencies "
                  "and broker (CAN/*) or a partner broker (CAN)", sub, o->counterpart);
        return EX_USAGE;
    }
    if (o->party != NULL && !addr_pattern_ok(o->party)) {
        cli_error(SUB, "%s: --party '%s': an agency (USA/FBI), a nation's agencies and broker "
                  "(USA/*) or a partner broker (USA)", sub, o->party);
        return EX_USAGE;
    }
    if (o->purpose != NULL && (o->purpose[0] == '\0' || strlen(o->purpose) > PROTO_PURPOSE_MAX)) {
        cli_error(SUB, "%s: --purpose: give 1 to %u bytes of the purpose to look for", sub,
                  PROTO_PURPOSE_MAX);
        return EX_USAGE;
    }
    if (o->format != NULL && strcmp(o->format, "text") != 0 && strcmp(o->format, "csv") != 0 &&
        strcmp(o->format, "json") != 0) {
        cli_error(SUB, "%s: --format '%s': text, csv or json", sub, o->format);
        return EX_USAGE;
    }
    return EX_OK;
}

/* True if rec passes every filter of o (they combine with AND). */
static bool
record_selected(const audit_opts *o, const store_audit_record *rec)
{
    return (o->event == NULL || strcmp(store_audit_event_name(rec->event), o->event) == 0) &&
           rec->time_ms >= o->since_ms && rec->time_ms < o->until_ms &&
           (o->actor == NULL || strcmp(rec->actor, o->actor) == 0) &&
           (o->purpose == NULL || contains_nocase(rec->purpose, o->purpose)) &&
           (o->kind == NULL || (rec->kind[0] != '\0' && kind_matches(o->kind, rec->kind))) &&
           (o->counterpart == NULL || addr_matches(o->counterpart, rec->counterpart)) &&
           (o->party == NULL || addr_matches(o->party, rec->party));
}

/* True if allowed (names separated by spaces) holds name as a whole word. */
static bool
allows(const char *allowed, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = strstr(allowed, name); p != NULL; p = strstr(p + 1, name)) {
        if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return true;
    }
    return false;
}

/* Parses the options; allowed names which options this subcommand takes. */
static int
parse_opts(int argc, char **argv, const char *allowed, audit_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->leaf = o->size = o->from = o->to = o->count = UINT64_MAX;
    o->until_ms = UINT64_MAX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t *num = NULL;

        if (strcmp(a, "--json") == 0 && allows(allowed, "json")) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--data") == 0 && v != NULL) {
            o->data = v;
        } else if (strcmp(a, "--key") == 0 && v != NULL && allows(allowed, "key")) {
            o->key = v;
        } else if (strcmp(a, "--leaf") == 0 && allows(allowed, "leaf")) {
            num = &o->leaf;
        } else if (strcmp(a, "--size") == 0 && allows(allowed, "size")) {
            num = &o->size;
        } else if (strcmp(a, "--from") == 0 && allows(allowed, "from")) {
            num = &o->from;
        } else if (strcmp(a, "--to") == 0 && allows(allowed, "to")) {
            num = &o->to;
        } else if (strcmp(a, "--count") == 0 && allows(allowed, "count")) {
            num = &o->count;
        } else if (strcmp(a, "--event") == 0 && v != NULL && allows(allowed, "event")) {
            o->event = v;
        } else if (strcmp(a, "--actor") == 0 && v != NULL && allows(allowed, "actor")) {
            o->actor = v;
        } else if (strcmp(a, "--purpose") == 0 && v != NULL && allows(allowed, "purpose")) {
            o->purpose = v;
        } else if (strcmp(a, "--kind") == 0 && v != NULL && allows(allowed, "kind")) {
            o->kind = v;
        } else if (strcmp(a, "--counterpart") == 0 && v != NULL &&
                   allows(allowed, "counterpart")) {
            o->counterpart = v;
        } else if (strcmp(a, "--party") == 0 && v != NULL && allows(allowed, "party")) {
            o->party = v;
        } else if (strcmp(a, "--since") == 0 && v != NULL && allows(allowed, "since")) {
            o->since = v;
        } else if (strcmp(a, "--until") == 0 && v != NULL && allows(allowed, "until")) {
            o->until = v;
        } else if (strcmp(a, "--format") == 0 && v != NULL && allows(allowed, "format")) {
            o->format = v;
        } else {
            cli_error(SUB, "%s: unknown option or missing value '%s' (see --help)", argv[0], a);
            return EX_USAGE;
        }
        if (num != NULL && !parse_u64(v, num)) {
            cli_error(SUB, "%s: %s needs a non-negative integer", argv[0], a);
            return EX_USAGE;
        }
        i++;
    }
    if (o->data == NULL) {
        cli_error(SUB, "%s: --data DIR is required (see --help)", argv[0]);
        return EX_USAGE;
    }
    return check_filters(argv[0], o);
}

/* Exit code for a store error. */
static int
exit_for(store_err err)
{
    switch (err) {
    case STORE_ERR_NOT_FOUND:
    case STORE_ERR_LOST:
    case STORE_ERR_PERMISSION:
        return EX_NOINPUT;
    case STORE_ERR_CORRUPT:
    case STORE_ERR_VERSION:
    case STORE_ERR_RANGE:
    case STORE_ERR_NETWORK_FS:
    case STORE_ERR_KEY:
        return EX_DATAERR;
    case STORE_ERR_IO:
        return EX_IOERR;
    default:
        return EX_SOFTWARE;
    }
}

static int
open_read(const audit_opts *o, const char *sub, store **s_out, store_read **r_out)
{
    store_config cfg;
    proto_detail d = {{0}, {0}};
    store_err err;

    store_config_init(&cfg);
    cfg.dir = o->data;
    cfg.flags = STORE_OPEN_READONLY;
    cfg.map_initial = 1u << 20;
    err = store_open(&cfg, s_out, &d);
    if (err != STORE_OK) {
        cli_error(SUB, "%s: %s", sub, d.text[0] ? d.text : store_strerror(err));
        return exit_for(err);
    }
    err = store_read_begin(*s_out, r_out);
    if (err != STORE_OK) {
        cli_error(SUB, "%s: cannot read %s: %s", sub, o->data, store_strerror(err));
        store_close(s_out);
        return exit_for(err);
    }
    return EX_OK;
}

/* Reads the sign key of a card file. */
static int
read_key(const char *sub, const char *path, uint8_t pub[PROTO_SIGN_PUBLIC_BYTES])
{
    char text[4096];
    FILE *f = fopen(path, "r");
    size_t n;
    proto_card card;
    proto_detail d = {{0}, {0}};

    if (f == NULL) {
        cli_error(SUB, "%s: cannot open %s: %s", sub, path, strerror(errno));
        return EX_NOINPUT;
    }
    n = fread(text, 1, sizeof(text) - 1, f);
    fclose(f);
    text[n] = '\0';
    if (proto_card_parse(text, &card, &d) != PROTO_OK) {
        cli_error(SUB, "%s: %s is not a card: %s", sub, path, d.text);
        return EX_DATAERR;
    }
    memcpy(pub, card.sign_public, PROTO_SIGN_PUBLIC_BYTES);
    return EX_OK;
}

static char *
hex(const uint8_t *p, size_t n, char *buf)
{
    return proto_hex(p, n, buf);
}

static int
print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2));

    json_decref(j);
    if (text == NULL)
        return EX_SOFTWARE;
    printf("%s\n", text);
    free(text);
    return EX_OK;
}

static json_t *
hash_array(const uint8_t (*path)[HB], size_t count)
{
    json_t *a = json_array();
    char h[2 * HB + 1];

    for (size_t i = 0; i < count; i++)
        json_array_append_new(a, json_string(hex(path[i], HB, h)));
    return a;
}

static void
format_time(uint64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + strlen(buf), len - strlen(buf), ".%03uZ", (unsigned)(ms % 1000));
}

static json_t *
head_json(const store_tree_head *h)
{
    char root[2 * HB + 1], sig[2 * PROTO_SIGNATURE_BYTES + 1];

    return json_pack("{s:I, s:s, s:I, s:s}", "tree_size", (json_int_t)h->tree_size, "root",
                     hex(h->root, HB, root), "time_ms", (json_int_t)h->time_ms, "signature",
                     hex(h->signature, PROTO_SIGNATURE_BYTES, sig));
}

/* ---- head --------------------------------------------------------------- */

static int
cmd_head(int argc, char **argv)
{
    audit_opts o;
    store *s = NULL;
    store_read *r = NULL;
    store_tree_head h;
    uint8_t pub[PROTO_SIGN_PUBLIC_BYTES];
    char root[2 * HB + 1], sig[2 * PROTO_SIGNATURE_BYTES + 1], key[65], when[40];
    bool valid;
    int rc;
    store_err err;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_head, stdout);
        return EX_OK;
    }
    if ((rc = parse_opts(argc, argv, "json key", &o)) != EX_OK)
        return rc;
    if ((rc = open_read(&o, "head", &s, &r)) != EX_OK)
        return rc;
    if (o.key != NULL)
        rc = read_key("head", o.key, pub);
    else if ((err = store_audit_public_key(r, pub)) != STORE_OK) {
        cli_error(SUB, "head: %s records no broker key; pass --key FILE", o.data);
        rc = EX_DATAERR;
    }
    if (rc != EX_OK)
        goto out;
    err = store_audit_head_latest(r, &h);
    if (err != STORE_OK) {
        cli_error(SUB, "head: %s", err == STORE_ERR_NOT_FOUND ? "no signed tree head yet"
                                                               : store_strerror(err));
        rc = err == STORE_ERR_NOT_FOUND ? EX_NOINPUT : exit_for(err);
        goto out;
    }
    valid = store_tree_head_verify(&h, pub) == STORE_OK;
    if (o.json) {
        json_t *j = head_json(&h);

        json_object_set_new(j, "public_key", json_string(hex(pub, 32, key)));
        json_object_set_new(j, "signature_valid", json_boolean(valid));
        rc = print_json(j);
    } else {
        format_time(h.time_ms, when, sizeof(when));
        printf("tree_size  %llu\nroot       %s\ntime       %s (%llu)\nsignature  %s\n"
               "key        %s\nsignature  %s\n",
               (unsigned long long)h.tree_size, hex(h.root, HB, root), when,
               (unsigned long long)h.time_ms, hex(h.signature, PROTO_SIGNATURE_BYTES, sig),
               hex(pub, 32, key), valid ? "verifies" : "DOES NOT VERIFY");
    }
    if (rc == EX_OK && !valid) {
        cli_error(SUB, "head: the signature of the tree head for size %llu does not verify",
                  (unsigned long long)h.tree_size);
        rc = 1;
    }
out:
    store_read_end(&r);
    store_close(&s);
    return rc;
}

/* ---- verify --------------------------------------------------------------- */

static const char *
failure_name(uint8_t f)
{
    static const char *const names[] = {"none", "record", "leaf", "node", "head", "signature",
                                        "extra"};

    return f < sizeof(names) / sizeof(names[0]) ? names[f] : "unknown";
}

static int
cmd_verify(int argc, char **argv)
{
    audit_opts o;
    store *s = NULL;
    store_read *r = NULL;
    store_verify_report rep;
    uint8_t pub[PROTO_SIGN_PUBLIC_BYTES];
    char root[2 * HB + 1];
    int rc;
    store_err err;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_verify, stdout);
        return EX_OK;
    }
    if ((rc = parse_opts(argc, argv, "json key", &o)) != EX_OK)
        return rc;
    if (o.key != NULL && (rc = read_key("verify", o.key, pub)) != EX_OK)
        return rc;
    if ((rc = open_read(&o, "verify", &s, &r)) != EX_OK)
        return rc;
    err = store_audit_verify(r, o.key != NULL ? pub : NULL, &rep);
    if (err != STORE_OK) {
        cli_error(SUB, "verify: %s", err == STORE_ERR_KEY
                                         ? "tree heads are stored but no key to check them; "
                                           "pass --key FILE"
                                         : store_strerror(err));
        rc = exit_for(err);
        goto out;
    }
    if (o.json) {
        json_t *j;

        if (rep.failure == STORE_VERIFY_OK) {
            j = json_pack("{s:b, s:I, s:I, s:s}", "ok", 1, "tree_size", (json_int_t)rep.tree_size,
                          "heads_checked", (json_int_t)rep.heads_checked, "root",
                          hex(rep.root, HB, root));
        } else {
            bool is_head = rep.failure == STORE_VERIFY_HEAD || rep.failure == STORE_VERIFY_SIGNATURE;

            j = json_pack("{s:b, s:s, s:o, s:o, s:o, s:I, s:s}", "ok", 0, "failure",
                          failure_name(rep.failure), "index",
                          is_head ? json_null() : json_integer((json_int_t)rep.index), "level",
                          rep.failure == STORE_VERIFY_NODE ? json_integer(rep.level) : json_null(),
                          "head_size",
                          is_head ? json_integer((json_int_t)rep.head_size) : json_null(),
                          "heads_checked", (json_int_t)rep.heads_checked, "message", rep.text);
        }
        rc = print_json(j);
    } else if (rep.failure == STORE_VERIFY_OK) {
        printf("ok: %llu records and %llu signed tree heads verified\nroot %s\n",
               (unsigned long long)rep.tree_size, (unsigned long long)rep.heads_checked,
               hex(rep.root, HB, root));
    } else if (rep.failure == STORE_VERIFY_HEAD || rep.failure == STORE_VERIFY_SIGNATURE) {
        printf("FAILED: %s\nbad tree head at size %llu\n", rep.text,
               (unsigned long long)rep.head_size);
    } else {
        printf("FAILED: %s\nfirst record index that does not match: %llu\n", rep.text,
               (unsigned long long)rep.index);
    }
    if (rc == EX_OK && rep.failure != STORE_VERIFY_OK) {
        cli_error(SUB, "verify: %s", rep.text);
        rc = 1;
    }
out:
    store_read_end(&r);
    store_close(&s);
    return rc;
}

/* ---- proof and consistency ----------------------------------------------- */

static int
cmd_proof(int argc, char **argv)
{
    audit_opts o;
    store *s = NULL;
    store_read *r = NULL;
    store_inclusion_proof *p = NULL;
    store_tree_head h;
    char a[2 * HB + 1], b[2 * HB + 1];
    uint64_t n;
    int rc;
    store_err err;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_proof, stdout);
        return EX_OK;
    }
    if ((rc = parse_opts(argc, argv, "json leaf size", &o)) != EX_OK)
        return rc;
    if (o.leaf == UINT64_MAX) {
        cli_error(SUB, "proof: --leaf N is required (see --help)");
        return EX_USAGE;
    }
    if ((rc = open_read(&o, "proof", &s, &r)) != EX_OK)
        return rc;
    p = malloc(sizeof(*p));
    if (p == NULL || (err = store_audit_size(r, &n)) != STORE_OK) {
        rc = EX_SOFTWARE;
        goto out;
    }
    if (o.size == UINT64_MAX)
        o.size = n;
    err = store_audit_inclusion(r, o.leaf, o.size, p);
    if (err != STORE_OK) {
        if (err == STORE_ERR_RANGE)
            cli_error(SUB, "proof: leaf %llu in a tree of size %llu is outside the log of %llu "
                      "records (need leaf < size <= records)",
                      (unsigned long long)o.leaf, (unsigned long long)o.size,
                      (unsigned long long)n);
        else
            cli_error(SUB, "proof: %s", store_strerror(err));
        rc = exit_for(err);
        goto out;
    }
    /* Check our own output before anyone else does. */
    if (store_merkle_verify_inclusion(p->leaf_index, p->tree_size, p->leaf_hash,
                                      (const uint8_t(*)[HB])p->path, p->count, p->root) != STORE_OK) {
        cli_error(SUB, "proof: the proof made does not verify: the log is damaged (run verify)");
        rc = EX_DATAERR;
        goto out;
    }
    if (o.json) {
        json_t *j = json_pack("{s:I, s:I, s:s, s:s, s:o}", "leaf_index", (json_int_t)p->leaf_index,
                              "tree_size", (json_int_t)p->tree_size, "leaf_hash",
                              hex(p->leaf_hash, HB, a), "root", hex(p->root, HB, b), "inclusion",
                              hash_array((const uint8_t(*)[HB])p->path, p->count));

        if (store_audit_head_get(r, p->tree_size, &h) == STORE_OK)
            json_object_set_new(j, "signed_head", head_json(&h));
        rc = print_json(j);
    } else {
        printf("leaf_index %llu\ntree_size  %llu\nleaf_hash  %s\nroot       %s\ninclusion  %zu hashes\n",
               (unsigned long long)p->leaf_index, (unsigned long long)p->tree_size,
               hex(p->leaf_hash, HB, a), hex(p->root, HB, b), p->count);
        for (size_t i = 0; i < p->count; i++)
            printf("  %s\n", hex(p->path[i], HB, a));
    }
out:
    free(p);
    store_read_end(&r);
    store_close(&s);
    return rc;
}

static int
cmd_consistency(int argc, char **argv)
{
    audit_opts o;
    store *s = NULL;
    store_read *r = NULL;
    store_consistency_proof *p = NULL;
    char a[2 * HB + 1], b[2 * HB + 1];
    uint64_t n;
    int rc;
    store_err err;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_consistency, stdout);
        return EX_OK;
    }
    if ((rc = parse_opts(argc, argv, "json from to", &o)) != EX_OK)
        return rc;
    if (o.from == UINT64_MAX) {
        cli_error(SUB, "consistency: --from M is required (see --help)");
        return EX_USAGE;
    }
    if ((rc = open_read(&o, "consistency", &s, &r)) != EX_OK)
        return rc;
    p = malloc(sizeof(*p));
    if (p == NULL || (err = store_audit_size(r, &n)) != STORE_OK) {
        rc = EX_SOFTWARE;
        goto out;
    }
    if (o.to == UINT64_MAX)
        o.to = n;
    err = store_audit_consistency(r, o.from, o.to, p);
    if (err != STORE_OK) {
        if (err == STORE_ERR_RANGE)
            cli_error(SUB, "consistency: sizes %llu..%llu are outside the log of %llu records "
                      "(need from <= to <= records)",
                      (unsigned long long)o.from, (unsigned long long)o.to, (unsigned long long)n);
        else
            cli_error(SUB, "consistency: %s", store_strerror(err));
        rc = exit_for(err);
        goto out;
    }
    if (store_merkle_verify_consistency(p->first, p->second, p->first_root, p->second_root,
                                        (const uint8_t(*)[HB])p->path, p->count) != STORE_OK) {
        cli_error(SUB, "consistency: the proof made does not verify: the log is damaged (run verify)");
        rc = EX_DATAERR;
        goto out;
    }
    if (o.json) {
        rc = print_json(json_pack("{s:I, s:I, s:s, s:s, s:o}", "first", (json_int_t)p->first,
                                  "second", (json_int_t)p->second, "first_root",
                                  hex(p->first_root, HB, a), "second_root",
                                  hex(p->second_root, HB, b), "consistency",
                                  hash_array((const uint8_t(*)[HB])p->path, p->count)));
    } else {
        printf("first        %llu\nsecond       %llu\nfirst_root   %s\nsecond_root  %s\n"
               "consistency  %zu hashes\n",
               (unsigned long long)p->first, (unsigned long long)p->second,
               hex(p->first_root, HB, a), hex(p->second_root, HB, b), p->count);
        for (size_t i = 0; i < p->count; i++)
            printf("  %s\n", hex(p->path[i], HB, a));
    }
out:
    free(p);
    store_read_end(&r);
    store_close(&s);
    return rc;
}

/* ---- log ------------------------------------------------------------------- */

static const char usage_log[] =
    "NAME\n"
    "    liaison audit log - print audit records\n\n"
    "SYNOPSIS\n"
    "    liaison audit log --data DIR [--from N] [--count N] [--event NAME] [--actor REF]\n"
    "            [--purpose TEXT] [--kind PATTERN] [--counterpart ADDR] [--party ADDR]\n"
    "            [--since WHEN] [--until WHEN] [--json]\n\n"
    "DESCRIPTION\n"
    "    Prints the records of the audit log from index N (default 0), at most\n"
    "    --count of them, only those that pass every filter given (they combine\n"
    "    with AND). One line per record; with --json, one JSON object per line.\n"
    "    Records hold metadata and hashes, never message content.\n\n"
    "OPTIONS\n"
    "    --event NAME        one event: received, accepted, rejected, released,\n"
    "                        withheld, denied, forwarded, delivered, receipted,\n"
    "                        expired, policy-reloaded, peer-up, peer-down,\n"
    "                        key-refused, tree-head-exchanged, consistency-failed,\n"
    "                        refused, damaged, roster-updated, recalled, deleted, held\n"
    "    --actor REF         the officer or system the message named (exactly)\n"
    "    --purpose TEXT      purposes that contain TEXT, in any case\n"
    "    --kind PATTERN      a kind (watchlist.query), a family (watchlist.*) or *\n"
    "    --counterpart ADDR  the recipient or partner: an agency (CAN/RCMP), every\n"
    "                        agency of a nation and its broker (CAN/*), or a\n"
    "                        partner broker (CAN)\n"
    "    --party ADDR        the sender agency or partner, as --counterpart\n"
    "    --since WHEN        records at or after WHEN: a date (2026-12-06, UTC) or an\n"
    "                        RFC 3339 time (2026-12-06T17:00:00Z)\n"
    "    --until WHEN        records before WHEN; a date means the end of that day\n\n"
    "EXIT STATUS\n"
    "    0 printed (also when no record matched); 64 bad usage, a bad date or\n"
    "    pattern; 65 damaged data; 66 no such data directory.\n\n"
    "EXAMPLES\n"
    "    liaison audit log --data /var/lib/liaison --actor fbi.jdoe --since 2026-12-01\n"
    "    liaison audit log --data /var/lib/liaison --kind 'watchlist.*' --event denied \\\n"
    "            --counterpart 'MEX/*' --json\n";

static int
cmd_log(int argc, char **argv)
{
    audit_opts o;
    store *s = NULL;
    store_read *r = NULL;
    uint64_t size = 0, shown = 0;
    int rc;
    store_err err;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_log, stdout);
        return EX_OK;
    }
    if ((rc = parse_opts(argc, argv,
                         "json from count event actor purpose kind counterpart party since until",
                         &o)) != EX_OK)
        return rc;
    if (o.event != NULL) {
        bool known = false;

        for (uint8_t e = 1; e <= STORE_EV_MAX && !known; e++)
            known = strcmp(store_audit_event_name(e), o.event) == 0;
        if (!known) {
            cli_error(SUB, "log: unknown event '%s' (see --help)", o.event);
            return EX_USAGE;
        }
    }
    if ((rc = open_read(&o, "log", &s, &r)) != EX_OK)
        return rc;
    if ((err = store_audit_size(r, &size)) != STORE_OK) {
        rc = exit_for(err);
        goto out;
    }
    for (uint64_t i = o.from == UINT64_MAX ? 0 : o.from; i < size && shown < o.count; i++) {
        store_audit_record rec;
        const char *name;
        char id[33], when[40], h[2 * HB + 1];

        if ((err = store_audit_get(r, i, &rec)) != STORE_OK) {
            cli_error(SUB, "log: record %llu: %s", (unsigned long long)i, store_strerror(err));
            rc = exit_for(err);
            goto out;
        }
        name = store_audit_event_name(rec.event);
        if (!record_selected(&o, &rec))
            continue;
        shown++;
        proto_id_format(rec.id, id);
        if (o.json) {
            json_t *j = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "index", (json_int_t)i,
                                  "time_ms", (json_int_t)rec.time_ms, "event", name, "id",
                                  proto_id_is_zero(rec.id) ? "" : id, "party", rec.party,
                                  "counterpart", rec.counterpart);

            if (rec.kind[0])
                json_object_set_new(j, "kind", json_string(rec.kind));
            if (rec.actor[0])
                json_object_set_new(j, "actor", json_string(rec.actor));
            if (rec.purpose[0])
                json_object_set_new(j, "purpose", json_string(rec.purpose));
            if (rec.rule_id[0]) {
                json_object_set_new(j, "rule", json_string(rec.rule_id));
                json_object_set_new(j, "policy_hash", json_string(hex(rec.policy_hash, HB, h)));
            }
            if (!proto_id_is_zero(rec.envelope_hash) || !proto_id_is_zero(rec.envelope_hash + 16))
                json_object_set_new(j, "envelope_hash",
                                    json_string(hex(rec.envelope_hash, HB, h)));
            if (rec.detail[0])
                json_object_set_new(j, "detail", json_string(rec.detail));
            json_dumpf(j, stdout, JSON_COMPACT);
            putchar('\n');
            json_decref(j);
        } else {
            format_time(rec.time_ms, when, sizeof(when));
            printf("%-8llu %s %-19s " "%s%s%s%s%s%s%s%s" "%s%s%s%s%s%s%s%s\n",
                   (unsigned long long)i, when, name, rec.party, rec.actor[0] ? " (" : "",
                   rec.actor, rec.actor[0] ? ")" : "", rec.counterpart[0] ? " -> " : "",
                   rec.counterpart, proto_id_is_zero(rec.id) ? "" : " id=",
                   proto_id_is_zero(rec.id) ? "" : id, rec.kind[0] ? " kind=" : "", rec.kind,
                   rec.rule_id[0] ? " rule=" : "", rec.rule_id, rec.purpose[0] ? " purpose=" : "",
                   rec.purpose, rec.detail[0] ? " | " : "", rec.detail);
        }
    }
out:
    store_read_end(&r);
    store_close(&s);
    return rc;
}

/* ---- report ---------------------------------------------------------------- */

static const char usage_report[] =
    "NAME\n"
    "    liaison audit report - who sent or consulted what, why, and what happened\n\n"
    "SYNOPSIS\n"
    "    liaison audit report --data DIR --since WHEN --until WHEN [--actor REF]\n"
    "            [--format text|csv|json]\n\n"
    "DESCRIPTION\n"
    "    A report for a data-protection officer from the audit log in DIR. For\n"
    "    each actor (the officer or system the messages named) and agency: the\n"
    "    messages it sent or consulted with (kind, id, purpose, time), and for\n"
    "    each counterpart the policy's decision (released, withheld, denied, with\n"
    "    the rule) and what became of it (forwarded, delivered, receipted,\n"
    "    refused, expired, recalled); the answers that came back to it; the\n"
    "    messages that arrived from partners, with their actor; then the recalls,\n"
    "    deletions and holds of the period. A message is in the report when this\n"
    "    broker received it within the period; what happened to it is what the\n"
    "    log says now, later records included.\n\n"
    "OPTIONS\n"
    "    --since WHEN   the period's start: a date (2026-12-06, UTC) or an RFC 3339\n"
    "                   time (2026-12-06T17:00:00Z)\n"
    "    --until WHEN   the period's end (exclusive); a date means the end of that day\n"
    "    --actor REF    only this actor's messages, recalls, deletions and holds\n"
    "    --format F     text (default), csv (RFC 4180; a field that a spreadsheet\n"
    "                   would run as a formula starts with an apostrophe) or json\n\n"
    "EXIT STATUS\n"
    "    0 printed; 64 bad usage, a bad date; 65 damaged data; 66 no such data\n"
    "    directory.\n\n"
    "EXAMPLES\n"
    "    liaison audit report --data /var/lib/liaison --since 2026-12-01 --until 2026-12-31\n"
    "    liaison audit report --data /var/lib/liaison --since 2026-12-06 --until 2026-12-06 \\\n"
    "            --actor fbi.jdoe --format csv > jdoe.csv\n";

/* Progress of a message toward one counterpart, as the report ranks it:
 * the highest rank seen is what happened. */
static int
outcome_rank(uint8_t event)
{
    switch (event) {
    case STORE_EV_FORWARDED: return 1;
    case STORE_EV_DELIVERED: return 2;
    case STORE_EV_RECEIPTED: return 3;
    case STORE_EV_REFUSED:
    case STORE_EV_EXPIRED:
    case STORE_EV_DAMAGED: return 4;
    case STORE_EV_RECALLED: return 5;
    case STORE_EV_DELETED: return 6;
    default: return 0;
    }
}

/* The report's model, built in one pass over the log. */
typedef struct report {
    json_t *msgs;     /* id hex -> message object, for every message tracked */
    json_t *order;    /* ids of the messages received in the period, in log order */
    json_t *dp;       /* recalled, deleted and held records of the period */
} report;

/* The counterpart object of message m for cp, made on first use. */
static json_t *
counterpart_of(json_t *m, const char *cp)
{
    json_t *cps = json_object_get(m, "counterparts"), *c = json_object_get(cps, cp);

    if (c == NULL) {
        c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i}", "counterpart", cp, "decision", "",
                      "rule", "", "reason", "", "outcome", "", "outcome_time", "", "rank", 0);
        json_object_set_new(cps, cp, c);
    }
    return c;
}

/* A new message object for rec, the first record of its message. */
static json_t *
message_new(const store_audit_record *rec, const char *id, const char *when)
{
    const char *reply = "";
    char h[2 * HB + 1];

    if (strncmp(rec->detail, "in reply to ", 12) == 0 && strlen(rec->detail + 12) == 32)
        reply = rec->detail + 12;
    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o}", "id",
                     id, "time", when, "time_ms", (json_int_t)rec->time_ms, "direction",
                     rec->event != STORE_EV_DENIED && rec->counterpart[0] != '\0' ? "received"
                                                                                   : "sent",
                     "kind", rec->kind, "actor", rec->actor, "agency", rec->party, "purpose",
                     rec->purpose, "in_reply_to", reply, "envelope_hash",
                     hex(rec->envelope_hash, HB, h), "rejected", "", "counterparts",
                     json_object(), "answers", json_array());
}

/* Adds rec to the model. */
static void
report_add(report *rp, const audit_opts *o, const store_audit_record *rec)
{
    char id[33], when[40];
    bool in_period = rec->time_ms >= o->since_ms && rec->time_ms < o->until_ms;
    bool actor_ok = o->actor == NULL || strcmp(rec->actor, o->actor) == 0;
    json_t *m;

    proto_id_format(rec->id, id);
    format_time(rec->time_ms, when, sizeof(when));
    if ((rec->event == STORE_EV_RECALLED || rec->event == STORE_EV_DELETED ||
         rec->event == STORE_EV_HELD) &&
        in_period && actor_ok) {
        json_array_append_new(
            rp->dp, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "event",
                              store_audit_event_name(rec->event), "time", when, "id",
                              proto_id_is_zero(rec->id) ? "" : id, "kind", rec->kind, "actor",
                              rec->actor, "agency", rec->party, "counterpart", rec->counterpart,
                              "rule", rec->rule_id, "detail", rec->detail));
    }
    if (proto_id_is_zero(rec->id))
        return;
    m = json_object_get(rp->msgs, id);
    if (m == NULL) {
        /* A message is tracked from its first record: received, or, for a
         * submission refused whole, its denials or its rejection.  Those of
         * the period (and the actor) are reported; answers are tracked
         * whenever they came, to be listed under what they answer. */
        bool first = rec->event == STORE_EV_RECEIVED || rec->event == STORE_EV_REJECTED ||
                     rec->event == STORE_EV_DENIED;
        bool answer = rec->event == STORE_EV_RECEIVED &&
                      strncmp(rec->detail, "in reply to ", 12) == 0;

        if (!first || (!(in_period && actor_ok) && !answer))
            return;
        m = message_new(rec, id, when);
        json_object_set_new(rp->msgs, id, m);
        if (in_period && actor_ok)
            json_array_append_new(rp->order, json_string(id));
        if (rec->event == STORE_EV_RECEIVED)
            return;
    }
    switch (rec->event) {
    case STORE_EV_RELEASED:
    case STORE_EV_WITHHELD:
    case STORE_EV_DENIED: {
        json_t *c;

        if (strchr(rec->counterpart, '/') == NULL)
            break;
        c = counterpart_of(m, rec->counterpart);

        json_object_set_new(c, "decision", json_string(store_audit_event_name(rec->event)));
        json_object_set_new(c, "rule", json_string(rec->rule_id));
        json_object_set_new(c, "reason", json_string(rec->detail));
        break;
    }
    case STORE_EV_REJECTED:
        json_object_set_new(m, "rejected", json_string(rec->detail));
        break;
    default: {
        int rank = outcome_rank(rec->event);
        json_t *c;

        /* Counterparts are agencies; a partner's answer as a whole is not. */
        if (rank == 0 || strchr(rec->counterpart, '/') == NULL)
            break;
        c = counterpart_of(m, rec->counterpart);
        if (rank >= json_integer_value(json_object_get(c, "rank"))) {
            json_object_set_new(c, "outcome", json_string(store_audit_event_name(rec->event)));
            json_object_set_new(c, "outcome_time", json_string(when));
            json_object_set_new(c, "rank", json_integer(rank));
        }
        break;
    }
    }
}

/* Turns each message's counterparts into a sorted array without ranks, and
 * hangs each answer under the message it answers. */
static void
report_finish(report *rp)
{
    const char *key;
    json_t *m;

    json_object_foreach(rp->msgs, key, m) {
        json_t *cps = json_object_get(m, "counterparts"), *arr = json_array(), *c;
        const char *cp;

        json_object_foreach(cps, cp, c) {
            json_object_del(c, "rank");
            json_array_append(arr, c);
        }
        json_object_set_new(m, "counterparts", arr);
    }
    /* An answer goes under what it answers as a summary of its own (never
     * the object itself: ids from the log could make a loop). */
    json_object_foreach(rp->msgs, key, m) {
        const char *reply = json_string_value(json_object_get(m, "in_reply_to"));
        json_t *parent = reply[0] != '\0' ? json_object_get(rp->msgs, reply) : NULL;
        json_t *c0 = json_array_get(json_object_get(m, "counterparts"), 0);

        if (parent == NULL)
            continue;
        json_array_append_new(
            json_object_get(parent, "answers"),
            json_pack("{s:O, s:O, s:O, s:O, s:O, s:s, s:s}", "id", json_object_get(m, "id"),
                      "time", json_object_get(m, "time"), "kind", json_object_get(m, "kind"),
                      "from", json_object_get(m, "agency"), "actor", json_object_get(m, "actor"),
                      "to", c0 != NULL ? json_string_value(json_object_get(c0, "counterpart")) : "",
                      "outcome",
                      c0 != NULL ? json_string_value(json_object_get(c0, "outcome")) : ""));
    }
}

/* Compares two C strings for qsort. */
static int
cmp_str(const void *a, const void *b)
{
    const char *const *x = a, *const *y = b;

    return strcmp(*x, *y);
}

/* Compares two counterpart objects by name for qsort. */
static int
cmp_cp(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;

    return strcmp(json_string_value(json_object_get(*x, "counterpart")),
                  json_string_value(json_object_get(*y, "counterpart")));
}

/* The report's JSON document: actors in order of name then agency, their
 * messages in log order. */
static json_t *
report_json(const report *rp, const audit_opts *o)
{
    json_t *doc, *actors = json_array(), *recalls = json_array(), *deletions = json_array(),
                 *holds = json_array(), *byactor = json_object(), *v;
    char since[40], until[40];
    size_t i;

    json_array_foreach(rp->order, i, v) {
        json_t *m = json_object_get(rp->msgs, json_string_value(v)), *a, *slim, *cps;
        char key[2 * STORE_PARTY_MAX + 4];
        const char *direction = json_string_value(json_object_get(m, "direction"));
        json_t **list;
        size_t n = 0, k;
        json_t *c;

        snprintf(key, sizeof(key), "%s\n%s", json_string_value(json_object_get(m, "actor")),
                 json_string_value(json_object_get(m, "agency")));
        a = json_object_get(byactor, key);
        if (a == NULL) {
            a = json_pack("{s:O, s:O, s:[], s:[]}", "actor", json_object_get(m, "actor"),
                          "agency", json_object_get(m, "agency"), "sent", "received");
            json_object_set_new(byactor, key, a);
        }
        /* Counterparts sorted by name, so that reports compare. */
        cps = json_object_get(m, "counterparts");
        list = malloc((json_array_size(cps) + 1) * sizeof(*list));
        if (list == NULL)
            abort(); /* the tool cannot go on without memory; nothing half-printed */
        json_array_foreach(cps, k, c)
            list[n++] = c;
        qsort(list, n, sizeof(list[0]), cmp_cp);
        slim = json_deep_copy(m);
        json_object_del(slim, "direction");
        json_object_del(slim, "actor");
        json_object_del(slim, "agency");
        json_object_set_new(slim, "counterparts", json_array());
        for (k = 0; k < n; k++)
            json_array_append(json_object_get(slim, "counterparts"), list[k]);
        free(list);
        json_array_append_new(json_object_get(a, strcmp(direction, "sent") == 0 ? "sent"
                                                                               : "received"),
                              slim);
    }
    {
        const char *key;
        const char **keys = malloc((json_object_size(byactor) + 1) * sizeof(*keys));
        size_t n = 0;

        if (keys == NULL)
            abort();
        json_object_foreach(byactor, key, v)
            keys[n++] = key;
        qsort(keys, n, sizeof(keys[0]), cmp_str);
        for (size_t k = 0; k < n; k++)
            json_array_append(actors, json_object_get(byactor, keys[k]));
        free(keys);
    }
    json_array_foreach(rp->dp, i, v) {
        const char *ev = json_string_value(json_object_get(v, "event"));

        json_array_append(strcmp(ev, "recalled") == 0  ? recalls
                          : strcmp(ev, "deleted") == 0 ? deletions
                                                       : holds,
                          v);
    }
    format_time(o->since_ms, since, sizeof(since));
    format_time(o->until_ms, until, sizeof(until));
    doc = json_pack("{s:s, s:s, s:s*, s:o, s:o, s:o, s:o}", "since", since, "until", until,
                    "actor", o->actor, "actors", actors, "recalls", recalls, "deletions",
                    deletions, "holds", holds);
    json_decref(byactor);
    return doc;
}

/* One line per counterpart: decision (rule): reason; outcome. */
static void
text_counterparts(json_t *cps)
{
    size_t k;
    json_t *c;

    json_array_foreach(cps, k, c) {
        const char *dec = json_string_value(json_object_get(c, "decision"));
        const char *rule = json_string_value(json_object_get(c, "rule"));
        const char *why = json_string_value(json_object_get(c, "reason"));
        const char *out = json_string_value(json_object_get(c, "outcome"));

        printf("      %-16s %s%s%s%s%s%s%s%s\n", json_string_value(json_object_get(c, "counterpart")),
               dec[0] ? dec : "(no decision here)", rule[0] ? " by " : "", rule,
               why[0] ? ": " : "", why, out[0] ? "; " : "", out,
               out[0] ? "" : (strcmp(dec, "denied") == 0 ? "" : "; not delivered yet"));
    }
}

static void
report_text(json_t *doc, const char *data)
{
    size_t i, k;
    json_t *a, *v;
    static const char *const sections[] = {"recalls", "deletions", "holds"};

    printf("Audit report of %s\nPeriod from %s up to (not including) %s", data,
           json_string_value(json_object_get(doc, "since")),
           json_string_value(json_object_get(doc, "until")));
    if (json_object_get(doc, "actor") != NULL)
        printf(", actor %s", json_string_value(json_object_get(doc, "actor")));
    printf("\n");
    if (json_array_size(json_object_get(doc, "actors")) == 0)
        printf("\nNo message in the period.\n");
    json_array_foreach(json_object_get(doc, "actors"), i, a) {
        const char *actor = json_string_value(json_object_get(a, "actor"));

        printf("\n%s (%s): %zu sent or consulted, %zu received\n",
               actor[0] ? actor : "(no actor named)",
               json_string_value(json_object_get(a, "agency")),
               json_array_size(json_object_get(a, "sent")),
               json_array_size(json_object_get(a, "received")));
        for (int dir = 0; dir < 2; dir++) {
            json_array_foreach(json_object_get(a, dir == 0 ? "sent" : "received"), k, v) {
                const char *purpose = json_string_value(json_object_get(v, "purpose"));
                const char *rejected = json_string_value(json_object_get(v, "rejected"));
                const char *reply = json_string_value(json_object_get(v, "in_reply_to"));
                size_t j;
                json_t *ans;

                printf("  %s %s %s %s\n", json_string_value(json_object_get(v, "time")),
                       dir == 0 ? "sent" : "received",
                       json_string_value(json_object_get(v, "kind"))[0]
                           ? json_string_value(json_object_get(v, "kind"))
                           : "(kind not recorded)",
                       json_string_value(json_object_get(v, "id")));
                printf("      purpose: %s\n", purpose[0] ? purpose : "(none given)");
                if (reply[0])
                    printf("      in reply to %s\n", reply);
                if (rejected[0])
                    printf("      rejected: %s\n", rejected);
                text_counterparts(json_object_get(v, "counterparts"));
                json_array_foreach(json_object_get(v, "answers"), j, ans) {
                    const char *aa = json_string_value(json_object_get(ans, "actor"));
                    const char *out = json_string_value(json_object_get(ans, "outcome"));

                    printf("      answer %s %s from %s%s%s%s at %s%s%s\n",
                           json_string_value(json_object_get(ans, "kind")),
                           json_string_value(json_object_get(ans, "id")),
                           json_string_value(json_object_get(ans, "from")), aa[0] ? " (" : "",
                           aa, aa[0] ? ")" : "", json_string_value(json_object_get(ans, "time")),
                           out[0] ? ": " : "", out);
                }
            }
        }
    }
    for (size_t s = 0; s < 3; s++) {
        json_t *list = json_object_get(doc, sections[s]);

        printf("\n%c%s in the period: %zu\n", sections[s][0] - 'a' + 'A', sections[s] + 1,
               json_array_size(list));
        json_array_foreach(list, i, v) {
            const char *actor = json_string_value(json_object_get(v, "actor"));
            const char *cp = json_string_value(json_object_get(v, "counterpart"));
            const char *rule = json_string_value(json_object_get(v, "rule"));
            const char *detail = json_string_value(json_object_get(v, "detail"));

            printf("  %s %s %s %s%s%s%s%s%s%s%s%s%s\n", json_string_value(json_object_get(v, "time")),
                   json_string_value(json_object_get(v, "kind")),
                   json_string_value(json_object_get(v, "id")),
                   json_string_value(json_object_get(v, "agency")), actor[0] ? " (" : "", actor,
                   actor[0] ? ")" : "", cp[0] ? " -> " : "", cp, rule[0] ? " rule " : "", rule,
                   detail[0] ? ": " : "", detail);
        }
    }
}

/* Writes one CSV row of n fields, neutralised, ended by CRLF (RFC 4180). */
static void
csv_line(const char *const *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            fputc(',', stdout);
        csv_field_write(stdout, fields[i], true);
    }
    fputs("\r\n", stdout);
}

#define STR(o, k) json_string_value(json_object_get((o), (k)))

static void
report_csv(json_t *doc)
{
    static const char *const header[] = {"record", "time", "actor", "agency", "kind",
                                         "message", "in_reply_to", "purpose", "counterpart",
                                         "decision", "rule", "outcome", "detail"};
    static const char *const sections[] = {"recalls", "deletions", "holds"};
    size_t i, k, j;
    json_t *a, *v, *c;

    csv_line(header, 13);
    json_array_foreach(json_object_get(doc, "actors"), i, a) {
        for (int dir = 0; dir < 2; dir++) {
            json_array_foreach(json_object_get(a, dir == 0 ? "sent" : "received"), k, v) {
                json_t *cps = json_object_get(v, "counterparts");
                json_t *ans;

                if (json_array_size(cps) == 0) {
                    const char *row[] = {dir == 0 ? "sent" : "received", STR(v, "time"),
                                         STR(a, "actor"), STR(a, "agency"), STR(v, "kind"),
                                         STR(v, "id"), STR(v, "in_reply_to"), STR(v, "purpose"),
                                         "", STR(v, "rejected")[0] ? "rejected" : "", "", "",
                                         STR(v, "rejected")};

                    csv_line(row, 13);
                }
                json_array_foreach(cps, j, c) {
                    const char *row[] = {dir == 0 ? "sent" : "received", STR(v, "time"),
                                         STR(a, "actor"), STR(a, "agency"), STR(v, "kind"),
                                         STR(v, "id"), STR(v, "in_reply_to"), STR(v, "purpose"),
                                         STR(c, "counterpart"), STR(c, "decision"),
                                         STR(c, "rule"), STR(c, "outcome"), STR(c, "reason")};

                    csv_line(row, 13);
                }
                json_array_foreach(json_object_get(v, "answers"), j, ans) {
                    const char *row[] = {"answer", STR(ans, "time"), STR(ans, "actor"),
                                         STR(ans, "from"), STR(ans, "kind"), STR(ans, "id"),
                                         STR(v, "id"), "", STR(ans, "to"), "", "",
                                         STR(ans, "outcome"), ""};

                    csv_line(row, 13);
                }
            }
        }
    }
    for (size_t s = 0; s < 3; s++) {
        json_array_foreach(json_object_get(doc, sections[s]), i, v) {
            const char *row[] = {STR(v, "event"), STR(v, "time"), STR(v, "actor"),
                                 STR(v, "agency"), STR(v, "kind"), STR(v, "id"), "", "",
                                 STR(v, "counterpart"), "", STR(v, "rule"), "",
                                 STR(v, "detail")};

            csv_line(row, 13);
        }
    }
}

#undef STR

static int
cmd_report(int argc, char **argv)
{
    audit_opts o;
    store *s = NULL;
    store_read *r = NULL;
    uint64_t size = 0;
    report rp = {json_object(), json_array(), json_array()};
    json_t *doc = NULL;
    int rc;
    store_err err;

    if (cli_wants_help(argc, argv)) {
        fputs(usage_report, stdout);
        rc = EX_OK;
        goto out;
    }
    if ((rc = parse_opts(argc, argv, "since until actor format", &o)) != EX_OK)
        goto out;
    if (o.since == NULL || o.until == NULL) {
        cli_error(SUB, "report: --since and --until are required: the report covers a period "
                       "(see --help)");
        rc = EX_USAGE;
        goto out;
    }
    if ((rc = open_read(&o, "report", &s, &r)) != EX_OK)
        goto out;
    if ((err = store_audit_size(r, &size)) != STORE_OK) {
        rc = exit_for(err);
        goto out;
    }
    for (uint64_t i = 0; i < size; i++) {
        store_audit_record rec;

        if ((err = store_audit_get(r, i, &rec)) != STORE_OK) {
            cli_error(SUB, "report: record %llu: %s", (unsigned long long)i, store_strerror(err));
            rc = exit_for(err);
            goto out;
        }
        report_add(&rp, &o, &rec);
    }
    report_finish(&rp);
    doc = report_json(&rp, &o);
    if (o.format == NULL || strcmp(o.format, "text") == 0)
        report_text(doc, o.data);
    else if (strcmp(o.format, "csv") == 0)
        report_csv(doc);
    else
        rc = print_json(json_incref(doc));
    if (fflush(stdout) != 0)
        rc = EX_IOERR;
out:
    json_decref(doc);
    json_decref(rp.msgs);
    json_decref(rp.order);
    json_decref(rp.dp);
    store_read_end(&r);
    store_close(&s);
    return rc;
}

int
cli_audit_main(int argc, char **argv)
{
    static const struct {
        const char *name;  /* subcommand */
        cli_main_fn fn;    /* its entry point */
    } cmds[] = {
        {"head", cmd_head},
        {"verify", cmd_verify},
        {"proof", cmd_proof},
        {"consistency", cmd_consistency},
        {"log", cmd_log},
        {"report", cmd_report},
    };

    /* Logs would mix with the output; the commands report errors themselves. */
    proto_log_configure(NULL, NULL, PROTO_LOG_ERROR);
    if (argc < 2) {
        fputs(usage_audit, stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage_audit, stdout);
        return EX_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    }
    cli_error(SUB, "unknown command '%s' (see liaison audit --help)", argv[1]);
    return EX_USAGE;
}
