package bench

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"wardsync/internal/wardtest"
)

// cpuSample is CPU time used so far, in seconds: by this process (the
// server and the simulated devices, which share it), by the programs it
// ran and waited for (pgbench), and by the PostgreSQL cluster (its
// postmaster and backends, live or ended). Its differences over a phase,
// per act, tell working from waiting: on a shared machine the wall time
// says little, the CPU an act costs each side stays put.
type cpuSample struct {
	self, children, pg float64
	pgKnown            bool
}

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's times.
const clockTicks = 100

// sampleCPU reads the CPU used so far; the cluster's only when it runs
// on this machine and /proc shows it.
func sampleCPU(e *wardtest.Server) cpuSample {
	var s cpuSample
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		s.children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var backend int
	if e.DB.Pool.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend) != nil {
		return s
	}
	st, ok := procStat(backend)
	if !ok {
		return s
	}
	postmaster := st.ppid
	pm, ok := procStat(postmaster)
	if !ok {
		return s
	}
	ticks := pm.utime + pm.stime + pm.cutime + pm.cstime
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if c, ok := procStat(pid); ok && c.ppid == postmaster {
			ticks += c.utime + c.stime
		}
	}
	s.pg, s.pgKnown = float64(ticks)/clockTicks, true
	return s
}

// perAct is the CPU used since before, in milliseconds per act, for each
// side; pg is -1 when the cluster's CPU is not known.
func (s cpuSample) perAct(before cpuSample, acts float64) (self, children, pg float64) {
	self = (s.self - before.self) * 1000 / acts
	children = (s.children - before.children) * 1000 / acts
	pg = -1
	if s.pgKnown && before.pgKnown {
		pg = (s.pg - before.pg) * 1000 / acts
	}
	return self, children, pg
}

type procTimes struct {
	ppid                         int
	utime, stime, cutime, cstime int64
}

// procStat reads a process's parent and CPU times from /proc/PID/stat.
func procStat(pid int) (procTimes, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procTimes{}, false
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after its closing parenthesis (field 3, the state).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return procTimes{}, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 15 {
		return procTimes{}, false
	}
	n := func(k int) int64 { v, _ := strconv.ParseInt(f[k-3], 10, 64); return v }
	return procTimes{ppid: int(n(4)), utime: n(14), stime: n(15), cutime: n(16), cstime: n(17)}, true
}
