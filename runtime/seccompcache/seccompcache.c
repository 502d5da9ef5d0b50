// seccompcache.c: compiled seccomp filters kept on disk, so that a container's init loads the
// filter of the last identical profile instead of compiling it again (see seccompcache.go).
//
// libcontainer builds a container's filter with libseccomp in the init: seccomp_init, one
// seccomp_arch_add per architecture, seccomp_attr_set, some 400 seccomp_rule_add_array calls,
// then seccomp_export_bpf, which compiles the rules into BPF: about 15 ms of CPU on these
// machines, the largest single cost of a container's start. The link wraps those functions
// (-Wl,--wrap). Each call that shapes the filter goes to libseccomp as before and, when it
// succeeds, is also written down in a key: the calls and their arguments, in order, after
// the library's version, its API level and the native architecture. The same key means the
// same filter. The export looks the key up in the cache directory; a hit writes the stored
// program and skips the compiler, a miss compiles, stores the program with its whole key and
// returns it. The key is compared byte for byte: its hash only names the file.
//
// The directory reaches the init as a descriptor. den asks for it through the one setting
// libcontainer hands to its init as it is, the log level: "LEVEL den-seccomp-cache=DIR". The
// constructor below, which runs in the init before runc's nsenter, opens DIR, leaves the
// descriptor open for den-init (under _DEN_SECCOMP_CACHE_FD) and puts the log level back to
// LEVEL before nsenter or libcontainer reads it. LEVEL may carry a request of its own that
// den-init takes out later (runtime/initexec's wait for the root filesystem, with a path). libcontainer's init closes the descriptor
// when it execs the container's command, as it does every descriptor it did not pass on.
//
// With a cache directory, the rules themselves are only written down as they come, not given
// to libseccomp (whose rule database costs some 4 ms more of the init's CPU): a hit needs
// them no more, and a miss gives them all to libseccomp, in order, before compiling. A rule
// libseccomp would have refused then fails the export instead of its own call; the same key
// found in the cache means the same calls all succeeded before.
//
// Anything unexpected (no directory, a file that is not ours, a short read) falls back to
// libseccomp's own export: the cache can only make a start faster, never change a filter.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_ENV "_DEN_SECCOMP_CACHE_FD"
#define LEVEL_ENV "_LIBCONTAINER_LOGLEVEL"
#define DIR_MARK " den-seccomp-cache="
#define MAGIC "den-seccomp-bpf 1\n"
#define MAX_FILE (8 << 20)

scmp_filter_ctx __real_seccomp_init(uint32_t def_action);
int __real_seccomp_reset(scmp_filter_ctx ctx, uint32_t def_action);
void __real_seccomp_release(scmp_filter_ctx ctx);
int __real_seccomp_merge(scmp_filter_ctx dst, scmp_filter_ctx src);
int __real_seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch);
int __real_seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch);
int __real_seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
int __real_seccomp_syscall_priority(scmp_filter_ctx ctx, int syscall, uint8_t priority);
int __real_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int n,
				  const struct scmp_arg_cmp *args);
int __real_seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int n,
					const struct scmp_arg_cmp *args);
int __real_seccomp_export_bpf(const scmp_filter_ctx ctx, int fd);
int __real_seccomp_export_pfc(const scmp_filter_ctx ctx, int fd);
int __real_seccomp_load(const scmp_filter_ctx ctx);

// The key of the one filter being built (libcontainer builds one per process).
struct rule {
	int exact;
	uint32_t action;
	int syscall;
	unsigned int n;
	struct scmp_arg_cmp *args;
};

static struct {
	scmp_filter_ctx ctx;
	int usable; // every call so far was written down
	unsigned char *buf;
	size_t len, cap;
	// Rules written down but not yet given to libseccomp.
	struct rule *pending;
	size_t npending, cappending;
} key;

static int cache_dir(void);

static void drop_pending(void) {
	for (size_t i = 0; i < key.npending; i++)
		free(key.pending[i].args);
	free(key.pending);
	key.pending = NULL;
	key.npending = key.cappending = 0;
}

// flush gives libseccomp the rules written down so far, in order: 0, or the first refusal.
static int flush(void) {
	int rc = 0;
	for (size_t i = 0; i < key.npending && rc == 0; i++) {
		struct rule *r = &key.pending[i];
		rc = r->exact ? __real_seccomp_rule_add_exact_array(key.ctx, r->action, r->syscall, r->n, r->args)
			      : __real_seccomp_rule_add_array(key.ctx, r->action, r->syscall, r->n, r->args);
	}
	drop_pending();
	return rc;
}

