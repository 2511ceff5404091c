//go:build !linux

package api

import "context"

// goneWatch is Linux's epoll watcher of departed clients; elsewhere there
// is none, and the wheel looks at every served stream twice a second
// (see runWheel).
type goneWatch struct{}

func newGoneWatch(*wheel) *goneWatch                    { return nil }
func (g *goneWatch) add(*stream) bool                   { return false }
func (g *goneWatch) remove(*stream)                     {}
func (g *goneWatch) run(context.Context, func(*stream)) {}
func (g *goneWatch) close()                             {}
