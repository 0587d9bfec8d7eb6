/* Identities: key generation, secret key files (0600) and public cards; the
 * check that a file read as trusted cannot be changed by others. */
#define _XOPEN_SOURCE 700 /* realpath(), S_ISVTX */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto_int.h"

#define KEYFILE_MAX PROTO_SECRET_FILE_MAX
#define SECRET_HEADER "liaison-secret-key 1"
#define CARD_HEADER "liaison-card 1"
#define KDF_CONTEXT "LSNKEYS1"

static proto_err
identity_alloc(const proto_addr *addr, proto_identity **id_out)
{
    proto_identity *id;

    if (addr->kind != PROTO_ADDR_AGENCY && addr->kind != PROTO_ADDR_BROKER)
        return PROTO_ERR_INVALID;
    id = proto_secret_alloc(sizeof(*id));
    if (id == NULL)
        return PROTO_ERR_NOMEM;
    memset(id, 0, sizeof(*id));
    id->addr = *addr;
    *id_out = id;
    return PROTO_OK;
}

/* Fills all three key pairs from three 32-byte seeds. */
static proto_err
identity_from_seeds(proto_identity *id, const uint8_t sign_seed[32], const uint8_t box_seed[32],
                    const uint8_t curve_seed[32])
{
    if (crypto_sign_seed_keypair(id->sign_public, id->sign_secret, sign_seed) != 0 ||
        crypto_box_seed_keypair(id->box_public, id->box_secret, box_seed) != 0 ||
        crypto_box_seed_keypair(id->curve_public, id->curve_secret, curve_seed) != 0)
        return PROTO_ERR_CRYPTO;
    return PROTO_OK;
}

proto_err
proto_identity_from_seed(const proto_addr *addr, const uint8_t seed[32], proto_identity **id_out)
{
    uint8_t sub[3][32];
    proto_identity *id = NULL;
    proto_err err;

    err = identity_alloc(addr, &id);
    if (err != PROTO_OK)
        return err;
    for (uint64_t i = 0; i < 3; i++)
        crypto_kdf_derive_from_key(sub[i], 32, i + 1, KDF_CONTEXT, seed);
    err = identity_from_seeds(id, sub[0], sub[1], sub[2]);
    sodium_memzero(sub, sizeof(sub));
    if (err != PROTO_OK) {
        proto_identity_destroy(&id);
        return err;
    }
    *id_out = id;
    return PROTO_OK;
}

proto_err
proto_identity_generate(const proto_addr *addr, proto_identity **id_out)
{
    uint8_t seed[32];
    proto_err err;

    randombytes_buf(seed, sizeof(seed));
    err = proto_identity_from_seed(addr, seed, id_out);
    sodium_memzero(seed, sizeof(seed));
    return err;
}

void
proto_identity_destroy(proto_identity **id)
{
    if (id == NULL || *id == NULL)
        return;
    proto_secret_free(*id); /* wipes before it frees */
    *id = NULL;
}

void
proto_identity_card(const proto_identity *id, proto_card *card_out)
{
    memset(card_out, 0, sizeof(*card_out));
    card_out->addr = id->addr;
    memcpy(card_out->sign_public, id->sign_public, sizeof(card_out->sign_public));
    memcpy(card_out->box_public, id->box_public, sizeof(card_out->box_public));
    memcpy(card_out->curve_public, id->curve_public, sizeof(card_out->curve_public));
}

/* ---- Line-oriented "key value" files ----------------------------------- */

typedef struct kv_field {
    const char *name;   /* the key at the start of the line */
    uint8_t *bytes;     /* 32 bytes to fill from hex, or NULL for the address */
    bool seen;          /* the line was present */
} kv_field;

