/*
 * Power-cut simulator: an LD_PRELOAD shim that keeps, for every file directly under one directory
 * (POWERCUT_DIR), the image a power cut would leave: the content as of its last fsync/fdatasync.
 * Built by the tests with the system compiler (test/powercut/build.ts); never committed as a binary.
 *
 * Model (strict POSIX, like a disk with a volatile cache and no barriers besides fsync):
 *  - file data: what a write changed survives only once fsync/fdatasync of that inode (on ANY fd)
 *    returned. Writes are tracked as dirty byte ranges per inode; at fsync those ranges (and the
 *    file's size, after any ftruncate) are copied into the shadow image POWERCUT_SHADOW/data/<ino>.
 *  - directory entries: creations, renames and unlinks survive only once the directory itself was
 *    fsynced; then POWERCUT_SHADOW/manifest lists "<ino>\t<name>" for every regular file in it.
 *  - a cut (done by the harness, restore.ts): SIGKILL, then the directory becomes exactly the
 *    manifest's names, each with its inode's shadow image (empty when never synced).
 * The snapshot of the dirty ranges is taken when fsync is called (writes to tracked inodes are held
 * meanwhile) and stored into the shadow only after the real fsync returned, so a cut inside fsync
 * keeps the previous image, and a cut while the shadow is being written leaves a torn mix of the
 * two, as a real cut during a flush may.
 *
 * Test hooks (files in the shadow dir, checked only at the matching event): kill-on-sync-<name>
 * SIGKILLs the process inside an fsync of <name> (after the snapshot, before anything is durable);
 * kill-on-write-<name> at a write to <name> (for the database file: inside a checkpoint). The shim
 * keeps per-file counters of syncs and writes in POWERCUT_SHADOW/stats.
 *
 * Node's libuv may do file I/O through io_uring, past libc and this shim: run with UV_USE_IO_URING=0
 * (the unit test proves the gateway's own fdatasync is seen).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_INODES 64

struct range {
  off_t start, end;
};

struct inode {
  int used;
  ino_t ino;
  char name[NAME_MAX + 1];
  int rfd; /* private read-only fd, to read dirty ranges whatever the caller's fd allows */
  struct range *r;
  int nr, cap;
  int truncated; /* an ftruncate since the last sync: shrink the image to trunc_min first */
  off_t trunc_min;
  unsigned long syncs, writes;
  long long last_sync_ms; /* wall clock of the last completed sync */
};

static int active;
static char dir[PATH_MAX];
static char shadow[PATH_MAX];
static dev_t dir_dev;
static ino_t dir_ino;
static struct inode inodes[MAX_INODES];
static unsigned long dir_syncs;
/* wlock: the inode table and dirty ranges (held across tracked writes); slock: one sync at a time. */
static pthread_mutex_t wlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t slock = PTHREAD_MUTEX_INITIALIZER;

static int (*r_open)(const char *, int, ...);
static int (*r_open64)(const char *, int, ...);
static int (*r_openat)(int, const char *, int, ...);
static int (*r_openat64)(int, const char *, int, ...);
static ssize_t (*r_write)(int, const void *, size_t);
static ssize_t (*r_pwrite)(int, const void *, size_t, off_t);
static ssize_t (*r_pwrite64)(int, const void *, size_t, off_t);
static ssize_t (*r_writev)(int, const struct iovec *, int);
static ssize_t (*r_pwritev)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev64)(int, const struct iovec *, int, off_t);
static ssize_t (*r_pwritev2)(int, const struct iovec *, int, off_t, int);
static int (*r_ftruncate)(int, off_t);
static int (*r_ftruncate64)(int, off_t);
static int (*r_fsync)(int);
static int (*r_fdatasync)(int);
static int (*r_unlink)(const char *);
static int (*r_unlinkat)(int, const char *, int);
static int (*r_rename)(const char *, const char *);
static int (*r_renameat)(int, const char *, int, const char *);
static int (*r_renameat2)(int, const char *, int, const char *, unsigned int);

#define RESOLVE(name) r_##name = dlsym(RTLD_NEXT, #name)

static void die(const char *what) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "powercut shim: %s: %s\n", what, strerror(errno));
  if (r_write) r_write(2, buf, (size_t)n);
  abort();
}

static void shadow_path(char *out, const char *rel) { snprintf(out, PATH_MAX, "%s/%s", shadow, rel); }

