package supervise

import (
	"log/slog"

	"golang.org/x/sys/unix"
)

// Limit is one resource limit applied to an instance after it starts.
type Limit struct {
	Resource int // unix.RLIMIT_*
	Cur, Max uint64
}

// DefaultLimits are what every instance gets: plenty of file descriptors for
// a server, no core dumps filling the disk.
var DefaultLimits = []Limit{
	{Resource: unix.RLIMIT_NOFILE, Cur: 65536, Max: 65536},
	{Resource: unix.RLIMIT_CORE, Cur: 0, Max: 0},
}

// applyLimits sets limits with prlimit(2). Raising a limit above the hard
// limit is refused to unprivileged users; the hard limit is used then, and a
// refusal is logged rather than failing the instance ("where Linux allows").
func applyLimits(pid int, limits []Limit, log *slog.Logger) {
	for _, l := range limits {
		var old unix.Rlimit
		if err := unix.Prlimit(pid, l.Resource, nil, &old); err != nil {
			continue
		}
		want := unix.Rlimit{Cur: l.Cur, Max: l.Max}
		if want.Max > old.Max {
			if err := unix.Prlimit(pid, l.Resource, &want, nil); err == nil {
				continue
			}
			want.Max = old.Max
			want.Cur = min(want.Cur, old.Max)
		}
		if err := unix.Prlimit(pid, l.Resource, &want, nil); err != nil {
			log.Debug("rlimit not applied", "resource", l.Resource, "err", err)
		}
	}
}
