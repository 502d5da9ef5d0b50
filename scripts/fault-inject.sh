#!/usr/bin/env bash
# fault-inject.sh kills den's command line with SIGKILL at random moments of container
# lifecycle commands, then checks that den's state still holds together: no container is
# reported Up without its monitor, `den system check --repair` repairs what the kills left,
# and `den rm -af` leaves no monitor, container process or mount behind.
#
# usage: make fault                    (builds bin/den and testdata first; the usual way)
#        scripts/fault-inject.sh       (as root, after `make build testdata`)
#        TRIALS=100 FAULT_SEED=42 scripts/fault-inject.sh
#
#   TRIALS               trials (default 40)
#   FAULT_MAX_DELAY_MS   the kill comes 0 to this many ms after the command started (default 150)
#   FAULT_SEED           seed of bash's $RANDOM, to replay a run's choices (default: from the clock)
#   FAULT_KEEP=1         keep the temp dir (den's state, each trial's output) for a post-mortem
#
# It runs as root and runs den as the user scripts/test-user.sh makes (dentest), with fresh
# state in one temp dir, as scripts/bench.sh does:
#   $T/bin/den                      den's binary, copied (runc's exe sealing fails when the
#                                   binary's directory is an ancestor of den's runtime dir)
#   $T/den/{home,data,config,run}   den's HOME and XDG_* dirs; busybox is loaded first
#   $T/log/N.{out,err}              what trial N's command printed before it died
#
# Each trial picks one of
#   den run -d --name fN busybox sleep 1000
#   den run -d --network none --name fN busybox sleep 1000   (this den becomes the monitor)
#   den stop -t 1 fK       K: a running container (one is started first, unharmed, if none)
#   den rm -f -t 1 fK      K: any container (one is started first if there is none)
#   den run --rm busybox true
# starts it as the leader of a new session and process group (setsid; setpriv and env exec,
# they do not fork), and after a random delay sends SIGKILL to that process group: den's CLI
# and the helpers it forked die, its container monitors do not (each runs in a session of
# its own). A command that ends before the delay is not killed, and that is shown.
#
# Afterwards, in this order, each a failure when it does not hold:
#   1. every container `den ps -a` shows as Up has a live den-monitor process with its short id
#   2. `den system check --repair` exits 0 (skipped with a note while den has no such command)
#   3. a second `den system check` exits 0
#   4. `den rm -af` exits 0, and then no den-monitor of this run is left, no `sleep 1000`
#      process of the user that belongs to this run (its mounts are under $T) is left, no
#      container init started ahead still waits, and no process has a mount under den's data
#      dir in /proc/PID/mountinfo
# Processes count as this run's by their environment (den's XDG_RUNTIME_DIR), their
# executable ($T/bin/den) or their mounts ($T), so that other den instances of the same user
# (tests running beside this) are left out. Leftovers are listed, then killed by pid.
# It prints a summary (every trial: the operation, its target, when it was killed) and exits 1
# on any failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

TRIALS=${TRIALS:-40}
max_delay=${FAULT_MAX_DELAY_MS:-150}
seed=${FAULT_SEED:-$(($(date +%s%N) / 1000 % 32768))}
RANDOM=$seed

die() {
	echo "fault-inject.sh: $*" >&2
	exit 1
}

T=""
run_user="" uid="" gid=""
failures=()
trial_lines=() trial_ops=() trial_killed=()

fail() {
	failures+=("$*")
	echo "FAIL: $*" >&2
}

note() {
	echo "$*" >&2
}

# ---------------------------------------------------------------------------------------
# Running den as the user.

user_env() {
	printf '%s\0' PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		USER="$run_user" LOGNAME="$run_user" HOME="$T/den/home" XDG_DATA_HOME="$T/den/data" \
		XDG_CONFIG_HOME="$T/den/config" XDG_RUNTIME_DIR="$T/den/run"
}

