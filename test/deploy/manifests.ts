// Reading deploy/ the way kubectl and kustomize would, without either: YAML documents, a small
// kustomize (resources, generators, namespace, labels, images, JSON 6902 patches), Kubernetes schema
// validation (kubernetes-models), and the pod hardening every workload must carry.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as models from 'kubernetes-models';
import { parseAllDocuments } from 'yaml';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const deployDir = join(repoRoot, 'deploy');

export type Doc = Record<string, any>;

/** Every YAML document of a file; a syntax error anywhere fails with the file and the message. */
export function readYamlDocs(path: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'), { merge: true });
  if (!Array.isArray(docs)) return [];
  const out: Doc[] = [];
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

export function readYaml(path: string): Doc {
  const [doc, ...rest] = readYamlDocs(path);
  if (doc === undefined || rest.length > 0) throw new Error(`${path}: expected exactly one YAML document`);
  return doc;
}

// ---------------------------------------------------------------- kustomize, the parts deploy/ uses

const KUSTOMIZATION_KEYS = new Set([
  'apiVersion',
  'kind',
  'namespace',
  'labels',
  'resources',
  'configMapGenerator',
  'secretGenerator',
  'images',
  'patches',
]);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterPolicy', 'ClusterImagePolicy', 'ClusterRole', 'ClusterRoleBinding']);

export interface Rendered {
  /** The kustomization directory. */
  dir: string;
  docs: Doc[];
  /** Generator source files, by generated object ("ConfigMap/ns/name") and data key. */
  generatedFrom: Map<string, Map<string, string>>;
}

export function kustomizationPath(dir: string): string {
  return join(dir, 'kustomization.yaml');
}

/** Builds a kustomization like `kustomize build` would, for the fields deploy/ uses; anything else is refused. */
export function renderKustomization(dir: string): Rendered {
  const k = readYaml(kustomizationPath(dir));
  const unknown = Object.keys(k).filter((key) => !KUSTOMIZATION_KEYS.has(key));
  if (unknown.length > 0) throw new Error(`${dir}: kustomization fields this test cannot render: ${unknown.join(', ')}`);
  if (k.kind !== 'Kustomization') throw new Error(`${dir}: kind must be Kustomization`);

  const docs: Doc[] = [];
  const generatedFrom = new Map<string, Map<string, string>>();
  for (const resource of (k.resources ?? []) as string[]) {
    const path = join(dir, resource);
    if (!existsSync(path)) throw new Error(`${dir}: resource ${resource} does not exist`);
    if (statSync(path).isDirectory()) {
      const sub = renderKustomization(path);
      docs.push(...sub.docs);
      for (const [key, files] of sub.generatedFrom) generatedFrom.set(key, files);
    } else {
      docs.push(...readYamlDocs(path));
    }
  }

  for (const [kind, generators] of [
    ['ConfigMap', k.configMapGenerator],
    ['Secret', k.secretGenerator],
  ] as const) {
    for (const gen of (generators ?? []) as Doc[]) {
      const data: Record<string, string> = {};
      const files = new Map<string, string>();
      for (const entry of (gen.files ?? []) as string[]) {
        const [key, file] = entry.includes('=') ? (entry.split('=', 2) as [string, string]) : [entry.split('/').pop()!, entry];
        files.set(key, join(dir, file));
        // A generator's file may be supplied at install time (the public key); its absence is checked where it matters.
        data[key] = existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'utf8') : '';
      }
      const namespace = gen.namespace ?? k.namespace;
      const existing = docs.find(
        (d) => d.kind === kind && d.metadata?.name === gen.name && (gen.namespace === undefined || d.metadata?.namespace === gen.namespace),
      );
      if (gen.behavior === 'replace' || gen.behavior === 'merge') {
        if (!existing)
          throw new Error(`${dir}: ${kind}Generator ${gen.name} has behavior ${gen.behavior} but the base has no such ${kind}`);
        existing.data = gen.behavior === 'replace' ? data : { ...existing.data, ...data };
      } else {
        if (existing) throw new Error(`${dir}: ${kind} ${gen.name} is generated twice`);
        docs.push({ apiVersion: 'v1', kind, metadata: { name: gen.name, ...(namespace ? { namespace } : {}) }, data });
      }
      const id = `${kind}/${namespace ?? ''}/${gen.name}`;
      generatedFrom.set(id, new Map([...(gen.behavior === 'merge' ? (generatedFrom.get(id) ?? []) : []), ...files]));
    }
  }

  if (k.namespace) {
    for (const d of docs) {
      if (d.kind === 'Namespace') d.metadata.name = k.namespace;
      else if (!CLUSTER_SCOPED.has(d.kind)) d.metadata.namespace = k.namespace;
    }
  }
  for (const { pairs } of (k.labels ?? []) as Doc[]) {
    for (const d of docs) d.metadata.labels = { ...d.metadata.labels, ...pairs };
  }
  for (const image of (k.images ?? []) as Doc[]) {
    for (const container of docs.flatMap((d) => containersOf(d))) {
      if (imageName(String(container.image)) !== image.name) continue;
      const name = image.newName ?? image.name;
      container.image = image.digest ? `${name}@${image.digest}` : `${name}:${image.newTag ?? 'latest'}`;
    }
  }
  for (const patch of (k.patches ?? []) as Doc[]) {
    const path = join(dir, patch.path ?? '');
    if (!patch.path || !existsSync(path)) throw new Error(`${dir}: patch file ${patch.path} does not exist`);
    const t = patch.target ?? {};
    const targets = docs.filter(
      (d) =>
        d.kind === t.kind &&
        // kustomize reads a target's name as an anchored regular expression.
        new RegExp(`^(?:${t.name})$`).test(d.metadata?.name ?? '') &&
        (t.group === undefined || groupOf(d) === t.group) &&
        (t.version === undefined || versionOf(d) === t.version),
    );
    if (targets.length === 0) throw new Error(`${dir}: patch ${patch.path} targets ${t.kind} ${t.name}, which the resources do not have`);
    const ops = readYaml(path);
    if (!Array.isArray(ops)) throw new Error(`${dir}: patch ${patch.path} must be a JSON 6902 list of operations`);
    for (const target of targets) for (const op of ops) applyJsonPatchOp(target, op, `${dir}/${patch.path}`);
  }
  return { dir, docs, generatedFrom };
}

/** An image reference without its tag and digest, as kustomize's images transformer matches it. */
export function imageName(ref: string): string {
  const withoutDigest = ref.split('@')[0]!;
  const slash = withoutDigest.lastIndexOf('/');
  const colon = withoutDigest.lastIndexOf(':');
  return colon > slash ? withoutDigest.slice(0, colon) : withoutDigest;
}

function groupOf(d: Doc): string {
  return String(d.apiVersion).includes('/') ? String(d.apiVersion).split('/')[0]! : '';
}
function versionOf(d: Doc): string {
  return String(d.apiVersion).split('/').pop()!;
}

/** add, replace, remove and test of RFC 6902; a path that does not exist (except add's last step) is an error. */
export function applyJsonPatchOp(doc: Doc, op: Doc, where: string): void {
  const steps = String(op.path)
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = steps.pop();
  if (last === undefined) throw new Error(`${where}: empty path`);
  let node: any = doc;
  for (const step of steps) {
    if (node === null || typeof node !== 'object' || !(step in node))
      throw new Error(`${where}: ${op.path} does not exist in ${doc.kind} ${doc.metadata?.name}`);
    node = node[step];
  }
  if (op.op === 'test') {
    const actual = Array.isArray(node) ? node[Number(last)] : node?.[last];
    if (JSON.stringify(actual) !== JSON.stringify(op.value))
      throw new Error(`${where}: test of ${op.path} failed in ${doc.kind} ${doc.metadata?.name}`);
    return;
  }
  if (Array.isArray(node)) {
    const index = last === '-' ? node.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > node.length || (op.op !== 'add' && index >= node.length)) {
      throw new Error(`${where}: ${op.path} is not an index of the list`);
    }
    if (op.op === 'add') node.splice(index, 0, op.value);
    else if (op.op === 'replace') node[index] = op.value;
    else if (op.op === 'remove') node.splice(index, 1);
    else throw new Error(`${where}: unsupported op ${op.op}`);
    return;
  }
  if (node === null || typeof node !== 'object') throw new Error(`${where}: ${op.path} does not exist`);
  if (op.op !== 'add' && !(last in node)) throw new Error(`${where}: ${op.path} does not exist in ${doc.kind} ${doc.metadata?.name}`);
  if (op.op === 'add' || op.op === 'replace') node[last] = op.value;
  else if (op.op === 'remove') delete node[last];
  else throw new Error(`${where}: unsupported op ${op.op}`);
}

// ---------------------------------------------------------------- Kubernetes schemas

const MODEL_CLASSES = new Map<string, { new (data: any): { validate(): void } }>();
// models.apps.v1.Deployment, but the core group is one level up: models.v1.Namespace.
(function collect(node: any, depth: number): void {
  for (const value of Object.values(node) as any[]) {
    if (typeof value === 'function' && value.apiVersion && value.kind) MODEL_CLASSES.set(`${value.apiVersion}/${value.kind}`, value);
    else if (value && typeof value === 'object' && depth < 2) collect(value, depth + 1);
  }
})(models, 0);

/** The kubernetes-models class for a built-in apiVersion/kind, or undefined (a CRD, or no such kind). */
export function modelFor(doc: Doc): { new (data: any): { validate(): void } } | undefined {
  return MODEL_CLASSES.get(`${doc.apiVersion}/${doc.kind}`);
}

/** Schema problems of a built-in object: the OpenAPI schema, a served (not alpha/beta) version, a name. */
export function kubernetesProblems(doc: Doc): string[] {
  const Model = modelFor(doc);
  if (!Model) return [`${doc.apiVersion}/${doc.kind} is not a Kubernetes kind`];
  const problems: string[] = [];
  if (/v\d+(alpha|beta)\d+$/.test(String(doc.apiVersion)))
    problems.push(`${doc.apiVersion} is a pre-release API, removed from current Kubernetes`);
  if (!doc.metadata?.name) problems.push('metadata.name is missing');
  try {
    new Model(doc).validate();
  } catch (err) {
    problems.push((err as Error).message);
  }
  return problems;
}

// ---------------------------------------------------------------- workloads and their hardening

/** The pod spec of anything that runs pods; undefined for objects that do not. */
export function podSpecOf(doc: Doc): Doc | undefined {
  if (doc.kind === 'Pod') return doc.spec;
  if (doc.kind === 'CronJob') return doc.spec?.jobTemplate?.spec?.template?.spec;
  // Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, ReplicationController, and any CRD shaped like them.
  return doc.spec?.template?.spec;
}

export function containersOf(doc: Doc): Doc[] {
  const pod = podSpecOf(doc);
  return pod ? [...(pod.initContainers ?? []), ...(pod.containers ?? []), ...(pod.ephemeralContainers ?? [])] : [];
}

/** What a pod spec lacks of the hardening the issue demands; empty when it has it all. */
export function hardeningProblems(pod: Doc): string[] {
  const problems: string[] = [];
  const psc = pod.securityContext ?? {};
  if (psc.runAsNonRoot !== true) problems.push('pod: securityContext.runAsNonRoot must be true');
  if (!(Number.isInteger(psc.runAsUser) && psc.runAsUser > 0)) problems.push('pod: securityContext.runAsUser must be a non-zero number');
  if (psc.seccompProfile?.type !== 'RuntimeDefault') problems.push('pod: securityContext.seccompProfile.type must be RuntimeDefault');
  if (pod.automountServiceAccountToken !== false) problems.push('pod: automountServiceAccountToken must be false');
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push('pod: must not share the host network, PID or IPC namespace');
  const emptyDirs = new Set(((pod.volumes ?? []) as Doc[]).filter((v) => v.emptyDir).map((v) => v.name));
  for (const c of [...(pod.initContainers ?? []), ...(pod.containers ?? [])] as Doc[]) {
    const at = `container ${c.name}`;
    const sc = c.securityContext ?? {};
    if (sc.runAsNonRoot !== true) problems.push(`${at}: securityContext.runAsNonRoot must be true`);
    if (!(Number.isInteger(sc.runAsUser) && sc.runAsUser > 0)) problems.push(`${at}: securityContext.runAsUser must be a non-zero number`);
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: securityContext.readOnlyRootFilesystem must be true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: securityContext.allowPrivilegeEscalation must be false`);
    if (sc.privileged === true) problems.push(`${at}: must not be privileged`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${at}: securityContext.capabilities.drop must include ALL`);
    if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${at}: must add no capabilities`);
    if (sc.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${at}: securityContext.seccompProfile.type must be RuntimeDefault`);
    const tmp = ((c.volumeMounts ?? []) as Doc[]).find((m) => m.mountPath === '/tmp');
    if (!tmp || !emptyDirs.has(tmp.name)) problems.push(`${at}: /tmp must be an emptyDir (the root filesystem is read-only)`);
    for (const kind of ['requests', 'limits'] as const) {
      for (const resource of ['cpu', 'memory']) {
        if (c.resources?.[kind]?.[resource] === undefined) problems.push(`${at}: resources.${kind}.${resource} is missing`);
      }
    }
  }
  return problems;
}

/** Whether a label selector (matchLabels and matchExpressions In/NotIn/Exists/DoesNotExist) selects the labels. */
export function selects(selector: Doc | undefined, labels: Record<string, string>): boolean {
  if (!selector) return false;
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (labels[key] !== value) return false;
  for (const e of (selector.matchExpressions ?? []) as Doc[]) {
    const has = e.key in labels;
    if (e.operator === 'In' && !(has && e.values.includes(labels[e.key]))) return false;
    if (e.operator === 'NotIn' && has && e.values.includes(labels[e.key])) return false;
    if (e.operator === 'Exists' && !has) return false;
    if (e.operator === 'DoesNotExist' && has) return false;
  }
  return true;
}

export function podLabelsOf(doc: Doc): Record<string, string> {
  if (doc.kind === 'Pod') return doc.metadata?.labels ?? {};
  if (doc.kind === 'CronJob') return doc.spec?.jobTemplate?.spec?.template?.metadata?.labels ?? {};
  return doc.spec?.template?.metadata?.labels ?? {};
}
