#!/usr/bin/env bash
# bench.sh times den against podman, side by side in one run, on the same image and as the
# same unprivileged user, and prints a table of medians with the den/podman ratio.
#
# usage: make bench                    (builds bin/den and testdata first; the usual way)
#        scripts/bench.sh              (after `make build testdata`)
#        BENCH_N=30 BENCH_PS_N=500 scripts/bench.sh
#
#   BENCH_N      timed runs per benchmark and engine, after 2 warm-ups (default 15)
#   BENCH_PS_N   containers present while `ps -a` is timed (default 100)
#   BENCH_INTERLEAVE=0   time den's runs, then podman's, instead of taking turns run by run
#   BENCH_PODMAN=none    leave podman out even when it is installed (den's figures alone)
#
# Run as root, it benchmarks as the user scripts/test-user.sh makes (dentest), opens
# /dev/net/tun to all (slirp4netns needs it), and installs Debian's runc when podman is
# there without it (crun refuses this host's hybrid cgroup layout). Run as a normal user, it
# benchmarks as you and changes nothing outside its temp dir.
#
# Each engine gets fresh state in one temp dir, removed at the end:
#   $T/bin/den, $T/bin/timer   den's binary is copied here: runc's exe sealing fails when
#                              the binary's directory is an ancestor of den's runtime dir
#   $T/den/{home,data,config,run}   den's HOME and XDG_* dirs
#   $T/podman/home              podman's HOME, with ~/.config/containers/containers.conf
#                               (cgroupfs, file events, runc) and storage.conf (overlay,
#                               graphroot and runroot under $T/podman, no mount_program)
#   $T/podman/run               podman's XDG_RUNTIME_DIR, 0700 and owned by the user
# Both engines load testdata/images/busybox-docker.tar. Timing is done by scripts/bench/timer,
# a small Go program, so no bash loop adds fork noise to the figures.
#
# Benchmarks: `run --rm busybox true`, `create busybox true` (the created containers are
# removed untimed), `ps -a` with BENCH_PS_N containers present, and `images`. By default the
# timer takes turns, one den run then one podman run, so load from elsewhere on the machine
# weighs on both alike; the load average is printed before and after.
# Without podman it prints den's figures alone. A podman step that fails here is shown as
# "podman failed: REASON" in its row and the run goes on. It exits 1 when den failed a step
# or the setup failed, 0 otherwise (a missed target is reported, not an error).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# The target that matters most: den's `run --rm true` against podman's.
target_ratio=0.20

die() {
	echo "bench.sh: $*" >&2
	exit 1
}

# ---------------------------------------------------------------------------------------
# Inner stage: runs as the benchmarking user, with a clean environment, inside $BENCH_DIR.

inner() {
	local T=$BENCH_DIR N=${BENCH_N:-15} PS_N=${BENCH_PS_N:-100}
	local podman=${BENCH_PODMAN_BIN:-} timer=$BENCH_DIR/bin/timer den=$BENCH_DIR/bin/den
	local image=$BENCH_DIR/busybox-docker.tar
	cd "$T"

	den_env=(HOME="$T/den/home" XDG_DATA_HOME="$T/den/data" XDG_CONFIG_HOME="$T/den/config"
		XDG_RUNTIME_DIR="$T/den/run")
	pod_env=(HOME="$T/podman/home" XDG_CONFIG_HOME="$T/podman/home/.config"
		XDG_DATA_HOME="$T/podman/home/.local/share" XDG_RUNTIME_DIR="$T/podman/run")
	engines=(den)
	if [ -n "$podman" ]; then
		engines+=(podman)
	fi
	declare -gA R=() broken=()

	echo "user: $(id -un) ($(id -u)), N=$N timed runs after 2 warm-ups, ps -a with $PS_N containers," \
		"$(nproc) cpus, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	local v
	v=$(env "${den_env[@]}" "$den" version 2>/dev/null | awk '$1 == "Version:" { print $2 }' || true)
	echo "den: ${v:-version unknown}"
	if [ -n "$podman" ]; then
		echo "podman: $("$podman" --version 2>&1 | head -n 1), runtime $BENCH_RUNTIME, $(podman_info)"
	else
		echo "podman: $BENCH_NO_PODMAN, so den's figures alone"
	fi
	echo

	local e out status=0
	for e in "${engines[@]}"; do
		out=$(once "$e" load -i "$image")
		if [ "${out%% *}" != ok ]; then
			broken[$e]="load: ${out#fail }"
		fi
	done

	# den's containers have a loopback interface only so far: compare with podman's equal.
	measure run run --rm --network=none busybox true
	measure images images

	measure create create --network=none busybox true
	for e in "${engines[@]}"; do
		out=$(once "$e" rm -a)
		if [ "${out%% *}" != ok ] && [ -z "${broken[$e]:-}" ]; then
			broken[$e]="rm -a after create: ${out#fail }"
		fi
	done

	# ps -a: first PS_N containers, created untimed (through timer, to spare bash loops).
	for e in "${engines[@]}"; do
		out=$(once_n "$e" "$PS_N" create --network=none busybox true)
		if [ "${out%% *}" != ok ] && [ -z "${broken[$e]:-}" ]; then
			broken[$e]="creating $PS_N containers: ${out#fail }"
		fi
	done
	measure ps ps -a

	report || status=$?
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (figures are noisy when it is near or above $(nproc))"
	return "$status"
}

