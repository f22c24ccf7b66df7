package main

import (
	"archive/tar"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/exitcode"
)

// ServeResultsConfig is what `coordinator results` needs.
type ServeResultsConfig struct {
	// Dir is the directory of report directories (--dir), one per run,
	// as `run --out=DIR/NAME` writes them. It is only ever read.
	Dir string
	// Listen is the ip:port to serve on (--listen). It must be loopback:
	// the reports are served without authentication, to kubectl
	// port-forward or an ssh tunnel.
	Listen string
	// ReadHeaderTimeout bounds how long a client may take to send its
	// request headers.
	ReadHeaderTimeout time.Duration
}

// DefaultServeResultsConfig is the results command's defaults.
func DefaultServeResultsConfig() ServeResultsConfig {
	return ServeResultsConfig{Dir: "results", Listen: "127.0.0.1:8080", ReadHeaderTimeout: 10 * time.Second}
}

// check reports every problem with the configuration at once.
func (c ServeResultsConfig) check() error {
	var errs []error
	if ap, err := netip.ParseAddrPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q must be ip:port", c.Listen))
	} else if !ap.Addr().IsLoopback() {
		errs = append(errs, fmt.Errorf("--listen %s is not loopback: coordinator results serves the reports without authentication; listen on 127.0.0.1 and reach it with kubectl port-forward (or ssh -L)", c.Listen))
	}
	if st, err := os.Stat(c.Dir); err != nil {
		errs = append(errs, fmt.Errorf("--dir: %w", err))
	} else if !st.IsDir() {
		errs = append(errs, fmt.Errorf("--dir %s is not a directory", c.Dir))
	}
	return errors.Join(errs...)
}

