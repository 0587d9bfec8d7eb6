/* The store's index: name keys, parsed names and document numbers of watchlist entries and reports (docs/agent.md, "The store's index"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "match.h"
#include "name_keys.h"

/* Names of one entry that are indexed (agent_entry_check allows 16). */
#define INDEX_NAMES_MAX 16u
/* Documents of one entry that are indexed (agent_entry_check allows 16). */
#define INDEX_DOCS_MAX 16u
/*
 * The name index's keys, a tag in their top two bits.  Names reach their
 * tokens in two steps: the vocabulary maps a token's deletion keys and
 * skeleton to the tokens that give them (each token once, whatever number
 * of names carry it), and each token maps to the names that carry it.  So a
 * lookup reads each similar token's names once, not once per key they share.
 */
#define K_VOCAB ((uint64_t)0 << 62)  /* a deletion key of a token -> the tokens giving it */
#define K_SKEL ((uint64_t)1 << 62)   /* a consonant skeleton -> the tokens having it */
#define K_TOKEN ((uint64_t)2 << 62)  /* a token -> the names carrying it */
#define K_JOINED ((uint64_t)3 << 62) /* a name run together, as written or its skeleton ->
                                        the names */
/* Characters of a token its deletion keys are made of. */
#define DELETION_CHARS 10u
/* Vocabulary keys of one token: itself, a deletion per character, its skeleton, and the
 * deletion neighbourhoods of its first and last four characters. */
#define TOKEN_VOCAB_KEYS (DELETION_CHARS + 2u + 2u * NAME_KEYS_TOKEN_MAX)
/* A name id: its tokens (at most 15) in the top four bits, its tokens of two characters or
 * more (at most 3) in the next two: what the candidate rule needs without reading the name. */
#define ID_COUNT_SHIFT 60
#define ID_KEYED_SHIFT 58
#define ID_LOW_MASK ((((uint64_t)1) << ID_KEYED_SHIFT) - 1)
/* Ids tried past a name's own when another name holds it (a 58-bit collision). */
#define ID_PROBES 8u
/* The meta table's key and value for the index's version. */
#define META_KEY "index"

/* The version text recorded: the index's layout and match.c's normalisation. */
static void
version_text(char *buf, size_t len)
{
    snprintf(buf, len, "liaison-agent-index %d match-normalise %d", AGENT_INDEX_VERSION,
             MATCH_NORMALISE_VERSION);
}

bool
agent_index_covers(agent_table table)
{
    return table == AGENT_T_ENTRIES || table == AGENT_T_DOCS || table == AGENT_T_PARTNER_ENTRIES ||
           table == AGENT_T_PARTNER_DOCS;
}

