package sse

import (
	"bytes"
	"io"
	"math/rand/v2"
	"testing/iotest"
)

// chunkReader returns its bytes in chunks whose sizes next picks.
type chunkReader struct {
	b    []byte
	next func(rest []byte) int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(max(c.next(c.b), 1), len(p), len(c.b))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

// chunkings are the ways the chunk-boundary tests split a stream.
func chunkings(seed uint64) map[string]func([]byte) io.Reader {
	return map[string]func([]byte) io.Reader{
		"whole": func(b []byte) io.Reader { return bytes.NewReader(b) },
		"1byte": func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"random": func(b []byte) io.Reader {
			rnd := rand.New(rand.NewPCG(seed, 1))
			return &chunkReader{b: b, next: func([]byte) int { return 1 + rnd.IntN(16) }}
		},
		// afterCR ends a chunk right after every CR, so every CRLF is split.
		"afterCR": func(b []byte) io.Reader {
			return &chunkReader{b: b, next: func(rest []byte) int {
				if i := bytes.IndexByte(rest, '\r'); i >= 0 {
					return i + 1
				}
				return len(rest)
			}}
		},
		"dataErr": func(b []byte) io.Reader { return iotest.DataErrReader(bytes.NewReader(b)) },
		"halves": func(b []byte) io.Reader {
			return iotest.HalfReader(bytes.NewReader(b))
		},
	}
}
