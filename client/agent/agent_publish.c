/* Publications of travel-document reports (traveldoc.publish): checked, filed by version, looked up. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

/*
 * The publications table holds, under the publisher's address, one JSON
 * record: {"slot": N, "current": STATE, "pending": STATE}, where STATE is
 * {"publication", "version", "form", "parts", "count", "key" (hashes: base64),
 * "got": [part numbers landed], "labels", "received", "messages": [ids]}.
 * "current" is the last complete version, "pending" the one being received.
 * Under SLOT_KEY it holds {"next": N}, the next publisher slot; addresses
 * never begin with '#'.
 *
 * The digests table holds a key per hash: the publisher's slot as eight hex
 * digits, the version as eight hex digits, then the 16 bytes of the hash;
 * the value is the part it came in (two bytes, big-endian).  The hex prefix lets a
 * version's hashes be walked as a prefix of the table.
 */
#define SLOT_KEY "#slot"
#define META_VERSION_KEY "publication-version"
#define DIGEST_PREFIX_LEN 16u
#define DIGEST_KEY_LEN (DIGEST_PREFIX_LEN + AGENT_PUBLISH_HASH_BYTES)

static bool
id_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    if (n == 0 || n > AGENT_PUBLISH_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= ' ' || s[i] > '~')
            return false;
    }
    return true;
}

static const char *
str(const json_t *o, const char *member)
{
    const char *s = json_string_value(json_object_get(o, member));

    return s != NULL ? s : "";
}

/* A JSON integer in [min, max]. */
static bool
int_in(const json_t *v, json_int_t min, json_int_t max, json_int_t *out)
{
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return *out >= min && *out <= max;
}

void
agent_publication_part_clear(agent_publication_part *p)
{
    json_decref(p->records);
    free(p->hashes);
    sodium_memzero(p->key, sizeof(p->key));
    memset(p, 0, sizeof(*p));
}

