/* The liaison command-line tool (client/tool): its subcommands, one per cli_<name>.c, and the
 * helpers they all share. */
#ifndef LIAISON_CLI_H
#define LIAISON_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <sysexits.h>

/*
 * Each subcommand is a function that takes the arguments after its name
 * (argv[0] is the subcommand's name) and returns a sysexits code:
 * EX_OK, EX_USAGE for bad arguments, EX_DATAERR for bad input data,
 * EX_NOINPUT for missing files, EX_SOFTWARE for internal failures, and 1
 * for a check that ran and found a problem (a failed verification).
 */
typedef int (*cli_main_fn)(int argc, char **argv);

/* Subcommands; each lives in its own client/tool/cli_<name>.c. */
int cli_keygen_main(int argc, char **argv);
int cli_send_main(int argc, char **argv);
int cli_inbox_main(int argc, char **argv);
int cli_listen_main(int argc, char **argv);
int cli_status_main(int argc, char **argv);
int cli_roster_main(int argc, char **argv);
int cli_audit_main(int argc, char **argv);
int cli_policy_main(int argc, char **argv);
int cli_agent_main(int argc, char **argv);
int cli_watchlist_main(int argc, char **argv);
int cli_traveldoc_main(int argc, char **argv);
int cli_freeze_main(int argc, char **argv);
int cli_mlat_main(int argc, char **argv);
int cli_cargo_main(int argc, char **argv);
int cli_consent_main(int argc, char **argv);
int cli_retention_main(int argc, char **argv);
int cli_recall_main(int argc, char **argv);
int cli_console_main(int argc, char **argv);
int cli_match_main(int argc, char **argv);
/* liaison freeze import (cli_freeze_import.c), dispatched by cli_freeze_main. */
int cli_freeze_import(int argc, char **argv);

/* True if argv[1..] asks for help ("--help" or "-h" anywhere). */
bool cli_wants_help(int argc, char **argv);

/* Prints "liaison: <sub>: <message>" on stderr. */
void cli_error(const char *sub, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
