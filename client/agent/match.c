/* Name and document matching for the agent: ICU transliteration, Jaro-Winkler, skeletons, token assignment. */
#include <pthread.h>
#include <string.h>

#include <unicode/putil.h>
#include <unicode/uscript.h>
#include <unicode/utf16.h>
#include <unicode/utrans.h>

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
    FOLD_KEEP = 3,      /* another script: transliterated by ICU, else kept as it is */
};

/* Every ASCII letter and digit as a one-character string (letters in lower case). */
static const char ascii_text[] = "a\0b\0c\0d\0e\0f\0g\0h\0i\0j\0k\0l\0m\0n\0o\0p\0q\0r\0s\0t\0u\0v\0"
                                 "w\0x\0y\0z\0" "0\0001\0002\0003\0004\0005\0006\0007\0008\0009";

/* Classifies cp; *text gets the replacement for FOLD_TEXT. */
static enum fold_kind
fold(uint32_t cp, const char **text)
{
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
    /* Apostrophes join: O'Brien is obrien.  The modifier letters U+02BE and
     * U+02BF are the hamza and the ayin of a romanised Arabic name. */
    if (cp == '\'' || cp == '`' || cp == 0x2019 || cp == 0x2018 || cp == 0x02BC || cp == 0x00B4 ||
        cp == 0x02BE || cp == 0x02BF || cp == 0x02B9 || cp == 0x02BA)
        return FOLD_DROP;
    if (cp < 0xC0)
        return FOLD_SEPARATOR; /* ASCII punctuation, controls, Latin-1 symbols */
    if (cp < 0x180) {
        *text = latin_fold[cp - 0xC0];
        return *text != NULL ? FOLD_TEXT : FOLD_SEPARATOR;
    }
    /* Combining diacritical marks (decomposed input) and the katakana
     * prolonged sound mark (a long vowel, which Hepburn marks with a macron
     * that is folded away too): dropped. */
    if ((cp >= 0x0300 && cp <= 0x036F) || cp == 0x30FC)
        return FOLD_DROP;
    /* General punctuation, spaces, symbols, and invalid bytes separate. */
    if ((cp >= 0x2000 && cp <= 0x206F) || cp == 0x3000 || cp == 0x3001 || cp == 0x3002 ||
        cp == 0x30FB || cp == 0xFFFD || cp == 0xFEFF || (cp >= 0x2190 && cp <= 0x2BFF) ||
        cp == 0x060C || cp == 0x05BE || cp == 0xFF0C || cp == 0xFF0E)
        return FOLD_SEPARATOR;
    return FOLD_KEEP;
}

/* Appends the code points cps[0..n) to out, folded: separators end the
 * current token (*in_token says whether one is open), and every token
 * begun here gets flags. */
static void
fold_into(match_name *out, const uint32_t *cps, size_t n, uint8_t flags, bool *in_token)
{
    for (size_t i = 0; i < n && out->count < MATCH_TOKENS_MAX; i++) {
        const char *text = NULL;
        enum fold_kind k = fold(cps[i], &text);

        if (k == FOLD_DROP)
            continue;
        if (k == FOLD_SEPARATOR) {
            if (*in_token)
                out->count++;
            *in_token = false;
            continue;
        }
        if (k == FOLD_TEXT && text[0] == '\0')
            continue;
        if (!*in_token)
            out->flags[out->count] = flags;
        *in_token = true;
        if (k == FOLD_KEEP) {
            if (out->lens[out->count] < MATCH_TOKEN_CHARS_MAX)
                out->tokens[out->count][out->lens[out->count]++] = cps[i];
            continue;
        }
        for (const char *t = text; *t != '\0'; t++) {
            if (out->lens[out->count] < MATCH_TOKEN_CHARS_MAX)
                out->tokens[out->count][out->lens[out->count]++] = (unsigned char)*t;
        }
    }
}

/* ---- Transliteration (ICU) ---------------------------------------------------- */