static struct inode *find(ino_t ino) {
  for (int i = 0; i < MAX_INODES; i++)
    if (inodes[i].used && inodes[i].ino == ino) return &inodes[i];
  return NULL;
}

/* Caller holds wlock. */
static struct inode *track(ino_t ino, const char *name, int fd) {
  struct inode *in = find(ino);
  if (in) return in;
  for (int i = 0; i < MAX_INODES; i++) {
    if (inodes[i].used) continue;
    in = &inodes[i];
    memset(in, 0, sizeof *in);
    in->used = 1;
    in->ino = ino;
    snprintf(in->name, sizeof in->name, "%s", name);
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    in->rfd = r_open(proc, O_RDONLY | O_CLOEXEC);
    if (in->rfd < 0) die("reopen tracked file");
    return in;
  }
  errno = ENOSPC;
  die("too many files in the state dir");
  return NULL;
}

/* The tracked inode behind fd, or NULL. Checked by fstat at each call: fds are reused freely. */
static struct inode *of_fd(int fd, int *is_dir) {
  struct stat st;
  if (is_dir) *is_dir = 0;
  if (fstat(fd, &st) != 0 || st.st_dev != dir_dev) return NULL;
  if (S_ISDIR(st.st_mode)) {
    if (is_dir && st.st_ino == dir_ino) *is_dir = 1;
    return NULL;
  }
  if (!S_ISREG(st.st_mode)) return NULL;
  pthread_mutex_lock(&wlock);
  struct inode *in = find(st.st_ino);
  pthread_mutex_unlock(&wlock);
  return in;
}

/* Caller holds wlock. Keeps the ranges disjoint: a WAL's appends stay one range. */
static void add_range(struct inode *in, off_t start, off_t end) {
  in->writes++;
  for (int i = 0; i < in->nr;) {
    struct range *r = &in->r[i];
    if (r->start <= end && r->end >= start) { /* overlaps or touches: absorb it */
      if (r->start < start) start = r->start;
      if (r->end > end) end = r->end;
      in->r[i] = in->r[--in->nr];
    } else {
      i++;
    }
  }
  if (in->nr == in->cap) {
    in->cap = in->cap ? in->cap * 2 : 16;
    in->r = realloc(in->r, (size_t)in->cap * sizeof *in->r);
    if (!in->r) die("realloc");
  }
  in->r[in->nr++] = (struct range){start, end};
}

static void maybe_kill(const char *event, const char *name) {
  char p[PATH_MAX], rel[NAME_MAX + 32];
  snprintf(rel, sizeof rel, "kill-on-%s-%s", event, name);
  shadow_path(p, rel);
  if (access(p, F_OK) == 0) kill(getpid(), SIGKILL);
}

static void write_stats(void) {
  char buf[8192];
  int n = snprintf(buf, sizeof buf, "dir\tsyncs=%lu\n", dir_syncs);
  for (int i = 0; i < MAX_INODES && n < (int)sizeof buf - 256; i++)
    if (inodes[i].used)
      n += snprintf(buf + n, sizeof buf - (size_t)n, "%s\tsyncs=%lu\twrites=%lu\tlast=%lld\n",
                    inodes[i].name, inodes[i].syncs, inodes[i].writes, inodes[i].last_sync_ms);
  char p[PATH_MAX], tmp[PATH_MAX];
  shadow_path(p, "stats");
  shadow_path(tmp, "stats.tmp");
  int fd = r_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open stats");
  if (r_write(fd, buf, (size_t)n) != n) die("write stats");
  close(fd);
  if (r_rename(tmp, p) != 0) die("rename stats");
}

/* The directory was synced: its current entries are what survives from now on. */
static void write_manifest(void) {
  char p[PATH_MAX], tmp[PATH_MAX];
  shadow_path(p, "manifest");
  shadow_path(tmp, "manifest.tmp");
  int fd = r_open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) die("open manifest");
  DIR *d = opendir(dir);
  if (!d) die("opendir");
  struct dirent *e;
  char line[NAME_MAX + 64];
  while ((e = readdir(d))) {
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    int n = snprintf(line, sizeof line, "%lu\t%s\n", (unsigned long)st.st_ino, e->d_name);
    if (r_write(fd, line, (size_t)n) != n) die("write manifest");
  }
  closedir(d);
  close(fd);
  if (r_rename(tmp, p) != 0) die("rename manifest");
}

