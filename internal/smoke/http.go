package smoke

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// maxBody bounds what is read of an answer and kept as evidence.
const (
	maxBody    = 1 << 20
	maxExcerpt = 512
)

func runHTTP(ctx context.Context, client *http.Client, baseURL string, t Test) Result {
	h := t.HTTP
	method := h.Method
	if method == "" {
		method = http.MethodGet
	}
	res := Result{Name: t.Name, Target: method + " " + baseURL + h.Path}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, timeout(t))
	defer cancel()

	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, baseURL+h.Path, body)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	for k, v := range h.Header {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	res.Status = resp.StatusCode
	res.Output = excerpt(b)
	if err != nil {
		res.Error = "reading body: " + err.Error()
		return res
	}
	res.Error = checkAnswer(h, resp.StatusCode, b)
	res.Passed = res.Error == ""
	return res
}

// checkAnswer says what is wrong with an answer, or "" when nothing is.
func checkAnswer(h *HTTP, status int, body []byte) string {
	want := h.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	if status != want {
		return fmt.Sprintf("status %d, want %d", status, want)
	}
	if h.BodyContains != "" && !strings.Contains(string(body), h.BodyContains) {
		return fmt.Sprintf("body does not contain %q", h.BodyContains)
	}
	if len(h.JSON) > 0 {
		return checkJSON(body, h.JSON)
	}
	return ""
}

func excerpt(b []byte) string {
	if len(b) <= maxExcerpt {
		return string(b)
	}
	return string(b[:maxExcerpt]) + "…"
}
