/* liaison audit: inspect, prove and verify a broker's audit log offline. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
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
} audit_opts;

static const char usage_audit[] =
    "NAME\n"
    "    liaison audit - inspect, prove and verify a broker's audit log (offline)\n\n"
    "SYNOPSIS\n"
    "    liaison audit head --data DIR [--key FILE] [--json]\n"
    "    liaison audit verify --data DIR [--key FILE] [--json]\n"
    "    liaison audit proof --data DIR --leaf N [--size M] [--json]\n"
    "    liaison audit consistency --data DIR --from M [--to N] [--json]\n"
    "    liaison audit log --data DIR [--from N] [--count N] [--event NAME] [--json]\n\n"
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

/* Parses the options; allowed names which options this subcommand takes. */
static int
parse_opts(int argc, char **argv, const char *allowed, audit_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->leaf = o->size = o->from = o->to = o->count = UINT64_MAX;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t *num = NULL;

        if (strcmp(a, "--json") == 0 && strstr(allowed, "json")) {
            o->json = true;
            continue;
        }
        if (strcmp(a, "--data") == 0 && v != NULL) {
            o->data = v;
        } else if (strcmp(a, "--key") == 0 && v != NULL && strstr(allowed, "key")) {
            o->key = v;
        } else if (strcmp(a, "--leaf") == 0 && strstr(allowed, "leaf")) {
            num = &o->leaf;
        } else if (strcmp(a, "--size") == 0 && strstr(allowed, "size")) {
            num = &o->size;
        } else if (strcmp(a, "--from") == 0 && strstr(allowed, "from")) {
            num = &o->from;
        } else if (strcmp(a, "--to") == 0 && strstr(allowed, "to")) {
            num = &o->to;
        } else if (strcmp(a, "--count") == 0 && strstr(allowed, "count")) {
            num = &o->count;
        } else if (strcmp(a, "--event") == 0 && v != NULL && strstr(allowed, "event")) {
            o->event = v;
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
    return EX_OK;
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
    "    liaison audit log --data DIR [--from N] [--count N] [--event NAME] [--json]\n\n"
    "DESCRIPTION\n"
    "    Prints the records of the audit log from index N (default 0), at most\n"
    "    --count of them, only those of one event if --event is given (received,\n"
    "    accepted, rejected, released, withheld, denied, forwarded, delivered,\n"
    "    receipted, expired, policy-reloaded, peer-up, peer-down, key-refused,\n"
    "    tree-head-exchanged, consistency-failed, refused).  One line per record;\n"
    "    with --json, one JSON object per line.  Records hold metadata and hashes,\n"
    "    never message content.\n\n"
    "EXIT STATUS\n"
    "    0 printed; 64 bad usage; 65 damaged data; 66 no such data directory.\n";

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
    if ((rc = parse_opts(argc, argv, "json from count event", &o)) != EX_OK)
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
        if (o.event != NULL && strcmp(name, o.event) != 0)
            continue;
        shown++;
        proto_id_format(rec.id, id);
        if (o.json) {
            json_t *j = json_pack("{s:I, s:I, s:s, s:s, s:s, s:s}", "index", (json_int_t)i,
                                  "time_ms", (json_int_t)rec.time_ms, "event", name, "id",
                                  proto_id_is_zero(rec.id) ? "" : id, "party", rec.party,
                                  "counterpart", rec.counterpart);

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
            printf("%-8llu %s %-19s %s%s%s%s%s%s%s%s%s%s%s\n", (unsigned long long)i, when,
                   name, rec.party, rec.counterpart[0] ? " -> " : "", rec.counterpart,
                   proto_id_is_zero(rec.id) ? "" : " id=", proto_id_is_zero(rec.id) ? "" : id,
                   rec.rule_id[0] ? " rule=" : "", rec.rule_id, rec.purpose[0] ? " purpose=" : "",
                   rec.purpose, rec.detail[0] ? " | " : "", rec.detail);
        }
    }
out:
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
