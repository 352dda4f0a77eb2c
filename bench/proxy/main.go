// Command proxy is the proxy benchmark harness (not a test): it runs wrk
// against examples/hello directly, through belay's proxy, through nginx
// reverse-proxying to the same hello, and through belay's proxy mirroring
// every GET to a second hello (a shadow step), and prints requests/s, p50
// and p99 for each and the ratios.
//
//	go run ./bench/proxy [-d 10s] [-c 64] [-t 2] [-rounds 5] [-cpuprofile f -profile-target 3]
//
// Needs wrk and nginx on PATH (OS packages).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/belay-dev/belay/internal/agent/proxy"
)

var (
	cpuProfile    string
	profileTarget int
)

type result struct {
	name     string
	rps      float64
	p50, p99 time.Duration
	cpu      time.Duration // CPU time of the proxy per request (0 for direct)
	// Copies to the shadow during the run (the shadow target only): sent,
	// dropped by the mirror's bounds, and answered or given up on.
	sent, dropped, pairs int64
}

// copiesSince is the copies sent, dropped and paired between two snapshots.
func copiesSince(a, b proxy.ShadowSnapshot) (sent, dropped, pairs int64) {
	for i := range b.Dropped {
		dropped += b.Dropped[i] - a.Dropped[i]
	}
	return b.Sent - a.Sent, dropped, b.Pairs() - a.Pairs()
}

func main() {
	dur := flag.Duration("d", 10*time.Second, "duration of each wrk run")
	conns := flag.Int("c", 64, "wrk connections")
	threads := flag.Int("t", 2, "wrk threads")
	rounds := flag.Int("rounds", 5, "rounds, targets interleaved; the median of each figure over rounds is reported")
	flag.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of this process (belay's proxy) during the first round of -profile-target")
	flag.IntVar(&profileTarget, "profile-target", 1, "target profiled by -cpuprofile: 1 belay proxy, 3 belay proxy + shadow")
	flag.Parse()
	if err := run(*dur, *conns, *threads, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "bench/proxy:", err)
		os.Exit(1)
	}
}

func run(dur time.Duration, conns, threads, rounds int) error {
	tmp, err := os.MkdirTemp("", "belay-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := buildHello(tmp)
	if err != nil {
		return err
	}
	upstream, stopHello, err := startHello(bin)
	if err != nil {
		return err
	}
	defer stopHello()
	shadowUpstream, stopShadowHello, err := startHello(bin)
	if err != nil {
		return err
	}
	defer stopShadowHello()
	belayAddr, stopBelay, err := startBelay(upstream, nil)
	if err != nil {
		return err
	}
	defer stopBelay()
	sh := &proxy.Shadow{Version: "shadow", Stats: &proxy.ShadowStats{}, Share: 1}
	shadowAddr, stopShadow, err := startBelay(upstream, &shadowTarget{sh, shadowUpstream})
	if err != nil {
		return err
	}
	defer stopShadow()
	nginxAddr, stopNginx, err := startNginx(tmp, upstream)
	if err != nil {
		return err
	}
	defer stopNginx()

	targets := []struct {
		name, addr string
		pids       func() []int
	}{
		{"direct (hello)", upstream, nil},
		{"belay proxy", belayAddr, func() []int { return []int{os.Getpid()} }},
		{"nginx", nginxAddr, func() []int { return family(nginxPid) }},
		{"belay proxy + shadow 100 %", shadowAddr, func() []int { return []int{os.Getpid()} }},
	}
	all := make([][]result, len(targets))
	for r := range rounds {
		for i, tg := range targets {
			if cpuProfile != "" && i == profileTarget && r == 0 {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return err
				}
				_ = pprof.StartCPUProfile(f)
			}
			var before time.Duration
			if tg.pids != nil {
				before = cpuOf(tg.pids())
			}
			snap := sh.Stats.Snapshot()
			res, err := wrk(tg.name, "http://"+tg.addr+"/", dur, conns, threads)
			if err == nil && tg.pids != nil {
				res.cpu = (cpuOf(tg.pids()) - before) / time.Duration(max(res.rps*dur.Seconds(), 1))
			}
			if cpuProfile != "" && i == profileTarget && r == 0 {
				pprof.StopCPUProfile()
			}
			if err != nil {
				return err
			}
			if i == 3 {
				res.sent, res.dropped, res.pairs = copiesSince(snap, sh.Stats.Snapshot())
			}
			fmt.Fprintf(os.Stderr, "round %d %-26s %9.0f req/s  p50 %v  p99 %v  cpu/req %v  copies sent %d dropped %d paired %d\n", r+1, tg.name, res.rps, res.p50, res.p99, res.cpu, res.sent, res.dropped, res.pairs)
			all[i] = append(all[i], res)
		}
	}
	med := make([]result, len(targets))
	for i, rs := range all {
		med[i] = result{
			name:    rs[0].name,
			rps:     median(rs, func(r result) float64 { return r.rps }),
			p50:     time.Duration(median(rs, func(r result) float64 { return float64(r.p50) })),
			p99:     time.Duration(median(rs, func(r result) float64 { return float64(r.p99) })),
			cpu:     time.Duration(median(rs, func(r result) float64 { return float64(r.cpu) })),
			sent:    int64(median(rs, func(r result) float64 { return float64(r.sent) })),
			dropped: int64(median(rs, func(r result) float64 { return float64(r.dropped) })),
			pairs:   int64(median(rs, func(r result) float64 { return float64(r.pairs) })),
		}
	}
	report(med, dur, conns, threads, rounds)
	return nil
}

