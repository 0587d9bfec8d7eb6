/* Security and handling labels: canonical text form and binary form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_int.h"

static const char *const class_names[PROTO_CLASS_COUNT] = {
    "UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP SECRET",
};

/* Words a custom caveat may not take, because they mean something else. */
static const char *const reserved[] = {
    "UNCLASSIFIED", "RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP", "LES", "ORCON",
    "NOFORN", "REL", "HANDLING", "RESTRICT", "EVAL", "ORIGIN", "BASIS", "OFFENCE", "PURPOSE",
};

static const struct {
    const char *name;
    uint8_t bit;
} handling_codes[] = {
    {"CRIME-ONLY", PROTO_LABEL_CRIME_ONLY},
    {"NO-COURT", PROTO_LABEL_NO_COURT},
    {"NO-ONWARD", PROTO_LABEL_NO_ONWARD},
};

const char *
proto_class_name(uint8_t level)
{
    return level < PROTO_CLASS_COUNT ? class_names[level] : NULL;
}

void
proto_labels_clear(proto_labels *labels)
{
    memset(labels, 0, sizeof(*labels));
}

static bool
token_valid(const char *s, size_t n)
{
    if (n == 0 || n > PROTO_TOKEN_MAX || !(s[0] >= 'A' && s[0] <= 'Z'))
        return false;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];

        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
            return false;
    }
    return s[n - 1] != '-';
}

static bool
token_reserved(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strlen(reserved[i]) == n && memcmp(reserved[i], s, n) == 0)
            return true;
    }
    return false;
}

static bool
basis_valid(const char *s, size_t n)
{
    if (n > PROTO_BASIS_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

        if (!alnum && (i == 0 || (c != '-' && c != '.' && c != '_')))
            return false;
    }
    return true;
}

bool
proto_text_valid(const char *s, size_t n)
{
    if (n == 0)
        return true;
    if (s[0] == ' ' || s[n - 1] == ' ' || s[0] == '/' || s[n - 1] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e)
            return false;
        if (s[i] == '/' && i + 1 < n && s[i + 1] == '/')
            return false;
    }
    return true;
}

/* Strictly ascending byte order of fixed-size token arrays. */
static bool
ascending(const char *arr, size_t stride, size_t count)
{
    for (size_t i = 1; i < count; i++) {
        if (strcmp(arr + (i - 1) * stride, arr + i * stride) >= 0)
            return false;
    }
    return true;
}

