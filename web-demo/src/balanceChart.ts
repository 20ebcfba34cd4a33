// The selected account's balance over the log (x: sequence, y: balance), drawn with uPlot as a step
// line: a balance holds from one of its events to the next. Its history is read page by page while
// live points keep arriving; those wait until the history has caught up. While travelling in time the
// chart draws only what existed at the viewed sequence, ending in a dashed marker there: a point after
// it would show a balance the page says did not exist yet.
//
// The container's data-shown-to, data-points and data-marker attributes say what the canvas holds, so a
// browser test (and anyone inspecting the page) can check a drawing it cannot read.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { formatMoney, minorDigits, toMajor } from './money.ts';

const HEIGHT = 240;

export class BalanceChart {
  private plot: uPlot | null = null;
  private accountId: string | null = null;
  private currency = '';
  private sequences: number[] = [];
  private balances: number[] = [];
  private head = 0;
  private marker: number | null = null;
  private pending = false;
  private loading = false;
  private early: [number, number][] = [];

  constructor(
    private readonly container: HTMLElement,
    private readonly caption: HTMLElement,
    private readonly note: HTMLElement,
    private readonly placeholder: HTMLElement,
  ) {
    new ResizeObserver(() => this.plot?.setSize({ width: this.width(), height: HEIGHT })).observe(container);
    container.hidden = true;
    this.describe();
  }

  /** Starts a new account's chart with no points: `addHistory` fills it, then `historyDone`. */
  show(accountId: string, currency: string): void {
    this.accountId = accountId;
    this.currency = currency;
    this.sequences = [];
    this.balances = [];
    this.loading = true;
    this.early = [];
    this.plot?.destroy();
    this.placeholder.hidden = true;
    this.container.hidden = false;
    this.plot = new uPlot(this.options(), [[], []], this.container);
    this.schedule();
  }

  get account(): string | null {
    return this.accountId;
  }

  /** Points of the account's history, in sequence order. */
  addHistory(points: readonly (readonly [sequence: number, balance: number])[]): void {
    for (const [sequence, balance] of points) this.add(sequence, balance);
  }

  /** The history is complete: the live points that came meanwhile follow it. */
  historyDone(): void {
    this.loading = false;
    for (const [sequence, balance] of this.early) this.add(sequence, balance);
    this.early = [];
    this.schedule();
  }

  /** A live balance, right after the batch ending at `sequence`. */
  addLive(sequence: number, balance: number): void {
    if (this.loading) this.early.push([sequence, balance]);
    else this.add(sequence, balance);
  }

  /** A balance right after `sequence` (in sequence order; anything not after the last point is a repeat). */
  private add(sequence: number, balance: number): void {
    const last = this.sequences[this.sequences.length - 1];
    if (last !== undefined && sequence <= last) return;
    this.sequences.push(sequence);
    this.balances.push(balance);
    this.schedule();
  }

  setHead(head: number): void {
    if (head === this.head) return;
    this.head = head;
    this.schedule();
  }

