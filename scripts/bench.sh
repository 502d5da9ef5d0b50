#!/usr/bin/env bash
# bench.sh times den against podman, side by side in one run, on the same image and as the
# same unprivileged user, and prints a table of medians with the den/podman ratio.
#
# usage: make bench                    (builds bin/den and testdata first; the usual way)
#        scripts/bench.sh              (after `make build testdata`)
#        BENCH_N=30 BENCH_PS_N=500 scripts/bench.sh
#
#   BENCH_N       timed runs per benchmark and engine, after 2 warm-ups (default 15)
#   BENCH_N_SLOW  timed runs of run -d, stop, rm and ps -a, after 2 warm-ups (default 10)
#   BENCH_PAR     containers started at once by the parallel benchmark (default 50)
#   BENCH_N_PAR   timed batches of those, without warm-up (default 3)
#   BENCH_PS_N    containers present while `ps -a` is timed (default 1000)
#   BENCH_N_IMAGE timed pulls, saves and loads of the Debian image (default 5)
#   BENCH_INTERLEAVE=0   time den's runs, then podman's, instead of taking turns run by run
#   BENCH_QUIESCE before each run, wait until the CPUs have been 90% idle for this long, 5 s
#                 at most (default 50ms; 0: do not wait). podman's exec, run and stop leave
#                 their cleanup running in a process of their own after they return, and den's
#                 rm and run --rm delete storage after their answer: without the wait that
#                 work is timed as part of the next run.
#   BENCH_PODMAN=none    leave podman out even when it is installed (den's figures alone)
#   BENCH_ROWS    comma-separated rows to run, e.g. BENCH_ROWS=run,runvol,cpin,cpout (default:
#                 all); the rows are run runnet images create rund exec stop rm par ps runvol
#                 cpin cpout pull save load pin pout
#   BENCH_N_CP    timed runs of each cp row, after 1 warm-up (default 5)
#   BENCH_CP_MB   size of the tree the cp rows copy, in MB (default 200)
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
#   $RT/den, $RT/podman         each engine's XDG_RUNTIME_DIR, 0700 and owned by the user,
#   $RT/podman-runroot          and podman's runroot. RT is a temp dir on /dev/shm, a tmpfs,
#                               as a user's /run/user/UID is (BENCH_RUNTIME_TMPFS=0, or no
#                               tmpfs /dev/shm: RT is $T/rt, on $T's file system)
#   $T/cp/tree, $T/ENGINE/out   the cp rows' tree, and where each engine copies it out
# Both engines load testdata/images/busybox-docker.tar. Timing is done by scripts/bench/timer,
# a small Go program, so no bash loop adds fork noise to the figures.
#
# Benchmarks, all with --network=none but one (the rows measure den's engine, not its network):
#   run --rm busybox true
#   run --rm busybox true          with the default network, slirp4netns, for its cost
#   images
#   create busybox true            the created containers are removed untimed
#   run -d busybox sleep 1000      the containers are removed untimed (rm -af)
#   exec mon true                  in one running container, "mon"
#   stop -t 0 sN                   one running container per run, started untimed before
#                                  (timer's {i} names them: s1, s2...)
#   rm rN                          one exited container per run, made untimed before
#   BENCH_PAR x run --rm busybox true   one timed run starts them all at once and lasts
#                                  until the last one is gone
#   ps -a                          with BENCH_PS_N containers, created untimed, one per cpu
#                                  at a time
#   run --rm -v v1:/v1 ... -v v5:/v5 busybox true   five named volumes, made and used once
#                                  untimed before, timed in the same rounds as a plain
#                                  run --rm (row "run --rm beside vols"), the difference
#                                  being what the volumes add
#   cp TREE cpbox:/                a BENCH_CP_MB tree (BENCH_CP_MB/2 in 20 big files, the rest
#                                  in files of 25 kB over 40 directories) into a running
#                                  container, over the same path each time
#   cp cpbox:/tree OUT/            the same tree back out, into the same host directory
# and the memory of mon's monitor, from /proc/PID/status, after run -d and after the execs:
# VmHWM (peak RSS), VmRSS, RssAnon and RssFile of the den-monitor process (den) and of its
# conmon (podman). By default the timer takes turns, one den run then one podman run, so
# load from elsewhere on the machine weighs on both alike; the load average is printed
# before and after, and progress with the seconds elapsed on stderr.
# Targets, printed after the table as met or NOT met: den at most 0.20 x podman for run --rm,
# run -d, stop, rm, exec and the parallel runs; den's ps -a under 50 ms; den-monitor's VmHWM
# after run -d under 15 MB (10^6 bytes); den's cp at least as fast as podman's (ratio <= 1)
# both ways; five volumes add under 5 ms to den's run --rm, and the default network (run
# --rm beside --network=none, in the same rounds) under 15 ms.
# Without podman it prints den's figures alone. A podman step that fails here is shown as
# "podman failed: REASON" in its row and the run goes on. It exits 1 when den failed a step
# or the setup failed, 0 otherwise (a missed target is reported, not an error).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
# Targets: den's time against podman's for the rows that start, stop, remove or enter
# containers; ps -a with BENCH_PS_N containers; the peak RSS of a container's monitor.
target_ratio=0.20
target_ps_ms=50
target_monitor_mb=15
target_cp_ratio=1.00
target_volumes_ms=5
target_network_ms=15

die() {
	echo "bench.sh: $*" >&2
	exit 1
}

# ---------------------------------------------------------------------------------------
# Inner stage: runs as the benchmarking user, with a clean environment, inside $BENCH_DIR.

