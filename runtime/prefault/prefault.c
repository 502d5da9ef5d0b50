// prefault.c: a den process populates its code and data when it starts, and the Go heap's
// memory when it is mapped, in one madvise call each, instead of taking one page fault at a
// time when a page is first touched.
//
// On the virtual machines den is measured on, a page fault costs about 14 us, against under
// 1 us a page for MADV_POPULATE_WRITE over a whole range; a den command takes hundreds to
// thousands of faults on fresh heap pages (ps -a over 1000 containers, a container start), so
// that is a large share of its time. The Go runtime maps heap memory with
// mmap(MAP_FIXED|MAP_ANONYMOUS, PROT_READ|PROT_WRITE) only when it is about to use it, and
// in a cgo binary it calls the C library's mmap for that: the link wraps mmap
// (-Wl,--wrap=mmap, see prefault.go), so those mappings arrive here. Reservations
// (PROT_NONE), file mappings and the runtime's other mappings are left as they are. A
// container's init hands over to den-init at cgo's start-up (runtime/initexec); the first
// such call is where it would otherwise.
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

// A heap mapping larger than this is not populated: memory the heap asks for in one piece
// that large may stay untouched for a while (a big buffer), and populating it would only
// cost. The runtime's own structures (spans, allocator metadata) get mappings of their own,
// not at a fixed address: those up to PREFAULT_META are populated too; larger ones are
// sparse tables of which a process touches a page or two. Every Go process maps two of
// those at start: the page allocator's chunk index (1 MB, one 128-byte entry used per 4 MB
// of heap) and the memory profiler's bucket table (1.4 MB, made at the first allocation
// after schedinit turns profiling off, which the runtime still records once). Populating
// them took 0.2-0.5 and 0.4-0.9 ms of every den command and of every container's init.
#define PREFAULT_MAX (64UL << 20)
#define PREFAULT_META (512UL << 10)
// How much of the zeroed part of the writable segment is populated (see populate_code).
#define PREFAULT_BSS (512UL << 10)
// The size of a huge page on x86-64 and arm64 with 4 KB pages.
#define HUGE_PAGE (2UL << 20)
// A huge page populated slower than this was not backed by the host (see __wrap_mmap).
#define PREFAULT_COLD_NS 1000000L

void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

// runtime/initexec's handover of a container's init to den-init; absent from programs that
// do not link it.
void den_initexec(void) __attribute__((weak));
// The programs den carries (runtime/initexec): den-init (blob.S) and, in the core build, the
// whole den (transfer.S) and den-monitor (monitor.S). den itself never reads them, so they
// are not populated.
extern const char den_init_blob[] __attribute__((weak));
extern const char den_init_blob_end[] __attribute__((weak));
extern const char den_transfer_blob[] __attribute__((weak));
extern const char den_transfer_blob_end[] __attribute__((weak));
extern const char den_monitor_blob[] __attribute__((weak));
extern const char den_monitor_blob_end[] __attribute__((weak));

#define CARRIED 3

// populate maps [start, end) with advice, leaving out the bytes of the carried programs from
// the from'th on.
static void populate(uintptr_t start, uintptr_t end, int advice, uintptr_t page, int from) {
	const char *blobs[CARRIED][2] = {
		{den_init_blob, den_init_blob_end},
		{den_transfer_blob, den_transfer_blob_end},
		{den_monitor_blob, den_monitor_blob_end},
	};
	for (int i = from; i < CARRIED; i++) {
		uintptr_t lo = (uintptr_t)blobs[i][0], hi = (uintptr_t)blobs[i][1];
		if (lo == 0 || hi <= lo || lo >= end || hi <= start)
			continue;
		lo &= ~(page - 1);
		hi = (hi + page - 1) & ~(page - 1);
		if (lo > start)
			populate(start, lo, advice, page, i + 1);
		if (end > hi)
			populate(hi, end, advice, page, i + 1);
		return;
	}
	madvise((void *)start, end - start, advice);
}

// den_prefault_on is cleared where populating is unwanted: in a container's monitor and a
// network's holder, which live long and whose resident size counts more than their start,
// and on kernels without MADV_POPULATE_WRITE (before 5.14), after the first refusal.
static int den_prefault_on = 1;

