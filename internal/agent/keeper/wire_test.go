package keeper

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestFailureKeepsTheErrno(t *testing.T) {
	if a := failure(nil); a != (answer{}) {
		t.Fatalf("failure(nil) = %+v", a)
	}
	bindErr := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	a := failure(bindErr)
	if a.Err != bindErr.Error() || a.Errno != int(syscall.EADDRINUSE) {
		t.Fatalf("failure(%v) = %+v", bindErr, a)
	}
	err := error(&keeperError{msg: a.Err, errno: syscall.Errno(a.Errno)})
	if !errors.Is(err, syscall.EADDRINUSE) || err.Error() != "keeper: "+bindErr.Error() {
		t.Fatalf("keeperError %q does not read as the keeper's bind error", err)
	}
	if errors.Unwrap(&keeperError{msg: "no errno"}) != nil {
		t.Fatal("a keeperError without errno unwraps to something")
	}
}
