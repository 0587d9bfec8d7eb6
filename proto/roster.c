/* The roster: every identity of the federation, its public keys, the kinds
 * it accepts, and whether its keys are revoked. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

#define ROSTER_HEADER "liaison-roster 1"

struct proto_roster {
    proto_roster_entry *entries;      /* in file order */
    size_t count;                     /* entries in use */
    size_t cap;                       /* entries allocated */
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

void
proto_roster_destroy(proto_roster **r)
{
    if (r == NULL || *r == NULL)
        return;
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

proto_err
proto_roster_parse(const char *text, size_t len, proto_roster **roster_out, proto_detail *detail)
{
    proto_roster *r = NULL;
    char *copy = NULL, *cursor;
    size_t lineno = 0;
    bool have_header = false;
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
    copy = proto_alloc(len + 1);
    if (r == NULL || copy == NULL) {
        err = PROTO_ERR_NOMEM;
        goto out;
    }
    memset(r, 0, sizeof(*r));
    memcpy(copy, text, len);
    copy[len] = '\0';
    proto_sha256((const uint8_t *)text, len, r->hash);
    cursor = copy;
    while (*cursor != '\0') {
        char *line = cursor, *next = strchr(line, '\n');

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
        if (strcmp(line, "card") != 0) {
            proto_detail_set(detail, "roster", "line %zu: expected 'card', found '%.40s'",
                             lineno, line);
            err = PROTO_ERR_SYNTAX;
            goto out;
        }
        if ((err = grow(r)) != PROTO_OK) {
            proto_detail_set(detail, "roster", "more than %u cards", PROTO_ROSTER_MAX);
            goto out;
        }
        if ((err = parse_card(&cursor, &lineno, &r->entries[r->count], detail)) != PROTO_OK)
            goto out;
        r->count++;
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

proto_err
proto_roster_format(const proto_roster *r, char **text_out, size_t *len_out)
{
    /* A card's text, its accepts and its revocation fit in 2 KiB. */
    size_t cap = 64 + r->count * 2048, used = 0;
    char *buf = proto_alloc(cap);
    bool ok;

    if (buf == NULL)
        return PROTO_ERR_NOMEM;
    ok = append(buf, cap, &used, "%s\n", ROSTER_HEADER);
    for (size_t i = 0; ok && i < r->count; i++) {
        const proto_roster_entry *e = &r->entries[i];
        char card[512];

        ok = proto_card_format(&e->card, card, sizeof(card)) == PROTO_OK &&
             append(buf, cap, &used, "\ncard\n%s", strchr(card, '\n') + 1);
        if (ok && e->accept_count > 0) {
            ok = append(buf, cap, &used, "accepts");
            for (size_t k = 0; ok && k < e->accept_count; k++)
                ok = append(buf, cap, &used, " %s", e->accepts[k]);
            ok = ok && append(buf, cap, &used, "\n");
        }
        if (ok && e->revoked)
            ok = append(buf, cap, &used, "revoked %llu%s%s\n", (unsigned long long)e->revoked_ms,
                        e->reason[0] ? " " : "", e->reason);
        ok = ok && append(buf, cap, &used, "end\n");
    }
    if (!ok) {
        free(buf);
        return PROTO_ERR_LIMIT;
    }
    *text_out = buf;
    *len_out = used;
    return PROTO_OK;
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
            return PROTO_OK;
        }
    }
    return PROTO_ERR_INVALID;
}
