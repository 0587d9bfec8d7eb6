/* Name and document matching for the agent: folding tables, Jaro-Winkler, token assignment. */
#include <string.h>

#include "match.h"

/* ---- Tables ---------------------------------------------------------------- */

/*
 * Latin-1 Supplement and Latin Extended-A, U+00C0 .. U+017F: what each
 * letter folds to (lower case, diacritics removed).  NULL marks the two
 * symbols of the block (U+00D7 x, U+00F7 /), which separate tokens.
 */
static const char *const latin_fold[0x180 - 0xC0] = {
    /* C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* D0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "ss",
    /* E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i", "i",
    /* F0 */ "d", "n", "o", "o", "o", "o", "o", NULL, "o", "u", "u", "u", "u", "y", "th", "y",
    /* 100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c", "c", "c", "d", "d",
    /* 110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e", "g", "g", "g", "g",
    /* 120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i", "i", "i", "i", "i",
    /* 130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l", "l", "l", "l", "l",
    /* 140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n", "o", "o", "o", "o",
    /* 150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s", "s", "s", "s", "s",
    /* 160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u", "u", "u", "u", "u",
    /* 170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z", "z", "z", "z", "s",
};

/*
 * Cyrillic U+0400 .. U+042F (upper case; U+0430 .. U+045F are the same
 * letters in lower case): a simplified BGN/PCGN romanisation.  "" drops
 * the letter (hard and soft signs).
 */
static const char *const cyrillic_upper[0x30] = {
    /* 400 */ "e", "e", "dj", "g", "ye", "dz", "i", "yi", "j", "lj", "nj", "c", "k", "i", "u", "dz",
    /* 410 */ "a", "b", "v", "g", "d", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p",
    /* 420 */ "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya",
};

/*
 * Greek U+0386 .. U+03CE, after ELOT 743 (simplified): accented letters
 * fold to their base.  NULL: not a letter (kept as a separator).  The
 * digraph "ου" becomes "ou" (handled in the folding loop).
 */
static const char *const greek[0x3CF - 0x386] = {
    /* 386 */ "a", NULL, "e", "i", "i", NULL, "o", NULL, "y", "o",
    /* 390 */ "i", "a", "v", "g", "d", "e", "z", "i", "th", "i", "k", "l", "m", "n", "x", "o",
    /* 3A0 */ "p", "r", NULL, "s", "t", "y", "f", "ch", "ps", "o", "i", "y", "a", "e", "i", "i",
    /* 3B0 */ "y", "a", "v", "g", "d", "e", "z", "i", "th", "i", "k", "l", "m", "n", "x", "o",
    /* 3C0 */ "p", "r", "s", "s", "t", "y", "f", "ch", "ps", "o", "i", "y", "o", "y", "o",
};

/* ---- UTF-8 ------------------------------------------------------------------ */

/* Decodes one code point at s (n bytes left); *used gets its length.
 * Invalid or overlong sequences give U+FFFD (a separator) and length 1. */
static uint32_t
utf8_next(const unsigned char *s, size_t n, size_t *used)
{
    uint32_t cp;
    size_t len;

    *used = 1;
    if (s[0] < 0x80)
        return s[0];
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = s[0] & 0x07;
    } else {
        return 0xFFFD;
    }
    if (len > n)
        return 0xFFFD;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0xFFFD;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0xFFFD;
    *used = len;
    return cp;
}

