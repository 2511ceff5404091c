package herald

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// The repository's documents must stand on their own: a reader of a clone
// has only the repository, so README.md and docs/*.md link only to files in
// it, and every such link resolves.

var (
	// fencedBlock is a ``` or ~~~ code block: its text is not markdown.
	fencedBlock = regexp.MustCompile("(?ms)^ {0,3}(```|~~~)[^\n]*\n.*?^ {0,3}(```|~~~)[ \t]*$")
	codeSpan    = regexp.MustCompile("`+[^`]*`+")
	inlineLink  = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)`)
	refLinkDef  = regexp.MustCompile(`(?m)^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)`)
	autoLink    = regexp.MustCompile(`<([A-Za-z][A-Za-z0-9+.-]*:[^>\s]*)>`)
	bareURL     = regexp.MustCompile(`(?i)\b(?:https?|ftp)://[^\s)>\]]+|\bwww\.[a-z0-9-]+\.[a-z]`)
	urlScheme   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]*:`)
	headingLine = regexp.MustCompile(`(?m)^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$`)
	// fileSpan is a code span that names a file of the repository, such as
	// `docs/decisions.md` or `api/stream.go`: it must name one that exists.
	fileSpan = regexp.MustCompile("`((?:\\.\\.?/)*[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*\\.(?:md|go|json|yaml|sh|txt))`")
)

// sharedDir is the project's shared folder beside the repository: not in a
// clone, so the documents may not send readers there.
const sharedDir = "../shared"

// repoDocs lists the documents whose links are checked.
func repoDocs(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join("docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{"README.md"}, docs...)
}

// TestDocLinksStayInRepo: every link of README.md and docs/*.md is relative
// and resolves to a file of the repository (and, with a #fragment, to a
// heading of that file); none leaves the repository, by URL or by ../.
func TestDocLinksStayInRepo(t *testing.T) {
	for _, doc := range repoDocs(t) {
		for _, problem := range checkDocLinks(".", doc) {
			t.Error(problem)
		}
	}
}

// TestDocLinkChecker: the checker refuses what it must.
func TestDocLinkChecker(t *testing.T) {
	root := t.TempDir()
	write := func(name, text string) {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("docs/b.md", "# B title\n\n## Some `code` here\n")
	tests := []struct {
		name, text string
		bad        bool
	}{
		{"relative file", "[b](b.md)", false},
		{"heading of another file", "[b](b.md#some-code-here)", false},
		{"own heading", "# Top\n[t](#top)", false},
		{"link in a code span", "see `[x](http://example.test)`", false},
		{"link in a code block", "```sh\ncurl http://127.0.0.1:8080/x\n[x](../../x)\n```\n", false},
		{"missing file", "[x](nope.md)", true},
		{"missing heading", "[b](b.md#nope)", true},
		{"outside the repository", "[spec](../../shared/SPEC.md)", true},
		{"URL", "[site](https://example.test/page)", true},
		{"autolink", "<https://example.test>", true},
		{"bare URL", "see https://example.test/x for more", true},
		{"reference definition", "[s][1]\n\n[1]: http://example.test\n", true},
		{"mail", "[me](mailto:a@example.test)", true},
		{"file named in a code span", "see `docs/b.md` and `b.md`", false},
		{"missing file named in a code span", "see `docs/nope.md`", true},
		{"shared folder named in a code span", "- `../shared/SPEC.md` — the contract", true},
	}
	for _, tt := range tests {
		write("docs/a.md", tt.text)
		got := checkDocLinks(root, filepath.Join("docs", "a.md"))
		if (len(got) > 0) != tt.bad {
			t.Errorf("%s: problems %q, want bad=%v", tt.name, got, tt.bad)
		}
	}
}

// checkDocLinks returns what is wrong with the links of doc (a path
// relative to root).
func checkDocLinks(root, doc string) []string {
	b, err := os.ReadFile(filepath.Join(root, doc))
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	if strings.Contains(string(b), sharedDir) {
		out = append(out, fmt.Sprintf("%s: refers to %s, which is not in the repository", doc, sharedDir))
	}
	text := fencedBlock.ReplaceAllString(string(b), "")
	for _, m := range fileSpan.FindAllStringSubmatch(text, -1) {
		if p := checkFileMention(root, doc, m[1]); p != "" {
			out = append(out, fmt.Sprintf("%s: `%s` %s", doc, m[1], p))
		}
	}
	text = codeSpan.ReplaceAllString(text, "")
	var targets []string
	for _, re := range []*regexp.Regexp{inlineLink, refLinkDef, autoLink} {
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			targets = append(targets, m[1])
		}
		text = re.ReplaceAllString(text, "")
	}
	for _, u := range bareURL.FindAllString(text, -1) {
		out = append(out, fmt.Sprintf("%s: %q links outside the repository", doc, u))
	}
	for _, target := range targets {
		if p := checkTarget(root, doc, target); p != "" {
			out = append(out, fmt.Sprintf("%s: link %q %s", doc, target, p))
		}
	}
	return out
}

// checkFileMention returns why a file named in a code span of doc is
// wrong, or "": it must exist relative to the document or to the root.
func checkFileMention(root, doc, name string) string {
	for _, base := range []string{filepath.Dir(doc), "."} {
		file := filepath.Join(base, filepath.FromSlash(name))
		if file == ".." || strings.HasPrefix(file, ".."+string(filepath.Separator)) {
			return "is outside the repository"
		}
		if _, err := os.Stat(filepath.Join(root, file)); err == nil {
			return ""
		}
	}
	return "names no file of the repository"
}

// checkTarget returns why a link target of doc is wrong, or "".
func checkTarget(root, doc, target string) string {
	if urlScheme.MatchString(target) {
		return "leaves the repository: link to a file in it instead"
	}
	path, frag, _ := strings.Cut(target, "#")
	file := doc
	if path != "" {
		if strings.HasPrefix(path, "/") {
			return "is absolute: make it relative to the document"
		}
		file = filepath.Join(filepath.Dir(doc), filepath.FromSlash(path))
		if file == ".." || strings.HasPrefix(file, ".."+string(filepath.Separator)) {
			return "leaves the repository"
		}
		if _, err := os.Stat(filepath.Join(root, file)); err != nil {
			return "names no file of the repository"
		}
	}
	if frag == "" || !strings.HasSuffix(file, ".md") {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		return err.Error()
	}
	if !slices.Contains(headingAnchors(string(b)), frag) {
		return fmt.Sprintf("names no heading of %s", file)
	}
	return ""
}

// headingAnchors returns the anchors a markdown renderer gives the
// document's headings: lower case, punctuation dropped, spaces to hyphens,
// -1, -2… on repeats.
func headingAnchors(md string) []string {
	md = fencedBlock.ReplaceAllString(md, "")
	seen := map[string]int{}
	var out []string
	for _, m := range headingLine.FindAllStringSubmatch(md, -1) {
		var b strings.Builder
		for _, r := range strings.ToLower(m[1]) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		a := b.String()
		if n := seen[a]; n > 0 {
			out = append(out, fmt.Sprintf("%s-%d", a, n))
		} else {
			out = append(out, a)
		}
		seen[a]++
	}
	return out
}
