// The vulnerability gate's engines: the built-in scanner (packages from the image filesystem,
// CycloneDX SBOM, OSV database and matching) and the findings model every source normalises into.
export * from './findings.js';
export type { Package, PackageType, OsInfo } from './packages.js';
export { ScannerService, type ScanImage, type ScanResult, type PlatformScan, type MatchResult, type ScannerOptions } from './scanner.js';
export { buildSbom, CYCLONEDX_PREDICATE_TYPE, type CycloneDxBom, type CycloneDxComponent, type SbomSubject } from './sbom.js';
export { detectPackages, scannerWants, osInfo, osvEcosystem } from './detect/index.js';
export { compareVersions, schemeOf, type VersionScheme } from './versions/index.js';
export { parseOsvRecord, type VulnEntry, type AffectedSpec, type AffectedRange, type RangeEvent } from './osv/record.js';
export { matchEntries, affects, lookupKey } from './osv/match.js';
export { cvssScore, fromScore } from './osv/severity.js';
export { importOsv, type ImportReport, type ImportProblem, type ImportOptions } from './vulndb/import.js';
export { readOsvPath, DEFAULT_MAX_RECORD_BYTES, type OsvDocument, type ReadOsvOptions } from './vulndb/sources.js';
export { VulnDbImportError } from './vulndb/errors.js';
export {
  vulnDbStatus,
  lookupEntries,
  type ImportProblemKind,
  type SqlDatabase,
  type SqlRunner,
  type VulnDbStatus,
} from './vulndb/store.js';
export * from './waivers.js';
export {
  parseReportFor,
  detectReportFormat,
  parseVulnStatement,
  ReportError,
  REPORT_FORMATS,
  VULN_PREDICATE_TYPE,
  type ReportFormat,
  type ParsedReport,
  type ParsedAttestation,
} from './reports/index.js';
