package soak

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"wardsync/internal/wardtest"
	httpserver "wardsync/server/http"
	"wardsync/workflow"
)

// Hostile HTTP: slowloris headers, an oversized header and JSON bodies
// with trailing data. Each is refused or cut off by the server's own
// limits, writes nothing, and a bystander goes on being served meanwhile.
func TestHostileHTTP(t *testing.T) {
	t.Parallel()
	e := newHostileWith(t, func(s *httpserver.Server) { s.SetClientTimeouts(time.Second, time.Second) })
	dev := e.AddDevice(e.t, "Ward 7", workflow.Roles...)
	by := e.bystander()

	// Slowloris headers: 40 connections that never finish their headers.
	{
		const n = 40
		var wg sync.WaitGroup
		results := make(chan string, n)
		start := time.Now()
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results <- slowHeaders(e.HTTP.Addr())
			}()
		}
		by.stillServing("40 slowloris connections open")
		before := e.counts()
		wg.Wait()
		close(results)
		for r := range results {
			if r != "" {
				t.Fatal(r)
			}
		}
		// Cut off after the 1 s header timeout, not after the 20 s a
		// slowloris client would have kept them.
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("slow clients were held %s", d)
		}
		e.unchanged("slowloris", before, nil)
		by.stillServing("slowloris")
	}

	// A login body sent a byte at a time: cut off at the body timeout,
	// and nothing is logged in.
	{
		before := e.counts()
		c, err := net.Dial("tcp", e.HTTP.Addr())
		if err != nil {
			t.Fatal(err)
		}
		body := `{"email":"` + wardtest.Email(workflow.RoleNurse) + `","password":"` + wardtest.Password(workflow.RoleNurse) + `","deviceId":"` + dev + `"}`
		fmt.Fprintf(c, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		start := time.Now()
		cut := false
		for i := 0; i < len(body)-1 && time.Since(start) < 10*time.Second; i++ {
			if _, err := c.Write([]byte{body[i]}); err != nil {
				cut = true
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("a login whose body never ended was served")
			}
			cut = true
		} else if !errors.Is(err, os.ErrDeadlineExceeded) {
			cut = true // the server closed the connection
		}
		c.Close()
		if !cut || time.Since(start) > 8*time.Second {
			t.Fatalf("a slow body was held %s (cut %v)", time.Since(start), cut)
		}
		e.unchanged("a slow body", before, nil)
		by.stillServing("a slow body")
	}

	// An oversized header.
	{
		before := e.counts()
		c, err := net.Dial("tcp", e.HTTP.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		req := "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Filler: " +
			strings.Repeat("x", httpserver.MaxHeaderBytes+16<<10) + "\r\nContent-Length: 2\r\n\r\n{}"
		go io.WriteString(c, req) // the server may answer before reading it all
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("oversized header answered %d, want 431", resp.StatusCode)
		}
		e.unchanged("an oversized header", before, nil)
		by.stillServing("an oversized header")
	}

	// Trailing JSON after a login that would succeed.
	{
		good := `{"email":"` + wardtest.Email(workflow.RoleNurse) + `","password":"` + wardtest.Password(workflow.RoleNurse) + `","deviceId":"` + dev + `"}`
		for _, body := range []string{good + good, good + `garbage`, good + `]`, good + "\n{}"} {
			before := e.counts()
			resp, err := http.Post(e.HTTP.URL()+"/api/v1/auth/login", "application/json", strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var rej workflow.Rejection
			_ = json.NewDecoder(resp.Body).Decode(&rej)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || rej.Code != workflow.CodeValidationFailed || rej.Message != httpserver.MsgTrailingJSON {
				t.Fatalf("login %q: %d %+v", body, resp.StatusCode, rej)
			}
			e.unchanged("trailing JSON", before, nil) // no session was opened
		}
		by.stillServing("trailing JSON")
	}
}

// slowHeaders sends a request's headers a few bytes at a time and never
// finishes them. It returns "" when the server cut the connection off
// without serving it, else what went wrong.
func slowHeaders(addr string) string {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err.Error()
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		return err.Error()
	}
	closed := make(chan string, 1)
	go func() {
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		switch {
		case err != nil:
			closed <- "" // cut off
		case resp.StatusCode == http.StatusOK:
			closed <- "a request whose headers never ended was served"
		default:
			closed <- "" // refused (408)
		}
	}()
	for i := 0; ; i++ {
		select {
		case r := <-closed:
			return r
		case <-time.After(200 * time.Millisecond):
		}
		if i > 100 {
			return "a slowloris connection was kept for 20 s"
		}
		if _, err := io.WriteString(c, "X-Slow-"+strings.Repeat("a", i%5+1)+": 1\r\n"); err != nil {
			return <-closed
		}
	}
}
