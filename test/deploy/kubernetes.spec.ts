import { existsSync, readdirSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatch } from '../../apps/entrypoint-dispatch.js';
import { parse as parseYaml } from 'yaml';
import { parsePipeline } from '#libs/config/index.js';
import {
  containersOf,
  deployDir,
  hardeningProblems,
  imageName,
  kubernetesProblems,
  kustomizationPath,
  podLabelsOf,
  podSpecOf,
  readYaml,
  renderKustomization,
  selects,
  type Doc,
} from './manifests.js';

const kubernetesDir = join(deployDir, 'kubernetes');
const variants = {
  base: join(kubernetesDir, 'base'),
  production: join(kubernetesDir, 'overlays', 'production'),
};

function kustomizationDirs(dir: string): string[] {
  const here = readdirSync(dir, { withFileTypes: true });
  const nested = here.filter((e) => e.isDirectory()).flatMap((e) => kustomizationDirs(join(dir, e.name)));
  return here.some((e) => e.isFile() && e.name === 'kustomization.yaml') ? [dir, ...nested] : nested;
}

/** Environment variables (values of `…Env` keys, with the top-level section naming them) and files
 * (absolute paths) a pipeline file names anywhere. */
/** Files only a worker opens: the signing key and the signature gates' trust files. */
function namedInPipeline(
  node: unknown,
  key = '',
  section = '',
  workerOnly = false,
): { variables: [string, string][]; files: string[]; workerOnlyFiles: string[] } {
  if (typeof node === 'string') {
    if (key.endsWith('Env')) return { variables: [[node, section]], files: [], workerOnlyFiles: [] };
    const file = node.startsWith('/') ? [node] : [];
    return { variables: [], files: workerOnly ? [] : file, workerOnlyFiles: workerOnly ? file : [] };
  }
  const entries: [string, unknown][] = Array.isArray(node)
    ? node.map((v) => [key, v])
    : node && typeof node === 'object'
      ? Object.entries(node)
      : [];
  const found = entries.map(([k, v]) =>
    namedInPipeline(v, k, section || k, workerOnly || k === 'signature' || (section || k) === 'signing'),
  );
  return {
    variables: found.flatMap((f) => f.variables),
    files: found.flatMap((f) => f.files),
    workerOnlyFiles: found.flatMap((f) => f.workerOnlyFiles),
  };
}

/** Which Secret the manifests load each section's variables from (envFrom). */
const SECRET_FOR_SECTION: Record<string, string> = { registries: 'promoter-registry-credentials', slack: 'promoter-slack' };

const id = (d: Doc) => `${d.kind}/${d.metadata?.name}`;
const workloads = (docs: Doc[]) => docs.filter((d) => podSpecOf(d) !== undefined);
const byId = (docs: Doc[], kind: string, name: string) => {
  const found = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!found) throw new Error(`${kind}/${name} is missing`);
  return found;
};

describe('every kustomization under deploy/', () => {
  const dirs = kustomizationDirs(deployDir);

  it('is found (base, production overlay, admission policies)', () => {
    expect(dirs.map((d) => relative(deployDir, d).split('\\').join('/')).sort()).toEqual(
      ['kubernetes/base', 'kubernetes/overlays/production', 'policies'].sort(),
    );
  });

  it.each(dirs.map((d) => [relative(deployDir, d), d]))('%s: its resources, generator files and patch targets exist', (_, dir) => {
    // Rendering refuses a missing resource or patch file, and a patch whose target the resources lack.
    const { docs, generatedFrom } = renderKustomization(dir);
    expect(docs.length).toBeGreaterThan(0);
    // Generator files must exist, except the public key an operator supplies at install time (policies.spec.ts).
    for (const [object, files] of generatedFrom) {
      for (const [key, file] of files) {
        if (key === 'cosign.pub') continue;
        expect(existsSync(file), `${object} needs ${file}`).toBe(true);
      }
    }
  });
});

