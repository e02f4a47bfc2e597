# shellcheck shell=bash
# stack.sh - starts and stops the private PostgreSQL and Redis that chuang's
# local run and its test harness use; one piece of code for both.
#
# Source it (". deploy/lib/stack.sh") and call the stack_* functions. Every
# function body runs in a subshell with "set -euo pipefail", so sourcing this
# file changes no option, variable or directory of the caller. On failure a
# function prints one line "stack: ..." on stderr and returns non-zero; every
# wait is bounded (STACK_TIMEOUT seconds, default 30).
#
#   stack_free_port                      print a free TCP port on 127.0.0.1
#   stack_wait_port PORT [SECONDS]       wait until 127.0.0.1:PORT accepts
#   stack_pg_start DATADIR PORT          initdb if needed, start, wait ready
#   stack_pg_stop DATADIR [immediate]    fast shutdown (or an immediate one,
#                                        as a crash: recovery at next start);
#                                        no-op if not running
#   stack_pg_admin_url DATADIR PORT      print the superuser's URL
#   stack_pg_service ADMIN_URL DBNAME SERVICE PASSWORD
#                                        database + role + own schema; prints
#                                        the service's URL
#   stack_redis_start DIR PORT           start Redis (AOF on), wait for PONG
#   stack_redis_stop DIR                 shut Redis down; no-op if not running
#
# PostgreSQL layout, for DATADIR=P/NAME (initdb needs DATADIR itself empty,
# so the files that belong to the cluster but not to initdb are siblings):
#   P/NAME            the cluster; P/NAME/chuang.conf is rewritten at every
#                     start (port, addresses, socket dir, sizes) and included
#                     from postgresql.conf
#   P/NAME.password   the password of superuser "postgres", mode 600, owned
#                     by the user the server runs as
#   P/NAME.log        the server log (pg_ctl -l)
#   P/NAME-socket     the unix socket directory, mode 700; if that path is
#                     too long for a socket, /tmp/chuang-pg-<cksum of DATADIR>
# Local connections (unix socket) are trusted, TCP ones need SCRAM passwords;
# the server listens on 127.0.0.1 only.
#
# initdb and postgres refuse to run as root: as root, the cluster is owned by
# and runs as the system user "chuang" (created when missing; "nobody" when
# useradd is unavailable), or by the owner of an existing cluster. Server
# binaries come from STACK_PG_BINDIR, else the newest
# /usr/lib/postgresql/*/bin, else PATH.
#
# Redis layout, for DIR: DIR/redis.conf (rewritten at every start), redis.pid,
# redis.log, port (so that stop needs only DIR), and the append-only files.
# Redis runs as the calling user, root included.

# --- internal helpers --------------------------------------------------------

_stack_err() {
    printf 'stack: %s\n' "$*" >&2
}

_stack_timeout() {
    local t=${STACK_TIMEOUT:-30}
    [[ $t =~ ^[1-9][0-9]*$ ]] || t=30
    printf '%s\n' "$t"
}

_stack_is_port() {
    [[ ${1:-} =~ ^[1-9][0-9]{0,4}$ ]] && [ "$1" -le 65535 ]
}

# _stack_abspath PATH: PATH made absolute (need not exist).
_stack_abspath() {
    realpath -m -- "$1"
}

# _stack_pg_bindir: directory holding initdb, pg_ctl, postgres, pg_isready.
_stack_pg_bindir() {
    local d best=""
    if [ -n "${STACK_PG_BINDIR:-}" ]; then
        printf '%s\n' "$STACK_PG_BINDIR"
        return 0
    fi
    for d in /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] || continue
        if [ -z "$best" ] || [ "$(basename "$(dirname "$d")")" -gt "$(basename "$(dirname "$best")")" ] 2>/dev/null; then
            best=$d
        fi
    done
    if [ -z "$best" ] && command -v initdb >/dev/null 2>&1; then
        best=$(dirname "$(command -v initdb)")
    fi
    if [ -z "$best" ]; then
        _stack_err "no PostgreSQL server binaries (initdb) found; run deploy/install-deps.sh or set STACK_PG_BINDIR"
        return 1
    fi
    printf '%s\n' "$best"
}