static void
be64(uint64_t v, uint8_t out[8])
{
    for (int i = 0; i < 8; i++)
        out[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint64_t
from_be64(const uint8_t in[8])
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return v;
}

/* The hash of a token's code points (its K_TOKEN key). */
static uint64_t
token_hash(const uint32_t *c, size_t n)
{
    return name_keys_hash(K_TOKEN, c, n);
}

/* A vocabulary key of marker and the n code points c (n <= DELETION_CHARS) under K_SKEL. */
static uint64_t
marked_key(uint32_t marker, const uint32_t *c, size_t n)
{
    uint32_t buf[1 + DELETION_CHARS];

    buf[0] = marker;
    memcpy(buf + 1, c, n * sizeof(uint32_t));
    return name_keys_hash(K_SKEL, buf, 1 + n);
}

#define MARK_SKELETON 1u /* a consonant skeleton */
#define MARK_PREFIX3 3u  /* the first three characters of a longer token */
#define MARK_PREFIX4 4u  /* the first four characters of a token of four or more */
#define MARK_WHOLE3 5u   /* a token of three characters */

/*
 * The vocabulary keys of token c (n code points, n >= 2) into keys; with
 * query, those a lookup reads, else those a token is put under.  Both: the
 * token cut to DELETION_CHARS and each of its single deletions (for three
 * characters or more), and its skeleton; two tokens one edit apart (a
 * letter wrong, missing, added, or two swapped) share a deletion key, and
 * spellings differing in vowels share the skeleton.  Then the short and
 * long forms of one name, which Jaro-Winkler scores high on their common
 * beginning: a token is put under its first four characters and its first
 * three (or, of three characters, under itself as such); a lookup reads
 * the first four of a longer token and the three-character token its start
 * would be ("Jon" for "Jonathan"), or, for a token of three, the longer
 * tokens beginning with it ("Jonathan" for "Jon").  Returns how many.
 */
static size_t
token_vocab_keys(const uint32_t *c, size_t n, bool query, uint64_t *keys)
{
    uint32_t buf[DELETION_CHARS];
    char skel[MATCH_SKELETON_MAX];
    size_t cut = n < DELETION_CHARS ? n : DELETION_CHARS, count = 0, len;

    keys[count++] = name_keys_hash(K_VOCAB, c, cut);
    for (size_t d = 0; cut >= 3 && d < cut; d++) {
        size_t k = 0;

        for (size_t i = 0; i < cut; i++) {
            if (i != d)
                buf[k++] = c[i];
        }
        keys[count++] = name_keys_hash(K_VOCAB, buf, k);
    }
    if ((len = match_token_skeleton(c, n, skel)) > 0) {
        len = len < DELETION_CHARS ? len : DELETION_CHARS;
        for (size_t i = 0; i < len; i++)
            buf[i] = (unsigned char)skel[i];
        keys[count++] = marked_key(MARK_SKELETON, buf, len);
    }
    if (n == 3) {
        keys[count++] = marked_key(query ? MARK_PREFIX3 : MARK_WHOLE3, c, 3);
    } else if (n >= 4) {
        keys[count++] = marked_key(MARK_PREFIX4, c, 4);
        keys[count++] = marked_key(query ? MARK_WHOLE3 : MARK_PREFIX3, c, 3);
    }
    return count;
}

/* The K_JOINED keys of m: its tokens run together as written, and their skeleton.
 * Returns how many (0 for a name without tokens). */
static size_t
joined_keys(const match_name *m, uint64_t keys[2])
{
    uint32_t run[1 + MATCH_TOKEN_CHARS_MAX];
    char skel[MATCH_SKELETON_MAX];
    size_t n = 1, len;

    if (m->count == 0)
        return 0;
    run[0] = 1; /* as written */
    for (size_t t = 0; t < m->count && n <= MATCH_TOKEN_CHARS_MAX; t++)
        for (size_t i = 0; i < m->lens[t] && n <= MATCH_TOKEN_CHARS_MAX; i++)
            run[n++] = m->tokens[t][i];
    keys[0] = name_keys_hash(K_JOINED, run, n);
    len = match_token_skeleton(run + 1, n - 1, skel);
    run[0] = 2; /* skeleton */
    for (size_t i = 0; i < len; i++)
        run[1 + i] = (unsigned char)skel[i];
    keys[1] = name_keys_hash(K_JOINED, run, 1 + len);
    return 2;
}

/* The id a name starts from: a hash of its record's table and key and its place there, with
 * its token counts in the top bits. */
static uint64_t
name_id_base(agent_table table, const void *key, size_t key_len, size_t place,
             const match_name *m)
{
    uint64_t h = 1469598103934665603ull;
    const uint8_t *k = key;
    size_t keyed = name_keys_keyed_tokens(m);

    h = (h ^ (uint8_t)table) * 1099511628211ull;
    h = (h ^ (uint8_t)place) * 1099511628211ull;
    for (size_t i = 0; i < key_len; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return (h & ID_LOW_MASK) | (uint64_t)(m->count < 15 ? m->count : 15) << ID_COUNT_SHIFT |
           (uint64_t)(keyed < 3 ? keyed : 3) << ID_KEYED_SHIFT;
}

static size_t
id_count(uint64_t id)
{
    return (size_t)(id >> ID_COUNT_SHIFT);
}

static size_t
id_keyed(uint64_t id)
{
    return (size_t)(id >> ID_KEYED_SHIFT) & 3u;
}

static uint64_t
probe(uint64_t base, unsigned p)
{
    return (base & ~ID_LOW_MASK) | ((base + p) & ID_LOW_MASK);
}

/*
 * A name's record in AGENT_T_NAMES: a byte of table, a byte of its place
 * among the record's names, two bytes of key length (big-endian), the key,
 * then the packed name.  *owner_len_out gets the bytes before the name.
 */
static size_t
names_value(agent_table table, size_t place, const void *key, size_t key_len,
            const match_name *m, uint8_t *out)
{
    out[0] = (uint8_t)table;
    out[1] = (uint8_t)place;
    out[2] = (uint8_t)(key_len >> 8);
    out[3] = (uint8_t)key_len;
    memcpy(out + 4, key, key_len);
    return 4 + key_len + (m != NULL ? match_name_pack(m, out + 4 + key_len) : 0);
}

/* True if the stored name value v belongs to the name whose owner bytes are own. */
static bool
owned(const void *v, size_t v_len, const uint8_t *own, size_t own_len)
{
    return v_len >= own_len && memcmp(v, own, own_len) == 0;
}

/* The record inside a stored value: partners' records wrap it. */
static const json_t *
inner(agent_table table, const json_t *rec)
{
    if (table == AGENT_T_PARTNER_ENTRIES)
        return json_object_get(rec, "entry");
    if (table == AGENT_T_PARTNER_DOCS)
        return json_object_get(rec, "report");
    return rec;
}

/* The doc keys' value: a byte of table, then the record's key. */
static agent_store_err
doc_key_change(agent_txn *txn, bool add, agent_table table, const void *key, size_t key_len,
               const json_t *doc)
{
    char norm[MATCH_DOC_MAX];
    uint8_t val[1 + AGENT_STORE_KEY_MAX];
    const json_t *number = json_object_get(doc, "number");

    if (!json_is_string(number) || !match_doc_normalise(json_string_value(number), norm, sizeof(norm)))
        return AGENT_STORE_OK;
    val[0] = (uint8_t)table;
    memcpy(val + 1, key, key_len);
    return add ? agent_store_dup_put(txn, AGENT_T_DOC_KEYS, norm, strlen(norm), val, 1 + key_len)
               : agent_store_dup_del(txn, AGENT_T_DOC_KEYS, norm, strlen(norm), val, 1 + key_len);
}

/* Puts or deletes val (8 bytes) under the K_* key k. */
static agent_store_err
key_change(agent_txn *txn, bool add, uint64_t k, const uint8_t val[8])
{
    uint8_t kb[8];

    be64(k, kb);
    return add ? agent_store_dup_put(txn, AGENT_T_NAME_KEYS, kb, 8, val, 8)
               : agent_store_dup_del(txn, AGENT_T_NAME_KEYS, kb, 8, val, 8);
}

/*
 * Adds or removes name id idb under the keys of m: each token's K_TOKEN and
 * the name's K_JOINED keys.  Adding also puts each token new to the
 * vocabulary under its vocabulary keys (a token is new when its first key
 * does not hold it yet).  A removal leaves the vocabulary: a token no name
 * carries any more costs a lookup one empty read, and a rebuild drops it.
 */
static agent_store_err
name_keys_change(agent_txn *txn, bool add, const match_name *m, const uint8_t idb[8])
{
    uint64_t keys[TOKEN_VOCAB_KEYS > 2 ? TOKEN_VOCAB_KEYS : 2];
    agent_store_err err = AGENT_STORE_OK;
    size_t n;

    for (size_t t = 0; t < m->count && err == AGENT_STORE_OK; t++) {
        uint64_t h;
        uint8_t hb[8], kb[8];

        if (m->lens[t] < 2)
            continue;
        h = token_hash(m->tokens[t], m->lens[t]);
        be64(h, hb);
        if ((err = key_change(txn, add, h, idb)) != AGENT_STORE_OK || !add)
            continue;
        n = token_vocab_keys(m->tokens[t], m->lens[t], false, keys);
        be64(keys[0], kb);
        err = agent_store_dup_has(txn, AGENT_T_NAME_KEYS, kb, 8, hb, 8);
        if (err == AGENT_STORE_OK)
            continue; /* known */
        if (err != AGENT_STORE_ERR_NOT_FOUND)
            break;
        err = AGENT_STORE_OK;
        for (size_t i = 0; i < n && err == AGENT_STORE_OK; i++)
            err = key_change(txn, true, keys[i], hb);
    }
    n = joined_keys(m, keys);
    for (size_t i = 0; i < n && err == AGENT_STORE_OK; i++)
        err = key_change(txn, add, keys[i], idb);
    return err;
}

/* Adds or removes the index of one name of a record. */
static agent_store_err
name_change(agent_txn *txn, bool add, agent_table table, const void *key, size_t key_len,
            size_t place, const char *text)
{
    match_name m;
    uint64_t base, id = 0;
    uint8_t idb[8];
    uint8_t *val = NULL;
    size_t own_len, val_len;
    agent_store_err err = AGENT_STORE_OK;
    bool found = false;

    match_name_parse(text, &m);
    if (m.count == 0)
        return AGENT_STORE_OK;
    if ((val = malloc(4 + AGENT_STORE_KEY_MAX + MATCH_PACKED_MAX)) == NULL)
        return AGENT_STORE_ERR_NOMEM;
    own_len = names_value(table, place, key, key_len, NULL, val);
    base = name_id_base(table, key, key_len, place, &m);
    /* Its id: the first of the probes that is free (adding) or its own (removing). */
    for (unsigned p = 0; p < ID_PROBES && !found; p++) {
        const void *v;
        size_t v_len;

        id = probe(base, p);
        be64(id, idb);
        err = agent_store_get(txn, AGENT_T_NAMES, idb, 8, &v, &v_len);
        if (err == AGENT_STORE_ERR_NOT_FOUND) {
            err = AGENT_STORE_OK;
            if (add)
                found = true;
        } else if (err != AGENT_STORE_OK) {
            goto out;
        } else if (owned(v, v_len, val, own_len)) {
            found = true;
        }
    }
    if (!found) {
        err = add ? AGENT_STORE_ERR_FULL : AGENT_STORE_OK;
        goto out;
    }
    err = name_keys_change(txn, add, &m, idb);
    if (err != AGENT_STORE_OK)
        goto out;
    if (add) {
        val_len = names_value(table, place, key, key_len, &m, val);
        err = agent_store_put(txn, AGENT_T_NAMES, idb, 8, val, val_len);
    } else {
        err = agent_store_del(txn, AGENT_T_NAMES, idb, 8);
    }
out:
    free(val);
    return err;
}

/* Adds or removes the index of one record. */
static agent_store_err
record_change(agent_txn *txn, bool add, agent_table table, const void *key, size_t key_len,
              const void *val, size_t val_len)
{
    json_t *rec;
    const json_t *r, *names, *docs, *v;
    agent_store_err err = AGENT_STORE_OK;
    size_t i;

    if (!agent_index_covers(table) || key_len > AGENT_STORE_KEY_MAX)
        return AGENT_STORE_OK;
    if ((rec = agent_json_load(val, val_len)) == NULL)
        return AGENT_STORE_OK;
    r = inner(table, rec);
    if (table == AGENT_T_DOCS || table == AGENT_T_PARTNER_DOCS) {
        err = doc_key_change(txn, add, table, key, key_len, json_object_get(r, "document"));
        goto out;
    }
    names = json_object_get(r, "names");
    json_array_foreach(names, i, v) {
        if (i >= INDEX_NAMES_MAX || err != AGENT_STORE_OK)
            break;
        if (json_is_string(v))
            err = name_change(txn, add, table, key, key_len, i, json_string_value(v));
    }
    docs = json_object_get(r, "documents");
    json_array_foreach(docs, i, v) {
        if (i >= INDEX_DOCS_MAX || err != AGENT_STORE_OK)
            break;
        err = doc_key_change(txn, add, table, key, key_len, v);
    }
out:
    json_decref(rec);
    return err;
}

agent_store_err
agent_index_add(agent_txn *txn, agent_table table, const void *key, size_t key_len,
                const void *val, size_t val_len)
{
    return record_change(txn, true, table, key, key_len, val, val_len);
}

agent_store_err
agent_index_remove(agent_txn *txn, agent_table table, const void *key, size_t key_len,
                   const void *val, size_t val_len)
{
    return record_change(txn, false, table, key, key_len, val, val_len);
}

/* State of a rebuild's walk over one table. */
typedef struct rebuild_walk {
    agent_txn *txn;        /* the write transaction */
    agent_table table;     /* the table walked */
    size_t records;        /* records indexed */
    agent_store_err err;   /* the first failure */
} rebuild_walk;

static int
rebuild_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    rebuild_walk *w = ctx;

    w->err = agent_index_add(w->txn, w->table, key, key_len, val, val_len);
    w->records++;
    return w->err != AGENT_STORE_OK;
}

agent_store_err
agent_index_rebuild(agent_txn *txn, size_t *records_out)
{
    static const agent_table tables[] = {AGENT_T_ENTRIES, AGENT_T_DOCS, AGENT_T_PARTNER_ENTRIES,
                                         AGENT_T_PARTNER_DOCS};
    char version[96];
    agent_store_err err;
    size_t records = 0;

    if ((err = agent_store_empty(txn, AGENT_T_NAME_KEYS)) != AGENT_STORE_OK ||
        (err = agent_store_empty(txn, AGENT_T_NAMES)) != AGENT_STORE_OK ||
        (err = agent_store_empty(txn, AGENT_T_DOC_KEYS)) != AGENT_STORE_OK)
        return err;
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        rebuild_walk w = {txn, tables[i], 0, AGENT_STORE_OK};

        err = agent_store_each(txn, tables[i], NULL, rebuild_one, &w);
        if (err == AGENT_STORE_OK)
            err = w.err;
        if (err != AGENT_STORE_OK)
            return err;
        records += w.records;
    }
    version_text(version, sizeof(version));
    err = agent_store_put(txn, AGENT_T_META, META_KEY, strlen(META_KEY), version, strlen(version));
    if (err == AGENT_STORE_OK && records_out != NULL)
        *records_out = records;
    return err;
}

