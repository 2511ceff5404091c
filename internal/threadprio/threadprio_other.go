//go:build !linux

package threadprio

func lower(int) error { return ErrUnsupported }

func nice() (int, error) { return 0, ErrUnsupported }
