import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { PromotionEntity } from '#libs/db/index.js';
import { ServiceError } from '#libs/domain/index.js';
import { isDigest } from '#libs/registry/index.js';
import { AuditQueryService } from './audit-query.service.js';
import { PromotionService } from './promotion.service.js';

/** Where a digest has been, who let it in, and on what evidence: oldest first. */
@Injectable()
export class ProvenanceService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly promotions: PromotionService,
    private readonly auditQuery: AuditQueryService,
  ) {}

  async forDigest(digest: string) {
    if (!isDigest(digest))
      throw new ServiceError('bad_request', `digest: '${digest}' is not a sha256 digest (sha256:<64 hex>)`, { field: 'digest' });
    const manager = this.dataSource.manager;
    const rows = await manager.find(PromotionEntity, { where: { digest }, order: { seq: 'ASC' } });
    const promotions = [];
    for (const p of rows) promotions.push(await this.promotions.view(manager, p));
    const events = await this.auditQuery.forSubjects(promotions.map((p) => `promotion:${p.id}`));
    return {
      digest,
      environments: [...new Set(promotions.filter((p) => p.status === 'promoted').map((p) => p.target))],
      promotions: promotions.map((p) => ({ ...p, auditEvents: events.filter((e) => e.subject === `promotion:${p.id}`) })),
    };
  }
}