static proto_err
kv_parse(char *text, const char *header, kv_field *fields, size_t nfields, proto_addr *addr,
         proto_detail *detail, const char *what)
{
    char *line = text;
    size_t lineno = 0;
    bool have_header = false, have_identity = false;

    while (line != NULL && *line != '\0') {
        char *next = strchr(line, '\n');
        char *value;
        size_t i;

        if (next != NULL)
            *next++ = '\0';
        lineno++;
        if (line[0] == '#' || line[0] == '\0') {
            line = next;
            continue;
        }
        if (!have_header) {
            if (strcmp(line, header) != 0) {
                proto_detail_set(detail, what, "line %zu: expected '%s' first", lineno, header);
                return PROTO_ERR_KEYFILE;
            }
            have_header = true;
            line = next;
            continue;
        }
        value = strchr(line, ' ');
        if (value == NULL) {
            proto_detail_set(detail, what, "line %zu: expected 'name value'", lineno);
            return PROTO_ERR_KEYFILE;
        }
        *value++ = '\0';
        if (strcmp(line, "identity") == 0) {
            proto_detail d;

            if (have_identity || proto_addr_parse(value, addr, &d) != PROTO_OK ||
                (addr->kind != PROTO_ADDR_AGENCY && addr->kind != PROTO_ADDR_BROKER)) {
                proto_detail_set(detail, what, "line %zu: bad or repeated identity", lineno);
                return PROTO_ERR_KEYFILE;
            }
            have_identity = true;
            line = next;
            continue;
        }
        for (i = 0; i < nfields; i++) {
            if (strcmp(line, fields[i].name) == 0)
                break;
        }
        if (i == nfields) {
            proto_detail_set(detail, what, "line %zu: unknown field '%.40s'", lineno, line);
            return PROTO_ERR_KEYFILE;
        }
        if (fields[i].seen || proto_unhex(value, fields[i].bytes, 32) != PROTO_OK) {
            proto_detail_set(detail, what, "line %zu: %s must appear once with 64 hex digits",
                             lineno, fields[i].name);
            return PROTO_ERR_KEYFILE;
        }
        fields[i].seen = true;
        line = next;
    }
    if (!have_header || !have_identity) {
        proto_detail_set(detail, what, "missing '%s' or identity line", header);
        return PROTO_ERR_KEYFILE;
    }
    for (size_t i = 0; i < nfields; i++) {
        if (!fields[i].seen) {
            proto_detail_set(detail, what, "missing field '%s'", fields[i].name);
            return PROTO_ERR_KEYFILE;
        }
    }
    return PROTO_OK;
}

/* ---- Secret key files --------------------------------------------------- */

proto_err
proto_keyfile_write(const proto_identity *id, const char *path, proto_detail *detail)
{
    char addr[PROTO_ADDR_TEXT_MAX + 1];
    char h[6][65];
    char *text = NULL;
    size_t cap = KEYFILE_MAX, len = 0;
    proto_err err = PROTO_OK;
    int n;

    text = proto_secret_alloc(cap);
    if (text == NULL)
        return PROTO_ERR_NOMEM;
    proto_hex(id->sign_public, 32, h[0]);
    proto_hex(id->sign_secret, 32, h[1]); /* the seed half of the secret key */
    proto_hex(id->box_public, 32, h[2]);
    proto_hex(id->box_secret, 32, h[3]);
    proto_hex(id->curve_public, 32, h[4]);
    proto_hex(id->curve_secret, 32, h[5]);
    n = snprintf(text, cap,
                 "# Liaison secret key file.  Keep it mode 0600; never copy it off this host.\n"
                 "%s\nidentity %s\nsign-public %s\nsign-seed %s\nbox-public %s\n"
                 "box-secret %s\ncurve-public %s\ncurve-secret %s\n",
                 SECRET_HEADER, proto_addr_format(&id->addr, addr, sizeof(addr)), h[0], h[1],
                 h[2], h[3], h[4], h[5]);
    sodium_memzero(h, sizeof(h));
    if (n < 0 || (size_t)n >= cap) {
        err = PROTO_ERR_LIMIT;
        goto out;
    }
    len = (size_t)n;
    err = proto_secret_file_write(path, text, len, detail);
out:
    proto_secret_free(text);
    return err;
}

proto_err
proto_secret_file_write(const char *path, const char *text, size_t len, proto_detail *detail)
{
    size_t off = 0;
    int fd;
    proto_err err = PROTO_OK;

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = errno == EEXIST ? PROTO_ERR_EXISTS : PROTO_ERR_IO;
        proto_detail_set(detail, path, "cannot create %s: %s", path, strerror(errno));
        return err;
    }
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            err = PROTO_ERR_IO;
            proto_detail_set(detail, path, "cannot write %s: %s", path, strerror(errno));
            break;
        }
        off += (size_t)w;
    }
    if (err == PROTO_OK && fsync(fd) != 0) {
        err = PROTO_ERR_IO;
        proto_detail_set(detail, path, "cannot sync %s: %s", path, strerror(errno));
    }
    if (close(fd) != 0 && err == PROTO_OK) {
        err = PROTO_ERR_IO;
        proto_detail_set(detail, path, "cannot close %s: %s", path, strerror(errno));
    }
    if (err != PROTO_OK)
        unlink(path);
    return err;
}

