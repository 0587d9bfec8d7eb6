/* The store's calls into the OS: directories, the broker lock file, statfs. */
#define _DEFAULT_SOURCE 1 /* flock() */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_SYS_VFS_H
#include <sys/vfs.h>
#endif

#include "store_int.h"

static long fault_fs_type;            /* test hook: pretend statfs said this type */
static long long fault_free_bytes = -1; /* test hook: pretend statvfs said this much is free */

void
store_fault_free_bytes(long long n)
{
    fault_free_bytes = n;
}

void
store_fault_fs_type(long t)
{
    fault_fs_type = t;
}

bool
fs_exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

store_err
fs_file_size(const char *path, uint64_t *size_out, proto_detail *detail)
{
    struct stat st;

    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return STORE_ERR_NOT_FOUND;
        store_detail_set(detail, "dir", "cannot stat %s: %s", path, strerror(errno));
        return errno == EACCES ? STORE_ERR_PERMISSION : STORE_ERR_IO;
    }
    *size_out = (uint64_t)st.st_size;
    return STORE_OK;
}

bool
fs_mark_read(const char *dir, char *text, size_t len)
{
    char path[4096];
    FILE *fp;

    text[0] = '\0';
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STORE_MARK_FILE) >= sizeof(path) ||
        (fp = fopen(path, "r")) == NULL)
        return fs_exists(path);
    if (fgets(text, (int)len, fp) != NULL)
        text[strcspn(text, "\n")] = '\0';
    fclose(fp);
    return true;
}

/* Makes what was written in dir durable: the file's entry in it. */
static int
sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc;

    if (fd < 0)
        return -1;
    rc = fsync(fd);
    close(fd);
    return rc;
}

store_err
fs_mark_write(const char *dir, uint64_t now_ms, proto_detail *detail)
{
    char path[4096], tmp[4200], text[160];
    time_t secs = (time_t)(now_ms / 1000u);
    struct tm tm;
    int fd = -1, n;
    store_err err = STORE_OK;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, STORE_MARK_FILE) >= sizeof(path)) {
        store_detail_set(detail, "dir", "data directory path too long");
        return STORE_ERR_LIMIT;
    }
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    gmtime_r(&secs, &tm);
    n = snprintf(text, sizeof(text),
                 "liaison store format %u, created %04d-%02d-%02dT%02d:%02d:%02dZ\n",
                 STORE_FORMAT_VERSION, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec);
    /* Written whole under another name, then renamed: never half a marker. */
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, (size_t)n) != n || fsync(fd) != 0)
        goto fail;
    n = close(fd);
    fd = -1;
    if (n != 0 || rename(tmp, path) != 0 || sync_dir(dir) != 0)
        goto fail;
    goto out;
fail:
    store_detail_set(detail, "dir", "cannot write %s: %s", path, strerror(errno));
    PROTO_LOG(PROTO_LOG_ERROR, "STO-MARK", "path=%s error=\"%s\"", path, strerror(errno));
    err = errno == ENOSPC || errno == EDQUOT ? STORE_ERR_DISK_FULL
          : errno == EACCES || errno == EROFS ? STORE_ERR_PERMISSION
                                              : STORE_ERR_IO;
    unlink(tmp);
out:
    if (fd >= 0)
        close(fd);
    return err;
}

bool
fs_free_bytes(const char *dir, uint64_t *free_out)
{
    struct statvfs sv;

    if (fault_free_bytes >= 0) {
        *free_out = (uint64_t)fault_free_bytes;
        return true;
    }
    if (statvfs(dir, &sv) != 0)
        return false;
    *free_out = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
    return true;
}

store_err
fs_dir_prepare(const char *dir, bool create, proto_detail *detail)
{
    struct stat st;

    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            store_detail_set(detail, "dir", "%s is not a directory", dir);
            return STORE_ERR_INVALID;
        }
        return STORE_OK;
    }
    if (errno != ENOENT) {
        store_detail_set(detail, "dir", "cannot stat %s: %s", dir, strerror(errno));
        return errno == EACCES ? STORE_ERR_PERMISSION : STORE_ERR_IO;
    }
    if (!create) {
        store_detail_set(detail, "dir", "%s does not exist", dir);
        return STORE_ERR_NOT_FOUND;
    }
    /* Missing parents are made too (mode 0700), as mkdir -p would. */
    {
        char path[4096];
        size_t len = strlen(dir);

        if (len >= sizeof(path)) {
            store_detail_set(detail, "dir", "%s: path too long", dir);
            return STORE_ERR_INVALID;
        }
        memcpy(path, dir, len + 1);
        for (char *p = path + 1; *p != '\0'; p++) {
            if (*p != '/')
                continue;
            *p = '\0';
            if (mkdir(path, 0700) != 0 && errno != EEXIST) {
                store_detail_set(detail, "dir", "cannot create %s: %s", path, strerror(errno));
                PROTO_LOG(PROTO_LOG_ERROR, "STO-MKDIR", "dir=%s mkdir failed: %s", path,
                          strerror(errno));
                return errno == EACCES || errno == EROFS ? STORE_ERR_PERMISSION : STORE_ERR_IO;
            }
            *p = '/';
        }
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        store_detail_set(detail, "dir", "cannot create %s: %s", dir, strerror(errno));
        PROTO_LOG(PROTO_LOG_ERROR, "STO-MKDIR", "dir=%s mkdir failed: %s", dir, strerror(errno));
        return errno == EACCES || errno == EROFS ? STORE_ERR_PERMISSION : STORE_ERR_IO;
    }
    return STORE_OK;
}

