package postgres

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"

	"wardsync/workflow"
)

// How the audit log keeps what a workstation sent: PostgreSQL's jsonb and
// text refuse some of what JSON allows.

// auditArgs returns the arguments as the audit log stores them: as sent
// when PostgreSQL's jsonb takes them, otherwise as one JSON string holding
// the text sent. jsonb refuses the \u0000 escape, lone UTF-16 surrogates
// and numbers beyond numeric's range, and would blow a number such as
// 1e100000 up to a hundred thousand digits; the mutator refuses such
// arguments, but its refusal must still be recorded, or the push would fail
// and block every act queued behind it.
func auditArgs(raw json.RawMessage) json.RawMessage {
	if jsonbSafe(raw) {
		return raw
	}
	b, _ := json.Marshal(string(raw))
	return b
}

func jsonbSafe(raw []byte) bool {
	if !json.Valid(raw) {
		return false
	}
	// Escapes: backslashes occur only inside strings in valid JSON.
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		if raw[i+1] != 'u' {
			i++
			continue
		}
		c, _ := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		switch {
		case c == 0, c >= 0xDC00 && c <= 0xDFFF:
			return false
		case c >= 0xD800 && c <= 0xDBFF:
			if i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
				return false
			}
			lo, _ := strconv.ParseUint(string(raw[i+8:i+12]), 16, 32)
			if lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
		i += 5
	}
	// Numbers: short, with a modest exponent.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		n, ok := tok.(json.Number)
		if !ok {
			continue
		}
		s := string(n)
		if len(s) > 100 {
			return false
		}
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			e, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
			if err != nil || e > 1000 || e < -1000 {
				return false
			}
		}
	}
}

// pgText makes s storable in a TEXT column: NUL becomes U+FFFD.
func pgText(s string) string {
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

// waitState is the one state a deferrable act applies in (a workflow test
// checks there is exactly one).
func waitState(w *workflow.Wait) string {
	if len(w.Want) == 0 {
		return ""
	}
	return w.Want[0]
}
