// SPDX-License-Identifier: Apache-2.0
// k8s_manifests: renders deploy/kubernetes (the base, and the example overlay with the
// ServiceMonitor component), validates every object against the Kubernetes API schemas, and
// checks that the DaemonSet fits what vigil serves and reads:
//   - schemas: kubernetes-models' validate() (types, enums, required fields) for the core kinds,
//     @kubernetes-models/prometheus-operator's for the ServiceMonitor, plus an unknown-field
//     check from the same packages' declarations (strict.js);
//   - what the API server refuses beyond the schemas, for the fields used here (Bidirectional
//     propagation needs privileged; allowPrivilegeEscalation false excludes CAP_SYS_ADMIN;
//     the DaemonSet selector must match its template; mounts name declared volumes);
//   - the wiring: Service, probes and ServiceMonitor reach the port metrics_address names, on
//     paths userspace/export/metrics.cpp serves; every path in vigil.yaml lies under a mount of
//     the right kind (policy under ConfigMap mounts that hold those files, state and event log
//     on a writable hostPath, pins on the host's bpffs); policy maps have fixed names and
//     whole-directory mounts (live reload), the daemon config map a hash suffix (rollout);
//   - the policy itself: the ConfigMaps are laid out as the kubelet lays them out (..data
//     symlinks) and given to `vigil rules check`, and vigil.yaml, its paths mapped into that
//     tree, to the daemon's own config and policy loader (`vigil daemon` without privileges,
//     which stops right after loading, at its privilege check).
// Where a real kustomize is installed (kubectl kustomize with kustomize v5), the renderer's
// output must equal its output.
// Usage: node test.js SOURCE_DIR VIGIL_BINARY (tests/k8s/run sets up the packages and runs it)
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const util = require('util');
const YAML = require('yaml');

const { render } = require('./render.js');
const { Schemas } = require('./strict.js');

const [src, vigil] = process.argv.slice(2);
if (!src || !vigil) {
  process.stderr.write('usage: node test.js SOURCE_DIR VIGIL_BINARY\n');
  process.exit(2);
}
const K8S = path.join(src, 'deploy/kubernetes');
// The pinned packages: tests/k8s/run installs them into the build tree and says where.
const NODE_MODULES = process.env.VIGIL_K8S_NODE_MODULES || path.join(__dirname, 'node_modules');
const schemas = new Schemas(NODE_MODULES);

