package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/surgeload/surge/internal/auth"
	"github.com/surgeload/surge/internal/exitcode"
)

func newCerts(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Make the credentials that secure the control plane between the coordinator and its agents",
	}
	cmd.AddCommand(newCertsInit(stdout))
	return cmd
}

func newCertsInit(stdout io.Writer) *cobra.Command {
	var (
		dir       string
		days      int
		agentName string
		force     bool
	)
	cmd := &cobra.Command{
		Use:   "init --dir DIR",
		Short: "Write a new CA, coordinator and agent certificates, a gossip key and a token into DIR",
		Long: `Init writes into DIR (created with mode 0700):

  ca.crt, ca.key                    a new private certificate authority (ECDSA P-256)
  coordinator.crt, coordinator.key  the coordinator's certificate (role coordinator)
  agent.crt, agent.key              the agents' certificate, shared by every agent (role agent)
  gossip.key                        32 random bytes in base64: encrypts gossip
  token                             a random shared token

Private keys, gossip.key and token get mode 0600, certificates 0644. The
role is in each certificate (URI SAN surge://role/...); no hostname or IP is
checked, so the same agent certificate serves at any address. It refuses to
overwrite existing files unless --force. Keep ca.key offline: only the
certificates, their keys, gossip.key and token are deployed.`,
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			if dir == "" {
				return exitcode.New(exitcode.Invalid, errors.New("--dir is required: the directory the files are written to"))
			}
			if days < 1 || days > 3650 {
				return exitcode.New(exitcode.Invalid, fmt.Errorf("--days %d must be in 1..3650", days))
			}
			b, err := auth.NewBundle(auth.BundleOptions{Validity: time.Duration(days) * 24 * time.Hour, AgentName: agentName})
			if err != nil {
				return exitcode.New(exitcode.CannotRun, err)
			}
			paths, err := auth.WriteBundle(dir, b, force)
			switch {
			case errors.Is(err, auth.ErrExists):
				return exitcode.New(exitcode.Invalid, err)
			case err != nil:
				return exitcode.New(exitcode.CannotRun, err)
			}
			for _, p := range paths {
				fmt.Fprintf(stdout, "wrote %s\n", p)
			}
			printUsage(stdout, dir, days)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "dir", "", "directory to write the files into (required)")
	f.IntVar(&days, "days", 365, "validity of the CA and certificates, in days")
	f.StringVar(&agentName, "agent-name", "agent", "common name of the agent certificate (for logs only: no check uses it)")
	f.BoolVar(&force, "force", false, "replace existing files")
	return cmd
}

// printUsage says how to use the files just written.
func printUsage(w io.Writer, dir string, days int) {
	p := func(name string) string { return filepath.Join(dir, name) }
	fmt.Fprintf(w, `
The certificates are valid for %d days. Copy ca.crt, agent.crt, agent.key,
gossip.key (and token, if used) to each agent; keep ca.key offline.

  agent --join COORDINATOR:7946 --gossip-listen IP:7946 --grpc-listen IP:7947 \
    --tls-ca %s --tls-cert %s --tls-key %s \
    --gossip-key-file %s

  coordinator run SCENARIO --expect N --gossip-listen IP:7946 \
    --tls-ca %s --tls-cert %s --tls-key %s \
    --gossip-key-file %s

Add --token-file %s on both sides to require the shared token as well.
`, days, p("ca.crt"), p("agent.crt"), p("agent.key"), p("gossip.key"),
		p("ca.crt"), p("coordinator.crt"), p("coordinator.key"), p("gossip.key"), p("token"))
}
