#!/bin/sh
# Throw-away PostgreSQL instances for the tests: a primary and streaming
# standbys, each in its own data directory under one base directory, on
# loopback ports, password (SCRAM) authentication everywhere.
#
# Run as root, the servers run as the `postgres` system user (Debian's
# postgresql package); run as anyone else, as that user.  The binaries
# are the newest /usr/lib/postgresql/*/bin, or $PGBIN.
#
# Two ways to use it:
#   . tests/pg_cluster.sh  with PGC_SOURCED=1: the pgc_* functions below,
#     PGC_BASE the base directory (pgc_new sets it).
#   tests/pg_cluster.sh COMMAND ARGS: for programs (the unit tests):
#     new                          make a base directory, print its path
#                                  (exit 77 when PostgreSQL cannot run here)
#     primary BASE NAME            initdb and start a primary
#     standby BASE NAME PRIMARY [SETTING...]
#                                  pg_basebackup -R from PRIMARY and start it;
#                                  SETTINGs ("hot_standby = off") go to its
#                                  postgresql.conf first
#     start BASE NAME              start the postmaster (in the background,
#                                  run by setpriv as postgres), wait until ready
#     stop BASE NAME [MODE]        pg_ctl stop (-m MODE, default fast)
#     port|pid BASE NAME           the instance's port, its postmaster's PID
#     psql BASE NAME SQL           run SQL as postgres, print the rows (-At)
#     destroy BASE                 stop every instance (by its PID) and remove BASE
#
# In BASE: password (the postgres role's password, mode 0600), pgpass (the
# same for libpq's passfile), NAME/data, NAME/port, NAME/log.

PGC_USER=postgres              # the role the tests log in as (a superuser)

pgc_die() {
	echo "pg_cluster: $*" >&2
	exit 1
}

# pgc_usable: 0 when PostgreSQL can run here, else a reason on stdout.
pgc_usable() {
	if [ -z "${PGBIN:-}" ]; then
		PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -n 1)
	fi
	for b in initdb pg_ctl pg_basebackup psql; do
		if [ ! -x "$PGBIN/$b" ]; then
			echo "PostgreSQL server binaries not found (install the postgresql package, or set PGBIN)"
			return 1
		fi
	done
	if [ "$(id -u)" -eq 0 ]; then
		if ! id postgres >/dev/null 2>&1; then
			echo "no postgres system user"
			return 1
		fi
		for b in runuser setpriv; do
			if ! command -v $b >/dev/null 2>&1; then
				echo "$b not found (util-linux)"
				return 1
			fi
		done
	fi
	return 0
}

# pgc_as_owner CMD...: run CMD as the servers' user.
pgc_as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# pgc_new: a fresh base directory in PGC_BASE, with a random password.
pgc_new() {
	PGC_BASE=$(mktemp -d "${TMPDIR:-/tmp}/spofd-pg.XXXXXX") || pgc_die "mktemp failed"
	chmod 0755 "$PGC_BASE"
	pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	[ -n "$pw" ] || pgc_die "no random password"
	(umask 077 && printf '%s\n' "$pw" >"$PGC_BASE/password" &&
		printf '*:*:*:%s:%s\n' "$PGC_USER" "$pw" >"$PGC_BASE/pgpass") ||
		pgc_die "cannot write the password files"
}

pgc_password() { head -n 1 "$PGC_BASE/password"; }
pgc_port() { cat "$PGC_BASE/$1/port"; }
pgc_datadir() { echo "$PGC_BASE/$1/data"; }

# pgc_pid NAME: the postmaster's PID from its pid file (empty if none).
pgc_pid() {
	[ -f "$PGC_BASE/$1/data/postmaster.pid" ] && head -n 1 "$PGC_BASE/$1/data/postmaster.pid"
}

# A port nothing seems to listen on; starting may still find it taken
# (pgc_start then picks another).
pgc_pick_port() {
	awk -v seed="$$$(date +%N 2>/dev/null)" 'BEGIN { srand(seed % 100000); print 20000 + int(rand() * 30000) }'
}

# pgc_set NAME LINE...: append settings to the instance's postgresql.conf
# (a later line wins over an earlier one).
pgc_set() {
	pgc_n=$1; shift
	for l in "$@"; do
		printf '%s\n' "$l" >>"$PGC_BASE/$pgc_n/data/postgresql.conf" || pgc_die "cannot write postgresql.conf of $pgc_n"
	done
}

