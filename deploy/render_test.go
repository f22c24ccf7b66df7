package deploy

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// KubernetesVersion is the release whose schemas are vendored in
// schemas/ (scripts/k8s-schemas.sh writes them) and that kubeconform
// validates every rendering against.
const KubernetesVersion = "1.34.4"

// knobOverlay is the shipped overlay the fleet-size test copies with
// another count and every component.
const knobOverlay = "overlays/fleet-10"

// rendering is the output of `kustomize build` of one kustomization.
type rendering struct {
	name string // base, overlays/demo, …
	yaml []byte
	m    *manifests
}

// tools holds kustomize and kubeconform, built once per test binary at
// the versions tools/go.mod pins.
var tools goBuild

func toolPath(t *testing.T, name string) string {
	t.Helper()
	dir := tools.get(t, "it builds kustomize and kubeconform from tools/go.mod", 10*time.Minute,
		"-modfile=tools/go.mod", "sigs.k8s.io/kustomize/kustomize/v5", "github.com/yannh/kubeconform/cmd/kubeconform")
	return filepath.Join(dir, name)
}

var rendered struct {
	once     sync.Once
	list     []rendering
	err      error
	tempDirs []string // TestMain removes them
}

// renderings builds k8s/base, every k8s/overlays/*, and a copy of
// knobOverlay with a fleet of 7 and every component (so the optional
// ServiceMonitor is rendered and checked too), once.
func renderings(t *testing.T) []rendering {
	t.Helper()
	kustomize := toolPath(t, "kustomize")
	rendered.once.Do(func() {
		dirs := []string{"base"}
		overlays, err := filepath.Glob(filepath.Join("k8s", "overlays", "*", "kustomization.yaml"))
		if err != nil || len(overlays) == 0 {
			rendered.err = fmt.Errorf("no k8s/overlays/*/kustomization.yaml: %v", err)
			return
		}
		for _, o := range overlays {
			dirs = append(dirs, filepath.ToSlash(filepath.Dir(strings.TrimPrefix(o, "k8s"+string(filepath.Separator)))))
		}
		knob, err := knobCopy(7)
		if knob != "" {
			rendered.tempDirs = append(rendered.tempDirs, knob)
		}
		if err != nil {
			rendered.err = err
			return
		}
		dirs = append(dirs, knob)
		for _, d := range dirs {
			dir := d
			if !filepath.IsAbs(d) {
				dir = filepath.Join("k8s", filepath.FromSlash(d))
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			out, err := exec.CommandContext(ctx, kustomize, "build", dir).Output()
			cancel()
			if err != nil {
				var stderr []byte
				if ee, ok := err.(*exec.ExitError); ok {
					stderr = ee.Stderr
				}
				rendered.err = fmt.Errorf("kustomize build %s: %w\n%s", dir, err, stderr)
				return
			}
			name := d
			if filepath.IsAbs(d) {
				name = "fleet-7-all-components"
			}
			rendered.list = append(rendered.list, rendering{name: name, yaml: out})
		}
	})
	if rendered.err != nil {
		t.Fatal(rendered.err)
	}
	list := slices.Clone(rendered.list)
	for i := range list {
		list[i].m = parseManifests(t, list[i].name, list[i].yaml)
	}
	return list
}

// knobCopy writes knobOverlay's kustomization into a temporary directory
// with count: n and every component, its paths made relative to there.
func knobCopy(n int) (string, error) {
	src, err := os.ReadFile(filepath.Join("k8s", knobOverlay, "kustomization.yaml"))
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "surge-knob-")
	if err != nil {
		return "", err
	}
	fail := func(err error) (string, error) { return dir, err }
	k8s, err := filepath.Abs("k8s")
	if err != nil {
		return fail(err)
	}
	// kustomize takes no absolute path for a base: go up from dir.
	rel, err := filepath.Rel(dir, k8s)
	if err != nil {
		return fail(err)
	}
	s := string(src)
	counts := regexp.MustCompile(`(?m)^(\s+count:\s*)\d+\s*$`)
	if len(counts.FindAllString(s, -1)) != 1 {
		return fail(fmt.Errorf("%s: want exactly one replicas count", knobOverlay))
	}
	s = counts.ReplaceAllString(s, "${1}"+strconv.Itoa(n))
	s = strings.ReplaceAll(s, "# - ../../components/", "- ../../components/")
	s = strings.ReplaceAll(s, "../../", filepath.ToSlash(rel)+"/")
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(s), 0o644); err != nil {
		return fail(err)
	}
	return dir, nil
}

