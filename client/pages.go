package client

import (
	"context"
	"net/url"
	"strings"
)

// maxPages bounds how many pages getAll follows (a server that keeps
// answering rel="next" cannot make a client loop forever).
const maxPages = 10000

// getAll GETs a list and every later page its Link rel="next" names,
// appending the items of each to out.
func getAll[T any](ctx context.Context, c *Client, path string, out *[]T) error {
	for i := 0; path != "" && i < maxPages; i++ {
		var page []T
		h, err := c.DoHeader(ctx, "GET", path, nil, &page, "")
		if err != nil {
			return err
		}
		*out = append(*out, page...)
		path = nextPage(h.Get("Link"))
	}
	return nil
}

// nextPage returns the path and query of a Link header's rel="next"
// target, "" when there is none. Only its path is used: the client keeps
// talking to its own server.
func nextPage(link string) string {
	for _, part := range strings.Split(link, ",") {
		target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
		if !ok || !strings.Contains(params, `rel="next"`) {
			continue
		}
		u, err := url.Parse(strings.Trim(strings.TrimSpace(target), "<>"))
		if err != nil {
			return ""
		}
		return u.RequestURI()
	}
	return ""
}