/*
 * The one transform every word of another script goes through, by its ICU
 * ID: the ta marbuta and the tatweel of Arabic removed (the first is a
 * silent or "a"/"ah" ending that Latin forms mostly leave out, the second
 * is a stretch of a line), Russian after BGN/PCGN and Greek after UNGEGN
 * (ELOT 743) rather than the ISO 9 and ISO 843 forms of ICU's generic
 * Cyrillic and Greek transforms, which few passports use; then every other
 * script by ICU's default to Latin (Arabic-Latin, Hebrew-Latin, Han-Latin,
 * Hiragana-Latin, Katakana-Latin, Hangul-Latin ...) and the Latin
 * diacritics it leaves folded to ASCII.
 */
#define TRANSFORM_ID                                                                                \
    "NFC; [\\u0629\\u0640] Remove; Russian-Latin/BGN; Greek-Latin/UNGEGN; Any-Latin; Latin-ASCII"

/* UTF-16 units of a word given to ICU, and of what it gives back. */
#define TRANSLIT_UNITS_MAX 4096

/* The calling thread's transliterator: ICU's are not thread-safe, so each
 * thread opens its own on first use; the thread's exit closes it. */
static _Thread_local UTransliterator *thread_trans;
static _Thread_local bool thread_trans_failed;
static pthread_key_t trans_key;
static pthread_once_t trans_key_once = PTHREAD_ONCE_INIT;

static void
trans_close(void *trans)
{
    utrans_close(trans);
}

/* Without the key (no memory for it), a thread's transliterator is not
 * closed when the thread ends: a leak per thread, not a fault. */
static void
trans_key_create(void)
{
    (void)pthread_key_create(&trans_key, trans_close);
}

/* The thread's transliterator, opened on first use; NULL if ICU cannot
 * open it (then names of other scripts keep their code points). */
static UTransliterator *
trans_get(void)
{
    UChar id[sizeof(TRANSFORM_ID)];
    UErrorCode status = U_ZERO_ERROR;

    if (thread_trans != NULL || thread_trans_failed)
        return thread_trans;
    u_charsToUChars(TRANSFORM_ID, id, (int32_t)sizeof(TRANSFORM_ID));
    thread_trans = utrans_openU(id, -1, UTRANS_FORWARD, NULL, 0, NULL, &status);
    if (U_FAILURE(status) || thread_trans == NULL) {
        if (thread_trans != NULL)
            utrans_close(thread_trans);
        thread_trans = NULL;
        thread_trans_failed = true;
        return NULL;
    }
    (void)pthread_once(&trans_key_once, trans_key_create);
    (void)pthread_setspecific(trans_key, thread_trans);
    return thread_trans;
}

/* The script bit of cp (MATCH_SCRIPT_*), for a code point that fold keeps. */
static unsigned
script_bit(uint32_t cp)
{
    UErrorCode status = U_ZERO_ERROR;

    switch (uscript_getScript((UChar32)cp, &status)) {
    case USCRIPT_CYRILLIC:
        return MATCH_SCRIPT_CYRILLIC;
    case USCRIPT_GREEK:
        return MATCH_SCRIPT_GREEK;
    case USCRIPT_ARABIC:
        return MATCH_SCRIPT_ARABIC;
    case USCRIPT_HEBREW:
        return MATCH_SCRIPT_HEBREW;
    case USCRIPT_HAN:
        return MATCH_SCRIPT_HAN;
    case USCRIPT_HIRAGANA:
    case USCRIPT_KATAKANA:
        return MATCH_SCRIPT_KANA;
    case USCRIPT_HANGUL:
        return MATCH_SCRIPT_HANGUL;
    case USCRIPT_LATIN:
    case USCRIPT_COMMON:
    case USCRIPT_INHERITED:
        return MATCH_SCRIPT_LATIN;
    default:
        return MATCH_SCRIPT_OTHER;
    }
}

/* Transliterates cps[0..n) with ICU into out (out_max code points); false
 * if ICU is not available or the result does not fit. */
