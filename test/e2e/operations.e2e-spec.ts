import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stopMessage } from '../../apps/api/src/boot.js';
import { createPino } from '../../apps/api/src/logger.js';
import { PolicyProcessor, ScanProcessor, VerifyProcessor } from '../../apps/worker/src/processors/gate.processor.js';
import { NotifyProcessor } from '../../apps/worker/src/processors/notify.processor.js';
import { PromoteProcessor } from '../../apps/worker/src/processors/promote.processor.js';
import { JobQueues, promoteJobId, QUEUES } from '#libs/queue/index.js';
import { workInFlight } from '../../apps/worker/src/worker.module.js';
import type { GateVerdict } from '#libs/workflow/index.js';
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
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/stopping@${image.digest}`, target: 'gated' });
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

describe('the log at info', () => {
  let t: TestApp;
  let ci: string;
  const lines: Array<Record<string, unknown>> = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  beforeAll(async () => {
    t = await startTestApp({ pino: createPino('info', 'json', out) });
    ci = await t.token('ci', ['ci']);
  });
  afterAll(() => t?.close());

  it('has one line per step of a promotion, with its id, and no route listing or token', async () => {
    expect(lines.filter((l) => String(l.msg).startsWith('Mapped {'))).toEqual([]);
    expect(lines.filter((l) => l.context === 'InstanceLoader')).toEqual([]);

    const image = await pushImage({ url: `http://${registryHost()}` }, 'dev/logged', { layers: 2 });
    const created = await t
      .api()
      .post('/api/v1/promotions')
      .set(auth(ci))
      .send({ image: `${registryHost()}/dev/logged@${image.digest}`, target: 'open' });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    await eventually(async () => lines.some((l) => l.promotionId === id && l.step === 'promoted'));

    const mine = lines.filter((l) => l.promotionId === id);
    expect(mine.map((l) => l.step)).toEqual(['requested', 'approved', 'copy.started', 'copy.finished', 'promoted']);
    for (const l of mine) {
      expect(l.level).toBe(30);
      expect(l.msg).toContain(`promotion ${id} `);
    }
    const finished = String(mine.find((l) => l.step === 'copy.finished')!.msg);
    // Same registry: the two layers and the config are mounted, not copied.
    expect(finished).toMatch(/copy finished: 0 B in 0 blob\(s\) copied, 3 mounted, 0 already there in [\d.]+ s$/);
    expect(JSON.stringify(lines)).not.toContain(ci);
  });
});
