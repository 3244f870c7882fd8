// Package deploy checks the deployment files of examples/deploy without a
// container engine: every YAML file parses (and, where Debian's python3-yaml
// is installed, parses to the same value with PyYAML), the compose file, the
// Prometheus configuration and the Kubernetes manifests agree with each other
// and with the binary's flags, and the Dockerfile's build command compiles a
// static binary.
package deploy

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/actorserve/actorserve/examples/internal/extest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	extest.Cleanup()
	os.Exit(code)
}

func dir(t *testing.T) string { return filepath.Join(extest.Root(t), "examples/deploy") }

func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir(t), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.HasSuffix(p, ".yml") || strings.HasSuffix(p, ".yaml")) {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 9 {
		t.Fatalf("found %d YAML files, want the compose file, prometheus.yml and the Kubernetes manifests", len(files))
	}
	return files
}

func load(t *testing.T, rel string) []any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := parseYAML(string(b))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return docs
}

// get walks a path of keys (string) and indexes (int) through a parsed document.
func get(t *testing.T, v any, path ...any) any {
	t.Helper()
	for i, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%v: not a mapping at %v", path, path[:i])
			}
			if v, ok = m[k]; !ok {
				t.Fatalf("%v: no key %q", path, k)
			}
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				t.Fatalf("%v: no item %d", path, k)
			}
			v = s[k]
		}
	}
	return v
}

func str(t *testing.T, v any, path ...any) string {
	t.Helper()
	s, ok := get(t, v, path...).(string)
	if !ok {
		t.Fatalf("%v: %v is not a string", path, get(t, v, path...))
	}
	return s
}

func num(t *testing.T, v any, path ...any) int64 {
	t.Helper()
	n, ok := get(t, v, path...).(int64)
	if !ok {
		t.Fatalf("%v: %v is not an integer", path, get(t, v, path...))
	}
	return n
}

func list(t *testing.T, v any, path ...any) []any {
	t.Helper()
	s, ok := get(t, v, path...).([]any)
	if !ok {
		t.Fatalf("%v: not a sequence", path)
	}
	return s
}

func TestYAMLParser(t *testing.T) {
	ok := []struct {
		src  string
		want any
	}{
		{"a: 1\nb: x\n", map[string]any{"a": int64(1), "b": "x"}},
		{"a:\n  - 1\n  - \"2\"\n", map[string]any{"a": []any{int64(1), "2"}}},
		{"a:\n- x: 1\n  y: [p, 'q r', 3]\n- z\n", map[string]any{"a": []any{map[string]any{"x": int64(1), "y": []any{"p", "q r", int64(3)}}, "z"}}},
		{"k: |\n  one\n    two\n\nnext: >-\n  a\n  b\n", map[string]any{"k": "one\n  two\n", "next": "a b"}},
		{"c:\n  - |\n    set -e\n    echo $$t\n", map[string]any{"c": []any{"set -e\necho $$t\n"}}},
		{"# c\nu: http://x:80/y # tail\nv: 'it''s'\nw: \"a\\\"b\"\nx: ~\ny: true\nz: 0.5\n", map[string]any{"u": "http://x:80/y", "v": "it's", "w": "a\"b", "x": nil, "y": true, "z": 0.5}},
		{"a: {b: 1, c: [d]}\n", map[string]any{"a": map[string]any{"b": int64(1), "c": []any{"d"}}}},
		{"a: 1\n---\nb: 2\n", nil}, // two documents, checked below
	}
	for _, c := range ok {
		docs, err := parseYAML(c.src)
		if err != nil {
			t.Errorf("%q: %v", c.src, err)
			continue
		}
		if c.want == nil {
			if len(docs) != 2 {
				t.Errorf("%q: %d documents, want 2", c.src, len(docs))
			}
			continue
		}
		if len(docs) != 1 || !reflect.DeepEqual(docs[0], c.want) {
			t.Errorf("%q: got %#v, want %#v", c.src, docs, c.want)
		}
	}
	bad := []string{
		"a: 1\na: 2\n",             // duplicate key
		"a:\n\tb: 1\n",             // tab
		"a: &x 1\nb: *x\n",         // anchor
		"a: yes\n",                 // 1.1 boolean
		"port: 1:30\n",             // base 60
		"mode: 0644\n",             // octal
		"a: b\n  c: d\n",           // bad indentation
		"a: \"open\n",              // unterminated
		"a:\n  - x\n   - y\n",      // misaligned item
		"a: [1, 2\n",               // unterminated flow
		"a: one\n  two\n",          // multi-line plain scalar
		"<<: {a: 1}\n",             // merge key
		"a:\n  - b\n  c: d\n",      // mapping after a sequence at the same level
		"text: see: here\n",        // ambiguous
		"when: 2024-01-02\n",       // timestamp
		"x: !!str 1\n",             // tag
		"ok: 1\n- item\n",          // item under a mapping
		"s: >\n  a\n    more\n  b", // more-indented folded line
	}
	for _, src := range bad {
		if docs, err := parseYAML(src); err == nil {
			t.Errorf("%q parsed to %#v, want an error", src, docs)
		}
	}
}

