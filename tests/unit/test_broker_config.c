/* Unit tests of broker/config.c: every field, defaults, paths, and one case per error class. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "helpers.h"

/* The seven required fields, lines 1 to 7; REST is lines 2 to 7. */
#define BASE "nation: USA\n" REST
#define REST                                                                                       \
    "identity: keys/usa-broker.key\n"                                                              \
    "roster: roster\n"                                                                             \
    "policy: usa.policy.yaml\n"                                                                    \
    "data_dir: data/usa\n"                                                                         \
    "agency_endpoint: tcp://127.0.0.1:7001\n"                                                      \
    "federation_endpoint: tcp://127.0.0.1:7101\n"

/* Loads text as "usa.yaml"; returns the code and fills *d. */
static broker_config_err
load(const char *text, broker_config **cfg, broker_config_detail *d)
{
    return broker_config_load_buffer(text, strlen(text), "usa.yaml", cfg, d);
}

/* Asserts that text is refused with code, at line:col on field, with exactly message. */
static void
expect_error(const char *text, broker_config_err code, unsigned line, unsigned col,
             const char *field, const char *message)
{
    broker_config *cfg = NULL;
    broker_config_detail d;
    broker_config_err err = load(text, &cfg, &d);

    if (err != code)
        fail_msg("expected %s, got %s: %s\n--- input ---\n%s", broker_config_strerror(code),
                 broker_config_strerror(err), err != BROKER_CONFIG_OK ? d.text : "(loaded)", text);
    assert_null(cfg);
    assert_string_equal(d.text, message);
    assert_string_equal(d.field, field);
    assert_int_equal(d.line, line);
    assert_int_equal(d.column, col);
}

/* Loads text that must be valid. */
static broker_config *
expect_ok(const char *text)
{
    broker_config *cfg = NULL;
    broker_config_detail d;
    broker_config_err err = load(text, &cfg, &d);

    if (err != BROKER_CONFIG_OK)
        fail_msg("refused: %s\n--- input ---\n%s", d.text, text);
    assert_non_null(cfg);
    return cfg;
}

static char cwd[PATH_MAX];

static int
setup_group(void **state)
{
    (void)state;
    test_quiet_logs();
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -1;
    return 0;
}

/* ---- What loads ------------------------------------------------------------ */

static void
test_broker_config_minimal_gets_defaults(void **state)
{
    broker_config *cfg = expect_ok(BASE);
    char want[PATH_MAX + 64];

    (void)state;
    assert_string_equal(cfg->nation, "USA");
    snprintf(want, sizeof(want), "%s/keys/usa-broker.key", cwd);
    assert_string_equal(cfg->identity, want);
    assert_string_equal(cfg->source, "usa.yaml");
    assert_string_equal(cfg->agency_endpoint, "tcp://127.0.0.1:7001");
    assert_string_equal(cfg->federation_endpoint, "tcp://127.0.0.1:7101");
    assert_null(cfg->metrics_endpoint);
    assert_null(cfg->peers);
    assert_int_equal(cfg->peer_count, 0);
    assert_int_equal(cfg->limits.max_message_bytes, 16777216);
    assert_int_equal(cfg->limits.max_in_flight, 64);
    assert_int_equal(cfg->limits.max_queue_depth, 1000000);
    assert_int_equal(cfg->limits.max_pending_per_client, 1024);
    assert_int_equal(cfg->tree_head_interval_s, 60);
    assert_int_equal(cfg->expiry_sweep_interval_s, 5);
    assert_true(cfg->verify_signatures);
    assert_int_equal(cfg->verify_threads, 0);
    assert_true(broker_config_verify_thread_count(cfg) >= 1);
    assert_int_equal(cfg->log_level, PROTO_LOG_INFO);
    broker_config_destroy(&cfg);
    assert_null(cfg);
    broker_config_destroy(&cfg);
    broker_config_destroy(NULL);
}

