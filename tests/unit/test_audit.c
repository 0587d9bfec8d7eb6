/* Unit tests of the audit log: record encoding, RFC 9162 vectors and proofs, tree heads, verify. */
#include <dirent.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "store_int.h"
#include "store_testlib.h"

#define HB PROTO_HASH_BYTES

typedef struct fixture {
    char dir[256];   /* scratch data directory */
    store *s;        /* open store, or NULL */
} fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    test_scratch_dir(f->dir, sizeof(f->dir));
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;

    store_close(&f->s);
    test_scratch_remove(f->dir);
    free(f);
    return 0;
}

/* ---- A straightforward recursive reference (RFC 9162 2.1), memoised ----- */

#define REF_MAX 300
static uint8_t ref_leaf[REF_MAX][HB];
static uint8_t ref_memo[REF_MAX + 1][REF_MAX + 1][HB];
static bool ref_have[REF_MAX + 1][REF_MAX + 1];

static uint64_t
ref_k(uint64_t n)
{
    uint64_t k = 1;

    while (k * 2 < n)
        k *= 2;
    return k;
}

/* MTH(D[a:b]) */
static void
ref_mth(uint64_t a, uint64_t b, uint8_t out[HB])
{
    uint8_t l[HB], r[HB];
    uint64_t k;

    if (b == a) {
        proto_sha256(NULL, 0, out);
        return;
    }
    if (b - a == 1) {
        memcpy(out, ref_leaf[a], HB);
        return;
    }
    if (ref_have[a][b]) {
        memcpy(out, ref_memo[a][b], HB);
        return;
    }
    k = ref_k(b - a);
    ref_mth(a, a + k, l);
    ref_mth(a + k, b, r);
    store_merkle_node_hash(l, r, out);
    memcpy(ref_memo[a][b], out, HB);
    ref_have[a][b] = true;
}

/* PATH(m, D[a:b]) */
static void
ref_path(uint64_t m, uint64_t a, uint64_t b, uint8_t (*out)[HB], size_t *n)
{
    uint64_t k;

    if (b - a <= 1)
        return;
    k = ref_k(b - a);
    if (m < k) {
        ref_path(m, a, a + k, out, n);
        ref_mth(a + k, b, out[(*n)++]);
    } else {
        ref_path(m - k, a + k, b, out, n);
        ref_mth(a, a + k, out[(*n)++]);
    }
}

/* SUBPROOF(m, D[a:b], flag) */
static void
ref_subproof(uint64_t m, uint64_t a, uint64_t b, bool flag, uint8_t (*out)[HB], size_t *n)
{
    uint64_t k;

    if (m == b - a) {
        if (!flag)
            ref_mth(a, b, out[(*n)++]);
        return;
    }
    k = ref_k(b - a);
    if (m <= k) {
        ref_subproof(m, a, a + k, flag, out, n);
        ref_mth(a + k, b, out[(*n)++]);
    } else {
        ref_subproof(m - k, a + k, b, false, out, n);
        ref_mth(a, a + k, out[(*n)++]);
    }
}

/* ---- Record encoding ------------------------------------------------------ */

/* The example record of docs/audit.md and its encoding. */
static void
example_record(store_audit_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    rec->time_ms = 1700000000123ull;
    rec->event = STORE_EV_RELEASED;
    for (int i = 0; i < 16; i++)
        rec->id[i] = (uint8_t)(0xA0 + i);
    strcpy(rec->party, "USA/FBI");
    strcpy(rec->counterpart, "CAN/RCMP");
    strcpy(rec->purpose, "fugitive");
    strcpy(rec->rule_id, "can-1");
    memset(rec->policy_hash, 0x11, HB);
    memset(rec->envelope_hash, 0x22, HB);
    strcpy(rec->detail, "ok");
    strcpy(rec->kind, "watchlist.query");
    strcpy(rec->actor, "fbi.jdoe");
    rec->version = STORE_AUDIT_VERSION;
}

/* The same record as version 1 wrote it (no kind, no actor). */
static void
example_record_v1(store_audit_record *rec)
{
    example_record(rec);
    memset(rec->kind, 0, sizeof(rec->kind));
    memset(rec->actor, 0, sizeof(rec->actor));
    rec->version = STORE_AUDIT_VERSION_1;
}

static const char example_v1_hex[] =
    "01"                                 /* version 1 */
    "0000018bcfe5687b"                   /* time_ms 1700000000123 */
    "04"                                 /* event released */
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"   /* message id */
    "075553412f464249"                   /* party "USA/FBI" */
    "0843414e2f52434d50"                 /* counterpart "CAN/RCMP" */
    "086675676974697665"                 /* purpose "fugitive" */
    "0563616e2d31"                       /* rule id "can-1" */
    "1111111111111111111111111111111111111111111111111111111111111111"
    "2222222222222222222222222222222222222222222222222222222222222222"
    "026f6b";                            /* detail "ok" */

