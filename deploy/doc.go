// Package deploy holds Surge's container image (Dockerfile) and Kubernetes
// manifests (k8s/), described in README.md. It has no Go code of its own:
// its tests check the files statically, so a manifest cannot drift from
// the binaries it runs.
//
// The tests parse every YAML document in k8s/ and check, among others:
// that every flag in a container's args exists in that binary's --help (the
// binaries are built from ./cmd/...); that the Secrets, ConfigMaps and
// claims the pods reference exist and hold the files the args name; that
// the headless Services select the pods they front and publish not-ready
// addresses; that the gossip and gRPC ports agree between Services,
// container ports, listen flags and --join; that the scenario in the
// ConfigMap is valid and its targets are in the agents' --allow-target; and
// that the Dockerfile copies every package the binaries need, builds them
// statically and runs them as a non-root user.
//
// They need the go command (to build the binaries), or SURGE_BIN set to a
// directory holding prebuilt agent, coordinator and target binaries (such as
// bin/ after make build). They send no traffic and start no cluster.
package deploy
