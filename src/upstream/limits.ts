/**
 * Limits of the Workflows API that the client enforces before sending (see docs/upstream-contract.md).
 * Every other layer that needs one imports it from here.
 */

/** Most instances one batch create request may carry. */
export const BATCH_SIZE = 100;

/** Largest `per_page` of the list endpoints. */
export const MAX_PAGE_SIZE = 100;
