// enter.c: den's fast path into its user namespace, run as an ELF constructor before the Go
// runtime starts (Go cannot unshare a user namespace once its threads exist).
//
// For a command that touches storage, run by a normal user, the process forks a child in a
// new user and mount namespace, maps the user's id to 0 and the /etc/subuid and /etc/subgid
// ranges after it with newuidmap/newgidmap, and then waits: the child goes on into Go as root
// of the namespace, the parent only relays signals and the exit status and never starts the
// Go runtime. The child starts Go while the maps are being written (the two setuid helpers
// take about as long as Go's start-up) and waits for them in den_userns_finish. Anything unexpected makes it return without entering, and the Go side
// (userns.Reexec) then does the same work the slow way and reports errors properly.
//
// One user namespace is shared by every den process of a user that is alive at the same time.
// Each process that enters it (this fast path, a monitor, a network holder) registers its pid
// in the registry directory (RUNTIME/userns, see registry_dir); an invocation that finds a live
// registered process joins that process's user namespace with setns and makes only a new mount
// namespace, instead of a new user namespace. The reason is rights: a user namespace has no
// rights over a sibling one, so a container started by one invocation could not be joined
// (--network container:NAME) or wired to a shared network (netstack/bridge) by another
// invocation with a namespace of its own. The process that owns every den namespace, the
// user in the host namespace, may setns into any of them. When no registered process is
// alive, the namespace is made anew as before, under the registry's lock so that two
// invocations never make two at once.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int den_userns_entered;
static int den_userns_sync_fd = -1;
// runtime/initexec's handover.c, in den's core build only.
void den_exec_monitor(char **argv) __attribute__((weak));
// runtime/prefault's: the process that goes on into Go populates den's binary at once.
void den_prefault_begin(void) __attribute__((weak));

// A detached run's monitor, started before the Go runtime (see spawn_premonitor).
int den_premonitor_pid = -1, den_premonitor_go = -1, den_premonitor_ready = -1;
char den_premonitor_id[65];
// A container's init started ahead for a detached run that starts its container itself (see
// spawn_zygote): den's end of its socket and the process that started it, -1 when none.
int den_zygote_sock = -1, den_zygote_starter = -1;
// The index in argv of the image of the run that a waiting init was started for, and whether
// the run has --rm (-1 and 0 otherwise): den creates the container's storage from them before
// it reads its command line (cmd's openEarly), and deletes it if the command line says
// otherwise.
int den_held_image = -1, den_held_rm;
// runtime/initexec's zygote.c, in builds that carry den-init.
void den_zygote_exec(int sock) __attribute__((weak));
static int den_userns_status_fd = -1;
// den_userns_parent is the parent that waits for the status on den_userns_status_fd, 0 where
// none does.
static pid_t den_userns_parent;
int den_userns_host_uid = -1;
int den_userns_host_gid = -1;

// den_ns_commands must list the commands that cmd/ wraps with inUserNS; a Go test checks it.
const char *den_ns_commands[] = {"run",    "create", "start", "rm",   "rmi",    "load",   "import", "restart",
                                 "system", "tag",    "untag", "save", "commit", "export", "pull",   "push", "cp", "unshare", NULL};
// den_image_ns_verbs are the verbs of "den image" that do the same (cmd's imageNamespaceVerbs).
const char *den_image_ns_verbs[] = {"rm", "load", "import", "tag", "untag", "save", "prune", "pull", "push", NULL};
// den_volume_ns_verbs are those of "den volume" (cmd's volumeNamespaceVerbs).
const char *den_volume_ns_verbs[] = {"create", "rm", "prune", "export", "import", NULL};
static const char *flags_with_value[] = {"--root", "--runroot", "--log-level", NULL};
// den_transfer_commands are the commands that copy images with containers/image, which a
// core build of den hands to the whole den it carries (runtime/initexec); a Go test holds
// them to the CLI's. den_image_transfer_verbs are those of "den image".
static const char *den_transfer_commands[] = {"load", "import", "save", "pull", "push", "login", "logout", NULL};
static const char *den_image_transfer_verbs[] = {"load", "import", "save", "pull", "push", NULL};

#define MAX_RANGES 16
#define MAX_ARGS (2 + 3 * (MAX_RANGES + 1) + 1)

// find_command returns the command of a den invocation, and sets *noun to "image" or
// "volume" for the verbs of those nouns ("den container rm" is simply "den rm").
static const char *find_command(int argc, char **argv, const char **noun) {
	*noun = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--generate-bash-completion") == 0)
			return NULL;
		if (a[0] != '-') {
			if (strcmp(a, "container") == 0 || strcmp(a, "image") == 0 || strcmp(a, "volume") == 0) {
				if (a[0] != 'c')
					*noun = a;
				for (i++; i < argc && argv[i][0] == '-'; i++)
					;
				return i < argc ? argv[i] : NULL;
			}
			return a;
		}
		int takes_value = 0;
		for (const char **f = flags_with_value; *f; f++)
			if (strcmp(a, *f) == 0)
				takes_value = 1;
		if (takes_value)
			i++;
	}
	return NULL;
}

