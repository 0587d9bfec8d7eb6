/* liaison freeze screen, export and query (cli_freeze_screen.c): entry points that cli_freeze.c's
 * dispatch table names. */
#ifndef LIAISON_CLI_FREEZE_SCREEN_H
#define LIAISON_CLI_FREEZE_SCREEN_H

/* `liaison freeze screen`: a CSV of customers against the designations in force; 0 a candidate
 * matched, 1 nothing matched, 64 usage, 65 refused input, 66 no such file. */
int cli_freeze_screen(int argc, char **argv);

/* `liaison freeze export`: the designations in force received, as CSV or JSON. */
int cli_freeze_export(int argc, char **argv);

/* `liaison freeze query`: ask designating units whether a subject is designated by them. */
int cli_freeze_query(int argc, char **argv);

#endif
