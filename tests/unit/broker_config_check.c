/* Loads broker configuration files and checks that they form one federation (ctest). */
#include <stdio.h>
#include <string.h>

#include "config.h"

#define FILES_MAX 16

/*
 * usage: broker_config_check FILE...
 * Loads each file and prints its summary or its error.  Then checks that
 * the files agree as a federation: every peer a file lists is the nation
 * of another file, its endpoint is that file's federation_endpoint, and
 * that file lists this one back.  Exit 0 if all holds, 1 otherwise.
 */
int
main(int argc, char **argv)
{
    broker_config *cfg[FILES_MAX] = {0};
    broker_config_detail d;
    int n = argc - 1, bad = 0;

    if (n < 1 || n > FILES_MAX) {
        fprintf(stderr, "usage: broker_config_check FILE... (at most %d)\n", FILES_MAX);
        return 64;
    }
    for (int i = 0; i < n; i++) {
        if (broker_config_load(argv[i + 1], &cfg[i], &d) != BROKER_CONFIG_OK) {
            printf("FAIL %s\n", d.text);
            bad++;
            continue;
        }
        printf("ok   %s: nation %s, agency %s, federation %s, metrics %s, %zu peers\n", argv[i + 1],
               cfg[i]->nation, cfg[i]->agency_endpoint, cfg[i]->federation_endpoint,
               cfg[i]->metrics_endpoint != NULL ? cfg[i]->metrics_endpoint : "off",
               cfg[i]->peer_count);
    }
    for (int i = 0; i < n && bad == 0; i++) {
        for (size_t p = 0; p < cfg[i]->peer_count; p++) {
            const broker_config_peer *peer = &cfg[i]->peers[p];
            int j = 0;

            while (j < n && strcmp(cfg[j]->nation, peer->nation) != 0)
                j++;
            if (j == n) {
                printf("FAIL %s: peer %s has no configuration here\n", cfg[i]->source, peer->nation);
                bad++;
            } else if (strcmp(peer->endpoint, cfg[j]->federation_endpoint) != 0) {
                printf("FAIL %s: peer %s at %s, but %s binds %s\n", cfg[i]->source, peer->nation,
                       peer->endpoint, cfg[j]->source, cfg[j]->federation_endpoint);
                bad++;
            } else if (broker_config_peer_find(cfg[j], cfg[i]->nation) == NULL) {
                printf("FAIL %s: peers with %s, which does not list %s\n", cfg[i]->source,
                       peer->nation, cfg[i]->nation);
                bad++;
            }
        }
    }
    for (int i = 0; i < n; i++)
        broker_config_destroy(&cfg[i]);
    if (bad == 0)
        printf("%d configurations load and agree as one federation\n", n);
    return bad > 0 ? 1 : 0;
}
