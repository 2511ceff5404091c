package client

import (
	"context"
	"net/url"
)

// Key is an API key as the admin API reports it. Token is set only in the
// answer to CreateKey: the server keeps only its hash.
type Key struct {
	AccessKey string   `json:"accessKey"`
	Token     string   `json:"token,omitempty"`
	Role      string   `json:"role"`
	Domain    string   `json:"domain"`
	Groups    []string `json:"groups,omitempty"`
	Node      string   `json:"node,omitempty"`
}

// KeySpec is what CreateKey asks for.
type KeySpec struct {
	Role   string   `json:"role"`
	Domain string   `json:"domain,omitempty"`
	Groups []string `json:"groups,omitempty"`
	Node   string   `json:"node,omitempty"`
}

// Named is a domain or a group.
type Named struct {
	Name   string `json:"name"`
	Domain string `json:"domain,omitempty"`
}

// CreateDomain creates a tenant (superadmin).
func (c *Client) CreateDomain(ctx context.Context, name string) error {
	return c.Do(ctx, "POST", "/v1/admin/domains", map[string]string{"name": name}, nil, "")
}

// Domains lists the domains the caller administers.
func (c *Client) Domains(ctx context.Context) ([]Named, error) {
	var out []Named
	err := c.Do(ctx, "GET", "/v1/admin/domains", nil, &out, "")
	return out, err
}

// CreateGroup creates a group in a domain.
func (c *Client) CreateGroup(ctx context.Context, domain, name string) error {
	return c.Do(ctx, "POST", "/v1/admin/domains/"+url.PathEscape(domain)+"/groups", map[string]string{"name": name}, nil, "")
}

// Groups lists a domain's groups.
func (c *Client) Groups(ctx context.Context, domain string) ([]Named, error) {
	var out []Named
	err := c.Do(ctx, "GET", "/v1/admin/domains/"+url.PathEscape(domain)+"/groups", nil, &out, "")
	return out, err
}

// CreateKey creates a key; the answer holds its token, shown only here.
func (c *Client) CreateKey(ctx context.Context, spec KeySpec) (Key, error) {
	var k Key
	err := c.Do(ctx, "POST", "/v1/admin/keys", spec, &k, "")
	return k, err
}

// Keys lists keys (never their tokens); domain "" lists all the caller may.
func (c *Client) Keys(ctx context.Context, domain string) ([]Key, error) {
	path := "/v1/admin/keys"
	if domain != "" {
		path += "?domain=" + url.QueryEscape(domain)
	}
	var out []Key
	err := getAll(ctx, c, path, &out)
	return out, err
}

// RevokeKey revokes a key; its open streams end.
func (c *Client) RevokeKey(ctx context.Context, accessKey string) error {
	return c.Do(ctx, "DELETE", "/v1/admin/keys/"+url.PathEscape(accessKey), nil, nil, "")
}
