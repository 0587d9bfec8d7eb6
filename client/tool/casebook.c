/* The liaison tool's casebook: the only file of the tool that calls LMDB. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "casebook.h"
#include "liaison_proto.h"

/*
 * Databases of the environment:
 *   sent     id (16 bytes)              -> record
 *   received id (16 bytes)              -> record
 *   cases    "<family>/<case>" (dupsort) -> direction byte ('s' or 'r') || id
 *   reports  id || recipient || 0 || state -> report JSON
 *   journal  u64 deleted_ms || direction byte || id -> deletion JSON
 *   tombstones id || recall id      -> tombstone JSON (a recalled message)
 * A record is a 4-byte big-endian length, that many bytes of JSON
 * metadata, then the raw envelope bytes (received messages only).
 */
#define MAP_BYTES_64 (64ull << 30)  /* address space reserved on 64-bit hosts; the file grows */
#define MAP_BYTES_32 (1ull << 30)   /* and on 32-bit hosts */
#define INDEX_KEY_MAX 200u          /* bytes of "<family>/<case>" */

struct casebook {
    MDB_env *env;        /* the environment in <state>/casebook */
    MDB_dbi sent;        /* messages sent */
    MDB_dbi received;    /* messages received */
    MDB_dbi cases;       /* index by family and case */
    MDB_dbi reports;     /* delivery reports */
    MDB_dbi journal;     /* deletions by retention */
    MDB_dbi tombstones;  /* what is left of recalled messages */
};

const char *
casebook_strerror(casebook_err code)
{
    switch (code) {
    case CASEBOOK_OK: return "success";
    case CASEBOOK_ERR_INVALID: return "invalid argument";
    case CASEBOOK_ERR_NOMEM: return "out of memory";
    case CASEBOOK_ERR_IO: return "the casebook cannot be read or written";
    case CASEBOOK_ERR_NOT_FOUND: return "no such record in the casebook";
    case CASEBOOK_ERR_CORRUPT: return "a casebook record is damaged";
    case CASEBOOK_ERR_FULL: return "the casebook is full";
    }
    return "unknown error";
}

static casebook_err
from_mdb(int rc)
{
    switch (rc) {
    case 0: return CASEBOOK_OK;
    case MDB_NOTFOUND: return CASEBOOK_ERR_NOT_FOUND;
    case MDB_MAP_FULL: return CASEBOOK_ERR_FULL;
    case ENOMEM: return CASEBOOK_ERR_NOMEM;
    case MDB_CORRUPTED:
    case MDB_INVALID: return CASEBOOK_ERR_CORRUPT;
    default: return CASEBOOK_ERR_IO;
    }
}

casebook_err
casebook_open(const char *state_dir, casebook **cb_out, char *why, size_t why_len)
{
    casebook *cb = NULL;
    MDB_txn *txn = NULL;
    char dir[4096];
    int rc = 0;
    casebook_err err = CASEBOOK_ERR_IO;

    if (state_dir == NULL || cb_out == NULL || strlen(state_dir) + 10 >= sizeof(dir)) {
        snprintf(why, why_len, "no usable state directory");
        return CASEBOOK_ERR_INVALID;
    }
    snprintf(dir, sizeof(dir), "%s/casebook", state_dir);
    if ((mkdir(state_dir, 0700) != 0 && errno != EEXIST) ||
        (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
        snprintf(why, why_len, "cannot create %s: %s", dir, strerror(errno));
        return CASEBOOK_ERR_IO;
    }
    cb = calloc(1, sizeof(*cb));
    if (cb == NULL) {
        snprintf(why, why_len, "out of memory");
        return CASEBOOK_ERR_NOMEM;
    }
    if ((rc = mdb_env_create(&cb->env)) != 0 ||
        (rc = mdb_env_set_mapsize(cb->env, sizeof(size_t) >= 8 ? (size_t)MAP_BYTES_64
                                                                 : (size_t)MAP_BYTES_32)) != 0 ||
        (rc = mdb_env_set_maxdbs(cb->env, 8)) != 0 || (rc = mdb_env_open(cb->env, dir, 0, 0600)) != 0 ||
        (rc = mdb_txn_begin(cb->env, NULL, 0, &txn)) != 0 ||
        (rc = mdb_dbi_open(txn, "sent", MDB_CREATE, &cb->sent)) != 0 ||
        (rc = mdb_dbi_open(txn, "received", MDB_CREATE, &cb->received)) != 0 ||
        (rc = mdb_dbi_open(txn, "cases", MDB_CREATE | MDB_DUPSORT, &cb->cases)) != 0 ||
        (rc = mdb_dbi_open(txn, "reports", MDB_CREATE, &cb->reports)) != 0 ||
        (rc = mdb_dbi_open(txn, "journal", MDB_CREATE, &cb->journal)) != 0 ||
        (rc = mdb_dbi_open(txn, "tombstones", MDB_CREATE, &cb->tombstones)) != 0)
        goto fail;
    rc = mdb_txn_commit(txn);
    txn = NULL;
    if (rc != 0)
        goto fail;
    *cb_out = cb;
    return CASEBOOK_OK;
fail:
    err = from_mdb(rc);
    snprintf(why, why_len, "casebook %s: %s", dir, mdb_strerror(rc));
    if (txn != NULL)
        mdb_txn_abort(txn);
    casebook_close(&cb);
    return err;
}

void
casebook_close(casebook **cbp)
{
    if (cbp == NULL || *cbp == NULL)
        return;
    if ((*cbp)->env != NULL)
        mdb_env_close((*cbp)->env);
    free(*cbp);
    *cbp = NULL;
}

/* "<family>/<case>" of a kind and case id; false if it does not fit. */
static bool
index_key(const char *kind, const char *case_id, char out[INDEX_KEY_MAX])
{
    size_t fam = strcspn(kind, ".");
    int n = snprintf(out, INDEX_KEY_MAX, "%.*s/%s", (int)fam, kind, case_id);

    return n > 0 && (size_t)n < INDEX_KEY_MAX;
}

/* Removes message id (sent or received) from the index of its case, in txn:
 * 0, or an LMDB code (an entry already gone is not an error). */
static int
unindex(casebook *cb, MDB_txn *txn, bool sent, const uint8_t id[CASEBOOK_ID_BYTES],
        const char *kind, const char *case_id)
{
    char key[INDEX_KEY_MAX];
    uint8_t ref[1 + CASEBOOK_ID_BYTES];
    MDB_val ik = {0, key}, iv = {sizeof(ref), ref};
    int rc;

    if (case_id[0] == '\0' || !index_key(kind, case_id, key))
        return 0;
    ik.mv_size = strlen(key);
    ref[0] = sent ? 's' : 'r';
    memcpy(ref + 1, id, CASEBOOK_ID_BYTES);
    rc = mdb_del(txn, cb->cases, &ik, &iv);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- Records ------------------------------------------------------------- */

static casebook_err
encode(const casebook_entry *e, uint8_t **buf_out, size_t *len_out)
{
    json_t *o = json_object();
    char hex[33];
    char *text = NULL;
    uint8_t *buf = NULL;
    size_t tlen, len;
    casebook_err err = CASEBOOK_ERR_NOMEM;

    if (o == NULL)
        return CASEBOOK_ERR_NOMEM;
    json_object_set_new(o, "kind", json_string(e->kind));
    json_object_set_new(o, "peer", json_string(e->peer));
    json_object_set_new(o, "case", json_string(e->case_id));
    if (e->has_reply_to)
        json_object_set_new(o, "in_reply_to", json_string(proto_id_format(e->in_reply_to, hex)));
    json_object_set_new(o, "labels", json_string(e->labels));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)e->time_ms));
    json_object_set_new(o, "created_ms", json_integer((json_int_t)e->created_ms));
    if (e->recipients != NULL)
        json_object_set_new(o, "recipients", json_string(e->recipients));
    /* Appended members, absent from older records (decode reads them as none). */
    if (e->actor[0] != '\0')
        json_object_set_new(o, "actor", json_string(e->actor));
    if (e->withheld != NULL) {
        json_t *w = json_loads(e->withheld, 0, NULL);

        if (!json_is_array(w)) {
            json_decref(w);
            json_decref(o);
            return CASEBOOK_ERR_INVALID;
        }
        json_object_set_new(o, "withheld", w);
    }
    if (e->body != NULL) {
        json_t *b = json_string(e->body);

        if (b == NULL) {
            /* Not UTF-8: kept as it was, byte for byte, in hex. */
            char *h = malloc(2 * strlen(e->body) + 1);

            if (h == NULL)
                goto out;
            b = json_string(proto_hex((const uint8_t *)e->body, strlen(e->body), h));
            free(h);
            json_object_set_new(o, "body_hex", b);
        } else {
            json_object_set_new(o, "body", b);
        }
    }
    text = json_dumps(o, JSON_COMPACT);
    if (text == NULL)
        goto out;
    tlen = strlen(text);
    len = 4 + tlen + e->raw_len;
    buf = malloc(len);
    if (buf == NULL)
        goto out;
    buf[0] = (uint8_t)(tlen >> 24);
    buf[1] = (uint8_t)(tlen >> 16);
    buf[2] = (uint8_t)(tlen >> 8);
    buf[3] = (uint8_t)tlen;
    memcpy(buf + 4, text, tlen);
    if (e->raw_len > 0)
        memcpy(buf + 4 + tlen, e->raw, e->raw_len);
    *buf_out = buf;
    *len_out = len;
    buf = NULL;
    err = CASEBOOK_OK;
