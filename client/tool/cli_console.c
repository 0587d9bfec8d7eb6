/* liaison console: the web console of an agency, served over HTTP from the casebook (and the
 * agent's store): the command, its options, its tokens, the drain of the inbox and the start;
 * HTTP is console_http.c, the JSON of the data console_mlat.c, console_freeze.c and
 * console_inbox.c. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "agent.h"
#include "casebook.h"
#include "cli.h"
#include "cli_int.h"
#include "console_http.h"
#include "liaison_proto.h"

#define SUB "console"
#define DRAIN_EVERY_MS 2000u                /* the drain's period */
#define DRAIN_IDLE_MS 200u                  /* a drain ends after this long without an event */

/* The options of liaison console. */
typedef struct console_opts {
    cli_conn conn;                  /* connection options */
    const char *tokens;             /* --tokens */
    const char *listen;             /* --listen */
    const char *agent_config;       /* --agent-config */
    const char *broker_http;        /* --broker-http */
    const char *audit_data;         /* --audit-data */
    bool read_only;                 /* --read-only */
    int drain;                      /* 1 --drain, 0 --no-drain, -1 default */
} console_opts;

/* ---- Usage ------------------------------------------------------------------------- */

static void
usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    liaison console - the agency's web console: inbox, MLAT deadlines, freezes, "
            "brokers\n\n"
            "SYNOPSIS\n"
            "    liaison console --tokens FILE --state DIR [--listen HOST:PORT]\n"
            "                    [--agent-config FILE] [--broker-http URL] [--read-only]\n"
            "                    [--drain | --no-drain] [--audit-data DIR] [connection options]\n"
            "    liaison console token --tokens FILE --actor REF\n\n"
            "DESCRIPTION\n"
            "    Serves the agency's casebook (and, with --agent-config, what its agent\n"
            "    keeps) as web pages and a JSON API to the officers named in the tokens\n"
            "    file.  Everything is compiled in: the console fetches nothing from the\n"
            "    network but the broker's status.  It prints one line when it serves:\n"
            "      liaison console: serving AGENCY at http://HOST:PORT/ (login: ...)\n"
            "    and runs until SIGTERM or SIGINT.  Unless the agency runs an agent\n"
            "    (--agent-config), the console receives the agency's messages every\n"
            "    2 seconds into the casebook, as liaison freeze status does.\n\n"
            "    console token appends a new token for the officer REF to the tokens\n"
            "    file (made 0600 when missing) and prints it once.\n\n"
            "OPTIONS\n"
            "    --tokens FILE        lines 'TOKEN ACTOR'; a regular file of the user\n"
            "                         running the console, mode 0600 or 0400\n"
            "    --listen HOST:PORT   where to serve (default 127.0.0.1:8080; port 0: any\n"
            "                         free port); a host other than loopback is warned of\n"
            "    --agent-config FILE  the agency's agent (or $LIAISON_AGENT_CONFIG): its\n"
            "                         store is read, and it receives (no drain)\n"
            "    --broker-http URL    the home broker's metrics listener, for /api/broker\n"
            "                         (http://127.0.0.1:9101)\n"
            "    --read-only          refuse every action\n"
            "    --drain, --no-drain  receive into the casebook, or not, whatever the default\n"
            "    --audit-data DIR     the home broker's data directory (MLAT export)\n"
            "    --help               this page\n\n" CLI_CONN_HELP
            "EXIT STATUS\n"
            "    0 stopped by SIGTERM or SIGINT; 64 bad usage; 65 the key or roster does\n"
            "    not parse; 66 a file is missing; 71 cannot listen; 73 cannot create the\n"
            "    state; 78 the tokens file is not safe or does not parse.\n\n"
            "EXAMPLES\n"
            "    liaison console token --tokens fbi.tokens --actor usa.fbi.jdoe\n"
            "    liaison console --tokens fbi.tokens --state ~/.liaison --listen 127.0.0.1:8081 \\\n"
            "        --broker-http http://127.0.0.1:9101\n"
            "    curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8081/api/session\n");
}

/* ---- The drain --------------------------------------------------------------------- */