/* Decodes base64 text of at most max bytes into a new buffer. */
static bool
b64_decode(const char *text, size_t max, uint8_t **out, size_t *len_out)
{
    size_t tlen = strlen(text), len = 0;
    uint8_t *buf;

    if (tlen > sodium_base64_encoded_len(max, sodium_base64_VARIANT_ORIGINAL))
        return false;
    buf = malloc(tlen / 4 * 3 + 3);
    if (buf == NULL)
        return false;
    if (sodium_base642bin(buf, tlen / 4 * 3 + 3, text, tlen, NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        len > max) {
        free(buf);
        return false;
    }
    *out = buf;
    *len_out = len;
    return true;
}

static bool
check_hashes(const json_t *h, agent_publication_part *p, char *why, size_t why_len)
{
    const char *alg = json_string_value(json_object_get(h, "algorithm"));
    const char *key = json_string_value(json_object_get(h, "key"));
    const char *values = json_string_value(json_object_get(h, "values"));
    uint8_t *kbuf = NULL;
    size_t klen = 0, vlen = 0;

    if (!json_is_object(h))
        return agent_why(why, why_len, "hashes: not an object");
    if (alg == NULL || strcmp(alg, AGENT_PUBLISH_ALGORITHM) != 0)
        return agent_why(why, why_len, "hashes.algorithm: not %s", AGENT_PUBLISH_ALGORITHM);
    if (key == NULL || !b64_decode(key, AGENT_PUBLISH_KEY_BYTES, &kbuf, &klen) ||
        klen != AGENT_PUBLISH_KEY_BYTES) {
        if (kbuf != NULL)
            sodium_memzero(kbuf, klen);
        free(kbuf);
        return agent_why(why, why_len, "hashes.key: not base64 of %u bytes",
                         AGENT_PUBLISH_KEY_BYTES);
    }
    memcpy(p->key, kbuf, AGENT_PUBLISH_KEY_BYTES);
    sodium_memzero(kbuf, klen);
    free(kbuf);
    if (values == NULL ||
        !b64_decode(values, (size_t)AGENT_PUBLISH_HASHES_MAX * AGENT_PUBLISH_HASH_BYTES,
                    &p->hashes, &vlen))
        return agent_why(why, why_len, "hashes.values: not base64 of at most %u hashes",
                         AGENT_PUBLISH_HASHES_MAX);
    if (vlen == 0 || vlen % AGENT_PUBLISH_HASH_BYTES != 0)
        return agent_why(why, why_len, "hashes.values: %zu bytes, not a multiple of %u", vlen,
                         AGENT_PUBLISH_HASH_BYTES);
    p->hash_count = vlen / AGENT_PUBLISH_HASH_BYTES;
    return true;
}

static bool
check_records(const json_t *recs, agent_publication_part *p, char *why, size_t why_len)
{
    size_t i;
    const json_t *r;
    char reason[200];

    if (!json_is_array(recs) || json_array_size(recs) == 0 ||
        json_array_size(recs) > AGENT_PUBLISH_RECORDS_MAX)
        return agent_why(why, why_len, "records: not an array of 1 to %u reports",
                         AGENT_PUBLISH_RECORDS_MAX);
    if ((p->records = json_array()) == NULL)
        return agent_why(why, why_len, "out of memory");
    json_array_foreach(recs, i, r) {
        json_t *c = agent_doc_check(r, reason, sizeof(reason));

        if (c == NULL)
            return agent_why(why, why_len, "records[%zu]: %s", i, reason);
        json_array_append_new(p->records, c);
    }
    return true;
}

bool
agent_publication_check(const json_t *body, agent_publication_part *out, char *why, size_t why_len)
{
    agent_publication_part p;
    const char *schema = json_string_value(json_object_get(body, "schema"));
    const char *id = json_string_value(json_object_get(body, "publication"));
    const char *form = json_string_value(json_object_get(body, "form"));
    json_int_t version, part, parts, count;
    size_t items;
    bool ok = false;

    memset(&p, 0, sizeof(p));
    memset(out, 0, sizeof(*out));
    if (!json_is_object(body) || schema == NULL || strcmp(schema, "traveldoc.publish/1") != 0) {
        agent_why(why, why_len, "schema: not traveldoc.publish/1");
        goto out;
    }
    if (!id_ok(id)) {
        agent_why(why, why_len, "publication: not 1 to %u printable characters without spaces",
                  AGENT_PUBLISH_ID_MAX);
        goto out;
    }
    if (!int_in(json_object_get(body, "version"), 1, UINT32_MAX - 1, &version)) {
        agent_why(why, why_len, "version: not an integer from 1 to %u", UINT32_MAX - 1);
        goto out;
    }
    if (!int_in(json_object_get(body, "parts"), 1, AGENT_PUBLISH_PARTS_MAX, &parts)) {
        agent_why(why, why_len, "parts: not an integer from 1 to %u", AGENT_PUBLISH_PARTS_MAX);
        goto out;
    }
    if (!int_in(json_object_get(body, "part"), 1, parts, &part)) {
        agent_why(why, why_len, "part: not an integer from 1 to parts (%lld)", (long long)parts);
        goto out;
    }
    snprintf(p.publication, sizeof(p.publication), "%s", id);
    p.version = (uint32_t)version;
    p.part = (uint32_t)part;
    p.parts = (uint32_t)parts;
    if (form != NULL && strcmp(form, "records") == 0) {
        if (json_object_get(body, "hashes") != NULL) {
            agent_why(why, why_len, "hashes: not in a publication of form records");
            goto out;
        }
        if (!check_records(json_object_get(body, "records"), &p, why, why_len))
            goto out;
        items = json_array_size(p.records);
    } else if (form != NULL && strcmp(form, "hashes") == 0) {
        if (json_object_get(body, "records") != NULL) {
            agent_why(why, why_len, "records: not in a publication of form hashes");
            goto out;
        }
        p.hashed = true;
        if (!check_hashes(json_object_get(body, "hashes"), &p, why, why_len))
            goto out;
        items = p.hash_count;
    } else {
        agent_why(why, why_len, "form: not records or hashes");
        goto out;
    }
    /* The whole version holds count items, each part at most its maximum;
     * one part is the whole. */
    if (!int_in(json_object_get(body, "count"), 1,
                (json_int_t)parts * (p.hashed ? AGENT_PUBLISH_HASHES_MAX : AGENT_PUBLISH_RECORDS_MAX),
                &count) ||
        (json_int_t)items > count || (parts == 1 && (json_int_t)items != count) ||
        count - (json_int_t)items < parts - 1) {
        agent_why(why, why_len, "count: %s does not fit %zu %s in part %lld of %lld",
                  json_is_integer(json_object_get(body, "count")) ? "the number" : "not a number",
                  items, p.hashed ? "hashes" : "records", (long long)part, (long long)parts);
        goto out;
    }
    p.count = (uint64_t)count;
    *out = p;
    memset(&p, 0, sizeof(p));
    ok = true;
out:
    agent_publication_part_clear(&p);
    return ok;
}

bool
agent_publication_hash(const uint8_t key[AGENT_PUBLISH_KEY_BYTES], const char *number,
                       uint8_t out[AGENT_PUBLISH_HASH_BYTES])
{
    char norm[256];

    if (!match_doc_normalise(number, norm, sizeof(norm)))
        return false;
    crypto_generichash(out, AGENT_PUBLISH_HASH_BYTES, (const unsigned char *)norm, strlen(norm),
                       key, AGENT_PUBLISH_KEY_BYTES);
    return true;
}

/* ---- The store ---------------------------------------------------------------------- */

static void
digest_prefix(uint32_t slot, uint32_t version, char buf[DIGEST_PREFIX_LEN + 1])
{
    snprintf(buf, DIGEST_PREFIX_LEN + 1, "%08x%08x", (unsigned)slot, (unsigned)version);
}

/* Keys deleted at most per walk of a version's hashes, so that memory stays bounded. */
#define DIGEST_BATCH 65536u

/* Collects a batch of keys under a prefix, or counts them all. */
typedef struct key_walk {
    uint8_t *keys;      /* DIGEST_BATCH keys of DIGEST_KEY_LEN bytes; NULL: only count */
    size_t n;           /* keys seen (held, with keys) */
} key_walk;

static int
digest_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    key_walk *w = ctx;

    (void)val;
    (void)val_len;
    if (key_len != DIGEST_KEY_LEN)
        return 0;
    if (w->keys != NULL)
        memcpy(w->keys + w->n * DIGEST_KEY_LEN, key, DIGEST_KEY_LEN);
    w->n++;
    return w->keys != NULL && w->n == DIGEST_BATCH;
}