// listed reports whether the n bytes at name are one of list's words.
static int listed(const char **list, const char *name, size_t n) {
	for (const char **f = list; *f; f++)
		if (strlen(*f) == n && strncmp(*f, name, n) == 0)
			return 1;
	return 0;
}

static int needs_namespace(int argc, char **argv) {
	const char *noun;
	const char *cmd = find_command(argc, argv, &noun);
	if (cmd == NULL)
		return 0;
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 0;
	const char **list = den_ns_commands;
	if (noun != NULL)
		list = strcmp(noun, "image") == 0 ? den_image_ns_verbs : den_volume_ns_verbs;
	return listed(list, cmd, strlen(cmd));
}

// den_transfer_command reports whether a command line is one of den_transfer_commands.
int den_transfer_command(int argc, char **argv) {
	const char *noun;
	const char *cmd = find_command(argc, argv, &noun);
	if (cmd == NULL)
		return 0;
	if (noun == NULL)
		return listed(den_transfer_commands, cmd, strlen(cmd));
	return strcmp(noun, "image") == 0 && listed(den_image_transfer_verbs, cmd, strlen(cmd));
}

// user_name finds the login name of uid in /etc/passwd without NSS, which a static binary
// cannot load.
static int user_name(uid_t uid, char *out, size_t n) {
	FILE *f = fopen("/etc/passwd", "re");
	if (f == NULL)
		return -1;
	char line[1024];
	int found = -1;
	while (fgets(line, sizeof line, f)) {
		char *name = strtok(line, ":");
		strtok(NULL, ":");
		char *id = strtok(NULL, ":");
		if (name && id && (uid_t)strtoul(id, NULL, 10) == uid) {
			snprintf(out, n, "%s", name);
			found = 0;
			break;
		}
	}
	fclose(f);
	return found;
}

// read_ranges collects name's (or id's) START:COUNT ranges in file order.
static int read_ranges(const char *file, const char *name, unsigned id, unsigned long ranges[][2]) {
	FILE *f = fopen(file, "re");
	if (f == NULL)
		return 0;
	char line[512], idstr[32];
	snprintf(idstr, sizeof idstr, "%u", id);
	int n = 0;
	while (n < MAX_RANGES && fgets(line, sizeof line, f)) {
		char *save = NULL;
		char *who = strtok_r(line, ":\n", &save);
		char *start = strtok_r(NULL, ":\n", &save);
		char *count = strtok_r(NULL, ":\n", &save);
		if (!who || !start || !count || (strcmp(who, name) != 0 && strcmp(who, idstr) != 0))
			continue;
		char *e1, *e2;
		unsigned long s = strtoul(start, &e1, 10), c = strtoul(count, &e2, 10);
		if (*e1 || *e2 || c == 0)
			return 0; // malformed: leave the diagnosis to the Go side
		ranges[n][0] = s;
		ranges[n][1] = c;
		n++;
	}
	fclose(f);
	return n;
}

static pid_t spawn_map(const char *helper, pid_t target, unsigned own, unsigned long ranges[][2], int n,
		       char buf[][24]) {
	char *args[MAX_ARGS];
	int a = 0, b = 0;
	args[a++] = (char *)helper;
	snprintf(buf[b], 24, "%d", target);
	args[a++] = buf[b++];
	unsigned long next = 1;
	snprintf(buf[b], 24, "0");
	args[a++] = buf[b++];
	snprintf(buf[b], 24, "%u", own);
	args[a++] = buf[b++];
	snprintf(buf[b], 24, "1");
	args[a++] = buf[b++];
	for (int i = 0; i < n; i++) {
		snprintf(buf[b], 24, "%lu", next);
		args[a++] = buf[b++];
		snprintf(buf[b], 24, "%lu", ranges[i][0]);
		args[a++] = buf[b++];
		snprintf(buf[b], 24, "%lu", ranges[i][1]);
		args[a++] = buf[b++];
		next += ranges[i][1];
	}
	args[a] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execv(helper, args);
		_exit(127);
	}
	return pid;
}

