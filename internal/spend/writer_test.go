package spend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite" // driver "sqlite"

	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/store/sqlstore"
)

// openStore returns a migrated SQLite store in a temporary file.
func openStore(t testing.TB) *sqlstore.Store {
	t.Helper()
	driver, dsn, d, err := sqlstore.DriverFor(filepath.Join(t.TempDir(), "spend.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, err := sqlstore.Open(db, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// flaky wraps a store and fails or hangs on demand, as a database that is
// down or stuck would.
type flaky struct {
	store.SpendStore
	fail     atomic.Bool
	hang     chan struct{} // when non-nil, InsertSpend blocks until it is closed, ignoring ctx
	calls    atomic.Int64
	maxBatch atomic.Int64
	mu       sync.Mutex
}

var errDown = errors.New("database is down")

func (f *flaky) InsertSpend(ctx context.Context, rows []store.SpendRow) (int, error) {
	f.calls.Add(1)
	for {
		m := f.maxBatch.Load()
		if int64(len(rows)) <= m || f.maxBatch.CompareAndSwap(m, int64(len(rows))) {
			break
		}
	}
	f.mu.Lock()
	h := f.hang
	f.mu.Unlock()
	if h != nil {
		<-h
	}
	if f.fail.Load() {
		return 0, errDown
	}
	return f.SpendStore.InsertSpend(ctx, rows)
}

func (f *flaky) setHang(h chan struct{}) {
	f.mu.Lock()
	f.hang = h
	f.mu.Unlock()
}

var rowTime = time.Date(2026, 3, 18, 12, 0, 0, 0, time.UTC)

func row(id string, cost int64) store.SpendRow {
	return store.SpendRow{
		RequestID: id, StartTime: rowTime, EndTime: rowTime.Add(time.Second),
		KeyHash: "k1", ModelGroup: "gpt-4o", Provider: "openai",
		PromptTokens: 10, CompletionTokens: 5, Cost: cost, Status: store.StatusOK,
		Tags: []string{"t"}, Metadata: map[string]any{"n": id},
	}
}

// ledger returns the number of ledger rows and what the daily aggregates
// say: if a row were counted twice the aggregates would show it even
// though the ledger's primary key keeps the row itself unique.
func ledger(t testing.TB, s store.SpendStore) (rows int, requests, spend int64) {
	t.Helper()
	ctx := context.Background()
	_, n, err := s.ListSpend(ctx, store.SpendFilter{Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.SpendReport(ctx, store.ReportFilter{GroupBy: store.EntityModel})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep {
		requests += r.Requests
		spend += r.Spend
	}
	return n, requests, spend
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func spillFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "spend-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func newWriter(t testing.TB, st store.SpendStore, o Options) *Writer {
	t.Helper()
	if o.SpillDir == "" {
		o.SpillDir = t.TempDir()
	}
	w, err := NewWriter(st, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// crash stops the Writer as kill -9 would: no flush and no spill; rows in
// memory are abandoned. A store call already running completes, as a
// committed transaction would.
func (w *Writer) crash() {
	close(w.kill)
	<-w.done
	w.cancel()
	w.sp.close()
}

func TestNewWriterNeedsSpillDir(t *testing.T) {
	if _, err := NewWriter(openStore(t), Options{}, nil); err == nil || !strings.Contains(err.Error(), "SpillDir") {
		t.Fatalf("NewWriter without SpillDir: %v", err)
	}
}

func TestWriterBatches(t *testing.T) {
	st := &flaky{SpendStore: openStore(t)}
	w := newWriter(t, st, Options{FlushInterval: 20 * time.Millisecond, BatchSize: 10})
	for i := range 95 {
		w.Record(row(fmt.Sprintf("r%03d", i), 7))
	}
	waitFor(t, 5*time.Second, "95 rows", func() bool { n, _, _ := ledger(t, st); return n == 95 })
	if m := st.maxBatch.Load(); m > 10 {
		t.Errorf("a batch of %d rows; BatchSize is 10", m)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := w.Stats()
	if s.Written != 95 || s.Queued != 0 || s.Spilled != 0 || s.FailedBatches != 0 {
		t.Errorf("stats %+v", s)
	}
	if n, req, sp := ledger(t, st); n != 95 || req != 95 || sp != 95*7 {
		t.Errorf("ledger %d rows, %d requests, %d spend", n, req, sp)
	}
}

func TestWriterFlushesEveryInterval(t *testing.T) {
	st := openStore(t)
	w := newWriter(t, st, Options{FlushInterval: 30 * time.Millisecond})
	defer w.Close(context.Background())
	start := time.Now()
	w.Record(row("a", 1))
	w.Record(row("b", 1))
	waitFor(t, 2*time.Second, "a partial batch to be flushed", func() bool { n, _, _ := ledger(t, st); return n == 2 })
	t.Logf("a partial batch reached the store after %v (FlushInterval 30ms)", time.Since(start))
}

// TestWriterCrashBound: rows recorded at least one FlushInterval before a
// kill -9 are in the store.
func TestWriterCrashBound(t *testing.T) {
	const interval = 100 * time.Millisecond
	st := openStore(t)
	dir := t.TempDir()
	w := newWriter(t, st, Options{FlushInterval: interval, SpillDir: dir})
	for i := range 1000 {
		w.Record(row(fmt.Sprintf("old-%04d", i), 1))
	}
	// One FlushInterval, plus a little for the timer to fire late under
	// -race; an insert started by then is allowed to finish, since the
	// bound is FlushInterval plus one InsertSpend.
	time.Sleep(interval + interval/4)
	for i := range 50 {
		w.Record(row(fmt.Sprintf("new-%04d", i), 1)) // these may be lost
	}
	w.crash()
	n, req, _ := ledger(t, st)
	if n < 1000 || req != int64(n) {
		t.Fatalf("after kill -9: %d ledger rows (%d counted); want every one of the 1000 recorded a FlushInterval earlier", n, req)
	}
	t.Logf("kill -9: %d of the 50 rows recorded just before were lost", 1050-n)
}

// TestWriterOutage: the store is down for 300 ms (a 30 s outage at a
// hundredth of the scale) while rows keep coming. None is lost and none
// counted twice once it is back.
func TestWriterOutage(t *testing.T) {
	base := openStore(t)
	st := &flaky{SpendStore: base}
	dir := t.TempDir()
	w := newWriter(t, st, Options{
		FlushInterval: 10 * time.Millisecond, BatchSize: 50, SpillDir: dir,
		SpillAfter: 50 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
	})
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		stop  = make(chan struct{})
	)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				w.Record(row(fmt.Sprintf("g%d-%06d", g, i), 3))
				total.Add(1)
				time.Sleep(200 * time.Microsecond)
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	st.fail.Store(true)
	time.Sleep(300 * time.Millisecond)
	st.fail.Store(false)
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	want := total.Load()
	// Generous: under -race on a loaded 2-core machine, replaying the
	// spilled rows has taken over 10 s. The bound only stops a hang.
	waitFor(t, 60*time.Second, fmt.Sprintf("every row after the outage (want %d)", want), func() bool {
		n, _, _ := ledger(t, st)
		return int64(n) == want
	})
	waitFor(t, 5*time.Second, "spill files to be replayed", func() bool { return len(spillFiles(t, dir)) == 0 })
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, req, sp := ledger(t, st)
	if int64(n) != want || int64(req) != want || sp != 3*want {
		t.Fatalf("ledger %d rows, %d requests, %d spend; recorded %d (spend %d)", n, req, sp, want, 3*want)
	}
	s := w.Stats()
	if s.Spilled == 0 || s.Replayed == 0 || s.FailedBatches == 0 || s.Lost != 0 {
		t.Errorf("stats %+v: want spilled, replayed and failed batches", s)
	}
	t.Logf("%d rows, outage stats %+v", want, s)
}

// TestWriterQueueFull: with the store down and the queue full, rows go to
// disk at once rather than growing memory or being dropped.
func TestWriterQueueFull(t *testing.T) {
	st := &flaky{SpendStore: openStore(t)}
	st.fail.Store(true)
	dir := t.TempDir()
	w := newWriter(t, st, Options{FlushInterval: 10 * time.Millisecond, QueueSize: 10, SpillDir: dir, SpillAfter: time.Hour, MaxBackoff: 10 * time.Millisecond})
	for i := range 50 {
		w.Record(row(fmt.Sprintf("q%02d", i), 1))
	}
	waitFor(t, 2*time.Second, "the overflow to be spilled", func() bool { return w.Stats().Spilled == 40 })
	if q := w.Stats().Queued; q != 10 {
		t.Errorf("queued %d; want the 10 the queue holds", q)
	}
	st.fail.Store(false)
	waitFor(t, 5*time.Second, "all rows in the store", func() bool { n, _, _ := ledger(t, st); return n == 50 })
	waitFor(t, 2*time.Second, "spill files to be replayed", func() bool { return len(spillFiles(t, dir)) == 0 })
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, req, sp := ledger(t, st); req != 50 || sp != 50 {
		t.Errorf("aggregates %d requests, %d spend", req, sp)
	}
}

// TestWriterCloseStoreDown: Close with the store down spills everything,
// says so, and the next start replays it.
func TestWriterCloseStoreDown(t *testing.T) {
	base := openStore(t)
	st := &flaky{SpendStore: base}
	st.fail.Store(true)
	dir := t.TempDir()
	w := newWriter(t, st, Options{FlushInterval: time.Hour, SpillDir: dir})
	for i := range 20 {
		w.Record(row(fmt.Sprintf("c%02d", i), 2))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := w.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), "20 rows") || !strings.Contains(err.Error(), "spilled") {
		t.Fatalf("Close = %v; want an error saying 20 rows were spilled", err)
	}
	if err2 := w.Close(context.Background()); err2 != err {
		t.Errorf("second Close = %v; want the first's result", err2)
	}
	// Rows recorded after Close go straight to disk.
	w.Record(row("late", 2))
	if s := w.Stats(); s.Spilled != 21 || s.Lost != 0 {
		t.Errorf("stats %+v", s)
	}
	if len(spillFiles(t, dir)) == 0 {
		t.Fatal("no spill file")
	}
	// Next start, store up: everything is replayed and the files deleted.
	w2 := newWriter(t, base, Options{FlushInterval: 10 * time.Millisecond, SpillDir: dir})
	waitFor(t, 5*time.Second, "replay", func() bool { n, _, _ := ledger(t, base); return n == 21 })
	waitFor(t, 2*time.Second, "spill files deleted", func() bool { return len(spillFiles(t, dir)) == 0 })
	if err := w2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, req, sp := ledger(t, base); req != 21 || sp != 42 {
		t.Errorf("aggregates %d requests, %d spend", req, sp)
	}
}

// TestWriterCloseRetriesThenSpills: with no deadline, Close retries a store
// that was healthy for SpillAfter, then spills; a blip shorter than that
// costs nothing.
func TestWriterCloseRetriesThenSpills(t *testing.T) {
	st := &flaky{SpendStore: openStore(t)}
	w := newWriter(t, st, Options{FlushInterval: time.Hour, SpillAfter: 300 * time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	w.Record(row("blip", 1))
	st.fail.Store(true)
	time.AfterFunc(50*time.Millisecond, func() { st.fail.Store(false) })
	if err := w.Close(context.Background()); err != nil {
		t.Fatalf("Close across a 50ms blip: %v", err)
	}
	if n, _, _ := ledger(t, st); n != 1 {
		t.Fatalf("ledger %d rows", n)
	}

	st2 := &flaky{SpendStore: openStore(t)}
	w2 := newWriter(t, st2, Options{FlushInterval: time.Hour, SpillAfter: 100 * time.Millisecond})
	w2.Record(row("down", 1))
	st2.fail.Store(true)
	start := time.Now()
	err := w2.Close(context.Background())
	if took := time.Since(start); err == nil || took > 2*time.Second {
		t.Fatalf("Close with the store down: %v after %v", err, took)
	}
	if s := w2.Stats(); s.Spilled != 1 || s.FailedBatches < 2 {
		t.Errorf("stats %+v: want retries, then one row spilled", s)
	}
}

// TestWriterCloseHungStore: a store call that ignores its context cannot
// hold Close past its deadline, and the rows it held are spilled; if the
// hung insert later commits after all, replay skips them.
func TestWriterCloseHungStore(t *testing.T) {
	base := openStore(t)
	st := &flaky{SpendStore: base}
	hang := make(chan struct{})
	st.setHang(hang)
	dir := t.TempDir()
	w := newWriter(t, st, Options{FlushInterval: 10 * time.Millisecond, SpillDir: dir})
	for i := range 30 {
		w.Record(row(fmt.Sprintf("h%02d", i), 1))
	}
	waitFor(t, 2*time.Second, "the flusher to be stuck", func() bool { return st.calls.Load() > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := w.Close(ctx)
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Close took %v with a 100ms deadline", took)
	}
	if err == nil || !strings.Contains(err.Error(), "30 rows") {
		t.Fatalf("Close = %v; want 30 rows spilled", err)
	}
	st.setHang(nil)
	close(hang) // the stuck insert completes after all
	<-w.done
	w2 := newWriter(t, base, Options{FlushInterval: 10 * time.Millisecond, SpillDir: dir})
	waitFor(t, 5*time.Second, "replay", func() bool { return len(spillFiles(t, dir)) == 0 })
	if err := w2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, req, sp := ledger(t, base); n != 30 || req != 30 || sp != 30 {
		t.Errorf("ledger %d rows, %d requests, %d spend; want 30 each", n, req, sp)
	}
}

// TestReplayOnStart: spill files from an earlier run, including a line
// torn by the crash, a corrupt line and rows the store already has.
func TestReplayOnStart(t *testing.T) {
	base := openStore(t)
	ctx := context.Background()
	if _, err := base.InsertSpend(ctx, []store.SpendRow{row("dup-1", 5), row("dup-2", 5)}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	lines := func(rows ...store.SpendRow) string {
		b, err := appendLines(nil, rows)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("spend-20260101T000000.000000000Z-1-000001.jsonl", lines(row("a", 1), row("b", 1), row("dup-1", 5))+`{"RequestID":"torn","Co`)
	write("spend-20260101T000001.000000000Z-1-000001.jsonl", lines(row("c", 1))+"not json\n"+lines(row("d", 1), row("dup-2", 5)))
	write("unrelated.txt", "left alone")
	w := newWriter(t, base, Options{FlushInterval: 10 * time.Millisecond, SpillDir: dir})
	waitFor(t, 5*time.Second, "replay", func() bool { return len(spillFiles(t, dir)) == 0 })
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n, req, sp := ledger(t, base); n != 6 || req != 6 || sp != 14 {
		t.Errorf("ledger %d rows, %d requests, %d spend; want 6, 6, 14 (duplicates skipped)", n, req, sp)
	}
	if _, err := os.Stat(filepath.Join(dir, "spend-20260101T000001.000000000Z-1-000001.jsonl.corrupt")); err != nil {
		t.Errorf("the file with a corrupt line was not kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "unrelated.txt")); err != nil {
		t.Errorf("unrelated file touched: %v", err)
	}
	if s := w.Stats(); s.Replayed != 6 {
		t.Errorf("replayed %d; want 6 (4 new, 2 already present)", s.Replayed)
	}
}

// TestWriterRejectsInvalid: one row the store refuses does not hold the
// batch hostage, and is kept rather than dropped.
func TestWriterRejectsInvalid(t *testing.T) {
	base := openStore(t)
	dir := t.TempDir()
	w := newWriter(t, base, Options{FlushInterval: 10 * time.Millisecond, SpillDir: dir})
	w.Record(row("ok-1", 1))
	bad := row("", 9) // no request id: InsertSpend says ErrInvalid
	w.Record(bad)
	w.Record(row("ok-2", 1))
	waitFor(t, 2*time.Second, "the good rows", func() bool { n, _, _ := ledger(t, base); return n == 2 })
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s := w.Stats(); s.Rejected != 1 || s.Written != 3 {
		t.Errorf("stats %+v", s)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "rejected-*.jsonl"))
	if len(m) != 1 {
		t.Fatalf("rejected files %v", m)
	}
	if b, _ := os.ReadFile(m[0]); !strings.Contains(string(b), `"Cost":9`) {
		t.Errorf("rejected file: %s", b)
	}
}

// discard is a store that takes everything instantly, for the benchmark.
type discard struct{ store.SpendStore }

func (discard) InsertSpend(_ context.Context, rows []store.SpendRow) (int, error) {
	return len(rows), nil
}

// BenchmarkRecord measures the hot path at a rate the writer sustains.
// An unpaced loop records 10M+ rows a second, far beyond any store, and
// then measures overload (spilling) instead; so every 20_000 rows, with
// the timer stopped, it lets the flusher catch up, as it does between
// bursts in a real gateway.
func BenchmarkRecord(b *testing.B) {
	w := newWriter(b, discard{}, Options{FlushInterval: 10 * time.Millisecond})
	defer w.Close(context.Background())
	r := row("bench", 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		w.Record(r)
		if i++; i%20_000 == 0 {
			b.StopTimer()
			for w.Stats().Queued > 0 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
		}
	}
	b.StopTimer()
	if s := w.Stats(); s.Spilled != 0 {
		b.Fatalf("spilled %d rows: the benchmark measured overload", s.Spilled)
	}
}
