package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
	"wardsync/internal/wardtest"
)

// faultKind is one kind of trouble the soak inflicts.
type faultKind string

const (
	faultLinkDown     faultKind = "link down"
	faultLatency      faultKind = "latency+jitter"
	faultBandwidth    faultKind = "bandwidth limit"
	faultResetPeer    faultKind = "reset_peer mid-frame"
	faultLimitData    faultKind = "connection cut after N bytes"
	faultKillServer   faultKind = "kill -9 server"
	faultKillStation  faultKind = "kill -9 workstation"
	faultPGRestart    faultKind = "PostgreSQL restart"
	faultAllLinksDown faultKind = "ward cut off (every link down)"
)

// chaos injects faults at random until its context ends; heal waits for
// every fault to be undone.
type chaos struct {
	rng      *rand.Rand
	servers  []*wardtest.ServerProc
	stations []*station
	pg       *wardtest.Cluster // nil: PostgreSQL is not ours to restart
	long     bool

	mu     sync.Mutex
	counts map[faultKind]int
	errs   []error
	wg     sync.WaitGroup
	n      int
}

// fault is one fault drawn: its kind, its name (a toxic's), the workstation
// and the server it strikes, and a scale for its duration.
type fault struct {
	kind   faultKind
	name   string
	st     *station
	srv    int
	scale  time.Duration
	ctx    context.Context
	stream string
}

// faultDraw is a kind of fault, its weight in the draw and what injects
// it. Random draws all happen on the chaos goroutine (run, inject and the
// injecting function), so that a seed replays the same schedule of faults.
type faultDraw struct {
	kind   faultKind
	weight int
	inject func(c *chaos, f fault)
}

var faults = []faultDraw{
	{faultLinkDown, 4, (*chaos).linkDown},
	{faultLatency, 3, func(c *chaos, f fault) {
		c.toxic(f, c.dur(500*time.Millisecond, 4*time.Second*f.scale), map[string]any{"type": "latency",
			"attributes": map[string]any{"latency": 20 + c.rng.IntN(600), "jitter": c.rng.IntN(400)}})
	}},
	{faultBandwidth, 2, func(c *chaos, f fault) {
		c.toxic(f, c.dur(500*time.Millisecond, 3*time.Second*f.scale), map[string]any{"type": "bandwidth",
			"attributes": map[string]any{"rate": 1 + c.rng.IntN(64)}}) // KB/s
	}},
	// The connection is reset (RST) some milliseconds after the next data:
	// in the middle of a push or a page of changes.
	{faultResetPeer, 3, func(c *chaos, f fault) {
		c.toxic(f, c.dur(200*time.Millisecond, 2*time.Second), map[string]any{"type": "reset_peer",
			"toxicity": 0.3 + c.rng.Float64()*0.7, "attributes": map[string]any{"timeout": c.rng.IntN(200)}})
	}},
	{faultLimitData, 2, func(c *chaos, f fault) {
		c.toxic(f, c.dur(200*time.Millisecond, 2*time.Second), map[string]any{"type": "limit_data",
			"attributes": map[string]any{"bytes": 50 + c.rng.IntN(20000)}})
	}},
	{faultKillServer, 2, (*chaos).killServer},
	{faultKillStation, 3, (*chaos).killStation},
	{faultAllLinksDown, 1, (*chaos).allLinksDown},
	{faultPGRestart, 1, (*chaos).restartPG},
}

func (c *chaos) fail(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

func (c *chaos) count(k faultKind) {
	c.mu.Lock()
	c.counts[k]++
	c.mu.Unlock()
}

// dur draws a duration between lo and hi.
func (c *chaos) dur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)+1))
}

