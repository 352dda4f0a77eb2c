package event

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Webhook POSTs each event as JSON, signed as Standard Webhooks sign:
// webhook-id (the idempotency key), webhook-timestamp (Unix seconds) and
// webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
type Webhook struct {
	Name string
	URL  string
	// Key signs; a "whsec_" key is base64 after the prefix (Standard
	// Webhooks' form), any other is used as it is.
	Key     string
	Only    []string // event types to send; empty: every one
	Timeout time.Duration
	Client  *http.Client
	Now     func() time.Time
}

var (
	_ Sink   = (*Webhook)(nil)
	_ Filter = (*Webhook)(nil)
)

// Wants reports whether e's type is among Only.
func (w *Webhook) Wants(e Event) bool { return len(w.Only) == 0 || slices.Contains(w.Only, e.Event) }

// Emit delivers e once; the caller retries.
func (w *Webhook) Emit(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("%w: encode event %s: %w", ErrRejected, e.ID, err)
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	id, ts := IdempotencyKey(w.Name, e), strconv.FormatInt(now().Unix(), 10)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "belay")
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", ts)
	h.Set("webhook-signature", Sign(w.Key, id, ts, body))
	h.Set("Idempotency-Key", id)
	return post(ctx, w.Client, w.Timeout, w.URL, h, body)
}

// Sign is the webhook-signature of a delivery: "v1," and the base64
// HMAC-SHA256, keyed by key, of id "." timestamp "." body.
func Sign(key, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, signingKey(key))
	m.Write([]byte(id + "." + timestamp + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func signingKey(key string) []byte {
	if rest, ok := strings.CutPrefix(key, "whsec_"); ok {
		if b, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return b
		}
	}
	return []byte(key)
}

// ErrBadSignature is a delivery whose signature does not verify.
var ErrBadSignature = errors.New("webhook signature does not verify")

// Verify checks a delivery's headers and body as a receiver does: one of
// the space-separated v1 signatures matches, and the timestamp is within
// tolerance of now (a replayed old delivery fails).
func Verify(key string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature are required", ErrBadSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp %q is not Unix seconds", ErrBadSignature, ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: webhook-timestamp is %s away from now", ErrBadSignature, d.Round(time.Second))
	}
	want := Sign(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}
