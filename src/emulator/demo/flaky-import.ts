import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from '../engine/model.js';
import { fieldsOf, optionalBoolean, optionalString } from './params.js';

interface ImportParams {
  alwaysFail?: boolean;
  source?: string;
}

/**
 * Fetches a batch that fails twice before succeeding (retries and backoff in the log); `alwaysFail` exhausts
 * them. Params of the wrong type fail the instance before the first step, naming the field.
 */
export class FlakyImportWorkflow extends WorkflowEntrypoint<unknown, unknown> {
  static readonly graph = {
    version: 1,
    workflow: {
      class_name: 'FlakyImportWorkflow',
      functions: {},
      payload: { type: 'object', fields: { alwaysFail: { type: 'unknown' }, source: { type: 'unknown' } } },
      nodes: [
        {
          type: 'step_do',
          name: 'list-files',
          config: { retries: { limit: 5, delay: 10_000, backoff: 'exponential' }, timeout: '10 minutes' },
          nodes: [],
        },
        {
          type: 'step_do',
          name: 'fetch-batch',
          config: { retries: { limit: 3, delay: '2 seconds', backoff: 'exponential' }, timeout: '30 seconds' },
          nodes: [],
        },
        {
          type: 'step_do',
          name: 'import-rows',
          config: { retries: { limit: 5, delay: 10_000, backoff: 'exponential' }, timeout: '10 minutes' },
          nodes: [],
        },
      ],
    },
  };

  async run(event: WorkflowEvent<unknown>, step: WorkflowStep) {
    const params = readImportParams(event.payload);
    const source = params.source ?? 'sftp://partner.example/exports';
    const files = await step.do('list-files', async () => ({ source, files: ['customers.csv', 'orders.csv'] }));
    const batch = await step.do(
      'fetch-batch',
      { retries: { limit: 3, delay: '2 seconds', backoff: 'exponential' }, timeout: '30 seconds' },
      async (ctx) => {
        if (params.alwaysFail === true)
          throw new Error(`Upstream ${source} refused the connection (attempt ${ctx.attempt})`);
        if (ctx.attempt <= 2) throw new Error(`Upstream ${source} timed out (attempt ${ctx.attempt})`);
        return { rows: files.files.length * 500, fetchedOnAttempt: ctx.attempt };
      },
    );
    const imported = await step.do('import-rows', async () => ({ imported: batch.rows, skipped: 0 }));
    return { source, imported: imported.imported };
  }
}

/** The params of an import, checked field by field (see params.ts). */
function readImportParams(payload: unknown): ImportParams {
  const fields = fieldsOf(payload);
  const alwaysFail = optionalBoolean(fields, 'alwaysFail');
  const source = optionalString(fields, 'source');
  return { ...(alwaysFail === undefined ? {} : { alwaysFail }), ...(source === undefined ? {} : { source }) };
}