static void
test_broker_config_every_field(void **state)
{
    broker_config *cfg = expect_ok(
        "# a full configuration\n"
        "nation: CAN\n"
        "identity: /etc/liaison/can/broker.key\n"
        "roster: /etc/liaison/roster\n"
        "policy: /etc/liaison/can.policy.yaml\n"
        "data_dir: /var/lib/liaison/can\n"
        "agency_endpoint: tcp://*:7002\n"
        "federation_endpoint: \"tcp://[::1]:7102\"\n"
        "metrics_endpoint: 127.0.0.1:9102\n"
        "peers:\n"
        "  - nation: USA\n"
        "    endpoint: tcp://broker.usa.example:7101\n"
        "  - {nation: MEX, endpoint: 'tcp://10.0.0.3:7103'}\n"
        "limits:\n"
        "  max_message_bytes: 1024\n"
        "  max_in_flight: 10000\n"
        "  max_queue_depth: 100000000\n"
        "  max_pending_per_client: 1\n"
        "tree_head_interval_s: 86400\n"
        "expiry_sweep_interval_s: 3600\n"
        "verify_signatures: false\n"
        "verify_threads: 64\n"
        "log_level: debug\n");

    (void)state;
    assert_string_equal(cfg->nation, "CAN");
    assert_string_equal(cfg->identity, "/etc/liaison/can/broker.key");
    assert_string_equal(cfg->roster, "/etc/liaison/roster");
    assert_string_equal(cfg->policy, "/etc/liaison/can.policy.yaml");
    assert_string_equal(cfg->data_dir, "/var/lib/liaison/can");
    assert_string_equal(cfg->agency_endpoint, "tcp://*:7002");
    assert_string_equal(cfg->federation_endpoint, "tcp://[::1]:7102");
    assert_string_equal(cfg->metrics_endpoint, "127.0.0.1:9102");
    assert_int_equal(cfg->peer_count, 2);
    assert_string_equal(cfg->peers[0].nation, "USA");
    assert_string_equal(cfg->peers[0].endpoint, "tcp://broker.usa.example:7101");
    assert_string_equal(cfg->peers[1].nation, "MEX");
    assert_string_equal(cfg->peers[1].endpoint, "tcp://10.0.0.3:7103");
    assert_ptr_equal(broker_config_peer_find(cfg, "MEX"), &cfg->peers[1]);
    assert_null(broker_config_peer_find(cfg, "CAN"));
    assert_int_equal(cfg->limits.max_message_bytes, 1024);
    assert_int_equal(cfg->limits.max_in_flight, 10000);
    assert_int_equal(cfg->limits.max_queue_depth, 100000000);
    assert_int_equal(cfg->limits.max_pending_per_client, 1);
    assert_int_equal(cfg->tree_head_interval_s, 86400);
    assert_int_equal(cfg->expiry_sweep_interval_s, 3600);
    assert_false(cfg->verify_signatures);
    assert_int_equal(cfg->verify_threads, 64);
    assert_int_equal(broker_config_verify_thread_count(cfg), 64);
    assert_int_equal(cfg->log_level, PROTO_LOG_DEBUG);
    broker_config_destroy(&cfg);
}

static void
test_broker_config_empty_optional_blocks(void **state)
{
    broker_config *cfg = expect_ok(BASE "peers: []\nlimits: {}\nmetrics_endpoint: ~\n");

    (void)state;
    assert_int_equal(cfg->peer_count, 0);
    assert_null(cfg->metrics_endpoint);
    assert_int_equal(cfg->limits.max_in_flight, 64);
    broker_config_destroy(&cfg);

    cfg = expect_ok(BASE "peers:\nlimits:\nlog_level: error\nverify_signatures: True\n");
    assert_int_equal(cfg->peer_count, 0);
    assert_int_equal(cfg->limits.max_queue_depth, 1000000);
    assert_int_equal(cfg->log_level, PROTO_LOG_ERROR);
    assert_true(cfg->verify_signatures);
    broker_config_destroy(&cfg);
}

static void
test_broker_config_relative_paths_follow_the_file(void **state)
{
    const char *text = BASE;
    broker_config *cfg = NULL;
    broker_config_detail d;
    char want[PATH_MAX + 64];

    (void)state;
    assert_int_equal(broker_config_load_buffer(text, strlen(text), "/etc/liaison/usa.yaml", &cfg, &d),
                     BROKER_CONFIG_OK);
    assert_string_equal(cfg->identity, "/etc/liaison/keys/usa-broker.key");
    assert_string_equal(cfg->roster, "/etc/liaison/roster");
    assert_string_equal(cfg->policy, "/etc/liaison/usa.policy.yaml");
    assert_string_equal(cfg->data_dir, "/etc/liaison/data/usa");
    broker_config_destroy(&cfg);

    assert_int_equal(broker_config_load_buffer(text, strlen(text), "/usa.yaml", &cfg, &d),
                     BROKER_CONFIG_OK);
    assert_string_equal(cfg->identity, "/keys/usa-broker.key");
    broker_config_destroy(&cfg);

    assert_int_equal(broker_config_load_buffer(text, strlen(text), "deploy/x/usa.yaml", &cfg, &d),
                     BROKER_CONFIG_OK);
    snprintf(want, sizeof(want), "%s/deploy/x/data/usa", cwd);
    assert_string_equal(cfg->data_dir, want);
    broker_config_destroy(&cfg);

    assert_int_equal(broker_config_load_buffer(text, strlen(text), NULL, &cfg, &d), BROKER_CONFIG_OK);
    assert_string_equal(cfg->source, "<config>");
    snprintf(want, sizeof(want), "%s/roster", cwd);
    assert_string_equal(cfg->roster, want);
    broker_config_destroy(&cfg);
}