// den_prefault_cold is set once a huge page of the heap came slow (see __wrap_mmap): the
// heap mapped after it takes small pages.
static int den_prefault_cold;

// den_prefault_mark_cold has the heap mapped from now on take small pages (for the tests).
void den_prefault_mark_cold(void) { __atomic_store_n(&den_prefault_cold, 1, __ATOMIC_RELAXED); }
int den_prefault_is_cold(void) { return __atomic_load_n(&den_prefault_cold, __ATOMIC_RELAXED); }

// populate_code maps the binary's segments (code, read-only data, initialised data) in one
// call each: the Go runtime's start touches a few hundred pages spread over them, each a
// fault.
static int populate_code(struct dl_phdr_info *info, size_t size, void *data) {
	(void)size;
	(void)data;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	// The start of the writable segment that is made read-only after relocation (RELRO)
	// cannot be populated for writing: the range starts after it.
	uintptr_t relro_end = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type == PT_GNU_RELRO)
			relro_end = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz + page - 1) & ~(page - 1);
	}
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || ph->p_filesz < (size_t)(64 << 10))
			continue;
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(page - 1);
		uintptr_t end = info->dlpi_addr + ph->p_vaddr + ph->p_filesz;
		int advice = MADV_POPULATE_READ;
		if (ph->p_flags & PF_W) {
			advice = MADV_POPULATE_WRITE;
			if (relro_end > start)
				start = relro_end;
			// Initialised data is written soon (copied on write), and so is the start of
			// the zeroed part after it (.bss), where the runtime's and the C library's
			// variables are: some 30 pages of each den command and container init, a
			// fault each. The rest of it is a few large arrays, mostly untouched (Go's
			// FIPS random generator keeps 32 MB there), and is left alone.
			uintptr_t zeroed = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
			end = zeroed < end + PREFAULT_BSS ? zeroed : end + PREFAULT_BSS;
		}
		if (end > start)
			populate(start, end, advice, page, 0);
	}
	return 1; // the executable comes first; nothing else is loaded in a static binary
}

// den_prefault_start decides, at the Go runtime's first mapping, whether this process
// populates, and maps the binary if so. It is not an ELF constructor on purpose: the
// constructors of runtime/userns (enter.c) and of runc's nsenter fork, and the process that
// goes on into Go is a child, which a fork leaves without the parent's populated page tables
// of file mappings; the Go runtime only ever starts in that child.
static void den_prefault_start(void) {
	// A container's init that has not left den's binary for den-init yet (runtime/initexec
	// wraps pthread_getattr_np for that) leaves it here, before anything of den's is
	// populated for nothing.
	if (den_initexec != NULL)
		den_initexec();
	const char *v = getenv("DEN_PREFAULT");
	if ((v != NULL && v[0] == '0') || getenv("_DEN_MONITOR") != NULL || getenv("_DEN_NETWORK_HOLDER") != NULL) {
		__atomic_store_n(&den_prefault_on, 0, __ATOMIC_RELAXED);
		return;
	}
	dl_iterate_phdr(populate_code, NULL);
}

static int den_prefault_started;

// den_prefault_wanted says whether a fresh mapping is populated when mapped: the heap's
// pieces and the runtime's small structures, not file mappings, reservations (PROT_NONE) or
// large or sparse tables.
int den_prefault_wanted(size_t len, int prot, int flags) {
	if (!(flags & MAP_ANONYMOUS) || prot != (PROT_READ | PROT_WRITE))
		return 0;
	return len <= ((flags & MAP_FIXED) ? PREFAULT_MAX : PREFAULT_META);
}

// den_prefault_begin starts populating, once: at the Go runtime's first mapping, or before
// it in a process that runtime/userns's enter.c has just forked to go on into Go. A fork
// leaves the child without the parent's page tables of the binary's file mappings, and the
// rest of the C start-up and the runtime's first steps, up to its first mapping, took some
// 80 faults of 15 to 35 us each in den run -d (ftrace) before the binary was populated.
void den_prefault_begin(void) {
	// Single-threaded either way: the runtime maps its first memory before it starts a thread.
	if (!den_prefault_started) {
		den_prefault_started = 1;
		den_prefault_start();
	}
}

// runc's nsenter, which den links and den-init does not (see den_prefault_early).
void nsexec(void) __attribute__((weak));