inner() {
	local T=$BENCH_DIR image=$BENCH_DIR/busybox-docker.tar RT=$BENCH_RT
	# Globals, not locals: the helpers and the exit trap use them.
	N=${BENCH_N:-15} NS=${BENCH_N_SLOW:-10} NP=${BENCH_N_PAR:-3} PAR=${BENCH_PAR:-50}
	PS_N=${BENCH_PS_N:-1000} NCP=${BENCH_N_CP:-5} CP_MB=${BENCH_CP_MB:-200}
	QUIESCE=${BENCH_QUIESCE:-50ms}
	podman=${BENCH_PODMAN_BIN:-} timer=$BENCH_DIR/bin/timer den=$BENCH_DIR/bin/den
	started=$SECONDS
	cd "$T"

	den_env=(HOME="$T/den/home" XDG_DATA_HOME="$T/den/data" XDG_CONFIG_HOME="$T/den/config"
		XDG_RUNTIME_DIR="$RT/den")
	pod_env=(HOME="$T/podman/home" XDG_CONFIG_HOME="$T/podman/home/.config"
		XDG_DATA_HOME="$T/podman/home/.local/share" XDG_RUNTIME_DIR="$RT/podman")
	engines=(den)
	if [ -n "$podman" ]; then
		engines+=(podman)
	fi
	# R: results by ROW,ENGINE. broken: an engine's failure that spoils every row after it.
	# pre: an untimed step before one row failed (ROW,ENGINE). M: monitor memory (ENGINE,WHEN).
	# T_: iperf3 throughputs in Gbit/s (ROW,ENGINE).
	declare -gA R=() broken=() pre=() M=() T_=()
	trap stop_running EXIT

	echo "user: $(id -un) ($(id -u)), N=$N timed runs after 2 warm-ups ($NS for run -d, stop, rm and ps;" \
		"$NP batches of $PAR, no warm-up, for the parallel run), ps -a with $PS_N containers," \
		"$(nproc) cpus, each run after ${QUIESCE/#0/no wait} of 90% idle CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "runtime directories (XDG_RUNTIME_DIR, podman's runroot): $RT, on $(stat -f -c %T "$RT")"
	local v
	v=$(env "${den_env[@]}" "$den" version 2>/dev/null | awk '$1 == "Version:" { print $2 }' || true)
	echo "den: ${v:-version unknown}"
	if [ -n "$podman" ]; then
		echo "podman: $("$podman" --version 2>&1 | head -n 1), runtime $BENCH_RUNTIME, $(podman_info)"
	else
		echo "podman: $BENCH_NO_PODMAN, so den's figures alone"
	fi
	echo

	# Rootless podman keeps one table of 2048 locks per user, in /dev/shm: a state dir removed
	# with its containers still in it (a bench cut short) leaks theirs, and creating
	# BENCH_PS_N containers then fails. With no other podman of this user running, renumbering
	# this empty state gives them all back.
	if [ -n "$podman" ] && ! podman_running; then
		env "${pod_env[@]}" "$podman" system renumber >/dev/null 2>&1 || true
	fi

	local e out status=0
	for e in "${engines[@]}"; do
		out=$(once "$e" load -i "$image")
		if [ "${out%% *}" != ok ]; then
			broken[$e]="load: ${out#fail }"
		fi
	done

	# den's containers have a loopback interface only so far: compare with podman's equal.
	step "run --rm, images, create"
	# The default network (slirp4netns, both engines) against none, in the same rounds: what
	# networking adds to a start.
	if wants runnet; then
		measure_beside run runnet "$N" 2 run --rm --network=none busybox true ::: run --rm busybox true
	else
		measure run "$N" 2 1 run --rm --network=none busybox true
	fi
	measure images "$N" 2 1 images
	measure create "$N" 2 1 create --network=none busybox true
	remove_all "after create"

	step "run -d"
	measure rund "$NS" 2 1 run -d --network=none busybox sleep 1000
	remove_all "after run -d"

	# One running container, "mon", for exec; its monitor's memory (den-monitor for den,
	# conmon for podman) is read after it started and again after the execs.
	if wants exec; then
		step "exec, monitor memory"
		for e in "${engines[@]}"; do
			start_mon "$e"
		done
		sleep 1
		memory started
		measure exec "$N" 2 1 exec mon true
		memory execs
	fi

	# stop and rm time one container per run: s1, s2... running and r1, r2... exited, made
	# untimed before (timer's {i} is the run's number, warm-ups included).
	step "stop, rm"
	prepare stop $((NS + 2)) 1 run -d --name 's{i}' --network=none busybox sleep 1000
	measure stop "$NS" 2 1 stop -t 0 's{i}'
	prepare rm $((NS + 2)) 1 run --name 'r{i}' --network=none busybox true
	measure rm "$NS" 2 1 rm 'r{i}'
	remove_all "after stop and rm"

	# One timed run = PAR containers started at once, until the last one is gone. No warm-up:
	# the rows before warmed up run --rm, and one batch of podman's takes half a minute.
	step "$PAR parallel run --rm"
	measure par "$NP" 0 "$PAR" run --rm --network=none busybox true

	# ps -a: first PS_N containers, created untimed, one per cpu at a time (more only
	# contend for the store's lock: 4 at a time on 2 cpus was slower for both engines).
	if wants ps; then
		local cpus
		cpus=$(nproc)
		step "creating $PS_N containers for ps -a, $cpus at a time"
		if [ $((PS_N / cpus)) -gt 0 ]; then
			prepare ps $((PS_N / cpus)) "$cpus" create --network=none busybox true
		fi
		if [ $((PS_N % cpus)) -gt 0 ]; then
			prepare ps $((PS_N % cpus)) 1 create --network=none busybox true
		fi
		step "ps -a"
		measure ps "$NS" 2 1 ps -a
		remove_all "after ps -a"
	fi

	# Five named volumes on one run --rm, against the run row's none. Made and mounted once
	# untimed, so the copy of the image's content into a new volume is not timed.
	if wants runvol; then
		step "run --rm with 5 volumes"
		local vols=() i e
		for i in 1 2 3 4 5; do
			vols+=(-v "v$i:/v$i")
		done
		prepare runvol 1 1 run --rm --network=none "${vols[@]}" busybox true
		measure_beside runvol0 runvol "$N" 2 run --rm --network=none busybox true ::: \
			run --rm --network=none "${vols[@]}" busybox true
	fi

	# cp both ways with one running container per engine, "cpbox".
	if wants cpin || wants cpout; then
		step "making a ${CP_MB} MB tree for cp"
		make_tree "$T/cp/tree" "$CP_MB"
		prepare cpbox 1 1 run -d --name cpbox --network=none busybox sleep 1000
		for e in "${engines[@]}"; do
			pre[cpin,$e]=${pre[cpbox,$e]:-} pre[cpout,$e]=${pre[cpbox,$e]:-}
		done
		mkdir -p "$T/den/out" "$T/podman/out"
		step "cp ${CP_MB} MB into a container"
		measure cpin "$NCP" 1 1 cp "$T/cp/tree" cpbox:/
		step "cp ${CP_MB} MB out of a container"
		measure cpout "$NCP" 1 1 cp cpbox:/tree '{out}/'
		rm -rf "$T/cp/tree"
		remove_all "after cp"
	fi
	if wants pull || wants save || wants load; then
		image_rows
	fi
	if wants pin || wants pout; then
		network_rows
	fi
	step "done"
	echo

	report || status=$?
	echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (figures are noisy when it is near or above $(nproc))"
	return "$status"
}

# wants ROW: ROW is one of BENCH_ROWS, or BENCH_ROWS is empty (every row).
# "cpbox" is wanted for either cp row, which both use that container.
wants() {
	if [ "$1" = cpbox ]; then
		wants cpin || wants cpout
		return
	fi
	[ -z "${BENCH_ROWS:-}" ] || [[ ",$BENCH_ROWS," == *",$1,"* ]]
}

# make_tree DIR MB writes MB megabytes of random data under DIR: half in 20 big files, half
# in files of 25 kB spread over 40 directories.
make_tree() {
	local dir=$1 mb=$2 i d big small
	big=$((mb * 1000000 / 2 / 20)) small=$((mb * 1000000 / 2 / 25000))
	mkdir -p "$dir/big"
	for i in $(seq 1 20); do
		head -c "$big" /dev/urandom >"$dir/big/f$i"
	done
	for i in $(seq 1 "$small"); do
		d=$dir/small/d$((i % 40))
		[ -d "$d" ] || mkdir -p "$d"
		head -c 25000 /dev/urandom >"$d/f$i"
	done
}

# image_rows times the image rows on the Debian image of scripts/build-debian-image.sh: pull
# from a registry on 127.0.0.1 into a fresh store each run (cold: no layer there yet), save
# to an archive, and load of the archive into a fresh store each run. The registry is
# Debian's docker-registry, filled once by den's push.
image_rows() {
	local debian=$BENCH_DIR/debian-oci.tar e out why=""
	if [ ! -r "$debian" ]; then
		why="no debian-oci.tar (make bigimage builds it)"
	elif [ ! -x /usr/bin/docker-registry ]; then
		why="no /usr/bin/docker-registry (scripts/setup-host.sh installs it)"
	fi
	if [ -z "$why" ]; then
		step "registry, then pull, save, load of the Debian image"
		start_registry || why="the registry did not start: $(tail -n 1 "$BENCH_DIR/registry/log" 2>/dev/null)"
	fi
	for e in "${engines[@]}"; do
		if [ -n "$why" ]; then
			pre[pull,$e]=$why pre[save,$e]=$why pre[load,$e]=$why
			continue
		fi
		out=$(once "$e" load -i "$debian")
		if [ "${out%% *}" != ok ]; then
			pre[save,$e]="untimed load before: ${out#fail }"
		fi
	done
	if [ -z "$why" ] && [ -z "${pre[save,den]:-}" ]; then
		out=$(once den push --tls-verify=false debian "127.0.0.1:$REGISTRY_PORT/bench/debian:latest")
		if [ "${out%% *}" != ok ]; then
			why="untimed den push before: ${out#fail }"
			for e in "${engines[@]}"; do
				pre[pull,$e]=$why
			done
		fi
	fi
	local NI=${BENCH_N_IMAGE:-5}
	measure pull "$NI" 0 1 --root "$BENCH_DIR/@E@/pull{i}" --runroot "$BENCH_DIR/@E@/pullrun{i}" \
		pull -q --tls-verify=false "127.0.0.1:${REGISTRY_PORT:-1}/bench/debian:latest"
	measure save "$NI" 1 1 save -o "$BENCH_DIR/@E@/save{i}.tar" debian
	measure load "$NI" 0 1 --root "$BENCH_DIR/@E@/load{i}" --runroot "$BENCH_DIR/@E@/loadrun{i}" load -i "$debian"
	stop_registry
}

# start_registry runs docker-registry on a free port of 127.0.0.1, in REGISTRY_PORT.
start_registry() {
	local dir=$BENCH_DIR/registry try port
	mkdir -p "$dir/data"
	for try in 1 2 3 4 5; do
		port=$((20000 + RANDOM % 30000))
		cat >"$dir/config.yml" <<-EOF
			version: 0.1
			log:
			  level: error
			storage:
			  filesystem:
			    rootdirectory: $dir/data
			http:
			  addr: 127.0.0.1:$port
		EOF
		/usr/bin/docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
		REGISTRY_PID=$!
		for _ in $(seq 50); do
			if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
				REGISTRY_PORT=$port
				return 0
			fi
			kill -0 "$REGISTRY_PID" 2>/dev/null || break
			sleep 0.1
		done
		stop_registry
	done
	return 1
}

stop_registry() {
	if [ -n "${REGISTRY_PID:-}" ]; then
		kill "$REGISTRY_PID" 2>/dev/null || true
		wait "$REGISTRY_PID" 2>/dev/null || true
		REGISTRY_PID=""
	fi
}

# network_rows measures throughput with iperf3 (in the Debian image) for 3 s each way: from
# the host to a server in the container through a published port (-p), and from a client in
# the container to a server on the host's primary address (out through slirp4netns), and
# between two containers of a user network.
# Results are Gbit/s in T_[ROW,ENGINE], higher is better.
network_rows() {
	local e why="" ip port out
	if ! command -v iperf3 >/dev/null; then
		why="no iperf3 on the host (scripts/setup-host.sh --bench installs it)"
	elif [ ! -r "$BENCH_DIR/debian-oci.tar" ]; then
		why="no debian-oci.tar (make bigimage builds it)"
	fi
	ip=$(ip -4 route get 192.0.2.1 2>/dev/null | awk '{ for (i = 1; i < NF; i++) if ($i == "src") print $(i + 1) }')
	[ -n "$ip" ] || why=${why:-"no primary IPv4 address"}
	step "iperf3 through -p and out of the container"
	for e in "${engines[@]}"; do
		if [ -n "$why" ] || [ -n "${broken[$e]:-}" ]; then
			T_[pin,$e]="fail ${why:-${broken[$e]}}" T_[pout,$e]=${T_[pin,$e]} T_[pnet,$e]=${T_[pin,$e]}
			continue
		fi
		if ! env_of "$e" image exists debian 2>/dev/null &&
			! out=$(env_of "$e" load -i "$BENCH_DIR/debian-oci.tar" 2>&1); then
			T_[pin,$e]="fail untimed load before: $(tail -n 1 <<<"$out")" T_[pout,$e]=${T_[pin,$e]} T_[pnet,$e]=${T_[pin,$e]}
			continue
		fi
		port=$((20000 + RANDOM % 30000))
		if ! out=$(env_of "$e" run -d --name ipf -p "$port:5201" debian iperf3 -s 2>&1); then
			T_[pin,$e]="fail run -d -p: $(tail -n 1 <<<"$out")"
		elif wait_port "$port"; then
			T_[pin,$e]=$(iperf_gbits iperf3 -c 127.0.0.1 -p "$port" -t 3)
		else
			T_[pin,$e]="fail the server in the container never listened on $port"
		fi
		env_of "$e" rm -f ipf >/dev/null 2>&1 || true
		port=$((20000 + RANDOM % 30000))
		iperf3 -s -B "$ip" -p "$port" >/dev/null 2>&1 &
		local srv=$!
		wait_port "$port" "$ip" || true
		T_[pout,$e]=$(iperf_gbits env_of "$e" run --rm debian iperf3 -c "$ip" -p "$port" -t 3)
		kill "$srv" 2>/dev/null || true
		wait "$srv" 2>/dev/null || true
		# Container to container on a user network, the server found by its name.
		if ! out=$(env_of "$e" network create benchnet 2>&1); then
			T_[pnet,$e]="fail network create: $(tail -n 1 <<<"$out")"
		elif ! out=$(env_of "$e" run -d --name ipsrv --network benchnet debian iperf3 -s 2>&1); then
			T_[pnet,$e]="fail run -d --network: $(tail -n 1 <<<"$out")"
		else
			sleep 1
			T_[pnet,$e]=$(iperf_gbits env_of "$e" run --rm --network benchnet debian iperf3 -c ipsrv -t 3)
		fi
		env_of "$e" rm -f ipsrv >/dev/null 2>&1 || true
		env_of "$e" network rm benchnet >/dev/null 2>&1 || true
	done
}

# env_of ENGINE ARGS... runs the engine with its environment.
env_of() {
	local e=$1 words
	shift
	mapfile -d '' words < <(cmd "$e" "$@")
	env "${words[@]}"
}

# wait_port PORT [IP] waits up to 10 s until something listens on IP:PORT (127.0.0.1).
wait_port() {
	local i
	for i in $(seq 100); do
		if (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# iperf_gbits CMD... runs an iperf3 client and prints "ok GBITS" from its receiver line.
iperf_gbits() {
	local out
	if ! out=$("$@" 2>&1); then
		echo "fail $(grep -v '^$' <<<"$out" | tail -n 1)"
		return 0
	fi
	awk '/receiver/ { for (i = 1; i < NF; i++) if ($(i + 1) ~ /bits\/sec/) { v = $i; u = $(i + 1) } }
		END {
			if (v == "") { print "fail no receiver line"; exit }
			f = (u ~ /^G/) ? 1 : (u ~ /^M/) ? 1e-3 : (u ~ /^K/) ? 1e-6 : 1e-9
			printf "ok %.2f\n", v * f
		}' <<<"$out"
}

# step WHAT notes on stderr what is being measured, and since when the inner stage runs.
step() {
	printf '[%4ds] %s\n' $((SECONDS - started)) "$*" >&2
}

# podman_running: a podman, conmon or catatonit process of this user runs.
podman_running() {
	local name
	for name in podman conmon catatonit; do
		if pgrep -u "$(id -u)" -x "$name" >/dev/null; then
			return 0
		fi
	done
	return 1
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
	# {out} is the engine's own host directory for what the cp row copies out.
	set -- "${@//\{out\}/$BENCH_DIR/$e/out}"
	# @E@ in an argument is the engine's name, for paths each engine must have to itself.
	set -- "${@//@E@/$e}"
	case $e in
	den) printf '%s\0' "${den_env[@]}" "$den" "$@" ;;
	podman) printf '%s\0' "${pod_env[@]}" "$podman" "$@" ;;
	esac
}

# once_n ENGINE COUNT COPIES ARGS... runs the engine COUNT times, COPIES at once each time,
# untimed, and prints timer's line.
once_n() {
	local e=$1 n=$2 c=$3 words
	shift 3
	mapfile -d '' words < <(cmd "$e" "$@")
	"$timer" -n "$n" -w 0 -c "$c" -- "${words[@]}" || true
}

once() {
	once_n "$1" 1 1 "${@:2}"
}

# prepare ROW COUNT COPIES ARGS... runs `ENGINE ARGS...` untimed COUNT times, COPIES at once,
# for each engine whose ROW is still to be timed; a failure is shown in ROW instead.
prepare() {
	local key=$1 n=$2 c=$3 e out
	shift 3
	wants "$key" || return 0
	for e in "${engines[@]}"; do
		if [ -n "${broken[$e]:-}" ] || [ -n "${pre[$key,$e]:-}" ]; then
			continue
		fi
		out=$(once_n "$e" "$n" "$c" "$@")
		if [ "${out%% *}" != ok ]; then
			pre[$key,$e]="untimed \`$1\` before: ${out#fail }"
		fi
	done
}

# remove_all WHEN removes every container of each engine, untimed (podman's rm -f would
# give sleep its 10 s to stop otherwise); a failure spoils the engine's rows after it.
remove_all() {
	local e out
	for e in "${engines[@]}"; do
		[ -z "${broken[$e]:-}" ] || continue
		case $e in
		den) out=$(once "$e" rm -af -t 0) ;;
		podman) out=$(once "$e" rm -af -t 0) ;;
		esac
		if [ "${out%% *}" != ok ]; then
			broken[$e]="rm -af $1: ${out#fail }"
		fi
	done
}

