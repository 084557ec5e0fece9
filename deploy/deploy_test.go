package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// chartValues are the values a render used, as far as the invariant checks need them.
type chartValues struct {
	namespace      string
	driver         string
	kubeletRootDir string
	windows        bool
	keeper         bool
	// cloudEnvDir and cloudEnvDirWindows are the host directories of custom cloud environment
	// files on Linux and Windows nodes ("" = none).
	cloudEnvDir, cloudEnvDirWindows string
}

// summary is what a render must contain, compared whole with cmp.Diff.
type summary struct {
	Objects    []string
	Driver     storagev1.CSIDriverSpec
	NodeArgs   map[string][]string // DaemonSet → args of its secretfs container
	Containers map[string][]string // DaemonSet → its containers
	Grants     []string
}

// summarize extracts a summary from a render.
func summarize(t *testing.T, r *rendered) summary {
	t.Helper()
	s := summary{Objects: r.objects, NodeArgs: map[string][]string{}, Containers: map[string][]string{}, Grants: r.grants(t)}
	if r.driver != nil {
		s.Driver = r.driver.Spec
	}
	for name, ds := range r.daemonSets {
		spec := &ds.Spec.Template.Spec
		s.Containers[name] = containerNames(spec)
		if c := container(spec, "secretfs"); c != nil {
			s.NodeArgs[name] = c.Args
		}
	}
	return s
}

// wantDriver is the CSIDriver spec every render must have: what kubelet needs to pass pod info and
// workload identity tokens and to republish.
var wantDriver = storagev1.CSIDriverSpec{
	AttachRequired:       ptr(false),
	PodInfoOnMount:       ptr(true),
	VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecycleEphemeral},
	RequiresRepublish:    ptr(true),
	TokenRequests:        []storagev1.TokenRequest{{Audience: "api://AzureADTokenExchange"}},
	// helm template assumes the Kubernetes version of its client-go (1.37), where the field exists.
	ServiceAccountTokenInSecrets: ptr(true),
}

// baseGrants are the driver's permissions without Secret sync.
var baseGrants = []string{
	"core/events:create", "core/events:patch", "core/pods:get",
	"events.k8s.io/events:create", "events.k8s.io/events:patch",
	"secrets-store.csi.x-k8s.io/secretproviderclasses:get",
	"secrets-store.csi.x-k8s.io/secretproviderclasses:list",
	"secrets-store.csi.x-k8s.io/secretproviderclasses:watch",
	"secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses:create",
	"secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses:delete",
	"secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses:get",
	"secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses:patch",
	"secrets-store.csi.x-k8s.io/secretproviderclasspodstatuses:update",
}

// secretGrants are added by syncSecret.enabled.
var secretGrants = []string{
	"core/secrets:create", "core/secrets:delete", "core/secrets:get", "core/secrets:list",
	"core/secrets:patch", "core/secrets:update", "core/secrets:watch",
}

// sorted returns the concatenation of lists, sorted.
func sorted(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.Strings(out)
	return out
}

var crdObjects = []string{
	"CustomResourceDefinition /secretproviderclasses.secrets-store.csi.x-k8s.io",
	"CustomResourceDefinition /secretproviderclasspodstatuses.secrets-store.csi.x-k8s.io",
}

