import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from '../engine/model.js';

/** Runs on the `0 3 * * *` schedule: gathers metrics, sleeps through the batch window, renders and publishes. */
export class NightlyReportWorkflow extends WorkflowEntrypoint<unknown, unknown> {
  static readonly graph = {
    version: 1,
    workflow: {
      class_name: 'NightlyReportWorkflow',
      functions: {},
      nodes: [
        {
          type: 'step_do',
          name: 'collect-metrics',
          config: { retries: { limit: 5, delay: 10_000, backoff: 'exponential' }, timeout: '10 minutes' },
          nodes: [],
        },
        { type: 'step_sleep', name: 'wait-for-batch-window', duration: '2 hours' },
        {
          type: 'step_do',
          name: 'render-report',
          config: { retries: { limit: 5, delay: 10_000, backoff: 'exponential' }, timeout: '10 minutes' },
          nodes: [],
        },
        { type: 'step_sleep', name: 'embargo', duration: '1 hour' },
        {
          type: 'step_do',
          name: 'publish-report',
          config: { retries: { limit: 5, delay: 10_000, backoff: 'exponential' }, timeout: '10 minutes' },
          nodes: [],
        },
      ],
    },
  };

  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    const day = new Date(event.timestamp).toISOString().slice(0, 10);
    const metrics = await step.do('collect-metrics', async () => ({
      day,
      requests: 1_204_331,
      errors: 211,
      p95Ms: 182,
    }));
    await step.sleep('wait-for-batch-window', '2 hours');
    const report = await step.do('render-report', async () => ({
      title: `Nightly report ${day}`,
      errorRate: Number((metrics.errors / metrics.requests).toFixed(6)),
    }));
    await step.sleep('embargo', '1 hour');
    await step.do('publish-report', async () => ({ url: `https://reports.example/${day}.html`, title: report.title }));
    return { day, published: true };
  }
}
