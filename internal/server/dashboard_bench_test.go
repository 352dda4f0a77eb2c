package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/belay-dev/belay/internal/analysis"
	"github.com/belay-dev/belay/internal/rollout"
	"github.com/belay-dev/belay/internal/rollout/rollouttest"
	"github.com/belay-dev/belay/internal/spec"
	"github.com/belay-dev/belay/internal/store"
	"github.com/belay-dev/belay/internal/store/open"
	"github.com/belay-dev/belay/internal/target"
)

// Benchmark size: the overview must render this in < 200 ms (docs/performance.md).
const (
	benchServices = 200
	benchEnvs     = 5
	benchRollouts = 10000
)

// BenchmarkDashboardOverview renders the overview of 200 services in 5
// environments over a SQLite store holding 10 000 rollouts (a tenth of
// them rolled back, one in flight per 10 services), 2 000 stable versions.
//
//	go test ./internal/server -run '^$' -bench DashboardOverview -benchtime 20x
func BenchmarkDashboardOverview(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st, err := open.Open(ctx, "", dir, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	envs := make([]string, benchEnvs)
	for i := range envs {
		envs[i] = fmt.Sprintf("env%d", i)
	}
	project := filepath.Join(dir, "belay.yaml")
	if err := os.WriteFile(project, []byte(benchYAML(envs)), 0o644); err != nil {
		b.Fatal(err)
	}
	if _, err := spec.Load(project); err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	seedOverview(b, st, envs)
	b.Logf("seeded %d rollouts in %s", benchRollouts, time.Since(began).Round(time.Millisecond))
	s, err := New(Deps{Store: st, Target: rollouttest.NewTarget(), Artifacts: noArtifacts{}, ProjectFile: project,
		AuditKey: testAuditKey(b),
		Judge:    rollout.JudgeFunc(func(context.Context, rollout.State) (analysis.Verdict, error) { return analysis.Verdict{}, nil })})
	if err != nil {
		b.Fatal(err)
	}
	token := filepath.Join(dir, "token")
	if err := s.FirstAdmin(ctx, token); err != nil {
		b.Fatal(err)
	}
	tok, _ := os.ReadFile(token)
	h := s.Handler()
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: sessionCookie, Value: strings.TrimSpace(string(tok))})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	if w := get(); w.Code != 200 || strings.Count(w.Body.String(), `<tr data-service=`) != benchServices || !strings.Contains(w.Body.String(), "Canary") {
		b.Fatalf("overview: %d, %d services\n%.2000s", w.Code, strings.Count(w.Body.String(), `<tr data-service=`), w.Body.String())
	}
	b.ResetTimer()
	for b.Loop() {
		if w := get(); w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}

func benchYAML(envs []string) string {
	var y strings.Builder
	y.WriteString("project: bench\nservices:\n")
	for i := range benchServices {
		fmt.Fprintf(&y, "  svc%03d:\n    owner: team\n    build: {command: 'true', outputs: [bin/svc]}\n    run: {command: bin/svc}\n    health_check: {http: {path: /healthz}}\n"+
			"    rollout: {strategy: canary, steps: [{weight: 10%%, min_duration: 1m}, {weight: 100%%}]}\n    rollback_trigger: ['error_rate > 1%% for 1m']\n    rollback_action: deploy previous_stable\n    environments:\n", i)
		for e, env := range envs {
			fmt.Fprintf(&y, "      %s: {listen: 127.0.0.1:%d}\n", env, 20000+i*len(envs)+e)
		}
	}
	y.WriteString("environments:\n")
	for i, e := range envs {
		fmt.Fprintf(&y, "  - name: %s\n    listen: 127.0.0.1:%d\n", e, 19000+i)
	}
	return y.String()
}

// seedOverview stores the benchmark's history: per service and environment
// 10 finished rollouts and 2 stable versions; one rollout in flight per 10
// services.
func seedOverview(b *testing.B, st store.Store, envs []string) {
	ctx := context.Background()
	now := time.Now()
	per := benchRollouts / (benchServices * len(envs))
	for i := range benchServices {
		svc := fmt.Sprintf("svc%03d", i)
		rels := map[int]int64{}
		release := func(k int) int64 {
			if id, ok := rels[k]; ok {
				return id
			}
			rel, err := st.CreateRelease(ctx, store.Release{Service: svc, Version: fmt.Sprintf("%s-v%d", svc, k), Owner: "team", Plan: json.RawMessage(`{}`), CreatedAt: now})
			if err != nil {
				b.Fatal(err)
			}
			rels[k] = rel.ID
			return rel.ID
		}
		for _, env := range envs {
			for k := range per {
				at := now.Add(-time.Duration(per-k) * 6 * time.Hour)
				phase := rollout.Succeeded
				if k%10 == 3 {
					phase = rollout.RolledBack
				}
				state, _ := json.Marshal(rollout.State{Config: rollout.Config{Service: svc, Environment: env, New: target.Version{Version: fmt.Sprintf("%s-v%d", svc, k)},
					Steps: rollout.DefaultSteps}, Phase: phase, Step: 2})
				if _, err := st.CreateRollout(ctx, store.Rollout{ReleaseID: release(k), Service: svc, Environment: env, Version: fmt.Sprintf("%s-v%d", svc, k),
					RolloutState: store.RolloutState{Phase: string(phase), State: state, Terminal: true}, CreatedAt: at}, store.Effects{}); err != nil {
					b.Fatal(err)
				}
			}
			for k := range 2 {
				if err := st.SetStable(ctx, store.StableVersion{Service: svc, Environment: env, Version: fmt.Sprintf("%s-v%d", svc, k),
					Digest: "sha256:" + strings.Repeat("ab", 32), At: now.Add(time.Duration(k) * time.Minute)}); err != nil {
					b.Fatal(err)
				}
			}
		}
		if i%10 == 0 {
			env := envs[len(envs)-1]
			state, _ := json.Marshal(rollout.State{Config: rollout.Config{Service: svc, Environment: env, New: target.Version{Version: svc + "-v99"},
				Steps: rollout.DefaultSteps}, Phase: rollout.Canary, Step: 1})
			if _, err := st.CreateRollout(ctx, store.Rollout{ReleaseID: release(99), Service: svc, Environment: env, Version: svc + "-v99",
				RolloutState: store.RolloutState{Phase: string(rollout.Canary), State: state}, CreatedAt: now}, store.Effects{}); err != nil {
				b.Fatal(err)
			}
		}
	}
}