# den_ ARGS... runs den as the user, unharmed, with a time limit.
den_() {
	local words
	mapfile -d '' words < <(user_env)
	timeout 120 setpriv --reuid="$uid" --regid="$gid" --init-groups env -i "${words[@]}" "$T/bin/den" "$@"
}

# ---------------------------------------------------------------------------------------
# Finding this run's processes.

# alive PID: the process exists and is not a zombie.
alive() {
	local state
	state=$(awk '$1 == "State:" { print $2 }' "/proc/$1/status" 2>/dev/null || true)
	[ -n "$state" ] && [ "$state" != Z ]
}

# monitors prints "PID SHORTID" for each live den-monitor process of this run.
monitors() {
	local pid
	for pid in $(pgrep -u "$uid" -f '^den-monitor' || true); do
		if grep -qzxF "XDG_RUNTIME_DIR=$T/den/run" "/proc/$pid/environ" 2>/dev/null && alive "$pid"; then
			echo "$pid $(tr '\0' ' ' <"/proc/$pid/cmdline" | awk '{ print $2 }')"
		fi
	done
}

# slirps prints the pid of each live slirp4netns of this run: the network helper of a
# container, which must go with its holder.
slirps() {
	local pid
	for pid in $(pgrep -u "$uid" -x slirp4netns || true); do
		if grep -qzxF "XDG_RUNTIME_DIR=$T/den/run" "/proc/$pid/environ" 2>/dev/null && alive "$pid"; then
			echo "$pid"
		fi
	done
	return 0
}

# waiters prints the pid of each live container init that den started ahead and that still
# waits (runtime/initexec, zygote.go): it must go with the den that started it.
waiters() {
	local pid
	for pid in $(pgrep -u "$uid" -f '^runc:\[2:INIT\]' || true); do
		if grep -qzxF "XDG_RUNTIME_DIR=$T/den/run" "/proc/$pid/environ" 2>/dev/null &&
			grep -qz '^_DEN_ZYGOTE=' "/proc/$pid/environ" 2>/dev/null && alive "$pid"; then
			echo "$pid"
		fi
	done
	return 0
}

