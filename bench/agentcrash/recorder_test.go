package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// dropSecond serves HTTP/1.1 by hand: on the first connection it answers
// one request and then closes the connection after reading the second, as
// a killed or draining agent does; later connections are answered.
func dropSecond(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(first bool) {
				defer c.Close()
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					if !readHead(br) || first && i == 1 {
						return
					}
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				}
			}(n == 0)
		}
	}()
	return "http://" + ln.Addr().String() + "/"
}

func readHead(br *bufio.Reader) bool {
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			return true
		}
	}
}

func get(t *testing.T, c *http.Client, url string) error {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.ReadAll(resp.Body)
	return err
}

func TestRecorderSeesARequestSentAgain(t *testing.T) {
	for _, noRetry := range []bool{false, true} {
		url := dropSecond(t)
		rec := newRecorder(noRetry)
		c := &http.Client{Transport: rec, Timeout: 5 * time.Second}
		if err := get(t, c, url); err != nil {
			t.Fatal(err)
		}
		err := get(t, c, url)
		if noRetry != errors.Is(err, errSentAgain) || !noRetry && err != nil {
			t.Fatalf("noRetry %v: second request: %v", noRetry, err)
		}
		qs := rec.between(0, time.Hour)
		if len(qs) != 2 || qs[0].conns != 1 || qs[1].conns != 2 || !qs[1].firstReused || qs[1].firstWrote == 0 {
			t.Fatalf("noRetry %v: recorded %+v", noRetry, qs)
		}
		if in, later := again(qs, qs[1].firstWrote+1); in != 1 || later != 0 {
			t.Fatalf("written before the moment: %d in flight, %d later", in, later)
		}
		if in, later := again(qs, qs[1].firstWrote); in != 0 || later != 1 {
			t.Fatalf("written at the moment: %d in flight, %d later", in, later)
		}
		if s := qs[1].sentAgain(0); !strings.Contains(s, "keep-alive") || !strings.Contains(s, "on connection 2") {
			t.Fatalf("sentAgain: %s", s)
		}
	}
}

func TestSpanningAndLongest(t *testing.T) {
	ms := time.Millisecond
	rec := &recorder{reqs: []request{{at: 0, took: 5 * ms}, {at: 4 * ms, took: 200 * ms}, {at: 10 * ms, took: ms}}}
	if n := rec.spanning(4500 * time.Microsecond); n != 2 {
		t.Fatalf("in flight at 4.5ms: %d, want 2", n)
	}
	if n := rec.spanning(10 * ms); n != 1 {
		t.Fatalf("in flight at 10ms: %d, want 1 (one sent at that moment is not yet in flight)", n)
	}
	if got := len(rec.between(4*ms, 10*ms)); got != 1 {
		t.Fatalf("between 4 and 10ms: %d, want 1", got)
	}
	if d := longest(rec.reqs); d != 200*ms {
		t.Fatalf("longest %s", d)
	}
}
