package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// A small run prints one table row with the size asked for.
func TestMeasurePrintsARow(t *testing.T) {
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	measure(3, 2, 250*time.Millisecond, nil, logBounds(20))
	os.Stdout = stdout
	w.Close()
	var b bytes.Buffer
	io.Copy(&b, r)
	if !strings.HasPrefix(b.String(), "| 3 | ") || strings.Count(b.String(), "|") != 7 {
		t.Errorf("row %q", b.String())
	}
}