// defer_rule writes a rule down for later; 0 when it did, -1 when it must go to libseccomp now.
static int defer_rule(scmp_filter_ctx ctx, int exact, uint32_t action, int syscall, unsigned int n,
		      const struct scmp_arg_cmp *args) {
	if (ctx == NULL || ctx != key.ctx || !key.usable || cache_dir() < 0)
		return -1;
	if (key.npending == key.cappending) {
		size_t cap = key.cappending ? key.cappending * 2 : 512;
		struct rule *p = realloc(key.pending, cap * sizeof *p);
		if (p == NULL)
			return -1;
		key.pending = p;
		key.cappending = cap;
	}
	struct rule r = {exact, action, syscall, n, NULL};
	if (n > 0) {
		r.args = malloc(n * sizeof *args);
		if (r.args == NULL)
			return -1;
		memcpy(r.args, args, n * sizeof *args);
	}
	key.pending[key.npending++] = r;
	return 0;
}

// Counters for the tests: exports answered from the cache, and programs stored.
int den_seccompcache_hits, den_seccompcache_stores;

static void key_add(const void *p, size_t n) {
	if (!key.usable)
		return;
	if (key.len + n > key.cap) {
		size_t cap = key.cap ? key.cap * 2 : 16384;
		while (cap < key.len + n)
			cap *= 2;
		unsigned char *b = realloc(key.buf, cap);
		if (b == NULL) {
			key.usable = 0;
			return;
		}
		key.buf = b;
		key.cap = cap;
	}
	memcpy(key.buf + key.len, p, n);
	key.len += n;
}

static void key_u32(uint32_t v) { key_add(&v, sizeof v); }

// record writes one call down when it was made on the filter being keyed and succeeded.
static int record(scmp_filter_ctx ctx, int rc, char op, const uint32_t *vals, int n) {
	if (ctx == NULL || ctx != key.ctx || rc != 0)
		return rc;
	key_add(&op, 1);
	for (int i = 0; i < n; i++)
		key_u32(vals[i]);
	return rc;
}

// A filter whose deferred rules libseccomp refused after the key had moved on to another
// filter: its export fails, as the refused rule's own call would have.
static scmp_filter_ctx refused_ctx;

static void key_start(scmp_filter_ctx ctx, uint32_t def_action) {
	// A second filter while the first still has rules written down (libcontainer makes one
	// per process; others may not): the first gets them now.
	if (key.npending > 0 && flush() != 0)
		refused_ctx = key.ctx;
	key.ctx = ctx;
	key.usable = ctx != NULL;
	key.len = 0;
	const struct scmp_version *v = seccomp_version();
	uint32_t head[] = {v ? v->major : 0, v ? v->minor : 0, v ? v->micro : 0, seccomp_api_get(),
			   seccomp_arch_native(), def_action};
	key_add(MAGIC, sizeof MAGIC - 1);
	for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
		key_u32(head[i]);
}

scmp_filter_ctx __wrap_seccomp_init(uint32_t def_action) {
	scmp_filter_ctx ctx = __real_seccomp_init(def_action);
	if (ctx != NULL)
		key_start(ctx, def_action);
	return ctx;
}

// settle gives libseccomp the deferred rules of the filter being keyed before any other call
// that could see or change them; 0, or the first refusal.
static int settle(scmp_filter_ctx ctx) { return (ctx != NULL && ctx == key.ctx && key.npending > 0) ? flush() : 0; }

int __wrap_seccomp_reset(scmp_filter_ctx ctx, uint32_t def_action) {
	if (ctx != NULL && ctx == key.ctx) {
		drop_pending();
		key.usable = 0; // rare enough not to key
	}
	return __real_seccomp_reset(ctx, def_action);
}

void __wrap_seccomp_release(scmp_filter_ctx ctx) {
	if (ctx != NULL && ctx == refused_ctx)
		refused_ctx = NULL;
	if (ctx != NULL && ctx == key.ctx) {
		drop_pending();
		key.ctx = NULL;
		key.usable = 0;
		key.len = 0;
	}
	__real_seccomp_release(ctx);
}

int __wrap_seccomp_merge(scmp_filter_ctx dst, scmp_filter_ctx src) {
	int rc = settle(dst);
	if (rc == 0)
		rc = settle(src);
	if (dst == key.ctx || src == key.ctx)
		key.usable = 0;
	return rc != 0 ? rc : __real_seccomp_merge(dst, src);
}

int __wrap_seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch) {
	int rc = settle(ctx);
	return rc != 0 ? rc : record(ctx, __real_seccomp_arch_add(ctx, arch), 'A', &arch, 1);
}

int __wrap_seccomp_arch_remove(scmp_filter_ctx ctx, uint32_t arch) {
	int rc = settle(ctx);
	return rc != 0 ? rc : record(ctx, __real_seccomp_arch_remove(ctx, arch), 'a', &arch, 1);
}