out:
    free(buf);
    free(text);
    json_decref(o);
    return err;
}

static void
copy_str(char *dst, size_t cap, json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));

    snprintf(dst, cap, "%s", s != NULL ? s : "");
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d != NULL)
        memcpy(d, s, n);
    return d;
}

static casebook_err
decode(bool sent, const uint8_t id[CASEBOOK_ID_BYTES], const uint8_t *buf, size_t len,
       bool with_raw, casebook_entry **e_out)
{
    casebook_entry *e = NULL;
    json_t *o = NULL, *v;
    size_t tlen;
    casebook_err err = CASEBOOK_ERR_CORRUPT;

    if (len < 4)
        return CASEBOOK_ERR_CORRUPT;
    tlen = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
    if (tlen > len - 4)
        return CASEBOOK_ERR_CORRUPT;
    o = json_loadb((const char *)buf + 4, tlen, 0, NULL);
    e = calloc(1, sizeof(*e));
    if (o == NULL || e == NULL || !json_is_object(o))
        goto fail;
    e->sent = sent;
    memcpy(e->id, id, CASEBOOK_ID_BYTES);
    copy_str(e->kind, sizeof(e->kind), o, "kind");
    copy_str(e->peer, sizeof(e->peer), o, "peer");
    copy_str(e->case_id, sizeof(e->case_id), o, "case");
    copy_str(e->labels, sizeof(e->labels), o, "labels");
    v = json_object_get(o, "in_reply_to");
    if (json_is_string(v)) {
        if (proto_id_parse(json_string_value(v), e->in_reply_to) != PROTO_OK)
            goto fail;
        e->has_reply_to = true;
    }
    e->time_ms = (uint64_t)json_integer_value(json_object_get(o, "time_ms"));
    e->created_ms = (uint64_t)json_integer_value(json_object_get(o, "created_ms"));
    copy_str(e->actor, sizeof(e->actor), o, "actor");
    err = CASEBOOK_ERR_NOMEM;
    if ((v = json_object_get(o, "withheld")) != NULL && json_is_array(v) &&
        (e->withheld = json_dumps(v, JSON_COMPACT)) == NULL)
        goto fail;
    if ((v = json_object_get(o, "recipients")) != NULL && json_is_string(v) &&
        (e->recipients = dup_str(json_string_value(v))) == NULL)
        goto fail;
    if ((v = json_object_get(o, "body")) != NULL && json_is_string(v) &&
        (e->body = dup_str(json_string_value(v))) == NULL)
        goto fail;
    if ((v = json_object_get(o, "body_hex")) != NULL && json_is_string(v)) {
        size_t h = strlen(json_string_value(v));

        e->body = calloc(h / 2 + 1, 1);
        if (e->body == NULL)
            goto fail;
        if (proto_unhex(json_string_value(v), (uint8_t *)e->body, h / 2) != PROTO_OK) {
            err = CASEBOOK_ERR_CORRUPT;
            goto fail;
        }
    }
    if (with_raw && len - 4 - tlen > 0) {
        e->raw_len = len - 4 - tlen;
        e->raw = malloc(e->raw_len);
        if (e->raw == NULL)
            goto fail;
        memcpy(e->raw, buf + 4 + tlen, e->raw_len);
    }
    json_decref(o);
    *e_out = e;
    return CASEBOOK_OK;
fail:
    json_decref(o);
    casebook_entry_free(&e);
    return err;
}

