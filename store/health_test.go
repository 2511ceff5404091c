package store

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name   string
		apiErr *jetstream.APIError
		err    error
		want   error
	}{
		{"stream max bytes", &jetstream.APIError{ErrorCode: 10077, Description: "maximum bytes exceeded"}, nil, ErrFull},
		{"no space", &jetstream.APIError{ErrorCode: 10077, Description: "write x: no space left on device"}, nil, ErrFull},
		{"account limit", &jetstream.APIError{ErrorCode: 10023, Description: "insufficient resources"}, nil, ErrFull},
		{"other store failure", &jetstream.APIError{ErrorCode: 10077, Description: "message too large"}, nil, ErrUnavailable},
		{"no answer", nil, nats.ErrTimeout, ErrUnavailable},
		{"no stream", nil, jetstream.ErrNoStreamResponse, ErrUnavailable},
		{"caller gave up", nil, context.Canceled, context.Canceled},
	} {
		got := classify(c.apiErr, c.err)
		if !errors.Is(got, c.want) {
			t.Errorf("%s: classify = %v, want %v", c.name, got, c.want)
		}
		if c.want == context.Canceled && (counts(got) || errors.Is(got, ErrUnavailable)) {
			t.Errorf("%s: a caller's cancellation counts against the store", c.name)
		}
	}
	if !errors.Is(faultError("write 1.blk: no space left on device"), ErrFull) ||
		!errors.Is(faultError("open 1.blk: too many open files"), ErrUnavailable) {
		t.Error("faultError")
	}
}