/* Encodes cp into out (4 bytes); returns the length. */
static size_t
utf8_put(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* ---- Folding ------------------------------------------------------------------ */

/* What one code point becomes. */
enum fold_kind {
    FOLD_SEPARATOR = 0, /* ends the current token */
    FOLD_DROP = 1,      /* vanishes without ending the token (apostrophes, marks) */
    FOLD_TEXT = 2,      /* replaced by ASCII text */
    FOLD_KEEP = 3,      /* kept as it is (scripts without a table) */
};

/* Every ASCII letter and digit as a one-character string (letters in lower case). */
static const char ascii_text[] = "a\0b\0c\0d\0e\0f\0g\0h\0i\0j\0k\0l\0m\0n\0o\0p\0q\0r\0s\0t\0u\0v\0"
                                 "w\0x\0y\0z\0" "0\0001\0002\0003\0004\0005\0006\0007\0008\0009";

/* Classifies cp (next is the code point after it, for digraphs); *text gets
 * the replacement for FOLD_TEXT, and *consumed_next is 1 if next was used. */
static enum fold_kind
fold(uint32_t cp, uint32_t next, const char **text, size_t *consumed_next)
{
    *consumed_next = 0;
    if (cp >= 'a' && cp <= 'z') {
        *text = ascii_text + 2 * (cp - 'a');
        return FOLD_TEXT;
    }
    if (cp >= 'A' && cp <= 'Z') {
        *text = ascii_text + 2 * (cp - 'A');
        return FOLD_TEXT;
    }
    if (cp >= '0' && cp <= '9') {
        *text = ascii_text + 52 + 2 * (cp - '0');
        return FOLD_TEXT;
    }
    /* Apostrophes join: O'Brien is obrien. */
    if (cp == '\'' || cp == '`' || cp == 0x2019 || cp == 0x2018 || cp == 0x02BC || cp == 0x00B4)
        return FOLD_DROP;
    if (cp < 0xC0)
        return FOLD_SEPARATOR; /* ASCII punctuation, controls, Latin-1 symbols */
    if (cp < 0x180) {
        *text = latin_fold[cp - 0xC0];
        return *text != NULL ? FOLD_TEXT : FOLD_SEPARATOR;
    }
    /* Combining diacritical marks (decomposed input): dropped. */
    if (cp >= 0x0300 && cp <= 0x036F)
        return FOLD_DROP;
    if (cp >= 0x0386 && cp <= 0x03CE) {
        /* ου (either case) is "ou", not "oy". */
        if ((cp == 0x03BF || cp == 0x039F) && (next == 0x03C5 || next == 0x03A5 || next == 0x03CD)) {
            *consumed_next = 1;
            *text = "ou";
            return FOLD_TEXT;
        }
        *text = greek[cp - 0x386];
        return *text != NULL ? FOLD_TEXT : FOLD_SEPARATOR;
    }
    if (cp >= 0x0400 && cp <= 0x042F) {
        *text = cyrillic_upper[cp - 0x400];
        return FOLD_TEXT;
    }
    if (cp >= 0x0430 && cp <= 0x044F) {
        *text = cyrillic_upper[cp - 0x430 + 0x10];
        return FOLD_TEXT;
    }
    if (cp >= 0x0450 && cp <= 0x045F) {
        *text = cyrillic_upper[cp - 0x450];
        return FOLD_TEXT;
    }
    if (cp == 0x0490 || cp == 0x0491) {
        *text = "g";
        return FOLD_TEXT;
    }
    /* General punctuation, spaces, symbols, and invalid bytes separate. */
    if ((cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 || cp == 0xFFFD || cp == 0xFEFF ||
        (cp >= 0x2190 && cp <= 0x2BFF))
        return FOLD_SEPARATOR;
    return FOLD_KEEP;
}

void
match_name_parse(const char *name, match_name *out)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t n = name != NULL ? strnlen(name, MATCH_NAME_BYTES_MAX) : 0;
    size_t i = 0;
    bool in_token = false;

    memset(out, 0, sizeof(*out));
    while (i < n && out->count < MATCH_TOKENS_MAX) {
        size_t used, used_next = 0, skip;
        uint32_t cp = utf8_next(s + i, n - i, &used);
        uint32_t next = i + used < n ? utf8_next(s + i + used, n - i - used, &used_next) : 0;
        const char *text = NULL;
        enum fold_kind k = fold(cp, next, &text, &skip);

        i += used + (skip ? used_next : 0);
        if (k == FOLD_DROP)
            continue;
        if (k == FOLD_SEPARATOR) {
            if (in_token)
                out->count++;
            in_token = false;
            continue;
        }
        if (k == FOLD_TEXT && text[0] == '\0')
            continue;
        in_token = true;
        if (k == FOLD_KEEP) {
            if (out->lens[out->count] < MATCH_TOKEN_CHARS_MAX)
                out->tokens[out->count][out->lens[out->count]++] = cp;
            continue;
        }
        for (const char *t = text; *t != '\0'; t++) {
            if (out->lens[out->count] < MATCH_TOKEN_CHARS_MAX)
                out->tokens[out->count][out->lens[out->count]++] = (unsigned char)*t;
        }
    }
    if (in_token && out->count < MATCH_TOKENS_MAX)
        out->count++;
}

char *
match_name_normalise(const char *name, char *buf, size_t buf_len)
{
    match_name m;
    size_t used = 0;

    if (buf_len == 0)
        return buf;
    match_name_parse(name, &m);
    for (size_t t = 0; t < m.count; t++) {
        char tmp[4];

        if (t > 0) {
            if (used + 1 >= buf_len)
                break;
            buf[used++] = ' ';
        }
        for (size_t k = 0; k < m.lens[t]; k++) {
            size_t len = utf8_put(m.tokens[t][k], tmp);

            if (used + len >= buf_len)
                goto out;
            memcpy(buf + used, tmp, len);
            used += len;
        }
    }
out:
    buf[used] = '\0';
    return buf;
}

/* ---- Packing and skeletons ------------------------------------------------------ */

size_t
match_name_pack(const match_name *m, uint8_t *out)
{
    size_t used = 1;

    out[0] = (uint8_t)m->count;
    for (size_t t = 0; t < m->count; t++) {
        size_t at = used + 2;

        for (size_t k = 0; k < m->lens[t]; k++)
            at += utf8_put(m->tokens[t][k], (char *)out + at);
        out[used] = m->flags[t];
        out[used + 1] = (uint8_t)(at - used - 2);
        used = at;
    }
    return used;
}

bool
match_name_unpack(const uint8_t *in, size_t len, match_name *m)
{
    size_t at = 1;

    memset(m, 0, sizeof(*m));
    if (len == 0 || in[0] > MATCH_TOKENS_MAX)
        return false;
    for (size_t t = 0; t < in[0]; t++) {
        size_t bytes, end;

        if (at + 2 > len || at + 2 + (bytes = in[at + 1]) > len)
            goto bad;
        m->flags[t] = in[at];
        end = at + 2 + bytes;
        for (at += 2; at < end;) {
            size_t used;

            if (m->lens[t] == MATCH_TOKEN_CHARS_MAX)
                goto bad;
            m->tokens[t][m->lens[t]++] = utf8_next(in + at, end - at, &used);
            at += used;
        }
        m->count++;
    }
    if (at == len)
        return true;
bad:
    memset(m, 0, sizeof(*m));
    return false;
}

size_t
match_token_skeleton(const uint32_t *token, size_t len, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 1 < MATCH_SKELETON_MAX; i++) {
        uint32_t c = token[i];
        char ch;

        if (c >= '0' && c <= '9') {
            ch = (char)c;
        } else if (c >= 'a' && c <= 'z') {
            if (strchr("aeiouy", (int)c) != NULL)
                continue;
            ch = (char)c;
            /* One sound, several spellings: q and c as k, ph as f. */
            if (ch == 'q' || ch == 'c')
                ch = 'k';
            if (ch == 'p' && i + 1 < len && token[i + 1] == 'h') {
                ch = 'f';
                i++;
            }
        } else {
            continue; /* letters of other scripts have no skeleton */
        }
        if (n > 0 && out[n - 1] == ch)
            continue;
        out[n++] = ch;
    }
    out[n] = '\0';
    return n;
}

