package routingd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/osrg/gobgp/v4/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// GoBGPVersion is the gobgp release the tests and benchmarks run. Its v4
// API (api.GoBgpService) is not v3's, and Debian ships gobgpd 3.10, so
// gobgpd and gobgp are built from the Go module at this version.
const GoBGPVersion = "v4.8.0"

// GoBGP returns the paths of gobgpd and gobgp at GoBGPVersion, building
// them once per machine into ${XDG_CACHE_HOME:-~/.cache}/fibd/tools (as
// control/gen.sh builds buf). A file lock makes concurrent test packages
// wait for one build.
func GoBGP() (gobgpd, gobgp string, err error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", "", err
	}
	dir := filepath.Join(cache, "fibd", "tools", "gobgp-"+GoBGPVersion)
	gobgpd, gobgp = filepath.Join(dir, "gobgpd"), filepath.Join(dir, "gobgp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", "", err
	}
	if isExec(gobgpd) && isExec(gobgp) {
		return gobgpd, gobgp, nil
	}
	mod := "github.com/osrg/gobgp/v4/cmd/"
	cmd := exec.Command("go", "install", mod+"gobgpd@"+GoBGPVersion, mod+"gobgp@"+GoBGPVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "GOWORK=off")
	cmd.Dir = dir // outside any module: go install pkg@version uses gobgp's own go.mod
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go install gobgpd and gobgp %s: %v\n%s", GoBGPVersion, err, out)
	}
	return gobgpd, gobgp, nil
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode()&0o111 != 0
}

// GoBGPD is a running gobgpd with its API on a unix socket in Dir (so it
// is reachable from any namespace).
type GoBGPD struct {
	Dir    string
	Proc   *Proc
	Client api.GoBgpServiceClient
	conn   *grpc.ClientConn
	gobgp  string
}

// StartGoBGPD writes conf (TOML) into dir and runs gobgpd through wrap.
func StartGoBGPD(dir string, wrap Wrap, conf string) (*GoBGPD, error) {
	gobgpd, gobgp, err := GoBGP()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "gobgpd.toml")
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, "api.sock")
	_ = os.Remove(sock)
	g := &GoBGPD{Dir: dir, gobgp: gobgp}
	g.Proc, err = Start("gobgpd", wrap, gobgpd, "-f", cfg, "-p", "--api-hosts", "unix://"+sock, "--pprof-disable",
		"--log-level", "info")
	if err != nil {
		return nil, err
	}
	g.conn, err = grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		g.Proc.Kill()
		return nil, err
	}
	g.Client = api.NewGoBgpServiceClient(g.conn)
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := g.Client.GetBgp(ctx, &api.GetBgpRequest{})
		cancel()
		if err == nil {
			return g, nil
		}
		if gone, werr := g.Proc.Exited(); gone {
			return nil, fmt.Errorf("gobgpd exited at start: %v\n%s", werr, g.Proc.Out)
		}
		if time.Now().After(deadline) {
			g.Stop()
			return nil, fmt.Errorf("gobgpd's API did not answer: %v\n%s", err, g.Proc.Out)
		}
	}
}

// Socket is the API's unix socket.
func (g *GoBGPD) Socket() string { return filepath.Join(g.Dir, "api.sock") }

// CLI runs the gobgp command against this gobgpd.
func (g *GoBGPD) CLI(ctx context.Context, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, g.gobgp, append([]string{"--target", "unix://" + g.Socket()}, args...)...).CombinedOutput()
	return string(out), err
}

// Established reports whether the peer at addr is established.
func (g *GoBGPD) Established(ctx context.Context, addr string) bool {
	st, err := g.Client.ListPeer(ctx, &api.ListPeerRequest{Address: addr})
	if err != nil {
		return false
	}
	r, err := st.Recv()
	return err == nil && r.GetPeer().GetState().GetSessionState() == api.PeerState_SESSION_STATE_ESTABLISHED
}

// Destinations counts the prefixes of a family in the global RIB.
func (g *GoBGPD) Destinations(ctx context.Context, afi api.Family_Afi) (uint64, error) {
	r, err := g.Client.GetTable(ctx, &api.GetTableRequest{TableType: api.TableType_TABLE_TYPE_GLOBAL,
		Family: &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST}})
	return r.GetNumDestination(), err
}

// Stop ends gobgpd.
func (g *GoBGPD) Stop() {
	if g.conn != nil {
		g.conn.Close()
	}
	g.Proc.Stop()
}