static void *
drain_main(void *arg)
{
    console *c = arg;
    liaison_client *lc = NULL;
    int last = EX_OK;

    while (!atomic_load(&c->stop)) {
        struct timespec until;
        int rc = EX_OK;

        if (lc == NULL)
            rc = cli_connect(SUB " drain", &c->drain_conn, true, &lc);
        if (lc != NULL) {
            size_t stored = 0;

            pthread_mutex_lock(&console_lock);
            rc = cli_drain(SUB " drain", lc, c->ctx.cb, DRAIN_IDLE_MS, &stored);
            if (stored > 0)
                c->generation++;
            pthread_mutex_unlock(&console_lock);
        }
        if (rc != EX_OK && rc != last)
            PROTO_LOG(PROTO_LOG_ERROR, "C-DRAIN", "agency=%s error=\"%s\"", c->ctx.agency,
                      rc == EX_NOPERM ? "the broker refused the agency's key"
                                      : "cannot connect to the broker");
        else if (rc == EX_OK && last != EX_OK)
            PROTO_LOG(PROTO_LOG_INFO, "C-DRAIN", "agency=%s draining again", c->ctx.agency);
        last = rc;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += DRAIN_EVERY_MS / 1000;
        pthread_mutex_lock(&console_lock);
        while (!atomic_load(&c->stop) &&
               pthread_cond_timedwait(&c->wake, &console_lock, &until) != ETIMEDOUT) {
        }
        pthread_mutex_unlock(&console_lock);
    }
    liaison_client_close(&lc);
    return NULL;
}

/* ---- Start ------------------------------------------------------------------------- */

/* Splits HOST:PORT ("[::1]:8080" for IPv6) into host and *port_out; false when it is not. */
static bool
split_listen(const char *text, char *host, size_t host_len, uint16_t *port_out)
{
    const char *colon, *h = text;
    size_t hlen;
    char *end;
    unsigned long port;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':')
            return false;
        h = text + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        if ((colon = strrchr(text, ':')) == NULL)
            return false;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= host_len || colon[1] == '\0')
        return false;
    errno = 0;
    port = strtoul(colon + 1, &end, 10);
    if (*end != '\0' || errno != 0 || port > 65535)
        return false;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *port_out = (uint16_t)port;
    return true;
}

static bool
loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
    return false;
}

/* Listens on host:port; *fd_out gets the socket, *port_out the port bound, *family_out and
 * *loop_out what it is.  Prints why and returns a sysexits code on failure. */
static int
listen_on(const char *listen_text, const char *host, uint16_t port, int *fd_out,
          uint16_t *port_out, int *family_out, bool *loop_out)
{
    struct addrinfo hints, *res = NULL;
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    char service[8];
    int fd = -1, one = 1, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    if ((rc = getaddrinfo(host, service, &hints, &res)) != 0) {
        cli_error(SUB, "--listen %s: cannot resolve %s: %s", listen_text, host, gai_strerror(rc));
        return EX_USAGE;
    }
    fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 64) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        cli_error(SUB, "--listen %s: cannot listen: %s", listen_text, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(res);
        return EX_OSERR;
    }
    *family_out = res->ai_family;
    *loop_out = loopback(res->ai_addr);
    *port_out = ntohs(bound.ss_family == AF_INET6
                          ? ((struct sockaddr_in6 *)(void *)&bound)->sin6_port
                          : ((struct sockaddr_in *)(void *)&bound)->sin_port);
    *fd_out = fd;
    freeaddrinfo(res);
    return EX_OK;
}

static int
token_main(int argc, char **argv)
{
    static const struct option options[] = {
        {"tokens", required_argument, NULL, 't'},
        {"actor", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char token[CONSOLE_TOKEN_NEW_CHARS + 1], why[512];
    const char *path = NULL, *actor = NULL;
    int opt, rc;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
        case 't': path = optarg; break;
        case 'a': actor = optarg; break;
        case 'h': usage(stdout); return EX_OK;
        default: usage(stderr); return EX_USAGE;
        }
    }
    if (optind != argc || path == NULL || actor == NULL) {
        cli_error(SUB " token", "--tokens FILE and --actor REF are required (see liaison "
                                "console --help)");
        return EX_USAGE;
    }
    if ((rc = console_tokens_append(path, actor, token, why, sizeof(why))) != 0) {
        cli_error(SUB " token", "%s", why);
        return rc;
    }
    printf("%s\n", token);
    fflush(stdout);
    sodium_memzero(token, sizeof(token));
    fprintf(stderr, "liaison: console token: a token for %s was added to %s; it is shown "
                    "once, above\n", actor, path);
    return EX_OK;
}

