#!/bin/bash
# The suite on another PostgreSQL major version, the way a user of that Debian
# release would run it: builds (once) a minimal Debian root of the release
# that ships that version, copies a clean copy of the project into it (git
# archive of HEAD: commit first), and runs the README's test command there
# with chroot.  Ends with the suite's own "N passed, N failed" line.
#
#   bash test/matrix.sh [--rebuild] VERSION      VERSION: 15 (Debian 12), 17 (Debian 13) or 18 (testing)
#
# With CP_MATRIX_DEMO=1 it runs the README's demo command first, in the same
# fresh root: the whole Quick start, word for word.
#
# As root, on a Debian host; downloads a whole system the first time, so it
# is not part of CI.  The roots are kept in $CP_MATRIX_DIR (default
# /var/cache/checkpoint_perms/matrix) and reused; --rebuild builds one anew.
# The mirror is the host's own (its APT sources), so the host's proxies and
# mirrors apply.

set -euo pipefail

rebuild=
if [ "${1:-}" = --rebuild ]; then rebuild=1; shift; fi
version=${1:-}
case $version in
15) suite=bookworm ;;
17) suite=trixie ;;
18) suite=testing ;;
*)
	echo "usage: bash test/matrix.sh [--rebuild] 15|17|18" >&2
	exit 2
	;;
esac

[ "$(id -u)" = 0 ] || { echo "test/matrix.sh: run as root (debootstrap, chroot, mount)" >&2; exit 1; }

cd "$(dirname "$0")/.."
top=$PWD
matrix_dir=${CP_MATRIX_DIR:-/var/cache/checkpoint_perms/matrix}
root=$matrix_dir/$suite
log() { printf '==> matrix %s: %s\n' "$version" "$*" >&2; }

