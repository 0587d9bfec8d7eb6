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

/* A name after normalisation: its tokens as code points. */
typedef struct match_name {
    size_t count;                                        /* tokens in use */
    size_t lens[MATCH_TOKENS_MAX];                       /* code points of each token */
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

/* Jaro-Winkler similarity of two code-point strings, in [0, 1]: Jaro with
 * the match window max(len)/2 - 1, then Winkler's prefix boost (scale 0.1,
 * up to 4 characters) when Jaro is at least 0.7. */
double match_jaro_winkler(const uint32_t *a, size_t a_len, const uint32_t *b, size_t b_len);

/* Same, for two UTF-8 strings compared as they are (no normalisation). */
double match_jaro_winkler_utf8(const char *a, const char *b);

/* The similarity of two parsed names in [0, 1]; 0 if either has no token. */
double match_name_score_parsed(const match_name *a, const match_name *b);

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
