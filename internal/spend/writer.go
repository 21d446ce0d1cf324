package spend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// Options configures a Writer. Zero fields take the defaults shown.
type Options struct {
	// FlushInterval is how often queued rows are written (default 1s). It
	// is the crash-loss bound: see Writer.
	FlushInterval time.Duration
	// BatchSize is the most rows per InsertSpend call (default 500). A
	// full batch is written at once, without waiting for the interval.
	BatchSize int
	// QueueSize bounds the rows held in memory for the store (default
	// 100_000). Rows recorded beyond it go to the spill file instead; they
	// wait in memory only until the flusher's next wake-up, which Record
	// triggers at once. Memory is unbounded only if the disk, too, is
	// slower than the request rate (Stats.Queued shows it): a row is never
	// dropped and Record never waits for I/O, so that is the trade left.
	QueueSize int
	// SpillDir holds the spill files (created if missing; required). It
	// must be on local disk and not shared with another running process:
	// a Writer replays and deletes every spill file it finds there.
	SpillDir string
	// SpillAfter is how long a failing store is retried from memory before
	// the rows held for it are written to the spill file (default 5s).
	// After that, while the store stays down, each flush spills instead.
	SpillAfter time.Duration
	// MaxBackoff caps the wait between attempts on a failing store
	// (default 5s). The wait starts at FlushInterval and doubles.
	MaxBackoff time.Duration
	// InsertTimeout bounds one InsertSpend call (default 5s), so a store
	// that hangs counts as failing instead of stalling the writer. It is
	// part of the crash-loss bound during a hang (measured: a 30 s timeout
	// held 30 s of rows in memory only); a batch that times out is rolled
	// back and retried, which idempotent inserts make harmless.
	InsertTimeout time.Duration
	// Now is the clock, for spill-file names and outage timing
	// (default time.Now).
	Now func() time.Time
}

// Stats are a Writer's counters, for metrics. Counts are rows unless
// named otherwise, and cumulative except Queued.
type Stats struct {
	Queued        int    // in memory now: waiting for the store or the spill file
	Written       uint64 // acknowledged by the store from memory (rows it already had included)
	Spilled       uint64 // appended to spill files
	Replayed      uint64 // read back from spill files and acknowledged by the store
	Rejected      uint64 // refused by the store as invalid; set aside in rejected-*.jsonl
	FailedBatches uint64 // InsertSpend calls that failed (each retried later)
	SpillErrors   uint64 // spill-file writes that failed (the rows stay in memory)
	Lost          uint64 // rows neither the store nor the disk would take at Close (logged)
}

