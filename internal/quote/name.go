package quote

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIdentifier is PostgreSQL's NAMEDATALEN - 1: the longest name, in bytes.
const MaxIdentifier = 63

// Word keeps the letters and digits of s (any script), lower-cased, runs of anything else
// turned into one '_': "../../../tmp/pwn" gives "tmp_pwn", "Größe" gives "größe". A name
// built of words is safe as a file name and as an identifier.
func Word(s string) string {
	f := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(unicode.IsLetter(r) || unicode.IsDigit(r))
	})
	return strings.Join(f, "_")
}

// Name joins the words of parts with '_' and appends suffix (unless empty), in at most MaxIdentifier bytes:
// a longer name is cut on a character boundary and ends in a hash of the whole, so two long
// names never collide and PostgreSQL never sees a split UTF-8 character.
func Name(suffix string, parts ...string) string {
	var words []string
	for _, p := range parts {
		if w := Word(p); w != "" {
			words = append(words, w)
		}
	}
	if suffix != "" {
		words = append(words, suffix)
	}
	full := strings.Join(words, "_")
	if len(full) <= MaxIdentifier {
		return full
	}
	h := fnv.New32a()
	h.Write([]byte(full))
	tail := fmt.Sprintf("_%08x", h.Sum32())
	if suffix != "" {
		tail += "_" + suffix
	}
	return strings.TrimRight(Cut(full, MaxIdentifier-len(tail)), "_") + tail
}

// Cut shortens s to at most n bytes without splitting a UTF-8 character.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
