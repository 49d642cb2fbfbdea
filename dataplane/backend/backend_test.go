package backend

import (
	"errors"
	"testing"

	"github.com/fibd/fibd/dataplane"
)

// TestXDPRefusesAnInterfaceThatStripsVLANTags: AF_XDP would see a
// stripped tag's frame as untagged — another port's, another tenant's —
// so --io=xdp refuses such an interface before touching it, naming why.
func TestXDPRefusesAnInterfaceThatStripsVLANTags(t *testing.T) {
	open, err := Opener(XDP, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The interface need not exist: the refusal comes first.
	_, kind, err := open("fibd-none0", 0, dataplane.OpenOptions{VLANStripped: true})
	if !errors.Is(err, ErrVLANStripped) || kind != XDP {
		t.Fatalf("open = %q, %v; want ErrVLANStripped", kind, err)
	}
}

// TestAutoUsesAFPacketWhereTagsAreStripped: AF_PACKET gets the stripped
// tag back from the kernel, so --io=auto opens it without trying XDP.
func TestAutoUsesAFPacketWhereTagsAreStripped(t *testing.T) {
	open, err := Opener(Auto, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, kind, err := open("fibd-none0", 0, dataplane.OpenOptions{VLANStripped: true})
	if kind != AFPacket {
		t.Fatalf("auto on a stripping interface used %q (%v), want afpacket", kind, err)
	}
	if errors.Is(err, ErrVLANStripped) {
		t.Fatalf("auto refused: %v", err)
	}
}