proto_err
proto_labels_check(const proto_labels *l, proto_detail *detail)
{
    if (l->classification >= PROTO_CLASS_COUNT) {
        proto_detail_set(detail, "labels.classification", "unknown classification level %u",
                         l->classification);
        return PROTO_ERR_LIMIT;
    }
    if (l->flags & ~PROTO_LABEL_FLAGS_ALL) {
        proto_detail_set(detail, "labels.flags", "unknown label flag bits 0x%02x",
                         l->flags & ~PROTO_LABEL_FLAGS_ALL);
        return PROTO_ERR_LIMIT;
    }
    if (!(l->source_grade == 0 || l->source_grade == 'A' || l->source_grade == 'B' ||
          l->source_grade == 'C' || l->source_grade == 'X') ||
        l->info_grade > 4 || ((l->source_grade == 0) != (l->info_grade == 0))) {
        proto_detail_set(detail, "labels.eval",
                         "reliability grades must be both absent or source A/B/C/X and "
                         "information 1-4");
        return PROTO_ERR_LIMIT;
    }
    if (l->origin[0] != '\0' && !proto_nation_valid(l->origin)) {
        proto_detail_set(detail, "labels.origin", "origin must be a 3-letter nation code");
        return PROTO_ERR_SYNTAX;
    }
    if (l->rel_to_count > PROTO_REL_TO_MAX) {
        proto_detail_set(detail, "labels.rel_to", "REL TO lists %u nations, at most %u",
                         l->rel_to_count, PROTO_REL_TO_MAX);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < l->rel_to_count; i++) {
        if (!proto_nation_valid(l->rel_to[i])) {
            proto_detail_set(detail, "labels.rel_to", "REL TO entry %zu is not a nation code",
                             i + 1);
            return PROTO_ERR_SYNTAX;
        }
    }
    if (!ascending(&l->rel_to[0][0], sizeof(l->rel_to[0]), l->rel_to_count)) {
        proto_detail_set(detail, "labels.rel_to",
                         "REL TO nations must be sorted and appear once each");
        return PROTO_ERR_NONCANONICAL;
    }
    if ((l->flags & PROTO_LABEL_NOFORN) && l->rel_to_count > 0) {
        proto_detail_set(detail, "labels", "NOFORN and REL TO contradict each other");
        return PROTO_ERR_SYNTAX;
    }
    if (l->caveat_count > PROTO_CAVEATS_MAX || l->offence_count > PROTO_OFFENCES_MAX) {
        proto_detail_set(detail, "labels", "at most %u caveats and %u offence categories",
                         PROTO_CAVEATS_MAX, PROTO_OFFENCES_MAX);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < l->caveat_count; i++) {
        const char *t = l->caveats[i];
        size_t n = strnlen(t, sizeof(l->caveats[i]));

        if (!token_valid(t, n) || token_reserved(t, n)) {
            char shown[PROTO_ESCAPED_MAX(40)]; /* escaped: it came from a peer */

            proto_detail_set(detail, "labels.caveats",
                             "caveat '%s' is not a token of A-Z, 0-9 and '-' (1-%u) or is "
                             "a reserved word",
                             proto_text_escape(t, n > 40 ? 40 : n, shown, sizeof(shown)),
                             PROTO_TOKEN_MAX);
            return PROTO_ERR_SYNTAX;
        }
    }
    if (!ascending(&l->caveats[0][0], sizeof(l->caveats[0]), l->caveat_count)) {
        proto_detail_set(detail, "labels.caveats", "caveats must be sorted and appear once each");
        return PROTO_ERR_NONCANONICAL;
    }
    for (size_t i = 0; i < l->offence_count; i++) {
        const char *t = l->offences[i];
        size_t n = strnlen(t, sizeof(l->offences[i]));

        if (!token_valid(t, n)) {
            char shown[PROTO_ESCAPED_MAX(40)]; /* escaped: it came from a peer */

            proto_detail_set(detail, "labels.offences",
                             "offence '%s' is not a token of A-Z, 0-9 and '-' (1-%u)",
                             proto_text_escape(t, n > 40 ? 40 : n, shown, sizeof(shown)),
                             PROTO_TOKEN_MAX);
            return PROTO_ERR_SYNTAX;
        }
    }
    if (!ascending(&l->offences[0][0], sizeof(l->offences[0]), l->offence_count)) {
        proto_detail_set(detail, "labels.offences",
                         "offence categories must be sorted and appear once each");
        return PROTO_ERR_NONCANONICAL;
    }
    if (!basis_valid(l->basis, strnlen(l->basis, sizeof(l->basis)))) {
        proto_detail_set(detail, "labels.basis",
                         "legal basis must be A-Z, 0-9, '-', '.', '_' (at most %u)",
                         PROTO_BASIS_MAX);
        return PROTO_ERR_SYNTAX;
    }
    if (!proto_text_valid(l->restriction, strnlen(l->restriction, sizeof(l->restriction))) ||
        strnlen(l->restriction, sizeof(l->restriction)) > PROTO_RESTRICT_MAX) {
        proto_detail_set(detail, "labels.restriction",
                         "restriction must be printable ASCII without '//' or edge spaces "
                         "(at most %u)",
                         PROTO_RESTRICT_MAX);
        return PROTO_ERR_SYNTAX;
    }
    if (!proto_text_valid(l->purpose, strnlen(l->purpose, sizeof(l->purpose))) ||
        strnlen(l->purpose, sizeof(l->purpose)) > PROTO_PURPOSE_MAX) {
        proto_detail_set(detail, "labels.purpose",
                         "purpose must be printable ASCII without '//' or edge spaces "
                         "(at most %u)",
                         PROTO_PURPOSE_MAX);
        return PROTO_ERR_SYNTAX;
    }
    return PROTO_OK;
}

