package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/spf13/cobra"
)

func newTaskCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "task",
		Short: "Report background tasks (create, progress, done, fail, cancel)",
		Example: `  id=$(herald task create --total 100 --message "preloading images")
  herald task progress $id 40 --message "node-3"
  herald task done $id`,
	}
	cf.add(cmd)
	var total int64
	var message, owner string
	create := &cobra.Command{
		Use:     "create",
		Short:   "Create a task and print its id",
		Example: `  herald task create --total 100 --message "preloading images"`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			id, err := c.CreateTask(cmd.Context(), total, optString(cmd, "message", message), owner)
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		},
	}
	create.Flags().Int64Var(&total, "total", 0, "total progress (0 = unknown)")
	create.Flags().StringVar(&message, "message", "", "what the task is doing")
	create.Flags().StringVar(&owner, "owner", "", "access key that owns the task (default: the caller)")

	progress := &cobra.Command{
		Use:     "progress TASK_ID CURRENT",
		Short:   "Report a task's progress",
		Example: `  herald task progress 6f1c0c1e-… 40 --total 100 --message "node-3"`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			cur, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil {
				return fmt.Errorf("CURRENT %q is not an integer", args[1])
			}
			t := int64(-1)
			if cmd.Flags().Changed("total") {
				t = total
			}
			task, err := c.TaskProgress(cmd.Context(), args[0], cur, t, optString(cmd, "message", message))
			if err != nil {
				return err
			}
			return printJSON(task)
		},
	}
	progress.Flags().Int64Var(&total, "total", 0, "new total progress")
	progress.Flags().StringVar(&message, "message", "", "what the task is doing")
	cmd.AddCommand(create, progress)
	for _, how := range []string{"done", "fail", "cancel"} {
		how := how
		sub := &cobra.Command{
			Use:     how + " TASK_ID",
			Short:   map[string]string{"done": "Mark a task done", "fail": "Mark a task failed", "cancel": "Mark a task cancelled"}[how],
			Example: "  herald task " + how + ` 6f1c0c1e-… --message "finished"`,
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := cf.client()
				if err != nil {
					return err
				}
				task, err := c.FinishTask(cmd.Context(), args[0], how, optString(cmd, "message", message))
				if err != nil {
					return err
				}
				return printJSON(task)
			},
		}
		sub.Flags().StringVar(&message, "message", "", "final message")
		cmd.AddCommand(sub)
	}
	return cmd
}

func optString(cmd *cobra.Command, flag, v string) *string {
	if cmd.Flags().Changed(flag) {
		return &v
	}
	return nil
}

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