static const char example_hex[] =
    "02"                                 /* version */
    "0000018bcfe5687b"                   /* time_ms 1700000000123 */
    "04"                                 /* event released */
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"   /* message id */
    "075553412f464249"                   /* party "USA/FBI" */
    "0843414e2f52434d50"                 /* counterpart "CAN/RCMP" */
    "086675676974697665"                 /* purpose "fugitive" */
    "0563616e2d31"                       /* rule id "can-1" */
    "1111111111111111111111111111111111111111111111111111111111111111"
    "2222222222222222222222222222222222222222222222222222222222222222"
    "026f6b"                             /* detail "ok" */
    "0f77617463686c6973742e7175657279"   /* kind "watchlist.query" */
    "086662692e6a646f65";                /* actor "fbi.jdoe" */

static void
test_audit_encode_known_answer(void **state)
{
    store_audit_record rec, back;
    uint8_t buf[STORE_AUDIT_RECORD_MAX], leaf[HB];
    char hex[2 * STORE_AUDIT_RECORD_MAX + 1];
    size_t len = 0;
    proto_detail d = {0};

    (void)state;
    example_record(&rec);
    assert_store_ok(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), &d);
    proto_hex(buf, len, hex);
    assert_string_equal(hex, example_hex);
    assert_store_ok(store_audit_decode(buf, len, &back, &d), &d);
    assert_memory_equal(&rec, &back, sizeof(rec));
    /* The leaf hash is SHA-256 over 0x00 || record. */
    {
        uint8_t pre[1 + STORE_AUDIT_RECORD_MAX], want[HB];

        pre[0] = 0;
        memcpy(pre + 1, buf, len);
        proto_sha256(pre, len + 1, want);
        store_merkle_leaf_hash(buf, len, leaf);
        assert_memory_equal(leaf, want, HB);
        /* As printed in docs/audit.md. */
        assert_string_equal(proto_hex(leaf, HB, hex),
                            "6e36960301991e046c7746f8015c290f194ea36e6853ae4ec08ce3473690db7b");
    }
}

/* A version-1 leaf (written before kind and actor existed) still decodes,
 * encodes back to the same bytes and keeps its leaf hash; a version-1
 * record cannot carry a kind or an actor. */
static void
test_audit_decode_version_1(void **state)
{
    store_audit_record rec, back;
    uint8_t raw[STORE_AUDIT_RECORD_MAX], buf[STORE_AUDIT_RECORD_MAX], leaf[HB];
    char hex[2 * STORE_AUDIT_RECORD_MAX + 1];
    size_t raw_len = (sizeof(example_v1_hex) - 1) / 2, len = 0;
    proto_detail d = {0};

    (void)state;
    for (size_t i = 0; i < raw_len; i++)
        sscanf(example_v1_hex + 2 * i, "%2hhx", &raw[i]);
    assert_store_ok(store_audit_decode(raw, raw_len, &back, &d), &d);
    example_record_v1(&rec);
    assert_memory_equal(&rec, &back, sizeof(rec));
    assert_int_equal(back.version, 1);
    assert_string_equal(back.party, "USA/FBI");
    assert_string_equal(back.kind, "");
    assert_string_equal(back.actor, "");
    assert_store_ok(store_audit_encode(&back, buf, sizeof(buf), &len, &d), &d);
    assert_int_equal(len, raw_len);
    assert_memory_equal(buf, raw, raw_len);
    /* The leaf hash docs/audit.md printed for version 1 is unchanged. */
    store_merkle_leaf_hash(raw, raw_len, leaf);
    assert_string_equal(proto_hex(leaf, HB, hex),
                        "4234baf68458c0d5ffe8c29ff130ab910644b0756d5d3788a2323f19f767c394");
    /* Version 1 ends at the detail: a version-1 record with the version-2
     * fields appended is refused, and so is a version-2 record without them. */
    memcpy(buf, raw, raw_len);
    buf[raw_len] = 0;
    buf[raw_len + 1] = 0;
    assert_int_equal(store_audit_decode(buf, raw_len + 2, &back, NULL), STORE_ERR_DECODE);
    buf[0] = STORE_AUDIT_VERSION;
    assert_store_ok(store_audit_decode(buf, raw_len + 2, &back, &d), &d);
    assert_int_equal(back.version, 2);
    assert_int_equal(store_audit_decode(buf, raw_len, &back, &d), STORE_ERR_DECODE);
    assert_string_equal(d.field, "kind");
    /* Encoding a version-1 record with a kind or an actor is an error. */
    example_record_v1(&rec);
    strcpy(rec.actor, "fbi.jdoe");
    assert_int_equal(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), STORE_ERR_INVALID);
    assert_string_equal(d.field, "version");
    /* A record that names no version is written as version 2. */
    example_record(&rec);
    rec.version = 0;
    assert_store_ok(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), &d);
    assert_int_equal(buf[0], 2);
}

