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
	var org, node, whitelist, logFormat, logLevel, jobPath string
	var allowEnv []string
	giveUpAfter := agent.DefaultGiveUpAfter
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a push-jobs node: heartbeat, vote and run whitelisted commands",
		Long: `Run a push-jobs node agent. It heartbeats to the server, follows its command
feed, votes on jobs (it refuses when busy, when the command is not in its
whitelist, or when the job's env holds a name that is not a variable name or a
value with a NUL byte), runs one job at a time with the job's run_timeout, dir,
env and run-as user (only when the agent runs as root), captures output when
asked, and kills the whole process group on abort. It needs a node key for its
node:
  herald admin keys create --role node --domain ORG --node NAME

The whitelist is a JSON file mapping command names to command lines, run with
/bin/sh -c:
  {"chef-client": "chef-client -o recipe[base]", "hello": "echo hello from $CHEF_PUSH_NODE_NAME"}

A job never sees the agent's environment (nor its token). It runs with:
  PATH              --job-path (default ` + agent.DefaultJobPath + `)
  HOME, USER, LOGNAME   of the user it runs as
  LANG, LANGUAGE, LC_*, TZ, TMPDIR   the agent's, when set
  CHEF_PUSH_NODE_NAME, CHEF_PUSH_JOB_ID, CHEF_PUSH_JOB_FILE (the job's file, when it has one)
  CHEF_PUSH_ENV_<NAME>  for each entry NAME of the job's env
  NAME              as is instead, for the names given to --allow-env
Loader, shell and interpreter hooks (LD_*, BASH_ENV, ENV, BASH_FUNC_*, SHELLOPTS,
PS4, IFS, PATH, PYTHON*, PERL*, RUBY*, NODE_OPTIONS, *OPT, *OPTS, *OPTIONS, *PATH,
*LIB, …) and CHEF_PUSH_*/HERALD_* are never let through: --allow-env naming one
is refused at start.

A server that restarts is waited for: connection errors, 5xx and 401/403/404
(a server that does not know the node yet) are retried with backoff of at most
2 s. The agent ends (exit status 1) only when the server has refused the node
for --give-up-after without a single success, e.g. a revoked or wrong key.`,
		Example: `  HERALD_TOKEN_FILE=/etc/herald/node.token herald agent --org acme --node web-1 --whitelist /etc/herald/whitelist.json
  herald agent --server https://herald.example:8443 --token-file node.token --org acme --node db-2 \
    --whitelist wl.json --allow-env DEPLOY_TARGET,RELEASE`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if org == "" || node == "" || whitelist == "" {
				return errors.New("--org, --node and --whitelist are required")
			}
			env, err := agent.NewEnvPolicy(jobPath, allowEnv, os.Environ())
			if err != nil {
				return err
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
			a := agent.New(agent.Config{Client: c, Org: org, Node: node, Whitelist: wl, Env: env,
				GiveUpAfter: giveUpAfter, Log: log})
			log.Info("herald agent started", "server", cf.server, "org", org, "node", node,
				"incarnation", a.Incarnation(), "whitelist", wl.Names(), "allow_env", allowEnv)
			if err := a.Run(ctx); err != nil {
				log.Error("herald agent stopped", "err", err)
				return err
			}
			return nil
		},
	}
	cf.add(cmd)
	cmd.Flags().StringVar(&org, "org", "", "the organization (domain) of the node")
	cmd.Flags().StringVar(&node, "node", "", "the node's name (as in its node key)")
	cmd.Flags().StringVar(&whitelist, "whitelist", "", "JSON file mapping command names to command lines")
	cmd.Flags().StringSliceVar(&allowEnv, "allow-env", nil, "job env names passed to the command as is (NAME,…); others arrive as CHEF_PUSH_ENV_<NAME>; hooks such as LD_PRELOAD are refused")
	cmd.Flags().StringVar(&jobPath, "job-path", agent.DefaultJobPath, "PATH of every job's command")
	cmd.Flags().DurationVar(&giveUpAfter, "give-up-after", giveUpAfter, "exit when the server has refused the node (401, 403, 404) this long without a success")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return cmd
}
