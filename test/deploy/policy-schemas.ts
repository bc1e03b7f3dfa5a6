// Minimal structural schemas for the two admission controllers' custom resources, written from their
// documented shapes (Kyverno kyverno.io/v1 ClusterPolicy; sigstore policy-controller
// policy.sigstore.dev/v1beta1 ClusterImagePolicy). Not their full CRDs: they cover the fields
// deploy/policies uses and refuse unknown ones, so a misspelt field fails instead of being ignored.

const name = { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' };
const labelSelector = {
  type: 'object',
  additionalProperties: false,
  properties: {
    matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
    matchExpressions: { type: 'array', items: { type: 'object', required: ['key', 'operator'] } },
  },
};
const metadata = {
  type: 'object',
  required: ['name'],
  properties: { name, labels: { type: 'object' }, annotations: { type: 'object', additionalProperties: { type: 'string' } } },
};

const resourceFilter = {
  type: 'object',
  additionalProperties: false,
  properties: {
    resources: {
      type: 'object',
      additionalProperties: false,
      properties: {
        kinds: { type: 'array', minItems: 1, items: { type: 'string' } },
        namespaces: { type: 'array', items: { type: 'string' } },
        namespaceSelector: labelSelector,
        selector: labelSelector,
      },
    },
  },
};
const matchResources = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { any: { type: 'array', minItems: 1, items: resourceFilter }, all: { type: 'array', minItems: 1, items: resourceFilter } },
};

const keysAttestor = {
  type: 'object',
  additionalProperties: false,
  properties: {
    publicKeys: { type: 'string' },
    secret: { type: 'object', additionalProperties: false, required: ['name', 'namespace'], properties: { name, namespace: name } },
    signatureAlgorithm: { type: 'string' },
    rekor: {
      type: 'object',
      additionalProperties: false,
      properties: { url: { type: 'string' }, ignoreTlog: { type: 'boolean' }, pubkey: { type: 'string' } },
    },
    ctlog: { type: 'object', additionalProperties: false, properties: { ignoreSCT: { type: 'boolean' }, pubkey: { type: 'string' } } },
  },
  oneOf: [{ required: ['publicKeys'] }, { required: ['secret'] }],
};
const attestorSet = {
  type: 'object',
  additionalProperties: false,
  required: ['entries'],
  properties: {
    count: { type: 'integer', minimum: 1 },
    entries: {
      type: 'array',
      minItems: 1,
      items: { type: 'object', additionalProperties: false, required: ['keys'], properties: { keys: keysAttestor } },
    },
  },
};
const condition = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'operator', 'value'],
  properties: {
    key: { type: 'string' },
    operator: { enum: ['Equals', 'NotEquals', 'In', 'AnyIn', 'AllIn', 'NotIn', 'GreaterThan', 'LessThan'] },
    value: {},
    message: { type: 'string' },
  },
};
const verifyImage = {
  type: 'object',
  additionalProperties: false,
  required: ['imageReferences', 'attestors'],
  properties: {
    type: { enum: ['Cosign', 'Notary'] },
    imageReferences: { type: 'array', minItems: 1, items: { type: 'string' } },
    required: { type: 'boolean' },
    mutateDigest: { type: 'boolean' },
    verifyDigest: { type: 'boolean' },
    attestors: { type: 'array', minItems: 1, items: attestorSet },
    attestations: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['type', 'attestors', 'conditions'],
        properties: {
          type: { type: 'string' },
          attestors: { type: 'array', minItems: 1, items: attestorSet },
          conditions: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              additionalProperties: false,
              properties: { all: { type: 'array', items: condition }, any: { type: 'array', items: condition } },
            },
          },
        },
      },
    },
  },
};

export const kyvernoClusterPolicySchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'kyverno.io/v1' },
    kind: { const: 'ClusterPolicy' },
    metadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['rules'],
      properties: {
        validationFailureAction: { enum: ['Enforce', 'Audit'] },
        background: { type: 'boolean' },
        webhookTimeoutSeconds: { type: 'integer', minimum: 1, maximum: 30 },
        failurePolicy: { enum: ['Fail', 'Ignore'] },
        rules: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'match'],
            properties: {
              name,
              match: matchResources,
              exclude: matchResources,
              validate: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  message: { type: 'string' },
                  pattern: { type: 'object' },
                  podSecurity: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['level'],
                    properties: { level: { enum: ['privileged', 'baseline', 'restricted'] }, version: { type: 'string' } },
                  },
                },
                oneOf: [{ required: ['pattern'] }, { required: ['podSecurity'] }],
              },
              verifyImages: { type: 'array', minItems: 1, items: verifyImage },
            },
            oneOf: [{ required: ['validate'] }, { required: ['verifyImages'] }],
          },
        },
      },
    },
  },
};

const cipAttestation = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'predicateType', 'policy'],
  properties: {
    name,
    predicateType: { type: 'string' },
    policy: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'data'],
      properties: { type: { enum: ['cue', 'rego'] }, data: { type: 'string', minLength: 1 } },
    },
  },
};

export const policyControllerClusterImagePolicySchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  additionalProperties: false,
  properties: {
    apiVersion: { const: 'policy.sigstore.dev/v1beta1' },
    kind: { const: 'ClusterImagePolicy' },
    metadata,
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['images', 'authorities'],
      properties: {
        mode: { enum: ['enforce', 'warn'] },
        images: {
          type: 'array',
          minItems: 1,
          items: { type: 'object', additionalProperties: false, properties: { glob: { type: 'string' }, regex: { type: 'string' } } },
        },
        authorities: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'key'],
            properties: {
              name,
              key: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  data: { type: 'string' },
                  secretRef: { type: 'object', additionalProperties: false, required: ['name'], properties: { name } },
                  kms: { type: 'string' },
                  hashAlgorithm: { enum: ['sha224', 'sha256', 'sha384', 'sha512'] },
                },
                oneOf: [{ required: ['data'] }, { required: ['secretRef'] }, { required: ['kms'] }],
              },
              attestations: { type: 'array', items: cipAttestation },
            },
          },
        },
      },
    },
  },
};