static int wait_ok(pid_t pid) {
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static const char *find_helper(const char *name, char *out, size_t n) {
	const char *dirs[] = {"/usr/bin", "/bin", "/usr/sbin", "/usr/local/bin", NULL};
	for (const char **d = dirs; *d; d++) {
		struct stat st;
		snprintf(out, n, "%s/%s", *d, name);
		if (stat(out, &st) == 0 && (st.st_mode & S_ISUID) && st.st_uid == 0)
			return out;
	}
	return NULL;
}

// registry_dir puts in out the directory where den processes in the shared user namespace
// register: $XDG_RUNTIME_DIR/den/userns, else $TMPDIR/den-run-UID/userns (config.Paths'
// runtime directory without --runroot: the namespace is per user). It refuses a directory
// that is not the user's own (owner: the user's id as this process sees it).
static int registry_dir(uid_t uid, uid_t owner, char *out, size_t n) {
	const char *x = getenv("XDG_RUNTIME_DIR");
	char base[4096];
	if (x != NULL && x[0] == '/') {
		snprintf(base, sizeof base, "%s/den", x);
	} else {
		const char *t = getenv("TMPDIR");
		if (t == NULL || t[0] == 0)
			t = "/tmp";
		snprintf(base, sizeof base, "%s/den-run-%u", t, uid);
	}
	snprintf(out, n, "%s/userns", base);
	const char *dirs[] = {base, out};
	for (int i = 0; i < 2; i++) {
		struct stat st;
		mkdir(dirs[i], 0700);
		if (lstat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != owner || (st.st_mode & 0077))
			return -1;
	}
	return 0;
}

// proc_start is the start time of pid (field 22 of /proc/PID/stat), 0 if it is gone.
static unsigned long long proc_start(pid_t pid) {
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return 0;
	// After ")" come field 3 (state) onwards; the start time is field 22.
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	return p ? strtoull(p + 1, NULL, 10) : 0;
}

static void register_pid(const char *dir, pid_t pid) {
	char path[4200], tmp[4200], line[32];
	unsigned long long start = proc_start(pid);
	if (start == 0)
		return;
	snprintf(path, sizeof path, "%s/%d", dir, pid);
	snprintf(tmp, sizeof tmp, "%s/.%d.tmp", dir, pid);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	int len = snprintf(line, sizeof line, "%llu\n", start);
	int ok = write(fd, line, len) == len;
	close(fd);
	if (!ok || rename(tmp, path) < 0)
		unlink(tmp);
}

// join_registered enters the user namespace of a live registered process, removing the
// entries of dead ones. It returns 1 when this process is now in the shared namespace.
static int join_registered(const char *dir) {
	DIR *d = opendir(dir);
	if (d == NULL)
		return 0;
	struct stat self;
	if (stat("/proc/self/ns/user", &self) < 0) {
		closedir(d);
		return 0;
	}
	int joined = 0;
	struct dirent *e;
	while (!joined && (e = readdir(d)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || *end != 0)
			continue;
		char path[4200], nspath[64], buf[32] = {0};
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, buf, sizeof buf - 1);
		close(fd);
		unsigned long long want = n > 0 ? strtoull(buf, NULL, 10) : 0;
		if (want == 0 || proc_start((pid_t)pid) != want) {
			unlink(path);
			continue;
		}
		snprintf(nspath, sizeof nspath, "/proc/%ld/ns/user", pid);
		int ns = open(nspath, O_RDONLY | O_CLOEXEC);
		struct stat st;
		// Checked again after the open: the pid was not reused in between.
		if (ns < 0 || fstat(ns, &st) < 0 || proc_start((pid_t)pid) != want || st.st_ino == self.st_ino) {
			if (ns >= 0)
				close(ns);
			continue;
		}
		joined = setns(ns, CLONE_NEWUSER) == 0;
		close(ns);
	}
	closedir(d);
	return joined;
}

// den_userns_register records this process, already in the shared user namespace, in the
// registry, so that later invocations join it while this process lives. Called from Go by
// the processes that outlive their invocation (monitors, network holders).
void den_userns_register(void) {
	const char *u = getenv("_DEN_HOST_UID");
	if (u == NULL || *u == 0)
		return;
	char dir[4200];
	if (registry_dir((uid_t)strtoul(u, NULL, 10), geteuid(), dir, sizeof dir) < 0)
		return;
	register_pid(dir, getpid());
}

static volatile pid_t child_pid;

static void forward(int sig) {
	if (child_pid > 0)
		kill(child_pid, sig);
}

static void ignore_here(int sig) { (void)sig; }

// forward_signals makes the waiting parent pass signals on to its child.
static void forward_signals(pid_t child) {
	child_pid = child;
	struct sigaction fw = {0}, ig = {0};
	fw.sa_handler = forward;
	ig.sa_handler = ignore_here;
	sigemptyset(&fw.sa_mask);
	sigemptyset(&ig.sa_mask);
	int forwarded[] = {SIGTERM, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, 0};
	for (int *s = forwarded; *s; s++)
		sigaction(*s, &fw, NULL);
	// The terminal sends these to the whole process group: the child has them already.
	sigaction(SIGINT, &ig, NULL);
	sigaction(SIGQUIT, &ig, NULL);
	sigaction(SIGWINCH, &ig, NULL);
}

// wait_for_child is the rest of the waiting parent's life: it exits with the status the child
// reports (den_userns_report or den_userns_answer), or with the child's own when it died
// without one.
__attribute__((noreturn)) static void wait_for_child(pid_t child, int status_r) {
	// The child reports its exit status as soon as its command is done, and this process
	// exits with it then: the kernel's teardown of the child's memory (some 5 ms for a
	// container run) goes on after the shell has its answer. No report (the child died)
	// means the child's own status, from waitpid.
	unsigned char code;
	ssize_t got;
	while ((got = read(status_r, &code, 1)) < 0 && errno == EINTR)
		;
	if (got == 1)
		_exit(code);
	close(status_r);
	int st;
	while (waitpid(child, &st, 0) < 0) {
		if (errno != EINTR)
			_exit(125);
	}
	if (WIFSIGNALED(st))
		_exit(128 + WTERMSIG(st));
	_exit(WEXITSTATUS(st));
}

