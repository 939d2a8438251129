import { useEffect, useState } from 'preact/hooks';
import { endpointWarning } from './endpoint-warning';
import { connect, type Connection } from './graphql-client';
import { InstanceDetail } from './instance-detail';
import { InstanceList } from './instance-list';
import { WorkflowList } from './workflow-list';

/** `npm start`'s address; another server is named with `?endpoint=http://host:port/graphql`. */
const DEFAULT_ENDPOINT = 'http://127.0.0.1:4000/graphql';

export interface Selection {
  readonly workflowName: string;
  readonly instanceId: string;
}

export function App() {
  const [endpoint, setEndpoint] = useState(
    () => new URLSearchParams(location.search).get('endpoint') ?? DEFAULT_ENDPOINT,
  );
  const [credential, setCredential] = useState('');
  const [connection, setConnection] = useState<Connection>(() => connect(endpoint, ''));
  const [workflowName, setWorkflowName] = useState<string | undefined>(undefined);
  const [instance, setInstance] = useState<Selection | undefined>(undefined);
  // Bumped for a workflow whenever its live subscription reports a change: its instance list asks again.
  const [changes, setChanges] = useState<Readonly<Record<string, number>>>({});

  useEffect(() => () => connection.close(), [connection]);
  const warning = endpointWarning(connection.endpoint, location.origin);

  const reconnect = (event: Event): void => {
    event.preventDefault();
    setConnection(connect(endpoint.trim(), credential.trim()));
  };

  return (
    <>
      <header>
        <h1>Workflows</h1>
        <form class="settings" onSubmit={reconnect}>
          <label>
            GraphQL endpoint
            <input value={endpoint} onInput={(e) => setEndpoint(e.currentTarget.value)} size={36} />
          </label>
          <label>
            API key or token
            <input
              type="password"
              value={credential}
              placeholder="only with AUTH_MODE"
              autocomplete="off"
              onInput={(e) => setCredential(e.currentTarget.value)}
            />
          </label>
          <button type="submit">Connect</button>
        </form>
        {warning && (
          <p role="alert" data-testid="endpoint-warning">
            {warning}
          </p>
        )}
      </header>
      <main>
        <WorkflowList
          connection={connection}
          selected={workflowName}
          onSelect={(name) => {
            setWorkflowName(name);
            setInstance(undefined);
          }}
          onChange={(name) => setChanges((all) => ({ ...all, [name]: (all[name] ?? 0) + 1 }))}
        />
        {workflowName !== undefined && (
          <InstanceList
            key={workflowName}
            connection={connection}
            workflowName={workflowName}
            changes={changes[workflowName] ?? 0}
            selected={instance?.instanceId}
            onSelect={(instanceId) => setInstance({ workflowName, instanceId })}
          />
        )}
        {instance !== undefined && (
          <InstanceDetail
            key={`${instance.workflowName}/${instance.instanceId}`}
            connection={connection}
            {...instance}
          />
        )}
      </main>
    </>
  );
}
