// Package english writes the small pieces of English that belay's messages
// share, so that no message reads "1 requests".
package english

import "fmt"

// Count writes n and noun, the noun in the plural unless n is 1 or -1:
// "1 request", "0 requests", "3 triggers". Nouns take a plain -s.
func Count[N ~int | ~int64](n N, noun string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
