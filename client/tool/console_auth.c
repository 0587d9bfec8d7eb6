/* The web console's logins: its tokens file, constant-time token checks, sessions and the
 * limit on failed logins (HTTP is cli_console.c). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "console_int.h"
#include "liaison_proto.h"

const console_header console_headers[] = {
    {"Content-Security-Policy", CONSOLE_CSP},
    {"X-Content-Type-Options", "nosniff"},
    {"Referrer-Policy", "no-referrer"},
    {"X-Frame-Options", "DENY"},
    {NULL, NULL},
};

const console_asset *
console_asset_find(const char *path)
{
    for (size_t i = 0; console_assets[i].path != NULL; i++)
        if (strcmp(console_assets[i].path, path) == 0)
            return &console_assets[i];
    return NULL;
}

/* ---- Tokens file -------------------------------------------------------------------- */

static bool
base64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Checks that the open file fd (at path) is a regular file of ours, mode 0600 or 0400. */
static int
check_file(int fd, const char *path, char *why, size_t why_len)
{
    struct stat st;

    if (fstat(fd, &st) != 0) {
        snprintf(why, why_len, "tokens file %s: cannot stat: %s", path, strerror(errno));
        return EX_CONFIG;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "tokens file %s: not a regular file", path);
        return EX_CONFIG;
    }
    if (st.st_uid != geteuid()) {
        snprintf(why, why_len,
                 "tokens file %s: owned by uid %u, not by the user running the console (uid %u)",
                 path, (unsigned)st.st_uid, (unsigned)geteuid());
        return EX_CONFIG;
    }
    if ((st.st_mode & 077) != 0) {
        snprintf(why, why_len,
                 "tokens file %s: mode %04o lets others read it; make it 0600 (chmod 600 %s)",
                 path, (unsigned)(st.st_mode & 07777), path);
        return EX_CONFIG;
    }
    return 0;
}

/* Parses one line (without its newline) into *t; *has gets whether it holds a token. */
static int
parse_line(char *line, const char *path, unsigned lineno, console_token *t, bool *has,
           char *why, size_t why_len)
{
    char *tok, *actor, *rest, *save = NULL;
    size_t n;

    *has = false;
    tok = strtok_r(line, " \t\r", &save);
    if (tok == NULL || tok[0] == '#')
        return 0;
    actor = strtok_r(NULL, " \t\r", &save);
    rest = strtok_r(NULL, " \t\r", &save);
    n = strlen(tok);
    for (size_t i = 0; i < n; i++) {
        if (!base64url_char(tok[i])) {
            snprintf(why, why_len, "tokens file %s:%u: the token is not base64url (A-Z a-z 0-9 - _)",
                     path, lineno);
            return EX_CONFIG;
        }
    }
    if (n < CONSOLE_TOKEN_MIN || n > CONSOLE_TOKEN_MAX) {
        snprintf(why, why_len,
                 "tokens file %s:%u: the token has %zu characters; it needs %d to %d "
                 "(liaison console token makes one)",
                 path, lineno, n, CONSOLE_TOKEN_MIN, CONSOLE_TOKEN_MAX);
        return EX_CONFIG;
    }
    if (actor == NULL || rest != NULL || !proto_actor_valid(actor)) {
        snprintf(why, why_len,
                 "tokens file %s:%u: expected 'TOKEN ACTOR' with ACTOR of 1 to 64 of "
                 "A-Z a-z 0-9 . _ : @ -",
                 path, lineno);
        return EX_CONFIG;
    }
    memset(t, 0, sizeof(*t));
    memcpy(t->token, tok, n);
    snprintf(t->actor, sizeof(t->actor), "%s", actor);
    *has = true;
    return 0;
}

