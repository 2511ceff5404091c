package api_test

import (
	"bufio"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/herald-sse/herald/internal/testutil"
)

// scrapeMetrics reads s's /metrics: each sample's value by its name with
// its labels as printed (e.g. `herald_write_held_seconds_bucket{le="0.4096"}`).
func scrapeMetrics(t *testing.T, s *testutil.Server) map[string]float64 {
	t.Helper()
	resp := s.Get(t, context.Background(), "/metrics", "", nil)
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if f, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = f
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