/* ---- Jaro-Winkler ------------------------------------------------------------ */

#define JW_MAX 256u           /* characters compared; longer strings are cut */
#define JW_PREFIX_SCALE 0.1   /* Winkler's p */
#define JW_PREFIX_MAX 4u      /* Winkler's prefix cap */
#define JW_BOOST_THRESHOLD 0.7 /* Winkler's boost applies at or above this Jaro */

double
match_jaro_winkler(const uint32_t *a, size_t a_len, const uint32_t *b, size_t b_len)
{
    bool a_hit[JW_MAX], b_hit[JW_MAX];
    size_t window, matches = 0, transpositions = 0, prefix = 0, k = 0;
    double jaro;

    if (a_len > JW_MAX)
        a_len = JW_MAX;
    if (b_len > JW_MAX)
        b_len = JW_MAX;
    if (a_len == 0 && b_len == 0)
        return 1.0;
    if (a_len == 0 || b_len == 0)
        return 0.0;
    window = (a_len > b_len ? a_len : b_len) / 2;
    window = window > 0 ? window - 1 : 0;
    memset(a_hit, 0, a_len);
    memset(b_hit, 0, b_len);
    for (size_t i = 0; i < a_len; i++) {
        size_t lo = i > window ? i - window : 0;
        size_t hi = i + window + 1 < b_len ? i + window + 1 : b_len;

        for (size_t j = lo; j < hi; j++) {
            if (!b_hit[j] && a[i] == b[j]) {
                a_hit[i] = b_hit[j] = true;
                matches++;
                break;
            }
        }
    }
    if (matches == 0)
        return 0.0;
    for (size_t i = 0; i < a_len; i++) {
        if (!a_hit[i])
            continue;
        while (!b_hit[k])
            k++;
        if (a[i] != b[k])
            transpositions++;
        k++;
    }
    jaro = ((double)matches / (double)a_len + (double)matches / (double)b_len +
            ((double)matches - (double)transpositions / 2.0) / (double)matches) /
           3.0;
    if (jaro < JW_BOOST_THRESHOLD)
        return jaro;
    while (prefix < JW_PREFIX_MAX && prefix < a_len && prefix < b_len && a[prefix] == b[prefix])
        prefix++;
    return jaro + (double)prefix * JW_PREFIX_SCALE * (1.0 - jaro);
}

