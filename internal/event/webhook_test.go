package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var promoted = Event{ID: "rollout/7/seq/9", Event: DeploymentPromoted, Time: time.Date(2026, 5, 12, 10, 30, 0, 123000000, time.UTC),
	Service: "api", Version: "api-2026.05.12-8f3a91c", Environment: "production", PreviousStable: "api-2026.05.11-1b2c3d4",
	Digest: "sha256:" + strings.Repeat("ab", 32), Reason: "watch 10m: healthy"}

// TestWebhookSigned: the receiver gets the event as JSON with the Standard
// Webhooks headers, and the signature verifies with the key and only with it.
func TestWebhookSigned(t *testing.T) {
	key := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	var got http.Header
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, body = r.Header.Clone(), must(io.ReadAll(r.Body))
	}))
	defer srv.Close()
	now := time.Unix(1778581800, 0)
	w := &Webhook{Name: "ops", URL: srv.URL, Key: key, Now: func() time.Time { return now }}
	if err := w.Emit(t.Context(), promoted); err != nil {
		t.Fatal(err)
	}
	if id := got.Get("webhook-id"); id != "belay:ops:rollout/7/seq/9" || got.Get("Idempotency-Key") != id || got.Get("webhook-timestamp") != "1778581800" {
		t.Errorf("headers %v", got)
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil || e.ID != promoted.ID || e.Version != promoted.Version {
		t.Errorf("body %s: %v", body, err)
	}
	if err := Verify(key, got, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("Verify: %v", err)
	}
	// A Standard Webhooks test vector: the same scheme any receiver library checks.
	if s := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330", []byte(`{"test": 2432232314}`)); s != "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" {
		t.Errorf("Sign = %s", s)
	}
	for name, bad := range map[string]func() error{
		"other key": func() error { return Verify("whsec_b3RoZXI=", got, body, now, time.Minute) },
		"changed body": func() error {
			return Verify(key, got, bytes.Replace(body, []byte("api"), []byte("apx"), 1), now, time.Minute)
		},
		"replayed later": func() error { return Verify(key, got, body, now.Add(time.Hour), 5*time.Minute) },
	} {
		if err := bad(); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: Verify = %v, want ErrBadSignature", name, err)
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
