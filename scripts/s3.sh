#!/usr/bin/env bash
# The S3-compatible server belay's tests use: no S3 server is packaged by the
# OS, so this builds versitygw (Apache-2.0; its POSIX backend serves a
# directory) from its Go module, once per version, into a cache directory.
#   scripts/s3.sh build    build it when missing; print the binary's path
set -euo pipefail
version=v1.8.0
dir="${BELAY_CACHE:-${HOME:-/tmp}/.cache/belay}/versitygw/$version"
case "${1:-}" in
build)
	mkdir -p "$dir"
	# One build at a time: scripts/test starts one in the background and
	# start_s3 waits here for it rather than building a second time.
	exec 9>"$dir.lock"
	flock 9
	if [ ! -x "$dir/versitygw" ]; then
		echo "s3: building versitygw $version into $dir (once; a few minutes)" >&2
		# go install PKG@VERSION builds with versitygw's own go.mod, not belay's.
		GOFLAGS= GOBIN="$dir" go install "github.com/versity/versitygw/cmd/versitygw@$version" >&2
	fi
	echo "$dir/versitygw"
	;;
*)
	echo "usage: scripts/s3.sh build" >&2
	exit 2
	;;
esac
