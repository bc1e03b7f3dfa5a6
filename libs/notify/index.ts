// Notifications: the Slack approval message and its buttons, notices, and signed outgoing webhooks.
// Jobs on the `notify` queue; nothing here can hold up or fail a promotion.
export * from './new-findings-message.js';
export * from './notify-jobs.js';
export * from './notify.module.js';
export * from './notify.service.js';
export * from './slack-api.js';
export * from './slack-interactions.service.js';
export * from './slack-message.js';
export * from './slack-signature.js';
export * from './webhook-delivery.js';
export * from './webhook-signature.js';
