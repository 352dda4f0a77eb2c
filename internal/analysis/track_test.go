package analysis

import (
	"testing"
	"time"
)

func TestWindowKeepsOneBaseAndFewSnapshots(t *testing.T) {
	t0 := time.Unix(0, 0)
	var snaps []Snapshot
	for s := 0; s <= 300; s++ {
		snaps = window(snaps, Snapshot{At: t0.Add(time.Duration(s) * time.Second), Canary: Sample{Requests: int64(s)}}, time.Minute)
	}
	now := t0.Add(300 * time.Second)
	if base := snaps[0].At; base.After(now.Add(-time.Minute)) || base.Before(now.Add(-65*time.Second)) {
		t.Errorf("window base at %v, want within [now−65s, now−60s]", now.Sub(base))
	}
	if len(snaps) > 14 {
		t.Errorf("%d snapshots kept, want ≤ 14 for a 1 m window", len(snaps))
	}
}

func TestTrackTreatsADropAsAReset(t *testing.T) {
	var tr Track
	tr.observe(Sample{Requests: 100, Errors: 2, Latency: []int64{90, 10}})
	d := tr.observe(Sample{Requests: 30, Errors: 1, Latency: []int64{25, 5}}) // restarted
	if d.Requests != 30 || d.Errors != 1 || d.Latency[1] != 5 {
		t.Errorf("increase after reset %+v", d)
	}
	if tr.Total.Requests != 130 || tr.Total.Latency[0] != 115 {
		t.Errorf("totals %+v", tr.Total)
	}
}
