package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/herald-sse/herald/client"
)

// watchOpts are the flags every watch subcommand shares.
type watchOpts struct {
	cf          clientFlags
	json        bool
	lastEventID string
	giveUpAfter time.Duration // no first connection by then: exit 3
}

// defaultWatchGiveUp is how long a watch tries to make its first
// connection.
const defaultWatchGiveUp = 30 * time.Second

func newWatchCmd() *cobra.Command {
	var o watchOpts
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow a feed: a task's progress, sessions, a push job or an organization",
		Long: `Follow a herald feed live. In a terminal it draws a human view (progress bars,
one line per node updating in place); piped, it prints plain lines; with --json it
prints one raw event per line. It reconnects and resumes by id on its own.

Exit status follows the outcome: 0 for a task done or a job complete with every
node succeeded; 1 for a failed task or any other job outcome; 2 for a cancelled
task; 3 when the feed cannot be followed (unknown id, no permission, or no
connection within --give-up-after; once connected it reconnects without limit).`,
		Example: `  herald watch task 6f1c0c1e-…
  herald watch session --group research
  herald watch job acme 0123456789abcdef0123456789abcdef
  herald watch org acme --json`,
	}
	o.cf.add(cmd)
	cmd.PersistentFlags().BoolVar(&o.json, "json", false, "print each event as one JSON object per line")
	cmd.PersistentFlags().StringVar(&o.lastEventID, "last-event-id", "", "resume after this event id")
	cmd.PersistentFlags().DurationVar(&o.giveUpAfter, "give-up-after", defaultWatchGiveUp,
		"exit (status 3) when no connection to the server was made within this time; 0 tries forever. Once connected it reconnects without limit")
	cmd.AddCommand(newWatchTaskCmd(&o), newWatchSessionCmd(&o), newWatchJobCmd(&o), newWatchOrgCmd(&o))
	return cmd
}

// isTerminal reports whether w is an interactive terminal with a size (a
// pseudo-terminal of 0 columns cannot show a bar: plain lines then).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	cols, _, err := term.GetSize(int(f.Fd()))
	return err == nil && cols > 0
}

// rawEvent is the --json form of an event.
type rawEvent struct {
	Event string          `json:"event"`
	ID    string          `json:"id,omitempty"`
	Data  json.RawMessage `json:"data"`
}

func printRaw(w io.Writer, e client.Event) {
	data := json.RawMessage(e.Data)
	if !json.Valid(data) {
		data, _ = json.Marshal(e.Data)
	}
	b, _ := json.Marshal(rawEvent{Event: e.Type, ID: e.ID, Data: data})
	fmt.Fprintf(w, "%s\n", b)
}

// follow subscribes to path and hands every event to fn until the feed is
// complete or the user interrupts; refusals become exit status 3.
func (o *watchOpts) follow(ctx context.Context, path string, stopAfter []string, fn func(client.Event) error) error {
	c, err := o.cf.client()
	if err != nil {
		return err
	}
	err = c.Subscribe(ctx, path, client.FeedOptions{
		LastEventID:         o.lastEventID,
		StopAfter:           stopAfter,
		NeverConnectedLimit: o.giveUpAfter,
		OnReconnect: func(attempt int, delay time.Duration, err error) {
			if attempt > 1 {
				why := err.Error()
				if msg, ok := unreachable(err); ok {
					why = msg
				}
				fmt.Fprintf(os.Stderr, "herald: reconnecting in %v (%s)\n", delay.Round(time.Millisecond), why)
			}
		},
	}, fn)
	if errors.Is(err, context.Canceled) {
		return nil // interrupted by the user
	}
	if errors.Is(err, client.ErrNeverConnected) {
		msg, ok := unreachable(err)
		if !ok {
			msg = err.Error()
		}
		fmt.Fprintf(os.Stderr, "herald: gave up after %v: %s\n", o.giveUpAfter, msg)
		return exitError{3}
	}
	var ce *client.Error
	if errors.As(err, &ce) {
		fmt.Fprintln(os.Stderr, "herald:", ce)
		return exitError{3}
	}
	return err
}

func q(s string) string { return url.QueryEscape(s) }
