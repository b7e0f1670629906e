export * from './engine';
export * from './workload';
export * from './wattplace';
