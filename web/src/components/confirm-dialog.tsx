import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef } from 'preact/hooks';

interface Props {
  title: string;
  confirmLabel: string;
  children: ComponentChildren;
  onConfirm(): void;
  /** Also on Escape. */
  onCancel(): void;
}

/**
 * A modal question (native `<dialog>`: focus starts on Cancel and stays inside, Escape cancels);
 * shown while mounted.
 */
export function ConfirmDialog({ title, confirmLabel, children, onConfirm, onCancel }: Props) {
  const ref = useRef<HTMLDialogElement>(null);
  const id = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog ref={ref} aria-labelledby={`${id}-title`} onCancel={onCancel}>
      <h2 id={`${id}-title`}>{title}</h2>
      <div>{children}</div>
      <div class="actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button type="button" class="danger" onClick={onConfirm}>
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
