/* Unit tests of client/agent/agent_config.c (defaults, resolved paths, errors with file:line:column and field) and of making the store directory. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "agent.h"
#include "helpers.h"
#include "match.h"

static const char good[] = "key: keys/can-rcmp.key\n"
                           "roster: /etc/liaison/roster\n"
                           "broker: tcp://127.0.0.1:7001\n"
                           "store: ../var/agent\n";

static void
test_agent_config_defaults_and_paths(void **state)
{
    agent_config *cfg = NULL;
    agent_config_detail d;

    (void)state;
    assert_int_equal(agent_config_load_buffer(good, strlen(good), "/srv/can/rcmp.yaml", &cfg, &d),
                     AGENT_CONFIG_OK);
    assert_string_equal(cfg->key, "/srv/can/keys/can-rcmp.key");
    assert_string_equal(cfg->roster, "/etc/liaison/roster");
    assert_string_equal(cfg->broker, "tcp://127.0.0.1:7001");
    assert_string_equal(cfg->store, "/srv/can/../var/agent");
    assert_true(fabs(cfg->name_threshold - MATCH_DEFAULT_THRESHOLD) < 1e-12);
    assert_null(cfg->answer_labels);
    assert_string_equal(cfg->actor, "system:liaison-agent");
    assert_int_equal(cfg->log_level, PROTO_LOG_INFO);
    agent_config_destroy(&cfg);
    assert_null(cfg);
    agent_config_destroy(&cfg);
}

static void
test_agent_config_every_field(void **state)
{
    static const char text[] = "# CAN/RCMP's agent\n"
                               "key: k\nroster: r\nbroker: ipc:///run/liaison/can\nstore: s\n"
                               "name_threshold: 0.92\n"
                               "answer_labels: \"LES//REL TO CAN,USA,MEX\"\n"
                               "actor: system:rcmp-agent-2\n"
                               "log_level: debug\n";
    agent_config *cfg = NULL;

    (void)state;
    assert_int_equal(agent_config_load_buffer(text, strlen(text), "/a/b.yaml", &cfg, NULL),
                     AGENT_CONFIG_OK);
    assert_true(fabs(cfg->name_threshold - 0.92) < 1e-12);
    assert_string_equal(cfg->answer_labels, "LES//REL TO CAN,USA,MEX");
    assert_string_equal(cfg->actor, "system:rcmp-agent-2");
    assert_string_equal(cfg->broker, "ipc:///run/liaison/can");
    assert_int_equal(cfg->log_level, PROTO_LOG_DEBUG);
    agent_config_destroy(&cfg);
}

/* Each bad configuration, the error, and the start of the message. */
static const struct {
    const char *text;        /* the file */
    agent_config_err err;    /* what the loader says */
    const char *message;     /* how its message starts */
} bad[] = {
    {"", AGENT_CONFIG_ERR_MISSING_FIELD, "t.yaml:1:1: key: required field is missing"},
    {"- key\n", AGENT_CONFIG_ERR_TYPE, "t.yaml:1:1: a configuration is a mapping"},
    {"key: k\nroster: r\nbroker: tcp://h:1\n", AGENT_CONFIG_ERR_MISSING_FIELD,
     "t.yaml:1:1: store: required field is missing"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore: s\nstroe: x\n", AGENT_CONFIG_ERR_UNKNOWN_FIELD,
     "t.yaml:5:1: unknown field 'stroe' (known: key, roster"},
    {"key: k\nkey: k2\n", AGENT_CONFIG_ERR_DUPLICATE, "t.yaml:2:1: key: given twice (first at line 1)"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore:\n", AGENT_CONFIG_ERR_MISSING_FIELD,
     "t.yaml:4:7: store: has no value"},
    {"key: [a, b]\n", AGENT_CONFIG_ERR_TYPE, "t.yaml:1:6: key: expected a single value, found a list"},
    {"key: k\nroster: r\nbroker: http://h:1\nstore: s\n", AGENT_CONFIG_ERR_INVALID,
     "t.yaml:3:9: broker: 'http://h:1' is not an endpoint"},
    {"key: k\nroster: r\nbroker: tcp://h:0\nstore: s\n", AGENT_CONFIG_ERR_INVALID,
     "t.yaml:3:9: broker: 'tcp://h:0' is not tcp://HOST:PORT"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore: s\nname_threshold: 1.5\n",
     AGENT_CONFIG_ERR_RANGE, "t.yaml:5:17: name_threshold: 1.5 is out of range (0.50 .. 1.00)"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore: s\nname_threshold: high\n",
     AGENT_CONFIG_ERR_TYPE, "t.yaml:5:17: name_threshold: 'high' is not a decimal number"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore: s\nname_threshold: nan\n",
     AGENT_CONFIG_ERR_TYPE, "t.yaml:5:17: name_threshold: 'nan' is not a decimal number"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore: s\nlog_level: loud\n", AGENT_CONFIG_ERR_INVALID,
     "t.yaml:5:12: log_level: not one of: error, warn, info, debug"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore: s\nanswer_labels: \"LES//REL TO usa\"\n",
     AGENT_CONFIG_ERR_INVALID, "t.yaml:5:16: answer_labels: 'LES//REL TO usa' do not parse"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore: s\nactor: j doe\n", AGENT_CONFIG_ERR_INVALID,
     "t.yaml:5:8: actor: 'j doe' is not an actor: 1 to 64 of"},
    {"key: k\nroster: r\nbroker: tcp://h:1\nstore: s\nactor: usa/fbi\n", AGENT_CONFIG_ERR_INVALID,
     "t.yaml:5:8: actor: 'usa/fbi' is not an actor"},
    {"key: k\nroster: &a r\nbroker: *a\n", AGENT_CONFIG_ERR_SYNTAX,
     "t.yaml:3:9: YAML aliases (*name) are not allowed"},
    {"key: k\n---\nkey: k\n", AGENT_CONFIG_ERR_SYNTAX, "t.yaml:2:1: a second YAML document"},
    {"key: \"unterminated\n", AGENT_CONFIG_ERR_SYNTAX, "t.yaml:2:1: YAML syntax error"},
    {"? [a]\n: b\n", AGENT_CONFIG_ERR_SYNTAX, "t.yaml:1:3: a field name must be a plain word"},
};

