/* A preload shim that journals the pre-image of every write not yet synced, so a power cut can be replayed. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "powerloss.h"

/*
 * The model (see powerloss.h and docs/operations.md, "Fault testing"): the
 * disk holds what was written to the watched file up to its last fsync or
 * fdatasync, plus what went through an O_DSYNC or O_SYNC descriptor;
 * anything written since is in the page cache only and a power cut drops
 * it.  The shim never changes what the process sees: every call goes
 * through to the C library unchanged.  It only records, before each write
 * to the watched file, what the write is about to replace.
 *
 * LMDB without MDB_WRITEMAP (as Liaison opens it) writes pages with
 * pwrite/pwritev (or lseek + writev), syncs them with fdatasync, and writes
 * the meta page through a second descriptor opened with O_DSYNC; every one
 * of those calls is covered here.  Writes through a shared mapping (LMDB's
 * MDB_WRITEMAP, flushed by msync) are not seen by the shim and are not
 * modelled; msync and sync_file_range are passed through and, like the
 * kernel's own write-back, never count as a sync.
 */

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef ssize_t (*pwritev_fn)(int, const struct iovec *, int, off_t);
typedef ssize_t (*pwritev2_fn)(int, const struct iovec *, int, off_t, int);
typedef ssize_t (*pread_fn)(int, void *, size_t, off_t);
typedef int (*fsync_fn)(int);
typedef void (*sync_fn)(void);

static struct {
    write_fn write;       /* the C library's write */
    pwrite_fn pwrite;     /* pwrite */
    pwrite_fn pwrite64;   /* pwrite64 (the same call on LP64) */
    writev_fn writev;     /* writev */
    pwritev_fn pwritev;   /* pwritev */
    pwritev_fn pwritev64; /* pwritev64 */
    pwritev2_fn pwritev2; /* pwritev2 */
    pread_fn pread;       /* pread, for pre-images */
    fsync_fn fsync;       /* fsync */
    fsync_fn fdatasync;   /* fdatasync */
    fsync_fn syncfs;      /* syncfs */
    sync_fn sync;         /* sync */
} real;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* one write to the file at a time */
static const char *watch_path;  /* LIAISON_POWERLOSS_FILE, or NULL: the shim is idle */
static const char *journal_path; /* LIAISON_POWERLOSS_JOURNAL */
static int journal_fd = -1;      /* opened on first use */
static int read_fd = -1;         /* the watched file, for pre-images */
static dev_t watch_dev;          /* its device, once it exists */
static ino_t watch_ino;          /* its inode, once it exists */
static int watch_known;          /* watch_dev and watch_ino are set */

__attribute__((constructor)) static void
shim_init(void)
{
    real.write = (write_fn)dlsym(RTLD_NEXT, "write");
    real.pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
    real.pwrite64 = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
    real.writev = (writev_fn)dlsym(RTLD_NEXT, "writev");
    real.pwritev = (pwritev_fn)dlsym(RTLD_NEXT, "pwritev");
    real.pwritev64 = (pwritev_fn)dlsym(RTLD_NEXT, "pwritev64");
    real.pwritev2 = (pwritev2_fn)dlsym(RTLD_NEXT, "pwritev2");
    real.pread = (pread_fn)dlsym(RTLD_NEXT, "pread");
    real.fsync = (fsync_fn)dlsym(RTLD_NEXT, "fsync");
    real.fdatasync = (fsync_fn)dlsym(RTLD_NEXT, "fdatasync");
    real.syncfs = (fsync_fn)dlsym(RTLD_NEXT, "syncfs");
    real.sync = (sync_fn)dlsym(RTLD_NEXT, "sync");
    watch_path = getenv("LIAISON_POWERLOSS_FILE");
    journal_path = getenv("LIAISON_POWERLOSS_JOURNAL");
    if (watch_path != NULL && journal_path == NULL)
        watch_path = NULL;
}

/* The shim cannot keep its promise: a journal it cannot write would make
 * the power cut revert too little, and the test would pass for nothing. */
static void
die(const char *what)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "powerloss_shim: %s: %s\n", what, strerror(errno));

    if (n > 0 && real.write != NULL)
        (void)real.write(STDERR_FILENO, text, (size_t)n);
    abort();
}

/* True if fd is the watched file.  The inode is looked up once the file
 * exists; the broker creates it after the shim is loaded. */