func newServeResults(ctx context.Context, stderr io.Writer) *cobra.Command {
	cfg := DefaultServeResultsConfig()
	cmd := &cobra.Command{
		Use:   "results",
		Short: "Serve the run reports in a directory, read-only, on loopback (for kubectl port-forward)",
		Long: `results serves --dir, a directory of report directories (one per
run, as run --out=DIR/NAME writes them), read-only:

  GET /              the runs, newest first, one per line: NAME/ and its time
  GET /NAME/         the files of a run, one per line: NAME and its size
  GET /NAME/FILE     one file
  GET /NAME.tar.gz   every file of a run, as one archive

It listens on loopback only: the reports are served without authentication,
so reach it with kubectl port-forward (the API server checks who may) or ssh -L.
Names starting with a dot are never served, nor is anything a symbolic link
would reach outside --dir.`,
		Args: cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			if err := cfg.check(); err != nil {
				return fail(exitcode.Invalid, err)
			}
			return serveResults(ctx, cfg, func(addr string) {
				fmt.Fprintf(stderr, "serving %s read-only at http://%s/\n", cfg.Dir, addr)
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Dir, "dir", cfg.Dir, "directory of report directories to serve, read-only")
	f.StringVar(&cfg.Listen, "listen", cfg.Listen, "loopback ip:port to serve on")
	return cmd
}

// serveResults serves cfg.Dir until ctx ends; listening is told the bound
// address once the listener is up.
func serveResults(ctx context.Context, cfg ServeResultsConfig, listening func(addr string)) error {
	root, err := os.OpenRoot(cfg.Dir)
	if err != nil {
		return fail(exitcode.Invalid, fmt.Errorf("--dir: %w", err))
	}
	defer root.Close()
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", cfg.Listen)
	if err != nil {
		return fail(exitcode.CannotRun, fmt.Errorf("--listen: %w", err))
	}
	srv := &http.Server{Handler: resultsHandler(root.FS()), ReadHeaderTimeout: cfg.ReadHeaderTimeout}
	if listening != nil {
		listening(ln.Addr().String())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fail(exitcode.CannotRun, fmt.Errorf("coordinator results: %w", err))
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		return fail(exitcode.CannotRun, fmt.Errorf("coordinator results: shutdown: %w", err))
	}
	return nil
}

// resultsHandler serves fsys (an os.Root's FS, which refuses any path a
// symbolic link would take outside it) read-only, as the results command's
// help describes.
func resultsHandler(fsys fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "read-only: GET or HEAD", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		name, ok := resultsPath(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if run, isTar := strings.CutSuffix(name, ".tar.gz"); isTar && !strings.Contains(run, "/") {
			if st, err := fs.Stat(fsys, run); err == nil && st.IsDir() {
				serveTar(w, r, fsys, run)
				return
			}
		}
		st, err := fs.Stat(fsys, name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if st.IsDir() {
			if name != "." && !strings.HasSuffix(r.URL.Path, "/") {
				http.Redirect(w, r, "/"+name+"/", http.StatusMovedPermanently)
				return
			}
			serveIndex(w, r, fsys, name)
			return
		}
		if !st.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		f, err := fsys.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		rs, ok := f.(io.ReadSeeker)
		if !ok {
			http.Error(w, "cannot seek", http.StatusInternalServerError)
			return
		}
		http.ServeContent(w, r, path.Base(name), st.ModTime(), rs)
	})
}

// resultsPath turns a URL path into a name in the served FS: "." for the
// root. It refuses ".." and any element starting with a dot.
func resultsPath(p string) (string, bool) {
	p = strings.Trim(p, "/")
	if p == "" {
		return ".", true
	}
	for el := range strings.SplitSeq(p, "/") {
		if el == "" || strings.HasPrefix(el, ".") {
			return "", false
		}
	}
	return p, fs.ValidPath(p)
}

// visible lists the entries of dir that are served: no dot files, and
// only directories and regular files.
func visible(fsys fs.FS, dir string) ([]fs.FileInfo, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var infos []fs.FileInfo
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || !(e.IsDir() || e.Type().IsRegular()) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed since the listing
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// serveIndex lists a directory as text: at the root the runs (and any
// loose files), newest first; in a run its files by name.
func serveIndex(w http.ResponseWriter, r *http.Request, fsys fs.FS, dir string) {
	infos, err := visible(fsys, dir)
	if err != nil {
		http.Error(w, "cannot list the directory", http.StatusInternalServerError)
		return
	}
	if dir == "." {
		slices.SortFunc(infos, func(a, b fs.FileInfo) int {
			return cmp.Or(b.ModTime().Compare(a.ModTime()), strings.Compare(a.Name(), b.Name()))
		})
	} else {
		slices.SortFunc(infos, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
	}
	var b strings.Builder
	for _, in := range infos {
		switch {
		case in.IsDir():
			fmt.Fprintf(&b, "%s/\t%s\n", in.Name(), in.ModTime().UTC().Format(time.RFC3339))
		default:
			fmt.Fprintf(&b, "%s\t%d\n", in.Name(), in.Size())
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	io.WriteString(w, b.String())
}

// serveTar writes every served file under run (recursively) as a gzipped
// tar whose names start with run/.
func serveTar(w http.ResponseWriter, r *http.Request, fsys fs.FS, run string) {
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", run+".tar.gz"))
	if r.Method == http.MethodHead {
		return
	}
	if err := writeTar(w, fsys, run); err != nil {
		// Headers are gone: an aborted body is what the client sees.
		panic(http.ErrAbortHandler)
	}
}

func writeTar(w io.Writer, fsys fs.FS, run string) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	var walk func(dir string) error
	walk = func(dir string) error {
		infos, err := visible(fsys, dir)
		if err != nil {
			return err
		}
		slices.SortFunc(infos, func(a, b fs.FileInfo) int { return strings.Compare(a.Name(), b.Name()) })
		for _, in := range infos {
			name := path.Join(dir, in.Name())
			if in.IsDir() {
				if err := walk(name); err != nil {
					return err
				}
				continue
			}
			if err := tarFile(tw, fsys, name, in); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(run); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func tarFile(tw *tar.Writer, fsys fs.FS, name string, in fs.FileInfo) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	// The size at open: a file still growing is cut there, never
	// written past its header's size.
	st, err := f.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: name, Mode: 0o644, Size: st.Size(), ModTime: in.ModTime(), Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, st.Size())
	return err
}
