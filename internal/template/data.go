package template

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DefaultMaxBytes is the size limit LoadCSV and LoadJSONL apply when given a
// limit of 0 or less: 8 MiB.
const DefaultMaxBytes = 8 << 20

// Data gives templates the rows of their data files. Implementations must be
// safe for concurrent reads: Append calls them from every firing goroutine.
type Data interface {
	// Rows returns the number of data rows of file (0 when the file is
	// unknown).
	Rows(file string) int
	// Value returns the value of column (a CSV header name or a JSON field
	// name) in data row row (0-based, header excluded) of file, and whether
	// that row has it.
	Value(file string, row int, column string) (string, bool)
}

// Tables holds loaded data files by the name templates use for them. It
// implements Data; a Tables map that is no longer written is safe for
// concurrent reads.
type Tables map[string]*Table

var _ Data = Tables(nil)

// Rows returns the number of data rows of file, 0 when it is not loaded.
func (ts Tables) Rows(file string) int {
	if t := ts[file]; t != nil {
		return t.rows
	}
	return 0
}

// Value returns one cell of file; see Table.Value.
func (ts Tables) Value(file string, row int, column string) (string, bool) {
	if t := ts[file]; t != nil {
		return t.Value(row, column)
	}
	return "", false
}

// Table is one loaded data file: named columns and rows of string values. It
// is immutable once loaded and safe for concurrent use.
type Table struct {
	name    string
	kind    string // "csv" or "jsonl": the loader, and so the function that may use it
	columns []string
	index   map[string]int // column name → position in columns
	rows    int
	cells   []string // rows × len(columns), row-major
	present []bool   // parallel to cells; nil when every cell is present (CSV)
	lines   []int    // the 1-based source line of each row
	missing []int    // per column, the first row without a value, or −1
	content []byte   // the bytes the table was loaded from
}

// Content returns the bytes the table was loaded from, so the same file
// can be shipped to agents and loaded there identically. Do not modify it.
func (t *Table) Content() []byte { return t.content }

// Load loads a table of the given kind ("csv" or "jsonl") from bytes.
func Load(name, kind string, content []byte, maxBytes int64) (*Table, error) {
	switch kind {
	case "csv":
		return LoadCSV(name, bytes.NewReader(content), maxBytes)
	case "jsonl":
		return LoadJSONL(name, bytes.NewReader(content), maxBytes)
	default:
		return nil, &FileError{File: name, Msg: fmt.Sprintf("unknown data file kind %q (want csv or jsonl)", kind)}
	}
}

// Name returns the name the table was loaded under.
func (t *Table) Name() string { return t.name }

// Kind returns "csv" or "jsonl", the loader that built the table.
func (t *Table) Kind() string { return t.kind }

// Columns returns the column names: the CSV header, or every top-level
// JSON field that holds a string or number in at least one row, in order of
// first appearance.
func (t *Table) Columns() []string { return append([]string(nil), t.columns...) }

// Rows returns the number of data rows.
func (t *Table) Rows() int { return t.rows }

// Line returns the 1-based line of the file on which data row row starts;
// row must be in [0, Rows()).
func (t *Table) Line(row int) int { return t.lines[row] }

// Value returns the value of column in data row row (0-based), and whether
// the row has it: false for an unknown column, a row out of range, or a JSON
// line without that field.
func (t *Table) Value(row int, column string) (string, bool) {
	c, ok := t.index[column]
	if !ok || row < 0 || row >= t.rows {
		return "", false
	}
	j := row*len(t.columns) + c
	if t.present != nil && !t.present[j] {
		return "", false
	}
	return t.cells[j], true
}

// FileError is a problem in a data file, at a line when one is known. It
// wraps ErrData, and the underlying error (a read error) when there is one.
type FileError struct {
	File string
	Line int // 1-based; 0 when the problem is not on one line
	Msg  string
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap returns ErrData and the underlying error, if any.
func (e *FileError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrData, e.Err}
	}
	return []error{ErrData}
}

// readLimited reads all of r, failing when it holds more than maxBytes. A
// leading UTF-8 byte-order mark (as spreadsheet exports write) is dropped.
func readLimited(name string, r io.Reader, maxBytes int64) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
	if err != nil {
		return nil, &FileError{File: name, Msg: "read: " + err.Error(), Err: err}
	}
	if int64(len(data)) > maxBytes {
		return nil, &FileError{File: name, Msg: fmt.Sprintf("larger than the limit of %d bytes", maxBytes)}
	}
	return bytes.TrimPrefix(data, []byte("\uFEFF")), nil
}