void
casebook_entry_free(casebook_entry **ep)
{
    if (ep == NULL || *ep == NULL)
        return;
    free((*ep)->recipients);
    if ((*ep)->body != NULL) {
        proto_wipe((*ep)->body, strlen((*ep)->body));
        free((*ep)->body);
    }
    free((*ep)->raw);
    free((*ep)->withheld);
    free(*ep);
    *ep = NULL;
}

void
casebook_list_free(casebook_list **lp)
{
    if (lp == NULL || *lp == NULL)
        return;
    for (size_t i = 0; i < (*lp)->count; i++)
        casebook_entry_free(&(*lp)->entries[i]);
    free((*lp)->entries);
    free(*lp);
    *lp = NULL;
}

casebook_err
casebook_put(casebook *cb, const casebook_entry *e)
{
    MDB_txn *txn = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    char key[INDEX_KEY_MAX];
    uint8_t ref[1 + CASEBOOK_ID_BYTES];
    MDB_val k = {CASEBOOK_ID_BYTES, (void *)(uintptr_t)e->id}, v;
    int rc;
    casebook_err err;

    if (e->kind[0] == '\0' || (e->case_id[0] != '\0' && !index_key(e->kind, e->case_id, key)))
        return CASEBOOK_ERR_INVALID;
    if ((err = encode(e, &buf, &len)) != CASEBOOK_OK)
        return err;
    v.mv_size = len;
    v.mv_data = buf;
    if ((rc = mdb_txn_begin(cb->env, NULL, 0, &txn)) != 0)
        goto out;
    rc = mdb_put(txn, e->sent ? cb->sent : cb->received, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        /* Stored before (delivered again after a crash): nothing changes. */
        mdb_txn_abort(txn);
        txn = NULL;
        rc = 0;
        goto out;
    }
    if (rc == 0 && e->case_id[0] != '\0') {
        MDB_val ik = {strlen(key), key}, iv = {sizeof(ref), ref};

        ref[0] = e->sent ? 's' : 'r';
        memcpy(ref + 1, e->id, CASEBOOK_ID_BYTES);
        rc = mdb_put(txn, cb->cases, &ik, &iv, MDB_NODUPDATA);
        if (rc == MDB_KEYEXIST)
            rc = 0;
    }
    if (rc != 0)
        goto out;
    rc = mdb_txn_commit(txn);
    txn = NULL;
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    free(buf);
    return from_mdb(rc);
}

casebook_err
casebook_get(casebook *cb, bool sent, const uint8_t id[CASEBOOK_ID_BYTES], bool with_raw,
             casebook_entry **e_out)
{
    MDB_txn *txn = NULL;
    MDB_val k = {CASEBOOK_ID_BYTES, (void *)(uintptr_t)id}, v;
    int rc;
    casebook_err err;

    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0)
        return from_mdb(rc);
    rc = mdb_get(txn, sent ? cb->sent : cb->received, &k, &v);
    err = rc == 0 ? decode(sent, id, v.mv_data, v.mv_size, with_raw, e_out) : from_mdb(rc);
    mdb_txn_abort(txn);
    return err;
}

/* Appends e to l (taking it over). */
static casebook_err
list_add(casebook_list *l, casebook_entry **e)
{
    casebook_entry **grown = realloc(l->entries, (l->count + 1) * sizeof(*grown));

    if (grown == NULL) {
        casebook_entry_free(e);
        return CASEBOOK_ERR_NOMEM;
    }
    l->entries = grown;
    l->entries[l->count++] = *e;
    *e = NULL;
    return CASEBOOK_OK;
}

/* When a message happened: its creation by its sender (for what was
 * received, the sender's clock), else when it was stored. */
static uint64_t
when(const casebook_entry *e)
{
    return e->created_ms != 0 ? e->created_ms : e->time_ms;
}

static int
by_time(const void *a, const void *b)
{
    const casebook_entry *x = *(const casebook_entry *const *)a;
    const casebook_entry *y = *(const casebook_entry *const *)b;

    if (when(x) != when(y))
        return when(x) < when(y) ? -1 : 1;
    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return memcmp(x->id, y->id, CASEBOOK_ID_BYTES);
}

casebook_err
casebook_list_case(casebook *cb, const char *family, const char *case_id, bool with_raw,
                   casebook_list **list_out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    casebook_list *l = calloc(1, sizeof(*l));
    char key[INDEX_KEY_MAX];
    MDB_val k, v;
    int rc, n = snprintf(key, sizeof(key), "%s/%s", family, case_id);
    casebook_err err = CASEBOOK_OK;

    if (l == NULL)
        return CASEBOOK_ERR_NOMEM;
    if (n <= 0 || (size_t)n >= sizeof(key)) {
        *list_out = l;
        return CASEBOOK_OK;
    }
    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, cb->cases, &cur)) != 0) {
        err = from_mdb(rc);
        goto out;
    }
    k.mv_size = strlen(key);
    k.mv_data = key;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP)) {
        const uint8_t *ref = v.mv_data;
        MDB_val rk, rv;
        casebook_entry *e = NULL;

        if (v.mv_size != 1 + CASEBOOK_ID_BYTES) {
            err = CASEBOOK_ERR_CORRUPT;
            goto out;
        }
        rk.mv_size = CASEBOOK_ID_BYTES;
        rk.mv_data = (void *)(uintptr_t)(ref + 1);
        if (mdb_get(txn, ref[0] == 's' ? cb->sent : cb->received, &rk, &rv) != 0) {
            err = CASEBOOK_ERR_CORRUPT;
            goto out;
        }
        if ((err = decode(ref[0] == 's', ref + 1, rv.mv_data, rv.mv_size, with_raw, &e)) !=
                CASEBOOK_OK ||
            (err = list_add(l, &e)) != CASEBOOK_OK)
            goto out;
    }
    if (rc != MDB_NOTFOUND)
        err = from_mdb(rc);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (err != CASEBOOK_OK) {
        casebook_list_free(&l);
        return err;
    }
    if (l->count > 1)
        qsort(l->entries, l->count, sizeof(*l->entries), by_time);
    *list_out = l;
    return CASEBOOK_OK;
}

