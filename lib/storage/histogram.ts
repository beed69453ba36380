// A fixed-bucket histogram over plain typed arrays: observe() allocates nothing, so it
// can sit on hot paths (commit batches, fsyncs, takes). Read by /metrics and /stats.
// Why not prom-client's Histogram here: its observe() hashes a labels object per call,
// and the storage layer must not depend on a metrics library.

export class Histogram {
  /** Upper bounds, ascending; a last implicit bucket holds everything above. */
  readonly bounds: readonly number[];
  /** Per-bucket (not cumulative) counts; length bounds.length + 1. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    this.observeIn(bucketOf(this.bounds, value), value);
  }

  /** observe() for a caller that already knows the value's bucket (it needs it too). */
  observeIn(bucket: number, value: number): void {
    this.counts[bucket]++;
    this.sum += value;
    this.count++;
  }
}

/** Index of the first bound >= value (bounds.length when above every bound). */
export function bucketOf(bounds: readonly number[], value: number): number {
  let i = 0;
  while (i < bounds.length && value > bounds[i]) i++;
  return i;
}

/**
 * The q-quantile (0..1) of per-bucket counts, interpolated linearly inside the bucket
 * (as Prometheus' histogram_quantile does); undefined when there are no observations.
 * Values in the overflow bucket report the last bound.
 */
export function quantileOf(bounds: readonly number[], counts: ArrayLike<number>, q: number): number | undefined {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    if (counts[i] === 0) continue;
    if (seen + counts[i] >= rank) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : bounds[i - 1];
      return lower + (bounds[i] - lower) * ((rank - seen) / counts[i]);
    }
    seen += counts[i];
  }
  return bounds[bounds.length - 1];
}
