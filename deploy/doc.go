// Package deploy holds Surge's container image (Dockerfile), its
// Kubernetes manifests as a kustomize tree (k8s/base, k8s/overlays,
// k8s/components) and the JSON schemas they are validated against
// (schemas/), described in README.md. It has no Go code of its own: its
// tests check the files statically, so a manifest cannot drift from the
// binaries it runs.
//
// The tests render k8s/base, every k8s/overlays/* and a copy of
// overlays/fleet-10 with another fleet size and every component, with
// kustomize (pinned in tools/go.mod), validate each rendering with
// kubeconform -strict against the vendored schemas (offline), and check
// each, among others: that every flag in a container's args exists in that
// binary's --help (the binaries are built from ./cmd/...) and that the
// coordinator accepts the Job's flags together; that --expect follows the
// StatefulSet's replicas; that the Secrets, ConfigMaps and claims the pods
// reference exist and hold the files the args name; that the headless
// Services select the pods they front and publish not-ready addresses; that
// the gossip and gRPC ports agree between Services, container ports, listen
// flags and --join; that PodDisruptionBudgets and safe-to-evict protect the
// agents and the coordinator; that every report format goes to the results
// claim, which `coordinator results` serves on loopback; that metrics leave loopback
// only behind a NetworkPolicy; that the scenario in the ConfigMap is valid
// and its targets are in the agents' --allow-target; and that the Dockerfile
// names fully qualified base images, copies every package the binaries
// need, builds them statically and runs them as a non-root user.
//
// They need the go command (to build the binaries and the tools), or
// SURGE_BIN set to a directory holding prebuilt agent, coordinator and
// target binaries (such as bin/ after make build). They send no traffic and
// start no cluster.
package deploy
