package demo

import (
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// load sends requests at a steady rate and counts answers per serving
// version (the proxy names it in a response header).
type load struct {
	mu       sync.Mutex
	total    map[string]int64
	failed   map[string]int64
	unrouted int64 // connection errors: no version answered
}

type tally struct{ Total, Failed int64 }

func newLoad() *load { return &load{total: map[string]int64{}, failed: map[string]int64{}} }

// run sends rps requests per second to url until ctx ends.
func (l *load) run(ctx context.Context, url, header string, rps int) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	tick := time.NewTicker(time.Second / time.Duration(rps))
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.one(ctx, client, url, header)
		}()
	}
}

func (l *load) one(ctx context.Context, c *http.Client, url, header string) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.mu.Lock()
			l.unrouted++
			l.mu.Unlock()
		}
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	v := resp.Header.Get(header)
	l.mu.Lock()
	l.total[v]++
	if resp.StatusCode >= 500 {
		l.failed[v]++
	}
	l.mu.Unlock()
}

func (l *load) of(version string) tally {
	l.mu.Lock()
	defer l.mu.Unlock()
	return tally{Total: l.total[version], Failed: l.failed[version]}
}

func (l *load) sum() (total, failed, unrouted int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for v, n := range l.total {
		total += n
		failed += l.failed[v]
	}
	return total, failed, l.unrouted
}
