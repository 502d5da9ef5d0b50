// earlyexec.c: `den exec CONTAINER COMMAND...` sends its request to the container's monitor
// before den's Go runtime starts, as an ELF constructor, and then waits for the process's exit
// code itself: when the monitor's answers are the plain ones of a process that ran, den exits
// with that code and its Go runtime never starts. Otherwise (an error to report, say) the Go
// side takes the connection over as it was (see earlyexec.go).
//
// It reads only the plainest command lines, the ones where its reading is certainly the
// CLI's: `den exec [-i|--interactive] CONTAINER COMMAND [ARG...]` (also `den container exec`),
// no global flag, CONTAINER a name, an id or an id's unique beginning, every argument
// printable ASCII, no den.toml (the CLI could refuse it after the process started),
// DEN_LOG_LEVEL unset or one of its four values, and no DEN_ROOT, DEN_RUNROOT or
// DEN_NO_EARLY_EXEC in the environment.
// Anything else, and any failure, leaves the whole request to Go, which then works as if this
// file did not exist. A Go test holds this reading to the CLI's for a table of command lines.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

// What the constructor sent, for earlyexec.go: the connected socket, the request line and the
// runtime directory of the container it went to.
int den_early_exec_fd = -1;
char *den_early_exec_req;
char den_early_exec_dir[4200];

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct buf {
	char *b;
	size_t cap, n;
	int full;
};

static void put(struct buf *b, const char *s) {
	size_t l = strlen(s);
	if (b->n + l >= b->cap) {
		b->full = 1;
		return;
	}
	memcpy(b->b + b->n, s, l);
	b->n += l;
	b->b[b->n] = 0;
}

// put_string writes s as a JSON string; the caller has checked it is printable ASCII.
static void put_string(struct buf *b, const char *s) {
	put(b, "\"");
	for (; *s; s++) {
		char c[3] = {*s, 0, 0};
		if (*s == '"' || *s == '\\') {
			c[0] = '\\';
			c[1] = *s;
		}
		put(b, c);
	}
	put(b, "\"");
}

