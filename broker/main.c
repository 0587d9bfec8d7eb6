/* liaison-broker: the daemon's command line, start-up and shut-down. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sysexits.h>
#include <unistd.h>

#include "broker.h"

static void
usage(FILE *out)
{
    fprintf(out,
            "NAME\n"
            "    liaison-broker - the Liaison broker daemon of one nation\n\n"
            "SYNOPSIS\n"
            "    liaison-broker --config FILE [--check | --init]\n"
            "    liaison-broker --help\n\n"
            "DESCRIPTION\n"
            "    Accepts messages from the agencies of its nation, applies the nation's\n"
            "    release policy, stores them durably in its data directory, delivers them\n"
            "    to local agencies and forwards them to partner brokers, and keeps an\n"
            "    append-only, tamper-evident audit log.  docs/operations.md describes the\n"
            "    configuration file.\n\n"
            "OPTIONS\n"
            "    -c, --config FILE   the broker configuration (YAML)\n"
            "    --check             validate the configuration, key, roster and policy, then exit\n"
            "    --init              create the data directory's store, empty, then exit; refused\n"
            "                        if the directory holds, or ever held, a store.  Without it\n"
            "                        the broker only opens a store that exists\n"
            "    -h, --help          print this page\n\n"
            "SIGNALS\n"
            "    SIGHUP   reload the policy, the roster and the configuration's peers:\n"
            "             partners added are dialled, partners removed are closed (their\n"
            "             queues kept), the others are not touched.  A file that does not\n"
            "             load is refused and the old one stays in force (for a\n"
            "             configuration: its peers).  Other fields of the configuration\n"
            "             take effect at the next start\n"
            "    SIGTERM  stop reading new work, commit and answer what is in flight, exit\n\n"
            "EXIT STATUS\n"
            "    0 clean exit; 64 bad usage; 65 the store is damaged (its data file is\n"
            "    truncated or empty, or not a store); 66 a file is missing (the\n"
            "    configuration, or the store: never created, or its data file deleted);\n"
            "    69 the data directory is held by another broker, or an endpoint cannot be\n"
            "    bound; 70 internal error; 73 the store cannot be created (--init where\n"
            "    there is one); 74 the disk cannot be read or written (full, or failing);\n"
            "    78 the configuration, key, roster or policy is invalid, or the store was\n"
            "    made with another broker key.\n");
}

int
broker_peers_check(const broker *b, const broker_config *cfg, char *why, size_t why_len)
{
    if (cfg->peer_count > BROKER_PEERS_MAX) {
        snprintf(why, why_len, "%s lists %zu peers; a broker has at most %u", cfg->source,
                 cfg->peer_count, BROKER_PEERS_MAX);
        return EX_CONFIG;
    }
    /* A reload does not switch between signed and unsigned roster mode:
     * the broker's own section and what it accepted were judged by it. */
    if (cfg->nation_keys != b->cfg->nation_keys) {
        snprintf(why, why_len, "%s %s nation keys, and the broker runs %s them: a restart "
                 "changes the roster mode", cfg->source, cfg->nation_keys ? "gives" : "gives no",
                 b->cfg->nation_keys ? "with" : "without");
        return EX_CONFIG;
    }
    for (size_t i = 0; i < cfg->peer_count; i++) {
        if (strcmp(cfg->peers[i].nation, b->cfg->nation) == 0) {
            snprintf(why, why_len, "%s lists its own nation %s as a peer", cfg->source,
                     cfg->nation);
            return EX_CONFIG;
        }
    }
    return EX_OK;
}

int
broker_roster_load(const broker *b, const broker_config *cfg, proto_roster **roster_out,
                   char *why, size_t why_len)
{
    proto_detail d = {{0}, {0}};
    proto_roster *r = NULL;
    const proto_roster_entry *e;
    int rc = EX_CONFIG;

    if (proto_roster_load(b->cfg->roster, &r, &d) != PROTO_OK) {
        snprintf(why, why_len, "%s", d.text);
        goto out;
    }
    if (broker_roster_signed_check(b, cfg, r, why, why_len) != EX_OK)
        goto out;
    e = proto_roster_find(r, &b->id->addr);
    if (e == NULL || e->revoked ||
        memcmp(e->card.curve_public, b->id->curve_public, PROTO_CURVE_KEY_BYTES) != 0 ||
        memcmp(e->card.sign_public, b->id->sign_public, PROTO_SIGN_PUBLIC_BYTES) != 0) {
        snprintf(why, why_len, "%s has no active card matching %s", b->cfg->roster,
                 b->cfg->identity);
        goto out;
    }
    for (size_t i = 0; i < cfg->peer_count; i++) {
        proto_addr peer;

        if (proto_addr_parse(cfg->peers[i].nation, &peer, NULL) != PROTO_OK ||
            (e = proto_roster_find(r, &peer)) == NULL) {
            /* A revoked card is an operator's decision (the partner is cut
             * off); no card at all is a roster that lost a partner. */
            snprintf(why, why_len, "%s has no broker card for the peer %s", b->cfg->roster,
                     cfg->peers[i].nation);
            goto out;
        }
    }
    *roster_out = r;
    r = NULL;
    rc = EX_OK;
out:
    proto_roster_destroy(&r);
    return rc;
}

