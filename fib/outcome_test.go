package fib

import (
	"testing"

	"github.com/fibd/fibd/fib/adj"
)

func TestApplyOutcomesNamesWhatEachEntryDid(t *testing.T) {
	reg := NewRegistry(Options{})
	f, _ := reg.Get(adj.DefaultFIB)
	bh := []Path{{Kind: PathBlackhole}}
	if err := f.Add(Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "a", Paths: bh}); err != nil {
		t.Fatal(err)
	}
	changes := []Change{
		{Op: OpAdd, Route: Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "a", Paths: []Path{{Kind: PathUnreachable}}}},
		{Op: OpAdd, Route: Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "a", Paths: bh}},
		{Op: OpDelete, Route: Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "a"}},
		{Op: OpReplace, Route: Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "a", Paths: bh}},
	}
	out := make([]Outcome, len(changes))
	if _, err := f.ApplyOutcomes(changes, out); err != nil {
		t.Fatal(err)
	}
	want := []Outcome{OutcomeUpdated, OutcomeAdded, OutcomeDeleted, OutcomeUpdated}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("outcomes %v, want %v", out, want)
		}
	}
	if _, err := f.ApplyOutcomes(changes, out[:1]); err == nil {
		t.Fatal("short outcome slice accepted")
	}
}