/* ---- Text form ---------------------------------------------------------- */

static int
cmp_token(const void *a, const void *b)
{
    return strcmp(a, b);
}

static proto_err
add_token(char *arr, size_t stride, uint8_t *count, size_t max, const char *s, size_t n,
          proto_detail *detail, const char *what)
{
    if (*count >= max) {
        proto_detail_set(detail, what, "more than %zu %s", max, what);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < *count; i++) {
        if (strlen(arr + i * stride) == n && memcmp(arr + i * stride, s, n) == 0) {
            char shown[PROTO_ESCAPED_MAX(40)]; /* escaped: it came from a peer */

            proto_detail_set(detail, what, "%s '%s' appears twice", what,
                             proto_text_escape(s, n > 40 ? 40 : n, shown, sizeof(shown)));
            return PROTO_ERR_SYNTAX;
        }
    }
    memcpy(arr + *count * stride, s, n);
    arr[*count * stride + n] = '\0';
    (*count)++;
    return PROTO_OK;
}

/* Splits s (n bytes) at commas, trimming one optional space after each. */
typedef proto_err (*item_fn)(void *ctx, const char *s, size_t n, proto_detail *detail);

static proto_err
each_item(const char *s, size_t n, item_fn fn, void *ctx, proto_detail *detail, const char *seg)
{
    size_t start = 0;

    if (n == 0) {
        proto_detail_set(detail, seg, "'%s' needs at least one item", seg);
        return PROTO_ERR_SYNTAX;
    }
    for (size_t i = 0; i <= n; i++) {
        if (i == n || s[i] == ',') {
            proto_err err;

            if (i == start) {
                proto_detail_set(detail, seg, "empty item in '%s'", seg);
                return PROTO_ERR_SYNTAX;
            }
            err = fn(ctx, s + start, i - start, detail);
            if (err != PROTO_OK)
                return err;
            start = i + 1;
            if (start < n && s[start] == ' ')
                start++;
        }
    }
    return PROTO_OK;
}

static proto_err
add_nation(void *ctx, const char *s, size_t n, proto_detail *detail)
{
    proto_labels *l = ctx;
    char nation[PROTO_NATION_LEN + 1];

    if (n != PROTO_NATION_LEN) {
        char shown[PROTO_ESCAPED_MAX(24)]; /* escaped: it came from a peer */

        proto_detail_set(detail, "REL TO", "'%s' is not a 3-letter nation code",
                         proto_text_escape(s, n > 24 ? 24 : n, shown, sizeof(shown)));
        return PROTO_ERR_SYNTAX;
    }
    memcpy(nation, s, n);
    nation[n] = '\0';
    if (!proto_nation_valid(nation)) {
        proto_detail_set(detail, "REL TO", "'%s' is not an upper-case nation code", nation);
        return PROTO_ERR_SYNTAX;
    }
    return add_token(&l->rel_to[0][0], sizeof(l->rel_to[0]), &l->rel_to_count, PROTO_REL_TO_MAX,
                     s, n, detail, "REL TO nations");
}

static proto_err
add_offence(void *ctx, const char *s, size_t n, proto_detail *detail)
{
    proto_labels *l = ctx;

    if (!token_valid(s, n)) {
        char shown[PROTO_ESCAPED_MAX(32)]; /* escaped: it came from a peer */

        proto_detail_set(detail, "OFFENCE", "'%s' is not a token of A-Z, 0-9 and '-' (1-%u)",
                         proto_text_escape(s, n > 32 ? 32 : n, shown, sizeof(shown)),
                         PROTO_TOKEN_MAX);
        return PROTO_ERR_SYNTAX;
    }
    return add_token(&l->offences[0][0], sizeof(l->offences[0]), &l->offence_count,
                     PROTO_OFFENCES_MAX, s, n, detail, "offence categories");
}

