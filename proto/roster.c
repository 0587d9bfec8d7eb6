/* The roster: every identity of the federation, its public keys, the kinds
 * it accepts, and whether its keys are revoked; the sections in which each
 * nation signs its own cards (docs/protocol.md 5.3 and 5.5). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

#define ROSTER_HEADER "liaison-roster 1"
#define SIGN_CONTEXT "liaison roster v1" /* with its NUL, the start of signed_input */
#define SIGNED_INPUT_BYTES (sizeof(SIGN_CONTEXT) + PROTO_HASH_BYTES)

/* A nation's section: which cards it holds follows from the nation. */
typedef struct roster_section {
    char nation[PROTO_NATION_LEN + 1];         /* whose cards it holds */
    uint64_t serial;                           /* 1 .. PROTO_ROSTER_SERIAL_MAX */
    bool has_signature;                        /* false once a card changed */
    uint8_t signature[PROTO_SIGNATURE_BYTES];  /* over signed_input, when has_signature */
} roster_section;

struct proto_roster {
    proto_roster_entry *entries;      /* in file order */
    size_t count;                     /* entries in use */
    size_t cap;                       /* entries allocated */
    roster_section *sections;         /* in file order */
    size_t section_count;             /* sections in use */
    size_t section_cap;               /* sections allocated */
    uint8_t hash[PROTO_HASH_BYTES];   /* SHA-256 of the text it was parsed from */
};

static bool
pattern_valid(const char *p)
{
    size_t n = strlen(p);
    char kind[PROTO_KIND_MAX + 1];

    if (strcmp(p, "*") == 0)
        return true;
    if (n > 2 && strcmp(p + n - 2, ".*") == 0) {
        /* "family.*": the family must be a valid kind segment. */
        if (n - 2 > PROTO_KIND_MAX - 2)
            return false;
        memcpy(kind, p, n - 2);
        memcpy(kind + n - 2, ".x", 3);
        return proto_kind_check(kind, NULL) == PROTO_OK;
    }
    return proto_kind_check(p, NULL) == PROTO_OK;
}

bool
proto_kind_matches(const char *pattern, const char *kind)
{
    size_t n = strlen(pattern);

    if (strcmp(pattern, "*") == 0)
        return true;
    if (n >= 2 && strcmp(pattern + n - 2, ".*") == 0)
        return strncmp(kind, pattern, n - 1) == 0 && kind[n - 1] != '\0';
    return strcmp(pattern, kind) == 0;
}

static proto_err
grow(proto_roster *r)
{
    proto_roster_entry *e;
    size_t cap = r->cap ? r->cap * 2 : 16;

    if (r->count < r->cap)
        return PROTO_OK;
    if (cap > PROTO_ROSTER_MAX)
        cap = PROTO_ROSTER_MAX;
    if (r->count >= cap)
        return PROTO_ERR_LIMIT;
    e = proto_alloc(cap * sizeof(*e));
    if (e == NULL)
        return PROTO_ERR_NOMEM;
    if (r->count > 0)
        memcpy(e, r->entries, r->count * sizeof(*e));
    free(r->entries);
    r->entries = e;
    r->cap = cap;
    return PROTO_OK;
}

/* Room for one more section. */
static proto_err
grow_sections(proto_roster *r)
{
    roster_section *s;
    size_t cap = r->section_cap ? r->section_cap * 2 : 8;

    if (r->section_count < r->section_cap)
        return PROTO_OK;
    if (cap > PROTO_ROSTER_MAX)
        cap = PROTO_ROSTER_MAX;
    if (r->section_count >= cap)
        return PROTO_ERR_LIMIT;
    s = proto_alloc(cap * sizeof(*s));
    if (s == NULL)
        return PROTO_ERR_NOMEM;
    if (r->section_count > 0)
        memcpy(s, r->sections, r->section_count * sizeof(*s));
    free(r->sections);
    r->sections = s;
    r->section_cap = cap;
    return PROTO_OK;
}

static roster_section *
section_of(const proto_roster *r, const char *nation)
{
    for (size_t i = 0; i < r->section_count; i++) {
        if (strcmp(r->sections[i].nation, nation) == 0)
            return &r->sections[i];
    }
    return NULL;
}

