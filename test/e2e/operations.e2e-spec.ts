import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopMessage } from '../../apps/api/src/boot.js';
import { PolicyProcessor, ScanProcessor, VerifyProcessor } from '../../apps/worker/src/processors/gate.processor.js';
import { NotifyProcessor } from '../../apps/worker/src/processors/notify.processor.js';
import { PromoteProcessor } from '../../apps/worker/src/processors/promote.processor.js';
import { JobQueues, promoteJobId, QUEUES } from '../../libs/queue/index.js';
import { workInFlight } from '../../apps/worker/src/worker.module.js';
import type { GateVerdict } from '../../libs/workflow/index.js';
import { pushImage } from '../helpers/images.js';
import { eventually, localPipeline, registryHost, startTestApp, type TestApp } from '../helpers/test-app.js';

const auth = (token: string) => ({ Authorization: `Bearer ${token}` });

describe('stopping while work runs', () => {
  let t: TestApp;
  let ci: string;
  let release: (v: GateVerdict) => void = () => undefined;
  const held = new Promise<GateVerdict>((resolve) => (release = resolve));
  beforeAll(async () => {
    // The scan gate runs until the test lets it finish: the worker is mid-job meanwhile.
    t = await startTestApp({ gateHandlers: { scan: () => held } });
    ci = await t.token('ci', ['ci']);
  });
  afterAll(async () => {
    release({ status: 'passed', summary: 'released', evidence: {} });
    await t?.close();
  });

  it('names the jobs it waits for and how long it will wait', async () => {
    expect(stopMessage('SIGINT', workInFlight(t.app))).toBe('stopping on SIGINT; no work in flight');
    const image = await pushImage({ url: `http://${registryHost()}` }, 'dev/stopping');
    const created = await t.api().post('/api/v1/promotions').set(auth(ci)).send({ image: `${registryHost()}/dev/stopping@${image.digest}`, target: 'gated' });
    expect(created.status).toBe(202);
    const running = await eventually(async () => {
      const work = workInFlight(t.app);
      return work.some((w) => w.startsWith(`the scan gate of promotion ${created.body.id} (running `)) && work;
    });
    const message = stopMessage('SIGINT', running, 15_000);
    expect(message).toContain(`waiting up to 15 s for the scan gate of promotion ${created.body.id} (running `);
    expect(message).toContain('Press Ctrl-C again to stop now');

    release({ status: 'passed', summary: 'released', evidence: {} });
    await eventually(async () => !workInFlight(t.app).some((w) => w.includes('scan gate')));
  });
});

describe('worker: in the pipeline file', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      pipeline:
        localPipeline() +
        `worker:
  concurrency: { promote: 5, gates: 3, notify: 7 }
  retries:
    promote: { attempts: 2, backoff: 3s }
    gates: { attempts: 9, backoff: 250ms }
`,
    });
  });
  afterAll(() => t?.close());

  it('sets how many jobs of each kind run at once and how often they are tried', async () => {
    expect(t.app.get(PromoteProcessor).worker.concurrency).toBe(5);
    for (const gate of [VerifyProcessor, ScanProcessor, PolicyProcessor]) expect(t.app.get(gate).worker.concurrency).toBe(3);
    expect(t.app.get(NotifyProcessor).worker.concurrency).toBe(7);

    // Gate jobs take the queues' defaults; promote jobs carry their own.
    const scan = t.app.get<Queue>(getQueueToken(QUEUES.scan));
    expect(scan.defaultJobOptions).toMatchObject({ attempts: 9, backoff: { type: 'exponential', delay: 250 } });
    const promote = t.app.get<Queue>(getQueueToken(QUEUES.promote));
    await promote.pause();
    const id = crypto.randomUUID();
    await t.app.get(JobQueues).enqueuePromote(id);
    const job = await promote.getJob(promoteJobId(id));
    expect(job?.opts).toMatchObject({ attempts: 2, backoff: { type: 'exponential', delay: 3_000 } });
    await job?.remove();
    await promote.resume();
  });
});
