/* The power-loss journal: what the preload shim records and the fault driver reverts. */
#ifndef LIAISON_FAULTS_POWERLOSS_H
#define LIAISON_FAULTS_POWERLOSS_H

#include <stdint.h>

/*
 * The shim (powerloss_shim.c, loaded with LD_PRELOAD into a broker) watches
 * one file, named by LIAISON_POWERLOSS_FILE (the store's data.mdb), and
 * appends to the journal named by LIAISON_POWERLOSS_JOURNAL, before each
 * write to that file that is not yet durable, a record: this header and
 * then len bytes, the file's content over [offset, offset + len) before the
 * write (bytes at or past old_size read as zero and mean "the file did not
 * reach here").  When fsync or fdatasync of the file (or sync, or syncfs)
 * returns, everything written before is durable and the journal is emptied.
 * Writes through a descriptor opened with O_DSYNC or O_SYNC are durable when
 * they return and are not journaled.
 *
 * A power cut is then: SIGKILL the broker, and put back every pre-image in
 * the journal, newest first (powerloss_revert in the driver).
 */

#define POWERLOSS_MAGIC 0x504c4a31u /* "PLJ1" */

typedef struct powerloss_record {
    uint32_t magic;    /* POWERLOSS_MAGIC */
    uint32_t reserved; /* zero */
    uint64_t offset;   /* where the write went */
    uint64_t len;      /* bytes written, and bytes of pre-image that follow */
    uint64_t old_size; /* the file's size before the write */
} powerloss_record;

#endif
