package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// parseQuorum reads "N" or "N%" for a job of nodes nodes.
func parseQuorum(s string, nodes int) (int, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		pct, err := strconv.ParseFloat(p, 64)
		if err != nil || pct <= 0 || pct > 100 {
			return 0, fmt.Errorf("--quorum %q: a percentage must be in (0, 100]", s)
		}
		return int(math.Ceil(pct / 100 * float64(nodes))), nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 || n > nodes {
		return 0, fmt.Errorf("--quorum %q: give a count from 1 to %d, or a percentage like 80%%", s, nodes)
	}
	return n, nil
}

func newJobCmd() *cobra.Command {
	var o watchOpts
	var org string
	cmd := &cobra.Command{
		Use:   "job",
		Short: "Start, follow, list and abort push jobs",
		Example: `  herald job start --org acme uptime web-1 web-2 web-3
  herald job start --org acme --quorum 2 --timeout 300 --capture chef-client web-1 web-2
  herald job list --org acme
  herald job status --org acme 0123456789abcdef0123456789abcdef
  herald job output --org acme 0123456789abcdef0123456789abcdef web-1
  herald job abort --org acme 0123456789abcdef0123456789abcdef`,
	}
	o.cf.add(cmd)
	cmd.PersistentFlags().StringVar(&org, "org", "default", "organization (domain) of the job")
	jobs := func() string { return "/organizations/" + url.PathEscape(org) + "/pushy/jobs" }

	var quorum string
	var timeout int
	var capture, detach bool
	var dir, runAs, file string
	var env []string
	start := &cobra.Command{
		Use:   "start COMMAND NODE…",
		Short: "Start a job and follow it live until it completes",
		Long: `Start a job that runs COMMAND (a name in the agents' whitelists) on the given
nodes once a quorum of them agreed, then follow its feed live: one line per node,
updated in place in a terminal; a node that refused or failed shows why.

Exit status:
  0  the job completed and every node named succeeded;
  1  anything else: the quorum failed, the job timed out or was aborted, or it
     completed with some node not succeeded. With --quorum below all nodes (say
     --quorum 50%) a job that ran on enough nodes still exits 1 when any other
     node was unavailable, refused or failed: the status speaks for every node
     named. --json or 'herald job status' shows which;
  3  the job's feed could not be followed.

A node name that no node key in the organization has is warned about before the
job starts (such a node votes down at once).`,
		Example: `  herald job start --org acme uptime web-1 web-2 web-3
  herald job start --org acme --quorum 80% --timeout 600 --capture chef-client $(cat nodes.txt)`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.cf.client()
			if err != nil {
				return err
			}
			nodes := args[1:]
			body := map[string]any{"command": args[0], "nodes": nodes}
			if quorum != "" {
				n, err := parseQuorum(quorum, len(nodes))
				if err != nil {
					return err
				}
				body["quorum"] = n
			}
			if timeout > 0 {
				body["run_timeout"] = timeout
			}
			if capture {
				body["capture_output"] = true
			}
			if dir != "" {
				body["dir"] = dir
			}
			if runAs != "" {
				body["user"] = runAs
			}
			if file != "" {
				b, err := os.ReadFile(file)
				if err != nil {
					return fmt.Errorf("--file: %w", err)
				}
				body["file"] = "base64:" + base64.StdEncoding.EncodeToString(b)
			}
			if len(env) > 0 {
				m := map[string]string{}
				for _, kv := range env {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return fmt.Errorf("--env %q: want NAME=value", kv)
					}
					m[k] = v
				}
				body["env"] = m
			}
			warnUnknownNodes(cmd.Context(), cmd.ErrOrStderr(), c, org, nodes)
			var out struct {
				URI string `json:"uri"`
			}
			h, err := c.DoHeader(cmd.Context(), "POST", jobs(), body, &out, "")
			if err != nil {
				return err
			}
			id := out.URI[strings.LastIndexByte(out.URI, '/')+1:]
			fmt.Fprintln(cmd.ErrOrStderr(), "job", id)
			if detach {
				fmt.Fprintln(cmd.OutOrStdout(), id)
				return nil
			}
			// Follow from the start event: every later event, even if the
			// job already ended.
			if o.lastEventID == "" {
				o.lastEventID = h.Get("Herald-Event-Id")
			}
			return watchJob(cmd, &o, org, id)
		},
	}
	start.Flags().StringVar(&quorum, "quorum", "", "nodes that must agree before it runs: a count or a percentage (default: all); the exit status is 0 only if every node named succeeds (see above)")
	start.Flags().IntVar(&timeout, "timeout", 0, "run timeout in seconds (default 3600)")
	start.Flags().BoolVar(&capture, "capture", false, "capture each node's stdout and stderr")
	start.Flags().StringVar(&dir, "dir", "", "working directory on the nodes")
	start.Flags().StringVar(&runAs, "user", "", "user to run the command as on the nodes")
	start.Flags().StringVar(&file, "file", "", "send this local file with the job; the command finds it at $CHEF_PUSH_JOB_FILE (at most 100000 bytes)")
	start.Flags().StringArrayVar(&env, "env", nil, "NAME=value in the command's environment (repeatable)")
	start.Flags().BoolVar(&detach, "detach", false, "print the job id and return without following it")
	start.Flags().BoolVar(&o.json, "json", false, "print each event as one JSON object per line")

	get := func(cmd *cobra.Command, path string, raw bool) error {
		c, err := o.cf.client()
		if err != nil {
			return err
		}
		if raw {
			req, _ := http.NewRequestWithContext(cmd.Context(), "GET", strings.TrimRight(c.Server, "/")+path, nil)
			req.Header.Set("Authorization", "Bearer "+c.Token)
			resp, err := c.HTTP.Do(req)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != 200 {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				return answerProblem(resp, b)
			}
			_, err = io.Copy(cmd.OutOrStdout(), resp.Body)
			return err
		}
		var out any
		if err := c.Do(cmd.Context(), "GET", path, nil, &out, ""); err != nil {
			return err
		}
		return printJSON(out)
	}
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "List jobs, newest first", Args: cobra.NoArgs,
		Example: "  herald job list --org acme --limit 20",
		RunE: func(cmd *cobra.Command, args []string) error {
			return get(cmd, jobs()+"?limit="+strconv.Itoa(limit), false)
		},
	}
	list.Flags().IntVar(&limit, "limit", 50, "how many jobs (at most 500)")
	status := &cobra.Command{
		Use: "status JOB_ID", Short: "Show a job's summary", Args: cobra.ExactArgs(1),
		Example: "  herald job status --org acme 0123456789abcdef0123456789abcdef",
		RunE: func(cmd *cobra.Command, args []string) error {
			return get(cmd, jobs()+"/"+url.PathEscape(args[0]), false)
		},
	}
	var stderr bool
	output := &cobra.Command{
		Use: "output JOB_ID NODE", Short: "Print a node's captured output", Args: cobra.ExactArgs(2),
		Example: "  herald job output --org acme 0123456789abcdef0123456789abcdef web-1 --stderr",
		RunE: func(cmd *cobra.Command, args []string) error {
			stream := "stdout"
			if stderr {
				stream = "stderr"
			}
			err := get(cmd, jobs()+"/"+url.PathEscape(args[0])+"/output/"+url.PathEscape(args[1])+"/"+stream, true)
			return explainNoOutput(cmd.Context(), &o.cf, org, args[0], args[1], stream, err)
		},
	}
	output.Flags().BoolVar(&stderr, "stderr", false, "print stderr instead of stdout")
	abort := &cobra.Command{
		Use: "abort JOB_ID", Short: "Abort a job", Args: cobra.ExactArgs(1),
		Example: "  herald job abort --org acme 0123456789abcdef0123456789abcdef",
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.cf.client()
			if err != nil {
				return err
			}
			if err := c.Do(cmd.Context(), "POST", jobs()+"/"+url.PathEscape(args[0])+"/abort", map[string]any{}, nil, ""); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "abort requested")
			return nil
		},
	}
	cmd.AddCommand(start, list, status, output, abort)
	return cmd
}

func newNodeCmd() *cobra.Command {
	var cf clientFlags
	var org string
	cmd := &cobra.Command{Use: "node", Short: "Show push-jobs nodes"}
	cf.add(cmd)
	cmd.PersistentFlags().StringVar(&org, "org", "default", "organization (domain)")
	cmd.AddCommand(&cobra.Command{
		Use:   "status [NODE]",
		Short: "Show whether nodes are online and available",
		Example: `  herald node status --org acme
  herald node status --org acme web-1`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			path := "/organizations/" + url.PathEscape(org) + "/pushy/node_states"
			if len(args) == 1 {
				path += "/" + url.PathEscape(args[0])
			}
			var out any
			if err := c.Do(cmd.Context(), "GET", path, nil, &out, ""); err != nil {
				return err
			}
			return printJSON(out)
		},
	})
	return cmd
}