static void
test_broker_config_load_reads_a_file(void **state)
{
    char dir[256], path[300], want[400];
    broker_config *cfg = NULL;
    broker_config_detail d;
    FILE *f;

    (void)state;
    test_scratch_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/usa.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE "log_level: warn\n", f);
    fclose(f);
    assert_int_equal(broker_config_load(path, &cfg, &d), BROKER_CONFIG_OK);
    snprintf(want, sizeof(want), "%s/keys/usa-broker.key", dir);
    assert_string_equal(cfg->identity, want);
    assert_string_equal(cfg->source, path);
    assert_int_equal(cfg->log_level, PROTO_LOG_WARN);
    broker_config_destroy(&cfg);

    /* A missing file names itself and the system's reason. */
    snprintf(path, sizeof(path), "%s/absent.yaml", dir);
    assert_int_equal(broker_config_load(path, &cfg, &d), BROKER_CONFIG_ERR_IO);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    assert_string_equal(d.text, want);
    assert_null(cfg);

    /* An error in a file names the file as given. */
    snprintf(path, sizeof(path), "%s/bad.yaml", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(BASE "log_level: loud\n", f);
    fclose(f);
    assert_int_equal(broker_config_load(path, &cfg, NULL), BROKER_CONFIG_ERR_INVALID);
    assert_int_equal(broker_config_load(path, &cfg, &d), BROKER_CONFIG_ERR_INVALID);
    snprintf(want, sizeof(want), "%s:8:12: log_level: 'loud' is not one of: error, warn, info, debug",
             path);
    assert_string_equal(d.text, want);

    /* A file that others can write, or in a directory they can write, is
     * refused: it names the key, roster and policy the broker trusts. */
    snprintf(path, sizeof(path), "%s/usa.yaml", dir);
    assert_int_equal(chmod(path, 0666), 0);
    assert_int_equal(broker_config_load(path, &cfg, &d), BROKER_CONFIG_ERR_PERMISSION);
    assert_null(cfg);
    assert_non_null(strstr(d.text, path));
    assert_non_null(strstr(d.text, "mode 0666"));
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    assert_int_equal(broker_config_load(path, &cfg, &d), BROKER_CONFIG_ERR_PERMISSION);
    assert_non_null(strstr(d.text, "mode 0777"));
    assert_int_equal(chmod(dir, 0700), 0);
    assert_int_equal(broker_config_load(path, &cfg, &d), BROKER_CONFIG_OK);
    broker_config_destroy(&cfg);
    test_scratch_remove(dir);
}

/* ---- One test per error class ----------------------------------------------- */

static void
test_broker_config_unknown_field(void **state)
{
    (void)state;
    expect_error(BASE "verify_signature: true\n", BROKER_CONFIG_ERR_UNKNOWN_FIELD, 8, 1,
                 "verify_signature",
                 "usa.yaml:8:1: verify_signature: unknown field (known here: nation, identity, "
                 "roster, policy, data_dir, agency_endpoint, federation_endpoint, metrics_endpoint, "
                 "peers, limits, tree_head_interval_s, expiry_sweep_interval_s, verify_signatures, "
                 "verify_threads, log_level, nation_key)");
    expect_error(BASE "limits:\n  max_inflight: 3\n", BROKER_CONFIG_ERR_UNKNOWN_FIELD, 9, 3,
                 "limits.max_inflight",
                 "usa.yaml:9:3: limits.max_inflight: unknown field (known here: max_message_bytes, "
                 "max_in_flight, max_queue_depth, max_pending_per_client)");
    expect_error(BASE "peers:\n"
                      "  - nation: CAN\n"
                      "    endpoint: tcp://127.0.0.1:7102\n"
                      "  - nation: MEX\n"
                      "    endpoint: tcp://127.0.0.1:7103\n"
                      "    weight: 2\n",
                 BROKER_CONFIG_ERR_UNKNOWN_FIELD, 13, 5, "peers[1].weight",
                 "usa.yaml:13:5: peers[1].weight: unknown field (known here: nation, endpoint, "
                 "nation_key)");
}

static void
test_broker_config_missing_field(void **state)
{
    (void)state;
    expect_error("nation: USA\n"
                 "identity: keys/usa-broker.key\n"
                 "policy: usa.policy.yaml\n"
                 "data_dir: data/usa\n"
                 "agency_endpoint: tcp://127.0.0.1:7001\n"
                 "federation_endpoint: tcp://127.0.0.1:7101\n",
                 BROKER_CONFIG_ERR_MISSING_FIELD, 1, 1, "roster",
                 "usa.yaml:1:1: roster: required field is missing");
    expect_error(BASE "peers:\n"
                      "  - nation: CAN\n"
                      "    endpoint: tcp://127.0.0.1:7102\n"
                      "  - nation: MEX\n",
                 BROKER_CONFIG_ERR_MISSING_FIELD, 11, 5, "peers[1].endpoint",
                 "usa.yaml:11:5: peers[1].endpoint: required field is missing");
    expect_error("", BROKER_CONFIG_ERR_MISSING_FIELD, 1, 1, "nation",
                 "usa.yaml:1:1: nation: required field is missing (the configuration is empty)");
    expect_error("# nothing but a comment\n", BROKER_CONFIG_ERR_MISSING_FIELD, 1, 1, "nation",
                 "usa.yaml:1:1: nation: required field is missing (the configuration is empty)");
    /* Present but null or empty is missing too. */
    expect_error("nation: USA\n"
                 "identity: ~\n"
                 "roster: roster\n"
                 "policy: \"\"\n"
                 "data_dir: data/usa\n"
                 "agency_endpoint: tcp://127.0.0.1:7001\n"
                 "federation_endpoint: tcp://127.0.0.1:7101\n",
                 BROKER_CONFIG_ERR_MISSING_FIELD, 2, 11, "identity",
                 "usa.yaml:2:11: identity: has no value");
}