/* Deletes (or with remove false counts) the hashes of slot and version,
 * a batch at a time. */
static agent_store_err
digests_drop(agent_txn *txn, uint32_t slot, uint32_t version, bool remove, size_t *count_out)
{
    char prefix[DIGEST_PREFIX_LEN + 1];
    key_walk w;
    size_t total = 0;
    agent_store_err err;

    memset(&w, 0, sizeof(w));
    digest_prefix(slot, version, prefix);
    if (remove && (w.keys = malloc((size_t)DIGEST_BATCH * DIGEST_KEY_LEN)) == NULL)
        return AGENT_STORE_ERR_NOMEM;
    do {
        w.n = 0;
        err = agent_store_each(txn, AGENT_T_DIGESTS, prefix, digest_one, &w);
        for (size_t i = 0; remove && err == AGENT_STORE_OK && i < w.n; i++)
            err = agent_store_del(txn, AGENT_T_DIGESTS, w.keys + i * DIGEST_KEY_LEN,
                                  DIGEST_KEY_LEN);
        total += w.n;
    } while (remove && err == AGENT_STORE_OK && w.n == DIGEST_BATCH);
    free(w.keys);
    if (err == AGENT_STORE_OK && count_out != NULL)
        *count_out = total;
    return err;
}

/* Deletes the records of sender filed from version of publication. */
typedef struct rec_walk {
    const char *publication; /* the publication */
    json_int_t version;      /* its version */
    json_t *keys;            /* keys to delete */
} rec_walk;

static int
rec_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    rec_walk *w = ctx;
    json_t *rec = agent_json_load(val, val_len);
    const char *pub = json_string_value(json_object_get(rec, "publication"));

    if (pub != NULL && strcmp(pub, w->publication) == 0 &&
        json_integer_value(json_object_get(rec, "version")) == w->version)
        json_array_append_new(w->keys, json_stringn(key, key_len));
    json_decref(rec);
    return 0;
}