void
proto_roster_destroy(proto_roster **r)
{
    if (r == NULL || *r == NULL)
        return;
    free((*r)->sections);
    free((*r)->entries);
    free(*r);
    *r = NULL;
}

/* Checks what holds across entries: one active card per identity, keys unique. */
static proto_err
check_entries(const proto_roster *r, proto_detail *detail)
{
    for (size_t i = 0; i < r->count; i++) {
        const proto_roster_entry *a = &r->entries[i];

        for (size_t j = 0; j < i; j++) {
            const proto_roster_entry *b = &r->entries[j];
            char text[PROTO_ADDR_TEXT_MAX + 1];

            proto_addr_format(&a->card.addr, text, sizeof(text));
            if (!a->revoked && !b->revoked && proto_addr_equal(&a->card.addr, &b->card.addr)) {
                proto_detail_set(detail, "roster",
                                 "card %zu: %s has two cards that are not revoked (cards %zu "
                                 "and %zu)",
                                 i + 1, text, j + 1, i + 1);
                return PROTO_ERR_SYNTAX;
            }
            if (memcmp(a->card.curve_public, b->card.curve_public, PROTO_CURVE_KEY_BYTES) == 0 ||
                memcmp(a->card.sign_public, b->card.sign_public, PROTO_SIGN_PUBLIC_BYTES) == 0 ||
                memcmp(a->card.box_public, b->card.box_public, PROTO_BOX_PUBLIC_BYTES) == 0) {
                proto_detail_set(detail, "roster", "card %zu (%s) reuses a key of card %zu",
                                 i + 1, text, j + 1);
                return PROTO_ERR_SYNTAX;
            }
        }
    }
    return PROTO_OK;
}

/* Parses the lines of one card, from after "card" to "end". */
static proto_err
parse_card(char **cursor, size_t *lineno, proto_roster_entry *e, proto_detail *detail)
{
    char card_text[1024];
    size_t used = 0;
    bool have_identity = false;
    int n;

    memset(e, 0, sizeof(*e));
    n = snprintf(card_text, sizeof(card_text), "liaison-card 1\n");
    used = (size_t)n;
    while (**cursor != '\0') {
        char *line = *cursor, *next = strchr(line, '\n');

        if (next != NULL)
            *next++ = '\0';
        *cursor = next != NULL ? next : line + strlen(line);
        (*lineno)++;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (strcmp(line, "end") == 0) {
            proto_detail d;
            proto_err err;

            if (!have_identity) {
                proto_detail_set(detail, "roster", "line %zu: card without identity", *lineno);
                return PROTO_ERR_SYNTAX;
            }
            err = proto_card_parse(card_text, &e->card, &d);
            if (err != PROTO_OK) {
                proto_detail_set(detail, "roster", "line %zu: card: %s", *lineno, d.text);
                return PROTO_ERR_SYNTAX;
            }
            return PROTO_OK;
        }
        if (strncmp(line, "accepts ", 8) == 0) {
            char *tok, *save = NULL;

            for (tok = strtok_r(line + 8, " ", &save); tok != NULL;
                 tok = strtok_r(NULL, " ", &save)) {
                if (e->accept_count == PROTO_ACCEPTS_MAX || strlen(tok) > PROTO_KIND_MAX ||
                    !pattern_valid(tok)) {
                    proto_detail_set(detail, "roster",
                                     "line %zu: '%.64s' is not a kind pattern (kind, family.* "
                                     "or *), or more than %u",
                                     *lineno, tok, PROTO_ACCEPTS_MAX);
                    return PROTO_ERR_SYNTAX;
                }
                snprintf(e->accepts[e->accept_count++], sizeof(e->accepts[0]), "%s", tok);
            }
            continue;
        }
        if (strncmp(line, "revoked ", 8) == 0) {
            char *end = NULL;
            unsigned long long ms;

            errno = 0;
            ms = strtoull(line + 8, &end, 10);
            if (errno != 0 || end == line + 8 || (*end != ' ' && *end != '\0') || e->revoked) {
                proto_detail_set(detail, "roster",
                                 "line %zu: 'revoked <unix ms> <reason>' expected once", *lineno);
                return PROTO_ERR_SYNTAX;
            }
            e->revoked = true;
            e->revoked_ms = ms;
            snprintf(e->reason, sizeof(e->reason), "%s", *end == ' ' ? end + 1 : "");
            continue;
        }
        if (strncmp(line, "identity ", 9) == 0)
            have_identity = true;
        n = snprintf(card_text + used, sizeof(card_text) - used, "%s\n", line);
        if (n < 0 || (size_t)n >= sizeof(card_text) - used) {
            proto_detail_set(detail, "roster", "line %zu: card too long", *lineno);
            return PROTO_ERR_SYNTAX;
        }
        used += (size_t)n;
    }
    proto_detail_set(detail, "roster", "line %zu: card not closed with 'end'", *lineno);
    return PROTO_ERR_SYNTAX;
}

