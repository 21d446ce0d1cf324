package config

import (
	"strings"
	"unicode"
)

// editDistance is the optimal-string-alignment form of the Damerau–Levenshtein
// distance: insertions, deletions, substitutions and swaps of two adjacent
// characters each cost 1, which is how typos in config keys actually happen
// ("api_bsae", "modle_name").
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rolling rows are enough: the swap rule looks two rows back.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

// normalizeKey folds case and drops separators, so "apiBase", "API-BASE" and
// "api_base" compare equal.
func normalizeKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == '_' || r == '-' || r == ' ' || r == '.' {
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// closestKey returns the candidate that key most plausibly misspells: an exact
// match after normalizeKey, else the nearest candidate within an edit distance
// of 2 (1 for keys of three or four characters and none for shorter ones,
// where a couple of edits turn almost anything into anything). Ties go to the first candidate in order, so
// callers pass candidates in a stable order.
func closestKey(key string, candidates []string) (string, bool) {
	nk := normalizeKey(key)
	for _, c := range candidates {
		if c != key && normalizeKey(c) == nk {
			return c, true
		}
	}
	limit := 2
	switch n := len([]rune(key)); {
	case n <= 2:
		return "", false
	case n <= 4:
		limit = 1
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if c == key {
			continue
		}
		d := min(editDistance(key, c), editDistance(nk, normalizeKey(c)))
		if d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}
