/* Name and document matching for the agent: pure functions, no I/O (docs/agent.md, Matching). */
#ifndef LIAISON_MATCH_H
#define LIAISON_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A name is folded to lower-case Latin letters (Latin-1 Supplement and
 * Latin Extended-A diacritics removed by a table, Cyrillic and Greek
 * transliterated by a table), split into tokens at spaces and punctuation,
 * and compared word-order-independently with Jaro-Winkler per token.
 * Every function here is pure and thread-safe.
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
#define MATCH_NORMALISE_VERSION 1

/* Bytes of match_name_pack's output at most. */
#define MATCH_PACKED_MAX (1u + MATCH_TOKENS_MAX * (2u + 4u * MATCH_TOKEN_CHARS_MAX))
/* Bytes of a token's skeleton, with its NUL. */
#define MATCH_SKELETON_MAX (MATCH_TOKEN_CHARS_MAX + 1u)

/* A name after normalisation: its tokens as code points. */
typedef struct match_name {
    size_t count;                                        /* tokens in use */
    size_t lens[MATCH_TOKENS_MAX];                       /* code points of each token */
    uint8_t flags[MATCH_TOKENS_MAX];                     /* per token: how it was written
                                                            (0 for now; kept by pack) */
    uint32_t tokens[MATCH_TOKENS_MAX][MATCH_TOKEN_CHARS_MAX]; /* the tokens, folded */
} match_name;

/*
 * Normalises name (UTF-8; invalid bytes are separators) into *out.
 * A name with no letters or digits gives count 0.
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
 * consonants as ASCII, vowels and doubled letters dropped, so that the
 * spellings of one name that differ in their vowels share it ("mohammed",
 * "muhammad" and "mhmd" all give "mhmd").  Writes it NUL-terminated into
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