// TestYAMLFilesParse parses every YAML file, and compares the result with
// PyYAML's when Debian's python3-yaml is installed.
func TestYAMLFilesParse(t *testing.T) {
	files := yamlFiles(t)
	mine := map[string]any{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs, err := parseYAML(string(b))
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		mine[f] = normalise(t, docs)
	}
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import yaml").Run(); err != nil {
		t.Skipf("the files parse with the test's YAML reader; PyYAML is not installed to cross-check (apt-get install python3-yaml)")
	}
	script := `import json, sys, yaml
out = {}
for f in sys.argv[1:]:
    with open(f) as fh:
        out[f] = [d for d in yaml.safe_load_all(fh) if d is not None] or [None]
json.dump(out, sys.stdout)`
	out, err := exec.Command(py, append([]string{"-c", script}, files...)...).Output()
	if err != nil {
		t.Fatalf("PyYAML: %v", err)
	}
	var theirs map[string]any
	if err := json.Unmarshal(out, &theirs); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !reflect.DeepEqual(mine[f], theirs[f]) {
			a, _ := json.MarshalIndent(mine[f], "", " ")
			b, _ := json.MarshalIndent(theirs[f], "", " ")
			t.Errorf("%s: the test's reader and PyYAML disagree:\nours:   %s\nPyYAML: %s", f, a, b)
		}
	}
	t.Logf("%d files agree with PyYAML", len(files))
}

func normalise(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

var nodeFlags struct {
	once  bool
	flags map[string]bool
}

// flags returns the names of `actorserve node`'s flags.
func flags(t *testing.T) map[string]bool {
	t.Helper()
	if nodeFlags.once {
		return nodeFlags.flags
	}
	bin := extest.Build(t, "./cmd/actorserve")
	out, _ := exec.Command(bin, "node", "-h").CombinedOutput()
	m := map[string]bool{}
	for _, s := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1) {
		m[s[1]] = true
	}
	if len(m) < 20 || !m["http"] || !m["join"] {
		t.Fatalf("`actorserve node -h` listed %d flags:\n%s", len(m), out)
	}
	nodeFlags.once, nodeFlags.flags = true, m
	return m
}

// checkEnv fails for every ACTORSERVE_* variable that names no node flag.
func checkEnv(t *testing.T, where string, env map[string]string) {
	t.Helper()
	f := flags(t)
	for k := range env {
		if !strings.HasPrefix(k, "ACTORSERVE_") {
			continue
		}
		flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "ACTORSERVE_")), "_", "-")
		if !f[flag] {
			t.Errorf("%s: %s names no flag of `actorserve node` (--%s)", where, k, flag)
		}
	}
}

func port(t *testing.T, addr string) int64 {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	p, err := strconv.ParseInt(addr[i+1:], 10, 64)
	if i < 0 || err != nil {
		t.Fatalf("%q is not host:port", addr)
	}
	return p
}

