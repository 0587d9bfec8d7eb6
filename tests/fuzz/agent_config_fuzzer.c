/* Fuzz target: the agent's configuration loader; what loads must hold every rule it checks. */
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    agent_config *cfg = NULL;
    agent_config_detail d;
    agent_config_err err;

    err = agent_config_load_buffer((const char *)data, size, "/fuzz/agent.yaml", &cfg, &d);
    if (err != AGENT_CONFIG_OK) {
        /* Every refusal names the file, says something, and is one line. */
        if (cfg != NULL || strncmp(d.text, "/fuzz/agent.yaml", 16) != 0 || strlen(d.text) < 20 ||
            memchr(d.text, '\n', strlen(d.text)) != NULL ||
            strcmp(agent_config_strerror(err), "unknown error") == 0)
            abort();
        return 0;
    }
    if (cfg->key == NULL || cfg->roster == NULL || cfg->broker == NULL || cfg->store == NULL ||
        cfg->key[0] != '/' || cfg->roster[0] != '/' || cfg->store[0] != '/' ||
        (strncmp(cfg->broker, "tcp://", 6) != 0 && strncmp(cfg->broker, "ipc://", 6) != 0) ||
        !(cfg->name_threshold >= AGENT_THRESHOLD_MIN && cfg->name_threshold <= AGENT_THRESHOLD_MAX) ||
        cfg->log_level > PROTO_LOG_DEBUG)
        abort();
    if (cfg->answer_labels != NULL) {
        proto_labels l;

        if (proto_labels_parse(cfg->answer_labels, &l, NULL) != PROTO_OK)
            abort();
    }
    agent_config_destroy(&cfg);
    return 0;
}