# sleepers prints the pid of each live `sleep 1000` of the user whose mounts are this run's
# (a container's root is an overlay under $T/den/data); others prints the count of the rest.
sleepers() {
	local pid mine=$1
	for pid in $(pgrep -u "$uid" -x sleep || true); do
		[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" = "sleep 1000 " ] || continue
		alive "$pid" || continue
		if grep -qF "$T/" "/proc/$pid/mountinfo" 2>/dev/null; then
			[ "$mine" = mine ] && echo "$pid"
		else
			[ "$mine" = others ] && echo "$pid"
		fi
	done
	return 0
}

# den_procs prints the pid of each live process running this run's den binary (CLIs,
# monitors, den's own helpers).
den_procs() {
	local p pid
	for p in /proc/[0-9]*; do
		pid=${p#/proc/}
		case $(readlink "$p/exe" 2>/dev/null || true) in
		"$T/bin/den" | "$T/bin/den (deleted)") alive "$pid" && echo "$pid" ;;
		esac
	done
	return 0
}

# mounters prints "PID COMM" for each process with a mount under den's data dir.
mounters() {
	local p
	for p in /proc/[0-9]*; do
		if grep -qF "$T/den/data" "$p/mountinfo" 2>/dev/null; then
			echo "${p#/proc/} $(cat "$p/comm" 2>/dev/null || echo '?')"
		fi
	done
	return 0
}

indent() {
	sed 's/^/    /'
}

describe() {
	local pid
	for pid in "$@"; do
		printf '    %s\n' "$(ps -o pid=,user=,stat=,args= -p "$pid" 2>/dev/null || echo "$pid (gone)")"
	done
}

# ---------------------------------------------------------------------------------------
# Trials.

# pick STATE R prints the name of a container fN, a running one (STATE running) or any, the
# (R mod count)th. R comes from the caller: $RANDOM in this subshell would not advance the
# caller's sequence.
pick() {
	local names=() out
	if [ "$1" = running ]; then
		out=$(den_ ps --format '{{.Names}}' 2>/dev/null) || return 1
	else
		out=$(den_ ps -a --format '{{.Names}}' 2>/dev/null) || return 1
	fi
	mapfile -t names < <(grep -E '^f[0-9]+$' <<<"$out" || true)
	[ ${#names[@]} -gt 0 ] || return 1
	echo "${names[$2 % ${#names[@]}]}"
}

# ms N prints N milliseconds as seconds for sleep(1).
ms() {
	printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000))
}

trial() {
	local i=$1 op target args=() delay pid rc words outcome err
	case $((RANDOM % 5)) in
	0)
		op="run -d" target=f$i
		args=(run -d --name "$target" busybox sleep 1000)
		;;
	4)
		# Rootless, this den starts the container itself and then execs its monitor.
		op="run -d net0" target=f$i
		args=(run -d --network none --name "$target" busybox sleep 1000)
		;;
	1)
		op="stop" target=$(pick running "$RANDOM") || target=""
		if [ -z "$target" ]; then
			target=f$i
			if ! err=$(den_ run -d --name "$target" busybox sleep 1000 2>&1 >/dev/null); then
				fail "trial $i: starting $target to stop it (not killed): den run -d failed: $(tail -n 1 <<<"$err")"
			fi
		fi
		args=(stop -t 1 "$target")
		;;
	2)
		op="rm -f" target=$(pick any "$RANDOM") || target=""
		if [ -z "$target" ]; then
			target=f$i
			if ! err=$(den_ run -d --name "$target" busybox sleep 1000 2>&1 >/dev/null); then
				fail "trial $i: starting $target to remove it (not killed): den run -d failed: $(tail -n 1 <<<"$err")"
			fi
		fi
		args=(rm -f -t 1 "$target")
		;;
	3)
		op="run --rm" target=-
		args=(run --rm busybox true)
		;;
	esac
	delay=$((RANDOM % (max_delay + 1)))
	mapfile -d '' words < <(user_env)
	# In a script, a background job stays in the script's process group, so setsid makes
	# a new session in place, without forking: $! leads the process group killed below.
	setsid setpriv --reuid="$uid" --regid="$gid" --init-groups env -i "${words[@]}" \
		"$T/bin/den" "${args[@]}" </dev/null >"$T/log/$i.out" 2>"$T/log/$i.err" &
	pid=$!
	sleep "$(ms "$delay")"
	# The group once setsid ran; the pid alone if the kill comes before it did.
	kill -KILL -- "-$pid" "$pid" 2>/dev/null || true
	rc=0
	# (Quietly: bash would report each killed job.)
	{ wait "$pid"; } 2>/dev/null || rc=$?
	if [ "$rc" -eq 137 ]; then
		outcome="killed after $delay ms"
	else
		outcome="ended (exit $rc) before the kill at $delay ms"
		if [ "$rc" -ne 0 ]; then
			outcome+=": $(grep -v '^$' "$T/log/$i.err" | tail -n 1 || true)"
		fi
	fi
	trial_lines+=("$(printf '%5s  %-11s %-6s %s' "$i" "$op" "$target" "$outcome")")
	trial_ops+=("$op")
	trial_killed+=("$([ "$rc" -eq 137 ] && echo 1 || echo 0)")
	note "trial $i: den ${args[*]}: $outcome"
}

# ---------------------------------------------------------------------------------------
# Checks.

