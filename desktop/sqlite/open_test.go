package sqlite

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// TestConcurrentFirstOpen: several processes (here, separate handles) open
// a replica that does not exist yet at the same moment, as the desktop app
// and the CLI may: each one migrates, none fails because another created
// the tables first.
func TestConcurrentFirstOpen(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 3; round++ {
		path := filepath.Join(t.TempDir(), "replica.db")
		var wg sync.WaitGroup
		errs := make(chan error, 6)
		for i := 0; i < 6; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := Open(ctx, path, testKey)
				if err != nil {
					errs <- err
					return
				}
				_, err = db.State(ctx)
				db.Close()
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}
