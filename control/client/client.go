// Package client connects to fibd's gRPC API and streams route tables
// through ModifyRoutes. fibctl and fibbench use it; a routing daemon
// written in Go can too.
package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"github.com/fibd/fibd/control"
	"github.com/fibd/fibd/control/fibdpb"
)

// DefaultSocket is where fibd listens unless told otherwise.
const DefaultSocket = "/run/fibd/fibd.sock"

// Options say how to reach fibd: a unix socket, or a TCP address with TLS
// and a client certificate (mTLS).
type Options struct {
	Socket string // unix socket path; used when Addr is empty
	Addr   string // host:port

	// TLS, for Addr: the CA that signed fibd's certificate, this client's
	// certificate and key, and the name to expect in fibd's certificate
	// (default: the host of Addr).
	CAFile, CertFile, KeyFile string
	ServerName                string
}

// Conn is a connection to fibd.
type Conn struct {
	*grpc.ClientConn
	fibdpb.FibdServiceClient
}

// Dial connects to fibd (lazily: the first call reports a refused
// connection).
func Dial(o Options) (*Conn, error) {
	var target string
	var creds credentials.TransportCredentials
	switch {
	case o.Addr != "":
		tc, err := TLSConfig(o)
		if err != nil {
			return nil, err
		}
		target, creds = "dns:///"+o.Addr, credentials.NewTLS(tc)
	default:
		path := o.Socket
		if path == "" {
			path = DefaultSocket
		}
		target, creds = "unix://"+path, insecure.NewCredentials()
		if path[0] != '/' {
			target = "unix:" + path
		}
	}
	// Keepalive both ways: fibd finds a dead client (control.KeepaliveTime),
	// and the client finds a dead fibd as fast, within what fibd's
	// enforcement policy allows.
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(control.MaxMessageSize)),
		grpc.WithInitialWindowSize(4<<20), grpc.WithInitialConnWindowSize(8<<20),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: control.KeepaliveTime, Timeout: control.KeepaliveTimeout,
			PermitWithoutStream: true}))
	if err != nil {
		return nil, fmt.Errorf("connect to fibd: %w", err)
	}
	return &Conn{ClientConn: cc, FibdServiceClient: fibdpb.NewFibdServiceClient(cc)}, nil
}

// TLSConfig builds the client side of mTLS from o.
func TLSConfig(o Options) (*tls.Config, error) {
	if o.CAFile == "" || o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("TCP needs TLS: give the CA, the client certificate and its key")
	}
	pem, err := os.ReadFile(o.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", o.CAFile)
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: o.ServerName,
		MinVersion: tls.VersionTLS13}, nil
}