func TestCompose(t *testing.T) {
	c := load(t, "docker-compose.yml")[0]
	services := get(t, c, "services").(map[string]any)
	for _, s := range []string{"kafka", "topics", "n1", "n2", "n3", "prometheus"} {
		if _, ok := services[s]; !ok {
			t.Fatalf("no service %s", s)
		}
	}
	if img := str(t, c, "services", "kafka", "image"); !strings.HasPrefix(img, "apache/kafka:") {
		t.Errorf("kafka image %q, want apache/kafka", img)
	}
	if img := str(t, c, "services", "prometheus", "image"); !strings.HasPrefix(img, "prom/prometheus:v") {
		t.Errorf("prometheus image %q, want a pinned prom/prometheus", img)
	}
	topics := get(t, c, "services", "topics", "command").([]any)[0].(string)
	checkTopics(t, "compose topics", topics)

	seeds := map[string]bool{}
	for i, name := range []string{"n1", "n2", "n3"} {
		if got := str(t, c, "services", name, "build", "dockerfile"); got != "examples/deploy/Dockerfile" {
			t.Errorf("%s builds %q", name, got)
		}
		if got := str(t, c, "services", name, "build", "context"); got != "../.." {
			t.Errorf("%s: build context %q, want the repository root ../..", name, got)
		}
		env := map[string]string{}
		for k, v := range get(t, c, "services", name, "environment").(map[string]any) {
			env[k] = fmt.Sprint(v)
		}
		checkEnv(t, name, env)
		if env["ACTORSERVE_NAME"] != name || env["ACTORSERVE_HTTP"] != name+":8080" || env["ACTORSERVE_REMOTE"] != name+":8090" || port(t, env["ACTORSERVE_GOSSIP"]) != 7946 {
			t.Errorf("%s: name, HTTP, remote and gossip addresses %v", name, env)
		}
		if env["ACTORSERVE_BROKERS"] != "kafka:9092" {
			t.Errorf("%s: brokers %q, want kafka:9092", name, env["ACTORSERVE_BROKERS"])
		}
		for _, s := range strings.Split(env["ACTORSERVE_JOIN"], ",") {
			seeds[s] = true
		}
		if got, want := fmt.Sprint(list(t, c, "services", name, "ports")), fmt.Sprintf("[%d:8080]", 8081+i); got != want {
			t.Errorf("%s publishes %s, want %s (the HTTP port)", name, got, want)
		}
		hc := list(t, c, "services", name, "healthcheck", "test")
		if fmt.Sprint(hc) != fmt.Sprintf("[CMD /actorserve health --http %s]", env["ACTORSERVE_HTTP"]) {
			t.Errorf("%s healthcheck %v does not ask its own HTTP address", name, hc)
		}
	}
	if fmt.Sprint(keys(seeds)) != "[n1:7946 n2:7946 n3:7946]" {
		t.Errorf("join seeds %v, want the three nodes' gossip addresses", keys(seeds))
	}
	if got := str(t, c, "services", "prometheus", "volumes", 0); !strings.HasPrefix(got, "./prometheus.yml:") {
		t.Errorf("prometheus mounts %q, want ./prometheus.yml", got)
	}

	// prometheus.yml scrapes exactly the three nodes' HTTP addresses.
	p := load(t, "prometheus.yml")[0]
	job := get(t, p, "scrape_configs", 0)
	if str(t, job, "metrics_path") != "/metrics" {
		t.Errorf("metrics_path %q", str(t, job, "metrics_path"))
	}
	if got := fmt.Sprint(list(t, job, "static_configs", 0, "targets")); got != "[n1:8080 n2:8080 n3:8080]" {
		t.Errorf("prometheus scrapes %s", got)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// checkTopics checks a topic-creation script against the topics the
// embedded broker creates.
func checkTopics(t *testing.T, where, script string) {
	t.Helper()
	for topic, want := range map[string]string{
		"actorserve.models": "--partitions 1 --config cleanup.policy=compact", "actorserve.state": "--config cleanup.policy=compact",
		"actorserve.events": "--partitions 6", "actorserve.predictions": "--partitions 6", "actorserve.deadletter": "--partitions 6",
	} {
		re := regexp.MustCompile(`(?m)--topic ` + regexp.QuoteMeta(topic) + ` (.*)$`)
		m := re.FindStringSubmatch(script)
		if m == nil || !strings.Contains(m[1], want) {
			t.Errorf("%s: topic %s not created with %q", where, topic, want)
		}
	}
}

// k8s loads every manifest and indexes it by kind/name.
func k8s(t *testing.T) map[string]any {
	t.Helper()
	out := map[string]any{}
	for _, f := range yamlFiles(t) {
		if filepath.Base(filepath.Dir(f)) != "kubernetes" {
			continue
		}
		rel, _ := filepath.Rel(dir(t), f)
		for _, d := range load(t, rel) {
			m, ok := d.(map[string]any)
			if !ok {
				t.Fatalf("%s: a document is not a mapping", rel)
			}
			kind := str(t, m, "kind")
			if kind == "Kustomization" {
				out["Kustomization"] = m
				continue
			}
			if _, ok := m["apiVersion"]; !ok {
				t.Errorf("%s: %s without apiVersion", rel, kind)
			}
			out[kind+"/"+str(t, m, "metadata", "name")] = m
		}
	}
	return out
}

func TestKubernetes(t *testing.T) {
	objs := k8s(t)
	sts, ok := objs["StatefulSet/actorserve"]
	if !ok {
		t.Fatalf("no StatefulSet actorserve among %v", len(objs))
	}
	headlessName := str(t, sts, "spec", "serviceName")
	headless, ok := objs["Service/"+headlessName]
	if !ok {
		t.Fatalf("serviceName %q names no Service", headlessName)
	}
	if get(t, headless, "spec", "clusterIP") != "None" || get(t, headless, "spec", "publishNotReadyAddresses") != true {
		t.Errorf("Service %s: want clusterIP None and publishNotReadyAddresses true", headlessName)
	}
	if str(t, sts, "spec", "podManagementPolicy") != "OrderedReady" {
		t.Error("pods must start one after the other (OrderedReady): the first forms the cluster")
	}
	labels := get(t, sts, "spec", "template", "metadata", "labels")
	if !reflect.DeepEqual(get(t, sts, "spec", "selector", "matchLabels"), labels) {
		t.Error("the StatefulSet's selector does not match its pod labels")
	}
	for _, svc := range []string{"Service/" + headlessName, "Service/actorserve"} {
		if !reflect.DeepEqual(get(t, objs[svc], "spec", "selector"), labels) {
			t.Errorf("%s does not select the StatefulSet's pods", svc)
		}
	}
	pdb := objs["PodDisruptionBudget/actorserve"]
	if pdb == nil || !reflect.DeepEqual(get(t, pdb, "spec", "selector", "matchLabels"), labels) {
		t.Error("no PodDisruptionBudget selecting the pods")
	}

	pod := get(t, sts, "spec", "template", "spec")
	ctr := get(t, pod, "containers", 0)
	if img := str(t, ctr, "image"); img != "actorserve:dev" {
		t.Errorf("image %q, want actorserve:dev (the tag docker-compose builds; README says to push it)", img)
	}
	if fmt.Sprint(list(t, ctr, "args")) != "[node]" {
		t.Errorf("args %v, want [node]", list(t, ctr, "args"))
	}
	ports := map[string]int64{}
	for _, p := range list(t, ctr, "ports") {
		ports[str(t, p, "name")] = num(t, p, "containerPort")
	}

	// The environment: per-pod addresses from the pod IP, the rest from the ConfigMap.
	env := map[string]string{}
	for _, e := range list(t, ctr, "env") {
		if v, ok := e.(map[string]any)["value"]; ok {
			env[str(t, e, "name")] = v.(string)
		} else {
			env[str(t, e, "name")] = "(" + str(t, e, "valueFrom", "fieldRef", "fieldPath") + ")"
		}
	}
	cmName := str(t, ctr, "envFrom", 0, "configMapRef", "name")
	cm, ok := objs["ConfigMap/"+cmName]
	if !ok {
		t.Fatalf("envFrom names ConfigMap %q, which is not there", cmName)
	}
	for k, v := range get(t, cm, "data").(map[string]any) {
		if _, dup := env[k]; dup {
			t.Errorf("%s is set both in the pod and in the ConfigMap", k)
		}
		env[k] = v.(string)
	}
	checkEnv(t, "StatefulSet", env)
	if env["POD_IP"] != "(status.podIP)" || env["ACTORSERVE_NAME"] != "(metadata.name)" {
		t.Errorf("POD_IP and ACTORSERVE_NAME must come from the pod: %v", env)
	}
	if env["ACTORSERVE_ADVERTISE"] != "$(POD_IP)" {
		t.Errorf("ACTORSERVE_ADVERTISE = %q: peers must be told the pod IP", env["ACTORSERVE_ADVERTISE"])
	}
	for flag, name := range map[string]string{"ACTORSERVE_HTTP": "http", "ACTORSERVE_REMOTE": "remote", "ACTORSERVE_GOSSIP": "gossip-tcp"} {
		if !strings.HasPrefix(env[flag], "0.0.0.0:") && !strings.HasPrefix(env[flag], "$(POD_IP):") {
			t.Errorf("%s = %q: bind every interface (or the pod IP)", flag, env[flag])
		}
		if port(t, env[flag]) != ports[name] {
			t.Errorf("%s listens on %d, the container port %s is %d", flag, port(t, env[flag]), name, ports[name])
		}
	}
	if ports["gossip-udp"] != ports["gossip-tcp"] {
		t.Error("memberlist needs the gossip port on UDP too")
	}
	// Every seed is a stable name of a pod of this StatefulSet, on the gossip port.
	replicas := num(t, sts, "spec", "replicas")
	var want []string
	for i := range replicas {
		want = append(want, fmt.Sprintf("%s-%d.%s:%d", str(t, sts, "metadata", "name"), i, headlessName, ports["gossip-tcp"]))
	}
	if env["ACTORSERVE_JOIN"] != strings.Join(want, ",") {
		t.Errorf("ACTORSERVE_JOIN = %q, want %q", env["ACTORSERVE_JOIN"], strings.Join(want, ","))
	}
	// The headless Service carries every port the pods talk to each other on.
	hp := map[string]string{}
	for _, p := range list(t, headless, "spec", "ports") {
		hp[str(t, p, "targetPort")] = str(t, p, "protocol")
	}
	for _, name := range []string{"gossip-tcp", "gossip-udp", "remote", "http"} {
		if _, ok := hp[name]; !ok {
			t.Errorf("the headless Service lacks port %s", name)
		}
	}
	if str(t, objs["Service/actorserve"], "spec", "ports", 0, "targetPort") != "http" {
		t.Error("Service actorserve does not target the http port")
	}

	// Probes, drain, resources, security.
	for probe, path := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/livez", "startupProbe": "/livez"} {
		if got := str(t, ctr, probe, "httpGet", "path"); got != path {
			t.Errorf("%s path %q, want %q", probe, got, path)
		}
		if p := get(t, ctr, probe, "httpGet", "port"); p != "http" && p != ports["http"] {
			t.Errorf("%s port %v is not the HTTP port", probe, p)
		}
	}
	preStop := num(t, ctr, "lifecycle", "preStop", "sleep", "seconds")
	shutdown := strings.TrimSuffix(env["ACTORSERVE_SHUTDOWN_TIMEOUT"], "s")
	sd, err := strconv.ParseInt(shutdown, 10, 64)
	if err != nil {
		t.Fatalf("ACTORSERVE_SHUTDOWN_TIMEOUT %q: want whole seconds", env["ACTORSERVE_SHUTDOWN_TIMEOUT"])
	}
	if grace := num(t, pod, "terminationGracePeriodSeconds"); grace <= preStop+sd {
		t.Errorf("terminationGracePeriodSeconds %d leaves no room for preStop %d s + shutdown %d s", grace, preStop, sd)
	}
	for _, r := range []string{"requests", "limits"} {
		if _, ok := get(t, ctr, "resources", r, "memory").(string); !ok {
			t.Errorf("no memory %s", r)
		}
	}
	if _, ok := get(t, ctr, "resources", "requests", "cpu").(string); !ok {
		t.Error("no cpu request")
	}
	if get(t, pod, "securityContext", "runAsNonRoot") != true || num(t, pod, "securityContext", "runAsUser") != 65532 {
		t.Error("the pod must run as the image's non-root user 65532")
	}
	if get(t, ctr, "securityContext", "readOnlyRootFilesystem") != true || get(t, ctr, "securityContext", "allowPrivilegeEscalation") != false {
		t.Error("the container should have a read-only root and no privilege escalation")
	}

	job := objs["Job/actorserve-topics"]
	if job == nil {
		t.Fatal("no topics Job")
	}
	jc := get(t, job, "spec", "template", "spec", "containers", 0)
	if !strings.HasPrefix(str(t, jc, "image"), "apache/kafka:") || str(t, jc, "envFrom", 0, "configMapRef", "name") != cmName {
		t.Error("the topics Job must use the Kafka image and the nodes' ConfigMap (for the brokers)")
	}
	checkTopics(t, "topics Job", str(t, jc, "args", 0))

	// The kustomization lists every manifest.
	kz := objs["Kustomization"]
	var res []string
	for _, r := range list(t, kz, "resources") {
		res = append(res, r.(string))
	}
	sort.Strings(res)
	var files []string
	for _, f := range yamlFiles(t) {
		if filepath.Base(filepath.Dir(f)) == "kubernetes" && filepath.Base(f) != "kustomization.yaml" {
			files = append(files, filepath.Base(f))
		}
	}
	sort.Strings(files)
	if !reflect.DeepEqual(res, files) {
		t.Errorf("kustomization lists %v, the folder has %v", res, files)
	}
}

// dockerfile returns the Dockerfile's instructions (continuation lines joined).
func dockerfile(t *testing.T) [][2]string {
	b, err := os.ReadFile(filepath.Join(dir(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out [][2]string
	var cur string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") || (l == "" && cur == "") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		cur += l
		if cur == "" {
			continue
		}
		op, arg, _ := strings.Cut(cur, " ")
		out = append(out, [2]string{strings.ToUpper(op), strings.TrimSpace(arg)})
		cur = ""
	}
	return out
}

// TestDockerfile checks the image's stages and runs its build command: the
// binary must be a static ELF (no interpreter, no shared libraries),
// stripped, for the final stage's distroless/static base.
func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	var froms, runs []string
	var user, entry, expose string
	for _, in := range ins {
		switch in[0] {
		case "FROM":
			froms = append(froms, in[1])
		case "RUN":
			runs = append(runs, in[1])
		case "USER":
			user = in[1]
		case "ENTRYPOINT":
			entry = in[1]
		case "EXPOSE":
			expose = in[1]
		}
	}
	gomod, err := os.ReadFile(filepath.Join(extest.Root(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(gomod)
	if len(froms) != 2 || !strings.HasPrefix(froms[0], "golang:"+string(goVer[1])) || !strings.HasSuffix(froms[0], " AS build") {
		t.Errorf("stages %q: want golang:%s AS build, then the runtime", froms, goVer[1])
	}
	if len(froms) == 2 && froms[1] != "gcr.io/distroless/static-debian12:nonroot" {
		t.Errorf("runtime stage %q, want distroless/static (nonroot)", froms[1])
	}
	if user != "65532:65532" {
		t.Errorf("USER %q, want distroless's nonroot 65532:65532 (what the StatefulSet's runAsUser expects)", user)
	}
	if entry != `["/actorserve"]` {
		t.Errorf("ENTRYPOINT %s", entry)
	}
	if expose != "8080 8090 7946 7946/udp" {
		t.Errorf("EXPOSE %q, want the HTTP, remote and gossip ports", expose)
	}

	var build string
	for _, r := range runs {
		if strings.Contains(r, "go build") {
			build = r
		}
	}
	for _, want := range []string{"CGO_ENABLED=0 ", "-trimpath", "-ldflags='-s -w'", "-o /out/actorserve", "./cmd/actorserve"} {
		if !strings.Contains(build, want) {
			t.Fatalf("the build command %q lacks %q", build, want)
		}
	}
	if testing.Short() {
		t.Skip("compiles the image's binary")
	}
	out := filepath.Join(t.TempDir(), "actorserve")
	cmd := exec.Command("bash", "-c", strings.Replace(build, "-o /out/actorserve", "-o "+out, 1))
	cmd.Dir = extest.Root(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", build, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary asks for a dynamic loader (PT_INTERP): it is not static")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v (%v)", libs, err)
	}
	if f.Section(".symtab") != nil {
		t.Error("the binary keeps its symbol table: -s did not apply")
	}
	if f.Section(".go.buildinfo") == nil {
		t.Error("no Go build info in the binary")
	}
	// It runs, and knows its commands.
	var stdout bytes.Buffer
	c := exec.Command(out, "version")
	c.Stdout = &stdout
	if err := c.Run(); err != nil || !strings.HasPrefix(stdout.String(), "actorserve ") {
		t.Errorf("%s version: %v %q", out, err, stdout.String())
	}
}
