package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/belay-dev/belay/internal/gate/secrets/secretstest"
)

const files = 400

var words = strings.Fields("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike " +
	"november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu " +
	"count total index value item list map next prev start stop open close read write")

// plantAt gives the commits (1-based) that plant a secret: one in every
// 2 000, at least one.
func plantAt(commits int) []int {
	var at []int
	for c := 1000; c <= commits; c += 2000 {
		at = append(at, c)
	}
	if len(at) == 0 {
		at = []int{(commits + 1) / 2}
	}
	return at
}

// history writes a git fast-import stream of n commits: each rewrites one
// line of one of 400 small Go-ish files and adds another; the commits
// plantAt names add a secret (a GitHub token, an AWS key or a private key,
// in turn) in a file of their own. It returns how many it planted.
func history(w io.Writer, n int) int {
	r := rand.New(rand.NewPCG(13, 13))
	content := make([][]string, files)
	line := func() string {
		return fmt.Sprintf("\t%s := %s(%s, %d) // %s %s", words[r.IntN(len(words))], words[r.IntN(len(words))],
			words[r.IntN(len(words))], r.IntN(1000), words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	planted := map[int]bool{}
	for _, c := range plantAt(n) {
		planted[c] = true
	}
	kinds := 0
	t := int64(1_600_000_000)
	for c := 1; c <= n; c++ {
		msg := fmt.Sprintf("change %d", c)
		fmt.Fprintf(w, "commit refs/heads/main\nmark :%d\nauthor Bench <bench@example.com> %d +0000\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s\n", c, t, t, len(msg), msg)
		t += 60
		if c > 1 {
			fmt.Fprintf(w, "from :%d\n", c-1)
		}
		f := r.IntN(files)
		if content[f] == nil {
			content[f] = []string{fmt.Sprintf("package p%d", f), ""}
		}
		if l := len(content[f]); l > 2 {
			content[f][2+r.IntN(l-2)] = line()
		}
		content[f] = append(content[f], line())
		blob(w, fmt.Sprintf("pkg/p%03d/file.go", f), strings.Join(content[f], "\n")+"\n")
		if planted[c] {
			seed := uint64(c)
			var s string
			switch kinds % 3 {
			case 0:
				s = "GITHUB_TOKEN=" + secretstest.GitHubToken(seed) + "\n"
			case 1:
				s = "aws_access_key_id = " + secretstest.AWSKey(seed) + "\n"
			case 2:
				s = secretstest.PrivateKey(seed)
			}
			kinds++
			blob(w, fmt.Sprintf("config/leak%d.env", c), s)
		}
	}
	return len(planted)
}

func blob(w io.Writer, path, data string) {
	fmt.Fprintf(w, "M 100644 inline %s\ndata %d\n%s\n", path, len(data), data)
}