// renderCases are the value sets the chart is rendered with.
var renderCases = []struct {
	name   string
	set    []string
	values chartValues
	want   summary
}{
	{
		name:   "defaults",
		values: chartValues{namespace: "kube-system", driver: "secretfs.csi.io", kubeletRootDir: "/var/lib/kubelet"},
		want: summary{
			Objects: sorted(crdObjects, []string{
				"CSIDriver /secretfs.csi.io",
				"ClusterRole /secretfs",
				"ClusterRoleBinding /secretfs",
				"DaemonSet kube-system/secretfs",
				"ServiceAccount kube-system/secretfs",
			}),
			Driver: wantDriver,
			NodeArgs: map[string][]string{"secretfs": {
				"node", "--endpoint=unix:///csi/csi.sock", "--node-id=$(NODE_NAME)",
				"--driver-name=secretfs.csi.io", "--ttl=2m", "--backend=auto", "--metrics-addr=:8095",
				"--health-addr=:9809", "--log-format=text", "--state-file=/var/run/secretfs/state.json",
			}},
			Containers: map[string][]string{"secretfs": {"node-driver-registrar", "secretfs", "liveness-probe"}},
			Grants:     sorted(baseGrants),
		},
	},
	{
		name: "windows, sync, other driver, json logs, keeper",
		set: []string{
			"windows.enabled=true", "syncSecret.enabled=true", "driverName=kv.example.com",
			"logFormat=json", "keeper.enabled=true", "linux.kubeletRootDir=/data/kubelet",
			"ttl=30s", "backend=fuse",
		},
		values: chartValues{namespace: "secretfs-system", driver: "kv.example.com", kubeletRootDir: "/data/kubelet", windows: true, keeper: true},
		want: summary{
			Objects: sorted(crdObjects, []string{
				"CSIDriver /kv.example.com",
				"ClusterRole /secretfs",
				"ClusterRole /secretfs-syncsecret",
				"ClusterRoleBinding /secretfs",
				"ClusterRoleBinding /secretfs-syncsecret",
				"DaemonSet secretfs-system/secretfs",
				"DaemonSet secretfs-system/secretfs-windows",
				"ServiceAccount secretfs-system/secretfs",
			}),
			Driver: wantDriver,
			NodeArgs: map[string][]string{
				"secretfs": {
					"node", "--endpoint=unix:///csi/csi-$(POD_NAME).sock", "--node-id=$(NODE_NAME)",
					"--driver-name=kv.example.com", "--ttl=30s", "--backend=fuse", "--metrics-addr=:8095",
					"--health-addr=:9809", "--log-format=json", "--state-file=/var/run/secretfs/state.json",
					"--sync-secrets", "--keeper-socket=/var/run/secretfs/keeper.sock",
				},
				"secretfs-windows": {
					"node", `--endpoint=unix://C:\csi\csi.sock`, "--node-id=$(NODE_NAME)",
					"--driver-name=kv.example.com", "--ttl=30s", "--backend=files", "--metrics-addr=:8095",
					"--health-addr=:9809", "--log-format=json", `--state-file=C:\var\run\secretfs\state.json`,
					"--sync-secrets",
				},
			},
			Containers: map[string][]string{
				"secretfs":         {"node-driver-registrar", "secretfs", "keeper", "liveness-probe"},
				"secretfs-windows": {"node-driver-registrar", "secretfs", "liveness-probe"},
			},
			Grants: sorted(baseGrants, secretGrants),
		},
	},
	// A custom cloud: the environment file's host directory, on Linux and Windows nodes.
	{
		name: "custom cloud environment directory",
		set:  []string{"linux.cloudEnvDir=/etc/kubernetes", "windows.enabled=true", `windows.cloudEnvDir=C:\\k`},
		values: chartValues{namespace: "kube-system", driver: "secretfs.csi.io", kubeletRootDir: "/var/lib/kubelet", windows: true,
			cloudEnvDir: "/etc/kubernetes", cloudEnvDirWindows: `C:\k`},
		want: summary{
			Objects: sorted(crdObjects, []string{
				"CSIDriver /secretfs.csi.io",
				"ClusterRole /secretfs",
				"ClusterRoleBinding /secretfs",
				"DaemonSet kube-system/secretfs",
				"DaemonSet kube-system/secretfs-windows",
				"ServiceAccount kube-system/secretfs",
			}),
			Driver: wantDriver,
			NodeArgs: map[string][]string{
				"secretfs": {
					"node", "--endpoint=unix:///csi/csi.sock", "--node-id=$(NODE_NAME)",
					"--driver-name=secretfs.csi.io", "--ttl=2m", "--backend=auto", "--metrics-addr=:8095",
					"--health-addr=:9809", "--log-format=text", "--state-file=/var/run/secretfs/state.json",
					"--cloud-env-dir=/etc/kubernetes",
				},
				"secretfs-windows": {
					"node", `--endpoint=unix://C:\csi\csi.sock`, "--node-id=$(NODE_NAME)",
					"--driver-name=secretfs.csi.io", "--ttl=2m", "--backend=files", "--metrics-addr=:8095",
					"--health-addr=:9809", "--log-format=text", `--state-file=C:\var\run\secretfs\state.json`,
					`--cloud-env-dir=C:\k`,
				},
			},
			Containers: map[string][]string{
				"secretfs":         {"node-driver-registrar", "secretfs", "liveness-probe"},
				"secretfs-windows": {"node-driver-registrar", "secretfs", "liveness-probe"},
			},
			Grants: sorted(baseGrants),
		},
	},
}

