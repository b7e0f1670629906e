export * from './connection';
export * from './queue';
export * from './persistence';
export * from './attach';
export * from './telegraf';