static int
is_watched(int fd)
{
    struct stat st;
    int known;

    if (watch_path == NULL || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    pthread_mutex_lock(&lock);
    if (!watch_known) {
        struct stat w;

        if (stat(watch_path, &w) == 0) {
            watch_dev = w.st_dev;
            watch_ino = w.st_ino;
            watch_known = 1;
        }
    }
    known = watch_known && st.st_dev == watch_dev && st.st_ino == watch_ino;
    pthread_mutex_unlock(&lock);
    return known;
}

/* True if writes through fd are durable when they return. */
static int
is_sync_fd(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl >= 0 && (fl & O_DSYNC) == O_DSYNC;
}

static void
append(const void *buf, size_t len)
{
    const char *p = buf;

    while (len > 0) {
        ssize_t w = real.write(journal_fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            die("cannot write the journal");
        p += w;
        len -= (size_t)w;
    }
}

/* Journals the pre-image of [off, off + len) of the watched file (caller holds lock). */
static void
journal_preimage(off_t off, size_t len)
{
    powerloss_record rec;
    static char buf[65536]; /* under lock: one pre-image at a time */
    struct stat st;
    size_t done = 0;

    if (journal_fd < 0) {
        journal_fd = open(journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (journal_fd < 0)
            die("cannot open the journal");
    }
    if (read_fd < 0) {
        read_fd = open(watch_path, O_RDONLY | O_CLOEXEC);
        if (read_fd < 0)
            die("cannot open the watched file");
    }
    if (fstat(read_fd, &st) != 0)
        die("cannot stat the watched file");
    memset(&rec, 0, sizeof(rec));
    rec.magic = POWERLOSS_MAGIC;
    rec.offset = (uint64_t)off;
    rec.len = len;
    rec.old_size = (uint64_t)st.st_size;
    append(&rec, sizeof(rec));
    while (done < len) {
        size_t want = len - done < sizeof(buf) ? len - done : sizeof(buf);
        ssize_t got = real.pread(read_fd, buf, want, off + (off_t)done);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die("cannot read a pre-image");
        /* Past the end of the file: zeros, which the revert truncates away. */
        memset(buf + got, 0, want - (size_t)got);
        append(buf, want);
        done += want;
    }
}

/* Everything written so far is durable: the journal starts over (caller holds lock). */
static void
journal_synced(void)
{
    if (journal_fd >= 0 && ftruncate(journal_fd, 0) != 0)
        die("cannot empty the journal");
}

static size_t
iov_total(const struct iovec *iov, int n)
{
    size_t total = 0;

    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    return total;
}

/* Journals before a write to fd at off (off < 0: at the file position).
 * Returns 1, holding lock until after_write, if fd is the watched file: the
 * pre-image and the write then happen with no other write between them. */
static int
before_write(int fd, off_t off, size_t len)
{
    if (len == 0 || !is_watched(fd))
        return 0;
    pthread_mutex_lock(&lock);
    if (is_sync_fd(fd))
        return 1;
    if (off < 0) {
        int fl = fcntl(fd, F_GETFL);
        struct stat st;

        if (fl >= 0 && (fl & O_APPEND) && fstat(fd, &st) == 0)
            off = st.st_size;
        else
            off = lseek(fd, 0, SEEK_CUR);
        if (off < 0)
            die("cannot find the file position");
    }
    journal_preimage(off, len);
    return 1;
}

static void
after_write(int locked)
{
    if (locked)
        pthread_mutex_unlock(&lock);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
    ssize_t r;
    int locked = before_write(fd, -1, n);
    r = real.write(fd, buf, n);
    after_write(locked);
    return r;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t r;
    int locked = before_write(fd, off, n);
    r = real.pwrite(fd, buf, n, off);
    after_write(locked);
    return r;
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    ssize_t r;
    int locked = before_write(fd, off, n);
    r = real.pwrite64(fd, buf, n, off);
    after_write(locked);
    return r;
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    ssize_t r;
    int locked = before_write(fd, -1, iov_total(iov, cnt));
    r = real.writev(fd, iov, cnt);
    after_write(locked);
    return r;
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    ssize_t r;
    int locked = before_write(fd, off, iov_total(iov, cnt));
    r = real.pwritev(fd, iov, cnt, off);
    after_write(locked);
    return r;
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    ssize_t r;
    int locked = before_write(fd, off, iov_total(iov, cnt));
    r = real.pwritev64(fd, iov, cnt, off);
    after_write(locked);
    return r;
}

ssize_t
pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    /* RWF_DSYNC/RWF_SYNC make this one write durable; off -1 is the file position. */
    int locked = (flags & (RWF_DSYNC | RWF_SYNC)) ? 0 : before_write(fd, off, iov_total(iov, cnt));
    ssize_t r;

    r = real.pwritev2(fd, iov, cnt, off, flags);
    after_write(locked);
    return r;
}

static int
synced(int fd, fsync_fn fn)
{
    int watched = is_watched(fd);
    int r;

    if (watched)
        pthread_mutex_lock(&lock);
    r = fn(fd);
    /* fsync on any descriptor of the file makes all of it durable. */
    if (watched) {
        if (r == 0)
            journal_synced();
        pthread_mutex_unlock(&lock);
    }
    return r;
}

int
fsync(int fd)
{
    return synced(fd, real.fsync);
}

int
fdatasync(int fd)
{
    return synced(fd, real.fdatasync);
}

int
syncfs(int fd)
{
    int r;

    pthread_mutex_lock(&lock);
    r = real.syncfs(fd);
    if (r == 0)
        journal_synced();
    pthread_mutex_unlock(&lock);
    return r;
}

void
sync(void)
{
    pthread_mutex_lock(&lock);
    real.sync();
    journal_synced();
    pthread_mutex_unlock(&lock);
}
