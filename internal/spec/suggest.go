package spec

// Suggest returns ` (did you mean "x"?)` when one of known is close to s,
// else "": for errors outside belay.yaml naming what it defines.
func Suggest(s string, known []string) string { return suggest(s, known) }

// suggest returns ` (did you mean "x"?)` when one of known is close to s.
func suggest(s string, known []string) string {
	best := closest(s, known)
	if best == "" {
		return ""
	}
	return ` (did you mean "` + best + `"?)`
}

// closest returns the entry of known nearest to s in edit distance, or ""
// when none is near enough to be a likely misspelling.
func closest(s string, known []string) string {
	best, bestD := "", 1<<30
	for _, k := range known {
		if d := levenshtein(s, k); d < bestD {
			best, bestD = k, d
		}
	}
	limit := 2
	if len(s) > 8 {
		limit = 3
	}
	if best == "" || bestD > limit {
		return ""
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
