import { join, posix } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parsePipeline } from '#libs/config/index.js';
import { PROMOTER_VERIFIER_ID, VSA_PREDICATE_TYPE } from '#libs/signing/index.js';
import { deployDir, renderKustomization, type Doc } from './manifests.js';
import { kyvernoClusterPolicySchema, policyControllerClusterImagePolicySchema } from './policy-schemas.js';

const policies = renderKustomization(join(deployDir, 'policies'));
const promoter = renderKustomization(join(deployDir, 'kubernetes', 'overlays', 'production'));

const find = (docs: Doc[], kind: string, name: string) => {
  const found = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!found) throw new Error(`${kind}/${name} is missing`);
  return found;
};
const verifyPolicy = find(policies.docs, 'ClusterPolicy', 'verify-promoted-images');
const hardeningPolicy = find(policies.docs, 'ClusterPolicy', 'pod-hardening');
const imagePolicy = find(policies.docs, 'ClusterImagePolicy', 'verify-promoted-images');
const verifyRules = (verifyPolicy.spec.rules as Doc[]).flatMap((r) => r.verifyImages as Doc[]);
const keyEntries = (sets: Doc[]) => sets.flatMap((s) => s.entries as Doc[]).map((e) => e.keys);

/** The key pair the promoter signs with, as its workers mount it: the Secret and the public key's data key. */
function promoterSigningKey(): { secretName: string; publicKeyItem: string } {
  const pipeline = parsePipeline(find(promoter.docs, 'ConfigMap', 'promoter-config').data['promoter.yaml']);
  const keyPath = pipeline.signing!.key.path;
  const pod = find(promoter.docs, 'Deployment', 'promoter-worker').spec.template.spec;
  const mount = (pod.containers[0].volumeMounts as Doc[]).find((m) => keyPath.startsWith(`${m.mountPath}/`))!;
  const volume = (pod.volumes as Doc[]).find((v) => v.name === mount.name)!;
  // cosign's pair is <name>.key and <name>.pub (promoctl keygen writes cosign.key and cosign.pub).
  const publicKeyFile = `${posix.basename(keyPath, '.key')}.pub`;
  const item = (volume.secret.items as Doc[]).find((i) => i.path === publicKeyFile);
  if (!item) throw new Error(`the worker's ${volume.secret.secretName} volume does not hold ${publicKeyFile}`);
  return { secretName: volume.secret.secretName, publicKeyItem: item.key };
}

