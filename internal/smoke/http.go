package smoke

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds what is read of an answer and kept as evidence.
const (
	maxBody    = 1 << 20
	maxExcerpt = 512
)

// A request that got no answer at all (a reset, closed or refused
// connection; not a timeout) is sent again every noAnswerPause until the
// test's timeout. Such a failure says nothing about the version under test —
// the proxy in front of it may be restarting — while a wrong answer, or
// none within the timeout, fails the test.
const noAnswerPause = 200 * time.Millisecond

func runHTTP(ctx context.Context, client *http.Client, baseURL string, t Test) (res Result) {
	h := t.HTTP
	method := h.Method
	if method == "" {
		method = http.MethodGet
	}
	res = Result{Name: t.Name, Target: method + " " + baseURL + h.Path}
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()
	ctx, cancel := context.WithTimeout(ctx, timeout(t))
	defer cancel()

	var resp *http.Response
	noAnswer := "" // the last request's error when it got no answer
	for attempt := 1; ; attempt++ {
		var err error
		resp, err = send(ctx, client, method, baseURL+h.Path, h)
		if err == nil {
			break
		}
		res.Error = err.Error()
		var ue *url.Error
		if ctx.Err() != nil && noAnswer != "" {
			res.Error = fmt.Sprintf("%s (and no answer within %s, %d attempts)", noAnswer, timeout(t), attempt)
		}
		if ctx.Err() != nil || !errors.As(err, &ue) || ue.Timeout() {
			return res // a version that hangs is judged on it: no second chance
		}
		noAnswer, res.Attempts = res.Error, attempt+1
		select {
		case <-ctx.Done():
			res.Error = fmt.Sprintf("%s (and no answer within %s, %d attempts)", noAnswer, timeout(t), attempt)
			return res
		case <-time.After(noAnswerPause):
		}
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

// send makes one request of the test.
func send(ctx context.Context, client *http.Client, method, url string, h *HTTP) (*http.Response, error) {
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, fmt.Errorf("smoke test request: %w", err) // not a *url.Error: not retried
	}
	for k, v := range h.Header {
		req.Header.Set(k, v)
	}
	return client.Do(req)
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