static int printable(const char *s) {
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

// hex_len is the length of s when it is all lowercase hex digits, else 0.
static size_t hex_len(const char *s) {
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return 0;
	return n;
}

static int is_hex64(const char *s) { return hex_len(s) == 64; }

// is_name is runtime's nameRE: [a-zA-Z0-9][a-zA-Z0-9_.-]*
static int is_name(const char *s) {
	for (size_t i = 0; s[i]; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return 0;
	}
	return s[0] != 0;
}

// den_early_exec_parse reads argv as described above. It returns the index of CONTAINER
// (COMMAND follows it) and sets *interactive, or returns 0 when it does not take the line.
int den_early_exec_parse(int argc, char **argv, int *interactive) {
	// Shell completion runs `den exec web rm -rf /x --generate-bash-completion`: the CLI
	// only prints completions, and the command must not run.
	for (int k = 1; k < argc; k++)
		if (strcmp(argv[k], "--generate-bash-completion") == 0)
			return 0;
	int i = 1;
	if (i < argc && strcmp(argv[i], "container") == 0)
		i++;
	if (i >= argc || strcmp(argv[i], "exec") != 0)
		return 0;
	*interactive = 0;
	for (i++; i < argc && argv[i][0] == '-'; i++) {
		// The CLI refuses -i and --interactive together: one of them, once.
		if (*interactive || (strcmp(argv[i], "-i") != 0 && strcmp(argv[i], "--interactive") != 0))
			return 0;
		*interactive = 1;
	}
	if (i + 1 >= argc)
		return 0;
	for (int k = i; k < argc; k++)
		if (!printable(argv[k]))
			return 0;
	return i;
}

// den_early_exec_request writes the request for argv (read by den_early_exec_parse: ctr is
// CONTAINER's index) into out, as Go's controlRequest; 0 when done.
int den_early_exec_request(int argc, char **argv, int ctr, int interactive, char *out, size_t n) {
	struct buf b = {.b = out, .cap = n};
	if (n == 0)
		return -1;
	out[0] = 0;
	put(&b, "{\"op\":\"exec\",\"exec\":{\"args\":[");
	for (int k = ctr + 1; k < argc; k++) {
		if (k > ctr + 1)
			put(&b, ",");
		put_string(&b, argv[k]);
	}
	// runtime.Env gives a process without -e the default PATH (runtime's defaultPath).
	put(&b, "],\"env\":[\"" DEFAULT_PATH "\"]");
	if (interactive)
		put(&b, ",\"interactive\":true");
	put(&b, "}}\n");
	return b.full ? -1 : 0;
}

// quiet_config reports whether nothing in den's configuration could make the CLI refuse the
// command line: no den.toml (config.ResolvePaths' ConfigFiles) and a valid DEN_LOG_LEVEL.
static int quiet_config(void) {
	const char *lvl = getenv("DEN_LOG_LEVEL");
	if (lvl != NULL && strcmp(lvl, "debug") != 0 && strcmp(lvl, "info") != 0 && strcmp(lvl, "warn") != 0 &&
	    strcmp(lvl, "error") != 0)
		return 0;
	char p[4200];
	const char *cfg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (getuid() != 0) {
		if (cfg != NULL && cfg[0] == '/')
			snprintf(p, sizeof p, "%s/den/den.toml", cfg);
		else if (home != NULL && home[0] != 0)
			snprintf(p, sizeof p, "%s/.config/den/den.toml", home);
		else
			p[0] = 0;
		if (p[0] != 0 && access(p, F_OK) == 0)
			return 0;
	}
	return access("/etc/den/den.toml", F_OK) != 0;
}

// den_early_exec_dirs puts in data and run den's data and runtime directories for the user
// uid with the environment given (NULL: unset), as config.ResolvePaths finds them; 0 when
// done. A Go test holds it to config.ResolvePaths.
// untidy reports whether a set value would not join as filepath.Join joins it (relative, a
// trailing slash, "//", "." or ".." parts, or "/" itself): config.ResolvePaths cleans such
// paths or ignores them, and den exec leaves them to it.
static int untidy(const char *v) {
	if (v == NULL || v[0] == 0)
		return 0;
	if (v[0] != '/')
		return 1;
	size_t l = strlen(v);
	return l == 1 || v[l - 1] == '/' || strstr(v, "//") || strstr(v, "/./") || strstr(v, "/../") ||
	       (l >= 2 && strcmp(v + l - 2, "/.") == 0) || (l >= 3 && strcmp(v + l - 3, "/..") == 0);
}

int den_early_exec_dirs(unsigned uid, const char *home, const char *xd, const char *xr, const char *tmp, char *data,
			char *run, size_t n) {
	if (uid == 0) {
		snprintf(data, n, "/var/lib/den");
		snprintf(run, n, "/run/den");
		return 0;
	}
	if (home != NULL && home[0] != 0 && home[0] != '/')
		return -1;
	if (untidy(home) || untidy(xd) || untidy(xr) || untidy(tmp))
		return -1;
	if (xd != NULL && xd[0] != 0) {
		if (xd[0] != '/')
			return -1;
		snprintf(data, n, "%s/den", xd);
	} else if (home != NULL && home[0] == '/') {
		snprintf(data, n, "%s/.local/share/den", home);
	} else {
		return -1;
	}
	if (xr != NULL && xr[0] == '/')
		snprintf(run, n, "%s/den", xr);
	else
		snprintf(run, n, "%s/den-run-%u", tmp != NULL && tmp[0] != 0 ? tmp : "/tmp", uid);
	return 0;
}

// container_id resolves CONTAINER as runtime's records do: a name in the names registry,
// else a full id, else the one id it begins (none or several: left to Go, which says so).
static int container_id(const char *data, const char *ctr, char id[65]) {
	char p[4400];
	if (is_name(ctr)) {
		snprintf(p, sizeof p, "%s/containers/names/%s", data, ctr);
		int fd = open(p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0) {
			char b[80];
			ssize_t r = read(fd, b, sizeof b - 1);
			close(fd);
			while (r > 0 && (b[r - 1] == '\n' || b[r - 1] == ' '))
				r--;
			if (r == 64) {
				b[64] = 0;
				if (is_hex64(b)) {
					memcpy(id, b, 65);
					return 0;
				}
			}
			return -1;
		}
	}
	size_t n = hex_len(ctr);
	if (n == 64) {
		memcpy(id, ctr, 65);
		return 0;
	}
	if (n == 0)
		return -1;
	snprintf(p, sizeof p, "%s/containers", data);
	DIR *d = opendir(p);
	if (d == NULL)
		return -1;
	int found = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (strlen(e->d_name) == 64 && strncmp(e->d_name, ctr, n) == 0) {
			memcpy(id, e->d_name, 65);
			found++;
		}
	}
	closedir(d);
	return found == 1 ? 0 : -1;
}

