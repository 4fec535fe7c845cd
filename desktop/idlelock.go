package desktop

import (
	"context"
	"time"
)

// IdleLockAfter is how long the app waits without input before it locks:
// the idle lock set for this workstation on the dashboard when the server
// said one, else flag (the app's -idle-lock). 0 means never.
func (s Status) IdleLockAfter(flag time.Duration) time.Duration {
	if s.IdleLockMinutes != nil {
		return time.Duration(*s.IdleLockMinutes) * time.Minute
	}
	return flag
}

// setIdleLock takes the idle lock the server's welcome or login answer
// carried (nil: none set on the dashboard), keeps it in the replica for
// offline starts and shows it in the status.
func (e *Engine) setIdleLock(ctx context.Context, m *int) error {
	if err := e.db.SetIdleLock(ctx, m); err != nil {
		return err
	}
	e.update(func(s *Status) { s.IdleLockMinutes = m })
	return nil
}

// loadIdleLock shows the idle lock the replica kept from the server's last
// word, once a login opened it.
func (e *Engine) loadIdleLock(ctx context.Context) error {
	m, err := e.db.IdleLock(ctx)
	if err != nil {
		return err
	}
	e.update(func(s *Status) { s.IdleLockMinutes = m })
	return nil
}
