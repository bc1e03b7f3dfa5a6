import { Module } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AppConfig } from '#libs/config/index.js';
import { RegistryClient } from '#libs/registry/index.js';
import { ScannerService } from '#libs/scanning/index.js';
import { WorkflowModule } from '../workflow.module.js';
import { ScanResultsService } from './scan-results.service.js';
import { WaiverService } from './waiver.service.js';

/** The built-in scanner over the pipeline's registries and the database the OSV records are in, reading images within `limits.image`. */
const scannerProvider = {
  provide: ScannerService,
  inject: [RegistryClient, DataSource, AppConfig],
  useFactory: (registry: RegistryClient, db: DataSource, config: AppConfig) =>
    new ScannerService({ registry, db, limits: config.pipeline.limits.image }),
};

@Module({
  imports: [WorkflowModule],
  providers: [ScanResultsService, WaiverService, scannerProvider],
  exports: [ScanResultsService, WaiverService, ScannerService],
})
export class ScanModule {}