static int
parse(int argc, char **argv, console_opts *o)
{
    enum {
        OPT_TOKENS = 1100,
        OPT_LISTEN,
        OPT_AGENT_CONFIG,
        OPT_BROKER_HTTP,
        OPT_READ_ONLY,
        OPT_DRAIN,
        OPT_NO_DRAIN,
        OPT_AUDIT_DATA,
    };
    static const struct option options[] = {
        CLI_CONN_OPTIONS,
        {"tokens", required_argument, NULL, OPT_TOKENS},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"agent-config", required_argument, NULL, OPT_AGENT_CONFIG},
        {"broker-http", required_argument, NULL, OPT_BROKER_HTTP},
        {"read-only", no_argument, NULL, OPT_READ_ONLY},
        {"drain", no_argument, NULL, OPT_DRAIN},
        {"no-drain", no_argument, NULL, OPT_NO_DRAIN},
        {"audit-data", required_argument, NULL, OPT_AUDIT_DATA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    memset(o, 0, sizeof(*o));
    cli_conn_defaults(&o->conn);
    o->listen = "127.0.0.1:8080";
    o->agent_config = cli_agent_config_env();
    o->drain = -1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (cli_conn_option(&o->conn, opt, optarg))
            continue;
        switch (opt) {
        case OPT_TOKENS: o->tokens = optarg; break;
        case OPT_LISTEN: o->listen = optarg; break;
        case OPT_AGENT_CONFIG: o->agent_config = optarg; break;
        case OPT_BROKER_HTTP: o->broker_http = optarg; break;
        case OPT_READ_ONLY: o->read_only = true; break;
        case OPT_DRAIN: o->drain = 1; break;
        case OPT_NO_DRAIN: o->drain = 0; break;
        case OPT_AUDIT_DATA: o->audit_data = optarg; break;
        case 'h': usage(stdout); return -1;
        case CLI_OPT_TIMEOUT:
            cli_error(SUB, "--timeout '%s' is not a number of seconds above 0", optarg);
            return EX_USAGE;
        default:
            fprintf(stderr, "liaison: console: see liaison console --help\n");
            return EX_USAGE;
        }
    }
    if (optind != argc) {
        cli_error(SUB, "unexpected argument '%s' (see liaison console --help)", argv[optind]);
        return EX_USAGE;
    }
    if (o->tokens == NULL) {
        cli_error(SUB, "--tokens FILE is required: the officers' tokens (liaison console token "
                       "makes them)");
        return EX_USAGE;
    }
    if (o->conn.state == NULL) {
        cli_error(SUB, "--state DIR (or LIAISON_STATE) is required: the casebook there is what "
                       "the console shows");
        return EX_USAGE;
    }
    if (o->broker_http != NULL && strncmp(o->broker_http, "http://", 7) != 0 &&
        strncmp(o->broker_http, "https://", 8) != 0) {
        cli_error(SUB, "--broker-http '%s' is not an http:// or https:// URL", o->broker_http);
        return EX_USAGE;
    }
    return EX_OK;
}

/* Where the agent configured at path keeps its data file, into out. */
static int
agent_mdb_path(const char *path, char *out, size_t len)
{
    agent_config *cfg = NULL;
    int rc;

    if ((rc = cli_agent_config_load(SUB, path, &cfg)) != EX_OK)
        return rc;
    snprintf(out, len, "%s/agent/data.mdb", cfg->store);
    agent_config_destroy(&cfg);
    return EX_OK;
}

