/* Private to policy/: what load.c and cases.c share about reading YAML through yaml/. */
#ifndef LIAISON_POLICY_YAML_INT_H
#define LIAISON_POLICY_YAML_INT_H

#include "policy_int.h"

/*
 * Loads buf (len bytes) through schema with yaml/, into *data_out and the
 * node table doc (which the caller clears with liaison_yaml_doc_clear, also
 * on failure).  Every refusal is worded into *err at its position: what
 * yaml/ refuses, what libcyaml refuses, and an empty document (the text
 * empty is its message).  Returns POLICY_OK with *data_out set, or the error;
 * *data_out is NULL after a failure.
 */
policy_err pol_yaml_load(const uint8_t *buf, size_t len, const liaison_yaml_spec *spec,
                         const cyaml_schema_value_t *schema, void **data_out,
                         liaison_yaml_doc *doc, const char *empty, policy_load_error *err);

/*
 * Opens and reads the file at path whole for pol_yaml_load, refusing it (in
 * *err) if it cannot be read, is no regular file, is larger than the spec
 * allows or, when role is not NULL, can be written by others (role names
 * the file in that message).  *buf_out is the caller's to free (NULL on
 * failure).
 */
policy_err pol_yaml_read(const char *path, const liaison_yaml_spec *spec, const char *role,
                         uint8_t **buf_out, size_t *len_out, policy_load_error *err);

#endif
