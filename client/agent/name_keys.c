/* Blocking keys of names, shared by screening's index and the agent store's index (name_keys.h). */
#include "name_keys.h"

uint64_t
name_keys_hash(uint64_t tag, const uint32_t *c, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the code points */

    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 3; b++) {
            h ^= (c[i] >> (8 * b)) & 0xFF;
            h *= 1099511628211ull;
        }
    }
    h = (h & ~NAME_KEY_TAG_MASK) | tag;
    return h != 0 ? h : 1; /* 0 marks an unused slot */
}

/* The keys of the n characters c (n <= 4) into keys; returns how many. */
size_t
name_keys_token(uint64_t tag, const uint32_t *c, size_t n, uint64_t *keys)
{
    uint32_t buf[4];
    size_t count = 0;

    if (n < 2)
        return 0;
    if (n <= 3)
        keys[count++] = name_keys_hash(tag, c, n);
    for (size_t d = 0; d < n && count < NAME_KEYS_TOKEN_MAX; d++) {
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
            if (i != d)
                buf[k++] = c[i];
        }
        if (k >= 2)
            keys[count++] = name_keys_hash(tag, buf, k);
    }
    return count;
}

size_t
name_keys_head(const match_name *m, uint64_t *keys)
{
    if (m->count > 1 && m->lens[0] < 4) {
        /* The head of the name run together spans its first tokens. */
        uint32_t head[4];
        size_t h = 0;

        for (size_t t = 0; t < m->count && h < 4; t++)
            for (size_t i = 0; i < m->lens[t] && h < 4; i++)
                head[h++] = m->tokens[t][i];
        return name_keys_token(NAME_KEY_HEAD, head, h, keys);
    }
    if (m->count > 0)
        return name_keys_token(NAME_KEY_HEAD, m->tokens[0], m->lens[0] < 4 ? m->lens[0] : 4, keys);
    return 0;
}

/* The keys of name m into keys: those of each token's start, of each token's end, then of the
 * head; when owner is not NULL, owner[i] gets the index of the token that gave keys[i]
 * (NAME_KEY_OWNER_HEAD for the head).  A run counts a name's hits when the owner changes: a count of
 * two or more is then two distinct tokens or more, which is all the rule needs.  Returns how
 * many. */
size_t
name_keys_of(const match_name *m, uint64_t *keys, uint8_t *owner)
{
    size_t n = 0, last, from = 0;

    for (size_t t = 0; t < m->count; t++) {
        from = n;
        n += name_keys_token(NAME_KEY_PAIR, m->tokens[t], m->lens[t] < 4 ? m->lens[t] : 4, keys + n);
        for (size_t i = from; owner != NULL && i < n; i++)
            owner[i] = (uint8_t)t;
    }
    for (size_t t = 0; t < m->count; t++) {
        if ((last = m->lens[t]) < 4)
            continue;
        from = n;
        n += name_keys_token(NAME_KEY_END, m->tokens[t] + last - 4, 4, keys + n);
        for (size_t i = from; owner != NULL && i < n; i++)
            owner[i] = (uint8_t)t;
    }
    from = n;
    n += name_keys_head(m, keys + n);
    for (size_t i = from; owner != NULL && i < n; i++)
        owner[i] = NAME_KEY_OWNER_HEAD;
    return n;
}

/* The code points of m's tokens run together. */
size_t
name_keys_joined_length(const match_name *m)
{
    size_t n = 0;

    for (size_t t = 0; t < m->count; t++)
        n += m->lens[t];
    return n;
}

/* The tokens of m that give keys: those of two characters or more. */
size_t
name_keys_keyed_tokens(const match_name *m)
{
    size_t n = 0;

    for (size_t t = 0; t < m->count; t++)
        n += m->lens[t] >= 2;
    return n;
}

uint64_t
name_keys_doc(const char *norm)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (const char *p = norm; *p != '\0'; p++) {
        h ^= (unsigned char)*p;
        h *= 1099511628211ull;
    }
    return NAME_KEY_DOC | (h & (((uint64_t)1 << 62) - 1));
}

