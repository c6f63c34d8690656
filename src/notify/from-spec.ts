import type { ChannelConfig, Spec } from '../spec/index.js';
import type { Store } from '../store/index.js';
import type {
  ChannelContext,
  ChannelFactories,
  ChannelFactory,
  NotificationChannel,
} from './channel.js';
import { Notifier, type NotifyLogger } from './dispatcher.js';
import { channelKinds } from './kinds.js';

const factories: ChannelFactories = channelKinds;

function build(name: string, config: ChannelConfig, context: ChannelContext): NotificationChannel {
  // With several kinds, TypeScript cannot tie `config.kind` to the factory it selects; the
  // registry's type guarantees they match, so a cast to `ChannelFactory` will be needed here.
  const factory: ChannelFactory = factories[config.kind];
  return factory(name, config, context);
}

/**
 * The channels the spec's `notifications.channels` defines, in spec order. Nothing is resolved
 * yet: secrets and URLs with references are read when a notification is sent.
 */
export function channelsFromSpec(spec: Spec, context: ChannelContext): NotificationChannel[] {
  return Object.entries(spec.notifications?.channels ?? {}).map(([name, config]) =>
    build(name, config, context),
  );
}

export interface NotifierFromSpecOptions extends ChannelContext {
  spec: Spec;
  store: Store;
  logger?: NotifyLogger;
}

/** A `Notifier` over the spec's channels, recording deliveries in `store`. */
export function notifierFromSpec(options: NotifierFromSpecOptions): Notifier {
  return new Notifier({
    store: options.store,
    channels: channelsFromSpec(options.spec, { baseDir: options.baseDir, env: options.env }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
  });
}
