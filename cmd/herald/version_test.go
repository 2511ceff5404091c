package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// buildRecord is what the toolchain stamped into bin: its module version
// and VCS revision ("" when not stamped).
func buildRecord(t *testing.T, bin string) (ver, rev string) {
	t.Helper()
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 3 && f[0] == "mod":
			ver = f[2]
		case len(f) == 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision="):
			rev = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	return ver, rev
}

// TestVersion (issue 15 §4): `herald --version` prints the version and
// revision the toolchain stamped into the binary, and the server exposes
// them as herald_build_info in /metrics.
func TestVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald")
	}
	bin := heraldBinary(t)
	ver, rev := buildRecord(t, bin)
	out, err := exec.Command(bin, "--version").CombinedOutput()
	line := strings.TrimSpace(string(out))
	if err != nil || !strings.HasPrefix(line, "herald "+ver+" (") || strings.Count(line, "\n") != 0 {
		t.Fatalf("herald --version: %v %q (want the version %q)", err, out, ver)
	}
	if rev != "" && !strings.Contains(line, "revision "+rev[:12]) {
		t.Fatalf("herald --version %q lacks the revision %s", line, rev)
	}

	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken)
	req, _ := http.NewRequestWithContext(context.Background(), "GET", p.url+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var info string
	for l := range strings.Lines(string(b)) {
		if strings.HasPrefix(l, "herald_build_info{") {
			info = l
		}
	}
	if !strings.Contains(info, `version="`+ver+`"`) || !strings.Contains(info, `revision="`+rev+`"`) || !strings.HasSuffix(info, "} 1\n") {
		t.Fatalf("herald_build_info %q (want version %q, revision %q)", info, ver, rev)
	}
}

// TestServeLogsReadyWithURL (issue 15 §4): the first line, which names
// the address early ("herald starting"), says it is not ready yet; the
// "herald listening" line —
// logged only once /readyz answers 200 — names the URL to use and the
// version.
func TestServeLogsReadyWithURL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs herald")
	}
	p := startServe(t, "--data", t.TempDir(), "--bootstrap-token", testToken)
	ver, _ := buildRecord(t, heraldBinary(t))
	var first, ready struct {
		Msg, URL, Version, Note string
		Ready                   *bool
	}
	deadline := time.Now().Add(10 * time.Second)
	for ready.Msg == "" && time.Now().Before(deadline) {
		lines := strings.Split(strings.TrimSpace(p.Logs()), "\n")
		_ = json.Unmarshal([]byte(lines[0]), &first)
		for _, l := range lines {
			if strings.Contains(l, `"msg":"herald listening"`) {
				_ = json.Unmarshal([]byte(l), &ready)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if first.Ready == nil || *first.Ready || !strings.Contains(first.Note, "503") {
		t.Fatalf("first line %+v: want ready=false and a note about 503", first)
	}
	if ready.URL != p.url || ready.Version != ver {
		t.Fatalf("ready line %+v: want url %s and version %s\n%s", ready, p.url, ver, p.Logs())
	}
}