# podman_info prints podman's view of this host in a few words.
podman_info() {
	env "${pod_env[@]}" "$podman" info --format \
		'cgroups {{.Host.CgroupsVersion}}, {{.Host.CgroupManager}}, {{.Store.GraphDriverName}}, network {{.Host.NetworkBackend}}' \
		2>/dev/null || echo "podman info failed"
}

# cmd ENGINE ARGS... prints, NUL-separated, the timer words for ENGINE ARGS...: the engine's
# environment as NAME=VALUE words, its binary, the arguments.
cmd() {
	local e=$1
	shift
	case $e in
	den) printf '%s\0' "${den_env[@]}" "$den" "$@" ;;
	podman) printf '%s\0' "${pod_env[@]}" "$podman" "$@" ;;
	esac
}

# once_n ENGINE COUNT ARGS... runs the engine COUNT times, untimed, and prints timer's line.
once_n() {
	local e=$1 n=$2 words
	shift 2
	mapfile -d '' words < <(cmd "$e" "$@")
	"$timer" -n "$n" -w 0 -- "${words[@]}" || true
}

once() {
	once_n "$1" 1 "${@:2}"
}

# measure KEY ARGS... times `ENGINE ARGS...` for each engine into R[KEY,ENGINE]: in rounds
# that take turns between the engines (BENCH_INTERLEAVE=1, the default), so a change in the
# machine's load weighs on both alike, or engine after engine (BENCH_INTERLEAVE=0).
measure() {
	local key=$1 e out lines=() todo=() args=() words
	shift
	for e in "${engines[@]}"; do
		if [ -n "${broken[$e]:-}" ]; then
			R[$key,$e]="fail ${broken[$e]}"
		else
			todo+=("$e")
		fi
	done
	[ ${#todo[@]} -gt 0 ] || return 0
	if [ "${BENCH_INTERLEAVE:-1}" = 1 ]; then
		for e in "${todo[@]}"; do
			mapfile -d '' words < <(cmd "$e" "$@")
			[ ${#args[@]} -eq 0 ] || args+=(:::)
			args+=("${words[@]}")
		done
		out=$("$timer" -n "$N" -w 2 -- "${args[@]}" || true)
		mapfile -t lines <<<"$out"
	else
		for e in "${todo[@]}"; do
			mapfile -d '' words < <(cmd "$e" "$@")
			lines+=("$("$timer" -n "$N" -w 2 -- "${words[@]}" || true)")
		done
	fi
	local i
	for i in "${!todo[@]}"; do
		R[$key,${todo[$i]}]=${lines[$i]:-fail timer printed nothing}
	done
}

report() {
	local rows=(run create ps images) key label d p ratio extra den_failed=false
	local -A labels=([run]="run --rm true" [create]="create true" [ps]="ps -a ($PS_N ctrs)" [images]="images")
	printf '%-20s %9s %12s %11s   %-15s %s\n' benchmark "den (ms)" "podman (ms)" den/podman \
		"den min-max" "podman min-max"
	for key in "${rows[@]}"; do
		label=${labels[$key]}
		d=${R[$key,den]}
		p=${R[$key,podman]:-none}
		extra=""
		if [ "${d%% *}" != ok ]; then
			den_failed=true
			extra+="  den failed: ${d#fail }"
		fi
		case ${p%% *} in
		ok) ;;
		none) ;;
		*) extra+="  podman failed: ${p#fail }" ;;
		esac
		ratio=$(ratio "$d" "$p")
		printf '%-20s %9s %12s %11s   %-15s %-15s%s\n' "$label" "$(cell "$d" 2)" "$(cell "$p" 2)" \
			"$ratio" "$(range "$d")" "$(range "$p")" "$extra" | sed 's/ *$//'
	done
	echo
	d=${R[run,den]}
	p=${R[run,podman]:-none}
	ratio=$(ratio "$d" "$p")
	if [ "$ratio" = - ]; then
		echo "target: den <= $target_ratio x podman for run --rm true: cannot tell (no ratio)"
	elif awk -v r="$ratio" -v t="$target_ratio" 'BEGIN { exit !(r <= t) }'; then
		echo "target: den <= $target_ratio x podman for run --rm true: met ($ratio)"
	else
		echo "target: den <= $target_ratio x podman for run --rm true: NOT met ($ratio)"
	fi
	if $den_failed; then
		return 1
	fi
}

# cell RESULT FIELD prints one field of an "ok MEDIAN MIN MAX" result, or a placeholder.
cell() {
	case ${1%% *} in
	ok) echo "$1" | awk -v f="$2" '{ print $f }' ;;
	none) echo "-" ;;
	*) echo "FAILED" ;;
	esac
}

