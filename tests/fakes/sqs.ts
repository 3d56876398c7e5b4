/**
 * A fake Amazon SQS over real HTTP, at the boundary `@aws-sdk/client-sqs` (v3.1175) talks
 * to: the AWS JSON 1.0 protocol, `POST /` with `X-Amz-Target: AmazonSQS.<Operation>` and
 * `Content-Type: application/x-amz-json-1.0`, JSON answers
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html,
 * https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-json-faqs.html).
 *
 *   const sqs = await startFakeSqs();                 // point the client's `endpoint` at sqs.url
 *   const url = sqs.createQueue('mailout-ses-events-dlq');
 *   sqs.send(url, body);                              // what SNS does with a message it gave up on
 *   sqs.messages(url)                                 // what is still in the queue
 *
 * Operations: CreateQueue, GetQueueUrl, GetQueueAttributes (QueueArn), SetQueueAttributes,
 * SendMessage, ReceiveMessage (at most 10 per call, as SQS; a received message is invisible
 * for its VisibilityTimeout, default 30 s, until deleted), DeleteMessage (a receipt handle
 * is valid once, for the receive that returned it). `MD5OfBody` is the real MD5 (the SDK
 * checks it). An unsigned request gets 403; unknown queues and operations the errors SQS
 * sends (`__type`, `message`, `x-amzn-query-error`).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, randomUUID } from 'node:crypto';

interface StoredMessage {
  id: string;
  body: string;
  invisibleUntil: number;
  receipt?: string;
  receives: number;
  sentAt: number;
}

interface Queue {
  name: string;
  url: string;
  arn: string;
  attributes: Record<string, string>;
  messages: StoredMessage[];
}

export interface FakeSqs {
  url: string;
  region: string;
  accountId: string;
  /** Every request: its operation and JSON body. */
  requests: Array<{ operation: string; body: Record<string, unknown> }>;
  createQueue(name: string, attributes?: Record<string, string>): string;
  send(queueUrl: string, body: string): void;
  messages(queueUrl: string): string[];
  queueAttributes(queueUrl: string): Record<string, string>;
  close(): Promise<void>;
}

class SqsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly queryError: string,
    message: string,
  ) {
    super(message);
  }
}

const md5 = (s: string) => createHash('md5').update(s, 'utf8').digest('hex');

export async function startFakeSqs(opts: { region?: string; accountId?: string } = {}): Promise<FakeSqs> {
  const region = opts.region ?? 'eu-west-1';
  const accountId = opts.accountId ?? '123456789012';
  const queues = new Map<string, Queue>();
  const requests: FakeSqs['requests'] = [];
  let base = '';

  const queueOf = (url: unknown): Queue => {
    const q = typeof url === 'string' ? queues.get(url) : undefined;
    if (!q) throw new SqsError(400, 'com.amazonaws.sqs#QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue;Sender', 'The specified queue does not exist.');
    return q;
  };
  const createQueue = (name: string, attributes: Record<string, string> = {}): string => {
    const url = `${base}/${accountId}/${name}`;
    if (!queues.has(url)) queues.set(url, { name, url, arn: `arn:aws:sqs:${region}:${accountId}:${name}`, attributes: { ...attributes }, messages: [] });
    else Object.assign(queues.get(url)!.attributes, attributes);
    return url;
  };
  const send = (queueUrl: string, body: string) => {
    queueOf(queueUrl).messages.push({ id: randomUUID(), body, invisibleUntil: 0, receives: 0, sentAt: Date.now() });
  };

  const operations: Record<string, (b: Record<string, any>) => Record<string, unknown>> = {
    CreateQueue: (b) => ({ QueueUrl: createQueue(String(b.QueueName), b.Attributes ?? {}) }),
    GetQueueUrl: (b) => {
      const q = [...queues.values()].find((x) => x.name === b.QueueName);
      if (!q) throw new SqsError(400, 'com.amazonaws.sqs#QueueDoesNotExist', 'AWS.SimpleQueueService.NonExistentQueue;Sender', 'The specified queue does not exist.');
      return { QueueUrl: q.url };
    },
    GetQueueAttributes: (b) => {
      const q = queueOf(b.QueueUrl);
      return { Attributes: { ...q.attributes, QueueArn: q.arn, ApproximateNumberOfMessages: String(q.messages.length) } };
    },
    SetQueueAttributes: (b) => {
      Object.assign(queueOf(b.QueueUrl).attributes, b.Attributes ?? {});
      return {};
    },
    SendMessage: (b) => {
      send(String(b.QueueUrl), String(b.MessageBody));
      const m = queueOf(b.QueueUrl).messages.at(-1)!;
      return { MessageId: m.id, MD5OfMessageBody: md5(m.body) };
    },
    ReceiveMessage: (b) => {
      const q = queueOf(b.QueueUrl);
      const max = Number(b.MaxNumberOfMessages ?? 1);
      if (!(max >= 1 && max <= 10)) {
        throw new SqsError(400, 'com.amazonaws.sqs#InvalidParameterValue', 'InvalidParameterValue;Sender', 'Value for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.');
      }
      const now = Date.now();
      const visibility = Number(b.VisibilityTimeout ?? q.attributes.VisibilityTimeout ?? 30) * 1000;
      const batch = q.messages.filter((m) => m.invisibleUntil <= now).slice(0, max);
      for (const m of batch) {
        m.invisibleUntil = now + visibility;
        m.receipt = `${m.id}#${randomUUID()}`;
        m.receives += 1;
      }
      if (batch.length === 0) return {};
      return {
        Messages: batch.map((m) => ({
          MessageId: m.id,
          ReceiptHandle: m.receipt,
          MD5OfBody: md5(m.body),
          Body: m.body,
          Attributes: { ApproximateReceiveCount: String(m.receives), SentTimestamp: String(m.sentAt) },
        })),
      };
    },
    DeleteMessage: (b) => {
      const q = queueOf(b.QueueUrl);
      const i = q.messages.findIndex((m) => m.receipt !== undefined && m.receipt === b.ReceiptHandle);
      if (i < 0) throw new SqsError(400, 'com.amazonaws.sqs#ReceiptHandleIsInvalid', 'ReceiptHandleIsInvalid;Sender', 'The input receipt handle is invalid.');
      q.messages.splice(i, 1);
      return {};
    },
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': randomUUID(), ...headers });
        res.end(JSON.stringify(body));
      };
      const target = String(req.headers['x-amz-target'] ?? '');
      const operation = target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : '';
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        return answer(400, { __type: 'com.amazonaws.sqs#InvalidParameterValue', message: 'The request body is not JSON.' });
      }
      requests.push({ operation, body });
      if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        return answer(403, { __type: 'com.amazon.coral.service#MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
      }
      const op = operations[operation];
      if (!op) return answer(400, { __type: 'com.amazon.coral.service#UnknownOperationException', message: `Unknown operation ${target}` });
      try {
        answer(200, op(body));
      } catch (err) {
        if (!(err instanceof SqsError)) throw err;
        answer(err.status, { __type: err.type, message: err.message }, { 'x-amzn-query-error': err.queryError });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    region,
    accountId,
    requests,
    createQueue,
    send,
    messages: (queueUrl) => queueOf(queueUrl).messages.map((m) => m.body),
    queueAttributes: (queueUrl) => ({ ...queueOf(queueUrl).attributes }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
