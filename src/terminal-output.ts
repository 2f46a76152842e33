import { terminalText } from './notify/sanitize';

/**
 * Where a command writes its output. It takes text only and passes every write through
 * `terminalText`, so no command (and no line added later) can put an escape sequence, a bidi
 * override or a zero-width character from Okta, the database or an error message on the terminal.
 */
export interface TerminalOutput {
  /** True when the stream is a terminal (progress is drawn only there). */
  readonly isTTY: boolean;
  /** Writes text, made terminal-safe; line breaks are kept. */
  write(text: string): void;
  /** Redraws one progress line in place (terminals only); the text is made terminal-safe first. */
  progress(text: string): void;
}

/** Wraps a stream (process.stdout, process.stderr, or a test's) as a TerminalOutput. */
export function terminalOutput(stream: NodeJS.WritableStream): TerminalOutput {
  const isTTY = (stream as NodeJS.WriteStream).isTTY === true;
  return {
    isTTY,
    write(text) {
      stream.write(terminalText(text));
    },
    progress(text) {
      // The only control characters this program writes itself: back to column 0, erase to the end.
      if (isTTY) stream.write(`\r${terminalText(text).replace(/\n/g, ' ')}\x1b[K`);
    },
  };
}
