export * from './projection';
export { defineRowProjection, RowProjectionDefinition, Row } from './row-projection';
export { ProjectionRunner, ProjectionRunnerOptions } from './projection-runner';
export { InlineProjector } from './inline-projector';
export { listProjectionStatus } from './projection-status';
export { ensureCheckpoint, readCheckpoint, requestRebuild } from './checkpoints';
export * from './read-models';
export { RowTable } from './row-projection';
