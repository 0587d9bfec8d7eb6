/* Private to the liaison tool: connection options and helpers its subcommands share. */
#ifndef LIAISON_CLI_INT_H
#define LIAISON_CLI_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison.h"

/* Exit status of a request the broker rejected. */
#define CLI_EXIT_REJECTED 2

/* Option codes of the connection options (above any short option). */
enum {
    CLI_OPT_KEY = 1000,
    CLI_OPT_ROSTER,
    CLI_OPT_BROKER,
    CLI_OPT_STATE,
    CLI_OPT_TIMEOUT,
};

#define CLI_CONN_OPTIONS                                                  \
    {"key", required_argument, NULL, CLI_OPT_KEY},                        \
    {"roster", required_argument, NULL, CLI_OPT_ROSTER},                  \
    {"broker", required_argument, NULL, CLI_OPT_BROKER},                  \
    {"state", required_argument, NULL, CLI_OPT_STATE},                    \
    {"timeout", required_argument, NULL, CLI_OPT_TIMEOUT}

#define CLI_CONN_HELP                                                              \
    "CONNECTION OPTIONS\n"                                                        \
    "    --key FILE       the agency's secret key file (or $LIAISON_KEY)\n"      \
    "    --roster FILE    the federation roster (or $LIAISON_ROSTER)\n"          \
    "    --broker URL     the home broker, tcp://host:port (or $LIAISON_BROKER)\n" \
    "    --state DIR      keep received ids here durably (or $LIAISON_STATE)\n"   \
    "    --timeout SECS   how long to wait for the broker (default 10)\n\n"

/* Where to connect, from options or the environment. */
typedef struct cli_conn {
    const char *key;        /* secret key file */
    const char *roster;     /* roster file */
    const char *broker;     /* broker endpoint */
    const char *state;      /* state directory, or NULL */
    int timeout_s;          /* seconds to wait for answers */
} cli_conn;

void cli_conn_defaults(cli_conn *c);
/* True if opt was a connection option (and took arg). */
bool cli_conn_option(cli_conn *c, int opt, const char *arg);
/* Opens a client; prints the reason and returns a sysexits code on failure. */
int cli_connect(const char *sub, const cli_conn *conn, bool receive, liaison_client **client_out);
int cli_exit_for(liaison_err err);
uint64_t cli_deadline(const cli_conn *conn);

json_t *cli_event_json(const liaison_event *e);
void cli_print_json(json_t *o, bool line);

/* Reads a whole file into a malloc'd buffer (at most 64 MiB). */
int cli_read_file(const char *path, uint8_t **data_out, size_t *len_out);

#endif