// den_userns_finish completes the fast path in the child, called from Go at the start of
// main: it waits until the parent has written the id maps, becomes root of the namespace and
// keeps den's mounts from propagating to the host. It returns 0 when there was nothing to do
// or all went well, -1 when the parent gave up (the child then exits 125).
int den_userns_finish(void) {
	if (den_userns_sync_fd < 0)
		return 0;
	char go = 0;
	while (read(den_userns_sync_fd, &go, 1) < 0 && errno == EINTR)
		;
	close(den_userns_sync_fd);
	den_userns_sync_fd = -1;
	if (go != 'G')
		return -1;
	// glibc applies these to every thread of the process, the Go runtime's included.
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return -1;
	// The credential change cleared the parent-death signal: set it again.
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		return -1;
	// Mounts made by den stay in this namespace; host mounts still show up.
	if (mount("", "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return -1;
	den_userns_entered = 1;
	return 0;
}

// den_userns_report is the child's last act before it exits with code: it lets go of its
// standard streams, so that a reader of its output sees the end now, and tells the waiting
// parent the status. Everything the command does is done by then.
void den_userns_report(int code) {
	// A monitor started for this command and never handed its container goes now, not
	// with this process's teardown (see spawn_premonitor).
	if (den_premonitor_pid > 0 && den_premonitor_go >= 0) {
		close(den_premonitor_go);
		den_premonitor_go = -1;
	}
	if (den_userns_status_fd < 0)
		return;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && null >= 0; fd++)
		dup2(null, fd);
	if (null > 2)
		close(null);
	unsigned char c = (unsigned char)code;
	while (write(den_userns_status_fd, &c, 1) < 0 && errno == EINTR)
		;
	close(den_userns_status_fd);
	den_userns_status_fd = -1;
}

// den_userns_can_answer reports whether a parent waits for this process's status; and
// den_userns_answer gives the waiting parent the status now, while this process goes on with
// work the shell need not wait for (runtime's storage deletions after a removal): the
// parent exits with code, this process lets go of its standard streams and no longer dies
// with the parent. It returns 0, having done nothing, where no parent waits (den as root, a
// slow-path or joined namespace without a wrapper).
int den_userns_can_answer(void) { return den_userns_status_fd >= 0; }

// den_parent_pidfd is the waiting parent, once den_userns_answer has answered it, until
// den_userns_await_parent: -1 otherwise.
static int den_parent_pidfd = -1;

int den_userns_answer(int code) {
	if (den_userns_status_fd < 0)
		return 0;
	prctl(PR_SET_PDEATHSIG, 0);
	// Still the parent that waits (its death would have killed this process until now).
	if (den_userns_parent > 0 && getppid() == den_userns_parent)
		den_parent_pidfd = (int)syscall(SYS_pidfd_open, den_userns_parent, 0);
	// A session of its own: the terminal's Ctrl-C and hangup, and a script's kill of the
	// command's process group, are for the command, which has answered; what is left must
	// not be cut short by them.
	setsid();
	den_userns_report(code);
	return 1;
}

// den_userns_await_parent waits, up to ms milliseconds, for the parent answered by
// den_userns_answer to be gone, and with it the shell's wait for the answer: the work left
// for after the answer (a held run's exec into its monitor, rm's deletions) would otherwise
// take the CPUs from the parent's wake-up and exit, which the shell waits for.
void den_userns_await_parent(int ms) {
	if (den_parent_pidfd < 0)
		return;
	struct pollfd p = {.fd = den_parent_pidfd, .events = POLLIN};
	while (poll(&p, 1, ms) < 0 && errno == EINTR)
		;
	close(den_parent_pidfd);
	den_parent_pidfd = -1;
}

// two_pipes makes both pipes (close-on-exec) or neither: 0, or -1.
static int two_pipes(int a[2], int b[2]) {
	if (pipe2(a, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(b, O_CLOEXEC) < 0) {
		close(a[0]);
		close(a[1]);
		return -1;
	}
	return 0;
}

// The flags of `den run`, for run_detached: those that take a value and those that do not
// (cmd's runCmd; a Go test checks that the lists match it).
const char *den_run_value_flags[] = {"name", "env", "e", "env-file", "workdir", "w", "user", "u", "entrypoint",
				     "hostname", "label", "l", "health-cmd", "health-interval", "health-retries",
				     "health-timeout", "health-start-period", "restart", "stop-signal", "stop-timeout", "network",
				     "net", "network-alias", "ip", "publish", "p", "dns", "dns-search", "dns-option",
				     "add-host", "expose", "cidfile", "label-file", "annotation", "umask", "sysctl", "tz",
				     "log-driver", "log-opt", "volume", "v", "mount", "tmpfs", "volumes-from", "pull", "creds",
				     "cert-dir", "authfile", "cap-add", "cap-drop", "security-opt", "shm-size", "ulimit",
				     "memory", "m", "cpus", "pids-limit", "platform", "arch", "os", "variant", "group-add",
				     "device", "init-path", "h", NULL};
const char *den_run_bool_flags[] = {"interactive", "i", "tty", "t", "rm", "publish-all", "P", "detach", "d",
				    "quiet", "q", "replace", "env-host", "no-hosts", "tls-verify", "privileged", "read-only",
				    "init", "help", NULL};

// Flags of `den run` that enter.c acts on (scan_run). RUN_NETFREE is a --network that needs
// no helper process of den's (none, host, container:ID), with which `run -d` starts its
// container itself (runtime.CanHold).
enum { RUN_DETACH = 1, RUN_RM = 2, RUN_STDIN = 4, RUN_NETFREE = 8 };

// net_free reports whether a --network value is one that RUN_NETFREE stands for.
static int net_free(const char *v) {
	return strcmp(v, "none") == 0 || strcmp(v, "host") == 0 || strncmp(v, "container:", 10) == 0;
}

// bool_value reads the =VALUE of a boolean flag: 1, 0, or -1 when it is neither.
static int bool_value(const char *eq) {
	if (eq == NULL || strcmp(eq + 1, "true") == 0 || strcmp(eq + 1, "1") == 0)
		return 1;
	if (strcmp(eq + 1, "false") == 0 || strcmp(eq + 1, "0") == 0)
		return 0;
	return -1;
}

// scan_run_at reads the flags before the image of `den run ...` (or `den container run`) and
// returns which of -d, --rm and -i/-t are set (RUN_*), or -1 when argv is not such a command
// or the flags cannot be told: callers then do what they did before, so a wrong guess costs
// time, never correctness. image, when not NULL, is set to the image's index in argv where
// there is one.
static int scan_run_at(int argc, char **argv, int *image) {
	const char *noun;
	const char *cmd = find_command(argc, argv, &noun);
	if (cmd == NULL || noun != NULL || strcmp(cmd, "run") != 0)
		return -1;
	int i = 1;
	while (i < argc && argv[i] != cmd)
		i++;
	int set = 0;
	for (i++; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || strcmp(a, "-") == 0) {
			if (image != NULL)
				*image = i;
			return set; // the image
		}
		if (strcmp(a, "--") == 0)
			return -1;
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t n = eq ? (size_t)(eq - name) : strlen(name);
			if (listed(den_run_value_flags, name, n)) {
				const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[i + 1] : "");
				if ((n == 7 && strncmp(name, "network", 7) == 0) || (n == 3 && strncmp(name, "net", 3) == 0))
					set = net_free(v) ? set | RUN_NETFREE : set & ~RUN_NETFREE;
				if (eq == NULL)
					i++;
				continue;
			}
			if (!listed(den_run_bool_flags, name, n))
				return -1;
			int bit = 0;
			if (n == 6 && strncmp(name, "detach", 6) == 0)
				bit = RUN_DETACH;
			else if (n == 2 && strncmp(name, "rm", 2) == 0)
				bit = RUN_RM;
			else if ((n == 11 && strncmp(name, "interactive", 11) == 0) || (n == 3 && strncmp(name, "tty", 3) == 0))
				bit = RUN_STDIN;
			if (bit != 0) {
				int v = bool_value(eq);
				if (v < 0)
					return -1;
				set = v ? set | bit : set & ~bit;
			}
			continue;
		}
		// A cluster of short flags: booleans, then perhaps one that takes the rest (or the
		// next word) as its value.
		for (const char *c = a + 1; *c; c++) {
			if (listed(den_run_value_flags, c, 1)) {
				if (c[1] == 0)
					i++;
				break;
			}
			if (!listed(den_run_bool_flags, c, 1))
				return -1;
			if (*c == 'd')
				set |= RUN_DETACH;
			if (*c == 'i' || *c == 't')
				set |= RUN_STDIN;
		}
	}
	return -1; // no image: the command will fail
}