# _stack_as USER CMD...: run CMD as USER (plain run when that is us already).
_stack_as() {
    local user=$1
    shift
    if [ "$(id -u)" -ne 0 ] || [ "$user" = root ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u "$user" -- "$@"
    else
        setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
    fi
}

# _stack_pg_user DATADIR: the user the cluster in DATADIR runs as.
_stack_pg_user() {
    local datadir=$1 owner
    if [ "$(id -u)" -ne 0 ]; then
        id -un
        return 0
    fi
    if [ -f "$datadir/PG_VERSION" ]; then
        owner=$(stat -c %U -- "$datadir") || return 1
        if [ "$owner" = root ] || [ "$owner" = UNKNOWN ]; then
            _stack_err "cluster $datadir is owned by $owner; cannot run it"
            return 1
        fi
        printf '%s\n' "$owner"
        return 0
    fi
    if id chuang >/dev/null 2>&1; then
        echo chuang
        return 0
    fi
    if command -v useradd >/dev/null 2>&1; then
        # A concurrent useradd may win the race; what counts is that it exists.
        useradd --system --no-create-home --shell /usr/sbin/nologin chuang >/dev/null 2>&1 || true
        if id chuang >/dev/null 2>&1; then
            echo chuang
            return 0
        fi
    fi
    echo nobody
}

# _stack_pg_sockdir DATADIR: the unix socket directory of that cluster.
_stack_pg_sockdir() {
    local datadir=$1 dir
    dir="$(dirname "$datadir")/$(basename "$datadir")-socket"
    # sun_path holds 107 bytes; keep well below that.
    if [ "${#dir}" -gt 80 ]; then
        dir="/tmp/chuang-pg-$(printf '%s' "$datadir" | cksum | cut -d' ' -f1)"
    fi
    printf '%s\n' "$dir"
}

# _stack_traversable USER DIR: make every directory from / down to DIR
# searchable by USER, adding o+x where it is missing.
_stack_traversable() {
    local user=$1 dir=$2 p="" part
    local -a parts
    [ "$(id -u)" -eq 0 ] || return 0
    IFS=/ read -r -a parts <<<"${dir#/}"
    for part in "${parts[@]}"; do
        [ -n "$part" ] || continue
        p="$p/$part"
        if ! _stack_as "$user" test -x "$p" 2>/dev/null; then
            if ! chmod o+x -- "$p"; then
                _stack_err "cannot make $p traversable for user $user"
                return 1
            fi
            echo "stack: note: added o+x to $p so that user $user can reach it" >&2
        fi
    done
}

# _stack_conf_quote VALUE: VALUE as a single-quoted postgresql.conf string.
_stack_conf_quote() {
    printf "'%s'" "${1//\'/\'\'}"
}

# _stack_urlencode STRING: percent-encode everything but RFC 3986 unreserved.
_stack_urlencode() {
    local hex out="" b
    hex=$(printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n')
    while [ -n "$hex" ]; do
        b=${hex:0:2}
        hex=${hex:2}
        case $b in
            3[0-9] | 4[1-9a-f] | 5[0-9a] | 6[1-9a-f] | 7[0-9a] | 2d | 2e | 5f | 7e)
                # shellcheck disable=SC2059 # the format is a fixed \x escape
                out+=$(printf "\\x$b")
                ;;
            *) out+="%${b^^}" ;;
        esac
    done
    printf '%s\n' "$out"
}

# _stack_pid_alive PID: true if PID names a live process (a zombie, left
# unreaped by a container's init, counts as dead).
_stack_pid_alive() {
    local stat
    [[ ${1:-} =~ ^[0-9]+$ ]] && kill -0 "$1" 2>/dev/null || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat:0:1}" != Z ]
}

# _stack_redis_in_dir DIR: true if a redis-server process has DIR as its
# working directory (Redis chdirs to its "dir" before it daemonizes).
_stack_redis_in_dir() {
    local p
    for p in /proc/[0-9]*; do
        [ "$(cat "$p/comm" 2>/dev/null || true)" = redis-server ] || continue
        [ "$(readlink "$p/cwd" 2>/dev/null || true)" = "$1" ] && return 0
    done
    return 1
}

# _stack_pg_running DATADIR: true if the postmaster named in DATADIR's
# postmaster.pid is alive. (pg_ctl status would also count a zombie, or an
# unrelated process that got the pid of a postmaster that died.)
_stack_pg_running() {
    local pid
    pid=$(sed -n 1p "$1/postmaster.pid" 2>/dev/null || true)
    _stack_pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = postgres ]
}

