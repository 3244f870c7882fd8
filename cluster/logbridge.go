package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
)

// logWriter bridges memberlist's standard-library logger into slog. Lines
// look like "2026/11/22 00:00:00 [WARN] memberlist: ..."; the bracketed
// level picks the slog level. An [ERR] line about a lost peer connection
// (see peerLoss) becomes a WARN.
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
// is a WARN, not an ERROR an operator must act on. It matches the category
// of the underlying error, not each message that carries it. A text that
// also names a certificate or TLS failure is not peer loss, although gRPC
// reports a refused certificate as Unavailable too: that needs an
// operator. Anything else stays ERROR.
func peerLoss(text string) bool {
	for _, s := range operatorTexts {
		if strings.Contains(text, s) {
			return false
		}
	}
	for _, s := range peerLossTexts {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// peerLossTexts are the error texts of a peer gone or going: the syscall
// errors of a dead or unreachable host, Go's deadline and closed-socket
// errors, a stream cut short (EOF), gRPC's codes and messages for the
// same (a peer's remoting endpoint dying, or our own connection closing on
// shutdown), and protoactor's dead letter (actor.ErrDeadLetter: the
// target actor is gone, with its node, or, in protoactor's own logs, with
// this node's actor system as it shuts down: its gossip loop asks the
// stopped gossip actor and logs "remote no longer exists").
var peerLossTexts = []string{
	"connection refused", "connection reset", "broken pipe", "no route to host", "host is down",
	"network is unreachable", "connection timed out", "no such host", "i/o timeout",
	"use of closed network connection", "EOF", "context canceled",
	"code = Canceled", "code = Unavailable", "code = DeadlineExceeded",
	"transport is closing", "client connection is closing", "connection closed",
	"future: dead letter",
}

// operatorTexts veto peerLoss: a certificate that does not verify or is
// missing, one side speaking TLS to a plaintext peer, no TLS version or
// cipher in common.
var operatorTexts = []string{
	"x509:", "certificate", "does not look like a TLS handshake", "handshake failure", "protocol version",
}

// minLevelHandler drops records below a level. protoactor logs every
// activation and topology change at INFO; we keep its warnings. An ERROR
// about a lost peer connection (see peerLoss, looked for in the message
// and in its error attributes) is passed on as a WARN, if the handler
// below takes WARN at all.
type minLevelHandler struct {
	slog.Handler
	min slog.Level
}

func (h minLevelHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && recordPeerLoss(r) {
		if slog.LevelWarn < h.min || !h.Handler.Enabled(ctx, slog.LevelWarn) {
			return nil
		}
		r2 := slog.NewRecord(r.Time, slog.LevelWarn, r.Message, r.PC)
		r.Attrs(func(a slog.Attr) bool { r2.AddAttrs(a); return true })
		r = r2
	}
	return h.Handler.Handle(ctx, r)
}

// recordPeerLoss applies peerLoss to a record's message and error
// attributes (protoactor logs them as slog.Any("error", err)), not to its
// other attributes: a message payload or an actor name is not an error
// text.
func recordPeerLoss(r slog.Record) bool {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		if _, isErr := a.Value.Any().(error); isErr || a.Key == "error" {
			b.WriteString(" ")
			b.WriteString(a.Value.String())
		}
		return true
	})
	return peerLoss(b.String())
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
