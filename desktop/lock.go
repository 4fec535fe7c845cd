package desktop

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"time"

	"wardsync/desktop/keyfile"
	"wardsync/desktop/remote"
	"wardsync/desktop/sqlite"
	"wardsync/workflow"
)

// Messages of the locked replica, kept as constants so the UI and tests
// agree.
const (
	// MsgKeyFileBusy is KEY_FILE_BUSY's sentence: the key file's path and
	// how long the change waited.
	MsgKeyFileBusy = "The key file %s is held by another wardsync program on this workstation (a login, an act or the app) " +
		"and was not released within %s; nothing was changed. Try again; if it stays busy, close the other wardsync programs."
	MsgNoKeyForUser = "This workstation's replica is locked and the server gave no key for it: " +
		"log in first as someone who has already logged in here, or ask an administrator to set the server's escrow key."
)

// HandOverKey is a copy of the open replica's data key, for reopening it
// in the same process (the app rebinds its engine when the server's
// address changes); nil while locked. The caller clears it.
func (e *Engine) HandOverKey() []byte {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	if e.key == nil {
		return nil
	}
	return append([]byte(nil), e.key...)
}

// Unlocked reports whether a login has opened the replica.
func (e *Engine) Unlocked() bool { return e.db.Unlocked() }

// unlock opens the replica under key, binds it to the device and reports
// its state. Unlocking an open replica checks that key is its key.
func (e *Engine) unlock(ctx context.Context, key []byte) error {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	return e.unlockLocked(ctx, key)
}

func (e *Engine) unlockLocked(ctx context.Context, key []byte) error {
	if e.db.Unlocked() {
		if !e.cfg.Unencrypted && subtle.ConstantTimeCompare(e.key, key) != 1 {
			return &sqlite.Unreadable{Path: e.cfg.DBPath, Cause: errors.New("the key given is not the key it is open under")}
		}
		return nil
	}
	var err error
	if e.cfg.Unencrypted {
		err = e.db.UnlockUnencrypted(ctx)
	} else {
		err = e.db.Unlock(ctx, key)
	}
	if err != nil {
		return err
	}
	if err := e.afterUnlock(ctx, key); err != nil {
		// Closed again: half open, the next login would find it open
		// under a key the engine does not hold.
		if lerr := e.db.Lock(); lerr != nil {
			e.log.Error("could not close the replica after a failed unlock", "err", lerr)
		}
		clear(e.key)
		e.key = nil
		return err
	}
	close(e.unlocked)
	return nil
}

// afterUnlock binds the open replica to the device and reports its state.
func (e *Engine) afterUnlock(ctx context.Context, key []byte) error {
	st, err := e.db.Bind(ctx, e.cfg.DeviceID, e.cfg.ServerURL)
	if err != nil {
		return err
	}
	e.key = append([]byte(nil), key...)
	e.update(func(s *Status) {
		s.Locked, s.Roles = false, st.Roles
		if s.DeviceID == "" {
			s.DeviceID = st.DeviceID
		}
	})
	if e.cfg.DeviceID == "" {
		e.cfg.DeviceID = st.DeviceID
	}
	if err := e.refresh(ctx); err != nil {
		return err
	}
	if err := e.loadIdleLock(ctx); err != nil {
		return err
	}
	// A queue edited while the app was closed is reported at once, online
	// or not.
	return e.checkChain(ctx)
}

// keyForOnlineLogin is the data key after the server accepted the user:
// the open replica's own; else the key the server escrows for this device;
// else the user's slot opened with the password; else, for a workstation
// with no replica yet or an unencrypted one, a new key.
func (e *Engine) keyForOnlineLogin(kf *keyfile.File, email, password string, escrowed []byte) ([]byte, error) {
	if e.key != nil {
		if escrowed != nil && subtle.ConstantTimeCompare(escrowed, e.key) != 1 {
			e.log.Warn("the server's escrowed key is not this replica's key; keeping the replica's")
		}
		return e.key, nil
	}
	if escrowed != nil {
		return escrowed, nil
	}
	if s := kf.Slot(email); s != nil {
		if key, err := s.Unwrap(password); err == nil {
			return key, nil
		}
	}
	if _, err := os.Stat(e.cfg.DBPath); errors.Is(err, os.ErrNotExist) {
		return keyfile.NewDataKey(), nil
	}
	// A replica from before encryption: the unlock encrypts it under a new
	// key (sqlite's conversion).
	if plain, err := sqlite.IsPlaintext(e.cfg.DBPath); err != nil {
		return nil, err
	} else if plain {
		return keyfile.NewDataKey(), nil
	}
	return nil, rejection(workflow.CodeUnauthenticated, MsgNoKeyForUser)
}

