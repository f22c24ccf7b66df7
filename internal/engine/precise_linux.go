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
// slack). It returns the undo.
func preciseThread() (unlock func()) {
	runtime.LockOSThread()
	syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1, 0)
	return func() {
		// 0 restores the thread's default slack before it goes back to
		// the runtime.
		syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 0, 0)
		runtime.UnlockOSThread()
	}
}