  /** Marks the sequence being viewed, or null when live. */
  setMarker(sequence: number | null): void {
    this.marker = sequence;
    this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.draw();
    });
  }

  /** How many of the points existed at the viewed sequence (all of them when live). */
  private visibleCount(): number {
    if (this.marker === null) return this.sequences.length;
    let n = this.sequences.length;
    while (n > 0 && this.sequences[n - 1]! > this.marker) n--;
    return n;
  }

  private draw(): void {
    this.describe();
    if (!this.plot) return;
    const n = this.visibleCount();
    const xs = this.sequences.slice(0, n);
    const ys = this.balances.slice(0, n).map((b) => toMajor(b, this.currency));
    // Carry the last balance to the end of the view (the head, or the viewed sequence) so the line
    // reaches it.
    const end = this.marker ?? this.head;
    const lastX = xs[xs.length - 1];
    if (lastX !== undefined && end > lastX) {
      xs.push(end);
      ys.push(ys[ys.length - 1]!);
    }
    this.container.dataset.points = String(n);
    this.container.dataset.shownTo = String(xs[xs.length - 1] ?? '');
    delete this.container.dataset.marker; // the draw hook sets it again once the line is drawn
    this.plot.setData([xs, ys]);
    // Between hovers the legend reads the latest point rather than dashes.
    if (xs.length > 0 && (this.plot.cursor.left ?? -1) < 0) this.plot.setLegend({ idx: xs.length - 1 });
  }

  private describe(): void {
    if (!this.accountId) {
      this.container.setAttribute('aria-label', 'No account selected');
      this.caption.textContent = '';
      this.note.textContent = 'Select an account above.';
      return;
    }
    const n = this.visibleCount();
    const balances = this.balances.slice(0, n);
    const last = balances[n - 1];
    const min = n ? Math.min(...balances) : 0;
    const max = n ? Math.max(...balances) : 0;
    const money = (minor: number) => formatMoney(minor, this.currency);
    const events = `${n} ${n === 1 ? 'event' : 'events'}`;
    const at = this.marker === null ? '' : ` at sequence ${this.marker}`;
    const summary = this.loading
      ? `Balance of ${this.accountId}: loading its history…`
      : n === 0
        ? this.marker === null
          ? `Balance of ${this.accountId}: no events yet.`
          : `Balance of ${this.accountId}${at}: the account did not exist yet.`
        : `Balance of ${this.accountId}${at} over ${events}, from sequence ${this.sequences[0]} to ${this.sequences[n - 1]}: ` +
          `${this.marker === null ? 'now' : 'then'} ${money(last!)}, lowest ${money(min)}, highest ${money(max)}.`;
    this.container.setAttribute('aria-label', summary);
    this.caption.textContent = summary;
    this.note.textContent = `${this.accountId} · ${this.currency} · ${events}${at ? ` up to sequence ${this.marker}` : ''}`;
  }

  private width(): number {
    return Math.max(240, this.container.clientWidth);
  }

  private options(): uPlot.Options {
    const currency = this.currency;
    const styles = getComputedStyle(document.documentElement);
    const accent = styles.getPropertyValue('--accent').trim() || '#4338ca';
    const grid = styles.getPropertyValue('--grid').trim() || '#e5e7eb';
    const muted = styles.getPropertyValue('--muted').trim() || '#6b7280';
    const past = styles.getPropertyValue('--past').trim() || '#b45309';
    const axis = { stroke: muted, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 }, font: '12px system-ui, sans-serif' };
    const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumSignificantDigits: 3 });
    return {
      width: this.width(),
      height: HEIGHT,
      cursor: { drag: { x: true, y: false }, points: { size: 7 } },
      legend: { show: true, live: true },
      scales: {
        // A little room after the head, so the last step shows instead of ending on the frame.
        x: { time: false, range: (_u, min, max) => [min, max + Math.max(1, Math.round((max - min) * 0.02))] },
      },
      series: [
        { label: 'Sequence', value: (_u, v) => (v == null ? '—' : `#${v}`) },
        {
          label: 'Balance',
          stroke: accent,
          width: 2,
          fill: `${accent}1f`,
          paths: uPlot.paths.stepped!({ align: 1 }),
          points: { show: false },
          value: (_u, v) => (v == null ? '—' : formatMoney(Math.round(v * 10 ** minorDigits(currency)), currency)),
        },
      ],
      axes: [
        { ...axis, values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : '')) },
        { ...axis, size: 60, values: (_u, ticks) => ticks.map((t) => compact.format(t)) },
      ],
      hooks: {
        draw: [
          (u) => {
            if (this.marker === null) return;
            const x = u.valToPos(this.marker, 'x', true);
            // With no point at or before the marker the x scale has no range to place it in.
            if (!Number.isFinite(x) || x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
            const ctx = u.ctx;
            const px = devicePixelRatio;
            ctx.save();
            ctx.strokeStyle = past;
            ctx.lineWidth = 2 * px;
            ctx.setLineDash([6 * px, 4 * px]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            // The label sits left of the line: the line is the right edge of what is drawn.
            ctx.setLineDash([]);
            ctx.fillStyle = past;
            ctx.font = `600 ${12 * px}px system-ui, sans-serif`;
            ctx.textAlign = 'right';
            ctx.textBaseline = 'top';
            ctx.fillText(`#${this.marker}`, x - 5 * px, u.bbox.top + 4 * px);
            ctx.restore();
            this.container.dataset.marker = String(this.marker);
          },
        ],
      },
    };
  }
}