// Writer writes spend rows to a SpendStore in batches, off the request
// path, and never drops one: when the store cannot take rows they go to an
// append-only spill file, which is replayed once the store is back and on
// the next start.
//
// Durability: a row is in memory from Record until its batch is
// acknowledged by the store or fsynced to a spill file, and only then
// leaves memory. A flush starts at least every FlushInterval, so a kill -9
// loses at most the rows recorded in the last FlushInterval plus the time
// of one InsertSpend — provided the store keeps up; with a backlog (rows
// beyond one batch per interval) older rows can be waiting too. While the
// store is failing, rows are retried from memory for SpillAfter and then
// spilled every FlushInterval, so during an outage the bound is
// SpillAfter + FlushInterval, plus InsertTimeout when the store hangs
// rather than refusing (packets dropped). Close loses nothing: it writes every row to
// the store or, failing that, to the spill file.
//
// Replay relies on InsertSpend being idempotent by request id: a crash
// between inserting a spill file's rows and deleting the file, or a row
// that was both inserted and spilled, only causes a re-insert the store
// skips.
type Writer struct {
	st  store.SpendStore
	o   Options
	log *slog.Logger

	// ctx is cancelled when the writer is abandoned, to unblock a store
	// call in flight.
	ctx    context.Context
	cancel context.CancelFunc

	// mu guards the rows in memory. Rows leave these slices only once they
	// are durable (acknowledged or fsynced), so Close can always find every
	// row not yet safe, whatever the flusher is doing.
	mu       sync.Mutex
	queue    []store.SpendRow // recorded, not yet taken by the flusher
	batch    []store.SpendRow // taken by the flusher; batch[off:] not yet durable
	off      int
	spare    []store.SpendRow // a cleared array for the next queue, or nil
	overflow []store.SpendRow // recorded while the queue was full: for the spill file
	closed   bool             // Close was called: Record spills directly
	// abandoned: Close gave up waiting for the flusher and took the rows;
	// the flusher must not touch them again.
	abandoned bool

	wake     chan struct{} // a full batch or overflow is waiting (capacity 1)
	stop     chan struct{} // closed by Close
	kill     chan struct{} // closed by tests to simulate kill -9
	done     chan struct{} // closed when the flusher exits
	closeCtx context.Context
	closeErr error // set by the flusher before done is closed

	closeMu   sync.Mutex // serialises Close calls
	closeDone bool
	closeRes  error

	sp        spiller
	haveFiles atomic.Bool // spill files may be waiting for replay
	inStore   atomic.Bool // the flusher is in an InsertSpend call

	written, spilled, replayed, rejected, failedBatches, spillErrors, lost atomic.Uint64

	// Flusher-only state.
	failingSince time.Time // zero while the store is healthy
	nextTry      time.Time
	backoff      time.Duration
}

// NewWriter starts a Writer on st. Spill files left in o.SpillDir by an
// earlier run (a crash, or an outage that outlasted it) are replayed in
// the background as soon as the store accepts writes; until then they stay
// on disk.
func NewWriter(st store.SpendStore, o Options, log *slog.Logger) (*Writer, error) {
	if st == nil {
		return nil, errors.New("spend: NewWriter: nil store")
	}
	if o.SpillDir == "" {
		return nil, errors.New("spend: NewWriter: Options.SpillDir is required: rows the store cannot take are kept there")
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 500
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 100_000
	}
	if o.SpillAfter <= 0 {
		o.SpillAfter = 5 * time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 5 * time.Second
	}
	if o.InsertTimeout <= 0 {
		o.InsertTimeout = 5 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	w := &Writer{
		st:   st,
		o:    o,
		log:  log.With("component", "spend"),
		wake: make(chan struct{}, 1),
		stop: make(chan struct{}),
		kill: make(chan struct{}),
		done: make(chan struct{}),
	}
	if err := w.sp.init(o.SpillDir, o.Now); err != nil {
		return nil, err
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	w.haveFiles.Store(true) // whatever an earlier run left
	go w.run()
	return w, nil
}

// Record queues one row for the store. It never blocks on I/O and never
// drops the row: it only appends under a mutex (amortised O(1), no
// allocation once the buffers have grown). When the in-memory queue is
// full the row is handed to the flusher for the spill file instead; after
// Close it is written to the spill file directly.
func (w *Writer) Record(row store.SpendRow) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.spillDirect(row)
		return
	}
	if len(w.queue)+len(w.batch)-w.off >= w.o.QueueSize {
		w.overflow = append(w.overflow, row)
		w.mu.Unlock()
		w.signal()
		return
	}
	w.queue = append(w.queue, row)
	n := len(w.queue)
	w.mu.Unlock()
	if n == w.o.BatchSize {
		w.signal()
	}
}

