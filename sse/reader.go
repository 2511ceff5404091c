package sse

import (
	"bufio"
	"errors"
	"io"
)

// DefaultMaxLine is the limit a Reader applies when its MaxLine is 0.
const DefaultMaxLine = 1 << 20

// ErrLineTooLong is returned by Reader.Next when a line is longer than
// Reader.MaxLine bytes.
var ErrLineTooLong = errors.New("sse: line too long")

// ErrEventTooLong is returned by Reader.Next when the data of one event
// grows past Reader.MaxLine bytes, over several "data" lines.
var ErrEventTooLong = errors.New("sse: event data too long")

// readBufSize is the size of a Reader's read buffer; longer lines are
// gathered in Reader.line.
const readBufSize = 4096

var bom = [...]byte{0xEF, 0xBB, 0xBF}

// Reader interprets an event stream as the WHATWG HTML standard's "event
// stream interpretation" section tells browsers to: an optional UTF-8 BOM at
// the start is skipped; lines end in CRLF, lone LF or lone CR; a line
// starting with ":" is a comment; the "event", "data", "id" and "retry"
// fields are honoured and others ignored; a blank line dispatches the event
// if its data is not empty; an event cut short by the end of the stream is
// discarded.
//
// The one deliberate difference: bytes are not UTF-8 decoded, so invalid
// UTF-8 reaches Event fields as is instead of as U+FFFD. Line endings are
// seen as soon as they arrive (a CR is not held back to see whether an LF
// follows), so a live stream's events are returned without delay.
//
// Create a Reader with NewReader; it is not safe for concurrent use.
type Reader struct {
	// OnComment, if not nil, is called with the text after the ":" of each
	// comment line, as it is read (":keepalive" gives "keepalive").
	OnComment func(text string)

	// MaxLine bounds the length of one line and of one event's data, in
	// bytes; beyond it Next returns ErrLineTooLong or ErrEventTooLong.
	// 0 means DefaultMaxLine.
	MaxLine int

	br      *bufio.Reader
	started bool  // the BOM check is done
	skipLF  bool  // the last line ended in CR: an LF next is part of it
	err     error // sticky: returned by every Next once set
	line    []byte

	// The WHATWG buffers, and the retry seen in the current block.
	data    []byte
	typ     []byte
	idBuf   string
	blockRt int

	lastID  string
	lastTyp string // the last event type made, reused while it repeats
	retry   int
}

// NewReader returns a Reader that reads an event stream from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{
		br:      bufio.NewReaderSize(r, readBufSize),
		blockRt: -1,
		retry:   -1,
	}
}

// LastEventID returns the last event id in force: the id buffer as of the
// last blank line, what a browser would send as Last-Event-ID.
func (r *Reader) LastEventID() string { return r.lastID }

// Retry returns the last valid "retry" value seen, or -1 if none.
func (r *Reader) Retry() int { return r.retry }

// Next reads until the next event is dispatched and returns it. At the end
// of the stream it returns io.EOF, discarding any incomplete event; a read
// error is returned as is. Once Next has returned an error, it returns the
// same error on every call.
func (r *Reader) Next() (Event, error) {
	if r.err != nil {
		return Event{}, r.err
	}
	if !r.started {
		r.started = true
		if err := r.skipBOM(); err != nil {
			r.err = err
			return Event{}, err
		}
	}
	limit := r.MaxLine
	if limit <= 0 {
		limit = DefaultMaxLine
	}
	for {
		b, err := r.buffered()
		if err != nil {
			r.err = err
			return Event{}, err
		}
		if r.skipLF {
			r.skipLF = false
			if b[0] == '\n' {
				r.br.Discard(1)
				continue
			}
		}
		i := indexEOL(b)
		if i < 0 {
			if len(r.line)+len(b) > limit {
				r.err = ErrLineTooLong
				return Event{}, r.err
			}
			r.line = append(r.line, b...)
			r.br.Discard(len(b))
			continue
		}
		if len(r.line)+i > limit {
			r.err = ErrLineTooLong
			return Event{}, r.err
		}
		line := b[:i]
		if len(r.line) > 0 {
			r.line = append(r.line, line...)
			line = r.line
		}
		r.skipLF = b[i] == '\r'
		// line may alias the bufio buffer: Discard does not overwrite it,
		// and nothing reads again before processLine is done with it.
		r.br.Discard(i + 1)
		ev, ok, err := r.processLine(line, limit)
		r.line = r.line[:0]
		if err != nil {
			r.err = err
			return Event{}, err
		}
		if ok {
			return ev, nil
		}
	}
}

// skipBOM discards a UTF-8 BOM at the start of the stream. It peeks one
// byte at a time so that a stream not starting with a BOM is not held up.
func (r *Reader) skipBOM() error {
	for n := 1; n <= len(bom); n++ {
		b, err := r.br.Peek(n)
		if len(b) < n {
			return err
		}
		if b[n-1] != bom[n-1] {
			return nil
		}
	}
	r.br.Discard(len(bom))
	return nil
}

// buffered returns the bytes buffered, reading once if there are none. It
// returns an error only when no byte is left.
func (r *Reader) buffered() ([]byte, error) {
	if r.br.Buffered() == 0 {
		if _, err := r.br.Peek(1); err != nil {
			return nil, err
		}
	}
	b, _ := r.br.Peek(r.br.Buffered())
	return b, nil
}

// indexEOL returns the index of the first CR or LF in b, or -1.
func indexEOL(b []byte) int {
	for i, c := range b {
		if c == '\r' || c == '\n' {
			return i
		}
	}
	return -1
}