struct snap {
  struct range *r;
  char **data;
  int nr;
  int truncated;
  off_t trunc_min, size;
};

static int sync_file(int fd, struct inode *in, int (*real)(int)) {
  pthread_mutex_lock(&slock);
  struct snap s = {0};
  pthread_mutex_lock(&wlock);
  struct stat st;
  if (fstat(in->rfd, &st) != 0) die("fstat");
  s.size = st.st_size;
  s.truncated = in->truncated;
  s.trunc_min = in->trunc_min;
  s.nr = in->nr;
  s.r = in->r;
  s.data = calloc((size_t)(s.nr ? s.nr : 1), sizeof *s.data);
  for (int i = 0; i < s.nr; i++) {
    if (s.r[i].end > s.size) s.r[i].end = s.size; /* cut off by a later ftruncate */
    if (s.r[i].start >= s.r[i].end) continue;
    size_t len = (size_t)(s.r[i].end - s.r[i].start);
    s.data[i] = malloc(len);
    if (!s.data[i] || pread(in->rfd, s.data[i], len, s.r[i].start) != (ssize_t)len) die("snapshot");
  }
  in->r = NULL;
  in->nr = in->cap = 0;
  in->truncated = 0;
  pthread_mutex_unlock(&wlock);

  maybe_kill("sync", in->name); /* a cut during the flush: nothing of this sync is durable */
  int rc = real(fd);
  int saved = errno;

  char p[PATH_MAX], rel[64];
  snprintf(rel, sizeof rel, "data/%lu", (unsigned long)in->ino);
  shadow_path(p, rel);
  int sfd = r_open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (sfd < 0) die("open shadow image");
  if (s.truncated && r_ftruncate(sfd, s.trunc_min) != 0) die("truncate shadow image");
  for (int i = 0; i < s.nr; i++) {
    if (!s.data[i]) continue;
    size_t len = (size_t)(s.r[i].end - s.r[i].start);
    if (r_pwrite(sfd, s.data[i], len, s.r[i].start) != (ssize_t)len) die("write shadow image");
    free(s.data[i]);
  }
  if (r_ftruncate(sfd, s.size) != 0) die("size shadow image");
  close(sfd);
  free(s.data);
  free(s.r);
  in->syncs++;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  in->last_sync_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  write_stats();
  pthread_mutex_unlock(&slock);
  errno = saved;
  return rc;
}

static int do_sync(int fd, int (*real)(int)) {
  if (!active) return real(fd);
  int is_dir;
  struct inode *in = of_fd(fd, &is_dir);
  if (in) return sync_file(fd, in, real);
  if (!is_dir) return real(fd);
  pthread_mutex_lock(&slock);
  maybe_kill("sync", ".");
  int rc = real(fd);
  int saved = errno;
  write_manifest();
  dir_syncs++;
  write_stats();
  pthread_mutex_unlock(&slock);
  errno = saved;
  return rc;
}

int fsync(int fd) { return do_sync(fd, r_fsync); }
int fdatasync(int fd) { return do_sync(fd, r_fdatasync); }

/* Absolute path of `path` opened relative to dirfd; 0 if it cannot be told. */
static int abs_path(int dirfd, const char *path, char *out) {
  if (path[0] == '/') return snprintf(out, PATH_MAX, "%s", path) < PATH_MAX;
  char base[PATH_MAX];
  if (dirfd == AT_FDCWD) {
    if (!getcwd(base, sizeof base)) return 0;
  } else {
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(proc, base, sizeof base - 1);
    if (n < 0) return 0;
    base[n] = 0;
  }
  return snprintf(out, PATH_MAX, "%s/%s", base, path) < PATH_MAX;
}

/* The entry name if `path` (relative to dirfd) names something directly in the state dir. */
static const char *in_dir(int dirfd, const char *path, char *buf) {
  if (!abs_path(dirfd, path, buf)) return NULL;
  size_t n = strlen(dir);
  if (strncmp(buf, dir, n) != 0 || buf[n] != '/') return NULL;
  const char *name = buf + n + 1;
  if (!*name || strchr(name, '/')) return NULL;
  return name;
}

