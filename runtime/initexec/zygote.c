// zygote.c: a container's init started before den knows the container (see zygote.go).
//
// `den run -d` that starts its container itself (runtime.StartHeld) starts, in its first
// moment (runtime/userns, spawn_zygote), a process in fresh mount, UTS, IPC, network and pid
// namespaces, its own child and pid 1 there, which execs den-init at once (den_zygote_exec)
// and runs the Go runtime's start-up while den runs its own on the other CPU. When den then
// starts the container, the init process libcontainer execs (stage 0 of runc's nsenter) does
// not make namespaces and two more processes: hand_to_zygote, a constructor that runs before
// nsenter's, gives the waiting init its descriptors and environment and tells libcontainer
// that init's pid, as nsenter would have. What nsenter and den-init's start-up cost on the
// way to the container's start (some 15 ms here, traced) comes off it.
//
// Stage 0 checks first that the waiting init is what nsenter would have made: in exactly the
// namespaces libcontainer asks to make and in no other new one, nothing to join, no id maps,
// in the cgroups stage 0 was put in, with no descriptor it could not place. Anything else, or
// any failure before the hand-over, and nsenter goes on as always: the waiting init is told
// nothing, and den kills it once the container has started.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define LEVEL_ENV "_LIBCONTAINER_LOGLEVEL"
#define ZYGOTE_MARK " den-zygote="
// The waiting init's descriptors below this are placeholders (spawn_zygote): stage 0's go
// there, at the same numbers.
#define ZYGOTE_LOW_FDS 64
#define ZYGOTE_MAX_FDS 64
#define ZYGOTE_MSG_MAX 65536
// What libcontainer's bootstrap message holds (runc's nsexec.c and message_linux.go).
#define INIT_MSG 62000
#define CLONE_FLAGS_ATTR 27281
#define NS_PATHS_ATTR 27282
#define UIDMAP_ATTR 27283
#define GIDMAP_ATTR 27284
#define SETGROUP_ATTR 27285
#define OOM_SCORE_ADJ_ATTR 27286
#define ROOTLESS_EUID_ATTR 27287
#define UIDMAPPATH_ATTR 27288
#define GIDMAPPATH_ATTR 27289
#define TIMENSOFFSET_ATTR 27290

// initexec.c
void den_seal_later(void);

// The namespaces a new one of which the bootstrap's clone flags ask for, by their names
// under /proc/PID/ns.
static const struct {
	int flag;
	const char *name;
} zygote_ns[] = {
    {CLONE_NEWNS, "mnt"},   {CLONE_NEWUTS, "uts"},       {CLONE_NEWIPC, "ipc"},   {CLONE_NEWPID, "pid"},
    {CLONE_NEWNET, "net"},  {CLONE_NEWCGROUP, "cgroup"}, {CLONE_NEWUSER, "user"}, {0x00000080 /* CLONE_NEWTIME */, "time"},
};

// den_zygote_bootstrap reads libcontainer's bootstrap message, n bytes at msg, and returns
// the namespaces it asks to make (its clone flags), or -1 when it asks for anything a
// waiting init cannot give: namespaces to join, id maps, time offsets, supplementary groups
// dropped by nsenter, or an unknown attribute. *oom and *oom_len are its oom_score_adj, if
// any. Called by the tests too.
long den_zygote_bootstrap(const unsigned char *msg, size_t n, const char **oom, size_t *oom_len) {
	*oom = NULL;
	*oom_len = 0;
	if (n < NLMSG_HDRLEN)
		return -1;
	struct nlmsghdr hdr;
	memcpy(&hdr, msg, sizeof hdr);
	if (hdr.nlmsg_type != INIT_MSG || hdr.nlmsg_len != n)
		return -1;
	long flags = -1;
	int rootless = 0, setgroup = 0;
	size_t off = NLMSG_HDRLEN;
	while (off < n) {
		struct nlattr a;
		if (n - off < NLA_HDRLEN)
			return -1;
		memcpy(&a, msg + off, sizeof a);
		if (a.nla_len < NLA_HDRLEN || a.nla_len > n - off)
			return -1;
		const unsigned char *v = msg + off + NLA_HDRLEN;
		size_t len = a.nla_len - NLA_HDRLEN;
		switch (a.nla_type) {
		case CLONE_FLAGS_ATTR:
			if (len != 4)
				return -1;
			uint32_t f;
			memcpy(&f, v, 4);
			flags = (long)f;
			break;
		case ROOTLESS_EUID_ATTR:
			rootless = len > 0 && v[0] != 0;
			break;
		case SETGROUP_ATTR:
			setgroup = len > 0 && v[0] != 0;
			break;
		case OOM_SCORE_ADJ_ATTR:
			*oom = (const char *)v;
			*oom_len = len;
			break;
		case NS_PATHS_ATTR:
		case UIDMAP_ATTR:
		case GIDMAP_ATTR:
		case UIDMAPPATH_ATTR:
		case GIDMAPPATH_ATTR:
		case TIMENSOFFSET_ATTR:
			if (len > 0)
				return -1;
			break;
		default:
			return -1;
		}
		off += NLA_ALIGN(a.nla_len);
	}
	// nsenter's stage 2 drops supplementary groups in this case; the waiting init did not.
	if (!rootless && setgroup)
		return -1;
	return flags;
}

