package engine

import (
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// threadSleeper sleeps the pacer's own OS thread with nanosleep, whose
// wake-up the kernel's high-resolution timers make accurate to a few
// microseconds once the thread's timer slack is 1 ns — unlike Go's
// timers, which wake about 1 ms late. The raw system call keeps the
// processor (P) while it sleeps, so it is used only when the runtime has
// at least two: the requests run on the others meanwhile.
type threadSleeper struct{ ok bool }

const prSetTimerSlack = 29 // PR_SET_TIMERSLACK

// newThreadSleeper locks the calling goroutine to its thread and sets the
// thread's timer slack; release undoes the lock.
func newThreadSleeper() *threadSleeper {
	if runtime.GOMAXPROCS(0) < 2 {
		return &threadSleeper{}
	}
	runtime.LockOSThread()
	if _, _, e := syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0); e != 0 {
		runtime.UnlockOSThread()
		return &threadSleeper{}
	}
	return &threadSleeper{ok: true}
}

func (s *threadSleeper) release() {
	if s.ok {
		runtime.UnlockOSThread()
	}
}

// sleep sleeps the thread for about d (never longer: the kernel wakes it
// early only on a signal, which the caller's loop absorbs).
func (s *threadSleeper) sleep(d time.Duration) bool {
	if !s.ok {
		return false
	}
	ts := syscall.NsecToTimespec(int64(d))
	syscall.RawSyscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
	return true
}

// preciseThread locks the calling goroutine to its thread and sets the
// thread's timer slack to 1 ns, so that the kernel wakes the thread from
// an epoll wait at the instant asked, not up to 50 µs later (the default
// slack), and asks for a short scheduler slice (setSlice), so that the
// woken thread gets a core soon. It returns the undo.
func preciseThread() (unlock func()) {
	runtime.LockOSThread()
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	sliced := setSlice(preciseSlice)
	return func() {
		if sliced {
			setSlice(0)
		}
		// 0 restores the thread's default slack before it goes back to
		// the runtime.
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 0, 0)
		runtime.UnlockOSThread()
	}
}

// preciseSlice is the scheduler slice asked for the precise loop's thread.
const preciseSlice = 100 * time.Microsecond

// schedAttr is struct sched_attr (SCHED_ATTR_SIZE_VER0).
type schedAttr struct {
	size     uint32
	policy   uint32
	flags    uint64
	nice     int32
	priority uint32
	runtime  uint64
	deadline uint64
	period   uint64
}

// setSlice asks the scheduler (EEVDF, Linux 6.12 and later) for a custom
// slice d for the calling thread (0: the default), keeping SCHED_OTHER and
// the thread's nice value. A short slice gives the thread an early
// deadline when it wakes, so it runs soon after its timer fires rather
// than when the task on its core has used its slice. No privilege is
// needed; false when the kernel refuses or does not know the call (older
// kernels take the call and ignore the slice).
func setSlice(d time.Duration) bool {
	if sysSchedSetattr == 0 {
		return false
	}
	// getpriority(2) returns 20 - nice for the calling thread.
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return false
	}
	a := schedAttr{size: uint32(unsafe.Sizeof(schedAttr{})), nice: int32(20 - prio), runtime: uint64(d)}
	_, _, e := syscall.RawSyscall(sysSchedSetattr, 0, uintptr(unsafe.Pointer(&a)), 0)
	return e == 0
}
