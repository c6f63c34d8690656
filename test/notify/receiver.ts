/**
 * A real webhook receiver for tests: node:http on 127.0.0.1, an ephemeral port. It checks every
 * request's signature with `verifyWebhookSignature`, exactly as docs/notifications.md tells
 * receivers to, answers 401 to a bad one, drops repeats of a webhook id, and otherwise answers
 * from a script (`reply(…)`) so tests can stage 500s, 429s, hangs.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  NotificationPayloadSchema,
  verifyWebhookSignature,
  type NotificationPayload,
  type WebhookVerification,
} from '../../src/notify/index.js';

export type Reply =
  | {
      status: number;
      headers?: Record<string, string>;
      body?: string;
      /** Answer only once this settles: a latch to prove deliveries run concurrently. */
      after?: Promise<unknown>;
    }
  /** Never answer (until the receiver closes): a timeout. */
  | { hang: true };

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The raw body as received. */
  body: string;
  verification: WebhookVerification;
  /** The parsed payload, when the signature verified. */
  payload?: NotificationPayload;
  /** True when this webhook id was already processed. */
  duplicate: boolean;
  /** What the receiver answered (undefined while hanging). */
  status?: number;
}

export interface Receiver {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  readonly requests: ReceivedRequest[];
  /** Queues replies for the next verified requests; when the queue is empty, 200. */
  reply(...replies: Reply[]): void;
  /** Resolves once `count` requests have arrived in total. */
  received(count: number): Promise<ReceivedRequest[]>;
  /** Sends a raw request, as an attacker replaying or tampering would. Returns the status. */
  post(path: string, headers: Record<string, string>, body: string): Promise<number>;
  close(): Promise<void>;
}

export interface ReceiverOptions {
  secret: string | readonly string[];
  /** The receiver's clock (ms), to test the replay window. @default Date.now */
  now?: () => number;
  toleranceSeconds?: number;
}

export async function startReceiver(options: ReceiverOptions): Promise<Receiver> {
  const requests: ReceivedRequest[] = [];
  const script: Reply[] = [];
  const seen = new Set<string>();
  const waiters: { count: number; resolve: () => void }[] = [];
  const hanging: ServerResponse[] = [];

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const verification = verifyWebhookSignature({
        secret: options.secret,
        headers: req.headers,
        body,
        ...(options.now === undefined ? {} : { now: options.now() }),
        ...(options.toleranceSeconds === undefined
          ? {}
          : { toleranceSeconds: options.toleranceSeconds }),
      });
      const request: ReceivedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body,
        verification,
        duplicate: false,
      };
      requests.push(request);
      const answer = (status: number, text: string, headers: Record<string, string> = {}) => {
        request.status = status;
        res.writeHead(status, { 'content-type': 'text/plain', ...headers }).end(text);
      };
      if (!verification.ok) {
        answer(401, `signature rejected: ${verification.reason}`);
      } else {
        request.payload = NotificationPayloadSchema.parse(JSON.parse(body));
        const next = script.shift() ?? { status: 200 };
        if ('hang' in next) {
          hanging.push(res);
        } else {
          const id = verification.id ?? '';
          // Only a request that succeeds marks its id done: a 500 must be retried.
          if (next.status < 300) {
            request.duplicate = seen.has(id);
            seen.add(id);
          }
          const text = next.body ?? (request.duplicate ? 'duplicate' : 'ok');
          void (next.after ?? Promise.resolve()).then(() => {
            answer(next.status, text, next.headers);
          });
        }
      }
      for (const waiter of waiters.filter((w) => requests.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  return {
    origin,
    requests,
    reply: (...replies) => script.push(...replies),
    received: (count) =>
      requests.length >= count
        ? Promise.resolve(requests.slice())
        : new Promise((resolve) => {
            waiters.push({
              count,
              resolve: () => {
                resolve(requests.slice());
              },
            });
          }),
    async post(path, headers, body) {
      const response = await fetch(`${origin}${path}`, { method: 'POST', headers, body });
      await response.body?.cancel();
      return response.status;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close((error) => {
          if (error) reject(error);
          else resolve();
        });
      }),
  };
}

/** The headers of a received request as a plain map, to re-send it. */
export function replayHeaders(request: ReceivedRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(request.headers)) {
    if (typeof value === 'string' && key.startsWith('shipshape-')) out[key] = value;
  }
  out['content-type'] = 'application/json';
  return out;
}
