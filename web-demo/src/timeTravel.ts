// Time travel controls: a slider over 0..head, a typed sequence, a typed time. Moving away from the
// head asks for the past (the page reads it with atSequence); reaching the head again, or "Back to
// live", returns to the live view. A typed sequence or time past the head cannot be read as the past:
// the page shows live and says so, rather than silently ignoring what was typed.
import { formatTime } from './dom.ts';

export interface TimeTravelElements {
  slider: HTMLInputElement;
  sliderMax: HTMLElement;
  sequenceForm: HTMLFormElement;
  sequenceInput: HTMLInputElement;
  timeForm: HTMLFormElement;
  timeInput: HTMLInputElement;
  statusText: HTMLElement;
  backToLive: HTMLButtonElement;
  error: HTMLElement;
  /** Says why the page went live instead of to what was asked (a sequence or time past the head). */
  note: HTMLElement;
}

export interface TimeTravelHandlers {
  view(sequence: number): void;
  live(): void;
  /** The last sequence committed at or before an instant. */
  sequenceAt(iso: string): Promise<number>;
}

const SLIDER_SETTLE_MS = 60; // read the past once the thumb rests this long, not on every pixel

export class TimeTravel {
  private head = 0;
  private viewing: number | null = null;
  private viewingTime: string | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly el: TimeTravelElements,
    private readonly on: TimeTravelHandlers,
  ) {
    el.slider.addEventListener('input', () => {
      clearTimeout(this.timer);
      this.el.timeInput.value = ''; // no longer what is shown
      const value = Number(el.slider.value);
      this.describeSlider(value);
      this.timer = setTimeout(() => this.go(value), SLIDER_SETTLE_MS);
    });
    el.sequenceForm.addEventListener('submit', (event) => {
      event.preventDefault();
      const text = el.sequenceInput.value.trim();
      const n = Number(text);
      if (!text || !Number.isSafeInteger(n) || n < 0) return this.showError('Enter a sequence: a whole number, 0 or more.');
      el.timeInput.value = '';
      if (n > this.head) return this.clampToLive(`Sequence ${n} is past the head ${this.head}: showing live.`);
      this.go(n);
    });
    el.timeForm.addEventListener('submit', async (event) => {
      event.preventDefault();
      const date = new Date(el.timeInput.value);
      if (!el.timeInput.value || Number.isNaN(date.getTime())) return this.showError('Enter a date and time.');
      try {
        const sequence = await on.sequenceAt(date.toISOString());
        // Nothing committed after that instant: the ledger then is the ledger now.
        if (sequence >= this.head && this.head > 0) {
          return this.clampToLive(`${formatTime(date.toISOString(), true)} is past the head (sequence ${this.head}, the last commit): showing live.`);
        }
        this.go(sequence);
      } catch (err) {
        this.showError((err as Error).message);
      }
    });
    el.backToLive.addEventListener('click', () => on.live());
  }

  setHead(head: number): void {
    this.head = head;
    this.el.slider.max = String(head);
    this.el.sequenceInput.max = String(head);
    this.el.sliderMax.textContent = String(head);
    if (this.viewing === null) {
      this.el.slider.value = String(head);
      this.describeSlider(head);
    }
  }

  /** What the page shows: a past sequence (with the commit time of its event, if any), or null for live. */
  setViewing(sequence: number | null, timestamp?: string): void {
    this.viewing = sequence;
    this.el.backToLive.hidden = sequence === null;
    if (sequence === null) {
      this.el.slider.value = String(this.head);
      this.describeSlider(this.head);
      this.el.statusText.textContent = 'Live: the ledger as it is now, updating as events commit.';
      // What was typed to reach the past, and any complaint about it, no longer describes the page.
      this.el.sequenceInput.value = '';
      this.el.timeInput.value = '';
      this.showError('');
      this.el.note.textContent = '';
      return;
    }
    this.el.note.textContent = '';
    this.viewingTime = timestamp;
    this.el.slider.value = String(sequence);
    this.describeSlider(sequence);
    this.el.sequenceInput.value = String(sequence);
    this.describeView(sequence);
  }

  private describeView(sequence: number): void {
    const when = sequence === 0 ? 'before the first event' : this.viewingTime ? `committed ${formatTime(this.viewingTime, true)}` : '';
    // No head in this text: it is a live region, and the head moves on while the past stays put.
    this.el.statusText.textContent = `Viewing the past: sequence ${sequence}${when ? `, ${when}` : ''}. Commands still apply to now.`;
  }

  showError(message: string): void {
    this.el.error.textContent = message;
  }

  private go(sequence: number): void {
    this.showError('');
    this.el.note.textContent = '';
    if (sequence >= this.head) this.on.live();
    else this.on.view(sequence);
  }

  /** Goes live (which clears the inputs), then says why. */
  private clampToLive(note: string): void {
    this.go(this.head);
    this.el.note.textContent = note;
  }

  private describeSlider(value: number): void {
    this.el.slider.setAttribute('aria-valuetext', value >= this.head ? `sequence ${value}, the head (live)` : `sequence ${value} of ${this.head}`);
  }
}