range() {
	case ${1%% *} in
	ok) echo "$1" | awk '{ print $3 "-" $4 }' ;;
	*) echo "" ;;
	esac
}

ratio() {
	if [ "${1%% *}" = ok ] && [ "${2%% *}" = ok ]; then
		awk -v a="${1#ok }" -v b="${2#ok }" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%.2f\n", x[1] / y[1] }'
	else
		echo "-"
	fi
}

# ---------------------------------------------------------------------------------------
# Outer stage: prepares the host and the temp dir, runs the inner stage as the user, cleans up.

T=""
run_user=""

cleanup() {
	local pidfile pid
	[ -n "$T" ] && [ -d "$T" ] || return 0
	# Rootless podman keeps a pause process holding its user namespace; end it by its pid.
	pidfile=$T/podman/run/libpod/tmp/pause.pid
	if [ -r "$pidfile" ]; then
		pid=$(cat "$pidfile")
		if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = catatonit ]; then
			kill "$pid" 2>/dev/null || true
		fi
	fi
	# Storage holds files owned by the user's subordinate ids: root removes them as they are,
	# a normal user from inside a user namespace mapping those ids.
	if [ "$(id -u)" -eq 0 ]; then
		rm -rf "$T" 2>/dev/null || { sleep 1 && rm -rf "$T"; } || true
	else
		unshare --map-auto --map-root-user rm -rf "$T" 2>/dev/null || rm -rf "$T" 2>/dev/null || true
	fi
	if [ -e "$T" ]; then
		echo "bench.sh: could not remove all of $T" >&2
	fi
}