static void
test_broker_config_wrong_type(void **state)
{
    (void)state;
    expect_error(BASE "peers: CAN\n", BROKER_CONFIG_ERR_TYPE, 8, 8, "peers",
                 "usa.yaml:8:8: peers: expected a list, found a single value");
    expect_error(BASE "peers:\n  - CAN\n", BROKER_CONFIG_ERR_TYPE, 9, 5, "peers[0]",
                 "usa.yaml:9:5: peers[0]: expected a mapping of fields, found a single value");
    expect_error(BASE "limits: [1, 2]\n", BROKER_CONFIG_ERR_TYPE, 8, 9, "limits",
                 "usa.yaml:8:9: limits: expected a mapping of fields, found a list");
    expect_error(BASE "limits:\n  max_in_flight: lots\n", BROKER_CONFIG_ERR_TYPE, 9, 18,
                 "limits.max_in_flight",
                 "usa.yaml:9:18: limits.max_in_flight: 'lots' is not a whole number (decimal "
                 "digits, no sign or leading zero)");
    /* strtoull would take these; the loader does not. */
    expect_error(BASE "verify_threads: -1\n", BROKER_CONFIG_ERR_TYPE, 8, 17, "verify_threads",
                 "usa.yaml:8:17: verify_threads: '-1' is not a whole number (decimal digits, no "
                 "sign or leading zero)");
    expect_error(BASE "tree_head_interval_s: 1.5\n", BROKER_CONFIG_ERR_TYPE, 8, 23,
                 "tree_head_interval_s",
                 "usa.yaml:8:23: tree_head_interval_s: '1.5' is not a whole number (decimal "
                 "digits, no sign or leading zero)");
    expect_error(BASE "expiry_sweep_interval_s: 0x10\n", BROKER_CONFIG_ERR_TYPE, 8, 26,
                 "expiry_sweep_interval_s",
                 "usa.yaml:8:26: expiry_sweep_interval_s: '0x10' is not a whole number (decimal "
                 "digits, no sign or leading zero)");
    expect_error(BASE "verify_threads: 010\n", BROKER_CONFIG_ERR_TYPE, 8, 17, "verify_threads",
                 "usa.yaml:8:17: verify_threads: '010' is not a whole number (decimal digits, no "
                 "sign or leading zero)");
    expect_error(BASE "verify_signatures: maybe\n", BROKER_CONFIG_ERR_TYPE, 8, 20,
                 "verify_signatures", "usa.yaml:8:20: verify_signatures: 'maybe' is not true or false");
    expect_error(BASE "verify_signatures: yes\n", BROKER_CONFIG_ERR_TYPE, 8, 20,
                 "verify_signatures", "usa.yaml:8:20: verify_signatures: 'yes' is not true or false");
    expect_error(BASE "log_level: [debug]\n", BROKER_CONFIG_ERR_TYPE, 8, 12, "log_level",
                 "usa.yaml:8:12: log_level: expected a single value, found a list");
    expect_error("nation: {code: USA}\n", BROKER_CONFIG_ERR_TYPE, 1, 9, "nation",
                 "usa.yaml:1:9: nation: expected a string, found a mapping");
    expect_error("- nation: USA\n", BROKER_CONFIG_ERR_TYPE, 1, 1, "",
                 "usa.yaml:1:1: a configuration is a mapping of 'field: value' lines, not a list");
}

/* One range: the field, its bounds, and the column where its value starts. */
typedef struct range_case {
    const char *field;   /* YAML path */
    unsigned long long min; /* lowest value taken */
    unsigned long long max; /* highest value taken */
} range_case;

