/* Screening: the designations in force in a compact form, an index of blocking keys, and the
 * scoring of a subject with its reasons (screen.h; docs/agent.md, "Screening"). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "country.h"
#include "name_keys.h"
#include "screen.h"

/* Bounds of docs/messages.md, applied again here: what a record holds past them is ignored. */
#define TEXT_MAX 512u
#define ALIASES_MAX 512u
#define BORN_MAX 64u
#define PLACES_MAX 64u
#define NATIONALITIES_MAX 64u
#define DOCUMENTS_MAX 128u
#define IDENTIFIERS_MAX 64u
#define ADDRESSES_MAX 128u
/* Bytes of a quoted name in a reason; longer names are cut at a character boundary. */
#define REASON_NAME_MAX 120u
/* Bytes of one arena chunk. */
#define CHUNK_BYTES (256u * 1024u)

/* How a name of a designation is known. */
enum name_kind {
    NAME_PRIMARY = 0,  /* entity.name */
    NAME_ORIGINAL = 1, /* entity.original_name */
    NAME_ALIAS = 2,    /* a strong or good alias */
    NAME_WEAK = 3,     /* a weak or low alias */
};

static const char *const name_kind_text[] = {"name", "original_name", "alias", "weak alias"};

/* One name of a designation. */
typedef struct sname {
    const char *text;    /* as published */
    enum name_kind kind; /* how it is known */
    uint8_t count;       /* tokens after normalisation (match_name_parse) */
    uint8_t lens[MATCH_TOKENS_MAX]; /* code points of each token */
    uint8_t flags[MATCH_TOKENS_MAX]; /* each token's MATCH_FLAG_* bits */
    const uint32_t *cps; /* the tokens' code points, one after the other */
} sname;

/* A text as published with its country index (COUNTRY_NONE when unknown). */
typedef struct scountry {
    const char *text; /* as published */
    const char *what; /* "nationality", "address country", "place of birth" */
    int index;        /* country_lookup of text */
} scountry;

/* A document number or identifier, normalised, and how it was published. */
typedef struct sdoc {
    const char *norm; /* match_doc_normalise */
    const char *text; /* "passport X1234567" */
} sdoc;

/* One designation in force, compact. */
typedef struct sentry {
    const char *from;        /* the designating unit ("" for own) */
    const char *designation; /* its id */
    const char *list;        /* "" when absent */
    const char *reference;   /* "" when absent */
    const char *type;        /* individual, entity, vessel, aircraft */
    const char *name;        /* entity.name */
    uint32_t version;        /* the version in force */
    sname *names;            /* every name */
    size_t name_count;       /* entries in names */
    const char **born;       /* dates of birth */
    size_t born_count;       /* entries in born */
    scountry *nationalities; /* nationalities */
    size_t nationality_count; /* entries */
    scountry *places;        /* address countries and places of birth */
    size_t place_count;      /* entries */
    sdoc *docs;              /* documents and identifiers */
    size_t doc_count;        /* entries */
} sentry;

/* A memory chunk of the arena. */
typedef struct chunk {
    struct chunk *next; /* the chunk allocated before */
    size_t used, size;  /* bytes handed out, bytes it has */
    char data[];        /* its bytes */
} chunk;

/* A posting list: the names (or, for a document key, the designations) that carry one key. */
typedef struct posting {
    uint64_t key;  /* the key (0: slot unused) */
    uint32_t *ids; /* name indexes (entry indexes for a document key), ascending */
    uint32_t count, cap; /* used, allocated */
} posting;

/* One name of the set as the index sees it, with the scratch counts of a run. */
typedef struct iname {
    uint32_t entry; /* the designation it belongs to */
    uint32_t run;   /* the run that last counted it */
    uint8_t keyed;  /* its tokens that give keys (two characters or more) */
    uint8_t last;   /* the subject token that last hit it in that run */
    uint8_t hits;   /* distinct subject tokens that hit it in that run */
    uint16_t joined; /* code points of its tokens run together */
} iname;

struct screen_set {
    sentry *entries;       /* the designations */
    size_t count, cap;     /* used, allocated */
    chunk *arena;          /* strings and arrays of the entries */
    size_t arena_bytes;    /* bytes of all chunks */
    posting *slots;        /* the index: open addressing on key */
    size_t slot_count;     /* a power of two, or 0 without an index */
    size_t keys, postings; /* distinct keys, key-designation pairs */
    bool indexed;          /* the index covers every entry */
    iname *inames;         /* every name of every entry, in entry order */
    size_t iname_count;    /* entries in inames */
    uint32_t *marks;       /* per entry, the run that last took it as a candidate */
    uint32_t run;          /* the current run's mark */
    uint32_t *cands;       /* candidate indexes of the current run */
};

/* ---- Arena ----------------------------------------------------------------------------- */

