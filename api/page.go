package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/herald-sse/herald"
)

// DefaultMaxListBytes is the default Config.MaxListBytes: 1 MiB.
const DefaultMaxListBytes = 1 << 20

// MaxListLimit is the largest ?limit= of the lists that page with ?after=.
const MaxListLimit = 1000

// encodeList encodes items as a JSON array of at most limit items (0: no
// count limit) and maxBytes bytes, always at least one item: the rest is
// for the next page. It returns the body and how many items it holds.
func encodeList[T any](items []T, limit int, maxBytes int) ([]byte, int, error) {
	buf := append(make([]byte, 0, 1024), '[')
	n := 0
	for _, it := range items {
		if limit > 0 && n == limit {
			break
		}
		b, err := json.Marshal(it)
		if err != nil {
			return nil, 0, err
		}
		if n > 0 && len(buf)+len(b)+3 > maxBytes {
			break
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, b...)
		n++
	}
	return append(buf, ']', '\n'), n, nil
}

// maxListBytes is Config.MaxListBytes with its default.
func (a *API) maxListBytes() int {
	if a.cfg.MaxListBytes > 0 {
		return a.cfg.MaxListBytes
	}
	return DefaultMaxListBytes
}

// listLimit parses ?limit= of a list that pages with ?after= (0: absent).
func listLimit(q url.Values) (int, error) {
	s := q.Get("limit")
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxListLimit {
		return 0, herald.FieldErrorf("limit", "must be an integer from 1 to %d, got %q", MaxListLimit, truncate(s, 40))
	}
	return n, nil
}

// writeList answers a list: the items (in order, those after the
// request's cursor) up to limit and the byte bound, and while items remain
// a Link rel="next" to the same list with param set to the cursor of the
// last item sent (every other query parameter kept), on the public URL.
func writeList[T any](a *API, w http.ResponseWriter, r *http.Request, items []T, limit int, more bool, param string, cursor func(T) string) {
	body, n, err := encodeList(items, limit, a.maxListBytes())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if n > 0 && (n < len(items) || more) {
		q := r.URL.Query()
		q.Set(param, cursor(items[n-1]))
		w.Header().Set("Link", "<"+a.baseURL(r)+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	writeRawJSON(w, http.StatusOK, body[:len(body)-1])
}