static void
test_audit_encode_limits(void **state)
{
    store_audit_record rec, back;
    uint8_t buf[STORE_AUDIT_RECORD_MAX];
    size_t len = 0;
    proto_detail d = {0};

    (void)state;
    /* Every field at its maximum fits STORE_AUDIT_RECORD_MAX exactly. */
    example_record(&rec);
    memset(rec.party, 'A', STORE_PARTY_MAX);
    memset(rec.counterpart, 'B', STORE_PARTY_MAX);
    memset(rec.purpose, 'p', STORE_PURPOSE_MAX);
    memset(rec.rule_id, 'r', STORE_RULE_MAX);
    memset(rec.detail, 'd', STORE_DETAIL_MAX);
    memset(rec.kind, 'k', STORE_KIND_MAX);
    memset(rec.actor, 'a', STORE_ACTOR_MAX);
    assert_store_ok(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), &d);
    assert_int_equal(len, STORE_AUDIT_RECORD_MAX);
    assert_store_ok(store_audit_decode(buf, len, &back, &d), &d);
    assert_memory_equal(&rec, &back, sizeof(rec));
    assert_int_equal(store_audit_encode(&rec, buf, len - 1, &len, &d), STORE_ERR_LIMIT);

    example_record(&rec);
    rec.event = 0;
    assert_int_equal(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), STORE_ERR_INVALID);
    rec.event = STORE_EV_MAX + 1;
    assert_int_equal(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), STORE_ERR_INVALID);
    example_record(&rec);
    strcpy(rec.detail, "line\nbreak");
    assert_int_equal(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), STORE_ERR_INVALID);
    assert_string_equal(d.field, "detail");
    /* The new fields have their own limits and refuse control bytes too. */
    example_record(&rec);
    strcpy(rec.actor, "fbi\x7fjdoe");
    assert_int_equal(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), STORE_ERR_INVALID);
    assert_string_equal(d.field, "actor");
    example_record(&rec);
    strcpy(rec.kind, "watch\tlist");
    assert_int_equal(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), STORE_ERR_INVALID);
    assert_string_equal(d.field, "kind");
}

static void
test_audit_decode_rejects(void **state)
{
    store_audit_record rec, back;
    uint8_t buf[STORE_AUDIT_RECORD_MAX + 1], bad[STORE_AUDIT_RECORD_MAX + 1];
    size_t len = 0;
    proto_detail d = {0};
    size_t actor_len_at = 1 + 8 + 1 + 16;

    (void)state;
    example_record(&rec);
    assert_store_ok(store_audit_encode(&rec, buf, sizeof(buf), &len, &d), &d);
    /* Every truncation is refused. */
    for (size_t n = 0; n < len; n++)
        assert_int_equal(store_audit_decode(buf, n, &back, NULL), STORE_ERR_DECODE);
    /* A trailing byte is refused. */
    buf[len] = 0;
    assert_int_equal(store_audit_decode(buf, len + 1, &back, &d), STORE_ERR_DECODE);
    /* Unknown version and unknown events. */
    memcpy(bad, buf, len);
    bad[0] = 3;
    assert_int_equal(store_audit_decode(bad, len, &back, NULL), STORE_ERR_DECODE);
    bad[0] = 0;
    assert_int_equal(store_audit_decode(bad, len, &back, NULL), STORE_ERR_DECODE);
    memcpy(bad, buf, len);
    bad[9] = 0;
    assert_int_equal(store_audit_decode(bad, len, &back, NULL), STORE_ERR_DECODE);
    bad[9] = STORE_EV_MAX + 1;
    assert_int_equal(store_audit_decode(bad, len, &back, NULL), STORE_ERR_DECODE);
    /* An over-long actor (65 bytes) is refused even when the bytes are there. */
    {
        uint8_t big[STORE_AUDIT_RECORD_MAX + 100];
        size_t n = 0;

        memcpy(big, buf, actor_len_at);
        n = actor_len_at;
        big[n++] = STORE_PARTY_MAX + 1;
        memset(big + n, 'A', STORE_PARTY_MAX + 1);
        n += STORE_PARTY_MAX + 1;
        memcpy(big + n, buf + actor_len_at + 1 + 7, len - (actor_len_at + 1 + 7));
        n += len - (actor_len_at + 1 + 7);
        assert_int_equal(store_audit_decode(big, n, &back, &d), STORE_ERR_DECODE);
        assert_string_equal(d.field, "party");
    }
    /* An over-long actor at the end (65 bytes) is refused too. */
    {
        uint8_t big[STORE_AUDIT_RECORD_MAX + 100];
        size_t n = len - (1 + 8); /* up to the actor's length byte */

        memcpy(big, buf, n);
        big[n++] = STORE_ACTOR_MAX + 1;
        memset(big + n, 'a', STORE_ACTOR_MAX + 1);
        n += STORE_ACTOR_MAX + 1;
        assert_int_equal(store_audit_decode(big, n, &back, &d), STORE_ERR_DECODE);
        assert_string_equal(d.field, "actor");
        /* A control byte in the kind or the actor is refused. */
        memcpy(bad, buf, len);
        bad[len - 2] = 0x1b;
        assert_int_equal(store_audit_decode(bad, len, &back, &d), STORE_ERR_DECODE);
        assert_string_equal(d.field, "actor");
        memcpy(bad, buf, len);
        bad[len - 9 - 3] = 0x7f;
        assert_int_equal(store_audit_decode(bad, len, &back, &d), STORE_ERR_DECODE);
        assert_string_equal(d.field, "kind");
    }
    /* A NUL or control byte inside text is refused. */
    memcpy(bad, buf, len);
    bad[actor_len_at + 2] = 0;
    assert_int_equal(store_audit_decode(bad, len, &back, NULL), STORE_ERR_DECODE);
    /* Every single-byte change either fails or decodes to another record. */
    for (size_t i = 0; i < len; i++) {
        memcpy(bad, buf, len);
        bad[i] ^= 0x80;
        if (store_audit_decode(bad, len, &back, NULL) == STORE_OK)
            assert_memory_not_equal(&back, &rec, sizeof(rec));
    }
}

