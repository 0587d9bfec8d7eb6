/* Test federations: keys, roster, policies and configs in a scratch
 * directory, and real liaison-broker processes started and stopped by PID. */
#ifndef LIAISON_TEST_FEDERATION_H
#define LIAISON_TEST_FEDERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "liaison.h"

#define FED_NATIONS_MAX 4
#define FED_AGENCIES_MAX 32

/* One agency of the test federation. */
typedef struct fed_agency {
    char addr[40];              /* "USA/FBI" */
    char accepts[256];          /* kind patterns, space separated */
    char key[1024];             /* its secret key file */
} fed_agency;

/* One nation: its broker and where it listens. */
typedef struct fed_nation {
    char nation[4];             /* "USA" */
    char config[1024];          /* broker configuration file */
    char data[1024];            /* data directory */
    char log[1024];             /* the broker's stderr */
    char policy[1024];          /* its policy file */
    char agency_endpoint[64];   /* tcp://127.0.0.1:PORT */
    char fed_endpoint[64];      /* tcp://127.0.0.1:PORT */
    int metrics_port;           /* its metrics port */
    pid_t pid;                  /* running broker, or 0 */
} fed_nation;

/* A `liaison agent` process acting for one agency. */
typedef struct fed_agent {
    char addr[40];              /* the agency, "CAN/RCMP" */
    char config[1024];          /* its configuration file */
    char store[1024];           /* its store directory */
    char log[1024];             /* its stderr */
    pid_t pid;                  /* running agent, or 0 */
} fed_agent;

typedef struct fed {
    char dir[512];                          /* scratch directory */
    char roster[1024];                      /* the roster file */
    size_t nation_count;                    /* nations in use */
    fed_nation nations[FED_NATIONS_MAX];    /* brokers */
    size_t agency_count;                    /* agencies in use */
    fed_agency agencies[FED_AGENCIES_MAX];  /* agencies */
    size_t agent_count;                     /* agents configured */
    fed_agent agents[FED_AGENCIES_MAX];     /* agents, by agency */
} fed;

/*
 * Makes a federation of the given nations (each takes its policy from
 * deploy/examples/<nation>.policy.yaml unless policy_override names a file
 * for it) with the demo agencies of those nations.  extra_config is
 * appended to every broker configuration (may be NULL).
 */
fed *fed_new(const char *const *nations, size_t count, const char *extra_config);
/* Stops every broker (SIGKILL if SIGTERM does not end it) and removes the directory. */
void fed_destroy(fed **f);
/* A cmocka teardown: destroys every federation a failed test left behind. */
int fed_destroy_all(void **state);

/* Adds an agency (addr, accepting the space-separated kind patterns accepts) to f's roster,
 * with its key file: call before starting the brokers. */
void fed_agency_add(fed *f, const char *addr, const char *accepts);
fed_nation *fed_nation_get(fed *f, const char *nation);
fed_agency *fed_agency_get(fed *f, const char *addr);

/* Creates nation's store with `liaison-broker --init`, as an operator does
 * once, unless its data directory has held one (its marker file): 0, the
 * command's exit status, or -1 when it could not run.  fed_start calls it. */
int fed_store_init(fed *f, const char *nation);
/* Starts the broker of nation and waits until it accepts connections; the
 * first time (no store in its data directory yet) it creates the store with
 * `liaison-broker --init`. */
void fed_start(fed *f, const char *nation);
/* SIGTERM and wait; returns the exit status. */
int fed_stop(fed *f, const char *nation);
/* SIGKILL and reap. */
void fed_kill(fed *f, const char *nation);
/* SIGHUP (reload policy and roster). */
void fed_reload(fed *f, const char *nation);

/* Opens a client for agency addr against its home broker. */
liaison_client *fed_client(fed *f, const char *addr, bool receive);

/* Runs the liaison tool with args (NULL-ended); returns its exit status and
 * its stdout in out (out_len bytes, may be NULL). */
int fed_run_tool(const char *const *args, char *out, size_t out_len);

/* The actor the harness gives agency addr's clients and tools ("USA/FBI" ->
 * "usa.fbi.officer"), into buf; returns buf.  fed_tool_start sets it as
 * LIAISON_ACTOR ("test.officer" without an agency), fed_run_tool sets
 * "test.officer", unless the environment has one (set "" to test without). */