agent_store_err
agent_index_ensure(agent_txn *txn, bool *rebuilt_out)
{
    char version[96];
    const void *v;
    size_t len;
    agent_store_err err;

    *rebuilt_out = false;
    version_text(version, sizeof(version));
    err = agent_store_get(txn, AGENT_T_META, META_KEY, strlen(META_KEY), &v, &len);
    if (err == AGENT_STORE_OK && len == strlen(version) && memcmp(v, version, len) == 0)
        return AGENT_STORE_OK;
    if (err != AGENT_STORE_OK && err != AGENT_STORE_ERR_NOT_FOUND)
        return err;
    if ((err = agent_index_rebuild(txn, NULL)) == AGENT_STORE_OK)
        *rebuilt_out = true;
    return err;
}

/* ---- Lookups ------------------------------------------------------------------------- */

static agent_store_err
recs_add(agent_index_recs *r, agent_table table, const void *key, size_t key_len)
{
    if (key_len > AGENT_STORE_KEY_MAX)
        return AGENT_STORE_OK;
    if (r->count == r->cap) {
        size_t cap = r->cap > 0 ? r->cap * 2 : 16;
        agent_index_rec *recs = realloc(r->recs, cap * sizeof(*recs));

        if (recs == NULL)
            return AGENT_STORE_ERR_NOMEM;
        r->recs = recs;
        r->cap = cap;
    }
    r->recs[r->count].table = table;
    r->recs[r->count].key_len = key_len;
    memcpy(r->recs[r->count].key, key, key_len);
    r->recs[r->count].key[key_len] = '\0';
    r->count++;
    return AGENT_STORE_OK;
}

