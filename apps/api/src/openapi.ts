import type { INestApplication } from '@nestjs/common';
import type { OpenAPIObject } from '@nestjs/swagger';
import { GATE_STATUSES, PROMOTION_STATUSES } from '#libs/domain/index.js';

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = (description?: string): Schema => ({ type: 'string', ...(description ? { description } : {}) });
const nullable = (schema: Schema): Schema => ({ anyOf: [schema, { type: 'null' }] });
const time = str('ISO 8601 date-time');
const digest = { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' };
const who = { type: 'object', properties: { id: str('principal id, e.g. token:<uuid>'), name: str() } };
const counts = { type: 'object', additionalProperties: { type: 'integer' }, description: 'findings per severity' };
/** Every answer keeps the properties below and may carry more (answers grow; clients ignore what they do not know). */
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({
  type: 'object',
  properties,
  required,
  additionalProperties: true,
});

/** The shapes of the answers; docs/api.md describes each field. */
const SCHEMAS: Record<string, Schema> = {
  Error: obj({ statusCode: { type: 'integer' }, error: str(), message: str('what is wrong, naming the field or the key'), details: {} }, [
    'statusCode',
    'error',
    'message',
  ]),
  GateResult: obj({
    gate: str(),
    status: { enum: [...GATE_STATUSES] },
    summary: str(),
    evidence: { type: 'object' },
    evidenceDigest: nullable(str()),
    round: { type: 'integer' },
    updatedAt: time,
  }),
  Decision: obj({
    id: str(),
    decision: str(),
    verdict: str(),
    kind: str(),
    comment: str(),
    via: { enum: ['api', 'cli', 'slack'] },
    digest: str(),
    evidenceDigest: str(),
    at: time,
    counts: { type: 'boolean' },
  }),
  Promotion: obj(
    {
      id: { type: 'string', format: 'uuid' },
      image: str('the reference as requested'),
      repository: str(),
      digest,
      app: str(),
      source: str(),
      target: str(),
      targetRepository: str(),
      targetTag: nullable(str()),
      status: { enum: [...PROMOTION_STATUSES] },
      reason: str(),
      requestedBy: who,
      round: { type: 'integer' },
      evidenceDigest: nullable(str()),
      expiresAt: nullable(time),
      createdAt: time,
      updatedAt: time,
      gates: { type: 'array', items: ref('GateResult') },
      approvals: { type: 'array', items: ref('Decision') },
      reviews: { type: 'array', items: ref('Decision') },
      approval: obj({
        required: { type: 'integer' },
        roles: { type: 'array', items: str() },
        approvers: { type: 'array', items: str() },
        needed: { type: 'integer' },
      }),
    },
    ['id', 'digest', 'source', 'target', 'status'],
  ),
  PromotionPage: obj({ items: { type: 'array', items: ref('Promotion') }, nextCursor: nullable(str()) }, ['items', 'nextCursor']),
  PolicyEvaluation: obj(
    {
      image: str(),
      target: str(),
      status: { enum: ['passed', 'failed'] },
      summary: str(),
      policyDigest: str(),
      platforms: { type: 'array', items: str() },
      rules: { type: 'array', items: { type: 'object' } },
      facts: { type: 'array', items: { type: 'object' } },
    },
    ['status', 'rules'],
  ),
  Environment: obj(
    {
      name: str(),
      from: nullable(str()),
      entry: { type: 'boolean' },
      repository: str(),
      registry: str(),
      gates: { type: 'object' },
      approvals: { type: 'object' },
      reviews: { type: 'array', items: str() },
      tags: { type: 'array', items: str() },
      copyAttachments: { type: 'boolean' },
      current: { type: 'array', items: obj({ app: str(), repository: str(), digest, promotionId: str(), promotedAt: time }) },
    },
    ['name', 'from', 'repository'],
  ),
  AuditEvent: obj(
    {
      seq: { type: 'integer' },
      id: str(),
      at: time,
      actor: str(),
      action: str(),
      subject: str(),
      data: { type: 'object' },
      prevHash: str(),
      hash: str(),
    },
    ['id', 'action', 'subject'],
  ),
  AuditEventPage: obj({ items: { type: 'array', items: ref('AuditEvent') }, nextCursor: nullable(str()) }, ['items']),
  AuditVerification: obj(
    {
      ok: { type: 'boolean' },
      events: { type: 'integer' },
      pending: { type: 'integer', description: 'events not yet linked into the tree' },
      head: nullable(str('root hash (base64) of the verified tree')),
      checkpoint: nullable(obj({ size: { type: 'integer' }, rootHash: str() })),
      from: { type: 'integer' },
      brokenAt: nullable({ type: 'object' }),
    },
    ['ok', 'events'],
  ),
  AuditKey: obj({ vkey: str('the checkpoint verifier key (C2SP note verifier key)') }, ['vkey']),
  Checkpoint: obj({ size: { type: 'integer' }, rootHash: str('base64'), note: str('the signed C2SP checkpoint note'), createdAt: time }, [
    'size',
    'rootHash',
    'note',
  ]),
  CheckpointPage: obj({ items: { type: 'array', items: ref('Checkpoint') }, nextBefore: nullable({ type: 'integer' }) }, [
    'items',
    'nextBefore',
  ]),
  InclusionProof: obj(
    {
      seq: { type: 'integer' },
      index: { type: 'integer' },
      size: { type: 'integer' },
      leaf: str('base64'),
      leafHash: str('base64'),
      hashes: { type: 'array', items: str('base64') },
      rootHash: str('base64'),
      checkpoint: nullable(str()),
    },
    ['seq', 'index', 'size', 'hashes', 'rootHash'],
  ),
  LeafPage: obj(
    {
      size: { type: 'integer', description: 'the tree size the page belongs to' },
      items: {
        type: 'array',
        items: {
          allOf: [
            ref('AuditEvent'),
            obj({ index: { type: 'integer' }, leaf: str('base64'), proof: { type: 'array', items: str('base64') } }),
          ],
        },
      },
      next: nullable({ type: 'integer' }),
    },
    ['size', 'items', 'next'],
  ),
  ConsistencyProof: obj(
    {
      from: { type: 'integer' },
      to: { type: 'integer' },
      hashes: { type: 'array', items: str('base64') },
      fromRoot: str('base64'),
      toRoot: str('base64'),
    },
    ['from', 'to', 'hashes'],
  ),
  Provenance: obj({ digest, environments: { type: 'array', items: str() }, promotions: { type: 'array', items: ref('Promotion') } }, [
    'digest',
    'environments',
    'promotions',
  ]),
  Token: obj(
    {
      id: str(),
      name: str(),
      roles: { type: 'array', items: str() },
      createdBy: str(),
      createdAt: time,
      revokedAt: nullable(time),
      revokedBy: nullable(str()),
    },
    ['id', 'name', 'roles'],
  ),
  TokenCreated: obj(
    {
      id: str(),
      name: str(),
      roles: { type: 'array', items: str() },
      token: str('the secret; shown in this answer only'),
      createdAt: time,
    },
    ['id', 'name', 'token'],
  ),
  TokenList: obj({ items: { type: 'array', items: ref('Token') } }, ['items']),
  ScanStored: obj(
    {
      id: str(),
      digest,
      source: str(),
      scanner: { type: 'object' },
      scannedAt: time,
      receivedAt: time,
      counts,
      findings: { type: 'integer' },
      created: { type: 'boolean' },
    },
    ['id', 'digest', 'created'],
  ),
  Findings: obj(
    {
      digest,
      results: {
        type: 'array',
        items: obj({
          id: str(),
          source: str(),
          origin: str(),
          scannedAt: time,
          counts,
          findings: { type: 'array', items: { type: 'object' } },
        }),
      },
    },
    ['digest', 'results'],
  ),
  Waiver: obj(
    {
      id: str(),
      vulnerabilityId: str(),
      scope: { type: 'object' },
      justification: str(),
      vex: nullable({ type: 'object' }),
      expiresAt: time,
      createdBy: who,
      createdAt: time,
      revokedAt: nullable(time),
      revokedBy: nullable(who),
      active: { type: 'boolean' },
    },
    ['id', 'vulnerabilityId', 'scope', 'active'],
  ),
  Me: obj(
    {
      id: str(),
      name: str(),
      kind: { enum: ['person', 'workload'] },
      person: str(),
      roles: { type: 'array', items: str() },
      credential: nullable({ type: 'object' }),
      csrfToken: str('with a sign-in session: send it as X-CSRF-Token on requests that change state'),
    },
    ['id', 'name', 'roles'],
  ),
  SignedOut: obj({ signedOut: { const: true } }, ['signedOut']),
  Health: obj({ status: { const: 'ok' } }, ['status']),
  Readiness: obj({ status: { const: 'ok' }, checks: { type: 'object', additionalProperties: str() } }, ['status', 'checks']),
};

interface RouteDoc {
  summary: string;
  /** The success answer's body; `text` for a text/plain one, `null` for an empty one. */
  body: Schema | 'text' | null;
}

/**
 * Summary and answer schema of each route, by `<method> <path>`. A route missing here (or without
 * its own @ApiOperation and response schema) fails the OpenAPI test, so a new route is described
 * when it is added.
 */
const ROUTES: Record<string, RouteDoc> = {
  'post /api/v1/promotions': { summary: 'Request a promotion of an image into an environment', body: ref('Promotion') },
  'get /api/v1/promotions': { summary: 'List promotions, newest first, with filters', body: ref('PromotionPage') },
  'get /api/v1/promotions/{id}': { summary: 'One promotion with its gates, decisions and approval state', body: ref('Promotion') },
  'post /api/v1/promotions/{id}/approvals': { summary: 'Approve or reject a promotion', body: ref('Promotion') },
  'post /api/v1/promotions/{id}/reviews': { summary: 'Record a review a target environment demands', body: ref('Promotion') },
  'post /api/v1/promotions/{id}/cancel': { summary: 'Cancel a promotion that has not started copying', body: ref('Promotion') },
  'post /api/v1/promotions/{id}/retry': { summary: 'Try a failed copy again', body: ref('Promotion') },
  'post /api/v1/promotions/{id}/reevaluate': { summary: 'Run the gates again in a new round', body: ref('Promotion') },
  'post /api/v1/policy/evaluate': { summary: "Dry run of an environment's policy against an image", body: ref('PolicyEvaluation') },
  'get /api/v1/environments': {
    summary: 'The environments of the pipeline and what is in each',
    body: { type: 'array', items: ref('Environment') },
  },
  'get /api/v1/images/{digest}/provenance': {
    summary: 'Where a digest has been, who let it in and on what evidence',
    body: ref('Provenance'),
  },
  'post /api/v1/images/{digest}/scans': {
    summary: 'Upload a scanner report or a signed vulnerability attestation',
    body: ref('ScanStored'),
  },
  'get /api/v1/images/{digest}/findings': {
    summary: 'Findings per scan source for a digest, with the waivers that cover them',
    body: ref('Findings'),
  },
  'get /api/v1/audit/events': { summary: 'Read the audit log', body: ref('AuditEventPage') },
  'get /api/v1/audit/verify': {
    summary: "Check the audit log's Merkle tree against its signed checkpoints",
    body: ref('AuditVerification'),
  },
  'get /api/v1/audit/key': { summary: "The key that verifies the audit log's checkpoints", body: ref('AuditKey') },
  'get /api/v1/audit/checkpoints': { summary: 'Signed checkpoints of the audit log, newest first', body: ref('CheckpointPage') },
  'post /api/v1/audit/checkpoints': { summary: 'Integrate pending events and sign a checkpoint now', body: ref('Checkpoint') },
  'get /api/v1/audit/proofs/inclusion': { summary: "An event's inclusion proof in the audit log's tree", body: ref('InclusionProof') },
  'get /api/v1/audit/leaves': { summary: "A page of the audit log's leaves with their events, for an export", body: ref('LeafPage') },
  'get /api/v1/audit/proofs/consistency': {
    summary: 'A consistency proof between two sizes of the audit log',
    body: ref('ConsistencyProof'),
  },
  'post /api/v1/tokens': { summary: 'Create an API token (its secret is shown once)', body: ref('TokenCreated') },
  'get /api/v1/tokens': { summary: 'List API tokens, never their secrets', body: ref('TokenList') },
  'delete /api/v1/tokens/{id}': { summary: 'Revoke an API token', body: ref('Token') },
  'post /api/v1/waivers': { summary: 'Waive a vulnerability for a scope until a date', body: ref('Waiver') },
  'get /api/v1/waivers': { summary: 'List waivers', body: { type: 'array', items: ref('Waiver') } },
  'delete /api/v1/waivers/{id}': { summary: 'Revoke a waiver', body: ref('Waiver') },
  'get /api/v1/me': { summary: 'Who the caller is: person or workload, roles and the credential used', body: ref('Me') },
  'post /auth/logout': { summary: 'End the sign-in session and clear its cookies', body: ref('SignedOut') },
  'get /healthz': { summary: 'Liveness: the process serves HTTP', body: ref('Health') },
  'get /readyz': { summary: 'Readiness: the database and Redis answer', body: ref('Readiness') },
  'get /metrics': { summary: 'Prometheus metrics of this process (needs a token)', body: 'text' },
};

/** Routes anyone may call: probes. Everything else needs a bearer token, /metrics included. */
const OPEN = new Set(['get /healthz', 'get /readyz']);

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  responses?: Record<string, { description?: string; content?: Record<string, { schema?: Schema }> }>;
}