// setArgs turns --set values into helm arguments.
func setArgs(set []string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

// renderCase renders one case and parses it.
func renderCase(t *testing.T, namespace string, set []string) *rendered {
	t.Helper()
	out, err := helmTemplate(t, namespace, setArgs(set)...)
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	return parseRender(t, out)
}

func TestRender(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			r := renderCase(t, tc.values.namespace, tc.set)
			if diff := cmp.Diff(tc.want, summarize(t, r)); diff != "" {
				t.Errorf("render (-want +got):\n%s", diff)
			}
			if r.driver == nil || r.driver.Name != tc.values.driver {
				t.Errorf("CSIDriver %v, want one named %q", r.driver, tc.values.driver)
			}
			checkLinux(t, r.daemonSets["secretfs"], tc.values)
			if tc.values.windows {
				checkWindows(t, r.daemonSets["secretfs-windows"], tc.values)
				checkDisjoint(t, r.daemonSets["secretfs"], r.daemonSets["secretfs-windows"])
			}
			for _, a := range r.accounts {
				if a.Namespace != tc.values.namespace {
					t.Errorf("ServiceAccount in namespace %q, want %q", a.Namespace, tc.values.namespace)
				}
			}
		})
	}
}

// checkLinux checks the Linux DaemonSet's invariants: privileged FUSE mounts that propagate to the
// host, kubelet registration, probes, ports, resources and the rolling update.
func checkLinux(t *testing.T, ds *appsv1.DaemonSet, v chartValues) {
	t.Helper()
	if ds == nil {
		t.Fatal("no Linux DaemonSet")
	}
	spec := &ds.Spec.Template.Spec
	checkScheduling(t, ds, "linux")
	pluginDir := v.kubeletRootDir + "/plugins/" + v.driver + "/"
	wantPaths := map[string]string{
		"plugin-dir":       pluginDir,
		"registration-dir": v.kubeletRootDir + "/plugins_registry/",
		"mountpoint-dir":   v.kubeletRootDir + "/pods",
		"state-dir":        "/var/run/secretfs",
	}
	if v.cloudEnvDir != "" {
		wantPaths["cloud-env-dir"] = v.cloudEnvDir
	}
	if diff := cmp.Diff(wantPaths, hostPaths(spec)); diff != "" {
		t.Errorf("hostPath volumes (-want +got):\n%s", diff)
	}
	node := container(spec, "secretfs")
	if node == nil {
		t.Fatal("no secretfs container")
	}
	if sc := node.SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged {
		t.Errorf("secretfs container is not privileged: %+v", sc)
	}
	wantMounts := []corev1.VolumeMount{
		{Name: "plugin-dir", MountPath: "/csi"},
		{Name: "mountpoint-dir", MountPath: v.kubeletRootDir + "/pods", MountPropagation: ptr(corev1.MountPropagationBidirectional)},
		{Name: "state-dir", MountPath: "/var/run/secretfs"},
	}
	if v.cloudEnvDir != "" {
		// Read-only at the host path, so a cloudEnvFileName names the same file in and out.
		wantMounts = append(wantMounts, corev1.VolumeMount{Name: "cloud-env-dir", MountPath: v.cloudEnvDir, ReadOnly: true})
	}
	if diff := cmp.Diff(wantMounts, node.VolumeMounts); diff != "" {
		t.Errorf("secretfs volume mounts (-want +got):\n%s", diff)
	}
	checkProbesAndPorts(t, spec, node)
	wantResources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("200Mi")},
	}
	if diff := cmp.Diff(wantResources.String(), node.Resources.String()); diff != "" {
		t.Errorf("secretfs resources (-want +got):\n%s", diff)
	}
	sock := "csi.sock"
	if v.keeper {
		sock = "csi-$(POD_NAME).sock" // old and new pod side by side: one socket each
	}
	reg := container(spec, "node-driver-registrar")
	if reg == nil || !contains(reg.Args, "--kubelet-registration-path="+pluginDir+sock) || !contains(reg.Args, "--csi-address=/csi/"+sock) {
		t.Errorf("node-driver-registrar does not register %s%s: %+v", pluginDir, sock, reg)
	}
	if lp := container(spec, "liveness-probe"); lp == nil || !contains(lp.Args, "--csi-address=/csi/"+sock) {
		t.Errorf("liveness-probe does not probe /csi/%s: %+v", sock, lp)
	}
	if k := container(spec, "keeper"); (k != nil) != v.keeper {
		t.Errorf("keeper container present = %v, want %v", k != nil, v.keeper)
	}
	if v.keeper {
		checkKeeper(t, spec)
	}
	// Surge (old and new pod side by side) only with the keeper, which needs it for the handover;
	// otherwise one pod at a time, so two registrars never share the registration socket.
	surge, unavailable := int32(0), int32(1)
	if v.keeper {
		surge, unavailable = 1, 0
	}
	checkStrategy(t, ds, surge, unavailable)
}