double
match_jaro_winkler_utf8(const char *a, const char *b)
{
    uint32_t ca[JW_MAX], cb[JW_MAX];
    size_t na = 0, nb = 0, used;
    size_t la = strlen(a), lb = strlen(b);

    for (size_t i = 0; i < la && na < JW_MAX; i += used)
        ca[na++] = utf8_next((const unsigned char *)a + i, la - i, &used);
    for (size_t i = 0; i < lb && nb < JW_MAX; i += used)
        cb[nb++] = utf8_next((const unsigned char *)b + i, lb - i, &used);
    return match_jaro_winkler(ca, na, cb, nb);
}

/* ---- Names ---------------------------------------------------------------------- */

#define TOKEN_FLOOR 0.70          /* a token pair below this counts as no match */
#define INITIAL_SCORE 0.85        /* "J" against "John" */
#define EXTRA_TOKEN_PENALTY 0.05  /* per token of the longer name left unmatched */
#define SINGLE_TOKEN_FACTOR 0.80  /* a one-word name against a several-word name */
#define JOINED_LENGTH_RATIO 0.75  /* names run together are compared only if this close in length */

static double
token_similarity(const uint32_t *a, size_t a_len, const uint32_t *b, size_t b_len)
{
    double s;

    if ((a_len == 1 && b_len > 1 && a[0] == b[0]) || (b_len == 1 && a_len > 1 && a[0] == b[0]))
        return INITIAL_SCORE;
    s = match_jaro_winkler(a, a_len, b, b_len);
    return s < TOKEN_FLOOR ? 0.0 : s;
}

/*
 * The best one-to-one assignment of the tokens of small into those of
 * large (small has no more tokens than large): a dynamic programme over
 * the subsets of large's tokens (at most 2^12 states).  Each pair weighs
 * the length of small's token; when both names have as many tokens, every
 * token of both is in a pair, and a pair weighs the lengths of both
 * tokens, so that the score does not depend on which name is the query.
 */
static double
assignment_score(const match_name *small, const match_name *large)
{
    static const double unset = -1.0;
    bool both = small->count == large->count;
    double sim[MATCH_TOKENS_MAX][MATCH_TOKENS_MAX];
    double best[1u << MATCH_TOKENS_MAX];
    size_t states = (size_t)1 << large->count;
    double total_weight = 0.0, result = 0.0;

    for (size_t i = 0; i < small->count; i++) {
        total_weight += (double)small->lens[i] + (both ? (double)large->lens[i] : 0.0);
        for (size_t j = 0; j < large->count; j++)
            sim[i][j] = token_similarity(small->tokens[i], small->lens[i], large->tokens[j],
                                         large->lens[j]);
    }
    for (size_t s = 0; s < states; s++)
        best[s] = unset;
    best[0] = 0.0;
    for (size_t s = 0; s < states; s++) {
        size_t i = (size_t)__builtin_popcount((unsigned)s);

        if (best[s] == unset)
            continue;
        if (i == small->count) {
            if (best[s] > result)
                result = best[s];
            continue;
        }
        for (size_t j = 0; j < large->count; j++) {
            size_t t = s | ((size_t)1 << j);
            double weight = (double)small->lens[i] + (both ? (double)large->lens[j] : 0.0);
            double v;

            if (t == s)
                continue;
            v = best[s] + weight * sim[i][j];
            if (v > best[t])
                best[t] = v;
        }
    }
    return total_weight > 0.0 ? result / total_weight : 0.0;
}

/* Jaro-Winkler of the two names with their tokens run together in the
 * order given: "Abdel Rahman" against "Abdelrahman".  Only names of nearly
 * the same length are compared so (the shorter at least JOINED_LENGTH_RATIO
 * of the longer): "John" must not match "John Doe" as a prefix. */
