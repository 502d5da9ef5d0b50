//go:build den_core && !den_monitor

// handover.c: the programs den's core build carries, kept as files of the user's cache
// directory and run from there (see initexec.go):
//   - the whole den (transfer.S): a command that copies images (load, import, save, pull,
//     push, login, logout) becomes it before anything else happens in the process;
//   - den-monitor (monitor.S, runtime/monitorbin): what a detached container's monitor runs.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern const char den_transfer_blob[], den_transfer_blob_end[];
extern const char den_monitor_blob[];
// The SHA-256 of each, in hex.
extern const char den_transfer_sum[], den_monitor_sum[];
extern char **environ;
extern int den_transfer_errno;

// initexec.c
size_t den_transfer_size(void);
size_t den_monitor_size(void);
int den_copy_from_file(int fd, const char *blob, size_t n);
int den_private_subdir(int at, const char *name);
void den_exec_blob(const char *blob, size_t n, const char *name, char **argv);
// runtime/userns (enter.c): whether a command line is one that copies images.
int den_transfer_command(int argc, char **argv);

// private_dir opens (making it if needed) the directory name under the directory at fd, and
// returns it if it is this user's own and nobody else may write in it.
static int private_dir(int at, const char *name) {
	mkdirat(at, name, 0700);
	return den_private_subdir(at, name);
}

// remove_others removes the programs name of other builds from kind (CACHE/den/KIND), keeping
// the directory keep.
static void remove_others(int kind, const char *keep, const char *name) {
	int fd = dup(kind);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, keep) == 0)
			continue;
		int old = openat(kind, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (old >= 0) {
			unlinkat(old, name, 0);
			close(old);
		}
		unlinkat(kind, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

// kept_program reports whether st is that of a kept program of n bytes: a regular file of
// the user's own, mode 0500.
static int kept_program(const struct stat *st, size_t n) {
	return S_ISREG(st->st_mode) && st->st_uid == geteuid() && (st->st_mode & 07777) == 0500 && (size_t)st->st_size == n;
}

// cached_program returns a descriptor of the directory that holds a carried program as a file,
// CACHE/den/KIND/SUM/NAME (CACHE: $XDG_CACHE_HOME, else ~/.cache; SUM: the start of the
// program's checksum, sum), written there from blob, n bytes, by the first process of this
// build that needed it: exec'ing it costs a lookup, where a memfd costs a copy of all of it
// every time (some 17 ms for the whole den). Every directory from den/ down must be the user's
// own and writable by nobody else, and the file a regular one of the user's own, mode 0500 and
// of the right size; the walk is by descriptors, so no directory can be swapped in between a
// check and the exec, and the file is looked up by name, not following a link, only in the
// last one, which nobody but the user may write. A build that writes its program removes those
// of other builds. It returns -1 when there is none to run.
static int cached_program(const char *kind, const char *sum, const char *name, const char *blob, size_t n) {
	char base[4096];
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (x != NULL && x[0] == '/')
		snprintf(base, sizeof base, "%s", x);
	else if (home != NULL && home[0] == '/')
		snprintf(base, sizeof base, "%s/.cache", home);
	else
		return -1;
	char short_sum[17];
	snprintf(short_sum, sizeof short_sum, "%.16s", sum);
	mkdir(base, 0700);
	int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *levels[] = {"den", kind, short_sum};
	int parent = -1;
	for (int i = 0; i < 3 && fd >= 0; i++) {
		int next = private_dir(fd, levels[i]);
		if (i == 2)
			parent = fd;
		else
			close(fd);
		fd = next;
	}
	if (fd < 0) {
		if (parent >= 0)
			close(parent);
		return -1;
	}
	struct stat st;
	int have = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	// Anything else under the name (another size or mode, a link, another user's file) is
	// replaced by the program; left there, it would send every process that needs it to a
	// memfd or to den itself.
	if (have && !kept_program(&st, n) && unlinkat(fd, name, 0) == 0)
		have = 0;
	if (!have) {
		// One process writes it; the others that need it at that moment (a compose file's
		// detached containers starting together on a new build) wait for that under the
		// directory's lock rather than each write a copy of their own.
		flock(fd, LOCK_EX);
		have = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && kept_program(&st, n);
	}
	if (!have) {
		int tmp = openat(fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0500);
		if (tmp >= 0) {
			char proc[64];
			snprintf(proc, sizeof proc, "/proc/self/fd/%d", tmp);
			// The mode is set again past the umask; the data reaches the disk before the
			// name does, so a crash cannot leave a kept program of the right size but torn.
			if (den_copy_from_file(tmp, blob, n) == 0 && fchmod(tmp, 0500) == 0 && fdatasync(tmp) == 0 &&
			    linkat(AT_FDCWD, proc, fd, name, AT_SYMLINK_FOLLOW) == 0)
				remove_others(parent, short_sum, name);
			close(tmp);
		}
		// Made here or by another process at the same moment: checked as any other.
		if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			st.st_mode = 0;
	}
	flock(fd, LOCK_UN);
	close(parent);
	if (kept_program(&st, n))
		return fd;
	close(fd);
	return -1;
}

// den_monitor_dir returns a descriptor of the directory that holds den-monitor, kept as
// CACHE/den/monitor/SUM/den-monitor (see cached_program), or -1 when there is none to run.
int den_monitor_dir(void) {
	size_t n = den_monitor_size();
	if (n == 0)
		return -1;
	return cached_program("monitor", den_monitor_sum, "den-monitor", den_monitor_blob, n);
}

// den_exec_monitor makes this process den-monitor, with argv, from the kept file (enter.c's
// monitor of `run -d`). It returns only when there is none, and the caller then runs den
// itself as the monitor.
void den_exec_monitor(char **argv) {
	int dir = den_monitor_dir();
	if (dir < 0)
		return;
	syscall(SYS_execveat, dir, "den-monitor", argv, environ, AT_SYMLINK_NOFOLLOW);
	close(dir);
}

// hand_over makes a core den that was asked to copy images (load, import, save, pull, push,
// login, logout) the whole den, with the same arguments, before anything else happens in
// this process: before enter.c's user namespace and before Go. Any other process of den (a
// container's init, a monitor, the child of the slow user namespace path) is not a command
// line and is left alone. The whole den runs from the user's cache directory, else from a
// memfd.
__attribute__((constructor(101))) static void hand_over(int argc, char **argv) {
	size_t n = den_transfer_size();
	if (n == 0 || getenv("_LIBCONTAINER_INITPIPE") || getenv("_DEN_USERNS_STAGE") || getenv("_DEN_MONITOR") ||
	    getenv("_DEN_NETWORK_HOLDER") || !den_transfer_command(argc, argv))
		return;
	int dir = cached_program("bin", den_transfer_sum, "den", den_transfer_blob, n);
	if (dir >= 0) {
		syscall(SYS_execveat, dir, "den", argv, environ, AT_SYMLINK_NOFOLLOW);
		close(dir);
	}
	den_exec_blob(den_transfer_blob, n, "den", argv);
	den_transfer_errno = errno ? errno : EIO;
}
