/* Private to the web console's core: its embedded assets, tokens file, sessions and the
 * limit on failed logins (console_auth.c), which cli_console.c serves over HTTP. */
#ifndef LIAISON_CONSOLE_INT_H
#define LIAISON_CONSOLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Assets (generated from client/tool/console/ by cmake/embed_assets.cmake) ---- */

/* One file of client/tool/console/, compiled in. */
typedef struct console_asset {
    const char *path;              /* "app.js": its path under client/tool/console/ */
    const unsigned char *bytes;    /* its bytes, followed by a NUL */
    size_t len;                    /* bytes, without the NUL */
    const char *type;              /* its Content-Type */
} console_asset;

/* Every asset, ended by an entry whose path is NULL. */
extern const console_asset console_assets[];

/* The asset at path ("login.html"), or NULL. */
const console_asset *console_asset_find(const char *path);

/* ---- Tokens file -------------------------------------------------------------------- */

#define CONSOLE_TOKENS_MAX 256        /* tokens a file may hold */
#define CONSOLE_TOKEN_MIN 32          /* shortest token accepted, in characters */
#define CONSOLE_TOKEN_MAX 128         /* longest token accepted, in characters */
#define CONSOLE_TOKEN_NEW_CHARS 43    /* a new token: 32 random bytes in base64url */

/* One line of the tokens file. */
typedef struct console_token {
    char token[CONSOLE_TOKEN_MAX + 1];    /* base64url, NUL padded */
    char actor[65];                       /* who logs in with it */
} console_token;

/* What a tokens file holds. */
typedef struct console_tokens {
    console_token v[CONSOLE_TOKENS_MAX];  /* its lines with a token */
    size_t count;                         /* entries used in v */
} console_tokens;

/*
 * Reads the tokens file at path into *out: lines "TOKEN ACTOR", "#" comments and blank
 * lines.  The file must be a regular file owned by the user running the console, with no
 * group or other permission bit.  Returns 0, or a sysexits code with why (why_len bytes,
 * "what, where, why"): EX_NOINPUT when it cannot be opened, EX_CONFIG when its owner,
 * mode or a line is wrong.  *out is unchanged on failure.
 */
int console_tokens_load(const char *path, console_tokens *out, char *why, size_t why_len);

/* The actor of the token given (a string from a login), or NULL.  Every token of t is
 * compared, each in constant time, whatever matches. */
const char *console_tokens_match(const console_tokens *t, const char *given);

/* True if a and b (NUL-terminated, at most CONSOLE_TOKEN_MAX characters counted) are equal,
 * in a time that does not depend on where they differ. */
bool console_token_equal(const char *a, const char *b);

/* A new token (CONSOLE_TOKEN_NEW_CHARS characters of base64url and a NUL) into out. */
void console_token_make(char out[CONSOLE_TOKEN_NEW_CHARS + 1]);

/*
 * Appends "TOKEN ACTOR" to the tokens file at path, creating it 0600 when missing (an
 * existing file must pass the checks of console_tokens_load).  token_out gets the token.
 * Returns 0, or a sysexits code with why.
 */
int console_tokens_append(const char *path, const char *actor,
                          char token_out[CONSOLE_TOKEN_NEW_CHARS + 1], char *why, size_t why_len);

/* ---- Sessions ----------------------------------------------------------------------- */

#define CONSOLE_SESSIONS_MAX 256                  /* sessions kept at once */
#define CONSOLE_SESSION_MS (12ull * 3600 * 1000)  /* a session's life */
#define CONSOLE_SECRET_HEX 64                     /* a session id or CSRF value, in hex */

/* One logged-in officer. */
typedef struct console_session {
    char id[CONSOLE_SECRET_HEX + 1];    /* the cookie's value; "" when the slot is free */
    char csrf[CONSOLE_SECRET_HEX + 1];  /* what X-Liaison-CSRF must carry */
    char actor[65];                     /* the officer */
    uint64_t expires_ms;                /* when it ends */
} console_session;

/* The sessions of one console (used by one thread, or under the caller's lock). */
typedef struct console_sessions {
    console_session s[CONSOLE_SESSIONS_MAX];  /* slots */
} console_sessions;

/* Opens a session for actor at now_ms; when every slot is taken, the one that ends first
 * makes room.  Returns the session (borrowed until the next call on ss). */
const console_session *console_session_open(console_sessions *ss, const char *actor,
                                            uint64_t now_ms);
/* The live session whose id is id (compared in constant time), or NULL; an expired one is
 * dropped.  Borrowed until the next call on ss. */
const console_session *console_session_find(console_sessions *ss, const char *id,
                                            uint64_t now_ms);
/* Drops the session whose id is id, if any. */
void console_session_close(console_sessions *ss, const char *id);
/* Sessions alive at now_ms. */
size_t console_session_count(const console_sessions *ss, uint64_t now_ms);

/* ---- Failed logins ------------------------------------------------------------------ */

#define CONSOLE_FAILS_MAX 5              /* failed logins allowed per address and window */
#define CONSOLE_FAIL_WINDOW_MS 60000u    /* the window, from the first failure */
#define CONSOLE_FAIL_ADDRS 128           /* addresses remembered */

/* Failed logins per client address. */
typedef struct console_fails {
    struct {
        char addr[64];                   /* the client's address; "" when free */
        uint64_t since_ms;               /* first failure of the window */
        unsigned count;                  /* failures in the window */
    } e[CONSOLE_FAIL_ADDRS];             /* one per address */
} console_fails;

/* True if addr has failed CONSOLE_FAILS_MAX times in its window at now_ms (answer 429). */
bool console_fails_blocked(console_fails *f, const char *addr, uint64_t now_ms);
/* Counts one failed login of addr at now_ms. */
void console_fails_add(console_fails *f, const char *addr, uint64_t now_ms);

/* ---- Headers ------------------------------------------------------------------------ */

/* The Content-Security-Policy of every response. */
#define CONSOLE_CSP                                                                   \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/* A header every response carries. */
typedef struct console_header {
    const char *name;     /* "X-Frame-Options" */
    const char *value;    /* "DENY" */
} console_header;

/* The headers of every response, ended by a NULL name. */
extern const console_header console_headers[];

#endif
