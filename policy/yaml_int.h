/* Private to policy/: what load.c and cases.c share about reading YAML through yaml/. */
#ifndef LIAISON_POLICY_YAML_INT_H
#define LIAISON_POLICY_YAML_INT_H

#include "policy_int.h"

/* Turns what yaml/ refused (rc, e) into a policy error in *err. */
policy_err pol_yaml_refusal(liaison_yaml_err rc, const liaison_yaml_error *e,
                            policy_load_error *err);

/* Turns what libcyaml logged into an error at the right position. */
policy_err pol_cy_error(liaison_yaml_log *log, cyaml_err_t cerr, const liaison_yaml_doc *doc,
                        policy_load_error *err);

#endif