// forEachRendering runs check on every rendering, as a subtest.
func forEachRendering(t *testing.T, check func(t *testing.T, m *manifests)) {
	t.Helper()
	for _, r := range renderings(t) {
		t.Run(strings.ReplaceAll(r.name, "/", "_"), func(t *testing.T) { check(t, r.m) })
	}
}

// expand resolves the $(VAR) references of value the way the kubelet
// does, from c's env: a literal value, or a stand-in for a field
// (status.podIP is 192.0.2.1, a documentation address: not loopback).
func expand(t *testing.T, c container, value string) string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom.FieldRef.FieldPath == "status.podIP":
			env[e.Name] = "192.0.2.1"
		case e.ValueFrom.FieldRef.FieldPath != "":
			env[e.Name] = "field-" + e.ValueFrom.FieldRef.FieldPath
		default:
			env[e.Name] = expandWith(e.Value, env)
		}
	}
	return expandWith(value, env)
}

func expandWith(s string, env map[string]string) string {
	return envRef.ReplaceAllStringFunc(s, func(ref string) string {
		if v, ok := env[envRef.FindStringSubmatch(ref)[1]]; ok {
			return v
		}
		return ref
	})
}

// TestKubeconform validates every rendering with kubeconform, strictly,
// against the vendored schemas: no download, no missing schema allowed.
func TestKubeconform(t *testing.T) {
	schemas := filepath.Join(moduleRoot(t), "deploy", "schemas")
	if _, err := os.Stat(filepath.Join(schemas, "v"+KubernetesVersion+"-standalone-strict")); err != nil {
		t.Fatalf("no vendored schemas for Kubernetes %s (scripts/k8s-schemas.sh writes them): %v", KubernetesVersion, err)
	}
	script, err := os.ReadFile(filepath.Join(moduleRoot(t), "scripts", "k8s-schemas.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(script), "\nK8S_VERSION=v"+KubernetesVersion+"\n") {
		t.Errorf("scripts/k8s-schemas.sh does not pin K8S_VERSION=v%s", KubernetesVersion)
	}
	kubeconform := toolPath(t, "kubeconform")
	validate := func(t *testing.T, src []byte) (string, error) {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, kubeconform, "-strict", "-summary", "-kubernetes-version", KubernetesVersion,
			"-schema-location", schemas, "-")
		cmd.Stdin = strings.NewReader(string(src))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for _, r := range renderings(t) {
		t.Run(strings.ReplaceAll(r.name, "/", "_"), func(t *testing.T) {
			out, err := validate(t, r.yaml)
			want := fmt.Sprintf("%d resources found parsing stdin - Valid: %d, Invalid: 0, Errors: 0, Skipped: 0", len(r.m.objs), len(r.m.objs))
			if err != nil || !strings.Contains(out, want) {
				t.Errorf("kubeconform %s: %v\n%s\nwant %q", r.name, err, out, want)
			}
		})
	}

	// The schemas are strict and typed: a misspelled field, a number where
	// a string belongs, a wrong apiVersion each fail.
	base := string(renderings(t)[0].yaml)
	for _, tt := range []struct{ name, from, to, want string }{
		{"unknown field", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSecond: 30", "additional properties 'terminationGracePeriodSecond' not allowed"},
		{"number for a string", `value: "3"`, "value: 3", "got number, want string"},
		{"unknown kind", "kind: PodDisruptionBudget", "kind: PodDisruptionBudgets", "could not find schema for PodDisruptionBudgets"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if !strings.Contains(base, tt.from) {
				t.Fatalf("the base rendering has no %q to break", tt.from)
			}
			out, err := validate(t, []byte(strings.Replace(base, tt.from, tt.to, 1)))
			if err == nil || !strings.Contains(out, tt.want) {
				t.Errorf("kubeconform accepted %q (err %v):\n%s", tt.to, err, out)
			}
		})
	}
}

// TestFleetKnob checks that the fleet size is one number: the knob copy
// of knobOverlay says 7, and both the StatefulSet and --expect follow.
func TestFleetKnob(t *testing.T) {
	var found bool
	for _, r := range renderings(t) {
		if r.name != "fleet-7-all-components" {
			continue
		}
		found = true
		agents := r.m.component(t, "StatefulSet", "agent")
		job := r.m.component(t, "Job", "coordinator")
		if agents.w.Spec.Replicas == nil || *agents.w.Spec.Replicas != 7 {
			t.Errorf("StatefulSet replicas %v, want 7", agents.w.Spec.Replicas)
		}
		co := job.spec.Containers[0]
		if got := expand(t, co, flagValue(t, co, "expect")); got != "7" {
			t.Errorf("--expect=%s is %s, want 7", flagValue(t, co, "expect"), got)
		}
		if r.m.find("ServiceMonitor", "surge-coordinator") == nil {
			t.Error("the all-components rendering has no ServiceMonitor")
		}
	}
	if !found {
		t.Fatal("no knob rendering")
	}
	// Every overlay states its fleet size once.
	overlays, _ := filepath.Glob(filepath.Join("k8s", "overlays", "*", "kustomization.yaml"))
	for _, o := range overlays {
		src, err := os.ReadFile(o)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(regexp.MustCompile(`(?m)^\s+count:`).FindAll(src, -1)); n != 1 {
			t.Errorf("%s: %d replicas counts, want 1", o, n)
		}
		if !strings.Contains(string(src), "env.[name=SURGE_EXPECT].value") {
			t.Errorf("%s: no replacement copying the fleet size into SURGE_EXPECT", o)
		}
	}
}

// TestEnvOrder checks that an env value's $(VAR) names an entry above
// it: the kubelet expands only those, and leaves the rest as text.
func TestEnvOrder(t *testing.T) {
	forEachRendering(t, func(t *testing.T, m *manifests) {
		for _, p := range m.pods(t) {
			for _, c := range p.spec.Containers {
				seen := map[string]bool{}
				for _, e := range c.Env {
					for _, r := range envRef.FindAllStringSubmatch(e.Value, -1) {
						if !seen[r[1]] {
							t.Errorf("%s container %s: env %s=%q uses $(%s), which is not defined above it", p.obj.Metadata.Name, c.Name, e.Name, e.Value, r[1])
						}
					}
					seen[e.Name] = true
				}
			}
		}
	})
}

type pdb struct {
	Spec struct {
		MinAvailable               any           `yaml:"minAvailable"`
		MaxUnavailable             any           `yaml:"maxUnavailable"`
		UnhealthyPodEvictionPolicy string        `yaml:"unhealthyPodEvictionPolicy"`
		Selector                   labelSelector `yaml:"selector"`
	} `yaml:"spec"`
}

// TestDisruption checks that no voluntary eviction takes a pod out of a
// run: PDBs over the agents and the coordinator, and the autoscaler's
// safe-to-evict "false" on both.
func TestDisruption(t *testing.T) {
	forEachRendering(t, func(t *testing.T, m *manifests) {
		agents := m.component(t, "StatefulSet", "agent")
		job := m.component(t, "Job", "coordinator")
		var agentPDB, coordinatorPDB int
		for i := range m.objs {
			o := &m.objs[i]
			if o.Kind != "PodDisruptionBudget" {
				continue
			}
			var b pdb
			m.decode(t, o, &b)
			switch {
			case b.Spec.Selector.selects(agents.labels):
				agentPDB++
				// maxUnavailable 0: no number to keep in step with replicas.
				if fmt.Sprint(b.Spec.MaxUnavailable) != "0" || b.Spec.MinAvailable != nil {
					t.Errorf("PDB %s: want maxUnavailable 0 over the agents, have max %v min %v", o.Metadata.Name, b.Spec.MaxUnavailable, b.Spec.MinAvailable)
				}
				if b.Spec.UnhealthyPodEvictionPolicy != "AlwaysAllow" {
					t.Errorf("PDB %s: unhealthyPodEvictionPolicy %q, want AlwaysAllow (a broken agent must not block a drain)", o.Metadata.Name, b.Spec.UnhealthyPodEvictionPolicy)
				}
			case b.Spec.Selector.selects(job.labels):
				coordinatorPDB++
				// A Job has no scale subresource: only an integer minAvailable works.
				if fmt.Sprint(b.Spec.MinAvailable) != "1" || b.Spec.MaxUnavailable != nil {
					t.Errorf("PDB %s: want minAvailable 1 over the coordinator, have min %v max %v", o.Metadata.Name, b.Spec.MinAvailable, b.Spec.MaxUnavailable)
				}
			default:
				t.Errorf("PDB %s selects neither the agents nor the coordinator", o.Metadata.Name)
			}
		}
		if agentPDB != 1 || coordinatorPDB != 1 {
			t.Errorf("want one PDB over the agents and one over the coordinator, have %d and %d", agentPDB, coordinatorPDB)
		}
		for _, p := range []podOf{agents, job} {
			var w workload
			m.decode(t, p.obj, &w)
			if a := w.Spec.Template.Metadata.Annotations["cluster-autoscaler.kubernetes.io/safe-to-evict"]; a != "false" {
				t.Errorf("%s %s: pod annotation cluster-autoscaler.kubernetes.io/safe-to-evict %q, want \"false\"", p.obj.Kind, p.obj.Metadata.Name, a)
			}
		}
	})
}

// TestResults checks that every report format lands on the results claim,
// one directory per run, and that a results pod serves that claim
// read-only on loopback from a node the Job can share the volume on.
func TestResults(t *testing.T) {
	formats := runFormats(t)
	forEachRendering(t, func(t *testing.T, m *manifests) {
		job := m.component(t, "Job", "coordinator")
		server := m.component(t, "Deployment", "results")
		co, sv := job.spec.Containers[0], server.spec.Containers[0]

		got := strings.Split(flagValue(t, co, "format"), ",")
		for _, f := range formats {
			if !slices.Contains(got, f) {
				t.Errorf("Job --format=%s leaves out %s (run --help lists %v)", strings.Join(got, ","), f, formats)
			}
		}
		claimAt := func(p podOf, c container, wantReadOnly bool) (claim, mount string) {
			for _, v := range p.spec.Volumes {
				if v.PersistentVolumeClaim == nil {
					continue
				}
				for _, vm := range c.VolumeMounts {
					if vm.Name == v.Name {
						if (vm.ReadOnly && v.PersistentVolumeClaim.ReadOnly) != wantReadOnly {
							t.Errorf("%s: claim %s mounted readOnly=%v, want %v", p.obj.Metadata.Name, v.PersistentVolumeClaim.ClaimName, vm.ReadOnly, wantReadOnly)
						}
						return v.PersistentVolumeClaim.ClaimName, vm.MountPath
					}
				}
			}
			t.Fatalf("%s: no PersistentVolumeClaim mounted", p.obj.Metadata.Name)
			return "", ""
		}
		jobClaim, jobMount := claimAt(job, co, false)
		srvClaim, srvMount := claimAt(server, sv, true)
		if jobClaim != srvClaim {
			t.Errorf("the Job writes claim %s, results reads %s", jobClaim, srvClaim)
		}
		out := flagValue(t, co, "out")
		if filepath.Dir(out) != jobMount || !strings.Contains(out, "$(POD_NAME)") || expand(t, co, out) != jobMount+"/field-metadata.name" {
			t.Errorf("Job --out=%s: want %s/$(POD_NAME) (each run its own directory, POD_NAME from metadata.name)", out, jobMount)
		}
		if sv.Args[0] != "results" || flagValue(t, sv, "dir") != srvMount {
			t.Errorf("results server args %v: want `coordinator results --dir=%s`", sv.Args, srvMount)
		}
		if ap, err := netip.ParseAddrPort(flagValue(t, sv, "listen")); err != nil || !ap.Addr().IsLoopback() {
			t.Errorf("coordinator results --listen=%s: want a loopback ip:port (kubectl port-forward reaches it)", flagValue(t, sv, "listen"))
		}
		// ReadWriteOnce: the Job must land on the server's node.
		together := false
		for _, a := range job.spec.Affinity.PodAffinity.Required {
			if a.TopologyKey == "kubernetes.io/hostname" && a.LabelSelector.selects(server.labels) {
				together = true
			}
		}
		if !together {
			t.Error("Job: want a required podAffinity on kubernetes.io/hostname to the results server (the claim is ReadWriteOnce)")
		}
		if server.w.Spec.Replicas == nil || *server.w.Spec.Replicas != 1 {
			t.Error("results Deployment: want replicas 1 (one pod holds the ReadWriteOnce claim)")
		}
	})
}

// runFormats is every report format `coordinator run --help` lists for
// --format.
func runFormats(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binaries(t), "coordinator"), "run", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("coordinator run --help: %v\n%s", err, out)
	}
	line := regexp.MustCompile(`(?m)--format[^\n]*reports written into --out: ([^\n]*)`).FindSubmatch(out)
	if line == nil {
		t.Fatalf("coordinator run --help: no --format line:\n%s", out)
	}
	var fs []string
	for _, m := range regexp.MustCompile(`([a-z]+) \(`).FindAllSubmatch(line[1], -1) {
		fs = append(fs, string(m[1]))
	}
	if len(fs) < 2 {
		t.Fatalf("--format help %q: no formats", line[1])
	}
	return fs
}