/* ---- RFC 9162 test vectors ------------------------------------------------- */

static json_t *
load_json(const char *rel)
{
    char path[1024];
    json_error_t jerr;
    json_t *j;

    test_data_path(rel, path, sizeof(path));
    /* One vector has a leaf index of 2^64 - 1, past jansson's integers. */
    j = json_load_file(path, JSON_DECODE_INT_AS_REAL, &jerr);
    if (j == NULL)
        fail_msg("%s: %s (line %d)", path, jerr.text, jerr.line);
    return j;
}

static uint64_t
j_u64(json_t *o, const char *key)
{
    double v = json_number_value(json_object_get(o, key));

    return v >= 18446744073709551615.0 ? UINT64_MAX : (uint64_t)v;
}

/* Decodes a base64 hash; false unless it is exactly 32 bytes. */
static bool
j_hash(json_t *s, uint8_t out[HB])
{
    const char *t = json_string_value(s);
    size_t n = 0;

    if (t == NULL)
        return false;
    if (sodium_base642bin(out, HB, t, strlen(t), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    return n == HB;
}

/* Decodes a proof array; false if an element is not a 32-byte hash. */
static bool
j_proof(json_t *a, uint8_t (*out)[HB], size_t *count)
{
    size_t i;
    json_t *v;

    *count = 0;
    if (json_is_null(a) || a == NULL)
        return true;
    if (json_array_size(a) > STORE_PROOF_MAX)
        return false;
    json_array_foreach(a, i, v) {
        if (!j_hash(v, out[i]))
            return false;
        (*count)++;
    }
    return true;
}

static void
test_audit_rfc9162_roots(void **state)
{
    json_t *j = load_json("rfc9162/roots.json");
    json_t *leaves = json_object_get(j, "leaves"), *roots = json_object_get(j, "roots");
    uint8_t lh[8][HB], want[HB], got[HB], data[64];
    store_frontier fr;

    (void)state;
    assert_int_equal(json_array_size(leaves), 8);
    assert_int_equal(json_array_size(roots), 9);
    for (size_t i = 0; i < 8; i++) {
        const char *hx = json_string_value(json_array_get(leaves, i));
        size_t n = strlen(hx) / 2;

        assert_int_equal(proto_unhex(hx, data, n), PROTO_OK);
        store_merkle_leaf_hash(data, n, lh[i]);
        memcpy(ref_leaf[i], lh[i], HB);
    }
    memset(ref_have, 0, sizeof(ref_have));
    for (size_t size = 0; size <= 8; size++) {
        assert_int_equal(proto_unhex(json_string_value(json_array_get(roots, size)), want, HB),
                         PROTO_OK);
        /* The store's incremental tree. */
        memset(&fr, 0, sizeof(fr));
        for (size_t i = 0; i < size; i++)
            audit_frontier_add(&fr, lh[i]);
        audit_frontier_root(&fr, got);
        assert_memory_equal(got, want, HB);
        /* The reference. */
        ref_mth(0, size, got);
        assert_memory_equal(got, want, HB);
    }
    json_decref(j);
}

/* Runs fn on every .json file under tests/data/rfc9162/<kind>/<n>/. */
static void
each_vector(const char *kind, void (*fn)(json_t *j, const char *name, size_t *acc, size_t *ref),
            size_t *accepted, size_t *refused)
{
    char base[1024], sub[1400], rel[1800];
    DIR *d, *d2;
    struct dirent *e, *e2;

    test_data_path(kind, base, sizeof(base));
    d = opendir(base);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", base, e->d_name);
        d2 = opendir(sub);
        assert_non_null(d2);
        while ((e2 = readdir(d2)) != NULL) {
            json_t *j;

            if (strstr(e2->d_name, ".json") == NULL)
                continue;
            snprintf(rel, sizeof(rel), "%s/%s/%s", kind, e->d_name, e2->d_name);
            j = load_json(rel);
            fn(j, rel, accepted, refused);
            json_decref(j);
        }
        closedir(d2);
    }
    closedir(d);
}

static void
one_inclusion(json_t *j, const char *name, size_t *acc, size_t *ref)
{
    uint8_t root[HB], leaf[HB], path[STORE_PROOF_MAX][HB];
    size_t count = 0;
    bool want_err = json_is_true(json_object_get(j, "wantErr"));
    bool ok = j_hash(json_object_get(j, "root"), root) &&
              j_hash(json_object_get(j, "leafHash"), leaf) &&
              j_proof(json_object_get(j, "proof"), path, &count) &&
              store_merkle_verify_inclusion(j_u64(j, "leafIdx"), j_u64(j, "treeSize"), leaf,
                                            (const uint8_t(*)[HB])path, count, root) == STORE_OK;

    if (ok == want_err)
        fail_msg("%s: %s, vector says %s", name, ok ? "accepted" : "refused",
                 want_err ? "refuse" : "accept");
    (*(ok ? acc : ref))++;
}

static void
one_consistency(json_t *j, const char *name, size_t *acc, size_t *ref)
{
    uint8_t r1[HB], r2[HB], path[STORE_PROOF_MAX][HB];
    size_t count = 0;
    bool want_err = json_is_true(json_object_get(j, "wantErr"));
    bool ok = j_hash(json_object_get(j, "root1"), r1) && j_hash(json_object_get(j, "root2"), r2) &&
              j_proof(json_object_get(j, "proof"), path, &count) &&
              store_merkle_verify_consistency(j_u64(j, "size1"), j_u64(j, "size2"), r1, r2,
                                              (const uint8_t(*)[HB])path, count) == STORE_OK;

    if (ok == want_err)
        fail_msg("%s: %s, vector says %s", name, ok ? "accepted" : "refused",
                 want_err ? "refuse" : "accept");
    (*(ok ? acc : ref))++;
}

static void
test_audit_rfc9162_inclusion_vectors(void **state)
{
    size_t acc = 0, ref = 0;

    (void)state;
    each_vector("rfc9162/inclusion", one_inclusion, &acc, &ref);
    print_message("inclusion vectors: %zu accepted, %zu refused\n", acc, ref);
    assert_int_equal(acc, 5);
    assert_true(ref >= 70);
}

static void
test_audit_rfc9162_consistency_vectors(void **state)
{
    size_t acc = 0, ref = 0;

    (void)state;
    each_vector("rfc9162/consistency", one_consistency, &acc, &ref);
    print_message("consistency vectors: %zu accepted, %zu refused\n", acc, ref);
    assert_int_equal(acc, 5);
    assert_true(ref >= 70);
}

/* ---- The store's tree against the reference, sizes 1..300 ------------------- */

static void
test_audit_proofs_match_reference(void **state)
{
    fixture *f = *state;
    store_read *r = NULL;
    store_inclusion_proof *ip = malloc(sizeof(*ip));
    store_consistency_proof *cp = malloc(sizeof(*cp));
    uint8_t want[STORE_PROOF_MAX][HB], root[HB];
    proto_detail d = {0};
    size_t n_want;
    uint64_t total = 0;

    f->s = tl_open(f->dir);
    /* Uneven batches, so that nodes are made across commits. */
    for (uint64_t done = 0, step = 1; done < REF_MAX; step = step % 17 + 1) {
        uint64_t n = done + step > REF_MAX ? REF_MAX - done : step;

        tl_append(f->s, done, n, n);
        done += n;
    }
    memset(ref_have, 0, sizeof(ref_have));
    assert_store_ok(store_read_begin(f->s, &r), &d);
    for (uint64_t i = 0; i < REF_MAX; i++) {
        proto_slice raw;

        assert_store_ok(store_audit_get_raw(r, i, &raw), &d);
        store_merkle_leaf_hash(raw.data, raw.len, ref_leaf[i]);
    }
    assert_int_equal(store_audit_size(r, &total), STORE_OK);
    assert_int_equal(total, REF_MAX);
    for (uint64_t n = 0; n <= REF_MAX; n++) {
        uint8_t got[HB];

        ref_mth(0, n, root);
        assert_store_ok(store_audit_root(r, n, got), &d);
        assert_memory_equal(got, root, HB);
        for (uint64_t m = 0; m < n; m++) {
            assert_store_ok(store_audit_inclusion(r, m, n, ip), &d);
            n_want = 0;
            ref_path(m, 0, n, want, &n_want);
            assert_int_equal(ip->count, n_want);
            if (n_want > 0)
                assert_memory_equal(ip->path, want, n_want * HB);
            assert_memory_equal(ip->root, root, HB);
            assert_memory_equal(ip->leaf_hash, ref_leaf[m], HB);
            assert_int_equal(store_merkle_verify_inclusion(m, n, ip->leaf_hash,
                                                           (const uint8_t(*)[HB])ip->path,
                                                           ip->count, ip->root),
                             STORE_OK);
            /* The proof does not prove another leaf. */
            if (n > 1)
                assert_int_equal(store_merkle_verify_inclusion((m + 1) % n, n, ip->leaf_hash,
                                                               (const uint8_t(*)[HB])ip->path,
                                                               ip->count, ip->root),
                                 STORE_ERR_PROOF);
        }
        for (uint64_t m = 0; m <= n; m++) {
            uint8_t r1[HB];

            assert_store_ok(store_audit_consistency(r, m, n, cp), &d);
            n_want = 0;
            if (m > 0 && m < n)
                ref_subproof(m, 0, n, true, want, &n_want);
            assert_int_equal(cp->count, n_want);
            if (n_want > 0)
                assert_memory_equal(cp->path, want, n_want * HB);
            ref_mth(0, m, r1);
            assert_memory_equal(cp->first_root, r1, HB);
            assert_memory_equal(cp->second_root, root, HB);
            assert_int_equal(store_merkle_verify_consistency(m, n, cp->first_root, cp->second_root,
                                                             (const uint8_t(*)[HB])cp->path,
                                                             cp->count),
                             STORE_OK);
            /* A changed proof hash is refused. */
            if (cp->count > 0) {
                cp->path[cp->count - 1][5] ^= 1;
                assert_int_equal(store_merkle_verify_consistency(
                                     m, n, cp->first_root, cp->second_root,
                                     (const uint8_t(*)[HB])cp->path, cp->count),
                                 STORE_ERR_PROOF);
            }
        }
    }
    /* Out of range. */
    assert_int_equal(store_audit_inclusion(r, 5, 5, ip), STORE_ERR_RANGE);
    assert_int_equal(store_audit_inclusion(r, 0, REF_MAX + 1, ip), STORE_ERR_RANGE);
    assert_int_equal(store_audit_consistency(r, 6, 5, cp), STORE_ERR_RANGE);
    assert_int_equal(store_audit_consistency(r, 1, REF_MAX + 1, cp), STORE_ERR_RANGE);
    assert_int_equal(store_audit_root(r, REF_MAX + 1, root), STORE_ERR_RANGE);
    store_read_end(&r);
    free(ip);
    free(cp);
}

static void
test_audit_append_and_read_back(void **state)
{
    fixture *f = *state;
    store_batch *b = NULL;
    store_read *r = NULL;
    store_audit_record rec, back;
    proto_detail d = {0};
    uint64_t size;

    f->s = tl_open(f->dir);
    assert_store_ok(store_batch_new(f->s, &b), &d);
    for (int item = 0; item < 3; item++) {
        assert_store_ok(store_batch_add_item(b, NULL), &d);
        for (int k = 0; k < item + 1; k++) {
            tl_record((uint64_t)(item * 10 + k), &rec);
            assert_store_ok(store_audit_append(b, &rec, &d), &d);
        }
    }
    assert_store_ok(store_batch_commit(b, &d), &d);
    /* Leaf indices are assigned in item order. */
    assert_int_equal(store_batch_result(b, 0)->first_leaf, 0);
    assert_int_equal(store_batch_result(b, 0)->leaf_count, 1);
    assert_int_equal(store_batch_result(b, 1)->first_leaf, 1);
    assert_int_equal(store_batch_result(b, 1)->leaf_count, 2);
    assert_int_equal(store_batch_result(b, 2)->first_leaf, 3);
    assert_int_equal(store_batch_result(b, 2)->leaf_count, 3);
    assert_int_equal(store_batch_commit(b, &d), STORE_ERR_STATE);
    store_batch_destroy(&b);
    assert_null(b);

    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_audit_size(r, &size), &d);
    assert_int_equal(size, 6);
    assert_store_ok(store_audit_get(r, 4, &back), &d);
    tl_record(21, &rec);
    assert_memory_equal(&rec, &back, sizeof(rec));
    assert_int_equal(store_audit_get(r, 6, &back), STORE_ERR_RANGE);
    store_read_end(&r);
    assert_null(r);

    /* Reopening keeps the tree and appends after it. */
    store_close(&f->s);
    f->s = tl_open(f->dir);
    tl_append(f->s, 100, 5, 2);
    store_close(&f->s);
    {
        store_verify_report rep;

        tl_verify(f->dir, &rep);
        assert_int_equal(rep.failure, STORE_VERIFY_OK);
        assert_int_equal(rep.tree_size, 11);
    }
}