int __wrap_seccomp_attr_set(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value) {
	uint32_t v[] = {(uint32_t)attr, value};
	int rc = settle(ctx);
	return rc != 0 ? rc : record(ctx, __real_seccomp_attr_set(ctx, attr, value), 'T', v, 2);
}

int __wrap_seccomp_syscall_priority(scmp_filter_ctx ctx, int syscall, uint8_t priority) {
	uint32_t v[] = {(uint32_t)syscall, priority};
	int rc = settle(ctx);
	return rc != 0 ? rc : record(ctx, __real_seccomp_syscall_priority(ctx, syscall, priority), 'P', v, 2);
}

int __wrap_seccomp_load(const scmp_filter_ctx ctx) {
	int rc = settle(ctx);
	return rc != 0 ? rc : __real_seccomp_load(ctx);
}

int __wrap_seccomp_export_pfc(const scmp_filter_ctx ctx, int fd) {
	int rc = settle(ctx);
	return rc != 0 ? rc : __real_seccomp_export_pfc(ctx, fd);
}

static int record_rule(scmp_filter_ctx ctx, int rc, char op, uint32_t action, int syscall, unsigned int n,
		       const struct scmp_arg_cmp *args) {
	uint32_t v[] = {action, (uint32_t)syscall, n};
	record(ctx, rc, op, v, 3);
	if (rc == 0 && ctx == key.ctx) {
		for (unsigned int i = 0; i < n; i++) {
			uint32_t a[] = {args[i].arg, (uint32_t)args[i].op, (uint32_t)args[i].datum_a,
					(uint32_t)(args[i].datum_a >> 32), (uint32_t)args[i].datum_b,
					(uint32_t)(args[i].datum_b >> 32)};
			for (int j = 0; j < 6; j++)
				key_u32(a[j]);
		}
	}
	return rc;
}

// add_rule writes a rule down or, when it cannot, gives it to libseccomp after the ones
// written down before it, keeping their order.
static int add_rule(scmp_filter_ctx ctx, int exact, uint32_t action, int syscall, unsigned int n,
		    const struct scmp_arg_cmp *args) {
	if (defer_rule(ctx, exact, action, syscall, n, args) == 0)
		return 0;
	int rc = settle(ctx);
	if (rc != 0)
		return rc;
	return exact ? __real_seccomp_rule_add_exact_array(ctx, action, syscall, n, args)
		     : __real_seccomp_rule_add_array(ctx, action, syscall, n, args);
}

int __wrap_seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int n,
				  const struct scmp_arg_cmp *args) {
	return record_rule(ctx, add_rule(ctx, 0, action, syscall, n, args), 'R', action, syscall, n, args);
}

int __wrap_seccomp_rule_add_exact_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int n,
					const struct scmp_arg_cmp *args) {
	return record_rule(ctx, add_rule(ctx, 1, action, syscall, n, args), 'E', action, syscall, n, args);
}

