/* MLAT evidence: signed custody entries, bundle export from the casebook, offline bundle verification. */
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
#define ENVELOPE_FILE_MAX (PROTO_ENVELOPE_MAX + 1u) /* bytes of an envelope file */
#define JSON_FILE_MAX (64u << 20)      /* bytes of manifest.json or a proof file */
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
time_text(uint64_t ms, char buf[32])
{
    time_t t = (time_t)(ms / 1000u);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static char *
sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    uint8_t h[PROTO_HASH_BYTES];

    proto_sha256(data, len, h);
    return proto_hex(h, sizeof(h), out);
}

/* ---- Custody entries ------------------------------------------------------------ */

int
bundle_custody_input(const char *time, const char *actor, const char *action, const char *file,
                     const char *sha256_hex, uint8_t **buf_out, size_t *len_out)
{
    const char *parts[] = {BUNDLE_CUSTODY_CONTEXT, time, actor, action, file, sha256_hex};
    size_t len = 0, off = 0;
    uint8_t *buf;

    for (size_t i = 0; i < 6; i++)
        len += strlen(parts[i]) + (i < 5 ? 1 : 0);
    buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        return -1;
    for (size_t i = 0; i < 6; i++) {
        size_t n = strlen(parts[i]);

        memcpy(buf + off, parts[i], n);
        off += n;
        if (i < 5)
            buf[off++] = 0;
    }
    *buf_out = buf;
    *len_out = len;
    return 0;
}

