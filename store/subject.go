package store

import "strings"

// Token escapes s for use as one NATS subject token: NATS forbids '.', '*',
// '>' and whitespace inside a token, so every byte outside [A-Za-z0-9_-] is
// written as %XX. Slugs, access keys and UUIDs stay readable.
func Token(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if !plainByte(s[i]) {
			clean = false
			break
		}
	}
	if clean && s != "" {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	if s == "" {
		return "%"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if plainByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func plainByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// Subject joins a record kind and escaped tokens: Subject("task", d, id) is
// "herald.task.<d>.<id>".
func Subject(kind string, tokens ...string) string {
	var b strings.Builder
	b.WriteString("herald.")
	b.WriteString(kind)
	for _, t := range tokens {
		b.WriteByte('.')
		b.WriteString(Token(t))
	}
	return b.String()
}

// MatchSubject reports whether subject matches the NATS filter: tokens
// compare one by one, "*" matches any one token and a final ">" any one or
// more.
func MatchSubject(filter, subject string) bool {
	for {
		ft, frest, fmore := strings.Cut(filter, ".")
		st, srest, smore := strings.Cut(subject, ".")
		switch {
		case ft == ">" && !fmore:
			return st != ""
		case ft != "*" && ft != st:
			return false
		case !fmore || !smore:
			return fmore == smore
		}
		filter, subject = frest, srest
	}
}