static int
rec_cmp(const void *pa, const void *pb)
{
    const agent_index_rec *a = pa, *b = pb;
    size_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c;

    if (a->table != b->table)
        return a->table < b->table ? -1 : 1;
    if ((c = memcmp(a->key, b->key, n)) != 0)
        return c;
    return a->key_len < b->key_len ? -1 : a->key_len > b->key_len;
}

void
agent_index_recs_sort(agent_index_recs *r)
{
    size_t out = 0;

    if (r->count == 0)
        return;
    qsort(r->recs, r->count, sizeof(r->recs[0]), rec_cmp);
    for (size_t i = 1; i < r->count; i++) {
        if (rec_cmp(&r->recs[out], &r->recs[i]) != 0)
            r->recs[++out] = r->recs[i];
    }
    r->count = out + 1;
}

void
agent_index_recs_free(agent_index_recs *r)
{
    free(r->recs);
    memset(r, 0, sizeof(*r));
}

static bool
table_in_scope(agent_table table, unsigned scope, bool entries)
{
    if (entries)
        return (table == AGENT_T_ENTRIES && (scope & AGENT_SCOPE_OWN)) ||
               (table == AGENT_T_PARTNER_ENTRIES && (scope & AGENT_SCOPE_PARTNERS));
    return (table == AGENT_T_DOCS && (scope & AGENT_SCOPE_OWN)) ||
           (table == AGENT_T_PARTNER_DOCS && (scope & AGENT_SCOPE_PARTNERS));
}