static void *
arena_alloc(screen_set *s, size_t n)
{
    chunk *c = s->arena;

    n = (n + 7u) & ~(size_t)7u;
    if (c == NULL || c->size - c->used < n) {
        size_t size = n > CHUNK_BYTES ? n : CHUNK_BYTES;

        c = malloc(sizeof(chunk) + size);
        if (c == NULL)
            return NULL;
        c->next = s->arena;
        c->used = 0;
        c->size = size;
        s->arena = c;
        s->arena_bytes += sizeof(chunk) + size;
    }
    c->used += n;
    return c->data + c->used - n;
}

static const char *
arena_str(screen_set *s, const char *text)
{
    size_t n = strlen(text);
    char *p = arena_alloc(s, n + 1);

    if (p != NULL)
        memcpy(p, text, n + 1);
    return p;
}

/* ---- The set ---------------------------------------------------------------------------- */

screen_set *
screen_set_new(void)
{
    return calloc(1, sizeof(screen_set));
}

static void
index_free(screen_set *s)
{
    for (size_t i = 0; i < s->slot_count; i++)
        free(s->slots[i].ids);
    free(s->slots);
    s->slots = NULL;
    s->slot_count = s->keys = s->postings = 0;
    s->indexed = false;
}

void
screen_set_destroy(screen_set **set)
{
    screen_set *s = set != NULL ? *set : NULL;

    if (s == NULL)
        return;
    index_free(s);
    while (s->arena != NULL) {
        chunk *next = s->arena->next;

        free(s->arena);
        s->arena = next;
    }
    free(s->entries);
    free(s->inames);
    free(s->marks);
    free(s->cands);
    free(s);
    *set = NULL;
}

size_t
screen_set_count(const screen_set *set)
{
    return set->count;
}

void
screen_set_stats(const screen_set *set, size_t *keys_out, size_t *postings_out, size_t *bytes_out)
{
    size_t bytes = set->arena_bytes + set->cap * sizeof(sentry) + set->slot_count * sizeof(posting) +
                   set->cap * 2 * sizeof(uint32_t) + set->iname_count * sizeof(iname);

    for (size_t i = 0; i < set->slot_count; i++)
        bytes += set->slots[i].cap * sizeof(uint32_t);
    *keys_out = set->keys;
    *postings_out = set->postings;
    *bytes_out = bytes;
}

/* A string member of o of 1..TEXT_MAX bytes, or NULL. */
static const char *
text_of(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);

    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > TEXT_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

static const char *
text_value(const json_t *v)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > TEXT_MAX ||
        strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

static size_t
bounded_size(const json_t *a, size_t max)
{
    size_t n = json_is_array(a) ? json_array_size(a) : 0;

    return n < max ? n : max;
}

/* Adds a country text to list (size at *count, room for max). */
static void
add_country(scountry *list, size_t *count, const char *text, const char *what, bool place)
{
    if (text == NULL)
        return;
    list[*count].text = text;
    list[*count].what = what;
    list[*count].index = place ? country_lookup_place(text) : country_lookup(text);
    (*count)++;
}

/* Copies src (when not NULL) into the arena as *dst; false when out of memory. */
static bool
keep_str(screen_set *s, const char *src, const char **dst)
{
    if (src == NULL)
        return true;
    *dst = arena_str(s, src);
    return *dst != NULL;
}

/* Parses names[k].text once and keeps its tokens in the arena; false when out of memory. */
static bool
keep_parsed(screen_set *s, sname *n)
{
    match_name m;
    size_t total = 0;
    uint32_t *cps;

    match_name_parse(n->text, &m);
    for (size_t t = 0; t < m.count; t++)
        total += m.lens[t];
    cps = arena_alloc(s, (total + 1) * sizeof(uint32_t));
    if (cps == NULL)
        return false;
    n->count = (uint8_t)m.count;
    total = 0;
    for (size_t t = 0; t < m.count; t++) {
        n->lens[t] = (uint8_t)m.lens[t];
        n->flags[t] = m.flags[t];
        memcpy(cps + total, m.tokens[t], m.lens[t] * sizeof(uint32_t));
        total += m.lens[t];
    }
    n->cps = cps;
    return true;
}

/* The parsed form of n into *m (only what match.h's scoring reads is filled in). */
static void
unpack(const sname *n, match_name *m)
{
    size_t off = 0;

    m->count = n->count;
    for (size_t t = 0; t < n->count; t++) {
        m->lens[t] = n->lens[t];
        m->flags[t] = n->flags[t];
        memcpy(m->tokens[t], n->cps + off, n->lens[t] * sizeof(uint32_t));
        off += n->lens[t];
    }
}

