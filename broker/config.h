/* The broker's configuration file: YAML read through a libcyaml schema, checked with positions. */
#ifndef LIAISON_BROKER_CONFIG_H
#define LIAISON_BROKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liaison_proto.h"
#include "liaison_yaml.h"

/*
 * A configuration is loaded once (and again on reload, into a new object);
 * a loaded broker_config is immutable and may be read by many threads.
 * docs/operations.md, "Broker configuration", lists every field.
 */

/* Errors of the configuration loader.  Codes are appended, never renumbered. */
typedef enum broker_config_err {
    BROKER_CONFIG_OK = 0,
    BROKER_CONFIG_ERR_IO = 1,            /* the file cannot be read */
    BROKER_CONFIG_ERR_TOO_LARGE = 2,     /* the file or its YAML is larger than we read */
    BROKER_CONFIG_ERR_SYNTAX = 3,        /* not well-formed YAML, or YAML we do not take */
    BROKER_CONFIG_ERR_UNKNOWN_FIELD = 4, /* a field the schema does not know */
    BROKER_CONFIG_ERR_MISSING_FIELD = 5, /* a required field is absent or empty */
    BROKER_CONFIG_ERR_TYPE = 6,          /* a value of the wrong type */
    BROKER_CONFIG_ERR_RANGE = 7,         /* a number outside its range */
    BROKER_CONFIG_ERR_INVALID = 8,       /* a value that breaks its rule (nation, endpoint, ...) */
    BROKER_CONFIG_ERR_DUPLICATE = 9,     /* a field given twice, or a peer listed twice */
    BROKER_CONFIG_ERR_NOMEM = 10,        /* out of memory */
    BROKER_CONFIG_ERR_PERMISSION = 11,   /* group or others can write the file or its directory */
} broker_config_err;

/* Largest configuration file read, in bytes. */
#define BROKER_CONFIG_MAX_BYTES (1u << 20)
/* Most peers one broker may list. */
#define BROKER_CONFIG_PEERS_MAX 255u
/* Longest path (identity, roster, policy, data_dir) after resolution, with its NUL. */
#define BROKER_CONFIG_PATH_MAX 4096u
/* Longest endpoint text, without its NUL. */
#define BROKER_CONFIG_ENDPOINT_MAX 300u

/* Where and why a configuration was refused: line, column, field path and
 * the whole message, "usa.yaml:12:13: peers[1].nation: ...". */
typedef liaison_yaml_detail broker_config_detail;

/* A peer broker this broker federates with. */
typedef struct broker_config_peer {
    char nation[PROTO_NATION_LEN + 1]; /* the peer's nation, e.g. "CAN" */
    char *endpoint;                    /* its federation endpoint, "tcp://host:port" */
    uint8_t nation_key[PROTO_SIGN_PUBLIC_BYTES]; /* its pinned nation key, when nation_keys */
    bool has_nation_key;               /* nation_key holds a key (exactly when nation_keys) */
} broker_config_peer;

/* Resource limits; every one has a default (docs/operations.md). */
typedef struct broker_config_limits {
    uint64_t max_message_bytes;      /* largest envelope accepted, 1 KiB .. 64 MiB */
    uint32_t max_in_flight;          /* deliveries in flight per agency, 1 .. 10000 */
    uint32_t max_queue_depth;        /* messages queued per destination, 1 .. 100000000 */
    uint32_t max_pending_per_client; /* submits awaiting commit per connection, 1 .. 1000000 */
} broker_config_limits;

/* A loaded, validated configuration; paths are resolved, defaults filled in. */
typedef struct broker_config {
    char *source;                       /* the file it came from, as named to the loader */
    char nation[PROTO_NATION_LEN + 1];  /* this broker's nation, e.g. "USA" */
    char *identity;                     /* the broker's secret key file */
    char *roster;                       /* the federation roster file */
    char *policy;                       /* the release policy file */
    char *data_dir;                     /* the LMDB environment's directory */
    char *agency_endpoint;              /* ROUTER bind for agencies, "tcp://host:port" */
    char *federation_endpoint;          /* ROUTER bind for peer brokers, "tcp://host:port" */
    char *metrics_endpoint;             /* "host:port" for Prometheus; NULL when off */
    broker_config_peer *peers;          /* the peers, in file order; NULL when none */
    size_t peer_count;                  /* entries at peers */
    broker_config_limits limits;        /* resource limits */
    uint32_t tree_head_interval_s;      /* seconds between signed tree heads, 1 .. 86400 */
    uint32_t expiry_sweep_interval_s;   /* seconds between expiry sweeps, 1 .. 3600 */
    bool verify_signatures;             /* check envelope signatures before accepting */
    uint32_t verify_threads;            /* signature threads; 0 = one per online core */
    proto_log_level log_level;          /* highest log level written */
    bool nation_keys;                   /* signed mode: nation_key and every peer's are given */
    uint8_t nation_key[PROTO_SIGN_PUBLIC_BYTES]; /* this nation's nation key, when nation_keys */
} broker_config;

/*
 * Reads and validates the configuration file at path.  Relative paths in
 * it (identity, roster, policy, data_dir) are resolved against the
 * directory that holds the file, made absolute with the current directory
 * if that directory is relative.  On success *cfg_out is the caller's, to
 * free with broker_config_destroy.  On failure *cfg_out is unchanged and,
 * if detail_r is not NULL, it names the line, column and field and holds a
 * one-line message "FILE:LINE:COL: FIELD: what is wrong".
 * Errors: every broker_config_err but BROKER_CONFIG_OK.
 * Thread-safe: calls share nothing.
 */
broker_config_err broker_config_load(const char *path, broker_config **cfg_out,
                                     broker_config_detail *detail_r) PROTO_NONNULL(1, 2) PROTO_MUST_CHECK;

/*
 * Same, for len bytes of YAML at text (need not be NUL-terminated).
 * path_for_messages names the text in messages and is the base for
 * relative paths as above; NULL means "<config>" and the current directory.
 */
broker_config_err broker_config_load_buffer(const char *text, size_t len,
                                            const char *path_for_messages,
                                            broker_config **cfg_out,
                                            broker_config_detail *detail_r) PROTO_NONNULL(4) PROTO_MUST_CHECK;

/* Frees *cfg and sets it to NULL; accepts NULL and *cfg == NULL. */
void broker_config_destroy(broker_config **cfg);

/* Returns a static, human-readable string for code; never NULL. */
const char *broker_config_strerror(broker_config_err code);

/* The peer of nation, or NULL; borrowed until cfg is destroyed. */
const broker_config_peer *broker_config_peer_find(const broker_config *cfg,
                                                  const char *nation) PROTO_NONNULL(1, 2);

/* verify_threads made concrete: the configured count, or the number of
 * online cores (1 .. 64) when it is 0. */
unsigned broker_config_verify_thread_count(const broker_config *cfg) PROTO_NONNULL(1);

/*
 * Splits "HOST:PORT" (or "[IPv6]:PORT") into host (without brackets) and
 * port, checking the form: HOST is "*", an IPv4 or bracketed IPv6 address,
 * or a host or interface name; PORT is 1 .. 65535 in decimal.  Used for the
 * part after "tcp://" of endpoints and for the metrics endpoint.  On failure
 * returns false and writes the reason into why (why_len bytes).
 */
bool broker_config_split_hostport(const char *text, char *host, size_t host_len,
                                  uint16_t *port_out, char *why, size_t why_len) PROTO_NONNULL(1, 2, 4, 5);

#endif
