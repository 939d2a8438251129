import type { InstanceStatus } from './gql/graphql';

export function StatusBadge({ status }: { status: InstanceStatus }) {
  return (
    <span class={`status status-${status.toLowerCase()}`} data-testid="status">
      {status}
    </span>
  );
}

/** A DateTime (ISO 8601, UTC) in the reader's time zone; a dash for none. */
export function formatTime(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : '–';
}
