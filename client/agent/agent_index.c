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
/* Keys of one name: screening's, plus a skeleton per token. */
#define INDEX_NAME_KEYS_MAX (NAME_KEYS_SCREEN_MAX + MATCH_TOKENS_MAX)
/* A name id's top two bits: min(2, its tokens that give keys), what the candidate rule needs. */
#define ID_KEYED_SHIFT 62
#define ID_LOW_MASK ((((uint64_t)1) << ID_KEYED_SHIFT) - 1)
/* Ids tried past a name's own when another name holds it (a 62-bit collision). */
#define ID_PROBES 8u
/* Head keys carry the name's length run together, capped here. */
#define JOINED_MAX (MATCH_TOKENS_MAX * MATCH_TOKEN_CHARS_MAX)
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

/* A head key made specific to the name's length run together: match.c compares names run
 * together only when their lengths are close, so a lookup asks for the lengths it could
 * match and no others. */
static uint64_t
head_sized(uint64_t head, size_t joined)
{
    uint64_t h = (head ^ ((uint64_t)(joined > JOINED_MAX ? JOINED_MAX : joined) + 1) *
                             0x9E3779B97F4A7C15ull) * 0xBF58476D1CE4E5B9ull;

    h = (h & ~NAME_KEY_TAG_MASK) | NAME_KEY_HEAD;
    return h != 0 ? h : 1;
}

/* The index's keys of m: screening's keys (the head's made length-specific) and the
 * skeleton of each token of two consonants or more, with owners as name_keys_of gives. */
static size_t
index_keys(const match_name *m, uint64_t *keys, uint8_t *owner)
{
    size_t n = name_keys_of(m, keys, owner), joined = name_keys_joined_length(m);
    char skel[MATCH_SKELETON_MAX];

    for (size_t i = 0; i < n; i++) {
        if (owner[i] == NAME_KEY_OWNER_HEAD)
            keys[i] = head_sized(keys[i], joined);
    }
    for (size_t t = 0; t < m->count; t++) {
        size_t len = match_token_skeleton(m->tokens[t], m->lens[t], skel);
        uint32_t cps[MATCH_SKELETON_MAX];

        if (len < 2)
            continue;
        for (size_t i = 0; i < len; i++)
            cps[i] = (unsigned char)skel[i];
        keys[n] = name_keys_hash(NAME_KEY_SKELETON, cps, len);
        owner[n++] = (uint8_t)t;
    }
    return n;
}

/* The id a name starts from: a hash of its record's table and key and its place there, its
 * top bits min(2, keyed tokens). */
