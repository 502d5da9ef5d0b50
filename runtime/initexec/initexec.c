// initexec.c: the handover from den to den-init in a container's init (see initexec.go).
#define _GNU_SOURCE
#include <fcntl.h>
#include <link.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

// Present only when blob.S is linked (the den_initbin tag).
extern const char den_init_blob[] __attribute__((weak));
extern const char den_init_blob_end[] __attribute__((weak));
extern char **environ;

size_t den_initexec_size(void) {
	if (den_init_blob == NULL || den_init_blob_end == NULL)
		return 0;
	return (size_t)(den_init_blob_end - den_init_blob);
}

// blob_offset finds where den-init lies in the file of this program: in the loadable segment
// that holds it, at the same distance from the segment's start as in memory.
static int find_segment(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	uintptr_t at = (uintptr_t)den_init_blob;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && at >= lo && at < lo + ph->p_filesz) {
			*(off_t *)data = (off_t)(ph->p_offset + (at - lo));
			return 1;
		}
	}
	return 0;
}

// copy_from_file fills fd with den-init from the page cache of this program's own file, with
// no page of the blob ever mapped into this process: about a quarter of the time of writing
// it from memory, which faults every page of it in first. It returns 0 when done.
static int copy_from_file(int fd, size_t n) {
	off_t off = -1;
	if (dl_iterate_phdr(find_segment, &off) != 1 || off < 0)
		return -1;
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
	int fd = memfd_create("den-init", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return;
	size_t off = 0;
	if (copy_from_file(fd, n) == 0)
		off = n;
	else if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return;
	}
	while (off < n) {
		ssize_t w = write(fd, den_init_blob + off, n - off);
		if (w <= 0) {
			close(fd);
			return;
		}
		off += (size_t)w;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) != 0) {
		close(fd);
		return;
	}
	char *argv[] = {"runc:[2:INIT]", NULL};
	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
	close(fd);
}