/* After a successful open: start tracking a regular file of the state dir (a new one has no image). */
static int opened(int fd, int dirfd, const char *path, int flags, int created) {
  char buf[PATH_MAX];
  struct stat st;
  const char *name;
  if (fd < 0 || !(name = in_dir(dirfd, path, buf))) return fd;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_dev != dir_dev) return fd;
  int saved = errno;
  pthread_mutex_lock(&wlock);
  if (created) {
    /* A reused inode number must not inherit an old image: a file never synced is empty. */
    char p[PATH_MAX], rel[64];
    snprintf(rel, sizeof rel, "data/%lu", (unsigned long)st.st_ino);
    shadow_path(p, rel);
    r_unlink(p);
    struct inode *old = find(st.st_ino);
    if (old) {
      close(old->rfd);
      free(old->r);
      old->used = 0;
    }
  }
  struct inode *in = track(st.st_ino, name, fd);
  if (flags & O_TRUNC) { /* a truncation like ftruncate(fd, 0): durable at the next sync */
    in->truncated = 1;
    in->trunc_min = 0;
  }
  pthread_mutex_unlock(&wlock);
  errno = saved;
  return fd;
}

/* Whether opening with these flags creates the file (it does not exist yet). */
static int creates(int dirfd, const char *path, int flags) {
  if (!active || !(flags & O_CREAT)) return 0;
  struct stat st;
  int saved = errno;
  int missing = fstatat(dirfd, path, &st, 0) != 0 && errno == ENOENT;
  errno = saved;
  return missing;
}

#define OPEN_BODY(call, dirfd)                                  \
  mode_t mode = 0;                                              \
  if (flags & (O_CREAT | __O_TMPFILE)) {                        \
    va_list ap;                                                 \
    va_start(ap, flags);                                        \
    mode = va_arg(ap, mode_t);                                  \
    va_end(ap);                                                 \
  }                                                             \
  int created = creates(dirfd, path, flags);                    \
  int fd = call;                                                \
  return active ? opened(fd, dirfd, path, flags, created) : fd;

int open(const char *path, int flags, ...) { OPEN_BODY(r_open(path, flags, mode), AT_FDCWD) }
int open64(const char *path, int flags, ...) { OPEN_BODY(r_open64(path, flags, mode), AT_FDCWD) }
int openat(int dirfd, const char *path, int flags, ...) {
  OPEN_BODY(r_openat(dirfd, path, flags, mode), dirfd)
}
int openat64(int dirfd, const char *path, int flags, ...) {
  OPEN_BODY(r_openat64(dirfd, path, flags, mode), dirfd)
}

/* Writes at an explicit offset. */
#define PWRITE_BODY(call, off)                            \
  struct inode *in = active ? of_fd(fd, NULL) : NULL;     \
  if (!in) return call;                                   \
  maybe_kill("write", in->name);                          \
  pthread_mutex_lock(&wlock);                             \
  ssize_t n = call;                                       \
  int saved = errno;                                      \
  if (n > 0) add_range(in, (off), (off) + n);             \
  pthread_mutex_unlock(&wlock);                           \
  errno = saved;                                          \
  return n;

/* Writes at the file position (which they advance): the range ends where the position is now. */
#define WRITE_BODY(call)                                                 \
  struct inode *in = active ? of_fd(fd, NULL) : NULL;                    \
  if (!in) return call;                                                  \
  maybe_kill("write", in->name);                                         \
  pthread_mutex_lock(&wlock);                                            \
  ssize_t n = call;                                                      \
  int saved = errno;                                                     \
  if (n > 0) {                                                           \
    off_t end = lseek(fd, 0, SEEK_CUR);                                  \
    add_range(in, end - n, end);                                         \
  }                                                                      \
  pthread_mutex_unlock(&wlock);                                          \
  errno = saved;                                                         \
  return n;

ssize_t pwrite(int fd, const void *b, size_t len, off_t off) { PWRITE_BODY(r_pwrite(fd, b, len, off), off) }
ssize_t pwrite64(int fd, const void *b, size_t len, off_t off) {
  PWRITE_BODY(r_pwrite64(fd, b, len, off), off)
}
ssize_t pwritev(int fd, const struct iovec *v, int c, off_t off) {
  PWRITE_BODY(r_pwritev(fd, v, c, off), off)
}
ssize_t pwritev64(int fd, const struct iovec *v, int c, off_t off) {
  PWRITE_BODY(r_pwritev64(fd, v, c, off), off)
}
ssize_t write(int fd, const void *b, size_t len) { WRITE_BODY(r_write(fd, b, len)) }
ssize_t writev(int fd, const struct iovec *v, int c) { WRITE_BODY(r_writev(fd, v, c)) }
ssize_t pwritev2(int fd, const struct iovec *v, int c, off_t off, int flags) {
  if (off == -1) {
    WRITE_BODY(r_pwritev2(fd, v, c, off, flags))
  } else {
    PWRITE_BODY(r_pwritev2(fd, v, c, off, flags), off)
  }
}

