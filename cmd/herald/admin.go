package main

import (
	"fmt"
	"net/url"

	"github.com/spf13/cobra"
)

func newAdminCmd() *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{
		Use:   "admin",
		Short: "Manage domains, groups and keys",
		Example: `  herald admin domains create acme
  herald admin groups create acme research
  herald admin keys create --role user --domain acme --group research
  herald admin keys list --domain acme
  herald admin keys revoke HKX5Q3…`,
	}
	cf.add(cmd)
	call := func(cmd *cobra.Command, method, path string, body any) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		var out any
		if err := c.Do(cmd.Context(), method, path, body, &out, ""); err != nil {
			return err
		}
		if out == nil {
			return nil
		}
		return printJSON(out)
	}
	domains := &cobra.Command{Use: "domains", Short: "Create and list domains (tenants)"}
	domains.AddCommand(&cobra.Command{
		Use: "create NAME", Short: "Create a domain", Args: cobra.ExactArgs(1),
		Example: "  herald admin domains create acme",
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, "POST", "/v1/admin/domains", map[string]string{"name": args[0]})
		},
	}, &cobra.Command{
		Use: "list", Short: "List domains", Args: cobra.NoArgs, Example: "  herald admin domains list",
		RunE: func(cmd *cobra.Command, args []string) error { return call(cmd, "GET", "/v1/admin/domains", nil) },
	})
	groups := &cobra.Command{Use: "groups", Short: "Create and list a domain's groups"}
	groups.AddCommand(&cobra.Command{
		Use: "create DOMAIN NAME", Short: "Create a group", Args: cobra.ExactArgs(2),
		Example: "  herald admin groups create acme research",
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, "POST", "/v1/admin/domains/"+url.PathEscape(args[0])+"/groups", map[string]string{"name": args[1]})
		},
	}, &cobra.Command{
		Use: "list DOMAIN", Short: "List a domain's groups", Args: cobra.ExactArgs(1),
		Example: "  herald admin groups list acme",
		RunE: func(cmd *cobra.Command, args []string) error {
			return call(cmd, "GET", "/v1/admin/domains/"+url.PathEscape(args[0])+"/groups", nil)
		},
	})
	keys := &cobra.Command{Use: "keys", Short: "Create, list and revoke keys"}
	var role, domain, node string
	var groupNames []string
	var tokenOnly bool
	create := &cobra.Command{
		Use: "create", Short: "Create a key; its token is printed once", Args: cobra.NoArgs,
		Example: `  herald admin keys create --role service --domain acme
  herald admin keys create --role node --domain acme --node web-1
  NODE_TOKEN=$(herald admin keys create --role node --domain acme --node web-1 --token-only)`,
		RunE: func(cmd *cobra.Command, args []string) error {
			body := map[string]any{"role": role, "domain": domain}
			if len(groupNames) > 0 {
				body["groups"] = groupNames
			}
			if node != "" {
				body["node"] = node
			}
			if tokenOnly {
				c, err := cf.client()
				if err != nil {
					return err
				}
				var out struct {
					Token string `json:"token"`
				}
				if err := c.Do(cmd.Context(), "POST", "/v1/admin/keys", body, &out, ""); err != nil {
					return err
				}
				fmt.Println(out.Token)
				return nil
			}
			return call(cmd, "POST", "/v1/admin/keys", body)
		},
	}
	create.Flags().StringVar(&role, "role", "user", "superadmin, admin, user, service or node")
	create.Flags().StringVar(&domain, "domain", "default", "the key's domain")
	create.Flags().StringSliceVar(&groupNames, "group", nil, "a group of the domain the key belongs to (repeatable)")
	create.Flags().StringVar(&node, "node", "", "node name (node keys)")
	create.Flags().BoolVar(&tokenOnly, "token-only", false, "print only the new token (for scripts: T=$(herald admin keys create … --token-only))")
	var listDomain string
	list := &cobra.Command{
		Use: "list", Short: "List keys (never their tokens)", Args: cobra.NoArgs,
		Example: "  herald admin keys list --domain acme",
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/v1/admin/keys"
			if listDomain != "" {
				path += "?domain=" + url.QueryEscape(listDomain)
			}
			return call(cmd, "GET", path, nil)
		},
	}
	list.Flags().StringVar(&listDomain, "domain", "", "only this domain's keys")
	revoke := &cobra.Command{
		Use: "revoke ACCESS_KEY", Short: "Revoke a key and end its open streams", Args: cobra.ExactArgs(1),
		Example: "  herald admin keys revoke HKX5Q3…",
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := call(cmd, "DELETE", "/v1/admin/keys/"+url.PathEscape(args[0]), nil); err != nil {
				return err
			}
			fmt.Println("revoked", args[0])
			return nil
		},
	}
	keys.AddCommand(create, list, revoke)
	cmd.AddCommand(domains, groups, keys)
	return cmd
}
