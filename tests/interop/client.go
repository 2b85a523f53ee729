// Interop client: drives our agent with containerd's own ttRPC client and gogo-generated stubs, the same
// code path the Kata Go runtime uses. The stubs (package katapb/grpc) are generated from copies of
// proto/*.proto at test time by tests/integration/test-go-interop.sh; nothing generated is committed.
//
// Usage:
//
//	client -golden                 checks the Go client's Health.Check request bytes (no agent needed)
//	client -addr unix:///path.sock runs every case against an agent listening there
//
// Prints one line per case, `[       OK ] name` or `[  FAILED  ] name: why`, and exits 1 when any failed.
package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/ttrpc"
	gogotypes "github.com/gogo/protobuf/types"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "katapb/grpc"
)

// The wire examples in the reference (kata-agent-api.md, "Wire examples"): Health.Check with an empty
// CheckRequest and no deadline, and the SERVING reply without a status field.
const (
	goldenRequest = "000000140000000101000a0b677270632e4865616c74681205436865636b"
	goldenReply   = "0000000400000001020012020801"
	callTimeout   = 10 * time.Second
)

var (
	failed bool
	prefix string // names the agent under test when one script runs several
)

func report(name string, err error) {
	name = prefix + name
	if err != nil {
		fmt.Printf("[  FAILED  ] %s: %v\n", name, err)
		failed = true
		return
	}
	fmt.Printf("[       OK ] %s\n", name)
}

// readFrame reads one ttRPC frame (10-byte header plus payload) and returns it whole.
func readFrame(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 10)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("reading header: %w", err)
	}
	n := uint32(hdr[0])<<24 | uint32(hdr[1])<<16 | uint32(hdr[2])<<8 | uint32(hdr[3])
	if n > 4<<20 {
		return nil, fmt.Errorf("frame length %d over 4 MiB", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("reading %d payload bytes: %w", n, err)
	}
	return append(hdr, body...), nil
}

// caseGoldenRequest records the first frame the Go client writes for Health.Check on a socket we own.
func caseGoldenRequest() error {
	dir, err := os.MkdirTemp("", "ttrpc-golden")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		return err
	}
	defer l.Close()

	got := make(chan []byte, 1)
	errc := make(chan error, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close() // the client's pending call then fails, which is expected
		_ = c.SetReadDeadline(time.Now().Add(callTimeout))
		f, err := readFrame(c)
		if err != nil {
			errc <- err
			return
		}
		got <- f
	}()

	conn, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		return err
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	// No deadline: a deadline would add timeout_nano (field 4) and change the bytes.
	go func() { _, _ = pb.NewHealthClient(client).Check(context.Background(), &pb.CheckRequest{}) }()

	select {
	case f := <-got:
		if h := hex.EncodeToString(f); h != goldenRequest {
			return fmt.Errorf("request bytes %s, want %s", h, goldenRequest)
		}
		return nil
	case err := <-errc:
		return err
	case <-time.After(callTimeout):
		return errors.New("no frame captured")
	}
}

// caseGoldenReply sends the golden request bytes on a fresh connection and compares the raw reply.
func caseGoldenReply(path string) error {
	c, err := net.DialTimeout("unix", path, callTimeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(callTimeout))
	req, _ := hex.DecodeString(goldenRequest)
	if _, err := c.Write(req); err != nil {
		return err
	}
	f, err := readFrame(c)
	if err != nil {
		return err
	}
	want, _ := hex.DecodeString(goldenReply)
	if !bytes.Equal(f, want) {
		return fmt.Errorf("reply bytes %s, want %s", hex.EncodeToString(f), goldenReply)
	}
	return nil
}

func withTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), callTimeout)
}

func wantCode(err error, want codes.Code) error {
	if err == nil {
		return fmt.Errorf("call succeeded, want %v", want)
	}
	if got := status.Code(err); got != want {
		return fmt.Errorf("got %v (%v), want %v", got, err, want)
	}
	return nil
}

