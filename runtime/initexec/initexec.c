// initexec.c: what a den process becomes before its Go runtime starts (see initexec.go):
// den-init in a container's init. handover.c, in den's core build, makes a command that copies
// images the whole den with the same means.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <linux/mount.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

// Present only when blob.S is linked (the den_initbin tag).
extern const char den_init_blob[] __attribute__((weak));
extern const char den_init_blob_end[] __attribute__((weak));
// Present only in den's core build (transfer.S, the den_core tag): den built whole.
extern const char den_transfer_blob[] __attribute__((weak));
extern const char den_transfer_blob_end[] __attribute__((weak));
// Present only in den's core build too (monitor.S): den-monitor.
extern const char den_monitor_blob[] __attribute__((weak));
extern const char den_monitor_blob_end[] __attribute__((weak));
extern char **environ;

// den_transfer_errno is why the hand-over to the whole den failed (handover.c), 0 when it
// was not tried.
int den_transfer_errno;

size_t den_initexec_size(void) {
	if (den_init_blob == NULL || den_init_blob_end == NULL)
		return 0;
	return (size_t)(den_init_blob_end - den_init_blob);
}

struct place {
	uintptr_t at; // a blob's address in memory
	off_t off;    // its offset in the file, found by find_segment
};

// find_segment finds where a blob lies in the file of this program: in the loadable segment
// that holds it, at the same distance from the segment's start as in memory.
static int find_segment(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	struct place *p = data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && p->at >= lo && p->at < lo + ph->p_filesz) {
			p->off = (off_t)(ph->p_offset + (p->at - lo));
			return 1;
		}
	}
	return 0;
}