// median of one figure over rounds: each figure separately, so that one
// noisy round on this shared machine moves none of them.
func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func report(rs []result, dur time.Duration, conns, threads, rounds int) {
	direct, belay, nginx, shadow := rs[0], rs[1], rs[2], rs[3]
	fmt.Printf("wrk -t%d -c%d -d%s, median of %d interleaved rounds; belay proxy with GOGC=%d as in `belay agent`; nginx worker_processes auto, upstream keepalive\n\n", threads, conns, dur, rounds, proxy.GCPercent)
	fmt.Println("| target | requests/s | p50 | p99 | added p50 | added p99 | proxy CPU per request |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|")
	for _, r := range rs[:3] {
		fmt.Printf("| %s | %.0f | %v | %v | %v | %v | %v |\n", r.name, r.rps, r.p50, r.p99, r.p50-direct.p50, r.p99-direct.p99, r.cpu)
	}
	addB, addN := belay.p99-direct.p99, nginx.p99-direct.p99
	fmt.Printf("\nbelay/nginx throughput: %.2f (goal ≥ 0.90)\n", belay.rps/nginx.rps)
	if addN > 0 {
		fmt.Printf("belay/nginx added p99: %v vs %v = %.2f (goal ≤ 1.20)\n", addB, addN, float64(addB)/float64(addN))
	} else {
		fmt.Printf("added p99: belay %v, nginx %v (the direct p99 is noisier than the proxies' here; compare p99 itself: belay/nginx %.2f)\n", addB, addN, float64(belay.p99)/float64(nginx.p99))
	}
	fmt.Printf("belay/nginx CPU per request: %.2f\n", float64(belay.cpu)/float64(max(nginx.cpu, 1)))
	fmt.Printf("belay/direct throughput: %.2f, nginx/direct: %.2f\n", belay.rps/direct.rps, nginx.rps/direct.rps)

	fmt.Printf("\nShadow: the same proxy mirroring 100 %% of GETs to a second hello (proxy.Shadow defaults: at most %d copies in flight, %s timeout, no rate bound); copies per run are medians over rounds.\n\n", proxy.DefaultShadowMaxInFlight, proxy.DefaultShadowTimeout)
	fmt.Println("| target | requests/s | p50 | p99 | proxy CPU per request | copies sent | copies dropped | pairs |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, r := range []result{belay, shadow} {
		fmt.Printf("| %s | %.0f | %v | %v | %v | %d | %d | %d |\n", r.name, r.rps, r.p50, r.p99, r.cpu, r.sent, r.dropped, r.pairs)
	}
	fmt.Printf("\nshadow/plain throughput: %.2f (goal ≥ 0.85)\n", shadow.rps/belay.rps)
	fmt.Printf("shadow/plain p99: %.2f (goal ≤ 1.10)\n", float64(shadow.p99)/float64(belay.p99))
	fmt.Printf("shadow/plain CPU per request: %.2f\n", float64(shadow.cpu)/float64(max(belay.cpu, 1)))
}