/* A name's count of distinct subject tokens hitting it, in one lookup (open addressing). */
typedef struct tally {
    uint64_t id;           /* the name id; 0 unused */
    uint8_t last;          /* the subject token that hit it last */
    uint8_t hits;          /* distinct tokens so far */
    uint8_t done;          /* already a candidate */
} tally;

/* One token of the subject's name: the vocabulary's tokens similar to it. */
typedef struct similar {
    uint64_t *tokens;      /* their K_TOKEN keys, sorted, each once */
    size_t count;          /* in use */
    size_t cap;            /* allocated */
    size_t names;          /* names carrying one of them (with repeats) */
} similar;

/* State of one subject name's lookup. */
typedef struct name_walk {
    tally *slots;          /* the tallies */
    size_t cap;            /* a power of two */
    size_t used;           /* slots in use */
    uint64_t *cands;       /* candidate ids */
    size_t n_cands;        /* in use */
    size_t cands_cap;      /* allocated */
    size_t need;           /* min(2, the subject's keyed tokens) */
    size_t count;          /* the subject name's tokens */
    double threshold;      /* a hit at or above */
    uint8_t owner;         /* the subject token whose names are walked */
    bool seed;             /* names first seen now may still become candidates */
    bool nomem;            /* an allocation failed */
    similar *sim;          /* the similar tokens being gathered */
} name_walk;