func (w *Writer) signal() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// Close stops the Writer after writing every queued row to the store, or,
// for the rows it cannot write before ctx ends, to the spill file; the
// error then says how many rows were spilled (they are replayed on the
// next start, not lost). If the store hangs past ctx, Close takes the rows
// from the flusher and spills them itself. Rows recorded after Close go
// straight to the spill file. Calling Close again returns the first
// call's result.
func (w *Writer) Close(ctx context.Context) error {
	w.closeMu.Lock()
	defer w.closeMu.Unlock()
	if w.closeDone {
		return w.closeRes
	}
	w.closeDone = true
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	w.closeCtx = ctx
	close(w.stop)
	for waiting := false; ; {
		select {
		case <-w.done:
			w.closeRes = w.closeErr
			return w.closeRes
		case <-ctx.Done():
		}
		if w.inStore.Load() {
			break
		}
		// Past the deadline but not in a store call: the flusher is
		// spilling, or about to notice ctx. Let it finish rather than
		// write the same rows twice.
		if !waiting {
			waiting = true
			w.log.Warn("spend writer: close deadline passed; waiting for the spill to finish")
		}
		select {
		case <-w.done:
			w.closeRes = w.closeErr
			return w.closeRes
		case <-time.After(10 * time.Millisecond):
		}
	}
	// The flusher is stuck in a store call that ignores its context.
	// Every row not yet durable is still in memory (see mu), so spill them
	// all here; any the store takes as well are skipped on replay.
	w.mu.Lock()
	w.abandoned = true
	rows := make([]store.SpendRow, 0, len(w.batch)-w.off+len(w.queue)+len(w.overflow))
	rows = append(append(append(rows, w.batch[w.off:]...), w.queue...), w.overflow...)
	w.batch, w.off, w.queue, w.overflow = nil, 0, nil, nil
	w.mu.Unlock()
	w.cancel()
	w.closeRes = w.spillFinal(rows, ctx.Err())
	return w.closeRes
}

// spillFinal writes the rows left at Close to the spill file and describes
// the outcome as Close's error.
func (w *Writer) spillFinal(rows []store.SpendRow, cause error) error {
	if len(rows) == 0 {
		return nil
	}
	if err := w.sp.write(rows); err != nil {
		w.spillErrors.Add(1)
		w.lost.Add(uint64(len(rows)))
		for _, r := range rows {
			w.log.Error("spend row lost: store and spill file both failed at close", "request_id", r.RequestID, "cost", r.Cost, "key", r.KeyHash, "error", err)
		}
		return fmt.Errorf("spend: %d rows LOST at close: store: %v; spill file: %w", len(rows), cause, err)
	}
	w.spilled.Add(uint64(len(rows)))
	w.haveFiles.Store(true)
	return fmt.Errorf("spend: store did not take %d rows before shutdown; spilled them to %s for replay at the next start: %w", len(rows), w.sp.dir, cause)
}

// spillDirect writes one row recorded after Close.
func (w *Writer) spillDirect(row store.SpendRow) {
	rows := []store.SpendRow{row}
	if err := w.sp.write(rows); err != nil {
		w.spillErrors.Add(1)
		w.lost.Add(1)
		w.log.Error("spend row lost: recorded after close and the spill file failed", "request_id", row.RequestID, "cost", row.Cost, "key", row.KeyHash, "error", err)
		return
	}
	w.spilled.Add(1)
	w.haveFiles.Store(true)
}

// Stats returns the current counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	q := len(w.queue) + len(w.batch) - w.off + len(w.overflow)
	w.mu.Unlock()
	return Stats{
		Queued:        q,
		Written:       w.written.Load(),
		Spilled:       w.spilled.Load(),
		Replayed:      w.replayed.Load(),
		Rejected:      w.rejected.Load(),
		FailedBatches: w.failedBatches.Load(),
		SpillErrors:   w.spillErrors.Load(),
		Lost:          w.lost.Load(),
	}
}

// run is the flusher: the one goroutine that talks to the store.
func (w *Writer) run() {
	defer close(w.done)
	t := time.NewTicker(w.o.FlushInterval)
	defer t.Stop()
	for {
		w.cycle()
		select {
		case <-w.kill:
			return
		case <-w.stop:
			w.closeErr = w.drain(w.closeCtx)
			return
		case <-t.C:
		case <-w.wake:
		}
	}
}