// same_ns reports whether processes a and b ("self" or a pid) share namespace name: 1, 0, or
// -1 when either cannot be seen.
static int same_ns(const char *a, const char *b, const char *name) {
	char pa[64], pb[64];
	struct stat sa, sb;
	snprintf(pa, sizeof pa, "/proc/%s/ns/%s", a, name);
	snprintf(pb, sizeof pb, "/proc/%s/ns/%s", b, name);
	if (stat(pa, &sa) < 0 || stat(pb, &sb) < 0)
		return errno == ENOENT ? 1 : -1; // a kernel without that namespace: both share none
	return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

// read_small reads the file at path whole into buf (NUL-terminated), returning its length
// or -1.
static ssize_t read_small(const char *path, char *buf, size_t n) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t got = 0;
	while (got + 1 < n) {
		ssize_t r = read(fd, buf + got, n - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	buf[got] = 0;
	return got + 1 < n ? (ssize_t)got : -1;
}

// same_cgroups reports whether the waiting init is in the cgroups stage 0 was put in (cgroup
// v1 rootless, where a container gets none of its own). Moving it would not do: its cgroup
// namespace was made where it was, and shows the cgroups from there.
static int same_cgroups(const char *zpid) {
	char mine[4096], its[4096], path[64];
	snprintf(path, sizeof path, "/proc/%s/cgroup", zpid);
	if (read_small("/proc/self/cgroup", mine, sizeof mine) < 0 || read_small(path, its, sizeof its) < 0)
		return 0;
	return strcmp(mine, its) == 0;
}

// kill_pid kills the waiting init once it has stage 0's descriptors and will not be used: it
// must not keep libcontainer's pipes open.
static void kill_pid(pid_t pid) {
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd >= 0) {
		syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
		close(pfd);
	}
}

// recv_all fills buf from fd, taking what it reads.
static int recv_all(int fd, void *buf, size_t n) {
	size_t got = 0;
	while (got < n) {
		ssize_t r = recv(fd, (char *)buf + got, n - got, MSG_WAITALL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

// peek_all fills buf with the first n bytes waiting on the stream socket fd, leaving them
// there. The kernel's MSG_WAITALL does not wait with MSG_PEEK: this waits until n bytes are
// queued (libcontainer writes its bootstrap in one write), and fails if the writer goes first.
static int peek_all(int fd, void *buf, size_t n) {
	for (;;) {
		int avail = 0;
		if (ioctl(fd, FIONREAD, &avail) < 0)
			return -1;
		if (avail >= 0 && (size_t)avail >= n)
			return recv(fd, buf, n, MSG_PEEK) == (ssize_t)n ? 0 : -1;
		struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
		int r = poll(&p, 1, avail > 0 ? 1 : -1);
		if (r < 0 && errno != EINTR)
			return -1;
		if (r > 0 && (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL))) {
			if (ioctl(fd, FIONREAD, &avail) < 0 || avail < 0 || (size_t)avail < n)
				return -1;
		}
	}
}

// stage1_exit is the stage 1 that hand_over reports: it exits at once, and libcontainer
// reaps it. It shares this process's memory for that moment (vfork), on a stack of its own:
// a copy of den's page tables for a process that does nothing cost more.
static char stage1_stack[16384] __attribute__((aligned(16)));
static int stage1_exit(void *arg) {
	(void)arg;
	syscall(SYS_exit, 0);
	return 0;
}

// hand_over gives the waiting init pid, reached through sock, this process's descriptors
// and environment, and tells libcontainer its pid on the init pipe. It returns 0 when the
// waiting init has become the container's; -1 when nothing was handed over and nsenter is
// to go on.
static int hand_over(int sock, pid_t pid, int initpipe) {
	char zpid[16];
	snprintf(zpid, sizeof zpid, "%d", pid);

	unsigned char hdr[NLMSG_HDRLEN];
	if (peek_all(initpipe, hdr, sizeof hdr) < 0)
		return -1;
	struct nlmsghdr h;
	memcpy(&h, hdr, sizeof h);
	if (h.nlmsg_len < NLMSG_HDRLEN || h.nlmsg_len > ZYGOTE_MSG_MAX)
		return -1;
	unsigned char *boot = malloc(h.nlmsg_len);
	if (boot == NULL)
		return -1;
	const char *oom;
	size_t oom_len;
	long flags = -1;
	if (peek_all(initpipe, boot, h.nlmsg_len) == 0)
		flags = den_zygote_bootstrap(boot, h.nlmsg_len, &oom, &oom_len);
	int ok = flags >= 0;
	for (size_t i = 0; ok && i < sizeof zygote_ns / sizeof zygote_ns[0]; i++)
		ok = same_ns("self", zpid, zygote_ns[i].name) == !(flags & zygote_ns[i].flag);
	if (ok && oom_len > 0) {
		char path[64], val[32];
		snprintf(path, sizeof path, "/proc/%s/oom_score_adj", zpid);
		snprintf(val, sizeof val, "%.*s", (int)(oom_len < 31 ? oom_len : 31), oom);
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		ok = fd >= 0 && write(fd, val, strlen(val)) == (ssize_t)strlen(val);
		if (fd >= 0)
			close(fd);
	}
	ok = ok && same_cgroups(zpid);
	// libcontainer resets the init's CPU affinity (stage 0's, here) for the container's
	// cpuset: the waiting init takes it on.
	cpu_set_t cpus;
	ok = ok && sched_getaffinity(0, sizeof cpus, &cpus) == 0 && sched_setaffinity(pid, sizeof cpus, &cpus) == 0;
	if (!ok) {
		free(boot);
		return -1;
	}

	// What crosses an exec: every descriptor without close-on-exec. Those of libcontainer
	// are all below ZYGOTE_LOW_FDS; above it only the seccomp cache's directory, which the
	// waiting init finds by its environment.
	int fds[ZYGOTE_MAX_FDS];
	int32_t targets[ZYGOTE_MAX_FDS];
	int nfds = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL) {
		free(boot);
		return -1;
	}
	const char *cache = getenv("_DEN_SECCOMP_CACHE_FD");
	int cache_fd = cache != NULL ? atoi(cache) : -1;
	struct dirent *e;
	while (ok && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		int fd = atoi(e->d_name);
		int fl = fcntl(fd, F_GETFD);
		if (fd == dirfd(d) || fl < 0 || (fl & FD_CLOEXEC))
			continue;
		if ((fd >= ZYGOTE_LOW_FDS && fd != cache_fd) || nfds == ZYGOTE_MAX_FDS - 1) {
			ok = 0;
			break;
		}
		fds[nfds] = fd;
		targets[nfds++] = fd;
	}
	closedir(d);
	if (!ok) {
		free(boot);
		return -1;
	}

	// The waiting init answers on a socket of this process's own, sent along (target -1): if
	// this process dies, the waiting init sees the end of it and goes, and with it the copies
	// of libcontainer's pipes it holds; den's end of the socket above stays open until the
	// start is over.
	int reply[2];
	if (nfds == ZYGOTE_MAX_FDS || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, reply) < 0) {
		free(boot);
		return -1;
	}
	fds[nfds] = reply[1];
	targets[nfds++] = -1;

	// The message (zygote.go): the count, the targets, the working directory (libcontainer
	// starts the init in the root filesystem's), then the environment, NUL-separated.
	char *msg = malloc(ZYGOTE_MSG_MAX);
	if (msg == NULL) {
		close(reply[0]);
		close(reply[1]);
		free(boot);
		return -1;
	}
	size_t len = 0;
	uint32_t count = (uint32_t)nfds;
	memcpy(msg, &count, 4);
	memcpy(msg + 4, targets, sizeof(int32_t) * (size_t)nfds);
	len = 4 + sizeof(int32_t) * (size_t)nfds;
	if (getcwd(msg + len, ZYGOTE_MSG_MAX - len) == NULL) {
		close(reply[0]);
		close(reply[1]);
		free(msg);
		free(boot);
		return -1;
	}
	len += strlen(msg + len) + 1;
	extern char **environ;
	for (char **env = environ; env != NULL && *env != NULL && ok; env++) {
		size_t l = strlen(*env) + 1;
		if (len + l > ZYGOTE_MSG_MAX)
			ok = 0;
		else {
			memcpy(msg + len, *env, l);
			len += l;
		}
	}
	if (!ok) {
		close(reply[0]);
		close(reply[1]);
		free(msg);
		free(boot);
		return -1;
	}
	char cbuf[CMSG_SPACE(sizeof(int) * ZYGOTE_MAX_FDS)];
	memset(cbuf, 0, sizeof cbuf);
	struct iovec iov = {msg, len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	ssize_t sent;
	while ((sent = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	free(msg);
	close(reply[1]);
	char ack = 0;
	if (sent != (ssize_t)len || recv_all(reply[0], &ack, 1) < 0 || ack != 'k') {
		// It may hold libcontainer's pipes now: it goes before nsenter goes on.
		if (sent > 0)
			kill_pid(pid);
		close(reply[0]);
		free(boot);
		return -1;
	}

	// The waiting init is the container's from here on: stage 0 takes the bootstrap as
	// nsenter would and answers libcontainer as nsenter's stage 0 does, with a stage 1 that
	// exits at once (libcontainer reaps it) and the init as stage 2.
	int rc = recv_all(initpipe, boot, h.nlmsg_len);
	free(boot);
	pid_t stage1 = rc == 0 ? clone(stage1_exit, stage1_stack + sizeof stage1_stack, CLONE_VM | CLONE_VFORK | CLONE_PARENT | SIGCHLD, NULL) : -1;
	if (stage1 < 0 || dprintf(initpipe, "{\"stage1_pid\":%d,\"stage2_pid\":%d}\n", stage1, pid) < 0) {
		kill_pid(pid);
		_exit(1); // the bootstrap is gone: nsenter cannot go on
	}
	while (send(reply[0], "g", 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
	close(reply[0]);
	return 0;
}

// hand_to_zygote runs in a container's init before runc's nsenter constructor, after the other
// constructors that take den's requests out of the log level (take_kept, the seccomp cache's,
// take_rootfs_wait): it takes den's " den-zygote=FD:PID" out of what is left, FD being den's
// end of the waiting init's socket and PID the waiting init. This process is den's child: it
// takes the socket from den (pidfd_getfd) and hands over, and exits when that worked.
__attribute__((constructor(153))) static void hand_to_zygote(void) {
	const char *lv = getenv(LEVEL_ENV);
	const char *mark = lv != NULL ? strstr(lv, ZYGOTE_MARK) : NULL;
	const char *pipe = getenv("_LIBCONTAINER_INITPIPE");
	if (mark == NULL || pipe == NULL)
		return;
	int fd = -1, pid = -1;
	if (sscanf(mark + strlen(ZYGOTE_MARK), "%d:%d", &fd, &pid) != 2)
		fd = -1;
	char level[4096];
	snprintf(level, sizeof level, "%.*s", (int)(mark - lv), lv);
	setenv(LEVEL_ENV, level, 1);
	int initpipe = atoi(pipe);
	if (fd >= 0 && pid > 0 && initpipe >= 0) {
		int pfd = (int)syscall(SYS_pidfd_open, getppid(), 0);
		int sock = pfd >= 0 ? (int)syscall(SYS_pidfd_getfd, pfd, fd, 0) : -1;
		if (pfd >= 0)
			close(pfd);
		if (sock >= 0) {
			int done = hand_over(sock, pid, initpipe) == 0;
			close(sock);
			if (done)
				_exit(0);
		}
	}
	den_seal_later();
}
