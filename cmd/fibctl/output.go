package main

import (
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"
)

// table writes aligned columns without holding a long listing back: the
// first rows (up to tableHead) are aligned together, like tabwriter does;
// from then on each row is printed as it comes, in the widths the first
// rows set (a longer cell widens only its own row). So `route show | head`
// prints at once, and a short table is aligned exactly.
type table struct {
	w      io.Writer
	head   [][]string
	widths []int
	err    error
}

// tableHead is how many rows set a table's column widths.
const tableHead = 256

func newTable(w io.Writer, header ...string) *table {
	t := &table{w: w}
	t.row(header...)
	return t
}

func (t *table) row(cols ...string) {
	if t.widths == nil {
		t.head = append(t.head, cols)
		if len(t.head) > tableHead {
			t.settle()
		}
		return
	}
	t.write(cols)
}

// settle fixes the widths from the rows so far and prints them.
func (t *table) settle() {
	for _, r := range t.head {
		for i, c := range r {
			if i >= len(t.widths) {
				t.widths = append(t.widths, 0)
			}
			t.widths[i] = max(t.widths[i], len(c))
		}
	}
	if t.widths == nil {
		t.widths = []int{}
	}
	for _, r := range t.head {
		t.write(r)
	}
	t.head = nil
}

func (t *table) write(cols []string) {
	if t.err != nil {
		return
	}
	var b strings.Builder
	for i, c := range cols {
		b.WriteString(c)
		if i == len(cols)-1 {
			break
		}
		w := 0
		if i < len(t.widths) {
			w = t.widths[i]
		}
		b.WriteString(strings.Repeat(" ", max(0, w-len(c))+2))
	}
	b.WriteByte('\n')
	_, t.err = io.WriteString(t.w, b.String())
}

func (t *table) flush() error {
	if t.widths == nil {
		t.settle()
	}
	return t.err
}

// jsonList prints messages as one JSON array, field names as in the
// .proto file. Like bufio.Writer it keeps the first error, so a caller
// that streams messages from a callback checks once, at close.
type jsonList struct {
	w   io.Writer
	n   int
	err error
}

func newJSONList(w io.Writer) *jsonList { return &jsonList{w: w} }

func (j *jsonList) add(m proto.Message) {
	if j.err != nil {
		return
	}
	b := marshalJSON(m, "")
	sep := "[\n  "
	if j.n > 0 {
		sep = ",\n  "
	}
	j.n++
	_, j.err = fmt.Fprintf(j.w, "%s%s", sep, b)
}

func (j *jsonList) close() error {
	if j.err != nil {
		return j.err
	}
	end := "\n]"
	if j.n == 0 {
		end = "[]"
	}
	_, err := fmt.Fprintln(j.w, end)
	return err
}

// writeJSONList prints a whole list as one JSON array.
func writeJSONList[M proto.Message](w io.Writer, list []M) error {
	j := newJSONList(w)
	for _, m := range list {
		j.add(m)
	}
	return j.close()
}

// printJSON prints one message.
func printJSON(w io.Writer, m proto.Message) error {
	_, err := fmt.Fprintln(w, string(marshalJSON(m, "  ")))
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