/* ---- Files others must not be able to change --------------------------- */

/* Checks the directory dir, which holds the file what (path, stat st): a
 * directory that group or others can write lets them put another file in
 * its place, unless it is sticky (as /tmp is) and the file is the reader's
 * own or root's, which they cannot then rename or remove. */
static proto_err
check_dir(const char *dir, const char *path, const struct stat *st, const char *what,
          proto_detail *detail)
{
    struct stat ds;

    if (stat(dir, &ds) != 0) {
        proto_detail_set(detail, path, "cannot examine the directory %s of %s %s: %s", dir, what,
                         path, strerror(errno));
        return PROTO_ERR_IO;
    }
    if ((ds.st_mode & (S_IWGRP | S_IWOTH)) == 0)
        return PROTO_OK;
    if ((ds.st_mode & S_ISVTX) != 0 && (st->st_uid == geteuid() || st->st_uid == 0))
        return PROTO_OK;
    proto_detail_set(detail, path,
                     "the directory %s of %s %s has mode %04o: group and others must not be "
                     "able to write it (chmod go-w %s)",
                     dir, what, path, (unsigned)(ds.st_mode & 07777), dir);
    return PROTO_ERR_PERMISSION;
}

/* Writes the directory part of path into dir ("." when it has none). */
static void
dir_of(const char *path, char *dir, size_t dir_len)
{
    const char *slash = strrchr(path, '/');

    if (slash == NULL)
        snprintf(dir, dir_len, ".");
    else if (slash == path)
        snprintf(dir, dir_len, "/");
    else
        snprintf(dir, dir_len, "%.*s", (int)(slash - path), path);
}

proto_err
proto_file_check_writers(int fd, const char *path, const char *what, proto_detail *detail)
{
    struct stat st;
    char dir[PATH_MAX], *real = NULL;
    proto_err err;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        proto_detail_set(detail, path, "%s %s is not a regular file", what, path);
        return PROTO_ERR_IO;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        proto_detail_set(detail, path,
                         "%s %s has mode %04o: group and others must not be able to write it "
                         "(chmod go-w %s)",
                         what, path, (unsigned)(st.st_mode & 07777), path);
        return PROTO_ERR_PERMISSION;
    }
    dir_of(path, dir, sizeof(dir));
    err = check_dir(dir, path, &st, what, detail);
    if (err != PROTO_OK)
        return err;
    /* Through a symbolic link, the directory that really holds the file
     * matters as much as the one the path names. */
    real = realpath(path, NULL);
    if (real != NULL) {
        char real_dir[PATH_MAX];

        dir_of(real, real_dir, sizeof(real_dir));
        if (strcmp(real_dir, dir) != 0)
            err = check_dir(real_dir, path, &st, what, detail);
        free(real);
    }
    return err;
}

/* Reads at most KEYFILE_MAX - 1 bytes of an open file into buf, NUL-terminated. */
static proto_err
read_all(int fd, char *buf, const char *path, proto_detail *detail)
{
    size_t len = 0;

    for (;;) {
        ssize_t r = read(fd, buf + len, KEYFILE_MAX - len);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            proto_detail_set(detail, path, "cannot read %s: %s", path, strerror(errno));
            return PROTO_ERR_IO;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len == KEYFILE_MAX) {
            proto_detail_set(detail, path, "%s is larger than a key file can be", path);
            return PROTO_ERR_KEYFILE;
        }
    }
    buf[len] = '\0';
    if (strlen(buf) != len) {
        proto_detail_set(detail, path, "%s contains a NUL byte", path);
        return PROTO_ERR_KEYFILE;
    }
    return PROTO_OK;
}

proto_err
proto_secret_file_read(const char *path, const char *what, char *buf, proto_detail *detail)
{
    struct stat st;
    int fd;
    proto_err err;

    fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        proto_detail_set(detail, path, "cannot open %s %s: %s", what, path, strerror(errno));
        return PROTO_ERR_IO;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        proto_detail_set(detail, path, "%s is not a regular file", path);
        err = PROTO_ERR_IO;
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        proto_detail_set(detail, path,
                         "%s %s has mode %04o: group and others must have no access "
                         "(chmod 600 %s)",
                         what, path, (unsigned)(st.st_mode & 07777), path);
        err = PROTO_ERR_PERMISSION;
        goto out;
    }
    err = proto_file_check_writers(fd, path, what, detail);
    if (err == PROTO_OK)
        err = read_all(fd, buf, path, detail);