func runAgentCases(path string) {
	conn, err := net.DialTimeout("unix", path, callTimeout)
	if err != nil {
		report("connect", err)
		return
	}
	client := ttrpc.NewClient(conn)
	defer client.Close()
	health := pb.NewHealthClient(client)
	agent := pb.NewAgentServiceClient(client)

	check := func() error {
		ctx, cancel := withTimeout()
		defer cancel()
		r, err := health.Check(ctx, &pb.CheckRequest{})
		if err != nil {
			return err
		}
		if r.Status != pb.HealthCheckResponse_SERVING {
			return fmt.Errorf("status %v, want SERVING", r.Status)
		}
		return nil
	}
	report("health-check", check())

	report("health-version", func() error {
		ctx, cancel := withTimeout()
		defer cancel()
		r, err := health.Version(ctx, &pb.CheckRequest{})
		if err != nil {
			return err
		}
		if r.GrpcVersion != "0.0.1" {
			return fmt.Errorf("grpc_version %q, want \"0.0.1\"", r.GrpcVersion)
		}
		if r.AgentVersion == "" {
			return errors.New("agent_version is empty")
		}
		return nil
	}())

	report("get-guest-details", func() error {
		ctx, cancel := withTimeout()
		defer cancel()
		r, err := agent.GetGuestDetails(ctx, &pb.GuestDetailsRequest{MemBlockSize: true, MemHotplugProbe: true})
		if err != nil {
			return err
		}
		if r.AgentDetails == nil || r.AgentDetails.Version == "" {
			return errors.New("agent_details.version is empty")
		}
		return nil
	}())

	// A path no server knows: the Kata runtime treats codes.Unimplemented as "older agent".
	report("unknown-method-unimplemented", func() error {
		ctx, cancel := withTimeout()
		defer cancel()
		var resp gogotypes.Empty
		return wantCode(client.Call(ctx, "grpc.AgentService", "NoSuchMethod", &gogotypes.Empty{}, &resp),
			codes.Unimplemented)
	}())

	// A known service name with an unknown method must not break the connection either.
	report("unknown-service-unimplemented", func() error {
		ctx, cancel := withTimeout()
		defer cancel()
		var resp gogotypes.Empty
		return wantCode(client.Call(ctx, "grpc.NoSuchService", "Check", &gogotypes.Empty{}, &resp),
			codes.Unimplemented)
	}())

	// GetOOMEvent is a long poll with no event pending on an idle agent. Either the client's own
	// deadline fires (context.DeadlineExceeded) or the server honours timeout_nano and answers
	// DEADLINE_EXCEEDED; both are fine, as long as the connection keeps serving afterwards.
	report("oom-event-deadline", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		r, err := agent.GetOOMEvent(ctx, &pb.GetOOMEventRequest{})
		if err == nil {
			return fmt.Errorf("returned an event for %q on an idle agent", r.ContainerId)
		}
		if !errors.Is(err, context.DeadlineExceeded) && status.Code(err) != codes.DeadlineExceeded {
			return fmt.Errorf("got %v (%v), want DeadlineExceeded", status.Code(err), err)
		}
		if d := time.Since(start); d > 5*time.Second {
			return fmt.Errorf("deadline of 300ms took %v", d)
		}
		return nil
	}())
	report("check-after-deadline", check())

	report("golden-reply", caseGoldenReply(path))
}

func main() {
	addr := flag.String("addr", "", "agent address, unix:///path or a socket path")
	golden := flag.Bool("golden", false, "check the Go client's request bytes against the wire example")
	flag.StringVar(&prefix, "prefix", "", "prepended to every case name")
	flag.Parse()
	if !*golden && *addr == "" {
		fmt.Fprintln(os.Stderr, "usage: client -golden | -addr unix:///path")
		os.Exit(2)
	}
	if *golden {
		report("golden-request", caseGoldenRequest())
	}
	if *addr != "" {
		runAgentCases(strings.TrimPrefix(*addr, "unix://"))
	}
	if failed {
		os.Exit(1)
	}
}
