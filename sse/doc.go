// Package sse is herald's wire layer for Server-Sent Events: an encoder that
// appends frames to a caller's buffer without allocating (AppendEvent,
// AppendComment, AppendRetry) and a client-side Reader that interprets an
// event stream exactly as the WHATWG HTML standard tells browsers to.
//
// The encoder is the server's hot path: one event is encoded once and the
// bytes are shared by every subscriber. The Reader is for tests, tools and
// Go clients; it is the yardstick the encoder is fuzzed against.
//
// See SPEC.md §2 for the wire rules herald follows.
package sse