out:
    close(fd);
    return err;
}

proto_err
proto_keyfile_read(const char *path, proto_identity **id_out, proto_detail *detail)
{
    struct {
        uint8_t sign_public[32], sign_seed[32], box_public[32], box_secret[32];
        uint8_t curve_public[32], curve_secret[32];
        char text[KEYFILE_MAX + 1];
    } *s = NULL;
    proto_identity *id = NULL;
    proto_addr addr;
    proto_err err;

    s = proto_secret_alloc(sizeof(*s));
    if (s == NULL)
        return PROTO_ERR_NOMEM;
    err = proto_secret_file_read(path, "key file", s->text, detail);
    if (err != PROTO_OK)
        goto out;
    {
        kv_field fields[] = {
            {"sign-public", s->sign_public, false}, {"sign-seed", s->sign_seed, false},
            {"box-public", s->box_public, false},   {"box-secret", s->box_secret, false},
            {"curve-public", s->curve_public, false}, {"curve-secret", s->curve_secret, false},
        };

        err = kv_parse(s->text, SECRET_HEADER, fields, sizeof(fields) / sizeof(fields[0]), &addr,
                       detail, path);
        if (err != PROTO_OK)
            goto out;
    }
    err = identity_alloc(&addr, &id);
    if (err != PROTO_OK)
        goto out;
    if (crypto_sign_seed_keypair(id->sign_public, id->sign_secret, s->sign_seed) != 0) {
        err = PROTO_ERR_CRYPTO;
        goto out;
    }
    memcpy(id->box_secret, s->box_secret, 32);
    memcpy(id->curve_secret, s->curve_secret, 32);
    crypto_scalarmult_base(id->box_public, id->box_secret);
    crypto_scalarmult_base(id->curve_public, id->curve_secret);
    if (sodium_memcmp(id->sign_public, s->sign_public, 32) != 0 ||
        sodium_memcmp(id->box_public, s->box_public, 32) != 0 ||
        sodium_memcmp(id->curve_public, s->curve_public, 32) != 0) {
        proto_detail_set(detail, path,
                         "%s is damaged: a public key does not match its secret key", path);
        err = PROTO_ERR_KEYFILE;
        goto out;
    }
    *id_out = id;
    id = NULL;
out:
    proto_identity_destroy(&id);
    proto_secret_free(s);
    return err;
}

/* ---- Public cards ------------------------------------------------------- */

proto_err
proto_card_format(const proto_card *card, char *buf, size_t buf_len)
{
    char addr[PROTO_ADDR_TEXT_MAX + 1];
    char h[3][65];
    int n;

    n = snprintf(buf, buf_len, "%s\nidentity %s\nsign-public %s\nbox-public %s\ncurve-public %s\n",
                 CARD_HEADER, proto_addr_format(&card->addr, addr, sizeof(addr)),
                 proto_hex(card->sign_public, 32, h[0]), proto_hex(card->box_public, 32, h[1]),
                 proto_hex(card->curve_public, 32, h[2]));
    return n < 0 || (size_t)n >= buf_len ? PROTO_ERR_LIMIT : PROTO_OK;
}

void
proto_card_fingerprint(const proto_card *card, uint8_t out[PROTO_HASH_BYTES])
{
    char text[512];

    /* Five lines of bounded length: 512 bytes always hold them. */
    if (proto_card_format(card, text, sizeof(text)) != PROTO_OK)
        text[0] = '\0';
    proto_sha256((const uint8_t *)text, strlen(text), out);
}

proto_err
proto_card_parse(const char *text, proto_card *card_out, proto_detail *detail)
{
    char copy[KEYFILE_MAX];
    proto_card card;
    size_t len = strnlen(text, sizeof(copy));
    proto_err err;

    if (len == sizeof(copy)) {
        proto_detail_set(detail, "card", "card text is too long");
        return PROTO_ERR_KEYFILE;
    }
    memcpy(copy, text, len + 1);
    memset(&card, 0, sizeof(card));
    {
        kv_field fields[] = {
            {"sign-public", card.sign_public, false},
            {"box-public", card.box_public, false},
            {"curve-public", card.curve_public, false},
        };

        err = kv_parse(copy, CARD_HEADER, fields, sizeof(fields) / sizeof(fields[0]), &card.addr,
                       detail, "card");
    }
    if (err != PROTO_OK)
        return err;
    *card_out = card;
    return PROTO_OK;
}