# stop_running, at the inner stage's exit, ends den's containers still running (a step that
# failed halfway may leave some) so that no process outlives the temp dir, and removes
# podman's containers, so that their locks in podman's per-user table are not leaked.
stop_running() {
	local ids=()
	stop_registry
	mapfile -t ids < <(env "${den_env[@]}" "$den" ps -q 2>/dev/null || true)
	if [ ${#ids[@]} -gt 0 ]; then
		env "${den_env[@]}" "$den" rm -f -t 0 "${ids[@]}" >/dev/null 2>&1 || true
	fi
	if [ -n "$podman" ]; then
		env "${pod_env[@]}" "$podman" rm -af -t 0 >/dev/null 2>&1 || true
	fi
}

# start_mon ENGINE starts the container "mon" (sleep 1000) for the exec row and keeps its id
# in M[ENGINE,id]; a failure is shown in the exec row.
start_mon() {
	local e=$1 words out=$BENCH_DIR/$1/mon.out err=$BENCH_DIR/$1/mon.err
	if [ -n "${broken[$e]:-}" ]; then
		return 0
	fi
	mapfile -d '' words < <(cmd "$e" run -d --name mon --network=none busybox sleep 1000)
	if env "${words[@]}" </dev/null >"$out" 2>"$err"; then
		M[$e,id]=$(tail -n 1 "$out")
	else
		pre[exec,$e]="untimed \`run -d --name mon\` before: $(grep -v '^$' "$err" | tail -n 1)"
	fi
}

# memory WHEN reads VmHWM (the peak RSS), VmRSS, RssAnon and RssFile (VmRSS is about their
# sum, with RssShmem), in kB, of the process that
# watches the container "mon": den-monitor for den, conmon for podman, into M[ENGINE,WHEN].
memory() {
	local when=$1 e cid pid
	for e in "${engines[@]}"; do
		cid=${M[$e,id]:-}
		[ -n "$cid" ] || continue
		case $e in
		# A den that starts its container itself execs den-monitor just after it answers.
		den) for _ in 1 2 3 4 5 6 7 8 9 10; do
				pid=$(pgrep -u "$(id -u)" -f "^den-monitor ${cid:0:12}" | head -n 1 || true)
				[ -z "$pid" ] || break
				sleep 0.1
			done ;;
		podman) pid=$(pgrep -u "$(id -u)" -f -- "conmon .*-c $cid" | head -n 1 || true) ;;
		esac
		if [ -n "$pid" ]; then
			M[$e,$when]=$(awk '$1 ~ /^(VmHWM|VmRSS|RssAnon|RssFile):$/ { v[$1] = $2 }
				END { print v["VmHWM:"] + 0, v["VmRSS:"] + 0, v["RssAnon:"] + 0, v["RssFile:"] + 0 }' \
				"/proc/$pid/status" 2>/dev/null || true)
		fi
		[ -n "${M[$e,$when]:-}" ] || M[$e,$when]="none"
	done
}

# measure ROW RUNS WARMUPS COPIES ARGS... times `ENGINE ARGS...` for each engine into
# R[ROW,ENGINE], COPIES at once per run: in rounds that take turns between the engines
# (BENCH_INTERLEAVE=1, the default), so a change in the machine's load weighs on both alike,
# or engine after engine (BENCH_INTERLEAVE=0).
measure() {
	local key=$1 n=$2 w=$3 c=$4 e out lines=() todo=() args=() words
	shift 4
	wants "$key" || return 0
	for e in "${engines[@]}"; do
		if [ -n "${broken[$e]:-}" ]; then
			R[$key,$e]="fail ${broken[$e]}"
		elif [ -n "${pre[$key,$e]:-}" ]; then
			R[$key,$e]="fail ${pre[$key,$e]}"
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
		out=$("$timer" -n "$n" -w "$w" -c "$c" -q "$QUIESCE" -- "${args[@]}" || true)
		mapfile -t lines <<<"$out"
	else
		for e in "${todo[@]}"; do
			mapfile -d '' words < <(cmd "$e" "$@")
			lines+=("$("$timer" -n "$n" -w "$w" -c "$c" -q "$QUIESCE" -- "${words[@]}" || true)")
		done
	fi
	local i
	for i in "${!todo[@]}"; do
		R[$key,${todo[$i]}]=${lines[$i]:-fail timer printed nothing}
	done
}

# measure_beside ROW1 ROW2 RUNS WARMUPS ARGS1... ::: ARGS2... times two commands of each
# engine in the same rounds, into R[ROW1,ENGINE] and R[ROW2,ENGINE]: on a loaded machine,
# the difference between two rows measured apart is mostly noise.
measure_beside() {
	local k1=$1 k2=$2 n=$3 w=$4 e i a1=() a2=() args=() words lines=() todo=() keys=()
	shift 4
	wants "$k2" || return 0
	while [ $# -gt 0 ] && [ "$1" != ::: ]; do
		a1+=("$1")
		shift
	done
	shift
	a2=("$@")
	for e in "${engines[@]}"; do
		if [ -n "${broken[$e]:-}" ] || [ -n "${pre[$k2,$e]:-}" ]; then
			R[$k1,$e]="fail ${broken[$e]:-${pre[$k2,$e]}}" R[$k2,$e]=${R[$k1,$e]}
			continue
		fi
		for i in 1 2; do
			if [ "$i" = 1 ]; then
				mapfile -d '' words < <(cmd "$e" "${a1[@]}")
				keys+=("$k1,$e")
			else
				mapfile -d '' words < <(cmd "$e" "${a2[@]}")
				keys+=("$k2,$e")
			fi
			[ ${#args[@]} -eq 0 ] || args+=(:::)
			args+=("${words[@]}")
		done
	done
	[ ${#keys[@]} -gt 0 ] || return 0
	mapfile -t lines < <("$timer" -n "$n" -w "$w" -c 1 -q "$QUIESCE" -- "${args[@]}" || true)
	for i in "${!keys[@]}"; do
		R[${keys[$i]}]=${lines[$i]:-fail timer printed nothing}
	done
}

report() {
	local rows=() key label d p ratio extra den_failed=false
	local -A labels=([run]="run --rm true" [runnet]="run --rm true (slirp)" [images]="images" [create]="create true"
		[rund]="run -d sleep" [stop]="stop -t 0 (running)" [rm]="rm (exited)" [exec]="exec true"
		[par]="$PAR x run --rm (par.)" [ps]="ps -a ($PS_N ctrs)" [runvol0]="run --rm beside vols"
		[runvol]="run --rm 5 volumes"
		[cpin]="cp ${CP_MB} MB in" [cpout]="cp ${CP_MB} MB out"
		[pull]="pull debian (cold)" [save]="save debian" [load]="load debian (cold)")
	for key in run runnet images create rund stop rm exec par ps runvol0 runvol cpin cpout pull save load; do
		if wants "$key" || { [ "$key" = runvol0 ] && wants runvol; }; then
			rows+=("$key")
		fi
	done
	printf '%-22s %9s %12s %11s   %-15s %s\n' benchmark "den (ms)" "podman (ms)" den/podman \
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
		printf '%-22s %9s %12s %11s   %-15s %-15s%s\n' "$label" "$(cell "$d" 2)" "$(cell "$p" 2)" \
			"$ratio" "$(range "$d")" "$(range "$p")" "$extra" | sed 's/ *$//'
	done
	echo

	# The monitors' memory, in MB of 10^6 bytes (status gives kB of 1024 bytes).
	local when e m hwm rss anon file
	if wants exec; then
		local -A whens=([started]="after run -d" [execs]="after $((N + 2)) execs")
		local -A names=([den]="den-monitor" [podman]="conmon (podman)")
		printf '%-38s %9s %9s %9s %9s\n' "container monitor memory (MB)" VmHWM VmRSS RssAnon RssFile
		for e in "${engines[@]}"; do
			for when in started execs; do
				m=${M[$e,$when]:-none}
				if [ "$m" = none ]; then
					printf '%-38s %s\n' "${names[$e]}, ${whens[$when]}" "not measured (no container or no process)"
					if [ "$e" = den ] && [ "$when" = started ]; then
						den_failed=true
					fi
					continue
				fi
				read -r hwm rss anon file <<<"$m"
				read -r hwm rss anon file <<<"$(mb "$hwm" "$rss" "$anon" "$file")"
				printf '%-38s %9s %9s %9s %9s\n' "${names[$e]}, ${whens[$when]}" "$hwm" "$rss" "$anon" "$file"
			done
		done
		echo
	fi

	for key in cpin cpout; do
		wants "$key" || continue
		d=${R[$key,den]}
		p=${R[$key,podman]:-none}
		printf '%-22s den %s MB/s, podman %s MB/s\n' "${labels[$key]}:" "$(throughput "$d")" "$(throughput "$p")"
		ratio=$(ratio "$d" "$p" 3)
		label="den <= $target_cp_ratio x podman for ${labels[$key]} (throughput at least podman's):"
		if [ "$ratio" = - ] || [ -z "$ratio" ]; then
			echo "target: $label cannot tell (no ratio)"
		elif awk -v r="$ratio" -v t="$target_cp_ratio" 'BEGIN { exit !(r <= t) }'; then
			echo "target: $label met ($ratio)"
		else
			echo "target: $label NOT met ($ratio)"
		fi
	done
	if wants runvol; then
		added runvol runvol0 "5 volumes add" "$target_volumes_ms"
	fi
	if wants runnet; then
		added runnet run "networking (slirp4netns) adds" "$target_network_ms"
	fi
	local -A tlabels=([pin]="host -> container (-p)" [pout]="container -> host" [pnet]="container -> container (network)")
	if wants pin || wants pout; then
	printf '%-38s %9s %12s %11s\n' "iperf3 throughput (Gbit/s)" den podman den/podman
	for key in pin pout pnet; do
		d=${T_[$key,den]:-none} p=${T_[$key,podman]:-none}
		extra=""
		[ "${d%% *}" = ok ] || extra+="  den: ${d#fail }"
		case ${p%% *} in ok | none) ;; *) extra+="  podman: ${p#fail }" ;; esac
		printf '%-38s %9s %12s %11s%s\n' "${tlabels[$key]}" "$(cell "$d" 2)" "$(cell "$p" 2)" "$(tratio "$d" "$p")" "$extra"
	done
	echo
	fi

	for key in run rund stop rm exec par; do
		wants "$key" || continue
		d=${R[$key,den]}
		p=${R[$key,podman]:-none}
		ratio=$(ratio "$d" "$p" 3)
		label="den <= $target_ratio x podman for ${labels[$key]}:"
		if [ "$ratio" = - ] || [ -z "$ratio" ]; then
			echo "target: $label cannot tell (no ratio)"
		elif awk -v r="$ratio" -v t="$target_ratio" 'BEGIN { exit !(r <= t) }'; then
			echo "target: $label met ($ratio)"
		else
			echo "target: $label NOT met ($ratio)"
		fi
	done
	# Images: the same libraries on both sides, so den at least as fast as podman.
	for key in pull save load; do
		wants "$key" || continue
		ratio=$(ratio "${R[$key,den]:-none}" "${R[$key,podman]:-none}" 3)
		label="den <= 1.00 x podman for ${labels[$key]}:"
		if [ "$ratio" = - ] || [ -z "$ratio" ]; then
			echo "target: $label cannot tell (no ratio)"
		elif awk -v r="$ratio" 'BEGIN { exit !(r <= 1.0) }'; then
			echo "target: $label met ($ratio)"
		else
			echo "target: $label NOT met ($ratio)"
		fi
	done
	ratio=$(tratio "${T_[pin,den]:-none}" "${T_[pin,podman]:-none}")
	if ! wants pin; then
		:
	elif [ "$ratio" = - ] || [ -z "$ratio" ]; then
		echo "target: den >= podman for -p throughput: cannot tell (no ratio)"
	elif awk -v r="$ratio" 'BEGIN { exit !(r >= 1.0) }'; then
		echo "target: den >= podman for -p throughput: met ($ratio)"
	else
		echo "target: den >= podman for -p throughput: NOT met ($ratio)"
	fi
	label="den's ${labels[ps]} < $target_ps_ms ms:"
	d=${R[ps,den]:-none}
	if ! wants ps; then
		:
	elif [ "${d%% *}" != ok ]; then
		echo "target: $label cannot tell (den failed)"
	elif awk -v m="$(cell "$d" 2)" -v t="$target_ps_ms" 'BEGIN { exit !(m < t) }'; then
		echo "target: $label met ($(cell "$d" 2) ms)"
	else
		echo "target: $label NOT met ($(cell "$d" 2) ms)"
	fi
	label="den-monitor's peak RSS (VmHWM after run -d) < $target_monitor_mb MB:"
	m=${M[den,started]:-none}
	if ! wants exec; then
		:
	elif [ "$m" = none ]; then
		echo "target: $label cannot tell (not measured)"
	else
		m=$(mb "${m%% *}")
		if awk -v m="$m" -v t="$target_monitor_mb" 'BEGIN { exit !(m < t) }'; then
			echo "target: $label met ($m MB)"
		else
			echo "target: $label NOT met ($m MB)"
		fi
	fi
	if $den_failed; then
		return 1
	fi
}

# added ROW BASE WHAT TARGET prints what ROW's median adds to BASE's for each engine, and
# whether den's stays under TARGET ms.
added() {
	local row=$1 base=$2 what=$3 target=$4 e d p plus
	for e in "${engines[@]}"; do
		d=${R[$row,$e]:-none} p=${R[$base,$e]:-none}
		if [ "${d%% *}" != ok ] || [ "${p%% *}" != ok ]; then
			[ "$e" != den ] || echo "target: $what < $target ms to den's run --rm: cannot tell (den failed)"
			continue
		fi
		plus=$(awk -v a="$(cell "$d" 2)" -v b="$(cell "$p" 2)" 'BEGIN { printf "%.1f", a - b }')
		echo "$what to $e's run --rm: $plus ms (medians)"
		if [ "$e" = den ]; then
			if awk -v a="$plus" -v t="$target" 'BEGIN { exit !(a < t) }'; then
				echo "target: $what < $target ms to den's run --rm: met ($plus ms)"
			else
				echo "target: $what < $target ms to den's run --rm: NOT met ($plus ms)"
			fi
		fi
	done
}

# throughput RESULT prints the cp rows' median as MB/s of the tree, or "-".
throughput() {
	if [ "${1%% *}" = ok ]; then
		awk -v mb="$CP_MB" -v ms="$(cell "$1" 2)" 'BEGIN { printf "%.0f", mb * 1000 / ms }'
	else
		echo "-"
	fi
}

# mb KB... prints each kB (1024 bytes) figure in MB (10^6 bytes), one decimal.
mb() {
	awk 'BEGIN { for (i = 1; i < ARGC; i++) printf "%s%.1f", (i > 1 ? " " : ""), ARGV[i] * 1024 / 1e6; print "" }' "$@"
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

# tratio DEN PODMAN: the ratio of two "ok VALUE" throughputs.
tratio() {
	if [ "${1%% *}" = ok ] && [ "${2%% *}" = ok ]; then
		awk -v a="${1#ok }" -v b="${2#ok }" 'BEGIN { if (b > 0) printf "%.2f\n", a / b; else print "-" }'
	else
		echo "-"
	fi
}

# ratio DEN PODMAN [DIGITS]: the ratio of two "ok MEDIAN MIN MAX" timings, with DIGITS
# decimals (2; the targets are judged on 3, so that 0.204 is not read as 0.20), or "-".
ratio() {
	if [ "${1%% *}" = ok ] && [ "${2%% *}" = ok ]; then
		awk -v a="${1#ok }" -v b="${2#ok }" -v n="${3:-2}" 'BEGIN { split(a, x, " "); split(b, y, " "); if (y[1] > 0) printf "%.*f\n", n, x[1] / y[1]; else print "-" }'
	else
		echo "-"
	fi
}

# ---------------------------------------------------------------------------------------
# Outer stage: prepares the host and the temp dir, runs the inner stage as the user, cleans up.

T="" RT=""
run_user=""

cleanup() {
	local pidfile pid
	[ -n "$T" ] && [ -d "$T" ] || return 0
	# Rootless podman keeps a pause process holding its user namespace; end it by its pid.
	pidfile=$RT/podman/libpod/tmp/pause.pid
	if [ -r "$pidfile" ]; then
		pid=$(cat "$pidfile")
		if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = catatonit ]; then
			kill "$pid" 2>/dev/null || true
		fi
	fi
	# Storage holds files owned by the user's subordinate ids: root removes them as they are,
	# a normal user from inside a user namespace mapping those ids.
	local d
	for d in "$T" "$RT"; do
		[ -n "$d" ] && [ -d "$d" ] || continue
		if [ "$(id -u)" -eq 0 ]; then
			rm -rf "$d" 2>/dev/null || { sleep 1 && rm -rf "$d"; } || true
		else
			unshare --map-auto --map-root-user rm -rf "$d" 2>/dev/null || rm -rf "$d" 2>/dev/null || true
		fi
		if [ -e "$d" ]; then
			echo "bench.sh: could not remove all of $d" >&2
		fi
	done
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
	mkdir -p "$T/bin" "$T/cp" "$T/den/home" "$T/den/data" "$T/den/config" \
		"$T/podman/home/.config/containers" "$T/registry" "$RT/den" "$RT/podman" "$RT/podman-runroot"
	cp "$root/bin/den" "$T/bin/den"
	cp "$root/testdata/images/busybox-docker.tar" "$T/busybox-docker.tar"
	if [ -r "$root/testdata/images/debian-oci.tar" ]; then
		cp "$root/testdata/images/debian-oci.tar" "$T/debian-oci.tar"
		chmod 0644 "$T/debian-oci.tar"
	fi
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
		runroot = "$RT/podman-runroot"
	EOF
	chmod 0755 "$T" "$T/bin" "$RT"
	chmod 0644 "$T/busybox-docker.tar"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R "$run_user:" "$T/cp" "$T/den" "$T/podman" "$T/registry" "$RT/den" "$RT/podman" "$RT/podman-runroot"
	fi
	chmod 0700 "$RT/den" "$RT/podman"
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
	# The runtime directories on a tmpfs, as a user's XDG_RUNTIME_DIR is (/run/user/UID).
	if [ "${BENCH_RUNTIME_TMPFS:-1}" != 0 ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
		RT=$(mktemp -d /dev/shm/den-bench-run.XXXXXX)
	else
		RT=$T/rt
	fi
	trap 'exit 130' INT TERM
	setup_dirs "$runtime"
	build_timer

	local envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
		HOME="$T" USER="$run_user" LOGNAME="$run_user"
		BENCH_DIR="$T" BENCH_RT="$RT" BENCH_N="${BENCH_N:-15}" BENCH_N_SLOW="${BENCH_N_SLOW:-10}"
		BENCH_N_PAR="${BENCH_N_PAR:-3}" BENCH_PAR="${BENCH_PAR:-50}" BENCH_PS_N="${BENCH_PS_N:-1000}"
		BENCH_INTERLEAVE="${BENCH_INTERLEAVE:-1}" BENCH_QUIESCE="${BENCH_QUIESCE:-50ms}" BENCH_ROWS="${BENCH_ROWS:-}"
		BENCH_N_CP="${BENCH_N_CP:-5}" BENCH_CP_MB="${BENCH_CP_MB:-200}" BENCH_N_IMAGE="${BENCH_N_IMAGE:-5}"
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