/* Reads "serial N", the line after "nation X": decimal, 1 .. 2^63-1, no
 * sign, no leading zero. */
static proto_err
parse_serial(const char *line, size_t lineno, roster_section *s, proto_detail *detail)
{
    const char *p = line + 7;
    uint64_t v = 0;

    if (strncmp(line, "serial ", 7) != 0) {
        proto_detail_set(detail, "roster", "line %zu: expected 'serial N' after 'nation %s'",
                         lineno, s->nation);
        return PROTO_ERR_SYNTAX;
    }
    if (*p < '1' || *p > '9' || strlen(p) > 19) {
        proto_detail_set(detail, "roster",
                         "line %zu: serial of section %s must be a decimal number from 1 to "
                         "%llu without sign or leading zero",
                         lineno, s->nation, (unsigned long long)PROTO_ROSTER_SERIAL_MAX);
        return PROTO_ERR_SYNTAX;
    }
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9' || v > (PROTO_ROSTER_SERIAL_MAX - (uint64_t)(*p - '0')) / 10) {
            proto_detail_set(detail, "roster",
                             "line %zu: serial of section %s must be a decimal number from 1 "
                             "to %llu",
                             lineno, s->nation, (unsigned long long)PROTO_ROSTER_SERIAL_MAX);
            return PROTO_ERR_SYNTAX;
        }
        v = v * 10 + (uint64_t)(*p - '0');
    }
    s->serial = v;
    return PROTO_OK;
}

/* Opens the section of nation at line lineno: one per nation, and no card
 * of that nation may have come before it. */
static proto_err
open_section_at(proto_roster *r, const char *nation, size_t lineno, proto_detail *detail)
{
    roster_section *s;
    proto_err err;

    if (!proto_nation_valid(nation)) {
        proto_detail_set(detail, "roster",
                         "line %zu: '%.40s' is not a nation (three upper-case letters)", lineno,
                         nation);
        return PROTO_ERR_SYNTAX;
    }
    if (section_of(r, nation) != NULL) {
        proto_detail_set(detail, "roster", "line %zu: a second section of %s", lineno, nation);
        return PROTO_ERR_SYNTAX;
    }
    for (size_t i = 0; i < r->count; i++) {
        if (strcmp(r->entries[i].card.addr.nation, nation) == 0) {
            proto_detail_set(detail, "roster",
                             "line %zu: section %s opens after card %zu of %s, which is outside "
                             "it",
                             lineno, nation, i + 1, nation);
            return PROTO_ERR_SYNTAX;
        }
    }
    if ((err = grow_sections(r)) != PROTO_OK) {
        proto_detail_set(detail, "roster", "line %zu: too many sections", lineno);
        return err;
    }
    s = &r->sections[r->section_count++];
    memset(s, 0, sizeof(*s));
    memcpy(s->nation, nation, PROTO_NATION_LEN + 1);
    return PROTO_OK;
}

/* Checks that card e, which began at line lineno, is where its nation's
 * cards belong: inside open (if not NULL) only when it is of open's nation;
 * outside any section only when its nation has none. */
static proto_err
place_card(const proto_roster *r, const proto_roster_entry *e, const roster_section *open,
           size_t lineno, proto_detail *detail)
{
    char text[PROTO_ADDR_TEXT_MAX + 1];

    proto_addr_format(&e->card.addr, text, sizeof(text));
    if (open != NULL && strcmp(e->card.addr.nation, open->nation) != 0) {
        proto_detail_set(detail, "roster", "line %zu: card of %s inside the section of %s",
                         lineno, text, open->nation);
        return PROTO_ERR_SYNTAX;
    }
    if (open == NULL && section_of(r, e->card.addr.nation) != NULL) {
        proto_detail_set(detail, "roster", "line %zu: card of %s outside the section of %s",
                         lineno, text, e->card.addr.nation);
        return PROTO_ERR_SYNTAX;
    }
    return PROTO_OK;
}