/* The entry for rec, its strings in the arena; false when out of memory. */
static bool
entry_build(screen_set *s, const json_t *rec, const char *from, sentry *e)
{
    const json_t *entity = json_object_get(rec, "entity");
    const json_t *aliases = json_object_get(entity, "aliases");
    const json_t *born = json_object_get(entity, "born");
    const json_t *nats = json_object_get(entity, "nationalities");
    const json_t *places = json_object_get(entity, "birth_places");
    const json_t *addrs = json_object_get(entity, "addresses");
    const json_t *docs = json_object_get(entity, "documents");
    const json_t *ids = json_object_get(entity, "identifiers");
    size_t n_alias = bounded_size(aliases, ALIASES_MAX), n_born = bounded_size(born, BORN_MAX);
    size_t n_nat = bounded_size(nats, NATIONALITIES_MAX), n_place = bounded_size(places, PLACES_MAX);
    size_t n_addr = bounded_size(addrs, ADDRESSES_MAX), n_doc = bounded_size(docs, DOCUMENTS_MAX);
    size_t n_id = bounded_size(ids, IDENTIFIERS_MAX);
    const char *str;
    char norm[MATCH_DOC_MAX];

    memset(e, 0, sizeof(*e));
    e->list = e->reference = e->from = "";
    if (!keep_str(s, from, &e->from))
            return false;
    if (!keep_str(s, text_of(rec, "designation"), &e->designation))
            return false;
    if (!keep_str(s, text_of(rec, "list"), &e->list))
            return false;
    if (!keep_str(s, text_of(rec, "reference"), &e->reference))
            return false;
    e->type = "entity";
    if (!keep_str(s, text_of(entity, "type"), &e->type))
            return false;
    if (!keep_str(s, text_of(entity, "name"), &e->name))
            return false;
    e->version = (uint32_t)json_integer_value(json_object_get(rec, "version"));
    e->names = arena_alloc(s, (2 + n_alias) * sizeof(sname));
    e->born = arena_alloc(s, (n_born + 1) * sizeof(char *));
    e->nationalities = arena_alloc(s, (n_nat + 1) * sizeof(scountry));
    e->places = arena_alloc(s, (n_place + n_addr + 1) * sizeof(scountry));
    e->docs = arena_alloc(s, (n_doc + n_id + 1) * sizeof(sdoc));
    if (e->names == NULL || e->born == NULL || e->nationalities == NULL || e->places == NULL ||
        e->docs == NULL)
        return false;
    memset(e->names, 0, (2 + n_alias) * sizeof(sname));
    e->names[e->name_count].text = e->name;
    e->names[e->name_count++].kind = NAME_PRIMARY;
    if ((str = text_of(entity, "original_name")) != NULL) {
        if (!keep_str(s, str, &e->names[e->name_count].text))
            return false;
        e->names[e->name_count++].kind = NAME_ORIGINAL;
    }
    for (size_t i = 0; i < n_alias; i++) {
        const json_t *a = json_array_get(aliases, i);
        const char *q = json_string_value(json_object_get(a, "quality"));

        str = json_is_string(a) ? text_value(a) : text_of(a, "name");
        if (str == NULL)
            continue;
        if (!keep_str(s, str, &e->names[e->name_count].text))
            return false;
        e->names[e->name_count++].kind =
            q != NULL && (strcmp(q, "weak") == 0 || strcmp(q, "low") == 0) ? NAME_WEAK : NAME_ALIAS;
    }
    for (size_t i = 0; i < n_born; i++) {
        if ((str = text_value(json_array_get(born, i))) == NULL || strlen(str) > 32)
            continue;
        if (!keep_str(s, str, &e->born[e->born_count++]))
            return false;
    }
    for (size_t i = 0; i < n_nat; i++) {
        const char *t = NULL;

        if (!keep_str(s, text_value(json_array_get(nats, i)), &t))
            return false;
        add_country(e->nationalities, &e->nationality_count, t, "nationality", false);
    }
    for (size_t i = 0; i < n_addr; i++) {
        const char *t = NULL;

        if (!keep_str(s, text_of(json_array_get(addrs, i), "country"), &t))
            return false;
        add_country(e->places, &e->place_count, t, "address country", false);
    }
    for (size_t i = 0; i < n_place; i++) {
        const char *t = NULL;

        if (!keep_str(s, text_value(json_array_get(places, i)), &t))
            return false;
        add_country(e->places, &e->place_count, t, "place of birth", true);
    }
    for (size_t i = 0; i < n_doc + n_id; i++) {
        const json_t *d = i < n_doc ? json_array_get(docs, i) : json_array_get(ids, i - n_doc);
        const char *number = text_of(d, i < n_doc ? "number" : "value");
        const char *type = text_of(d, "type");
        char what[TEXT_MAX * 2 + 4];

        if (number == NULL || !match_doc_normalise(number, norm, sizeof(norm)))
            continue;
        snprintf(what, sizeof(what), "%s %s", type != NULL ? type : i < n_doc ? "document"
                                                                          : "identifier", number);
        if (!keep_str(s, norm, &e->docs[e->doc_count].norm))
            return false;
        if (!keep_str(s, what, &e->docs[e->doc_count].text))
            return false;
        e->doc_count++;
    }
    for (size_t k = 0; k < e->name_count; k++) {
        if (!keep_parsed(s, &e->names[k]))
            return false;
    }
    return true;
}

