// A button that opens the file chooser and hands over the chosen file (the input stays hidden,
// and is cleared so choosing the same file again still reports it).

import { useRef, type ReactNode } from 'react';

export interface FileButtonProps {
  readonly accept: string;
  readonly onFile: (file: File) => void;
  /** Test id of the hidden input (tests set files on it directly). */
  readonly inputTestId: string;
  readonly children: ReactNode;
  readonly className?: string;
  readonly disabled?: boolean;
  readonly title?: string;
  readonly testId?: string;
}

export function FileButton({ accept, onFile, inputTestId, children, className, disabled, title, testId }: FileButtonProps) {
  const input = useRef<HTMLInputElement>(null);
  return (
    <>
      <button type="button" className={className} disabled={disabled} title={title} onClick={() => input.current?.click()} data-testid={testId}>
        {children}
      </button>
      <input
        ref={input}
        type="file"
        accept={accept}
        hidden
        data-testid={inputTestId}
        onChange={(e) => {
          const file = e.target.files?.[0];
          e.target.value = '';
          if (file) onFile(file);
        }}
      />
    </>
  );
}