// checkKeeper checks what a surge update with the keeper needs: the keeper's socket on the state-dir
// hostPath (the next pod's keeper takes over through it), the node plugin mounting through it, one
// PID namespace for the watchdog, and per-pod names wherever the two pods would otherwise share a
// socket (the registrar unlinks its own on SIGTERM).
func checkKeeper(t *testing.T, spec *corev1.PodSpec) {
	t.Helper()
	k := container(spec, "keeper")
	wantArgs := []string{"keeper", "--socket=/var/run/secretfs/keeper.sock", "--hung-after=30s", "--handover-wait=20s", "--log-format=json"}
	if diff := cmp.Diff(wantArgs, k.Args); diff != "" {
		t.Errorf("keeper args (-want +got):\n%s", diff)
	}
	if sc := k.SecurityContext; sc == nil || sc.Privileged == nil || !*sc.Privileged {
		t.Errorf("keeper container is not privileged (it mounts FUSE): %+v", sc)
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range k.VolumeMounts {
		mounts[m.Name] = m
	}
	if m := mounts["mountpoint-dir"]; m.MountPropagation == nil || *m.MountPropagation != corev1.MountPropagationBidirectional {
		t.Errorf("keeper mounts the pods dir without Bidirectional propagation: %+v", m)
	}
	if m := mounts["state-dir"]; m.MountPath != "/var/run/secretfs" {
		t.Errorf("keeper state-dir mount %+v, want it at /var/run/secretfs (its socket)", m)
	}
	if p := spec.ShareProcessNamespace; p == nil || !*p {
		t.Error("shareProcessNamespace is not set: the keeper's watchdog cannot kill a hung node plugin")
	}
	for _, name := range []string{"node-driver-registrar", "secretfs", "liveness-probe"} {
		if !hasPodNameEnv(container(spec, name)) {
			t.Errorf("%s has no POD_NAME from metadata.name: its $(POD_NAME) socket name would not expand", name)
		}
	}
	reg := container(spec, "node-driver-registrar")
	for _, m := range reg.VolumeMounts {
		if m.Name == "registration-dir" && m.SubPathExpr != "$(POD_NAME)" {
			t.Errorf("registration-dir mount %+v, want subPathExpr $(POD_NAME): one <driver>-reg.sock per pod", m)
		}
	}
}

func hasPodNameEnv(c *corev1.Container) bool {
	if c == nil {
		return false
	}
	for _, e := range c.Env {
		if e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name" {
			return true
		}
	}
	return false
}

// checkStrategy checks a DaemonSet's rolling update limits.
func checkStrategy(t *testing.T, ds *appsv1.DaemonSet, surge, unavailable int32) {
	t.Helper()
	want := appsv1.DaemonSetUpdateStrategy{
		Type: appsv1.RollingUpdateDaemonSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateDaemonSet{
			MaxSurge: ptr(intstr.FromInt32(surge)), MaxUnavailable: ptr(intstr.FromInt32(unavailable)),
		},
	}
	if diff := cmp.Diff(want, ds.Spec.UpdateStrategy); diff != "" {
		t.Errorf("%s: update strategy (-want +got):\n%s", ds.Name, diff)
	}
}

