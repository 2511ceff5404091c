package herald

import (
	"strconv"
	"strings"
)

// ID is an SSE event id: the store's epoch, the store sequence of the message
// that carried the event and the event's index within that message (one state
// transition may emit several events). Its text form is "<epoch>-<seq>" for
// index 0 and "<epoch>-<seq>.<idx>" otherwise; clients treat it as opaque.
type ID struct {
	Epoch string
	Seq   uint64
	Idx   uint32
}

// String formats id as it appears on the wire.
func (id ID) String() string {
	b := make([]byte, 0, len(id.Epoch)+24)
	b = id.AppendTo(b)
	return string(b)
}

// AppendTo appends the wire form of id to b.
func (id ID) AppendTo(b []byte) []byte {
	b = append(b, id.Epoch...)
	b = append(b, '-')
	b = strconv.AppendUint(b, id.Seq, 10)
	if id.Idx > 0 {
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(id.Idx), 10)
	}
	return b
}

// IsZero reports whether id is the zero ID (no id).
func (id ID) IsZero() bool { return id.Seq == 0 && id.Epoch == "" }

// After reports whether id comes after o in the store's order.
func (id ID) After(o ID) bool {
	if id.Seq != o.Seq {
		return id.Seq > o.Seq
	}
	return id.Idx > o.Idx
}

// ParseID parses the wire form of an id. It reports false for anything that
// is not well formed; callers treat such an id as unrecognized.
func ParseID(s string) (ID, bool) {
	dash := strings.LastIndexByte(s, '-')
	if dash <= 0 || dash == len(s)-1 {
		return ID{}, false
	}
	epoch, rest := s[:dash], s[dash+1:]
	for i := 0; i < len(epoch); i++ {
		c := epoch[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return ID{}, false
		}
	}
	var idx uint64
	if dot := strings.IndexByte(rest, '.'); dot >= 0 {
		var err error
		idx, err = strconv.ParseUint(rest[dot+1:], 10, 32)
		if err != nil || idx == 0 {
			return ID{}, false
		}
		rest = rest[:dot]
	}
	seq, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || seq == 0 {
		return ID{}, false
	}
	return ID{Epoch: epoch, Seq: seq, Idx: uint32(idx)}, true
}
