// Command hello is the small HTTP service belay's demo and tests deploy.
// Bad releases are made on purpose through the environment (or flags):
//
//	ERROR_RATE=0.05        answer 5 % of requests with 500
//	LATENCY=5ms            add this delay to every request
//	SLOW_RATE=0.05         … and to this fraction of requests
//	SLOW_LATENCY=200ms     … add this much more
//	HEALTH=fail            start with /healthz failing
//	QUEUE_DEPTH=5000       report this many jobs waiting (gauge hello_queue_depth on /metrics)
//
// POST /admin/health?status=fail|ok flips the health endpoint at run time.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// bugErrorRate is 0 in every good release; the demo's bad release ships a
// file that raises it, the way a real bug reaches production. The bug shows
// only after bugAfter requests, as bugs that need load do: a single smoke
// request does not see it, a canary with real traffic does. With bugFile
// set, the bug shows only while that file exists, as bugs that start later
// do (a cache expiring, a cron job, a dependency degrading).
var (
	bugErrorRate float64
	bugAfter     int64
	bugFile      string
	// bugQueueDepth is the jobs a bad release leaves waiting (a consumer
	// that stopped keeping up): 0 in every good release.
	bugQueueDepth float64
)

type config struct {
	addr        string
	version     string
	errorRate   float64
	latency     time.Duration
	slowRate    float64
	slowLatency time.Duration
	queueDepth  float64
}

func main() {
	c := config{}
	flag.StringVar(&c.addr, "addr", "127.0.0.1:"+env("PORT", "8080"), "listen address")
	flag.StringVar(&c.version, "version", env("VERSION", "dev"), "version reported in answers")
	flag.Float64Var(&c.errorRate, "error-rate", envFloat("ERROR_RATE"), "fraction of requests answered 500")
	flag.DurationVar(&c.latency, "latency", envDuration("LATENCY"), "delay added to every request")
	flag.Float64Var(&c.slowRate, "slow-rate", envFloat("SLOW_RATE"), "fraction of requests delayed by -slow-latency")
	flag.DurationVar(&c.slowLatency, "slow-latency", envDuration("SLOW_LATENCY"), "extra delay for slow requests")
	flag.Float64Var(&c.queueDepth, "queue-depth", envFloat("QUEUE_DEPTH"), "jobs reported waiting in the queue")
	flag.Parse()
	c.queueDepth = max(c.queueDepth, bugQueueDepth)

	var healthy atomic.Bool
	healthy.Store(os.Getenv("HEALTH") != "fail")
	srv := &http.Server{Addr: c.addr, Handler: handler(c, &healthy), ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("hello %s listening on %s", c.version, c.addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
	log.Printf("hello %s stopped", c.version)
}

func handler(c config, healthy *atomic.Bool) http.Handler {
	mux := http.NewServeMux()
	var served atomic.Int64
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "unhealthy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /admin/health", func(w http.ResponseWriter, r *http.Request) {
		healthy.Store(r.URL.Query().Get("status") != "fail")
		fmt.Fprintln(w, "health set to", r.URL.Query().Get("status"))
	})
	// /metrics is the Prometheus text format, written by hand: the example
	// has no dependencies. Prometheus adds service, version and environment
	// from the belay agent's service discovery (docs/metrics.md).
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		fmt.Fprintf(w, "# HELP hello_queue_depth Jobs waiting in hello's queue.\n# TYPE hello_queue_depth gauge\nhello_queue_depth %s\n",
			strconv.FormatFloat(c.queueDepth, 'g', -1, 64))
		fmt.Fprintf(w, "# HELP hello_requests_total Requests hello answered.\n# TYPE hello_requests_total counter\nhello_requests_total %d\n", served.Load())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		d := c.latency
		if c.slowRate > 0 && rand.Float64() < c.slowRate {
			d += c.slowLatency
		}
		if d > 0 {
			time.Sleep(d)
		}
		rate := c.errorRate
		if served.Add(1) > bugAfter && bugOn() {
			rate = max(rate, bugErrorRate)
		}
		if rate > 0 && rand.Float64() < rate {
			http.Error(w, "injected error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"service": "hello", "version": c.version, "path": r.URL.Path})
	})
	return mux
}

// bugOn reports whether the bug shows now: always, unless bugFile names a
// file that does not exist.
func bugOn() bool {
	if bugFile == "" {
		return true
	}
	_, err := os.Stat(bugFile)
	return err == nil
}

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func envFloat(k string) float64 {
	v, err := strconv.ParseFloat(os.Getenv(k), 64)
	if err != nil {
		return 0
	}
	return v
}

func envDuration(k string) time.Duration {
	d, err := time.ParseDuration(os.Getenv(k))
	if err != nil {
		return 0
	}
	return d
}