static void
test_broker_config_out_of_range(void **state)
{
    static const range_case cases[] = {
        {"limits.max_message_bytes", 1024, 67108864},
        {"limits.max_in_flight", 1, 10000},
        {"limits.max_queue_depth", 1, 100000000},
        {"limits.max_pending_per_client", 1, 1000000},
        {"tree_head_interval_s", 1, 86400},
        {"expiry_sweep_interval_s", 1, 3600},
        {"verify_threads", 0, 64},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const range_case *rc = &cases[i];
        const char *leaf = strchr(rc->field, '.');
        unsigned line = leaf != NULL ? 9 : 8;
        unsigned col = (unsigned)strlen(leaf != NULL ? leaf + 1 : rc->field) + (leaf != NULL ? 5 : 3);
        unsigned long long bad[2] = {rc->min - 1, rc->max + 1};
        char text[1024], want[512];

        for (size_t b = 0; b < 2; b++) {
            broker_config *cfg;

            if (b == 0 && rc->min == 0)
                continue;
            snprintf(text, sizeof(text), BASE "%s%s: %llu\n",
                     leaf != NULL ? "limits:\n  " : "", leaf != NULL ? leaf + 1 : rc->field, bad[b]);
            snprintf(want, sizeof(want), "usa.yaml:%u:%u: %s: %llu is out of range (%llu .. %llu)",
                     line, col, rc->field, bad[b], rc->min, rc->max);
            expect_error(text, BROKER_CONFIG_ERR_RANGE, line, col, rc->field, want);
            /* The bounds themselves load. */
            snprintf(text, sizeof(text), BASE "%s%s: %llu\n",
                     leaf != NULL ? "limits:\n  " : "", leaf != NULL ? leaf + 1 : rc->field,
                     b == 0 ? rc->min : rc->max);
            cfg = expect_ok(text);
            broker_config_destroy(&cfg);
        }
    }
    /* At most BROKER_CONFIG_PEERS_MAX peers; the first one too many is named. */
    {
        size_t cap = 64 * (BROKER_CONFIG_PEERS_MAX + 2) + 512, n;
        char *text = malloc(cap);
        char want[128];

        assert_non_null(text);
        n = (size_t)snprintf(text, cap, "%s", BASE "peers:\n");
        for (unsigned i = 0; i <= BROKER_CONFIG_PEERS_MAX; i++)
            n += (size_t)snprintf(text + n, cap - n, "  - {nation: %c%c%c, endpoint: \"tcp://h:1\"}\n",
                                  'A' + i / 676, 'A' + i / 26 % 26, 'A' + i % 26);
        snprintf(want, sizeof(want), "usa.yaml:%u:5: peers: more than %u entries",
                 9 + BROKER_CONFIG_PEERS_MAX, BROKER_CONFIG_PEERS_MAX);
        expect_error(text, BROKER_CONFIG_ERR_RANGE, 9 + BROKER_CONFIG_PEERS_MAX, 5, "peers", want);
        free(text);
    }
    expect_error(BASE "limits:\n  max_message_bytes: 99999999999999999999999\n",
                 BROKER_CONFIG_ERR_RANGE, 9, 22, "limits.max_message_bytes",
                 "usa.yaml:9:22: limits.max_message_bytes: '99999999999999999999999' is too large");
}

static void
test_broker_config_bad_nation(void **state)
{
    (void)state;
    /* The message the operations guide shows. */
    expect_error(BASE "peers:\n"
                      "  - nation: CAN\n"
                      "    endpoint: tcp://127.0.0.1:7102\n"
                      "  - endpoint: tcp://127.0.0.1:7103\n"
                      "    nation: usa\n",
                 BROKER_CONFIG_ERR_INVALID, 12, 13, "peers[1].nation",
                 "usa.yaml:12:13: peers[1].nation: 'usa' is not an upper-case ISO 3166 alpha-3 code");
    expect_error("nation: US\n" REST, BROKER_CONFIG_ERR_INVALID, 1, 9, "nation",
                 "usa.yaml:1:9: nation: 'US' is not an upper-case ISO 3166 alpha-3 code");
    expect_error("nation: \"U'SA\"\n" REST, BROKER_CONFIG_ERR_INVALID, 1, 9, "nation",
                 "usa.yaml:1:9: nation: 'U?SA' is not an upper-case ISO 3166 alpha-3 code");
}

static void
test_broker_config_duplicate_peer(void **state)
{
    (void)state;
    expect_error(BASE "peers:\n"
                      "  - {nation: CAN, endpoint: \"tcp://127.0.0.1:7102\"}\n"
                      "  - {nation: MEX, endpoint: \"tcp://127.0.0.1:7103\"}\n"
                      "  - {nation: CAN, endpoint: \"tcp://127.0.0.2:7102\"}\n",
                 BROKER_CONFIG_ERR_DUPLICATE, 11, 14, "peers[2].nation",
                 "usa.yaml:11:14: peers[2].nation: 'CAN' is listed twice (first as "
                 "peers[0].nation, line 9)");
}

static void
test_broker_config_peer_is_own_nation(void **state)
{
    (void)state;
    expect_error(BASE "peers:\n  - nation: USA\n    endpoint: tcp://127.0.0.1:7102\n",
                 BROKER_CONFIG_ERR_INVALID, 9, 13, "peers[0].nation",
                 "usa.yaml:9:13: peers[0].nation: 'USA' is this broker's own nation; a broker "
                 "does not peer with itself");
    expect_error(BASE "peers:\n  - nation: CAN\n    endpoint: tcp://127.0.0.1:7101\n",
                 BROKER_CONFIG_ERR_INVALID, 10, 15, "peers[0].endpoint",
                 "usa.yaml:10:15: peers[0].endpoint: 'tcp://127.0.0.1:7101' is this broker's own "
                 "federation_endpoint");
}

/* An endpoint text and the reason it is refused ("" if it is taken). */
typedef struct endpoint_case {
    const char *text;  /* value of agency_endpoint */
    const char *why;   /* the end of the message; NULL if valid */
} endpoint_case;

