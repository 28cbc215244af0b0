// The newest points of one stream in the browser: typed arrays allocated once, used as a ring,
// so a chart left open for hours holds the same memory as after a minute.

export const CAPACITY = 20000;

export class PointBuffer {
  constructor(columns, capacity = CAPACITY) {
    this.columns = columns;
    this.capacity = capacity;
    this.seq = new Float64Array(capacity);
    this.time = new Float64Array(capacity);
    this.score = new Float64Array(capacity);
    this.threshold = new Float64Array(capacity);
    this.flag = new Uint8Array(capacity);
    this.values = columns.map(() => new Float64Array(capacity));
    this.length = 0;   // points held
    this.head = 0;     // slot of the next point
    this.lastSeq = null;
    this.flagged = 0;  // flagged points received, all time
    this.received = 0;
    this.dropped = 0;
  }

  /** Appends one message of the live route (arrays of equal length). */
  push(msg) {
    const n = msg.score.length;
    const start = Math.max(0, n - this.capacity);
    for (let i = start; i < n; i++) {
      const slot = this.head;
      this.seq[slot] = msg.seq + i;
      this.time[slot] = msg.time[i];
      this.score[slot] = msg.score[i] ?? NaN;
      this.threshold[slot] = msg.threshold[i] ?? NaN;
      this.flag[slot] = msg.flag[i];
      for (let c = 0; c < this.values.length; c++) this.values[c][slot] = msg.values[c][i] ?? NaN;
      this.head = (slot + 1) % this.capacity;
    }
    for (let i = 0; i < n; i++) this.flagged += msg.flag[i];
    this.received += n;
    this.length = Math.min(this.capacity, this.length + n);
    this.lastSeq = msg.seq + n - 1;
  }

  /** Slot of the i-th held point, oldest first. */
  slot(i) {
    return (this.head - this.length + i + this.capacity) % this.capacity;
  }

  /** Index (oldest first) of the first held point that arrived at or after ``since`` (unix s). */
  firstAfter(since) {
    let lo = 0, hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.time[this.slot(mid)] < since) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The newest ``limit`` flagged points, newest first, as plain objects. */
  recentFlagged(limit) {
    const out = [];
    for (let i = this.length - 1; i >= 0 && out.length < limit; i--) {
      const s = this.slot(i);
      if (!this.flag[s]) continue;
      out.push({
        seq: this.seq[s], time: this.time[s], score: this.score[s], threshold: this.threshold[s],
        values: this.values.map((v) => v[s]),
      });
    }
    return out;
  }
}