static bool
transliterate(const uint32_t *cps, size_t n, uint32_t *out, size_t out_max, size_t *out_len)
{
    UChar buf[TRANSLIT_UNITS_MAX];
    UTransliterator *trans = trans_get();
    UErrorCode status = U_ZERO_ERROR;
    int32_t len = 0, limit;

    if (trans == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (len + 2 > TRANSLIT_UNITS_MAX)
            return false;
        U16_APPEND_UNSAFE(buf, len, (UChar32)cps[i]);
    }
    limit = len;
    utrans_transUChars(trans, buf, &len, TRANSLIT_UNITS_MAX, 0, &limit, &status);
    if (U_FAILURE(status))
        return false;
    *out_len = 0;
    for (int32_t i = 0; i < len;) {
        UChar32 c;

        U16_NEXT(buf, i, len, c);
        if (*out_len == out_max)
            return false;
        out[(*out_len)++] = (uint32_t)c;
    }
    return true;
}

/* Hangul syllables (U+AC00 .. U+D7A3). */
static bool
hangul_syllable(uint32_t cp)
{
    return cp >= 0xAC00 && cp <= 0xD7A3;
}

/* Appends a word of another script (cps[0..n), no separator in it) to
 * out through ICU; *scripts gathers its scripts and *used_icu is set when
 * ICU transliterated it. */
static void
parse_foreign(match_name *out, const uint32_t *cps, size_t n, bool *in_token, unsigned *scripts,
              bool *used_icu)
{
    uint32_t latin[TRANSLIT_UNITS_MAX];
    unsigned seen = 0;
    uint8_t flags = MATCH_FLAG_TRANSLITERATED;
    size_t len, split = 0;
    bool all_hangul = true;

    for (size_t i = 0; i < n; i++) {
        const char *text;

        if (fold(cps[i], &text) == FOLD_KEEP)
            seen |= script_bit(cps[i]);
        all_hangul = all_hangul && hangul_syllable(cps[i]);
    }
    *scripts |= seen;
    if (seen & (MATCH_SCRIPT_ARABIC | MATCH_SCRIPT_HEBREW))
        flags |= MATCH_FLAG_ABJAD;
    if (seen & MATCH_SCRIPT_HANGUL)
        flags |= MATCH_FLAG_HANGUL;
    /* A Korean name is written surname first with no space: its first
     * syllable (the surname, in all but a few names) is a token of its own. */
    if (all_hangul && n >= 2 && n <= 4)
        split = 1;
    for (size_t part = 0; part < 2; part++) {
        const uint32_t *p = part == 0 ? cps : cps + split;
        size_t pn = split == 0 ? n : (part == 0 ? split : n - split);

        if (split == 0 && part == 1)
            break;
        if (transliterate(p, pn, latin, TRANSLIT_UNITS_MAX, &len)) {
            *used_icu = true;
            fold_into(out, latin, len, flags, in_token);
        } else {
            fold_into(out, p, pn, flags & (uint8_t)~MATCH_FLAG_TRANSLITERATED, in_token);
        }
        if (*in_token && out->count < MATCH_TOKENS_MAX)
            out->count++;
        *in_token = false;
    }
}

/* match_name_parse, gathering in *scripts the scripts seen and in *used_icu
 * whether ICU transliterated anything (both may be NULL). */
static void
parse(const char *name, match_name *out, unsigned *scripts, bool *used_icu)
{
    uint32_t cps[MATCH_NAME_BYTES_MAX];
    const unsigned char *s = (const unsigned char *)name;
    size_t n = name != NULL ? strnlen(name, MATCH_NAME_BYTES_MAX) : 0;
    size_t count = 0, used;
    unsigned seen = 0;
    bool icu = false, in_token = false;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i += used)
        cps[count++] = utf8_next(s + i, n - i, &used);
    for (size_t i = 0; i < count && out->count < MATCH_TOKENS_MAX;) {
        size_t end = i;
        bool foreign = false;

        /* A word: code points up to the next separator.  A word all in
         * Latin letters is folded by the table alone; ICU is not called. */
        for (; end < count; end++) {
            const char *text;
            enum fold_kind k = fold(cps[end], &text);

            if (k == FOLD_SEPARATOR)
                break;
            foreign = foreign || k == FOLD_KEEP;
        }
        if (end > i) {
            if (foreign) {
                if (in_token && out->count < MATCH_TOKENS_MAX)
                    out->count++;
                in_token = false;
                parse_foreign(out, cps + i, end - i, &in_token, &seen, &icu);
            } else {
                seen |= MATCH_SCRIPT_LATIN;
                fold_into(out, cps + i, end - i, 0, &in_token);
            }
        }
        if (end < count)
            fold_into(out, cps + end, 1, 0, &in_token); /* the separator */
        i = end + 1;
    }
    if (in_token && out->count < MATCH_TOKENS_MAX)
        out->count++;
    if (scripts != NULL)
        *scripts = seen;
    if (used_icu != NULL)
        *used_icu = icu;
}