static agent_store_err
records_drop(agent_txn *txn, const char *sender, const char *publication, json_int_t version)
{
    char prefix[AGENT_STORE_KEY_MAX];
    rec_walk w = {publication, version, json_array()};
    agent_store_err err;
    size_t i;
    const json_t *k;

    if (w.keys == NULL)
        return AGENT_STORE_ERR_NOMEM;
    snprintf(prefix, sizeof(prefix), "%s ", sender);
    err = agent_store_each(txn, AGENT_T_PARTNER_DOCS, prefix, rec_one, &w);
    json_array_foreach(w.keys, i, k) {
        if (err != AGENT_STORE_OK)
            break;
        err = agent_store_del(txn, AGENT_T_PARTNER_DOCS, json_string_value(k),
                              json_string_length(k));
    }
    json_decref(w.keys);
    return err;
}

/* Deletes what state (a version held) filed, records and hashes. */
static agent_store_err
state_drop(agent_txn *txn, const char *sender, uint32_t slot, const json_t *state)
{
    const char *form = json_string_value(json_object_get(state, "form"));
    json_int_t version = json_integer_value(json_object_get(state, "version"));

    if (form != NULL && strcmp(form, "hashes") == 0)
        return digests_drop(txn, slot, (uint32_t)version, true, NULL);
    return records_drop(txn, sender, str(state, "publication"), version);
}

/* The publisher's record, made with a new slot when there is none. */
static agent_store_err
publisher_get(agent_txn *txn, const char *sender, bool create, json_t **rec_out)
{
    json_t *rec = NULL, *next = NULL;
    agent_store_err err = agent_json_get(txn, AGENT_T_PUBLICATIONS, sender, &rec);
    json_int_t slot;

    if (err != AGENT_STORE_ERR_NOT_FOUND || !create) {
        *rec_out = rec;
        return err;
    }
    err = agent_json_get(txn, AGENT_T_PUBLICATIONS, SLOT_KEY, &next);
    if (err == AGENT_STORE_ERR_NOT_FOUND) {
        next = json_pack("{s:i}", "next", 1);
        err = next != NULL ? AGENT_STORE_OK : AGENT_STORE_ERR_NOMEM;
    }
    if (err != AGENT_STORE_OK)
        goto out;
    slot = json_integer_value(json_object_get(next, "next"));
    if (slot < 1 || slot >= (json_int_t)UINT32_MAX) {
        err = AGENT_STORE_ERR_INVALID;
        goto out;
    }
    json_object_set_new(next, "next", json_integer(slot + 1));
    if ((err = agent_json_put(txn, AGENT_T_PUBLICATIONS, SLOT_KEY, next)) != AGENT_STORE_OK)
        goto out;
    rec = json_pack("{s:I}", "slot", slot);
    err = rec != NULL ? AGENT_STORE_OK : AGENT_STORE_ERR_NOMEM;
    *rec_out = rec;
out:
    json_decref(next);
    return err;
}

