package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/herald-sse/herald/client"
)

type taskEvent struct {
	Current int64   `json:"current_progress"`
	Total   int64   `json:"total_progress"`
	Message *string `json:"message"`
}

func newWatchTaskCmd(o *watchOpts) *cobra.Command {
	return &cobra.Command{
		Use:     "task TASK_ID",
		Short:   "Follow a background task: a progress bar until it ends",
		Example: "  herald watch task 6f1c0c1e-9a4b-4a57-9d7e-2f3c1d0e8b11",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return watchTask(cmd, o, args[0])
		},
	}
}

func watchTask(cmd *cobra.Command, o *watchOpts, id string) error {
	out := cmd.OutOrStdout()
	tty := !o.json && isTerminal(out)
	var p *mpb.Progress
	var bar *mpb.Bar
	msg := ""
	if tty {
		p = mpb.NewWithContext(cmd.Context(), mpb.WithOutput(out), mpb.WithWidth(40), mpb.WithRefreshRate(100*time.Millisecond))
		bar = p.New(0, mpb.BarStyle(),
			mpb.PrependDecorators(decor.Name(shortID(id)+" "), decor.CountersNoUnit("%d/%d")),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Any(func(decor.Statistics) string { return " " + msg })))
	}
	outcome := ""
	err := o.follow(cmd.Context(), "/events/background-task?taskId="+q(id), nil, func(e client.Event) error {
		if o.json {
			printRaw(out, e)
		}
		var d taskEvent
		_ = json.Unmarshal([]byte(e.Data), &d)
		if e.Type != "server_close" && e.Type != "task_updated" {
			outcome = e.Type
		}
		switch {
		case tty && e.Type != "server_close":
			if d.Message != nil {
				msg = *d.Message
			}
			if d.Total > 0 {
				bar.SetTotal(d.Total, false)
			}
			bar.SetCurrent(d.Current)
		case !o.json && e.Type != "server_close":
			m := ""
			if d.Message != nil {
				m = " " + *d.Message
			}
			if d.Total > 0 {
				fmt.Fprintf(out, "%s %s %d/%d%s\n", time.Now().Format("15:04:05"), e.Type, d.Current, d.Total, m)
			} else {
				fmt.Fprintf(out, "%s %s %d%s\n", time.Now().Format("15:04:05"), e.Type, d.Current, m)
			}
		}
		return nil
	})
	if tty {
		if outcome == "task_done" {
			bar.SetTotal(-1, true)
		} else {
			bar.Abort(false)
		}
		p.Wait()
		if outcome != "" {
			fmt.Fprintln(out, outcome)
		}
	}
	if err != nil {
		return err
	}
	switch outcome {
	case "task_done":
		return nil
	case "task_cancelled":
		return exitError{2}
	case "":
		if cmd.Context().Err() != nil {
			return nil
		}
		fmt.Fprintln(os.Stderr, "herald: the feed ended without a terminal event")
	}
	return exitError{1}
}

func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