/* Called by walk_kind with each message of the kind; it may take *e over
 * (and set it to NULL).  Returns a casebook error to stop with it, or
 * WALK_STOP to stop without one, or CASEBOOK_OK to go on. */
#define WALK_STOP (-1)
typedef int (*walk_fn)(void *arg, casebook_entry **e);

/* True when the record buf (len bytes) is surely of another kind than kind, seen without
 * decoding it: encode writes "kind" first, so its JSON starts {"kind":"<kind>".  Only a kind
 * that JSON writes as it is (letters, digits, '.', '-', '_') is compared so; for anything
 * else, and a record that does not start so, this says false and the caller decodes.  A
 * walk by kind of a casebook of 10 000 messages so costs a comparison per message, not a
 * JSON parse. */
static bool
other_kind(const uint8_t *buf, size_t len, const char *kind)
{
    static const char prefix[] = "{\"kind\":\"";
    size_t plen = sizeof(prefix) - 1, klen = strlen(kind);
    size_t tlen;

    for (size_t i = 0; i < klen; i++)
        if (!isalnum((unsigned char)kind[i]) && strchr(".-_", kind[i]) == NULL)
            return false;
    if (len < 4)
        return false;
    tlen = (size_t)buf[0] << 24 | (size_t)buf[1] << 16 | (size_t)buf[2] << 8 | buf[3];
    if (tlen > len - 4 || tlen < plen + klen + 1 || memcmp(buf + 4, prefix, plen) != 0)
        return false;
    return memcmp(buf + 4 + plen, kind, klen) != 0 || buf[4 + plen + klen] != '"';
}

/* Calls fn for every message of kind (exact; NULL: every kind) sent (sent true) or received,
 * in key order, each decoded (with its envelope bytes when with_raw). */
static casebook_err
walk_kind(casebook *cb, bool sent, const char *kind, bool with_raw, walk_fn fn, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc, got = CASEBOOK_OK;
    casebook_err err = CASEBOOK_OK;

    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, sent ? cb->sent : cb->received, &cur)) != 0) {
        err = from_mdb(rc);
        goto out;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0 && got == CASEBOOK_OK;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        casebook_entry *e = NULL;

        if (k.mv_size != CASEBOOK_ID_BYTES) {
            err = CASEBOOK_ERR_CORRUPT;
            goto out;
        }
        if (kind != NULL && other_kind(v.mv_data, v.mv_size, kind))
            continue;
        if ((err = decode(sent, k.mv_data, v.mv_data, v.mv_size, with_raw, &e)) != CASEBOOK_OK)
            goto out;
        if (kind == NULL || strcmp(e->kind, kind) == 0)
            got = fn(arg, &e);
        casebook_entry_free(&e);
    }
    if (got != CASEBOOK_OK)
        err = got == WALK_STOP ? CASEBOOK_OK : (casebook_err)got;
    else if (rc != MDB_NOTFOUND)
        err = from_mdb(rc);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    return err;
}

static int
walk_list_add(void *arg, casebook_entry **e)
{
    return (int)list_add(arg, e);
}

casebook_err
casebook_list_kind(casebook *cb, bool sent, const char *kind, bool with_raw,
                   casebook_list **list_out)
{
    casebook_list *l = calloc(1, sizeof(*l));
    casebook_err err;

    if (l == NULL)
        return CASEBOOK_ERR_NOMEM;
    if ((err = walk_kind(cb, sent, kind, with_raw, walk_list_add, l)) != CASEBOOK_OK) {
        casebook_list_free(&l);
        return err;
    }
    if (l->count > 1)
        qsort(l->entries, l->count, sizeof(*l->entries), by_time);
    *list_out = l;
    return CASEBOOK_OK;
}

/* casebook_each_kind's function and its argument, for walk_kind. */
typedef struct each_call {
    casebook_each_fn fn;         /* the caller's function */
    void *arg;                   /* and its argument */
} each_call;

static int
walk_each(void *arg, casebook_entry **e)
{
    const each_call *c = arg;

    return c->fn(c->arg, *e) != 0 ? WALK_STOP : CASEBOOK_OK;
}

casebook_err
casebook_each_kind(casebook *cb, bool sent, const char *kind, casebook_each_fn fn, void *arg)
{
    each_call c = {fn, arg};

    if (cb == NULL || kind == NULL || fn == NULL)
        return CASEBOOK_ERR_INVALID;
    return walk_kind(cb, sent, kind, false, walk_each, &c);
}

casebook_err
casebook_each(casebook *cb, bool sent, casebook_each_fn fn, void *arg)
{
    each_call c = {fn, arg};

    if (cb == NULL || fn == NULL)
        return CASEBOOK_ERR_INVALID;
    return walk_kind(cb, sent, NULL, false, walk_each, &c);
}

/* ---- Reports ---------------------------------------------------------------- */

static size_t
report_key(const casebook_report *r, uint8_t *out, size_t cap)
{
    size_t a = strnlen(r->recipient, sizeof(r->recipient) - 1);
    size_t s = strnlen(r->state, sizeof(r->state) - 1);

    if (CASEBOOK_ID_BYTES + a + 1 + s > cap)
        return 0;
    memcpy(out, r->id, CASEBOOK_ID_BYTES);
    memcpy(out + CASEBOOK_ID_BYTES, r->recipient, a);
    out[CASEBOOK_ID_BYTES + a] = 0;
    memcpy(out + CASEBOOK_ID_BYTES + a + 1, r->state, s);
    return CASEBOOK_ID_BYTES + a + 1 + s;
}