static bool
has_string(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static bool
has_int(const json_t *arr, json_int_t n)
{
    size_t i;
    const json_t *v;

    json_array_foreach(arr, i, v) {
        if (json_integer_value(v) == n)
            return true;
    }
    return false;
}

/* True if p belongs to the version that state describes. */
static bool
same_version(const json_t *state, const agent_publication_part *p, const char *key_b64)
{
    const char *key = json_string_value(json_object_get(state, "key"));

    return strcmp(str(state, "publication"), p->publication) == 0 &&
           json_integer_value(json_object_get(state, "version")) == p->version &&
           strcmp(str(state, "form"), p->hashed ? "hashes" : "records") == 0 &&
           json_integer_value(json_object_get(state, "parts")) == p->parts &&
           json_integer_value(json_object_get(state, "count")) == (json_int_t)p->count &&
           (!p->hashed || (key != NULL && strcmp(key, key_b64) == 0));
}

static agent_store_err
file_items(agent_txn *txn, const liaison_event *e, const agent_publication_part *p, uint32_t slot)
{
    char key[AGENT_STORE_KEY_MAX], now[32];
    agent_store_err err = AGENT_STORE_OK;

    if (p->hashed) {
        uint8_t dk[DIGEST_KEY_LEN], part[2] = {(uint8_t)(p->part >> 8), (uint8_t)p->part};
        char prefix[DIGEST_PREFIX_LEN + 1];

        digest_prefix(slot, p->version, prefix);
        memcpy(dk, prefix, DIGEST_PREFIX_LEN);
        for (size_t i = 0; err == AGENT_STORE_OK && i < p->hash_count; i++) {
            memcpy(dk + DIGEST_PREFIX_LEN, p->hashes + i * AGENT_PUBLISH_HASH_BYTES,
                   AGENT_PUBLISH_HASH_BYTES);
            err = agent_store_put(txn, AGENT_T_DIGESTS, dk, sizeof(dk), part, sizeof(part));
        }
        return err;
    }
    proto_time_format(liaison_now_ms(), now);
    for (size_t i = 0; err == AGENT_STORE_OK && i < json_array_size(p->records); i++) {
        json_t *report = json_array_get(p->records, i);
        json_t *rec;

        snprintf(key, sizeof(key), "%s %s", e->sender,
                 json_string_value(json_object_get(report, "ref")));
        rec = json_pack("{s:s, s:s, s:s, s:O, s:s, s:I, s:s}", "from", e->sender, "received", now,
                        "message", e->id_hex, "report", report, "publication", p->publication,
                        "version", (json_int_t)p->version, "labels", e->labels);
        if (rec == NULL)
            return AGENT_STORE_ERR_NOMEM;
        err = agent_json_put(txn, AGENT_T_PARTNER_DOCS, key, rec);
        json_decref(rec);
    }
    return err;
}

agent_store_err
agent_publication_file(agent_txn *txn, const liaison_event *e, const agent_publication_part *p,
                       bool *refused_out, bool *complete_out, char *why, size_t why_len)
{
    json_t *pub = NULL, *cur, *pend, *got;
    char key_b64[sodium_base64_ENCODED_LEN(AGENT_PUBLISH_KEY_BYTES,
                                           sodium_base64_VARIANT_ORIGINAL)] = "";
    char now[32];
    uint32_t slot;
    agent_store_err err;

    *refused_out = false;
    if (complete_out != NULL)
        *complete_out = false;
    if (p->hashed)
        sodium_bin2base64(key_b64, sizeof(key_b64), p->key, sizeof(p->key),
                          sodium_base64_VARIANT_ORIGINAL);
    if ((err = publisher_get(txn, e->sender, true, &pub)) != AGENT_STORE_OK)
        goto out;
    slot = (uint32_t)json_integer_value(json_object_get(pub, "slot"));
    cur = json_object_get(pub, "current");
    pend = json_object_get(pub, "pending");
    if (cur != NULL && json_integer_value(json_object_get(cur, "version")) >= p->version) {
        /* The complete version again (delivered twice) or an older one. */
        if (same_version(cur, p, key_b64) &&
            has_string(json_object_get(cur, "messages"), e->id_hex))
            goto out;
        *refused_out = true;
        agent_why(why, why_len, "version %u is not newer than the complete version %lld",
                  p->version, (long long)json_integer_value(json_object_get(cur, "version")));
        goto out;
    }
    if (pend != NULL && json_integer_value(json_object_get(pend, "version")) > p->version) {
        *refused_out = true;
        agent_why(why, why_len, "version %u is older than version %lld being received",
                  p->version, (long long)json_integer_value(json_object_get(pend, "version")));
        goto out;
    }
    if (pend != NULL && json_integer_value(json_object_get(pend, "version")) == p->version &&
        !same_version(pend, p, key_b64)) {
        *refused_out = true;
        agent_why(why, why_len, "part %u does not match the other parts of version %u (id, "
                  "form, parts, count or key)", p->part, p->version);
        goto out;
    }
    if (pend != NULL && json_integer_value(json_object_get(pend, "version")) < p->version) {
        /* A newer version replaces one left incomplete. */
        if ((err = state_drop(txn, e->sender, slot, pend)) != AGENT_STORE_OK)
            goto out;
        json_object_del(pub, "pending");
        pend = NULL;
    }
    if (pend == NULL) {
        pend = json_pack("{s:s, s:I, s:s, s:I, s:I, s:[], s:s, s:s, s:[], s:I}", "publication",
                         p->publication, "version", (json_int_t)p->version, "form",
                         p->hashed ? "hashes" : "records", "parts", (json_int_t)p->parts,
                         "count", (json_int_t)p->count, "got", "labels", e->labels, "received",
                         proto_time_format(liaison_now_ms(), now), "messages", "filed",
                         (json_int_t)0);
        if (pend == NULL) {
            err = AGENT_STORE_ERR_NOMEM;
            goto out;
        }
        if (p->hashed)
            json_object_set_new(pend, "key", json_string(key_b64));
        json_object_set_new(pub, "pending", pend);
    }
    got = json_object_get(pend, "got");
    if (has_int(got, p->part))
        goto out; /* this part landed before */
    if ((err = file_items(txn, e, p, slot)) != AGENT_STORE_OK)
        goto out;
    json_array_append_new(got, json_integer(p->part));
    json_array_append_new(json_object_get(pend, "messages"), json_string(e->id_hex));
    json_object_set_new(pend, "filed",
                        json_integer(json_integer_value(json_object_get(pend, "filed")) +
                                     (json_int_t)(p->hashed ? p->hash_count
                                                            : json_array_size(p->records))));
    if (json_array_size(got) == p->parts) {
        json_int_t filed = json_integer_value(json_object_get(pend, "filed"));

        if (filed != (json_int_t)p->count) {
            /* The parts do not add up to the count: the version is dropped. */
            err = state_drop(txn, e->sender, slot, pend);
            json_object_del(pub, "pending");
            *refused_out = true;
            agent_why(why, why_len, "the %u parts of version %u hold %lld items, not count %llu",
                      p->parts, p->version, (long long)filed, (unsigned long long)p->count);
            if (err == AGENT_STORE_OK)
                err = agent_json_put(txn, AGENT_T_PUBLICATIONS, e->sender, pub);
            goto out;
        }
        if (cur != NULL && (err = state_drop(txn, e->sender, slot, cur)) != AGENT_STORE_OK)
            goto out;
        json_object_set(pub, "current", pend);
        json_object_del(pub, "pending");
        if (complete_out != NULL)
            *complete_out = true;
    }
    err = agent_json_put(txn, AGENT_T_PUBLICATIONS, e->sender, pub);
out:
    json_decref(pub);
    return err;
}

agent_store_err
agent_publication_of_message(agent_txn *txn, const char *hex, const char *sender, bool remove,
                             json_t *refs, size_t *found_out)
{
    static const char *const states[] = {"current", "pending"};
    json_t *pub = NULL;
    agent_store_err err = publisher_get(txn, sender, false, &pub);
    bool changed = false;
    uint32_t slot;

    if (err == AGENT_STORE_ERR_NOT_FOUND)
        return AGENT_STORE_OK;
    if (err != AGENT_STORE_OK)
        return err;
    slot = (uint32_t)json_integer_value(json_object_get(pub, "slot"));
    for (size_t i = 0; err == AGENT_STORE_OK && i < 2; i++) {
        json_t *st = json_object_get(pub, states[i]);
        const char *form = json_string_value(json_object_get(st, "form"));
        size_t n = 0;

        if (st == NULL || !has_string(json_object_get(st, "messages"), hex))
            continue;
        if (form != NULL && strcmp(form, "hashes") == 0) {
            char ref[AGENT_STORE_KEY_MAX];

            err = digests_drop(txn, slot, (uint32_t)json_integer_value(json_object_get(st, "version")),
                               remove, &n);
            if (err == AGENT_STORE_OK && n > 0 && refs != NULL) {
                snprintf(ref, sizeof(ref), "hashes:%s:%s:%lld", sender,
                         json_string_value(json_object_get(st, "publication")),
                         (long long)json_integer_value(json_object_get(st, "version")));
                json_array_append_new(refs, json_string(ref));
            }
            if (found_out != NULL)
                *found_out += n;
        }
        /* A version with a part taken back is no longer whole. */
        if (remove) {
            json_object_del(pub, states[i]);
            changed = true;
        }
    }
    if (err == AGENT_STORE_OK && changed)
        err = agent_json_put(txn, AGENT_T_PUBLICATIONS, sender, pub);
    json_decref(pub);
    return err;
}

typedef struct lookup_walk {
    agent_txn *txn;           /* the transaction */
    const char *number;       /* the number sought */
    json_t *hits;             /* hash hits */
    json_t *complete;         /* complete publications */
    agent_store_err err;      /* the first failure */
} lookup_walk;

static int
lookup_one(void *ctx, const void *key, size_t key_len, const void *val, size_t val_len)
{
    lookup_walk *w = ctx;
    json_t *pub, *cur, *info;
    const char *form, *k;
    char owner[AGENT_STORE_KEY_MAX];

    if (key_len == 0 || key_len >= sizeof(owner) || ((const char *)key)[0] == '#')
        return 0;
    memcpy(owner, key, key_len);
    owner[key_len] = '\0';
    if ((pub = agent_json_load(val, val_len)) == NULL)
        return 0;
    cur = json_object_get(pub, "current");
    form = json_string_value(json_object_get(cur, "form"));
    if (cur == NULL || form == NULL) {
        json_decref(pub);
        return 0;
    }
    info = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:O}", "owner", owner, "form", form,
                     "publication", json_object_get(cur, "publication"), "version",
                     json_object_get(cur, "version"), "published",
                     json_object_get(cur, "received"), "count", json_object_get(cur, "count"),
                     "labels", json_object_get(cur, "labels"));
    if (info != NULL)
        json_array_append(w->complete, info);
    k = json_string_value(json_object_get(cur, "key"));
    if (info != NULL && strcmp(form, "hashes") == 0 && k != NULL) {
        uint8_t kb[AGENT_PUBLISH_KEY_BYTES], dk[DIGEST_KEY_LEN];
        char prefix[DIGEST_PREFIX_LEN + 1];
        size_t kl = 0;
        const void *v;
        size_t vl;

        if (sodium_base642bin(kb, sizeof(kb), k, strlen(k), NULL, &kl, NULL,
                              sodium_base64_VARIANT_ORIGINAL) == 0 &&
            kl == sizeof(kb) && agent_publication_hash(kb, w->number, dk + DIGEST_PREFIX_LEN)) {
            digest_prefix((uint32_t)json_integer_value(json_object_get(pub, "slot")),
                          (uint32_t)json_integer_value(json_object_get(cur, "version")), prefix);
            memcpy(dk, prefix, DIGEST_PREFIX_LEN);
            agent_store_err e = agent_store_get(w->txn, AGENT_T_DIGESTS, dk, sizeof(dk), &v, &vl);

            if (e == AGENT_STORE_OK) {
                json_t *hit = json_deep_copy(info);

                json_object_del(hit, "count");
                json_array_append_new(w->hits, hit);
            } else if (e != AGENT_STORE_ERR_NOT_FOUND) {
                w->err = e;
            }
        }
        sodium_memzero(kb, sizeof(kb));
    }
    json_decref(info);
    json_decref(pub);
    return w->err != AGENT_STORE_OK;
}

