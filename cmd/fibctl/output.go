package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cols ...string) {
	fmt.Fprintln(t.tw, strings.Join(cols, "\t"))
}

func (t *table) flush() error { return t.tw.Flush() }

// jsonList prints messages as one JSON array, field names as in the
// .proto file. Like bufio.Writer it keeps the first error, so a caller
// that streams messages from a callback checks once, at close.
type jsonList struct {
	w   io.Writer
	n   int
	err error
}

func newJSONList(w io.Writer) *jsonList { return &jsonList{w: w} }

var jsonOpts = protojson.MarshalOptions{UseProtoNames: true}

func (j *jsonList) add(m proto.Message) {
	if j.err != nil {
		return
	}
	b, err := jsonOpts.Marshal(m)
	if err != nil {
		j.err = err
		return
	}
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
	b, err := protojson.MarshalOptions{UseProtoNames: true, Multiline: true}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