// LoadCSV reads a CSV file (RFC 4180, as encoding/csv reads it: comma
// separated, double-quoted fields may hold commas, quotes and newlines) of at
// most maxBytes bytes (DefaultMaxBytes when maxBytes ≤ 0).
//
// The first record is the header: it names the columns. Header names are
// trimmed of surrounding spaces and must be non-empty and distinct. Every
// later record is a data row and must have as many fields as the header; a
// ragged row, a stray quote or an oversized file is a *FileError naming the
// line. Empty lines are skipped. Values are kept exactly as written.
func LoadCSV(name string, r io.Reader, maxBytes int64) (*Table, error) {
	data, err := readLimited(name, r, maxBytes)
	if err != nil {
		return nil, err
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1 // checked below, with a better message
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, &FileError{File: name, Msg: "empty file: a header row naming the columns is required"}
	}
	if err != nil {
		return nil, csvError(name, err)
	}
	t := &Table{name: name, kind: "csv", index: make(map[string]int, len(header)), content: data}
	headerLine, _ := cr.FieldPos(0)
	for j, h := range header {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, &FileError{File: name, Line: headerLine, Msg: fmt.Sprintf("header column %d has an empty name", j+1)}
		}
		if _, dup := t.index[h]; dup {
			return nil, &FileError{File: name, Line: headerLine, Msg: fmt.Sprintf("header names column %q twice", h)}
		}
		t.index[h] = j
		t.columns = append(t.columns, h)
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(header) {
			return nil, &FileError{File: name, Line: line, Msg: fmt.Sprintf("row has %d fields, the header has %d", len(rec), len(header))}
		}
		t.cells = append(t.cells, rec...)
		t.lines = append(t.lines, line)
		t.rows++
	}
	t.missing = make([]int, len(t.columns))
	for j := range t.missing {
		t.missing[j] = -1
	}
	return t, nil
}

// csvError turns an encoding/csv error into a *FileError with its line.
func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &FileError{File: name, Line: pe.Line, Msg: fmt.Sprintf("column %d: %v", pe.Column, pe.Err), Err: pe.Err}
	}
	return &FileError{File: name, Msg: err.Error(), Err: err}
}

// LoadJSONL reads a JSON-lines file (one JSON object per line) of at most
// maxBytes bytes (DefaultMaxBytes when maxBytes ≤ 0).
//
// Each non-blank line is a data row and must hold exactly one JSON object.
// Its top-level string and number fields are the row's values: a string is
// its decoded text, a number its text as written (1e3 stays "1e3"). Fields
// holding objects, arrays, booleans or null are not values. The columns are
// the field names that hold a value in at least one row; a row may lack some
// of them (CheckData reports a template field that some row lacks). When a
// line repeats a name, the last occurrence wins, as in encoding/json.
func LoadJSONL(name string, r io.Reader, maxBytes int64) (*Table, error) {
	data, err := readLimited(name, r, maxBytes)
	if err != nil {
		return nil, err
	}
	t := &Table{name: name, kind: "jsonl", index: map[string]int{}, content: data}
	type cell struct {
		col int
		val string
		ok  bool
	}
	var rows [][]cell
	for lineNo := 1; len(data) > 0; lineNo++ {
		line := data
		if nl := bytes.IndexByte(data, '\n'); nl >= 0 {
			line, data = data[:nl], data[nl+1:]
		} else {
			data = nil
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var row []cell
		err := jsonObject(line, func(key string, raw json.RawMessage) error {
			val, ok, err := scalar(raw)
			if err != nil {
				return err
			}
			c, known := t.index[key]
			switch {
			case ok && !known:
				c = len(t.columns)
				t.index[key] = c
				t.columns = append(t.columns, key)
			case !ok && !known:
				return nil // not a value, and not a column (yet)
			}
			row = append(row, cell{col: c, val: val, ok: ok})
			return nil
		})
		if err != nil {
			return nil, &FileError{File: name, Line: lineNo, Msg: err.Error()}
		}
		rows = append(rows, row)
		t.lines = append(t.lines, lineNo)
	}
	t.rows = len(rows)
	n := len(t.columns)
	t.cells = make([]string, t.rows*n)
	t.present = make([]bool, t.rows*n)
	for r, row := range rows {
		for _, c := range row { // in line order: a repeated name's last value wins
			t.cells[r*n+c.col] = c.val
			t.present[r*n+c.col] = c.ok
		}
	}
	t.missing = make([]int, n)
	for c := range n {
		t.missing[c] = -1
		for r := range t.rows {
			if !t.present[r*n+c] {
				t.missing[c] = r
				break
			}
		}
	}
	return t, nil
}

// jsonObject decodes line as exactly one JSON object and calls field for each
// of its members in order.
func jsonObject(line []byte, field func(key string, raw json.RawMessage) error) error {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return errors.New("not a JSON object (each line must be one object)")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok { // the decoder guarantees object keys are strings
			return errors.New("invalid JSON: object key is not a string")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
		if err := field(key, raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return fmt.Errorf("invalid JSON after the object: %w", err)
		}
		return errors.New("more than one JSON value on the line")
	}
	return nil
}

// scalar returns the template value of a JSON value: the text of a string,
// the literal of a number, or ok = false for anything else.
func scalar(raw json.RawMessage) (string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false, nil
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", false, fmt.Errorf("invalid JSON string: %w", err)
		}
		return s, true, nil
	case c == '-' || (c >= '0' && c <= '9'):
		return string(raw), true, nil
	}
	return "", false, nil
}