// run injects faults until ctx ends.
func (c *chaos) run(ctx context.Context) {
	drawn := slices.DeleteFunc(slices.Clone(faults), func(f faultDraw) bool { return f.kind == faultPGRestart && c.pg == nil })
	total := 0
	for _, f := range drawn {
		total += f.weight
	}
	gap := [2]time.Duration{150 * time.Millisecond, 700 * time.Millisecond}
	if c.long {
		gap = [2]time.Duration{200 * time.Millisecond, 1500 * time.Millisecond}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(c.dur(gap[0], gap[1])):
		}
		x := c.rng.IntN(total)
		for _, f := range drawn {
			if x < f.weight {
				c.inject(ctx, f.kind, f.inject)
				break
			}
			x -= f.weight
		}
	}
}

// hold runs undo after d, or as soon as ctx ends (the heal).
func (c *chaos) hold(ctx context.Context, d time.Duration, undo func()) {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
		undo()
	}()
}

func (c *chaos) heal() { c.wg.Wait() }

// inject draws what every fault needs (a workstation, a server, a stream),
// in the same order whatever the kind, and starts one of kind.
func (c *chaos) inject(ctx context.Context, kind faultKind, do func(*chaos, fault)) {
	c.n++
	f := fault{kind: kind, name: fmt.Sprintf("f%d", c.n), st: c.stations[c.rng.IntN(len(c.stations))],
		srv: c.rng.IntN(len(c.servers)), scale: 1, ctx: ctx}
	if c.long {
		f.scale = 2
	}
	f.stream = []string{"upstream", "downstream"}[c.rng.IntN(2)]
	do(c, f)
}

// toxic adds a toxic of spec to f's link for d.
func (c *chaos) toxic(f fault, d time.Duration, spec map[string]any) {
	l := f.st.links[f.srv]
	spec["name"], spec["stream"] = f.name, f.stream
	added, err := l.AddToxic(spec)
	if err != nil {
		c.fail(fmt.Errorf("add toxic %v: %w", spec, err))
		return
	}
	if !added {
		return // both streams hold a toxic already
	}
	c.count(f.kind)
	c.hold(f.ctx, d, func() {
		if err := l.RemoveToxic(f.name); err != nil {
			c.fail(fmt.Errorf("remove toxic %s: %w", f.name, err))
		}
	})
}

func (c *chaos) linkDown(f fault) {
	d := c.dur(300*time.Millisecond, 3*time.Second*f.scale)
	l := f.st.links[f.srv]
	l.Cut()
	c.count(f.kind)
	c.hold(f.ctx, d, func() {
		if err := l.Restore(); err != nil {
			c.fail(err)
		}
	})
}

// allLinksDown cuts the ward off: every link of every workstation.
func (c *chaos) allLinksDown(f fault) {
	d := c.dur(time.Second, 4*time.Second*f.scale)
	for _, s := range c.stations {
		for _, l := range s.links {
			l.Cut()
		}
	}
	c.count(f.kind)
	c.hold(f.ctx, d, func() {
		for _, s := range c.stations {
			for _, l := range s.links {
				if err := l.Restore(); err != nil {
					c.fail(err)
				}
			}
		}
	})
}

func (c *chaos) killServer(f fault) {
	s := c.servers[f.srv]
	d := c.dur(100*time.Millisecond, 2*time.Second*f.scale)
	if !s.Kill() {
		return
	}
	c.count(f.kind)
	c.hold(f.ctx, d, func() {
		if err := s.Start(context.Background()); err != nil {
			c.fail(err)
		}
	})
}

// killStation kills a workstation and restarts it after a while, through
// a server drawn anew.
func (c *chaos) killStation(f fault) {
	d := c.dur(0, 1500*time.Millisecond*f.scale)
	home := c.rng.IntN(len(c.servers))
	if !f.st.Kill() {
		return
	}
	c.count(f.kind)
	c.hold(f.ctx, d, func() {
		if err := f.st.Start(home); err != nil {
			c.fail(err)
		}
	})
}

func (c *chaos) restartPG(f fault) {
	mode := []string{"immediate", "fast"}[c.rng.IntN(2)]
	d := c.dur(0, 2*time.Second)
	c.count(f.kind)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := c.pg.Restart(mode, d); err != nil {
			c.fail(err)
		}
	}()
}