bool
screen_set_add(screen_set *set, const json_t *rec, const char *from, bool *added_out)
{
    const char *action = json_string_value(json_object_get(rec, "action"));
    json_int_t version = json_integer_value(json_object_get(rec, "version"));
    chunk *mark = set->arena;
    size_t mark_used = mark != NULL ? mark->used : 0;

    *added_out = false;
    if (from == NULL)
        from = text_of(rec, "from");
    if (text_of(rec, "designation") == NULL || version < 1 || version > 1000000000 ||
        text_of(json_object_get(rec, "entity"), "name") == NULL ||
        (action != NULL && strcmp(action, "delist") == 0))
        return true;
    if (set->count == set->cap) {
        size_t cap = set->cap > 0 ? set->cap * 2 : 256;
        sentry *n = realloc(set->entries, cap * sizeof(sentry));

        if (n == NULL)
            return false;
        set->entries = n;
        set->cap = cap;
    }
    if (!entry_build(set, rec, from, &set->entries[set->count])) {
        /* Give back the chunks allocated for this entry. */
        while (set->arena != mark) {
            chunk *next = set->arena->next;

            set->arena_bytes -= sizeof(chunk) + set->arena->size;
            free(set->arena);
            set->arena = next;
        }
        if (mark != NULL)
            mark->used = mark_used;
        return false;
    }
    set->count++;
    set->indexed = false;
    *added_out = true;
    return true;
}

/* ---- Designations in force ---------------------------------------------------------------- */

/* The walk over the designations table: the latest record of the group seen. */
typedef struct walk {
    screen_record_fn fn;         /* called per designation in force */
    void *ctx;                   /* its context */
    bool grouped;                /* records are versions grouped by their key's prefix */
    char group[AGENT_STORE_KEY_MAX]; /* "FROM DESIGNATION" of pending */
    json_t *pending;             /* the latest version seen of group */
    int stop;                    /* fn asked to stop */
} walk;

/* Calls fn for pending unless it is a delisting; drops it. */
static void
walk_flush(walk *w)
{
    const char *action = json_string_value(json_object_get(w->pending, "action"));

    if (w->pending != NULL && w->stop == 0 && (action == NULL || strcmp(action, "delist") != 0))
        w->stop = w->fn(w->ctx, w->pending);
    json_decref(w->pending);
    w->pending = NULL;
}

static int
walk_record(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    walk *w = ctx;
    json_t *rec = agent_json_load(val, val_len);
    size_t glen = key_len;

    if (w->grouped) {
        /* The key is "FROM DESIGNATION VERSION": the group is all but the version. */
        while (glen > 0 && ((const char *)key)[glen - 1] != ' ')
            glen--;
        glen = glen > 0 ? glen - 1 : 0;
        if (glen >= sizeof(w->group))
            glen = sizeof(w->group) - 1;
        if (w->pending != NULL &&
            (strlen(w->group) != glen || memcmp(w->group, key, glen) != 0))
            walk_flush(w);
        memcpy(w->group, key, glen);
        w->group[glen] = '\0';
        if (rec != NULL) {
            json_decref(w->pending);
            w->pending = rec;
        }
    } else if (rec != NULL) {
        w->pending = rec;
        walk_flush(w);
    }
    return w->stop;
}

agent_store_err
screen_each_in_force(agent_txn *txn, agent_table table, screen_record_fn fn, void *ctx)
{
    walk w;
    agent_store_err err;

    memset(&w, 0, sizeof(w));
    w.fn = fn;
    w.ctx = ctx;
    w.grouped = table == AGENT_T_DESIGNATIONS;
    err = agent_store_each(txn, table, NULL, walk_record, &w);
    walk_flush(&w);
    return err;
}

/* The context of screen_set_load's walk. */
typedef struct load_ctx {
    screen_set *set;  /* where records go */
    bool own;         /* loading own_designations */
    bool nomem;       /* ran out of memory */
} load_ctx;

static int
load_one(void *ctx, const json_t *rec)
{
    load_ctx *l = ctx;
    bool added;

    if (!screen_set_add(l->set, rec, l->own ? "" : NULL, &added)) {
        l->nomem = true;
        return 1;
    }
    return 0;
}

agent_store_err
screen_set_load(agent_txn *txn, unsigned sources, screen_set *set)
{
    load_ctx l = {set, false, false};
    agent_store_err err = AGENT_STORE_OK;

    if ((sources & SCREEN_RECEIVED) != 0 &&
        (err = screen_each_in_force(txn, AGENT_T_DESIGNATIONS, load_one, &l)) != AGENT_STORE_OK)
        return err;
    l.own = true;
    if (!l.nomem && (sources & SCREEN_OWN) != 0 &&
        (err = screen_each_in_force(txn, AGENT_T_OWN_DESIGNATIONS, load_one, &l)) != AGENT_STORE_OK)
        return err;
    if (l.nomem || !screen_set_index(set))
        return AGENT_STORE_ERR_NOMEM;
    return AGENT_STORE_OK;
}

/* ---- The index ------------------------------------------------------------------------------ */

/* The key of every name with a token that match.c compares by skeleton
 * (Arabic, Hebrew, Hangul): such a token may score with one of no shared
 * letters ("mhmd", "Mohammed"), which no key of letters finds, so these
 * names are candidates of every subject (a document key's tag with no
 * hash: name_keys_doc never gives 0 below the tag). */