static void
test_agent_config_errors_name_position_and_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        agent_config *cfg = NULL;
        agent_config_detail d;
        agent_config_err err = agent_config_load_buffer(bad[i].text, strlen(bad[i].text), "t.yaml",
                                                        &cfg, &d);

        assert_null(cfg);
        if (err != bad[i].err || strncmp(d.text, bad[i].message, strlen(bad[i].message)) != 0)
            fail_msg("case %zu: got %s \"%s\", expected %s \"%s...\"", i,
                     agent_config_strerror(err), d.text, agent_config_strerror(bad[i].err),
                     bad[i].message);
        assert_null(strchr(d.text, '\n'));
    }
}

static void
test_agent_config_file_errors(void **state)
{
    agent_config *cfg = NULL;
    agent_config_detail d;

    (void)state;
    assert_int_equal(agent_config_load("/nonexistent/agent.yaml", &cfg, &d), AGENT_CONFIG_ERR_IO);
    assert_non_null(strstr(d.text, "/nonexistent/agent.yaml: cannot open"));
    assert_null(cfg);
    assert_string_equal(agent_config_strerror(AGENT_CONFIG_ERR_DUPLICATE),
                        "configuration field given twice");
    assert_string_equal(agent_config_strerror((agent_config_err)999), "unknown error");
}

/* The store directory is made with the directories missing above it, each 0700. */
static void
test_agent_config_store_dir_made_with_parents(void **state)
{
    char dir[512], path[700], file[700], why[256];
    struct stat sb;

    (void)state;
    test_scratch_dir(dir, sizeof(dir));
    snprintf(path, sizeof(path), "%s/var/lib/agent-rcmp", dir);
    assert_int_equal(agent_store_dir_make(path, why, sizeof(why)), 0);
    assert_int_equal(stat(path, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(file, sizeof(file), "%s/var", dir);
    assert_int_equal(stat(file, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    /* Again: it exists, nothing to do. */
    assert_int_equal(agent_store_dir_make(path, why, sizeof(why)), 0);
    /* A regular file on the way: refused, naming it. */
    snprintf(file, sizeof(file), "%s/plain", dir);
    fclose(fopen(file, "w"));
    snprintf(path, sizeof(path), "%s/plain/agent", dir);
    assert_int_equal(agent_store_dir_make(path, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "plain"));
    assert_int_equal(agent_store_dir_make("", why, sizeof(why)), -1);
    test_scratch_remove(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_config_defaults_and_paths),
        cmocka_unit_test(test_agent_config_every_field),
        cmocka_unit_test(test_agent_config_errors_name_position_and_field),
        cmocka_unit_test(test_agent_config_file_errors),
        cmocka_unit_test(test_agent_config_store_dir_made_with_parents),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
