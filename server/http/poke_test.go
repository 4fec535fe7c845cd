package http

import (
	"testing"

	"github.com/gorilla/websocket"
)

// A device that has not yet taken its queued poke is told the newest head,
// not the oldest: pokes of an older head (a re-check while changes were
// held) must not hide the one a waiting monitor needs.
func TestPokeKeepsTheNewest(t *testing.T) {
	c := &conn{pokeFlag: make(chan *websocket.PreparedMessage, 1)}
	c.welcomed.Store(true)
	var sent []*websocket.PreparedMessage
	for _, s := range []string{`{"type":"poke","head":"1"}`, `{"type":"poke","head":"2"}`, `{"type":"poke","head":"3"}`} {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(s))
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, pm)
		c.poke(pm)
	}
	if got := len(c.pokeFlag); got != 1 {
		t.Fatalf("%d pokes queued, want 1", got)
	}
	if got := <-c.pokeFlag; got != sent[2] {
		t.Fatalf("queued poke is not the newest")
	}

	unwelcomed := &conn{pokeFlag: make(chan *websocket.PreparedMessage, 1)}
	unwelcomed.poke(sent[0])
	if got := len(unwelcomed.pokeFlag); got != 0 {
		t.Fatalf("a device not yet welcomed was poked (%d queued)", got)
	}
}