proto_err
proto_roster_parse(const char *text, size_t len, proto_roster **roster_out, proto_detail *detail)
{
    proto_roster *r = NULL;
    char *copy = NULL, *cursor;
    size_t lineno = 0;
    bool have_header = false;
    roster_section *open_section = NULL; /* between "nation" and "signature" */
    proto_err err = PROTO_OK;

    if (len > PROTO_ROSTER_TEXT_MAX) {
        proto_detail_set(detail, "roster", "roster larger than %u bytes", PROTO_ROSTER_TEXT_MAX);
        return PROTO_ERR_LIMIT;
    }
    if (memchr(text, '\0', len) != NULL) {
        proto_detail_set(detail, "roster", "roster contains a NUL byte");
        return PROTO_ERR_SYNTAX;
    }
    r = proto_alloc(sizeof(*r));
    if (r != NULL)
        memset(r, 0, sizeof(*r)); /* before anything can fail: out destroys it */
    copy = proto_alloc(len + 1);
    if (r == NULL || copy == NULL) {
        err = PROTO_ERR_NOMEM;
        goto out;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    proto_sha256((const uint8_t *)text, len, r->hash);
    cursor = copy;
    while (*cursor != '\0') {
        char *line = cursor, *next = strchr(line, '\n');
        size_t card_line;

        if (next != NULL)
            *next++ = '\0';
        cursor = next != NULL ? next : line + strlen(line);
        lineno++;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        if (!have_header) {
            if (strcmp(line, ROSTER_HEADER) != 0) {
                proto_detail_set(detail, "roster", "line %zu: expected '%s' first", lineno,
                                 ROSTER_HEADER);
                err = PROTO_ERR_SYNTAX;
                goto out;
            }
            have_header = true;
            continue;
        }
        if (open_section != NULL && open_section->serial == 0) {
            if ((err = parse_serial(line, lineno, open_section, detail)) != PROTO_OK)
                goto out;
            continue;
        }
        if (strncmp(line, "nation ", 7) == 0) {
            if (open_section != NULL) {
                proto_detail_set(detail, "roster",
                                 "line %zu: section %s not closed with 'signature' before "
                                 "'nation'",
                                 lineno, open_section->nation);
                err = PROTO_ERR_SYNTAX;
                goto out;
            }
            if ((err = open_section_at(r, line + 7, lineno, detail)) != PROTO_OK)
                goto out;
            open_section = &r->sections[r->section_count - 1];
            continue;
        }
        if (strncmp(line, "signature ", 10) == 0 && open_section != NULL) {
            if (proto_unhex(line + 10, open_section->signature, PROTO_SIGNATURE_BYTES) !=
                PROTO_OK) {
                proto_detail_set(detail, "roster",
                                 "line %zu: 'signature' of section %s must be 128 hex digits",
                                 lineno, open_section->nation);
                err = PROTO_ERR_SYNTAX;
                goto out;
            }
            open_section->has_signature = true;
            open_section = NULL;
            continue;
        }
        if (strcmp(line, "card") != 0) {
            proto_detail_set(detail, "roster", "line %zu: expected '%s', found '%.40s'", lineno,
                             open_section != NULL ? "card' or 'signature" : "card' or 'nation",
                             line);
            err = PROTO_ERR_SYNTAX;
            goto out;
        }
        if ((err = grow(r)) != PROTO_OK) {
            proto_detail_set(detail, "roster", "more than %u cards", PROTO_ROSTER_MAX);
            goto out;
        }
        card_line = lineno;
        if ((err = parse_card(&cursor, &lineno, &r->entries[r->count], detail)) != PROTO_OK)
            goto out;
        if ((err = place_card(r, &r->entries[r->count], open_section, card_line, detail)) !=
            PROTO_OK)
            goto out;
        r->count++;
    }
    if (open_section != NULL) {
        proto_detail_set(detail, "roster", "line %zu: section %s not closed with 'signature'",
                         lineno, open_section->nation);
        err = PROTO_ERR_SYNTAX;
        goto out;
    }
    if (!have_header) {
        proto_detail_set(detail, "roster", "empty roster (no '%s' line)", ROSTER_HEADER);
        err = PROTO_ERR_SYNTAX;
        goto out;
    }
    if ((err = check_entries(r, detail)) != PROTO_OK)
        goto out;
    *roster_out = r;
    r = NULL;
out:
    free(copy);
    proto_roster_destroy(&r);
    return err;
}

proto_err
proto_roster_load(const char *path, proto_roster **roster_out, proto_detail *detail)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    proto_err err;

    if (f == NULL) {
        proto_detail_set(detail, path, "cannot open roster %s: %s", path, strerror(errno));
        return PROTO_ERR_IO;
    }
    /* The roster decides who may connect: a file or directory others can
     * write would let them add themselves. */
    err = proto_file_check_writers(fileno(f), path, "roster", detail);
    if (err != PROTO_OK) {
        fclose(f);
        return err;
    }
    buf = proto_alloc(PROTO_ROSTER_TEXT_MAX + 1);
    if (buf == NULL) {
        fclose(f);
        return PROTO_ERR_NOMEM;
    }
    len = fread(buf, 1, PROTO_ROSTER_TEXT_MAX + 1, f);
    if (ferror(f)) {
        proto_detail_set(detail, path, "cannot read roster %s: %s", path, strerror(errno));
        err = PROTO_ERR_IO;
    } else {
        err = proto_roster_parse(buf, len, roster_out, detail);
        if (err != PROTO_OK && detail != NULL) {
            char text[sizeof(detail->text)];

            memcpy(text, detail->text, sizeof(text));
            proto_detail_set(detail, path, "%s: %s", path, text);
        }
    }
    free(buf);
    fclose(f);
    return err;
}

