package fwdbench

import (
	"context"
	"errors"
	"runtime"

	"github.com/fibd/fibd/dataplane"
	"github.com/fibd/fibd/dataplane/afpacket"
)

// Bare is the reference userspace forwarder: one OS-locked goroutine that
// reads a batch from In's TPACKET_V3 ring, rewrites each frame's MACs and
// decrements its TTL (patching the IPv4 checksum incrementally), and sends
// the batch out of Out with one sendmmsg. No parsing beyond that, no
// lookup, no per-packet checks but the TTL: what it costs is the floor for
// any dataplane on dataplane/afpacket.
func Bare(ctx context.Context, env *Env) error {
	in, err := afpacket.Open(env.In, afpacket.Config{})
	if err != nil {
		return err
	}
	out, err := afpacket.Open(env.Out, afpacket.Config{})
	if err != nil {
		in.Close()
		return err
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- bareLoop(in, out, env)
	}()
	env.Ready()
	<-ctx.Done()
	_ = in.Close()
	_ = out.Close()
	return <-done
}

func bareLoop(in, out dataplane.PacketIO, env *Env) error {
	bufs := make([][]byte, dataplane.BatchSize)
	for i := range bufs {
		bufs[i] = make([]byte, dataplane.MaxFrame)
	}
	meta := make([]dataplane.RxMeta, dataplane.BatchSize)
	tx := make([][]byte, 0, dataplane.BatchSize)
	var l2 [12]byte
	copy(l2[0:6], env.NextHopMAC[:])
	copy(l2[6:12], env.OutMAC[:])
	for {
		n, err := in.ReadBatch(bufs, meta)
		if err != nil {
			if errors.Is(err, dataplane.ErrClosed) {
				return nil
			}
			return err
		}
		tx = tx[:0]
		for i := range n {
			if f := bufs[i][:meta[i].Len]; bareRewrite(f, &l2) {
				tx = append(tx, f)
			}
		}
		if len(tx) > 0 {
			if _, err := out.WriteBatch(tx); err != nil {
				if errors.Is(err, dataplane.ErrClosed) {
					return nil
				}
				return err
			}
		}
	}
}
