// Package spend prices requests and records them durably.
//
// Pricing: a Table of per-model prices (embedded, optionally overlaid by a
// price file and per-deployment overrides) and Cost, which turns token
// usage into integer micro-dollars. Integer micro-dollars, with prices
// held per million tokens, make every cost exact and every sum independent
// of order, so a ledger rebuilt by replay adds up to the same total.
//
// Recording: a Writer takes finished requests' spend rows on the hot path
// without blocking and writes them to the store in batches from one
// background goroutine. When the store is down or too slow the rows go to
// append-only spill files on local disk and are replayed when it is back;
// InsertSpend's idempotence by request id makes any replay harmless. What
// a kill -9 can lose is the rows recorded in the last FlushInterval (see
// Writer); a graceful Close loses nothing.
//
// The package does no HTTP: callers hand it usage and rows.
package spend
