package maintenance

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ReadHistory reads a history file `pgtune maintain run --history` appends to (one JSON result
// per line) into seconds per page by table and operation, the latest run winning. A missing
// file is an empty history.
func ReadHistory(path string) (History, error) {
	h := History{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return h, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("%s:%d: not a pgtune maintenance result: %w", path, line, err)
		}
		if r.Status == StatusDone && r.Pages > 0 && r.Duration > 0 && len(r.Ops) > 0 {
			h[HistoryKey(r.Table, r.Ops[0])] = r.Duration.Seconds() / float64(r.Pages)
		}
	}
	return h, sc.Err()
}

// AppendHistory appends a run's finished actions to the history file.
func AppendHistory(path string, s *Summary) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	for _, r := range s.Results {
		if r.Status != StatusDone {
			continue
		}
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