int
broker_policy_load(const broker *b, policy **pol_out, policy_rate **rate_out, char *why,
                   size_t why_len)
{
    policy_load_error perr;
    policy *pol = NULL;
    policy_rate *rate = NULL;
    int rc = EX_CONFIG;

    if (policy_load(b->cfg->policy, &pol, &perr) != POLICY_OK) {
        policy_load_error_format(&perr, why, why_len);
        goto out;
    }
    if (strcmp(policy_nation(pol), b->cfg->nation) != 0) {
        snprintf(why, why_len, "%s is the policy of %s, not %s", b->cfg->policy,
                 policy_nation(pol), b->cfg->nation);
        goto out;
    }
    if (policy_rate_new(pol, &rate) != POLICY_OK) {
        snprintf(why, why_len, "%s: out of memory for its rate limits", b->cfg->policy);
        rc = EX_SOFTWARE;
        goto out;
    }
    *pol_out = pol;
    *rate_out = rate;
    pol = NULL;
    rc = EX_OK;
out:
    policy_destroy(&pol);
    return rc;
}

/* Loads and cross-checks the identity, roster and policy the configuration
 * names; the roster and policy through the loaders a reload uses too. */
static int
load_files(broker *b)
{
    proto_detail d = {{0}, {0}};
    char why[768];
    int rc;

    if (proto_keyfile_read(b->cfg->identity, &b->id, &d) != PROTO_OK) {
        fprintf(stderr, "liaison-broker: identity: %s\n", d.text);
        return EX_CONFIG;
    }
    if (b->id->addr.kind != PROTO_ADDR_BROKER || strcmp(b->id->addr.nation, b->cfg->nation) != 0) {
        fprintf(stderr, "liaison-broker: identity: %s is not the key of broker %s\n",
                b->cfg->identity, b->cfg->nation);
        return EX_CONFIG;
    }
    rc = broker_peers_check(b, b->cfg, why, sizeof(why));
    if (rc != EX_OK) {
        fprintf(stderr, "liaison-broker: peers: %s\n", why);
        return rc;
    }
    rc = broker_roster_load(b, b->cfg, &b->roster.roster, why, sizeof(why));
    if (rc != EX_OK) {
        fprintf(stderr, "liaison-broker: roster: %s\n", why);
        return rc;
    }
    /* The ZAP handler admits these partners from the moment the federation
     * endpoint is bound, before their DEALERs are opened. */
    broker_zap_peers_set(b, b->cfg);
    rc = broker_policy_load(b, &b->pol, &b->rate, why, sizeof(why));
    if (rc != EX_OK) {
        fprintf(stderr, "liaison-broker: policy: %s\n", why);
        return rc;
    }
    return EX_OK;
}

