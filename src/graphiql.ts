/** The query GraphiQL opens with: it works on the emulator's demo data from the first click. */
export const DEFAULT_QUERY = /* GraphQL */ `# Welcome to Workflows GraphQL.
# Press the run button to list your workflows, their latest instances and each instance's steps.
# In local mode this runs against the built-in emulator's demo data.
query Dashboard {
  workflows(first: 10) {
    nodes {
      name
      instanceCounts { running waiting complete errored total }
      instances(first: 5) {
        totalCount
        nodes {
          instanceId
          status
          createdOn
          canPause
          canResume
          steps {
            __typename
            name
            startedOn
            endedOn
            ... on DoStep { success attempts { success error { message } } }
            ... on WaitForEventStep { eventType finished }
          }
        }
      }
    }
  }
}
`;