let passed = 0, failed = 0;
function test(name, fn)
{
  try {
    fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}\n     ${String(e.message).split('\n').join('\n     ')}`);
  }
}
function assert(cond, msg)
{
  if (!cond)
    throw new Error(msg);
}
function eq(got, want, what)
{
  assert(util.isDeepStrictEqual(got, want),
         `${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
}

// apiVersion -> the package directory holding that group/version's models.
function modelDir(apiVersion)
{
  if (apiVersion === 'monitoring.coreos.com/v1')
    return path.join(NODE_MODULES, '@kubernetes-models/prometheus-operator', apiVersion);
  return path.join(NODE_MODULES, 'kubernetes-models', apiVersion);
}

function modelClass(o)
{
  const dir = modelDir(o.apiVersion);
  assert(fs.existsSync(path.join(dir, `${o.kind}.d.ts`)),
         `${o.apiVersion} ${o.kind}: no schema for this API version and kind`);
  const mod = require(dir);
  assert(mod[o.kind], `${o.apiVersion} ${o.kind}: no model class`);
  return mod[o.kind];
}

// A name kustomize gave a content hash suffix (10 characters from its alphabet).
const HASHED = /-[2456789bcdfghkmt]{10}$/;

const find = (objs, kind, name) => objs.find((o) => o.kind === kind &&
                                                    (!name || o.metadata.name === name));

// A real kustomize, if installed: `kustomize`, or kubectl with kustomize v5 built in.
function realKustomize()
{
  const k = spawnSync('kustomize', ['version'], { encoding: 'utf8' });
  if (k.status === 0 && /v5\./.test(k.stdout))
    return ['kustomize', ['build']];
  const c = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
  if (c.status === 0 && /Kustomize Version: v5\./.test(c.stdout))
    return ['kubectl', ['kustomize']];
  return null;
}

const targets = {
  base: path.join(K8S, 'base'),
  'overlays/example': path.join(K8S, 'overlays/example'),
};
const rendered = {};
for (const [name, dir] of Object.entries(targets)) {
  test(`${name}: renders`, () => {
    rendered[name] = render(dir);
  });
}

const real = realKustomize();
if (real) {
  for (const [name, dir] of Object.entries(targets)) {
    test(`${name}: the renderer's output equals ${real[0]} ${real[1].join(' ')}`, () => {
      const r = spawnSync(real[0], [...real[1], dir], { encoding: 'utf8' });
      assert(r.status === 0, `${real[0]} failed: ${r.stderr}`);
      const theirs = YAML.parseAllDocuments(r.stdout).map((d) => d.toJS()).filter(Boolean);
      const key = (o) => `${o.kind}/${o.metadata.namespace || ''}/${o.metadata.name}`;
      const ours = new Map((rendered[name] || []).map((o) => [key(o), o]));
      eq([...ours.keys()].sort(), theirs.map(key).sort(), 'objects');
      for (const o of theirs)
        eq(ours.get(key(o)), o, key(o));
    });
  }
} else {
  console.log('note: no kustomize v5 here (kustomize, kubectl kustomize); the renderer is not ' +
              'compared with one');
}

for (const [name, objs] of Object.entries(rendered)) {
  for (const o of objs) {
    test(`${name}: ${o.kind} ${o.metadata.name} validates against the ${o.apiVersion} schema`,
         () => {
           const Model = modelClass(o);
           new Model(o).validate(); // throws with the failing path
           const unknown = schemas.unknownFields(o, path.join(modelDir(o.apiVersion),
                                                              `${o.kind}.d.ts`));
           assert(!unknown.length, unknown.join('\n'));
         });
  }
}

// The parts of the API server's validation that no schema carries, for the fields used here.
function apiServerRules(objs)
{
  const ds = find(objs, 'DaemonSet', 'vigil');
  const pod = ds.spec.template.spec;
  for (const [k, v] of Object.entries(ds.spec.selector.matchLabels))
    eq(ds.spec.template.metadata.labels[k], v, `template label ${k} (the selector must match)`);
  const volumes = new Set(pod.volumes.map((v) => v.name));
  eq(volumes.size, pod.volumes.length, 'volume names are unique');
  for (const c of pod.containers) {
    const sc = c.securityContext || {};
    const caps = (sc.capabilities && sc.capabilities.add) || [];
    for (const m of c.volumeMounts) {
      assert(volumes.has(m.name), `mount ${m.mountPath} names no volume '${m.name}'`);
      assert(m.mountPropagation !== 'Bidirectional' || sc.privileged,
             `${m.mountPath}: Bidirectional propagation is allowed only in privileged containers`);
    }
    const mountPaths = c.volumeMounts.map((m) => m.mountPath);
    eq(new Set(mountPaths).size, mountPaths.length, 'mount paths are unique');
    if (sc.allowPrivilegeEscalation === false) {
      assert(!sc.privileged, 'allowPrivilegeEscalation false with privileged');
      assert(!caps.includes('SYS_ADMIN') && !caps.includes('CAP_SYS_ADMIN'),
             'allowPrivilegeEscalation false with CAP_SYS_ADMIN');
    }
    const ports = (c.ports || []).map((p) => p.name);
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe'])
      if (c[probe] && c[probe].httpGet && typeof c[probe].httpGet.port === 'string')
        assert(ports.includes(c[probe].httpGet.port), `${probe} names no container port`);
  }
  const sa = pod.serviceAccountName;
  assert(find(objs, 'ServiceAccount', sa), `service account ${sa} is not in the manifests`);
  for (const v of pod.volumes)
    if (v.configMap)
      assert(find(objs, 'ConfigMap', v.configMap.name),
             `volume ${v.name}: ConfigMap ${v.configMap.name} is not in the manifests`);
}

function portOf(container, port)
{
  if (typeof port === 'number')
    return port;
  const p = container.ports.find((x) => x.name === port);
  assert(p, `no container port named ${port}`);
  return p.containerPort;
}

// The volume mount of container c that pod path p lies under (the deepest), or undefined.
function underMount(c, p)
{
  const hits = c.volumeMounts.filter((m) => p === m.mountPath || p.startsWith(m.mountPath + '/'));
  hits.sort((a, b) => b.mountPath.length - a.mountPath.length);
  return hits[0];
}

function checkWiring(objs, name)
{
  const ds = find(objs, 'DaemonSet', 'vigil');
  const pod = ds.spec.template.spec;
  const c = pod.containers.find((x) => x.name === 'vigil');
  const volume = (n) => pod.volumes.find((v) => v.name === n);
  const configVol = pod.volumes.find((v) => v.configMap &&
                                            v.configMap.name.startsWith('vigil-config'));
  const configCm = find(objs, 'ConfigMap', configVol.configMap.name);
  const configMount = c.volumeMounts.find((m) => m.name === configVol.name);
  const configArg = c.args[c.args.indexOf('--config') + 1];
  const config = YAML.parse(configCm.data[path.posix.basename(configArg)]);

  test(`${name}: the container runs vigil daemon --config on the mounted config`, () => {
    eq(c.args.slice(0, 1), ['daemon'], 'first argument');
    eq(path.posix.dirname(configArg), configMount.mountPath, 'config directory');
    assert(configCm.data[path.posix.basename(configArg)] !== undefined,
           `${configArg}: not a key of ConfigMap ${configCm.metadata.name}`);
  });

  test(`${name}: metrics_address, container port, Service and probes agree`, () => {
    const m = /^(.*):(\d+)$/.exec(config.metrics_address || '');
    assert(m, `metrics_address '${config.metrics_address}' is not HOST:PORT`);
    // The kubelet probes and Prometheus scrapes the pod's IP, not its loopback.
    assert(['0.0.0.0', '', '[::]'].includes(m[1]),
           `metrics_address binds ${m[1]}, which the kubelet and Prometheus cannot reach`);
    const port = Number(m[2]);
    const metrics = c.ports.find((p) => p.name === 'metrics');
    assert(metrics, 'no container port named metrics');
    eq(metrics.containerPort, port, 'containerPort of metrics');
    eq(portOf(c, c.livenessProbe.httpGet.port), port, 'liveness probe port');
    eq(portOf(c, c.readinessProbe.httpGet.port), port, 'readiness probe port');
    eq(portOf(c, c.startupProbe.httpGet.port), port, 'startup probe port');
    const svc = find(objs, 'Service', 'vigil');
    const sp = svc.spec.ports.find((p) => p.name === 'metrics');
    eq(portOf(c, sp.targetPort), port, 'Service targetPort');
    for (const [k, v] of Object.entries(svc.spec.selector))
      eq(ds.spec.template.metadata.labels[k], v, `pod label ${k} (Service selector)`);
  });

  test(`${name}: probe and scrape paths are what vigil serves`, () => {
    const metricsCpp = fs.readFileSync(path.join(src, 'userspace/export/metrics.cpp'), 'utf8');
    eq(c.livenessProbe.httpGet.path, '/healthz', 'liveness path');
    eq(c.startupProbe.httpGet.path, '/healthz', 'startup path');
    eq(c.readinessProbe.httpGet.path, '/readyz', 'readiness path');
    for (const p of ['/healthz', '/readyz'])
      assert(metricsCpp.includes(`"${p}"`), `userspace/export/metrics.cpp does not serve ${p}`);
    // prometheus-cpp serves a collectable registered without a URI on /metrics.
    assert(/RegisterCollectable\(\s*\w+\s*\)/.test(metricsCpp),
           'metrics.cpp no longer registers its collectable on the default /metrics');
    const sm = find(objs, 'ServiceMonitor', 'vigil');
    if (sm) {
      const svc = find(objs, 'Service', 'vigil');
      for (const [k, v] of Object.entries(sm.spec.selector.matchLabels))
        eq(svc.metadata.labels[k], v, `Service label ${k} (ServiceMonitor selector)`);
      assert(sm.spec.namespaceSelector.matchNames.includes(svc.metadata.namespace),
             'the ServiceMonitor does not look in the Service\'s namespace');
      for (const e of sm.spec.endpoints) {
        assert(svc.spec.ports.some((p) => p.name === e.port), `no Service port ${e.port}`);
        eq(e.path, '/metrics', 'ServiceMonitor path');
      }
    }
  });

  test(`${name}: the pod watcher gets its node, token, CA and cgroups from the pod`, () => {
    const k = config.kubernetes;
    assert(k && k.enabled !== false, 'vigil.yaml has no enabled kubernetes: section');
    assert(!k.api_server, 'api_server is set; in a pod the daemon takes KUBERNETES_SERVICE_HOST');
    if (!k.node) {
      const env = (c.env || []).find((e) => e.name === 'NODE_NAME');
      assert(env, 'no NODE_NAME in the container env (kubernetes.node is unset)');
      eq(env.valueFrom && env.valueFrom.fieldRef && env.valueFrom.fieldRef.fieldPath,
         'spec.nodeName', 'NODE_NAME fieldRef');
    }
    // The token and CA: the service account's projected volume, or a file under a mount.
    const sa = '/var/run/secrets/kubernetes.io/serviceaccount';
    for (const [key, dflt] of [['token_file', sa + '/token'], ['ca_file', sa + '/ca.crt']]) {
      const p = k[key] || dflt;
      if (p.startsWith(sa + '/'))
        assert(pod.automountServiceAccountToken !== false,
               `${key} ${p}: the service account token is not mounted`);
      else
        assert(underMount(c, p), `${key} ${p} lies under no volume mount`);
    }
    const sarole = find(objs, 'ServiceAccount', pod.serviceAccountName);
    assert(sarole && sarole.automountServiceAccountToken !== false,
           'the ServiceAccount turns token automounting off');
    // The kubelet's cgroups are read from the host's tree mounted at the cgroup2 mount point.
    const cg = c.volumeMounts.find((m) => m.mountPath === '/sys/fs/cgroup');
    eq(volume(cg.name).hostPath.path, '/sys/fs/cgroup', 'cgroup hostPath');
    assert(!k.cgroup_root || k.cgroup_root.startsWith('/'), 'cgroup_root is not absolute');
  });

  test(`${name}: vigil.yaml's paths lie under mounts of the right kind`, () => {
    const mountOf = (p, what) => {
      const m = underMount(c, p);
      assert(m, `${what} ${p} lies under no volume mount`);
      return { m, v: volume(m.name) };
    };
    for (const p of [...config.profiles, ...(config.rules || [])]) {
      const { m, v } = mountOf(p, 'policy path');
      assert(v.configMap, `${p}: under ${m.mountPath}, which is not a ConfigMap`);
      assert(!m.subPath && !m.subPathExpr,
             `${m.mountPath}: a subPath mount never sees ConfigMap updates (no live reload)`);
      const cm = find(objs, 'ConfigMap', v.configMap.name);
      // Policy maps keep their names: kustomize's hash suffix would make every edit a rollout.
      assert(!HASHED.test(cm.metadata.name),
             `${cm.metadata.name}: a hashed name; policy edits would roll the pods`);
      const rel = path.posix.relative(m.mountPath, p);
      if (rel === '')
        assert(Object.keys(cm.data).length, `${p}: empty directory`);
      else
        assert(cm.data[rel] !== undefined, `${p}: ConfigMap ${cm.metadata.name} has no key ${rel}`);
    }
    assert(HASHED.test(configCm.metadata.name),
           `${configCm.metadata.name}: no hash suffix; the daemon reads its config only at ` +
           'start, so a change must roll the pods');
    for (const key of ['state_dir', 'log_dir']) {
      if (!config[key])
        continue;
      const { m, v } = mountOf(config[key], key);
      assert(v.hostPath, `${key} ${config[key]}: under ${m.mountPath}, not a hostPath (lost ` +
             'with the pod)');
      assert(!m.readOnly, `${key} ${config[key]}: under a read-only mount`);
    }
    const pin = config.pin_dir === undefined ? '/sys/fs/bpf/vigil' : config.pin_dir;
    assert(pin !== '', 'pin_dir "" pins nothing: enforcement would end with every pod restart');
    const { m, v } = mountOf(pin, 'pin_dir');
    eq(v.hostPath && v.hostPath.path, '/sys/fs/bpf', `volume under ${pin}`);
    eq(m.mountPath, '/sys/fs/bpf', 'bpffs mount path');
    assert(!m.readOnly, 'bpffs mounted read-only: nothing can be pinned');
  });

  test(`${name}: the pod has the privileges vigil needs and no more`, () => {
    const sc = c.securityContext;
    eq(pod.hostPID, true, 'hostPID');
    assert(!pod.hostNetwork && !pod.hostIPC, 'hostNetwork or hostIPC');
    eq(sc.privileged, false, 'privileged');
    eq(sc.readOnlyRootFilesystem, true, 'readOnlyRootFilesystem');
    eq(sc.capabilities.drop, ['ALL'], 'capabilities.drop');
    eq([...sc.capabilities.add].sort(), ['BPF', 'PERFMON', 'SYS_ADMIN', 'SYS_PTRACE'],
       'capabilities.add');
    eq(pod.tolerations, [{ operator: 'Exists' }], 'tolerations');
    eq(pod.priorityClassName, 'system-node-critical', 'priorityClassName');
    assert(c.resources.requests && c.resources.limits, 'resource requests and limits');
    const mounts = new Map(c.volumeMounts.map((x) => [x.mountPath, x]));
    const hostPaths = new Map(c.volumeMounts.map((x) => [x.mountPath, volume(x.name)])
                                .filter(([, vol]) => vol.hostPath)
                                .map(([mp, vol]) => [mp, vol.hostPath.path]));
    for (const p of ['/sys/fs/bpf', '/sys/kernel/btf', '/sys/fs/cgroup', '/sys/kernel/tracing',
                     '/sys/kernel/security', '/var/lib/vigil'])
      eq(hostPaths.get(p), p, `hostPath mounted at ${p}`);
    // vigil finds the cgroup2 mount in /proc/self/mounts and takes /sys/fs/cgroup's; the
    // host's tree must be there, writable for the feature probes' temporary cgroup.
    assert(!mounts.get('/sys/fs/cgroup').readOnly, '/sys/fs/cgroup read-only');
    for (const p of ['/sys/kernel/btf', '/sys/kernel/tracing', '/sys/kernel/security'])
      eq(mounts.get(p).readOnly, true, `${p} readOnly`);
    const role = find(objs, 'ClusterRole', 'vigil');
    eq(role.rules, [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
       'ClusterRole rules');
    const binding = find(objs, 'ClusterRoleBinding', 'vigil');
    eq(binding.roleRef.name, role.metadata.name, 'ClusterRoleBinding roleRef');
    eq(binding.subjects, [{ kind: 'ServiceAccount', name: pod.serviceAccountName,
                            namespace: ds.metadata.namespace }], 'ClusterRoleBinding subjects');
  });

  test(`${name}: the policy and the config pass vigil's own checks`, () => {
    checkWithVigil(objs, pod, c, config, configMount, configArg);
  });
}

// Lays the ConfigMap volumes out as the kubelet does (files behind a ..data symlink to a
// timestamped directory), under root.
function materialize(objs, pod, c, root)
{
  for (const m of c.volumeMounts) {
    const v = pod.volumes.find((x) => x.name === m.name);
    if (!v.configMap)
      continue;
    const cm = find(objs, 'ConfigMap', v.configMap.name);
    const dir = path.join(root, m.mountPath);
    const stamp = '..2024_01_01_00_00_00.000000001';
    fs.mkdirSync(path.join(dir, stamp), { recursive: true });
    for (const [k, text] of Object.entries(cm.data)) {
      fs.writeFileSync(path.join(dir, stamp, k), text, { mode: 0o644 });
      fs.symlinkSync(path.join('..data', k), path.join(dir, k));
    }
    fs.symlinkSync(stamp, path.join(dir, '..data'));
  }
}

function checkWithVigil(objs, pod, c, config, configMount, configArg)
{
  assert(fs.existsSync(vigil), `${vigil}: no vigil binary`);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-k8s-'));
  try {
    // Readable by the unprivileged user the daemon check runs as.
    fs.chmodSync(work, 0o755);
    const root = path.join(work, 'pod');
    materialize(objs, pod, c, root);
    const bin = path.join(work, 'vigil');
    fs.copyFileSync(vigil, bin);
    fs.chmodSync(bin, 0o755);
    execAll(work);

    const files = [];
    for (const p of [...config.profiles, ...(config.rules || [])]) {
      const host = path.join(root, p);
      if (fs.statSync(host).isDirectory()) {
        // The top-level names only: `vigil rules check DIR` would also descend into the
        // kubelet's ..<timestamp> directory and report every rule twice.
        for (const f of fs.readdirSync(host).sort())
          if (!f.startsWith('..') && /\.ya?ml$/.test(f))
            files.push(path.join(host, f));
      } else {
        files.push(host);
      }
    }
    // Every allowlist the profiles include is checked through them.
    const check = spawnSync(bin, ['rules', 'check', ...files], { encoding: 'utf8' });
    assert(check.status === 0, `vigil rules check ${files.join(' ')}:\n${head(check.stderr)}`);

    // The daemon's own loader: vigil.yaml with every pod path moved under root. Run without
    // privileges, `vigil daemon` loads the config and every profile, allowlist and rule, exits
    // 2 on any mistake in them, and otherwise stops at its privilege check (exit 1) before it
    // touches the kernel.
    const hostConfig = { ...config };
    hostConfig.profiles = config.profiles.map((p) => path.join(root, p));
    if (config.rules)
      hostConfig.rules = config.rules.map((p) => path.join(root, p));
    for (const key of ['state_dir', 'log_dir', 'pin_dir'])
      if (config[key])
        hostConfig[key] = path.join(root, config[key]);
    const hostConfigFile = path.join(root, configMount.mountPath, 'host-' +
                                     path.posix.basename(configArg));
    fs.writeFileSync(hostConfigFile, YAML.stringify(hostConfig), { mode: 0o644 });
    const asRoot = process.getuid && process.getuid() === 0;
    const opts = { encoding: 'utf8', timeout: 30000 };
    if (asRoot)
      Object.assign(opts, { uid: 65534, gid: 65534 }); // nobody: no capabilities after setuid
    const d = spawnSync(bin, ['daemon', '--config', hostConfigFile], opts);
    const out = `${d.stdout}${d.stderr}`;
    assert(d.status === 1 && /needs root/.test(out),
           `vigil daemon --config (unprivileged) exited ${d.status}${d.error ? ' ' + d.error : ''}` +
           `; expected 1 at the privilege check, after the config and policy loaded:\n${head(out)}`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const head = (text) => text.split('\n').slice(0, 20).join('\n');

// Directories searchable and files readable by everyone, for the unprivileged daemon check.
function execAll(dir)
{
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      fs.chmodSync(p, 0o755);
      execAll(p);
    }
  }
}

for (const [name, objs] of Object.entries(rendered)) {
  test(`${name}: what the API server checks beyond the schemas`, () => apiServerRules(objs));
  checkWiring(objs, name);
}

test('base: the policy ConfigMaps hold exactly the repository\'s rules/ (else run ' +
     'deploy/kubernetes/sync-policy)', () => {
  const objs = rendered.base;
  const rules = find(objs, 'ConfigMap', 'vigil-rules');
  const want = fs.readdirSync(path.join(src, 'rules')).filter((f) => /\.yaml$/.test(f)).sort();
  eq(Object.keys(rules.data).sort(), want, 'vigil-rules keys');
  for (const f of want)
    eq(rules.data[f], fs.readFileSync(path.join(src, 'rules', f), 'utf8'), `vigil-rules ${f}`);
  eq(find(objs, 'ConfigMap', 'vigil-profiles').data['default.yaml'],
     fs.readFileSync(path.join(src, 'rules/profiles/default.yaml'), 'utf8'), 'default.yaml');
  eq(find(objs, 'ConfigMap', 'vigil-allowlists').data['coding-agent.yaml'],
     fs.readFileSync(path.join(src, 'rules/allowlists/coding-agent.yaml'), 'utf8'),
     'coding-agent.yaml');
});

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
