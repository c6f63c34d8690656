export { localActor } from './local-actor.js';