json_t *
bundle_custody_new(const proto_identity *signer, uint64_t time_ms, const char *action,
                   const char *file, const char *sha256_hex)
{
    char t[32], actor[PROTO_ADDR_TEXT_MAX + 1], sig_hex[2 * PROTO_SIGNATURE_BYTES + 1];
    uint8_t sig[PROTO_SIGNATURE_BYTES], *input = NULL;
    size_t len;

    time_text(time_ms, t);
    proto_addr_format(&signer->addr, actor, sizeof(actor));
    if (bundle_custody_input(t, actor, action, file, sha256_hex, &input, &len) != 0)
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
    const char *f[6];
    static const char *const names[] = {"time", "actor", "action", "file", "sha256", "signature"};
    const proto_roster_entry *card;
    uint8_t sig[PROTO_SIGNATURE_BYTES], *input = NULL;
    size_t len;
    proto_err err;

    for (size_t i = 0; i < 6; i++) {
        f[i] = json_string_value(json_object_get(entry, names[i]));
        if (f[i] == NULL) {
            say(why, why_len, "a custody entry has no \"%s\"", names[i]);
            return -1;
        }
    }
    if ((card = card_of(roster, f[1], why, why_len)) == NULL)
        return -1;
    if (strlen(f[5]) != 2 * PROTO_SIGNATURE_BYTES ||
        proto_unhex(f[5], sig, sizeof(sig)) != PROTO_OK) {
        say(why, why_len, "custody entry '%s' of %s: the signature is not 128 hex digits", f[2], f[3]);
        return -1;
    }
    if (bundle_custody_input(f[0], f[1], f[2], f[3], f[4], &input, &len) != 0) {
        say(why, why_len, "out of memory");
        return -1;
    }
    err = proto_verify_detached(card->card.sign_public, input, len, sig);
    free(input);
    if (err != PROTO_OK) {
        say(why, why_len, "custody entry '%s' of %s by %s: the signature does not verify", f[2],
            f[3], f[1]);
        return -1;
    }
    return 0;
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

bool
bundle_name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n == 0 || n > BUNDLE_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '/' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    }
    return true;
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

        if (!bundle_name_ok(name) || !is_hex64(sha) || !is_hex64(csha) || size < 0 ||
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
        if (m->env->portions[portion].state != PROTO_PORTION_PRESENT ||
            !proto_envelope_has_seal(m->env, (size_t)portion, &me->addr)) {
            say(why, why_len, "evidence file %s: chunk %lld was withheld or is not readable", name,
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
                a->audit_data, (unsigned long long)head.tree_size, time_text(head.time_ms, t), id);
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
                        e->peer, "case", e->case_id, "created", time_text(e->created_ms, t),
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
    json_object_set_new(manifest, "exported", json_string(time_text(a->now_ms, t)));
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

/* ---- Verification ------------------------------------------------------------------------ */

/* The state of one verification. */
typedef struct vf_state {
    const char *dir;               /* the bundle */
    json_t *failures;              /* [{file, message}] */
    json_t *warnings;              /* [text] */
    proto_roster *roster;          /* the bundle's roster */
    json_t *manifest;              /* manifest.json, parsed */
    size_t envelopes;              /* signatures that verified */
    size_t files;                  /* evidence files that checked */
    size_t chunks;                 /* chunks that checked */
    size_t custody;                /* custody signatures that verified */
    size_t proofs;                 /* inclusion proofs that verified */
} vf_state;

static void
vf_fail(vf_state *v, const char *file, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
vf_fail(vf_state *v, const char *file, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    json_array_append_new(v->failures, json_pack("{s:s, s:s}", "file", file, "message", text));
}

static void
vf_path(const vf_state *v, const char *rel, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", v->dir, rel);
}

/* True if rel is a path the bundle may list: roster, or files|envelopes|proofs/<name>. */
static bool
listed_path_ok(const char *rel)
{
    static const char *const dirs[] = {"files/", "envelopes/", "proofs/"};

    if (strcmp(rel, "roster") == 0)
        return true;
    for (size_t i = 0; i < 3; i++) {
        if (strncmp(rel, dirs[i], strlen(dirs[i])) == 0 && bundle_name_ok(rel + strlen(dirs[i])))
            return true;
    }
    return false;
}

/* Every listed file is there with its hash, and nothing else is. */
static void
vf_listed(vf_state *v)
{
    static const char *const dirs[] = {"files", "envelopes", "proofs"};
    json_t *listed = json_object_get(v->manifest, "bundle_files"), *h;
    const char *rel;
    DIR *d;
    struct dirent *de;
    char path[4096];

    if (!json_is_object(listed)) {
        vf_fail(v, "manifest.json", "it lists no bundle_files");
        return;
    }
    json_object_foreach(listed, rel, h) {
        char hex[65];
        uint64_t size;
        char why[256];

        if (!listed_path_ok(rel) || !json_is_string(h)) {
            vf_fail(v, "manifest.json", "bundle_files names an unusable path '%s'", rel);
            continue;
        }
        vf_path(v, rel, path, sizeof(path));
        if (bundle_file_sha256(path, &size, hex, NULL, NULL, why, sizeof(why)) != 0)
            vf_fail(v, rel, "missing or unreadable: %s", why);
        else if (strcmp(hex, json_string_value(h)) != 0)
            vf_fail(v, rel, "its SHA-256 %s is not the %s that manifest.json lists (the file "
                            "was changed)", hex, json_string_value(h));
    }
    /* Nothing unlisted. */
    d = opendir(v->dir);
    while (d != NULL && (de = readdir(d)) != NULL) {
        bool sub = false;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
            strcmp(de->d_name, "manifest.json") == 0 || strcmp(de->d_name, "manifest.sig") == 0)
            continue;
        for (size_t i = 0; i < 3; i++)
            sub = sub || strcmp(de->d_name, dirs[i]) == 0;
        if (!sub && json_object_get(listed, de->d_name) == NULL)
            vf_fail(v, de->d_name, "not listed in manifest.json");
    }
    if (d != NULL)
        closedir(d);
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", v->dir, dirs[i]);
        d = opendir(path);
        while (d != NULL && (de = readdir(d)) != NULL) {
            char rel2[600];

            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            snprintf(rel2, sizeof(rel2), "%s/%s", dirs[i], de->d_name);
            if (json_object_get(listed, rel2) == NULL)
                vf_fail(v, rel2, "not listed in manifest.json");
        }
        if (d != NULL)
            closedir(d);
    }
}

/* Loads manifest.json and checks the exporter's signature over it. */
static int
vf_manifest(vf_state *v)
{
    uint8_t *text = NULL, *sig_text = NULL, *buf = NULL, sig[PROTO_SIGNATURE_BYTES];
    size_t len = 0, sig_len = 0, clen = strlen(BUNDLE_SIGN_CONTEXT) + 1;
    char path[4096], why[256];
    const char *exporter, *schema;
    const proto_roster_entry *card;
    json_error_t jerr;
    int rc = -1;

    vf_path(v, "manifest.json", path, sizeof(path));
    if (read_all(path, JSON_FILE_MAX, &text, &len) != 0) {
        vf_fail(v, "manifest.json", "cannot be read: %s", strerror(errno));
        return -1;
    }
    v->manifest = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v->manifest == NULL || !json_is_object(v->manifest)) {
        vf_fail(v, "manifest.json", "is not a JSON object (line %d: %s)", jerr.line, jerr.text);
        goto out;
    }
    schema = json_string_value(json_object_get(v->manifest, "schema"));
    if (schema == NULL || strcmp(schema, BUNDLE_SCHEMA) != 0) {
        vf_fail(v, "manifest.json", "its schema is not %s", BUNDLE_SCHEMA);
        goto out;
    }
    exporter = json_string_value(json_object_get(v->manifest, "exporter"));
    if ((card = card_of(v->roster, exporter, why, sizeof(why))) == NULL) {
        vf_fail(v, "manifest.json", "the exporter: %s", why);
        goto out;
    }
    vf_path(v, "manifest.sig", path, sizeof(path));
    if (read_all(path, 1024, &sig_text, &sig_len) != 0) {
        vf_fail(v, "manifest.sig", "cannot be read: %s", strerror(errno));
        goto out;
    }
    while (sig_len > 0 && (sig_text[sig_len - 1] == '\n' || sig_text[sig_len - 1] == '\r'))
        sig_text[--sig_len] = 0;
    if (sig_len != 2 * PROTO_SIGNATURE_BYTES ||
        proto_unhex((const char *)sig_text, sig, sizeof(sig)) != PROTO_OK) {
        vf_fail(v, "manifest.sig", "is not 128 hex digits");
        goto out;
    }
    buf = malloc(clen + len);
    if (buf == NULL)
        goto out;
    memcpy(buf, BUNDLE_SIGN_CONTEXT, clen);
    memcpy(buf + clen, text, len);
    if (proto_verify_detached(card->card.sign_public, buf, clen + len, sig) != PROTO_OK) {
        vf_fail(v, "manifest.json", "the signature of its exporter %s (manifest.sig) does not "
                                    "verify: manifest.json or manifest.sig was changed", exporter);
        goto out;
    }
    rc = 0;
out:
    free(buf);
    free(text);
    free(sig_text);
    return rc;
}

