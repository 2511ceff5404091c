package main

import (
	"errors"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/herald-sse/herald/agent"
)

func newAgentCmd() *cobra.Command {
	var cf clientFlags
	var org, node, whitelist, logFormat, logLevel string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a push-jobs node: heartbeat, vote and run whitelisted commands",
		Long: `Run a push-jobs node agent. It heartbeats to the server, follows its command
feed, votes on jobs (it refuses when busy or when the command is not in its
whitelist), runs one job at a time with the job's run_timeout, dir, env and
run-as user (only when the agent runs as root), captures output when asked, and
kills the whole process group on abort. It needs a node key for its node:
  herald admin keys create --role node --domain ORG --node NAME

The whitelist is a JSON file mapping command names to command lines:
  {"chef-client": "chef-client -o recipe[base]", "uptime": "uptime"}`,
		Example: `  HERALD_TOKEN=hrld_… herald agent --org acme --node web-1 --whitelist /etc/herald/whitelist.json
  herald agent --server https://herald.example:8443 --token hrld_… --org acme --node db-2 --whitelist wl.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if org == "" || node == "" || whitelist == "" {
				return errors.New("--org, --node and --whitelist are required")
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			c.HTTP = nil // the agent holds a stream open: no whole-request timeout
			wl, err := agent.LoadWhitelist(whitelist)
			if err != nil {
				return err
			}
			log, err := newLogger(logFormat, logLevel)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			a := agent.New(agent.Config{Client: c, Org: org, Node: node, Whitelist: wl, Log: log})
			log.Info("herald agent started", "server", cf.server, "org", org, "node", node,
				"incarnation", a.Incarnation(), "whitelist", wl.Names())
			return a.Run(ctx)
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&org, "org", "", "the organization (domain) of the node")
	cmd.Flags().StringVar(&node, "node", "", "the node's name (as in its node key)")
	cmd.Flags().StringVar(&whitelist, "whitelist", "", "JSON file mapping command names to command lines")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