static proto_err
add_handling(void *ctx, const char *s, size_t n, proto_detail *detail)
{
    proto_labels *l = ctx;
    char shown[PROTO_ESCAPED_MAX(32)]; /* escaped: it came from a peer */

    for (size_t i = 0; i < sizeof(handling_codes) / sizeof(handling_codes[0]); i++) {
        if (strlen(handling_codes[i].name) == n && memcmp(handling_codes[i].name, s, n) == 0) {
            if (l->flags & handling_codes[i].bit) {
                proto_detail_set(detail, "HANDLING", "handling code '%s' appears twice",
                                 handling_codes[i].name);
                return PROTO_ERR_SYNTAX;
            }
            l->flags |= handling_codes[i].bit;
            return PROTO_OK;
        }
    }
    proto_detail_set(detail, "HANDLING",
                     "unknown handling code '%s' (CRIME-ONLY, NO-COURT, NO-ONWARD)",
                     proto_text_escape(s, n > 32 ? 32 : n, shown, sizeof(shown)));
    return PROTO_ERR_SYNTAX;
}

static bool
has_prefix(const char *s, size_t n, const char *prefix)
{
    size_t p = strlen(prefix);

    return n >= p && memcmp(s, prefix, p) == 0;
}

static proto_err
set_text(char *dst, size_t max, const char *s, size_t n, proto_detail *detail, const char *what,
         bool (*valid)(const char *, size_t))
{
    if (dst[0] != '\0') {
        proto_detail_set(detail, what, "%s given twice", what);
        return PROTO_ERR_SYNTAX;
    }
    if (n == 0) {
        proto_detail_set(detail, what, "%s is empty", what);
        return PROTO_ERR_SYNTAX;
    }
    if (n > max) {
        proto_detail_set(detail, what, "%s has %zu characters, at most %zu", what, n, max);
        return PROTO_ERR_LIMIT;
    }
    if (!valid(s, n)) {
        char shown[PROTO_ESCAPED_MAX(40)]; /* escaped: it came from a peer */

        proto_detail_set(detail, what, "%s '%s' has characters that are not allowed", what,
                         proto_text_escape(s, n > 40 ? 40 : n, shown, sizeof(shown)));
        return PROTO_ERR_SYNTAX;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return PROTO_OK;
}

static proto_err
set_flag(proto_labels *l, uint8_t bit, const char *name, proto_detail *detail)
{
    if (l->flags & bit) {
        proto_detail_set(detail, name, "%s appears twice", name);
        return PROTO_ERR_SYNTAX;
    }
    l->flags |= bit;
    return PROTO_OK;
}

static proto_err
parse_segment(proto_labels *l, const char *s, size_t n, bool *have_class, proto_detail *detail)
{
    char shown[PROTO_ESCAPED_MAX(40)]; /* escaped: it came from a peer */

    for (uint8_t c = 0; c < PROTO_CLASS_COUNT; c++) {
        if (strlen(class_names[c]) == n && memcmp(class_names[c], s, n) == 0) {
            if (*have_class) {
                proto_detail_set(detail, "classification", "more than one classification");
                return PROTO_ERR_SYNTAX;
            }
            *have_class = true;
            l->classification = c;
            return PROTO_OK;
        }
    }
    if (n == 3 && memcmp(s, "LES", 3) == 0)
        return set_flag(l, PROTO_LABEL_LES, "LES", detail);
    if (n == 5 && memcmp(s, "ORCON", 5) == 0)
        return set_flag(l, PROTO_LABEL_ORCON, "ORCON", detail);
    if (n == 6 && memcmp(s, "NOFORN", 6) == 0)
        return set_flag(l, PROTO_LABEL_NOFORN, "NOFORN", detail);
    if (n == 6 && memcmp(s, "REL TO", 6) == 0) {
        proto_detail_set(detail, "REL TO", "'REL TO' needs at least one nation");
        return PROTO_ERR_SYNTAX;
    }
    if (has_prefix(s, n, "REL TO ")) {
        if (l->rel_to_count > 0) {
            proto_detail_set(detail, "REL TO", "REL TO given twice");
            return PROTO_ERR_SYNTAX;
        }
        return each_item(s + 7, n - 7, add_nation, l, detail, "REL TO");
    }
    if (has_prefix(s, n, "HANDLING:"))
        return each_item(s + 9, n - 9, add_handling, l, detail, "HANDLING");
    if (has_prefix(s, n, "OFFENCE:")) {
        if (l->offence_count > 0) {
            proto_detail_set(detail, "OFFENCE", "OFFENCE given twice");
            return PROTO_ERR_SYNTAX;
        }
        return each_item(s + 8, n - 8, add_offence, l, detail, "OFFENCE");
    }
    if (has_prefix(s, n, "RESTRICT:"))
        return set_text(l->restriction, PROTO_RESTRICT_MAX, s + 9, n - 9, detail, "RESTRICT",
                        proto_text_valid);
    if (has_prefix(s, n, "PURPOSE:"))
        return set_text(l->purpose, PROTO_PURPOSE_MAX, s + 8, n - 8, detail, "PURPOSE",
                        proto_text_valid);
    if (has_prefix(s, n, "BASIS:"))
        return set_text(l->basis, PROTO_BASIS_MAX, s + 6, n - 6, detail, "BASIS", basis_valid);
    if (has_prefix(s, n, "ORIGIN:")) {
        if (l->origin[0] != '\0') {
            proto_detail_set(detail, "ORIGIN", "ORIGIN given twice");
            return PROTO_ERR_SYNTAX;
        }
        if (n != 7 + PROTO_NATION_LEN) {
            proto_detail_set(detail, "ORIGIN", "ORIGIN takes one 3-letter nation code");
            return PROTO_ERR_SYNTAX;
        }
        memcpy(l->origin, s + 7, PROTO_NATION_LEN);
        l->origin[PROTO_NATION_LEN] = '\0';
        if (!proto_nation_valid(l->origin)) {
            proto_detail_set(detail, "ORIGIN", "ORIGIN '%s' is not an upper-case nation code",
                             l->origin);
            return PROTO_ERR_SYNTAX;
        }
        return PROTO_OK;
    }
    if (has_prefix(s, n, "EVAL:")) {
        if (l->source_grade != 0) {
            proto_detail_set(detail, "EVAL", "EVAL given twice");
            return PROTO_ERR_SYNTAX;
        }
        if (n != 7 || !strchr("ABCX", s[5]) || s[5] == '\0' || s[6] < '1' || s[6] > '4') {
            proto_detail_set(detail, "EVAL",
                             "EVAL takes a source grade A, B, C or X and an information "
                             "grade 1-4, e.g. EVAL:B2");
            return PROTO_ERR_SYNTAX;
        }
        l->source_grade = (uint8_t)s[5];
        l->info_grade = (uint8_t)(s[6] - '0');
        return PROTO_OK;
    }
    if (token_valid(s, n) && !token_reserved(s, n))
        return add_token(&l->caveats[0][0], sizeof(l->caveats[0]), &l->caveat_count,
                         PROTO_CAVEATS_MAX, s, n, detail, "caveats");
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 'a' && s[i] <= 'z') {
            proto_detail_set(detail, "labels", "'%s': markings are upper case",
                             proto_text_escape(s, n > 40 ? 40 : n, shown, sizeof(shown)));
            return PROTO_ERR_SYNTAX;
        }
    }
    proto_detail_set(detail, "labels", "'%s' is not a known marking or caveat token",
                     proto_text_escape(s, n > 40 ? 40 : n, shown, sizeof(shown)));
    return PROTO_ERR_SYNTAX;
}