describe.each(Object.entries(variants))('Kubernetes manifests: %s', (_, dir) => {
  const { docs } = renderKustomization(dir);

  it('validate against the Kubernetes schemas (kubernetes-models), in served API versions', () => {
    const problems = docs.flatMap((d) => kubernetesProblems(d).map((p) => `${id(d)}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('are all namespaced into the promoter namespace, with unique names per kind', () => {
    const namespaced = docs.filter((d) => d.kind !== 'Namespace');
    expect(namespaced.every((d) => d.metadata.namespace === 'image-promoter')).toBe(true);
    const ids = docs.map(id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('harden every container of every workload (non-root, read-only root, no escalation, no capabilities, seccomp, /tmp, resources)', () => {
    const found = workloads(docs);
    // api, worker and the migration Job at least; a new workload is checked the same way without being listed here.
    expect(found.map(id)).toEqual(
      expect.arrayContaining(['Deployment/promoter-api', 'Deployment/promoter-worker', 'Job/promoter-migrate']),
    );
    const problems = found.flatMap((w) => hardeningProblems(podSpecOf(w)!).map((p) => `${id(w)}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('run every workload under the ServiceAccount that mounts no token', () => {
    const accounts = docs.filter((d) => d.kind === 'ServiceAccount');
    for (const w of workloads(docs)) {
      const name = podSpecOf(w)!.serviceAccountName;
      const account = accounts.find((a) => a.metadata.name === name);
      expect(account, `${id(w)} uses ServiceAccount ${name}`).toBeDefined();
      expect(account!.automountServiceAccountToken).toBe(false);
    }
  });

  it('label every namespace for Pod Security "restricted" and give it a default-deny NetworkPolicy', () => {
    const namespaces = docs.filter((d) => d.kind === 'Namespace');
    expect(namespaces.length).toBeGreaterThan(0);
    for (const ns of namespaces) {
      const labels = ns.metadata.labels ?? {};
      for (const mode of ['enforce', 'audit', 'warn']) expect(labels[`pod-security.kubernetes.io/${mode}`], mode).toBe('restricted');
      const denyAll = docs.filter(
        (d) =>
          d.kind === 'NetworkPolicy' &&
          d.metadata.namespace === ns.metadata.name &&
          Object.keys(d.spec.podSelector ?? {}).length === 0 &&
          ['Ingress', 'Egress'].every((t) => d.spec.policyTypes?.includes(t)) &&
          (d.spec.ingress ?? []).length === 0 &&
          (d.spec.egress ?? []).length === 0,
      );
      expect(denyAll.map(id), `namespace ${ns.metadata.name}`).toHaveLength(1);
    }
  });

  it('let traffic into the API only, on its port, only from the ingress controller namespace', () => {
    const api = byId(docs, 'Deployment', 'promoter-api');
    const apiPort = api.spec.template.spec.containers[0].ports[0].containerPort;
    const ingressPolicies = docs.filter((d) => d.kind === 'NetworkPolicy' && (d.spec.ingress ?? []).length > 0);
    expect(ingressPolicies.length).toBeGreaterThan(0);
    for (const policy of ingressPolicies) {
      for (const w of workloads(docs)) {
        if (selects(policy.spec.podSelector, podLabelsOf(w)))
          expect(id(w), `${id(policy)} admits traffic to`).toBe('Deployment/promoter-api');
      }
      for (const rule of policy.spec.ingress as Doc[]) {
        expect(rule.ports.map((p: Doc) => p.port)).toEqual([apiPort]);
        for (const peer of rule.from as Doc[]) {
          expect(peer.ipBlock, 'no address-based ingress').toBeUndefined();
          expect(Object.keys(peer.namespaceSelector?.matchLabels ?? {})).toEqual(['kubernetes.io/metadata.name']);
        }
      }
    }
  });

  it('let traffic out only to DNS, PostgreSQL, Redis and HTTPS (registries, Slack), never to link-local metadata', () => {
    const allowed = new Set([53, 5432, 6379, 443]);
    for (const policy of docs.filter((d) => d.kind === 'NetworkPolicy')) {
      for (const rule of (policy.spec.egress ?? []) as Doc[]) {
        expect((rule.ports ?? []).length, `${id(policy)}: an egress rule without ports allows everything`).toBeGreaterThan(0);
        expect((rule.to ?? []).length, `${id(policy)}: an egress rule without peers allows every address`).toBeGreaterThan(0);
        for (const port of rule.ports as Doc[]) expect(allowed.has(port.port), `${id(policy)} port ${port.port}`).toBe(true);
        for (const peer of rule.to as Doc[]) {
          if (peer.ipBlock?.cidr === '0.0.0.0/0')
            expect(peer.ipBlock.except).toEqual(expect.arrayContaining(['169.254.0.0/16', '10.0.0.0/8']));
        }
      }
    }
  });

  it('let each process reach what it needs: DNS and PostgreSQL for all, Redis and HTTPS for the API and workers', () => {
    const reachablePorts = (w: Doc) =>
      new Set(
        docs
          .filter((d) => d.kind === 'NetworkPolicy' && selects(d.spec.podSelector, podLabelsOf(w)))
          .flatMap((d) => (d.spec.egress ?? []) as Doc[])
          .flatMap((r) => (r.ports as Doc[]).map((p) => p.port)),
      );
    expect([...reachablePorts(byId(docs, 'Job', 'promoter-migrate'))].sort()).toEqual([53, 5432]);
    // The vulnerability database import: PostgreSQL, and HTTPS for the OSV download; no Redis.
    expect([...reachablePorts(byId(docs, 'CronJob', 'promoter-vulndb-import'))].sort((a, b) => a - b)).toEqual([53, 443, 5432]);
    for (const name of ['promoter-api', 'promoter-worker']) {
      expect(
        [...reachablePorts(byId(docs, 'Deployment', name))].sort((a, b) => a - b),
        name,
      ).toEqual([53, 443, 5432, 6379]);
    }
  });

  it('probe the API and the workers on /healthz (liveness, startup) and /readyz (readiness), on a port they listen on', () => {
    for (const name of ['promoter-api', 'promoter-worker']) {
      const c = byId(docs, 'Deployment', name).spec.template.spec.containers[0];
      expect(c.livenessProbe.httpGet.path, name).toBe('/healthz');
      expect(c.startupProbe.httpGet.path, name).toBe('/healthz');
      expect(c.readinessProbe.httpGet.path, name).toBe('/readyz');
      const port = (c.ports as Doc[]).find((p) => p.name === c.livenessProbe.httpGet.port);
      expect(port, `${name} names its probe port`).toBeDefined();
      // The API listens on PORT; the worker-only process on WORKER_HEALTH_PORT.
      const variable = name === 'promoter-api' ? 'PORT' : 'WORKER_HEALTH_PORT';
      expect((c.env as Doc[]).find((e) => e.name === variable)?.value, `${name} ${variable}`).toBe(String(port!.containerPort));
      for (const probe of [c.startupProbe, c.readinessProbe]) expect(probe.httpGet.port).toBe(port!.name);
    }
  });

  it('serve the API pods, and only them, through the Service', () => {
    const api = byId(docs, 'Deployment', 'promoter-api');
    const c = api.spec.template.spec.containers[0];
    const service = byId(docs, 'Service', 'promoter-api');
    expect(selects({ matchLabels: service.spec.selector }, podLabelsOf(api))).toBe(true);
    expect(selects({ matchLabels: service.spec.selector }, podLabelsOf(byId(docs, 'Deployment', 'promoter-worker')))).toBe(false);
    expect(c.ports.map((p: Doc) => p.name)).toContain(service.spec.ports[0].targetPort);
  });

  it('start each process of the promoter image with a command the entry point knows: api, worker, migrate, cli vulndb import', () => {
    const promoterImage = (c: Doc) => imageName(c.image).split('/').pop() === 'image-promoter';
    const modes = Object.fromEntries(
      workloads(docs).flatMap((w) =>
        containersOf(w)
          .filter(promoterImage)
          .map((c) => [c.name, dispatch(c.args ?? [])]),
      ),
    );
    expect(modes).toEqual({
      api: expect.objectContaining({ kind: 'module', mode: 'api' }),
      worker: expect.objectContaining({ kind: 'module', mode: 'worker' }),
      migrate: expect.objectContaining({ kind: 'module', mode: 'migrate' }),
      'vulndb-import': { kind: 'cli', args: ['vulndb', 'import', '/var/lib/osv'] },
    });
    // Everything else is the import's downloader; it must not fall back to the image's own command.
    const others = workloads(docs).flatMap((w) => containersOf(w).filter((c) => !promoterImage(c)));
    expect(others.map((c) => c.name)).toEqual(['osv-download']);
    expect(others[0]!.command).toEqual(['/bin/sh', '-c']);
  });

  it('import the vulnerability database on a schedule well inside maxAge, from archives an initContainer fetched in the same pod', () => {
    const cron = byId(docs, 'CronJob', 'promoter-vulndb-import');
    // At most every 6 hours: four tries before the default maxAge (24h) fails the scan gate closed.
    expect(cron.spec.schedule).toMatch(/^\d+ \*\/6 \* \* \*$/);
    expect(cron.spec.concurrencyPolicy).toBe('Forbid');
    const pod = podSpecOf(cron)!;
    expect(pod.restartPolicy).toBe('Never');
    const [download] = pod.initContainers as Doc[];
    const [imports] = pod.containers as Doc[];
    // The import reads the directory the download wrote, through the same emptyDir, read-only.
    const osvVolume = (pod.volumes as Doc[]).find((v) => v.name === 'osv')!;
    expect(osvVolume.emptyDir).toBeDefined();
    const mountOf = (c: Doc) => (c.volumeMounts as Doc[]).find((m) => m.name === 'osv')!;
    expect(mountOf(download!).mountPath).toBe(imports!.args.at(-1));
    expect(mountOf(imports!)).toMatchObject({ mountPath: imports!.args.at(-1), readOnly: true });
    // HTTPS only, failing on an HTTP error, from a configurable base URL, for each configured ecosystem.
    const script = download!.args.join('\n') as string;
    for (const flag of ['--fail', "--proto '=https'"]) expect(script).toContain(flag);
    expect(script).toContain('"$OSV_BASE_URL/$ecosystem/all.zip"');
    expect(script).not.toContain('--location');
    const env = Object.fromEntries((download!.env as Doc[]).map((e) => [e.name, e.value]));
    expect(env.OSV_BASE_URL).toMatch(/^https:\/\//);
    expect(env.OSV_ECOSYSTEMS.split(' ')).toEqual(expect.arrayContaining(['Debian', 'Ubuntu', 'Alpine', 'npm', 'PyPI']));
    // DATABASE_URL from the Secret the other workloads use.
    const migrateUrl = (byId(docs, 'Job', 'promoter-migrate').spec.template.spec.containers[0].env as Doc[]).find(
      (e) => e.name === 'DATABASE_URL',
    );
    expect((imports!.env as Doc[]).find((e) => e.name === 'DATABASE_URL')).toEqual(migrateUrl);
    expect((download!.env as Doc[]).some((e) => e.name === 'DATABASE_URL')).toBe(false);
  });

  it('keep the API and workers available through disruptions, and scale workers with an autoscaling/v2 HPA', () => {
    for (const pdb of docs.filter((d) => d.kind === 'PodDisruptionBudget')) {
      expect(workloads(docs).filter((w) => selects(pdb.spec.selector, podLabelsOf(w))).length, id(pdb)).toBe(1);
    }
    expect(
      docs
        .filter((d) => d.kind === 'PodDisruptionBudget')
        .map(id)
        .sort(),
    ).toEqual(['PodDisruptionBudget/promoter-api', 'PodDisruptionBudget/promoter-worker']);
    const hpa = byId(docs, 'HorizontalPodAutoscaler', 'promoter-worker');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    const target = byId(docs, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
    expect(target.spec.template.spec.containers[0].args).toEqual(['worker']);
    // The HPA owns the replica count; a fixed one would fight it on every apply.
    expect(target.spec.replicas).toBeUndefined();
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(1);
    expect(hpa.spec.maxReplicas).toBeGreaterThanOrEqual(hpa.spec.minReplicas);
  });

  it('take secrets from Secret references, never from literal values or Secret objects in the manifests', () => {
    expect(docs.filter((d) => d.kind === 'Secret').map(id)).toEqual([]);
    for (const w of workloads(docs)) {
      for (const c of containersOf(w)) {
        for (const e of (c.env ?? []) as Doc[]) {
          if (/DATABASE_URL|REDIS_URL|TOKEN|PASSWORD|SECRET|KEY/.test(e.name)) {
            expect(e.value, `${id(w)} ${c.name} ${e.name}`).toBeUndefined();
            expect(e.valueFrom?.secretKeyRef, `${id(w)} ${c.name} ${e.name}`).toBeDefined();
          }
        }
      }
    }
  });

  it('give the API and workers the pipeline file, and every variable and file each opens', () => {
    const config = byId(docs, 'ConfigMap', 'promoter-config');
    // The service's own parser accepts it (it throws a ConfigError naming the key otherwise).
    parsePipeline(config.data['promoter.yaml'], `${relative(deployDir, dir)}: promoter.yaml`);
    const api = byId(docs, 'Deployment', 'promoter-api');
    const worker = byId(docs, 'Deployment', 'promoter-worker');

    // Whatever the file names, by any key: variables (`…Env`) and files (absolute paths).
    const named = namedInPipeline(parseYaml(config.data['promoter.yaml']));
    expect(named.workerOnlyFiles.length, 'the signing key and trust files at least').toBeGreaterThanOrEqual(3);
    const envNames = named.variables;

    // Only workers open the signing key and the gates' trust files (apps/api/src/boot.ts): the API
    // gets neither, so a compromised API pod holds no key to sign with.
    const apiMounts = (api.spec.template.spec.containers[0].volumeMounts as Doc[]).map((m) => m.mountPath);
    for (const file of named.workerOnlyFiles) {
      expect(
        apiMounts.filter((m) => file.startsWith(`${m}/`)),
        `${id(api)} does not mount ${file}`,
      ).toEqual([]);
    }
    const secretVolumes = (api.spec.template.spec.volumes as Doc[]).map((v) => v.secret?.secretName).filter(Boolean);
    expect(secretVolumes, 'the API mounts no signing key').not.toContain('promoter-signing-key');

    for (const w of [api, worker]) {
      const needed = w === worker ? [...named.files, ...named.workerOnlyFiles] : named.files;
      const pod = w.spec.template.spec;
      const c = pod.containers[0];
      const configPath = c.env.find((e: Doc) => e.name === 'PROMOTER_CONFIG').value as string;
      const configMount = c.volumeMounts.find((m: Doc) => m.mountPath === posix.dirname(configPath));
      expect(pod.volumes.find((v: Doc) => v.name === configMount?.name)?.configMap?.name, `${id(w)} mounts promoter.yaml`).toBe(
        'promoter-config',
      );
      expect(posix.basename(configPath)).toBe('promoter.yaml');

      // Every named variable comes from an env entry, or from its section's Secret, which must then
      // exist (not optional): the process refuses to start without it.
      const required = ((c.envFrom ?? []) as Doc[]).filter((s) => s.secretRef && !s.secretRef.optional).map((s) => s.secretRef.name);
      for (const [name, section] of envNames) {
        if ((c.env as Doc[]).some((e) => e.name === name)) continue;
        expect(required, `${id(w)} gets ${name} (${section}) from a required Secret`).toContain(SECRET_FOR_SECTION[section]);
      }
      // Every named file is under a read-only mount; a Secret volume with items holds that very file.
      for (const file of needed) {
        expect(posix.isAbsolute(file), `${file} is absolute (relative paths follow the pipeline file)`).toBe(true);
        const mount = (c.volumeMounts as Doc[]).find((m) => file.startsWith(`${m.mountPath}/`));
        expect(mount, `${id(w)} mounts ${file}`).toBeDefined();
        expect(mount!.readOnly, `${file} is mounted read-only`).toBe(true);
        const volume = (pod.volumes as Doc[]).find((v) => v.name === mount!.name)!;
        const items = volume.secret?.items ?? volume.configMap?.items;
        if (items)
          expect(
            items.map((i: Doc) => i.path),
            `${id(w)} volume ${volume.name}`,
          ).toContain(file.slice(mount!.mountPath.length + 1));
      }
    }
  });
});

describe('the hardening check itself', () => {
  const { docs } = renderKustomization(variants.base);
  const worker = byId(docs, 'Deployment', 'promoter-worker');

  // Each mutation removes one demanded field from a copy of a real workload; the check must notice.
  const mutations: [string, (pod: Doc) => void, RegExp][] = [
    ['container runAsNonRoot', (p) => delete p.containers[0].securityContext.runAsNonRoot, /runAsNonRoot/],
    ['container runAsUser', (p) => delete p.containers[0].securityContext.runAsUser, /runAsUser/],
    ['readOnlyRootFilesystem', (p) => (p.containers[0].securityContext.readOnlyRootFilesystem = false), /readOnlyRootFilesystem/],
    ['allowPrivilegeEscalation', (p) => delete p.containers[0].securityContext.allowPrivilegeEscalation, /allowPrivilegeEscalation/],
    ['capabilities.drop', (p) => (p.containers[0].securityContext.capabilities = { drop: ['NET_RAW'] }), /capabilities.drop/],
    ['container seccompProfile', (p) => delete p.containers[0].securityContext.seccompProfile, /seccompProfile/],
    ['pod seccompProfile', (p) => delete p.securityContext.seccompProfile, /pod: .*seccompProfile/],
    [
      'the /tmp emptyDir',
      (p) => (p.containers[0].volumeMounts = p.containers[0].volumeMounts.filter((m: Doc) => m.mountPath !== '/tmp')),
      /\/tmp/,
    ],
    ['memory limit', (p) => delete p.containers[0].resources.limits.memory, /limits.memory/],
    [
      'an initContainer that forgets everything',
      (p) =>
        (p.initContainers = [
          { name: 'setup', image: 'x', resources: p.containers[0].resources, volumeMounts: p.containers[0].volumeMounts },
        ]),
      /container setup: securityContext.runAsNonRoot/,
    ],
  ];

  it('passes the real worker', () => {
    expect(hardeningProblems(podSpecOf(worker)!)).toEqual([]);
  });

  it.each(mutations)('notices a missing %s', (_, mutate, expected) => {
    const copy = structuredClone(worker);
    mutate(podSpecOf(copy)!);
    expect(hardeningProblems(podSpecOf(copy)!).join('\n')).toMatch(expected);
  });

  it('finds the pods of every workload kind, including ones deploy/ does not use yet', () => {
    const pod = podSpecOf(worker)!;
    for (const kind of ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']) {
      expect(podSpecOf({ kind, spec: { template: { spec: pod } } })).toBe(pod);
    }
    expect(podSpecOf({ kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec: pod } } } } })).toBe(pod);
    expect(podSpecOf({ kind: 'Pod', spec: pod })).toBe(pod);
  });
});

it('the kustomization file of each variant exists where kubectl apply -k looks for it', () => {
  for (const dir of Object.values(variants)) expect(readYaml(kustomizationPath(dir)).kind).toBe('Kustomization');
});
