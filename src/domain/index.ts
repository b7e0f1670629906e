export * from './units';
export * from './types';
export * from './errors';
export * from './random';
export * from './names';