/* Binds one CURVE ROUTER; the ZAP handler decides who gets through. */
static void *
bind_router(broker *b, const char *endpoint, const char *domain)
{
    void *sock = zmq_socket(b->zctx, ZMQ_ROUTER);
    int one = 1, linger = 0;
    int64_t max = (int64_t)b->cfg->limits.max_message_bytes + BROKER_MESSAGE_OVERHEAD;
    int rcvbuf = (int)BROKER_GUARD_RCVBUF;
    /* Room for every answer a connection can be owed: one per submit it may
     * have pending, one per delivery in flight, and some for status and
     * pings.  Past that the client is not reading, and answers are dropped
     * (it resends after its timeout and is answered then). */
    int hwm = (int)(b->cfg->limits.max_pending_per_client + b->cfg->limits.max_in_flight + 4096);

    if (sock == NULL)
        return NULL;
    zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one));
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, b->id->curve_secret, PROTO_CURVE_KEY_BYTES);
    zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, domain, strlen(domain));
    zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof(linger));
    zmq_setsockopt(sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
    /* A frame larger than any message we accept closes the connection: it
     * cannot be answered without reading it all. */
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &max, sizeof(max));
    zmq_setsockopt(sock, ZMQ_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    /* No option bounds the frames of one message, which libzmq holds until
     * the last one arrives: the guard bounds what each connection holds. */
    if (broker_guard_watch(b, sock, domain) != 0) {
        fprintf(stderr, "liaison-broker: cannot watch the connections of %s (%s): %s\n", endpoint,
                domain, zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    if (zmq_bind(sock, endpoint) != 0) {
        fprintf(stderr, "liaison-broker: cannot bind %s (%s): %s\n", endpoint, domain,
                zmq_strerror(zmq_errno()));
        zmq_close(sock);
        return NULL;
    }
    return sock;
}

/* The exit status for a store that cannot be opened (sysexits). */
static int
store_exit(store_err err)
{
    switch (err) {
    case STORE_ERR_LOCKED:
    case STORE_ERR_NETWORK_FS:
        return EX_UNAVAILABLE;
    case STORE_ERR_NOT_FOUND:
    case STORE_ERR_LOST:
        return EX_NOINPUT;
    case STORE_ERR_CORRUPT:
    case STORE_ERR_VERSION:
        return EX_DATAERR;
    case STORE_ERR_KEY:
        return EX_CONFIG;
    case STORE_ERR_IO:
    case STORE_ERR_DISK_FULL:
        return EX_IOERR;
    default:
        return EX_CANTCREAT;
    }
}

/* Opens the store; with init, creates it instead (and only that). */
static int
open_store(broker *b, bool init)
{
    store_config sc;
    proto_detail d = {{0}, {0}};
    store_err serr;

    store_config_init(&sc);
    sc.dir = b->cfg->data_dir;
    /* A store is made by --init alone: a data directory whose store has
     * gone missing must not become a new, empty one by starting the broker. */
    sc.flags = init ? STORE_OPEN_CREATE | STORE_OPEN_EXCL : 0;
    sc.identity = b->id;
    /* Under load a batch holds a few thousand items; written as one
     * transaction, its dirty pages would stay in LMDB's cache for good. */
    sc.batch_txn_items = BROKER_TXN_ITEMS;
    serr = store_open(&sc, &b->st, &d);
    if (serr != STORE_OK) {
        fprintf(stderr, "liaison-broker: data directory %s: %s: %s\n", b->cfg->data_dir,
                store_strerror(serr), d.text);
        if (serr == STORE_ERR_NOT_FOUND)
            fprintf(stderr, "liaison-broker: to create a new, empty store there, run "
                            "liaison-broker --config %s --init\n", b->config_path);
        return store_exit(serr);
    }
    if (init)
        printf("%s: created an empty store for broker %s in %s\n", b->config_path,
               b->cfg->nation, b->cfg->data_dir);
    return EX_OK;
}

static int
start(broker *b)
{
    sigset_t set;
    char err[256];
    int rc;

    if ((rc = open_store(b, false)) != EX_OK)
        return rc;
    if (broker_metrics_new(&b->metrics) != BROKER_METRICS_OK)
        return EX_SOFTWARE;
    b->zctx = zmq_ctx_new();
    if (b->zctx == NULL)
        return EX_SOFTWARE;
    /* The ZAP handler first: libzmq admits every client that knows the server
     * key when no handler is bound, so nothing binds before it runs. */
    if (broker_zap_start(b) != 0) {
        fprintf(stderr, "liaison-broker: the ZAP authentication handler could not be bound; "
                        "refusing to start\n");
        return EX_SOFTWARE;
    }
    if (broker_workers_start(b) != 0 || broker_committer_start(b) != 0)
        return EX_SOFTWARE;
    b->agency_sock = bind_router(b, b->cfg->agency_endpoint, "agency");
    if (b->agency_sock == NULL)
        return EX_UNAVAILABLE;
    b->fed_sock = bind_router(b, b->cfg->federation_endpoint, "federation");
    if (b->fed_sock == NULL)
        return EX_UNAVAILABLE;
    if (broker_guard_start(b) != 0)
        return EX_SOFTWARE;
    if (broker_peers_open(b) != 0)
        return EX_CONFIG;
    broker_metrics_set_identity(b->metrics, b->id->addr.nation, broker_now_ms());
    for (size_t i = 0; i < b->peer_count; i++) /* down, since no known time, until they link */
        (void)broker_metrics_set_peer_since(b->metrics, b->peers[i].nation, false, 0);
    if (b->cfg->metrics_endpoint != NULL &&
        broker_metrics_serve(b->metrics, b->cfg->metrics_endpoint, err, sizeof(err)) !=
            BROKER_METRICS_OK) {
        fprintf(stderr, "liaison-broker: metrics endpoint %s: %s\n", b->cfg->metrics_endpoint, err);
        return EX_UNAVAILABLE;
    }
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if ((b->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
        return EX_OSERR;
    b->next_sweep_ms = broker_now_ms() + 1000u;
    b->next_head_ms = broker_now_ms();
    if (!b->cfg->nation_keys)
        PROTO_LOG(PROTO_LOG_WARN, "B-ROSTER-UNSIGNED",
                  "roster=%s action=\"unsigned roster mode: no nation keys are pinned, so roster "
                  "changes are copied by hand to every broker; roster commands are refused\"",
                  b->cfg->roster);
    broker_roster_publish(b);
    return EX_OK;
}

static void
stop(broker *b)
{
    if (b->metrics != NULL)
        broker_metrics_stop(b->metrics);
    broker_guard_stop(b);
    broker_peers_close(b);
    if (b->agency_sock != NULL)
        zmq_close(b->agency_sock);
    if (b->fed_sock != NULL)
        zmq_close(b->fed_sock);
    broker_workers_stop(b);
    broker_committer_stop(b);
    broker_zap_stop(b);
    if (b->zctx != NULL)
        zmq_ctx_term(b->zctx);
    if (b->signal_fd > 0)
        close(b->signal_fd);
    broker_metrics_destroy(&b->metrics);
    store_close(&b->st);
    policy_rate_destroy(&b->rate);
    policy_destroy(&b->pol);
    proto_roster_destroy(&b->roster.roster);
    free(b->own_section);
    b->own_section = NULL;
    proto_identity_destroy(&b->id);
    if (b->peers_cfg != b->cfg)
        broker_config_destroy(&b->peers_cfg);
    b->peers_cfg = NULL;
    broker_config_destroy(&b->cfg);
}

int
main(int argc, char **argv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"init", no_argument, NULL, 'i'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static broker b;
    const char *config = NULL;
    bool check = false, init = false;
    broker_config_detail cd;
    broker_config_err cerr;
    int opt, rc;

    while ((opt = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'k':
            check = true;
            break;
        case 'i':
            init = true;
            break;
        case 'h':
            usage(stdout);
            return EX_OK;
        default:
            usage(stderr);
            return EX_USAGE;
        }
    }
    if (config == NULL || optind != argc || (check && init)) {
        fprintf(stderr, "liaison-broker: %s\n",
                config == NULL    ? "--config FILE is required"
                : check && init ? "--check and --init do not go together"
                                  : "unexpected argument");
        usage(stderr);
        return EX_USAGE;
    }
    if (proto_init() != PROTO_OK)
        return EX_SOFTWARE;
    /* Block the signals the loop reads through a signalfd before any thread
     * starts: threads inherit the mask, so none of them takes a signal. */
    {
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        signal(SIGPIPE, SIG_IGN);
        if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
            return EX_OSERR;
    }
    cerr = broker_config_load(config, &b.cfg, &cd);
    if (cerr != BROKER_CONFIG_OK) {
        fprintf(stderr, "liaison-broker: %s\n", cd.text);
        return cerr == BROKER_CONFIG_ERR_IO ? EX_NOINPUT : EX_CONFIG;
    }
    proto_log_configure(NULL, NULL, b.cfg->log_level);
    b.peers_cfg = b.cfg;
    snprintf(b.config_path, sizeof(b.config_path), "%s", config);
    pthread_rwlock_init(&b.roster.lock, NULL);
    pthread_mutex_init(&b.pol_lock, NULL);
    b.signal_fd = -1;
    rc = load_files(&b);
    if (rc == EX_OK && check) {
        printf("%s: configuration, key, roster and policy of %s are valid\n", config,
               b.cfg->nation);
        stop(&b);
        return EX_OK;
    }
    if (rc == EX_OK && init) {
        rc = open_store(&b, true);
        stop(&b);
        pthread_rwlock_destroy(&b.roster.lock);
        pthread_mutex_destroy(&b.pol_lock);
        return rc;
    }
    if (rc == EX_OK)
        rc = start(&b);
    if (rc == EX_OK)
        rc = broker_run(&b) == 0 ? EX_OK : EX_SOFTWARE;
    stop(&b);
    pthread_rwlock_destroy(&b.roster.lock);
    pthread_mutex_destroy(&b.pol_lock);
    return rc;
}
