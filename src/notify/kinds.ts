import type { ChannelFactories } from './channel.js';
import { webhook } from './webhook.js';

/**
 * Every channel kind, by the name the spec uses. Adding a kind is a file beside `webhook.ts`,
 * its name in `CHANNEL_KINDS` (src/spec/schema.ts) and a line here; the type check fails until
 * all three agree.
 */
export const channelKinds = { webhook } as const satisfies ChannelFactories;
