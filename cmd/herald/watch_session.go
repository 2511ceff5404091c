package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/herald-sse/herald/client"
)

func newWatchSessionCmd(o *watchOpts) *cobra.Command {
	var sid, group, owner, domain string
	cmd := &cobra.Command{
		Use:   "session",
		Short: "Follow session lifecycle events, one line per change",
		Example: `  herald watch session
  herald watch session --session-id mysession-01
  herald watch session --group research --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			v := url.Values{"sessionId": {sid}, "group": {group}}
			if owner != "" {
				v.Set("ownerAccessKey", owner)
			}
			if domain != "" {
				v.Set("domain", domain)
			}
			out := cmd.OutOrStdout()
			return o.follow(cmd.Context(), "/events/session?"+v.Encode(), nil, func(e client.Event) error {
				if o.json {
					printRaw(out, e)
					return nil
				}
				var d struct {
					SessionID, OwnerAccessKey, Group, Timestamp string
					Reason, Result                              *string
				}
				_ = json.Unmarshal([]byte(e.Data), &d)
				line := fmt.Sprintf("%s %-20s %-12s %s/%s", d.Timestamp, d.SessionID, strings.TrimPrefix(e.Type, "session_"), d.Group, d.OwnerAccessKey)
				if d.Reason != nil && *d.Reason != "" {
					line += " reason=" + *d.Reason
				}
				if d.Result != nil {
					line += " result=" + *d.Result
				}
				fmt.Fprintln(out, line)
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&sid, "session-id", "*", "a session id, or * for every session you may see")
	cmd.Flags().StringVar(&group, "group", "*", "only this group")
	cmd.Flags().StringVar(&owner, "owner", "", "only this owner's sessions (admins)")
	cmd.Flags().StringVar(&domain, "domain", "", "only this domain (superadmins)")
	return cmd
}