# _stack_pg_wait_unreaped DATADIR SECONDS: wait while the dead postmaster of
# DATADIR is still a zombie (a container's init may reap late); a new
# postmaster would take it for a live one and refuse to start.
_stack_pg_wait_unreaped() {
    local pid deadline=$((SECONDS + $2))
    pid=$(sed -n 1p "$1/postmaster.pid" 2>/dev/null || true)
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    while kill -0 "$pid" 2>/dev/null && ! _stack_pid_alive "$pid"; do
        [ "$SECONDS" -lt "$deadline" ] || return 0
        sleep 0.2
    done
}

# --- public functions ---------------------------------------------------------

stack_free_port() (
    set -euo pipefail
    local port
    if ! command -v python3 >/dev/null 2>&1; then
        _stack_err "stack_free_port needs python3"
        return 1
    fi
    if ! port=$(python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()' 2>/dev/null) || ! _stack_is_port "$port"; then
        _stack_err "could not find a free port on 127.0.0.1"
        return 1
    fi
    printf '%s\n' "$port"
)

stack_wait_port() (
    set -euo pipefail
    local port=${1:-} secs=${2:-} deadline
    if ! _stack_is_port "$port"; then
        _stack_err "stack_wait_port: bad port '$port'"
        return 1
    fi
    [[ $secs =~ ^[0-9]+$ ]] || secs=$(_stack_timeout)
    deadline=$((SECONDS + secs))
    while :; do
        # shellcheck disable=SC2016 # $1 is expanded by the inner bash
        if timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$port" 2>/dev/null; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            _stack_err "nothing listens on 127.0.0.1:$port after ${secs} s"
            return 1
        fi
        sleep 0.2
    done
)

stack_pg_start() (
    set -euo pipefail
    umask 077
    local datadir=${1:-} port=${2:-} bindir user parent base pwfile logfile
    local sockdir secs deadline status pgport
    if [ -z "$datadir" ] || ! _stack_is_port "$port"; then
        _stack_err "usage: stack_pg_start DATADIR PORT"
        return 1
    fi
    datadir=$(_stack_abspath "$datadir")
    bindir=$(_stack_pg_bindir) || return 1
    parent=$(dirname "$datadir")
    base=$(basename "$datadir")
    pwfile="$parent/$base.password"
    logfile="$parent/$base.log"
    sockdir=$(_stack_pg_sockdir "$datadir")
    secs=$(_stack_timeout)

    if ! (umask 022 && mkdir -p -- "$parent"); then
        _stack_err "cannot create $parent"
        return 1
    fi
    user=$(_stack_pg_user "$datadir") || return 1
    _stack_traversable "$user" "$parent" || return 1

    # Create the cluster when there is none.
    if [ ! -f "$datadir/PG_VERSION" ]; then
        if [ -d "$datadir" ] && [ -n "$(ls -A -- "$datadir")" ]; then
            _stack_err "$datadir is not empty and holds no PostgreSQL cluster"
            return 1
        fi
        if ! mkdir -p -- "$datadir" || ! chmod 700 -- "$datadir" ||
            ! chown "$user:" -- "$datadir"; then
            _stack_err "cannot prepare $datadir for user $user"
            return 1
        fi
        if [ ! -s "$pwfile" ]; then
            if ! od -An -v -tx1 -N16 /dev/urandom | tr -d ' \n' >"$pwfile.tmp" ||
                ! mv -f -- "$pwfile.tmp" "$pwfile"; then
                _stack_err "cannot write $pwfile"
                return 1
            fi
        fi
        if ! chmod 600 -- "$pwfile" || ! chown "$user:" -- "$pwfile"; then
            _stack_err "cannot set owner/mode of $pwfile"
            return 1
        fi
        if ! (cd / && _stack_as "$user" "$bindir/initdb" -D "$datadir" -U postgres \
            --pwfile="$pwfile" --encoding=UTF8 --locale=C \
            --auth-host=scram-sha-256 --auth-local=trust) >"$datadir.initdb.log" 2>&1; then
            _stack_err "initdb of $datadir failed (see $datadir.initdb.log)"
            return 1
        fi
        rm -f -- "$datadir.initdb.log"
        if ! printf '\n# chuang: per-start settings written by deploy/lib/stack.sh\ninclude_if_exists = %s\n' \
            "$(_stack_conf_quote chuang.conf)" >>"$datadir/postgresql.conf"; then
            _stack_err "cannot append to $datadir/postgresql.conf"
            return 1
        fi
    elif [ ! -s "$pwfile" ]; then
        _stack_err "cluster $datadir exists but its password file $pwfile is missing"
        return 1
    fi

    if _stack_pg_running "$datadir"; then
        # Already running: only check that it is the port the caller wants.
        pgport=$(sed -n 4p "$datadir/postmaster.pid" 2>/dev/null || true)
        if [ "$pgport" != "$port" ]; then
            _stack_err "cluster $datadir already runs on port ${pgport:-?}, not $port"
            return 1
        fi
    else
        # Not running: (re)write the per-start settings and start it.
        if [ -d "$sockdir" ]; then
            if [ "$(stat -c %U -- "$sockdir")" != "$user" ]; then
                _stack_err "socket directory $sockdir is not owned by $user"
                return 1
            fi
        elif ! mkdir -m 700 -- "$sockdir" || ! chown "$user:" -- "$sockdir"; then
            _stack_err "cannot create socket directory $sockdir"
            return 1
        fi
        if ! {
            echo "# Written by deploy/lib/stack.sh at every start; do not edit."
            echo "listen_addresses = '127.0.0.1'"
            echo "port = $port"
            echo "unix_socket_directories = $(_stack_conf_quote "$sockdir")"
            echo "max_connections = 200"
            echo "shared_buffers = 32MB"
            echo "logging_collector = off"
        } >"$datadir/chuang.conf" || ! chown "$user:" -- "$datadir/chuang.conf"; then
            _stack_err "cannot write $datadir/chuang.conf"
            return 1
        fi
        if ! touch -- "$logfile" || ! chown "$user:" -- "$logfile"; then
            _stack_err "cannot create log file $logfile"
            return 1
        fi
        _stack_pg_wait_unreaped "$datadir" "$secs"
        if ! (cd / && _stack_as "$user" "$bindir/pg_ctl" start -W -D "$datadir" -l "$logfile") >/dev/null 2>&1; then
            _stack_err "pg_ctl start of $datadir failed (see $logfile)"
            return 1
        fi
    fi

    # Ready = the postmaster says so, it is alive, and the port answers.
    deadline=$((SECONDS + secs))
    while :; do
        status=$(sed -n 8p "$datadir/postmaster.pid" 2>/dev/null || true)
        if [ "${status// /}" = ready ] && _stack_pg_running "$datadir" &&
            "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -t 2 >/dev/null 2>&1; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            _stack_err "PostgreSQL in $datadir not ready on port $port after ${secs} s (see $logfile)"
            return 1
        fi
        # After a grace period for the new postmaster to write its pid file.
        if [ "$SECONDS" -ge $((deadline - secs + 2)) ] && ! _stack_pg_running "$datadir"; then
            _stack_err "PostgreSQL in $datadir exited while starting on port $port (see $logfile)"
            return 1
        fi
        sleep 0.2
    done
)

stack_pg_stop() (
    set -euo pipefail
    local datadir=${1:-} mode=${2:-fast} bindir user sockdir
    if [ -z "$datadir" ] || { [ "$mode" != fast ] && [ "$mode" != immediate ]; }; then
        _stack_err "usage: stack_pg_stop DATADIR [immediate]"
        return 1
    fi
    datadir=$(_stack_abspath "$datadir")
    [ -f "$datadir/PG_VERSION" ] || return 0
    bindir=$(_stack_pg_bindir) || return 1
    user=$(_stack_pg_user "$datadir") || return 1
    if _stack_pg_running "$datadir"; then
        if ! (cd / && _stack_as "$user" "$bindir/pg_ctl" stop -D "$datadir" -m "$mode" -w -t "$(_stack_timeout)") >/dev/null 2>&1 &&
            ! (cd / && _stack_as "$user" "$bindir/pg_ctl" stop -D "$datadir" -m immediate -w -t 10) >/dev/null 2>&1 &&
            _stack_pg_running "$datadir"; then
            _stack_err "could not stop PostgreSQL in $datadir"
            return 1
        fi
    fi
    # The /tmp fallback socket directory is ours alone; drop it when empty.
    sockdir=$(_stack_pg_sockdir "$datadir")
    case $sockdir in
        /tmp/chuang-pg-*) rmdir -- "$sockdir" 2>/dev/null || true ;;
    esac
    return 0
)