// private_run reports whether den's runtime directory is the user's own and closed to others,
// as config.EnsureRuntimeDir requires before den uses it: under the /tmp fallback another user
// could have made it, and would then get the request and the user's stdio. Anything else is
// left to Go, which says so or makes it private.
static int private_run(const char *run) {
	struct stat st;
	return lstat(run, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid() && (st.st_mode & 0077) == 0;
}

// send_request connects to the control socket in dir and sends req with the stdio the
// process gets: stdin (or /dev/null without -i), stdout and stderr. It returns the socket.
static int send_request(const char *dir, const char *req, int interactive) {
	int dfd = open(dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/ctl.sock", dfd);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int in = interactive ? 0 : open("/dev/null", O_RDONLY | O_CLOEXEC);
	int ok = s >= 0 && in >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(dfd);
	if (ok) {
		int fds[3] = {in, 1, 2};
		char cbuf[CMSG_SPACE(sizeof fds)];
		memset(cbuf, 0, sizeof cbuf);
		struct iovec iov = {.iov_base = (void *)req, .iov_len = strlen(req)};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
		struct cmsghdr *c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof fds);
		memcpy(CMSG_DATA(c), fds, sizeof fds);
		ssize_t w;
		while ((w = sendmsg(s, &m, MSG_NOSIGNAL)) < 0 && errno == EINTR)
			;
		ok = w == (ssize_t)iov.iov_len;
	}
	if (!interactive && in >= 0)
		close(in);
	if (!ok && s >= 0) {
		close(s);
		s = -1;
	}
	return s;
}

// den_early_exec_answered waits on the connection s for the monitor's answers and reports
// whether they are the plain ones of a process that started and ended: {"pid":N} then
// {"exit":N}, one line each, all the Go side would read. It sets *code to the exit code then.
// It reads with MSG_PEEK from an advancing peek offset, so that anything else (an error, a
// monitor that went away, an answer it does not know) leaves the connection as it was for the
// Go side, which reads and reports it as it would have without this file. It returns 1 for
// plain answers, 0 for anything else.
int den_early_exec_answered(int s, int *code) {
	int off = 0;
	if (setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off) < 0)
		return 0;
	char got[128];
	size_t n = 0;
	int lines = 0;
	while (lines < 2 && n < sizeof got - 1) {
		ssize_t r = recv(s, got + n, sizeof got - 1 - n, MSG_PEEK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			lines += got[n + i] == '\n';
		n += (size_t)r;
	}
	// Only peeks read from the offset; still, the Go side gets the socket as it was.
	off = -1;
	(void)setsockopt(s, SOL_SOCKET, SO_PEEK_OFF, &off, sizeof off);
	got[n] = 0;
	int pid = 0, c = -1;
	char want[128];
	if (lines != 2 || sscanf(got, "{\"pid\":%d}\n{\"exit\":%d}", &pid, &c) != 2 || pid <= 0 || c < 0)
		return 0;
	snprintf(want, sizeof want, "{\"pid\":%d}\n{\"exit\":%d}\n", pid, c);
	if (strcmp(got, want) != 0)
		return 0;
	*code = c;
	return 1;
}

// finish ends den with the process's exit code when the monitor's answers are plain (see
// den_early_exec_answered), and den's Go runtime never starts: its start-up is some 15 ms of
// a CPU, on machines of two, that the process and its init no longer share with it, and all
// it would do is read those two lines. With DEN_LOG_LEVEL=debug it says so in den's log
// format. Anything else returns, and the Go side takes the connection over.
static void finish(int s) {
	int code;
	if (!den_early_exec_answered(s, &code))
		return;
	const char *level = getenv("DEN_LOG_LEVEL");
	if (level != NULL && strcmp(level, "debug") == 0) {
		struct timespec ts;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		dprintf(2, "time=\"%02d:%02d:%02d.%06ld\" level=debug msg=\"%s\"\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
			ts.tv_nsec / 1000,
			"exec: the request went to the monitor before den's Go runtime started, "
			"and the exit code came back with it never started");
	}
	_exit(code);
}

__attribute__((constructor)) static void den_early_exec(int argc, char **argv) {
	int interactive;
	if (getenv("_LIBCONTAINER_INITPIPE") || getenv("_DEN_USERNS_STAGE") || getenv("_DEN_MONITOR") ||
	    getenv("_DEN_NETWORK_HOLDER") || getenv("DEN_ROOT") || getenv("DEN_RUNROOT") || getenv("DEN_NO_EARLY_EXEC"))
		return;
	int ctr = den_early_exec_parse(argc, argv, &interactive);
	if (ctr == 0 || !quiet_config())
		return;
	char data[4096], run[4096], id[65];
	static char req[65536];
	if (den_early_exec_dirs((unsigned)getuid(), getenv("HOME"), getenv("XDG_DATA_HOME"), getenv("XDG_RUNTIME_DIR"),
				getenv("TMPDIR"), data, run, sizeof data) < 0 || container_id(data, argv[ctr], id) < 0 ||
	    den_early_exec_request(argc, argv, ctr, interactive, req, sizeof req) < 0 || !private_run(run))
		return;
	snprintf(den_early_exec_dir, sizeof den_early_exec_dir, "%s/containers/%s", run, id);
	den_early_exec_fd = send_request(den_early_exec_dir, req, interactive);
	if (den_early_exec_fd < 0)
		return;
	den_early_exec_req = req;
	finish(den_early_exec_fd);
}
