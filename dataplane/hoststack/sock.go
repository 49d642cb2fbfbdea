package hoststack

import (
	"context"
	"net"
	"os"
	"strconv"
)

// DefaultPrefix names FIB N's namespace DefaultPrefix+N, "fibd-fib10": the
// prefix fibd uses unless started with --host-netns-prefix.
const DefaultPrefix = "fibd-fib"

// PrefixEnv, when set, replaces DefaultPrefix for In and the package-level
// functions, so a program finds the namespaces of a fibd started with
// another --host-netns-prefix.
const PrefixEnv = "FIBD_HOST_NETNS_PREFIX"

// Namespace is a FIB's host namespace, by name.
type Namespace string

// Name returns FIB fib's namespace under prefix.
func Name(prefix string, fib uint32) Namespace {
	return Namespace(prefix + strconv.FormatUint(uint64(fib), 10))
}

// DeviceName is the TUN's name in FIB fib's namespace: "fib10".
func DeviceName(fib uint32) string { return "fib" + strconv.FormatUint(uint64(fib), 10) }

// In returns FIB fib's namespace under $FIBD_HOST_NETNS_PREFIX, or
// DefaultPrefix.
func In(fib uint32) Namespace {
	p := os.Getenv(PrefixEnv)
	if p == "" {
		p = DefaultPrefix
	}
	return Name(p, fib)
}

// Listen announces on the local network address inside FIB fib, as
// net.Listen does in the program's own namespace: one process can listen
// on 192.0.2.1:80 in FIB 10 and on 192.0.2.1:80 in FIB 20, each socket
// answering its own FIB's customers (FreeBSD's SO_SETFIB).
func Listen(fib uint32, network, address string) (net.Listener, error) {
	return In(fib).Listen(network, address)
}

// ListenPacket is net.ListenPacket inside FIB fib.
func ListenPacket(fib uint32, network, address string) (net.PacketConn, error) {
	return In(fib).ListenPacket(network, address)
}

// Dial is net.Dial from inside FIB fib.
func Dial(fib uint32, network, address string) (net.Conn, error) {
	return In(fib).DialContext(context.Background(), network, address)
}

// Listen is net.Listen inside ns.
func (ns Namespace) Listen(network, address string) (l net.Listener, err error) {
	err = ns.Do(func() error {
		l, err = net.Listen(network, address)
		return err
	})
	return l, err
}

// ListenPacket is net.ListenPacket inside ns.
func (ns Namespace) ListenPacket(network, address string) (c net.PacketConn, err error) {
	err = ns.Do(func() error {
		c, err = net.ListenPacket(network, address)
		return err
	})
	return c, err
}

// DialContext is net.Dialer.DialContext from inside ns. Name lookups send
// their queries from the namespace too (to the servers of the program's
// resolv.conf; under `fibctl exec` that is the FIB's). Happy Eyeballs is
// off: it would dial on goroutines outside the namespace's thread.
func (ns Namespace) DialContext(ctx context.Context, network, address string) (c net.Conn, err error) {
	d := net.Dialer{FallbackDelay: -1, Resolver: &net.Resolver{PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (c net.Conn, err error) {
			err = ns.Do(func() error {
				c, err = (&net.Dialer{}).DialContext(ctx, network, address)
				return err
			})
			return c, err
		}}}
	host, _, serr := net.SplitHostPort(address)
	if serr == nil && net.ParseIP(host) == nil && host != "" {
		// Resolve first, on whichever threads the resolver likes (its
		// sockets enter ns), then connect from the namespace's thread.
		var addrs []string
		if addrs, err = d.Resolver.LookupHost(ctx, host); err != nil {
			return nil, err
		}
		_, port, _ := net.SplitHostPort(address)
		var firstErr error
		for _, a := range addrs {
			if c, err = ns.dialLiteral(ctx, &d, network, net.JoinHostPort(a, port)); err == nil {
				return c, nil
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		return nil, firstErr
	}
	return ns.dialLiteral(ctx, &d, network, address)
}

func (ns Namespace) dialLiteral(ctx context.Context, d *net.Dialer, network, address string) (c net.Conn, err error) {
	err = ns.Do(func() error {
		c, err = d.DialContext(ctx, network, address)
		return err
	})
	return c, err
}