// den_prefault_early populates den-init in its first constructor, as a container's init or
// exec: a program with an init pipe and without runc's nsenter is den-init, into which the
// init has already been handed over, and no fork follows. The constructors after it and the
// Go runtime's start before its first mapping took some 27 of den-init's 89 faults (perf,
// run -d), at 12 to 30 us each here; the C library's own start-up comes before any
// constructor. In den, nsenter's stages fork after the
// constructors, and the forks would not keep the mappings made.
int den_prefault_early_ran;

__attribute__((constructor(101))) static void den_prefault_early(void) {
	if (nsexec == NULL && getenv("_LIBCONTAINER_INITPIPE") != NULL) {
		den_prefault_early_ran = 1;
		den_prefault_begin();
	}
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
	den_prefault_begin();
	void *p = __real_mmap(addr, len, prot, flags, fd, off);
	if (p == MAP_FAILED || !__atomic_load_n(&den_prefault_on, __ATOMIC_RELAXED))
		return p;
	if (!den_prefault_wanted(len, prot, flags))
		return p;
	// The heap grows in 4 MB pieces at aligned fixed addresses: they are populated with huge
	// pages where the kernel has them (transparent huge pages, "madvise" or "always"), two
	// page-table entries instead of a thousand. Measured here: den ps 20.5 -> 15.0 ms, run
	// --rm 82 -> 69 ms; the resident size is the same, since the whole piece is populated
	// either way. The advice is only a wish: without huge pages it changes nothing. It is
	// taken back once the piece is populated: memory the Go runtime later returns to the
	// kernel then stays returned, where khugepaged would fill whole huge pages again in a
	// long-lived process (den run in the foreground, den logs -f).
	//
	// A huge page can be slow to get, though: on a virtual machine whose host takes back
	// the memory of free huge pages (free page reporting), the first write to one has the
	// host back it again, 1.8 to 5 ms for 2 MB here (7 to 10 ms for a 4 MB piece) against
	// 0.1 to 0.3 ms for one it still backs, and 0.3 to 0.6 ms for 2 MB of small pages,
	// which come from memory in use moments ago. So the first huge page of a piece is
	// timed: slower than PREFAULT_COLD_NS, the rest of this process's heap takes small
	// pages, advised so where the kernel would otherwise give huge ones unasked (transparent
	// huge pages "always"). Only the first is timed: a second 2 MB that comes slow after a
	// fast first (seen right after much memory was freed) is paid in full.
	int cold = __atomic_load_n(&den_prefault_cold, __ATOMIC_RELAXED);
	int piece = (flags & MAP_FIXED) && ((uintptr_t)p & (HUGE_PAGE - 1)) == 0 && (len & (HUGE_PAGE - 1)) == 0;
	if (piece && cold)
		madvise(p, len, MADV_NOHUGEPAGE);
	int huge = piece && !cold && madvise(p, len, MADV_HUGEPAGE) == 0;
	size_t done = 0;
	if (huge) {
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (madvise(p, HUGE_PAGE, MADV_POPULATE_WRITE) == 0) {
			done = HUGE_PAGE;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			long ns = (t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec);
			if (ns > PREFAULT_COLD_NS) {
				__atomic_store_n(&den_prefault_cold, 1, __ATOMIC_RELAXED);
				madvise(p, len, MADV_NOHUGEPAGE);
				huge = 0;
			}
		}
	}
	// den-init (see den_prefault_early) lives some 15 ms, GC off, and mostly uses a piece's
	// first 2 MB alone: the Go runtime hands out a piece's pages from its start. The rest
	// stays advised and unpopulated, and a first touch there takes one huge page, as
	// populating it would have. Measured (run -d, blocks of 6, ABBA, 40 rounds): -1.8 ms
	// alone; with den-init's JSON warm-up, -4.5 ms when first measured and -1.1 ms an hour
	// later. The same in den itself, which goes on to use more of its heap: -0.6 ms, left
	// out.
	if (huge && den_prefault_early_ran)
		return p;
	if (done < len && madvise((char *)p + done, len - done, MADV_POPULATE_WRITE) != 0)
		__atomic_store_n(&den_prefault_on, 0, __ATOMIC_RELAXED);
	if (huge)
		madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}
