package supervise

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/belay-dev/belay/internal/atomicfile"
)

// PidFile records a running instance so that a restarted agent can adopt it.
// The start time (in clock ticks since boot, from /proc) guards against a
// recycled pid.
type PidFile struct {
	Pid   int    `json:"pid"`
	Start uint64 `json:"start"`
}

// WritePidFile records pid at path atomically.
func WritePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	st, err := readStat(pid)
	if err != nil {
		return err
	}
	b, _ := json.Marshal(PidFile{Pid: pid, Start: st.start})
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(path, b, 0o644)
}

// ReadPidFile reads a pid file; a missing file gives nil and no error.
func ReadPidFile(path string) (*PidFile, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var pf PidFile
	if err := json.Unmarshal(b, &pf); err != nil {
		return nil, fmt.Errorf("pid file %s: %w", path, err)
	}
	return &pf, nil
}

// Alive reports whether the recorded process still runs and is the same one.
func (pf *PidFile) Alive() bool {
	if pf == nil || pf.Pid <= 0 || !alive(pf.Pid) {
		return false
	}
	st, err := readStat(pf.Pid)
	return err == nil && st.start == pf.Start
}

// Kill ends the recorded process group if it is still the same process.
func (pf *PidFile) Kill() {
	if pf.Alive() {
		h := adopted(pf.Pid)
		h.terminate(5e9)
	}
}

type procStat struct {
	state byte
	start uint64
}

// readStat parses /proc/PID/stat: state is field 3, starttime field 22. The
// command name (field 2) may hold spaces, so parsing starts after its ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	start, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return procStat{}, err
	}
	return procStat{state: f[0][0], start: start}, nil
}