# The first Debian archive URI of the host's APT sources (deb822 or one-line).
host_mirror() {
	local m=""
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		m=$(awk '$1 == "URIs:" { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
	fi
	if [ -z "$m" ] && [ -f /etc/apt/sources.list ]; then
		m=$(awk '$1 == "deb" && $2 !~ /^\[/ && $2 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
	fi
	[ -n "$m" ] || { echo "test/matrix.sh: no Debian mirror in the host's APT sources; set CP_MIRROR" >&2; return 1; }
	echo "$m"
}
mirror=${CP_MIRROR:-$(host_mirror)}

# --- mounts, always undone ---------------------------------------------------
mounted=()
owns_root=
cleanup() {
	local rc=$? pid m i
	set +e
	trap - EXIT INT TERM HUP
	# the root belongs to this run only once it holds the lock: a run that
	# was refused it must not touch another run's processes
	[ -n "$owns_root" ] || exit "$rc"
	# a process left in the root (an interrupted run's PostgreSQL or mock)
	# would keep the mounts busy: end those, and only those, by pid
	for pid in $(ls /proc | grep -E '^[0-9]+$'); do
		[ "$(readlink "/proc/$pid/root" 2>/dev/null)" = "$root" ] && kill -9 "$pid" 2>/dev/null
	done
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		m=${mounted[i]}
		umount -R "$m" 2>/dev/null || umount -R -l "$m" 2>/dev/null ||
			echo "test/matrix.sh: could not unmount $m" >&2
	done
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

mount_in() { # what where [mount options...]
	local what=$1 where=$2
	shift 2
	mkdir -p "$where"
	mount "$@" "$what" "$where"
	mounted+=("$where")
	# rbind mounts must not send their unmounts back to the host's /dev, /sys
	case " $* " in *" --rbind "*) mount --make-rslave "$where" ;; esac
}

mount_all() { # root
	mount_in proc "$1/proc" -t proc
	mount_in /sys "$1/sys" --rbind
	mount_in /dev "$1/dev" --rbind
}

# --- the root ----------------------------------------------------------------
build_root() {
	local tmp=$root.building
	command -v debootstrap >/dev/null || {
		log "installing debootstrap"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null ||
			{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
	}
	rm -rf "$tmp"
	mkdir -p "$matrix_dir"
	log "debootstrap --variant=minbase $suite from $mirror into $tmp"
	debootstrap --variant=minbase "$suite" "$tmp" "$mirror" >"$matrix_dir/$suite.debootstrap.log" 2>&1 || {
		tail -30 "$matrix_dir/$suite.debootstrap.log" >&2
		echo "test/matrix.sh: debootstrap failed (log: $matrix_dir/$suite.debootstrap.log)" >&2
		return 1
	}
	# testing's Release files may be older than their Valid-Until on a
	# mirror snapshot; a release that is not current says so everywhere
	printf 'Acquire::Check-Valid-Until "false";\n' >"$tmp/etc/apt/apt.conf.d/99checkpoint-perms-matrix"
	# packages must not start services inside the root (they would outlive
	# the run and keep its mounts busy)
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod 755 "$tmp/usr/sbin/policy-rc.d"
	mv "$tmp" "$root"
}

# one run per root at a time: a second would share its mounts and files
mkdir -p "$matrix_dir"
exec 9>"$matrix_dir/$suite.lock"
flock -n 9 || { echo "test/matrix.sh: another run uses $root" >&2; exit 1; }
owns_root=1

if [ -n "$rebuild" ] && [ -d "$root" ]; then
	log "removing the cached root $root"
	rm -rf "$root"
fi
started=$(date +%s)
if [ -d "$root" ]; then
	log "reusing $root (--rebuild to build it anew)"
else
	build_root
fi

# what the root needs from the host each run: the resolver (apt, npm) and CA
# certificates (npm over TLS)
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
if [ -d /etc/ssl/certs ]; then
	mkdir -p "$root/etc/ssl"
	rm -rf "$root/etc/ssl/certs"
	cp -a -L /etc/ssl/certs "$root/etc/ssl/certs" 2>/dev/null || cp -a /etc/ssl/certs "$root/etc/ssl/certs"
fi

# a clean copy of the project: what is committed, nothing built
log "copying HEAD ($(git -C "$top" rev-parse --short HEAD)) into $root/build/checkpoint_perms"
rm -rf "$root/build/checkpoint_perms"
mkdir -p "$root/build/checkpoint_perms"
git -C "$top" archive HEAD | tar -x -C "$root/build/checkpoint_perms"

mount_all "$root"
out=$matrix_dir/$suite.run.log
commands='bash test/run-tests.sh'
[ -n "${CP_MATRIX_DEMO:-}" ] && commands="bash test/demo.sh && $commands"
log "running '$commands' in the root (log: $out)"
# in the background, so that a signal to this script runs its trap at once
# (bash runs traps only between foreground commands) rather than after the
# whole suite
chroot "$root" /usr/bin/env -i HOME=/root TERM="${TERM:-dumb}" LANG=C.UTF-8 \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	/bin/bash -c "cd /build/checkpoint_perms && $commands" >"$out" 2>&1 </dev/null &
run_pid=$!
tail -n +1 -f --pid="$run_pid" "$out" &
tail_pid=$!
rc=0
wait "$run_pid" || rc=$?
wait "$tail_pid" || true
# what this run was built with, for the record
versions=$(chroot "$root" /bin/sh -c '
	pgc=$(ls -d /usr/lib/postgresql/*/bin/pg_config 2>/dev/null | sort -V | tail -1)
	echo "$($pgc --version 2>/dev/null || echo "PostgreSQL ?"),"\
		"$(gcc --version 2>/dev/null | head -1 || echo "gcc ?"),"\
		"libcurl $(curl-config --version 2>/dev/null | sed "s/^libcurl //" || echo "?")"' || true)
log "took $(($(date +%s) - started)) s; $versions"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1 || true)
echo "PostgreSQL $version (Debian $suite): ${line:-no result line}"
exit "$rc"