static tally *
tally_of(name_walk *w, uint64_t id)
{
    size_t i = (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) & (w->cap - 1);

    while (w->slots[i].id != 0 && w->slots[i].id != id)
        i = (i + 1) & (w->cap - 1);
    return &w->slots[i];
}

static bool
tally_room(name_walk *w)
{
    if ((w->used + 1) * 2 <= w->cap)
        return true;
    {
        size_t cap = w->cap > 0 ? w->cap * 2 : 1024, old_cap = w->cap;
        tally *old = w->slots;

        if ((w->slots = calloc(cap, sizeof(tally))) == NULL) {
            w->slots = old;
            return false;
        }
        w->cap = cap;
        for (size_t i = 0; i < old_cap; i++) {
            if (old[i].id != 0)
                *tally_of(w, old[i].id) = old[i];
        }
        free(old);
    }
    return true;
}

static bool
cand_push(name_walk *w, uint64_t id)
{
    if (w->n_cands == w->cands_cap) {
        size_t cap = w->cands_cap > 0 ? w->cands_cap * 2 : 64;
        uint64_t *c = realloc(w->cands, cap * sizeof(uint64_t));

        if (c == NULL)
            return false;
        w->cands = c;
        w->cands_cap = cap;
    }
    w->cands[w->n_cands++] = id;
    return true;
}

/* True if a name of the id's token counts can score a hit against the subject with its
 * tokens compared one to one (match.h, match_name_token_bound). */
static bool
within_bound(const name_walk *w, uint64_t id)
{
    return match_is_hit(match_name_token_bound(w->count, id_count(id)), w->threshold);
}

/* The tally of id, a new one (hits 0) when id was not met yet; NULL when out of memory. */
static tally *
tally_get(name_walk *w, uint64_t id, bool *fresh)
{
    tally *t;

    if (!tally_room(w)) {
        w->nomem = true;
        return NULL;
    }
    t = tally_of(w, id);
    *fresh = t->id == 0;
    return t;
}

/* Makes t's name a candidate, once; false when out of memory. */
static bool
candidate(name_walk *w, tally *t)
{
    if (t->done)
        return true;
    t->done = 1;
    if (!cand_push(w, t->id)) {
        w->nomem = true;
        return false;
    }
    return true;
}

/* A name reached through K_JOINED: a candidate whatever its tokens. */
static int
joined_ids(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    name_walk *w = ctx;

    (void)key;
    (void)key_len;
    for (size_t i = 0; i + 8 <= val_len; i += 8) {
        uint64_t id = from_be64((const uint8_t *)val + i);
        bool fresh;
        tally *t = tally_get(w, id, &fresh);

        if (t == NULL)
            return 1;
        if (fresh) {
            t->id = id;
            t->last = 0xFF;
            w->used++;
        }
        if (!candidate(w, t))
            return 1;
    }
    return 0;
}

/* A name carrying a token similar to subject token w->owner. */
static int
token_ids(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    name_walk *w = ctx;

    (void)key;
    (void)key_len;
    for (size_t i = 0; i + 8 <= val_len; i += 8) {
        uint64_t id = from_be64((const uint8_t *)val + i);
        size_t need = w->need < id_keyed(id) ? w->need : id_keyed(id);
        bool fresh;
        tally *t = tally_get(w, id, &fresh);

        if (t == NULL)
            return 1;
        if (fresh) {
            /* A name first seen at the last tokens can no longer reach two. */
            if (!w->seed && need > 1)
                continue;
            t->id = id;
            t->last = w->owner;
            t->hits = 1;
            w->used++;
        } else if (t->last != w->owner) {
            t->last = w->owner;
            if (t->hits < 255)
                t->hits++;
        } else {
            continue;
        }
        if (t->hits >= need && need > 0 && within_bound(w, id) && !candidate(w, t))
            return 1;
    }
    return 0;
}

