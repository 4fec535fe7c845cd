package http_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"wardsync/internal/wardtest"
	"wardsync/server/postgres"
	"wardsync/workflow"
)

// pokeWithin is the poke latency docs/protocol.md §6 promises for a
// committed change, whoever wrote it.
const pokeWithin = time.Second

// notifications gathers what a plain LISTEN connection hears.
type notifications struct {
	mu  sync.Mutex
	got []pgconnNotice
}

type pgconnNotice struct{ channel, payload string }

func (n *notifications) take() []pgconnNotice {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := n.got
	n.got = nil
	return out
}

// add keeps what a listener heard (postgres.DB.ListenAdmin's callback).
func (n *notifications) add(channel, payload string) {
	n.mu.Lock()
	n.got = append(n.got, pgconnNotice{channel, payload})
	n.mu.Unlock()
}

// listenRaw follows the announce channels on a connection of its own, as
// any other program may.
func listenRaw(t *testing.T, url string) *notifications {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range postgres.AdminChannels {
		if _, err := conn.Exec(ctx, "LISTEN "+ch); err != nil {
			t.Fatal(err)
		}
	}
	n := &notifications{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			m, err := conn.WaitForNotification(ctx)
			if err != nil {
				return
			}
			n.add(m.Channel, m.Payload)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = conn.Close(context.Background())
	})
	return n
}

// TestAnnouncedAfterCommit: the server's own transactions notify nothing
// inside them (a NOTIFY there would serialise every commit of the
// cluster); the server announces each commit afterwards, so that a
// device on another instance is still poked within the poke latency and
// that instance's dashboards still hear of the recorded mutation. A write
// by another program is still notified by trigger at its commit and pokes
// the devices of every instance within the poke latency.
func TestAnnouncedAfterCommit(t *testing.T) {
	t.Parallel()
	env := wardtest.StartServer(t, wardtest.Options{})
	b := env.Again(t, wardtest.Options{})
	heard := listenRaw(t, env.DatabaseURL)

	// B's dashboards: what its admin listener hears.
	dash := &notifications{}
	dctx, dcancel := context.WithCancel(context.Background())
	dashDone := make(chan struct{})
	go func() {
		defer close(dashDone)
		_ = b.DB.ListenAdmin(dctx, dash.add)
	}()
	t.Cleanup(func() { dcancel(); <-dashDone })
	time.Sleep(200 * time.Millisecond) // B's dashboard listener is connected

	sec := env.Login(t, workflow.RoleSecretary, demo)
	ward := env.AddDevice(t, "Ward B", workflow.Roles...)
	onB := b.Connect(t, b.Login(t, workflow.RoleNurse, ward), ward)
	onA := env.Connect(t, sec, demo)
	onB.PullAll(t, wardtest.NewReplica(), 0)
	time.Sleep(100 * time.Millisecond)
	onA.DrainPokes()
	onB.DrainPokes()
	heard.take()

	p := uuid.NewString()
	onA.Act(t, "patient.register", registerArgs(p, "Announced"), sec, ms(time.Now()))
	if !onB.WaitPoke(pokeWithin) {
		t.Fatalf("the device on B was not poked within %s of a push committed on A", pokeWithin)
	}
	var dashHeard []pgconnNotice
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		dashHeard = append(dashHeard, dash.take()...)
		if slices.Contains(dashHeard, pgconnNotice{postgres.ChannelAdmin, "mutations"}) {
			return ""
		}
		return fmt.Sprintf("B's dashboards did not hear of the mutation recorded on A: %v", dashHeard)
	})
	// Every notification of the push came from the announcement after its
	// commit (its payload names the announcing instance), none from a
	// trigger inside the push's transaction (a bare payload).
	// The raw listener is a connection of its own: it may hear the
	// announcement after B's dashboards did, so it is waited for.
	var got []pgconnNotice
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		got = append(got, heard.take()...)
		for _, n := range got {
			if n.channel == postgres.ChannelChanges {
				return ""
			}
		}
		return "the push was not announced to the other instances"
	})
	for _, n := range got {
		if !strings.Contains(n.payload, "@") {
			t.Errorf("notification %s %q was sent inside the server's transaction", n.channel, n.payload)
		}
	}

	// Another program's write: notified by trigger at its commit.
	onA.DrainPokes()
	onB.DrainPokes()
	if _, err := env.Pool.Exec(context.Background(), `UPDATE patients SET phone = 'foreign', "updatedAt" = now() WHERE id = $1`, p); err != nil {
		t.Fatal(err)
	}
	if !onA.WaitPoke(pokeWithin) || !onB.WaitPoke(pokeWithin) {
		t.Fatalf("a commit by another program did not poke both instances' devices within %s", pokeWithin)
	}
	wardtest.Eventually(t, wardtest.WaitTimeout, func() string {
		for _, n := range heard.take() {
			if n.channel == postgres.ChannelChanges && n.payload == "" {
				return ""
			}
		}
		return "another program's commit was not notified by trigger"
	})
}