void
match_name_parse(const char *name, match_name *out)
{
    parse(name, out, NULL, NULL);
}

/* Writes the tokens of m joined by spaces into buf (see match_name_normalise). */
static void
normalise_parsed(const match_name *m, char *buf, size_t buf_len)
{
    size_t used = 0;

    if (buf_len == 0)
        return;
    for (size_t t = 0; t < m->count; t++) {
        char tmp[4];

        if (t > 0) {
            if (used + 1 >= buf_len)
                break;
            buf[used++] = ' ';
        }
        for (size_t k = 0; k < m->lens[t]; k++) {
            size_t len = utf8_put(m->tokens[t][k], tmp);

            if (used + len >= buf_len)
                goto out;
            memcpy(buf + used, tmp, len);
            used += len;
        }
    }
out:
    buf[used] = '\0';
}

char *
match_name_normalise(const char *name, char *buf, size_t buf_len)
{
    match_name m;

    match_name_parse(name, &m);
    normalise_parsed(&m, buf, buf_len);
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

/* match_token_skeleton; with w_consonant, w is written b (as v) rather
 * than dropped: an abjad's waw is a long vowel or a consonant, and only
 * the name says which (Yusuf, David). */
static size_t
skeleton(const uint32_t *token, size_t len, bool w_consonant, char *out)
{
    size_t n = 0;

    for (size_t i = 0; i < len && n + 1 < MATCH_SKELETON_MAX; i++) {
        uint32_t c = token[i];
        char ch;

        if (c >= '0' && c <= '9') {
            ch = (char)c;
        } else if (c >= 'a' && c <= 'z') {
            /* Vowels, and the w and y that Arabic and Hebrew write for
             * long vowels, are not in a skeleton. */
            if (strchr("aeiouy", (int)c) != NULL || (c == 'w' && !w_consonant))
                continue;
            ch = (char)c;
            /* One sound, or one letter of an abjad or of Hangul, several
             * spellings: c, q and g as k; p, ph, f and v as b; t as d. */
            if (ch == 'p' && i + 1 < len && token[i + 1] == 'h')
                i++;
            if (ch == 'q' || ch == 'c' || ch == 'g')
                ch = 'k';
            else if (ch == 'p' || ch == 'f' || ch == 'v' || ch == 'w')
                ch = 'b';
            else if (ch == 't')
                ch = 'd';
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

size_t
match_token_skeleton(const uint32_t *token, size_t len, char *out)
{
    return skeleton(token, len, false, out);
}

/* ---- Jaro-Winkler ------------------------------------------------------------ */

#define JW_MAX 256u           /* characters compared; longer strings are cut */
#define JW_PREFIX_SCALE 0.1   /* Winkler's p */
#define JW_PREFIX_MAX 4u      /* Winkler's prefix cap */
#define JW_BOOST_THRESHOLD 0.7 /* Winkler's boost applies at or above this Jaro */

/* Jaro of two code-point strings, with Winkler's prefix boost when boost is true. */
static double
jaro(const uint32_t *a, size_t a_len, const uint32_t *b, size_t b_len, bool boost)
{
    bool a_hit[JW_MAX], b_hit[JW_MAX];
    size_t window, matches = 0, transpositions = 0, prefix = 0, k = 0;
    double jr;

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
    jr = ((double)matches / (double)a_len + (double)matches / (double)b_len +
          ((double)matches - (double)transpositions / 2.0) / (double)matches) /
         3.0;
    if (!boost || jr < JW_BOOST_THRESHOLD)
        return jr;
    while (prefix < JW_PREFIX_MAX && prefix < a_len && prefix < b_len && a[prefix] == b[prefix])
        prefix++;
    return jr + (double)prefix * JW_PREFIX_SCALE * (1.0 - jr);
}

double
match_jaro_winkler(const uint32_t *a, size_t a_len, const uint32_t *b, size_t b_len)
{
    return jaro(a, a_len, b, b_len, true);
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
#define SKELETON_SCALE 0.95       /* skeletons that agree: a token pair at most this similar */

/* Jaro-Winkler of two ASCII strings. */
static double
jw_ascii(const char *a, size_t a_len, const char *b, size_t b_len)
{
    uint32_t ca[MATCH_TOKENS_MAX * MATCH_SKELETON_MAX], cb[MATCH_TOKENS_MAX * MATCH_SKELETON_MAX];

    for (size_t i = 0; i < a_len; i++)
        ca[i] = (unsigned char)a[i];
    for (size_t i = 0; i < b_len; i++)
        cb[i] = (unsigned char)b[i];
    return match_jaro_winkler(ca, a_len, cb, b_len);
}

/*
 * The similarity of token i of x and token j of y; *how says how it was
 * reached and, for skeletons, ska and skb get them (MATCH_SKELETON_MAX
 * bytes each).  Tokens of an abjad or of Hangul on either side are also
 * compared by skeleton, the better of the two counting: "mhmd" (Arabic)
 * has the skeleton of "Mohammed", which Jaro-Winkler alone misses.
 */
static double
token_similarity(const match_name *x, size_t i, const match_name *y, size_t j, match_how *how,
                 char *ska, char *skb)
{
    const uint32_t *a = x->tokens[i], *b = y->tokens[j];
    size_t a_len = x->lens[i], b_len = y->lens[j];
    double s;

    if ((a_len == 1 && b_len > 1 && a[0] == b[0]) || (b_len == 1 && a_len > 1 && a[0] == b[0])) {
        *how = MATCH_HOW_INITIAL;
        return INITIAL_SCORE;
    }
    s = match_jaro_winkler(a, a_len, b, b_len);
    *how = MATCH_HOW_JARO_WINKLER;
    if ((x->flags[i] | y->flags[j]) & MATCH_FLAGS_SKELETON) {
        /* An abjad token's w is tried as a vowel, then as a consonant. */
        for (int v = 0; v < 4; v++) {
            bool wa = (v & 1) != 0, wb = (v & 2) != 0;
            char ta[MATCH_SKELETON_MAX], tb[MATCH_SKELETON_MAX];
            size_t la, lb;
            double k;

            if ((wa && !(x->flags[i] & MATCH_FLAG_ABJAD)) || (wb && !(y->flags[j] & MATCH_FLAG_ABJAD)))
                continue;
            la = skeleton(a, a_len, wa, ta);
            lb = skeleton(b, b_len, wb, tb);
            if (la == 0 || lb == 0)
                continue;
            k = SKELETON_SCALE * jw_ascii(ta, la, tb, lb);
            if (k > s) {
                s = k;
                *how = MATCH_HOW_SKELETON;
                memcpy(ska, ta, la + 1);
                memcpy(skb, tb, lb + 1);
            }
        }
    }
    if (s < TOKEN_FLOOR) {
        *how = MATCH_HOW_NONE;
        return 0.0;
    }
    return s;
}

/*
 * The best one-to-one assignment of the tokens of small into those of
 * large (small has no more tokens than large): a dynamic programme over
 * the subsets of large's tokens (at most 2^12 states).  Each pair weighs
 * the length of small's token; when both names have as many tokens, every
 * token of both is in a pair, and a pair weighs the lengths of both
 * tokens, so that the score does not depend on which name is the query.
 * With ex, the pairs chosen are written to it (indices as small, large;
 * the caller maps them to a, b).
 */
static double
assignment_score(const match_name *small, const match_name *large, match_explanation *ex)
{
    static const double unset = -1.0;
    bool both = small->count == large->count;
    double sim[MATCH_TOKENS_MAX][MATCH_TOKENS_MAX];
    match_how how[MATCH_TOKENS_MAX][MATCH_TOKENS_MAX];
    double best[1u << MATCH_TOKENS_MAX];
    uint8_t from[1u << MATCH_TOKENS_MAX]; /* the token of large added last, with ex */
    size_t states = (size_t)1 << large->count, result_state = 0;
    double total_weight = 0.0, result = 0.0;
    char ska[MATCH_SKELETON_MAX], skb[MATCH_SKELETON_MAX];

    for (size_t i = 0; i < small->count; i++) {
        total_weight += (double)small->lens[i] + (both ? (double)large->lens[i] : 0.0);
        for (size_t j = 0; j < large->count; j++)
            sim[i][j] = token_similarity(small, i, large, j, &how[i][j], ska, skb);
    }
    for (size_t s = 0; s < states; s++)
        best[s] = unset;
    best[0] = 0.0;
    for (size_t s = 0; s < states; s++) {
        size_t i = (size_t)__builtin_popcount((unsigned)s);

        if (best[s] == unset)
            continue;
        if (i == small->count) {
            if (best[s] > result) {
                result = best[s];
                result_state = s;
            }
            continue;
        }
        for (size_t j = 0; j < large->count; j++) {
            size_t t = s | ((size_t)1 << j);
            double weight = (double)small->lens[i] + (both ? (double)large->lens[j] : 0.0);
            double v;

            if (t == s)
                continue;
            v = best[s] + weight * sim[i][j];
            if (v > best[t]) {
                best[t] = v;
                if (ex != NULL)
                    from[t] = (uint8_t)j;
            }
        }
    }
    if (ex != NULL) {
        ex->pair_count = 0;
        for (size_t s = result_state; s != 0; s &= ~((size_t)1 << from[s])) {
            size_t i = (size_t)__builtin_popcount((unsigned)s) - 1, j = from[s];
            match_pair *p = &ex->pairs[i];

            p->a = i;
            p->b = j;
            p->similarity = token_similarity(small, i, large, j, &p->how, p->skeleton_a,
                                             p->skeleton_b);
            if (p->how != MATCH_HOW_SKELETON)
                p->skeleton_a[0] = p->skeleton_b[0] = '\0';
            ex->pair_count++;
        }
    }
    return total_weight > 0.0 ? result / total_weight : 0.0;
}

/* Jaro-Winkler of two names with their tokens run together in the order
 * given: "Abdel Rahman" against "Abdelrahman".  Only names of nearly the
 * same length are compared so (the shorter at least JOINED_LENGTH_RATIO of
 * the longer): "John" must not match "John Doe" as a prefix.  When either
 * name has a token of an abjad or of Hangul, the skeletons run together
 * are compared too (scaled as a token's), and *skeleton says whether they
 * gave the result. */
static double
joined_score(const match_name *a, const match_name *b, bool plain_too, bool *skeleton)
{
    uint32_t ja[MATCH_TOKENS_MAX * MATCH_TOKEN_CHARS_MAX], jb[MATCH_TOKENS_MAX * MATCH_TOKEN_CHARS_MAX];
    char sa[MATCH_TOKENS_MAX * MATCH_SKELETON_MAX], sb[MATCH_TOKENS_MAX * MATCH_SKELETON_MAX];
    size_t na = 0, nb = 0, ka = 0, kb = 0;
    uint8_t flags = 0;
    double plain = 0.0, skel = 0.0;

    *skeleton = false;
    for (size_t t = 0; t < a->count; t++) {
        memcpy(ja + na, a->tokens[t], a->lens[t] * sizeof(uint32_t));
        na += a->lens[t];
        flags |= a->flags[t];
    }
    for (size_t t = 0; t < b->count; t++) {
        memcpy(jb + nb, b->tokens[t], b->lens[t] * sizeof(uint32_t));
        nb += b->lens[t];
        flags |= b->flags[t];
    }
    if (plain_too &&
        (double)(na < nb ? na : nb) >= JOINED_LENGTH_RATIO * (double)(na < nb ? nb : na))
        plain = jaro(ja, na, jb, nb, false);
    if (!(flags & MATCH_FLAGS_SKELETON))
        return plain;
    ka = match_token_skeleton(ja, na, sa);
    kb = match_token_skeleton(jb, nb, sb);
    if (ka > 0 && kb > 0 &&
        (double)(ka < kb ? ka : kb) >= JOINED_LENGTH_RATIO * (double)(ka < kb ? kb : ka))
        skel = SKELETON_SCALE * jw_ascii(sa, ka, sb, kb);
    if (skel > plain) {
        *skeleton = true;
        return skel;
    }
    return plain;
}

/* The score of two parsed names; with ex, why (pairs, penalty, joined). */
static double
score_parsed(const match_name *a, const match_name *b, match_explanation *ex)
{
    const match_name *small = a->count <= b->count ? a : b;
    const match_name *large = small == a ? b : a;
    double tokens, joined, factor;
    bool skeleton;

    if (a->count == 0 || b->count == 0)
        return 0.0;
    tokens = assignment_score(small, large, ex);
    factor = match_name_token_bound(a->count, b->count);
    /* Names run together as written only when split into other numbers of words: with as
     * many words on each side, the words are compared one to one, and a long common first
     * word must not carry the rest ("Michael Carter" is not "Michael Walker").  Skeletons
     * run together always (a transliteration splits syllables its own way). */
    joined = joined_score(a, b, a->count != b->count, &skeleton);
    if (ex != NULL) {
        ex->tokens = tokens;
        ex->factor = factor;
        ex->joined = joined;
        ex->joined_skeleton = skeleton;
        ex->joined_won = joined > tokens * factor;
        if (small != a) {
            for (size_t p = 0; p < ex->pair_count; p++) {
                match_pair *q = &ex->pairs[p];
                char tmp[MATCH_SKELETON_MAX];
                size_t t = q->a;

                q->a = q->b;
                q->b = t;
                memcpy(tmp, q->skeleton_a, sizeof(tmp));
                memcpy(q->skeleton_a, q->skeleton_b, sizeof(tmp));
                memcpy(q->skeleton_b, tmp, sizeof(tmp));
            }
        }
    }
    tokens *= factor;
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
match_name_score_parsed(const match_name *a, const match_name *b)
{
    return score_parsed(a, b, NULL);
}

double
match_name_score(const char *a, const char *b)
{
    match_name ma, mb;

    match_name_parse(a, &ma);
    match_name_parse(b, &mb);
    return match_name_score_parsed(&ma, &mb);
}

/* ---- Explanations ------------------------------------------------------------------- */

static const char *const script_names[] = {"latin", "cyrillic", "greek", "arabic", "hebrew",
                                           "han", "kana", "hangul", "other"};

const char *
match_script_name(unsigned bit)
{
    for (size_t i = 0; i < sizeof(script_names) / sizeof(script_names[0]); i++) {
        if (bit == 1u << i)
            return script_names[i];
    }
    return "";
}

const char *
match_how_name(match_how how)
{
    switch (how) {
    case MATCH_HOW_JARO_WINKLER:
        return "jaro-winkler";
    case MATCH_HOW_INITIAL:
        return "initial";
    case MATCH_HOW_SKELETON:
        return "skeleton";
    case MATCH_HOW_NONE:
        break;
    }
    return "none";
}

static void
explain_side(const char *name, match_side *side)
{
    bool icu = false;

    parse(name, &side->name, &side->scripts, &icu);
    side->transform = icu ? TRANSFORM_ID : NULL;
    side->icu_failed = !icu && (side->scripts & ~MATCH_SCRIPT_LATIN) != 0;
    normalise_parsed(&side->name, side->latin, sizeof(side->latin));
}

double
match_name_explain(const char *a, const char *b, match_explanation *out)
{
    memset(out, 0, sizeof(*out));
    explain_side(a, &out->side[0]);
    explain_side(b, &out->side[1]);
    out->score = score_parsed(&out->side[0].name, &out->side[1].name, out);
    return out->score;
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