static void
test_broker_config_bad_endpoint(void **state)
{
    static const endpoint_case cases[] = {
        {"tcp://127.0.0.1:7001", NULL},
        {"tcp://*:7001", NULL},
        {"tcp://localhost:7001", NULL},
        {"tcp://eth0:7001", NULL},
        {"tcp://[::1]:7001", NULL},
        {"tcp://[::]:65535", NULL},
        {"127.0.0.1:7001", "'127.0.0.1:7001' is not an endpoint of the form tcp://HOST:PORT"},
        {"ipc:///tmp/x", "'ipc:///tmp/x' is not an endpoint of the form tcp://HOST:PORT"},
        {"tcp://127.0.0.1", "'tcp://127.0.0.1' is not tcp://HOST:PORT: missing ':PORT'"},
        {"tcp://:7001", "'tcp://:7001' is not tcp://HOST:PORT: missing HOST before ':PORT'"},
        {"tcp://h:0", "'tcp://h:0' is not tcp://HOST:PORT: the port must be a number from 1 to 65535"},
        {"tcp://h:65536", "'tcp://h:65536' is not tcp://HOST:PORT: the port must be a number from 1 to 65535"},
        {"tcp://h:07001", "'tcp://h:07001' is not tcp://HOST:PORT: the port must be a number from 1 to 65535"},
        {"tcp://h:", "'tcp://h:' is not tcp://HOST:PORT: the port must be a number from 1 to 65535"},
        {"tcp://h:70x1", "'tcp://h:70x1' is not tcp://HOST:PORT: the port must be a number from 1 to 65535"},
        {"tcp://::1:7001", "'tcp://::1:7001' is not tcp://HOST:PORT: an IPv6 address must be written in brackets, [::1]:PORT"},
        {"tcp://[::1:7001", "'tcp://[::1:7001' is not tcp://HOST:PORT: an IPv6 address in brackets lacks its ']'"},
        {"tcp://[::1]7001", "'tcp://[::1]7001' is not tcp://HOST:PORT: missing ':PORT' after the address"},
        {"tcp://[zz]:1", "'tcp://[zz]:1' is not tcp://HOST:PORT: 'zz' is not an IPv6 address"},
        {"tcp://999.1.1.1:1", "'tcp://999.1.1.1:1' is not tcp://HOST:PORT: '999.1.1.1' is not an IPv4 address"},
        {"tcp://a b:1", "'tcp://a b:1' is not tcp://HOST:PORT: the host is not an address or a host name"},
        {"tcp://-x:1", "'tcp://-x:1' is not tcp://HOST:PORT: the host is not an address or a host name"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char text[1024], want[512];

        snprintf(text, sizeof(text),
                 "nation: USA\nidentity: k\nroster: r\npolicy: p\ndata_dir: d\n"
                 "agency_endpoint: '%s'\nfederation_endpoint: tcp://127.0.0.1:7101\n",
                 cases[i].text);
        if (cases[i].why == NULL) {
            broker_config *cfg = expect_ok(text);

            assert_string_equal(cfg->agency_endpoint, cases[i].text);
            broker_config_destroy(&cfg);
            continue;
        }
        snprintf(want, sizeof(want), "usa.yaml:6:18: agency_endpoint: %s", cases[i].why);
        expect_error(text, BROKER_CONFIG_ERR_INVALID, 6, 18, "agency_endpoint", want);
    }
    /* A peer's endpoint names a host to connect to; '*' is for binding. */
    expect_error(BASE "peers:\n  - nation: CAN\n    endpoint: tcp://*:7102\n",
                 BROKER_CONFIG_ERR_INVALID, 10, 15, "peers[0].endpoint",
                 "usa.yaml:10:15: peers[0].endpoint: 'tcp://*:7102' names no host; '*' is only for "
                 "endpoints this broker binds");
    /* The metrics endpoint has no scheme. */
    expect_error(BASE "metrics_endpoint: tcp://127.0.0.1:9101\n", BROKER_CONFIG_ERR_INVALID, 8, 19,
                 "metrics_endpoint",
                 "usa.yaml:8:19: metrics_endpoint: 'tcp://127.0.0.1:9101' is not HOST:PORT: an IPv6 "
                 "address must be written in brackets, [::1]:PORT");
    expect_error(BASE "metrics_endpoint: 127.0.0.1\n", BROKER_CONFIG_ERR_INVALID, 8, 19,
                 "metrics_endpoint",
                 "usa.yaml:8:19: metrics_endpoint: '127.0.0.1' is not HOST:PORT: missing ':PORT'");
}

static void
test_broker_config_endpoints_do_not_collide(void **state)
{
    broker_config *cfg;

    (void)state;
    expect_error("nation: USA\nidentity: k\nroster: r\npolicy: p\ndata_dir: d\n"
                 "agency_endpoint: tcp://*:7001\nfederation_endpoint: tcp://127.0.0.1:7001\n",
                 BROKER_CONFIG_ERR_INVALID, 7, 22, "federation_endpoint",
                 "usa.yaml:7:22: federation_endpoint: 'tcp://127.0.0.1:7001' takes the same port "
                 "as agency_endpoint");
    expect_error(BASE "metrics_endpoint: 0.0.0.0:7101\n", BROKER_CONFIG_ERR_INVALID, 8, 19,
                 "metrics_endpoint",
                 "usa.yaml:8:19: metrics_endpoint: '0.0.0.0:7101' takes the same port as "
                 "federation_endpoint");
    /* The same port on two different addresses is fine. */
    cfg = expect_ok(BASE "metrics_endpoint: 127.0.0.2:7001\n");
    broker_config_destroy(&cfg);
}

static void
test_broker_config_bad_log_level(void **state)
{
    (void)state;
    expect_error(BASE "log_level: verbose\n", BROKER_CONFIG_ERR_INVALID, 8, 12, "log_level",
                 "usa.yaml:8:12: log_level: 'verbose' is not one of: error, warn, info, debug");
    expect_error(BASE "log_level: INFO\n", BROKER_CONFIG_ERR_INVALID, 8, 12, "log_level",
                 "usa.yaml:8:12: log_level: 'INFO' is not one of: error, warn, info, debug");
}

static void
test_broker_config_yaml_syntax_error(void **state)
{
    (void)state;
    expect_error(BASE "peers: [\n", BROKER_CONFIG_ERR_SYNTAX, 9, 1, "",
                 "usa.yaml:9:1: YAML syntax error: did not find expected node content (while "
                 "parsing a flow node at 9:1)");
    expect_error("nation: USA\n  identity: k\n", BROKER_CONFIG_ERR_SYNTAX, 2, 11, "",
                 "usa.yaml:2:11: YAML syntax error: mapping values are not allowed in this context");
    expect_error("nation: \"USA\n", BROKER_CONFIG_ERR_SYNTAX, 2, 1, "",
                 "usa.yaml:2:1: YAML syntax error: found unexpected end of stream (while scanning "
                 "a quoted scalar at 1:9)");
    expect_error("nation: USA\n\tidentity: k\n", BROKER_CONFIG_ERR_SYNTAX, 2, 1, "",
                 "usa.yaml:2:1: YAML syntax error: found a tab character that violates indentation "
                 "(while scanning a plain scalar at 1:9)");
}

static void
test_broker_config_yaml_we_do_not_take(void **state)
{
    char *deep, *big;
    broker_config *cfg = NULL;
    broker_config_detail d;
    size_t n = 0;

    (void)state;
    expect_error(BASE "metrics_endpoint: &m 127.0.0.1:9101\nlog_level: *m\n",
                 BROKER_CONFIG_ERR_SYNTAX, 9, 12, "",
                 "usa.yaml:9:12: YAML aliases (*name) are not allowed in a configuration");
    expect_error(BASE "---\n" BASE, BROKER_CONFIG_ERR_SYNTAX, 8, 1, "",
                 "usa.yaml:8:1: a second YAML document starts here; a configuration is one document");
    expect_error(BASE "log_level: info\nlog_level: debug\n", BROKER_CONFIG_ERR_DUPLICATE, 9, 1,
                 "log_level", "usa.yaml:9:1: log_level: given twice (first at line 8)");
    expect_error(BASE "? [a, b]\n: 1\n", BROKER_CONFIG_ERR_SYNTAX, 8, 3, "",
                 "usa.yaml:8:3: a field name must be a plain word, not a list or mapping");

    deep = malloc(4096);
    assert_non_null(deep);
    n = (size_t)snprintf(deep, 4096, "%s", BASE "limits: ");
    for (int i = 0; i < 40; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    expect_error(deep, BROKER_CONFIG_ERR_TOO_LARGE, 8, 24,
                 "limits[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]",
                 "usa.yaml:8:24: limits[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nested deeper "
                 "than 16 levels");
    free(deep);

    big = malloc(BROKER_CONFIG_MAX_BYTES + 2);
    assert_non_null(big);
    memset(big, '#', BROKER_CONFIG_MAX_BYTES + 1);
    big[BROKER_CONFIG_MAX_BYTES + 1] = '\0';
    assert_int_equal(broker_config_load_buffer(big, BROKER_CONFIG_MAX_BYTES + 1, "usa.yaml", &cfg, &d),
                     BROKER_CONFIG_ERR_TOO_LARGE);
    assert_string_equal(d.text, "usa.yaml: 1048577 bytes; a configuration file is at most 1048576");
    free(big);
}

static void
test_broker_config_many_nodes_are_refused(void **state)
{
    size_t cap = 64 + 5000 * 8, n;
    char *text = malloc(cap);
    broker_config *cfg = NULL;
    broker_config_detail d;

    (void)state;
    assert_non_null(text);
    n = (size_t)snprintf(text, cap, "%s", "x: [");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(text + n, cap - n, "1,");
    snprintf(text + n, cap - n, "1]\n");
    assert_int_equal(load(text, &cfg, &d), BROKER_CONFIG_ERR_TOO_LARGE);
    assert_string_equal(d.text, "usa.yaml:1:8193: more than 4096 YAML nodes; a configuration is "
                                "much smaller");
    free(text);
}

static void
test_broker_config_split_hostport(void **state)
{
    char host[64], why[128];
    uint16_t port = 0;

    (void)state;
    assert_true(broker_config_split_hostport("127.0.0.1:9101", host, sizeof(host), &port, why,
                                             sizeof(why)));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9101);
    assert_true(broker_config_split_hostport("[::1]:1", host, sizeof(host), &port, why, sizeof(why)));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 1);
    assert_true(broker_config_split_hostport("*:65535", host, sizeof(host), &port, why, sizeof(why)));
    assert_string_equal(host, "*");
    assert_int_equal(port, 65535);
    assert_false(broker_config_split_hostport("averyveryveryverylonghostnamethatdoesnotfit.example:1",
                                              host, 16, &port, why, sizeof(why)));
    assert_string_equal(why, "the host is too long");
}

