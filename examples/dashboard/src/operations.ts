import { graphql } from './gql';

/*
 * Every operation the dashboard sends, in one place: codegen types them (src/gql/) and writes each one into the
 * trusted-documents manifest, so a server with TRUSTED_DOCUMENTS_MODE=only runs exactly these and nothing else.
 */

export const WorkflowsQuery = graphql(`
  query Workflows {
    workflows(first: 100) {
      nodes {
        name
        instanceCounts {
          queued
          running
          waiting
          paused
          errored
          complete
          terminated
          total
        }
      }
    }
  }
`);

export const InstancesQuery = graphql(`
  query Instances(
    $workflowName: String!
    $status: InstanceStatus
    $first: Int
    $after: String
    $last: Int
    $before: String
  ) {
    workflow(name: $workflowName) {
      name
      instances(status: $status, first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo {
          hasNextPage
          hasPreviousPage
          startCursor
          endCursor
        }
        edges {
          cursor
          node {
            instanceId
            status
            createdOn
            endedOn
          }
        }
      }
    }
  }
`);

export const InstanceQuery = graphql(`
  query Instance($workflowName: String!, $instanceId: String!) {
    instance(workflowName: $workflowName, instanceId: $instanceId) {
      ...InstanceDetail
    }
  }
`);

export const InstanceDetailFragment = graphql(`
  fragment InstanceDetail on WorkflowInstance {
    instanceId
    workflowName
    status
    createdOn
    startedOn
    endedOn
    params
    output
    error {
      name
      message
    }
    canPause
    canResume
    canTerminate
    canRestart
    steps {
      __typename
      type
      ... on NamedStep {
        name
        startedOn
        endedOn
      }
      ... on DoStep {
        success
        isSensitive
        outputPreview
        attempts {
          number
          success
          startedOn
          endedOn
          error {
            name
            message
          }
        }
      }
      ... on SleepStep {
        finished
        wakesOn
        error {
          message
        }
      }
      ... on WaitForEventStep {
        eventType
        finished
        timesOutOn
        payloadPreview
        error {
          message
        }
      }
      ... on TerminationStep {
        source
      }
    }
  }
`);

/**
 * The full output of one step, by its logged name: asked only when the user opens it. Under `steps(name:)` the
 * server fetches that step's output alone (one upstream request besides the instance's details), not every step's.
 */
export const StepOutputQuery = graphql(`
  query StepOutput($workflowName: String!, $instanceId: String!, $stepName: String!) {
    instance(workflowName: $workflowName, instanceId: $instanceId) {
      steps(name: $stepName) {
        __typename
        ... on NamedStep {
          name
        }
        ... on DoStep {
          output
        }
        ... on WaitForEventStep {
          payload
        }
      }
    }
  }
`);

export const WorkflowInstancesChangedSubscription = graphql(`
  subscription WorkflowInstancesChanged($workflowName: String!) {
    workflowInstancesChanged(workflowName: $workflowName) {
      status
      previousStatus
      instance {
        instanceId
        status
      }
    }
  }
`);

export const InstanceUpdatedSubscription = graphql(`
  subscription InstanceUpdated($workflowName: String!, $instanceId: String!) {
    instanceUpdated(workflowName: $workflowName, instanceId: $instanceId) {
      ...InstanceDetail
    }
  }
`);

export const CreateInstanceMutation = graphql(`
  mutation CreateInstance($input: CreateInstanceInput!) {
    createInstance(input: $input) {
      __typename
      ... on CreateInstancePayload {
        instanceId
        status
      }
      ...MutationErrors
    }
  }
`);

export const PauseInstanceMutation = graphql(`
  mutation PauseInstance($input: PauseInstanceInput!) {
    pauseInstance(input: $input) {
      __typename
      ... on PauseInstancePayload {
        status
      }
      ...MutationErrors
    }
  }
`);

export const ResumeInstanceMutation = graphql(`
  mutation ResumeInstance($input: ResumeInstanceInput!) {
    resumeInstance(input: $input) {
      __typename
      ... on ResumeInstancePayload {
        status
      }
      ...MutationErrors
    }
  }
`);

export const TerminateInstanceMutation = graphql(`
  mutation TerminateInstance($input: TerminateInstanceInput!) {
    terminateInstance(input: $input) {
      __typename
      ... on TerminateInstancePayload {
        status
      }
      ...MutationErrors
    }
  }
`);

export const RestartInstanceMutation = graphql(`
  mutation RestartInstance($input: RestartInstanceInput!) {
    restartInstance(input: $input) {
      __typename
      ... on RestartInstancePayload {
        status
      }
      ...MutationErrors
    }
  }
`);

export const SendInstanceEventMutation = graphql(`
  mutation SendInstanceEvent($input: SendInstanceEventInput!) {
    sendInstanceEvent(input: $input) {
      __typename
      ... on SendInstanceEventPayload {
        timestamp
      }
      ...MutationErrors
    }
  }
`);

/**
 * The fields of every typed error a mutation may answer. Selected on the `Mutation` result unions through the
 * members: a member a union does not have is simply never matched.
 */
export const MutationErrorsFragment = graphql(`
  fragment MutationErrors on Error {
    __typename
    message
    ... on ForbiddenError {
      requiredScope
      workflowName
    }
    ... on InstanceAlreadyExistsError {
      instanceId
    }
    ... on InstanceNotFoundError {
      instanceId
    }
    ... on InvalidInputError {
      path
    }
    ... on InvalidTransitionError {
      action
      currentStatus
    }
    ... on RateLimitedError {
      retryAfter
    }
    ... on UpstreamError {
      code
      retryable
    }
    ... on WorkflowNotFoundError {
      workflowName
    }
  }
`);
