package views

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-sse/herald/lifecycle"
	"github.com/herald-sse/herald/store"
)

// Memory per retained entity (issue 11, item 5). The views keep every
// retained session, task and job; these tests apply realistic records —
// each entity through its whole lifecycle, as the store's tail hands them
// over — and measure the live heap they leave behind after a collection.
//
// TestRetainedMemoryReport prints the figures (run it with -v; set
// HERALD_MEMREPORT=full for the 100,000 sessions and 10,000 jobs);
