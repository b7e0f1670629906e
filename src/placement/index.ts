export * from './types';
export * from './runner';
export * from './prune';
export { marginalWatts, baselineUtil } from './score/marginal-power';
export { feasibilityUtilAfter } from './filters/ceiling';