/* Gathers the vocabulary's tokens under one key into w->sim. */
static int
vocab_tokens(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    name_walk *w = ctx;
    similar *s = w->sim;

    (void)key;
    (void)key_len;
    for (size_t i = 0; i + 8 <= val_len; i += 8) {
        if (s->count == s->cap) {
            size_t cap = s->cap > 0 ? s->cap * 2 : 32;
            uint64_t *n = realloc(s->tokens, cap * sizeof(uint64_t));

            if (n == NULL) {
                w->nomem = true;
                return 1;
            }
            s->tokens = n;
            s->cap = cap;
        }
        s->tokens[s->count++] = from_be64((const uint8_t *)val + i);
    }
    return 0;
}

static int
u64_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

    return a < b ? -1 : a > b;
}

/* The vocabulary's tokens similar to token c (n code points) into *s, with the number of
 * names they reach. */
static agent_store_err
similar_tokens(agent_txn *txn, name_walk *w, const uint32_t *c, size_t n, similar *s)
{
    uint64_t keys[TOKEN_VOCAB_KEYS];
    size_t count = token_vocab_keys(c, n, true, keys), out = 0;
    agent_store_err err = AGENT_STORE_OK;
    uint8_t kb[8];

    w->sim = s;
    for (size_t i = 0; i < count && err == AGENT_STORE_OK && !w->nomem; i++) {
        be64(keys[i], kb);
        err = agent_store_dup_each(txn, AGENT_T_NAME_KEYS, kb, 8, vocab_tokens, w);
    }
    if (err != AGENT_STORE_OK || w->nomem)
        return err != AGENT_STORE_OK ? err : AGENT_STORE_ERR_NOMEM;
    if (s->count > 1) {
        qsort(s->tokens, s->count, sizeof(uint64_t), u64_cmp);
        for (size_t i = 1; i < s->count; i++) {
            if (s->tokens[i] != s->tokens[out])
                s->tokens[++out] = s->tokens[i];
        }
        s->count = out + 1;
    }
    for (size_t i = 0; i < s->count && err == AGENT_STORE_OK; i++) {
        size_t names = 0;

        be64(s->tokens[i], kb);
        err = agent_store_dup_count(txn, AGENT_T_NAME_KEYS, kb, 8, &names);
        s->names += names;
    }
    return err;
}

/* Subject tokens in the order their names are walked: the fewest names first. */
typedef struct token_order {
    size_t token;          /* its index in the subject's name */
    size_t names;          /* names its similar tokens reach */
} token_order;

static int
order_cmp(const void *pa, const void *pb)
{
    const token_order *a = pa, *b = pb;

    return a->names < b->names ? -1 : a->names > b->names;
}

/*
 * The candidates of one subject name into w->cands: the names that share
 * similar tokens (one edit apart, or one skeleton) with at least min(2,
 * its keyed tokens, theirs) of the subject's tokens and whose token counts
 * let them reach the threshold, and the names whose run-together form (as
 * written, or its skeleton) is the subject's.  The subject's tokens are
 * walked from the one reaching the fewest names: a name must share one of
 * the first tokens to share two, so the most common token's names are only
 * counted, never added.
 */
static agent_store_err
name_candidates(agent_txn *txn, const match_name *m, double threshold, name_walk *w)
{
    similar sims[MATCH_TOKENS_MAX];
    token_order order[MATCH_TOKENS_MAX];
    uint64_t jkeys[2];
    size_t keyed = 0, nj = joined_keys(m, jkeys);
    agent_store_err err = AGENT_STORE_OK;
    uint8_t kb[8];

    memset(sims, 0, sizeof(sims));
    w->count = m->count;
    w->threshold = threshold;
    for (size_t t = 0; t < m->count && err == AGENT_STORE_OK; t++) {
        if (m->lens[t] < 2)
            continue;
        err = similar_tokens(txn, w, m->tokens[t], m->lens[t], &sims[t]);
        order[keyed].token = t;
        order[keyed].names = sims[t].names;
        keyed++;
    }
    w->need = keyed < 2 ? keyed : 2;
    qsort(order, keyed, sizeof(order[0]), order_cmp);
    for (size_t o = 0; o < keyed && err == AGENT_STORE_OK && !w->nomem; o++) {
        const similar *s = &sims[order[o].token];

        w->owner = (uint8_t)order[o].token;
        w->seed = keyed - o >= w->need;
        for (size_t i = 0; i < s->count && err == AGENT_STORE_OK && !w->nomem; i++) {
            be64(s->tokens[i], kb);
            err = agent_store_dup_each(txn, AGENT_T_NAME_KEYS, kb, 8, token_ids, w);
        }
    }
    for (size_t i = 0; i < nj && err == AGENT_STORE_OK && !w->nomem; i++) {
        be64(jkeys[i], kb);
        err = agent_store_dup_each(txn, AGENT_T_NAME_KEYS, kb, 8, joined_ids, w);
    }
    for (size_t t = 0; t < MATCH_TOKENS_MAX; t++)
        free(sims[t].tokens);
    if (err == AGENT_STORE_OK && w->nomem)
        err = AGENT_STORE_ERR_NOMEM;
    return err;
}