#define KEY_SKELETON (NAME_KEY_DOC | 0)

/* True if a token of m is compared by skeleton (match.h, MATCH_FLAGS_SKELETON). */
static bool
skeleton_scored(const match_name *m)
{
    for (size_t t = 0; t < m->count; t++) {
        if (m->flags[t] & MATCH_FLAGS_SKELETON)
            return true;
    }
    return false;
}

static size_t
slot_of(const screen_set *s, uint64_t key)
{
    uint64_t h = key * 0x9E3779B97F4A7C15ull;
    size_t i = (size_t)(h >> 20) & (s->slot_count - 1);

    while (s->slots[i].key != 0 && s->slots[i].key != key)
        i = (i + 1) & (s->slot_count - 1);
    return i;
}

/* Adds designation id under key; false when out of memory. */
static bool
index_put(screen_set *s, uint64_t key, uint32_t id)
{
    posting *p;

    if ((s->keys + 1) * 2 > s->slot_count) {
        posting *old = s->slots;
        size_t old_count = s->slot_count, count = old_count > 0 ? old_count * 2 : 1024;
        posting *slots = calloc(count, sizeof(posting));

        if (slots == NULL)
            return false;
        s->slots = slots;
        s->slot_count = count;
        for (size_t i = 0; i < old_count; i++) {
            if (old[i].key != 0)
                s->slots[slot_of(s, old[i].key)] = old[i];
        }
        free(old);
    }
    p = &s->slots[slot_of(s, key)];
    if (p->key == 0) {
        p->key = key;
        s->keys++;
    }
    if (p->count > 0 && p->ids[p->count - 1] == id)
        return true;
    if (p->count == p->cap) {
        uint32_t cap = p->cap > 0 ? p->cap * 2 : 4;
        uint32_t *ids = realloc(p->ids, cap * sizeof(uint32_t));

        if (ids == NULL)
            return false;
        p->ids = ids;
        p->cap = cap;
    }
    p->ids[p->count++] = id;
    s->postings++;
    return true;
}

bool
screen_set_index(screen_set *set)
{
    match_name m;
    uint64_t keys[NAME_KEYS_SCREEN_MAX + 1]; /* and KEY_SKELETON */

    size_t total = 0, g = 0;

    index_free(set);
    free(set->marks);
    free(set->cands);
    free(set->inames);
    set->inames = NULL;
    set->iname_count = 0;
    for (size_t i = 0; i < set->count; i++)
        total += set->entries[i].name_count;
    set->marks = calloc(set->count + 1, sizeof(uint32_t));
    set->cands = malloc((set->count + 1) * sizeof(uint32_t));
    set->inames = calloc(total + 1, sizeof(iname));
    set->run = 0;
    if (set->marks == NULL || set->cands == NULL || set->inames == NULL || total > UINT32_MAX)
        return false;
    set->iname_count = total;
    for (size_t i = 0; i < set->count; i++) {
        const sentry *e = &set->entries[i];

        for (size_t k = 0; k < e->name_count; k++, g++) {
            size_t n;

            unpack(&e->names[k], &m);
            set->inames[g].entry = (uint32_t)i;
            set->inames[g].keyed = (uint8_t)name_keys_keyed_tokens(&m);
            set->inames[g].joined = (uint16_t)name_keys_joined_length(&m);
            n = name_keys_of(&m, keys, NULL);
            if (skeleton_scored(&m))
                keys[n++] = KEY_SKELETON;
            for (size_t j = 0; j < n; j++) {
                if (!index_put(set, keys[j], (uint32_t)g)) {
                    index_free(set);
                    return false;
                }
            }
        }
        for (size_t k = 0; k < e->doc_count; k++) {
            if (!index_put(set, name_keys_doc(e->docs[k].norm), (uint32_t)i)) {
                index_free(set);
                return false;
            }
        }
    }
    set->indexed = true;
    return true;
}

/* ---- Scoring ---------------------------------------------------------------------------------- */

/* A scored candidate before it becomes JSON. */
typedef struct scored {
    uint32_t id;          /* the entry */
    double score;         /* final score */
} scored;

/* text cut to at most max bytes at a UTF-8 character boundary, into out (max + 1 bytes). */
static const char *
cut(const char *text, size_t max, char *out)
{
    size_t n = strlen(text);

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, text, n);
    out[n] = '\0';
    return out;
}

