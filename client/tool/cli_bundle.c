/* MLAT evidence: signed custody entries and bundle export from the casebook; verification is libliaison's. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "cli_bundle.h"
#include "liaison_store.h"

#define READ_BLOCK (1u << 20)          /* bytes read at a time when hashing a file */
#define CHUNKS_MAX (1u << 20)          /* chunks one file may have */
#define FILES_MAX 4096u                /* files one bundle may hold */
#define OUT_DIR_MAX 2048u              /* bytes of an export directory's path */

static void
say(char *why, size_t why_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
say(char *why, size_t why_len, const char *fmt, ...)
{
    va_list ap;

    if (why == NULL || why_len == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(why, why_len, fmt, ap);
    va_end(ap);
}

static char *
sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    uint8_t h[PROTO_HASH_BYTES];

    proto_sha256(data, len, h);
    return proto_hex(h, sizeof(h), out);
}

/* ---- Custody entries ------------------------------------------------------------ */

json_t *
bundle_custody_new(const proto_identity *signer, uint64_t time_ms, const char *action,
                   const char *file, const char *sha256_hex)
{
    char t[32], actor[PROTO_ADDR_TEXT_MAX + 1], sig_hex[2 * PROTO_SIGNATURE_BYTES + 1];
    uint8_t sig[PROTO_SIGNATURE_BYTES], *input = NULL;
    size_t len;

    proto_time_format(time_ms, t);
    proto_addr_format(&signer->addr, actor, sizeof(actor));
    if (liaison_bundle_custody_input(t, actor, action, file, sha256_hex, &input, &len) !=
        LIAISON_OK)
        return NULL;
    proto_sign_detached(signer, input, len, sig);
    free(input);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "time", t, "actor", actor, "action", action,
                     "file", file, "sha256", sha256_hex, "signature",
                     proto_hex(sig, sizeof(sig), sig_hex));
}

/* The card of an address text in roster; NULL with why if none is usable. */
static const proto_roster_entry *
card_of(const proto_roster *roster, const char *addr_text, char *why, size_t why_len)
{
    proto_addr a;
    const proto_roster_entry *e;

    if (addr_text == NULL || proto_addr_parse(addr_text, &a, NULL) != PROTO_OK) {
        say(why, why_len, "'%s' is not an address", addr_text != NULL ? addr_text : "(none)");
        return NULL;
    }
    e = proto_roster_find(roster, &a);
    if (e == NULL) {
        say(why, why_len, "%s is not in the roster", addr_text);
        return NULL;
    }
    if (e->revoked) {
        say(why, why_len, "the key of %s is revoked in the roster", addr_text);
        return NULL;
    }
    return e;
}

int
bundle_custody_check(const json_t *entry, const proto_roster *roster, char *why, size_t why_len)
{
    static const char *const names[] = {"time", "actor", "action", "file", "sha256", "signature"};
    const proto_roster_entry *card;
    const char *f[6];
    liaison_err err;

    for (size_t i = 0; i < 6; i++) {
        f[i] = json_string_value(json_object_get(entry, names[i]));
        if (f[i] == NULL) {
            say(why, why_len, "a custody entry has no \"%s\"", names[i]);
            return -1;
        }
    }
    if ((card = card_of(roster, f[1], why, why_len)) == NULL)
        return -1;
    err = liaison_bundle_custody_verify(f[0], f[1], f[2], f[3], f[4], f[5], card->card.sign_public);
    if (err == LIAISON_ERR_INVALID)
        say(why, why_len, "custody entry '%s' of %s: the signature is not 128 hex digits", f[2], f[3]);
    else if (err == LIAISON_ERR_NOMEM)
        say(why, why_len, "out of memory");
    else if (err != LIAISON_OK)
        say(why, why_len, "custody entry '%s' of %s by %s: the signature does not verify", f[2],
            f[3], f[1]);
    return err == LIAISON_OK ? 0 : -1;
}

/* ---- Files ------------------------------------------------------------------------ */

int
bundle_file_sha256(const char *path, uint64_t *size_out, char hex_out[65],
                   bundle_progress_fn progress, void *ctx, char *why, size_t why_len)
{
    crypto_hash_sha256_state st;
    uint8_t *buf = malloc(READ_BLOCK), h[PROTO_HASH_BYTES];
    FILE *f = fopen(path, "rb");
    uint64_t total = 0;
    size_t n;
    int rc = -1;

    if (f == NULL || buf == NULL) {
        say(why, why_len, "cannot read %s: %s", path, strerror(f == NULL ? errno : ENOMEM));
        goto out;
    }
    crypto_hash_sha256_init(&st);
    while ((n = fread(buf, 1, READ_BLOCK, f)) > 0) {
        crypto_hash_sha256_update(&st, buf, n);
        total += n;
        if (progress != NULL)
            progress(ctx, total);
    }
    if (ferror(f)) {
        say(why, why_len, "cannot read %s: %s", path, strerror(EIO));
        goto out;
    }
    crypto_hash_sha256_final(&st, h);
    proto_hex(h, sizeof(h), hex_out);
    *size_out = total;
    rc = 0;
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    return rc;
}

