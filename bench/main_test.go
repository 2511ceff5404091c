package bench

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// writerEnv makes the test binary act as B's writer process of the
// isolation scenario (see TestIsolationWriterProcess).
const writerEnv = "HERALD_BENCH_TEST_ISOLATION_WRITER"

func TestMain(m *testing.M) {
	if os.Getenv(writerEnv) == "1" {
		if err := IsolationWriter(context.Background(), os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