/** The OpenAPI document: routes from the controllers, summaries and answer shapes from ROUTES. */
export async function openApiDocument(app: INestApplication): Promise<OpenAPIObject> {
  const { DocumentBuilder, SwaggerModule } = await import('@nestjs/swagger');
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Image promoter')
      .setDescription('Promotes container images between environments behind gates and approvals')
      .setVersion('1')
      // API tokens are opaque random strings (pmt_…), not JWTs: no bearerFormat, so no tool tries to decode them.
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        description: 'an API token (POST /api/v1/tokens), sent as Authorization: Bearer <token>',
      })
      .build(),
  );
  // addBearerAuth fills in bearerFormat 'JWT' whatever it is given.
  const bearer = document.components?.securitySchemes?.bearer as { bearerFormat?: string } | undefined;
  if (bearer) delete bearer.bearerFormat;
  document.components = { ...document.components, schemas: { ...(document.components?.schemas ?? {}), ...(SCHEMAS as object) } };
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item as Record<string, Operation>)) {
      const key = `${method} ${path}`;
      const described = ROUTES[key];
      if (path === '/healthz' || path === '/readyz' || path === '/metrics') op.tags = ['health'];
      // The health controller carries no OpenAPI decorators (the worker serves it without loading them).
      op.security = OPEN.has(key) ? [] : [{ bearer: [] }];
      if (!described) continue;
      op.summary ??= described.summary;
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (!status.startsWith('2') || response.content || described.body === null) continue;
        response.content =
          described.body === 'text' ? { 'text/plain': { schema: { type: 'string' } } } : { 'application/json': { schema: described.body } };
      }
      if (!OPEN.has(key)) {
        op.responses = {
          ...op.responses,
          '401': op.responses?.['401'] ?? {
            description: 'no token, or one that is unknown, revoked or expired',
            content: { 'application/json': { schema: ref('Error') } },
          },
        };
      }
    }
  }
  return document;
}
