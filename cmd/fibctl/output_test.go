package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/fibd/fibd/control/fibdpb"
)

func TestWriteJSONList(t *testing.T) {
	var b bytes.Buffer
	if err := writeJSONList[*fibdpb.Address](&b, nil); err != nil || b.String() != "[]\n" {
		t.Fatalf("empty list: %q %v", b.String(), err)
	}
	b.Reset()
	list := []*fibdpb.Address{
		{Port: "veth0", FibId: 10, Prefix: "192.0.2.1/24"},
		{Port: "veth1", FibId: 20, Prefix: "2001:db8::1/64"},
	}
	if err := writeJSONList(&b, list); err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, b.String())
	}
	if len(got) != 2 || got[1]["prefix"] != "2001:db8::1/64" || got[0]["fib_id"] != float64(10) {
		t.Fatalf("got %v", got)
	}
}

type failWriter struct{ n int }

var errFull = errors.New("disk full")

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		return 0, errFull
	}
	w.n--
	return len(p), nil
}

// A write error in the middle of a streamed list must reach the caller,
// not be dropped by the callback that adds messages.
func TestJSONListKeepsFirstError(t *testing.T) {
	j := newJSONList(&failWriter{n: 1})
	j.add(&fibdpb.Address{Port: "a"})
	j.add(&fibdpb.Address{Port: "b"})
	j.add(&fibdpb.Address{Port: "c"})
	if err := j.close(); !errors.Is(err, errFull) {
		t.Fatalf("close = %v, want %v", err, errFull)
	}
}

// TestTableStreams: a long table prints its first rows once tableHead of
// them are in, before it ends; a short one is aligned as tabwriter would.
func TestTableStreams(t *testing.T) {
	var b bytes.Buffer
	tb := newTable(&b, "FIB", "PREFIX")
	tb.row("10", "198.51.100.0/24")
	if b.Len() != 0 {
		t.Fatal("a short table printed before flush")
	}
	if err := tb.flush(); err != nil || b.String() != "FIB  PREFIX\n10   198.51.100.0/24\n" {
		t.Fatalf("short table %q %v", b.String(), err)
	}
	b.Reset()
	tb = newTable(&b, "FIB", "PREFIX")
	for i := range tableHead + 10 {
		tb.row("10", fmt.Sprintf("198.18.%d.0/24", i%256))
	}
	if b.Len() == 0 {
		t.Fatal("a long table held every row back")
	}
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != tableHead+11 || strings.Index(lines[0], "PREFIX") != strings.Index(lines[len(lines)-1], "198.18") {
		t.Fatalf("long table: %d lines, header %q, last %q", len(lines), lines[0], lines[len(lines)-1])
	}
}
