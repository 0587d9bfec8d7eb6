/* Private to policy/: what load.c and cases.c share about libcyaml. */
#ifndef LIAISON_POLICY_YAML_INT_H
#define LIAISON_POLICY_YAML_INT_H

#include <cyaml/cyaml.h>

#include "policy_int.h"

/* What libcyaml logged about its first error: message and backtrace. */
typedef struct cy_log {
    char message[PROTO_TEXT_MAX];  /* the first error line */
    char path[PATH_MAX_LEN + 1];   /* the node path rebuilt from the backtrace */
    uint32_t line;                 /* innermost backtrace position */
    uint32_t column;               /* column of it */
    bool have_message;             /* message is set */
    bool in_backtrace;             /* lines now are backtrace entries */
    char entries[DEPTH_MAX][PATH_MAX_LEN / 4]; /* backtrace components, innermost first */
    size_t entry_count;            /* entries used */
} cy_log;

/* libcyaml log callback; ctx is a cy_log. */
void pol_cy_log_fn(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
    __attribute__((format(printf, 3, 0)));

/* Turns what libcyaml logged into an error at the right position . */
policy_err pol_cy_error(cy_log *log, cyaml_err_t cerr, const pol_positions *pp, policy_load_error *err);

#endif
