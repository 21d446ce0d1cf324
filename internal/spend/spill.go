package spend

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// Spill files are JSON lines, one store.SpendRow per line in encoding/json's
// default form, appended and fsynced per write. Names sort in the order
// the files were started:
//
//	spend-<UTC time, fixed width>-<pid>-<seq>.jsonl   rows waiting for the store
//	rejected-<UTC time>-<pid>.jsonl                  rows the store refused as invalid; never replayed
//	<spill file>.corrupt                             a spill file with unreadable lines, after replaying the rest
//
// The last two are for a human: they are logged and left alone.
const (
	spillPrefix = "spend-"
	spillSuffix = ".jsonl"
	stampLayout = "20060102T150405.000000000Z"
)

// spiller owns the spill directory. Writes from the flusher, from Close and
// from Record after Close are serialised by mu.
type spiller struct {
	mu  sync.Mutex
	dir string
	now func() time.Time
	pid int
	seq int
	f   *os.File // the file being appended to; nil until the next write
	buf []byte
}

func (s *spiller) init(dir string, now func() time.Time) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("spend: spill dir: %w", err)
	}
	s.dir, s.now, s.pid = dir, now, os.Getpid()
	return nil
}

// write appends rows to the current spill file, starting one if needed,
// and fsyncs: when it returns nil the rows survive a crash.
func (s *spiller) write(rows []store.SpendRow) error {
	if len(rows) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.buf, err = appendLines(s.buf[:0], rows); err != nil {
		return err
	}
	if s.f == nil {
		s.seq++
		name := fmt.Sprintf("%s%s-%d-%06d%s", spillPrefix, s.now().UTC().Format(stampLayout), s.pid, s.seq, spillSuffix)
		if s.f, err = createSynced(filepath.Join(s.dir, name)); err != nil {
			return err
		}
	}
	if _, err = s.f.Write(s.buf); err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		// Start afresh next time. Any torn line at the end of this file is
		// skipped on replay; the rows themselves are still in memory and
		// will be written again.
		_ = s.f.Close()
		s.f = nil
		return fmt.Errorf("spend: spill file: %w", err)
	}
	return nil
}

// reject keeps rows the store refused as invalid, for a human to look at.
func (s *spiller) reject(rows []store.SpendRow) error {
	if len(rows) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := appendLines(nil, rows)
	if err != nil {
		return err
	}
	name := filepath.Join(s.dir, fmt.Sprintf("rejected-%s-%d%s", s.now().UTC().Format(stampLayout), s.pid, spillSuffix))
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// pending lists the spill files, oldest first, except the one being
// appended to — unless rotate, which closes that one first so that it is
// listed too. Either way nothing still open for appending is listed, so
// nothing is replayed and deleted while rows are being added to it.
func (s *spiller) pending(rotate bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if rotate && s.f != nil {
		_ = s.f.Close() // every write was fsynced already
		s.f = nil
	}
	active := ""
	if s.f != nil {
		active = filepath.Base(s.f.Name())
	}
	entries, err := os.ReadDir(s.dir) // sorted by name, hence by start time
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if n := e.Name(); n != active && e.Type().IsRegular() && strings.HasPrefix(n, spillPrefix) && strings.HasSuffix(n, spillSuffix) {
			files = append(files, filepath.Join(s.dir, n))
		}
	}
	return files, nil
}

func (s *spiller) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
}

func appendLines(b []byte, rows []store.SpendRow) ([]byte, error) {
	for _, r := range rows {
		line, err := json.Marshal(r)
		if err != nil {
			// Metadata is the only field that can hold something JSON
			// cannot encode; the row's cost and attribution matter more.
			r.Metadata = map[string]any{"spill_error": "metadata not encodable: " + err.Error()}
			if line, err = json.Marshal(r); err != nil {
				return b, fmt.Errorf("spend: encode row %q: %w", r.RequestID, err)
			}
		}
		b = append(append(b, line...), '\n')
	}
	return b, nil
}

// createSynced creates a new file and fsyncs its directory, so that the
// file's name, not only its contents, survives a power loss.
func createSynced(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync() // best effort: not every filesystem supports it
		_ = d.Close()
	}
	return f, nil
}

// replayAll sends every spill file to the store, oldest first. It returns
// a store error, which the flusher treats like a failed flush; files not
// yet replayed stay for the next attempt. The file being appended to is
// closed and replayed last, only once the older ones went through: while
// the store is down, each probe would otherwise start a new file.
func (w *Writer) replayAll() error {
	w.haveFiles.Store(false)
	for _, rotate := range []bool{false, true} {
		files, err := w.sp.pending(rotate)
		if err != nil {
			w.haveFiles.Store(true)
			w.log.Error("spend spill dir unreadable; replay retried next flush", "dir", w.sp.dir, "error", err)
			return nil
		}
		for _, path := range files {
			if err := w.replayFile(path); err != nil {
				w.haveFiles.Store(true)
				return err
			}
		}
	}
	return nil
}

// replayFile inserts one spill file's rows and then deletes the file. It
// returns only store errors; a file it cannot read is logged and left.
// Between batches it also flushes the live queue, so a long replay does
// not hold up rows being recorded now.
func (w *Writer) replayFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			w.haveFiles.Store(true)
			w.log.Error("spend spill file unreadable; left for the next attempt", "file", path, "error", err)
		}
		return nil
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var (
		batch   []store.SpendRow
		total   int
		corrupt int
		line    int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := w.insert(w.ctx, batch); err != nil {
			return err
		}
		w.replayed.Add(uint64(len(batch)))
		total += len(batch)
		clear(batch)
		batch = batch[:0]
		return w.flushQueue(w.ctx)
	}
	for {
		b, rerr := r.ReadBytes('\n')
		if len(b) > 0 {
			line++
			var row store.SpendRow
			switch err := json.Unmarshal(b, &row); {
			case err == nil:
				batch = append(batch, row)
			case rerr == io.EOF:
				// A torn last line: a write cut short by a crash or a
				// failed write. Those rows were not yet durable (the
				// writer had not acknowledged them), so nothing is lost.
				w.log.Warn("spend spill file ends in a partial line; skipped", "file", path, "line", line)
			default:
				corrupt++
				w.log.Error("spend spill file line unreadable; file kept as .corrupt", "file", path, "line", line, "error", err)
			}
		}
		if len(batch) >= w.o.BatchSize || (rerr != nil && len(batch) > 0) {
			if err := flush(); err != nil {
				return err
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			w.haveFiles.Store(true)
			w.log.Error("spend spill file read failed; left for the next attempt", "file", path, "error", rerr)
			return nil
		}
	}
	_ = f.Close()
	if corrupt > 0 {
		if err := os.Rename(path, path+".corrupt"); err != nil {
			w.log.Error("spend spill file: rename failed", "file", path, "error", err)
		}
	} else if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		// Left in place, it is replayed again later: harmless, as every
		// row in it is now in the store and would be skipped.
		w.haveFiles.Store(true)
		w.log.Error("spend spill file: delete failed", "file", path, "error", err)
	}
	w.log.Info("spend spill file replayed", "file", filepath.Base(path), "rows", total)
	return nil
}