// den_copy_from_file fills fd with a blob from the page cache of this program's own file, with
// no page of the blob ever mapped into this process: about a quarter of the time of writing
// it from memory, which faults every page of it in first. It returns 0 when done.
int den_copy_from_file(int fd, const char *blob, size_t n) {
	struct place p = {(uintptr_t)blob, -1};
	if (dl_iterate_phdr(find_segment, &p) != 1 || p.off < 0)
		return -1;
	off_t off = p.off;
	int exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (exe < 0)
		return -1;
	size_t done = 0;
	while (done < n) {
		ssize_t w = sendfile(fd, exe, &off, n - done);
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	close(exe);
	return done == n ? 0 : -1;
}

// den_exec_blob runs a program carried in this one from a sealed memfd, with this process's
// descriptors and environment. It returns only on failure, with errno set.
void den_exec_blob(const char *blob, size_t n, const char *name, char **argv) {
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return;
	size_t off = 0;
	if (den_copy_from_file(fd, blob, n) == 0)
		off = n;
	else if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		goto fail;
	while (off < n) {
		ssize_t w = write(fd, blob + off, n - off);
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0)
		goto fail;
	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
fail:;
	int e = errno;
	close(fd);
	errno = e;
}

// den_write_init fills fd with den-init: from this program's file, else from memory. It
// returns 0 when done.
int den_write_init(int fd) {
	size_t n = den_initexec_size(), off = 0;
	if (n == 0)
		return -1;
	if (den_copy_from_file(fd, den_init_blob, n) == 0)
		return 0;
	if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0)
		return -1;
	while (off < n) {
		ssize_t w = write(fd, den_init_blob + off, n - off);
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

// den-init kept as a file (see initexec.go, Keep): DIR/bin/den-init, beside an empty DIR/empty.
// The init execs it through a read-only overlay of those two directories, mounted detached:
// a file the container cannot write (the overlay has no upper layer, so no remount makes it
// writable) and cannot reach by any path, as runc seals its own binary, and that costs a
// lookup where a memfd costs a copy of den-init's 5 MB and fresh pages for all of it: some 3
// ms of every container start and every exec here.
#define KEPT_MARK " den-init="
#define LEVEL_ENV "_LIBCONTAINER_LOGLEVEL"

// den_init_sealed is the sealed den-init the init execs, -1 when there is none.
static int den_init_sealed = -1;

// den_private_subdir opens the directory name under at if it is this user's own, not a link,
// and writable by nobody else.
int den_private_subdir(int at, const char *name) {
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0022))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

// den_seal_kept opens DIR/bin/den-init through a read-only overlay of DIR/bin and DIR/empty
// and returns the descriptor if the file there is den-init: a regular file of this user's
// own, mode 0500, of den-init's size. The directories go to the overlay as the descriptors
// that were checked. It returns -1 otherwise.
int den_seal_kept(const char *dir, size_t n) {
	int fd = -1, ctx = -1, mnt = -1;
	int top = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int bin = top >= 0 ? den_private_subdir(top, "bin") : -1;
	int empty = top >= 0 ? den_private_subdir(top, "empty") : -1;
	if (bin < 0 || empty < 0)
		goto out;
	char lower[64];
	snprintf(lower, sizeof lower, "/proc/self/fd/%d:/proc/self/fd/%d", bin, empty);
	ctx = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
	if (ctx < 0 || syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "lowerdir", lower, 0) < 0)
		goto out;
	(void)syscall(SYS_fsconfig, ctx, FSCONFIG_SET_STRING, "xino", "off", 0);
	if (syscall(SYS_fsconfig, ctx, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		goto out;
	mnt = (int)syscall(SYS_fsmount, ctx, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
	if (mnt < 0)
		goto out;
	fd = openat(mnt, "den-init", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
			(st.st_mode & 07777) != 0500 || (size_t)st.st_size != n)) {
		close(fd);
		fd = -1;
	}
out:;
	int fds[] = {top, bin, empty, ctx, mnt};
	for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return fd;
}

// kept_later is the directory take_kept left to den_seal_later.
static char kept_later[4096];

// seal makes den_init_sealed the den-init kept in dir.
static void seal(const char *dir, size_t n) {
	int fd = den_seal_kept(dir, n);
	if (fd < 0)
		return;
	den_init_sealed = fcntl(fd, F_DUPFD_CLOEXEC, 100);
	close(fd);
}

// take_kept runs in a container's init before runc's nsenter constructor and before
// runtime/seccompcache's (150), still in den's namespaces, where den's directories are: it
// takes den's " den-init=DIR" out of the end of the log level and seals the den-init kept
// there, above libcontainer's descriptors, for den_initexec. Nothing of it is left for the
// container: the descriptor is close-on-exec, and den-init's own init closes what it did not
// pass on.
__attribute__((constructor(149))) static void take_kept(void) {
	size_t n = den_initexec_size();
	const char *lv = getenv(LEVEL_ENV);
	const char *mark = lv != NULL ? strstr(lv, KEPT_MARK) : NULL;
	if (n == 0 || mark == NULL || getenv("_LIBCONTAINER_INITPIPE") == NULL)
		return;
	char dir[4096], level[4096];
	snprintf(dir, sizeof dir, "%s", mark + strlen(KEPT_MARK));
	snprintf(level, sizeof level, "%.*s", (int)(mark - lv), lv);
	setenv(LEVEL_ENV, level, 1);
	// An init that den means to hand to a waiting one (zygote.c) needs no den-init of its
	// own unless the hand-over is refused: the sealing waits for that.
	if (strstr(level, " den-zygote=") != NULL) {
		snprintf(kept_later, sizeof kept_later, "%s", dir);
		return;
	}
	seal(dir, n);
}

// den_seal_later seals the den-init that take_kept left for later, if it did.
void den_seal_later(void) {
	if (kept_later[0] != 0)
		seal(kept_later, den_initexec_size());
	kept_later[0] = 0;
}

// take_rootfs_wait moves den's " den-rootfs-wait=DIR" (rootfswait.go), which den puts
// before the other requests, out of the log level into WAIT_ENV, for den-init's Go to read:
// runc's nsenter reads the level next and takes nothing but a number. By now take_kept and
// runtime/seccompcache's constructor have taken theirs out, so DIR is the rest.
#define WAIT_MARK " den-rootfs-wait="
#define WAIT_ENV "_DEN_ROOTFS_WAIT"
__attribute__((constructor(152))) static void take_rootfs_wait(void) {
	const char *lv = getenv(LEVEL_ENV);
	const char *mark = lv != NULL ? strstr(lv, WAIT_MARK) : NULL;
	if (mark == NULL || getenv("_LIBCONTAINER_INITPIPE") == NULL)
		return;
	char level[4096];
	snprintf(level, sizeof level, "%.*s", (int)(mark - lv), lv);
	setenv(WAIT_ENV, mark + strlen(WAIT_MARK), 1);
	setenv(LEVEL_ENV, level, 1);
}

// den_initexec is called by __wrap_pthread_getattr_np below and, should that not have run, by
// runtime/prefault at the Go runtime's first memory mapping, in every den process; it tries
// once. By then runc's nsenter constructor has run and returned, which it does only in the
// init that goes on to become the container's process. There, when den-init is linked in,
// the process becomes den-init, with the same environment and descriptors (runc's pipes),
// which libcontainer's init in den-init picks up: the sealed kept den-init when take_kept
// found it, else one copied into a sealed memfd. Any failure leaves den to run the init
// itself.
void den_initexec(void) {
	static int tried;
	if (__atomic_load_n(&tried, __ATOMIC_RELAXED) || __atomic_exchange_n(&tried, 1, __ATOMIC_RELAXED))
		return;
	size_t n = den_initexec_size();
	if (n == 0 || getenv("_LIBCONTAINER_INITPIPE") == NULL)
		return;
	char *argv[] = {"runc:[2:INIT]", NULL};
	// One P from its start: libcontainer's init sets GOMAXPROCS to 1 first thing, which
	// stops the world (0.4 ms of den-init's 15, perf) after the runtime has started threads
	// for the second P. libcontainer passes den's own GOMAXPROCS here; the container's
	// command gets its environment from its config, not from this one.
	setenv("GOMAXPROCS", "1", 1);
	if (den_init_sealed >= 0) {
		syscall(SYS_execveat, den_init_sealed, "", argv, environ, AT_EMPTY_PATH);
		close(den_init_sealed);
		den_init_sealed = -1;
	}
	den_exec_blob(den_init_blob, n, "den-init", argv);
}

// den_init_sum is the SHA-256 of den-init in hex, where it is linked in (blob.S).
extern const char den_init_sum[] __attribute__((weak));

// den_zygote_exec makes the process runtime/userns's spawn_zygote started den-init, waiting
// for a container on the socket sock (zygote.go): the den-init that runtime/initexec's Keep
// keeps under den's default data directory, sealed as take_kept seals it, else a copy in a
// memfd. Only the environment the waiting needs goes along (and den's XDG_RUNTIME_DIR, which
// says whose it is); the container's comes with the hand-over. It returns only on failure.
void den_zygote_exec(int sock) {
	size_t n = den_initexec_size();
	if (n == 0 || den_init_sum == NULL || strlen(den_init_sum) < 16)
		return;
	char sockenv[32], rundir[4200];
	snprintf(sockenv, sizeof sockenv, "_DEN_ZYGOTE=%d", sock);
	// Whose it is, for those who look (den's tests): den's runtime directory, if set.
	const char *run = getenv("XDG_RUNTIME_DIR");
	snprintf(rundir, sizeof rundir, "XDG_RUNTIME_DIR=%s", run != NULL ? run : "");
	char *env[] = {"GOMAXPROCS=1", sockenv, rundir, NULL};
	char *argv[] = {"runc:[2:INIT]", NULL};
	// config.ResolvePaths: $XDG_DATA_HOME/den, else ~/.local/share/den.
	const char *data = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	char dir[4096];
	dir[0] = 0;
	if (data != NULL && data[0] == '/')
		snprintf(dir, sizeof dir, "%s/den/init/%.16s", data, den_init_sum);
	else if ((data == NULL || data[0] == 0) && home != NULL && home[0] == '/')
		snprintf(dir, sizeof dir, "%s/.local/share/den/init/%.16s", home, den_init_sum);
	environ = env;
	int fd = dir[0] != 0 ? den_seal_kept(dir, n) : -1;
	if (fd >= 0) {
		syscall(SYS_execveat, fd, "", argv, env, AT_EMPTY_PATH);
		close(fd);
	}
	den_exec_blob(den_init_blob, n, "den-init", argv);
}

int __real_pthread_getattr_np(pthread_t thread, pthread_attr_t *attr);

// __wrap_pthread_getattr_np stands for the C library's pthread_getattr_np (the link wraps it,
// see initexec.go), which cgo's start-up calls first thing in the Go runtime's start, to learn
// the main thread's stack (reading /proc/self/maps for it): in a container's init, runc's
// nsenter constructor has run and returned by then. The init becomes den-init here, before
// the Go runtime of den's binary has done anything; left to den_initexec's other caller, the
// runtime's first memory mapping, it first went through cgo's start-up and the runtime's own,
// whose pages of den's large binary a freshly cloned process faults in one at a time: 1 to
// 4 ms on every container start and exec here. (main itself cannot be wrapped: the Go linker
// tests its linker's flags on a program that would then lack the wrapper.)
int __wrap_pthread_getattr_np(pthread_t thread, pthread_attr_t *attr) {
	den_initexec();
	return __real_pthread_getattr_np(thread, attr);
}

// den_transfer_size is the size of the whole den a core build carries, 0 in any other build.
size_t den_transfer_size(void) {
	if (den_transfer_blob == NULL || den_transfer_blob_end == NULL)
		return 0;
	return (size_t)(den_transfer_blob_end - den_transfer_blob);
}

// den_monitor_size is the size of the den-monitor a core build carries, 0 in any other build.
size_t den_monitor_size(void) {
	if (den_monitor_blob == NULL || den_monitor_blob_end == NULL)
		return 0;
	return (size_t)(den_monitor_blob_end - den_monitor_blob);
}