int
console_tokens_load(const char *path, console_tokens *out, char *why, size_t why_len)
{
    static console_tokens scratch; /* large: not on the stack; callers hold one thread */
    char line[512];
    FILE *f = NULL;
    unsigned lineno = 0;
    int fd, rc;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
        snprintf(why, why_len, "tokens file %s: cannot open: %s", path, strerror(errno));
        return errno == ENOENT ? EX_NOINPUT : EX_CONFIG;
    }
    if ((rc = check_file(fd, path, why, why_len)) != 0) {
        close(fd);
        return rc;
    }
    if ((f = fdopen(fd, "r")) == NULL) {
        close(fd);
        snprintf(why, why_len, "tokens file %s: cannot read: %s", path, strerror(errno));
        return EX_CONFIG;
    }
    memset(&scratch, 0, sizeof(scratch));
    rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        size_t len = strlen(line);
        bool has;

        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(f)) {
            snprintf(why, why_len, "tokens file %s:%u: line longer than %zu characters", path,
                     lineno, sizeof(line) - 2);
            rc = EX_CONFIG;
            break;
        }
        if ((rc = parse_line(line, path, lineno, &scratch.v[scratch.count], &has, why,
                             why_len)) != 0)
            break;
        if (has && ++scratch.count == CONSOLE_TOKENS_MAX) {
            snprintf(why, why_len, "tokens file %s:%u: more than %d tokens", path, lineno,
                     CONSOLE_TOKENS_MAX - 1);
            rc = EX_CONFIG;
        }
    }
    if (rc == 0 && ferror(f)) {
        snprintf(why, why_len, "tokens file %s: cannot read: %s", path, strerror(errno));
        rc = EX_CONFIG;
    }
    fclose(f);
    sodium_memzero(line, sizeof(line));
    if (rc == 0)
        memcpy(out, &scratch, sizeof(scratch));
    sodium_memzero(&scratch, sizeof(scratch));
    return rc;
}

bool
console_token_equal(const char *a, const char *b)
{
    char pa[CONSOLE_TOKEN_MAX + 1], pb[CONSOLE_TOKEN_MAX + 1];
    size_t la = strnlen(a, CONSOLE_TOKEN_MAX + 1), lb = strnlen(b, CONSOLE_TOKEN_MAX + 1);
    bool equal;

    /* Both are copied into buffers of one size, so the comparison always reads the same
     * number of bytes; lengths are compared apart (a length is not a secret). */
    memset(pa, 0, sizeof(pa));
    memset(pb, 0, sizeof(pb));
    memcpy(pa, a, la > CONSOLE_TOKEN_MAX ? CONSOLE_TOKEN_MAX : la);
    memcpy(pb, b, lb > CONSOLE_TOKEN_MAX ? CONSOLE_TOKEN_MAX : lb);
    equal = sodium_memcmp(pa, pb, sizeof(pa)) == 0 && la == lb && la <= CONSOLE_TOKEN_MAX;
    sodium_memzero(pa, sizeof(pa));
    sodium_memzero(pb, sizeof(pb));
    return equal;
}

const char *
console_tokens_match(const console_tokens *t, const char *given)
{
    const char *actor = NULL;

    for (size_t i = 0; i < t->count; i++)
        if (console_token_equal(t->v[i].token, given) && actor == NULL)
            actor = t->v[i].actor;
    return actor;
}

void
console_token_make(char out[CONSOLE_TOKEN_NEW_CHARS + 1])
{
    unsigned char raw[32];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, CONSOLE_TOKEN_NEW_CHARS + 1, raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
}

int
console_tokens_append(const char *path, const char *actor,
                      char token_out[CONSOLE_TOKEN_NEW_CHARS + 1], char *why, size_t why_len)
{
    static console_tokens scratch; /* the existing file, parsed to be checked */
    char line[CONSOLE_TOKEN_NEW_CHARS + 80];
    int fd, rc, n;

    if (!proto_actor_valid(actor)) {
        snprintf(why, why_len, "--actor '%s' is not an actor (1 to 64 of A-Z a-z 0-9 . _ : @ -)",
                 actor);
        return EX_USAGE;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(why, why_len, "tokens file %s: cannot open: %s", path, strerror(errno));
        return EX_CANTCREAT;
    }
    if ((rc = check_file(fd, path, why, why_len)) != 0 ||
        (rc = console_tokens_load(path, &scratch, why, why_len)) != 0) {
        close(fd);
        sodium_memzero(&scratch, sizeof(scratch));
        return rc;
    }
    sodium_memzero(&scratch, sizeof(scratch));
    console_token_make(token_out);
    n = snprintf(line, sizeof(line), "%s %s\n", token_out, actor);
    if (write(fd, line, (size_t)n) != n || fsync(fd) != 0) {
        snprintf(why, why_len, "tokens file %s: cannot write: %s", path, strerror(errno));
        close(fd);
        sodium_memzero(line, sizeof(line));
        return EX_IOERR;
    }
    sodium_memzero(line, sizeof(line));
    close(fd);
    return 0;
}

/* ---- Sessions ----------------------------------------------------------------------- */