check_up_monitored() {
	local out id name status up=0 mons
	if ! out=$(den_ ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.Status}}' 2>&1); then
		fail "den ps -a failed after the trials: $(tail -n 1 <<<"$out")"
		return 0
	fi
	mons=$(monitors)
	while read -r id name status; do
		[ -n "$id" ] || continue
		case $status in
		Up*) ;;
		*) continue ;;
		esac
		up=$((up + 1))
		if ! awk -v s="${id:0:12}" '$2 == s { found = 1 } END { exit !found }' <<<"$mons"; then
			fail "den ps -a shows $name (${id:0:12}) as \"$status\" but no den-monitor ${id:0:12} is alive"
		fi
	done <<<"$out"
	echo "den ps -a after the trials: $(grep -c . <<<"$out" || true) containers, $up Up," \
		"$(grep -c . <<<"$mons" || true) live monitors of this run"
	indent <<<"$out"
}

# has_system_check: the den under test has `den system check --repair`.
has_system_check() {
	den_ system check --help 2>/dev/null | grep -q -- '--repair'
}

check_system() {
	local out rc
	if ! has_system_check; then
		echo "NOTE: den has no \`system check\` command yet: steps 2 and 3 (system check --repair, system check) skipped"
		return 0
	fi
	rc=0
	out=$(den_ system check --repair 2>&1) || rc=$?
	echo "den system check --repair: exit $rc"
	[ -z "$out" ] || indent <<<"$out"
	[ "$rc" -eq 0 ] || fail "den system check --repair exited $rc: $(tail -n 1 <<<"$out")"
	rc=0
	out=$(den_ system check 2>&1) || rc=$?
	echo "den system check (again): exit $rc"
	[ -z "$out" ] || indent <<<"$out"
	[ "$rc" -eq 0 ] || fail "den system check after --repair exited $rc: $(tail -n 1 <<<"$out")"
}