int
cli_console_main(int argc, char **argv)
{
    static console c; /* large (sessions, tokens): not on the stack */
    console_opts o;
    struct MHD_Daemon *daemon = NULL;
    liaison_client *lc = NULL;
    pthread_t drain;
    bool drain_started = false, loop = false;
    char host[256], why[512], *agency = NULL;
    uint16_t port = 0, bound = 0;
    sigset_t sigs;
    int rc, fd = -1, family = AF_INET, sig;

    if (argc >= 2 && strcmp(argv[1], "token") == 0)
        return token_main(argc - 1, argv + 1);
    if ((rc = parse(argc, argv, &o)) != EX_OK)
        return rc < 0 ? EX_OK : rc;
    /* Signals are taken by sigwait below: every thread (libliaison's, the HTTP server's, the
     * drain) blocks them, so none ends the process on its own. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    if (!split_listen(o.listen, host, sizeof(host), &port)) {
        cli_error(SUB, "--listen '%s' is not HOST:PORT (127.0.0.1:8080, [::1]:8080; port 0: "
                       "any free port)", o.listen);
        return EX_USAGE;
    }
    proto_log_configure(NULL, NULL, PROTO_LOG_INFO);
    memset(&c, 0, sizeof(c));
    c.tokens_path = o.tokens;
    if ((rc = console_tokens_load(o.tokens, &c.tokens, why, sizeof(why))) != 0) {
        cli_error(SUB, "%s", why);
        return rc;
    }
    if (c.tokens.count == 0)
        fprintf(stderr, "liaison: console: warning: %s holds no token yet: nobody can log in "
                        "(liaison console token adds one)\n", o.tokens);
    c.ctx.conn = o.conn;
    c.ctx.conn.actor = NULL;
    /* The drain acknowledges recalls: it sends as the console's --actor, or as itself. */
    c.drain_conn = o.conn;
    if (c.drain_conn.actor == NULL || c.drain_conn.actor[0] == '\0')
        c.drain_conn.actor = "system:liaison-console";
    c.ctx.agent_config = o.agent_config;
    c.ctx.audit_data = o.audit_data;
    c.ctx.read_only = o.read_only;
    c.broker_http = o.broker_http;
    c.draining = o.drain >= 0 ? o.drain == 1 : o.agent_config == NULL;
    if (o.agent_config != NULL &&
        (rc = agent_mdb_path(o.agent_config, c.agent_mdb.path, sizeof(c.agent_mdb.path))) != EX_OK)
        return rc;
    /* The agency, from its key (the connection completes in the background, if ever). */
    if ((rc = cli_connect(SUB, &o.conn, false, &lc)) != EX_OK)
        return rc;
    agency = strdup(liaison_client_address(lc));
    liaison_client_close(&lc);
    if (agency == NULL)
        return EX_OSERR;
    c.ctx.agency = agency;
    if ((rc = cli_casebook_open(SUB, &o.conn, &c.ctx.cb)) != EX_OK)
        goto done;
    snprintf(c.casebook_mdb.path, sizeof(c.casebook_mdb.path), "%s/casebook/data.mdb",
             o.conn.state);
    (void)console_generation_check(&c);
    c.generation = 1;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        cli_error(SUB, "cannot initialise libcurl");
        rc = EX_SOFTWARE;
        goto done;
    }
    if ((rc = listen_on(o.listen, host, port, &fd, &bound, &family, &loop)) != EX_OK)
        goto done;
    daemon = console_http_start(&c, fd, family == AF_INET6);
    if (daemon == NULL) {
        cli_error(SUB, "--listen %s: the HTTP server would not start", o.listen);
        rc = EX_OSERR;
        goto done;
    }
    atomic_store(&c.stop, false);
    pthread_cond_init(&c.wake, NULL);
    if (c.draining) {
        if (pthread_create(&drain, NULL, drain_main, &c) != 0) {
            cli_error(SUB, "cannot start the drain thread");
            rc = EX_OSERR;
            goto done;
        }
        drain_started = true;
    }
    if (!loop)
        fprintf(stderr, "liaison: console: warning: --listen %s is not a loopback address: "
                        "other machines can reach the console (plain HTTP; put TLS in front)\n",
                o.listen);
    printf("liaison console: serving %s at http://%s%s%s:%u/ (login: a token of %s; %s)\n", agency,
           family == AF_INET6 ? "[" : "", host, family == AF_INET6 ? "]" : "", (unsigned)bound,
           o.tokens, loop ? "loopback only" : "reachable from the network");
    fflush(stdout);
    PROTO_LOG(PROTO_LOG_INFO, "C-SERVING", "agency=%s port=%u read_only=%s draining=%s", agency,
              (unsigned)bound, o.read_only ? "true" : "false", c.draining ? "true" : "false");
    for (;;) {
        if (sigwait(&sigs, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            /* Nothing to reload: the tokens file is read again at every login. */
            PROTO_LOG(PROTO_LOG_INFO, "C-TOKENS", "file=%s read at each login", o.tokens);
            continue;
        }
        break;
    }
    PROTO_LOG(PROTO_LOG_INFO, "C-STOP", "agency=%s signal=%d", agency, sig);
    rc = EX_OK;
done:
    if (drain_started) {
        pthread_mutex_lock(&console_lock);
        atomic_store(&c.stop, true);
        pthread_cond_broadcast(&c.wake);
        pthread_mutex_unlock(&console_lock);
        pthread_join(drain, NULL);
    }
    console_http_stop(&daemon);
    casebook_close(&c.ctx.cb);
    curl_global_cleanup();
    sodium_memzero(&c.tokens, sizeof(c.tokens));
    sodium_memzero(&c.sessions, sizeof(c.sessions));
    free(agency);
    return rc;
}
