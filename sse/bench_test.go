package sse

import (
	"bytes"
	"testing"
)

// benchData is a typical herald event payload of 150 bytes.
const benchData = `{"id":"sess_01J9ZK3Q8W","state":"running","node":"node-eu-west-1a-07","owner":"user7","updated_at":"2025-01-01T12:00:00.000Z","attempt":3,"exit":null}`

func BenchmarkAppendEvent(b *testing.B) {
	data := []byte(benchData)
	if len(data) != 150 {
		b.Fatalf("benchData is %d bytes, want 150", len(data))
	}
	dst := make([]byte, 0, 512)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendEvent(dst[:0], "session.state", "0190b4c2-42.1", data)
	}
}

func BenchmarkAppendEventMultiline(b *testing.B) {
	data := bytes.Repeat([]byte("line of text\r\nand another\n"), 6)
	dst := make([]byte, 0, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendEvent(dst[:0], "session.state", "0190b4c2-42.1", data)
	}
}

func BenchmarkReader(b *testing.B) {
	var stream []byte
	for range 100 {
		stream = AppendEvent(stream, "session.state", "0190b4c2-42.1", []byte(benchData))
		stream = AppendComment(stream, "keepalive")
	}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r := NewReader(bytes.NewReader(stream))
		for {
			if _, err := r.Next(); err != nil {
				break
			}
		}
	}
}