// scan_run is scan_run_at without the image's index.
static int scan_run(int argc, char **argv) { return scan_run_at(argc, argv, NULL); }

// den_run_detached reports whether argv is `den run -d ...`. 0 also means "cannot tell"; a
// wrong 1 only starts a monitor that is told nothing and exits.
int den_run_detached(int argc, char **argv) {
	int set = scan_run(argc, argv);
	return set > 0 && (set & RUN_DETACH);
}

// den_run_held reports whether argv is a `den run -d` that starts its container itself and
// then becomes its monitor (runtime.StartHeld): it needs a parent waiting for its status,
// and no monitor started ahead. A wrong 0 costs a monitor started ahead, which den then
// uses; a wrong 1, a monitor started later, by den.
static int held_set(int set) { return set > 0 && (set & RUN_DETACH) && (set & RUN_NETFREE); }

int den_run_held(int argc, char **argv) { return held_set(scan_run(argc, argv)); }

// den_held_image_of returns the index in argv of the image of a held run (den_run_held) and
// sets *rm to whether the run has --rm; -1, leaving *rm alone, for any other command line.
int den_held_image_of(int argc, char **argv, int *rm) {
	int image = -1, set = scan_run_at(argc, argv, &image);
	if (!held_set(set) || image <= 0)
		return -1;
	*rm = (set & RUN_RM) != 0;
	return image;
}