proto_err
proto_labels_parse(const char *text, proto_labels *labels_out, proto_detail *detail)
{
    proto_labels l;
    size_t len = strnlen(text, PROTO_LABELS_TEXT_MAX + 1);
    size_t start = 0;
    bool have_class = false;
    proto_err err;

    if (len > PROTO_LABELS_TEXT_MAX) {
        proto_detail_set(detail, "labels", "label text longer than %u characters",
                         PROTO_LABELS_TEXT_MAX);
        return PROTO_ERR_LIMIT;
    }
    proto_labels_clear(&l);
    if (len == 0) {
        proto_detail_set(detail, "labels", "label text is empty (write UNCLASSIFIED for none)");
        return PROTO_ERR_SYNTAX;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i == len || (text[i] == '/' && i + 1 < len && text[i + 1] == '/')) {
            size_t a = start, b = i;

            while (a < b && text[a] == ' ')
                a++;
            while (b > a && text[b - 1] == ' ')
                b--;
            if (a == b) {
                proto_detail_set(detail, "labels", "empty segment between '//' at offset %zu",
                                 start);
                return PROTO_ERR_SYNTAX;
            }
            err = parse_segment(&l, text + a, b - a, &have_class, detail);
            if (err != PROTO_OK)
                return err;
            if (i == len)
                break;
            i++;
            start = i + 1;
        }
    }
    qsort(l.rel_to, l.rel_to_count, sizeof(l.rel_to[0]), cmp_token);
    qsort(l.caveats, l.caveat_count, sizeof(l.caveats[0]), cmp_token);
    qsort(l.offences, l.offence_count, sizeof(l.offences[0]), cmp_token);
    err = proto_labels_check(&l, detail);
    if (err != PROTO_OK)
        return err;
    *labels_out = l;
    return PROTO_OK;
}

