export * from './engine';
export * from './workload';
export * from './wattplace';
export * from './forecast';
export * from './rebalance';
export * from './capacity-misses';