type networkPolicy struct {
	Spec struct {
		PodSelector labelSelector `yaml:"podSelector"`
		PolicyTypes []string      `yaml:"policyTypes"`
		Ingress     []struct {
			From []struct {
				PodSelector       *labelSelector `yaml:"podSelector"`
				NamespaceSelector *labelSelector `yaml:"namespaceSelector"`
				IPBlock           any            `yaml:"ipBlock"`
			} `yaml:"from"`
			Ports []struct {
				Port     any    `yaml:"port"`
				Protocol string `yaml:"protocol"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
	} `yaml:"spec"`
}

// checkMetrics checks the coordinator's --metrics-listen. On loopback
// nothing more is needed. Off loopback (an in-cluster Prometheus scrapes
// the pod) it needs --insecure-allow-remote, as the README says of the
// plaintext metrics, a containerPort named metrics, the prometheus.io
// annotations, and a NetworkPolicy that lets only selected peers reach
// the port; any ServiceMonitor must reach it through a Service. It
// reports whether the listener is off loopback.
func checkMetrics(t *testing.T, m *manifests, job podOf) bool {
	t.Helper()
	co := job.spec.Containers[0]
	vs := flagValues(co.Args, "metrics-listen")
	if len(vs) == 0 {
		return false
	}
	addr := expand(t, co, vs[0])
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Errorf("coordinator --metrics-listen=%s (%s): not ip:port", vs[0], addr)
		return false
	}
	if ap.Addr().IsLoopback() {
		return false
	}
	if !slices.Contains(co.Args, "--insecure-allow-remote=true") {
		t.Errorf("coordinator --metrics-listen=%s is off loopback: `coordinator run` refuses it without --insecure-allow-remote=true", vs[0])
	}
	if containerPort(co, int(ap.Port()), "TCP") != "metrics" {
		t.Errorf("coordinator: want containerPort %d named metrics", ap.Port())
	}
	var w workload
	m.decode(t, job.obj, &w)
	ann := w.Spec.Template.Metadata.Annotations
	if ann["prometheus.io/scrape"] != "true" || ann["prometheus.io/port"] != strconv.Itoa(int(ap.Port())) || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("coordinator pod annotations %v: want prometheus.io/scrape \"true\", port %q, path /metrics", ann, strconv.Itoa(int(ap.Port())))
	}

	// Some policy isolates the pod for ingress, and every rule that
	// admits the metrics port names its peers.
	isolated, admitted := false, false
	for i := range m.objs {
		o := &m.objs[i]
		if o.Kind != "NetworkPolicy" {
			continue
		}
		var np networkPolicy
		m.decode(t, o, &np)
		if !np.Spec.PodSelector.selects(job.labels) || !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
			continue
		}
		isolated = true
		for _, rule := range np.Spec.Ingress {
			covers := len(rule.Ports) == 0
			for _, p := range rule.Ports {
				if fmt.Sprint(p.Port) == strconv.Itoa(int(ap.Port())) || p.Port == "metrics" {
					covers = true
				}
			}
			if !covers {
				continue
			}
			if len(rule.From) == 0 {
				t.Errorf("NetworkPolicy %s: admits the metrics port %d from everywhere", o.Metadata.Name, ap.Port())
			}
			for _, f := range rule.From {
				if f.IPBlock != nil || (f.PodSelector == nil && f.NamespaceSelector == nil) ||
					(f.NamespaceSelector != nil && len(f.NamespaceSelector.MatchLabels) == 0 && len(f.NamespaceSelector.MatchExpressions) == 0) {
					t.Errorf("NetworkPolicy %s: a rule admits the metrics port from an unnamed peer", o.Metadata.Name)
				}
			}
			admitted = true
		}
	}
	if !isolated || !admitted {
		t.Errorf("metrics off loopback: want a NetworkPolicy over the coordinator admitting port %d from named peers only (isolated %v, admitted %v)", ap.Port(), isolated, admitted)
	}

	// A ServiceMonitor finds the port through a Service.
	for i := range m.objs {
		o := &m.objs[i]
		if o.Kind != "ServiceMonitor" {
			continue
		}
		var sm struct {
			Spec struct {
				Selector  labelSelector `yaml:"selector"`
				Endpoints []struct {
					Port string `yaml:"port"`
					Path string `yaml:"path"`
				} `yaml:"endpoints"`
			} `yaml:"spec"`
		}
		m.decode(t, o, &sm)
		found := false
		for j := range m.objs {
			so := &m.objs[j]
			if so.Kind != "Service" || !sm.Spec.Selector.selects(so.Metadata.Labels) {
				continue
			}
			var s service
			m.decode(t, so, &s)
			if !selects(s.Spec.Selector, job.labels) {
				t.Errorf("ServiceMonitor %s selects Service %s, which does not select the coordinator", o.Metadata.Name, so.Metadata.Name)
				continue
			}
			for _, e := range sm.Spec.Endpoints {
				for _, sp := range s.Spec.Ports {
					if sp.Name == e.Port && sp.Port == int(ap.Port()) && fmt.Sprint(sp.TargetPort) == "metrics" {
						found = true
					}
				}
			}
		}
		if !found {
			t.Errorf("ServiceMonitor %s: no Service port named after its endpoints reaches the coordinator's metrics port %d", o.Metadata.Name, ap.Port())
		}
	}
	return true
}

// TestRunAccepts runs the real coordinator with each rendering's Job
// args (mount paths mapped to temporary copies, POD_IP a documentation
// address no host has): the flags must pass every check together, so the
// command gets as far as binding its listeners, which fails (exit 3, could
// not run) where a refused flag combination would exit 2. Nothing is sent.
func TestRunAccepts(t *testing.T) {
	bins := binaries(t)
	certs := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(bins, "coordinator"), "certs", "init", "--dir", certs).CombinedOutput(); err != nil {
		t.Fatalf("certs init: %v\n%s", err, out)
	}
	forEachRendering(t, func(t *testing.T, m *manifests) {
		job := m.component(t, "Job", "coordinator")
		co := job.spec.Containers[0]
		mounts := map[string]string{} // mount path -> local directory
		for _, vm := range co.VolumeMounts {
			for _, v := range job.spec.Volumes {
				if v.Name != vm.Name {
					continue
				}
				switch {
				case v.Secret != nil:
					mounts[vm.MountPath] = certs
				case v.ConfigMap != nil:
					dir := t.TempDir()
					for k, val := range m.find("ConfigMap", v.ConfigMap.Name).Data {
						if err := os.WriteFile(filepath.Join(dir, k), []byte(val), 0o600); err != nil {
							t.Fatal(err)
						}
					}
					mounts[vm.MountPath] = dir
				default:
					mounts[vm.MountPath] = t.TempDir()
				}
			}
		}
		var args []string
		for _, a := range append(slices.Clone(co.Command[1:]), co.Args...) {
			a = expand(t, co, a)
			for mp, dir := range mounts {
				a = strings.Replace(a, "="+mp+"/", "="+dir+"/", 1)
				if strings.HasPrefix(a, mp+"/") {
					a = dir + strings.TrimPrefix(a, mp)
				}
			}
			args = append(args, a)
		}
		// Fail fast and leave nothing behind: a short wait, no linger.
		args = append(args, "--wait=1s", "--metrics-linger=-1ns")
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, filepath.Join(bins, "coordinator"), args...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		// (The loopback metrics port may bind first, or be taken: either
		// way a listener fails, never a flag.)
		if code != 3 || !strings.Contains(string(out), "listen") {
			t.Errorf("coordinator %v: exit %d, want 3 (a listener could not bind); a 2 means the flags are refused:\n%s", args, code, out)
		}
	})
}

func TestFullyQualified(t *testing.T) {
	digest := "@sha256:" + strings.Repeat("ab", 32)
	for _, tt := range []struct {
		ref  string
		want bool
	}{
		{"docker.io/library/golang:1.26-bookworm", true},
		{"gcr.io/distroless/static-debian12:nonroot", true},
		{"gcr.io/distroless/static-debian12:nonroot" + digest, true},
		{"ghcr.io/surgeload/surge" + digest, true},
		{"localhost:5000/surge:dev", true},
		{"golang:1.26", false},
		{"library/golang:1.26", false},
		{"busybox", false},
		{"ghcr.io/surgeload/surge", false},
		{"ghcr.io/surgeload/surge@sha256:abc", false},
	} {
		if got := fullyQualified(tt.ref); got != tt.want {
			t.Errorf("fullyQualified(%q) = %v, want %v", tt.ref, got, tt.want)
		}
	}
}

// TestSchemasUpToDate regenerates the schemas with scripts/k8s-schemas.sh
// (from the pinned modules, through the Go module proxy) into a temporary
// directory: the vendored ones must be exactly what it writes, never edited
// by hand.
func TestSchemasUpToDate(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("the go command is not on PATH: %v", err)
	}
	root := moduleRoot(t)
	tmp := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", filepath.Join(root, "scripts", "k8s-schemas.sh"))
	cmd.Env = append(os.Environ(), "SCHEMAS_OUT="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/k8s-schemas.sh: %v\n%s", err, out)
	}
	dir := "v" + KubernetesVersion + "-standalone-strict"
	fresh, err := filepath.Glob(filepath.Join(tmp, dir, "*.json"))
	if err != nil || len(fresh) == 0 {
		t.Fatalf("the script wrote no schemas: %v", err)
	}
	vendored, err := filepath.Glob(filepath.Join(root, "deploy", "schemas", dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	base := func(ps []string) []string {
		var bs []string
		for _, p := range ps {
			bs = append(bs, filepath.Base(p))
		}
		slices.Sort(bs)
		return bs
	}
	if !slices.Equal(base(fresh), base(vendored)) {
		t.Fatalf("deploy/schemas/%s holds %v, the script writes %v: run scripts/k8s-schemas.sh", dir, base(vendored), base(fresh))
	}
	for _, f := range fresh {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(root, "deploy", "schemas", dir, filepath.Base(f)))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("deploy/schemas/%s/%s differs from what scripts/k8s-schemas.sh writes: run it", dir, filepath.Base(f))
		}
	}
}
