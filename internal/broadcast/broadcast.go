// Package broadcast tells every gateway replica that a cached record changed.
//
// Replicas cache virtual keys (and team/user/customer records) for a few
// seconds; without a broadcast an admin's update, block or delete on one
// replica would keep being served stale by the others until their copies
// expire. Messages carry only (kind, id): receivers drop their copy and
// reload from the database, so a message can be lost, duplicated or
// reordered without harm as long as a possible loss is signalled by Reset.
package broadcast

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// Handler receives every message published on the bus (also the ones this
// process published itself — callers make handling idempotent). Reset is
// called when messages may have been missed (the subscription was down), so
// the receiver must drop everything it cached.
//
// Publish calls the handler on the publisher's goroutine while a Redis bus
// also calls it from its receive goroutine, so a Handler must be safe for
// concurrent use. It must not call Close of the bus that feeds it: Close
// waits for the delivery goroutine, which would be waiting for the handler.
type Handler interface {
	Message(kind, id string)
	Reset()
}

// Bus carries invalidations between replicas.
type Bus interface {
	// Publish sends (kind, id) to every replica, this one included. It must
	// not block the caller for long: bounded by ctx.
	Publish(ctx context.Context, kind, id string) error
	// Close stops delivery and releases resources; safe to call twice.
	Close() error
}

// sep separates the fields of the wire format; ids may contain it because
// they are the last field.
const sep = "|"

// errClosed is returned by Publish after Close: delivering would contradict
// the caller having stopped the bus.
var errClosed = errors.New("broadcast: bus is closed")

// validKind keeps the wire format unambiguous. An empty kind is a caller
// bug: no receiver could tell what to invalidate.
func validKind(kind string) error {
	if kind == "" {
		return errors.New("broadcast: empty kind")
	}
	if strings.Contains(kind, sep) {
		return fmt.Errorf("broadcast: kind %q contains %q", kind, sep)
	}
	return nil
}

// encode builds "<sender>|<kind>|<id>". The sender is not needed for
// delivery (echoes are delivered too); it names the replica in logs and
// lets a later version suppress echoes without changing the format under a
// rolling deploy.
func encode(sender, kind, id string) string {
	return sender + sep + kind + sep + id
}

func decode(payload string) (sender, kind, id string, ok bool) {
	sender, rest, ok := strings.Cut(payload, sep)
	if !ok {
		return "", "", "", false
	}
	kind, id, ok = strings.Cut(rest, sep)
	if !ok || kind == "" {
		return "", "", "", false
	}
	return sender, kind, id, true
}

type local struct {
	h      Handler
	closed atomic.Bool
}

// NewLocal is the bus for a single replica: there is nobody else to tell,
// so publishing is just a synchronous call into h.
func NewLocal(h Handler) Bus {
	return &local{h: h}
}

func (l *local) Publish(_ context.Context, kind, id string) error {
	if err := validKind(kind); err != nil {
		return err
	}
	if l.closed.Load() {
		return errClosed
	}
	l.h.Message(kind, id)
	return nil
}

func (l *local) Close() error {
	l.closed.Store(true)
	return nil
}