describe('admission policies', () => {
  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });

  it("are every object the policies kustomization renders, and validate against their controllers' shapes", () => {
    const kinds = policies.docs.map((d) => `${d.apiVersion}/${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`).sort();
    expect(kinds).toEqual([
      'kyverno.io/v1/ClusterPolicy//pod-hardening',
      'kyverno.io/v1/ClusterPolicy//verify-promoted-images',
      'policy.sigstore.dev/v1beta1/ClusterImagePolicy//verify-promoted-images',
      'v1/Secret/cosign-system/promoter-cosign-pub',
      'v1/Secret/kyverno/promoter-cosign-pub',
    ]);
    const checks = [
      [ajv.compile(kyvernoClusterPolicySchema), [verifyPolicy, hardeningPolicy]],
      [ajv.compile(policyControllerClusterImagePolicySchema), [imagePolicy]],
    ] as const;
    for (const [validate, docs] of checks) {
      for (const doc of docs) expect(validate(doc) ? [] : validate.errors, `${doc.kind}/${doc.metadata.name}`).toEqual([]);
    }
  });

  it('the structural schemas refuse a misspelt field (so a typo cannot silently weaken a policy)', () => {
    const validate = ajv.compile(kyvernoClusterPolicySchema);
    const copy = structuredClone(verifyPolicy);
    copy.spec.rules[0].verifyImages[0].attestations[0].condtions = copy.spec.rules[0].verifyImages[0].attestations[0].conditions;
    delete copy.spec.rules[0].verifyImages[0].attestations[0].conditions;
    expect(validate(copy)).toBe(false);
  });

  it('demand the predicate type and verifier id the promoter attests with (libs/signing), verificationResult PASSED', () => {
    expect(VSA_PREDICATE_TYPE).toBe('https://slsa.dev/verification_summary/v1');
    for (const rule of verifyRules) {
      expect(rule.required).toBe(true);
      expect(rule.attestations.map((a: Doc) => a.type)).toEqual([VSA_PREDICATE_TYPE]);
      expect(rule.attestations[0].conditions).toEqual([
        {
          all: [
            { key: '{{ verifier.id }}', operator: 'Equals', value: PROMOTER_VERIFIER_ID },
            { key: '{{ verificationResult }}', operator: 'Equals', value: 'PASSED' },
          ],
        },
      ]);
    }
    for (const authority of imagePolicy.spec.authorities as Doc[]) {
      expect(authority.attestations.map((a: Doc) => a.predicateType)).toEqual([VSA_PREDICATE_TYPE]);
      const cue = authority.attestations[0].policy.data as string;
      expect(authority.attestations[0].policy.type).toBe('cue');
      expect(cue).toContain(`predicateType: ${JSON.stringify(VSA_PREDICATE_TYPE)}`);
      expect(cue).toContain(`verifier: id: ${JSON.stringify(PROMOTER_VERIFIER_ID)}`);
      expect(cue).toContain('verificationResult: "PASSED"');
      expect(cue.indexOf('verificationResult')).toBeGreaterThan(cue.indexOf('predicate: {'));
    }
  });

  it("trust exactly the public key of the pair the promoter's workers mount, under the same data key", () => {
    const { secretName, publicKeyItem } = promoterSigningKey();
    expect(secretName).toBe('promoter-signing-key');
    const generated = policies.docs.filter((d) => d.kind === 'Secret');
    for (const secret of generated) {
      // The data key both controllers read (cosign's k8s:// layout) is the one the promoter's Secret holds.
      expect(Object.keys(secret.data), `${secret.metadata.namespace}/${secret.metadata.name}`).toEqual([publicKeyItem]);
      expect([...policies.generatedFrom.get(`Secret/${secret.metadata.namespace}/${secret.metadata.name}`)!.keys()]).toEqual([
        publicKeyItem,
      ]);
    }
    const kyvernoKeys = [
      ...keyEntries(verifyRules.flatMap((r) => r.attestors)),
      ...keyEntries(verifyRules.flatMap((r) => r.attestations.flatMap((a: Doc) => a.attestors))),
    ];
    expect(kyvernoKeys.length).toBeGreaterThanOrEqual(2);
    for (const keys of kyvernoKeys) {
      expect(keys.publicKeys, 'no inline key: the Secret is the one place to rotate it').toBeUndefined();
      expect(
        generated.some((s) => s.metadata.name === keys.secret.name && s.metadata.namespace === keys.secret.namespace),
        JSON.stringify(keys.secret),
      ).toBe(true);
      // Offline key signing: no transparency log entry or certificate timestamp to look for.
      expect(keys.rekor).toEqual({ ignoreTlog: true });
      expect(keys.ctlog).toEqual({ ignoreSCT: true });
    }
    for (const authority of imagePolicy.spec.authorities as Doc[]) {
      // policy-controller reads key Secrets from its own namespace, cosign-system.
      expect(generated.some((s) => s.metadata.name === authority.key.secretRef.name && s.metadata.namespace === 'cosign-system')).toBe(
        true,
      );
    }
  });

  it('apply to production namespaces only, and to the repositories the production pipeline promotes into', () => {
    for (const rule of verifyPolicy.spec.rules as Doc[]) {
      for (const filter of rule.match.any as Doc[])
        expect(filter.resources.namespaceSelector.matchLabels).toEqual({ environment: 'production' });
    }
    const pipeline = parsePipeline(find(promoter.docs, 'ConfigMap', 'promoter-config').data['promoter.yaml']);
    const last = pipeline.environments.find((e) => !pipeline.environments.some((other) => other.from === e.name))!;
    const host = pipeline.registries.find((r) => r.name === last.registry)!.host;
    const repository = `${host}/${last.path}`;
    expect(verifyRules.flatMap((r) => r.imageReferences)).toEqual([`${repository.replace('{app}', '*')}`]);
    expect(imagePolicy.spec.images).toEqual([{ glob: `${repository.replace('{app}', '**')}` }]);
  });

  it('verify the signature before admitting, pin the digest, and fail closed', () => {
    expect(verifyPolicy.spec.validationFailureAction).toBe('Enforce');
    expect(verifyPolicy.spec.failurePolicy).toBe('Fail');
    for (const rule of verifyRules) {
      expect(rule.mutateDigest).toBe(true);
      expect(rule.verifyDigest).toBe(true);
    }
    expect(imagePolicy.spec.mode).toBe('enforce');
  });

  it("enforce the hardening the promoter's own pods carry: Pod Security restricted plus a read-only root filesystem", () => {
    expect(hardeningPolicy.spec.validationFailureAction).toBe('Enforce');
    const rules = hardeningPolicy.spec.rules as Doc[];
    expect(rules.find((r) => r.validate.podSecurity)?.validate.podSecurity).toEqual({ level: 'restricted', version: 'latest' });
    const pattern = rules.find((r) => r.validate.pattern)!.validate.pattern;
    expect(pattern.spec.containers).toEqual([{ securityContext: { readOnlyRootFilesystem: true } }]);
    expect(pattern.spec['=(initContainers)']).toEqual([{ securityContext: { readOnlyRootFilesystem: true } }]);
    for (const rule of rules) expect(rule.match.any).toEqual([{ resources: { kinds: ['Pod'] } }]);
  });
});