/* One envelope of the bundle, decoded. */
typedef struct vf_env {
    const char *id;                /* hex id (borrowed from the manifest) */
    const char *rel;               /* envelopes/<id>.env */
    uint8_t *bytes;                /* the file (owned) */
    size_t len;                    /* its length */
    proto_envelope *env;           /* decoded (owned), NULL if it did not decode */
    char sha256[65];               /* hex of bytes */
} vf_env;

static int
vf_envelopes(vf_state *v, vf_env *envs, size_t count)
{
    json_t *messages = json_object_get(v->manifest, "messages"), *m;
    const char *case_id = json_string_value(json_object_get(v->manifest, "case"));
    size_t i;

    json_array_foreach(messages, i, m) {
        vf_env *e = &envs[i];
        const char *kind = json_string_value(json_object_get(m, "kind"));
        char path[4096], why[256], sender[PROTO_ADDR_TEXT_MAX + 1], idhex[33];
        const proto_roster_entry *card;

        if (i >= count)
            break;
        e->id = json_string_value(json_object_get(m, "id"));
        e->rel = json_string_value(json_object_get(m, "envelope"));
        if (e->id == NULL || e->rel == NULL || kind == NULL || !listed_path_ok(e->rel)) {
            vf_fail(v, "manifest.json", "message %zu lacks an id, kind or envelope path", i);
            continue;
        }
        vf_path(v, e->rel, path, sizeof(path));
        if (read_all(path, ENVELOPE_FILE_MAX, &e->bytes, &e->len) != 0) {
            vf_fail(v, e->rel, "cannot be read: %s", strerror(errno));
            continue;
        }
        sha256_hex(e->bytes, e->len, e->sha256);
        e->env = malloc(sizeof(*e->env));
        if (e->env == NULL || proto_envelope_decode(e->bytes, e->len, e->env, NULL) != PROTO_OK) {
            vf_fail(v, e->rel, "does not decode as a Liaison envelope");
            free(e->env);
            e->env = NULL;
            continue;
        }
        proto_id_format(e->env->id, idhex);
        proto_addr_format(&e->env->sender, sender, sizeof(sender));
        if (strcmp(idhex, e->id) != 0)
            vf_fail(v, e->rel, "holds message %s, not %s", idhex, e->id);
        if (strcmp(e->env->kind, kind) != 0)
            vf_fail(v, e->rel, "is a %s, not the %s manifest.json says", e->env->kind, kind);
        if (case_id == NULL || strcmp(e->env->case_id, case_id) != 0)
            vf_fail(v, e->rel, "belongs to case '%s', not '%s'", e->env->case_id,
                    case_id != NULL ? case_id : "");
        if ((card = card_of(v->roster, sender, why, sizeof(why))) == NULL) {
            vf_fail(v, e->rel, "its sender: %s", why);
            continue;
        }
        if (proto_envelope_verify(e->env, card->card.sign_public) != PROTO_OK) {
            vf_fail(v, e->rel, "the signature of its sender %s does not verify", sender);
            continue;
        }
        v->envelopes++;
    }
    return 0;
}