size_t
proto_roster_count(const proto_roster *r)
{
    return r->count;
}

const proto_roster_entry *
proto_roster_at(const proto_roster *r, size_t i)
{
    return i < r->count ? &r->entries[i] : NULL;
}

const proto_roster_entry *
proto_roster_find(const proto_roster *r, const proto_addr *addr)
{
    const proto_roster_entry *revoked = NULL;

    for (size_t i = 0; i < r->count; i++) {
        if (proto_addr_equal(&r->entries[i].card.addr, addr)) {
            if (!r->entries[i].revoked)
                return &r->entries[i];
            revoked = &r->entries[i];
        }
    }
    return revoked;
}

const proto_roster_entry *
proto_roster_find_curve(const proto_roster *r, const uint8_t curve_public[PROTO_CURVE_KEY_BYTES])
{
    for (size_t i = 0; i < r->count; i++) {
        if (memcmp(r->entries[i].card.curve_public, curve_public, PROTO_CURVE_KEY_BYTES) == 0)
            return &r->entries[i];
    }
    return NULL;
}

bool
proto_roster_accepts(const proto_roster_entry *e, const char *kind)
{
    for (size_t i = 0; i < e->accept_count; i++) {
        if (proto_kind_matches(e->accepts[i], kind))
            return true;
    }
    return false;
}

void
proto_roster_hash(const proto_roster *r, uint8_t out[PROTO_HASH_BYTES])
{
    memcpy(out, r->hash, PROTO_HASH_BYTES);
}

/* Appends formatted text; false (and *used unchanged) if it does not fit. */
static bool PROTO_PRINTF(4, 5)
append(char *buf, size_t cap, size_t *used, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf + *used, cap - *used, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *used)
        return false;
    *used += (size_t)n;
    return true;
}

/* Appends card e: "card", its lines in canonical order, "end". */
static bool
append_card(char *buf, size_t cap, size_t *used, const proto_roster_entry *e)
{
    char card[512];
    bool ok;

    ok = proto_card_format(&e->card, card, sizeof(card)) == PROTO_OK &&
         append(buf, cap, used, "card\n%s", strchr(card, '\n') + 1);
    if (ok && e->accept_count > 0) {
        ok = append(buf, cap, used, "accepts");
        for (size_t k = 0; ok && k < e->accept_count; k++)
            ok = append(buf, cap, used, " %s", e->accepts[k]);
        ok = ok && append(buf, cap, used, "\n");
    }
    if (ok && e->revoked)
        ok = append(buf, cap, used, "revoked %llu%s%s\n", (unsigned long long)e->revoked_ms,
                    e->reason[0] ? " " : "", e->reason);
    return ok && append(buf, cap, used, "end\n");
}