# pgc_alive PID: the process runs (a zombie does not).
pgc_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	pgc_st=$(sed -n 's/^[^)]*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ "$pgc_st" != Z ]
}

# pgc_spawn NAME: the postmaster in the background, a child of this shell
# (setpriv execs, so the caller reaps it: a killed postmaster never lingers
# as a zombie holding its pid file's PID).
pgc_spawn() {
	if [ "$(id -u)" -eq 0 ]; then
		setpriv --reuid=postgres --regid=postgres --init-groups --reset-env \
			"$PGBIN/postgres" -D "$PGC_BASE/$1/data" >>"$PGC_BASE/$1/log" 2>&1 </dev/null &
	else
		"$PGBIN/postgres" -D "$PGC_BASE/$1/data" >>"$PGC_BASE/$1/log" 2>&1 </dev/null &
	fi
	PGC_SPAWNED=$!
}

# pgc_start NAME: start it and wait until it is ready (or a standby),
# on its port, or on a new one when that is taken and it never ran.
pgc_start() {
	pgc_n=$1
	pgc_fresh=0
	[ -s "$PGC_BASE/$pgc_n/port" ] || pgc_fresh=1
	# A postmaster of ours killed earlier: reap it, or its PID blocks the start.
	pgc_old=$(pgc_pid "$pgc_n")
	[ -n "$pgc_old" ] && ! pgc_alive "$pgc_old" && wait "$pgc_old" 2>/dev/null
	pgc_try=0
	while :; do
		if [ ! -s "$PGC_BASE/$pgc_n/port" ]; then
			pgc_p=$(pgc_pick_port)
			pgc_set "$pgc_n" "port = $pgc_p"
			echo "$pgc_p" >"$PGC_BASE/$pgc_n/port"
		fi
		pgc_spawn "$pgc_n"
		pgc_i=0
		while pgc_alive "$PGC_SPAWNED"; do
			# Line 8 of postmaster.pid: "ready" or "standby" once it got there.
			if [ "$(pgc_pid "$pgc_n")" = "$PGC_SPAWNED" ] &&
				sed -n 8p "$PGC_BASE/$pgc_n/data/postmaster.pid" 2>/dev/null | grep -q 'ready\|standby'; then
				return 0
			fi
			pgc_i=$((pgc_i + 1))
			[ $pgc_i -gt 600 ] && break
			sleep 0.1
		done
		kill -KILL "$PGC_SPAWNED" 2>/dev/null
		wait "$PGC_SPAWNED" 2>/dev/null
		pgc_try=$((pgc_try + 1))
		if [ $pgc_fresh = 1 ] && [ $pgc_try -lt 10 ] &&
			grep -q 'could not bind\|Address already in use' "$PGC_BASE/$pgc_n/log" 2>/dev/null; then
			rm -f "$PGC_BASE/$pgc_n/port"
			continue
		fi
		echo "pg_cluster: $pgc_n did not start; log:" >&2
		tail -n 20 "$PGC_BASE/$pgc_n/log" >&2
		return 1
	done
}

# pgc_stop NAME [MODE]: pg_ctl stop, fast by default; quiet when not running.
pgc_stop() {
	pgc_as_owner "$PGBIN/pg_ctl" -D "$PGC_BASE/$1/data" -m "${2:-fast}" -w -t 60 stop \
		>>"$PGC_BASE/$1/pg_ctl.out" 2>&1
}

# The settings of every instance: loopback only, no Unix socket, small and fast.
pgc_common_settings() {
	pgc_set "$1" \
		"listen_addresses = '127.0.0.1'" \
		"unix_socket_directories = ''" \
		"max_connections = 30" \
		"shared_buffers = 16MB" \
		"fsync = off" \
		"full_page_writes = off" \
		"wal_keep_size = 256MB" \
		"log_connections = on" \
		"log_line_prefix = '%m [%p] '"
}

