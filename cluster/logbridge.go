package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
)

// logWriter bridges memberlist's standard-library logger into slog. Lines
// look like "2026/11/22 00:00:00 [WARN] memberlist: ..."; the bracketed
// level picks the slog level.
type logWriter struct {
	logger *slog.Logger
}

func (w logWriter) Write(p []byte) (int, error) {
	line := string(bytes.TrimRight(p, "\n"))
	level := slog.LevelInfo
	if i := strings.Index(line, "["); i >= 0 {
		if j := strings.Index(line[i:], "]"); j > 0 {
			switch line[i+1 : i+j] {
			case "DEBUG", "TRACE":
				level = slog.LevelDebug
			case "INFO":
				level = slog.LevelInfo
			case "WARN":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			line = strings.TrimSpace(line[i+j+1:])
		}
	}
	if level == slog.LevelError && peerLoss(line) {
		level = slog.LevelWarn
	}
	w.logger.Log(context.Background(), level, line)
	return len(p), nil
}

// peerLoss says whether an error text is the routine sign of a peer that
// went away or of a connection being closed (a peer killed, restarted or
// partitioned, or this node shutting down): the cluster handles it, so it
// is a WARN, not an ERROR an operator must act on. Errors that are not
// about a lost connection stay ERROR.
func peerLoss(text string) bool {
	for _, s := range peerLossTexts {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

var peerLossTexts = []string{
	"connection refused", "connection reset", "broken pipe", "no route to host", "host is down",
	"network is unreachable", "i/o timeout", "use of closed network connection", "EOF",
	"context canceled", "code = Canceled", "code = Unavailable", "code = DeadlineExceeded",
	"transport is closing", "client connection is closing", "connection closed",
}

// minLevelHandler drops records below a level. protoactor logs every
// activation and topology change at INFO; we keep its warnings. An ERROR
// about a lost peer connection (see peerLoss, looked for in the message
// and its attributes) is passed on as a WARN.
type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError {
		lost := peerLoss(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			lost = lost || peerLoss(a.Value.String())
			return !lost
		})
		if lost {
			r2 := slog.NewRecord(r.Time, slog.LevelWarn, r.Message, r.PC)
			r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
			r = r2
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h minLevelHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevelHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevelHandler{h.Handler.WithAttrs(a), h.min}
}

func (h minLevelHandler) WithGroup(n string) slog.Handler {
	return minLevelHandler{h.Handler.WithGroup(n), h.min}
}
