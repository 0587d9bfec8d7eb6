/* libliaison: offline verification of MLAT evidence bundles (docs/bundle.md). */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "client_int.h"
#include "liaison_store.h"

#define CHUNKS_MAX (1u << 20)          /* chunks one evidence file may have */
#define READ_BLOCK (1u << 20)          /* bytes read at a time when hashing a file */
#define ENVELOPE_FILE_MAX (PROTO_ENVELOPE_MAX + 1u) /* bytes of an envelope file */
#define JSON_FILE_MAX (64u << 20)      /* bytes of manifest.json or a proof file */

/* What liaison_bundle_verify returns: the report, as the tool prints it. */
struct liaison_bundle_report {
    json_t *json;                  /* {ok, case, dir, checked, failures, warnings} (owned) */
};

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

static bool
is_hex64(const char *s)
{
    uint8_t h[32];

    return s != NULL && strlen(s) == 64 && proto_unhex(s, h, 32) == PROTO_OK;
}

bool
liaison_bundle_name_ok(const char *name)
{
    size_t n = name != NULL ? strlen(name) : 0;

    if (n == 0 || n > LIAISON_BUNDLE_NAME_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '/' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
            return false;
    }
    return true;
}

/* ---- Custody entries ------------------------------------------------------------ */

liaison_err
liaison_bundle_custody_input(const char *time, const char *actor, const char *action,
                             const char *file, const char *sha256_hex, uint8_t **buf_out,
                             size_t *len_out)
{
    const char *parts[] = {LIAISON_BUNDLE_CUSTODY_CONTEXT, time, actor, action, file, sha256_hex};
    size_t len = 0, off = 0;
    uint8_t *buf;

    if (buf_out == NULL || len_out == NULL)
        return LIAISON_ERR_INVALID;
    for (size_t i = 0; i < 6; i++) {
        if (parts[i] == NULL)
            return LIAISON_ERR_INVALID;
        len += strlen(parts[i]) + (i < 5 ? 1 : 0);
    }
    buf = malloc(len > 0 ? len : 1);
    if (buf == NULL)
        return LIAISON_ERR_NOMEM;
    for (size_t i = 0; i < 6; i++) {
        size_t n = strlen(parts[i]);

        memcpy(buf + off, parts[i], n);
        off += n;
        if (i < 5)
            buf[off++] = 0;
    }
    *buf_out = buf;
    *len_out = len;
    return LIAISON_OK;
}