// putSlot wraps the data key for the user under the password just
// accepted, replacing the user's previous slot (a password changed at the
// server replaces the slot the old one opened). The slot is made (Argon2id)
// before the key file is locked, and put into the file as it is then:
// other processes' slots written since it was read stay.
func (e *Engine) putSlot(userID, email, password string, sk *keyfile.SessionKey) error {
	s, err := keyfile.NewSessionSlot(userID, email, password, e.key, sk, *e.cfg.SlotParams, e.cfg.Now())
	if err != nil {
		return err
	}
	return e.updateKeys(func(kf *keyfile.File) (bool, error) {
		kf.Put(s)
		kf.Wiped = nil
		if kf.DeviceID == "" {
			kf.DeviceID = e.cfg.DeviceID
		}
		if kf.ServerURL == "" {
			kf.ServerURL = e.cfg.ServerURL
		}
		return true, nil
	})
}

// forgetUser drops a user's slot (and credential, when the replica is
// open): the server disabled them, so offline login must stop working.
func (e *Engine) forgetUser(ctx context.Context, email string) {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	var userID string
	err := e.updateKeys(func(kf *keyfile.File) (bool, error) {
		if s := kf.Slot(email); s != nil {
			userID = s.UserID
			return kf.Remove(userID), nil
		}
		return false, nil
	})
	if err != nil {
		e.log.Warn("could not remove a refused user's key slot", "err", err)
		return
	}
	if userID == "" {
		return
	}
	e.signKeys.Forget(userID)
	if e.key != nil {
		if err := e.db.DeleteCredential(ctx, userID); err != nil {
			e.log.Warn("could not forget a refused credential", "err", err)
		}
	}
}

// NobodyLoggedIn reports whether no user has logged in on this workstation
// yet: while locked, neither a key slot nor a replica on disk (the first
// login makes both); once open, no credential in it. The installer's
// registration code is redeemed only then: the replica starts locked, so
// its credentials cannot be read at the first start.
func (e *Engine) NobodyLoggedIn(ctx context.Context) (bool, error) {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	if e.db.Unlocked() {
		creds, err := e.db.Credentials(ctx)
		return len(creds) == 0, err
	}
	kf, err := e.loadKeys()
	if err != nil {
		return false, err
	}
	if len(kf.Slots) > 0 {
		return false, nil
	}
	if _, err := os.Stat(e.cfg.DBPath); !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	return true, nil
}

// loadKeys reads the key file under keyMu (which serialises this
// process's own users of it) and the file's shared lock (other processes).
func (e *Engine) loadKeys() (*keyfile.File, error) {
	kf, err := keyfile.Read(e.cfg.KeyFile, e.cfg.KeyFileWait)
	switch {
	case err == nil:
		return kf, nil
	case errors.As(err, new(*keyfile.BusyError)):
		return nil, keyFileError(err)
	}
	return nil, fmt.Errorf("desktop: %w", err)
}

// updateKeys is keyfile.Update on the engine's key file, under keyMu.
func (e *Engine) updateKeys(change func(*keyfile.File) (bool, error)) error {
	return updateKeys(e.cfg, change)
}

// updateKeys changes cfg's key file under its exclusive lock: a station's
// processes (login, act, run) and the app each read, change and write it
// back, and without the lock one would write back a file that lacks the
// slot another had just put.
func updateKeys(cfg Config, change func(*keyfile.File) (bool, error)) error {
	return keyFileError(keyfile.Update(cfg.KeyFile, cfg.KeyFileWait, change))
}

// keyFileError turns a key file whose lock stayed held into KEY_FILE_BUSY.
func keyFileError(err error) error {
	var busy *keyfile.BusyError
	if errors.As(err, &busy) {
		return rejection(workflow.CodeKeyFileBusy, fmt.Sprintf(MsgKeyFileBusy, busy.Path, busy.Wait))
	}
	return err
}

