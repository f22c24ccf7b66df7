package deploy

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/surgeload/surge/scenario"
)

// The subset of the Kubernetes API the manifests use and the tests read.
// Unknown fields are ignored: the checks below look at what matters.
type (
	object struct {
		APIVersion string            `yaml:"apiVersion"`
		Kind       string            `yaml:"kind"`
		Metadata   objectMeta        `yaml:"metadata"`
		Data       map[string]string `yaml:"data"`
		file       string            // where it was read, for messages
	}
	objectMeta struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	service struct {
		Spec struct {
			ClusterIP                string            `yaml:"clusterIP"`
			PublishNotReadyAddresses bool              `yaml:"publishNotReadyAddresses"`
			Selector                 map[string]string `yaml:"selector"`
			Ports                    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort any    `yaml:"targetPort"`
				Protocol   string `yaml:"protocol"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	// workload is a StatefulSet, Deployment or Job.
	workload struct {
		Spec struct {
			Replicas              *int          `yaml:"replicas"`
			ServiceName           string        `yaml:"serviceName"`
			Selector              labelSelector `yaml:"selector"`
			BackoffLimit          *int          `yaml:"backoffLimit"`
			ActiveDeadlineSeconds *int          `yaml:"activeDeadlineSeconds"`
			Template              struct {
				Metadata objectMeta `yaml:"metadata"`
				Spec     podSpec    `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	pod struct {
		Spec podSpec `yaml:"spec"`
	}
	labelSelector struct {
		MatchLabels      map[string]string `yaml:"matchLabels"`
		MatchExpressions []struct {
			Key      string   `yaml:"key"`
			Operator string   `yaml:"operator"`
			Values   []string `yaml:"values"`
		} `yaml:"matchExpressions"`
	}
	podSpec struct {
		RestartPolicy                 string `yaml:"restartPolicy"`
		TerminationGracePeriodSeconds *int   `yaml:"terminationGracePeriodSeconds"`
		SecurityContext               struct {
			RunAsNonRoot   *bool `yaml:"runAsNonRoot"`
			RunAsUser      *int  `yaml:"runAsUser"`
			SeccompProfile struct {
				Type string `yaml:"type"`
			} `yaml:"seccompProfile"`
		} `yaml:"securityContext"`
		HostNetwork bool `yaml:"hostNetwork"`
		HostPID     bool `yaml:"hostPID"`
		HostIPC     bool `yaml:"hostIPC"`
		Affinity    struct {
			PodAffinity struct {
				Required []struct {
					TopologyKey   string        `yaml:"topologyKey"`
					LabelSelector labelSelector `yaml:"labelSelector"`
				} `yaml:"requiredDuringSchedulingIgnoredDuringExecution"`
			} `yaml:"podAffinity"`
			PodAntiAffinity struct {
				Preferred []struct {
					Weight          int `yaml:"weight"`
					PodAffinityTerm struct {
						TopologyKey   string        `yaml:"topologyKey"`
						LabelSelector labelSelector `yaml:"labelSelector"`
					} `yaml:"podAffinityTerm"`
				} `yaml:"preferredDuringSchedulingIgnoredDuringExecution"`
			} `yaml:"podAntiAffinity"`
		} `yaml:"affinity"`
		Containers []container `yaml:"containers"`
		Volumes    []volume    `yaml:"volumes"`
	}
	container struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom struct {
				FieldRef struct {
					FieldPath string `yaml:"fieldPath"`
				} `yaml:"fieldRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
			Protocol      string `yaml:"protocol"`
		} `yaml:"ports"`
		Resources struct {
			Requests map[string]any `yaml:"requests"`
			Limits   map[string]any `yaml:"limits"`
		} `yaml:"resources"`
		SecurityContext struct {
			AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
			ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
			Privileged               *bool `yaml:"privileged"`
			Capabilities             struct {
				Drop []string `yaml:"drop"`
				Add  []string `yaml:"add"`
			} `yaml:"capabilities"`
		} `yaml:"securityContext"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"volumeMounts"`
	}
	volume struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName  string      `yaml:"secretName"`
			DefaultMode *int        `yaml:"defaultMode"`
			Items       []keyToPath `yaml:"items"`
		} `yaml:"secret"`
		ConfigMap *struct {
			Name  string      `yaml:"name"`
			Items []keyToPath `yaml:"items"`
		} `yaml:"configMap"`
		PersistentVolumeClaim *struct {
			ClaimName string `yaml:"claimName"`
			ReadOnly  bool   `yaml:"readOnly"`
		} `yaml:"persistentVolumeClaim"`
		EmptyDir any `yaml:"emptyDir"`
		HostPath any `yaml:"hostPath"`
	}
	keyToPath struct {
		Key  string `yaml:"key"`
		Path string `yaml:"path"`
	}
)

// namespace is where every namespaced object lives.
const namespace = "surge"

// apiVersions are the kinds the manifests may use, with their API group.
var apiVersions = map[string]string{
	"Namespace":             "v1",
	"Service":               "v1",
	"ConfigMap":             "v1",
	"PersistentVolumeClaim": "v1",
	"Pod":                   "v1",
	"StatefulSet":           "apps/v1",
	"Deployment":            "apps/v1",
	"Job":                   "batch/v1",
	"NetworkPolicy":         "networking.k8s.io/v1",
	"PodDisruptionBudget":   "policy/v1",
	"ServiceMonitor":        "monitoring.coreos.com/v1",
}

// manifests is every document of one kustomize rendering of k8s/, parsed.
type manifests struct {
	objs []object
	raw  [][]byte // raw[i] is objs[i]'s document
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// parseManifests parses the documents of src, the rendering name.
func parseManifests(t *testing.T, name string, src []byte) *manifests {
	t.Helper()
	m := &manifests{}
	for i, doc := range docSeparator.Split(string(src), -1) {
		if strings.TrimSpace(stripComments(doc)) == "" {
			continue
		}
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatalf("%s document %d: %v", name, i+1, err)
		}
		o.file = fmt.Sprintf("%s#%d", name, i+1)
		m.objs = append(m.objs, o)
		m.raw = append(m.raw, []byte(doc))
	}
	if len(m.objs) == 0 {
		t.Fatalf("%s: no objects", name)
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// find returns the object of that kind and name, or nil.
func (m *manifests) find(kind, name string) *object {
	for i := range m.objs {
		if m.objs[i].Kind == kind && m.objs[i].Metadata.Name == name {
			return &m.objs[i]
		}
	}
	return nil
}

// decode decodes the document of o into v (a kind-specific struct).
func (m *manifests) decode(t *testing.T, o *object, v any) {
	t.Helper()
	for i := range m.objs {
		if &m.objs[i] == o {
			if err := yaml.Unmarshal(m.raw[i], v); err != nil {
				t.Fatalf("%s: %v", o.file, err)
			}
			return
		}
	}
	t.Fatalf("%s: not a loaded object", o.file)
}

// podOf is the pod template of a workload or the spec of a Pod, with the
// pod's labels.
type podOf struct {
	obj    *object
	labels map[string]string
	spec   podSpec
	w      *workload // nil for a bare Pod
}

func (m *manifests) pods(t *testing.T) []podOf {
	var ps []podOf
	for i := range m.objs {
		o := &m.objs[i]
		switch o.Kind {
		case "StatefulSet", "Deployment", "Job":
			var w workload
			m.decode(t, o, &w)
			ps = append(ps, podOf{obj: o, labels: w.Spec.Template.Metadata.Labels, spec: w.Spec.Template.Spec, w: &w})
		case "Pod":
			var p pod
			m.decode(t, o, &p)
			ps = append(ps, podOf{obj: o, labels: o.Metadata.Labels, spec: p.Spec})
		}
	}
	return ps
}

// component finds the single workload whose pods have that component label.
func (m *manifests) component(t *testing.T, kind, comp string) podOf {
	t.Helper()
	var found []podOf
	for _, p := range m.pods(t) {
		if p.obj.Kind == kind && p.labels["app.kubernetes.io/component"] == comp {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s with component %q, found %d", kind, comp, len(found))
	}
	return found[0]
}

// selects reports whether a Service-style selector (all labels equal)
// selects a pod with these labels. An empty selector selects nothing here.
func selects(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (s labelSelector) selects(labels map[string]string) bool {
	if len(s.MatchLabels) == 0 && len(s.MatchExpressions) == 0 {
		return false
	}
	for k, v := range s.MatchLabels {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range s.MatchExpressions {
		v, ok := labels[e.Key]
		switch e.Operator {
		case "In":
			if !ok || !slices.Contains(e.Values, v) {
				return false
			}
		case "NotIn":
			if ok && slices.Contains(e.Values, v) {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// flagValue returns the values of --name=VALUE in args.
func flagValues(args []string, name string) []string {
	var vs []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			vs = append(vs, v)
		}
	}
	return vs
}

func flagValue(t *testing.T, c container, name string) string {
	t.Helper()
	vs := flagValues(c.Args, name)
	if len(vs) != 1 {
		t.Fatalf("container %s: want one --%s=, have %d", c.Name, name, len(vs))
	}
	return vs[0]
}

// port parses the port of a host:port flag value.
func port(t *testing.T, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Fatalf("%q is not host:port: %v", hostport, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		t.Fatalf("%q: bad port", hostport)
	}
	return n
}

// containerPort is the container's port of that number and protocol, by
// name; "" when it declares none.
func containerPort(c container, number int, proto string) string {
	for _, p := range c.Ports {
		pp := orDefault(p.Protocol, "TCP")
		if p.ContainerPort == number && pp == proto {
			return orDefault(p.Name, "#"+strconv.Itoa(number))
		}
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkServiceFronts checks that the Service is headless, publishes
// not-ready addresses, selects the pod, and that each of its ports maps to
// a container port of the same number and protocol. It returns the
// Service's ports as "PROTO/number".
func checkServiceFronts(t *testing.T, m *manifests, name string, p podOf) []string {
	t.Helper()
	o := m.find("Service", name)
	if o == nil {
		t.Fatalf("no Service %s", name)
	}
	var s service
	m.decode(t, o, &s)
	if s.Spec.ClusterIP != "None" {
		t.Errorf("Service %s: clusterIP %q, want None (headless: its name resolves to the pod IPs gossip needs)", name, s.Spec.ClusterIP)
	}
	if !s.Spec.PublishNotReadyAddresses {
		t.Errorf("Service %s: publishNotReadyAddresses must be true: gossip must work before readiness", name)
	}
	if !selects(s.Spec.Selector, p.labels) {
		t.Errorf("Service %s: selector %v does not select the pods of %s (labels %v)", name, s.Spec.Selector, p.obj.Metadata.Name, p.labels)
	}
	c := p.spec.Containers[0]
	var ports []string
	for _, sp := range s.Spec.Ports {
		proto := orDefault(sp.Protocol, "TCP")
		ports = append(ports, fmt.Sprintf("%s/%d", proto, sp.Port))
		named := containerPort(c, sp.Port, proto)
		if named == "" {
			t.Errorf("Service %s port %s %s/%d: container %s has no such containerPort", name, sp.Name, proto, sp.Port, c.Name)
			continue
		}
		switch tp := sp.TargetPort.(type) {
		case nil:
		case string:
			if tp != named {
				t.Errorf("Service %s port %s: targetPort %q, but container port %s/%d is named %q", name, sp.Name, tp, proto, sp.Port, named)
			}
		default:
			if fmt.Sprint(tp) != strconv.Itoa(sp.Port) {
				t.Errorf("Service %s port %s: targetPort %v differs from port %d", name, sp.Name, tp, sp.Port)
			}
		}
	}
	return ports
}

// moduleRoot is the repository root, the parent of this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root: %v", err)
	}
	return root
}

// built is the directory the binaries were built into, once per test
// binary; TestMain removes it.
// built holds agent, coordinator and target, built once per test binary.
var built goBuild

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range append([]string{built.dir, tools.dir}, rendered.tempDirs...) {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// goBuild is a directory that `go build` fills once per test binary;
// TestMain removes it.
type goBuild struct {
	once sync.Once
	dir  string
	err  error
}

// get builds args (go build's flags and packages, in the module's root)
// into a temporary directory the first time, and returns the directory.
// Without the go command the test is skipped with why (what to set).
func (b *goBuild) get(t *testing.T, why string, timeout time.Duration, args ...string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH (%s): %v", why, err)
	}
	root := moduleRoot(t)
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "surge-deploy-")
		if b.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, goCmd, append([]string{"build", "-o", b.dir + string(filepath.Separator)}, args...)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

// binaries returns a directory holding agent, coordinator and target:
// $SURGE_BIN, or a temporary one they are built into once.
func binaries(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("SURGE_BIN"); dir != "" {
		return dir
	}
	return built.get(t, "set SURGE_BIN to prebuilt binaries", 5*time.Minute, "./cmd/agent", "./cmd/coordinator", "./cmd/target")
}

// helpFlags runs BIN SUBCOMMAND... --help and returns the long flag names
// it lists.
func helpFlags(t *testing.T, bin string, sub []string) map[string]bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(slices.Clone(sub), "--help")...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v --help: %v\n%s", bin, sub, err, out)
	}
	flags := map[string]bool{}
	for _, m := range helpFlag.FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("%s %v --help lists no flags:\n%s", bin, sub, out)
	}
	return flags
}

var helpFlag = regexp.MustCompile(`(?m)^\s+(?:-[A-Za-z0-9], )?--([a-z0-9][a-z0-9-]*)`)

// envRef matches a Kubernetes $(VAR) reference.
var envRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// TestManifests parses every document and checks kinds, names and the pod
// hygiene every workload shares.
func TestManifests(t *testing.T) { forEachRendering(t, testManifests) }

func testManifests(t *testing.T, m *manifests) {
	seen := map[string]string{}
	for _, o := range m.objs {
		want, ok := apiVersions[o.Kind]
		switch {
		case !ok:
			t.Errorf("%s: unexpected kind %q", o.file, o.Kind)
		case o.APIVersion != want:
			t.Errorf("%s: %s has apiVersion %q, want %q", o.file, o.Kind, o.APIVersion, want)
		}
		if o.Metadata.Name == "" {
			t.Errorf("%s: no metadata.name", o.file)
		}
		if o.Kind != "Namespace" && o.Metadata.Namespace != namespace {
			t.Errorf("%s: %s %s in namespace %q, want %q", o.file, o.Kind, o.Metadata.Name, o.Metadata.Namespace, namespace)
		}
		key := o.Kind + "/" + o.Metadata.Name
		if prev, dup := seen[key]; dup {
			t.Errorf("%s: %s also defined in %s", o.file, key, prev)
		}
		seen[key] = o.file
	}
	for _, kind := range []string{"Namespace", "StatefulSet", "Job", "ConfigMap", "Service"} {
		if !slices.ContainsFunc(m.objs, func(o object) bool { return o.Kind == kind }) {
			t.Errorf("no %s in k8s/", kind)
		}
	}

	for _, p := range m.pods(t) {
		name := p.obj.Kind + " " + p.obj.Metadata.Name
		if p.w != nil && !p.w.Spec.Selector.selects(p.labels) && p.obj.Kind != "Job" {
			t.Errorf("%s: selector does not match its pod template labels %v", name, p.labels)
		}
		if p.spec.TerminationGracePeriodSeconds == nil {
			t.Errorf("%s: no terminationGracePeriodSeconds", name)
		}
		// The restricted Pod Security Standard (the namespace enforces it).
		if sp := p.spec.SecurityContext.SeccompProfile.Type; sp != "RuntimeDefault" && sp != "Localhost" {
			t.Errorf("%s: pod securityContext.seccompProfile.type %q: want RuntimeDefault", name, sp)
		}
		if p.spec.HostNetwork || p.spec.HostPID || p.spec.HostIPC {
			t.Errorf("%s: no host namespaces under the restricted Pod Security Standard", name)
		}
		for _, v := range p.spec.Volumes {
			if v.HostPath != nil {
				t.Errorf("%s: volume %s is a hostPath", name, v.Name)
			}
		}
		if sc := p.spec.SecurityContext; sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser == 0 {
			t.Errorf("%s: pod securityContext must set runAsNonRoot: true and a non-zero runAsUser", name)
		}
		if len(p.spec.Containers) == 0 {
			t.Errorf("%s: no containers", name)
		}
		for _, c := range p.spec.Containers {
			where := name + " container " + c.Name
			if !fullyQualified(c.Image) {
				t.Errorf("%s: image %q: want REGISTRY/REPOSITORY:TAG or @sha256:DIGEST (set it with the overlay's images:)", where, c.Image)
			}
			for _, res := range []string{"cpu", "memory"} {
				if c.Resources.Requests[res] == nil || c.Resources.Limits[res] == nil {
					t.Errorf("%s: resources must set requests and limits of %s", where, res)
				}
			}
			sc := c.SecurityContext
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
				!slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: securityContext must set allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities.drop: [ALL]", where)
			}
			if (sc.Privileged != nil && *sc.Privileged) || slices.ContainsFunc(sc.Capabilities.Add, func(c string) bool { return c != "NET_BIND_SERVICE" }) {
				t.Errorf("%s: privileged, or capabilities beyond NET_BIND_SERVICE added: the restricted Pod Security Standard refuses them", where)
			}
			checkEnvRefs(t, where, c)
			checkVolumes(t, m, where, c, p.spec.Volumes)
		}
	}
}

// checkEnvRefs checks that every $(VAR) in command and args is defined in
// the container's env: Kubernetes leaves an undefined one as is.
func checkEnvRefs(t *testing.T, where string, c container) {
	t.Helper()
	defined := map[string]bool{}
	for _, e := range c.Env {
		defined[e.Name] = true
	}
	for _, a := range append(slices.Clone(c.Command), c.Args...) {
		for _, r := range envRef.FindAllStringSubmatch(a, -1) {
			if !defined[r[1]] {
				t.Errorf("%s: %q uses $(%s), which its env does not define", where, a, r[1])
			}
		}
	}
	for _, e := range c.Env {
		if e.Name == "POD_IP" && e.ValueFrom.FieldRef.FieldPath != "status.podIP" {
			t.Errorf("%s: env POD_IP must come from fieldRef status.podIP", where)
		}
	}
}

// checkVolumes checks that each mount has a volume, that Secrets,
// ConfigMaps and claims exist, and that every absolute path in the args
// is a file the mounts provide.
func checkVolumes(t *testing.T, m *manifests, where string, c container, vols []volume) {
	t.Helper()
	secrets := scriptSecrets(t)
	byName := map[string]volume{}
	for _, v := range vols {
		byName[v.Name] = v
	}
	// files maps a mount path to the files it provides (nil: any file).
	files := map[string][]string{}
	for _, vm := range c.VolumeMounts {
		v, ok := byName[vm.Name]
		if !ok {
			t.Errorf("%s: volumeMount %s has no volume", where, vm.Name)
			continue
		}
		switch {
		case v.Secret != nil:
			keys, ok := secrets[v.Secret.SecretName]
			if !ok {
				t.Errorf("%s: Secret %q is neither created by scripts/k8s-secrets.sh nor known", where, v.Secret.SecretName)
			}
			if !vm.ReadOnly {
				t.Errorf("%s: Secret volume %s must be mounted readOnly", where, vm.Name)
			}
			if v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0 {
				t.Errorf("%s: Secret volume %s: defaultMode must be set and give others nothing (like 0440)", where, vm.Name)
			}
			files[vm.MountPath] = itemPaths(t, where, v.Secret.Items, keys)
		case v.ConfigMap != nil:
			cm := m.find("ConfigMap", v.ConfigMap.Name)
			if cm == nil {
				t.Errorf("%s: ConfigMap %q is not in k8s/", where, v.ConfigMap.Name)
				continue
			}
			files[vm.MountPath] = itemPaths(t, where, v.ConfigMap.Items, slices.Sorted(mapKeys(cm.Data)))
		case v.PersistentVolumeClaim != nil:
			if m.find("PersistentVolumeClaim", v.PersistentVolumeClaim.ClaimName) == nil {
				t.Errorf("%s: PersistentVolumeClaim %q is not in k8s/", where, v.PersistentVolumeClaim.ClaimName)
			}
			files[vm.MountPath] = nil
		default:
			files[vm.MountPath] = nil
		}
	}
	for _, a := range c.Args {
		_, val, ok := strings.Cut(a, "=")
		if !ok {
			val = a
		}
		if !strings.HasPrefix(val, "/") {
			continue
		}
		mounted := false
		for mp, fs := range files {
			rel, err := filepath.Rel(mp, val)
			if err != nil || strings.HasPrefix(rel, "..") {
				continue
			}
			mounted = true
			if fs != nil && rel != "." && !slices.Contains(fs, rel) {
				t.Errorf("%s: %q: the volume at %s provides %v, not %s", where, a, mp, fs, rel)
			}
		}
		if !mounted {
			t.Errorf("%s: %q names a path no volume is mounted at", where, a)
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// itemPaths is the files a Secret or ConfigMap volume provides: its items'
// paths (each key must exist), or every key.
func itemPaths(t *testing.T, where string, items []keyToPath, keys []string) []string {
	t.Helper()
	if len(items) == 0 {
		return keys
	}
	var ps []string
	for _, it := range items {
		if keys != nil && !slices.Contains(keys, it.Key) {
			t.Errorf("%s: item key %q is not among %v", where, it.Key, keys)
		}
		ps = append(ps, it.Path)
	}
	return ps
}

// scriptSecrets reads the Secret scripts/k8s-secrets.sh creates and the
// files it puts in it.
func scriptSecrets(t *testing.T) map[string][]string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(moduleRoot(t), "scripts", "k8s-secrets.sh"))
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile(`(?m)^secret=([a-z0-9-]+)$`).FindSubmatch(src)
	files := regexp.MustCompile(`(?m)^files=\(([^)]*)\)$`).FindSubmatch(src)
	if name == nil || files == nil {
		t.Fatalf("scripts/k8s-secrets.sh: no secret=NAME or files=(...) line")
	}
	return map[string][]string{string(name[1]): strings.Fields(string(files[1]))}
}

// TestFlagsExist checks every flag of every Surge container against the
// --help of the binary it runs, and that the files the Secret holds are the
// ones `coordinator certs init` writes.
func TestFlagsExist(t *testing.T) { forEachRendering(t, testFlagsExist) }

func testFlagsExist(t *testing.T, m *manifests) {
	bins := binaries(t)
	installed := dockerfileBinaries(t, parseDockerfile(t))
	help := map[string]map[string]bool{}
	for _, p := range m.pods(t) {
		for _, c := range p.spec.Containers {
			where := p.obj.Kind + " " + p.obj.Metadata.Name + " container " + c.Name
			if len(c.Command) == 0 || !strings.HasPrefix(c.Command[0], "/usr/local/bin/") {
				continue // not a Surge binary (the results reader)
			}
			bin := path.Base(c.Command[0])
			if !slices.Contains(installed, bin) {
				t.Errorf("%s: command %s is not a binary the Dockerfile installs (%v)", where, c.Command[0], installed)
				continue
			}
			args := append(slices.Clone(c.Command[1:]), c.Args...)
			var sub []string
			for len(args) > 0 && !strings.HasPrefix(args[0], "-") && !strings.Contains(args[0], "/") {
				sub, args = append(sub, args[0]), args[1:]
			}
			key := strings.Join(append([]string{bin}, sub...), " ")
			if help[key] == nil {
				help[key] = helpFlags(t, filepath.Join(bins, bin), sub)
			}
			for _, a := range args {
				if !strings.HasPrefix(a, "-") {
					continue // a positional argument, like the scenario
				}
				name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if !strings.HasPrefix(a, "--") || !hasValue {
					t.Errorf("%s: write %q as --flag=value, so a value is never mistaken for an argument", where, a)
				}
				if !help[key][name] {
					t.Errorf("%s: flag --%s is not in `%s --help`", where, name, key)
				}
			}
		}
	}

	// The Secret holds files `coordinator certs init` writes.
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(bins, "coordinator"), "certs", "init", "--dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("coordinator certs init --dir %s: %v\n%s", dir, err, out)
	}
	for name, files := range scriptSecrets(t) {
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("Secret %s holds %s, which `coordinator certs init` does not write: %v", name, f, err)
			}
		}
	}
}

// TestFleetWiring checks discovery, ports and limits between the agents,
// their Services and the coordinator Job.
func TestFleetWiring(t *testing.T) { forEachRendering(t, testFleetWiring) }

func testFleetWiring(t *testing.T, m *manifests) {
	agents := m.component(t, "StatefulSet", "agent")
	job := m.component(t, "Job", "coordinator")
	ag, co := agents.spec.Containers[0], job.spec.Containers[0]

	// The agents' own headless Service, which governs the StatefulSet.
	if agents.w.Spec.ServiceName != "surge-agents" {
		t.Errorf("StatefulSet %s: serviceName %q, want surge-agents", agents.obj.Metadata.Name, agents.w.Spec.ServiceName)
	}
	agentPorts := checkServiceFronts(t, m, "surge-agents", agents)

	gossip := port(t, flagValue(t, ag, "gossip-listen"))
	grpcPort := port(t, flagValue(t, ag, "grpc-listen"))
	for _, l := range []string{"gossip-listen", "grpc-listen"} {
		if v := flagValue(t, ag, l); !strings.HasPrefix(v, "$(POD_IP):") {
			t.Errorf("agent --%s=%s: must listen on $(POD_IP) (an ip:port; the bound address is the advertised one)", l, v)
		}
	}
	for _, want := range []string{fmt.Sprintf("TCP/%d", gossip), fmt.Sprintf("UDP/%d", gossip), fmt.Sprintf("TCP/%d", grpcPort)} {
		proto, n, _ := strings.Cut(want, "/")
		num, _ := strconv.Atoi(n)
		if containerPort(ag, num, proto) == "" {
			t.Errorf("agent container: no containerPort %s for its listen flags", want)
		}
		if !slices.Contains(agentPorts, want) {
			t.Errorf("Service surge-agents: no port %s (has %v)", want, agentPorts)
		}
	}

	// Agents join the coordinator's headless Service, whose port is the
	// coordinator's --gossip-listen.
	coGossip := flagValue(t, co, "gossip-listen")
	if !strings.HasPrefix(coGossip, "$(POD_IP):") {
		t.Errorf("coordinator --gossip-listen=%s: must listen on $(POD_IP)", coGossip)
	}
	coPort := port(t, coGossip)
	joins := flagValues(ag.Args, "join")
	if len(joins) == 0 {
		t.Fatal("agents have no --join")
	}
	for _, j := range joins {
		for seed := range strings.SplitSeq(j, ",") {
			host, _, err := net.SplitHostPort(seed)
			if err != nil {
				t.Errorf("agent --join seed %q: %v", seed, err)
				continue
			}
			labels := strings.Split(host, ".")
			if len(labels) < 2 || labels[1] != namespace {
				t.Errorf("agent --join seed %q: want SERVICE.%s.svc[.cluster.local]:PORT", seed, namespace)
				continue
			}
			svcPorts := checkServiceFronts(t, m, labels[0], job)
			for _, proto := range []string{"TCP", "UDP"} {
				want := fmt.Sprintf("%s/%d", proto, port(t, seed))
				if !slices.Contains(svcPorts, want) {
					t.Errorf("Service %s: no port %s for the agents' --join %s", labels[0], want, seed)
				}
				if port(t, seed) != coPort {
					t.Errorf("agent --join %s: port differs from the coordinator's --gossip-listen %s", seed, coGossip)
				}
				if containerPort(co, coPort, proto) == "" {
					t.Errorf("coordinator container: no containerPort %s/%d", proto, coPort)
				}
			}
		}
	}

	// The Job waits for exactly the fleet, once, and is bounded.
	if r, expect := agents.w.Spec.Replicas, expand(t, co, flagValue(t, co, "expect")); r == nil || expect != strconv.Itoa(*r) {
		t.Errorf("coordinator --expect=%s (%s) differs from the StatefulSet's replicas", flagValue(t, co, "expect"), expect)
	}
	if job.spec.RestartPolicy != "Never" || job.w.Spec.BackoffLimit == nil || *job.w.Spec.BackoffLimit != 0 {
		t.Error("Job: want restartPolicy Never and backoffLimit 0 (a load test is never re-run by itself)")
	}
	if job.w.Spec.ActiveDeadlineSeconds == nil {
		t.Error("Job: no activeDeadlineSeconds")
	}

	// Both sides of the control plane are secured, with the same CA and key.
	for _, f := range []string{"tls-ca", "tls-cert", "tls-key", "gossip-key-file"} {
		a, c := flagValue(t, ag, f), flagValue(t, co, f)
		if (f == "tls-ca" || f == "gossip-key-file") && path.Base(a) != path.Base(c) {
			t.Errorf("--%s: agents use %s, the coordinator %s", f, a, c)
		}
	}
	if path.Base(flagValue(t, ag, "tls-cert")) != "agent.crt" || path.Base(flagValue(t, co, "tls-cert")) != "coordinator.crt" {
		t.Error("agents must present agent.crt and the coordinator coordinator.crt (the role is in the certificate)")
	}
	// --insecure-allow-remote only ever opens the plaintext metrics
	// listener (checkMetrics): the control plane above keeps mTLS.
	metricsRemote := checkMetrics(t, m, job)
	for _, c := range []container{ag, co} {
		for _, a := range c.Args {
			if strings.HasPrefix(a, "--insecure") && (a != "--insecure-allow-remote=true" || c.Name != co.Name || !metricsRemote) {
				t.Errorf("container %s: %s: the control plane off loopback must use mTLS", c.Name, a)
			}
		}
	}

	// Agents prefer distinct nodes.
	spread := false
	for _, pr := range agents.spec.Affinity.PodAntiAffinity.Preferred {
		if pr.PodAffinityTerm.TopologyKey == "kubernetes.io/hostname" && pr.PodAffinityTerm.LabelSelector.selects(agents.labels) {
			spread = true
		}
	}
	if !spread {
		t.Error("StatefulSet: want a preferred podAntiAffinity on kubernetes.io/hostname selecting the agents")
	}
}

// TestScenario checks the ConfigMap's scenario with `coordinator validate`
// and that the agents' --allow-target lets them reach its targets.
func TestScenario(t *testing.T) { forEachRendering(t, testScenario) }

func testScenario(t *testing.T, m *manifests) {
	job := m.component(t, "Job", "coordinator")
	co := job.spec.Containers[0]
	agents := m.component(t, "StatefulSet", "agent")
	scenPath := ""
	for _, a := range co.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			scenPath = a
			break
		}
	}
	if co.Args[0] != "run" || scenPath == "" {
		t.Fatalf("coordinator args %v: want run SCENARIO ...", co.Args)
	}
	var cm *object
	for _, v := range job.spec.Volumes {
		for _, vm := range co.VolumeMounts {
			if vm.Name == v.Name && v.ConfigMap != nil && path.Dir(scenPath) == vm.MountPath {
				cm = m.find("ConfigMap", v.ConfigMap.Name)
			}
		}
	}
	if cm == nil || cm.Data[path.Base(scenPath)] == "" {
		t.Fatalf("no ConfigMap mounted at %s with the key %s", path.Dir(scenPath), path.Base(scenPath))
	}
	src := cm.Data[path.Base(scenPath)]
	file := filepath.Join(t.TempDir(), "scenario.yaml")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, filepath.Join(binaries(t), "coordinator"), "validate", file).CombinedOutput(); err != nil {
		t.Fatalf("coordinator validate (ConfigMap %s): %v\n%s", cm.Metadata.Name, err, out)
	}

	sc, err := scenario.Parse(file, []byte(src), scenario.Options{})
	if err != nil {
		t.Fatal(err)
	}
	allow := flagValues(agents.spec.Containers[0].Args, "allow-target")
	var hosts []string
	for _, st := range sc.Stages {
		if st.URL != "" {
			hosts = append(hosts, hostOf(t, st.URL))
		}
	}
	for _, r := range sc.Requests {
		if r.URL != "" && !strings.Contains(r.URL, "{{") {
			hosts = append(hosts, hostOf(t, r.URL))
		}
	}
	for _, h := range hosts {
		if !allowed(t, allow, h) {
			t.Errorf("scenario target %s is not in the agents' --allow-target %v", h, allow)
		}
	}
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Hostname()
}

// allowed is the allowlist's rule, restated: loopback always; an IP in a
// CIDR (a bare IP is a /32 or /128); a name equal to a host pattern or, for
// "*.example.com", a subdomain of it.
func allowed(t *testing.T, specs []string, host string) bool {
	t.Helper()
	ip, ipErr := netip.ParseAddr(host)
	if ipErr == nil && ip.IsLoopback() || strings.EqualFold(host, "localhost") {
		return true
	}
	for _, s := range specs {
		if p, err := netip.ParsePrefix(s); err == nil {
			if ipErr == nil && p.Contains(ip) {
				return true
			}
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			if ipErr == nil && a == ip {
				return true
			}
			continue
		}
		s = strings.ToLower(s)
		h := strings.ToLower(host)
		if suffix, ok := strings.CutPrefix(s, "*."); ok {
			if strings.HasSuffix(h, "."+suffix) {
				return true
			}
		} else if h == s {
			return true
		}
	}
	return false
}

// dockerfile is the instructions of deploy/Dockerfile, continuation lines
// joined, grouped by stage.
type dockerfile struct {
	stages []dockerStage
	args   map[string]string // global ARG defaults
}

type dockerStage struct {
	from, name string
	instrs     [][2]string // {INSTRUCTION, rest}
}

func parseDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := &dockerfile{args: map[string]string{}}
	var cur strings.Builder
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || (l == "" && cur.Len() == 0) {
			continue
		}
		if rest, ok := strings.CutSuffix(l, `\`); ok {
			cur.WriteString(rest + " ")
			continue
		}
		cur.WriteString(l)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		instr, rest, _ := strings.Cut(l, " ")
		instr = strings.ToUpper(instr)
		rest = strings.TrimSpace(rest)
		switch {
		case instr == "FROM":
			fields := strings.Fields(rest)
			var st dockerStage
			for i := 0; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					st.name = fields[i+1]
					i++
				default:
					st.from = fields[i]
				}
			}
			d.stages = append(d.stages, st)
		case len(d.stages) == 0:
			if instr == "ARG" {
				k, v, _ := strings.Cut(rest, "=")
				d.args[k] = v
			}
		default:
			s := &d.stages[len(d.stages)-1]
			s.instrs = append(s.instrs, [2]string{instr, rest})
		}
	}
	return d
}

// expand substitutes the global ARGs' defaults in s, as often as they
// refer to each other.
func (d *dockerfile) expand(s string) string {
	for range 8 {
		next := os.Expand(s, func(k string) string { return d.args[k] })
		if next == s {
			break
		}
		s = next
	}
	return s
}

// imageRef is REGISTRY/PATH[:TAG][@sha256:DIGEST] with a registry host
// (it has a dot or a port, or is localhost).
var imageRef = regexp.MustCompile(`^([a-z0-9.-]+\.[a-z]+|[a-z0-9.-]+:\d+|localhost)(/[a-z0-9._-]+)+(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$`)

// fullyQualified reports whether ref names its registry and a tag or
// digest.
func fullyQualified(ref string) bool {
	m := imageRef.FindStringSubmatch(ref)
	return m != nil && (m[3] != "" || m[4] != "")
}

// dockerfileBinaries is the names of the binaries the final stage copies
// into /usr/local/bin.
func dockerfileBinaries(t *testing.T, d *dockerfile) []string {
	t.Helper()
	final := d.stages[len(d.stages)-1]
	var bins []string
	for _, in := range final.instrs {
		if in[0] != "COPY" || !strings.HasPrefix(in[1], "--from=") {
			continue
		}
		f := strings.Fields(in[1])
		if f[len(f)-1] != "/usr/local/bin/" {
			continue
		}
		for _, src := range f[1 : len(f)-1] {
			bins = append(bins, path.Base(src))
		}
	}
	return bins
}

// TestDockerfile checks statically that the image builds every command
// from ./cmd/... statically with the module's Go version, copies every
// package they need, and runs them as a non-root user.
func TestDockerfile(t *testing.T) {
	d := parseDockerfile(t)
	if len(d.stages) < 2 {
		t.Fatalf("want a multi-stage build, have %d stage(s)", len(d.stages))
	}
	build, final := d.stages[0], d.stages[len(d.stages)-1]

	// The builder's Go is the module's.
	gomod, err := os.ReadFile(filepath.Join(moduleRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	from := d.expand(build.from)
	if goLine == nil || !strings.HasPrefix(from, "docker.io/library/golang:"+string(goLine[1])) {
		t.Errorf("build stage FROM %s (%s): want docker.io/library/golang:%s, the go.mod version", build.from, from, goLine[1])
	}
	// Every base image by fully qualified name (buildah and podman refuse
	// short names), and a digest, if any, well formed.
	for _, st := range d.stages {
		ref := d.expand(st.from)
		if ref == "scratch" {
			continue
		}
		if !fullyQualified(ref) {
			t.Errorf("FROM %s (%s): want REGISTRY/REPOSITORY:TAG, like docker.io/library/golang:1.26", st.from, ref)
		}
	}

	// The build stage copies go.mod, go.sum and every in-module package
	// the commands import.
	var copied []string
	var goBuild string
	for _, in := range build.instrs {
		switch in[0] {
		case "COPY":
			f := strings.Fields(in[1])
			for _, src := range f[:len(f)-1] {
				if !strings.HasPrefix(src, "--") {
					copied = append(copied, strings.TrimSuffix(src, "/"))
				}
			}
		case "RUN":
			if strings.Contains(in[1], "go build") {
				goBuild = in[1]
			}
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if !slices.Contains(copied, f) {
			t.Errorf("build stage does not COPY %s", f)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := exec.LookPath("go"); err == nil {
		cmd := exec.CommandContext(ctx, "go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.ImportPath}}{{end}}{{end}}", "./cmd/...")
		cmd.Dir = moduleRoot(t)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps ./cmd/...: %v", err)
		}
		for pkg := range strings.FieldsSeq(string(out)) {
			rel := strings.TrimPrefix(strings.TrimPrefix(pkg, "github.com/surgeload/surge"), "/")
			// The module root's package is copied by a COPY of its *.go files.
			if !slices.ContainsFunc(copied, func(c string) bool { return rel == c || strings.HasPrefix(rel, c+"/") || rel == "" && c == "*.go" }) {
				t.Errorf("package %s is not under any COPY of the build stage (%v): the image would not build", pkg, copied)
			}
		}
	}

	// One static go build of all three commands.
	if goBuild == "" {
		t.Fatal("build stage has no RUN ... go build")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/coordinator", "./cmd/agent", "./cmd/target", "-o /out/"} {
		if !strings.Contains(goBuild, want) {
			t.Errorf("go build line %q: missing %q", goBuild, want)
		}
	}
	entries, err := os.ReadDir(filepath.Join(moduleRoot(t), "cmd"))
	if err != nil {
		t.Fatal(err)
	}
	bins := dockerfileBinaries(t, d)
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(bins, e.Name()) {
			t.Errorf("cmd/%s is not copied into /usr/local/bin of the final image (%v)", e.Name(), bins)
		}
	}

	// A minimal final image, non-root, with an exec-form entrypoint that
	// is one of the binaries.
	if f := d.expand(final.from); !strings.Contains(f, "distroless/static") && f != "scratch" {
		t.Errorf("final stage FROM %s (%s): want distroless/static or scratch", final.from, f)
	}
	var user, entry string
	for _, in := range final.instrs {
		switch in[0] {
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entry = in[1]
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("final stage USER %q: want a numeric non-root uid (runAsNonRoot can check only a number)", user)
	}
	var ep []string
	if err := yaml.Unmarshal([]byte(entry), &ep); err != nil || len(ep) == 0 ||
		!strings.HasPrefix(ep[0], "/usr/local/bin/") || !slices.Contains(bins, path.Base(ep[0])) {
		t.Errorf("ENTRYPOINT %s: want the exec form [\"/usr/local/bin/BINARY\"] of a copied binary", entry)
	}

	// Every Surge container in every rendering runs this image.
	images := map[string]bool{}
	for _, r := range renderings(t) {
		for _, p := range r.m.pods(t) {
			for _, c := range p.spec.Containers {
				if len(c.Command) > 0 && strings.HasPrefix(c.Command[0], "/usr/local/bin/") {
					images[c.Image] = true
				}
			}
		}
	}
	if len(images) != 1 {
		t.Errorf("Surge containers run %d different images %v: want one", len(images), slices.Sorted(mapKeys(images)))
	}
}

// TestSecretsScript runs shellcheck on scripts/k8s-*.sh when it is
// installed.
func TestSecretsScript(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		t.Skip("shellcheck is not installed")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for _, script := range []string{"k8s-secrets.sh", "k8s-schemas.sh"} {
		out, err := exec.CommandContext(ctx, sc, filepath.Join(moduleRoot(t), "scripts", script)).CombinedOutput()
		if err != nil {
			t.Errorf("shellcheck scripts/%s: %v\n%s", script, err, bytes.TrimSpace(out))
		}
	}
}
