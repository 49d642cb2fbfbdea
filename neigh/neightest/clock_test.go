package neightest

import (
	"testing"
	"time"
)

func TestClockFiresInDeadlineOrder(t *testing.T) {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	c := NewClock(start)
	var got []string
	c.AfterFunc(3*time.Second, func() { got = append(got, "c") })
	c.AfterFunc(time.Second, func() {
		got = append(got, "a")
		if d := c.Now().Sub(start); d != time.Second {
			t.Errorf("callback sees Now = +%v", d)
		}
		// A timer started by a callback fires within the same Advance.
		c.AfterFunc(time.Second, func() { got = append(got, "b") })
	})
	stopped := c.AfterFunc(2500*time.Millisecond, func() { got = append(got, "stopped") })
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop should report true once")
	}
	c.Advance(2 * time.Second)
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Fatalf("after 2s: %v", got)
	}
	if c.Pending() != 1 {
		t.Fatalf("pending %d", c.Pending())
	}
	c.Advance(time.Second)
	if len(got) != 3 || got[2] != "c" || c.Now() != start.Add(3*time.Second) {
		t.Fatalf("after 3s: %v at %v", got, c.Now())
	}
	if _, ok := c.NextIn(); ok {
		t.Fatal("timers left")
	}
}