/* Appends section s: its canonical text when canonical (no blank lines, no
 * signature), else as a roster file shows it (a blank line before "nation"
 * and before each card, then the signature). */
static bool
append_section(char *buf, size_t cap, size_t *used, const proto_roster *r,
               const roster_section *s, bool canonical)
{
    const char *gap = canonical ? "" : "\n";
    bool ok;

    ok = append(buf, cap, used, "%snation %s\nserial %llu\n", gap, s->nation,
                (unsigned long long)s->serial);
    for (size_t i = 0; ok && i < r->count; i++) {
        if (strcmp(r->entries[i].card.addr.nation, s->nation) == 0)
            ok = append(buf, cap, used, "%s", gap) &&
                 append_card(buf, cap, used, &r->entries[i]);
    }
    if (ok && !canonical) {
        char hex[2 * PROTO_SIGNATURE_BYTES + 1];

        ok = append(buf, cap, used, "signature %s\n",
                    proto_hex(s->signature, PROTO_SIGNATURE_BYTES, hex));
    }
    return ok;
}

/* Bytes that hold the text of the whole roster (and so of any part). */
static size_t
text_cap(const proto_roster *r)
{
    /* A card's text, its accepts and its revocation fit in 2 KiB; a
     * section's own lines in 256 bytes. */
    return 64 + r->count * 2048 + r->section_count * 256;
}

/* SHA-256 of the canonical text of section s. */
static proto_err
section_hash(const proto_roster *r, const roster_section *s, uint8_t out[PROTO_HASH_BYTES])
{
    size_t cap = text_cap(r), used = 0;
    char *buf = proto_alloc(cap);

    if (buf == NULL)
        return PROTO_ERR_NOMEM;
    if (!append_section(buf, cap, &used, r, s, true)) {
        free(buf);
        return PROTO_ERR_LIMIT;
    }
    proto_sha256((const uint8_t *)buf, used, out);
    free(buf);
    return PROTO_OK;
}

/* signed_input = "liaison roster v1" || 0x00 || SHA-256(canonical text). */
static proto_err
signed_input(const proto_roster *r, const roster_section *s, uint8_t out[SIGNED_INPUT_BYTES])
{
    memcpy(out, SIGN_CONTEXT, sizeof(SIGN_CONTEXT));
    return section_hash(r, s, out + sizeof(SIGN_CONTEXT));
}

proto_err
proto_roster_format(const proto_roster *r, char **text_out, size_t *len_out)
{
    size_t cap = text_cap(r), used = 0;
    char *buf;
    bool ok;

    for (size_t i = 0; i < r->section_count; i++) {
        if (!r->sections[i].has_signature)
            return PROTO_ERR_UNSIGNED;
    }
    buf = proto_alloc(cap);
    if (buf == NULL)
        return PROTO_ERR_NOMEM;
    ok = append(buf, cap, &used, "%s\n", ROSTER_HEADER);
    for (size_t i = 0; ok && i < r->count; i++) {
        if (section_of(r, r->entries[i].card.addr.nation) == NULL)
            ok = append(buf, cap, &used, "\n") && append_card(buf, cap, &used, &r->entries[i]);
    }
    for (size_t i = 0; ok && i < r->section_count; i++)
        ok = append_section(buf, cap, &used, r, &r->sections[i], false);
    if (!ok) {
        free(buf);
        return PROTO_ERR_LIMIT;
    }
    *text_out = buf;
    *len_out = used;
    return PROTO_OK;
}

/* A card of nation changed: its section's signature no longer holds. */
static void
unseal(proto_roster *r, const char *nation)
{
    roster_section *s = section_of(r, nation);

    if (s != NULL)
        s->has_signature = false;
}

proto_err
proto_roster_add(proto_roster *r, const proto_roster_entry *e, proto_detail *detail)
{
    proto_err err;

    if ((err = grow(r)) != PROTO_OK)
        return err;
    r->entries[r->count++] = *e;
    err = check_entries(r, detail);
    if (err != PROTO_OK)
        r->count--;
    else
        unseal(r, e->card.addr.nation);
    return err;
}

