package telemetry

import (
	"io"
	"log/slog"
	"strings"

	"github.com/switchboard-gw/switchboard/internal/provider"
)

// NewLogger returns the gateway's logger: JSON or text to w at level, with
// credentials redacted from every attribute whatever code logged it.
func NewLogger(w io.Writer, level slog.Level, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: redactAttr}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// sensitiveKeys are attribute names whose values are never logged.
var sensitiveKeys = []string{"key", "authorization", "token", "password", "secret", "credential"}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range sensitiveKeys {
		if strings.Contains(k, s) && !strings.HasSuffix(k, "_id") && !strings.HasSuffix(k, "_alias") && !strings.HasSuffix(k, "_tokens") {
			return slog.String(a.Key, "[REDACTED]")
		}
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); strings.Contains(s, "sk-") || strings.Contains(s, "AIza") || len(s) >= 32 {
			return slog.String(a.Key, provider.Redact(s, ""))
		}
	case slog.KindAny:
		if err, ok := a.Value.Any().(error); ok && err != nil {
			return slog.String(a.Key, provider.Redact(err.Error(), ""))
		}
	}
	return a
}
