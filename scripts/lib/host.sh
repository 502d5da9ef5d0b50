# shellcheck shell=bash
# Host-level helpers shared by setup-host.sh and test-user.sh: running a
# privileged step, and giving a user a subordinate id range for rootless
# containers. Source it; it defines functions only.

# Size and lowest start of a range we hand out. 65536 covers every id a
# typical image uses (nobody is 65534); 100000 matches useradd's default
# SUB_UID_MIN, keeping clear of real system and login uids.
SUBID_COUNT=65536
SUBID_FLOOR=100000

die() {
	echo "$(basename "$0"): $*" >&2
	exit 1
}

# as_root runs a command as root: directly when we are root, else via sudo.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "need root to run '$*': run this script as root or install sudo"
	fi
}

# quiet runs a command with its output held back, showing it only if the
# command fails, so a successful run prints just our one-line summaries.
quiet() {
	local log status=0
	log=$(mktemp)
	"$@" >"$log" 2>&1 || status=$?
	if [ "$status" -ne 0 ]; then
		cat "$log" >&2
	fi
	rm -f "$log"
	return "$status"
}

# has_subid_entry FILE USER UID succeeds when FILE (/etc/subuid or
# /etc/subgid) has a range for the user, named either way shadow allows.
has_subid_entry() {
	[ -r "$1" ] && awk -F: -v name="$2" -v uid="$3" \
		'$1 == name || $1 == uid { found = 1 } END { exit !found }' "$1"
}

# free_subid_start prints the lowest start at or above SUBID_FLOOR whose
# SUBID_COUNT ids overlap no range in /etc/subuid or /etc/subgid. One start
# serves both files so a user's uid and gid maps line up.
free_subid_start() {
	cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: -v floor="$SUBID_FLOOR" -v count="$SUBID_COUNT" '
		NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { s[n] = $2; e[n] = $2 + $3; n++ }
		END {
			start = floor
			# Skip past each overlapping range until none overlaps.
			do {
				moved = 0
				for (i = 0; i < n; i++)
					if (start < e[i] && s[i] < start + count) { start = e[i]; moved = 1 }
			} while (moved)
			printf "%d\n", start
		}'
}

# ensure_subids USER gives USER a subuid and a subgid range when it has
# none, and prints a line saying so. A range that exists is left alone,
# whatever its size.
ensure_subids() {
	local user=$1 uid start end kind args=() added=()
	uid=$(id -u "$user") || die "no such user: $user"
	if ! has_subid_entry /etc/subuid "$user" "$uid"; then
		added+=(subuid)
	fi
	if ! has_subid_entry /etc/subgid "$user" "$uid"; then
		added+=(subgid)
	fi
	if [ ${#added[@]} -eq 0 ]; then
		return 0
	fi
	start=$(free_subid_start)
	end=$((start + SUBID_COUNT - 1))
	for kind in "${added[@]}"; do
		args+=("--add-${kind}s" "$start-$end")
	done
	as_root usermod "${args[@]}" "$user"
	echo "added ${added[*]} range $start-$end for $user"
}