proto_err
proto_roster_revoke(proto_roster *r, const proto_addr *addr, uint64_t when_ms, const char *reason)
{
    for (size_t i = 0; i < r->count; i++) {
        proto_roster_entry *e = &r->entries[i];

        if (proto_addr_equal(&e->card.addr, addr) && !e->revoked) {
            e->revoked = true;
            e->revoked_ms = when_ms;
            snprintf(e->reason, sizeof(e->reason), "%s", reason != NULL ? reason : "");
            for (char *c = e->reason; *c; c++) {
                if (*c == '\n' || *c == '\r')
                    *c = ' ';
            }
            unseal(r, e->card.addr.nation);
            return PROTO_OK;
        }
    }
    return PROTO_ERR_INVALID;
}

/* ---- Sections ------------------------------------------------------------ */

size_t
proto_roster_section_count(const proto_roster *r)
{
    return r->section_count;
}

bool
proto_roster_section_at(const proto_roster *r, size_t i, char nation_out[4], uint64_t *serial_out,
                        bool *signed_out)
{
    if (i >= r->section_count)
        return false;
    if (nation_out != NULL)
        memcpy(nation_out, r->sections[i].nation, PROTO_NATION_LEN + 1);
    if (serial_out != NULL)
        *serial_out = r->sections[i].serial;
    if (signed_out != NULL)
        *signed_out = r->sections[i].has_signature;
    return true;
}

bool
proto_roster_section_find(const proto_roster *r, const char *nation, uint64_t *serial_out,
                          bool *signed_out)
{
    const roster_section *s = section_of(r, nation);

    if (s == NULL)
        return false;
    if (serial_out != NULL)
        *serial_out = s->serial;
    if (signed_out != NULL)
        *signed_out = s->has_signature;
    return true;
}

size_t
proto_roster_section_cards(const proto_roster *r, const char *nation)
{
    size_t n = 0;

    if (section_of(r, nation) == NULL)
        return 0;
    for (size_t i = 0; i < r->count; i++) {
        if (strcmp(r->entries[i].card.addr.nation, nation) == 0)
            n++;
    }
    return n;
}

proto_err
proto_roster_section_hash(const proto_roster *r, const char *nation, uint8_t out[PROTO_HASH_BYTES])
{
    const roster_section *s = section_of(r, nation);

    return s == NULL ? PROTO_ERR_NOT_FOUND : section_hash(r, s, out);
}

proto_err
proto_roster_section_verify(const proto_roster *r, const char *nation,
                            const uint8_t sign_public[PROTO_SIGN_PUBLIC_BYTES])
{
    const roster_section *s = section_of(r, nation);
    uint8_t input[SIGNED_INPUT_BYTES];
    proto_err err;

    if (s == NULL)
        return PROTO_ERR_NOT_FOUND;
    if (!s->has_signature)
        return PROTO_ERR_SIGNATURE;
    if ((err = signed_input(r, s, input)) != PROTO_OK)
        return err;
    return proto_sign_verify(s->signature, input, sizeof(input), sign_public);
}

proto_err
proto_roster_section_sign(proto_roster *r, const proto_nation_key *key, proto_detail *detail)
{
    roster_section *s = section_of(r, key->nation);
    roster_section saved;
    uint8_t input[SIGNED_INPUT_BYTES];
    bool created = false;
    proto_err err;

    if (s == NULL) {
        if ((err = grow_sections(r)) != PROTO_OK) {
            proto_detail_set(detail, "roster", "too many sections");
            return err;
        }
        s = &r->sections[r->section_count++];
        memset(s, 0, sizeof(*s));
        memcpy(s->nation, key->nation, PROTO_NATION_LEN + 1);
        created = true;
    } else if (s->serial >= PROTO_ROSTER_SERIAL_MAX) {
        proto_detail_set(detail, "roster", "section %s: serial %llu cannot grow", s->nation,
                         (unsigned long long)s->serial);
        return PROTO_ERR_LIMIT;
    }
    saved = *s;
    s->serial++;
    err = signed_input(r, s, input);
    if (err != PROTO_OK) {
        proto_detail_set(detail, "roster", "section %s: %s", s->nation, proto_strerror(err));
        if (created)
            r->section_count--;
        else
            *s = saved;
        return err;
    }
    proto_sign(s->signature, input, sizeof(input), key->sign_secret);
    s->has_signature = true;
    return PROTO_OK;
}

