// sysmonslack.c: the Go runtime's system monitor (sysmon) sleeps with a wider timer slack
// than the rest of a den process.
//
// sysmon wakes every 20 us while its process is busy, and starts sleeping longer only after
// some 50 wake-ups in which it found nothing to do; taking a processor back from a thread in a
// system call longer than that (a mount, an fsync) starts it over. With the kernel's default
// timer slack of 50 us, that is one wake-up every 70 to 100 us through most of a short den
// command and of a container's init, each a switch away from the thread it preempts on the
// same CPU and back. Measured with ftrace over 8 `run -d` each way: 130 sysmon wake-ups in
// den-init and 170 in den per run, 2.6 and 3.9 ms of CPU, against 3 and 0 with a 1 ms slack.
//
// Only sysmon's thread gets the slack. It is the first thread the Go runtime starts
// (runtime.main, before any package's init), through the C library's pthread_create in a
// cgo program, which the link wraps (-Wl,--wrap=pthread_create, see sysmonslack.go). A
// thread inherits its creator's timer slack, and so does a process forked from it: sysmon
// never forks, and the main thread, which the container's command and den's helpers come
// from, keeps the slack it was given. So do the threads started after sysmon, also those that
// sysmon starts itself.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdlib.h>
#include <sys/prctl.h>

// SYSMON_SLACK_NS is sysmon's timer slack: its 20 us sleeps last about 1 ms.
#define SYSMON_SLACK_NS 1000000UL

int __real_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg);

static int den_sysmon_created;
// The slack of the thread that started sysmon, which every other thread keeps.
static long den_own_slack;

// den_sysmon_slack is the slack sysmon was started with, 0 before it was (for the tests).
unsigned long den_sysmon_slack;

// create starts a thread with the given slack, the calling thread keeping its own.
static int create(unsigned long slack, long own, pthread_t *thread, const pthread_attr_t *attr,
		  void *(*start)(void *), void *arg) {
	if (prctl(PR_SET_TIMERSLACK, slack, 0, 0, 0) != 0)
		return -1;
	int err = __real_pthread_create(thread, attr, start, arg);
	prctl(PR_SET_TIMERSLACK, (unsigned long)own, 0, 0, 0);
	return err;
}

int __wrap_pthread_create(pthread_t *thread, const pthread_attr_t *attr, void *(*start)(void *), void *arg) {
	if (__atomic_exchange_n(&den_sysmon_created, 1, __ATOMIC_ACQ_REL)) {
		// sysmon starts threads too, to run a processor it took back from a system call:
		// those get the slack of the others.
		if (__atomic_load_n(&den_sysmon_slack, __ATOMIC_ACQUIRE) != 0 &&
		    prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == (long)SYSMON_SLACK_NS) {
			int err = create((unsigned long)den_own_slack, SYSMON_SLACK_NS, thread, attr, start, arg);
			if (err != -1)
				return err;
		}
		return __real_pthread_create(thread, attr, start, arg);
	}
	long own = prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
	const char *v = getenv("DEN_SYSMON_SLACK");
	if (own <= 0 || (unsigned long)own >= SYSMON_SLACK_NS || (v != NULL && v[0] == '0'))
		return __real_pthread_create(thread, attr, start, arg);
	// Set before sysmon runs, for the threads it starts.
	den_own_slack = own;
	__atomic_store_n(&den_sysmon_slack, SYSMON_SLACK_NS, __ATOMIC_RELEASE);
	int err = create(SYSMON_SLACK_NS, own, thread, attr, start, arg);
	if (err != 0)
		__atomic_store_n(&den_sysmon_slack, 0, __ATOMIC_RELEASE);
	if (err == -1)
		return __real_pthread_create(thread, attr, start, arg);
	return err;
}
