export * from './snapshot';
export * from './store';
export * from './collector';
export * from './reservations';
export * from './validation';
