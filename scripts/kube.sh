#!/usr/bin/env bash
# The Kubernetes control plane the Kubernetes target's tests run against,
# built from Go modules (no container engine): etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, and kwok playing the kubelet.
#
#   scripts/kube.sh build   build the five binaries once into the cache
#   scripts/kube.sh dir     print the directory they are (or will be) in
#
# The binaries go to ${BELAY_CACHE:-$HOME/.cache/belay}/kube/v1.37.2/bin,
# keyed by version so a version bump builds afresh. The build runs under
# flock: a second caller (scripts/test's background build and a go test that
# needs the binaries) waits for the first instead of building twice. A cold
# build takes ~20 min and ~2 GB of RAM (kube-apiserver alone ~15 min); later
# calls return at once.
set -euo pipefail

KUBE_VERSION=v1.37.2 # k8s.io/kubernetes; its staging modules are v0.37.2
STAGING_VERSION=v0.37.2
ETCD_VERSION=v3.6.16 # go.etcd.io/etcd/server/v3
KWOK_VERSION=v0.8.0  # sigs.k8s.io/kwok

cache="${BELAY_CACHE:-$HOME/.cache/belay}/kube/$KUBE_VERSION"
bin="$cache/bin"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

built() {
	local b
	for b in "${binaries[@]}"; do [ -x "$bin/$b" ] || return 1; done
	[ -f "$cache/versions" ] && [ "$(cat "$cache/versions")" = "$KUBE_VERSION $ETCD_VERSION $KWOK_VERSION" ]
}

# The k8s.io modules k8s.io/kubernetes replaces with ./staging/src/... in its
# own go.mod: a module that requires k8s.io/kubernetes must replace each of
# them with the published v0.Y.Z.
staging=(api apiextensions-apiserver apimachinery apiserver cli-runtime client-go cloud-provider
	cluster-bootstrap code-generator component-base component-helpers controller-manager cri-api
	cri-client cri-streaming csi-translation-lib dynamic-resource-allocation endpointslice externaljwt
	kms kube-aggregator kube-controller-manager kube-proxy kube-scheduler kubectl kubelet metrics
	mount-utils pod-security-admission sample-apiserver sample-cli-plugin sample-controller streaming)

scratch() { # scratch DIR MODULE@VERSION [replace lines...]: a throwaway module requiring MODULE
	local dir=$1 req=$2; shift 2
	rm -rf "$dir" && mkdir -p "$dir"
	{
		echo "module belay.dev/kubebuild"
		echo
		echo "go 1.26.0"
		echo
		echo "require ${req%@*} ${req#*@}"
		local r
		for r in "$@"; do echo "replace $r"; done
	} >"$dir/go.mod"
}

build_kube() {
	local dir="$cache/src/kubernetes" s replaces=()
	for s in "${staging[@]}"; do replaces+=("k8s.io/$s => k8s.io/$s $STAGING_VERSION"); done
	scratch "$dir" "k8s.io/kubernetes@$KUBE_VERSION" "${replaces[@]}"
	local minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
	local ld="-s -w"
	for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $p.gitVersion=$KUBE_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
	done
	local cmd
	for cmd in kube-scheduler kube-controller-manager kube-apiserver; do
		step "$cmd" bash -c "cd '$dir' && go get 'k8s.io/kubernetes/cmd/$cmd@$KUBE_VERSION' &&
			go build -trimpath -ldflags '$ld' -o '$bin/$cmd.tmp' 'k8s.io/kubernetes/cmd/$cmd' &&
			mv '$bin/$cmd.tmp' '$bin/$cmd'"
	done
}

build_etcd() {
	local dir="$cache/src/etcd"
	scratch "$dir" "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
	step etcd bash -c "cd '$dir' && go get 'go.etcd.io/etcd/server/v3@$ETCD_VERSION' &&
		go build -trimpath -ldflags '-s -w' -o '$bin/etcd.tmp' go.etcd.io/etcd/server/v3 &&
		mv '$bin/etcd.tmp' '$bin/etcd'"
}

build_kwok() {
	local dir="$cache/src/kwok"
	scratch "$dir" "sigs.k8s.io/kwok@$KWOK_VERSION"
	step kwok bash -c "cd '$dir' && go get 'sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION' &&
		go build -trimpath -ldflags '-s -w' -o '$bin/kwok.tmp' sigs.k8s.io/kwok/cmd/kwok &&
		mv '$bin/kwok.tmp' '$bin/kwok'"
	# kwok's stage files (what its fake kubelet does to nodes and pods) ship in
	# its module; the tests read them from here.
	local src
	src=$(cd "$dir" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
	rm -rf "$cache/kwok-stage" && cp -r "$src/kustomize/stage" "$cache/kwok-stage" && chmod -R u+w "$cache/kwok-stage"
}

step() { # step NAME CMD...: run one build, timed, its output kept in the cache's log
	local name=$1 t0=$SECONDS; shift
	if [ -x "$bin/$name" ]; then return 0; fi
	echo "kube: building $name" >&2
	if ! "$@" >>"$cache/build.log" 2>&1; then
		echo "kube: building $name failed; the last lines of $cache/build.log:" >&2
		tail -n 30 "$cache/build.log" >&2
		return 1
	fi
	echo "kube: built $name in $((SECONDS - t0))s" >&2
}

build() {
	mkdir -p "$cache"
	exec 9>"$cache.lock"
	if ! flock -n 9; then
		echo "kube: another build of the control plane is running; waiting for it" >&2
		flock 9
	fi
	if built; then return 0; fi
	# Binaries of other etcd or kwok versions are rebuilt.
	[ -f "$cache/versions" ] && rm -rf "$bin"
	mkdir -p "$bin"
	: >"$cache/build.log"
	local t0=$SECONDS
	echo "kube: building the Kubernetes control plane $KUBE_VERSION once into $bin (cold: ~20 min, ~2 GB RAM; cached afterwards)" >&2
	# A scratch module's go get must not see the repository's go.work or flags.
	export GOWORK=off GOFLAGS=-mod=mod
	build_etcd
	build_kwok
	build_kube
	echo "$KUBE_VERSION $ETCD_VERSION $KWOK_VERSION" >"$cache/versions"
	echo "kube: the control plane took $((SECONDS - t0))s to build (a one-time cost; $bin is reused)" >&2
}

case "${1:-}" in
build) build ;;
dir) echo "$cache" ;;
*)
	echo "usage: scripts/kube.sh build|dir" >&2
	exit 2
	;;
esac