#define FED_ACTOR_BYTES 65u
char *fed_actor_of(const char *addr, char buf[FED_ACTOR_BYTES]);

/* Runs `liaison audit verify` on a stopped broker's data; fails the test
 * unless it passes. */
void fed_assert_audit_verifies(fed *f, const char *nation);

/* Counts lines of the broker's log containing needle. */
size_t fed_log_count(fed *f, const char *nation, const char *needle);

/* Takes c's events until a report about id for recipient in state arrives,
 * receipting every event it takes, for at most ms: true if it came, and
 * *report_out (may be NULL) then gets that report, the caller's to free. */
bool fed_wait_report(liaison_client *c, const uint8_t id[16], const char *recipient,
                     const char *state, liaison_event **report_out, unsigned ms);
/* True if something accepts TCP connections at endpoint
 * ("tcp://127.0.0.1:PORT"). */
bool fed_port_open(const char *endpoint);
/* Fetches GET /metrics from nation's broker into out; 0 on success. */
int fed_metrics(fed *f, const char *nation, char *out, size_t out_len);
/* Fetches GET path from nation's metrics listener into out (the whole
 * response, headers first); 0 when it answered 200 OK. */
int fed_http_get(fed *f, const char *nation, const char *path, char *out, size_t out_len);
/* The value of one sample of nation's metrics, named whole as the
 * exposition writes it ("liaison_keys_refused_total", or with its labels,
 * "liaison_policy_reloads_total{result=\"ok\"}"); -1 when the metrics
 * cannot be read or have no such sample. */
long long fed_metric(fed *f, const char *nation, const char *sample);

/* Waits (up to ms) until fn(ctx) is true; returns it. */
bool fed_wait_until(bool (*fn)(void *ctx), void *ctx, unsigned ms);

/* ---- Agents ------------------------------------------------------------------ */

/*
 * Writes the configuration of a `liaison agent` for agency addr (its key,
 * the roster, its home broker, a store under the federation's directory,
 * log_level debug, then extra_yaml if not NULL) and returns its entry; the
 * same entry on later calls (the file is written again only if extra_yaml
 * is not NULL).
 */
fed_agent *fed_agent_config(fed *f, const char *addr, const char *extra_yaml);
/* Starts the agent of addr (LIAISON_TOOL_BIN agent --config ...) and waits
 * until it has opened its store and connection. */
void fed_agent_start(fed *f, const char *addr);
/* SIGTERM and wait; returns the exit status. */
int fed_agent_stop(fed *f, const char *addr);
/* SIGKILL and reap. */
void fed_agent_kill(fed *f, const char *addr);
/* Counts lines of the agent's log containing needle. */
size_t fed_agent_log_count(fed *f, const char *addr, const char *needle);

/* ---- The liaison tool as a process ---------------------------------------------------- */

/* A run of the liaison tool (LIAISON_TOOL_BIN) in the background. */
typedef struct fed_run {
    pid_t pid;                  /* the process */
    char out_path[1100];        /* its stdout, a file under the federation's directory */
    char err_path[1100];        /* its stderr */
} fed_run;

/*
 * Starts `liaison args...` (args NULL-terminated) with the connection options
 * of agency (--key, --roster, --broker of its nation; agency NULL: none) and,
 * when state is not NULL, --state <dir>/state-<state>.  Fails the test if it
 * cannot.
 */
void fed_tool_start(fed *f, fed_run *r, const char *agency, const char *state,
                    const char *const *args);
/* Waits for the run; its stdout lands in out and its stderr in err (len bytes
 * each, NUL-terminated).  Returns its exit status (128 + the signal if killed). */
int fed_tool_wait(fed_run *r, char *out, char *err, size_t len);
/* fed_tool_start then fed_tool_wait. */
int fed_tool(fed *f, const char *agency, const char *state, const char *const *args, char *out,
             char *err, size_t len);
/* As fed_tool, but the tool's stderr is a pseudo-terminal (isatty is true
 * there): err gets what the terminal showed ("\n" as "\r\n"). */
int fed_tool_tty(fed *f, const char *agency, const char *state, const char *const *args,
                 char *out, char *err, size_t len);

#endif
