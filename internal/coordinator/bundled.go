package coordinator

import "github.com/surgeload/surge/targets"

// startBundled starts a bundled target topology on an ephemeral loopback
// port inside this process.
func startBundled(name string) (string, func() error, error) {
	srv, err := targets.Start(name, "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	return srv.URL, srv.Close, nil
}
