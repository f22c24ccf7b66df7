package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// execResult is what `scale exec` writes to -rusage once the command
// ended: its exit status and the kernel's accounting of it.
type execResult struct {
	// Exit is the command's exit status, or 128+signal when a signal
	// ended it.
	Exit int `json:"exit"`
	// StartUS and EndUS are wall-clock instants, µs since the Unix epoch:
	// the command started, and was waited for.
	StartUS int64 `json:"start_us"`
	EndUS   int64 `json:"end_us"`
	// UserS and SysS are its CPU time; MaxRSSKB its peak resident set
	// (getrusage of the waited child: its own, not its children's).
	UserS    float64 `json:"user_s"`
	SysS     float64 `json:"sys_s"`
	MaxRSSKB int64   `json:"maxrss_kb"`
}

// runExec runs a command, writing each line of its stderr to -log
// prefixed by the wall-clock instant it was read (µs since the Unix
// epoch), its stdout to -stdout, and at the end its rusage to -rusage. It
// exits with the command's status. SIGINT and SIGTERM are passed on to the
// command; if this process dies, the kernel kills the command
// (Pdeathsig), so nothing outlives a killed bench script.
func runExec(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("exec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	logPath := fs.String("log", "", "file for the command's stderr, each line prefixed with its arrival time in µs since the epoch (required)")
	outPath := fs.String("stdout", os.DevNull, "file for the command's stdout")
	rusagePath := fs.String("rusage", "", "file for the command's exit status and rusage as JSON (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *logPath == "" || *rusagePath == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "usage: scale exec -log FILE -rusage FILE [-stdout FILE] -- COMMAND [ARG...]")
		return 2
	}
	res, err := stampedRun(fs.Args(), *logPath, *outPath)
	if err != nil {
		fmt.Fprintf(stderr, "scale exec: %v\n", err)
		return 1
	}
	b, _ := json.Marshal(res)
	if err := os.WriteFile(*rusagePath, append(b, '\n'), 0o644); err != nil {
		fmt.Fprintf(stderr, "scale exec: %v\n", err)
		return 1
	}
	return res.Exit
}

// stampedRun runs argv to its end; see runExec.
func stampedRun(argv []string, logPath, outPath string) (*execResult, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	outf, err := os.Create(outPath)
	if err != nil {
		return nil, err
	}
	defer outf.Close()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = outf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	res := &execResult{StartUS: time.Now().UnixMicro()}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // exits when the command is waited for
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-stop:
				return
			}
		}
	})
	copyErr := stampLines(logf, pipe, func() int64 { return time.Now().UnixMicro() }) // until the command closes stderr
	waitErr := cmd.Wait()
	close(stop)
	wg.Wait()
	res.EndUS = time.Now().UnixMicro()
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return nil, waitErr
	}
	st := cmd.ProcessState
	res.Exit = st.ExitCode()
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Exit = 128 + int(ws.Signal())
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		res.UserS = time.Duration(ru.Utime.Nano()).Seconds()
		res.SysS = time.Duration(ru.Stime.Nano()).Seconds()
		res.MaxRSSKB = ru.Maxrss
	}
	if copyErr != nil {
		return res, fmt.Errorf("reading the command's stderr: %w", copyErr)
	}
	return res, nil
}

// stampLines copies r to w line by line, each line prefixed by now() and
// a space; a last line without a newline gets one. It returns at EOF.
func stampLines(w io.Writer, r io.Reader, now func() int64) error {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			out := strconv.AppendInt(nil, now(), 10)
			out = append(out, ' ')
			out = append(out, bytes.TrimSuffix(line, []byte("\n"))...)
			// One write per line, unbuffered: the bench script reads the
			// log while the command runs.
			if _, werr := w.Write(append(out, '\n')); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
