import { Module } from '@nestjs/common';
import { ScanModule, WorkflowModule } from '#libs/workflow/index.js';
import { ScanWatcher } from './scan-watcher.js';
import { ScanGate } from './scan.gate.js';

@Module({ imports: [WorkflowModule, ScanModule], providers: [ScanGate, ScanWatcher], exports: [ScanGate, ScanWatcher] })
export class ScanGateModule {}
