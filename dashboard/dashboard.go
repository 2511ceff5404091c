// Package dashboard is herald's live web page (SPEC §8): plain HTML, CSS
// and JavaScript embedded in the binary, with no build step and nothing
// loaded from elsewhere. The page uses only herald's public API: it logs in
// with POST /v1/login (an HttpOnly cookie), paints from the read endpoints
// and follows the SSE feeds with the browser's own EventSource.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var static embed.FS

// Prefix is the path under which the page's files are served; GET / serves
// the page itself.
const Prefix = "/ui/"

// csp lets the page load only its own files and talk only to its own
// origin: no inline script, no frame, no other host.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Handler serves the page at / and its files under Prefix; any other path
// under Prefix (a directory, a missing file) is answered by notFound.
func Handler(notFound http.HandlerFunc) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.StripPrefix(Prefix, http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := "index.html"
		if r.URL.Path != "/" {
			name = strings.TrimPrefix(r.URL.Path, Prefix)
			if fi, err := fs.Stat(files, name); err != nil || fi.IsDir() || name == "index.html" {
				notFound(w, r)
				return
			}
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		if r.URL.Path == "/" {
			http.ServeFileFS(w, r, files, name)
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}
