//go:build !unix

package keyfile

import "time"

// cpuTime is not measured here.
func cpuTime() time.Duration { return 0 }
