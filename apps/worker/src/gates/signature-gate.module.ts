import { Module } from '@nestjs/common';
import { WorkflowModule } from '#libs/workflow/index.js';
import { SignatureGate } from './signature.gate.js';

@Module({ imports: [WorkflowModule], providers: [SignatureGate], exports: [SignatureGate] })
export class SignatureGateModule {}