func wipedMessage(w *keyfile.Wipe, loc *time.Location) string {
	return fmt.Sprintf("This workstation was revoked by the server on %s and erased its keys: %s "+
		"Ask an administrator to register it again; the acts it still had to send were kept and are sent once it is.",
		w.At.In(loc).Format("2006-01-02 15:04"), w.Reason)
}

// keptPath is where a wipe keeps the queued acts.
func (e *Engine) keptPath() string { return e.cfg.DBPath + ".kept" }

// checkRevoked asks the server whether this device was revoked, after a
// refusal that may mean so, and wipes the keys if it was (calling unlock
// first, when set and the replica is locked). It returns the refusal that
// says why, or nil when the device is in good standing (or the server
// cannot tell).
func (e *Engine) checkRevoked(ctx context.Context, unlock func()) error {
	if e.cfg.ServerURL == "" || e.cfg.DeviceID == "" {
		return nil
	}
	st, err := remote.DeviceStanding(ctx, e.cfg.HTTPClient, e.cfg.ServerURL, e.cfg.DeviceID)
	if err != nil || !st.Revoked {
		return nil
	}
	if unlock != nil && !e.db.Unlocked() {
		unlock()
	}
	at := e.cfg.Now()
	if st.RevokedAt != nil {
		at = *st.RevokedAt
	}
	w, err := e.wipe(ctx, keyfile.Wipe{At: at.UTC(), Reason: "an administrator revoked it (the PC may have been lost, stolen or retired)."})
	if err != nil {
		e.log.Error("the server revoked this workstation, but wiping its keys failed", "err", err)
		return rejection(workflow.CodeUnauthenticated, "This workstation was revoked by the server; erasing its keys failed: "+err.Error())
	}
	// Said again at every contact that finds the keys gone, so that a
	// report lost on the way is sent later; the server keeps the first.
	if err := remote.ReportWiped(ctx, e.cfg.HTTPClient, e.cfg.ServerURL, e.cfg.DeviceID); err != nil {
		e.log.Warn("could not tell the server the keys are wiped", "err", err)
	}
	return rejection(workflow.CodeUnauthenticated, wipedMessage(w, e.cfg.Location))
}

// wipe destroys the data key and every key slot, keeps only the queued acts
// (in a file of their own, sealed under the data key, which the server
// escrows and gives back once the device is registered again) and deletes
// the replica's files.
func (e *Engine) wipe(ctx context.Context, w keyfile.Wipe) (*keyfile.Wipe, error) {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	kf, err := e.loadKeys()
	if err != nil {
		return nil, err
	}
	if kf.Wiped != nil && len(kf.Slots) == 0 && e.key == nil {
		return kf.Wiped, nil // already wiped
	}
	// The session keys go with the slots that sealed them.
	e.signKeys.Clear()
	kept := -1
	if e.key != nil {
		if kept, err = e.db.KeepOutbox(ctx, e.keptPath()); err != nil {
			return nil, err
		}
		if err := e.db.Lock(); err != nil {
			return nil, err
		}
		clear(e.key)
		e.key = nil
		e.unlocked = make(chan struct{})
	}
	// The slots go first: without them the replica's files are unreadable
	// even if deleting them fails.
	if err := e.updateKeys(func(kf *keyfile.File) (bool, error) {
		kf.Slots, kf.Wiped = nil, &w
		return true, nil
	}); err != nil {
		return nil, err
	}
	if kept < 0 {
		// Locked: the queued acts cannot be read out, so the whole sealed
		// replica is kept in their place (the same key opens it, and only
		// the server holds it now).
		if err := sqlite.MoveFiles(e.cfg.DBPath, e.keptPath()); err != nil {
			return nil, err
		}
	}
	if err := sqlite.RemoveFiles(e.cfg.DBPath); err != nil {
		return nil, err
	}
	e.log.Warn("workstation revoked: keys wiped, replica deleted", "kept_acts", kept)
	e.update(func(s *Status) {
		s.Locked, s.Wiped, s.Online = true, w.Reason, false
		s.Pending, s.Rejected, s.LikelyRejected, s.Waiting, s.OldestPendingAt = 0, 0, 0, 0, nil
	})
	return &w, nil
}