typedef struct outbuf {
    char *p;
    size_t cap;
    size_t len;
    bool overflow;
    bool first;
} outbuf;

static void
put(outbuf *o, const char *s)
{
    size_t n = strlen(s);

    if (o->overflow || o->cap - o->len <= n) {
        o->overflow = true;
        return;
    }
    memcpy(o->p + o->len, s, n + 1);
    o->len += n;
}

static void
seg(outbuf *o, const char *s)
{
    if (!o->first)
        put(o, "//");
    o->first = false;
    put(o, s);
}

proto_err
proto_labels_format(const proto_labels *l, char *buf, size_t buf_len)
{
    outbuf o = {buf, buf_len, 0, false, true};

    if (buf_len == 0)
        return PROTO_ERR_LIMIT;
    buf[0] = '\0';
    if (l->classification >= PROTO_CLASS_COUNT)
        return PROTO_ERR_INVALID;
    if (l->classification != PROTO_CLASS_UNCLASSIFIED)
        seg(&o, class_names[l->classification]);
    if (l->flags & PROTO_LABEL_LES)
        seg(&o, "LES");
    if (l->flags & PROTO_LABEL_ORCON)
        seg(&o, "ORCON");
    if (l->flags & PROTO_LABEL_NOFORN)
        seg(&o, "NOFORN");
    if (l->rel_to_count > 0) {
        seg(&o, "REL TO ");
        for (size_t i = 0; i < l->rel_to_count; i++) {
            if (i > 0)
                put(&o, ",");
            put(&o, l->rel_to[i]);
        }
    }
    for (size_t i = 0; i < l->caveat_count; i++)
        seg(&o, l->caveats[i]);
    if (l->flags & (PROTO_LABEL_CRIME_ONLY | PROTO_LABEL_NO_COURT | PROTO_LABEL_NO_ONWARD)) {
        bool first = true;

        seg(&o, "HANDLING:");
        for (size_t i = 0; i < sizeof(handling_codes) / sizeof(handling_codes[0]); i++) {
            if (l->flags & handling_codes[i].bit) {
                if (!first)
                    put(&o, ",");
                put(&o, handling_codes[i].name);
                first = false;
            }
        }
    }
    if (l->restriction[0] != '\0') {
        seg(&o, "RESTRICT:");
        put(&o, l->restriction);
    }
    if (l->source_grade != 0) {
        char eval[12];

        snprintf(eval, sizeof(eval), "EVAL:%c%u", l->source_grade, l->info_grade);
        seg(&o, eval);
    }
    if (l->origin[0] != '\0') {
        seg(&o, "ORIGIN:");
        put(&o, l->origin);
    }
    if (l->basis[0] != '\0') {
        seg(&o, "BASIS:");
        put(&o, l->basis);
    }
    if (l->offence_count > 0) {
        seg(&o, "OFFENCE:");
        for (size_t i = 0; i < l->offence_count; i++) {
            if (i > 0)
                put(&o, ",");
            put(&o, l->offences[i]);
        }
    }
    if (l->purpose[0] != '\0') {
        seg(&o, "PURPOSE:");
        put(&o, l->purpose);
    }
    if (o.first)
        seg(&o, class_names[PROTO_CLASS_UNCLASSIFIED]);
    return o.overflow ? PROTO_ERR_LIMIT : PROTO_OK;
}

