// initexec.c: the handover from den to den-init in a container's init (see initexec.go).
#define _GNU_SOURCE
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
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
