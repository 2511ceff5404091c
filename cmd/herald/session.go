package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/herald-sse/herald/client"
)

func newSessionCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "session",
		Short: "Report and list compute sessions",
		Example: `  herald session report mysession-01 enqueued --owner HKX5Q3… --group research
  herald session report mysession-01 terminated --owner HKX5Q3… --group research --result SUCCESS
  herald session list --state started`,
	}
	cf.add(cmd)
	var owner, group, reason, result, idem string
	report := &cobra.Command{
		Use:   "report SESSION_ID EVENT",
		Short: "Report a session lifecycle event (enqueued, preparing, pulling, creating, started, terminating, terminated)",
		Example: `  herald session report mysession-01 preparing --owner HKX5Q3… --group research
  herald session report mysession-01 session_terminated --owner HKX5Q3… --group research --reason user-requested`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			ev := args[1]
			if !strings.HasPrefix(ev, "session_") {
				ev = "session_" + ev
			}
			r := client.SessionReport{SessionID: args[0], OwnerAccessKey: owner, Group: group, Event: ev,
				Reason: optString(cmd, "reason", reason), Result: optString(cmd, "result", result)}
			out, err := c.ReportSession(cmd.Context(), r, idem)
			if err != nil {
				return err
			}
			fmt.Printf("%s %s\n", out.ID, out.State)
			return nil
		},
	}
	report.Flags().StringVar(&owner, "owner", "", "access key of the session's owner (required)")
	report.Flags().StringVar(&group, "group", "", "the session's group (required)")
	report.Flags().StringVar(&reason, "reason", "", "a short reason")
	report.Flags().StringVar(&result, "result", "", "UNDEFINED, SUCCESS or FAILURE (terminated only)")
	report.Flags().StringVar(&idem, "idempotency-key", "", "makes a retried report a no-op")
	_ = report.MarkFlagRequired("owner")
	_ = report.MarkFlagRequired("group")
	var state string
	list := &cobra.Command{
		Use:     "list",
		Short:   "List the sessions you may see, with their current state",
		Example: "  herald session list --group research --state started",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			list, err := c.Sessions(cmd.Context(), group, state)
			if err != nil {
				return err
			}
			return printJSON(list)
		},
	}
	list.Flags().StringVar(&group, "group", "", "only this group")
	list.Flags().StringVar(&state, "state", "", "only sessions in this state")
	cmd.AddCommand(report, list)
	return cmd
}