var (
	rpsRE = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	pctRE = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([0-9.]+)(us|ms|s)\s*$`)
)

func wrk(name, url string, dur time.Duration, conns, threads int) (result, error) {
	out, err := exec.Command("wrk", "-t", strconv.Itoa(threads), "-c", strconv.Itoa(conns), "-d", dur.String(), "--latency", url).CombinedOutput()
	if err != nil {
		return result{}, fmt.Errorf("wrk %s: %v\n%s", url, err, out)
	}
	res := result{name: name}
	m := rpsRE.FindSubmatch(out)
	if m == nil {
		return result{}, fmt.Errorf("wrk output without Requests/sec:\n%s", out)
	}
	res.rps, _ = strconv.ParseFloat(string(m[1]), 64)
	for _, p := range pctRE.FindAllSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(string(p[2]), 64)
		unit := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second}[string(p[3])]
		d := time.Duration(v * float64(unit)).Round(time.Microsecond)
		if string(p[1]) == "50" {
			res.p50 = d
		} else {
			res.p99 = d
		}
	}
	if strings.Contains(string(out), "Non-2xx") || strings.Contains(string(out), "Socket errors") {
		fmt.Fprintf(os.Stderr, "warning: %s had errors:\n%s", name, out)
	}
	return res, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func buildHello(tmp string) (string, error) {
	bin := filepath.Join(tmp, "hello")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join("examples", "hello")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build hello (run from the repository root): %v\n%s", err, out)
	}
	return bin, nil
}

func startHello(bin string) (string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "PORT="+port, "VERSION=bench")
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	return addr, stop, waitUp(addr)
}

// shadowTarget is a shadow version for startBelay: sh mirrors to one
// instance at addr.
type shadowTarget struct {
	sh   *proxy.Shadow
	addr string
}

// startBelay serves belay's proxy (the agent's code path: table, stats,
// retrying transport) in this process with hello as its only instance and,
// with sh, a second version taking no traffic that sh mirrors requests to,
// as the agent builds a shadow step's table.
func startBelay(upstream string, sh *shadowTarget) (string, func(), error) {
	debug.SetGCPercent(proxy.GCPercent) // as `belay agent` runs
	p := proxy.New(slog.New(slog.DiscardHandler))
	st := &proxy.Stats{}
	routes := []*proxy.Route{{Version: "bench", Weight: 100, Stats: st, Backends: []*proxy.Backend{p.NewBackend("bench", upstream, st)}}}
	t := proxy.NewTable(routes, proxy.Sticky{}, "")
	if sh != nil {
		sst := &proxy.Stats{}
		sh.sh.Backends = []*proxy.Backend{p.NewBackend(sh.sh.Version, sh.addr, sst)}
		routes = append(routes, &proxy.Route{Version: sh.sh.Version, Weight: 0, Stats: sst, Backends: sh.sh.Backends})
		t = proxy.NewTable(routes, proxy.Sticky{}, "").WithShadow(sh.sh)
	}
	p.Swap(t)
	l, err := proxy.Listen("127.0.0.1:0", p, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", nil, err
	}
	return l.Addr(), func() { _ = l.Close() }, waitUp(l.Addr())
}

func startNginx(tmp, upstream string) (string, func(), error) {
	addr, err := freeAddr()
	if err != nil {
		return "", nil, err
	}
	conf := filepath.Join(tmp, "nginx.conf")
	text := fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  upstream hello { server %[2]s; keepalive 128; }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://hello;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    }
  }
}
`, tmp, upstream, addr)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return "", nil, err
	}
	cmd := exec.Command("nginx", "-c", conf, "-p", tmp)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start nginx: %w", err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			fmt.Fprintln(os.Stderr, "nginx:", sc.Text())
		}
	}()
	nginxPid = cmd.Process.Pid
	stop := func() { _ = cmd.Process.Signal(os.Interrupt); _ = cmd.Wait() }
	return addr, stop, waitUp(addr)
}

var nginxPid int

// family is pid and its children (nginx's master and workers).
func family(pid int) []int {
	out := []int{pid}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if f := statFields(child); len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// cpuOf sums user and system CPU time of pids from /proc (clock ticks of 10ms).
func cpuOf(pids []int) time.Duration {
	var ticks int64
	for _, p := range pids {
		f := statFields(p)
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// statFields are the fields of /proc/PID/stat after the command name
// (state first, then ppid, …).
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

func waitUp(addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+addr+"/", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s did not answer within 10s", addr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
