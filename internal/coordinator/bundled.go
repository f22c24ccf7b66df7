package coordinator

import (
	"bytes"

	"github.com/surgeload/surge/targets"
)

// startBundled starts a bundled target topology on an ephemeral loopback
// port inside this process.
func startBundled(name string) (string, func() error, error) {
	return startBundledWith(name, nil)
}

// startBundledWith starts a bundled topology with options (JSON merged
// over its default configuration; nil for the defaults).
func startBundledWith(name string, options []byte) (string, func() error, error) {
	var cfg any
	if len(options) > 0 {
		var err error
		if cfg, err = targets.DecodeConfig(name, bytes.NewReader(options)); err != nil {
			return "", nil, err
		}
	}
	srv, err := targets.StartTopology(name, "127.0.0.1:0", cfg)
	if err != nil {
		return "", nil, err
	}
	return srv.URL, srv.Close, nil
}

// CheckOptions checks a bundled stage's options against its topology's
// configuration (for stages.Overrides.CheckOptions).
func CheckOptions(topology string, options []byte) error {
	_, err := targets.DecodeConfig(topology, bytes.NewReader(options))
	return err
}