agent_store_err
agent_publication_lookup(agent_txn *txn, const char *number, json_t **hits_out,
                         json_t **complete_out)
{
    lookup_walk w = {txn, number, json_array(), json_array(), AGENT_STORE_OK};
    agent_store_err err;

    if (w.hits == NULL || w.complete == NULL) {
        err = AGENT_STORE_ERR_NOMEM;
        goto out;
    }
    err = agent_store_each(txn, AGENT_T_PUBLICATIONS, NULL, lookup_one, &w);
    if (err == AGENT_STORE_OK)
        err = w.err;
    if (err == AGENT_STORE_OK) {
        *hits_out = w.hits;
        *complete_out = w.complete;
        w.hits = w.complete = NULL;
    }
out:
    json_decref(w.hits);
    json_decref(w.complete);
    return err;
}

agent_store_err
agent_publication_next_version(agent_txn *txn, uint32_t *version_out)
{
    const void *v;
    size_t len;
    char buf[16];
    unsigned long n = 0;
    agent_store_err err = agent_store_get(txn, AGENT_T_META, META_VERSION_KEY,
                                          strlen(META_VERSION_KEY), &v, &len);

    if (err == AGENT_STORE_OK) {
        if (len == 0 || len >= sizeof(buf))
            return AGENT_STORE_ERR_INVALID;
        memcpy(buf, v, len);
        buf[len] = '\0';
        n = strtoul(buf, NULL, 10);
    } else if (err != AGENT_STORE_ERR_NOT_FOUND) {
        return err;
    }
    if (n >= UINT32_MAX - 1)
        return AGENT_STORE_ERR_INVALID;
    n++;
    snprintf(buf, sizeof(buf), "%lu", n);
    if ((err = agent_store_put(txn, AGENT_T_META, META_VERSION_KEY, strlen(META_VERSION_KEY), buf,
                               strlen(buf))) != AGENT_STORE_OK)
        return err;
    *version_out = (uint32_t)n;
    return AGENT_STORE_OK;
}
