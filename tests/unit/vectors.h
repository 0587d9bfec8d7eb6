/* Known-answer vectors of the wire format: generated from fixed seeds. */
#ifndef LIAISON_TEST_VECTORS_H
#define LIAISON_TEST_VECTORS_H

#include <stdio.h>

/* Writes every vector, as in tests/data/proto/vectors.txt, to out.
 * Returns 0, or -1 if the code failed to produce one. */
int vectors_write(FILE *out);

#endif
