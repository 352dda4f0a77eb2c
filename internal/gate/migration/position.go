package migration

import (
	"sort"
	"strings"
	"unicode/utf8"
)

// lines maps offsets in one file's text to 1-based line and column, the
// column counted in characters as editors and PostgreSQL count them.
type lines struct {
	text   string
	starts []int // byte offset where each line starts
}

func newLines(text string) lines {
	starts := []int{0}
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return lines{text: text, starts: starts}
}

// at gives the line and column of a byte offset (pg_query's locations).
func (l lines) at(offset int) (line, col int) {
	offset = max(0, min(offset, len(l.text)))
	i := sort.Search(len(l.starts), func(i int) bool { return l.starts[i] > offset }) - 1
	return i + 1, utf8.RuneCountInString(l.text[l.starts[i]:offset]) + 1
}

// byteOffset turns a 1-based character position (PostgreSQL's error
// cursor) into a byte offset.
func (l lines) byteOffset(charPos int) int {
	n := 1
	for i := range l.text {
		if n == charPos {
			return i
		}
		n++
	}
	return len(l.text)
}

// lineStartsAt reports whether only blanks precede offset on its line.
func (l lines) lineStartsAt(offset int) bool {
	line, _ := l.at(offset)
	return strings.TrimSpace(l.text[l.starts[line-1]:offset]) == ""
}