casebook_err
casebook_put_report(casebook *cb, const casebook_report *r)
{
    uint8_t key[CASEBOOK_ID_BYTES + CASEBOOK_ADDR_MAX + 17];
    size_t klen = report_key(r, key, sizeof(key));
    json_t *o;
    char *text = NULL;
    MDB_txn *txn = NULL;
    MDB_val k = {klen, key}, v;
    int rc;

    if (klen == 0)
        return CASEBOOK_ERR_INVALID;
    o = json_pack("{s:s, s:s, s:s, s:I}", "broker", r->broker, "rule", r->rule_id, "detail",
                  r->detail, "time_ms", (json_int_t)r->time_ms);
    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return CASEBOOK_ERR_NOMEM;
    v.mv_size = strlen(text);
    v.mv_data = text;
    if ((rc = mdb_txn_begin(cb->env, NULL, 0, &txn)) == 0) {
        rc = mdb_put(txn, cb->reports, &k, &v, MDB_NOOVERWRITE);
        if (rc == MDB_KEYEXIST) {
            mdb_txn_abort(txn);
            rc = 0;
        } else if (rc == 0) {
            rc = mdb_txn_commit(txn);
        } else {
            mdb_txn_abort(txn);
        }
    }
    free(text);
    return from_mdb(rc);
}

casebook_err
casebook_reports(casebook *cb, const uint8_t id[CASEBOOK_ID_BYTES], casebook_report *out,
                 size_t cap, size_t *count_out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k = {CASEBOOK_ID_BYTES, (void *)(uintptr_t)id}, v;
    size_t n = 0;
    int rc;

    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, cb->reports, &cur)) != 0)
        goto out;
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
         rc == 0 && k.mv_size > CASEBOOK_ID_BYTES && memcmp(k.mv_data, id, CASEBOOK_ID_BYTES) == 0
         && n < cap;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        casebook_report *r = &out[n];
        const char *rest = (const char *)k.mv_data + CASEBOOK_ID_BYTES;
        size_t rest_len = k.mv_size - CASEBOOK_ID_BYTES, a = strnlen(rest, rest_len);
        json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);

        memset(r, 0, sizeof(*r));
        memcpy(r->id, id, CASEBOOK_ID_BYTES);
        snprintf(r->recipient, sizeof(r->recipient), "%.*s", (int)a, rest);
        if (a < rest_len)
            snprintf(r->state, sizeof(r->state), "%.*s", (int)(rest_len - a - 1), rest + a + 1);
        if (o != NULL) {
            copy_str(r->broker, sizeof(r->broker), o, "broker");
            copy_str(r->rule_id, sizeof(r->rule_id), o, "rule");
            copy_str(r->detail, sizeof(r->detail), o, "detail");
            r->time_ms = (uint64_t)json_integer_value(json_object_get(o, "time_ms"));
            json_decref(o);
        }
        n++;
    }
    if (rc == MDB_NOTFOUND || rc == 0)
        rc = 0;
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    *count_out = n;
    return from_mdb(rc);
}

/* ---- Retention ------------------------------------------------------------- */

typedef struct doomed {
    casebook_deletion *d;      /* deletions found */
    size_t count;              /* entries in d */
    size_t cap;                /* allocated */
} doomed;

static casebook_err
doomed_add(doomed *list, const casebook_entry *e, uint64_t now, const char *rule)
{
    casebook_deletion *d;

    if (list->count == list->cap) {
        size_t cap = list->cap == 0 ? 64 : list->cap * 2;
        casebook_deletion *grown = realloc(list->d, cap * sizeof(*grown));

        if (grown == NULL)
            return CASEBOOK_ERR_NOMEM;
        list->d = grown;
        list->cap = cap;
    }
    d = &list->d[list->count++];
    memset(d, 0, sizeof(*d));
    d->sent = e->sent;
    memcpy(d->id, e->id, CASEBOOK_ID_BYTES);
    snprintf(d->kind, sizeof(d->kind), "%s", e->kind);
    snprintf(d->case_id, sizeof(d->case_id), "%s", e->case_id);
    if (e->sent && e->recipients != NULL)
        snprintf(d->counterpart, sizeof(d->counterpart), "%.*s",
                 (int)strcspn(e->recipients, " "), e->recipients);
    else
        snprintf(d->counterpart, sizeof(d->counterpart), "%s", e->peer);
    if (e->raw != NULL && e->raw_len > 0) {
        proto_sha256(e->raw, e->raw_len, d->envelope_hash);
        d->has_hash = true;
    }
    d->created_ms = e->created_ms;
    d->deleted_ms = now;
    snprintf(d->rule, sizeof(d->rule), "%s", rule);
    return CASEBOOK_OK;
}

/* Finds the messages of one direction that decide deletes. */
static casebook_err
find_doomed(casebook *cb, bool sent, uint64_t now, casebook_retain_fn decide, void *arg,
            doomed *list)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;
    casebook_err err = CASEBOOK_OK;

    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, sent ? cb->sent : cb->received, &cur)) != 0) {
        err = from_mdb(rc);
        goto out;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        casebook_entry *e = NULL;
        char rule[65] = "";

        if (k.mv_size != CASEBOOK_ID_BYTES) {
            err = CASEBOOK_ERR_CORRUPT;
            goto out;
        }
        if ((err = decode(sent, k.mv_data, v.mv_data, v.mv_size, true, &e)) != CASEBOOK_OK)
            goto out;
        if (decide(arg, e, now, rule))
            err = doomed_add(list, e, now, rule);
        casebook_entry_free(&e);
        if (err != CASEBOOK_OK)
            goto out;
    }
    if (rc != MDB_NOTFOUND)
        err = from_mdb(rc);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    return err;
}

static json_t *
deletion_json(const casebook_deletion *d)
{
    char hex[33], hash[65];

    proto_id_format(d->id, hex);
    if (d->has_hash)
        proto_hex(d->envelope_hash, 32, hash);
    else
        hash[0] = '\0';
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "id", hex, "direction",
                     d->sent ? "sent" : "received", "kind", d->kind, "counterpart",
                     d->counterpart, "case", d->case_id, "envelope_hash", hash, "created_ms",
                     (json_int_t)d->created_ms, "deleted_ms", (json_int_t)d->deleted_ms, "rule",
                     d->rule);
}

