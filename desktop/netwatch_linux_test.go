package desktop

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// A network change the kernel reports reaches the engine. The change is
// made in a network namespace of the test's own, so the machine's
// interfaces are not touched: the watcher runs on a thread moved into a
// fresh namespace (unshare), and `ip link set lo up` runs inside it.
func TestWatchNetworkSeesALinkChange(t *testing.T) {
	ip, err := exec.LookPath("ip")
	if err != nil {
		t.Skip("ip (iproute2) is missing")
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Skip("nsenter (util-linux) is missing")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changed := make(chan struct{}, 1)
	nsFile := make(chan *os.File, 1)
	nsErr := make(chan error, 1)
	go func() {
		// Never unlocked: the runtime retires the thread with its
		// namespace when the goroutine ends.
		runtime.LockOSThread()
		if err := syscall.Unshare(syscall.CLONE_NEWNET); err != nil {
			nsErr <- err
			return
		}
		f, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			nsErr <- err
			return
		}
		nsFile <- f
		watchNetwork(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		})
	}()
	var ns *os.File
	select {
	case err := <-nsErr:
		t.Skipf("cannot make a network namespace here (%v): needs root or user namespaces", err)
	case ns = <-nsFile:
	}
	defer ns.Close()
	time.Sleep(300 * time.Millisecond) // the watcher binds its socket
	// nsenter (util-linux) joins it through the descriptor handed over
	// as its fd 3.
	cmd := exec.Command(nsenter, "--net=/proc/self/fd/3", ip, "link", "set", "lo", "up")
	cmd.ExtraFiles = []*os.File{ns}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bring up the namespace's loopback: %v\n%s", err, b)
	}
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("the loopback came up in the watcher's namespace, but no network change was reported")
	}
}
