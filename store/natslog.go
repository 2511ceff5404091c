package store

import (
	"context"
	"fmt"
	"log/slog"
)

// natsLogger hands the embedded NATS server's log lines to herald's slog
// logger (it implements nats-server's server.Logger): notices and debug
// lines at debug (the server's start-up banner is noise in herald's log),
// warnings at warn, errors and fatal errors at error. Traces (message
// contents) are never logged. The server's lines name no secrets: it
// never logs passwords, and herald gives it no other.
type natsLogger struct {
	log *slog.Logger
}

func (l natsLogger) logf(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	l.log.Log(context.Background(), level, "nats: "+fmt.Sprintf(format, v...), "component", "nats-server")
}

// Noticef logs a notice at debug.
func (l natsLogger) Noticef(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Warnf logs a warning at warn.
func (l natsLogger) Warnf(format string, v ...any) { l.logf(slog.LevelWarn, format, v) }

// Errorf logs an error at error.
func (l natsLogger) Errorf(format string, v ...any) { l.logf(slog.LevelError, format, v) }

// Fatalf logs at error; the store's health check notices what failed
// (herald does not let the embedded server end the process).
func (l natsLogger) Fatalf(format string, v ...any) { l.logf(slog.LevelError, "fatal: "+format, v) }

// Debugf logs at debug.
func (l natsLogger) Debugf(format string, v ...any) { l.logf(slog.LevelDebug, format, v) }

// Tracef drops the line: traces carry message payloads.
func (l natsLogger) Tracef(string, ...any) {}
