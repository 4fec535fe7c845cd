package wardtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Link is the path from one workstation to one server: a toxiproxy proxy
// that can be cut (stopped: open connections die, new ones are refused)
// and given toxics.
type Link struct {
	P     *toxiproxy.Proxy
	mu    sync.Mutex
	down  int               // how many faults hold it down
	toxic map[string]string // the toxic each stream holds (AddToxic)
}

var (
	toxiOnce sync.Once
	toxi     *toxiproxy.ApiServer
)

// NewLink is a Link from a free loopback port to target (host:port), named
// name (unique among the test binary's links), until the test ends.
func NewLink(tb testing.TB, name, target string) *Link {
	tb.Helper()
	toxiOnce.Do(func() { toxi = toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop()) })
	p := toxiproxy.NewProxy(toxi, name, "127.0.0.1:0", target)
	check(tb, p.Start())
	tb.Cleanup(p.Stop)
	return &Link{P: p}
}

// URL is the base URL a workstation uses to reach the server through l.
func (l *Link) URL() string { return "http://" + l.P.Listen }

// Cut stops the proxy, unless an earlier Cut already did; each Cut is
// undone by one Restore.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down++
	if l.down == 1 {
		l.P.Stop()
	}
}

// Restore undoes one Cut and starts the proxy once none holds it down
// (on a link that is up: nothing).
func (l *Link) Restore() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down == 0 {
		return nil
	}
	l.down--
	if l.down > 0 {
		return nil
	}
	var err error
	for range 50 { // the port may linger a moment
		if err = l.P.Start(); err == nil || errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("restart proxy %s: %w", l.P.Name, err)
}

// AddToxic and RemoveToxic hold the link's lock like Cut and Restore:
// toxiproxy's Proxy.Stop and RemoveToxic both wait for the proxy's links,
// and deadlock when a cut and a toxic's end meet on one link.
//
// A stream holds at most one toxic at a time: toxiproxy 2.5.0 restarts the
// previous toxic of a chain, with a stale state, when one is added, and a
// limit_data behind another toxic then panics inside toxiproxy. With one
// toxic per stream the previous one is always the noop. AddToxic reports
// false when both streams are taken: the fault is skipped.
func (l *Link) AddToxic(spec map[string]any) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.toxic == nil {
		l.toxic = map[string]string{}
	}
	stream, _ := spec["stream"].(string)
	if l.toxic[stream] != "" {
		stream = map[string]string{"upstream": "downstream", "downstream": "upstream"}[stream]
		if l.toxic[stream] != "" {
			return false, nil
		}
		spec["stream"] = stream
	}
	b, _ := json.Marshal(spec)
	if _, err := l.P.Toxics.AddToxicJson(bytes.NewReader(b)); err != nil {
		return false, err
	}
	l.toxic[stream], _ = spec["name"].(string)
	return true, nil
}

// RemoveToxic removes the toxic AddToxic added as name.
func (l *Link) RemoveToxic(name string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for stream, n := range l.toxic {
		if n == name {
			delete(l.toxic, stream)
		}
	}
	return l.P.Toxics.RemoveToxic(context.Background(), name)
}