# find_runtime prints the OCI runtime podman should use here: runc (crun 1.8 refuses hybrid
# cgroups), installed from Debian when we are root and it is missing.
find_runtime() {
	if command -v runc >/dev/null || [ -x /usr/sbin/runc ]; then
		echo runc
	elif [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		if DEBIAN_FRONTEND=noninteractive apt-get install -y runc >/dev/null 2>&1 ||
			{ apt-get update >/dev/null 2>&1 &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y runc >/dev/null 2>&1; }; then
			echo "installed Debian's runc for podman (crun refuses hybrid cgroups)" >&2
			echo runc
		else
			echo "could not install runc; podman uses crun" >&2
			echo crun
		fi
	else
		echo crun
	fi
}

setup_dirs() {
	local runtime=$1
	mkdir -p "$T/bin" "$T/den/home" "$T/den/data" "$T/den/config" "$T/den/run" \
		"$T/podman/home/.config/containers" "$T/podman/run"
	cp "$root/bin/den" "$T/bin/den"
	cp "$root/testdata/images/busybox-docker.tar" "$T/busybox-docker.tar"
	cp "${BASH_SOURCE[0]}" "$T/bin/bench.sh"
	cat >"$T/podman/home/.config/containers/containers.conf" <<-EOF
		[engine]
		cgroup_manager = "cgroupfs"
		events_logger = "file"
		runtime = "$runtime"
	EOF
	cat >"$T/podman/home/.config/containers/storage.conf" <<-EOF
		[storage]
		driver = "overlay"
		graphroot = "$T/podman/graph"
		runroot = "$T/podman/runroot"
	EOF
	chmod 0755 "$T" "$T/bin"
	chmod 0644 "$T/busybox-docker.tar"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "$run_user:" "$T/den" "$T/podman"
	fi
	chmod 0700 "$T/den/run" "$T/podman/run"
}

build_timer() {
	local go
	go=$(command -v go || echo /usr/local/go/bin/go)
	(cd "$root" && CGO_ENABLED=0 GOFLAGS=-mod=mod "$go" build -buildvcs=false -o "$T/bin/timer" ./scripts/bench/timer) ||
		die "building scripts/bench/timer failed"
}

main() {
	local podman no_podman runtime=none mode status=0
	[ -x "$root/bin/den" ] || die "no bin/den: run \`make build\` first (or \`make bench\`)"
	[ -r "$root/testdata/images/busybox-docker.tar" ] ||
		die "no testdata/images/busybox-docker.tar: run \`make testdata\` first (or \`make bench\`)"

	if [ "$(id -u)" -eq 0 ]; then
		run_user=$("$root/scripts/test-user.sh")
		if [ -e /dev/net/tun ]; then
			mode=$(stat -c %a /dev/net/tun)
			if [ "$mode" != 666 ]; then
				chmod 0666 /dev/net/tun
				echo "chmod 0666 /dev/net/tun (was $mode) so slirp4netns can open it" >&2
			fi
		fi
	else
		run_user=$(id -un)
		if [ -e /dev/net/tun ] && [ ! -w /dev/net/tun ]; then
			echo "warning: /dev/net/tun is not writable for you; podman's networking may fail (scripts/setup-host.sh fixes it)" >&2
		fi
	fi

	podman="" no_podman=""
	if [ "${BENCH_PODMAN:-}" = none ]; then
		no_podman="left out (BENCH_PODMAN=none)"
	else
		podman=$(command -v podman || true)
		[ -n "$podman" ] || no_podman="not installed (scripts/setup-host.sh --bench installs it)"
	fi
	if [ -n "$podman" ]; then
		runtime=$(find_runtime)
	fi

	T=$(mktemp -d "${TMPDIR:-/tmp}/den-bench.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	setup_dirs "$runtime"
	build_timer

	local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
		HOME="$T" USER="$run_user" LOGNAME="$run_user"
		BENCH_DIR="$T" BENCH_N="${BENCH_N:-15}" BENCH_PS_N="${BENCH_PS_N:-100}"
		BENCH_INTERLEAVE="${BENCH_INTERLEAVE:-1}"
		BENCH_PODMAN_BIN="$podman" BENCH_NO_PODMAN="$no_podman" BENCH_RUNTIME="$runtime")
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$run_user" -- env -i "${envs[@]}" bash "$T/bin/bench.sh" --inner || status=$?
	else
		env -i "${envs[@]}" bash "$T/bin/bench.sh" --inner || status=$?
	fi
	return "$status"
}

if [ "${1:-}" = --inner ]; then
	inner
else
	main "$@"
fi
