/* The liaison command-line tool: dispatches to its subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_int.h"
#include "liaison_proto.h"

static const struct {
    const char *name;     /* what the user types */
    cli_main_fn fn;       /* its entry point */
    const char *summary;  /* one line for the usage page */
} subcommands[] = {
    {"keygen", cli_keygen_main, "make the key pairs of an agency or broker"},
    {"roster", cli_roster_main, "show, extend, revoke and verify the roster"},
    {"send", cli_send_main, "seal, sign and submit a message"},
    {"inbox", cli_inbox_main, "print what the broker delivers, then stop"},
    {"listen", cli_listen_main, "print what the broker delivers, until interrupted"},
    {"status", cli_status_main, "the state of a message you sent, per recipient"},
    {"audit", cli_audit_main, "inspect and verify a broker's audit log (offline)"},
    {"policy", cli_policy_main, "check, explain and test release policies"},
    {"retention", cli_retention_main, "delete what the casebook keeps once its retention ends"},
    {"agent", cli_agent_main, "answer queries and acknowledge designations for an agency"},
    {"watchlist", cli_watchlist_main, "share watchlist entries, query partners, ask for details"},
    {"traveldoc", cli_traveldoc_main, "report and check lost, stolen or forged documents"},
    {"freeze", cli_freeze_main, "asset-freeze designations and who implemented them"},
    {"mlat", cli_mlat_main, "MLAT requests, status and deadlines, evidence bundles"},
    {"cargo", cli_cargo_main, "container screening requests, results and do-not-load"},
    {"consent", cli_consent_main, "ask for, grant, deny and list onward-sharing consent"},
    {"recall", cli_recall_main, "recall or rectify a message you sent; follow the recall"},
    {"console", cli_console_main, "the agency's web console (inbox, MLAT, freezes, brokers)"},
    {"match", cli_match_main, "score two names as the agent does, and say why"},
    {NULL, NULL, NULL},
};

static void
usage(FILE *out)
{
    fprintf(out, "NAME\n    liaison - Liaison federated message broker tool\n\n"
                 "SYNOPSIS\n    liaison <command> [options]\n    liaison <command> --help\n\n"
                 "COMMANDS\n");
    for (size_t i = 0; subcommands[i].name != NULL; i++)
        fprintf(out, "    %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\nEXIT STATUS\n"
                 "    0 success; 1 a check ran and failed; 64 bad usage; 65 bad input data;\n"
                 "    66 missing input file; 69 broker unreachable; 70 internal error;\n"
                 "    74 I/O error; 75 no answer in time; 77 the broker refused the agency's\n"
                 "    key; 2 rejected by the broker.\n"
                 "    Each command's page lists its own (liaison <command> --help).\n");
}

int
main(int argc, char **argv)
{
    if (proto_init() != PROTO_OK) {
        fprintf(stderr, "liaison: cannot initialise libsodium\n");
        return EX_SOFTWARE;
    }
    if (argc < 2) {
        usage(stderr);
        return EX_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return EX_OK;
    }
    for (size_t i = 0; subcommands[i].name != NULL; i++) {
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "liaison: unknown command '%s' (see liaison --help)\n", argv[1]);
    return EX_USAGE;
}
