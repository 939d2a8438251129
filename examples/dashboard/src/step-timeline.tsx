import { useState } from 'preact/hooks';
import type { Connection } from './graphql-client';
import type { InstanceDetailFragment } from './gql/graphql';
import { asRequestError } from './hooks';
import { StepOutputQuery } from './operations';
import { formatTime } from './status';

type Step = InstanceDetailFragment['steps'][number];

interface Props {
  readonly connection: Connection;
  readonly instance: InstanceDetailFragment;
}

/** The step log in order: each `do` with its attempts, sleeps, the event wait, and termination. */
export function StepTimeline({ connection, instance }: Props) {
  return (
    <section aria-label="Step timeline">
      <h3>Steps</h3>
      <ol class="timeline">
        {instance.steps.map((step, index) => (
          <li key={`${index}-${step.type}`} class={`step step-${step.type.toLowerCase()}`}>
            <StepEntry connection={connection} instance={instance} step={step} />
          </li>
        ))}
      </ol>
    </section>
  );
}

/** From its start to its end, or to "…" while it runs. */
const span = (step: { startedOn: string; endedOn?: string | null }) =>
  `${formatTime(step.startedOn)} → ${step.endedOn ? formatTime(step.endedOn) : '…'}`;

function StepEntry({ connection, instance, step }: Props & { step: Step }) {
  switch (step.__typename) {
    case 'DoStep':
      return (
        <>
          <strong>{step.name}</strong> <Outcome success={step.success} /> <small>{span(step)}</small>
          <ul class="attempts">
            {step.attempts.map((attempt) => (
              <li key={attempt.number}>
                attempt {attempt.number}: <Outcome success={attempt.success} />
                {attempt.error && (
                  <span class="failed">
                    {' '}
                    {attempt.error.name}: {attempt.error.message}
                  </span>
                )}
              </li>
            ))}
          </ul>
          {step.outputPreview !== null && step.outputPreview !== undefined && (
            <FullOutput
              connection={connection}
              instance={instance}
              kind="DoStep"
              stepName={step.name}
              preview={step.outputPreview}
            />
          )}
        </>
      );
    case 'SleepStep':
      return (
        <>
          <strong>{step.name}</strong> {step.finished ? 'slept' : 'sleeping'}
          <small>
            {step.finished
              ? ` ${span(step)}`
              : ` since ${formatTime(step.startedOn)}, until ${formatTime(step.wakesOn)}`}
          </small>
          {step.error && <span class="failed"> {step.error.message}</span>}
        </>
      );
    case 'WaitForEventStep':
      return (
        <>
          <strong>{step.name}</strong> {step.finished ? 'received' : 'waiting for'} event <code>{step.eventType}</code>{' '}
          <small>
            {step.finished
              ? span(step)
              : `since ${formatTime(step.startedOn)}${step.timesOutOn ? `, until ${formatTime(step.timesOutOn)}` : ''}`}
          </small>
          {step.error && <span class="failed"> {step.error.message}</span>}
          {step.payloadPreview !== null && step.payloadPreview !== undefined && (
            <FullOutput
              connection={connection}
              instance={instance}
              kind="WaitForEventStep"
              stepName={step.name}
              preview={step.payloadPreview}
            />
          )}
        </>
      );
    case 'TerminationStep':
      return (
        <>
          <strong>terminated</strong> by {step.source}
        </>
      );
    default:
      return <strong>{(step as { type: string }).type}</strong>;
  }
}

function Outcome({ success }: { success: boolean | null | undefined }) {
  if (success === true) return <span class="ok">succeeded</span>;
  if (success === false) return <span class="failed">failed</span>;
  return <span>running</span>;
}

/** The preview the step log holds, and the full value (one more upstream request) when asked for. */
function FullOutput(props: Props & { kind: 'DoStep' | 'WaitForEventStep'; stepName: string; preview: string }) {
  const [full, setFull] = useState<{ text: string; failed: boolean } | undefined>(undefined);
  const load = async (): Promise<void> => {
    try {
      const { instance } = await props.connection.execute(StepOutputQuery, {
        workflowName: props.instance.workflowName,
        instanceId: props.instance.instanceId,
        stepName: props.stepName,
      });
      // A `do` and a `waitForEvent` step may share a logged name (its counter counts per kind of step).
      const step = instance?.steps.find((s) => s.__typename === props.kind);
      const value =
        step?.__typename === 'DoStep'
          ? step.output
          : step?.__typename === 'WaitForEventStep'
            ? step.payload
            : undefined;
      setFull({ text: JSON.stringify(value, null, 2) ?? 'no output', failed: false });
    } catch (failure) {
      setFull({ text: asRequestError(failure).readable, failed: true });
    }
  };
  return (
    <div class="output">
      {full === undefined ? (
        <>
          <pre class="preview">{props.preview}</pre>
          <button onClick={() => void load()}>Full output of {props.stepName}</button>
        </>
      ) : (
        <pre role={full.failed ? 'alert' : undefined} data-testid={`full-output-${props.stepName}`}>
          {full.text}
        </pre>
      )}
    </div>
  );
}
