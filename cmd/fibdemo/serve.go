package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// serveMain is `fibdemo serve`: the small server the demo (and the host
// stack's tests) run on the router inside a FIB with `fibctl exec --fib N
// -- fibdemo serve …`. It answers
//
//	GET  /            the --body text
//	GET  /big?bytes=N N deterministic bytes (BigBytes), for transfers with a checksum
//	POST /upload      the SHA-256 of the request body, in hex
//
// on every --http address, and echoes datagrams on every --udp address.
// The FIB's addresses reach its namespace a moment after the host stack
// starts, so binding is retried for --wait.
func serveMain(args []string) int {
	fs := flag.NewFlagSet("fibdemo serve", flag.ContinueOnError)
	var httpAddrs, udpAddrs listFlag
	body := fs.String("body", "hello", "what GET / answers")
	wait := fs.Duration("wait", 10*time.Second, "how long to retry binding an address not there yet")
	fs.Var(&httpAddrs, "http", "serve HTTP on this address (repeatable)")
	fs.Var(&udpAddrs, "udp", "echo UDP datagrams on this address (repeatable)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, *body) })
	mux.HandleFunc("GET /big", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.URL.Query().Get("bytes"))
		if err != nil || n < 0 || n > 1<<30 {
			http.Error(w, "bytes: want 0-1073741824", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(n))
		_, _ = io.CopyN(w, BigReader(), int64(n))
	})
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		n, err := io.Copy(h, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%s %d\n", hex.EncodeToString(h.Sum(nil)), n)
	})
	deadline := time.Now().Add(*wait)
	retry := func(what, addr string, fn func() error) error {
		for {
			err := fn()
			if err == nil || time.Now().After(deadline) {
				if err != nil {
					return fmt.Errorf("%s %s: %w", what, addr, err)
				}
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, a := range httpAddrs {
		var ln net.Listener
		if err := retry("http", a, func() (err error) { ln, err = net.Listen("tcp", a); return err }); err != nil {
			fmt.Fprintln(os.Stderr, "fibdemo serve:", err)
			return 1
		}
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
	}
	for _, a := range udpAddrs {
		var c net.PacketConn
		if err := retry("udp", a, func() (err error) { c, err = net.ListenPacket("udp", a); return err }); err != nil {
			fmt.Fprintln(os.Stderr, "fibdemo serve:", err)
			return 1
		}
		go echo(c, *body)
	}
	fmt.Printf("serving http %s udp %s\n", strings.Join(httpAddrs, ","), strings.Join(udpAddrs, ","))
	select {}
}

// echo answers each datagram with body, a space and the datagram.
func echo(c net.PacketConn, body string) {
	buf := make([]byte, 65536)
	for {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		_, _ = c.WriteTo(append([]byte(body+" "), buf[:n]...), from)
	}
}

// BigReader returns the endless deterministic byte stream /big serves: a
// client that reads N bytes from its own BigReader has the checksum to
// compare with.
func BigReader() io.Reader { return &bigReader{r: rand.NewChaCha8([32]byte{'f', 'i', 'b', 'd'})} }

type bigReader struct{ r *rand.ChaCha8 }

func (b *bigReader) Read(p []byte) (int, error) { return b.r.Read(p) }

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }
