// SPDX-License-Identifier: Apache-2.0
// A small kustomize for the k8s_manifests test: Debian has no kustomize recent enough (its
// kubernetes-client is 1.20, kustomize v2) and the npm registry has none, so the test renders
// deploy/kubernetes with this, and compares with a real kustomize (kubectl kustomize) wherever
// one is installed. It implements exactly the features deploy/kubernetes uses and refuses every
// other key, so a manifest change that needs more fails loudly instead of rendering wrong:
//   resources (files and directories), components, namespace, images, configMapGenerator
//   (files, literals, behavior create|merge|replace, options.disableNameSuffixHash, labels,
//   annotations), generatorOptions, patches (JSON 6902 operations, inline or from a file, with
//   a kind/name target).
// Like kustomize: files (not other kustomizations) must lie within the kustomization's directory
// (load restrictor RootOnly), generated ConfigMap names get a content hash suffix at the end of the build, and
// references to them from pod templates follow the new name.
// Usage: node render.js DIR   (prints the rendered objects as a YAML stream)
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const YAML = require('yaml');

const KUSTOMIZATION_FILES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'];
const SUPPORTED_KEYS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'components',
                                'images', 'configMapGenerator', 'generatorOptions', 'patches']);
// Kinds the namespace transformer leaves alone (cluster-scoped).
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PriorityClass',
                                'CustomResourceDefinition', 'StorageClass', 'PersistentVolume',
                                'Node', 'ValidatingWebhookConfiguration',
                                'MutatingWebhookConfiguration']);
const WORKLOADS = new Set(['DaemonSet', 'Deployment', 'StatefulSet', 'ReplicaSet', 'Job']);

class RenderError extends Error {}

function fail(msg) { throw new RenderError(msg); }

function readYamlDocs(file)
{
  const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'));
  const out = [];
  for (const d of docs) {
    if (d.errors.length)
      fail(`${file}: ${d.errors[0].message}`);
    const v = d.toJS();
    if (v !== null && v !== undefined)
      out.push(v);
  }
  return out;
}

// The load restrictor: a file named by a kustomization must resolve (symlinks too) inside the
// kustomization's directory.
function restricted(root, rel)
{
  const p = path.resolve(root, rel);
  const real = fs.realpathSync(p);
  const realRoot = fs.realpathSync(root);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep))
    fail(`${rel}: outside the kustomization root ${root} (kustomize's load restrictor refuses it)`);
  return p;
}

function loadKustomization(dir)
{
  for (const name of KUSTOMIZATION_FILES) {
    const file = path.join(dir, name);
    if (fs.existsSync(file)) {
      const [k] = readYamlDocs(file);
      for (const key of Object.keys(k))
        if (!SUPPORTED_KEYS.has(key))
          fail(`${file}: '${key}' is not supported by this renderer (tests/k8s/render.js)`);
      return { file, k };
    }
  }
  fail(`${dir}: no kustomization file`);
}

const idOf = (o) => `${o.kind}/${(o.metadata || {}).namespace || '~'}/${o.metadata.name}`;

// Go's encoding/json escapes these; the hash must see the same bytes kustomize hashes.
function goJson(v)
{
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g,
                                   (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function sortedKeys(obj)
{
  const out = {};
  for (const k of Object.keys(obj).sort())
    out[k] = obj[k];
  return out;
}

// kustomize's ConfigMap hash: sha256 over the JSON of {data, kind, name} (keys sorted, as Go
// marshals maps), the first 10 hex digits with 0 1 3 a e swapped for letters so that the suffix
// never reads as a number or a word. kustomize v5 hashes with the name empty (checked against
// kubectl kustomize 1.32, kustomize v5.5.0).
function configMapHash(cm)
{
  const m = { kind: cm.kind, name: '', data: sortedKeys(cm.data || {}) };
  if (cm.binaryData && Object.keys(cm.binaryData).length)
    m.binaryData = sortedKeys(cm.binaryData);
  const hex = crypto.createHash('sha256').update(goJson(sortedKeys(m))).digest('hex');
  const swap = { 0: 'g', 1: 'h', 3: 'k', a: 'm', e: 't' };
  return [...hex.slice(0, 10)].map((c) => swap[c] || c).join('');
}

function generateConfigMap(dir, gen, globalOptions)
{
  for (const key of Object.keys(gen))
    if (!['name', 'namespace', 'behavior', 'files', 'literals', 'options'].includes(key))
      fail(`configMapGenerator ${gen.name}: '${key}' is not supported by this renderer`);
  const data = {};
  for (const entry of gen.files || []) {
    const eq = entry.indexOf('=');
    const key = eq >= 0 ? entry.slice(0, eq) : path.basename(entry);
    const file = restricted(dir, eq >= 0 ? entry.slice(eq + 1) : entry);
    if (key in data)
      fail(`configMapGenerator ${gen.name}: key ${key} given twice`);
    data[key] = fs.readFileSync(file, 'utf8');
  }
  for (const lit of gen.literals || []) {
    const eq = lit.indexOf('=');
    if (eq < 0)
      fail(`configMapGenerator ${gen.name}: literal '${lit}' is not KEY=VALUE`);
    data[lit.slice(0, eq)] = lit.slice(eq + 1);
  }
  const options = { ...(globalOptions || {}), ...(gen.options || {}) };
  for (const key of Object.keys(options))
    if (!['disableNameSuffixHash', 'labels', 'annotations'].includes(key))
      fail(`configMapGenerator ${gen.name}: option '${key}' is not supported by this renderer`);
  const metadata = { name: gen.name };
  if (gen.namespace)
    metadata.namespace = gen.namespace;
  if (options.labels)
    metadata.labels = { ...options.labels };
  if (options.annotations)
    metadata.annotations = { ...options.annotations };
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata, data };
  // Kept beside the object, not in it: stripped before output.
  Object.defineProperty(cm, '_vgHash', { value: !options.disableNameSuffixHash, writable: true });
  return { cm, behavior: gen.behavior || 'create' };
}

function applyGenerators(dir, k, res)
{
  for (const gen of k.configMapGenerator || []) {
    const { cm, behavior } = generateConfigMap(dir, gen, k.generatorOptions);
    const existing = res.find((o) => o.kind === 'ConfigMap' && o.metadata.name === cm.metadata.name &&
                                     (!cm.metadata.namespace ||
                                      cm.metadata.namespace === o.metadata.namespace));
    if (behavior === 'create') {
      if (existing)
        fail(`configMapGenerator ${gen.name}: exists already (use behavior: merge or replace)`);
      res.push(cm);
    } else if (behavior === 'merge' || behavior === 'replace') {
      if (!existing)
        fail(`configMapGenerator ${gen.name}: behavior ${behavior} but no such ConfigMap to change`);
      existing.data = behavior === 'merge' ? { ...existing.data, ...cm.data } : cm.data;
      for (const f of ['labels', 'annotations'])
        if (cm.metadata[f])
          existing.metadata[f] = { ...(existing.metadata[f] || {}), ...cm.metadata[f] };
      // The overlay's generator decides about the suffix only when it says so.
      if (gen.options && 'disableNameSuffixHash' in gen.options)
        existing._vgHash = !gen.options.disableNameSuffixHash;
    } else {
      fail(`configMapGenerator ${gen.name}: unknown behavior '${behavior}'`);
    }
  }
}

function podSpecs(o)
{
  if (WORKLOADS.has(o.kind) && o.spec && o.spec.template && o.spec.template.spec)
    return [o.spec.template.spec];
  if (o.kind === 'Pod' && o.spec)
    return [o.spec];
  return [];
}

function containersOf(spec)
{
  return [...(spec.initContainers || []), ...(spec.containers || [])];
}

function applyNamespace(ns, res)
{
  for (const o of res) {
    if (!CLUSTER_SCOPED.has(o.kind))
      o.metadata.namespace = ns;
    if (o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')
      for (const s of o.subjects || [])
        if (s.kind === 'ServiceAccount' && !s.namespace)
          s.namespace = ns;
  }
}

function splitImage(image)
{
  let rest = image, digest = null, tag = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  return { name: rest, tag, digest };
}

function applyImages(images, res)
{
  for (const img of images) {
    for (const key of Object.keys(img))
      if (!['name', 'newName', 'newTag', 'digest'].includes(key))
        fail(`images ${img.name}: '${key}' is not supported by this renderer`);
    for (const o of res)
      for (const spec of podSpecs(o))
        for (const c of containersOf(spec)) {
          const cur = splitImage(c.image);
          if (cur.name !== img.name)
            continue;
          let out = img.newName || cur.name;
          if (img.digest)
            out += '@' + img.digest;
          else if (img.newTag)
            out += ':' + img.newTag;
          else if (cur.digest)
            out += '@' + cur.digest;
          else if (cur.tag)
            out += ':' + cur.tag;
          c.image = out;
        }
  }
}

function pointer(p)
{
  if (!p.startsWith('/'))
    fail(`JSON patch path '${p}' does not start with /`);
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function jsonPatch(obj, ops, what)
{
  for (const op of ops) {
    const parts = pointer(op.path);
    const last = parts.pop();
    let parent = obj;
    for (const part of parts) {
      parent = Array.isArray(parent) ? parent[Number(part)] : parent[part];
      if (parent === undefined)
        fail(`${what}: ${op.op} ${op.path}: no such path`);
    }
    const isArr = Array.isArray(parent);
    if (op.op === 'add') {
      if (isArr)
        parent.splice(last === '-' ? parent.length : Number(last), 0, op.value);
      else
        parent[last] = op.value;
    } else if (op.op === 'replace') {
      if (isArr ? Number(last) >= parent.length : !(last in parent))
        fail(`${what}: replace ${op.path}: no such path`);
      parent[isArr ? Number(last) : last] = op.value;
    } else if (op.op === 'remove') {
      if (isArr ? Number(last) >= parent.length : !(last in parent))
        fail(`${what}: remove ${op.path}: no such path`);
      if (isArr)
        parent.splice(Number(last), 1);
      else
        delete parent[last];
    } else {
      fail(`${what}: JSON patch op '${op.op}' is not supported by this renderer`);
    }
  }
}

function applyPatches(dir, patches, res)
{
  for (const p of patches) {
    for (const key of Object.keys(p))
      if (!['path', 'patch', 'target'].includes(key))
        fail(`patches: '${key}' is not supported by this renderer`);
    const text = p.patch !== undefined ? p.patch : fs.readFileSync(restricted(dir, p.path), 'utf8');
    const ops = YAML.parse(text);
    if (!Array.isArray(ops) || !p.target)
      fail('patches: only JSON 6902 patches (a list of operations) with a target are supported');
    for (const key of Object.keys(p.target))
      if (!['kind', 'name', 'namespace'].includes(key))
        fail(`patches: target field '${key}' is not supported by this renderer`);
    const hits = res.filter((o) => (!p.target.kind || o.kind === p.target.kind) &&
                                   (!p.target.name || o.metadata.name === p.target.name) &&
                                   (!p.target.namespace ||
                                    o.metadata.namespace === p.target.namespace));
    if (!hits.length)
      fail(`patches: no resource matches target ${JSON.stringify(p.target)}`);
    for (const o of hits)
      jsonPatch(o, ops, `patch on ${idOf(o)}`);
  }
}

// One kustomization (or component) level. A component works on the resources accumulated so
// far; a kustomization starts from its own resources.
function accumulate(dir, res, expectKind)
{
  const { file, k } = loadKustomization(dir);
  const kind = k.kind || 'Kustomization';
  if (kind !== expectKind)
    fail(`${file}: kind ${kind} where a ${expectKind} is expected`);
  for (const r of k.resources || []) {
    // Another kustomization may live anywhere (bases sit beside overlays); files may not.
    const p = path.resolve(dir, r);
    if (fs.existsSync(p) && fs.statSync(p).isDirectory())
      res.push(...accumulate(p, [], 'Kustomization'));
    else
      res.push(...readYamlDocs(restricted(dir, r)));
  }
  for (const c of k.components || [])
    accumulate(path.resolve(dir, c), res, 'Component');
  applyGenerators(dir, k, res);
  if (k.namespace)
    applyNamespace(k.namespace, res);
  if (k.images)
    applyImages(k.images, res);
  if (k.patches)
    applyPatches(dir, k.patches, res);
  const seen = new Set();
  for (const o of res) {
    if (seen.has(idOf(o)))
      fail(`${file}: ${idOf(o)} defined twice`);
    seen.add(idOf(o));
  }
  return res;
}

function renameConfigMapRefs(renamed, res)
{
  for (const o of res)
    for (const spec of podSpecs(o)) {
      const ns = o.metadata.namespace || '~';
      const to = (name) => renamed.get(`${ns}/${name}`) || name;
      for (const v of spec.volumes || []) {
        if (v.configMap)
          v.configMap.name = to(v.configMap.name);
        for (const s of (v.projected && v.projected.sources) || [])
          if (s.configMap)
            s.configMap.name = to(s.configMap.name);
      }
      for (const c of containersOf(spec)) {
        for (const e of c.env || [])
          if (e.valueFrom && e.valueFrom.configMapKeyRef)
            e.valueFrom.configMapKeyRef.name = to(e.valueFrom.configMapKeyRef.name);
        for (const e of c.envFrom || [])
          if (e.configMapRef)
            e.configMapRef.name = to(e.configMapRef.name);
      }
    }
}

// Renders the kustomization in dir; returns plain objects.
function render(dir)
{
  const res = accumulate(path.resolve(dir), [], 'Kustomization');
  const renamed = new Map();
  for (const o of res) {
    if (o.kind === 'ConfigMap' && o._vgHash) {
      const name = `${o.metadata.name}-${configMapHash(o)}`;
      renamed.set(`${o.metadata.namespace || '~'}/${o.metadata.name}`, name);
      o.metadata.name = name;
    }
  }
  renameConfigMapRefs(renamed, res);
  return res.map((o) => JSON.parse(JSON.stringify(o)));
}

module.exports = { render, RenderError, configMapHash };

if (require.main === module) {
  if (process.argv.length !== 3) {
    process.stderr.write('usage: node render.js KUSTOMIZATION_DIR\n');
    process.exit(2);
  }
  try {
    const objs = render(process.argv[2]);
    process.stdout.write(objs.map((o) => YAML.stringify(o)).join('---\n'));
  } catch (e) {
    if (!(e instanceof RenderError))
      throw e;
    process.stderr.write(`render: ${e.message}\n`);
    process.exit(1);
  }
}