bool
proto_labels_releasable_to(const proto_labels *l, const char *home, const char *nation)
{
    if (strcmp(home, nation) == 0)
        return true;
    if (l->flags & PROTO_LABEL_NOFORN)
        return false;
    if (l->rel_to_count == 0)
        return true;
    for (size_t i = 0; i < l->rel_to_count; i++) {
        if (strcmp(l->rel_to[i], nation) == 0)
            return true;
    }
    return false;
}

/* ---- Binary form -------------------------------------------------------- */

size_t
proto_labels_encoded_len(const proto_labels *l)
{
    size_t n = 5 + PROTO_NATION_LEN + 1 + (size_t)l->rel_to_count * PROTO_NATION_LEN + 1 + 1;

    for (size_t i = 0; i < l->caveat_count; i++)
        n += 1 + strlen(l->caveats[i]);
    for (size_t i = 0; i < l->offence_count; i++)
        n += 1 + strlen(l->offences[i]);
    n += 1 + strlen(l->basis) + 1 + strlen(l->restriction) + 1 + strlen(l->purpose);
    return n;
}

void
proto_labels_encode(proto_wr *wr, const proto_labels *l)
{
    proto_wr_u8(wr, l->classification);
    proto_wr_u8(wr, l->flags);
    proto_wr_u8(wr, l->source_grade);
    proto_wr_u8(wr, l->info_grade);
    proto_wr_u8(wr, 0); /* reserved, must be zero */
    if (l->origin[0] != '\0')
        proto_wr_bytes(wr, l->origin, PROTO_NATION_LEN);
    else
        proto_wr_bytes(wr, "\0\0\0", PROTO_NATION_LEN);
    proto_wr_u8(wr, l->rel_to_count);
    for (size_t i = 0; i < l->rel_to_count; i++)
        proto_wr_bytes(wr, l->rel_to[i], PROTO_NATION_LEN);
    proto_wr_u8(wr, l->caveat_count);
    for (size_t i = 0; i < l->caveat_count; i++)
        proto_wr_str8(wr, l->caveats[i], strlen(l->caveats[i]));
    proto_wr_u8(wr, l->offence_count);
    for (size_t i = 0; i < l->offence_count; i++)
        proto_wr_str8(wr, l->offences[i], strlen(l->offences[i]));
    proto_wr_str8(wr, l->basis, strlen(l->basis));
    proto_wr_str8(wr, l->restriction, strlen(l->restriction));
    proto_wr_str8(wr, l->purpose, strlen(l->purpose));
}

static proto_err
read_strings(proto_rd *rd, char *arr, size_t stride, uint8_t *count, size_t max,
             const char *field)
{
    proto_err err = proto_rd_u8(rd, field, count);

    if (err != PROTO_OK)
        return err;
    if (*count > max) {
        proto_detail_set(rd->detail, field, "%s: %u entries, at most %zu", field, *count, max);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < *count; i++) {
        proto_slice s;

        err = proto_rd_str8(rd, field, stride - 1, &s);
        if (err != PROTO_OK)
            return err;
        memcpy(arr + i * stride, s.data, s.len);
        arr[i * stride + s.len] = '\0';
        if (memchr(s.data, '\0', s.len) != NULL) {
            proto_detail_set(rd->detail, field, "%s: entry %zu contains a NUL byte", field, i);
            return PROTO_ERR_SYNTAX;
        }
    }
    return PROTO_OK;
}

