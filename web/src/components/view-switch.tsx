import type { ComponentChildren } from 'preact';

interface Props {
  /** The names of the two views; the first is the one shown at first. */
  views: readonly [string, string];
  /** Whether the second view is shown. */
  second: boolean;
  onChange(second: boolean): void;
  /** More buttons for the same row. */
  children?: ComponentChildren;
}

/** Two ways to show one thing (preview or source, table or JSON): a pair of pressed-or-not buttons. */
export function ViewSwitch({ views, second, onChange, children }: Props) {
  return (
    <div class="tabs">
      <button type="button" aria-pressed={!second} onClick={() => onChange(false)}>
        {views[0]}
      </button>
      <button type="button" aria-pressed={second} onClick={() => onChange(true)}>
        {views[1]}
      </button>
      {children}
    </div>
  );
}
