package sse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// A golden transcript in testdata/*.txt has sections:
//
//	-- stream --    the stream, escaped (see unescape); the file's own line
//	                breaks are not part of it
//	-- events --    one JSON object per expected event; "retry" defaults to -1
//	-- comments --  one expected comment text per line, escaped
//	-- end --       "last-event-id: X" (escaped) and "retry: N" after EOF
//
// Lines before the first section and lines starting with "#" are notes.
type golden struct {
	stream []byte
	want   transcript
}

func loadGolden(t testing.TB, path string) golden {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := golden{want: transcript{Retry: -1}}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "-- ") && strings.HasSuffix(line, " --") {
			section = strings.Trim(line, "- ")
			continue
		}
		if strings.HasPrefix(line, "#") || section == "" {
			continue
		}
		fail := func(err error) { t.Fatalf("%s:%d: %v", path, n, err) }
		switch section {
		case "stream":
			b, err := unescape(line)
			if err != nil {
				fail(err)
			}
			g.stream = append(g.stream, b...)
		case "events":
			ev := Event{Retry: -1}
			var j struct {
				Type, ID, Data string
				Retry          *int
			}
			dec := json.NewDecoder(strings.NewReader(line))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&j); err != nil {
				fail(err)
			}
			ev.Type, ev.ID, ev.Data = j.Type, j.ID, j.Data
			if j.Retry != nil {
				ev.Retry = *j.Retry
			}
			g.want.Events = append(g.want.Events, ev)
		case "comments":
			b, err := unescape(line)
			if err != nil {
				fail(err)
			}
			g.want.Comments = append(g.want.Comments, string(b))
		case "end":
			k, v, _ := strings.Cut(line, ":")
			v = strings.TrimPrefix(v, " ")
			switch k {
			case "last-event-id":
				b, err := unescape(v)
				if err != nil {
					fail(err)
				}
				g.want.LastID = string(b)
			case "retry":
				if g.want.Retry, err = strconv.Atoi(v); err != nil {
					fail(err)
				}
			default:
				fail(fmt.Errorf("unknown key %q", k))
			}
		default:
			fail(fmt.Errorf("unknown section %q", section))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return g
}

// unescape turns \r, \n, \t, \0, \\ and \xHH into the bytes they name; all
// other characters stand for themselves.
func unescape(s string) ([]byte, error) {
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b = append(b, s[i])
			continue
		}
		if i+1 >= len(s) {
			return nil, fmt.Errorf("trailing backslash in %q", s)
		}
		i++
		switch s[i] {
		case 'r':
			b = append(b, '\r')
		case 'n':
			b = append(b, '\n')
		case 't':
			b = append(b, '\t')
		case '0':
			b = append(b, 0)
		case '\\':
			b = append(b, '\\')
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("short \\x in %q", s)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, fmt.Errorf("bad \\x in %q: %v", s, err)
			}
			b = append(b, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape \\%c in %q", s[i], s)
		}
	}
	return b, nil
}

func TestGolden(t *testing.T) {
	paths, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden transcripts in testdata")
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g := loadGolden(t, path)
			if ref := refParse(string(g.stream)); !reflect.DeepEqual(ref, g.want) {
				t.Errorf("reference parser disagrees with the transcript:\n got %+v\nwant %+v", ref, g.want)
			}
			for name, mk := range chunkings(uint64(len(g.stream))) {
				t.Run(name, func(t *testing.T) {
					got, err := parseAll(mk(bytes.Clone(g.stream)), 0)
					if err != io.EOF {
						t.Fatalf("err = %v, want io.EOF", err)
					}
					if !reflect.DeepEqual(got, g.want) {
						t.Errorf("\n got %+v\nwant %+v", got, g.want)
					}
				})
			}
		})
	}
}

// TestChunkBoundaries splits each golden stream at every position, and
// feeds it in random chunk sizes under many seeds.
func TestChunkBoundaries(t *testing.T) {
	paths, _ := filepath.Glob("testdata/*.txt")
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			g := loadGolden(t, path)
			for cut := 0; cut <= len(g.stream); cut++ {
				r := io.MultiReader(bytes.NewReader(g.stream[:cut]), bytes.NewReader(g.stream[cut:]))
				got, err := parseAll(r, 0)
				if err != io.EOF || !reflect.DeepEqual(got, g.want) {
					t.Fatalf("cut at %d: err %v\n got %+v\nwant %+v", cut, err, got, g.want)
				}
			}
			for seed := range uint64(50) {
				got, err := parseAll(chunkings(seed)["random"](g.stream), 0)
				if err != io.EOF || !reflect.DeepEqual(got, g.want) {
					t.Fatalf("seed %d: err %v\n got %+v\nwant %+v", seed, err, got, g.want)
				}
			}
		})
	}
}