# pgc_primary NAME: initdb (SCRAM, our password) and start.
pgc_primary() {
	pgc_n=$1
	mkdir -p "$PGC_BASE/$pgc_n" || pgc_die "cannot create $PGC_BASE/$pgc_n"
	# initdb reads the password as its own user: a copy it may read, removed at once.
	(umask 077 && pgc_password >"$PGC_BASE/$pgc_n/pwfile") || pgc_die "cannot write pwfile"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres "$PGC_BASE/$pgc_n" "$PGC_BASE/$pgc_n/pwfile" || pgc_die "chown failed"
	fi
	pgc_as_owner "$PGBIN/initdb" -D "$PGC_BASE/$pgc_n/data" -U "$PGC_USER" \
		--auth=scram-sha-256 --pwfile="$PGC_BASE/$pgc_n/pwfile" -E UTF8 --locale=C -N \
		>"$PGC_BASE/$pgc_n/initdb.out" 2>&1
	pgc_rc=$?
	rm -f "$PGC_BASE/$pgc_n/pwfile"
	[ $pgc_rc -eq 0 ] || { cat "$PGC_BASE/$pgc_n/initdb.out" >&2; pgc_die "initdb of $pgc_n failed"; }
	pgc_common_settings "$pgc_n"
	pgc_start "$pgc_n"
}

# pgc_standby NAME PRIMARY [SETTING...]: a streaming standby of PRIMARY.
pgc_standby() {
	pgc_n=$1; pgc_from=$2; shift 2
	mkdir -p "$PGC_BASE/$pgc_n" || pgc_die "cannot create $PGC_BASE/$pgc_n"
	[ "$(id -u)" -eq 0 ] && chown postgres "$PGC_BASE/$pgc_n"
	# -R writes primary_conninfo (with the password) into postgresql.auto.conf.
	pgc_as_owner env PGPASSWORD="$(pgc_password)" "$PGBIN/pg_basebackup" -h 127.0.0.1 \
		-p "$(pgc_port "$pgc_from")" -U "$PGC_USER" -D "$PGC_BASE/$pgc_n/data" -R -X stream \
		-c fast -N >"$PGC_BASE/$pgc_n/basebackup.out" 2>&1 ||
		{ cat "$PGC_BASE/$pgc_n/basebackup.out" >&2; pgc_die "pg_basebackup of $pgc_n failed"; }
	# The copied postgresql.conf names the primary's port: a new line overrides it.
	pgc_set "$pgc_n" "$@"
	pgc_start "$pgc_n"
}

# pgc_psql NAME SQL: one statement as the postgres role; rows on stdout.
pgc_psql() {
	PGPASSWORD=$(pgc_password) PGCONNECT_TIMEOUT=5 "$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 \
		-h 127.0.0.1 -p "$(pgc_port "$1")" -U "$PGC_USER" -d postgres -c "$2"
}

# pgc_destroy: stop every instance, by the PID in its pid file when
# pg_ctl cannot (a stopped or hung postmaster), and remove the base.
pgc_destroy() {
	[ -n "${PGC_BASE:-}" ] && [ -d "$PGC_BASE" ] || return 0
	for d in "$PGC_BASE"/*/data; do
		[ -f "$d/postmaster.pid" ] || continue
		pgc_p=$(head -n 1 "$d/postmaster.pid")
		kill -CONT "$pgc_p" 2>/dev/null
		pgc_as_owner "$PGBIN/pg_ctl" -D "$d" -m immediate -w -t 10 stop >/dev/null 2>&1 ||
			kill -KILL "$pgc_p" 2>/dev/null
	done
	rm -rf "$PGC_BASE"
}

pgc_main() {
	cmd=${1:-}
	[ $# -gt 0 ] && shift
	if [ "$cmd" = new ]; then
		if ! why=$(pgc_usable); then
			echo "pg_cluster: $why" >&2
			exit 77
		fi
		pgc_new
		echo "$PGC_BASE"
		exit 0
	fi
	[ $# -ge 1 ] || pgc_die "usage: pg_cluster.sh new|primary|standby|start|stop|port|pid|psql|destroy ..."
	PGC_BASE=$1; shift
	pgc_usable >/dev/null || pgc_die "PostgreSQL cannot run here"
	case $cmd in
	primary) pgc_primary "$1" ;;
	standby) pgc_standby "$@" ;;
	start) pgc_start "$1" ;;
	stop) pgc_stop "$@" ;;
	port) pgc_port "$1" ;;
	pid) pgc_pid "$1" ;;
	psql) pgc_psql "$1" "$2" ;;
	destroy) pgc_destroy ;;
	*) pgc_die "unknown command $cmd" ;;
	esac
}

if [ "${PGC_SOURCED:-}" != 1 ]; then
	pgc_main "$@"
	exit $?
fi
