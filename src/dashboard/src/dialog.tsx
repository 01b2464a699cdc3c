/** The confirmation of a change; in a protected environment, its name must be typed. */
import { useEffect, useRef, useState } from 'preact/hooks';

export interface Confirmation {
  title: string;
  danger: boolean;
  /** The protected environment's name, which must be typed (and is sent as `confirm`). */
  protectedEnv: string | null;
  go: (typed: string | null) => void;
}

export function ConfirmDialog({
  confirmation,
  onCancel,
}: {
  confirmation: Confirmation;
  onCancel: () => void;
}) {
  const [typed, setTyped] = useState('');
  const input = useRef<HTMLInputElement>(null);
  const ok = confirmation.protectedEnv === null || typed === confirmation.protectedEnv;
  useEffect(() => {
    input.current?.focus();
    const onKey = (event: KeyboardEvent) => event.key === 'Escape' && onCancel();
    addEventListener('keydown', onKey);
    return () => removeEventListener('keydown', onKey);
  }, []);
  return (
    <div class="backdrop" role="presentation">
      <form
        class={`dialog${confirmation.danger ? ' danger' : ''}`}
        role="dialog"
        aria-modal="true"
        data-testid="confirm-dialog"
        onSubmit={(event) => {
          event.preventDefault();
          if (ok) confirmation.go(confirmation.protectedEnv ? typed : null);
        }}
      >
        <p>
          <strong>{confirmation.title}</strong>
        </p>
        {confirmation.protectedEnv && (
          <label>
            {confirmation.protectedEnv} is protected: type its name to confirm
            <input
              ref={input}
              data-testid="confirm-input"
              autocomplete="off"
              value={typed}
              onInput={(event) => setTyped((event.currentTarget as HTMLInputElement).value)}
            />
          </label>
        )}
        <div class="buttons">
          <button type="button" onClick={onCancel}>
            Keep as it is
          </button>
          <button
            type="submit"
            class={confirmation.danger ? 'danger' : 'primary'}
            disabled={!ok}
            data-testid="confirm-go"
          >
            Confirm
          </button>
        </div>
      </form>
    </div>
  );
}