// wants_premonitor: a detached run that does not start its container itself.
static int wants_premonitor(int argc, char **argv) { return den_run_detached(argc, argv) && !den_run_held(argc, argv); }

// other_cpus puts in all the CPUs this process may run on and in other those without the
// one it runs on now, and reports whether other names any. spawn_premonitor places the
// monitor there: the kernel puts a forked child on its parent's CPU, where on the virtual
// machines den is measured on it waited 0.2 to 4 ms (2.3 in the median) for den to be
// preempted while the other CPU idled, and then shared a CPU with den until the load was
// balanced; the monitor was ready 14 ms after den had created the container, in the median.
static int other_cpus(cpu_set_t *all, cpu_set_t *other) {
	int cpu = sched_getcpu();
	if (cpu < 0 || sched_getaffinity(0, sizeof *all, all) < 0 || CPU_COUNT(all) < 2 || !CPU_ISSET(cpu, all))
		return 0;
	*other = *all;
	CPU_CLR(cpu, other);
	return 1;
}

// spawn_premonitor starts the monitor of `den run -d` at once, in the namespace this process
// has just entered: its start-up, some 30 ms of Go that no prefaulting helps (monitors run
// without it to stay small), then overlaps all of den's own instead of beginning half-way
// through it. It gets the container's id now and everything else on its "go" pipe: den's
// paths and configuration at once (runtime.SpawnMonitor), then the word that the container
// exists (runtime.Monitor.Start); a den that never gets that far closes the pipe and the
// monitor exits.
//
// wait_fd, when not -1, is the pipe on which the maps of a new namespace are announced: a
// process that execs before its ids are mapped there loses its capabilities in the exec, so
// the monitor waits for its 'G' and becomes root of the namespace first.
static void spawn_premonitor(int argc, char **argv, int wait_fd) {
	if (!wants_premonitor(argc, argv))
		return;
	unsigned char raw[32];
	if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
		return;
	for (int i = 0; i < 32; i++)
		snprintf(den_premonitor_id + 2 * i, 3, "%02x", raw[i]);
	int ready[2], go[2];
	if (two_pipes(ready, go) < 0)
		return;
	char short_id[13];
	snprintf(short_id, sizeof short_id, "%.12s", den_premonitor_id);
	// The child waits until it has been moved to another CPU, then may run anywhere again, as
	// the container it will start must. A socket, not a pipe: a child gone before it reads
	// must not kill den with SIGPIPE (send's MSG_NOSIGNAL).
	cpu_set_t all, other;
	int pin[2] = {-1, -1};
	int move = other_cpus(&all, &other) && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pin) == 0;
	pid_t pid = fork();
	if (pid == 0) {
		if (move) {
			char m = 0;
			close(pin[1]);
			while (read(pin[0], &m, 1) < 0 && errno == EINTR)
				;
			close(pin[0]);
			sched_setaffinity(0, sizeof all, &all);
		}
		if (wait_fd >= 0) {
			char g = 0;
			while (read(wait_fd, &g, 1) < 0 && errno == EINTR)
				;
			if (g != 'G')
				_exit(0);
			if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
				_exit(125);
		}
		setsid();
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		// 3, 4 and 5 as runtime.spawnMonitor passes them: the ready pipe, the go pipe, den.
		if (null < 0 || dup2(ready[1], 3) < 0 || dup2(go[0], 4) < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
		    dup2(null, 2) < 0)
			_exit(125);
		// 0 to 4 are taken: den opens as 5 unless 5 is open, and is moved there then.
		int den = open("/proc/self/exe", O_PATH);
		if (den >= 0 && den != 5) {
			dup2(den, 5);
			close(den);
		}
		// Who the namespace belongs to comes with the rest, on the go pipe.
		setenv("_DEN_MONITOR", "pipe", 1);
		char *args[] = {"den-monitor", short_id, NULL};
		// den-monitor kept as a file when this build carries it (handover.c), else den; den
		// too when 5 is not den, which den-monitor needs for the network holders it starts.
		if (den_exec_monitor != NULL && den >= 0)
			den_exec_monitor(args);
		execv("/proc/self/exe", args);
		_exit(127);
	}
	if (move) {
		close(pin[0]);
		if (pid > 0) {
			sched_setaffinity(pid, sizeof other, &other);
			while (send(pin[1], "m", 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
				;
		}
		close(pin[1]);
	}
	close(ready[1]);
	close(go[0]);
	if (pid < 0) {
		close(ready[0]);
		close(go[1]);
		return;
	}
	den_premonitor_pid = pid;
	den_premonitor_go = go[1];
	den_premonitor_ready = ready[0];
}

// ZYGOTE_LOW_FDS matches runtime/initexec's zygote.c: the descriptors the container's init
// gets from libcontainer are all below it.
#define ZYGOTE_LOW_FDS 64

// zygote_main is the rest of the waiting init's life before den-init (den_zygote_exec): it
// dies with den, starts a session as runc's nsenter does for a container's init, and keeps
// /dev/null on every descriptor below ZYGOTE_LOW_FDS, where the container's init has its
// own: den-init's Go runtime opens what it opens above them, and the hand-over puts the
// container's descriptors at their numbers. Nothing else of den's stays open.
static void zygote_main(int sock) {
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	setsid();
	int s = fcntl(sock, F_DUPFD, ZYGOTE_LOW_FDS);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s < 0 || null < 0)
		_exit(0);
	for (int fd = 0; fd < ZYGOTE_LOW_FDS; fd++)
		if (fd != null && dup2(null, fd) < 0)
			_exit(0);
	if (null < ZYGOTE_LOW_FDS)
		fcntl(null, F_SETFD, 0);
	else
		close(null);
	if (s > ZYGOTE_LOW_FDS)
		syscall(SYS_close_range, ZYGOTE_LOW_FDS, s - 1, 0);
	syscall(SYS_close_range, s + 1, ~0U, 0);
	den_zygote_exec(s);
	_exit(0);
}