static int do_truncate(int fd, off_t len, int (*real)(int, off_t)) {
  struct inode *in = active ? of_fd(fd, NULL) : NULL;
  if (!in) return real(fd, len);
  pthread_mutex_lock(&wlock);
  int rc = real(fd, len);
  int saved = errno;
  if (rc == 0) {
    if (!in->truncated || len < in->trunc_min) in->trunc_min = len;
    in->truncated = 1;
  }
  pthread_mutex_unlock(&wlock);
  errno = saved;
  return rc;
}

int ftruncate(int fd, off_t len) { return do_truncate(fd, len, r_ftruncate); }
int ftruncate64(int fd, off_t len) { return do_truncate(fd, len, r_ftruncate64); }

/* Stop tracking an inode whose last name in the dir is going away (its number may be reused). */
static void forget(int dirfd, const char *path) {
  char buf[PATH_MAX];
  struct stat st;
  if (!active || !in_dir(dirfd, path, buf)) return;
  if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) != 0 || st.st_nlink > 1) return;
  pthread_mutex_lock(&wlock);
  struct inode *in = find(st.st_ino);
  if (in) {
    close(in->rfd);
    free(in->r);
    in->used = 0;
  }
  pthread_mutex_unlock(&wlock);
}

int unlink(const char *path) {
  int saved = errno;
  forget(AT_FDCWD, path);
  errno = saved;
  return r_unlink(path);
}
int unlinkat(int dirfd, const char *path, int flags) {
  int saved = errno;
  if (!(flags & AT_REMOVEDIR)) forget(dirfd, path);
  errno = saved;
  return r_unlinkat(dirfd, path, flags);
}
/* A rename inside the dir keeps the inode (its image follows); the name it replaces loses its link. */
int rename(const char *from, const char *to) {
  int saved = errno;
  forget(AT_FDCWD, to);
  errno = saved;
  return r_rename(from, to);
}
int renameat(int fd1, const char *from, int fd2, const char *to) {
  int saved = errno;
  forget(fd2, to);
  errno = saved;
  return r_renameat(fd1, from, fd2, to);
}
int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned int flags) {
  int saved = errno;
  forget(fd2, to);
  errno = saved;
  return r_renameat2(fd1, from, fd2, to, flags);
}

__attribute__((constructor)) static void init(void) {
  RESOLVE(open);
  RESOLVE(open64);
  RESOLVE(openat);
  RESOLVE(openat64);
  RESOLVE(write);
  RESOLVE(pwrite);
  RESOLVE(pwrite64);
  RESOLVE(writev);
  RESOLVE(pwritev);
  RESOLVE(pwritev64);
  RESOLVE(pwritev2);
  RESOLVE(ftruncate);
  RESOLVE(ftruncate64);
  RESOLVE(fsync);
  RESOLVE(fdatasync);
  RESOLVE(unlink);
  RESOLVE(unlinkat);
  RESOLVE(rename);
  RESOLVE(renameat);
  RESOLVE(renameat2);
  const char *d = getenv("POWERCUT_DIR"), *s = getenv("POWERCUT_SHADOW");
  if (!d || !s) return;
  if (!realpath(d, dir)) die("POWERCUT_DIR");
  if (!realpath(s, shadow)) die("POWERCUT_SHADOW");
  struct stat st;
  if (stat(dir, &st) != 0) die("stat POWERCUT_DIR");
  dir_dev = st.st_dev;
  dir_ino = st.st_ino;
  /* The harness wrote data/<ino> and the manifest for what is there now: track those inodes. */
  DIR *dd = opendir(dir);
  if (!dd) die("opendir");
  struct dirent *e;
  while ((e = readdir(dd))) {
    if (fstatat(dirfd(dd), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) continue;
    int fd = r_openat(dirfd(dd), e->d_name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open existing file");
    track(st.st_ino, e->d_name, fd);
    close(fd);
  }
  closedir(dd);
  active = 1;
}