/*
 * File systems on which LMDB's locking (shared memory, fcntl/flock) and
 * fsync durability do not hold: network and cluster file systems, and FUSE
 * (sshfs, s3fs, glusterfs... are FUSE; a local FUSE file system is refused
 * too, because the store cannot tell them apart).  Magic numbers are from
 * Linux's statfs(2) and include/uapi/linux/magic.h.
 */
static const struct {
    unsigned long magic; /* statfs f_type */
    const char *name;    /* for the error message */
} remote_fs[] = {
    {0x6969UL, "NFS"},
    {0x517BUL, "SMB"},
    {0xFF534D42UL, "CIFS"},
    {0xFE534D42UL, "SMB2"},
    {0x5346414FUL, "AFS"},
    {0x6B414653UL, "kAFS"},
    {0x00C36400UL, "Ceph"},
    {0x01021997UL, "9p (v9fs)"},
    {0x65735546UL, "FUSE"},
    {0x73757245UL, "Coda"},
    {0x564CUL, "NCP"},
    {0x0BD00BD0UL, "Lustre"},
    {0x47504653UL, "GPFS"},
    {0x20030528UL, "OrangeFS/PVFS2"},
    {0x19830326UL, "BeeGFS"},
    {0x01161970UL, "GFS2"},
    {0x7461636FUL, "OCFS2"},
};

store_err
fs_check_local(const char *dir, proto_detail *detail)
{
    unsigned long type = 0;

#ifdef HAVE_SYS_VFS_H
    struct statfs sf;

    if (statfs(dir, &sf) != 0) {
        store_detail_set(detail, "dir", "cannot statfs %s: %s", dir, strerror(errno));
        return STORE_ERR_IO;
    }
    type = (unsigned long)sf.f_type;
#endif
    if (fault_fs_type != 0)
        type = (unsigned long)fault_fs_type;
    for (size_t i = 0; i < sizeof(remote_fs) / sizeof(remote_fs[0]); i++) {
        if ((type & 0xFFFFFFFFUL) == remote_fs[i].magic) {
            store_detail_set(detail, "dir",
                             "%s is on a network file system (%s, type 0x%lx); LMDB's locking "
                             "and durability do not hold there: use a local disk",
                             dir, remote_fs[i].name, type);
            PROTO_LOG(PROTO_LOG_ERROR, "STO-NETFS", "dir=%s fs=%s refused", dir,
                      remote_fs[i].name);
            return STORE_ERR_NETWORK_FS;
        }
    }
    return STORE_OK;
}

store_err
fs_lock_take(const char *dir, int *fd_out, proto_detail *detail)
{
    char path[4096], text[32];
    int fd = -1;
    int n;
    ssize_t got;
    store_err err = STORE_OK;

    n = snprintf(path, sizeof(path), "%s/%s", dir, STORE_LOCK_FILE);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        store_detail_set(detail, "dir", "path too long");
        return STORE_ERR_LIMIT;
    }
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        store_detail_set(detail, "lock", "cannot open %s: %s", path, strerror(errno));
        return errno == EACCES || errno == EROFS ? STORE_ERR_PERMISSION : STORE_ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK) {
            long pid = 0;

            got = pread(fd, text, sizeof(text) - 1, 0);
            if (got > 0) {
                text[got] = '\0';
                pid = strtol(text, NULL, 10);
            }
            if (pid > 0)
                store_detail_set(detail, "lock",
                                 "data directory %s is in use by another broker (pid %ld, %s)",
                                 dir, pid, path);
            else
                store_detail_set(detail, "lock",
                                 "data directory %s is in use by another broker (%s)", dir, path);
            err = STORE_ERR_LOCKED;
        } else {
            store_detail_set(detail, "lock", "cannot lock %s: %s", path, strerror(errno));
            err = STORE_ERR_IO;
        }
        goto out;
    }
    n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)n, 0) != n) {
        store_detail_set(detail, "lock", "cannot write %s: %s", path, strerror(errno));
        err = STORE_ERR_IO;
        goto out;
    }
    *fd_out = fd;
    fd = -1;
out:
    if (fd >= 0)
        close(fd);
    return err;
}

void
fs_lock_release(int *fd)
{
    if (*fd < 0)
        return;
    /* The PID is left in the file: a stale PID with no lock held is harmless. */
    close(*fd);
    *fd = -1;
}

uint64_t
fs_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