stack_pg_admin_url() (
    set -euo pipefail
    local datadir=${1:-} port=${2:-} pwfile pw
    if [ -z "$datadir" ] || ! _stack_is_port "$port"; then
        _stack_err "usage: stack_pg_admin_url DATADIR PORT"
        return 1
    fi
    datadir=$(_stack_abspath "$datadir")
    pwfile="$(dirname "$datadir")/$(basename "$datadir").password"
    if ! pw=$(cat -- "$pwfile" 2>/dev/null) || [ -z "$pw" ]; then
        _stack_err "cannot read the superuser password from $pwfile"
        return 1
    fi
    printf 'postgresql://postgres:%s@127.0.0.1:%s/postgres\n' "$(_stack_urlencode "$pw")" "$port"
)

stack_pg_service() (
    set -euo pipefail
    local admin=${1:-} db=${2:-} svc=${3:-} pw=${4:-} rest authority hostport name errfile
    if [ -z "$admin" ] || [ -z "$db" ] || [ -z "$svc" ] || [ -z "$pw" ]; then
        _stack_err "usage: stack_pg_service ADMIN_URL DBNAME SERVICE PASSWORD"
        return 1
    fi
    for name in "$db" "$svc"; do
        if ! [[ $name =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || [[ $name == pg_* ]]; then
            _stack_err "refusing name '$name': want [a-z_][a-z0-9_]*, at most 63 bytes, not pg_*"
            return 1
        fi
    done
    case $db in
        postgres | template0 | template1)
            _stack_err "refusing to use the system database '$db' for a service"
            return 1
            ;;
    esac
    case $svc in
        postgres | public)
            _stack_err "refusing the reserved role name '$svc'"
            return 1
            ;;
    esac
    case $admin in
        postgres://* | postgresql://*) ;;
        *)
            _stack_err "admin URL must start with postgresql://"
            return 1
            ;;
    esac
    rest=${admin#*://}
    authority=${rest%%[/?]*}
    hostport=${authority##*@}
    if ! command -v psql >/dev/null 2>&1; then
        _stack_err "psql not found"
        return 1
    fi

    # The password travels in the environment (\getenv), not on a command
    # line. Advisory locks serialise concurrent callers: concurrent GRANTs or
    # CREATE ROLEs otherwise fail with "tuple concurrently updated". They are
    # per database, hence one in the admin database and one in DBNAME.
    if ! errfile=$(mktemp "${TMPDIR:-/tmp}/stack-psql.XXXXXX"); then
        _stack_err "cannot create a temporary file"
        return 1
    fi
    trap 'rm -f -- "$errfile"' EXIT
    if ! CHUANG_STACK_PW=$pw PGCONNECT_TIMEOUT=10 timeout 120 psql -X -q -v ON_ERROR_STOP=1 \
        -v db="$db" -v svc="$svc" -d "$admin" >/dev/null 2>"$errfile" <<'SQL'; then
\getenv pw CHUANG_STACK_PW
SET client_min_messages = warning;
SET lock_timeout = '30s';
SET statement_timeout = '60s';
SELECT pg_advisory_lock(hashtext('chuang.stack_pg_service')) AS locked \gset
SELECT format('CREATE DATABASE %I ENCODING %L TEMPLATE template0', :'db', 'UTF8')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'svc')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'svc') \gexec
SELECT format('ALTER ROLE %I WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L', :'svc', :'pw') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'db') \gexec
-- Service roles reach their own database only, not the maintenance ones.
REVOKE CONNECT ON DATABASE postgres FROM PUBLIC;
REVOKE CONNECT ON DATABASE template1 FROM PUBLIC;
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'db', :'svc') \gexec
\connect :db
SET client_min_messages = warning;
SET lock_timeout = '30s';
SET statement_timeout = '60s';
SELECT pg_advisory_lock(hashtext('chuang.stack_pg_service')) AS locked \gset
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', :'svc', :'svc') \gexec
SELECT format('ALTER SCHEMA %I OWNER TO %I', :'svc', :'svc') \gexec
SQL
        _stack_err "setting up service $svc in database $db failed: $(grep -m1 -E 'ERROR|FATAL|error' "$errfile" || head -n1 "$errfile")"
        return 1
    fi
    printf 'postgresql://%s:%s@%s/%s\n' "$svc" "$(_stack_urlencode "$pw")" "$hostport" "$db"
)

