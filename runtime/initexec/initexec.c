// initexec.c: what a den process becomes before its Go runtime starts (see initexec.go):
// den-init in a container's init. handover.c, in den's core build, makes a command that copies
// images the whole den with the same means.
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

// copy_from_file fills fd with a blob from the page cache of this program's own file, with
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

// exec_blob runs a program carried in this one from a sealed memfd, with this process's
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
	den_exec_blob(den_init_blob, n, "den-init", argv);
}

// den_transfer_size is the size of the whole den a core build carries, 0 in any other build.
size_t den_transfer_size(void) {
	if (den_transfer_blob == NULL || den_transfer_blob_end == NULL)
		return 0;
	return (size_t)(den_transfer_blob_end - den_transfer_blob);
}
