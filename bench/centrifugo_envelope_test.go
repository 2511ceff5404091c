package bench

import "testing"

// TestCentrifugoEnvelope: Centrifugo's pings, its connect reply and its
// publications are told apart, and the key and send time are the
// publisher's, from inside the publication.
func TestCentrifugoEnvelope(t *testing.T) {
	var tg centrifugoTarget
	w := tg.wrapping()
	pub := []byte(`{"channel":"bench-1","pub":{"data":{"reason":"1700000000000000000","seq":42},"offset":7,"epoch":"x"}}`)
	for _, c := range []struct {
		data string
		want frameKind
	}{
		{`{}`, framePing},
		{`{"connect":{"client":"c","version":"6.9.1 OSS","subs":{"bench-1":{"recoverable":true,"offset":7}},"ping":5}}`, frameOther},
		{`{"channel":"bench-1","join":{"info":{"user":"u"}}}`, frameOther},
		{string(pub), frameEvent},
	} {
		if got := w.frame([]byte(c.data)); got != c.want {
			t.Errorf("frame(%s) = %v, want %v", c.data, got, c.want)
		}
	}
	if k, ok := tg.key(nil, pub); !ok || k != 42 {
		t.Fatalf("key %v %v, want 42 (the publisher's seq, not the offset)", k, ok)
	}
	if _, ok := tg.key(nil, []byte(`{"connect":{"seq":3}}`)); ok {
		t.Fatal("a key outside a publication")
	}
	var v any = map[string]any{"channel": "bench-1", "pub": map[string]any{"data": map[string]any{"reason": "1700000000000000000"}}}
	if ns, ok := sentFrom(w.payload(v)); !ok || ns != 1700000000000000000 {
		t.Fatalf("send time %v %v from inside the envelope", ns, ok)
	}
	if _, ok := sentFrom(v); ok {
		t.Fatal("a send time at the envelope's top level")
	}
}
