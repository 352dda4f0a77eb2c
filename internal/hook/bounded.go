package hook

import (
	"fmt"
	"sync"
)

// bounded keeps the first and last halves of what is written to it, because
// a failing migration says what started in its head and what broke in its tail.
type bounded struct {
	mu      sync.Mutex
	max     int
	head    []byte
	tail    []byte // ring of the last max-len(head) bytes once head is full
	dropped int64
}

func newBounded(max int) *bounded { return &bounded{max: max} }

func (b *bounded) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := len(p)
	half := b.max / 2
	if room := half - len(b.head); room > 0 {
		k := min(room, len(p))
		b.head = append(b.head, p[:k]...)
		p = p[k:]
	}
	keep := b.max - half
	b.tail = append(b.tail, p...)
	if over := len(b.tail) - keep; over > 0 {
		b.dropped += int64(over)
		b.tail = append(b.tail[:0], b.tail[over:]...)
	}
	return n, nil
}

func (b *bounded) Truncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dropped > 0
}

func (b *bounded) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.dropped == 0 {
		return string(b.head) + string(b.tail)
	}
	return fmt.Sprintf("%s\n… %d bytes omitted …\n%s", b.head, b.dropped, b.tail)
}
