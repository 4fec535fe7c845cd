package keyfile

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The key file is read, changed and written back by more than one process:
// a headless station's login, act and run are processes of their own, and
// a station may run beside the app. Two read-modify-writes at once would
// each write back the file as they read it, and the second would lose the
// slot (or the session key sealed in it) the first had just written. An
// OS lock on a file beside the key file (path + ".lock") serialises them:
// Update holds it exclusively from the read to the rename, Read holds it
// shared while reading (on Windows a file open for reading cannot be
// renamed over, so readers must not overlap a write either).
//
// The lock file is never removed: a process removing it while another one
// waits on it would let a third lock a new file of the same name beside
// them. The OS drops the lock when its holder exits, killed or not.

// DefaultWait is how long Update and Read wait for another process's
// lock before giving up. A holder keeps it for one JSON read and one
// fsynced write (milliseconds); seconds mean a stuck process.
const DefaultWait = 10 * time.Second

// BusyError: another process held the key file's lock longer than the
// wait; nothing was read or changed.
type BusyError struct {
	Path string
	Wait time.Duration
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("keyfile: %s is locked by another process (waited %s)", e.Path, e.Wait)
}

// LockPath is the lock file of the key file at path.
func LockPath(path string) string { return path + ".lock" }

// lockFile takes the lock of the key file at path, waiting up to wait; the
// returned function releases it.
func lockFile(path string, exclusive bool, wait time.Duration) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	f, err := os.OpenFile(LockPath(path), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("keyfile: %w", err)
	}
	// A non-blocking attempt, retried: a blocking lock cannot be given up
	// after a timeout on every system.
	deadline := time.Now().Add(wait)
	pause := time.Millisecond
	for {
		ok, err := tryLock(f, exclusive)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("keyfile: locking %s: %w", f.Name(), err)
		}
		if ok {
			return func() {
				unlock(f)
				f.Close()
			}, nil
		}
		if !time.Now().Before(deadline) {
			f.Close()
			return nil, &BusyError{Path: path, Wait: wait}
		}
		time.Sleep(min(pause, time.Until(deadline)))
		pause = min(2*pause, 50*time.Millisecond)
	}
}

// Read loads the key file at path (a missing file is an empty one) under
// a shared lock, waiting up to wait for a writer to finish.
func Read(path string, wait time.Duration) (*File, error) {
	release, err := lockFile(path, false, wait)
	if err != nil {
		return nil, err
	}
	defer release()
	return Load(path)
}

// Update loads the key file at path, lets change modify it and saves it
// when change says so, all under the exclusive lock (waiting up to wait
// for it): no other process's change is lost in between. An error from
// change is returned as it is, nothing saved.
func Update(path string, wait time.Duration, change func(*File) (save bool, err error)) error {
	release, err := lockFile(path, true, wait)
	if err != nil {
		return err
	}
	defer release()
	f, err := Load(path)
	if err != nil {
		return err
	}
	save, err := change(f)
	if err != nil || !save {
		return err
	}
	return f.Save(path)
}