// cycle is one flush: overflow to disk, the queue to the store (or to
// disk once the store has failed for SpillAfter), then any spill files
// back to the store.
func (w *Writer) cycle() {
	w.spillOverflow()
	now := w.o.Now()
	if !now.Before(w.nextTry) {
		// During an outage the queue has been spilled, so replaying the
		// oldest spill file is what probes the store.
		err := w.flushQueue(w.ctx)
		if err == nil && w.haveFiles.Load() {
			err = w.replayAll()
		}
		if err != nil {
			w.failing(err)
		} else {
			w.healthy()
		}
	}
	if !w.failingSince.IsZero() && w.o.Now().Sub(w.failingSince) >= w.o.SpillAfter {
		w.spillQueue()
	}
}

// take returns up to limit rows for the store or the spill file, leaving
// them in memory until ack. When the flusher's batch is used up the queue
// becomes the batch and a spare, already cleared array becomes the queue,
// so that Record stops allocating once the buffers have grown and never
// waits while a large array is cleared.
func (w *Writer) take(limit int) []store.SpendRow {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.abandoned {
		return nil
	}
	if w.off >= len(w.batch) {
		if len(w.queue) == 0 {
			return nil
		}
		done := w.batch
		w.batch, w.off = w.queue, 0
		w.queue, w.spare = w.spare, nil
		w.mu.Unlock()
		w.recycle(done)
		w.mu.Lock()
		if w.abandoned {
			return nil
		}
	}
	n := min(limit, len(w.batch)-w.off)
	return w.batch[w.off : w.off+n : w.off+n]
}

// recycle clears a written batch, outside the lock, and offers its array
// as the next queue.
func (w *Writer) recycle(done []store.SpendRow) {
	if cap(done) == 0 {
		return
	}
	clear(done) // drop references to rows already written, for the GC
	w.mu.Lock()
	if w.spare == nil && !w.abandoned {
		w.spare = done[:0]
	}
	w.mu.Unlock()
}

// ack releases n rows returned by take: they are durable now.
func (w *Writer) ack(n int) {
	w.mu.Lock()
	if !w.abandoned {
		w.off += n
	}
	w.mu.Unlock()
}

// flushQueue writes every queued row to the store, one batch at a time.
func (w *Writer) flushQueue(ctx context.Context) error {
	for {
		rows := w.take(w.o.BatchSize)
		if len(rows) == 0 {
			return nil
		}
		if err := w.insert(ctx, rows); err != nil {
			return err
		}
		w.ack(len(rows))
		w.written.Add(uint64(len(rows)))
	}
}

// insert writes rows to the store. A row the store can never take
// (ErrInvalid: an empty request id, an unknown status) fails the whole
// batch, so on ErrInvalid the rows are retried one at a time and the bad
// ones set aside in a rejected file rather than holding the rest hostage.
func (w *Writer) insert(ctx context.Context, rows []store.SpendRow) error {
	err := w.insertOnce(ctx, rows)
	if err == nil || !errors.Is(err, store.ErrInvalid) {
		return err
	}
	var bad []store.SpendRow
	for i := range rows {
		e := w.insertOnce(ctx, rows[i:i+1])
		switch {
		case e == nil:
		case errors.Is(e, store.ErrInvalid):
			bad = append(bad, rows[i])
			w.log.Error("spend row rejected by the store; kept in the rejected file", "request_id", rows[i].RequestID, "cost", rows[i].Cost, "error", e)
		default:
			return e // the store failed part-way: retry the batch later
		}
	}
	w.rejected.Add(uint64(len(bad)))
	if err := w.sp.reject(bad); err != nil {
		w.lost.Add(uint64(len(bad)))
		w.log.Error("spend rows rejected by the store could not be kept", "rows", len(bad), "error", err)
	}
	return nil
}

