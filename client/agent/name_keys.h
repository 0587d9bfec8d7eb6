/* Blocking keys of names, shared by screening's index and the agent store's index (docs/agent.md). */
#ifndef LIAISON_NAME_KEYS_H
#define LIAISON_NAME_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "match.h"

/*
 * Keys are 64-bit hashes (FNV-1a over the code points) with a tag in the
 * top two bits; a collision only adds a candidate, it never loses one.
 */
#define NAME_KEY_HEAD ((uint64_t)0 << 62)     /* the name's head: its first four characters run together */
#define NAME_KEY_PAIR ((uint64_t)1 << 62)     /* a token's first four characters */
#define NAME_KEY_DOC ((uint64_t)2 << 62)      /* a document number (screening) */
#define NAME_KEY_SKELETON ((uint64_t)2 << 62) /* a token's consonant skeleton (the store's index,
                                                 which keys documents in a table of their own) */
#define NAME_KEY_END ((uint64_t)3 << 62)      /* a token's last four characters */
#define NAME_KEY_TAG_MASK ((uint64_t)3 << 62) /* the tag bits */

/* Keys of one token's four characters at most. */
#define NAME_KEYS_TOKEN_MAX 4u
/* Keys name_keys_of gives at most: 4 of each token's start, 4 of each token's end, 4 of the head. */
#define NAME_KEYS_SCREEN_MAX (2 * NAME_KEYS_TOKEN_MAX * MATCH_TOKENS_MAX + NAME_KEYS_TOKEN_MAX)
/* owner of a head key: it is not one token's. */
#define NAME_KEY_OWNER_HEAD 0xFFu
/* match.c compares names run together only when the shorter is at least this fraction of the
 * longer (its JOINED_LENGTH_RATIO); a head key makes a candidate only under the same rule. */
#define NAME_KEY_HEAD_LENGTH_RATIO 0.75

/* The key of the n code points c under tag; never 0. */
uint64_t name_keys_hash(uint64_t tag, const uint32_t *c, size_t n);

/*
 * The deletion-neighbourhood keys of the n characters c (n <= 4) into keys
 * (NAME_KEYS_TOKEN_MAX at most): "nort" gives "ort", "nrt", "not", "nor";
 * a token of two or three characters also gives itself; one character
 * gives none.  Returns how many.
 */
size_t name_keys_token(uint64_t tag, const uint32_t *c, size_t n, uint64_t *keys);

/*
 * The keys of name m into keys (NAME_KEYS_SCREEN_MAX): those of each
 * token's start, of each token's end (tokens of four or more), then of the
 * head; when owner is not NULL, owner[i] gets the index of the token that
 * gave keys[i] (NAME_KEY_OWNER_HEAD for the head).  Returns how many.
 */
size_t name_keys_of(const match_name *m, uint64_t *keys, uint8_t *owner);

/* The keys of the head of m alone into keys (NAME_KEYS_TOKEN_MAX); returns how many. */
size_t name_keys_head(const match_name *m, uint64_t *keys);

/* The code points of m's tokens run together. */
size_t name_keys_joined_length(const match_name *m);

/* The tokens of m that give keys: those of two characters or more. */
size_t name_keys_keyed_tokens(const match_name *m);

/* The key of a normalised document number (tag NAME_KEY_DOC). */
uint64_t name_keys_doc(const char *norm);

#endif