/* ---- Signed tree heads ---------------------------------------------------- */

static void
test_audit_heads_signed_and_stored(void **state)
{
    fixture *f = *state;
    store_tree_head h, latest, got;
    store_read *r = NULL;
    uint8_t pub[32], root[HB];
    proto_detail d = {0};
    store_config cfg;

    f->s = tl_open(f->dir);
    assert_store_ok(store_audit_head_sign(f->s, &h, &d), &d);
    assert_int_equal(h.tree_size, 0);
    tl_append(f->s, 0, 7, 3);
    tl_clock_now += 5;
    assert_store_ok(store_audit_head_sign(f->s, &h, &d), &d);
    assert_int_equal(h.tree_size, 7);
    assert_int_equal(h.time_ms, tl_clock_now);
    assert_int_equal(store_tree_head_verify(&h, tl_identity()->sign_public), STORE_OK);
    h.root[0] ^= 1;
    assert_int_equal(store_tree_head_verify(&h, tl_identity()->sign_public), STORE_ERR_SIGNATURE);
    h.root[0] ^= 1;

    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_audit_head_latest(r, &latest), &d);
    assert_memory_equal(&latest, &h, sizeof(h));
    assert_store_ok(store_audit_head_get(r, 0, &got), &d);
    assert_int_equal(got.tree_size, 0);
    assert_int_equal(store_audit_head_get(r, 3, &got), STORE_ERR_NOT_FOUND);
    assert_store_ok(store_audit_root(r, 7, root), &d);
    assert_memory_equal(root, h.root, HB);
    assert_store_ok(store_audit_public_key(r, pub), &d);
    assert_memory_equal(pub, tl_identity()->sign_public, 32);
    store_read_end(&r);
    store_close(&f->s);

    /* Heads at an interval: a commit signs one when the last is old enough. */
    store_config_init(&cfg);
    cfg.identity = tl_identity();
    cfg.map_initial = 1u << 20;
    cfg.head_interval_ms = 1000;
    f->s = tl_open_cfg(f->dir, &cfg);
    tl_append(f->s, 7, 1, 1); /* last head is 5 ms old: none */
    tl_clock_now += 1000;
    tl_append(f->s, 8, 2, 2); /* now one for size 10 */
    assert_store_ok(store_read_begin(f->s, &r), &d);
    assert_store_ok(store_audit_head_latest(r, &latest), &d);
    assert_int_equal(latest.tree_size, 10);
    assert_int_equal(latest.time_ms, tl_clock_now);
    store_read_end(&r);
    store_close(&f->s);

    /* Another broker key is refused on this directory. */
    {
        proto_identity *other = NULL;
        proto_addr addr;
        uint8_t seed[32] = {9};
        store *s2 = NULL;

        assert_int_equal(proto_addr_parse("MEX", &addr, NULL), PROTO_OK);
        assert_int_equal(proto_identity_from_seed(&addr, seed, &other), PROTO_OK);
        store_config_init(&cfg);
        cfg.dir = f->dir;
        cfg.identity = other;
        memset(&d, 0, sizeof(d));
        assert_int_equal(store_open(&cfg, &s2, &d), STORE_ERR_KEY);
        assert_null(s2);
        proto_identity_destroy(&other);
    }
    /* A read-only open still verifies every head with the recorded key. */
    {
        store_verify_report rep;

        tl_verify(f->dir, &rep);
        assert_int_equal(rep.failure, STORE_VERIFY_OK);
        assert_int_equal(rep.heads_checked, 3);
    }
}