static double
joined_score(const match_name *a, const match_name *b)
{
    uint32_t ja[MATCH_TOKENS_MAX * MATCH_TOKEN_CHARS_MAX], jb[MATCH_TOKENS_MAX * MATCH_TOKEN_CHARS_MAX];
    size_t na = 0, nb = 0;

    for (size_t t = 0; t < a->count; t++) {
        memcpy(ja + na, a->tokens[t], a->lens[t] * sizeof(uint32_t));
        na += a->lens[t];
    }
    for (size_t t = 0; t < b->count; t++) {
        memcpy(jb + nb, b->tokens[t], b->lens[t] * sizeof(uint32_t));
        nb += b->lens[t];
    }
    if ((double)(na < nb ? na : nb) < JOINED_LENGTH_RATIO * (double)(na < nb ? nb : na))
        return 0.0;
    return match_jaro_winkler(ja, na, jb, nb);
}

double
match_name_score_parsed(const match_name *a, const match_name *b)
{
    const match_name *small = a->count <= b->count ? a : b;
    const match_name *large = small == a ? b : a;
    double tokens, joined, factor;

    if (a->count == 0 || b->count == 0)
        return 0.0;
    tokens = assignment_score(small, large);
    if (small->count == 1 && large->count > 1)
        factor = SINGLE_TOKEN_FACTOR;
    else
        factor = 1.0 - EXTRA_TOKEN_PENALTY * (double)(large->count - small->count);
    if (factor < 0.0)
        factor = 0.0;
    tokens *= factor;
    joined = joined_score(a, b);
    return tokens > joined ? tokens : joined;
}

double
match_name_token_bound(size_t count_a, size_t count_b)
{
    size_t small = count_a < count_b ? count_a : count_b;
    size_t large = count_a < count_b ? count_b : count_a;
    double factor;

    if (small == 0)
        return 0.0;
    if (small == 1 && large > 1)
        return SINGLE_TOKEN_FACTOR;
    factor = 1.0 - EXTRA_TOKEN_PENALTY * (double)(large - small);
    return factor > 0.0 ? factor : 0.0;
}

double
match_name_score(const char *a, const char *b)
{
    match_name ma, mb;

    match_name_parse(a, &ma);
    match_name_parse(b, &mb);
    return match_name_score_parsed(&ma, &mb);
}

bool
match_is_hit(double score, double threshold)
{
    return score + 1e-9 >= threshold;
}

/* ---- Documents and dates ------------------------------------------------------------ */

bool
match_doc_normalise(const char *number, char *buf, size_t buf_len)
{
    size_t used = 0;

    if (buf_len == 0)
        return false;
    buf[0] = '\0';
    if (number == NULL)
        return false;
    for (const char *p = number; *p != '\0'; p++) {
        char ch = *p;

        if (ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')))
            continue;
        if (used + 1 >= buf_len) {
            buf[0] = '\0';
            return false;
        }
        buf[used++] = ch;
    }
    buf[used] = '\0';
    return used > 0;
}

/* ASCII case-insensitive equality. */
static bool
same_word(const char *a, const char *b)
{
    for (;; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a - 'A' + 'a') : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b - 'A' + 'a') : *b;

        if (x != y)
            return false;
        if (x == '\0')
            return true;
    }
}

static bool
given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

bool
match_doc_same(const char *number_a, const char *type_a, const char *country_a,
               const char *number_b, const char *type_b, const char *country_b)
{
    char na[MATCH_DOC_MAX], nb[MATCH_DOC_MAX];

    if (!match_doc_normalise(number_a, na, sizeof(na)) ||
        !match_doc_normalise(number_b, nb, sizeof(nb)) || strcmp(na, nb) != 0)
        return false;
    if (given(type_a) && given(type_b) && !same_word(type_a, type_b))
        return false;
    if (given(country_a) && given(country_b) && !same_word(country_a, country_b))
        return false;
    return true;
}

/* True if s is "YYYY", "YYYY-MM" or "YYYY-MM-DD" (digits only, no range check). */
static bool
date_shape(const char *s)
{
    static const char shape[] = "dddd-dd-dd";
    size_t n = strlen(s);

    if (n != 4 && n != 7 && n != 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != '-')
            return false;
    }
    return true;
}

match_date
match_date_compare(const char *a, const char *b)
{
    size_t la, lb;

    if (!given(a) || !given(b))
        return MATCH_DATE_ABSENT;
    if (!date_shape(a) || !date_shape(b))
        return strcmp(a, b) == 0 ? MATCH_DATE_SAME : MATCH_DATE_DIFFERENT;
    la = strlen(a);
    lb = strlen(b);
    return strncmp(a, b, la < lb ? la : lb) == 0 ? MATCH_DATE_SAME : MATCH_DATE_DIFFERENT;
}