/* Deletes one message's record, case index entry and reports, and journals it. */
static int
delete_doomed(casebook *cb, MDB_txn *txn, const casebook_deletion *d)
{
    MDB_val k = {CASEBOOK_ID_BYTES, (void *)(uintptr_t)d->id}, v;
    uint8_t jkey[8 + 1 + CASEBOOK_ID_BYTES];
    MDB_cursor *cur = NULL;
    json_t *o;
    char *text;
    int rc;

    rc = mdb_del(txn, d->sent ? cb->sent : cb->received, &k, NULL);
    if (rc != 0)
        return rc == MDB_NOTFOUND ? 0 : rc; /* deleted meanwhile by another process */
    if ((rc = unindex(cb, txn, d->sent, d->id, d->kind, d->case_id)) != 0)
        return rc;
    if (d->sent) {
        MDB_val rk = {CASEBOOK_ID_BYTES, (void *)(uintptr_t)d->id}, rv;

        if ((rc = mdb_cursor_open(txn, cb->reports, &cur)) != 0)
            return rc;
        /* The first report at or after the id, again after each deletion. */
        for (;;) {
            rk.mv_size = CASEBOOK_ID_BYTES;
            rk.mv_data = (void *)(uintptr_t)d->id;
            rc = mdb_cursor_get(cur, &rk, &rv, MDB_SET_RANGE);
            if (rc != 0 || rk.mv_size < CASEBOOK_ID_BYTES ||
                memcmp(rk.mv_data, d->id, CASEBOOK_ID_BYTES) != 0 ||
                (rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        }
        mdb_cursor_close(cur);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    for (int i = 0; i < 8; i++)
        jkey[i] = (uint8_t)(d->deleted_ms >> (56 - 8 * i));
    jkey[8] = d->sent ? 's' : 'r';
    memcpy(jkey + 9, d->id, CASEBOOK_ID_BYTES);
    o = deletion_json(d);
    text = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (text == NULL)
        return ENOMEM;
    k.mv_size = sizeof(jkey);
    k.mv_data = jkey;
    v.mv_size = strlen(text);
    v.mv_data = text;
    rc = mdb_put(txn, cb->journal, &k, &v, 0);
    free(text);
    return rc;
}

casebook_err
casebook_retention_sweep(casebook *cb, uint64_t now_ms, bool dry_run, casebook_retain_fn decide,
                         void *arg, casebook_deleted_fn report, void *report_arg,
                         size_t *count_out)
{
    doomed list = {0};
    MDB_txn *txn = NULL;
    int rc = 0;
    casebook_err err;

    if ((err = find_doomed(cb, true, now_ms, decide, arg, &list)) != CASEBOOK_OK ||
        (err = find_doomed(cb, false, now_ms, decide, arg, &list)) != CASEBOOK_OK)
        goto out;
    if (!dry_run && list.count > 0) {
        if ((rc = mdb_txn_begin(cb->env, NULL, 0, &txn)) != 0)
            goto fail;
        for (size_t i = 0; i < list.count && rc == 0; i++)
            rc = delete_doomed(cb, txn, &list.d[i]);
        if (rc != 0)
            goto fail;
        rc = mdb_txn_commit(txn);
        txn = NULL;
        if (rc != 0)
            goto fail;
    }
    for (size_t i = 0; report != NULL && i < list.count; i++)
        report(report_arg, &list.d[i]);
    if (count_out != NULL)
        *count_out = list.count;
    goto out;
fail:
    err = from_mdb(rc);
out:
    if (txn != NULL)
        mdb_txn_abort(txn);
    free(list.d);
    return err;
}

static void
json_text(json_t *o, const char *key, char *out, size_t cap)
{
    const char *t = json_string_value(json_object_get(o, key));

    snprintf(out, cap, "%s", t != NULL ? t : "");
}

casebook_err
casebook_journal_each(casebook *cb, casebook_deleted_fn fn, void *arg)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    int rc;
    casebook_err err = CASEBOOK_OK;

    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, cb->journal, &cur)) != 0) {
        err = from_mdb(rc);
        goto out;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        casebook_deletion d;
        json_t *o = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        char hex[65];

        if (o == NULL || k.mv_size != 8 + 1 + CASEBOOK_ID_BYTES) {
            json_decref(o);
            err = CASEBOOK_ERR_CORRUPT;
            goto out;
        }
        memset(&d, 0, sizeof(d));
        d.sent = ((const uint8_t *)k.mv_data)[8] == 's';
        memcpy(d.id, (const uint8_t *)k.mv_data + 9, CASEBOOK_ID_BYTES);
        json_text(o, "kind", d.kind, sizeof(d.kind));
        json_text(o, "counterpart", d.counterpart, sizeof(d.counterpart));
        json_text(o, "case", d.case_id, sizeof(d.case_id));
        json_text(o, "rule", d.rule, sizeof(d.rule));
        json_text(o, "envelope_hash", hex, sizeof(hex));
        d.has_hash = strlen(hex) == 64 && proto_unhex(hex, d.envelope_hash, 32) == PROTO_OK;
        d.created_ms = (uint64_t)json_integer_value(json_object_get(o, "created_ms"));
        d.deleted_ms = (uint64_t)json_integer_value(json_object_get(o, "deleted_ms"));
        json_decref(o);
        fn(arg, &d);
    }
    if (rc != MDB_NOTFOUND)
        err = from_mdb(rc);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    return err;
}

/* ---- Recall ------------------------------------------------------------------ */

