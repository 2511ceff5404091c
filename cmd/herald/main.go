// Command herald is the herald server and its command-line client.
//
//	herald serve                       # run the server on embedded defaults
//	herald task create --total 100     # report a background task
//	herald admin keys create --role user
//
// Every flag can also be set as HERALD_<FLAG> in the environment (dashes
// become underscores): HERALD_LISTEN, HERALD_TOKEN, HERALD_SERVER, ….
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/herald-sse/herald/internal/version"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			os.Exit(ee.code)
		}
		if msg, ok := unreachable(err); ok {
			fmt.Fprintln(os.Stderr, "herald:", msg)
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "herald:", err)
		os.Exit(1)
	}
}

// exitError ends the process with a status and no further message.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "herald",
		Short: "Stream session, task and push-job lifecycles as Server-Sent Events",
		Long: `herald keeps the lifecycle of compute sessions, background tasks and push jobs
durably and streams every change as Server-Sent Events, with resume by
Last-Event-ID and per-tenant authorization.

Every flag can also be set in the environment as HERALD_<FLAG>, e.g.
HERALD_LISTEN=0.0.0.0:8080 or HERALD_TOKEN=hrld_….`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version.Read().String(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return flagsFromEnv(cmd)
		},
	}
	root.AddCommand(newServeCmd(), newTaskCmd(), newSessionCmd(), newAdminCmd(), newWatchCmd(), newAgentCmd(), newJobCmd(), newNodeCmd())
	root.AddCommand(newBenchCmd())
	root.SetVersionTemplate("herald {{.Version}}\n")
	return root
}

// flagsFromEnv sets every flag not given on the command line from
// HERALD_<NAME> when that variable is set.
func flagsFromEnv(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		env := "HERALD_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if serr := cmd.Flags().Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", env, v, serr)
			}
		}
	})
	return err
}
