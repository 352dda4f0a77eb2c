// Package testenv gives tests the real servers scripts/test starts
// (PostgreSQL, Redis, NATS, an S3 server, an OCI registry, Prometheus,
// Chromium). Outside CI a missing server skips the test with a note on how
// to get it; with CI=true it fails the test.
package testenv

import (
	"os"
	"testing"
)

func lookup(t testing.TB, env, what string) string {
	t.Helper()
	if v := os.Getenv(env); v != "" {
		return v
	}
	msg := what + " not available: " + env + " is not set; run ./scripts/test, which installs and starts it"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Postgres returns the URL of a PostgreSQL database the test may use.
func Postgres(t testing.TB) string { return lookup(t, "BELAY_TEST_POSTGRES", "PostgreSQL") }

// Registry returns host:port of a plain-HTTP OCI registry.
func Registry(t testing.TB) string { return lookup(t, "BELAY_TEST_REGISTRY", "OCI registry") }

// PrometheusBin returns the path of a prometheus binary to start.
func PrometheusBin(t testing.TB) string {
	return lookup(t, "BELAY_TEST_PROMETHEUS_BIN", "Prometheus")
}

// ChromiumBin returns the path of a Chromium binary the dashboard's browser
// tests drive headless.
func ChromiumBin(t testing.TB) string {
	return lookup(t, "BELAY_TEST_CHROMIUM", "Chromium")
}

// Redis returns the redis:// URL of a Redis server (the default user is an
// administrator) the test may add ACL users to.
func Redis(t testing.TB) string { return lookup(t, "BELAY_TEST_REDIS", "Redis") }

// NATS returns the nats://user:password@host:port URL of a NATS server with
// JetStream the test may add streams to.
func NATS(t testing.TB) string { return lookup(t, "BELAY_TEST_NATS", "NATS with JetStream") }

// S3 returns the http://access:secret@host:port URL of an S3-compatible
// server (versitygw, built by scripts/s3.sh) the test may add buckets to.
func S3(t testing.TB) string { return lookup(t, "BELAY_TEST_S3", "S3 server") }

// PromtoolBin returns the path of promtool (shipped with Prometheus).
func PromtoolBin(t testing.TB) string {
	return lookup(t, "BELAY_TEST_PROMTOOL_BIN", "promtool")
}
