package event

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrRejected marks a delivery the receiver refused for good (a 4xx answer
// other than 408, 425 and 429): trying it again would get the same answer.
var ErrRejected = errors.New("rejected by the receiver")

// Filter is what a sink that takes only some events implements; a sink
// without it takes every event.
type Filter interface {
	Wants(e Event) bool
}

// IdempotencyKey is the key a receiver de-duplicates deliveries by: the
// event's stable ID and the sink's name, the same on every retry.
func IdempotencyKey(sink string, e Event) string { return "belay:" + sink + ":" + e.ID }

// DefaultTimeout bounds one HTTP delivery when a sink sets none.
const DefaultTimeout = 10 * time.Second

// post sends body to url; any 2xx answer is success.
func post(ctx context.Context, c *http.Client, timeout time.Duration, url string, h http.Header, body []byte) error {
	if c == nil {
		c = http.DefaultClient
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	req.Header = h
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return fmt.Errorf("POST %s: no answer within %s", url, timeout)
		}
		return fmt.Errorf("POST %s: %w", url, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // reuse the connection
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("POST %s: %s: %s", url, resp.Status, bytes.TrimSpace(snippet))
	switch s := resp.StatusCode; {
	case s == http.StatusRequestTimeout || s == http.StatusTooEarly || s == http.StatusTooManyRequests || s >= 500:
		return err
	case s >= 400:
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return err // 1xx, 3xx: not followed, tried again
}
