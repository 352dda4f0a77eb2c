# shellcheck shell=bash
# Sourced by scripts/test: installs (from the OS package manager) and starts on
# loopback the real servers belay's tests use, and exports where they listen:
#   BELAY_TEST_POSTGRES         postgres:// URL of a private cluster
#   BELAY_TEST_REGISTRY         host:port of a distribution registry (plain HTTP)
#   BELAY_TEST_PROMETHEUS_BIN   path of the prometheus binary (tests start their own)
#   BELAY_TEST_PROMTOOL_BIN     path of promtool (the same package ships it)
#   BELAY_TEST_REDIS            redis:// URL of a Redis server (ACL users for the service stack)
#   BELAY_TEST_CHROMIUM         path of a headless-capable Chromium (the dashboard's browser tests)
#   BELAY_TEST_NATS             nats://user:password@host:port of a NATS server with JetStream (streams for the service stack)
#   BELAY_TEST_S3               http://access:secret@host:port of an S3 server (versitygw, built by scripts/s3.sh; buckets for the service stack)
# Everything started here is stopped by stop_services (scripts/test traps EXIT).

svc_dir=$(mktemp -d /tmp/belay-test-services.XXXXXX)
chmod 755 "$svc_dir"
svc_pids=()

need_pkgs() {
	local missing=()
	local pair
	for pair in "$@"; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || [ -x "${pair%%:*}" ] || missing+=("${pair##*:}")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "services: installing ${missing[*]} from the OS packages" >&2
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "services: cannot install ${missing[*]}: need root and apt-get" >&2
		return 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

free_port() { # a random loopback port nobody listens on
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
	done
}

wait_for() { # wait_for SECONDS CMD...
	local deadline=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.2
	done
}

start_postgres() {
	local bin
	bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
	if [ -z "$bin" ]; then need_pkgs /usr/lib/postgresql/15/bin/initdb:postgresql || return 1
		bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1); fi
	local port data run=()
	port=$(free_port); data="$svc_dir/pg"
	mkdir -p "$data"
	if [ "$(id -u)" = 0 ]; then
		id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
		chown postgres "$data"; run=(runuser -u postgres --)
	fi
	"${run[@]}" "$bin/initdb" -D "$data" -U belay --auth=trust -E UTF8 >"$svc_dir/pg-init.log" 2>&1 || { cat "$svc_dir/pg-init.log" >&2; return 1; }
	"${run[@]}" "$bin/pg_ctl" -D "$data" -l "$data/log" -w -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || { cat "$data/log" >&2; return 1; }
	svc_stop_pg=("${run[@]}" "$bin/pg_ctl" -D "$data" -m immediate stop)
	"${run[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U belay belay_test
	export BELAY_TEST_POSTGRES="postgres://belay@127.0.0.1:$port/belay_test?sslmode=disable"
}

start_registry() {
	need_pkgs docker-registry:docker-registry || return 1
	local port; port=$(free_port)
	cat >"$svc_dir/registry.yml" <<YML
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $svc_dir/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
YML
	docker-registry serve "$svc_dir/registry.yml" >"$svc_dir/registry.log" 2>&1 &
	svc_pids+=($!)
	wait_for 20 curl -fsS "http://127.0.0.1:$port/v2/" || { cat "$svc_dir/registry.log" >&2; return 1; }
	export BELAY_TEST_REGISTRY="127.0.0.1:$port"
}

start_redis() {
	need_pkgs redis-server:redis-server || return 1
	local port; port=$(free_port)
	mkdir -p "$svc_dir/redis"
	redis-server --bind 127.0.0.1 --port "$port" --dir "$svc_dir/redis" --save '' --appendonly no \
		>"$svc_dir/redis.log" 2>&1 &
	svc_pids+=($!)
	wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || { cat "$svc_dir/redis.log" >&2; return 1; }
	export BELAY_TEST_REDIS="redis://127.0.0.1:$port/0"
}

start_nats() {
	need_pkgs nats-server:nats-server || return 1
	local port pass; port=$(free_port); pass="nats-$RANDOM$RANDOM"
	mkdir -p "$svc_dir/nats"
	nats-server -js -a 127.0.0.1 -p "$port" -sd "$svc_dir/nats" --user belay --pass "$pass" \
		>"$svc_dir/nats.log" 2>&1 &
	svc_pids+=($!)
	wait_for 20 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || { cat "$svc_dir/nats.log" >&2; return 1; }
	export BELAY_TEST_NATS="nats://belay:$pass@127.0.0.1:$port"
}

start_s3() { # versitygw's POSIX backend serving a directory, versioning on
	local bin port secret; bin=$(bash scripts/s3.sh build) || return 1
	port=$(free_port); secret="s3-$RANDOM$RANDOM"
	mkdir -p "$svc_dir/s3/root" "$svc_dir/s3/versions"
	"$bin" --access belay --secret "$secret" --port "127.0.0.1:$port" --quiet \
		posix --versioning-dir "$svc_dir/s3/versions" "$svc_dir/s3/root" >"$svc_dir/s3.log" 2>&1 &
	svc_pids+=($!)
	wait_for 30 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || { cat "$svc_dir/s3.log" >&2; return 1; }
	export BELAY_TEST_S3="http://belay:$secret@127.0.0.1:$port"
}

find_prometheus() {
	need_pkgs prometheus:prometheus || return 1
	BELAY_TEST_PROMETHEUS_BIN=$(command -v prometheus)
	BELAY_TEST_PROMTOOL_BIN=$(command -v promtool) || { echo "services: promtool missing beside prometheus" >&2; return 1; }
	export BELAY_TEST_PROMETHEUS_BIN BELAY_TEST_PROMTOOL_BIN
}

find_chromium() {
	need_pkgs chromium:chromium || return 1
	BELAY_TEST_CHROMIUM=$(command -v chromium)
	export BELAY_TEST_CHROMIUM
}

start_services() {
	need_pkgs curl:curl || return 1
	start_postgres && start_redis && start_nats && start_s3 && start_registry && find_prometheus && find_chromium
}

stop_services() {
	[ ${#svc_stop_pg[@]} -eq 0 ] || "${svc_stop_pg[@]}" >/dev/null 2>&1 || true
	local p
	for p in "${svc_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	rm -rf "$svc_dir"
}
svc_stop_pg=()
