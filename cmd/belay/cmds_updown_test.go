package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/belay-dev/belay/internal/agent/supervise"
	"github.com/belay-dev/belay/internal/pidlock"
	"github.com/rogpeppe/go-internal/testscript"
)

func init() {
	scriptCmds["kill9"] = cmdKill9
	scriptCmds["belayprocs"] = cmdBelayProcs
}

// proc is a live process that belongs to a belay home.
type proc struct {
	pid  int
	role string // server | agent (keeper or child) | instance
	cmd  string
}

// belayProcs finds, through /proc, every process of a home: belay server
// and agent processes by their --home argument, service instances by a
// working directory or command under the home (the unpacked artifacts).
// Zombies run nothing and are left out.
func belayProcs(home string) []proc {
	ents, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if !supervise.Alive(pid) {
			continue
		}
		b, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		cwd, _ := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		p := proc{pid: pid, cmd: strings.Join(args, " ")}
		switch {
		case len(args) > 2 && contains(args, home) && args[1] == "server":
			p.role = "server"
		case len(args) > 2 && contains(args, home) && args[1] == "agent":
			p.role = "agent"
		case strings.HasPrefix(cwd, home+"/") || strings.HasPrefix(args[0], home+"/"):
			p.role = "instance"
		default:
			continue
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].pid < out[j].pid })
	return out
}

func contains(args []string, s string) bool {
	for _, a := range args {
		if a == s {
			return true
		}
	}
	return false
}

// belayprocs HOME [role=N ...]: print the home's processes (to stdout);
// with counts, fail unless exactly that many of each role run, waiting up
// to 10 s for processes that are on their way out or in.
func cmdBelayProcs(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 {
		ts.Fatalf("usage: belayprocs HOME [server=N agent=N instance=N]")
	}
	home := ts.MkAbs(args[0])
	want := map[string]int{}
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		n, err := strconv.Atoi(v)
		ts.Check(err)
		want[k] = n
	}
	var ps []proc
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ps = belayProcs(home)
		got := map[string]int{}
		for _, p := range ps {
			got[p.role]++
		}
		ok := true
		for k, n := range want {
			ok = ok && got[k] == n
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			ts.Fatalf("processes of %s: %v, want %v:\n%s", home, got, want, listProcs(ps))
		}
	}
	fmt.Fprint(ts.Stdout(), listProcs(ps))
}

func listProcs(ps []proc) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%d %s %s\n", p.pid, p.role, p.cmd)
	}
	return b.String()
}

// kill9 server|agent|child HOME: SIGKILL the home's server, agent keeper
// or agent child (found by their locks and the child pid file) and wait
// until it is gone.
func cmdKill9(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: kill9 server|agent|child HOME")
	}
	home := ts.MkAbs(args[1])
	var pid int
	var err error
	switch args[0] {
	case "server":
		pid, err = pidlock.Holder(filepath.Join(home, "server.lock"))
	case "agent":
		pid, err = pidlock.Holder(filepath.Join(home, "agent", "agent.sock.lock"))
	case "child":
		var b []byte
		b, err = os.ReadFile(filepath.Join(home, "agent", "agent.child.pid"))
		if err == nil {
			pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		}
	default:
		ts.Fatalf("kill9: unknown %q", args[0])
	}
	ts.Check(err)
	if pid <= 0 {
		ts.Fatalf("kill9 %s: nothing runs", args[0])
	}
	ts.Check(syscall.Kill(pid, syscall.SIGKILL))
	for i := 0; i < 200 && len(procsWith(home, pid)) > 0; i++ {
		time.Sleep(25 * time.Millisecond)
	}
	fmt.Fprintf(ts.Stdout(), "killed %s pid %d\n", args[0], pid)
}

func procsWith(home string, pid int) []proc {
	var out []proc
	for _, p := range belayProcs(home) {
		if p.pid == pid {
			out = append(out, p)
		}
	}
	return out
}