// checkProbesAndPorts checks that kubelet's liveness probe reaches the livenessprobe sidecar on the
// health port, and that metrics are exposed on upstream's port.
func checkProbesAndPorts(t *testing.T, spec *corev1.PodSpec, node *corev1.Container) {
	t.Helper()
	ports := map[string]int32{}
	for _, p := range node.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if diff := cmp.Diff(map[string]int32{"healthz": 9808, "node-health": 9809, "metrics": 8095}, ports); diff != "" {
		t.Errorf("secretfs ports (-want +got):\n%s", diff)
	}
	lp := node.LivenessProbe
	if lp == nil || lp.HTTPGet == nil || lp.HTTPGet.Path != "/healthz" || lp.HTTPGet.Port.String() != "healthz" {
		t.Errorf("secretfs liveness probe %+v, want GET /healthz on port healthz", lp)
	}
	sidecar := container(spec, "liveness-probe")
	if sidecar == nil || !contains(sidecar.Args, "--http-endpoint=:9808") {
		t.Errorf("liveness-probe sidecar does not serve :9808: %+v", sidecar)
	}
	for _, c := range []*corev1.Container{sidecar, container(spec, "node-driver-registrar")} {
		if c != nil && !hasMount(c, "plugin-dir") {
			t.Errorf("container %s does not mount the CSI socket dir", c.Name)
		}
	}
}

