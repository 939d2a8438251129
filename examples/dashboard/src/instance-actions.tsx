import { useState } from 'preact/hooks';
import type { Connection } from './graphql-client';
import type { InstanceDetailFragment, MutationErrorsFragment } from './gql/graphql';
import { asRequestError } from './hooks';
import { describeMutationError } from './mutation-errors';
import {
  PauseInstanceMutation,
  RestartInstanceMutation,
  ResumeInstanceMutation,
  SendInstanceEventMutation,
  TerminateInstanceMutation,
} from './operations';

interface Props {
  readonly connection: Connection;
  readonly instance: InstanceDetailFragment;
  readonly onRestarted: () => void;
}

/** The member of a mutation's result union that says it worked; every other member is a typed error. */
type Payload = { readonly __typename: `${string}Payload` };

function isPayload<P extends Payload>(result: P | MutationErrorsFragment): result is P {
  return result.__typename.endsWith('Payload');
}

/**
 * Pause, resume, terminate, restart and send event, each enabled as the instance's `can…` fields say (sending an
 * event is always offered: the server says why when it refuses). The outcome, or a readable sentence for the
 * typed error, shows below; the new status arrives through the live subscription.
 */
export function InstanceActions({ connection, instance, onRestarted }: Props) {
  const [message, setMessage] = useState<{ text: string; failed: boolean } | undefined>(undefined);
  const waitingFor = instance.steps.find((s) => s.__typename === 'WaitForEventStep' && !s.finished);
  const [eventType, setEventType] = useState('');
  const [payload, setPayload] = useState('{ "approved": true }');
  const key = { workflowName: instance.workflowName, instanceId: instance.instanceId };

  const run = async <P extends Payload>(
    action: string,
    mutate: () => Promise<P | MutationErrorsFragment>,
    done: (payload: P) => string,
  ) => {
    setMessage(undefined);
    try {
      const result = await mutate();
      setMessage(
        isPayload(result)
          ? { text: done(result), failed: false }
          : { text: describeMutationError(result), failed: true },
      );
    } catch (failure) {
      setMessage({ text: `${action} failed: ${asRequestError(failure).readable}`, failed: true });
    }
  };

  const sendEvent = (event: Event): void => {
    event.preventDefault();
    const type = eventType.trim() || (waitingFor?.__typename === 'WaitForEventStep' ? waitingFor.eventType : '') || '';
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      setMessage({ text: 'The event payload must be JSON, such as { "approved": true }.', failed: true });
      return;
    }
    void run(
      'Send event',
      async () =>
        (await connection.execute(SendInstanceEventMutation, { input: { ...key, type, payload: parsed } }))
          .sendInstanceEvent,
      () => `Event ${type} sent.`,
    );
  };

  return (
    <section aria-label="Actions" class="actions">
      <button
        disabled={!instance.canPause}
        onClick={() =>
          void run(
            'Pause',
            async () => (await connection.execute(PauseInstanceMutation, { input: key })).pauseInstance,
            (p) => `Pause requested: ${p.status.toLowerCase()}.`,
          )
        }
      >
        Pause
      </button>
      <button
        disabled={!instance.canResume}
        onClick={() =>
          void run(
            'Resume',
            async () => (await connection.execute(ResumeInstanceMutation, { input: key })).resumeInstance,
            (p) => `Resumed: ${p.status.toLowerCase()}.`,
          )
        }
      >
        Resume
      </button>
      <button
        disabled={!instance.canTerminate}
        onClick={() =>
          void run(
            'Terminate',
            async () => (await connection.execute(TerminateInstanceMutation, { input: key })).terminateInstance,
            (p) => `Terminated: ${p.status.toLowerCase()}.`,
          )
        }
      >
        Terminate
      </button>
      <button
        disabled={!instance.canRestart}
        onClick={() =>
          void run(
            'Restart',
            async () => (await connection.execute(RestartInstanceMutation, { input: key })).restartInstance,
            (p) => {
              onRestarted();
              return `Restarted: ${p.status.toLowerCase()}.`;
            },
          )
        }
      >
        Restart
      </button>
      <form class="send-event" onSubmit={sendEvent}>
        <label>
          Event type{' '}
          <input
            value={eventType}
            placeholder={(waitingFor?.__typename === 'WaitForEventStep' && waitingFor.eventType) || 'payment-approved'}
            onInput={(e) => setEventType(e.currentTarget.value)}
          />
        </label>
        <label>
          Event payload (JSON) <textarea rows={2} value={payload} onInput={(e) => setPayload(e.currentTarget.value)} />
        </label>
        <button type="submit">Send event</button>
      </form>
      {message && (
        <p role={message.failed ? 'alert' : 'status'} data-testid="action-message">
          {message.text}
        </p>
      )}
    </section>
  );
}
