/* Prints the wire-format test vectors (tests/data/proto/vectors.txt). */
#include <stdio.h>

#include "liaison_proto.h"
#include "vectors.h"

int
main(void)
{
    if (proto_init() != PROTO_OK)
        return 1;
    return vectors_write(stdout) == 0 ? 0 : 1;
}
