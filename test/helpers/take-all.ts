// Take `n` jobs on one stream and ack them 500 at a time: a Client or an embedded queue
// (tests and bench/growth.ts drain what they enqueued this way).

interface Takes {
  take(options: { prefetch: number }): Promise<AsyncIterable<{ id: string }>>;
  reportSuccessBulk(ids: string[]): Promise<unknown>;
}

export async function takeAndAckAll(queue: Takes, n: number): Promise<void> {
  let ids: string[] = [];
  let taken = 0;
  for await (const job of await queue.take({ prefetch: 1000 })) {
    ids.push(job.id);
    if (++taken === n || ids.length === 500) {
      await queue.reportSuccessBulk(ids);
      ids = [];
    }
    if (taken === n) break;
  }
}
