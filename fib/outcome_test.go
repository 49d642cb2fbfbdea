package fib

import (
	"errors"
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

// TestBatchErrorListsEveryRefusedEntry: a batch with several bad entries
// names all of them, on the sequential and the parallel path, and changes
// nothing.
func TestBatchErrorListsEveryRefusedEntry(t *testing.T) {
	for _, parallel := range []bool{false, true} {
		func() {
			if parallel {
				defer func(n int) { parallelMin = n }(parallelMin)
				parallelMin = 2
			}
			reg := NewRegistry(Options{})
			f, _ := reg.Get(adj.DefaultFIB)
			bh := []Path{{Kind: PathBlackhole}}
			if err := f.Add(Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "a", Paths: bh}); err != nil {
				t.Fatal(err)
			}
			before := f.Version()
			changes := []Change{
				{Op: OpAdd, Route: Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "a", Paths: bh}},
				{Op: OpDelete, Route: Route{Prefix: mustPrefix("192.0.2.0/24"), Source: "a"}}, // absent
				{Op: OpAdd, Route: Route{Prefix: mustPrefix("203.0.113.128/25"), Source: "a", Paths: bh}},
				{Op: OpReplace, Route: Route{Prefix: mustPrefix("198.18.0.0/15"), Source: "a", Paths: bh}}, // absent
				{Op: OpDelete, Route: Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "a"}},
			}
			_, err := f.Apply(changes)
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("parallel %v: %v, want a *BatchError", parallel, err)
			}
			if len(be.Failed) != 2 || be.Failed[0].Index != 1 || be.Failed[1].Index != 3 || be.Index != 1 ||
				!errors.Is(be.Failed[0].Err, ErrNotFound) || !errors.Is(be.Failed[1].Err, ErrNotFound) {
				t.Fatalf("parallel %v: failures %+v, want entries 1 and 3, not found", parallel, be.Failed)
			}
			if f.Version() != before {
				t.Fatalf("parallel %v: a refused batch changed the FIB", parallel)
			}
			if _, ok := f.Get(mustPrefix("203.0.113.0/24"), "a"); ok {
				t.Fatalf("parallel %v: an entry of the refused batch stayed", parallel)
			}
		}()
	}
}

// TestIdempotentDeletes: with the option, deleting what is not there is a
// no-op reported as OutcomeAbsent — also for a source the FIB never had —
// and the rest of the batch applies.
func TestIdempotentDeletes(t *testing.T) {
	reg := NewRegistry(Options{})
	f, _ := reg.Get(adj.DefaultFIB)
	bh := []Path{{Kind: PathBlackhole}}
	changes := []Change{
		{Op: OpDelete, Route: Route{Prefix: mustPrefix("192.0.2.0/24"), Source: "never"}},
		{Op: OpAdd, Route: Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "a", Paths: bh}},
		{Op: OpDelete, Route: Route{Prefix: mustPrefix("198.51.100.0/24"), Source: "a"}},
		{Op: OpDelete, Route: Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "a"}},
		{Op: OpDelete, Route: Route{Prefix: mustPrefix("203.0.113.0/24"), Source: "a"}},
	}
	out := make([]Outcome, len(changes))
	res, err := f.ApplyWith(changes, out, ApplyOptions{IdempotentDeletes: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []Outcome{OutcomeAbsent, OutcomeAdded, OutcomeAbsent, OutcomeDeleted, OutcomeAbsent}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("outcomes %v, want %v", out, want)
		}
	}
	if res.Absent != 3 || res.Added != 1 || res.Deleted != 1 {
		t.Fatalf("result %+v", res)
	}
	// Without the option the same batch is refused.
	if _, err := f.Apply(changes[:1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("plain delete of nothing: %v, want ErrNotFound", err)
	}
}