static bool
given(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* The year of a date "YYYY...", or -1. */
static int
year_of(const char *s)
{
    int y = 0;

    for (int i = 0; i < 4; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        y = y * 10 + (s[i] - '0');
    }
    return s[4] == '\0' || s[4] == '-' ? y : -1;
}

/* True if the subject's date of birth agrees with a designation's (a
 * date, a year-month, a year, or a range of years "YYYY..YYYY"). */
static bool
born_agrees(const char *subject, const char *designated)
{
    if (strlen(designated) == 10 && designated[4] == '.' && designated[5] == '.') {
        char lo[5], hi[5];
        int y = year_of(subject);

        memcpy(lo, designated, 4);
        memcpy(hi, designated + 6, 4);
        lo[4] = hi[4] = '\0';
        return y >= 0 && year_of(lo) >= 0 && year_of(hi) >= 0 && y >= year_of(lo) &&
               y <= year_of(hi);
    }
    return match_date_compare(subject, designated) == MATCH_DATE_SAME;
}

/* True if two country texts name the same country: same ISO index, or the
 * same normalised text when the table knows neither. */
static bool
country_same(int index_a, const char *a, int index_b, const char *b)
{
    char na[TEXT_MAX + 1], nb[TEXT_MAX + 1];

    if (index_a != COUNTRY_NONE || index_b != COUNTRY_NONE)
        return index_a == index_b;
    match_name_normalise(a, na, sizeof(na));
    match_name_normalise(b, nb, sizeof(nb));
    return na[0] != '\0' && strcmp(na, nb) == 0;
}

/* individual for person; the designation's types otherwise as they are. */
static const char *
type_class(const char *type)
{
    if (strcmp(type, "person") == 0 || strcmp(type, "individual") == 0)
        return "individual";
    if (strcmp(type, "company") == 0 || strcmp(type, "organisation") == 0 ||
        strcmp(type, "organization") == 0)
        return "entity";
    return type;
}

/* The parsed subject and what scoring needs of it. */
typedef struct psubject {
    const screen_subject *s; /* as given */
    match_name name;         /* its name, parsed */
    int nationality;         /* country index of the nationality */
    int country;             /* country index of the country */
    char doc[MATCH_DOC_MAX]; /* normalised document, "" if none */
} psubject;

/* The name score of entry e for the subject: the best of its names, weak
 * aliases weighed down; *best_out the index of the name that gave it and
 * *raw_out its unweighted score. */
static double
name_score(const psubject *p, const sentry *e, size_t *best_out, double *raw_out)
{
    double best = 0.0;
    match_name m;

    *best_out = 0;
    *raw_out = 0.0;
    if (p->name.count == 0)
        return 0.0;
    for (size_t k = 0; k < e->name_count; k++) {
        double raw, weighted;

        unpack(&e->names[k], &m);
        raw = match_name_score_parsed(&p->name, &m);
        weighted = e->names[k].kind == NAME_WEAK ? raw * SCREEN_WEAK_ALIAS_FACTOR : raw;
        if (weighted > best) {
            best = weighted;
            *best_out = k;
            *raw_out = raw;
        }
    }
    return best;
}

/* Appends a reason (printf-style) to reasons (may be NULL: nothing is written). */
static void __attribute__((format(printf, 2, 3)))
reason(json_t *reasons, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    if (reasons == NULL)
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    json_array_append_new(reasons, json_string(buf));
}

/*
 * The score of e for the subject (docs/agent.md, "Screening"), and with
 * reasons not NULL, the sentences that explain it; *name_out gets the
 * index of the best name and *name_score_out its weighted score.
 */
static double
entry_score(const psubject *p, const sentry *e, json_t *reasons, size_t *name_out,
            double *name_score_out)
{
    const screen_subject *s = p->s;
    char qa[REASON_NAME_MAX + 1], qb[REASON_NAME_MAX + 1];
    double raw, score = name_score(p, e, name_out, &raw);
    const sname *n = &e->names[*name_out];

    *name_score_out = score;
    if (score > 0.0) {
        if (n->kind == NAME_WEAK)
            reason(reasons, "name: '%s' ~ weak alias '%s' (%.2f x %.2f = %.2f)",
                   cut(s->name, REASON_NAME_MAX, qa), cut(n->text, REASON_NAME_MAX, qb), raw,
                   SCREEN_WEAK_ALIAS_FACTOR, score);
        else
            reason(reasons, "name: '%s' ~ %s '%s' (%.2f)", cut(s->name, REASON_NAME_MAX, qa),
                   name_kind_text[n->kind], cut(n->text, REASON_NAME_MAX, qb), score);
    }
    if (given(s->born) && e->born_count > 0) {
        size_t k;

        for (k = 0; k < e->born_count && !born_agrees(s->born, e->born[k]); k++)
            ;
        if (k < e->born_count) {
            score += SCREEN_BORN_AGREES;
            reason(reasons, "born: %s agrees with %s (+%.2f)", s->born, e->born[k],
                   SCREEN_BORN_AGREES);
        } else {
            score -= SCREEN_BORN_DIFFERS;
            reason(reasons, "born: %s disagrees with %s%s (-%.2f)", s->born, e->born[0],
                   e->born_count > 1 ? " and the others" : "", SCREEN_BORN_DIFFERS);
        }
    }
    if (given(s->nationality) && e->nationality_count > 0) {
        size_t k;

        for (k = 0; k < e->nationality_count &&
                    !country_same(p->nationality, s->nationality, e->nationalities[k].index,
                                  e->nationalities[k].text);
             k++)
            ;
        if (k < e->nationality_count) {
            score += SCREEN_NATIONALITY_AGREES;
            reason(reasons, "nationality: %s agrees with %s (+%.2f)",
                   cut(s->nationality, 60, qa), cut(e->nationalities[k].text, 60, qb),
                   SCREEN_NATIONALITY_AGREES);
        } else {
            score -= SCREEN_NATIONALITY_DIFFERS;
            reason(reasons, "nationality: %s disagrees with %s%s (-%.2f)",
                   cut(s->nationality, 60, qa), cut(e->nationalities[0].text, 60, qb),
                   e->nationality_count > 1 ? " and the others" : "", SCREEN_NATIONALITY_DIFFERS);
        }
    }
    if (given(s->country)) {
        const scountry *hit = NULL;

        for (size_t k = 0; k < e->place_count && hit == NULL; k++) {
            if (country_same(p->country, s->country, e->places[k].index, e->places[k].text))
                hit = &e->places[k];
        }
        for (size_t k = 0; k < e->nationality_count && hit == NULL; k++) {
            if (country_same(p->country, s->country, e->nationalities[k].index,
                             e->nationalities[k].text))
                hit = &e->nationalities[k];
        }
        if (hit != NULL) {
            score += SCREEN_COUNTRY_AGREES;
            reason(reasons, "country: %s agrees with %s %s (+%.2f)", cut(s->country, 60, qa),
                   hit->what, cut(hit->text, 60, qb), SCREEN_COUNTRY_AGREES);
        }
    }
    if (given(s->type) && strcmp(type_class(s->type), type_class(e->type)) != 0) {
        score -= SCREEN_TYPE_DIFFERS;
        reason(reasons, "type: %s differs from %s (-%.2f)", cut(s->type, 40, qa), e->type,
               SCREEN_TYPE_DIFFERS);
    }
    if (p->doc[0] != '\0') {
        for (size_t k = 0; k < e->doc_count; k++) {
            if (strcmp(p->doc, e->docs[k].norm) == 0) {
                if (score < SCREEN_DOCUMENT_FLOOR)
                    score = SCREEN_DOCUMENT_FLOOR;
                score += SCREEN_DOCUMENT_AGREES;
                reason(reasons, "document: %s is the designation's %s (at least %.2f)",
                       cut(s->document, 60, qa), cut(e->docs[k].text, 200, qb),
                       SCREEN_DOCUMENT_FLOOR + SCREEN_DOCUMENT_AGREES);
                break;
            }
        }
    }
    return score < 0.0 ? 0.0 : score > 1.0 ? 1.0 : score;
}

static int
scored_cmp(const void *a, const void *b, void *arg)
{
    const scored *x = a, *y = b;
    const screen_set *s = arg;
    int c;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    c = strcmp(s->entries[x->id].from, s->entries[y->id].from);
    if (c == 0)
        c = strcmp(s->entries[x->id].designation, s->entries[y->id].designation);
    return c;
}

/* The JSON of one candidate. */
static json_t *
candidate_json(const psubject *p, const sentry *e, double score)
{
    json_t *reasons = json_array(), *o;
    size_t best;
    double ns;

    entry_score(p, e, reasons, &best, &ns);
    o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:f, s:f, s:s, s:s, s:o}", "from", e->from,
                  "designation", e->designation, "version", (json_int_t)e->version, "list",
                  e->list, "reference", e->reference, "type", e->type, "name", e->name, "score",
                  (double)(long long)(score * 1000.0 + 0.5) / 1000.0, "name_score",
                  (double)(long long)(ns * 1000.0 + 0.5) / 1000.0, "matched_name",
                  e->names[best].text, "matched_as", name_kind_text[e->names[best].kind],
                  "reasons", reasons);
    return o;
}

