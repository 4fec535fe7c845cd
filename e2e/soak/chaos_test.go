package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
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

// chaos injects faults at random until its context ends, then undoes the
// ones still active.
type chaos struct {
	rng      *rand.Rand
	servers  []*wardtest.ServerProc
	stations []*stationProc
	pg       *wardtest.Cluster // nil: PostgreSQL is not ours to restart
	long     bool
	log      func(format string, a ...any)

	mu     sync.Mutex
	counts map[faultKind]int
	errs   []error
	wg     sync.WaitGroup
	n      int
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

func (c *chaos) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var parts []string
	total := 0
	for k, n := range c.counts {
		parts = append(parts, fmt.Sprintf("%s %d", k, n))
		total += n
	}
	sort.Strings(parts)
	return fmt.Sprintf("%d faults: %s", total, strings.Join(parts, ", "))
}

// dur draws a duration between lo and hi.
func (c *chaos) dur(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)+1))
}

// run injects faults until ctx ends; heal waits for every fault to be undone.
func (c *chaos) run(ctx context.Context) {
	type choice struct {
		kind   faultKind
		weight int
	}
	choices := []choice{
		{faultLinkDown, 4}, {faultLatency, 3}, {faultBandwidth, 2}, {faultResetPeer, 3}, {faultLimitData, 2},
		{faultKillServer, 2}, {faultKillStation, 3}, {faultAllLinksDown, 1},
	}
	if c.pg != nil {
		choices = append(choices, choice{faultPGRestart, 1})
	}
	total := 0
	for _, ch := range choices {
		total += ch.weight
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
		for _, ch := range choices {
			if x < ch.weight {
				c.inject(ctx, ch.kind)
				break
			}
			x -= ch.weight
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

// inject draws the details of one fault and starts it. Random draws all
// happen here, on the chaos goroutine, so that a seed replays the same
// schedule of faults.
func (c *chaos) inject(ctx context.Context, kind faultKind) {
	c.n++
	name := fmt.Sprintf("f%d", c.n)
	st := c.stations[c.rng.IntN(len(c.stations))]
	srv := c.rng.IntN(len(c.servers))
	l := st.links[srv]
	scale := time.Duration(1)
	if c.long {
		scale = 2
	}
	stream := []string{"upstream", "downstream"}[c.rng.IntN(2)]
	toxic := func(d time.Duration, spec map[string]any) {
		spec["name"], spec["stream"] = name, stream
		added, err := l.AddToxic(spec)
		if err != nil {
			c.fail(fmt.Errorf("add toxic %v: %w", spec, err))
			return
		}
		if !added {
			return // both streams hold a toxic already
		}
		c.count(kind)
		c.hold(ctx, d, func() {
			if err := l.RemoveToxic(name); err != nil {
				c.fail(fmt.Errorf("remove toxic %s: %w", name, err))
			}
		})
	}
	switch kind {
	case faultLinkDown:
		d := c.dur(300*time.Millisecond, 3*time.Second*scale)
		l.Cut()
		c.count(kind)
		c.hold(ctx, d, func() {
			if err := l.Restore(); err != nil {
				c.fail(err)
			}
		})
	case faultAllLinksDown:
		d := c.dur(time.Second, 4*time.Second*scale)
		for _, s := range c.stations {
			for _, l := range s.links {
				l.Cut()
			}
		}
		c.count(kind)
		c.hold(ctx, d, func() {
			for _, s := range c.stations {
				for _, l := range s.links {
					if err := l.Restore(); err != nil {
						c.fail(err)
					}
				}
			}
		})
	case faultLatency:
		toxic(c.dur(500*time.Millisecond, 4*time.Second*scale), map[string]any{"type": "latency",
			"attributes": map[string]any{"latency": 20 + c.rng.IntN(600), "jitter": c.rng.IntN(400)}})
	case faultBandwidth:
		toxic(c.dur(500*time.Millisecond, 3*time.Second*scale), map[string]any{"type": "bandwidth",
			"attributes": map[string]any{"rate": 1 + c.rng.IntN(64)}}) // KB/s
	case faultResetPeer:
		// The connection is reset (RST) some milliseconds after the next
		// data: in the middle of a push or a page of changes.
		toxic(c.dur(200*time.Millisecond, 2*time.Second), map[string]any{"type": "reset_peer",
			"toxicity": 0.3 + c.rng.Float64()*0.7, "attributes": map[string]any{"timeout": c.rng.IntN(200)}})
	case faultLimitData:
		toxic(c.dur(200*time.Millisecond, 2*time.Second), map[string]any{"type": "limit_data",
			"attributes": map[string]any{"bytes": 50 + c.rng.IntN(20000)}})
	case faultKillServer:
		s := c.servers[srv]
		d := c.dur(100*time.Millisecond, 2*time.Second*scale)
		if !s.Kill() {
			return
		}
		c.count(kind)
		c.hold(ctx, d, func() {
			if err := s.Start(context.Background()); err != nil {
				c.fail(err)
			}
		})
	case faultKillStation:
		d := c.dur(0, 1500*time.Millisecond*scale)
		home := c.rng.IntN(len(c.servers))
		if !st.kill9() {
			return
		}
		c.count(kind)
		c.hold(ctx, d, func() {
			if err := st.restart(home); err != nil {
				c.fail(err)
			}
		})
	case faultPGRestart:
		mode := []string{"immediate", "fast"}[c.rng.IntN(2)]
		d := c.dur(0, 2*time.Second)
		c.count(kind)
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := c.pg.Restart(mode, d); err != nil {
				c.fail(err)
			}
		}()
	}
}
