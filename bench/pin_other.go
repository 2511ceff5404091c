//go:build !linux

package bench

import (
	"errors"
	"os/exec"
)

var errNoPin = errors.New("pinning processes to CPUs needs Linux")

func allowedCPUs() ([]int, error) { return nil, errNoPin }

func startOn(cmd *exec.Cmd, cpus []int) error {
	if cpus != nil {
		return errNoPin
	}
	return cmd.Start()
}

func pinProcess([]int) (func(), error) { return nil, errNoPin }