bool
screen_subject_run(screen_set *set, const screen_subject *subject, double threshold, size_t max,
                   bool exhaustive, json_t **candidates_out, size_t *examined_out)
{
    psubject p;
    uint64_t keys[NAME_KEYS_SCREEN_MAX];
    uint8_t owner[NAME_KEYS_SCREEN_MAX];
    size_t n_keys, n_cands = 0, n_hits = 0;
    scored *hits = NULL;
    json_t *list = NULL;
    bool ok = false;

    *candidates_out = NULL;
    memset(&p, 0, sizeof(p));
    p.s = subject;
    match_name_parse(subject->name, &p.name);
    p.nationality = country_lookup(subject->nationality);
    p.country = country_lookup(subject->country);
    if (given(subject->document))
        match_doc_normalise(subject->document, p.doc, sizeof(p.doc));
    if (!set->indexed && !exhaustive && !screen_set_index(set))
        exhaustive = true;
    /* A subject with a token compared by skeleton may score with any name. */
    if (skeleton_scored(&p.name))
        exhaustive = true;
    if (exhaustive || set->cands == NULL) {
        n_cands = set->count;
    } else {
        size_t subject_keyed = name_keys_keyed_tokens(&p.name);
        double joined = (double)name_keys_joined_length(&p.name);

        n_keys = name_keys_of(&p.name, keys, owner);
        if (++set->run == 0) {
            memset(set->marks, 0, set->count * sizeof(uint32_t));
            for (size_t g = 0; g < set->iname_count; g++)
                set->inames[g].run = 0;
            set->run = 1;
        }
        /* A name is a candidate's once as many distinct tokens of the subject as
         * min(2, the subject's keyed tokens, the name's) have hit it. */
        for (size_t k = 0; k < n_keys && set->slot_count > 0; k++) {
            const posting *ps = &set->slots[slot_of(set, keys[k])];

            if (ps->key != keys[k])
                continue;
            for (uint32_t j = 0; j < ps->count; j++) {
                iname *in = &set->inames[ps->ids[j]];
                size_t need = subject_keyed < 2 ? subject_keyed : 2;

                if (owner[k] == NAME_KEY_OWNER_HEAD) {
                    /* The names may score run together: their heads agree and their
                     * lengths are close enough for match.c to compare them so. */
                    double other = (double)in->joined;

                    if ((joined < other ? joined : other) <
                            NAME_KEY_HEAD_LENGTH_RATIO * (joined < other ? other : joined) ||
                        set->marks[in->entry] == set->run)
                        continue;
                    set->marks[in->entry] = set->run;
                    set->cands[n_cands++] = in->entry;
                    continue;
                }
                if (in->run != set->run) {
                    in->run = set->run;
                    in->last = owner[k];
                    in->hits = 1;
                } else if (in->last != owner[k]) {
                    in->last = owner[k];
                    in->hits++;
                } else {
                    continue;
                }
                if (in->keyed < need)
                    need = in->keyed;
                if (in->hits >= need && set->marks[in->entry] != set->run) {
                    set->marks[in->entry] = set->run;
                    set->cands[n_cands++] = in->entry;
                }
            }
        }
        /* Names compared by skeleton are everyone's candidates. */
        if (set->slot_count > 0) {
            const posting *ps = &set->slots[slot_of(set, KEY_SKELETON)];

            for (uint32_t j = 0; ps->key == KEY_SKELETON && j < ps->count; j++) {
                uint32_t e = set->inames[ps->ids[j]].entry;

                if (set->marks[e] != set->run) {
                    set->marks[e] = set->run;
                    set->cands[n_cands++] = e;
                }
            }
        }
        /* A document number or identifier makes a candidate on its own. */
        if (p.doc[0] != '\0' && set->slot_count > 0) {
            uint64_t key = name_keys_doc(p.doc);
            const posting *ps = &set->slots[slot_of(set, key)];

            for (uint32_t j = 0; ps->key == key && j < ps->count; j++) {
                if (set->marks[ps->ids[j]] != set->run) {
                    set->marks[ps->ids[j]] = set->run;
                    set->cands[n_cands++] = ps->ids[j];
                }
            }
        }
    }
    hits = malloc((n_cands + 1) * sizeof(scored));
    list = json_array();
    if (hits == NULL || list == NULL)
        goto out;
    for (size_t i = 0; i < n_cands; i++) {
        uint32_t id = exhaustive || set->cands == NULL ? (uint32_t)i : set->cands[i];
        size_t best;
        double ns, score = entry_score(&p, &set->entries[id], NULL, &best, &ns);

        if (match_is_hit(score, threshold))
            hits[n_hits++] = (scored){id, score};
    }
    qsort_r(hits, n_hits, sizeof(scored), scored_cmp, set);
    for (size_t i = 0; i < n_hits && i < max; i++) {
        json_t *c = candidate_json(&p, &set->entries[hits[i].id], hits[i].score);

        if (c == NULL || json_array_append_new(list, c) != 0)
            goto out;
    }
    if (examined_out != NULL)
        *examined_out = n_cands;
    *candidates_out = list;
    list = NULL;
    ok = true;
out:
    free(hits);
    json_decref(list);
    return ok;
}

bool
screen_subject_from_json(const json_t *query, screen_subject *out, char *why, size_t why_len)
{
    static const char *const fields[] = {"name", "born", "nationality", "country", "document",
                                         "type"};
    const char *values[6] = {NULL};

    memset(out, 0, sizeof(*out));
    if (!json_is_object(query)) {
        snprintf(why, why_len, "subject: not an object");
        return false;
    }
    for (size_t i = 0; i < 6; i++) {
        const json_t *v = json_object_get(query, fields[i]);

        if (v == NULL || json_is_null(v))
            continue;
        if (!json_is_string(v) || json_string_length(v) > SCREEN_FIELD_MAX ||
            strlen(json_string_value(v)) != json_string_length(v)) {
            snprintf(why, why_len, "subject.%s: not text of at most %u bytes", fields[i],
                     SCREEN_FIELD_MAX);
            return false;
        }
        values[i] = json_string_value(v);
    }
    if (!given(values[0])) {
        snprintf(why, why_len, "subject.name: missing");
        return false;
    }
    out->name = values[0];
    out->born = values[1];
    out->nationality = values[2];
    out->country = values[3];
    out->document = values[4];
    out->type = values[5];
    return true;
}
