import { WebhookChannel } from '../../src/notify/index.js';
import { describeChannelConformance } from './channel-conformance.js';
import { startReceiver } from './receiver.js';

const SECRET = 'whsec_conformance_9f8e7d6c5b4a';

describeChannelConformance('webhook', async () => {
  const receiver = await startReceiver({ secret: SECRET });
  const make = (secret: string) =>
    new WebhookChannel({
      name: 'ops',
      url: `${receiver.origin}/hook`,
      secret,
      sleep: () => Promise.resolve(),
    });
  return {
    working: () => make(SECRET),
    // The receiver answers 401 to a signature it cannot verify: a refusal no retry fixes.
    refusing: () => make('whsec_not_the_receivers'),
    accepted: () =>
      receiver.requests.filter((r) => r.status === 200).map((r) => r.payload?.id ?? ''),
    secrets: [SECRET, 'whsec_not_the_receivers'],
    close: () => receiver.close(),
  };
});
