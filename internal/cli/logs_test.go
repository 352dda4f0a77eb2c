package cli

import (
	"bytes"
	"encoding/json"
	"testing"
)

// The agent's lines become one JSON object each, split wherever the writes
// fall; a line without the VERSION/INSTANCE prefix is kept whole.
func TestLogLinesAsJSON(t *testing.T) {
	var out bytes.Buffer
	l := &logLines{out: json.NewEncoder(&out), env: "staging", service: "hello"}
	for _, chunk := range []string{"hello-2026.05.12-8f3a91c/0 | listening on :8", "081\nhello-2026.05.12-8f3a91c/1 | GET / 200\nno prefix | here\n", "tail"} {
		if _, err := l.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	l.flush()
	want := `{"environment":"staging","service":"hello","version":"hello-2026.05.12-8f3a91c","instance":"0","line":"listening on :8081"}
{"environment":"staging","service":"hello","version":"hello-2026.05.12-8f3a91c","instance":"1","line":"GET / 200"}
{"environment":"staging","service":"hello","line":"no prefix | here"}
{"environment":"staging","service":"hello","line":"tail"}
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