proto_err
proto_roster_section_text(const proto_roster *r, const char *nation, char **text_out,
                          size_t *len_out)
{
    const roster_section *s = section_of(r, nation);
    size_t cap = text_cap(r), used = 0;
    char *buf;

    if (s == NULL)
        return PROTO_ERR_NOT_FOUND;
    if (!s->has_signature)
        return PROTO_ERR_UNSIGNED;
    buf = proto_alloc(cap);
    if (buf == NULL)
        return PROTO_ERR_NOMEM;
    if (!append(buf, cap, &used, "%s\n", ROSTER_HEADER) ||
        !append_section(buf, cap, &used, r, s, false)) {
        free(buf);
        return PROTO_ERR_LIMIT;
    }
    *text_out = buf;
    *len_out = used;
    return PROTO_OK;
}

proto_err
proto_roster_section_replace(proto_roster *dst, const proto_roster *src, const char *nation,
                             proto_detail *detail)
{
    const roster_section *from = section_of(src, nation);
    roster_section *sections = NULL;
    proto_roster tmp;
    size_t n = 0, k;
    proto_err err = PROTO_OK;

    if (from == NULL) {
        proto_detail_set(detail, "roster", "no section of %s to take", nation);
        return PROTO_ERR_NOT_FOUND;
    }
    if (!from->has_signature) {
        proto_detail_set(detail, "roster", "the section of %s to take is not signed", nation);
        return PROTO_ERR_UNSIGNED;
    }
    memset(&tmp, 0, sizeof(tmp));
    for (size_t i = 0; i < dst->count; i++)
        n += strcmp(dst->entries[i].card.addr.nation, nation) != 0;
    for (size_t i = 0; i < src->count; i++)
        n += strcmp(src->entries[i].card.addr.nation, nation) == 0;
    if (n > PROTO_ROSTER_MAX || dst->section_count + 1 > PROTO_ROSTER_MAX) {
        proto_detail_set(detail, "roster", "more than %u cards", PROTO_ROSTER_MAX);
        return PROTO_ERR_LIMIT;
    }
    tmp.entries = proto_alloc((n > 0 ? n : 1) * sizeof(*tmp.entries));
    sections = proto_alloc((dst->section_count + 1) * sizeof(*sections));
    if (tmp.entries == NULL || sections == NULL) {
        err = PROTO_ERR_NOMEM;
        goto out;
    }
    tmp.cap = n > 0 ? n : 1;
    for (size_t i = 0; i < dst->count; i++) {
        if (strcmp(dst->entries[i].card.addr.nation, nation) != 0)
            tmp.entries[tmp.count++] = dst->entries[i];
    }
    for (size_t i = 0; i < src->count; i++) {
        if (strcmp(src->entries[i].card.addr.nation, nation) == 0)
            tmp.entries[tmp.count++] = src->entries[i];
    }
    if ((err = check_entries(&tmp, detail)) != PROTO_OK)
        goto out;
    if (dst->section_count > 0)
        memcpy(sections, dst->sections, dst->section_count * sizeof(*sections));
    for (k = 0; k < dst->section_count && strcmp(sections[k].nation, nation) != 0; k++)
        ;
    sections[k] = *from;
    tmp.sections = sections;
    tmp.section_count = k == dst->section_count ? k + 1 : dst->section_count;
    tmp.section_cap = dst->section_count + 1;
    sections = NULL;
    memcpy(tmp.hash, dst->hash, sizeof(tmp.hash));
    free(dst->entries);
    free(dst->sections);
    *dst = tmp;
    tmp.entries = NULL;
out:
    free(tmp.entries);
    free(sections);
    return err;
}

bool
proto_roster_has_unsigned(const proto_roster *r)
{
    for (size_t i = 0; i < r->count; i++) {
        if (section_of(r, r->entries[i].card.addr.nation) == NULL)
            return true;
    }
    return false;
}

bool
proto_roster_entry_signed(const proto_roster *r, const proto_roster_entry *e)
{
    return section_of(r, e->card.addr.nation) != NULL;
}