/* ---- Damage through raw LMDB is found by verify, at the right index ------ */

#define DAMAGE_RECORDS 21

static void
expect_failure(const char *dir, uint8_t failure, uint64_t index, const char *what)
{
    store_verify_report rep;

    tl_verify(dir, &rep);
    if (rep.failure != failure || rep.index != index)
        fail_msg("%s: verify said failure %u at %llu (%s), expected %u at %llu", what,
                 rep.failure, (unsigned long long)rep.index, rep.text, failure,
                 (unsigned long long)index);
}

static void
test_audit_verify_finds_damage(void **state)
{
    fixture *f = *state;
    store_tree_head h;
    store_verify_report rep;
    proto_detail d = {0};
    uint8_t key[8];
    size_t checked = 0;

    f->s = tl_open(f->dir);
    tl_append(f->s, 0, 5, 5);
    assert_store_ok(store_audit_head_sign(f->s, &h, &d), &d);
    tl_append(f->s, 5, 8, 3);
    assert_store_ok(store_audit_head_sign(f->s, &h, &d), &d);
    tl_append(f->s, 13, DAMAGE_RECORDS - 13, 4);
    assert_store_ok(store_audit_head_sign(f->s, &h, &d), &d);
    store_close(&f->s);
    tl_verify(f->dir, &rep);
    assert_int_equal(rep.failure, STORE_VERIFY_OK);
    assert_int_equal(rep.tree_size, DAMAGE_RECORDS);
    assert_int_equal(rep.heads_checked, 3);

    /* Every byte of every record. */
    for (uint64_t i = 0; i < DAMAGE_RECORDS; i++) {
        size_t len;

        tl_key64(key, i);
        len = tl_raw_len(f->dir, "audit.records", key, 8);
        assert_true(len > 0);
        for (size_t j = 0; j < len; j++) {
            uint8_t failure;

            assert_true(tl_raw_xor(f->dir, "audit.records", key, 8, j, 0x5A));
            tl_verify(f->dir, &rep);
            failure = rep.failure;
            if ((failure != STORE_VERIFY_LEAF && failure != STORE_VERIFY_RECORD) || rep.index != i)
                fail_msg("record %llu byte %zu: verify said %u at %llu (%s)",
                         (unsigned long long)i, j, failure, (unsigned long long)rep.index,
                         rep.text);
            assert_true(tl_raw_xor(f->dir, "audit.records", key, 8, j, 0x5A));
            checked++;
        }
    }
    /* Every byte of every stored node (leaf hashes and inner nodes). */
    for (uint64_t i = 0; i < DAMAGE_RECORDS; i++) {
        size_t len;

        tl_key64(key, i);
        len = tl_raw_len(f->dir, "audit.tree", key, 8);
        assert_int_equal(len % HB, 0);
        for (size_t j = 0; j < len; j++) {
            assert_true(tl_raw_xor(f->dir, "audit.tree", key, 8, j, 0x01));
            tl_verify(f->dir, &rep);
            if (rep.index != i ||
                rep.failure != (j < HB ? STORE_VERIFY_LEAF : STORE_VERIFY_NODE) ||
                (j >= HB && rep.level != j / HB))
                fail_msg("node byte %zu of entry %llu: verify said %u at %llu (%s)", j,
                         (unsigned long long)i, rep.failure, (unsigned long long)rep.index,
                         rep.text);
            assert_true(tl_raw_xor(f->dir, "audit.tree", key, 8, j, 0x01));
            checked++;
        }
    }
    /* Every byte of a stored head: its size, root, time or signature. */
    tl_key64(key, 13);
    for (size_t j = 0; j < tl_raw_len(f->dir, "audit.heads", key, 8); j++) {
        assert_true(tl_raw_xor(f->dir, "audit.heads", key, 8, j, 0x80));
        tl_verify(f->dir, &rep);
        assert_true(rep.failure == STORE_VERIFY_HEAD || rep.failure == STORE_VERIFY_SIGNATURE);
        assert_int_equal(rep.head_size, 13);
        assert_true(tl_raw_xor(f->dir, "audit.heads", key, 8, j, 0x80));
        checked++;
    }
    expect_failure(f->dir, STORE_VERIFY_OK, 0, "restored");
    print_message("%zu single-byte damages found\n", checked);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_audit_encode_known_answer),
        cmocka_unit_test(test_audit_decode_version_1),
        cmocka_unit_test(test_audit_encode_limits),
        cmocka_unit_test(test_audit_decode_rejects),
        cmocka_unit_test(test_audit_rfc9162_roots),
        cmocka_unit_test(test_audit_rfc9162_inclusion_vectors),
        cmocka_unit_test(test_audit_rfc9162_consistency_vectors),
        cmocka_unit_test_setup_teardown(test_audit_append_and_read_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_proofs_match_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_heads_signed_and_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit_verify_finds_damage, setup, teardown),
    };

    if (proto_init() != PROTO_OK)
        return 1;
    test_quiet_logs();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
