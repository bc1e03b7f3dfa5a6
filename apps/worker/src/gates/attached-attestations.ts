import type { RegistryClient } from '#libs/registry/index.js';
import { parseVulnStatement, ReportError, VULN_PREDICATE_TYPE } from '#libs/scanning/index.js';
import { attestationTag, FormatError, parseDsseEnvelope, parseInTotoStatement, verifyImage, type TrustedKey } from '#libs/signing/index.js';
import type { ScanResultsService } from '#libs/workflow/index.js';

const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;

interface ImageRef {
  registry: string;
  repository: string;
  digest: string;
}

/**
 * Reads the vuln/v1 attestations attached to the image (`.att` DSSE layers), keeps those the
 * signing library verifies against the environment's keys (signature over the PAE, subject = the
 * digest), and stores each as an `attached` scan result (once per envelope). Problems are returned
 * as text for the evidence; registry failures other than "not there" are thrown.
 */
export async function readAttachedVulnAttestations(
  registry: RegistryClient,
  results: ScanResultsService,
  image: ImageRef,
  keys: TrustedKey[],
  now: Date,
  signal?: AbortSignal,
): Promise<{ stored: number; problems: string[] }> {
  if (keys.length === 0) return { stored: 0, problems: ['no attestationKeys configured: attached attestations are not read'] };
  const report = await verifyImage(
    registry,
    image,
    { keys: [], keyless: null, attestations: [{ predicateType: VULN_PREDICATE_TYPE, keys, keyless: null }] },
    { now, signal },
  );
  const result = report.attestations[0]!;
  const problems: string[] = [];
  if (result.problem) problems.push(result.problem);
  const accepted = result.items.filter((i) => i.accepted && i.digest);
  for (const item of result.items) {
    if (!item.accepted && item.predicateType === VULN_PREDICATE_TYPE)
      problems.push(`attached attestation layer ${item.index} refused: ${item.detail}`);
  }
  if (accepted.length === 0) return { stored: 0, problems };
  const location = { registry: image.registry, repository: image.repository };
  const manifest = await registry.getManifest(location, attestationTag(image.digest), signal);
  let stored = 0;
  for (const item of accepted) {
    const layer = (manifest.json.layers ?? []).find((l: { digest: string }) => l.digest === item.digest);
    if (!layer) continue;
    try {
      const envelope = parseDsseEnvelope(await registry.readBlob(location, layer, MAX_ENVELOPE_BYTES, signal));
      const parsed = parseVulnStatement(parseInTotoStatement(Buffer.from(envelope.payload, 'base64')));
      await results.insert({
        digest: image.digest,
        source: 'attestation',
        origin: 'attached',
        scanner: parsed.scanner,
        scannedAt: parsed.scannedAt && parsed.scannedAt < now ? parsed.scannedAt : now,
        submittedBy: `attestation:${item.signer && item.signer.kind === 'key' ? item.signer.source : 'unknown'}`,
        findings: parsed.findings,
        reportDigest: item.digest!,
        envelope,
      });
      stored++;
    } catch (err) {
      if (err instanceof ReportError || err instanceof FormatError)
        problems.push(`attached attestation layer ${item.index}: ${err.message}`);
      else throw err;
    }
  }
  return { stored, problems };
}
