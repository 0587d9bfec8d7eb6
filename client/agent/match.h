/* Name and document matching for the agent: pure functions, no I/O (docs/agent.md, Matching). */
#ifndef LIAISON_MATCH_H
#define LIAISON_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A name is folded to lower-case Latin letters (Latin-1 Supplement and
 * Latin Extended-A diacritics removed by a table; a word in any other
 * script transliterated by ICU's transforms, see docs/agent.md), split into
 * tokens at spaces and punctuation, and compared word-order-independently
 * with Jaro-Winkler per token, and by consonant skeletons for tokens
 * written in a script without vowels (Arabic, Hebrew) or in Hangul.
 * Every function here is pure and thread-safe (each thread opens its own
 * ICU transliterator on first use, and its exit closes it).
 */

/* The default name threshold: a score at or above it is a hit. */
#define MATCH_DEFAULT_THRESHOLD 0.88
/* Bytes of a name that are read; the rest is ignored. */
#define MATCH_NAME_BYTES_MAX 1024u
/* Tokens of a name that are compared; later tokens are ignored. */
#define MATCH_TOKENS_MAX 12u
/* Characters (code points) of a token that are compared; the rest is ignored. */
#define MATCH_TOKEN_CHARS_MAX 40u
/* Bytes of a normalised document number, with its NUL. */
#define MATCH_DOC_MAX 64u

/*
 * The version of what normalisation makes of a name (tokens, flags,
 * skeletons).  An index of name keys records the version it was built
 * with and is rebuilt when it differs: raise it whenever a change to
 * match.c gives any name other tokens, flags or skeletons.
 */
#define MATCH_NORMALISE_VERSION 2

/* Bytes of match_name_pack's output at most. */
#define MATCH_PACKED_MAX (1u + MATCH_TOKENS_MAX * (2u + 4u * MATCH_TOKEN_CHARS_MAX))
/* Bytes of a token's skeleton, with its NUL. */
#define MATCH_SKELETON_MAX (MATCH_TOKEN_CHARS_MAX + 1u)

/* Token flags (match_name.flags): how a token was written. */
#define MATCH_FLAG_TRANSLITERATED 0x01u /* another script, transliterated by ICU */
#define MATCH_FLAG_ABJAD 0x02u          /* Arabic or Hebrew: no short vowels written */
#define MATCH_FLAG_HANGUL 0x04u         /* Korean: romanisations differ in vowels and voicing */
/* Flags whose tokens are also compared by their skeletons. */
#define MATCH_FLAGS_SKELETON (MATCH_FLAG_ABJAD | MATCH_FLAG_HANGUL)

/* Scripts seen in a name (match_explanation). */
#define MATCH_SCRIPT_LATIN 0x001u    /* Latin letters, digits (folded by table) */
#define MATCH_SCRIPT_CYRILLIC 0x002u /* Cyrillic */
#define MATCH_SCRIPT_GREEK 0x004u    /* Greek */
#define MATCH_SCRIPT_ARABIC 0x008u   /* Arabic */
#define MATCH_SCRIPT_HEBREW 0x010u   /* Hebrew */
#define MATCH_SCRIPT_HAN 0x020u      /* Han (Chinese characters, kanji) */
#define MATCH_SCRIPT_KANA 0x040u     /* Hiragana or Katakana */
#define MATCH_SCRIPT_HANGUL 0x080u   /* Hangul */
#define MATCH_SCRIPT_OTHER 0x100u    /* any other script */

/* A name after normalisation: its tokens as code points. */
typedef struct match_name {
    size_t count;                                        /* tokens in use */
    size_t lens[MATCH_TOKENS_MAX];                       /* code points of each token */
    uint8_t flags[MATCH_TOKENS_MAX];                     /* per token: MATCH_FLAG_* bits
                                                            (kept by pack) */
    uint32_t tokens[MATCH_TOKENS_MAX][MATCH_TOKEN_CHARS_MAX]; /* the tokens, folded */
} match_name;

/*
 * Normalises name (UTF-8; invalid bytes are separators; MATCH_NAME_BYTES_MAX
 * bytes read) into *out.  Words in Latin letters are folded by a table and
 * never reach ICU; a word of another script is transliterated by ICU's
 * transforms (docs/agent.md, Matching) and its tokens flagged
 * (MATCH_FLAG_*).  If ICU cannot open its transliterator, such words keep
 * their code points.  A name with no letters or digits gives count 0.
 * Thread-safe: the calling thread's own transliterator is opened on first
 * use and closed when the thread ends.
 */
void match_name_parse(const char *name, match_name *out);

/*
 * Writes the normalised form of name, tokens joined by single spaces, as
 * UTF-8 into buf (buf_len bytes, cut if too small; always terminated when
 * buf_len > 0).  Returns buf.
 */
char *match_name_normalise(const char *name, char *buf, size_t buf_len);

/*
 * Writes m compactly into out (MATCH_PACKED_MAX bytes): a byte of token
 * count, then per token a byte of flags, a byte of length in bytes, and
 * the token as UTF-8.  Returns the bytes written.  match_name_unpack of
 * them gives back m exactly, so that a store may keep names parsed.
 */
size_t match_name_pack(const match_name *m, uint8_t *out);

/* Reads what match_name_pack wrote (len bytes) into *m; false if the bytes
 * are not such a packing (then *m has no token). */
bool match_name_unpack(const uint8_t *in, size_t len, match_name *m);