// spawn_zygote starts, for `den run -d` that will start its container itself (den_run_held),
// the process that is to be the container's init (runtime/initexec's zygote.c): den's child,
// pid 1 of a new pid namespace, in new mount, UTS, IPC, network and cgroup namespaces, as
// runc's nsenter makes it for a container of den's with --network none. A starter
// process makes the namespaces, off den's own path and on the other CPU (see other_cpus),
// starts it as den's child (CLONE_PARENT) and sends its pid on the socket, then exits;
// userns.TakeZygote reads the pid and reaps the starter. A den that does not use the waiting
// init kills it; a den that dies takes it along (its parent-death signal), and a den that
// went before the signal was set closes the socket the waiting init reads.
static int wants_zygote(int argc, char **argv) {
	return den_zygote_exec != NULL && getenv("DEN_NO_ZYGOTE") == NULL && den_run_held(argc, argv);
}

static void spawn_zygote(int argc, char **argv, int wait_fd) {
	if (!wants_zygote(argc, argv))
		return;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	cpu_set_t all, other;
	int move = other_cpus(&all, &other);
	pid_t starter = fork();
	if (starter == 0) {
		close(sv[0]);
		if (move) {
			char m = 0;
			while (read(sv[1], &m, 1) < 0 && errno == EINTR)
				;
			sched_setaffinity(0, sizeof all, &all);
		}
		// In a namespace just made, the ids are mapped first (wait_fd, as in
		// spawn_premonitor): what the new namespaces make as they are made (the loopback
		// interface's files in sysfs) is owned by the namespace's root then, as under
		// runc's nsenter, which unshares after the mapping.
		if (wait_fd >= 0) {
			char g = 0;
			while (read(wait_fd, &g, 1) < 0 && errno == EINTR)
				;
			if (g != 'G' || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
				_exit(0);
		}
		if (unshare(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWPID) < 0)
			_exit(0);
		pid_t z = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
		if (z == 0)
			zygote_main(sv[1]);
		if (z > 0) {
			int pid = (int)z;
			while (send(sv[1], &pid, sizeof pid, MSG_NOSIGNAL) < 0 && errno == EINTR)
				;
		}
		_exit(0);
	}
	close(sv[1]);
	if (starter < 0) {
		close(sv[0]);
		return;
	}
	if (move) {
		sched_setaffinity(starter, sizeof other, &other);
		while (send(sv[0], "m", 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
			;
	}
	den_zygote_sock = sv[0];
	den_zygote_starter = (int)starter;
	den_held_image = den_held_image_of(argc, argv, &den_held_rm);
}

// den_answers_early reports whether the command may give its answer before it is done (see
// den_userns_answer): rm, and run --rm in the foreground without -i or -t (cmd's
// answerEarly), whose storage deletions come after; and a detached run that becomes its
// container's monitor after answering (den_run_held).
int den_answers_early(int argc, char **argv) {
	const char *noun;
	const char *cmd = find_command(argc, argv, &noun);
	if (cmd == NULL || noun != NULL)
		return 0;
	if (strcmp(cmd, "rm") == 0)
		return 1;
	int set = scan_run(argc, argv);
	if (held_set(set))
		return 1;
	return set > 0 && (set & (RUN_DETACH | RUN_RM | RUN_STDIN)) == RUN_RM;
}

__attribute__((constructor)) static void den_enter_userns(int argc, char **argv) {
	if (geteuid() == 0 || getenv("_LIBCONTAINER_INITPIPE") || getenv("_DEN_USERNS_STAGE") ||
	    getenv("DEN_NO_FAST_USERNS") || !needs_namespace(argc, argv))
		return;
	uid_t uid = getuid();
	gid_t gid = getgid();
	char name[256], uidmap[64], gidmap[64];
	if (user_name(uid, name, sizeof name) < 0)
		snprintf(name, sizeof name, "%u", uid);
	unsigned long ur[MAX_RANGES][2], gr[MAX_RANGES][2];
	int nu = read_ranges("/etc/subuid", name, uid, ur);
	int ng = read_ranges("/etc/subgid", name, uid, gr);
	if (nu == 0 || ng == 0 || !find_helper("newuidmap", uidmap, sizeof uidmap) ||
	    !find_helper("newgidmap", gidmap, sizeof gidmap))
		return;

	char regdir[4200], lockpath[4300];
	int lock = -1;
	if (registry_dir(uid, uid, regdir, sizeof regdir) == 0) {
		snprintf(lockpath, sizeof lockpath, "%s/lock", regdir);
		lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lock >= 0 && flock(lock, LOCK_EX) < 0) {
			close(lock);
			lock = -1;
		}
	}
	if (lock >= 0 && join_registered(regdir)) {
		// Root of the shared namespace already (the user's id maps to 0 there); a mount
		// namespace of this invocation's own, as a new one would have.
		int ok = unshare(CLONE_NEWNS) == 0 && setresgid(0, 0, 0) == 0 && setresuid(0, 0, 0) == 0 &&
			 mount("", "/", NULL, MS_REC | MS_SLAVE, NULL) == 0;
		if (!ok)
			_exit(125); // half in a namespace: nothing sane to go on with
		den_userns_entered = 1;
		den_userns_host_uid = (int)uid;
		den_userns_host_gid = (int)gid;
		// A command that may answer before it is done (den_userns_answer) goes on in a
		// child, with this process waiting for the status, as on the path below.
		int status[2];
		pid_t child = -1;
		if (den_answers_early(argc, argv) && pipe2(status, O_CLOEXEC) == 0) {
			pid_t parent = getpid();
			child = fork();
			if (child == 0) {
				close(status[0]);
				close(lock);
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				if (getppid() != parent)
					_exit(125);
				den_userns_parent = parent;
				den_userns_status_fd = status[1];
				spawn_zygote(argc, argv, -1);
				if (den_prefault_begin != NULL)
					den_prefault_begin();
				return;
			}
			close(status[1]);
			if (child < 0)
				close(status[0]);
		}
		register_pid(regdir, child > 0 ? child : getpid());
		flock(lock, LOCK_UN);
		close(lock);
		if (child > 0) {
			forward_signals(child);
			wait_for_child(child, status[0]);
		}
		spawn_premonitor(argc, argv, -1);
		return;
	}

	// A detached run's monitor, started in the child, waits for the maps on the child's pipe:
	// it gets a 'G' of its own.
	int premonitor = wants_premonitor(argc, argv);
	int sync[2], status[2];
	if (two_pipes(sync, status) < 0)
		return;
	pid_t child = (pid_t)syscall(SYS_clone, CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD, NULL, NULL, NULL, NULL);
	if (child < 0) {
		close(sync[0]);
		close(sync[1]);
		close(status[0]);
		close(status[1]);
		if (lock >= 0)
			close(lock);
		return;
	}
	if (child == 0) {
		// The Go runtime starts while the parent writes the maps; den_userns_finish waits
		// for them at the start of main, before anything needs an id in the namespace.
		close(sync[1]);
		close(status[0]);
		if (lock >= 0)
			close(lock);
		// If the waiting parent is killed, so is this command, and with it a foreground
		// container: nothing keeps running on a terminal that den no longer holds.
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(125);
		den_userns_parent = getppid();
		den_userns_sync_fd = sync[0];
		den_userns_status_fd = status[1];
		den_userns_host_uid = (int)uid;
		den_userns_host_gid = (int)gid;
		if (premonitor)
			spawn_premonitor(argc, argv, sync[0]);
		spawn_zygote(argc, argv, sync[0]);
		if (den_prefault_begin != NULL)
			den_prefault_begin();
		return;
	}
	close(sync[0]);
	close(status[1]);
	char ubuf[MAX_ARGS][24], gbuf[MAX_ARGS][24];
	pid_t up = spawn_map(uidmap, child, uid, ur, nu, ubuf);
	pid_t gp = spawn_map(gidmap, child, gid, gr, ng, gbuf);
	int ok = up > 0 && gp > 0;
	ok = (up > 0 ? wait_ok(up) : 0) && ok;
	ok = (gp > 0 ? wait_ok(gp) : 0) && ok;
	if (lock >= 0) {
		// Registered once its maps exist: a process that joins it must find ids mapped.
		if (ok)
			register_pid(regdir, child);
		flock(lock, LOCK_UN);
		close(lock);
	}
	if (!ok) {
		// The Go side retries through userns.Reexec and reports why the maps failed.
		close(sync[1]);
		close(status[0]);
		kill(child, SIGKILL);
		wait_ok(child);
		return;
	}
	forward_signals(child);
	// One 'G' for the child, one for a monitor started ahead, one for a waiting init.
	ssize_t go = 1 + (premonitor ? 1 : 0) + wants_zygote(argc, argv);
	if (write(sync[1], "GGG", (size_t)go) != go) {
		kill(child, SIGKILL);
	}
	close(sync[1]);
	wait_for_child(child, status[0]);
}