static void
random_hex(char out[CONSOLE_SECRET_HEX + 1])
{
    unsigned char raw[CONSOLE_SECRET_HEX / 2];

    randombytes_buf(raw, sizeof(raw));
    sodium_bin2hex(out, CONSOLE_SECRET_HEX + 1, raw, sizeof(raw));
    sodium_memzero(raw, sizeof(raw));
}

const console_session *
console_session_open(console_sessions *ss, const char *actor, uint64_t now_ms)
{
    console_session *slot = NULL;

    for (size_t i = 0; i < CONSOLE_SESSIONS_MAX; i++) {
        console_session *s = &ss->s[i];

        if (s->id[0] == '\0' || s->expires_ms <= now_ms) {
            slot = s;
            break;
        }
        if (slot == NULL || s->expires_ms < slot->expires_ms)
            slot = s;
    }
    sodium_memzero(slot, sizeof(*slot));
    random_hex(slot->id);
    random_hex(slot->csrf);
    snprintf(slot->actor, sizeof(slot->actor), "%s", actor);
    slot->expires_ms = now_ms + CONSOLE_SESSION_MS;
    return slot;
}

const console_session *
console_session_find(console_sessions *ss, const char *id, uint64_t now_ms)
{
    if (strlen(id) != CONSOLE_SECRET_HEX)
        return NULL;
    for (size_t i = 0; i < CONSOLE_SESSIONS_MAX; i++) {
        console_session *s = &ss->s[i];

        if (s->id[0] == '\0' || sodium_memcmp(s->id, id, CONSOLE_SECRET_HEX) != 0)
            continue;
        if (s->expires_ms <= now_ms) {
            sodium_memzero(s, sizeof(*s));
            return NULL;
        }
        return s;
    }
    return NULL;
}

void
console_session_close(console_sessions *ss, const char *id)
{
    if (strlen(id) != CONSOLE_SECRET_HEX)
        return;
    for (size_t i = 0; i < CONSOLE_SESSIONS_MAX; i++)
        if (ss->s[i].id[0] != '\0' && sodium_memcmp(ss->s[i].id, id, CONSOLE_SECRET_HEX) == 0)
            sodium_memzero(&ss->s[i], sizeof(ss->s[i]));
}

size_t
console_session_count(const console_sessions *ss, uint64_t now_ms)
{
    size_t n = 0;

    for (size_t i = 0; i < CONSOLE_SESSIONS_MAX; i++)
        if (ss->s[i].id[0] != '\0' && ss->s[i].expires_ms > now_ms)
            n++;
    return n;
}

/* ---- Failed logins ------------------------------------------------------------------ */

bool
console_fails_blocked(console_fails *f, const char *addr, uint64_t now_ms)
{
    for (size_t i = 0; i < CONSOLE_FAIL_ADDRS; i++) {
        if (strcmp(f->e[i].addr, addr) != 0)
            continue;
        if (now_ms >= f->e[i].since_ms + CONSOLE_FAIL_WINDOW_MS) {
            memset(&f->e[i], 0, sizeof(f->e[i]));
            return false;
        }
        return f->e[i].count >= CONSOLE_FAILS_MAX;
    }
    return false;
}

void
console_fails_add(console_fails *f, const char *addr, uint64_t now_ms)
{
    size_t slot = CONSOLE_FAIL_ADDRS;

    for (size_t i = 0; i < CONSOLE_FAIL_ADDRS && slot == CONSOLE_FAIL_ADDRS; i++) {
        if (f->e[i].addr[0] != '\0' && now_ms >= f->e[i].since_ms + CONSOLE_FAIL_WINDOW_MS)
            memset(&f->e[i], 0, sizeof(f->e[i]));
        if (strcmp(f->e[i].addr, addr) == 0)
            slot = i;
    }
    if (slot == CONSOLE_FAIL_ADDRS) {
        /* A free entry, else the address whose window began first makes room. */
        slot = 0;
        for (size_t i = 0; i < CONSOLE_FAIL_ADDRS; i++) {
            if (f->e[i].addr[0] == '\0') {
                slot = i;
                break;
            }
            if (f->e[i].since_ms < f->e[slot].since_ms)
                slot = i;
        }
        memset(&f->e[slot], 0, sizeof(f->e[slot]));
        snprintf(f->e[slot].addr, sizeof(f->e[slot].addr), "%s", addr);
        f->e[slot].since_ms = now_ms;
    }
    f->e[slot].count++;
}
