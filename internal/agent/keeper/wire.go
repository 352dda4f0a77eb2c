package keeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// The keeper and a child speak over one SOCK_SEQPACKET socket pair. Every
// request and every answer is one JSON message; a listener's fd rides with
// its answer as SCM_RIGHTS. SEQPACKET keeps message boundaries, so there is
// no framing, and an fd always arrives with the answer it belongs to.

const (
	opListen  = "listen"
	opRelease = "release"
	opReady   = "ready"
)

type request struct {
	Op      string `json:"op"`
	Network string `json:"network,omitempty"`
	Addr    string `json:"addr,omitempty"`
}

type answer struct {
	Addr  string `json:"addr,omitempty"` // the listener's bound address
	Err   string `json:"err,omitempty"`
	Errno int    `json:"errno,omitempty"` // the errno behind Err, so errors.Is works in the child
}

// maxMessage bounds one message; the longest field is a unix socket path.
const maxMessage = 4096

// failure is the answer that carries err to the child.
func failure(err error) answer {
	if err == nil {
		return answer{}
	}
	a := answer{Err: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		a.Errno = int(errno)
	}
	return a
}

// keeperError is an error the keeper reported. It unwraps to the errno
// behind it, so errors.Is(err, syscall.EADDRINUSE) works in the child as it
// would after a net.Listen of its own.
type keeperError struct {
	msg   string
	errno syscall.Errno
}

func (e *keeperError) Error() string { return "keeper: " + e.msg }

func (e *keeperError) Unwrap() error {
	if e.errno == 0 {
		return nil
	}
	return e.errno
}

// writeMessage sends v as one message, with fd attached when fd >= 0.
func writeMessage(c *net.UnixConn, v any, fd int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var oob []byte
	if fd >= 0 {
		oob = syscall.UnixRights(fd)
	}
	_, _, err = c.WriteMsgUnix(b, oob, nil)
	return err
}

// readMessage reads one message into v and returns the fds sent with it,
// which the caller owns. A closed peer gives io.EOF.
func readMessage(c *net.UnixConn, v any) ([]int, error) {
	buf := make([]byte, maxMessage)
	oob := make([]byte, syscall.CmsgSpace(4*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, err
	}
	fds, err := parseRights(oob[:oobn])
	if err == nil && flags&(syscall.MSG_TRUNC|syscall.MSG_CTRUNC) != 0 {
		err = fmt.Errorf("message truncated (flags %#x)", flags)
	}
	if err == nil && n == 0 {
		err = io.EOF // SEQPACKET reads 0 bytes once the peer has gone
	}
	if err == nil {
		err = json.Unmarshal(buf[:n], v)
	}
	if err != nil {
		closeFDs(fds)
		return nil, err
	}
	return fds, nil
}

func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var fds []int
	for _, m := range msgs {
		got, err := syscall.ParseUnixRights(&m)
		if err != nil {
			continue // not SCM_RIGHTS; nothing to own
		}
		fds = append(fds, got...)
	}
	return fds, nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		_ = syscall.Close(fd)
	}
}