static char *
tomb_encode(const casebook_tombstone *t)
{
    json_t *o = json_object();
    char hex[65];
    char *text;

    if (o == NULL)
        return NULL;
    json_object_set_new(o, "kind", json_string(t->kind));
    json_object_set_new(o, "peer", json_string(t->peer));
    json_object_set_new(o, "case", json_string(t->case_id));
    if (t->has_hash)
        json_object_set_new(o, "hash", json_string(proto_hex(t->envelope_hash, 32, hex)));
    json_object_set_new(o, "action", json_string(t->action));
    json_object_set_new(o, "reason", json_string(t->reason));
    json_object_set_new(o, "records", json_string(t->records));
    json_object_set_new(o, "whole", json_boolean(t->whole));
    if (t->has_replacement)
        json_object_set_new(o, "replacement", json_string(proto_id_format(t->replacement, hex)));
    json_object_set_new(o, "time_ms", json_integer((json_int_t)t->time_ms));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static casebook_err
tomb_decode(const MDB_val *k, const MDB_val *v, casebook_tombstone *t)
{
    json_t *o;
    const char *s;

    if (k->mv_size != 2 * CASEBOOK_ID_BYTES)
        return CASEBOOK_ERR_CORRUPT;
    o = json_loadb(v->mv_data, v->mv_size, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return CASEBOOK_ERR_CORRUPT;
    }
    memset(t, 0, sizeof(*t));
    memcpy(t->id, k->mv_data, CASEBOOK_ID_BYTES);
    memcpy(t->recall, (const uint8_t *)k->mv_data + CASEBOOK_ID_BYTES, CASEBOOK_ID_BYTES);
    copy_str(t->kind, sizeof(t->kind), o, "kind");
    copy_str(t->peer, sizeof(t->peer), o, "peer");
    copy_str(t->case_id, sizeof(t->case_id), o, "case");
    copy_str(t->action, sizeof(t->action), o, "action");
    copy_str(t->reason, sizeof(t->reason), o, "reason");
    copy_str(t->records, sizeof(t->records), o, "records");
    t->whole = json_is_true(json_object_get(o, "whole"));
    if ((s = json_string_value(json_object_get(o, "hash"))) != NULL &&
        proto_unhex(s, t->envelope_hash, 32) == PROTO_OK)
        t->has_hash = true;
    if ((s = json_string_value(json_object_get(o, "replacement"))) != NULL &&
        proto_id_parse(s, t->replacement) == PROTO_OK)
        t->has_replacement = true;
    t->time_ms = (uint64_t)json_integer_value(json_object_get(o, "time_ms"));
    json_decref(o);
    return CASEBOOK_OK;
}

static bool
named(const char *ref, const char *const *records, size_t count)
{
    for (size_t i = 0; ref != NULL && i < count; i++) {
        if (records[i] != NULL && strcmp(ref, records[i]) == 0)
            return true;
    }
    return false;
}

/* Appends ref to the space-separated list out (cap bytes), if it fits. */
static void
records_add(char *out, size_t cap, const char *ref)
{
    size_t n = strlen(out);

    if (n + strlen(ref) + 2 <= cap)
        snprintf(out + n, cap - n, "%s%s", n > 0 ? " " : "", ref);
}

/*
 * Decides what a recall of records deletes from e: *whole_out true for the
 * whole message; else *body_out (malloc'd) is the body without the named
 * entries.  t->records gets the refs deleted.  CASEBOOK_ERR_NOT_FOUND when
 * no named record is in it.
 */
static casebook_err
recall_records(const casebook_entry *e, const char *const *records, size_t count,
               casebook_tombstone *t, bool *whole_out, char **body_out)
{
    json_t *o = e->body != NULL ? json_loads(e->body, 0, NULL) : NULL;
    json_t *entries = json_object_get(o, "entries"), *kept = NULL;
    const char *ref = json_string_value(json_object_get(o, "ref"));
    casebook_err err = CASEBOOK_ERR_NOT_FOUND;
    size_t i;
    json_t *x;

    *whole_out = false;
    *body_out = NULL;
    t->records[0] = '\0';
    if (json_is_array(entries)) {
        if ((kept = json_array()) == NULL) {
            err = CASEBOOK_ERR_NOMEM;
            goto out;
        }
        json_array_foreach(entries, i, x) {
            const char *r = json_string_value(json_object_get(x, "ref"));

            if (named(r, records, count))
                records_add(t->records, sizeof(t->records), r);
            else
                json_array_append(kept, x);
        }
        if (t->records[0] == '\0')
            goto out;
        err = CASEBOOK_OK;
        if (json_array_size(kept) == 0) {
            *whole_out = true;
            goto out;
        }
        json_object_set(o, "entries", kept);
        if ((*body_out = json_dumps(o, JSON_COMPACT)) == NULL)
            err = CASEBOOK_ERR_NOMEM;
    } else if (named(ref, records, count)) {
        records_add(t->records, sizeof(t->records), ref);
        *whole_out = true;
        err = CASEBOOK_OK;
    }
out:
    json_decref(kept);
    json_decref(o);
    return err;
}

casebook_err
casebook_recall(casebook *cb, const char *const *records, size_t record_count,
                casebook_tombstone *t)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k = {CASEBOOK_ID_BYTES, t->id}, v;
    uint8_t tkey[2 * CASEBOOK_ID_BYTES];
    MDB_val tk = {sizeof(tkey), tkey}, tv;
    casebook_entry *e = NULL;
    char *text = NULL, *body = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    bool whole = true;
    int rc;
    casebook_err err;

    if (cb == NULL || t == NULL || (record_count > 0 && records == NULL))
        return CASEBOOK_ERR_INVALID;
    memcpy(tkey, t->id, CASEBOOK_ID_BYTES);
    memcpy(tkey + CASEBOOK_ID_BYTES, t->recall, CASEBOOK_ID_BYTES);
    if ((rc = mdb_txn_begin(cb->env, NULL, 0, &txn)) != 0)
        return from_mdb(rc);
    if ((rc = mdb_get(txn, cb->tombstones, &tk, &tv)) == 0) {
        /* Applied before (the recall delivered again after a crash). */
        err = tomb_decode(&tk, &tv, t);
        goto out;
    }
    if (rc != MDB_NOTFOUND || (rc = mdb_get(txn, cb->received, &k, &v)) != 0) {
        err = from_mdb(rc);
        goto out;
    }
    if ((err = decode(false, t->id, v.mv_data, v.mv_size, true, &e)) != CASEBOOK_OK)
        goto out;
    snprintf(t->kind, sizeof(t->kind), "%s", e->kind);
    snprintf(t->peer, sizeof(t->peer), "%s", e->peer);
    snprintf(t->case_id, sizeof(t->case_id), "%s", e->case_id);
    t->has_hash = e->raw != NULL && e->raw_len > 0;
    if (t->has_hash)
        proto_sha256(e->raw, e->raw_len, t->envelope_hash);
    t->records[0] = '\0';
    if (record_count > 0 &&
        (err = recall_records(e, records, record_count, t, &whole, &body)) != CASEBOOK_OK)
        goto out;
    t->whole = whole;
    err = CASEBOOK_ERR_NOMEM;
    if ((text = tomb_encode(t)) == NULL)
        goto out;
    if (whole) {
        if ((rc = mdb_del(txn, cb->received, &k, NULL)) != 0 ||
            (rc = unindex(cb, txn, false, t->id, e->kind, e->case_id)) != 0)
            goto mdb;
    } else {
        /* Some records go: the body without them, and no envelope bytes. */
        MDB_val nv;

        if (e->body != NULL) {
            proto_wipe(e->body, strlen(e->body));
            free(e->body);
        }
        e->body = body;
        body = NULL;
        free(e->raw);
        e->raw = NULL;
        e->raw_len = 0;
        if ((err = encode(e, &buf, &len)) != CASEBOOK_OK)
            goto out;
        nv.mv_size = len;
        nv.mv_data = buf;
        if ((rc = mdb_put(txn, cb->received, &k, &nv, 0)) != 0)
            goto mdb;
    }
    tv.mv_size = strlen(text);
    tv.mv_data = text;
    if ((rc = mdb_put(txn, cb->tombstones, &tk, &tv, 0)) != 0)
        goto mdb;
    rc = mdb_txn_commit(txn);
    txn = NULL;
mdb:
    err = from_mdb(rc);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    free(text);
    free(buf);
    free(body);
    casebook_entry_free(&e);
    return err;
}

