// initexec.c: what a den process becomes before its Go runtime starts (see initexec.go):
// den-init in a container's init, and, in den's core build, the whole den for a command that
// copies images.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
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
extern char **environ;

// The SHA-256 of den_transfer_blob, in hex (transfer.S).
extern const char den_transfer_sum[] __attribute__((weak));

// runtime/userns (enter.c): whether a command line is one that copies images.
int den_transfer_command(int argc, char **argv);

// den_transfer_errno is why the hand-over to the whole den failed, 0 when it was not tried.
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

// copy_from_file fills fd with a blob from the page cache of this program's own file, with
// no page of the blob ever mapped into this process: about a quarter of the time of writing
// it from memory, which faults every page of it in first. It returns 0 when done.
static int copy_from_file(int fd, const char *blob, size_t n) {
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

// exec_blob runs a program carried in this one from a sealed memfd, with this process's
// descriptors and environment. It returns only on failure, with errno set.
static void exec_blob(const char *blob, size_t n, const char *name, char **argv) {
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return;
	size_t off = 0;
	if (copy_from_file(fd, blob, n) == 0)
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

// den_initexec is called by runtime/prefault at the Go runtime's first memory mapping, in
// every den process: by then runc's nsenter constructor has run and returned, which it does
// only in the init that goes on to become the container's process. There, when den-init is
// linked in, the process becomes den-init, with the same environment and descriptors
// (runc's pipes), which libcontainer's init in den-init picks up. Any failure leaves den to
// run the init itself.
void den_initexec(void) {
	size_t n = den_initexec_size();
	if (n == 0 || getenv("_LIBCONTAINER_INITPIPE") == NULL)
		return;
	char *argv[] = {"runc:[2:INIT]", NULL};
	exec_blob(den_init_blob, n, "den-init", argv);
}

// den_transfer_size is the size of the whole den a core build carries, 0 in any other build.
size_t den_transfer_size(void) {
	if (den_transfer_blob == NULL || den_transfer_blob_end == NULL)
		return 0;
	return (size_t)(den_transfer_blob_end - den_transfer_blob);
}

// private_dir opens (making it if needed) the directory name under the directory at fd, and
// returns it if it is this user's own and nobody else may write in it.
static int private_dir(int at, const char *name) {
	mkdirat(at, name, 0700);
	int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (fd >= 0 && (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0022))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

// remove_others removes the whole dens of other builds from bin, keeping keep.
static void remove_others(int bin, const char *keep) {
	int fd = dup(bin);
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
		int old = openat(bin, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (old >= 0) {
			unlinkat(old, "den", 0);
			close(old);
		}
		unlinkat(bin, e->d_name, AT_REMOVEDIR);
	}
	closedir(d);
}

// cached_transfer returns a descriptor of the directory that holds the whole den as a file,
// CACHE/den/bin/SUM/den (CACHE: $XDG_CACHE_HOME, else ~/.cache), written there by the first
// command of this build that needed it: exec'ing it costs a lookup, where a memfd costs a
// copy of its 30-odd MB every time (some 17 ms). Every directory from den/ down must be the
// user's own and writable by nobody else, and the file a regular one of the user's own, mode
// 0500 and of the right size; the walk is by descriptors, so nothing can be swapped in
// between a check and the exec. A build that writes its den removes those of other builds.
// It returns -1 when there is none to run.
static int cached_transfer(size_t n) {
	char base[4096];
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	if (x != NULL && x[0] == '/')
		snprintf(base, sizeof base, "%s", x);
	else if (home != NULL && home[0] == '/')
		snprintf(base, sizeof base, "%s/.cache", home);
	else
		return -1;
	if (den_transfer_sum == NULL)
		return -1;
	char sum[17];
	snprintf(sum, sizeof sum, "%.16s", den_transfer_sum);
	mkdir(base, 0700);
	int fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	const char *levels[] = {"den", "bin", sum};
	int bin = -1;
	for (int i = 0; i < 3 && fd >= 0; i++) {
		int next = private_dir(fd, levels[i]);
		if (i == 2)
			bin = fd;
		else
			close(fd);
		fd = next;
	}
	if (fd < 0) {
		if (bin >= 0)
			close(bin);
		return -1;
	}
	struct stat st;
	if (fstatat(fd, "den", &st, AT_SYMLINK_NOFOLLOW) < 0) {
		int tmp = openat(fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0500);
		if (tmp >= 0) {
			char proc[64];
			snprintf(proc, sizeof proc, "/proc/self/fd/%d", tmp);
			if (copy_from_file(tmp, den_transfer_blob, n) == 0 &&
			    linkat(AT_FDCWD, proc, fd, "den", AT_SYMLINK_FOLLOW) == 0)
				remove_others(bin, sum);
			close(tmp);
		}
		// Made here or by another command at the same moment: checked as any other.
		if (fstatat(fd, "den", &st, AT_SYMLINK_NOFOLLOW) < 0)
			st.st_mode = 0;
	}
	close(bin);
	if (S_ISREG(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 07777) == 0500 && (size_t)st.st_size == n)
		return fd;
	close(fd);
	return -1;
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
	int dir = cached_transfer(n);
	if (dir >= 0) {
		syscall(SYS_execveat, dir, "den", argv, environ, AT_SYMLINK_NOFOLLOW);
		close(dir);
	}
	exec_blob(den_transfer_blob, n, "den", argv);
	den_transfer_errno = errno ? errno : EIO;
}