func (w *Writer) insertOnce(ctx context.Context, rows []store.SpendRow) error {
	ctx, cancel := context.WithTimeout(ctx, w.o.InsertTimeout)
	defer cancel()
	w.inStore.Store(true)
	_, err := w.st.InsertSpend(ctx, rows)
	w.inStore.Store(false)
	if err != nil {
		w.failedBatches.Add(1)
	}
	return err
}

func (w *Writer) failing(err error) {
	now := w.o.Now()
	if w.failingSince.IsZero() {
		w.failingSince = now
		w.log.Warn("spend store failing; retrying, rows are kept in memory and then spilled to disk", "error", err, "spill_after", w.o.SpillAfter)
	}
	if w.backoff == 0 {
		w.backoff = w.o.FlushInterval
	} else {
		w.backoff = min(2*w.backoff, w.o.MaxBackoff)
	}
	w.nextTry = now.Add(w.backoff)
}

func (w *Writer) healthy() {
	if !w.failingSince.IsZero() {
		w.log.Info("spend store recovered", "outage", w.o.Now().Sub(w.failingSince))
	}
	w.failingSince, w.nextTry, w.backoff = time.Time{}, time.Time{}, 0
}

// spillOverflow writes the rows recorded while the queue was full.
func (w *Writer) spillOverflow() {
	w.mu.Lock()
	rows := w.overflow[:len(w.overflow):len(w.overflow)]
	w.mu.Unlock()
	if len(rows) == 0 {
		return
	}
	if err := w.sp.write(rows); err != nil {
		w.spillErrors.Add(1)
		w.log.Error("spend spill file write failed; rows stay in memory and are retried", "rows", len(rows), "error", err)
		return
	}
	w.spilled.Add(uint64(len(rows)))
	w.haveFiles.Store(true)
	w.mu.Lock()
	if !w.abandoned {
		// Record may have appended meanwhile; drop only what was written,
		// keeping the array for the next overflow.
		n := copy(w.overflow, w.overflow[len(rows):])
		clear(w.overflow[n:])
		w.overflow = w.overflow[:n]
	}
	w.mu.Unlock()
}

// spillQueue writes every row held for the store to the spill file, for
// an outage that has lasted SpillAfter.
func (w *Writer) spillQueue() {
	for {
		rows := w.take(math.MaxInt)
		if len(rows) == 0 {
			return
		}
		if err := w.sp.write(rows); err != nil {
			w.spillErrors.Add(1)
			w.log.Error("spend spill file write failed; rows stay in memory and are retried", "rows", len(rows), "error", err)
			return
		}
		w.spilled.Add(uint64(len(rows)))
		w.haveFiles.Store(true)
		w.ack(len(rows))
	}
}

// drain is the flusher's part of Close: everything in memory to the store,
// and what the store will not take to the spill file. As in a running
// writer, a failing store is retried until it has failed for SpillAfter
// (a blip should not strand rows on this host's disk), or until ctx ends.
func (w *Writer) drain(ctx context.Context) error {
	w.mu.Lock()
	w.queue = append(w.queue, w.overflow...)
	w.overflow = nil
	w.mu.Unlock()
	since := w.failingSince
	if since.IsZero() {
		since = w.o.Now()
	}
	backoff := w.o.FlushInterval
	var err error
	for {
		if err = w.flushQueue(ctx); err == nil {
			return nil
		}
		left := w.o.SpillAfter - w.o.Now().Sub(since)
		if ctx.Err() != nil || left <= 0 {
			break
		}
		t := time.NewTimer(min(backoff, left))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, w.o.MaxBackoff)
	}
	w.mu.Lock()
	if w.abandoned {
		w.mu.Unlock()
		return nil // Close took the rows and reports on them
	}
	rows := append(w.batch[w.off:len(w.batch):len(w.batch)], w.queue...) // a copy
	w.mu.Unlock()
	res := w.spillFinal(rows, err)
	w.mu.Lock()
	if !w.abandoned { // else Close spilled them too: a harmless duplicate
		w.batch, w.off, w.queue = nil, 0, nil
	}
	w.mu.Unlock()
	return res
}
