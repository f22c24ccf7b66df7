// Package targets holds the reference target servers that Surge runs its
// load against: systems with known, configurable behaviour, so that what
// the load generator measures can be checked against what the target is
// known to do. Each one is a bundled topology with a name ("echo"), used
// by `bundled:` stages of a scenario and by the target command.
//
// A target is a plain http.Handler (for example [NewEcho]) and a [Server]
// that serves one on a TCP address, in the manner of net/http/httptest:
//
//	srv, err := targets.StartEcho("127.0.0.1:0", targets.DefaultEchoConfig())
//	if err != nil {
//		return err
//	}
//	defer srv.Close()
//	resp, err := http.Get(srv.URL + "/health")
//
// The package stands alone: it never imports the load-generation side of
// Surge, so a target can be run and tested without it.
//
// Concurrency: handlers serve any number of requests concurrently and
// hold no mutable state. A Server's goroutines end when Close returns;
// Close may be called from any goroutine, any number of times.
package targets