check_rm_all() {
	local out rc=0 left=() m
	out=$(den_ rm -af -t 0 2>&1) || rc=$?
	echo "den rm -af: exit $rc"
	[ "$rc" -eq 0 ] || fail "den rm -af exited $rc: $(grep -v '^$' <<<"$out" | tail -n 1)"
	out=$(den_ ps -a -q 2>&1) || fail "den ps -a after rm -af failed: $(tail -n 1 <<<"$out")"
	[ -z "$out" ] || fail "den ps -a after rm -af still lists: $(tr '\n' ' ' <<<"$out")"
	# A monitor cleans up after its container exited: give it a moment.
	sleep 1

	mapfile -t left < <(monitors | awk '{ print $1 }')
	if [ ${#left[@]} -gt 0 ]; then
		fail "after rm -af, ${#left[@]} den-monitor processes of this run are alive"
		describe "${left[@]}"
	fi
	mapfile -t left < <(sleepers mine)
	if [ ${#left[@]} -gt 0 ]; then
		fail "after rm -af, ${#left[@]} \`sleep 1000\` container processes of this run are alive"
		describe "${left[@]}"
	fi
	mapfile -t left < <(slirps)
	if [ ${#left[@]} -gt 0 ]; then
		fail "after rm -af, ${#left[@]} slirp4netns processes of this run are alive"
		describe "${left[@]}"
	fi
	mapfile -t left < <(waiters)
	if [ ${#left[@]} -gt 0 ]; then
		fail "after rm -af, ${#left[@]} container inits started ahead of this run still wait"
		describe "${left[@]}"
	fi
	mapfile -t left < <(sleepers others)
	if [ ${#left[@]} -gt 0 ]; then
		echo "(${#left[@]} other \`sleep 1000\` processes of $run_user belong to other den state dirs; not counted)"
	fi
	mapfile -t left < <(mounters)
	if [ ${#left[@]} -gt 0 ]; then
		fail "after rm -af, ${#left[@]} processes have mounts under $T/den/data"
		for m in "${left[@]}"; do
			describe "${m%% *}"
		done
	fi
	mapfile -t left < <(den_procs)
	if [ ${#left[@]} -gt 0 ]; then
		fail "after rm -af, ${#left[@]} processes of this run's den binary are alive"
		describe "${left[@]}"
	fi
}

# ---------------------------------------------------------------------------------------

cleanup() {
	local pids=() pid
	[ -n "$T" ] && [ -d "$T" ] || return 0
	# Whatever this run left running: its monitors, container processes, den processes.
	mapfile -t pids < <({
		monitors | awk '{ print $1 }'
		sleepers mine
		slirps
		waiters
		den_procs
		mounters | awk '{ print $1 }'
	} | sort -u)
	for pid in "${pids[@]}"; do
		if [ -n "$pid" ]; then
			kill -KILL "$pid" 2>/dev/null || true
		fi
	done
	if [ "${FAULT_KEEP:-0}" = 1 ]; then
		echo "kept $T" >&2
		return 0
	fi
	rm -rf "$T" 2>/dev/null || { sleep 1 && rm -rf "$T"; } || true
	[ ! -e "$T" ] || echo "fault-inject.sh: could not remove all of $T" >&2
}

setup() {
	mkdir -p "$T/bin" "$T/log" "$T/den/home" "$T/den/data" "$T/den/config" "$T/den/run"
	cp "$root/bin/den" "$T/bin/den"
	cp "$root/testdata/images/busybox-docker.tar" "$T/busybox-docker.tar"
	chmod 0755 "$T" "$T/bin"
	chmod 0644 "$T/busybox-docker.tar"
	chown -R "$run_user:" "$T/den"
	chmod 0700 "$T/den/run"
	local out
	out=$(den_ load -i "$T/busybox-docker.tar" 2>&1) || die "den load failed: $(tail -n 1 <<<"$out")"
}

summary() {
	local line op
	echo
	echo "fault-inject: $TRIALS trials, seed $seed (FAULT_SEED=$seed replays the choices), SIGKILL to den's process group 0-$max_delay ms after start"
	printf '%5s  %-11s %-6s %s\n' trial operation target outcome
	printf '%s\n' "${trial_lines[@]}"
	echo
	local k n killed
	for op in "run -d" "run -d net0" "stop" "rm -f" "run --rm"; do
		n=0 killed=0
		for k in "${!trial_ops[@]}"; do
			if [ "${trial_ops[$k]}" = "$op" ]; then
				n=$((n + 1))
				killed=$((killed + trial_killed[k]))
			fi
		done
		printf '%-11s %3d trials, %3d killed\n' "$op" "$n" "$killed"
	done
	echo
	if [ ${#failures[@]} -eq 0 ]; then
		echo "result: no failures"
	else
		echo "result: ${#failures[@]} failures"
		for line in "${failures[@]}"; do
			echo "  - $line"
		done
	fi
}

main() {
	[ "$(id -u)" -eq 0 ] || die "run as root (it runs den as the test user and kills its processes): sudo $0"
	[ -x "$root/bin/den" ] || die "no bin/den: run \`make build\` first (or \`make fault\`)"
	[ -r "$root/testdata/images/busybox-docker.tar" ] ||
		die "no testdata/images/busybox-docker.tar: run \`make testdata\` first (or \`make fault\`)"
	case $TRIALS in '' | *[!0-9]*) die "TRIALS=$TRIALS is not a number" ;; esac
	case $max_delay in '' | *[!0-9]*) die "FAULT_MAX_DELAY_MS=$max_delay is not a number" ;; esac
	command -v setpriv >/dev/null || die "setpriv (util-linux) is needed"

	run_user=$("$root/scripts/test-user.sh")
	uid=$(id -u "$run_user")
	gid=$(id -g "$run_user")
	T=$(mktemp -d "${TMPDIR:-/tmp}/den-fault.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	setup
	note "fault-inject: $TRIALS trials as $run_user in $T, seed $seed"

	local i
	for ((i = 1; i <= TRIALS; i++)); do
		trial "$i"
	done
	# Monitors whose CLI died finish starting (or give up) on their own: let them settle.
	sleep 2

	echo
	echo "checks:"
	check_up_monitored
	check_system
	check_rm_all
	summary
	[ ${#failures[@]} -eq 0 ]
}

main "$@"