stack_redis_start() (
    set -euo pipefail
    umask 077
    local dir=${1:-} port=${2:-} pidfile pid secs deadline oldport info cmd qdir
    if [ -z "$dir" ] || ! _stack_is_port "$port"; then
        _stack_err "usage: stack_redis_start DIR PORT"
        return 1
    fi
    for cmd in redis-server redis-cli; do
        if ! command -v "$cmd" >/dev/null 2>&1; then
            _stack_err "$cmd not found; run deploy/install-deps.sh"
            return 1
        fi
    done
    dir=$(_stack_abspath "$dir")
    pidfile="$dir/redis.pid"
    secs=$(_stack_timeout)
    if ! mkdir -p -- "$dir"; then
        _stack_err "cannot create $dir"
        return 1
    fi

    pid=$(cat -- "$pidfile" 2>/dev/null || true)
    if _stack_pid_alive "$pid"; then
        oldport=$(cat -- "$dir/port" 2>/dev/null || true)
        if [ "$oldport" != "$port" ]; then
            _stack_err "Redis in $dir already runs on port ${oldport:-?}, not $port"
            return 1
        fi
    else
        rm -f -- "$pidfile"
        if ! printf '%s\n' "$port" >"$dir/port"; then
            _stack_err "cannot write $dir/port"
            return 1
        fi
        # Quoted for redis.conf: "..." with \ and " escaped.
        qdir=${dir//\\/\\\\}
        qdir=${qdir//\"/\\\"}
        if ! {
            echo "# Written by deploy/lib/stack.sh at every start; do not edit."
            echo "bind 127.0.0.1"
            echo "port $port"
            echo "protected-mode yes"
            echo "daemonize yes"
            echo "dir \"$qdir\""
            echo "pidfile \"$qdir/redis.pid\""
            echo "logfile \"$qdir/redis.log\""
            echo "appendonly yes"
            echo "appendfsync everysec"
        } >"$dir/redis.conf"; then
            _stack_err "cannot write $dir/redis.conf"
            return 1
        fi
        if ! (cd / && timeout "$secs" redis-server "$dir/redis.conf") >/dev/null 2>&1; then
            _stack_err "redis-server in $dir failed to start (see $dir/redis.log)"
            return 1
        fi
    fi

    # Ready = PONG from the port, served by the process in our pid file.
    deadline=$((SECONDS + secs))
    while :; do
        pid=$(cat -- "$pidfile" 2>/dev/null || true)
        if _stack_pid_alive "$pid" &&
            [ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ]; then
            info=$(timeout 3 redis-cli -h 127.0.0.1 -p "$port" info server 2>/dev/null | tr -d '\r' || true)
            if grep -qx "process_id:$pid" <<<"$info"; then
                return 0
            fi
            _stack_err "port $port answers, but not for the Redis of $dir (pid $pid)"
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            _stack_err "Redis in $dir not answering PING on port $port after ${secs} s (see $dir/redis.log)"
            return 1
        fi
        # The daemon writes its pid file only once listening; until then it
        # is the redis-server whose working directory is DIR. None = it died.
        if ! _stack_pid_alive "$pid" && [ "$SECONDS" -ge $((deadline - secs + 1)) ] &&
            ! _stack_redis_in_dir "$dir"; then
            _stack_err "Redis in $dir exited while starting on port $port (see $dir/redis.log)"
            return 1
        fi
        sleep 0.2
    done
)

stack_redis_stop() (
    set -euo pipefail
    local dir=${1:-} pid port deadline termed
    if [ -z "$dir" ]; then
        _stack_err "usage: stack_redis_stop DIR"
        return 1
    fi
    dir=$(_stack_abspath "$dir")
    pid=$(cat -- "$dir/redis.pid" 2>/dev/null || true)
    if ! _stack_pid_alive "$pid"; then
        rm -f -- "$dir/redis.pid"
        return 0
    fi
    # A pid file can outlive its Redis; do not signal a stranger.
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" != redis-server ]; then
        rm -f -- "$dir/redis.pid"
        return 0
    fi
    port=$(cat -- "$dir/port" 2>/dev/null || true)
    if _stack_is_port "$port"; then
        timeout 10 redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || true
    fi
    # SHUTDOWN, then SIGTERM after 5 s (e.g. no port file), SIGKILL at the end.
    deadline=$((SECONDS + $(_stack_timeout)))
    termed=$((SECONDS + 5))
    while _stack_pid_alive "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            if _stack_pid_alive "$pid"; then
                _stack_err "could not stop Redis in $dir (pid $pid)"
                return 1
            fi
            break
        fi
        if [ "$termed" -ne 0 ] && [ "$SECONDS" -ge "$termed" ]; then
            kill -TERM "$pid" 2>/dev/null || true
            termed=0
        fi
        sleep 0.2
    done
    rm -f -- "$dir/redis.pid"
    return 0
)