static uint64_t
name_id_base(agent_table table, const void *key, size_t key_len, size_t place, size_t keyed)
{
    uint64_t h = 1469598103934665603ull;
    const uint8_t *k = key;

    h = (h ^ (uint8_t)table) * 1099511628211ull;
    h = (h ^ (uint8_t)place) * 1099511628211ull;
    for (size_t i = 0; i < key_len; i++)
        h = (h ^ k[i]) * 1099511628211ull;
    return (h & ID_LOW_MASK) | (uint64_t)(keyed < 2 ? keyed : 2) << ID_KEYED_SHIFT;
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

/* Adds or removes the index of one name of a record. */
static agent_store_err
name_change(agent_txn *txn, bool add, agent_table table, const void *key, size_t key_len,
            size_t place, const char *text)
{
    match_name m;
    uint64_t keys[INDEX_NAME_KEYS_MAX], base, id = 0;
    uint8_t owner[INDEX_NAME_KEYS_MAX], idb[8], kb[8];
    uint8_t *val = NULL;
    size_t n, own_len, val_len;
    agent_store_err err = AGENT_STORE_OK;
    bool found = false;

    match_name_parse(text, &m);
    if (m.count == 0)
        return AGENT_STORE_OK;
    if ((val = malloc(4 + AGENT_STORE_KEY_MAX + MATCH_PACKED_MAX)) == NULL)
        return AGENT_STORE_ERR_NOMEM;
    own_len = names_value(table, place, key, key_len, NULL, val);
    base = name_id_base(table, key, key_len, place, name_keys_keyed_tokens(&m));
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
    n = index_keys(&m, keys, owner);
    for (size_t i = 0; i < n && err == AGENT_STORE_OK; i++) {
        be64(keys[i], kb);
        err = add ? agent_store_dup_put(txn, AGENT_T_NAME_KEYS, kb, 8, idb, 8)
                  : agent_store_dup_del(txn, AGENT_T_NAME_KEYS, kb, 8, idb, 8);
    }
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

/* State of one subject name's lookup. */
typedef struct name_walk {
    tally *slots;          /* the tallies */
    size_t cap;            /* a power of two */
    size_t used;           /* slots in use */
    uint64_t *cands;       /* candidate ids */
    size_t n_cands;        /* in use */
    size_t cands_cap;      /* allocated */
    size_t need;           /* min(2, the subject's keyed tokens) */
    uint8_t owner;         /* the token of the key walked */
    bool nomem;            /* an allocation failed */
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

static int
head_ids(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    name_walk *w = ctx;

    (void)key;
    (void)key_len;
    for (size_t i = 0; i + 8 <= val_len; i += 8) {
        uint64_t id = from_be64((const uint8_t *)val + i);
        tally *t;

        if (!tally_room(w) || !cand_push(w, id)) {
            w->nomem = true;
            return 1;
        }
        t = tally_of(w, id);
        if (t->id == 0) {
            t->id = id;
            w->used++;
        }
        if (t->done)
            w->n_cands--;
        t->done = 1;
    }
    return 0;
}

static int
token_ids(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    name_walk *w = ctx;

    (void)key;
    (void)key_len;
    for (size_t i = 0; i + 8 <= val_len; i += 8) {
        uint64_t id = from_be64((const uint8_t *)val + i);
        size_t need = w->need, keyed = (size_t)(id >> ID_KEYED_SHIFT);
        tally *t;

        if (!tally_room(w)) {
            w->nomem = true;
            return 1;
        }
        t = tally_of(w, id);
        if (t->id == 0) {
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
        if (keyed < need)
            need = keyed;
        if (!t->done && t->hits >= need) {
            t->done = 1;
            if (!cand_push(w, id)) {
                w->nomem = true;
                return 1;
            }
        }
    }
    return 0;
}

/* The candidates of one subject name into w->cands. */
static agent_store_err
name_candidates(agent_txn *txn, const match_name *m, name_walk *w)
{
    uint64_t keys[INDEX_NAME_KEYS_MAX];
    uint8_t owner[INDEX_NAME_KEYS_MAX], kb[8];
    size_t n = index_keys(m, keys, owner), joined = name_keys_joined_length(m);
    size_t keyed = name_keys_keyed_tokens(m);
    uint64_t heads[NAME_KEYS_TOKEN_MAX];
    size_t n_heads = name_keys_head(m, heads);
    agent_store_err err = AGENT_STORE_OK;

    w->need = keyed < 2 ? keyed : 2;
    for (size_t k = 0; k < n && err == AGENT_STORE_OK && !w->nomem; k++) {
        if (owner[k] == NAME_KEY_OWNER_HEAD)
            continue;
        w->owner = owner[k];
        be64(keys[k], kb);
        err = agent_store_dup_each(txn, AGENT_T_NAME_KEYS, kb, 8, token_ids, w);
    }
    /* Head keys: every length run together that match.c would compare with this one. */
    for (size_t len = 1; len <= JOINED_MAX && err == AGENT_STORE_OK && !w->nomem; len++) {
        double a = (double)joined, b = (double)len;

        if ((a < b ? a : b) < NAME_KEY_HEAD_LENGTH_RATIO * (a < b ? b : a))
            continue;
        for (size_t h = 0; h < n_heads && err == AGENT_STORE_OK; h++) {
            be64(head_sized(heads[h], len), kb);
            err = agent_store_dup_each(txn, AGENT_T_NAME_KEYS, kb, 8, head_ids, w);
        }
    }
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
        if ((err = name_candidates(txn, &names[k], &w)) != AGENT_STORE_OK)
            break;
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
