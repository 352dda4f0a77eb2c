package event

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestPostErrors: 5xx, 429 and a hang are worth retrying; other 4xx are
// rejected for good; each error says what answered.
func TestPostErrors(t *testing.T) {
	status := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // then the server sees the client go
		if status == 0 {
			<-r.Context().Done() // hangs until the client gives up
			return
		}
		http.Error(w, "boom", status)
	}))
	defer srv.Close()
	w := &Webhook{Name: "ops", URL: srv.URL, Key: "k", Timeout: 200 * time.Millisecond}
	for _, tc := range []struct {
		status   int
		rejected bool
		says     string
	}{{500, false, "500 Internal Server Error: boom"}, {429, false, "429"}, {400, true, "400 Bad Request"}, {404, true, "404"}, {0, false, "no answer within 200ms"}} {
		status = tc.status
		err := w.Emit(t.Context(), promoted)
		if err == nil || errors.Is(err, ErrRejected) != tc.rejected || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("status %d: %v; want rejected=%v, saying %q", tc.status, err, tc.rejected, tc.says)
		}
	}
}