// checkWindows checks the Windows DaemonSet: files backend, Windows paths, nothing privileged.
func checkWindows(t *testing.T, ds *appsv1.DaemonSet, v chartValues) {
	t.Helper()
	if ds == nil {
		t.Fatal("no Windows DaemonSet")
	}
	spec := &ds.Spec.Template.Spec
	checkScheduling(t, ds, "windows")
	checkStrategy(t, ds, 0, 1)
	if spec.OS == nil || spec.OS.Name != corev1.Windows {
		t.Errorf("pod OS %+v, want windows", spec.OS)
	}
	root := `C:\var\lib\kubelet`
	wantPaths := map[string]string{
		"plugin-dir":       root + `\plugins\` + v.driver + `\`,
		"registration-dir": root + `\plugins_registry\`,
		"mountpoint-dir":   root + `\pods`,
		"state-dir":        `C:\var\run\secretfs`,
	}
	if v.cloudEnvDirWindows != "" {
		wantPaths["cloud-env-dir"] = v.cloudEnvDirWindows
		if node := container(spec, "secretfs"); node == nil ||
			!slices.Contains(node.VolumeMounts, corev1.VolumeMount{Name: "cloud-env-dir", MountPath: v.cloudEnvDirWindows, ReadOnly: true}) {
			t.Errorf("Windows secretfs container does not mount %s read-only at the same path", v.cloudEnvDirWindows)
		}
	}
	if diff := cmp.Diff(wantPaths, hostPaths(spec)); diff != "" {
		t.Errorf("hostPath volumes (-want +got):\n%s", diff)
	}
	for _, c := range spec.Containers {
		if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
			t.Errorf("Windows container %s is privileged", c.Name)
		}
		for _, m := range c.VolumeMounts {
			if m.MountPropagation != nil {
				t.Errorf("Windows container %s sets mount propagation on %s", c.Name, m.Name)
			}
		}
	}
	reg := container(spec, "node-driver-registrar")
	if want := `--kubelet-registration-path=` + root + `\plugins\` + v.driver + `\csi.sock`; reg == nil || !contains(reg.Args, want) {
		t.Errorf("node-driver-registrar args %v, want %s", reg.Args, want)
	}
}

// checkScheduling checks node selection, tolerations and priority of a DaemonSet for os.
func checkScheduling(t *testing.T, ds *appsv1.DaemonSet, os string) {
	t.Helper()
	spec := &ds.Spec.Template.Spec
	if got := spec.NodeSelector["kubernetes.io/os"]; got != os {
		t.Errorf("%s: nodeSelector kubernetes.io/os=%q, want %q", ds.Name, got, os)
	}
	if diff := cmp.Diff([]corev1.Toleration{{Operator: corev1.TolerationOpExists}}, spec.Tolerations); diff != "" {
		t.Errorf("%s: tolerations (-want +got):\n%s", ds.Name, diff)
	}
	if spec.PriorityClassName != "system-node-critical" {
		t.Errorf("%s: priorityClassName %q, want system-node-critical", ds.Name, spec.PriorityClassName)
	}
	if !selects(ds, ds.Spec.Template.Labels) {
		t.Errorf("%s: selector %v does not match its own pods %v", ds.Name, ds.Spec.Selector, ds.Spec.Template.Labels)
	}
}

// checkDisjoint checks that neither DaemonSet selects the other's pods.
func checkDisjoint(t *testing.T, a, b *appsv1.DaemonSet) {
	t.Helper()
	if a == nil || b == nil {
		return
	}
	if selects(a, b.Spec.Template.Labels) || selects(b, a.Spec.Template.Labels) {
		t.Errorf("DaemonSets %s and %s select each other's pods", a.Name, b.Name)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func hasMount(c *corev1.Container, volume string) bool {
	for _, m := range c.VolumeMounts {
		if m.Name == volume {
			return true
		}
	}
	return false
}

// TestRenderRejectsBadValues checks that values.schema.json stops a mistyped value before it
// reaches a cluster.
func TestRenderRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name, set, field string
	}{
		{"unknown backend", "backend=tmpfs", "backend"},
		{"unknown log format", "logFormat=xml", "logFormat"},
		{"driver name not a DNS name", "driverName=Secret_FS", "driverName"},
		{"ttl not a duration", "ttl=2", "ttl"},
		{"Linux path on Windows", "windows.kubeletRootDir=/var/lib/kubelet", "kubeletRootDir"},
		{"relative cloud env dir", "linux.cloudEnvDir=etc/kubernetes", "cloudEnvDir"},
		{"Linux cloud env dir on Windows", "windows.cloudEnvDir=/etc/kubernetes", "cloudEnvDir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, "kube-system", "--set", tc.set)
			if err == nil {
				t.Fatalf("helm template --set %s succeeded, want a schema error", tc.set)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error does not name %s: %v", tc.field, err)
			}
		})
	}
}

// TestManifestsUpToDate checks that deploy/manifests/secretfs.yaml is the chart rendered now with
// default values, by running the script that generates it.
func TestManifestsUpToDate(t *testing.T) {
	toolPath(t, "SECRETFS_HELM")
	cmd := exec.Command("./render.sh", "--stdout")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	fresh, err := cmd.Output()
	if err != nil {
		t.Fatalf("render.sh --stdout: %v\n%s", err, stderr.String())
	}
	committed, err := os.ReadFile("manifests/secretfs.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(committed), string(fresh)); diff != "" {
		t.Errorf("manifests/secretfs.yaml is stale; run `make manifests` (-committed +fresh):\n%s", diff)
	}
}

// TestChartCRDsAreCopies checks that the chart ships exactly the CRDs of deploy/crds, byte for byte.
func TestChartCRDsAreCopies(t *testing.T) {
	want := readDir(t, "crds")
	got := readDir(t, filepath.Join(chartDir, "crds"))
	if len(want) == 0 {
		t.Fatal("deploy/crds is empty")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("chart crds/ differ from deploy/crds; run `make manifests` (-deploy/crds +chart):\n%s", diff)
	}
}

// readDir returns the YAML files of dir by name.
func readDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = string(b)
	}
	return files
}

// TestLint runs `helm lint --strict` (chart metadata, templates, values schema) for every render case.
func TestLint(t *testing.T) {
	for _, tc := range renderCases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartDir, "--namespace", tc.values.namespace}, setArgs(tc.set)...)
			if out, err := helmCmd(t, args...).CombinedOutput(); err != nil {
				t.Errorf("helm lint: %v\n%s", err, out)
			}
		})
	}
}

// TestRenderForOldKubernetes checks that a cluster without CSIDriver.spec.serviceAccountTokenInSecrets
// (before 1.35) is not sent the field, which its API server would reject or drop.
func TestRenderForOldKubernetes(t *testing.T) {
	out, err := helmTemplate(t, "kube-system", "--kube-version", "1.34.0")
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	r := parseRender(t, out)
	want := wantDriver
	want.ServiceAccountTokenInSecrets = nil
	if diff := cmp.Diff(want, r.driver.Spec); diff != "" {
		t.Errorf("CSIDriver spec for Kubernetes 1.34 (-want +got):\n%s", diff)
	}
}