static int
by_deletion(const void *a, const void *b)
{
    const casebook_tombstone *x = a, *y = b;

    if (x->time_ms != y->time_ms)
        return x->time_ms < y->time_ms ? -1 : 1;
    return memcmp(x->id, y->id, CASEBOOK_ID_BYTES);
}

casebook_err
casebook_tombstones(casebook *cb, casebook_tombstone **out, size_t *count_out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    casebook_tombstone *list = NULL;
    size_t n = 0;
    int rc;
    casebook_err err = CASEBOOK_OK;

    *out = NULL;
    *count_out = 0;
    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, cb->tombstones, &cur)) != 0) {
        err = from_mdb(rc);
        goto out;
    }
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        casebook_tombstone *grown = realloc(list, (n + 1) * sizeof(*grown));

        if (grown == NULL) {
            err = CASEBOOK_ERR_NOMEM;
            goto out;
        }
        list = grown;
        if ((err = tomb_decode(&k, &v, &list[n])) != CASEBOOK_OK)
            goto out;
        n++;
    }
    if (rc != MDB_NOTFOUND)
        err = from_mdb(rc);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (err != CASEBOOK_OK) {
        free(list);
        return err;
    }
    if (n > 1)
        qsort(list, n, sizeof(*list), by_deletion);
    *out = list;
    *count_out = n;
    return CASEBOOK_OK;
}

casebook_err
casebook_tombstone_get(casebook *cb, const uint8_t id[CASEBOOK_ID_BYTES], casebook_tombstone *t)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    MDB_val k = {CASEBOOK_ID_BYTES, (void *)(uintptr_t)id}, v;
    int rc;
    casebook_err err;

    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0)
        return from_mdb(rc);
    if ((rc = mdb_cursor_open(txn, cb->tombstones, &cur)) != 0) {
        mdb_txn_abort(txn);
        return from_mdb(rc);
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == 2 * CASEBOOK_ID_BYTES &&
        memcmp(k.mv_data, id, CASEBOOK_ID_BYTES) == 0)
        err = tomb_decode(&k, &v, t);
    else
        err = rc == 0 ? CASEBOOK_ERR_NOT_FOUND : from_mdb(rc);
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    return err;
}

/* ---- Walking the case index ----------------------------------------------------------- */

casebook_err
casebook_cases(casebook *cb, const char *family, size_t max, casebook_case_ids **ids_out)
{
    MDB_txn *txn = NULL;
    MDB_cursor *cur = NULL;
    casebook_case_ids *ids = NULL;
    char prefix[INDEX_KEY_MAX];
    size_t plen;
    MDB_val k, v;
    int rc, n;
    casebook_err err = CASEBOOK_OK;

    if (cb == NULL || family == NULL || ids_out == NULL || family[0] == '\0' ||
        strchr(family, '/') != NULL)
        return CASEBOOK_ERR_INVALID;
    n = snprintf(prefix, sizeof(prefix), "%s/", family);
    if (n <= 0 || (size_t)n >= sizeof(prefix))
        return CASEBOOK_ERR_INVALID;
    plen = (size_t)n;
    if ((ids = calloc(1, sizeof(*ids))) == NULL)
        return CASEBOOK_ERR_NOMEM;
    if ((rc = mdb_txn_begin(cb->env, NULL, MDB_RDONLY, &txn)) != 0 ||
        (rc = mdb_cursor_open(txn, cb->cases, &cur)) != 0) {
        err = from_mdb(rc);
        goto out;
    }
    k.mv_size = plen;
    k.mv_data = prefix;
    /* The keys are sorted: the family's are one run from its prefix on; MDB_NEXT_NODUP
     * visits each case once whatever the number of its messages. */
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_NODUP)) {
        size_t len;

        if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
            break;
        len = k.mv_size - plen;
        if (len == 0 || len >= CASEBOOK_CASE_MAX)
            continue;
        if (ids->count == max) {
            ids->truncated = true;
            break;
        }
        if (ids->count == ids->cap) {
            size_t cap = ids->cap == 0 ? 16 : ids->cap * 2;
            char (*grown)[CASEBOOK_CASE_MAX] = realloc(ids->ids, cap * sizeof(*ids->ids));

            if (grown == NULL) {
                err = CASEBOOK_ERR_NOMEM;
                goto out;
            }
            ids->ids = grown;
            ids->cap = cap;
        }
        memcpy(ids->ids[ids->count], (const char *)k.mv_data + plen, len);
        ids->ids[ids->count][len] = '\0';
        ids->count++;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        err = from_mdb(rc);
out:
    if (cur != NULL)
        mdb_cursor_close(cur);
    if (txn != NULL)
        mdb_txn_abort(txn);
    if (err != CASEBOOK_OK) {
        casebook_case_ids_free(&ids);
        return err;
    }
    *ids_out = ids;
    return CASEBOOK_OK;
}

void
casebook_case_ids_free(casebook_case_ids **ids)
{
    if (ids == NULL || *ids == NULL)
        return;
    free((*ids)->ids);
    free(*ids);
    *ids = NULL;
}
