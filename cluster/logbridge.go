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
	w.logger.Log(context.Background(), level, line)
	return len(p), nil
}

// minLevelHandler drops records below a level. protoactor logs every
// activation and topology change at INFO; we keep its warnings.
type minLevelHandler struct {
	slog.Handler
	min slog.Level
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