// FNV-1a, 64 bits: only a file name; the key itself is compared whole.
static uint64_t fnv(const unsigned char *p, size_t n) {
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static int write_all(int fd, const void *p, size_t n) {
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

static int read_all(int fd, void *p, size_t n) {
	char *c = p;
	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

// The cache directory's descriptor, as found at start-up: libcontainer's init clears the
// environment long before it builds the filter.
static int cache_fd = -1;

static int parse_fd(const char *s) {
	if (s == NULL || *s == 0)
		return -1;
	char *end;
	long fd = strtol(s, &end, 10);
	return (*end == 0 && fd >= 3 && fd < 1 << 20) ? (int)fd : -1;
}

static int cache_dir(void) { return cache_fd >= 0 ? cache_fd : parse_fd(getenv(CACHE_ENV)); }

// A cache file: MAGIC, then the key's length and the program's length (8 bytes each, host
// order), the program's FNV-1a, the key, the program.
struct header {
	uint64_t key_len, prog_len, prog_sum;
};

// lookup writes the stored program for the current key to out: 0 when it did, -1 when there
// is none (nothing written), -2 when writing it failed.
static int lookup(int dir, const char *name, int out) {
	int fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	struct stat st;
	char magic[sizeof MAGIC - 1];
	struct header h;
	unsigned char *buf = NULL;
	int rc = -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_FILE ||
	    read_all(fd, magic, sizeof magic) < 0 || memcmp(magic, MAGIC, sizeof magic) != 0 ||
	    read_all(fd, &h, sizeof h) < 0 || h.key_len != key.len || h.prog_len == 0 || h.prog_len % 8 != 0 ||
	    (uint64_t)st.st_size != sizeof magic + sizeof h + h.key_len + h.prog_len)
		goto out;
	buf = malloc(h.key_len + h.prog_len);
	if (buf == NULL || read_all(fd, buf, h.key_len + h.prog_len) < 0 || memcmp(buf, key.buf, key.len) != 0 ||
	    fnv(buf + h.key_len, h.prog_len) != h.prog_sum)
		goto out;
	rc = -2;
	if (write_all(out, buf + h.key_len, h.prog_len) == 0) {
		rc = 0;
		den_seccompcache_hits++;
	}
out:
	free(buf);
	close(fd);
	return rc;
}

// store keeps prog under name, written whole to a temporary file and renamed into place.
static void store(int dir, const char *name, const unsigned char *prog, size_t n) {
	char tmp[128];
	snprintf(tmp, sizeof tmp, ".%s.%d.tmp", name, (int)getpid());
	int fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	struct header h = {key.len, n, fnv(prog, n)};
	int ok = write_all(fd, MAGIC, sizeof MAGIC - 1) == 0 && write_all(fd, &h, sizeof h) == 0 &&
		 write_all(fd, key.buf, key.len) == 0 && write_all(fd, prog, n) == 0;
	ok = close(fd) == 0 && ok;
	if (ok && renameat(dir, tmp, dir, name) == 0)
		den_seccompcache_stores++;
	else
		unlinkat(dir, tmp, 0);
}

int __wrap_seccomp_export_bpf(const scmp_filter_ctx ctx, int fd) {
	if (ctx != NULL && ctx == refused_ctx)
		return -EINVAL;
	int dir = cache_dir();
	if (dir < 0 || ctx == NULL || ctx != key.ctx || !key.usable) {
		int rc = settle(ctx);
		return rc != 0 ? rc : __real_seccomp_export_bpf(ctx, fd);
	}
	char name[64];
	snprintf(name, sizeof name, "%016llx-%zu", (unsigned long long)fnv(key.buf, key.len), key.len);
	switch (lookup(dir, name, fd)) {
	case 0:
		drop_pending();
		return 0;
	case -2:
		return -EIO;
	}
	int added = flush();
	if (added != 0)
		return added;
	// Compile into memory first, to keep a copy.
	int mem = memfd_create("den-seccomp", MFD_CLOEXEC);
	if (mem < 0)
		return __real_seccomp_export_bpf(ctx, fd);
	int rc = __real_seccomp_export_bpf(ctx, mem);
	struct stat st;
	unsigned char *prog = NULL;
	if (rc == 0 && fstat(mem, &st) == 0 && st.st_size > 0 && st.st_size <= MAX_FILE &&
	    (prog = malloc((size_t)st.st_size)) != NULL && lseek(mem, 0, SEEK_SET) == 0 &&
	    read_all(mem, prog, (size_t)st.st_size) == 0) {
		close(mem);
		if (write_all(fd, prog, (size_t)st.st_size) < 0) {
			free(prog);
			return -EIO;
		}
		store(dir, name, prog, (size_t)st.st_size);
		free(prog);
		return 0;
	}
	free(prog);
	close(mem);
	return rc != 0 ? rc : __real_seccomp_export_bpf(ctx, fd);
}

// take_cache_dir runs in a container's init (den exec'd by libcontainer) before runc's
// nsenter constructor, in den's mount namespace still: it takes den's request out of the log
// level and opens the directory for the init's later use.
__attribute__((constructor(150))) static void take_cache_dir(void) {
	if (getenv("_LIBCONTAINER_INITPIPE") == NULL)
		return;
	const char *lv = getenv(LEVEL_ENV);
	const char *mark = lv ? strstr(lv, DIR_MARK) : NULL;
	if (mark == NULL)
		return;
	char level[4096];
	size_t n = (size_t)(mark - lv);
	if (n >= sizeof level)
		n = 0;
	memcpy(level, lv, n);
	level[n] = 0;
	char path[4096];
	snprintf(path, sizeof path, "%s", mark + strlen(DIR_MARK));
	if (n > 0)
		setenv(LEVEL_ENV, level, 1);
	else
		unsetenv(LEVEL_ENV);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	// Only den's own private directory: owned by this (namespace) root, closed to others.
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 0077) != 0) {
		close(fd);
		return;
	}
	// Above libcontainer's descriptors, and kept across the exec into den-init.
	int keep = fcntl(fd, F_DUPFD, 100);
	close(fd);
	if (keep < 0)
		return;
	char num[16];
	snprintf(num, sizeof num, "%d", keep);
	setenv(CACHE_ENV, num, 1);
	cache_fd = keep;
}

// find_cache_dir runs at the start of den-init, which den's init execs with the descriptor.
__attribute__((constructor(151))) static void find_cache_dir(void) {
	if (cache_fd < 0 && getenv("_LIBCONTAINER_INITPIPE") != NULL)
		cache_fd = parse_fd(getenv(CACHE_ENV));
}

// den_seccompcache_adopt does find_cache_dir's work later, in a den-init that got its
// environment after its start (runtime/initexec's waiting init).
void den_seccompcache_adopt(void) { find_cache_dir(); }