static void
test_broker_config_strerror_complete(void **state)
{
    (void)state;
    for (int code = BROKER_CONFIG_OK; code <= BROKER_CONFIG_ERR_PERMISSION; code++)
        assert_string_not_equal(broker_config_strerror((broker_config_err)code), "unknown error");
    assert_string_equal(broker_config_strerror((broker_config_err)999), "unknown error");
}

/* Nation keys: all or nothing, 64 hex digits each. */
static void
test_broker_config_nation_keys(void **state)
{
    broker_config *cfg;

    (void)state;
    /* None: unsigned mode. */
    cfg = expect_ok(BASE "peers:\n  - nation: CAN\n    endpoint: tcp://127.0.0.1:7102\n");
    assert_false(cfg->nation_keys);
    assert_false(cfg->peers[0].has_nation_key);
    broker_config_destroy(&cfg);
    /* All: signed mode, keys read (hex in either case). */
    cfg = expect_ok(BASE "nation_key: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                         "peers:\n  - nation: CAN\n    endpoint: tcp://127.0.0.1:7102\n"
                         "    nation_key: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                         "  - nation: MEX\n    endpoint: tcp://127.0.0.1:7103\n"
                         "    nation_key: BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n");
    assert_true(cfg->nation_keys);
    assert_int_equal(cfg->nation_key[0], 0xaa);
    assert_true(cfg->peers[0].has_nation_key);
    assert_int_equal(cfg->peers[0].nation_key[0], 0x01);
    assert_int_equal(cfg->peers[0].nation_key[31], 0xef);
    assert_int_equal(cfg->peers[1].nation_key[5], 0xbb);
    broker_config_destroy(&cfg);
    /* Only the own one, no peers: signed mode too. */
    cfg = expect_ok(BASE "nation_key: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
    assert_true(cfg->nation_keys);
    broker_config_destroy(&cfg);
    /* A peer's without the own one. */
    expect_error(BASE "peers:\n  - nation: CAN\n    endpoint: tcp://127.0.0.1:7102\n"
                      "    nation_key: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
                 BROKER_CONFIG_ERR_MISSING_FIELD, 11, 17, "peers[0].nation_key",
                 "usa.yaml:11:17: peers[0].nation_key: given without the top-level nation_key, "
                 "which is missing: nation keys are all or nothing");
    /* The own one, and one peer without. */
    expect_error(BASE "nation_key: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
                      "peers:\n  - nation: CAN\n    endpoint: tcp://127.0.0.1:7102\n"
                      "    nation_key: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
                      "  - nation: MEX\n    endpoint: tcp://127.0.0.1:7103\n",
                 BROKER_CONFIG_ERR_MISSING_FIELD, 13, 5, "peers[1]",
                 "usa.yaml:13:5: peers[1]: nation_key of peer MEX is missing: nation_key is "
                 "given, and nation keys are all or nothing");
    /* Not 64 hex digits. */
    expect_error(BASE "nation_key: abc\n", BROKER_CONFIG_ERR_INVALID, 8, 13, "nation_key",
                 "usa.yaml:8:13: nation_key: 'abc' is not a nation key: 64 hex digits (the "
                 "sign-public of a nation card)");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_config_minimal_gets_defaults),
        cmocka_unit_test(test_broker_config_every_field),
        cmocka_unit_test(test_broker_config_empty_optional_blocks),
        cmocka_unit_test(test_broker_config_relative_paths_follow_the_file),
        cmocka_unit_test(test_broker_config_load_reads_a_file),
        cmocka_unit_test(test_broker_config_unknown_field),
        cmocka_unit_test(test_broker_config_nation_keys),
        cmocka_unit_test(test_broker_config_missing_field),
        cmocka_unit_test(test_broker_config_wrong_type),
        cmocka_unit_test(test_broker_config_out_of_range),
        cmocka_unit_test(test_broker_config_bad_nation),
        cmocka_unit_test(test_broker_config_duplicate_peer),
        cmocka_unit_test(test_broker_config_peer_is_own_nation),
        cmocka_unit_test(test_broker_config_bad_endpoint),
        cmocka_unit_test(test_broker_config_endpoints_do_not_collide),
        cmocka_unit_test(test_broker_config_bad_log_level),
        cmocka_unit_test(test_broker_config_yaml_syntax_error),
        cmocka_unit_test(test_broker_config_yaml_we_do_not_take),
        cmocka_unit_test(test_broker_config_many_nodes_are_refused),
        cmocka_unit_test(test_broker_config_split_hostport),
        cmocka_unit_test(test_broker_config_strerror_complete),
    };

    return cmocka_run_group_tests_name("broker_config", tests, setup_group, NULL);
}
