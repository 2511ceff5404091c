package netlimit

import (
	"net/http"
	"time"
)

// BodyDeadline wraps h so that a request with a body must deliver all of
// it within d of its headers: a body that trickles or never comes fails
// to read and the connection is cut. Requests without a body (every SSE
// stream) get no read deadline, so long-lived streams are untouched; the
// next request on the connection gets net/http's own header deadline.
// d <= 0 returns h.
func BodyDeadline(h http.Handler, d time.Duration) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		h.ServeHTTP(w, r)
	})
}