// CheckData reports, all at once (errors.Join), every data reference of the
// template that d cannot serve: a file that is not loaded or has no data rows,
// a file loaded by the other loader (csv vs jsonl), a column or field the file
// does not have, or a JSON field that some row lacks. Each problem is an
// *Error wrapping ErrData, positioned at the FILE or COLUMN argument. It
// returns nil when the template references no files.
func (t *Template) CheckData(d Data) error {
	var errs []error
	for _, r := range t.refs {
		if err := checkRef(r, d); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func dataErr(off int, format string, args ...any) *Error {
	return &Error{Offset: off, Msg: fmt.Sprintf(format, args...), err: ErrData}
}

func checkRef(r Ref, d Data) *Error {
	what := "column"
	if r.Func == "jsonl" {
		what = "string or number field"
	}
	if d == nil {
		return dataErr(r.FileOffset, "%s: data file %q is not loaded", r.Func, r.File)
	}
	if ts, ok := d.(Tables); ok {
		tb := ts[r.File]
		switch {
		case tb == nil:
			return dataErr(r.FileOffset, "%s: data file %q is not loaded", r.Func, r.File)
		case tb.kind != r.Func:
			return dataErr(r.FileOffset, "%s: data file %q was loaded as %s, not %s", r.Func, r.File, tb.kind, r.Func)
		case tb.rows == 0:
			return dataErr(r.FileOffset, "%s: data file %q has no data rows", r.Func, r.File)
		}
		c, ok := tb.index[r.Column]
		if !ok {
			return dataErr(r.ColumnOffset, "%s: %s has no %s %q (it has: %s)", r.Func, r.File, what, r.Column, listNames(tb.columns))
		}
		if row := tb.missing[c]; row >= 0 {
			return dataErr(r.ColumnOffset, "%s: %s:%d has no %s %q", r.Func, r.File, tb.lines[row], what, r.Column)
		}
		return nil
	}
	rows := d.Rows(r.File)
	if rows <= 0 {
		return dataErr(r.FileOffset, "%s: data file %q is not loaded or has no data rows", r.Func, r.File)
	}
	for row := range rows {
		if _, ok := d.Value(r.File, row, r.Column); !ok {
			if row == 0 {
				return dataErr(r.ColumnOffset, "%s: %s has no %s %q", r.Func, r.File, what, r.Column)
			}
			return dataErr(r.ColumnOffset, "%s: data row %d of %s has no %s %q", r.Func, row+1, r.File, what, r.Column)
		}
	}
	return nil
}

// listNames quotes up to 10 names for a message.
func listNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	const most = 10
	var b strings.Builder
	for j, n := range names {
		if j == most {
			fmt.Fprintf(&b, ", … (%d more)", len(names)-most)
			break
		}
		if j > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", n)
	}
	return b.String()
}