proto_err
proto_labels_read(proto_rd *rd, proto_labels *out, const char *field)
{
    proto_labels l;
    uint8_t reserved_byte;
    const uint8_t *origin;
    proto_err err;

    (void)field;
    memset(&l, 0, sizeof(l));
    if ((err = proto_rd_u8(rd, "labels.classification", &l.classification)) != PROTO_OK ||
        (err = proto_rd_u8(rd, "labels.flags", &l.flags)) != PROTO_OK ||
        (err = proto_rd_u8(rd, "labels.source_grade", &l.source_grade)) != PROTO_OK ||
        (err = proto_rd_u8(rd, "labels.info_grade", &l.info_grade)) != PROTO_OK ||
        (err = proto_rd_u8(rd, "labels.reserved", &reserved_byte)) != PROTO_OK ||
        (err = proto_rd_bytes(rd, "labels.origin", PROTO_NATION_LEN, &origin)) != PROTO_OK ||
        (err = proto_rd_u8(rd, "labels.rel_to_count", &l.rel_to_count)) != PROTO_OK)
        return err;
    if (reserved_byte != 0) {
        proto_detail_set(rd->detail, "labels.reserved", "reserved byte must be zero");
        return PROTO_ERR_NONCANONICAL;
    }
    if (origin[0] != 0 || origin[1] != 0 || origin[2] != 0) {
        memcpy(l.origin, origin, PROTO_NATION_LEN);
        l.origin[PROTO_NATION_LEN] = '\0';
        if (!proto_nation_valid(l.origin)) {
            proto_detail_set(rd->detail, "labels.origin", "origin is not a nation code (or zero)");
            return PROTO_ERR_SYNTAX;
        }
    }
    if (l.rel_to_count > PROTO_REL_TO_MAX) {
        proto_detail_set(rd->detail, "labels.rel_to_count", "REL TO lists %u nations, at most %u",
                         l.rel_to_count, PROTO_REL_TO_MAX);
        return PROTO_ERR_LIMIT;
    }
    for (size_t i = 0; i < l.rel_to_count; i++) {
        const uint8_t *p;

        err = proto_rd_bytes(rd, "labels.rel_to", PROTO_NATION_LEN, &p);
        if (err != PROTO_OK)
            return err;
        memcpy(l.rel_to[i], p, PROTO_NATION_LEN);
        l.rel_to[i][PROTO_NATION_LEN] = '\0';
    }
    if ((err = read_strings(rd, &l.caveats[0][0], sizeof(l.caveats[0]), &l.caveat_count,
                            PROTO_CAVEATS_MAX, "labels.caveats")) != PROTO_OK ||
        (err = read_strings(rd, &l.offences[0][0], sizeof(l.offences[0]), &l.offence_count,
                            PROTO_OFFENCES_MAX, "labels.offences")) != PROTO_OK ||
        (err = proto_rd_text(rd, "labels.basis", PROTO_BASIS_MAX, l.basis)) != PROTO_OK ||
        (err = proto_rd_text(rd, "labels.restriction", PROTO_RESTRICT_MAX, l.restriction)) !=
            PROTO_OK ||
        (err = proto_rd_text(rd, "labels.purpose", PROTO_PURPOSE_MAX, l.purpose)) != PROTO_OK)
        return err;
    err = proto_labels_check(&l, rd->detail);
    if (err != PROTO_OK)
        return err;
    *out = l;
    return PROTO_OK;
}

proto_err
proto_labels_decode(const uint8_t *buf, size_t len, proto_labels *labels_out,
                    proto_detail *detail)
{
    proto_rd rd = {buf, len, detail};
    proto_labels l;
    proto_err err;

    if (buf == NULL && len > 0)
        return PROTO_ERR_INVALID;
    err = proto_labels_read(&rd, &l, "labels");
    if (err != PROTO_OK)
        return err;
    err = proto_rd_end(&rd, "labels");
    if (err != PROTO_OK)
        return err;
    *labels_out = l;
    return PROTO_OK;
}