liaison_err
liaison_bundle_custody_verify(const char *time, const char *actor, const char *action,
                              const char *file, const char *sha256_hex, const char *signature_hex,
                              const uint8_t sign_public[32])
{
    uint8_t sig[PROTO_SIGNATURE_BYTES], *input = NULL;
    size_t len = 0;
    liaison_err err;

    if (signature_hex == NULL || sign_public == NULL ||
        strlen(signature_hex) != 2 * PROTO_SIGNATURE_BYTES ||
        proto_unhex(signature_hex, sig, sizeof(sig)) != PROTO_OK)
        return LIAISON_ERR_INVALID;
    err = liaison_bundle_custody_input(time, actor, action, file, sha256_hex, &input, &len);
    if (err != LIAISON_OK)
        return err;
    if (proto_verify_detached(sign_public, input, len, sig) != PROTO_OK)
        err = LIAISON_ERR_SIGNATURE;
    free(input);
    return err;
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

/* Checks a custody entry's signature with its actor's card in roster: 0, or
 * -1 with why (missing field, unknown or revoked actor, bad signature). */
static int
custody_check(const json_t *entry, const proto_roster *roster, char *why, size_t why_len)
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

/* SHA-256 of a whole file, read in blocks.  0, or -1 with the errno text in why. */
static int
file_sha256(const char *path, uint64_t *size_out, char hex_out[65], char *why, size_t why_len)
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
        if (strncmp(rel, dirs[i], strlen(dirs[i])) == 0 && liaison_bundle_name_ok(rel + strlen(dirs[i])))
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
        if (file_sha256(path, &size, hex, why, sizeof(why)) != 0)
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
    size_t len = 0, sig_len = 0, clen = strlen(LIAISON_BUNDLE_SIGN_CONTEXT) + 1;
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
    if (schema == NULL || strcmp(schema, LIAISON_BUNDLE_SCHEMA) != 0) {
        vf_fail(v, "manifest.json", "its schema is not %s", LIAISON_BUNDLE_SCHEMA);
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
    memcpy(buf, LIAISON_BUNDLE_SIGN_CONTEXT, clen);
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

        if (!liaison_bundle_name_ok(name) || rel == NULL || strncmp(rel, "files/", 6) != 0 ||
            strcmp(rel + 6, name) != 0 || !is_hex64(sha) ||
            !json_is_integer(json_object_get(f, "size")) ||
            !json_is_integer(json_object_get(f, "chunks")) || size < 0 || chunks < 1 ||
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
                if (custody_check(c, v->roster, why, sizeof(why)) != 0) {
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


/* Every check of docs/bundle.md section 5, in order; the report in *json_out. */
static liaison_err
verify_dir(const char *dir, const proto_roster *trusted, json_t **json_out)
{
    vf_state v;
    proto_detail d = {{0}, {0}};
    vf_env *envs = NULL;
    size_t env_count = 0;
    uint8_t *roster_text = NULL;
    size_t roster_len = 0;
    char path[4096];
    bool nomem = false;

    memset(&v, 0, sizeof(v));
    v.dir = dir;
    v.failures = json_array();
    v.warnings = json_array();
    if (v.failures == NULL || v.warnings == NULL) {
        nomem = true;
        goto out;
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
    *json_out = json_pack("{s:b, s:s?, s:s, s:{s:I, s:I, s:I, s:I, s:I}, s:O, s:O}", "ok",
                          json_array_size(v.failures) == 0, "case",
                          v.manifest != NULL ? json_string_value(json_object_get(v.manifest, "case"))
                                             : NULL,
                          "dir", dir, "checked", "envelopes", (json_int_t)v.envelopes, "files",
                          (json_int_t)v.files, "chunks", (json_int_t)v.chunks, "custody",
                          (json_int_t)v.custody, "proofs", (json_int_t)v.proofs, "failures",
                          v.failures, "warnings", v.warnings);
    nomem = *json_out == NULL;
out:
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
    return nomem ? LIAISON_ERR_NOMEM : LIAISON_OK;
}

liaison_err
liaison_bundle_verify(const char *dir, const char *trusted_roster,
                      liaison_bundle_report **report_out)
{
    liaison_bundle_report *r = NULL;
    proto_roster *trusted = NULL;
    struct stat sb;
    liaison_err err;

    if (dir == NULL || report_out == NULL)
        return LIAISON_ERR_INVALID;
    *report_out = NULL;
    if (proto_init() != PROTO_OK)
        return LIAISON_ERR_NOMEM;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return LIAISON_ERR_NOT_FOUND;
    if (trusted_roster != NULL && proto_roster_load(trusted_roster, &trusted, NULL) != PROTO_OK)
        return LIAISON_ERR_ROSTER;
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        err = LIAISON_ERR_NOMEM;
        goto out;
    }
    if ((err = verify_dir(dir, trusted, &r->json)) != LIAISON_OK)
        goto out;
    err = liaison_bundle_report_ok(r) ? LIAISON_OK : LIAISON_ERR_BUNDLE;
    *report_out = r;
    r = NULL;
out:
    liaison_bundle_report_destroy(&r);
    proto_roster_destroy(&trusted);
    return err;
}

void
liaison_bundle_report_destroy(liaison_bundle_report **report)
{
    if (report == NULL || *report == NULL)
        return;
    json_decref((*report)->json);
    free(*report);
    *report = NULL;
}

bool
liaison_bundle_report_ok(const liaison_bundle_report *report)
{
    return json_is_true(json_object_get(report->json, "ok"));
}

const char *
liaison_bundle_report_case(const liaison_bundle_report *report)
{
    return json_string_value(json_object_get(report->json, "case"));
}

void
liaison_bundle_report_counts(const liaison_bundle_report *report, liaison_bundle_counts *counts_out)
{
    const json_t *c = json_object_get(report->json, "checked");

    counts_out->envelopes = (size_t)json_integer_value(json_object_get(c, "envelopes"));
    counts_out->files = (size_t)json_integer_value(json_object_get(c, "files"));
    counts_out->chunks = (size_t)json_integer_value(json_object_get(c, "chunks"));
    counts_out->custody = (size_t)json_integer_value(json_object_get(c, "custody"));
    counts_out->proofs = (size_t)json_integer_value(json_object_get(c, "proofs"));
}

size_t
liaison_bundle_report_problem_count(const liaison_bundle_report *report)
{
    return json_array_size(json_object_get(report->json, "failures"));
}

liaison_err
liaison_bundle_report_problem(const liaison_bundle_report *report, size_t i, const char **file_out,
                              const char **reason_out)
{
    const json_t *p = json_array_get(json_object_get(report->json, "failures"), i);

    if (p == NULL)
        return LIAISON_ERR_INVALID;
    if (file_out != NULL)
        *file_out = json_string_value(json_object_get(p, "file"));
    if (reason_out != NULL)
        *reason_out = json_string_value(json_object_get(p, "message"));
    return LIAISON_OK;
}

size_t
liaison_bundle_report_warning_count(const liaison_bundle_report *report)
{
    return json_array_size(json_object_get(report->json, "warnings"));
}

const char *
liaison_bundle_report_warning(const liaison_bundle_report *report, size_t i)
{
    return json_string_value(json_array_get(json_object_get(report->json, "warnings"), i));
}

liaison_err
liaison_bundle_report_json(const liaison_bundle_report *report, char **json_out)
{
    char *text = json_dumps(report->json, JSON_INDENT(2));

    if (text == NULL)
        return LIAISON_ERR_NOMEM;
    *json_out = text;
    return LIAISON_OK;
}