/* Each evidence file is its chunks, as the signed envelopes and the manifests say. */
static void
vf_files(vf_state *v, vf_env *envs, size_t env_count)
{
    json_t *files = json_object_get(v->manifest, "files"), *f;
    json_t *messages = json_object_get(v->manifest, "messages");
    size_t i;

    if (!json_is_array(files) || json_array_size(files) == 0) {
        vf_fail(v, "manifest.json", "lists no evidence files");
        return;
    }
    json_array_foreach(files, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *rel = json_string_value(json_object_get(f, "path"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        json_int_t size = json_integer_value(json_object_get(f, "size"));
        json_int_t chunks = json_integer_value(json_object_get(f, "chunks"));
        json_t *hashes = json_object_get(f, "chunk_sha256s");
        size_t *len = NULL, mi;
        bool *seen = NULL, ok = true;
        json_t *m;
        char path[4096];
        FILE *fp = NULL;
        uint64_t off = 0;
        crypto_hash_sha256_state st;
        uint8_t h[PROTO_HASH_BYTES], *buf = NULL;
        char hex[65], expect[80];

        if (!bundle_name_ok(name) || rel == NULL || strncmp(rel, "files/", 6) != 0 ||
            strcmp(rel + 6, name) != 0 || !is_hex64(sha) || size < 0 || chunks < 1 ||
            chunks > (json_int_t)CHUNKS_MAX || !json_is_array(hashes) ||
            json_array_size(hashes) != (size_t)chunks) {
            vf_fail(v, "manifest.json", "evidence file entry %zu is malformed", i);
            continue;
        }
        len = calloc((size_t)chunks, sizeof(*len));
        seen = calloc((size_t)chunks, sizeof(*seen));
        if (len == NULL || seen == NULL) {
            vf_fail(v, rel, "out of memory");
            goto next;
        }
        /* Where each chunk travelled: the evidence manifests, as decrypted. */
        json_array_foreach(messages, mi, m) {
            json_t *content = json_object_get(m, "content"), *fe;
            size_t k;

            if (mi >= env_count || json_object_get(content, "files") == NULL)
                continue;
            json_array_foreach(json_object_get(content, "files"), k, fe) {
                const char *n2 = json_string_value(json_object_get(fe, "name"));
                json_int_t chunk = json_integer_value(json_object_get(fe, "chunk"));
                json_int_t portion = json_integer_value(json_object_get(fe, "portion"));
                const char *csha = json_string_value(json_object_get(fe, "chunk_sha256"));
                const proto_envelope *env = envs[mi].env;

                if (n2 == NULL || strcmp(n2, name) != 0)
                    continue;
                if (chunk < 0 || chunk >= chunks || csha == NULL ||
                    json_string_value(json_array_get(hashes, (size_t)chunk)) == NULL ||
                    strcmp(csha, json_string_value(json_array_get(hashes, (size_t)chunk))) != 0 ||
                    json_integer_value(json_object_get(fe, "size")) != size ||
                    json_integer_value(json_object_get(fe, "chunks")) != chunks ||
                    json_string_value(json_object_get(fe, "sha256")) == NULL ||
                    strcmp(json_string_value(json_object_get(fe, "sha256")), sha) != 0) {
                    vf_fail(v, "manifest.json", "%s: message %s describes chunk %lld otherwise "
                                                "than the file list", name,
                            envs[mi].id != NULL ? envs[mi].id : "?", (long long)chunk);
                    ok = false;
                    continue;
                }
                if (seen[chunk]) {
                    vf_fail(v, "manifest.json", "%s: chunk %lld is listed twice", name, (long long)chunk);
                    ok = false;
                    continue;
                }
                if (env == NULL || portion < 1 || portion >= (json_int_t)env->portion_count ||
                    env->portions[portion].state != PROTO_PORTION_PRESENT) {
                    vf_fail(v, envs[mi].rel != NULL ? envs[mi].rel : "manifest.json",
                            "%s: chunk %lld is not a present portion %lld of this envelope", name,
                            (long long)chunk, (long long)portion);
                    ok = false;
                    continue;
                }
                seen[chunk] = true;
                len[chunk] = proto_envelope_plain_len(env, (size_t)portion);
            }
        }
        for (json_int_t k = 0; k < chunks; k++) {
            if (!seen[k]) {
                vf_fail(v, rel, "chunk %lld of %lld is in no envelope of the bundle", (long long)k,
                        (long long)chunks);
                ok = false;
            }
        }
        if (!ok)
            goto next;
        /* The file: each chunk's bytes hash as listed, and the whole as the manifest says. */
        vf_path(v, rel, path, sizeof(path));
        fp = fopen(path, "rb");
        buf = malloc(PROTO_PORTION_MAX);
        if (fp == NULL || buf == NULL) {
            vf_fail(v, rel, "cannot be read: %s", strerror(fp == NULL ? errno : ENOMEM));
            goto next;
        }
        crypto_hash_sha256_init(&st);
        for (json_int_t k = 0; k < chunks; k++) {
            size_t got = len[k] > PROTO_PORTION_MAX ? 0 : fread(buf, 1, len[k], fp);

            if (got != len[k]) {
                vf_fail(v, rel, "is shorter than its chunks (chunk %lld at byte %llu)", (long long)k,
                        (unsigned long long)off);
                goto next;
            }
            crypto_hash_sha256_update(&st, buf, got);
            snprintf(expect, sizeof(expect), "%s", json_string_value(json_array_get(hashes, (size_t)k)));
            if (strcmp(sha256_hex(buf, got, hex), expect) != 0) {
                vf_fail(v, rel, "bytes %llu..%llu (chunk %lld) do not hash to the chunk's SHA-256",
                        (unsigned long long)off, (unsigned long long)(off + got), (long long)k);
                goto next;
            }
            off += got;
            v->chunks++;
        }
        if (fgetc(fp) != EOF) {
            vf_fail(v, rel, "is longer than its chunks");
            goto next;
        }
        crypto_hash_sha256_final(&st, h);
        if ((json_int_t)off != size || strcmp(proto_hex(h, sizeof(h), hex), sha) != 0) {
            vf_fail(v, rel, "does not match its size or SHA-256 in manifest.json");
            goto next;
        }
        v->files++;
    next:
        if (fp != NULL)
            fclose(fp);
        free(buf);
        free(len);
        free(seen);
    }
}

/* Every custody entry verifies and names a file of the bundle with its hash. */
static void
vf_custody(vf_state *v)
{
    json_t *files = json_object_get(v->manifest, "files"), *f;
    json_t *messages = json_object_get(v->manifest, "messages"), *m;
    size_t i;

    json_array_foreach(files, i, f) {
        const char *name = json_string_value(json_object_get(f, "name"));
        const char *sha = json_string_value(json_object_get(f, "sha256"));
        size_t entries = 0, mi;

        if (name == NULL || sha == NULL)
            continue;
        json_array_foreach(messages, mi, m) {
            json_t *list = json_object_get(json_object_get(m, "content"), "custody"), *c;
            size_t k;

            json_array_foreach(list, k, c) {
                const char *cf = json_string_value(json_object_get(c, "file"));
                const char *cs = json_string_value(json_object_get(c, "sha256"));
                char why[256];

                if (cf == NULL || strcmp(cf, name) != 0)
                    continue;
                entries++;
                if (cs == NULL || strcmp(cs, sha) != 0) {
                    vf_fail(v, "manifest.json", "a custody entry of %s names another SHA-256", name);
                    continue;
                }
                if (bundle_custody_check(c, v->roster, why, sizeof(why)) != 0) {
                    vf_fail(v, "manifest.json", "%s", why);
                    continue;
                }
                v->custody++;
            }
        }
        if (entries == 0)
            vf_fail(v, "manifest.json", "evidence file %s has no chain-of-custody entry", name);
    }
}

/* Every proof leads from records naming its message to a tree head its broker signed. */
static void
vf_proofs(vf_state *v, vf_env *envs, size_t env_count)
{
    json_t *proofs = json_object_get(v->manifest, "proofs"), *p;
    json_t *messages = json_object_get(v->manifest, "messages"), *m;
    size_t i, mi;

    if (!json_is_array(proofs) || json_array_size(proofs) == 0) {
        json_array_append_new(v->warnings,
                              json_string("the bundle holds no audit inclusion proofs (exported "
                                          "without --audit-data)"));
        return;
    }
    /* Each evidence message has one. */
    json_array_foreach(messages, mi, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        const char *kind = json_string_value(json_object_get(m, "kind"));
        bool found = false;

        if (kind == NULL || strcmp(kind, "mlat.evidence") != 0)
            continue;
        json_array_foreach(proofs, i, p) {
            const char *pm = json_string_value(json_object_get(p, "message"));

            found = found || (pm != NULL && id != NULL && strcmp(pm, id) == 0);
        }
        if (!found)
            vf_fail(v, "manifest.json", "evidence message %s has no audit proof", id != NULL ? id : "?");
    }
    json_array_foreach(proofs, i, p) {
        const char *rel = json_string_value(json_object_get(p, "path"));
        const char *id = json_string_value(json_object_get(p, "message"));
        char path[4096], why[256];
        uint8_t *text = NULL, msg_id[PROTO_ID_BYTES];
        size_t len = 0, k;
        json_t *j = NULL, *th, *rec;
        const proto_roster_entry *card;
        store_tree_head head;
        const vf_env *env = NULL;
        bool hash_match = false;

        if (rel == NULL || id == NULL || !listed_path_ok(rel) || strncmp(rel, "proofs/", 7) != 0 ||
            proto_id_parse(id, msg_id) != PROTO_OK) {
            vf_fail(v, "manifest.json", "proof entry %zu is malformed", i);
            continue;
        }
        for (size_t e = 0; e < env_count; e++) {
            if (envs[e].id != NULL && strcmp(envs[e].id, id) == 0)
                env = &envs[e];
        }
        vf_path(v, rel, path, sizeof(path));
        if (read_all(path, JSON_FILE_MAX, &text, &len) != 0 ||
            (j = json_loadb((const char *)text, len, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
            vf_fail(v, rel, "cannot be read as JSON");
            goto next;
        }
        if (json_string_value(json_object_get(j, "message")) == NULL ||
            strcmp(json_string_value(json_object_get(j, "message")), id) != 0) {
            vf_fail(v, rel, "is not the proof of message %s", id);
            goto next;
        }
        if ((card = card_of(v->roster, json_string_value(json_object_get(j, "broker")), why,
                            sizeof(why))) == NULL ||
            card->card.addr.kind != PROTO_ADDR_BROKER) {
            vf_fail(v, rel, "its broker: %s", card == NULL ? why : "is not a broker");
            goto next;
        }
        th = json_object_get(j, "tree_head");
        memset(&head, 0, sizeof(head));
        head.tree_size = (uint64_t)json_integer_value(json_object_get(th, "tree_size"));
        head.time_ms = (uint64_t)json_integer_value(json_object_get(th, "time_ms"));
        if (json_string_value(json_object_get(th, "root")) == NULL ||
            json_string_value(json_object_get(th, "signature")) == NULL ||
            strlen(json_string_value(json_object_get(th, "root"))) != 64 ||
            strlen(json_string_value(json_object_get(th, "signature"))) != 128 ||
            proto_unhex(json_string_value(json_object_get(th, "root")), head.root, 32) != PROTO_OK ||
            proto_unhex(json_string_value(json_object_get(th, "signature")), head.signature, 64) !=
                PROTO_OK) {
            vf_fail(v, rel, "its tree head is malformed");
            goto next;
        }
        if (store_tree_head_verify(&head, card->card.sign_public) != STORE_OK) {
            vf_fail(v, rel, "the tree head (size %llu) is not signed by broker %s",
                    (unsigned long long)head.tree_size, json_string_value(json_object_get(j, "broker")));
            goto next;
        }
        if (!json_is_array(json_object_get(j, "records")) ||
            json_array_size(json_object_get(j, "records")) == 0) {
            vf_fail(v, rel, "holds no audit record");
            goto next;
        }
        json_array_foreach(json_object_get(j, "records"), k, rec) {
            const char *rhex = json_string_value(json_object_get(rec, "record"));
            json_t *incl = json_object_get(rec, "inclusion"), *x;
            uint64_t leaf = (uint64_t)json_integer_value(json_object_get(rec, "leaf_index"));
            uint8_t raw[STORE_AUDIT_RECORD_MAX], lh[PROTO_HASH_BYTES];
            uint8_t (*hashes)[PROTO_HASH_BYTES] = NULL;
            size_t n = rhex != NULL ? strlen(rhex) / 2 : 0, q, count = json_array_size(incl);
            store_audit_record r;
            bool ok = true;

            if (rhex == NULL || n == 0 || n > sizeof(raw) || strlen(rhex) != 2 * n ||
                proto_unhex(rhex, raw, n) != PROTO_OK ||
                store_audit_decode(raw, n, &r, NULL) != STORE_OK) {
                vf_fail(v, rel, "record %zu does not decode as an audit record", k);
                continue;
            }
            if (memcmp(r.id, msg_id, PROTO_ID_BYTES) != 0) {
                vf_fail(v, rel, "record %zu (leaf %llu) names another message", k,
                        (unsigned long long)leaf);
                continue;
            }
            if (env != NULL && env->bytes != NULL) {
                uint8_t eh[PROTO_HASH_BYTES];

                proto_sha256(env->bytes, env->len, eh);
                hash_match = hash_match || memcmp(eh, r.envelope_hash, PROTO_HASH_BYTES) == 0;
            }
            hashes = calloc(count > 0 ? count : 1, sizeof(*hashes));
            if (hashes == NULL || count > STORE_PROOF_MAX) {
                free(hashes);
                vf_fail(v, rel, "record %zu: the proof is too long", k);
                continue;
            }
            json_array_foreach(incl, q, x) {
                const char *hx = json_string_value(x);

                ok = ok && hx != NULL && strlen(hx) == 64 && proto_unhex(hx, hashes[q], 32) == PROTO_OK;
            }
            store_merkle_leaf_hash(raw, n, lh);
            if (!ok || store_merkle_verify_inclusion(leaf, head.tree_size, lh,
                                                     (const uint8_t(*)[PROTO_HASH_BYTES])hashes,
                                                     count, head.root) != STORE_OK)
                vf_fail(v, rel, "record %zu (leaf %llu, %s): the inclusion proof does not lead to "
                                "the signed root", k, (unsigned long long)leaf,
                        store_audit_event_name(r.event) != NULL ? store_audit_event_name(r.event) : "?");
            else
                v->proofs++;
            free(hashes);
        }
        if (!hash_match)
            vf_fail(v, rel, "no audit record carries the SHA-256 of %s",
                    env != NULL && env->rel != NULL ? env->rel : "the message's envelope");
    next:
        json_decref(j);
        free(text);
    }
}

/* With a trusted roster: each card the bundle relies on is the same there. */
static void
vf_trusted(vf_state *v, const proto_roster *trusted)
{
    for (size_t k = 0; k < proto_roster_count(v->roster); k++) {
        const proto_roster_entry *e = proto_roster_at(v->roster, k);
        const proto_roster_entry *t;
        char addr[PROTO_ADDR_TEXT_MAX + 1];

        if (e->revoked)
            continue;
        proto_addr_format(&e->card.addr, addr, sizeof(addr));
        t = proto_roster_find(trusted, &e->card.addr);
        if (t == NULL || t->revoked ||
            sodium_memcmp(t->card.sign_public, e->card.sign_public, PROTO_SIGN_PUBLIC_BYTES) != 0)
            vf_fail(v, "roster", "the card of %s is %s in the trusted roster", addr,
                    t == NULL ? "missing" : t->revoked ? "revoked" : "different");
    }
}

int
bundle_verify(const char *dir, const char *trusted_roster, json_t **report_out)
{
    vf_state v;
    proto_roster *trusted = NULL;
    proto_detail d = {{0}, {0}};
    vf_env *envs = NULL;
    size_t env_count = 0;
    uint8_t *roster_text = NULL;
    size_t roster_len = 0;
    char path[4096];
    struct stat sb;
    int rc;

    memset(&v, 0, sizeof(v));
    v.dir = dir;
    v.failures = json_array();
    v.warnings = json_array();
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        json_decref(v.failures);
        json_decref(v.warnings);
        *report_out = json_pack("{s:b, s:s}", "ok", 0, "error", "no such bundle directory");
        return EX_NOINPUT;
    }
    if (trusted_roster != NULL && proto_roster_load(trusted_roster, &trusted, &d) != PROTO_OK) {
        json_decref(v.failures);
        json_decref(v.warnings);
        *report_out = json_pack("{s:b, s:s}", "ok", 0, "error", "the trusted roster cannot be read");
        return EX_NOINPUT;
    }
    vf_path(&v, "roster", path, sizeof(path));
    if (read_all(path, PROTO_ROSTER_TEXT_MAX, &roster_text, &roster_len) != 0 ||
        proto_roster_parse((const char *)roster_text, roster_len, &v.roster, &d) != PROTO_OK) {
        vf_fail(&v, "roster", "cannot be read as a roster: %s", d.text[0] ? d.text : strerror(errno));
        goto done;
    }
    if (trusted != NULL)
        vf_trusted(&v, trusted);
    if (vf_manifest(&v) != 0)
        goto done;
    /* The roster's hash is checked with every listed file; it must be listed. */
    if (json_object_get(json_object_get(v.manifest, "bundle_files"), "roster") == NULL)
        vf_fail(&v, "manifest.json", "bundle_files does not list the roster");
    vf_listed(&v);
    env_count = json_array_size(json_object_get(v.manifest, "messages"));
    envs = calloc(env_count > 0 ? env_count : 1, sizeof(*envs));
    if (envs == NULL) {
        vf_fail(&v, "manifest.json", "out of memory");
        goto done;
    }
    vf_envelopes(&v, envs, env_count);
    vf_files(&v, envs, env_count);
    vf_custody(&v);
    vf_proofs(&v, envs, env_count);
done:
    rc = json_array_size(v.failures) == 0 ? 0 : 1;
    *report_out = json_pack("{s:b, s:s?, s:s, s:{s:I, s:I, s:I, s:I, s:I}, s:O, s:O}", "ok", rc == 0,
                            "case",
                            v.manifest != NULL ? json_string_value(json_object_get(v.manifest, "case"))
                                               : NULL,
                            "dir", dir, "checked", "envelopes", (json_int_t)v.envelopes, "files",
                            (json_int_t)v.files, "chunks", (json_int_t)v.chunks, "custody",
                            (json_int_t)v.custody, "proofs", (json_int_t)v.proofs, "failures",
                            v.failures, "warnings", v.warnings);
    for (size_t i = 0; i < env_count && envs != NULL; i++) {
        free(envs[i].bytes);
        free(envs[i].env);
    }
    free(envs);
    free(roster_text);
    json_decref(v.failures);
    json_decref(v.warnings);
    json_decref(v.manifest);
    proto_roster_destroy(&v.roster);
    proto_roster_destroy(&trusted);
    return rc;
}
