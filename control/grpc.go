package control

import (
	"context"
	"errors"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/control/fibdpb"
	"github.com/fibd/fibd/fib"
)

// GRPCService serves the fibd.v1 API over a Server: it converts protobuf
// messages to domain types and back, and errors to status codes (codeOf).
// It holds no state of its own beyond per-stream buffers.
type GRPCService struct {
	fibdpb.UnimplementedFibdServiceServer
	s *Server
	// beforeApply, when set (by tests), runs before each ModifyRoutes
	// batch is applied.
	beforeApply func()
}

// NewGRPCService returns the gRPC adapter of s.
func NewGRPCService(s *Server) *GRPCService { return &GRPCService{s: s} }

// Register registers the service on a gRPC server.
func (g *GRPCService) Register(gs *grpc.Server) { fibdpb.RegisterFibdServiceServer(gs, g) }

// MaxMessageSize bounds one gRPC message fibd receives: a ModifyRoutes
// batch of MaxBatch entries with long IPv6 prefixes fits with room to spare.
const MaxMessageSize = 16 << 20

// Keepalive: fibd pings a connection that has been quiet for
// KeepaliveTime (HTTP/2 PING) and closes it when no answer comes within
// KeepaliveTimeout, so a peer that vanished without closing its socket —
// a crashed host, a cut link — is found within DeadPeerDetection and its
// sessions end (their disconnect policy applies), instead of after TCP's
// keepalive (about 2.5 minutes with Linux's defaults) or retransmission
// timeout (far longer). Clients may ping fibd as often as
// KeepaliveMinClientTime; client.Dial does every KeepaliveTime.
const (
	KeepaliveTime          = 10 * time.Second
	KeepaliveTimeout       = 10 * time.Second
	DeadPeerDetection      = KeepaliveTime + KeepaliveTimeout
	KeepaliveMinClientTime = 5 * time.Second
)

// ServerOptions are the gRPC server options fibd needs: the message size
// limit, fixed flow-control windows so that a fast ModifyRoutes client has
// at most a known amount of data buffered in fibd per stream (the default
// BDP-probing window can grow to 16 MiB), and keepalive with its
// enforcement.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.InitialWindowSize(4 << 20),
		grpc.InitialConnWindowSize(8 << 20),
		grpc.MaxConcurrentStreams(256),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: KeepaliveTime, Timeout: KeepaliveTimeout}),
		// A client pinging more often than this is told GOAWAY
		// ("too_many_pings"): a misconfigured client must not cost fibd.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveMinClientTime, PermitWithoutStream: true}),
	}
}

// codeOf maps an error from the Server (control's and fib's sentinels) to
// a gRPC status code. The order matters where an error wraps two
// sentinels: a FieldError is InvalidArgument whatever its cause.
func codeOf(err error) codes.Code {
	is := func(targets ...error) bool {
		for _, t := range targets {
			if errors.Is(err, t) {
				return true
			}
		}
		return false
	}
	switch {
	case is(ErrInvalidArgument, ErrReservedSource, fib.ErrInvalidPrefix, fib.ErrInvalidRoute, fib.ErrAddressInvalid, fib.ErrRecursionLoop):
		return codes.InvalidArgument
	case is(fib.ErrNoSuchFIB, fib.ErrNotFound, fib.ErrNoSuchAddress, ErrPortNotFound, ErrNeighborNotFound, fib.ErrNoSuchGroup):
		return codes.NotFound
	case is(fib.ErrFIBExists, fib.ErrAddressExists, ErrPortExists):
		return codes.AlreadyExists
	case is(fib.ErrFIBInUse, fib.ErrDefaultFIB, fib.ErrUnresolved, fib.ErrPortNotBound, ErrNoResync, ErrNotOwner, ErrOwned, fib.ErrGroupInUse, fib.ErrGroupOwned):
		return codes.FailedPrecondition
	case is(fib.ErrLimit, ErrLimit):
		return codes.ResourceExhausted
	case is(ErrUnsupported):
		return codes.Unimplemented
	case is(context.Canceled):
		return codes.Canceled
	case is(context.DeadlineExceeded):
		return codes.DeadlineExceeded
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	return codes.Internal
}

// toStatus turns a Server error into a gRPC status error; a FieldError
// also travels as a google.rpc.BadRequest detail naming the field.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	st := status.New(codeOf(err), err.Error())
	var fe *FieldError
	if errors.As(err, &fe) {
		if d, derr := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: fe.Field, Description: fe.Error()},
		}}); derr == nil {
			st = d
		}
	}
	return st.Err()
}

func (g *GRPCService) GetInfo(context.Context, *fibdpb.GetInfoRequest) (*fibdpb.GetInfoResponse, error) {
	in := g.s.Info()
	return &fibdpb.GetInfoResponse{Epoch: in.Epoch, Version: in.Version, Dataplane: in.Dataplane,
		Started: timestamp(in.Started), StateError: in.StateError}, nil
}

// applied separates "not applied" from "applied, not saved": a change
// whose state file write failed (ErrNotSaved) happened and holds until a
// restart, so it is answered OK with state_error set — an error status
// would tell the client nothing changed.
func applied(err error) (stateError string, _ error) {
	if errors.Is(err, ErrNotSaved) {
		return err.Error(), nil
	}
	return "", err
}