// requeueKept puts back the acts a wipe kept, once the replica is open
// again under the same key (the device was registered again).
func (e *Engine) requeueKept(ctx context.Context) error {
	n, err := e.db.RequeueKept(ctx, e.keptPath())
	if err != nil {
		return err
	}
	if n > 0 {
		e.log.Info("acts kept at the wipe are queued again", "acts", n)
		e.refreshQuietly(ctx)
		kick(e.actKick)
	}
	return nil
}

// waitUnlocked waits until a login opens the replica, or ctx ends.
func (e *Engine) waitUnlocked(ctx context.Context) bool {
	for {
		if e.db.Unlocked() {
			return true
		}
		e.keyMu.Lock()
		ch := e.unlocked
		e.keyMu.Unlock()
		select {
		case <-ctx.Done():
			return false
		case <-ch:
		case <-time.After(time.Second):
		}
	}
}

// Unlock opens the replica with the user's key slot, logging no one in: a
// headless station's commands, each a process of its own, open it so. The
// refusals are offline login's.
func (e *Engine) Unlock(ctx context.Context, email, password string) error {
	if e.db.Unlocked() {
		return nil
	}
	return e.openSlot(ctx, email, password)
}

// openSlot opens the replica with email's key slot and takes the user's
// session key. The refusals are offline login's: a wiped workstation, a
// user never logged in here online, a wrong password.
func (e *Engine) openSlot(ctx context.Context, email, password string) error {
	e.keyMu.Lock()
	kf, err := e.loadKeys()
	e.keyMu.Unlock()
	if err != nil {
		return err
	}
	if kf.Wiped != nil && len(kf.Slots) == 0 {
		return rejection(workflow.CodeUnauthenticated, wipedMessage(kf.Wiped, e.cfg.Location))
	}
	slot := kf.Slot(email)
	if slot == nil {
		return rejection(workflow.CodeUnauthenticated, MsgNeverOnline)
	}
	// The password first: someone who does not know it learns nothing
	// about the session, and the replica stays closed.
	key, sk, err := slot.Open(password)
	if errors.Is(err, keyfile.ErrWrongPassword) {
		return rejection(workflow.CodeUnauthenticated, MsgWrongPassword)
	}
	if err != nil {
		return err
	}
	if err := e.unlock(ctx, key); err != nil {
		return err
	}
	e.takeSessionKey(slot.UserID, sk)
	return nil
}

// Lock closes the replica after a while without input (the idle lock):
// the data key leaves memory, every call answers ErrLocked and syncing
// pauses until a login opens it again. userID is the user whose session
// was on screen: they unlock with their password, offline too; another
// user's login ends their session instead.
func (e *Engine) Lock(ctx context.Context, userID string) error {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	if !e.db.Unlocked() || e.cfg.Unencrypted {
		return nil
	}
	name := ""
	if c, err := e.db.CredentialByUser(ctx, userID); err == nil {
		name = c.Name
	}
	if err := e.db.Lock(); err != nil {
		return err
	}
	clear(e.key)
	e.key = nil
	e.unlocked = make(chan struct{})
	e.lockedBy = userID
	e.update(func(s *Status) { s.Locked, s.LockedBy = true, name })
	e.log.Info("workstation locked", "user", userID)
	return nil
}

// endLockedSession ends the session that was on screen when the replica
// was locked, once another user's login opened it.
func (e *Engine) endLockedSession(ctx context.Context, userID string) {
	e.keyMu.Lock()
	defer e.keyMu.Unlock()
	e.endLockedSessionLocked(ctx, userID)
}

// endLockedSessionLocked is endLockedSession under keyMu.
func (e *Engine) endLockedSessionLocked(ctx context.Context, userID string) {
	by := e.lockedBy
	e.lockedBy = ""
	e.update(func(s *Status) { s.LockedBy = "" })
	if by == "" || by == userID {
		return
	}
	if err := e.db.MarkLoggedOut(ctx, by, e.cfg.Now(), false); err != nil {
		e.log.Warn("could not end the locked session", "user", by, "err", err)
	}
}