/*
 * The skeleton of a token (its code points, as in match_name): its
 * consonants as ASCII, with vowels, w and y (the long vowels of Arabic and
 * Hebrew) and doubled letters dropped, c, q and g written k, p, ph, f and v
 * written b, t written d, so that the spellings of one name that differ in
 * their vowels share it ("mohammed", "muhammad" and "mhmd" all give
 * "mhmd"; "yosef" and "ywsp" give "sb").  Writes it NUL-terminated into
 * out (MATCH_SKELETON_MAX bytes); returns its length, 0 when none.
 */
size_t match_token_skeleton(const uint32_t *token, size_t len, char *out);

/* Jaro-Winkler similarity of two code-point strings, in [0, 1]: Jaro with
 * the match window max(len)/2 - 1, then Winkler's prefix boost (scale 0.1,
 * up to 4 characters) when Jaro is at least 0.7. */
double match_jaro_winkler(const uint32_t *a, size_t a_len, const uint32_t *b, size_t b_len);

/* Same, for two UTF-8 strings compared as they are (no normalisation). */
double match_jaro_winkler_utf8(const char *a, const char *b);

/* The similarity of two parsed names in [0, 1]; 0 if either has no token. */
double match_name_score_parsed(const match_name *a, const match_name *b);

/*
 * The highest score two names of count_a and count_b tokens can reach
 * when their tokens are compared one to one (not run together): every
 * pair equal, less what unmatched tokens cost.  An index leaves a name out
 * when this is below the threshold and the names run together do not agree.
 */
double match_name_token_bound(size_t count_a, size_t count_b);

/* The similarity of two names (UTF-8) in [0, 1]; docs/agent.md gives the rules. */
double match_name_score(const char *a, const char *b);

/* How a token pair of an explanation was compared. */
typedef enum match_how {
    MATCH_HOW_NONE = 0,         /* below the token floor: no match */
    MATCH_HOW_JARO_WINKLER = 1, /* Jaro-Winkler of the Latin forms */
    MATCH_HOW_INITIAL = 2,      /* one side is the other's initial */
    MATCH_HOW_SKELETON = 3,     /* consonant skeletons (an abjad or Hangul token) */
} match_how;

/* Bytes of an explanation's Latin form of a name, with its NUL. */
#define MATCH_LATIN_MAX 512u

/* One side of an explanation. */
typedef struct match_side {
    unsigned scripts;            /* MATCH_SCRIPT_* bits seen */
    const char *transform;       /* ICU transform ID used, or NULL if none was needed
                                    or ICU was not available (static string) */
    bool icu_failed;             /* another script was seen but ICU did not transliterate */
    char latin[MATCH_LATIN_MAX]; /* the normalised form, tokens joined by spaces */
    match_name name;             /* the parsed name */
} match_side;

/* One pair of the token assignment. */
typedef struct match_pair {
    size_t a, b;                             /* token indices in side a and side b */
    double similarity;                       /* its similarity, in [0, 1] */
    match_how how;                           /* how it was reached */
    char skeleton_a[MATCH_SKELETON_MAX];     /* skeletons, when how is MATCH_HOW_SKELETON */
    char skeleton_b[MATCH_SKELETON_MAX];
} match_pair;

/* Why two names scored what they did (match_name_explain). */
typedef struct match_explanation {
    match_side side[2];                 /* the two names as given, a then b */
    size_t pair_count;                  /* pairs in use */
    match_pair pairs[MATCH_TOKENS_MAX]; /* the best one-to-one token pairing */
    double tokens;                      /* the pairing's weighted mean similarity */
    double factor;                      /* the token-count penalty it was multiplied by */
    double joined;                      /* the run-together comparison (0 if not made) */
    bool joined_skeleton;               /* joined came from the names' skeletons */
    bool joined_won;                    /* the score is joined rather than tokens * factor */
    double score;                       /* the score, as match_name_score gives it */
} match_explanation;

/*
 * Scores a against b as match_name_score does (the same value, bit for
 * bit) and fills *out with why: per side the scripts, the transform and
 * the Latin form; the token pairing with each pair's similarity and how it
 * was reached; the run-together comparison; the penalty.  Thread-safe.
 */
double match_name_explain(const char *a, const char *b, match_explanation *out);

/* The name of a script bit (MATCH_SCRIPT_*), "latin", "arabic" ...; "" if not one. */
const char *match_script_name(unsigned bit);

/* "jaro-winkler", "initial", "skeleton" or "none". */
const char *match_how_name(match_how how);

/* True if score is a hit at threshold (score >= threshold, with a 1e-9 tolerance). */
bool match_is_hit(double score, double threshold);

/*
 * Normalises a document number: ASCII letters upper-cased, ASCII digits
 * kept, everything else dropped.  Returns false (and buf "") if nothing is
 * left or the result would not fit in buf_len bytes.
 */
bool match_doc_normalise(const char *number, char *buf, size_t buf_len);

/*
 * True if two documents are the same: normalised numbers equal, and type
 * and country equal (ASCII case-insensitive) wherever both sides give them
 * (NULL or "" is not given).
 */
bool match_doc_same(const char *number_a, const char *type_a, const char *country_a,
                    const char *number_b, const char *type_b, const char *country_b);

/* How two dates of birth compare. */
typedef enum match_date {
    MATCH_DATE_ABSENT = 0,     /* one side or both give none */
    MATCH_DATE_SAME = 1,       /* equal, or one is a year or year-month prefix of the other */
    MATCH_DATE_DIFFERENT = 2,  /* both given and they disagree */
} match_date;

/* Compares "YYYY-MM-DD", "YYYY-MM" or "YYYY" (other text compares exactly). */
match_date match_date_compare(const char *a, const char *b);

#endif
