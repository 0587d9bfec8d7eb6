/* Private to the web console's core: what the command (cli_console.c) and its HTTP server
 * (console_http.c) share. */
#ifndef LIAISON_CONSOLE_HTTP_H
#define LIAISON_CONSOLE_HTTP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cli_int.h"
#include "console.h"
#include "console_int.h"

/* Every request and the drain take this lock around the casebook and the agent's store. */
extern pthread_mutex_t console_lock;

/* A data file whose changes move the generation. */
typedef struct console_watched {
    char path[1100];                /* its data.mdb, or "" */
    off_t size;                     /* size last seen */
    struct timespec mtime;          /* modification time last seen */
} console_watched;

/* The running console. */
typedef struct console {
    console_ctx ctx;                /* what the handlers get */
    const char *tokens_path;        /* the tokens file */
    const char *broker_http;        /* the broker's metrics URL, or NULL */
    bool draining;                  /* the drain thread runs */
    cli_conn drain_conn;            /* the drain's connection options (its own actor) */
    console_tokens tokens;          /* the tokens file's last good reading */
    console_sessions sessions;      /* logged-in officers (HTTP thread only) */
    console_fails fails;            /* failed logins per address (HTTP thread only) */
    uint64_t generation;            /* moves when the data change (under console_lock) */
    console_watched casebook_mdb;   /* the casebook's data file */
    console_watched agent_mdb;      /* the agent store's data file */
    atomic_bool stop;               /* the drain thread ends */
    pthread_cond_t wake;            /* wakes the drain thread to stop */
} console;

struct MHD_Daemon;

/*
 * Serves c on the listening socket fd (IPv6 when ipv6), from a thread of its own; the
 * sessions and failed logins of c are used by that thread only.  Returns the server, or
 * NULL when it would not start (fd is closed either way on failure).
 */
struct MHD_Daemon *console_http_start(console *c, int fd, bool ipv6);
/* Stops the server (and closes its socket); accepts NULL. */
void console_http_stop(struct MHD_Daemon **d);

/* Moves c's generation when a data file it watches changed; returns it.  Call under
 * console_lock. */
uint64_t console_generation_check(console *c);

#endif