agent_store_err
agent_index_names(agent_txn *txn, const match_name *names, size_t count, double threshold,
                  unsigned scope, agent_index_recs *recs, size_t *scored_out)
{
    name_walk w;
    agent_store_err err = AGENT_STORE_OK;
    size_t scored = 0;

    memset(&w, 0, sizeof(w));
    for (size_t k = 0; k < count && err == AGENT_STORE_OK; k++) {
        if (names[k].count == 0)
            continue;
        if (w.slots != NULL)
            memset(w.slots, 0, w.cap * sizeof(tally));
        w.used = 0;
        w.n_cands = 0;
        if ((err = name_candidates(txn, &names[k], threshold, &w)) != AGENT_STORE_OK)
            break;
        /* In id order, the names table is read along its pages, not across them. */
        if (w.n_cands > 1)
            qsort(w.cands, w.n_cands, sizeof(uint64_t), u64_cmp);
        for (size_t c = 0; c < w.n_cands && err == AGENT_STORE_OK; c++) {
            uint8_t idb[8];
            const uint8_t *v;
            const void *vv;
            size_t v_len, key_len;
            match_name m;
            bool hit = false;

            be64(w.cands[c], idb);
            err = agent_store_get(txn, AGENT_T_NAMES, idb, 8, &vv, &v_len);
            if (err == AGENT_STORE_ERR_NOT_FOUND) {
                err = AGENT_STORE_OK;
                continue;
            }
            if (err != AGENT_STORE_OK)
                break;
            v = vv;
            if (v_len < 4 || (key_len = (size_t)v[2] << 8 | v[3]) > v_len - 4 ||
                !table_in_scope((agent_table)v[0], scope, true))
                continue;
            if (!match_name_unpack(v + 4 + key_len, v_len - 4 - key_len, &m))
                continue;
            scored++;
            /* Any name of the subject may make the hit: the record is then scored whole. */
            for (size_t j = 0; j < count && !hit; j++)
                hit = match_is_hit(match_name_score_parsed(&names[j], &m), threshold);
            if (hit)
                err = recs_add(recs, (agent_table)v[0], v + 4, key_len);
        }
    }
    free(w.slots);
    free(w.cands);
    if (err == AGENT_STORE_OK && scored_out != NULL)
        *scored_out = scored;
    return err;
}

/* State of a document lookup. */
typedef struct doc_walk {
    agent_index_recs *recs; /* where records go */
    unsigned scope;         /* tables looked in */
    bool entries;           /* watchlist entries (else reports) */
    agent_store_err err;    /* the first failure */
} doc_walk;

static int
doc_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    doc_walk *w = ctx;
    const uint8_t *v = val;

    (void)key;
    (void)key_len;
    if (val_len < 2 || !table_in_scope((agent_table)v[0], w->scope, w->entries))
        return 0;
    w->err = recs_add(w->recs, (agent_table)v[0], v + 1, val_len - 1);
    return w->err != AGENT_STORE_OK;
}

agent_store_err
agent_index_docs(agent_txn *txn, const char *norm, bool entries, unsigned scope,
                 agent_index_recs *recs)
{
    doc_walk w = {recs, scope, entries, AGENT_STORE_OK};
    agent_store_err err;
    size_t len = strlen(norm);

    if (len == 0)
        return AGENT_STORE_OK;
    err = agent_store_dup_each(txn, AGENT_T_DOC_KEYS, norm, len, doc_one, &w);
    return err != AGENT_STORE_OK ? err : w.err;
}
