/* Fuzz target: the broker configuration loader; what loads must hold every rule it checks. */
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    broker_config *cfg = NULL;
    broker_config_detail d;
    broker_config_err err;

    err = broker_config_load_buffer((const char *)data, size, "fuzz.yaml", &cfg, &d);
    if (err != BROKER_CONFIG_OK) {
        /* Every refusal names the file and says something. */
        if (cfg != NULL || strncmp(d.text, "fuzz.yaml", 9) != 0 || strlen(d.text) < 12 ||
            memchr(d.text, '\n', strlen(d.text)) != NULL)
            abort();
        return 0;
    }
    if (!proto_nation_valid(cfg->nation) || cfg->identity == NULL || cfg->roster == NULL ||
        cfg->policy == NULL || cfg->data_dir == NULL || cfg->agency_endpoint == NULL ||
        cfg->federation_endpoint == NULL || cfg->peer_count > BROKER_CONFIG_PEERS_MAX ||
        cfg->limits.max_message_bytes < 1024 || cfg->limits.max_message_bytes > (64u << 20) ||
        cfg->limits.max_in_flight < 1 || cfg->limits.max_in_flight > 10000 ||
        cfg->verify_threads > 64 || cfg->log_level > PROTO_LOG_DEBUG)
        abort();
    for (size_t i = 0; i < cfg->peer_count; i++) {
        if (!proto_nation_valid(cfg->peers[i].nation) ||
            strcmp(cfg->peers[i].nation, cfg->nation) == 0 ||
            strncmp(cfg->peers[i].endpoint, "tcp://", 6) != 0 ||
            broker_config_peer_find(cfg, cfg->peers[i].nation) != &cfg->peers[i])
            abort();
    }
    broker_config_destroy(&cfg);
    return 0;
}
