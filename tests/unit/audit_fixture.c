/* Makes, damages and holds scratch broker data directories for the `liaison audit` test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lmdb.h>

#include "liaison_store.h"

static proto_identity *
identity(const char *nation, uint8_t fill)
{
    proto_identity *id = NULL;
    proto_addr addr;
    uint8_t seed[32];

    memset(seed, fill, sizeof(seed));
    if (proto_addr_parse(nation, &addr, NULL) != PROTO_OK ||
        proto_identity_from_seed(&addr, seed, &id) != PROTO_OK)
        exit(70);
    return id;
}

static void
write_card(const proto_identity *id, const char *path)
{
    proto_card card;
    char text[512];
    FILE *f = fopen(path, "w");

    proto_identity_card(id, &card);
    if (f == NULL || proto_card_format(&card, text, sizeof(text)) != PROTO_OK)
        exit(70);
    fputs(text, f);
    fclose(f);
}

static int
make(const char *dir, uint64_t n)
{
    proto_identity *id = identity("USA", 7), *other = identity("MEX", 9);
    store_config cfg;
    store *s = NULL;
    store_batch *b = NULL;
    store_tree_head h;
    proto_detail d = {{0}, {0}};
    char path[4200];
    uint64_t i = 0;

    store_config_init(&cfg);
    cfg.dir = dir;
    cfg.flags = STORE_OPEN_CREATE;
    cfg.identity = id;
    cfg.map_initial = 1u << 20;
    cfg.head_interval_ms = 0;
    if (store_open(&cfg, &s, &d) != STORE_OK || store_batch_new(s, &b) != STORE_OK) {
        fprintf(stderr, "make: %s\n", d.text);
        return 70;
    }
    while (i < n) {
        store_batch_reset(b);
        if (store_batch_add_item(b, NULL) != STORE_OK)
            return 70;
        for (int k = 0; k < 7 && i < n; k++, i++) {
            store_audit_record rec;

            memset(&rec, 0, sizeof(rec));
            rec.time_ms = 1700000000000ull + i;
            rec.event = (uint8_t)(1 + i % 10);
            rec.id[15] = (uint8_t)i;
            strcpy(rec.party, "USA/FBI");
            strcpy(rec.counterpart, "CAN/RCMP");
            strcpy(rec.purpose, "fugitive inquiry");
            snprintf(rec.detail, sizeof(rec.detail), "record %llu", (unsigned long long)i);
            /* The first half as a broker wrote them before records named the
             * kind and the actor (version 1), the rest as version 2: one log
             * holds both, as after an upgrade. */
            if (i < n / 2) {
                rec.version = STORE_AUDIT_VERSION_1;
            } else {
                strcpy(rec.kind, i % 3 == 0 ? "traveldoc.check" : "watchlist.query");
                strcpy(rec.actor, i % 2 == 0 ? "fbi.jdoe" : "fbi.asmith");
            }
            if (store_audit_append(b, &rec, &d) != STORE_OK)
                return 70;
        }
        if (store_batch_commit(b, &d) != STORE_OK)
            return 70;
        if (i % 70 == 0 && store_audit_head_sign(s, &h, &d) != STORE_OK)
            return 70;
    }
    if (store_audit_head_sign(s, &h, &d) != STORE_OK)
        return 70;
    store_batch_destroy(&b);
    store_close(&s);
    snprintf(path, sizeof(path), "%s/broker.card", dir);
    write_card(id, path);
    snprintf(path, sizeof(path), "%s/other.card", dir);
    write_card(other, path);
    proto_identity_destroy(&id);
    proto_identity_destroy(&other);
    return 0;
}

/* XORs 0x20 into byte 12 of record index, through raw LMDB. */
static int
damage(const char *dir, uint64_t index)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    uint8_t key[8], buf[1024];
    MDB_val k = {8, key}, v;
    char path[4200];

    for (int i = 7; i >= 0; i--, index >>= 8)
        key[i] = (uint8_t)index;
    snprintf(path, sizeof(path), "%s/store", dir);
    if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
        mdb_env_open(env, path, 0, 0600) != 0 || mdb_txn_begin(env, NULL, 0, &txn) != 0 ||
        mdb_dbi_open(txn, "audit.records", 0, &dbi) != 0 || mdb_get(txn, dbi, &k, &v) != 0 ||
        v.mv_size > sizeof(buf) || v.mv_size < 13)
        return 70;
    memcpy(buf, v.mv_data, v.mv_size);
    buf[12] ^= 0x20;
    v.mv_data = buf;
    if (mdb_put(txn, dbi, &k, &v, 0) != 0 || mdb_txn_commit(txn) != 0)
        return 70;
    mdb_env_close(env);
    return 0;
}

/* Holds the store open for writing (as a running broker would) until killed. */
static int
hold(const char *dir)
{
    store_config cfg;
    store *s = NULL;
    char path[4200];
    FILE *f;

    store_config_init(&cfg);
    cfg.dir = dir;
    if (store_open(&cfg, &s, NULL) != STORE_OK)
        return 70;
    snprintf(path, sizeof(path), "%s/held", dir);
    f = fopen(path, "w");
    if (f == NULL)
        return 70;
    fclose(f);
    for (;;)
        pause();
}

int
main(int argc, char **argv)
{
    if (proto_init() != PROTO_OK)
        return 70;
    proto_log_configure(NULL, NULL, PROTO_LOG_ERROR);
    if (argc == 4 && strcmp(argv[1], "make") == 0)
        return make(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "damage") == 0)
        return damage(argv[2], strtoull(argv[3], NULL, 10));
    if (argc == 3 && strcmp(argv[1], "hold") == 0)
        return hold(argv[2]);
    fprintf(stderr, "usage: audit_fixture make DIR N | damage DIR INDEX | hold DIR\n");
    return 64;
}