uint64_t
bundle_chunk_count(uint64_t size, uint64_t chunk_size)
{
    if (size == 0 || chunk_size == 0)
        return 1;
    return (size + chunk_size - 1) / chunk_size;
}

/* Writes len bytes to path, created exclusively (mode 0600). */
static int
write_new(const char *path, const void *data, size_t len, char *why, size_t why_len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    size_t off = 0;

    if (fd < 0) {
        say(why, why_len, "cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    while (off < len) {
        ssize_t w = write(fd, (const uint8_t *)data + off, len - off);

        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            say(why, why_len, "cannot write %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        say(why, why_len, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Reads a whole file of at most max bytes into a malloc'd buffer (NUL-terminated).
 * -1 with errno set on failure (EFBIG when it is larger). */
static int
read_all(const char *path, size_t max, uint8_t **buf_out, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    struct stat sb;
    uint8_t *buf = NULL;
    size_t len;

    if (f == NULL)
        return -1;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0 ||
        (uint64_t)sb.st_size > max) {
        if (errno == 0 || sb.st_size >= 0)
            errno = S_ISREG(sb.st_mode) ? EFBIG : EINVAL;
        fclose(f);
        return -1;
    }
    len = (size_t)sb.st_size;
    buf = malloc(len + 1);
    if (buf == NULL || fread(buf, 1, len, f) != len) {
        free(buf);
        fclose(f);
        errno = buf == NULL ? ENOMEM : EIO;
        return -1;
    }
    fclose(f);
    buf[len] = 0;
    *buf_out = buf;
    *len_out = len;
    return 0;
}

/* ---- Export ------------------------------------------------------------------------ */

/* Where one chunk of an evidence file is. */
typedef struct ex_chunk {
    bool have;                      /* some manifest named it */
    size_t message;                 /* index in ex_state.evidence */
    size_t portion;                 /* its portion in that message */
    size_t len;                     /* plaintext bytes */
    char sha256[65];                /* hex, from the manifest */
} ex_chunk;

/* One evidence file being reassembled. */
typedef struct ex_file {
    char name[BUNDLE_NAME_MAX + 1]; /* its name */
    uint64_t size;                  /* bytes, from the manifests */
    char sha256[65];                /* hex of the whole file, from the manifests */
    uint64_t chunks;                /* chunk count */
    ex_chunk *chunk;                /* one per chunk (owned) */
    bool custody;                   /* a custody entry names it */
} ex_file;

/* One evidence message. */
typedef struct ex_msg {
    const casebook_entry *entry;    /* from the casebook list (borrowed) */
    proto_envelope *env;            /* decoded; borrows entry->raw (owned) */
    json_t *body;                   /* its manifest (owned) */
} ex_msg;

/* The state of one export. */
typedef struct ex_state {
    ex_msg *evidence;               /* evidence messages */
    size_t evidence_count;          /* entries in evidence */
    ex_file *files;                 /* evidence files */
    size_t file_count;              /* entries in files */
    proto_roster *roster;           /* the roster */
    json_t *bundle_files;           /* path -> sha256 of every file written */
} ex_state;

static void
ex_free(ex_state *s)
{
    for (size_t i = 0; i < s->evidence_count; i++) {
        free(s->evidence[i].env);
        json_decref(s->evidence[i].body);
    }
    free(s->evidence);
    for (size_t i = 0; i < s->file_count; i++)
        free(s->files[i].chunk);
    free(s->files);
    proto_roster_destroy(&s->roster);
    json_decref(s->bundle_files);
}

static ex_file *
ex_file_get(ex_state *s, const char *name, uint64_t size, const char *sha, uint64_t chunks,
            char *why, size_t why_len)
{
    ex_file *f;

    for (size_t i = 0; i < s->file_count; i++) {
        f = &s->files[i];
        if (strcmp(f->name, name) != 0)
            continue;
        if (f->size != size || strcmp(f->sha256, sha) != 0 || f->chunks != chunks) {
            say(why, why_len, "evidence file %s: the manifests disagree on its size, hash or "
                              "chunk count", name);
            return NULL;
        }
        return f;
    }
    if (s->file_count == FILES_MAX || chunks == 0 || chunks > CHUNKS_MAX) {
        say(why, why_len, "evidence file %s: too many files or chunks", name);
        return NULL;
    }
    f = realloc(s->files, (s->file_count + 1) * sizeof(*f));
    if (f == NULL) {
        say(why, why_len, "out of memory");
        return NULL;
    }
    s->files = f;
    f = &s->files[s->file_count];
    memset(f, 0, sizeof(*f));
    f->chunk = calloc((size_t)chunks, sizeof(*f->chunk));
    if (f->chunk == NULL) {
        say(why, why_len, "out of memory");
        return NULL;
    }
    s->file_count++;
    snprintf(f->name, sizeof(f->name), "%s", name);
    f->size = size;
    snprintf(f->sha256, sizeof(f->sha256), "%s", sha);
    f->chunks = chunks;
    return f;
}

static bool
is_hex64(const char *s)
{
    uint8_t h[32];

    return s != NULL && strlen(s) == 64 && proto_unhex(s, h, 32) == PROTO_OK;
}

/* Reads the manifest of evidence message m (index mi) into s->files. */
static int
ex_read_manifest(ex_state *s, size_t mi, const proto_identity *me, char *why, size_t why_len)
{
    ex_msg *m = &s->evidence[mi];
    json_t *files = json_object_get(m->body, "files"), *f;
    size_t i;

    if (!json_is_array(files)) {
        say(why, why_len, "evidence %s has no \"files\" list", m->entry->kind);
        return EX_DATAERR;
    }
    json_array_foreach(files, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        const char *csha = json_string_value(json_object_get(f, "chunk_sha256"));
        json_int_t size = json_integer_value(json_object_get(f, "size"));
        json_int_t chunk = json_integer_value(json_object_get(f, "chunk"));
        json_int_t chunks = json_integer_value(json_object_get(f, "chunks"));
        json_int_t portion = json_integer_value(json_object_get(f, "portion"));
        ex_file *ef;
        ex_chunk *c;

        if (!liaison_bundle_name_ok(name) || !is_hex64(sha) || !is_hex64(csha) || size < 0 ||
            chunks < 1 || chunk < 0 || chunk >= chunks || portion < 1 ||
            portion >= (json_int_t)m->env->portion_count) {
            say(why, why_len, "evidence message %zu: file entry %zu is malformed (name, hashes, "
                              "chunk or portion)", mi, i);
            return EX_DATAERR;
        }
        if ((ef = ex_file_get(s, name, (uint64_t)size, sha, (uint64_t)chunks, why, why_len)) == NULL)
            return EX_DATAERR;
        c = &ef->chunk[chunk];
        if (c->have) {
            say(why, why_len, "evidence file %s: chunk %lld arrived twice", name, (long long)chunk);
            return EX_DATAERR;
        }
        if (proto_envelope_portion_withheld(m->env, (size_t)portion)) {
            char nation[PROTO_NATION_LEN + 1], rule[PROTO_RULE_ID_MAX + 1];

            /* The note is the withholding broker's word, not the sender's. */
            if (proto_envelope_portion_note(m->env, (size_t)portion, nation, rule))
                say(why, why_len, "evidence file %s: chunk %lld (portion %lld) was withheld by "
                                  "%s policy%s%s, as the broker states", name, (long long)chunk,
                    (long long)portion, nation, rule[0] != '\0' ? " rule " : "", rule);
            else
                say(why, why_len, "evidence file %s: chunk %lld (portion %lld) was withheld by a "
                                  "broker", name, (long long)chunk, (long long)portion);
            return EX_DATAERR;
        }
        if (!proto_envelope_has_seal(m->env, (size_t)portion, &me->addr)) {
            say(why, why_len, "evidence file %s: chunk %lld is not sealed to this agency", name,
                (long long)chunk);
            return EX_DATAERR;
        }
        c->have = true;
        c->message = mi;
        c->portion = (size_t)portion;
        c->len = proto_envelope_plain_len(m->env, (size_t)portion);
        snprintf(c->sha256, sizeof(c->sha256), "%s", csha);
    }
    return EX_OK;
}

/* Decrypts every chunk of f in order into out_dir/files/<name>, checking each hash. */
static int
ex_write_file(ex_state *s, const ex_file *f, const proto_identity *me, const char *out_dir,
              char *why, size_t why_len)
{
    crypto_hash_sha256_state st;
    char path[4096], hex[65];
    uint8_t h[PROTO_HASH_BYTES];
    uint64_t total = 0;
    FILE *out = NULL;
    int fd, rc = EX_DATAERR;

    snprintf(path, sizeof(path), "%s/files/%s", out_dir, f->name);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 || (out = fdopen(fd, "wb")) == NULL) {
        say(why, why_len, "cannot create %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return EX_CANTCREAT;
    }
    crypto_hash_sha256_init(&st);
    for (uint64_t k = 0; k < f->chunks; k++) {
        const ex_chunk *c = &f->chunk[k];
        uint8_t *plain;
        size_t n = 0;

        if (!c->have) {
            say(why, why_len, "evidence file %s: chunk %llu of %llu has not been received", f->name,
                (unsigned long long)k, (unsigned long long)f->chunks);
            goto out;
        }
        plain = malloc(c->len > 0 ? c->len : 1);
        if (plain == NULL) {
            say(why, why_len, "out of memory");
            goto out;
        }
        if (proto_envelope_open(s->evidence[c->message].env, c->portion, me, plain, &n) != PROTO_OK) {
            say(why, why_len, "evidence file %s: chunk %llu does not decrypt", f->name,
                (unsigned long long)k);
            free(plain);
            goto out;
        }
        if (strcmp(sha256_hex(plain, n, hex), c->sha256) != 0) {
            say(why, why_len, "evidence file %s: chunk %llu does not match its manifest hash",
                f->name, (unsigned long long)k);
            proto_wipe(plain, n);
            free(plain);
            goto out;
        }
        crypto_hash_sha256_update(&st, plain, n);
        total += n;
        if (n > 0 && fwrite(plain, 1, n, out) != n) {
            say(why, why_len, "cannot write %s: %s", path, strerror(errno));
            proto_wipe(plain, n);
            free(plain);
            rc = EX_IOERR;
            goto out;
        }
        proto_wipe(plain, n);
        free(plain);
    }
    crypto_hash_sha256_final(&st, h);
    if (total != f->size || strcmp(proto_hex(h, sizeof(h), hex), f->sha256) != 0) {
        say(why, why_len, "evidence file %s: the reassembled file does not match its size or "
                          "SHA-256 in the manifests", f->name);
        goto out;
    }
    rc = EX_OK;
out:
    if (fflush(out) != 0 || fsync(fileno(out)) != 0) {
        if (rc == EX_OK) {
            say(why, why_len, "cannot write %s: %s", path, strerror(errno));
            rc = EX_IOERR;
        }
    }
    fclose(out);
    if (rc == EX_OK)
        json_object_set_new(s->bundle_files, path + strlen(out_dir) + 1, json_string(f->sha256));
    return rc;
}

/* Writes text as out_dir/rel and lists its hash. */
static int
ex_write_listed(ex_state *s, const char *out_dir, const char *rel, const void *data, size_t len,
                char *why, size_t why_len)
{
    char path[4096], hex[65];

    snprintf(path, sizeof(path), "%s/%s", out_dir, rel);
    if (write_new(path, data, len, why, why_len) != 0)
        return EX_CANTCREAT;
    json_object_set_new(s->bundle_files, rel, json_string(sha256_hex(data, len, hex)));
    return EX_OK;
}

static json_t *
hash_list(const uint8_t (*path)[PROTO_HASH_BYTES], size_t count)
{
    json_t *a = json_array();
    char h[65];

    for (size_t i = 0; i < count; i++)
        json_array_append_new(a, json_string(proto_hex(path[i], PROTO_HASH_BYTES, h)));
    return a;
}

static json_t *
head_json(const store_tree_head *h)
{
    char root[65], sig[2 * PROTO_SIGNATURE_BYTES + 1];

    return json_pack("{s:I, s:s, s:I, s:s}", "tree_size", (json_int_t)h->tree_size, "root",
                     proto_hex(h->root, sizeof(h->root), root), "time_ms", (json_int_t)h->time_ms,
                     "signature", proto_hex(h->signature, sizeof(h->signature), sig));
}

/*
 * Writes proofs/<id>.json for every received message of the case: each
 * audit record of the broker in audit_data that names the message, with its
 * inclusion proof up to the latest signed tree head.  proofs_out gets the
 * manifest's list.
 */
static int
ex_proofs(ex_state *s, const bundle_export_args *a, const char *dir, json_t *proofs_out, char *why,
          size_t why_len)
{
    store_config cfg;
    store *st = NULL;
    store_read *r = NULL;
    store_tree_head head;
    store_inclusion_proof *proof = NULL;
    proto_detail d = {{0}, {0}};
    uint8_t pub[PROTO_SIGN_PUBLIC_BYTES];
    char broker[PROTO_ADDR_TEXT_MAX + 1] = "", t[32];
    json_t **records = NULL;
    size_t n = a->messages->count;
    int rc = EX_DATAERR;
    store_err err;

    store_config_init(&cfg);
    cfg.dir = a->audit_data;
    cfg.flags = STORE_OPEN_READONLY;
    cfg.map_initial = 1u << 20;
    if ((err = store_open(&cfg, &st, &d)) != STORE_OK) {
        say(why, why_len, "--audit-data %s: %s", a->audit_data, d.text[0] ? d.text : store_strerror(err));
        return err == STORE_ERR_NOT_FOUND || err == STORE_ERR_LOST || err == STORE_ERR_PERMISSION
                   ? EX_NOINPUT
                   : EX_DATAERR;
    }
    if ((err = store_read_begin(st, &r)) != STORE_OK ||
        (err = store_audit_public_key(r, pub)) != STORE_OK) {
        say(why, why_len, "--audit-data %s: %s", a->audit_data,
            err == STORE_ERR_KEY ? "the store records no broker key" : store_strerror(err));
        goto out;
    }
    for (size_t k = 0; k < proto_roster_count(s->roster); k++) {
        const proto_roster_entry *e = proto_roster_at(s->roster, k);

        if (e->card.addr.kind == PROTO_ADDR_BROKER && !e->revoked &&
            sodium_memcmp(e->card.sign_public, pub, sizeof(pub)) == 0)
            proto_addr_format(&e->card.addr, broker, sizeof(broker));
    }
    if (broker[0] == '\0') {
        say(why, why_len, "--audit-data %s: its broker key is not a broker card of the roster",
            a->audit_data);
        goto out;
    }
    if ((err = store_audit_head_latest(r, &head)) != STORE_OK) {
        say(why, why_len, "--audit-data %s: %s", a->audit_data,
            err == STORE_ERR_NOT_FOUND ? "the broker has signed no tree head yet; try again later"
                                       : store_strerror(err));
        rc = err == STORE_ERR_NOT_FOUND ? EX_TEMPFAIL : EX_DATAERR;
        goto out;
    }
    if (store_tree_head_verify(&head, pub) != STORE_OK) {
        say(why, why_len, "--audit-data %s: the latest tree head's signature does not verify",
            a->audit_data);
        goto out;
    }
    records = calloc(n > 0 ? n : 1, sizeof(*records));
    proof = malloc(sizeof(*proof));
    if (records == NULL || proof == NULL) {
        say(why, why_len, "out of memory");
        rc = EX_SOFTWARE;
        goto out;
    }
    /* One pass over the log up to the head: the records naming a message of the case. */
    for (uint64_t i = 0; i < head.tree_size; i++) {
        store_audit_record rec;
        proto_slice raw;
        char hex[2 * STORE_AUDIT_RECORD_MAX + 1];

        if ((err = store_audit_get(r, i, &rec)) != STORE_OK) {
            say(why, why_len, "--audit-data %s: record %llu: %s", a->audit_data,
                (unsigned long long)i, store_strerror(err));
            goto out;
        }
        if (proto_id_is_zero(rec.id))
            continue;
        for (size_t m = 0; m < n; m++) {
            const casebook_entry *e = a->messages->entries[m];

            if (e->sent || e->raw == NULL || memcmp(e->id, rec.id, 16) != 0)
                continue;
            if ((err = store_audit_get_raw(r, i, &raw)) != STORE_OK ||
                (err = store_audit_inclusion(r, i, head.tree_size, proof)) != STORE_OK) {
                say(why, why_len, "--audit-data %s: proof of record %llu: %s", a->audit_data,
                    (unsigned long long)i, store_strerror(err));
                goto out;
            }
            if (records[m] == NULL)
                records[m] = json_array();
            json_array_append_new(records[m],
                                  json_pack("{s:I, s:s, s:s, s:o}", "leaf_index", (json_int_t)i,
                                            "event", store_audit_event_name(rec.event), "record",
                                            proto_hex(raw.data, raw.len, hex), "inclusion",
                                            hash_list((const uint8_t(*)[PROTO_HASH_BYTES])proof->path,
                                                      proof->count)));
        }
    }
    for (size_t m = 0; m < n; m++) {
        const casebook_entry *e = a->messages->entries[m];
        char id[33], rel[64];
        json_t *j;
        char *text;

        if (e->sent || e->raw == NULL)
            continue;
        proto_id_format(e->id, id);
        if (records[m] == NULL) {
            if (strcmp(e->kind, "mlat.evidence") != 0)
                continue;
            say(why, why_len, "the latest signed tree head of %s (size %llu, %s) does not cover "
                              "evidence message %s yet: the broker signs one every "
                              "tree_head_interval_s; try again later",
                a->audit_data, (unsigned long long)head.tree_size, proto_time_format(head.time_ms, t), id);
            rc = EX_TEMPFAIL;
            goto out;
        }
        j = json_pack("{s:s, s:s, s:s, s:o, s:O}", "schema", "liaison.audit-proofs/1", "message",
                      id, "broker", broker, "tree_head", head_json(&head), "records", records[m]);
        text = j != NULL ? json_dumps(j, JSON_INDENT(2)) : NULL;
        json_decref(j);
        if (text == NULL) {
            say(why, why_len, "out of memory");
            rc = EX_SOFTWARE;
            goto out;
        }
        snprintf(rel, sizeof(rel), "proofs/%s.json", id);
        rc = ex_write_listed(s, dir, rel, text, strlen(text), why, why_len);
        free(text);
        if (rc != EX_OK)
            goto out;
        json_array_append_new(proofs_out,
                              json_pack("{s:s, s:s, s:s, s:I, s:I}", "message", id, "path", rel,
                                        "broker", broker, "tree_size", (json_int_t)head.tree_size,
                                        "records", (json_int_t)json_array_size(records[m])));
    }
    rc = EX_OK;
out:
    if (records != NULL) {
        for (size_t m = 0; m < n; m++)
            json_decref(records[m]);
    }
    free(records);
    free(proof);
    store_read_end(&r);
    store_close(&st);
    return rc;
}

/* True if dir does not exist, or is an empty directory. */
static bool
usable_out(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    bool empty = true;

    if (d == NULL)
        return errno == ENOENT;
    while ((de = readdir(d)) != NULL)
        empty = empty && (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0);
    closedir(d);
    return empty;
}

/* Makes dir (mode 0700, must not exist) and its subdirectories. */
static int
ex_make_dirs(const char *dir, char *why, size_t why_len)
{
    static const char *const subs[] = {"files", "envelopes", "proofs"};
    char path[4096];

    if (mkdir(dir, 0700) != 0) {
        say(why, why_len, "cannot create %s: %s%s", dir, strerror(errno),
            errno == EEXIST ? " (left by an interrupted export? remove it)" : "");
        return EX_CANTCREAT;
    }
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
        if (mkdir(path, 0700) != 0) {
            say(why, why_len, "cannot create %s: %s", path, strerror(errno));
            return EX_CANTCREAT;
        }
    }
    return EX_OK;
}

/* Removes a bundle being written: its files, its three subdirectories, itself. */
static void
ex_remove(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char path[4096];
    int n;

    while (d != NULL && (de = readdir(d)) != NULL) {
        struct stat sb;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        n = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (n < 0 || (size_t)n >= sizeof(path))
            continue;
        if (lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            ex_remove(path);
        else
            unlink(path);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

static json_t *
body_json(const casebook_entry *e)
{
    json_t *o = e->body != NULL ? json_loads(e->body, 0, NULL) : NULL;

    if (o != NULL && !json_is_object(o)) {
        json_decref(o);
        o = NULL;
    }
    return o != NULL ? o : json_null();
}

int
bundle_export(const bundle_export_args *a, json_t **summary_out, char *why, size_t why_len)
{
    ex_state s;
    proto_detail d = {{0}, {0}};
    json_t *manifest = NULL, *messages = json_array(), *files = json_array(),
           *custody = json_array(), *proofs = json_array(), *cards = json_array();
    const casebook_entry *request = NULL;
    uint8_t *roster_bytes = NULL, sig[PROTO_SIGNATURE_BYTES], *signed_buf = NULL;
    size_t roster_len = 0;
    char *text = NULL, t[32], hex[65], me_text[PROTO_ADDR_TEXT_MAX + 1], tmp[OUT_DIR_MAX + 32];
    bool made = false;
    int rc = EX_DATAERR;

    memset(&s, 0, sizeof(s));
    s.bundle_files = json_object();
    proto_addr_format(&a->me->addr, me_text, sizeof(me_text));
    /* Written beside out_dir, then renamed into place: a failed export leaves nothing. */
    if (strlen(a->out_dir) > OUT_DIR_MAX) {
        say(why, why_len, "--out: the path is longer than %u bytes", OUT_DIR_MAX);
        rc = EX_CANTCREAT;
        goto out;
    }
    snprintf(tmp, sizeof(tmp), "%.*s.partial-%ld", (int)OUT_DIR_MAX, a->out_dir, (long)getpid());
    if (!usable_out(a->out_dir)) {
        say(why, why_len, "--out %s: exists and is not an empty directory", a->out_dir);
        rc = EX_CANTCREAT;
        goto out;
    }
    if (proto_roster_load(a->roster_path, &s.roster, &d) != PROTO_OK ||
        read_all(a->roster_path, PROTO_ROSTER_TEXT_MAX, &roster_bytes, &roster_len) != 0) {
        say(why, why_len, "roster %s: %s", a->roster_path, d.text[0] ? d.text : strerror(errno));
        rc = EX_NOINPUT;
        goto out;
    }
    /* The messages: the request, and every message received (the evidence decoded). */
    for (size_t i = 0; i < a->messages->count; i++) {
        const casebook_entry *e = a->messages->entries[i];
        char why2[128];
        ex_msg *m;

        if (strcmp(e->kind, "mlat.request") == 0 && request == NULL)
            request = e;
        if (e->sent || strcmp(e->kind, "mlat.evidence") != 0)
            continue;
        if (e->raw == NULL) {
            say(why, why_len, "the casebook holds no envelope of evidence message %s",
                proto_id_format(e->id, hex));
            goto out;
        }
        m = realloc(s.evidence, (s.evidence_count + 1) * sizeof(*m));
        if (m == NULL) {
            say(why, why_len, "out of memory");
            rc = EX_SOFTWARE;
            goto out;
        }
        s.evidence = m;
        m = &s.evidence[s.evidence_count++];
        memset(m, 0, sizeof(*m));
        m->entry = e;
        m->env = malloc(sizeof(*m->env));
        if (m->env == NULL || proto_envelope_decode(e->raw, e->raw_len, m->env, &d) != PROTO_OK) {
            say(why, why_len, "evidence message %s: its envelope does not decode",
                proto_id_format(e->id, hex));
            goto out;
        }
        m->body = json_loads(e->body != NULL ? e->body : "", 0, NULL);
        if (m->body == NULL || !json_is_object(m->body) ||
            json_string_value(json_object_get(m->body, "schema")) == NULL ||
            strcmp(json_string_value(json_object_get(m->body, "schema")), "mlat.evidence/1") != 0) {
            snprintf(why2, sizeof(why2), "%s", "not an mlat.evidence/1 manifest");
            say(why, why_len, "evidence message %s: %s", proto_id_format(e->id, hex), why2);
            goto out;
        }
        if ((rc = ex_read_manifest(&s, s.evidence_count - 1, a->me, why, why_len)) != EX_OK)
            goto out;
        rc = EX_DATAERR;
    }
    if (s.evidence_count == 0) {
        say(why, why_len, "no evidence received for case %s yet", a->case_id);
        goto out;
    }
    for (size_t f = 0; f < s.file_count; f++) {
        for (uint64_t k = 0; k < s.files[f].chunks; k++) {
            if (!s.files[f].chunk[k].have) {
                say(why, why_len, "evidence file %s: chunk %llu of %llu has not been received yet",
                    s.files[f].name, (unsigned long long)k, (unsigned long long)s.files[f].chunks);
                goto out;
            }
        }
    }
    /* Custody: every entry verifies, and every file has one. */
    for (size_t i = 0; i < s.evidence_count; i++) {
        json_t *list = json_object_get(s.evidence[i].body, "custody"), *c;
        size_t k;

        json_array_foreach(list, k, c) {
            const char *file = json_string_value(json_object_get(c, "file"));

            if (bundle_custody_check(c, s.roster, why, why_len) != 0)
                goto out;
            for (size_t f = 0; f < s.file_count; f++) {
                if (file != NULL && strcmp(file, s.files[f].name) == 0) {
                    if (strcmp(json_string_value(json_object_get(c, "sha256")), s.files[f].sha256) != 0) {
                        say(why, why_len, "custody entry for %s names another SHA-256 than the file's",
                            file);
                        goto out;
                    }
                    s.files[f].custody = true;
                }
            }
            json_array_append(custody, c);
        }
    }
    for (size_t f = 0; f < s.file_count; f++) {
        if (!s.files[f].custody) {
            say(why, why_len, "evidence file %s has no chain-of-custody entry", s.files[f].name);
            goto out;
        }
    }
    /* Write: directories, files, envelopes, roster, proofs, then the signed manifest. */
    if ((rc = ex_make_dirs(tmp, why, why_len)) != EX_OK)
        goto out;
    made = true;
    for (size_t f = 0; f < s.file_count; f++) {
        json_t *hashes = json_array();
        char rel[BUNDLE_NAME_MAX + 8];

        if ((rc = ex_write_file(&s, &s.files[f], a->me, tmp, why, why_len)) != EX_OK) {
            json_decref(hashes);
            goto out;
        }
        for (uint64_t k = 0; k < s.files[f].chunks; k++)
            json_array_append_new(hashes, json_string(s.files[f].chunk[k].sha256));
        snprintf(rel, sizeof(rel), "files/%s", s.files[f].name);
        json_array_append_new(files, json_pack("{s:s, s:s, s:I, s:s, s:I, s:o}", "name",
                                               s.files[f].name, "path", rel, "size",
                                               (json_int_t)s.files[f].size, "sha256",
                                               s.files[f].sha256, "chunks",
                                               (json_int_t)s.files[f].chunks, "chunk_sha256s",
                                               hashes));
    }
    for (size_t i = 0; i < a->messages->count; i++) {
        const casebook_entry *e = a->messages->entries[i];
        char id[33], rel[64], rt[33];
        json_t *row;

        if (e->sent || e->raw == NULL)
            continue;
        proto_id_format(e->id, id);
        snprintf(rel, sizeof(rel), "envelopes/%s.env", id);
        if ((rc = ex_write_listed(&s, tmp, rel, e->raw, e->raw_len, why, why_len)) != EX_OK)
            goto out;
        row = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", id, "kind", e->kind, "sender",
                        e->peer, "case", e->case_id, "created", proto_time_format(e->created_ms, t),
                        "envelope", rel, "content", body_json(e));
        if (e->has_reply_to)
            json_object_set_new(row, "in_reply_to", json_string(proto_id_format(e->in_reply_to, rt)));
        json_object_set_new(row, "envelope_sha256", json_string(sha256_hex(e->raw, e->raw_len, hex)));
        json_array_append_new(messages, row);
        {
            bool known = false;
            size_t k;
            json_t *c;

            json_array_foreach(cards, k, c) known = known || strcmp(json_string_value(c), e->peer) == 0;
            if (!known)
                json_array_append_new(cards, json_string(e->peer));
        }
    }
    if (a->audit_data != NULL && (rc = ex_proofs(&s, a, tmp, proofs, why, why_len)) != EX_OK)
        goto out;
    if ((rc = ex_write_listed(&s, tmp, "roster", roster_bytes, roster_len, why, why_len)) !=
        EX_OK)
        goto out;
    json_array_append_new(cards, json_string(me_text));
    {
        size_t k;
        json_t *p;

        json_array_foreach(proofs, k, p) {
            json_array_append(cards, json_object_get(p, "broker"));
            break;
        }
    }
    manifest = json_object();
    json_object_set_new(manifest, "schema", json_string(BUNDLE_SCHEMA));
    json_object_set_new(manifest, "case", json_string(a->case_id));
    json_object_set_new(manifest, "exported", json_string(proto_time_format(a->now_ms, t)));
    json_object_set_new(manifest, "exporter", json_string(me_text));
    json_object_set_new(manifest, "request", request != NULL ? body_json(request) : json_null());
    if (request != NULL) {
        char id[33];

        json_object_set_new(manifest, "request_id", json_string(proto_id_format(request->id, id)));
    }
    json_object_set(manifest, "files", files);
    json_object_set(manifest, "custody", custody);
    json_object_set(manifest, "messages", messages);
    json_object_set(manifest, "proofs", proofs);
    json_object_set_new(manifest, "roster",
                        json_pack("{s:s, s:s, s:O}", "path", "roster", "sha256",
                                  sha256_hex(roster_bytes, roster_len, hex), "cards", cards));
    json_object_set(manifest, "bundle_files", s.bundle_files);
    text = json_dumps(manifest, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL) {
        say(why, why_len, "out of memory");
        rc = EX_SOFTWARE;
        goto out;
    }
    {
        size_t clen = strlen(BUNDLE_SIGN_CONTEXT) + 1, tlen = strlen(text);
        char path[4096], sig_hex[2 * PROTO_SIGNATURE_BYTES + 2];

        signed_buf = malloc(clen + tlen);
        if (signed_buf == NULL) {
            say(why, why_len, "out of memory");
            rc = EX_SOFTWARE;
            goto out;
        }
        memcpy(signed_buf, BUNDLE_SIGN_CONTEXT, clen);
        memcpy(signed_buf + clen, text, tlen);
        proto_sign_detached(a->me, signed_buf, clen + tlen, sig);
        snprintf(path, sizeof(path), "%s/manifest.json", tmp);
        if (write_new(path, text, tlen, why, why_len) != 0) {
            rc = EX_CANTCREAT;
            goto out;
        }
        proto_hex(sig, sizeof(sig), sig_hex);
        strcat(sig_hex, "\n");
        snprintf(path, sizeof(path), "%s/manifest.sig", tmp);
        if (write_new(path, sig_hex, strlen(sig_hex), why, why_len) != 0) {
            rc = EX_CANTCREAT;
            goto out;
        }
    }
    /* An empty out_dir is replaced; a missing one is made. */
    if (rename(tmp, a->out_dir) != 0) {
        say(why, why_len, "cannot move the bundle into %s: %s", a->out_dir, strerror(errno));
        rc = EX_CANTCREAT;
        goto out;
    }
    made = false;
    if (summary_out != NULL)
        *summary_out = json_pack("{s:s, s:s, s:I, s:I, s:I}", "dir", a->out_dir, "case", a->case_id,
                                 "files", (json_int_t)s.file_count, "messages",
                                 (json_int_t)json_array_size(messages), "proofs",
                                 (json_int_t)json_array_size(proofs));
    rc = EX_OK;
out:
    if (made)
        ex_remove(tmp);
    free(signed_buf);
    free(text);
    free(roster_bytes);
    json_decref(manifest);
    json_decref(messages);
    json_decref(files);
    json_decref(custody);
    json_decref(proofs);
    json_decref(cards);
    ex_free(&s);
    return rc;
}

/* ---- Verification (libliaison) ----------------------------------------------------------- */

int
bundle_verify(const char *dir, const char *trusted_roster, json_t **report_out)
{
    liaison_bundle_report *r = NULL;
    char *text = NULL;
    liaison_err err = liaison_bundle_verify(dir, trusted_roster, &r);
    int rc;

    if (err == LIAISON_ERR_NOT_FOUND || err == LIAISON_ERR_ROSTER) {
        *report_out = json_pack("{s:b, s:s}", "ok", 0, "error",
                                err == LIAISON_ERR_NOT_FOUND ? "no such bundle directory"
                                                             : "the trusted roster cannot be read");
        return EX_NOINPUT;
    }
    if (err != LIAISON_OK && err != LIAISON_ERR_BUNDLE) {
        *report_out = json_pack("{s:b, s:s}", "ok", 0, "error", liaison_strerror(err));
        return EX_SOFTWARE;
    }
    if (liaison_bundle_report_json(r, &text) != LIAISON_OK) {
        liaison_bundle_report_destroy(&r);
        *report_out = json_pack("{s:b, s:s}", "ok", 0, "error", "out of memory");
        return EX_SOFTWARE;
    }
    rc = liaison_bundle_report_ok(r) ? 0 : 1;
    *report_out = json_loads(text, 0, NULL);
    free(text);
    liaison_bundle_report_destroy(&r);
    return *report_out != NULL ? rc : EX_SOFTWARE;
}
