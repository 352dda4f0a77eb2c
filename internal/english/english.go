// Package english writes the small pieces of English that belay's messages
// share, so that no message reads "1 requests".
package english

import (
	"fmt"
	"time"
)

// Count writes n and noun, the noun in the plural unless n is 1 or -1:
// "1 request", "0 requests", "3 triggers". Nouns take a plain -s.
func Count[N ~int | ~int64](n N, noun string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// Ago writes how long ago something happened, as people say it at a glance:
// "just now", "40 s ago", "12 min ago", "3 h ago", "2 days ago". Each unit
// is rounded down; a negative d (a clock ahead of ours) is "just now".
func Ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "just now"
	case d < time.Minute:
		return fmt.Sprintf("%d s ago", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%d min ago", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h ago", int(d/time.Hour))
	}
	return fmt.Sprintf("%d days ago", int(d/(24*time.Hour)))
}
