package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// maxReason bounds the reason a message carries.
const maxReason = 200

// canRun checks, at commit time, what would stop job from running on this
// node: its run-as user (unknown, or not this agent's to take), its dir
// (missing, not a directory) and its file (malformed, or no room to write
// it). The error is the nack's reason.
func canRun(job Job) error {
	if _, _, err := runAs(job.User); err != nil {
		return err
	}
	if err := checkDir(job.Dir); err != nil {
		return err
	}
	if job.File != "" {
		if _, err := decodeJobFile(job.File); err != nil {
			return err
		}
		f, err := os.CreateTemp("", "herald-check-"+job.ID+"-*")
		if err != nil {
			return fmt.Errorf("cannot write the job file: %w", err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

// checkDir: "" (the agent's own) or an existing directory.
func checkDir(dir string) error {
	if dir == "" {
		return nil
	}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("dir %s does not exist", dir)
	case err != nil:
		return fmt.Errorf("dir %s: %w", dir, errors.Unwrap(err))
	case !st.IsDir():
		return fmt.Errorf("dir %s is not a directory", dir)
	}
	return nil
}

// shortReason cuts s to maxReason bytes (on a rune boundary).
func shortReason(s string) string {
	if len(s) <= maxReason {
		return s
	}
	cut := maxReason
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
