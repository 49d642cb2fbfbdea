package ethtool

import (
	"fmt"
	"testing"

	"github.com/fibd/fibd/internal/netnstest"
)

func TestSetAndRestoreFeatures(t *testing.T) {
	netnstest.Require(t)
	ns := netnstest.New(t, "eth")
	ns.Exec("ip", "link", "add", "e0", "type", "veth", "peer", "name", "e1")
	err := ns.Do(func() error {
		before, err := Features("e0")
		if err != nil {
			return err
		}
		if !before["tx-tcp-segmentation"] || before["rx-gro"] {
			return fmt.Errorf("unexpected veth defaults: tso %v gro %v", before["tx-tcp-segmentation"], before["rx-gro"])
		}
		changes, err := Set("e0", map[string]bool{"tx-tcp-segmentation": false, "rx-gro": true, "no-such-feature": true})
		if err != nil {
			return err
		}
		if len(changes) != 2 {
			return fmt.Errorf("changes %+v, want TSO and GRO", changes)
		}
		now, _ := Features("e0")
		if now["tx-tcp-segmentation"] || !now["rx-gro"] {
			return fmt.Errorf("after Set: tso %v gro %v", now["tx-tcp-segmentation"], now["rx-gro"])
		}
		// Setting what is already requested changes nothing.
		if again, _ := Set("e0", map[string]bool{"rx-gro": true}); len(again) != 0 {
			return fmt.Errorf("redundant Set reported %+v", again)
		}
		undo := map[string]bool{}
		for _, c := range changes {
			undo[c.Name] = c.Was
		}
		if _, err := Set("e0", undo); err != nil {
			return err
		}
		after, _ := Features("e0")
		for _, f := range []string{"tx-tcp-segmentation", "rx-gro"} {
			if after[f] != before[f] {
				t.Errorf("%s = %v after restore, was %v", f, after[f], before[f])
			}
		}
		if _, err := Features("fibd-nonesuch"); err == nil {
			t.Error("Features of a missing interface succeeded")
		}
		if _, err := Features("this-name-is-far-too-long"); err == nil {
			t.Error("an over-long name was accepted")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
