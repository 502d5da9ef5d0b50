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

// runtime/userns (enter.c): whether a command line is one that copies images, and the
// user's private directories under den's runtime directory.
int den_transfer_command(int argc, char **argv);
int den_runtime_subdir(uid_t uid, uid_t owner, const char *sub, char *out, size_t n);

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

// remove_others removes the whole dens of other builds from dir, keeping keep.
static void remove_others(const char *dir, const char *keep) {
	DIR *d = opendir(dir);
	if (d == NULL)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || strcmp(e->d_name, keep) == 0)
			continue;
		char p[4400];
		snprintf(p, sizeof p, "%s/%s/den", dir, e->d_name);
		unlink(p);
		snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
		rmdir(p);
	}
	closedir(d);
}

// cached_transfer puts in path the whole den as a file in the user's runtime directory,
// RUNTIME/bin/SUM/den, written there by the first command of this build that needed it.
// Exec'ing it costs a lookup, where a memfd costs a copy of its 30-odd MB every time (some
// 17 ms). Only a regular file of the user's own, mode 0500 and of the right size, in
// directories of the user's own that nobody else may write, is taken. A build that writes
// its den removes those of other builds. It returns 0 when path is ready.
static int cached_transfer(size_t n, char *path, size_t len) {
	char bin[4200], dir[4300];
	uid_t me = geteuid();
	if (den_transfer_sum == NULL || den_runtime_subdir(getuid(), me, "bin", bin, sizeof bin) < 0)
		return -1;
	char sum[17];
	snprintf(sum, sizeof sum, "%.16s", den_transfer_sum);
	snprintf(dir, sizeof dir, "%s/%s", bin, sum);
	snprintf(path, len, "%s/den", dir);
	struct stat st;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != me || (st.st_mode & 0077))
		return -1;
	if (lstat(path, &st) < 0) {
		int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0500);
		if (fd < 0)
			return -1;
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		int made = copy_from_file(fd, den_transfer_blob, n) == 0 &&
			   linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0;
		close(fd);
		if (made)
			remove_others(bin, sum);
		// Made here or by another command at the same moment: checked as any other.
		if (lstat(path, &st) < 0)
			return -1;
	}
	return S_ISREG(st.st_mode) && st.st_uid == me && (st.st_mode & 07777) == 0500 && (size_t)st.st_size == n ? 0 : -1;
}

// hand_over makes a core den that was asked to copy images (load, import, save, pull, push,
// login, logout) the whole den, with the same arguments, before anything else happens in
// this process: before enter.c's user namespace and before Go. Any other process of den (a
// container's init, a monitor, the child of the slow user namespace path) is not a command
// line and is left alone. The whole den runs from the user's runtime directory, else from a
// memfd.
__attribute__((constructor(101))) static void hand_over(int argc, char **argv) {
	size_t n = den_transfer_size();
	if (n == 0 || getenv("_LIBCONTAINER_INITPIPE") || getenv("_DEN_USERNS_STAGE") || getenv("_DEN_MONITOR") ||
	    getenv("_DEN_NETWORK_HOLDER") || !den_transfer_command(argc, argv))
		return;
	char path[4400];
	if (cached_transfer(n, path, sizeof path) == 0)
		execve(path, argv, environ);
	exec_blob(den_transfer_blob, n, "den", argv);
	den_transfer_errno = errno ? errno : EIO;
}
