package views

import "context"

// advance records that seq was applied and wakes its waiters.
func (v *Views) advance(seq uint64) { v.applied.Advance(seq) }

// WaitFor blocks until the record at seq has been applied.
func (v *Views) WaitFor(ctx context.Context, seq uint64) error { return v.applied.Wait(ctx, seq) }
