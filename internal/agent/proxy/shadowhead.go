package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http/httputil"
	"time"
)

// A copy of a request the front served goes as the request itself went: its
// head bytes, marked, over a pooled connection with the front's exchange,
// in the copy's goroutine. Rebuilding an http.Request and sending it through
// net/http's transport cost more than serving the user.

// mirrorHead sends the copy of a request the front served from clientIP
// (head: the copy's own bytes) to b and records the pair.
func (s *Shadow) mirrorHead(b *Backend, head []byte, clientIP string, stable int, stableLat time.Duration) {
	defer s.Stats.inFlight.Add(-1)
	status, lat := s.exchangeHead(b, head, clientIP)
	s.Stats.pair(stable, status, stableLat, lat)
}

// exchangeHead sends head to b, marked as a copy, and reads the answer to
// its end; status 0 means no whole answer within the timeout. The deadline
// is on the connection, so that a hanging version holds the copy no longer
// than the timeout; a connection not read to a clean end is closed, never
// pooled.
func (s *Shadow) exchangeHead(b *Backend, head []byte, clientIP string) (int, time.Duration) {
	req, ok := parseRequest(head)
	if !ok {
		return 0, 0 // not the head the front served
	}
	// Timed from the send on a connection, as the user's answer is timed
	// on stable's warm pool: dialing the shadow's (a fresh pool at the start
	// of a step) is the proxy's cost, not the new version's slowness.
	start := time.Now()
	deadline := start.Add(s.Timeout)
	rh, uc, err := withConn(b, func(uc *upConn) (respHead, error) {
		if err := uc.c.SetDeadline(deadline); err != nil {
			return respHead{}, err
		}
		start = time.Now()
		forwardHead(uc.bw, head, &req, clientIP, true)
		return readResponseHead(uc, &req)
	})
	if err != nil {
		return 0, time.Since(start)
	}
	keep, err := discardBody(uc, rh)
	lat := time.Since(start)
	// The pool is shared with users' requests, which set no deadline.
	if err != nil || !keep || uc.c.SetDeadline(time.Time{}) != nil {
		uc.c.Close()
	} else {
		b.pool.put(uc)
	}
	if err != nil {
		return 0, lat
	}
	return rh.status, lat
}

// discardBody reads the body of the answer whose head is rh by its framing;
// keep reports whether the connection can carry another request.
func discardBody(uc *upConn, rh respHead) (keep bool, err error) {
	_, _ = uc.br.Discard(len(rh.head))
	switch {
	case rh.length >= 0:
		_, err = io.CopyN(io.Discard, uc.br, rh.length)
		return !rh.close, err
	case !rh.chunked:
		_, err = io.Copy(io.Discard, uc.br) // until the instance closes
		return false, err
	}
	if _, err := io.Copy(io.Discard, httputil.NewChunkedReader(uc.br)); err != nil {
		return false, err
	}
	for { // the trailer section, up to its blank line
		line, err := uc.br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return !rh.close, nil
		}
	}
}

// isTimeout reports whether err is a passed deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
