import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { policyRuntime, type PolicyRuntime, type RuleOutcome } from './cel-runtime.js';
import type { PolicyRule } from './rule.js';

export interface EvaluatorOptions {
  /** Time one rule may take on one platform's facts before the worker is stopped (default 2 s). */
  timeoutMs?: number;
  /** Heap the evaluation worker may use (default 64 MiB); a rule building huge values hits it. */
  memoryMb?: number;
  /** Time the worker may take to start (default 15 s). */
  startTimeoutMs?: number;
}

export interface EvaluationTask {
  rule: PolicyRule;
  /** Index into the facts passed alongside. */
  facts: number;
}

type FromWorker = { ready: true } | { id: number; index: number; result: RuleOutcome };

/** The worker's message loop: evaluates each task in order and reports each result at once. */
function workerMain(port: import('node:worker_threads').MessagePort, runtime: Promise<PolicyRuntime>): void {
  runtime.then(
    (rt) => {
      port.on('message', (m: { id: number; start: number; facts: Record<string, unknown>[]; tasks: EvaluationTask[] }) => {
        for (let index = m.start; index < m.tasks.length; index++) {
          const task = m.tasks[index]!;
          let result: RuleOutcome;
          try {
            result = rt.evaluate(task.rule, m.facts[task.facts]!);
          } catch (err) {
            result = { outcome: 'error', message: `evaluation failed: ${String((err as Error)?.message ?? err).split('\n')[0]}` };
          }
          port.postMessage({ id: m.id, index, result });
        }
      });
      port.postMessage({ ready: true });
    },
    (err: Error) => {
      throw err;
    },
  );
}

let workerSource: string | null = null;

function source(): string {
  if (workerSource === null) {
    const celUrl = pathToFileURL(createRequire(import.meta.url).resolve('@marcbachmann/cel-js')).href;
    // Both functions are self-contained, so their source text runs in the worker as it is; this
    // works the same from the TypeScript sources (tests) and the compiled dist.
    workerSource = [
      '"use strict";',
      "const { parentPort } = require('node:worker_threads');",
      `const policyRuntime = ${policyRuntime.toString()};`,
      `(${workerMain.toString()})(parentPort, import(${JSON.stringify(celUrl)}).then((cel) => policyRuntime(cel)));`,
    ].join('\n');
  }
  return workerSource;
}

interface Job {
  id: number;
  facts: Record<string, unknown>[];
  tasks: EvaluationTask[];
  results: Array<RuleOutcome | undefined>;
  /** The first task without a result. */
  next: number;
}

/**
 * Evaluates rules in a worker thread with a hard deadline per rule and a heap limit: a rule that
 * runs too long or builds huge values stops the worker, gets outcome `error`, and the remaining
 * rules go on in a fresh worker. The caller's thread never runs rule code.
 */
export class PolicyEvaluator {
  private readonly timeoutMs: number;
  private readonly memoryMb: number;
  private readonly startTimeoutMs: number;
  private worker: Worker | null = null;
  private ready: Promise<Worker> | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private closed = false;
  /** Workers started so far (tests check that a runaway rule cost a restart). */
  workersStarted = 0;

  constructor(options: EvaluatorOptions = {}) {
    this.timeoutMs = options.timeoutMs ?? 2_000;
    this.memoryMb = options.memoryMb ?? 64;
    this.startTimeoutMs = options.startTimeoutMs ?? 15_000;
  }

  /** Results in task order. Calls are served one at a time. */
  evaluate(facts: Record<string, unknown>[], tasks: EvaluationTask[]): Promise<RuleOutcome[]> {
    const run = this.queue.then(() => this.run(facts, tasks));
    this.queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    this.ready = null;
    await worker?.terminate();
  }

  private async run(facts: Record<string, unknown>[], tasks: EvaluationTask[]): Promise<RuleOutcome[]> {
    if (this.closed) throw new Error('the policy evaluator is closed');
    if (tasks.length === 0) return [];
    const job: Job = { id: this.nextId++, facts, tasks, results: new Array(tasks.length), next: 0 };
    while (job.next < tasks.length) {
      // Closed while this call ran (shutdown): no new worker; the caller tries again later.
      if (this.closed) throw new Error('the policy evaluator is closed');
      let worker: Worker;
      try {
        worker = await this.start();
      } catch (err) {
        // Without a worker nothing can be evaluated: every remaining rule fails closed.
        for (let i = job.next; i < tasks.length; i++)
          job.results[i] = { outcome: 'error', message: `the rule could not be evaluated: ${(err as Error).message}` };
        job.next = tasks.length;
        break;
      }
      await this.attempt(worker, job);
    }
    return job.results as RuleOutcome[];
  }

  /** Runs the job's remaining tasks on one worker until they are done or the worker has to go. */
  private attempt(worker: Worker, job: Job): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => stop(`the rule ran longer than the limit of ${this.timeoutMs} ms and was stopped`), this.timeoutMs);
      };
      const finish = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
        worker.unref();
        resolve();
      };
      // The task in progress is charged with the failure; the rest continue in a new worker.
      const stop = (reason: string) => {
        job.results[job.next] = { outcome: 'error', message: reason };
        job.next++;
        this.discard(worker);
        finish();
      };
      const onMessage = (m: FromWorker) => {
        if (!('id' in m) || m.id !== job.id || m.index !== job.next) return;
        job.results[m.index] = m.result;
        job.next++;
        if (job.next >= job.tasks.length) finish();
        else arm();
      };
      const onError = (err: Error & { code?: string }) =>
        stop(
          err.code === 'ERR_WORKER_OUT_OF_MEMORY'
            ? `the rule used more than the memory limit of ${this.memoryMb} MiB and was stopped`
            : `the evaluation worker failed: ${err.message}`,
        );
      const onExit = (code: number) => stop(`the evaluation worker exited (code ${code})`);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
      worker.ref();
      arm();
      worker.postMessage({ id: job.id, start: job.next, facts: job.facts, tasks: job.tasks });
    });
  }

  private discard(worker: Worker): void {
    if (this.worker === worker) {
      this.worker = null;
      this.ready = null;
    }
    void worker.terminate().catch(() => undefined);
  }

  private start(): Promise<Worker> {
    if (this.ready) return this.ready;
    const worker = new Worker(source(), {
      eval: true,
      resourceLimits: {
        maxOldGenerationSizeMb: this.memoryMb,
        maxYoungGenerationSizeMb: Math.max(4, Math.floor(this.memoryMb / 4)),
        stackSizeMb: 4,
      },
    });
    this.workersStarted++;
    this.worker = worker;
    this.ready = new Promise<Worker>((resolve, reject) => {
      const timer = setTimeout(
        () => fail(new Error(`the evaluation worker did not start within ${this.startTimeoutMs} ms`)),
        this.startTimeoutMs,
      );
      const fail = (err: Error) => {
        clearTimeout(timer);
        worker.off('message', onReady);
        this.discard(worker);
        reject(err);
      };
      const onReady = (m: FromWorker) => {
        if (!('ready' in m)) return;
        clearTimeout(timer);
        worker.off('message', onReady);
        worker.off('error', fail);
        worker.unref();
        resolve(worker);
      };
      worker.on('message', onReady);
      worker.once('error', fail);
    });
    // A worker that dies while idle is simply replaced on the next call.
    worker.once('exit', () => {
      if (this.worker === worker) {
        this.worker = null;
        this.ready = null;
      }
    });
    return this.ready;
  }
}
